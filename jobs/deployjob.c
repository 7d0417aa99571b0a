/* SPDX-License-Identifier: MIT */
/*
 * Deployment jobs under gitlab-runner.  No job image is needed: get_sources
 * fetches the repository with libgit2 into a checkout of the driver's own on
 * the host, build_script carries out the action from it, the runner's cache
 * and artifact stages (the dotenv report's upload) run in the job's helper
 * container (jobs/helper.c), and the job's other stages run in a job
 * container only when the job names an image.
 *
 * The checkout is not the job's builds slot: every job of the project in
 * that slot can write there (replace $CI_PROJECT_DIR with a link to a host
 * directory, plant a .git/config), and the checkout is written on the host
 * by the driver.  It lives in <state>/checkouts/<runner>/project-<id>/
 * concurrent-<n>/, which no job container mounts: work/<name> (the work
 * tree), git/ (the repository, outside the work tree) and deploy.env (the
 * dotenv report before it is copied into the slot, where GitLab's artifact
 * upload looks for it).  The directories are created with mkdir and opened
 * with O_NOFOLLOW on every use.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "docker/imagepull.h"
#include "durable/state.h"
#include "gitlab/git.h"
#include "jobs/deployjob.h"
#include "jobs/helper.h"
#include "jobs/job.h"
#include "jobs/joblimits.h"
#include "stages/context.h"
#include "stages/perform.h"

int deployjob_prepare(struct job_ctx *ctx, struct error *err)
{
	const struct action *a = &ctx->action;

	if (action_is_guarded(a->kind) && ctx->job.protected_ref != 1)
		log_warn("%s needs a protected ref; ref %s is not protected in the job payload, so "
			 "the action will be refused",
			 action_name(a->kind), ctx->job.ref ? ctx->job.ref : "?");
	log_notice("Deployment job: %s%s%s in env %s, carried out by the driver",
		   action_name(a->kind), a->color[0] ? " " : "", a->color, a->env);
	if (ctx->have_payload && ctx->job.image) {
		if (!image_allowed(&ctx->cfg->allowed_images, ctx->job.image))
			return error_set(err, ERR_POLICY,
					 "image %s is not allowed on this runner; allowed: %s",
					 ctx->job.image,
					 pattern_list_str(&ctx->cfg->allowed_images));
		int lock = -1, rc;

		if (job_limits_check(ctx->cfg, err) < 0)
			return -1;
		if (job_ensure_network(ctx, &lock, err) < 0)
			return -1;
		rc = job_create_container(ctx, ctx->job.image, err);
		if (lock >= 0)
			close(lock);
		if (rc < 0)
			return -1;
		log_info("Job container %s (image %s) runs the job's other stages", ctx->name,
			 ctx->job.image);
	}
	return 0;
}

/* A file-type variable arrives as its content: write it where libgit2 can
 * read it, inside the job's temp dir. */
static int ca_file(char *out, size_t size, struct error *err)
{
	const char *ca = gitlab_var("CI_SERVER_TLS_CA_FILE");
	const char *tmp = getenv("TMPDIR");

	out[0] = '\0';
	if (!ca || !*ca)
		return 0;
	if (ca[0] == '/' && !strchr(ca, '\n')) {
		snprintf(out, size, "%s", ca);
		return 0;
	}
	snprintf(out, size, "%s/executor-ca.pem", tmp && *tmp ? tmp : "/tmp");
	return fs_write_atomic(out, ca, strlen(ca), 0600, err);
}

struct checkout {
	char root[4096];     /* <state>/checkouts/<runner>/project-<id>/concurrent-<n> */
	char work[4400];     /* root/work/<name of CI_PROJECT_DIR>: the work tree */
	char git_dir[4200];  /* root/git */
	char report[4200];   /* root/deploy.env */
	char slot_rel[1024]; /* slots/<runner>/project-<id>/concurrent-<n> */
	char name[256];	     /* the base name of CI_PROJECT_DIR */
};

/* The job's checkout, created (0700 down to work/, the work tree 0755, so
 * that containers can read what a stack bind-mounts from it) and checked:
 * every component a real directory, none a link. */
