/* SPDX-License-Identifier: MIT */
/*
 * The Engine API transport.  docker_request() performs every HTTP request;
 * docker_hijack() opens the one kind of connection that is not plain HTTP
 * (exec start with stdin).  Nothing else of the client touches libcurl (the
 * router probes of stages/probe.c are the tree's only other transfers).
 */
#include <curl/curl.h>
#include <errno.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "docker/docker.h"
#include "docker/internal.h"

#ifndef EXECUTOR_VERSION
#define EXECUTOR_VERSION "dev"
#endif

#define API_MAX_MAJOR	   1
#define API_MAX_MINOR	   43
#define API_MIN_MINOR	   40
#define ERROR_BODY_MAX	   (64u * 1024u)
#define CONNECT_TIMEOUT_MS (15L * 1000L)
#define HIJACK_HEADER_MAX  (64u * 1024u)
#define HIJACK_CHUNK	   65536u
#define TICK_MS		   100
#define USER_AGENT	   "executor/" EXECUTOR_VERSION
#define CERT_EXPIRED_GRACE 0

struct docker_client {
	struct docker_endpoint ep;
	const char *host;   /* ep.host: unix:///var/run/docker.sock, tcp://h:2376, ssh://u@h */
	char base_url[300]; /* http://localhost, https://h:2376 */
	char version[16];   /* negotiated "1.41"; empty before the first ping */
	char server_version[16];
	int pinging;
	int preset; /* version taken from the caller (a cache), not from a ping yet */
	unsigned long requests;
	volatile sig_atomic_t *cancel;
	/* remote engines: connections kept between this client's requests (a
	 * TLS handshake or an ssh login per request would cost round trips) */
	CURLSH *share;
	struct docker_ssh ssh;		 /* ssh:// : listener and ssh processes */
	struct docker_ssh_conn *ssh_new; /* the connection the current transfer opened */
};

/* ---- test hook: kill injection ----
 *
 * EXECUTOR_FAULT_KILL_AFTER=N (a positive integer) makes the process SIGKILL itself
 * just before it sends its Nth Engine API request (counted over every client and
 * thread of the process, docker_request and docker_hijack alike).
 * With EXECUTOR_FAULT_KILL_DELAY_US=D as well, the Nth request is sent and the
 * process is killed D microseconds later from a thread of its own: while the
 * request is still in flight at the engine (a create the engine completes
 * after the driver is gone), or just after its answer.
 * EXECUTOR_FAULT_REPORT=1 prints "executor: N engine requests" to stderr at exit.
 * All are read once; unset (the normal case) they cost one atomic increment. */

static pthread_once_t fault_once = PTHREAD_ONCE_INIT;
static unsigned long fault_kill_at;  /* 0: never */
static unsigned long fault_delay_us; /* 0: before the request is sent */
static atomic_ulong fault_requests;

static void fault_report(void)
{
	fprintf(stderr, "executor: %lu engine requests\n", atomic_load(&fault_requests));
}

static void fault_init(void)
{
	const char *s = getenv("EXECUTOR_FAULT_KILL_AFTER");
	unsigned long n;
	char *end;

	if (s && *s >= '1' && *s <= '9') {
		errno = 0;
		n = strtoul(s, &end, 10);
		if (!*end && !errno)
			fault_kill_at = n;
	}
	s = getenv("EXECUTOR_FAULT_KILL_DELAY_US");
	if (s && *s >= '1' && *s <= '9') {
		errno = 0;
		n = strtoul(s, &end, 10);
		if (!*end && !errno && n <= 10000000)
			fault_delay_us = n;
	}
	s = getenv("EXECUTOR_FAULT_REPORT");
	if (s && !strcmp(s, "1"))
		atexit(fault_report);
}

static void *fault_kill_later(void *arg)
{
	struct timespec ts = {.tv_sec = (time_t)(fault_delay_us / 1000000),
			      .tv_nsec = (long)(fault_delay_us % 1000000) * 1000};

	(void)arg;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	raise(SIGKILL);
	return NULL;
}

static void fault_point(void)
{
	unsigned long n;
	pthread_t t;

	pthread_once(&fault_once, fault_init);
	n = atomic_fetch_add(&fault_requests, 1) + 1;
	if (!fault_kill_at || n != fault_kill_at)
		return;
	if (!fault_delay_us || pthread_create(&t, NULL, fault_kill_later, NULL) != 0) {
		raise(SIGKILL);
		return;
	}
	pthread_detach(t);
}

/* ---- client ---- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* The client's copy of the endpoint, with what the files say: the client
 * certificate is dropped when neither cert.pem nor key.pem exists (the CLI's
 * rule), and a setup that cannot work is one line before any connection. */
static int check_tls_files(struct docker_endpoint *ep, struct error *err)
{
	struct docker_cert_info ci;
	int have_cert = access(ep->cert, F_OK) == 0, have_key = access(ep->key, F_OK) == 0;
	char when[32];
	struct tm tm;
	time_t t;

	if (ep->verify && access(ep->ca, R_OK) < 0)
		return error_set(
			err, ERR_CONFIG,
			"cannot use the Docker engine at %s: its CA certificate %s: %s; put "
			"the CA that signed the engine's certificate there (DOCKER_CERT_PATH "
			"or docker_cert_path names the directory)",
			ep->host, ep->ca, strerror(errno));
	if (!have_cert && !have_key) {
		free(ep->cert);
		free(ep->key);
		ep->cert = ep->key = NULL;
		return 0;
	}
	if (have_cert != have_key)
		return error_set(err, ERR_CONFIG,
				 "cannot use the Docker engine at %s: %s exists but %s does not; a "
				 "client certificate needs both (PEM, signed by the engine's CA)",
				 ep->host, have_cert ? ep->cert : ep->key,
				 have_cert ? ep->key : ep->cert);
	if (docker_cert_info(ep->cert, &ci, err) < 0)
		return error_wrap(err, "cannot use the Docker engine at %s: client certificate",
				  ep->host);
	t = (time_t)ci.not_after;
	if (ci.not_after && ci.not_after < (long long)time(NULL) - CERT_EXPIRED_GRACE) {
		gmtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", &tm);
		return error_set(
			err, ERR_CONFIG,
			"cannot use the Docker engine at %s: the client certificate %s "
			"expired on %s; issue a new one from the engine's CA and put it and "
			"its key in %s",
			ep->host, ep->cert, when, ep->cert_dir);
	}
	if (ci.not_before > (long long)time(NULL)) {
		t = (time_t)ci.not_before;
		gmtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", &tm);
		return error_set(err, ERR_CONFIG,
				 "cannot use the Docker engine at %s: the client certificate %s is "
				 "not valid before %s; check this host's clock",
				 ep->host, ep->cert, when);
	}
	return 0;
}

