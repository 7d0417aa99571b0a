/* SPDX-License-Identifier: MIT */
/* A service's container-create body (stack_container_config): labels,
 * mounts, ports, health check, aliases, with stages/stack/spec.c for the
 * service keys; and the drift of a kept container's body from the new one. */

#include <fnmatch.h>
#include <openssl/evp.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "stages/stack/internal.h"
#include "stages/stack/spec.h"

#define COMPOSE_VERSION_LABEL "2.20.0"

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

void stack_label_add(json_object *labels, const char *k, const char *v)
{
	json_object_object_add(labels, k, json_object_new_string(v ? v : ""));
}

json_object *stack_project_labels(const struct stack *s)
{
	json_object *l = json_object_new_object();

	stack_label_add(l, "com.docker.compose.project", s->project->name);
	stack_label_add(l, "com.docker.compose.project.working_dir", s->project->working_dir);
	if (s->config_files)
		stack_label_add(l, "com.docker.compose.project.config_files", s->config_files);
	stack_label_add(l, "com.docker.compose.version", COMPOSE_VERSION_LABEL);
	stack_label_add(l, "io.executor.managed", "true");
	stack_label_add(l, STACK_LABEL_LAYER, s->layer);
	if (s->app)
		stack_label_add(l, STACK_LABEL_APP, s->app);
	if (s->env)
		stack_label_add(l, STACK_LABEL_ENV, s->env);
	if (s->color)
		stack_label_add(l, STACK_LABEL_COLOR, s->color);
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
	json_object *labels = stack_project_labels(s), *env = json_object_new_array();
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
		stack_label_add(labels, svc->labels[i].key, svc->labels[i].value);
	stack_label_add(labels, "com.docker.compose.service", svc->name);
	stack_label_add(labels, "com.docker.compose.container-number", "1");
	stack_label_add(labels, "com.docker.compose.oneoff", "False");

	ports_json(svc, exposed, bindings);
	json_object_object_add(cfg, "ExposedPorts", exposed);
	json_object_object_add(host, "PortBindings", bindings);
	if (mounts_json(s, svc, mounts, err) < 0 ||
	    stackspec_files(s, svc, mounts, files_digest, 0, err) < 0) {
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
		stack_label_add(labels, STACK_LABEL_HASH, hash);
		stack_label_add(labels, "com.docker.compose.config-hash", hash);
		stack_label_add(labels, STACK_LABEL_SPEC, text);
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

void stack_spec_diff(struct buf *out, const char *cname, const char *old_text,
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
