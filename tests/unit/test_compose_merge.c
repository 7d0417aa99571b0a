/* SPDX-License-Identifier: MIT */
/*
 * Merging several stack files, as `docker compose -f a -f b` does.  Each
 * case is an example of the Compose specification's merge chapter (or of
 * Docker's "Merge Compose files" page), with the result written by hand from
 * the text there.
 */
#include "tests/unit/compose_test.h"

#include "common/cleanup.h"

static const struct compose_port *port(const struct compose_service *s, size_t i)
{
	assert_true(i < s->nports);
	return &s->ports[i];
}

static void assert_port(const struct compose_port *p, const char *ip, int published, int target,
			const char *proto)
{
	if (ip)
		assert_string_equal(p->host_ip, ip);
	else
		assert_null(p->host_ip);
	assert_int_equal(p->published_start, published);
	assert_int_equal(p->published_end, published);
	assert_int_equal(p->target, target);
	assert_string_equal(p->protocol, proto);
}

static const struct compose_mount *mount_at(const struct compose_service *s, const char *target)
{
	size_t i;

	for (i = 0; i < s->nvolumes; i++)
		if (!strcmp(s->volumes[i].target, target))
			return &s->volumes[i];
	return NULL;
}

/* spec "Mapping": key1 kept, key2 overridden, key3 added */
static void test_compose_merge__mappings_merge_by_key(void **state)
{
	struct loaded l;

	load2(&l,
	      "services:\n"
	      "  foo:\n"
	      "    image: value1\n"
	      "    user: value2\n",
	      "services:\n"
	      "  foo:\n"
	      "    user: VALUE\n"
	      "    hostname: value3\n");
	assert_loaded(&l);
	assert_string_equal(svc(&l, "foo")->image, "value1");
	assert_string_equal(svc(&l, "foo")->user, "VALUE");
	assert_string_equal(svc(&l, "foo")->hostname, "value3");
	loaded_release(&l);
}

static void test_compose_merge__override_file_adds_services(void **state)
{
	struct loaded l;

	load2(&l, "services:\n  a:\n    image: one\n", "services:\n  b:\n    image: two\n");
	assert_loaded(&l);
	assert_int_equal(l.p->nservices, 2);
	assert_string_equal(svc(&l, "a")->image, "one");
	assert_string_equal(svc(&l, "b")->image, "two");
	loaded_release(&l);
}

static void test_compose_merge__later_files_win_in_order(void **state)
{
	const char *names[] = {"a.yml", "b.yml", "c.yml"};
	const char *texts[] = {
		"services:\n  s:\n    image: a\n    user: a\n    hostname: a\n",
		"services:\n  s:\n    image: b\n    user: b\n",
		"services:\n  s:\n    image: c\n",
	};
	struct loaded l;

	load_files(&l, 3, names, texts);
	assert_loaded(&l);
	assert_string_equal(svc(&l, "s")->image, "c");
	assert_string_equal(svc(&l, "s")->user, "b");
	assert_string_equal(svc(&l, "s")->hostname, "a");
	loaded_release(&l);
}

/* the seed: docker-compose.yml has no ports, the green overlay adds them */
static void test_compose_merge__ports_added_by_overlay(void **state)
{
	struct loaded l;

	load2(&l,
	      "services:\n"
	      "  api-gateway:\n"
	      "    image: echobase/api-gateway\n",
	      "services:\n"
	      "  api-gateway:\n"
	      "    ports:\n"
	      "      - \"3101:3001\"\n");
	assert_loaded(&l);
	assert_int_equal(svc(&l, "api-gateway")->nports, 1);
	assert_port(port(svc(&l, "api-gateway"), 0), NULL, 3101, 3001, "tcp");
	loaded_release(&l);
}

/* spec "Unique resources": ports are unique on {ip, target, published, protocol} */
static void test_compose_merge__ports_merge_on_target(void **state)
{
	struct loaded l;

	load2(&l,
	      "services:\n"
	      "  app:\n"
	      "    image: myapp\n"
	      "    ports: [\"8080:80\", \"127.0.0.1:9090:90\"]\n",
	      "services:\n"
	      "  app:\n"
	      "    ports: [\"8080:80\", \"8443:443\"]\n");
	assert_loaded(&l);
	assert_int_equal(svc(&l, "app")->nports, 3);
	assert_port(port(svc(&l, "app"), 0), NULL, 8080, 80, "tcp");
	assert_port(port(svc(&l, "app"), 1), "127.0.0.1", 9090, 90, "tcp");
	assert_port(port(svc(&l, "app"), 2), NULL, 8443, 443, "tcp");
	loaded_release(&l);
}

