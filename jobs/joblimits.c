/* SPDX-License-Identifier: MIT */
/*
 * The bounds of a job's containers (jobs/joblimits.h): the admin's
 * defaults and ceilings, the job's EXECUTOR_MEMORY / EXECUTOR_CPUS /
 * EXECUTOR_PIDS_LIMIT within them, and the HostConfig fields they become.
 */
#include "jobs/joblimits.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "gitlab/gitlab.h"

#define NANO	      1000000000.0
#define MEMORY_MIN    (6LL << 20) /* the engine refuses less */
#define NANO_CPUS_MIN 10000000LL  /* 0.01 CPUs, the engine's minimum */
#define NANO_CPUS_MAX (4096LL * 1000000000LL)
#define PIDS_MAX      4194304LL /* the kernel's PID_MAX_LIMIT */
#define SHOWN_MAX     40	/* characters of a job's value shown in a message */

const char *job_limits_size_str(long long bytes, char *buf, size_t size)
{
	static const char units[] = "tgmk";
	int shift = 40, i;

	for (i = 0; units[i]; i++, shift -= 10)
		if (bytes > 0 && bytes % (1LL << shift) == 0) {
			snprintf(buf, size, "%lld%c", bytes >> shift, units[i]);
			return buf;
		}
	snprintf(buf, size, "%lld", bytes);
	return buf;
}

static const char *cpus_str(long long nano, char *buf, size_t size)
{
	snprintf(buf, size, "%g", (double)nano / NANO);
	return buf;
}

static const char *pids_str(long long n, char *buf, size_t size)
{
	snprintf(buf, size, "%lld", n);
	return buf;
}

/* A job's value as shown in one line: printable ASCII, bounded. */
static const char *shown(const char *v, char *buf, size_t size)
{
	size_t i = 0;

	for (; *v && i + 4 < size && i < SHOWN_MAX; v++)
		buf[i++] = (*v >= 0x20 && *v < 0x7f) ? *v : '?';
	if (*v)
		buf[i++] = '.', buf[i++] = '.', buf[i++] = '.';
	buf[i] = '\0';
	return buf;
}

static int parse_nano_cpus(const char *v, long long *out)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(v, &end);
	if (errno || end == v || *end || d != d || d <= 0 || d * NANO > (double)NANO_CPUS_MAX)
		return -1;
	*out = (long long)(d * NANO + 0.5);
	return 0;
}

static int parse_pids(const char *v, long long *out)
{
	char *end;
	long long n;

	errno = 0;
	if (*v < '0' || *v > '9')
		return -1;
	n = strtoll(v, &end, 10);
	if (errno || *end || n < 1 || n > PIDS_MAX)
		return -1;
	*out = n;
	return 0;
}

/* One resource: the admin's default and ceiling, and what the job asked. */
struct resource {
	const char *var;     /* EXECUTOR_MEMORY */
	const char *key;     /* memory */
	const char *max_key; /* memory_max */
	long long def, max;  /* the admin's; 0: no limit / no ceiling */
	const char *(*str)(long long, char *, size_t);
};

static int bound(const struct resource *r, const char *value, long long asked, long long *out,
		 struct error *err)
{
	char v[64], d[32], m[32];
	long long ceiling = r->max > r->def ? r->max : r->def;

	/* a limit where there was none, or a lower one, is always allowed */
	if (r->def == 0 || asked <= r->def || (r->max > 0 && asked <= ceiling)) {
		*out = asked;
		return 0;
	}
	shown(value, v, sizeof(v));
	if (r->max > 0)
		return error_set(err, ERR_POLICY,
				 "%s=%s is above this runner's ceiling %s = %s; ask for at most "
				 "%s, or ask the runner admin to raise %s",
				 r->var, v, r->max_key, r->str(r->max, m, sizeof(m)),
				 r->str(ceiling, d, sizeof(d)), r->max_key);
	return error_set(err, ERR_POLICY,
			 "%s=%s is above this runner's %s = %s, and its admin set no %s, so a "
			 "job may only lower it; ask for at most %s, or ask the runner admin to "
			 "set %s",
			 r->var, v, r->key, r->str(r->def, d, sizeof(d)), r->max_key,
			 r->str(r->def, m, sizeof(m)), r->max_key);
}

