/* SPDX-License-Identifier: MIT */
#ifndef GITLAB_GIT_H
#define GITLAB_GIT_H

#include <stddef.h>

#include "common/error.h"

#define GIT_SHA_HEX 40

struct git_source {
	const char *url;	     /* may carry credentials; never printed */
	const char *sha;	     /* full commit to check out */
	const char *const *refspecs; /* NULL-terminated, or NULL for heads and tags */
	const char *dir;	     /* checkout directory (created) */
	/* The repository's git directory, kept outside the checkout (NULL:
	 * dir/.git).  Opened by this path only, never found through dir, so
	 * nothing written into the checkout (a .git/config with core.worktree,
	 * a .git that is a link) decides where a checkout writes; dir/.git is
	 * rewritten as a gitlink to it for readers such as git_read_head(). */
	const char *git_dir;
	const char *ca_file; /* CI_SERVER_TLS_CA_FILE or NULL */
};

/* Fetch into dir (init or reuse) and check out sha, detached, forcibly.
 * dir must be a real directory: a symbolic link is refused. */
int git_fetch_checkout(const struct git_source *src, struct error *err);
/* HEAD commit of the repository containing dir. */
int git_read_head(const char *dir, char sha_out[GIT_SHA_HEX + 1], struct error *err);
/* Copy url with any "user:password@" replaced by "[MASKED]@". */
void git_url_redact(char *out, size_t size, const char *url);

#endif
