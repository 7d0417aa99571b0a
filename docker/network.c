/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "docker/docker.h"
#include "docker/internal.h"

/* ---- one network per name ----
 *
 * The engine's CheckDuplicate is not atomic against a create still in flight:
 * a driver killed while creating a network, then run again, can leave two
 * networks of one name, after which every call by that name answers
 * "network X is ambiguous" and the env is stuck. The copies one create call
 * made are twins (same labels, same driver); the ones without containers can
 * go. Anything else is not ours to decide and is reported. */

static int inspect_raw(struct docker_client *c, const char *name, json_object **out,
		       struct error *err);
static int remove_raw(struct docker_client *c, const char *name, struct error *err);

static int is_ambiguous(const struct error *err)
{
	return err->code == 400 && strstr(err->msg, "ambiguous") != NULL;
}

/* RFC 3339 times with a fraction of variable length: compare as numbers. */
static int created_cmp(const char *a, const char *b)
{
	size_t la = strcspn(a, ".Z+"), lb = strcspn(b, ".Z+"), i;
	int c = strncmp(a, b, la < lb ? la : lb), ea = 0, eb = 0;

	if (c || la != lb)
		return c ? c : (la < lb ? -1 : 1);
	a += la + (a[la] == '.');
	b += lb + (b[lb] == '.');
	for (i = 0; i < 9; i++) {
		char da, db;

		if (!ea && !(a[i] >= '0' && a[i] <= '9'))
			ea = 1; /* past the fraction: 0s, and nothing more is read */
		if (!eb && !(b[i] >= '0' && b[i] <= '9'))
			eb = 1;
		da = ea ? '0' : a[i];
		db = eb ? '0' : b[i];
		if (da != db)
			return da < db ? -1 : 1;
		if (ea && eb)
			break;
	}
	return 0;
}

static int count_containers(json_object *info)
{
	json_object *cs;

	if (!json_object_object_get_ex(info, "Containers", &cs) ||
	    !json_object_is_type(cs, json_type_object))
		return 0;
	return json_object_object_length(cs);
}

static int same_labels(json_object *a, json_object *b)
{
	json_object *la = NULL, *lb = NULL;

	json_object_object_get_ex(a, "Labels", &la);
	json_object_object_get_ex(b, "Labels", &lb);
	if (!la || !json_object_is_type(la, json_type_object))
		la = NULL;
	if (!lb || !json_object_is_type(lb, json_type_object))
		lb = NULL;
	if (!la || !lb)
		return !la && !lb;
	return json_object_equal(la, lb);
}

/* Every network whose name is exactly `name`, inspected (the list has no
 * containers). */
static int inspect_named(struct docker_client *c, const char *name, json_object **out,
			 struct error *err)
{
	_cleanup_buf_ struct buf path = BUF_INIT;
	json_object *filters, *names, *list = NULL;
	size_t i, n;
	int ret;

	*out = NULL;
	filters = json_object_new_object();
	names = json_object_new_array();
	if (!filters || !names) {
		json_object_put(filters);
		json_object_put(names);
		return error_set(err, ERR_SYSTEM, "out of memory");
	}
	json_object_array_add(names, json_object_new_string(name));
	json_object_object_add(filters, "name", names);
	ret = buf_puts(&path, "/networks?filters=") < 0 ||
	      docker_urlencode(&path, json_object_to_json_string_ext(
					      filters, JSON_C_TO_STRING_PLAIN |
							       JSON_C_TO_STRING_NOSLASHESCAPE)) < 0;
	json_object_put(filters);
	if (ret)
		return error_set(err, ERR_SYSTEM, "out of memory");
	if (docker_call_json(c, "GET", path.data, NULL, &list, DOCKER_TIMEOUT_MS, err) < 0)
		return error_wrap(err, "list networks named %s", name);
	if (!list || !json_object_is_type(list, json_type_array)) {
		json_object_put(list);
		return error_set(err, ERR_ENGINE, "list networks: the answer is not a JSON array");
	}
	*out = json_object_new_array();
	n = json_object_array_length(list);
	for (i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(list, i), *info = NULL;
		const char *nm = docker_json_string(e, "Name"), *id = docker_json_string(e, "Id");

		if (!nm || !id || strcmp(nm, name) || docker_check_name("network", id, err) < 0) {
			error_clear(err);
			continue; /* the filter matches substrings */
		}
		if (inspect_raw(c, id, &info, err) < 0) {
			if (err->code == 404) { /* removed meanwhile */
				error_clear(err);
				continue;
			}
			json_object_put(list);
			json_object_put(*out);
			*out = NULL;
			return -1;
		}
		json_object_array_add(*out, info);
	}
	json_object_put(list);
	return 0;
}

