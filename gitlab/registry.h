/* SPDX-License-Identifier: MIT */
#ifndef GITLAB_REGISTRY_H
#define GITLAB_REGISTRY_H

#include "common/config.h"
#include "docker/auth.h"
#include "gitlab/gitlab.h"

/*
 * The registry credentials of a job or an action, in GitLab's order:
 * DOCKER_AUTH_CONFIG (the job variable; for a local command, job NULL, the
 * environment's), the admin's docker_auth_config, the payload's registry
 * credentials, the admin's docker_auth_file.  A source that cannot be read
 * is one warning line and adds nothing, as in GitLab.
 */
void gitlab_registry_auth(struct registry_auth *a, const struct config *cfg,
			  const struct gitlab_job *job);

#endif
