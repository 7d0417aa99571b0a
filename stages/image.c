/* SPDX-License-Identifier: MIT */
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include "common/log.h"
#include "stages/stages.h"

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

int image_ensure(struct docker_client *c, const struct config *cfg, const char *ref,
		 struct error *err)
{
	json_object *info = NULL;
	int present;

	if (docker_image_inspect(c, ref, &info, err) == 0) {
		present = 1;
		json_object_put(info);
	} else if (err->code == 404) {
		present = 0;
	} else {
		return -1; /* docker_image_inspect() named the image already */
	}
	if (present && cfg->pull_policy != PULL_ALWAYS) {
		log_info("Using image %s (present)", ref);
		return 0;
	}
	if (!present && cfg->pull_policy == PULL_NEVER)
		return error_set(err, ERR_PULL,
				 "image %s is not present and pull_policy is never; load it on the "
				 "runner host or change pull_policy",
				 ref);
	log_info("Pulling image %s ...", ref);
	if (docker_image_pull(c, ref, NULL, progress_line, NULL, err) < 0) {
		if (present) {
			log_warn("pull of %s failed (%s); using the local copy", ref, err->msg);
			error_clear(err);
			return 0;
		}
		err->cls = ERR_PULL;
		return error_wrap(err, "image %s cannot be had", ref);
	}
	return 0;
}

/* The create's own answer says whether the image is there: 404 "No such
 * image".  Other 404s (a network that does not exist) are not about it. */
static int no_such_image(const struct error *err)
{
	return err->code == 404 && strstr(err->msg, "No such image");
}

int image_create_container(struct docker_client *c, const struct config *cfg, const char *name,
			   json_object *config, char **id_out, struct error *err)
{
	json_object *img = NULL;
	const char *ref;

	if (!json_object_object_get_ex(config, "Image", &img))
		return error_set(err, ERR_SYSTEM, "create container %s: no image", name);
	ref = json_object_get_string(img);
	if (cfg->pull_policy == PULL_ALWAYS) {
		if (image_ensure(c, cfg, ref, err) < 0)
			return -1;
		return docker_container_create(c, name, config, id_out, err);
	}
	/* present (the usual case): one call, no inspect before it */
	if (docker_container_create(c, name, config, id_out, err) == 0)
		return 0;
	if (!no_such_image(err))
		return -1;
	error_clear(err);
	if (image_ensure(c, cfg, ref, err) < 0)
		return -1;
	return docker_container_create(c, name, config, id_out, err);
}
