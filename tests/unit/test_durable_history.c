/* SPDX-License-Identifier: MIT */
#include "tests/unit/durable_test.h"

#include <fcntl.h>

#include "common/cleanup.h"
#include "durable/history.h"

static const struct durable_holder job = {
	.action = "deploy green",
	.job_id = "4711",
	.job_name = "deploy:green",
	.pipeline_id = "812",
	.project = "group/echobase",
	.project_id = "42",
	.ref = "main",
	.protected_ref = "true",
	.via = "job",
	.user = "alice",
	.user_claimed = "root",
};

static void append(const char *dir, const char *action, const char *result, const char *msg)
{
	struct durable_history_entry e = {
		.action = action,
		.color = "green",
		.result = result,
		.duration_ms = 1234,
		.who = &job,
		.commit = "3f2a9c0d",
		.message = msg,
	};
	struct error err = ERROR_INIT;

	assert_int_equal(durable_history_append(dir, "ci", &e, &err), 0);
}

static const char *field(json_object *arr, size_t i, const char *key)
{
	json_object *v;

	assert_true(json_object_object_get_ex(json_object_array_get_idx(arr, i), key, &v));
	return json_object_get_string(v);
}

static json_object *read_all(const char *dir, size_t max)
{
	struct error err = ERROR_INIT;
	json_object *arr = NULL;

	assert_int_equal(durable_history_read(dir, "ci", max, &arr, &err), 0);
	assert_non_null(arr);
	return arr;
}

static void append_raw(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_APPEND);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void test_durable_history__entries_read_back_in_order(void **state)
{
	const char *dir = *state;
	json_object *arr;

	append(dir, "deploy", DURABLE_RESULT_OK, "first");
	append(dir, "promote", DURABLE_RESULT_OK, "second");
	append(dir, "rollback", DURABLE_RESULT_ROLLED_BACK, "third");
	arr = read_all(dir, 0);
	assert_int_equal(json_object_array_length(arr), 3);
	assert_string_equal(field(arr, 0, "message"), "first");
	assert_string_equal(field(arr, 2, "action"), "rollback");
	assert_string_equal(field(arr, 2, "result"), "rolled-back");
	assert_string_equal(field(arr, 0, "env"), "ci");
	assert_string_equal(field(arr, 0, "color"), "green");
	assert_string_equal(field(arr, 0, "who"), "alice");
	assert_string_equal(field(arr, 0, "project"), "group/echobase");
	/* who, truthfully: the payload's ids and ref, a forged login kept apart */
	assert_string_equal(field(arr, 0, "project_id"), "42");
	assert_string_equal(field(arr, 0, "ref"), "main");
	assert_string_equal(field(arr, 0, "protected"), "true");
	assert_string_equal(field(arr, 0, "via"), "job");
	assert_string_equal(field(arr, 0, "who_claimed"), "root");
	assert_string_equal(field(arr, 0, "pipeline_id"), "812");
	assert_string_equal(field(arr, 0, "job_id"), "4711");
	assert_string_equal(field(arr, 0, "job_name"), "deploy:green");
	assert_string_equal(field(arr, 0, "commit"), "3f2a9c0d");
	assert_string_equal(field(arr, 0, "duration_ms"), "1234");
	assert_int_equal(strlen(field(arr, 0, "time")), 20);
	json_object_put(arr);
	assert_int_equal(dt_mode(dt_path(dir, "ci", "history.jsonl")), 0600);
}

static void test_durable_history__torn_tail_is_skipped(void **state)
{
	const char *dir = *state;
	json_object *arr;

	append(dir, "deploy", DURABLE_RESULT_OK, "one");
	append(dir, "deploy", DURABLE_RESULT_OK, "two");
	append(dir, "deploy", DURABLE_RESULT_OK, "three");
	/* the writer was SIGKILLed in the middle of the fourth line */
	append_raw(dt_path(dir, "ci", "history.jsonl"), "{\"time\":\"2026-11-27T03:0");
	arr = read_all(dir, 0);
	assert_int_equal(json_object_array_length(arr), 3);
	assert_string_equal(field(arr, 2, "message"), "three");
	json_object_put(arr);
}

