/* SPDX-License-Identifier: MIT */
#include "tests/unit/durable_test.h"

#include "common/cleanup.h"
#include "durable/env.h"
#include "durable/secrets.h"

static const char *const secret_names[] = {"DB_ROOT_PASSWORD", "DB_PASSWORD",
					   "ROUTER_AUTH_PASSWORD"};

/* The example's declaration, as a durable stack file carries it. */
static const char example_yml[] = "x-executor:\n"
				  "  generate:\n"
				  "    DB_ROOT_PASSWORD: {}\n"
				  "    DB_PASSWORD:\n"
				  "    DB_USER: {value: app}\n"
				  "    DB_NAME: {value: echobase}\n"
				  "    ROUTER_AUTH_PASSWORD: {length: 32}\n"
				  "services: {}\n";

static struct durable_secret_decls example_decls;

static const struct durable_secret_decls *example(void)
{
	struct error err = ERROR_INIT;

	durable_secret_decls_release(&example_decls);
	assert_int_equal(durable_secrets_parse_decls("d.yml", example_yml, strlen(example_yml),
						     &example_decls, &err),
			 0);
	assert_int_equal(example_decls.n, 5);
	return &example_decls;
}

static void assert_well_formed(const char *v)
{
	size_t i;

	assert_non_null(v);
	assert_int_equal(strlen(v), DURABLE_SECRET_LEN);
	for (i = 0; v[i]; i++)
		assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				       "0123456789",
				       v[i]));
}

static void test_durable_secrets__generated_once_then_reused(void **state)
{
	const char *dir = *state;
	struct durable_secrets a = {0}, b = {0};
	struct error err = ERROR_INIT;
	size_t i;

	assert_int_equal(durable_secrets_ensure(dir, "ci", example(), &a, &err), 0);
	assert_int_equal(a.n, 5);
	assert_true(dt_exists(dt_path(dir, "ci", "secrets.json")));
	assert_int_equal(durable_secrets_ensure(dir, "ci", example(), &b, &err), 0);
	assert_int_equal(b.generated, 0);
	assert_int_equal(a.n, b.n);
	for (i = 0; i < a.n; i++) {
		assert_string_equal(a.items[i].name, b.items[i].name);
		assert_string_equal(a.items[i].value, b.items[i].value);
	}
	durable_secrets_release(&a);
	durable_secrets_release(&b);
	assert_null(a.items);
}

static void test_durable_secrets__values_match_charset_and_length(void **state)
{
	struct durable_secrets s = {0};
	struct error err = ERROR_INIT;
	size_t i;

	assert_int_equal(durable_secrets_ensure(*state, "ci", example(), &s, &err), 0);
	for (i = 0; i < ARRAY_SIZE(secret_names); i++)
		assert_well_formed(durable_secrets_get(&s, secret_names[i]));
	assert_string_not_equal(durable_secrets_get(&s, "DB_ROOT_PASSWORD"),
				durable_secrets_get(&s, "DB_PASSWORD"));
	assert_string_equal(durable_secrets_get(&s, "DB_USER"), "app");
	assert_string_equal(durable_secrets_get(&s, "DB_NAME"), "echobase");
	assert_null(durable_secrets_get(&s, "NOPE"));
	for (i = 0; i < s.n; i++)
		assert_int_equal(s.items[i].secret,
				 strcmp(s.items[i].name, "DB_USER") &&
					 strcmp(s.items[i].name, "DB_NAME") &&
					 strcmp(s.items[i].name, "ROUTER_AUTH_USER"));
	durable_secrets_release(&s);
}

static void test_durable_secrets__files_are_private(void **state)
{
	const char *dir = *state;
	struct durable_secrets s = {0};
	struct error err = ERROR_INIT;

	assert_int_equal(durable_secrets_ensure(dir, "ci", example(), &s, &err), 0);
	assert_int_equal(dt_mode(dt_path(dir, "ci", NULL)), 0700);
	assert_int_equal(dt_mode(dt_path(dir, "ci", "secrets.json")), 0600);
	/* no temp file left beside it */
	assert_int_equal(durable_secrets_write_files(dir, "ci", &s, (uid_t)-1, (gid_t)-1, &err), 0);
	assert_int_equal(dt_mode(dt_path(dir, "ci", "secrets")), 0700);
	assert_int_equal(dt_mode(dt_path(dir, "ci", "secrets/DB_PASSWORD")), 0600);
	durable_secrets_release(&s);
}