/* a different published port or protocol is a different unique key: both kept */
static void test_compose_merge__ports_with_other_published_or_protocol_are_appended(void **state)
{
	struct loaded l;

	load2(&l, "services:\n  app:\n    image: x\n    ports: [\"3001\", \"53:53\"]\n",
	      "services:\n  app:\n    ports: [\"3101:3001\", \"53:53/udp\"]\n");
	assert_loaded(&l);
	assert_int_equal(svc(&l, "app")->nports, 4);
	assert_port(port(svc(&l, "app"), 0), NULL, 0, 3001, "tcp");
	assert_port(port(svc(&l, "app"), 1), NULL, 53, 53, "tcp");
	assert_port(port(svc(&l, "app"), 2), NULL, 3101, 3001, "tcp");
	assert_port(port(svc(&l, "app"), 3), NULL, 53, 53, "udp");
	loaded_release(&l);
}

/* the same unique key in long syntax merges into the short-syntax entry */
static void test_compose_merge__ports_long_syntax_shares_the_key_of_short_syntax(void **state)
{
	struct loaded l;

	load2(&l, "services:\n  app:\n    image: x\n    ports: [\"127.0.0.1:8080:80\"]\n",
	      "services:\n"
	      "  app:\n"
	      "    ports:\n"
	      "      - target: 80\n"
	      "        published: \"8080\"\n"
	      "        host_ip: 127.0.0.1\n"
	      "        protocol: tcp\n");
	assert_loaded(&l);
	assert_int_equal(svc(&l, "app")->nports, 1);
	assert_port(port(svc(&l, "app"), 0), "127.0.0.1", 8080, 80, "tcp");
	loaded_release(&l);
}

/* spec "Unique resources": foo:/work then bar:/work gives bar:/work */
static void test_compose_merge__volumes_merge_on_target(void **state)
{
	struct loaded l;

	load2(&l,
	      "services:\n  foo:\n    image: x\n    volumes:\n      - foo:/work\n"
	      "volumes:\n  foo:\n  bar:\n",
	      "services:\n  foo:\n    volumes:\n      - bar:/work\n");
	assert_loaded(&l);
	assert_int_equal(svc(&l, "foo")->nvolumes, 1);
	assert_string_equal(svc(&l, "foo")->volumes[0].source, "bar");
	assert_string_equal(svc(&l, "foo")->volumes[0].target, "/work");
	assert_string_equal(svc(&l, "foo")->volumes[0].volume_name, "test_bar");
	loaded_release(&l);
}

/* Docker's merge page: ./original:/foo, ./local:/bar, ./local:/baz */
static void test_compose_merge__volumes_with_new_targets_are_appended(void **state)
{
	struct loaded l;

	load2(&l,
	      "services:\n  myservice:\n    image: x\n    volumes:\n"
	      "      - ./original:/foo\n      - ./original:/bar\n",
	      "services:\n  myservice:\n    volumes:\n"
	      "      - ./local:/bar\n      - ./local:/baz\n");
	assert_loaded(&l);
	assert_int_equal(svc(&l, "myservice")->nvolumes, 3);
	assert_string_equal(mount_at(svc(&l, "myservice"), "/foo")->source, VDIR "/original");
	assert_string_equal(mount_at(svc(&l, "myservice"), "/bar")->source, VDIR "/local");
	assert_string_equal(mount_at(svc(&l, "myservice"), "/baz")->source, VDIR "/local");
	loaded_release(&l);
}

/* a long-syntax entry on the same target merges field by field */
/* compose-go (unicity on target): the overlay's entry replaces the base's whole,
 * so the base's read_only is not kept */
static void test_compose_merge__volume_long_syntax_replaces_entry_on_same_target(void **state)
{
	struct loaded l;

	load2(&l,
	      "services:\n  s:\n    image: x\n    volumes:\n"
	      "      - type: bind\n        source: ./data\n        target: /data\n"
	      "        read_only: true\n",
	      "services:\n  s:\n    volumes:\n"
	      "      - type: bind\n        source: ./other\n        target: /data\n");
	assert_loaded(&l);
	assert_int_equal(svc(&l, "s")->nvolumes, 1);
	assert_int_equal(svc(&l, "s")->volumes[0].type, COMPOSE_MOUNT_BIND);
	assert_string_equal(svc(&l, "s")->volumes[0].source, VDIR "/other");
	assert_false(svc(&l, "s")->volumes[0].read_only);
	loaded_release(&l);
}

