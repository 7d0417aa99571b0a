/* SPDX-License-Identifier: MIT */
#include "stages/stack/spec.h"

#include <errno.h>
#include <fnmatch.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "stages/stack.h"

static json_object *strv_json(char *const *v, size_t n)
{
	json_object *a = json_object_new_array();
	size_t i;

	for (i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(v[i]));
	return a;
}

static void add_strv(json_object *o, const char *key, char *const *v, size_t n)
{
	if (n)
		json_object_object_add(o, key, strv_json(v, n));
}

static void add_str(json_object *o, const char *key, const char *v)
{
	if (v)
		json_object_object_add(o, key, json_object_new_string(v));
}

static void add_i64(json_object *o, const char *key, int64_t v)
{
	if (v != COMPOSE_UNSET)
		json_object_object_add(o, key, json_object_new_int64(v));
}

/* Is "<what>:<value>" (or "<what>" when value is NULL) in allowed_stack_options? */
static int stack_option_allowed(const struct stack *s, const char *what, const char *value)
{
	const struct pattern_list *l = &s->cfg->allowed_stack_options;
	_cleanup_free_ char *entry = NULL;
	int i;

	if (asprintf(&entry, "%s%s%s", what, value ? ":" : "", value ? value : "") < 0)
		return 0;
	for (i = 0; l->set && i < l->n; i++)
		if (fnmatch(l->items[i], entry, 0) == 0)
			return 1;
	return 0;
}

static int gate(const struct stack *s, const struct compose_service *svc, const char *what,
		const char *value, struct error *err)
{
	if (stack_option_allowed(s, what, value))
		return 0;
	return error_set(err, ERR_POLICY,
			 "%s:%d: service %s asks for %s%s%s, which leaves the container's sandbox: "
			 "not allowed unless the runner admin lists \"%s%s%s\" in "
			 "allowed_stack_options",
			 svc->file, svc->line, svc->name, what, value ? " " : "",
			 value ? value : "", what, value ? ":" : "", value ? value : "");
}

/* A capability as docker writes it: upper case, without CAP_. */
static void cap_name(char *out, size_t size, const char *in)
{
	size_t i = 0;

	if (!strncasecmp(in, "CAP_", 4))
		in += 4;
	for (; *in && i + 1 < size; in++)
		out[i++] = (char)((*in >= 'a' && *in <= 'z') ? *in - 32 : *in);
	out[i] = '\0';
}

/* security_opt entries that only narrow what the container may do */
static int narrowing_security_opt(const char *o)
{
	return !strcmp(o, "no-new-privileges") || !strcmp(o, "no-new-privileges:true") ||
	       !strcmp(o, "no-new-privileges=true") || !strncmp(o, "label:", 6) ||
	       !strncmp(o, "label=", 6);
}

/* Keys the model carries that the driver does not apply yet: refused. */
static int not_applied(const struct compose_service *svc, struct error *err)
{
	const char *key = svc->post_start.n  ? "post_start"
			  : svc->pre_stop.n  ? "pre_stop"
			  : svc->pre_start.n ? "pre_start"
			  : svc->platform    ? "platform"
					     : NULL;

	if (!key)
		return 0;
	return error_set(err, ERR_COMPOSE,
			 "%s:%d: service %s: %s is not carried out by this driver yet; remove it "
			 "(docs/compose.md lists what deploys apply)",
			 svc->file, svc->line, svc->name, key);
}

