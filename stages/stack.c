/* SPDX-License-Identifier: MIT */
#include "stages/stack.h"

#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "docker/imagepull.h"
#include "stages/stackspec.h"

#define COMPOSE_VERSION_LABEL "2.20.0"

void stack_report_release(struct stack_report *r)
{
	buf_release(&r->drift);
}

static void sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int n = 0;
	size_t i;

	EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
	for (i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static json_object *argv_json(const struct compose_argv *a)
{
	json_object *arr = json_object_new_array();
	size_t i;

	for (i = 0; i < a->argc; i++)
		json_object_array_add(arr, json_object_new_string(a->argv[i]));
	return arr;
}

static void add_label(json_object *labels, const char *k, const char *v)
{
	json_object_object_add(labels, k, json_object_new_string(v ? v : ""));
}

static json_object *project_labels(const struct stack *s)
{
	json_object *l = json_object_new_object();

	add_label(l, "com.docker.compose.project", s->project->name);
	add_label(l, "com.docker.compose.project.working_dir", s->project->working_dir);
	if (s->config_files)
		add_label(l, "com.docker.compose.project.config_files", s->config_files);
	add_label(l, "com.docker.compose.version", COMPOSE_VERSION_LABEL);
	add_label(l, "io.executor.managed", "true");
	add_label(l, STACK_LABEL_LAYER, s->layer);
	if (s->app)
		add_label(l, STACK_LABEL_APP, s->app);
	if (s->env)
		add_label(l, STACK_LABEL_ENV, s->env);
	if (s->color)
		add_label(l, STACK_LABEL_COLOR, s->color);
	return l;
}

/* A bind source outside the project directory must be one of the driver's
 * own directories or a path the admin allows (sources below the project
 * directory are resolved beneath it by bind_source()). */
static int bind_allowed(const struct stack *s, const char *src)
{
	const struct pattern_list *allowed = &s->cfg->allowed_bind_paths;
	size_t i;
	int k;

	if (strstr(src, "/../") || (strlen(src) >= 3 && !strcmp(src + strlen(src) - 3, "/..")))
		return 0;
	for (i = 0; s->bind_roots && s->bind_roots[i]; i++) {
		size_t n = strlen(s->bind_roots[i]);

		if (!strncmp(src, s->bind_roots[i], n) && (src[n] == '/' || !src[n]))
			return 1;
	}
	for (k = 0; k < allowed->n; k++) {
		size_t n = strlen(allowed->items[k]);

		if (fnmatch(allowed->items[k], src, 0) == 0)
			return 1;
		if (!strncmp(src, allowed->items[k], n) && src[n] == '/')
			return 1;
	}
	return 0;
}

/* A warning about the stack's definition, once per process: a service's
 * create body is built more than once (checked before anything is created,
 * then for the create, from the service's own thread). */
static void warn_once(const char *msg)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static char *seen[64];
	static size_t n;
	size_t i;

	pthread_mutex_lock(&lock);
	for (i = 0; i < n; i++)
		if (!strcmp(seen[i], msg))
			break;
	if (i == n) {
		log_warn("%s", msg);
		if (n < ARRAY_SIZE(seen) && (seen[n] = strdup(msg)))
			n++;
	}
	pthread_mutex_unlock(&lock);
}

/*
 * The host path handed to the engine for a bind source.  Below the project
 * directory (the checkout) the source is resolved beneath it: a link that
 * stays inside is followed, one that leads out is refused, and the engine
 * gets the real path, with no link left for it to follow.  A missing source
 * is created the same way (Compose's create_host_path).  *in_checkout says
 * so.  Elsewhere: the driver's own directories or allowed_bind_paths, as
 * written.
 */
static int bind_source(const struct stack *s, const struct compose_service *svc,
		       const struct compose_mount *m, char *out, size_t size, int *in_checkout,
		       struct error *err)
{
	const char *wd = s->project->working_dir;
	const char *rel = wd ? fs_rel_below(wd, m->source) : NULL;
	/* the stack file as the repository names it */
	const char *file =
		wd && fs_rel_below(wd, svc->file) ? fs_rel_below(wd, svc->file) : svc->file;

	*in_checkout = rel != NULL;
	if (rel) {
		if (m->create_host_path && fs_exists_beneath(wd, rel) == 0 &&
		    fs_mkdir_beneath(wd, rel, 0755, err) < 0)
			return error_wrap(err, "%s:%d: service %s bind-mounts %s", file, svc->line,
					  svc->name, rel);
		if (fs_resolve_beneath(wd, rel, out, size, err) < 0)
			return error_wrap(err, "%s:%d: service %s bind-mounts %s", file, svc->line,
					  svc->name, rel);
		/* the checkout is written on the host by the next job's fetch: no
		 * container may plant a link in it meanwhile (libgit2 would write
		 * through it), so what comes from it is mounted read-only */
		if (!m->read_only) {
			char msg[1024];

			snprintf(
				msg, sizeof(msg),
				"%s:%d: service %s bind-mounts %s from the repository: mounted "
				"read-only (the checkout is the driver's; write to a named volume)",
				file, svc->line, svc->name, rel);
			warn_once(msg);
		}
		return 0;
	}
	if (!bind_allowed(s, m->source))
		return error_set(err, ERR_POLICY,
				 "%s:%d: service %s bind-mounts %s, outside the "
				 "project and the paths the runner admin allows "
				 "(allowed_bind_paths: %s); use a named volume",
				 file, svc->line, svc->name, m->source,
				 s->cfg->allowed_bind_paths.n
					 ? pattern_list_str(&s->cfg->allowed_bind_paths)
					 : "(none)");
	if (m->create_host_path && access(m->source, F_OK) < 0 &&
	    fs_mkdir_p(m->source, 0755, err) < 0)
		return error_wrap(err, "create bind source for %s", svc->name);
	if ((size_t)snprintf(out, size, "%s", m->source) >= size)
		return error_set(err, ERR_COMPOSE, "%s:%d: service %s: bind source too long",
				 svc->file, svc->line, svc->name);
	return 0;
}

static int mounts_json(const struct stack *s, const struct compose_service *svc,
		       json_object *mounts, struct error *err)
{
	size_t i;

	for (i = 0; i < svc->nvolumes; i++) {
		const struct compose_mount *m = &svc->volumes[i];
		json_object *o = json_object_new_object();

		json_object_object_add(o, "Target", json_object_new_string(m->target));
		switch (m->type) {
		case COMPOSE_MOUNT_BIND: {
			char src[PATH_MAX];
			int in_checkout = 0;

			if (bind_source(s, svc, m, src, sizeof(src), &in_checkout, err) < 0) {
				json_object_put(o);
				return -1;
			}
			json_object_object_add(
				o, "ReadOnly",
				json_object_new_boolean(m->read_only || in_checkout));
			json_object_object_add(o, "Type", json_object_new_string("bind"));
			json_object_object_add(o, "Source", json_object_new_string(src));
			break;
		}
		case COMPOSE_MOUNT_VOLUME:
			json_object_object_add(o, "ReadOnly",
					       json_object_new_boolean(m->read_only));
			json_object_object_add(o, "Type", json_object_new_string("volume"));
			if (m->volume_name)
				json_object_object_add(o, "Source",
						       json_object_new_string(m->volume_name));
			if (m->nocopy) {
				json_object *vo = json_object_new_object();

				json_object_object_add(vo, "NoCopy", json_object_new_boolean(1));
				json_object_object_add(o, "VolumeOptions", vo);
			}
			break;
		case COMPOSE_MOUNT_TMPFS: {
			json_object *to = json_object_new_object();

			json_object_object_add(o, "ReadOnly",
					       json_object_new_boolean(m->read_only));
			json_object_object_add(o, "Type", json_object_new_string("tmpfs"));
			if (m->tmpfs_size > 0)
				json_object_object_add(to, "SizeBytes",
						       json_object_new_int64(m->tmpfs_size));
			if (m->tmpfs_mode)
				json_object_object_add(to, "Mode",
						       json_object_new_int64(m->tmpfs_mode));
			json_object_object_add(o, "TmpfsOptions", to);
			break;
		}
		}
		json_object_array_add(mounts, o);
	}
	return 0;
}

