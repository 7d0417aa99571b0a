/* SPDX-License-Identifier: MIT */
#ifndef DOCKER_AUTH_H
#define DOCKER_AUTH_H

/*
 * Registry credentials for pulls, looked up as GitLab's Docker executor does
 * (helpers/docker/auth): sources are added in precedence order and a
 * registry key set by an earlier source is not replaced by a later one; an
 * image gets the entry whose key is the longest prefix of its registry path
 * ("reg:5000/group/app" tries reg:5000/group/app, reg:5000/group, reg:5000).
 * Docker Hub is "docker.io" whichever way it is written.  The chosen entry
 * goes to the engine as X-Registry-Auth.  Every password is registered with
 * log_add_secret() as soon as it is read.
 */

#include <stddef.h>

#include "common/buf.h"
#include "common/error.h"

/* Who gave the credentials: it decides whose fault a refusal is. */
enum registry_auth_origin {
	REGISTRY_AUTH_JOB,    /* the job's DOCKER_AUTH_CONFIG: the job author's */
	REGISTRY_AUTH_GITLAB, /* the job payload's registry credentials */
	REGISTRY_AUTH_ADMIN,  /* the admin's docker_auth_config / docker_auth_file */
};

struct registry_cred {
	char *key;    /* registry path: host[:port][/path], host lower-cased */
	char *server; /* as the source wrote it: the engine's serveraddress */
	char *username;
	char *password;
	char *source; /* for messages: "DOCKER_AUTH_CONFIG", ... */
	enum registry_auth_origin origin;
};

#define REGISTRY_AUTH_MAX 128

struct registry_auth {
	struct registry_cred *creds;
	size_t n;
};

#define REGISTRY_AUTH_INIT                                                                         \
	{                                                                                          \
		NULL, 0                                                                            \
	}

void registry_auth_release(struct registry_auth *a);

/* One entry; skipped (0) when an earlier source set the same key.  An empty
 * server or username is ERR_CONFIG. */
int registry_auth_add(struct registry_auth *a, const char *server, const char *username,
		      const char *password, const char *source, enum registry_auth_origin origin,
		      struct error *err);
/*
 * Every `auths` entry of a docker config.json (`auth`, base64 of user:pass,
 * or `username` and `password`).  credsStore and credHelpers are not
 * supported: one warning line, never an error.  A document that is not a
 * config.json fails with ERR_CONFIG and adds nothing.
 */
int registry_auth_add_config(struct registry_auth *a, const char *json, size_t len,
			     const char *source, enum registry_auth_origin origin,
			     struct error *err);
/* The entry for an image, or NULL (an anonymous pull). */
const struct registry_cred *registry_auth_find(const struct registry_auth *a, const char *image);
/* X-Registry-Auth: base64url (padded) of {"username","password","serveraddress"}. */
int registry_auth_header(const struct registry_cred *c, struct buf *out, struct error *err);

/* A credential key as GitLab reads it: "https://Reg:5000/v1/" -> "reg:5000",
 * "reg:5000/group/" -> "reg:5000/group", index.docker.io -> docker.io. */
void registry_auth_key(const char *server, char *out, size_t size);
/* An image's registry path: "alpine:3" -> "docker.io/alpine",
 * "Reg:5000/g/app:1" -> "reg:5000/g/app". */
void registry_auth_image_path(const char *image, char *out, size_t size);
/* The registry host of an image, for messages: "docker.io", "reg:5000". */
void registry_auth_image_registry(const char *image, char *out, size_t size);
/* Does an engine's pull error say the registry refused the credentials
 * (unauthorized, authentication required, 401, no basic auth credentials)? */
int registry_auth_refused(const char *message);

#endif
