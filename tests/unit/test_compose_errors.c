/* SPDX-License-Identifier: MIT */
/*
 * Bad stack files: each gives one ERR_COMPOSE error naming the file and the
 * line (and the key path) of the problem, and no project.
 */
#include "tests/unit/compose_test.h"

#include "common/buf.h"
#include "common/cleanup.h"

#define BASE  VDIR "/docker-compose.yml"
#define GREEN VDIR "/docker-compose.green.yml"

static void test_compose_errors__syntax_error_names_file_and_line(void **state)
{
	struct loaded l;

	load1(&l, "services:\n  api:\n    image: x\n    ports: [\"3001\"\n  db:\n    image: y\n");
	assert_load_error(&l, BASE ":");
	assert_non_null(strstr(l.err.msg, "YAML syntax error"));
	loaded_release(&l);

	load1(&l, "services:\n  api:\n    image: \"unterminated\n");
	assert_load_error(&l, "YAML syntax error");
	loaded_release(&l);
}

static void test_compose_errors__duplicate_key(void **state)
{
	struct loaded l;

	load1(&l, "services:\n  api:\n    image: a\n    image: b\n");
	assert_load_error(&l, BASE ":4: YAML syntax error: duplicate key");
	loaded_release(&l);
}

static void test_compose_errors__network_mode(void **state)
{
	struct loaded l;

	load1(&l, "services:\n  s:\n    image: x\n    network_mode: bogus\n");
	assert_load_error(&l, BASE ":4: services.s.network_mode: \"bogus\" is not a network mode");
	loaded_release(&l);
	load1(&l, "services:\n  s:\n    image: x\n    network_mode: host\n    networks: [a]\n"
		  "networks:\n  a: {}\n");
	assert_load_error(&l, "network_mode and networks cannot both be set");
	loaded_release(&l);
	/* a mode is kept as written, and the service joins no network */
	load1(&l, "services:\n  vpn:\n    image: x\n  s:\n    image: x\n"
		  "    network_mode: service:vpn\n");
	assert_loaded(&l);
	assert_string_equal(svc(&l, "s")->network_mode, "service:vpn");
	assert_int_equal(svc(&l, "s")->nnetworks, 0);
	assert_int_equal(svc(&l, "vpn")->nnetworks, 1);
	loaded_release(&l);
}

static void test_compose_errors__wrong_type_names_the_key_path(void **state)
{
	const char *names[] = {"docker-compose.yml", "docker-compose.green.yml"};
	const char *texts[] = {"services:\n  api-gateway:\n    image: x\n",
			       "services:\n"
			       "  api-gateway:\n"
			       "    ports:\n"
			       "      - [3101, 3001]\n"};
	struct loaded l;

	load_files(&l, 2, names, texts);
	assert_load_error(&l, GREEN ":4: services.api-gateway.ports[0]: expected a string or "
				    "mapping, got a sequence");
	loaded_release(&l);
}

static void test_compose_errors__wrong_types_of_attributes(void **state)
{
	struct loaded l;

	load1(&l, "services:\n  s:\n    image: [a, b]\n");
	assert_load_error(&l, BASE ":3: services.s.image: expected a string, got a sequence");
	loaded_release(&l);
	load1(&l, "services:\n  s:\n    image: x\n    environment: FOO=bar\n");
	assert_load_error(&l, BASE ":4: services.s.environment: expected a mapping or a list, got "
				   "a string");
	loaded_release(&l);
	load1(&l, "services:\n  s:\n    image: x\n    environment:\n      - {A: 1}\n");
	assert_load_error(&l, BASE ":5: services.s.environment[0]: expected a string, got a "
				   "mapping");
	loaded_release(&l);
	load1(&l, "services:\n  s:\n    image: x\n    volumes:\n      - ./a:/a\n    read_only: x\n"
		  "    healthcheck:\n      retries: many\n");
	assert_load_error(&l, BASE ":8: services.s.healthcheck.retries: expected a whole number");
	loaded_release(&l);
	load1(&l, "services:\n  s: just-a-string\n");
	assert_load_error(&l, BASE ":2: services.s: expected a mapping, got a string");
	loaded_release(&l);
	load1(&l, "services:\n  - s\n");
	assert_load_error(&l, "services: expected a mapping, got a sequence");
	loaded_release(&l);
	load1(&l, "- just\n- a list\n");
	assert_load_error(&l, "the file must be a mapping");
	loaded_release(&l);
	load1(&l, "services:\n  s:\n    image: x\n    volumes:\n"
		  "      - type: bind\n        source: ./a\n        target: /a\n"
		  "        read_only: maybe\n");
	assert_load_error(&l, BASE ":8: services.s.volumes[0].read_only: expected true or false, "
				   "got \"maybe\"");
	loaded_release(&l);
}

