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
		cmocka_unit_test(test_git__unknown_commit_is_a_git_error),
		cmocka_unit_test(test_git__missing_repository_names_it_without_token),
		cmocka_unit_test(test_git__redact_hides_credentials),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
