/* SPDX-License-Identifier: MIT */
#ifndef DOCKER_IMAGEPULL_H
#define DOCKER_IMAGEPULL_H

/*
 * How an image is had (docker/imagepull.c), shared by container jobs (jobs/)
 * and deployments (stages/): the registry credentials, GitLab's pull
 * policies and the pulls they make, and the image allow-list
 * (allowed_images, allowed_services).
 */

#include <json-c/json.h>

#include "common/config.h"
#include "common/error.h"
#include "docker/auth.h"
#include "docker/docker.h"

/* How an image is had: the credentials to pull it with and GitLab's pull
 * policies, tried in order, the next when one fails (docs/configuration.md). */
struct image_pull {
	const struct registry_auth *auth; /* NULL: anonymous pulls */
	struct pull_policies policies;	  /* the effective ones: at least one */
};

/* One docker config.json text as a source of credentials (NULL or "" adds
 * nothing); one that cannot be read is one warning line and adds nothing. */
void image_auth_add_config(struct registry_auth *a, const char *json, const char *source,
			   enum registry_auth_origin origin);
/* The admin's docker_auth_file, read when a job or an action starts (a file
 * that cannot be read is one warning line and adds nothing). */
void image_auth_add_file(struct registry_auth *a, const struct config *cfg);
/* Only the admin's: docker_auth_config, then docker_auth_file (the helper
 * image is the admin's, so a job's credentials are not used for it). */
void image_auth_load_admin(struct registry_auth *a, const struct config *cfg);
/* Stack images: the admin's pull_policy. */
void image_pull_admin(struct image_pull *p, const struct config *cfg,
		      const struct registry_auth *auth);
/* A job's image or service: the payload's pull_policy (a string or a list)
 * when it names one, else the admin's pull_policy; of those, the ones in
 * allowed_pull_policies, in the requested order.  None allowed: ERR_POLICY
 * naming them; not a pull policy: ERR_JOB.  what: "image", "service image". */
int image_pull_for_job(struct image_pull *p, const struct config *cfg,
		       const struct registry_auth *auth, json_object *requested, const char *what,
		       const char *image, struct error *err);
/* Anything but never: may the image be pulled at all? */
int image_pull_can_pull(const struct image_pull *p);
/* Have the image by the policies; pull progress goes to the log. */
int image_ensure(struct docker_client *c, const struct image_pull *pull, const char *ref,
		 struct error *err);
/* POST /containers/create for config's Image, pulling by the policies: unless
 * the first is always, the create's own 404 "No such image" is the cue to
 * pull (then create again), so a present image costs no inspect. */
int image_create_container(struct docker_client *c, const struct image_pull *pull, const char *name,
			   json_object *config, char **id_out, struct error *err);
/* True when the image matches a pattern of the list (an unset list allows
 * every image).  Patterns match registry, repository and tag as parts: see
 * image_pattern_match() and docs/configuration.md, "Image patterns". */
int image_allowed(const struct pattern_list *allowed, const char *ref);
/* One pattern against one image reference: 1 when it matches. */
int image_pattern_match(const char *pattern, const char *image);

#endif
