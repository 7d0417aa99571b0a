/* SPDX-License-Identifier: MIT */
/* Paths beneath a root: every test runs twice, with openat2 and with the
 * component walk the driver falls back to on a kernel without it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/fs.h"

static char top[] = "/tmp/executor-unit-fsXXXXXX";
static char root[512], outside[512], realroot[PATH_MAX / 2];

static const int use_openat2 = 0, use_walk = 1;

static void put(const char *rel, const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", top, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void dir(const char *rel)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", top, rel);
	assert_int_equal(mkdir(path, 0755), 0);
}

static void link_(const char *target, const char *rel)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", top, rel);
	assert_int_equal(symlink(target, path), 0);
}

static int group_setup(void **state)
{
	char abs[PATH_MAX];

	if (!mkdtemp(top))
		return -1;
	snprintf(root, sizeof(root), "%s/repo", top);
	snprintf(outside, sizeof(outside), "%s/outside", top);
	dir("repo");
	dir("outside");
	put("outside/secret", "host secret\n");
	put("repo/file.txt", "hello\n");
	dir("repo/dir");
	put("repo/dir/inner.txt", "inner\n");
	dir("repo/deep");
	dir("repo/deep/sub");
	link_("file.txt", "repo/in-link");
	link_("dir", "repo/dir-link");
	link_("c2", "repo/c1");
	link_("dir/../c3", "repo/c2");
	link_("dir-link/inner.txt", "repo/c3");
	link_("../../file.txt", "repo/deep/sub/up");
	snprintf(abs, sizeof(abs), "%s/secret", outside);
	link_(abs, "repo/abs-out");
	link_("../outside/secret", "repo/rel-out");
	link_("../../../outside/secret", "repo/deep/sub/escape");
	link_("../outside", "repo/dirlink-out");
	link_("/", "repo/hostroot");
	link_("/proc/self/root", "repo/proc-link");
	link_("no-such-file", "repo/dangling");
	link_("loop2", "repo/loop1");
	link_("loop1", "repo/loop2");
	snprintf(abs, sizeof(abs), "%s/file.txt", root);
	link_(abs, "repo/abs-in"); /* absolute, even into the root: refused */
	{
		char real[PATH_MAX];

		if (!realpath(root, real) || strlen(real) >= sizeof(realroot))
			return -1;
		memcpy(realroot, real, strlen(real) + 1);
	}
	return 0;
}

static int group_teardown(void **state)
{
	struct error err = ERROR_INIT;

	fs_beneath_force_walk(0);
	return fs_remove_tree(top, &err);
}

static int mode_setup(void **state)
{
	fs_beneath_force_walk(*(const int *)*state == use_walk);
	return 0;
}

static void read_ok(const char *rel, const char *want)
{
	struct buf b = BUF_INIT;
	struct error err = ERROR_INIT;

	if (fs_read_beneath(root, rel, &b, 0, &err) < 0)
		fail_msg("%s: %s", rel, err.msg);
	assert_string_equal(buf_str(&b), want);
	buf_release(&b);
}

static void refused(const char *rel, const char *bad)
{
	struct buf b = BUF_INIT;
	struct error err = ERROR_INIT;
	char want[PATH_MAX + 128];

	assert_int_equal(fs_read_beneath(root, rel, &b, 0, &err), -1);
	assert_int_equal(err.cls, ERR_POLICY);
	snprintf(want, sizeof(want), "%s " FS_LINK_OUT_MSG, bad);
	assert_string_equal(err.msg, want);
	assert_null(b.data);
	assert_int_equal(fs_exists_beneath(root, rel), -1);
}

static void test_fs__plain_files_and_directories_read(void **state)
{
	read_ok("file.txt", "hello\n");
	read_ok("./dir/inner.txt", "inner\n");
	read_ok("dir/../file.txt", "hello\n");
	assert_int_equal(fs_exists_beneath(root, "dir"), 1);
	assert_int_equal(fs_exists_beneath(root, "missing.yml"), 0);
	assert_int_equal(fs_exists_beneath(root, "file.txt/x"), 0);
}