static void ports_json(const struct compose_service *svc, json_object *exposed,
		       json_object *bindings)
{
	size_t i;
	char key[32], hp[32];

	for (i = 0; i < svc->nexpose; i++) {
		snprintf(key, sizeof(key), "%d/%s", svc->expose[i].target,
			 svc->expose[i].protocol[0] ? svc->expose[i].protocol : "tcp");
		json_object_object_add(exposed, key, json_object_new_object());
	}
	for (i = 0; i < svc->nports; i++) {
		const struct compose_port *p = &svc->ports[i];
		json_object *list, *b;

		snprintf(key, sizeof(key), "%d/%s", p->target,
			 p->protocol[0] ? p->protocol : "tcp");
		json_object_object_add(exposed, key, json_object_new_object());
		if (!json_object_object_get_ex(bindings, key, &list)) {
			list = json_object_new_array();
			json_object_object_add(bindings, key, list);
		}
		b = json_object_new_object();
		json_object_object_add(b, "HostIp",
				       json_object_new_string(p->host_ip ? p->host_ip : ""));
		if (p->published_start <= 0)
			hp[0] = '\0';
		else if (p->published_end > p->published_start)
			snprintf(hp, sizeof(hp), "%d-%d", p->published_start, p->published_end);
		else
			snprintf(hp, sizeof(hp), "%d", p->published_start);
		json_object_object_add(b, "HostPort", json_object_new_string(hp));
		json_object_array_add(list, b);
	}
}

static json_object *healthcheck_json(const struct compose_healthcheck *h)
{
	json_object *o = json_object_new_object();

	if (h->disable) {
		json_object *t = json_object_new_array();

		json_object_array_add(t, json_object_new_string("NONE"));
		json_object_object_add(o, "Test", t);
		return o;
	}
	if (h->test.set)
		json_object_object_add(o, "Test", argv_json(&h->test));
	if (h->interval_ms >= 0)
		json_object_object_add(o, "Interval",
				       json_object_new_int64(h->interval_ms * 1000000));
	if (h->timeout_ms >= 0)
		json_object_object_add(o, "Timeout",
				       json_object_new_int64(h->timeout_ms * 1000000));
	if (h->start_period_ms >= 0)
		json_object_object_add(o, "StartPeriod",
				       json_object_new_int64(h->start_period_ms * 1000000));
	if (h->retries >= 0)
		json_object_object_add(o, "Retries", json_object_new_int(h->retries));
	return o;
}

/* The aliases a container gets on one network. */
static json_object *aliases_json(const struct stack *s, const struct compose_service *svc,
				 const struct compose_service_network *n)
{
	json_object *a = json_object_new_array();
	int on_shared = s->attach_network && !strcmp(n->name, s->attach_network);
	char own[256];
	size_t i;

	snprintf(own, sizeof(own), "%s-%s", s->project->name, svc->name);
	if (on_shared)
		json_object_array_add(a, json_object_new_string(own));
	for (i = 0; i < n->naliases; i++) {
		/* on the shared durable network the bare service name would make
		 * blue and green answer for each other */
		if (on_shared && !strcmp(n->aliases[i], svc->name))
			continue;
		json_object_array_add(a, json_object_new_string(n->aliases[i]));
	}
	return a;
}

int stack_container_config(const struct stack *s, const struct compose_service *svc,
			   json_object **out, char hash[65], struct error *err)
{
	char files_digest[65] = "";
	json_object *cfg = json_object_new_object(), *host = json_object_new_object();
	json_object *labels = project_labels(s), *env = json_object_new_array();
	json_object *exposed = json_object_new_object(), *bindings = json_object_new_object();
	json_object *mounts = json_object_new_array(), *nets = json_object_new_object();
	json_object *spec, *v;
	struct buf tmp = BUF_INIT;
	size_t i;

	json_object_object_add(cfg, "Image", json_object_new_string(svc->image ? svc->image : ""));
	if (svc->command.set)
		json_object_object_add(cfg, "Cmd", argv_json(&svc->command));
	if (svc->entrypoint.set)
		json_object_object_add(cfg, "Entrypoint", argv_json(&svc->entrypoint));
	for (i = 0; i < svc->nenvironment; i++) {
		if (!svc->environment[i].value)
			continue;
		buf_reset(&tmp);
		buf_printf(&tmp, "%s=%s", svc->environment[i].key, svc->environment[i].value);
		json_object_array_add(env, json_object_new_string(buf_str(&tmp)));
	}
	json_object_object_add(cfg, "Env", env);
	if (svc->user)
		json_object_object_add(cfg, "User", json_object_new_string(svc->user));
	if (svc->working_dir)
		json_object_object_add(cfg, "WorkingDir", json_object_new_string(svc->working_dir));
	if (svc->hostname)
		json_object_object_add(cfg, "Hostname", json_object_new_string(svc->hostname));
	if (svc->healthcheck.set)
		json_object_object_add(cfg, "Healthcheck", healthcheck_json(&svc->healthcheck));
	if (svc->stop_grace_period_ms >= 0)
		json_object_object_add(
			cfg, "StopTimeout",
			json_object_new_int((int)((svc->stop_grace_period_ms + 999) / 1000)));

	for (i = 0; i < svc->nlabels; i++)
		add_label(labels, svc->labels[i].key, svc->labels[i].value);
	add_label(labels, "com.docker.compose.service", svc->name);
	add_label(labels, "com.docker.compose.container-number", "1");
	add_label(labels, "com.docker.compose.oneoff", "False");

	ports_json(svc, exposed, bindings);
	json_object_object_add(cfg, "ExposedPorts", exposed);
	json_object_object_add(host, "PortBindings", bindings);
	if (mounts_json(s, svc, mounts, err) < 0) {
		json_object_put(cfg);
		json_object_put(host);
		json_object_put(labels);
		json_object_put(mounts);
		json_object_put(nets);
		buf_release(&tmp);
		return -1;
	}
	if (stackspec_files(s, svc, mounts, files_digest, 0, err) < 0) {
		json_object_put(cfg);
		json_object_put(host);
		json_object_put(labels);
		json_object_put(mounts);
		json_object_put(nets);
		buf_release(&tmp);
		return -1;
	}
	json_object_object_add(host, "Mounts", mounts);
	if (stackspec_apply(s, svc, cfg, host, err) < 0) {
		json_object_put(cfg);
		json_object_put(host);
		json_object_put(labels);
		json_object_put(nets);
		buf_release(&tmp);
		return -1;
	}
	if (svc->restart) {
		json_object *rp = json_object_new_object();
		const char *name = svc->restart;

		if (!strncmp(name, "on-failure", 10))
			name = "on-failure";
		json_object_object_add(rp, "Name",
				       json_object_new_string(!strcmp(name, "no") ? "" : name));
		if (svc->restart_max_retries > 0)
			json_object_object_add(rp, "MaximumRetryCount",
					       json_object_new_int(svc->restart_max_retries));
		json_object_object_add(host, "RestartPolicy", rp);
	}
	if (svc->nextra_hosts) {
		v = json_object_new_array();
		for (i = 0; i < svc->nextra_hosts; i++) {
			buf_reset(&tmp);
			buf_printf(&tmp, "%s:%s", svc->extra_hosts[i].key,
				   svc->extra_hosts[i].value);
			json_object_array_add(v, json_object_new_string(buf_str(&tmp)));
		}
		json_object_object_add(host, "ExtraHosts", v);
	}
	/* every network with its aliases; the first goes into the create call,
	 * the others are connected before start */
	for (i = 0; i < svc->nnetworks; i++) {
		json_object *ep = json_object_new_object();

		json_object_object_add(ep, "Aliases", aliases_json(s, svc, &svc->networks[i]));
		if (svc->networks[i].ipv4_address || svc->networks[i].ipv6_address) {
			json_object *ipam = json_object_new_object();

			if (svc->networks[i].ipv4_address)
				json_object_object_add(
					ipam, "IPv4Address",
					json_object_new_string(svc->networks[i].ipv4_address));
			if (svc->networks[i].ipv6_address)
				json_object_object_add(
					ipam, "IPv6Address",
					json_object_new_string(svc->networks[i].ipv6_address));
			json_object_object_add(ep, "IPAMConfig", ipam);
		}
		json_object_object_add(nets, svc->networks[i].name, ep);
	}
	if (s->attach_network && !svc->network_mode &&
	    !json_object_object_get_ex(nets, s->attach_network, NULL)) {
		json_object *ep = json_object_new_object(), *a = json_object_new_array();

		buf_reset(&tmp);
		buf_printf(&tmp, "%s-%s", s->project->name, svc->name);
		json_object_array_add(a, json_object_new_string(buf_str(&tmp)));
		json_object_object_add(ep, "Aliases", a);
		json_object_object_add(nets, s->attach_network, ep);
	}
	if (svc->network_mode) {
		/* no endpoint of ours: the mode is the network (service:<name> is
		 * that service's container) */
		const struct compose_service *peer =
			!strncmp(svc->network_mode, "service:", 8)
				? compose_project_service(s->project, svc->network_mode + 8)
				: NULL;

		buf_reset(&tmp);
		if (peer)
			buf_printf(&tmp, "container:%s", peer->container_name);
		else
			buf_puts(&tmp, svc->network_mode);
		json_object_object_add(host, "NetworkMode", json_object_new_string(buf_str(&tmp)));
	} else if (svc->nnetworks) {
		json_object_object_add(host, "NetworkMode",
				       json_object_new_string(svc->networks[0].name));
	}
	json_object_object_add(cfg, "HostConfig", host);
	json_object_object_add(cfg, "Labels", labels);
	v = json_object_new_object();
	json_object_object_add(v, "EndpointsConfig", nets);
	json_object_object_add(cfg, "NetworkingConfig", v);

	/* the spec and its hash: the whole create body with environment values
	 * replaced by their digests, so neither label shows a secret */
	spec = NULL;
	json_object_deep_copy(cfg, &spec, NULL);
	{
		json_object *senv = json_object_new_array(), *e;
		size_t n;

		json_object_object_get_ex(cfg, "Env", &e);
		n = json_object_array_length(e);
		for (i = 0; i < n; i++) {
			const char *kv = json_object_get_string(json_object_array_get_idx(e, i));
			const char *eq = strchr(kv, '=');
			char digest[65];

			sha256_hex(eq + 1, strlen(eq + 1), digest);
			buf_reset(&tmp);
			buf_printf(&tmp, "%.*s=sha256:%.16s", (int)(eq - kv), kv, digest);
			json_object_array_add(senv, json_object_new_string(buf_str(&tmp)));
		}
		json_object_object_add(spec, "Env", senv);
		json_object_object_del(spec, "Labels");
		/* the contents of its secrets and configs: a rotated one recreates it */
		if (files_digest[0])
			json_object_object_add(spec, "FilesDigest",
					       json_object_new_string(files_digest));
	}
	{
		const char *text = json_object_to_json_string_ext(spec, JSON_C_TO_STRING_PLAIN);

		sha256_hex(text, strlen(text), hash);
		add_label(labels, STACK_LABEL_HASH, hash);
		add_label(labels, "com.docker.compose.config-hash", hash);
		add_label(labels, STACK_LABEL_SPEC, text);
	}
	json_object_put(spec);
	buf_release(&tmp);
	*out = cfg;
	return 0;
}

