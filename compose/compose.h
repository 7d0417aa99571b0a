/* SPDX-License-Identifier: MIT */
#ifndef COMPOSE_COMPOSE_H
#define COMPOSE_COMPOSE_H

/*
 * The Compose-file reader: one or more stack files, merged the way
 * `docker compose -f a.yml -f b.yml` merges them, interpolated with the
 * caller's variables, checked, and turned into a plain C model that the
 * deploy code drives the Engine API with.  Nothing here talks to the engine.
 *
 *	const char *files[] = {"docker-compose.yml", "docker-compose.green.yml"};
 *	struct compose_load_opts opts = {
 *		.files = files, .nfiles = 2, .project_name = "echobase-green",
 *		.lookup = my_lookup, .payload = vars,
 *	};
 *	struct compose_diags diags = COMPOSE_DIAGS_INIT;
 *	struct compose_project *p;
 *	if (compose_load(&opts, &p, &diags, &err) < 0) ...   // err: "file:line: ..."
 *	for (i = 0; i < diags.n; i++) log_warn("%s:%d: %s", ...);
 *	...
 *	compose_project_free(p);
 *	compose_diags_release(&diags);
 *
 * The supported subset and the merge rules are described in docs/compose.md.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/error.h"
#include "compose/interp.h"

/* ---- diagnostics: warnings the caller prints, "file:line: message" ---- */

struct compose_diag {
	char *file;    /* the stack file (or env_file) as named to the reader */
	int line;      /* 1-based; 0 when not tied to a line */
	char *message; /* e.g. "unsupported key services.api.deploy (ignored)" */
};

struct compose_diags {
	struct compose_diag *items;
	size_t n, cap;
};

#define COMPOSE_DIAGS_INIT                                                                         \
	{                                                                                          \
		.items = NULL, .n = 0, .cap = 0                                                    \
	}

void compose_diags_release(struct compose_diags *d);

/* ---- the model ---- */

/* An ordered name/value pair; value NULL means "declared but unset". */
struct compose_kv {
	char *key;
	char *value;
};

/* command, entrypoint, healthcheck test.  set=false: the image's default. */
struct compose_argv {
	bool set;
	char **argv; /* argc strings, then NULL */
	size_t argc;
};

/* One published or exposed container port; ranges are expanded one port per entry. */
struct compose_port {
	char *host_ip;	     /* NULL: all interfaces */
	int published_start; /* 0: not bound to a fixed host port (the engine picks one) */
	int published_end;   /* == published_start, except "8000-8010:80" (engine picks in range) */
	int target;	     /* the container port */
	char protocol[8];    /* "tcp", "udp" or "sctp" */
};

enum compose_mount_type {
	COMPOSE_MOUNT_BIND,
	COMPOSE_MOUNT_VOLUME,
	COMPOSE_MOUNT_TMPFS,
};

struct compose_mount {
	enum compose_mount_type type;
	/* bind: absolute host path (relative paths resolved against the project
	 * directory, ~ against $HOME); volume: the key in compose_project.volumes,
	 * NULL for an anonymous volume; tmpfs: NULL */
	char *source;
	char *volume_name; /* volume: the engine's name for it; NULL when anonymous */
	char *target;	   /* absolute path in the container */
	bool read_only;
	bool create_host_path; /* bind: create a missing source (Compose's default) */
	bool nocopy;	       /* volume: do not copy image content into a new volume */
	int64_t tmpfs_size;    /* tmpfs: bytes, 0 = engine default */
	uint32_t tmpfs_mode;   /* tmpfs: permission bits, 0 = engine default */
	/* Only when set (NULL otherwise), in the canonical JSON only then: */
	char *propagation; /* bind: rprivate, private, rshared, shared, rslave, slave */
	char *selinux;	   /* bind: "z" (shared label) or "Z" (private label) */
	char *subpath;	   /* volume: a path inside the volume to mount instead of its root */
};

