/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/fs.h"
#include "gitlab/gitlab.h"

static void test_exitcode__defaults_without_runner_env(void **state)
{
	unsetenv("BUILD_FAILURE_EXIT_CODE");
	unsetenv("SYSTEM_FAILURE_EXIT_CODE");
	assert_int_equal(gitlab_build_failure_code(), 1);
	assert_int_equal(gitlab_system_failure_code(), 2);
}

static void test_exitcode__taken_from_runner_env(void **state)
{
	setenv("BUILD_FAILURE_EXIT_CODE", "7", 1);
	setenv("SYSTEM_FAILURE_EXIT_CODE", "9", 1);
	assert_int_equal(gitlab_build_failure_code(), 7);
	assert_int_equal(gitlab_system_failure_code(), 9);
	/* garbage falls back to the runner's defaults */
	setenv("BUILD_FAILURE_EXIT_CODE", "7x", 1);
	setenv("SYSTEM_FAILURE_EXIT_CODE", "-3", 1);
	assert_int_equal(gitlab_build_failure_code(), 1);
	assert_int_equal(gitlab_system_failure_code(), 2);
	unsetenv("BUILD_FAILURE_EXIT_CODE");
	unsetenv("SYSTEM_FAILURE_EXIT_CODE");
}

static void test_exitcode__class_decides_build_or_system(void **state)
{
	static const struct {
		enum error_class cls;
		int code;
	} cases[] = {
		{ERR_NONE, 0},	 {ERR_SYSTEM, 2},  {ERR_IO, 2},	    {ERR_ENGINE, 2},
		{ERR_PULL, 2},	 {ERR_LOCK, 2},	   {ERR_CONFIG, 2}, {ERR_CANCELED, 2},
		{ERR_JOB, 1},	 {ERR_COMPOSE, 1}, {ERR_POLICY, 1}, {ERR_HEALTH, 1},
		{ERR_SCRIPT, 1}, {ERR_GIT, 1},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct error err = ERROR_INIT;

		err.cls = cases[i].cls;
		assert_int_equal(gitlab_exit_code_for(&err), cases[i].code);
	}
}

static void test_exitcode__file_holds_the_real_code(void **state)
{
	char dir[] = "/tmp/executor-unit-exitXXXXXX";
	char path[256];
	struct buf b = BUF_INIT;
	struct error err = ERROR_INIT;
	struct stat st;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/build_exit_code", dir);
	setenv("BUILD_EXIT_CODE_FILE", path, 1);
	assert_int_equal(gitlab_write_exit_code(42, &err), 0);
	assert_int_equal(fs_read_file(path, &b, 0, &err), 0);
	/* the runner parses the first line with strconv.Atoi: exactly "42" */
	assert_string_equal(buf_str(&b), "42\n");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* a later stage overwrites it */
	buf_reset(&b);
	assert_int_equal(gitlab_write_exit_code(3, &err), 0);
	assert_int_equal(fs_read_file(path, &b, 0, &err), 0);
	assert_string_equal(buf_str(&b), "3\n");
	buf_release(&b);
	unlink(path);
	rmdir(dir);
	unsetenv("BUILD_EXIT_CODE_FILE");
}

static void test_exitcode__no_file_variable_is_fine(void **state)
{
	struct error err = ERROR_INIT;

	unsetenv("BUILD_EXIT_CODE_FILE");
	assert_int_equal(gitlab_write_exit_code(5, &err), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exitcode__defaults_without_runner_env),
		cmocka_unit_test(test_exitcode__taken_from_runner_env),
		cmocka_unit_test(test_exitcode__class_decides_build_or_system),
		cmocka_unit_test(test_exitcode__file_holds_the_real_code),
		cmocka_unit_test(test_exitcode__no_file_variable_is_fine),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
