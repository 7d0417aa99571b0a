/* SPDX-License-Identifier: MIT */
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

int docker_build_path(struct buf *out, const char *prefix, const char *id, const char *suffix,
		      struct error *err)
{
	if (!id || !*id)
		return error_set(err, ERR_SYSTEM, "empty object name in an engine request");
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
