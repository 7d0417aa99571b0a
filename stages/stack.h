/* SPDX-License-Identifier: MIT */
#ifndef STAGES_STACK_H
#define STAGES_STACK_H

/*
 * A Compose project carried out against the Engine API: networks, volumes
 * and containers created at once and started in dependency order, labelled
 * the way Compose labels them (so `docker compose -p NAME ps` lists them)
 * plus our own labels, waited on until healthy (on the engine's events), and
 * removed by label.
 */

#include <json-c/json.h>

#include "common/config.h"
#include "common/error.h"
#include "compose/compose.h"
#include "docker/auth.h"
#include "docker/docker.h"

#define STACK_LABEL_APP	  "io.executor.app"
#define STACK_LABEL_ENV	  "io.executor.env"
#define STACK_LABEL_COLOR "io.executor.color"
#define STACK_LABEL_LAYER "io.executor.layer" /* "durable" or "color" */
#define STACK_LABEL_HASH  "io.executor.config-hash"
#define STACK_LABEL_SPEC  "io.executor.spec"

enum stack_mode {
	/* durable layer: keep what runs; a changed definition is drift, reported */
	STACK_KEEP,
	/* a color: a changed definition is recreated */
	STACK_REPLACE,
};

struct stack {
	struct docker_client *docker;
	const struct config *cfg;
	const struct compose_project *project;
	enum stack_mode mode;
	const char *layer; /* "durable" or "color" */
	const char *app;
	const char *env;
	const char *color;	  /* NULL for the durable layer */
	const char *config_files; /* comma-joined, for Compose's label */
	/* color stacks: every container joins this network too, known there only
	 * as "<project>-<service>", so blue and green never resolve each other */
	const char *attach_network;
	/* host directories bind mounts may use besides allowed_bind_paths */
	const char *const *bind_roots;
	/* secrets and configs: written under files_dir (the env's store, never
	 * mounted whole) and mounted one file each, read-only; a secret's
	 * `environment:` is looked up with lookup */
	const char *files_dir;
	const char *(*lookup)(const char *name, void *payload);
	void *lookup_payload;
	int health_timeout_s;
	const struct registry_auth *auth; /* pull credentials; NULL: anonymous */
};

struct stack_report {
	int created;
	int started; /* existed, stopped, started again */
	int unchanged;
	int drifted;
	int replaced;
	struct buf drift; /* one line per difference */
};

void stack_report_release(struct stack_report *r);

/* Everything stack_up refuses, without changing anything: the images and
 * mounts the admin allows, the networks and volumes the stack may use
 * (its own app's and env's, or allowed), container names not taken by
 * another app.  Call it before work the refusal must not leave behind. */
int stack_check(const struct stack *s, struct error *err);
/* Create what is missing, start each service once what it depends on is up
 * (its depends_on condition).  Checks as stack_check does first. */
int stack_up(const struct stack *s, struct stack_report *rep, struct error *err);
/* Every container running, and healthy where it has a healthcheck, waited
 * for on one GET /events stream (health_status, die) between two reads of
 * the project's containers; on timeout, unhealthy or an exit: ERR_HEALTH,
 * the service's last log lines and health output in the log. */
int stack_wait_healthy(const struct stack *s, struct error *err);
/* Remove the project's containers and networks (and named volumes when
 * asked); only what carries our managed label, the project's label and,
 * when given, the layer ("durable", "color") and app labels. */
int stack_down(struct docker_client *c, const char *project, const char *layer, const char *app,
	       int remove_volumes, struct error *err);
/* The project's containers (JSON array from the engine), all states. */
int stack_containers(struct docker_client *c, const char *project, json_object **out,
		     struct error *err);
/* Build the container-create body for one service (exposed for tests). */
int stack_container_config(const struct stack *s, const struct compose_service *svc,
			   json_object **out, char hash[65], struct error *err);

#endif
