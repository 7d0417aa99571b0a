/* SPDX-License-Identifier: MIT */
/*
 * How an image is had (docker/imagepull.c): the pull policies of a job bounded by
 * the admin's, the credentials in GitLab's order, and the pulls themselves
 * against a fake engine (a thread answering one canned reply per connection
 * on a unix socket, recording each request).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/fs.h"
#include "common/log.h"
#include "docker/imagepull.h"
#include "gitlab/registry.h"

/* ---- a fake engine ---- */

#define MAX_REQ 8

struct fake {
	char dir[64], sock[100], host[120];
	int fd;
	pthread_t thread;
	const char *const *answers;
	size_t n_answers;
	char *req[MAX_REQ];
	size_t n_req;
	volatile int stop;
};

#define PING "HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Length: 2\r\n\r\nOK"
#define ABSENT                                                                                     \
	"HTTP/1.1 404 Not Found\r\nContent-Length: 39\r\n\r\n{\"message\":\"No such image: "       \
	"reg/app:1\"}\n"
#define INSPECT_200 "HTTP/1.1 200 OK\r\nContent-Length: 14\r\n\r\n{\"Id\":\"sha1\"}\n"
#define PULLED                                                                                     \
	"HTTP/1.1 200 OK\r\nContent-Length: 37\r\n\r\n{\"status\":\"Downloaded newer image\"}\r\n"
#define REFUSED                                                                                    \
	"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 52\r\n\r\n"                         \
	"{\"message\":\"unauthorized: authentication required\"}"
#define UNKNOWN                                                                                    \
	"HTTP/1.1 404 Not Found\r\nContent-Length: 47\r\n\r\n"                                     \
	"{\"message\":\"manifest for reg/app:1 not found\"}\n"

static char *read_req(int fd)
{
	struct buf b = BUF_INIT;
	char chunk[4096];

	for (;;) {
		ssize_t n = recv(fd, chunk, sizeof(chunk), 0);

		if (n <= 0)
			break;
		buf_append(&b, chunk, (size_t)n);
		if (strstr(buf_str(&b), "\r\n\r\n"))
			break; /* these tests send no bodies */
	}
	return buf_detach(&b, NULL);
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;
	size_t served = 0;

	while (!f->stop) {
		struct pollfd pfd = {.fd = f->fd, .events = POLLIN};
		const char *a;
		int c;

		if (poll(&pfd, 1, 20) <= 0)
			continue;
		c = accept(f->fd, NULL, NULL);
		if (c < 0)
			continue;
		if (f->n_req < MAX_REQ)
			f->req[f->n_req++] = read_req(c);
		a = f->answers[served < f->n_answers ? served : f->n_answers - 1];
		served++;
		(void)!send(c, a, strlen(a), MSG_NOSIGNAL);
		close(c);
	}
	return NULL;
}

static struct docker_client *fake_start(struct fake *f, const char *const *answers, size_t n)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct error err = ERROR_INIT;
	struct docker_client *c;

	memset(f, 0, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/test-stages-image-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->sock, sizeof(f->sock), "%s/docker.sock", f->dir);
	snprintf(f->host, sizeof(f->host), "unix://%s", f->sock);
	f->answers = answers;
	f->n_answers = n;
	f->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->sock);
	assert_int_equal(bind(f->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(f->fd, 8), 0);
	assert_int_equal(pthread_create(&f->thread, NULL, fake_main, f), 0);
	c = docker_client_new(f->host, &err);
	assert_non_null(c);
	return c;
}

/* Stop; the requests stay readable until fake_free. */
static void fake_join(struct fake *f, struct docker_client *c)
{
	docker_client_free(c);
	f->stop = 1;
	pthread_join(f->thread, NULL);
	close(f->fd);
}

static void fake_free(struct fake *f)
{
	struct error err = ERROR_INIT;

	while (f->n_req)
		free(f->req[--f->n_req]);
	fs_remove_tree(f->dir, &err);
}

static int starts(const char *req, const char *prefix)
{
	return req && !strncmp(req, prefix, strlen(prefix));
}

/* ---- pull policies ---- */

static void admin(struct config *cfg, const char *text)
{
	struct error err = ERROR_INIT;

	config_defaults(cfg);
	assert_int_equal(config_parse(cfg, "t", text, &err), 0);
}

