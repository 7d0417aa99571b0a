/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/cleanup.h"
#include "docker/docker.h"
#include "docker/internal.h"

/* After the output ends the engine may report the exec as running a moment
 * longer: how long docker_exec_simple waits for the exit code. */
#define EXEC_EXIT_WAIT_MS 10000

int docker_exec_create(struct docker_client *c, const char *container, json_object *config,
		       char **exec_id, struct error *err)
{
	_cleanup_buf_ struct buf path = BUF_INIT;
	json_object *out = NULL;
	const char *id;

	*exec_id = NULL;
	if (docker_build_path(&path, "/containers", container, "/exec", err) < 0)
		return -1;
	if (docker_call_json(c, "POST", path.data, config, &out, DOCKER_TIMEOUT_MS, err) < 0)
		return error_wrap(err, "exec in container %s", container);
	id = docker_json_string(out, "Id");
	if (!id || !(*exec_id = strdup(id))) {
		json_object_put(out);
		return error_set(err, ERR_ENGINE, "exec in container %s: no Id in the answer",
				 container);
	}
	json_object_put(out);
	return 0;
}

struct exec_ctx {
	struct docker_demux demux;
	int callback_failed;
};

static int exec_on_data(const char *data, size_t len, void *payload)
{
	struct exec_ctx *ctx = payload;

	if (docker_demux_feed(&ctx->demux, data, len) < 0) {
		ctx->callback_failed = 1;
		return -1;
	}
	return 0;
}

static int discard_frame(int stream, const char *data, size_t len, void *payload)
{
	return 0;
}

int docker_exec_start(struct docker_client *c, const char *exec_id, const struct docker_exec_io *io,
		      struct error *err)
{
	_cleanup_buf_ struct buf path = BUF_INIT;
	struct exec_ctx ctx;
	int ret;

	if (docker_build_path(&path, "/exec", exec_id, "/start", err) < 0)
		return -1;
	memset(&ctx, 0, sizeof(ctx));
	docker_demux_init(&ctx.demux, io && io->on_output ? io->on_output : discard_frame,
			  io ? io->payload : NULL);
	ret = docker_hijack(c, "POST", path.data, "{\"Detach\":false,\"Tty\":false}",
			    io ? io->stdin_data : NULL, io ? io->stdin_len : 0, exec_on_data, &ctx,
			    io ? io->on_tick : NULL, io ? io->payload : NULL, err);
	if (ret < 0) {
		if (ctx.callback_failed)
			error_set(err, ERR_ENGINE,
				  "malformed output stream (was the exec created with Tty?) or "
				  "output rejected");
		return error_wrap(err, "exec %.12s", exec_id);
	}
	if (docker_demux_finish(&ctx.demux) < 0)
		return error_set(err, ERR_ENGINE, "exec %.12s: output stream ended inside a frame",
				 exec_id);
	return 0;
}

int docker_exec_inspect(struct docker_client *c, const char *exec_id, int *exit_code, int *running,
			struct error *err)
{
	_cleanup_buf_ struct buf path = BUF_INIT;
	json_object *out = NULL, *v;

	if (docker_build_path(&path, "/exec", exec_id, "/json", err) < 0)
		return -1;
	if (docker_call_json(c, "GET", path.data, NULL, &out, DOCKER_TIMEOUT_MS, err) < 0)
		return error_wrap(err, "inspect exec %.12s", exec_id);
	if (!json_object_object_get_ex(out, "Running", &v) ||
	    !json_object_is_type(v, json_type_boolean)) {
		json_object_put(out);
		return error_set(err, ERR_ENGINE, "inspect exec %.12s: no Running in the answer",
				 exec_id);
	}
	if (running)
		*running = json_object_get_boolean(v);
	if (exit_code) {
		*exit_code = -1;
		if (json_object_object_get_ex(out, "ExitCode", &v) &&
		    json_object_is_type(v, json_type_int))
			*exit_code = json_object_get_int(v);
	}
	json_object_put(out);
	return 0;
}

struct bounded {
	struct buf *out;
	struct timespec deadline; /* CLOCK_MONOTONIC; tv_sec 0: none */
};

static int bounded_output(int stream, const char *data, size_t len, void *payload)
{
	struct bounded *b = payload;

	return b->out ? buf_append(b->out, data, len) : 0;
}

static int past(const struct timespec *deadline)
{
	struct timespec now;

	if (!deadline->tv_sec)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > deadline->tv_sec ||
	       (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec);
}

static int bounded_tick(void *payload)
{
	return past(&((struct bounded *)payload)->deadline);
}

int docker_exec_simple(struct docker_client *c, const char *container, const char *const *argv,
		       struct buf *out, int *exit_code, struct error *err)
{
	return docker_exec_bounded(c, container, argv, out, 0, exit_code, err);
}

int docker_exec_bounded(struct docker_client *c, const char *container, const char *const *argv,
			struct buf *out, long timeout_ms, int *exit_code, struct error *err)
{
	_cleanup_free_ char *exec_id = NULL;
	struct bounded b = {.out = out};
	struct docker_exec_io io = {.on_output = bounded_output, .payload = &b};
	json_object *config, *cmd;
	int running = 1, code = -1, waited_ms = 0, delay_ms = 5;
	size_t i;
	int ret;

	if (!argv || !argv[0])
		return error_set(err, ERR_SYSTEM, "exec in container %s: empty command", container);
	config = json_object_new_object();
	cmd = json_object_new_array();
	if (!config || !cmd) {
		json_object_put(config);
		json_object_put(cmd);
		return error_set(err, ERR_SYSTEM, "out of memory");
	}
	json_object_object_add(config, "Cmd", cmd);
	for (i = 0; argv[i]; i++)
		json_object_array_add(cmd, json_object_new_string(argv[i]));
	json_object_object_add(config, "AttachStdout", json_object_new_boolean(1));
	json_object_object_add(config, "AttachStderr", json_object_new_boolean(1));
	ret = docker_exec_create(c, container, config, &exec_id, err);
	json_object_put(config);
	if (ret < 0)
		return -1;
	if (timeout_ms > 0) {
		clock_gettime(CLOCK_MONOTONIC, &b.deadline);
		b.deadline.tv_sec += timeout_ms / 1000;
		b.deadline.tv_nsec += (timeout_ms % 1000) * 1000000L;
		if (b.deadline.tv_nsec >= 1000000000L) {
			b.deadline.tv_sec++;
			b.deadline.tv_nsec -= 1000000000L;
		}
		io.on_tick = bounded_tick;
	}
	if (docker_exec_start(c, exec_id, &io, err) < 0)
		return -1;
	for (;;) {
		struct timespec ts;

		if (docker_exec_inspect(c, exec_id, &code, &running, err) < 0)
			return -1;
		if (!running)
			break;
		if (past(&b.deadline))
			return error_set(err, ERR_CANCELED,
					 "exec %s in container %s: no exit within %ld ms", argv[0],
					 container, timeout_ms);
		if (waited_ms >= EXEC_EXIT_WAIT_MS)
			return error_set(err, ERR_ENGINE,
					 "exec %s in container %s: still running after its output "
					 "ended",
					 argv[0], container);
		ts.tv_sec = 0;
		ts.tv_nsec = (long)delay_ms * 1000000L;
		nanosleep(&ts, NULL);
		waited_ms += delay_ms;
		if (delay_ms < 200)
			delay_ms *= 2;
	}
	if (exit_code)
		*exit_code = code;
	return 0;
}
