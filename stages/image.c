/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "stages/stages.h"

/* Does the last path component carry a tag or a digest? */
static int has_tag(const char *ref)
{
	const char *slash = strrchr(ref, '/');
	const char *last = slash ? slash + 1 : ref;

	return strchr(last, ':') || strchr(ref, '@');
}

int image_allowed(const struct pattern_list *allowed, const char *ref)
{
	char full[1024];

	if (pattern_list_match(allowed, ref))
		return 1;
	if (has_tag(ref))
		return 0;
	snprintf(full, sizeof(full), "%s:latest", ref);
	return pattern_list_match(allowed, full);
}

static void progress_line(const char *line, void *payload)
{
	log_info("%s", line);
}

/* ---- credentials ---- */

static void add_config_source(struct registry_auth *a, const char *json, const char *source,
			      enum registry_auth_origin origin)
{
	struct error err = ERROR_INIT;

	if (json && *json &&
	    registry_auth_add_config(a, json, strlen(json), source, origin, &err) < 0)
		log_warn("%s; its credentials are not used", err.msg);
}

void image_auth_load(struct registry_auth *a, const struct config *cfg,
		     const struct gitlab_job *job)
{
	struct error err = ERROR_INIT;
	size_t i;

	add_config_source(a, job ? gitlab_var("DOCKER_AUTH_CONFIG") : getenv("DOCKER_AUTH_CONFIG"),
			  "DOCKER_AUTH_CONFIG", REGISTRY_AUTH_JOB);
	add_config_source(a, cfg->docker_auth_config, "the admin's docker_auth_config",
			  REGISTRY_AUTH_ADMIN);
	for (i = 0; job && i < job->ncredentials; i++) {
		const struct gitlab_credential *c = &job->credentials[i];

		if (registry_auth_add(a, c->url, c->username, c->password,
				      "GitLab's registry credentials for this job",
				      REGISTRY_AUTH_GITLAB, &err) < 0) {
			log_warn("%s; they are not used", err.msg);
			error_clear(&err);
		}
	}
	if (cfg->docker_auth_file) {
		_cleanup_buf_ struct buf text = BUF_INIT;
		char source[4200];

		snprintf(source, sizeof(source), "docker_auth_file %s", cfg->docker_auth_file);
		if (fs_read_file(cfg->docker_auth_file, &text, 1 << 20, &err) < 0)
			log_warn("%s: %s; its credentials are not used", source, err.msg);
		else
			add_config_source(a, buf_str(&text), source, REGISTRY_AUTH_ADMIN);
		if (text.data)
			explicit_bzero(text.data, text.len);
	}
}

/* ---- pull policies ---- */

void image_pull_admin(struct image_pull *p, const struct config *cfg,
		      const struct registry_auth *auth)
{
	const struct pull_policies *allowed = config_allowed_pull_policies(cfg);
	int i;

	memset(p, 0, sizeof(*p));
	p->auth = auth;
	/* config_parse() made sure one is allowed */
	for (i = 0; i < cfg->pull_policy.n; i++)
		if (pull_policies_has(allowed, cfg->pull_policy.v[i]))
			pull_policies_add(&p->policies, cfg->pull_policy.v[i]);
	if (!p->policies.n)
		p->policies = cfg->pull_policy;
}

int image_pull_can_pull(const struct image_pull *p)
{
	return pull_policies_has(&p->policies, PULL_ALWAYS) ||
	       pull_policies_has(&p->policies, PULL_IF_NOT_PRESENT);
}

/* The payload's pull_policy: "always" or ["always", "if-not-present"]. */
static int requested_policies(json_object *requested, struct pull_policies *out, const char *what,
			      const char *image, struct error *err)
{
	size_t i, n = 1;

	memset(out, 0, sizeof(*out));
	if (json_object_is_type(requested, json_type_array))
		n = json_object_array_length(requested);
	for (i = 0; i < n; i++) {
		json_object *v = json_object_is_type(requested, json_type_array)
					 ? json_object_array_get_idx(requested, i)
					 : requested;
		const char *name = json_object_is_type(v, json_type_string)
					   ? json_object_get_string(v)
					   : json_object_to_json_string(v);
		enum pull_policy pol;

		if (pull_policy_parse(name, &pol) < 0)
			return error_set(err, ERR_JOB,
					 "%s %s: pull_policy \"%.100s\" is not a pull policy; use "
					 "always, if-not-present or never",
					 what, image, name ? name : "");
		pull_policies_add(out, pol);
	}
	return 0;
}

