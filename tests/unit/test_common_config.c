/* SPDX-License-Identifier: MIT */
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

static void test_config__defaults(void **state)
{
	struct config cfg;

	config_defaults(&cfg);
	assert_string_equal(cfg.state_dir, "/var/lib/executor");
	assert_string_equal(cfg.shell, "bash");
	assert_int_equal(cfg.privileged, 0);
	assert_int_equal(cfg.mount_docker_socket, 0);
	assert_int_equal(cfg.pull_policy.n, 1);
	assert_int_equal(cfg.pull_policy.v[0], PULL_IF_NOT_PRESENT);
	assert_ptr_equal(config_allowed_pull_policies(&cfg), &cfg.pull_policy);
	assert_null(cfg.docker_auth_config);
	assert_null(cfg.docker_auth_file);
	assert_true(pattern_list_match(&cfg.allowed_images, "anything:1"));
	config_release(&cfg);
}

static void test_config__parses_every_key(void **state)
{
	const char *text = "# admin file\n"
			   "state_dir = /srv/executor\n"
			   "docker_host = \"unix:///run/docker.sock\"\n"
			   "default_image = debian:12\n"
			   "allowed_images = debian:*, registry.example.com/ci/*\n"
			   "pull_policy = never\n"
			   "shell = sh\n"
			   "\n"
			   "privileged = false\n"
			   "mount_docker_socket = no\n"
			   "service_wait_timeout = 5\n"
			   "slot_networks = 0\n"
			   "lock_timeout = 60\n"
			   "protected_projects = acme/*\n"
			   "allowed_bind_paths = /srv/data\n"
			   "hostname = ci-1\n";
	struct config cfg;
	struct error err = ERROR_INIT;

	config_defaults(&cfg);
	assert_int_equal(config_parse(&cfg, "t", text, &err), 0);
	assert_string_equal(cfg.state_dir, "/srv/executor");
	assert_string_equal(cfg.docker_host, "unix:///run/docker.sock");
	assert_string_equal(cfg.default_image, "debian:12");
	assert_int_equal(cfg.allowed_images.n, 2);
	assert_true(pattern_list_match(&cfg.allowed_images, "debian:12"));
	assert_true(pattern_list_match(&cfg.allowed_images, "registry.example.com/ci/x:1"));
	assert_false(pattern_list_match(&cfg.allowed_images, "alpine:3"));
	/* services default to the image allow-list */
	assert_false(pattern_list_match(&cfg.allowed_services, "alpine:3"));
	assert_int_equal(cfg.pull_policy.n, 1);
	assert_int_equal(cfg.pull_policy.v[0], PULL_NEVER);
	assert_string_equal(cfg.shell, "sh");
	assert_int_equal(cfg.service_wait_timeout, 5);
	assert_int_equal(cfg.slot_networks, 0);
	assert_int_equal(cfg.lock_timeout, 60);
	assert_string_equal(cfg.hostname, "ci-1");
	config_release(&cfg);
}

static void expect_error(const char *text, const char *needle)
{
	struct config cfg;
	struct error err = ERROR_INIT;

	config_defaults(&cfg);
	assert_int_equal(config_parse(&cfg, "cfg", text, &err), -1);
	assert_int_equal(err.cls, ERR_CONFIG);
	if (!strstr(err.msg, needle))
		fail_msg("message \"%s\" lacks \"%s\"", err.msg, needle);
	config_release(&cfg);
}

static void test_config__errors_name_file_line_and_fix(void **state)
{
	expect_error("\n\nallowed_imagez = x\n", "cfg:3: unknown key \"allowed_imagez\"");
	expect_error("privileged = maybe\n", "cfg:1: privileged must be true or false");
	expect_error("lock_timeout = 10s\n", "whole number of seconds");
	expect_error("pull_policy = sometimes\n", "pull_policy must be");
	expect_error("shell = zsh\n", "shell must be bash or sh");
	expect_error("state_dir = relative/dir\n", "absolute path");
	expect_error("just words\n", "cfg:1: expected `key = value`");
	expect_error("default_image = \"unterminated\n", "unterminated quote");
	expect_error(
		"pull_policy = always, sometimes\n",
		"cfg:1: pull_policy must be always, if-not-present or never, or a list of them "
		"in the order to try, not \"sometimes\"");
	expect_error("allowed_pull_policies = \n", "allowed_pull_policies must be");
	expect_error("pull_policy = never\nallowed_pull_policies = always, if-not-present\n",
		     "cfg: pull_policy (never) has none of allowed_pull_policies (always, "
		     "if-not-present)");
	expect_error("docker_auth_config = {\"auths\": \n", "cfg:1: docker_auth_config must be a "
							    "docker config.json on one line");
	expect_error("docker_auth_file = auth.json\n",
		     "cfg:1: docker_auth_file must be an absolute");
}

