/* SPDX-License-Identifier: MIT */
#ifndef STAGES_DEPLOY_H
#define STAGES_DEPLOY_H

/* deploy:<color> (stages/deploy.c). */

#include <json-c/json.h>

#include "common/error.h"
#include "stages/context.h"

struct compose_project;

int action_deploy(struct deploy_ctx *d, const char *dotenv_path, struct error *err);
/* Routes the stack declares with io.executor.route.* labels: an array of
 * {service, path, port, scheme, health, and the upstream TLS labels: tls_verify,
 * tls_name, tls_ca}; ERR_COMPOSE naming the service.  d->project_dir holds the
 * CA files an io.executor.route.tls-ca label names. */
json_object *deploy_routes(const struct deploy_ctx *d, const struct compose_project *p,
			   struct error *err);

#endif
