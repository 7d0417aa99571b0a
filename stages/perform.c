/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "common/log.h"
#include "stages/cleanup.h"
#include "stages/deploy.h"
#include "stages/layer.h"
#include "stages/perform.h"
#include "stages/promote.h"
#include "stages/rollback.h"

static int perform(struct deploy_ctx *d, const struct deploy_opts *o, struct error *err)
{
	switch (d->action.kind) {
	case ACTION_DURABLE_SETUP:
		return action_durable_setup(d, err);
	case ACTION_DURABLE_CLEANUP:
		if (d->job)
			return action_durable_cleanup(d, o->confirm, err);
		return action_durable_teardown(d, o->volumes, err);
	case ACTION_DEPLOY:
		return action_deploy(d, o->dotenv, err);
	case ACTION_PROMOTE:
		return action_promote(d, err);
	case ACTION_ROLLBACK:
		return action_rollback(d, err);
	case ACTION_CLEANUP:
		return action_color_cleanup(d, err);
	default:
		return error_set(err, ERR_SYSTEM, "%s is not a deployment action",
				 action_name(d->action.kind));
	}
}

int deploy_perform(struct deploy_ctx *d, const struct deploy_opts *o, struct error *err)
{
	struct error e = ERROR_INIT;

	if (perform(d, o, err) < 0) {
		/* messages name the repository's files as the job's author wrote them */
		size_t n = strlen(d->project_dir);
		char *hit;

		while (n && (hit = strstr(err->msg, d->project_dir)) && hit[n] == '/')
			memmove(hit, hit + n + 1, strlen(hit + n + 1) + 1);
		return -1;
	}
	if (!d->handed_over && deploy_store_router_template(d, &e) < 0)
		log_warn("could not keep the router template of env %s: %s", d->action.env, e.msg);
	return 0;
}
