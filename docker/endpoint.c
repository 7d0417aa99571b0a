/* SPDX-License-Identifier: MIT */
/*
 * Which engine, and how to reach it.  DOCKER_HOST, DOCKER_TLS,
 * DOCKER_TLS_VERIFY and DOCKER_CERT_PATH are read as the docker CLI reads
 * them (cli/flags/options.go, opts/hosts.go, cli/connhelper/ssh):
 *
 *   - an address without "://" is a unix socket when it starts with '/',
 *     else a TCP address; "unix://" alone is /var/run/docker.sock;
 *   - tcp://HOST[:PORT]: port 2375 when none is given (the CLI's default,
 *     with or without TLS); HOST "" is localhost;
 *   - DOCKER_TLS_VERIFY non-empty (any value, "0" too) means TLS with the
 *     engine's certificate verified against ca.pem; DOCKER_TLS non-empty means
 *     TLS; naming the verify setting at all (here: the admin's
 *     docker_tls_verify = false) means TLS without verification;
 *   - the certificates are ca.pem, cert.pem and key.pem in DOCKER_CERT_PATH,
 *     default $HOME/.docker; a client certificate whose two files are both
 *     missing is not offered;
 *   - ssh://[USER@]HOST[:PORT][/SOCKET]: no password, query or fragment.
 *
 * Where we are stricter than the CLI, because the engine is root on its host:
 * plain TCP and TLS without verification are refused unless the admin's file
 * allows them by name (docker_tls = false, docker_tls_verify = false); the
 * environment alone cannot weaken the connection.  The parts of an ssh://
 * address are restricted to plain characters (they end up in ssh's argv and
 * in the remote shell's command line), and a tcp:// address takes no path.
 *
 * Pure: nothing here reads a file but docker_cert_info().
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <openssl/asn1.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "docker/docker.h"
#include "docker/internal.h"

#define DEFAULT_SOCKET	 "/var/run/docker.sock"
#define DEFAULT_TCP_PORT 2375
#define HOST_MAX	 253

static const char *nonempty(const char *s)
{
	return s && *s ? s : NULL;
}

void docker_settings_from_env(struct docker_settings *s)
{
	memset(s, 0, sizeof(*s));
	s->tls = -1;
	s->tls_verify = -1;
	s->env_host = getenv("DOCKER_HOST");
	s->env_tls = getenv("DOCKER_TLS");
	s->env_tls_verify = getenv("DOCKER_TLS_VERIFY");
	s->env_cert_path = getenv("DOCKER_CERT_PATH");
	s->env_home = getenv("HOME");
}

const char *docker_transport_name(enum docker_transport t)
{
	switch (t) {
	case DOCKER_TRANSPORT_UNIX:
		return "local socket";
	case DOCKER_TRANSPORT_TCP:
		return "plain TCP";
	case DOCKER_TRANSPORT_TLS:
		return "TCP+TLS";
	case DOCKER_TRANSPORT_SSH:
		return "SSH";
	}
	return "?";
}

void docker_endpoint_release(struct docker_endpoint *ep)
{
	free(ep->host);
	free(ep->origin);
	free(ep->socket_path);
	free(ep->hostname);
	free(ep->user);
	free(ep->cert_dir);
	free(ep->ca);
	free(ep->cert);
	free(ep->key);
	memset(ep, 0, sizeof(*ep));
}

static int only(const char *s, size_t len, const char *set)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!strchr(set, s[i]) || !s[i])
			return 0;
	return 1;
}

#define ALNUM "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

/* A DNS name or IPv4 address: letters, digits, '.', '-', not starting with
 * '-' or '.'. */
static int hostname_ok(const char *s, size_t len)
{
	return len > 0 && len <= HOST_MAX && s[0] != '-' && s[0] != '.' && only(s, len, ALNUM ".-");
}

/* The inside of [...]: an IPv6 address (no zone). */
static int ipv6_ok(const char *s, size_t len)
{
	return len >= 2 && len <= 45 && only(s, len, "0123456789abcdefABCDEF:.") &&
	       memchr(s, ':', len);
}

