/* SPDX-License-Identifier: MIT */
/* deploy:<color>: the color's stack started beside the live one, reached
 * through the preview entry. */
#include <openssl/evp.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/clock.h"
#include "common/fs.h"
#include "common/log.h"
#include "durable/history.h"
#include "durable/state.h"
#include "stages/color.h"
#include "stages/context.h"
#include "stages/deploy.h"
#include "stages/layer.h"
#include "stages/names.h"
#include "stages/route.h"
#include "stages/stack.h"

/* Something is at rel in the checkout.  A link that leads out of it counts
 * as there, so that loading it says so (fs_exists_beneath). */
static int file_exists(const struct deploy_ctx *d, const char *rel)
{
	return fs_exists_beneath(d->project_dir, rel) != 0;
}

static const char *label_value(const struct compose_service *svc, const char *key)
{
	size_t i;

	for (i = 0; i < svc->nlabels; i++)
		if (!strcmp(svc->labels[i].key, key))
			return svc->labels[i].value;
	return NULL;
}

/* The stack files of a color: EXECUTOR_COMPOSE_FILES (comma-separated), else
 * docker-compose.yml plus docker-compose.<color>.yml (blue may use the seed's
 * docker-compose.override.yml). */
static int color_files(const struct deploy_ctx *d, char files[][512], size_t *n, struct error *err)
{
	const char *list = vars_get(&d->vars, "EXECUTOR_COMPOSE_FILES");
	char overlay[512];

	*n = 0;
	if (list && *list) {
		_cleanup_free_ char *copy = strdup(list);
		char *save = NULL, *tok;

		for (tok = strtok_r(copy, ",:", &save); tok && *n < 8;
		     tok = strtok_r(NULL, ",:", &save)) {
			while (*tok == ' ')
				tok++;
			if (!*tok)
				continue;
			if (deploy_check_relpath("EXECUTOR_COMPOSE_FILES", tok, err) < 0)
				return -1;
			if (!file_exists(d, tok))
				return error_set(err, ERR_JOB,
						 "EXECUTOR_COMPOSE_FILES names %s, which is not in "
						 "the repository",
						 tok);
			snprintf(files[(*n)++], 512, "%s", tok);
		}
		return 0;
	}
	if (!file_exists(d, "docker-compose.yml"))
		return error_set(err, ERR_JOB,
				 "docker-compose.yml is missing in %s: the app stack (or set "
				 "EXECUTOR_COMPOSE_FILES)",
				 d->project_dir);
	snprintf(files[(*n)++], 512, "docker-compose.yml");
	snprintf(overlay, sizeof(overlay), "docker-compose.%s.yml", d->action.color);
	if (file_exists(d, overlay)) {
		snprintf(files[(*n)++], 512, "%s", overlay);
	} else if (!strcmp(d->action.color, "blue") &&
		   file_exists(d, "docker-compose.override.yml")) {
		snprintf(files[(*n)++], 512, "docker-compose.override.yml");
	} else {
		log_warn("no %s: color %s uses docker-compose.yml alone (its ports may clash "
			 "with another color)",
			 overlay, d->action.color);
	}
	return 0;
}

#define ROUTE_CA_MAX (256 * 1024)

/* The stack's own CA of an https route (io.executor.route.tls-ca): a PEM file
 * of the checkout.  *name: the file the router reads it from, named by its
 * content (so both colors of a canary with the same CA agree). */
