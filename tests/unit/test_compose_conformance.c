/* SPDX-License-Identifier: MIT */
/*
 * The Compose conformance corpus (tests/compose-conformance/cases/NNN-name.case):
 * each case is its input files, its variables, its arguments and the
 * expected resolved model, written by hand from the Compose specification.
 * Each case is written to a fresh directory <tmp>/app and loaded the way
 * `executor compose config` loads it; the result (compose_project_config_json)
 * must contain the expected JSON, or the load must fail with the expected
 * error.  The format is in tests/compose-conformance/README.md.
 */
#include <dirent.h>
#include <json-c/json.h>
#include <limits.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "compose_test.h"

#ifndef CORPUS_DIR
#define CORPUS_DIR "tests/compose-conformance/cases"
#endif

#define MAX_FILES 8
#define MAX_ARGS  16

struct ccase {
	char *name;
	char *files[MAX_FILES]; /* names */
	char *texts[MAX_FILES];
	size_t nfiles;
	char *vars; /* KEY=value lines */
	char *args; /* -f a -f b --profile p --project-name n --no-dotenv --file-name-wins */
	char *expect;
	char *error;
	char *warn;
};

static void ccase_free(struct ccase *c)
{
	size_t i;

	for (i = 0; i < c->nfiles; i++) {
		free(c->files[i]);
		free(c->texts[i]);
	}
	free(c->name);
	free(c->vars);
	free(c->args);
	free(c->expect);
	free(c->error);
	free(c->warn);
	memset(c, 0, sizeof(*c));
}

/* Sections start with a line "--- <kind>[: name]". */
static int ccase_parse(const char *text, struct ccase *c)
{
	const char *p = text;
	char **dst = NULL;
	struct buf cur = BUF_INIT;

	buf_init(&cur, 0);
	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);

		if (len >= 4 && !strncmp(p, "--- ", 4)) {
			char head[256];

			snprintf(head, sizeof(head), "%.*s", (int)(len - 4), p + 4);
			if (dst) {
				*dst = buf_detach(&cur, NULL);
				buf_init(&cur, 0);
			}
			if (!strncmp(head, "file: ", 6)) {
				if (c->nfiles == MAX_FILES)
					return -1;
				c->files[c->nfiles] = strdup(head + 6);
				dst = &c->texts[c->nfiles++];
			} else if (!strcmp(head, "vars")) {
				dst = &c->vars;
			} else if (!strcmp(head, "args")) {
				dst = &c->args;
			} else if (!strcmp(head, "expect")) {
				dst = &c->expect;
			} else if (!strcmp(head, "error")) {
				dst = &c->error;
			} else if (!strcmp(head, "warn")) {
				dst = &c->warn;
			} else if (!strncmp(head, "compare", 7)) {
				dst = NULL; /* for the 1.29 comparison script only */
			} else {
				print_error("unknown section \"%s\"\n", head);
				return -1;
			}
		} else if (dst) {
			if (buf_append(&cur, p, len) < 0 || buf_putc(&cur, '\n') < 0)
				return -1;
		}
		p = eol ? eol + 1 : p + len;
	}
	if (dst)
		*dst = buf_detach(&cur, NULL);
	buf_release(&cur);
	return c->nfiles ? 0 : -1;
}

static void trim(char *s)
{
	size_t n = strlen(s);

	while (n && (s[n - 1] == '\n' || s[n - 1] == ' '))
		s[--n] = '\0';
}

/* Replace every $PROJECT with dir. */
static char *subst_project(const char *s, const char *dir)
{
	struct buf b = BUF_INIT;
	const char *hit;

	buf_init(&b, 0);
	while ((hit = strstr(s, "$PROJECT"))) {
		buf_append(&b, s, (size_t)(hit - s));
		buf_puts(&b, dir);
		s = hit + strlen("$PROJECT");
	}
	buf_puts(&b, s);
	return buf_detach(&b, NULL);
}