static void test_durable_history__append_after_torn_tail_keeps_new_entry(void **state)
{
	const char *dir = *state;
	json_object *arr;
	char *text;

	append(dir, "deploy", DURABLE_RESULT_OK, "one");
	append(dir, "deploy", DURABLE_RESULT_OK, "two");
	append(dir, "deploy", DURABLE_RESULT_OK, "three");
	append_raw(dt_path(dir, "ci", "history.jsonl"), "{\"time\":\"2026-11-27T03:0");
	append(dir, "promote", DURABLE_RESULT_OK, "four");
	arr = read_all(dir, 0);
	assert_int_equal(json_object_array_length(arr), 4);
	assert_string_equal(field(arr, 3, "message"), "four");
	json_object_put(arr);
	/* the torn fragment stays on a line of its own */
	text = dt_read(dt_path(dir, "ci", "history.jsonl"));
	assert_non_null(strstr(text, "\"time\":\"2026-11-27T03:0\n{"));
	free(text);
}

static void test_durable_history__garbage_lines_are_skipped(void **state)
{
	const char *dir = *state;
	const char *path;
	json_object *arr;

	append(dir, "deploy", DURABLE_RESULT_OK, "one");
	path = dt_path(dir, "ci", "history.jsonl");
	append_raw(path, "not json\n\n[1,2]\n{\"a\":1} trailing\n   \n");
	append(dir, "deploy", DURABLE_RESULT_FAILED, "two");
	arr = read_all(dir, 0);
	assert_int_equal(json_object_array_length(arr), 2);
	assert_string_equal(field(arr, 1, "result"), "failed");
	json_object_put(arr);
}

static void test_durable_history__max_entries_returns_latest(void **state)
{
	const char *dir = *state;
	json_object *arr;
	char msg[16];
	int i;

	for (i = 0; i < 10; i++) {
		snprintf(msg, sizeof(msg), "m%d", i);
		append(dir, "deploy", DURABLE_RESULT_OK, msg);
	}
	append_raw(dt_path(dir, "ci", "history.jsonl"), "{\"torn");
	arr = read_all(dir, 3);
	assert_int_equal(json_object_array_length(arr), 3);
	assert_string_equal(field(arr, 0, "message"), "m7");
	assert_string_equal(field(arr, 2, "message"), "m9");
	json_object_put(arr);
}

static void test_durable_history__missing_history_is_empty(void **state)
{
	json_object *arr = read_all(*state, 5);

	assert_int_equal(json_object_array_length(arr), 0);
	json_object_put(arr);
}

static void test_durable_history__images_and_defaults(void **state)
{
	const char *dir = *state;
	struct durable_history_entry e = {.action = "durable-setup", .result = DURABLE_RESULT_OK};
	struct error err = ERROR_INIT;
	json_object *images = json_object_new_object();
	json_object *arr, *got, *entry, *v;

	json_object_object_add(images, "api-gateway",
			       json_object_new_string("echobase/api@sha256:abc"));
	setenv("GITLAB_USER_LOGIN", "bob", 1);
	e.images = images;
	e.time = 1795748645;
	assert_int_equal(durable_history_append(dir, "ci", &e, &err), 0);
	unsetenv("GITLAB_USER_LOGIN");
	json_object_put(images);

	arr = read_all(dir, 0);
	entry = json_object_array_get_idx(arr, 0);
	assert_string_equal(field(arr, 0, "who"), "bob");
	assert_string_equal(field(arr, 0, "time"), "2026-11-27T03:04:05Z");
	assert_true(json_object_object_get_ex(entry, "images", &got));
	assert_true(json_object_object_get_ex(got, "api-gateway", &v));
	assert_string_equal(json_object_get_string(v), "echobase/api@sha256:abc");
	/* absent optional fields are left out */
	assert_false(json_object_object_get_ex(entry, "color", &v));
	assert_false(json_object_object_get_ex(entry, "job_id", &v));
	assert_false(json_object_object_get_ex(entry, "message", &v));
	json_object_put(arr);
}

