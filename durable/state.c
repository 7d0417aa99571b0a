/* SPDX-License-Identifier: MIT */
#include "durable/state.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "durable/env.h"

#define STATE_FILE_LIMIT (16u * 1024u * 1024u)

/* The file's object as json-c holds it: keys in the file's order, unknown
 * keys kept.  Only this file spells the keys. */
struct env_state {
	json_object *root;
};

static json_object *get(json_object *o, const char *key)
{
	json_object *v = NULL;

	if (!o || !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

/* get(), creating an empty object under key when absent or null. */
static json_object *get_obj(json_object *o, const char *key)
{
	json_object *v = get(o, key);

	if (v && json_object_is_type(v, json_type_object))
		return v;
	v = json_object_new_object();
	if (!v || json_object_object_add(o, key, v) < 0) {
		json_object_put(v);
		return NULL;
	}
	return v;
}

static int is_null(json_object *v)
{
	return v == NULL || json_object_is_type(v, json_type_null);
}

static struct env_state *wrap(json_object *root)
{
	struct env_state *st = calloc(1, sizeof(*st));

	if (!st) {
		json_object_put(root);
		return NULL;
	}
	st->root = root;
	return st;
}

void durable_state_free(struct env_state *st)
{
	if (!st)
		return;
	json_object_put(st->root);
	free(st);
}

static json_object *new_root(void)
{
	json_object *st = json_object_new_object();
	json_object *durable = json_object_new_object();

	if (!st || !durable) {
		json_object_put(st);
		json_object_put(durable);
		return NULL;
	}
	json_object_object_add(st, "version", json_object_new_int(DURABLE_STATE_VERSION));
	json_object_object_add(st, "live", NULL);
	json_object_object_add(st, "preview", NULL);
	json_object_object_add(st, "colors", json_object_new_object());
	json_object_object_add(durable, "setup_at", NULL);
	json_object_object_add(durable, "config_hash", json_object_new_object());
	json_object_object_add(st, "durable", durable);
	return st;
}

struct env_state *durable_state_new(void)
{
	json_object *root = new_root();

	return root ? wrap(root) : NULL;
}

static int bad_shape(struct error *err, const char *path, const char *why)
{
	return error_set(err, ERR_IO,
			 "%s is not a state file the driver wrote (%s): fix it, or move it away "
			 "to start from an empty state (the driver then no longer knows which "
			 "color is live until the next promote)",
			 path, why);
}

/* Check the shape and fill in what is missing. */
static int normalise(json_object *st, const char *path, struct error *err)
{
	json_object *v, *colors, *durable;

	if (!json_object_is_type(st, json_type_object))
		return bad_shape(err, path, "not a JSON object");
	v = get(st, "version");
	if (!v || !json_object_is_type(v, json_type_int))
		return bad_shape(err, path, "no \"version\"");
	if (json_object_get_int(v) > DURABLE_STATE_VERSION)
		return error_set(
			err, ERR_IO,
			"%s has version %d, written by a newer executor: upgrade the driver", path,
			json_object_get_int(v));
	if (json_object_get_int(v) < 1)
		return bad_shape(err, path, "bad \"version\"");
	v = get(st, "live");
	if (!is_null(v) && !json_object_is_type(v, json_type_string))
		return bad_shape(err, path, "\"live\" must be a color name or null");
	if (!v)
		json_object_object_add(st, "live", NULL);
	v = get(st, "preview");
	if (!is_null(v) && !json_object_is_type(v, json_type_string))
		return bad_shape(err, path, "\"preview\" must be a color name or null");
	if (!v)
		json_object_object_add(st, "preview", NULL);

	colors = get(st, "colors");
	if (!is_null(colors) && !json_object_is_type(colors, json_type_object))
		return bad_shape(err, path, "\"colors\" must be an object");
	colors = get_obj(st, "colors");
	if (!colors)
		return error_set(err, ERR_SYSTEM, "out of memory");
	{
		json_object_object_foreach(colors, name, rec)
		{
			(void)name;
			if (!json_object_is_type(rec, json_type_object))
				return bad_shape(err, path, "each color must be an object");
		}
	}

	durable = get(st, "durable");
	if (!is_null(durable) && !json_object_is_type(durable, json_type_object))
		return bad_shape(err, path, "\"durable\" must be an object");
	durable = get_obj(st, "durable");
	if (!durable)
		return error_set(err, ERR_SYSTEM, "out of memory");
	v = get(durable, "setup_at");
	if (!is_null(v) && !json_object_is_type(v, json_type_string))
		return bad_shape(err, path, "\"durable.setup_at\" must be a time or null");
	if (!v)
		json_object_object_add(durable, "setup_at", NULL);
	v = get(durable, "config_hash");
	if (!is_null(v) && !json_object_is_type(v, json_type_object))
		return bad_shape(err, path, "\"durable.config_hash\" must be an object");
	if (!get_obj(durable, "config_hash"))
		return error_set(err, ERR_SYSTEM, "out of memory");
	return 0;
}

int durable_state_load(const char *state_dir, const char *env, struct env_state **out,
		       struct error *err)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_buf_ struct buf data = BUF_INIT;
	enum json_tokener_error jerr;
	struct error e = ERROR_INIT;
	_cleanup_json_ json_object *st = NULL;

	*out = NULL;
	if (durable_env_path(state_dir, env, DURABLE_STATE_FILE, &path, err) < 0)
		return -1;
	buf_init(&data, STATE_FILE_LIMIT);
	if (fs_read_file(path, &data, STATE_FILE_LIMIT, &e) < 0) {
		if (e.code != ENOENT) {
			*err = e;
			return error_wrap(err, "state of env '%s'", env);
		}
		*out = durable_state_new();
		if (!*out)
			return error_set(err, ERR_SYSTEM, "out of memory");
		return 0;
	}
	st = json_tokener_parse_verbose(buf_str(&data), &jerr);
	if (!st)
		return bad_shape(err, path, json_tokener_error_desc(jerr));
	if (normalise(st, path, err) < 0)
		return -1;
	*out = wrap(steal_ptr(st));
	if (!*out)
		return error_set(err, ERR_SYSTEM, "out of memory");
	return 0;
}

int durable_state_save(const char *state_dir, const char *env, const struct env_state *state,
		       struct error *err)
{
	_cleanup_free_ char *path = NULL;
	const char *text;

	if (!state || !json_object_is_type(state->root, json_type_object))
		return error_set(err, ERR_SYSTEM, "save state of env '%s': no state object", env);
	if (durable_env_ensure(state_dir, env, err) < 0 ||
	    durable_env_path(state_dir, env, DURABLE_STATE_FILE, &path, err) < 0)
		return -1;
	text = json_object_to_json_string_ext(state->root, JSON_C_TO_STRING_PRETTY |
								   JSON_C_TO_STRING_SPACED |
								   JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!text)
		return error_set(err, ERR_SYSTEM, "out of memory");
	if (fs_write_atomic(path, text, strlen(text), 0600, err) < 0)
		return error_wrap(err, "state of env '%s'", env);
	return 0;
}

static const char *str_or_null(json_object *v)
{
	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

const char *durable_state_live(const struct env_state *state)
{
	return str_or_null(get(state->root, "live"));
}

const char *durable_state_preview(const struct env_state *state)
{
	return str_or_null(get(state->root, "preview"));
}

static int same(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

int durable_state_is_live(const struct env_state *state, const char *color)
{
	return same(durable_state_live(state), color);
}

int durable_state_is_preview(const struct env_state *state, const char *color)
{
	return same(durable_state_preview(state), color);
}

static int set_str_or_null(json_object *o, const char *key, const char *val)
{
	json_object *v = NULL;

	if (val) {
		v = json_object_new_string(val);
		if (!v)
			return -1;
	}
	return json_object_object_add(o, key, v) < 0 ? -1 : 0;
}

int durable_state_set_live(struct env_state *state, const char *color)
{
	return set_str_or_null(state->root, "live", color);
}

int durable_state_set_preview(struct env_state *state, const char *color)
{
	return set_str_or_null(state->root, "preview", color);
}

const char *durable_state_canary(const struct env_state *state, int *weight)
{
	json_object *c = get(state->root, "canary");
	const char *color = str_or_null(get(c, "color"));
	json_object *w = get(c, "weight");
	int n = w && json_object_is_type(w, json_type_int) ? json_object_get_int(w) : 0;

	*weight = 0;
	if (!color || n < 1 || n > 99 || !durable_state_is_preview(state, color) ||
	    !durable_state_live(state))
		return NULL;
	*weight = n;
	return color;
}

const char *durable_state_canary_since(const struct env_state *state)
{
	return str_or_null(get(get(state->root, "canary"), "since"));
}

int durable_state_set_canary(struct env_state *state, const char *color, int weight,
			     const char *steps)
{
	json_object *c, *old = get(state->root, "canary");
	char when[32];

	if (!color || weight <= 0) {
		json_object_object_del(state->root, "canary");
		return 0;
	}
	c = json_object_new_object();
	if (!c)
		return -1;
	json_object_object_add(c, "color", json_object_new_string(color));
	json_object_object_add(c, "weight", json_object_new_int(weight));
	if (steps)
		json_object_object_add(c, "steps", json_object_new_string(steps));
	if (get(old, "since") && same(str_or_null(get(old, "color")), color)) {
		json_object_object_add(c, "since", json_object_get(get(old, "since")));
	} else {
		durable_time_rfc3339(time(NULL), when, sizeof(when));
		json_object_object_add(c, "since", json_object_new_string(when));
	}
	json_object_object_add(state->root, "canary", c);
	return 0;
}

static json_object *color_rec(const struct env_state *state, const char *color)
{
	json_object *rec = color ? get(get(state->root, "colors"), color) : NULL;

	return rec && json_object_is_type(rec, json_type_object) ? rec : NULL;
}

static json_object *array_or_null(json_object *v)
{
	return v && json_object_is_type(v, json_type_array) ? v : NULL;
}

static void view(const char *name, json_object *rec, struct env_color *out)
{
	json_object *images = get(rec, "images");

	out->name = name;
	out->commit = str_or_null(get(rec, "commit"));
	out->ref = str_or_null(get(rec, "ref"));
	out->deployed_at = str_or_null(get(rec, "deployed_at"));
	out->status = str_or_null(get(rec, "status"));
	out->project = str_or_null(get(rec, "project"));
	out->images = images && json_object_is_type(images, json_type_object) ? images : NULL;
	out->routes = array_or_null(get(rec, "routes"));
	out->networks = array_or_null(get(rec, "networks"));
}

int durable_state_color(const struct env_state *state, const char *color, struct env_color *out)
{
	json_object *rec = color_rec(state, color);

	memset(out, 0, sizeof(*out));
	if (!rec)
		return 0;
	view(color, rec, out);
	return 1;
}

size_t durable_state_ncolors(const struct env_state *state)
{
	json_object *colors = get(state->root, "colors");

	return colors ? (size_t)json_object_object_length(colors) : 0;
}

int durable_state_color_at(const struct env_state *state, size_t i, struct env_color *out)
{
	json_object *colors = get(state->root, "colors");
	size_t k = 0;

	memset(out, 0, sizeof(*out));
	if (!colors)
		return 0;
	json_object_object_foreach(colors, name, rec)
	{
		if (k++ == i) {
			view(name, rec, out);
			return 1;
		}
	}
	return 0;
}

int durable_state_set_color(struct env_state *state, const char *color,
			    const struct durable_color_record *r, struct error *err)
{
	json_object *colors, *rec;
	char when[32];

	if (!color || !*color)
		return error_set(err, ERR_SYSTEM, "state: color without a name");
	colors = get_obj(state->root, "colors");
	rec = json_object_new_object();
	if (!colors || !rec) {
		json_object_put(rec);
		return error_set(err, ERR_SYSTEM, "out of memory");
	}
	durable_time_rfc3339(r->deployed_at ? r->deployed_at : time(NULL), when, sizeof(when));
	set_str_or_null(rec, "commit", r->commit);
	set_str_or_null(rec, "ref", r->ref);
	set_str_or_null(rec, "deployed_at", when);
	json_object_object_add(rec, "images",
			       r->images ? json_object_get(r->images) : json_object_new_object());
	set_str_or_null(rec, "status", r->status ? r->status : "deployed");
	if (json_object_object_add(colors, color, rec) < 0) {
		json_object_put(rec);
		return error_set(err, ERR_SYSTEM, "out of memory");
	}
	return 0;
}

int durable_state_set_color_status(struct env_state *state, const char *color, const char *status,
				   struct error *err)
{
	json_object *rec = color_rec(state, color);

	if (!rec)
		return error_set(err, ERR_SYSTEM, "state: color '%s' has no record", color);
	if (set_str_or_null(rec, "status", status) < 0)
		return error_set(err, ERR_SYSTEM, "out of memory");
	return 0;
}

int durable_state_set_color_links(struct env_state *state, const char *color, const char *project,
				  json_object *routes, json_object *networks, struct error *err)
{
	json_object *rec = color_rec(state, color);

	if (!rec)
		return error_set(err, ERR_SYSTEM, "state: color '%s' has no record", color);
	if ((routes && json_object_object_add(rec, "routes", json_object_get(routes)) < 0) ||
	    (networks && json_object_object_add(rec, "networks", json_object_get(networks)) < 0) ||
	    (project && set_str_or_null(rec, "project", project) < 0))
		return error_set(err, ERR_SYSTEM, "out of memory");
	return 0;
}

void durable_state_remove_color(struct env_state *state, const char *color)
{
	const char *p;

	json_object_object_del(get(state->root, "colors"), color);
	p = durable_state_canary(state, &(int){0});
	if (same(p, color))
		durable_state_set_canary(state, NULL, 0, NULL);
	if (durable_state_is_preview(state, color))
		durable_state_set_preview(state, NULL);
	if (durable_state_is_live(state, color))
		durable_state_set_live(state, NULL);
}

int durable_state_image_set(json_object *images, const char *service, const char *ref,
			    const char *digest)
{
	json_object *img = json_object_new_object();

	if (!img)
		return -1;
	set_str_or_null(img, "ref", ref);
	set_str_or_null(img, "digest", digest);
	if (json_object_object_add(images, service, img) < 0) {
		json_object_put(img);
		return -1;
	}
	return 0;
}

static json_object *router_rec(const struct env_state *state)
{
	json_object *r = get(state->root, "router");

	return r && json_object_is_type(r, json_type_object) ? r : NULL;
}

const char *durable_state_router(const struct env_state *state)
{
	return str_or_null(get(router_rec(state), "container"));
}

int durable_state_router_port(const struct env_state *state, enum env_entry entry)
{
	json_object *v =
		get(router_rec(state), entry == ENV_ENTRY_LIVE ? "live_port" : "preview_port");

	return v ? json_object_get_int(v) : 0;
}

int durable_state_set_router(struct env_state *state, const char *container, int live_port,
			     int preview_port)
{
	json_object *r;

	if (!container) {
		json_object_object_del(state->root, "router");
		return 0;
	}
	r = json_object_new_object();
	if (!r)
		return -1;
	json_object_object_add(r, "container", json_object_new_string(container));
	json_object_object_add(r, "live_port", json_object_new_int(live_port));
	json_object_object_add(r, "preview_port", json_object_new_int(preview_port));
	if (json_object_object_add(state->root, "router", r) < 0) {
		json_object_put(r);
		return -1;
	}
	return 0;
}

static json_object *tls_names(const struct env_state *state)
{
	return array_or_null(get(state->root, "tls_names"));
}

int durable_state_add_tls_name(struct env_state *state, const char *name)
{
	json_object *names = tls_names(state), *v;
	size_t i, n;

	if (!names) {
		names = json_object_new_array();
		if (!names || json_object_object_add(state->root, "tls_names", names) < 0) {
			json_object_put(names);
			return -1;
		}
	}
	n = json_object_array_length(names);
	for (i = 0; i < n; i++)
		if (same(json_object_get_string(json_object_array_get_idx(names, i)), name))
			return 0;
	v = json_object_new_string(name);
	if (!v || json_object_array_add(names, v) < 0) {
		json_object_put(v);
		return -1;
	}
	return 0;
}

size_t durable_state_tls_names(const struct env_state *state, const char **out, size_t max)
{
	json_object *names = tls_names(state);
	size_t i, n = names ? json_object_array_length(names) : 0;

	if (n > max)
		n = max;
	for (i = 0; i < n; i++)
		out[i] = json_object_get_string(json_object_array_get_idx(names, i));
	return n;
}

int durable_state_mark_setup(struct env_state *state, time_t when, int force,
			     json_object *config_hash, struct error *err)
{
	json_object *durable = get_obj(state->root, "durable");
	char text[32];

	if (!durable)
		return error_set(err, ERR_SYSTEM, "out of memory");
	if (force || !str_or_null(get(durable, "setup_at"))) {
		durable_time_rfc3339(when ? when : time(NULL), text, sizeof(text));
		if (set_str_or_null(durable, "setup_at", text) < 0)
			return error_set(err, ERR_SYSTEM, "out of memory");
	}
	if (config_hash &&
	    json_object_object_add(durable, "config_hash", json_object_get(config_hash)) < 0)
		return error_set(err, ERR_SYSTEM, "out of memory");
	return 0;
}

void durable_state_clear_setup(struct env_state *state)
{
	json_object *durable = get_obj(state->root, "durable");

	if (!durable)
		return;
	json_object_object_add(durable, "setup_at", NULL);
	json_object_object_add(durable, "config_hash", json_object_new_object());
}

const char *durable_state_setup_at_text(const struct env_state *state)
{
	return str_or_null(get(get(state->root, "durable"), "setup_at"));
}

time_t durable_state_setup_at(const struct env_state *state)
{
	const char *s = durable_state_setup_at_text(state);
	time_t t;

	if (!s || durable_time_parse_rfc3339(s, &t) < 0)
		return 0;
	return t;
}

json_object *durable_state_config_hash(const struct env_state *state)
{
	json_object *h = get(get(state->root, "durable"), "config_hash");

	return h && json_object_is_type(h, json_type_object) ? h : NULL;
}
