/* SPDX-License-Identifier: MIT */
#include "durable/secrets.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <libfyaml.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "durable/env.h"

#define SECRETS_FILE_LIMIT (1024 * 1024)
#define SECRETS_VERSION	   1

/* Plain settings of secrets.json files written before the "plain" list. */
static const char *const legacy_plain[] = {"DB_USER", "DB_NAME", "ROUTER_AUTH_USER"};

static const char charset[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

static void wipe_buf(struct buf *b)
{
	if (b->data)
		explicit_bzero(b->data, b->cap);
	buf_release(b);
}

static void wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

static int name_ok(const char *name)
{
	size_t i;

	if (!name || !name[0] || strlen(name) > DURABLE_SECRET_NAME_MAX)
		return 0;
	if (name[0] >= '0' && name[0] <= '9')
		return 0;
	for (i = 0; name[i]; i++) {
		char c = name[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
			return 0;
	}
	return 1;
}

/* len characters, uniform over charset (rejection sampling). */
static int generate(size_t len, char **out, struct error *err)
{
	/* 62 * 4 = 248: bytes >= 248 would bias the first characters */
	const unsigned limit = 62u * (256u / 62u);
	unsigned char rnd[64];
	char *s = malloc(len + 1);
	size_t n = 0;

	if (!s)
		return error_set(err, ERR_SYSTEM, "out of memory");
	while (n < len) {
		size_t i;

		if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
			unsigned long e = ERR_get_error();

			explicit_bzero(s, len + 1);
			free(s);
			explicit_bzero(rnd, sizeof(rnd));
			return error_set(err, ERR_SYSTEM, "OpenSSL random generator failed: %s",
					 e ? ERR_reason_error_string(e) : "no entropy");
		}
		for (i = 0; i < sizeof(rnd) && n < len; i++)
			if (rnd[i] < limit)
				s[n++] = charset[rnd[i] % 62];
	}
	s[n] = '\0';
	explicit_bzero(rnd, sizeof(rnd));
	*out = s;
	return 0;
}

static int corrupt(struct error *err, const char *path, const char *why)
{
	return error_set(err, ERR_IO,
			 "%s is not a secrets file the driver wrote (%s): fix it, or remove it to "
			 "generate new credentials (a database volume created with the old ones "
			 "will then refuse them; remove its volumes too)",
			 path, why);
}

/*
 * Read secrets.json into *stored (an object name -> string), or an empty
 * object when the file does not exist.
 */
static int load_file(const char *path, json_object **stored, json_object **plain, struct error *err)
{
	_cleanup_buf_ struct buf data = BUF_INIT;
	json_object *root = NULL, *secrets = NULL, *version = NULL, *pl = NULL;
	enum json_tokener_error jerr;
	struct stat st;
	int fd;

	*stored = NULL;
	*plain = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno != ENOENT)
			return error_set_errno(err, ERR_IO, errno, "open %s", path);
		*stored = json_object_new_object();
		if (!*stored)
			return error_set(err, ERR_SYSTEM, "out of memory");
		return 0;
	}
	if (fstat(fd, &st) < 0) {
		int e = errno;

		close(fd);
		return error_set_errno(err, ERR_IO, e, "stat %s", path);
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return corrupt(err, path, "not a regular file");
	}
	if (st.st_mode & 077) {
		log_warn("%s was readable by other users (mode %04o); restricting it to 0600", path,
			 (unsigned)(st.st_mode & 07777));
		if (fchmod(fd, 0600) < 0) {
			int e = errno;

			close(fd);
			return error_set_errno(err, ERR_IO, e, "chmod %s", path);
		}
	}
	close(fd);

	buf_init(&data, SECRETS_FILE_LIMIT);
	if (fs_read_file(path, &data, SECRETS_FILE_LIMIT, err) < 0) {
		wipe_buf(&data);
		return -1;
	}
	root = json_tokener_parse_verbose(buf_str(&data), &jerr);
	wipe_buf(&data);
	if (!root)
		return corrupt(err, path, json_tokener_error_desc(jerr));
	if (!json_object_is_type(root, json_type_object) ||
	    !json_object_object_get_ex(root, "secrets", &secrets) ||
	    !json_object_is_type(secrets, json_type_object)) {
		json_object_put(root);
		return corrupt(err, path, "no \"secrets\" object");
	}
	if (json_object_object_get_ex(root, "version", &version) &&
	    json_object_get_int(version) > SECRETS_VERSION) {
		int v = json_object_get_int(version);

		json_object_put(root);
		return error_set(
			err, ERR_IO,
			"%s has version %d, written by a newer executor: upgrade the driver", path,
			v);
	}
	json_object_object_foreach(secrets, key, val)
	{
		if (!name_ok(key) || !json_object_is_type(val, json_type_string) ||
		    json_object_get_string_len(val) == 0) {
			json_object_put(root);
			return corrupt(err, path, "entries must be NAME: \"non-empty string\"");
		}
	}
	if (json_object_object_get_ex(root, "plain", &pl)) {
		size_t i;

		if (!json_object_is_type(pl, json_type_array)) {
			json_object_put(root);
			return corrupt(err, path, "\"plain\" must be a list of names");
		}
		for (i = 0; i < json_object_array_length(pl); i++)
			if (!json_object_is_type(json_object_array_get_idx(pl, i),
						 json_type_string)) {
				json_object_put(root);
				return corrupt(err, path, "\"plain\" must be a list of names");
			}
		*plain = json_object_get(pl);
	}
	*stored = json_object_get(secrets);
	json_object_put(root);
	return 0;
}

