/* SPDX-License-Identifier: MIT */
/* stack_check and stack_up: the plan of each service (create, replace,
 * keep, restart) and the start scheduler, a thread per service. */

#include <fnmatch.h>
#include <pthread.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "docker/imagepull.h"
#include "stages/stack/internal.h"
#include "stages/stack/spec.h"

void stack_report_release(struct stack_report *r)
{
	buf_release(&r->drift);
}

static const char *label_of(json_object *info, const char *key)
{
	json_object *cfg, *labels, *v;

	if (!json_object_object_get_ex(info, "Config", &cfg) ||
	    !json_object_object_get_ex(cfg, "Labels", &labels) ||
	    !json_object_object_get_ex(labels, key, &v))
		return NULL;
	return json_object_get_string(v);
}

/* A label's value is what this stack would write (a NULL want: anything). */
static int label_is(const char *have, const char *want)
{
	return !want || (have && !strcmp(have, want));
}

static int wait_dependency(const struct stack *s, const struct compose_service *svc,
			   const struct compose_dependency *d, struct error *err)
{
	const struct compose_service *dep = compose_project_service(s->project, d->service);
	int timeout = s->health_timeout_s > 0 ? s->health_timeout_s : 120;
	struct timespec t0, now;

	if (!dep)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		json_object *info = NULL;
		const char *hs;
		int ok = 0, failed = 0;

		if (docker_container_inspect(s->docker, dep->container_name, &info, err) < 0)
			return error_wrap(err, "wait for %s", dep->name);
		hs = stack_health_status(info);
		switch (d->condition) {
		case COMPOSE_COND_STARTED:
			ok = stack_state_bool(info, "Running");
			break;
		case COMPOSE_COND_HEALTHY:
			ok = hs && !strcmp(hs, "healthy");
			failed = (hs && !strcmp(hs, "unhealthy")) || !hs;
			break;
		case COMPOSE_COND_COMPLETED: {
			json_object *st, *ec;

			if (!stack_state_bool(info, "Running") &&
			    json_object_object_get_ex(info, "State", &st) &&
			    json_object_object_get_ex(st, "ExitCode", &ec)) {
				ok = json_object_get_int(ec) == 0;
				failed = !ok;
			}
			break;
		}
		}
		json_object_put(info);
		if (ok)
			return 0;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (failed || now.tv_sec - t0.tv_sec > timeout)
			return error_set(err, ERR_HEALTH,
					 "service %s depends on %s being %s, and it is not%s",
					 svc->name, dep->name,
					 d->condition == COMPOSE_COND_HEALTHY ? "healthy"
					 : d->condition == COMPOSE_COND_STARTED
						 ? "started"
						 : "completed successfully",
					 d->condition == COMPOSE_COND_HEALTHY && !hs
						 ? " (it has no healthcheck)"
						 : "");
		usleep(100 * 1000);
	}
}

static int create_container(const struct stack *s, const struct compose_service *svc,
			    json_object *cfg, char **id_out, struct error *err)
{
	json_object *netcfg, *eps;
	_cleanup_free_ char *id = NULL;
	const char *first = svc->nnetworks ? svc->networks[0].name : NULL;
	json_object *rest = json_object_new_object();
	struct image_pull pull;
	int rc;

	/* its secrets and configs, as the create is about to mount them */
	if ((svc->nsecrets || svc->nconfigs) &&
	    stackspec_files(s, svc, NULL, (char[65]){0}, 1, err) < 0) {
		json_object_put(rest);
		return error_wrap(err, "files of %s", svc->name);
	}
	/* API 1.41 honours only one endpoint at create: keep the first */
	if (json_object_object_get_ex(cfg, "NetworkingConfig", &netcfg) &&
	    json_object_object_get_ex(netcfg, "EndpointsConfig", &eps)) {
		json_object_object_foreach(eps, name, ep)
		{
			if (first && !strcmp(name, first))
				continue;
			json_object_object_add(rest, name, json_object_get(ep));
		}
		json_object_object_foreach(rest, rname, rep)
		{
			(void)rep;
			json_object_object_del(eps, rname);
		}
	}
	/* a present image costs no inspect: the create's 404 is the cue to pull */
	image_pull_admin(&pull, s->cfg, s->auth);
	rc = image_create_container(s->docker, &pull, svc->container_name, cfg, &id, err);
	if (rc < 0) {
		json_object_put(rest);
		if (err->code == 409)
			return error_set(
				err, ERR_JOB,
				"container name %s is in use by a container this stack did "
				"not create; rename the service's container_name or remove "
				"that container",
				svc->container_name);
		return error_wrap(err, "create container %s", svc->container_name);
	}
	json_object_object_foreach(rest, name, ep)
	{
		json_object *aliases = NULL;
		const char *list[32];
		size_t i, n = 0;

		if (json_object_object_get_ex(ep, "Aliases", &aliases))
			for (i = 0; i < json_object_array_length(aliases) && n < 31; i++)
				list[n++] = json_object_get_string(
					json_object_array_get_idx(aliases, i));
		list[n] = NULL;
		if (docker_network_connect(s->docker, name, id, list, err) < 0) {
			/* name lives in rest: the message first, then the put */
			error_wrap(err, "connect %s to network %s", svc->container_name, name);
			json_object_put(rest);
			return -1;
		}
	}
	json_object_put(rest);
	*id_out = id;
	id = NULL;
	return 0;
}

