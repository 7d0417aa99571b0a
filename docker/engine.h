/* SPDX-License-Identifier: MIT */
#ifndef DOCKER_ENGINE_H
#define DOCKER_ENGINE_H

#include "common/config.h"
#include "common/error.h"
#include "docker/docker.h"

/* A client for the admin's engine (docker/engine.c): the API version from
 * <state>/engine-api when an earlier process negotiated it, else a ping. */
struct docker_client *engine_connect(const struct config *cfg, struct error *err);
/* A client for the admin's engine (docker_host, docker_tls, docker_tls_verify,
 * docker_cert_path over their DOCKER_* variables), not connected yet. */
struct docker_client *engine_client(const struct config *cfg, struct error *err);
/* Keep the client's version when it negotiated one since (call before freeing). */
void engine_cache_update(const struct config *cfg, struct docker_client *c);

#endif
