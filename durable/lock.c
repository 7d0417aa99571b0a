/* SPDX-License-Identifier: MIT */
#include "durable/lock.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "durable/env.h"

#define HOLDER_FILE_LIMIT (64 * 1024)
#define MAX_HELD	  16

/* Lock files this process holds, to refuse re-entrant acquisition. */
static char *held_paths[MAX_HELD];

static int held_find(const char *path)
{
	int i;

	for (i = 0; i < MAX_HELD; i++)
		if (held_paths[i] && !strcmp(held_paths[i], path))
			return i;
	return -1;
}

static void held_add(const char *path)
{
	int i;

	for (i = 0; i < MAX_HELD; i++)
		if (!held_paths[i]) {
			held_paths[i] = strdup(path);
			return;
		}
}

static void held_remove(const char *path)
{
	int i = held_find(path);

	if (i >= 0) {
		free(held_paths[i]);
		held_paths[i] = NULL;
	}
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};

	/* a signal cuts the sleep short; the caller re-checks its cancel flag */
	nanosleep(&ts, NULL);
}

static int write_holder(const char *path, const struct durable_holder *who, struct error *err)
{
	json_object *o = json_object_new_object();
	char host[256] = "", since[32];
	time_t now = time(NULL);
	const char *text;
	int ret;

	if (!o)
		return error_set(err, ERR_SYSTEM, "out of memory");
	gethostname(host, sizeof(host) - 1);
	durable_time_rfc3339(now, since, sizeof(since));
	json_object_object_add(o, "pid", json_object_new_int64(getpid()));
	durable_json_add_str(o, "host", host);
	durable_json_add_str(o, "action", who ? who->action : NULL);
	durable_json_add_str(o, "job_id", who ? who->job_id : NULL);
	durable_json_add_str(o, "job_name", who ? who->job_name : NULL);
	durable_json_add_str(o, "pipeline_id", who ? who->pipeline_id : NULL);
	durable_json_add_str(o, "project", who ? who->project : NULL);
	durable_json_add_str(o, "ref", who ? who->ref : NULL);
	durable_json_add_str(o, "user", who && who->user ? who->user : durable_default_user());
	durable_json_add_str(o, "since", since);
	json_object_object_add(o, "since_epoch", json_object_new_int64((int64_t)now));
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							 JSON_C_TO_STRING_NOSLASHESCAPE);
	ret = fs_write_atomic(path, text, strlen(text), 0600, err);
	json_object_put(o);
	return ret;
}

