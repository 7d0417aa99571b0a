/* SPDX-License-Identifier: MIT */
#include "durable/tls.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "durable/env.h"

#define PEM_FILE_LIMIT (256 * 1024)
/* DNS:localhost, IP:127.0.0.1, IP:::1 */
#define FIXED_SANS 3
#define SAN_MAX	   (FIXED_SANS + DURABLE_TLS_MAX_NAMES)

static void x509_freep(X509 **x)
{
	X509_free(*x);
}
static void pkey_freep(EVP_PKEY **k)
{
	EVP_PKEY_free(*k);
}
static void wipe_freep(char **s)
{
	if (*s) {
		explicit_bzero(*s, strlen(*s));
		free(*s);
	}
}
#define _cleanup_x509_ __attribute__((cleanup(x509_freep)))
#define _cleanup_pkey_ __attribute__((cleanup(pkey_freep)))
#define _cleanup_wipe_ __attribute__((cleanup(wipe_freep)))

/* The first queued OpenSSL error, for messages; clears the queue. */
static const char *ssl_reason(void)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;

	ERR_clear_error();
	return r ? r : "unknown OpenSSL error";
}

static int ssl_fail(struct error *err, const char *what)
{
	return error_set(err, ERR_SYSTEM, "%s: %s", what, ssl_reason());
}

/* ---- SAN sets ---- */

struct san_set {
	char *items[SAN_MAX];
	size_t n;
};

static void san_set_release(struct san_set *s)
{
	while (s->n)
		free(s->items[--s->n]);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Add "DNS:x" / "IP:x" once; returns -1 only when full or out of memory. */
static int san_set_add(struct san_set *s, const char *kind, const char *value)
{
	char *item;
	size_t i;

	if (asprintf(&item, "%s:%s", kind, value) < 0)
		return -1;
	for (i = 0; i < s->n; i++)
		if (!strcmp(s->items[i], item)) {
			free(item);
			return 0;
		}
	if (s->n >= SAN_MAX) {
		free(item);
		return -1;
	}
	s->items[s->n++] = item;
	return 0;
}

static int san_set_equal(struct san_set *a, struct san_set *b)
{
	size_t i;

	if (a->n != b->n)
		return 0;
	qsort(a->items, a->n, sizeof(char *), cmp_str);
	qsort(b->items, b->n, sizeof(char *), cmp_str);
	for (i = 0; i < a->n; i++)
		if (strcmp(a->items[i], b->items[i]))
			return 0;
	return 1;
}

static int dns_name_ok(const char *name)
{
	size_t len = strlen(name), label = 0, i;

	if (len == 0 || len > 253)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!isalnum(c) && c != '-' && c != '_')
			return 0;
		if (++label > 63)
			return 0;
	}
	return label > 0;
}

static int desired_sans(const char *const *names, struct san_set *s, struct error *err)
{
	size_t i, n = 0;

	if (san_set_add(s, "DNS", "localhost") < 0 || san_set_add(s, "IP", "127.0.0.1") < 0 ||
	    san_set_add(s, "IP", "::1") < 0)
		return error_set(err, ERR_SYSTEM, "out of memory");
	for (i = 0; names && names[i]; i++) {
		char lower[254];
		size_t j;

		if (!dns_name_ok(names[i]))
			return error_set(
				err, ERR_JOB,
				"'%.80s' cannot be a name in a TLS certificate: use a host "
				"name (letters, digits, '-', '_' and '.', at most 253 "
				"characters)",
				names[i]);
		if (++n > DURABLE_TLS_MAX_NAMES)
			return error_set(err, ERR_JOB,
					 "too many names for the TLS certificate (at most %d)",
					 DURABLE_TLS_MAX_NAMES);
		for (j = 0; names[i][j]; j++)
			lower[j] = (char)tolower((unsigned char)names[i][j]);
		lower[j] = '\0';
		if (san_set_add(s, "DNS", lower) < 0)
			return error_set(err, ERR_SYSTEM, "out of memory");
	}
	return 0;
}

