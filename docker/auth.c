/* SPDX-License-Identifier: MIT */
#include "docker/auth.h"

#include <ctype.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/cleanup.h"
#include "common/log.h"

#define KEY_MAX 1024

static void cred_release(struct registry_cred *c)
{
	free(c->key);
	free(c->server);
	free(c->username);
	if (c->password) {
		explicit_bzero(c->password, strlen(c->password));
		free(c->password);
	}
	free(c->source);
	memset(c, 0, sizeof(*c));
}

void registry_auth_release(struct registry_auth *a)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		cred_release(&a->creds[i]);
	free(a->creds);
	a->creds = NULL;
	a->n = 0;
}

/* ---- names ---- */

static void lower(char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n && s[i]; i++)
		s[i] = (char)tolower((unsigned char)s[i]);
}

/* Docker Hub's other names, host part only. */
static int is_hub_alias(const char *host, size_t n)
{
	static const char *const alias[] = {"index.docker.io", "registry-1.docker.io"};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(alias); i++)
		if (n == strlen(alias[i]) && !strncasecmp(host, alias[i], n))
			return 1;
	return 0;
}

/* out = "<host lower-cased, Hub aliases as docker.io><rest>" */
static void put_host_and_rest(char *out, size_t size, const char *host, size_t hlen,
			      const char *rest, size_t rlen)
{
	if (is_hub_alias(host, hlen)) {
		host = "docker.io";
		hlen = strlen(host);
	}
	snprintf(out, size, "%.*s%.*s", (int)hlen, host, (int)rlen, rest);
	lower(out, hlen < size ? hlen : size);
}

void registry_auth_key(const char *server, char *out, size_t size)
{
	const char *p = server ? server : "", *scheme = strstr(p, "://"), *slash, *last;
	size_t len;

	if (!size)
		return;
	if (scheme) {
		/* "https://index.docker.io/v1/": the host (and port) only */
		p = scheme + 3;
		len = strcspn(p, "/");
		put_host_and_rest(out, size, p, len, "", 0);
		return;
	}
	len = strlen(p);
	while (len && p[len - 1] == '/')
		len--;
	slash = memchr(p, '/', len);
	if (slash) {
		/* "reg:5000/group/app:tag": the tag is no part of the path */
		const char *colon;

		last = p + len;
		while (last > p && last[-1] != '/')
			last--;
		colon = memchr(last, ':', (size_t)(p + len - last));
		if (colon)
			len = (size_t)(colon - p);
		put_host_and_rest(out, size, p, (size_t)(slash - p), slash,
				  len - (size_t)(slash - p));
		return;
	}
	put_host_and_rest(out, size, p, len, "", 0);
}

/* Does the first component of a reference name a registry (docker's rule)? */
static int is_registry_host(const char *s, size_t n)
{
	return memchr(s, '.', n) || memchr(s, ':', n) ||
	       (n == strlen("localhost") && !strncasecmp(s, "localhost", n));
}

void registry_auth_image_path(const char *image, char *out, size_t size)
{
	const char *p = image ? image : "", *slash, *last, *colon;
	size_t len = strcspn(p, "@");

	if (!size)
		return;
	last = p + len;
	while (last > p && last[-1] != '/')
		last--;
	colon = memchr(last, ':', (size_t)(p + len - last));
	if (colon)
		len = (size_t)(colon - p);
	slash = memchr(p, '/', len);
	if (!slash || !is_registry_host(p, (size_t)(slash - p))) {
		snprintf(out, size, "docker.io/%.*s", (int)len, p);
		return;
	}
	put_host_and_rest(out, size, p, (size_t)(slash - p), slash, len - (size_t)(slash - p));
}

void registry_auth_image_registry(const char *image, char *out, size_t size)
{
	char path[KEY_MAX];

	registry_auth_image_path(image, path, sizeof(path));
	snprintf(out, size, "%.*s", (int)strcspn(path, "/"), path);
}

/* ---- base64 ---- */

static int b64_value(int ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+' || ch == '-')
		return 62;
	if (ch == '/' || ch == '_')
		return 63;
	return -1;
}

/* Standard or URL alphabet, padding optional. */
static int b64_decode(const char *in, struct buf *out)
{
	unsigned int acc = 0;
	int bits = 0;

	for (; *in && *in != '='; in++) {
		int v = b64_value((unsigned char)*in);

		if (v < 0)
			return -1;
		acc = (acc << 6) | (unsigned int)v;
		bits += 6;
		if (bits >= 8) {
			char ch;

			bits -= 8;
			ch = (char)((acc >> bits) & 0xff);
			if (buf_append(out, &ch, 1) < 0)
				return -1;
		}
	}
	for (; *in == '='; in++)
		;
	return *in ? -1 : 0;
}

