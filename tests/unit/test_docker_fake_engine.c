/* SPDX-License-Identifier: MIT */
/*
 * The transport against a fake engine: a thread that serves canned HTTP
 * answers on a unix socket in a temporary directory, one per connection, and
 * records what it was asked.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/fs.h"
#include "docker/docker.h"

#define MAX_REQUESTS 16

enum answer_mode {
	ANSWER_PLAIN, /* write data, close */
	ANSWER_STALL, /* write nothing until the client goes away or the test ends */
	ANSWER_ECHO,  /* hijack: write data (101 head), read stdin to EOF, echo it framed */
};

struct answer {
	const char *data;
	size_t len; /* 0: strlen(data) */
	enum answer_mode mode;
};

struct fake {
	char dir[64];
	char sock[100];
	char host[120];
	int listen_fd;
	pthread_t thread;
	const struct answer *answers;
	size_t n_answers;
	char *requests[MAX_REQUESTS];
	size_t n_requests;
	volatile int stop;
	int joined;
};

#define PING_141 "HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Length: 2\r\n\r\nOK"

static void fake_release_requests(struct fake *f)
{
	size_t i;

	for (i = 0; i < f->n_requests; i++)
		free(f->requests[i]);
	f->n_requests = 0;
}

static void write_all(int fd, const char *data, size_t len)
{
	while (len) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL);

		if (n <= 0)
			return;
		data += n;
		len -= (size_t)n;
	}
}

/* Read one request: head up to the blank line, then Content-Length bytes. */
static char *read_request(int fd)
{
	struct buf b = BUF_INIT;
	char chunk[4096];
	const char *end = NULL;
	size_t want = 0;

	for (;;) {
		ssize_t n = recv(fd, chunk, sizeof(chunk), 0);

		if (n <= 0)
			break;
		buf_append(&b, chunk, (size_t)n);
		if (!end && (end = strstr(buf_str(&b), "\r\n\r\n"))) {
			const char *cl = strcasestr(buf_str(&b), "Content-Length:");

			want = (size_t)(end - b.data) + 4;
			if (cl && cl < end)
				want += strtoul(cl + 15, NULL, 10);
		}
		if (end && b.len >= want)
			break;
	}
	return buf_detach(&b, NULL);
}

static void put_frame(struct buf *b, int stream, const char *data, size_t len)
{
	unsigned char h[8] = {(unsigned char)stream,
			      0,
			      0,
			      0,
			      (unsigned char)(len >> 24),
			      (unsigned char)(len >> 16),
			      (unsigned char)(len >> 8),
			      (unsigned char)len};

	buf_append(b, h, sizeof(h));
	buf_append(b, data, len);
}

static void serve_echo(struct fake *f, int fd)
{
	struct buf in = BUF_INIT, out = BUF_INIT;
	char chunk[4096];
	ssize_t n;

	/* stdin until the client shuts its write side */
	while ((n = recv(fd, chunk, sizeof(chunk), 0)) > 0)
		buf_append(&in, chunk, (size_t)n);
	put_frame(&out, 1, in.data ? in.data : "", in.len);
	put_frame(&out, 2, "done", 4);
	write_all(fd, out.data, out.len);
	buf_release(&in);
	buf_release(&out);
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;
	size_t served = 0;

	while (!f->stop) {
		struct pollfd pfd = {.fd = f->listen_fd, .events = POLLIN};
		const struct answer *a;
		int fd;

		if (poll(&pfd, 1, 20) <= 0)
			continue;
		fd = accept(f->listen_fd, NULL, NULL);
		if (fd < 0)
			continue;
		if (f->n_requests < MAX_REQUESTS)
			f->requests[f->n_requests++] = read_request(fd);
		a = &f->answers[served < f->n_answers ? served : f->n_answers - 1];
		served++;
		if (a->mode == ANSWER_STALL) {
			char c;

			/* until the client hangs up */
			while (!f->stop && recv(fd, &c, 1, MSG_DONTWAIT) != 0)
				usleep(10000);
		} else {
			write_all(fd, a->data, a->len ? a->len : strlen(a->data));
			if (a->mode == ANSWER_ECHO)
				serve_echo(f, fd);
		}
		close(fd);
	}
	return NULL;
}

