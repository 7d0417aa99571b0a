/* SPDX-License-Identifier: MIT */
#ifndef DOCKER_DOCKER_H
#define DOCKER_DOCKER_H

/*
 * Docker Engine API client.
 *
 * Transport: one request function, docker_request() in docker/transport.c,
 * is the only code of the client that touches libcurl (plus the
 * hijacked-connection helper beside it, for exec with stdin); the router
 * probes of stages/probe.c are the tree's only other libcurl transfers.  The engine is a unix
 * socket (unix://PATH, default /var/run/docker.sock), TCP with TLS (tcp://HOST:PORT with
 * DOCKER_TLS_VERIFY and DOCKER_CERT_PATH, as the docker CLI reads them) or SSH (ssh://USER@HOST,
 * through `docker system dial-stdio` on the remote side: docker/ssh.c).  See docker/endpoint.c for
 * the rules.
 *
 * All functions return 0 or -1 with `err` filled.  Engine HTTP errors keep
 * the status in err->code (404 = not found, 409 = conflict, 304 = not
 * modified) and the engine's own "message" in err->msg.
 */

#include <json-c/json.h>
#include <signal.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/error.h"

struct docker_client;

/* ---- which engine (docker/endpoint.c) ---- */

enum docker_transport {
	DOCKER_TRANSPORT_UNIX, /* local socket */
	DOCKER_TRANSPORT_TCP,  /* plain HTTP over TCP: only when the admin says so */
	DOCKER_TRANSPORT_TLS,  /* HTTPS, client certificate */
	DOCKER_TRANSPORT_SSH,  /* ssh + `docker system dial-stdio` */
};

/*
 * Where the engine's address and certificates come from: the admin's keys
 * (NULL / -1 when the file does not set them) win one by one over the
 * environment the docker CLI reads.  docker_settings_from_env() fills the
 * env_ members from getenv() and leaves the admin's unset.
 */
struct docker_settings {
	const char *host;	    /* docker_host */
	int tls;		    /* docker_tls: -1 unset, 0 (plain TCP allowed), 1 */
	int tls_verify;		    /* docker_tls_verify: -1 unset, 0, 1 */
	const char *cert_path;	    /* docker_cert_path */
	const char *env_host;	    /* $DOCKER_HOST */
	const char *env_tls;	    /* $DOCKER_TLS: non-empty = TLS */
	const char *env_tls_verify; /* $DOCKER_TLS_VERIFY: non-empty = TLS, verified */
	const char *env_cert_path;  /* $DOCKER_CERT_PATH: default $HOME/.docker */
	const char *env_home;	    /* $HOME */
};

/* What the settings resolve to; every string malloc'd. */
struct docker_endpoint {
	enum docker_transport kind;
	char *host;	       /* canonical: unix:///p, tcp://h:port, ssh://[u@]h[:port][/p] */
	char *origin;	       /* "DOCKER_HOST" or "docker_host": where the address came from */
	char *socket_path;     /* unix: the socket; ssh: the remote socket or NULL */
	char *hostname;	       /* tcp, ssh: without brackets */
	int port;	       /* tcp; ssh: 0 = ssh's own default */
	char *user;	       /* ssh: NULL = ssh's own default */
	int verify;	       /* tls: the engine's certificate checked against ca */
	char *cert_dir;	       /* tls: where ca.pem, cert.pem and key.pem are */
	char *ca, *cert, *key; /* tls: paths in cert_dir */
};

void docker_settings_from_env(struct docker_settings *s);
/* Pure: parse and resolve, reading no file.  ERR_CONFIG with one line naming
 * the address and the fix for anything refused (see docs/configuration.md:
 * plain TCP and unverified TLS only when the admin's file allows them). */
int docker_endpoint_parse(struct docker_endpoint *ep, const struct docker_settings *s,
			  struct error *err);
void docker_endpoint_release(struct docker_endpoint *ep);
/* "local socket", "TCP+TLS", "SSH", "plain TCP". */
const char *docker_transport_name(enum docker_transport t);

/* Expiry and names of a PEM certificate (the first in the file). */
struct docker_cert_info {
	long long not_after; /* Unix time */
	long long not_before;
	char subject[256];
	char issuer[256];
};
int docker_cert_info(const char *path, struct docker_cert_info *out, struct error *err);

/* A client for the engine the settings name.  For TLS the files are checked
 * first (ca.pem when verifying; cert.pem and key.pem both or neither; an
 * expired client certificate is refused), so a bad setup is one line before
 * any connection. */
struct docker_client *docker_client_open(const struct docker_settings *s, struct error *err);
/* host: NULL reads $DOCKER_HOST, default unix:///var/run/docker.sock; the
 * rest of the settings from the environment. */