static struct docker_client *client_create(struct docker_endpoint *ep, struct error *err)
{
	struct docker_client *c;
	int w;

	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK) {
		docker_endpoint_release(ep);
		error_set(err, ERR_SYSTEM, "initialise libcurl: %s",
			  curl_easy_strerror(curl_init_rc));
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		docker_endpoint_release(ep);
		error_set(err, ERR_SYSTEM, "out of memory");
		return NULL;
	}
	c->ep = *ep; /* owned from here */
	memset(ep, 0, sizeof(*ep));
	c->host = c->ep.host;
	if (c->ep.kind == DOCKER_TRANSPORT_SSH && docker_ssh_listen(&c->ssh, err) < 0) {
		docker_client_free(c);
		return NULL;
	}
	if (c->ep.kind == DOCKER_TRANSPORT_SSH) {
		w = snprintf(c->base_url, sizeof(c->base_url), "http://127.0.0.1:%d", c->ssh.port);
	} else if (c->ep.kind == DOCKER_TRANSPORT_TLS || c->ep.kind == DOCKER_TRANSPORT_TCP) {
		int v6 = strchr(c->ep.hostname, ':') != NULL;

		w = snprintf(c->base_url, sizeof(c->base_url), "%s://%s%s%s:%d",
			     c->ep.kind == DOCKER_TRANSPORT_TLS ? "https" : "http", v6 ? "[" : "",
			     c->ep.hostname, v6 ? "]" : "", c->ep.port);
	} else {
		w = snprintf(c->base_url, sizeof(c->base_url), "http://localhost");
	}
	if (w < 0 || (size_t)w >= sizeof(c->base_url)) {
		docker_client_free(c);
		error_set(err, ERR_CONFIG, "the engine address is too long");
		return NULL;
	}
	if (c->ep.kind != DOCKER_TRANSPORT_UNIX) {
		c->share = curl_share_init();
		if (!c->share ||
		    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT) !=
			    CURLSHE_OK ||
		    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) !=
			    CURLSHE_OK) {
			docker_client_free(c);
			error_set(err, ERR_SYSTEM, "out of memory (curl share)");
			return NULL;
		}
	}
	return c;
}

struct docker_client *docker_client_open(const struct docker_settings *s, struct error *err)
{
	struct docker_endpoint ep;

	if (docker_endpoint_parse(&ep, s, err) < 0)
		return NULL;
	if (ep.kind == DOCKER_TRANSPORT_TLS && check_tls_files(&ep, err) < 0) {
		docker_endpoint_release(&ep);
		return NULL;
	}
	return client_create(&ep, err);
}

struct docker_client *docker_client_new(const char *host, struct error *err)
{
	struct docker_settings s;

	docker_settings_from_env(&s);
	if (host)
		s.env_host = host;
	return docker_client_open(&s, err);
}

void docker_client_free(struct docker_client *c)
{
	if (!c)
		return;
	/* closes the kept connections (and so ends their ssh processes) */
	if (c->share)
		curl_share_cleanup(c->share);
	docker_ssh_release(&c->ssh);
	docker_endpoint_release(&c->ep);
	free(c);
}

const struct docker_endpoint *docker_client_endpoint(const struct docker_client *c)
{
	return &c->ep;
}

const char *docker_client_host(const struct docker_client *c)
{
	return c->host;
}

const char *docker_api_version(const struct docker_client *c)
{
	return c->version;
}

unsigned long docker_request_count(const struct docker_client *c)
{
	return c->requests;
}

void docker_client_set_cancel(struct docker_client *c, volatile sig_atomic_t *cancel)
{
	c->cancel = cancel;
}

static int parse_version(const char *s, unsigned *major, unsigned *minor)
{
	char *end;
	unsigned long ma, mi;

	if (*s < '0' || *s > '9')
		return -1;
	ma = strtoul(s, &end, 10);
	if (*end != '.' || end[1] < '0' || end[1] > '9')
		return -1;
	mi = strtoul(end + 1, &end, 10);
	if (*end || ma > 99 || mi > 999)
		return -1;
	*major = (unsigned)ma;
	*minor = (unsigned)mi;
	return 0;
}

struct docker_client *docker_client_clone(const struct docker_client *c, struct error *err)
{
	struct docker_endpoint ep;
	struct docker_client *n;

	if (docker_endpoint_copy(&ep, &c->ep) < 0) {
		error_set(err, ERR_SYSTEM, "out of memory");
		return NULL;
	}
	n = client_create(&ep, err);
	if (!n)
		return NULL;
	memcpy(n->version, c->version, sizeof(n->version));
	memcpy(n->server_version, c->server_version, sizeof(n->server_version));
	n->preset = c->preset;
	n->cancel = c->cancel;
	return n;
}

int docker_ping(struct docker_client *c, struct error *err)
{
	struct docker_request req = {.method = "GET", .path = "/_ping", .timeout_ms = 30000};
	struct docker_response resp;
	unsigned major, minor;
	int ret;

	docker_response_init(&resp);
	c->server_version[0] = '\0';
	c->pinging = 1;
	ret = docker_request(c, &req, &resp, err);
	c->pinging = 0;
	docker_response_release(&resp);
	if (ret < 0)
		return -1;
	if (!c->server_version[0])
		return error_set(err, ERR_ENGINE,
				 "%s answered /_ping without an Api-Version header; is it a Docker "
				 "engine?",
				 c->host);
	if (parse_version(c->server_version, &major, &minor) < 0)
		return error_set(err, ERR_ENGINE, "%s reports a malformed API version '%s'",
				 c->host, c->server_version);
	if (major < API_MAX_MAJOR || (major == API_MAX_MAJOR && minor < API_MIN_MINOR))
		return error_set(err, ERR_ENGINE,
				 "the Docker engine at %s speaks API %u.%u; at least %u.%u (Docker "
				 "19.03) is required",
				 c->host, major, minor, API_MAX_MAJOR, API_MIN_MINOR);
	if (major > API_MAX_MAJOR || (major == API_MAX_MAJOR && minor > API_MAX_MINOR)) {
		major = API_MAX_MAJOR;
		minor = API_MAX_MINOR;
	}
	snprintf(c->version, sizeof(c->version), "%u.%u", major, minor);
	c->preset = 0;
	return 0;
}

