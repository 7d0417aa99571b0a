/* SPDX-License-Identifier: MIT */
#define ERROR_DEFINE /* the functions themselves, not the analyzer's view */
#include "common/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/log.h"

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

/*
 * The message is formatted whole (on the heap), the registered secrets are
 * masked, and only then is it cut to ERROR_MSG_MAX: a cut made first could
 * leave most of a secret that straddles the end, which the mask would no
 * longer recognise.
 */
static void set_v(struct error *err, enum error_class cls, int errnum, const char *fmt, va_list ap)
{
	_cleanup_free_ char *text = NULL;
	va_list cp;

	err->cls = cls;
	va_copy(cp, ap); /* ap stays for the bounded fallback */
	if (vasprintf(&text, fmt, cp) < 0)
		text = NULL;
	va_end(cp);
	if (text) {
		if (errnum) {
			char *with = NULL;

			if (asprintf(&with, "%s: %s", text, strerror(errnum)) < 0)
				with = NULL;
			if (with) {
				free(text);
				text = with;
			}
		}
		log_mask_copy(err->msg, sizeof(err->msg), text);
		return;
	}
	/* out of memory: bounded, then masked (log_mask drops a secret's start at the end) */
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	if (errnum) {
		size_t len = strlen(err->msg);

		snprintf(err->msg + len, sizeof(err->msg) - len, ": %s", strerror(errnum));
	}
	log_mask(err->msg, sizeof(err->msg));
}

int error_set(struct error *err, enum error_class cls, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return -1;
	err->code = 0;
	va_start(ap, fmt);
	set_v(err, cls, 0, fmt, ap);
	va_end(ap);
	return -1;
}

int error_set_errno(struct error *err, enum error_class cls, int errnum, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return -1;
	va_start(ap, fmt);
	set_v(err, cls, errnum, fmt, ap);
	va_end(ap);
	err->code = errnum;
	return -1;
}

/* "context: message", masked as a whole, then cut: the message keeps what room is left. */
int error_wrap(struct error *err, const char *fmt, ...)
{
	struct buf text = BUF_INIT;
	va_list ap;
	int ok;

	if (!err)
		return -1;
	va_start(ap, fmt);
	ok = buf_vprintf(&text, fmt, ap) == 0;
	va_end(ap);
	if (ok && buf_printf(&text, ": %s", err->msg) == 0) {
		log_mask_copy(err->msg, sizeof(err->msg), buf_str(&text));
	} else {
		/* out of memory: the message as it was, without the context */
		log_mask(err->msg, sizeof(err->msg));
	}
	buf_release(&text);
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