/* ---- drift ---- */

static void diff_value(struct buf *out, const char *cname, const char *what, json_object *a,
		       json_object *b)
{
	const char *sa = a ? json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN) : "(none)";
	char *copy = strdup(sa);
	const char *sb = b ? json_object_to_json_string_ext(b, JSON_C_TO_STRING_PLAIN) : "(none)";

	if (copy && strcmp(copy, sb))
		buf_printf(out, "  %s: %s: %.200s -> %.200s\n", cname, what, copy, sb);
	free(copy);
}

static void diff_env(struct buf *out, const char *cname, json_object *a, json_object *b)
{
	size_t i, j, na = a ? json_object_array_length(a) : 0,
		     nb = b ? json_object_array_length(b) : 0;

	for (i = 0; i < nb; i++) {
		const char *kv = json_object_get_string(json_object_array_get_idx(b, i));
		const char *eq = strchr(kv, '=');
		int found = 0;

		for (j = 0; j < na && eq; j++) {
			const char *ov = json_object_get_string(json_object_array_get_idx(a, j));

			if (!strncmp(ov, kv, (size_t)(eq - kv) + 1)) {
				found = 1;
				if (strcmp(ov, kv))
					buf_printf(out, "  %s: environment %.*s changed\n", cname,
						   (int)(eq - kv), kv);
			}
		}
		if (!found && eq)
			buf_printf(out, "  %s: environment %.*s added\n", cname, (int)(eq - kv),
				   kv);
	}
	for (j = 0; j < na; j++) {
		const char *ov = json_object_get_string(json_object_array_get_idx(a, j));
		const char *eq = strchr(ov, '=');
		int found = 0;

		for (i = 0; i < nb && eq; i++)
			if (!strncmp(json_object_get_string(json_object_array_get_idx(b, i)), ov,
				     (size_t)(eq - ov) + 1))
				found = 1;
		if (!found && eq)
			buf_printf(out, "  %s: environment %.*s removed\n", cname, (int)(eq - ov),
				   ov);
	}
}

static void spec_diff(struct buf *out, const char *cname, const char *old_text,
		      json_object *new_spec)
{
	static const char *const top[] = {"Image",	 "Cmd",		"Entrypoint",
					  "User",	 "WorkingDir",	"Hostname",
					  "Healthcheck", "StopTimeout", "ExposedPorts"};
	static const char *const hostkeys[] = {"PortBindings", "Mounts", "RestartPolicy",
					       "ExtraHosts", "NetworkMode"};
	json_object *old = old_text ? json_tokener_parse(old_text) : NULL, *a, *b, *ha = NULL,
		    *hb = NULL, *na = NULL, *nb = NULL;
	size_t i;
	size_t before = out->len;

	if (!old) {
		buf_printf(out, "  %s: created by an older driver (no recorded definition)\n",
			   cname);
		return;
	}
	for (i = 0; i < ARRAY_SIZE(top); i++) {
		a = b = NULL;
		json_object_object_get_ex(old, top[i], &a);
		json_object_object_get_ex(new_spec, top[i], &b);
		diff_value(out, cname, top[i], a, b);
	}
	a = b = NULL;
	json_object_object_get_ex(old, "Env", &a);
	json_object_object_get_ex(new_spec, "Env", &b);
	diff_env(out, cname, a, b);
	json_object_object_get_ex(old, "HostConfig", &ha);
	json_object_object_get_ex(new_spec, "HostConfig", &hb);
	for (i = 0; i < ARRAY_SIZE(hostkeys); i++) {
		a = b = NULL;
		if (ha)
			json_object_object_get_ex(ha, hostkeys[i], &a);
		if (hb)
			json_object_object_get_ex(hb, hostkeys[i], &b);
		diff_value(out, cname, hostkeys[i], a, b);
	}
	json_object_object_get_ex(old, "NetworkingConfig", &na);
	json_object_object_get_ex(new_spec, "NetworkingConfig", &nb);
	diff_value(out, cname, "networks", na, nb);
	if (out->len == before)
		buf_printf(out, "  %s: labels changed\n", cname);
	json_object_put(old);
}

/* ---- resources ---- */

static const char *object_label(json_object *info, const char *key)
{
	json_object *labels, *v;

	if (!json_object_object_get_ex(info, "Labels", &labels) ||
	    !json_object_is_type(labels, json_type_object) ||
	    !json_object_object_get_ex(labels, key, &v))
		return NULL;
	return json_object_get_string(v);
}

/*
 * A network or volume the stack did not just create may be used only when
 * the driver created it for this app and env, or the admin's file allows
 * its name (allowed_networks / allowed_volumes): a stack must not join
 * another app's network, mount another app's data, or use `host`.
 */
static int object_usable(const struct stack *s, const char *kind, const char *name,
			 json_object *info, const struct compose_resource *r, struct error *err)
{
	const struct pattern_list *allowed =
		!strcmp(kind, "network") ? &s->cfg->allowed_networks : &s->cfg->allowed_volumes;
	const char *app = object_label(info, STACK_LABEL_APP);
	const char *env = object_label(info, STACK_LABEL_ENV);
	int i;

	if (object_label(info, "io.executor.managed") && app && env && s->app && s->env &&
	    !strcmp(app, s->app) && !strcmp(env, s->env))
		return 0;
	for (i = 0; allowed->set && i < allowed->n; i++)
		if (fnmatch(allowed->items[i], name, 0) == 0)
			return 0;
	return error_set(err, ERR_POLICY,
			 "%s:%d: %s %s was not created by app %s in env %s (it belongs to %s): "
			 "a stack may use only its own app's networks and volumes, or those the "
			 "runner admin allows (allowed_%ss: %s)",
			 r->file ? r->file : "(stack)", r->line, kind, name, s->app ? s->app : "?",
			 s->env ? s->env : "?",
			 app && env ? (!strcmp(app, s->app ? s->app : "") ? "another env of it"
									  : "another app")
				    : "nobody the driver knows",
			 kind, allowed->set && allowed->n ? pattern_list_str(allowed) : "(none)");
}

