/* SPDX-License-Identifier: MIT */
#ifndef COMPOSE_SERVICE_H
#define COMPOSE_SERVICE_H

/* service.c: the keys beyond the original subset (build, caps, resources, secrets...) */

#include <stddef.h>

#include "compose/compose.h"
#include "compose/node.h"
#include "compose/want.h"

/*
 * Service keys read from a table: each key's node (NULL when absent) goes to
 * the reader its kind names, into the field at off (and the count at
 * count_off for lists), or to fn.  The table's order is the order of reading,
 * so the first error found is the one reported.
 */
enum service_key_kind {
	SK_STRING,	       /* want_nonempty(): char *, "" refused */
	SK_BOOL,	       /* want_bool(): bool */
	SK_STRV,	       /* want_strv(): char ** and its size_t count */
	SK_STRV_ONE,	       /* the same, a string being a list of one */
	SK_I64,		       /* a whole number from min to max: int64_t */
	SK_BYTES,	       /* a size like 512m: int64_t */
	SK_BYTES_OR_MINUS_ONE, /* the same, or -1 */
	SK_CPUS,	       /* a number of CPUs like 0.5: double */
	SK_FN,		       /* fn reads it (and checks what the kind alone cannot) */
};

struct service_key {
	const char *key;
	enum service_key_kind kind;
	size_t off, count_off; /* offsetof(struct compose_service, ...) */
	long min, max;	       /* SK_I64 */
	int (*fn)(struct mb *m, struct compose_service *s, const struct cnode *n, const char *path);
};

int compose_service_keys(struct mb *m, struct compose_service *s, const struct cnode *svc,
			 const char *path, const struct service_key *keys, size_t nkeys);

/* The keys beyond the original subset, with their defaults. */
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

#endif