int job_limits_resolve(const struct config *cfg, const char *memory, const char *cpus,
		       const char *pids, struct job_limits *out, struct error *err)
{
	const struct resource mem = {"EXECUTOR_MEMORY", "memory",	 "memory_max",
				     cfg->memory,	cfg->memory_max, job_limits_size_str};
	const struct resource cpu = {"EXECUTOR_CPUS",
				     "cpus",
				     "cpus_max",
				     (long long)(cfg->cpus * NANO + 0.5),
				     (long long)(cfg->cpus_max * NANO + 0.5),
				     cpus_str};
	const struct resource pid = {"EXECUTOR_PIDS_LIMIT", "pids_limit",	 "pids_limit_max",
				     cfg->pids_limit,	    cfg->pids_limit_max, pids_str};
	char v[64];
	long long n;

	memset(out, 0, sizeof(*out));
	out->memory = mem.def;
	out->nano_cpus = cpu.def;
	out->pids = pid.def;
	if (memory && *memory) {
		if (config_parse_size(memory, &n) < 0 || n < MEMORY_MIN)
			return error_set(err, ERR_JOB,
					 "EXECUTOR_MEMORY=%s is not a memory size; use bytes or a "
					 "number with k, m or g, such as 512m or 2g (at least 6m)",
					 shown(memory, v, sizeof(v)));
		if (bound(&mem, memory, n, &out->memory, err) < 0)
			return -1;
		out->from_job |= JOB_LIMIT_MEMORY;
	}
	if (cpus && *cpus) {
		if (parse_nano_cpus(cpus, &n) < 0 || n < NANO_CPUS_MIN)
			return error_set(err, ERR_JOB,
					 "EXECUTOR_CPUS=%s is not a number of CPUs; use a number "
					 "such as 0.5 or 2 (at least 0.01)",
					 shown(cpus, v, sizeof(v)));
		if (bound(&cpu, cpus, n, &out->nano_cpus, err) < 0)
			return -1;
		out->from_job |= JOB_LIMIT_CPUS;
	}
	if (pids && *pids) {
		if (parse_pids(pids, &n) < 0)
			return error_set(err, ERR_JOB,
					 "EXECUTOR_PIDS_LIMIT=%s is not a number of processes; use "
					 "a whole number such as 1024 (from 1 to %lld)",
					 shown(pids, v, sizeof(v)), PIDS_MAX);
		if (bound(&pid, pids, n, &out->pids, err) < 0)
			return -1;
		out->from_job |= JOB_LIMIT_PIDS;
	}
	return 0;
}

int job_limits_for_job(const struct config *cfg, struct job_limits *out, struct error *err)
{
	return job_limits_resolve(cfg, gitlab_var("EXECUTOR_MEMORY"), gitlab_var("EXECUTOR_CPUS"),
				  gitlab_var("EXECUTOR_PIDS_LIMIT"), out, err);
}

int job_limits_check(const struct config *cfg, struct error *err)
{
	struct job_limits l;
	char mem[32], cpu[32], pid[32];

	if (job_limits_for_job(cfg, &l, err) < 0)
		return -1;
	if (l.from_job)
		log_info("This job's containers get: memory %s, CPUs %s, processes %s "
			 "(EXECUTOR_MEMORY, EXECUTOR_CPUS, EXECUTOR_PIDS_LIMIT within the "
			 "runner's limits)",
			 l.memory ? job_limits_size_str(l.memory, mem, sizeof(mem)) : "no limit",
			 l.nano_cpus ? cpus_str(l.nano_cpus, cpu, sizeof(cpu)) : "no limit",
			 l.pids ? pids_str(l.pids, pid, sizeof(pid)) : "no limit");
	return 0;
}

static int add_strings(json_object *host, const char *key, const char *first,
		       const struct pattern_list *l, struct error *err)
{
	json_object *a;
	int i;

	if (!first && l->n == 0)
		return 0;
	a = json_object_new_array();
	if (!a)
		return error_set(err, ERR_SYSTEM, "out of memory");
	if (first)
		json_object_array_add(a, json_object_new_string(first));
	for (i = 0; i < l->n; i++)
		json_object_array_add(a, json_object_new_string(l->items[i]));
	json_object_object_add(host, key, a);
	return 0;
}

int job_limits_apply(const struct config *cfg, const struct job_limits *l, json_object *host,
		     struct error *err)
{
	/* A privileged container is root on the host by the admin's choice:
	 * no_new_privs would protect nothing there and would only break the
	 * setuid tools such jobs run (nested runtimes, sudo). */
	if (add_strings(host, "SecurityOpt", cfg->privileged ? NULL : "no-new-privileges",
			&cfg->security_opt, err) < 0 ||
	    add_strings(host, "CapAdd", NULL, &cfg->cap_add, err) < 0 ||
	    add_strings(host, "CapDrop", NULL, &cfg->cap_drop, err) < 0)
		return -1;
	if (l->pids > 0)
		json_object_object_add(host, "PidsLimit", json_object_new_int64(l->pids));
	if (l->memory > 0) {
		json_object_object_add(host, "Memory", json_object_new_int64(l->memory));
		json_object_object_add(host, "MemorySwap", json_object_new_int64(l->memory));
	}
	if (l->nano_cpus > 0)
		json_object_object_add(host, "NanoCpus", json_object_new_int64(l->nano_cpus));
	return 0;
}