/* Names the engine gives meaning to: never a stack's, unless allowed. */
static int reserved_network(const char *name)
{
	return !strcmp(name, "host") || !strcmp(name, "none") || !strcmp(name, "bridge") ||
	       !strcmp(name, "default") || !strncmp(name, "container:", 10);
}

/*
 * Networks and volumes, in two passes so that a refusal leaves nothing
 * behind: first every one the stack names is looked up (an existing one
 * must be usable, an external one must exist), then the missing ones are
 * created.  missing[] marks, per network then per volume, what to create.
 */
static int check_network(const struct stack *s, const struct compose_resource *n, int *missing,
			 struct error *err)
{
	json_object *info = NULL;
	int rc;

	*missing = 0;
	if (reserved_network(n->name)) {
		const struct pattern_list *allowed = &s->cfg->allowed_networks;
		int k, ok = 0;

		for (k = 0; allowed->set && k < allowed->n; k++)
			ok |= fnmatch(allowed->items[k], n->name, 0) == 0;
		if (!ok)
			return error_set(
				err, ERR_POLICY,
				"%s:%d: network %s is the engine's own: a stack may not use "
				"it unless the runner admin allows it (allowed_networks: "
				"%s)",
				n->file ? n->file : "(stack)", n->line, n->name,
				allowed->set && allowed->n ? pattern_list_str(allowed) : "(none)");
	}
	if (docker_network_inspect(s->docker, n->name, &info, err) == 0) {
		rc = object_usable(s, "network", n->name, info, n, err);
		json_object_put(info);
		return rc;
	}
	if (err->code != 404)
		return error_wrap(err, "inspect network %s", n->name);
	error_clear(err);
	if (n->external)
		return error_set(err, ERR_JOB,
				 "network %s is declared external but does not exist; %s", n->name,
				 s->attach_network && !strcmp(n->name, s->attach_network)
					 ? "set up the durable layer first (durable:setup-<env>)"
					 : "create it, or drop `external: true`");
	*missing = 1;
	return 0;
}

static int check_volume(const struct stack *s, const struct compose_resource *v, int *missing,
			struct error *err)
{
	json_object *info = NULL;
	int rc;

	*missing = 0;
	if (docker_volume_inspect(s->docker, v->name, &info, err) == 0) {
		rc = object_usable(s, "volume", v->name, info, v, err);
		json_object_put(info);
		return rc;
	}
	if (err->code != 404)
		return error_wrap(err, "inspect volume %s", v->name);
	error_clear(err);
	if (v->external)
		return error_set(err, ERR_JOB,
				 "volume %s is declared external but does not exist; create it, or "
				 "drop `external: true`",
				 v->name);
	*missing = 1;
	return 0;
}

static int check_resources(const struct stack *s, int *missing, struct error *err)
{
	const struct compose_project *p = s->project;
	size_t i;

	for (i = 0; i < p->nnetworks; i++)
		if (check_network(s, &p->networks[i], &missing[i], err) < 0)
			return -1;
	for (i = 0; i < p->nvolumes; i++)
		if (check_volume(s, &p->volumes[i], &missing[p->nnetworks + i], err) < 0)
			return -1;
	if (s->attach_network) {
		/* named after the app and env, but another app's env can spell the
		 * same name: its labels must say it is ours */
		struct compose_resource r = {.file = NULL, .line = 0};
		json_object *info = NULL;
		int rc;

		if (docker_network_inspect(s->docker, s->attach_network, &info, err) < 0) {
			if (err->code == 404)
				return error_set(
					err, ERR_JOB,
					"the durable network %s does not exist: set up the "
					"durable layer of env %s first (durable:setup-%s)",
					s->attach_network, s->env, s->env);
			return error_wrap(err, "inspect network %s", s->attach_network);
		}
		rc = object_usable(s, "network", s->attach_network, info, &r, err);
		json_object_put(info);
		if (rc < 0)
			return -1;
	}
	return 0;
}

static int create_resources(const struct stack *s, const int *missing, struct error *err)
{
	const struct compose_project *p = s->project;
	size_t i;
	int rc;

	for (i = 0; i < p->nnetworks; i++) {
		const struct compose_resource *n = &p->networks[i];
		json_object *labels, *info = NULL;

		if (!missing[i])
			continue;
		{
			json_object *opts = json_object_new_object();

			labels = project_labels(s);
			add_label(labels, "com.docker.compose.network", n->key);
			stackspec_network_options(n, opts);
			rc = docker_network_create_with(s->docker, n->name, labels, opts, NULL,
							err);
			json_object_put(labels);
			json_object_put(opts);
		}
		if (rc == 0) {
			log_info("Created network %s", n->name);
			continue;
		}
		if (err->code != 409)
			return -1; /* docker_network_create() named it */
		/* created meanwhile (CheckDuplicate): by whom? */
		error_clear(err);
		if (docker_network_inspect(s->docker, n->name, &info, err) < 0)
			return error_wrap(err, "inspect network %s", n->name);
		rc = object_usable(s, "network", n->name, info, n, err);
		json_object_put(info);
		if (rc < 0)
			return -1;
	}
	for (i = 0; i < p->nvolumes; i++) {
		const struct compose_resource *v = &p->volumes[i];
		json_object *labels;

		if (!missing[p->nnetworks + i])
			continue;
		{
			json_object *opts = json_object_new_object();

			labels = project_labels(s);
			add_label(labels, "com.docker.compose.volume", v->key);
			stackspec_volume_options(v, opts);
			rc = docker_volume_create_with(s->docker, v->name, labels, opts, err);
			json_object_put(labels); /* the create took its own reference */
			json_object_put(opts);
		}
		if (rc < 0)
			return -1; /* docker_volume_create() named the volume */
		log_info("Created volume %s", v->name);
	}
	return 0;
}

static const char *label_of(json_object *info, const char *key)
{
	json_object *cfg, *labels, *v;

	if (!json_object_object_get_ex(info, "Config", &cfg) ||
	    !json_object_object_get_ex(cfg, "Labels", &labels) ||
	    !json_object_object_get_ex(labels, key, &v))
		return NULL;
	return json_object_get_string(v);
}

/* A label's value is what this stack would write (a NULL want: anything). */
static int label_is(const char *have, const char *want)
{
	return !want || (have && !strcmp(have, want));
}

static int state_bool(json_object *info, const char *key)
{
	json_object *st, *v;

	return json_object_object_get_ex(info, "State", &st) &&
	       json_object_object_get_ex(st, key, &v) && json_object_get_boolean(v);
}

static const char *health_status(json_object *info)
{
	json_object *st, *h, *v;

	if (json_object_object_get_ex(info, "State", &st) &&
	    json_object_object_get_ex(st, "Health", &h) &&
	    json_object_object_get_ex(h, "Status", &v))
		return json_object_get_string(v);
	return NULL;
}

static int wait_dependency(const struct stack *s, const struct compose_service *svc,
			   const struct compose_dependency *d, struct error *err)
{
	const struct compose_service *dep = compose_project_service(s->project, d->service);
	int timeout = s->health_timeout_s > 0 ? s->health_timeout_s : 120;
	struct timespec t0, now;

	if (!dep)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		json_object *info = NULL;
		const char *hs;
		int ok = 0, failed = 0;

		if (docker_container_inspect(s->docker, dep->container_name, &info, err) < 0)
			return error_wrap(err, "wait for %s", dep->name);
		hs = health_status(info);
		switch (d->condition) {
		case COMPOSE_COND_STARTED:
			ok = state_bool(info, "Running");
			break;
		case COMPOSE_COND_HEALTHY:
			ok = hs && !strcmp(hs, "healthy");
			failed = (hs && !strcmp(hs, "unhealthy")) || !hs;
			break;
		case COMPOSE_COND_COMPLETED: {
			json_object *st, *ec;

			if (!state_bool(info, "Running") &&
			    json_object_object_get_ex(info, "State", &st) &&
			    json_object_object_get_ex(st, "ExitCode", &ec)) {
				ok = json_object_get_int(ec) == 0;
				failed = !ok;
			}
			break;
		}
		}
		json_object_put(info);
		if (ok)
			return 0;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (failed || now.tv_sec - t0.tv_sec > timeout)
			return error_set(err, ERR_HEALTH,
					 "service %s depends on %s being %s, and it is not%s",
					 svc->name, dep->name,
					 d->condition == COMPOSE_COND_HEALTHY ? "healthy"
					 : d->condition == COMPOSE_COND_STARTED
						 ? "started"
						 : "completed successfully",
					 d->condition == COMPOSE_COND_HEALTHY && !hs
						 ? " (it has no healthcheck)"
						 : "");
		usleep(100 * 1000);
	}
}