static void fake_start(struct fake *f, const struct answer *answers, size_t n)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	memset(f, 0, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/test-docker-fake-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->sock, sizeof(f->sock), "%s/docker.sock", f->dir);
	snprintf(f->host, sizeof(f->host), "unix://%s", f->sock);
	f->answers = answers;
	f->n_answers = n;
	f->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(f->listen_fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->sock);
	assert_int_equal(bind(f->listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(f->listen_fd, 16), 0);
	assert_int_equal(pthread_create(&f->thread, NULL, fake_main, f), 0);
}

/* Stop serving; what was asked can be read after this. */
static void fake_join(struct fake *f)
{
	if (f->joined)
		return;
	f->stop = 1;
	pthread_join(f->thread, NULL);
	f->joined = 1;
}

static void fake_stop(struct fake *f)
{
	struct error err = ERROR_INIT;

	fake_join(f);
	close(f->listen_fd);
	fake_release_requests(f);
	fs_remove_tree(f->dir, &err);
}

static struct docker_client *client_for(const struct fake *f)
{
	struct error err = ERROR_INIT;
	struct docker_client *c = docker_client_new(f->host, &err);

	assert_non_null(c);
	return c;
}

/* ---- tests ---- */

static void test_docker_transport__404_json_body_gives_code_and_message(void **state)
{
	static const struct answer answers[] = {
		{PING_141},
		{"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: "
		 "38\r\n"
		 "\r\n{\"message\":\"No such container: nope\"}\n"},
	};
	struct docker_request req = {.method = "GET", .path = "/containers/nope/json"};
	struct docker_response resp;
	struct error err = ERROR_INIT;
	struct docker_client *c;
	struct fake f;

	fake_start(&f, answers, 2);
	c = client_for(&f);
	docker_response_init(&resp);
	assert_int_equal(docker_request(c, &req, &resp, &err), -1);
	assert_int_equal(err.cls, ERR_ENGINE);
	assert_int_equal(err.code, 404);
	assert_int_equal(resp.status, 404);
	assert_string_equal(err.msg, "No such container: nope");
	docker_response_release(&resp);

	/* through a module function: the context is prepended, the code kept */
	error_clear(&err);
	assert_int_equal(docker_container_inspect(c, "nope", NULL, &err), -1);
	assert_int_equal(err.code, 404);
	assert_string_equal(err.msg, "inspect container nope: No such container: nope");
	docker_client_free(c);
	fake_stop(&f);
}

static void test_docker_transport__500_plain_text_body_is_the_message(void **state)
{
	static const struct answer answers[] = {
		{PING_141},
		{"HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\n"
		 "Content-Length: 27\r\n\r\n  driver failed\r\nbadly \n\n  "},
	};
	struct error err = ERROR_INIT;
	struct docker_client *c;
	struct fake f;

	fake_start(&f, answers, 2);
	c = client_for(&f);
	assert_int_equal(docker_call_json(c, "POST", "/x", NULL, NULL, 5000, &err), -1);
	assert_int_equal(err.cls, ERR_ENGINE);
	assert_int_equal(err.code, 500);
	assert_string_equal(err.msg, "driver failed  badly");
	docker_client_free(c);
	fake_stop(&f);
}

static int count_bytes(const char *data, size_t len, void *payload)
{
	*(size_t *)payload += len;
	return 0;
}

static void test_docker_transport__chunked_stream_closed_mid_frame_fails(void **state)
{
	/* a chunk of 0x20 bytes announced, 13 sent, then the connection closes;
	 * the multiplexed frame inside is cut as well */
	static const char cut[] =
		"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.multiplexed-"
		"stream\r\nTransfer-Encoding: chunked\r\n\r\n20\r\n"
		"\x01\x00\x00\x00\x00\x00\x00\x10hello";
	static const struct answer answers[] = {
		{PING_141},
		{cut, sizeof(cut) - 1},
	};
	struct docker_request req = {.method = "GET", .path = "/containers/x/logs"};
	struct docker_response resp;
	struct error err = ERROR_INIT;
	struct docker_client *c;
	struct buf out = BUF_INIT;
	size_t got = 0;
	struct fake f;

	fake_start(&f, answers, 2);
	c = client_for(&f);
	req.on_data = count_bytes;
	req.payload = &got;
	docker_response_init(&resp);
	assert_int_equal(docker_request(c, &req, &resp, &err), -1);
	assert_int_equal(err.cls, ERR_ENGINE);
	assert_non_null(strstr(err.msg, "broke"));
	assert_true(got <= 13);
	docker_response_release(&resp);

	error_clear(&err);
	assert_int_equal(docker_container_logs(c, "x", 10, &out, &err), -1);
	assert_int_equal(err.cls, ERR_ENGINE);
	buf_release(&out);
	docker_client_free(c);
	fake_stop(&f);
}

