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

static int render_locations(struct buf *out, const char *entry, const struct router_target *t,
			    const char *env)
{
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

		upstream_name(name, sizeof(name), entry, r->service);
		if (buf_printf(
			    out,
			    "    location %s {\n"
			    "        proxy_pass %s://%s/;\n"
			    "        proxy_set_header Host $host;\n"
			    "        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
			    "        proxy_set_header X-Forwarded-Proto https;\n"
			    "        proxy_hide_header X-Executor-Color;\n"
			    "        add_header X-Executor-Color %s always;\n",
			    r->path, tls ? "https" : "http", name, t->color) < 0)
			return -1;
		if (tls &&
		    buf_printf(out,
			       "        proxy_ssl_server_name on;\n"
			       "        proxy_ssl_name %s;\n"
			       "        proxy_ssl_verify on;\n"
			       "        proxy_ssl_trusted_certificate /etc/executor/tls/ca.pem;\n",
			       r->service) < 0)
			return -1;
		if (buf_puts(out, "    }\n") < 0)
			return -1;
	}
	return 0;
}

int router_render(const char *template_text, const char *env, const struct router_target *live,
		  const struct router_target *preview, struct buf *out, struct error *err)
{
	const char *p = template_text ? template_text : router_default_template;

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
		else if (!strcmp(key, "live_color"))
			rc = buf_puts(out, live && live->color ? live->color : "none");
		else if (!strcmp(key, "preview_color"))
			rc = buf_puts(out, preview && preview->color ? preview->color : "none");
		else if (!strcmp(key, "upstreams"))
			rc = (render_upstreams(out, "live", live) < 0 ||
			      render_upstreams(out, "preview", preview) < 0)
				     ? -1
				     : 0;
		else if (!strcmp(key, "live_locations"))
			rc = render_locations(out, "live", live, env);
		else if (!strcmp(key, "preview_locations"))
			rc = render_locations(out, "preview", preview, env);
		else
			return error_set(err, ERR_COMPOSE,
					 "router template: unknown placeholder {{%s}}; known: env, "
					 "live_color, preview_color, upstreams, live_locations, "
					 "preview_locations",
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
#define ROUTER_NEXT  ".executor.conf.next"
#define ROUTER_TEST  ".executor-test.conf"
#define ROUTER_MOUNT "/etc/nginx/conf.d"

static int nginx_test(struct docker_client *c, const char *container, struct error *err)
{
	const char *argv[] = {"nginx", "-t", "-q", "-c", ROUTER_MOUNT "/" ROUTER_TEST, NULL};
	struct buf out = BUF_INIT;
	int code = -1;

	if (docker_exec_simple(c, container, argv, &out, &code, err) < 0) {
		buf_release(&out);
		return error_wrap(err, "run nginx -t in the router %s", container);
	}
	if (code != 0) {
		char *nl;

		/* keep the first line: "[emerg] ... in /etc/nginx/conf.d/x.conf:12" */
		nl = out.data ? strchr(out.data, '\n') : NULL;
		if (nl && nl[1])
			*nl = '\0';
		error_set(err, ERR_COMPOSE, "the new router configuration fails nginx -t: %.500s",
			  buf_str(&out));
		buf_release(&out);
		return -1;
	}
	buf_release(&out);
	return 0;
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
		if (docker_container_kill(c, container, "HUP", err) < 0)
			return error_wrap(err, "reload the router %s", container);
		return 0;
	}
	buf_release(&old);
	/* the router mounts the directory, so files written here are seen inside it */
	if (fs_write_atomic(test, test_main, strlen(test_main), 0644, err) < 0 ||
	    fs_write_atomic(next, text, strlen(text), 0644, err) < 0)
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
	if (docker_container_kill(c, container, "HUP", err) < 0)
		return error_wrap(err, "reload the router %s", container);
	return 0;
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
	}
	*out = r;
	*n = len;
	return 0;
}