static int save_file(const char *path, json_object *stored, json_object *plain, struct error *err)
{
	json_object *root = json_object_new_object();
	const char *text;
	size_t len;
	int ret;

	if (!root)
		return error_set(err, ERR_SYSTEM, "out of memory");
	json_object_object_add(root, "version", json_object_new_int(SECRETS_VERSION));
	json_object_object_add(root, "secrets", json_object_get(stored));
	json_object_object_add(root, "plain", json_object_get(plain));
	text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
							    JSON_C_TO_STRING_NOSLASHESCAPE);
	len = strlen(text);
	ret = fs_write_atomic(path, text, len, 0600, err);
	/* the serialisation buffer belongs to root; wipe it before it is freed */
	explicit_bzero((char *)text, len);
	json_object_put(root);
	return ret;
}

static struct durable_secret *find(struct durable_secrets *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (!strcmp(s->items[i].name, name))
			return &s->items[i];
	return NULL;
}

/* Append name = value (taken: freed on failure). */
static int push(struct durable_secrets *s, const char *name, char *value, bool secret,
		struct error *err)
{
	struct durable_secret *p = realloc(s->items, (s->n + 1) * sizeof(*p));
	char *n = strdup(name);

	if (p)
		s->items = p;
	if (!p || !n) {
		free(n);
		wipe_free(value);
		return error_set(err, ERR_SYSTEM, "out of memory");
	}
	s->items[s->n].name = n;
	s->items[s->n].value = value;
	s->items[s->n].secret = secret;
	s->n++;
	if (secret)
		log_add_secret(value);
	return 0;
}

static bool in_array(json_object *arr, const char *name)
{
	size_t i;

	for (i = 0; arr && i < json_object_array_length(arr); i++)
		if (!strcmp(json_object_get_string(json_object_array_get_idx(arr, i)), name))
			return true;
	return false;
}

static int secrets_path(const char *state_dir, const char *env, char **path, struct error *err)
{
	if (durable_env_path(state_dir, env, DURABLE_SECRETS_FILE, path, err) < 0)
		return -1;
	return 0;
}

int durable_secrets_load(const char *state_dir, const char *env, struct durable_secrets *out,
			 struct error *err)
{
	_cleanup_free_ char *path = NULL;
	json_object *stored = NULL, *plain = NULL;
	struct durable_secrets s = {0};
	size_t i;

