/* SPDX-License-Identifier: MIT */
/*
 * DOCKER_HOST and the TLS variables as the docker CLI reads them, with the
 * admin's keys over them (docker/endpoint.c, pure), ssh's argv, and the
 * client certificate checked before any connection.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "docker/docker.h"
#include "docker/internal.h"

/* A client certificate valid from 2020-01-01 to 2020-01-02 (UTC). */
static const char expired_pem[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBbzCCARWgAwIBAgICEAAwCgYIKoZIzj0EAwIwEjEQMA4GA1UEAwwHdW5pdC1j\n"
	"YTAeFw0yMDAxMDEwMDAwMDBaFw0yMDAxMDIwMDAwMDBaMBYxFDASBgNVBAMMC3Vu\n"
	"aXQtY2xpZW50MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEVWTWgyH1D3bNMRNH\n"
	"eqpQaIiOCnlOjJEUASUfSZDX7iB/qdqPx9GhSsYxGoYw6Grn8UOU0uev2pdAEnMp\n"
	"QpVcqqNXMFUwEwYDVR0lBAwwCgYIKwYBBQUHAwIwHQYDVR0OBBYEFLqparjbgY72\n"
	"1yCzIp0bY9+T15l0MB8GA1UdIwQYMBaAFBMUUnlPilwEquFiaR6MLzwBLqjMMAoG\n"
	"CCqGSM49BAMCA0gAMEUCIHsL2DzcvOi3HjKzGOC9N0SDbaPCp0XjmBY5T65KiDYw\n"
	"AiEA3LV2SKX1mK2ppef19NP84ob5NCcRkEQR+BrMrCNKxaw=\n"
	"-----END CERTIFICATE-----\n";

static void settings(struct docker_settings *s, const char *env_host)
{
	memset(s, 0, sizeof(*s));
	s->tls = -1;
	s->tls_verify = -1;
	s->env_host = env_host;
	s->env_home = "/home/runner";
}

static int parse(struct docker_endpoint *ep, const struct docker_settings *s, struct error *err)
{
	error_clear(err);
	return docker_endpoint_parse(ep, s, err);
}

/* The address is refused with one line containing `says`. */
static void refused(const struct docker_settings *s, const char *says)
{
	struct docker_endpoint ep;
	struct error err = ERROR_INIT;

	if (parse(&ep, s, &err) == 0)
		fail_msg("accepted %s", s->host ? s->host : s->env_host);
	assert_int_equal(err.cls, ERR_CONFIG);
	if (!strstr(err.msg, says))
		fail_msg("\"%s\" does not say \"%s\"", err.msg, says);
	assert_null(strchr(err.msg, '\n'));
}

static void test_docker_endpoint__unix_default_and_paths(void **state)
{
	struct docker_settings s;
	struct docker_endpoint ep;
	struct error err = ERROR_INIT;

	settings(&s, NULL);
	assert_int_equal(parse(&ep, &s, &err), 0);
	assert_int_equal(ep.kind, DOCKER_TRANSPORT_UNIX);
	assert_string_equal(ep.host, "unix:///var/run/docker.sock");
	assert_string_equal(ep.origin, "DOCKER_HOST");
	docker_endpoint_release(&ep);

	settings(&s, "unix://");
	assert_int_equal(parse(&ep, &s, &err), 0);
	assert_string_equal(ep.socket_path, "/var/run/docker.sock");
	docker_endpoint_release(&ep);

	/* as the CLI: a path without a scheme is a socket; blanks around are trimmed */
	settings(&s, "  /run/user/1000/docker.sock ");
	assert_int_equal(parse(&ep, &s, &err), 0);
	assert_string_equal(ep.host, "unix:///run/user/1000/docker.sock");
	docker_endpoint_release(&ep);

	settings(&s, "unix://relative.sock");
	refused(&s, "must be absolute");
	settings(&s, "./docker.sock");
	refused(&s, "must be absolute");
	settings(&s, "npipe:////./pipe/docker_engine");
	refused(&s, "unsupported address");
	settings(&s, "unix:///tmp/a b");
	refused(&s, "blank");
	/* a control character is shown as '?': the message stays one line */
	settings(&s, "unix:///tmp/a\nb");
	refused(&s, "DOCKER_HOST=unix:///tmp/a?b: a blank, control or non-ASCII character");
}

static void test_docker_endpoint__plain_tcp_only_when_the_admin_says_so(void **state)
{
	struct docker_settings s;
	struct docker_endpoint ep;
	struct error err = ERROR_INIT;

	settings(&s, "tcp://engine.example.com:2375");
	refused(&s, "set docker_tls = false in the admin's file");
	/* DOCKER_TLS alone (no verification) is refused too */
	s.env_tls = "1";
	refused(&s, "docker_tls_verify = false in the admin's file");

	settings(&s, "tcp://engine.example.com:2375");
	s.tls = 0;
	assert_int_equal(parse(&ep, &s, &err), 0);
	assert_int_equal(ep.kind, DOCKER_TRANSPORT_TCP);
	assert_string_equal(ep.host, "tcp://engine.example.com:2375");
	assert_null(ep.ca);
	docker_endpoint_release(&ep);

	/* docker_tls = false and verification asked for: a contradiction */
	s.env_tls_verify = "1";
	refused(&s, "remove one of them");
}

static void test_docker_endpoint__tls_as_the_cli_reads_it(void **state)
{
	struct docker_settings s;
	struct docker_endpoint ep;
	struct error err = ERROR_INIT;

	/* DOCKER_TLS_VERIFY non-empty (even "0") verifies; certificates in ~/.docker */
	settings(&s, "tcp://engine.example.com:2376");
	s.env_tls_verify = "0";
	assert_int_equal(parse(&ep, &s, &err), 0);
	assert_int_equal(ep.kind, DOCKER_TRANSPORT_TLS);
	assert_true(ep.verify);
	assert_string_equal(ep.cert_dir, "/home/runner/.docker");
	assert_string_equal(ep.ca, "/home/runner/.docker/ca.pem");
	assert_string_equal(ep.cert, "/home/runner/.docker/cert.pem");
	assert_string_equal(ep.key, "/home/runner/.docker/key.pem");
	assert_string_equal(ep.hostname, "engine.example.com");
	assert_int_equal(ep.port, 2376);
	docker_endpoint_release(&ep);

	/* DOCKER_CERT_PATH, then the admin's docker_cert_path over it */
	s.env_cert_path = "/etc/docker-client";
	assert_int_equal(parse(&ep, &s, &err), 0);
	assert_string_equal(ep.ca, "/etc/docker-client/ca.pem");
	docker_endpoint_release(&ep);
	s.cert_path = "/etc/executor/engine";
	assert_int_equal(parse(&ep, &s, &err), 0);
	assert_string_equal(ep.cert, "/etc/executor/engine/cert.pem");
	docker_endpoint_release(&ep);

	/* the admin's docker_tls_verify = false: TLS, not verified (named, so allowed) */
	settings(&s, "tcp://10.0.0.5:2376");
	s.tls_verify = 0;
	assert_int_equal(parse(&ep, &s, &err), 0);
	assert_int_equal(ep.kind, DOCKER_TRANSPORT_TLS);
	assert_false(ep.verify);
	docker_endpoint_release(&ep);

	/* ... and = true verifies whatever the environment says */
	settings(&s, "tcp://10.0.0.5:2376");
	s.tls_verify = 1;
	assert_int_equal(parse(&ep, &s, &err), 0);
	assert_true(ep.verify);
	docker_endpoint_release(&ep);

	/* no DOCKER_CERT_PATH and no HOME */
	settings(&s, "tcp://10.0.0.5:2376");
	s.env_tls_verify = "1";
	s.env_home = NULL;
	refused(&s, "docker_cert_path");
	s.env_cert_path = "certs";
	refused(&s, "must be an absolute path");
}

static void test_docker_endpoint__tcp_addresses(void **state)
{
	static const struct {
		const char *in, *host;
	} ok[] = {
		{"tcp://engine:2376", "tcp://engine:2376"},
		{"tcp://engine", "tcp://engine:2375"}, /* the CLI's default port */
		{"tcp://:2376", "tcp://localhost:2376"},
		{"tcp://", "tcp://localhost:2375"},
		{"engine.example.com:2376", "tcp://engine.example.com:2376"}, /* no scheme: TCP */
		{"tcp://[::1]:2376", "tcp://[::1]:2376"},
		{"tcp://[fe80::1]", "tcp://[fe80::1]:2375"},
		{"tcp://127.0.0.1:2376/", "tcp://127.0.0.1:2376"},
	};
	static const struct {
		const char *in, *says;
	} bad[] = {
		{"tcp://engine:notaport", "malformed port"},
		{"tcp://engine:0", "malformed port"},
		{"tcp://engine:65536", "malformed port"},
		{"tcp://engine:2376/prefix", "a path after the address"},
		{"tcp://user@engine:2376", "malformed address"},
		{"tcp://engine:2376?x=1", "malformed address"},
		{"tcp://[::1:2376", "unclosed '['"},
		{"tcp://[::1]x:2376", "after ]"},
		{"tcp://-engine:2376", "malformed host name"},
		{"tcp://en_gine:2376", "malformed host name"},
		{"tcp://tcp://engine", "malformed address"},
	};
	struct docker_settings s;
	struct docker_endpoint ep;
	struct error err = ERROR_INIT;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(ok); i++) {
		settings(&s, ok[i].in);
		s.env_tls_verify = "1";
		if (parse(&ep, &s, &err) < 0)
			fail_msg("%s: %s", ok[i].in, err.msg);
		assert_string_equal(ep.host, ok[i].host);
		docker_endpoint_release(&ep);
	}
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		settings(&s, bad[i].in);
		s.env_tls_verify = "1";
		refused(&s, bad[i].says);
	}
}