static void test_durable_secrets__two_envs_differ(void **state)
{
	struct durable_secrets a = {0}, b = {0};
	struct error err = ERROR_INIT;
	size_t i;

	assert_int_equal(durable_secrets_ensure(*state, "ci", example(), &a, &err), 0);
	assert_int_equal(durable_secrets_ensure(*state, "devlocal", example(), &b, &err), 0);
	for (i = 0; i < ARRAY_SIZE(secret_names); i++)
		assert_string_not_equal(durable_secrets_get(&a, secret_names[i]),
					durable_secrets_get(&b, secret_names[i]));
	durable_secrets_release(&a);
	durable_secrets_release(&b);
}

static int parse(const char *yml, struct durable_secret_decls *d, struct error *err)
{
	return durable_secrets_parse_decls("durable/docker-compose.yml", yml, strlen(yml), d, err);
}

static void test_durable_secrets__declared_names_generated_and_kept(void **state)
{
	const char yml[] = "x-executor:\n  generate:\n    GRAFANA_ADMIN_PASSWORD: {length: 48}\n";
	struct durable_secret_decls d = {0};
	struct durable_secrets a = {0}, b = {0};
	struct error err = ERROR_INIT;
	char *g;

	assert_int_equal(parse(yml, &d, &err), 0);
	assert_int_equal(d.n, 1);
	assert_int_equal(d.items[0].line, 3);
	assert_int_equal(durable_secrets_ensure(*state, "ci", &d, &a, &err), 0);
	assert_int_equal(a.n, 1);
	assert_true(a.items[0].secret);
	g = strdup(durable_secrets_get(&a, "GRAFANA_ADMIN_PASSWORD"));
	assert_int_equal(strlen(g), 48);
	/* only what the stack declares: none of the old fixed names */
	assert_null(durable_secrets_get(&a, "DB_PASSWORD"));
	assert_null(durable_secrets_get(&a, "ROUTER_AUTH_PASSWORD"));
	/* a later run that does not declare it still gets it back, unchanged */
	assert_int_equal(durable_secrets_ensure(*state, "ci", NULL, &b, &err), 0);
	assert_int_equal(b.generated, 0);
	assert_string_equal(durable_secrets_get(&b, "GRAFANA_ADMIN_PASSWORD"), g);
	free(g);
	durable_secret_decls_release(&d);
	durable_secrets_release(&a);
	durable_secrets_release(&b);
	log_clear_secrets();
}

static void test_durable_secrets__wrong_declarations_name_file_line_key(void **state)
{
	static const struct {
		const char *yml, *want;
	} cases[] = {
		{"x-executor:\n  generate:\n    db-password: {}\n",
		 "durable/docker-compose.yml:3: x-executor.generate.db-password: not a variable "
		 "name"},
		{"x-executor:\n  generate:\n    EXECUTOR_APP: {}\n",
		 ":3: x-executor.generate.EXECUTOR_APP: EXECUTOR_ names are the driver's own"},
		{"x-executor:\n  generate:\n    A:\n      length: 8\n",
		 ":4: x-executor.generate.A.length: expected a whole number from 16 to 256"},
		{"x-executor:\n  generate:\n    A: {lenght: 20}\n",
		 ":3: x-executor.generate.A.lenght: unknown key (known: length, value)"},
		{"x-executor:\n  generate:\n    A: [1]\n",
		 ":3: x-executor.generate.A: expected a mapping"},
		{"x-executor:\n  generate: [A]\n", ":2: x-executor.generate: expected a mapping"},
		{"x-executor:\n  secrets: {}\n",
		 ":2: x-executor.secrets: unknown key (known: generate)"},
		{"x-executor: 3\n", ":1: x-executor: expected a mapping"},
		{"x-executor:\n  generate:\n    A: {value: ''}\n",
		 ":3: x-executor.generate.A.value: expected a non-empty string"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		struct durable_secret_decls d = {0};
		struct error err = ERROR_INIT;

		assert_int_equal(parse(cases[i].yml, &d, &err), -1);
		assert_int_equal(err.cls, ERR_COMPOSE);
		if (!strstr(err.msg, cases[i].want))
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err.msg, cases[i].want);
		assert_int_equal(d.n, 0);
	}
}

