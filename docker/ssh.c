/* SPDX-License-Identifier: MIT */
/*
 * ssh:// engines, as the docker CLI reaches them (cli/connhelper): every
 * connection is its own `ssh ... -- HOST docker system dial-stdio` process,
 * whose stdin and stdout are one end of a socketpair; the other end is the
 * connection's socket as libcurl sees it (docker/transport.c hands it over
 * with CURLOPT_OPENSOCKETFUNCTION), so HTTP, streams and the hijacked exec
 * connection go through it unchanged, and a half-close (shutdown SHUT_WR)
 * reaches the remote engine as the end of the exec's stdin.
 *
 * ssh is the host's OpenSSH client, run with BatchMode (a prompt would hang
 * a job: keys come from ssh-agent or ~/.ssh, host keys from known_hosts),
 * in a process group of its own (the runner's signals to the driver's group
 * must not cut the connection the driver cleans up with, as the CLI does
 * with Setpgid), every descriptor but its three closed, and an environment
 * of the few variables ssh itself reads: the job's CUSTOM_ENV_* never
 * reach it.  Its stderr goes to a memory file read only to explain a
 * failure ("Permission denied (publickey).").
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "docker/docker.h"
#include "docker/internal.h"

extern char **environ;

#define SSH_STDERR_MAX	 4096
#define SSH_EXIT_WAIT_MS 3000

/* The variables ssh reads for itself; nothing else of ours reaches it. */
static const char *const env_keep[] = {
	"HOME", "USER", "LOGNAME", "PATH", "SSH_AUTH_SOCK", "KRB5CCNAME", "LANG", "LC_ALL",
};

int docker_ssh_argv(const struct docker_endpoint *ep, char *remote, size_t remote_size, char *port,
		    size_t port_size, const char **argv, size_t max)
{
	size_t n = 0;
	int w;

	if (max < 16)
		return -1;
	/* the remote side's command: validated characters only, no quoting needed */
	if (ep->socket_path)
		w = snprintf(remote, remote_size, "docker --host=unix://%s system dial-stdio",
			     ep->socket_path);
	else
		w = snprintf(remote, remote_size, "docker system dial-stdio");
	if (w < 0 || (size_t)w >= remote_size)
		return -1;
	argv[n++] = "ssh";
	if (ep->user) {
		argv[n++] = "-l";
		argv[n++] = ep->user;
	}
	if (ep->port) {
		w = snprintf(port, port_size, "%d", ep->port);
		if (w < 0 || (size_t)w >= port_size)
			return -1;
		argv[n++] = "-p";
		argv[n++] = port;
	}
	argv[n++] = "-o";
	argv[n++] = "ConnectTimeout=30";
	argv[n++] = "-T";
	argv[n++] = "-o";
	argv[n++] = "BatchMode=yes";
	argv[n++] = "--";
	argv[n++] = ep->hostname;
	argv[n++] = remote;
	argv[n] = NULL;
	return (int)n;
}

static char **ssh_env(void)
{
	size_t i, k, n = 0;
	char **env = calloc(ARRAY_SIZE(env_keep) + 2, sizeof(*env));
	int have_path = 0;

	if (!env)
		return NULL;
	for (k = 0; k < ARRAY_SIZE(env_keep); k++) {
		size_t klen = strlen(env_keep[k]);

		for (i = 0; environ && environ[i]; i++)
			if (!strncmp(environ[i], env_keep[k], klen) && environ[i][klen] == '=') {
				env[n++] = environ[i];
				have_path |= !strcmp(env_keep[k], "PATH");
				break;
			}
	}
	if (!have_path)
		env[n++] = "PATH=/usr/local/bin:/usr/bin:/bin";
	env[n] = NULL;
	return env;
}

static void conn_free(struct docker_ssh_conn *s);

/* ---- the listener ----
 *
 * libcurl (7.88) connects the socket it is handed even when told it is
 * connected, and never reuses a unix-socket connection, so neither a
 * socketpair nor a unix socket will do.  Each client listens on a loopback
 * port of its own; curl connects to it like to any TCP engine (and keeps the
 * connection for the next request), and before the request is sent
 * (CURLOPT_PREREQFUNCTION; after the CONNECT_ONLY perform of the hijacked
 * connection) the accepted end becomes ssh's stdin and stdout.  A connection
 * is served only when its peer is the socket curl just connected (its local
 * port, as curl reports it): anything else dialling the port, another local
 * process, is closed unserved.
 */

