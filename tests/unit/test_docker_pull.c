/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "docker/docker.h"

struct lines {
	struct buf text; /* rendered lines joined with '\n' */
	int count;
};

static void on_line(const char *line, void *payload)
{
	struct lines *l = payload;

	assert_null(strchr(line, '\n'));
	assert_null(strchr(line, '\r'));
	assert_null(strchr(line, '\033'));
	l->count++;
	buf_puts(&l->text, line);
	buf_putc(&l->text, '\n');
}

static int feed_text(struct docker_pull_progress *p, const char *stream)
{
	const char *line = stream;
	int ret = 0;

	while (*line && ret == 0) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		char *text = strndup(line, len);
		json_object *obj = json_tokener_parse(text);

		free(text);
		assert_non_null(obj);
		ret = docker_pull_progress_feed(p, obj);
		json_object_put(obj);
		line += len + (nl ? 1 : 0);
	}
	return ret;
}

static const char normal_pull[] =
	"{\"status\":\"Pulling from library/busybox\",\"id\":\"latest\"}\n"
	"{\"status\":\"Pulling fs layer\",\"progressDetail\":{},\"id\":\"9ad63333ebc9\"}\n"
	"{\"status\":\"Pulling fs layer\",\"progressDetail\":{},\"id\":\"a1b2c3d4e5f6\"}\n"
	"{\"status\":\"Waiting\",\"progressDetail\":{},\"id\":\"a1b2c3d4e5f6\"}\n"
	"{\"status\":\"Downloading\",\"progressDetail\":{\"current\":1000,\"total\":2590000},"
	"\"progress\":\"[>  ] 1kB/2.59MB\",\"id\":\"9ad63333ebc9\"}\n"
	"{\"status\":\"Downloading\",\"progressDetail\":{\"current\":500000,\"total\":2590000},"
	"\"progress\":\"[=> ] 500kB/2.59MB\",\"id\":\"9ad63333ebc9\"}\n"
	"{\"status\":\"Downloading\",\"progressDetail\":{\"current\":2000000,\"total\":2590000},"
	"\"progress\":\"[==>] 2MB/2.59MB\",\"id\":\"9ad63333ebc9\"}\n"
	"{\"status\":\"Verifying Checksum\",\"progressDetail\":{},\"id\":\"9ad63333ebc9\"}\n"
	"{\"status\":\"Download complete\",\"progressDetail\":{},\"id\":\"9ad63333ebc9\"}\n"
	"{\"status\":\"Extracting\",\"progressDetail\":{\"current\":32768,\"total\":2590000},"
	"\"id\":\"9ad63333ebc9\"}\n"
	"{\"status\":\"Extracting\",\"progressDetail\":{\"current\":2590000,\"total\":2590000},"
	"\"id\":\"9ad63333ebc9\"}\n"
	"{\"status\":\"Pull complete\",\"progressDetail\":{},\"id\":\"9ad63333ebc9\"}\n"
	"{\"status\":\"Already exists\",\"progressDetail\":{},\"id\":\"a1b2c3d4e5f6\"}\n"
	"{\"status\":\"Digest: "
	"sha256:3fbc632167424a6d997e74f52b878d7cc478225cffac6bc977eedfe51c7f4e79\"}\n"
	"{\"status\":\"Status: Downloaded newer image for busybox:latest\"}\n"
	"{\"status\":\"Status: Downloaded newer image for busybox:latest\"}\n";

static void test_docker_pull_progress__normal_stream_renders_one_line_per_state(void **state)
{
	struct docker_pull_progress p;
	struct lines l = {.count = 0};

	buf_init(&l.text, 0);
	docker_pull_progress_init(&p, on_line, &l);
	assert_int_equal(feed_text(&p, normal_pull), 0);
	assert_string_equal(p.error, "");
	assert_string_equal(
		buf_str(&l.text),
		"latest: Pulling from library/busybox\n"
		"9ad63333ebc9: Pulling fs layer\n"
		"a1b2c3d4e5f6: Pulling fs layer\n"
		"a1b2c3d4e5f6: Waiting\n"
		"9ad63333ebc9: Downloading (2.6 MB)\n"
		"9ad63333ebc9: Verifying Checksum\n"
		"9ad63333ebc9: Download complete\n"
		"9ad63333ebc9: Extracting (2.6 MB)\n"
		"9ad63333ebc9: Pull complete\n"
		"a1b2c3d4e5f6: Already exists\n"
		"Digest: sha256:3fbc632167424a6d997e74f52b878d7cc478225cffac6bc977eedfe51c7f"
		"4e79\n"
		"Status: Downloaded newer image for busybox:latest\n");
	docker_pull_progress_release(&p);
	buf_release(&l.text);
}

