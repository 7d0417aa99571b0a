/* SPDX-License-Identifier: MIT */
/*
 * The image allow-list: patterns match registry, repository and tag as parts
 * (docs/configuration.md, "Image patterns").
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "docker/imagepull.h"

#define D1 "sha256:0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
#define D2 "sha256:aaaa2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"

static const struct {
	const char *pattern, *image;
	int allowed;
} cases[] = {
	/* a name glob stays a Docker Hub repository name */
	{"alpine*", "alpine:3", 1},
	{"alpine*", "alpine", 1},
	{"alpine*", "alpine3:edge", 1},
	{"alpine*", "alpine.evil.example/x", 0},
	{"alpine*", "alpine.evil.example/alpine:3", 0},
	{"alpine*", "alpine/evil", 0},
	{"alpine*", "alpine:5000/x", 0},
	{"alpine*", "docker.io/library/alpine:3.19", 1},
	{"alpine*", "index.docker.io/library/alpine", 1},
	{"alpine*", "docker.io/alpine", 1},
	/* the e2e suite's admin file */
	{"executor-test/*", "executor-test/bash:latest", 1},
	{"executor-test/*", "executor-test/bash", 1},
	{"executor-test/*", "docker.io/executor-test/busybox:latest", 1},
	{"executor-test/*", "executor-test/a/b", 0},
	{"executor-test/*", "executor-test", 0},
	{"executor-test/*", "executor-test/..", 0},
	{"executor-test/*", "registry.evil.example/executor-test/bash", 0},
	{"executor-test/*", "executor-test.evil.example/bash", 0},
	{"executor-test/*:latest", "executor-test/bash", 1},
	{"executor-test/*:latest", "executor-test/bash:1", 0},
	/* a registry */
	{"registry.example.com/ci/*", "registry.example.com/ci/x:1", 1},
	{"registry.example.com/ci/*", "registry.example.com/ci/x@" D1, 1},
	{"registry.example.com/ci/*", "REGISTRY.example.com/ci/x", 1},
	{"registry.example.com/ci/*", "registry.example.com.evil/ci/x", 0},
	{"registry.example.com/ci/*", "registry.example.com/ci/x/y", 0},
	{"registry.example.com/ci/*", "registry.example.com/ci", 0},
	{"registry.example.com/ci/*", "ci/x", 0},
	{"registry.example.com/ci/*", "registry.example.com:5000/ci/x", 0},
	{"registry.example.com/ci/**", "registry.example.com/ci/x", 1},
	{"registry.example.com/ci/**", "registry.example.com/ci/x/y:2", 1},
	{"registry.example.com/ci/**", "registry.example.com/ci/a/b/c/d", 1},
	{"registry.example.com/ci/**", "registry.example.com/ci", 0},
	{"registry.example.com/ci/**", "registry.example.com/cix/y", 0},
	{"registry.example.com/ci/**", "registry.example.com/other/x", 0},
	{"registry.example.com/ci/**", "registry.example.com.evil/ci/x", 0},
	{"registry.example.com/**/tools", "registry.example.com/tools", 1},
	{"registry.example.com/**/tools", "registry.example.com/a/b/tools:1", 1},
	{"registry.example.com/**/tools", "registry.example.com/a/b/tools/x", 0},
	{"*.example.com/ci/*", "registry.example.com/ci/x", 1},
	{"*.example.com/ci/*", "example.com/ci/x", 0},
	{"*.example.com/ci/*", "evil.example.com.attacker.net/ci/x", 0},
	{"localhost:5000/*", "localhost:5000/app:1", 1},
	{"localhost:5000/*", "localhost:5001/app", 0},
	{"localhost/*", "localhost/app", 1},
	{"localhost/*", "app", 0},
	/* tags: a pattern without one admits any; an image without one is :latest */
	{"debian:*", "debian:12", 1},
	{"debian:*", "debian", 1},
	{"debian:*", "docker.io/library/debian:12", 1},
	{"debian:*", "index.docker.io/library/debian:12", 1},
	{"debian:*", "library/debian:bookworm", 1},
	{"debian:*", "debian/x:1", 0},
	{"debian:*", "debian.evil.example/debian:12", 0},
	{"debian:12", "debian:12", 1},
	{"debian:12", "debian:12.1", 0},
	{"debian:12", "debian", 0},
	{"debian:1*", "debian:12", 1},
	{"docker.io/library/debian", "debian:12", 1},
	{"index.docker.io/debian", "debian", 1},
	{"*", "debian", 1},
	{"*", "foo/bar", 0},
	/* digests */
	{"debian", "debian@" D1, 1},
	{"debian", "debian:12@" D1, 1},
	{"debian:*", "debian@" D1, 0},
	{"debian:12", "debian:12@" D1, 1},
	{"debian@" D1, "debian@" D1, 1},
	{"debian@" D1, "debian:12@" D1, 1},
	{"debian@" D1, "debian@" D2, 0},
	{"debian@" D1, "debian:12", 0},
	{"debian@" D1, "other@" D1, 0},
	{"debian@sha256:*", "debian@" D2, 1},
	{"debian@sha256:*", "debian", 0},
	/* not references */
	{"debian", "", 0},
	{"debian", "debian:", 0},
	{"debian", "debian@", 0},
	{"debian", "registry.example.com/", 0},
};

