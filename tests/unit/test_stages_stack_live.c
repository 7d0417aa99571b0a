/* SPDX-License-Identifier: MIT */
/*
 * The health gate of a stack against the real engine: it waits on the
 * engine's events (health_status, die) instead of polling inspect, so a
 * healthy stack costs a handful of calls however long its checks take; an
 * unhealthy container, a container that exits and a check that never ends
 * each fail with ERR_HEALTH naming the container.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/config.h"
#include "common/fs.h"
#include "docker/docker.h"
#include "tests/unit/live_test.h"
#include "stages/stack.h"

#define IMAGE "executor-unit/busybox:stack"

static struct docker_client *client;
static struct config cfg;
static char project_dir[64] = "/tmp/test-stack-live-XXXXXX";

static void fail_with(const char *what, const struct error *err)
{
	fail_msg("%s: [%s, code %d] %s", what, error_class_name(err->cls), err->code, err->msg);
}

static int setup(void **state)
{
	struct error err = ERROR_INIT;

	client = docker_client_new(NULL, &err);
	if (!client || docker_ping(client, &err) < 0) {
		fprintf(stderr, "no Docker engine answers (run scripts/ensure-engine.sh): %s\n",
			err.msg);
		return -1;
	}
	if (!mkdtemp(project_dir))
		return -1;
	config_defaults(&cfg);
	live_import_busybox(client, "stack");
	return 0;
}

/* The image stays: another run of these tests on the same engine may be using
 * it right now (the import is idempotent; it is a single 2 MiB file). */
static int teardown(void **state)
{
	struct error err = ERROR_INIT;

	docker_client_free(client);
	config_release(&cfg);
	fs_remove_tree(project_dir, &err);
	return 0;
}

/* One service "svc" running `script` under busybox sh, with `health` as its
 * healthcheck (a busybox command line) when not NULL. */
static struct compose_project *load(const char *name, const char *script, const char *health,
				    const char *interval)
{
	char text[2048];
	const char *files[] = {"docker-compose.yml"};
	const char *contents[] = {text};
	struct compose_load_opts o = {0};
	struct compose_project *p = NULL;
	struct error err = ERROR_INIT;
	int n;

	n = snprintf(text, sizeof(text),
		     "services:\n"
		     "  svc:\n"
		     "    image: " IMAGE "\n"
		     "    container_name: %s-svc\n"
		     "    entrypoint: [\"/bin/busybox\", \"sh\", \"-c\"]\n"
		     "    command: [\"%s\"]\n",
		     name, script);
	if (health)
		snprintf(text + n, sizeof(text) - (size_t)n,
			 "    healthcheck:\n"
			 "      test: [\"CMD\", \"/bin/busybox\", \"sh\", \"-c\", \"%s\"]\n"
			 "      interval: %s\n"
			 "      retries: 1\n",
			 health, interval);
	o.files = files;
	o.contents = contents;
	o.nfiles = 1;
	o.project_name = name;
	o.project_dir = project_dir;
	if (compose_load(&o, &p, NULL, &err) < 0)
		fail_msg("%s", err.msg);
	return p;
}

static void init_stack(struct stack *s, struct compose_project *p, int timeout_s)
{
	memset(s, 0, sizeof(*s));
	s->docker = client;
	s->cfg = &cfg;
	s->project = p;
	s->mode = STACK_REPLACE;
	s->layer = "color";
	s->app = "unit";
	s->env = "unit";
	s->color = "green";
	s->config_files = "docker-compose.yml";
	s->health_timeout_s = timeout_s;
}