/* Docker's merge page: FOO=original, BAR=local, BAZ=local */
static void test_compose_merge__environment_merges_by_name(void **state)
{
	struct loaded l;

	load2(&l,
	      "services:\n  myservice:\n    image: x\n    environment:\n"
	      "      - FOO=original\n      - BAR=original\n",
	      "services:\n  myservice:\n    environment:\n"
	      "      - BAR=local\n      - BAZ=local\n");
	assert_loaded(&l);
	assert_int_equal(svc(&l, "myservice")->nenvironment, 3);
	assert_string_equal(env(svc(&l, "myservice"), "FOO"), "original");
	assert_string_equal(env(svc(&l, "myservice"), "BAR"), "local");
	assert_string_equal(env(svc(&l, "myservice"), "BAZ"), "local");
	loaded_release(&l);
}

static void test_compose_merge__environment_list_and_map_forms_merge(void **state)
{
	struct loaded l;

	load2(&l,
	      "services:\n  s:\n    image: x\n    environment:\n"
	      "      A: '1'\n      B: 2\n",
	      "services:\n  s:\n    environment:\n      - B=two\n      - C=3=three\n");
	assert_loaded(&l);
	assert_string_equal(env(svc(&l, "s"), "A"), "1");
	assert_string_equal(env(svc(&l, "s"), "B"), "two");
	/* only the first = separates the name */
	assert_string_equal(env(svc(&l, "s"), "C"), "3=three");
	loaded_release(&l);
}

static void test_compose_merge__labels_merge_by_name(void **state)
{
	struct loaded l;
	const struct compose_service *s;

	load2(&l,
	      "services:\n  s:\n    image: x\n    labels:\n"
	      "      com.example.team: core\n      com.example.tier: back\n",
	      "services:\n  s:\n    labels:\n      - com.example.tier=front\n"
	      "      - com.example.color=green\n");
	assert_loaded(&l);
	s = svc(&l, "s");
	assert_int_equal(s->nlabels, 3);
	assert_string_equal(kv_get(s->labels, s->nlabels, "com.example.team"), "core");
	assert_string_equal(kv_get(s->labels, s->nlabels, "com.example.tier"), "front");
	assert_string_equal(kv_get(s->labels, s->nlabels, "com.example.color"), "green");
	loaded_release(&l);
}

static void test_compose_merge__extra_hosts_merge_by_host(void **state)
{
	struct loaded l;
	const struct compose_service *s;

	load2(&l,
	      "services:\n  s:\n    image: x\n    extra_hosts:\n"
	      "      - db:10.0.0.1\n      - cache=10.0.0.2\n",
	      "services:\n  s:\n    extra_hosts:\n      db: 10.0.0.9\n      mq: 10.0.0.3\n");
	assert_loaded(&l);
	s = svc(&l, "s");
	/* compose-go appends the overlay's entries: db keeps both addresses */
	assert_int_equal(s->nextra_hosts, 4);
	assert_string_equal(kv_get(s->extra_hosts, s->nextra_hosts, "db"), "10.0.0.1");
	assert_string_equal(s->extra_hosts[1].key, "db");
	assert_string_equal(s->extra_hosts[1].value, "10.0.0.9");
	assert_string_equal(kv_get(s->extra_hosts, s->nextra_hosts, "cache"), "10.0.0.2");
	assert_string_equal(kv_get(s->extra_hosts, s->nextra_hosts, "mq"), "10.0.0.3");
	loaded_release(&l);
}

/* spec "Shell commands": ["echo", "bar"] replaces ["echo", "foo"], not appended */
static void test_compose_merge__command_is_replaced(void **state)
{
	struct loaded l;

	load2(&l, "services:\n  foo:\n    image: x\n    command: [\"echo\", \"foo\"]\n",
	      "services:\n  foo:\n    command: [\"echo\", \"bar\"]\n");
	assert_loaded(&l);
	assert_true(svc(&l, "foo")->command.set);
	assert_int_equal(svc(&l, "foo")->command.argc, 2);
	assert_string_equal(svc(&l, "foo")->command.argv[0], "echo");
	assert_string_equal(svc(&l, "foo")->command.argv[1], "bar");
	assert_null(svc(&l, "foo")->command.argv[2]);
	loaded_release(&l);
}

