/* SPDX-License-Identifier: MIT */
#include "tests/unit/durable_test.h"

#include <dirent.h>

#include "common/cleanup.h"
#include "durable/state.h"

static struct env_state *load(const char *dir)
{
	struct error err = ERROR_INIT;
	struct env_state *st = NULL;

	assert_int_equal(durable_state_load(dir, "ci", &st, &err), 0);
	assert_non_null(st);
	return st;
}

static void save(const char *dir, struct env_state *st)
{
	struct error err = ERROR_INIT;

	assert_int_equal(durable_state_save(dir, "ci", st, &err), 0);
}

/* The saved file as json-c reads it (what the e2e tests and operators see). */
static json_object *file_json(const char *dir)
{
	char *text = dt_read(dt_path(dir, "ci", "state.json"));
	json_object *o;

	assert_non_null(text);
	o = json_tokener_parse(text);
	free(text);
	assert_non_null(o);
	return o;
}

static const char *str_at(json_object *o, const char *a, const char *b)
{
	json_object *v = o;

	assert_true(json_object_object_get_ex(v, a, &v));
	if (b)
		assert_true(json_object_object_get_ex(v, b, &v));
	return json_object_get_string(v);
}

static void test_durable_state__missing_file_is_empty_state(void **state)
{
	struct env_state *st = load(*state);
	struct env_color c;

	assert_null(durable_state_live(st));
	assert_null(durable_state_preview(st));
	assert_int_equal(durable_state_color(st, "green", &c), 0);
	assert_null(c.name);
	assert_int_equal(durable_state_ncolors(st), 0);
	assert_null(durable_state_router(st));
	assert_int_equal(durable_state_router_port(st, ENV_ENTRY_LIVE), 0);
	assert_int_equal(durable_state_setup_at(st), 0);
	assert_non_null(durable_state_config_hash(st));
	assert_int_equal(json_object_object_length(durable_state_config_hash(st)), 0);
	durable_state_free(st);
	/* loading does not create anything */
	assert_false(dt_exists(dt_path(*state, "ci", NULL)));
}

static void test_durable_state__save_load_round_trip(void **state)
{
	const char *dir = *state;
	struct error err = ERROR_INIT;
	struct env_state *st = load(dir), *back;
	json_object *images = json_object_new_object();
	json_object *hash = json_object_new_object();
	json_object *routes = json_tokener_parse("[{\"service\":\"api\",\"path\":\"/api/\"}]");
	json_object *nets = json_tokener_parse("[\"echobase-green_default\"]");
	json_object *file, *v;
	struct env_color green;
	const char *names[4];
	struct durable_color_record rec = {
		.commit = "3f2a9c0d1e",
		.ref = "main",
		.deployed_at = 1795748645,
		.images = images,
	};

	assert_int_equal(
		durable_state_image_set(images, "api-gateway", "echobase/api:1", "sha256:aaa"), 0);
	assert_int_equal(durable_state_set_color(st, "green", &rec, &err), 0);
	json_object_put(images);
	assert_int_equal(durable_state_set_color_status(st, "green", "healthy", &err), 0);
	assert_int_equal(
		durable_state_set_color_links(st, "green", "echobase-green", routes, nets, &err),
		0);
	json_object_put(routes);
	json_object_put(nets);
	assert_int_equal(durable_state_set_live(st, "blue"), 0);
	assert_int_equal(durable_state_set_preview(st, "green"), 0);
	assert_int_equal(durable_state_set_router(st, "echobase-ci-durable-router-1", 8443, 9443),
			 0);
	assert_int_equal(durable_state_add_tls_name(st, "router"), 0);
	assert_int_equal(durable_state_add_tls_name(st, "router"), 0);
	assert_int_equal(durable_state_add_tls_name(st, "db"), 0);
	json_object_object_add(hash, "mariadb", json_object_new_string("h1"));
	assert_int_equal(durable_state_mark_setup(st, 1795748000, 0, hash, &err), 0);
	json_object_put(hash);
	save(dir, st);
	durable_state_free(st);

	back = load(dir);
	assert_string_equal(durable_state_live(back), "blue");
	assert_string_equal(durable_state_preview(back), "green");
	assert_true(durable_state_is_live(back, "blue"));
	assert_false(durable_state_is_live(back, "green"));
	assert_false(durable_state_is_live(back, NULL));
	assert_true(durable_state_is_preview(back, "green"));
	assert_int_equal(durable_state_color(back, "green", &green), 1);
	assert_string_equal(green.name, "green");
	assert_string_equal(green.commit, "3f2a9c0d1e");
	assert_string_equal(green.ref, "main");
	assert_string_equal(green.deployed_at, "2026-11-27T03:04:05Z");
	assert_string_equal(green.status, "healthy");
	assert_string_equal(green.project, "echobase-green");
	assert_non_null(green.images);
	assert_string_equal(str_at(green.images, "api-gateway", "ref"), "echobase/api:1");
	assert_string_equal(str_at(green.images, "api-gateway", "digest"), "sha256:aaa");
	assert_int_equal(json_object_array_length(green.routes), 1);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(green.networks, 0)),
			    "echobase-green_default");
	assert_string_equal(durable_state_router(back), "echobase-ci-durable-router-1");
	assert_int_equal(durable_state_router_port(back, ENV_ENTRY_LIVE), 8443);
	assert_int_equal(durable_state_router_port(back, ENV_ENTRY_PREVIEW), 9443);
	assert_int_equal(durable_state_tls_names(back, names, 4), 2);
	assert_string_equal(names[0], "router");
	assert_string_equal(names[1], "db");
	assert_int_equal(durable_state_tls_names(back, names, 1), 1);
	assert_int_equal((long long)durable_state_setup_at(back), 1795748000LL);
	assert_string_equal(durable_state_setup_at_text(back), "2026-11-27T02:53:20Z");
	assert_string_equal(str_at(durable_state_config_hash(back), "mariadb", NULL), "h1");
	durable_state_free(back);

	/* the keys on disk, as the e2e tests and older drivers read them */
	file = file_json(dir);
	assert_string_equal(str_at(file, "live", NULL), "blue");
	assert_string_equal(str_at(file, "router", "container"), "echobase-ci-durable-router-1");
	assert_true(json_object_object_get_ex(file, "colors", &v));
	assert_true(json_object_object_get_ex(v, "green", &v));
	assert_string_equal(str_at(v, "status", NULL), "healthy");
	assert_string_equal(str_at(v, "project", NULL), "echobase-green");
	assert_true(json_object_object_get_ex(v, "routes", NULL));
	assert_true(json_object_object_get_ex(v, "networks", NULL));
	assert_string_equal(str_at(file, "durable", "setup_at"), "2026-11-27T02:53:20Z");
	json_object_put(file);
}

