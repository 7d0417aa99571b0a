/* SPDX-License-Identifier: MIT */
/*
 * Incremental decoders for the engine's streams.  No I/O: bytes come in
 * pieces split anywhere, and nothing grows without bound.
 */
#include <string.h>

#include "docker/docker.h"
#include "docker/internal.h"

#define JSONL_LINE_MAX (1024u * 1024u)

/* ---- multiplexed stdout/stderr ---- */

void docker_demux_init(struct docker_demux *d, docker_frame_cb cb, void *payload)
{
	memset(d, 0, sizeof(*d));
	d->on_frame = cb;
	d->payload = payload;
}

static int header_done(struct docker_demux *d)
{
	const unsigned char *h = d->hdr;

	/* [stream, 0, 0, 0, size32be]; stream 0 (stdin) is echoed only with a tty */
	if (h[0] > 2 || h[1] || h[2] || h[3])
		return -1;
	d->stream = h[0];
	d->remaining = (size_t)h[4] << 24 | (size_t)h[5] << 16 | (size_t)h[6] << 8 | (size_t)h[7];
	d->hdr_len = 0;
	return 0;
}

int docker_demux_feed(struct docker_demux *d, const char *data, size_t len)
{
	while (len) {
		if (d->remaining == 0) {
			size_t take = sizeof(d->hdr) - d->hdr_len;

			if (take > len)
				take = len;
			memcpy(d->hdr + d->hdr_len, data, take);
			d->hdr_len += take;
			data += take;
			len -= take;
			if (d->hdr_len < sizeof(d->hdr))
				return 0;
			if (header_done(d) < 0)
				return -1;
			continue;
		}
		{
			size_t take = d->remaining < len ? d->remaining : len;

			if (d->on_frame && d->on_frame(d->stream, data, take, d->payload) < 0)
				return -1;
			d->remaining -= take;
			data += take;
			len -= take;
		}
	}
	return 0;
}

int docker_demux_finish(const struct docker_demux *d)
{
	return (d->hdr_len || d->remaining) ? -1 : 0;
}

/* ---- newline-delimited JSON ---- */

void docker_jsonl_init(struct docker_jsonl *j, docker_json_cb cb, void *payload)
{
	/* the limit counts the line and its terminator */
	buf_init(&j->line, JSONL_LINE_MAX + 1);
	j->on_object = cb;
	j->payload = payload;
}

void docker_jsonl_release(struct docker_jsonl *j)
{
	buf_release(&j->line);
}

static int is_blank(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return 0;
	return 1;
}

static int emit_line(struct docker_jsonl *j, const char *s, size_t len)
{
	json_object *obj;
	int ret;

	if (is_blank(s, len))
		return 0;
	if (docker_json_parse(s, len, &obj) < 0)
		return -1;
	if (!json_object_is_type(obj, json_type_object)) {
		json_object_put(obj);
		return -1;
	}
	ret = j->on_object ? j->on_object(obj, j->payload) : 0;
	json_object_put(obj);
	return ret < 0 ? -1 : 0;
}

int docker_jsonl_feed(struct docker_jsonl *j, const char *data, size_t len)
{
	while (len) {
		const char *nl = memchr(data, '\n', len);
		size_t take = nl ? (size_t)(nl - data) : len;
		int ret;

		if (j->line.len + take > JSONL_LINE_MAX)
			return -1;
		if (!nl)
			return buf_append(&j->line, data, take);
		if (j->line.len) {
			if (buf_append(&j->line, data, take) < 0)
				return -1;
			ret = emit_line(j, j->line.data, j->line.len);
			buf_reset(&j->line);
		} else {
			/* whole line in this piece: no copy */
			ret = emit_line(j, data, take);
		}
		if (ret < 0)
			return -1;
		data += take + 1;
		len -= take + 1;
	}
	return 0;
}

int docker_jsonl_finish(struct docker_jsonl *j)
{
	int ret = 0;

	/* the last object may come without a newline */
	if (j->line.len)
		ret = emit_line(j, j->line.data, j->line.len);
	buf_reset(&j->line);
	return ret;
}