static void copy_field(json_object *o, const char *key, char *out, size_t size)
{
	json_object *v;

	out[0] = '\0';
	if (json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
		snprintf(out, size, "%s", json_object_get_string(v));
}

/* Fill the holder fields of info from lock.holder; info->known says if it worked. */
static void read_holder(const char *path, struct durable_lock_info *info)
{
	_cleanup_buf_ struct buf data = BUF_INIT;
	json_object *o, *v;
	char host[256] = "";

	info->known = false;
	buf_init(&data, HOLDER_FILE_LIMIT);
	if (fs_read_file(path, &data, HOLDER_FILE_LIMIT, NULL) < 0)
		return;
	o = json_tokener_parse(buf_str(&data));
	if (!o || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return;
	}
	info->pid = json_object_object_get_ex(o, "pid", &v) ? (pid_t)json_object_get_int64(v) : 0;
	info->since = json_object_object_get_ex(o, "since_epoch", &v)
			      ? (time_t)json_object_get_int64(v)
			      : 0;
	copy_field(o, "host", info->host, sizeof(info->host));
	copy_field(o, "action", info->action, sizeof(info->action));
	copy_field(o, "job_id", info->job_id, sizeof(info->job_id));
	copy_field(o, "job_name", info->job_name, sizeof(info->job_name));
	copy_field(o, "pipeline_id", info->pipeline_id, sizeof(info->pipeline_id));
	copy_field(o, "project", info->project, sizeof(info->project));
	copy_field(o, "user", info->user, sizeof(info->user));
	json_object_put(o);
	info->known = info->pid > 0;
	/* details left by a holder that died (and whose lock the kernel dropped)
	 * before the current holder wrote its own */
	gethostname(host, sizeof(host) - 1);
	if (info->known && !strcmp(host, info->host) && kill(info->pid, 0) < 0 && errno == ESRCH)
		info->known = false;
}

/* "job 123 (deploy green)" */
static void describe_who(const struct durable_lock_info *info, struct buf *b)
{
	if (!info->known)
		buf_puts(b, "another process");
	else if (info->job_id[0])
		buf_printf(b, "job %s", info->job_id);
	else if (info->user[0])
		buf_printf(b, "%s", info->user);
	else
		buf_printf(b, "pid %d", (int)info->pid);
	if (info->known && info->action[0])
		buf_printf(b, " (%s)", info->action);
}

/* "since 12:03:04, pid 4567" */
static void describe_when(const struct durable_lock_info *info, struct buf *b)
{
	char host[256] = "";

	if (!info->known) {
		buf_puts(b, "which has not recorded its details yet");
		return;
	}
	if (info->since) {
		struct tm tm, today;
		time_t now = time(NULL);
		char since[64] = "";

		localtime_r(&info->since, &tm);
		localtime_r(&now, &today);
		if (tm.tm_year == today.tm_year && tm.tm_yday == today.tm_yday)
			strftime(since, sizeof(since), "%H:%M:%S", &tm);
		else
			strftime(since, sizeof(since), "%Y-%m-%d %H:%M:%S", &tm);
		buf_printf(b, "since %s, ", since);
	}
	buf_printf(b, "pid %d", (int)info->pid);
	gethostname(host, sizeof(host) - 1);
	if (info->host[0] && strcmp(host, info->host))
		buf_printf(b, " on %s", info->host);
}

void durable_lock_describe(const struct durable_lock_info *info, char *out, size_t size)
{
	struct buf b = BUF_INIT;

	buf_init(&b, 4096);
	describe_who(info, &b);
	buf_putc(&b, info->known ? ' ' : ',');
	if (!info->known)
		buf_putc(&b, ' ');
	describe_when(info, &b);
	snprintf(out, size, "%s", buf_str(&b));
	buf_release(&b);
}

void durable_lock_release(struct durable_lock *l)
{
	if (!l)
		return;
	if (l->fd >= 0) {
		/* the holder file first: once unlocked it may be someone else's */
		if (l->holder_path)
			unlink(l->holder_path);
		flock(l->fd, LOCK_UN);
		close(l->fd);
		if (l->path)
			held_remove(l->path);
	}
	free(l->path);
	free(l->holder_path);
	free(l->env);
	l->fd = -1;
	l->path = NULL;
	l->holder_path = NULL;
	l->env = NULL;
}

static int open_lock_file(const char *path, struct error *err)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0)
		return error_set_errno(err, ERR_IO, errno, "open lock file %s", path);
	return fd;
}

