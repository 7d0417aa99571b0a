/* SPDX-License-Identifier: MIT */
/*
 * One stack file into the model: short and long syntax, defaults Compose
 * applies, env_file, durations, names, dependency order, warnings, hash.
 */
#include "tests/unit/compose_test.h"

#include <limits.h>

#include "common/buf.h"
#include "common/cleanup.h"

static void test_compose_parse__port_short_syntax_forms(void **state)
{
	struct loaded l;
	const struct compose_service *s;

	load1(&l, "services:\n  s:\n    image: x\n    ports:\n"
		  "      - \"3001\"\n"
		  "      - 3101:3001\n"
		  "      - \"127.0.0.1:3102:3001\"\n"
		  "      - \"8000-8001:8000-8001/udp\"\n"
		  "      - \"[::1]:6000:6001\"\n"
		  "      - \"127.0.0.1::5000\"\n"
		  "      - \"9000-9010:80\"\n"
		  "      - 7000\n"
		  "      - 0:7001\n");
	assert_loaded(&l);
	s = svc(&l, "s");
	assert_int_equal(s->nports, 10);
	assert_null(s->ports[0].host_ip);
	assert_int_equal(s->ports[0].published_start, 0);
	assert_int_equal(s->ports[0].target, 3001);
	assert_int_equal(s->ports[1].published_start, 3101);
	assert_string_equal(s->ports[2].host_ip, "127.0.0.1");
	assert_int_equal(s->ports[2].published_start, 3102);
	assert_int_equal(s->ports[3].published_start, 8000);
	assert_int_equal(s->ports[3].target, 8000);
	assert_string_equal(s->ports[3].protocol, "udp");
	assert_int_equal(s->ports[4].published_start, 8001);
	assert_int_equal(s->ports[4].target, 8001);
	assert_string_equal(s->ports[5].host_ip, "::1");
	assert_int_equal(s->ports[5].published_start, 6000);
	assert_int_equal(s->ports[5].target, 6001);
	assert_string_equal(s->ports[6].host_ip, "127.0.0.1");
	assert_int_equal(s->ports[6].published_start, 0);
	assert_int_equal(s->ports[6].target, 5000);
	assert_int_equal(s->ports[7].published_start, 9000);
	assert_int_equal(s->ports[7].published_end, 9010);
	assert_int_equal(s->ports[7].target, 80);
	assert_int_equal(s->ports[8].target, 7000);
	assert_string_equal(s->ports[8].protocol, "tcp");
	assert_int_equal(s->ports[9].published_start, 0);
	assert_int_equal(s->ports[9].target, 7001);
	loaded_release(&l);
}

static void test_compose_parse__port_long_syntax(void **state)
{
	struct loaded l;
	const struct compose_service *s;

	load1(&l, "services:\n  s:\n    image: x\n    ports:\n"
		  "      - target: 443\n"
		  "        published: 3543\n"
		  "        host_ip: 0.0.0.0\n"
		  "        protocol: tcp\n"
		  "      - target: 53\n"
		  "        protocol: udp\n");
	assert_loaded(&l);
	s = svc(&l, "s");
	assert_int_equal(s->nports, 2);
	assert_string_equal(s->ports[0].host_ip, "0.0.0.0");
	assert_int_equal(s->ports[0].published_start, 3543);
	assert_int_equal(s->ports[0].target, 443);
	assert_int_equal(s->ports[1].published_start, 0);
	assert_string_equal(s->ports[1].protocol, "udp");
	loaded_release(&l);
}

static void test_compose_parse__expose_forms(void **state)
{
	struct loaded l;
	const struct compose_service *s;

	load1(&l,
	      "services:\n  s:\n    image: x\n    expose: [3000, \"8080/udp\", \"9000-9001\"]\n");
	assert_loaded(&l);
	s = svc(&l, "s");
	assert_int_equal(s->nexpose, 4);
	assert_int_equal(s->expose[0].target, 3000);
	assert_string_equal(s->expose[0].protocol, "tcp");
	assert_string_equal(s->expose[1].protocol, "udp");
	assert_int_equal(s->expose[3].target, 9001);
	loaded_release(&l);
}

