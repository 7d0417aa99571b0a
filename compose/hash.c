/* SPDX-License-Identifier: MIT */
/* Canonical JSON of a service and its SHA-256, for drift detection. */
#include "compose/compose.h"

#include <json-c/json.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"

/*
 * Adders that take ownership of val in every case.  JSON null is a NULL
 * json_object in json-c, so nulls are written as JNULL here and a NULL val
 * always means "out of memory".
 */
static char jnull_marker;
#define JNULL ((json_object *)&jnull_marker)

static int add(json_object *obj, const char *key, json_object *val)
{
	if (!val)
		return -1;
	if (val == JNULL)
		return json_object_object_add(obj, key, NULL) < 0 ? -1 : 0;
	if (json_object_object_add(obj, key, val) < 0) {
		json_object_put(val);
		return -1;
	}
	return 0;
}

static int push(json_object *arr, json_object *val)
{
	if (!val)
		return -1;
	if (val == JNULL)
		return json_object_array_add(arr, NULL) < 0 ? -1 : 0;
	if (json_object_array_add(arr, val) < 0) {
		json_object_put(val);
		return -1;
	}
	return 0;
}

static json_object *str_or_null(const char *s)
{
	return s ? json_object_new_string(s) : JNULL;
}

static json_object *argv_json(const struct compose_argv *a)
{
	json_object *arr;
	size_t i;

	if (!a->set)
		return JNULL;
	arr = json_object_new_array();
	for (i = 0; arr && i < a->argc; i++)
		if (push(arr, json_object_new_string(a->argv[i])) < 0) {
			json_object_put(arr);
			return NULL;
		}
	return arr;
}

static int cmp_kv(const void *a, const void *b)
{
	const struct compose_kv *x = *(const struct compose_kv *const *)a;
	const struct compose_kv *y = *(const struct compose_kv *const *)b;
	int c = strcmp(x->key, y->key);

	if (c)
		return c;
	return strcmp(x->value ? x->value : "", y->value ? y->value : "");
}

/* [[key, value], ...] sorted by key (then value, for repeated hosts). */
static json_object *kv_json(const struct compose_kv *kv, size_t n)
{
	/* an array of pointers, sorted in place of the entries */
	_cleanup_free_ const struct compose_kv **sorted =
		calloc(n + 1, sizeof(*sorted)); // NOLINT(bugprone-sizeof-expression)
	json_object *arr = json_object_new_array();
	size_t i;

	if (!sorted || !arr)
		goto fail;
	for (i = 0; i < n; i++)
		sorted[i] = &kv[i];
	qsort(sorted, n, sizeof(*sorted), cmp_kv); // NOLINT(bugprone-sizeof-expression)
	for (i = 0; i < n; i++) {
		json_object *pair = json_object_new_array();

		if (!pair || push(arr, pair) < 0 ||
		    push(pair, json_object_new_string(sorted[i]->key)) < 0 ||
		    push(pair, str_or_null(sorted[i]->value)) < 0)
			goto fail;
	}
	return arr;
fail:
	json_object_put(arr);
	return NULL;
}

static json_object *ports_json(const struct compose_port *p, size_t n)
{
	json_object *arr = json_object_new_array();
	size_t i;

	for (i = 0; arr && i < n; i++) {
		json_object *o = json_object_new_object();

		if (!o || push(arr, o) < 0 || add(o, "host_ip", str_or_null(p[i].host_ip)) < 0 ||
		    add(o, "published_start", json_object_new_int(p[i].published_start)) < 0 ||
		    add(o, "published_end", json_object_new_int(p[i].published_end)) < 0 ||
		    add(o, "target", json_object_new_int(p[i].target)) < 0 ||
		    add(o, "protocol", json_object_new_string(p[i].protocol)) < 0) {
			json_object_put(arr);
			return NULL;
		}
	}
	return arr;
}

static int cmp_network(const void *a, const void *b)
{
	return strcmp((*(const struct compose_service_network *const *)a)->key,
		      (*(const struct compose_service_network *const *)b)->key);
}