static const char *name_buf(const char *name, const char *suffix)
{
	static char out[128];

	snprintf(out, sizeof(out), "%s%s", name, suffix);
	return out;
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

/* Up, then the gate: its result, with the calls it made and the time it took. */
static int up_and_wait(const char *name, const char *script, const char *health,
		       const char *interval, int timeout_s, struct error *err, unsigned long *calls,
		       double *took)
{
	struct compose_project *p = load(name, script, health, interval);
	struct stack_report rep = {0};
	struct error derr = ERROR_INIT;
	struct stack s;
	unsigned long before;
	double t0;
	int rc;

	init_stack(&s, p, timeout_s);
	stack_down(client, name, NULL, NULL, 0, &derr);
	if (stack_up(&s, &rep, err) < 0)
		fail_with("stack_up", err);
	before = docker_request_count(client);
	t0 = now_s();
	rc = stack_wait_healthy(&s, err);
	*took = now_s() - t0;
	*calls = docker_request_count(client) - before;
	if (stack_down(client, name, NULL, NULL, 0, &derr) < 0)
		fail_with("stack_down", &derr);
	stack_report_release(&rep);
	compose_project_free(p);
	return rc;
}

static void test_stack_live__healthy_gate_waits_on_events_not_polls(void **state)
{
	struct error err = ERROR_INIT;
	unsigned long calls;
	double took;
	char name[64];

	snprintf(name, sizeof(name), "executor-unit-healthy-%d", (int)getpid());
	/* healthy from the second check on: the first runs 1 s after the start */
	if (up_and_wait(name, "sleep 1; touch /tmp/ready; exec sleep 600", "test -e /tmp/ready",
			"1s", 30, &err, &calls, &took) < 0)
		fail_with("stack_wait_healthy", &err);
	/* a read, the event stream, the read that confirms: polling every 200 ms
	 * made ~10 calls a second */
	assert_true(calls <= 4);
}

static void test_stack_live__unhealthy_container_fails_the_gate(void **state)
{
	struct error err = ERROR_INIT;
	unsigned long calls;
	double took;
	char name[64];

	snprintf(name, sizeof(name), "executor-unit-unhealthy-%d", (int)getpid());
	assert_int_equal(
		up_and_wait(name, "exec sleep 600", "exit 1", "1s", 30, &err, &calls, &took), -1);
	assert_int_equal(err.cls, ERR_HEALTH);
	assert_non_null(strstr(err.msg, "-svc did not become healthy (unhealthy)"));
}

static void test_stack_live__container_that_exits_fails_the_gate(void **state)
{
	struct error err = ERROR_INIT;
	unsigned long calls;
	double took;
	char name[64];

	snprintf(name, sizeof(name), "executor-unit-exits-%d", (int)getpid());
	/* its healthcheck never passes (the driver's tries fail), and it exits
	 * before the engine's first one runs */
	assert_int_equal(up_and_wait(name, "sleep 1; exit 3", "test -e /tmp/never", "5s", 30, &err,
				     &calls, &took),
			 -1);
	assert_int_equal(err.cls, ERR_HEALTH);
	assert_non_null(strstr(err.msg, "-svc did not become healthy (it exited)"));
	/* the die event ends the wait (the message says so), not the 30 s timeout;
	 * no timing is asserted here: bench/ measures speed */
}

static void test_stack_live__check_that_never_answers_times_out(void **state)
{
	struct error err = ERROR_INIT;
	unsigned long calls;
	double took;
	char name[64];

	snprintf(name, sizeof(name), "executor-unit-slow-%d", (int)getpid());
	/* the engine's first check would run 60 s after the start: still
	 * "starting" at 2 s, and the driver's own tries never pass */
	assert_int_equal(up_and_wait(name, "exec sleep 600", "test -e /tmp/never", "60s", 2, &err,
				     &calls, &took),
			 -1);
	assert_int_equal(err.cls, ERR_HEALTH);
	assert_non_null(strstr(err.msg, "(starting, timed out)"));
	assert_true(took >= 1.9); /* it waited its whole timeout */
}

static void test_stack_live__gate_decides_on_the_engines_status_not_the_drivers_pass(void **state)
{
	struct error err = ERROR_INIT;
	unsigned long calls;
	double took;
	char name[64];

	snprintf(name, sizeof(name), "executor-unit-early-%d", (int)getpid());
	/* the driver's own run of "true" passes at once (what starts dependents),
	 * but the engine's first check runs 60 s after the start: the gate waits
	 * for the engine, so status, restarts and the action's result agree */
	assert_int_equal(up_and_wait(name, "exec sleep 600", "true", "60s", 2, &err, &calls, &took),
			 -1);
	assert_int_equal(err.cls, ERR_HEALTH);
	assert_non_null(strstr(err.msg, "(starting, timed out)"));
}

static struct compose_project *load_text(const char *name, const char *text)
{
	const char *files[] = {"docker-compose.yml"};
	const char *contents[] = {text};
	struct compose_load_opts o = {0};
	struct compose_project *p = NULL;
	struct error err = ERROR_INIT;

	o.files = files;
	o.contents = contents;
	o.nfiles = 1;
	o.project_name = name;
	o.project_dir = project_dir;
	if (compose_load(&o, &p, NULL, &err) < 0)
		fail_msg("%s", err.msg);
	return p;
}

static const char *state_time(const char *cname, const char *key, char *out, size_t size)
{
	struct error err = ERROR_INIT;
	json_object *info = NULL, *st, *v;

	if (docker_container_inspect(client, cname, &info, &err) < 0)
		fail_with("inspect", &err);
	assert_true(json_object_object_get_ex(info, "State", &st) &&
		    json_object_object_get_ex(st, key, &v));
	snprintf(out, size, "%s", json_object_get_string(v));
	json_object_put(info);
	return out;
}

/* first must exit with `code` before second may start (service_completed_successfully) */
static int up_first_then_second(const char *name, int code, struct error *err)
{
	char text[2048];
	struct compose_project *p;
	struct stack_report rep = {0};
	struct error derr = ERROR_INIT;
	struct stack s;
	int rc;

	snprintf(text, sizeof(text),
		 "services:\n"
		 "  second:\n"
		 "    image: " IMAGE "\n"
		 "    container_name: %s-second\n"
		 "    entrypoint: [\"/bin/busybox\", \"sleep\", \"600\"]\n"
		 "    depends_on:\n"
		 "      first:\n"
		 "        condition: service_completed_successfully\n"
		 "  first:\n"
		 "    image: " IMAGE "\n"
		 "    container_name: %s-first\n"
		 "    entrypoint: [\"/bin/busybox\", \"sh\", \"-c\", \"sleep 1; exit %d\"]\n",
		 name, name, code);
	p = load_text(name, text);
	init_stack(&s, p, 30);
	stack_down(client, name, NULL, NULL, 0, &derr);
	rc = stack_up(&s, &rep, err);
	if (rc == 0) {
		char finished[64], started[64];

		/* RFC 3339 times of one engine compare as strings */
		state_time(name_buf(name, "-first"), "FinishedAt", finished, sizeof(finished));
		state_time(name_buf(name, "-second"), "StartedAt", started, sizeof(started));
		assert_true(strcmp(started, finished) >= 0);
		assert_int_equal(rep.created, 2);
	}
	if (stack_down(client, name, NULL, NULL, 0, &derr) < 0)
		fail_with("stack_down", &derr);
	stack_report_release(&rep);
	compose_project_free(p);
	return rc;
}

static void test_stack_live__dependent_starts_after_its_dependency_completed(void **state)
{
	struct error err = ERROR_INIT;
	char name[64];

	snprintf(name, sizeof(name), "executor-unit-deps-%d", (int)getpid());
	if (up_first_then_second(name, 0, &err) < 0)
		fail_with("stack_up", &err);
}

static void test_stack_live__dependency_that_fails_keeps_its_dependent_stopped(void **state)
{
	struct error err = ERROR_INIT;
	char name[64];

	snprintf(name, sizeof(name), "executor-unit-depfail-%d", (int)getpid());
	assert_int_equal(up_first_then_second(name, 3, &err), -1);
	assert_int_equal(err.cls, ERR_HEALTH);
	assert_non_null(strstr(err.msg, "service second depends on first being completed "
					"successfully, and it is not"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stack_live__healthy_gate_waits_on_events_not_polls),
		cmocka_unit_test(test_stack_live__unhealthy_container_fails_the_gate),
		cmocka_unit_test(test_stack_live__container_that_exits_fails_the_gate),
		cmocka_unit_test(test_stack_live__check_that_never_answers_times_out),
		cmocka_unit_test(
			test_stack_live__gate_decides_on_the_engines_status_not_the_drivers_pass),
		cmocka_unit_test(test_stack_live__dependent_starts_after_its_dependency_completed),
		cmocka_unit_test(
			test_stack_live__dependency_that_fails_keeps_its_dependent_stopped),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
