/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/clock.h"
#include "common/fs.h"
#include "common/log.h"
#include "durable/lock.h"
#include "stages/control.h"

int control_send(const char *env_dir, const char *state_root, const char *env, const char *command,
		 int timeout_s, struct error *err)
{
	_cleanup_free_ char *path = NULL;
	struct durable_lock_info info;
	long long deadline = clock_ms() + (long long)timeout_s * 1000;
	char who[512];

	if (durable_lock_query(state_root, env, &info, err) < 0)
		return -1;
	if (!info.held || !info.known || strncmp(info.action, "promote", 7))
		return 0;
	durable_lock_describe(&info, who, sizeof(who));
	if (asprintf(&path, "%s/%s", env_dir, WATCH_CONTROL_FILE) < 0)
		return error_set(err, ERR_SYSTEM, "out of memory");
	if (fs_write_atomic(path, command, strlen(command), 0600, err) < 0)
		return -1;
	log_info("Asked the running promote (%s) to %s its canary", who,
		 !strcmp(command, "abort") ? "abort" : "finish");
	while (clock_ms() < deadline) {
		if (access(path, F_OK) < 0)
			return 1;
		if (durable_lock_query(state_root, env, &info, err) < 0)
			break;
		if (!info.held) {
			/* it ended without taking it: the caller acts itself */
			unlink(path);
			return 0;
		}
		usleep(100 * 1000);
	}
	unlink(path);
	if (err->cls != ERR_NONE)
		return -1;
	return error_set(err, ERR_LOCK,
			 "the running promote (%s) did not take the %s within %d s; retry, or "
			 "wait for it to end",
			 who, command, timeout_s);
}
