/* SPDX-License-Identifier: MIT */
#ifndef STAGES_STACK_SPEC_H
#define STAGES_STACK_SPEC_H

/*
 * The keys of a Compose service beyond image, command, environment, ports,
 * networks and mounts, into the container-create body (docs/compose.md has
 * the Engine API field of each): security (capabilities, read-only root,
 * security options, sysctls, privileged, devices, namespaces), resources
 * (limits, reservations, ulimits, shm), process (init, stop signal, tty),
 * DNS and links, logging, tmpfs; and the options of networks and volumes
 * (internal, attachable, IPAM, driver options).
 *
 * What leaves the container's own sandbox — privileged, devices, cap_add,
 * security options other than no-new-privileges and labels, the host's
 * pid/ipc/user namespaces, oom_kill_disable — is applied only where the
 * admin's allowed_stack_options names it ("cap_add:NET_ADMIN"); otherwise
 * ERR_POLICY with the file, line and the entry to allow.  Keys the driver
 * cannot apply yet are ERR_COMPOSE naming them, never dropped.
 */

#include <json-c/json.h>

#include "common/error.h"
#include "compose/compose.h"

struct stack;

/* Add the service's keys to the create body (cfg) and its HostConfig. */
int stackspec_apply(const struct stack *s, const struct compose_service *svc, json_object *cfg,
		    json_object *host, struct error *err);

/*
 * The service's secrets and configs as bind mounts of files in
 * s->files_dir/<secrets|configs>/<key> (read-only, at their targets), added
 * to mounts; *digest (65 bytes) covers their contents, modes and owners, so
 * a rotated secret recreates the container.  With write, the files are
 * written (atomically, with their mode and owner) for the create that
 * follows; without, nothing changes on disk.  A secret's value is added to
 * the log mask.
 */
int stackspec_files(const struct stack *s, const struct compose_service *svc, json_object *mounts,
		    char digest[65], int write, struct error *err);

/* The create options of a network beyond name and labels (Driver,
 * Internal, Attachable, EnableIPv6, IPAM, Options), added to body. */
void stackspec_network_options(const struct compose_resource *r, json_object *body);
/* DriverOpts and Driver of a volume, added to body. */
void stackspec_volume_options(const struct compose_resource *r, json_object *body);

#endif