static void test_compose_errors__bad_interpolation_names_file_line_and_path(void **state)
{
	struct loaded l;

	load1(&l, "services:\n  s:\n    image: x\n    environment:\n      URL: http://${HOST\n");
	assert_load_error(&l, BASE ":5: services.s.environment.URL: invalid interpolation in "
				   "\"http://${HOST\": missing \"}\"");
	loaded_release(&l);
	load1(&l, "services:\n  s:\n    image: ${IMAGE/old/new}\n");
	assert_load_error(&l, BASE ":3: services.s.image: invalid interpolation");
	loaded_release(&l);
}

static void test_compose_errors__missing_required_variable(void **state)
{
	const char *names[] = {"docker-compose.yml", "docker-compose.green.yml"};
	const char *texts[] = {
		"services:\n  db:\n    image: mariadb\n",
		"services:\n"
		"  db:\n"
		"    environment:\n"
		"      MARIADB_PASSWORD: ${DB_PASSWORD:?run durable:setup-ci first}\n"};
	struct loaded l;

	load_files(&l, 2, names, texts);
	assert_load_error(&l, GREEN ":4: services.db.environment.MARIADB_PASSWORD: required "
				    "variable DB_PASSWORD is missing a value: run durable:setup-ci "
				    "first");
	loaded_release(&l);
}

static void test_compose_errors__unknown_depends_on_service(void **state)
{
	struct loaded l;

	load1(&l, "services:\n"
		  "  web:\n"
		  "    image: x\n"
		  "    depends_on:\n"
		  "      - db\n"
		  "      - dbx\n"
		  "  db:\n"
		  "    image: y\n");
	assert_load_error(&l, BASE ":6: services.web.depends_on: unknown service \"dbx\"");
	loaded_release(&l);
}

static void test_compose_errors__dependency_cycle(void **state)
{
	struct loaded l;

	load1(&l, "services:\n"
		  "  a:\n    image: x\n    depends_on: [b]\n"
		  "  b:\n    image: x\n    depends_on: [c]\n"
		  "  c:\n    image: x\n    depends_on: [a]\n");
	assert_load_error(&l, "dependency cycle: a -> b -> c -> a");
	loaded_release(&l);
	load1(&l, "services:\n  self:\n    image: x\n    depends_on: [self]\n");
	assert_load_error(&l, BASE ":2: services.self.depends_on: dependency cycle: self -> self");
	loaded_release(&l);
}

static void test_compose_errors__bad_depends_on_condition(void **state)
{
	struct loaded l;

	load1(&l, "services:\n  a:\n    image: x\n    depends_on:\n      b:\n"
		  "        condition: service_ready\n  b:\n    image: x\n");
	assert_load_error(&l, BASE ":6: services.a.depends_on.b.condition: expected "
				   "service_started, service_healthy or "
				   "service_completed_successfully");
	loaded_release(&l);
}

static void test_compose_errors__undeclared_network_and_volume(void **state)
{
	struct loaded l;

	load1(&l, "services:\n  s:\n    image: x\n    networks:\n      - front\n");
	assert_load_error(&l, BASE ":5: services.s.networks.front: refers to undefined network "
				   "\"front\"");
	loaded_release(&l);
	load1(&l, "services:\n  s:\n    image: x\n    volumes:\n      - data:/data\n");
	assert_load_error(&l,
			  BASE ":5: services.s.volumes[0]: refers to undefined volume \"data\"");
	loaded_release(&l);
}

