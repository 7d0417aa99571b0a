/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "docker/docker.h"

/* ---- demux ---- */

struct collected {
	struct buf out;
	struct buf err;
	struct buf order; /* one char per callback: '1' or '2' (for merging checks) */
	int calls;
};

static void collected_init(struct collected *c)
{
	buf_init(&c->out, 0);
	buf_init(&c->err, 0);
	buf_init(&c->order, 0);
	c->calls = 0;
}

static void collected_release(struct collected *c)
{
	buf_release(&c->out);
	buf_release(&c->err);
	buf_release(&c->order);
}

static int on_frame(int stream, const char *data, size_t len, void *payload)
{
	struct collected *c = payload;

	assert_true(len > 0);
	c->calls++;
	if (stream == 2)
		return buf_append(&c->err, data, len);
	return buf_append(&c->out, data, len);
}

static void put_frame(struct buf *b, int stream, const char *data, size_t len)
{
	unsigned char h[8] = {(unsigned char)stream,
			      0,
			      0,
			      0,
			      (unsigned char)(len >> 24),
			      (unsigned char)(len >> 16),
			      (unsigned char)(len >> 8),
			      (unsigned char)len};

	assert_int_equal(buf_append(b, h, sizeof(h)), 0);
	assert_int_equal(buf_append(b, data, len), 0);
}

/* stdout "hello\n" + binary, stderr with NULs, an empty frame, a long frame */
static void sample_stream(struct buf *b, struct buf *want_out, struct buf *want_err)
{
	char big[3000];
	size_t i;

	for (i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7);
	put_frame(b, 1, "hello\n", 6);
	buf_append(want_out, "hello\n", 6);
	put_frame(b, 2, "err\0or\n", 7);
	buf_append(want_err, "err\0or\n", 7);
	put_frame(b, 1, "", 0);
	put_frame(b, 1, big, sizeof(big));
	buf_append(want_out, big, sizeof(big));
	put_frame(b, 2, "\x01\x00\x00\x00", 4); /* payload that looks like a header */
	buf_append(want_err, "\x01\x00\x00\x00", 4);
	put_frame(b, 1, "end", 3);
	buf_append(want_out, "end", 3);
}

static void feed_split(const struct buf *in, size_t cut1, size_t cut2, struct collected *got)
{
	struct docker_demux d;

	docker_demux_init(&d, on_frame, got);
	assert_int_equal(docker_demux_feed(&d, in->data, cut1), 0);
	assert_int_equal(docker_demux_feed(&d, in->data + cut1, cut2 - cut1), 0);
	assert_int_equal(docker_demux_feed(&d, in->data + cut2, in->len - cut2), 0);
	assert_int_equal(docker_demux_finish(&d), 0);
}

static void assert_same(const struct buf *a, const struct buf *b)
{
	assert_int_equal(a->len, b->len);
	assert_memory_equal(a->data, b->data, a->len);
}

static void test_docker_demux__frame_split_at_every_byte(void **state)
{
	struct buf in = BUF_INIT, want_out = BUF_INIT, want_err = BUF_INIT;
	size_t cut;

	buf_init(&in, 0);
	sample_stream(&in, &want_out, &want_err);
	/* one cut at every position, and a second cut a few bytes later */
	for (cut = 0; cut <= in.len; cut++) {
		size_t second[] = {cut, cut + 1, cut + 5, cut + 9, in.len};
		size_t k;

		for (k = 0; k < sizeof(second) / sizeof(second[0]); k++) {
			struct collected got;
			size_t cut2 = second[k] > in.len ? in.len : second[k];

			collected_init(&got);
			feed_split(&in, cut, cut2, &got);
			assert_same(&got.out, &want_out);
			assert_same(&got.err, &want_err);
			collected_release(&got);
		}
	}
	buf_release(&in);
	buf_release(&want_out);
	buf_release(&want_err);
}

static void test_docker_demux__byte_by_byte_gives_same_output(void **state)
{
	struct buf in = BUF_INIT, want_out = BUF_INIT, want_err = BUF_INIT;
	struct collected got;
	struct docker_demux d;
	size_t i;

	sample_stream(&in, &want_out, &want_err);
	collected_init(&got);
	docker_demux_init(&d, on_frame, &got);
	for (i = 0; i < in.len; i++)
		assert_int_equal(docker_demux_feed(&d, in.data + i, 1), 0);
	assert_int_equal(docker_demux_finish(&d), 0);
	assert_same(&got.out, &want_out);
	assert_same(&got.err, &want_err);
	collected_release(&got);
	buf_release(&in);
	buf_release(&want_out);
	buf_release(&want_err);
}

static void test_docker_demux__zero_length_frames_deliver_nothing(void **state)
{
	struct buf in = BUF_INIT;
	struct collected got;
	struct docker_demux d;

	put_frame(&in, 1, "", 0);
	put_frame(&in, 2, "", 0);
	put_frame(&in, 1, "", 0);
	collected_init(&got);
	docker_demux_init(&d, on_frame, &got);
	assert_int_equal(docker_demux_feed(&d, in.data, in.len), 0);
	assert_int_equal(docker_demux_finish(&d), 0);
	assert_int_equal(got.calls, 0);
	assert_int_equal(got.out.len + got.err.len, 0);
	collected_release(&got);
	buf_release(&in);
}