static void test_docker_endpoint__admins_host_wins_and_is_named(void **state)
{
	struct docker_settings s;
	struct docker_endpoint ep;
	struct error err = ERROR_INIT;

	settings(&s, "unix:///var/run/docker.sock");
	s.host = "ssh://deploy@engine.example.com";
	assert_int_equal(parse(&ep, &s, &err), 0);
	assert_int_equal(ep.kind, DOCKER_TRANSPORT_SSH);
	assert_string_equal(ep.origin, "docker_host");
	docker_endpoint_release(&ep);

	s.host = "tcp://engine:2376";
	refused(&s, "docker_host = tcp://engine:2376: a plain TCP engine");
	settings(&s, "tcp://engine:2376");
	refused(&s, "DOCKER_HOST=tcp://engine:2376: a plain TCP engine");
}

static void test_docker_endpoint__ssh_addresses(void **state)
{
	static const char *const bad[][2] = {
		{"ssh://me:secret@engine", "a password in the address is not supported"},
		{"ssh://-oProxyCommand=x@engine", "malformed user name"},
		{"ssh://me@-oProxyCommand=x", "malformed host name"},
		{"ssh://me@engine?x=1", "query parameters are not allowed"},
		{"ssh://me@engine#frag", "fragments are not allowed"},
		{"ssh://me@", "no host name"},
		{"ssh://me@engine:22x", "malformed port"},
		{"ssh://me@engine/run/$(reboot).sock", "malformed socket path"},
		{"ssh://me@engine/run/../x.sock", "malformed socket path"},
		{"ssh://m;e@engine", "malformed user name"},
	};
	struct docker_settings s;
	struct docker_endpoint ep;
	struct error err = ERROR_INIT;
	size_t i;

	settings(&s, "ssh://deploy@engine.example.com");
	s.env_tls_verify = "1"; /* TLS variables do not apply to ssh:// */
	assert_int_equal(parse(&ep, &s, &err), 0);
	assert_int_equal(ep.kind, DOCKER_TRANSPORT_SSH);
	assert_string_equal(ep.user, "deploy");
	assert_string_equal(ep.hostname, "engine.example.com");
	assert_int_equal(ep.port, 0);
	assert_null(ep.socket_path);
	assert_null(ep.ca);
	assert_string_equal(ep.host, "ssh://deploy@engine.example.com");
	docker_endpoint_release(&ep);

	settings(&s, "ssh://engine:2222/run/docker.sock");
	assert_int_equal(parse(&ep, &s, &err), 0);
	assert_null(ep.user);
	assert_int_equal(ep.port, 2222);
	assert_string_equal(ep.socket_path, "/run/docker.sock");
	assert_string_equal(ep.host, "ssh://engine:2222/run/docker.sock");
	docker_endpoint_release(&ep);

	settings(&s, "ssh://root@[::1]:22");
	assert_int_equal(parse(&ep, &s, &err), 0);
	assert_string_equal(ep.hostname, "::1");
	assert_string_equal(ep.host, "ssh://root@[::1]:22");
	docker_endpoint_release(&ep);

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		settings(&s, bad[i][0]);
		refused(&s, bad[i][1]);
	}
}

