/* SPDX-License-Identifier: MIT */
/*
 * The resolved project as `docker compose config` prints it: Compose's long
 * syntax with the defaults filled in, keys sorted, as JSON or YAML.  This is
 * what `executor compose config` shows, and what the conformance corpus
 * (tests/compose-conformance/) compares.  The YAML is emitted here from the
 * same JSON document: block style, two spaces, strings quoted (JSON-style
 * double quotes, valid YAML) whenever YAML would read them as something else.
 */
#include "compose/compose.h"

#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"

static void put_json(json_object **j)
{
	json_object_put(*j);
}
#define _cleanup_jo_ __attribute__((cleanup(put_json)))

/* Adders that take ownership; a NULL value is out of memory, JNULL a JSON null. */
static char jnull_marker;
#define JNULL ((json_object *)&jnull_marker)

static int set(json_object *o, const char *key, json_object *v)
{
	if (!v)
		return -1;
	if (v == JNULL)
		return json_object_object_add(o, key, NULL);
	if (json_object_object_add(o, key, v) < 0) {
		json_object_put(v);
		return -1;
	}
	return 0;
}

static int push(json_object *a, json_object *v)
{
	if (!v)
		return -1;
	if (v == JNULL)
		return json_object_array_add(a, NULL);
	if (json_object_array_add(a, v) < 0) {
		json_object_put(v);
		return -1;
	}
	return 0;
}

static json_object *str(const char *s)
{
	return s ? json_object_new_string(s) : JNULL;
}

static json_object *strv(char *const *v, size_t n)
{
	json_object *a = json_object_new_array();
	size_t i;

	for (i = 0; a && i < n; i++)
		if (push(a, json_object_new_string(v[i])) < 0) {
			json_object_put(a);
			return NULL;
		}
	return a;
}

static json_object *argv(const struct compose_argv *a)
{
	return strv(a->argv, a->argc);
}

/* {"KEY": "value", "UNSET": null} */
static json_object *kvmap(const struct compose_kv *kv, size_t n)
{
	json_object *o = json_object_new_object();
	size_t i;

	for (i = 0; o && i < n; i++)
		if (set(o, kv[i].key, str(kv[i].value)) < 0) {
			json_object_put(o);
			return NULL;
		}
	return o;
}

/* Go's time.Duration.String() of a number of milliseconds: 1m30s, 500ms, 1.5s, 0s */
static json_object *duration(int64_t ms)
{
	char out[64], frac[16] = "";
	int64_t h, m, s, rest;
	size_t len = 0;

	if (ms == 0)
		return json_object_new_string("0s");
	if (ms < 1000) {
		snprintf(out, sizeof(out), "%lldms", (long long)ms);
		return json_object_new_string(out);
	}
	h = ms / 3600000;
	m = ms / 60000 % 60;
	s = ms / 1000 % 60;
	rest = ms % 1000;
	if (rest) {
		int i;

		snprintf(frac, sizeof(frac), ".%03lld", (long long)rest);
		for (i = (int)strlen(frac) - 1; i > 0 && frac[i] == '0'; i--)
			frac[i] = '\0';
	}
	if (h)
		len += (size_t)snprintf(out + len, sizeof(out) - len, "%lldh", (long long)h);
	if (h || m)
		len += (size_t)snprintf(out + len, sizeof(out) - len, "%lldm", (long long)m);
	snprintf(out + len, sizeof(out) - len, "%lld%ss", (long long)s, frac);
	return json_object_new_string(out);
}

static json_object *num(double v)
{
	/* 0.5 stays 0.5, 2 prints as 2 */
	if (v == floor(v) && fabs(v) < 1e15)
		return json_object_new_int64((int64_t)v);
	return json_object_new_double(v);
}

#define TRY(x)                                                                                     \
	do {                                                                                       \
		if ((x) < 0)                                                                       \
			goto fail;                                                                 \
	} while (0)