static void test_fs__links_inside_the_root_are_followed(void **state)
{
	char path[PATH_MAX], want[PATH_MAX];
	struct error err = ERROR_INIT;

	read_ok("in-link", "hello\n");
	read_ok("dir-link/inner.txt", "inner\n");
	read_ok("deep/sub/up", "hello\n");
	/* a chain: c1 -> c2 -> dir/../c3 -> dir-link/inner.txt */
	read_ok("c1", "inner\n");
	assert_int_equal(fs_resolve_beneath(root, "c1", path, sizeof(path), &err), 0);
	snprintf(want, sizeof(want), "%s/dir/inner.txt", realroot);
	assert_string_equal(path, want);
	assert_int_equal(fs_resolve_beneath(root, "dir-link", path, sizeof(path), &err), 0);
	snprintf(want, sizeof(want), "%s/dir", realroot);
	assert_string_equal(path, want);
	assert_int_equal(fs_resolve_beneath(root, ".", path, sizeof(path), &err), 0);
	assert_string_equal(path, realroot);
}

static void test_fs__absolute_links_are_refused(void **state)
{
	refused("abs-out", "abs-out");
	refused("hostroot", "hostroot");
	/* absolute is refused even when it points back inside */
	refused("abs-in", "abs-in");
}

static void test_fs__relative_escapes_are_refused(void **state)
{
	refused("rel-out", "rel-out");
	refused("deep/sub/escape", "deep/sub/escape");
	refused("../outside/secret", "..");
	refused("dir/../../outside/secret", "dir/../..");
}

static void test_fs__directory_components_that_are_links_are_checked(void **state)
{
	refused("dirlink-out/secret", "dirlink-out");
	refused("hostroot/etc/passwd", "hostroot");
	refused("./dir-link/../dirlink-out/secret", "./dir-link/../dirlink-out");
}

static void test_fs__proc_magic_links_are_refused(void **state)
{
	struct error err = ERROR_INIT;
	int fd = -1;

	refused("proc-link/etc/hostname", "proc-link");
	/* a root in /proc: its magic links are not followed */
	assert_int_equal(fs_open_beneath("/proc/self", "root/etc", O_PATH, &fd, &err), -1);
	assert_int_equal(err.cls, ERR_POLICY);
	assert_string_equal(err.msg, "root " FS_LINK_OUT_MSG);
	assert_int_equal(fd, -1);
}

static void test_fs__dangling_and_circular_links(void **state)
{
	struct buf b = BUF_INIT;
	struct error err = ERROR_INIT;

	assert_int_equal(fs_read_beneath(root, "dangling", &b, 0, &err), -1);
	assert_int_equal(err.cls, ERR_IO);
	assert_int_equal(err.code, ENOENT);
	assert_int_equal(fs_exists_beneath(root, "dangling"), 0);
	error_clear(&err);
	assert_int_equal(fs_read_beneath(root, "loop1", &b, 0, &err), -1);
	assert_int_equal(err.cls, ERR_IO);
	assert_int_equal(err.code, ELOOP);
	assert_null(b.data);
}

static void test_fs__limits_and_non_regular_files(void **state)
{
	struct buf b = BUF_INIT;
	struct error err = ERROR_INIT;

	assert_int_equal(fs_read_beneath(root, "file.txt", &b, 3, &err), -1);
	assert_int_equal(err.code, EFBIG);
	buf_release(&b);
	error_clear(&err);
	assert_int_equal(fs_read_beneath(root, "dir-link", &b, 0, &err), -1);
	assert_int_equal(err.code, EINVAL);
	assert_string_equal(err.msg, "dir-link is not a regular file");
	buf_release(&b);
}

