/* SPDX-License-Identifier: MIT */
#include "tests/unit/durable_test.h"

#include "common/cleanup.h"
#include "durable/env.h"

static void test_durable_env__valid_names_accepted(void **state)
{
	static const char *const ok[] = {
		"ci", "devlocal", "a", "0", "dev-local_1", "abcdefghijklmnopqrstuvwxyz012345",
	};
	struct error err = ERROR_INIT;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(ok); i++)
		assert_int_equal(durable_env_validate(ok[i], &err), 0);
}

static void test_durable_env__invalid_names_are_job_errors_naming_the_fix(void **state)
{
	static const char *const bad[] = {
		"",	"CI",  "-ci",  "_ci", "ci/x", "../ci",
		"ci.x", "c i", "ci\n", "ci$", "é",    "abcdefghijklmnopqrstuvwxyz0123456", /* 33 */
	};
	struct error err = ERROR_INIT;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		error_clear(&err);
		assert_int_equal(durable_env_validate(bad[i], &err), -1);
		assert_int_equal(err.cls, ERR_JOB);
		assert_non_null(strstr(err.msg, "'ci'"));
	}
	error_clear(&err);
	assert_int_equal(durable_env_validate(NULL, &err), -1);
	assert_int_equal(err.cls, ERR_JOB);
	assert_non_null(strstr(durable_env_validate("Prod", &err) ? err.msg : "", "'Prod'"));
}

static void test_durable_env__ensure_creates_tree_with_modes(void **state)
{
	const char *dir = *state;
	struct error err = ERROR_INIT;
	struct dt_capture cap;
	char envs[4096];

	assert_int_equal(durable_env_ensure(dir, "ci", &err), 0);
	snprintf(envs, sizeof(envs), "%s/envs", dir);
	assert_int_equal(dt_mode(envs), 0700);
	assert_int_equal(dt_mode(dt_path(dir, "ci", NULL)), 0700);
	assert_int_equal(dt_mode(dt_path(dir, "ci", "tls")), 0700);
	assert_int_equal(dt_mode(dt_path(dir, "ci", "secrets")), 0700);
	assert_int_equal(dt_mode(dt_path(dir, "ci", "router")), 0755);
	/* idempotent, and loosened modes are corrected with a warning */
	assert_int_equal(chmod(dt_path(dir, "ci", "tls"), 0755), 0);
	dt_capture_begin(&cap);
	assert_int_equal(durable_env_ensure(dir, "ci", &err), 0);
	dt_capture_end(&cap);
	assert_non_null(strstr(cap.data, "restricting it to 0700"));
	free(cap.data);
	assert_int_equal(dt_mode(dt_path(dir, "ci", "tls")), 0700);
	assert_int_equal(durable_env_exists(dir, "ci"), 1);
	assert_int_equal(durable_env_exists(dir, "devlocal"), 0);
}

static void test_durable_env__ensure_creates_missing_state_dir(void **state)
{
	struct error err = ERROR_INIT;
	char sd[4096];

	snprintf(sd, sizeof(sd), "%s/var/lib/executor", (const char *)*state);
	assert_int_equal(durable_env_ensure(sd, "ci", &err), 0);
	assert_int_equal(dt_mode(sd), 0700);
	assert_true(dt_exists(dt_path(sd, "ci", "router")));
}

static void test_durable_env__ensure_refuses_symlinked_env_dir(void **state)
{
	const char *dir = *state;
	struct error err = ERROR_INIT;
	char envs[4096];

	snprintf(envs, sizeof(envs), "%s/envs", dir);
	assert_int_equal(mkdir(envs, 0700), 0);
	assert_int_equal(symlink("/tmp", dt_path(dir, "ci", NULL)), 0);
	assert_int_equal(durable_env_ensure(dir, "ci", &err), -1);
	assert_int_equal(err.cls, ERR_IO);
	assert_non_null(strstr(err.msg, "not a directory"));
}

