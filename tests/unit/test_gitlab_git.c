/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/fs.h"
#include "gitlab/git.h"

static char root[] = "/tmp/executor-unit-gitXXXXXX";

static void sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0)
		fail_msg("command failed: %s", cmd);
}

static void read_sha(const char *repo, char out[41])
{
	char cmd[512];
	FILE *p;

	snprintf(cmd, sizeof(cmd), "git -C %s rev-parse HEAD", repo);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(out, 41, p));
	pclose(p);
}

static int setup(void **state)
{
	git_libgit2_init();
	if (!mkdtemp(root))
		return -1;
	sh("git init -q -b main %s/upstream && cd %s/upstream && "
	   "git -c user.name=t -c user.email=t@t commit -q --allow-empty -m init && "
	   "mkdir durable && echo 'services: {}' > durable/docker-compose.yml && "
	   "git add . && git -c user.name=t -c user.email=t@t commit -q -m stack",
	   root, root);
	return 0;
}

static int teardown(void **state)
{
	struct error err = ERROR_INIT;

	fs_remove_tree(root, &err);
	git_libgit2_shutdown();
	return 0;
}

static void test_git__fetch_checks_out_the_commit(void **state)
{
	char upstream[256], dir[256], sha[41], head[41], file[300];
	struct error err = ERROR_INIT;
	struct buf b = BUF_INIT;
	struct git_source src = {0};

	snprintf(upstream, sizeof(upstream), "%s/upstream", root);
	snprintf(dir, sizeof(dir), "%s/checkout", root);
	read_sha(upstream, sha);
	src.url = upstream;
	src.sha = sha;
	src.dir = dir;
	assert_int_equal(git_fetch_checkout(&src, &err), 0);
	snprintf(file, sizeof(file), "%s/durable/docker-compose.yml", dir);
	assert_int_equal(fs_read_file(file, &b, 0, &err), 0);
	assert_string_equal(buf_str(&b), "services: {}\n");
	assert_int_equal(git_read_head(dir, head, &err), 0);
	assert_string_equal(head, sha);

	/* a second fetch reuses the checkout and moves to the new commit */
	sh("cd %s && echo v2 > VERSION && git add VERSION && "
	   "git -c user.name=t -c user.email=t@t commit -q -m v2",
	   upstream);
	read_sha(upstream, sha);
	assert_int_equal(git_fetch_checkout(&src, &err), 0);
	assert_int_equal(git_read_head(dir, head, &err), 0);
	assert_string_equal(head, sha);
	buf_release(&b);
}

/* The canary: a host directory a hostile job or container points the
 * checkout at; the fetch must leave it exactly as it was. */
static void canary_make(const char *dir)
{
	sh("mkdir -p %s && echo marker > %s/marker && echo mine > %s/untracked.txt", dir, dir, dir);
}

static void canary_check(const char *dir)
{
	char cmd[600], out[256] = "";
	FILE *p;

	snprintf(cmd, sizeof(cmd),
		 "cd %s && ls -A | tr '\\n' ' ' && cat marker untracked.txt | tr '\\n' ' '", dir);
	p = popen(cmd, "r");
	assert_non_null(p);
	if (!fgets(out, sizeof(out), p))
		out[0] = '\0';
	pclose(p);
	assert_string_equal(out, "marker untracked.txt marker mine ");
}

