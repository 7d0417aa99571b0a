/* SPDX-License-Identifier: MIT */
/* The container-create bodies a Compose service becomes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/config.h"
#include "common/fs.h"
#include "stages/stack.h"

static const char app_yml[] = "services:\n"
			      "  api-gateway:\n"
			      "    image: echobase/api-gateway:local\n"
			      "    container_name: echobase-green-api-gateway\n"
			      "    environment:\n"
			      "      DB_PASSWORD: s3cretpassw0rd\n"
			      "      MODE: prod\n"
			      "    ports: [\"127.0.0.1:3101:3001\"]\n"
			      "    networks: [app, durable]\n"
			      "    healthcheck:\n"
			      "      test: [\"CMD\", \"true\"]\n"
			      "      interval: 2s\n"
			      "      retries: 5\n"
			      "    restart: unless-stopped\n"
			      "    volumes:\n"
			      "      - ./config:/etc/app:ro\n"
			      "      - data:/data\n"
			      "networks:\n"
			      "  app:\n"
			      "    name: echobase-green-network\n"
			      "  durable:\n"
			      "    external: true\n"
			      "    name: echobase-ci-durable-network\n"
			      "volumes:\n"
			      "  data: {}\n";

static struct compose_project *load(const char *text, const char *dir)
{
	const char *files[] = {"docker-compose.yml"};
	const char *contents[] = {text};
	struct compose_load_opts o = {0};
	struct compose_project *p = NULL;
	struct error err = ERROR_INIT;

	o.files = files;
	o.contents = contents;
	o.nfiles = 1;
	o.project_name = "echobase-green";
	o.project_dir = dir;
	if (compose_load(&o, &p, NULL, &err) < 0)
		fail_msg("%s", err.msg);
	return p;
}

static void init_stack(struct stack *s, struct config *cfg, struct compose_project *p)
{
	memset(s, 0, sizeof(*s));
	s->cfg = cfg;
	s->project = p;
	s->mode = STACK_REPLACE;
	s->layer = "color";
	s->env = "ci";
	s->color = "green";
	s->config_files = "docker-compose.yml";
	s->attach_network = "echobase-ci-durable-network";
}

/* path components are separated by "|" (label keys hold dots) */
static json_object *get(json_object *o, const char *path)
{
	char copy[256], *save = NULL, *tok;

	snprintf(copy, sizeof(copy), "%s", path);
	for (tok = strtok_r(copy, "|", &save); tok && o; tok = strtok_r(NULL, "|", &save))
		if (!json_object_object_get_ex(o, tok, &o))
			return NULL;
	return o;
}

static void test_stack__compose_labels_and_ports(void **state)
{
	struct config cfg;
	struct compose_project *p = load(app_yml, "/tmp");
	struct stack s;
	json_object *c = NULL, *b;
	struct error err = ERROR_INIT;
	char hash[65];

	config_defaults(&cfg);
	init_stack(&s, &cfg, p);
	assert_int_equal(stack_container_config(&s, &p->services[0], &c, hash, &err), 0);
	assert_string_equal(json_object_get_string(get(c, "Labels|com.docker.compose.project")),
			    "echobase-green");
	assert_string_equal(json_object_get_string(get(c, "Labels|com.docker.compose.service")),
			    "api-gateway");
	assert_string_equal(json_object_get_string(get(c, "Labels|com.docker.compose.oneoff")),
			    "False");
	assert_string_equal(json_object_get_string(get(c, "Labels|io.executor.config-hash")), hash);
	b = json_object_array_get_idx(get(c, "HostConfig|PortBindings|3001/tcp"), 0);
	assert_non_null(b);
	assert_string_equal(json_object_get_string(get(b, "HostIp")), "127.0.0.1");
	assert_string_equal(json_object_get_string(get(b, "HostPort")), "3101");
	assert_string_equal(json_object_get_string(get(c, "HostConfig|RestartPolicy|Name")),
			    "unless-stopped");
	assert_int_equal(json_object_get_int64(get(c, "Healthcheck|Interval")), 2000000000LL);
	json_object_put(c);
	compose_project_free(p);
	config_release(&cfg);
}

