/* SPDX-License-Identifier: MIT */
#include <curl/curl.h>
#include <git2.h>
#include <json-c/json.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "executor/commands.h"
#include "gitlab/gitlab.h"

int command_exit_override = -1;

const struct command commands[] = {
	{"config", cmd_config, "print the runner configuration as JSON (config_exec)",
	 "usage: executor config\n\n"
	 "Prints the custom executor's configuration for gitlab-runner as JSON on stdout:\n"
	 "builds_dir and cache_dir under the state directory, builds_dir_is_shared, hostname,\n"
	 "driver name and version, and shell. Register it as config_exec with\n"
	 "config_args = [\"config\"].\n",
	 1},
	{"prepare", cmd_prepare, "create the job's network, services and container (prepare_exec)",
	 "usage: executor prepare\n\n"
	 "Resolves the job image (the job's image:, else default_image), checks it against\n"
	 "allowed_images, pulls it when missing, creates the job's network, starts its\n"
	 "services with their aliases and starts the long-lived job container with the\n"
	 "builds directory mounted. Register as prepare_exec with prepare_args = [\"prepare\"].\n",
	 1},
	{"run", cmd_run, "run one stage's script in the job container (run_exec)",
	 "usage: executor run <script> <stage>\n\n"
	 "Runs the runner's script for any stage inside the job container, streaming stdout\n"
	 "and stderr live. A failing script's exit code goes to $BUILD_EXIT_CODE_FILE and the\n"
	 "command exits $BUILD_FAILURE_EXIT_CODE; anything else exits\n"
	 "$SYSTEM_FAILURE_EXIT_CODE. SIGTERM stops the script within about 2 s.\n"
	 "Register as run_exec with run_args = [\"run\"].\n",
	 1},
	{"cleanup", cmd_cleanup, "remove what the job created (cleanup_exec), or a color",
	 "usage: executor cleanup\n"
	 "       executor cleanup <color> [--env ENV] [--force]\n\n"
	 "Without arguments (as cleanup_exec): removes the job's containers and network, found\n"
	 "by their labels, so it works even after a SIGKILL. Idempotent; never touches anything\n"
	 "else. Register as cleanup_exec with cleanup_args = [\"cleanup\"].\n\n"
	 "With a color: removes that color's containers and network in the env (default ci,\n"
	 "or $EXECUTOR_ENV). Refuses the live color unless --force (which retires the env's\n"
	 "site: the live entry answers 503); never touches durable resources.\n",
	 1},
	{"durable", cmd_durable, "set up or tear down an env's durable layer",
	 "usage: executor durable setup <env>\n"
	 "       executor durable teardown <env> [--volumes]\n\n"
	 "Run in a checkout of the application repository: reads durable/docker-compose.yml\n"
	 "(or $EXECUTOR_DURABLE_FILE) and takes variables from the environment.\n"
	 "setup creates the env's network, volumes and containers (database, router), generates\n"
	 "the secrets its x-executor.generate declares (a variable of the same name in the\n"
	 "environment wins) and TLS material on first use, and waits until healthy; a later run "
	 "finds\n"
	 "them running and says so, starts stopped ones, and reports drift without recreating.\n"
	 "teardown stops and removes the durable containers and network; volumes (data) are\n"
	 "kept unless --volumes is given. It refuses while colors of the env still run.\n",
	 0},
	{"deploy", cmd_deploy, "deploy a color of the app stack and point preview at it",
	 "usage: executor deploy <color> [--env ENV]\n\n"
	 "Stands up docker-compose.yml plus docker-compose.<color>.yml (or\n"
	 "$EXECUTOR_COMPOSE_FILES) as project <app>-<color>, attached to the env's durable\n"
	 "network, waits until every service is healthy, points the router's preview entry at\n"
	 "it and probes its routes through it (an env without a router: the color runs on its\n"
	 "own ports, and promote refuses). Refuses to deploy over the live color.\n"
	 "$EXECUTOR_DOTENV names a dotenv report to write.\n",
	 0},
	{"promote", cmd_promote, "switch live traffic to a color (default: the preview)",
	 "usage: executor promote [<color>] [--env ENV] [--full]\n"
	 "       executor promote --abort [--env ENV]\n\n"
	 "Re-checks the color through the preview entry, switches the live entry to it\n"
	 "(nginx -t, graceful reload), verifies through the live entry that it answers, and\n"
	 "switches back if it does not. The previous color keeps running.\n\n"
	 "$EXECUTOR_WATCH_SECONDS: watch the live entry that long after the switch (probes and\n"
	 "the router's own 5xx count) and switch back automatically when the share of 5xx passes\n"
	 "$EXECUTOR_WATCH_MAX_ERROR_RATE (default 0: any) or $EXECUTOR_WATCH_PROBE_FAILURES\n"
	 "probes in a row fail (default 3).\n"
	 "$EXECUTOR_CANARY_STEPS (e.g. 10,50,100): shift that share of live clients at each step\n"
	 "(sticky per client), watching for $EXECUTOR_CANARY_PAUSE_SECONDS (default 60) at each;\n"
	 "back to 0% on failure. Steps that stop below 100 leave the canary there.\n"
	 "--abort: the canary back to 0% (also to a running canary promote).\n"
	 "--full: straight to 100%.\n",
	 0},
	{"rollback", cmd_rollback, "switch live traffic back to a running color",
	 "usage: executor rollback <color> [--env ENV]\n\n"
	 "Switches the live entry back to a color that still runs, the same way as promote.\n"
	 "Rolling back to the live color during a canary takes the canary back to 0%.\n"
	 "The database is not touched.\n",
	 0},
	{"status", cmd_status, "show each env: durable layer, colors, live and preview",
	 "usage: executor status [--json]\n\n"
	 "Per env: the durable layer's health, each color (containers, health, commit, age),\n"
	 "which is live and which is preview, the lock holder, the last deployments.\n",
	 0},
	{"compose", cmd_compose, "print the resolved stack, like docker compose config",
	 "usage: executor compose config [-f FILE]... [--profile P]... [--format yaml|json]\n"
	 "                               [--project-name NAME]\n\n"
	 "Reads the stack files (default: compose.yaml or docker-compose.yml and its override\n"
	 "in the current directory; -f in order, merged) with the same reader as deployments,\n"
	 "interpolates them with the environment and the directory's .env file, applies\n"
	 "profiles (--profile, else $COMPOSE_PROFILES), extends and include, and prints the\n"
	 "resolved project on stdout: YAML (default) or JSON, Compose's long syntax with the\n"
	 "defaults filled in. Project name: --project-name, else $COMPOSE_PROJECT_NAME, else\n"
	 "the file's name:, else the directory. Warnings go to stderr; a stack that cannot be\n"
	 "deployed is one error line on stderr and exit code 1.\n",
	 0},
	{"doctor", cmd_doctor, "check this host and say how to fix what is wrong",
	 "usage: executor doctor [--json]\n\n"
	 "Checks the admin configuration, the Docker engine and its API version, which kind of\n"
	 "engine it is (local socket, TCP+TLS, SSH) and whether the connection works (TLS\n"
	 "handshake verified, client certificate accepted; ssh logged in), the expiry of the\n"
	 "engine's CA and client certificate, the socket's\n"
	 "permissions, the state directory, the default image, free disk space, the runner's\n"
	 "config.toml, the clock, conflicts with the seed's ports, and per env the durable\n"
	 "layer's health and the TLS certificate's expiry. One line per check: ok, warning or\n"
	 "error, with the fix. Exits 1 when any check is an error.\n"
	 "  --json   print the checks as a JSON array\n",
	 0},
	{"version", cmd_version, "print the version", "usage: executor version\n", 0},
	{"help", cmd_help, "list the commands", "usage: executor help [command]\n", 0},
	{NULL, NULL, NULL, NULL, 0},
};