enum compose_condition {
	COMPOSE_COND_STARTED,	/* service_started (the list form) */
	COMPOSE_COND_HEALTHY,	/* service_healthy */
	COMPOSE_COND_COMPLETED, /* service_completed_successfully */
};

struct compose_dependency {
	char *service;
	enum compose_condition condition;
	bool required; /* default true; an optional missing service is dropped with a warning */
	bool restart;  /* restart this service when the dependency is updated */
};

struct compose_healthcheck {
	bool set;     /* the service has a healthcheck: key; false = the image's */
	bool disable; /* disable: true or test: [NONE]; test is then ["NONE"] */
	/* ["CMD", arg...], ["CMD-SHELL", command] or ["NONE"]; a string test becomes CMD-SHELL.
	 * test.set=false: the image's test with these timings. */
	struct compose_argv test;
	int64_t interval_ms; /* -1 = engine default, for all four */
	int64_t timeout_ms;
	int64_t start_period_ms;
	int64_t start_interval_ms;
	int retries; /* -1 = engine default */
};

/* A service's attachment to a network. */
struct compose_service_network {
	char *key;	/* the key in compose_project.networks */
	char *name;	/* the engine's name of that network */
	char **aliases; /* DNS names on it: always the service name first, then the file's */
	size_t naliases;
	char *ipv4_address; /* fixed addresses on it; NULL: the engine's IPAM picks one */
	char *ipv6_address;
	int priority; /* the order the engine attaches networks in (higher first); 0 */
};

/*
 * Absent integer settings.  Every int64_t resource field below is
 * COMPOSE_UNSET unless the file sets it, so 0 and -1 keep their engine
 * meaning (memswap_limit: -1 = unlimited swap).
 */
#define COMPOSE_UNSET INT64_MIN

/* build: (the deploy side decides what to do with it: compose_service.image names what runs) */
struct compose_build {
	bool set;
	char *context;		 /* absolute when a local path; a URL (git, http) as written */
	char *dockerfile;	 /* relative to context, as written; NULL = Dockerfile */
	char *target;		 /* multi-stage target, NULL = last stage */
	struct compose_kv *args; /* value NULL = taken from the build's environment */
	size_t nargs;
};

/* A service's secret or config: a file mounted read-only in the container. */
struct compose_file_ref {
	char *source; /* the key in compose_project.secrets / .configs */
	/* absolute path in the container: secrets default to /run/secrets/<source>,
	 * configs to /<source>; a relative target of a secret is under /run/secrets */
	char *target;
	char *uid;    /* NULL = 0 (root) */
	char *gid;    /* NULL = 0 */
	int64_t mode; /* permission bits; COMPOSE_UNSET = 0444 */
};

/* Top-level secrets: / configs: entry. */
struct compose_file_def {
	char *key;
	char *name;	   /* `name:`, else "<project>_<key>" (external: the key) */
	char *file;	   /* absolute path beneath the project (or the root), or NULL */
	char *environment; /* a variable name: the value is that variable's, or NULL */
	char *content;	   /* the inline content (interpolated), or NULL */
	bool external;	   /* managed outside the project (a swarm object): refused by deploys */
	struct compose_kv *labels;
	size_t nlabels;
	char *file_decl; /* where declared */
	int line;
};

struct compose_ulimit {
	char *name;   /* nofile, nproc, ... */
	int64_t soft; /* a single value sets both */
	int64_t hard;
};

struct compose_device {
	char *source;	   /* host device path */
	char *target;	   /* container path (default: the source) */
	char *permissions; /* cgroup permissions, default "rwm" */
};

/* post_start / pre_stop: exec in the container; pre_start: an init container. */
struct compose_hook {
	struct compose_argv command;
	char *image; /* pre_start only: NULL = the service's image */
	char *user;
	char *working_dir;
	bool privileged;
	bool per_replica;		/* pre_start only */
	struct compose_kv *environment; /* added to / overriding the service's */
	size_t nenvironment;
};

