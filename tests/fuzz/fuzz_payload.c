/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for gitlab_job_parse(): any bytes as $JOB_RESPONSE_FILE.
 * Either it fails with ERR_SYSTEM and owns nothing, or it succeeds and every
 * string it hands out is a C string.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gitlab/gitlab.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gitlab_job job;
	struct error err = ERROR_INIT;

	if (gitlab_job_parse(&job, (const char *)data, size, &err) < 0) {
		if (err.cls != ERR_SYSTEM || job.root)
			abort();
		return 0;
	}
	if (job.name)
		(void)strlen(job.name);
	if (job.project_path)
		(void)strlen(job.project_path);
	(void)gitlab_job_variable(&job, "CI_COMMIT_REF_PROTECTED");
	gitlab_job_release(&job);
	return 0;
}
