/* SPDX-License-Identifier: MIT */
/* The health gate (stack_wait_healthy): every container running, and
 * healthy where it checks, watched on one GET /events stream. */

#include <string.h>
#include <time.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "stages/stack/internal.h"

int stack_state_bool(json_object *info, const char *key)
{
	json_object *st, *v;

	return json_object_object_get_ex(info, "State", &st) &&
	       json_object_object_get_ex(st, key, &v) && json_object_get_boolean(v);
}

const char *stack_health_status(json_object *info)
{
	json_object *st, *h, *v;

	if (json_object_object_get_ex(info, "State", &st) &&
	    json_object_object_get_ex(st, "Health", &h) &&
	    json_object_object_get_ex(h, "Status", &v))
		return json_object_get_string(v);
	return NULL;
}

static void print_failure(const struct stack *s, const char *cname, json_object *info)
{
	struct error err = ERROR_INIT;
	struct buf logs = BUF_INIT;
	json_object *st, *h, *hlog;

	if (json_object_object_get_ex(info, "State", &st) &&
	    json_object_object_get_ex(st, "Health", &h) &&
	    json_object_object_get_ex(h, "Log", &hlog) &&
	    json_object_is_type(hlog, json_type_array)) {
		size_t n = json_object_array_length(hlog), i;

		log_warn("Last health checks of %s:", cname);
		for (i = n > 3 ? n - 3 : 0; i < n; i++) {
			json_object *e = json_object_array_get_idx(hlog, i), *ec, *out;

			json_object_object_get_ex(e, "ExitCode", &ec);
			json_object_object_get_ex(e, "Output", &out);
			log_warn("  exit %d: %.300s", ec ? json_object_get_int(ec) : -1,
				 out ? json_object_get_string(out) : "");
		}
	}
	if (docker_container_logs(s->docker, cname, 30, &logs, &err) == 0 && logs.len) {
		log_warn("Last lines of %s's log:", cname);
		log_raw(buf_str(&logs));
		if (logs.data[logs.len - 1] != '\n')
			log_raw("\n");
	}
	buf_release(&logs);
}

/*
 * The health gate.  It decides on the engine's own status: a container the
 * driver's own check passed (stages/stack/ready.c: what starts dependents
 * early) still waits here for the engine to call it healthy, so that what the
 * action reports, `executor status`, restart policies and a later gate all
 * agree.  The engine says when a container's health changes (a
 * health_status event) and when it exits (die): the gate reads the state of
 * every container once (one list call: State and Status carry running,
 * restarting and the health), then waits on one GET /events stream for the
 * changes it still needs, and reads the state once more to confirm what the
 * events said.  Events are only the cue: the decision is always taken on a
 * fresh read, so an event replayed from before the read cannot mislead it.
 * The engine sends `die` before its container list shows the exit, so a
 * container an event says failed is read by inspect, which waits for the
 * engine to finish handling the exit.
 */
static long long now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* From a list entry: State "running", Status "Up 2 seconds (health: starting)". */
static enum standing standing_of(json_object *ct)
{
	json_object *v;
	const char *state = "", *status = "";

	if (json_object_object_get_ex(ct, "State", &v))
		state = json_object_get_string(v);
	if (json_object_object_get_ex(ct, "Status", &v))
		status = json_object_get_string(v);
	if (!strcmp(state, "restarting"))
		return ST_PENDING;
	if (strcmp(state, "running") || strstr(status, "(unhealthy)"))
		return ST_FAILED;
	if (strstr(status, "(health: starting)"))
		return ST_PENDING;
	return ST_OK;
}

static int service_index(const struct compose_project *p, const char *cname)
{
	size_t i;

	if (cname && *cname == '/')
		cname++;
	for (i = 0; cname && i < p->nservices; i++)
		if (!strcmp(p->services[i].container_name, cname))
			return (int)i;
	return -1;
}

/* One read of every container's standing; a missing container has failed. */
static int gate_read(struct gate *g, struct error *err)
{
	const struct compose_project *p = g->s->project;
	json_object *list = NULL;
	size_t i, n;

	if (stack_containers(g->s->docker, p->name, &list, err) < 0)
		return error_wrap(err, "read the state of %s", p->name);
	for (i = 0; i < p->nservices; i++)
		g->st[i] = ST_FAILED;
	n = json_object_array_length(list);
	for (i = 0; i < n; i++) {
		json_object *ct = json_object_array_get_idx(list, i), *names;
		int k;

		if (!json_object_object_get_ex(ct, "Names", &names) ||
		    !json_object_array_length(names))
			continue;
		k = service_index(p, json_object_get_string(json_object_array_get_idx(names, 0)));
		if (k >= 0)
			g->st[k] = standing_of(ct);
	}
	json_object_put(list);
	return 0;
}

/* 1 when every service is OK or one has failed: time to read again. */
static int gate_decided(const struct gate *g)
{
	size_t i;
	int pending = 0;

	for (i = 0; i < g->s->project->nservices; i++) {
		if (g->st[i] == ST_FAILED)
			return 1;
		pending |= g->st[i] == ST_PENDING;
	}
	return !pending;
}

