/* SPDX-License-Identifier: MIT */
#ifndef COMPOSE_INTERNAL_H
#define COMPOSE_INTERNAL_H

/*
 * Private to compose/: the generic tree a stack file is read into, and the
 * passes over it.  The pipeline, per compose_load():
 *
 *   yaml.c     each file -> tree (libfyaml; aliases and << merge keys
 *              expanded, !reset / !override tags kept as flags), then every
 *              scalar value interpolated (not keys, not x- extensions)
 *   schema.c   each file's keys checked: unknown or unsupported -> warning
 *   merge.c    each file normalized (list forms of environment, labels,
 *              depends_on, networks, extra_hosts become mappings), then the
 *              files merged in -f order, then !reset entries dropped
 *   model.c    merged tree -> struct compose_project, with type checks and
 *              validation (every message "file:line: path: what")
 *
 * Every node remembers the file and line it came from, so a problem found
 * after merging still points at the line that caused it.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/error.h"
#include "compose/compose.h"

/* Bounds that keep hostile input from exhausting memory or stack. */
#define COMPOSE_FILE_MAX     (4u * 1024u * 1024u) /* bytes per stack file */
#define COMPOSE_ENV_FILE_MAX (1024u * 1024u)	  /* bytes per env_file */
#define COMPOSE_NODES_MAX    200000u		  /* nodes per file, aliases expanded */
/*
 * Bytes of the expanded document, all files of a project together: every
 * scalar's and key's text as aliases are materialised, variables substituted
 * and env files read, plus each node's own size.  The node budget alone lets
 * 1 MB of aliases to a large scalar become ~1 GB.  32 MiB is 8 times the
 * largest stack file accepted, far above what real files reach (a stack file
 * of a few KB with x- anchors expands to a few times its size), and keeps the
 * tree and the model built from it (a small multiple of it) well under the
 * memory of a job.
 */
#define COMPOSE_EXPANDED_MAX	(32u * 1024u * 1024u)
#define COMPOSE_DEPTH_MAX	64     /* nesting of the expanded tree */
#define COMPOSE_PORTS_MAX	65536u /* ports of one service, ranges expanded */
#define COMPOSE_SERVICES_MAX	1000u  /* services of one project */
#define COMPOSE_PATH_MAX	512    /* key paths in messages */
#define COMPOSE_ENGINE_NAME_MAX 255    /* volume and network names */

enum cnode_kind {
	CN_NULL,
	CN_SCALAR,
	CN_MAP,
	CN_SEQ,
};

enum cnode_flags {
	CN_F_RESET = 1u << 0,	 /* !reset: drop what earlier files set */
	CN_F_OVERRIDE = 1u << 1, /* !override: replace instead of merging */
	CN_F_QUOTED = 1u << 2,	 /* quoted or block scalar, or tagged !!str */
};

struct cnode;

/* A mapping entry (key set) or a sequence item (key NULL). */
struct centry {
	char *key;
	int line; /* line of the key, or of the item */
	struct cnode *val;
};

struct cnode {
	enum cnode_kind kind;
	unsigned flags;
	const char *file;     /* interned: owned by the load context */
	int line;	      /* 1-based; 0 when unknown */
	char *str;	      /* CN_SCALAR: the text (never NULL) */
	struct centry *items; /* CN_MAP, CN_SEQ */
	size_t n, cap;
};

/* node.c */
struct cnode *cnode_new(enum cnode_kind kind, const char *file, int line);
struct cnode *cnode_new_scalar(const char *s, const char *file, int line);
void cnode_free(struct cnode *n);
static inline void cleanup_cnodep(struct cnode **n)
{
	cnode_free(*n);
}
#define _cleanup_cnode_ __attribute__((cleanup(cleanup_cnodep)))
/* Append an entry; takes ownership of val (freed on failure). */
int cnode_append(struct cnode *n, const char *key, int line, struct cnode *val);
/* The entry for key in a mapping, or NULL. */
struct centry *cnode_find(const struct cnode *map, const char *key);
struct cnode *cnode_get(const struct cnode *map, const char *key);
void cnode_remove_at(struct cnode *n, size_t i);
const char *cnode_kind_name(const struct cnode *n);

/* Make room for element n of a array grown only by this function (doubling). */
int grow_array(void **arr, size_t n, size_t size);
/* Set key to value (copied; NULL = unset) in an ordered list, replacing in place. */
int kv_set(struct compose_kv **kv, size_t *n, const char *key, const char *value);

/* Key paths for messages: "services.api.ports[0]". */
void path_key(char *dst, size_t size, const char *parent, const char *key);
void path_index(char *dst, size_t size, const char *parent, size_t i);

/* An absolute, lexically cleaned path: p itself when absolute, else dir/p. */
char *compose_abspath(const char *dir, const char *p);