/* Start ref (the container's Id, or its name); messages say name. */
static int start_container(const struct stack *s, const char *ref, const char *name,
			   struct error *err)
{
	if (docker_container_start(s->docker, ref, err) < 0) {
		if (strstr(err->msg, "port is already allocated") ||
		    strstr(err->msg, "address already in use")) {
			err->cls = ERR_JOB;
			return error_wrap(err,
					  "start %s (a published port is taken: stop what uses it "
					  "or change the port)",
					  name);
		}
		return error_wrap(err, "start %s", name);
	}
	return 0;
}

/* What a service needs created (its container-create body). */
struct create_task {
	const struct stack *s;
	const struct compose_service *svc;
	json_object *cfg;
	int replace;  /* remove the old container first */
	char id[80];  /* an existing container's Id */
	int starting; /* running, and the engine has not called it healthy yet */
};

static int plan_service(const struct stack *s, const struct compose_service *svc,
			json_object *cached, int cached_missing, struct stack_report *rep,
			struct create_task *task, int *queued, int *restart, struct error *err);

/*
 * stack_up runs every service in a thread of its own, on its own connection:
 * it plans (one inspect), removes and creates its container at once — a
 * create depends on nothing — and starts it as soon as the services it
 * depends on are up (their threads done, then their depends_on condition),
 * not when a whole wave of them is.
 */
struct up_sched {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct up_task *tasks; /* by service index */
	size_t n;
	struct stack_report *rep;
};

struct up_task {
	const struct stack *s;
	const struct compose_service *svc;
	struct up_sched *sched;
	int done;    /* 0 running, 1 up, -1 failed (under sched->mu) */
	int started; /* started by this run or found running (under sched->mu) */
	int ready;   /* its healthcheck passed, run by the driver (under sched->mu) */
	/* its container's inspect from the name check, or that check's 404;
	 * neither: plan_service inspects */
	json_object *cached;
	int cached_missing;
	struct error err;
};

/* The services this one depends on are up: their threads are done and
 * their depends_on conditions hold. */
static int wait_dependencies(const struct stack *s, struct up_task *t, struct error *err)
{
	struct up_sched *sc = t->sched;
	const struct compose_service *svc = t->svc;
	size_t i, j;

	for (i = 0; i < svc->ndepends_on; i++) {
		const struct compose_dependency *d = &svc->depends_on[i];
		int done = 1;

		int started = 0, ready = 0;

		/* service_started needs only the start; the others the thread's end
		 * (after the driver's own healthcheck tries) */
		for (j = 0; j < sc->n; j++) {
			if (strcmp(s->project->services[j].name, d->service))
				continue;
			pthread_mutex_lock(&sc->mu);
			while (sc->tasks[j].done == 0 &&
			       !(d->condition == COMPOSE_COND_STARTED && sc->tasks[j].started))
				pthread_cond_wait(&sc->cv, &sc->mu);
			done = sc->tasks[j].done;
			started = sc->tasks[j].started;
			ready = sc->tasks[j].ready;
			pthread_mutex_unlock(&sc->mu);
		}
		if (done < 0)
			return error_set(err, ERR_JOB,
					 "%s was not started: %s, which it depends on, failed",
					 svc->name, d->service);
		/* what this run started or found running, or passed, needs no inspect */
		if ((d->condition == COMPOSE_COND_STARTED && started) ||
		    (d->condition == COMPOSE_COND_HEALTHY && ready))
			continue;
		if (wait_dependency(s, svc, d, err) < 0)
			return -1;
	}
	return 0;
}

