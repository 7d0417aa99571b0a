/* SPDX-License-Identifier: MIT */
/* The router file: plain live/preview, the canary split, the watch log. */
#include "tests/unit/durable_test.h"

#include "common/buf.h"
#include "durable/router.h"
#include "durable/state.h"

static const struct router_route blue_routes[] = {
	{"api-gateway", "/api/", 3001, "https", "/health"},
	{"frontend", "/", 3443, "http", "/"},
};
static const struct router_route green_routes[] = {
	{"frontend", "/", 3443, "http", "/"},
	{"api-gateway", "/api/", 3001, "https", "/health"},
};

static char *render(const struct router_view *v, struct error *err)
{
	struct buf out = BUF_INIT;

	if (router_render(NULL, "ci", v, &out, err) < 0) {
		buf_release(&out);
		return NULL;
	}
	return buf_detach(&out, NULL);
}

/* The text of the location block `path` inside the server listening on `listen`. */
static char *location(const char *conf, const char *listen, const char *path)
{
	char want[128];
	const char *srv = strstr(conf, listen), *loc, *end;

	assert_non_null(srv);
	snprintf(want, sizeof(want), "    location %s {\n", path);
	loc = strstr(srv, want);
	assert_non_null(loc);
	end = strstr(loc, "\n    }\n");
	assert_non_null(end);
	return strndup(loc, (size_t)(end - loc));
}

static void test_router__plain_entries_have_static_upstreams_and_no_watch_log(void **state)
{
	struct router_target live = {"blue", "app-blue", blue_routes, 2};
	struct router_target preview = {"green", "app-green", green_routes, 2};
	struct router_view v = {&live, &preview, 0, 0};
	struct error err = ERROR_INIT;
	char *conf = render(&v, &err), *api;

	assert_non_null(conf);
	assert_non_null(strstr(conf, "upstream executor_live_api_gateway {\n"
				     "    server app-blue-api-gateway:3001;\n}"));
	assert_non_null(strstr(conf, "upstream executor_preview_frontend {\n"
				     "    server app-green-frontend:3443;\n}"));
	api = location(conf, "listen 443 ssl", "/api/");
	assert_non_null(strstr(api, "proxy_pass https://executor_live_api_gateway/;"));
	assert_non_null(strstr(api, "add_header X-Executor-Color blue always;"));
	assert_null(strstr(api, "access_log"));
	free(api);
	assert_null(strstr(conf, "split_clients"));
	assert_null(strstr(conf, "log_format"));
	free(conf);
}

static void test_router__canary_splits_the_live_entry_only(void **state)
{
	struct router_target live = {"blue", "app-blue", blue_routes, 2};
	struct router_target preview = {"green", "app-green", green_routes, 2};
	struct router_view v = {&live, &preview, 10, 0};
	struct error err = ERROR_INIT;
	char *conf = render(&v, &err), *api, *root, *papi;

	assert_non_null(conf);
	/* the candidate listed first: raising the weight only moves clients to it */
	assert_non_null(strstr(conf, "split_clients \"${executor_client}\" $executor_split {\n"
				     "    10% preview;\n"
				     "    * live;\n}"));
	assert_non_null(strstr(conf, "map $cookie_executor_client $executor_client {\n"
				     "    \"\" $remote_addr;\n"
				     "    default $cookie_executor_client;\n}"));
	assert_non_null(strstr(conf, "map $executor_split $executor_split_color {\n"
				     "    preview green;\n"
				     "    default blue;\n}"));
	api = location(conf, "listen 443 ssl", "/api/");
	assert_non_null(
		strstr(api, "rewrite ^/api/(.*)$ /$1 break;\n"
			    "        proxy_pass https://executor_${executor_split}_api_gateway;"));
	assert_non_null(strstr(api, "add_header X-Executor-Color $executor_split_color always;"));
	assert_non_null(strstr(api, "proxy_ssl_name api-gateway;"));
	root = location(conf, "listen 443 ssl", "/");
	assert_non_null(strstr(root,
			       "rewrite ^/(.*)$ /$1 break;\n"
			       "        proxy_pass http://executor_${executor_split}_frontend;"));
	/* the preview entry still serves the candidate alone */
	papi = location(conf, "listen 1443 ssl", "/api/");
	assert_non_null(strstr(papi, "proxy_pass https://executor_preview_api_gateway/;"));
	assert_non_null(strstr(papi, "add_header X-Executor-Color green always;"));
	free(api);
	free(root);
	free(papi);
	free(conf);
}