/* A file an earlier driver wrote loads, and saved unchanged it is the same
 * bytes: the type reads the file, it does not rewrite it. */
static void test_durable_state__existing_file_saved_byte_for_byte(void **state)
{
	static const char *const text = "{\n"
					"  \"version\": 1,\n"
					"  \"live\": \"blue\",\n"
					"  \"preview\": \"green\",\n"
					"  \"colors\": {\n"
					"    \"blue\": {\n"
					"      \"commit\": \"abc\",\n"
					"      \"ref\": \"main\",\n"
					"      \"deployed_at\": \"2026-11-27T03:04:05Z\",\n"
					"      \"images\": {\n"
					"      },\n"
					"      \"status\": \"healthy\",\n"
					"      \"routes\": [\n"
					"        {\n"
					"          \"service\": \"web\",\n"
					"          \"path\": \"/\"\n"
					"        }\n"
					"      ],\n"
					"      \"networks\": [\n"
					"        \"echobase-blue_default\"\n"
					"      ],\n"
					"      \"project\": \"echobase-blue\",\n"
					"      \"x-extra\": 7\n"
					"    }\n"
					"  },\n"
					"  \"durable\": {\n"
					"    \"setup_at\": \"2026-11-27T03:00:00Z\",\n"
					"    \"config_hash\": {\n"
					"      \"router\": \"h\"\n"
					"    }\n"
					"  },\n"
					"  \"tls_names\": [\n"
					"    \"router\"\n"
					"  ],\n"
					"  \"router\": {\n"
					"    \"container\": \"echobase-ci-durable-router-1\",\n"
					"    \"live_port\": 8443,\n"
					"    \"preview_port\": 9443\n"
					"  },\n"
					"  \"canary\": {\n"
					"    \"color\": \"green\",\n"
					"    \"weight\": 10,\n"
					"    \"steps\": \"10,50,100\",\n"
					"    \"since\": \"2026-11-27T03:05:00Z\"\n"
					"  },\n"
					"  \"x-note\": \"kept\"\n"
					"}";
	const char *dir = *state;
	struct env_state *st = load(dir);
	struct env_color c;
	char *again;
	int w = 0;

	save(dir, st); /* creates the env directory */
	durable_state_free(st);
	dt_write(dt_path(dir, "ci", "state.json"), text);
	st = load(dir);
	assert_string_equal(durable_state_canary(st, &w), "green");
	assert_int_equal(w, 10);
	assert_string_equal(durable_state_canary_since(st), "2026-11-27T03:05:00Z");
	assert_int_equal(durable_state_ncolors(st), 1);
	assert_int_equal(durable_state_color_at(st, 0, &c), 1);
	assert_string_equal(c.name, "blue");
	assert_string_equal(c.project, "echobase-blue");
	assert_int_equal(durable_state_color_at(st, 1, &c), 0);
	assert_int_equal(durable_state_router_port(st, ENV_ENTRY_PREVIEW), 9443);
	save(dir, st);
	durable_state_free(st);
	again = dt_read(dt_path(dir, "ci", "state.json"));
	assert_string_equal(again, text);
	free(again);
}

