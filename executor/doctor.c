/* SPDX-License-Identifier: MIT */
/* executor doctor: check the host the way `brew doctor` does. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "docker/docker.h"
#include "docker/engine.h"
#include "durable/env.h"
#include "durable/tls.h"
#include "executor/commands.h"
#include "jobs/helper.h"

enum check_status { CHECK_OK, CHECK_WARN, CHECK_ERROR };

struct report {
	json_object *checks;
	int json;
	int errors;
	int warnings;
};

static void check(struct report *r, const char *name, enum check_status st, const char *fix,
		  const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void check(struct report *r, const char *name, enum check_status st, const char *fix,
		  const char *fmt, ...)
{
	static const char *const words[] = {"ok", "warning", "error"};
	char msg[1024];
	va_list ap;
	json_object *o;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (st == CHECK_ERROR)
		r->errors++;
	else if (st == CHECK_WARN)
		r->warnings++;
	o = json_object_new_object();
	json_object_object_add(o, "check", json_object_new_string(name));
	json_object_object_add(o, "status", json_object_new_string(words[st]));
	json_object_object_add(o, "message", json_object_new_string(msg));
	if (fix)
		json_object_object_add(o, "fix", json_object_new_string(fix));
	json_object_array_add(r->checks, o);
	if (!r->json) {
		const char *color = "";

		if (log_color_enabled())
			color = st == CHECK_OK	   ? "\033[32m"
				: st == CHECK_WARN ? "\033[33m"
						   : "\033[31m";
		printf("%s%-7s%s %-8s %s%s%s\n", color, words[st], *color ? "\033[0m" : "", name,
		       msg, fix ? " — fix: " : "", fix ? fix : "");
		fflush(stdout);
	}
}

static unsigned long long free_bytes(const char *path)
{
	char p[PATH_MAX];
	struct statvfs vfs;

	snprintf(p, sizeof(p), "%s", path);
	/* walk up to the nearest existing directory */
	while (statvfs(p, &vfs) < 0) {
		char *slash = strrchr(p, '/');

		if (!slash || slash == p)
			return statvfs("/", &vfs) == 0
				       ? (unsigned long long)vfs.f_bavail * vfs.f_frsize
				       : 0;
		*slash = '\0';
	}
	return (unsigned long long)vfs.f_bavail * vfs.f_frsize;
}

static void check_disk(struct report *r, const char *what, const char *path)
{
	unsigned long long b = free_bytes(path);
	double gib = (double)b / (1024.0 * 1024 * 1024);

	if (b < 1ULL << 30)
		check(r, "disk", CHECK_ERROR, "free space or move it to a larger disk",
		      "%s (%s): only %.2f GiB free", what, path, gib);
	else if (b < 5ULL << 30)
		check(r, "disk", CHECK_WARN, "free space; images and builds need room",
		      "%s (%s): %.1f GiB free", what, path, gib);
	else
		check(r, "disk", CHECK_OK, NULL, "%s (%s): %.1f GiB free", what, path, gib);
}

static void check_socket(struct report *r, const char *host)
{
	const char *path;
	struct stat st;

	if (strncmp(host, "unix://", 7))
		return;
	path = host + 7;
	if (stat(path, &st) < 0) {
		check(r, "socket", CHECK_ERROR, "start dockerd (systemctl start docker)", "%s: %s",
		      path, strerror(errno));
		return;
	}
	if (access(path, R_OK | W_OK) < 0) {
		check(r, "socket", CHECK_ERROR,
		      "add the user gitlab-runner runs as to the socket's group (usermod -aG "
		      "docker "
		      "gitlab-runner)",
		      "%s is not readable and writable by uid %d", path, (int)getuid());
		return;
	}
	if (st.st_mode & S_IWOTH)
		check(r, "socket", CHECK_WARN,
		      "chmod 660 the socket; only the docker group may use it",
		      "%s is world-writable: every local user is root on this host", path);
	else
		check(r, "socket", CHECK_OK, NULL, "%s mode %03o, usable by uid %d", path,
		      st.st_mode & 0777, (int)getuid());
}

