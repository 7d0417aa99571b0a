/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for registry credentials (docker/auth.c): any bytes as a
 * docker config.json (DOCKER_AUTH_CONFIG, docker_auth_config, the file of
 * docker_auth_file).  It adds entries or fails with ERR_CONFIG adding none;
 * each entry has a key, a user and a password, can be found by an image of
 * its own registry, and encodes to a header.  The input also serves as an
 * image reference and a credential address.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "docker/auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct registry_auth a = REGISTRY_AUTH_INIT;
	struct error err = ERROR_INIT;
	struct buf header = BUF_INIT;
	char *text = malloc(size + 1), out[256];
	size_t i;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	registry_auth_key(text, out, sizeof(out));
	registry_auth_image_path(text, out, sizeof(out));
	registry_auth_image_registry(text, out, sizeof(out));
	(void)registry_auth_refused(text);
	if (registry_auth_add_config(&a, text, size, "FUZZ", REGISTRY_AUTH_JOB, &err) < 0) {
		if (err.cls != ERR_CONFIG && err.cls != ERR_SYSTEM)
			abort();
		if (a.n)
			abort();
	}
	for (i = 0; i < a.n; i++) {
		char image[1200];
		const struct registry_cred *c;

		if (!a.creds[i].key[0] || !a.creds[i].username[0] || !a.creds[i].password)
			abort();
		snprintf(image, sizeof(image), "%s/fuzz/app:1", a.creds[i].key);
		c = registry_auth_find(&a, image);
		(void)c;
		if (registry_auth_header(&a.creds[i], &header, &err) < 0 || header.len % 4)
			abort();
	}
	(void)registry_auth_find(&a, text);
	buf_release(&header);
	registry_auth_release(&a);
	free(text);
	return 0;
}