static int apply_security(const struct stack *s, const struct compose_service *svc,
			  json_object *host, struct error *err)
{
	json_object *caps;
	char cap[64];
	size_t i;

	if (svc->privileged) {
		if (gate(s, svc, "privileged", NULL, err) < 0)
			return -1;
		json_object_object_add(host, "Privileged", json_object_new_boolean(1));
	}
	if (svc->ncap_add) {
		caps = json_object_new_array();
		for (i = 0; i < svc->ncap_add; i++) {
			cap_name(cap, sizeof(cap), svc->cap_add[i]);
			if (gate(s, svc, "cap_add", cap, err) < 0) {
				json_object_put(caps);
				return -1;
			}
			json_object_array_add(caps, json_object_new_string(cap));
		}
		json_object_object_add(host, "CapAdd", caps);
	}
	if (svc->ncap_drop) {
		caps = json_object_new_array();
		for (i = 0; i < svc->ncap_drop; i++) {
			cap_name(cap, sizeof(cap), svc->cap_drop[i]);
			json_object_array_add(caps, json_object_new_string(cap));
		}
		json_object_object_add(host, "CapDrop", caps);
	}
	for (i = 0; i < svc->nsecurity_opt; i++)
		if (!narrowing_security_opt(svc->security_opt[i]) &&
		    gate(s, svc, "security_opt", svc->security_opt[i], err) < 0)
			return -1;
	add_strv(host, "SecurityOpt", svc->security_opt, svc->nsecurity_opt);
	if (svc->ndevices) {
		json_object *devs = json_object_new_array();

		for (i = 0; i < svc->ndevices; i++) {
			const struct compose_device *d = &svc->devices[i];
			json_object *o;

			if (gate(s, svc, "devices", d->source, err) < 0) {
				json_object_put(devs);
				return -1;
			}
			o = json_object_new_object();
			add_str(o, "PathOnHost", d->source);
			add_str(o, "PathInContainer", d->target ? d->target : d->source);
			add_str(o, "CgroupPermissions", d->permissions ? d->permissions : "rwm");
			json_object_array_add(devs, o);
		}
		json_object_object_add(host, "Devices", devs);
	}
	{
		/* the host's namespaces; service:<name> is the peer's container */
		static const struct {
			const char *key, *field;
			size_t off;
		} ns[] = {
			{"pid", "PidMode", offsetof(struct compose_service, pid)},
			{"ipc", "IpcMode", offsetof(struct compose_service, ipc)},
			{"userns_mode", "UsernsMode",
			 offsetof(struct compose_service, userns_mode)},
		};

		for (i = 0; i < ARRAY_SIZE(ns); i++) {
			const char *v = *(char *const *)((const char *)svc + ns[i].off);
			const struct compose_service *peer;

			if (!v)
				continue;
			if (!strncmp(v, "service:", 8)) {
				peer = compose_project_service(s->project, v + 8);
				if (!peer)
					return error_set(
						err, ERR_COMPOSE,
						"%s:%d: service %s: %s %s names no service "
						"of the stack",
						svc->file, svc->line, svc->name, ns[i].key, v);
				{
					_cleanup_free_ char *c = NULL;

					if (asprintf(&c, "container:%s", peer->container_name) < 0)
						return error_set(err, ERR_SYSTEM, "out of memory");
					add_str(host, ns[i].field, c);
				}
				continue;
			}
			/* private, shareable, none: the container's own */
			if (strcmp(v, "private") && strcmp(v, "shareable") && strcmp(v, "none") &&
			    gate(s, svc, ns[i].key, v, err) < 0)
				return -1;
			add_str(host, ns[i].field, v);
		}
	}
	if (svc->oom_kill_disable) {
		if (gate(s, svc, "oom_kill_disable", NULL, err) < 0)
			return -1;
		json_object_object_add(host, "OomKillDisable", json_object_new_boolean(1));
	}
	return 0;
}

static void apply_resources(const struct compose_service *svc, json_object *host)
{
	double cpus = svc->limits.cpus > 0 ? svc->limits.cpus : svc->cpus;
	int64_t mem = svc->limits.memory != COMPOSE_UNSET ? svc->limits.memory : svc->mem_limit;
	int64_t res = svc->reservations.memory != COMPOSE_UNSET ? svc->reservations.memory
								: svc->mem_reservation;
	int64_t pids = svc->limits.pids != COMPOSE_UNSET ? svc->limits.pids : svc->pids_limit;

	if (cpus > 0)
		json_object_object_add(host, "NanoCpus",
				       json_object_new_int64((int64_t)(cpus * 1e9 + 0.5)));
	add_i64(host, "Memory", mem);
	add_i64(host, "MemoryReservation", res);
	add_i64(host, "MemorySwap", svc->memswap_limit);
	add_i64(host, "PidsLimit", pids);
	add_i64(host, "CpuShares", svc->cpu_shares);
	add_i64(host, "CpuQuota", svc->cpu_quota);
	add_i64(host, "CpuPeriod", svc->cpu_period);
	add_str(host, "CpusetCpus", svc->cpuset);
	add_i64(host, "ShmSize", svc->shm_size);
	add_i64(host, "OomScoreAdj", svc->oom_score_adj);
	if (svc->nulimits) {
		json_object *u = json_object_new_array();
		size_t i;

		for (i = 0; i < svc->nulimits; i++) {
			json_object *o = json_object_new_object();

			add_str(o, "Name", svc->ulimits[i].name);
			json_object_object_add(o, "Soft",
					       json_object_new_int64(svc->ulimits[i].soft));
			json_object_object_add(o, "Hard",
					       json_object_new_int64(svc->ulimits[i].hard));
			json_object_array_add(u, o);
		}
		json_object_object_add(host, "Ulimits", u);
	}
}