int stack_gate_on_event(json_object *ev, void *payload)
{
	struct gate *g = payload;
	json_object *actor, *attrs, *v;
	const char *action = NULL, *name = NULL;
	int k;

	if (json_object_object_get_ex(ev, "Action", &v))
		action = json_object_get_string(v);
	if (json_object_object_get_ex(ev, "timeNano", &v))
		g->last_ns = json_object_get_int64(v);
	if (json_object_object_get_ex(ev, "Actor", &actor) &&
	    json_object_object_get_ex(actor, "Attributes", &attrs) &&
	    json_object_object_get_ex(attrs, "name", &v))
		name = json_object_get_string(v);
	k = service_index(g->s->project, name);
	if (k < 0 || !action)
		return 0;
	if (!strcmp(action, "health_status: healthy"))
		g->st[k] = ST_OK;
	else if (!strcmp(action, "health_status: unhealthy") || !strcmp(action, "die")) {
		g->st[k] = ST_FAILED;
		g->cue[k] = 1;
	}
	return gate_decided(g);
}

json_object *stack_gate_filters(const struct stack *s)
{
	json_object *f = json_object_new_object(), *a;
	char pl[512];

	snprintf(pl, sizeof(pl), "com.docker.compose.project=%s", s->project->name);
	a = json_object_new_array();
	json_object_array_add(a, json_object_new_string("container"));
	json_object_object_add(f, "type", a);
	a = json_object_new_array();
	json_object_array_add(a, json_object_new_string(pl));
	json_object_object_add(f, "label", a);
	a = json_object_new_array();
	json_object_array_add(a, json_object_new_string("health_status"));
	json_object_array_add(a, json_object_new_string("die"));
	json_object_object_add(f, "event", a);
	return f;
}

/* After a die or unhealthy event: has it failed (not a restart in progress)? */
static int inspect_failed(const struct stack *s, const char *cname, struct error *err)
{
	json_object *info = NULL;
	const char *hs;
	int failed;

	if (docker_container_inspect(s->docker, cname, &info, err) < 0) {
		if (err->code != 404)
			return -1;
		error_clear(err); /* removed: gate_fail says so */
		return 1;
	}
	hs = stack_health_status(info);
	failed = (!stack_state_bool(info, "Running") && !stack_state_bool(info, "Restarting")) ||
		 (hs && !strcmp(hs, "unhealthy"));
	json_object_put(info);
	return failed;
}

static int gate_fail(const struct stack *s, const char *cname, int timed_out, struct error *err)
{
	json_object *info = NULL;
	const char *hs;
	int running;

	if (docker_container_inspect(s->docker, cname, &info, err) < 0)
		return error_wrap(err, "inspect %s", cname);
	hs = stack_health_status(info);
	running = stack_state_bool(info, "Running");
	print_failure(s, cname, info);
	error_set(err, ERR_HEALTH,
		  "%s did not become healthy (%s%s): the deployment is unhealthy; see its log "
		  "above",
		  cname,
		  !running ? "it exited"
		  : hs	   ? hs
			   : "not running",
		  timed_out ? ", timed out" : "");
	json_object_put(info);
	return -1;
}

int stack_wait_healthy(const struct stack *s, struct error *err)
{
	const struct compose_project *p = s->project;
	int timeout = s->health_timeout_s > 0 ? s->health_timeout_s : 120;
	long long deadline = now_ns() + (long long)timeout * 1000000000LL;
	_cleanup_free_ enum standing *st = calloc(p->nservices ? p->nservices : 1, sizeof(*st));
	_cleanup_free_ int *cue = calloc(p->nservices ? p->nservices : 1, sizeof(*cue));
	struct gate g = {.s = s, .st = st, .cue = cue};
	json_object *filters;
	size_t i;
	int rc;

	if (!st || !cue)
		return error_set(err, ERR_SYSTEM, "out of memory");
	filters = stack_gate_filters(s);
	for (;;) {
		/* events from a second before the read on: none is missed between the
		 * read and the subscription (the engine replays them) */
		long long since = now_ns() - 1000000000LL;

		if (g.last_ns >= since)
			since = g.last_ns + 1;
		for (i = 0; i < p->nservices; i++) {
			if (!cue[i])
				continue;
			cue[i] = 0;
			rc = inspect_failed(s, p->services[i].container_name, err);
			if (rc < 0)
				goto out;
			if (rc > 0) {
				json_object_put(filters);
				return gate_fail(s, p->services[i].container_name, 0, err);
			}
		}
		if (gate_read(&g, err) < 0)
			break;
		for (i = 0; i < p->nservices; i++)
			if (st[i] == ST_FAILED) {
				json_object_put(filters);
				return gate_fail(s, p->services[i].container_name, 0, err);
			}
		if (gate_decided(&g)) {
			json_object_put(filters);
			return 0;
		}
		if (now_ns() >= deadline) {
			for (i = 0; i < p->nservices && st[i] != ST_PENDING; i++)
				;
			json_object_put(filters);
			return gate_fail(s, p->services[i].container_name, 1, err);
		}
		rc = docker_events(s->docker, since, deadline, filters, stack_gate_on_event, &g,
				   err);
		if (rc < 0) {
			error_wrap(err, "wait for %s to become healthy", p->name);
			break;
		}
	}
out:
	json_object_put(filters);
	return -1;
}