static json_object *ports(const struct compose_port *p, size_t n)
{
	json_object *a = json_object_new_array();
	size_t i;
	char pub[32];

	for (i = 0; a && i < n; i++) {
		json_object *o = json_object_new_object();

		TRY(push(a, o));
		TRY(set(o, "mode", json_object_new_string("ingress")));
		if (p[i].host_ip)
			TRY(set(o, "host_ip", json_object_new_string(p[i].host_ip)));
		TRY(set(o, "target", json_object_new_int(p[i].target)));
		if (p[i].published_start) {
			if (p[i].published_end != p[i].published_start)
				snprintf(pub, sizeof(pub), "%d-%d", p[i].published_start,
					 p[i].published_end);
			else
				snprintf(pub, sizeof(pub), "%d", p[i].published_start);
			TRY(set(o, "published", json_object_new_string(pub)));
		}
		TRY(set(o, "protocol", json_object_new_string(p[i].protocol)));
	}
	return a;
fail:
	json_object_put(a);
	return NULL;
}

static json_object *expose(const struct compose_port *p, size_t n)
{
	json_object *a = json_object_new_array();
	size_t i;
	char e[32];

	for (i = 0; a && i < n; i++) {
		if (strcmp(p[i].protocol, "tcp"))
			snprintf(e, sizeof(e), "%d/%s", p[i].target, p[i].protocol);
		else
			snprintf(e, sizeof(e), "%d", p[i].target);
		TRY(push(a, json_object_new_string(e)));
	}
	return a;
fail:
	json_object_put(a);
	return NULL;
}

static json_object *mounts(const struct compose_mount *m, size_t n)
{
	static const char *const types[] = {"bind", "volume", "tmpfs"};
	json_object *a = json_object_new_array();
	size_t i;

	for (i = 0; a && i < n; i++) {
		json_object *o = json_object_new_object(), *sub;

		TRY(push(a, o));
		TRY(set(o, "type", json_object_new_string(types[m[i].type])));
		if (m[i].source)
			TRY(set(o, "source", json_object_new_string(m[i].source)));
		TRY(set(o, "target", json_object_new_string(m[i].target)));
		if (m[i].read_only)
			TRY(set(o, "read_only", json_object_new_boolean(1)));
		if (m[i].type == COMPOSE_MOUNT_BIND) {
			sub = json_object_new_object();
			TRY(set(o, "bind", sub));
			TRY(set(sub, "create_host_path",
				json_object_new_boolean(m[i].create_host_path)));
			if (m[i].propagation)
				TRY(set(sub, "propagation",
					json_object_new_string(m[i].propagation)));
			if (m[i].selinux)
				TRY(set(sub, "selinux", json_object_new_string(m[i].selinux)));
		} else if (m[i].type == COMPOSE_MOUNT_VOLUME && (m[i].nocopy || m[i].subpath)) {
			sub = json_object_new_object();
			TRY(set(o, "volume", sub));
			if (m[i].nocopy)
				TRY(set(sub, "nocopy", json_object_new_boolean(1)));
			if (m[i].subpath)
				TRY(set(sub, "subpath", json_object_new_string(m[i].subpath)));
		} else if (m[i].type == COMPOSE_MOUNT_TMPFS &&
			   (m[i].tmpfs_size || m[i].tmpfs_mode)) {
			sub = json_object_new_object();
			TRY(set(o, "tmpfs", sub));
			if (m[i].tmpfs_size)
				TRY(set(sub, "size", json_object_new_int64(m[i].tmpfs_size)));
			if (m[i].tmpfs_mode)
				TRY(set(sub, "mode", json_object_new_int64(m[i].tmpfs_mode)));
		}
	}
	return a;
fail:
	json_object_put(a);
	return NULL;
}

static json_object *depends(const struct compose_service *s)
{
	static const char *const conds[] = {"service_started", "service_healthy",
					    "service_completed_successfully"};
	json_object *o = json_object_new_object();
	size_t i;

	for (i = 0; o && i < s->ndepends_on; i++) {
		json_object *d = json_object_new_object();

		TRY(set(o, s->depends_on[i].service, d));
		TRY(set(d, "condition", json_object_new_string(conds[s->depends_on[i].condition])));
		TRY(set(d, "required", json_object_new_boolean(s->depends_on[i].required)));
		if (s->depends_on[i].restart)
			TRY(set(d, "restart", json_object_new_boolean(1)));
	}
	return o;
fail:
	json_object_put(o);
	return NULL;
}

