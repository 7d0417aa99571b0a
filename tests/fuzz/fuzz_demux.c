/* SPDX-License-Identifier: MIT */
/*
 * docker_demux_* on arbitrary bytes.  The first byte picks a split step; the
 * output fed in pieces must equal the output fed at once.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "docker/docker.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct sink {
	struct buf out[3];
};

static int on_frame(int stream, const char *p, size_t len, void *payload)
{
	struct sink *s = payload;

	if (stream < 0 || stream > 2 || len == 0)
		abort();
	/* bounded: keep at most 1 MiB per stream, then only check */
	if (s->out[stream].len + len > (1u << 20))
		return 0;
	return buf_append(&s->out[stream], p, len);
}

static int run(const char *p, size_t len, size_t step, struct sink *s, int *finished)
{
	struct docker_demux d;
	size_t off = 0;

	docker_demux_init(&d, on_frame, s);
	while (off < len) {
		size_t n = step && step < len - off ? step : len - off;

		if (docker_demux_feed(&d, p + off, n) < 0)
			return -1;
		off += n;
	}
	*finished = docker_demux_finish(&d);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sink whole, split;
	int fin_whole = 0, fin_split = 0, r1, r2, i;
	size_t step;

	if (size < 1)
		return 0;
	step = (size_t)data[0] % 17 + 1;
	data++;
	size--;
	memset(&whole, 0, sizeof(whole));
	memset(&split, 0, sizeof(split));
	r1 = run((const char *)data, size, 0, &whole, &fin_whole);
	r2 = run((const char *)data, size, step, &split, &fin_split);
	if (r1 != r2 || (r1 == 0 && fin_whole != fin_split))
		abort();
	for (i = 0; i < 3; i++) {
		if (r1 == 0 && (whole.out[i].len != split.out[i].len ||
				(whole.out[i].len &&
				 memcmp(whole.out[i].data, split.out[i].data, whole.out[i].len))))
			abort();
		buf_release(&whole.out[i]);
		buf_release(&split.out[i]);
	}
	return 0;
}
