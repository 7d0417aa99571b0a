/* SPDX-License-Identifier: MIT */
/*
 * The client against the real engine ($DOCKER_HOST or /var/run/docker.sock).
 * No engine is a failure, never a skip.  Everything created here carries the
 * label io.executor.test=unit and an executor-unit name; leftovers with that
 * label are removed first.  Nothing else is touched.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/fs.h"
#include "docker/docker.h"
#include "tests/unit/live_test.h"

#define IMAGE	   "executor-unit/busybox:live"
#define TEST_LABEL "io.executor.test=unit"
#define FIVE_MB	   (5u * 1024u * 1024u)

static struct docker_client *client;
static char container_name[64], network_name[64], volume_name[64];
static char *container_id;

static const char *const unit_filter[] = {TEST_LABEL, NULL};

static json_object *unit_labels(void)
{
	json_object *labels = json_object_new_object();

	json_object_object_add(labels, "io.executor.test", json_object_new_string("unit"));
	return labels;
}

static void fail_with(const char *what, const struct error *err)
{
	fail_msg("%s: [%s, code %d] %s", what, error_class_name(err->cls), err->code, err->msg);
}

#define CHECK(call, err)                                                                           \
	do {                                                                                       \
		if ((call) < 0)                                                                    \
			fail_with(#call, err);                                                     \
	} while (0)

/* Remove whatever an earlier, interrupted run left behind (ours only). */
static void remove_leftovers(void)
{
	struct error err = ERROR_INIT;
	json_object *list = NULL;
	size_t i;

	CHECK(docker_container_list(client, unit_filter, 1, &list, &err), &err);
	for (i = 0; i < json_object_array_length(list); i++) {
		json_object *id;

		if (json_object_object_get_ex(json_object_array_get_idx(list, i), "Id", &id))
			CHECK(docker_container_remove(client, json_object_get_string(id), 1, 1,
						      &err),
			      &err);
	}
	json_object_put(list);
	CHECK(docker_network_list(client, unit_filter, &list, &err), &err);
	for (i = 0; i < json_object_array_length(list); i++) {
		json_object *id;

		if (json_object_object_get_ex(json_object_array_get_idx(list, i), "Id", &id))
			CHECK(docker_network_remove(client, json_object_get_string(id), &err),
			      &err);
	}
	json_object_put(list);
	CHECK(docker_volume_list(client, unit_filter, &list, &err), &err);
	for (i = 0; i < json_object_array_length(list); i++) {
		json_object *name;

		if (json_object_object_get_ex(json_object_array_get_idx(list, i), "Name", &name))
			CHECK(docker_volume_remove(client, json_object_get_string(name), 1, &err),
			      &err);
	}
	json_object_put(list);
}

static int setup(void **state)
{
	struct error err = ERROR_INIT;

	client = docker_client_new(NULL, &err);
	if (!client) {
		fprintf(stderr, "docker_client_new: %s\n", err.msg);
		return -1;
	}
	if (docker_ping(client, &err) < 0) {
		fprintf(stderr, "no Docker engine answers (run scripts/ensure-engine.sh): %s\n",
			err.msg);
		return -1;
	}
	snprintf(container_name, sizeof(container_name), "executor-unit-live-%d", (int)getpid());
	snprintf(network_name, sizeof(network_name), "executor-unit-net-%d", (int)getpid());
	snprintf(volume_name, sizeof(volume_name), "executor-unit-vol-%d", (int)getpid());
	return 0;
}

/* The image stays: another run of these tests on the same engine may be using
 * it right now (the import is idempotent). */
static int teardown(void **state)
{
	struct error err = ERROR_INIT;

	if (!client)
		return 0;
	if (container_id)
		docker_container_remove(client, container_id, 1, 1, &err);
	docker_network_remove(client, network_name, &err);
	docker_volume_remove(client, volume_name, 1, &err);
	free(container_id);
	docker_client_free(client);
	return 0;
}

/* ---- exec helper ---- */

