/* SPDX-License-Identifier: MIT */
#ifndef TESTS_UNIT_DURABLE_TEST_H
#define TESTS_UNIT_DURABLE_TEST_H

/*
 * Helpers shared by the durable/ unit tests: a state directory under /tmp
 * per test (the cmocka state), file modes and contents, log capture.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"

/* The driver's messages outside a capture: quiet unless DT_VERBOSE is set. */
static inline FILE *dt_log_sink(void)
{
	static FILE *null;

	if (getenv("DT_VERBOSE"))
		return NULL;
	if (!null)
		null = fopen("/dev/null", "w");
	return null;
}

static inline int dt_setup(void **state)
{
	char tmpl[] = "/tmp/executor-durable-test-XXXXXX";

	log_set_stream(dt_log_sink());
	if (!mkdtemp(tmpl))
		return -1;
	*state = strdup(tmpl);
	return *state ? 0 : -1;
}

static inline int dt_teardown(void **state)
{
	struct error err = ERROR_INIT;
	int ret = fs_remove_tree(*state, &err);

	free(*state);
	*state = NULL;
	log_set_stream(dt_log_sink());
	return ret;
}

/* "<state_dir>/envs/<env>/<leaf>" in a static buffer (one at a time). */
static inline const char *dt_path(const char *state_dir, const char *env, const char *leaf)
{
	static char p[8192];
	int n;

	if (leaf)
		n = snprintf(p, sizeof(p), "%s/envs/%s/%s", state_dir, env, leaf);
	else
		n = snprintf(p, sizeof(p), "%s/envs/%s", state_dir, env);
	assert_true(n > 0 && (size_t)n < sizeof(p));
	return p;
}

/* Permission bits of path, or -1 when it does not exist. */
static inline int dt_mode(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return -1;
	return (int)(st.st_mode & 07777);
}

static inline int dt_exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/* Whole file as a malloc'd string (NULL when missing). */
static inline char *dt_read(const char *path)
{
	struct buf b = BUF_INIT;
	struct error err = ERROR_INIT;

	if (fs_read_file(path, &b, 0, &err) < 0) {
		buf_release(&b);
		return NULL;
	}
	return buf_detach(&b, NULL);
}

static inline void dt_write(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Log capture: everything the driver logs goes to a memory stream. */
struct dt_capture {
	FILE *f;
	char *data;
	size_t len;
};

static inline void dt_capture_begin(struct dt_capture *c)
{
	c->data = NULL;
	c->len = 0;
	c->f = open_memstream(&c->data, &c->len);
	assert_non_null(c->f);
	log_set_stream(c->f);
}

/* Stops capturing; c->data holds the text (caller frees). */
static inline void dt_capture_end(struct dt_capture *c)
{
	log_set_stream(dt_log_sink());
	fclose(c->f);
	c->f = NULL;
}

#endif
