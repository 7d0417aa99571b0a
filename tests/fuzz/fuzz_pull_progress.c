/* SPDX-License-Identifier: MIT */
/*
 * The pull-progress decoder behind docker_image_pull: JSON lines in,
 * rendered lines out.  Every rendered line must be one clean, bounded line.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "docker/docker.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_line(const char *line, void *payload)
{
	size_t len = strlen(line), i;

	(*(unsigned long *)payload)++;
	if (len == 0 || len > 1024)
		abort();
	for (i = 0; i < len; i++)
		if ((unsigned char)line[i] < ' ' || line[i] == 0x7f)
			abort();
	if (line[0] == ' ' || line[len - 1] == ' ')
		abort();
}

static int on_object(json_object *obj, void *payload)
{
	return docker_pull_progress_feed(payload, obj);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct docker_pull_progress p;
	struct docker_jsonl j;
	unsigned long lines = 0;
	int ret;

	docker_pull_progress_init(&p, on_line, &lines);
	docker_jsonl_init(&j, on_object, &p);
	ret = docker_jsonl_feed(&j, (const char *)data, size);
	if (ret == 0)
		ret = docker_jsonl_finish(&j);
	/* a registry error is kept as one clean line */
	if (strlen(p.error) >= sizeof(p.error) || strchr(p.error, '\n') || strchr(p.error, '\033'))
		abort();
	(void)ret;
	docker_jsonl_release(&j);
	docker_pull_progress_release(&p);
	return 0;
}