int docker_client_set_api_version(struct docker_client *c, const char *version)
{
	unsigned major, minor;

	if (!version || parse_version(version, &major, &minor) < 0 || major != API_MAX_MAJOR ||
	    minor < API_MIN_MINOR || minor > API_MAX_MINOR)
		return -1;
	snprintf(c->version, sizeof(c->version), "%u.%u", major, minor);
	c->preset = 1;
	return 0;
}

int docker_client_version_negotiated(const struct docker_client *c)
{
	return c->version[0] && !c->preset;
}

/* Lazy negotiation: the first request of a client pings first. */
static int ensure_version(struct docker_client *c, struct error *err)
{
	if (c->version[0] || c->pinging)
		return 0;
	return docker_ping(c, err);
}

/* ---- responses and errors ---- */

void docker_response_init(struct docker_response *r)
{
	r->status = 0;
	buf_init(&r->body, 0);
}

void docker_response_release(struct docker_response *r)
{
	buf_release(&r->body);
}

/* err from an HTTP error answer: the JSON "message", else the body. */
static int set_http_error(struct error *err, long status, const char *body, size_t len)
{
	json_object *obj = NULL;
	const char *msg = NULL;
	char line[ERROR_MSG_MAX];

	if (len && docker_json_parse(body, len, &obj) == 0)
		msg = docker_json_string(obj, "message");
	if (msg)
		docker_sanitize_line(line, sizeof(line), msg, strlen(msg));
	else
		docker_sanitize_line(line, sizeof(line), body, len);
	json_object_put(obj);
	if (!line[0])
		snprintf(line, sizeof(line), "HTTP %ld from the Docker engine", status);
	error_set(err, ERR_ENGINE, "%s", line);
	err->code = (int)status;
	return -1;
}

static int set_local_connect_error(const struct docker_client *c, int os_errno, const char *detail,
				   struct error *err)
{
	switch (os_errno) {
	case ENOENT:
		return error_set(err, ERR_ENGINE,
				 "cannot reach the Docker engine at %s: no such socket; is dockerd "
				 "running? (systemctl start docker)",
				 c->host);
	case ECONNREFUSED:
		return error_set(
			err, ERR_ENGINE,
			"cannot reach the Docker engine at %s: connection refused; is dockerd "
			"running? (systemctl start docker)",
			c->host);
	case EACCES:
	case EPERM:
		return error_set(
			err, ERR_ENGINE,
			"cannot reach the Docker engine at %s: permission denied; run as root "
			"or add this user to the docker group",
			c->host);
	case 0:
		return error_set(err, ERR_ENGINE,
				 "cannot reach the Docker engine at %s: %s; is dockerd running? "
				 "(systemctl start docker)",
				 c->host, detail);
	default:
		return error_set(err, ERR_ENGINE,
				 "cannot reach the Docker engine at %s: %s; is dockerd running? "
				 "(systemctl start docker)",
				 c->host, strerror(os_errno));
	}
}

/* What ssh said, with what to do about it. */
static int set_ssh_error(const struct docker_client *c, const char *said, struct error *err)
{
	const char *fix;

	if (strstr(said, "Permission denied"))
		fix = "give the runner's user a key that the remote user accepts (ssh-agent, or "
		      "IdentityFile in its ~/.ssh/config; the public key in the remote "
		      "~/.ssh/authorized_keys)";
	else if (strstr(said, "Host key verification failed") ||
		 strstr(said, "REMOTE HOST IDENTIFICATION HAS CHANGED"))
		fix = "add the engine host's key to the runner user's ~/.ssh/known_hosts (check "
		      "its fingerprint with the host's admin)";
	else if (strstr(said, "Could not resolve"))
		fix = "check the host name in the address";
	else if (strstr(said, "Connection refused") || strstr(said, "timed out") ||
		 strstr(said, "No route to host") || strstr(said, "Network is unreachable"))
		fix = "is sshd running on that host and port, and reachable from this host?";
	else if (strstr(said, "command not found") || strstr(said, "status 127"))
		fix = "install the docker CLI on the remote host: `docker system dial-stdio` runs "
		      "there";
	else if (strstr(said, "docker.sock") || strstr(said, "Docker daemon"))
		fix = "the remote user must reach the engine's socket there (add it to the docker "
		      "group) and dockerd must run";
	else if (!strncmp(said, "cannot run ssh", 14))
		return error_set(err, ERR_CONFIG, "cannot reach the Docker engine at %s: %s",
				 c->host, said);
	else
		fix = "run the same ssh command as the runner's user to see why: ssh -T -o "
		      "BatchMode=yes <user@host> docker system dial-stdio";
	return error_set(err, ERR_ENGINE, "cannot reach the Docker engine at %s: %s; %s", c->host,
			 said, fix);
}

static int contains(const char *s, const char *what)
{
	return s && strcasestr(s, what) != NULL;
}

/*
 * A failed connection or exchange with a remote engine, as one line naming
 * the engine and the fix.  0 when the failure is none of these (the caller
 * says the generic thing).
 */
static int set_remote_error(struct docker_client *c, CURLcode rc, int os_errno, const char *detail,
			    struct error *err)
{
	const struct docker_endpoint *ep = &c->ep;
	char said[600];

