/* SPDX-License-Identifier: MIT */
#ifndef STAGES_ROUTE_H
#define STAGES_ROUTE_H

#include <json-c/json.h>

#include "common/buf.h"
#include "durable/state.h"
#include "stages/context.h"

/* Whether the router file logs the live entry's requests for a watch
 * (stages/watch.c reads them from the router's log). */
enum route_watch { ROUTE_UNWATCHED, ROUTE_WATCHED };

/* Render the router file for live/preview colors (NULL = none) from the
 * routes recorded in the state, unwatched. */
int route_render(const struct deploy_ctx *d, struct env_state *state, const char *live,
		 const char *preview, struct buf *out, struct error *err);
/* The same, watched or not, with a given {{generation}} (to compare with the
 * file in place). */
int route_render_as(const struct deploy_ctx *d, struct env_state *state, const char *live,
		    const char *preview, enum route_watch watch, const char *generation,
		    struct buf *out, struct error *err);
/* 1 when the router's file in place is what live/preview render to, unwatched (with
 * the file's own {{generation}}): an action killed between the file and the
 * state leaves them apart, and the next one must apply it again. */
int route_in_place(const struct deploy_ctx *d, struct env_state *state, const char *live,
		   const char *preview);
/* The {{generation}} value a rendered file carries; -1 when none. */
int route_generation_of(const char *text, char *out, size_t size);

/* Render and apply (write, nginx -t, reload) to the env's router.  1 when the
 * live entry then confirmed the new configuration ({{generation}}), 0 when
 * it could not be asked, -1 on error. */
int route_apply(const struct deploy_ctx *d, struct env_state *state, const char *live,
		const char *preview, enum route_watch watch, struct error *err);

/* A route's location prefix joined with its health path: "/api/" + "/health". */
void route_health_url(char *out, size_t size, json_object *route);

/* ERR_JOB: the env's durable stack has no router, so this action (promote,
 * rollback...) has nothing to switch; says how to add one. */
int route_no_router(const struct deploy_ctx *d, struct error *err);

/* Every route of color probed through the router's entry ("live",
 * "preview") until each answers from the color `need` times in a row. */
int route_probe_all(struct deploy_ctx *d, struct env_state *state, const char *color,
		    const char *entry, int need, int timeout_s, struct error *err);

#endif