int stackspec_apply(const struct stack *s, const struct compose_service *svc, json_object *cfg,
		    json_object *host, struct error *err)
{
	size_t i;

	if (not_applied(svc, err) < 0 || apply_security(s, svc, host, err) < 0)
		return -1;

	apply_resources(svc, host);
	if (svc->read_only)
		json_object_object_add(host, "ReadonlyRootfs", json_object_new_boolean(1));
	if (svc->nsysctls) {
		json_object *o = json_object_new_object();

		for (i = 0; i < svc->nsysctls; i++)
			add_str(o, svc->sysctls[i].key,
				svc->sysctls[i].value ? svc->sysctls[i].value : "");
		json_object_object_add(host, "Sysctls", o);
	}
	if (svc->ntmpfs) {
		json_object *o = json_object_new_object();

		for (i = 0; i < svc->ntmpfs; i++) {
			_cleanup_free_ char *path = strdup(svc->tmpfs[i]);
			char *colon = path ? strchr(path, ':') : NULL;

			if (!path)
				return error_set(err, ERR_SYSTEM, "out of memory");
			if (colon)
				*colon++ = '\0';
			add_str(o, path, colon ? colon : "");
		}
		json_object_object_add(host, "Tmpfs", o);
	}
	add_strv(host, "Dns", svc->dns, svc->ndns);
	add_strv(host, "DnsSearch", svc->dns_search, svc->ndns_search);
	add_strv(host, "DnsOptions", svc->dns_opt, svc->ndns_opt);
	add_strv(host, "GroupAdd", svc->group_add, svc->ngroup_add);
	if (svc->nlinks) {
		/* the engine's legacy links resolve by container name */
		json_object *l = json_object_new_array();

		for (i = 0; i < svc->nlinks; i++) {
			_cleanup_free_ char *name = strdup(svc->links[i]), *v = NULL;
			char *alias = name ? strchr(name, ':') : NULL;
			const struct compose_service *peer;

			if (!name) {
				json_object_put(l);
				return error_set(err, ERR_SYSTEM, "out of memory");
			}
			if (alias)
				*alias++ = '\0';
			peer = compose_project_service(s->project, name);
			if (asprintf(&v, "%s:%s", peer ? peer->container_name : name,
				     alias ? alias : name) < 0) {
				json_object_put(l);
				return error_set(err, ERR_SYSTEM, "out of memory");
			}
			json_object_array_add(l, json_object_new_string(v));
		}
		json_object_object_add(host, "Links", l);
	}
	if (svc->init >= 0)
		json_object_object_add(host, "Init", json_object_new_boolean(svc->init));
	if (svc->logging_set) {
		json_object *lc = json_object_new_object(), *opts = json_object_new_object();

		add_str(lc, "Type", svc->logging.driver ? svc->logging.driver : "json-file");
		for (i = 0; i < svc->logging.noptions; i++)
			add_str(opts, svc->logging.options[i].key,
				svc->logging.options[i].value ? svc->logging.options[i].value : "");
		json_object_object_add(lc, "Config", opts);
		json_object_object_add(host, "LogConfig", lc);
	}
	add_str(cfg, "StopSignal", svc->stop_signal);
	add_str(cfg, "Domainname", svc->domainname);
	add_str(cfg, "MacAddress", svc->mac_address);
	if (svc->stdin_open)
		json_object_object_add(cfg, "OpenStdin", json_object_new_boolean(1));
	if (svc->tty)
		json_object_object_add(cfg, "Tty", json_object_new_boolean(1));
	return 0;
}

static json_object *kv_object(const struct compose_kv *kv, size_t n)
{
	json_object *o = json_object_new_object();
	size_t i;

	for (i = 0; i < n; i++)
		add_str(o, kv[i].key, kv[i].value ? kv[i].value : "");
	return o;
}

