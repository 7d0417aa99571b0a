/* SPDX-License-Identifier: MIT */
/*
 * HTTP(S) health probes of deployed routes, verified against the env's CA.
 * Not Engine API calls: these go to the router's published entries.
 */
#include "stages/probe.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static size_t on_body(char *data, size_t size, size_t n, void *payload)
{
	struct probe_result *r = payload;
	size_t len = size * n;

	if (r->body.len < 4096)
		buf_append(&r->body, data, len < 4096 - r->body.len ? len : 4096 - r->body.len);
	return len;
}

static size_t on_header(char *data, size_t size, size_t n, void *payload)
{
	struct probe_result *r = payload;
	size_t len = size * n;
	static const char name[] = "X-Executor-Color:";

	if (len > sizeof(name) && !strncasecmp(data, name, sizeof(name) - 1)) {
		const char *v = data + sizeof(name) - 1;
		size_t vl = len - (sizeof(name) - 1), i = 0;

		while (vl && (*v == ' ' || *v == '\t'))
			v++, vl--;
		while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
			vl--;
		for (; i < vl && i + 1 < sizeof(r->color); i++)
			r->color[i] = v[i];
		r->color[i] = '\0';
	}
	return len;
}

/*
 * Every probe opens a new connection (Connection: close, no reuse): an answer
 * on a new connection is what proves a reload took effect.  The TLS sessions
 * are shared between them (one share for the process, the probes of a color's
 * routes run in threads): a new connection resumes the session instead of a
 * full handshake, one round trip and the certificate's verification fewer.  A
 * router that does not resume (new ticket keys after a reload) gets a full
 * handshake, as before.
 */
static pthread_mutex_t share_mu[CURL_LOCK_DATA_LAST];
static pthread_once_t share_once = PTHREAD_ONCE_INIT;
static CURLSH *share;

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *u)
{
	(void)h;
	(void)access;
	(void)u;
	pthread_mutex_lock(&share_mu[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *u)
{
	(void)h;
	(void)u;
	pthread_mutex_unlock(&share_mu[data]);
}

static void share_init(void)
{
	size_t i;

	for (i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&share_mu[i], NULL);
	share = curl_share_init();
	if (share &&
	    (curl_share_setopt(share, CURLSHOPT_LOCKFUNC, share_lock) != CURLSHE_OK ||
	     curl_share_setopt(share, CURLSHOPT_UNLOCKFUNC, share_unlock) != CURLSHE_OK ||
	     curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK)) {
		curl_share_cleanup(share);
		share = NULL; /* full handshakes: slower, not wrong */
	}
}

void probe_result_release(struct probe_result *r)
{
	buf_release(&r->body);
}

int probe_get(const char *ca_file, int port, const char *path, long timeout_ms,
	      struct probe_result *r)
{
	CURL *h = curl_easy_init();
	struct curl_slist *resolve = NULL, *headers = NULL;
	char url[1024], entry[64];
	CURLcode rc;

	memset(r, 0, sizeof(*r));
	buf_init(&r->body, 8192);
	if (!h) {
		snprintf(r->error, sizeof(r->error), "out of memory");
		return -1;
	}
	/* the certificate names localhost; the entry listens on 127.0.0.1 */
	snprintf(entry, sizeof(entry), "localhost:%d:127.0.0.1", port);
	resolve = curl_slist_append(NULL, entry);
	headers = curl_slist_append(NULL, "Connection: close");
	snprintf(url, sizeof(url), "https://localhost:%d%s", port, path[0] == '/' ? path : "/");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_RESOLVE, resolve);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h, CURLOPT_CAINFO, ca_file);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
	pthread_once(&share_once, share_init);
	if (share)
		curl_easy_setopt(h, CURLOPT_SHARE, share);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	rc = curl_easy_perform(h);
	if (rc != CURLE_OK)
		snprintf(r->error, sizeof(r->error), "%.400s: %s", url, curl_easy_strerror(rc));
	else
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(resolve);
	curl_slist_free_all(headers);
	curl_easy_cleanup(h);
	return rc == CURLE_OK ? 0 : -1;
}