static void test_durable_secrets__no_declaration_generates_nothing(void **state)
{
	static const char *const ymls[] = {"", "services: {}\n", "x-executor:\n",
					   "x-executor: {generate: }\n", "[not: a stack\n"};
	struct durable_secrets s = {0};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(ymls); i++) {
		struct durable_secret_decls d = {0};
		struct error err = ERROR_INIT;

		assert_int_equal(parse(ymls[i], &d, &err), 0);
		assert_int_equal(d.n, 0);
		assert_int_equal(durable_secrets_ensure(*state, "ci", &d, &s, &err), 0);
		assert_int_equal(s.n, 0);
		durable_secrets_release(&s);
	}
	/* nothing to keep: no file */
	assert_false(dt_exists(dt_path(*state, "ci", "secrets.json")));
}

static bool given_by_job(const char *name, void *payload)
{
	(void)payload;
	return !strcmp(name, "DB_ROOT_PASSWORD");
}

static void test_durable_secrets__added_in_memory_until_saved(void **state)
{
	struct durable_secrets s = {0}, again = {0};
	struct error err = ERROR_INIT;
	char *text;

	assert_int_equal(durable_secrets_load(*state, "ci", &s, &err), 0);
	assert_int_equal(s.n, 0);
	assert_int_equal(durable_secrets_add(&s, example(), given_by_job, NULL, &err), 0);
	/* the job's own variable is not generated */
	assert_null(durable_secrets_get(&s, "DB_ROOT_PASSWORD"));
	assert_int_equal(s.generated, 4);
	assert_false(dt_exists(dt_path(*state, "ci", "secrets.json")));
	assert_int_equal(durable_secrets_save(*state, "ci", &s, &err), 0);
	assert_int_equal(s.generated, 0);
	assert_int_equal(dt_mode(dt_path(*state, "ci", "secrets.json")), 0600);
	text = dt_read(dt_path(*state, "ci", "secrets.json"));
	assert_non_null(strstr(text, "\"plain\""));
	free(text);
	/* {value: ...} entries come back plain (not masked), the rest secret */
	assert_int_equal(durable_secrets_load(*state, "ci", &again, &err), 0);
	assert_int_equal(again.n, 4);
	for (size_t i = 0; i < again.n; i++)
		assert_int_equal(again.items[i].secret,
				 strcmp(again.items[i].name, "DB_USER") &&
					 strcmp(again.items[i].name, "DB_NAME"));
	assert_string_equal(durable_secrets_get(&again, "DB_NAME"), "echobase");
	durable_secrets_release(&s);
	durable_secrets_release(&again);
	log_clear_secrets();
}

static void test_durable_secrets__legacy_file_keeps_plain_settings(void **state)
{
	struct durable_secrets s = {0};
	struct error err = ERROR_INIT;

	assert_int_equal(durable_env_ensure(*state, "ci", &err), 0);
	dt_write(dt_path(*state, "ci", "secrets.json"),
		 "{\"version\":1,\"secrets\":{\"DB_USER\":\"app\",\"DB_PASSWORD\":\"x1\"}}");
	chmod(dt_path(*state, "ci", "secrets.json"), 0600);
	assert_int_equal(durable_secrets_load(*state, "ci", &s, &err), 0);
	assert_int_equal(s.n, 2);
	assert_false(s.items[0].secret || !s.items[1].secret);
	durable_secrets_release(&s);
	log_clear_secrets();
}

