/* SPDX-License-Identifier: MIT */
/* The watch after a switch and at every canary step; see stages/watch.h. */
#include "stages/watch.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/clock.h"
#include "common/fs.h"
#include "common/log.h"
#include "durable/lock.h"
#include "durable/router.h"
#include "durable/state.h"
#include "stages/probe.h"
#include "stages/route.h"

#define WATCH_TICK_MS	  100
#define WATCH_PROBE_MS	  1000
#define WATCH_LINGER_MS	  700 /* late log lines after the window */
#define WATCH_ATTACH_MS	  3000
#define CONTROL_MAX_AGE_S 120

/* ---- the router's log ---- */

static void add_first(struct watch *w, const char *line)
{
	if (w->nfirst < WATCH_FIRST_MAX)
		snprintf(w->first[w->nfirst++], sizeof(w->first[0]), "%.318s", line);
}

/* executor-watch 1732680000.123 green 500 "500" "0.004" "GET /api/health" */
static void on_line(struct watch *w, const char *line)
{
	char color[64], ustatus[64], utime[64], req[256], when[32], ev[400];
	double msec;
	int status;
	time_t secs;
	struct tm tm;
	struct watch_counts *c;
	const char *last_time;

	line = strstr(line, ROUTER_WATCH_TAG);
	if (!line)
		return;
	line += sizeof(ROUTER_WATCH_TAG) - 1;
	/* NOLINTNEXTLINE(cert-err34-c): the count of fields is checked */
	if (sscanf(line, "%lf %63s %d \"%63[^\"]\" \"%63[^\"]\" \"%255[^\"]\"", &msec, color,
		   &status, ustatus, utime, req) != 6)
		return;
	secs = (time_t)msec;
	gmtime_r(&secs, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	/* the last try's header time: "-" when no upstream answered */
	last_time = strrchr(utime, ' ');
	last_time = last_time ? last_time + 1 : utime;

	pthread_mutex_lock(&w->mu);
	c = !strcmp(color, w->candidate) ? &w->cand : &w->other;
	c->requests++;
	if (status >= 500) {
		int upstream = !strcmp(last_time, "-");

		c->errors++;
		if (upstream)
			c->upstream_errors++;
		if (c == &w->cand) {
			snprintf(ev, sizeof(ev), "%.16s.%03d %.200s -> %d (%s %.40s)", when,
				 (int)((msec - (double)secs) * 1000), req, status,
				 upstream ? "no upstream answered, tried" : "upstream said",
				 ustatus);
			add_first(w, ev);
		}
	}
	pthread_mutex_unlock(&w->mu);
}

static int on_frame(int stream, const char *data, size_t len, void *payload)
{
	struct watch *w = payload;
	size_t i;

	if (stream != 1)
		return 0;
	for (i = 0; i < len; i++) {
		if (data[i] == '\n') {
			on_line(w, buf_str(&w->line));
			w->line.len = 0;
			if (w->line.data)
				w->line.data[0] = '\0';
		} else if (w->line.len < 4096) {
			buf_putc(&w->line, data[i]);
		}
	}
	return 0;
}

static int on_data(const char *data, size_t len, void *payload)
{
	struct watch *w = payload;

	return docker_demux_feed(&w->demux, data, len) < 0 ? -1 : 0;
}

static void on_headers(long status, void *payload)
{
	struct watch *w = payload;

	pthread_mutex_lock(&w->mu);
	w->attached = 1;
	pthread_mutex_unlock(&w->mu);
}

struct follow_args {
	struct watch *w;
	char path[512];
};

static void *follow(void *arg)
{
	struct follow_args *a = arg;
	struct watch *w = a->w;
	struct docker_request req = {.method = "GET", .path = a->path};
	struct docker_response resp;
	struct error err = ERROR_INIT;

	req.on_data = on_data;
	req.on_headers = on_headers;
	req.payload = w;
	req.cancel = &w->stop;
	docker_response_init(&resp);
	if (docker_request(w->client, &req, &resp, &err) < 0 && err.cls != ERR_CANCELED) {
		pthread_mutex_lock(&w->mu);
		snprintf(w->log_error, sizeof(w->log_error), "%s", err.msg);
		pthread_mutex_unlock(&w->mu);
	}
	docker_response_release(&resp);
	pthread_mutex_lock(&w->mu);
	w->ended = 1;
	pthread_mutex_unlock(&w->mu);
	free(a);
	return NULL;
}

void watch_begin(struct watch *w, struct deploy_ctx *d, struct env_state *state,
		 const char *candidate, volatile sig_atomic_t *cancel)
{
	const char *router = durable_state_router(state);
	struct follow_args *a;
	struct error err = ERROR_INIT;
	long long deadline = clock_ms() + WATCH_ATTACH_MS;
	int attached = 0, ended = 0;

	memset(w, 0, sizeof(*w));
	pthread_mutex_init(&w->mu, NULL);
	snprintf(w->candidate, sizeof(w->candidate), "%s", candidate);
	w->cancel = cancel;
	buf_init(&w->line, 512);
	docker_demux_init(&w->demux, on_frame, w);
	if (!router) {
		snprintf(w->log_error, sizeof(w->log_error), "the env has no router");
		return;
	}
	a = calloc(1, sizeof(*a));
	w->client = a ? docker_client_clone(d->docker, &err) : NULL;
	if (!a || !w->client) {
		free(a);
		snprintf(w->log_error, sizeof(w->log_error), "%s",
			 err.msg[0] ? err.msg : "out of memory");
		return;
	}
	a->w = w;
	/* only what is logged from now on */
	snprintf(a->path, sizeof(a->path), "/containers/%s/logs?follow=1&stdout=1&stderr=0&tail=0",
		 router);
	if (pthread_create(&w->thread, NULL, follow, a) != 0) {
		free(a);
		snprintf(w->log_error, sizeof(w->log_error), "cannot start a thread");
		return;
	}
	w->started = 1;
	while (clock_ms() < deadline) {
		pthread_mutex_lock(&w->mu);
		attached = w->attached;
		ended = w->ended;
		pthread_mutex_unlock(&w->mu);
		if (attached || ended)
			break;
		usleep(10 * 1000);
	}
	if (!attached && !w->log_error[0])
		snprintf(w->log_error, sizeof(w->log_error),
			 "the router's log stream did not open within %d ms", WATCH_ATTACH_MS);
	if (w->log_error[0])
		log_warn("The watch cannot read the router's log (%s): it relies on its probes "
			 "alone",
			 w->log_error);
}

void watch_end(struct watch *w)
{
	if (w->started) {
		w->stop = 1;
		pthread_join(w->thread, NULL);
		w->started = 0;
	}
	if (w->client)
		docker_client_free(w->client);
	w->client = NULL;
	buf_release(&w->line);
	pthread_mutex_destroy(&w->mu);
}

/* ---- probes ---- */

/* One pass over the candidate's routes through the entry: 0 when every
 * route answered below 500 from the candidate. */
static int probe_pass(struct watch *w, struct deploy_ctx *d, struct env_state *state,
		      const char *entry)
{
	struct env_color rec;
	json_object *routes = durable_state_color(state, w->candidate, &rec) ? rec.routes : NULL;
	int port = durable_state_router_port(state, !strcmp(entry, "live") ? ENV_ENTRY_LIVE
									   : ENV_ENTRY_PREVIEW);
	size_t i, n;
	int rc = 0;

	n = routes ? json_object_array_length(routes) : 0;
	for (i = 0; i < n; i++) {
		struct probe_result r;
		char url[512];

		route_health_url(url, sizeof(url), json_object_array_get_idx(routes, i));
		probe_get(d->tls.ca_cert, port, url, 5000, &r);
		w->probes++;
		if (r.error[0]) {
			snprintf(w->probe_error, sizeof(w->probe_error), "%.390s", r.error);
			rc = -1;
		} else if (r.status >= 500 || strcmp(r.color, w->candidate)) {
			snprintf(w->probe_error, sizeof(w->probe_error),
				 "https://localhost:%d%.160s answered %ld from color \"%.40s\": "
				 "%.120s",
				 port, url, r.status, r.color, buf_str(&r.body));
			rc = -1;
		}
		probe_result_release(&r);
		if (rc < 0)
			break;
	}
	if (rc < 0) {
		w->probe_failures++;
		w->streak++;
	} else {
		w->streak = 0;
	}
	return rc;
}

/* ---- control ---- */

/* "abort" / "full" when a fresh command waits; it is taken (removed). */
static enum watch_outcome control_take(const char *path)
{
	char text[64] = "";
	struct stat st;
	ssize_t n;
	int fd;

	if (!path || stat(path, &st) < 0)
		return WATCH_QUIET;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	n = fd >= 0 ? read(fd, text, sizeof(text) - 1) : -1;
	if (fd >= 0)
		close(fd);
	unlink(path);
	if (n <= 0 || time(NULL) - st.st_mtime > CONTROL_MAX_AGE_S)
		return WATCH_QUIET;
	text[n] = '\0';
	if (!strncmp(text, "abort", 5))
		return WATCH_ABORT;
	if (!strncmp(text, "full", 4))
		return WATCH_FULL;
	return WATCH_QUIET;
}

/* ---- the window ---- */

void watch_figures(struct watch *w, struct buf *out)
{
	struct watch_counts c, o;

	pthread_mutex_lock(&w->mu);
	c = w->cand;
	o = w->other;
	pthread_mutex_unlock(&w->mu);
	if (w->log_error[0])
		buf_printf(out, "router log not read (%s)", w->log_error);
	else
		buf_printf(out, "%s: %ld requests, %ld 5xx (%ld upstream errors)", w->candidate,
			   c.requests, c.errors, c.upstream_errors);
	if (!w->log_error[0] && o.requests)
		buf_printf(out, "; other color: %ld requests, %ld 5xx", o.requests, o.errors);
	buf_printf(out, "; probes: %ld, %ld failed", w->probes, w->probe_failures);
}

static int too_many_errors(const struct watch_counts *c, double max_rate)
{
	return c->errors > 0 && (double)c->errors > max_rate * (double)c->requests;
}

enum watch_outcome watch_run(struct watch *w, struct deploy_ctx *d, struct env_state *state,
			     const struct watch_opts *o, struct buf *reason)
{
	long long t0 = clock_ms(), end = t0 + (long long)o->seconds * 1000, next_probe = t0;
	enum watch_outcome out = WATCH_QUIET;
	struct watch_counts c;
	int i, lingered = 0;

	pthread_mutex_lock(&w->mu);
	memset(&w->cand, 0, sizeof(w->cand));
	memset(&w->other, 0, sizeof(w->other));
	w->nfirst = 0;
	pthread_mutex_unlock(&w->mu);
	w->probes = w->probe_failures = 0;
	w->streak = 0;
	w->probe_error[0] = '\0';
	log_info("Watching %s %s for %d s (failing above %.3g%% 5xx or after %d failed probes "
		 "in a row)",
		 w->candidate, o->what, o->seconds, o->max_error_rate * 100, o->max_probe_failures);
	for (;;) {
		long long now = clock_ms();

		if (w->cancel && *w->cancel) {
			buf_printf(reason, "the job was canceled %s", o->what);
			return WATCH_CANCELED;
		}
		out = control_take(o->control);
		if (out != WATCH_QUIET) {
			buf_printf(reason, "an operator asked to %s %s",
				   out == WATCH_ABORT ? "abort" : "finish", o->what);
			return out;
		}
		if (now >= next_probe) {
			probe_pass(w, d, state, o->entry);
			next_probe = clock_ms() + WATCH_PROBE_MS;
		}
		pthread_mutex_lock(&w->mu);
		c = w->cand;
		pthread_mutex_unlock(&w->mu);
		if (w->streak >= o->max_probe_failures) {
			buf_printf(reason, "%s, %d probes of %s in a row failed; the last: %s",
				   o->what, w->streak, w->candidate, w->probe_error);
			out = WATCH_FAILED;
			break;
		}
		if (too_many_errors(&c, o->max_error_rate)) {
			buf_printf(reason,
				   "%s, %s answered %ld of %ld live requests with 5xx (%.1f%%, "
				   "allowed %.3g%%; %ld upstream errors)",
				   o->what, w->candidate, c.errors, c.requests,
				   100.0 * (double)c.errors / (double)c.requests,
				   o->max_error_rate * 100, c.upstream_errors);
			out = WATCH_FAILED;
			break;
		}
		if (now >= end) {
			if (lingered || w->log_error[0])
				break;
			/* lines logged just before the end reach us a little later */
			end = now + WATCH_LINGER_MS;
			lingered = 1;
		}
		usleep(WATCH_TICK_MS * 1000);
	}
	if (out == WATCH_FAILED) {
		pthread_mutex_lock(&w->mu);
		if (w->nfirst)
			buf_puts(reason, "; first failing requests:");
		for (i = 0; i < w->nfirst; i++)
			buf_printf(reason, "%s %s", i ? ";" : "", w->first[i]);
		pthread_mutex_unlock(&w->mu);
	}
	return out;
}

/* ---- steps ---- */

int watch_parse_steps(const char *text, int *steps, int max, int *n, struct error *err)
{
	const char *p = text;

	*n = 0;
	while (*p) {
		char *end;
		long v;

		while (*p == ' ')
			p++;
		errno = 0;
		v = strtol(p, &end, 10);
		if (end == p || errno || v < 1 || v > 100 || (*n && v <= steps[*n - 1]) ||
		    *n >= max)
			goto bad;
		steps[(*n)++] = (int)v;
		p = end;
		if (*p == '%')
			p++;
		while (*p == ' ')
			p++;
		if (*p == ',')
			p++;
		else if (*p)
			goto bad;
	}
	if (!*n)
		goto bad;
	return 0;
bad:
	return error_set(err, ERR_JOB,
			 "EXECUTOR_CANARY_STEPS \"%.80s\" must be rising percentages of live "
			 "traffic from 1 to 100, comma-separated (at most %d), e.g. 10,50,100",
			 text, max);
}

/* ---- what promote and its canary steps share ---- */

int watch_outcome_error(enum watch_outcome o, struct buf *reason, const char *then,
			struct error *err)
{
	switch (o) {
	case WATCH_ABORT:
		return error_set(err, ERR_JOB, "%s; %s", buf_str(reason), then);
	case WATCH_CANCELED:
		return error_set(err, ERR_CANCELED, "%s; %s", buf_str(reason), then);
	default:
		return error_set(err, ERR_HEALTH, "%s; %s", buf_str(reason), then);
	}
}

/* Drop the watch's log lines from the router file; a failure only warns
 * (the routing itself is what it should be). */
void watch_log_off(struct deploy_ctx *d, struct env_state *state, const char *live,
		   const char *preview)
{
	struct error e2 = ERROR_INIT;

	if (route_apply(d, state, live, preview, ROUTE_UNWATCHED, &e2) < 0)
		log_warn("could not turn the router's watch log off: %s", e2.msg);
}