int durable_lock_acquire(const char *state_dir, const char *env, const struct durable_holder *who,
			 int timeout_s, struct durable_lock *out, struct error *err)
{
	struct durable_lock l = DURABLE_LOCK_INIT;
	long long start, deadline, next_print;
	char desc[1024];

	out->fd = -1;
	out->path = out->holder_path = out->env = NULL;
	if (durable_env_ensure(state_dir, env, err) < 0)
		return -1;
	if (durable_env_path(state_dir, env, DURABLE_LOCK_FILE, &l.path, err) < 0 ||
	    durable_env_path(state_dir, env, DURABLE_HOLDER_FILE, &l.holder_path, err) < 0)
		goto fail;
	l.env = strdup(env);
	if (!l.env) {
		error_set(err, ERR_SYSTEM, "out of memory");
		goto fail;
	}
	if (held_find(l.path) >= 0) {
		error_set(err, ERR_SYSTEM,
			  "env '%s' is already locked by this process (a driver bug: the lock "
			  "is not re-entrant)",
			  env);
		goto fail;
	}
	l.fd = open_lock_file(l.path, err);
	if (l.fd < 0)
		goto fail;

	start = now_ms();
	deadline = timeout_s < 0 ? -1 : start + (long long)timeout_s * 1000;
	next_print = start;
	for (;;) {
		struct durable_lock_info info;
		long long now, wait;

		if (flock(l.fd, LOCK_EX | LOCK_NB) == 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK) {
			error_set_errno(err, ERR_IO, errno, "lock %s", l.path);
			goto fail;
		}
		now = now_ms();
		if (deadline >= 0 && now >= deadline) {
			struct buf who_s = BUF_INIT, when_s = BUF_INIT;

			memset(&info, 0, sizeof(info));
			read_holder(l.holder_path, &info);
			buf_init(&who_s, 1024);
			buf_init(&when_s, 1024);
			describe_who(&info, &who_s);
			describe_when(&info, &when_s);
			error_set(err, ERR_LOCK,
				  "env '%s' is locked by %s for %d s (held %s); giving up — retry "
				  "when it finishes, or raise lock_timeout",
				  env, buf_str(&who_s), timeout_s, buf_str(&when_s));
			buf_release(&who_s);
			buf_release(&when_s);
			goto fail;
		}
		if (now >= next_print) {
			memset(&info, 0, sizeof(info));
			read_holder(l.holder_path, &info);
			if (!info.known && now - start < 1000) {
				/* the holder writes its details right after it takes the
				 * lock: give it a moment before saying "unknown" */
				next_print = now + DURABLE_LOCK_POLL_MS;
			} else {
				durable_lock_describe(&info, desc, sizeof(desc));
				log_info("waiting for the lock on env '%s': held by %s", env, desc);
				next_print = now + DURABLE_LOCK_PRINT_MS;
			}
		}
		if (who && who->cancel && *who->cancel) {
			error_set(err, ERR_CANCELED,
				  "canceled while waiting for the lock on env '%s'", env);
			goto fail;
		}
		wait = DURABLE_LOCK_POLL_MS;
		if (deadline >= 0 && deadline - now < wait)
			wait = deadline - now;
		sleep_ms(wait);
		if (who && who->cancel && *who->cancel) {
			error_set(err, ERR_CANCELED,
				  "canceled while waiting for the lock on env '%s'", env);
			goto fail;
		}
	}
	held_add(l.path);
	if (durable_env_sweep_tmp(state_dir, env, err) < 0 ||
	    write_holder(l.holder_path, who, err) < 0) {
		durable_lock_release(&l);
		return error_wrap(err, "lock env '%s'", env);
	}
	*out = l;
	return 0;
fail:
	if (l.fd >= 0) {
		close(l.fd);
		l.fd = -1;
	}
	durable_lock_release(&l);
	return -1;
}

int durable_lock_query(const char *state_dir, const char *env, struct durable_lock_info *info,
		       struct error *err)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_free_ char *holder = NULL;
	_cleanup_close_ int fd = -1;

	memset(info, 0, sizeof(*info));
	if (durable_env_path(state_dir, env, DURABLE_LOCK_FILE, &path, err) < 0 ||
	    durable_env_path(state_dir, env, DURABLE_HOLDER_FILE, &holder, err) < 0)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return error_set_errno(err, ERR_IO, errno, "open lock file %s", path);
	}
	if (held_find(path) >= 0) {
		info->held = true;
	} else if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
		flock(fd, LOCK_UN);
		return 0;
	} else if (errno == EWOULDBLOCK) {
		info->held = true;
	} else {
		return error_set_errno(err, ERR_IO, errno, "lock %s", path);
	}
	read_holder(holder, info);
	return 0;
}