static void test_durable_state__save_is_atomic_and_private(void **state)
{
	const char *dir = *state;
	struct env_state *st = load(dir);
	struct dirent *de;
	DIR *d;
	int i;

	for (i = 0; i < 5; i++) {
		assert_int_equal(durable_state_set_live(st, i % 2 ? "blue" : "green"), 0);
		save(dir, st);
	}
	durable_state_free(st);
	assert_int_equal(dt_mode(dt_path(dir, "ci", "state.json")), 0600);
	d = opendir(dt_path(dir, "ci", NULL));
	assert_non_null(d);
	while ((de = readdir(d)))
		assert_null(strstr(de->d_name, ".tmp"));
	closedir(d);
	st = load(dir);
	assert_string_equal(durable_state_live(st), "green");
	durable_state_free(st);
}

static void test_durable_state__clearing_live_saves_null(void **state)
{
	const char *dir = *state;
	struct env_state *st = load(dir);
	char *text;

	assert_int_equal(durable_state_set_live(st, "blue"), 0);
	assert_int_equal(durable_state_set_live(st, NULL), 0);
	save(dir, st);
	durable_state_free(st);
	text = dt_read(dt_path(dir, "ci", "state.json"));
	assert_non_null(strstr(text, "\"live\": null"));
	free(text);
	st = load(dir);
	assert_null(durable_state_live(st));
	durable_state_free(st);
}

static void test_durable_state__corrupt_file_is_io_error_naming_it(void **state)
{
	static const char *const bad[] = {
		"{\"version\":1,\"live\":\"bl",
		"[1,2]",
		"{\"live\":\"blue\"}",
		"{\"version\":1,\"live\":7}",
		"{\"version\":1,\"colors\":[]}",
		"{\"version\":1,\"colors\":{\"green\":3}}",
		"{\"version\":1,\"durable\":{\"config_hash\":\"x\"}}",
	};
	const char *dir = *state;
	struct error err = ERROR_INIT;
	struct env_state *st = load(dir);
	size_t i;

	save(dir, st);
	durable_state_free(st);
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		dt_write(dt_path(dir, "ci", "state.json"), bad[i]);
		st = NULL;
		error_clear(&err);
		assert_int_equal(durable_state_load(dir, "ci", &st, &err), -1);
		assert_null(st);
		assert_int_equal(err.cls, ERR_IO);
		assert_non_null(strstr(err.msg, "state.json"));
	}
}

static void test_durable_state__newer_version_refused(void **state)
{
	const char *dir = *state;
	struct error err = ERROR_INIT;
	struct env_state *st = load(dir);

	save(dir, st);
	durable_state_free(st);
	st = NULL;
	dt_write(dt_path(dir, "ci", "state.json"), "{\"version\":2,\"live\":null}");
	assert_int_equal(durable_state_load(dir, "ci", &st, &err), -1);
	assert_null(st);
	assert_non_null(strstr(err.msg, "newer executor"));
}

static void test_durable_state__old_minimal_file_is_filled_in(void **state)
{
	const char *dir = *state;
	struct env_state *st = load(dir);
	json_object *file;

	save(dir, st);
	durable_state_free(st);
	dt_write(dt_path(dir, "ci", "state.json"),
		 "{\"version\":1,\"live\":\"blue\",\"x-note\":\"kept\"}");
	st = load(dir);
	assert_string_equal(durable_state_live(st), "blue");
	assert_null(durable_state_preview(st));
	assert_non_null(durable_state_config_hash(st));
	assert_int_equal(durable_state_ncolors(st), 0);
	save(dir, st);
	durable_state_free(st);
	file = file_json(dir);
	assert_string_equal(str_at(file, "x-note", NULL), "kept");
	assert_true(json_object_object_get_ex(file, "colors", NULL));
	json_object_put(file);
}