static void assert_argv(const char *const *got, const char *const *want)
{
	size_t i;

	for (i = 0; want[i]; i++) {
		assert_non_null(got[i]);
		assert_string_equal(got[i], want[i]);
	}
	assert_null(got[i]);
}

static void test_docker_ssh__argv_is_the_clis(void **state)
{
	struct docker_settings s;
	struct docker_endpoint ep;
	struct error err = ERROR_INIT;
	char remote[256], port[16];
	const char *argv[24];
	static const char *const want[] = {"ssh",
					   "-l",
					   "deploy",
					   "-p",
					   "2222",
					   "-o",
					   "ConnectTimeout=30",
					   "-T",
					   "-o",
					   "BatchMode=yes",
					   "--",
					   "engine.example.com",
					   "docker system dial-stdio",
					   NULL};
	static const char *const want_path[] = {
		"ssh", "-o",	 "ConnectTimeout=30",
		"-T",  "-o",	 "BatchMode=yes",
		"--",  "engine", "docker --host=unix:///run/docker.sock system dial-stdio",
		NULL};

	settings(&s, "ssh://deploy@engine.example.com:2222");
	assert_int_equal(parse(&ep, &s, &err), 0);
	assert_int_equal(docker_ssh_argv(&ep, remote, sizeof(remote), port, sizeof(port), argv,
					 ARRAY_SIZE(argv)),
			 13);
	assert_argv(argv, want);
	docker_endpoint_release(&ep);

	settings(&s, "ssh://engine/run/docker.sock");
	assert_int_equal(parse(&ep, &s, &err), 0);
	assert_int_equal(docker_ssh_argv(&ep, remote, sizeof(remote), port, sizeof(port), argv,
					 ARRAY_SIZE(argv)),
			 9);
	assert_argv(argv, want_path);
	/* a buffer too small is refused, not cut */
	assert_int_equal(
		docker_ssh_argv(&ep, remote, 10, port, sizeof(port), argv, ARRAY_SIZE(argv)), -1);
	docker_endpoint_release(&ep);
}