/* Docker's merge page: command: python app.py, then python otherapp.py */
static void test_compose_merge__command_string_replaces_list(void **state)
{
	struct loaded l;

	load2(&l, "services:\n  s:\n    image: x\n    command: [python, app.py, --debug]\n",
	      "services:\n  s:\n    command: python otherapp.py\n");
	assert_loaded(&l);
	assert_int_equal(svc(&l, "s")->command.argc, 2);
	assert_string_equal(svc(&l, "s")->command.argv[0], "python");
	assert_string_equal(svc(&l, "s")->command.argv[1], "otherapp.py");
	loaded_release(&l);
}

static void test_compose_merge__entrypoint_is_replaced(void **state)
{
	struct loaded l;

	load2(&l, "services:\n  s:\n    image: x\n    entrypoint: [/bin/sh, -c]\n",
	      "services:\n  s:\n    entrypoint: [/docker-entrypoint.sh]\n");
	assert_loaded(&l);
	assert_int_equal(svc(&l, "s")->entrypoint.argc, 1);
	assert_string_equal(svc(&l, "s")->entrypoint.argv[0], "/docker-entrypoint.sh");
	loaded_release(&l);
}

/* healthcheck.test is replaced; the rest of healthcheck merges as a mapping */
static void test_compose_merge__healthcheck_test_is_replaced_other_fields_merge(void **state)
{
	struct loaded l;
	const struct compose_healthcheck *hc;

	load2(&l,
	      "services:\n  s:\n    image: x\n    healthcheck:\n"
	      "      test: [CMD, curl, -f, http://localhost/]\n"
	      "      interval: 30s\n      retries: 3\n",
	      "services:\n  s:\n    healthcheck:\n"
	      "      test: [CMD, wget, -q, http://localhost/health]\n      retries: 5\n");
	assert_loaded(&l);
	hc = &svc(&l, "s")->healthcheck;
	assert_int_equal(hc->test.argc, 4);
	assert_string_equal(hc->test.argv[1], "wget");
	assert_string_equal(hc->test.argv[3], "http://localhost/health");
	assert_int_equal(hc->interval_ms, 30000);
	assert_int_equal(hc->retries, 5);
	loaded_release(&l);
}

/* Docker's merge page: expose 3000, then 4000 and 5000: all three */
static void test_compose_merge__expose_is_concatenated(void **state)
{
	struct loaded l;
	const struct compose_service *s;

	load2(&l, "services:\n  myservice:\n    image: x\n    expose:\n      - \"3000\"\n",
	      "services:\n  myservice:\n    expose:\n      - \"4000\"\n      - \"5000\"\n"
	      "      - \"3000\"\n");
	assert_loaded(&l);
	s = svc(&l, "myservice");
	assert_int_equal(s->nexpose, 3);
	assert_int_equal(s->expose[0].target, 3000);
	assert_int_equal(s->expose[1].target, 4000);
	assert_int_equal(s->expose[2].target, 5000);
	loaded_release(&l);
}

/* any other sequence is appended (spec "Sequence"): env_file lists */
static void test_compose_merge__other_sequences_are_appended(void **state)
{
	_cleanup_free_ char *dir = make_tmpdir();
	_cleanup_free_ char *a = write_file(dir, "a.env", "A=1\nSHARED=from-a\n");
	_cleanup_free_ char *b = write_file(dir, "b.env", "B=2\nSHARED=from-b\n");
	_cleanup_free_ char *f1 = write_file(dir, "docker-compose.yml",
					     "services:\n  s:\n    image: x\n"
					     "    env_file: [a.env]\n");
	_cleanup_free_ char *f2 = write_file(dir, "docker-compose.override.yml",
					     "services:\n  s:\n    env_file: b.env\n");
	const char *files[] = {f1, f2};
	struct compose_load_opts opts = {.files = files, .nfiles = 2, .project_name = "t"};
	struct compose_project *p = NULL;
	struct compose_diags diags = COMPOSE_DIAGS_INIT;
	struct error err = ERROR_INIT;
	const struct compose_service *s;

	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(compose_load(&opts, &p, &diags, &err), 0);
	s = compose_project_service(p, "s");
	assert_string_equal(env(s, "A"), "1");
	assert_string_equal(env(s, "B"), "2");
	assert_string_equal(env(s, "SHARED"), "from-b");
	compose_project_free(p);
	compose_diags_release(&diags);
	fs_remove_tree(dir, &err);
}