static json_object *networks_json(const struct compose_service *s)
{
	_cleanup_free_ const struct compose_service_network **sorted =
		calloc(s->nnetworks + 1, sizeof(*sorted)); // NOLINT(bugprone-sizeof-expression)
	json_object *arr = json_object_new_array();
	size_t i, j;

	if (!sorted || !arr)
		goto fail;
	for (i = 0; i < s->nnetworks; i++)
		sorted[i] = &s->networks[i];
	qsort(sorted, s->nnetworks, sizeof(*sorted), // NOLINT(bugprone-sizeof-expression)
	      cmp_network);
	for (i = 0; i < s->nnetworks; i++) {
		json_object *o = json_object_new_object(), *al;

		if (!o || push(arr, o) < 0 ||
		    add(o, "key", json_object_new_string(sorted[i]->key)) < 0 ||
		    add(o, "name", json_object_new_string(sorted[i]->name)) < 0)
			goto fail;
		al = json_object_new_array();
		if (!al || add(o, "aliases", al) < 0)
			goto fail;
		if ((sorted[i]->ipv4_address &&
		     add(o, "ipv4_address", json_object_new_string(sorted[i]->ipv4_address)) < 0) ||
		    (sorted[i]->ipv6_address &&
		     add(o, "ipv6_address", json_object_new_string(sorted[i]->ipv6_address)) < 0) ||
		    (sorted[i]->priority &&
		     add(o, "priority", json_object_new_int(sorted[i]->priority)) < 0))
			goto fail;
		for (j = 0; j < sorted[i]->naliases; j++)
			if (push(al, json_object_new_string(sorted[i]->aliases[j])) < 0)
				goto fail;
	}
	return arr;
fail:
	json_object_put(arr);
	return NULL;
}

static json_object *mounts_json(const struct compose_mount *m, size_t n)
{
	static const char *const types[] = {"bind", "volume", "tmpfs"};
	json_object *arr = json_object_new_array();
	size_t i;

	for (i = 0; arr && i < n; i++) {
		json_object *o = json_object_new_object();

		if (!o || push(arr, o) < 0 ||
		    add(o, "type", json_object_new_string(types[m[i].type])) < 0 ||
		    add(o, "source", str_or_null(m[i].source)) < 0 ||
		    add(o, "volume_name", str_or_null(m[i].volume_name)) < 0 ||
		    add(o, "target", json_object_new_string(m[i].target)) < 0 ||
		    add(o, "read_only", json_object_new_boolean(m[i].read_only)) < 0 ||
		    add(o, "create_host_path", json_object_new_boolean(m[i].create_host_path)) <
			    0 ||
		    add(o, "nocopy", json_object_new_boolean(m[i].nocopy)) < 0 ||
		    add(o, "tmpfs_size", json_object_new_int64(m[i].tmpfs_size)) < 0 ||
		    add(o, "tmpfs_mode", json_object_new_int64(m[i].tmpfs_mode)) < 0 ||
		    (m[i].propagation &&
		     add(o, "propagation", json_object_new_string(m[i].propagation)) < 0) ||
		    (m[i].selinux && add(o, "selinux", json_object_new_string(m[i].selinux)) < 0) ||
		    (m[i].subpath && add(o, "subpath", json_object_new_string(m[i].subpath)) < 0)) {
			json_object_put(arr);
			return NULL;
		}
	}
	return arr;
}

static json_object *depends_json(const struct compose_service *s)
{
	static const char *const conds[] = {"service_started", "service_healthy",
					    "service_completed_successfully"};
	json_object *arr = json_object_new_array();
	size_t i;

	/* depends_on is kept sorted by service */
	for (i = 0; arr && i < s->ndepends_on; i++) {
		const struct compose_dependency *d = &s->depends_on[i];
		json_object *o = json_object_new_object();

		if (!o || push(arr, o) < 0 ||
		    add(o, "service", json_object_new_string(d->service)) < 0 ||
		    add(o, "condition", json_object_new_string(conds[d->condition])) < 0 ||
		    add(o, "required", json_object_new_boolean(d->required)) < 0 ||
		    add(o, "restart", json_object_new_boolean(d->restart)) < 0) {
			json_object_put(arr);
			return NULL;
		}
	}
	return arr;
}

