/* SPDX-License-Identifier: MIT */
#ifndef DURABLE_ROUTER_H
#define DURABLE_ROUTER_H

/*
 * The router switch: nginx in the durable layer serves a live entry and a
 * preview entry.  The driver renders the whole routing file from a template
 * (the repository's durable/router.conf.template, else the built-in one),
 * writes it atomically into the directory the router mounts, checks it with
 * `nginx -t` inside the router, and reloads with SIGHUP.  A failed check puts
 * the previous file back, so the router keeps serving the old config and a
 * later restart loads a good one.
 */

#include <json-c/json.h>

#include "common/buf.h"
#include "common/error.h"
#include "docker/docker.h"

#define ROUTER_FILE "executor.conf"

struct router_route {
	const char *service; /* "api-gateway": upstream TLS name */
	const char *path;    /* location prefix: "/api/" */
	int port;	     /* container port */
	const char *scheme;  /* "http" or "https" */
	const char *health;  /* probe path below the route: "/health" */
	/*
	 * An https upstream's certificate (io.executor.route.tls-* labels):
	 * tls_verify "off" does not verify it; else it is verified against
	 * tls_ca (a file the driver wrote into the router's directory, the
	 * stack's own CA) or, when NULL, the env's CA; for the name tls_name
	 * (NULL: the service's name).
	 */
	const char *tls_verify;
	const char *tls_ca;
	const char *tls_name;
};

/* Where the router reads the driver's directory (its conf.d). */
#define ROUTER_MOUNT "/etc/nginx/conf.d"

struct router_target {
	const char *color;   /* NULL: nothing behind this entry */
	const char *project; /* "<app>-<color>": upstream host is "<project>-<service>" */
	const struct router_route *routes;
	size_t nroutes;
};

/*
 * What the router serves.  With canary_weight 1..99 the live entry sends that
 * share of its clients to the preview color and the rest to the live color,
 * sticky per client: the key is the client's `executor_client` cookie when
 * it sends one, else its address, hashed by nginx's split_clients
 * (MurmurHash2), so a client keeps its color and raising the weight only
 * moves clients from live to preview, never back.  Both colors must then
 * declare the same routes (path, service, scheme).
 *
 * watch_log: the live entry logs every proxied request to the router's
 * stdout in the executor_watch format, one line each:
 *   executor-watch <msec> <color> <status> <upstream_status> <upstream_header_time> "<method>
 * <uri>" which the watch after a switch reads through the Engine API.
 */
struct router_view {
	const struct router_target *live;
	const struct router_target *preview;
	int canary_weight;
	int watch_log;
	const char *generation; /* {{generation}}: unique per render, NULL: "" */
};

#define ROUTER_WATCH_TAG "executor-watch "

/* Render template (NULL: the built-in one) for the two entries. */
int router_render(const char *template_text, const char *env, const struct router_view *v,
		  struct buf *out, struct error *err);

/* The routes of two colors match for a canary (same paths, services and
 * schemes, in any order); otherwise ERR_COMPOSE naming the difference. */
int router_canary_compatible(const struct router_target *live, const struct router_target *preview,
			     struct error *err);

/* Write dir/executor.conf atomically, nginx -t in the container, HUP.
 * On a failed check the previous file is restored and nothing is reloaded. */
int router_apply(struct docker_client *c, const char *container, const char *dir, const char *text,
		 struct error *err);

/* Routes of a color from its state record ("routes": [...]); the array of
 * structs points into the JSON (valid while it lives). */
int router_routes_from_json(json_object *routes, struct router_route **out, size_t *n);

extern const char router_default_template[];

#endif
