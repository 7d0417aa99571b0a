/* SPDX-License-Identifier: MIT */
/* The driver's own readiness check: which healthcheck it runs, and how. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "stages/stack/internal.h"

static struct compose_healthcheck check_of(char **argv, size_t argc)
{
	struct compose_healthcheck h = {.set = true,
					.interval_ms = -1,
					.timeout_ms = -1,
					.start_period_ms = -1,
					.start_interval_ms = -1,
					.retries = -1};

	h.test.set = argv != NULL;
	h.test.argv = argv;
	h.test.argc = argc;
	return h;
}

static void test_ready__cmd_shell_runs_under_bin_sh(void **state)
{
	char *t[] = {"CMD-SHELL", "wget -q -O- http://localhost/ | grep ok", NULL};
	struct compose_healthcheck h = check_of(t, 2);
	const char *argv[8];

	(void)state;
	assert_int_equal(stack_ready_argv(&h, argv, 8), 3);
	assert_string_equal(argv[0], "/bin/sh");
	assert_string_equal(argv[1], "-c");
	assert_string_equal(argv[2], "wget -q -O- http://localhost/ | grep ok");
	assert_null(argv[3]);
}

static void test_ready__cmd_form_needs_no_shell(void **state)
{
	char *t[] = {"CMD", "/healthcheck", "--port", "80", NULL};
	struct compose_healthcheck h = check_of(t, 4);
	const char *argv[8];

	(void)state;
	assert_int_equal(stack_ready_argv(&h, argv, 8), 3);
	assert_string_equal(argv[0], "/healthcheck");
	assert_string_equal(argv[1], "--port");
	assert_string_equal(argv[2], "80");
	assert_null(argv[3]);
	/* exactly fits: three words and the NULL */
	assert_int_equal(stack_ready_argv(&h, argv, 4), 3);
	/* longer than the slots given: left to the engine, never cut short */
	{
		char *t5[] = {"CMD", "/healthcheck", "--port", "80", "-v", NULL};
		struct compose_healthcheck h5 = check_of(t5, 5);

		assert_int_equal(stack_ready_argv(&h5, argv, 4), 0);
	}
}

static void test_ready__nothing_to_run_is_left_to_the_engine(void **state)
{
	char *none[] = {"NONE", NULL};
	char *bare[] = {"CMD", NULL};
	char *odd[] = {"SHELL", "true", NULL};
	struct compose_healthcheck h = check_of(none, 1);
	const char *argv[8];

	(void)state;
	assert_int_equal(stack_ready_argv(&h, argv, 8), 0);
	h = check_of(bare, 1);
	assert_int_equal(stack_ready_argv(&h, argv, 8), 0);
	h = check_of(odd, 2);
	assert_int_equal(stack_ready_argv(&h, argv, 8), 0);
	/* the image's own healthcheck (only timings in the file): not known here */
	h = check_of(NULL, 0);
	assert_int_equal(stack_ready_argv(&h, argv, 8), 0);
	/* disable: true */
	h = check_of(none, 1);
	h.disable = true;
	assert_int_equal(stack_ready_argv(&h, argv, 8), 0);
	/* no healthcheck: key at all */
	h = check_of(NULL, 0);
	h.set = false;
	assert_int_equal(stack_ready_argv(&h, argv, 8), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ready__cmd_shell_runs_under_bin_sh),
		cmocka_unit_test(test_ready__cmd_form_needs_no_shell),
		cmocka_unit_test(test_ready__nothing_to_run_is_left_to_the_engine),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