struct docker_client *docker_client_new(const char *host, struct error *err);
const struct docker_endpoint *docker_client_endpoint(const struct docker_client *c);
void docker_client_free(struct docker_client *c);
/* A new client for the same engine with the version already negotiated (no
 * ping): one per thread, since a client is not shared between threads. */
struct docker_client *docker_client_clone(const struct docker_client *c, struct error *err);
const char *docker_client_host(const struct docker_client *c);
/* GET /_ping; negotiates the API version (server's, capped at our max). */
int docker_ping(struct docker_client *c, struct error *err);
/* Use a version negotiated earlier (a cache kept by the caller) instead of a
 * ping.  -1 (and nothing changes) unless it is one this client speaks.  When
 * the engine refuses it (400 "client version ..."), the client negotiates on
 * /_ping and repeats that request once. */
int docker_client_set_api_version(struct docker_client *c, const char *version);
/* 1 once the version came from a ping of this client (worth caching). */
int docker_client_version_negotiated(const struct docker_client *c);
/* "1.41" after a ping. */
const char *docker_api_version(const struct docker_client *c);
/* Count of requests made by this client (for benchmarks and tests). */
unsigned long docker_request_count(const struct docker_client *c);
/* Added: a flag (set by a signal handler) that cancels every later request
 * of this client, including the long ones without a cancel parameter (pull,
 * wait, exec): they fail with ERR_CANCELED.  The signal itself wakes the
 * wait, so this is prompt; a flag set by another thread is seen within about
 * a second on an idle connection (100 ms in exec).  A request's own `cancel`
 * wins over this one. */
void docker_client_set_cancel(struct docker_client *c, volatile sig_atomic_t *cancel);

/* ---- the one request function ---- */

typedef int (*docker_data_cb)(const char *data, size_t len, void *payload);

struct docker_request {
	const char *method;	  /* "GET", "POST", "PUT", "DELETE", "HEAD" */
	const char *path;	  /* "/containers/json?all=1": version prefix added */
	const char *content_type; /* NULL: application/json when body set */
	const void *body;
	size_t body_len;
	long timeout_ms;	   /* whole request; 0 = no limit */
	const char *registry_auth; /* X-Registry-Auth value, or NULL */
	/* Response body: streamed to on_data when set (return <0 to abort),
	 * otherwise collected into docker_response.body. */
	docker_data_cb on_data;
	void *payload;
	/* Called once the response's headers are in, before any body: for
	 * streams that say nothing until something happens (logs, events), the
	 * moment the engine is attached. */
	void (*on_headers)(long status, void *payload);
	/* Polled about every 100 ms while waiting; non-zero aborts the request
	 * with ERR_CANCELED. */
	volatile sig_atomic_t *cancel;
};

struct docker_response {
	long status;
	struct buf body; /* error bodies are always collected here */
};

void docker_response_init(struct docker_response *r);
void docker_response_release(struct docker_response *r);

/*
 * Perform one request.  A non-2xx status becomes an error (class ERR_ENGINE,
 * code = status, message decoded from the JSON body) and returns -1; the
 * response is still filled.  Connection failures are ERR_ENGINE with a
 * message that names the socket and says how to fix it.
 */
int docker_request(struct docker_client *c, const struct docker_request *req,
		   struct docker_response *resp, struct error *err);
/* Convenience: JSON in (may be NULL), JSON out (may be NULL). */
int docker_call_json(struct docker_client *c, const char *method, const char *path, json_object *in,
		     json_object **out, long timeout_ms, struct error *err);

/* ---- incremental stream decoders (no I/O; fuzzed) ---- */

/* Multiplexed stdout/stderr frames: 8-byte header [stream,0,0,0,len32be]. */
typedef int (*docker_frame_cb)(int stream, const char *data, size_t len, void *payload);

struct docker_demux {
	unsigned char hdr[8];
	size_t hdr_len;
	size_t remaining; /* payload bytes left in the current frame */
	int stream;
	docker_frame_cb on_frame;
	void *payload;
};

void docker_demux_init(struct docker_demux *d, docker_frame_cb cb, void *payload);
/* Feed any number of bytes; frames may be split anywhere.  Payload bytes are
 * delivered as they arrive (a frame may be delivered in several calls).
 * Returns -1 on a malformed header (stream id not 0,1,2) or callback error. */
int docker_demux_feed(struct docker_demux *d, const char *data, size_t len);
/* -1 when the stream ended inside a frame (truncated). */
int docker_demux_finish(const struct docker_demux *d);

