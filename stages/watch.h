/* SPDX-License-Identifier: MIT */
#ifndef STAGES_WATCH_H
#define STAGES_WATCH_H

/*
 * The watch after a switch (and at every canary step): for a while, probe the
 * candidate's health routes through the router and read the router's own
 * account of every live request, and decide whether the candidate keeps its
 * traffic.
 *
 * The router's account: while a watch runs, the live entry logs each proxied
 * request to the router's stdout in the executor_watch format
 * (durable/router.h).  A thread follows the router container's log stream
 * through the Engine API (GET /containers/{id}/logs?follow=1&tail=0),
 * attached before the switch so no request after it is missed, and counts
 * requests, 5xx answers and upstream errors (5xx where no upstream answered)
 * per color.  Outside a watch nothing is logged in that format, so the
 * router's log does not grow because of it.
 *
 * The watch fails when the candidate's share of 5xx passes max_error_rate
 * (0: any 5xx) or its probes fail max_probe_failures times in a row.  An
 * operator can end it early through the control file (abort / full), and a
 * signal (the job canceled) ends it too.
 */

#include <json-c/json.h>
#include <pthread.h>
#include <signal.h>

#include "common/buf.h"
#include "durable/state.h"
#include "stages/context.h"
#include "stages/control.h"

#define WATCH_FIRST_MAX 5

struct watch_opts {
	int seconds;
	double max_error_rate;	/* 0..1 */
	int max_probe_failures; /* >= 1 */
	const char *entry;	/* where the candidate's routes are probed: live / preview */
	const char *control;	/* control file path, or NULL */
	const char *what;	/* "after the switch", "at 10%": for messages */
};

enum watch_outcome {
	WATCH_QUIET,	/* the window passed */
	WATCH_FAILED,	/* errors or probe failures: switch back */
	WATCH_ABORT,	/* the operator: back to the previous state */
	WATCH_FULL,	/* the operator: straight to 100% */
	WATCH_CANCELED, /* a signal: back to the previous state */
};

struct watch_counts {
	long requests, errors, upstream_errors;
};

struct watch {
	char candidate[64];
	volatile sig_atomic_t *cancel; /* the job's, or NULL */

	/* the log follower */
	struct docker_client *client;
	pthread_t thread;
	int started;
	volatile sig_atomic_t stop;
	pthread_mutex_t mu;
	int attached, ended; /* under mu */
	char log_error[256]; /* why the log is not read, "" when it is */
	struct buf line;     /* follower thread only */
	struct docker_demux demux;

	/* under mu */
	struct watch_counts cand, other;
	char first[WATCH_FIRST_MAX][320]; /* first failing requests, as evidence */
	int nfirst;

	/* the probes (caller's thread) */
	long probes, probe_failures;
	int streak;
	char probe_error[400];
};

/* Attach to the router's log before the switch.  Never fails the action: a
 * router whose log cannot be read is watched by the probes alone (log_error
 * says why, and the figures say so).  cancel: set by a signal handler when
 * the job is canceled (the window then ends), or NULL. */
void watch_begin(struct watch *w, struct deploy_ctx *d, struct env_state *state,
		 const char *candidate, volatile sig_atomic_t *cancel);
/* Run one window.  The counters start from zero. */
enum watch_outcome watch_run(struct watch *w, struct deploy_ctx *d, struct env_state *state,
			     const struct watch_opts *o, struct buf *reason);
/* The window's figures, one line: "green: 240 requests, 0 5xx ...". */
void watch_figures(struct watch *w, struct buf *out);
void watch_end(struct watch *w);

/* "10,50,100" -> ascending weights 1..100; ERR_JOB naming the variable. */
int watch_parse_steps(const char *text, int *steps, int max, int *n, struct error *err);

/* How a promote goes, from the job's variables and the admin's defaults. */
struct promote_plan {
	int steps[8];
	int nsteps; /* 0: straight to 100% */
	int pause;  /* seconds of watch at each canary step */
	struct watch_opts watch;
	char steps_text[64];
};

/* The watch's outcome as the action's error: "<reason>; <then>". */
int watch_outcome_error(enum watch_outcome o, struct buf *reason, const char *then,
			struct error *err);
/* Drop the watch's log lines from the router file (a failure only warns). */
void watch_log_off(struct deploy_ctx *d, struct env_state *state, const char *live,
		   const char *preview);

#endif
