/* SPDX-License-Identifier: MIT */
#ifndef DURABLE_TLS_H
#define DURABLE_TLS_H

/*
 * TLS material of an env, for the HTTPS endpoints (router, API, frontend)
 * and for the driver's own health probes, which verify against the env's CA.
 *
 *   <env>/tls/ca.pem            local CA certificate (0644)
 *   <env>/ca/ca-key.pem         its EC P-256 key (0600), outside tls/: tls/ is
 *                               bind-mounted into containers, ca/ never is
 *   <env>/tls/server.pem        server certificate (0644)
 *   <env>/tls/server-key.pem    its EC P-256 key (0600)
 *   <env>/tls/fullchain.pem     server.pem followed by ca.pem (0644), for nginx
 *
 * CA: EC P-256, 10 years, CN "executor <env> CA", basicConstraints
 * critical CA:TRUE pathlen:0, keyUsage critical keyCertSign+cRLSign.
 * Server: EC P-256, 825 days, CN "executor <env> server", SANs DNS:localhost,
 * IP:127.0.0.1, IP:::1 and DNS:<each name passed in>, keyUsage critical
 * digitalSignature, extendedKeyUsage serverAuth, signed by the CA.
 *
 * durable_tls_ensure() creates what is missing and reuses the rest.  The
 * server certificate (never the CA) is issued anew when its SAN set differs
 * from the one asked for, when it expires within DURABLE_TLS_RENEW_DAYS,
 * when it no longer verifies against the CA, or when it does not match its
 * key.  The CA is created anew only when it is missing, unreadable, does
 * not match its key, or itself expires within DURABLE_TLS_RENEW_DAYS
 * (which also reissues the server certificate).  Keys are written before
 * their certificates, each file atomically, so a SIGKILL between two writes
 * is detected (key/certificate mismatch) and repaired on the next run.
 *
 * Private keys are never printed; their PEM lines are registered with
 * log_add_secret().  Call durable_tls_ensure() under the env lock.
 */

#include <stdbool.h>
#include <time.h>

#include "common/error.h"

#define DURABLE_TLS_CA_DAYS	3650
#define DURABLE_TLS_SERVER_DAYS 825
#define DURABLE_TLS_RENEW_DAYS	30
/* Most DNS names durable_tls_ensure accepts besides localhost. */
#define DURABLE_TLS_MAX_NAMES 64

struct durable_tls {
	/* absolute or state_dir-relative paths, malloc'd */
	char *dir;
	char *ca_cert;
	char *ca_key;
	char *cert;
	char *key;
	char *fullchain;
	time_t ca_not_after;
	time_t cert_not_after;
	bool ca_created;  /* this call created the CA */
	bool cert_issued; /* this call issued the server certificate */
};

/*
 * Make sure the env's CA and server certificate exist and are current.
 * dns_names: NULL-terminated list (may be NULL) of extra DNS SANs, usually
 * the service and container names; lower-cased, duplicates ignored, order
 * irrelevant.  Each must be a host name ([A-Za-z0-9_.-], labels of 1-63,
 * at most 253 characters), else ERR_JOB.  Fills *out (release with
 * durable_tls_release).  Creates the env directory when needed.
 */
int durable_tls_ensure(const char *state_dir, const char *env, const char *const *dns_names,
		       struct durable_tls *out, struct error *err);

void durable_tls_release(struct durable_tls *t);

/*
 * Expiry of the env's CA and server certificate, for `executor doctor`
 * (reads only, no lock needed).  A missing file gives 0 for that time and is
 * not an error; an unreadable or corrupt one is ERR_IO.
 */
int durable_tls_expiry(const char *state_dir, const char *env, time_t *ca_not_after,
		       time_t *cert_not_after, struct error *err);

#endif
