/* SPDX-License-Identifier: MIT */
#include "common/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"

int fs_mkdir_p(const char *path, mode_t mode, struct error *err)
{
	_cleanup_free_ char *copy = strdup(path);
	char *p;

	if (!copy)
		return error_set(err, ERR_SYSTEM, "out of memory");
	for (p = copy + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(copy, mode) < 0 && errno != EEXIST)
			return error_set_errno(err, ERR_IO, errno, "create directory %s", copy);
		*p = '/';
	}
	if (mkdir(copy, mode) < 0 && errno != EEXIST)
		return error_set_errno(err, ERR_IO, errno, "create directory %s", copy);
	return 0;
}

static int fsync_dir_of(const char *path)
{
	_cleanup_free_ char *copy = strdup(path);
	_cleanup_close_ int fd = -1;
	char *slash;

	if (!copy)
		return -1;
	slash = strrchr(copy, '/');
	if (slash == copy)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		/* cppcheck-suppress memleak ; copy is _cleanup_free_ */
		return 0; /* a relative name in the cwd: nothing to sync here */
	fd = open(copy, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	return fsync(fd);
}

int fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode, struct error *err)
{
	_cleanup_free_ char *tmp = NULL;
	const char *p = data;
	int fd;

	if (asprintf(&tmp, "%s.tmp.%d", path, (int)getpid()) < 0)
		return error_set(err, ERR_SYSTEM, "out of memory");
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return error_set_errno(err, ERR_IO, errno, "create %s", tmp);
	if (fchmod(fd, mode) < 0)
		goto fail;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0)
		goto fail;
	fsync_dir_of(path);
	return 0;
fail : {
	int saved = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return error_set_errno(err, ERR_IO, saved, "write %s", path);
}
}

int fs_read_file(const char *path, struct buf *out, size_t limit, struct error *err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	char chunk[65536];

	if (fd < 0)
		return error_set_errno(err, ERR_IO, errno, "open %s", path);
	if (limit)
		out->limit = limit;
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return error_set_errno(err, ERR_IO, errno, "read %s", path);
		}
		if (n == 0)
			break;
		if (buf_append(out, chunk, (size_t)n) < 0)
			return error_set(err, ERR_IO, "read %s: file larger than %zu bytes", path,
					 out->limit);
	}
	if (!out->data && buf_append(out, "", 0) < 0)
		return error_set(err, ERR_SYSTEM, "out of memory");
	return 0;
}

int fs_append_line(const char *path, const char *line, mode_t mode, struct error *err)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, mode);
	_cleanup_free_ char *l = NULL;
	size_t len;

	if (fd < 0)
		return error_set_errno(err, ERR_IO, errno, "open %s", path);
	if (asprintf(&l, "%s\n", line) < 0)
		return error_set(err, ERR_SYSTEM, "out of memory");
	len = strlen(l);
	/* one write() of a whole line under O_APPEND keeps lines whole */
	if (write(fd, l, len) != (ssize_t)len)
		return error_set_errno(err, ERR_IO, errno, "append to %s", path);
	if (fsync(fd) < 0)
		return error_set_errno(err, ERR_IO, errno, "sync %s", path);
	return 0;
}

static int remove_at(int parent, const char *name, struct error *err)
{
	struct stat st;
	int fd;
	DIR *d;
	struct dirent *de;

	if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		return error_set_errno(err, ERR_IO, errno, "stat %s", name);
	}
	if (!S_ISDIR(st.st_mode)) {
		if (unlinkat(parent, name, 0) < 0 && errno != ENOENT)
			return error_set_errno(err, ERR_IO, errno, "remove %s", name);
		return 0;
	}
	fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return error_set_errno(err, ERR_IO, errno, "open %s", name);
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return error_set_errno(err, ERR_IO, errno, "open %s", name);
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (remove_at(dirfd(d), de->d_name, err) < 0) {
			closedir(d);
			return -1;
		}
	}
	closedir(d);
	if (unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return error_set_errno(err, ERR_IO, errno, "remove %s", name);
	return 0;
}

int fs_remove_tree(const char *path, struct error *err)
{
	return remove_at(AT_FDCWD, path, err);
}

int fs_path_within(const char *dir, const char *path)
{
	char rd[PATH_MAX], rp[PATH_MAX];
	size_t n;

	if (!realpath(dir, rd) || !realpath(path, rp))
		return 0;
	n = strlen(rd);
	if (n == 1 && rd[0] == '/')
		return 1;
	return strncmp(rd, rp, n) == 0 && (rp[n] == '\0' || rp[n] == '/');
}
