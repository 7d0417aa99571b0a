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
 *         "status": "deployed"        free text set by the stages: deployed,
 *       }                             healthy, unhealthy, ...
 *     },
 *     "canary": {                     only while a canary runs or rests at a step:
 *       "color": "green",             the candidate (also the preview color),
 *       "weight": 10,                 its share of the live entry's clients (1..99)
 *       "steps": "10,50,100",         the steps asked for
 *       "since": "2026-11-27T03:04:05Z"
 *     },
 *     "durable": {
 *       "setup_at": "2026-11-27T03:00:00Z" | null,
 *       "config_hash": { "mariadb": "sha256...", "router": "..." }
 *     }
 *   }
 *
 * The state is a json_object handed out by load; read it with the accessors
 * below or json-c directly, change it with the setters (they keep the shape
 * right), and save it.  Load, modify and save under the env lock
 * (durable/lock.h); a reader without the lock (status) sees either the old
 * or the new file, never a torn one.  Unknown keys are kept.
 */

#include <json-c/json.h>
#include <time.h>

#include "common/error.h"

#define DURABLE_STATE_VERSION 1

/*
 * Load the env's state into *out (caller puts it).  A missing file is the
 * empty state; a file with the wrong shape is ERR_IO naming it; a newer
 * version is ERR_IO asking for an upgrade.  Missing keys are filled in.
 */
int durable_state_load(const char *state_dir, const char *env, json_object **out,
		       struct error *err);

/* A fresh empty state (version 1, nothing live); NULL when out of memory. */
json_object *durable_state_new(void);

/* Write the state atomically (0600).  Creates the env directory when needed. */
int durable_state_save(const char *state_dir, const char *env, json_object *state,
		       struct error *err);

/* Borrowed strings; NULL when none. */
const char *durable_state_live(json_object *state);
const char *durable_state_preview(json_object *state);
/* color NULL clears.  0, or -1 when out of memory. */
int durable_state_set_live(json_object *state, const char *color);
int durable_state_set_preview(json_object *state, const char *color);

/* The canary split: the candidate color and its weight (1..99), or NULL and
 * 0 when none.  A record whose color is not the preview, or whose weight is
 * out of range, is no split (the router file is rendered from this). */
const char *durable_state_canary(json_object *state, int *weight);
/* weight 0 (or color NULL) removes the record.  0, or -1 when out of memory. */
int durable_state_set_canary(json_object *state, const char *color, int weight, const char *steps);

/* The color's object (borrowed), or NULL when it has none. */
json_object *durable_state_color(json_object *state, const char *color);

struct durable_color_record {
	const char *commit;
	const char *ref;
	time_t deployed_at;  /* 0: now */
	json_object *images; /* borrowed (a reference is taken); NULL: {} */
	const char *status;  /* NULL: "deployed" */
};

/* Replace the color's record. */
int durable_state_set_color(json_object *state, const char *color,
			    const struct durable_color_record *rec, struct error *err);
/* Change only its status; ERR_SYSTEM when the color has no record. */
int durable_state_set_color_status(json_object *state, const char *color, const char *status,
				   struct error *err);
/* Forget the color; clears "preview" (and "live") when they named it. */
void durable_state_remove_color(json_object *state, const char *color);

/* Add {"ref", "digest"} for a service to an images object (as used above). */
int durable_state_image_set(json_object *images, const char *service, const char *ref,
			    const char *digest);

/* The durable layer: set "setup_at" (0: now; kept when already set unless
 * force) and replace "config_hash" (borrowed, a reference is taken; NULL
 * keeps it). */
int durable_state_mark_setup(json_object *state, time_t when, int force, json_object *config_hash,
			     struct error *err);
/* Forget the durable layer (after durable cleanup): setup_at null, hashes {}. */
void durable_state_clear_setup(json_object *state);
/* "setup_at" parsed, or 0 when the durable layer was never set up. */
time_t durable_state_setup_at(json_object *state);
/* The config_hash object (borrowed, never NULL for a loaded state). */
json_object *durable_state_config_hash(json_object *state);

#endif
