/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>

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