int docker_network_reconcile(struct docker_client *c, const char *name, int *removed,
			     struct error *err)
{
	json_object *all = NULL, *keep = NULL;
	size_t i, n;
	int busy = 0;

	*removed = 0;
	if (inspect_named(c, name, &all, err) < 0)
		return -1;
	n = json_object_array_length(all);
	if (n < 2) {
		json_object_put(all);
		return 0;
	}
	/* keep the copy in use, else the oldest */
	for (i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(all, i);

		if (count_containers(e) > 0) {
			busy++;
			keep = e;
		}
	}
	if (busy > 1) {
		error_set(err, ERR_ENGINE,
			  "network %s exists %zu times and %d of them have containers: the engine "
			  "cannot tell which one is meant; disconnect the containers from all but "
			  "one and remove the others (docker network inspect %s shows the ids)",
			  name, n, busy, name);
		json_object_put(all);
		return -1;
	}
	for (i = 0; !keep && i < n; i++)
		keep = json_object_array_get_idx(all, i);
	for (i = 0; !busy && i < n; i++) {
		json_object *e = json_object_array_get_idx(all, i);
		const char *ce = docker_json_string(e, "Created"),
			   *ck = docker_json_string(keep, "Created");

		if (ce && ck && created_cmp(ce, ck) < 0)
			keep = e;
	}
	for (i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(all, i);
		const char *id = docker_json_string(e, "Id"), *kid = docker_json_string(keep, "Id");

		if (e == keep)
			continue;
		if (!same_labels(e, keep)) {
			error_set(err, ERR_ENGINE,
				  "network %s exists %zu times and copy %.12s was not created like "
				  "%.12s (other labels): remove the one that is not this driver's "
				  "(docker network rm <id>)",
				  name, n, id, kid);
			json_object_put(all);
			return -1;
		}
		if (remove_raw(c, id, err) < 0) {
			json_object_put(all);
			return error_wrap(err, "remove the extra copy of network %s", name);
		}
		(*removed)++;
		log_warn("network %s existed %zu times (a run stopped while creating it): removed "
			 "the empty copy %.12s, kept %.12s",
			 name, n, id, kid);
	}
	json_object_put(all);
	return 0;
}

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
	int ret, removed;

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
	/* a create of an earlier, killed run may have landed beside ours */
	if (docker_network_reconcile(c, name, &removed, err) < 0) {
		json_object_put(out);
		return -1;
	}
	if (removed && id_out) { /* ours may be the copy that went */
		json_object_put(out);
		out = NULL;
		if (inspect_raw(c, name, &out, err) < 0)
			return -1;
		id = docker_json_string(out, "Id");
		if (!id) {
			json_object_put(out);
			return error_set(err, ERR_ENGINE, "inspect network %s: no Id", name);
		}
	}
	if (id_out && !(*id_out = strdup(id))) {
		json_object_put(out);
		return error_set(err, ERR_SYSTEM, "out of memory");
	}
	json_object_put(out);
	return 0;
}

static int inspect_raw(struct docker_client *c, const char *name, json_object **out,
		       struct error *err)
{
	_cleanup_buf_ struct buf path = BUF_INIT;

	if (docker_build_path(&path, "/networks", name, NULL, err) < 0)
		return -1;
	if (docker_call_json(c, "GET", path.data, NULL, out, DOCKER_TIMEOUT_MS, err) < 0)
		return error_wrap(err, "inspect network %s", name);
	return 0;
}

static int connect_raw(struct docker_client *c, const char *network, const char *container,
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

static int remove_raw(struct docker_client *c, const char *name, struct error *err)
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

/* A call by name that met two networks of that name: make it one, once. */
static int reconciled(struct docker_client *c, const char *name, struct error *err)
{
	int removed;

	if (!is_ambiguous(err))
		return -1;
	error_clear(err);
	return docker_network_reconcile(c, name, &removed, err);
}

int docker_network_inspect(struct docker_client *c, const char *name, json_object **out,
			   struct error *err)
{
	if (inspect_raw(c, name, out, err) == 0)
		return 0;
	if (reconciled(c, name, err) < 0)
		return -1;
	return inspect_raw(c, name, out, err);
}

int docker_network_connect(struct docker_client *c, const char *network, const char *container,
			   const char *const *aliases, struct error *err)
{
	if (connect_raw(c, network, container, aliases, err) == 0)
		return 0;
	if (reconciled(c, network, err) < 0)
		return -1;
	return connect_raw(c, network, container, aliases, err);
}

int docker_network_remove(struct docker_client *c, const char *name, struct error *err)
{
	if (remove_raw(c, name, err) == 0)
		return 0;
	if (reconciled(c, name, err) < 0)
		return -1;
	return remove_raw(c, name, err);
}