static void test_docker_transport__complete_stream_with_cut_frame_detected(void **state)
{
	/* the HTTP body is whole, but the last frame announces 16 bytes and has 5 */
	static const char body[] = "HTTP/1.1 200 OK\r\nContent-Length: 26\r\n\r\n"
				   "\x01\x00\x00\x00\x00\x00\x00\x06hello\n"
				   "\x02\x00\x00\x00\x00\x00\x00\x10oops";
	static const struct answer answers[] = {
		{PING_141},
		{body, sizeof(body) - 1},
	};
	struct error err = ERROR_INIT;
	struct docker_client *c;
	struct buf out = BUF_INIT;
	struct fake f;

	fake_start(&f, answers, 2);
	c = client_for(&f);
	assert_int_equal(docker_container_logs(c, "x", 10, &out, &err), -1);
	assert_non_null(strstr(err.msg, "malformed log stream"));
	buf_release(&out);
	docker_client_free(c);
	fake_stop(&f);
}

static void test_docker_transport__logs_demultiplexed(void **state)
{
	static const char body[] = "HTTP/1.1 200 OK\r\nContent-Length: 28\r\n\r\n"
				   "\x01\x00\x00\x00\x00\x00\x00\x06hello\n"
				   "\x02\x00\x00\x00\x00\x00\x00\x06world\n";
	static const struct answer answers[] = {
		{PING_141},
		{body, sizeof(body) - 1},
	};
	struct error err = ERROR_INIT;
	struct docker_client *c;
	struct buf out = BUF_INIT;
	struct fake f;

	fake_start(&f, answers, 2);
	c = client_for(&f);
	assert_int_equal(docker_container_logs(c, "x", 5, &out, &err), 0);
	assert_string_equal(buf_str(&out), "hello\nworld\n");
	assert_non_null(
		strstr(f.requests[1], "GET /v1.41/containers/x/logs?stdout=1&stderr=1&tail=5 "));
	buf_release(&out);
	docker_client_free(c);
	fake_stop(&f);
}

static void test_docker_transport__missing_socket_says_cannot_reach(void **state)
{
	struct error err = ERROR_INIT;
	struct docker_client *c;
	char host[128], want[256];
	char dir[] = "/tmp/test-docker-nosock-XXXXXX";

	assert_non_null(mkdtemp(dir));
	snprintf(host, sizeof(host), "unix://%s/docker.sock", dir);
	c = docker_client_new(host, &err);
	assert_non_null(c);
	assert_int_equal(docker_ping(c, &err), -1);
	assert_int_equal(err.cls, ERR_ENGINE);
	snprintf(want, sizeof(want),
		 "cannot reach the Docker engine at %s: no such socket; is dockerd running? "
		 "(systemctl start docker)",
		 host);
	assert_string_equal(err.msg, want);
	assert_null(strchr(err.msg, '\n'));
	docker_client_free(c);
	rmdir(dir);
}

static void test_docker_transport__nobody_listening_says_connection_refused(void **state)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct error err = ERROR_INIT;
	struct docker_client *c;
	char host[160], want[512];
	char dir[] = "/tmp/test-docker-refused-XXXXXX";
	int fd;

	/* a socket file that exists but that nobody listens on */
	assert_non_null(mkdtemp(dir));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/docker.sock", dir);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	snprintf(host, sizeof(host), "unix://%s", sa.sun_path);
	c = docker_client_new(host, &err);
	assert_non_null(c);
	assert_int_equal(docker_container_remove(c, "x", 1, 0, &err), -1);
	snprintf(want, sizeof(want),
		 "remove container x: cannot reach the Docker engine at %s: connection refused; is "
		 "dockerd running? (systemctl start docker)",
		 host);
	assert_string_equal(err.msg, want);
	assert_int_equal(err.cls, ERR_ENGINE);
	docker_client_free(c);
	unlink(sa.sun_path);
	rmdir(dir);
}

