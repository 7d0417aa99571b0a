/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the image allow-list and the names that reach Engine
 * API paths.  The input is "pattern\nimage": image_pattern_match() must not
 * crash, and whatever docker/ accepts as a name or an image reference must
 * build a path that its request function accepts too (no `.` or `..`
 * segment, no escape), so nothing valid is refused late and nothing unsafe
 * is built.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/error.h"
#include "docker/docker.h"
#include "docker/internal.h"
#include "docker/imagepull.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_path(const char *prefix, const char *id, int valid)
{
	struct buf path = BUF_INIT;
	struct error err = ERROR_INIT;
	int built = docker_build_path(&path, prefix, id, "/json", &err) == 0;

	if (built != valid)
		abort();
	if (built && !docker_path_safe(buf_str(&path)))
		abort();
	if (!built && (err.cls != ERR_JOB && err.cls != ERR_SYSTEM))
		abort();
	buf_release(&path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *image;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	image = strchr(text, '\n');
	if (image)
		*image++ = '\0';
	else
		image = text;
	(void)image_pattern_match(text, image);
	if (*image) {
		check_path("/images", image, docker_image_ref_valid(image));
		check_path("/volumes", image, docker_name_valid(image));
	}
	(void)docker_path_safe(image);
	free(text);
	return 0;
}
