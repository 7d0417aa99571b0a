/* SPDX-License-Identifier: MIT */
/*
 * Key check of one file, before merging, so that each message names the file
 * and line where the key is written.  Every key falls in one class:
 *
 *   supported  the model carries it (silent);
 *   metadata   Compose knows it, but it does not change what runs here
 *              (swarm-only deploy settings, develop, attach...): a warning;
 *   refused    Compose knows it, it would change what runs, and the model
 *              does not carry it: an error naming file, line and key, so that
 *              nothing is silently dropped;
 *   unknown    not a Compose key at all (a typo, most likely): an error, as
 *              in Compose.
 *
 * x- extensions are silent.  A "lenient" schema (build:) warns about keys it
 * does not list instead of refusing them.  Types are not checked here:
 * model.c does that, with the same file:line precision.
 */
#include "compose/schema.h"

#include <string.h>

#include "common/cleanup.h"
#include "compose/ctx.h"
#include "compose/diag.h"
#include "compose/node.h"

struct schema {
	const char *const *supported;
	const char *const *metadata;
	const char *const *refused;
	const struct child *children;
	bool lenient;	      /* keys not listed are warned about, not refused */
	const char *meta_why; /* why metadata keys are ignored */
};

enum shape {
	SH_MAP,	       /* value is a mapping of this schema */
	SH_MAP_OF,     /* value is a mapping whose values have this schema */
	SH_SEQ_OF_MAP, /* value is a sequence whose mapping items have this schema */
};

struct child {
	const char *key;
	enum shape shape;
	const struct schema *schema;
};

#define LIST(...) ((const char *const[]){__VA_ARGS__, NULL})
#define NONE	  LIST(NULL)

static const struct schema external_schema = {
	.supported = LIST("name"),
};

static const struct schema ipam_pool_schema = {
	.supported = LIST("subnet", "ip_range", "gateway", "aux_addresses"),
};

static const struct schema ipam_schema = {
	.supported = LIST("driver", "config", "options"),
	.children = (const struct child[]){{"config", SH_SEQ_OF_MAP, &ipam_pool_schema}, {NULL}},
};

static const struct schema network_schema = {
	.supported = LIST("external", "name", "driver", "labels", "driver_opts", "attachable",
			  "enable_ipv4", "enable_ipv6", "internal", "ipam"),
	.children = (const struct child[]){{"external", SH_MAP, &external_schema},
					   {"ipam", SH_MAP, &ipam_schema},
					   {NULL}},
};

static const struct schema volume_schema = {
	.supported = LIST("external", "name", "driver", "labels", "driver_opts"),
	.children = (const struct child[]){{"external", SH_MAP, &external_schema}, {NULL}},
};

static const struct schema filedef_schema = {
	.supported = LIST("file", "environment", "content", "external", "name", "labels"),
	.refused = LIST("driver", "driver_opts", "template_driver"),
	.children = (const struct child[]){{"external", SH_MAP, &external_schema}, {NULL}},
};

static const struct schema healthcheck_schema = {
	.supported = LIST("test", "interval", "timeout", "retries", "start_period",
			  "start_interval", "disable"),
};

static const struct schema port_schema = {
	.supported = LIST("target", "published", "host_ip", "protocol"),
	.metadata = LIST("mode", "name", "app_protocol"),
	.meta_why = "ingress/host mode is a swarm setting; names are labels for tools",
};

static const struct schema mount_bind_schema = {
	.supported = LIST("create_host_path", "propagation", "selinux"),
	.refused = LIST("recursive"),
};

static const struct schema mount_volume_schema = {
	.supported = LIST("nocopy", "subpath"),
	.metadata = LIST("labels"),
	.meta_why = "labels of an anonymous volume are metadata",
};

static const struct schema mount_tmpfs_schema = {
	.supported = LIST("size", "mode"),
};

static const struct schema mount_schema = {
	.supported = LIST("type", "source", "target", "read_only", "bind", "volume", "tmpfs"),
	.metadata = LIST("consistency"),
	.meta_why = "consistency has no effect on Linux",
	.children = (const struct child[]){{"bind", SH_MAP, &mount_bind_schema},
					   {"volume", SH_MAP, &mount_volume_schema},
					   {"tmpfs", SH_MAP, &mount_tmpfs_schema},
					   {NULL}},
};

static const struct schema depends_schema = {
	.supported = LIST("condition", "required", "restart"),
};

static const struct schema service_network_schema = {
	.supported = LIST("aliases", "ipv4_address", "ipv6_address", "priority"),
	.refused = LIST("link_local_ips", "mac_address", "driver_opts", "gw_priority",
			"interface_name"),
};