static void test_compose_errors__bad_ports(void **state)
{
	struct loaded l;

	load1(&l, "services:\n  s:\n    image: x\n    ports:\n      - \"8000-8001:9000-9005\"\n");
	assert_load_error(&l, BASE ":5: services.s.ports[0]: host ports 8000-8001 and container "
				   "ports 9000-9005 are ranges of different sizes");
	loaded_release(&l);
	load1(&l, "services:\n  s:\n    image: x\n    ports:\n      - \"70000:80\"\n");
	assert_load_error(&l, "invalid host port \"70000\"");
	loaded_release(&l);
	load1(&l, "services:\n  s:\n    image: x\n    ports:\n      - \"80/quic\"\n");
	assert_load_error(&l, "invalid protocol \"quic\"");
	loaded_release(&l);
	load1(&l, "services:\n  s:\n    image: x\n    ports:\n      - published: 80\n");
	assert_load_error(&l, BASE ":5: services.s.ports[0]: target is required");
	loaded_release(&l);
}

static void test_compose_errors__bad_volumes(void **state)
{
	struct loaded l;

	load1(&l, "services:\n  s:\n    image: x\n    volumes:\n      - ./a:relative\n");
	assert_load_error(&l, "the container path \"relative\" must be absolute");
	loaded_release(&l);
	load1(&l, "services:\n  s:\n    image: x\n    volumes:\n      - ./a:/a:rx\n");
	assert_load_error(&l, "unknown volume option \"rx\"");
	loaded_release(&l);
	/* files merge on target; within one file the same target twice is an error */
	load1(&l,
	      "services:\n  s:\n    image: x\n    volumes:\n      - ./a:/a\n      - ./b:/a:ro\n");
	assert_load_error(&l, "/a is mounted twice");
	loaded_release(&l);
	load1(&l, "services:\n  s:\n    image: x\n    volumes:\n      - type: npipe\n"
		  "        source: x\n        target: /x\n");
	assert_load_error(&l, "unsupported volume type \"npipe\"");
	loaded_release(&l);
}

static void test_compose_errors__bad_durations_and_restart(void **state)
{
	struct loaded l;

	load1(&l, "services:\n  s:\n    image: x\n    stop_grace_period: 10\n");
	assert_load_error(&l, BASE ":4: services.s.stop_grace_period: expected a duration like "
				   "1m30s, 10s or 500ms, got \"10\"");
	loaded_release(&l);
	load1(&l, "services:\n  s:\n    image: x\n    healthcheck:\n      interval: 5 s\n");
	assert_load_error(&l, "services.s.healthcheck.interval: expected a duration");
	loaded_release(&l);
	load1(&l, "services:\n  s:\n    image: x\n    restart: sometimes\n");
	assert_load_error(&l, BASE ":4: services.s.restart: expected no, always, "
				   "on-failure[:max-retries] or unless-stopped");
	loaded_release(&l);
	load1(&l, "services:\n  s:\n    image: x\n    healthcheck:\n      test: [curl, x]\n");
	assert_load_error(&l, "must start with \"CMD\", \"CMD-SHELL\" or \"NONE\"");
	loaded_release(&l);
}