	if (ep->kind == DOCKER_TRANSPORT_SSH) {
		if (c->ssh_new && docker_ssh_explain(c->ssh_new, said, sizeof(said)) == 0)
			return set_ssh_error(c, said, err);
		return 0;
	}
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
		return error_set(
			err, ERR_ENGINE,
			"cannot reach the Docker engine at %s: cannot resolve %s; check the "
			"host name in %s",
			c->host, ep->hostname, ep->origin);
	case CURLE_COULDNT_CONNECT:
		return error_set(
			err, ERR_ENGINE,
			"cannot reach the Docker engine at %s: %s; is the engine listening "
			"there (dockerd --tlsverify -H tcp://0.0.0.0:%d) and the port open "
			"to this host?",
			c->host,
			os_errno == ECONNREFUSED ? "connection refused"
			: os_errno		 ? strerror(os_errno)
						 : detail,
			ep->port);
	case CURLE_OPERATION_TIMEDOUT:
		return 0;
	case CURLE_SSL_CACERT_BADFILE:
		return error_set(
			err, ERR_CONFIG,
			"cannot use the Docker engine at %s: cannot read its CA certificate "
			"%s (%s); put the engine's CA there as PEM",
			c->host, ep->ca, detail);
	case CURLE_SSL_CERTPROBLEM:
		return error_set(
			err, ERR_CONFIG,
			"cannot use the Docker engine at %s: the client certificate %s or its "
			"key %s cannot be used (%s); put a PEM certificate and its unencrypted "
			"key there",
			c->host, ep->cert ? ep->cert : "(none)", ep->key ? ep->key : "(none)",
			detail);
	case CURLE_PEER_FAILED_VERIFICATION:
		if (contains(detail, "subject name") || contains(detail, "host name") ||
		    contains(detail, "hostname"))
			return error_set(
				err, ERR_ENGINE,
				"cannot reach the Docker engine at %s: its certificate does not "
				"name %s (%s); use the name it was issued for in %s, or reissue it "
				"with this one in its subjectAltName",
				c->host, ep->hostname, detail, ep->origin);
		return error_set(
			err, ERR_ENGINE,
			"cannot reach the Docker engine at %s: its certificate is not signed "
			"by the CA in %s (%s); put the CA that signed the engine's "
			"certificate there",
			c->host, ep->ca, detail);
	default:
		break;
	}
	if (ep->kind != DOCKER_TRANSPORT_TLS)
		return 0;
	if (contains(detail, "certificate required") ||
	    (!ep->cert && contains(detail, "handshake failure")))
		return error_set(
			err, ERR_ENGINE,
			"cannot reach the Docker engine at %s: it asks for a client "
			"certificate and there is none (no cert.pem and key.pem in %s); put "
			"a client certificate signed by the engine's CA and its key there",
			c->host, ep->cert_dir);
	if (contains(detail, "certificate expired"))
		return error_set(err, ERR_ENGINE,
				 "cannot reach the Docker engine at %s: it refused the client "
				 "certificate %s as expired; issue a new one from the engine's CA",
				 c->host, ep->cert);
	if (contains(detail, "unknown ca") || contains(detail, "bad certificate") ||
	    contains(detail, "certificate unknown") || contains(detail, "decrypt error") ||
	    contains(detail, "unsupported certificate"))
		return error_set(err, ERR_ENGINE,
				 "cannot reach the Docker engine at %s: it refused the client "
				 "certificate %s (%s): it is not signed by a CA the engine trusts; "
				 "issue one from the engine's CA (--tlscacert of dockerd)",
				 c->host, ep->cert ? ep->cert : "(none)", detail);
	if (contains(detail, "wrong version number") || contains(detail, "packet length") ||
	    contains(detail, "record layer failure"))
		return error_set(err, ERR_ENGINE,
				 "cannot reach the Docker engine at %s: it does not speak TLS on "
				 "port %d (%s); check the port, and that dockerd runs with "
				 "--tlsverify there",
				 c->host, ep->port, detail);
	if (rc == CURLE_SSL_CONNECT_ERROR || contains(detail, "alert") || contains(detail, "SSL"))
		return error_set(err, ERR_ENGINE,
				 "cannot reach the Docker engine at %s: the TLS handshake failed "
				 "(%s); check the certificates in %s against the engine's",
				 c->host, detail, ep->cert_dir);
	return 0;
}

static int set_connect_error(struct docker_client *c, CURLcode rc, int os_errno, const char *detail,
			     struct error *err)
{
	if (c->ep.kind != DOCKER_TRANSPORT_UNIX) {
		if (set_remote_error(c, rc, os_errno, detail, err) < 0)
			return -1;
		return error_set(err, ERR_ENGINE, "cannot reach the Docker engine at %s: %s",
				 c->host, os_errno ? strerror(os_errno) : detail);
	}
	return set_local_connect_error(c, os_errno, detail, err);
}

/* ---- connections ---- */

/* Connected (or reused), before the request is sent: start ssh for a new
 * connection (docker/ssh.c). */
static int ssh_prereq(void *ud, char *conn_primary_ip, char *conn_local_ip, int conn_primary_port,
		      int conn_local_port)
{
	struct docker_client *c = ud;
	struct docker_ssh_conn *conn = docker_ssh_accept(&c->ssh, &c->ep, conn_local_port);

	if (conn)
		c->ssh_new = conn;
	return CURL_PREREQFUNC_OK;
}

static int ssh_close_socket(void *ud, curl_socket_t fd)
{
	struct docker_client *c = ud;

	docker_ssh_closed(&c->ssh, fd);
	return 0;
}

/* The connections that are over, forgotten after each transfer. */
static void ssh_purge(struct docker_client *c)
{
	c->ssh_new = NULL;
	if (c->ep.kind == DOCKER_TRANSPORT_SSH)
		docker_ssh_purge(&c->ssh, NULL);
}

/* Where and how to connect, for a request (keep: the connection may be kept
 * for the next one) or the hijacked exec connection. */
static int setup_connection(struct docker_client *c, CURL *h, char *errbuf, int keep)
{
	const struct docker_endpoint *ep = &c->ep;
	int bad = 0;

#define SET(opt, val) (bad |= curl_easy_setopt(h, opt, val) != CURLE_OK)
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_ERRORBUFFER, errbuf);
	SET(CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
	switch (ep->kind) {
	case DOCKER_TRANSPORT_UNIX:
		SET(CURLOPT_UNIX_SOCKET_PATH, ep->socket_path);
		break;
	case DOCKER_TRANSPORT_SSH:
		/* the client's loopback listener, every connection served by ssh */
		SET(CURLOPT_PROXY, "");
		SET(CURLOPT_CLOSESOCKETFUNCTION, ssh_close_socket);
		SET(CURLOPT_CLOSESOCKETDATA, c);
		SET(CURLOPT_PREREQFUNCTION, ssh_prereq);
		SET(CURLOPT_PREREQDATA, c);
		break;
	case DOCKER_TRANSPORT_TLS:
		SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
		SET(CURLOPT_SSL_VERIFYPEER, ep->verify ? 1L : 0L);
		SET(CURLOPT_SSL_VERIFYHOST, ep->verify ? 2L : 0L);
		if (ep->verify) {
			/* the engine's CA and no other */
			SET(CURLOPT_CAINFO, ep->ca);
			SET(CURLOPT_CAPATH, (char *)NULL);
		}
		if (ep->cert) {
			SET(CURLOPT_SSLCERT, ep->cert);
			SET(CURLOPT_SSLCERTTYPE, "PEM");
			SET(CURLOPT_SSLKEY, ep->key);
			SET(CURLOPT_SSLKEYTYPE, "PEM");
		}
		/* fall through */
	case DOCKER_TRANSPORT_TCP:
		/* the engine directly, never through a proxy of the environment */
		SET(CURLOPT_PROXY, "");
		SET(CURLOPT_TCP_KEEPALIVE, 1L);
		break;
	}
	if (keep && c->share)
		SET(CURLOPT_SHARE, c->share);
#undef SET
	return bad ? -1 : 0;
}

/* ---- the one request function ---- */