/* The SAN set of a certificate; names of other kinds count as a mismatch. */
static int cert_sans(X509 *x, struct san_set *s)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	int i, ret = 0;

	if (!gens)
		return 0;
	for (i = 0; i < sk_GENERAL_NAME_num(gens) && ret == 0; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		char text[INET6_ADDRSTRLEN];

		if (g->type == GEN_DNS) {
			const unsigned char *d = ASN1_STRING_get0_data(g->d.dNSName);
			int len = ASN1_STRING_length(g->d.dNSName);

			if (len <= 0 || len > 253 || memchr(d, '\0', (size_t)len)) {
				ret = san_set_add(s, "BAD", "dns");
				continue;
			}
			char name[254];

			memcpy(name, d, (size_t)len);
			name[len] = '\0';
			ret = san_set_add(s, "DNS", name);
		} else if (g->type == GEN_IPADD) {
			const unsigned char *d = ASN1_STRING_get0_data(g->d.iPAddress);
			int len = ASN1_STRING_length(g->d.iPAddress);

			if ((len == 4 && inet_ntop(AF_INET, d, text, sizeof(text))) ||
			    (len == 16 && inet_ntop(AF_INET6, d, text, sizeof(text))))
				ret = san_set_add(s, "IP", text);
			else
				ret = san_set_add(s, "BAD", "ip");
		} else {
			ret = san_set_add(s, "OTHER", "name");
		}
	}
	GENERAL_NAMES_free(gens);
	return ret;
}

static GENERAL_NAMES *build_gens(const struct san_set *s)
{
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	size_t i;

	if (!gens)
		return NULL;
	for (i = 0; i < s->n; i++) {
		const char *item = s->items[i];
		GENERAL_NAME *g = GENERAL_NAME_new();

		if (!g)
			goto fail;
		if (!strncmp(item, "DNS:", 4)) {
			ASN1_IA5STRING *str = ASN1_IA5STRING_new();

			if (!str || !ASN1_STRING_set(str, item + 4, -1)) {
				ASN1_IA5STRING_free(str);
				GENERAL_NAME_free(g);
				goto fail;
			}
			GENERAL_NAME_set0_value(g, GEN_DNS, str);
		} else {
			ASN1_OCTET_STRING *ip = a2i_IPADDRESS(item + 3);

			if (!ip) {
				GENERAL_NAME_free(g);
				goto fail;
			}
			GENERAL_NAME_set0_value(g, GEN_IPADD, ip);
		}
		if (!sk_GENERAL_NAME_push(gens, g)) {
			GENERAL_NAME_free(g);
			goto fail;
		}
	}
	return gens;
fail:
	GENERAL_NAMES_free(gens);
	return NULL;
}

/* ---- files ---- */

/*
 * Read a PEM file.  *missing = 1 (and 0 returned) when it does not exist.
 * Private keys (secret = 1) get their mode tightened to 0600 if needed.
 */
static int read_pem(const char *path, int secret, struct buf *out, int *missing, struct error *err)
{
	struct stat st;
	int fd;

	*missing = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT) {
			*missing = 1;
			return 0;
		}
		return error_set_errno(err, ERR_IO, errno, "open %s", path);
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return error_set(err, ERR_IO, "%s is not a regular file", path);
	}
	if (secret && (st.st_mode & 077)) {
		log_warn("%s was readable by other users (mode %04o); restricting it to 0600", path,
			 (unsigned)(st.st_mode & 07777));
		if (fchmod(fd, 0600) < 0) {
			int e = errno;

			close(fd);
			return error_set_errno(err, ERR_IO, e, "chmod %s", path);
		}
	}
	close(fd);
	buf_init(out, PEM_FILE_LIMIT);
	return fs_read_file(path, out, PEM_FILE_LIMIT, err);
}

static void wipe_buf(struct buf *b)
{
	if (b->data)
		explicit_bzero(b->data, b->cap);
	buf_release(b);
}