static void test_docker_demux__bad_stream_id_rejected(void **state)
{
	static const unsigned char bad[][8] = {
		{3, 0, 0, 0, 0, 0, 0, 1},
		{'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o'}, /* a tty stream */
		{1, 0, 1, 0, 0, 0, 0, 1},		  /* padding not zero */
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct collected got;
		struct docker_demux d;

		collected_init(&got);
		docker_demux_init(&d, on_frame, &got);
		assert_int_equal(docker_demux_feed(&d, (const char *)bad[i], 8), -1);
		assert_int_equal(got.calls, 0);
		collected_release(&got);
	}
}

static void test_docker_demux__truncated_frame_detected_by_finish(void **state)
{
	struct buf in = BUF_INIT;
	size_t cut;

	put_frame(&in, 1, "0123456789", 10);
	/* every cut inside the frame is a truncation; 0 and the full length are not */
	for (cut = 0; cut <= in.len; cut++) {
		struct collected got;
		struct docker_demux d;

		collected_init(&got);
		docker_demux_init(&d, on_frame, &got);
		assert_int_equal(docker_demux_feed(&d, in.data, cut), 0);
		assert_int_equal(docker_demux_finish(&d), (cut == 0 || cut == in.len) ? 0 : -1);
		collected_release(&got);
	}
	buf_release(&in);
}

static int fail_on_stderr(int stream, const char *data, size_t len, void *payload)
{
	return stream == 2 ? -1 : 0;
}

static void test_docker_demux__callback_error_stops_feed(void **state)
{
	struct buf in = BUF_INIT;
	struct docker_demux d;

	put_frame(&in, 1, "ok", 2);
	put_frame(&in, 2, "no", 2);
	docker_demux_init(&d, fail_on_stderr, NULL);
	assert_int_equal(docker_demux_feed(&d, in.data, in.len), -1);
	buf_release(&in);
}

/* ---- jsonl ---- */

struct objects {
	struct buf ids; /* the "id" member of each object, joined with ',' */
	int count;
	int fail_at;
};

static int on_object(json_object *obj, void *payload)
{
	struct objects *o = payload;
	json_object *id;

	o->count++;
	if (o->fail_at && o->count == o->fail_at)
		return -1;
	assert_true(json_object_object_get_ex(obj, "id", &id));
	buf_puts(&o->ids, json_object_get_string(id));
	buf_putc(&o->ids, ',');
	return 0;
}

static const char jsonl_sample[] =
	"{\"status\":\"Pulling fs layer\",\"id\":\"a1\"}\r\n"
	"\r\n"
	"{\"id\":\"b2\",\"progressDetail\":{\"current\":1,\"total\":2},\"s\":\"x\\ny\"}\n"
	"   \n"
	"{\"id\":\"c3\",\"unicode\":\"\xc3\xa9\xe2\x82\xac\"}\r\n"
	"{\"id\":\"d4\"}";

static void test_docker_jsonl__lines_split_everywhere(void **state)
{
	size_t len = sizeof(jsonl_sample) - 1;
	size_t cut, cut2;

	for (cut = 0; cut <= len; cut++) {
		for (cut2 = cut; cut2 <= len; cut2 += 7) {
			struct objects o = {.count = 0};
			struct docker_jsonl j;

			buf_init(&o.ids, 0);
			docker_jsonl_init(&j, on_object, &o);
			assert_int_equal(docker_jsonl_feed(&j, jsonl_sample, cut), 0);
			assert_int_equal(docker_jsonl_feed(&j, jsonl_sample + cut, cut2 - cut), 0);
			assert_int_equal(docker_jsonl_feed(&j, jsonl_sample + cut2, len - cut2), 0);
			assert_int_equal(docker_jsonl_finish(&j), 0);
			assert_int_equal(o.count, 4);
			assert_string_equal(buf_str(&o.ids), "a1,b2,c3,d4,");
			docker_jsonl_release(&j);
			buf_release(&o.ids);
		}
	}
}

static void test_docker_jsonl__byte_by_byte(void **state)
{
	struct objects o = {.count = 0};
	struct docker_jsonl j;
	size_t i;

	buf_init(&o.ids, 0);
	docker_jsonl_init(&j, on_object, &o);
	for (i = 0; i < sizeof(jsonl_sample) - 1; i++)
		assert_int_equal(docker_jsonl_feed(&j, jsonl_sample + i, 1), 0);
	assert_int_equal(docker_jsonl_finish(&j), 0);
	assert_string_equal(buf_str(&o.ids), "a1,b2,c3,d4,");
	docker_jsonl_release(&j);
	buf_release(&o.ids);
}

