/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/log.h"

static void test_buf__limit_is_hard(void **state)
{
	struct buf b;

	buf_init(&b, 8);
	assert_int_equal(buf_puts(&b, "12345678"), 0);
	assert_int_equal(buf_putc(&b, '9'), -1);
	assert_string_equal(buf_str(&b), "12345678");
	assert_int_equal(b.len, 8);
	buf_release(&b);
}

static void test_buf__binary_safe_and_consume(void **state)
{
	struct buf b = BUF_INIT;

	assert_int_equal(buf_append(&b, "a\0b\0c", 5), 0);
	assert_int_equal(b.len, 5);
	buf_consume(&b, 2);
	assert_int_equal(b.len, 3);
	assert_memory_equal(b.data, "b\0c", 3);
	assert_int_equal(b.data[3], '\0');
	buf_release(&b);
	assert_string_equal(buf_str(&b), "");
}

static void test_error__wrap_keeps_class_and_prepends(void **state)
{
	struct error err = ERROR_INIT;

	error_set(&err, ERR_COMPOSE, "port 3101 is already allocated");
	error_wrap(&err, "create container `%s`", "echobase-green-api-gateway");
	assert_int_equal(err.cls, ERR_COMPOSE);
	assert_string_equal(err.msg, "create container `echobase-green-api-gateway`: port 3101 is "
				     "already allocated");
	assert_true(error_is_build_failure(&err));
}

static void test_log__mask_replaces_every_secret(void **state)
{
	char line[128] = "password=s3cr3tvalue and again s3cr3tvalue!";

	log_add_secret("s3cr3tvalue");
	log_add_secret("short"); /* too short to mask safely: ignored */
	log_mask(line, sizeof(line));
	assert_string_equal(line, "password=[MASKED] and again [MASKED]!");
	log_clear_secrets();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf__limit_is_hard),
		cmocka_unit_test(test_buf__binary_safe_and_consume),
		cmocka_unit_test(test_error__wrap_keeps_class_and_prepends),
		cmocka_unit_test(test_log__mask_replaces_every_secret),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