static void test_router__watch_log_on_live_locations(void **state)
{
	struct router_target live = {"green", "app-green", green_routes, 2};
	struct router_target preview = {"blue", "app-blue", blue_routes, 2};
	struct router_view v = {&live, &preview, 0, 1};
	struct error err = ERROR_INIT;
	char *conf = render(&v, &err), *api, *papi;

	assert_non_null(conf);
	assert_non_null(strstr(conf, "log_format executor_watch '" ROUTER_WATCH_TAG
				     "$msec $sent_http_x_executor_color $status"));
	api = location(conf, "listen 443 ssl", "/api/");
	assert_non_null(strstr(api, "access_log /dev/stdout executor_watch;"));
	papi = location(conf, "listen 1443 ssl", "/api/");
	assert_null(strstr(papi, "access_log"));
	free(api);
	free(papi);
	free(conf);
}

static void test_router__regex_metacharacters_in_a_canary_path_are_escaped(void **state)
{
	static const struct router_route r[] = {{"web", "/v1.0+(x)/", 80, "http", "/"}};
	struct router_target live = {"blue", "app-blue", r, 1};
	struct router_target preview = {"green", "app-green", r, 1};
	struct router_view v = {&live, &preview, 50, 0};
	struct error err = ERROR_INIT;
	char *conf = render(&v, &err);

	assert_non_null(conf);
	assert_non_null(strstr(conf, "rewrite ^/v1\\.0\\+\\(x\\)/(.*)$ /$1 break;"));
	free(conf);
}

static void test_router__canary_refuses_colors_with_different_routes(void **state)
{
	static const struct router_route other[] = {
		{"api-gateway", "/api/", 3001, "https", "/health"},
		{"frontend", "/", 3443, "https", "/"},
	};
	static const struct router_route fewer[] = {
		{"api-gateway", "/api/", 3001, "https", "/health"},
	};
	struct router_target live = {"blue", "app-blue", blue_routes, 2};
	struct router_target preview = {"green", "app-green", other, 2};
	struct router_view v = {&live, &preview, 10, 0};
	struct error err = ERROR_INIT;

	assert_null(render(&v, &err));
	assert_int_equal(err.cls, ERR_COMPOSE);
	assert_string_equal(err.msg,
			    "route / goes to http://frontend in blue but to https://frontend in "
			    "green (or its io.executor.route.tls-* labels differ): a canary needs "
			    "the same service, scheme and upstream TLS behind a route in both "
			    "colors");
	error_clear(&err);
	preview.routes = fewer;
	preview.nroutes = 1;
	assert_null(render(&v, &err));
	assert_string_equal(err.msg, "a canary splits each route between the colors, but route / "
				     "exists in blue only: give both colors the same routes, or "
				     "promote without EXECUTOR_CANARY_STEPS");
	error_clear(&err);
	v.canary_weight = 100;
	preview.routes = green_routes;
	preview.nroutes = 2;
	assert_null(render(&v, &err));
	assert_int_equal(err.cls, ERR_SYSTEM);
}