static void test_durable_state__remove_color_clears_pointers(void **state)
{
	struct durable_color_record rec = {.commit = "abc"};
	struct error err = ERROR_INIT;
	struct env_state *st = durable_state_new();
	struct env_color c;

	(void)state;
	assert_int_equal(durable_state_set_color(st, "green", &rec, &err), 0);
	assert_int_equal(durable_state_set_color(st, "blue", &rec, &err), 0);
	assert_int_equal(durable_state_color(st, "blue", &c), 1);
	assert_string_equal(c.status, "deployed");
	assert_null(c.routes);
	assert_null(c.project);
	durable_state_set_live(st, "blue");
	durable_state_set_preview(st, "green");
	durable_state_remove_color(st, "green");
	assert_int_equal(durable_state_color(st, "green", &c), 0);
	assert_null(durable_state_preview(st));
	assert_string_equal(durable_state_live(st), "blue");
	assert_int_equal(durable_state_set_color_status(st, "green", "x", &err), -1);
	assert_int_equal(durable_state_set_color_links(st, "green", "p", NULL, NULL, &err), -1);
	durable_state_remove_color(st, "nothing");
	durable_state_free(st);
}

static void test_durable_state__router_forgotten(void **state)
{
	struct env_state *st = durable_state_new();

	(void)state;
	assert_int_equal(durable_state_set_router(st, "r-1", 1, 2), 0);
	assert_string_equal(durable_state_router(st), "r-1");
	assert_int_equal(durable_state_set_router(st, NULL, 0, 0), 0);
	assert_null(durable_state_router(st));
	assert_int_equal(durable_state_router_port(st, ENV_ENTRY_LIVE), 0);
	durable_state_free(st);
}

static void test_durable_state__mark_setup_keeps_first_time(void **state)
{
	struct error err = ERROR_INIT;
	struct env_state *st = durable_state_new();
	json_object *h1 = json_object_new_object();

	(void)state;
	assert_int_equal(durable_state_mark_setup(st, 1000, 0, NULL, &err), 0);
	assert_int_equal(durable_state_mark_setup(st, 2000, 0, h1, &err), 0);
	assert_int_equal((long long)durable_state_setup_at(st), 1000LL);
	assert_ptr_equal(durable_state_config_hash(st), h1);
	/* the same object again is harmless */
	assert_int_equal(durable_state_mark_setup(st, 0, 0, h1, &err), 0);
	assert_int_equal(durable_state_mark_setup(st, 3000, 1, NULL, &err), 0);
	assert_int_equal((long long)durable_state_setup_at(st), 3000LL);
	assert_ptr_equal(durable_state_config_hash(st), h1);
	json_object_put(h1);
	durable_state_clear_setup(st);
	assert_int_equal(durable_state_setup_at(st), 0);
	assert_null(durable_state_setup_at_text(st));
	assert_int_equal(json_object_object_length(durable_state_config_hash(st)), 0);
	durable_state_free(st);
}

static void test_durable_state__bad_env_is_job_error(void **state)
{
	struct error err = ERROR_INIT;
	struct env_state *st = NULL;

	assert_int_equal(durable_state_load(*state, "a/b", &st, &err), -1);
	assert_int_equal(err.cls, ERR_JOB);
	assert_null(st);
}

static void test_durable_state__cleanup_frees(void **state)
{
	_cleanup_env_state_ struct env_state *st = durable_state_new();
	_cleanup_json_ json_object *o = json_object_new_object();

	(void)state;
	assert_non_null(st);
	assert_non_null(o);
	durable_state_free(NULL);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, dt_setup, dt_teardown)
	const struct CMUnitTest tests[] = {
		T(test_durable_state__missing_file_is_empty_state),
		T(test_durable_state__save_load_round_trip),
		T(test_durable_state__existing_file_saved_byte_for_byte),
		T(test_durable_state__save_is_atomic_and_private),
		T(test_durable_state__clearing_live_saves_null),
		T(test_durable_state__corrupt_file_is_io_error_naming_it),
		T(test_durable_state__newer_version_refused),
		T(test_durable_state__old_minimal_file_is_filled_in),
		T(test_durable_state__remove_color_clears_pointers),
		T(test_durable_state__router_forgotten),
		T(test_durable_state__mark_setup_keeps_first_time),
		T(test_durable_state__bad_env_is_job_error),
		T(test_durable_state__cleanup_frees),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
