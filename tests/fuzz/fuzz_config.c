/* SPDX-License-Identifier: MIT */
/* libFuzzer target for config_parse(): any bytes as the admin's file. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config cfg;
	struct error err = ERROR_INIT;
	char *text = malloc(size + 1);

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	config_defaults(&cfg);
	if (config_parse(&cfg, "fuzz", text, &err) < 0 && err.cls != ERR_CONFIG)
		abort();
	(void)pattern_list_match(&cfg.allowed_images, "debian:12");
	(void)pattern_list_str(&cfg.allowed_images);
	config_release(&cfg);
	free(text);
	return 0;
}