static void test_config__pull_policies_as_gitlab_defines_them(void **state)
{
	struct config cfg;
	struct error err = ERROR_INIT;
	char out[64];

	/* a list, in the order to try; duplicates once */
	config_defaults(&cfg);
	assert_int_equal(config_parse(&cfg, "t",
				      "pull_policy = always, if-not-present, always\n"
				      "allowed_pull_policies = never, if-not-present, always\n",
				      &err),
			 0);
	assert_string_equal(pull_policies_str(&cfg.pull_policy, out, sizeof(out)),
			    "always, if-not-present");
	assert_string_equal(pull_policies_str(config_allowed_pull_policies(&cfg), out, sizeof(out)),
			    "never, if-not-present, always");
	config_release(&cfg);

	/* no pull_policy: if-not-present, unless the admin allows only others */
	config_defaults(&cfg);
	assert_int_equal(config_parse(&cfg, "t", "allowed_pull_policies = always\n", &err), 0);
	assert_string_equal(pull_policies_str(&cfg.pull_policy, out, sizeof(out)), "always");
	config_release(&cfg);
	config_defaults(&cfg);
	assert_int_equal(
		config_parse(&cfg, "t", "allowed_pull_policies = if-not-present, never\n", &err),
		0);
	assert_string_equal(pull_policies_str(&cfg.pull_policy, out, sizeof(out)),
			    "if-not-present");
	config_release(&cfg);
}

static void test_config__registry_credentials_keys(void **state)
{
	struct config cfg;
	struct error err = ERROR_INIT;

	config_defaults(&cfg);
	assert_int_equal(config_parse(&cfg, "t",
				      "docker_auth_config = {\"auths\": {\"r:5000\": {\"auth\": "
				      "\"dTpw\"}}}\n"
				      "docker_auth_file = \"/etc/executor/docker.json\"\n",
				      &err),
			 0);
	assert_string_equal(cfg.docker_auth_config,
			    "{\"auths\": {\"r:5000\": {\"auth\": \"dTpw\"}}}");
	assert_string_equal(cfg.docker_auth_file, "/etc/executor/docker.json");
	config_release(&cfg);
}

static void test_config__helper_keys(void **state)
{
	struct config cfg;
	struct error err = ERROR_INIT;

	config_defaults(&cfg);
	assert_null(cfg.helper_image);
	assert_null(cfg.runner_binary);
	assert_int_equal(config_parse(&cfg, "t",
				      "helper_image = registry.example.com/ci/helper:1\n"
				      "runner_binary = \"/usr/local/bin/gitlab-runner\"\n",
				      &err),
			 0);
	assert_string_equal(cfg.helper_image, "registry.example.com/ci/helper:1");
	assert_string_equal(cfg.runner_binary, "/usr/local/bin/gitlab-runner");
	/* empty: none again (the runner's stages in the job container) */
	assert_int_equal(config_parse(&cfg, "t", "helper_image =\n", &err), 0);
	assert_null(cfg.helper_image);
	assert_int_equal(config_parse(&cfg, "t", "runner_binary = gitlab-runner\n", &err), -1);
	assert_non_null(strstr(err.msg, "t:1: runner_binary must be an absolute path"));
	config_release(&cfg);
}

static void test_image_allowed__untagged_means_latest(void **state)
{
	struct config cfg;
	struct error err = ERROR_INIT;

	config_defaults(&cfg);
	assert_int_equal(config_parse(&cfg, "t",
				      "allowed_images = executor-test/*:latest, "
				      "debian:12\n",
				      &err),
			 0);
	assert_true(image_allowed(&cfg.allowed_images, "executor-test/bash"));
	assert_true(image_allowed(&cfg.allowed_images, "executor-test/bash:latest"));
	assert_false(image_allowed(&cfg.allowed_images, "executor-test/bash:1"));
	assert_true(image_allowed(&cfg.allowed_images, "debian:12"));
	assert_false(image_allowed(&cfg.allowed_images, "debian"));
	assert_false(image_allowed(&cfg.allowed_images, "localhost:5000/debian"));
	config_release(&cfg);
}

static void test_config__load_named_missing_file_fails(void **state)
{
	struct config cfg;
	struct error err = ERROR_INIT;

	assert_int_equal(config_load(&cfg, "/nonexistent/executor.conf", &err), -1);
	assert_int_equal(err.cls, ERR_CONFIG);
	assert_non_null(strstr(err.msg, "/nonexistent/executor.conf"));
	config_release(&cfg);
}