static void up_mark(struct up_task *t, int *flag)
{
	pthread_mutex_lock(&t->sched->mu);
	*flag = 1;
	pthread_cond_broadcast(&t->sched->cv);
	pthread_mutex_unlock(&t->sched->mu);
}

static int up_service(const struct stack *s, struct up_task *t, struct error *err)
{
	struct stack_report rep = {0};
	struct create_task ct = {0};
	_cleanup_free_ char *id = NULL;
	int queued = 0, restart = 0, rc;

	rc = plan_service(s, t->svc, t->cached, t->cached_missing, &rep, &ct, &queued, &restart,
			  err);
	pthread_mutex_lock(&t->sched->mu);
	t->sched->rep->created += rep.created;
	t->sched->rep->started += rep.started;
	t->sched->rep->unchanged += rep.unchanged;
	t->sched->rep->drifted += rep.drifted;
	t->sched->rep->replaced += rep.replaced;
	if (rep.drift.len)
		buf_append(&t->sched->rep->drift, rep.drift.data, rep.drift.len);
	pthread_mutex_unlock(&t->sched->mu);
	buf_release(&rep.drift);
	if (rc < 0)
		return -1;
	if (queued) {
		rc = -1;
		if (ct.replace &&
		    docker_container_remove(s->docker, t->svc->container_name, 1, 0, err) < 0)
			error_wrap(err, "replace %s", t->svc->container_name);
		else if (create_container(s, t->svc, ct.cfg, &id, err) == 0)
			rc = 0;
		json_object_put(ct.cfg);
		if (rc < 0)
			return -1;
	}
	if (!queued && !restart) {
		up_mark(t, &t->started);
		/* unchanged and running, maybe started by a run a moment ago */
		if (ct.starting && stack_ready_probe(s, t->svc, ct.id))
			up_mark(t, &t->ready);
		return 0;
	}
	if (wait_dependencies(s, t, err) < 0 ||
	    start_container(s, id ? id : t->svc->container_name, t->svc->container_name, err) < 0)
		return -1;
	up_mark(t, &t->started);
	if (queued)
		log_info("Started %s (%s)", t->svc->container_name, t->svc->image);
	else
		log_info("Started %s again (it was stopped)", t->svc->container_name);
	/* ready as soon as its own healthcheck passes, not at the engine's tick */
	if (stack_ready_probe(s, t->svc, id ? id : ct.id))
		up_mark(t, &t->ready);
	return 0;
}

static void *up_one(void *arg)
{
	struct up_task *t = arg;
	struct stack ts = *t->s;
	struct docker_client *c = docker_client_clone(t->s->docker, &t->err);
	int rc = -1;

	if (c) {
		ts.docker = c;
		rc = up_service(&ts, t, &t->err);
		docker_client_free(c);
	}
	json_object_put(t->cached);
	t->cached = NULL;
	pthread_mutex_lock(&t->sched->mu);
	t->done = rc == 0 ? 1 : -1;
	pthread_cond_broadcast(&t->sched->cv);
	pthread_mutex_unlock(&t->sched->mu);
	return NULL;
}

/* Every service at once; the first failure in start order is the error (a
 * dependency's own failure before its dependents' "was not started"). */