static int create_container(const struct stack *s, const struct compose_service *svc,
			    json_object *cfg, struct error *err)
{
	json_object *netcfg, *eps;
	_cleanup_free_ char *id = NULL;
	const char *first = svc->nnetworks ? svc->networks[0].name : NULL;
	json_object *rest = json_object_new_object();
	struct image_pull pull;
	int rc;

	/* its secrets and configs, as the create is about to mount them */
	if ((svc->nsecrets || svc->nconfigs) &&
	    stackspec_files(s, svc, NULL, (char[65]){0}, 1, err) < 0) {
		json_object_put(rest);
		return error_wrap(err, "files of %s", svc->name);
	}
	/* API 1.41 honours only one endpoint at create: keep the first */
	if (json_object_object_get_ex(cfg, "NetworkingConfig", &netcfg) &&
	    json_object_object_get_ex(netcfg, "EndpointsConfig", &eps)) {
		json_object_object_foreach(eps, name, ep)
		{
			if (first && !strcmp(name, first))
				continue;
			json_object_object_add(rest, name, json_object_get(ep));
		}
		json_object_object_foreach(rest, rname, rep)
		{
			(void)rep;
			json_object_object_del(eps, rname);
		}
	}
	/* a present image costs no inspect: the create's 404 is the cue to pull */
	image_pull_admin(&pull, s->cfg, s->auth);
	rc = image_create_container(s->docker, &pull, svc->container_name, cfg, &id, err);
	if (rc < 0) {
		json_object_put(rest);
		if (err->code == 409)
			return error_set(
				err, ERR_JOB,
				"container name %s is in use by a container this stack did "
				"not create; rename the service's container_name or remove "
				"that container",
				svc->container_name);
		return error_wrap(err, "create container %s", svc->container_name);
	}
	json_object_object_foreach(rest, name, ep)
	{
		json_object *aliases = NULL;
		const char *list[32];
		size_t i, n = 0;

		if (json_object_object_get_ex(ep, "Aliases", &aliases))
			for (i = 0; i < json_object_array_length(aliases) && n < 31; i++)
				list[n++] = json_object_get_string(
					json_object_array_get_idx(aliases, i));
		list[n] = NULL;
		if (docker_network_connect(s->docker, name, id, list, err) < 0) {
			/* name lives in rest: the message first, then the put */
			error_wrap(err, "connect %s to network %s", svc->container_name, name);
			json_object_put(rest);
			return -1;
		}
	}
	json_object_put(rest);
	return 0;
}

static int start_container(const struct stack *s, const char *name, struct error *err)
{
	if (docker_container_start(s->docker, name, err) < 0) {
		if (strstr(err->msg, "port is already allocated") ||
		    strstr(err->msg, "address already in use")) {
			err->cls = ERR_JOB;
			return error_wrap(err,
					  "start %s (a published port is taken: stop what uses it "
					  "or change the port)",
					  name);
		}
		return error_wrap(err, "start %s", name);
	}
	return 0;
}

/* What a service needs created (its container-create body). */
struct create_task {
	const struct stack *s;
	const struct compose_service *svc;
	json_object *cfg;
	int replace; /* remove the old container first */
};

static int plan_service(const struct stack *s, const struct compose_service *svc,
			struct stack_report *rep, struct create_task *task, int *queued,
			int *restart, struct error *err);

/*
 * stack_up runs every service in a thread of its own, on its own connection:
 * it plans (one inspect), removes and creates its container at once — a
 * create depends on nothing — and starts it as soon as the services it
 * depends on are up (their threads done, then their depends_on condition),
 * not when a whole wave of them is.
 */
struct up_sched {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct up_task *tasks; /* by service index */
	size_t n;
	struct stack_report *rep;
};

struct up_task {
	const struct stack *s;
	const struct compose_service *svc;
	struct up_sched *sched;
	int done; /* 0 running, 1 up, -1 failed (under sched->mu) */
	struct error err;
};

/* The services this one depends on are up: their threads are done and
 * their depends_on conditions hold. */
static int wait_dependencies(const struct stack *s, struct up_task *t, struct error *err)
{
	struct up_sched *sc = t->sched;
	const struct compose_service *svc = t->svc;
	size_t i, j;

	for (i = 0; i < svc->ndepends_on; i++) {
		const struct compose_dependency *d = &svc->depends_on[i];
		int done = 1;

		for (j = 0; j < sc->n; j++) {
			if (strcmp(s->project->services[j].name, d->service))
				continue;
			pthread_mutex_lock(&sc->mu);
			while (sc->tasks[j].done == 0)
				pthread_cond_wait(&sc->cv, &sc->mu);
			done = sc->tasks[j].done;
			pthread_mutex_unlock(&sc->mu);
		}
		if (done < 0)
			return error_set(err, ERR_JOB,
					 "%s was not started: %s, which it depends on, failed",
					 svc->name, d->service);
		if (wait_dependency(s, svc, d, err) < 0)
			return -1;
	}
	return 0;
}

static int up_service(const struct stack *s, struct up_task *t, struct error *err)
{
	struct stack_report rep = {0};
	struct create_task ct;
	int queued = 0, restart = 0, rc;

	rc = plan_service(s, t->svc, &rep, &ct, &queued, &restart, err);
	pthread_mutex_lock(&t->sched->mu);
	t->sched->rep->created += rep.created;
	t->sched->rep->started += rep.started;
	t->sched->rep->unchanged += rep.unchanged;
	t->sched->rep->drifted += rep.drifted;
	t->sched->rep->replaced += rep.replaced;
	if (rep.drift.len)
		buf_append(&t->sched->rep->drift, rep.drift.data, rep.drift.len);
	pthread_mutex_unlock(&t->sched->mu);
	buf_release(&rep.drift);
	if (rc < 0)
		return -1;
	if (queued) {
		rc = -1;
		if (ct.replace &&
		    docker_container_remove(s->docker, t->svc->container_name, 1, 0, err) < 0)
			error_wrap(err, "replace %s", t->svc->container_name);
		else if (create_container(s, t->svc, ct.cfg, err) == 0)
			rc = 0;
		json_object_put(ct.cfg);
		if (rc < 0)
			return -1;
	}
	if (!queued && !restart)
		return 0; /* unchanged and running */
	if (wait_dependencies(s, t, err) < 0 || start_container(s, t->svc->container_name, err) < 0)
		return -1;
	if (queued)
		log_info("Started %s (%s)", t->svc->container_name, t->svc->image);
	else
		log_info("Started %s again (it was stopped)", t->svc->container_name);
	return 0;
}

static void *up_one(void *arg)
{
	struct up_task *t = arg;
	struct stack ts = *t->s;
	struct docker_client *c = docker_client_clone(t->s->docker, &t->err);
	int rc = -1;

	if (c) {
		ts.docker = c;
		rc = up_service(&ts, t, &t->err);
		docker_client_free(c);
	}
	pthread_mutex_lock(&t->sched->mu);
	t->done = rc == 0 ? 1 : -1;
	pthread_cond_broadcast(&t->sched->cv);
	pthread_mutex_unlock(&t->sched->mu);
	return NULL;
}

/* Every service at once; the first failure in start order is the error (a
 * dependency's own failure before its dependents' "was not started"). */
static int run_services(const struct stack *s, const size_t *order, struct stack_report *rep,
			struct error *err)
{
	size_t n = s->project->nservices, i;
	struct up_sched sc = {.n = n, .rep = rep};
	_cleanup_free_ pthread_t *th = calloc(n ? n : 1, sizeof(*th));
	_cleanup_free_ int *started = calloc(n ? n : 1, sizeof(*started));
	int rc = 0;

	sc.tasks = calloc(n ? n : 1, sizeof(*sc.tasks));
	if (!th || !started || !sc.tasks) {
		free(sc.tasks);
		return error_set(err, ERR_SYSTEM, "out of memory");
	}
	pthread_mutex_init(&sc.mu, NULL);
	pthread_cond_init(&sc.cv, NULL);
	for (i = 0; i < n; i++) {
		sc.tasks[i].s = s;
		sc.tasks[i].svc = &s->project->services[i];
		sc.tasks[i].sched = &sc;
	}
	/* in start order, so a service that cannot have a thread of its own
	 * runs here after what it depends on */
	for (i = 0; i < n; i++) {
		size_t k = order[i];

		if (n > 1 && pthread_create(&th[k], NULL, up_one, &sc.tasks[k]) == 0)
			started[k] = 1;
		else
			up_one(&sc.tasks[k]);
	}
	for (i = 0; i < n; i++)
		if (started[i])
			pthread_join(th[i], NULL);
	for (i = 0; i < n && rc == 0; i++) {
		if (sc.tasks[order[i]].done < 0) {
			*err = sc.tasks[order[i]].err;
			rc = -1;
		}
	}
	pthread_cond_destroy(&sc.cv);
	pthread_mutex_destroy(&sc.mu);
	free(sc.tasks);
	return rc;
}