static void test_git__separate_git_dir_ignores_what_the_checkout_holds(void **state)
{
	char upstream[256], work[256], gitdir[256], canary[256], sha[41], head[41], file[300];
	struct error err = ERROR_INIT;
	struct buf b = BUF_INIT;
	struct git_source src = {0};
	struct stat st;

	snprintf(upstream, sizeof(upstream), "%s/upstream", root);
	snprintf(work, sizeof(work), "%s/sep/work", root);
	snprintf(gitdir, sizeof(gitdir), "%s/sep/git", root);
	snprintf(canary, sizeof(canary), "%s/canary", root);
	canary_make(canary);
	read_sha(upstream, sha);
	src.url = upstream;
	src.sha = sha;
	src.dir = work;
	src.git_dir = gitdir;
	assert_int_equal(git_fetch_checkout(&src, &err), 0);
	snprintf(file, sizeof(file), "%s/durable/docker-compose.yml", work);
	assert_int_equal(fs_read_file(file, &b, 0, &err), 0);
	buf_release(&b);
	/* the repository is outside the work tree; .git there is only a gitlink */
	snprintf(file, sizeof(file), "%s/.git", work);
	assert_int_equal(lstat(file, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	snprintf(file, sizeof(file), "%s/HEAD", gitdir);
	assert_int_equal(lstat(file, &st), 0);
	assert_int_equal(git_read_head(work, head, &err), 0);
	assert_string_equal(head, sha);

	/* what a container with the work tree mounted read-write could leave: a
	 * tracked directory replaced by a link to the host, an untracked link, a
	 * .git of its own whose core.worktree names the host directory */
	sh("cd %s && rm -rf durable .git && ln -s %s durable && ln -s %s untracked-link && "
	   "git init -q . && git config core.worktree %s",
	   work, canary, canary, canary);
	sh("cd %s && echo v3 > VERSION3 && git add VERSION3 && "
	   "git -c user.name=t -c user.email=t@t commit -q -m v3",
	   upstream);
	read_sha(upstream, sha);
	assert_int_equal(git_fetch_checkout(&src, &err), 0);
	canary_check(canary);
	snprintf(file, sizeof(file), "%s/durable", work);
	assert_int_equal(lstat(file, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	snprintf(file, sizeof(file), "%s/VERSION3", work);
	assert_int_equal(lstat(file, &st), 0);
	if (git_read_head(work, head, &err) < 0)
		fail_msg("%s", err.msg);
	assert_string_equal(head, sha);

	/* a checkout directory that is itself a link is refused */
	snprintf(file, sizeof(file), "%s/sep/link", root);
	assert_int_equal(symlink(canary, file), 0);
	src.dir = file;
	assert_int_equal(git_fetch_checkout(&src, &err), -1);
	assert_int_equal(err.cls, ERR_SYSTEM);
	assert_non_null(strstr(err.msg, "refusing to write through it"));
	canary_check(canary);
}

static void test_git__unknown_commit_is_a_git_error(void **state)
{
	char upstream[256], dir[256];
	struct error err = ERROR_INIT;
	struct git_source src = {0};

	snprintf(upstream, sizeof(upstream), "%s/upstream", root);
	snprintf(dir, sizeof(dir), "%s/checkout2", root);
	src.url = upstream;
	src.sha = "0123456789012345678901234567890123456789";
	src.dir = dir;
	assert_int_equal(git_fetch_checkout(&src, &err), -1);
	assert_int_equal(err.cls, ERR_GIT);
	assert_non_null(strstr(err.msg, "not in the fetched refs"));
}

static void test_git__missing_repository_names_it_without_token(void **state)
{
	char dir[256];
	struct error err = ERROR_INIT;
	struct git_source src = {0};

	snprintf(dir, sizeof(dir), "%s/checkout3", root);
	src.url = "file:///nonexistent/gitlab-ci-token:topsecret@x/repo.git";
	src.sha = "0123456789012345678901234567890123456789";
	src.dir = dir;
	assert_int_equal(git_fetch_checkout(&src, &err), -1);
	assert_int_equal(err.cls, ERR_GIT);
	assert_non_null(strstr(err.msg, "fetch"));
}

static void test_git__redact_hides_credentials(void **state)
{
	char out[256];

	git_url_redact(out, sizeof(out),
		       "https://gitlab-ci-token:glcbt-abc@gitlab.example.com/acme/app.git");
	assert_string_equal(out, "https://[MASKED]@gitlab.example.com/acme/app.git");
	git_url_redact(out, sizeof(out), "https://gitlab.example.com/a@b/app.git");
	assert_string_equal(out, "https://gitlab.example.com/a@b/app.git");
	git_url_redact(out, sizeof(out), "/srv/repo.git");
	assert_string_equal(out, "/srv/repo.git");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_git__fetch_checks_out_the_commit),
		cmocka_unit_test(test_git__separate_git_dir_ignores_what_the_checkout_holds),
		cmocka_unit_test(test_git__unknown_commit_is_a_git_error),
		cmocka_unit_test(test_git__missing_repository_names_it_without_token),
		cmocka_unit_test(test_git__redact_hides_credentials),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