static void test_durable_env__path_validates_env(void **state)
{
	struct error err = ERROR_INIT;
	char *p = NULL;

	assert_int_equal(durable_env_path("/s", "ci", "state.json", &p, &err), 0);
	assert_string_equal(p, "/s/envs/ci/state.json");
	free(p);
	assert_int_equal(durable_env_path("/s", "ci", NULL, &p, &err), 0);
	assert_string_equal(p, "/s/envs/ci");
	free(p);
	assert_int_equal(durable_env_path("/s", "../etc", NULL, &p, &err), -1);
	assert_null(p);
	assert_int_equal(err.cls, ERR_JOB);
	(void)state;
}

static void test_durable_env__list_returns_sorted_valid_envs(void **state)
{
	const char *dir = *state;
	struct error err = ERROR_INIT;
	char **names = NULL;
	size_t n = 99;
	char junk[4096];

	assert_int_equal(durable_env_list(dir, &names, &n, &err), 0);
	assert_int_equal(n, 0);
	assert_null(names[0]);
	durable_env_list_free(names);

	assert_int_equal(durable_env_ensure(dir, "devlocal", &err), 0);
	assert_int_equal(durable_env_ensure(dir, "ci", &err), 0);
	snprintf(junk, sizeof(junk), "%s/envs/Not-An-Env", dir);
	assert_int_equal(mkdir(junk, 0700), 0);
	snprintf(junk, sizeof(junk), "%s/envs/file", dir);
	dt_write(junk, "x");
	assert_int_equal(durable_env_list(dir, &names, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(names[0], "ci");
	assert_string_equal(names[1], "devlocal");
	assert_null(names[2]);
	durable_env_list_free(names);
}

static void test_durable_env__sweep_removes_only_tmp_leftovers(void **state)
{
	const char *dir = *state;
	struct error err = ERROR_INIT;

	assert_int_equal(durable_env_ensure(dir, "ci", &err), 0);
	dt_write(dt_path(dir, "ci", "state.json.tmp.12345"), "{");
	dt_write(dt_path(dir, "ci", "tls/ca.pem.tmp.9"), "x");
	dt_write(dt_path(dir, "ci", "state.json"), "{}");
	dt_write(dt_path(dir, "ci", "notes.tmp.abc"), "x");
	assert_int_equal(durable_env_sweep_tmp(dir, "ci", &err), 0);
	assert_false(dt_exists(dt_path(dir, "ci", "state.json.tmp.12345")));
	assert_false(dt_exists(dt_path(dir, "ci", "tls/ca.pem.tmp.9")));
	assert_true(dt_exists(dt_path(dir, "ci", "state.json")));
	assert_true(dt_exists(dt_path(dir, "ci", "notes.tmp.abc")));
}

static void test_durable_env__rfc3339_round_trip(void **state)
{
	char s[32];
	time_t t = 0;

	(void)state;
	durable_time_rfc3339(1795748645, s, sizeof(s));
	assert_string_equal(s, "2026-11-27T03:04:05Z");
	assert_int_equal(durable_time_parse_rfc3339(s, &t), 0);
	assert_int_equal((long long)t, 1795748645LL);
	assert_int_equal(durable_time_parse_rfc3339("2026-11-27 03:04:05", &t), -1);
	assert_int_equal(durable_time_parse_rfc3339("2026-11-27T03:04:05Zjunk", &t), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_durable_env__valid_names_accepted),
		cmocka_unit_test(test_durable_env__invalid_names_are_job_errors_naming_the_fix),
		cmocka_unit_test_setup_teardown(test_durable_env__ensure_creates_tree_with_modes,
						dt_setup, dt_teardown),
		cmocka_unit_test_setup_teardown(test_durable_env__ensure_creates_missing_state_dir,
						dt_setup, dt_teardown),
		cmocka_unit_test_setup_teardown(test_durable_env__ensure_refuses_symlinked_env_dir,
						dt_setup, dt_teardown),
		cmocka_unit_test(test_durable_env__path_validates_env),
		cmocka_unit_test_setup_teardown(test_durable_env__list_returns_sorted_valid_envs,
						dt_setup, dt_teardown),
		cmocka_unit_test_setup_teardown(test_durable_env__sweep_removes_only_tmp_leftovers,
						dt_setup, dt_teardown),
		cmocka_unit_test(test_durable_env__rfc3339_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
