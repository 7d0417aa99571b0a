/* SPDX-License-Identifier: MIT */
#include "common/config.h"

#include <ctype.h>
#include <json-c/json.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/fs.h"

static void pattern_list_release(struct pattern_list *l)
{
	while (l->n > 0)
		free(l->items[--l->n]);
	l->set = 0;
}

void config_release(struct config *cfg)
{
	free(cfg->path);
	free(cfg->state_dir);
	free(cfg->docker_host);
	free(cfg->default_image);
	free(cfg->shell);
	free(cfg->hostname);
	pattern_list_release(&cfg->allowed_images);
	pattern_list_release(&cfg->allowed_services);
	pattern_list_release(&cfg->allowed_bind_paths);
	pattern_list_release(&cfg->protected_projects);
	pattern_list_release(&cfg->protected_envs);
	pattern_list_release(&cfg->allowed_volumes);
	pattern_list_release(&cfg->allowed_networks);
	pattern_list_release(&cfg->allowed_stack_options);
	pattern_list_release(&cfg->cap_add);
	pattern_list_release(&cfg->cap_drop);
	pattern_list_release(&cfg->security_opt);
	free(cfg->docker_auth_config);
	free(cfg->docker_auth_file);
	free(cfg->helper_image);
	free(cfg->runner_binary);
	free(cfg->docker_cert_path);
	while (cfg->napp_projects > 0)
		free(cfg->app_projects[--cfg->napp_projects].app);
	memset(cfg, 0, sizeof(*cfg));
}

void config_defaults(struct config *cfg)
{
	char host[256] = "localhost";

	memset(cfg, 0, sizeof(*cfg));
	cfg->state_dir = strdup("/var/lib/executor");
	cfg->shell = strdup("bash");
	gethostname(host, sizeof(host) - 1);
	cfg->hostname = strdup(host);
	pull_policies_add(&cfg->pull_policy, PULL_IF_NOT_PRESENT);
	cfg->service_wait_timeout = 30;
	cfg->slot_networks = 8;
	cfg->lock_timeout = 600;
	cfg->watch_seconds = 0;
	cfg->watch_max_error_rate = 0;
	cfg->watch_probe_failures = 3;
	cfg->pids_limit = 4096;
	cfg->memory = 4LL << 30;
	cfg->docker_tls = -1;
	cfg->docker_tls_verify = -1;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int parse_bool(const char *v, int *out)
{
	if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "1")) {
		*out = 1;
		return 0;
	}
	if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "0")) {
		*out = 0;
		return 0;
	}
	return -1;
}

static int parse_int(const char *v, int min, int max, int *out)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || end == v || *end || n < min || n > max)
		return -1;
	*out = (int)n;
	return 0;
}

int config_parse_rate(const char *text, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(text, &end);
	if (errno || end == text || v != v)
		return -1;
	if (*end == '%') {
		v /= 100;
		end++;
	}
	if (*end || v < 0 || v > 1)
		return -1;
	*out = v;
	return 0;
}

int config_parse_size(const char *text, long long *out)
{
	char *end;
	long long v, mult = 1;

	errno = 0;
	if (!text || !*text || *text == '-')
		return -1;
	v = strtoll(text, &end, 10);
	if (errno || end == text)
		return -1;
	switch (*end) {
	case 'k':
	case 'K':
		mult = 1LL << 10;
		end++;
		break;
	case 'm':
	case 'M':
		mult = 1LL << 20;
		end++;
		break;
	case 'g':
	case 'G':
		mult = 1LL << 30;
		end++;
		break;
	case 't':
	case 'T':
		mult = 1LL << 40;
		end++;
		break;
	default:
		break;
	}
	if ((*end == 'b' || *end == 'B') && mult > 1)
		end++;
	if (*end || v > LLONG_MAX / mult)
		return -1;
	*out = v * mult;
	return 0;
}

static int parse_cpus(const char *text, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(text, &end);
	if (errno || end == text || *end || v != v || v < 0 || v > 4096)
		return -1;
	*out = v;
	return 0;
}

