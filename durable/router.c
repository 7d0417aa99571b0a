/* SPDX-License-Identifier: MIT */
#include "durable/router.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"

static void upstream_name(char *out, size_t size, const char *entry, const char *service)
{
	size_t i = 0;

	i = (size_t)snprintf(out, size, "executor_%s_", entry);
	for (; *service && i + 1 < size; service++)
		out[i++] = (*service == '-' || *service == '.') ? '_' : *service;
	out[i] = '\0';
}

static int render_upstreams(struct buf *out, const char *entry, const struct router_target *t)
{
	char name[160];
	size_t i;

	if (!t || !t->color)
		return 0;
	for (i = 0; i < t->nroutes; i++) {
		upstream_name(name, sizeof(name), entry, t->routes[i].service);
		if (buf_printf(out, "upstream %s {\n    server %s-%s:%d;\n}\n", name, t->project,
			       t->routes[i].service, t->routes[i].port) < 0)
			return -1;
	}
	return 0;
}

static int same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static const struct router_route *find_route(const struct router_target *t, const char *path)
{
	size_t i;

	for (i = 0; t && i < t->nroutes; i++)
		if (!strcmp(t->routes[i].path, path))
			return &t->routes[i];
	return NULL;
}

int router_canary_compatible(const struct router_target *live, const struct router_target *preview,
			     struct error *err)
{
	size_t i;

	if (!live || !live->color || !preview || !preview->color)
		return error_set(err, ERR_JOB, "a canary needs a live color and a candidate");
	for (i = 0; i < live->nroutes + preview->nroutes; i++) {
		int from_live = i < live->nroutes;
		const struct router_target *mine = from_live ? live : preview;
		const struct router_target *theirs = from_live ? preview : live;
		const struct router_route *a = &mine->routes[from_live ? i : i - live->nroutes];
		const struct router_route *b = find_route(theirs, a->path);

		if (!b)
			return error_set(
				err, ERR_COMPOSE,
				"a canary splits each route between the colors, but route "
				"%s exists in %s only: give both colors the same routes, or "
				"promote without EXECUTOR_CANARY_STEPS",
				a->path, mine->color);
		if (strcmp(a->service, b->service) || strcmp(a->scheme, b->scheme) ||
		    !same_str(a->tls_verify, b->tls_verify) || !same_str(a->tls_ca, b->tls_ca) ||
		    !same_str(a->tls_name, b->tls_name))
			return error_set(err, ERR_COMPOSE,
					 "route %s goes to %s://%s in %s but to %s://%s in %s (or "
					 "its io.executor.route.tls-* labels differ): a canary "
					 "needs the same service, scheme and upstream TLS behind a "
					 "route in both colors",
					 a->path, a->scheme, a->service, mine->color, b->scheme,
					 b->service, theirs->color);
	}
	return 0;
}

/* rewrite's regex for a location prefix: metacharacters escaped (the route
 * labels already refused spaces, quotes, braces, ; $ and backslashes). */
static int put_regex(struct buf *out, const char *s)
{
	for (; *s; s++)
		if ((strchr(".+*?()|[]^", *s) && buf_putc(out, '\\') < 0) || buf_putc(out, *s) < 0)
			return -1;
	return 0;
}