static int route_ca(const struct deploy_ctx *d, const struct compose_service *svc, const char *rel,
		    struct buf *pem, char *name, size_t size, struct error *err)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	int rc;

	if (deploy_check_relpath("io.executor.route.tls-ca", rel, err) < 0)
		return error_wrap(err, "%s:%d: service %s", svc->file, svc->line, svc->name);
	rc = fs_exists_beneath(d->project_dir, rel);
	if (rc == 0)
		return error_set(err, ERR_JOB,
				 "%s:%d: service %s: io.executor.route.tls-ca names %s, which is "
				 "not in the repository: commit the CA certificate the upstream's "
				 "certificate is issued by",
				 svc->file, svc->line, svc->name, rel);
	if (fs_read_beneath(d->project_dir, rel, pem, ROUTE_CA_MAX, err) < 0)
		return error_wrap(err, "%s:%d: service %s: io.executor.route.tls-ca", svc->file,
				  svc->line, svc->name);
	if (!strstr(buf_str(pem), "-----BEGIN CERTIFICATE-----"))
		return error_set(err, ERR_COMPOSE,
				 "%s:%d: service %s: io.executor.route.tls-ca %s holds no PEM "
				 "certificate (-----BEGIN CERTIFICATE-----)",
				 svc->file, svc->line, svc->name, rel);
	if (EVP_Digest(pem->data, pem->len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen < 8)
		return error_set(err, ERR_SYSTEM, "sha256 of %s failed", rel);
	rc = snprintf(name, size, "upstream-ca-");
	for (i = 0; i < 8 && (size_t)rc + 2 < size; i++, rc += 2)
		snprintf(name + rc, size - (size_t)rc, "%02x", md[i]);
	snprintf(name + rc, size - (size_t)rc, ".pem");
	return 0;
}

