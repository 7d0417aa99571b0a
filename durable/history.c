/* SPDX-License-Identifier: MIT */
#include "durable/history.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "durable/env.h"

static const char *const results[] = {
	DURABLE_RESULT_OK,
	DURABLE_RESULT_FAILED,
	DURABLE_RESULT_REFUSED,
	DURABLE_RESULT_ROLLED_BACK,
};

/* The message, cut to DURABLE_HISTORY_MESSAGE_MAX and with secrets masked. */
static char *masked_message(const char *msg)
{
	size_t len = strnlen(msg, DURABLE_HISTORY_MESSAGE_MAX + 1);
	/* room for "[MASKED]" replacing secrets as short as 6 characters */
	size_t size = len * 2 + 64;
	char *s = malloc(size);

	if (!s)
		return NULL;
	if (len > DURABLE_HISTORY_MESSAGE_MAX)
		snprintf(s, size, "%.*s...", DURABLE_HISTORY_MESSAGE_MAX, msg);
	else
		snprintf(s, size, "%s", msg);
	log_mask(s, size);
	return s;
}

static json_object *entry_json(const char *env, const struct durable_history_entry *e)
{
	const struct durable_holder *who = e->who;
	json_object *o = json_object_new_object();
	char when[32];

	if (!o)
		return NULL;
	durable_time_rfc3339(e->time ? e->time : time(NULL), when, sizeof(when));
	durable_json_add_str(o, "time", when);
	durable_json_add_str(o, "env", env);
	durable_json_add_str(o, "action", e->action);
	durable_json_add_str(o, "color", e->color);
	durable_json_add_str(o, "result", e->result);
	json_object_object_add(o, "duration_ms",
			       json_object_new_int64(e->duration_ms > 0 ? e->duration_ms : 0));
	durable_json_add_str(o, "who", who && who->user ? who->user : durable_default_user());
	if (who) {
		durable_json_add_str(o, "who_claimed", who->user_claimed);
		durable_json_add_str(o, "via", who->via);
		durable_json_add_str(o, "project", who->project);
		durable_json_add_str(o, "project_id", who->project_id);
		durable_json_add_str(o, "ref", who->ref);
		if (who->protected_ref)
			json_object_object_add(
				o, "protected",
				json_object_new_boolean(!strcmp(who->protected_ref, "true")));
		durable_json_add_str(o, "pipeline_id", who->pipeline_id);
		durable_json_add_str(o, "job_id", who->job_id);
		durable_json_add_str(o, "job_name", who->job_name);
	}
	durable_json_add_str(o, "commit", e->commit);
	if (e->images)
		json_object_object_add(o, "images", json_object_get(e->images));
	if (e->message && *e->message) {
		_cleanup_free_ char *m = masked_message(e->message);

		if (!m) {
			json_object_put(o);
			return NULL;
		}
		durable_json_add_str(o, "message", m);
	}
	return o;
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int durable_history_append(const char *state_dir, const char *env,
			   const struct durable_history_entry *e, struct error *err)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_buf_ struct buf line = BUF_INIT;
	_cleanup_close_ int fd = -1;
	json_object *o;
	struct stat st;
	size_t i;
	int known = 0;

	if (!e->action || !*e->action)
		return error_set(err, ERR_SYSTEM, "history entry without an action");
	for (i = 0; e->result && i < ARRAY_SIZE(results); i++)
		known |= !strcmp(e->result, results[i]);
	if (!known)
		return error_set(err, ERR_SYSTEM, "history entry with unknown result '%s'",
				 e->result ? e->result : "(null)");
	if (durable_env_ensure(state_dir, env, err) < 0 ||
	    durable_env_path(state_dir, env, DURABLE_HISTORY_FILE, &path, err) < 0)
		return -1;

	o = entry_json(env, e);
	if (!o)
		return error_set(err, ERR_SYSTEM, "out of memory");
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		json_object_put(o);
		return error_set_errno(err, ERR_IO, errno, "open %s", path);
	}
	if (fstat(fd, &st) < 0) {
		json_object_put(o);
		return error_set_errno(err, ERR_IO, errno, "stat %s", path);
	}
	if (st.st_size > 0) {
		char last = '\n';
		_cleanup_close_ int rfd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

		/* a torn last line (writer killed mid-write) is ended first */
		if (rfd >= 0 && pread(rfd, &last, 1, st.st_size - 1) == 1 && last != '\n')
			buf_putc(&line, '\n');
	}
	buf_puts(&line, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
								  JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	if (buf_putc(&line, '\n') < 0)
		return error_set(err, ERR_SYSTEM, "out of memory");
	/* one write() under O_APPEND: the line lands whole at the end */
	if (write_all(fd, line.data, line.len) < 0)
		return error_set_errno(err, ERR_IO, errno, "append to %s", path);
	if (fsync(fd) < 0)
		return error_set_errno(err, ERR_IO, errno, "sync %s", path);
	return 0;
}