static void check_state_dir(struct report *r, const struct config *cfg)
{
	struct stat st;

	if (stat(cfg->state_dir, &st) < 0) {
		if (errno == ENOENT)
			check(r, "state", CHECK_WARN,
			      "create it: install -d -m 0700 -o <runner user> <dir>",
			      "%s does not exist yet (the first job creates it)", cfg->state_dir);
		else
			check(r, "state", CHECK_ERROR,
			      "check the path and its parents' permissions", "%s: %s",
			      cfg->state_dir, strerror(errno));
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		check(r, "state", CHECK_ERROR, "point state_dir at a directory",
		      "%s is not a directory", cfg->state_dir);
		return;
	}
	if (access(cfg->state_dir, W_OK | X_OK) < 0) {
		check(r, "state", CHECK_ERROR, "chown it to the user gitlab-runner runs as",
		      "%s is not writable by uid %d", cfg->state_dir, (int)getuid());
		return;
	}
	if (st.st_mode & 0077)
		check(r, "state", CHECK_WARN, "chmod 700 it: it holds per-env secrets and TLS keys",
		      "%s has mode %03o", cfg->state_dir, st.st_mode & 0777);
	else
		check(r, "state", CHECK_OK, NULL, "%s (mode 700)", cfg->state_dir);
}

static void check_runner_toml(struct report *r)
{
	const char *path = "/etc/gitlab-runner/config.toml";
	struct buf text = BUF_INIT;
	struct error err = ERROR_INIT;

	if (access(path, F_OK) < 0) {
		check(r, "runner", CHECK_OK, NULL,
		      "%s not found (register the runner with the snippet in "
		      "docs/configuration.md)",
		      path);
		return;
	}
	if (fs_read_file(path, &text, 4 << 20, &err) < 0) {
		check(r, "runner", CHECK_WARN, "run doctor as the runner's user or root", "%s",
		      err.msg);
		return;
	}
	if (!strstr(buf_str(&text), "run_exec"))
		check(r, "runner", CHECK_WARN,
		      "add a [runners.custom] section (see docs/configuration.md)",
		      "%s has no custom executor (run_exec)", path);
	else if (!strstr(buf_str(&text), "executor"))
		check(r, "runner", CHECK_WARN, "set run_exec = \"/usr/local/bin/executor\"",
		      "%s: run_exec does not point at executor", path);
	else
		check(r, "runner", CHECK_OK, NULL, "%s has a custom executor section", path);
	buf_release(&text);
}

static void check_helper(struct report *r, const struct config *cfg, struct docker_client *c)
{
	struct error err = ERROR_INIT;
	char bin[PATH_MAX];
	json_object *img = NULL;
	int found;

	if (!cfg->helper_image) {
		check(r, "helper", CHECK_WARN,
		      "build a helper image and set helper_image (docs/configuration.md, \"The "
		      "helper "
		      "image\")",
		      "no helper_image: the runner's own stages (git, cache, artifacts) run in the "
		      "job's image, which then needs git and gitlab-runner");
		return;
	}
	if (docker_image_inspect(c, cfg->helper_image, &img, &err) == 0)
		check(r, "helper", CHECK_OK, NULL, "helper image %s is present", cfg->helper_image);
	else if (err.code == 404)
		check(r, "helper",
		      pull_policies_has(&cfg->pull_policy, PULL_NEVER) && cfg->pull_policy.n == 1
			      ? CHECK_ERROR
			      : CHECK_WARN,
		      "build or pull it (docs/configuration.md, \"The helper image\")",
		      "helper image %s is not present", cfg->helper_image);
	else
		check(r, "helper", CHECK_WARN, NULL, "helper image %s: %s", cfg->helper_image,
		      err.msg);
	json_object_put(img);
	error_clear(&err);
	found = helper_runner_binary(cfg, bin, sizeof(bin), &err);
	if (found < 0)
		check(r, "helper", CHECK_ERROR, NULL, "%s", err.msg);
	else if (!found)
		check(r, "helper", CHECK_WARN, "set runner_binary to this host's gitlab-runner",
		      "no gitlab-runner on PATH and no runner_binary: jobs' cache and artifacts "
		      "are "
		      "skipped");
	else if (helper_binary_is_static(bin) == 0)
		check(r, "helper", CHECK_WARN, "use GitLab's own (static) gitlab-runner binary",
		      "runner binary %s is dynamically linked: it runs in the helper only when the "
		      "image has its libraries",
		      bin);
	else
		check(r, "helper", CHECK_OK, NULL, "runner binary %s for the helper", bin);
}