static void test_compose_parse__volume_short_syntax_forms(void **state)
{
	struct loaded l;
	const struct compose_service *s;
	const char *home = getenv("HOME");
	char expect[PATH_MAX];

	setenv("HOME", "/home/runner", 1);
	load1(&l, "services:\n  db:\n    image: x\n    volumes:\n"
		  "      - db-data:/var/lib/mysql\n"
		  "      - ./init:/docker-entrypoint-initdb.d:ro\n"
		  "      - ../shared/certs:/certs:ro,z\n"
		  "      - /etc/localtime:/etc/localtime:ro\n"
		  "      - ~/cache:/cache\n"
		  "      - /scratch\n"
		  "volumes:\n  db-data:\n");
	if (home)
		setenv("HOME", home, 1);
	assert_loaded(&l);
	s = svc(&l, "db");
	assert_int_equal(s->nvolumes, 6);
	assert_int_equal(s->volumes[0].type, COMPOSE_MOUNT_VOLUME);
	assert_string_equal(s->volumes[0].source, "db-data");
	assert_string_equal(s->volumes[0].volume_name, "test_db-data");
	assert_false(s->volumes[0].read_only);
	assert_int_equal(s->volumes[1].type, COMPOSE_MOUNT_BIND);
	assert_string_equal(s->volumes[1].source, VDIR "/init");
	assert_true(s->volumes[1].read_only);
	assert_true(s->volumes[1].create_host_path);
	assert_string_equal(s->volumes[2].source, "/virtual/shared/certs");
	assert_true(s->volumes[2].read_only);
	assert_string_equal(s->volumes[3].source, "/etc/localtime");
	snprintf(expect, sizeof(expect), "%s", "/home/runner/cache");
	assert_string_equal(s->volumes[4].source, expect);
	assert_int_equal(s->volumes[5].type, COMPOSE_MOUNT_VOLUME);
	assert_null(s->volumes[5].source);
	assert_null(s->volumes[5].volume_name);
	assert_string_equal(s->volumes[5].target, "/scratch");
	/* z is carried: the SELinux label for the deploy to apply */
	assert_string_equal(s->volumes[2].selinux, "z");
	loaded_release(&l);
}

static void test_compose_parse__volume_long_syntax_and_tmpfs(void **state)
{
	struct loaded l;
	const struct compose_service *s;

	load1(&l, "services:\n  s:\n    image: x\n    volumes:\n"
		  "      - type: volume\n        source: data\n        target: /data\n"
		  "        volume:\n          nocopy: true\n"
		  "      - type: bind\n        source: ./conf\n        target: /etc/app\n"
		  "        read_only: true\n        bind:\n          create_host_path: false\n"
		  "      - type: tmpfs\n        target: /run/app\n"
		  "        tmpfs:\n          size: 64m\n          mode: 1777\n"
		  "volumes:\n  data:\n    external: true\n");
	assert_loaded(&l);
	s = svc(&l, "s");
	assert_int_equal(s->nvolumes, 3);
	assert_true(s->volumes[0].nocopy);
	assert_string_equal(s->volumes[0].volume_name, "data");
	assert_string_equal(s->volumes[1].source, VDIR "/conf");
	assert_true(s->volumes[1].read_only);
	assert_false(s->volumes[1].create_host_path);
	assert_int_equal(s->volumes[2].type, COMPOSE_MOUNT_TMPFS);
	assert_null(s->volumes[2].source);
	assert_int_equal(s->volumes[2].tmpfs_size, 64 * 1024 * 1024);
	assert_int_equal(s->volumes[2].tmpfs_mode, 01777);
	loaded_release(&l);
}

