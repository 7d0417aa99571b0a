/* SPDX-License-Identifier: MIT */
/* The stack's networks and volumes: checked before anything is created
 * (its own, or allowed), then created. */

#include <fnmatch.h>
#include <string.h>

#include "common/log.h"
#include "stages/stack/internal.h"
#include "stages/stack/spec.h"

/* ---- resources ---- */

/*
 * A network or volume the stack did not just create may be used only when
 * the driver created it for this app and env, or the admin's file allows
 * its name (allowed_networks / allowed_volumes): a stack must not join
 * another app's network, mount another app's data, or use `host`.
 */
static int object_usable(const struct stack *s, const char *kind, const char *name,
			 json_object *info, const struct compose_resource *r, struct error *err)
{
	const struct pattern_list *allowed =
		!strcmp(kind, "network") ? &s->cfg->allowed_networks : &s->cfg->allowed_volumes;
	const char *app = docker_object_label(info, STACK_LABEL_APP);
	const char *env = docker_object_label(info, STACK_LABEL_ENV);
	int i;

	if (docker_object_label(info, "io.executor.managed") && app && env && s->app && s->env &&
	    !strcmp(app, s->app) && !strcmp(env, s->env))
		return 0;
	for (i = 0; allowed->set && i < allowed->n; i++)
		if (fnmatch(allowed->items[i], name, 0) == 0)
			return 0;
	return error_set(err, ERR_POLICY,
			 "%s:%d: %s %s was not created by app %s in env %s (it belongs to %s): "
			 "a stack may use only its own app's networks and volumes, or those the "
			 "runner admin allows (allowed_%ss: %s)",
			 r->file ? r->file : "(stack)", r->line, kind, name, s->app ? s->app : "?",
			 s->env ? s->env : "?",
			 app && env ? (!strcmp(app, s->app ? s->app : "") ? "another env of it"
									  : "another app")
				    : "nobody the driver knows",
			 kind, allowed->set && allowed->n ? pattern_list_str(allowed) : "(none)");
}

/* Names the engine gives meaning to: never a stack's, unless allowed. */
static int reserved_network(const char *name)
{
	return !strcmp(name, "host") || !strcmp(name, "none") || !strcmp(name, "bridge") ||
	       !strcmp(name, "default") || !strncmp(name, "container:", 10);
}

/*
 * Networks and volumes, in two passes so that a refusal leaves nothing
 * behind: first every one the stack names is looked up (an existing one
 * must be usable, an external one must exist), then the missing ones are
 * created.  missing[] marks, per network then per volume, what to create.
 */
static int check_network(const struct stack *s, const struct compose_resource *n, int *missing,
			 struct error *err)
{
	json_object *info = NULL;
	int rc;

	*missing = 0;
	if (reserved_network(n->name)) {
		const struct pattern_list *allowed = &s->cfg->allowed_networks;
		int k, ok = 0;

		for (k = 0; allowed->set && k < allowed->n; k++)
			ok |= fnmatch(allowed->items[k], n->name, 0) == 0;
		if (!ok)
			return error_set(
				err, ERR_POLICY,
				"%s:%d: network %s is the engine's own: a stack may not use "
				"it unless the runner admin allows it (allowed_networks: "
				"%s)",
				n->file ? n->file : "(stack)", n->line, n->name,
				allowed->set && allowed->n ? pattern_list_str(allowed) : "(none)");
	}
	if (docker_network_inspect(s->docker, n->name, &info, err) == 0) {
		rc = object_usable(s, "network", n->name, info, n, err);
		json_object_put(info);
		return rc;
	}
	if (err->code != 404)
		return error_wrap(err, "inspect network %s", n->name);
	error_clear(err);
	if (n->external)
		return error_set(err, ERR_JOB,
				 "network %s is declared external but does not exist; %s", n->name,
				 s->attach_network && !strcmp(n->name, s->attach_network)
					 ? "set up the durable layer first (durable:setup-<env>)"
					 : "create it, or drop `external: true`");
	*missing = 1;
	return 0;
}