static json_object *healthcheck(const struct compose_healthcheck *hc)
{
	json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	if (hc->disable)
		TRY(set(o, "disable", json_object_new_boolean(1)));
	if (hc->test.set)
		TRY(set(o, "test", argv(&hc->test)));
	if (hc->interval_ms >= 0)
		TRY(set(o, "interval", duration(hc->interval_ms)));
	if (hc->timeout_ms >= 0)
		TRY(set(o, "timeout", duration(hc->timeout_ms)));
	if (hc->start_period_ms >= 0)
		TRY(set(o, "start_period", duration(hc->start_period_ms)));
	if (hc->start_interval_ms >= 0)
		TRY(set(o, "start_interval", duration(hc->start_interval_ms)));
	if (hc->retries >= 0)
		TRY(set(o, "retries", json_object_new_int(hc->retries)));
	return o;
fail:
	json_object_put(o);
	return NULL;
}

static json_object *service_networks(const struct compose_service *s)
{
	json_object *o = json_object_new_object();
	size_t i, j;

	for (i = 0; o && i < s->nnetworks; i++) {
		const struct compose_service_network *n = &s->networks[i];
		json_object *v, *al;

		/* the service's own name is always an alias: only the file's are shown */
		if (n->naliases <= 1 && !n->ipv4_address && !n->ipv6_address && !n->priority) {
			TRY(set(o, n->key, JNULL));
			continue;
		}
		v = json_object_new_object();
		TRY(set(o, n->key, v));
		if (n->naliases > 1) {
			al = json_object_new_array();
			TRY(set(v, "aliases", al));
			for (j = 1; j < n->naliases; j++)
				TRY(push(al, json_object_new_string(n->aliases[j])));
		}
		if (n->ipv4_address)
			TRY(set(v, "ipv4_address", json_object_new_string(n->ipv4_address)));
		if (n->ipv6_address)
			TRY(set(v, "ipv6_address", json_object_new_string(n->ipv6_address)));
		if (n->priority)
			TRY(set(v, "priority", json_object_new_int(n->priority)));
	}
	return o;
fail:
	json_object_put(o);
	return NULL;
}

static json_object *file_refs(const struct compose_file_ref *f, size_t n)
{
	json_object *a = json_object_new_array();
	size_t i;

	for (i = 0; a && i < n; i++) {
		json_object *o = json_object_new_object();

		TRY(push(a, o));
		TRY(set(o, "source", json_object_new_string(f[i].source)));
		TRY(set(o, "target", json_object_new_string(f[i].target)));
		if (f[i].uid)
			TRY(set(o, "uid", json_object_new_string(f[i].uid)));
		if (f[i].gid)
			TRY(set(o, "gid", json_object_new_string(f[i].gid)));
		if (f[i].mode != COMPOSE_UNSET)
			TRY(set(o, "mode", json_object_new_int64(f[i].mode)));
	}
	return a;
fail:
	json_object_put(a);
	return NULL;
}

static json_object *resource_spec(const struct compose_resource_spec *r)
{
	json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	if (r->cpus > 0)
		TRY(set(o, "cpus", num(r->cpus)));
	if (r->memory != COMPOSE_UNSET)
		TRY(set(o, "memory", json_object_new_int64(r->memory)));
	if (r->pids != COMPOSE_UNSET)
		TRY(set(o, "pids", json_object_new_int64(r->pids)));
	return o;
fail:
	json_object_put(o);
	return NULL;
}