/* Newline-delimited JSON objects (pull progress, build output, events). */
typedef int (*docker_json_cb)(json_object *obj, void *payload);

struct docker_jsonl {
	struct buf line;
	docker_json_cb on_object;
	void *payload;
};

void docker_jsonl_init(struct docker_jsonl *j, docker_json_cb cb, void *payload);
void docker_jsonl_release(struct docker_jsonl *j);
/* Returns -1 on invalid JSON, a line over 1 MiB, or callback error. */
int docker_jsonl_feed(struct docker_jsonl *j, const char *data, size_t len);
int docker_jsonl_finish(struct docker_jsonl *j);

/* ---- images ---- */

/* 404 => err->code == 404 */
int docker_image_inspect(struct docker_client *c, const char *ref, json_object **out,
			 struct error *err);
/*
 * Pull `ref` (a missing tag means :latest, never "all tags").  Progress is
 * rendered through `progress` (one line per layer status change, throttled),
 * or silently when NULL.  An {"error":...} inside the 200 stream fails with
 * ERR_PULL; so does a registry or network failure.
 */
typedef void (*docker_progress_cb)(const char *line, void *payload);
struct docker_pull_progress {
	/* state for rendering; opaque to callers */
	json_object *layers;
	docker_progress_cb cb;
	void *payload;
	char error[1024];
	char status[512];
};
int docker_image_pull(struct docker_client *c, const char *ref, const char *registry_auth,
		      docker_progress_cb progress, void *payload, struct error *err);
/* Decoder used by docker_image_pull, exposed for tests and fuzzing. */
void docker_pull_progress_init(struct docker_pull_progress *p, docker_progress_cb cb,
			       void *payload);
void docker_pull_progress_release(struct docker_pull_progress *p);
int docker_pull_progress_feed(struct docker_pull_progress *p, json_object *msg);

/* ---- containers ---- */

/* config is the body of POST /containers/create; *id_out malloc'd. */
int docker_container_create(struct docker_client *c, const char *name, json_object *config,
			    char **id_out, struct error *err);
int docker_container_start(struct docker_client *c, const char *id, struct error *err);
int docker_container_inspect(struct docker_client *c, const char *id, json_object **out,
			     struct error *err);
/* condition: "not-running", "next-exit", "removed" or NULL */
int docker_container_wait(struct docker_client *c, const char *id, const char *condition,
			  int *exit_code, struct error *err);
/* timeout_s < 0: the container's own StopTimeout (engine default 10 s). */
int docker_container_stop(struct docker_client *c, const char *id, int timeout_s,
			  struct error *err);
int docker_container_kill(struct docker_client *c, const char *id, const char *signal,
			  struct error *err);
/* A container that is already gone is success. */
int docker_container_remove(struct docker_client *c, const char *id, int force, int volumes,
			    struct error *err);
/* label_filters: NULL-terminated "key=value" or "key" strings. *out is the JSON array. */
int docker_container_list(struct docker_client *c, const char *const *label_filters, int all,
			  json_object **out, struct error *err);
/* Last `tail` lines of stdout+stderr (demultiplexed) into out. */
int docker_container_logs(struct docker_client *c, const char *id, int tail, struct buf *out,
			  struct error *err);

/* ---- exec ---- */

/* config: body of POST /containers/{id}/exec (Cmd, Env, User, WorkingDir...). */
int docker_exec_create(struct docker_client *c, const char *container, json_object *config,
		       char **exec_id, struct error *err);

struct docker_exec_io {
	const void *stdin_data; /* written, then the write side is closed; NULL = none */
	size_t stdin_len;
	docker_frame_cb on_output; /* stream 1 = stdout, 2 = stderr */
	void *payload;
	/* Called about every 100 ms while the exec runs; non-zero return stops
	 * reading and returns ERR_CANCELED (the exec itself keeps running). */
	int (*on_tick)(void *payload);
};

/* Start attached over a hijacked connection; returns when the output ends. */
int docker_exec_start(struct docker_client *c, const char *exec_id, const struct docker_exec_io *io,
		      struct error *err);
/* *running = 1 while still running; *exit_code valid once it is 0. */
int docker_exec_inspect(struct docker_client *c, const char *exec_id, int *exit_code, int *running,
			struct error *err);
/* create + start + inspect; collects output when out is not NULL. */
int docker_exec_simple(struct docker_client *c, const char *container, const char *const *argv,
		       struct buf *out, int *exit_code, struct error *err);
/* The same bounded by timeout_ms (0: none) from the start: past it, ERR_CANCELED
 * (the command itself keeps running in the container, as the engine's
 * healthcheck does past its timeout). */
