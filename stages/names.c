/* SPDX-License-Identifier: MIT */
#include "stages/names.h"

#include <stdio.h>

const char *names_color_project(const char *app, const char *color, char *out, size_t size)
{
	snprintf(out, size, "%s-%s", app, color);
	return out;
}

const char *names_durable_project(const char *app, const char *env, char *out, size_t size)
{
	snprintf(out, size, "%s-%s-durable", app, env);
	return out;
}

const char *names_network(const char *project, char *out, size_t size)
{
	snprintf(out, size, "%s-network", project);
	return out;
}