struct output {
	struct buf out;
	struct buf err;
	size_t out_bytes;
	size_t err_bytes;
	int keep; /* collect, or only count */
};

static int on_output(int stream, const char *data, size_t len, void *payload)
{
	struct output *o = payload;

	assert_true(stream == 1 || stream == 2);
	if (stream == 1)
		o->out_bytes += len;
	else
		o->err_bytes += len;
	if (!o->keep)
		return 0;
	return buf_append(stream == 1 ? &o->out : &o->err, data, len);
}

static int wait_exit(const char *exec_id, int *code, struct error *err)
{
	int running = 1, i;

	for (i = 0; i < 500; i++) {
		if (docker_exec_inspect(client, exec_id, code, &running, err) < 0)
			return -1;
		if (!running)
			return 0;
		usleep(10000);
	}
	return error_set(err, ERR_ENGINE, "exec still running");
}

static void run_exec(const char *const *argv, const void *in, size_t in_len, struct output *o,
		     int *code)
{
	struct docker_exec_io io = {
		.stdin_data = in, .stdin_len = in_len, .on_output = on_output, .payload = o};
	struct error err = ERROR_INIT;
	json_object *config = json_object_new_object(), *cmd = json_object_new_array();
	char *exec_id = NULL;
	size_t i;

	for (i = 0; argv[i]; i++)
		json_object_array_add(cmd, json_object_new_string(argv[i]));
	json_object_object_add(config, "Cmd", cmd);
	json_object_object_add(config, "AttachStdin", json_object_new_boolean(in != NULL));
	json_object_object_add(config, "AttachStdout", json_object_new_boolean(1));
	json_object_object_add(config, "AttachStderr", json_object_new_boolean(1));
	CHECK(docker_exec_create(client, container_id, config, &exec_id, &err), &err);
	json_object_put(config);
	CHECK(docker_exec_start(client, exec_id, &io, &err), &err);
	CHECK(wait_exit(exec_id, code, &err), &err);
	free(exec_id);
}

/* ---- tests, in order ---- */

static void test_docker_live__ping_negotiates_the_engine_version(void **state)
{
	struct error err = ERROR_INIT;
	unsigned major = 0, minor = 0;

	/* this machine's engine speaks 1.41; a newer one is capped at 1.43 */
	assert_int_equal(sscanf(docker_api_version(client), "%u.%u", &major, &minor), 2);
	assert_int_equal(major, 1);
	assert_true(minor >= 40 && minor <= 43);
	remove_leftovers();
	CHECK(docker_ping(client, &err), &err);
}

static void test_docker_live__image_import_and_inspect(void **state)
{
	struct error err = ERROR_INIT;
	json_object *img = NULL, *v;

	live_import_busybox(client, "live");
	CHECK(docker_image_inspect(client, IMAGE, &img, &err), &err);
	assert_true(json_object_object_get_ex(img, "Id", &v));
	assert_non_null(strstr(json_object_get_string(v), "sha256:"));
	json_object_put(img);
	assert_int_equal(docker_image_inspect(client, "executor-unit/absent:nope", &img, &err), -1);
	assert_int_equal(err.code, 404);
	assert_int_equal(err.cls, ERR_ENGINE);
}

static void test_docker_live__pull_failure_is_pull_error(void **state)
{
	struct error err = ERROR_INIT;

	/* nothing listens on port 1: fails fast, inside the engine */
	assert_int_equal(
		docker_image_pull(client, "127.0.0.1:1/executor-unit/nope", NULL, NULL, NULL, &err),
		-1);
	assert_int_equal(err.cls, ERR_PULL);
	assert_non_null(strstr(err.msg, "pull 127.0.0.1:1/executor-unit/nope: "));
}

