/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "stages/action.h"

static void expect(const char *job, const char *act, const char *env, const char *color,
		   enum action_kind kind, const char *want_env, const char *want_color)
{
	struct action a;
	struct error err = ERROR_INIT;

	if (action_resolve(job, act, env, color, &a, &err) < 0)
		fail_msg("%s: %s", job ? job : "(null)", err.msg);
	assert_int_equal(a.kind, kind);
	assert_string_equal(a.env, want_env);
	assert_string_equal(a.color, want_color);
}

static void test_action__seed_job_names(void **state)
{
	expect("durable:setup-ci", NULL, NULL, NULL, ACTION_DURABLE_SETUP, "ci", "");
	expect("durable:setup-devlocal", NULL, NULL, NULL, ACTION_DURABLE_SETUP, "devlocal", "");
	expect("cleanup:durable-ci", NULL, NULL, NULL, ACTION_DURABLE_CLEANUP, "ci", "");
	expect("deploy:green", NULL, NULL, NULL, ACTION_DEPLOY, "ci", "green");
	expect("promote:green", NULL, NULL, NULL, ACTION_PROMOTE, "ci", "green");
	expect("rollback:to-blue", NULL, NULL, NULL, ACTION_ROLLBACK, "ci", "blue");
	expect("cleanup:green", NULL, NULL, NULL, ACTION_CLEANUP, "ci", "green");
}

static void test_action__ordinary_jobs_are_container_jobs(void **state)
{
	expect("test:e2e", NULL, NULL, NULL, ACTION_NONE, "", "");
	expect("build:images", NULL, NULL, NULL, ACTION_NONE, "", "");
	expect("deployer", NULL, NULL, NULL, ACTION_NONE, "", "");
	/* a test job joining a color names env and color */
	expect("test:e2e", NULL, "ci", "green", ACTION_NONE, "ci", "green");
}

static void test_action__variables_win_over_the_name(void **state)
{
	expect("ship it", "deploy", "staging", "blue", ACTION_DEPLOY, "staging", "blue");
	expect("deploy:green", NULL, "prod", NULL, ACTION_DEPLOY, "prod", "green");
	expect("deploy:green", NULL, NULL, "blue", ACTION_DEPLOY, "ci", "blue");
	expect("deploy:green", "none", NULL, NULL, ACTION_NONE, "", "");
	expect("promote", "promote", NULL, NULL, ACTION_PROMOTE, "ci", "");
}

static void expect_error(const char *job, const char *act, const char *env, const char *color,
			 const char *needle)
{
	struct action a;
	struct error err = ERROR_INIT;

	assert_int_equal(action_resolve(job, act, env, color, &a, &err), -1);
	assert_int_equal(err.cls, ERR_JOB);
	if (!strstr(err.msg, needle))
		fail_msg("\"%s\" lacks \"%s\"", err.msg, needle);
}

static void test_action__hostile_names_refused(void **state)
{
	expect_error("deploy:gr;een", NULL, NULL, NULL, "not a valid name");
	expect_error("deploy:../etc", NULL, NULL, NULL, "not a valid name");
	expect_error("deploy:Green", NULL, NULL, NULL, "not a valid name");
	expect_error("durable:setup-$(reboot)", NULL, NULL, NULL, "not a valid name");
	expect_error("deploy:green", NULL, "a-very-long-env-name-that-exceeds-32", NULL,
		     "not a valid name");
	expect_error("x", "explode", NULL, NULL, "is not an action");
	expect_error("deploy:", NULL, NULL, NULL, "needs a color");
	expect_error("x", "cleanup", NULL, NULL, "needs a color");
	/* <app>-<color> must never be a durable layer's <app>-<env>-durable */
	expect_error("cleanup:ci-durable", NULL, NULL, NULL, "names durable layers");
	expect_error("cleanup:durable", NULL, NULL, NULL, "names durable layers");
	expect_error("deploy:green", NULL, NULL, "x_durable", "names durable layers");
	expect_error("test:e2e", NULL, "ci", "ci-durable", "names durable layers");
	expect("cleanup:durable-ci", NULL, NULL, NULL, ACTION_DURABLE_CLEANUP, "ci", "");
	expect("deploy:durables", NULL, NULL, NULL, ACTION_DEPLOY, "ci", "durables");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_action__seed_job_names),
		cmocka_unit_test(test_action__ordinary_jobs_are_container_jobs),
		cmocka_unit_test(test_action__variables_win_over_the_name),
		cmocka_unit_test(test_action__hostile_names_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
