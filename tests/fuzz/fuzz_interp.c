/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for compose_interpolate(): any bytes as the template, a
 * fixed set of variables (set, empty, and containing `$`).  Checks that the
 * result is a C string and that a failure always carries ERR_COMPOSE.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/error.h"
#include "compose/interp.h"

static const char *const vars[] = {
	"A",	  "alpha",	"EMPTY", "",
	"DOLLAR", "${A} $A $$", "LONG",	 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	NULL,
};

static const char *lookup(const char *name, void *payload)
{
	const char *const *kv = payload;

	for (; kv[0]; kv += 2)
		if (!strcmp(kv[0], name))
			return kv[1];
	return NULL;
}

static void on_unset(const char *name, void *payload)
{
	(void)payload;
	if (!name[0])
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf out = BUF_INIT;
	struct error err = ERROR_INIT;
	char *in = malloc(size + 1);
	int ret;

	if (!in)
		return 0;
	memcpy(in, data, size);
	in[size] = '\0';
	buf_init(&out, 1u << 20);
	ret = compose_interpolate_full(in, lookup, on_unset, (void *)vars, &out, &err);
	if (ret < 0 && err.cls != ERR_COMPOSE && err.cls != ERR_SYSTEM)
		abort();
	if (ret == 0 && strlen(buf_str(&out)) != out.len && !memchr(in, '\0', size))
		abort();
	buf_release(&out);
	free(in);
	return 0;
}