static void test_compose_merge__depends_on_list_and_map_forms_merge(void **state)
{
	struct loaded l;
	const struct compose_service *s;

	load2(&l,
	      "services:\n"
	      "  web:\n    image: x\n    depends_on: [db, cache]\n"
	      "  db:\n    image: x\n"
	      "  cache:\n    image: x\n"
	      "  mq:\n    image: x\n",
	      "services:\n  web:\n    depends_on:\n"
	      "      db:\n        condition: service_healthy\n"
	      "      mq:\n        condition: service_started\n        required: false\n");
	assert_loaded(&l);
	s = svc(&l, "web");
	assert_int_equal(s->ndepends_on, 3);
	/* sorted by service */
	assert_string_equal(s->depends_on[0].service, "cache");
	assert_int_equal(s->depends_on[0].condition, COMPOSE_COND_STARTED);
	assert_string_equal(s->depends_on[1].service, "db");
	assert_int_equal(s->depends_on[1].condition, COMPOSE_COND_HEALTHY);
	assert_true(s->depends_on[1].required);
	assert_string_equal(s->depends_on[2].service, "mq");
	assert_false(s->depends_on[2].required);
	loaded_release(&l);
}

static void test_compose_merge__service_networks_merge_and_aliases_append(void **state)
{
	struct loaded l;
	const struct compose_service *s;

	load2(&l,
	      "services:\n  api:\n    image: x\n    networks:\n"
	      "      front:\n        aliases: [api.local]\n"
	      "networks:\n  front:\n  back:\n",
	      "services:\n  api:\n    networks:\n      front:\n        aliases: [gateway]\n"
	      "      back:\n");
	assert_loaded(&l);
	s = svc(&l, "api");
	assert_int_equal(s->nnetworks, 2);
	assert_string_equal(s->networks[0].key, "front");
	assert_int_equal(s->networks[0].naliases, 3);
	assert_string_equal(s->networks[0].aliases[0], "api");
	assert_string_equal(s->networks[0].aliases[1], "api.local");
	assert_string_equal(s->networks[0].aliases[2], "gateway");
	assert_string_equal(s->networks[1].key, "back");
	loaded_release(&l);
}

/* a null (`- front` list form) over a mapping keeps what the base said */
static void test_compose_merge__network_list_form_keeps_base_aliases(void **state)
{
	struct loaded l;

	load2(&l,
	      "services:\n  api:\n    image: x\n    networks:\n"
	      "      front:\n        aliases: [api.local]\n"
	      "networks:\n  front:\n",
	      "services:\n  api:\n    networks: [front]\n");
	assert_loaded(&l);
	assert_int_equal(svc(&l, "api")->networks[0].naliases, 2);
	assert_string_equal(svc(&l, "api")->networks[0].aliases[1], "api.local");
	loaded_release(&l);
}

/* the seed: the green overlay makes a network external with a fixed name */
static void test_compose_merge__top_level_network_merges(void **state)
{
	struct loaded l;
	const struct compose_resource *n;

	load2(&l,
	      "services:\n  api:\n    image: x\n    networks: [durable]\n"
	      "networks:\n  durable:\n    driver: bridge\n",
	      "networks:\n  durable:\n    external: true\n"
	      "    name: echobase-ci-durable-network\n");
	assert_loaded(&l);
	n = compose_project_network(l.p, "durable");
	assert_non_null(n);
	assert_true(n->external);
	assert_string_equal(n->name, "echobase-ci-durable-network");
	assert_string_equal(n->driver, "bridge");
	assert_string_equal(svc(&l, "api")->networks[0].name, "echobase-ci-durable-network");
	loaded_release(&l);
}

/* spec "Reset value": ports: !reset [] and FOO: !reset null remove them */
static void test_compose_merge__reset_tag_removes_values(void **state)
{
	struct loaded l;

	load2(&l,
	      "services:\n  app:\n    image: myapp\n    ports:\n      - \"8080:80\"\n"
	      "    environment:\n      FOO: BAR\n      KEEP: yes\n",
	      "services:\n  app:\n    image: myapp\n    ports: !reset []\n"
	      "    environment:\n      FOO: !reset null\n");
	assert_loaded(&l);
	assert_int_equal(svc(&l, "app")->nports, 0);
	assert_null(env(svc(&l, "app"), "FOO"));
	assert_string_equal(env(svc(&l, "app"), "KEEP"), "yes");
	loaded_release(&l);
}

/* spec "Replace value": ports: !override [8443:443] drops 8080:80 */
static void test_compose_merge__override_tag_replaces_without_merging(void **state)
{
	struct loaded l;

	load2(&l, "services:\n  app:\n    image: myapp\n    ports:\n      - \"8080:80\"\n",
	      "services:\n  app:\n    ports: !override\n      - \"8443:443\"\n");
	assert_loaded(&l);
	assert_int_equal(svc(&l, "app")->nports, 1);
	assert_port(port(svc(&l, "app"), 0), NULL, 8443, 443, "tcp");
	loaded_release(&l);
}