static const struct command *find_command(const char *name)
{
	const struct command *c;

	for (c = commands; c->name; c++)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

int cmd_version(int argc, char **argv, struct config *cfg, struct error *err)
{
	int major, minor, rev;

	git_libgit2_version(&major, &minor, &rev);
	printf("executor %s (libcurl %s, json-c %s, libgit2 %d.%d.%d, %s)\n", EXECUTOR_VERSION,
	       curl_version_info(CURLVERSION_NOW)->version, json_c_version(), major, minor, rev,
	       OpenSSL_version(OPENSSL_VERSION));
	return 0;
}

static void usage(FILE *f)
{
	const struct command *c;

	fprintf(f, "usage: executor <command> [args]\n\n"
		   "A GitLab Runner custom executor that runs jobs in Docker containers.\n\n"
		   "Commands:\n");
	for (c = commands; c->name; c++)
		fprintf(f, "  %-10s %s\n", c->name, c->summary);
	fprintf(f,
		"\nexecutor <command> --help shows a command's options; man executor has more.\n");
}

int cmd_help(int argc, char **argv, struct config *cfg, struct error *err)
{
	const struct command *c;

	if (argc > 1) {
		c = find_command(argv[1]);
		if (!c)
			return error_set(err, ERR_JOB, "unknown command \"%s\"; see executor help",
					 argv[1]);
		fputs(c->usage, stdout);
		return 0;
	}
	usage(stdout);
	return 0;
}

static int wants_help(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	struct error err = ERROR_INIT;
	struct config cfg;
	const struct command *cmd;
	int rc, code;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V"))
		return cmd_version(argc, argv, NULL, &err);
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	cmd = find_command(argv[1]);
	if (!cmd) {
		fprintf(stderr, "executor: unknown command \"%s\"; run `executor help`\n", argv[1]);
		return 2;
	}
	if (wants_help(argc - 1, argv + 1)) {
		fputs(cmd->usage, stdout);
		return 0;
	}

	/* the job log renders colours; a terminal does; a pipe or file does not */
	log_set_color(!getenv("NO_COLOR") &&
		      ((cmd->runner_stage && gitlab_runner_mode()) || isatty(2)));
	curl_global_init(CURL_GLOBAL_DEFAULT);

	if (config_load(&cfg, NULL, &err) < 0) {
		/* doctor reports a broken config as one of its checks */
		if (strcmp(cmd->name, "doctor")) {
			log_error("%s", err.msg);
			code = cmd->runner_stage ? gitlab_system_failure_code() : 2;
			config_release(&cfg);
			goto out_noconfig;
		}
	}

	rc = cmd->fn(argc - 1, argv + 1, &cfg, &err);
	if (rc < 0 && err.cls != ERR_SCRIPT)
		log_error("%s", err.msg);
	if (command_exit_override >= 0)
		code = command_exit_override;
	else if (rc < 0)
		code = cmd->runner_stage ? gitlab_exit_code_for(&err)
					 : (error_is_build_failure(&err) ? 1 : 2);
	else
		code = 0;
	config_release(&cfg);
out_noconfig:
	log_clear_secrets();
	curl_global_cleanup();
	return code;
}
