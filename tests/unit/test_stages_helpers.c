/* SPDX-License-Identifier: MIT */
/*
 * The pure helpers of the deployment stages, without an engine: the canary
 * steps (EXECUTOR_CANARY_STEPS), the stack files a job names (relative, no
 * ..), the names derived from a project, the routes a stack declares with
 * io.executor.route.* labels, and the health gate's event filter and the
 * events it reads.  The gate once heard nothing after a rename changed the
 * event's name ("health_status") in its strings, and every deploy waited for
 * the deadline: the event name is asserted here, not just used.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <string.h>

#include "common/config.h"
#include "compose/compose.h"
#include "stages/action.h"
#include "stages/context.h"
#include "stages/deploy.h"
#include "stages/route.h"
#include "stages/stack/internal.h"
#include "stages/watch.h"

/* ---- canary steps ---- */

static void steps_ok(const char *text, int n_want, const int *want)
{
	int steps[8], n = -1, i;
	struct error err = ERROR_INIT;

	if (watch_parse_steps(text, steps, 8, &n, &err) < 0)
		fail_msg("\"%s\": %s", text, err.msg);
	assert_int_equal(n, n_want);
	for (i = 0; i < n; i++)
		assert_int_equal(steps[i], want[i]);
}

static void steps_refused(const char *text, int max)
{
	int steps[8], n;
	struct error err = ERROR_INIT;

	if (watch_parse_steps(text, steps, max, &n, &err) == 0)
		fail_msg("\"%s\" was accepted", text);
	assert_int_equal(err.cls, ERR_JOB);
	assert_non_null(strstr(err.msg, "EXECUTOR_CANARY_STEPS"));
	assert_non_null(strstr(err.msg, "rising percentages"));
}

static void test_helpers__canary_steps_parse(void **state)
{
	steps_ok("10,50,100", 3, (const int[]){10, 50, 100});
	steps_ok(" 10% , 50%,100 ", 3, (const int[]){10, 50, 100});
	steps_ok("1", 1, (const int[]){1});
	steps_ok("10,50,", 2, (const int[]){10, 50}); /* a trailing comma ends the list */
	steps_ok("100", 1, (const int[]){100});
	steps_ok("5,10,20,30,40,50,60,100", 8, (const int[]){5, 10, 20, 30, 40, 50, 60, 100});
}

static void test_helpers__canary_steps_refused(void **state)
{
	steps_refused("", 8);
	steps_refused("0,50", 8);
	steps_refused("10,101", 8);
	steps_refused("50,10", 8);  /* not rising */
	steps_refused("10,10", 8);  /* not rising */
	steps_refused("10;50", 8);  /* separator */
	steps_refused("10,,50", 8); /* empty step */
	steps_refused("ten", 8);    /* not a number */
	steps_refused("-10,50", 8); /* negative */
	steps_refused("1,2,3", 2);  /* more than max */
	steps_refused("99999999999999999999", 8);
}

/* ---- paths a job names ---- */

static void test_helpers__relpath_inside_the_checkout(void **state)
{
	struct error err = ERROR_INIT;
	static const char *const ok[] = {
		"docker-compose.yml", "deploy/stack.yml", "a/./b.yml", "a//b.yml",
		"..hidden.yml",	      "a/..b/c.yml",	  "x.."};
	static const char *const bad[] = {"/etc/passwd", "../x.yml", "a/../../x.yml", "a/..", "..",
					  "a/../b.yml",	 "//x"};
	size_t i;
	char longpath[1100];

	for (i = 0; i < sizeof(ok) / sizeof(*ok); i++)
		if (deploy_check_relpath("EXECUTOR_COMPOSE_FILES", ok[i], &err) < 0)
			fail_msg("%s refused: %s", ok[i], err.msg);
	for (i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		error_clear(&err);
		if (deploy_check_relpath("EXECUTOR_COMPOSE_FILES", bad[i], &err) == 0)
			fail_msg("%s accepted", bad[i]);
		assert_int_equal(err.cls, ERR_JOB);
		assert_non_null(strstr(err.msg, "EXECUTOR_COMPOSE_FILES"));
		assert_non_null(strstr(err.msg, "must be a path inside the repository"));
	}
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = '\0';
	error_clear(&err);
	assert_int_equal(deploy_check_relpath("V", longpath, &err), -1);
}

/* ---- derived names ---- */

static void app_is(const char *explicit_name, const char *project_path, const char *dir,
		   const char *want)
{
	char out[64];
	struct error err = ERROR_INIT;

	if (deploy_app_name(explicit_name, project_path, dir, out, sizeof(out), &err) < 0)
		fail_msg("%s: %s", want, err.msg);
	assert_string_equal(out, want);
}

static void app_refused(const char *explicit_name, const char *project_path, const char *needle)
{
	char out[64];
	struct error err = ERROR_INIT;

	assert_int_equal(
		deploy_app_name(explicit_name, project_path, "/b/x", out, sizeof(out), &err), -1);
	assert_int_equal(err.cls, ERR_JOB);
	if (!strstr(err.msg, needle))
		fail_msg("\"%s\" not in: %s", needle, err.msg);
}

