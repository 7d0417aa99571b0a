/* SPDX-License-Identifier: MIT */
#include <stdlib.h>

#include "common/log.h"
#include "docker/imagepull.h"
#include "gitlab/registry.h"

void gitlab_registry_auth(struct registry_auth *a, const struct config *cfg,
			  const struct gitlab_job *job)
{
	struct error err = ERROR_INIT;
	size_t i;

	image_auth_add_config(a,
			      job ? gitlab_var("DOCKER_AUTH_CONFIG") : getenv("DOCKER_AUTH_CONFIG"),
			      "DOCKER_AUTH_CONFIG", REGISTRY_AUTH_JOB);
	image_auth_add_config(a, cfg->docker_auth_config, "the admin's docker_auth_config",
			      REGISTRY_AUTH_ADMIN);
	for (i = 0; job && i < job->ncredentials; i++) {
		const struct gitlab_credential *c = &job->credentials[i];

		if (registry_auth_add(a, c->url, c->username, c->password,
				      "GitLab's registry credentials for this job",
				      REGISTRY_AUTH_GITLAB, &err) < 0) {
			log_warn("%s; they are not used", err.msg);
			error_clear(&err);
		}
	}
	image_auth_add_file(a, cfg);
}
