/* SPDX-License-Identifier: MIT */
#ifndef COMPOSE_SERVICE_H
#define COMPOSE_SERVICE_H

/* service.c: the keys beyond the original subset (build, caps, resources, secrets...) */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
	SK_DURATION,	       /* a duration like 1m30s: int64_t milliseconds */
	SK_ARGV,	       /* want_argv(): struct compose_argv */
	SK_LABELS,	       /* want_labels(): struct compose_kv * and its size_t count */
	SK_FN,		       /* fn reads it (and checks what the kind alone cannot) */
	SK_SERVICE, /* service_fn reads it from the whole service (keys that go together) */
};

struct service_key {
	const char *key;
	enum service_key_kind kind;
	size_t off, count_off; /* offsetof(struct compose_service, ...) */
	long min, max;	       /* SK_I64 */
	int (*fn)(struct mb *m, struct compose_service *s, const struct cnode *n, const char *path);
	int (*service_fn)(struct mb *m, struct compose_service *s, const struct cnode *svc,
			  const char *svc_path);
};

/* The field of struct compose_service named f, refused at compile time unless it has type T. */
#define FIELD(f, T)                                                                                \
	(offsetof(struct compose_service, f) +                                                     \
	 0 * sizeof(char[__builtin_types_compatible_p(                                             \
				 __typeof__(((struct compose_service *)0)->f), T)                  \
				 ? 1                                                               \
				 : -1]))
/* Table entries, one per kind (k: the key, also the field's name). */
/* clang-format off */
#define KEY_STRING(k)        {#k, SK_STRING, FIELD(k, char *), 0, 0, 0, NULL}
#define KEY_BOOL(k)          {#k, SK_BOOL, FIELD(k, bool), 0, 0, 0, NULL}
#define KEY_STRV(k, kind)    {#k, kind, FIELD(k, char **), FIELD(n##k, size_t), 0, 0, NULL}
#define KEY_I64(k, min, max) {#k, SK_I64, FIELD(k, int64_t), 0, min, max, NULL}
#define KEY_BYTES(k, kind)   {#k, kind, FIELD(k, int64_t), 0, 0, 0, NULL}
#define KEY_CPUS(k)          {#k, SK_CPUS, FIELD(k, double), 0, 0, 0, NULL}
#define KEY_DURATION(k, f)   {#k, SK_DURATION, FIELD(f, int64_t), 0, 0, 0, NULL}
#define KEY_ARGV(k)          {#k, SK_ARGV, FIELD(k, struct compose_argv), 0, 0, 0, NULL}
#define KEY_LABELS(k)        {#k, SK_LABELS, FIELD(k, struct compose_kv *), FIELD(n##k, size_t), 0, 0, NULL}
#define KEY_FN(k, fn)        {#k, SK_FN, 0, 0, 0, 0, fn, NULL}
#define KEY_SERVICE(k, fn)   {#k, SK_SERVICE, 0, 0, 0, 0, NULL, fn}
/* clang-format on */

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