int docker_ssh_listen(struct docker_ssh *s, struct error *err)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	int fd;

	if (s->port)
		return 0;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return error_set_errno(err, ERR_SYSTEM, errno, "ssh: socket");
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 64) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
		error_set_errno(err, ERR_SYSTEM, errno, "ssh: listen on the loopback");
		close(fd);
		return -1;
	}
	s->listen_fd = fd;
	s->port = ntohs(a.sin_port);
	return 0;
}

static int local_port(int fd)
{
	struct sockaddr_in a = {0};
	socklen_t len = sizeof(a);

	if (getsockname(fd, (struct sockaddr *)&a, &len) < 0 || a.sin_family != AF_INET)
		return 0;
	return ntohs(a.sin_port);
}

/* Start ssh on the accepted end `peer` for connection c. */
static void spawn(struct docker_ssh_conn *c, const struct docker_endpoint *ep, int peer)
{
	char remote[512], port[16];
	const char *argv[24];
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t mask, defaults;
	static const int sigs[] = {SIGPIPE, SIGINT,  SIGTERM, SIGHUP, SIGQUIT,
				   SIGCHLD, SIGALRM, SIGUSR1, SIGUSR2};
	char **env;
	int rc;

	if (docker_ssh_argv(ep, remote, sizeof(remote), port, sizeof(port), argv,
			    ARRAY_SIZE(argv)) < 0) {
		snprintf(c->failed, sizeof(c->failed), "the address is too long for ssh");
		return;
	}
	c->errfd = memfd_create("executor-ssh-stderr", MFD_CLOEXEC);
	if (c->errfd < 0) {
		snprintf(c->failed, sizeof(c->failed), "memfd_create: %s", strerror(errno));
		return;
	}
	env = ssh_env();
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	sigemptyset(&mask);
	sigemptyset(&defaults);
	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
		sigaddset(&defaults, sigs[i]);
	rc = env ? 0 : ENOMEM;
	if (!rc)
		rc = posix_spawn_file_actions_adddup2(&fa, peer, 0);
	if (!rc)
		rc = posix_spawn_file_actions_adddup2(&fa, peer, 1);
	if (!rc)
		rc = posix_spawn_file_actions_adddup2(&fa, c->errfd, 2);
	if (!rc)
		rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	if (!rc)
		rc = posix_spawnattr_setsigmask(&attr, &mask);
	if (!rc)
		rc = posix_spawnattr_setsigdefault(&attr, &defaults);
	if (!rc)
		rc = posix_spawnattr_setpgroup(&attr, 0);
	if (!rc)
		rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK |
							     POSIX_SPAWN_SETSIGDEF |
							     POSIX_SPAWN_SETPGROUP);
	if (!rc)
		rc = posix_spawnp(&c->pid, "ssh", &fa, &attr, (char *const *)argv, env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	free(env);
	if (rc) {
		c->pid = 0;
		snprintf(c->failed, sizeof(c->failed),
			 "cannot run ssh: %s; install the OpenSSH client (openssh-client)",
			 strerror(rc));
	}
}

struct docker_ssh_conn *docker_ssh_accept(struct docker_ssh *s, const struct docker_endpoint *ep,
					  int port)
{
	struct docker_ssh_conn *served = NULL;
	int tries;

	/* bounded: a local process dialling the port in a loop cannot hold us here */
	for (tries = 0; tries < 64; tries++) {
		struct sockaddr_in peer = {0};
		socklen_t len = sizeof(peer);
		struct docker_ssh_conn *c;
		int fd = accept4(s->listen_fd, (struct sockaddr *)&peer, &len, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR)
				continue;
			return served; /* EAGAIN: none pending */
		}
		if (served || !port || len != sizeof(peer) || peer.sin_family != AF_INET ||
		    peer.sin_addr.s_addr != htonl(INADDR_LOOPBACK) ||
		    ntohs(peer.sin_port) != port) {
			close(fd); /* not the connection curl just made */
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (c) {
			c->port = port;
			c->errfd = -1;
			spawn(c, ep, fd);
			c->next = s->conns;
			s->conns = c;
			served = c;
		}
		close(fd); /* ssh has its copies */
	}
	return served;
}