struct xfer {
	CURL *h;
	const struct docker_request *req;
	struct docker_response *resp;
	struct docker_client *c;
	volatile sig_atomic_t *cancel;
	int canceled;
	int aborted; /* on_data said stop */
	int too_big; /* collected body over the buffer limit */
	long status; /* of the last status line seen */
};

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	size_t n = size * nmemb;
	static const char api[] = "api-version:";

	if (n > 5 && !strncmp(ptr, "HTTP/", 5)) {
		const char *sp = memchr(ptr, ' ', n);

		x->status = sp ? strtol(sp + 1, NULL, 10) : 0;
	} else if (n > sizeof(api) - 1 && !strncasecmp(ptr, api, sizeof(api) - 1)) {
		char v[sizeof(x->c->server_version)];

		docker_sanitize_line(v, sizeof(v), ptr + sizeof(api) - 1, n - (sizeof(api) - 1));
		memcpy(x->c->server_version, v, sizeof(v));
	} else if ((n == 2 && ptr[0] == '\r' && ptr[1] == '\n') && x->req->on_headers &&
		   x->status >= 200) {
		/* the blank line after the final response's headers */
		x->req->on_headers(x->status, x->req->payload);
	}
	return n;
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	size_t n = size * nmemb;
	struct buf *body = &x->resp->body;

	if (!n)
		return 0;
	if (x->status >= 200 && x->status < 300) {
		if (x->req->on_data) {
			if (x->req->on_data(ptr, n, x->req->payload) < 0) {
				x->aborted = 1;
				return 0;
			}
			return n;
		}
		if (buf_append(body, ptr, n) < 0) {
			x->too_big = 1;
			return 0;
		}
		return n;
	}
	/* error bodies: keep the start, drop the rest */
	if (body->len < ERROR_BODY_MAX) {
		size_t room = ERROR_BODY_MAX - body->len;

		buf_append(body, ptr, n < room ? n : room);
	}
	return n;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	struct xfer *x = ud;

	if (x->cancel && *x->cancel) {
		x->canceled = 1;
		return 1;
	}
	return 0;
}

static long elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (long)(t1.tv_sec - t0->tv_sec) * 1000L + (t1.tv_nsec - t0->tv_nsec) / 1000000L;
}

static int set_method(CURL *h, const struct docker_request *req)
{
	const char *m = req->method ? req->method : "GET";
	int has_body = req->body != NULL;
	CURLcode rc;

	if (!strcmp(m, "GET") && !has_body)
		return curl_easy_setopt(h, CURLOPT_HTTPGET, 1L) == CURLE_OK ? 0 : -1;
	if (!strcmp(m, "HEAD"))
		return curl_easy_setopt(h, CURLOPT_NOBODY, 1L) == CURLE_OK ? 0 : -1;
	if (strcmp(m, "POST") && curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, m) != CURLE_OK)
		return -1;
	if (!has_body && strcmp(m, "POST"))
		return 0;
	/* POST (with or without a body) and PUT/DELETE with a body */
	rc = curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(h, CURLOPT_POSTFIELDS, has_body ? req->body : "");
	return rc == CURLE_OK ? 0 : -1;
}

/* "Name: value", or "Name:" (curl then sends no such header) for NULL. */
static int add_header(struct curl_slist **list, const char *name, const char *value)
{
	_cleanup_buf_ struct buf line = BUF_INIT;
	struct curl_slist *l;

	if ((value ? buf_printf(&line, "%s: %s", name, value) : buf_printf(&line, "%s:", name)) < 0)
		return -1;
	l = curl_slist_append(*list, line.data);
	if (!l)
		return -1;
	*list = l;
	return 0;
}

static int request_once(struct docker_client *c, const struct docker_request *req,
			struct docker_response *resp, struct error *err);

/* The engine refuses a version it does not speak with a 400 naming the client
 * version ("client version 1.43 is too new", "... is too old"). */
static int version_refused(const struct error *err)
{
	return err->code == 400 && strstr(err->msg, "client version");
}

int docker_request(struct docker_client *c, const struct docker_request *req,
		   struct docker_response *resp, struct error *err)
{
	/* A version from the caller's cache saves the ping; when the engine
	 * changed and refuses it, negotiate and send the request once more
	 * (nothing was done: the engine refused before acting). */
	if (request_once(c, req, resp, err) == 0)
		return 0;
	if (!c->preset || c->pinging || !version_refused(err))
		return -1;
	log_debug("engine: API %s refused (%s); negotiating again", c->version, err->msg);
	c->version[0] = '\0';
	c->preset = 0;
	error_clear(err);
	if (docker_ping(c, err) < 0)
		return -1;
	return request_once(c, req, resp, err);
}

static int request_once(struct docker_client *c, const struct docker_request *req,
			struct docker_response *resp, struct error *err)
{
	_cleanup_buf_ struct buf url = BUF_INIT;
	struct curl_slist *headers = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	const char *method = req->method ? req->method : "GET";
	struct xfer x = {.req = req, .resp = resp, .c = c};
	struct timespec t0;
	CURLcode rc;
	long os_errno = 0;
	int ret = -1;
	CURL *h;

	resp->status = 0;
	buf_reset(&resp->body);
	if (!req->path || req->path[0] != '/')
		return error_set(err, ERR_SYSTEM, "engine request path must start with '/'");
	if (!docker_path_safe(req->path))
		return error_set(err, ERR_SYSTEM,
				 "refused engine request %s %.200s: a path segment is not a plain "
				 "name (\".\", \"..\", an escape of one of ./\\?#%% or a "
				 "control, or a character outside [A-Za-z0-9-._~/:@%%])",
				 method, req->path);
	if (ensure_version(c, err) < 0)
		return -1;
	x.cancel = req->cancel ? req->cancel : c->cancel;
	if (x.cancel && *x.cancel)
		return error_set(err, ERR_CANCELED, "%s %s: canceled", method, req->path);
	if (buf_puts(&url, c->base_url) < 0 ||
	    (c->version[0] && buf_printf(&url, "/v%s", c->version) < 0) ||
	    buf_puts(&url, req->path) < 0)
		return error_set(err, ERR_SYSTEM, "out of memory");

	h = curl_easy_init();
	if (!h)
		return error_set(err, ERR_SYSTEM, "out of memory (curl handle)");
	x.h = h;

	if ((req->body &&
	     add_header(&headers, "Content-Type",
			req->content_type ? req->content_type : "application/json") < 0) ||
	    (req->registry_auth &&
	     add_header(&headers, "X-Registry-Auth", req->registry_auth) < 0) ||
	    /* large uploads must not wait a second for "100 Continue" */
	    add_header(&headers, "Expect", NULL) < 0) {
		error_set(err, ERR_SYSTEM, "out of memory");
		goto out;
	}