static int run_services(const struct stack *s, const size_t *order, json_object **cached,
			const int *cached_missing, struct stack_report *rep, struct error *err)
{
	size_t n = s->project->nservices, i;
	struct up_sched sc = {.n = n, .rep = rep};
	_cleanup_free_ pthread_t *th = calloc(n ? n : 1, sizeof(*th));
	_cleanup_free_ int *started = calloc(n ? n : 1, sizeof(*started));
	int rc = 0;

	sc.tasks = calloc(n ? n : 1, sizeof(*sc.tasks));
	if (!th || !started || !sc.tasks) {
		free(sc.tasks);
		return error_set(err, ERR_SYSTEM, "out of memory");
	}
	pthread_mutex_init(&sc.mu, NULL);
	pthread_cond_init(&sc.cv, NULL);
	for (i = 0; i < n; i++) {
		sc.tasks[i].s = s;
		sc.tasks[i].svc = &s->project->services[i];
		sc.tasks[i].sched = &sc;
		sc.tasks[i].cached = cached[i];
		sc.tasks[i].cached_missing = cached_missing[i];
		cached[i] = NULL;
	}
	/* in start order, so a service that cannot have a thread of its own
	 * runs here after what it depends on */
	for (i = 0; i < n; i++) {
		size_t k = order[i];

		if (n > 1 && pthread_create(&th[k], NULL, up_one, &sc.tasks[k]) == 0)
			started[k] = 1;
		else
			up_one(&sc.tasks[k]);
	}
	for (i = 0; i < n; i++)
		if (started[i])
			pthread_join(th[i], NULL);
	for (i = 0; i < n && rc == 0; i++) {
		if (sc.tasks[order[i]].done < 0) {
			*err = sc.tasks[order[i]].err;
			rc = -1;
		}
	}
	pthread_cond_destroy(&sc.cv);
	pthread_mutex_destroy(&sc.mu);
	free(sc.tasks);
	return rc;
}

/* The image and bind-mount policy of one service (no Docker call). */
static int service_allowed(const struct stack *s, const struct compose_service *svc,
			   struct error *err)
{
	json_object *cfg = NULL;
	char hash[65];

	if (!svc->image || !*svc->image)
		return error_set(err, ERR_COMPOSE,
				 "%s:%d: service %s has no image (build: is "
				 "not supported; build images in an earlier job)",
				 svc->file, svc->line, svc->name);
	/* a reference is at most 255 characters of [a-z0-9._/:@-] (and hex) */
	if (strlen(svc->image) > 255 ||
	    strspn(svc->image, "abcdefghijklmnopqrstuvwxyz"
			       "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
			       "0123456789._/:@-") != strlen(svc->image))
		return error_set(err, ERR_COMPOSE,
				 "%s:%d: service %s: \"%.80s%s\" is not an image reference "
				 "(at most 255 characters of letters, digits and ._/:@-)",
				 svc->file, svc->line, svc->name, svc->image,
				 strlen(svc->image) > 80 ? "..." : "");
	if (svc->network_mode) {
		const struct pattern_list *allowed = &s->cfg->allowed_networks;
		int k, ok = 0;

		/* another service of the stack shares its own namespace: fine */
		if (!strncmp(svc->network_mode, "service:", 8)) {
			if (!compose_project_service(s->project, svc->network_mode + 8))
				return error_set(err, ERR_COMPOSE,
						 "%s:%d: service %s: network_mode %s names no "
						 "service of the stack",
						 svc->file, svc->line, svc->name,
						 svc->network_mode);
			ok = 1;
		}
		for (k = 0; allowed->set && k < allowed->n && !ok; k++)
			ok = fnmatch(allowed->items[k], svc->network_mode, 0) == 0;
		if (!ok)
			return error_set(err, ERR_POLICY,
					 "%s:%d: service %s: network_mode %s leaves the stack's "
					 "networks (the host's, none, or another container's): not "
					 "allowed unless the runner admin allows it "
					 "(allowed_networks: %s)",
					 svc->file, svc->line, svc->name, svc->network_mode,
					 allowed->set && allowed->n ? pattern_list_str(allowed)
								    : "(none)");
	}
	if (!image_allowed(&s->cfg->allowed_images, svc->image))
		return error_set(err, ERR_POLICY,
				 "%s:%d: service %s uses image %s, which is not allowed on "
				 "this runner (allowed: %s)",
				 svc->file, svc->line, svc->name, svc->image,
				 pattern_list_str(&s->cfg->allowed_images));
	if (stack_container_config(s, svc, &cfg, hash, err) < 0)
		return -1;
	json_object_put(cfg);
	return 0;
}

/* A stopped container that misses a network its config names: created, then the
 * driver died before `network connect` (create attaches only the first network).
 * Starting it would run it cut off from the rest; it is replaced instead. */
