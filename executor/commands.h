/* SPDX-License-Identifier: MIT */
#ifndef EXECUTOR_COMMANDS_H
#define EXECUTOR_COMMANDS_H

#include "common/config.h"
#include "common/error.h"

/*
 * The command table.  Only executor/ parses argv, prints to stdout and picks
 * exit codes; each command returns 0 or -1 with `err` filled, and main()
 * turns the error's class into the exit code (gitlab_exit_code_for).
 */
struct command {
	const char *name;
	int (*fn)(int argc, char **argv, struct config *cfg, struct error *err);
	const char *summary;
	const char *usage; /* full --help text */
	int runner_stage;  /* called by gitlab-runner: colours on, exit codes from env */
};

extern const struct command commands[];

int cmd_config(int argc, char **argv, struct config *cfg, struct error *err);
int cmd_prepare(int argc, char **argv, struct config *cfg, struct error *err);
int cmd_run(int argc, char **argv, struct config *cfg, struct error *err);
int cmd_cleanup(int argc, char **argv, struct config *cfg, struct error *err);
int cmd_durable(int argc, char **argv, struct config *cfg, struct error *err);
int cmd_deploy(int argc, char **argv, struct config *cfg, struct error *err);
int cmd_promote(int argc, char **argv, struct config *cfg, struct error *err);
int cmd_rollback(int argc, char **argv, struct config *cfg, struct error *err);
int cmd_cleanup_color(int argc, char **argv, struct config *cfg, struct error *err);
int cmd_compose(int argc, char **argv, struct config *cfg, struct error *err);
int cmd_status(int argc, char **argv, struct config *cfg, struct error *err);
int cmd_doctor(int argc, char **argv, struct config *cfg, struct error *err);
int cmd_version(int argc, char **argv, struct config *cfg, struct error *err);
int cmd_help(int argc, char **argv, struct config *cfg, struct error *err);

/* exit status a command asks for beyond its error (e.g. `run`'s script code) */
extern int command_exit_override;

#endif
