/* SPDX-License-Identifier: MIT */
#include "common/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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

/* Write everything, fsync and close *fd (-1 after); errno says why not. */
static int write_sync_close(int *fd, const void *data, size_t len)
{
	const char *p = data;
	int rc;

	while (len > 0) {
		ssize_t n = write(*fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	if (fsync(*fd) < 0)
		return -1;
	rc = close(*fd);
	*fd = -1;
	return rc;
}

int fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode, struct error *err)
{
	_cleanup_free_ char *tmp = NULL;
	int fd;

	if (asprintf(&tmp, "%s.tmp.%d", path, (int)getpid()) < 0)
		return error_set(err, ERR_SYSTEM, "out of memory");
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return error_set_errno(err, ERR_IO, errno, "create %s", tmp);
	if (fchmod(fd, mode) < 0 || write_sync_close(&fd, data, len) < 0)
		goto fail;
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

int fs_write_atomic_at(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
		       struct error *err)
{
	char tmp[NAME_MAX + 1];
	int fd;

	if (!*name || strchr(name, '/') ||
	    (size_t)snprintf(tmp, sizeof(tmp), ".%s.tmp.%d", name, (int)getpid()) >= sizeof(tmp))
		return error_set(err, ERR_SYSTEM, "write %s: not a file name", name);
	unlinkat(dirfd, tmp, 0);
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return error_set_errno(err, ERR_IO, errno, "create %s", tmp);
	if (fchmod(fd, mode) < 0 || write_sync_close(&fd, data, len) < 0)
		goto fail;
	if (renameat(dirfd, tmp, dirfd, name) < 0)
		goto fail;
	fsync(dirfd);
	return 0;
fail : {
	int saved = errno;

	if (fd >= 0)
		close(fd);
	unlinkat(dirfd, tmp, 0);
	return error_set_errno(err, ERR_IO, saved, "write %s", name);
}
}

int fs_mkdir_nofollow(const char *base, const char *rel, mode_t mode, int *fd_out,
		      struct error *err)
{
	char copy[PATH_MAX];
	char *save = NULL, *comp;
	int fd;

	if (fd_out)
		*fd_out = -1;
	if ((size_t)snprintf(copy, sizeof(copy), "%s", rel) >= sizeof(copy))
		return error_set_errno(err, ERR_IO, ENAMETOOLONG, "create %s/%s", base, rel);
	fd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return error_set_errno(err, ERR_IO, errno, "open %s", base);
	for (comp = strtok_r(copy, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
		int next;

		if (!strcmp(comp, ".") || !strcmp(comp, "..")) {
			close(fd);
			return error_set(err, ERR_SYSTEM, "%s/%s: . or .. in a path", base, rel);
		}
		if (mkdirat(fd, comp, mode) < 0 && errno != EEXIST) {
			int e = errno;

			close(fd);
			return error_set_errno(err, ERR_IO, e, "create %s/%s", base, rel);
		}
		next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0) {
			int e = errno;

			close(fd);
			if (e == ELOOP || e == ENOTDIR)
				return error_set(err, ERR_IO,
						 "%s/%s: %s is a link or not a directory; refusing "
						 "to follow it",
						 base, rel, comp);
			return error_set_errno(err, ERR_IO, e, "open %s/%s", base, rel);
		}
		close(fd);
		fd = next;
	}
	if (fd_out)
		*fd_out = fd;
	else
		close(fd);
	return 0;
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

/* ---- paths beneath a root ---- */

#define LINKS_MAX 40

static int force_walk;

void fs_beneath_force_walk(int on)
{
	force_walk = on;
}

const char *fs_rel_below(const char *root, const char *path)
{
	size_t n = strlen(root);

	while (n > 1 && root[n - 1] == '/')
		n--;
	if (n == 1 && root[0] == '/')
		return path[0] == '/' && path[1] ? path + 1 : (path[0] == '/' ? "." : NULL);
	if (strncmp(path, root, n))
		return NULL;
	if (path[n] == '\0')
		return ".";
	if (path[n] != '/')
		return NULL;
	while (path[n] == '/')
		n++;
	return path[n] ? path + n : ".";
}

/* What the walk found when it could not open the path. */
struct walk_fail {
	int error;	    /* errno; EXDEV: leads out of the root */
	char bad[PATH_MAX]; /* rel up to the component that leaves */
};

/* Open the directory `done` (a path of real directories, relative to the
 * root) again, one component at a time, refusing any link. */
static int reopen_real(int rootfd, const char *done)
{
	char copy[PATH_MAX];
	char *save = NULL, *comp;
	int fd = openat(rootfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);

	snprintf(copy, sizeof(copy), "%s", done);
	for (comp = strtok_r(copy, "/", &save); comp && fd >= 0;
	     comp = strtok_r(NULL, "/", &save)) {
		int next = openat(fd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		close(fd);
		fd = next;
	}
	return fd;
}

/*
 * The walk: each component opened with O_PATH | O_NOFOLLOW below the one
 * before; a link is read and its text put in front of what is left to
 * resolve (an absolute one leaves the root); ".." pops a component, and
 * above the root leaves it.  Returns a descriptor or -1 with *f filled.
 */
static int walk_beneath(int rootfd, const char *rel, int flags, struct walk_fail *f)
{
	char pending[2 * PATH_MAX + 2], done[PATH_MAX] = "", target[PATH_MAX];
	size_t rel_len = strlen(rel), orig_left = rel_len;
	const char *p;
	int cur, links = 0;

	f->error = 0;
	f->bad[0] = '\0';
	if (rel_len >= PATH_MAX) {
		f->error = ENAMETOOLONG;
		return -1;
	}
	if (rel[0] == '/') {
		f->error = EXDEV;
		snprintf(f->bad, sizeof(f->bad), "%s", rel);
		return -1;
	}
	snprintf(pending, sizeof(pending), "%s", rel);
	p = pending;
	cur = openat(rootfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cur < 0) {
		f->error = errno;
		return -1;
	}
	for (;;) {
		char comp[NAME_MAX + 1];
		size_t n, left;
		struct stat st;
		int fd, last;

		while (*p == '/')
			p++;
		if (!*p) {
			/* the path ends on a directory already open */
			fd = openat(cur, ".", flags | O_CLOEXEC);
			if (fd < 0)
				f->error = errno;
			close(cur);
			return fd;
		}
		n = strcspn(p, "/");
		if (n > NAME_MAX) {
			f->error = ENAMETOOLONG;
			break;
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		p += n;
		left = strlen(p);
		if (left < orig_left)
			orig_left = left;
		last = !p[strspn(p, "/")];
		if (!strcmp(comp, "."))
			continue;
		if (!strcmp(comp, "..")) {
			char *slash = strrchr(done, '/');

			if (!done[0]) {
				f->error = EXDEV;
				break;
			}
			if (slash)
				*slash = '\0';
			else
				done[0] = '\0';
			close(cur);
			cur = reopen_real(rootfd, done);
			if (cur < 0) {
				f->error = errno;
				return -1;
			}
			continue;
		}
		fd = openat(cur, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) < 0) {
			f->error = errno;
			if (fd >= 0)
				close(fd);
			break;
		}
		if (S_ISLNK(st.st_mode)) {
			char next[sizeof(pending)];
			ssize_t len = readlinkat(fd, "", target, sizeof(target) - 1);

			close(fd);
			if (len < 0) {
				f->error = errno;
				break;
			}
			target[len] = '\0';
			if (++links > LINKS_MAX) {
				f->error = ELOOP;
				break;
			}
			if (target[0] == '/') {
				f->error = EXDEV;
				break;
			}
			if ((size_t)snprintf(next, sizeof(next), "%s/%s", target, p) >=
			    sizeof(next)) {
				f->error = ENAMETOOLONG;
				break;
			}
			memcpy(pending, next, strlen(next) + 1);
			p = pending;
			continue;
		}
		if (last) {
			int out = openat(cur, comp, flags | O_NOFOLLOW | O_CLOEXEC);

			close(fd);
			/* a link swapped in since the look: O_PATH would hand it out */
			if (out >= 0 && (fstat(out, &st) < 0 || S_ISLNK(st.st_mode))) {
				close(out);
				out = -1;
				errno = ELOOP;
			}
			if (out < 0)
				f->error = errno;
			close(cur);
			return out;
		}
		if (!S_ISDIR(st.st_mode)) {
			close(fd);
			f->error = ENOTDIR;
			break;
		}
		close(cur);
		cur = fd;
		if ((size_t)snprintf(done + strlen(done), sizeof(done) - strlen(done), "%s%s",
				     done[0] ? "/" : "", comp) >= sizeof(done) - strlen(done)) {
			f->error = ENAMETOOLONG;
			break;
		}
	}
	close(cur);
	if (f->error == EXDEV) {
		/* name what the caller wrote, up to the component that left */
		size_t upto = rel_len - orig_left;

		while (upto > 1 && rel[upto - 1] == '/')
			upto--;
		snprintf(f->bad, sizeof(f->bad), "%.*s", (int)upto, rel);
	}
	return -1;
}

static long sys_openat2(int dirfd, const char *path, int flags, unsigned long long resolve)
{
	struct open_how how;

	memset(&how, 0, sizeof(how));
	how.flags = (unsigned long long)flags;
	how.resolve = resolve;
	return syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

static int beneath_error(struct error *err, const char *rel, const struct walk_fail *f)
{
	if (f->error == EXDEV)
		return error_set(err, ERR_POLICY, "%s " FS_LINK_OUT_MSG, f->bad[0] ? f->bad : rel);
	if (f->error == ELOOP)
		return error_set_errno(err, ERR_IO, ELOOP,
				       "%s: links lead in a circle or too deep (more than %d)", rel,
				       LINKS_MAX);
	return error_set_errno(err, ERR_IO, f->error ? f->error : EIO, "open %s", rel);
}

int fs_open_beneath(const char *root, const char *rel, int flags, int *fd_out, struct error *err)
{
	_cleanup_close_ int rootfd = -1;
	struct walk_fail f;
	int fd = -1, tries;

	*fd_out = -1;
	if (!rel || !*rel)
		rel = ".";
	rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return error_set_errno(err, ERR_IO, errno, "open %s", root);
	flags |= O_CLOEXEC;
	if (!force_walk) {
		for (tries = 0; tries < 8; tries++) {
			fd = (int)sys_openat2(rootfd, rel, flags,
					      RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS);
			if (fd >= 0 || errno != EAGAIN)
				break;
		}
		if (fd >= 0) {
			*fd_out = fd;
			return 0;
		}
		if (errno != ENOSYS && errno != EAGAIN && errno != EXDEV && errno != ELOOP) {
			f.error = errno;
			f.bad[0] = '\0';
			return beneath_error(err, rel, &f);
		}
		if (errno == EXDEV || errno == ELOOP) {
			int kernel = errno;

			/* refused: the walk says which component and why (it opens
			 * nothing the kernel would not have) */
			fd = walk_beneath(rootfd, rel, O_PATH, &f);
			if (fd >= 0) {
				close(fd);
				f.error = kernel == ELOOP ? EXDEV : kernel;
				f.bad[0] = '\0';
			} else if (f.error != EXDEV && f.error != ELOOP) {
				/* a magic link the walk cannot read as a path */
				f.error = EXDEV;
				f.bad[0] = '\0';
			}
			return beneath_error(err, rel, &f);
		}
	}
	fd = walk_beneath(rootfd, rel, flags, &f);
	if (fd < 0)
		return beneath_error(err, rel, &f);
	*fd_out = fd;
	return 0;
}

int fs_read_beneath(const char *root, const char *rel, struct buf *out, size_t limit,
		    struct error *err)
{
	_cleanup_close_ int fd = -1;
	char chunk[65536];
	struct stat st;

	if (fs_open_beneath(root, rel, O_RDONLY, &fd, err) < 0)
		return -1;
	if (fstat(fd, &st) < 0)
		return error_set_errno(err, ERR_IO, errno, "stat %s", rel);
	if (!S_ISREG(st.st_mode)) {
		error_set(err, ERR_IO, "%s is not a regular file", rel);
		err->code = EINVAL;
		return -1;
	}
	if (limit)
		out->limit = limit;
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return error_set_errno(err, ERR_IO, errno, "read %s", rel);
		}
		if (n == 0)
			break;
		if (buf_append(out, chunk, (size_t)n) < 0) {
			error_set(err, ERR_IO, "read %s: file larger than %zu bytes", rel,
				  out->limit);
			err->code = EFBIG;
			return -1;
		}
	}
	if (!out->data && buf_append(out, "", 0) < 0)
		return error_set(err, ERR_SYSTEM, "out of memory");
	return 0;
}

int fs_exists_beneath(const char *root, const char *rel)
{
	struct error err = ERROR_INIT;
	int fd = -1;

	if (fs_open_beneath(root, rel, O_PATH, &fd, &err) == 0) {
		close(fd);
		return 1;
	}
	return err.cls == ERR_IO && (err.code == ENOENT || err.code == ENOTDIR) ? 0 : -1;
}

static int fd_path(int fd, const char *rel, char *out, size_t size, struct error *err)
{
	char proc[64];
	ssize_t n;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	n = readlink(proc, out, size);
	if (n < 0)
		return error_set_errno(err, ERR_IO, errno, "resolve %s", rel);
	if ((size_t)n >= size)
		return error_set(err, ERR_IO, "resolve %s: the path is too long", rel);
	out[n] = '\0';
	if (out[0] != '/')
		return error_set(err, ERR_IO, "resolve %s: not a path (%s)", rel, out);
	return 0;
}

int fs_resolve_beneath(const char *root, const char *rel, char *out, size_t size, struct error *err)
{
	_cleanup_close_ int fd = -1;

	if (fs_open_beneath(root, rel, O_PATH, &fd, err) < 0)
		return -1;
	return fd_path(fd, rel, out, size, err);
}

int fs_mkdir_beneath(const char *root, const char *rel, mode_t mode, struct error *err)
{
	char prefix[PATH_MAX];
	size_t i = 0, len = strlen(rel);
	int parent = -1;

	if (len >= sizeof(prefix))
		return error_set_errno(err, ERR_IO, ENAMETOOLONG, "create %s", rel);
	if (fs_open_beneath(root, ".", O_PATH | O_DIRECTORY, &parent, err) < 0)
		return -1;
	while (i < len) {
		size_t start, n;
		char comp[NAME_MAX + 1];
		int fd = -1;

		while (rel[i] == '/')
			i++;
		if (i >= len)
			break;
		start = i;
		n = strcspn(rel + i, "/");
		i += n;
		if (n > NAME_MAX) {
			close(parent);
			return error_set_errno(err, ERR_IO, ENAMETOOLONG, "create %s", rel);
		}
		memcpy(comp, rel + start, n);
		comp[n] = '\0';
		memcpy(prefix, rel, i);
		prefix[i] = '\0';
		if (fs_open_beneath(root, prefix, O_PATH | O_DIRECTORY, &fd, err) < 0) {
			if (err->cls != ERR_IO || err->code != ENOENT) {
				close(parent);
				return -1;
			}
			error_clear(err);
			/* missing: create it in the directory resolved so far */
			if (mkdirat(parent, comp, mode) < 0 && errno != EEXIST) {
				int e = errno;

				close(parent);
				return error_set_errno(err, ERR_IO, e, "create %s", prefix);
			}
			if (fs_open_beneath(root, prefix, O_PATH | O_DIRECTORY, &fd, err) < 0) {
				close(parent);
				return -1;
			}
		}
		close(parent);
		parent = fd;
	}
	close(parent);
	return 0;
}
