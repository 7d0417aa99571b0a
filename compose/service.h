/* SPDX-License-Identifier: MIT */
#ifndef COMPOSE_SERVICE_H
#define COMPOSE_SERVICE_H

/* service.c: the keys beyond the original subset (build, caps, resources, secrets...) */

#include <stddef.h>

#include "compose/compose.h"
#include "compose/node.h"
#include "compose/want.h"

int compose_service_extras(struct mb *m, struct compose_service *s, const struct cnode *svc,
			   const char *path);
int compose_file_defs(struct mb *m, const struct cnode *root, const char *section,
		      struct compose_file_def **out, size_t *nout);
int compose_network_extras(struct mb *m, struct compose_resource *r, const struct cnode *v,
			   const char *path);
int compose_check_references(struct mb *m);
void compose_service_extras_free(struct compose_service *s);
void compose_file_defs_free(struct compose_file_def *d, size_t n);
void compose_network_extras_free(struct compose_resource *r);

#endif