static int render_locations(struct buf *out, const char *entry, const struct router_view *v,
			    const char *env)
{
	int is_live = !strcmp(entry, "live");
	const struct router_target *t = is_live ? v->live : v->preview;
	int split = is_live && v->canary_weight > 0;
	char name[160];
	size_t i;

	if (!t || !t->color)
		return buf_printf(out,
				  "    location / {\n        default_type text/plain;\n"
				  "        return 503 \"no color is %s in env %s\\n\";\n    }\n",
				  entry, env);
	for (i = 0; i < t->nroutes; i++) {
		const struct router_route *r = &t->routes[i];
		int tls = !strcmp(r->scheme, "https");

		if (buf_printf(out, "    location %s {\n", r->path) < 0)
			return -1;
		if (split) {
			/* the upstream is chosen per client, so proxy_pass has a
			 * variable and the prefix is cut by rewrite: the same URI
			 * as the "proxy_pass .../;" form below */
			upstream_name(name, sizeof(name), "${executor_split}", r->service);
			if (buf_puts(out, "        rewrite ^") < 0 || put_regex(out, r->path) < 0 ||
			    buf_printf(out, "(.*)$ /$1 break;\n        proxy_pass %s://%s;\n",
				       tls ? "https" : "http", name) < 0)
				return -1;
		} else {
			upstream_name(name, sizeof(name), entry, r->service);
			if (buf_printf(out, "        proxy_pass %s://%s/;\n",
				       tls ? "https" : "http", name) < 0)
				return -1;
		}
		if (buf_printf(
			    out,
			    "        proxy_set_header Host $host;\n"
			    "        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
			    "        proxy_set_header X-Forwarded-Proto https;\n"
			    "        proxy_hide_header X-Executor-Color;\n"
			    "        add_header X-Executor-Color %s always;\n",
			    split ? "$executor_split_color" : t->color) < 0)
			return -1;
		if (tls && buf_printf(out,
				      "        proxy_ssl_server_name on;\n"
				      "        proxy_ssl_name %s;\n",
				      r->tls_name && *r->tls_name ? r->tls_name : r->service) < 0)
			return -1;
		if (tls && r->tls_verify && !strcmp(r->tls_verify, "off")) {
			/* the stack's choice (io.executor.route.tls-verify: off) */
			if (buf_puts(out, "        proxy_ssl_verify off;\n") < 0)
				return -1;
		} else if (tls && r->tls_ca) {
			/* the stack's own CA (io.executor.route.tls-ca), which may
			 * issue through an intermediate */
			if (buf_printf(out,
				       "        proxy_ssl_verify on;\n"
				       "        proxy_ssl_verify_depth 4;\n"
				       "        proxy_ssl_trusted_certificate " ROUTER_MOUNT
				       "/%s;\n",
				       r->tls_ca) < 0)
				return -1;
		} else if (tls && buf_puts(out, "        proxy_ssl_verify on;\n"
						"        proxy_ssl_trusted_certificate "
						"/etc/executor/tls/ca.pem;\n") < 0) {
			return -1;
		}
		if (is_live && v->watch_log &&
		    buf_puts(out, "        access_log /dev/stdout executor_watch;\n") < 0)
			return -1;
		if (buf_puts(out, "    }\n") < 0)
			return -1;
	}
	return 0;
}

/* http-level pieces beside the upstreams: the canary split, the watch's log format */
static int render_http(struct buf *out, const struct router_view *v)
{
	if (v->canary_weight > 0 &&
	    buf_printf(out,
		       "# canary: %d%% of the live entry's clients go to %s, the others to %s;\n"
		       "# sticky per client: its executor_client cookie, else its address\n"
		       "map $cookie_executor_client $executor_client {\n"
		       "    \"\" $remote_addr;\n"
		       "    default $cookie_executor_client;\n"
		       "}\n"
		       "split_clients \"${executor_client}\" $executor_split {\n"
		       "    %d%% preview;\n"
		       "    * live;\n"
		       "}\n"
		       "map $executor_split $executor_split_color {\n"
		       "    preview %s;\n"
		       "    default %s;\n"
		       "}\n",
		       v->canary_weight, v->preview->color, v->live->color, v->canary_weight,
		       v->preview->color, v->live->color) < 0)
		return -1;
	if (v->watch_log &&
	    buf_puts(out, "log_format executor_watch '" ROUTER_WATCH_TAG
			  "$msec $sent_http_x_executor_color $status \"$upstream_status\" "
			  "\"$upstream_header_time\" \"$request_method $uri\"';\n") < 0)
		return -1;
	return 0;
}

int router_render(const char *template_text, const char *env, const struct router_view *v,
		  struct buf *out, struct error *err)
{
	const char *p = template_text ? template_text : router_default_template;
	const struct router_target *live = v->live, *preview = v->preview;

