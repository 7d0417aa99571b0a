/* SPDX-License-Identifier: MIT */
/* Readiness without the engine's health tick: right after a container with a
 * healthcheck starts, the driver runs the same test itself at a fast cadence,
 * so that its dependents start the moment it passes.  The health gate still
 * decides on the engine's status. */

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "stages/stack/internal.h"

/* The first tries come fast (a service is often ready within a few hundred
 * ms), then every READY_MAX_MS; the engine's state is read every
 * READY_STATE_MS, to stop at an exit or once the engine calls it unhealthy. */
#define READY_FIRST_MS 100
#define READY_MAX_MS   250
#define READY_STATE_MS 1000
/* The engine's default healthcheck timeout (30 s). */
#define READY_DEFAULT_TIMEOUT_MS 30000

int stack_ready_argv(const struct compose_healthcheck *h, const char **argv, size_t max)
{
	size_t i, n = 0;

	if (!h->set || h->disable || !h->test.set || h->test.argc < 2 || max < 4)
		return 0;
	if (!strcmp(h->test.argv[0], "CMD-SHELL")) {
		/* the engine's default shell: an image without one has no CMD-SHELL test
		 * that could pass either */
		argv[n++] = "/bin/sh";
		argv[n++] = "-c";
		argv[n++] = h->test.argv[1];
	} else if (!strcmp(h->test.argv[0], "CMD")) {
		for (i = 1; i < h->test.argc && n + 1 < max; i++)
			argv[n++] = h->test.argv[i];
		if (i < h->test.argc)
			return 0; /* too long to run here: the engine's tick decides */
	} else {
		return 0;
	}
	argv[n] = NULL;
	return (int)n;
}

static long long mono_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* 1: stop trying (exited, restarting, or unhealthy by the engine's count). */
static int engine_says_stop(const struct stack *s, const char *id)
{
	struct error err = ERROR_INIT;
	json_object *info = NULL;
	const char *hs;
	int stop;

	if (docker_container_inspect(s->docker, id, &info, &err) < 0)
		return 1;
	hs = stack_health_status(info);
	stop = !stack_state_bool(info, "Running") || stack_state_bool(info, "Restarting") ||
	       (hs && !strcmp(hs, "unhealthy")) || (hs && !strcmp(hs, "healthy"));
	json_object_put(info);
	return stop;
}

int stack_ready_probe(const struct stack *s, const struct compose_service *svc, const char *id)
{
	const char *argv[64];
	int timeout_s = s->health_timeout_s > 0 ? s->health_timeout_s : 120;
	long try_ms = svc->healthcheck.timeout_ms > 0 ? (long)svc->healthcheck.timeout_ms
						      : READY_DEFAULT_TIMEOUT_MS;
	long long t0 = mono_ms(), deadline = t0 + (long long)timeout_s * 1000, last_state = t0;
	long delay = READY_FIRST_MS;
	int tries = 0;

	if (!id || !*id || !stack_ready_argv(&svc->healthcheck, argv, 64))
		return 0;
	for (;;) {
		struct error err = ERROR_INIT;
		int code = -1;
		long long now;

		tries++;
		if (docker_exec_bounded(s->docker, id, argv, NULL, try_ms, &code, &err) < 0) {
			/* 409: not running (exited, restarting): the engine's state decides */
			if (err.code == 409 || err.code == 404) {
				log_debug("readiness of %s: %s", svc->container_name, err.msg);
				return 0;
			}
		} else if (code == 0) {
			log_debug("%s passed its healthcheck after %lld ms (%d tries)",
				  svc->container_name, mono_ms() - t0, tries);
			return 1;
		}
		now = mono_ms();
		if (now >= deadline)
			return 0;
		if (now - last_state >= READY_STATE_MS) {
			last_state = now;
			if (engine_says_stop(s, id))
				return 0;
		}
		sleep_ms(delay);
		if (delay < READY_MAX_MS)
			delay = delay * 3 / 2 > READY_MAX_MS ? READY_MAX_MS : delay * 3 / 2;
	}
}