static const char keys_yml[] = "services:\n"
			       "  vpn:\n"
			       "    image: executor-test/busybox:latest\n"
			       "    cap_add: [net_admin]\n"
			       "    cap_drop: [CAP_MKNOD]\n"
			       "    read_only: true\n"
			       "    tmpfs: [/run, \"/tmp:size=1m\"]\n"
			       "    sysctls: {net.ipv4.ip_forward: \"1\"}\n"
			       "    init: true\n"
			       "    stop_signal: SIGINT\n"
			       "    ulimits: {nofile: {soft: 100, hard: 200}, nproc: 50}\n"
			       "    dns: [10.0.0.2]\n"
			       "    mem_limit: 64m\n"
			       "    cpus: 0.5\n"
			       "    pids_limit: 20\n"
			       "    shm_size: 8m\n"
			       "    logging: {driver: json-file, options: {max-size: 1m}}\n"
			       "  app:\n"
			       "    image: executor-test/busybox:latest\n"
			       "    links: [vpn:gw]\n"
			       "    deploy: {resources: {limits: {memory: 32m, pids: 10}}}\n";

/* Issue 16's keys reach the create body; what leaves the sandbox only when
 * the admin allows it, one line naming the entry otherwise. */
static void test_stack__service_keys_reach_the_engine(void **state)
{
	struct config cfg;
	struct compose_project *p = load(keys_yml, "/tmp");
	struct stack s;
	json_object *c = NULL;
	struct error err = ERROR_INIT;
	char hash[65];
	const struct compose_service *vpn = compose_project_service(p, "vpn");
	const struct compose_service *app = compose_project_service(p, "app");

	config_defaults(&cfg);
	init_stack(&s, &cfg, p);
	assert_int_equal(stack_container_config(&s, vpn, &c, hash, &err), -1);
	assert_int_equal(err.cls, ERR_POLICY);
	assert_non_null(strstr(err.msg, "service vpn asks for cap_add NET_ADMIN"));
	assert_non_null(strstr(err.msg, "\"cap_add:NET_ADMIN\" in allowed_stack_options"));
	assert_int_equal(
		config_parse(&cfg, "t", "allowed_stack_options = cap_add:NET_ADMIN\n", &err), 0);
	assert_int_equal(stack_container_config(&s, vpn, &c, hash, &err), 0);
	assert_string_equal(json_object_get_string(get(c, "HostConfig|CapAdd")),
			    "[ \"NET_ADMIN\" ]");
	assert_string_equal(json_object_get_string(get(c, "HostConfig|CapDrop")), "[ \"MKNOD\" ]");
	assert_true(json_object_get_boolean(get(c, "HostConfig|ReadonlyRootfs")));
	assert_string_equal(json_object_get_string(get(c, "HostConfig|Tmpfs|/tmp")), "size=1m");
	assert_non_null(get(c, "HostConfig|Tmpfs|/run"));
	assert_string_equal(
		json_object_get_string(get(c, "HostConfig|Sysctls|net.ipv4.ip_forward")), "1");
	assert_true(json_object_get_boolean(get(c, "HostConfig|Init")));
	assert_string_equal(json_object_get_string(get(c, "StopSignal")), "SIGINT");
	assert_int_equal(json_object_array_length(get(c, "HostConfig|Ulimits")), 2);
	assert_string_equal(json_object_get_string(get(c, "HostConfig|Dns")), "[ \"10.0.0.2\" ]");
	assert_int_equal(json_object_get_int64(get(c, "HostConfig|Memory")), 64LL << 20);
	assert_int_equal(json_object_get_int64(get(c, "HostConfig|NanoCpus")), 500000000LL);
	assert_int_equal(json_object_get_int64(get(c, "HostConfig|PidsLimit")), 20);
	assert_int_equal(json_object_get_int64(get(c, "HostConfig|ShmSize")), 8LL << 20);
	assert_string_equal(json_object_get_string(get(c, "HostConfig|LogConfig|Config|max-size")),
			    "1m");
	json_object_put(c);
	c = NULL;
	/* deploy.resources wins over nothing; links name the peer's container */
	assert_int_equal(stack_container_config(&s, app, &c, hash, &err), 0);
	assert_int_equal(json_object_get_int64(get(c, "HostConfig|Memory")), 32LL << 20);
	assert_int_equal(json_object_get_int64(get(c, "HostConfig|PidsLimit")), 10);
	assert_non_null(strstr(json_object_get_string(get(c, "HostConfig|Links")), ":gw"));
	json_object_put(c);
	compose_project_free(p);
	config_release(&cfg);
}

