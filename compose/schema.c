/* SPDX-License-Identifier: MIT */
/*
 * Key check of one file, before merging, so that each warning names the file
 * and line where the key is written.  A key the reader uses is silent; a
 * Compose key it does not implement is "unsupported"; anything else is
 * "unknown" (most likely a typo).  x- extensions are silent.  Types are not
 * checked here: model.c does that, with the same file:line precision.
 */
#include "compose/internal.h"

#include <string.h>

#include "common/cleanup.h"

struct schema {
	const char *const *supported;
	const char *const *unsupported;
	/* children checked against their own schema */
	const struct child *children;
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

static const struct schema external_schema = {
	.supported = LIST("name"),
	.unsupported = LIST(NULL),
};

static const struct schema network_schema = {
	.supported = LIST("external", "name", "driver", "labels"),
	.unsupported =
		LIST("driver_opts", "attachable", "enable_ipv4", "enable_ipv6", "internal", "ipam"),
	.children = (const struct child[]){{"external", SH_MAP, &external_schema}, {NULL}},
};

static const struct schema volume_schema = {
	.supported = LIST("external", "name", "driver", "labels"),
	.unsupported = LIST("driver_opts"),
	.children = (const struct child[]){{"external", SH_MAP, &external_schema}, {NULL}},
};

static const struct schema healthcheck_schema = {
	.supported = LIST("test", "interval", "timeout", "retries", "start_period",
			  "start_interval", "disable"),
	.unsupported = LIST(NULL),
};

static const struct schema port_schema = {
	.supported = LIST("target", "published", "host_ip", "protocol"),
	.unsupported = LIST("mode", "name", "app_protocol"),
};

static const struct schema mount_bind_schema = {
	.supported = LIST("create_host_path"),
	.unsupported = LIST("propagation", "selinux", "recursive"),
};

static const struct schema mount_volume_schema = {
	.supported = LIST("nocopy"),
	.unsupported = LIST("subpath"),
};

static const struct schema mount_tmpfs_schema = {
	.supported = LIST("size", "mode"),
	.unsupported = LIST(NULL),
};

static const struct schema mount_schema = {
	.supported = LIST("type", "source", "target", "read_only", "bind", "volume", "tmpfs"),
	.unsupported = LIST("consistency", "image"),
	.children = (const struct child[]){{"bind", SH_MAP, &mount_bind_schema},
					   {"volume", SH_MAP, &mount_volume_schema},
					   {"tmpfs", SH_MAP, &mount_tmpfs_schema},
					   {NULL}},
};

static const struct schema depends_schema = {
	.supported = LIST("condition", "required", "restart"),
	.unsupported = LIST(NULL),
};

static const struct schema service_network_schema = {
	.supported = LIST("aliases"),
	.unsupported = LIST("ipv4_address", "ipv6_address", "link_local_ips", "mac_address",
			    "priority", "gw_priority", "driver_opts", "interface_name"),
};

static const struct schema env_file_schema = {
	.supported = LIST("path", "required"),
	.unsupported = LIST("format"),
};

static const struct schema service_schema = {
	.supported = LIST("image", "container_name", "command", "entrypoint", "environment",
			  "env_file", "ports", "expose", "networks", "volumes", "depends_on",
			  "healthcheck", "restart", "labels", "user", "working_dir", "hostname",
			  "extra_hosts", "stop_grace_period", "network_mode"),
	.unsupported = LIST(
		"annotations", "attach", "blkio_config", "build", "cpu_count", "cpu_percent",
		"cpu_shares", "cpu_period", "cpu_quota", "cpu_rt_runtime", "cpu_rt_period", "cpus",
		"cpuset", "cap_add", "cap_drop", "cgroup", "cgroup_parent", "configs",
		"credential_spec", "deploy", "develop", "device_cgroup_rules", "devices", "dns",
		"dns_opt", "dns_search", "domainname", "driver_opts", "extends", "external_links",
		"gpus", "group_add", "init", "ipc", "isolation", "label_file", "links", "logging",
		"mac_address", "mem_limit", "mem_reservation", "mem_swappiness", "memswap_limit",
		"models", "oom_kill_disable", "oom_score_adj", "pid", "pids_limit", "platform",
		"post_start", "pre_stop", "privileged", "profiles", "provider", "pull_policy",
		"read_only", "runtime", "scale", "secrets", "security_opt", "shm_size",
		"stdin_open", "stop_signal", "storage_opt", "sysctls", "tmpfs", "tty", "ulimits",
		"use_api_socket", "userns_mode", "uts", "volumes_from"),
	.children = (const struct child[]){{"healthcheck", SH_MAP, &healthcheck_schema},
					   {"ports", SH_SEQ_OF_MAP, &port_schema},
					   {"volumes", SH_SEQ_OF_MAP, &mount_schema},
					   {"depends_on", SH_MAP_OF, &depends_schema},
					   {"networks", SH_MAP_OF, &service_network_schema},
					   {"env_file", SH_SEQ_OF_MAP, &env_file_schema},
					   {NULL}},
};

static const struct schema root_schema = {
	.supported = LIST("name", "services", "networks", "volumes"),
	.unsupported = LIST("secrets", "configs", "include", "models"),
	.children = (const struct child[]){{"services", SH_MAP_OF, &service_schema},
					   {"networks", SH_MAP_OF, &network_schema},
					   {"volumes", SH_MAP_OF, &volume_schema},
					   {NULL}},
};

static bool in_list(const char *const *list, const char *key)
{
	for (; list && *list; list++)
		if (!strcmp(*list, key))
			return true;
	return false;
}

static void check_map(struct compose_ctx *ctx, const struct cnode *map, const struct schema *sc,
		      const char *path, bool top);

static void check_child(struct compose_ctx *ctx, const struct child *c, const struct cnode *v,
			const char *path)
{
	char sub[COMPOSE_PATH_MAX];
	size_t i;

	if (!v)
		return;
	switch (c->shape) {
	case SH_MAP:
		if (v->kind == CN_MAP)
			check_map(ctx, v, c->schema, path, false);
		break;
	case SH_MAP_OF:
		if (v->kind != CN_MAP)
			break;
		for (i = 0; i < v->n; i++) {
			if (!v->items[i].val || v->items[i].val->kind != CN_MAP)
				continue;
			path_key(sub, sizeof(sub), path, v->items[i].key);
			check_map(ctx, v->items[i].val, c->schema, sub, false);
		}
		break;
	case SH_SEQ_OF_MAP:
		if (v->kind != CN_SEQ)
			break;
		for (i = 0; i < v->n; i++) {
			if (!v->items[i].val || v->items[i].val->kind != CN_MAP)
				continue;
			path_index(sub, sizeof(sub), path, i);
			check_map(ctx, v->items[i].val, c->schema, sub, false);
		}
		break;
	}
}

static void check_map(struct compose_ctx *ctx, const struct cnode *map, const struct schema *sc,
		      const char *path, bool top)
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
		if (in_list(sc->unsupported, e->key)) {
			diag_add(ctx->diags, map->file, e->line, "unsupported key %s (ignored)",
				 sub);
			continue;
		}
		if (!in_list(sc->supported, e->key)) {
			diag_add(ctx->diags, map->file, e->line, "unknown key %s (ignored)", sub);
			continue;
		}
		for (c = sc->children; c && c->key; c++)
			if (!strcmp(c->key, e->key))
				check_child(ctx, c, e->val, sub);
	}
}

void compose_schema_check(struct compose_ctx *ctx, const struct cnode *root)
{
	check_map(ctx, root, &root_schema, "", true);
}
