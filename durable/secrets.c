/* SPDX-License-Identifier: MIT */
#include "durable/secrets.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <openssl/err.h>
#include <openssl/rand.h>
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

static const struct {
	const char *name;
	const char *plain; /* NULL: generated secret */
} standard[] = {
	{"DB_ROOT_PASSWORD", NULL},
	{"DB_PASSWORD", NULL},
	{"DB_USER", "app"},
	{"DB_NAME", "echobase"},
	{"ROUTER_AUTH_USER", "executor"},
	{"ROUTER_AUTH_PASSWORD", NULL},
};

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

/* DURABLE_SECRET_LEN characters, uniform over charset (rejection sampling). */
static int generate(char **out, struct error *err)
{
	/* 62 * 4 = 248: bytes >= 248 would bias the first characters */
	const unsigned limit = 62u * (256u / 62u);
	unsigned char rnd[64];
	char *s = malloc(DURABLE_SECRET_LEN + 1);
	size_t n = 0;

	if (!s)
		return error_set(err, ERR_SYSTEM, "out of memory");
	while (n < DURABLE_SECRET_LEN) {
		size_t i;

		if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
			unsigned long e = ERR_get_error();

			explicit_bzero(s, DURABLE_SECRET_LEN + 1);
			free(s);
			explicit_bzero(rnd, sizeof(rnd));
			return error_set(err, ERR_SYSTEM, "OpenSSL random generator failed: %s",
					 e ? ERR_reason_error_string(e) : "no entropy");
		}
		for (i = 0; i < sizeof(rnd) && n < DURABLE_SECRET_LEN; i++)
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
static int load_file(const char *path, json_object **stored, struct error *err)
{
	_cleanup_buf_ struct buf data = BUF_INIT;
	json_object *root = NULL, *secrets = NULL, *version = NULL;
	enum json_tokener_error jerr;
	struct stat st;
	int fd;

	*stored = NULL;
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
	*stored = json_object_get(secrets);
	json_object_put(root);
	return 0;
}

static int save_file(const char *path, json_object *stored, struct error *err)
{
	json_object *root = json_object_new_object();
	const char *text;
	size_t len;
	int ret;

	if (!root)
		return error_set(err, ERR_SYSTEM, "out of memory");
	json_object_object_add(root, "version", json_object_new_int(SECRETS_VERSION));
	json_object_object_add(root, "secrets", json_object_get(stored));
	text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
							    JSON_C_TO_STRING_NOSLASHESCAPE);
	len = strlen(text);
	ret = fs_write_atomic(path, text, len, 0600, err);
	/* the serialisation buffer belongs to root; wipe it before it is freed */
	explicit_bzero((char *)text, len);
	json_object_put(root);
	return ret;
}

static int is_standard_secret(const char *name, int *idx)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(standard); i++)
		if (!strcmp(standard[i].name, name)) {
			if (idx)
				*idx = (int)i;
			return 1;
		}
	return 0;
}

static struct durable_secret *find(struct durable_secrets *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (!strcmp(s->items[i].name, name))
			return &s->items[i];
	return NULL;
}

/* Add `name` to the result (once), taking its value from `stored` or
 * generating it (and recording it in `stored`). */
static int add_item(struct durable_secrets *s, size_t cap, json_object *stored, const char *name,
		    const char *plain, int *changed, struct error *err)
{
	struct durable_secret *it;
	json_object *val;
	char *value = NULL;

	if (find(s, name))
		return 0;
	if (s->n >= cap)
		return error_set(err, ERR_SYSTEM, "secrets: internal list overflow");
	if (json_object_object_get_ex(stored, name, &val)) {
		value = strdup(json_object_get_string(val));
		if (!value)
			return error_set(err, ERR_SYSTEM, "out of memory");
	} else {
		if (plain) {
			value = strdup(plain);
			if (!value)
				return error_set(err, ERR_SYSTEM, "out of memory");
		} else {
			if (generate(&value, err) < 0)
				return -1;
			s->generated++;
		}
		if (json_object_object_add(stored, name, json_object_new_string(value)) < 0) {
			wipe_free(value);
			return error_set(err, ERR_SYSTEM, "out of memory");
		}
		*changed = 1;
	}
	it = &s->items[s->n];
	it->name = strdup(name);
	if (!it->name) {
		wipe_free(value);
		return error_set(err, ERR_SYSTEM, "out of memory");
	}
	it->value = value;
	it->secret = plain == NULL;
	s->n++;
	return 0;
}

int durable_secrets_ensure(const char *state_dir, const char *env, const char *const *extra,
			   struct durable_secrets *out, struct error *err)
{
	_cleanup_free_ char *path = NULL;
	struct durable_secrets s = {0};
	json_object *stored = NULL;
	size_t cap, i, n_extra = 0;
	int changed = 0;

	memset(out, 0, sizeof(*out));
	for (; extra && extra[n_extra]; n_extra++)
		if (!name_ok(extra[n_extra]))
			return error_set(
				err, ERR_JOB,
				"invalid secret name '%.80s': use an environment variable "
				"name (A-Z, 0-9 and '_', not starting with a digit, at most "
				"%d characters)",
				extra[n_extra], DURABLE_SECRET_NAME_MAX);
	if (durable_env_ensure(state_dir, env, err) < 0)
		return -1;
	if (durable_env_path(state_dir, env, DURABLE_SECRETS_FILE, &path, err) < 0)
		return -1;
	if (load_file(path, &stored, err) < 0)
		return error_wrap(err, "secrets of env '%s'", env);

	cap = ARRAY_SIZE(standard) + n_extra + (size_t)json_object_object_length(stored);
	s.items = calloc(cap, sizeof(*s.items));
	if (!s.items) {
		json_object_put(stored);
		return error_set(err, ERR_SYSTEM, "out of memory");
	}
	for (i = 0; i < ARRAY_SIZE(standard); i++)
		if (add_item(&s, cap, stored, standard[i].name, standard[i].plain, &changed, err) <
		    0)
			goto fail;
	for (i = 0; i < n_extra; i++) {
		int idx;
		const char *plain = NULL;

		if (is_standard_secret(extra[i], &idx))
			plain = standard[idx].plain;
		if (add_item(&s, cap, stored, extra[i], plain, &changed, err) < 0)
			goto fail;
	}
	/* names stored by earlier runs that nobody asked for this time */
	{
		json_object_object_foreach(stored, key, val)
		{
			(void)val;
			if (add_item(&s, cap, stored, key, NULL, &changed, err) < 0)
				goto fail;
		}
	}
	for (i = 0; i < s.n; i++)
		if (s.items[i].secret)
			log_add_secret(s.items[i].value);
	if (changed && save_file(path, stored, err) < 0) {
		error_wrap(err, "secrets of env '%s'", env);
		goto fail;
	}
	if (s.generated)
		log_info("env '%s': generated %zu new credential%s in %s", env, s.generated,
			 s.generated == 1 ? "" : "s", path);
	json_object_put(stored);
	*out = s;
	return 0;
fail:
	json_object_put(stored);
	durable_secrets_release(&s);
	return -1;
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