static void test_image_allowed__patterns_match_registry_repository_and_tag(void **state)
{
	size_t i;
	int failed = 0;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = image_pattern_match(cases[i].pattern, cases[i].image);

		if (got != cases[i].allowed) {
			print_error("pattern %s, image %s: %s, expected %s\n", cases[i].pattern,
				    cases[i].image, got ? "allowed" : "refused",
				    cases[i].allowed ? "allowed" : "refused");
			failed++;
		}
	}
	assert_int_equal(failed, 0);
}

/* Many `**` against a long path: one answer, with no exponential backtracking. */
static void test_image_allowed__many_doublestars_still_answer(void **state)
{
	char pattern[512] = "r.example.com", image[512] = "r.example.com";
	int i;

	for (i = 0; i < 12; i++)
		strcat(pattern, "/**/x");
	strcat(image, "/x");
	for (i = 0; i < 60; i++)
		strcat(image, "/x");
	assert_true(image_pattern_match(pattern, image));
	strcat(pattern, "/**/y");
	assert_false(image_pattern_match(pattern, image));
	strcat(image, "/y");
	assert_true(image_pattern_match(pattern, image));
}

static void test_image_allowed__a_list_admits_what_one_pattern_admits(void **state)
{
	struct config cfg;
	struct error err = ERROR_INIT;

	config_defaults(&cfg);
	/* unset: every image */
	assert_true(image_allowed(&cfg.allowed_images, "alpine.evil.example/x"));
	assert_int_equal(config_parse(&cfg, "t",
				      "allowed_images = alpine*, registry.example.com/ci/**\n",
				      &err),
			 0);
	assert_true(image_allowed(&cfg.allowed_images, "alpine:3"));
	assert_true(image_allowed(&cfg.allowed_images, "registry.example.com/ci/a/b:1"));
	assert_false(image_allowed(&cfg.allowed_images, "alpine.evil.example/x"));
	assert_false(image_allowed(&cfg.allowed_images, "alpine/evil"));
	config_release(&cfg);

	/* set and empty: nothing */
	config_defaults(&cfg);
	assert_int_equal(config_parse(&cfg, "t", "allowed_images =\n", &err), 0);
	assert_false(image_allowed(&cfg.allowed_images, "alpine:3"));
	config_release(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_image_allowed__patterns_match_registry_repository_and_tag),
		cmocka_unit_test(test_image_allowed__many_doublestars_still_answer),
		cmocka_unit_test(test_image_allowed__a_list_admits_what_one_pattern_admits),
	};
	return cmocka_run_group_tests_name("stages_image", tests, NULL, NULL);
}
