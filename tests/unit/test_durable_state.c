/* SPDX-License-Identifier: MIT */
#include "tests/unit/durable_test.h"

#include <dirent.h>

#include "common/cleanup.h"
#include "durable/state.h"

static json_object *load(const char *dir)
{
	struct error err = ERROR_INIT;
	json_object *st = NULL;

	assert_int_equal(durable_state_load(dir, "ci", &st, &err), 0);
	assert_non_null(st);
	return st;
}

static void save(const char *dir, json_object *st)
{
	struct error err = ERROR_INIT;

	assert_int_equal(durable_state_save(dir, "ci", st, &err), 0);
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
	json_object *st = load(*state);

	assert_null(durable_state_live(st));
	assert_null(durable_state_preview(st));
	assert_null(durable_state_color(st, "green"));
	assert_int_equal(durable_state_setup_at(st), 0);
	assert_non_null(durable_state_config_hash(st));
	assert_int_equal(json_object_object_length(durable_state_config_hash(st)), 0);
	assert_string_equal(str_at(st, "version", NULL), "1");
	json_object_put(st);
	/* loading does not create anything */
	assert_false(dt_exists(dt_path(*state, "ci", NULL)));
}

static void test_durable_state__save_load_round_trip(void **state)
{
	const char *dir = *state;
	struct error err = ERROR_INIT;
	json_object *st = load(dir), *images = json_object_new_object();
	json_object *hash = json_object_new_object();
	json_object *back, *green, *img;
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
	assert_int_equal(durable_state_set_live(st, "blue"), 0);
	assert_int_equal(durable_state_set_preview(st, "green"), 0);
	json_object_object_add(hash, "mariadb", json_object_new_string("h1"));
	assert_int_equal(durable_state_mark_setup(st, 1795748000, 0, hash, &err), 0);
	json_object_put(hash);
	save(dir, st);
	json_object_put(st);

	back = load(dir);
	assert_string_equal(durable_state_live(back), "blue");
	assert_string_equal(durable_state_preview(back), "green");
	green = durable_state_color(back, "green");
	assert_non_null(green);
	assert_string_equal(str_at(green, "commit", NULL), "3f2a9c0d1e");
	assert_string_equal(str_at(green, "ref", NULL), "main");
	assert_string_equal(str_at(green, "deployed_at", NULL), "2026-11-27T03:04:05Z");
	assert_string_equal(str_at(green, "status", NULL), "healthy");
	assert_true(json_object_object_get_ex(green, "images", &img));
	assert_string_equal(str_at(img, "api-gateway", "ref"), "echobase/api:1");
	assert_string_equal(str_at(img, "api-gateway", "digest"), "sha256:aaa");
	assert_int_equal((long long)durable_state_setup_at(back), 1795748000LL);
	assert_string_equal(str_at(durable_state_config_hash(back), "mariadb", NULL), "h1");
	json_object_put(back);
}

static void test_durable_state__save_is_atomic_and_private(void **state)
{
	const char *dir = *state;
	json_object *st = load(dir);
	struct dirent *de;
	DIR *d;
	int i;

	for (i = 0; i < 5; i++) {
		assert_int_equal(durable_state_set_live(st, i % 2 ? "blue" : "green"), 0);
		save(dir, st);
	}
	json_object_put(st);
	assert_int_equal(dt_mode(dt_path(dir, "ci", "state.json")), 0600);
	d = opendir(dt_path(dir, "ci", NULL));
	assert_non_null(d);
	while ((de = readdir(d)))
		assert_null(strstr(de->d_name, ".tmp"));
	closedir(d);
	st = load(dir);
	assert_string_equal(durable_state_live(st), "green");
	json_object_put(st);
}

static void test_durable_state__clearing_live_saves_null(void **state)
{
	const char *dir = *state;
	json_object *st = load(dir);
	char *text;

	assert_int_equal(durable_state_set_live(st, "blue"), 0);
	assert_int_equal(durable_state_set_live(st, NULL), 0);
	save(dir, st);
	json_object_put(st);
	text = dt_read(dt_path(dir, "ci", "state.json"));
	assert_non_null(strstr(text, "\"live\": null"));
	free(text);
	st = load(dir);
	assert_null(durable_state_live(st));
	json_object_put(st);
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
	json_object *st = load(dir);
	size_t i;

	save(dir, st);
	json_object_put(st);
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
	json_object *st = load(dir);

	save(dir, st);
	json_object_put(st);
	dt_write(dt_path(dir, "ci", "state.json"), "{\"version\":2,\"live\":null}");
	assert_int_equal(durable_state_load(dir, "ci", &st, &err), -1);
	assert_non_null(strstr(err.msg, "newer executor"));
}

static void test_durable_state__old_minimal_file_is_filled_in(void **state)
{
	const char *dir = *state;
	json_object *st = load(dir), *v;

	save(dir, st);
	json_object_put(st);
	dt_write(dt_path(dir, "ci", "state.json"),
		 "{\"version\":1,\"live\":\"blue\",\"x-note\":\"kept\"}");
	st = load(dir);
	assert_string_equal(durable_state_live(st), "blue");
	assert_null(durable_state_preview(st));
	assert_non_null(durable_state_config_hash(st));
	assert_true(json_object_object_get_ex(st, "colors", &v));
	save(dir, st);
	json_object_put(st);
	st = load(dir);
	assert_string_equal(str_at(st, "x-note", NULL), "kept");
	json_object_put(st);
}

static void test_durable_state__remove_color_clears_pointers(void **state)
{
	struct durable_color_record rec = {.commit = "abc"};
	struct error err = ERROR_INIT;
	json_object *st = durable_state_new();

	assert_int_equal(durable_state_set_color(st, "green", &rec, &err), 0);
	assert_int_equal(durable_state_set_color(st, "blue", &rec, &err), 0);
	assert_string_equal(str_at(durable_state_color(st, "blue"), "status", NULL), "deployed");
	durable_state_set_live(st, "blue");
	durable_state_set_preview(st, "green");
	durable_state_remove_color(st, "green");
	assert_null(durable_state_color(st, "green"));
	assert_null(durable_state_preview(st));
	assert_string_equal(durable_state_live(st), "blue");
	assert_int_equal(durable_state_set_color_status(st, "green", "x", &err), -1);
	durable_state_remove_color(st, "nothing");
	json_object_put(st);
}

static void test_durable_state__mark_setup_keeps_first_time(void **state)
{
	struct error err = ERROR_INIT;
	json_object *st = durable_state_new();
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
	assert_int_equal(json_object_object_length(durable_state_config_hash(st)), 0);
	json_object_put(st);
}

static void test_durable_state__bad_env_is_job_error(void **state)
{
	struct error err = ERROR_INIT;
	json_object *st = NULL;

	assert_int_equal(durable_state_load(*state, "a/b", &st, &err), -1);
	assert_int_equal(err.cls, ERR_JOB);
	assert_null(st);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, dt_setup, dt_teardown)
	const struct CMUnitTest tests[] = {
		T(test_durable_state__missing_file_is_empty_state),
		T(test_durable_state__save_load_round_trip),
		T(test_durable_state__save_is_atomic_and_private),
		T(test_durable_state__clearing_live_saves_null),
		T(test_durable_state__corrupt_file_is_io_error_naming_it),
		T(test_durable_state__newer_version_refused),
		T(test_durable_state__old_minimal_file_is_filled_in),
		T(test_durable_state__remove_color_clears_pointers),
		T(test_durable_state__mark_setup_keeps_first_time),
		T(test_durable_state__bad_env_is_job_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
