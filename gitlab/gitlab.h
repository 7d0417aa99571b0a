/* SPDX-License-Identifier: MIT */
#ifndef GITLAB_GITLAB_H
#define GITLAB_GITLAB_H

/*
 * The runner side: what gitlab-runner hands a custom executor (environment,
 * the trusted job payload in $JOB_RESPONSE_FILE), and what it expects back
 * (exit codes, the exit-code file, log sections, dotenv reports).
 * See /work/shared/reference/gitlab-custom-executor.md.
 */

#include <json-c/json.h>
#include <stdio.h>

#include "common/error.h"

/* ---- environment ---- */

/* CUSTOM_ENV_<name>, or NULL. These are user-overridable: never use them
 * for decisions that guard production. */
const char *gitlab_var(const char *name);
/* True when gitlab-runner is driving us (JOB_RESPONSE_FILE or
 * BUILD_FAILURE_EXIT_CODE present). */
int gitlab_runner_mode(void);

/* ---- exit codes ---- */

int gitlab_build_failure_code(void);  /* $BUILD_FAILURE_EXIT_CODE or 1 */
int gitlab_system_failure_code(void); /* $SYSTEM_FAILURE_EXIT_CODE or 2 */
/* Write the script's real code to $BUILD_EXIT_CODE_FILE (if set). */
int gitlab_write_exit_code(int code, struct error *err);
/* The one place an error class becomes an exit code. */
int gitlab_exit_code_for(const struct error *err);

/* ---- the trusted job payload ---- */

/* A `credentials` entry of type registry: GitLab's login to its container
 * registry (and dependency proxy) for this job. */
struct gitlab_credential {
	char *url; /* "registry.example.com:5005" */
	char *username;
	char *password; /* registered with log_add_secret() when parsed */
};

struct gitlab_job {
	long long id;
	char *name;
	char *stage;
	long long project_id;
	char *project_path; /* "group/project": CI_PROJECT_PATH, else from git_info.repo_url */
	char *repo_url;
	char *ref;
	char *sha;
	char *ref_type;
	int protected_ref;	       /* git_info.protected: 1, 0, or -1 when absent */
	char *image;		       /* image.name or NULL */
	json_object *image_entrypoint; /* array or NULL (borrowed from root) */
	json_object *services;	       /* array or NULL (borrowed) */
	json_object *variables;	       /* array or NULL (borrowed) */
	json_object *root;
	json_object *image_pull_policy; /* image.pull_policy: string or array, or NULL (borrowed) */
	struct gitlab_credential *credentials; /* type registry only, in payload order */
	size_t ncredentials;
};

/* Load $JOB_RESPONSE_FILE (path NULL) or the given file. */
int gitlab_job_load(struct gitlab_job *job, const char *path, struct error *err);
/* Parse payload text (exposed for tests and fuzzing). */
int gitlab_job_parse(struct gitlab_job *job, const char *text, size_t len, struct error *err);
void gitlab_job_release(struct gitlab_job *job);
/* First occurrence of a variable in the payload (GitLab sends predefined
 * variables before user-defined ones). */
const char *gitlab_job_variable(const struct gitlab_job *job, const char *key);

/* ---- job log ---- */

void gitlab_section_start(FILE *f, const char *name, const char *title, int collapsed);
void gitlab_section_end(FILE *f, const char *name);

/* ---- reports ---- */

/* Append KEY=VALUE lines to a dotenv file for artifacts:reports:dotenv. */
int gitlab_dotenv_write(const char *path, const char *const *kv, struct error *err);

#endif
