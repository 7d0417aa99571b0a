/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>

#include "common/cleanup.h"
#include "docker/docker.h"
#include "docker/internal.h"

/* Layers tracked for de-duplication; more are rendered only when their id is
 * already known, so a hostile stream cannot grow the table without bound. */
#define PULL_MAX_LAYERS 512
#define PULL_ID_MAX	64

int docker_image_inspect(struct docker_client *c, const char *ref, json_object **out,
			 struct error *err)
{
	_cleanup_buf_ struct buf path = BUF_INIT;

	if (docker_build_path(&path, "/images", ref, "/json", err) < 0)
		return -1;
	if (docker_call_json(c, "GET", path.data, NULL, out, DOCKER_TIMEOUT_MS, err) < 0)
		return error_wrap(err, "inspect image %s", ref);
	return 0;
}

/* ---- pull progress ---- */

void docker_pull_progress_init(struct docker_pull_progress *p, docker_progress_cb cb, void *payload)
{
	memset(p, 0, sizeof(*p));
	p->layers = json_object_new_object();
	p->cb = cb;
	p->payload = payload;
}

void docker_pull_progress_release(struct docker_pull_progress *p)
{
	json_object_put(p->layers);
	p->layers = NULL;
}

static void render(struct docker_pull_progress *p, const char *line)
{
	char clean[sizeof(p->status) + PULL_ID_MAX + 64];

	if (!p->cb)
		return;
	docker_sanitize_line(clean, sizeof(clean), line, strlen(line));
	if (clean[0])
		p->cb(clean, p->payload);
}

static void human_size(char *dst, size_t n, double bytes)
{
	static const char *const units[] = {"B", "kB", "MB", "GB", "TB"};
	size_t u = 0;

	while (bytes >= 1000.0 && u + 1 < ARRAY_SIZE(units)) {
		bytes /= 1000.0;
		u++;
	}
	snprintf(dst, n, u ? "%.1f %s" : "%.0f %s", bytes, units[u]);
}

/* " (12.3 MB)" for a layer that states its total size, else "". */
static void size_suffix(char *dst, size_t n, json_object *msg)
{
	json_object *detail, *total;
	double t;

	dst[0] = '\0';
	if (!json_object_object_get_ex(msg, "progressDetail", &detail) ||
	    !json_object_is_type(detail, json_type_object) ||
	    !json_object_object_get_ex(detail, "total", &total) ||
	    !(json_object_is_type(total, json_type_int) ||
	      json_object_is_type(total, json_type_double)))
		return;
	t = json_object_get_double(total);
	if (t > 0) {
		char size[32];

		human_size(size, sizeof(size), t);
		snprintf(dst, n, " (%s)", size);
	}
}

static int pull_error(struct docker_pull_progress *p, json_object *msg)
{
	json_object *detail = NULL;
	const char *text = NULL;

	if (json_object_object_get_ex(msg, "errorDetail", &detail))
		text = docker_json_string(detail, "message");
	if (!text || !*text)
		text = docker_json_string(msg, "error");
	if (!text || !*text)
		text = "the engine reported an error without a message";
	docker_sanitize_line(p->error, sizeof(p->error), text, strlen(text));
	return -1;
}

int docker_pull_progress_feed(struct docker_pull_progress *p, json_object *msg)
{
	const char *status, *id;
	char line[sizeof(p->status) + PULL_ID_MAX + 64];
	char size[40];
	json_object *prev;

	if (!msg || !json_object_is_type(msg, json_type_object))
		return 0;
	if (json_object_object_get_ex(msg, "errorDetail", NULL) ||
	    json_object_object_get_ex(msg, "error", NULL))
		return pull_error(p, msg);
	status = docker_json_string(msg, "status");
	if (!status || !*status)
		return 0; /* aux and progress-only messages */
	id = docker_json_string(msg, "id");
	if (!id || !*id) {
		/* "Digest: ...", "Status: Downloaded newer image ..." */
		if (!strncmp(p->status, status, sizeof(p->status) - 1))
			return 0;
		snprintf(p->status, sizeof(p->status), "%s", status);
		render(p, p->status);
		return 0;
	}
	if (!p->layers)
		return 0;
	/* one line per state change of a layer, never one per progress tick */
	if (json_object_object_get_ex(p->layers, id, &prev)) {
		if (!strcmp(json_object_get_string(prev), status))
			return 0;
	} else if (json_object_object_length(p->layers) >= PULL_MAX_LAYERS) {
		return 0;
	}
	json_object_object_add(p->layers, id, json_object_new_string(status));
	size_suffix(size, sizeof(size), msg);
	snprintf(line, sizeof(line), "%.*s: %.*s%s", PULL_ID_MAX, id, (int)sizeof(p->status) - 1,
		 status, size);
	render(p, line);
	return 0;
}