static void test_compose_parse__environment_null_takes_the_variable(void **state)
{
	static const char *const vars[] = {"FROM_JOB", "job-value", NULL};
	struct loaded l;

	test_vars = vars;
	load1(&l, "services:\n"
		  "  a:\n    image: x\n    environment:\n      FROM_JOB:\n      NOT_SET:\n"
		  "      N: 3\n      B: true\n      E: ''\n"
		  "  b:\n    image: x\n    environment: [FROM_JOB, NOT_SET]\n");
	assert_loaded(&l);
	assert_string_equal(env(svc(&l, "a"), "FROM_JOB"), "job-value");
	assert_string_equal(env(svc(&l, "a"), "NOT_SET"), "<unset>");
	assert_string_equal(env(svc(&l, "a"), "N"), "3");
	assert_string_equal(env(svc(&l, "a"), "B"), "true");
	assert_string_equal(env(svc(&l, "a"), "E"), "");
	assert_string_equal(env(svc(&l, "b"), "FROM_JOB"), "job-value");
	assert_string_equal(env(svc(&l, "b"), "NOT_SET"), "<unset>");
	loaded_release(&l);
	test_vars = NULL;
}

static void test_compose_parse__env_file_format_and_precedence(void **state)
{
	static const char *const vars[] = {"HOST_VAR", "from-host", "PASS_THROUGH", "pt", NULL};
	_cleanup_free_ char *dir = make_tmpdir();
	_cleanup_free_ char *e = write_file(dir, "app.env",
					    "# comment\n"
					    "\n"
					    "PLAIN=hello world   # trailing comment\n"
					    "export EXPORTED=yes\n"
					    "SINGLE='literal ${HOST_VAR} # kept'\n"
					    "DOUBLE=\"line1\\nline2 ${HOST_VAR}\"\n"
					    "MULTI=\"a\n"
					    "b\"\n"
					    "REF=${PLAIN}!\n"
					    "EMPTY=\n"
					    "PASS_THROUGH\n"
					    "OVERRIDDEN=from-file\n");
	_cleanup_free_ char *f =
		write_file(dir, "docker-compose.yml",
			   "services:\n  s:\n    image: x\n"
			   "    env_file:\n      - app.env\n"
			   "      - path: ./missing.env\n        required: false\n"
			   "    environment:\n      OVERRIDDEN: from-environment\n");
	const char *files[] = {f};
	struct compose_load_opts opts = {
		.files = files, .nfiles = 1, .project_name = "t", .lookup = test_lookup};
	struct compose_project *p = NULL;
	struct error err = ERROR_INIT;
	const struct compose_service *s;

	test_vars = vars;
	assert_non_null(e);
	if (compose_load(&opts, &p, NULL, &err) < 0)
		print_error("%s\n", err.msg);
	assert_non_null(p);
	s = compose_project_service(p, "s");
	assert_string_equal(env(s, "PLAIN"), "hello world");
	assert_string_equal(env(s, "EXPORTED"), "yes");
	assert_string_equal(env(s, "SINGLE"), "literal ${HOST_VAR} # kept");
	assert_string_equal(env(s, "DOUBLE"), "line1\nline2 from-host");
	assert_string_equal(env(s, "MULTI"), "a\nb");
	assert_string_equal(env(s, "REF"), "hello world!");
	assert_string_equal(env(s, "EMPTY"), "");
	assert_string_equal(env(s, "PASS_THROUGH"), "pt");
	/* environment: wins over env_file */
	assert_string_equal(env(s, "OVERRIDDEN"), "from-environment");
	compose_project_free(p);
	fs_remove_tree(dir, &err);
	test_vars = NULL;
}

static void test_compose_parse__command_string_is_split_like_a_shell(void **state)
{
	struct loaded l;
	const struct compose_argv *c;

	load1(&l, "services:\n  s:\n    image: x\n"
		  "    command: sh -c 'echo \"a b\"; exit 0' \"two words\" back\\ slash\n"
		  "    entrypoint: []\n");
	assert_loaded(&l);
	c = &svc(&l, "s")->command;
	assert_true(c->set);
	assert_int_equal(c->argc, 5);
	assert_string_equal(c->argv[0], "sh");
	assert_string_equal(c->argv[2], "echo \"a b\"; exit 0");
	assert_string_equal(c->argv[3], "two words");
	assert_string_equal(c->argv[4], "back slash");
	/* an empty entrypoint is set: it clears the image's */
	assert_true(svc(&l, "s")->entrypoint.set);
	assert_int_equal(svc(&l, "s")->entrypoint.argc, 0);
	loaded_release(&l);
}

