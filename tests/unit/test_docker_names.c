/* SPDX-License-Identifier: MIT */
/*
 * Every engine object name is validated before it reaches a URL: Docker's
 * name rule for containers, networks, volumes and exec ids, Docker's
 * reference grammar for images, and the request function's own check of
 * every path.  A refused name makes no request at all (the client here
 * points at a socket that does not exist and counts its requests).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/cleanup.h"
#include "docker/docker.h"
#include "docker/internal.h"

#define D64 "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"

static const struct {
	const char *name;
	int valid;
} names[] = {
	{"echobase-green-api-1", 1},
	{"echobase_ci_db-data", 1},
	{"Front.Net_2", 1},
	{"a", 1},
	{D64, 1},
	{"executor-glrt-e2etest-slot-3", 1},
	{"", 0},
	{"..", 0},
	{".", 0},
	{".hidden", 0},
	{"-dash", 0},
	{"_under", 0},
	{"../containers/x", 0},
	{"a/b", 0},
	{"a b", 0},
	{"a%2f..", 0},
	{"a?x=1", 0},
	{"a#x", 0},
	{"a:b", 0},
	{"a@b", 0},
	{"caf\xc3\xa9", 0},
	{"a\nb", 0},
};

static const struct {
	const char *ref;
	int valid;
} refs[] = {
	{"debian", 1},
	{"debian:12", 1},
	{"executor-test/bash:latest", 1},
	{"echobase/mariadb:local", 1},
	{"registry.example.com/ci/x:1", 1},
	{"registry.example.com:5000/ci/a/b/c", 1},
	{"localhost:5000/app@sha256:" D64, 1},
	{"debian:12@sha256:" D64, 1},
	{"[::1]:5000/app", 1},
	{"sha256:" D64, 1}, /* an image id */
	{D64, 1},
	{"a__b/c.d-e---f", 1},
	{"Registry.Example.com/x", 1}, /* upper case is allowed in the registry */
	{"", 0},
	{"../containers/x", 0},
	{"x/../../containers/y", 0},
	{"x/./y", 0},
	{"debian/..", 0},
	{"Debian", 0},
	{"executor-test/Bash", 0},
	{"a//b", 0},
	{"/abs", 0},
	{"trailing/", 0},
	{"a___b", 0},
	{"a b", 0},
	{"a%2fb", 0},
	{"debian:", 0},
	{"debian:.x", 0},
	{"debian:-x", 0},
	{"debian@", 0},
	{"debian@sha256:abc", 0},
	{"debian@sha256:" D64 "/json", 0},
	{"debian:12?x=1", 0},
	{"registry.example.com:/x", 0},
	{"registry.example.com:port/x", 0},
	{"-registry.example.com/x", 0},
};

static void test_docker_names__dockers_name_rule(void **state)
{
	char longest[DOCKER_NAME_MAX + 2];
	size_t i;
	int failed = 0;

	for (i = 0; i < ARRAY_SIZE(names); i++)
		if (docker_name_valid(names[i].name) != names[i].valid) {
			print_error("name \"%s\": expected %s\n", names[i].name,
				    names[i].valid ? "valid" : "invalid");
			failed++;
		}
	assert_int_equal(failed, 0);
	memset(longest, 'a', sizeof(longest) - 1);
	longest[DOCKER_NAME_MAX] = '\0';
	assert_true(docker_name_valid(longest));
	longest[DOCKER_NAME_MAX] = 'a';
	longest[DOCKER_NAME_MAX + 1] = '\0';
	assert_false(docker_name_valid(longest));
	assert_false(docker_name_valid(NULL));
}

static void test_docker_names__image_reference_grammar(void **state)
{
	size_t i;
	int failed = 0;

	for (i = 0; i < ARRAY_SIZE(refs); i++)
		if (docker_image_ref_valid(refs[i].ref) != refs[i].valid) {
			print_error("reference \"%s\": expected %s\n", refs[i].ref,
				    refs[i].valid ? "valid" : "invalid");
			failed++;
		}
	assert_int_equal(failed, 0);
}

static void test_docker_names__paths_are_built_only_from_valid_names(void **state)
{
	struct buf path = BUF_INIT;
	struct error err = ERROR_INIT;

	assert_int_equal(docker_build_path(&path, "/volumes", "../containers/x", NULL, &err), -1);
	assert_int_equal(err.cls, ERR_JOB);
	assert_string_equal(err.msg, "invalid volume name \"../containers/x\": Docker names are "
				     "[a-zA-Z0-9][a-zA-Z0-9_.-]* (at most 255 characters)");
	assert_int_equal(path.len, 0);
	assert_int_equal(docker_build_path(&path, "/networks", "../networks/y", NULL, &err), -1);
	assert_string_equal(err.msg, "invalid network name \"../networks/y\": Docker names are "
				     "[a-zA-Z0-9][a-zA-Z0-9_.-]* (at most 255 characters)");
	assert_int_equal(
		docker_build_path(&path, "/containers", "x/../../volumes/v", "/json", &err), -1);
	assert_non_null(strstr(err.msg, "invalid container name"));
	assert_int_equal(docker_build_path(&path, "/exec", "..", "/start", &err), -1);
	assert_non_null(strstr(err.msg, "invalid exec instance name \"..\""));
	assert_int_equal(docker_build_path(&path, "/images", "x/../../containers/y", "/json", &err),
			 -1);
	assert_int_equal(err.cls, ERR_JOB);
	assert_string_equal(err.msg,
			    "invalid image reference \"x/../../containers/y\": use "
			    "[registry/]name[:tag][@digest] (lower-case name components, as "
			    "docker requires)");

	/* image references keep their '/', ':' and '@' (the engine's route is
	 * /images/{name:.*}/json) */
	assert_int_equal(docker_build_path(&path, "/images",
					   "registry.example.com:5000/ci/x:1@sha256:" D64, "/json",
					   &err),
			 0);
	assert_string_equal(buf_str(&path),
			    "/images/registry.example.com:5000/ci/x:1@sha256:" D64 "/json");
	buf_reset(&path);
	assert_int_equal(
		docker_build_path(&path, "/volumes", "echobase_ci_db-data", "?force=1", &err), 0);
	assert_string_equal(buf_str(&path), "/volumes/echobase_ci_db-data?force=1");
	buf_reset(&path);
	assert_int_equal(docker_build_path(&path, "/images", "[::1]:5000/app", "/json", &err), 0);
	assert_string_equal(buf_str(&path), "/images/%5B::1%5D:5000/app/json");
	assert_true(docker_path_safe(buf_str(&path)));
	buf_release(&path);
}

