/* SPDX-License-Identifier: MIT */
/*
 * The byte budget of the expanded document (COMPOSE_EXPANDED_MAX): a small
 * file whose aliases, variables or env files multiply a large value is
 * refused with one ERR_COMPOSE line before it takes much memory, and
 * ordinary files with aliases still load.
 *
 * The "billion laughs" test runs first in its own process, so the peak
 * resident size measured around it is its own.
 */
#include "tests/unit/compose_test.h"

#include <sys/resource.h>

#include "common/buf.h"
#include "common/cleanup.h"

#define BASE VDIR "/docker-compose.yml"

/* Peak resident size of the process so far, in bytes. */
static size_t peak_rss(void)
{
	struct rusage ru;

	assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
	return (size_t)ru.ru_maxrss * 1024u;
}

/*
 * 1 MB of text: one 512 KiB scalar and 1,000 aliases to it (~512 MB once
 * expanded).  The budget stops it at 32 MiB: the process's peak grows by far
 * less than the expansion would take (the bound leaves room for the
 * sanitizers' redzones and quarantine).
 */
static void test_compose_budget__aliases_to_a_large_scalar_are_refused_early(void **state)
{
	struct buf y = BUF_INIT;
	struct loaded l;
	size_t before, grew, i;

	buf_puts(&y, "x-big: &big \"");
	for (i = 0; i < 512u * 1024u; i++)
		buf_putc(&y, 'a');
	buf_puts(&y, "\"\nx-laughs: [*big");
	for (i = 1; i < 1000; i++)
		buf_puts(&y, ", *big");
	buf_puts(&y, "]\nservices:\n  s:\n    image: x\n");
	assert_true(y.len < 1024u * 1024u + 8192u);

	before = peak_rss();
	load1(&l, buf_str(&y));
	grew = peak_rss() - before;
	assert_load_error(&l,
			  BASE ":2: the stack grows past 32 MiB once aliases are expanded "
			       "(each alias is a full copy of its anchor); use aliases of large "
			       "values fewer times");
	print_message("peak resident size grew by %zu MiB\n", grew >> 20);
	assert_true(grew < 192u * 1024u * 1024u);
	loaded_release(&l);
	buf_release(&y);
}

/* The same through << merge keys: each merge copies the anchor's mapping. */
static void test_compose_budget__merge_keys_count_too(void **state)
{
	struct buf y = BUF_INIT;
	struct loaded l;
	size_t i;

	buf_puts(&y, "x-env: &env\n  environment:\n    BIG: \"");
	for (i = 0; i < 1024u * 1024u; i++)
		buf_putc(&y, 'b');
	buf_puts(&y, "\"\nservices:\n");
	for (i = 0; i < 40; i++)
		buf_printf(&y, "  s%zu:\n    <<: *env\n    image: x\n", i);
	load1(&l, buf_str(&y));
	assert_load_error(&l, "the stack grows past 32 MiB once aliases are expanded");
	loaded_release(&l);
	buf_release(&y);
}

/* A variable is substituted in every copy of the alias that carries it. */
static void test_compose_budget__variables_substituted_count_too(void **state)
{
	static const char *vars[3];
	_cleanup_free_ char *big = malloc(1024u * 1024u + 1);
	struct buf y = BUF_INIT;
	struct loaded l;
	size_t i;

	assert_non_null(big);
	memset(big, 'v', 1024u * 1024u);
	big[1024u * 1024u] = '\0';
	vars[0] = "BIG";
	vars[1] = big;
	vars[2] = NULL;
	test_vars = vars;
	buf_puts(&y, "x-v: &v \"${BIG}\"\nx-many: [*v");
	for (i = 1; i < 64; i++)
		buf_puts(&y, ", *v");
	buf_puts(&y, "]\nservices:\n  s:\n    image: x\n    command: [*v]\n");
	load1(&l, buf_str(&y));
	/* x- extensions are never interpolated: the command's copy alone fits */
	assert_loaded(&l);
	loaded_release(&l);

	buf_reset(&y);
	buf_puts(&y, "x-v: &v \"${BIG}\"\nservices:\n  s:\n    image: x\n    command: [*v");
	for (i = 1; i < 64; i++)
		buf_puts(&y, ", *v");
	buf_puts(&y, "]\n");
	load1(&l, buf_str(&y));
	assert_load_error(&l, "services.s.command[");
	assert_load_error(&l, "the stack grows past 32 MiB once variables are substituted; use "
			      "large variables fewer times");
	loaded_release(&l);
	test_vars = NULL;
	buf_release(&y);
}

