/* SPDX-License-Identifier: MIT */
#include "gitlab/gitlab.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"

const char *gitlab_var(const char *name)
{
	char key[256];

	snprintf(key, sizeof(key), "CUSTOM_ENV_%s", name);
	return getenv(key);
}

int gitlab_runner_mode(void)
{
	return getenv("JOB_RESPONSE_FILE") || getenv("BUILD_FAILURE_EXIT_CODE");
}

static int env_code(const char *name, int def)
{
	const char *v = getenv(name);
	char *end;
	long n;

	if (!v || !*v)
		return def;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || *end || n < 0 || n > 255)
		return def;
	return (int)n;
}

int gitlab_build_failure_code(void)
{
	return env_code("BUILD_FAILURE_EXIT_CODE", 1);
}

int gitlab_system_failure_code(void)
{
	return env_code("SYSTEM_FAILURE_EXIT_CODE", 2);
}

int gitlab_write_exit_code(int code, struct error *err)
{
	const char *path = getenv("BUILD_EXIT_CODE_FILE");
	char text[32];

	if (!path || !*path)
		return 0;
	/* the runner parses the first line with strconv.Atoi: no spaces */
	snprintf(text, sizeof(text), "%d\n", code);
	return fs_write_atomic(path, text, strlen(text), 0600, err);
}

int gitlab_exit_code_for(const struct error *err)
{
	if (err->cls == ERR_NONE)
		return 0;
	return error_is_build_failure(err) ? gitlab_build_failure_code()
					   : gitlab_system_failure_code();
}

void gitlab_section_start(FILE *f, const char *name, const char *title, int collapsed)
{
	fprintf(f, "section_start:%lld:%s%s\r\033[0K%s%s%s\n", (long long)time(NULL), name,
		collapsed ? "[collapsed=true]" : "", log_color_enabled() ? "\033[36;1m" : "", title,
		log_color_enabled() ? "\033[0;m" : "");
	fflush(f);
}

void gitlab_section_end(FILE *f, const char *name)
{
	fprintf(f, "section_end:%lld:%s\r\033[0K\n", (long long)time(NULL), name);
	fflush(f);
}

int gitlab_dotenv_write(const char *path, const char *const *kv, struct error *err)
{
	_cleanup_buf_ struct buf out = BUF_INIT;
	size_t i;

	for (i = 0; kv[i] && kv[i + 1]; i += 2) {
		/* dotenv values may not contain newlines */
		if (strchr(kv[i + 1], '\n'))
			return error_set(err, ERR_SYSTEM, "dotenv value for %s contains a newline",
					 kv[i]);
		if (buf_printf(&out, "%s=%s\n", kv[i], kv[i + 1]) < 0)
			return error_set(err, ERR_SYSTEM, "out of memory");
	}
	return fs_write_atomic(path, buf_str(&out), out.len, 0644, err);
}