static void test_durable_history__bad_entries_rejected(void **state)
{
	const char *dir = *state;
	struct durable_history_entry e = {.action = "deploy", .result = "maybe"};
	struct error err = ERROR_INIT;

	assert_int_equal(durable_history_append(dir, "ci", &e, &err), -1);
	assert_int_equal(err.cls, ERR_SYSTEM);
	e.result = NULL;
	assert_int_equal(durable_history_append(dir, "ci", &e, &err), -1);
	e.result = DURABLE_RESULT_REFUSED;
	e.action = NULL;
	assert_int_equal(durable_history_append(dir, "ci", &e, &err), -1);
	e.action = "deploy";
	assert_int_equal(durable_history_append(dir, "../x", &e, &err), -1);
	assert_int_equal(err.cls, ERR_JOB);
	assert_false(dt_exists(dt_path(dir, "ci", "history.jsonl")));
}

static void test_durable_history__secrets_masked_and_message_bounded(void **state)
{
	const char *dir = *state;
	char *big = malloc(DURABLE_HISTORY_MESSAGE_MAX * 2);
	json_object *arr;
	char *text;

	log_add_secret("Sup3rS3cretValue");
	append(dir, "deploy", DURABLE_RESULT_FAILED,
	       "mysql: access denied for app with password Sup3rS3cretValue\nline 2");
	memset(big, 'x', DURABLE_HISTORY_MESSAGE_MAX * 2 - 1);
	big[DURABLE_HISTORY_MESSAGE_MAX * 2 - 1] = '\0';
	append(dir, "deploy", DURABLE_RESULT_FAILED, big);
	free(big);
	text = dt_read(dt_path(dir, "ci", "history.jsonl"));
	assert_null(strstr(text, "Sup3rS3cretValue"));
	free(text);

	arr = read_all(dir, 0);
	assert_int_equal(json_object_array_length(arr), 2);
	assert_non_null(strstr(field(arr, 0, "message"), "password [MASKED]\nline 2"));
	assert_int_equal(strlen(field(arr, 1, "message")), DURABLE_HISTORY_MESSAGE_MAX + 3);
	json_object_put(arr);
	log_clear_secrets();
}

static void test_durable_history__huge_file_reads_only_its_tail(void **state)
{
	const char *dir = *state;
	const size_t n = 9000;
	struct buf b = BUF_INIT;
	json_object *arr;
	char pad[1001];
	size_t i, got;

	memset(pad, 'p', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	buf_init(&b, 0);
	for (i = 0; i < n; i++)
		assert_int_equal(buf_printf(&b,
					    "{\"action\":\"deploy\",\"result\":\"ok\",\"seq\":%zu,"
					    "\"message\":\"%s\"}\n",
					    i, pad),
				 0);
	assert_true(b.len > DURABLE_HISTORY_READ_LIMIT);
	append(dir, "deploy", DURABLE_RESULT_OK, "creates the file");
	append_raw(dt_path(dir, "ci", "history.jsonl"), buf_str(&b));
	buf_release(&b);

	arr = read_all(dir, 0);
	got = json_object_array_length(arr);
	assert_true(got > 7000 && got < n);
	/* every entry is whole, the newest last */
	assert_string_equal(field(arr, got - 1, "seq"), "8999");
	assert_int_equal(strlen(field(arr, 0, "message")), 1000);
	json_object_put(arr);
	arr = read_all(dir, 2);
	assert_string_equal(field(arr, 0, "seq"), "8998");
	json_object_put(arr);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, dt_setup, dt_teardown)
	const struct CMUnitTest tests[] = {
		T(test_durable_history__entries_read_back_in_order),
		T(test_durable_history__torn_tail_is_skipped),
		T(test_durable_history__append_after_torn_tail_keeps_new_entry),
		T(test_durable_history__garbage_lines_are_skipped),
		T(test_durable_history__max_entries_returns_latest),
		T(test_durable_history__missing_history_is_empty),
		T(test_durable_history__images_and_defaults),
		T(test_durable_history__bad_entries_rejected),
		T(test_durable_history__secrets_masked_and_message_bounded),
		T(test_durable_history__huge_file_reads_only_its_tail),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