static int load_cert(const char *path, X509 **out, int *missing, struct error *err)
{
	_cleanup_buf_ struct buf pem = BUF_INIT;
	BIO *bio;

	*out = NULL;
	if (read_pem(path, 0, &pem, missing, err) < 0 || *missing)
		return *missing ? 0 : -1;
	bio = BIO_new_mem_buf(pem.data, (int)pem.len);
	if (!bio)
		return ssl_fail(err, "out of memory");
	*out = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (!*out)
		return error_set(err, ERR_IO, "%s: not a PEM certificate (%s)", path, ssl_reason());
	return 0;
}

/* Mask the base64 lines of a private key PEM in all output. */
static void register_key_pem(const char *pem)
{
	_cleanup_wipe_ char *copy = strdup(pem);
	char *save = NULL, *line;

	if (!copy)
		return;
	for (line = strtok_r(copy, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save))
		if (strncmp(line, "-----", 5) && strlen(line) >= 16)
			log_add_secret(line);
}

static int load_key(const char *path, EVP_PKEY **out, int *missing, struct error *err)
{
	struct buf pem = BUF_INIT;
	BIO *bio;

	*out = NULL;
	if (read_pem(path, 1, &pem, missing, err) < 0 || *missing) {
		wipe_buf(&pem);
		return *missing ? 0 : -1;
	}
	register_key_pem(buf_str(&pem));
	bio = BIO_new_mem_buf(pem.data, (int)pem.len);
	if (!bio) {
		wipe_buf(&pem);
		return ssl_fail(err, "out of memory");
	}
	*out = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	wipe_buf(&pem);
	if (!*out)
		return error_set(err, ERR_IO, "%s: not a PEM private key (%s)", path, ssl_reason());
	return 0;
}

static char *bio_text(BIO *bio)
{
	char *data;
	long len = BIO_get_mem_data(bio, &data);
	char *s = len >= 0 ? malloc((size_t)len + 1) : NULL;

	if (!s)
		return NULL;
	memcpy(s, data, (size_t)len);
	s[len] = '\0';
	return s;
}

static char *cert_pem(X509 *x)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *s = NULL;

	if (bio && PEM_write_bio_X509(bio, x))
		s = bio_text(bio);
	BIO_free(bio);
	return s;
}

static char *key_pem(EVP_PKEY *k)
{
	BIO *bio = BIO_new(BIO_s_secmem());
	char *s = NULL;

	if (!bio)
		bio = BIO_new(BIO_s_mem());
	if (bio && PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL))
		s = bio_text(bio);
	BIO_free(bio);
	return s;
}

static int write_key(const char *path, EVP_PKEY *k, struct error *err)
{
	_cleanup_wipe_ char *pem = key_pem(k);

	if (!pem)
		return ssl_fail(err, "encode private key");
	register_key_pem(pem);
	return fs_write_atomic(path, pem, strlen(pem), 0600, err);
}

static int write_cert(const char *path, X509 *x, struct error *err)
{
	_cleanup_free_ char *pem = cert_pem(x);

	if (!pem)
		return ssl_fail(err, "encode certificate");
	return fs_write_atomic(path, pem, strlen(pem), 0644, err);
}

/* ---- certificates ---- */

static time_t asn1_to_time(const ASN1_TIME *t)
{
	struct tm tm;

	if (!t || !ASN1_TIME_to_tm(t, &tm))
		return 0;
	return timegm(&tm);
}

/* 1 when x is no longer valid `days` days from now. */
static int expires_within(X509 *x, int days)
{
	time_t limit = time(NULL) + (time_t)days * 86400;

	return X509_cmp_time(X509_get0_notAfter(x), &limit) <= 0;
}

static int add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
	int ok;

	if (!ext)
		return 0;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok;
}

static int random_serial(X509 *x)
{
	BIGNUM *bn = BN_new();
	int ok = bn && BN_rand(bn, 159, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) &&
		 BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));

	BN_free(bn);
	return ok;
}

