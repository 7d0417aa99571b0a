/* SPDX-License-Identifier: MIT */
#ifndef DOCKER_INTERNAL_H
#define DOCKER_INTERNAL_H

/*
 * Private to docker/: shared by the module files, not part of the contract in
 * docker/docker.h.
 */

#include <stddef.h>
#include <sys/types.h>

#include "docker/docker.h"

/* Default whole-request timeout of the metadata calls (inspect, create...). */
#define DOCKER_TIMEOUT_MS (60L * 1000L)

/*
 * Run `method path` with a JSON body over a hijacked connection (exec start):
 * stdin_data is written (interleaved with reading, so a chatty process never
 * deadlocks), then the write side is shut down; every byte of the raw stream
 * that follows the 101/200 answer goes to on_data until the engine closes the
 * connection.  on_tick (may be NULL) and the client's cancel flag are polled
 * every 100 ms; a non-zero answer ends with ERR_CANCELED.  An HTTP error
 * answer becomes ERR_ENGINE with the status in err->code, as docker_request.
 */
int docker_hijack(struct docker_client *c, const char *method, const char *path,
		  const char *json_body, const void *stdin_data, size_t stdin_len,
		  docker_data_cb on_data, void *payload, int (*on_tick)(void *payload),
		  void *tick_payload, struct error *err);

/* Percent-encode s for a URL path: like docker_urlencode but keeps '/', ':'
 * and '@' (image references, container names). */
int docker_urlencode_path(struct buf *out, const char *s);

/* "/<prefix>/<encoded id><suffix>" into out.  id must be a valid name
 * (docker_name_valid) or, under "/images", a valid image reference
 * (docker_image_ref_valid): anything else is refused (ERR_JOB) before any
 * request, so no `..`, `/` or escape in a name reaches the engine's router.
 * Returns 0 / -1 with err filled. */
int docker_build_path(struct buf *out, const char *prefix, const char *id, const char *suffix,
		      struct error *err);

/* ERR_JOB naming the kind ("volume") and the rule unless name / ref is valid. */
int docker_check_name(const char *kind, const char *name, struct error *err);
int docker_check_image_ref(const char *ref, struct error *err);

/* The last line of defence, in the one request function: the path part has
 * only unreserved characters, '/', ':', '@' and escapes of printable
 * characters other than '.', '/', '\\', '?', '#' and '%', and no "." or ".."
 * segment; the query no blank, control or '#'. */
int docker_path_safe(const char *path);

/* Parse exactly one JSON value from data (trailing whitespace allowed). */
int docker_json_parse(const char *data, size_t len, json_object **out);

/* Member `key` of obj when it is a string, else NULL. */
const char *docker_json_string(json_object *obj, const char *key);

/* Copy s into dst (size n), trimmed, with control characters turned into
 * spaces: safe to print on one line of a job log.  Registered secrets are
 * masked (log_mask) before the text is cut to n. */
void docker_sanitize_line(char *dst, size_t n, const char *s, size_t len);

/* Deep copy (docker/endpoint.c); -1 when out of memory. */
int docker_endpoint_copy(struct docker_endpoint *dst, const struct docker_endpoint *src);

/* ---- ssh:// connections (docker/ssh.c) ---- */

/* One connection: the `ssh ... docker system dial-stdio` process serving
 * the curl connection from a loopback port. */
struct docker_ssh_conn {
	int port;	  /* curl's end (local port) */
	int closed;	  /* curl closed it (ssh ended) */
	pid_t pid;	  /* 0 once reaped (or never started) */
	int status;	  /* wait status once reaped */
	int errfd;	  /* what ssh wrote to stderr (a memory file) */
	char failed[160]; /* why ssh could not be started */
	struct docker_ssh_conn *next;
};

/* A client's ssh side: its listener and connections. */
struct docker_ssh {
	int listen_fd;
	int port; /* the listener's loopback port; 0 before docker_ssh_listen */
	struct docker_ssh_conn *conns;
};

/* ssh's argv for the endpoint (NULL-terminated; strings in ep, remote and
 * port); the count, or -1 when a buffer is too small.  Pure. */
int docker_ssh_argv(const struct docker_endpoint *ep, char *remote, size_t remote_size, char *port,
		    size_t port_size, const char **argv, size_t max);
/* The listener, once. */
int docker_ssh_listen(struct docker_ssh *s, struct error *err);
/* Start ssh for the connection curl just made from loopback `port` (and close
 * any other waiting): that connection, or NULL. */
struct docker_ssh_conn *docker_ssh_accept(struct docker_ssh *s, const struct docker_endpoint *ep,
					  int port);
/* curl closes a socket (CURLOPT_CLOSESOCKETFUNCTION): close it, end its ssh. */
void docker_ssh_closed(struct docker_ssh *s, int fd);
/* End ssh (SIGTERM if it is still running), reaped. */
void docker_ssh_close(struct docker_ssh_conn *c);
/* Forget the closed connections but keep. */
void docker_ssh_purge(struct docker_ssh *s, const struct docker_ssh_conn *keep);
void docker_ssh_release(struct docker_ssh *s);
/* After a failed exchange: "ssh exited with status 255: Permission denied
 * (publickey)." into out, waiting up to 3 s for ssh to end; -1 when ssh is
 * still running or never ran (the failure was not ssh's). */
int docker_ssh_explain(struct docker_ssh_conn *c, char *out, size_t size);

#endif