static void test_docker_transport__request_count_and_lazy_ping(void **state)
{
	static const struct answer answers[] = {
		{PING_141},
		{"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
		 "2\r\n\r\n[]"},
	};
	struct error err = ERROR_INIT;
	struct docker_client *c;
	json_object *out = NULL;
	const char *const labels[] = {"io.executor.job=1", NULL};
	struct fake f;

	fake_start(&f, answers, 2);
	c = client_for(&f);
	assert_int_equal(docker_request_count(c), 0);
	assert_string_equal(docker_api_version(c), "");
	/* the first request negotiates first */
	assert_int_equal(docker_container_list(c, labels, 1, &out, &err), 0);
	assert_int_equal(docker_request_count(c), 2);
	assert_string_equal(docker_api_version(c), "1.41");
	json_object_put(out);
	assert_int_equal(docker_network_list(c, NULL, &out, &err), 0);
	json_object_put(out);
	assert_int_equal(docker_call_json(c, "GET", "/info", NULL, NULL, 1000, &err), 0);
	assert_int_equal(docker_request_count(c), 4);
	docker_client_free(c);
	fake_join(&f);
	assert_int_equal(f.n_requests, 4);
	assert_non_null(strstr(f.requests[0], "GET /_ping HTTP/1.1\r\n"));
	assert_non_null(strstr(f.requests[1],
			       "GET /v1.41/containers/json?all=1&filters=%7B%22label%22%3A%5B%22io."
			       "executor.job%3D1%22%5D%7D HTTP/1.1\r\n"));
	assert_non_null(strstr(f.requests[2], "GET /v1.41/networks?filters=%7B%7D HTTP/1.1\r\n"));
	assert_non_null(strstr(f.requests[3], "GET /v1.41/info HTTP/1.1\r\n"));
	fake_stop(&f);
}

static void test_docker_transport__version_capped_at_1_43(void **state)
{
	static const struct answer answers[] = {
		{"HTTP/1.1 200 OK\r\nAPI-VERSION: 1.45\r\nContent-Length: 2\r\n\r\nOK"},
	};
	static const struct answer old[] = {
		{"HTTP/1.1 200 OK\r\nApi-Version: 1.24\r\nContent-Length: 2\r\n\r\nOK"},
	};
	static const struct answer none[] = {
		{"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK"},
	};
	struct error err = ERROR_INIT;
	struct docker_client *c;
	struct fake f;

	fake_start(&f, answers, 1);
	c = client_for(&f);
	assert_int_equal(docker_ping(c, &err), 0);
	assert_string_equal(docker_api_version(c), "1.43");
	assert_int_equal(docker_call_json(c, "GET", "/info", NULL, NULL, 1000, &err), 0);
	docker_client_free(c);
	fake_join(&f);
	assert_non_null(strstr(f.requests[1], "GET /v1.43/info HTTP/1.1\r\n"));
	fake_stop(&f);

	fake_start(&f, old, 1);
	c = client_for(&f);
	assert_int_equal(docker_ping(c, &err), -1);
	assert_non_null(strstr(err.msg, "speaks API 1.24"));
	docker_client_free(c);
	fake_stop(&f);

	fake_start(&f, none, 1);
	c = client_for(&f);
	assert_int_equal(docker_ping(c, &err), -1);
	assert_non_null(strstr(err.msg, "without an Api-Version header"));
	docker_client_free(c);
	fake_stop(&f);
}

static void test_docker_transport__plain_tcp_host_refused_clearly(void **state)
{
	struct error err = ERROR_INIT;
	char *saved = getenv("DOCKER_HOST") ? strdup(getenv("DOCKER_HOST")) : NULL;
	char *tls = getenv("DOCKER_TLS_VERIFY") ? strdup(getenv("DOCKER_TLS_VERIFY")) : NULL;

	/* without TLS, and without the admin's docker_tls = false: refused */
	unsetenv("DOCKER_TLS_VERIFY");
	setenv("DOCKER_HOST", "tcp://127.0.0.1:2376", 1);
	assert_null(docker_client_new(NULL, &err));
	assert_int_equal(err.cls, ERR_CONFIG);
	assert_non_null(strstr(err.msg, "tcp://127.0.0.1:2376"));
	assert_non_null(strstr(err.msg, "docker_tls = false"));
	assert_null(strchr(err.msg, '\n'));

	assert_null(docker_client_new("tcp://host:notaport", &err));
	assert_non_null(strstr(err.msg, "malformed port"));
	assert_null(docker_client_new("unix://relative.sock", &err));
	if (tls) {
		setenv("DOCKER_TLS_VERIFY", tls, 1);
		free(tls);
	}

	if (saved) {
		setenv("DOCKER_HOST", saved, 1);
		free(saved);
	} else {
		unsetenv("DOCKER_HOST");
	}
}

