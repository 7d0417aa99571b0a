/* SPDX-License-Identifier: MIT */
#include "durable/env.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"

static int env_name_ok(const char *env)
{
	size_t i;

	if (!env || !env[0] || strlen(env) > DURABLE_ENV_NAME_MAX)
		return 0;
	for (i = 0; env[i]; i++) {
		char c = env[i];
		int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

		if (!alnum && (i == 0 || (c != '_' && c != '-')))
			return 0;
	}
	return 1;
}

int durable_env_validate(const char *env, struct error *err)
{
	if (env_name_ok(env))
		return 0;
	if (!env || !env[0])
		return error_set(err, ERR_JOB,
				 "no env name given: name the environment, e.g. 'ci' or 'devlocal' "
				 "(lower-case letters, digits, '_' and '-', at most %d characters)",
				 DURABLE_ENV_NAME_MAX);
	return error_set(
		err, ERR_JOB,
		"invalid env name '%.64s%s': use 1 to %d characters from a-z, 0-9, '_' and "
		"'-', starting with a letter or digit, e.g. 'ci' or 'devlocal'",
		env, strlen(env) > 64 ? "..." : "", DURABLE_ENV_NAME_MAX);
}

int durable_env_path(const char *state_dir, const char *env, const char *leaf, char **out,
		     struct error *err)
{
	int n;

	*out = NULL;
	if (!state_dir || !state_dir[0])
		return error_set(err, ERR_CONFIG, "no state directory configured (state_dir)");
	if (durable_env_validate(env, err) < 0)
		return -1;
	if (leaf)
		n = asprintf(out, "%s/envs/%s/%s", state_dir, env, leaf);
	else
		n = asprintf(out, "%s/envs/%s", state_dir, env);
	if (n < 0) {
		*out = NULL;
		return error_set(err, ERR_SYSTEM, "out of memory");
	}
	return 0;
}

/*
 * Make sure `path` is a real directory (not a symlink) with exactly `mode`.
 * `secret` directories that were open to others get a warning.
 */
static int ensure_dir(const char *path, mode_t mode, int secret, struct error *err)
{
	struct stat st;

	if (mkdir(path, mode) < 0 && errno != EEXIST)
		return error_set_errno(err, ERR_IO, errno, "create directory %s", path);
	if (lstat(path, &st) < 0)
		return error_set_errno(err, ERR_IO, errno, "stat %s", path);
	if (!S_ISDIR(st.st_mode))
		return error_set(err, ERR_IO,
				 "%s is not a directory (a symlink or file is in its place): "
				 "move it away so the driver can create its own",
				 path);
	if ((st.st_mode & 07777) != mode) {
		if (secret && (st.st_mode & 077))
			log_warn("%s was accessible to other users (mode %04o); "
				 "restricting it to %04o",
				 path, (unsigned)(st.st_mode & 07777), (unsigned)mode);
		if (chmod(path, mode) < 0)
			return error_set_errno(err, ERR_IO, errno, "chmod %s", path);
	}
	return 0;
}

int durable_env_ensure(const char *state_dir, const char *env, struct error *err)
{
	static const struct {
		const char *leaf;
		mode_t mode;
		int secret;
	} subdirs[] = {
		{DURABLE_TLS_DIR, 0700, 1},
		{DURABLE_CA_DIR, 0700, 1},
		{DURABLE_SECRETS_DIR, 0700, 1},
		{DURABLE_ROUTER_DIR, 0755, 0},
	};
	_cleanup_free_ char *envs = NULL;
	_cleanup_free_ char *dir = NULL;
	struct stat st;
	size_t i;

	if (durable_env_path(state_dir, env, NULL, &dir, err) < 0)
		return -1;
	if (stat(state_dir, &st) < 0) {
		if (errno != ENOENT)
			return error_set_errno(err, ERR_IO, errno, "state directory %s", state_dir);
		if (fs_mkdir_p(state_dir, 0700, err) < 0)
			return error_wrap(err, "state directory");
	} else if (!S_ISDIR(st.st_mode)) {
		return error_set(err, ERR_CONFIG,
				 "state directory %s is not a directory: fix state_dir in the "
				 "configuration",
				 state_dir);
	}
	if (asprintf(&envs, "%s/envs", state_dir) < 0) {
		envs = NULL;
		return error_set(err, ERR_SYSTEM, "out of memory");
	}
	if (ensure_dir(envs, 0700, 1, err) < 0 || ensure_dir(dir, 0700, 1, err) < 0)
		return -1;
	for (i = 0; i < ARRAY_SIZE(subdirs); i++) {
		_cleanup_free_ char *p = NULL;

		if (durable_env_path(state_dir, env, subdirs[i].leaf, &p, err) < 0)
			return -1;
		if (ensure_dir(p, subdirs[i].mode, subdirs[i].secret, err) < 0)
			return -1;
	}
	return 0;
}