static void test_compose_errors__invalid_names(void **state)
{
	const char *names[] = {"docker-compose.yml"};
	const char *texts[] = {"name: Echo Base\nservices: {}\n"};
	struct loaded l;

	load_files_opts(&l, 1, names, texts, "");
	assert_load_error(&l, BASE ":1: name: project name \"Echo Base\" must be lowercase");
	loaded_release(&l);
	load_files_opts(&l, 1, names, texts, "-bad");
	assert_load_error(&l, "the project name \"-bad\" must be lowercase");
	loaded_release(&l);
	load1(&l, "services:\n  \"my service\":\n    image: x\n");
	assert_load_error(&l, BASE ":2: services.my service: invalid service name");
	loaded_release(&l);
	load1(&l, "services:\n  s:\n    image: x\n    container_name: /slash\n");
	assert_load_error(&l,
			  "invalid container name \"/slash\": Docker names are "
			  "[a-zA-Z0-9][a-zA-Z0-9_.-]+ (at most 255 characters); use such a name");
	loaded_release(&l);
	{
		char y[600];

		snprintf(y, sizeof(y),
			 "services:\n  s:\n    image: x\n    container_name: %0256d\n", 0);
		load1(&l, y);
		assert_load_error(&l,
				  BASE ":4: services.s.container_name: invalid container name "
				       "\"00000000000000000000000000000000000000000000000000000000"
				       "000000000000000000000000...\": Docker names are");
		loaded_release(&l);
		snprintf(y, sizeof(y),
			 "services:\n  s:\n    image: x\n    container_name: %0255d\n", 0);
		load1(&l, y);
		assert_loaded(&l);
		loaded_release(&l);
	}
	load1(&l, "services:\n  a:\n    image: x\n    container_name: same\n"
		  "  b:\n    image: x\n    container_name: same\n");
	assert_load_error(&l, "have the same container name same");
	loaded_release(&l);
}

/* volume and network names reach Engine API paths: Docker's own name rule */
static void test_compose_errors__volume_and_network_names_follow_dockers_rule(void **state)
{
	struct buf y = BUF_INIT;
	struct loaded l;
	int i;

	load1(&l, "services:\n  s:\n    image: x\n    volumes: [v:/data]\n"
		  "volumes:\n  v:\n    name: ../containers/x\n");
	assert_load_error(&l, BASE ":7: volumes.v.name: invalid volume name \"../containers/x\": "
				   "Docker names are [a-zA-Z0-9][a-zA-Z0-9_.-]* (at most 255 "
				   "characters); use such a name");
	loaded_release(&l);
	load1(&l, "services:\n  s:\n    image: x\nnetworks:\n  n:\n    name: ../networks/y\n");
	assert_load_error(&l, BASE ":6: networks.n.name: invalid network name \"../networks/y\"");
	loaded_release(&l);
	/* the old external form, and a name taken from the key */
	load1(&l, "services:\n  s:\n    image: x\nnetworks:\n  n:\n    external:\n"
		  "      name: a/b\n");
	assert_load_error(&l, BASE ":7: networks.n.external.name: invalid network name \"a/b\"");
	loaded_release(&l);
	load1(&l, "services:\n  s:\n    image: x\nvolumes:\n  \"..\":\n    external: true\n");
	assert_load_error(&l, BASE ":5: volumes...: invalid volume name \"..\"");
	loaded_release(&l);
	load1(&l, "services:\n  s:\n    image: x\nvolumes:\n  v:\n    name: \".hidden\"\n");
	assert_load_error(&l, "invalid volume name \".hidden\"");
	loaded_release(&l);
	load1(&l, "services:\n  s:\n    image: x\nvolumes:\n  v:\n    name: \"a b\"\n");
	assert_load_error(&l, "invalid volume name \"a b\"");
	loaded_release(&l);
	load1(&l, "services:\n  s:\n    image: x\nvolumes:\n  v:\n    name: \"x%2f..\"\n");
	assert_load_error(&l, "invalid volume name \"x%2f..\"");
	loaded_release(&l);
	/* bounded: 255 characters pass, 256 do not */
	buf_puts(&y, "services:\n  s:\n    image: x\nvolumes:\n  v:\n    name: ");
	for (i = 0; i < 255; i++)
		buf_putc(&y, 'a');
	buf_puts(&y, "\n");
	load1(&l, buf_str(&y));
	assert_loaded(&l);
	loaded_release(&l);
	buf_reset(&y);
	buf_puts(&y, "services:\n  s:\n    image: x\nvolumes:\n  v:\n    name: ");
	for (i = 0; i < 256; i++)
		buf_putc(&y, 'a');
	buf_puts(&y, "\n");
	load1(&l, buf_str(&y));
	assert_load_error(&l, "...\": Docker names are");
	loaded_release(&l);
	buf_release(&y);
	/* what Compose users write still loads */
	load1(&l, "services:\n  s:\n    image: x\nvolumes:\n  v:\n    name: my_app.data-1\n"
		  "  w: {}\n  ext:\n    external: true\nnetworks:\n  n:\n    name: Front.Net_2\n");
	assert_loaded(&l);
	loaded_release(&l);
}