static json_object *hooks(const struct compose_hooks *h)
{
	json_object *a = json_object_new_array();
	size_t i;

	for (i = 0; a && i < h->n; i++) {
		const struct compose_hook *k = &h->items[i];
		json_object *o = json_object_new_object();

		TRY(push(a, o));
		if (k->command.set)
			TRY(set(o, "command", argv(&k->command)));
		if (k->image)
			TRY(set(o, "image", json_object_new_string(k->image)));
		if (k->user)
			TRY(set(o, "user", json_object_new_string(k->user)));
		if (k->working_dir)
			TRY(set(o, "working_dir", json_object_new_string(k->working_dir)));
		if (k->privileged)
			TRY(set(o, "privileged", json_object_new_boolean(1)));
		if (k->per_replica)
			TRY(set(o, "per_replica", json_object_new_boolean(1)));
		if (k->nenvironment)
			TRY(set(o, "environment", kvmap(k->environment, k->nenvironment)));
	}
	return a;
fail:
	json_object_put(a);
	return NULL;
}

#define I64(o, key, v)                                                                             \
	do {                                                                                       \
		if ((v) != COMPOSE_UNSET)                                                          \
			TRY(set(o, key, json_object_new_int64(v)));                                \
	} while (0)
#define STR(o, key, v)                                                                             \
	do {                                                                                       \
		if (v)                                                                             \
			TRY(set(o, key, json_object_new_string(v)));                               \
	} while (0)
#define BOOL(o, key, v)                                                                            \
	do {                                                                                       \
		if (v)                                                                             \
			TRY(set(o, key, json_object_new_boolean(1)));                              \
	} while (0)
#define LIST(o, key, v, n)                                                                         \
	do {                                                                                       \
		if (n)                                                                             \
			TRY(set(o, key, strv(v, n)));                                              \
	} while (0)

/*
 * One service as `compose config` prints it: every key the model carries, in
 * alphabetical order, Compose's long syntax with the defaults filled in.  Long
 * because it is one flat list of keys (each a line or a short block), not
 * logic; splitting it by key would only scatter the order.  NULL when out of
 * memory.
 */