static const char *case_lookup(const char *name, void *payload)
{
	const char *vars = payload;
	size_t n = strlen(name);
	const char *p = vars;
	static char value[4096];

	while (p && *p) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);

		if (len > n && !strncmp(p, name, n) && p[n] == '=') {
			snprintf(value, sizeof(value), "%.*s", (int)(len - n - 1), p + n + 1);
			return value;
		}
		p = eol ? eol + 1 : NULL;
	}
	return NULL;
}

/*
 * want is contained in got: objects by key (got may have more keys only below the
 * top level of a service, see README), arrays element by element and of the same
 * length, scalars equal.  path names the first difference.
 */
static int contains(json_object *want, json_object *got, char *path, size_t size, int depth)
{
	size_t i, n, len = strlen(path);

	if (!want || !got)
		return want == got ? 0 : -1;
	if (json_object_get_type(want) != json_object_get_type(got)) {
		/* 2 and 2.0 are the same number */
		if ((json_object_is_type(want, json_type_int) ||
		     json_object_is_type(want, json_type_double)) &&
		    (json_object_is_type(got, json_type_int) ||
		     json_object_is_type(got, json_type_double)) &&
		    json_object_get_double(want) == json_object_get_double(got))
			return 0;
		return -1;
	}
	switch (json_object_get_type(want)) {
	case json_type_object: {
		json_object_object_foreach(want, key, val)
		{
			json_object *g = NULL;

			snprintf(path + len, size - len, ".%s", key);
			if (!json_object_object_get_ex(got, key, &g))
				return -1;
			if (contains(val, g, path, size, depth + 1) < 0)
				return -1;
		}
		path[len] = '\0';
		/* everything is compared whole, except the top level and the list of
		 * services (a case names the services it is about) */
		if (depth >= 1 && strcmp(path, ".services")) {
			json_object_object_foreach(got, gkey, gval)
			{
				(void)gval;
				if (!json_object_object_get_ex(want, gkey, NULL)) {
					snprintf(path + len, size - len, ".%s (unexpected)", gkey);
					return -1;
				}
			}
		}
		return 0;
	}
	case json_type_array:
		n = json_object_array_length(want);
		if (n != json_object_array_length(got)) {
			snprintf(path + len, size - len, " (length %zu, want %zu)",
				 json_object_array_length(got), n);
			return -1;
		}
		for (i = 0; i < n; i++) {
			snprintf(path + len, size - len, "[%zu]", i);
			if (contains(json_object_array_get_idx(want, i),
				     json_object_array_get_idx(got, i), path, size, depth + 1) < 0)
				return -1;
		}
		path[len] = '\0';
		return 0;
	case json_type_string:
		return strcmp(json_object_get_string(want), json_object_get_string(got)) ? -1 : 0;
	case json_type_boolean:
		return json_object_get_boolean(want) == json_object_get_boolean(got) ? 0 : -1;
	case json_type_double:
	case json_type_int:
		return json_object_get_double(want) == json_object_get_double(got) ? 0 : -1;
	default:
		return 0;
	}
}