/*
 * Issue a certificate for `key`.  issuer == NULL: self-signed CA.
 * sans: only for a server certificate.
 */
static X509 *issue(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key, int days,
		   const struct san_set *sans)
{
	X509 *x = X509_new();
	X509_NAME *name;
	X509V3_CTX ctx;
	GENERAL_NAMES *gens = NULL;

	if (!x)
		return NULL;
	name = X509_get_subject_name(x);
	if (!X509_set_version(x, X509_VERSION_3) || !random_serial(x) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
	    !X509_time_adj_ex(X509_getm_notAfter(x), days, 0, NULL) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1,
					-1, 0) ||
	    !X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name) ||
	    !X509_set_pubkey(x, key))
		goto fail;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
	if (!add_ext(x, &ctx, NID_subject_key_identifier, "hash"))
		goto fail;
	if (!issuer) {
		if (!add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") ||
		    !add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign"))
			goto fail;
	} else {
		if (!add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always") ||
		    !add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE") ||
		    !add_ext(x, &ctx, NID_key_usage, "critical,digitalSignature") ||
		    !add_ext(x, &ctx, NID_ext_key_usage, "serverAuth"))
			goto fail;
		gens = build_gens(sans);
		if (!gens ||
		    !X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT))
			goto fail;
		GENERAL_NAMES_free(gens);
		gens = NULL;
	}
	if (!X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()))
		goto fail;
	return x;
fail:
	GENERAL_NAMES_free(gens);
	X509_free(x);
	return NULL;
}

/* 1 when cert chains to ca (and is valid now) as a TLS server certificate. */
static int verifies(X509 *ca, X509 *cert)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int ok = 0;

	if (store && ctx && X509_STORE_add_cert(store, ca) &&
	    X509_STORE_CTX_init(ctx, store, cert, NULL) &&
	    X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER))
		ok = X509_verify_cert(ctx) == 1;
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	ERR_clear_error();
	return ok;
}

void durable_tls_release(struct durable_tls *t)
{
	if (!t)
		return;
	free(t->dir);
	free(t->ca_cert);
	free(t->ca_key);
	free(t->cert);
	free(t->key);
	free(t->fullchain);
	memset(t, 0, sizeof(*t));
}

static int tls_paths(const char *state_dir, const char *env, struct durable_tls *t,
		     struct error *err)
{
	memset(t, 0, sizeof(*t));
	if (durable_env_path(state_dir, env, DURABLE_TLS_DIR, &t->dir, err) < 0)
		return -1;
	/* the CA's key lives apart: tls/ is mounted into containers, ca/ never */
	if (asprintf(&t->ca_cert, "%s/ca.pem", t->dir) < 0 ||
	    asprintf(&t->ca_key, "%s/envs/%s/%s/ca-key.pem", state_dir, env, DURABLE_CA_DIR) < 0 ||
	    asprintf(&t->cert, "%s/server.pem", t->dir) < 0 ||
	    asprintf(&t->key, "%s/server-key.pem", t->dir) < 0 ||
	    asprintf(&t->fullchain, "%s/fullchain.pem", t->dir) < 0) {
		durable_tls_release(t);
		return error_set(err, ERR_SYSTEM, "out of memory");
	}
	return 0;
}

/*
 * An env set up by an older driver keeps the CA key in tls/, which colors
 * mount: move it to ca/ (a rename within the env directory), or drop the
 * old copy when ca/ has the key already.
 */
static int move_old_ca_key(const struct durable_tls *t, struct error *err)
{
	_cleanup_free_ char *old = NULL;
	struct stat st;

	if (asprintf(&old, "%s/ca-key.pem", t->dir) < 0) {
		old = NULL;
		return error_set(err, ERR_SYSTEM, "out of memory");
	}
	if (lstat(old, &st) < 0)
		return 0;
	if (lstat(t->ca_key, &st) == 0) {
		if (unlink(old) < 0 && errno != ENOENT)
			return error_set_errno(err, ERR_IO, errno, "remove %s", old);
	} else if (rename(old, t->ca_key) < 0) {
		return error_set_errno(err, ERR_IO, errno, "move %s to %s", old, t->ca_key);
	}
	log_info("moved the CA key out of the TLS directory that containers mount (%s)", t->ca_key);
	return 0;
}

