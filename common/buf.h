/* SPDX-License-Identifier: MIT */
#ifndef COMMON_BUF_H
#define COMMON_BUF_H

#include <stdarg.h>
#include <stddef.h>

/*
 * The one growable byte buffer: always NUL-terminated, with a hard size
 * limit set at init (0 = BUF_DEFAULT_LIMIT).  Appends past the limit fail
 * with -1 and leave the buffer unchanged.
 */
#define BUF_DEFAULT_LIMIT (64u * 1024u * 1024u)

struct buf {
	char *data;
	size_t len;
	size_t cap;
	size_t limit;
};

#define BUF_INIT                                                                                   \
	{                                                                                          \
		.data = NULL, .len = 0, .cap = 0, .limit = 0                                       \
	}

void buf_init(struct buf *b, size_t limit);
void buf_release(struct buf *b);
void buf_reset(struct buf *b);
int buf_append(struct buf *b, const void *data, size_t len);
int buf_puts(struct buf *b, const char *s);
int buf_putc(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Remove the first n bytes. */
void buf_consume(struct buf *b, size_t n);
/* Detach the data (caller frees); the buffer is reset. Never NULL. */
char *buf_detach(struct buf *b, size_t *len);
/* A view that is always a valid C string, even when empty. */
const char *buf_str(const struct buf *b);

static inline void cleanup_bufp(struct buf *b)
{
	buf_release(b);
}
#define _cleanup_buf_ __attribute__((cleanup(cleanup_bufp)))

#endif