static int b64url_encode(const unsigned char *in, size_t n, struct buf *out)
{
	static const char abc[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t i;

	for (i = 0; i < n; i += 3) {
		unsigned int v = (unsigned int)in[i] << 16;
		char q[4];

		if (i + 1 < n)
			v |= (unsigned int)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		q[0] = abc[(v >> 18) & 63];
		q[1] = abc[(v >> 12) & 63];
		q[2] = i + 1 < n ? abc[(v >> 6) & 63] : '=';
		q[3] = i + 2 < n ? abc[v & 63] : '=';
		if (buf_append(out, q, 4) < 0)
			return -1;
	}
	return 0;
}

/* ---- the set ---- */

static struct registry_cred *find_key(const struct registry_auth *a, const char *key)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		if (!strcmp(a->creds[i].key, key))
			return &a->creds[i];
	return NULL;
}

int registry_auth_add(struct registry_auth *a, const char *server, const char *username,
		      const char *password, const char *source, enum registry_auth_origin origin,
		      struct error *err)
{
	char key[KEY_MAX];
	struct registry_cred *c, *grown;

	if (!server || !*server || !username || !*username)
		return error_set(err, ERR_CONFIG, "%s: a registry entry without %s", source,
				 !server || !*server ? "a registry address" : "a user name");
	/* masked before anything could print it */
	log_add_secret(password);
	registry_auth_key(server, key, sizeof(key));
	if (!*key)
		return error_set(err, ERR_CONFIG, "%s: registry address \"%.200s\" has no host",
				 source, server);
	if (find_key(a, key))
		return 0; /* an earlier source wins */
	if (a->n >= REGISTRY_AUTH_MAX)
		return error_set(err, ERR_CONFIG, "%s: more than %d registries", source,
				 REGISTRY_AUTH_MAX);
	grown = realloc(a->creds, (a->n + 1) * sizeof(*a->creds));
	if (!grown)
		return error_set(err, ERR_SYSTEM, "out of memory");
	a->creds = grown;
	c = &a->creds[a->n];
	memset(c, 0, sizeof(*c));
	c->key = strdup(key);
	c->server = strdup(server);
	c->username = strdup(username);
	c->password = strdup(password ? password : "");
	c->source = strdup(source);
	c->origin = origin;
	if (!c->key || !c->server || !c->username || !c->password || !c->source) {
		cred_release(c);
		return error_set(err, ERR_SYSTEM, "out of memory");
	}
	a->n++;
	return 1;
}

