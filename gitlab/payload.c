/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "gitlab/gitlab.h"

#define PAYLOAD_MAX (32u * 1024u * 1024u)

static char *dup_str(json_object *parent, const char *key)
{
	json_object *v;

	if (!parent || !json_object_object_get_ex(parent, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return strdup(json_object_get_string(v));
}

static long long get_int(json_object *parent, const char *key)
{
	json_object *v;

	if (!parent || !json_object_object_get_ex(parent, key, &v))
		return 0;
	if (json_object_is_type(v, json_type_int))
		return (long long)json_object_get_int64(v);
	if (json_object_is_type(v, json_type_string))
		return strtoll(json_object_get_string(v), NULL, 10);
	return 0;
}

static json_object *get_typed(json_object *parent, const char *key, json_type type)
{
	json_object *v;

	if (!parent || !json_object_object_get_ex(parent, key, &v) || !json_object_is_type(v, type))
		return NULL;
	return v;
}

/* "https://gitlab-ci-token:x@host/group/sub/project.git" -> "group/sub/project" */
static char *project_path_from_url(const char *url)
{
	const char *p = strstr(url, "://");
	size_t len;
	char *out;

	p = p ? p + 3 : url;
	p = strchr(p, '/');
	if (!p)
		return NULL;
	p++;
	len = strlen(p);
	if (len > 4 && !strcmp(p + len - 4, ".git"))
		len -= 4;
	while (len && p[len - 1] == '/')
		len--;
	if (!len)
		return NULL;
	out = strndup(p, len);
	return out;
}

/* credentials[]: only type "registry" (case-sensitive, as the runner reads
 * it) with a url and a user; every password masked from now on. */
static int parse_credentials(struct gitlab_job *job)
{
	json_object *list = get_typed(job->root, "credentials", json_type_array);
	size_t i, n = list ? json_object_array_length(list) : 0;

	if (!n)
		return 0;
	job->credentials = calloc(n, sizeof(*job->credentials));
	if (!job->credentials)
		return -1;
	for (i = 0; i < n; i++) {
		json_object *c = json_object_array_get_idx(list, i), *type;
		struct gitlab_credential *out = &job->credentials[job->ncredentials];

		if (!json_object_is_type(c, json_type_object) ||
		    !json_object_object_get_ex(c, "type", &type) ||
		    !json_object_is_type(type, json_type_string) ||
		    strcmp(json_object_get_string(type), "registry"))
			continue;
		out->url = dup_str(c, "url");
		out->username = dup_str(c, "username");
		out->password = dup_str(c, "password");
		if (out->password)
			log_add_secret(out->password);
		if (!out->url || !*out->url || !out->username || !*out->username ||
		    !out->password) {
			free(out->url);
			free(out->username);
			free(out->password);
			memset(out, 0, sizeof(*out));
			continue;
		}
		job->ncredentials++;
	}
	return 0;
}

int gitlab_job_parse(struct gitlab_job *job, const char *text, size_t len, struct error *err)
{
	struct json_tokener *tok;
	json_object *git, *info, *image, *protected_ref;
	enum json_tokener_error jerr;

	memset(job, 0, sizeof(*job));
	job->protected_ref = -1;
	tok = json_tokener_new();
	if (!tok)
		return error_set(err, ERR_SYSTEM, "out of memory");
	job->root = json_tokener_parse_ex(tok, text, (int)len);
	jerr = json_tokener_get_error(tok);
	if (!job->root || jerr != json_tokener_success || json_tokener_get_parse_end(tok) < len) {
		size_t end = json_tokener_get_parse_end(tok);

		json_tokener_free(tok);
		if (job->root) {
			/* trailing whitespace is fine */
			while (end < len && strchr(" \t\r\n", text[end]))
				end++;
			if (end == len && jerr == json_tokener_success)
				goto parsed;
			json_object_put(job->root);
			job->root = NULL;
		}
		return error_set(err, ERR_SYSTEM, "job payload is not valid JSON (%s)",
				 jerr == json_tokener_success ? "trailing data"
							      : json_tokener_error_desc(jerr));
	}
	json_tokener_free(tok);
parsed:
	if (!json_object_is_type(job->root, json_type_object)) {
		json_object_put(job->root);
		job->root = NULL;
		return error_set(err, ERR_SYSTEM, "job payload is not a JSON object");
	}
	job->id = get_int(job->root, "id");
	info = get_typed(job->root, "job_info", json_type_object);
	job->name = dup_str(info, "name");
	job->stage = dup_str(info, "stage");
	job->project_id = get_int(info, "project_id");
	git = get_typed(job->root, "git_info", json_type_object);
	job->repo_url = dup_str(git, "repo_url");
	job->ref = dup_str(git, "ref");
	job->sha = dup_str(git, "sha");
	job->ref_type = dup_str(git, "ref_type");
	if (git && json_object_object_get_ex(git, "protected", &protected_ref) &&
	    json_object_is_type(protected_ref, json_type_boolean))
		job->protected_ref = json_object_get_boolean(protected_ref);
	job->variables = get_typed(job->root, "variables", json_type_array);
	/* GitLab's own CI_PROJECT_PATH (its first occurrence: predefined
	 * variables come first), else the path of the repository URL */
	{
		const char *path = gitlab_job_variable(job, "CI_PROJECT_PATH");

		if (path && *path && strlen(path) < 1024)
			job->project_path = strdup(path);
		else if (job->repo_url)
			job->project_path = project_path_from_url(job->repo_url);
	}
	image = get_typed(job->root, "image", json_type_object);
	job->image = dup_str(image, "name");
	if (job->image && !*job->image) {
		free(job->image);
		job->image = NULL;
	}
	job->image_entrypoint = get_typed(image, "entrypoint", json_type_array);
	if (image && json_object_object_get_ex(image, "pull_policy", &job->image_pull_policy) &&
	    !json_object_is_type(job->image_pull_policy, json_type_array) &&
	    !json_object_is_type(job->image_pull_policy, json_type_string))
		job->image_pull_policy = NULL;
	if (parse_credentials(job) < 0) {
		gitlab_job_release(job);
		return error_set(err, ERR_SYSTEM, "out of memory");
	}
	job->services = get_typed(job->root, "services", json_type_array);
	return 0;
}

int gitlab_job_load(struct gitlab_job *job, const char *path, struct error *err)
{
	_cleanup_buf_ struct buf text = BUF_INIT;

	memset(job, 0, sizeof(*job));
	job->protected_ref = -1;
	if (!path)
		path = getenv("JOB_RESPONSE_FILE");
	if (!path || !*path)
		return error_set(err, ERR_SYSTEM,
				 "JOB_RESPONSE_FILE is not set: this command must be run by "
				 "gitlab-runner as a custom executor");
	if (fs_read_file(path, &text, PAYLOAD_MAX, err) < 0)
		return error_wrap(err, "read the job payload");
	if (gitlab_job_parse(job, buf_str(&text), text.len, err) < 0)
		return error_wrap(err, "%s", path);
	return 0;
}

void gitlab_job_release(struct gitlab_job *job)
{
	free(job->name);
	free(job->stage);
	free(job->project_path);
	free(job->repo_url);
	free(job->ref);
	free(job->sha);
	free(job->ref_type);
	free(job->image);
	while (job->ncredentials > 0) {
		struct gitlab_credential *c = &job->credentials[--job->ncredentials];

		free(c->url);
		free(c->username);
		if (c->password)
			explicit_bzero(c->password, strlen(c->password));
		free(c->password);
	}
	free(job->credentials);
	if (job->root)
		json_object_put(job->root);
	memset(job, 0, sizeof(*job));
	job->protected_ref = -1;
}

const char *gitlab_job_variable(const struct gitlab_job *job, const char *key)
{
	size_t i, n;

	if (!job->variables)
		return NULL;
	n = json_object_array_length(job->variables);
	for (i = 0; i < n; i++) {
		json_object *v = json_object_array_get_idx(job->variables, i), *k, *val;

		if (!json_object_is_type(v, json_type_object) ||
		    !json_object_object_get_ex(v, "key", &k) ||
		    !json_object_object_get_ex(v, "value", &val))
			continue;
		if (!strcmp(json_object_get_string(k), key))
			return json_object_get_string(val);
	}
	return NULL;
}
