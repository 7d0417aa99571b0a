/* SPDX-License-Identifier: MIT */
#ifndef TESTS_UNIT_LIVE_TEST_H
#define TESTS_UNIT_LIVE_TEST_H

/*
 * Helpers shared by the unit tests that talk to the real engine
 * (test_docker_live.c, test_stages_stack_live.c).  Include after <cmocka.h>.
 */

#include <string.h>

#include "common/buf.h"
#include "common/fs.h"
#include "docker/docker.h"

/* Import a one-binary image, /bin/busybox from the host's busybox-static, as
 * executor-unit/busybox:<tag>. */
static inline void live_import_busybox(struct docker_client *client, const char *tag)
{
	char path[160];
	struct docker_request req = {
		.method = "POST",
		.path = path,
		.content_type = "application/x-tar",
		.timeout_ms = 60000,
	};
	struct docker_response resp;
	struct buf bin = BUF_INIT, tar = BUF_INIT;
	struct error err = ERROR_INIT;

	snprintf(path, sizeof(path),
		 "/images/create?fromSrc=-&repo=executor-unit%%2Fbusybox&tag=%s", tag);
	if (fs_read_file("/bin/busybox", &bin, 0, &err) < 0)
		fail_msg("%s (install the Debian package busybox-static)", err.msg);
	assert_int_equal(docker_tar_add_dir(&tar, "bin", 0755, 0, 0), 0);
	assert_int_equal(docker_tar_add_file(&tar, "bin/busybox", bin.data, bin.len, 0755, 0, 0),
			 0);
	assert_int_equal(docker_tar_add_dir(&tar, "tmp", 01777, 0, 0), 0);
	assert_int_equal(docker_tar_finish(&tar), 0);
	req.body = tar.data;
	req.body_len = tar.len;
	docker_response_init(&resp);
	if (docker_request(client, &req, &resp, &err) < 0)
		fail_msg("import busybox: [%s, code %d] %s", error_class_name(err.cls), err.code,
			 err.msg);
	if (strstr(buf_str(&resp.body), "\"error"))
		fail_msg("import busybox: %s", buf_str(&resp.body));
	docker_response_release(&resp);
	buf_release(&bin);
	buf_release(&tar);
}

#endif
