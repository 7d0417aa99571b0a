/* SPDX-License-Identifier: MIT */
#include "durable/state.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "durable/env.h"

#define STATE_FILE_LIMIT (16u * 1024u * 1024u)

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

json_object *durable_state_new(void)
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

int durable_state_load(const char *state_dir, const char *env, json_object **out, struct error *err)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_buf_ struct buf data = BUF_INIT;
	enum json_tokener_error jerr;
	struct error e = ERROR_INIT;
	json_object *st;

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
	if (normalise(st, path, err) < 0) {
		json_object_put(st);
		return -1;
	}
	*out = st;
	return 0;
}

int durable_state_save(const char *state_dir, const char *env, json_object *state,
		       struct error *err)
{
	_cleanup_free_ char *path = NULL;
	const char *text;

	if (!state || !json_object_is_type(state, json_type_object))
		return error_set(err, ERR_SYSTEM, "save state of env '%s': no state object", env);
	if (durable_env_ensure(state_dir, env, err) < 0 ||
	    durable_env_path(state_dir, env, DURABLE_STATE_FILE, &path, err) < 0)
		return -1;
	text = json_object_to_json_string_ext(state, JSON_C_TO_STRING_PRETTY |
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

const char *durable_state_live(json_object *state)
{
	return str_or_null(get(state, "live"));
}

const char *durable_state_preview(json_object *state)
{
	return str_or_null(get(state, "preview"));
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

int durable_state_set_live(json_object *state, const char *color)
{
	return set_str_or_null(state, "live", color);
}

int durable_state_set_preview(json_object *state, const char *color)
{
	return set_str_or_null(state, "preview", color);
}

const char *durable_state_canary(json_object *state, int *weight)
{
	json_object *c = get(state, "canary"), *color = get(c, "color"), *w = get(c, "weight");
	const char *preview = durable_state_preview(state);
	int n = w && json_object_is_type(w, json_type_int) ? json_object_get_int(w) : 0;

	*weight = 0;
	if (!color || !json_object_is_type(color, json_type_string) || n < 1 || n > 99 ||
	    !preview || strcmp(preview, json_object_get_string(color)) ||
	    !durable_state_live(state))
		return NULL;
	*weight = n;
	return json_object_get_string(color);
}

int durable_state_set_canary(json_object *state, const char *color, int weight, const char *steps)
{
	json_object *c, *old = get(state, "canary");
	char when[32];
	time_t now = time(NULL);
	struct tm tm;

	if (!color || weight <= 0) {
		json_object_object_del(state, "canary");
		return 0;
	}
	c = json_object_new_object();
	if (!c)
		return -1;
	json_object_object_add(c, "color", json_object_new_string(color));
	json_object_object_add(c, "weight", json_object_new_int(weight));
	if (steps)
		json_object_object_add(c, "steps", json_object_new_string(steps));
	if (old && get(old, "since") && get(old, "color") &&
	    !strcmp(json_object_get_string(get(old, "color")), color)) {
		json_object_object_add(c, "since", json_object_get(get(old, "since")));
	} else {
		gmtime_r(&now, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		json_object_object_add(c, "since", json_object_new_string(when));
	}
	json_object_object_add(state, "canary", c);
	return 0;
}

json_object *durable_state_color(json_object *state, const char *color)
{
	json_object *rec = get(get(state, "colors"), color);

	return rec && json_object_is_type(rec, json_type_object) ? rec : NULL;
}

int durable_state_set_color(json_object *state, const char *color,
			    const struct durable_color_record *r, struct error *err)
{
	json_object *colors, *rec;
	char when[32];

	if (!color || !*color)
		return error_set(err, ERR_SYSTEM, "state: color without a name");
	colors = get_obj(state, "colors");
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

int durable_state_set_color_status(json_object *state, const char *color, const char *status,
				   struct error *err)
{
	json_object *rec = durable_state_color(state, color);

	if (!rec)
		return error_set(err, ERR_SYSTEM, "state: color '%s' has no record", color);
	if (set_str_or_null(rec, "status", status) < 0)
		return error_set(err, ERR_SYSTEM, "out of memory");
	return 0;
}

void durable_state_remove_color(json_object *state, const char *color)
{
	const char *p;

	json_object_object_del(get(state, "colors"), color);
	p = durable_state_canary(state, &(int){0});
	if (p && !strcmp(p, color))
		durable_state_set_canary(state, NULL, 0, NULL);
	p = durable_state_preview(state);
	if (p && !strcmp(p, color))
		durable_state_set_preview(state, NULL);
	p = durable_state_live(state);
	if (p && !strcmp(p, color))
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

int durable_state_mark_setup(json_object *state, time_t when, int force, json_object *config_hash,
			     struct error *err)
{
	json_object *durable = get_obj(state, "durable");
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

void durable_state_clear_setup(json_object *state)
{
	json_object *durable = get_obj(state, "durable");

	if (!durable)
		return;
	json_object_object_add(durable, "setup_at", NULL);
	json_object_object_add(durable, "config_hash", json_object_new_object());
}

time_t durable_state_setup_at(json_object *state)
{
	const char *s = str_or_null(get(get(state, "durable"), "setup_at"));
	time_t t;

	if (!s || durable_time_parse_rfc3339(s, &t) < 0)
		return 0;
	return t;
}

json_object *durable_state_config_hash(json_object *state)
{
	json_object *h = get(get(state, "durable"), "config_hash");

	return h && json_object_is_type(h, json_type_object) ? h : NULL;
}
