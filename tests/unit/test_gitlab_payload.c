/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "gitlab/gitlab.h"

static const char payload[] =
	"{\"id\":4242,\"token\":\"glcbt-secret\","
	"\"job_info\":{\"name\":\"promote:green\",\"stage\":\"deploy\",\"project_id\":17,"
	"\"project_name\":\"echobase\"},"
	"\"git_info\":{\"repo_url\":\"https://gitlab-ci-token:tok@gitlab.example.com/acme/"
	"sub/echobase.git\",\"ref\":\"main\",\"sha\":\"0123456789abcdef\",\"ref_type\":"
	"\"branch\",\"protected\":true},"
	"\"variables\":[{\"key\":\"CI_COMMIT_REF_PROTECTED\",\"value\":\"false\",\"public\":true},"
	"{\"key\":\"CI_COMMIT_REF_PROTECTED\",\"value\":\"true\",\"public\":true},"
	"{\"key\":\"DB_URL\",\"value\":\"x\",\"file\":true}],"
	"\"image\":{\"name\":\"executor-test/bash:latest\",\"entrypoint\":[\"\"]},"
	"\"services\":[{\"name\":\"executor-test/busybox\",\"alias\":\"web\"}]}\n";

static void test_gitlab_job__parses_trusted_fields(void **state)
{
	struct gitlab_job job;
	struct error err = ERROR_INIT;

	assert_int_equal(gitlab_job_parse(&job, payload, strlen(payload), &err), 0);
	assert_int_equal(job.id, 4242);
	assert_string_equal(job.name, "promote:green");
	assert_string_equal(job.stage, "deploy");
	assert_int_equal(job.project_id, 17);
	assert_string_equal(job.project_path, "acme/sub/echobase");
	assert_string_equal(job.ref, "main");
	assert_string_equal(job.sha, "0123456789abcdef");
	assert_int_equal(job.protected_ref, 1);
	assert_string_equal(job.image, "executor-test/bash:latest");
	assert_non_null(job.image_entrypoint);
	assert_int_equal(json_object_array_length(job.services), 1);
	gitlab_job_release(&job);
}

static void test_gitlab_job__first_variable_occurrence_wins(void **state)
{
	struct gitlab_job job;
	struct error err = ERROR_INIT;

	assert_int_equal(gitlab_job_parse(&job, payload, strlen(payload), &err), 0);
	/* GitLab sends predefined variables first; a job's own override comes later */
	assert_string_equal(gitlab_job_variable(&job, "CI_COMMIT_REF_PROTECTED"), "false");
	assert_null(gitlab_job_variable(&job, "NOPE"));
	gitlab_job_release(&job);
}

static void test_gitlab_job__protected_absent_is_unknown(void **state)
{
	const char *p = "{\"id\":1,\"git_info\":{\"ref\":\"x\"}}";
	struct gitlab_job job;
	struct error err = ERROR_INIT;

	assert_int_equal(gitlab_job_parse(&job, p, strlen(p), &err), 0);
	assert_int_equal(job.protected_ref, -1);
	assert_null(job.image);
	assert_null(job.project_path);
	gitlab_job_release(&job);
}

static void test_gitlab_job__rejects_malformed(void **state)
{
	static const char *const bad[] = {
		"", "{", "[1,2]", "{\"id\":1} garbage", "nul\x01l", "{\"id\":1}{\"id\":2}"};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct gitlab_job job;
		struct error err = ERROR_INIT;

		assert_int_equal(gitlab_job_parse(&job, bad[i], strlen(bad[i]), &err), -1);
		assert_int_equal(err.cls, ERR_SYSTEM);
		assert_non_null(strstr(err.msg, "job payload"));
		gitlab_job_release(&job);
	}
}

static void test_gitlab_job__load_requires_env(void **state)
{
	struct gitlab_job job;
	struct error err = ERROR_INIT;

	unsetenv("JOB_RESPONSE_FILE");
	assert_int_equal(gitlab_job_load(&job, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "JOB_RESPONSE_FILE is not set"));
}