static json_object *service(const struct compose_service *s)
{
	json_object *o = json_object_new_object(), *sub;
	size_t i;

	if (!o)
		return NULL;
	if (s->build.set) {
		sub = json_object_new_object();
		TRY(set(o, "build", sub));
		STR(sub, "context", s->build.context);
		TRY(set(sub, "dockerfile",
			json_object_new_string(s->build.dockerfile ? s->build.dockerfile
								   : "Dockerfile")));
		STR(sub, "target", s->build.target);
		if (s->build.nargs)
			TRY(set(sub, "args", kvmap(s->build.args, s->build.nargs)));
	}
	LIST(o, "cap_add", s->cap_add, s->ncap_add);
	LIST(o, "cap_drop", s->cap_drop, s->ncap_drop);
	if (s->command.set)
		TRY(set(o, "command", argv(&s->command)));
	if (s->nconfigs)
		TRY(set(o, "configs", file_refs(s->configs, s->nconfigs)));
	if (s->container_name_set)
		STR(o, "container_name", s->container_name);
	I64(o, "cpu_period", s->cpu_period);
	I64(o, "cpu_quota", s->cpu_quota);
	I64(o, "cpu_shares", s->cpu_shares);
	if (s->cpus > 0)
		TRY(set(o, "cpus", num(s->cpus)));
	STR(o, "cpuset", s->cpuset);
	if (s->ndepends_on)
		TRY(set(o, "depends_on", depends(s)));
	if (s->limits.cpus > 0 || s->limits.memory != COMPOSE_UNSET ||
	    s->limits.pids != COMPOSE_UNSET || s->reservations.cpus > 0 ||
	    s->reservations.memory != COMPOSE_UNSET) {
		json_object *res = json_object_new_object();

		sub = json_object_new_object();
		TRY(set(o, "deploy", sub));
		TRY(set(sub, "resources", res));
		if (s->limits.cpus > 0 || s->limits.memory != COMPOSE_UNSET ||
		    s->limits.pids != COMPOSE_UNSET)
			TRY(set(res, "limits", resource_spec(&s->limits)));
		if (s->reservations.cpus > 0 || s->reservations.memory != COMPOSE_UNSET)
			TRY(set(res, "reservations", resource_spec(&s->reservations)));
	}
	if (s->ndevices) {
		json_object *a = json_object_new_array();

		TRY(set(o, "devices", a));
		for (i = 0; i < s->ndevices; i++) {
			json_object *d = json_object_new_object();

			TRY(push(a, d));
			TRY(set(d, "source", json_object_new_string(s->devices[i].source)));
			TRY(set(d, "target", json_object_new_string(s->devices[i].target)));
			TRY(set(d, "permissions",
				json_object_new_string(s->devices[i].permissions)));
		}
	}
	LIST(o, "dns", s->dns, s->ndns);
	LIST(o, "dns_opt", s->dns_opt, s->ndns_opt);
	LIST(o, "dns_search", s->dns_search, s->ndns_search);
	STR(o, "domainname", s->domainname);
	if (s->entrypoint.set)
		TRY(set(o, "entrypoint", argv(&s->entrypoint)));
	if (s->nenvironment)
		TRY(set(o, "environment", kvmap(s->environment, s->nenvironment)));
	if (s->nexpose)
		TRY(set(o, "expose", expose(s->expose, s->nexpose)));
	if (s->nextra_hosts) {
		json_object *a = json_object_new_array();

		TRY(set(o, "extra_hosts", a));
		for (i = 0; i < s->nextra_hosts; i++) {
			_cleanup_free_ char *e = NULL;

			if (asprintf(&e, "%s=%s", s->extra_hosts[i].key, s->extra_hosts[i].value) <
			    0)
				goto fail;
			TRY(push(a, json_object_new_string(e)));
		}
	}
	LIST(o, "group_add", s->group_add, s->ngroup_add);
	if (s->healthcheck.set)
		TRY(set(o, "healthcheck", healthcheck(&s->healthcheck)));
	STR(o, "hostname", s->hostname);
	STR(o, "image", s->image);
	if (s->init >= 0)
		TRY(set(o, "init", json_object_new_boolean(s->init)));
	STR(o, "ipc", s->ipc);
	if (s->nlabels)
		TRY(set(o, "labels", kvmap(s->labels, s->nlabels)));
	LIST(o, "links", s->links, s->nlinks);
	if (s->logging_set) {
		sub = json_object_new_object();
		TRY(set(o, "logging", sub));
		STR(sub, "driver", s->logging.driver);
		if (s->logging.noptions)
			TRY(set(sub, "options", kvmap(s->logging.options, s->logging.noptions)));
	}
	STR(o, "mac_address", s->mac_address);
	I64(o, "mem_limit", s->mem_limit);
	I64(o, "mem_reservation", s->mem_reservation);
	I64(o, "memswap_limit", s->memswap_limit);
	STR(o, "network_mode", s->network_mode);
	if (s->nnetworks)
		TRY(set(o, "networks", service_networks(s)));
	BOOL(o, "oom_kill_disable", s->oom_kill_disable);
	I64(o, "oom_score_adj", s->oom_score_adj);
	STR(o, "pid", s->pid);
	I64(o, "pids_limit", s->pids_limit);
	STR(o, "platform", s->platform);
	if (s->nports)
		TRY(set(o, "ports", ports(s->ports, s->nports)));
	if (s->post_start.n)
		TRY(set(o, "post_start", hooks(&s->post_start)));
	if (s->pre_start.n)
		TRY(set(o, "pre_start", hooks(&s->pre_start)));
	if (s->pre_stop.n)
		TRY(set(o, "pre_stop", hooks(&s->pre_stop)));
	BOOL(o, "privileged", s->privileged);
	LIST(o, "profiles", s->profiles, s->nprofiles);
	STR(o, "pull_policy", s->pull_policy);
	BOOL(o, "read_only", s->read_only);
	if (s->restart) {
		char r[64];

		if (!strcmp(s->restart, "on-failure") && s->restart_max_retries)
			snprintf(r, sizeof(r), "on-failure:%d", s->restart_max_retries);
		else
			snprintf(r, sizeof(r), "%s", s->restart);
		TRY(set(o, "restart", json_object_new_string(r)));
	}
	if (s->nsecrets)
		TRY(set(o, "secrets", file_refs(s->secrets, s->nsecrets)));
	LIST(o, "security_opt", s->security_opt, s->nsecurity_opt);
	I64(o, "shm_size", s->shm_size);
	BOOL(o, "stdin_open", s->stdin_open);
	if (s->stop_grace_period_ms >= 0)
		TRY(set(o, "stop_grace_period", duration(s->stop_grace_period_ms)));
	STR(o, "stop_signal", s->stop_signal);
	if (s->nsysctls)
		TRY(set(o, "sysctls", kvmap(s->sysctls, s->nsysctls)));
	LIST(o, "tmpfs", s->tmpfs, s->ntmpfs);
	BOOL(o, "tty", s->tty);
	if (s->nulimits) {
		sub = json_object_new_object();
		TRY(set(o, "ulimits", sub));
		for (i = 0; i < s->nulimits; i++) {
			const struct compose_ulimit *u = &s->ulimits[i];
			json_object *v;

			if (u->soft == u->hard) {
				TRY(set(sub, u->name, json_object_new_int64(u->soft)));
				continue;
			}
			v = json_object_new_object();
			TRY(set(sub, u->name, v));
			TRY(set(v, "soft", json_object_new_int64(u->soft)));
			TRY(set(v, "hard", json_object_new_int64(u->hard)));
		}
	}
	STR(o, "user", s->user);
	STR(o, "userns_mode", s->userns_mode);
	if (s->nvolumes)
		TRY(set(o, "volumes", mounts(s->volumes, s->nvolumes)));
	STR(o, "working_dir", s->working_dir);
	return o;
fail:
	json_object_put(o);
	return NULL;
}

