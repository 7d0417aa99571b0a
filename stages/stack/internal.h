/* SPDX-License-Identifier: MIT */
#ifndef STAGES_STACK_INTERNAL_H
#define STAGES_STACK_INTERNAL_H

/* Shared by the files of the stack engine (stages/stack/); its interface is
 * stages/stack.h. */

#include <json-c/json.h>

#include "common/buf.h"
#include "common/error.h"
#include "stages/stack.h"

/* config.c: a label (NULL value: "") into a labels object. */
void stack_label_add(json_object *labels, const char *k, const char *v);
/* config.c: the labels every object of the stack carries. */
json_object *stack_project_labels(const struct stack *s);
/* config.c: what changed between a kept container's body and the new one. */
void stack_spec_diff(struct buf *out, const char *cname, const char *old_text,
		     json_object *new_spec);
/* resources.c: the networks and volumes the stack names, usable (missing[]
 * marks those to create), then created. */
int stack_resources_check(const struct stack *s, int *missing, struct error *err);
int stack_resources_create(const struct stack *s, const int *missing, struct error *err);
/* health.c: State.<key> of an inspect, and State.Health.Status (or NULL). */
int stack_state_bool(json_object *info, const char *key);
const char *stack_health_status(json_object *info);
/* ready.c: readiness checked by the driver itself.  stack_ready_argv: the
 * command of a healthcheck the service declares (CMD as is, CMD-SHELL under
 * /bin/sh -c) into argv (max slots, NULL-terminated); 0 when there is none to
 * run (the image's, NONE, disabled).  stack_ready_probe: runs it in container
 * id right after its start, every 100-250 ms, each try bounded by the
 * healthcheck's timeout, until it passes (1), the container exits or the
 * engine calls it healthy or unhealthy, or the stack's health timeout (0). */
int stack_ready_argv(const struct compose_healthcheck *h, const char **argv, size_t max);
int stack_ready_probe(const struct stack *s, const struct compose_service *svc, const char *id);

/* health.c: the health gate (see there), its event filter (container events
 * of the project: health_status, die) and what it makes of one event. */
enum standing { ST_PENDING, ST_OK, ST_FAILED };

struct gate {
	const struct stack *s;
	enum standing *st; /* per service */
	int *cue;	   /* per service: an event said it failed */
	long long last_ns; /* time of the last event seen */
};

json_object *stack_gate_filters(const struct stack *s);
int stack_gate_on_event(json_object *ev, void *payload);

#endif
