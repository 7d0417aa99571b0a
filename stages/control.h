/* SPDX-License-Identifier: MIT */
#ifndef STAGES_CONTROL_H
#define STAGES_CONTROL_H

/* A running canary's control file (stages/control.c): an operator's command
 * to the promote that holds the env's lock. */

#include "common/error.h"

/* name of the control file in the env directory */
#define WATCH_CONTROL_FILE "canary.control"

/*
 * Ask the promote that holds the env's lock to abort / finish its canary
 * (`executor promote --abort|--full` while a canary job runs): write the
 * control file, wait until that promote takes it.  Returns 1 when it did, 0
 * when nothing holding the lock took it (the caller then acts itself), -1
 * on error.
 */
int control_send(const char *env_dir, const char *state_root, const char *env, const char *command,
		 int timeout_s, struct error *err);

#endif