/* "1".."65535", digits only. */
static int port_parse(const char *s, size_t len, int *port)
{
	long v = 0;
	size_t i;

	if (!len || len > 5)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (v < 1 || v > 65535)
		return -1;
	*port = (int)v;
	return 0;
}

/*
 * "HOST[:PORT]" or "[V6][:PORT]" (len bytes of s) into hostname and port;
 * *port is left alone when there is none.  what: "malformed host" etc. for
 * the message.
 */
static int split_host_port(const char *s, size_t len, char **hostname, int *port, const char **what)
{
	const char *h = s, *colon;
	size_t hlen;

	if (len && s[0] == '[') {
		const char *close = memchr(s, ']', len);

		if (!close) {
			*what = "unclosed '[' in the address";
			return -1;
		}
		h = s + 1;
		hlen = (size_t)(close - h);
		if (!ipv6_ok(h, hlen)) {
			*what = "malformed IPv6 address between [ and ]";
			return -1;
		}
		colon = close + 1;
		if (colon < s + len && *colon != ':') {
			*what = "unexpected text after ]";
			return -1;
		}
	} else {
		colon = memchr(s, ':', len);
		hlen = colon ? (size_t)(colon - s) : len;
		if (hlen && !hostname_ok(h, hlen)) {
			*what = "malformed host name (letters, digits, '.' and '-' only)";
			return -1;
		}
	}
	if (colon && colon < s + len) {
		if (port_parse(colon + 1, (size_t)(s + len - colon - 1), port) < 0) {
			*what = "malformed port (1 to 65535)";
			return -1;
		}
	}
	*hostname = strndup(h, hlen);
	if (!*hostname) {
		*what = "out of memory";
		return -1;
	}
	return 0;
}