static void test_docker_transport__docker_host_unix_honoured(void **state)
{
	struct error err = ERROR_INIT;
	struct docker_client *c;
	char *saved = getenv("DOCKER_HOST") ? strdup(getenv("DOCKER_HOST")) : NULL;

	setenv("DOCKER_HOST", "unix:///run/other.sock", 1);
	c = docker_client_new(NULL, &err);
	assert_non_null(c);
	assert_string_equal(docker_client_host(c), "unix:///run/other.sock");
	docker_client_free(c);
	unsetenv("DOCKER_HOST");
	c = docker_client_new(NULL, &err);
	assert_string_equal(docker_client_host(c), "unix:///var/run/docker.sock");
	docker_client_free(c);
	if (saved) {
		setenv("DOCKER_HOST", saved, 1);
		free(saved);
	}
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void test_docker_transport__timeout_per_call(void **state)
{
	static const struct answer answers[] = {
		{PING_141},
		{"", 0, ANSWER_STALL},
	};
	struct error err = ERROR_INIT;
	struct docker_client *c;
	struct fake f;
	long t0;

	fake_start(&f, answers, 2);
	c = client_for(&f);
	t0 = now_ms();
	assert_int_equal(docker_call_json(c, "GET", "/slow", NULL, NULL, 300, &err), -1);
	assert_true(now_ms() - t0 < 2000);
	assert_int_equal(err.cls, ERR_ENGINE);
	assert_non_null(strstr(err.msg, "did not answer within 300 ms"));
	docker_client_free(c);
	fake_stop(&f);
}

/* The way the driver cancels: a signal handler sets the flag. */
static volatile sig_atomic_t cancel_flag;

static void on_sigusr1(int sig)
{
	cancel_flag = 1;
}

struct canceler {
	pthread_t target;
	int delay_ms;
};

static void *signal_later(void *arg)
{
	struct canceler *k = arg;

	usleep((useconds_t)k->delay_ms * 1000);
	pthread_kill(k->target, SIGUSR1);
	return NULL;
}

static void test_docker_transport__cancel_flag_aborts_request(void **state)
{
	static const struct answer answers[] = {
		{PING_141},
		{"", 0, ANSWER_STALL},
	};
	struct canceler k = {.target = pthread_self(), .delay_ms = 350};
	struct docker_request req = {.method = "POST", .path = "/containers/x/wait"};
	struct sigaction sa = {.sa_handler = on_sigusr1}, old;
	struct docker_response resp;
	struct error err = ERROR_INIT;
	struct docker_client *c;
	pthread_t th;
	struct fake f;
	long t0, took;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, &old);
	fake_start(&f, answers, 2);
	c = client_for(&f);
	assert_int_equal(docker_ping(c, &err), 0);
	cancel_flag = 0;
	req.cancel = &cancel_flag;
	docker_response_init(&resp);
	t0 = now_ms();
	pthread_create(&th, NULL, signal_later, &k);
	assert_int_equal(docker_request(c, &req, &resp, &err), -1);
	took = now_ms() - t0;
	pthread_join(th, NULL);
	assert_int_equal(err.cls, ERR_CANCELED);
	/* the signal wakes libcurl's poll: no waiting for its 1 s tick */
	assert_true(took >= 340 && took < 900);
	/* a set client flag refuses at once */
	docker_client_set_cancel(c, &cancel_flag);
	assert_int_equal(docker_call_json(c, "GET", "/info", NULL, NULL, 0, &err), -1);
	assert_int_equal(err.cls, ERR_CANCELED);
	docker_response_release(&resp);
	docker_client_free(c);
	fake_stop(&f);
	sigaction(SIGUSR1, &old, NULL);
}

static int collect(int stream, const char *data, size_t len, void *payload)
{
	struct buf *bufs = payload;

	return buf_append(&bufs[stream == 2 ? 1 : 0], data, len);
}