static void test_compose_parse__healthcheck_forms_and_durations(void **state)
{
	struct loaded l;
	const struct compose_healthcheck *hc;

	load1(&l, "services:\n"
		  "  shell:\n    image: x\n    healthcheck:\n"
		  "      test: curl -fsk https://localhost:3001/health\n"
		  "      interval: 1m30s\n      timeout: 500ms\n      start_period: 1h\n"
		  "      start_interval: 1.5s\n      retries: 3\n"
		  "  cmd:\n    image: x\n    healthcheck:\n      test: [CMD, pg_isready]\n"
		  "  none:\n    image: x\n    healthcheck:\n      test: [NONE]\n"
		  "  off:\n    image: x\n    healthcheck:\n      disable: true\n"
		  "  plain:\n    image: x\n");
	assert_loaded(&l);
	hc = &svc(&l, "shell")->healthcheck;
	assert_true(hc->set);
	assert_int_equal(hc->test.argc, 2);
	assert_string_equal(hc->test.argv[0], "CMD-SHELL");
	assert_string_equal(hc->test.argv[1], "curl -fsk https://localhost:3001/health");
	assert_int_equal(hc->interval_ms, 90000);
	assert_int_equal(hc->timeout_ms, 500);
	assert_int_equal(hc->start_period_ms, 3600000);
	assert_int_equal(hc->start_interval_ms, 1500);
	assert_int_equal(hc->retries, 3);
	hc = &svc(&l, "cmd")->healthcheck;
	assert_string_equal(hc->test.argv[0], "CMD");
	assert_string_equal(hc->test.argv[1], "pg_isready");
	assert_int_equal(hc->interval_ms, -1);
	assert_int_equal(hc->retries, -1);
	assert_true(svc(&l, "none")->healthcheck.disable);
	assert_true(svc(&l, "off")->healthcheck.disable);
	assert_string_equal(svc(&l, "off")->healthcheck.test.argv[0], "NONE");
	assert_false(svc(&l, "plain")->healthcheck.set);
	loaded_release(&l);
}

static void test_compose_parse__stop_grace_period_restart_and_strings(void **state)
{
	struct loaded l;
	const struct compose_service *s;

	load1(&l, "services:\n"
		  "  s:\n    image: x\n    stop_grace_period: 2m\n    restart: on-failure:5\n"
		  "    user: 1000:1000\n    working_dir: /srv/app\n    hostname: api\n"
		  "  t:\n    image: x\n    restart: no\n"
		  "  u:\n    image: x\n    restart: unless-stopped\n");
	assert_loaded(&l);
	s = svc(&l, "s");
	assert_int_equal(s->stop_grace_period_ms, 120000);
	assert_string_equal(s->restart, "on-failure");
	assert_int_equal(s->restart_max_retries, 5);
	assert_string_equal(s->user, "1000:1000");
	assert_string_equal(s->working_dir, "/srv/app");
	assert_string_equal(s->hostname, "api");
	assert_string_equal(svc(&l, "t")->restart, "no");
	assert_int_equal(svc(&l, "t")->stop_grace_period_ms, -1);
	assert_string_equal(svc(&l, "u")->restart, "unless-stopped");
	loaded_release(&l);
}

