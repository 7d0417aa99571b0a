/* SPDX-License-Identifier: MIT */
/*
 * The job's sources for deployment jobs, fetched with libgit2 on the runner
 * host (no user code runs there: nothing is executed, only files read).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fs.h"
#include "common/log.h"
#include "gitlab/git.h"

/* Strip "user:password@" from a URL for messages. */
void git_url_redact(char *out, size_t size, const char *url)
{
	const char *scheme = strstr(url, "://");
	const char *at, *host;

	if (!scheme) {
		snprintf(out, size, "%s", url);
		return;
	}
	host = scheme + 3;
	at = strchr(host, '@');
	if (at && (!strchr(host, '/') || at < strchr(host, '/')))
		snprintf(out, size, "%.*s[MASKED]@%s", (int)(host - url), url, at + 1);
	else
		snprintf(out, size, "%s", url);
}

static int git_fail(struct error *err, const char *what, const char *url)
{
	const git_error *e = git_error_last();
	char safe[1024];
	char msg[1024];

	git_url_redact(safe, sizeof(safe), url ? url : "");
	snprintf(msg, sizeof(msg), "%s", e && e->message ? e->message : "unknown error");
	/* libgit2 may echo the URL with its token back */
	if (url && *url) {
		char *hit = strstr(msg, url);
		if (hit)
			snprintf(hit, sizeof(msg) - (size_t)(hit - msg), "%s", safe);
	}
	return error_set(err, ERR_GIT, "%s %s: %s", what, safe, msg);
}

static int read_head(const char *dir, char sha_out[GIT_SHA_HEX + 1], struct error *err)
{
	git_repository *repo = NULL;
	git_oid oid;
	int rc = -1;

	if (git_repository_open_ext(&repo, dir, 0, NULL) < 0) {
		git_fail(err, "open repository", dir);
		goto out;
	}
	if (git_reference_name_to_id(&oid, repo, "HEAD") < 0) {
		git_fail(err, "read HEAD of", dir);
		goto out;
	}
	git_oid_tostr(sha_out, GIT_SHA_HEX + 1, &oid);
	rc = 0;
out:
	git_repository_free(repo);
	return rc;
}

static int checkout_sha(git_repository *repo, const char *sha, const char *url, struct error *err)
{
	git_oid oid;
	git_object *obj = NULL;
	git_checkout_options opts = GIT_CHECKOUT_OPTIONS_INIT;
	int rc;

	if (git_oid_fromstr(&oid, sha) < 0)
		return error_set(err, ERR_GIT, "commit \"%s\" is not a full hex SHA", sha);
	if (git_object_lookup(&obj, repo, &oid, GIT_OBJECT_COMMIT) < 0)
		return error_set(err, ERR_GIT,
				 "commit %s is not in the fetched refs; was it force-pushed away?",
				 sha);
	opts.checkout_strategy = GIT_CHECKOUT_FORCE | GIT_CHECKOUT_REMOVE_UNTRACKED;
	rc = git_checkout_tree(repo, obj, &opts);
	if (rc == 0)
		rc = git_repository_set_head_detached(repo, &oid);
	git_object_free(obj);
	if (rc < 0)
		return git_fail(err, "check out", url);
	return 0;
}

/*
 * libgit2 (1.5) writes a tracked file through a directory of the work tree
 * that has become a link (durable -> /etc: durable/docker-compose.yml lands
 * in /etc).  So before a checkout every link in the work tree is removed
 * (links the commit tracks are written again by the forced checkout), and
 * the checkout meets only real directories.  Depth-first with O_NOFOLLOW.
 */
static int remove_links_at(int fd, const char *path, int depth, struct error *err)
{
	DIR *d;
	struct dirent *de;
	int rc = 0;

	if (depth > 256)
		return error_set(err, ERR_GIT, "%s: directories nested too deeply", path);
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return error_set_errno(err, ERR_IO, errno, "read %s", path);
	}
	while (rc == 0 && (de = readdir(d))) {
		struct stat st;
		int sub;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    (depth == 0 && !strcmp(de->d_name, ".git")))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISLNK(st.st_mode)) {
			if (unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT)
				rc = error_set_errno(err, ERR_IO, errno, "remove the link %s/%s",
						     path, de->d_name);
			continue;
		}
		if (!S_ISDIR(st.st_mode))
			continue;
		sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0)
			continue; /* replaced meanwhile: the checkout will see what it is */
		rc = remove_links_at(sub, path, depth + 1, err);
	}
	closedir(d);
	return rc;
}

static int remove_links(const char *dir, struct error *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return error_set_errno(err, ERR_IO, errno, "open %s", dir);
	return remove_links_at(fd, dir, 0, err);
}

/*
 * A repository whose git directory lies outside the checkout: opened by its
 * own path (never searched for from the checkout), its work tree set to the
 * checkout each time, and the checkout's .git (whatever is there now)
 * replaced by a gitlink to it.
 */
