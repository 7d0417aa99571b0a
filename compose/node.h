/* SPDX-License-Identifier: MIT */
#ifndef COMPOSE_NODE_H
#define COMPOSE_NODE_H

/*
 * node.c: the generic tree a stack file is read into (private to compose/).
 * The passes over it, per compose_load() (load.c):
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
/* A deep copy, or NULL when out of memory. */
struct cnode *cnode_clone(const struct cnode *n);

/* Key paths for messages: "services.api.ports[0]". */
void path_key(char *dst, size_t size, const char *parent, const char *key);
void path_index(char *dst, size_t size, const char *parent, size_t i);

#endif
