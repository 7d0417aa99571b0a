/* SPDX-License-Identifier: MIT */
#ifndef COMPOSE_SCALAR_H
#define COMPOSE_SCALAR_H

/* scalar.c: the scalar formats of Compose files; each returns 0, or -1 when s is not one. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Go's durations: "1m30s", "10s", "500ms"; in milliseconds. */
int scalar_duration_ms(const char *s, int64_t *ms);
/* Byte sizes: "512", "64m", "1.5gb". */
int scalar_bytes(const char *s, int64_t *bytes);
/* "0.5", "2", "1.25": a non-negative decimal number. */
int scalar_double(const char *s, double *out);
/* YAML 1.1's and Go's booleans: true, True, TRUE, 1, t, T and their false forms. */
int scalar_bool(const char *s, bool *b);
/* A whole decimal number from min to max, nothing before or after it. */
int scalar_long(const char *s, long min, long max, long *out);
/* Split a command string the way a POSIX shell would, without expansion. */
int scalar_shell_split(const char *s, char ***argv, size_t *argc);
/* Free a string list of n entries, as scalar_shell_split() returns. */
void scalar_strv_free(char **v, size_t n);

#endif
