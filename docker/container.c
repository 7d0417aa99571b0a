/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "docker/docker.h"
#include "docker/internal.h"

/* An engine that takes longer than this beyond the stop timeout is stuck. */
#define STOP_GRACE_MS (60L * 1000L)
/* The longest stop timeout a container may carry when the caller leaves it
 * to the container's own (an hour). */
#define STOP_UNKNOWN_MS (3600L * 1000L)

static int container_path(struct buf *path, const char *id, const char *suffix, struct error *err)
{
	return docker_build_path(path, "/containers", id, suffix, err);
}

int docker_container_create(struct docker_client *c, const char *name, json_object *config,
			    char **id_out, struct error *err)
{
	_cleanup_buf_ struct buf path = BUF_INIT;
	json_object *out = NULL, *warnings;
	const char *id;
	size_t i;

	if (id_out)
		*id_out = NULL;
	if (name && docker_check_name("container", name, err) < 0)
		return -1;
	if (buf_puts(&path, "/containers/create") < 0 ||
	    (name && (buf_puts(&path, "?name=") < 0 || docker_urlencode(&path, name) < 0)))
		return error_set(err, ERR_SYSTEM, "out of memory");
	if (docker_call_json(c, "POST", path.data, config, &out, DOCKER_TIMEOUT_MS, err) < 0)
		return error_wrap(err, "create container %s", name ? name : "(unnamed)");
	id = docker_json_string(out, "Id");
	if (!id) {
		json_object_put(out);
		return error_set(err, ERR_ENGINE, "create container %s: no Id in the answer",
				 name ? name : "(unnamed)");
	}
	if (json_object_object_get_ex(out, "Warnings", &warnings) &&
	    json_object_is_type(warnings, json_type_array))
		for (i = 0; i < json_object_array_length(warnings); i++)
			log_warn("container %s: %s", name ? name : id,
				 json_object_get_string(json_object_array_get_idx(warnings, i)));
	if (id_out && !(*id_out = strdup(id))) {
		json_object_put(out);
		return error_set(err, ERR_SYSTEM, "out of memory");
	}
	json_object_put(out);
	return 0;
}

int docker_container_start(struct docker_client *c, const char *id, struct error *err)
{
	_cleanup_buf_ struct buf path = BUF_INIT;

	if (container_path(&path, id, "/start", err) < 0)
		return -1;
	if (docker_call_json(c, "POST", path.data, NULL, NULL, DOCKER_TIMEOUT_MS, err) < 0) {
		if (err->code == 304) { /* already started */
			error_clear(err);
			return 0;
		}
		return error_wrap(err, "start container %s", id);
	}
	return 0;
}

int docker_container_inspect(struct docker_client *c, const char *id, json_object **out,
			     struct error *err)
{
	_cleanup_buf_ struct buf path = BUF_INIT;

	if (container_path(&path, id, "/json", err) < 0)
		return -1;
	if (docker_call_json(c, "GET", path.data, NULL, out, DOCKER_TIMEOUT_MS, err) < 0)
		return error_wrap(err, "inspect container %s", id);
	return 0;
}

int docker_container_wait(struct docker_client *c, const char *id, const char *condition,
			  int *exit_code, struct error *err)
{
	_cleanup_buf_ struct buf path = BUF_INIT;
	json_object *out = NULL, *code, *werr;
	const char *msg;

	if (container_path(&path, id, "/wait", err) < 0)
		return -1;
	if (condition &&
	    (buf_puts(&path, "?condition=") < 0 || docker_urlencode(&path, condition) < 0))
		return error_set(err, ERR_SYSTEM, "out of memory");
	/* no timeout: a container may run for as long as it likes */
	if (docker_call_json(c, "POST", path.data, NULL, &out, 0, err) < 0)
		return error_wrap(err, "wait for container %s", id);
	if (json_object_object_get_ex(out, "Error", &werr) &&
	    (msg = docker_json_string(werr, "Message")) && *msg) {
		error_set(err, ERR_ENGINE, "wait for container %s: %s", id, msg);
		json_object_put(out);
		return -1;
	}
	if (!json_object_object_get_ex(out, "StatusCode", &code) ||
	    !json_object_is_type(code, json_type_int)) {
		json_object_put(out);
		return error_set(err, ERR_ENGINE,
				 "wait for container %s: no StatusCode in the answer", id);
	}
	if (exit_code)
		*exit_code = json_object_get_int(code);
	json_object_put(out);
	return 0;
}

