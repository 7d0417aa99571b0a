/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "docker/docker.h"
#include "docker/internal.h"

static int is_unreserved(unsigned char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
	       ch == '-' || ch == '.' || ch == '_' || ch == '~';
}

static int encode(struct buf *out, const char *s, const char *keep)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t start = out->len;
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p; p++) {
		int ok;

		if (is_unreserved(*p) || (keep && strchr(keep, *p)))
			ok = buf_putc(out, (char)*p);
		else
			ok = buf_printf(out, "%%%c%c", hex[*p >> 4], hex[*p & 15]);
		if (ok < 0) {
			out->len = start;
			if (out->data)
				out->data[start] = '\0';
			return -1;
		}
	}
	/* an empty input still leaves a valid (empty) string behind */
	return buf_append(out, "", 0);
}

int docker_urlencode(struct buf *out, const char *s)
{
	return encode(out, s, NULL);
}

int docker_urlencode_path(struct buf *out, const char *s)
{
	return encode(out, s, "/:@");
}

int docker_label_filters(struct buf *out, const char *const *label_filters)
{
	json_object *root = json_object_new_object();
	json_object *arr = NULL;
	size_t i;
	int ret = -1;

	if (!root)
		return -1;
	if (label_filters && label_filters[0]) {
		arr = json_object_new_array();
		if (!arr)
			goto out;
		json_object_object_add(root, "label", arr);
		for (i = 0; label_filters[i]; i++) {
			json_object *s = json_object_new_string(label_filters[i]);

			if (!s || json_object_array_add(arr, s) < 0) {
				json_object_put(s);
				goto out;
			}
		}
	}
	ret = docker_urlencode(
		out, json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN |
								  JSON_C_TO_STRING_NOSLASHESCAPE));
out:
	json_object_put(root);
	return ret;
}

/* ---- names and references that reach a URL ---- */

static int is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int is_lower_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

const char *docker_object_label(json_object *obj, const char *key)
{
	json_object *labels, *v;

	if (!json_object_object_get_ex(obj, "Labels", &labels) ||
	    !json_object_is_type(labels, json_type_object) ||
	    !json_object_object_get_ex(labels, key, &v))
		return NULL;
	return json_object_get_string(v);
}

int docker_name_valid(const char *s)
{
	size_t i;

	if (!s || !is_alnum((unsigned char)s[0]))
		return 0;
	for (i = 1; s[i]; i++) {
		unsigned char c = (unsigned char)s[i];

		if (i >= DOCKER_NAME_MAX || !(is_alnum(c) || c == '_' || c == '.' || c == '-'))
			return 0;
	}
	return 1;
}

/* pathComponent: [a-z0-9]+ ((?:[._]|__|[-]+)[a-z0-9]+)* */
static int ref_path_component(const char *s, size_t n)
{
	size_t i = 0;

	if (!n || !is_lower_alnum((unsigned char)s[0]))
		return 0;
	for (;;) {
		while (i < n && is_lower_alnum((unsigned char)s[i]))
			i++;
		if (i == n)
			return 1;
		if (s[i] == '.') {
			i++;
		} else if (s[i] == '_') {
			i++;
			if (i < n && s[i] == '_')
				i++;
		} else if (s[i] == '-') {
			while (i < n && s[i] == '-')
				i++;
		} else {
			return 0;
		}
		if (i == n || !is_lower_alnum((unsigned char)s[i]))
			return 0;
	}
}

static int ref_path(const char *s, size_t n)
{
	const char *slash;

	while ((slash = memchr(s, '/', n))) {
		if (!ref_path_component(s, (size_t)(slash - s)))
			return 0;
		n -= (size_t)(slash - s) + 1;
		s = slash + 1;
	}
	return ref_path_component(s, n);
}

/* host[:port], host a domain name ([a-zA-Z0-9] or [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
 * components joined by '.') or [an IPv6 address] */