static int networks_missing(json_object *info, json_object *cfg)
{
	json_object *netcfg, *eps, *ns, *nets, *v;

	if (!json_object_object_get_ex(cfg, "NetworkingConfig", &netcfg) ||
	    !json_object_object_get_ex(netcfg, "EndpointsConfig", &eps))
		return 0;
	if (!json_object_object_get_ex(info, "NetworkSettings", &ns) ||
	    !json_object_object_get_ex(ns, "Networks", &nets))
		return 1;
	json_object_object_foreach(eps, name, ep)
	{
		(void)ep;
		if (!json_object_object_get_ex(nets, name, &v))
			return 1;
	}
	return 0;
}

/*
 * Decide what one service needs: nothing (unchanged, running), a start (it
 * was stopped: *restart), drift (durable layer: reported, kept), or a create
 * (new or replaced: *queued, task filled).  Starts wait for the caller.
 */
static int plan_service(const struct stack *s, const struct compose_service *svc,
			json_object *cached, int cached_missing, struct stack_report *rep,
			struct create_task *task, int *queued, int *restart, struct error *err)
{
	const struct compose_project *p = s->project;
	json_object *cfg = NULL, *info = NULL;
	char hash[65];
	int exists;

	*queued = 0;
	*restart = 0;
	if (service_allowed(s, svc, err) < 0)
		return -1;
	if (stack_container_config(s, svc, &cfg, hash, err) < 0)
		return -1;

	/* the inspect of the name check a moment ago, when there was one */
	if (cached_missing) {
		exists = 0;
		err->code = 404;
	} else if (cached) {
		exists = 1;
		info = json_object_get(cached);
	} else {
		exists = docker_container_inspect(s->docker, svc->container_name, &info, err) == 0;
	}
	if (!exists && err->code != 404) {
		json_object_put(cfg);
		return error_wrap(err, "inspect %s", svc->container_name);
	}
	error_clear(err);
	memset(task, 0, sizeof(*task));
	task->s = s;
	task->svc = svc;
	if (exists) {
		json_object *idv;
		const char *proj = label_of(info, "com.docker.compose.project");
		const char *old = label_of(info, STACK_LABEL_HASH);
		int running = stack_state_bool(info, "Running");

		if (!proj || strcmp(proj, p->name) || !label_of(info, "io.executor.managed") ||
		    !label_is(label_of(info, STACK_LABEL_APP), s->app) ||
		    !label_is(label_of(info, STACK_LABEL_ENV), s->env) ||
		    !label_is(label_of(info, STACK_LABEL_LAYER), s->layer)) {
			json_object_put(info);
			json_object_put(cfg);
			return error_set(err, ERR_JOB,
					 "container name %s is in use by a container this "
					 "stack did not create; rename the service's "
					 "container_name or remove that container",
					 svc->container_name);
		}
		if (((old && !strcmp(old, hash)) || s->mode == STACK_KEEP) &&
		    (running || !networks_missing(info, cfg))) {
			if (!(old && !strcmp(old, hash))) {
				json_object *labels, *spec_label, *spec;

				json_object_object_get_ex(cfg, "Labels", &labels);
				json_object_object_get_ex(labels, STACK_LABEL_SPEC, &spec_label);
				spec = json_tokener_parse(json_object_get_string(spec_label));
				stack_spec_diff(&rep->drift, svc->container_name,
						label_of(info, STACK_LABEL_SPEC), spec);
				json_object_put(spec);
				rep->drifted++;
			}
			if (json_object_object_get_ex(info, "Id", &idv))
				snprintf(task->id, sizeof(task->id), "%s",
					 json_object_get_string(idv));
			task->starting = running && stack_health_status(info) &&
					 !strcmp(stack_health_status(info), "starting");
			json_object_put(info);
			json_object_put(cfg);
			if (running) {
				if (old && !strcmp(old, hash))
					rep->unchanged++;
				return 0;
			}
			*restart = 1; /* once its dependencies are up */
			rep->started++;
			return 0;
		}
		json_object_put(info);
		task->replace = 1;
		rep->replaced++;
	} else {
		rep->created++;
	}
	task->cfg = cfg;
	*queued = 1;
	return 0;
}

/* A container name the stack would use that another app, env or layer has
 * (their names can be spelled alike) is refused before anything is made. */
static int check_container_names(const struct stack *s, json_object **keep, int *missing,
				 struct error *err)
{
	size_t i;