static void test_docker_exec__hijacked_stdin_echoed_and_demultiplexed(void **state)
{
	static const struct answer answers[] = {
		{PING_141},
		{"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
		 "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n",
		 0, ANSWER_ECHO},
	};
	struct buf bufs[2] = {BUF_INIT, BUF_INIT};
	struct docker_exec_io io = {.stdin_data = "echo hi\nexit 42\n",
				    .stdin_len = 16,
				    .on_output = collect,
				    .payload = bufs};
	struct error err = ERROR_INIT;
	struct docker_client *c;
	struct fake f;

	fake_start(&f, answers, 2);
	c = client_for(&f);
	assert_int_equal(docker_exec_start(c, "abc123", &io, &err), 0);
	assert_string_equal(buf_str(&bufs[0]), "echo hi\nexit 42\n");
	assert_string_equal(buf_str(&bufs[1]), "done");
	assert_int_equal(docker_request_count(c), 2);
	docker_client_free(c);
	fake_join(&f);
	assert_non_null(strstr(f.requests[1], "POST /v1.41/exec/abc123/start HTTP/1.1\r\n"));
	assert_non_null(strstr(f.requests[1], "\r\nConnection: Upgrade\r\n"));
	assert_non_null(strstr(f.requests[1], "\r\nUpgrade: tcp\r\n"));
	assert_non_null(strstr(f.requests[1], "\r\n\r\n{\"Detach\":false,\"Tty\":false}"));
	fake_stop(&f);
	buf_release(&bufs[0]);
	buf_release(&bufs[1]);
}

static void test_docker_exec__hijack_error_answer_decoded(void **state)
{
	static const struct answer answers[] = {
		{PING_141},
		{"HTTP/1.1 409 Conflict\r\nContent-Type: application/json\r\n"
		 "Transfer-Encoding: chunked\r\n\r\n"
		 "2b\r\n{\"message\":\"Container abc is not running\"}\n\r\n0\r\n\r\n"},
	};
	struct error err = ERROR_INIT;
	struct docker_client *c;
	struct fake f;

	fake_start(&f, answers, 2);
	c = client_for(&f);
	assert_int_equal(docker_exec_start(c, "abc", NULL, &err), -1);
	assert_int_equal(err.code, 409);
	assert_int_equal(err.cls, ERR_ENGINE);
	assert_non_null(strstr(err.msg, "Container abc is not running"));
	docker_client_free(c);
	fake_stop(&f);
}

static void test_docker_pull__error_inside_200_stream_is_pull_error(void **state)
{
	static const struct answer answers[] = {
		{PING_141},
		{"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n"
		 "{\"status\":\"Pulling from library/busybox\",\"id\":\"latest\"}\r\n"
		 "{\"errorDetail\":{\"message\":\"toomanyrequests: rate limit\"},"
		 "\"error\":\"toomanyrequests: rate limit\"}\r\n"},
	};
	struct error err = ERROR_INIT;
	struct docker_client *c;
	struct fake f;

	fake_start(&f, answers, 2);
	c = client_for(&f);
	assert_int_equal(docker_image_pull(c, "busybox", "e30=", NULL, NULL, &err), -1);
	assert_int_equal(err.cls, ERR_PULL);
	assert_string_equal(err.msg, "pull busybox: toomanyrequests: rate limit");
	docker_client_free(c);
	fake_join(&f);
	/* a missing tag is :latest, never every tag */
	assert_non_null(
		strstr(f.requests[1],
		       "POST /v1.41/images/create?fromImage=busybox&tag=latest HTTP/1.1\r\n"));
	assert_non_null(strstr(f.requests[1], "\r\nX-Registry-Auth: e30=\r\n"));
	fake_stop(&f);
}

#define DIGEST "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"

static void test_docker_pull__http_error_and_references(void **state)
{
	static const struct answer answers[] = {
		{PING_141},
		{"HTTP/1.1 404 Not Found\r\nContent-Length: 49\r\n\r\n"
		 "{\"message\":\"manifest for reg:5000/a/b:1 unknown\"}"},
		{"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"},
	};
	struct error err = ERROR_INIT;
	struct docker_client *c;
	struct fake f;

	fake_start(&f, answers, 3);
	c = client_for(&f);
	assert_int_equal(docker_image_pull(c, "reg:5000/a/b:1", NULL, NULL, NULL, &err), -1);
	assert_int_equal(err.cls, ERR_PULL);
	assert_int_equal(err.code, 404);
	assert_int_equal(docker_image_pull(c, "reg:5000/a/b", NULL, NULL, NULL, &err), 0);
	assert_int_equal(docker_image_pull(c, "a/b:2@sha256:" DIGEST, NULL, NULL, NULL, &err), 0);
	/* not a reference: refused before any request (the fake answers three) */
	assert_int_equal(docker_image_pull(c, "a/b@sha256:abc", NULL, NULL, NULL, &err), -1);
	assert_int_equal(err.cls, ERR_JOB);
	docker_client_free(c);
	fake_join(&f);
	assert_non_null(strstr(f.requests[1], "fromImage=reg%3A5000%2Fa%2Fb&tag=1 "));
	assert_non_null(strstr(f.requests[2], "fromImage=reg%3A5000%2Fa%2Fb&tag=latest "));
	assert_non_null(strstr(f.requests[3], "fromImage=a%2Fb&tag=sha256%3A" DIGEST " "));
	fake_stop(&f);
}