/* "echobase: 12, 57": the app and the project ids it is shared with. */
static int parse_app_share(struct config *cfg, char *v, const char **why)
{
	char *colon = strchr(v, ':'), *save = NULL, *tok, *app;
	struct app_share *sh = NULL;
	int i;

	*why = "expected `app_projects = <app>: <project id>[, <project id>...]`";
	if (!colon)
		return -1;
	*colon = '\0';
	app = trim(v);
	if (!*app || strlen(app) > 40 ||
	    strspn(app, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(app) || app[0] == '-') {
		*why = "the app must be an application name (a-z, 0-9 and -, at most 40)";
		return -1;
	}
	for (i = 0; i < cfg->napp_projects; i++)
		if (!strcmp(cfg->app_projects[i].app, app))
			sh = &cfg->app_projects[i];
	if (!sh) {
		if (cfg->napp_projects >= CONFIG_MAX_APP_SHARES) {
			*why = "too many applications";
			return -1;
		}
		sh = &cfg->app_projects[cfg->napp_projects];
		sh->app = strdup(app);
		sh->n = 0;
		if (!sh->app)
			return -1;
		cfg->napp_projects++;
	}
	for (tok = strtok_r(colon + 1, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
		char *end;
		long long id;

		errno = 0;
		id = strtoll(tok, &end, 10);
		if (errno || end == tok || *end || id <= 0) {
			*why = "project ids are positive numbers (Settings > General shows a "
			       "project's id)";
			return -1;
		}
		if (sh->n >= CONFIG_MAX_PATTERNS) {
			*why = "too many projects for one application";
			return -1;
		}
		sh->ids[sh->n++] = id;
	}
	return 0;
}

static int parse_list(struct pattern_list *l, char *v)
{
	char *save = NULL, *tok;

	pattern_list_release(l);
	l->set = 1;
	for (tok = strtok_r(v, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *t = trim(tok);

		if (!*t)
			continue;
		if (l->n >= CONFIG_MAX_PATTERNS)
			return -1;
		l->items[l->n] = strdup(t);
		if (!l->items[l->n])
			return -1;
		l->n++;
	}
	return 0;
}

static int set_str(char **dst, const char *v)
{
	char *copy = strdup(v);

	if (!copy)
		return -1;
	free(*dst);
	*dst = copy;
	return 0;
}

static const char *const pull_policy_names[] = {
	[PULL_IF_NOT_PRESENT] = "if-not-present",
	[PULL_ALWAYS] = "always",
	[PULL_NEVER] = "never",
};

int pull_policy_parse(const char *text, enum pull_policy *out)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(pull_policy_names); i++)
		if (text && !strcmp(text, pull_policy_names[i])) {
			*out = (enum pull_policy)i;
			return 0;
		}
	return -1;
}

const char *pull_policy_name(enum pull_policy p)
{
	return (size_t)p < ARRAY_SIZE(pull_policy_names) ? pull_policy_names[p] : "?";
}

int pull_policies_has(const struct pull_policies *l, enum pull_policy p)
{
	int i;

	for (i = 0; i < l->n; i++)
		if (l->v[i] == p)
			return 1;
	return 0;
}

int pull_policies_add(struct pull_policies *l, enum pull_policy p)
{
	if (pull_policies_has(l, p))
		return 0;
	if (l->n >= PULL_POLICY_MAX)
		return -1;
	l->v[l->n++] = p;
	return 0;
}

const char *pull_policies_str(const struct pull_policies *l, char *out, size_t size)
{
	size_t len = 0;
	int i;

	if (!size)
		return out;
	out[0] = '\0';
	for (i = 0; i < l->n && len < size; i++) {
		int w = snprintf(out + len, size - len, "%s%s", i ? ", " : "",
				 pull_policy_name(l->v[i]));

		if (w < 0)
			break;
		len += (size_t)w;
	}
	if (!l->n)
		snprintf(out, size, "(none)");
	return out;
}

const struct pull_policies *config_allowed_pull_policies(const struct config *cfg)
{
	return cfg->allowed_pull_policies.set ? &cfg->allowed_pull_policies : &cfg->pull_policy;
}

/* "always, if-not-present": every item a pull policy; -1 and *bad the first
 * that is not. */
static int parse_pull_policies(struct pull_policies *l, char *v, const char **bad)
{
	char *save = NULL, *tok;

	memset(l, 0, sizeof(*l));
	l->set = 1;
	*bad = v;
	for (tok = strtok_r(v, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *t = trim(tok);
		enum pull_policy p;

		*bad = t;
		if (pull_policy_parse(t, &p) < 0)
			return -1;
		pull_policies_add(l, p);
	}
	return l->n ? 0 : -1;
}

/*
 * pull_policy and allowed_pull_policies, once the whole file is read: as in
 * GitLab, a job may ask only for allowed policies, and the runner's own list
 * must leave one.  An unset pull_policy is if-not-present, or, when the admin
 * allows only others, the allowed list itself.
 */
static int check_pull_policies(struct config *cfg, const char *name, struct error *err)
{
	struct pull_policies eff = {0};
	char a[64], b[64];
	int i;

	if (!cfg->allowed_pull_policies.set)
		return 0;
	for (i = 0; i < cfg->pull_policy.n; i++)
		if (pull_policies_has(&cfg->allowed_pull_policies, cfg->pull_policy.v[i]))
			pull_policies_add(&eff, cfg->pull_policy.v[i]);
	if (eff.n)
		return 0;
	if (!cfg->pull_policy.set) {
		cfg->pull_policy = cfg->allowed_pull_policies;
		cfg->pull_policy.set = 0;
		return 0;
	}
	return error_set(err, ERR_CONFIG,
			 "%s: pull_policy (%s) has none of allowed_pull_policies (%s): jobs that "
			 "name no pull_policy could not pull; add one of them to pull_policy",
			 name, pull_policies_str(&cfg->pull_policy, a, sizeof(a)),
			 pull_policies_str(&cfg->allowed_pull_policies, b, sizeof(b)));
}

/* docker_auth_config: a docker config.json on one line; its entries are read
 * where they are used (docker/auth.c), the syntax is checked here. */
static int check_json_object(const char *text)
{
	json_object *o = json_tokener_parse(text);
	int ok = o && json_object_is_type(o, json_type_object);

	json_object_put(o);
	return ok ? 0 : -1;
}

int config_parse(struct config *cfg, const char *name, const char *text, struct error *err)
{
	_cleanup_free_ char *copy = strdup(text);
	char *save = NULL, *line;
	int lineno = 0;

	if (!copy)
		return error_set(err, ERR_SYSTEM, "out of memory");
	/* strtok_r would merge empty lines and lose the count: walk by hand */
	for (line = copy; line; line = save) {
		char *eq, *key, *val;
		const char *what = "";
		int bad = 0;

		save = strchr(line, '\n');
		if (save)
			*save++ = '\0';
		lineno++;
		line = trim(line);
		if (!*line || *line == '#')
			continue;
		eq = strchr(line, '=');
		if (!eq)
			return error_set(err, ERR_CONFIG,
					 "%s:%d: expected `key = value`, got \"%.60s\"", name,
					 lineno, line);
		*eq = '\0';
		key = trim(line);
		val = trim(eq + 1);
		if (*val == '"') {
			size_t n = strlen(val);

			if (n < 2 || val[n - 1] != '"')
				return error_set(err, ERR_CONFIG, "%s:%d: unterminated quote in %s",
						 name, lineno, key);
			val[n - 1] = '\0';
			val++;
		}

		if (!strcmp(key, "state_dir")) {
			if (val[0] != '/')
				return error_set(err, ERR_CONFIG,
						 "%s:%d: state_dir must be an absolute path", name,
						 lineno);
			bad = set_str(&cfg->state_dir, val);
		} else if (!strcmp(key, "docker_host")) {
			bad = set_str(&cfg->docker_host, val);
		} else if (!strcmp(key, "default_image")) {
			bad = set_str(&cfg->default_image, val);
		} else if (!strcmp(key, "hostname")) {
			bad = set_str(&cfg->hostname, val);
		} else if (!strcmp(key, "shell")) {
			if (strcmp(val, "bash") && strcmp(val, "sh"))
				return error_set(err, ERR_CONFIG,
						 "%s:%d: shell must be bash or sh, not \"%s\"",
						 name, lineno, val);
			bad = set_str(&cfg->shell, val);
		} else if (!strcmp(key, "allowed_images")) {
			bad = parse_list(&cfg->allowed_images, val);
		} else if (!strcmp(key, "allowed_services")) {
			bad = parse_list(&cfg->allowed_services, val);
		} else if (!strcmp(key, "allowed_bind_paths")) {
			bad = parse_list(&cfg->allowed_bind_paths, val);
		} else if (!strcmp(key, "protected_projects")) {
			bad = parse_list(&cfg->protected_projects, val);
		} else if (!strcmp(key, "protected_envs")) {
			bad = parse_list(&cfg->protected_envs, val);
		} else if (!strcmp(key, "allowed_volumes")) {
			bad = parse_list(&cfg->allowed_volumes, val);
		} else if (!strcmp(key, "allowed_networks")) {
			bad = parse_list(&cfg->allowed_networks, val);
		} else if (!strcmp(key, "allowed_stack_options")) {
			bad = parse_list(&cfg->allowed_stack_options, val);
		} else if (!strcmp(key, "cap_add")) {
			bad = parse_list(&cfg->cap_add, val);
		} else if (!strcmp(key, "cap_drop")) {
			bad = parse_list(&cfg->cap_drop, val);
		} else if (!strcmp(key, "security_opt")) {
			bad = parse_list(&cfg->security_opt, val);
		} else if (!strcmp(key, "app_projects")) {
			const char *why;

			if (parse_app_share(cfg, val, &why) < 0)
				return error_set(err, ERR_CONFIG, "%s:%d: app_projects: %s", name,
						 lineno, why);
		} else if (!strcmp(key, "memory") || !strcmp(key, "memory_max")) {
			long long *dst = !strcmp(key, "memory") ? &cfg->memory : &cfg->memory_max;

			if (config_parse_size(val, dst) < 0 || (*dst && *dst < (6LL << 20)))
				return error_set(err, ERR_CONFIG,
						 "%s:%d: %s must be a size such as 512m or 4g (at "
						 "least 6m, or 0 for none), not \"%s\"",
						 name, lineno, key, val);
		} else if (!strcmp(key, "cpus") || !strcmp(key, "cpus_max")) {
			if (parse_cpus(val, !strcmp(key, "cpus") ? &cfg->cpus : &cfg->cpus_max) < 0)
				return error_set(
					err, ERR_CONFIG,
					"%s:%d: %s must be a number of CPUs such as 1.5 (0 "
					"for none), not \"%s\"",
					name, lineno, key, val);
		} else if (!strcmp(key, "pids_limit") || !strcmp(key, "pids_limit_max")) {
			int n;

			if (parse_int(val, 0, 4194304, &n) < 0)
				return error_set(err, ERR_CONFIG,
						 "%s:%d: %s must be a whole number of processes (0 "
						 "for none), not \"%s\"",
						 name, lineno, key, val);
			*(!strcmp(key, "pids_limit") ? &cfg->pids_limit : &cfg->pids_limit_max) = n;
		} else if (!strcmp(key, "pull_policy")) {
			if (parse_pull_policies(&cfg->pull_policy, val, &what) < 0)
				goto bad_pull_policy;
		} else if (!strcmp(key, "privileged")) {
			if (parse_bool(val, &cfg->privileged) < 0)
				goto bad_bool;
		} else if (!strcmp(key, "mount_docker_socket")) {
			if (parse_bool(val, &cfg->mount_docker_socket) < 0)
				goto bad_bool;
		} else if (!strcmp(key, "service_wait_timeout")) {
			if (parse_int(val, 0, 86400, &cfg->service_wait_timeout) < 0)
				goto bad_int;
		} else if (!strcmp(key, "slot_networks")) {
			if (parse_int(val, 0, 256, &cfg->slot_networks) < 0)
				goto bad_int;
		} else if (!strcmp(key, "lock_timeout")) {
			if (parse_int(val, 0, 86400, &cfg->lock_timeout) < 0)
				goto bad_int;
		} else if (!strcmp(key, "watch_seconds")) {
			if (parse_int(val, 0, 86400, &cfg->watch_seconds) < 0)
				goto bad_int;
		} else if (!strcmp(key, "watch_probe_failures")) {
			if (parse_int(val, 1, 1000, &cfg->watch_probe_failures) < 0)
				return error_set(
					err, ERR_CONFIG,
					"%s:%d: watch_probe_failures must be a whole number "
					"from 1 to 1000, not \"%s\"",
					name, lineno, val);
		} else if (!strcmp(key, "watch_max_error_rate")) {
			if (config_parse_rate(val, &cfg->watch_max_error_rate) < 0)
				return error_set(
					err, ERR_CONFIG,
					"%s:%d: watch_max_error_rate must be a share from 0 "
					"to 1 (0.05) or a percentage (5%%), not \"%s\"",
					name, lineno, val);
		} else if (!strcmp(key, "allowed_pull_policies")) {
			if (parse_pull_policies(&cfg->allowed_pull_policies, val, &what) < 0)
				goto bad_pull_policy;
		} else if (!strcmp(key, "docker_auth_config")) {
			if (check_json_object(val) < 0)
				return error_set(err, ERR_CONFIG,
						 "%s:%d: docker_auth_config must be a docker "
						 "config.json on one line, such as {\"auths\": "
						 "{\"registry.example.com\": {\"auth\": \"...\"}}}",
						 name, lineno);
			bad = set_str(&cfg->docker_auth_config, val);
		} else if (!strcmp(key, "docker_auth_file")) {
			if (val[0] != '/')
				return error_set(err, ERR_CONFIG,
						 "%s:%d: docker_auth_file must be an absolute path",
						 name, lineno);
			bad = set_str(&cfg->docker_auth_file, val);
		} else if (!strcmp(key, "helper_image")) {
			if (*val) {
				bad = set_str(&cfg->helper_image, val);
			} else { /* empty: none, the runner's stages run in the job container */
				free(cfg->helper_image);
				cfg->helper_image = NULL;
			}
		} else if (!strcmp(key, "runner_binary")) {
			if (val[0] != '/')
				return error_set(
					err, ERR_CONFIG,
					"%s:%d: runner_binary must be an absolute path (the "
					"gitlab-runner binary on this host)",
					name, lineno);
			bad = set_str(&cfg->runner_binary, val);
		} else if (!strcmp(key, "docker_tls")) {
			if (parse_bool(val, &cfg->docker_tls) < 0)
				goto bad_bool;
		} else if (!strcmp(key, "docker_tls_verify")) {
			if (parse_bool(val, &cfg->docker_tls_verify) < 0)
				goto bad_bool;
		} else if (!strcmp(key, "docker_cert_path")) {
			if (val[0] != '/')
				return error_set(err, ERR_CONFIG,
						 "%s:%d: docker_cert_path must be an absolute path "
						 "(the directory of ca.pem, cert.pem and key.pem)",
						 name, lineno);
			bad = set_str(&cfg->docker_cert_path, val);
		} else {
			return error_set(err, ERR_CONFIG,
					 "%s:%d: unknown key \"%s\"; see docs/configuration.md for "
					 "the keys",
					 name, lineno, key);
		}
		if (bad)
			return error_set(err, ERR_CONFIG,
					 "%s:%d: %s: too many values or out of memory", name,
					 lineno, key);
		continue;
	bad_bool:
		return error_set(err, ERR_CONFIG, "%s:%d: %s must be true or false, not \"%s\"",
				 name, lineno, key, val);
	bad_int:
		return error_set(err, ERR_CONFIG,
				 "%s:%d: %s must be a whole number of seconds, not \"%s\"", name,
				 lineno, key, val);
	bad_pull_policy:
		return error_set(err, ERR_CONFIG,
				 "%s:%d: %s must be always, if-not-present or never, or a list of "
				 "them in the order to try, not \"%s\"",
				 name, lineno, key, what);
	}
	if (!cfg->allowed_services.set && cfg->allowed_images.set) {
		int i;

		for (i = 0; i < cfg->allowed_images.n; i++)
			cfg->allowed_services.items[i] = strdup(cfg->allowed_images.items[i]);
		cfg->allowed_services.n = cfg->allowed_images.n;
		cfg->allowed_services.set = 1;
	}
	return check_pull_policies(cfg, name, err);
}

int config_load(struct config *cfg, const char *path, struct error *err)
{
	_cleanup_buf_ struct buf text = BUF_INIT;
	const char *env = getenv("EXECUTOR_CONFIG");
	int named = 1;

	config_defaults(cfg);
	if (!path && env && *env)
		path = env;
	if (!path) {
		path = CONFIG_DEFAULT_PATH;
		named = 0;
	}
	if (access(path, F_OK) < 0 && !named)
		return 0;
	if (fs_read_file(path, &text, 1024 * 1024, err) < 0) {
		err->cls = ERR_CONFIG;
		return error_wrap(err, "read the admin configuration (EXECUTOR_CONFIG or %s)",
				  CONFIG_DEFAULT_PATH);
	}
	cfg->path = strdup(path);
	return config_parse(cfg, path, buf_str(&text), err);
}

int pattern_list_match(const struct pattern_list *l, const char *s)
{
	int i;

	if (!l->set)
		return 1;
	for (i = 0; i < l->n; i++)
		if (fnmatch(l->items[i], s, 0) == 0)
			return 1;
	return 0;
}

int config_app_shared_with(const struct config *cfg, const char *app, long long project_id)
{
	int i, k;

	for (i = 0; i < cfg->napp_projects; i++) {
		if (strcmp(cfg->app_projects[i].app, app))
			continue;
		for (k = 0; k < cfg->app_projects[i].n; k++)
			if (cfg->app_projects[i].ids[k] == project_id)
				return 1;
		return 0;
	}
	return -1;
}

int config_env_protected(const struct config *cfg, const char *env)
{
	int i;

	if (!cfg->protected_envs.set)
		return strcmp(env, "ci") != 0;
	for (i = 0; i < cfg->protected_envs.n; i++)
		if (fnmatch(cfg->protected_envs.items[i], env, 0) == 0)
			return 1;
	return 0;
}

const char *pattern_list_str(const struct pattern_list *l)
{
	static char out[2048];
	size_t len = 0;
	int i;

	out[0] = '\0';
	if (!l->set)
		return "(any)";
	for (i = 0; i < l->n && len < sizeof(out) - 1; i++)
		len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%s", i ? ", " : "",
					l->items[i]);
	if (!l->n)
		return "(none)";
	return out;
}