int docker_container_stop(struct docker_client *c, const char *id, int timeout_s, struct error *err)
{
	_cleanup_buf_ struct buf path = BUF_INIT;

	if (container_path(&path, id, "/stop", err) < 0)
		return -1;
	if (timeout_s >= 0 && buf_printf(&path, "?t=%d", timeout_s) < 0)
		return error_set(err, ERR_SYSTEM, "out of memory");
	/* without t, the engine waits the container's own StopTimeout (its
	 * stop_grace_period), 10 s when it has none */
	if (docker_call_json(c, "POST", path.data, NULL, NULL,
			     (timeout_s >= 0 ? timeout_s * 1000L : STOP_UNKNOWN_MS) + STOP_GRACE_MS,
			     err) < 0) {
		if (err->code == 304) { /* already stopped */
			error_clear(err);
			return 0;
		}
		return error_wrap(err, "stop container %s", id);
	}
	return 0;
}

int docker_container_kill(struct docker_client *c, const char *id, const char *signal,
			  struct error *err)
{
	_cleanup_buf_ struct buf path = BUF_INIT;

	if (container_path(&path, id, "/kill", err) < 0)
		return -1;
	if (signal && (buf_puts(&path, "?signal=") < 0 || docker_urlencode(&path, signal) < 0))
		return error_set(err, ERR_SYSTEM, "out of memory");
	if (docker_call_json(c, "POST", path.data, NULL, NULL, DOCKER_TIMEOUT_MS, err) < 0)
		return error_wrap(err, "kill container %s", id);
	return 0;
}

int docker_container_remove(struct docker_client *c, const char *id, int force, int volumes,
			    struct error *err)
{
	_cleanup_buf_ struct buf path = BUF_INIT;

	if (container_path(&path, id, NULL, err) < 0)
		return -1;
	if (buf_printf(&path, "?force=%d&v=%d", force ? 1 : 0, volumes ? 1 : 0) < 0)
		return error_set(err, ERR_SYSTEM, "out of memory");
	if (docker_call_json(c, "DELETE", path.data, NULL, NULL, DOCKER_TIMEOUT_MS, err) < 0) {
		if (err->code == 404) { /* already gone */
			error_clear(err);
			return 0;
		}
		return error_wrap(err, "remove container %s", id);
	}
	return 0;
}

int docker_container_list(struct docker_client *c, const char *const *label_filters, int all,
			  json_object **out, struct error *err)
{
	_cleanup_buf_ struct buf path = BUF_INIT;

	*out = NULL;
	if (buf_printf(&path, "/containers/json?all=%d&filters=", all ? 1 : 0) < 0 ||
	    docker_label_filters(&path, label_filters) < 0)
		return error_set(err, ERR_SYSTEM, "out of memory");
	if (docker_call_json(c, "GET", path.data, NULL, out, DOCKER_TIMEOUT_MS, err) < 0)
		return error_wrap(err, "list containers");
	if (!*out || !json_object_is_type(*out, json_type_array)) {
		json_object_put(*out);
		*out = NULL;
		return error_set(err, ERR_ENGINE,
				 "list containers: the answer is not a JSON array");
	}
	return 0;
}

static int logs_on_frame(int stream, const char *data, size_t len, void *payload)
{
	return buf_append(payload, data, len);
}

/* A multiplexed log starts with a frame header; a tty log is raw text. */
static int looks_multiplexed(const struct buf *b)
{
	const unsigned char *p = (const unsigned char *)b->data;

	return b->len >= 8 && p[0] <= 2 && !p[1] && !p[2] && !p[3];
}

int docker_container_logs(struct docker_client *c, const char *id, int tail, struct buf *out,
			  struct error *err)
{
	_cleanup_buf_ struct buf path = BUF_INIT;
	struct docker_request req = {.method = "GET", .timeout_ms = DOCKER_TIMEOUT_MS};
	struct docker_response resp;
	struct docker_demux demux;
	int ret = -1;

	if (container_path(&path, id, "/logs?stdout=1&stderr=1&tail=", err) < 0)
		return -1;
	if ((tail < 0 ? buf_puts(&path, "all") : buf_printf(&path, "%d", tail)) < 0)
		return error_set(err, ERR_SYSTEM, "out of memory");
	req.path = path.data;
	docker_response_init(&resp);
	if (docker_request(c, &req, &resp, err) < 0) {
		error_wrap(err, "logs of container %s", id);
		goto out;
	}
	if (!looks_multiplexed(&resp.body)) {
		if (buf_append(out, resp.body.data, resp.body.len) < 0) {
			error_set(err, ERR_SYSTEM, "logs of container %s: too large", id);
			goto out;
		}
		ret = 0;
		goto out;
	}
	docker_demux_init(&demux, logs_on_frame, out);
	if (docker_demux_feed(&demux, resp.body.data, resp.body.len) < 0 ||
	    docker_demux_finish(&demux) < 0) {
		error_set(err, ERR_ENGINE, "logs of container %s: malformed log stream", id);
		goto out;
	}
	ret = 0;
out:
	docker_response_release(&resp);
	return ret;
}
