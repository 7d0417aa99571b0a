/* SPDX-License-Identifier: MIT */
#ifndef DURABLE_SECRETS_H
#define DURABLE_SECRETS_H

/*
 * Generated credentials of an env.
 *
 * On first use the driver generates the database passwords and the router's
 * credentials with OpenSSL's CSPRNG (RAND_bytes): DURABLE_SECRET_LEN
 * characters from [A-Za-z0-9] (uniform, ~190 bits; nothing a shell, SQL
 * string, URL or YAML scalar would need quoting for).  They are stored in
 * <env>/secrets.json (0600, written atomically) and reused on every later
 * run; values already in the file are never changed.
 *
 * Every secret value generated or loaded is registered with log_add_secret(),
 * so it prints as [MASKED] in any output.  Nothing here prints a value.
 *
 * The standard set, always present:
 *   DB_ROOT_PASSWORD      secret
 *   DB_PASSWORD           secret
 *   DB_USER               "app"       (not secret)
 *   DB_NAME               "echobase"  (not secret)
 *   ROUTER_AUTH_USER      "executor"  (not secret)
 *   ROUTER_AUTH_PASSWORD  secret
 * plus any extra names the caller asks for (always generated as secrets).
 *
 * The stack files get them as interpolation variables (${DB_PASSWORD}) or,
 * after durable_secrets_write_files(), as files to mount
 * (<env>/secrets/DB_PASSWORD).
 *
 * Call these under the env lock (durable/lock.h).
 */

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/error.h"

#define DURABLE_SECRET_LEN 32
/* Longest accepted secret name ([A-Z_][A-Z0-9_]*). */
#define DURABLE_SECRET_NAME_MAX 64

struct durable_secret {
	char *name;
	char *value;
	bool secret; /* false for the plain settings (DB_USER, DB_NAME, ...) */
};

struct durable_secrets {
	struct durable_secret *items; /* standard set first, then extras, in call order */
	size_t n;
	size_t generated; /* how many values this call generated (0 on a re-run) */
};

/*
 * Load <env>/secrets.json, generate whatever of the standard set and of
 * `extra` (NULL-terminated, may be NULL) is missing, persist the file when
 * anything was added, and fill *out (release with durable_secrets_release).
 * Creates the env directory when needed.  A secrets.json that is not what
 * the driver writes is ERR_IO naming the file (it is never overwritten); one
 * readable by others is tightened to 0600 with a warning.  A bad extra name
 * is ERR_JOB.
 */
int durable_secrets_ensure(const char *state_dir, const char *env, const char *const *extra,
			   struct durable_secrets *out, struct error *err);

/* Value of `name`, or NULL when absent. */
const char *durable_secrets_get(const struct durable_secrets *s, const char *name);

/* Free the list, wiping the values from memory first. */
void durable_secrets_release(struct durable_secrets *s);

/*
 * Write each entry to <env>/secrets/<NAME> (0600, atomically; the directory
 * 0700), for stack files that mount them (`secrets:` or `*_FILE` variables).
 * uid/gid: owner of the files, so that a container's non-root user can read
 * its bind-mounted file; (uid_t)-1 / (gid_t)-1 keep the driver's.  Files
 * whose content is already right are left alone.
 */
int durable_secrets_write_files(const char *state_dir, const char *env,
				const struct durable_secrets *s, uid_t uid, gid_t gid,
				struct error *err);

/*
 * Forget the env's secrets (secrets.json and secrets/).  Only together with
 * the database volumes: a kept volume still holds the old passwords.
 */
int durable_secrets_remove(const char *state_dir, const char *env, struct error *err);

#endif
