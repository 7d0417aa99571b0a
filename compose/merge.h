/* SPDX-License-Identifier: MIT */
#ifndef COMPOSE_MERGE_H
#define COMPOSE_MERGE_H

#include "common/error.h"
#include "compose/node.h"

/* merge.c: list forms of environment, labels... become mappings. */
int compose_normalize(struct cnode *root, struct error *err);
/* Merge over into base (consumes over). */
int compose_merge(struct cnode *base, struct cnode *over, struct error *err);
/* Merge one service definition over another (extends), with the services.* rules. */
int compose_merge_service(struct cnode *base, struct cnode *over, struct error *err);
/* Drop entries still tagged !reset and clear !override flags. */
void compose_prune(struct cnode *root);

/* Short syntax, shared by merge (keys) and model (values). */
struct port_spec {
	char ip[64];
	char published[32]; /* "" when not published, "8000" or "8000-8010" */
	char target[32];    /* "80" or "80-81" */
	char protocol[8];
};
int parse_port_short(const char *s, struct port_spec *out);
/* "src:dst[:mode]" or "dst"; each out pointer receives a malloc'd string or NULL. */
int parse_volume_short(const char *s, char **src, char **dst, char **mode);

#endif
