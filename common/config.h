/* SPDX-License-Identifier: MIT */
#ifndef COMMON_CONFIG_H
#define COMMON_CONFIG_H

#include "common/error.h"

/*
 * The admin's configuration: one small file of `key = value` lines,
 * /etc/executor/config or $EXECUTOR_CONFIG.  See docs/configuration.md.
 */
#define CONFIG_DEFAULT_PATH "/etc/executor/config"
#define CONFIG_MAX_PATTERNS 64

/* GitLab's pull policies (docs/configuration.md): a list is tried in order,
 * the next one when a policy fails. */
enum pull_policy { PULL_IF_NOT_PRESENT, PULL_ALWAYS, PULL_NEVER };
#define PULL_POLICY_MAX 3

struct pull_policies {
	enum pull_policy v[PULL_POLICY_MAX]; /* in order, no duplicates */
	int n;
	int set; /* the key appeared in the file */
};

struct pattern_list {
	char *items[CONFIG_MAX_PATTERNS];
	int n;
	int set; /* the key appeared in the file */
};

/* app_projects: the GitLab projects (by id) an application is shared with. */
#define CONFIG_MAX_APP_SHARES 64
struct app_share {
	char *app;
	long long ids[CONFIG_MAX_PATTERNS];
	int n;
};

struct config {
	char *path; /* file read, or NULL when none existed */
	char *state_dir;
	char *docker_host; /* NULL: $DOCKER_HOST or the default socket */
	char *default_image;
	char *shell;
	char *hostname;
	struct pattern_list allowed_images;
	struct pattern_list allowed_services;
	struct pattern_list allowed_bind_paths;
	struct pattern_list protected_projects;
	/* trust boundaries (docs/security.md) */
	struct app_share app_projects[CONFIG_MAX_APP_SHARES];
	int napp_projects;
	struct pattern_list protected_envs;   /* unset: every env but "ci" */
	struct pattern_list allowed_volumes;  /* engine objects a stack may use that */
	struct pattern_list allowed_networks; /* its own app and env did not create */
	/* what a stack's services may ask for beyond a plain container:
	 * "privileged", "cap_add:NET_ADMIN", "devices:/dev/net/tun",
	 * "security_opt:seccomp=unconfined", "pid:host", ... (globs) */
	struct pattern_list allowed_stack_options;
	/* job containers; names as in GitLab's Docker executor ([runners.docker]) */
	struct pattern_list cap_add;
	struct pattern_list cap_drop;
	struct pattern_list security_opt;
	long long memory, memory_max;	      /* bytes; 0: no limit / no job override */
	double cpus, cpus_max;		      /* CPUs; 0: no limit / no job override */
	long long pids_limit, pids_limit_max; /* 0: no limit / no job override */
	struct pull_policies pull_policy;     /* default [if-not-present] */
	int privileged;
	int mount_docker_socket;
	int service_wait_timeout;
	int slot_networks; /* runner slots (CI_CONCURRENT_ID) below this reuse a network */
	int lock_timeout;
	/* the watch after promote (stages/watch.h): job variables override */
	int watch_seconds;
	double watch_max_error_rate; /* 0..1 */
	int watch_probe_failures;
	/* registry credentials and pull policies (docs/configuration.md) */
	struct pull_policies allowed_pull_policies; /* unset: pull_policy */
	char *docker_auth_config;		    /* a docker config.json, inline */
	char *docker_auth_file;			    /* path of a docker config.json */
	/* the runner's own stages (jobs/helper.c): NULL helper_image runs them
	 * in the job container; NULL runner_binary is gitlab-runner on PATH */
	char *helper_image;
	char *runner_binary;
	/* a remote engine's TLS (docs/configuration.md, Remote engines): each
	 * overrides its DOCKER_* variable */
	int docker_tls;		/* -1 unset; 0: plain TCP allowed */
	int docker_tls_verify;	/* -1 unset */
	char *docker_cert_path; /* ca.pem, cert.pem, key.pem; NULL unset */
};

/* Load defaults, then the file (path NULL: $EXECUTOR_CONFIG, else the
 * default path; a missing default file is fine, a missing named one is not). */
int config_load(struct config *cfg, const char *path, struct error *err);
/* Parse file contents; `name` is used in messages. Exposed for tests. */
int config_parse(struct config *cfg, const char *name, const char *text, struct error *err);
void config_defaults(struct config *cfg);
/* "0.05", "5%" or "0" -> 0..1; -1 when it is not a share. */
int config_parse_rate(const char *text, double *out);
void config_release(struct config *cfg);
/* "512m", "2g", "1048576" (bytes; k, m, g, t are powers of 1024) -> bytes;
 * -1 when it is not a size. */
int config_parse_size(const char *text, long long *out);

/* An application's sharing: -1 when app_projects does not name the app, 1
 * when it names it with project_id, 0 when it names it without. */
int config_app_shared_with(const struct config *cfg, const char *app, long long project_id);
/* Is the env protected (protected_envs; unset: every env but "ci")? */
int config_env_protected(const struct config *cfg, const char *env);

/* "if-not-present" -> PULL_IF_NOT_PRESENT; -1 when it is no pull policy. */
int pull_policy_parse(const char *text, enum pull_policy *out);
const char *pull_policy_name(enum pull_policy p);
/* Add p to the list (once); -1 when full. */
int pull_policies_add(struct pull_policies *l, enum pull_policy p);
int pull_policies_has(const struct pull_policies *l, enum pull_policy p);
/* "always, if-not-present" into out (for messages); returns out. */
const char *pull_policies_str(const struct pull_policies *l, char *out, size_t size);
/* The policies a job may ask for: allowed_pull_policies, else pull_policy. */
const struct pull_policies *config_allowed_pull_policies(const struct config *cfg);

/* fnmatch against each pattern; an unset list allows everything. */
int pattern_list_match(const struct pattern_list *l, const char *s);
/* "a, b, c" for messages (static buffer). */
const char *pattern_list_str(const struct pattern_list *l);

#endif