void stackspec_network_options(const struct compose_resource *r, json_object *body)
{
	if (r->driver)
		json_object_object_add(body, "Driver", json_object_new_string(r->driver));
	if (r->internal)
		json_object_object_add(body, "Internal", json_object_new_boolean(1));
	if (r->attachable)
		json_object_object_add(body, "Attachable", json_object_new_boolean(1));
	if (r->enable_ipv6 >= 0)
		json_object_object_add(body, "EnableIPv6", json_object_new_boolean(r->enable_ipv6));
	if (r->ndriver_opts)
		json_object_object_add(body, "Options", kv_object(r->driver_opts, r->ndriver_opts));
	if (r->ipam) {
		json_object *ipam = json_object_new_object(), *cfgs = json_object_new_array();
		size_t i;

		add_str(ipam, "Driver", r->ipam->driver ? r->ipam->driver : "default");
		for (i = 0; i < r->ipam->nconfig; i++) {
			const struct compose_ipam_pool *p = &r->ipam->config[i];
			json_object *c = json_object_new_object();

			add_str(c, "Subnet", p->subnet);
			add_str(c, "IPRange", p->ip_range);
			add_str(c, "Gateway", p->gateway);
			if (p->naux_addresses)
				json_object_object_add(
					c, "AuxiliaryAddresses",
					kv_object(p->aux_addresses, p->naux_addresses));
			json_object_array_add(cfgs, c);
		}
		json_object_object_add(ipam, "Config", cfgs);
		if (r->ipam->noptions)
			json_object_object_add(ipam, "Options",
					       kv_object(r->ipam->options, r->ipam->noptions));
		json_object_object_add(body, "IPAM", ipam);
	}
}

void stackspec_volume_options(const struct compose_resource *r, json_object *body)
{
	if (r->driver)
		json_object_object_add(body, "Driver", json_object_new_string(r->driver));
	if (r->ndriver_opts)
		json_object_object_add(body, "DriverOpts",
				       kv_object(r->driver_opts, r->ndriver_opts));
}

static const struct compose_file_def *file_def(const struct compose_project *p, int secret,
					       const char *key)
{
	const struct compose_file_def *defs = secret ? p->secrets : p->configs;
	size_t i, n = secret ? p->nsecrets : p->nconfigs;

	for (i = 0; i < n; i++)
		if (!strcmp(defs[i].key, key))
			return &defs[i];
	return NULL;
}

/* The content of a secret or config: its file's (beneath the project),
 * its variable's, or the inline one. */
static int file_content(const struct stack *s, const struct compose_service *svc,
			const struct compose_file_def *def, const char *kind, struct buf *out,
			struct error *err)
{
	if (def->external)
		return error_set(err, ERR_COMPOSE,
				 "%s:%d: %s %s is external (a swarm object): deployments here take "
				 "%s from a file, a variable or inline content",
				 def->file_decl ? def->file_decl : svc->file, def->line, kind,
				 def->key, kind);
	if (def->file) {
		const char *root = s->project->working_dir;
		const char *rel = root ? fs_rel_below(root, def->file) : NULL;

		if (!rel)
			return error_set(err, ERR_POLICY,
					 "%s:%d: %s %s: %s is outside the repository; keep it in "
					 "the repository or give it as a variable",
					 def->file_decl ? def->file_decl : svc->file, def->line,
					 kind, def->key, def->file);
		if (fs_read_beneath(root, rel, out, 1 << 20, err) < 0)
			return error_wrap(err, "%s %s", kind, def->key);
		return 0;
	}
	if (def->environment) {
		const char *v = s->lookup ? s->lookup(def->environment, s->lookup_payload) : NULL;

		if (!v)
			return error_set(
				err, ERR_COMPOSE,
				"%s:%d: %s %s takes the variable %s, which is not set; set "
				"it as a CI/CD variable",
				def->file_decl ? def->file_decl : svc->file, def->line, kind,
				def->key, def->environment);
		return buf_puts(out, v) < 0 ? error_set(err, ERR_SYSTEM, "out of memory") : 0;
	}
	if (def->content)
		return buf_puts(out, def->content) < 0 ? error_set(err, ERR_SYSTEM, "out of memory")
						       : 0;
	return error_set(err, ERR_COMPOSE, "%s:%d: %s %s has no file, environment or content",
			 def->file_decl ? def->file_decl : svc->file, def->line, kind, def->key);
}