/* A whole line that is exactly one JSON object (surrounding blanks allowed). */
static json_object *parse_line(struct json_tokener *tok, const char *p, size_t len)
{
	json_object *o;
	size_t used;

	while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t' || p[len - 1] == '\r'))
		len--;
	if (len == 0 || len > (size_t)INT32_MAX)
		return NULL;
	json_tokener_reset(tok);
	o = json_tokener_parse_ex(tok, p, (int)len);
	if (!o)
		return NULL;
	used = json_tokener_get_parse_end(tok);
	if (used != len || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

int durable_history_read(const char *state_dir, const char *env, size_t max_entries,
			 json_object **array_out, struct error *err)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_free_ char *data = NULL;
	_cleanup_close_ int fd = -1;
	struct json_tokener *tok;
	json_object *rev, *arr;
	struct stat st;
	off_t off = 0;
	size_t len = 0, end, i, n;

	*array_out = NULL;
	if (durable_env_path(state_dir, env, DURABLE_HISTORY_FILE, &path, err) < 0)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno != ENOENT)
		return error_set_errno(err, ERR_IO, errno, "open %s", path);
	if (fd >= 0) {
		if (fstat(fd, &st) < 0)
			return error_set_errno(err, ERR_IO, errno, "stat %s", path);
		if ((unsigned long long)st.st_size > DURABLE_HISTORY_READ_LIMIT)
			off = st.st_size - (off_t)DURABLE_HISTORY_READ_LIMIT;
		len = (size_t)(st.st_size - off);
		data = malloc(len + 1);
		if (!data)
			return error_set(err, ERR_SYSTEM, "out of memory");
		for (i = 0; i < len;) {
			ssize_t r = pread(fd, data + i, len - i, off + (off_t)i);

			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0)
				return error_set_errno(err, ERR_IO, errno, "read %s", path);
			if (r == 0)
				break;
			i += (size_t)r;
		}
		len = i;
		data[len] = '\0';
	}

	tok = json_tokener_new();
	rev = json_object_new_array();
	if (!tok || !rev) {
		if (tok)
			json_tokener_free(tok);
		json_object_put(rev);
		return error_set(err, ERR_SYSTEM, "out of memory");
	}
	/* walk lines from the end; the first line of a cut read may be partial */
	end = len;
	while (end > 0 && (max_entries == 0 || json_object_array_length(rev) < max_entries)) {
		size_t start = end;
		json_object *o;

		while (start > 0 && data[start - 1] != '\n')
			start--;
		if (start == 0 && off > 0)
			break;
		o = parse_line(tok, data + start, end - start);
		if (o)
			json_object_array_add(rev, o);
		end = start > 0 ? start - 1 : 0;
	}
	json_tokener_free(tok);

	n = json_object_array_length(rev);
	arr = json_object_new_array_ext((int)n);
	if (!arr) {
		json_object_put(rev);
		return error_set(err, ERR_SYSTEM, "out of memory");
	}
	for (i = n; i > 0; i--)
		json_object_array_add(arr, json_object_get(json_object_array_get_idx(rev, i - 1)));
	json_object_put(rev);
	*array_out = arr;
	return 0;
}