static void test_docker_remove__missing_objects_are_success(void **state)
{
	static const struct answer answers[] = {
		{PING_141},
		{"HTTP/1.1 404 Not Found\r\nContent-Length: 31\r\n\r\n{\"message\":\"No such "
		 "thing: x\"}\n"},
	};
	struct error err = ERROR_INIT;
	struct docker_client *c;
	struct fake f;

	fake_start(&f, answers, 2);
	c = client_for(&f);
	assert_int_equal(docker_container_remove(c, "x", 1, 1, &err), 0);
	assert_int_equal(docker_network_remove(c, "x", &err), 0);
	assert_int_equal(docker_volume_remove(c, "x", 0, &err), 0);
	assert_int_equal(err.cls, ERR_NONE);
	/* but inspect of a missing object is a 404 */
	assert_int_equal(docker_volume_inspect(c, "x", NULL, &err), -1);
	assert_int_equal(err.code, 404);
	docker_client_free(c);
	fake_stop(&f);
}

static void
test_docker_transport__cached_version_skips_ping_and_renegotiates_when_refused(void **state)
{
	static const struct answer answers[] = {
		{"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
		 "2\r\n\r\n{}"},
		{"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: "
		 "83\r\n"
		 "\r\n{\"message\":\"client version 1.43 is too new. Maximum supported API version "
		 "is "
		 "1.41\"}"},
		{PING_141},
		{"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
		 "2\r\n\r\n{}"},
	};
	struct error err = ERROR_INIT;
	struct docker_client *c;
	struct fake f;

	fake_start(&f, answers, 4);
	c = client_for(&f);
	/* only versions this client speaks are taken */
	assert_int_equal(docker_client_set_api_version(c, "1.12"), -1);
	assert_int_equal(docker_client_set_api_version(c, "1.99"), -1);
	assert_int_equal(docker_client_set_api_version(c, "x"), -1);
	assert_int_equal(docker_client_set_api_version(c, ""), -1);
	assert_string_equal(docker_api_version(c), "");
	assert_int_equal(docker_client_set_api_version(c, "1.43"), 0);
	assert_int_equal(docker_client_version_negotiated(c), 0);
	/* no ping before the first request */
	assert_int_equal(docker_call_json(c, "GET", "/info", NULL, NULL, 1000, &err), 0);
	assert_int_equal(docker_request_count(c), 1);
	/* the engine changed: the refusal leads to a ping and the request again */
	assert_int_equal(docker_call_json(c, "GET", "/info", NULL, NULL, 1000, &err), 0);
	assert_int_equal(err.cls, ERR_NONE);
	assert_string_equal(docker_api_version(c), "1.41");
	assert_int_equal(docker_client_version_negotiated(c), 1);
	docker_client_free(c);
	fake_join(&f);
	assert_int_equal(f.n_requests, 4);
	assert_non_null(strstr(f.requests[0], "GET /v1.43/info HTTP/1.1\r\n"));
	assert_non_null(strstr(f.requests[1], "GET /v1.43/info HTTP/1.1\r\n"));
	assert_non_null(strstr(f.requests[2], "GET /_ping HTTP/1.1\r\n"));
	assert_non_null(strstr(f.requests[3], "GET /v1.41/info HTTP/1.1\r\n"));
	fake_stop(&f);
}

static void test_docker_transport__other_400_is_not_retried(void **state)
{
	static const struct answer answers[] = {
		{"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: "
		 "27\r\n"
		 "\r\n{\"message\":\"invalid name\"}"},
	};
	struct error err = ERROR_INIT;
	struct docker_client *c;
	struct fake f;

	fake_start(&f, answers, 1);
	c = client_for(&f);
	assert_int_equal(docker_client_set_api_version(c, "1.41"), 0);
	assert_int_equal(docker_call_json(c, "GET", "/info", NULL, NULL, 1000, &err), -1);
	assert_int_equal(err.code, 400);
	docker_client_free(c);
	fake_join(&f);
	assert_int_equal(f.n_requests, 1);
	fake_stop(&f);
}

