/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "jobs/shell.h"

#define BASH_PATHS "/usr/local/bin/bash /usr/bin/bash /bin/bash "
#define SH_PATHS   "/usr/local/bin/sh /usr/bin/sh /bin/sh /busybox/sh"
#define DETECT(paths)                                                                              \
	"for s in " paths "; do if [ -x \"$s\" ]; then exec \"$s\"; fi; done; "                    \
	"echo '" SHELL_NOT_FOUND ": none of " paths " is executable' >&2; exit 127"

const char *shell_detect_script(const char *shell, int in_helper)
{
	int sh = shell && !strcmp(shell, "sh");

	if (in_helper)
		return sh ? "umask 0000; " DETECT(SH_PATHS)
			  : "umask 0000; " DETECT(BASH_PATHS SH_PATHS);
	return sh ? DETECT(SH_PATHS) : DETECT(BASH_PATHS SH_PATHS);
}
