/* SPDX-License-Identifier: MIT */
#ifndef COMMON_FS_H
#define COMMON_FS_H

#include <stddef.h>
#include <sys/types.h>

#include "common/buf.h"
#include "common/error.h"

/* mkdir -p with the given mode for every directory it creates. */
int fs_mkdir_p(const char *path, mode_t mode, struct error *err);
/* Write temp file in the same directory, fsync, rename, fsync the directory. */
int fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode, struct error *err);
/* The same in the directory dirfd (a descriptor the caller opened without
 * following links): a temp name beside `name`, renamed over it; a link
 * already at `name` is replaced, never followed. */
int fs_write_atomic_at(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
		       struct error *err);
/* Create each directory of rel below base (base itself is trusted) with
 * mode, never following a link: a component that is a link or not a
 * directory is an error.  *fd_out (when not NULL): the last directory,
 * opened O_DIRECTORY | O_NOFOLLOW. */
int fs_mkdir_nofollow(const char *base, const char *rel, mode_t mode, int *fd_out,
		      struct error *err);
/* Read a whole file (at most `limit` bytes, 0 = BUF_DEFAULT_LIMIT) into out. */
int fs_read_file(const char *path, struct buf *out, size_t limit, struct error *err);
/* Append one line (data + '\n') with O_APPEND and fsync; creates with mode. */
int fs_append_line(const char *path, const char *line, mode_t mode, struct error *err);
/* rm -rf; missing path is success. */
int fs_remove_tree(const char *path, struct error *err);
/* True when `path` equals `dir` or lies below it, comparing canonical paths.
 * Both must exist. */
int fs_path_within(const char *dir, const char *path);

/*
 * Paths beneath a root (a repository checkout).  `rel` is a path relative to
 * `root`, as a stack file names it.  Every component is resolved inside the
 * root: a symbolic link is followed only while it stays there (a link to
 * another file of the repository is fine), never by its text alone.  An
 * absolute link, a `..` that climbs above the root, or a /proc magic link is
 * refused with ERR_POLICY: "<rel> is a link that leads out of the repository
 * ..." naming the first component that leaves.  Done with
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS); on a kernel without it,
 * by a walk that opens one component at a time with O_NOFOLLOW and reads
 * each link itself.  Other failures are ERR_IO with err->code the errno
 * (ENOENT when nothing is there).  The root itself is trusted: links in its
 * own path are followed.
 */
#define FS_LINK_OUT_MSG "is a link that leads out of the repository; links may only point inside it"

/* Open rel beneath root.  flags: O_RDONLY, O_PATH, O_DIRECTORY (O_CLOEXEC
 * is added; nothing that creates or writes). */
int fs_open_beneath(const char *root, const char *rel, int flags, int *fd_out, struct error *err);
/* Read the regular file rel beneath root (at most limit bytes, 0 =
 * BUF_DEFAULT_LIMIT).  A larger file: ERR_IO with code EFBIG; not a regular
 * file: ERR_IO with code EINVAL. */
int fs_read_beneath(const char *root, const char *rel, struct buf *out, size_t limit,
		    struct error *err);
/* 1: rel names something beneath root; 0: nothing is there; -1: it is a link
 * that leads out of the root (or cannot be looked at). */
int fs_exists_beneath(const char *root, const char *rel);
/* The real absolute path of rel beneath root, with no link left in it (read
 * back from the opened file), for handing to someone who would follow links
 * (the engine's bind mounts). */
int fs_resolve_beneath(const char *root, const char *rel, char *out, size_t size,
		       struct error *err);
/* mkdir -p of rel beneath root with mode for what it creates; a component
 * that is a link is resolved as above. */
int fs_mkdir_beneath(const char *root, const char *rel, mode_t mode, struct error *err);
/* rel when path lies textually at or below root (both absolute and
 * normalized: no "." or ".." components, no double slash), "." for root
 * itself; NULL otherwise. */
const char *fs_rel_below(const char *root, const char *path);
/* Tests: resolve with the component walk even where openat2 exists. */
void fs_beneath_force_walk(int on);

#endif