static void test_compose_merge__override_tag_on_a_mapping_drops_old_keys(void **state)
{
	struct loaded l;

	load2(&l, "services:\n  app:\n    image: x\n    environment: {A: '1', B: '2'}\n",
	      "services:\n  app:\n    environment: !override {C: '3'}\n");
	assert_loaded(&l);
	assert_int_equal(svc(&l, "app")->nenvironment, 1);
	assert_string_equal(env(svc(&l, "app"), "C"), "3");
	loaded_release(&l);
}

static void test_compose_merge__yaml_anchors_and_aliases(void **state)
{
	struct loaded l;

	load1(&l, "x-image: &img registry.local/app:1.2\n"
		  "x-env: &env\n"
		  "  LOG_LEVEL: info\n"
		  "services:\n"
		  "  a:\n    image: *img\n    environment: *env\n"
		  "  b:\n    image: *img\n    environment: *env\n");
	assert_loaded(&l);
	assert_string_equal(svc(&l, "a")->image, "registry.local/app:1.2");
	assert_string_equal(svc(&l, "b")->image, "registry.local/app:1.2");
	assert_string_equal(env(svc(&l, "b"), "LOG_LEVEL"), "info");
	loaded_release(&l);
}

/* YAML merge key: the mapping's own keys win over merged ones */
static void test_compose_merge__merge_key_explicit_keys_win(void **state)
{
	struct loaded l;

	load1(&l, "x-base: &base\n"
		  "  image: base-image\n"
		  "  restart: always\n"
		  "  environment: {A: from-base}\n"
		  "services:\n"
		  "  svc:\n"
		  "    <<: *base\n"
		  "    image: own-image\n");
	assert_loaded(&l);
	assert_string_equal(svc(&l, "svc")->image, "own-image");
	assert_string_equal(svc(&l, "svc")->restart, "always");
	assert_string_equal(env(svc(&l, "svc"), "A"), "from-base");
	assert_int_equal(l.diags.n, 0);
	loaded_release(&l);
}

/* YAML merge key with a list: earlier mappings win over later ones */
static void test_compose_merge__merge_key_list_earlier_sources_win(void **state)
{
	struct loaded l;

	load1(&l, "x-one: &one {image: one, user: one}\n"
		  "x-two: &two {image: two, user: two, hostname: two}\n"
		  "services:\n"
		  "  svc:\n"
		  "    <<: [*one, *two]\n"
		  "    user: own\n");
	assert_loaded(&l);
	assert_string_equal(svc(&l, "svc")->image, "one");
	assert_string_equal(svc(&l, "svc")->user, "own");
	assert_string_equal(svc(&l, "svc")->hostname, "two");
	loaded_release(&l);
}

/* x- keys are ignored: no warning, and never interpolated */
static void test_compose_merge__extension_keys_are_ignored(void **state)
{
	struct loaded l;

	load2(&l,
	      "x-notes: ${NOT_SET:?never evaluated}\n"
	      "services:\n  s:\n    image: x\n    x-owner: team\n",
	      "x-more: {a: 1}\nservices:\n  s:\n    x-owner: other\n"
	      "networks:\n  n:\n    x-hint: ok\n");
	assert_loaded(&l);
	assert_int_equal(l.diags.n, 0);
	loaded_release(&l);
}

/* spec: interpolation is applied before merge, on each file */
static void test_compose_merge__interpolation_happens_before_merge(void **state)
{
	static const char *const vars[] = {"TAG", "1.4", NULL};
	struct loaded l;

	test_vars = vars;
	/* the override's value replaces the base's, but the base is interpolated
	 * first: its required variable still has to be set */
	load2(&l, "services:\n  s:\n    image: app:${MISSING:?needed by the base file}\n",
	      "services:\n  s:\n    image: app:${TAG}\n");
	assert_load_error(&l, "needed by the base file");
	loaded_release(&l);

	load2(&l, "services:\n  s:\n    image: app:${TAG:-latest}\n",
	      "services:\n  s:\n    environment:\n      IMAGE_TAG: $TAG\n");
	assert_loaded(&l);
	assert_string_equal(svc(&l, "s")->image, "app:1.4");
	assert_string_equal(env(svc(&l, "s"), "IMAGE_TAG"), "1.4");
	loaded_release(&l);
	test_vars = NULL;
}