static int open_separate(git_repository **repo, const struct git_source *src, struct error *err)
{
	git_repository_init_options o = GIT_REPOSITORY_INIT_OPTIONS_INIT;
	char dotgit[4200], link[4200];
	const char *wd;
	size_t n = strlen(src->dir);
	struct stat st;
	int len;

	snprintf(dotgit, sizeof(dotgit), "%s/.git", src->dir);
	if (fs_remove_tree(dotgit, err) < 0)
		return error_wrap(err, "replace the checkout's .git");
	if (lstat(src->git_dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		o.flags = GIT_REPOSITORY_INIT_MKPATH | GIT_REPOSITORY_INIT_NO_DOTGIT_DIR;
		o.workdir_path = src->dir;
		if (git_repository_init_ext(repo, src->git_dir, &o) < 0)
			return git_fail(err, "initialise a repository for", src->url);
		return 0;
	}
	if (git_repository_open_ext(repo, src->git_dir, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0)
		return git_fail(err, "open the repository of", src->url);
	/* set the work tree only when it differs: libgit2 1.5 leaks its path
	 * buffer when asked to set the one it already has */
	wd = git_repository_workdir(*repo);
	if ((!wd || strncmp(wd, src->dir, n) || strcmp(wd + n, "/")) &&
	    git_repository_set_workdir(*repo, src->dir, 1) < 0)
		return git_fail(err, "set the checkout of", src->url);
	/* the gitlink removed above, written again (libgit2 writes it only when
	 * the work tree changes) */
	len = snprintf(link, sizeof(link), "gitdir: %s\n", src->git_dir);
	if (len < 0 || (size_t)len >= sizeof(link) ||
	    fs_write_atomic(dotgit, link, (size_t)len, 0644, err) < 0)
		return error_wrap(err, "write the checkout's gitlink");
	return 0;
}

static int fetch_checkout(const struct git_source *src, struct error *err)
{
	git_repository *repo = NULL;
	git_remote *remote = NULL;
	git_fetch_options fopts = GIT_FETCH_OPTIONS_INIT;
	git_strarray refspecs = {0};
	static char *default_refspecs[] = {"+refs/heads/*:refs/remotes/origin/*",
					   "+refs/tags/*:refs/tags/*"};
	char gitdir[4096];
	struct stat st;
	int rc = -1;

	if (src->ca_file && *src->ca_file)
		git_libgit2_opts(GIT_OPT_SET_SSL_CERT_LOCATIONS, src->ca_file, NULL);
	if (fs_mkdir_p(src->dir, 0755, err) < 0)
		return -1;
	/* never write through a link: the checkout is the caller's directory */
	if (lstat(src->dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return error_set(err, ERR_SYSTEM,
				 "the checkout directory %s is not a directory (a symbolic link?); "
				 "refusing to write through it",
				 src->dir);
	if (src->git_dir) {
		if (open_separate(&repo, src, err) < 0)
			goto out;
	} else {
		snprintf(gitdir, sizeof(gitdir), "%s/.git", src->dir);
		if (stat(gitdir, &st) == 0) {
			if (git_repository_open(&repo, src->dir) < 0) {
				git_fail(err, "open the checkout for", src->url);
				goto out;
			}
		} else if (git_repository_init(&repo, src->dir, 0) < 0) {
			git_fail(err, "initialise a checkout for", src->url);
			goto out;
		}
	}
	/* the URL carries the job token: keep it out of .git/config */
	if (git_remote_create_anonymous(&remote, repo, src->url) < 0) {
		git_fail(err, "use remote", src->url);
		goto out;
	}
	if (src->refspecs && src->refspecs[0]) {
		size_t n = 0;

		while (src->refspecs[n])
			n++;
		refspecs.strings = (char **)src->refspecs;
		refspecs.count = n;
	} else {
		refspecs.strings = default_refspecs;
		refspecs.count = 2;
	}
	fopts.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	if (git_remote_fetch(remote, &refspecs, &fopts, NULL) < 0) {
		git_fail(err, "fetch", src->url);
		goto out;
	}
	if (src->git_dir && remove_links(src->dir, err) < 0)
		goto out;
	if (checkout_sha(repo, src->sha, src->url, err) < 0)
		goto out;
	rc = 0;
out:
	git_remote_free(remote);
	git_repository_free(repo);
	return rc;
}

/* libgit2 is initialised only around its use: its init reads the system's
 * CA bundle, a cost every other command would pay for nothing. */
int git_read_head(const char *dir, char sha_out[GIT_SHA_HEX + 1], struct error *err)
{
	int rc;

	git_libgit2_init();
	rc = read_head(dir, sha_out, err);
	git_libgit2_shutdown();
	return rc;
}

int git_fetch_checkout(const struct git_source *src, struct error *err)
{
	int rc;

	git_libgit2_init();
	rc = fetch_checkout(src, err);
	git_libgit2_shutdown();
	return rc;
}
