/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/fs.h"
#include "docker/docker.h"

static char tmpdir[64];

static int setup(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test-docker-tar-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	struct error err = ERROR_INIT;

	return fs_remove_tree(tmpdir, &err);
}

static void write_tar(const struct buf *tar, const char *path)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(tar->data, 1, tar->len, f), tar->len);
	assert_int_equal(fclose(f), 0);
}

/* Run a shell command, return its stdout. */
static void run(const char *cmd, struct buf *out)
{
	char chunk[4096];
	size_t n;
	FILE *p = popen(cmd, "r");

	assert_non_null(p);
	while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
		buf_append(out, chunk, n);
	assert_int_equal(pclose(p), 0);
}

static unsigned long octal_field(const unsigned char *f, size_t n)
{
	char tmp[16];

	memcpy(tmp, f, n);
	tmp[n] = '\0';
	return strtoul(tmp, NULL, 8);
}

/* Walk the archive by hand: every header's checksum and magic, sizes, end. */
static int count_entries(const struct buf *tar)
{
	const unsigned char *p = (const unsigned char *)tar->data;
	size_t off = 0;
	int entries = 0;

	assert_int_equal(tar->len % 512, 0);
	for (;;) {
		unsigned long sum = 0, want, size;
		size_t i;

		assert_true(off + 512 <= tar->len);
		for (i = 0; i < 512 && !p[off + i]; i++)
			;
		if (i == 512) {
			/* end: two zero blocks */
			assert_true(off + 1024 <= tar->len);
			for (i = 512; i < 1024; i++)
				assert_int_equal(p[off + i], 0);
			return entries;
		}
		assert_memory_equal(p + off + 257,
				    "ustar\0"
				    "00",
				    8);
		for (i = 0; i < 512; i++)
			sum += (i >= 148 && i < 156) ? ' ' : p[off + i];
		want = octal_field(p + off + 148, 7);
		assert_int_equal(sum, want);
		size = octal_field(p + off + 124, 11);
		off += 512 + (size + 511) / 512 * 512;
		entries++;
	}
}