/* Docker's merge page: all paths are relative to the first file's folder */
static void test_compose_merge__relative_paths_resolve_against_the_first_file(void **state)
{
	const char *names[] = {"docker-compose.yml", "overrides/green.yml"};
	const char *texts[] = {"services:\n  s:\n    image: x\n",
			       "services:\n  s:\n    volumes: [./certs:/certs:ro]\n"};
	struct loaded l;

	load_files(&l, 2, names, texts);
	assert_loaded(&l);
	assert_string_equal(svc(&l, "s")->volumes[0].source, VDIR "/certs");
	assert_true(svc(&l, "s")->volumes[0].read_only);
	loaded_release(&l);
}

/* The seed's layout: base without ports, green overlay with ports and the durable network. */
static const char seed_base[] = "name: echobase\n"
				"services:\n"
				"  localstack:\n"
				"    image: localstack/localstack:3\n"
				"    environment:\n"
				"      - SERVICES=sqs,secretsmanager\n"
				"    networks: [echobase-network]\n"
				"  api-gateway:\n"
				"    image: echobase/api-gateway:${IMAGE_TAG:-latest}\n"
				"    environment:\n"
				"      DB_HOST: ${DB_HOST:-echobase-devlocal-durable-mariadb}\n"
				"      DB_PASSWORD: ${DB_PASSWORD:?run durable setup first}\n"
				"    depends_on:\n"
				"      localstack:\n"
				"        condition: service_healthy\n"
				"    networks:\n"
				"      - echobase-network\n"
				"      - durable\n"
				"  frontend:\n"
				"    image: echobase/frontend:${IMAGE_TAG:-latest}\n"
				"    depends_on: [api-gateway]\n"
				"    networks: [echobase-network]\n"
				"networks:\n"
				"  echobase-network:\n"
				"    name: ${APP_NETWORK:-echobase-network}\n"
				"  durable:\n"
				"    external: true\n"
				"    name: echobase-devlocal-durable-network\n";

static const char seed_green[] = "services:\n"
				 "  localstack:\n"
				 "    container_name: echobase-green-localstack\n"
				 "    ports:\n"
				 "      - \"4666:4566\"\n"
				 "      - \"4671:4571\"\n"
				 "  api-gateway:\n"
				 "    container_name: echobase-green-api-gateway\n"
				 "    ports:\n"
				 "      - \"3101:3001\"\n"
				 "    environment:\n"
				 "      DB_HOST: echobase-ci-durable-mariadb\n"
				 "  frontend:\n"
				 "    container_name: echobase-green-frontend\n"
				 "    ports:\n"
				 "      - \"3543:443\"\n"
				 "      - \"3100:80\"\n"
				 "networks:\n"
				 "  durable:\n"
				 "    name: echobase-ci-durable-network\n";

static void test_compose_merge__seed_green_overlay(void **state)
{
	static const char *const vars[] = {"DB_PASSWORD", "s3cret-from-durable",
					   "APP_NETWORK", "echobase-green-network",
					   "IMAGE_TAG",	  "abc123",
					   NULL};
	const char *names[] = {"docker-compose.yml", "docker-compose.green.yml"};
	const char *texts[] = {seed_base, seed_green};
	const struct compose_service *api;
	struct loaded l;
	size_t order[3];

	test_vars = vars;
	load_files_opts(&l, 2, names, texts, "echobase-green");
	assert_loaded(&l);
	assert_string_equal(l.p->name, "echobase-green");
	assert_int_equal(l.p->nservices, 3);

	api = svc(&l, "api-gateway");
	assert_string_equal(api->image, "echobase/api-gateway:abc123");
	assert_string_equal(api->container_name, "echobase-green-api-gateway");
	assert_int_equal(api->nports, 1);
	assert_port(&api->ports[0], NULL, 3101, 3001, "tcp");
	assert_string_equal(env(api, "DB_HOST"), "echobase-ci-durable-mariadb");
	assert_string_equal(env(api, "DB_PASSWORD"), "s3cret-from-durable");
	assert_int_equal(api->nnetworks, 2);
	assert_string_equal(api->networks[1].name, "echobase-ci-durable-network");
	assert_string_equal(api->networks[1].aliases[0], "api-gateway");

	assert_int_equal(svc(&l, "localstack")->nports, 2);
	assert_port(&svc(&l, "localstack")->ports[1], NULL, 4671, 4571, "tcp");
	assert_int_equal(svc(&l, "frontend")->nports, 2);
	assert_port(&svc(&l, "frontend")->ports[0], NULL, 3543, 443, "tcp");

	assert_true(compose_project_network(l.p, "durable")->external);
	assert_string_equal(compose_project_network(l.p, "durable")->name,
			    "echobase-ci-durable-network");
	assert_string_equal(compose_project_network(l.p, "echobase-network")->name,
			    "echobase-green-network");
	assert_false(compose_project_network(l.p, "echobase-network")->external);

	/* services are sorted by name; start order puts dependencies first */
	assert_int_equal(compose_project_start_order(l.p, order, &l.err), 0);
	assert_string_equal(l.p->services[order[0]].name, "localstack");
	assert_string_equal(l.p->services[order[1]].name, "api-gateway");
	assert_string_equal(l.p->services[order[2]].name, "frontend");
	assert_int_equal(l.diags.n, 0);
	loaded_release(&l);
	test_vars = NULL;
}