static void test_docker_pull_progress__progress_ticks_never_flood(void **state)
{
	struct docker_pull_progress p;
	struct lines l = {.count = 0};
	int i;

	buf_init(&l.text, 0);
	docker_pull_progress_init(&p, on_line, &l);
	for (i = 0; i < 10000; i++) {
		char msg[256];
		json_object *obj;

		snprintf(msg, sizeof(msg),
			 "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":%d,\"total\":"
			 "100000},\"id\":\"layer%d\"}",
			 i * 10, i % 3);
		obj = json_tokener_parse(msg);
		assert_int_equal(docker_pull_progress_feed(&p, obj), 0);
		json_object_put(obj);
	}
	assert_int_equal(l.count, 3);
	docker_pull_progress_release(&p);
	buf_release(&l.text);
}

static void test_docker_pull_progress__error_detail_detected(void **state)
{
	struct docker_pull_progress p;
	struct lines l = {.count = 0};

	buf_init(&l.text, 0);
	docker_pull_progress_init(&p, on_line, &l);
	assert_int_equal(feed_text(&p, "{\"status\":\"Pulling from library/nope\",\"id\":\"1\"}\n"
				       "{\"errorDetail\":{\"message\":\"x\"},\"error\":\"x\"}\n"),
			 -1);
	assert_string_equal(p.error, "x");
	docker_pull_progress_release(&p);
	buf_release(&l.text);
}

static void test_docker_pull_progress__error_without_detail_uses_error_text(void **state)
{
	struct docker_pull_progress p;

	docker_pull_progress_init(&p, NULL, NULL);
	assert_int_equal(feed_text(&p, "{\"error\":\"manifest for x:y not found\\n\"}\n"), -1);
	assert_string_equal(p.error, "manifest for x:y not found");
	docker_pull_progress_release(&p);
	docker_pull_progress_init(&p, NULL, NULL);
	assert_int_equal(feed_text(&p, "{\"errorDetail\":{\"code\":1}}\n"), -1);
	assert_true(p.error[0] != '\0');
	docker_pull_progress_release(&p);
}

static void test_docker_pull_progress__control_characters_sanitized(void **state)
{
	struct docker_pull_progress p;
	struct lines l = {.count = 0};

	buf_init(&l.text, 0);
	docker_pull_progress_init(&p, on_line, &l);
	assert_int_equal(feed_text(&p, "{\"status\":\"evil\\u001b[2J\\r\\nline\",\"id\":\"x\"}\n"),
			 0);
	assert_int_equal(l.count, 1);
	assert_int_equal(feed_text(&p, "{\"error\":\"bad\\u001b[31m\\nthing\"}\n"), -1);
	assert_null(strchr(p.error, '\033'));
	assert_null(strchr(p.error, '\n'));
	docker_pull_progress_release(&p);
	buf_release(&l.text);
}

static void test_docker_pull_progress__non_status_messages_ignored(void **state)
{
	struct docker_pull_progress p;
	struct lines l = {.count = 0};

	buf_init(&l.text, 0);
	docker_pull_progress_init(&p, on_line, &l);
	assert_int_equal(feed_text(&p, "{\"aux\":{\"ID\":\"sha256:1\"}}\n"
				       "{\"status\":42}\n"
				       "{\"status\":\"\",\"id\":\"a\"}\n"),
			 0);
	assert_int_equal(docker_pull_progress_feed(&p, NULL), 0);
	assert_int_equal(l.count, 0);
	docker_pull_progress_release(&p);
	buf_release(&l.text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
			test_docker_pull_progress__normal_stream_renders_one_line_per_state),
		cmocka_unit_test(test_docker_pull_progress__progress_ticks_never_flood),
		cmocka_unit_test(test_docker_pull_progress__error_detail_detected),
		cmocka_unit_test(test_docker_pull_progress__error_without_detail_uses_error_text),
		cmocka_unit_test(test_docker_pull_progress__control_characters_sanitized),
		cmocka_unit_test(test_docker_pull_progress__non_status_messages_ignored),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