static void test_docker_endpoint__copy_is_deep(void **state)
{
	struct docker_settings s;
	struct docker_endpoint ep, copy;
	struct error err = ERROR_INIT;

	settings(&s, "tcp://engine:2376");
	s.env_tls_verify = "1";
	assert_int_equal(parse(&ep, &s, &err), 0);
	assert_int_equal(docker_endpoint_copy(&copy, &ep), 0);
	docker_endpoint_release(&ep);
	assert_string_equal(copy.host, "tcp://engine:2376");
	assert_string_equal(copy.key, "/home/runner/.docker/key.pem");
	assert_int_equal(copy.kind, DOCKER_TRANSPORT_TLS);
	assert_true(copy.verify);
	docker_endpoint_release(&copy);
}

static void put(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void drop(const char *dir, const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
}

static void test_docker_client__tls_files_checked_before_connecting(void **state)
{
	char dir[] = "/tmp/executor-unit-certs-XXXXXX";
	struct docker_settings s;
	struct docker_cert_info ci;
	struct docker_client *c;
	struct error err = ERROR_INIT;
	char path[600];

	assert_non_null(mkdtemp(dir));
	settings(&s, "tcp://127.0.0.1:1");
	s.tls_verify = 1;
	s.cert_path = dir;

	/* no ca.pem */
	assert_null(docker_client_open(&s, &err));
	assert_non_null(strstr(err.msg, "its CA certificate"));
	assert_non_null(strstr(err.msg, "/ca.pem: No such file or directory"));
	assert_non_null(strstr(err.msg, "tcp://127.0.0.1:1"));

	/* the certificate's dates */
	put(dir, "ca.pem", expired_pem);
	snprintf(path, sizeof(path), "%s/ca.pem", dir);
	assert_int_equal(docker_cert_info(path, &ci, &err), 0);
	assert_int_equal(ci.not_before, 1577836800LL);
	assert_int_equal(ci.not_after, 1577923200LL);
	assert_string_equal(ci.subject, "/CN=unit-client");
	assert_string_equal(ci.issuer, "/CN=unit-ca");

	/* half a client certificate */
	put(dir, "cert.pem", expired_pem);
	error_clear(&err);
	assert_null(docker_client_open(&s, &err));
	assert_int_equal(err.cls, ERR_CONFIG);
	assert_non_null(strstr(err.msg, "cert.pem exists but"));
	assert_non_null(strstr(err.msg, "key.pem does not"));

	/* an expired one */
	put(dir, "key.pem", "not read before the handshake\n");
	error_clear(&err);
	assert_null(docker_client_open(&s, &err));
	assert_int_equal(err.cls, ERR_CONFIG);
	assert_non_null(strstr(err.msg, "cert.pem expired on 2020-01-02 00:00 UTC"));
	assert_non_null(strstr(err.msg, "issue a new one from the engine's CA"));

	/* not a certificate */
	put(dir, "cert.pem", "garbage\n");
	error_clear(&err);
	assert_null(docker_client_open(&s, &err));
	assert_non_null(strstr(err.msg, "not a PEM certificate"));

	/* neither file: no client certificate is offered (the CLI's rule) */
	drop(dir, "cert.pem");
	drop(dir, "key.pem");
	error_clear(&err);
	c = docker_client_open(&s, &err);
	assert_non_null(c);
	assert_null(docker_client_endpoint(c)->cert);
	assert_string_equal(docker_client_host(c), "tcp://127.0.0.1:1");
	docker_client_free(c);

	drop(dir, "ca.pem");
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_docker_endpoint__unix_default_and_paths),
		cmocka_unit_test(test_docker_endpoint__plain_tcp_only_when_the_admin_says_so),
		cmocka_unit_test(test_docker_endpoint__tls_as_the_cli_reads_it),
		cmocka_unit_test(test_docker_endpoint__tcp_addresses),
		cmocka_unit_test(test_docker_endpoint__admins_host_wins_and_is_named),
		cmocka_unit_test(test_docker_endpoint__ssh_addresses),
		cmocka_unit_test(test_docker_ssh__argv_is_the_clis),
		cmocka_unit_test(test_docker_endpoint__copy_is_deep),
		cmocka_unit_test(test_docker_client__tls_files_checked_before_connecting),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
