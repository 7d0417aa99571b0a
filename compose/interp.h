/* SPDX-License-Identifier: MIT */
#ifndef COMPOSE_INTERP_H
#define COMPOSE_INTERP_H

#include "common/buf.h"
#include "common/error.h"

/*
 * Compose variable interpolation, as the Compose specification defines it:
 *
 *   $VAR  ${VAR}          value of VAR ("" and a report when unset)
 *   ${VAR:-default}       default when VAR is unset or empty
 *   ${VAR-default}        default when VAR is unset
 *   ${VAR:?message}       error with message when VAR is unset or empty
 *   ${VAR?message}        error with message when VAR is unset
 *   ${VAR:+replacement}   replacement when VAR is set and non-empty, else ""
 *   ${VAR+replacement}    replacement when VAR is set, else ""
 *   $$                    a literal $
 *
 * Names are [_a-zA-Z][_a-zA-Z0-9]*.  Defaults, replacements and messages are
 * themselves interpolated, and only when they are used.  A `$` followed by
 * anything that does not start a name or `{` is kept as it is.  Substituted
 * values are never interpolated again.
 */

/* The value of a variable, or NULL when it is unset (an empty string is set). */
typedef const char *(*compose_lookup_fn)(const char *name, void *payload);

/* Told about each variable substituted as "" because it is unset and has no default. */
typedef void (*compose_unset_fn)(const char *name, void *payload);

/*
 * Interpolate `in` and append the result to `out`.  Returns 0, or -1 with an
 * ERR_COMPOSE error: the message of a `:?` / `?` form ("required variable
 * DB_PASSWORD is missing a value: set it in the job's variables"), or a
 * syntax problem (unterminated `${`, bad name, unsupported operator).  On
 * failure `out` may hold part of the result.  lookup may be NULL (all
 * variables unset).
 */
int compose_interpolate(const char *in, compose_lookup_fn lookup, void *payload, struct buf *out,
			struct error *err);

/* The same, and `unset` (may be NULL) is called for each unset variable without a default. */
int compose_interpolate_full(const char *in, compose_lookup_fn lookup, compose_unset_fn unset,
			     void *payload, struct buf *out, struct error *err);

#endif