/* ---- pull ---- */

struct pull_ctx {
	struct docker_jsonl jsonl;
	struct docker_pull_progress progress;
	int bad_stream;
};

static int pull_on_object(json_object *obj, void *payload)
{
	struct pull_ctx *ctx = payload;

	return docker_pull_progress_feed(&ctx->progress, obj);
}

static int pull_on_data(const char *data, size_t len, void *payload)
{
	struct pull_ctx *ctx = payload;

	if (docker_jsonl_feed(&ctx->jsonl, data, len) < 0) {
		if (!ctx->progress.error[0])
			ctx->bad_stream = 1;
		return -1;
	}
	return 0;
}

/*
 * Split "registry:5000/ns/name:tag@sha256:..." into the name and the tag or
 * digest; a missing tag is "latest" (an empty tag would pull every tag).
 */
static int split_ref(const char *ref, struct buf *name, struct buf *tag)
{
	const char *at = strchr(ref, '@');
	const char *slash, *colon;

	if (at) {
		if (buf_append(name, ref, (size_t)(at - ref)) < 0 || buf_puts(tag, at + 1) < 0)
			return -1;
		/* name:tag@digest: the digest decides */
		slash = strrchr(name->data, '/');
		colon = strrchr(slash ? slash : name->data, ':');
		if (colon) {
			name->len = (size_t)(colon - name->data);
			name->data[name->len] = '\0';
		}
		return 0;
	}
	slash = strrchr(ref, '/');
	colon = strrchr(slash ? slash : ref, ':');
	if (colon && colon[1]) {
		if (buf_append(name, ref, (size_t)(colon - ref)) < 0 ||
		    buf_puts(tag, colon + 1) < 0)
			return -1;
		return 0;
	}
	if (buf_append(name, ref, colon ? (size_t)(colon - ref) : strlen(ref)) < 0)
		return -1;
	return buf_puts(tag, "latest");
}

int docker_image_pull(struct docker_client *c, const char *ref, const char *registry_auth,
		      docker_progress_cb progress, void *payload, struct error *err)
{
	_cleanup_buf_ struct buf name = BUF_INIT;
	_cleanup_buf_ struct buf tag = BUF_INIT;
	_cleanup_buf_ struct buf path = BUF_INIT;
	struct docker_request req = {.method = "POST", .registry_auth = registry_auth};
	struct docker_response resp;
	struct pull_ctx ctx;
	int ret;

	if (!ref || !*ref)
		return error_set(err, ERR_PULL, "pull: empty image reference");
	if (docker_check_image_ref(ref, err) < 0)
		return -1;
	if (split_ref(ref, &name, &tag) < 0 || !name.len ||
	    buf_puts(&path, "/images/create?fromImage=") < 0 ||
	    docker_urlencode(&path, name.data) < 0 || buf_puts(&path, "&tag=") < 0 ||
	    docker_urlencode(&path, tag.data) < 0)
		return error_set(err, ERR_PULL, "pull %s: malformed image reference", ref);

	memset(&ctx, 0, sizeof(ctx));
	docker_jsonl_init(&ctx.jsonl, pull_on_object, &ctx);
	docker_pull_progress_init(&ctx.progress, progress, payload);
	req.path = path.data;
	req.on_data = pull_on_data;
	req.payload = &ctx;
	docker_response_init(&resp);
	ret = docker_request(c, &req, &resp, err);
	if (ret == 0 && docker_jsonl_finish(&ctx.jsonl) < 0 && !ctx.progress.error[0])
		ctx.bad_stream = 1;
	if (ctx.progress.error[0]) {
		ret = error_set(err, ERR_PULL, "pull %s: %s", ref, ctx.progress.error);
	} else if (ctx.bad_stream) {
		ret = error_set(err, ERR_PULL, "pull %s: malformed progress stream from the engine",
				ref);
	} else if (ret < 0) {
		/* registry, network, auth or engine: all are pull failures */
		if (err->cls != ERR_CANCELED)
			err->cls = ERR_PULL;
		error_wrap(err, "pull %s", ref);
	}
	docker_response_release(&resp);
	docker_pull_progress_release(&ctx.progress);
	docker_jsonl_release(&ctx.jsonl);
	return ret;
}