	for (i = 0; i < s->project->nservices; i++) {
		const struct compose_service *svc = &s->project->services[i];
		json_object *info = NULL;
		int ours;

		if (docker_container_inspect(s->docker, svc->container_name, &info, err) < 0) {
			if (err->code != 404)
				return error_wrap(err, "inspect %s", svc->container_name);
			error_clear(err);
			if (missing)
				missing[i] = 1;
			continue;
		}
		ours = label_of(info, "io.executor.managed") &&
		       label_is(label_of(info, "com.docker.compose.project"), s->project->name) &&
		       label_is(label_of(info, STACK_LABEL_APP), s->app) &&
		       label_is(label_of(info, STACK_LABEL_ENV), s->env) &&
		       label_is(label_of(info, STACK_LABEL_LAYER), s->layer);
		if (ours && keep)
			keep[i] = info; /* the plan reads it: no second inspect */
		else
			json_object_put(info);
		if (!ours)
			return error_set(
				err, ERR_JOB,
				"%s:%d: container name %s is in use by a container this "
				"stack did not create; rename the service's container_name "
				"or remove that container",
				svc->file, svc->line, svc->container_name);
	}
	return 0;
}

int stack_check(const struct stack *s, struct error *err)
{
	const struct compose_project *p = s->project;
	size_t nres = p->nnetworks + p->nvolumes, k;
	_cleanup_free_ int *missing = calloc(nres ? nres : 1, sizeof(int));

	if (!missing)
		return error_set(err, ERR_SYSTEM, "out of memory");
	for (k = 0; k < p->nservices; k++) {
		const struct compose_service *svc = &p->services[k];

		if (service_allowed(s, svc, err) < 0)
			return -1;
		if (svc->build.set)
			/* Compose names what build: makes <project>-<service> (or image:) */
			log_info("%s:%d: service %s: build: is not run by the driver; it runs "
				 "image %s, built and pushed by an earlier job",
				 svc->file, svc->line, svc->name, svc->image);
	}
	if (stack_resources_check(s, missing, err) < 0 ||
	    check_container_names(s, NULL, NULL, err) < 0)
		return -1;
	return 0;
}

static void put_all(json_object **objs, size_t n)
{
	size_t i;

	for (i = 0; objs && i < n; i++)
		json_object_put(objs[i]);
}

int stack_up(const struct stack *s, struct stack_report *rep, struct error *err)
{
	const struct compose_project *p = s->project;
	size_t n = p->nservices ? p->nservices : 1;
	_cleanup_free_ size_t *order = calloc(n, sizeof(size_t));
	struct image_pull pull;
	size_t k;

	if (!order)
		return error_set(err, ERR_SYSTEM, "out of memory");
	if (compose_project_start_order(p, order, err) < 0)
		return -1;
	/* refuse what the policy forbids before anything is created */
	for (k = 0; k < p->nservices; k++) {
		const char *img = p->services[k].image;
		json_object *info = NULL;

		if (service_allowed(s, &p->services[k], err) < 0)
			return -1;
		image_pull_admin(&pull, s->cfg, s->auth);
		if (!image_pull_can_pull(&pull)) {
			if (docker_image_inspect(s->docker, img, &info, err) == 0)
				json_object_put(info);
			else if (err->code == 404)
				return image_ensure(s->docker, &pull, img, err);
			else
				return error_wrap(err, "inspect image %s", img);
		}
	}
	{
		size_t nres = p->nnetworks + p->nvolumes;
		_cleanup_free_ int *missing = calloc(nres ? nres : 1, sizeof(int));
		_cleanup_free_ json_object **cached = calloc(n, sizeof(json_object *));
		_cleanup_free_ int *absent = calloc(n, sizeof(int));
		int rc;

		if (!missing || !cached || !absent)
			return error_set(err, ERR_SYSTEM, "out of memory");
		if (stack_resources_check(s, missing, err) < 0 ||
		    check_container_names(s, cached, absent, err) < 0 ||
		    stack_resources_create(s, missing, err) < 0) {
			put_all(cached, p->nservices);
			return -1;
		}
		rc = run_services(s, order, cached, absent, rep, err);
		put_all(cached, p->nservices); /* none, unless run_services failed early */
		return rc;
	}
}
