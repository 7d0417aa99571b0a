/* SPDX-License-Identifier: MIT */
/* Ordered name/value lists: set in place, free. */
#include "compose/kv.h"

#include <stdlib.h>
#include <string.h>

#include "compose/node.h"

int kv_set(struct compose_kv **kv, size_t *n, const char *key, const char *value)
{
	char *k, *v = NULL;
	size_t i;

	if (value && !(v = strdup(value)))
		return -1;
	for (i = 0; i < *n; i++) {
		if (!strcmp((*kv)[i].key, key)) {
			free((*kv)[i].value);
			(*kv)[i].value = v;
			return 0;
		}
	}
	k = strdup(key);
	if (!k || grow_array((void **)kv, *n, sizeof(**kv)) < 0) {
		free(k);
		free(v);
		return -1;
	}
	(*kv)[*n].key = k;
	(*kv)[*n].value = v;
	(*n)++;
	return 0;
}

void kv_free(struct compose_kv *kv, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(kv[i].key);
		free(kv[i].value);
	}
	free(kv);
}