static int checkout_open(struct job_ctx *ctx, struct checkout *co, struct error *err)
{
	const char *state = ctx->cfg->state_dir;
	char rel[1200], work_rel[1500];

	if (job_builds_slot(ctx, co->slot_rel, sizeof(co->slot_rel), co->name, sizeof(co->name),
			    err) < 0)
		return -1;
	/* slots/... -> checkouts/... */
	snprintf(rel, sizeof(rel), "checkouts/%s", co->slot_rel + strlen("slots/"));
	snprintf(work_rel, sizeof(work_rel), "%s/work/%s", rel, co->name);
	if (fs_mkdir_nofollow(state, rel, 0700, NULL, err) < 0 ||
	    fs_mkdir_nofollow(state, work_rel, 0755, NULL, err) < 0)
		return error_wrap(err, "the deployment job's checkout");
	snprintf(co->root, sizeof(co->root), "%s/%s", state, rel);
	snprintf(co->work, sizeof(co->work), "%s/work/%s", co->root, co->name);
	snprintf(co->git_dir, sizeof(co->git_dir), "%s/git", co->root);
	snprintf(co->report, sizeof(co->report), "%s/deploy.env", co->root);
	return 0;
}

/*
 * $CI_PROJECT_DIR in the job's builds slot, opened as a real directory for
 * the dotenv report: the job's containers can leave anything there, so a
 * link (or anything but a directory) is replaced by a new directory, and
 * the descriptor is opened without following links.
 */
static int slot_project_dir(struct job_ctx *ctx, const struct checkout *co, int *fd_out,
			    struct error *err)
{
	_cleanup_close_ int slot = -1;
	int tries;

