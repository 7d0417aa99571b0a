/* SPDX-License-Identifier: MIT */
#ifndef COMPOSE_KV_H
#define COMPOSE_KV_H

/* kv.c: ordered name/value lists (struct compose_kv: environment, labels...). */

#include <stddef.h>

#include "compose/compose.h"

/* Set key to value (copied; NULL = unset) in an ordered list, replacing in place. */
int kv_set(struct compose_kv **kv, size_t *n, const char *key, const char *value);
void kv_free(struct compose_kv *kv, size_t n);

#endif