	if (curl_easy_setopt(h, CURLOPT_URL, buf_str(&url)) != CURLE_OK ||
	    setup_connection(c, h, errbuf, 1) < 0 ||
	    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_USERAGENT, USER_AGENT) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_HEADERDATA, &x) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEDATA, &x) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &x) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, req->timeout_ms > 0 ? req->timeout_ms : 0L) !=
		    CURLE_OK ||
	    set_method(h, req) < 0) {
		error_set(err, ERR_SYSTEM, "configure the engine request %s %s", method, req->path);
		goto out;
	}

	fault_point();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	c->requests++;
	c->ssh_new = NULL;
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
	curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
	log_debug("engine: %s %s -> %ld (%ld ms)", method, buf_str(&url) + strlen(c->base_url),
		  resp->status, elapsed_ms(&t0));

	if (rc == CURLE_OK) {
		if (resp->status >= 200 && resp->status < 300)
			ret = 0;
		else
			set_http_error(err, resp->status, resp->body.data, resp->body.len);
		goto out;
	}
	if (x.canceled) {
		error_set(err, ERR_CANCELED, "%s %s: canceled", method, req->path);
	} else if (x.aborted) {
		error_set(err, ERR_ENGINE, "%s %s: the response stream was rejected by its reader",
			  method, req->path);
	} else if (x.too_big) {
		error_set(err, ERR_ENGINE, "%s %s: response larger than %zu bytes", method,
			  req->path, resp->body.limit);
	} else if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST) {
		set_connect_error(c, rc, (int)os_errno, errbuf[0] ? errbuf : curl_easy_strerror(rc),
				  err);
	} else if (c->ep.kind != DOCKER_TRANSPORT_UNIX && rc != CURLE_OPERATION_TIMEDOUT &&
		   set_remote_error(c, rc, (int)os_errno,
				    errbuf[0] ? errbuf : curl_easy_strerror(rc), err) < 0) {
		/* said: a TLS or ssh failure, with its fix */
	} else if (rc == CURLE_OPERATION_TIMEDOUT && req->timeout_ms > 0) {
		error_set(err, ERR_ENGINE, "%s %s: the Docker engine did not answer within %ld ms",
			  method, req->path, req->timeout_ms);
	} else if (rc == CURLE_OPERATION_TIMEDOUT) {
		error_set(err, ERR_ENGINE,
			  "cannot reach the Docker engine at %s: it did not accept the connection "
			  "within %ld s; is dockerd overloaded or hung?",
			  c->host, CONNECT_TIMEOUT_MS / 1000);
	} else if (resp->status && (resp->status < 200 || resp->status >= 300)) {
		set_http_error(err, resp->status, resp->body.data, resp->body.len);
	} else {
		error_set(err, ERR_ENGINE, "%s %s: connection to the Docker engine at %s broke: %s",
			  method, req->path, c->host, errbuf[0] ? errbuf : curl_easy_strerror(rc));
	}
out:
	curl_slist_free_all(headers);
	curl_easy_cleanup(h);
	ssh_purge(c);
	return ret;
}

int docker_call_json(struct docker_client *c, const char *method, const char *path, json_object *in,
		     json_object **out, long timeout_ms, struct error *err)
{
	struct docker_request req = {.method = method, .path = path, .timeout_ms = timeout_ms};
	struct docker_response resp;
	int ret;

	if (out)
		*out = NULL;
	if (in) {
		req.body = json_object_to_json_string_ext(
			in, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
		if (!req.body)
			return error_set(err, ERR_SYSTEM, "out of memory");
		req.body_len = strlen(req.body);
	}
	docker_response_init(&resp);
	ret = docker_request(c, &req, &resp, err);
	if (ret == 0 && out && resp.body.len &&
	    docker_json_parse(resp.body.data, resp.body.len, out) < 0)
		ret = error_set(err, ERR_ENGINE,
				"%s %s: the Docker engine answered with invalid JSON", method,
				path);
	docker_response_release(&resp);
	return ret;
}

/* ---- hijacked connection (exec with stdin) ---- */

struct hijack {
	struct docker_client *c;
	CURL *h;
	curl_socket_t fd;
	int (*on_tick)(void *payload);
	void *tick_payload;
	struct timespec last_tick;
	int answered;		      /* the engine's answer headers are in */
	char errbuf[CURL_ERROR_SIZE]; /* curl's, for the handle's whole life */
};

/* The Host header: what the URL names. */
static const char *http_host(const struct docker_client *c)
{
	const char *p = strstr(c->base_url, "://");

	return p ? p + 3 : "localhost";
}

/*
 * The end of stdin.  Over TLS a TCP half-close alone is no clean end of the
 * stream: send TLS's own (close_notify; the read side stays open), then the
 * half-close, which is all a unix socket or ssh's socketpair needs.
 */
static void hijack_close_write(struct hijack *hj)
{
	if (hj->c->ep.kind == DOCKER_TRANSPORT_TLS) {
		struct curl_tlssessioninfo *info = NULL;

		if (curl_easy_getinfo(hj->h, CURLINFO_TLS_SSL_PTR, &info) == CURLE_OK && info &&
		    info->backend == CURLSSLBACKEND_OPENSSL && info->internals) {
			SSL *ssl = info->internals;

			if (SSL_shutdown(ssl) < 0)
				log_debug("engine: TLS close_notify not sent");
		}
	}
	shutdown(hj->fd, SHUT_WR);
}

/* A failed send or recv: before the answer, over TLS or ssh, most likely the
 * other side refusing us (a client certificate refused after a TLS 1.3
 * handshake, ssh ending), said with its fix. */
static int hijack_io_error(struct hijack *hj, CURLcode rc, const char *what, struct error *err)
{
	const char *detail = hj->errbuf[0] ? hj->errbuf : curl_easy_strerror(rc);

	if (!hj->answered && hj->c->ep.kind != DOCKER_TRANSPORT_UNIX &&
	    set_remote_error(hj->c, rc, 0, detail, err) < 0)
		return -1;
	return error_set(err, ERR_ENGINE, "%s the Docker engine at %s: %s", what, hj->c->host,
			 detail);
}

/* Poll the cancel flag and on_tick when 100 ms have passed. */
static int hijack_tick(struct hijack *hj, struct error *err)
{
	if (elapsed_ms(&hj->last_tick) < TICK_MS)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &hj->last_tick);
	if (hj->c->cancel && *hj->c->cancel)
		return error_set(err, ERR_CANCELED, "canceled");
	if (hj->on_tick && hj->on_tick(hj->tick_payload))
		return error_set(err, ERR_CANCELED, "canceled");
	return 0;
}