static json_object *resource(const struct compose_resource *r, bool network)
{
	json_object *o = json_object_new_object();
	size_t i;

	if (!o)
		return NULL;
	TRY(set(o, "name", json_object_new_string(r->name)));
	STR(o, "driver", r->driver);
	if (r->ndriver_opts)
		TRY(set(o, "driver_opts", kvmap(r->driver_opts, r->ndriver_opts)));
	BOOL(o, "external", r->external);
	if (r->nlabels)
		TRY(set(o, "labels", kvmap(r->labels, r->nlabels)));
	if (!network)
		return o;
	BOOL(o, "internal", r->internal);
	BOOL(o, "attachable", r->attachable);
	if (r->enable_ipv4 >= 0)
		TRY(set(o, "enable_ipv4", json_object_new_boolean(r->enable_ipv4)));
	if (r->enable_ipv6 >= 0)
		TRY(set(o, "enable_ipv6", json_object_new_boolean(r->enable_ipv6)));
	if (r->ipam) {
		json_object *ipam = json_object_new_object(), *cfg;

		TRY(set(o, "ipam", ipam));
		STR(ipam, "driver", r->ipam->driver);
		if (r->ipam->noptions)
			TRY(set(ipam, "options", kvmap(r->ipam->options, r->ipam->noptions)));
		if (r->ipam->nconfig) {
			cfg = json_object_new_array();
			TRY(set(ipam, "config", cfg));
			for (i = 0; i < r->ipam->nconfig; i++) {
				const struct compose_ipam_pool *p = &r->ipam->config[i];
				json_object *po = json_object_new_object();

				TRY(push(cfg, po));
				STR(po, "subnet", p->subnet);
				STR(po, "ip_range", p->ip_range);
				STR(po, "gateway", p->gateway);
				if (p->naux_addresses)
					TRY(set(po, "aux_addresses",
						kvmap(p->aux_addresses, p->naux_addresses)));
			}
		}
	}
	return o;
fail:
	json_object_put(o);
	return NULL;
}

static json_object *file_def(const struct compose_file_def *d)
{
	json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	TRY(set(o, "name", json_object_new_string(d->name)));
	STR(o, "file", d->file);
	STR(o, "environment", d->environment);
	STR(o, "content", d->content);
	BOOL(o, "external", d->external);
	if (d->nlabels)
		TRY(set(o, "labels", kvmap(d->labels, d->nlabels)));
	return o;
fail:
	json_object_put(o);
	return NULL;
}