/* The image and bind-mount policy of one service (no Docker call). */
static int service_allowed(const struct stack *s, const struct compose_service *svc,
			   struct error *err)
{
	json_object *cfg = NULL;
	char hash[65];

	if (!svc->image || !*svc->image)
		return error_set(err, ERR_COMPOSE,
				 "%s:%d: service %s has no image (build: is "
				 "not supported; build images in an earlier job)",
				 svc->file, svc->line, svc->name);
	/* a reference is at most 255 characters of [a-z0-9._/:@-] (and hex) */
	if (strlen(svc->image) > 255 ||
	    strspn(svc->image, "abcdefghijklmnopqrstuvwxyz"
			       "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
			       "0123456789._/:@-") != strlen(svc->image))
		return error_set(err, ERR_COMPOSE,
				 "%s:%d: service %s: \"%.80s%s\" is not an image reference "
				 "(at most 255 characters of letters, digits and ._/:@-)",
				 svc->file, svc->line, svc->name, svc->image,
				 strlen(svc->image) > 80 ? "..." : "");
	if (svc->network_mode) {
		const struct pattern_list *allowed = &s->cfg->allowed_networks;
		int k, ok = 0;

		/* another service of the stack shares its own namespace: fine */
		if (!strncmp(svc->network_mode, "service:", 8)) {
			if (!compose_project_service(s->project, svc->network_mode + 8))
				return error_set(err, ERR_COMPOSE,
						 "%s:%d: service %s: network_mode %s names no "
						 "service of the stack",
						 svc->file, svc->line, svc->name,
						 svc->network_mode);
			ok = 1;
		}
		for (k = 0; allowed->set && k < allowed->n && !ok; k++)
			ok = fnmatch(allowed->items[k], svc->network_mode, 0) == 0;
		if (!ok)
			return error_set(err, ERR_POLICY,
					 "%s:%d: service %s: network_mode %s leaves the stack's "
					 "networks (the host's, none, or another container's): not "
					 "allowed unless the runner admin allows it "
					 "(allowed_networks: %s)",
					 svc->file, svc->line, svc->name, svc->network_mode,
					 allowed->set && allowed->n ? pattern_list_str(allowed)
								    : "(none)");
	}
	if (!image_allowed(&s->cfg->allowed_images, svc->image))
		return error_set(err, ERR_POLICY,
				 "%s:%d: service %s uses image %s, which is not allowed on "
				 "this runner (allowed: %s)",
				 svc->file, svc->line, svc->name, svc->image,
				 pattern_list_str(&s->cfg->allowed_images));
	if (stack_container_config(s, svc, &cfg, hash, err) < 0)
		return -1;
	json_object_put(cfg);
	return 0;
}

/* A stopped container that misses a network its config names: created, then the
 * driver died before `network connect` (create attaches only the first network).
 * Starting it would run it cut off from the rest; it is replaced instead. */
static int networks_missing(json_object *info, json_object *cfg)
{
	json_object *netcfg, *eps, *ns, *nets, *v;

	if (!json_object_object_get_ex(cfg, "NetworkingConfig", &netcfg) ||
	    !json_object_object_get_ex(netcfg, "EndpointsConfig", &eps))
		return 0;
	if (!json_object_object_get_ex(info, "NetworkSettings", &ns) ||
	    !json_object_object_get_ex(ns, "Networks", &nets))
		return 1;
	json_object_object_foreach(eps, name, ep)
	{
		(void)ep;
		if (!json_object_object_get_ex(nets, name, &v))
			return 1;
	}
	return 0;
}

/*
 * Decide what one service needs: nothing (unchanged, running), a start (it
 * was stopped: *restart), drift (durable layer: reported, kept), or a create
 * (new or replaced: *queued, task filled).  Starts wait for the caller.
 */
static int plan_service(const struct stack *s, const struct compose_service *svc,
			struct stack_report *rep, struct create_task *task, int *queued,
			int *restart, struct error *err)
{
	const struct compose_project *p = s->project;
	json_object *cfg = NULL, *info = NULL;
	char hash[65];
	int exists;

	*queued = 0;
	*restart = 0;
	if (service_allowed(s, svc, err) < 0)
		return -1;
	if (stack_container_config(s, svc, &cfg, hash, err) < 0)
		return -1;

	exists = docker_container_inspect(s->docker, svc->container_name, &info, err) == 0;
	if (!exists && err->code != 404) {
		json_object_put(cfg);
		return error_wrap(err, "inspect %s", svc->container_name);
	}
	error_clear(err);
	memset(task, 0, sizeof(*task));
	task->s = s;
	task->svc = svc;
	if (exists) {
		const char *proj = label_of(info, "com.docker.compose.project");
		const char *old = label_of(info, STACK_LABEL_HASH);
		int running = state_bool(info, "Running");

		if (!proj || strcmp(proj, p->name) || !label_of(info, "io.executor.managed") ||
		    !label_is(label_of(info, STACK_LABEL_APP), s->app) ||
		    !label_is(label_of(info, STACK_LABEL_ENV), s->env) ||
		    !label_is(label_of(info, STACK_LABEL_LAYER), s->layer)) {
			json_object_put(info);
			json_object_put(cfg);
			return error_set(err, ERR_JOB,
					 "container name %s is in use by a container this "
					 "stack did not create; rename the service's "
					 "container_name or remove that container",
					 svc->container_name);
		}
		if (((old && !strcmp(old, hash)) || s->mode == STACK_KEEP) &&
		    (running || !networks_missing(info, cfg))) {
			if (!(old && !strcmp(old, hash))) {
				json_object *labels, *spec_label, *spec;

				json_object_object_get_ex(cfg, "Labels", &labels);
				json_object_object_get_ex(labels, STACK_LABEL_SPEC, &spec_label);
				spec = json_tokener_parse(json_object_get_string(spec_label));
				spec_diff(&rep->drift, svc->container_name,
					  label_of(info, STACK_LABEL_SPEC), spec);
				json_object_put(spec);
				rep->drifted++;
			}
			json_object_put(info);
			json_object_put(cfg);
			if (running) {
				if (old && !strcmp(old, hash))
					rep->unchanged++;
				return 0;
			}
			*restart = 1; /* once its dependencies are up */
			rep->started++;
			return 0;
		}
		json_object_put(info);
		task->replace = 1;
		rep->replaced++;
	} else {
		rep->created++;
	}
	task->cfg = cfg;
	*queued = 1;
	return 0;
}

/* A container name the stack would use that another app, env or layer has
 * (their names can be spelled alike) is refused before anything is made. */
static int check_container_names(const struct stack *s, struct error *err)
{
	size_t i;

	for (i = 0; i < s->project->nservices; i++) {
		const struct compose_service *svc = &s->project->services[i];
		json_object *info = NULL;
		int ours;

		if (docker_container_inspect(s->docker, svc->container_name, &info, err) < 0) {
			if (err->code != 404)
				return error_wrap(err, "inspect %s", svc->container_name);
			error_clear(err);
			continue;
		}
		ours = label_of(info, "io.executor.managed") &&
		       label_is(label_of(info, "com.docker.compose.project"), s->project->name) &&
		       label_is(label_of(info, STACK_LABEL_APP), s->app) &&
		       label_is(label_of(info, STACK_LABEL_ENV), s->env) &&
		       label_is(label_of(info, STACK_LABEL_LAYER), s->layer);
		json_object_put(info);
		if (!ours)
			return error_set(
				err, ERR_JOB,
				"%s:%d: container name %s is in use by a container this "
				"stack did not create; rename the service's container_name "
				"or remove that container",
				svc->file, svc->line, svc->container_name);
	}
	return 0;
}