static void test_docker_live__container_create_start_inspect(void **state)
{
	struct error err = ERROR_INIT;
	json_object *config = json_object_new_object(), *cmd = json_object_new_array();
	json_object *info = NULL, *st, *running;
	const char *const args[] = {"/bin/busybox", "sh", "-c",
				    "echo started; echo oops >&2; exec /bin/busybox sleep 600",
				    NULL};
	size_t i;

	for (i = 0; args[i]; i++)
		json_object_array_add(cmd, json_object_new_string(args[i]));
	json_object_object_add(config, "Image", json_object_new_string(IMAGE));
	json_object_object_add(config, "Cmd", cmd);
	json_object_object_add(config, "Labels", unit_labels());
	CHECK(docker_container_create(client, container_name, config, &container_id, &err), &err);
	/* the same name again is a conflict */
	assert_int_equal(docker_container_create(client, container_name, config, NULL, &err), -1);
	assert_int_equal(err.code, 409);
	json_object_put(config);

	CHECK(docker_container_start(client, container_id, &err), &err);
	CHECK(docker_container_start(client, container_id, &err), &err); /* 304: fine */
	CHECK(docker_container_inspect(client, container_name, &info, &err), &err);
	assert_true(json_object_object_get_ex(info, "State", &st));
	assert_true(json_object_object_get_ex(st, "Running", &running));
	assert_true(json_object_get_boolean(running));
	json_object_put(info);
}

static void test_docker_live__exec_stdin_script_separates_streams_and_exit_code(void **state)
{
	static const char script[] =
		"echo to-stdout\n"
		"echo to-stderr >&2\n"
		"i=0; while [ $i -lt 3 ]; do echo \"line $i\"; i=$((i + 1)); done\n"
		"exit 42\n"
		"echo never\n";
	const char *const argv[] = {"/bin/busybox", "sh", NULL};
	struct output o = {.keep = 1};
	int code = -1;

	/* sh reads its script from stdin */
	run_exec(argv, script, sizeof(script) - 1, &o, &code);
	assert_int_equal(code, 42);
	assert_string_equal(buf_str(&o.out), "to-stdout\nline 0\nline 1\nline 2\n");
	assert_string_equal(buf_str(&o.err), "to-stderr\n");
	buf_release(&o.out);
	buf_release(&o.err);
}

static void test_docker_live__exec_streams_5_mb_of_output(void **state)
{
	const char *const argv[] = {"/bin/busybox", "head", "-c", "5242880", "/dev/zero", NULL};
	struct output o = {.keep = 0};
	int code = -1;

	run_exec(argv, NULL, 0, &o, &code);
	assert_int_equal(code, 0);
	assert_int_equal(o.out_bytes, FIVE_MB);
	assert_int_equal(o.err_bytes, 0);
}

static void test_docker_live__exec_large_stdin_round_trips_without_deadlock(void **state)
{
	const char *const argv[] = {"/bin/busybox", "cat", NULL};
	struct output o = {.keep = 1};
	size_t len = 3u * 1024u * 1024u, i;
	char *in = malloc(len);
	int code = -1;

	assert_non_null(in);
	for (i = 0; i < len; i++)
		in[i] = (char)(i * 31 + i / 977);
	/* cat writes while we still write: both directions must flow */
	run_exec(argv, in, len, &o, &code);
	assert_int_equal(code, 0);
	assert_int_equal(o.out.len, len);
	assert_memory_equal(o.out.data, in, len);
	free(in);
	buf_release(&o.out);
	buf_release(&o.err);
}

static int stop_soon(void *payload)
{
	struct output *o = payload;

	return ++o->err_bytes >= 3; /* about 300 ms */
}