static int hijack_wait(struct hijack *hj, short events, struct error *err)
{
	struct pollfd pfd = {.fd = hj->fd, .events = events};

	if (poll(&pfd, 1, TICK_MS) < 0 && errno != EINTR)
		return error_set_errno(err, ERR_ENGINE, errno, "poll the Docker engine connection");
	return hijack_tick(hj, err);
}

static int hijack_send_all(struct hijack *hj, const char *data, size_t len, struct error *err)
{
	while (len) {
		size_t n = 0;
		CURLcode rc = curl_easy_send(hj->h, data, len, &n);

		if (rc == CURLE_AGAIN) {
			if (hijack_wait(hj, POLLOUT, err) < 0)
				return -1;
			continue;
		}
		if (rc != CURLE_OK)
			return hijack_io_error(hj, rc, "send to", err);
		data += n;
		len -= n;
	}
	return 0;
}

/* One recv: 1 = got *n bytes (0 = EOF), 0 = nothing yet, -1 = error. */
static int hijack_recv(struct hijack *hj, char *dst, size_t cap, size_t *n, struct error *err)
{
	CURLcode rc;

	*n = 0;
	rc = curl_easy_recv(hj->h, dst, cap, n);
	if (rc == CURLE_AGAIN)
		return 0;
	if (rc != CURLE_OK)
		return hijack_io_error(hj, rc, "read from", err);
	return 1;
}

static const char *find_crlf2(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i + 3 < len; i++)
		if (s[i] == '\r' && s[i + 1] == '\n' && s[i + 2] == '\r' && s[i + 3] == '\n')
			return s + i;
	return NULL;
}

/* Value of header `name` in the block [s, end), or NULL; *vlen its length. */
static const char *header_value(const char *s, const char *end, const char *name, size_t *vlen)
{
	size_t nlen = strlen(name);
	const char *line = s;

	while (line < end) {
		const char *eol = memchr(line, '\n', (size_t)(end - line));

		if (!eol)
			eol = end;
		if ((size_t)(eol - line) > nlen && !strncasecmp(line, name, nlen) &&
		    line[nlen] == ':') {
			const char *v = line + nlen + 1;
			const char *ve = eol;

			while (v < ve && (*v == ' ' || *v == '\t'))
				v++;
			while (ve > v && (ve[-1] == '\r' || ve[-1] == ' '))
				ve--;
			*vlen = (size_t)(ve - v);
			return v;
		}
		line = eol + 1;
	}
	return NULL;
}

/* Remove chunked framing in place (best effort, for error bodies). */
static void dechunk(struct buf *b)
{
	size_t in = 0, out = 0;

	while (in < b->len) {
		char *end;
		unsigned long size = strtoul(b->data + in, &end, 16);
		char *eol = memchr(b->data + in, '\n', b->len - in);

		if (!eol || end == b->data + in || size == 0)
			break;
		in = (size_t)(eol - b->data) + 1;
		if (size > b->len - in)
			size = b->len - in;
		memmove(b->data + out, b->data + in, size);
		out += size;
		in += size;
		while (in < b->len && (b->data[in] == '\r' || b->data[in] == '\n'))
			in++;
	}
	b->len = out;
	if (b->data)
		b->data[out] = '\0';
}

/* Read the rest of an error answer (bounded, until Content-Length or EOF). */
static void hijack_error_body(struct hijack *hj, struct buf *raw, size_t body_at)
{
	const char *v;
	size_t vlen, want = ERROR_BODY_MAX;
	int chunked = 0;
	char chunk[4096];
	struct timespec t0;
	struct error ignore = ERROR_INIT;

	v = header_value(raw->data, raw->data + body_at, "Content-Length", &vlen);
	if (v)
		want = strtoul(v, NULL, 10);
	v = header_value(raw->data, raw->data + body_at, "Transfer-Encoding", &vlen);
	if (v && vlen == 7 && !strncasecmp(v, "chunked", 7))
		chunked = 1;
	if (want > ERROR_BODY_MAX)
		want = ERROR_BODY_MAX;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (raw->len - body_at < want && elapsed_ms(&t0) < 5000) {
		size_t n;
		int r = hijack_recv(hj, chunk, sizeof(chunk), &n, &ignore);

		if (r < 0 || (r == 1 && n == 0))
			break;
		if (r == 0) {
			if (hijack_wait(hj, POLLIN, &ignore) < 0)
				break;
			continue;
		}
		if (buf_append(raw, chunk, n) < 0)
			break;
		if (chunked && raw->len - body_at >= 5 &&
		    !memcmp(raw->data + raw->len - 5, "0\r\n\r\n", 5))
			break;
	}
	buf_consume(raw, body_at);
	if (chunked)
		dechunk(raw);
}