/* Write the stack's own CAs of the routes where the router reads them. */
static int write_route_cas(const struct deploy_ctx *d, const struct compose_project *p,
			   json_object *routes, struct error *err)
{
	size_t i;

	for (i = 0; i < json_object_array_length(routes); i++) {
		json_object *r = json_object_array_get_idx(routes, i), *v;
		const struct compose_service *svc;
		_cleanup_free_ char *path = NULL;
		struct buf pem = BUF_INIT;
		char name[64];
		int rc;

		if (!json_object_object_get_ex(r, "tls_ca_src", &v))
			continue;
		svc = compose_project_service(
			p, json_object_get_string(json_object_object_get(r, "service")));
		if (!svc)
			continue;
		rc = route_ca(d, svc, json_object_get_string(v), &pem, name, sizeof(name), err);
		if (rc == 0 && asprintf(&path, "%s/%s", d->router_dir, name) < 0) {
			path = NULL;
			rc = error_set(err, ERR_SYSTEM, "out of memory");
		}
		if (rc == 0)
			rc = fs_write_atomic(path, pem.data, pem.len, 0644, err);
		buf_release(&pem);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* An https route's upstream TLS labels into the route r. */
static int route_tls(const struct deploy_ctx *d, const struct compose_service *svc,
		     const char *scheme, json_object *r, struct error *err)
{
	const char *verify = label_value(svc, "io.executor.route.tls-verify");
	const char *ca = label_value(svc, "io.executor.route.tls-ca");
	const char *name = label_value(svc, "io.executor.route.tls-name");
	struct buf pem = BUF_INIT;
	char file[64];
	int rc;

	if (!verify && !ca && !name)
		return 0;
	if (!scheme || strcmp(scheme, "https"))
		return error_set(
			err, ERR_COMPOSE,
			"%s:%d: service %s: io.executor.route.tls-* labels apply to an "
			"https upstream only: add io.executor.route.scheme: https, or drop "
			"them",
			svc->file, svc->line, svc->name);
	if (verify && strcmp(verify, "on") && strcmp(verify, "off"))
		return error_set(err, ERR_COMPOSE,
				 "%s:%d: service %s: io.executor.route.tls-verify must be on or "
				 "off, not \"%.40s\"",
				 svc->file, svc->line, svc->name, verify);
	if (verify && !strcmp(verify, "off") && ca)
		return error_set(err, ERR_COMPOSE,
				 "%s:%d: service %s: io.executor.route.tls-verify: off and "
				 "io.executor.route.tls-ca contradict each other: keep one",
				 svc->file, svc->line, svc->name);
	if (name &&
	    (!*name || strlen(name) > 253 ||
	     strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") !=
		     strlen(name)))
		return error_set(err, ERR_COMPOSE,
				 "%s:%d: service %s: io.executor.route.tls-name must be a host "
				 "name (letters, digits, dots and dashes)",
				 svc->file, svc->line, svc->name);
	if (verify)
		json_object_object_add(r, "tls_verify", json_object_new_string(verify));
	if (name)
		json_object_object_add(r, "tls_name", json_object_new_string(name));
	if (!ca)
		return 0;
	rc = route_ca(d, svc, ca, &pem, file, sizeof(file), err);
	buf_release(&pem);
	if (rc < 0)
		return -1;
	json_object_object_add(r, "tls_ca", json_object_new_string(file));
	json_object_object_add(r, "tls_ca_src", json_object_new_string(ca));
	return 0;
}

json_object *deploy_routes(const struct deploy_ctx *d, const struct compose_project *p,
			   struct error *err)
{
	json_object *routes = json_object_new_array();
	size_t i;

	for (i = 0; i < p->nservices; i++) {
		const struct compose_service *svc = &p->services[i];
		const char *path = label_value(svc, "io.executor.route.path");
		const char *port = label_value(svc, "io.executor.route.port");
		const char *scheme = label_value(svc, "io.executor.route.scheme");
		const char *health = label_value(svc, "io.executor.health.path");
		json_object *r;
		int portn;

		if (!path)
			continue;
		portn = port ? (int)strtol(port, NULL, 10) : 0;
		if (path[0] != '/' || portn <= 0 || portn > 65535 || strpbrk(path, " ;{}'\"\\$")) {
			json_object_put(routes);
			error_set(
				err, ERR_COMPOSE,
				"%s:%d: service %s: io.executor.route.path must start with / (no "
				"spaces, quotes, braces or ;) and io.executor.route.port must be a "
				"port",
				svc->file, svc->line, svc->name);
			return NULL;
		}
		if (scheme && strcmp(scheme, "http") && strcmp(scheme, "https")) {
			json_object_put(routes);
			error_set(
				err, ERR_COMPOSE,
				"%s:%d: service %s: io.executor.route.scheme must be http or https",
				svc->file, svc->line, svc->name);
			return NULL;
		}
		r = json_object_new_object();
		json_object_object_add(r, "service", json_object_new_string(svc->name));
		json_object_object_add(r, "path", json_object_new_string(path));
		json_object_object_add(r, "port", json_object_new_int(portn));
		json_object_object_add(r, "scheme",
				       json_object_new_string(scheme ? scheme : "http"));
		json_object_object_add(
			r, "health",
			json_object_new_string(health && health[0] == '/' ? health : "/"));
		json_object_array_add(routes, r);
		if (route_tls(d, svc, scheme, r, err) < 0) {
			json_object_put(routes);
			return NULL;
		}
	}
	return routes;
}

/* "api 3001->3001, web 8080->80" for the message of a deploy without router. */
static const char *published_ports(const struct compose_project *p, char *out, size_t size)
{
	size_t i, k, len = 0;

	out[0] = '\0';
	for (i = 0; i < p->nservices; i++)
		for (k = 0; k < p->services[i].nports && len + 1 < size; k++) {
			const struct compose_port *pt = &p->services[i].ports[k];
			int n;

			if (pt->published_start <= 0)
				continue;
			n = snprintf(out + len, size - len, "%s%s %d->%d", len ? ", " : "",
				     p->services[i].name, pt->published_start, pt->target);
			if (n < 0 || (size_t)n >= size - len)
				break;
			len += (size_t)n;
		}
	if (!len)
		snprintf(out, size, "none published");
	return out;
}

static json_object *stack_images(struct deploy_ctx *d, const struct compose_project *p)
{
	json_object *images = json_object_new_object();
	size_t i;

	for (i = 0; i < p->nservices; i++) {
		json_object *info = NULL, *v;
		struct error err = ERROR_INIT;
		const char *digest = NULL;

		if (docker_image_inspect(d->docker, p->services[i].image, &info, &err) == 0) {
			if (json_object_object_get_ex(info, "RepoDigests", &v) &&
			    json_object_array_length(v) > 0)
				digest = json_object_get_string(json_object_array_get_idx(v, 0));
			else if (json_object_object_get_ex(info, "Id", &v))
				digest = json_object_get_string(v);
		}
		durable_state_image_set(images, p->services[i].name, p->services[i].image, digest);
		json_object_put(info);
	}
	return images;
}

static json_object *stack_networks(const struct compose_project *p)
{
	json_object *nets = json_object_new_array();
	size_t i;

	for (i = 0; i < p->nnetworks; i++)
		if (!p->networks[i].external)
			json_object_array_add(nets, json_object_new_string(p->networks[i].name));
	return nets;
}

int action_deploy(struct deploy_ctx *d, const char *dotenv_path, struct error *err)
{
	char files[8][512];
	const char *fptr[8];
	char joined[4096] = "", project[NAMES_PROJECT_MAX], tlsdir[4096], ports[512];
	const char *roots[3];
	size_t nfiles = 0, i;
	struct compose_project *p = NULL;
	struct stack_report rep = {0};
	struct stack s = {0};
	_cleanup_env_state_ struct env_state *state = NULL;
	_cleanup_json_ json_object *networks = NULL;
	json_object *routes = NULL, *images = NULL;
	const char *old_preview;
	char *prev_preview = NULL;
	long long t0 = clock_ms();
	int rc = -1, switched = 0, touched = 0;

	if (color_state_load(d, &state, err) < 0)
		goto out;
	if (durable_state_live(state) && !strcmp(durable_state_live(state), d->action.color)) {
		error_set(err, ERR_JOB,
			  "%s is the live color of env %s: deploying over it would drop live "
			  "traffic. Deploy the other color, or promote another color first",
			  d->action.color, d->action.env);
		goto out;
	}
	{
		int weight = 0;
		const char *canary = durable_state_canary(state, &weight);

		if (canary && !strcmp(canary, d->action.color)) {
			error_set(err, ERR_JOB,
				  "%s takes %d%% of the live clients of env %s in a canary: "
				  "finish it (promote with EXECUTOR_PROMOTE=full) or abort it "
				  "(EXECUTOR_PROMOTE=abort) before deploying %s again",
				  d->action.color, weight, d->action.env, d->action.color);
			goto out;
		}
	}
	if (color_files(d, files, &nfiles, err) < 0)
		goto out;
	for (i = 0; i < nfiles; i++) {
		fptr[i] = files[i];
		snprintf(joined + strlen(joined), sizeof(joined) - strlen(joined), "%s%s",
			 i ? "," : "", files[i]);
	}
	names_color_project(d->app, d->action.color, project, sizeof(project));
	if (deploy_load_stack(d, fptr, nfiles, project, &p, err) < 0)
		goto out;
	routes = deploy_routes(d, p, err);
	if (!routes)
		goto out;

	snprintf(tlsdir, sizeof(tlsdir), "%s/tls", d->env_dir);
	roots[0] = tlsdir;
	roots[1] = NULL;
	deploy_stack_init(d, &s, p, joined, roots);
	/* a stack the policy refuses changes nothing, not even the certificate */
	if (stack_check(&s, err) < 0 || deploy_ensure_tls(d, state, p, err) < 0)
		goto out;

	gitlab_section_start(stderr, "deploy", "Deploying the color", 0);
	log_info("Deploying %s to env %s: project %s from %s%s%.12s", d->action.color,
		 d->action.env, project, joined, d->commit[0] ? " at " : "", d->commit);
	touched = 1; /* from here on a failure leaves the color's containers changed */
	if (stack_up(&s, &rep, err) < 0 || stack_wait_healthy(&s, err) < 0) {
		gitlab_section_end(stderr, "deploy");
		goto out;
	}
	gitlab_section_end(stderr, "deploy");
	log_info("Every container of %s is running and healthy (%d created, %d replaced, %d "
		 "unchanged)",
		 project, rep.created, rep.replaced, rep.unchanged);

	images = stack_images(d, p);
	{
		struct durable_color_record r = {0};

		r.commit = d->commit[0] ? d->commit : NULL;
		r.ref = d->job && d->job->ref ? d->job->ref
					      : vars_get(&d->vars, "CI_COMMIT_REF_NAME");
		r.images = images;
		r.status = "healthy";
		if (durable_state_set_color(state, d->action.color, &r, err) < 0)
			goto out;
	}
	networks = stack_networks(p);
	if (durable_state_set_color_links(state, d->action.color, project, routes, networks, err) <
	    0)
		goto out;

	if (!durable_state_router(state)) {
		/* no router: the color is reached on its own ports; nothing to
		 * point, and promote refuses (route_no_router) */
		if (durable_state_save(d->state_root, d->action.env, state, err) < 0)
			goto out;
		if (dotenv_path) {
			const char *kv[] = {"DEPLOYED_ENV",
					    d->action.env,
					    "DEPLOYED_COLOR",
					    d->action.color,
					    "DEPLOYED_COMMIT",
					    d->commit,
					    NULL,
					    NULL};

			if (gitlab_dotenv_write(dotenv_path, kv, err) < 0)
				goto out;
		}
		log_notice("Color %s of env %s is deployed and healthy on its own ports (%s); "
			   "env %s has no router, so there is no preview or live entry to "
			   "switch",
			   d->action.color, d->action.env, published_ports(p, ports, sizeof(ports)),
			   d->action.env);
		rc = 0;
		goto out;
	}
	/* point the preview entry at the candidate and probe through it (the
	 * stack's own upstream CAs first: nginx -t reads them) */
	if (write_route_cas(d, p, routes, err) < 0)
		goto out;
	old_preview = durable_state_preview(state);
	prev_preview = old_preview ? strdup(old_preview) : NULL;
	gitlab_section_start(stderr, "preview", "Pointing the preview entry at the candidate", 0);
	if (route_apply(d, state, durable_state_live(state), d->action.color, ROUTE_UNWATCHED,
			err) < 0) {
		gitlab_section_end(stderr, "preview");
		goto out;
	}
	switched = 1;
	if (route_probe_all(d, state, d->action.color, "preview", 3, 60, err) < 0) {
		gitlab_section_end(stderr, "preview");
		goto out;
	}
	gitlab_section_end(stderr, "preview");
	durable_state_set_preview(state, d->action.color);
	if (durable_state_save(d->state_root, d->action.env, state, err) < 0)
		goto out;

	if (dotenv_path) {
		char url[128], live[128];
		const char *kv[16];
		int n = 0;

		/* not EXECUTOR_*: jobs that need this one inherit the report, and
		 * must not have their own action variables overridden */
		snprintf(url, sizeof(url), "https://localhost:%d/",
			 durable_state_router_port(state, ENV_ENTRY_PREVIEW));
		snprintf(live, sizeof(live), "https://localhost:%d/",
			 durable_state_router_port(state, ENV_ENTRY_LIVE));
		kv[n++] = "ENVIRONMENT_URL";
		kv[n++] = url;
		kv[n++] = "PREVIEW_URL";
		kv[n++] = url;
		kv[n++] = "LIVE_URL";
		kv[n++] = live;
		kv[n++] = "DEPLOYED_ENV";
		kv[n++] = d->action.env;
		kv[n++] = "DEPLOYED_COLOR";
		kv[n++] = d->action.color;
		kv[n++] = "DEPLOYED_COMMIT";
		kv[n++] = d->commit;
		kv[n++] = NULL;
		kv[n] = NULL;
		if (gitlab_dotenv_write(dotenv_path, kv, err) < 0)
			goto out;
	}
	log_notice("Color %s of env %s is deployed and healthy; the preview entry "
		   "https://localhost:%d/ serves it. Promote it with promote:%s",
		   d->action.color, d->action.env,
		   durable_state_router_port(state, ENV_ENTRY_PREVIEW), d->action.color);
	rc = 0;
out:
	/* a deploy refused or failed before it touched the color (the live color,
	 * bad stack files) leaves the color's record as it was */
	if (rc < 0 && touched && state &&
	    durable_state_color(state, d->action.color, &(struct env_color){0})) {
		struct error e2 = ERROR_INIT;

		durable_state_set_color_status(state, d->action.color, "unhealthy", &e2);
		if (switched) {
			/* the preview entry goes back to what it served */
			if (route_apply(d, state, durable_state_live(state), prev_preview,
					ROUTE_UNWATCHED, &e2) < 0)
				log_warn("could not restore the preview entry: %s", e2.msg);
		}
		durable_state_save(d->state_root, d->action.env, state, &e2);
	}
	if (rc < 0 && err->cls == ERR_HEALTH)
		log_error("The deployment of %s is unhealthy; the live color is untouched",
			  d->action.color);
	deploy_history(d, rc == 0 ? DURABLE_RESULT_OK : DURABLE_RESULT_FAILED, clock_ms() - t0,
		       images, rc == 0 ? "deployed" : err->msg);
	free(prev_preview);
	json_object_put(images);
	json_object_put(routes);
	compose_project_free(p);
	stack_report_release(&rep);
	return rc;
}
