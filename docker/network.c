/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "docker/docker.h"
#include "docker/internal.h"

int docker_network_create(struct docker_client *c, const char *name, json_object *labels,
			  int internal, char **id_out, struct error *err)
{
	json_object *opts = json_object_new_object();
	int rc;

	json_object_object_add(opts, "Internal", json_object_new_boolean(internal));
	rc = docker_network_create_with(c, name, labels, opts, id_out, err);
	json_object_put(opts);
	return rc;
}

int docker_network_create_with(struct docker_client *c, const char *name, json_object *labels,
			       json_object *opts, char **id_out, struct error *err)
{
	json_object *config = json_object_new_object();
	json_object *out = NULL;
	const char *id, *warning;
	int ret;

	if (id_out)
		*id_out = NULL;
	if (docker_check_name("network", name, err) < 0) {
		json_object_put(config);
		return -1;
	}
	if (!config)
		return error_set(err, ERR_SYSTEM, "out of memory");
	json_object_object_add(config, "Name", json_object_new_string(name));
	json_object_object_add(config, "CheckDuplicate", json_object_new_boolean(1));
	json_object_object_add(config, "Driver", json_object_new_string("bridge"));
	if (opts) {
		json_object_object_foreach(opts, k, v)
		{
			json_object_object_add(config, k, json_object_get(v));
		}
	}
	if (labels)
		json_object_object_add(config, "Labels", json_object_get(labels));
	ret = docker_call_json(c, "POST", "/networks/create", config, &out, DOCKER_TIMEOUT_MS, err);
	json_object_put(config);
	if (ret < 0)
		return error_wrap(err, "create network %s", name);
	warning = docker_json_string(out, "Warning");
	if (warning && *warning)
		log_warn("network %s: %s", name, warning);
	id = docker_json_string(out, "Id");
	if (!id) {
		json_object_put(out);
		return error_set(err, ERR_ENGINE, "create network %s: no Id in the answer", name);
	}
	if (id_out && !(*id_out = strdup(id))) {
		json_object_put(out);
		return error_set(err, ERR_SYSTEM, "out of memory");
	}
	json_object_put(out);
	return 0;
}

int docker_network_inspect(struct docker_client *c, const char *name, json_object **out,
			   struct error *err)
{
	_cleanup_buf_ struct buf path = BUF_INIT;

	if (docker_build_path(&path, "/networks", name, NULL, err) < 0)
		return -1;
	if (docker_call_json(c, "GET", path.data, NULL, out, DOCKER_TIMEOUT_MS, err) < 0)
		return error_wrap(err, "inspect network %s", name);
	return 0;
}

int docker_network_connect(struct docker_client *c, const char *network, const char *container,
			   const char *const *aliases, struct error *err)
{
	_cleanup_buf_ struct buf path = BUF_INIT;
	json_object *body, *endpoint, *list;
	size_t i;
	int ret;

	if (docker_build_path(&path, "/networks", network, "/connect", err) < 0 ||
	    docker_check_name("container", container, err) < 0)
		return -1;
	body = json_object_new_object();
	endpoint = json_object_new_object();
	if (!body || !endpoint) {
		json_object_put(body);
		json_object_put(endpoint);
		return error_set(err, ERR_SYSTEM, "out of memory");
	}
	json_object_object_add(body, "Container", json_object_new_string(container));
	json_object_object_add(body, "EndpointConfig", endpoint);
	if (aliases && aliases[0]) {
		list = json_object_new_array();
		json_object_object_add(endpoint, "Aliases", list);
		for (i = 0; aliases[i]; i++)
			json_object_array_add(list, json_object_new_string(aliases[i]));
	}
	ret = docker_call_json(c, "POST", path.data, body, NULL, DOCKER_TIMEOUT_MS, err);
	json_object_put(body);
	if (ret < 0)
		return error_wrap(err, "connect container %s to network %s", container, network);
	return 0;
}

int docker_network_disconnect(struct docker_client *c, const char *network, const char *container,
			      int force, struct error *err)
{
	_cleanup_buf_ struct buf path = BUF_INIT;
	json_object *body;
	int ret;

	if (docker_build_path(&path, "/networks", network, "/disconnect", err) < 0 ||
	    docker_check_name("container", container, err) < 0)
		return -1;
	body = json_object_new_object();
	if (!body)
		return error_set(err, ERR_SYSTEM, "out of memory");
	json_object_object_add(body, "Container", json_object_new_string(container));
	json_object_object_add(body, "Force", json_object_new_boolean(force));
	ret = docker_call_json(c, "POST", path.data, body, NULL, DOCKER_TIMEOUT_MS, err);
	json_object_put(body);
	if (ret < 0)
		return error_wrap(err, "disconnect container %s from network %s", container,
				  network);
	return 0;
}

int docker_network_remove(struct docker_client *c, const char *name, struct error *err)
{
	_cleanup_buf_ struct buf path = BUF_INIT;

	if (docker_build_path(&path, "/networks", name, NULL, err) < 0)
		return -1;
	if (docker_call_json(c, "DELETE", path.data, NULL, NULL, DOCKER_TIMEOUT_MS, err) < 0) {
		if (err->code == 404) { /* already gone */
			error_clear(err);
			return 0;
		}
		return error_wrap(err, "remove network %s", name);
	}
	return 0;
}

int docker_network_list(struct docker_client *c, const char *const *label_filters,
			json_object **out, struct error *err)
{
	_cleanup_buf_ struct buf path = BUF_INIT;

	*out = NULL;
	if (buf_puts(&path, "/networks?filters=") < 0 ||
	    docker_label_filters(&path, label_filters) < 0)
		return error_set(err, ERR_SYSTEM, "out of memory");
	if (docker_call_json(c, "GET", path.data, NULL, out, DOCKER_TIMEOUT_MS, err) < 0)
		return error_wrap(err, "list networks");
	if (!*out || !json_object_is_type(*out, json_type_array)) {
		json_object_put(*out);
		*out = NULL;
		return error_set(err, ERR_ENGINE, "list networks: the answer is not a JSON array");
	}
	return 0;
}
