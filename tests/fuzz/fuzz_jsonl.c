/* SPDX-License-Identifier: MIT */
/*
 * docker_jsonl_* on arbitrary bytes.  The first byte picks a split step; the
 * objects decoded from pieces must equal those decoded at once.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "docker/docker.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_object(json_object *obj, void *payload)
{
	struct buf *b = payload;

	if (!json_object_is_type(obj, json_type_object))
		abort();
	if (b->len > (1u << 20))
		return 0;
	buf_puts(b, json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN));
	return buf_putc(b, '\n');
}

static int run(const char *p, size_t len, size_t step, struct buf *out)
{
	struct docker_jsonl j;
	size_t off = 0;
	int ret = 0;

	docker_jsonl_init(&j, on_object, out);
	while (off < len && ret == 0) {
		size_t n = step && step < len - off ? step : len - off;

		ret = docker_jsonl_feed(&j, p + off, n);
		off += n;
	}
	if (ret == 0)
		ret = docker_jsonl_finish(&j);
	docker_jsonl_release(&j);
	return ret;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf whole = BUF_INIT, split = BUF_INIT;
	size_t step;
	int r1, r2;

	if (size < 1)
		return 0;
	step = (size_t)data[0] % 13 + 1;
	r1 = run((const char *)data + 1, size - 1, 0, &whole);
	r2 = run((const char *)data + 1, size - 1, step, &split);
	if (r1 != r2 || whole.len != split.len ||
	    (whole.len && memcmp(whole.data, split.data, whole.len)))
		abort();
	buf_release(&whole);
	buf_release(&split);
	return 0;
}