struct compose_hooks {
	struct compose_hook *items;
	size_t n;
};

struct compose_logging {
	char *driver; /* NULL = the engine's default */
	struct compose_kv *options;
	size_t noptions;
};

/* deploy.resources.limits / reservations */
struct compose_resource_spec {
	double cpus;	/* 0 = unset */
	int64_t memory; /* bytes; COMPOSE_UNSET */
	int64_t pids;	/* COMPOSE_UNSET */
};

struct compose_service {
	char *name;
	char *file; /* where the service is first declared */
	int line;

	char *image;
	char *container_name;	 /* given, or Compose's default "<project>-<service>-1" */
	bool container_name_set; /* the file gave it */
	struct compose_argv command;
	struct compose_argv entrypoint;
	/* env_file entries first (in order, later files win), then environment:
	 * one entry per name, in first-declared order; value NULL = unset */
	struct compose_kv *environment;
	size_t nenvironment;
	struct compose_port *ports;
	size_t nports;
	struct compose_port *expose; /* host fields unused */
	size_t nexpose;
	/* "host", "none", "bridge", "service:<name>" or "container:<name>"; NULL:
	 * the service is on its networks (which it then may not name) */
	char *network_mode;
	/* never empty unless network_mode is set: a service that names none is
	 * on "default" */
	struct compose_service_network *networks;
	size_t nnetworks;
	struct compose_mount *volumes;
	size_t nvolumes;
	struct compose_dependency *depends_on; /* sorted by service */
	size_t ndepends_on;
	struct compose_healthcheck healthcheck;
	char *restart;		 /* "no", "always", "on-failure", "unless-stopped"; NULL = unset */
	int restart_max_retries; /* on-failure[:N]; 0 = unlimited */
	struct compose_kv *labels;
	size_t nlabels;
	char *user;
	char *working_dir;
	char *hostname;
	struct compose_kv *extra_hosts; /* host -> IP, "host:ip" for the engine */
	size_t nextra_hosts;
	int64_t stop_grace_period_ms; /* -1 = engine default */

	/*
	 * Every field below is "unset" unless the file sets it (NULL, 0 entries,
	 * false, COMPOSE_UNSET, or -1 for the tri-state ints), and the canonical
	 * JSON carries a field only when it is set, so the hash of a service that
	 * uses none of them is what it was before they were read.
	 * The Engine API field each maps to is in docs/compose.md.
	 */
	struct compose_build build;
	char **profiles; /* the service runs only when one of them is active */
	size_t nprofiles;
	char *pull_policy; /* always, never, missing, build, daily, weekly, every_<d> */
	char *platform;	   /* os[/arch[/variant]] */
	char **cap_add;	   /* capabilities, as written (ALL, NET_ADMIN, CAP_SYS_TIME...) */
	size_t ncap_add;
	char **cap_drop;
	size_t ncap_drop;
	struct compose_kv *sysctls;
	size_t nsysctls;
	bool read_only; /* the root filesystem */
	char **security_opt;
	size_t nsecurity_opt;
	char **tmpfs; /* "path" or "path:options" */
	size_t ntmpfs;
	struct compose_file_ref *secrets;
	size_t nsecrets;
	struct compose_file_ref *configs;
	size_t nconfigs;
	char **links; /* "service" or "service:alias" */
	size_t nlinks;
	char **dns;
	size_t ndns;
	char **dns_search;
	size_t ndns_search;
	char **dns_opt;
	size_t ndns_opt;
	int init;	   /* -1 unset, 0 false, 1 true */
	char *stop_signal; /* SIGINT, 2, ... */
	struct compose_ulimit *ulimits;
	size_t nulimits;
	struct compose_logging logging;
	bool logging_set;
	struct compose_resource_spec limits;	   /* deploy.resources.limits */
	struct compose_resource_spec reservations; /* deploy.resources.reservations */
	int64_t pids_limit;
	int64_t mem_limit; /* bytes */
	int64_t mem_reservation;
	int64_t memswap_limit; /* -1: unlimited */
	double cpus;	       /* 0 = unset */
	int64_t cpu_shares;
	int64_t cpu_quota;  /* microseconds */
	int64_t cpu_period; /* microseconds */
	char *cpuset;
	int64_t shm_size; /* bytes */
	bool privileged;
	struct compose_device *devices;
	size_t ndevices;
	char **group_add;
	size_t ngroup_add;
	bool stdin_open;
	bool tty;
	char *domainname;
	char *mac_address;
	bool oom_kill_disable;
	int64_t oom_score_adj; /* -1000..1000 */
	char *pid;	       /* host, service:<name>, container:<name> */
	char *ipc;	   /* host, private, shareable, none, service:<name>, container:<name> */
	char *userns_mode; /* host */
	struct compose_hooks post_start;
	struct compose_hooks pre_stop;
	struct compose_hooks pre_start;
};