static const struct schema env_file_schema = {
	.supported = LIST("path", "required", "format"),
};

static const struct schema build_schema = {
	.supported = LIST("context", "dockerfile", "args", "target"),
	.lenient = true,
	.meta_why = "deployments run images and do not build them",
};

static const struct schema logging_schema = {
	.supported = LIST("driver", "options"),
};

static const struct schema ulimit_schema = {
	.supported = LIST("soft", "hard"),
};

static const struct schema file_ref_schema = {
	.supported = LIST("source", "target", "uid", "gid", "mode"),
};

static const struct schema device_schema = {
	.supported = LIST("source", "target", "permissions"),
};

static const struct schema hook_schema = {
	.supported = LIST("command", "user", "privileged", "working_dir", "environment"),
};

static const struct schema pre_start_schema = {
	.supported = LIST("command", "image", "user", "privileged", "working_dir", "environment",
			  "per_replica"),
};

static const struct schema extends_schema = {
	.supported = LIST("service", "file"),
};

static const struct schema resource_limits_schema = {
	.supported = LIST("cpus", "memory", "pids"),
};

static const struct schema resource_reservations_schema = {
	.supported = LIST("cpus", "memory"),
	.refused = LIST("devices", "generic_resources"),
};

static const struct schema resources_schema = {
	.supported = LIST("limits", "reservations"),
	.children = (const struct child[]){{"limits", SH_MAP, &resource_limits_schema},
					   {"reservations", SH_MAP, &resource_reservations_schema},
					   {NULL}},
};

static const struct schema restart_policy_schema = {
	.supported = LIST("condition", "max_attempts"),
	.refused = LIST("delay", "window"),
};

static const struct schema deploy_schema = {
	.supported = LIST("resources", "replicas", "restart_policy"),
	.metadata = LIST("labels", "mode", "placement", "update_config", "rollback_config",
			 "endpoint_mode"),
	.meta_why = "a swarm setting; Compose ignores it outside swarm mode too",
	.children = (const struct child[]){{"resources", SH_MAP, &resources_schema},
					   {"restart_policy", SH_MAP, &restart_policy_schema},
					   {NULL}},
};

static const struct schema service_schema = {
	.supported = LIST(
		"image", "container_name", "command", "entrypoint", "environment", "env_file",
		"ports", "expose", "networks", "volumes", "depends_on", "healthcheck", "restart",
		"labels", "label_file", "user", "working_dir", "hostname", "extra_hosts",
		"stop_grace_period", "network_mode", "build", "profiles", "extends", "pull_policy",
		"platform", "cap_add", "cap_drop", "sysctls", "read_only", "security_opt", "tmpfs",
		"secrets", "configs", "links", "dns", "dns_search", "dns_opt", "init",
		"stop_signal", "ulimits", "logging", "deploy", "pids_limit", "mem_limit",
		"mem_reservation", "memswap_limit", "cpus", "cpu_shares", "cpu_quota", "cpu_period",
		"cpuset", "shm_size", "privileged", "devices", "group_add", "stdin_open", "tty",
		"domainname", "mac_address", "oom_kill_disable", "oom_score_adj", "pid", "ipc",
		"userns_mode", "post_start", "pre_stop", "pre_start", "scale"),
	.metadata = LIST("annotations", "attach", "develop"),
	.meta_why = "metadata for tools: no effect on what runs",
	.refused =
		LIST("blkio_config", "cpu_count", "cpu_percent", "cpu_rt_runtime", "cpu_rt_period",
		     "cgroup", "cgroup_parent", "credential_spec", "device_cgroup_rules",
		     "external_links", "gpus", "isolation", "mem_swappiness", "models", "provider",
		     "runtime", "storage_opt", "use_api_socket", "uts", "volumes_from"),
	.children = (const struct child[]){{"healthcheck", SH_MAP, &healthcheck_schema},
					   {"ports", SH_SEQ_OF_MAP, &port_schema},
					   {"volumes", SH_SEQ_OF_MAP, &mount_schema},
					   {"depends_on", SH_MAP_OF, &depends_schema},
					   {"networks", SH_MAP_OF, &service_network_schema},
					   {"env_file", SH_SEQ_OF_MAP, &env_file_schema},
					   {"build", SH_MAP, &build_schema},
					   {"logging", SH_MAP, &logging_schema},
					   {"ulimits", SH_MAP_OF, &ulimit_schema},
					   {"secrets", SH_SEQ_OF_MAP, &file_ref_schema},
					   {"configs", SH_SEQ_OF_MAP, &file_ref_schema},
					   {"devices", SH_SEQ_OF_MAP, &device_schema},
					   {"post_start", SH_SEQ_OF_MAP, &hook_schema},
					   {"pre_stop", SH_SEQ_OF_MAP, &hook_schema},
					   {"pre_start", SH_SEQ_OF_MAP, &pre_start_schema},
					   {"extends", SH_MAP, &extends_schema},
					   {"deploy", SH_MAP, &deploy_schema},
					   {NULL}},
};