static void test_durable_secrets__bad_env_name_is_job_error(void **state)
{
	struct durable_secrets s = {0};
	struct error err = ERROR_INIT;

	assert_int_equal(durable_secrets_ensure(*state, "../ci", example(), &s, &err), -1);
	assert_int_equal(err.cls, ERR_JOB);
}

static void test_durable_secrets__values_never_printed(void **state)
{
	struct durable_secrets s = {0};
	struct error err = ERROR_INIT;
	struct dt_capture cap;
	size_t i;

	log_clear_secrets();
	dt_capture_begin(&cap);
	assert_int_equal(durable_secrets_ensure(*state, "ci", example(), &s, &err), 0);
	/* even code that prints a value by mistake only shows [MASKED] */
	log_info("password is %s", durable_secrets_get(&s, "DB_PASSWORD"));
	log_raw(durable_secrets_get(&s, "DB_ROOT_PASSWORD"));
	dt_capture_end(&cap);
	assert_non_null(strstr(cap.data, "generated 5 new values"));
	assert_non_null(strstr(cap.data, "password is [MASKED]"));
	for (i = 0; i < ARRAY_SIZE(secret_names); i++)
		assert_null(strstr(cap.data, durable_secrets_get(&s, secret_names[i])));
	free(cap.data);
	durable_secrets_release(&s);
	log_clear_secrets();

	/* loaded (not generated) secrets are registered too */
	dt_capture_begin(&cap);
	assert_int_equal(durable_secrets_ensure(*state, "ci", example(), &s, &err), 0);
	log_info("%s", durable_secrets_get(&s, "ROUTER_AUTH_PASSWORD"));
	dt_capture_end(&cap);
	assert_null(strstr(cap.data, durable_secrets_get(&s, "ROUTER_AUTH_PASSWORD")));
	assert_non_null(strstr(cap.data, "[MASKED]"));
	free(cap.data);
	durable_secrets_release(&s);
	log_clear_secrets();
}

static void test_durable_secrets__corrupt_file_reported_not_overwritten(void **state)
{
	const char *dir = *state;
	struct durable_secrets s = {0};
	struct error err = ERROR_INIT;
	char *after;

	assert_int_equal(durable_secrets_ensure(dir, "ci", example(), &s, &err), 0);
	durable_secrets_release(&s);
	dt_write(dt_path(dir, "ci", "secrets.json"), "{\"version\":1,\"secrets\":{\"DB_PASS");
	assert_int_equal(durable_secrets_ensure(dir, "ci", example(), &s, &err), -1);
	assert_int_equal(err.cls, ERR_IO);
	assert_non_null(strstr(err.msg, "secrets.json"));
	assert_non_null(strstr(err.msg, "remove it"));
	after = dt_read(dt_path(dir, "ci", "secrets.json"));
	assert_string_equal(after, "{\"version\":1,\"secrets\":{\"DB_PASS");
	free(after);

	dt_write(dt_path(dir, "ci", "secrets.json"), "{\"version\":1,\"secrets\":{\"X\":7}}");
	assert_int_equal(durable_secrets_ensure(dir, "ci", example(), &s, &err), -1);
	assert_int_equal(err.cls, ERR_IO);
	dt_write(dt_path(dir, "ci", "secrets.json"), "{\"version\":9,\"secrets\":{}}");
	assert_int_equal(durable_secrets_ensure(dir, "ci", example(), &s, &err), -1);
	assert_non_null(strstr(err.msg, "newer executor"));
}

static void test_durable_secrets__readable_file_is_tightened(void **state)
{
	const char *dir = *state;
	struct durable_secrets s = {0};
	struct error err = ERROR_INIT;
	struct dt_capture cap;

	assert_int_equal(durable_secrets_ensure(dir, "ci", example(), &s, &err), 0);
	durable_secrets_release(&s);
	assert_int_equal(chmod(dt_path(dir, "ci", "secrets.json"), 0644), 0);
	dt_capture_begin(&cap);
	assert_int_equal(durable_secrets_ensure(dir, "ci", example(), &s, &err), 0);
	dt_capture_end(&cap);
	assert_non_null(strstr(cap.data, "readable by other users"));
	free(cap.data);
	assert_int_equal(dt_mode(dt_path(dir, "ci", "secrets.json")), 0600);
	durable_secrets_release(&s);
	log_clear_secrets();
}

