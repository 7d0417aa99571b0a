/* SPDX-License-Identifier: MIT */
/* GET /events: the engine's event stream, decoded object by object. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/cleanup.h"
#include "docker/docker.h"
#include "docker/internal.h"

struct events_ctx {
	struct docker_jsonl jsonl;
	docker_json_cb on_event;
	void *payload;
	int stopped; /* the reader said it has what it waited for */
	int failed;  /* the reader (or the decoder) failed */
};

static int on_object(json_object *obj, void *payload)
{
	struct events_ctx *e = payload;
	int r = e->on_event(obj, e->payload);

	if (r > 0)
		e->stopped = 1;
	else if (r < 0)
		e->failed = 1;
	return r ? -1 : 0;
}

static int on_data(const char *data, size_t len, void *payload)
{
	struct events_ctx *e = payload;

	if (docker_jsonl_feed(&e->jsonl, data, len) < 0) {
		if (!e->stopped)
			e->failed = 1;
		return -1;
	}
	return 0;
}

int docker_events(struct docker_client *c, long long since_ns, long long until_ns,
		  json_object *filters, docker_json_cb on_event, void *payload, struct error *err)
{
	_cleanup_buf_ struct buf path = BUF_INIT;
	struct events_ctx e = {.on_event = on_event, .payload = payload};
	struct docker_request req = {.method = "GET"};
	struct docker_response resp;
	struct timespec now;
	long long wait_ms;
	int ret;

	clock_gettime(CLOCK_REALTIME, &now);
	wait_ms = (until_ns - ((long long)now.tv_sec * 1000000000LL + now.tv_nsec)) / 1000000LL;
	if (wait_ms < 0)
		wait_ms = 0;
	/* the engine ends the stream at `until`; the request's own limit is a
	 * guard against an engine that does not */
	if (buf_printf(&path, "/events?since=%lld.%09lld&until=%lld.%09lld",
		       since_ns / 1000000000LL, since_ns % 1000000000LL, until_ns / 1000000000LL,
		       until_ns % 1000000000LL) < 0 ||
	    (filters && (buf_puts(&path, "&filters=") < 0 ||
			 docker_urlencode(&path, json_object_to_json_string_ext(
							 filters, JSON_C_TO_STRING_PLAIN)) < 0)))
		return error_set(err, ERR_SYSTEM, "out of memory");
	req.path = path.data;
	req.timeout_ms = (long)wait_ms + 15000L;
	req.on_data = on_data;
	req.payload = &e;
	docker_jsonl_init(&e.jsonl, on_object, &e);
	docker_response_init(&resp);
	ret = docker_request(c, &req, &resp, err);
	docker_response_release(&resp);
	docker_jsonl_release(&e.jsonl);
	if (e.stopped) {
		error_clear(err);
		return 0;
	}
	if (e.failed)
		return error_set(err, ERR_ENGINE, "the engine's event stream could not be read");
	if (ret < 0)
		return error_wrap(err, "read the engine's events");
	return 1;
}