/* One certificate's dates: an error once expired, a warning within 30 days. */
static void check_cert(struct report *r, const char *what, const char *path, const char *fix)
{
	struct docker_cert_info ci;
	struct error err = ERROR_INIT;
	long days;

	if (docker_cert_info(path, &ci, &err) < 0) {
		check(r, "certs", CHECK_ERROR, fix, "%s: %s", what, err.msg);
		return;
	}
	days = (long)((ci.not_after - (long long)time(NULL)) / 86400);
	if (ci.not_after < (long long)time(NULL))
		check(r, "certs", CHECK_ERROR, fix, "%s %s (%s) has expired", what, path,
		      ci.subject);
	else if (ci.not_before > (long long)time(NULL))
		check(r, "certs", CHECK_ERROR, "check this host's clock",
		      "%s %s (%s) is not valid yet", what, path, ci.subject);
	else if (days < 30)
		check(r, "certs", CHECK_WARN, fix, "%s %s (%s) expires in %ld days", what, path,
		      ci.subject, days);
	else
		check(r, "certs", CHECK_OK, NULL, "%s %s (%s) valid for %ld more days", what, path,
		      ci.subject, days);
}

/* The TLS material of a tcp:// engine, read before connecting. */
static void check_engine_certs(struct report *r, const struct docker_endpoint *ep)
{
	struct stat st;
	int have_cert, have_key;

	if (ep->kind == DOCKER_TRANSPORT_TCP) {
		check(r, "certs", CHECK_WARN,
		      "use TLS (docker_tls_verify = true, docker_cert_path) or ssh://",
		      "%s is plain TCP (docker_tls = false): anyone who reaches the port is root "
		      "on "
		      "the engine's host",
		      ep->host);
		return;
	}
	if (ep->kind != DOCKER_TRANSPORT_TLS)
		return;
	if (ep->verify)
		check_cert(
			r, "CA", ep->ca,
			"put the CA that signed the engine's certificate there (renew it first)");
	else
		check(r, "certs", CHECK_WARN, "set docker_tls_verify = true with the engine's CA",
		      "the engine's certificate is not verified (docker_tls_verify = false): "
		      "anyone on the way can pose as the engine");
	have_cert = access(ep->cert, F_OK) == 0;
	have_key = access(ep->key, F_OK) == 0;
	if (!have_cert && !have_key) {
		check(r, "certs", CHECK_WARN,
		      "put a client certificate signed by the engine's CA, and its key, there",
		      "no client certificate (%s, %s): an engine with --tlsverify refuses the "
		      "connection",
		      ep->cert, ep->key);
		return;
	}
	if (have_cert)
		check_cert(r, "client certificate", ep->cert,
			   "issue a new client certificate from the engine's CA");
	if (have_key && stat(ep->key, &st) == 0 && (st.st_mode & 0077))
		check(r, "certs", CHECK_WARN, "chmod 600 it",
		      "%s has mode %03o: the key that is root on the engine's host must be "
		      "readable by the runner's user only",
		      ep->key, st.st_mode & 0777);
}

