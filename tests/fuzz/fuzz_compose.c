/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the whole reader: the input is written to stack files
 * in a private temporary directory and given to compose_load().  A line
 * "---8<---" splits it into a base file and an override file, so merging is
 * fuzzed too.  Every successful load is hashed and ordered as the deploy code
 * would; every failure must be a single ERR_COMPOSE or ERR_IO error.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/error.h"
#include "compose/compose.h"

#define SPLIT "\n---8<---\n"

static char dir[64];
static char *paths[2];

static const char *const vars[] = {
	"TAG", "1.2", "EMPTY", "", "DB_PASSWORD", "s3cret", "EXECUTOR_ENV", "ci", NULL,
};

static const char *lookup(const char *name, void *payload)
{
	const char *const *kv = payload;

	for (; kv[0]; kv += 2)
		if (!strcmp(kv[0], name))
			return kv[1];
	return NULL;
}

/* Plain write, no fsync: the fuzzer runs this thousands of times a second. */
static void put(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	if (!f || (len && fwrite(data, 1, len, f) != len) || fclose(f) != 0)
		abort();
}

static void setup(void)
{
	strcpy(dir, "/tmp/fuzz-compose-XXXXXX");
	if (!mkdtemp(dir))
		abort();
	if (asprintf(&paths[0], "%s/docker-compose.yml", dir) < 0 ||
	    asprintf(&paths[1], "%s/docker-compose.override.yml", dir) < 0)
		abort();
	/* an env_file the input may name */
	{
		static const char text[] = "A=1\nB=\"two ${TAG}\"\n# c\nexport C='x'\n";
		char *env;

		if (asprintf(&env, "%s/app.env", dir) < 0)
			abort();
		put(env, text, sizeof(text) - 1);
		free(env);
	}
}

static const char *const profiles[] = {"debug"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct compose_load_opts opts = {0};
	struct compose_diags diags = COMPOSE_DIAGS_INIT;
	struct compose_project *p = NULL;
	struct error err = ERROR_INIT;
	const char *split;
	size_t n1, i;
	int ret;

	if (!dir[0])
		setup();
	split = memmem(data, size, SPLIT, strlen(SPLIT));
	n1 = split ? (size_t)(split - (const char *)data) : size;
	put(paths[0], data, n1);
	if (split) {
		size_t off = n1 + strlen(SPLIT);

		put(paths[1], data + off, size - off);
	}
	opts.files = (const char *const *)paths;
	opts.nfiles = split ? 2 : 1;
	opts.project_name_default = "fuzz";
	opts.profiles = profiles;
	opts.nprofiles = 1;
	opts.lookup = lookup;
	opts.payload = (void *)vars;
	ret = compose_load(&opts, &p, &diags, &err);
	if (ret < 0) {
		if (p || (err.cls != ERR_COMPOSE && err.cls != ERR_IO) || !err.msg[0])
			abort();
	} else {
		size_t *order = calloc(p->nservices + 1, sizeof(*order));
		char hex[COMPOSE_HASH_HEX_LEN + 1];

		if (!order || compose_project_start_order(p, order, &err) < 0)
			abort();
		for (i = 0; i < p->nservices; i++)
			if (compose_service_hash(&p->services[i], hex, &err) < 0)
				abort();
		free(order);
		{
			struct buf out = BUF_INIT;

			buf_init(&out, 0);
			if (compose_project_config_json(p, &out, &err) < 0 ||
			    compose_project_config_yaml(p, &out, &err) < 0)
				abort();
			buf_release(&out);
		}
	}
	compose_project_free(p);
	compose_diags_release(&diags);
	return 0;
}