static int fail(struct error *err, const struct docker_endpoint *ep, const char *addr,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* "DOCKER_HOST=ADDR: ..." or "docker_host = ADDR: ..." */
static int fail(struct error *err, const struct docker_endpoint *ep, const char *addr,
		const char *fmt, ...)
{
	char msg[ERROR_MSG_MAX], shown[301];
	va_list ap;
	size_t i;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* one line: the address as given, controls and non-ASCII shown as '?' */
	snprintf(shown, sizeof(shown), "%s", addr);
	for (i = 0; shown[i]; i++)
		if ((unsigned char)shown[i] < 0x20 || (unsigned char)shown[i] > 0x7e)
			shown[i] = '?';
	if (ep->origin && !strcmp(ep->origin, "docker_host"))
		return error_set(err, ERR_CONFIG, "docker_host = %s: %s", shown, msg);
	return error_set(err, ERR_CONFIG, "DOCKER_HOST=%s: %s", shown, msg);
}

static int parse_unix(struct docker_endpoint *ep, const char *addr, const char *path,
		      struct error *err)
{
	if (!*path)
		path = DEFAULT_SOCKET;
	if (strstr(path, "://"))
		return fail(err, ep, addr, "malformed address, expected unix:///path/to/socket");
	if (path[0] != '/')
		return fail(err, ep, addr,
			    "the socket path must be absolute (unix:///run/docker.sock)");
	if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return fail(err, ep, addr, "socket path too long");
	ep->kind = DOCKER_TRANSPORT_UNIX;
	ep->socket_path = strdup(path);
	if (!ep->socket_path || asprintf(&ep->host, "unix://%s", path) < 0) {
		ep->host = NULL;
		return error_set(err, ERR_SYSTEM, "out of memory");
	}
	return 0;
}

static int parse_tcp(struct docker_endpoint *ep, const char *addr, const char *rest,
		     struct error *err)
{
	const char *slash = strchr(rest, '/');
	size_t len = slash ? (size_t)(slash - rest) : strlen(rest);
	const char *what = NULL;
	int v6;

	if (strstr(rest, "://"))
		return fail(err, ep, addr, "malformed address, expected tcp://HOST:PORT");
	if (slash && slash[1])
		return fail(err, ep, addr,
			    "a path after the address is not supported; use tcp://HOST:PORT");
	if (strpbrk(rest, "@?#"))
		return fail(err, ep, addr, "malformed address, expected tcp://HOST:PORT");
	ep->port = DEFAULT_TCP_PORT;
	if (split_host_port(rest, len, &ep->hostname, &ep->port, &what) < 0) {
		if (!strcmp(what, "out of memory"))
			return error_set(err, ERR_SYSTEM, "out of memory");
		return fail(err, ep, addr, "%s, expected tcp://HOST:PORT", what);
	}
	if (!*ep->hostname) {
		free(ep->hostname);
		ep->hostname = strdup("localhost");
		if (!ep->hostname)
			return error_set(err, ERR_SYSTEM, "out of memory");
	}
	v6 = strchr(ep->hostname, ':') != NULL;
	if (asprintf(&ep->host, "tcp://%s%s%s:%d", v6 ? "[" : "", ep->hostname, v6 ? "]" : "",
		     ep->port) < 0) {
		ep->host = NULL;
		return error_set(err, ERR_SYSTEM, "out of memory");
	}
	return 0;
}

static int parse_ssh(struct docker_endpoint *ep, const char *addr, const char *rest,
		     struct error *err)
{
	const char *at, *slash = strchr(rest, '/');
	const char *hp = rest, *what = NULL;
	size_t len = slash ? (size_t)(slash - rest) : strlen(rest);
	_cleanup_buf_ struct buf canon = BUF_INIT;
	int v6;

	if (strpbrk(rest, "?"))
		return fail(err, ep, addr, "query parameters are not allowed in an ssh:// address");
	if (strpbrk(rest, "#"))
		return fail(err, ep, addr, "fragments are not allowed in an ssh:// address");
	at = memchr(rest, '@', len);
	if (at) {
		size_t ulen = (size_t)(at - rest);

		if (memchr(rest, ':', ulen))
			return fail(
				err, ep, addr,
				"a password in the address is not supported; use a key (ssh-agent "
				"or ~/.ssh/config)");
		if (!ulen || rest[0] == '-' || !only(rest, ulen, ALNUM "._-"))
			return fail(err, ep, addr,
				    "malformed user name (letters, digits, '.', '_' and '-' only), "
				    "expected ssh://USER@HOST[:PORT]");
		ep->user = strndup(rest, ulen);
		if (!ep->user)
			return error_set(err, ERR_SYSTEM, "out of memory");
		hp = at + 1;
		len -= ulen + 1;
	}
	if (split_host_port(hp, len, &ep->hostname, &ep->port, &what) < 0) {
		if (!strcmp(what, "out of memory"))
			return error_set(err, ERR_SYSTEM, "out of memory");
		return fail(err, ep, addr, "%s, expected ssh://USER@HOST[:PORT]", what);
	}
	if (!*ep->hostname)
		return fail(err, ep, addr, "no host name, expected ssh://USER@HOST[:PORT]");
	if (slash && slash[1]) {
		/* the engine's socket on the remote host */
		if (!only(slash, strlen(slash), ALNUM "._/-") || strstr(slash, "/../") ||
		    strlen(slash) >= sizeof(((struct sockaddr_un *)0)->sun_path))
			return fail(err, ep, addr,
				    "malformed socket path after the host (letters, digits, '.', "
				    "'_', '-' and '/' only)");
		ep->socket_path = strdup(slash);
		if (!ep->socket_path)
			return error_set(err, ERR_SYSTEM, "out of memory");
	}
	v6 = strchr(ep->hostname, ':') != NULL;
	if (buf_printf(&canon, "ssh://%s%s%s%s%s", ep->user ? ep->user : "", ep->user ? "@" : "",
		       v6 ? "[" : "", ep->hostname, v6 ? "]" : "") < 0 ||
	    (ep->port && buf_printf(&canon, ":%d", ep->port) < 0) ||
	    (ep->socket_path && buf_printf(&canon, "%s", ep->socket_path) < 0))
		return error_set(err, ERR_SYSTEM, "out of memory");
	ep->kind = DOCKER_TRANSPORT_SSH;
	ep->host = strdup(buf_str(&canon));
	return ep->host ? 0 : error_set(err, ERR_SYSTEM, "out of memory");
}

/* TLS or not, verified or not, and where the files are (tcp:// only). */
static int resolve_tls(struct docker_endpoint *ep, const struct docker_settings *s,
		       const char *addr, struct error *err)
{
	int verify, tls;
	const char *dir;

	verify = s->tls_verify >= 0 ? s->tls_verify : nonempty(s->env_tls_verify) != NULL;
	/* as the CLI: naming the verify setting at all turns TLS on */
	tls = verify || s->tls_verify >= 0 || (s->tls >= 0 ? s->tls : nonempty(s->env_tls) != NULL);
	if (s->tls == 0 && verify)
		return fail(err, ep, addr,
			    "the admin's file says docker_tls = false and TLS verification is on "
			    "(%s); remove one of them",
			    s->tls_verify >= 0 ? "docker_tls_verify = true" : "DOCKER_TLS_VERIFY");
	if (!tls) {
		if (s->tls != 0)
			return fail(
				err, ep, addr,
				"a plain TCP engine gives root on its host to anyone who reaches "
				"the port; use TLS (DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH "
				"holding ca.pem, cert.pem and key.pem, or docker_tls_verify and "
				"docker_cert_path in the admin's file) or ssh://, or set "
				"docker_tls = false in the admin's file to allow it");
		ep->kind = DOCKER_TRANSPORT_TCP;
		return 0;
	}
	if (!verify && s->tls_verify != 0)
		return fail(err, ep, addr,
			    "TLS without verifying the engine's certificate (DOCKER_TLS without "
			    "DOCKER_TLS_VERIFY) lets anyone on the way act as the engine; set "
			    "DOCKER_TLS_VERIFY=1 with the engine's CA as ca.pem, or "
			    "docker_tls_verify = false in the admin's file to accept that");
	ep->kind = DOCKER_TRANSPORT_TLS;
	ep->verify = verify;
	if (nonempty(s->cert_path)) {
		dir = s->cert_path;
		ep->cert_dir = strdup(dir);
	} else if (nonempty(s->env_cert_path)) {
		dir = s->env_cert_path;
		ep->cert_dir = strdup(dir);
	} else if (nonempty(s->env_home)) {
		if (asprintf(&ep->cert_dir, "%s/.docker", s->env_home) < 0)
			ep->cert_dir = NULL;
	} else {
		return fail(err, ep, addr,
			    "TLS needs the certificates' directory and neither DOCKER_CERT_PATH "
			    "nor HOME is set; set docker_cert_path in the admin's file");
	}
	if (!ep->cert_dir)
		return error_set(err, ERR_SYSTEM, "out of memory");
	if (ep->cert_dir[0] != '/')
		return fail(err, ep, addr,
			    "the certificates' directory %.300s must be an absolute path",
			    ep->cert_dir);
	if (strlen(ep->cert_dir) > PATH_MAX - 16)
		return fail(err, ep, addr, "the certificates' directory path is too long");
	if (asprintf(&ep->ca, "%s/ca.pem", ep->cert_dir) < 0)
		ep->ca = NULL;
	if (asprintf(&ep->cert, "%s/cert.pem", ep->cert_dir) < 0)
		ep->cert = NULL;
	if (asprintf(&ep->key, "%s/key.pem", ep->cert_dir) < 0)
		ep->key = NULL;
	if (!ep->ca || !ep->cert || !ep->key)
		return error_set(err, ERR_SYSTEM, "out of memory");
	return 0;
}

static int trimmed(const char *s, char **out)
{
	size_t len;

	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	len = strlen(s);
	while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\n' ||
		       s[len - 1] == '\r'))
		len--;
	*out = strndup(s, len);
	return *out ? 0 : -1;
}

