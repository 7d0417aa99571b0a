/* SPDX-License-Identifier: MIT */
#include "common/error.h"

#include <stdio.h>
#include <string.h>

static const char *const class_names[ERR_CLASS_MAX] = {
	[ERR_NONE] = "none",	   [ERR_SYSTEM] = "system",	[ERR_IO] = "io",
	[ERR_ENGINE] = "engine",   [ERR_PULL] = "pull",		[ERR_LOCK] = "lock",
	[ERR_CONFIG] = "config",   [ERR_CANCELED] = "canceled", [ERR_JOB] = "job",
	[ERR_COMPOSE] = "compose", [ERR_POLICY] = "policy",	[ERR_HEALTH] = "health",
	[ERR_SCRIPT] = "script",   [ERR_GIT] = "git",
};

const char *error_class_name(enum error_class cls)
{
	if (cls < 0 || cls >= ERR_CLASS_MAX || !class_names[cls])
		return "unknown";
	return class_names[cls];
}

int error_is_build_failure(const struct error *err)
{
	switch (err->cls) {
	case ERR_JOB:
	case ERR_COMPOSE:
	case ERR_POLICY:
	case ERR_HEALTH:
	case ERR_SCRIPT:
	case ERR_GIT:
		return 1;
	default:
		return 0;
	}
}

static void set_v(struct error *err, enum error_class cls, const char *fmt, va_list ap)
{
	err->cls = cls;
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
}

int error_set(struct error *err, enum error_class cls, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return -1;
	err->code = 0;
	va_start(ap, fmt);
	set_v(err, cls, fmt, ap);
	va_end(ap);
	return -1;
}

int error_set_errno(struct error *err, enum error_class cls, int errnum, const char *fmt, ...)
{
	va_list ap;
	size_t len;

	if (!err)
		return -1;
	va_start(ap, fmt);
	set_v(err, cls, fmt, ap);
	va_end(ap);
	err->code = errnum;
	len = strlen(err->msg);
	snprintf(err->msg + len, sizeof(err->msg) - len, ": %s", strerror(errnum));
	return -1;
}

int error_wrap(struct error *err, const char *fmt, ...)
{
	char ctx[ERROR_MSG_MAX];
	char old[ERROR_MSG_MAX];
	va_list ap;

	if (!err)
		return -1;
	va_start(ap, fmt);
	vsnprintf(ctx, sizeof(ctx), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	{
		size_t n = strlen(ctx);

		if (n > sizeof(err->msg) - 3)
			n = sizeof(err->msg) - 3;
		memcpy(err->msg, ctx, n);
		memcpy(err->msg + n, ": ", 2);
		n += 2;
		/* the original message keeps what room is left */
		snprintf(err->msg + n, sizeof(err->msg) - n, "%.*s",
			 (int)(sizeof(err->msg) - n - 1), old);
	}
	if (err->cls == ERR_NONE)
		err->cls = ERR_SYSTEM;
	return -1;
}

void error_clear(struct error *err)
{
	err->cls = ERR_NONE;
	err->code = 0;
	err->msg[0] = '\0';
}