static void test_router__upstream_tls_per_route(void **state)
{
	static const struct router_route own[] = {
		/* the stack's own CA, a name of its certificate */
		{"api-gateway", "/api/", 3001, "https", "/health", NULL, "upstream-ca-0011.pem",
		 "api.internal"},
		/* verification off */
		{"frontend", "/", 3443, "https", "/", "off", NULL, NULL},
		/* default: the env's CA, the service's name */
		{"admin", "/admin/", 8443, "https", "/", "on", NULL, NULL},
	};
	struct router_target live = {"blue", "app-blue", own, 3};
	struct router_target preview = {"green", "app-green", own, 3};
	struct router_view v = {&live, &preview, 0, 0};
	struct error err = ERROR_INIT;
	char *conf = render(&v, &err), *api, *root, *admin;

	assert_non_null(conf);
	api = location(conf, "listen 443 ssl", "/api/");
	assert_non_null(strstr(api, "proxy_ssl_name api.internal;\n"
				    "        proxy_ssl_verify on;\n"
				    "        proxy_ssl_verify_depth 4;\n"
				    "        proxy_ssl_trusted_certificate "
				    "/etc/nginx/conf.d/upstream-ca-0011.pem;"));
	root = location(conf, "listen 1443 ssl", "/");
	assert_non_null(strstr(root, "proxy_ssl_name frontend;\n"
				     "        proxy_ssl_verify off;"));
	assert_null(strstr(root, "trusted_certificate"));
	admin = location(conf, "listen 443 ssl", "/admin/");
	assert_non_null(strstr(admin,
			       "proxy_ssl_name admin;\n"
			       "        proxy_ssl_verify on;\n"
			       "        proxy_ssl_trusted_certificate /etc/executor/tls/ca.pem;"));
	free(api);
	free(root);
	free(admin);
	free(conf);
}

static void test_router__canary_needs_the_same_upstream_tls(void **state)
{
	static const struct router_route off[] = {
		{"api-gateway", "/api/", 3001, "https", "/health", "off", NULL, NULL},
		{"frontend", "/", 3443, "http", "/"},
	};
	struct router_target live = {"blue", "app-blue", blue_routes, 2};
	struct router_target preview = {"green", "app-green", off, 2};
	struct router_view v = {&live, &preview, 10, 0};
	struct error err = ERROR_INIT;

	assert_null(render(&v, &err));
	assert_int_equal(err.cls, ERR_COMPOSE);
	assert_non_null(strstr(err.msg, "route /api/ goes to https://api-gateway in blue"));
	assert_non_null(strstr(err.msg, "tls-* labels differ"));
}

static void test_router__state_canary_needs_the_preview_color(void **state)
{
	struct env_state *st = durable_state_new();
	int w = -1;

	durable_state_set_live(st, "blue");
	durable_state_set_preview(st, "green");
	assert_int_equal(durable_state_set_canary(st, "green", 10, "10,50,100"), 0);
	assert_string_equal(durable_state_canary(st, &w), "green");
	assert_int_equal(w, 10);
	/* a record that no longer matches the preview is no split */
	durable_state_set_preview(st, "blue");
	assert_null(durable_state_canary(st, &w));
	assert_int_equal(w, 0);
	durable_state_set_preview(st, "green");
	/* removing the candidate removes the split */
	durable_state_remove_color(st, "green");
	assert_null(durable_state_canary(st, &w));
	assert_null(durable_state_canary_since(st));
	/* weight 0 clears */
	durable_state_set_preview(st, "green");
	durable_state_set_canary(st, "green", 50, NULL);
	assert_non_null(durable_state_canary_since(st));
	durable_state_set_canary(st, "green", 0, NULL);
	assert_null(durable_state_canary_since(st));
	durable_state_free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_router__plain_entries_have_static_upstreams_and_no_watch_log),
		cmocka_unit_test(test_router__canary_splits_the_live_entry_only),
		cmocka_unit_test(test_router__watch_log_on_live_locations),
		cmocka_unit_test(test_router__regex_metacharacters_in_a_canary_path_are_escaped),
		cmocka_unit_test(test_router__canary_refuses_colors_with_different_routes),
		cmocka_unit_test(test_router__state_canary_needs_the_preview_color),
		cmocka_unit_test(test_router__upstream_tls_per_route),
		cmocka_unit_test(test_router__canary_needs_the_same_upstream_tls),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
