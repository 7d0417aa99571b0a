/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the engine address (docker/endpoint.c).  The first
 * byte picks the admin's docker_tls / docker_tls_verify and which TLS
 * variables are set; the rest is DOCKER_HOST.  docker_endpoint_parse() must
 * not crash, must fail with ERR_CONFIG (or ERR_SYSTEM) on one line, and what
 * it accepts must hold: a canonical address of its kind, a plain-character
 * ssh user, host and socket path (they reach ssh's argv and the remote
 * shell), ssh's argv built from it, and a canonical address that parses to
 * itself.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "docker/docker.h"
#include "docker/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int plain(const char *s)
{
	return s && *s != '-' &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-:/") ==
		       strlen(s);
}

static void settings(struct docker_settings *s, uint8_t mode, const char *host)
{
	memset(s, 0, sizeof(*s));
	s->tls = (mode & 3) == 3 ? -1 : (mode & 3) == 2;
	s->tls_verify = ((mode >> 2) & 3) == 3 ? -1 : ((mode >> 2) & 3) == 2;
	s->env_tls = mode & 16 ? "1" : NULL;
	s->env_tls_verify = mode & 32 ? "1" : NULL;
	s->env_cert_path = mode & 64 ? "/certs" : NULL;
	s->env_home = "/home/runner";
	if (mode & 128)
		s->host = host;
	else
		s->env_host = host;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct docker_settings s;
	struct docker_endpoint ep, again;
	struct error err = ERROR_INIT;
	char remote[512], port[16];
	const char *argv[24];
	char *host;
	uint8_t mode;

	if (!size)
		return 0;
	mode = data[0];
	host = strndup((const char *)data + 1, size - 1);
	if (!host)
		return 0;
	settings(&s, mode, host);
	if (docker_endpoint_parse(&ep, &s, &err) < 0) {
		if ((err.cls != ERR_CONFIG && err.cls != ERR_SYSTEM) || strchr(err.msg, '\n'))
			abort();
		free(host);
		return 0;
	}
	switch (ep.kind) {
	case DOCKER_TRANSPORT_UNIX:
		if (strncmp(ep.host, "unix:///", 8) || !ep.socket_path || ep.socket_path[0] != '/')
			abort();
		break;
	case DOCKER_TRANSPORT_TCP:
	case DOCKER_TRANSPORT_TLS:
		if (strncmp(ep.host, "tcp://", 6) || ep.port < 1 || ep.port > 65535 ||
		    !plain(ep.hostname))
			abort();
		if (ep.kind == DOCKER_TRANSPORT_TLS && (!ep.ca || !ep.cert || !ep.key))
			abort();
		break;
	case DOCKER_TRANSPORT_SSH:
		if (strncmp(ep.host, "ssh://", 6) || !plain(ep.hostname) ||
		    (ep.user && !plain(ep.user)) || (ep.socket_path && !plain(ep.socket_path)))
			abort();
		if (docker_ssh_argv(&ep, remote, sizeof(remote), port, sizeof(port), argv,
				    ARRAY_SIZE(argv)) < 0)
			abort();
		break;
	}
	/* the canonical address is a fixed point */
	settings(&s, mode, ep.host);
	if (docker_endpoint_parse(&again, &s, &err) < 0 || strcmp(again.host, ep.host) ||
	    again.kind != ep.kind)
		abort();
	docker_endpoint_release(&again);
	docker_endpoint_release(&ep);
	free(host);
	return 0;
}