static void test_compose_parse__default_network_and_service_name_alias(void **state)
{
	struct loaded l;
	const struct compose_resource *def;

	load1(&l, "services:\n  web:\n    image: x\n  worker:\n    image: x\n");
	assert_loaded(&l);
	def = compose_project_network(l.p, "default");
	assert_non_null(def);
	assert_true(def->implicit);
	assert_false(def->external);
	assert_string_equal(def->name, "test_default");
	assert_int_equal(svc(&l, "web")->nnetworks, 1);
	assert_string_equal(svc(&l, "web")->networks[0].key, "default");
	assert_string_equal(svc(&l, "web")->networks[0].name, "test_default");
	assert_string_equal(svc(&l, "web")->networks[0].aliases[0], "web");
	assert_string_equal(svc(&l, "worker")->networks[0].aliases[0], "worker");
	loaded_release(&l);
}

static void test_compose_parse__resource_names(void **state)
{
	struct loaded l;

	load1(&l, "services:\n  s:\n    image: x\n    networks: [app, ext, named]\n"
		  "networks:\n"
		  "  app:\n"
		  "  ext:\n    external: true\n"
		  "  named:\n    name: fixed-name\n    labels: [com.example.x=1]\n"
		  "  old:\n    external:\n      name: legacy-net\n"
		  "volumes:\n  data:\n  kept:\n    external: true\n    name: real-volume\n");
	assert_loaded(&l);
	assert_string_equal(compose_project_network(l.p, "app")->name, "test_app");
	assert_string_equal(compose_project_network(l.p, "ext")->name, "ext");
	assert_true(compose_project_network(l.p, "ext")->external);
	assert_string_equal(compose_project_network(l.p, "named")->name, "fixed-name");
	assert_string_equal(compose_project_network(l.p, "named")->labels[0].value, "1");
	assert_string_equal(compose_project_network(l.p, "old")->name, "legacy-net");
	assert_true(compose_project_network(l.p, "old")->external);
	/* no service uses the default network: none is added */
	assert_null(compose_project_network(l.p, "default"));
	assert_string_equal(compose_project_volume(l.p, "data")->name, "test_data");
	assert_string_equal(compose_project_volume(l.p, "kept")->name, "real-volume");
	loaded_release(&l);
}

static void test_compose_parse__project_name_precedence(void **state)
{
	const char *names[] = {"docker-compose.yml"};
	const char *with_name[] = {"name: from-file\nservices: {}\n"};
	const char *without[] = {"services: {}\n"};
	struct compose_load_opts opts = {0};
	struct compose_project *p = NULL;
	struct error err = ERROR_INIT;
	const char *files[] = {"/srv/My_Project.v2/docker-compose.yml"};
	struct loaded l;

	load_files_opts(&l, 1, names, with_name, "cli-name");
	assert_loaded(&l);
	assert_string_equal(l.p->name, "cli-name");
	loaded_release(&l);
	load_files_opts(&l, 1, names, with_name, "");
	assert_loaded(&l);
	assert_string_equal(l.p->name, "from-file");
	loaded_release(&l);

	opts.files = files;
	opts.nfiles = 1;
	opts.contents = without;
	opts.project_name_default = "echobase";
	assert_int_equal(compose_load(&opts, &p, NULL, &err), 0);
	assert_string_equal(p->name, "echobase");
	compose_project_free(p);
	/* as Compose: the folder's name, lowercased, other characters dropped */
	opts.project_name_default = NULL;
	assert_int_equal(compose_load(&opts, &p, NULL, &err), 0);
	assert_string_equal(p->name, "my_projectv2");
	assert_string_equal(p->working_dir, "/srv/My_Project.v2");
	compose_project_free(p);
}

static void test_compose_parse__container_name_default(void **state)
{
	struct loaded l;

	load1(&l, "services:\n  api:\n    image: x\n  db:\n    image: x\n"
		  "    container_name: echobase-ci-durable-mariadb\n");
	assert_loaded(&l);
	assert_string_equal(svc(&l, "api")->container_name, "test-api-1");
	assert_false(svc(&l, "api")->container_name_set);
	assert_string_equal(svc(&l, "db")->container_name, "echobase-ci-durable-mariadb");
	assert_true(svc(&l, "db")->container_name_set);
	loaded_release(&l);
}