int docker_endpoint_parse(struct docker_endpoint *ep, const struct docker_settings *s,
			  struct error *err)
{
	_cleanup_free_ char *addr = NULL;
	const char *raw, *sep;
	int ret;

	memset(ep, 0, sizeof(*ep));
	if (nonempty(s->host)) {
		raw = s->host;
		ep->origin = strdup("docker_host");
	} else {
		raw = nonempty(s->env_host) ? s->env_host : "unix://" DEFAULT_SOCKET;
		ep->origin = strdup("DOCKER_HOST");
	}
	if (!ep->origin || trimmed(raw, &addr) < 0) {
		docker_endpoint_release(ep);
		return error_set(err, ERR_SYSTEM, "out of memory");
	}
	if (strlen(addr) > 1024) {
		ret = fail(err, ep, "(too long)", "the address is longer than 1024 characters");
		goto out;
	}
	for (const char *p = addr; *p; p++)
		if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e) {
			ret = fail(err, ep, addr,
				   "a blank, control or non-ASCII character in the address");
			goto out;
		}
	sep = strstr(addr, "://");
	if (!*addr) {
		ret = parse_unix(ep, addr, "", err);
	} else if (!sep) {
		/* as the CLI: a path is a unix socket, anything else TCP */
		if (addr[0] == '/' || !strncmp(addr, "./", 2))
			ret = parse_unix(ep, addr, addr, err);
		else if ((ret = parse_tcp(ep, addr, addr, err)) == 0)
			ret = resolve_tls(ep, s, addr, err);
	} else if (!strncmp(addr, "unix://", 7)) {
		ret = parse_unix(ep, addr, addr + 7, err);
	} else if (!strncmp(addr, "tcp://", 6)) {
		ret = parse_tcp(ep, addr, addr + 6, err);
		if (ret == 0)
			ret = resolve_tls(ep, s, addr, err);
	} else if (!strncmp(addr, "ssh://", 6)) {
		ret = parse_ssh(ep, addr, addr + 6, err);
	} else {
		ret = fail(err, ep, addr,
			   "unsupported address; use unix:///path/to/docker.sock, "
			   "tcp://HOST:PORT (with TLS) or ssh://USER@HOST");
	}