	memset(out, 0, sizeof(*out));
	if (secrets_path(state_dir, env, &path, err) < 0)
		return -1;
	if (load_file(path, &stored, &plain, err) < 0)
		return error_wrap(err, "secrets of env '%s'", env);
	{
		json_object_object_foreach(stored, key, val)
		{
			char *v = strdup(json_object_get_string(val));
			bool is_plain = plain ? in_array(plain, key) : false;

			for (i = 0; !plain && i < ARRAY_SIZE(legacy_plain); i++)
				is_plain |= !strcmp(key, legacy_plain[i]);
			if (!v) {
				error_set(err, ERR_SYSTEM, "out of memory");
				goto fail;
			}
			if (push(&s, key, v, !is_plain, err) < 0)
				goto fail;
		}
	}
	json_object_put(stored);
	json_object_put(plain);
	*out = s;
	return 0;
fail:
	json_object_put(stored);
	json_object_put(plain);
	durable_secrets_release(&s);
	return -1;
}

int durable_secrets_add(struct durable_secrets *s, const struct durable_secret_decls *d,
			bool (*given)(const char *name, void *payload), void *payload,
			struct error *err)
{
	size_t i;

	for (i = 0; d && i < d->n; i++) {
		const struct durable_secret_decl *it = &d->items[i];
		char *value = NULL;

		if (find(s, it->name) || (given && given(it->name, payload)))
			continue;
		if (it->value)
			value = strdup(it->value);
		else if (generate(it->length ? it->length : DURABLE_SECRET_LEN, &value, err) < 0)
			return -1;
		if (!value)
			return error_set(err, ERR_SYSTEM, "out of memory");
		if (push(s, it->name, value, it->value == NULL, err) < 0)
			return -1;
		s->generated++;
	}
	return 0;
}

int durable_secrets_save(const char *state_dir, const char *env, struct durable_secrets *s,
			 struct error *err)
{
	_cleanup_free_ char *path = NULL;
	json_object *stored, *plain;
	size_t i;
	int rc;

	if (!s->generated)
		return 0;
	if (durable_env_ensure(state_dir, env, err) < 0 ||
	    secrets_path(state_dir, env, &path, err) < 0)
		return -1;
	stored = json_object_new_object();
	plain = json_object_new_array();
	if (!stored || !plain) {
		json_object_put(stored);
		json_object_put(plain);
		return error_set(err, ERR_SYSTEM, "out of memory");
	}
	for (i = 0; i < s->n; i++) {
		json_object_object_add(stored, s->items[i].name,
				       json_object_new_string(s->items[i].value));
		if (!s->items[i].secret)
			json_object_array_add(plain, json_object_new_string(s->items[i].name));
	}
	rc = save_file(path, stored, plain, err);
	/* the values live in the json strings: wipe them before they are freed */
	{
		json_object_object_foreach(stored, key, val)
		{
			(void)key;
			explicit_bzero((char *)json_object_get_string(val),
				       (size_t)json_object_get_string_len(val));
		}
	}
	json_object_put(stored);
	json_object_put(plain);
	if (rc < 0)
		return error_wrap(err, "secrets of env '%s'", env);
	log_info("env '%s': generated %zu new value%s in %s", env, s->generated,
		 s->generated == 1 ? "" : "s", path);
	s->generated = 0;
	return 0;
}

int durable_secrets_ensure(const char *state_dir, const char *env,
			   const struct durable_secret_decls *d, struct durable_secrets *out,
			   struct error *err)
{
	if (durable_secrets_load(state_dir, env, out, err) < 0)
		return -1;
	if (durable_secrets_add(out, d, NULL, NULL, err) < 0 ||
	    durable_secrets_save(state_dir, env, out, err) < 0) {
		durable_secrets_release(out);
		return -1;
	}
	return 0;
}

/* ---- x-executor.generate ---- */

