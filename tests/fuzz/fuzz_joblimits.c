/* SPDX-License-Identifier: MIT */
/* libFuzzer target for job_limits_resolve(): the job's EXECUTOR_MEMORY,
 * EXECUTOR_CPUS and EXECUTOR_PIDS_LIMIT as any bytes (three lines), against
 * an admin file with ceilings and one without. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/joblimits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *admins[] = {"", "memory_max = 8g\ncpus = 1\ncpus_max = 2\n"
					   "pids_limit_max = 10000\n"};
	char *text = malloc(size + 1), *v[3] = {NULL, NULL, NULL}, *p;
	size_t i;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	for (i = 0, p = text; i < 3 && p; i++) {
		v[i] = p;
		p = strchr(p, '\n');
		if (p)
			*p++ = '\0';
	}
	for (i = 0; i < 2; i++) {
		struct config cfg;
		struct job_limits l;
		struct error err = ERROR_INIT;
		json_object *host;

		config_defaults(&cfg);
		if (config_parse(&cfg, "fuzz", admins[i], &err) < 0)
			abort();
		if (job_limits_resolve(&cfg, v[0], v[1], v[2], &l, &err) < 0) {
			if ((err.cls != ERR_JOB && err.cls != ERR_POLICY) || strchr(err.msg, '\n'))
				abort();
		} else {
			if (l.memory < 0 || l.nano_cpus < 0 || l.pids < 0)
				abort();
			host = json_object_new_object();
			if (job_limits_apply(&cfg, &l, host, &err) < 0)
				abort();
			json_object_put(host);
		}
		config_release(&cfg);
	}
	free(text);
	return 0;
}