static int write_file(const char *dir, const char *key, const struct buf *content,
		      const struct compose_file_ref *ref, mode_t mode, struct error *err)
{
	_cleanup_free_ char *path = NULL;

	if (fs_mkdir_p(dir, 0700, err) < 0)
		return -1;
	if (asprintf(&path, "%s/%s", dir, key) < 0) {
		path = NULL;
		return error_set(err, ERR_SYSTEM, "out of memory");
	}
	if (fs_write_atomic(path, content->data ? content->data : "", content->len, mode, err) < 0)
		return -1;
	if ((ref->uid || ref->gid) && chown(path, ref->uid ? (uid_t)strtoul(ref->uid, NULL, 10) : 0,
					    ref->gid ? (gid_t)strtoul(ref->gid, NULL, 10) : 0) < 0)
		return error_set_errno(err, ERR_IO, errno, "chown %s", path);
	return 0;
}

int stackspec_files(const struct stack *s, const struct compose_service *svc, json_object *mounts,
		    char digest[65], int write, struct error *err)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char raw[32];
	unsigned int rawlen = 0;
	int pass, rc = -1;
	size_t i;

	digest[0] = '\0';
	if (!md)
		return error_set(err, ERR_SYSTEM, "out of memory");
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	for (pass = 0; pass < 2; pass++) {
		int secret = pass == 0;
		const char *kind = secret ? "secret" : "config";
		const struct compose_file_ref *refs = secret ? svc->secrets : svc->configs;
		size_t n = secret ? svc->nsecrets : svc->nconfigs;

		for (i = 0; i < n; i++) {
			const struct compose_file_ref *ref = &refs[i];
			const struct compose_file_def *def =
				file_def(s->project, secret, ref->source);
			mode_t mode =
				ref->mode == COMPOSE_UNSET ? 0444 : (mode_t)(ref->mode & 07777);
			_cleanup_free_ char *dir = NULL, *src = NULL;
			struct buf content = BUF_INIT;
			char meta[256];
			json_object *m;

			if (!def) {
				error_set(err, ERR_COMPOSE, "%s:%d: service %s: no %s named %s",
					  svc->file, svc->line, svc->name, kind, ref->source);
				goto out;
			}
			if (file_content(s, svc, def, kind, &content, err) < 0) {
				buf_release(&content);
				goto out;
			}
			if (!s->files_dir) {
				buf_release(&content);
				error_set(err, ERR_COMPOSE,
					  "%s:%d: service %s: %ss need a deployment's env",
					  svc->file, svc->line, svc->name, kind);
				goto out;
			}
			if (secret && content.len)
				log_add_secret(buf_str(&content));
			if (asprintf(&dir, "%s/%ss", s->files_dir, kind) < 0 ||
			    asprintf(&src, "%s/%s", dir, def->key) < 0) {
				buf_release(&content);
				error_set(err, ERR_SYSTEM, "out of memory");
				goto out;
			}
			snprintf(meta, sizeof(meta), "%s/%s %o %s:%s %zu\n", kind, def->key,
				 (unsigned)mode, ref->uid ? ref->uid : "0",
				 ref->gid ? ref->gid : "0", content.len);
			EVP_DigestUpdate(md, meta, strlen(meta));
			EVP_DigestUpdate(md, content.data ? content.data : "", content.len);
			if (write && write_file(dir, def->key, &content, ref, mode, err) < 0) {
				buf_release(&content);
				goto out;
			}
			buf_release(&content);
			if (!mounts)
				continue;
			m = json_object_new_object();
			add_str(m, "Type", "bind");
			add_str(m, "Source", src);
			add_str(m, "Target", ref->target);
			json_object_object_add(m, "ReadOnly", json_object_new_boolean(1));
			json_object_array_add(mounts, m);
		}
	}
	if (svc->nsecrets || svc->nconfigs) {
		EVP_DigestFinal_ex(md, raw, &rawlen);
		for (i = 0; i < rawlen && i < 32; i++)
			snprintf(digest + 2 * i, 3, "%02x", raw[i]);
	}
	rc = 0;
out:
	EVP_MD_CTX_free(md);
	return rc;
}