static int ref_domain(const char *s, size_t n)
{
	size_t hlen, i, start = 0;

	if (n && s[0] == '[') {
		const char *close = memchr(s, ']', n);

		if (!close || close == s + 1)
			return 0;
		for (i = 1; s + i < close; i++)
			if (!(isxdigit((unsigned char)s[i]) || s[i] == ':'))
				return 0;
		hlen = (size_t)(close - s) + 1;
	} else {
		const char *colon = memchr(s, ':', n);

		hlen = colon ? (size_t)(colon - s) : n;
		for (i = 0; i <= hlen; i++) {
			if (i < hlen && s[i] != '.')
				continue;
			if (i == start || !is_alnum((unsigned char)s[start]) ||
			    !is_alnum((unsigned char)s[i - 1]))
				return 0;
			for (; start < i; start++)
				if (!is_alnum((unsigned char)s[start]) && s[start] != '-')
					return 0;
			start = i + 1;
		}
	}
	if (hlen == n)
		return 1;
	if (s[hlen] != ':' || hlen + 1 == n)
		return 0;
	for (i = hlen + 1; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

/* [\w][\w.-]{0,127} */
static int ref_tag(const char *s, size_t n)
{
	size_t i;

	if (!n || n > 128 || s[0] == '.' || s[0] == '-')
		return 0;
	for (i = 0; i < n; i++)
		if (!is_alnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-')
			return 0;
	return 1;
}

/* [A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,} */
static int ref_digest(const char *s)
{
	const char *colon = strchr(s, ':');
	const char *p;

	if (!colon || colon == s)
		return 0;
	for (p = s; p < colon; p++) {
		unsigned char c = (unsigned char)*p;

		if (isalpha(c))
			continue;
		if (isdigit(c) && p > s && p[-1] != '-' && p[-1] != '_' && p[-1] != '+' &&
		    p[-1] != '.')
			continue;
		if ((c == '-' || c == '_' || c == '+' || c == '.') && p > s && p + 1 < colon &&
		    isalpha((unsigned char)p[1]))
			continue;
		return 0;
	}
	for (p = colon + 1; *p; p++)
		if (!isxdigit((unsigned char)*p))
			return 0;
	return p - (colon + 1) >= 32;
}

/* Docker's reference grammar (distribution/reference): name[:tag][@digest]. */
int docker_image_ref_valid(const char *ref)
{
	const char *at, *end, *slash, *last, *colon;

	if (!ref || !*ref)
		return 0;
	at = strchr(ref, '@');
	end = at ? at : ref + strlen(ref);
	if (at && !ref_digest(at + 1))
		return 0;
	last = ref;
	for (slash = ref; slash < end; slash++)
		if (*slash == '/')
			last = slash + 1;
	colon = memchr(last, ':', (size_t)(end - last));
	if (colon) {
		if (!ref_tag(colon + 1, (size_t)(end - colon - 1)))
			return 0;
		end = colon;
	}
	if (end == ref || end - ref > DOCKER_NAME_MAX)
		return 0;
	if (ref_path(ref, (size_t)(end - ref)))
		return 1;
	slash = memchr(ref, '/', (size_t)(end - ref));
	return slash && ref_domain(ref, (size_t)(slash - ref)) &&
	       ref_path(slash + 1, (size_t)(end - slash - 1));
}

/* "..." after the first 80 characters of a long value in a message. */
#define SHOWN	80
#define SHOW(s) SHOWN, (s), strlen(s) > SHOWN ? "..." : ""

int docker_check_name(const char *kind, const char *name, struct error *err)
{
	if (docker_name_valid(name))
		return 0;
	return error_set(err, ERR_JOB,
			 "invalid %s name \"%.*s%s\": Docker names are [a-zA-Z0-9][a-zA-Z0-9_.-]* "
			 "(at most %d characters)",
			 kind, SHOW(name ? name : ""), DOCKER_NAME_MAX);
}

int docker_check_image_ref(const char *ref, struct error *err)
{
	if (docker_image_ref_valid(ref))
		return 0;
	return error_set(err, ERR_JOB,
			 "invalid image reference \"%.*s%s\": use [registry/]name[:tag][@digest] "
			 "(lower-case name components, as docker requires)",
			 SHOW(ref ? ref : ""));
}

static unsigned hex_value(char c)
{
	return isdigit((unsigned char)c) ? (unsigned)(c - '0')
					 : (unsigned)(tolower((unsigned char)c) - 'a' + 10);
}

int docker_path_safe(const char *path)
{
	const char *p, *seg;

	if (!path || path[0] != '/')
		return 0;
	for (p = path; *p && *p != '?'; p++) {
		unsigned char c = (unsigned char)*p;

		if (is_unreserved(c) || c == '/' || c == ':' || c == '@')
			continue;
		/* an escape (the brackets of an IPv6 registry), but never of what the
		 * engine's router would decode into a separator, a dot or a control */
		if (c == '%' && isxdigit((unsigned char)p[1]) && isxdigit((unsigned char)p[2])) {
			unsigned v = hex_value(p[1]) * 16u + hex_value(p[2]);

			if (v > ' ' && v < 0x7f && !strchr("./\\?#%", (int)v)) {
				p += 2;
				continue;
			}
		}
		return 0;
	}
	for (seg = path + 1;; seg++) {
		size_t n = strcspn(seg, "/?");

		if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
			return 0;
		seg += n;
		if (*seg != '/')
			break;
	}
	for (; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == '#' || (unsigned char)*p >= 0x7f)
			return 0;
	return 1;
}

int docker_build_path(struct buf *out, const char *prefix, const char *id, const char *suffix,
		      struct error *err)
{
	static const struct {
		const char *prefix, *kind;
	} kinds[] = {
		{"/containers", "container"},
		{"/networks", "network"},
		{"/volumes", "volume"},
		{"/exec", "exec instance"},
	};
	const char *kind = "object";
	size_t i;

	if (!id || !*id)
		return error_set(err, ERR_SYSTEM, "empty object name in an engine request");
	if (!strcmp(prefix, "/images")) {
		if (docker_check_image_ref(id, err) < 0)
			return -1;
	} else {
		for (i = 0; i < ARRAY_SIZE(kinds); i++)
			if (!strcmp(prefix, kinds[i].prefix))
				kind = kinds[i].kind;
		if (docker_check_name(kind, id, err) < 0)
			return -1;
	}
	if (buf_puts(out, prefix) < 0 || buf_putc(out, '/') < 0 ||
	    docker_urlencode_path(out, id) < 0 || (suffix && buf_puts(out, suffix) < 0))
		return error_set(err, ERR_SYSTEM, "out of memory");
	return 0;
}

const char *docker_json_string(json_object *obj, const char *key)
{
	json_object *v;

	if (!obj || !json_object_is_type(obj, json_type_object) ||
	    !json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static size_t sanitize(char *dst, size_t n, const char *s, size_t len)
{
	size_t i, o = 0;

	for (i = 0; i < len && o + 1 < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		/* controls (newlines, ESC, DEL) become spaces, then spaces are trimmed */
		if (ch < ' ' || ch == 0x7f)
			ch = ' ';
		if (ch == ' ' && o == 0)
			continue;
		dst[o++] = (char)ch;
	}
	while (o > 0 && dst[o - 1] == ' ')
		o--;
	dst[o] = '\0';
	return o;
}

/* Whole first, then masked, then cut: a cut never leaves part of a secret. */
void docker_sanitize_line(char *dst, size_t n, const char *s, size_t len)
{
	_cleanup_free_ char *whole = NULL;

	if (!n)
		return;
	whole = len < SIZE_MAX ? malloc(len + 1) : NULL;
	if (!whole) {
		sanitize(dst, n, s, len);
		log_mask(dst, n);
		return;
	}
	sanitize(whole, len + 1, s, len);
	log_mask_copy(dst, n, whole);
}

int docker_json_parse(const char *data, size_t len, json_object **out)
{
	struct json_tokener *tok;
	json_object *obj;
	size_t used = 0, i;

	*out = NULL;
	/* a raw NUL is never valid JSON; json-c would stop at it */
	if (len > (size_t)INT32_MAX || memchr(data, '\0', len))
		return -1;
	tok = json_tokener_new_ex(64);
	if (!tok)
		return -1;
	obj = json_tokener_parse_ex(tok, data, (int)len);
	used = (size_t)tok->char_offset;
	if (!obj && json_tokener_get_error(tok) == json_tokener_continue) {
		/* all consumed, and a bare number may go on: the input ends here */
		obj = json_tokener_parse_ex(tok, "", 1);
		used = len;
	}
	if (!obj || json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(obj);
		json_tokener_free(tok);
		return -1;
	}
	json_tokener_free(tok);
	for (i = used; i < len; i++) {
		if (data[i] != ' ' && data[i] != '\t' && data[i] != '\r' && data[i] != '\n') {
			json_object_put(obj);
			return -1;
		}
	}
	*out = obj;
	return 0;
}