int stack_check(const struct stack *s, struct error *err)
{
	const struct compose_project *p = s->project;
	size_t nres = p->nnetworks + p->nvolumes, k;
	_cleanup_free_ int *missing = calloc(nres ? nres : 1, sizeof(int));

	if (!missing)
		return error_set(err, ERR_SYSTEM, "out of memory");
	for (k = 0; k < p->nservices; k++) {
		const struct compose_service *svc = &p->services[k];

		if (service_allowed(s, svc, err) < 0)
			return -1;
		if (svc->build.set)
			/* Compose names what build: makes <project>-<service> (or image:) */
			log_info("%s:%d: service %s: build: is not run by the driver; it runs "
				 "image %s, built and pushed by an earlier job",
				 svc->file, svc->line, svc->name, svc->image);
	}
	if (check_resources(s, missing, err) < 0 || check_container_names(s, err) < 0)
		return -1;
	return 0;
}

int stack_up(const struct stack *s, struct stack_report *rep, struct error *err)
{
	const struct compose_project *p = s->project;
	size_t n = p->nservices ? p->nservices : 1;
	_cleanup_free_ size_t *order = calloc(n, sizeof(size_t));
	struct image_pull pull;
	size_t k;

	if (!order)
		return error_set(err, ERR_SYSTEM, "out of memory");
	if (compose_project_start_order(p, order, err) < 0)
		return -1;
	/* refuse what the policy forbids before anything is created */
	for (k = 0; k < p->nservices; k++) {
		const char *img = p->services[k].image;
		json_object *info = NULL;

		if (service_allowed(s, &p->services[k], err) < 0)
			return -1;
		image_pull_admin(&pull, s->cfg, s->auth);
		if (!image_pull_can_pull(&pull)) {
			if (docker_image_inspect(s->docker, img, &info, err) == 0)
				json_object_put(info);
			else if (err->code == 404)
				return image_ensure(s->docker, &pull, img, err);
			else
				return error_wrap(err, "inspect image %s", img);
		}
	}
	{
		size_t nres = p->nnetworks + p->nvolumes;
		_cleanup_free_ int *missing = calloc(nres ? nres : 1, sizeof(int));

		if (!missing)
			return error_set(err, ERR_SYSTEM, "out of memory");
		if (check_resources(s, missing, err) < 0 || check_container_names(s, err) < 0 ||
		    create_resources(s, missing, err) < 0)
			return -1;
	}
	return run_services(s, order, rep, err);
}

static void print_failure(const struct stack *s, const char *cname, json_object *info)
{
	struct error err = ERROR_INIT;
	struct buf logs = BUF_INIT;
	json_object *st, *h, *hlog;

	if (json_object_object_get_ex(info, "State", &st) &&
	    json_object_object_get_ex(st, "Health", &h) &&
	    json_object_object_get_ex(h, "Log", &hlog) &&
	    json_object_is_type(hlog, json_type_array)) {
		size_t n = json_object_array_length(hlog), i;

		log_warn("Last health checks of %s:", cname);
		for (i = n > 3 ? n - 3 : 0; i < n; i++) {
			json_object *e = json_object_array_get_idx(hlog, i), *ec, *out;

			json_object_object_get_ex(e, "ExitCode", &ec);
			json_object_object_get_ex(e, "Output", &out);
			log_warn("  exit %d: %.300s", ec ? json_object_get_int(ec) : -1,
				 out ? json_object_get_string(out) : "");
		}
	}
	if (docker_container_logs(s->docker, cname, 30, &logs, &err) == 0 && logs.len) {
		log_warn("Last lines of %s's log:", cname);
		log_raw(buf_str(&logs));
		if (logs.data[logs.len - 1] != '\n')
			log_raw("\n");
	}
	buf_release(&logs);
}

/*
 * The health gate.  The engine says when a container's health changes (a
 * health_status event) and when it exits (die): the gate reads the state of
 * every container once (one list call: State and Status carry running,
 * restarting and the health), then waits on one GET /events stream for the
 * changes it still needs, and reads the state once more to confirm what the
 * events said.  Events are only the cue: the decision is always taken on a
 * fresh read, so an event replayed from before the read cannot mislead it.
 * The engine sends `die` before its container list shows the exit, so a
 * container an event says failed is read by inspect, which waits for the
 * engine to finish handling the exit.
 */
enum standing { ST_PENDING, ST_OK, ST_FAILED };

struct gate {
	const struct stack *s;
	enum standing *st; /* per service */
	int *cue;	   /* per service: an event said it failed */
	long long last_ns; /* time of the last event seen */
};

static long long now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* From a list entry: State "running", Status "Up 2 seconds (health: starting)". */
static enum standing standing_of(json_object *ct)
{
	json_object *v;
	const char *state = "", *status = "";

	if (json_object_object_get_ex(ct, "State", &v))
		state = json_object_get_string(v);
	if (json_object_object_get_ex(ct, "Status", &v))
		status = json_object_get_string(v);
	if (!strcmp(state, "restarting"))
		return ST_PENDING;
	if (strcmp(state, "running") || strstr(status, "(unhealthy)"))
		return ST_FAILED;
	if (strstr(status, "(health: starting)"))
		return ST_PENDING;
	return ST_OK;
}

static int service_index(const struct compose_project *p, const char *cname)
{
	size_t i;

	if (cname && *cname == '/')
		cname++;
	for (i = 0; cname && i < p->nservices; i++)
		if (!strcmp(p->services[i].container_name, cname))
			return (int)i;
	return -1;
}

/* One read of every container's standing; a missing container has failed. */
static int gate_read(struct gate *g, struct error *err)
{
	const struct compose_project *p = g->s->project;
	json_object *list = NULL;
	size_t i, n;

	if (stack_containers(g->s->docker, p->name, &list, err) < 0)
		return error_wrap(err, "read the state of %s", p->name);
	for (i = 0; i < p->nservices; i++)
		g->st[i] = ST_FAILED;
	n = json_object_array_length(list);
	for (i = 0; i < n; i++) {
		json_object *ct = json_object_array_get_idx(list, i), *names;
		int k;

		if (!json_object_object_get_ex(ct, "Names", &names) ||
		    !json_object_array_length(names))
			continue;
		k = service_index(p, json_object_get_string(json_object_array_get_idx(names, 0)));
		if (k >= 0)
			g->st[k] = standing_of(ct);
	}
	json_object_put(list);
	return 0;
}

/* 1 when every service is OK or one has failed: time to read again. */
static int gate_decided(const struct gate *g)
{
	size_t i;
	int pending = 0;

	for (i = 0; i < g->s->project->nservices; i++) {
		if (g->st[i] == ST_FAILED)
			return 1;
		pending |= g->st[i] == ST_PENDING;
	}
	return !pending;
}

static int gate_on_event(json_object *ev, void *payload)
{
	struct gate *g = payload;
	json_object *actor, *attrs, *v;
	const char *action = NULL, *name = NULL;
	int k;

	if (json_object_object_get_ex(ev, "Action", &v))
		action = json_object_get_string(v);
	if (json_object_object_get_ex(ev, "timeNano", &v))
		g->last_ns = json_object_get_int64(v);
	if (json_object_object_get_ex(ev, "Actor", &actor) &&
	    json_object_object_get_ex(actor, "Attributes", &attrs) &&
	    json_object_object_get_ex(attrs, "name", &v))
		name = json_object_get_string(v);
	k = service_index(g->s->project, name);
	if (k < 0 || !action)
		return 0;
	if (!strcmp(action, "health_status: healthy"))
		g->st[k] = ST_OK;
	else if (!strcmp(action, "health_status: unhealthy") || !strcmp(action, "die")) {
		g->st[k] = ST_FAILED;
		g->cue[k] = 1;
	}
	return gate_decided(g);
}

static json_object *gate_filters(const struct stack *s)
{
	json_object *f = json_object_new_object(), *a;
	char pl[512];

	snprintf(pl, sizeof(pl), "com.docker.compose.project=%s", s->project->name);
	a = json_object_new_array();
	json_object_array_add(a, json_object_new_string("container"));
	json_object_object_add(f, "type", a);
	a = json_object_new_array();
	json_object_array_add(a, json_object_new_string(pl));
	json_object_object_add(f, "label", a);
	a = json_object_new_array();
	json_object_array_add(a, json_object_new_string("health_status"));
	json_object_array_add(a, json_object_new_string("die"));
	json_object_object_add(f, "event", a);
	return f;
}

/* After a die or unhealthy event: has it failed (not a restart in progress)? */
static int inspect_failed(const struct stack *s, const char *cname, struct error *err)
{
	json_object *info = NULL;
	const char *hs;
	int failed;

	if (docker_container_inspect(s->docker, cname, &info, err) < 0) {
		if (err->code != 404)
			return -1;
		error_clear(err); /* removed: gate_fail says so */
		return 1;
	}
	hs = health_status(info);
	failed = (!state_bool(info, "Running") && !state_bool(info, "Restarting")) ||
		 (hs && !strcmp(hs, "unhealthy"));
	json_object_put(info);
	return failed;
}