static void test_stack__keys_not_carried_out_are_refused(void **state)
{
	static const char *const cases[][2] = {
		{"services:\n  s:\n    image: x\n    privileged: true\n", "asks for privileged"},
		{"services:\n  s:\n    image: x\n    pid: host\n", "asks for pid host"},
		{"services:\n  s:\n    image: x\n    security_opt: [seccomp=unconfined]\n",
		 "asks for security_opt seccomp=unconfined"},
		{"services:\n  s:\n    image: x\n    devices: [/dev/net/tun]\n",
		 "asks for devices /dev/net/tun"},
		{"services:\n  s:\n    image: x\n    post_start: [{command: [\"true\"]}]\n",
		 "post_start is not carried out by this driver yet"},
		{"services:\n  s:\n    image: x\n    secrets: [k]\nsecrets:\n  k:\n"
		 "    environment: E2E_SURELY_UNSET\n",
		 "secret k takes the variable E2E_SURELY_UNSET, which is not set"},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config cfg;
		struct compose_project *p = load(cases[i][0], "/tmp");
		struct stack s;
		json_object *c = NULL;
		struct error err = ERROR_INIT;
		char hash[65];

		config_defaults(&cfg);
		init_stack(&s, &cfg, p);
		assert_int_equal(stack_container_config(&s, &p->services[0], &c, hash, &err), -1);
		if (!strstr(err.msg, cases[i][1]))
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err.msg, cases[i][1]);
		compose_project_free(p);
		config_release(&cfg);
	}
}

static const char *lookup_env(const char *name, void *payload)
{
	return getenv(name);
}

/* Secrets and configs are files of the env's store, mounted one by one,
 * read-only; their contents are in the hash, so a rotation recreates. */
static void test_stack__secrets_and_configs_are_mounted_files(void **state)
{
	static const char yml[] =
		"services:\n"
		"  db:\n"
		"    image: executor-test/busybox:latest\n"
		"    secrets: [db_pw, {source: api_key, target: key, mode: 0400}]\n"
		"    configs: [{source: conf, target: /etc/app.conf}]\n"
		"secrets:\n"
		"  db_pw:\n"
		"    environment: E2E_UNIT_DB_PW\n"
		"  api_key:\n"
		"    environment: E2E_UNIT_API_KEY\n"
		"configs:\n"
		"  conf:\n"
		"    content: \"port=1\"\n";
	struct config cfg;
	struct compose_project *p = load(yml, "/tmp");
	struct stack s;
	json_object *c = NULL, *m;
	struct error err = ERROR_INIT;
	char hash1[65], hash2[65];
	const char *spec;

	setenv("E2E_UNIT_DB_PW", "first-password-value", 1);
	setenv("E2E_UNIT_API_KEY", "api-key-value-0001", 1);
	config_defaults(&cfg);
	init_stack(&s, &cfg, p);
	s.files_dir = "/nonexistent/files/echobase-green";
	s.lookup = lookup_env;
	assert_int_equal(stack_container_config(&s, &p->services[0], &c, hash1, &err), 0);
	m = get(c, "HostConfig|Mounts");
	assert_int_equal(json_object_array_length(m), 3);
	assert_string_equal(json_object_get_string(get(json_object_array_get_idx(m, 0), "Source")),
			    "/nonexistent/files/echobase-green/secrets/db_pw");
	assert_string_equal(json_object_get_string(get(json_object_array_get_idx(m, 0), "Target")),
			    "/run/secrets/db_pw");
	assert_string_equal(json_object_get_string(get(json_object_array_get_idx(m, 1), "Target")),
			    "/run/secrets/key");
	assert_true(json_object_get_boolean(get(json_object_array_get_idx(m, 2), "ReadOnly")));
	assert_string_equal(json_object_get_string(get(json_object_array_get_idx(m, 2), "Target")),
			    "/etc/app.conf");
	spec = json_object_get_string(get(c, "Labels|io.executor.spec"));
	assert_null(strstr(spec, "first-password-value"));
	json_object_put(c);
	/* nothing was written: the check must not change the store */
	assert_int_equal(access("/nonexistent/files", F_OK), -1);
	/* a rotated secret is another container */
	setenv("E2E_UNIT_DB_PW", "second-password-value", 1);
	assert_int_equal(stack_container_config(&s, &p->services[0], &c, hash2, &err), 0);
	assert_string_not_equal(hash1, hash2);
	json_object_put(c);
	compose_project_free(p);
	config_release(&cfg);
}

static void test_stack__spec_label_hides_secret_values(void **state)
{
	struct config cfg;
	struct compose_project *p = load(app_yml, "/tmp");
	struct stack s;
	json_object *c = NULL;
	struct error err = ERROR_INIT;
	const char *spec;
	char hash[65];

	config_defaults(&cfg);
	init_stack(&s, &cfg, p);
	assert_int_equal(stack_container_config(&s, &p->services[0], &c, hash, &err), 0);
	spec = json_object_get_string(get(c, "Labels|io.executor.spec"));
	assert_non_null(spec);
	assert_null(strstr(spec, "s3cretpassw0rd"));
	assert_non_null(strstr(spec, "DB_PASSWORD=sha256:"));
	json_object_put(c);
	compose_project_free(p);
	config_release(&cfg);
}