/* Line of a node: its scalar, or the first key or item of a collection. */
static int fnode_line(struct fy_node *fn)
{
	struct fy_token *t = NULL;
	const struct fy_mark *m;
	void *iter = NULL;
	int depth;

	for (depth = 0; fn && depth < 8; depth++) {
		if (fy_node_is_scalar(fn)) {
			t = fy_node_get_scalar_token(fn);
			break;
		}
		if (fy_node_is_mapping(fn)) {
			struct fy_node_pair *p = fy_node_mapping_iterate(fn, &iter);

			fn = p ? fy_node_pair_key(p) : NULL;
		} else {
			fn = fy_node_sequence_iterate(fn, &iter);
		}
		iter = NULL;
	}
	m = t ? fy_token_start_mark(t) : NULL;
	return m ? m->line + 1 : 0;
}

static int decl_error(struct error *err, const char *file, struct fy_node *at, const char *key,
		      const char *what)
{
	return error_set(err, ERR_COMPOSE, "%s:%d: x-executor%s%s: %s", file,
			 at ? fnode_line(at) : 0, key ? "." : "", key ? key : "", what);
}

static int decl_one(const char *file, const char *name, struct fy_node *keyn, struct fy_node *spec,
		    struct durable_secret_decl *out, struct error *err)
{
	char path[96];
	struct fy_node_pair *pair;
	void *iter = NULL;

	memset(out, 0, sizeof(*out));
	snprintf(path, sizeof(path), "generate.%.80s", name);
	if (!name_ok(name))
		return decl_error(err, file, keyn, path,
				  "not a variable name: use A-Z, 0-9 and '_', not starting "
				  "with a digit, at most 64 characters");
	if (!strncmp(name, "EXECUTOR_", 9))
		return decl_error(err, file, keyn, path,
				  "EXECUTOR_ names are the driver's own: choose another name");
	out->line = fnode_line(keyn);
	out->length = DURABLE_SECRET_LEN;
	if (spec && fy_node_is_scalar(spec) && fy_node_is_null(spec))
		spec = NULL;
	if (spec && !fy_node_is_mapping(spec))
		return decl_error(err, file, keyn, path,
				  "expected a mapping ({} for a generated secret, {length: N}, "
				  "or {value: TEXT})");
	while (spec && (pair = fy_node_mapping_iterate(spec, &iter))) {
		struct fy_node *k = fy_node_pair_key(pair), *v = fy_node_pair_value(pair);
		const char *ks = k && fy_node_is_scalar(k) ? fy_node_get_scalar0(k) : NULL;
		const char *vs = v && fy_node_is_scalar(v) ? fy_node_get_scalar0(v) : NULL;
		char sub[160];

		snprintf(sub, sizeof(sub), "%s.%.40s", path, ks ? ks : "?");
		if (ks && !strcmp(ks, "length")) {
			char *end = NULL;
			long n = vs ? strtol(vs, &end, 10) : 0;

			if (!vs || !*vs || *end || n < DURABLE_SECRET_LEN_MIN ||
			    n > DURABLE_SECRET_LEN_MAX)
				return decl_error(err, file, v, sub,
						  "expected a whole number from 16 to 256 "
						  "(characters of [A-Za-z0-9])");
			out->length = (unsigned)n;
		} else if (ks && !strcmp(ks, "value")) {
			if (!vs || !*vs || strlen(vs) > 1024)
				return decl_error(err, file, v, sub,
						  "expected a non-empty string (at most 1024 "
						  "characters)");
			free(out->value);
			out->value = strdup(vs);
			if (!out->value)
				return error_set(err, ERR_SYSTEM, "out of memory");
		} else {
			return decl_error(err, file, k, sub, "unknown key (known: length, value)");
		}
	}
	out->name = strdup(name);
	if (!out->name)
		return error_set(err, ERR_SYSTEM, "out of memory");
	return 0;
}

/*
 * Valid UTF-8 without NUL, as the stack reader requires (compose/yaml.c
 * check_text): libfyaml 0.7.12 loops forever on some invalid UTF-8 in a `%`
 * directive line, so such text never reaches it here either.
 */