static void test_compose_parse__start_order_puts_dependencies_first(void **state)
{
	struct loaded l;
	size_t order[4], i;
	int pos[4];

	load1(&l, "services:\n"
		  "  a:\n    image: x\n    depends_on: [d, b]\n"
		  "  b:\n    image: x\n    depends_on: [c]\n"
		  "  c:\n    image: x\n"
		  "  d:\n    image: x\n    depends_on: {c: {condition: "
		  "service_completed_successfully}}\n");
	assert_loaded(&l);
	assert_int_equal(compose_project_start_order(l.p, order, &l.err), 0);
	for (i = 0; i < 4; i++)
		pos[l.p->services[order[i]].name[0] - 'a'] = (int)i;
	assert_true(pos[2] < pos[1]);
	assert_true(pos[2] < pos[3]);
	assert_true(pos[1] < pos[0]);
	assert_true(pos[3] < pos[0]);
	assert_int_equal(svc(&l, "d")->depends_on[0].condition, COMPOSE_COND_COMPLETED);
	loaded_release(&l);
}

static void test_compose_parse__optional_missing_dependency_is_dropped_with_warning(void **state)
{
	struct loaded l;

	load1(&l, "services:\n  a:\n    image: x\n    depends_on:\n"
		  "      gone:\n        condition: service_started\n        required: false\n");
	assert_loaded(&l);
	assert_int_equal(svc(&l, "a")->ndepends_on, 0);
	assert_true(has_diag(&l, "docker-compose.yml", 5, "optional dependency on unknown"));
	loaded_release(&l);
}

/* metadata keys warn with their line; nothing that changes what runs is dropped */
static void test_compose_parse__metadata_keys_warn_with_line(void **state)
{
	struct loaded l;

	load1(&l, "version: \"3.8\"\n"
		  "services:\n"
		  "  api:\n"
		  "    image: x\n"
		  "    deploy:\n"
		  "      labels: {a: b}\n"
		  "    develop: {watch: []}\n"
		  "    x-custom: fine\n"
		  "    healthcheck:\n"
		  "      test: [CMD, true]\n"
		  "    ports:\n"
		  "      - target: 80\n"
		  "        mode: host\n"
		  "secrets:\n"
		  "  s: {file: ./s}\n");
	assert_loaded(&l);
	assert_true(has_diag(&l, "docker-compose.yml", 1, "version is obsolete"));
	assert_true(has_diag(&l, "docker-compose.yml", 6, "services.api.deploy.labels is ignored"));
	assert_true(has_diag(&l, "docker-compose.yml", 7, "services.api.develop is ignored"));
	assert_true(
		has_diag(&l, "docker-compose.yml", 13, "services.api.ports[0].mode is ignored"));
	assert_int_equal(l.diags.n, 4);
	loaded_release(&l);
}

/* a typo, or a key that would change what runs and is not carried: one error with its line */
static void test_compose_parse__unknown_and_refused_keys_are_errors(void **state)
{
	struct loaded l;

	load1(&l, "services:\n  api:\n    image: x\n    imgae: typo\n");
	assert_load_error(&l, "docker-compose.yml:4: services.api.imgae: unknown key");
	loaded_release(&l);
	load1(&l, "services:\n  api:\n    image: x\n    healthcheck:\n      intervall: 5s\n");
	assert_load_error(&l, "docker-compose.yml:5: services.api.healthcheck.intervall: unknown");
	loaded_release(&l);
	load1(&l, "services:\n  api:\n    image: x\n    volumes_from: [db]\n");
	assert_load_error(&l, "docker-compose.yml:4: services.api.volumes_from: not supported");
	loaded_release(&l);
	load1(&l, "services:\n  api:\n    image: x\n    deploy:\n      replicas: 2\n");
	assert_load_error(&l, "docker-compose.yml:5: services.api.deploy.replicas: 2 replicas");
	loaded_release(&l);
	load1(&l, "services:\n  api:\n    image: x\n    networks:\n      default:\n"
		  "        link_local_ips: [169.254.0.2]\n");
	assert_load_error(&l, "docker-compose.yml:6: services.api.networks.default.link_local_ips:"
			      " not supported");
	loaded_release(&l);
}

