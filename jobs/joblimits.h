/* SPDX-License-Identifier: MIT */
#ifndef JOBS_JOBLIMITS_H
#define JOBS_JOBLIMITS_H

#include <json-c/json.h>

#include "common/config.h"
#include "common/error.h"

/*
 * What a job container and its services are allowed: no new privileges, the
 * admin's capability changes and security options, and bounded memory, CPUs
 * and processes.  The admin's file sets the defaults (memory, cpus,
 * pids_limit) and the ceilings a job may raise them to (memory_max,
 * cpus_max, pids_limit_max); the job variables EXECUTOR_MEMORY, EXECUTOR_CPUS
 * and EXECUTOR_PIDS_LIMIT choose within them, as KUBERNETES_MEMORY_LIMIT does
 * under memory_limit_overwrite_max_allowed in GitLab's Kubernetes executor.
 */

enum {
	JOB_LIMIT_MEMORY = 1 << 0,
	JOB_LIMIT_CPUS = 1 << 1,
	JOB_LIMIT_PIDS = 1 << 2,
};

struct job_limits {
	long long memory;    /* bytes; 0: no limit */
	long long nano_cpus; /* 1e-9 CPUs; 0: no limit */
	long long pids;	     /* processes; 0: no limit */
	unsigned from_job;   /* JOB_LIMIT_* set by a job variable */
};

/*
 * The limits for the admin's cfg and the job's values of EXECUTOR_MEMORY,
 * EXECUTOR_CPUS and EXECUTOR_PIDS_LIMIT (NULL or "" when unset).  Lowering is
 * always allowed; a raise above the admin's default is allowed up to its
 * *_max ceiling (none when the ceiling is 0).  A raise beyond is ERR_POLICY,
 * a malformed value ERR_JOB, each one line naming the variable and value.
 * Pure: exposed for tests.
 */
int job_limits_resolve(const struct config *cfg, const char *memory, const char *cpus,
		       const char *pids, struct job_limits *out, struct error *err);

/* The same from the job's variables (CUSTOM_ENV_EXECUTOR_*). */
int job_limits_for_job(const struct config *cfg, struct job_limits *out, struct error *err);

/* job_limits_for_job() before anything is created; when a job variable set a
 * limit, one line in the job log says what its containers get. */
int job_limits_check(const struct config *cfg, struct error *err);

/*
 * Add to a container's HostConfig: SecurityOpt (no-new-privileges unless the
 * admin made job containers privileged, then the admin's security_opt),
 * CapAdd / CapDrop (the admin's cap_add / cap_drop: nothing beyond Docker's
 * default set otherwise), PidsLimit, Memory with MemorySwap equal to it (no
 * swap beyond the limit) and NanoCpus.
 */
int job_limits_apply(const struct config *cfg, const struct job_limits *l, json_object *host,
		     struct error *err);

/* "4g", "512m", "6291456" for messages; buf of at least 32 bytes. */
const char *job_limits_size_str(long long bytes, char *buf, size_t size);

#endif