/* A `tar -tv` line "PERM OWNER SIZE DATE TIME NAME" with these fields. */
static int has_entry(const char *listing, const char *perm, const char *owner, unsigned long size,
		     const char *name)
{
	const char *line = listing;

	while (line && *line) {
		char p[32], o[64], date[32], time[32], n[256];
		unsigned long sz;

		if (sscanf(line, "%31s %63s %lu %31s %31s %255s", p, o, &sz, date, time, n) == 6 &&
		    !strcmp(p, perm) && !strcmp(o, owner) && sz == size && !strcmp(n, name))
			return 1;
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return 0;
}

static void test_docker_tar__output_is_valid_ustar(void **state)
{
	struct buf tar = BUF_INIT, list = BUF_INIT;
	char path[128], cmd[512];
	char content[1500];
	size_t i;

	for (i = 0; i < sizeof(content); i++)
		content[i] = (char)('a' + i % 26);
	assert_int_equal(docker_tar_add_dir(&tar, "etc", 0755, 0, 0), 0);
	assert_int_equal(docker_tar_add_file(&tar, "etc/hello.txt", "hello\n", 6, 0644, 1000, 100),
			 0);
	assert_int_equal(docker_tar_add_file(&tar, "/abs/empty", "", 0, 0600, 0, 0), 0);
	assert_int_equal(docker_tar_add_file(&tar, "big.bin", content, sizeof(content), 0755, 0, 0),
			 0);
	assert_int_equal(docker_tar_finish(&tar), 0);
	assert_int_equal(count_entries(&tar), 4);

	snprintf(path, sizeof(path), "%s/out.tar", tmpdir);
	write_tar(&tar, path);
	snprintf(cmd, sizeof(cmd), "tar --numeric-owner -tvf %s", path);
	run(cmd, &list);
	assert_true(has_entry(list.data, "drwxr-xr-x", "0/0", 0, "etc/"));
	assert_true(has_entry(list.data, "-rw-r--r--", "1000/100", 6, "etc/hello.txt"));
	assert_true(has_entry(list.data, "-rw-------", "0/0", 0, "abs/empty"));
	assert_true(has_entry(list.data, "-rwxr-xr-x", "0/0", 1500, "big.bin"));

	/* and it extracts to the same bytes */
	buf_reset(&list);
	snprintf(cmd, sizeof(cmd),
		 "mkdir %s/x && tar -xf %s -C %s/x && cat %s/x/etc/hello.txt "
		 "%s/x/big.bin",
		 tmpdir, path, tmpdir, tmpdir, tmpdir);
	run(cmd, &list);
	assert_int_equal(list.len, 6 + sizeof(content));
	assert_memory_equal(list.data, "hello\n", 6);
	assert_memory_equal(list.data + 6, content, sizeof(content));
	buf_release(&list);
	buf_release(&tar);
}

static void test_docker_tar__long_names_split_into_prefix(void **state)
{
	struct buf tar = BUF_INIT, list = BUF_INIT;
	char name[256], path[128], cmd[256];

	/* 150 characters: 60-char directory + '/' + 89-char file name */
	memset(name, 'd', 60);
	name[60] = '/';
	memset(name + 61, 'f', 89);
	name[150] = '\0';
	assert_int_equal(docker_tar_add_file(&tar, name, "x", 1, 0644, 0, 0), 0);
	assert_int_equal(docker_tar_finish(&tar), 0);
	assert_int_equal(count_entries(&tar), 1);
	snprintf(path, sizeof(path), "%s/long.tar", tmpdir);
	write_tar(&tar, path);
	snprintf(cmd, sizeof(cmd), "tar -tf %s", path);
	run(cmd, &list);
	assert_int_equal(list.len, 151);
	assert_memory_equal(list.data, name, 150);
	buf_release(&list);
	buf_release(&tar);
}

static void test_docker_tar__unstorable_names_rejected(void **state)
{
	struct buf tar = BUF_INIT;
	char name[400];

	/* a 120-character component cannot be split */
	memset(name, 'n', 120);
	name[120] = '\0';
	assert_int_equal(docker_tar_add_file(&tar, name, "x", 1, 0644, 0, 0), -1);
	/* longer than prefix + name */
	memset(name, 'a', 300);
	name[100] = '/';
	name[200] = '/';
	name[300] = '\0';
	assert_int_equal(docker_tar_add_file(&tar, name, "x", 1, 0644, 0, 0), -1);
	assert_int_equal(docker_tar_add_file(&tar, "", "x", 1, 0644, 0, 0), -1);
	assert_int_equal(docker_tar_add_file(&tar, "a/../../etc/passwd", "x", 1, 0644, 0, 0), -1);
	assert_int_equal(docker_tar_add_file(&tar, "a//b", "x", 1, 0644, 0, 0), -1);
	assert_int_equal(docker_tar_add_dir(&tar, "..", 0755, 0, 0), -1);
	assert_int_equal(docker_tar_add_file(&tar, "big-uid", "x", 1, 0644, 1u << 30, 0), -1);
	/* nothing was written by the failures */
	assert_int_equal(tar.len, 0);
	buf_release(&tar);
}

static void test_docker_tar__full_buffer_leaves_archive_unchanged(void **state)
{
	struct buf tar;
	char data[2048] = {0};

	buf_init(&tar, 1024);
	assert_int_equal(docker_tar_add_file(&tar, "small", "x", 1, 0644, 0, 0), 0);
	assert_int_equal(tar.len, 1024);
	assert_int_equal(docker_tar_add_file(&tar, "big", data, sizeof(data), 0644, 0, 0), -1);
	assert_int_equal(tar.len, 1024);
	buf_release(&tar);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_docker_tar__output_is_valid_ustar),
		cmocka_unit_test(test_docker_tar__long_names_split_into_prefix),
		cmocka_unit_test(test_docker_tar__unstorable_names_rejected),
		cmocka_unit_test(test_docker_tar__full_buffer_leaves_archive_unchanged),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
