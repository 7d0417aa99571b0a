/* SPDX-License-Identifier: MIT */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "docker/imagepull.h"

/*
 * The image allow-list (allowed_images, allowed_services; docs/configuration.md,
 * "Image patterns").  A pattern and an image are both split the way docker
 * splits a reference, into registry, repository path, tag and digest, and the
 * parts are matched separately: `*` never crosses a `/` of the repository nor
 * leaves the registry, so `alpine*` cannot admit `alpine.evil.example/x`.
 */

#define DOCKER_HUB	  "docker.io"
#define DOCKER_HUB_LEGACY "index.docker.io"
#define IMAGE_REF_MAX	  1024

struct image_ref {
	char registry[256];
	char repo[IMAGE_REF_MAX];
	char tag[256];	  /* "" when none */
	char digest[256]; /* "" when none */
	int has_tag, has_digest;
};

static int copy_part(char *dst, size_t size, const char *s, size_t len)
{
	if (len >= size)
		return -1;
	memcpy(dst, s, len);
	dst[len] = '\0';
	return 0;
}

/*
 * Docker's split (distribution/reference, splitDockerDomain): the first
 * component is a registry when a `/` follows it and it contains `.` or `:`,
 * is `localhost`, or has an upper-case letter; else the image is on Docker
 * Hub, whose official images live under `library/`.  index.docker.io is
 * docker.io.  Patterns are split the same way, globs and all.
 */
static int image_ref_parse(const char *ref, struct image_ref *out)
{
	const char *at = strchr(ref, '@');
	const char *name_end = at ? at : ref + strlen(ref);
	const char *slash = memchr(ref, '/', (size_t)(name_end - ref));
	const char *last, *colon, *path = ref;
	size_t i;
	int registry = 0;

	memset(out, 0, sizeof(*out));
	if (!*ref)
		return -1;
	if (at) {
		if (copy_part(out->digest, sizeof(out->digest), at + 1, strlen(at + 1)) < 0 ||
		    !out->digest[0])
			return -1;
		out->has_digest = 1;
	}
	if (slash) {
		size_t n = (size_t)(slash - ref);

		registry = (n == 9 && !memcmp(ref, "localhost", 9)) || memchr(ref, '.', n) ||
			   memchr(ref, ':', n);
		for (i = 0; i < n && !registry; i++)
			registry = ref[i] >= 'A' && ref[i] <= 'Z';
	}
	if (registry) {
		if (copy_part(out->registry, sizeof(out->registry), ref, (size_t)(slash - ref)) < 0)
			return -1;
		path = slash + 1;
		if (!strcasecmp(out->registry, DOCKER_HUB_LEGACY))
			snprintf(out->registry, sizeof(out->registry), "%s", DOCKER_HUB);
	} else {
		snprintf(out->registry, sizeof(out->registry), "%s", DOCKER_HUB);
	}
	/* the tag: after the last `:` of the last path component */
	last = path;
	for (i = 0; path + i < name_end; i++)
		if (path[i] == '/')
			last = path + i + 1;
	if (last > name_end)
		return -1;
	colon = memchr(last, ':', (size_t)(name_end - last));
	if (colon) {
		if (copy_part(out->tag, sizeof(out->tag), colon + 1,
			      (size_t)(name_end - colon - 1)) < 0 ||
		    !out->tag[0])
			return -1;
		out->has_tag = 1;
		name_end = colon;
	}
	if (name_end == path)
		return -1;
	if (!strcasecmp(out->registry, DOCKER_HUB) &&
	    !memchr(path, '/', (size_t)(name_end - path))) {
		if ((size_t)(name_end - path) + 8 >= sizeof(out->repo))
			return -1;
		memcpy(out->repo, "library/", 8);
		return copy_part(out->repo + 8, sizeof(out->repo) - 8, path,
				 (size_t)(name_end - path));
	}
	return copy_part(out->repo, sizeof(out->repo), path, (size_t)(name_end - path));
}

/* One component of each (not NUL-terminated) against the other. */
static int component_match(const char *pat, size_t plen, const char *name, size_t nlen)
{
	char p[IMAGE_REF_MAX], n[IMAGE_REF_MAX];

	if (plen >= sizeof(p) || nlen >= sizeof(n))
		return 0;
	memcpy(p, pat, plen);
	p[plen] = '\0';
	memcpy(n, name, nlen);
	n[nlen] = '\0';
	return fnmatch(p, n, FNM_PATHNAME | FNM_PERIOD) == 0;
}

struct comp {
	const char *s;
	size_t n;
};

#define COMPS_MAX (IMAGE_REF_MAX / 2 + 2)