/* How the driver reaches the engine, and whether it gets in. */
static struct docker_client *check_connect(struct report *r, const struct config *cfg)
{
	struct error err = ERROR_INIT;
	struct docker_settings s;
	struct docker_endpoint ep;
	struct docker_client *c;
	const char *fix = "start dockerd (systemctl start docker), or set docker_host";

	docker_settings_from_env(&s);
	s.host = cfg->docker_host;
	s.tls = cfg->docker_tls;
	s.tls_verify = cfg->docker_tls_verify;
	s.cert_path = cfg->docker_cert_path;
	if (docker_endpoint_parse(&ep, &s, &err) < 0) {
		check(r, "engine", CHECK_ERROR,
		      "fix docker_host (or DOCKER_HOST and the TLS keys) as docs/configuration.md "
		      "says",
		      "%s", err.msg);
		return NULL;
	}
	check_engine_certs(r, &ep);
	if (ep.kind != DOCKER_TRANSPORT_UNIX)
		fix = "do what the message says; docs/configuration.md, Remote engines, lists what "
		      "the engine's host needs";
	docker_endpoint_release(&ep);

	c = engine_client(cfg, &err);
	if (!c) {
		check(r, "engine", CHECK_ERROR, fix, "%s", err.msg);
		return NULL;
	}
	check_socket(r, docker_client_host(c));
	if (docker_ping(c, &err) < 0) {
		check(r, "engine", CHECK_ERROR, fix, "%s", err.msg);
		docker_client_free(c);
		return NULL;
	}
	{
		const struct docker_endpoint *e = docker_client_endpoint(c);

		switch (e->kind) {
		case DOCKER_TRANSPORT_TLS:
			check(r, "connect", CHECK_OK, NULL,
			      "TCP+TLS engine %s (%s): TLS handshake done%s%s, %s", e->host,
			      e->origin, e->verify ? ", engine certificate verified against " : "",
			      e->verify ? e->ca : "",
			      e->cert ? "client certificate accepted" : "no client certificate");
			break;
		case DOCKER_TRANSPORT_SSH:
			check(r, "connect", CHECK_OK, NULL,
			      "SSH engine %s (%s): ssh logged in, `docker system dial-stdio` "
			      "answered",
			      e->host, e->origin);
			break;
		case DOCKER_TRANSPORT_TCP:
			check(r, "connect", CHECK_OK, NULL, "plain TCP engine %s (%s)", e->host,
			      e->origin);
			break;
		case DOCKER_TRANSPORT_UNIX:
			check(r, "connect", CHECK_OK, NULL, "local socket %s (%s)", e->host,
			      e->origin);
			break;
		}
	}
	return c;
}

/*
 * The admin's job limits against what the engine has: the engine refuses a container whose
 * NanoCpus exceed its CPUs ("Range of CPUs is from 0.01 to N") or whose memory is under 6 MB,
 * so a default past either fails every job, and a ceiling past it fails the jobs that raise
 * their limits that far.
 */
static void check_limits(struct report *r, const struct config *cfg, json_object *info)
{
	json_object *v;
	long long ncpu = 0, mem = 0;
	const long long min_mem = 6LL * 1024 * 1024;

	if (json_object_object_get_ex(info, "NCPU", &v))
		ncpu = json_object_get_int64(v);
	if (json_object_object_get_ex(info, "MemTotal", &v))
		mem = json_object_get_int64(v);
	if (ncpu <= 0 || mem <= 0)
		return;
	if (cfg->cpus > (double)ncpu)
		check(r, "limits", CHECK_ERROR, "lower cpus in the admin config",
		      "cpus = %g but the engine has %lld CPUs: it refuses every job container",
		      cfg->cpus, ncpu);
	else if (cfg->cpus_max > (double)ncpu)
		check(r, "limits", CHECK_WARN, "lower cpus_max in the admin config",
		      "cpus_max = %g but the engine has %lld CPUs: a job asking for more than %lld "
		      "fails",
		      cfg->cpus_max, ncpu, ncpu);
	else if (cfg->memory && cfg->memory < min_mem)
		check(r, "limits", CHECK_ERROR, "raise memory in the admin config to 6m or more",
		      "memory = %lld bytes: the engine refuses limits under 6 MB", cfg->memory);
	else if (cfg->memory > mem)
		check(r, "limits", CHECK_WARN, "lower memory in the admin config",
		      "memory = %lld MB but the engine has %lld MB: the limit bounds nothing",
		      cfg->memory >> 20, mem >> 20);
	else
		check(r, "limits", CHECK_OK, NULL,
		      "job limits fit the engine (%lld CPUs, %lld MB): cpus %g (max %g), memory "
		      "%lld MB",
		      ncpu, mem >> 20, cfg->cpus, cfg->cpus_max, cfg->memory >> 20);
}

