/* SPDX-License-Identifier: MIT */
#ifndef STAGES_PROBE_H
#define STAGES_PROBE_H

#include "common/buf.h"

struct probe_result {
	long status;	 /* HTTP status, 0 when no answer */
	char color[64];	 /* X-Executor-Color, "" when absent */
	struct buf body; /* first 4 KiB */
	char error[512]; /* transport error, "" when answered */
};

/* GET https://localhost:<port><path> (connecting to 127.0.0.1), verifying
 * the certificate against ca_file.  0 when an HTTP answer came (any status). */
int probe_get(const char *ca_file, int port, const char *path, long timeout_ms,
	      struct probe_result *r);
void probe_result_release(struct probe_result *r);

#endif
