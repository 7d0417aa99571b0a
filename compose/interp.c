/* SPDX-License-Identifier: MIT */
#include "compose/interp.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"

/* `${A:-${B:-${C}}}` nests; a bound keeps hostile input off the stack. */
#define INTERP_DEPTH_MAX 32
/* How much of the offending text an error quotes. */
#define INTERP_QUOTE_MAX 80

struct interp {
	compose_lookup_fn lookup;
	compose_unset_fn unset;
	void *payload;
	const char *whole; /* the caller's input, quoted in syntax errors */
};

static bool is_name_start(char c)
{
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_name_char(char c)
{
	return is_name_start(c) || (c >= '0' && c <= '9');
}

static int oom(struct error *err)
{
	return error_set(err, ERR_SYSTEM, "out of memory");
}

static int syntax_error(const struct interp *ip, struct error *err, const char *what)
{
	size_t len = strlen(ip->whole);

	if (len > INTERP_QUOTE_MAX)
		return error_set(err, ERR_COMPOSE, "invalid interpolation in \"%.*s...\": %s",
				 INTERP_QUOTE_MAX, ip->whole, what);
	return error_set(err, ERR_COMPOSE, "invalid interpolation in \"%s\": %s", ip->whole, what);
}

/*
 * The `}` that closes a `${` whose body starts at s, skipping nested `${...}`,
 * `{...}` and `$$`; NULL when there is none before end.
 */
static const char *find_close(const char *s, const char *end)
{
	int depth = 0;
	const char *p;

	for (p = s; p < end; p++) {
		if (p[0] == '$' && p + 1 < end && (p[1] == '$' || p[1] == '{')) {
			if (p[1] == '{')
				depth++;
			p++;
			continue;
		}
		/* every brace counts, as compose-go counts them: ${VAR:-{"a":1}} */
		if (*p == '{')
			depth++;
		if (*p == '}') {
			if (depth == 0)
				return p;
			depth--;
		}
	}
	return NULL;
}

static int interp_range(const struct interp *ip, const char *s, const char *end, struct buf *out,
			int depth, struct error *err);

static const char *lookup(const struct interp *ip, const char *name)
{
	return ip->lookup ? ip->lookup(name, ip->payload) : NULL;
}

static int put_value(const struct interp *ip, const char *name, const char *value, struct buf *out,
		     struct error *err)
{
	if (!value) {
		if (ip->unset)
			ip->unset(name, ip->payload);
		return 0;
	}
	if (buf_puts(out, value) < 0)
		return oom(err);
	return 0;
}

/* The body of `${...}`: [b, e), e pointing at the closing brace. */
static int expand_braced(const struct interp *ip, const char *b, const char *e, struct buf *out,
			 int depth, struct error *err)
{
	_cleanup_free_ char *name = NULL;
	const char *p = b, *value, *arg;
	bool colon = false;
	char op;

	if (p == e)
		return syntax_error(ip, err, "empty variable name in \"${}\"");
	if (!is_name_start(*p))
		return syntax_error(ip, err, "a variable name must start with a letter or _");
	while (p < e && is_name_char(*p))
		p++;
	name = strndup(b, (size_t)(p - b));
	if (!name)
		return oom(err);
	value = lookup(ip, name);
	if (p == e)
		return put_value(ip, name, value, out, err);

	if (*p == ':' && p + 1 < e && (p[1] == '-' || p[1] == '?' || p[1] == '+')) {
		colon = true;
		p++;
	}
	op = *p;
	if (op != '-' && op != '?' && op != '+')
		return syntax_error(
			ip, err,
			"only ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?message}, "
			"${VAR?message}, ${VAR:+alt} and ${VAR+alt} are supported");
	arg = p + 1;

	bool missing = !value || (colon && !*value);
	switch (op) {
	case '-':
		if (missing)
			return interp_range(ip, arg, e, out, depth + 1, err);
		return put_value(ip, name, value, out, err);
	case '+':
		if (missing)
			return 0;
		return interp_range(ip, arg, e, out, depth + 1, err);
	default: { /* '?' */
		_cleanup_buf_ struct buf msg = BUF_INIT;

		if (!missing)
			return put_value(ip, name, value, out, err);
		buf_init(&msg, 4096);
		if (interp_range(ip, arg, e, &msg, depth + 1, err) < 0)
			return -1;
		if (msg.len)
			return error_set(err, ERR_COMPOSE,
					 "required variable %s is missing a value: %s", name,
					 buf_str(&msg));
		return error_set(err, ERR_COMPOSE, "required variable %s is missing a value", name);
	}
	}
}

static int interp_range(const struct interp *ip, const char *s, const char *end, struct buf *out,
			int depth, struct error *err)
{
	const char *p = s;

	if (depth > INTERP_DEPTH_MAX)
		return syntax_error(ip, err, "nested too deeply");
	while (p < end) {
		const char *dollar = memchr(p, '$', (size_t)(end - p));

		if (!dollar)
			return buf_append(out, p, (size_t)(end - p)) < 0 ? oom(err) : 0;
		if (buf_append(out, p, (size_t)(dollar - p)) < 0)
			return oom(err);
		p = dollar + 1;
		if (p < end && *p == '$') {
			if (buf_putc(out, '$') < 0)
				return oom(err);
			p++;
		} else if (p < end && *p == '{') {
			const char *close = find_close(p + 1, end);

			if (!close)
				return syntax_error(ip, err, "missing \"}\" after \"${\"");
			if (expand_braced(ip, p + 1, close, out, depth, err) < 0)
				return -1;
			p = close + 1;
		} else if (p < end && is_name_start(*p)) {
			_cleanup_free_ char *name = NULL;
			const char *q = p;

			while (q < end && is_name_char(*q))
				q++;
			name = strndup(p, (size_t)(q - p));
			if (!name)
				return oom(err);
			if (put_value(ip, name, lookup(ip, name), out, err) < 0)
				return -1;
			p = q;
		} else if (buf_putc(out, '$') < 0) {
			/* not a reference: the `$` stays, as Compose keeps it */
			return oom(err);
		}
	}
	return 0;
}

int compose_interpolate_full(const char *in, compose_lookup_fn lookup_fn, compose_unset_fn unset,
			     void *payload, struct buf *out, struct error *err)
{
	struct interp ip = {.lookup = lookup_fn, .unset = unset, .payload = payload, .whole = in};

	/* an empty result is still a valid C string */
	if (buf_append(out, "", 0) < 0)
		return oom(err);
	return interp_range(&ip, in, in + strlen(in), out, 0, err);
}

int compose_interpolate(const char *in, compose_lookup_fn lookup_fn, void *payload, struct buf *out,
			struct error *err)
{
	return compose_interpolate_full(in, lookup_fn, NULL, payload, out, err);
}
