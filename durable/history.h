/* SPDX-License-Identifier: MIT */
#ifndef DURABLE_HISTORY_H
#define DURABLE_HISTORY_H

/*
 * Append-only history of an env's actions: <env>/history.jsonl (0600), one
 * JSON object per line:
 *
 *   {"time":"2026-11-27T03:04:05Z","env":"ci","action":"deploy","color":"green",
 *    "result":"ok","duration_ms":48213,"who":"alice","project":"group/app",
 *    "via":"job","project_id":"42","ref":"main","protected":true,
 *    "pipeline_id":"812","job_id":"4711","job_name":"deploy:green",
 *    "commit":"3f2a...","images":{"api-gateway":"app/api@sha256:..."},
 *    "message":"green is healthy; preview on :8443"}
 *
 * Under the runner, who, project, project_id, ref, protected, pipeline_id
 * and job_id come from the trusted job payload; "who_claimed" keeps a
 * GITLAB_USER_LOGIN job variable that says otherwise (a job can set it).
 * "via" is "job" or "local" (an operator's command on the host).
 * Absent optional fields are omitted.  Each entry is one write() under
 * O_APPEND followed by fsync.  If an earlier writer was killed mid-write, the
 * file ends without a newline; the next append first ends that torn line, so
 * it can never swallow a good entry.  The reader skips lines that are not
 * complete JSON objects.  The message is passed through the secret mask
 * (log_mask) before it is written.
 *
 * Append under the env lock (durable/lock.h); read without it.
 */

#include <json-c/json.h>
#include <stddef.h>
#include <time.h>

#include "common/error.h"
#include "durable/lock.h"

/* Longest message kept in an entry (longer ones are cut, with "..."). */
#define DURABLE_HISTORY_MESSAGE_MAX 2048
/* The reader looks at most at this much of the file's end. */
#define DURABLE_HISTORY_READ_LIMIT (8u * 1024u * 1024u)

/* Values of "result". */
#define DURABLE_RESULT_OK	   "ok"
#define DURABLE_RESULT_FAILED	   "failed"
#define DURABLE_RESULT_REFUSED	   "refused"
#define DURABLE_RESULT_ROLLED_BACK "rolled-back"

struct durable_history_entry {
	const char *action; /* required: "durable-setup", "deploy", "promote", ... */
	const char *color;  /* "green", or NULL */
	const char *result; /* required: one of DURABLE_RESULT_* */
	long long duration_ms;
	/* job and user: who->user NULL means $GITLAB_USER_LOGIN, else $USER;
	 * who itself may be NULL */
	const struct durable_holder *who;
	const char *commit;
	json_object *images; /* borrowed (a reference is taken); NULL to omit */
	const char *message;
	time_t time; /* 0: now */
};

/* Append one entry.  ERR_SYSTEM for a missing action or an unknown result. */
int durable_history_append(const char *state_dir, const char *env,
			   const struct durable_history_entry *e, struct error *err);

/*
 * The last max_entries valid entries (0: all within
 * DURABLE_HISTORY_READ_LIMIT), oldest first, as a new json array in
 * *array_out (caller puts it).  A missing history is an empty array.
 */
int durable_history_read(const char *state_dir, const char *env, size_t max_entries,
			 json_object **array_out, struct error *err);

#endif
