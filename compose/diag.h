/* SPDX-License-Identifier: MIT */
#ifndef COMPOSE_DIAG_H
#define COMPOSE_DIAG_H

/*
 * diag.c: compose's messages.  Warnings go to the caller's list (struct
 * compose_diags, printed by the caller); errors are one ERR_COMPOSE error
 * "file:line: path: what", pointing at the line that caused them.
 */

#include "common/error.h"
#include "compose/compose.h"
#include "compose/node.h"

/* A warning "file:line: message" appended to d (nothing when d is NULL or memory is out). */
void diag_add(struct compose_diags *d, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Error "file:line: path: message" of class ERR_COMPOSE at node n; returns -1. */
int diag_error(struct error *err, const struct cnode *n, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* The same at a file and line. */
int diag_error_at(struct error *err, const char *file, int line, const char *path, const char *fmt,
		  ...) __attribute__((format(printf, 5, 6)));
#if defined(__clang_analyzer__) && !defined(COMPOSE_DIAG_DEFINE)
/* always -1: the analyzer does not look into diag.c (common/error.h) */
#define diag_error(...)	   (diag_error(__VA_ARGS__), -1)
#define diag_error_at(...) (diag_error_at(__VA_ARGS__), -1)
#endif

#endif
