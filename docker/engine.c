/* SPDX-License-Identifier: MIT */
/*
 * Connecting to the engine.  Every runner call is its own process, so a ping
 * per process was three per job: the negotiated API version is kept in the
 * state directory (<state>/engine-api, "<host> <version>"), and a process
 * that finds it there sends no ping.  A stale entry costs one refused
 * request: the client then negotiates again (docker_request()) and the entry
 * is rewritten.  The entry is keyed by the engine's canonical address
 * (unix://, tcp://HOST:PORT or ssh://USER@HOST[:PORT]), so switching engines
 * never reuses another engine's version.
 */
#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "common/fs.h"
#include "common/log.h"
#include "docker/engine.h"

static void cache_path(const struct config *cfg, char *out, size_t size)
{
	snprintf(out, size, "%s/engine-api", cfg->state_dir);
}

/* The cached version for this engine address, or "" (no entry, another host). */
static void cache_read(const struct config *cfg, const char *host, char *version, size_t size)
{
	struct error err = ERROR_INIT;
	struct buf text = BUF_INIT;
	char path[4200];
	const char *sp;
	size_t hlen = strlen(host);

	version[0] = '\0';
	cache_path(cfg, path, sizeof(path));
	if (fs_read_file(path, &text, 4096, &err) == 0 && text.len > hlen + 1 &&
	    !strncmp(text.data, host, hlen) && text.data[hlen] == ' ') {
		sp = text.data + hlen + 1;
		snprintf(version, size, "%.*s", (int)strcspn(sp, "\n"), sp);
	}
	buf_release(&text);
}

void engine_cache_update(const struct config *cfg, struct docker_client *c)
{
	struct error err = ERROR_INIT;
	char path[4200], line[4400], cached[32];
	const char *host = docker_client_host(c);
	int n;

	if (!docker_client_version_negotiated(c))
		return;
	cache_read(cfg, host, cached, sizeof(cached));
	if (!strcmp(cached, docker_api_version(c)))
		return;
	cache_path(cfg, path, sizeof(path));
	n = snprintf(line, sizeof(line), "%s %s\n", host, docker_api_version(c));
	if (n > 0 && (size_t)n < sizeof(line) &&
	    fs_write_atomic(path, line, (size_t)n, 0600, &err) < 0)
		log_debug("engine: cannot keep the API version in %s: %s", path, err.msg);
}

struct docker_client *engine_client(const struct config *cfg, struct error *err)
{
	struct docker_settings s;

	/* the admin's keys, each over its DOCKER_* variable */
	docker_settings_from_env(&s);
	s.host = cfg->docker_host;
	s.tls = cfg->docker_tls;
	s.tls_verify = cfg->docker_tls_verify;
	s.cert_path = cfg->docker_cert_path;
	return docker_client_open(&s, err);
}

struct docker_client *engine_connect(const struct config *cfg, struct error *err)
{
	struct docker_client *c = engine_client(cfg, err);
	char version[32];

	if (!c)
		return NULL;
	cache_read(cfg, docker_client_host(c), version, sizeof(version));
	if (docker_client_set_api_version(c, version) == 0)
		return c;
	if (docker_ping(c, err) < 0) {
		docker_client_free(c);
		return NULL;
	}
	engine_cache_update(cfg, c);
	return c;
}
