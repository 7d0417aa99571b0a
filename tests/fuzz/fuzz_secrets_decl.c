/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for durable_secrets_parse_decls(): any bytes as a durable
 * stack file.  Checks that a failure carries ERR_COMPOSE (or ERR_SYSTEM for
 * memory) and leaves no declarations, and that every declaration returned
 * is a valid name with either a value or a length in bounds.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "durable/secrets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct durable_secret_decls d = {0};
	struct error err = ERROR_INIT;
	size_t i;

	if (durable_secrets_parse_decls("fuzz.yml", (const char *)data, size, &d, &err) < 0) {
		if ((err.cls != ERR_COMPOSE && err.cls != ERR_SYSTEM) || d.n || d.items)
			abort();
		return 0;
	}
	for (i = 0; i < d.n; i++) {
		const struct durable_secret_decl *it = &d.items[i];

		if (!it->name || !it->name[0] || strlen(it->name) > DURABLE_SECRET_NAME_MAX ||
		    !strncmp(it->name, "EXECUTOR_", 9))
			abort();
		if (!it->value &&
		    (it->length < DURABLE_SECRET_LEN_MIN || it->length > DURABLE_SECRET_LEN_MAX))
			abort();
	}
	durable_secret_decls_release(&d);
	return 0;
}