/*
 * Load the CA; *ca and *ca_key are NULL (with *why set) when it must be
 * created anew.  Errors reading are reported as reasons, not failures:
 * the material is ours to regenerate.
 */
static void load_ca(const struct durable_tls *t, X509 **ca, EVP_PKEY **ca_key, const char **why)
{
	struct error e = ERROR_INIT;
	int missing_c = 0, missing_k = 0;

	*why = NULL;
	if (load_cert(t->ca_cert, ca, &missing_c, &e) < 0 ||
	    load_key(t->ca_key, ca_key, &missing_k, &e) < 0) {
		log_warn("%s; creating a new CA", e.msg);
		*why = "unreadable";
	} else if (missing_c && missing_k) {
		*why = "missing";
	} else if (missing_c || missing_k) {
		*why = "incomplete";
	} else if (X509_check_private_key(*ca, *ca_key) != 1) {
		*why = "does not match its key";
	} else if (X509_check_ca(*ca) < 1) {
		*why = "not a CA certificate";
	} else if (expires_within(*ca, DURABLE_TLS_RENEW_DAYS)) {
		*why = "expires soon";
	}
	ERR_clear_error();
	if (*why) {
		X509_free(*ca);
		EVP_PKEY_free(*ca_key);
		*ca = NULL;
		*ca_key = NULL;
	}
}

static const char *server_problem(const struct durable_tls *t, X509 *ca, struct san_set *want,
				  X509 **cert, EVP_PKEY **key)
{
	struct error e = ERROR_INIT;
	struct san_set have = {0};
	const char *why = NULL;
	int missing_c = 0, missing_k = 0;

	if (load_cert(t->cert, cert, &missing_c, &e) < 0 ||
	    load_key(t->key, key, &missing_k, &e) < 0) {
		log_warn("%s; issuing a new server certificate", e.msg);
		why = "unreadable";
	} else if (missing_c || missing_k) {
		why = "missing";
	} else if (X509_check_private_key(*cert, *key) != 1) {
		why = "does not match its key";
	} else if (!verifies(ca, *cert)) {
		why = "not signed by the env's CA";
	} else if (cert_sans(*cert, &have) < 0 || !san_set_equal(&have, want)) {
		why = "names changed";
	} else if (expires_within(*cert, DURABLE_TLS_RENEW_DAYS)) {
		why = "expires soon";
	}
	san_set_release(&have);
	ERR_clear_error();
	return why;
}

/* Rewrite fullchain.pem when it is not server.pem + ca.pem. */
static int ensure_fullchain(const struct durable_tls *t, X509 *cert, X509 *ca, struct error *err)
{
	_cleanup_free_ char *a = cert_pem(cert);
	_cleanup_free_ char *b = cert_pem(ca);
	_cleanup_free_ char *want = NULL;
	_cleanup_buf_ struct buf have = BUF_INIT;
	int missing = 0;

	if (!a || !b || asprintf(&want, "%s%s", a, b) < 0) {
		want = NULL;
		return ssl_fail(err, "encode certificate chain");
	}
	if (read_pem(t->fullchain, 0, &have, &missing, NULL) == 0 && !missing &&
	    !strcmp(buf_str(&have), want))
		return 0;
	return fs_write_atomic(t->fullchain, want, strlen(want), 0644, err);
}

int durable_tls_ensure(const char *state_dir, const char *env, const char *const *dns_names,
		       struct durable_tls *out, struct error *err)
{
	_cleanup_x509_ X509 *ca = NULL;
	_cleanup_x509_ X509 *cert = NULL;
	_cleanup_pkey_ EVP_PKEY *ca_key = NULL;
	_cleanup_pkey_ EVP_PKEY *key = NULL;
	struct san_set want = {0};
	struct durable_tls t;
	const char *why;
	char cn[128], when[32];