struct seen_events {
	int n;
	int stop_at; /* 0: never */
	char actions[4][64];
};

static int on_test_event(json_object *ev, void *payload)
{
	struct seen_events *s = payload;
	json_object *a;

	if (s->n < 4 && json_object_object_get_ex(ev, "Action", &a))
		snprintf(s->actions[s->n], sizeof(s->actions[0]), "%s", json_object_get_string(a));
	s->n++;
	return s->stop_at && s->n >= s->stop_at;
}

#define EVENTS_HEAD "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
#define EVENT_START "{\"Type\":\"container\",\"Action\":\"start\",\"timeNano\":1}\n"
#define EVENT_HEALTHY                                                                              \
	"{\"Type\":\"container\",\"Action\":\"health_status: healthy\",\"Actor\":{\"Attributes\":" \
	"{\"name\":\"a\"}},\"timeNano\":2}\n"

static void test_docker_events__stream_decoded_until_the_reader_has_what_it_waits_for(void **state)
{
	static const struct answer answers[] = {
		{EVENTS_HEAD EVENT_START EVENT_HEALTHY},
		{EVENTS_HEAD EVENT_START},
	};
	struct error err = ERROR_INIT;
	struct seen_events seen = {.stop_at = 2};
	json_object *filters = json_object_new_object(), *a = json_object_new_array();
	struct docker_client *c;
	struct fake f;

	json_object_array_add(a, json_object_new_string("health_status"));
	json_object_object_add(filters, "event", a);
	fake_start(&f, answers, 2);
	c = client_for(&f);
	assert_int_equal(docker_client_set_api_version(c, "1.41"), 0);
	/* the reader says "done" at the second event: 0 */
	assert_int_equal(docker_events(c, 1700000000123456789LL, 1700000001000000000LL, filters,
				       on_test_event, &seen, &err),
			 0);
	assert_int_equal(seen.n, 2);
	assert_string_equal(seen.actions[0], "start");
	assert_string_equal(seen.actions[1], "health_status: healthy");
	/* the stream ends (until reached) before the reader is done: 1 */
	seen.n = 0;
	seen.stop_at = 0;
	assert_int_equal(docker_events(c, 1, 2, NULL, on_test_event, &seen, &err), 1);
	assert_int_equal(seen.n, 1);
	json_object_put(filters);
	docker_client_free(c);
	fake_join(&f);
	assert_non_null(strstr(f.requests[0], "GET /v1.41/events?since=1700000000.123456789&until="
					      "1700000001.000000000&filters=%7B%22event%22%3A%5B%"
					      "22health_status%22%5D%7D HTTP/1.1\r\n"));
	fake_stop(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_docker_transport__404_json_body_gives_code_and_message),
		cmocka_unit_test(test_docker_transport__500_plain_text_body_is_the_message),
		cmocka_unit_test(test_docker_transport__chunked_stream_closed_mid_frame_fails),
		cmocka_unit_test(test_docker_transport__complete_stream_with_cut_frame_detected),
		cmocka_unit_test(test_docker_transport__logs_demultiplexed),
		cmocka_unit_test(test_docker_transport__missing_socket_says_cannot_reach),
		cmocka_unit_test(test_docker_transport__nobody_listening_says_connection_refused),
		cmocka_unit_test(test_docker_transport__request_count_and_lazy_ping),
		cmocka_unit_test(test_docker_transport__version_capped_at_1_43),
		cmocka_unit_test(
			test_docker_transport__cached_version_skips_ping_and_renegotiates_when_refused),
		cmocka_unit_test(test_docker_transport__other_400_is_not_retried),
		cmocka_unit_test(
			test_docker_events__stream_decoded_until_the_reader_has_what_it_waits_for),
		cmocka_unit_test(test_docker_transport__plain_tcp_host_refused_clearly),
		cmocka_unit_test(test_docker_transport__docker_host_unix_honoured),
		cmocka_unit_test(test_docker_transport__timeout_per_call),
		cmocka_unit_test(test_docker_transport__cancel_flag_aborts_request),
		cmocka_unit_test(test_docker_exec__hijacked_stdin_echoed_and_demultiplexed),
		cmocka_unit_test(test_docker_exec__hijack_error_answer_decoded),
		cmocka_unit_test(test_docker_pull__error_inside_200_stream_is_pull_error),
		cmocka_unit_test(test_docker_pull__http_error_and_references),
		cmocka_unit_test(test_docker_remove__missing_objects_are_success),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
