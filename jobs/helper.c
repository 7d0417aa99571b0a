/* SPDX-License-Identifier: MIT */
/*
 * The helper container of a job: where the runner's own stages run (git,
 * cache, artifacts), whatever the job image has, as in GitLab's Docker
 * executor.  It is created on the first stage that needs it, named
 * <job container>-helper and labelled like the job's other containers, so
 * cleanup removes it.  It gets:
 *
 *   - the admin's helper_image, had by the admin's pull_policy with the
 *     admin's registry credentials (never the job's);
 *   - the job's builds slot at the same path as the job container, the
 *     project's cache directory at cache_dir, and the host's gitlab-runner
 *     binary read-only at HELPER_RUNNER_PATH;
 *   - the job container's network namespace (NetworkMode container:<job>),
 *     so it reaches what the job reaches, by the same names; a deployment job
 *     without a job container puts it on the job's network;
 *   - the job's bounds (no-new-privileges, capabilities, memory, CPUs,
 *     processes), never privileged, no Docker socket, no environment: the
 *     runner's script carries what a stage needs, on the exec's stdin.
 */
#include "jobs/helper.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "docker/imagepull.h"
#include "jobs/job.h"
#include "jobs/joblimits.h"
#include "jobs/shell.h"

#define SCRIPT_MAX (64u * 1024u * 1024u)

/* ---- where a stage runs ---- */

static const struct {
	const char *stage;
	enum stage_place place;
} stage_places[] = {
	{"prepare_script", STAGE_IN_JOB},
	{"get_sources", STAGE_IN_HELPER},
	{"clear_worktree", STAGE_IN_HELPER},
	{"restore_cache", STAGE_IN_HELPER},
	{"download_artifacts", STAGE_IN_HELPER},
	{"build_script", STAGE_IN_JOB},
	{"step_script", STAGE_IN_JOB},
	{"after_script", STAGE_IN_JOB},
	{"archive_cache", STAGE_IN_HELPER},
	{"archive_cache_on_failure", STAGE_IN_HELPER},
	{"upload_artifacts_on_success", STAGE_IN_HELPER},
	{"upload_artifacts_on_failure", STAGE_IN_HELPER},
	{"cleanup_file_variables", STAGE_IN_HELPER},
};

enum stage_place stage_place_of(const char *stage)
{
	size_t i;

	for (i = 0; stage && i < ARRAY_SIZE(stage_places); i++)
		if (!strcmp(stage, stage_places[i].stage))
			return stage_places[i].place;
	return STAGE_IN_JOB; /* step_<name> and names a later runner may send */
}

/* ---- the runner binary ---- */

static int executable_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

int helper_runner_binary(const struct config *cfg, char *out, size_t size, struct error *err)
{
	char real[PATH_MAX];
	const char *path;

	if (cfg->runner_binary) {
		if (!executable_file(cfg->runner_binary) || !realpath(cfg->runner_binary, real))
			return error_set(err, ERR_CONFIG,
					 "runner_binary %s is not an executable file; set it to "
					 "this host's gitlab-runner binary, or remove it to use "
					 "gitlab-runner on PATH",
					 cfg->runner_binary);
		snprintf(out, size, "%s", real);
		return 1;
	}
	path = getenv("PATH");
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");
		char cand[PATH_MAX];

		if (n > 0 && n < sizeof(cand) - 16 && path[0] == '/') {
			snprintf(cand, sizeof(cand), "%.*s/gitlab-runner", (int)n, path);
			if (executable_file(cand) && realpath(cand, real)) {
				snprintf(out, size, "%s", real);
				return 1;
			}
		}
		path += n;
		if (*path == ':')
			path++;
	}
	return 0;
}

int helper_binary_is_static(const char *path)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	Elf64_Ehdr eh;
	int i;

	if (fd < 0 || pread(fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh) ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum > 4096)
		return -1;
	for (i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;

		if (pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + (Elf64_Off)i * sizeof(ph))) !=
		    (ssize_t)sizeof(ph))
			return -1;
		if (ph.p_type == PT_INTERP)
			return 0;
	}
	return 1;
}

/* ---- the helper container ---- */

/* <state>/caches/<runner>/project-<id>, from the slot
 * <state>/slots/<runner>/project-<id>/concurrent-<n>: the project's cache on
 * this runner, whatever its slot. */
static int cache_host_dir(const struct job_ctx *ctx, const char *slot, char *out, size_t size,
			  struct error *err)
{
	size_t n = strlen(ctx->cfg->state_dir);
	const char *rel = slot + n + strlen("/slots/");
	const char *conc = strrchr(slot, '/');

	if (strncmp(slot, ctx->cfg->state_dir, n) || strncmp(slot + n, "/slots/", 7) || !conc ||
	    conc < rel ||
	    (size_t)snprintf(out, size, "%s/caches/%.*s", ctx->cfg->state_dir, (int)(conc - rel),
			     rel) >= size)
		return error_set(err, ERR_SYSTEM, "the cache directory of slot %s: path too long",
				 slot);
	return 0;
}

static void bind_add(json_object *binds, const char *host, const char *guest, const char *mode)
{
	_cleanup_free_ char *b = NULL;

	if (asprintf(&b, "%s:%s%s%s", host, guest, mode ? ":" : "", mode ? mode : "") >= 0)
		json_object_array_add(binds, json_object_new_string(b));
}