static int hijack_open(struct hijack *hj, const char *method, const char *path,
		       const char *json_body, struct buf *early, struct error *err)
{
	_cleanup_buf_ struct buf request = BUF_INIT;
	_cleanup_buf_ struct buf raw = BUF_INIT;
	size_t body_len = json_body ? strlen(json_body) : 0;
	const char *end;
	long os_errno = 0, status;
	CURLcode rc;
	char chunk[4096];

	if (buf_printf(&request, "%s/v%s%s", hj->c->base_url, hj->c->version, path) < 0)
		return error_set(err, ERR_SYSTEM, "out of memory");
	/* a connection of its own, never kept: it ends with the exec */
	if (curl_easy_setopt(hj->h, CURLOPT_URL, buf_str(&request)) != CURLE_OK ||
	    setup_connection(hj->c, hj->h, hj->errbuf, 0) < 0 ||
	    curl_easy_setopt(hj->h, CURLOPT_CONNECT_ONLY, 1L) != CURLE_OK)
		return error_set(err, ERR_SYSTEM, "configure the engine connection");

	/* CONNECT_ONLY: this opens the socket (and does the TLS handshake), and
	 * sends nothing */
	hj->c->requests++;
	hj->c->ssh_new = NULL;
	rc = curl_easy_perform(hj->h);
	if (rc != CURLE_OK) {
		curl_easy_getinfo(hj->h, CURLINFO_OS_ERRNO, &os_errno);
		return set_connect_error(hj->c, rc, (int)os_errno,
					 hj->errbuf[0] ? hj->errbuf : curl_easy_strerror(rc), err);
	}
	if (curl_easy_getinfo(hj->h, CURLINFO_ACTIVESOCKET, &hj->fd) != CURLE_OK ||
	    hj->fd == CURL_SOCKET_BAD)
		return error_set(err, ERR_ENGINE, "no socket for the engine connection");
	if (hj->c->ep.kind == DOCKER_TRANSPORT_SSH) {
		long port = 0;

		curl_easy_getinfo(hj->h, CURLINFO_LOCAL_PORT, &port);
		hj->c->ssh_new = docker_ssh_accept(&hj->c->ssh, &hj->c->ep, (int)port);
	}

	buf_reset(&request);
	if (buf_printf(&request,
		       "%s /v%s%s HTTP/1.1\r\n"
		       "Host: %s\r\n"
		       "User-Agent: " USER_AGENT "\r\n"
		       "Content-Type: application/json\r\n"
		       "Content-Length: %zu\r\n"
		       "Connection: Upgrade\r\n"
		       "Upgrade: tcp\r\n"
		       "\r\n",
		       method, hj->c->version, path, http_host(hj->c), body_len) < 0 ||
	    (json_body && buf_append(&request, json_body, body_len) < 0))
		return error_set(err, ERR_SYSTEM, "out of memory");
	if (hijack_send_all(hj, request.data, request.len, err) < 0)
		return -1;

	/* status line and headers, parsed by hand */
	buf_init(&raw, HIJACK_HEADER_MAX + ERROR_BODY_MAX);
	for (;;) {
		size_t n;
		int r = hijack_recv(hj, chunk, sizeof(chunk), &n, err);

		if (r < 0)
			return -1;
		if (r == 0) {
			if (hijack_wait(hj, POLLIN, err) < 0)
				return -1;
			continue;
		}
		if (n == 0) {
			if (hj->c->ep.kind != DOCKER_TRANSPORT_UNIX &&
			    set_remote_error(hj->c, CURLE_GOT_NOTHING, 0, "no answer", err) < 0)
				return -1;
			return error_set(err, ERR_ENGINE,
					 "%s %s: the Docker engine closed the connection before "
					 "answering",
					 method, path);
		}
		if (buf_append(&raw, chunk, n) < 0)
			return error_set(err, ERR_ENGINE, "%s %s: answer headers too long", method,
					 path);
		end = find_crlf2(raw.data, raw.len);
		if (end)
			break;
		if (raw.len > HIJACK_HEADER_MAX)
			return error_set(err, ERR_ENGINE, "%s %s: answer headers too long", method,
					 path);
	}
	if (raw.len < 12 || strncmp(raw.data, "HTTP/1.", 7) || raw.data[8] != ' ')
		return error_set(err, ERR_ENGINE, "%s %s: malformed answer from the Docker engine",
				 method, path);
	status = strtol(raw.data + 9, NULL, 10);
	hj->answered = 1;
	if (status == 101 || status == 200) {
		size_t body_at = (size_t)(end - raw.data) + 4;

		if (buf_append(early, raw.data + body_at, raw.len - body_at) < 0)
			return error_set(err, ERR_SYSTEM, "out of memory");
		return 0;
	}
	hijack_error_body(hj, &raw, (size_t)(end - raw.data) + 4);
	return set_http_error(err, status, raw.data, raw.len);
}

int docker_hijack(struct docker_client *c, const char *method, const char *path,
		  const char *json_body, const void *stdin_data, size_t stdin_len,
		  docker_data_cb on_data, void *payload, int (*on_tick)(void *payload),
		  void *tick_payload, struct error *err)
{
	_cleanup_buf_ struct buf early = BUF_INIT;
	struct hijack hj = {
		.c = c, .fd = CURL_SOCKET_BAD, .on_tick = on_tick, .tick_payload = tick_payload};
	const char *in = stdin_data;
	size_t in_left = stdin_data ? stdin_len : 0;
	int write_open = 1;
	int ret = -1;
	char *chunk = NULL;

	if (!path || !docker_path_safe(path))
		return error_set(err, ERR_SYSTEM,
				 "refused engine request %s %.200s: a path segment is not a plain "
				 "name (\".\", \"..\", an escape of one of ./\\?#%% or a "
				 "control, or a character outside [A-Za-z0-9-._~/:@%%])",
				 method, path ? path : "(none)");
	if (ensure_version(c, err) < 0)
		return -1;
	if (c->cancel && *c->cancel)
		return error_set(err, ERR_CANCELED, "%s %s: canceled", method, path);
	hj.h = curl_easy_init();
	chunk = malloc(HIJACK_CHUNK);
	if (!hj.h || !chunk) {
		error_set(err, ERR_SYSTEM, "out of memory");
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &hj.last_tick);
	fault_point();
	if (hijack_open(&hj, method, path, json_body, &early, err) < 0)
		goto out;
	if (early.len && on_data(early.data, early.len, payload) < 0) {
		error_set(err, ERR_ENGINE, "%s %s: the stream was rejected by its reader", method,
			  path);
		goto out;
	}

	for (;;) {
		struct pollfd pfd = {.fd = hj.fd, .events = POLLIN};
		size_t n;
		int r;

		if (write_open && !in_left) {
			/* stdin is done: the process sees EOF */
			hijack_close_write(&hj);
			write_open = 0;
		}
		if (write_open)
			pfd.events |= POLLOUT;
		if (poll(&pfd, 1, TICK_MS) < 0 && errno != EINTR) {
			error_set_errno(err, ERR_ENGINE, errno,
					"poll the Docker engine connection");
			goto out;
		}
		if (hijack_tick(&hj, err) < 0)
			goto out;
		if (write_open && (pfd.revents & (POLLOUT | POLLERR | POLLHUP))) {
			CURLcode rc = curl_easy_send(
				hj.h, in, in_left < HIJACK_CHUNK ? in_left : HIJACK_CHUNK, &n);

			if (rc == CURLE_OK) {
				in += n;
				in_left -= n;
			} else if (rc != CURLE_AGAIN) {
				/* the process is gone or closed its stdin: keep reading */
				log_debug("engine: stdin not fully written (%zu bytes left): %s",
					  in_left, curl_easy_strerror(rc));
				in_left = 0;
			}
		}
		if (!(pfd.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		/* drain what is there, then poll again */
		for (int i = 0; i < 16; i++) {
			r = hijack_recv(&hj, chunk, HIJACK_CHUNK, &n, err);
			if (r < 0)
				goto out;
			if (r == 0)
				break;
			if (n == 0) {
				ret = 0;
				goto out;
			}
			if (on_data(chunk, n, payload) < 0) {
				error_set(err, ERR_ENGINE,
					  "%s %s: the stream was rejected by its reader", method,
					  path);
				goto out;
			}
		}
	}
out:
	free(chunk);
	if (hj.h)
		curl_easy_cleanup(hj.h);
	ssh_purge(c);
	return ret;
}
