/* SPDX-License-Identifier: MIT */
#ifndef DURABLE_LOCK_H
#define DURABLE_LOCK_H

/*
 * The per-env lock around every action.
 *
 * flock(LOCK_EX) on <env>/lock, tried every 250 ms.  The kernel drops an
 * flock when the last descriptor of its open file goes away, so a holder
 * killed with SIGKILL never leaves a stale lock; the lock file itself is
 * never removed (removing it would let two processes lock different inodes).
 * The descriptor is O_CLOEXEC: scripts and helpers the driver runs do not
 * inherit it.  Note that a fork()ed child without exec does share it.
 *
 * After acquiring, the holder's details are written atomically to
 * <env>/lock.holder, so that a waiter can say who it is waiting for:
 *
 *   waiting for the lock on env 'ci': held by job 123 (deploy green) since
 *   12:03:04, pid 4567
 *
 * printed with log_info when the wait starts and then every 5 s.  On timeout
 * the error is ERR_LOCK (a system failure: retryable):
 *
 *   env 'ci' is locked by job 123 (deploy green) for 600 s (held since
 *   12:03:04, pid 4567); giving up — retry when it finishes, or raise
 *   lock_timeout
 *
 * The lock is not re-entrant: acquiring it twice in one process is a driver
 * bug and fails at once (ERR_SYSTEM).  Acquiring also removes temp files
 * left by interrupted atomic writes (durable_env_sweep_tmp).
 */

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include "common/error.h"

/*
 * Who is acquiring; every field optional (NULL).  Under the runner every
 * field comes from the trusted job payload; a job variable that says
 * something else is kept apart as claimed, never in its place.
 */
struct durable_holder {
	const char *action;	   /* "deploy green", "durable setup" */
	const char *job_id;	   /* the payload's job id */
	const char *job_name;	   /* the payload's job name */
	const char *pipeline_id;   /* the payload's CI_PIPELINE_ID */
	const char *project;	   /* the payload's project path */
	const char *project_id;	   /* the payload's project id */
	const char *ref;	   /* the payload's git ref */
	const char *protected_ref; /* the payload's git_info.protected: "true", "false", NULL */
	const char *via;	   /* "job" (gitlab-runner) or "local" (an operator) */
	const char *user;	   /* GITLAB_USER_LOGIN; NULL: $GITLAB_USER_LOGIN, $USER, passwd */
	/* a job variable that claims another user than the payload's */
	const char *user_claimed;
	/* Polled while waiting; non-zero gives up with ERR_CANCELED. */
	volatile sig_atomic_t *cancel;
};

/* An acquired lock; zero-initialised (fd = -1 via DURABLE_LOCK_INIT) when not held. */
struct durable_lock {
	int fd;
	char *path;	   /* <env>/lock */
	char *holder_path; /* <env>/lock.holder */
	char *env;
};

#define DURABLE_LOCK_INIT                                                                          \
	{                                                                                          \
		.fd = -1, .path = NULL, .holder_path = NULL, .env = NULL                           \
	}

#define DURABLE_LOCK_POLL_MS  250
#define DURABLE_LOCK_PRINT_MS 5000

/*
 * Take the env's lock, waiting at most timeout_s seconds (0: one try,
 * negative: no limit).  Creates the env directory when needed.  *out must
 * be DURABLE_LOCK_INIT (or released); on success it holds the lock until
 * durable_lock_release().
 */
int durable_lock_acquire(const char *state_dir, const char *env, const struct durable_holder *who,
			 int timeout_s, struct durable_lock *out, struct error *err);

/* Remove lock.holder, unlock, close.  Idempotent; safe on DURABLE_LOCK_INIT. */
void durable_lock_release(struct durable_lock *l);

static inline void durable_lock_releasep(struct durable_lock *l)
{
	durable_lock_release(l);
}
#define _cleanup_durable_lock_ __attribute__((cleanup(durable_lock_releasep)))

/* What lock.holder says, as read by waiters and `executor status`. */
struct durable_lock_info {
	bool held;  /* the lock is held right now */
	bool known; /* the fields below describe the current holder */
	pid_t pid;
	time_t since;
	char host[256];
	char action[128];
	char job_id[32];
	char job_name[256];
	char pipeline_id[32];
	char project[256];
	char user[128];
};

/*
 * Is the env locked, and by whom?  Never waits (it may delay a concurrent
 * acquirer by one poll interval).  A missing env is "not held".
 */
int durable_lock_query(const char *state_dir, const char *env, struct durable_lock_info *info,
		       struct error *err);

/*
 * "job 123 (deploy green) since 12:03:04, pid 4567" — the holder as the
 * messages above describe it.
 */
void durable_lock_describe(const struct durable_lock_info *info, char *out, size_t size);

#endif