	memset(out, 0, sizeof(*out));
	if (desired_sans(dns_names, &want, err) < 0)
		goto fail_sans;
	if (durable_env_ensure(state_dir, env, err) < 0)
		goto fail_sans;
	if (tls_paths(state_dir, env, &t, err) < 0)
		goto fail_sans;

	if (move_old_ca_key(&t, err) < 0)
		goto fail;
	load_ca(&t, &ca, &ca_key, &why);
	if (why) {
		snprintf(cn, sizeof(cn), "executor %s CA", env);
		ca_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		if (!ca_key) {
			ssl_fail(err, "generate CA key");
			goto fail;
		}
		ca = issue(cn, ca_key, NULL, NULL, DURABLE_TLS_CA_DAYS, NULL);
		if (!ca) {
			ssl_fail(err, "issue CA certificate");
			goto fail;
		}
		if (write_key(t.ca_key, ca_key, err) < 0 || write_cert(t.ca_cert, ca, err) < 0)
			goto fail;
		t.ca_created = true;
		durable_time_rfc3339(asn1_to_time(X509_get0_notAfter(ca)), when, sizeof(when));
		if (strcmp(why, "missing"))
			log_warn("env '%s': the local CA was %s; created a new one (valid until "
				 "%s): clients that trusted the old CA must trust %s",
				 env, why, when, t.ca_cert);
		else
			log_info("env '%s': created a local CA (valid until %s)", env, when);
	}

	why = server_problem(&t, ca, &want, &cert, &key);
	if (why) {
		X509_free(cert);
		EVP_PKEY_free(key);
		cert = NULL;
		snprintf(cn, sizeof(cn), "executor %s server", env);
		key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		if (!key) {
			ssl_fail(err, "generate server key");
			goto fail;
		}
		cert = issue(cn, key, ca, ca_key, DURABLE_TLS_SERVER_DAYS, &want);
		if (!cert) {
			ssl_fail(err, "issue server certificate");
			goto fail;
		}
		if (write_key(t.key, key, err) < 0 || write_cert(t.cert, cert, err) < 0)
			goto fail;
		t.cert_issued = true;
		durable_time_rfc3339(asn1_to_time(X509_get0_notAfter(cert)), when, sizeof(when));
		log_info("env '%s': issued a server certificate (%s; valid until %s)", env,
			 !strcmp(why, "missing") ? "new" : why, when);
	}
	if (ensure_fullchain(&t, cert, ca, err) < 0)
		goto fail;
	t.ca_not_after = asn1_to_time(X509_get0_notAfter(ca));
	t.cert_not_after = asn1_to_time(X509_get0_notAfter(cert));
	san_set_release(&want);
	*out = t;
	return 0;
fail:
	durable_tls_release(&t);
fail_sans:
	san_set_release(&want);
	ERR_clear_error();
	return error_wrap(err, "TLS material of env '%s'", env);
}

int durable_tls_expiry(const char *state_dir, const char *env, time_t *ca_not_after,
		       time_t *cert_not_after, struct error *err)
{
	_cleanup_x509_ X509 *ca = NULL;
	_cleanup_x509_ X509 *cert = NULL;
	struct durable_tls t;
	int missing;
	int ret = -1;

	*ca_not_after = 0;
	*cert_not_after = 0;
	if (tls_paths(state_dir, env, &t, err) < 0)
		return -1;
	if (load_cert(t.ca_cert, &ca, &missing, err) < 0 ||
	    load_cert(t.cert, &cert, &missing, err) < 0)
		goto out;
	if (ca)
		*ca_not_after = asn1_to_time(X509_get0_notAfter(ca));
	if (cert)
		*cert_not_after = asn1_to_time(X509_get0_notAfter(cert));
	ret = 0;
out:
	durable_tls_release(&t);
	return ret;
}
