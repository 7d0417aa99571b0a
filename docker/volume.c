/* SPDX-License-Identifier: MIT */
#include "common/cleanup.h"
#include "docker/docker.h"
#include "docker/internal.h"

int docker_volume_create(struct docker_client *c, const char *name, json_object *labels,
			 struct error *err)
{
	return docker_volume_create_with(c, name, labels, NULL, err);
}

int docker_volume_create_with(struct docker_client *c, const char *name, json_object *labels,
			      json_object *opts, struct error *err)
{
	json_object *config;
	int ret;

	if (docker_check_name("volume", name, err) < 0)
		return -1;
	config = json_object_new_object();
	if (!config)
		return error_set(err, ERR_SYSTEM, "out of memory");
	json_object_object_add(config, "Name", json_object_new_string(name));
	if (opts) {
		json_object_object_foreach(opts, k, v)
		{
			json_object_object_add(config, k, json_object_get(v));
		}
	}
	if (labels)
		json_object_object_add(config, "Labels", json_object_get(labels));
	ret = docker_call_json(c, "POST", "/volumes/create", config, NULL, DOCKER_TIMEOUT_MS, err);
	json_object_put(config);
	if (ret < 0)
		return error_wrap(err, "create volume %s", name);
	return 0;
}

int docker_volume_inspect(struct docker_client *c, const char *name, json_object **out,
			  struct error *err)
{
	_cleanup_buf_ struct buf path = BUF_INIT;

	if (docker_build_path(&path, "/volumes", name, NULL, err) < 0)
		return -1;
	if (docker_call_json(c, "GET", path.data, NULL, out, DOCKER_TIMEOUT_MS, err) < 0)
		return error_wrap(err, "inspect volume %s", name);
	return 0;
}

int docker_volume_remove(struct docker_client *c, const char *name, int force, struct error *err)
{
	_cleanup_buf_ struct buf path = BUF_INIT;

	if (docker_build_path(&path, "/volumes", name, force ? "?force=1" : NULL, err) < 0)
		return -1;
	if (docker_call_json(c, "DELETE", path.data, NULL, NULL, DOCKER_TIMEOUT_MS, err) < 0) {
		if (err->code == 404) { /* already gone */
			error_clear(err);
			return 0;
		}
		return error_wrap(err, "remove volume %s", name);
	}
	return 0;
}

/* *out is the "Volumes" array of the answer (empty when the engine says null). */
int docker_volume_list(struct docker_client *c, const char *const *label_filters, json_object **out,
		       struct error *err)
{
	_cleanup_buf_ struct buf path = BUF_INIT;
	json_object *answer = NULL, *volumes;

	*out = NULL;
	if (buf_puts(&path, "/volumes?filters=") < 0 ||
	    docker_label_filters(&path, label_filters) < 0)
		return error_set(err, ERR_SYSTEM, "out of memory");
	if (docker_call_json(c, "GET", path.data, NULL, &answer, DOCKER_TIMEOUT_MS, err) < 0)
		return error_wrap(err, "list volumes");
	if (!answer || !json_object_is_type(answer, json_type_object)) {
		json_object_put(answer);
		return error_set(err, ERR_ENGINE, "list volumes: the answer is not a JSON object");
	}
	if (json_object_object_get_ex(answer, "Volumes", &volumes) &&
	    json_object_is_type(volumes, json_type_array))
		*out = json_object_get(volumes);
	else
		*out = json_object_new_array();
	json_object_put(answer);
	if (!*out)
		return error_set(err, ERR_SYSTEM, "out of memory");
	return 0;
}
