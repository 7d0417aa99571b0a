/* SPDX-License-Identifier: MIT */
/*
 * Helpers for the compose/ unit tests: stack files given inline (in memory,
 * under a virtual project directory) or written to a temporary directory,
 * and a table of variables.
 */
#ifndef TESTS_UNIT_COMPOSE_TEST_H
#define TESTS_UNIT_COMPOSE_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/error.h"
#include "common/fs.h"
#include "compose/compose.h"

#define UNUSED_HELPER __attribute__((unused))

/* Variables: NULL-terminated pairs {"NAME", "value", ...}. */
static const char *const *test_vars;

static UNUSED_HELPER const char *test_lookup(const char *name, void *payload)
{
	const char *const *kv = payload ? payload : test_vars;

	for (; kv && kv[0]; kv += 2)
		if (!strcmp(kv[0], name))
			return kv[1];
	return NULL;
}

struct loaded {
	struct compose_project *p;
	struct compose_diags diags;
	struct error err;
	int ret;
};

#define VDIR "/virtual/app"

/*
 * Load in-memory stack files named VDIR/<names[i]>; project name "test"
 * unless project is given (NULL for "test", "" for none).
 */
static UNUSED_HELPER void load_files_opts(struct loaded *l, size_t n, const char *const *names,
					  const char *const *texts, const char *project)
{
	char *paths[8];
	struct compose_load_opts opts = {0};
	size_t i;

	assert_true(n <= 8);
	for (i = 0; i < n; i++)
		assert_true(asprintf(&paths[i], "%s/%s", VDIR, names[i]) > 0);
	opts.files = (const char *const *)paths;
	opts.nfiles = n;
	opts.contents = texts;
	opts.project_name = project ? (*project ? project : NULL) : "test";
	opts.lookup = test_lookup;
	l->diags = (struct compose_diags)COMPOSE_DIAGS_INIT;
	error_clear(&l->err);
	l->p = NULL;
	l->ret = compose_load(&opts, &l->p, &l->diags, &l->err);
	for (i = 0; i < n; i++)
		free(paths[i]);
}

static UNUSED_HELPER void load_files(struct loaded *l, size_t n, const char *const *names,
				     const char *const *texts)
{
	load_files_opts(l, n, names, texts, NULL);
}

/* One or two files, docker-compose.yml and docker-compose.override.yml. */
static UNUSED_HELPER void load1(struct loaded *l, const char *yaml)
{
	const char *names[] = {"docker-compose.yml"};
	const char *texts[] = {yaml};

	load_files(l, 1, names, texts);
}

static UNUSED_HELPER void load2(struct loaded *l, const char *base, const char *over)
{
	const char *names[] = {"docker-compose.yml", "docker-compose.override.yml"};
	const char *texts[] = {base, over};

	load_files(l, 2, names, texts);
}

static UNUSED_HELPER void loaded_release(struct loaded *l)
{
	compose_project_free(l->p);
	l->p = NULL;
	compose_diags_release(&l->diags);
}

/* Assert the load succeeded, printing the error when it did not. */
#define assert_loaded(l)                                                                           \
	do {                                                                                       \
		if ((l)->ret != 0)                                                                 \
			print_error("unexpected load error: %s\n", (l)->err.msg);                  \
		assert_int_equal((l)->ret, 0);                                                     \
		assert_non_null((l)->p);                                                           \
	} while (0)

/* Assert the load failed with ERR_COMPOSE and a message containing `text`. */
#define assert_load_error(l, text)                                                                 \
	do {                                                                                       \
		assert_int_equal((l)->ret, -1);                                                    \
		assert_null((l)->p);                                                               \
		if (!strstr((l)->err.msg, (text)))                                                 \
			print_error("error \"%s\" lacks \"%s\"\n", (l)->err.msg, (text));          \
		assert_non_null(strstr((l)->err.msg, (text)));                                     \
		assert_int_equal((l)->err.cls, ERR_COMPOSE);                                       \
	} while (0)

static UNUSED_HELPER const struct compose_service *svc(const struct loaded *l, const char *name)
{
	const struct compose_service *s = compose_project_service(l->p, name);

	if (!s)
		print_error("no service %s\n", name);
	assert_non_null(s);
	return s;
}

/* The value of an environment variable or label; "<unset>" for NULL, NULL when absent. */
static UNUSED_HELPER const char *kv_get(const struct compose_kv *kv, size_t n, const char *key)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(kv[i].key, key))
			return kv[i].value ? kv[i].value : "<unset>";
	return NULL;
}

static UNUSED_HELPER const char *env(const struct compose_service *s, const char *key)
{
	return kv_get(s->environment, s->nenvironment, key);
}

/* Does a diagnostic contain text (and, when line > 0, sit at that line)? */
static UNUSED_HELPER int has_diag(const struct loaded *l, const char *file_suffix, int line,
				  const char *text)
{
	size_t i;

	for (i = 0; i < l->diags.n; i++) {
		const struct compose_diag *d = &l->diags.items[i];
		size_t fl = strlen(d->file), sl = strlen(file_suffix);

		if (strstr(d->message, text) && (line <= 0 || d->line == line) && fl >= sl &&
		    !strcmp(d->file + fl - sl, file_suffix))
			return 1;
	}
	return 0;
}

static UNUSED_HELPER void dump_diags(const struct loaded *l)
{
	size_t i;

	for (i = 0; i < l->diags.n; i++)
		print_message("diag %s:%d: %s\n", l->diags.items[i].file, l->diags.items[i].line,
			      l->diags.items[i].message);
}

/* A fresh temporary directory (caller removes it with fs_remove_tree). */
static UNUSED_HELPER char *make_tmpdir(void)
{
	char tmpl[] = "/tmp/compose-test-XXXXXX";
	char *d = mkdtemp(tmpl);

	assert_non_null(d);
	return strdup(d);
}

static UNUSED_HELPER char *write_file(const char *dir, const char *name, const char *text)
{
	struct error err = ERROR_INIT;
	char *path;

	assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
	assert_int_equal(fs_write_atomic(path, text, strlen(text), 0644, &err), 0);
	return path;
}

#endif