	*fd_out = -1;
	if (fs_mkdir_nofollow(ctx->cfg->state_dir, co->slot_rel, 0755, &slot, err) < 0)
		return error_wrap(err, "the job's builds slot");
	for (tries = 0; tries < 5; tries++) {
		struct stat st;
		int fd;

		if (fstatat(slot, co->name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
			if (S_ISDIR(st.st_mode)) {
				fd = openat(slot, co->name,
					    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
				if (fd >= 0) {
					*fd_out = fd;
					return 0;
				}
				continue; /* replaced meanwhile: look again */
			}
			log_warn(
				"$CI_PROJECT_DIR in the builds slot is %s, left by an earlier job: "
				"replaced by a new directory for the dotenv report",
				S_ISLNK(st.st_mode) ? "a symbolic link" : "not a directory");
			if (unlinkat(slot, co->name, 0) < 0 && errno != ENOENT)
				return error_set_errno(err, ERR_IO, errno, "remove %s/%s",
						       co->slot_rel, co->name);
		} else if (errno != ENOENT) {
			return error_set_errno(err, ERR_IO, errno, "look at %s/%s", co->slot_rel,
					       co->name);
		}
		if (mkdirat(slot, co->name, 0755) < 0 && errno != EEXIST)
			return error_set_errno(err, ERR_IO, errno, "create %s/%s", co->slot_rel,
					       co->name);
	}
	return error_set(err, ERR_IO,
			 "%s/%s keeps changing under the driver; is a job of the project still "
			 "running in this slot?",
			 co->slot_rel, co->name);
}

static int fetch_sources(struct job_ctx *ctx, const struct checkout *co, struct error *err)
{
	const char *dir = co->work;
	const char *strategy = gitlab_var("GIT_STRATEGY");
	const char *url = ctx->job.repo_url ? ctx->job.repo_url : gitlab_var("CI_REPOSITORY_URL");
	const char *sha = ctx->job.sha ? ctx->job.sha : gitlab_var("CI_COMMIT_SHA");
	struct git_source src = {0};
	json_object *git, *refspecs = NULL;
	const char *specs[16];
	char ca[4096], safe[1024];
	size_t n = 0;

	if (strategy && !strcmp(strategy, "none")) {
		log_info("GIT_STRATEGY is none: using %s as it is", dir);
		return 0;
	}
	if (!url || !sha)
		return error_set(
			err, ERR_GIT,
			"the job has no repository URL or commit (git_info in the payload)");
	if (ca_file(ca, sizeof(ca), err) < 0)
		return -1;
	if (ctx->job.root && json_object_object_get_ex(ctx->job.root, "git_info", &git))
		json_object_object_get_ex(git, "refspecs", &refspecs);
	if (refspecs && json_object_is_type(refspecs, json_type_array)) {
		size_t i;

		for (i = 0; i < json_object_array_length(refspecs) && n < 15; i++)
			specs[n++] = json_object_get_string(json_object_array_get_idx(refspecs, i));
	}
	specs[n] = NULL;
	src.url = url;
	src.sha = sha;
	src.refspecs = n ? specs : NULL;
	src.dir = dir;
	src.git_dir = co->git_dir;
	src.ca_file = ca[0] ? ca : NULL;
	git_url_redact(safe, sizeof(safe), url);
	log_info("Fetching %s at %.12s with libgit2 into %s", safe, sha, dir);
	return git_fetch_checkout(&src, err);
}

/* The dotenv report, written by the deploy into the private checkout, copied
 * into $CI_PROJECT_DIR of the slot, where GitLab's artifact upload reads it. */
static int report_to_slot(const struct checkout *co, int slot_dir, struct error *err)
{
	_cleanup_buf_ struct buf text = BUF_INIT;

	if (fs_read_file(co->report, &text, 1 << 20, err) < 0)
		return error_wrap(err, "the dotenv report");
	if (fs_write_atomic_at(slot_dir, "deploy.env", text.data, text.len, 0644, err) < 0)
		return error_wrap(err, "write the dotenv report into the builds slot");
	unlink(co->report);
	return 0;
}

static int perform(struct job_ctx *ctx, const struct checkout *co, struct error *err)
{
	struct deploy_ctx d;
	struct deploy_opts o = {0};
	_cleanup_close_ int slot_dir = -1;
	int rc;

	if (ctx->action.kind == ACTION_DEPLOY) {
		/* before anything changes: the slot's directory is usable, and a
		 * report of an earlier job there is not taken for this one's */
		if (slot_project_dir(ctx, co, &slot_dir, err) < 0)
			return -1;
		if (unlinkat(slot_dir, "deploy.env", 0) < 0 && errno != ENOENT)
			return error_set_errno(err, ERR_IO, errno, "remove the old deploy.env");
		unlink(co->report);
		o.dotenv = co->report;
	}
	if (deploy_ctx_init(&d, ctx->cfg, ctx->docker, &ctx->job, &ctx->action, co->work, err) <
	    0) {
		deploy_ctx_release(&d);
		return -1;
	}
	o.confirm = gitlab_var("EXECUTOR_CONFIRM_DESTROY");
	rc = deploy_perform(&d, &o, err);
	deploy_ctx_release(&d);
	if (rc == 0 && slot_dir >= 0 && access(co->report, F_OK) == 0)
		rc = report_to_slot(co, slot_dir, err);
	return rc;
}

int deployjob_run(struct job_ctx *ctx, const char *script_path, const char *stage, int *script_exit,
		  struct error *err)
{
	struct checkout co;
	int has_container;

	*script_exit = -1;
	if (!strcmp(stage, "get_sources") || !strcmp(stage, "build_script") ||
	    !strcmp(stage, "step_script") || !strcmp(stage, "clear_worktree")) {
		if (checkout_open(ctx, &co, err) < 0)
			return -1;
	}
	if (!strcmp(stage, "get_sources")) {
		_cleanup_close_ int slot_dir = -1;

		/* the stages that run in the job's container (download_artifacts,
		 * upload_artifacts, after_script) cd into $CI_PROJECT_DIR of the
		 * slot: a real directory, whatever an earlier job left there */
		if (slot_project_dir(ctx, &co, &slot_dir, err) < 0)
			return -1;
		return fetch_sources(ctx, &co, err);
	}
	if (!strcmp(stage, "build_script") || !strcmp(stage, "step_script")) {
		log_info("The job's script lines are not run: the driver carries out %s itself",
			 action_name(ctx->action.kind));
		return perform(ctx, &co, err);
	}
	if (!strcmp(stage, "clear_worktree")) {
		/* the work tree and its repository: the next get_sources starts anew */
		if (fs_remove_tree(co.root, err) < 0)
			return -1;
		return 0;
	}
	/* the runner's stages (cache, artifacts: the dotenv report) in the
	 * helper, made for them with or without a job container; file variables
	 * are cleaned up where a stage wrote them */
	if (stage_place_of(stage) == STAGE_IN_HELPER && ctx->cfg->helper_image) {
		int rc = helper_run(ctx, script_path, stage,
				    strcmp(stage, "cleanup_file_variables") != 0, script_exit, err);

		if (rc <= 0)
			return rc;
	}
	has_container = job_container_exists(ctx);
	if (has_container)
		return job_run_in_container(ctx, script_path, stage, script_exit, err);
	if (!strcmp(stage, "prepare_script"))
		log_info("Running on %s via executor (deployment job, no job container)",
			 ctx->cfg->hostname);
	else if (!strncmp(stage, "upload_artifacts", 16))
		log_info("Skipping %s: a deployment job without image: has no container to upload "
			 "from, and the runner has no helper_image (reports such as deploy.env "
			 "need one)",
			 stage);
	else if (strcmp(stage, "cleanup_file_variables"))
		log_info("Skipping %s: a deployment job without image: runs no scripts", stage);
	return 0;
}