static const char *policies(const struct image_pull *p)
{
	static char out[64];

	return pull_policies_str(&p->policies, out, sizeof(out));
}

static void test_image_pull__job_policy_bounded_by_the_admin(void **state)
{
	struct config cfg;
	struct image_pull p;
	struct error err = ERROR_INIT;
	json_object *req;

	/* the admin's own list when the job names none */
	admin(&cfg, "pull_policy = always, if-not-present\n");
	assert_int_equal(image_pull_for_job(&p, &cfg, NULL, NULL, "image", "reg/app:1", &err), 0);
	assert_string_equal(policies(&p), "always, if-not-present");
	req = json_object_new_array();
	assert_int_equal(image_pull_for_job(&p, &cfg, NULL, req, "image", "reg/app:1", &err), 0);
	assert_string_equal(policies(&p), "always, if-not-present");
	json_object_put(req);

	/* a string or a list; allowed defaults to pull_policy; the job's order */
	req = json_object_new_string("if-not-present");
	assert_int_equal(image_pull_for_job(&p, &cfg, NULL, req, "image", "reg/app:1", &err), 0);
	assert_string_equal(policies(&p), "if-not-present");
	json_object_put(req);
	req = json_tokener_parse("[\"never\", \"if-not-present\", \"always\"]");
	assert_int_equal(image_pull_for_job(&p, &cfg, NULL, req, "image", "reg/app:1", &err), 0);
	assert_string_equal(policies(&p), "if-not-present, always");
	json_object_put(req);

	/* none allowed: refused, naming the policy and the allowed ones */
	req = json_tokener_parse("[\"never\"]");
	assert_int_equal(image_pull_for_job(&p, &cfg, NULL, req, "service image", "reg/db:2", &err),
			 -1);
	assert_int_equal(err.cls, ERR_POLICY);
	assert_string_equal(
		err.msg, "service image reg/db:2: pull_policy never is not allowed on this runner; "
			 "allowed_pull_policies: always, if-not-present (use one of them, or ask "
			 "the runner admin to extend allowed_pull_policies)");
	json_object_put(req);

	/* not a pull policy at all: the job's mistake */
	req = json_object_new_string("sometimes");
	assert_int_equal(image_pull_for_job(&p, &cfg, NULL, req, "image", "reg/app:1", &err), -1);
	assert_int_equal(err.cls, ERR_JOB);
	assert_string_equal(err.msg, "image reg/app:1: pull_policy \"sometimes\" is not a pull "
				     "policy; use always, if-not-present or never");
	json_object_put(req);
	config_release(&cfg);

	/* allowed_pull_policies widens what a job may ask for */
	admin(&cfg, "allowed_pull_policies = never, if-not-present\n");
	req = json_object_new_string("never");
	assert_int_equal(image_pull_for_job(&p, &cfg, NULL, req, "image", "reg/app:1", &err), 0);
	assert_string_equal(policies(&p), "never");
	assert_false(image_pull_can_pull(&p));
	json_object_put(req);
	image_pull_admin(&p, &cfg, NULL);
	assert_string_equal(policies(&p), "if-not-present");
	assert_true(image_pull_can_pull(&p));
	config_release(&cfg);
}

/* ---- credentials in GitLab's order ---- */