static bool utf8_text(const unsigned char *p, size_t len)
{
	size_t i = 0, n, k;
	uint32_t cp;

	while (i < len) {
		if (p[i] == '\0')
			return false;
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if (p[i] >= 0xc2 && p[i] <= 0xdf) {
			n = 2;
			cp = p[i] & 0x1f;
		} else if (p[i] >= 0xe0 && p[i] <= 0xef) {
			n = 3;
			cp = p[i] & 0x0f;
		} else if (p[i] >= 0xf0 && p[i] <= 0xf4) {
			n = 4;
			cp = p[i] & 0x07;
		} else {
			return false;
		}
		if (len - i < n)
			return false;
		for (k = 1; k < n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
			return false;
		i += n;
	}
	return true;
}

int durable_secrets_parse_decls(const char *file, const char *text, size_t len,
				struct durable_secret_decls *out, struct error *err)
{
	struct fy_diag_cfg dcfg;
	struct fy_parse_cfg cfg = {.flags = FYPCF_QUIET | FYPCF_DEFAULT_VERSION_1_2 |
					    FYPCF_JSON_NONE | FYPCF_RESOLVE_DOCUMENT};
	struct fy_document *doc;
	struct fy_node *root, *x, *gen;
	struct fy_node_pair *pair;
	void *iter = NULL;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (!utf8_text((const unsigned char *)text, len))
		return 0; /* the stack reader says where */
	/* quiet: a file that is not YAML is the stack reader's to report */
	fy_diag_cfg_default(&dcfg);
	dcfg.fp = NULL;
	dcfg.colorize = false;
	cfg.diag = fy_diag_create(&dcfg);
	if (!cfg.diag)
		return error_set(err, ERR_SYSTEM, "out of memory");
	fy_diag_set_collect_errors(cfg.diag, true);
	doc = fy_document_build_from_string(&cfg, text, len);
	if (!doc) {
		fy_diag_destroy(cfg.diag);
		return 0;
	}
	root = fy_document_root(doc);
	x = root && fy_node_is_mapping(root)
		    ? fy_node_mapping_lookup_by_string(root, "x-executor", 10)
		    : NULL;
	if (!x || (fy_node_is_scalar(x) && fy_node_is_null(x))) {
		rc = 0;
		goto out;
	}
	if (!fy_node_is_mapping(x)) {
		decl_error(err, file, x, NULL, "expected a mapping (generate: ...)");
		goto out;
	}
	while ((pair = fy_node_mapping_iterate(x, &iter))) {
		struct fy_node *k = fy_node_pair_key(pair);
		const char *ks = k && fy_node_is_scalar(k) ? fy_node_get_scalar0(k) : NULL;

		if (!ks || strcmp(ks, "generate")) {
			char sub[64];

			snprintf(sub, sizeof(sub), "%.40s", ks ? ks : "?");
			decl_error(err, file, k, sub, "unknown key (known: generate)");
			goto out;
		}
	}
	gen = fy_node_mapping_lookup_by_string(x, "generate", 8);
	if (!gen || (fy_node_is_scalar(gen) && fy_node_is_null(gen))) {
		rc = 0;
		goto out;
	}
	if (!fy_node_is_mapping(gen)) {
		decl_error(err, file, gen, "generate",
			   "expected a mapping of variable names ({DB_PASSWORD: {}})");
		goto out;
	}
	if ((size_t)fy_node_mapping_item_count(gen) > DURABLE_SECRET_DECLS_MAX) {
		decl_error(err, file, gen, "generate", "more than 64 names");
		goto out;
	}
	out->items = calloc((size_t)fy_node_mapping_item_count(gen) + 1, sizeof(*out->items));
	if (!out->items) {
		error_set(err, ERR_SYSTEM, "out of memory");
		goto out;
	}
	iter = NULL;
	while ((pair = fy_node_mapping_iterate(gen, &iter))) {
		struct fy_node *k = fy_node_pair_key(pair);
		const char *ks = k && fy_node_is_scalar(k) ? fy_node_get_scalar0(k) : NULL;

		if (decl_one(file, ks ? ks : "?", k, fy_node_pair_value(pair), &out->items[out->n],
			     err) < 0) {
			free(out->items[out->n].value);
			goto out;
		}
		out->n++;
	}
	rc = 0;
out:
	fy_document_destroy(doc);
	fy_diag_destroy(cfg.diag);
	if (rc < 0)
		durable_secret_decls_release(out);
	return rc;
}

void durable_secret_decls_release(struct durable_secret_decls *d)
{
	size_t i;

	if (!d)
		return;
	for (i = 0; i < d->n; i++) {
		free(d->items[i].name);
		free(d->items[i].value);
	}
	free(d->items);
	memset(d, 0, sizeof(*d));
}

const char *durable_secrets_get(const struct durable_secrets *s, const char *name)
{
	size_t i;

	for (i = 0; s && i < s->n; i++)
		if (!strcmp(s->items[i].name, name))
			return s->items[i].value;
	return NULL;
}

void durable_secrets_release(struct durable_secrets *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->n; i++) {
		free(s->items[i].name);
		wipe_free(s->items[i].value);
	}
	free(s->items);
	memset(s, 0, sizeof(*s));
}