static void test_fs__mkdir_beneath_creates_inside_only(void **state)
{
	const char *tag = *(const int *)*state == use_walk ? "walk" : "openat2";
	struct error err = ERROR_INIT;
	char rel[64], path[PATH_MAX];
	struct stat st;

	snprintf(rel, sizeof(rel), "made-%s/a/b", tag);
	assert_int_equal(fs_mkdir_beneath(root, rel, 0755, &err), 0);
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	/* through a link that stays inside: created where it leads */
	snprintf(rel, sizeof(rel), "dir-link/made-%s", tag);
	assert_int_equal(fs_mkdir_beneath(root, rel, 0755, &err), 0);
	snprintf(path, sizeof(path), "%s/dir/made-%s", root, tag);
	assert_int_equal(lstat(path, &st), 0);
	/* through a link that leaves: refused, nothing created outside */
	snprintf(rel, sizeof(rel), "dirlink-out/made-%s", tag);
	assert_int_equal(fs_mkdir_beneath(root, rel, 0755, &err), -1);
	assert_int_equal(err.cls, ERR_POLICY);
	snprintf(path, sizeof(path), "%s/made-%s", outside, tag);
	assert_int_equal(lstat(path, &st), -1);
	/* a dangling link is not replaced by a directory */
	error_clear(&err);
	assert_int_equal(fs_mkdir_beneath(root, "dangling", 0755, &err), -1);
	snprintf(path, sizeof(path), "%s/no-such-file", root);
	assert_int_equal(lstat(path, &st), -1);
}

/* The slot's directory: created without following links, and a report
 * written into it replaces a link at its name instead of following it. */
static void test_fs__mkdir_nofollow_and_write_at_never_follow_links(void **state)
{
	struct error err = ERROR_INIT;
	char path[PATH_MAX], target[PATH_MAX];
	struct buf b = BUF_INIT;
	struct stat st;
	int fd = -1;

	assert_int_equal(fs_mkdir_nofollow(top, "slots/r/project-1/concurrent-0", 0755, &fd, &err),
			 0);
	assert_true(fd >= 0);
	snprintf(path, sizeof(path), "%s/slots/r/project-1/concurrent-0/deploy.env", top);
	snprintf(target, sizeof(target), "%s/secret", outside);
	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(fs_write_atomic_at(fd, "deploy.env", "A=1\n", 4, 0644, &err), 0);
	close(fd);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(fs_read_file(target, &b, 0, &err), 0);
	assert_string_equal(buf_str(&b), "host secret\n");
	buf_release(&b);

	/* a component that is a link is refused, nothing created through it */
	snprintf(path, sizeof(path), "%s/slots/r/project-2", top);
	assert_int_equal(symlink(outside, path), 0);
	assert_int_equal(fs_mkdir_nofollow(top, "slots/r/project-2/concurrent-0", 0755, NULL, &err),
			 -1);
	assert_non_null(strstr(err.msg, "project-2 is a link or not a directory"));
	snprintf(path, sizeof(path), "%s/concurrent-0", outside);
	assert_int_equal(lstat(path, &st), -1);
}

static void test_fs__rel_below_is_textual(void **state)
{
	assert_string_equal(fs_rel_below("/a/b", "/a/b/c/d"), "c/d");
	assert_string_equal(fs_rel_below("/a/b/", "/a/b/c"), "c");
	assert_string_equal(fs_rel_below("/a/b", "/a/b"), ".");
	assert_null(fs_rel_below("/a/b", "/a/bc"));
	assert_null(fs_rel_below("/a/b", "/etc/passwd"));
	assert_string_equal(fs_rel_below("/", "/etc"), "etc");
}

/* each test with openat2, then with the walk */
#define BOTH(f)                                                                                    \
	{#f " (openat2)", f, mode_setup, NULL, (void *)&use_openat2},                              \
	{                                                                                          \
#f " (walk)", f, mode_setup, NULL, (void *)&use_walk                               \
	}

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(test_fs__plain_files_and_directories_read),
		BOTH(test_fs__links_inside_the_root_are_followed),
		BOTH(test_fs__absolute_links_are_refused),
		BOTH(test_fs__relative_escapes_are_refused),
		BOTH(test_fs__directory_components_that_are_links_are_checked),
		BOTH(test_fs__proc_magic_links_are_refused),
		BOTH(test_fs__dangling_and_circular_links),
		BOTH(test_fs__limits_and_non_regular_files),
		BOTH(test_fs__mkdir_beneath_creates_inside_only),
		cmocka_unit_test(test_fs__mkdir_nofollow_and_write_at_never_follow_links),
		cmocka_unit_test(test_fs__rel_below_is_textual),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