static int run_case(const char *path, int *skipped)
{
	_cleanup_buf_ struct buf text = BUF_INIT;
	struct error err = ERROR_INIT;
	struct ccase c = {0};
	struct compose_load_opts opts = {0};
	struct compose_diags diags = COMPOSE_DIAGS_INIT;
	struct compose_project *p = NULL;
	char *tmp = make_tmpdir(), dir[PATH_MAX], cwd[PATH_MAX], *paths[MAX_FILES];
	const char *profiles[MAX_ARGS];
	_cleanup_free_ char *args = NULL;
	char *tok, *save = NULL;
	size_t i, nf = 0;
	int rc, ok = -1;

	*skipped = 0;
	buf_init(&text, 0);
	assert_int_equal(fs_read_file(path, &text, 1 << 20, &err), 0);
	if (ccase_parse(buf_str(&text), &c) < 0) {
		print_error("%s: cannot parse the case\n", path);
		goto out;
	}
	snprintf(dir, sizeof(dir), "%s/app", tmp);
	assert_int_equal(mkdir(dir, 0755), 0);
	for (i = 0; i < c.nfiles; i++) {
		char *slash = strrchr(c.files[i], '/');
		_cleanup_free_ char *sub = NULL, *full = NULL;

		if (slash) {
			assert_true(asprintf(&sub, "%s/%.*s", dir, (int)(slash - c.files[i]),
					     c.files[i]) > 0);
			assert_int_equal(fs_mkdir_p(sub, 0755, &err), 0);
		}
		full = write_file(dir, c.files[i], c.texts[i]);
	}
	opts.profiles = profiles;
	args = c.args ? strdup(c.args) : strdup("");
	for (tok = strtok_r(args, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
		if (!strcmp(tok, "-f"))
			tok = strtok_r(NULL, " \n", &save), paths[nf++] = tok;
		else if (!strcmp(tok, "--profile"))
			profiles[opts.nprofiles++] = strtok_r(NULL, " \n", &save);
		else if (!strcmp(tok, "--project-name"))
			opts.project_name = strtok_r(NULL, " \n", &save);
		else if (!strcmp(tok, "--no-dotenv"))
			opts.no_dotenv = true;
		else if (!strcmp(tok, "--file-name-wins"))
			opts.file_name_wins = true;
		else if (!strcmp(tok, "--root"))
			opts.root = ".";
	}
	if (!nf)
		paths[nf++] = c.files[0];
	opts.files = (const char *const *)paths;
	opts.nfiles = nf;
	opts.lookup = case_lookup;
	opts.payload = c.vars;
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(dir), 0);
	rc = compose_load(&opts, &p, &diags, &err);
	assert_int_equal(chdir(cwd), 0);
	if (c.error) {
		trim(c.error);
		if (rc == 0) {
			print_error("%s: loaded, expected the error \"%s\"\n", path, c.error);
			goto out;
		}
		if (!strstr(err.msg, c.error)) {
			print_error("%s: error \"%s\" lacks \"%s\"\n", path, err.msg, c.error);
			goto out;
		}
		ok = 0;
		goto out;
	}
	if (rc < 0) {
		print_error("%s: unexpected error: %s\n", path, err.msg);
		goto out;
	}
	if (c.warn) {
		trim(c.warn);
		for (i = 0; i < diags.n; i++)
			if (strstr(diags.items[i].message, c.warn))
				break;
		if (i == diags.n) {
			print_error("%s: no warning contains \"%s\"\n", path, c.warn);
			goto out;
		}
	}
	if (c.expect) {
		_cleanup_buf_ struct buf out = BUF_INIT;
		_cleanup_free_ char *want_text = subst_project(c.expect, dir);
		json_object *want = json_tokener_parse(want_text), *got;
		char where[1024] = "";

		if (!want) {
			print_error("%s: the expected JSON does not parse\n", path);
			goto out;
		}
		buf_init(&out, 0);
		assert_int_equal(compose_project_config_json(p, &out, &err), 0);
		got = json_tokener_parse(buf_str(&out));
		assert_non_null(got);
		if (contains(want, got, where, sizeof(where), 0) < 0) {
			print_error("%s: differs at %s\n--- got:\n%s\n", path, where,
				    buf_str(&out));
			json_object_put(want);
			json_object_put(got);
			goto out;
		}
		json_object_put(want);
		json_object_put(got);
	}
	ok = 0;
out:
	compose_project_free(p);
	compose_diags_release(&diags);
	ccase_free(&c);
	fs_remove_tree(tmp, &err);
	free(tmp);
	return ok;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_compose_conformance__corpus(void **state)
{
	DIR *d = opendir(CORPUS_DIR);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, i, failed = 0;
	int skipped;

	assert_non_null(d);
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);

		if (len < 6 || strcmp(e->d_name + len - 5, ".case"))
			continue;
		names = realloc(names, (n + 1) * sizeof(*names));
		assert_non_null(names);
		assert_true(asprintf(&names[n++], "%s/%s", CORPUS_DIR, e->d_name) > 0);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_name);
	for (i = 0; i < n; i++) {
		if (run_case(names[i], &skipped) < 0)
			failed++;
		free(names[i]);
	}
	free(names);
	print_message("compose conformance: %zu cases, %zu passed, %zu failed\n", n, n - failed,
		      failed);
	assert_true(n >= 150);
	assert_int_equal(failed, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compose_conformance__corpus),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