int image_pull_for_job(struct image_pull *p, const struct config *cfg,
		       const struct registry_auth *auth, json_object *requested, const char *what,
		       const char *image, struct error *err)
{
	const struct pull_policies *allowed = config_allowed_pull_policies(cfg);
	struct pull_policies want;
	char a[64], b[64];
	int i;

	if (!requested || (json_object_is_type(requested, json_type_array) &&
			   !json_object_array_length(requested))) {
		image_pull_admin(p, cfg, auth);
		return 0;
	}
	if (requested_policies(requested, &want, what, image, err) < 0)
		return -1;
	memset(p, 0, sizeof(*p));
	p->auth = auth;
	for (i = 0; i < want.n; i++)
		if (pull_policies_has(allowed, want.v[i]))
			pull_policies_add(&p->policies, want.v[i]);
	if (!p->policies.n)
		return error_set(err, ERR_POLICY,
				 "%s %s: pull_policy %s is not allowed on this runner; "
				 "allowed_pull_policies: %s (use one of them, or ask the runner "
				 "admin to extend allowed_pull_policies)",
				 what, image, pull_policies_str(&want, a, sizeof(a)),
				 pull_policies_str(allowed, b, sizeof(b)));
	return 0;
}

/* ---- pulling ---- */

/* One pull, with the image's credentials; a refusal of them is one line
 * naming the registry and where they came from. */
static int pull(struct docker_client *c, const struct image_pull *p, const char *ref,
		struct error *err)
{
	const struct registry_cred *cred = registry_auth_find(p->auth, ref);
	_cleanup_buf_ struct buf header = BUF_INIT;
	char registry[256];
	int rc;

	if (cred) {
		if (registry_auth_header(cred, &header, err) < 0)
			return -1;
		log_info("Authenticating with credentials from %s", cred->source);
	}
	log_info("Pulling image %s ...", ref);
	rc = docker_image_pull(c, ref, cred ? buf_str(&header) : NULL, progress_line, NULL, err);
	if (header.data)
		explicit_bzero(header.data, header.len);
	if (rc == 0)
		return 0;
	if (err->cls == ERR_CANCELED)
		return -1;
	if (cred && registry_auth_refused(err->msg)) {
		registry_auth_image_registry(ref, registry, sizeof(registry));
		return error_set(err, cred->origin == REGISTRY_AUTH_JOB ? ERR_JOB : ERR_PULL,
				 "registry %s refused the credentials for %s (from %s): check the "
				 "user and password",
				 registry, ref, cred->source);
	}
	err->cls = ERR_PULL;
	return error_wrap(err, "image %s cannot be had", ref);
}

/* 1 present, 0 absent, -1 error (named by docker_image_inspect) */
static int image_present(struct docker_client *c, const char *ref, struct error *err)
{
	json_object *info = NULL;

	if (docker_image_inspect(c, ref, &info, err) == 0) {
		json_object_put(info);
		return 1;
	}
	if (err->code == 404) {
		error_clear(err);
		return 0;
	}
	return -1;
}

/*
 * GitLab's semantics: never uses the local image only; if-not-present uses
 * it when present and pulls otherwise; always pulls.  When a policy fails,
 * the next one is tried; the last failure is the error.
 */
int image_ensure(struct docker_client *c, const struct image_pull *p, const char *ref,
		 struct error *err)
{
	int present = -1, i;

	if (!p->policies.n)
		return error_set(err, ERR_SYSTEM, "no pull policy for image %s", ref);
	for (i = 0; i < p->policies.n; i++) {
		enum pull_policy pol = p->policies.v[i];

		if (i > 0) {
			log_warn("%s", err->msg);
			log_info("Attempt #%d for %s: pull policy %s", i + 1, ref,
				 pull_policy_name(pol));
			error_clear(err);
		}
		if (pol != PULL_ALWAYS) {
			if (present < 0 && (present = image_present(c, ref, err)) < 0)
				return -1;
			if (present) {
				log_info("Using image %s (present; pull policy %s)", ref,
					 pull_policy_name(pol));
				return 0;
			}
			if (pol == PULL_NEVER) {
				error_set(err, ERR_PULL,
					  "image %s is not present and pull_policy is never; load "
					  "it on the runner host or change pull_policy",
					  ref);
				continue;
			}
		}
		if (pull(c, p, ref, err) == 0)
			return 0;
		if (err->cls == ERR_CANCELED)
			return -1;
	}
	return -1;
}

/* The create's own answer says whether the image is there: 404 "No such
 * image".  Other 404s (a network that does not exist) are not about it. */
static int no_such_image(const struct error *err)
{
	return err->code == 404 && strstr(err->msg, "No such image");
}

int image_create_container(struct docker_client *c, const struct image_pull *p, const char *name,
			   json_object *config, char **id_out, struct error *err)
{
	json_object *img = NULL;
	const char *ref;

	if (!json_object_object_get_ex(config, "Image", &img))
		return error_set(err, ERR_SYSTEM, "create container %s: no image", name);
	ref = json_object_get_string(img);
	if (p->policies.n && p->policies.v[0] == PULL_ALWAYS) {
		if (image_ensure(c, p, ref, err) < 0)
			return -1;
		return docker_container_create(c, name, config, id_out, err);
	}
	/* present (the usual case): one call, no inspect before it */
	if (docker_container_create(c, name, config, id_out, err) == 0)
		return 0;
	if (!no_such_image(err))
		return -1;
	error_clear(err);
	if (image_ensure(c, p, ref, err) < 0)
		return -1;
	return docker_container_create(c, name, config, id_out, err);
}