static int helper_create(struct job_ctx *ctx, struct error *err)
{
	char slot[4096], guest[4096], cache[4200], cache_guest[4200], runner[PATH_MAX];
	char netmode[256];
	json_object *cfg, *host, *binds, *v;
	struct registry_auth auth = {0};
	struct job_limits limits;
	struct image_pull pull;
	_cleanup_free_ char *id = NULL;
	int lock = -1, have_runner, rc = -1;

	have_runner = helper_runner_binary(ctx->cfg, runner, sizeof(runner), err);
	if (have_runner < 0)
		return -1;
	if (job_builds_mount(ctx, slot, sizeof(slot), guest, sizeof(guest), err) < 0 ||
	    cache_host_dir(ctx, slot, cache, sizeof(cache), err) < 0)
		return -1;
	if (fs_mkdir_p(slot, 0755, err) < 0 || fs_mkdir_p(cache, 0755, err) < 0)
		return error_wrap(err, "create the job's builds and cache directories");
	/* the cache_dir `executor config` gives the runner */
	snprintf(cache_guest, sizeof(cache_guest), "%s/cache", ctx->cfg->state_dir);

	cfg = json_object_new_object();
	json_object_object_add(cfg, "Image", json_object_new_string(ctx->cfg->helper_image));
	json_object_object_add(cfg, "Labels", job_labels(ctx, "helper"));
	/* an idle shell on an open stdin, as the job container's; stages exec */
	v = json_object_new_array();
	json_object_array_add(v, json_object_new_string("sh"));
	json_object_object_add(cfg, "Cmd", v);
	json_object_object_add(cfg, "OpenStdin", json_object_new_boolean(1));
	json_object_object_add(cfg, "StdinOnce", json_object_new_boolean(0));
	json_object_object_add(cfg, "Tty", json_object_new_boolean(0));
	host = json_object_new_object();
	json_object_object_add(cfg, "HostConfig", host);
	binds = json_object_new_array();
	bind_add(binds, slot, guest, NULL);
	bind_add(binds, cache, cache_guest, NULL);
	if (have_runner)
		bind_add(binds, runner, HELPER_RUNNER_PATH, "ro");
	json_object_object_add(host, "Binds", binds);
	json_object_object_add(host, "Privileged", json_object_new_boolean(0));
	if (job_host_limits(ctx, host, &limits, err) < 0)
		goto out;

	/* a container job's job container exists (prepare made it); a
	 * deployment job has one only when it named an image */
	if (ctx->action.kind == ACTION_NONE || job_container_exists(ctx)) {
		snprintf(netmode, sizeof(netmode), "container:%s", ctx->name);
	} else {
		if (job_ensure_network(ctx, &lock, err) < 0)
			goto out;
		snprintf(netmode, sizeof(netmode), "%s", ctx->network);
	}
	json_object_object_add(host, "NetworkMode", json_object_new_string(netmode));

	image_auth_load_admin(&auth, ctx->cfg);
	image_pull_admin(&pull, ctx->cfg, &auth);
	if (image_create_container(ctx->docker, &pull, ctx->helper, cfg, &id, err) < 0) {
		/* the helper image is the admin's: nothing about it is the job's
		 * fault, but CPUs the job asked for */
		if (error_is_build_failure(err))
			err->cls = ERR_CONFIG;
		job_cpus_refused(err, &limits);
		error_wrap(err, "create the helper container (helper_image %s)",
			   ctx->cfg->helper_image);
		goto out;
	}
	if (docker_container_start(ctx->docker, id, err) < 0) {
		error_wrap(err, "start the helper container");
		goto out;
	}
	if (have_runner)
		log_info("Helper container %s (image %s, gitlab-runner from %s) runs the runner's "
			 "stages",
			 ctx->helper, ctx->cfg->helper_image, runner);
	else
		log_warn("No gitlab-runner on this host's PATH and no runner_binary: the helper "
			 "container %s has none, so cache and artifacts are skipped (set "
			 "runner_binary)",
			 ctx->helper);
	rc = 0;
out:
	if (lock >= 0)
		close(lock);
	registry_auth_release(&auth);
	json_object_put(cfg);
	return rc;
}

int helper_run(struct job_ctx *ctx, const char *script_path, const char *stage, int create,
	       int *script_exit, struct error *err)
{
	_cleanup_buf_ struct buf script = BUF_INIT;
	struct job_exec x = {
		.container = ctx->helper,
		.shell_cmd = shell_detect_script(ctx->cfg->shell, 1),
		.what = "the helper image",
		.image = ctx->cfg->helper_image,
		.fix = "set helper_image to an image with git, ca-certificates and a POSIX shell "
		       "(docs/configuration.md)",
		.image_is_admins = 1,
	};
	int no_exec, rc;

	*script_exit = -1;
	if (fs_read_file(script_path, &script, SCRIPT_MAX, err) < 0)
		return error_wrap(err, "read the %s script", stage);
	rc = job_exec_script(ctx, &x, &script, stage, script_exit, &no_exec, err);
	if (rc == 0 || !no_exec)
		return rc;
	if (err->code == 409)
		return error_set(err, ERR_SYSTEM,
				 "the helper container %s has stopped; the job cannot go on",
				 ctx->helper);
	if (err->code != 404)
		return error_wrap(err, "start the %s stage in the helper container", stage);
	error_clear(err);
	if (!create)
		return 1;
	if (helper_create(ctx, err) < 0)
		return -1;
	rc = job_exec_script(ctx, &x, &script, stage, script_exit, &no_exec, err);
	if (rc < 0 && no_exec)
		return error_wrap(err, "start the %s stage in the helper container %s", stage,
				  ctx->helper);
	return rc;
}