static void test_image_auth__sources_in_gitlab_order(void **state)
{
	char file[] = "/tmp/test-stages-image-authXXXXXX";
	const char *file_json =
		"{\"auths\":{\"reg:5000\":{\"username\":\"file\",\"password\":"
		"\"pw-file-1\"},\"file.example\":{\"username\":\"file\",\"password\":"
		"\"pw-file-2\"}}}";
	struct gitlab_credential creds[] = {
		{"reg:5000", "gitlab-ci-token", "pw-gitlab-1"},
		{"gitlab.example:5005", "gitlab-ci-token", "pw-gitlab-2"},
		{"file.example", "gitlab-ci-token", "pw-gitlab-3"},
	};
	struct gitlab_job job = {.credentials = creds, .ncredentials = 3};
	struct registry_auth a = REGISTRY_AUTH_INIT;
	const struct registry_cred *c;
	struct config cfg;
	char cfgtext[512];
	int fd = mkstemp(file);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, file_json, strlen(file_json)), (int)strlen(file_json));
	close(fd);
	snprintf(cfgtext, sizeof(cfgtext),
		 "docker_auth_config = {\"auths\": {\"reg:5000\": {\"username\": \"inline\", "
		 "\"password\": \"pw-inline-1\"}, \"inline.example\": {\"username\": \"inline\", "
		 "\"password\": \"pw-inline-2\"}}}\n"
		 "docker_auth_file = %s\n",
		 file);
	admin(&cfg, cfgtext);

	setenv("CUSTOM_ENV_DOCKER_AUTH_CONFIG",
	       "{\"auths\":{\"https://reg:5000/v2/\":{\"auth\":\"am9iOnB3LWpvYi0x\"}}}", 1);
	gitlab_registry_auth(&a, &cfg, &job);
	c = registry_auth_find(&a, "reg:5000/g/app:1");
	assert_string_equal(c->username, "job");
	assert_string_equal(c->source, "DOCKER_AUTH_CONFIG");
	assert_int_equal(c->origin, REGISTRY_AUTH_JOB);
	c = registry_auth_find(&a, "inline.example/app");
	assert_string_equal(c->source, "the admin's docker_auth_config");
	assert_int_equal(c->origin, REGISTRY_AUTH_ADMIN);
	c = registry_auth_find(&a, "gitlab.example:5005/g/app");
	assert_string_equal(c->source, "GitLab's registry credentials for this job");
	assert_int_equal(c->origin, REGISTRY_AUTH_GITLAB);
	/* the payload comes before the admin's file */
	assert_string_equal(registry_auth_find(&a, "file.example/x")->password, "pw-gitlab-3");
	registry_auth_release(&a);

	/* a DOCKER_AUTH_CONFIG that is no config.json is skipped; the rest stays */
	setenv("CUSTOM_ENV_DOCKER_AUTH_CONFIG", "{\"auths\": oops", 1);
	job.ncredentials = 0;
	gitlab_registry_auth(&a, &cfg, &job);
	assert_string_equal(registry_auth_find(&a, "reg:5000/app")->username, "inline");
	assert_string_equal(registry_auth_find(&a, "file.example/x")->username, "file");
	assert_non_null(
		strstr(registry_auth_find(&a, "file.example/x")->source, "docker_auth_file"));
	assert_non_null(strstr(registry_auth_find(&a, "file.example/x")->source, file));
	registry_auth_release(&a);
	unsetenv("CUSTOM_ENV_DOCKER_AUTH_CONFIG");

	/* a local command (no job): the environment's DOCKER_AUTH_CONFIG */
	setenv("DOCKER_AUTH_CONFIG",
	       "{\"auths\":{\"local.example\":{\"auth\":\"bDpwdy1sb2NhbA==\"}}}", 1);
	unlink(file); /* a missing docker_auth_file is a warning, not an error */
	gitlab_registry_auth(&a, &cfg, NULL);
	assert_string_equal(registry_auth_find(&a, "local.example/x")->username, "l");
	assert_null(registry_auth_find(&a, "file.example/x"));
	registry_auth_release(&a);
	unsetenv("DOCKER_AUTH_CONFIG");
	config_release(&cfg);
}

/* ---- pulls ---- */

static void job_creds(struct registry_auth *a, enum registry_auth_origin origin)
{
	struct error err = ERROR_INIT;

	assert_int_equal(registry_auth_add(a, "reg:5000", "e2e", "pw-refused-1",
					   origin == REGISTRY_AUTH_JOB ? "DOCKER_AUTH_CONFIG"
								       : "docker_auth_file /x.json",
					   origin, &err),
			 1);
}

static void pull_with(struct image_pull *p, const struct registry_auth *a, const char *list)
{
	struct config cfg;
	char text[128];

	snprintf(text, sizeof(text), "pull_policy = %s\n", list);
	admin(&cfg, text);
	image_pull_admin(p, &cfg, a);
	config_release(&cfg);
}