static int check_volume(const struct stack *s, const struct compose_resource *v, int *missing,
			struct error *err)
{
	json_object *info = NULL;
	int rc;

	*missing = 0;
	if (docker_volume_inspect(s->docker, v->name, &info, err) == 0) {
		rc = object_usable(s, "volume", v->name, info, v, err);
		json_object_put(info);
		return rc;
	}
	if (err->code != 404)
		return error_wrap(err, "inspect volume %s", v->name);
	error_clear(err);
	if (v->external)
		return error_set(err, ERR_JOB,
				 "volume %s is declared external but does not exist; create it, or "
				 "drop `external: true`",
				 v->name);
	*missing = 1;
	return 0;
}

int stack_resources_check(const struct stack *s, int *missing, struct error *err)
{
	const struct compose_project *p = s->project;
	size_t i;

	for (i = 0; i < p->nnetworks; i++)
		if (check_network(s, &p->networks[i], &missing[i], err) < 0)
			return -1;
	for (i = 0; i < p->nvolumes; i++)
		if (check_volume(s, &p->volumes[i], &missing[p->nnetworks + i], err) < 0)
			return -1;
	if (s->attach_network) {
		/* named after the app and env, but another app's env can spell the
		 * same name: its labels must say it is ours */
		struct compose_resource r = {.file = NULL, .line = 0};
		json_object *info = NULL;
		int rc;

		if (docker_network_inspect(s->docker, s->attach_network, &info, err) < 0) {
			if (err->code == 404)
				return error_set(
					err, ERR_JOB,
					"the durable network %s does not exist: set up the "
					"durable layer of env %s first (durable:setup-%s)",
					s->attach_network, s->env, s->env);
			return error_wrap(err, "inspect network %s", s->attach_network);
		}
		rc = object_usable(s, "network", s->attach_network, info, &r, err);
		json_object_put(info);
		if (rc < 0)
			return -1;
	}
	return 0;
}

int stack_resources_create(const struct stack *s, const int *missing, struct error *err)
{
	const struct compose_project *p = s->project;
	size_t i;
	int rc;

	for (i = 0; i < p->nnetworks; i++) {
		const struct compose_resource *n = &p->networks[i];
		json_object *labels, *info = NULL;

		if (!missing[i])
			continue;
		{
			json_object *opts = json_object_new_object();

			labels = stack_project_labels(s);
			stack_label_add(labels, "com.docker.compose.network", n->key);
			stackspec_network_options(n, opts);
			rc = docker_network_create_with(s->docker, n->name, labels, opts, NULL,
							err);
			json_object_put(labels);
			json_object_put(opts);
		}
		if (rc == 0) {
			log_info("Created network %s", n->name);
			continue;
		}
		if (err->code != 409)
			return -1; /* docker_network_create() named it */
		/* created meanwhile (CheckDuplicate): by whom? */
		error_clear(err);
		if (docker_network_inspect(s->docker, n->name, &info, err) < 0)
			return error_wrap(err, "inspect network %s", n->name);
		rc = object_usable(s, "network", n->name, info, n, err);
		json_object_put(info);
		if (rc < 0)
			return -1;
	}
	for (i = 0; i < p->nvolumes; i++) {
		const struct compose_resource *v = &p->volumes[i];
		json_object *labels;

		if (!missing[p->nnetworks + i])
			continue;
		{
			json_object *opts = json_object_new_object();

			labels = stack_project_labels(s);
			stack_label_add(labels, "com.docker.compose.volume", v->key);
			stackspec_volume_options(v, opts);
			rc = docker_volume_create_with(s->docker, v->name, labels, opts, err);
			json_object_put(labels); /* the create took its own reference */
			json_object_put(opts);
		}
		if (rc < 0)
			return -1; /* docker_volume_create() named the volume */
		log_info("Created volume %s", v->name);
	}
	return 0;
}