	if (v->canary_weight < 0 || v->canary_weight > 99)
		return error_set(err, ERR_SYSTEM, "canary weight %d is not within 0..99",
				 v->canary_weight);
	if (v->canary_weight > 0 && router_canary_compatible(live, preview, err) < 0)
		return -1;
	while (*p) {
		const char *open = strstr(p, "{{"), *close;
		char key[64];
		size_t klen;
		int rc = 0;

		if (!open) {
			if (buf_puts(out, p) < 0)
				goto oom;
			break;
		}
		if (buf_append(out, p, (size_t)(open - p)) < 0)
			goto oom;
		close = strstr(open, "}}");
		klen = close ? (size_t)(close - open - 2) : 0;
		if (!close || klen >= sizeof(key))
			return error_set(
				err, ERR_COMPOSE,
				"router template: unterminated or overlong {{ placeholder");
		memcpy(key, open + 2, klen);
		key[klen] = '\0';
		if (!strcmp(key, "env"))
			rc = buf_puts(out, env);
		else if (!strcmp(key, "generation"))
			rc = buf_puts(out, v->generation ? v->generation : "");
		else if (!strcmp(key, "live_color"))
			rc = buf_puts(out, live && live->color ? live->color : "none");
		else if (!strcmp(key, "preview_color"))
			rc = buf_puts(out, preview && preview->color ? preview->color : "none");
		else if (!strcmp(key, "upstreams"))
			rc = (render_upstreams(out, "live", live) < 0 ||
			      render_upstreams(out, "preview", preview) < 0 ||
			      render_http(out, v) < 0)
				     ? -1
				     : 0;
		else if (!strcmp(key, "live_locations"))
			rc = render_locations(out, "live", v, env);
		else if (!strcmp(key, "preview_locations"))
			rc = render_locations(out, "preview", v, env);
		else
			return error_set(err, ERR_COMPOSE,
					 "router template: unknown placeholder {{%s}}; known: env, "
					 "generation, live_color, preview_color, upstreams, "
					 "live_locations, preview_locations",
					 key);
		if (rc < 0)
			goto oom;
		p = close + 2;
	}
	return 0;
oom:
	return error_set(err, ERR_SYSTEM, "router configuration too large");
}

/*
 * The candidate is checked before it replaces anything: a throwaway main
 * configuration that includes only the candidate file (not *.conf, so the
 * running nginx never loads it), tested with nginx -t -c.  The live file is
 * replaced only after the check passes, so neither a failed check nor a
 * SIGKILL at any point leaves a broken file where a router restart would
 * load it.
 */
#define ROUTER_NEXT ".executor.conf.next"
#define ROUTER_TEST ".executor-test.conf"

/* Run argv in the router; its exit code (output in *out), or -1 when the
 * exec itself failed. */
static int router_exec(struct docker_client *c, const char *container, const char *const *argv,
		       const char *what, struct buf *out, struct error *err)
{
	int code = -1;

	if (docker_exec_simple(c, container, argv, out, &code, err) < 0)
		return error_wrap(err, "%s in the router %s", what, container);
	return code;
}

static int nginx_test(struct docker_client *c, const char *container, struct error *err)
{
	static const char conf[] = ROUTER_MOUNT "/" ROUTER_TEST;
	const char *argv[] = {"nginx", "-t", "-q", "-c", conf, NULL};
	struct buf out = BUF_INIT;
	int code = router_exec(c, container, argv, "run nginx -t", &out, err);

	if (code > 0) {
		char *nl;

		/* keep the first line: "[emerg] ... in /etc/nginx/conf.d/x.conf:12" */
		nl = out.data ? strchr(out.data, '\n') : NULL;
		if (nl && nl[1])
			*nl = '\0';
		error_set(err, ERR_COMPOSE, "the new router configuration fails nginx -t: %.500s",
			  buf_str(&out));
	}
	buf_release(&out);
	return code == 0 ? 0 : -1;
}

/*
 * The reload is `nginx -s reload` run inside the router, not a SIGHUP through
 * the kill API: the engine (Docker 20.10) marks a container that receives any
 * signal through POST /containers/{id}/kill as stopped by hand, and
 * `restart: unless-stopped` then leaves the router down after an engine
 * restart (tests/e2e/test_engine_restart.py).
 */