static json_object *healthcheck_json(const struct compose_healthcheck *hc)
{
	json_object *o;

	if (!hc->set)
		return JNULL;
	o = json_object_new_object();
	if (!o || add(o, "disable", json_object_new_boolean(hc->disable)) < 0 ||
	    add(o, "test", argv_json(&hc->test)) < 0 ||
	    add(o, "interval_ms", json_object_new_int64(hc->interval_ms)) < 0 ||
	    add(o, "timeout_ms", json_object_new_int64(hc->timeout_ms)) < 0 ||
	    add(o, "start_period_ms", json_object_new_int64(hc->start_period_ms)) < 0 ||
	    add(o, "start_interval_ms", json_object_new_int64(hc->start_interval_ms)) < 0 ||
	    add(o, "retries", json_object_new_int(hc->retries)) < 0) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static json_object *strv_json(char *const *v, size_t n)
{
	json_object *arr = json_object_new_array();
	size_t i;

	for (i = 0; arr && i < n; i++)
		if (push(arr, json_object_new_string(v[i])) < 0) {
			json_object_put(arr);
			return NULL;
		}
	return arr;
}

static json_object *file_refs_json(const struct compose_file_ref *f, size_t n)
{
	json_object *arr = json_object_new_array();
	size_t i;

	for (i = 0; arr && i < n; i++) {
		json_object *o = json_object_new_object();

		if (!o || push(arr, o) < 0 ||
		    add(o, "source", json_object_new_string(f[i].source)) < 0 ||
		    add(o, "target", json_object_new_string(f[i].target)) < 0 ||
		    add(o, "uid", str_or_null(f[i].uid)) < 0 ||
		    add(o, "gid", str_or_null(f[i].gid)) < 0 ||
		    add(o, "mode",
			json_object_new_int64(f[i].mode == COMPOSE_UNSET ? -1 : f[i].mode)) < 0) {
			json_object_put(arr);
			return NULL;
		}
	}
	return arr;
}

static json_object *hooks_json(const struct compose_hooks *h)
{
	json_object *arr = json_object_new_array();
	size_t i;

	for (i = 0; arr && i < h->n; i++) {
		const struct compose_hook *k = &h->items[i];
		json_object *o = json_object_new_object();

		if (!o || push(arr, o) < 0 || add(o, "command", argv_json(&k->command)) < 0 ||
		    add(o, "image", str_or_null(k->image)) < 0 ||
		    add(o, "user", str_or_null(k->user)) < 0 ||
		    add(o, "working_dir", str_or_null(k->working_dir)) < 0 ||
		    add(o, "privileged", json_object_new_boolean(k->privileged)) < 0 ||
		    add(o, "per_replica", json_object_new_boolean(k->per_replica)) < 0 ||
		    add(o, "environment", kv_json(k->environment, k->nenvironment)) < 0) {
			json_object_put(arr);
			return NULL;
		}
	}
	return arr;
}

static json_object *resource_spec_json(const struct compose_resource_spec *r)
{
	json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	if ((r->cpus > 0 && add(o, "cpus", json_object_new_double(r->cpus)) < 0) ||
	    (r->memory != COMPOSE_UNSET &&
	     add(o, "memory", json_object_new_int64(r->memory)) < 0) ||
	    (r->pids != COMPOSE_UNSET && add(o, "pids", json_object_new_int64(r->pids)) < 0)) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

static bool spec_set(const struct compose_resource_spec *r)
{
	return r->cpus > 0 || r->memory != COMPOSE_UNSET || r->pids != COMPOSE_UNSET;
}

#define ADD_IF(cond, key, val) ((cond) && add(o, key, val) < 0)

/* The keys beyond the original subset, each only when set: the hash of a service
 * that uses none of them is unchanged. */
static int extras_json(json_object *o, const struct compose_service *s)
{
	const struct compose_build *b = &s->build;

	if (b->set) {
		json_object *bo = json_object_new_object();

		if (!bo || add(o, "build", bo) < 0 ||
		    add(bo, "context", str_or_null(b->context)) < 0 ||
		    add(bo, "dockerfile", str_or_null(b->dockerfile)) < 0 ||
		    add(bo, "target", str_or_null(b->target)) < 0 ||
		    add(bo, "args", kv_json(b->args, b->nargs)) < 0)
			return -1;
	}
	if (s->ndevices) {
		json_object *arr = json_object_new_array();
		size_t i;

		if (!arr || add(o, "devices", arr) < 0)
			return -1;
		for (i = 0; i < s->ndevices; i++) {
			json_object *d = json_object_new_object();

			if (!d || push(arr, d) < 0 ||
			    add(d, "source", json_object_new_string(s->devices[i].source)) < 0 ||
			    add(d, "target", json_object_new_string(s->devices[i].target)) < 0 ||
			    add(d, "permissions",
				json_object_new_string(s->devices[i].permissions)) < 0)
				return -1;
		}
	}
	if (s->nulimits) {
		json_object *arr = json_object_new_array();
		size_t i;

		if (!arr || add(o, "ulimits", arr) < 0)
			return -1;
		for (i = 0; i < s->nulimits; i++) {
			json_object *u = json_object_new_object();

			if (!u || push(arr, u) < 0 ||
			    add(u, "name", json_object_new_string(s->ulimits[i].name)) < 0 ||
			    add(u, "soft", json_object_new_int64(s->ulimits[i].soft)) < 0 ||
			    add(u, "hard", json_object_new_int64(s->ulimits[i].hard)) < 0)
				return -1;
		}
	}
	if (s->logging_set) {
		json_object *lo = json_object_new_object();

		if (!lo || add(o, "logging", lo) < 0 ||
		    add(lo, "driver", str_or_null(s->logging.driver)) < 0 ||
		    add(lo, "options", kv_json(s->logging.options, s->logging.noptions)) < 0)
			return -1;
	}
	if (ADD_IF(s->nprofiles, "profiles", strv_json(s->profiles, s->nprofiles)) ||
	    ADD_IF(s->pull_policy, "pull_policy", str_or_null(s->pull_policy)) ||
	    ADD_IF(s->platform, "platform", str_or_null(s->platform)) ||
	    ADD_IF(s->ncap_add, "cap_add", strv_json(s->cap_add, s->ncap_add)) ||
	    ADD_IF(s->ncap_drop, "cap_drop", strv_json(s->cap_drop, s->ncap_drop)) ||
	    ADD_IF(s->nsysctls, "sysctls", kv_json(s->sysctls, s->nsysctls)) ||
	    ADD_IF(s->read_only, "read_only", json_object_new_boolean(1)) ||
	    ADD_IF(s->nsecurity_opt, "security_opt",
		   strv_json(s->security_opt, s->nsecurity_opt)) ||
	    ADD_IF(s->ntmpfs, "tmpfs", strv_json(s->tmpfs, s->ntmpfs)) ||
	    ADD_IF(s->nsecrets, "secrets", file_refs_json(s->secrets, s->nsecrets)) ||
	    ADD_IF(s->nconfigs, "configs", file_refs_json(s->configs, s->nconfigs)) ||
	    ADD_IF(s->nlinks, "links", strv_json(s->links, s->nlinks)) ||
	    ADD_IF(s->ndns, "dns", strv_json(s->dns, s->ndns)) ||
	    ADD_IF(s->ndns_search, "dns_search", strv_json(s->dns_search, s->ndns_search)) ||
	    ADD_IF(s->ndns_opt, "dns_opt", strv_json(s->dns_opt, s->ndns_opt)) ||
	    ADD_IF(s->init >= 0, "init", json_object_new_boolean(s->init)) ||
	    ADD_IF(s->stop_signal, "stop_signal", str_or_null(s->stop_signal)) ||
	    ADD_IF(spec_set(&s->limits), "limits", resource_spec_json(&s->limits)) ||
	    ADD_IF(spec_set(&s->reservations), "reservations",
		   resource_spec_json(&s->reservations)) ||
	    ADD_IF(s->pids_limit != COMPOSE_UNSET, "pids_limit",
		   json_object_new_int64(s->pids_limit)) ||
	    ADD_IF(s->mem_limit != COMPOSE_UNSET, "mem_limit",
		   json_object_new_int64(s->mem_limit)) ||
	    ADD_IF(s->mem_reservation != COMPOSE_UNSET, "mem_reservation",
		   json_object_new_int64(s->mem_reservation)) ||
	    ADD_IF(s->memswap_limit != COMPOSE_UNSET, "memswap_limit",
		   json_object_new_int64(s->memswap_limit)) ||
	    ADD_IF(s->cpus > 0, "cpus", json_object_new_double(s->cpus)) ||
	    ADD_IF(s->cpu_shares != COMPOSE_UNSET, "cpu_shares",
		   json_object_new_int64(s->cpu_shares)) ||
	    ADD_IF(s->cpu_quota != COMPOSE_UNSET, "cpu_quota",
		   json_object_new_int64(s->cpu_quota)) ||
	    ADD_IF(s->cpu_period != COMPOSE_UNSET, "cpu_period",
		   json_object_new_int64(s->cpu_period)) ||
	    ADD_IF(s->cpuset, "cpuset", str_or_null(s->cpuset)) ||
	    ADD_IF(s->shm_size != COMPOSE_UNSET, "shm_size", json_object_new_int64(s->shm_size)) ||
	    ADD_IF(s->privileged, "privileged", json_object_new_boolean(1)) ||
	    ADD_IF(s->ngroup_add, "group_add", strv_json(s->group_add, s->ngroup_add)) ||
	    ADD_IF(s->stdin_open, "stdin_open", json_object_new_boolean(1)) ||
	    ADD_IF(s->tty, "tty", json_object_new_boolean(1)) ||
	    ADD_IF(s->domainname, "domainname", str_or_null(s->domainname)) ||
	    ADD_IF(s->mac_address, "mac_address", str_or_null(s->mac_address)) ||
	    ADD_IF(s->oom_kill_disable, "oom_kill_disable", json_object_new_boolean(1)) ||
	    ADD_IF(s->oom_score_adj != COMPOSE_UNSET, "oom_score_adj",
		   json_object_new_int64(s->oom_score_adj)) ||
	    ADD_IF(s->pid, "pid", str_or_null(s->pid)) ||
	    ADD_IF(s->ipc, "ipc", str_or_null(s->ipc)) ||
	    ADD_IF(s->userns_mode, "userns_mode", str_or_null(s->userns_mode)) ||
	    ADD_IF(s->post_start.n, "post_start", hooks_json(&s->post_start)) ||
	    ADD_IF(s->pre_stop.n, "pre_stop", hooks_json(&s->pre_stop)) ||
	    ADD_IF(s->pre_start.n, "pre_start", hooks_json(&s->pre_start)))
		return -1;
	return 0;
}

int compose_service_json(const struct compose_service *s, struct buf *out, struct error *err)
{
	_cleanup_json_ json_object *o = json_object_new_object();
	const char *text;

	if (!o || add(o, "name", json_object_new_string(s->name)) < 0 ||
	    add(o, "image", json_object_new_string(s->image)) < 0 ||
	    add(o, "container_name", json_object_new_string(s->container_name)) < 0 ||
	    add(o, "command", argv_json(&s->command)) < 0 ||
	    add(o, "entrypoint", argv_json(&s->entrypoint)) < 0 ||
	    add(o, "environment", kv_json(s->environment, s->nenvironment)) < 0 ||
	    add(o, "ports", ports_json(s->ports, s->nports)) < 0 ||
	    add(o, "expose", ports_json(s->expose, s->nexpose)) < 0 ||
	    add(o, "networks", networks_json(s)) < 0 ||
	    add(o, "volumes", mounts_json(s->volumes, s->nvolumes)) < 0 ||
	    add(o, "depends_on", depends_json(s)) < 0 ||
	    add(o, "healthcheck", healthcheck_json(&s->healthcheck)) < 0 ||
	    add(o, "restart", str_or_null(s->restart)) < 0 ||
	    add(o, "restart_max_retries", json_object_new_int(s->restart_max_retries)) < 0 ||
	    add(o, "labels", kv_json(s->labels, s->nlabels)) < 0 ||
	    add(o, "user", str_or_null(s->user)) < 0 ||
	    add(o, "working_dir", str_or_null(s->working_dir)) < 0 ||
	    add(o, "hostname", str_or_null(s->hostname)) < 0 ||
	    /* only when set: hashes of stacks without it stay what they were */
	    (s->network_mode && add(o, "network_mode", str_or_null(s->network_mode)) < 0) ||
	    add(o, "extra_hosts", kv_json(s->extra_hosts, s->nextra_hosts)) < 0 ||
	    add(o, "stop_grace_period_ms", json_object_new_int64(s->stop_grace_period_ms)) < 0 ||
	    extras_json(o, s) < 0)
		return error_set(err, ERR_SYSTEM, "out of memory");
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							 JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!text || buf_puts(out, text) < 0)
		return error_set(err, ERR_SYSTEM, "out of memory");
	return 0;
}

int compose_service_hash(const struct compose_service *s, char hex[COMPOSE_HASH_HEX_LEN + 1],
			 struct error *err)
{
	_cleanup_buf_ struct buf json = BUF_INIT;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;

	if (compose_service_json(s, &json, err) < 0)
		return -1;
	if (!EVP_Digest(json.data, json.len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
		return error_set(err, ERR_SYSTEM, "SHA-256 failed");
	for (i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return 0;
}
