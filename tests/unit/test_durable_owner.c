/* SPDX-License-Identifier: MIT */
#include "tests/unit/durable_test.h"

#include <fcntl.h>

#include "common/cleanup.h"
#include "durable/owner.h"

static void test_owner__first_claim_wins_and_is_kept(void **state)
{
	const char *dir = *state;
	struct durable_owner o;
	struct error err = ERROR_INIT;
	_cleanup_free_ char *app = NULL, *path = NULL;
	struct stat st;

	assert_true(asprintf(&app, "%s/apps/echobase", dir) > 0);
	assert_int_equal(durable_owner_read(app, &o, &err), 0);
	assert_int_equal(o.project_id, 0);

	assert_int_equal(durable_owner_claim(app, 42, "group/echobase", "7", &o, &err), 0);
	assert_int_equal(o.project_id, 42);
	assert_string_equal(o.project, "group/echobase");

	/* a second project finds the first one's claim, unchanged */
	assert_int_equal(durable_owner_claim(app, 99, "other/echobase", "8", &o, &err), 0);
	assert_int_equal(o.project_id, 42);
	assert_string_equal(o.project, "group/echobase");

	assert_true(asprintf(&path, "%s/%s", app, DURABLE_OWNER_FILE) > 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
}

static void test_owner__corrupt_or_linked_record_is_an_error(void **state)
{
	const char *dir = *state;
	struct durable_owner o;
	struct error err = ERROR_INIT;
	_cleanup_free_ char *app = NULL, *path = NULL;

	assert_true(asprintf(&app, "%s/apps/shop", dir) > 0);
	assert_int_equal(fs_mkdir_p(app, 0700, &err), 0);
	assert_true(asprintf(&path, "%s/%s", app, DURABLE_OWNER_FILE) > 0);
	assert_int_equal(fs_write_atomic(path, "{\"project\":\"x\"}", 15, 0600, &err), 0);
	assert_int_equal(durable_owner_read(app, &o, &err), -1);
	assert_int_equal(err.cls, ERR_IO);
	assert_non_null(strstr(err.msg, "not an owner record"));
	/* a claim does not overwrite what it cannot read */
	assert_int_equal(durable_owner_claim(app, 1, "a/shop", "1", &o, &err), -1);

	/* a symlink in the record's place is not followed */
	unlink(path);
	assert_int_equal(symlink("/etc/hostname", path), 0);
	assert_int_equal(durable_owner_read(app, &o, &err), -1);
}

static void test_owner__claim_needs_a_project(void **state)
{
	const char *dir = *state;
	struct durable_owner o;
	struct error err = ERROR_INIT;
	_cleanup_free_ char *app = NULL;

	assert_true(asprintf(&app, "%s/apps/x", dir) > 0);
	assert_int_equal(durable_owner_claim(app, 0, NULL, NULL, &o, &err), -1);
	assert_int_equal(err.cls, ERR_SYSTEM);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_owner__first_claim_wins_and_is_kept, dt_setup,
						dt_teardown),
		cmocka_unit_test_setup_teardown(test_owner__corrupt_or_linked_record_is_an_error,
						dt_setup, dt_teardown),
		cmocka_unit_test_setup_teardown(test_owner__claim_needs_a_project, dt_setup,
						dt_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