int durable_env_exists(const char *state_dir, const char *env)
{
	_cleanup_free_ char *dir = NULL;
	struct stat st;

	if (durable_env_path(state_dir, env, NULL, &dir, NULL) < 0)
		return 0;
	return lstat(dir, &st) == 0 && S_ISDIR(st.st_mode);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void durable_env_list_free(char **names)
{
	char **p;

	if (!names)
		return;
	for (p = names; *p; p++)
		free(*p);
	free(names);
}

int durable_env_list(const char *state_dir, char ***names, size_t *count, struct error *err)
{
	_cleanup_free_ char *envs = NULL;
	char **list = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;

	*names = NULL;
	if (count)
		*count = 0;
	if (asprintf(&envs, "%s/envs", state_dir) < 0) {
		envs = NULL;
		return error_set(err, ERR_SYSTEM, "out of memory");
	}
	d = opendir(envs);
	if (!d && errno != ENOENT)
		return error_set_errno(err, ERR_IO, errno, "open %s", envs);
	while (d && (de = readdir(d))) {
		struct stat st;

		if (!env_name_ok(de->d_name))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISDIR(st.st_mode))
			continue;
		if (n + 1 >= cap) {
			size_t ncap = cap ? cap * 2 : 8;
			char **nl = realloc(list, ncap * sizeof(*nl));

			if (!nl)
				goto oom;
			list = nl;
			cap = ncap;
		}
		list[n] = strdup(de->d_name);
		if (!list[n])
			goto oom;
		list[++n] = NULL;
	}
	if (d)
		closedir(d);
	if (!list) {
		list = calloc(1, sizeof(*list));
		if (!list)
			return error_set(err, ERR_SYSTEM, "out of memory");
	}
	qsort(list, n, sizeof(*list), cmp_str);
	*names = list;
	if (count)
		*count = n;
	return 0;
oom:
	if (d)
		closedir(d);
	if (list) {
		list[n] = NULL;
		durable_env_list_free(list);
	}
	return error_set(err, ERR_SYSTEM, "out of memory");
}

/* "<anything>.tmp.<digits>", as fs_write_atomic names its temp files. */
static int is_tmp_leftover(const char *name)
{
	const char *p = strstr(name, ".tmp.");
	const char *q;

	if (!p || p == name)
		return 0;
	/* the last ".tmp." wins: "a.tmp.b.tmp.12" */
	while ((q = strstr(p + 1, ".tmp.")))
		p = q;
	p += 5;
	if (!*p)
		return 0;
	for (; *p; p++)
		if (*p < '0' || *p > '9')
			return 0;
	return 1;
}

static int sweep_dir(const char *path, struct error *err)
{
	struct dirent *de;
	DIR *d = opendir(path);

	if (!d) {
		if (errno == ENOENT)
			return 0;
		return error_set_errno(err, ERR_IO, errno, "open %s", path);
	}
	while ((de = readdir(d))) {
		struct stat st;

		if (!is_tmp_leftover(de->d_name))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    S_ISDIR(st.st_mode))
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT) {
			int e = errno;

			closedir(d);
			return error_set_errno(err, ERR_IO, e, "remove %s/%s", path, de->d_name);
		}
		log_debug("removed %s/%s left by an interrupted write", path, de->d_name);
	}
	closedir(d);
	return 0;
}

int durable_env_sweep_tmp(const char *state_dir, const char *env, struct error *err)
{
	static const char *const leaves[] = {NULL, DURABLE_TLS_DIR, DURABLE_CA_DIR,
					     DURABLE_SECRETS_DIR};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(leaves); i++) {
		_cleanup_free_ char *p = NULL;

		if (durable_env_path(state_dir, env, leaves[i], &p, err) < 0)
			return -1;
		if (sweep_dir(p, err) < 0)
			return -1;
	}
	return 0;
}

void durable_time_rfc3339(time_t t, char *out, size_t size)
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm)) {
		if (size)
			snprintf(out, size, "1970-01-01T00:00:00Z");
	}
}

int durable_time_parse_rfc3339(const char *s, time_t *out)
{
	struct tm tm;
	const char *end;

	if (!s)
		return -1;
	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!end || *end)
		return -1;
	*out = timegm(&tm);
	return 0;
}

const char *durable_default_user(void)
{
	const char *u = getenv("GITLAB_USER_LOGIN");
	struct passwd *pw;

	if (u && *u)
		return u;
	u = getenv("USER");
	if (u && *u)
		return u;
	pw = getpwuid(geteuid());
	return pw && pw->pw_name ? pw->pw_name : "unknown";
}

void durable_json_add_str(json_object *o, const char *key, const char *val)
{
	if (val && *val)
		json_object_object_add(o, key, json_object_new_string(val));
}