static void test_docker_jsonl__invalid_json_rejected(void **state)
{
	static const char *const bad[] = {
		"{\"id\":\"a\"\n",    /* unterminated object */
		"not json\n",	      /* garbage */
		"{\"id\":\"a\"} x\n", /* trailing garbage */
		"[1,2]\n",	      /* not an object */
		"{\"id\":\"a\"}{}\n", /* two objects on one line */
		"{\"id\":\"\0\"}\n",  /* NUL inside (binary) */
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct objects o = {.count = 0};
		struct docker_jsonl j;
		size_t len = strlen(bad[i]);

		if (i == 5)
			len = 11;
		buf_init(&o.ids, 0);
		docker_jsonl_init(&j, on_object, &o);
		assert_int_equal(docker_jsonl_feed(&j, bad[i], len), -1);
		docker_jsonl_release(&j);
		buf_release(&o.ids);
	}
}

static void test_docker_jsonl__unterminated_last_line_checked_by_finish(void **state)
{
	struct objects o = {.count = 0};
	struct docker_jsonl j;

	buf_init(&o.ids, 0);
	docker_jsonl_init(&j, on_object, &o);
	assert_int_equal(docker_jsonl_feed(&j, "{\"id\":\"a\"}\n{\"id\":", 17), 0);
	assert_int_equal(docker_jsonl_finish(&j), -1);
	assert_int_equal(o.count, 1);
	docker_jsonl_release(&j);
	buf_release(&o.ids);
}

static void test_docker_jsonl__line_over_limit_rejected(void **state)
{
	struct objects o = {.count = 0};
	struct docker_jsonl j;
	char chunk[4096];
	size_t fed = 0;
	int ret = 0;

	memset(chunk, ' ', sizeof(chunk));
	chunk[0] = '{';
	buf_init(&o.ids, 0);
	docker_jsonl_init(&j, on_object, &o);
	assert_int_equal(docker_jsonl_feed(&j, chunk, 1), 0);
	chunk[0] = ' ';
	while (fed < 2u * 1024u * 1024u && ret == 0) {
		ret = docker_jsonl_feed(&j, chunk, sizeof(chunk));
		fed += sizeof(chunk);
	}
	assert_int_equal(ret, -1);
	assert_true(fed <= 1024u * 1024u + sizeof(chunk));
	assert_true(j.line.len <= 1024u * 1024u);
	docker_jsonl_release(&j);
	buf_release(&o.ids);
}

static void test_docker_jsonl__callback_error_propagates(void **state)
{
	struct objects o = {.count = 0, .fail_at = 2};
	struct docker_jsonl j;

	buf_init(&o.ids, 0);
	docker_jsonl_init(&j, on_object, &o);
	assert_int_equal(docker_jsonl_feed(&j, jsonl_sample, sizeof(jsonl_sample) - 1), -1);
	docker_jsonl_release(&j);
	buf_release(&o.ids);
}

/* ---- helpers ---- */

static void test_docker_urlencode__reserved_bytes_escaped(void **state)
{
	struct buf b = BUF_INIT;

	assert_int_equal(docker_urlencode(&b, "a b/c:d?e=f&g\xc3\xa9~-._"), 0);
	assert_string_equal(buf_str(&b), "a%20b%2Fc%3Ad%3Fe%3Df%26g%C3%A9~-._");
	buf_release(&b);
}

static void test_docker_label_filters__json_then_urlencoded(void **state)
{
	const char *const labels[] = {"io.executor.job=42", "io.executor/x", NULL};
	struct buf b = BUF_INIT;

	assert_int_equal(docker_label_filters(&b, labels), 0);
	assert_string_equal(buf_str(&b), "%7B%22label%22%3A%5B%22io.executor.job%3D42%22%2C%22io."
					 "executor%2Fx%22%5D%7D");
	buf_reset(&b);
	assert_int_equal(docker_label_filters(&b, NULL), 0);
	assert_string_equal(buf_str(&b), "%7B%7D");
	buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_docker_demux__frame_split_at_every_byte),
		cmocka_unit_test(test_docker_demux__byte_by_byte_gives_same_output),
		cmocka_unit_test(test_docker_demux__zero_length_frames_deliver_nothing),
		cmocka_unit_test(test_docker_demux__bad_stream_id_rejected),
		cmocka_unit_test(test_docker_demux__truncated_frame_detected_by_finish),
		cmocka_unit_test(test_docker_demux__callback_error_stops_feed),
		cmocka_unit_test(test_docker_jsonl__lines_split_everywhere),
		cmocka_unit_test(test_docker_jsonl__byte_by_byte),
		cmocka_unit_test(test_docker_jsonl__invalid_json_rejected),
		cmocka_unit_test(test_docker_jsonl__unterminated_last_line_checked_by_finish),
		cmocka_unit_test(test_docker_jsonl__line_over_limit_rejected),
		cmocka_unit_test(test_docker_jsonl__callback_error_propagates),
		cmocka_unit_test(test_docker_urlencode__reserved_bytes_escaped),
		cmocka_unit_test(test_docker_label_filters__json_then_urlencoded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
