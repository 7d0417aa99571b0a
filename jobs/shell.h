/* SPDX-License-Identifier: MIT */
#ifndef JOBS_SHELL_H
#define JOBS_SHELL_H

/* The shell a stage's script is piped to, in the job container and in the
 * helper (jobs/shell.c). */

/* What the shell detection prints (on stderr, exit 127) when an image has no
 * shell it knows. */
#define SHELL_NOT_FOUND "executor: no shell in the image"

/*
 * The text `sh -c` runs in a container to start the shell a stage's script is
 * piped to: the first executable of /usr/local/bin/bash, /usr/bin/bash,
 * /bin/bash, /usr/local/bin/sh, /usr/bin/sh, /bin/sh, /busybox/sh (shell
 * "bash"; "sh" skips the bash ones), exec'd without arguments so it reads
 * the script from stdin, as GitLab's Docker executor detects the shell of
 * sh-only images.  None: SHELL_NOT_FOUND on stderr, exit 127.  in_helper
 * prepends `umask 0000;` (what the helper creates is writable by the job
 * container's user, as the Docker executor's helper does).  Pure.
 */
const char *shell_detect_script(const char *shell, int in_helper);

#endif
