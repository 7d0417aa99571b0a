/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for router_render(): any bytes as a repository's
 * durable/router.conf.template (job-author input), two colors with routes,
 * rendered plain and as a canary split with the watch log (the first byte
 * picks which).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "durable/router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct router_route routes[] = {
		{"api-gateway", "/api/", 3001, "https", "/health"},
		{"frontend", "/", 3443, "http", "/"},
	};
	struct router_target live = {"blue", "app-blue", routes, 2};
	struct router_target preview = {"green", "app-green", routes, 2};
	struct router_view v = {&live, &preview, 0, 0};
	struct buf out = BUF_INIT;
	struct error err = ERROR_INIT;
	char *text = malloc(size + 1);

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (size && data[0] & 1) {
		v.canary_weight = 1 + data[0] % 99;
		v.watch_log = 1;
	} else if (size && data[0] & 2) {
		preview.color = NULL;
	}
	if (router_render(text, "ci", &v, &out, &err) < 0 && err.cls != ERR_COMPOSE &&
	    err.cls != ERR_SYSTEM)
		abort();
	if (out.data && strlen(out.data) != out.len)
		abort();
	buf_release(&out);
	free(text);
	return 0;
}