static void test_durable_secrets__hand_written_values_are_kept(void **state)
{
	const char *dir = *state;
	struct durable_secrets s = {0};
	struct error err = ERROR_INIT;
	char *text;

	assert_int_equal(durable_env_ensure(dir, "ci", &err), 0);
	dt_write(dt_path(dir, "ci", "secrets.json"),
		 "{\"version\":1,\"secrets\":{\"DB_PASSWORD\":\"chosen-by-admin\"}}");
	chmod(dt_path(dir, "ci", "secrets.json"), 0600);
	assert_int_equal(durable_secrets_ensure(dir, "ci", example(), &s, &err), 0);
	assert_string_equal(durable_secrets_get(&s, "DB_PASSWORD"), "chosen-by-admin");
	assert_int_equal(s.n, 5);
	durable_secrets_release(&s);
	text = dt_read(dt_path(dir, "ci", "secrets.json"));
	assert_non_null(strstr(text, "chosen-by-admin"));
	assert_non_null(strstr(text, "DB_ROOT_PASSWORD"));
	free(text);
	log_clear_secrets();
}

static void test_durable_secrets__files_hold_exact_values(void **state)
{
	const char *dir = *state;
	struct durable_secrets s = {0};
	struct error err = ERROR_INIT;
	struct stat st1, st2;
	size_t i;

	assert_int_equal(durable_secrets_ensure(dir, "ci", example(), &s, &err), 0);
	assert_int_equal(durable_secrets_write_files(dir, "ci", &s, getuid(), getgid(), &err), 0);
	for (i = 0; i < s.n; i++) {
		char leaf[128];
		char *v;

		snprintf(leaf, sizeof(leaf), "secrets/%s", s.items[i].name);
		v = dt_read(dt_path(dir, "ci", leaf));
		assert_non_null(v);
		assert_string_equal(v, s.items[i].value);
		free(v);
		assert_int_equal(dt_mode(dt_path(dir, "ci", leaf)), 0600);
	}
	/* unchanged content is not rewritten */
	assert_int_equal(lstat(dt_path(dir, "ci", "secrets/DB_PASSWORD"), &st1), 0);
	assert_int_equal(durable_secrets_write_files(dir, "ci", &s, (uid_t)-1, (gid_t)-1, &err), 0);
	assert_int_equal(lstat(dt_path(dir, "ci", "secrets/DB_PASSWORD"), &st2), 0);
	assert_int_equal(st1.st_ino, st2.st_ino);
	durable_secrets_release(&s);

	assert_int_equal(durable_secrets_remove(dir, "ci", &err), 0);
	assert_false(dt_exists(dt_path(dir, "ci", "secrets.json")));
	assert_false(dt_exists(dt_path(dir, "ci", "secrets")));
	log_clear_secrets();
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, dt_setup, dt_teardown)
	const struct CMUnitTest tests[] = {
		T(test_durable_secrets__generated_once_then_reused),
		T(test_durable_secrets__values_match_charset_and_length),
		T(test_durable_secrets__files_are_private),
		T(test_durable_secrets__two_envs_differ),
		T(test_durable_secrets__declared_names_generated_and_kept),
		T(test_durable_secrets__wrong_declarations_name_file_line_key),
		T(test_durable_secrets__no_declaration_generates_nothing),
		T(test_durable_secrets__added_in_memory_until_saved),
		T(test_durable_secrets__legacy_file_keeps_plain_settings),
		T(test_durable_secrets__bad_env_name_is_job_error),
		T(test_durable_secrets__values_never_printed),
		T(test_durable_secrets__corrupt_file_reported_not_overwritten),
		T(test_durable_secrets__readable_file_is_tightened),
		T(test_durable_secrets__hand_written_values_are_kept),
		T(test_durable_secrets__files_hold_exact_values),
	};

	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	durable_secret_decls_release(&example_decls);
	return rc;
}
