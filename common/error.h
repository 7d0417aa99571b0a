/* SPDX-License-Identifier: MIT */
#ifndef COMMON_ERROR_H
#define COMMON_ERROR_H

#include <stdarg.h>
#include <stddef.h>

/*
 * One error convention for the whole tree: a fallible function returns 0 on
 * success or a negative value on failure and fills the trailing
 * `struct error *err`.  Context is prepended on the way up with error_wrap();
 * the class decides the GitLab exit code in exactly one place
 * (gitlab_exit_code_for(), gitlab/runner.c).
 */
enum error_class {
	ERR_NONE = 0,
	/* not the job author's fault: system failure, retryable */
	ERR_SYSTEM,   /* driver bug, out of memory, unexpected state */
	ERR_IO,	      /* local files, state directory */
	ERR_ENGINE,   /* engine unreachable, API error, stream broken */
	ERR_PULL,     /* image could not be pulled */
	ERR_LOCK,     /* lock not acquired in time */
	ERR_CONFIG,   /* the admin's configuration is wrong */
	ERR_CANCELED, /* interrupted by a signal */
	/* the job author's fault: build failure */
	ERR_JOB,     /* bad job input: variables, names, stage */
	ERR_COMPOSE, /* stack file malformed or invalid */
	ERR_POLICY,  /* refused by the admin's policy (image, ref, project) */
	ERR_HEALTH,  /* deployment did not become healthy */
	ERR_SCRIPT,  /* the job's script exited non-zero */
	ERR_GIT,     /* the job's sources could not be read */
	ERR_CLASS_MAX
};

#define ERROR_MSG_MAX 2048

struct error {
	enum error_class cls;
	int code; /* optional detail: HTTP status, script exit code, errno */
	char msg[ERROR_MSG_MAX];
};

#define ERROR_INIT                                                                                 \
	{                                                                                          \
		.cls = ERR_NONE, .code = 0, .msg = ""                                              \
	}

/* Set the error and return -1. */
int error_set(struct error *err, enum error_class cls, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Like error_set, appending ": strerror(errnum)". */
int error_set_errno(struct error *err, enum error_class cls, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Prepend "context: " to the message, keep class; returns -1. */
int error_wrap(struct error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#if defined(__clang_analyzer__) && !defined(ERROR_DEFINE)
/* The analyzer does not look into other files, so it cannot know that these
 * always return -1 and follows "success" paths that do not exist (an out
 * parameter NULL after `return error_set(...)`). Tell it. */
#define error_set(...)	     (error_set(__VA_ARGS__), -1)
#define error_set_errno(...) (error_set_errno(__VA_ARGS__), -1)
#define error_wrap(...)	     (error_wrap(__VA_ARGS__), -1)
#endif
void error_clear(struct error *err);
const char *error_class_name(enum error_class cls);
/* True for classes that are the job author's fault (build failure). */
int error_is_build_failure(const struct error *err);

#endif