static int nginx_reload(struct docker_client *c, const char *container, struct error *err)
{
	const char *argv[] = {"nginx", "-s", "reload", NULL};
	struct buf out = BUF_INIT;
	int code = router_exec(c, container, argv, "reload nginx", &out, err);

	if (code > 0)
		error_set(err, ERR_ENGINE,
			  "reload the router %s: nginx -s reload exited %d: %.300s", container,
			  code, buf_str(&out));
	buf_release(&out);
	return code == 0 ? 0 : -1;
}

static const char test_main[] =
	"# written by executor to check a candidate with nginx -t; never loaded\n"
	"pid /tmp/executor-nginx-test.pid;\n"
	"error_log stderr warn;\n"
	"events { worker_connections 64; }\n"
	"http {\n"
	"    include /etc/nginx/mime.types;\n"
	"    include " ROUTER_MOUNT "/" ROUTER_NEXT ";\n"
	"}\n";

int router_apply(struct docker_client *c, const char *container, const char *dir, const char *text,
		 struct error *err)
{
	_cleanup_free_ char *path = NULL, *next = NULL, *test = NULL;
	struct buf old = BUF_INIT;
	int had_old;

	if (asprintf(&path, "%s/%s", dir, ROUTER_FILE) < 0 ||
	    asprintf(&next, "%s/%s", dir, ROUTER_NEXT) < 0 ||
	    asprintf(&test, "%s/%s", dir, ROUTER_TEST) < 0)
		return error_set(err, ERR_SYSTEM, "out of memory");
	had_old = fs_read_file(path, &old, 4 << 20, err) == 0;
	error_clear(err);
	if (had_old && !strcmp(buf_str(&old), text)) {
		/* same file: a reload still re-resolves upstream names */
		buf_release(&old);
		return nginx_reload(c, container, err);
	}
	buf_release(&old);
	/* the router mounts the directory, so files written here are seen inside
	 * it; the throwaway main file is rewritten only when it differs */
	if (fs_read_file(test, &old, 64 << 10, err) < 0 || strcmp(buf_str(&old), test_main)) {
		error_clear(err);
		if (fs_write_atomic(test, test_main, strlen(test_main), 0644, err) < 0) {
			buf_release(&old);
			return -1;
		}
	}
	buf_release(&old);
	if (fs_write_atomic(next, text, strlen(text), 0644, err) < 0)
		return -1;
	if (nginx_test(c, container, err) < 0) {
		unlink(next);
		log_warn("the router keeps its previous configuration");
		return -1;
	}
	if (rename(next, path) < 0) {
		int e = errno;

		unlink(next);
		return error_set_errno(err, ERR_IO, e, "install the router configuration %s", path);
	}
	return nginx_reload(c, container, err);
}

int router_routes_from_json(json_object *routes, struct router_route **out, size_t *n)
{
	size_t i, len = routes ? json_object_array_length(routes) : 0;
	struct router_route *r = calloc(len ? len : 1, sizeof(*r));

	if (!r)
		return -1;
	for (i = 0; i < len; i++) {
		json_object *o = json_object_array_get_idx(routes, i), *v;

		if (json_object_object_get_ex(o, "service", &v))
			r[i].service = json_object_get_string(v);
		if (json_object_object_get_ex(o, "path", &v))
			r[i].path = json_object_get_string(v);
		if (json_object_object_get_ex(o, "port", &v))
			r[i].port = json_object_get_int(v);
		if (json_object_object_get_ex(o, "scheme", &v))
			r[i].scheme = json_object_get_string(v);
		if (json_object_object_get_ex(o, "health", &v))
			r[i].health = json_object_get_string(v);
		if (json_object_object_get_ex(o, "tls_verify", &v))
			r[i].tls_verify = json_object_get_string(v);
		if (json_object_object_get_ex(o, "tls_ca", &v))
			r[i].tls_ca = json_object_get_string(v);
		if (json_object_object_get_ex(o, "tls_name", &v))
			r[i].tls_name = json_object_get_string(v);
	}
	*out = r;
	*n = len;
	return 0;
}
