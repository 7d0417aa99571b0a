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
/* Read a whole file (at most `limit` bytes, 0 = BUF_DEFAULT_LIMIT) into out. */
int fs_read_file(const char *path, struct buf *out, size_t limit, struct error *err);
/* Append one line (data + '\n') with O_APPEND and fsync; creates with mode. */
int fs_append_line(const char *path, const char *line, mode_t mode, struct error *err);
/* rm -rf; missing path is success. */
int fs_remove_tree(const char *path, struct error *err);
/* True when `path` equals `dir` or lies below it, comparing canonical paths.
 * Both must exist. */
int fs_path_within(const char *dir, const char *path);

#endif