int docker_exec_bounded(struct docker_client *c, const char *container, const char *const *argv,
			struct buf *out, long timeout_ms, int *exit_code, struct error *err);

/* ---- networks ---- */

/* labels: object of string values or NULL; *id_out may be NULL. */
int docker_network_create(struct docker_client *c, const char *name, json_object *labels,
			  int internal, char **id_out, struct error *err);
/* The same with more create fields (opts: an object merged into the body:
 * Driver, Internal, Attachable, EnableIPv6, IPAM, Options), or NULL. */
int docker_network_create_with(struct docker_client *c, const char *name, json_object *labels,
			       json_object *opts, char **id_out, struct error *err);
int docker_network_inspect(struct docker_client *c, const char *name, json_object **out,
			   struct error *err);
/* aliases: NULL-terminated or NULL. */
int docker_network_connect(struct docker_client *c, const char *network, const char *container,
			   const char *const *aliases, struct error *err);
int docker_network_disconnect(struct docker_client *c, const char *network, const char *container,
			      int force, struct error *err);
/* Networks of one name, left by a create of a killed run beside another (the
 * engine's CheckDuplicate is not atomic): the copies with no containers and
 * the same labels as the one kept (the one in use, else the oldest) are
 * removed, *removed says how many; copies with other labels or two in use
 * are an error naming the fix. Inspect, connect and remove by name do this
 * when the engine calls the name ambiguous, create right after creating. */
int docker_network_reconcile(struct docker_client *c, const char *name, int *removed,
			     struct error *err);
/* A network that is already gone is success. */
int docker_network_remove(struct docker_client *c, const char *name, struct error *err);
int docker_network_list(struct docker_client *c, const char *const *label_filters,
			json_object **out, struct error *err);

/* ---- volumes ---- */

int docker_volume_create(struct docker_client *c, const char *name, json_object *labels,
			 struct error *err);
/* opts: an object merged into the body (Driver, DriverOpts), or NULL. */
int docker_volume_create_with(struct docker_client *c, const char *name, json_object *labels,
			      json_object *opts, struct error *err);
int docker_volume_inspect(struct docker_client *c, const char *name, json_object **out,
			  struct error *err);
/* A volume that is already gone is success. */
int docker_volume_remove(struct docker_client *c, const char *name, int force, struct error *err);
int docker_volume_list(struct docker_client *c, const char *const *label_filters, json_object **out,
		       struct error *err);

/* ---- events ---- */

/*
 * GET /events from `since` to `until` (Unix times in ns): the events from
 * `since` on, then the live ones, each handed to on_event.  on_event returns
 * 0 to go on, 1 when it has what it waited for (docker_events returns 0), <0
 * to fail.  Returns 1 when the stream reached `until` first.  filters: the
 * engine's filters object ({"type":["container"],"event":[...]}), or NULL.
 */
int docker_events(struct docker_client *c, long long since_ns, long long until_ns,
		  json_object *filters, docker_json_cb on_event, void *payload, struct error *err);

/* ---- archive ---- */

/* PUT /containers/{id}/archive?path=dir with a tar body. */
int docker_archive_put(struct docker_client *c, const char *container, const char *dir,
		       const void *tar, size_t tar_len, struct error *err);

/* A minimal ustar writer for archive uploads. */
int docker_tar_add_file(struct buf *tar, const char *name, const void *data, size_t len,
			unsigned mode, unsigned uid, unsigned gid);
int docker_tar_add_dir(struct buf *tar, const char *name, unsigned mode, unsigned uid,
		       unsigned gid);
int docker_tar_finish(struct buf *tar);

/* ---- helpers ---- */

/* Longest container, network and volume name accepted. */
#define DOCKER_NAME_MAX 255
/* Docker's own name rule for containers, networks, volumes and ids:
 * [a-zA-Z0-9][a-zA-Z0-9_.-]*, at most DOCKER_NAME_MAX characters. */
int docker_name_valid(const char *s);
/* Docker's reference grammar: [registry[:port]/]path[:tag][@digest], path
 * components lower-case [a-z0-9] runs joined by '.', '_', '__' or '-'s. */
int docker_image_ref_valid(const char *ref);

/* URL-encode s into out (appends). */
int docker_urlencode(struct buf *out, const char *s);
/* Build a filters={"label":[...]} query value (URL-encoded) into out. */
int docker_label_filters(struct buf *out, const char *const *label_filters);
/* Labels.<key> of an object as the engine lists or inspects networks,
 * volumes and containers (top-level "Labels"); NULL when absent. */
const char *docker_object_label(json_object *obj, const char *key);

#endif