static int cmp_key(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A copy with every object's keys in byte order. */
static json_object *sorted(json_object *j)
{
	json_object *out;
	size_t i, n;

	if (!j)
		return JNULL;
	switch (json_object_get_type(j)) {
	case json_type_object: {
		_cleanup_free_ const char **keys = NULL;
		struct json_object_iterator it = json_object_iter_begin(j);
		struct json_object_iterator end = json_object_iter_end(j);

		n = (size_t)json_object_object_length(j);
		keys = calloc(n + 1, sizeof(*keys));
		out = json_object_new_object();
		if (!keys || !out) {
			json_object_put(out);
			return NULL;
		}
		for (i = 0; !json_object_iter_equal(&it, &end); json_object_iter_next(&it))
			keys[i++] = json_object_iter_peek_name(&it);
		qsort(keys, n, sizeof(*keys), cmp_key);
		for (i = 0; i < n; i++)
			if (set(out, keys[i], sorted(json_object_object_get(j, keys[i]))) < 0) {
				json_object_put(out);
				return NULL;
			}
		return out;
	}
	case json_type_array:
		out = json_object_new_array();
		n = json_object_array_length(j);
		for (i = 0; out && i < n; i++)
			if (push(out, sorted(json_object_array_get_idx(j, i))) < 0) {
				json_object_put(out);
				return NULL;
			}
		return out;
	default:
		return json_object_get(j);
	}
}

static json_object *project_doc(const struct compose_project *p)
{
	_cleanup_jo_ json_object *o = json_object_new_object();
	json_object *sec;
	size_t i;

	if (!o)
		return NULL;
	TRY(set(o, "name", json_object_new_string(p->name)));
	sec = json_object_new_object();
	TRY(set(o, "services", sec));
	for (i = 0; i < p->nservices; i++)
		TRY(set(sec, p->services[i].name, service(&p->services[i])));
#define SECTION(key, n, body)                                                                      \
	do {                                                                                       \
		if (n) {                                                                           \
			sec = json_object_new_object();                                            \
			TRY(set(o, key, sec));                                                     \
			for (i = 0; i < (n); i++)                                                  \
				body;                                                              \
		}                                                                                  \
	} while (0)
	SECTION("networks", p->nnetworks,
		TRY(set(sec, p->networks[i].key, resource(&p->networks[i], true))));
	SECTION("volumes", p->nvolumes,
		TRY(set(sec, p->volumes[i].key, resource(&p->volumes[i], false))));
	SECTION("secrets", p->nsecrets, TRY(set(sec, p->secrets[i].key, file_def(&p->secrets[i]))));
	SECTION("configs", p->nconfigs, TRY(set(sec, p->configs[i].key, file_def(&p->configs[i]))));
#undef SECTION
	return sorted(o);
fail:
	return NULL;
}

int compose_project_config_json(const struct compose_project *p, struct buf *out, struct error *err)
{
	_cleanup_jo_ json_object *doc = project_doc(p);
	const char *text;

	if (!doc || doc == JNULL)
		return error_set(err, ERR_SYSTEM, "out of memory");
	text = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY |
							   JSON_C_TO_STRING_SPACED |
							   JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!text || buf_puts(out, text) < 0 || buf_putc(out, '\n') < 0)
		return error_set(err, ERR_SYSTEM, "out of memory");
	return 0;
}

/* ---- YAML ---- */