static void test_docker_names__the_request_function_refuses_unsafe_paths(void **state)
{
	static const struct {
		const char *path;
		int safe;
	} paths[] = {
		{"/containers/json?all=1&filters=%7B%22label%22%3A%5B%5D%7D", 1},
		{"/images/registry.example.com:5000/ci/x:1/json", 1},
		{"/events?since=1.000000000&until=2.000000000", 1},
		{"/volumes/a..b", 1},
		{"/_ping", 1},
		{"/images/%5B::1%5D:5000/app/json", 1},
		{"/volumes/../containers/x", 0},
		{"/volumes/./x", 0},
		{"/volumes/..", 0},
		{"/volumes/x/..?force=1", 0},
		{"/volumes/%2e%2e/containers/x", 0},
		{"/volumes/a%2Fb", 0},
		{"/volumes/a%2fb", 0},
		{"/volumes/a%5cb", 0},
		{"/volumes/a%00b", 0},
		{"/volumes/a%2", 0},
		{"/volumes/a%zz", 0},
		{"/volumes/%252e%252e", 0},
		{"/volumes/a b", 0},
		{"/volumes/a\\b", 0},
		{"/volumes/x?force=1 HTTP/1.1\r\nHost: x", 0},
		{"/volumes/x#frag", 0},
		{"volumes/x", 0},
	};
	size_t i;
	int failed = 0;

	for (i = 0; i < ARRAY_SIZE(paths); i++)
		if (docker_path_safe(paths[i].path) != paths[i].safe) {
			print_error("path \"%s\": expected %s\n", paths[i].path,
				    paths[i].safe ? "safe" : "unsafe");
			failed++;
		}
	assert_int_equal(failed, 0);
}

/* Refused before any request: not even the version ping. */
static void test_docker_names__refused_names_make_no_request(void **state)
{
	struct error err = ERROR_INIT;
	struct docker_client *c = docker_client_new("unix:///nonexistent/executor-test.sock", &err);
	struct docker_request req = {.method = "GET", .path = "/volumes/../containers/x"};
	struct docker_response resp;
	json_object *out = NULL;
	char *id = NULL;

	assert_non_null(c);
	assert_int_equal(docker_volume_inspect(c, "../containers/x", &out, &err), -1);
	assert_int_equal(err.cls, ERR_JOB);
	assert_int_equal(docker_volume_remove(c, "../containers/x", 1, &err), -1);
	assert_int_equal(docker_volume_create(c, "../containers/x", NULL, &err), -1);
	assert_int_equal(err.cls, ERR_JOB);
	assert_int_equal(docker_network_inspect(c, "../networks/y", &out, &err), -1);
	assert_int_equal(docker_network_remove(c, "../networks/y", &err), -1);
	assert_int_equal(docker_network_create(c, "../networks/y", NULL, 0, &id, &err), -1);
	assert_int_equal(err.cls, ERR_JOB);
	assert_int_equal(docker_network_connect(c, "net", "../containers/x", NULL, &err), -1);
	assert_int_equal(docker_container_create(c, "../x", NULL, &id, &err), -1);
	assert_int_equal(docker_container_remove(c, "a/../b", 1, 0, &err), -1);
	assert_int_equal(docker_exec_inspect(c, "../../containers/x", NULL, NULL, &err), -1);
	assert_int_equal(docker_archive_put(c, "../x", "/tmp", "", 0, &err), -1);
	assert_int_equal(docker_image_inspect(c, "../containers/x", &out, &err), -1);
	assert_int_equal(err.cls, ERR_JOB);
	assert_int_equal(docker_image_pull(c, "Upper/Case", NULL, NULL, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "invalid image reference \"Upper/Case\""));
	docker_response_init(&resp);
	assert_int_equal(docker_request(c, &req, &resp, &err), -1);
	assert_int_equal(err.cls, ERR_SYSTEM);
	assert_non_null(strstr(err.msg, "refused engine request GET /volumes/../containers/x"));
	docker_response_release(&resp);
	assert_null(out);
	assert_null(id);
	assert_int_equal(docker_request_count(c), 0);
	docker_client_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_docker_names__dockers_name_rule),
		cmocka_unit_test(test_docker_names__image_reference_grammar),
		cmocka_unit_test(test_docker_names__paths_are_built_only_from_valid_names),
		cmocka_unit_test(test_docker_names__the_request_function_refuses_unsafe_paths),
		cmocka_unit_test(test_docker_names__refused_names_make_no_request),
	};

	return cmocka_run_group_tests_name("docker_names", tests, NULL, NULL);
}