static void test_compose_parse__unset_variable_warns_once(void **state)
{
	struct loaded l;

	load1(&l, "services:\n  a:\n    image: app:${TAG}\n  b:\n    image: app:${TAG}\n");
	assert_loaded(&l);
	assert_string_equal(svc(&l, "a")->image, "app:");
	assert_true(has_diag(&l, "docker-compose.yml", 3, "variable TAG is not set"));
	assert_int_equal(l.diags.n, 1);
	loaded_release(&l);
}

static void test_compose_parse__keys_are_not_interpolated(void **state)
{
	static const char *const vars[] = {"V", "value", NULL};
	struct loaded l;

	test_vars = vars;
	load1(&l, "services:\n  s:\n    image: x\n    labels:\n      \"$V\": \"$V\"\n");
	assert_loaded(&l);
	assert_string_equal(kv_get(svc(&l, "s")->labels, svc(&l, "s")->nlabels, "$V"), "value");
	loaded_release(&l);
	test_vars = NULL;
}

static void test_compose_parse__service_hash_is_canonical(void **state)
{
	struct loaded a, b, c;
	char ha[COMPOSE_HASH_HEX_LEN + 1], hb[COMPOSE_HASH_HEX_LEN + 1],
		hc[COMPOSE_HASH_HEX_LEN + 1];
	struct buf json = BUF_INIT;

	load1(&a, "services:\n  s:\n    image: x\n    environment: {A: '1', B: '2'}\n"
		  "    labels: [l1=a, l2=b]\n");
	load1(&b, "services:\n  s:\n    image: x\n    labels: {l2: b, l1: a}\n"
		  "    environment: [B=2, A=1]\n");
	load1(&c, "services:\n  s:\n    image: x\n    environment: {A: '1', B: '3'}\n"
		  "    labels: [l1=a, l2=b]\n");
	assert_loaded(&a);
	assert_loaded(&b);
	assert_loaded(&c);
	assert_int_equal(compose_service_hash(svc(&a, "s"), ha, &a.err), 0);
	assert_int_equal(compose_service_hash(svc(&b, "s"), hb, &b.err), 0);
	assert_int_equal(compose_service_hash(svc(&c, "s"), hc, &c.err), 0);
	assert_int_equal(strlen(ha), 64);
	/* the order of environment and labels does not matter; a value does */
	assert_string_equal(ha, hb);
	assert_string_not_equal(ha, hc);
	assert_int_equal(compose_service_json(svc(&a, "s"), &json, &a.err), 0);
	assert_non_null(strstr(buf_str(&json), "\"environment\":[[\"A\",\"1\"],[\"B\",\"2\"]]"));
	assert_non_null(strstr(buf_str(&json), "\"healthcheck\":null"));
	buf_release(&json);
	loaded_release(&a);
	loaded_release(&b);
	loaded_release(&c);
}

static void test_compose_parse__empty_file_and_null_sections(void **state)
{
	struct loaded l;

	load1(&l, "# nothing yet\n");
	assert_loaded(&l);
	assert_int_equal(l.p->nservices, 0);
	loaded_release(&l);
	load1(&l, "services:\nnetworks:\nvolumes:\n");
	assert_loaded(&l);
	assert_int_equal(l.p->nservices, 0);
	loaded_release(&l);
}