static const char *str_of(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* One `auths` entry into tmp: `auth` wins over username/password, as in
 * docker/cli; an entry with neither (what `docker logout` or a credential
 * store leaves) is skipped. */
static int add_entry(struct registry_auth *tmp, const char *server, json_object *entry,
		     const char *source, enum registry_auth_origin origin, struct error *err)
{
	const char *auth, *user, *pass;
	_cleanup_buf_ struct buf plain = BUF_INIT;
	char *colon;
	int rc;

	if (!json_object_is_type(entry, json_type_object))
		return error_set(err, ERR_CONFIG, "%s: the entry of %.200s is not an object",
				 source, server);
	auth = str_of(entry, "auth");
	if (auth && *auth) {
		log_add_secret(auth);
		if (b64_decode(auth, &plain) < 0 || !plain.len ||
		    memchr(plain.data, '\0', plain.len) || !(colon = strchr(plain.data, ':'))) {
			if (plain.data)
				explicit_bzero(plain.data, plain.len);
			return error_set(err, ERR_CONFIG,
					 "%s: the auth of %.200s is not base64 of user:password",
					 source, server);
		}
		*colon = '\0';
		rc = registry_auth_add(tmp, server, plain.data, colon + 1, source, origin, err);
		explicit_bzero(plain.data, plain.len);
		return rc < 0 ? -1 : 0;
	}
	user = str_of(entry, "username");
	pass = str_of(entry, "password");
	if (!user || !*user)
		return 0;
	return registry_auth_add(tmp, server, user, pass ? pass : "", source, origin, err) < 0 ? -1
											       : 0;
}

int registry_auth_add_config(struct registry_auth *a, const char *json, size_t len,
			     const char *source, enum registry_auth_origin origin,
			     struct error *err)
{
	struct registry_auth tmp = REGISTRY_AUTH_INIT;
	struct json_tokener *tok;
	json_object *root, *auths;
	size_t i = 0;
	int rc = -1;

	if (!json || !len)
		return 0;
	tok = json_tokener_new();
	if (!tok)
		return error_set(err, ERR_SYSTEM, "out of memory");
	if (len > (size_t)INT_MAX)
		len = INT_MAX;
	root = json_tokener_parse_ex(tok, json, (int)len);
	if (root && json_tokener_get_error(tok) == json_tokener_success) {
		/* trailing whitespace is fine, anything else is not */
		for (i = json_tokener_get_parse_end(tok); i < len; i++)
			if (json[i] != ' ' && json[i] != '\t' && json[i] != '\r' && json[i] != '\n')
				break;
	}
	if (!root || json_tokener_get_error(tok) != json_tokener_success || i < len) {
		enum json_tokener_error jerr = json_tokener_get_error(tok);

		error_set(err, ERR_CONFIG, "%s is not a docker config.json: %s", source,
			  root				  ? "trailing data"
			  : jerr == json_tokener_continue ? "it ends too early"
							  : json_tokener_error_desc(jerr));
		json_tokener_free(tok);
		json_object_put(root);
		return -1;
	}
	json_tokener_free(tok);
	if (!json_object_is_type(root, json_type_object)) {
		error_set(err, ERR_CONFIG, "%s is not a docker config.json: not a JSON object",
			  source);
		goto out;
	}
	if (json_object_object_get_ex(root, "credsStore", NULL) ||
	    json_object_object_get_ex(root, "credHelpers", NULL))
		log_warn("%s: credsStore and credHelpers are not supported (no credential helper "
			 "runs on the runner host); only its \"auths\" entries are used",
			 source);
	if (json_object_object_get_ex(root, "auths", &auths)) {
		if (!json_object_is_type(auths, json_type_object)) {
			error_set(err, ERR_CONFIG,
				  "%s is not a docker config.json: \"auths\" is not an object",
				  source);
			goto out;
		}
		json_object_object_foreach(auths, server, entry)
		{
			if (add_entry(&tmp, server, entry, source, origin, err) < 0)
				goto out;
		}
	}
	/* all or nothing: a source that cannot be read adds no entry */
	for (i = 0; i < tmp.n; i++) {
		struct registry_cred *c = &tmp.creds[i];

		if (registry_auth_add(a, c->server, c->username, c->password, source, origin, err) <
		    0)
			goto out;
	}
	rc = 0;
out:
	registry_auth_release(&tmp);
	json_object_put(root);
	return rc;
}

const struct registry_cred *registry_auth_find(const struct registry_auth *a, const char *image)
{
	char path[KEY_MAX];
	char *cut;

	if (!a || !a->n || !image)
		return NULL;
	registry_auth_image_path(image, path, sizeof(path));
	for (;;) {
		const struct registry_cred *c = find_key(a, path);

		if (c)
			return c;
		cut = strrchr(path, '/');
		if (!cut)
			return NULL;
		*cut = '\0';
	}
}

int registry_auth_header(const struct registry_cred *c, struct buf *out, struct error *err)
{
	json_object *o = json_object_new_object();
	const char *text;
	int rc;

	if (!o)
		return error_set(err, ERR_SYSTEM, "out of memory");
	json_object_object_add(o, "username", json_object_new_string(c->username));
	json_object_object_add(o, "password", json_object_new_string(c->password));
	json_object_object_add(o, "serveraddress", json_object_new_string(c->server));
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							 JSON_C_TO_STRING_NOSLASHESCAPE);
	buf_reset(out);
	rc = text ? b64url_encode((const unsigned char *)text, strlen(text), out) : -1;
	if (text)
		explicit_bzero((char *)text, strlen(text));
	json_object_put(o);
	if (rc < 0)
		return error_set(err, ERR_SYSTEM, "out of memory");
	return 0;
}

/* A word of the message, case-insensitive, not inside a longer word or number. */
static int has_word(const char *msg, const char *word)
{
	size_t n = strlen(word);
	const char *p;

	for (p = msg; (p = strcasestr(p, word)); p++) {
		int before = p > msg && isalnum((unsigned char)p[-1]);
		int after = isalnum((unsigned char)p[n]);

		if (!before && !after)
			return 1;
	}
	return 0;
}

int registry_auth_refused(const char *message)
{
	static const char *const words[] = {"unauthorized", "authentication required",
					    "no basic auth credentials", "401"};
	size_t i;

	if (!message)
		return 0;
	for (i = 0; i < ARRAY_SIZE(words); i++)
		if (has_word(message, words[i]))
			return 1;
	return 0;
}