static bool plain_ok(const char *s)
{
	static const char *const words[] = {
		"true",	 "false", "yes", "no", "on",  "off",  "null", "y",    "n",  "~",
		"True",	 "False", "Yes", "No", "On",  "Off",  "Null", "Y",    "N",  "TRUE",
		"FALSE", "YES",	  "NO",	 "ON", "OFF", "NULL", ".inf", ".nan", "<<",
	};
	size_t i, len = strlen(s);
	const char *p;
	bool numeric = true, digit = false;

	if (!len || s[0] == ' ' || s[len - 1] == ' ' || strchr("-?:,[]{}#&*!|>'\"%@`", s[0]))
		return s[0] == '-' && len > 1 && s[1] != ' ' && !strchr("0123456789.", s[1]) &&
		       !strstr(s, ": ") && !strstr(s, " #") && !strchr(s, '\n') &&
		       s[len - 1] != ':' && s[len - 1] != ' ';
	for (i = 0; i < ARRAY_SIZE(words); i++)
		if (!strcmp(s, words[i]))
			return false;
	for (p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (c < 0x20 || c == 0x7f)
			return false;
		if (!strchr("0123456789.+-_eExXoO:", c))
			numeric = false;
		if (c >= '0' && c <= '9')
			digit = true;
	}
	if (numeric && digit)
		return false; /* 1, 1.5, 0x1f, 1e3, 12:30 (sexagesimal in YAML 1.1) */
	if (strstr(s, ": ") || strstr(s, " #") || s[len - 1] == ':')
		return false;
	return true;
}

static int put_string(struct buf *out, const char *s)
{
	json_object *j;
	int ret;

	if (plain_ok(s))
		return buf_puts(out, s);
	/* a JSON string is a valid YAML double-quoted scalar */
	j = json_object_new_string(s);
	if (!j)
		return -1;
	ret = buf_puts(out, json_object_to_json_string_ext(j, JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(j);
	return ret;
}

static int indent(struct buf *out, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (buf_putc(out, ' ') < 0)
			return -1;
	return 0;
}

static bool is_block(json_object *j)
{
	return j &&
	       ((json_object_get_type(j) == json_type_object && json_object_object_length(j)) ||
		(json_object_get_type(j) == json_type_array && json_object_array_length(j)));
}

static int put_scalar(struct buf *out, json_object *j)
{
	if (!j)
		return buf_puts(out, "null");
	switch (json_object_get_type(j)) {
	case json_type_string:
		return put_string(out, json_object_get_string(j));
	case json_type_object:
		return buf_puts(out, "{}");
	case json_type_array:
		return buf_puts(out, "[]");
	default:
		return buf_puts(out, json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN));
	}
}

static int emit(struct buf *out, json_object *j, int level);

/* A block value after "key:" or "- ": on the next lines, at level. */
static int emit_value(struct buf *out, json_object *v, int level)
{
	if (!is_block(v)) {
		if (buf_putc(out, ' ') < 0 || put_scalar(out, v) < 0 || buf_putc(out, '\n') < 0)
			return -1;
		return 0;
	}
	if (buf_putc(out, '\n') < 0)
		return -1;
	return emit(out, v, level);
}

static int emit(struct buf *out, json_object *j, int level)
{
	size_t i, n;

	if (json_object_get_type(j) == json_type_object) {
		json_object_object_foreach(j, key, val)
		{
			if (indent(out, level) < 0 || put_string(out, key) < 0 ||
			    buf_putc(out, ':') < 0 || emit_value(out, val, level + 2) < 0)
				return -1;
		}
		return 0;
	}
	n = json_object_array_length(j);
	for (i = 0; i < n; i++) {
		json_object *v = json_object_array_get_idx(j, i);

		if (indent(out, level) < 0 || buf_puts(out, "-") < 0)
			return -1;
		if (is_block(v) && json_object_get_type(v) == json_type_object) {
			/* "- key: value" with the rest of the mapping under it */
			bool first = true;

			json_object_object_foreach(v, key, val)
			{
				if ((first ? buf_putc(out, ' ') : indent(out, level + 2)) < 0 ||
				    put_string(out, key) < 0 || buf_putc(out, ':') < 0 ||
				    emit_value(out, val, level + 4) < 0)
					return -1;
				first = false;
			}
			continue;
		}
		if (emit_value(out, v, level + 2) < 0)
			return -1;
	}
	return 0;
}

int compose_project_config_yaml(const struct compose_project *p, struct buf *out, struct error *err)
{
	_cleanup_jo_ json_object *doc = project_doc(p);

	if (!doc || doc == JNULL || emit(out, doc, 0) < 0)
		return error_set(err, ERR_SYSTEM, "out of memory");
	return 0;
}