/* Split s at '/'; -1 when it has more components than fit. */
static int split_components(const char *s, struct comp *out, size_t *n)
{
	const char *slash;

	*n = 0;
	for (;;) {
		if (*n >= COMPS_MAX - 1)
			return -1;
		slash = strchr(s, '/');
		out[*n].s = s;
		out[*n].n = slash ? (size_t)(slash - s) : strlen(s);
		(*n)++;
		if (!slash)
			return 0;
		s = slash + 1;
	}
}

static int is_doublestar(const struct comp *c)
{
	return c->n == 2 && c->s[0] == '*' && c->s[1] == '*';
}

/*
 * The repository path: components matched one by one (fnmatch with
 * FNM_PATHNAME | FNM_PERIOD: `*` stays inside a component and never matches
 * `.` or `..`).  A pattern component `**` matches any number of components
 * (as GitLab's doublestar globs do): in the middle, none included (the
 * pattern a, **, b joined by slashes matches `a/b` and `a/x/y/b`); at the
 * end, at least one, so `ci/` followed by `**` does not admit `ci` itself.
 * The matcher is the classic wildcard walk with one backtracking point (the
 * last `**`), so it takes at most pattern x name steps, whatever the input.
 */
static int repo_match(const char *pat, const char *name)
{
	struct comp p[COMPS_MAX], n[COMPS_MAX];
	size_t np, nn, i = 0, j = 0, star_j = 0;
	ssize_t star_i = -1;

	if (split_components(pat, p, &np) < 0 || split_components(name, n, &nn) < 0)
		return 0;
	if (is_doublestar(&p[np - 1])) {
		/* a trailing `**` is `*` then `**`: at least one component */
		p[np - 1].s = "*";
		p[np - 1].n = 1;
		p[np].s = "**";
		p[np].n = 2;
		np++;
	}
	while (j < nn) {
		if (i < np && is_doublestar(&p[i])) {
			star_i = (ssize_t)i++;
			star_j = j;
		} else if (i < np && component_match(p[i].s, p[i].n, n[j].s, n[j].n)) {
			i++;
			j++;
		} else if (star_i >= 0) {
			i = (size_t)star_i + 1;
			j = ++star_j;
		} else {
			return 0;
		}
	}
	while (i < np && is_doublestar(&p[i]))
		i++;
	return i == np;
}

int image_pattern_match(const char *pattern, const char *image)
{
	struct image_ref p, r;

	if (image_ref_parse(pattern, &p) < 0 || image_ref_parse(image, &r) < 0)
		return 0;
	/* an image named without tag or digest is :latest */
	if (!r.has_tag && !r.has_digest) {
		snprintf(r.tag, sizeof(r.tag), "latest");
		r.has_tag = 1;
	}
	if (fnmatch(p.registry, r.registry, FNM_CASEFOLD) != 0)
		return 0;
	if (!repo_match(p.repo, r.repo))
		return 0;
	/* a pattern without tag or digest admits any; one with them, only a match */
	if (p.has_tag && (!r.has_tag || fnmatch(p.tag, r.tag, 0) != 0))
		return 0;
	if (p.has_digest && (!r.has_digest || fnmatch(p.digest, r.digest, 0) != 0))
		return 0;
	return 1;
}

int image_allowed(const struct pattern_list *allowed, const char *ref)
{
	int i;

	if (!allowed->set)
		return 1;
	for (i = 0; i < allowed->n; i++)
		if (image_pattern_match(allowed->items[i], ref))
			return 1;
	return 0;
}

static void progress_line(const char *line, void *payload)
{
	log_info("%s", line);
}

/* ---- credentials ---- */

void image_auth_add_config(struct registry_auth *a, const char *json, const char *source,
			   enum registry_auth_origin origin)
{
	struct error err = ERROR_INIT;

	if (json && *json &&
	    registry_auth_add_config(a, json, strlen(json), source, origin, &err) < 0)
		log_warn("%s; its credentials are not used", err.msg);
}

void image_auth_add_file(struct registry_auth *a, const struct config *cfg)
{
	_cleanup_buf_ struct buf text = BUF_INIT;
	struct error err = ERROR_INIT;
	char source[4200];

	if (!cfg->docker_auth_file)
		return;
	snprintf(source, sizeof(source), "docker_auth_file %s", cfg->docker_auth_file);
	if (fs_read_file(cfg->docker_auth_file, &text, 1 << 20, &err) < 0)
		log_warn("%s: %s; its credentials are not used", source, err.msg);
	else
		image_auth_add_config(a, buf_str(&text), source, REGISTRY_AUTH_ADMIN);
	if (text.data)
		explicit_bzero(text.data, text.len);
}

void image_auth_load_admin(struct registry_auth *a, const struct config *cfg)
{
	image_auth_add_config(a, cfg->docker_auth_config, "the admin's docker_auth_config",
			      REGISTRY_AUTH_ADMIN);
	image_auth_add_file(a, cfg);
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