static void test_gitlab_job__load_from_file(void **state)
{
	char path[] = "/tmp/executor-unit-payloadXXXXXX";
	int fd = mkstemp(path);
	struct gitlab_job job;
	struct error err = ERROR_INIT;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, payload, strlen(payload)), (int)strlen(payload));
	close(fd);
	setenv("JOB_RESPONSE_FILE", path, 1);
	assert_int_equal(gitlab_job_load(&job, NULL, &err), 0);
	assert_int_equal(job.id, 4242);
	gitlab_job_release(&job);
	unlink(path);
	unsetenv("JOB_RESPONSE_FILE");
}

static void test_gitlab_job__registry_credentials_and_pull_policy(void **state)
{
	const char *p =
		"{\"id\":1,\"image\":{\"name\":\"reg:5005/g/app:1\",\"pull_policy\":[\"always\","
		"\"if-not-present\"]},\"credentials\":["
		"{\"type\":\"registry\",\"url\":\"reg:5005\",\"username\":\"gitlab-ci-token\","
		"\"password\":\"glcbt-registry-pass\"},"
		"{\"type\":\"Registry\",\"url\":\"x\",\"username\":\"u\",\"password\":\"p\"},"
		"{\"type\":\"registry\",\"url\":\"\",\"username\":\"u\",\"password\":\"p\"},"
		"{\"type\":\"registry\",\"url\":\"gitlab.example.com:443\",\"username\":"
		"\"gitlab-ci-token\",\"password\":\"glcbt-proxy-pass\"},"
		"\"junk\",{\"type\":\"registry\",\"url\":\"y\",\"username\":7}]}";
	struct gitlab_job job;
	struct error err = ERROR_INIT;
	char line[128];

	assert_int_equal(gitlab_job_parse(&job, p, strlen(p), &err), 0);
	assert_int_equal(job.ncredentials, 2);
	assert_string_equal(job.credentials[0].url, "reg:5005");
	assert_string_equal(job.credentials[0].username, "gitlab-ci-token");
	assert_string_equal(job.credentials[0].password, "glcbt-registry-pass");
	assert_string_equal(job.credentials[1].url, "gitlab.example.com:443");
	assert_non_null(job.image_pull_policy);
	assert_int_equal(json_object_array_length(job.image_pull_policy), 2);
	/* the passwords are masked from the moment they are read */
	snprintf(line, sizeof(line), "x glcbt-registry-pass glcbt-proxy-pass");
	log_mask(line, sizeof(line));
	assert_string_equal(line, "x [MASKED] [MASKED]");
	gitlab_job_release(&job);
	assert_int_equal(job.ncredentials, 0);
	assert_null(job.credentials);

	p = "{\"id\":1,\"image\":{\"name\":\"a\",\"pull_policy\":\"never\"},\"credentials\":null}";
	assert_int_equal(gitlab_job_parse(&job, p, strlen(p), &err), 0);
	assert_string_equal(json_object_get_string(job.image_pull_policy), "never");
	assert_int_equal(job.ncredentials, 0);
	gitlab_job_release(&job);
	p = "{\"id\":1,\"image\":{\"name\":\"a\",\"pull_policy\":7}}";
	assert_int_equal(gitlab_job_parse(&job, p, strlen(p), &err), 0);
	assert_null(job.image_pull_policy);
	gitlab_job_release(&job);
}

static void test_gitlab_var__reads_custom_env_prefix(void **state)
{
	setenv("CUSTOM_ENV_CI_JOB_ID", "77", 1);
	assert_string_equal(gitlab_var("CI_JOB_ID"), "77");
	unsetenv("CUSTOM_ENV_CI_JOB_ID");
	assert_null(gitlab_var("CI_JOB_ID"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gitlab_job__parses_trusted_fields),
		cmocka_unit_test(test_gitlab_job__first_variable_occurrence_wins),
		cmocka_unit_test(test_gitlab_job__protected_absent_is_unknown),
		cmocka_unit_test(test_gitlab_job__rejects_malformed),
		cmocka_unit_test(test_gitlab_job__load_requires_env),
		cmocka_unit_test(test_gitlab_job__load_from_file),
		cmocka_unit_test(test_gitlab_job__registry_credentials_and_pull_policy),
		cmocka_unit_test(test_gitlab_var__reads_custom_env_prefix),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