static int gate_fail(const struct stack *s, const char *cname, int timed_out, struct error *err)
{
	json_object *info = NULL;
	const char *hs;
	int running;

	if (docker_container_inspect(s->docker, cname, &info, err) < 0)
		return error_wrap(err, "inspect %s", cname);
	hs = health_status(info);
	running = state_bool(info, "Running");
	print_failure(s, cname, info);
	error_set(err, ERR_HEALTH,
		  "%s did not become healthy (%s%s): the deployment is unhealthy; see its log "
		  "above",
		  cname,
		  !running ? "it exited"
		  : hs	   ? hs
			   : "not running",
		  timed_out ? ", timed out" : "");
	json_object_put(info);
	return -1;
}

int stack_wait_healthy(const struct stack *s, struct error *err)
{
	const struct compose_project *p = s->project;
	int timeout = s->health_timeout_s > 0 ? s->health_timeout_s : 120;
	long long deadline = now_ns() + (long long)timeout * 1000000000LL;
	_cleanup_free_ enum standing *st = calloc(p->nservices ? p->nservices : 1, sizeof(*st));
	_cleanup_free_ int *cue = calloc(p->nservices ? p->nservices : 1, sizeof(*cue));
	struct gate g = {.s = s, .st = st, .cue = cue};
	json_object *filters;
	size_t i;
	int rc;

	if (!st || !cue)
		return error_set(err, ERR_SYSTEM, "out of memory");
	filters = gate_filters(s);
	for (;;) {
		/* events from a second before the read on: none is missed between the
		 * read and the subscription (the engine replays them) */
		long long since = now_ns() - 1000000000LL;

		if (g.last_ns >= since)
			since = g.last_ns + 1;
		for (i = 0; i < p->nservices; i++) {
			if (!cue[i])
				continue;
			cue[i] = 0;
			rc = inspect_failed(s, p->services[i].container_name, err);
			if (rc < 0)
				goto out;
			if (rc > 0) {
				json_object_put(filters);
				return gate_fail(s, p->services[i].container_name, 0, err);
			}
		}
		if (gate_read(&g, err) < 0)
			break;
		for (i = 0; i < p->nservices; i++)
			if (st[i] == ST_FAILED) {
				json_object_put(filters);
				return gate_fail(s, p->services[i].container_name, 0, err);
			}
		if (gate_decided(&g)) {
			json_object_put(filters);
			return 0;
		}
		if (now_ns() >= deadline) {
			for (i = 0; i < p->nservices && st[i] != ST_PENDING; i++)
				;
			json_object_put(filters);
			return gate_fail(s, p->services[i].container_name, 1, err);
		}
		rc = docker_events(s->docker, since, deadline, filters, gate_on_event, &g, err);
		if (rc < 0) {
			error_wrap(err, "wait for %s to become healthy", p->name);
			break;
		}
	}
out:
	json_object_put(filters);
	return -1;
}

int stack_containers(struct docker_client *c, const char *project, json_object **out,
		     struct error *err)
{
	char pl[512];
	const char *filters[] = {pl, "io.executor.managed=true", NULL};

	snprintf(pl, sizeof(pl), "com.docker.compose.project=%s", project);
	return docker_container_list(c, filters, 1, out, err);
}

struct remove_task {
	struct docker_client *docker;
	const char *id;
	const char *name;
	struct error err;
	int rc;
};

static void *remove_one(void *arg)
{
	struct remove_task *t = arg;
	struct docker_client *c = docker_client_clone(t->docker, &t->err);

	t->rc = -1;
	if (!c)
		return NULL;
	/* a graceful stop first, as long as the service's stop_grace_period
	 * allows (the container's StopTimeout, which the engine applies when the
	 * stop names none; 10 s without one): databases flush, nginx drains */
	if (docker_container_stop(c, t->id, -1, &t->err) < 0)
		error_clear(&t->err);
	if (docker_container_remove(c, t->id, 1, 0, &t->err) < 0)
		error_wrap(&t->err, "remove container %s", t->name);
	else
		t->rc = 0;
	docker_client_free(c);
	return NULL;
}

int stack_down(struct docker_client *c, const char *project, const char *layer, const char *app,
	       int remove_volumes, struct error *err)
{
	char pl[512], ll[128], al[128];
	const char *filters[5] = {pl, "io.executor.managed=true"};
	json_object *list = NULL;
	size_t i, n, k = 2;

	snprintf(pl, sizeof(pl), "com.docker.compose.project=%s", project);
	/* the project's name alone is not enough: another app's or layer's
	 * project may carry the same name */
	if (layer) {
		snprintf(ll, sizeof(ll), "%s=%s", STACK_LABEL_LAYER, layer);
		filters[k++] = ll;
	}
	if (app) {
		snprintf(al, sizeof(al), "%s=%s", STACK_LABEL_APP, app);
		filters[k++] = al;
	}
	filters[k] = NULL;
	if (docker_container_list(c, filters, 1, &list, err) < 0)
		return error_wrap(err, "list containers of %s", project);
	n = json_object_array_length(list);
	{
		/* every container stops at once: the slowest sets the time, not the sum */
		struct remove_task *tasks = calloc(n ? n : 1, sizeof(*tasks));
		pthread_t *th = calloc(n ? n : 1, sizeof(*th));
		int *started = calloc(n ? n : 1, sizeof(*started));
		int rc = 0;

		if (!tasks || !th || !started) {
			free(tasks);
			free(th);
			free(started);
			json_object_put(list);
			return error_set(err, ERR_SYSTEM, "out of memory");
		}
		for (i = 0; i < n; i++) {
			json_object *ct = json_object_array_get_idx(list, i), *id, *names;

			tasks[i].docker = c;
			tasks[i].name = "?";
			if (!json_object_object_get_ex(ct, "Id", &id))
				continue;
			tasks[i].id = json_object_get_string(id);
			if (json_object_object_get_ex(ct, "Names", &names) &&
			    json_object_array_length(names) > 0)
				tasks[i].name =
					json_object_get_string(json_object_array_get_idx(names, 0));
			if (tasks[i].name[0] == '/')
				tasks[i].name++;
			if (n > 1 && pthread_create(&th[i], NULL, remove_one, &tasks[i]) == 0)
				started[i] = 1;
			else
				remove_one(&tasks[i]);
		}
		for (i = 0; i < n; i++)
			if (started[i])
				pthread_join(th[i], NULL);
		for (i = 0; i < n; i++) {
			if (!tasks[i].id)
				continue;
			if (tasks[i].rc < 0) {
				if (rc == 0)
					*err = tasks[i].err;
				rc = -1;
			} else {
				log_info("Removed container %s", tasks[i].name);
			}
		}
		free(tasks);
		free(th);
		free(started);
		if (rc < 0) {
			json_object_put(list);
			return -1;
		}
	}
	json_object_put(list);
	list = NULL;
	if (docker_network_list(c, filters, &list, err) < 0)
		return error_wrap(err, "list networks of %s", project);
	n = json_object_array_length(list);
	for (i = 0; i < n; i++) {
		json_object *net = json_object_array_get_idx(list, i), *name;

		if (!json_object_object_get_ex(net, "Name", &name))
			continue;
		if (docker_network_remove(c, json_object_get_string(name), err) < 0) {
			/* name lives in list: the message first, then the put */
			error_wrap(err, "remove network %s", json_object_get_string(name));
			json_object_put(list);
			return -1;
		}
		log_info("Removed network %s", json_object_get_string(name));
	}
	json_object_put(list);
	list = NULL;
	if (!remove_volumes)
		return 0;
	if (docker_volume_list(c, filters, &list, err) < 0)
		return error_wrap(err, "list volumes of %s", project);
	n = json_object_array_length(list);
	for (i = 0; i < n; i++) {
		json_object *vol = json_object_array_get_idx(list, i), *name;

		if (!json_object_object_get_ex(vol, "Name", &name))
			continue;
		if (docker_volume_remove(c, json_object_get_string(name), 0, err) < 0) {
			/* name lives in list: the message first, then the put */
			error_wrap(err, "remove volume %s", json_object_get_string(name));
			json_object_put(list);
			return -1;
		}
		log_info("Removed volume %s (its data is gone)", json_object_get_string(name));
	}
	json_object_put(list);
	return 0;
}