static void check_engine(struct report *r, const struct config *cfg)
{
	struct error err = ERROR_INIT;
	struct docker_client *c = check_connect(r, cfg);
	json_object *version = NULL, *info = NULL, *v;
	const char *engine_version = "?";

	if (!c)
		return;
	if (docker_call_json(c, "GET", "/version", NULL, &version, 10000, &err) == 0 &&
	    json_object_object_get_ex(version, "Version", &v))
		engine_version = json_object_get_string(v);
	if (strcmp(docker_api_version(c), "1.40") < 0)
		check(r, "engine", CHECK_ERROR, "upgrade Docker to 19.03 or newer",
		      "Docker %s at %s speaks API %s; executor needs 1.40 or newer", engine_version,
		      docker_client_host(c), docker_api_version(c));
	else
		check(r, "engine", CHECK_OK, NULL, "Docker %s, API %s, %s at %s", engine_version,
		      docker_api_version(c), docker_transport_name(docker_client_endpoint(c)->kind),
		      docker_client_host(c));

	if (docker_call_json(c, "GET", "/info", NULL, &info, 10000, &err) == 0) {
		check_limits(r, cfg, info);
		if (json_object_object_get_ex(info, "DockerRootDir", &v) &&
		    !strncmp(docker_client_host(c), "unix://", 7))
			check_disk(r, "engine data", json_object_get_string(v));
		if (json_object_object_get_ex(info, "SystemTime", &v)) {
			struct tm tm = {0};
			const char *s = json_object_get_string(v);

			if (strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) {
				long skew = (long)(timegm(&tm) - time(NULL));

				if (labs(skew) > 5)
					check(r, "clock", CHECK_WARN,
					      "sync the clocks (systemd-timesyncd or chrony)",
					      "engine and host clocks differ by %ld s", skew);
				else
					check(r, "clock", CHECK_OK, NULL,
					      "engine and host clocks agree (%+ld s)", skew);
			}
		}
	}

	if (!cfg->default_image) {
		check(r, "image", CHECK_WARN, "set default_image in the admin config",
		      "no default_image: jobs without `image:` will fail");
	} else {
		json_object *img = NULL;
		int never_pulls = !pull_policies_has(&cfg->pull_policy, PULL_IF_NOT_PRESENT) &&
				  !pull_policies_has(&cfg->pull_policy, PULL_ALWAYS);

		if (docker_image_inspect(c, cfg->default_image, &img, &err) == 0)
			check(r, "image", CHECK_OK, NULL, "default image %s is present",
			      cfg->default_image);
		else if (err.code == 404)
			check(r, "image", never_pulls ? CHECK_ERROR : CHECK_WARN,
			      never_pulls ? "load the image on this host"
					  : "the first job pulls it; pull it now "
					    "to save that time",
			      "default image %s is not present", cfg->default_image);
		else
			check(r, "image", CHECK_WARN, NULL, "default image %s: %s",
			      cfg->default_image, err.msg);
		json_object_put(img);
	}
	check_helper(r, cfg, c);
	json_object_put(version);
	json_object_put(info);
	docker_client_free(c);
}

