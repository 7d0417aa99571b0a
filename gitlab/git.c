/* SPDX-License-Identifier: MIT */
/*
 * The job's sources for deployment jobs, fetched with libgit2 on the runner
 * host (no user code runs there: nothing is executed, only files read).
 */
#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
