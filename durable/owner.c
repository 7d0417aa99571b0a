/* SPDX-License-Identifier: MIT */
#include "durable/owner.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "durable/env.h"

#define OWNER_FILE_LIMIT (64 * 1024)

int durable_owner_read(const char *app_root, struct durable_owner *out, struct error *err)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_buf_ struct buf text = BUF_INIT;
	_cleanup_close_ int fd = -1;
	json_object *root, *v;
	char chunk[4096];
	ssize_t n;

	memset(out, 0, sizeof(*out));
	if (asprintf(&path, "%s/%s", app_root, DURABLE_OWNER_FILE) < 0) {
		path = NULL;
		return error_set(err, ERR_SYSTEM, "out of memory");
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return error_set_errno(err, ERR_IO, errno, "read the owner of the app (%s)", path);
	}
	while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
		if (text.len + (size_t)n > OWNER_FILE_LIMIT)
			return error_set(err, ERR_IO, "%s is too large", path);
		if (buf_append(&text, chunk, (size_t)n) < 0)
			return error_set(err, ERR_SYSTEM, "out of memory");
	}
	if (n < 0)
		return error_set_errno(err, ERR_IO, errno, "read %s", path);
	root = json_tokener_parse(buf_str(&text));
	if (!root || !json_object_is_type(root, json_type_object) ||
	    !json_object_object_get_ex(root, "project_id", &v) ||
	    !json_object_is_type(v, json_type_int) || json_object_get_int64(v) <= 0) {
		json_object_put(root);
		return error_set(err, ERR_IO,
				 "%s is not an owner record (a project_id is missing): restore it "
				 "or remove it to let the next project claim the app",
				 path);
	}
	out->project_id = json_object_get_int64(v);
	if (json_object_object_get_ex(root, "project", &v))
		snprintf(out->project, sizeof(out->project), "%s", json_object_get_string(v));
	if (json_object_object_get_ex(root, "since", &v))
		snprintf(out->since, sizeof(out->since), "%s", json_object_get_string(v));
	json_object_put(root);
	return 0;
}

int durable_owner_claim(const char *app_root, long long project_id, const char *project,
			const char *job_id, struct durable_owner *out, struct error *err)
{
	_cleanup_free_ char *path = NULL, *tmp = NULL;
	json_object *o;
	const char *text;
	char when[32];
	int rc, e;

	if (durable_owner_read(app_root, out, err) < 0)
		return -1;
	if (out->project_id > 0)
		return 0;
	if (project_id <= 0)
		return error_set(err, ERR_SYSTEM,
				 "the job payload names no project id: cannot record who owns "
				 "the app");
	if (fs_mkdir_p(app_root, 0700, err) < 0)
		return -1;
	if (asprintf(&path, "%s/%s", app_root, DURABLE_OWNER_FILE) < 0 ||
	    asprintf(&tmp, "%s.claim.%d", path, (int)getpid()) < 0)
		return error_set(err, ERR_SYSTEM, "out of memory");
	durable_time_rfc3339(time(NULL), when, sizeof(when));
	o = json_object_new_object();
	json_object_object_add(o, "project_id", json_object_new_int64(project_id));
	durable_json_add_str(o, "project", project);
	durable_json_add_str(o, "since", when);
	durable_json_add_str(o, "job_id", job_id);
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	unlink(tmp);
	rc = fs_write_atomic(tmp, text, strlen(text), 0600, err);
	json_object_put(o);
	if (rc < 0)
		return -1;
	/* link(2) does not replace: the first claim wins, whole */
	rc = link(tmp, path);
	e = errno;
	unlink(tmp);
	if (rc < 0 && e != EEXIST)
		return error_set_errno(err, ERR_IO, e, "record the owner of the app (%s)", path);
	return durable_owner_read(app_root, out, err);
}
