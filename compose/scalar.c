/* SPDX-License-Identifier: MIT */
/* Scalar formats of Compose files: durations, byte sizes, numbers, booleans, command strings. */
#include "compose/scalar.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/cleanup.h"

/*
 * Go's time.ParseDuration, which Compose uses: "1m30s", "10s", "500ms",
 * "1.5h", "2h45m"; units ns, us (µs), ms, s, m, h; "0" alone.  Rounded down
 * to milliseconds.  Capped at about 290 years (int64 nanoseconds).
 */
int scalar_duration_ms(const char *s, int64_t *ms)
{
	static const struct {
		const char *unit;
		int64_t ns;
	} units[] = {
		{"ns", 1},
		{"us", 1000},
		{"\xc2\xb5s", 1000}, /* µs, micro sign */
		{"\xce\xbcs", 1000}, /* μs, Greek mu */
		{"ms", 1000000},
		{"s", 1000000000},
		{"m", 60LL * 1000000000},
		{"h", 3600LL * 1000000000},
	};
	const char *p = s;
	int64_t total = 0;

	if (!strcmp(s, "0")) {
		*ms = 0;
		return 0;
	}
	if (!*p)
		return -1;
	while (*p) {
		int64_t whole = 0, frac = 0, frac_scale = 1, unit = 0;
		bool digits = false;
		size_t i, ulen = 0;

		while (*p >= '0' && *p <= '9') {
			if (whole > (INT64_MAX - 9) / 10)
				return -1;
			whole = whole * 10 + (*p++ - '0');
			digits = true;
		}
		if (*p == '.') {
			p++;
			while (*p >= '0' && *p <= '9') {
				if (frac_scale < 1000000000) {
					frac = frac * 10 + (*p - '0');
					frac_scale *= 10;
				}
				p++;
				digits = true;
			}
		}
		if (!digits)
			return -1;
		/* the longest unit that matches: "ms" before "m" */
		for (i = 0; i < ARRAY_SIZE(units); i++) {
			size_t len = strlen(units[i].unit);

			if (len > ulen && !strncmp(p, units[i].unit, len)) {
				unit = units[i].ns;
				ulen = len;
			}
		}
		if (!unit)
			return -1;
		p += ulen;
		if (whole > INT64_MAX / unit)
			return -1;
		whole *= unit;
		/* frac < frac_scale <= 1e9 and unit <= 3.6e12: compute without overflow */
		whole += (int64_t)((long double)frac * (long double)unit / (long double)frac_scale);
		if (whole < 0 || total > INT64_MAX - whole)
			return -1;
		total += whole;
	}
	*ms = total / 1000000;
	return 0;
}

/*
 * Docker's RAMInBytes, which Compose uses for every byte size: "1024",
 * "64m", "1g", "512k", "10mb", "1.5g", "2 GiB" (case-insensitive; b, k, m,
 * g, t, p, binary multiples, an optional "i" and "b").
 */
int scalar_bytes(const char *s, int64_t *bytes)
{
	static const char units[] = "kmgtp";
	unsigned long long whole = 0;
	long double frac = 0, scale = 1, total;
	const char *p = s, *u;
	long double mult = 1;

	if (*p < '0' || *p > '9')
		return -1;
	while (*p >= '0' && *p <= '9') {
		if (whole > (unsigned long long)INT64_MAX / 10)
			return -1;
		whole = whole * 10 + (unsigned long long)(*p++ - '0');
	}
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -1;
		while (*p >= '0' && *p <= '9') {
			scale /= 10;
			frac += (long double)(*p++ - '0') * scale;
		}
	}
	if (*p == ' ')
		p++;
	if (*p && (u = strchr(units, *p | 0x20)) != NULL) {
		int i;

		for (i = 0; i <= u - units; i++)
			mult *= 1024;
		p++;
	}
	if ((*p | 0x20) == 'i' && mult > 1)
		p++;
	if ((*p | 0x20) == 'b')
		p++;
	if (*p)
		return -1;
	total = ((long double)whole + frac) * mult;
	if (total >= (long double)INT64_MAX)
		return -1;
	*bytes = (int64_t)total;
	return 0;
}

/* "0.5", "2", "1.25", ".5": a non-negative decimal number, finite. */
int scalar_double(const char *s, double *out)
{
	char *end;
	double v;
	const char *p;

	for (p = s; *p; p++)
		if (!((*p >= '0' && *p <= '9') || *p == '.'))
			return -1;
	if (!*s || !strcmp(s, "."))
		return -1;
	v = strtod(s, &end);
	if (*end || !(v >= 0) || v > 1e9)
		return -1;
	*out = v;
	return 0;
}

int scalar_bool(const char *s, bool *b)
{
	static const char *const yes[] = {"true", "True", "TRUE", "1", "t", "T"};
	static const char *const no[] = {"false", "False", "FALSE", "0", "f", "F"};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(yes); i++) {
		if (!strcmp(s, yes[i])) {
			*b = true;
			return 0;
		}
		if (!strcmp(s, no[i])) {
			*b = false;
			return 0;
		}
	}
	return -1;
}

int scalar_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (!*s || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

void scalar_strv_free(char **v, size_t n)
{
	size_t i;

	if (!v)
		return;
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int strv_push(char ***v, size_t *n, struct buf *word)
{
	char **nv = realloc(*v, (*n + 2) * sizeof(*nv));

	if (!nv)
		return -1;
	*v = nv;
	nv[*n] = buf_detach(word, NULL);
	nv[++*n] = NULL;
	return 0;
}

/*
 * Split a command string into words as a POSIX shell would, without any
 * expansion: blanks separate words, '...' is literal, "..." keeps blanks and
 * honours \" \\ \$ \`, a backslash outside quotes escapes the next character.
 * Returns -1 on an unterminated quote or a trailing backslash; *argv is
 * NULL-terminated.
 */
int scalar_shell_split(const char *s, char ***argv, size_t *argc)
{
	_cleanup_buf_ struct buf word = BUF_INIT;
	char **v = NULL;
	size_t n = 0;
	bool in_word = false;
	const char *p = s;

	buf_init(&word, 0);
	while (*p) {
		char c = *p;

		if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			if (in_word && strv_push(&v, &n, &word) < 0)
				goto fail;
			in_word = false;
			p++;
			continue;
		}
		in_word = true;
		if (c == '\'') {
			const char *close = strchr(p + 1, '\'');

			if (!close || buf_append(&word, p + 1, (size_t)(close - p - 1)) < 0)
				goto fail;
			p = close + 1;
		} else if (c == '"') {
			p++;
			while (*p && *p != '"') {
				if (*p == '\\' && p[1] && strchr("\"\\$`", p[1]))
					p++;
				if (buf_putc(&word, *p) < 0)
					goto fail;
				p++;
			}
			if (*p != '"')
				goto fail;
			p++;
		} else if (c == '\\') {
			if (!p[1] || buf_putc(&word, p[1]) < 0)
				goto fail;
			p += 2;
		} else {
			if (buf_putc(&word, c) < 0)
				goto fail;
			p++;
		}
	}
	if (in_word && strv_push(&v, &n, &word) < 0)
		goto fail;
	if (!v) {
		v = calloc(1, sizeof(*v));
		if (!v)
			goto fail;
	}
	*argv = v;
	*argc = n;
	return 0;
fail:
	scalar_strv_free(v, n);
	return -1;
}