/* 1 when path already holds exactly `value` with mode 0600 and the owner. */
static int file_is_current(const char *path, const char *value, uid_t uid, gid_t gid)
{
	_cleanup_buf_ struct buf cur = BUF_INIT;
	struct stat st;
	int same;

	if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode) || (st.st_mode & 07777) != 0600)
		return 0;
	if ((uid != (uid_t)-1 && st.st_uid != uid) || (gid != (gid_t)-1 && st.st_gid != gid))
		return 0;
	buf_init(&cur, 64 * 1024);
	if (fs_read_file(path, &cur, 64 * 1024, NULL) < 0) {
		wipe_buf(&cur);
		return 0;
	}
	same = cur.len == strlen(value) && !memcmp(cur.data, value, cur.len);
	wipe_buf(&cur);
	return same;
}

int durable_secrets_write_files(const char *state_dir, const char *env,
				const struct durable_secrets *s, uid_t uid, gid_t gid,
				struct error *err)
{
	_cleanup_free_ char *dir = NULL;
	size_t i;

	if (durable_env_ensure(state_dir, env, err) < 0)
		return -1;
	if (durable_env_path(state_dir, env, DURABLE_SECRETS_DIR, &dir, err) < 0)
		return -1;
	for (i = 0; i < s->n; i++) {
		_cleanup_free_ char *path = NULL;
		const char *value = s->items[i].value;

		if (!name_ok(s->items[i].name))
			return error_set(err, ERR_SYSTEM, "invalid secret name '%.80s'",
					 s->items[i].name);
		if (asprintf(&path, "%s/%s", dir, s->items[i].name) < 0) {
			path = NULL;
			return error_set(err, ERR_SYSTEM, "out of memory");
		}
		if (file_is_current(path, value, uid, gid))
			continue;
		if (fs_write_atomic(path, value, strlen(value), 0600, err) < 0)
			return error_wrap(err, "secrets of env '%s'", env);
		if ((uid != (uid_t)-1 || gid != (gid_t)-1) && lchown(path, uid, gid) < 0)
			return error_set_errno(err, ERR_IO, errno, "chown %s", path);
	}
	return 0;
}

int durable_secrets_remove(const char *state_dir, const char *env, struct error *err)
{
	_cleanup_free_ char *file = NULL;
	_cleanup_free_ char *dir = NULL;

	if (durable_env_path(state_dir, env, DURABLE_SECRETS_FILE, &file, err) < 0 ||
	    durable_env_path(state_dir, env, DURABLE_SECRETS_DIR, &dir, err) < 0)
		return -1;
	if (unlink(file) < 0 && errno != ENOENT)
		return error_set_errno(err, ERR_IO, errno, "remove %s", file);
	return fs_remove_tree(dir, err);
}