/* the same base without the secret: one error naming the file and line */
static void test_compose_merge__seed_without_secret_fails_at_its_line(void **state)
{
	const char *names[] = {"docker-compose.yml", "docker-compose.green.yml"};
	const char *texts[] = {seed_base, seed_green};
	struct loaded l;

	load_files_opts(&l, 2, names, texts, "echobase-green");
	assert_load_error(&l, VDIR "/docker-compose.yml:12: services.api-gateway.environment."
				   "DB_PASSWORD: required variable DB_PASSWORD is missing a value: "
				   "run durable setup first");
	loaded_release(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compose_merge__mappings_merge_by_key),
		cmocka_unit_test(test_compose_merge__override_file_adds_services),
		cmocka_unit_test(test_compose_merge__later_files_win_in_order),
		cmocka_unit_test(test_compose_merge__ports_added_by_overlay),
		cmocka_unit_test(test_compose_merge__ports_merge_on_target),
		cmocka_unit_test(
			test_compose_merge__ports_with_other_published_or_protocol_are_appended),
		cmocka_unit_test(
			test_compose_merge__ports_long_syntax_shares_the_key_of_short_syntax),
		cmocka_unit_test(test_compose_merge__volumes_merge_on_target),
		cmocka_unit_test(test_compose_merge__volumes_with_new_targets_are_appended),
		cmocka_unit_test(
			test_compose_merge__volume_long_syntax_replaces_entry_on_same_target),
		cmocka_unit_test(test_compose_merge__environment_merges_by_name),
		cmocka_unit_test(test_compose_merge__environment_list_and_map_forms_merge),
		cmocka_unit_test(test_compose_merge__labels_merge_by_name),
		cmocka_unit_test(test_compose_merge__extra_hosts_merge_by_host),
		cmocka_unit_test(test_compose_merge__command_is_replaced),
		cmocka_unit_test(test_compose_merge__command_string_replaces_list),
		cmocka_unit_test(test_compose_merge__entrypoint_is_replaced),
		cmocka_unit_test(
			test_compose_merge__healthcheck_test_is_replaced_other_fields_merge),
		cmocka_unit_test(test_compose_merge__expose_is_concatenated),
		cmocka_unit_test(test_compose_merge__other_sequences_are_appended),
		cmocka_unit_test(test_compose_merge__depends_on_list_and_map_forms_merge),
		cmocka_unit_test(test_compose_merge__service_networks_merge_and_aliases_append),
		cmocka_unit_test(test_compose_merge__network_list_form_keeps_base_aliases),
		cmocka_unit_test(test_compose_merge__top_level_network_merges),
		cmocka_unit_test(test_compose_merge__reset_tag_removes_values),
		cmocka_unit_test(test_compose_merge__override_tag_replaces_without_merging),
		cmocka_unit_test(test_compose_merge__override_tag_on_a_mapping_drops_old_keys),
		cmocka_unit_test(test_compose_merge__yaml_anchors_and_aliases),
		cmocka_unit_test(test_compose_merge__merge_key_explicit_keys_win),
		cmocka_unit_test(test_compose_merge__merge_key_list_earlier_sources_win),
		cmocka_unit_test(test_compose_merge__extension_keys_are_ignored),
		cmocka_unit_test(test_compose_merge__interpolation_happens_before_merge),
		cmocka_unit_test(test_compose_merge__relative_paths_resolve_against_the_first_file),
		cmocka_unit_test(test_compose_merge__seed_green_overlay),
		cmocka_unit_test(test_compose_merge__seed_without_secret_fails_at_its_line),
	};

	return cmocka_run_group_tests_name("compose_merge", tests, NULL, NULL);
}