/* Every service that reads an env file holds its own copy of its values. */
static void test_compose_budget__env_files_read_by_many_services_count_too(void **state)
{
	_cleanup_free_ char *dir = make_tmpdir();
	_cleanup_free_ char *envf = NULL, *stack = NULL;
	struct buf text = BUF_INIT;
	const char *files[1];
	struct compose_load_opts opts = {.files = files, .nfiles = 1, .project_name = "t"};
	struct compose_project *p = NULL;
	struct error err = ERROR_INIT;
	size_t i;

	buf_puts(&text, "BIG=");
	for (i = 0; i < 1000u * 1000u; i++)
		buf_putc(&text, 'e');
	buf_puts(&text, "\n");
	envf = write_file(dir, "big.env", buf_str(&text));
	buf_reset(&text);
	buf_puts(&text, "services:\n");
	for (i = 0; i < 40; i++)
		buf_printf(&text, "  s%zu:\n    image: x\n    env_file: big.env\n", i);
	stack = write_file(dir, "docker-compose.yml", buf_str(&text));
	files[0] = stack;
	assert_int_equal(compose_load(&opts, &p, NULL, &err), -1);
	assert_null(p);
	assert_int_equal(err.cls, ERR_COMPOSE);
	assert_non_null(strstr(err.msg, "big.env: env_file: the stack grows past 32 MiB with its "
					"env files read (each service holds its own copy); use "
					"large env files in fewer services"));

	/* a few services sharing it are fine */
	buf_reset(&text);
	buf_puts(&text, "services:\n");
	for (i = 0; i < 4; i++)
		buf_printf(&text, "  s%zu:\n    image: x\n    env_file: big.env\n", i);
	free(stack);
	stack = write_file(dir, "docker-compose.yml", buf_str(&text));
	files[0] = stack;
	error_clear(&err);
	assert_int_equal(compose_load(&opts, &p, NULL, &err), 0);
	assert_int_equal(p->nservices, 4);
	compose_project_free(p);
	buf_release(&text);
	fs_remove_tree(dir, &err);
}

/* What real files do with anchors: shared blocks merged into several services. */
static void test_compose_budget__ordinary_files_with_aliases_still_load(void **state)
{
	struct buf y = BUF_INIT;
	struct loaded l;
	size_t i;

	load1(&l, "x-common: &common\n"
		  "  restart: unless-stopped\n"
		  "  environment: &env\n"
		  "    LOG_LEVEL: info\n"
		  "    REGION: eu\n"
		  "  labels: [\"team=core\"]\n"
		  "services:\n"
		  "  api:\n"
		  "    <<: *common\n"
		  "    image: api:1\n"
		  "  worker:\n"
		  "    <<: *common\n"
		  "    image: worker:1\n"
		  "    environment: *env\n");
	assert_loaded(&l);
	assert_string_equal(env(svc(&l, "worker"), "REGION"), "eu");
	assert_string_equal(env(svc(&l, "api"), "LOG_LEVEL"), "info");
	loaded_release(&l);

	/* a 256 KiB value used by 20 services: 5 MiB expanded, under the budget */
	buf_puts(&y, "x-cert: &cert \"");
	for (i = 0; i < 256u * 1024u; i++)
		buf_putc(&y, 'c');
	buf_puts(&y, "\"\nservices:\n");
	for (i = 0; i < 20; i++)
		buf_printf(&y, "  s%zu:\n    image: x\n    environment:\n      CERT: *cert\n", i);
	load1(&l, buf_str(&y));
	assert_loaded(&l);
	assert_int_equal(strlen(env(svc(&l, "s19"), "CERT")), 256u * 1024u);
	loaded_release(&l);
	buf_release(&y);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compose_budget__aliases_to_a_large_scalar_are_refused_early),
		cmocka_unit_test(test_compose_budget__merge_keys_count_too),
		cmocka_unit_test(test_compose_budget__variables_substituted_count_too),
		cmocka_unit_test(test_compose_budget__env_files_read_by_many_services_count_too),
		cmocka_unit_test(test_compose_budget__ordinary_files_with_aliases_still_load),
	};

	return cmocka_run_group_tests_name("compose_budget", tests, NULL, NULL);
}