static void test_config__trust_keys(void **state)
{
	const char *text = "app_projects = echobase: 12, 57\n"
			   "app_projects = shop: 9\n"
			   "app_projects = echobase: 80\n"
			   "protected_envs = prod*, staging\n"
			   "allowed_volumes = shared-*\n"
			   "allowed_networks = proxy\n"
			   "cap_drop = NET_RAW\n"
			   "security_opt = no-new-privileges:true\n"
			   "memory = 512m\n"
			   "memory_max = 2g\n"
			   "cpus = 1.5\n"
			   "cpus_max = 4\n"
			   "pids_limit = 100\n"
			   "pids_limit_max = 1000\n";
	struct config cfg;
	struct error err = ERROR_INIT;
	long long n;

	config_defaults(&cfg);
	/* defaults: every env but ci is protected; some limits */
	assert_true(config_env_protected(&cfg, "production"));
	assert_false(config_env_protected(&cfg, "ci"));
	assert_int_equal(cfg.pids_limit, 4096);
	assert_true(cfg.memory > 0);
	assert_int_equal(config_app_shared_with(&cfg, "echobase", 12), -1);
	assert_int_equal(config_parse(&cfg, "t", text, &err), 0);
	assert_int_equal(config_app_shared_with(&cfg, "echobase", 12), 1);
	assert_int_equal(config_app_shared_with(&cfg, "echobase", 80), 1);
	assert_int_equal(config_app_shared_with(&cfg, "echobase", 9), 0);
	assert_int_equal(config_app_shared_with(&cfg, "shop", 9), 1);
	assert_int_equal(config_app_shared_with(&cfg, "other", 9), -1);
	assert_true(config_env_protected(&cfg, "production"));
	assert_true(config_env_protected(&cfg, "staging"));
	assert_false(config_env_protected(&cfg, "devlocal"));
	assert_int_equal(cfg.memory, 512LL << 20);
	assert_int_equal(cfg.memory_max, 2LL << 30);
	assert_true(cfg.cpus > 1.49 && cfg.cpus < 1.51);
	assert_int_equal(cfg.pids_limit, 100);
	assert_int_equal(cfg.pids_limit_max, 1000);
	assert_int_equal(cfg.cap_drop.n, 1);
	config_release(&cfg);

	assert_int_equal(config_parse_size("1g", &n), 0);
	assert_int_equal(n, 1LL << 30);
	assert_int_equal(config_parse_size("100", &n), 0);
	assert_int_equal(n, 100);
	assert_int_equal(config_parse_size("12mb", &n), 0);
	assert_int_equal(n, 12LL << 20);
	assert_int_equal(config_parse_size("-1", &n), -1);
	assert_int_equal(config_parse_size("1x", &n), -1);
	assert_int_equal(config_parse_size("99999999999999t", &n), -1);

	expect_error("app_projects = echobase\n", "app_projects");
	expect_error("app_projects = echobase: twelve\n", "positive numbers");
	expect_error("app_projects = Echo: 1\n", "application name");
	expect_error("memory = lots\n", "memory must be a size");
	expect_error("memory = 1k\n", "at least 6m");
	expect_error("cpus = -1\n", "cpus must be a number");
	expect_error("pids_limit = many\n", "pids_limit must be");
	/* an empty list protects nothing */
	config_defaults(&cfg);
	assert_int_equal(config_parse(&cfg, "t", "protected_envs =\n", &err), 0);
	assert_false(config_env_protected(&cfg, "production"));
	config_release(&cfg);
}

static void test_config__remote_engine_keys(void **state)
{
	struct config cfg;
	struct error err = ERROR_INIT;

	config_defaults(&cfg);
	/* unset: the DOCKER_* variables decide */
	assert_int_equal(cfg.docker_tls, -1);
	assert_int_equal(cfg.docker_tls_verify, -1);
	assert_null(cfg.docker_cert_path);
	assert_int_equal(config_parse(&cfg, "t",
				      "docker_host = tcp://engine.example.com:2376\n"
				      "docker_tls_verify = true\n"
				      "docker_cert_path = /etc/executor/engine\n",
				      &err),
			 0);
	assert_string_equal(cfg.docker_host, "tcp://engine.example.com:2376");
	assert_int_equal(cfg.docker_tls_verify, 1);
	assert_int_equal(cfg.docker_tls, -1);
	assert_string_equal(cfg.docker_cert_path, "/etc/executor/engine");
	assert_int_equal(config_parse(&cfg, "t", "docker_tls = false\n", &err), 0);
	assert_int_equal(cfg.docker_tls, 0);
	config_release(&cfg);

	config_defaults(&cfg);
	assert_int_equal(config_parse(&cfg, "t", "docker_cert_path = certs\n", &err), -1);
	assert_int_equal(err.cls, ERR_CONFIG);
	assert_non_null(strstr(err.msg, "t:1: docker_cert_path must be an absolute path"));
	assert_int_equal(config_parse(&cfg, "t", "docker_tls_verify = maybe\n", &err), -1);
	assert_non_null(strstr(err.msg, "docker_tls_verify must be true or false"));
	config_release(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config__defaults),
		cmocka_unit_test(test_config__trust_keys),
		cmocka_unit_test(test_config__parses_every_key),
		cmocka_unit_test(test_config__errors_name_file_line_and_fix),
		cmocka_unit_test(test_config__pull_policies_as_gitlab_defines_them),
		cmocka_unit_test(test_config__registry_credentials_keys),
		cmocka_unit_test(test_config__helper_keys),
		cmocka_unit_test(test_image_allowed__untagged_means_latest),
		cmocka_unit_test(test_config__load_named_missing_file_fails),
		cmocka_unit_test(test_config__remote_engine_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