static void test_compose_errors__missing_image(void **state)
{
	struct loaded l;

	load1(&l, "services:\n  s:\n    command: [true]\n");
	assert_load_error(&l, BASE ":2: services.s: no image");
	loaded_release(&l);
}

static void test_compose_errors__aliases(void **state)
{
	struct loaded l;

	load1(&l, "services:\n  s:\n    image: *nowhere\n");
	assert_load_error(&l, BASE ":3: alias *nowhere: no such anchor");
	loaded_release(&l);
	load1(&l, "x-a: &a\n  b: *a\nservices: {}\n");
	assert_load_error(&l, "alias *a refers to a node that contains it");
	loaded_release(&l);
	load1(&l, "x-a: &a\n  <<: *a\nservices: {}\n");
	assert_load_error(&l, "alias *a refers to a node that contains it");
	loaded_release(&l);
	load1(&l, "x-s: &s just-text\nservices:\n  s:\n    <<: *s\n");
	assert_load_error(&l, BASE ":4: << (merge key): expected a mapping or a list of mappings");
	loaded_release(&l);
}

/* "billion laughs": aliases that expand exponentially stop at a node budget */
static void test_compose_errors__alias_expansion_is_bounded(void **state)
{
	struct buf y = BUF_INIT;
	struct loaded l;
	int i;

	buf_puts(&y, "x-0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
	for (i = 1; i < 10; i++)
		buf_printf(&y,
			   "x-%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i,
			   i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
	buf_puts(&y, "services:\n  s:\n    image: x\n    command: *a9\n");
	load1(&l, buf_str(&y));
	assert_load_error(&l, "nodes once aliases are expanded");
	loaded_release(&l);
	buf_release(&y);
}

static void test_compose_errors__several_documents(void **state)
{
	struct loaded l;

	load1(&l, "services: {}\n---\nservices: {}\n");
	assert_load_error(&l, BASE ":3: more than one YAML document");
	loaded_release(&l);
}

static void test_compose_errors__missing_file_is_io_error(void **state)
{
	const char *files[] = {"/nonexistent/compose-test/docker-compose.yml"};
	struct compose_load_opts opts = {.files = files, .nfiles = 1, .project_name = "t"};
	struct compose_project *p = (void *)1;
	struct error err = ERROR_INIT;

	assert_int_equal(compose_load(&opts, &p, NULL, &err), -1);
	assert_null(p);
	assert_int_equal(err.cls, ERR_IO);
	assert_non_null(strstr(err.msg, "/nonexistent/compose-test/docker-compose.yml"));
	opts.nfiles = 0;
	assert_int_equal(compose_load(&opts, &p, NULL, &err), -1);
	assert_int_equal(err.cls, ERR_COMPOSE);
}

static void test_compose_errors__env_file_problems(void **state)
{
	_cleanup_free_ char *dir = make_tmpdir();
	_cleanup_free_ char *bad = write_file(dir, "bad.env", "OK=1\n\nnot a line\n");
	_cleanup_free_ char *unterminated = write_file(dir, "q.env", "A=\"open\nB=2\n");
	_cleanup_free_ char *f =
		write_file(dir, "docker-compose.yml",
			   "services:\n  s:\n    image: x\n    env_file: missing.env\n");
	_cleanup_free_ char *g = write_file(
		dir, "g.yml", "services:\n  s:\n    image: x\n    env_file: [bad.env]\n");
	_cleanup_free_ char *h =
		write_file(dir, "h.yml", "services:\n  s:\n    image: x\n    env_file: [q.env]\n");
	const char *files[1];
	struct compose_load_opts opts = {.files = files, .nfiles = 1, .project_name = "t"};
	struct compose_project *p = NULL;
	struct error err = ERROR_INIT;

	assert_non_null(bad);
	assert_non_null(unterminated);
	files[0] = f;
	/* the stack file names it: the author's problem, like any other in the file */
	assert_int_equal(compose_load(&opts, &p, NULL, &err), -1);
	assert_int_equal(err.cls, ERR_COMPOSE);
	assert_non_null(strstr(err.msg, "docker-compose.yml:4: services.s.env_file[0]: open "));
	assert_non_null(strstr(err.msg, "missing.env: No such file"));

	files[0] = g;
	assert_int_equal(compose_load(&opts, &p, NULL, &err), -1);
	assert_int_equal(err.cls, ERR_COMPOSE);
	assert_non_null(strstr(err.msg, "bad.env:3: env_file: expected KEY=value"));

	files[0] = h;
	assert_int_equal(compose_load(&opts, &p, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "q.env:1: env_file: unterminated quoted value"));
	fs_remove_tree(dir, &err);
}

/* With a root, every file the reader opens is opened beneath it: a link that
 * stays inside is followed, one that leads out is refused (ERR_POLICY). */
static void test_compose_errors__files_are_read_beneath_the_root(void **state)
{
	_cleanup_free_ char *top = make_tmpdir();
	_cleanup_free_ char *secret = write_file(top, "secret.env", "LEAK=host-secret\n");
	char repo[1024], path[1200];
	_cleanup_free_ char *app_env = NULL, *in = NULL, *envout = NULL, *target = NULL;
	const char *files[1];
	struct compose_load_opts opts = {.files = files, .nfiles = 1, .project_name = "t"};
	struct compose_project *p = NULL;
	struct error err = ERROR_INIT;

	assert_non_null(secret);
	snprintf(repo, sizeof(repo), "%s/repo", top);
	assert_int_equal(mkdir(repo, 0755), 0);
	app_env = write_file(repo, "app.env", "MODE=prod\n");
	in = write_file(repo, "real.yml",
			"services:\n  s:\n    image: x\n    env_file: [env-link]\n");
	envout = write_file(repo, "envout.yml",
			    "services:\n  s:\n    image: x\n    env_file: [leak.env]\n");
	assert_non_null(app_env);
	assert_non_null(in);
	assert_non_null(envout);
	snprintf(path, sizeof(path), "%s/env-link", repo);
	assert_int_equal(symlink("app.env", path), 0);
	snprintf(path, sizeof(path), "%s/docker-compose.yml", repo);
	assert_int_equal(symlink("real.yml", path), 0);
	snprintf(path, sizeof(path), "%s/leak.env", repo);
	assert_int_equal(symlink(secret, path), 0);
	snprintf(path, sizeof(path), "%s/out.yml", repo);
	assert_int_equal(symlink("../secret.env", path), 0);
	opts.root = repo;
	opts.project_dir = repo;

	/* links inside the repository: the stack file and its env_file */
	snprintf(path, sizeof(path), "%s/docker-compose.yml", repo);
	files[0] = path;
	assert_int_equal(compose_load(&opts, &p, NULL, &err), 0);
	assert_string_equal(p->services[0].environment[0].key, "MODE");
	compose_project_free(p);
	p = NULL;

	/* an env_file that leads out */
	files[0] = envout;
	assert_int_equal(compose_load(&opts, &p, NULL, &err), -1);
	assert_int_equal(err.cls, ERR_POLICY);
	assert_non_null(
		strstr(err.msg, "envout.yml:4: services.s.env_file[0]: leak.env " FS_LINK_OUT_MSG));
	assert_null(strstr(err.msg, "host-secret"));

	/* a stack file that leads out */
	snprintf(path, sizeof(path), "%s/out.yml", repo);
	files[0] = path;
	assert_int_equal(compose_load(&opts, &p, NULL, &err), -1);
	assert_int_equal(err.cls, ERR_POLICY);
	assert_string_equal(err.msg, "out.yml " FS_LINK_OUT_MSG);

	/* a stack file outside the root, named directly */
	files[0] = secret;
	assert_int_equal(compose_load(&opts, &p, NULL, &err), -1);
	assert_int_equal(err.cls, ERR_POLICY);
	assert_non_null(strstr(err.msg, "is outside the repository"));
	fs_remove_tree(top, &err);
}

static void test_compose_errors__nul_byte_and_deep_nesting(void **state)
{
	struct buf y = BUF_INIT;
	struct loaded l;
	int i;

	load1(&l, "services:\n  s:\n    image: \"a\\0b\"\n");
	assert_load_error(&l, BASE ":3: a string contains a NUL character");
	loaded_release(&l);

	buf_puts(&y, "services:\n  s:\n    image: x\n    labels:\n      a: ");
	for (i = 0; i < 200; i++)
		buf_putc(&y, '[');
	for (i = 0; i < 200; i++)
		buf_putc(&y, ']');
	buf_putc(&y, '\n');
	load1(&l, buf_str(&y));
	assert_int_equal(l.ret, -1);
	assert_int_equal(l.err.cls, ERR_COMPOSE);
	assert_non_null(strstr(l.err.msg, BASE ":"));
	loaded_release(&l);
	buf_release(&y);
}

/* libfyaml 0.7.12 loops forever on invalid UTF-8 in a directive: refused before parsing */
static void test_compose_errors__invalid_utf8_is_rejected_before_parsing(void **state)
{
	struct loaded l;

	load1(&l, "services: {}\n%\xd3\xd2\n");
	assert_load_error(&l, BASE ":2: invalid UTF-8");
	loaded_release(&l);
	load1(&l, "services:\n  s:\n    image: caf\xc3\xa9\n    user: \xed\xa0\x80\n");
	assert_load_error(&l, BASE ":4: invalid UTF-8");
	loaded_release(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compose_errors__syntax_error_names_file_and_line),
		cmocka_unit_test(test_compose_errors__duplicate_key),
		cmocka_unit_test(test_compose_errors__network_mode),
		cmocka_unit_test(test_compose_errors__wrong_type_names_the_key_path),
		cmocka_unit_test(test_compose_errors__wrong_types_of_attributes),
		cmocka_unit_test(test_compose_errors__bad_interpolation_names_file_line_and_path),
		cmocka_unit_test(test_compose_errors__missing_required_variable),
		cmocka_unit_test(test_compose_errors__unknown_depends_on_service),
		cmocka_unit_test(test_compose_errors__dependency_cycle),
		cmocka_unit_test(test_compose_errors__bad_depends_on_condition),
		cmocka_unit_test(test_compose_errors__undeclared_network_and_volume),
		cmocka_unit_test(test_compose_errors__bad_ports),
		cmocka_unit_test(test_compose_errors__bad_volumes),
		cmocka_unit_test(test_compose_errors__bad_durations_and_restart),
		cmocka_unit_test(test_compose_errors__invalid_names),
		cmocka_unit_test(test_compose_errors__volume_and_network_names_follow_dockers_rule),
		cmocka_unit_test(test_compose_errors__missing_image),
		cmocka_unit_test(test_compose_errors__aliases),
		cmocka_unit_test(test_compose_errors__alias_expansion_is_bounded),
		cmocka_unit_test(test_compose_errors__several_documents),
		cmocka_unit_test(test_compose_errors__missing_file_is_io_error),
		cmocka_unit_test(test_compose_errors__env_file_problems),
		cmocka_unit_test(test_compose_errors__files_are_read_beneath_the_root),
		cmocka_unit_test(test_compose_errors__nul_byte_and_deep_nesting),
		cmocka_unit_test(test_compose_errors__invalid_utf8_is_rejected_before_parsing),
	};

	return cmocka_run_group_tests_name("compose_errors", tests, NULL, NULL);
}