static void test_docker_live__exec_on_tick_cancels(void **state)
{
	struct error err = ERROR_INIT;
	json_object *config = json_object_new_object(), *cmd = json_object_new_array();
	struct output o = {.keep = 0};
	struct docker_exec_io io = {.on_tick = stop_soon, .payload = &o};
	char *exec_id = NULL;
	struct timespec t0, t1;

	json_object_array_add(cmd, json_object_new_string("/bin/busybox"));
	json_object_array_add(cmd, json_object_new_string("sleep"));
	json_object_array_add(cmd, json_object_new_string("5"));
	json_object_object_add(config, "Cmd", cmd);
	json_object_object_add(config, "AttachStdout", json_object_new_boolean(1));
	json_object_object_add(config, "AttachStderr", json_object_new_boolean(1));
	CHECK(docker_exec_create(client, container_id, config, &exec_id, &err), &err);
	json_object_put(config);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(docker_exec_start(client, exec_id, &io, &err), -1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_int_equal(err.cls, ERR_CANCELED);
	assert_true(t1.tv_sec - t0.tv_sec < 2);
	free(exec_id);
}

static void test_docker_live__archive_put_then_cat(void **state)
{
	struct error err = ERROR_INIT;
	struct buf tar = BUF_INIT, out = BUF_INIT;
	const char *const argv[] = {"/bin/busybox", "cat", "/tmp/up/hello.txt", NULL};
	const char *const fails[] = {"/bin/busybox", "cat", "/nope", NULL};
	int code = -1;

	assert_int_equal(docker_tar_add_dir(&tar, "up", 0755, 0, 0), 0);
	assert_int_equal(
		docker_tar_add_file(&tar, "up/hello.txt", "hello, archive\n", 15, 0644, 0, 0), 0);
	assert_int_equal(docker_tar_finish(&tar), 0);
	CHECK(docker_archive_put(client, container_id, "/tmp", tar.data, tar.len, &err), &err);
	CHECK(docker_exec_simple(client, container_id, argv, &out, &code, &err), &err);
	assert_int_equal(code, 0);
	assert_string_equal(buf_str(&out), "hello, archive\n");
	buf_reset(&out);
	CHECK(docker_exec_simple(client, container_id, fails, &out, &code, &err), &err);
	assert_int_equal(code, 1);
	assert_non_null(strstr(buf_str(&out), "No such file"));
	/* a missing target directory is the engine's 404 */
	assert_int_equal(
		docker_archive_put(client, container_id, "/no/such/dir", tar.data, tar.len, &err),
		-1);
	assert_int_equal(err.code, 404);
	buf_release(&tar);
	buf_release(&out);
}

static void test_docker_live__network_connect_with_alias_and_remove(void **state)
{
	struct error err = ERROR_INIT;
	json_object *labels = unit_labels(), *info = NULL, *v;
	const char *const aliases[] = {"unit-alias", NULL};
	char *net_id = NULL, path[256];
	int found = 0;
	size_t i;

	CHECK(docker_network_create(client, network_name, labels, 0, &net_id, &err), &err);
	assert_non_null(net_id);
	assert_int_equal(docker_network_create(client, network_name, labels, 0, NULL, &err), -1);
	assert_int_equal(err.code, 409);
	json_object_put(labels);
	CHECK(docker_network_connect(client, network_name, container_id, aliases, &err), &err);
	CHECK(docker_container_inspect(client, container_id, &info, &err), &err);
	snprintf(path, sizeof(path), "%s", network_name);
	assert_true(json_object_object_get_ex(info, "NetworkSettings", &v));
	assert_true(json_object_object_get_ex(v, "Networks", &v));
	assert_true(json_object_object_get_ex(v, path, &v));
	assert_true(json_object_object_get_ex(v, "Aliases", &v));
	for (i = 0; i < json_object_array_length(v); i++)
		found |= !strcmp(json_object_get_string(json_object_array_get_idx(v, i)),
				 "unit-alias");
	assert_true(found);
	json_object_put(info);
	CHECK(docker_network_inspect(client, net_id, &info, &err), &err);
	json_object_put(info);
	CHECK(docker_network_disconnect(client, network_name, container_id, 0, &err), &err);
	CHECK(docker_network_remove(client, network_name, &err), &err);
	CHECK(docker_network_remove(client, network_name, &err), &err); /* gone: success */
	assert_int_equal(docker_network_inspect(client, net_id, &info, &err), -1);
	assert_int_equal(err.code, 404);
	free(net_id);
}

static void test_docker_live__volume_create_list_remove(void **state)
{
	struct error err = ERROR_INIT;
	json_object *labels = unit_labels(), *info = NULL, *list = NULL;

	CHECK(docker_volume_create(client, volume_name, labels, &err), &err);
	json_object_put(labels);
	CHECK(docker_volume_inspect(client, volume_name, &info, &err), &err);
	assert_string_equal(json_object_get_string(json_object_object_get(info, "Name")),
			    volume_name);
	json_object_put(info);
	CHECK(docker_volume_list(client, unit_filter, &list, &err), &err);
	assert_true(json_object_array_length(list) >= 1);
	json_object_put(list);
	CHECK(docker_volume_remove(client, volume_name, 0, &err), &err);
	CHECK(docker_volume_remove(client, volume_name, 0, &err), &err); /* gone: success */
	assert_int_equal(docker_volume_inspect(client, volume_name, &info, &err), -1);
	assert_int_equal(err.code, 404);
}

static void test_docker_live__logs_and_list_by_label(void **state)
{
	struct error err = ERROR_INIT;
	struct buf logs = BUF_INIT;
	json_object *list = NULL;
	const char *const other[] = {"io.executor.test=nobody-uses-this", NULL};

	CHECK(docker_container_logs(client, container_id, 10, &logs, &err), &err);
	assert_non_null(strstr(buf_str(&logs), "started\n"));
	assert_non_null(strstr(buf_str(&logs), "oops\n"));
	buf_release(&logs);
	CHECK(docker_container_list(client, unit_filter, 0, &list, &err), &err);
	assert_int_equal(json_object_array_length(list), 1);
	json_object_put(list);
	CHECK(docker_container_list(client, other, 1, &list, &err), &err);
	assert_int_equal(json_object_array_length(list), 0);
	json_object_put(list);
}

static void test_docker_live__stop_wait_remove(void **state)
{
	struct error err = ERROR_INIT;
	json_object *info = NULL;
	unsigned long before;
	int code = -1;

	/* sleep as PID 1 ignores SIGTERM: killed after the 1 s timeout */
	CHECK(docker_container_stop(client, container_id, 1, &err), &err);
	CHECK(docker_container_stop(client, container_id, 1, &err), &err); /* 304: fine */
	CHECK(docker_container_wait(client, container_id, "not-running", &code, &err), &err);
	assert_int_equal(code, 137);
	assert_int_equal(docker_container_kill(client, container_id, "KILL", &err), -1);
	assert_int_equal(err.code, 409);
	CHECK(docker_container_remove(client, container_id, 0, 1, &err), &err);
	before = docker_request_count(client);
	CHECK(docker_container_remove(client, container_id, 0, 1, &err), &err); /* gone */
	assert_int_equal(docker_request_count(client), before + 1);
	assert_int_equal(docker_container_inspect(client, container_id, &info, &err), -1);
	assert_int_equal(err.code, 404);
	free(container_id);
	container_id = NULL;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_docker_live__ping_negotiates_the_engine_version),
		cmocka_unit_test(test_docker_live__image_import_and_inspect),
		cmocka_unit_test(test_docker_live__pull_failure_is_pull_error),
		cmocka_unit_test(test_docker_live__container_create_start_inspect),
		cmocka_unit_test(
			test_docker_live__exec_stdin_script_separates_streams_and_exit_code),
		cmocka_unit_test(test_docker_live__exec_streams_5_mb_of_output),
		cmocka_unit_test(test_docker_live__exec_large_stdin_round_trips_without_deadlock),
		cmocka_unit_test(test_docker_live__exec_on_tick_cancels),
		cmocka_unit_test(test_docker_live__archive_put_then_cat),
		cmocka_unit_test(test_docker_live__network_connect_with_alias_and_remove),
		cmocka_unit_test(test_docker_live__volume_create_list_remove),
		cmocka_unit_test(test_docker_live__logs_and_list_by_label),
		cmocka_unit_test(test_docker_live__stop_wait_remove),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