static const struct schema include_schema = {
	.supported = LIST("path", "project_directory", "env_file"),
};

static const struct schema root_schema = {
	.supported =
		LIST("name", "services", "networks", "volumes", "secrets", "configs", "include"),
	.refused = LIST("models"),
	.children = (const struct child[]){{"services", SH_MAP_OF, &service_schema},
					   {"networks", SH_MAP_OF, &network_schema},
					   {"volumes", SH_MAP_OF, &volume_schema},
					   {"secrets", SH_MAP_OF, &filedef_schema},
					   {"configs", SH_MAP_OF, &filedef_schema},
					   {"include", SH_SEQ_OF_MAP, &include_schema},
					   {NULL}},
};

static bool in_list(const char *const *list, const char *key)
{
	for (; list && *list; list++)
		if (!strcmp(*list, key))
			return true;
	return false;
}

static int check_map(struct compose_ctx *ctx, const struct cnode *map, const struct schema *sc,
		     const char *path, bool top, struct error *err);

static int check_child(struct compose_ctx *ctx, const struct child *c, const struct cnode *v,
		       const char *path, struct error *err)
{
	char sub[COMPOSE_PATH_MAX];
	size_t i;

	if (!v)
		return 0;
	switch (c->shape) {
	case SH_MAP:
		if (v->kind == CN_MAP)
			return check_map(ctx, v, c->schema, path, false, err);
		break;
	case SH_MAP_OF:
		if (v->kind != CN_MAP)
			break;
		for (i = 0; i < v->n; i++) {
			if (!v->items[i].val || v->items[i].val->kind != CN_MAP)
				continue;
			path_key(sub, sizeof(sub), path, v->items[i].key);
			if (check_map(ctx, v->items[i].val, c->schema, sub, false, err) < 0)
				return -1;
		}
		break;
	case SH_SEQ_OF_MAP:
		if (v->kind != CN_SEQ)
			break;
		for (i = 0; i < v->n; i++) {
			if (!v->items[i].val || v->items[i].val->kind != CN_MAP)
				continue;
			path_index(sub, sizeof(sub), path, i);
			if (check_map(ctx, v->items[i].val, c->schema, sub, false, err) < 0)
				return -1;
		}
		break;
	}
	return 0;
}

static int check_map(struct compose_ctx *ctx, const struct cnode *map, const struct schema *sc,
		     const char *path, bool top, struct error *err)
{
	char sub[COMPOSE_PATH_MAX];
	size_t i;

	for (i = 0; i < map->n; i++) {
		const struct centry *e = &map->items[i];
		const struct child *c;

		if (!strncmp(e->key, "x-", 2))
			continue;
		path_key(sub, sizeof(sub), path, e->key);
		if (top && !strcmp(e->key, "version")) {
			diag_add(ctx->diags, map->file, e->line,
				 "the top-level key version is obsolete (ignored)");
			continue;
		}
		if (in_list(sc->metadata, e->key) ||
		    (sc->lenient && !in_list(sc->supported, e->key))) {
			diag_add(ctx->diags, map->file, e->line, "%s is ignored (%s)", sub,
				 sc->meta_why ? sc->meta_why : "no effect on what runs");
			continue;
		}
		if (in_list(sc->refused, e->key))
			return diag_error_at(
				err, map->file, e->line, sub,
				"not supported: it changes what runs and this driver "
				"cannot apply it; remove it (docs/compose.md lists the "
				"supported keys)");
		if (!in_list(sc->supported, e->key))
			return diag_error_at(err, map->file, e->line, sub,
					     "unknown key (not a Compose key: a typo?)");
		for (c = sc->children; c && c->key; c++)
			if (!strcmp(c->key, e->key) && check_child(ctx, c, e->val, sub, err) < 0)
				return -1;
	}
	return 0;
}

int compose_schema_check(struct compose_ctx *ctx, const struct cnode *root, struct error *err)
{
	return check_map(ctx, root, &root_schema, "", true, err);
}
