/* SPDX-License-Identifier: MIT */
/*
 * Secrets are masked before any truncation: an error message (2048 bytes)
 * or a log line cut where a registered secret straddles the cut shows no
 * part of it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/error.h"
#include "common/log.h"

static const char secret[] = "Zq7-hunter2-Xv9pL0ngS3cretValue-4kTw";

/* No 6-character piece of the secret appears in s. */
static void assert_no_piece_of_secret(const char *s)
{
	size_t i, n = strlen(secret);

	for (i = 0; i + 6 <= n; i++) {
		if (memmem(s, strlen(s), secret + i, 6)) {
			print_error("\"%.6s\" (at %zu of the secret) found in \"...%s\"\n",
				    secret + i, i, strlen(s) > 80 ? s + strlen(s) - 80 : s);
			fail();
		}
	}
}

static int setup(void **state)
{
	log_add_secret(secret);
	return 0;
}

static int teardown(void **state)
{
	log_clear_secrets();
	return 0;
}

/* The secret at every position around the end of the message. */
static void test_error__set_masks_a_secret_straddling_the_cut(void **state)
{
	size_t n = strlen(secret), at;
	struct error err = ERROR_INIT;

	for (at = ERROR_MSG_MAX - n - 4; at < ERROR_MSG_MAX + 4; at++) {
		error_set(&err, ERR_ENGINE, "%*s%s and more after it", (int)at, "x", secret);
		assert_int_equal(err.cls, ERR_ENGINE);
		assert_true(strlen(err.msg) < ERROR_MSG_MAX);
		assert_true(strlen(err.msg) >= ERROR_MSG_MAX - n - 4);
		assert_no_piece_of_secret(err.msg);
	}
	/* a secret well inside the message is masked, the text around it kept */
	error_set(&err, ERR_JOB, "password %s rejected", secret);
	assert_string_equal(err.msg, "password [MASKED] rejected");
}

static void test_error__set_errno_masks_before_the_cut(void **state)
{
	size_t n = strlen(secret), at;
	struct error err = ERROR_INIT;

	for (at = ERROR_MSG_MAX - n - 4; at < ERROR_MSG_MAX + 4; at++) {
		error_set_errno(&err, ERR_IO, 2, "%*s%s", (int)at, "open ", secret);
		assert_int_equal(err.code, 2);
		assert_no_piece_of_secret(err.msg);
	}
	error_set_errno(&err, ERR_IO, 2, "open /x/%s", secret);
	assert_string_equal(err.msg, "open /x/[MASKED]: No such file or directory");
}

/*
 * error_wrap prepends context: the secret moves towards the end and across
 * it; and a secret in the context itself straddling the cut.
 */
static void test_error__wrap_masks_a_secret_pushed_across_the_cut(void **state)
{
	size_t n = strlen(secret), ctx;
	struct error err = ERROR_INIT;

	for (ctx = 1; ctx < n + 12; ctx++) {
		error_set(&err, ERR_ENGINE, "%*s%s!", (int)(ERROR_MSG_MAX - n - 8), "x", secret);
		assert_no_piece_of_secret(err.msg);
		error_wrap(&err, "%*s", (int)ctx, "c");
		assert_int_equal(err.cls, ERR_ENGINE);
		assert_true(strlen(err.msg) < ERROR_MSG_MAX);
		assert_no_piece_of_secret(err.msg);
	}
	for (ctx = ERROR_MSG_MAX - n - 4; ctx < ERROR_MSG_MAX + 4; ctx++) {
		error_set(&err, ERR_JOB, "the message");
		error_wrap(&err, "%*s%s", (int)ctx, "context ", secret);
		assert_int_equal(err.cls, ERR_JOB);
		assert_no_piece_of_secret(err.msg);
	}
	/* the message may be an argument of its own wrap */
	error_set(&err, ERR_JOB, "inner %s", secret);
	error_wrap(&err, "outer");
	assert_string_equal(err.msg, "outer: inner [MASKED]");
	error_set(&err, ERR_JOB, "again: %s", err.msg);
	assert_string_equal(err.msg, "again: outer: inner [MASKED]");
}

/* Log lines are never cut: a long one is masked whole. */
static void test_log__long_line_is_masked_whole(void **state)
{
	FILE *f = tmpfile();
	char *out;
	long len;
	size_t at;

	assert_non_null(f);
	log_set_stream(f);
	for (at = 8192 - strlen(secret) - 2; at < 8192 + 2; at++)
		log_msg(LOG_ERROR, "%*s%s tail", (int)at, "y", secret);
	log_set_stream(NULL);
	len = ftell(f);
	assert_true(len > 0);
	out = calloc(1, (size_t)len + 1);
	assert_non_null(out);
	rewind(f);
	assert_int_equal(fread(out, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	assert_no_piece_of_secret(out);
	assert_non_null(strstr(out, "[MASKED] tail\n"));
	free(out);
}

/* A text cut before it was masked (elsewhere) loses an end that starts a secret. */
static void test_log__mask_copy_drops_a_secret_start_at_the_cut(void **state)
{
	char dst[64], src[128];
	char *dup;

	snprintf(src, sizeof(src), "%*s%.20s", 50, "z", secret);
	log_mask_copy(dst, sizeof(dst), src);
	assert_no_piece_of_secret(dst);
	assert_int_equal(strlen(dst), 50);

	snprintf(src, sizeof(src), "%*s%s", 60, "z", secret);
	log_mask_copy(dst, sizeof(dst), src);
	assert_int_equal(strlen(dst), 60); /* no room for [MASKED]: cut before it */

	snprintf(src, sizeof(src), "a %s b %s c", secret, secret);
	dup = log_mask_dup(src);
	assert_string_equal(dup, "a [MASKED] b [MASKED] c");
	free(dup);

	/* in place, too small for the masked text */
	snprintf(src, sizeof(src), "%*s%s end", 40, "w", secret);
	log_mask(src, 46);
	assert_no_piece_of_secret(src);
	assert_true(strlen(src) <= 45);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_error__set_masks_a_secret_straddling_the_cut),
		cmocka_unit_test(test_error__set_errno_masks_before_the_cut),
		cmocka_unit_test(test_error__wrap_masks_a_secret_pushed_across_the_cut),
		cmocka_unit_test(test_log__long_line_is_masked_whole),
		cmocka_unit_test(test_log__mask_copy_drops_a_secret_start_at_the_cut),
	};

	return cmocka_run_group_tests_name("common_error", tests, setup, teardown);
}