void docker_ssh_closed(struct docker_ssh *s, int fd)
{
	int port = local_port(fd);
	struct docker_ssh_conn *c;

	close(fd);
	for (c = s->conns; port && c; c = c->next)
		if (c->port == port && !c->closed) {
			docker_ssh_close(c);
			break;
		}
}

void docker_ssh_release(struct docker_ssh *s)
{
	while (s->conns) {
		struct docker_ssh_conn *next = s->conns->next;

		conn_free(s->conns);
		s->conns = next;
	}
	if (s->port)
		close(s->listen_fd);
	memset(s, 0, sizeof(*s));
}

void docker_ssh_purge(struct docker_ssh *s, const struct docker_ssh_conn *keep)
{
	struct docker_ssh_conn **pp = &s->conns;

	while (*pp) {
		struct docker_ssh_conn *c = *pp;

		if (c->closed && c != keep) {
			*pp = c->next;
			conn_free(c);
		} else {
			pp = &c->next;
		}
	}
}

/* Reap without blocking; 1 when ssh has exited. */
static int reaped(struct docker_ssh_conn *s)
{
	int st;

	if (!s->pid)
		return 1;
	if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
		s->status = st;
		s->pid = 0;
		return 1;
	}
	return 0;
}

void docker_ssh_close(struct docker_ssh_conn *s)
{
	int st;

	if (!s)
		return;
	s->closed = 1;
	if (reaped(s))
		return;
	/* the exchange is over: nothing of ssh's is worth waiting for */
	kill(s->pid, SIGTERM);
	while (waitpid(s->pid, &st, 0) < 0 && errno == EINTR)
		;
	s->status = st;
	s->pid = 0;
}

static void conn_free(struct docker_ssh_conn *s)
{
	if (!s)
		return;
	docker_ssh_close(s);
	if (s->errfd >= 0)
		close(s->errfd);
	free(s);
}

/* The last non-empty line of what ssh wrote to stderr. */
static void last_line(int fd, char *out, size_t size)
{
	char text[SSH_STDERR_MAX + 1];
	off_t end = lseek(fd, 0, SEEK_END);
	off_t from = end > SSH_STDERR_MAX ? end - SSH_STDERR_MAX : 0;
	ssize_t n = end > 0 ? pread(fd, text, (size_t)(end - from), from) : 0;
	char *line, *nl;

	out[0] = '\0';
	if (n <= 0)
		return;
	text[n] = '\0';
	while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' '))
		text[--n] = '\0';
	nl = strrchr(text, '\n');
	line = nl ? nl + 1 : text;
	docker_sanitize_line(out, size, line, strlen(line));
}

int docker_ssh_explain(struct docker_ssh_conn *s, char *out, size_t size)
{
	struct timespec t0, t1;
	char line[512];

	out[0] = '\0';
	if (!s)
		return -1;
	if (s->failed[0]) {
		snprintf(out, size, "%s", s->failed);
		return 0;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!reaped(s)) {
		long ms;

		clock_gettime(CLOCK_MONOTONIC, &t1);
		ms = (long)(t1.tv_sec - t0.tv_sec) * 1000L + (t1.tv_nsec - t0.tv_nsec) / 1000000L;
		if (ms >= SSH_EXIT_WAIT_MS)
			return -1; /* still running: not ssh's doing */
		poll(NULL, 0, 20);
	}
	last_line(s->errfd, line, sizeof(line));
	if (WIFEXITED(s->status))
		snprintf(out, size, "ssh exited with status %d%s%s", WEXITSTATUS(s->status),
			 line[0] ? ": " : "", line);
	else if (WIFSIGNALED(s->status))
		snprintf(out, size, "ssh was killed by signal %d%s%s", WTERMSIG(s->status),
			 line[0] ? ": " : "", line);
	else
		snprintf(out, size, "ssh ended%s%s", line[0] ? ": " : "", line);
	return 0;
}