struct compose_ipam;

/* A top-level network or volume. */
struct compose_resource {
	char *key;  /* as written under networks: / volumes: */
	char *name; /* engine name: `name:`, else the key when external, else "<project>_<key>" */
	bool external; /* exists already; never created or removed by the project */
	bool implicit; /* not declared: the "default" network Compose adds */
	char *driver;  /* NULL = engine default */
	struct compose_kv *labels;
	size_t nlabels;
	char *file; /* where declared (NULL when implicit) */
	int line;
	struct compose_kv *driver_opts; /* networks and volumes */
	size_t ndriver_opts;
	/* networks only */
	bool internal;		   /* no route out of the network */
	bool attachable;	   /* standalone containers may join (swarm overlay) */
	int enable_ipv4;	   /* -1 unset, 0, 1 */
	int enable_ipv6;	   /* -1 unset, 0, 1 */
	struct compose_ipam *ipam; /* NULL = the engine's default IPAM */
};

struct compose_ipam_pool {
	char *subnet; /* CIDR */
	char *ip_range;
	char *gateway;
	struct compose_kv *aux_addresses; /* name -> address */
	size_t naux_addresses;
};

struct compose_ipam {
	char *driver; /* NULL = "default" */
	struct compose_ipam_pool *config;
	size_t nconfig;
	struct compose_kv *options;
	size_t noptions;
};

struct compose_project {
	char *name;	   /* validated: [a-z0-9][a-z0-9_-]* */
	char *working_dir; /* absolute project directory (relative paths resolve here) */
	struct compose_service *services; /* sorted by name */
	size_t nservices;
	struct compose_resource *networks; /* sorted by key */
	size_t nnetworks;
	struct compose_resource *volumes; /* sorted by key */
	size_t nvolumes;
	struct compose_file_def *secrets; /* sorted by key */
	size_t nsecrets;
	struct compose_file_def *configs; /* sorted by key */
	size_t nconfigs;
	/* services left out because none of their profiles is active (sorted) */
	char **disabled;
	size_t ndisabled;
};

/* ---- loading ---- */