static void test_helpers__app_name_derived(void **state)
{
	struct config cfg = {0};
	char root[128];

	app_is("shop", "group/other", "/builds/x", "shop");
	app_is(NULL, "group/My_Shop.web", "/builds/x", "my-shop-web");
	app_is("", "Shop", NULL, "shop");
	app_is(NULL, NULL, "/builds/group/project", "project");
	app_is(NULL, NULL, "/", "app");
	app_is(NULL, "g/--a__b--", NULL, "a-b");
	/* a name the job chose is never rewritten */
	app_refused("Shop", NULL, "EXECUTOR_APP \"Shop\" is not a valid name");
	app_refused("-shop", NULL, "is not a valid name");
	app_refused("a/b", NULL, "is not a valid name");
	app_refused("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", NULL, "is not a valid name");
	app_refused(NULL, "g/___", "cannot derive an application name from \"___\"");

	cfg.state_dir = "/var/lib/executor";
	deploy_state_root(&cfg, "shop", root, sizeof(root));
	assert_string_equal(root, "/var/lib/executor/apps/shop");
}

static void test_helpers__color_may_not_name_a_durable_layer(void **state)
{
	struct error err = ERROR_INIT;

	assert_int_equal(action_check_color("green", &err), 0);
	assert_int_equal(action_check_color("durablex", &err), 0);
	assert_int_equal(action_check_color("durable", &err), -1);
	assert_int_equal(err.cls, ERR_JOB);
	assert_non_null(strstr(err.msg, "ends in \"durable\""));
	error_clear(&err);
	assert_int_equal(action_check_color("ci-durable", &err), -1);
}

/* ---- routes from labels ---- */

#define SVC(n, kv, count)                                                                          \
	{                                                                                          \
		.name = (char *)(n), .file = (char *)"docker-compose.yml", .line = 3,              \
		.labels = (struct compose_kv *)(kv), .nlabels = (count)                            \
	}

static json_object *routes_of(struct compose_service *svc, size_t n, struct error *err)
{
	struct compose_project p = {.name = (char *)"shop-green", .services = svc, .nservices = n};
	static struct deploy_ctx d; /* project_dir "": no tls-ca label here */

	return deploy_routes(&d, &p, err);
}

static const char *field(json_object *route, const char *key)
{
	json_object *v;

	assert_true(json_object_object_get_ex(route, key, &v));
	return json_object_get_string(v);
}

static void test_helpers__route_labels_become_routes(void **state)
{
	struct compose_kv web[] = {{"io.executor.route.path", "/"},
				   {"io.executor.route.port", "8080"},
				   {"io.executor.health.path", "/healthz"}};
	struct compose_kv api[] = {{"io.executor.route.path", "/api/"},
				   {"io.executor.route.port", "443"},
				   {"io.executor.route.scheme", "https"},
				   {"io.executor.health.path", "no-slash"}};
	struct compose_kv db[] = {{"io.executor.role", "db"}};
	struct compose_service svc[] = {SVC("api", api, 4), SVC("db", db, 1), SVC("web", web, 3)};
	struct error err = ERROR_INIT;
	json_object *routes = routes_of(svc, 3, &err), *r;
	char url[256];

	if (!routes)
		fail_msg("%s", err.msg);
	assert_int_equal(json_object_array_length(routes), 2); /* db declares none */
	r = json_object_array_get_idx(routes, 0);
	assert_string_equal(field(r, "service"), "api");
	assert_string_equal(field(r, "path"), "/api/");
	assert_string_equal(field(r, "port"), "443");
	assert_string_equal(field(r, "scheme"), "https");
	assert_string_equal(field(r, "health"), "/"); /* a health path must start with / */
	route_health_url(url, sizeof(url), r);
	assert_string_equal(url, "/api/");
	r = json_object_array_get_idx(routes, 1);
	assert_string_equal(field(r, "service"), "web");
	assert_string_equal(field(r, "scheme"), "http"); /* the default */
	assert_string_equal(field(r, "health"), "/healthz");
	route_health_url(url, sizeof(url), r);
	assert_string_equal(url, "/healthz");
	json_object_put(routes);
}

static void route_refused(const char *path, const char *port, const char *scheme,
			  const char *needle)
{
	struct compose_kv kv[] = {{"io.executor.route.path", (char *)path},
				  {"io.executor.route.port", (char *)port},
				  {"io.executor.route.scheme", (char *)scheme}};
	struct compose_service svc[] = {SVC("web", kv, scheme ? 3 : 2)};
	struct error err = ERROR_INIT;

	if (routes_of(svc, 1, &err))
		fail_msg("path %s port %s accepted", path, port ? port : "(none)");
	assert_int_equal(err.cls, ERR_COMPOSE);
	if (!strstr(err.msg, "docker-compose.yml:3: service web: ") || !strstr(err.msg, needle))
		fail_msg("\"%s\" not in: %s", needle, err.msg);
}