static void test_stack__durable_network_alias_is_project_scoped(void **state)
{
	struct config cfg;
	struct compose_project *p = load(app_yml, "/tmp");
	struct stack s;
	json_object *c = NULL, *aliases;
	struct error err = ERROR_INIT;
	char hash[65];
	size_t i;
	int own = 0, bare = 0;

	config_defaults(&cfg);
	init_stack(&s, &cfg, p);
	assert_int_equal(stack_container_config(&s, &p->services[0], &c, hash, &err), 0);
	aliases = get(c, "NetworkingConfig|EndpointsConfig|echobase-ci-durable-network|Aliases");
	assert_non_null(aliases);
	for (i = 0; i < json_object_array_length(aliases); i++) {
		const char *a = json_object_get_string(json_object_array_get_idx(aliases, i));

		own += !strcmp(a, "echobase-green-api-gateway");
		bare += !strcmp(a, "api-gateway");
	}
	/* blue and green share the durable network: never the bare service name there */
	assert_int_equal(own, 1);
	assert_int_equal(bare, 0);
	/* on its own network the service keeps its name */
	aliases = get(c, "NetworkingConfig|EndpointsConfig|echobase-green-network|Aliases");
	assert_non_null(aliases);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(aliases, 0)),
			    "api-gateway");
	json_object_put(c);
	compose_project_free(p);
	config_release(&cfg);
}

static void test_stack__bind_outside_project_refused(void **state)
{
	static const char yml[] = "services:\n"
				  "  evil:\n"
				  "    image: x\n"
				  "    volumes: [\"/etc:/host-etc\"]\n";
	struct config cfg;
	struct compose_project *p = load(yml, "/tmp/checkout");
	struct stack s;
	json_object *c = NULL;
	struct error err = ERROR_INIT;
	char hash[65];

	config_defaults(&cfg);
	init_stack(&s, &cfg, p);
	assert_int_equal(stack_container_config(&s, &p->services[0], &c, hash, &err), -1);
	assert_int_equal(err.cls, ERR_POLICY);
	assert_non_null(strstr(err.msg, "/etc"));
	assert_non_null(strstr(err.msg, "allowed_bind_paths"));
	compose_project_free(p);
	config_release(&cfg);
}

static void test_stack__bind_allowed_by_admin(void **state)
{
	static const char yml[] = "services:\n"
				  "  ok:\n"
				  "    image: x\n"
				  "    volumes: [\"/srv/shared/data:/data\"]\n";
	struct config cfg;
	struct compose_project *p = load(yml, "/tmp/checkout");
	struct stack s;
	json_object *c = NULL;
	struct error err = ERROR_INIT;
	char hash[65];

	config_defaults(&cfg);
	assert_int_equal(config_parse(&cfg, "t", "allowed_bind_paths = /srv/shared\n", &err), 0);
	init_stack(&s, &cfg, p);
	/* do not create the host path in a unit test */
	p->services[0].volumes[0].create_host_path = false;
	assert_int_equal(stack_container_config(&s, &p->services[0], &c, hash, &err), 0);
	json_object_put(c);
	compose_project_free(p);
	config_release(&cfg);
}

static void test_stack__hash_changes_with_definition(void **state)
{
	struct config cfg;
	struct compose_project *p = load(app_yml, "/tmp");
	struct stack s;
	json_object *c = NULL;
	struct error err = ERROR_INIT;
	char h1[65], h2[65], h3[65];

	config_defaults(&cfg);
	init_stack(&s, &cfg, p);
	assert_int_equal(stack_container_config(&s, &p->services[0], &c, h1, &err), 0);
	json_object_put(c);
	assert_int_equal(stack_container_config(&s, &p->services[0], &c, h2, &err), 0);
	json_object_put(c);
	assert_string_equal(h1, h2);
	free(p->services[0].image);
	p->services[0].image = strdup("echobase/api-gateway:v2");
	assert_int_equal(stack_container_config(&s, &p->services[0], &c, h3, &err), 0);
	json_object_put(c);
	assert_string_not_equal(h1, h3);
	compose_project_free(p);
	config_release(&cfg);
}

/* Bind sources below the checkout are resolved beneath it: what the engine
 * gets holds no link, and a link that leads out is refused. */