/* Diagnostics (compose.c). */
void diag_add(struct compose_diags *d, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Error "file:line: path: message" of class ERR_COMPOSE; returns -1. */
int node_error(struct error *err, const struct cnode *n, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
int at_error(struct error *err, const char *file, int line, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
#if defined(__clang_analyzer__) && !defined(COMPOSE_ERROR_DEFINE)
/* always -1: the analyzer does not look into compose.c (common/error.h) */
#define node_error(...) (node_error(__VA_ARGS__), -1)
#define at_error(...)	(at_error(__VA_ARGS__), -1)
#endif

/* The load context shared by the passes. */
struct compose_ctx {
	compose_lookup_fn lookup;
	void *payload;
	struct compose_diags *diags;
	char **files; /* interned file names, as given */
	size_t nfiles;
	char *project_dir;  /* absolute */
	char *root;	    /* absolute, or NULL: compose_load_opts.root */
	char **warned_vars; /* unset variables already warned about */
	size_t nwarned;
	size_t expanded; /* bytes of the expanded document so far (COMPOSE_EXPANDED_MAX) */
	/* the .env file's variables (the caller's win over them) */
	struct compose_kv *dotenv;
	size_t ndotenv;
	/* services left out by profiles, for messages about references to them */
	char **disabled;
	size_t ndisabled;
	int include_depth;
	char **including; /* the files being included, to refuse a cycle (not owned) */
	size_t nincluding;
	/* an included project's env files: below the caller's and the .env's */
	struct compose_kv *inc_env;
	size_t ninc_env;
	const struct compose_load_opts *opts;
};

/* A variable: the caller's, else the .env file's, else NULL. */
const char *compose_var(struct compose_ctx *ctx, const char *name);

/* Is the file at abs (absolute) readable under the confinement rules?  Returns the
 * base directory to read it beneath and the path relative to it, or NULL when it lies
 * outside (root, else the project directory). */
const char *compose_confine(const struct compose_ctx *ctx, const char *abs, const char **rel);

/* Count bytes against COMPOSE_EXPANDED_MAX; false once the budget is exceeded. */
bool compose_budget_add(struct compose_ctx *ctx, size_t bytes);

/* yaml.c: read text into a tree, interpolated.  *out is a mapping. */
int compose_yaml_load(struct compose_ctx *ctx, const char *file, const char *text, size_t len,
		      struct cnode **out, struct error *err);

/* schema.c: warn about metadata keys; refuse unknown keys and keys that would be dropped. */
int compose_schema_check(struct compose_ctx *ctx, const struct cnode *root, struct error *err);

/* merge.c */
int compose_normalize(struct cnode *root, struct error *err);
/* Merge over into base (consumes over). */
int compose_merge(struct cnode *base, struct cnode *over, struct error *err);
/* Merge one service definition over another (extends), with the services.* rules. */
int compose_merge_service(struct cnode *base, struct cnode *over, struct error *err);
/* A deep copy, or NULL when out of memory. */
struct cnode *cnode_clone(const struct cnode *n);
/* Drop entries still tagged !reset and clear !override flags. */
void compose_prune(struct cnode *root);

/* Short syntax, shared by merge (keys) and model (values). */
struct port_spec {
	char ip[64];
	char published[32]; /* "" when not published, "8000" or "8000-8010" */
	char target[32];    /* "80" or "80-81" */
	char protocol[8];
};
int parse_port_short(const char *s, struct port_spec *out);
/* "src:dst[:mode]" or "dst"; each out pointer receives a malloc'd string or NULL. */
int parse_volume_short(const char *s, char **src, char **dst, char **mode);

/* model.c */
int compose_model_build(struct compose_ctx *ctx, struct cnode *root,
			const struct compose_load_opts *opts, struct compose_project **out,
			struct error *err);

/* The model builder's state and its typed readers, shared by model.c and service.c. */
struct mb {
	struct compose_ctx *ctx;
	struct compose_project *p;
	struct error *err;
};

int mb_oom(struct mb *m);
int want_string(struct mb *m, const struct cnode *n, const char *path, char **out);
int want_nonempty(struct mb *m, const struct cnode *n, const char *path, char **out);
int want_bool(struct mb *m, const struct cnode *n, const char *path, bool *out);
int want_int(struct mb *m, const struct cnode *n, const char *path, long min, long max, long *out);
int want_map(struct mb *m, const struct cnode *n, const char *path);
int want_argv(struct mb *m, const struct cnode *n, const char *path, struct compose_argv *out);
int want_labels(struct mb *m, const struct cnode *n, const char *path, struct compose_kv **kv,
		size_t *nkv);
int parse_bool_text(const char *s, bool *b);
/* service.c: the keys beyond the original subset (build, caps, resources, secrets...) */
int compose_service_extras(struct mb *m, struct compose_service *s, const struct cnode *svc,
			   const char *path);
int compose_file_defs(struct mb *m, const struct cnode *root, const char *section,
		      struct compose_file_def **out, size_t *nout);
int compose_network_extras(struct mb *m, struct compose_resource *r, const struct cnode *v,
			   const char *path);
int compose_check_references(struct mb *m);
void compose_service_extras_free(struct compose_service *s);
void compose_file_defs_free(struct compose_file_def *d, size_t n);
void compose_network_extras_free(struct compose_resource *r);
void kv_free(struct compose_kv *kv, size_t n);
/* A string list (cap_add, dns...): a string is a list of one when one_ok. */
int want_strv(struct mb *m, const struct cnode *n, const char *path, bool one_ok, char ***out,
	      size_t *nout);

/* envfile.c: parse dotenv text; appends to *kv (replacing earlier keys).  raw: the
 * `format: raw` of env_file: KEY=value taken as written, no quotes, no interpolation. */
int compose_envfile_parse(struct compose_ctx *ctx, const char *path, const char *text,
			  struct compose_kv **kv, size_t *n, struct error *err);
int compose_envfile_parse_raw(const char *path, const char *text, struct compose_kv **kv, size_t *n,
			      struct error *err);

/* util: scalar conversions (model.c). */
int parse_duration_ms(const char *s, int64_t *ms);
int parse_bytes(const char *s, int64_t *bytes);
/* "0.5", "2", "1.25": a non-negative decimal number. */
int parse_double(const char *s, double *out);
/* Split a command string the way a POSIX shell would, without expansion. */
int shell_split(const char *s, char ***argv, size_t *argc);
void strv_free(char **v, size_t n);

#endif