/* The seed's published ports: anything else listening there breaks a deploy. */
static const struct {
	int port;
	const char *what;
} seed_ports[] = {
	{3306, "devlocal database"},
	{3307, "ci database"},
	{443, "ci router (live)"},
	{1443, "ci router (preview)"},
	{3001, "blue API"},
	{3443, "blue frontend"},
	{3000, "blue frontend HTTP"},
	{4566, "blue LocalStack"},
	{3101, "green API"},
	{3543, "green frontend"},
	{3100, "green frontend HTTP"},
	{4666, "green LocalStack"},
};

static int port_listening(int port)
{
	struct sockaddr_in a = {0};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), rc;

	if (fd < 0)
		return 0;
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	rc = connect(fd, (struct sockaddr *)&a, sizeof(a));
	close(fd);
	return rc == 0;
}

/* Host ports published by containers the driver manages. */
static int published_by_us(json_object *ours, int port)
{
	size_t i, n = ours ? json_object_array_length(ours) : 0;

	for (i = 0; i < n; i++) {
		json_object *c = json_object_array_get_idx(ours, i), *ports;
		size_t k;

		if (!json_object_object_get_ex(c, "Ports", &ports))
			continue;
		for (k = 0; k < json_object_array_length(ports); k++) {
			json_object *p = json_object_array_get_idx(ports, k), *pub;

			if (json_object_object_get_ex(p, "PublicPort", &pub) &&
			    json_object_get_int(pub) == port)
				return 1;
		}
	}
	return 0;
}

static void check_ports(struct report *r, const struct config *cfg)
{
	struct error err = ERROR_INIT;
	struct docker_client *c = engine_client(cfg, &err);
	const char *filters[] = {"io.executor.managed=true", NULL};
	json_object *ours = NULL;
	int conflicts = 0;
	size_t i;

	if (c && docker_client_endpoint(c)->kind != DOCKER_TRANSPORT_UNIX) {
		/* the containers publish on the engine's host, not on this one */
		check(r, "ports", CHECK_OK, NULL,
		      "the engine %s is remote: its host publishes the seed's ports (check them "
		      "there)",
		      docker_client_host(c));
		docker_client_free(c);
		return;
	}
	if (c && docker_container_list(c, filters, 0, &ours, &err) < 0)
		ours = NULL;
	for (i = 0; i < ARRAY_SIZE(seed_ports); i++) {
		if (!port_listening(seed_ports[i].port) ||
		    published_by_us(ours, seed_ports[i].port))
			continue;
		conflicts++;
		check(r, "ports", CHECK_WARN,
		      "stop what listens there, or move the env's port (EXECUTOR_*_PORT, overlays)",
		      "port %d (the seed's %s) is taken by something executor did not start",
		      seed_ports[i].port, seed_ports[i].what);
	}
	if (!conflicts)
		check(r, "ports", CHECK_OK, NULL,
		      "the seed's ports are free or used by executor's own containers");
	json_object_put(ours);
	if (c)
		docker_client_free(c);
}