static void test_stack__bind_sources_resolve_beneath_the_checkout(void **state)
{
	char top[] = "/tmp/executor-unit-bindXXXXXX";
	char checkout[256], outside[256], path[512], real[PATH_MAX], want[PATH_MAX + 16];
	static const char yml[] = "services:\n"
				  "  ok:\n"
				  "    image: x\n"
				  "    volumes: [\"./conf-link:/c:ro\", \"./made/sub:/m\"]\n"
				  "  sock:\n"
				  "    image: x\n"
				  "    volumes: [\"./sock:/var/run/docker.sock\"]\n"
				  "  hostroot:\n"
				  "    image: x\n"
				  "    volumes: [\"./hostroot/etc:/host-etc\"]\n"
				  "  create:\n"
				  "    image: x\n"
				  "    volumes: [\"./outlink/new:/n\"]\n";
	struct config cfg;
	struct compose_project *p;
	struct stack s;
	json_object *c = NULL, *mounts;
	struct error err = ERROR_INIT;
	struct stat st;
	char hash[65];

	assert_non_null(mkdtemp(top));
	snprintf(checkout, sizeof(checkout), "%s/checkout", top);
	snprintf(outside, sizeof(outside), "%s/outside", top);
	assert_int_equal(mkdir(checkout, 0755), 0);
	assert_int_equal(mkdir(outside, 0755), 0);
	snprintf(path, sizeof(path), "%s/conf", checkout);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/conf-link", checkout);
	assert_int_equal(symlink("conf", path), 0);
	snprintf(path, sizeof(path), "%s/sock", checkout);
	assert_int_equal(symlink("/var/run/docker.sock", path), 0);
	snprintf(path, sizeof(path), "%s/hostroot", checkout);
	assert_int_equal(symlink("/", path), 0);
	snprintf(path, sizeof(path), "%s/outlink", checkout);
	assert_int_equal(symlink("../outside", path), 0);
	assert_non_null(realpath(checkout, real));

	p = load(yml, checkout);
	config_defaults(&cfg);
	init_stack(&s, &cfg, p);
	/* services are sorted by name: create, hostroot, ok, sock */
	assert_int_equal(stack_container_config(&s, &p->services[2], &c, hash, &err), 0);
	mounts = get(c, "HostConfig|Mounts");
	assert_non_null(mounts);
	snprintf(want, sizeof(want), "%s/conf", real);
	assert_string_equal(
		json_object_get_string(get(json_object_array_get_idx(mounts, 0), "Source")), want);
	snprintf(want, sizeof(want), "%s/made/sub", real);
	assert_string_equal(
		json_object_get_string(get(json_object_array_get_idx(mounts, 1), "Source")), want);
	assert_int_equal(lstat(want, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	/* read-write in the file, read-only from the checkout: no container may
	 * plant a link there for the next fetch to write through */
	assert_true(json_object_get_boolean(get(json_object_array_get_idx(mounts, 1), "ReadOnly")));
	json_object_put(c);
	c = NULL;

	assert_int_equal(stack_container_config(&s, &p->services[3], &c, hash, &err), -1);
	assert_int_equal(err.cls, ERR_POLICY);
	assert_non_null(strstr(err.msg, ": service sock bind-mounts sock: sock " FS_LINK_OUT_MSG));
	assert_null(c);
	error_clear(&err);
	assert_int_equal(stack_container_config(&s, &p->services[1], &c, hash, &err), -1);
	assert_int_equal(err.cls, ERR_POLICY);
	assert_non_null(strstr(
		err.msg, ": service hostroot bind-mounts hostroot/etc: hostroot " FS_LINK_OUT_MSG));
	error_clear(&err);
	/* a missing source is created, but never through a link that leads out */
	assert_int_equal(stack_container_config(&s, &p->services[0], &c, hash, &err), -1);
	assert_int_equal(err.cls, ERR_POLICY);
	assert_non_null(strstr(err.msg, "outlink " FS_LINK_OUT_MSG));
	snprintf(path, sizeof(path), "%s/new", outside);
	assert_int_equal(lstat(path, &st), -1);

	compose_project_free(p);
	config_release(&cfg);
	assert_int_equal(fs_remove_tree(top, &err), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stack__compose_labels_and_ports),
		cmocka_unit_test(test_stack__spec_label_hides_secret_values),
		cmocka_unit_test(test_stack__service_keys_reach_the_engine),
		cmocka_unit_test(test_stack__keys_not_carried_out_are_refused),
		cmocka_unit_test(test_stack__secrets_and_configs_are_mounted_files),
		cmocka_unit_test(test_stack__durable_network_alias_is_project_scoped),
		cmocka_unit_test(test_stack__bind_outside_project_refused),
		cmocka_unit_test(test_stack__bind_allowed_by_admin),
		cmocka_unit_test(test_stack__bind_sources_resolve_beneath_the_checkout),
		cmocka_unit_test(test_stack__hash_changes_with_definition),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
