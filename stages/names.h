/* SPDX-License-Identifier: MIT */
#ifndef STAGES_NAMES_H
#define STAGES_NAMES_H

/*
 * The names the driver derives from an app, an env and a color (the Compose
 * project of a layer, and so its containers' and networks' prefix).  Built
 * here alone so every stage agrees on them; each writes into out (at most
 * size bytes, always terminated) and returns out.
 *
 *   <app>-<color>              a color's project       echobase-green
 *   <app>-<env>-durable        the durable project     echobase-ci-durable
 *   <project>-network          a project's network     echobase-ci-durable-network
 */

#include <stddef.h>

/* Room for any of the names below (an app is at most 63 characters, an env
 * 32, a color ACTION_NAME_MAX). */
#define NAMES_PROJECT_MAX 160
#define NAMES_NETWORK_MAX 192

const char *names_color_project(const char *app, const char *color, char *out, size_t size);
const char *names_durable_project(const char *app, const char *env, char *out, size_t size);
const char *names_network(const char *project, char *out, size_t size);

#endif
