/* SPDX-License-Identifier: MIT */
#ifndef DURABLE_STATE_H
#define DURABLE_STATE_H

/*
 * The env's state: <env>/state.json (0600), replaced atomically on save.
 *
 *   {
 *     "version": 1,
 *     "live": "blue" | null,          color behind the router's live port
 *     "preview": "green" | null,      color behind the preview port
 *     "colors": {
 *       "green": {
 *         "commit": "3f2a...", "ref": "main",
 *         "deployed_at": "2026-11-27T03:04:05Z",
 *         "images": { "api-gateway": { "ref": "app/api:1", "digest": "sha256:..." } },
 *         "status": "deployed",       free text set by the stages: deployed,
 *                                     healthy, unhealthy, ...
 *         "routes": [ {"service", "path", "port", "scheme", "health"} ],
 *         "networks": [ "echobase-green_default" ],
 *         "project": "echobase-green" the last three once deployed
 *       }
 *     },
 *     "canary": {                     only while a canary runs or rests at a step:
 *       "color": "green",             the candidate (also the preview color),
 *       "weight": 10,                 its share of the live entry's clients (1..99)
 *       "steps": "10,50,100",         the steps asked for
 *       "since": "2026-11-27T03:04:05Z"
 *     },
 *     "router": {                     the durable layer's router, once set up:
 *       "container": "echobase-ci-durable-router-1",
 *       "live_port": 8443, "preview_port": 9443
 *     },
 *     "tls_names": [ "router", ... ],  what the env's certificate covers
 *     "durable": {
 *       "setup_at": "2026-11-27T03:00:00Z" | null,
 *       "config_hash": { "mariadb": "sha256...", "router": "..." }
 *     }
 *   }
 *
 * The type is struct env_state, opaque: this file is the one place that
 * knows the keys above.  Load it, read it through the accessors and the
 * typed views below (struct env_color, the router's ports), change it with
 * the setters (they keep the shape right), and save it.  Load, modify and
 * save under the env lock (durable/lock.h); a reader without the lock
 * (status) sees either the old or the new file, never a torn one.  Unknown
 * keys are kept, and a file saved unchanged is written byte for byte as it
 * was read (the keys keep their order).
 */

#include <json-c/json.h>
#include <time.h>

#include "common/error.h"

#define DURABLE_STATE_VERSION 1

struct env_state;

/*
 * Load the env's state into *out (free it with durable_state_free).  A
 * missing file is the empty state; a file with the wrong shape is ERR_IO
 * naming it; a newer version is ERR_IO asking for an upgrade.  Missing keys
 * are filled in.
 */
int durable_state_load(const char *state_dir, const char *env, struct env_state **out,
		       struct error *err);

/* A fresh empty state (version 1, nothing live); NULL when out of memory. */
struct env_state *durable_state_new(void);
void durable_state_free(struct env_state *st);

static inline void durable_state_freep(struct env_state **st)
{
	durable_state_free(*st);
}
#define _cleanup_env_state_ __attribute__((cleanup(durable_state_freep)))

/* Write the state atomically (0600).  Creates the env directory when needed. */
int durable_state_save(const char *state_dir, const char *env, const struct env_state *state,
		       struct error *err);

/* Borrowed strings; NULL when none. */
const char *durable_state_live(const struct env_state *state);
const char *durable_state_preview(const struct env_state *state);
/* color NULL clears.  0, or -1 when out of memory. */
int durable_state_set_live(struct env_state *state, const char *color);
int durable_state_set_preview(struct env_state *state, const char *color);
/* 1 when color is the live (preview) one; 0 for NULL. */
int durable_state_is_live(const struct env_state *state, const char *color);
int durable_state_is_preview(const struct env_state *state, const char *color);

/* The canary split: the candidate color and its weight (1..99), or NULL and
 * 0 when none.  A record whose color is not the preview, or whose weight is
 * out of range, is no split (the router file is rendered from this). */
const char *durable_state_canary(const struct env_state *state, int *weight);
/* When the split began ("2026-11-27T03:04:05Z"), or NULL when none. */
const char *durable_state_canary_since(const struct env_state *state);
/* weight 0 (or color NULL) removes the record.  0, or -1 when out of memory. */
int durable_state_set_canary(struct env_state *state, const char *color, int weight,
			     const char *steps);

