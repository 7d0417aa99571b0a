/* SPDX-License-Identifier: MIT */
/*
 * `executor compose config`: the resolved stack, as `docker compose config`
 * prints it, read with the same code as deployments, in the current
 * directory with the process environment as variables.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "compose/compose.h"
#include "executor/commands.h"

#define COMPOSE_ARGS_MAX 32

static const char *env_lookup(const char *name, void *payload)
{
	(void)payload;
	return getenv(name);
}

struct compose_args {
	const char *files[COMPOSE_ARGS_MAX];
	size_t nfiles;
	const char *profiles[COMPOSE_ARGS_MAX];
	size_t nprofiles;
	const char *format;
	const char *project_name;
};

static int take(int argc, char **argv, int *i, const char *opt, const char **out, struct error *err)
{
	size_t len = strlen(opt);

	if (!strcmp(argv[*i], opt)) {
		if (++*i >= argc)
			return error_set(err, ERR_JOB, "%s needs a value", opt);
		*out = argv[*i];
		return 1;
	}
	if (!strncmp(argv[*i], opt, len) && argv[*i][len] == '=') {
		*out = argv[*i] + len + 1;
		return 1;
	}
	return 0;
}

static int parse(int argc, char **argv, struct compose_args *a, struct error *err)
{
	int i, r;

	memset(a, 0, sizeof(*a));
	a->format = "yaml";
	if (argc < 2 || strcmp(argv[1], "config"))
		return error_set(err, ERR_JOB,
				 "usage: executor compose config [-f FILE]... [--profile P]... "
				 "[--format yaml|json] [--project-name NAME]");
	for (i = 2; i < argc; i++) {
		const char *v = NULL;

		if ((r = take(argc, argv, &i, "-f", &v, err)) != 0 ||
		    (r = take(argc, argv, &i, "--file", &v, err)) != 0) {
			if (r < 0)
				return -1;
			if (a->nfiles == COMPOSE_ARGS_MAX)
				return error_set(err, ERR_JOB, "more than %d files",
						 COMPOSE_ARGS_MAX);
			a->files[a->nfiles++] = v;
		} else if ((r = take(argc, argv, &i, "--profile", &v, err)) != 0) {
			if (r < 0)
				return -1;
			if (a->nprofiles == COMPOSE_ARGS_MAX)
				return error_set(err, ERR_JOB, "more than %d profiles",
						 COMPOSE_ARGS_MAX);
			a->profiles[a->nprofiles++] = v;
		} else if ((r = take(argc, argv, &i, "--format", &v, err)) != 0) {
			if (r < 0)
				return -1;
			if (strcmp(v, "yaml") && strcmp(v, "json"))
				return error_set(err, ERR_JOB, "--format is yaml or json, not %s",
						 v);
			a->format = v;
		} else if ((r = take(argc, argv, &i, "--project-name", &v, err)) != 0 ||
			   (r = take(argc, argv, &i, "-p", &v, err)) != 0) {
			if (r < 0)
				return -1;
			a->project_name = v;
		} else {
			return error_set(err, ERR_JOB,
					 "unknown argument %s; see executor compose --help",
					 argv[i]);
		}
	}
	return 0;
}

/* Compose's default files: compose.yaml (or the older names), plus its override. */
static size_t default_files(const char **files)
{
	static const char *const bases[] = {"compose.yaml", "compose.yml", "docker-compose.yaml",
					    "docker-compose.yml"};
	static const char *const overrides[] = {"compose.override.yaml", "compose.override.yml",
						"docker-compose.override.yaml",
						"docker-compose.override.yml"};
	size_t i, n = 0;

	for (i = 0; i < ARRAY_SIZE(bases) && !n; i++)
		if (access(bases[i], F_OK) == 0)
			files[n++] = bases[i];
	for (i = 0; n == 1 && i < ARRAY_SIZE(overrides); i++)
		if (access(overrides[i], F_OK) == 0) {
			files[n++] = overrides[i];
			break;
		}
	return n;
}

/* "a,b,c" of COMPOSE_PROFILES into the list, in place */
static void split_profiles(char *list, struct compose_args *a)
{
	char *save = NULL, *p;

	for (p = strtok_r(list, ",", &save); p && a->nprofiles < COMPOSE_ARGS_MAX;
	     p = strtok_r(NULL, ",", &save))
		if (*p)
			a->profiles[a->nprofiles++] = p;
}

int cmd_compose(int argc, char **argv, struct config *cfg, struct error *err)
{
	struct compose_args a;
	struct compose_load_opts opts = {0};
	struct compose_diags diags = COMPOSE_DIAGS_INIT;
	struct compose_project *p = NULL;
	_cleanup_buf_ struct buf out = BUF_INIT;
	_cleanup_free_ char *profiles = NULL;
	const char *env_profiles;
	size_t i;
	int rc;

	(void)cfg;
	if (parse(argc, argv, &a, err) < 0)
		return -1;
	if (!a.nfiles)
		a.nfiles = default_files(a.files);
	if (!a.nfiles)
		return error_set(err, ERR_JOB,
				 "no compose.yaml or docker-compose.yml here; name one with -f");
	if (!a.nprofiles && (env_profiles = getenv("COMPOSE_PROFILES")) != NULL) {
		profiles = strdup(env_profiles);
		if (!profiles)
			return error_set(err, ERR_SYSTEM, "out of memory");
		split_profiles(profiles, &a);
	}
	opts.files = a.files;
	opts.nfiles = a.nfiles;
	opts.project_name = a.project_name;
	opts.lookup = env_lookup;
	opts.profiles = a.profiles;
	opts.nprofiles = a.nprofiles;
	rc = compose_load(&opts, &p, &diags, err);
	for (i = 0; i < diags.n; i++) {
		if (diags.items[i].line)
			log_warn("%s:%d: %s", diags.items[i].file, diags.items[i].line,
				 diags.items[i].message);
		else
			log_warn("%s: %s", diags.items[i].file, diags.items[i].message);
	}
	compose_diags_release(&diags);
	if (rc < 0)
		return -1;
	buf_init(&out, 0);
	rc = !strcmp(a.format, "json") ? compose_project_config_json(p, &out, err)
				       : compose_project_config_yaml(p, &out, err);
	compose_project_free(p);
	if (rc < 0)
		return -1;
	if (fwrite(out.data, 1, out.len, stdout) != out.len || fflush(stdout) != 0)
		return error_set(err, ERR_IO, "cannot write to standard output");
	return 0;
}