static void test_image_ensure__refused_credentials_are_one_line(void **state)
{
	static const char *const answers[] = {PING, ABSENT, REFUSED};
	static const char *const always[] = {PING, REFUSED};
	struct registry_auth a = REGISTRY_AUTH_INIT;
	struct error err = ERROR_INIT;
	struct image_pull p;
	struct docker_client *c;
	struct fake f;

	/* the job's own credentials: its author's fault */
	job_creds(&a, REGISTRY_AUTH_JOB);
	pull_with(&p, &a, "if-not-present");
	c = fake_start(&f, answers, 3);
	assert_int_equal(image_ensure(c, &p, "reg:5000/e2e/app:1", &err), -1);
	fake_join(&f, c);
	assert_int_equal(err.cls, ERR_JOB);
	assert_string_equal(err.msg, "registry reg:5000 refused the credentials for "
				     "reg:5000/e2e/app:1 (from DOCKER_AUTH_CONFIG): check the user "
				     "and password");
	assert_int_equal(f.n_req, 3);
	assert_true(starts(f.req[1], "GET /v1.41/images/reg:5000/e2e/app:1/json"));
	assert_true(starts(f.req[2], "POST /v1.41/images/create?fromImage="));
	assert_non_null(strstr(f.req[2], "\r\nX-Registry-Auth: eyJ1c2VybmFtZSI6ImUyZSIs"));
	fake_free(&f);
	registry_auth_release(&a);

	/* the admin's: a system failure */
	job_creds(&a, REGISTRY_AUTH_ADMIN);
	pull_with(&p, &a, "always");
	c = fake_start(&f, always, 2);
	assert_int_equal(image_ensure(c, &p, "reg:5000/e2e/app:1", &err), -1);
	fake_join(&f, c);
	assert_int_equal(err.cls, ERR_PULL);
	assert_string_equal(err.msg,
			    "registry reg:5000 refused the credentials for "
			    "reg:5000/e2e/app:1 (from docker_auth_file /x.json): check the "
			    "user and password");
	/* always: no inspect first */
	assert_int_equal(f.n_req, 2);
	fake_free(&f);
	registry_auth_release(&a);
}

static void test_image_ensure__policies_as_gitlab_defines_them(void **state)
{
	static const char *const present[] = {PING, INSPECT_200};
	static const char *const pulled[] = {PING, PULLED};
	static const char *const fallback[] = {PING, UNKNOWN, INSPECT_200};
	static const char *const absent[] = {PING, ABSENT};
	struct error err = ERROR_INIT;
	struct image_pull p;
	struct docker_client *c;
	struct fake f;

	/* if-not-present: a present image is not pulled */
	pull_with(&p, NULL, "if-not-present");
	c = fake_start(&f, present, 2);
	assert_int_equal(image_ensure(c, &p, "reg/app:1", &err), 0);
	fake_join(&f, c);
	assert_int_equal(f.n_req, 2);
	assert_true(starts(f.req[1], "GET /v1.41/images/reg/app:1/json"));
	fake_free(&f);

	/* always: pulled, anonymously when no credential matches */
	pull_with(&p, NULL, "always");
	c = fake_start(&f, pulled, 2);
	assert_int_equal(image_ensure(c, &p, "reg/app:1", &err), 0);
	fake_join(&f, c);
	assert_int_equal(f.n_req, 2);
	assert_true(starts(f.req[1], "POST /v1.41/images/create?fromImage=reg%2Fapp&tag=1 "));
	assert_null(strstr(f.req[1], "X-Registry-Auth"));
	fake_free(&f);

	/* a list: the next policy when one fails */
	pull_with(&p, NULL, "always, if-not-present");
	c = fake_start(&f, fallback, 3);
	assert_int_equal(image_ensure(c, &p, "reg/app:1", &err), 0);
	fake_join(&f, c);
	assert_int_equal(f.n_req, 3);
	assert_true(starts(f.req[2], "GET /v1.41/images/reg/app:1/json"));
	fake_free(&f);

	/* never: an absent image fails, nothing is pulled */
	pull_with(&p, NULL, "never");
	c = fake_start(&f, absent, 2);
	assert_int_equal(image_ensure(c, &p, "reg/app:1", &err), -1);
	fake_join(&f, c);
	assert_int_equal(err.cls, ERR_PULL);
	assert_string_equal(err.msg, "image reg/app:1 is not present and pull_policy is never; "
				     "load it on the runner host or change pull_policy");
	assert_int_equal(f.n_req, 2);
	fake_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_image_pull__job_policy_bounded_by_the_admin),
		cmocka_unit_test(test_image_auth__sources_in_gitlab_order),
		cmocka_unit_test(test_image_ensure__refused_credentials_are_one_line),
		cmocka_unit_test(test_image_ensure__policies_as_gitlab_defines_them),
	};

	log_set_level(LOG_ERROR); /* the pulls' progress lines */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