out:
	if (ret < 0)
		docker_endpoint_release(ep);
	return ret;
}

/* ---- certificates ---- */

static long long asn1_to_unix(const ASN1_TIME *t)
{
	struct tm tm;

	if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return (long long)timegm(&tm);
}

int docker_cert_info(const char *path, struct docker_cert_info *out, struct error *err)
{
	FILE *f;
	X509 *x;

	memset(out, 0, sizeof(*out));
	f = fopen(path, "re");
	if (!f)
		return error_set_errno(err, ERR_CONFIG, errno, "%s", path);
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!x)
		return error_set(err, ERR_CONFIG, "%s: not a PEM certificate", path);
	out->not_after = asn1_to_unix(X509_get0_notAfter(x));
	out->not_before = asn1_to_unix(X509_get0_notBefore(x));
	X509_NAME_oneline(X509_get_subject_name(x), out->subject, sizeof(out->subject));
	X509_NAME_oneline(X509_get_issuer_name(x), out->issuer, sizeof(out->issuer));
	X509_free(x);
	return 0;
}

static int dup_str(char **dst, const char *src)
{
	*dst = NULL;
	if (!src)
		return 0;
	*dst = strdup(src);
	return *dst ? 0 : -1;
}

int docker_endpoint_copy(struct docker_endpoint *dst, const struct docker_endpoint *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->kind = src->kind;
	dst->port = src->port;
	dst->verify = src->verify;
	if (dup_str(&dst->host, src->host) < 0 || dup_str(&dst->origin, src->origin) < 0 ||
	    dup_str(&dst->socket_path, src->socket_path) < 0 ||
	    dup_str(&dst->hostname, src->hostname) < 0 || dup_str(&dst->user, src->user) < 0 ||
	    dup_str(&dst->cert_dir, src->cert_dir) < 0 || dup_str(&dst->ca, src->ca) < 0 ||
	    dup_str(&dst->cert, src->cert) < 0 || dup_str(&dst->key, src->key) < 0) {
		docker_endpoint_release(dst);
		return -1;
	}
	return 0;
}