/* Per application and env: the durable layer's containers and the TLS material. */
static void check_envs(struct report *r, const struct config *cfg)
{
	struct error err = ERROR_INIT;
	struct docker_client *c = engine_client(cfg, &err);
	char apps[4096];
	DIR *dir;
	struct dirent *de;
	int envs = 0;

	snprintf(apps, sizeof(apps), "%s/apps", cfg->state_dir);
	dir = opendir(apps);
	while (dir && (de = readdir(dir))) {
		char root[4400];
		char **names = NULL;
		size_t n = 0, i;

		if (de->d_name[0] == '.')
			continue;
		snprintf(root, sizeof(root), "%s/%s", apps, de->d_name);
		if (durable_env_list(root, &names, &n, &err) < 0) {
			error_clear(&err);
			continue;
		}
		for (i = 0; i < n; i++) {
			char appl[300], envl[128];
			const char *filters[] = {appl, envl, "io.executor.layer=durable",
						 "io.executor.managed=true", NULL};
			json_object *list = NULL;
			time_t ca = 0, cert = 0;
			size_t k, total = 0, bad = 0;

			envs++;
			snprintf(appl, sizeof(appl), "io.executor.app=%s", de->d_name);
			snprintf(envl, sizeof(envl), "io.executor.env=%s", names[i]);
			if (c && docker_container_list(c, filters, 1, &list, &err) == 0) {
				for (k = 0; k < json_object_array_length(list); k++) {
					json_object *st;
					const char *s = "";

					total++;
					if (json_object_object_get_ex(
						    json_object_array_get_idx(list, k), "Status",
						    &st))
						s = json_object_get_string(st);
					if (strncmp(s, "Up", 2) || strstr(s, "unhealthy"))
						bad++;
				}
				if (!total)
					check(r, "durable", CHECK_OK, NULL,
					      "%s/%s: not set up (or torn down)", de->d_name,
					      names[i]);
				else if (bad)
					check(r, "durable", CHECK_ERROR,
					      "run durable setup for the env (it starts stopped "
					      "containers), "
					      "and read the containers' logs",
					      "%s/%s: %zu of %zu durable containers down or "
					      "unhealthy",
					      de->d_name, names[i], bad, total);
				else
					check(r, "durable", CHECK_OK, NULL,
					      "%s/%s: %zu durable containers running and healthy",
					      de->d_name, names[i], total);
			}
			json_object_put(list);
			error_clear(&err);
			if (durable_tls_expiry(root, names[i], &ca, &cert, &err) == 0 && cert) {
				long days = (long)((cert - time(NULL)) / 86400);

				if (days < 30)
					check(r, "tls", days < 0 ? CHECK_ERROR : CHECK_WARN,
					      "run durable setup for the env: it reissues the "
					      "certificate",
					      "%s/%s: server certificate expires in %ld days",
					      de->d_name, names[i], days);
				else
					check(r, "tls", CHECK_OK, NULL,
					      "%s/%s: server certificate valid for %ld more days",
					      de->d_name, names[i], days);
			}
			error_clear(&err);
		}
		durable_env_list_free(names);
	}
	if (dir)
		closedir(dir);
	if (!envs)
		check(r, "durable", CHECK_OK, NULL, "no env set up yet on this runner");
	if (c)
		docker_client_free(c);
}

int cmd_doctor(int argc, char **argv, struct config *cfg, struct error *err)
{
	struct report r = {.checks = json_object_new_array()};
	struct error cerr = ERROR_INIT;
	struct config fresh;
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			r.json = 1;
		} else {
			json_object_put(r.checks);
			return error_set(err, ERR_JOB, "doctor: unknown option \"%s\"; see --help",
					 argv[i]);
		}
	}

	/* main() loaded the config already; load again to report its error */
	if (config_load(&fresh, NULL, &cerr) < 0)
		check(&r, "config", CHECK_ERROR, "fix the file (see docs/configuration.md)", "%s",
		      cerr.msg);
	else if (fresh.path)
		check(&r, "config", CHECK_OK, NULL, "%s", fresh.path);
	else
		check(&r, "config", CHECK_OK, NULL,
		      "no %s; using the defaults (see docs/configuration.md)", CONFIG_DEFAULT_PATH);
	config_release(&fresh);

	check_engine(&r, cfg);
	check_state_dir(&r, cfg);
	check_disk(&r, "state", cfg->state_dir);
	check_runner_toml(&r);
	check_ports(&r, cfg);
	check_envs(&r, cfg);

	if (r.json)
		puts(json_object_to_json_string_ext(
			r.checks, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	else
		printf("\n%d error(s), %d warning(s)\n", r.errors, r.warnings);
	json_object_put(r.checks);
	if (r.errors)
		command_exit_override = 1;
	return 0;
}