struct compose_load_opts {
	/* Stack files in -f order, at least one.  Relative paths in all of them
	 * resolve against the project directory, as Compose does. */
	const char *const *files;
	size_t nfiles;
	/* Optional, parallel to files: the text of files[i] in memory (an entry
	 * of NULL reads files[i] from disk).  For tests and fuzzing. */
	const char *const *contents;
	/*
	 * The project name, like `docker compose -p`.  Precedence: project_name
	 * > COMPOSE_PROJECT_NAME (from the variables or the .env file) > the
	 * file's top-level `name:` > project_name_default > the directory.
	 * With file_name_wins, the file's `name:` (when it has one) comes first.
	 */
	const char *project_name;
	bool file_name_wins;
	/* Used when neither project_name nor `name:` is set; when this is NULL
	 * too, the project directory's base name, normalized as Compose does. */
	const char *project_name_default;
	/* Default: the directory of files[0]. */
	const char *project_dir;
	/* The repository the files come from (a checkout), or NULL.  When set,
	 * every file the reader opens from disk (stack files, env_file entries)
	 * must lie below it and is opened beneath it: a link is followed only
	 * while it stays inside (common/fs.h fs_open_beneath), and one that
	 * leads out is refused with ERR_POLICY ("durable/docker-compose.yml is a
	 * link that leads out of the repository; ...").  When NULL, stack files
	 * are read as named and env files beneath the project directory. */
	const char *root;
	/* Interpolation variables: the job's variables, the env's secrets, the
	 * driver's own names.  May be NULL (no variables). */
	compose_lookup_fn lookup;
	void *payload;
	/*
	 * The project directory's `.env` file is read for interpolation (and for
	 * `environment: [NAME]` entries), as Compose does: the caller's
	 * variables win over it.  Read beneath root (or the project directory).
	 * no_dotenv: do not read it.
	 */
	bool no_dotenv;
	/*
	 * Active profiles (`--profile`, COMPOSE_PROFILES, EXECUTOR_PROFILES);
	 * "*" activates every profile.  A service with profiles: runs only when
	 * one of its profiles is active; services without profiles always run.
	 */
	const char *const *profiles;
	size_t nprofiles;
};

/*
 * Read, interpolate and merge the files and build the model.  Returns 0 and
 * a project in *out, or -1 with one ERR_COMPOSE error naming the file and
 * line ("docker-compose.green.yml:14: services.api-gateway.ports[0]:
 * expected a string or mapping, got a sequence"); ERR_IO when a file cannot
 * be read.  Warnings (unknown keys, unset variables, ignored options) are
 * appended to diags; with diags NULL they go to log_warn().
 */
int compose_load(const struct compose_load_opts *opts, struct compose_project **out,
		 struct compose_diags *diags, struct error *err);

void compose_project_free(struct compose_project *p);

const struct compose_service *compose_project_service(const struct compose_project *p,
						      const char *name);
const struct compose_resource *compose_project_network(const struct compose_project *p,
						       const char *key);
const struct compose_resource *compose_project_volume(const struct compose_project *p,
						      const char *key);
/* Was the service left out because none of its profiles is active? */
bool compose_project_disabled(const struct compose_project *p, const char *name);

/*
 * Start order: fills order[0..p->nservices) with indexes into p->services
 * such that every service comes after the services it depends on; the order
 * is deterministic (a depth-first walk in name order); stop in the reverse
 * order.  -1 with ERR_COMPOSE naming the cycle ("dependency cycle: a -> b ->
 * a"); compose_load() already refuses cycles, so after a load it succeeds.
 */
int compose_project_start_order(const struct compose_project *p, size_t *order, struct error *err);

/*
 * The canonical JSON of a service: every field of the model in a fixed
 * order, environment, labels, extra_hosts, networks and depends_on sorted by
 * name, and the declaring file and line left out.  Holds environment values,
 * which may be secrets: hash it, never log it.
 */
int compose_service_json(const struct compose_service *s, struct buf *out, struct error *err);

#define COMPOSE_HASH_HEX_LEN 64

/* SHA-256 (hex) of compose_service_json(): changes when the service must be recreated. */
int compose_service_hash(const struct compose_service *s, char hex[COMPOSE_HASH_HEX_LEN + 1],
			 struct error *err);

/*
 * The resolved project as `docker compose config` prints it (compose/config.c):
 * name, services (long syntax, every default filled in: ports, volumes,
 * depends_on, networks), networks, volumes, secrets and configs, keys sorted.
 * Environment values are included: this is for the person who owns the stack
 * (`executor compose config`), never for a job log.
 */
int compose_project_config_json(const struct compose_project *p, struct buf *out,
				struct error *err);
/* The same document as YAML (block style, strings quoted when YAML would read them otherwise). */
int compose_project_config_yaml(const struct compose_project *p, struct buf *out,
				struct error *err);

#endif
