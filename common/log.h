/* SPDX-License-Identifier: MIT */
#ifndef COMMON_LOG_H
#define COMMON_LOG_H

#include <stdarg.h>
#include <stdio.h>

/*
 * The driver's own messages.  In runner mode they go to the job log
 * (stderr of prepare/run), with the runner's colours; in local mode to the
 * terminal.  Every message passes through the secret mask: a registered
 * secret is printed as [MASKED], whatever code printed it.
 */
enum log_level { LOG_DEBUG, LOG_INFO, LOG_NOTICE, LOG_WARN, LOG_ERROR };

void log_set_stream(FILE *f);
void log_set_color(int on);
void log_set_level(enum log_level min);
int log_color_enabled(void);
/* Secrets shorter than this are not registered (they would mask ordinary words). */
#define LOG_SECRET_MIN 6
/* Register a secret value (copied) to be masked in all later output. */
void log_add_secret(const char *value);
void log_clear_secrets(void);
/*
 * Masking always comes before any cut, so no part of a secret survives a
 * truncation.  log_mask: every registered secret in s replaced by [MASKED]
 * (in place; the result is cut to size, dropping an end that is the start of
 * a secret).  log_mask_copy: the same from src into dst; returns the length
 * written.  log_mask_dup: a masked copy of any length (malloc'd, NULL when
 * out of memory).
 */
void log_mask(char *s, size_t size);
size_t log_mask_copy(char *dst, size_t size, const char *src);
char *log_mask_dup(const char *s);

void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level lvl, const char *fmt, va_list ap);
/* Raw, masked write of a preformatted text (no prefix, no newline added). */
void log_raw(const char *s);

#define log_debug(...)	log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...)	log_msg(LOG_ERROR, __VA_ARGS__)

#endif
