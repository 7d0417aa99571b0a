/* SPDX-License-Identifier: MIT */
#ifndef DURABLE_SECRETS_H
#define DURABLE_SECRETS_H

/*
 * Generated credentials of an env.
 *
 * Which names are generated is the stack's choice: the durable stack file
 * declares them under a top-level extension (read by
 * durable_secrets_parse_decls(), documented in docs/configuration.md):
 *
 *   x-executor:
 *     generate:
 *       DB_ROOT_PASSWORD: {}           # DURABLE_SECRET_LEN characters
 *       DB_PASSWORD: {length: 40}      # 16 to 256 characters
 *       DB_USER: {value: app}          # a fixed first value, not a secret
 *
 * A generated value is made with OpenSSL's CSPRNG (RAND_bytes) from
 * [A-Za-z0-9] (uniform; nothing a shell, SQL string, URL or YAML scalar
 * would need quoting for).  Values are stored in <env>/secrets.json (0600,
 * written atomically) and reused on every later run; a value already in the
 * file is never changed.  The file's "plain" list names the entries that are
 * not secret ({value: ...}).
 *
 * Every secret value generated or loaded is registered with log_add_secret(),
 * so it prints as [MASKED] in any output.  Nothing here prints a value.
 *
 * The stack files get them as interpolation variables (${DB_PASSWORD}) or,
 * after durable_secrets_write_files(), as files to mount
 * (<env>/secrets/DB_PASSWORD).  A job or CI/CD variable of the same name
 * wins over a stored one (stages/context.c): nothing is generated for it.
 *
 * Call these under the env lock (durable/lock.h).
 */

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/error.h"

#define DURABLE_SECRET_LEN 32
/* Bounds of a declared length:. */
#define DURABLE_SECRET_LEN_MIN 16
#define DURABLE_SECRET_LEN_MAX 256
/* Longest accepted secret name ([A-Z_][A-Z0-9_]*). */
#define DURABLE_SECRET_NAME_MAX 64
/* Most names one stack may declare. */
#define DURABLE_SECRET_DECLS_MAX 64

struct durable_secret {
	char *name;
	char *value;
	bool secret; /* false for the plain settings ({value: ...}) */
};

struct durable_secrets {
	struct durable_secret *items; /* stored ones first, then added, in call order */
	size_t n;
	size_t generated; /* entries added since the load, not yet saved */
};

/* One name of x-executor.generate. */
struct durable_secret_decl {
	char *name;
	char *value;	 /* {value: ...}: the first value, not secret; else NULL */
	unsigned length; /* characters to generate (value == NULL) */
	int line;	 /* where the stack file declares it */
};

struct durable_secret_decls {
	struct durable_secret_decl *items;
	size_t n;
};

/*
 * Read the top-level x-executor.generate of one stack file's text (file:
 * its name for messages).  A file without it gives n == 0; so does text
 * that is not YAML (the stack reader reports that).  A declaration that is
 * wrong is ERR_COMPOSE naming the file, line and key.
 */
int durable_secrets_parse_decls(const char *file, const char *text, size_t len,
				struct durable_secret_decls *out, struct error *err);
void durable_secret_decls_release(struct durable_secret_decls *d);

/*
 * Load <env>/secrets.json into *out (an absent file gives an empty list).
 * Writes nothing.  A secrets.json that is not what the driver writes is
 * ERR_IO naming the file (it is never overwritten); one readable by others
 * is tightened to 0600 with a warning.
 */
int durable_secrets_load(const char *state_dir, const char *env, struct durable_secrets *out,
			 struct error *err);

/*
 * Add every declared name that *s does not hold yet, in memory only:
 * generated, or its {value: ...}.  A name for which given(name, payload)
 * is true (a job variable of that name) is skipped.  Count in s->generated.
 */
int durable_secrets_add(struct durable_secrets *s, const struct durable_secret_decls *d,
			bool (*given)(const char *name, void *payload), void *payload,
			struct error *err);

/* Persist *s to <env>/secrets.json (0600) when it has entries not saved
 * yet; then s->generated is 0.  Creates the env directory when needed. */
int durable_secrets_save(const char *state_dir, const char *env, struct durable_secrets *s,
			 struct error *err);

/* load + add + save, for callers that have nothing to check in between. */
int durable_secrets_ensure(const char *state_dir, const char *env,
			   const struct durable_secret_decls *d, struct durable_secrets *out,
			   struct error *err);

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
