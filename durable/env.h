/* SPDX-License-Identifier: MIT */
#ifndef DURABLE_ENV_H
#define DURABLE_ENV_H

/*
 * Per-environment state directory.
 *
 * Everything the driver keeps about an env lives under one directory.  The
 * state_dir the functions below take is the app's root, <state_dir of the
 * configuration>/apps/<app> (deploy_state_root):
 *
 *   <state_dir>/envs/<env>/         0700  (created by durable_env_ensure)
 *       lock                        0600  flock(2) target; never unlinked
 *       lock.holder                 0600  JSON: who holds the lock (durable/lock.h)
 *       state.json                  0600  live/preview colors, deployments (durable/state.h)
 *       history.jsonl               0600  append-only audit log (durable/history.h)
 *       secrets.json                0600  generated passwords (durable/secrets.h)
 *       secrets/                    0700  one file per secret, for bind mounts
 *       tls/                        0700  CA certificate, server certificate and key
 *                                         (durable/tls.h); mounted into containers
 *       ca/                         0700  the CA's private key; never mounted
 *       router/                     0755  nginx conf dir mounted by the router (not secret)
 *       router.conf.template        0600  the router template a protected ref last set
 *       files/<project>/            0700  a stack's secrets and configs (stages/context.h)
 *       canary.control              0600  an operator's command to a running canary
 *                                         (stages/control.h)
 *
 * Every write in the env directory is atomic (temp file, fsync, rename) or a
 * single O_APPEND write, and happens under the env lock; a SIGKILL at any
 * point leaves either the old or the new file, plus at worst a stray
 * "*.tmp.<pid>" that the next lock holder sweeps away.
 *
 * All fallible functions return 0 or -1 with `err` filled (common/error.h).
 */

#include <json-c/json.h>
#include <stddef.h>
#include <time.h>

#include "common/error.h"

/* Longest env name, in characters. */
#define DURABLE_ENV_NAME_MAX 32

/* Leaf names inside the env directory. */
#define DURABLE_LOCK_FILE    "lock"
#define DURABLE_HOLDER_FILE  "lock.holder"
#define DURABLE_STATE_FILE   "state.json"
#define DURABLE_HISTORY_FILE "history.jsonl"
#define DURABLE_SECRETS_FILE "secrets.json"
#define DURABLE_SECRETS_DIR  "secrets"
#define DURABLE_TLS_DIR	     "tls"
#define DURABLE_CA_DIR	     "ca"
#define DURABLE_ROUTER_DIR   "router"
/* the router template a protected ref last set (stages/context.c) */
#define DURABLE_ROUTER_TEMPLATE_FILE "router.conf.template"

/*
 * Check an env name: [a-z0-9][a-z0-9_-]{0,31}.  A bad name is ERR_JOB with a
 * message that names the value and the rule ("ci", "devlocal" are fine).
 * The name ends up in file paths, container and network names, so nothing
 * else is accepted.
 */
int durable_env_validate(const char *env, struct error *err);

/*
 * Path of `leaf` inside the env directory ("<state_dir>/envs/<env>/<leaf>"),
 * or of the env directory itself when leaf is NULL.  Validates env.  *out is
 * malloc'd; the caller frees it.
 */
int durable_env_path(const char *state_dir, const char *env, const char *leaf, char **out,
		     struct error *err);

/*
 * Create the env directory tree with the modes above (state_dir itself and
 * state_dir/envs are created 0700 when missing).  Existing directories get
 * their modes corrected (a warning is logged when a secret directory was
 * readable by others).  Refuses a symlink or non-directory in their place.
 * Idempotent.
 */
int durable_env_ensure(const char *state_dir, const char *env, struct error *err);

/* 1 when the env directory exists, 0 otherwise (also for an invalid name). */
int durable_env_exists(const char *state_dir, const char *env);

/*
 * Names of the envs under state_dir/envs (valid names only, sorted).
 * *names is a NULL-terminated malloc'd array of malloc'd strings; free it
 * with durable_env_list_free().  A missing envs directory gives an empty list.
 */
int durable_env_list(const char *state_dir, char ***names, size_t *count, struct error *err);
void durable_env_list_free(char **names);

/*
 * Remove leftovers "<name>.tmp.<pid>" of interrupted atomic writes in the
 * env directory and its tls/ and secrets/ subdirectories.  Call only while
 * holding the env lock (durable_lock_acquire does it).
 */
int durable_env_sweep_tmp(const char *state_dir, const char *env, struct error *err);

/* Who acts, for the lock and the history when the caller names nobody:
 * $GITLAB_USER_LOGIN, else $USER, else the effective user's name. */
const char *durable_default_user(void);
/* Add key: val to a JSON object when val is a non-empty string. */
void durable_json_add_str(json_object *o, const char *key, const char *val);

/* "2026-11-27T03:04:05Z" (RFC 3339, UTC) into out (at least 21 bytes). */
void durable_time_rfc3339(time_t t, char *out, size_t size);
/* Parse the format above; -1 when it is not one. */
int durable_time_parse_rfc3339(const char *s, time_t *out);

#endif