/* A color as the state records it.  Every pointer is borrowed from the
 * state and valid until it changes; NULL when the record lacks the key. */
struct env_color {
	const char *name;
	const char *commit;
	const char *ref;
	const char *deployed_at; /* RFC 3339 */
	const char *status;	 /* deployed, healthy, unhealthy, ... */
	const char *project;	 /* its Compose project (stages/names.h) */
	json_object *images;	 /* {"<service>": {"ref", "digest"}} */
	json_object *routes;	 /* durable/router.h router_routes_from_json */
	json_object *networks;	 /* ["<network>", ...] */
};

/* Fill *out for the color: 1 when it has a record, 0 (and *out zeroed) when not. */
int durable_state_color(const struct env_state *state, const char *color, struct env_color *out);
/* The colors in the file's order: count, and the i-th (1, or 0 past the end). */
size_t durable_state_ncolors(const struct env_state *state);
int durable_state_color_at(const struct env_state *state, size_t i, struct env_color *out);

struct durable_color_record {
	const char *commit;
	const char *ref;
	time_t deployed_at;  /* 0: now */
	json_object *images; /* borrowed (a reference is taken); NULL: {} */
	const char *status;  /* NULL: "deployed" */
};

/* Replace the color's record. */
int durable_state_set_color(struct env_state *state, const char *color,
			    const struct durable_color_record *rec, struct error *err);
/* Change only its status; ERR_SYSTEM when the color has no record. */
int durable_state_set_color_status(struct env_state *state, const char *color, const char *status,
				   struct error *err);
/* Record what a deployed color runs and serves: its Compose project, its
 * routes (an array for durable/router.h) and its networks (an array of
 * names).  The objects are borrowed (a reference is taken); NULL leaves the
 * key alone.  ERR_SYSTEM when the color has no record. */
int durable_state_set_color_links(struct env_state *state, const char *color, const char *project,
				  json_object *routes, json_object *networks, struct error *err);
/* Forget the color; clears "preview" (and "live") when they named it. */
void durable_state_remove_color(struct env_state *state, const char *color);

/* Add {"ref", "digest"} for a service to an images object (as used above). */
int durable_state_image_set(json_object *images, const char *service, const char *ref,
			    const char *digest);

/* The router the durable layer runs: "router": {"container", "live_port",
 * "preview_port"}.  The container's name, or NULL when none is recorded. */
const char *durable_state_router(const struct env_state *state);
enum env_entry { ENV_ENTRY_LIVE, ENV_ENTRY_PREVIEW };
/* The host port of the router's live or preview entry; 0 when unknown. */
int durable_state_router_port(const struct env_state *state, enum env_entry entry);
/* Record the router (container NULL forgets it).  0, or -1 when out of memory. */
int durable_state_set_router(struct env_state *state, const char *container, int live_port,
			     int preview_port);

/* The names the env's server certificate covers ("tls_names": [...]; the
 * set only grows, so the certificate is not reissued back and forth).
 * Add one when absent: 0, or -1 when out of memory. */
int durable_state_add_tls_name(struct env_state *state, const char *name);
/* Up to max of them into out (borrowed); the number written. */
size_t durable_state_tls_names(const struct env_state *state, const char **out, size_t max);

/* The durable layer: set "setup_at" (0: now; kept when already set unless
 * force) and replace "config_hash" (borrowed, a reference is taken; NULL
 * keeps it). */
int durable_state_mark_setup(struct env_state *state, time_t when, int force,
			     json_object *config_hash, struct error *err);
/* Forget the durable layer (after durable cleanup): setup_at null, hashes {}. */
void durable_state_clear_setup(struct env_state *state);
/* "setup_at" parsed, or 0 when the durable layer was never set up. */
time_t durable_state_setup_at(const struct env_state *state);
/* The same as written in the file, or NULL. */
const char *durable_state_setup_at_text(const struct env_state *state);
/* The config_hash object (borrowed, never NULL for a loaded state). */
json_object *durable_state_config_hash(const struct env_state *state);

#endif
