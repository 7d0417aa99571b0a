/* SPDX-License-Identifier: MIT */
#include "common/log.h"

#include <stdlib.h>
#include <string.h>

/* Fixed, so readers on other threads never see the table move: an env's
 * passwords, every line of its private keys and a job's registry
 * credentials come to a few dozen. */
#define MAX_SECRETS 1024
#define MASK	    "[MASKED]"
#define MASK_LEN    (sizeof(MASK) - 1)

static FILE *log_stream;
static int log_color = -1;
static enum log_level log_min = LOG_INFO;
static char *secrets[MAX_SECRETS];
static size_t secret_len[MAX_SECRETS];
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
	if (!value || strlen(value) < LOG_SECRET_MIN)
		return;
	if (n_secrets >= MAX_SECRETS) {
		static int said;

		if (!said++)
			fprintf(log_stream ? log_stream : stderr,
				"WARNING: more than %d secrets to mask; later ones are not "
				"masked\n",
				MAX_SECRETS);
		return;
	}
	for (i = 0; i < n_secrets; i++)
		if (!strcmp(secrets[i], value))
			return;
	secrets[n_secrets] = strdup(value);
	if (secrets[n_secrets]) {
		secret_len[n_secrets] = strlen(value);
		n_secrets++;
	}
}

void log_clear_secrets(void)
{
	while (n_secrets)
		free(secrets[--n_secrets]);
}

/* Length of the longest registered secret that starts at s, or 0. */
static size_t secret_at(const char *s)
{
	size_t i, best = 0;

	for (i = 0; i < n_secrets; i++)
		if (secret_len[i] > best && s[0] == secrets[i][0] &&
		    !strncmp(s, secrets[i], secret_len[i]))
			best = secret_len[i];
	return best;
}

/*
 * A text that was cut may end with the start of a secret whose rest was cut
 * off (before it could be recognised): drop that end.  Returns the new length.
 */
static size_t trim_secret_start(char *s, size_t len)
{
	size_t i, k, cut = 0;

	for (i = 0; i < n_secrets; i++) {
		for (k = secret_len[i] - 1 < len ? secret_len[i] - 1 : len; k > cut; k--)
			if (s[len - k] == secrets[i][0] && !memcmp(s + len - k, secrets[i], k)) {
				cut = k;
				break;
			}
	}
	s[len - cut] = '\0';
	return len - cut;
}

size_t log_mask_copy(char *dst, size_t size, const char *src)
{
	size_t o = 0, n;

	if (!size)
		return 0;
	while (*src) {
		n = n_secrets ? secret_at(src) : 0;
		if (n) {
			if (o + MASK_LEN + 1 > size)
				break;
			memcpy(dst + o, MASK, MASK_LEN);
			o += MASK_LEN;
			src += n;
			continue;
		}
		if (o + 1 >= size)
			break;
		dst[o++] = *src++;
	}
	dst[o] = '\0';
	return *src ? trim_secret_start(dst, o) : o;
}

char *log_mask_dup(const char *s)
{
	size_t len = 0, n;
	const char *p;
	char *out;

	for (p = s; *p;) {
		n = n_secrets ? secret_at(p) : 0;
		len += n ? MASK_LEN : 1;
		p += n ? n : 1;
	}
	out = malloc(len + 1);
	if (out)
		log_mask_copy(out, len + 1, s);
	return out;
}

void log_mask(char *s, size_t size)
{
	char *masked;
	size_t i;

	if (!n_secrets || !size)
		return;
	masked = log_mask_dup(s);
	if (masked) {
		/* masked first, then cut */
		size_t len = strlen(masked);

		if (len < size) {
			memcpy(s, masked, len + 1);
		} else {
			memcpy(s, masked, size - 1);
			trim_secret_start(s, size - 1);
		}
		free(masked);
		return;
	}
	/* out of memory: in place, cutting the text at a secret it has no room to mask */
	for (i = 0; i < n_secrets; i++) {
		char *hit;

		while ((hit = strstr(s, secrets[i]))) {
			size_t tail = strlen(hit + secret_len[i]);
			size_t used = (size_t)(hit - s);

			if (used + MASK_LEN + tail + 1 > size) {
				*hit = '\0';
				break;
			}
			memmove(hit + MASK_LEN, hit + secret_len[i], tail + 1);
			memcpy(hit, MASK, MASK_LEN);
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
	FILE *f = log_stream ? log_stream : stderr;
	char *text = NULL, *masked = NULL;
	const char *color;
	char line[8192];
	va_list cp;

	if (lvl < log_min)
		return;
	/* the whole line, masked, never cut: a cut could leave part of a secret */
	va_copy(cp, ap); /* ap stays for the bounded fallback */
	if (vasprintf(&text, fmt, cp) < 0)
		text = NULL;
	va_end(cp);
	if (text)
		masked = log_mask_dup(text);
	else
		vsnprintf(line, sizeof(line), fmt, ap);
	if (!masked) {
		/* out of memory: a bounded line, masked and cut with care */
		if (text)
			snprintf(line, sizeof(line), "%s", text);
		log_mask(line, sizeof(line));
	}
	color = log_color > 0 ? level_color(lvl) : "";
	fprintf(f, "%s%s%s%s\n", color, level_prefix(lvl), masked ? masked : line,
		*color ? "\033[0;m" : "");
	fflush(f);
	free(masked);
	free(text);
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
	char *masked = log_mask_dup(s);

	if (!masked)
		return;
	fputs(masked, f);
	fflush(f);
	free(masked);
}