static void test_compose_parse__durable_stack_reads_from_disk(void **state)
{
	static const char *const vars[] = {"EXECUTOR_ENV",	    "ci",	 "DB_PORT", "3307",
					   "MARIADB_ROOT_PASSWORD", "generated", NULL};
	_cleanup_free_ char *dir = make_tmpdir();
	_cleanup_free_ char *sub = NULL;
	_cleanup_free_ char *f = NULL;
	const char *files[1];
	struct compose_load_opts opts = {.nfiles = 1, .lookup = test_lookup};
	struct compose_project *p = NULL;
	struct error err = ERROR_INIT;
	const struct compose_service *db;

	assert_true(asprintf(&sub, "%s/durable", dir) > 0);
	assert_int_equal(fs_mkdir_p(sub, 0755, &err), 0);
	f = write_file(sub, "docker-compose.yml",
		       "name: echobase-${EXECUTOR_ENV}-durable\n"
		       "services:\n"
		       "  mariadb:\n"
		       "    image: mariadb:11\n"
		       "    container_name: echobase-${EXECUTOR_ENV}-durable-mariadb\n"
		       "    environment:\n"
		       "      MARIADB_ROOT_PASSWORD: ${MARIADB_ROOT_PASSWORD:?}\n"
		       "    ports: [\"${DB_PORT:-3306}:3306\"]\n"
		       "    volumes: [mariadb-data:/var/lib/mysql, ./init:/init:ro]\n"
		       "    networks: [durable]\n"
		       "    healthcheck:\n"
		       "      test: [CMD, healthcheck.sh, --connect]\n"
		       "      interval: 10s\n"
		       "networks:\n"
		       "  durable:\n"
		       "    name: echobase-${EXECUTOR_ENV}-durable-network\n"
		       "volumes:\n"
		       "  mariadb-data:\n");
	files[0] = f;
	opts.files = files;
	test_vars = vars;
	assert_int_equal(compose_load(&opts, &p, NULL, &err), 0);
	assert_string_equal(p->name, "echobase-ci-durable");
	assert_string_equal(p->working_dir, sub);
	db = compose_project_service(p, "mariadb");
	assert_string_equal(db->container_name, "echobase-ci-durable-mariadb");
	assert_int_equal(db->ports[0].published_start, 3307);
	assert_string_equal(db->volumes[0].volume_name, "echobase-ci-durable_mariadb-data");
	assert_int_equal(strncmp(db->volumes[1].source, sub, strlen(sub)), 0);
	assert_string_equal(db->volumes[1].source + strlen(sub), "/init");
	assert_string_equal(db->networks[0].name, "echobase-ci-durable-network");
	compose_project_free(p);
	fs_remove_tree(dir, &err);
	test_vars = NULL;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compose_parse__port_short_syntax_forms),
		cmocka_unit_test(test_compose_parse__port_long_syntax),
		cmocka_unit_test(test_compose_parse__expose_forms),
		cmocka_unit_test(test_compose_parse__volume_short_syntax_forms),
		cmocka_unit_test(test_compose_parse__volume_long_syntax_and_tmpfs),
		cmocka_unit_test(test_compose_parse__environment_null_takes_the_variable),
		cmocka_unit_test(test_compose_parse__env_file_format_and_precedence),
		cmocka_unit_test(test_compose_parse__command_string_is_split_like_a_shell),
		cmocka_unit_test(test_compose_parse__healthcheck_forms_and_durations),
		cmocka_unit_test(test_compose_parse__stop_grace_period_restart_and_strings),
		cmocka_unit_test(test_compose_parse__default_network_and_service_name_alias),
		cmocka_unit_test(test_compose_parse__resource_names),
		cmocka_unit_test(test_compose_parse__project_name_precedence),
		cmocka_unit_test(test_compose_parse__container_name_default),
		cmocka_unit_test(test_compose_parse__start_order_puts_dependencies_first),
		cmocka_unit_test(
			test_compose_parse__optional_missing_dependency_is_dropped_with_warning),
		cmocka_unit_test(test_compose_parse__metadata_keys_warn_with_line),
		cmocka_unit_test(test_compose_parse__unknown_and_refused_keys_are_errors),
		cmocka_unit_test(test_compose_parse__unset_variable_warns_once),
		cmocka_unit_test(test_compose_parse__keys_are_not_interpolated),
		cmocka_unit_test(test_compose_parse__service_hash_is_canonical),
		cmocka_unit_test(test_compose_parse__empty_file_and_null_sections),
		cmocka_unit_test(test_compose_parse__durable_stack_reads_from_disk),
	};

	return cmocka_run_group_tests_name("compose_parse", tests, NULL, NULL);
}