static void test_helpers__bad_route_labels_refused(void **state)
{
	const char *const path_msg = "io.executor.route.path must start with /";

	route_refused("api", "80", NULL, path_msg);
	route_refused("/a b", "80", NULL, path_msg);
	route_refused("/a;deny all", "80", NULL, path_msg);
	route_refused("/{x}", "80", NULL, path_msg);
	route_refused("/$host", "80", NULL, path_msg);
	route_refused("/", "0", NULL, path_msg);
	route_refused("/", "65536", NULL, path_msg);
	route_refused("/", "http", NULL, path_msg);
	route_refused("/", NULL, NULL, path_msg);
	route_refused("/", "80", "ftp", "io.executor.route.scheme must be http or https");
}

static void test_helpers__router_generation_found_in_text(void **state)
{
	char gen[64];

	assert_int_equal(
		route_generation_of("# generation g1733616000123456-4242\n", gen, sizeof(gen)), 0);
	assert_string_equal(gen, "g1733616000123456-4242");
	assert_int_equal(
		route_generation_of("nginx g12-3 going g1733616000123456-", gen, sizeof(gen)), -1);
	assert_int_equal(route_generation_of(NULL, gen, sizeof(gen)), -1);
	assert_int_equal(route_generation_of("g1733616000123456-4242", gen, 8), -1);
}

/* ---- the health gate's events ---- */

static int array_has(json_object *obj, const char *key, const char *want)
{
	json_object *a;
	size_t i;

	if (!json_object_object_get_ex(obj, key, &a) || !json_object_is_type(a, json_type_array))
		return 0;
	for (i = 0; i < json_object_array_length(a); i++)
		if (!strcmp(json_object_get_string(json_object_array_get_idx(a, i)), want))
			return 1;
	return 0;
}

static void test_helpers__health_gate_filter_names_health_status(void **state)
{
	struct compose_project p = {.name = (char *)"shop-green"};
	struct stack s = {.project = &p};
	json_object *f = stack_gate_filters(&s), *events;

	/* exactly the engine's event names: a rename that touches them makes
	 * the gate deaf and every deploy wait for its deadline */
	assert_true(array_has(f, "event", "health_status"));
	assert_true(array_has(f, "event", "die"));
	assert_true(json_object_object_get_ex(f, "event", &events));
	assert_int_equal(json_object_array_length(events), 2);
	assert_true(array_has(f, "type", "container"));
	assert_true(array_has(f, "label", "com.docker.compose.project=shop-green"));
	json_object_put(f);
}

static void event(struct gate *g, const char *action, const char *name)
{
	char text[256];
	json_object *ev;

	snprintf(text, sizeof(text),
		 "{\"Type\":\"container\",\"Action\":\"%s\",\"timeNano\":1733616000000000001,"
		 "\"Actor\":{\"Attributes\":{\"name\":\"%s\"}}}",
		 action, name);
	ev = json_tokener_parse(text);
	assert_non_null(ev);
	stack_gate_on_event(ev, g);
	json_object_put(ev);
}

static void test_helpers__health_gate_reads_the_engine_events(void **state)
{
	struct compose_service svc[] = {
		{.name = (char *)"api", .container_name = (char *)"shop-api"},
		{.name = (char *)"web", .container_name = (char *)"shop-web"}};
	struct compose_project p = {.name = (char *)"shop-green", .services = svc, .nservices = 2};
	struct stack s = {.project = &p};
	enum standing st[2] = {ST_PENDING, ST_PENDING};
	int cue[2] = {0, 0};
	struct gate g = {.s = &s, .st = st, .cue = cue};

	event(&g, "health_status: healthy", "shop-web");
	assert_int_equal(st[1], ST_OK);
	assert_int_equal(st[0], ST_PENDING);
	assert_int_equal(g.last_ns, 1733616000000000001LL);
	event(&g, "health_status: healthy", "shop-other"); /* not ours */
	event(&g, "start", "shop-api");			   /* not a health change */
	assert_int_equal(st[0], ST_PENDING);
	event(&g, "health_status: unhealthy", "/shop-api");
	assert_int_equal(st[0], ST_FAILED);
	assert_int_equal(cue[0], 1);
	st[0] = ST_PENDING;
	cue[0] = 0;
	event(&g, "die", "shop-api");
	assert_int_equal(st[0], ST_FAILED);
	assert_int_equal(cue[0], 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_helpers__canary_steps_parse),
		cmocka_unit_test(test_helpers__canary_steps_refused),
		cmocka_unit_test(test_helpers__relpath_inside_the_checkout),
		cmocka_unit_test(test_helpers__app_name_derived),
		cmocka_unit_test(test_helpers__color_may_not_name_a_durable_layer),
		cmocka_unit_test(test_helpers__route_labels_become_routes),
		cmocka_unit_test(test_helpers__bad_route_labels_refused),
		cmocka_unit_test(test_helpers__router_generation_found_in_text),
		cmocka_unit_test(test_helpers__health_gate_filter_names_health_status),
		cmocka_unit_test(test_helpers__health_gate_reads_the_engine_events),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
