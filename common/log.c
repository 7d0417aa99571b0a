/* SPDX-License-Identifier: MIT */
#include "common/log.h"

#include <stdlib.h>
#include <string.h>

#define MAX_SECRETS 64

static FILE *log_stream;
static int log_color = -1;
static enum log_level log_min = LOG_INFO;
static char *secrets[MAX_SECRETS];
static size_t n_secrets;

void log_set_stream(FILE *f)
{
	log_stream = f;
}

void log_set_color(int on)
{
	log_color = on;
}

void log_set_level(enum log_level min)
{
	log_min = min;
}

int log_color_enabled(void)
{
	return log_color > 0;
}

void log_add_secret(const char *value)
{
	size_t i;

	/* short values would mask ordinary words; the driver's secrets are long */
	if (!value || strlen(value) < 6 || n_secrets >= MAX_SECRETS)
		return;
	for (i = 0; i < n_secrets; i++)
		if (!strcmp(secrets[i], value))
			return;
	secrets[n_secrets] = strdup(value);
	if (secrets[n_secrets])
		n_secrets++;
}

void log_clear_secrets(void)
{
	while (n_secrets)
		free(secrets[--n_secrets]);
}

void log_mask(char *s, size_t size)
{
	static const char masked[] = "[MASKED]";
	size_t i;

	for (i = 0; i < n_secrets; i++) {
		size_t slen = strlen(secrets[i]);
		char *hit;

		while ((hit = strstr(s, secrets[i]))) {
			size_t tail = strlen(hit + slen);
			size_t mlen = sizeof(masked) - 1;
			size_t used = (size_t)(hit - s);

			if (used + mlen + tail + 1 > size) {
				/* no room: cut the line at the secret */
				*hit = '\0';
				break;
			}
			memmove(hit + mlen, hit + slen, tail + 1);
			memcpy(hit, masked, mlen);
		}
	}
}

static const char *level_color(enum log_level lvl)
{
	switch (lvl) {
	case LOG_NOTICE:
		return "\033[32;1m";
	case LOG_WARN:
		return "\033[0;33m";
	case LOG_ERROR:
		return "\033[31;1m";
	default:
		return "";
	}
}

static const char *level_prefix(enum log_level lvl)
{
	switch (lvl) {
	case LOG_WARN:
		return "WARNING: ";
	case LOG_ERROR:
		return "ERROR: ";
	default:
		return "";
	}
}

void log_vmsg(enum log_level lvl, const char *fmt, va_list ap)
{
	char line[8192];
	FILE *f = log_stream ? log_stream : stderr;
	const char *color;

	if (lvl < log_min)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	log_mask(line, sizeof(line));
	color = log_color > 0 ? level_color(lvl) : "";
	fprintf(f, "%s%s%s%s\n", color, level_prefix(lvl), line, *color ? "\033[0;m" : "");
	fflush(f);
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(lvl, fmt, ap);
	va_end(ap);
}

void log_raw(const char *s)
{
	FILE *f = log_stream ? log_stream : stderr;
	size_t len = strlen(s) + 64 * 8 + 1;
	char *copy = malloc(len);

	if (!copy)
		return;
	snprintf(copy, len, "%s", s);
	log_mask(copy, len);
	fputs(copy, f);
	fflush(f);
	free(copy);
}
