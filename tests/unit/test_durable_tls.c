/* SPDX-License-Identifier: MIT */
#include "tests/unit/durable_test.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/cleanup.h"
#include "durable/tls.h"

static const char *const names[] = {"api-gateway", "frontend", "echobase-ci-durable-mariadb", NULL};

static X509 *load_x509(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x;

	assert_non_null(f);
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(x);
	return x;
}

static EVP_PKEY *load_key(const char *path)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *k;

	assert_non_null(f);
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(k);
	return k;
}

static int chain_verifies(X509 *ca, X509 *cert)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int ok;

	assert_int_equal(X509_STORE_add_cert(store, ca), 1);
	assert_int_equal(X509_STORE_CTX_init(ctx, store, cert, NULL), 1);
	X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
	ok = X509_verify_cert(ctx);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return ok;
}

static int days_left(X509 *x)
{
	int days = 0, secs = 0;

	assert_int_equal(ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x)), 1);
	return days;
}

static void test_durable_tls__ca_verifies_server_cert_with_sans(void **state)
{
	const char *dir = *state;
	struct durable_tls t = {0};
	struct error err = ERROR_INIT;
	X509 *ca, *cert;
	EVP_PKEY *key;
	char cn[256];

	assert_int_equal(durable_tls_ensure(dir, "ci", names, &t, &err), 0);
	assert_true(t.ca_created);
	assert_true(t.cert_issued);
	ca = load_x509(t.ca_cert);
	cert = load_x509(t.cert);
	key = load_key(t.key);

	assert_int_equal(chain_verifies(ca, cert), 1);
	assert_int_equal(X509_check_private_key(cert, key), 1);
	assert_int_equal(X509_check_host(cert, "localhost", 0, 0, NULL), 1);
	assert_int_equal(X509_check_host(cert, "api-gateway", 0, 0, NULL), 1);
	assert_int_equal(X509_check_host(cert, "frontend", 0, 0, NULL), 1);
	assert_int_equal(X509_check_host(cert, "echobase-ci-durable-mariadb", 0, 0, NULL), 1);
	assert_int_equal(X509_check_host(cert, "evil.example", 0, 0, NULL), 0);
	assert_int_equal(X509_check_ip_asc(cert, "127.0.0.1", 0), 1);
	assert_int_equal(X509_check_ip_asc(cert, "::1", 0), 1);
	assert_int_equal(X509_check_ca(cert), 0);
	assert_true(X509_get_extended_key_usage(cert) & XKU_SSL_SERVER);
	assert_true(X509_get_key_usage(cert) & KU_DIGITAL_SIGNATURE);

	assert_int_equal(X509_check_ca(ca), 1);
	assert_true(X509_get_key_usage(ca) & KU_KEY_CERT_SIGN);
	X509_NAME_get_text_by_NID(X509_get_subject_name(ca), NID_commonName, cn, sizeof(cn));
	assert_string_equal(cn, "executor ci CA");
	assert_int_equal(EVP_PKEY_get_base_id(key), EVP_PKEY_EC);
	assert_true(days_left(ca) >= 3649 && days_left(ca) <= 3650);
	assert_true(days_left(cert) >= 824 && days_left(cert) <= 825);
	assert_true(t.cert_not_after > time(NULL) + 824L * 86400);

	X509_free(ca);
	X509_free(cert);
	EVP_PKEY_free(key);
	durable_tls_release(&t);
}

static void test_durable_tls__keys_private_dirs_closed(void **state)
{
	const char *dir = *state;
	struct durable_tls t = {0};
	struct error err = ERROR_INIT;

	assert_int_equal(durable_tls_ensure(dir, "ci", names, &t, &err), 0);
	assert_int_equal(dt_mode(t.dir), 0700);
	assert_int_equal(dt_mode(t.ca_key), 0600);
	assert_int_equal(dt_mode(t.key), 0600);
	assert_int_equal(dt_mode(t.ca_cert), 0644);
	assert_int_equal(dt_mode(t.cert), 0644);
	assert_int_equal(dt_mode(dt_path(dir, "ci", NULL)), 0700);
	durable_tls_release(&t);
}

/* tls/ is mounted into containers: the CA key is elsewhere, and an old
 * layout's key is moved out (same CA, no reissue) */
static void test_durable_tls__ca_key_outside_the_mounted_dir(void **state)
{
	const char *dir = *state;
	struct durable_tls t = {0};
	struct error err = ERROR_INIT;
	char *ca1, *key1, *old;

	assert_int_equal(durable_tls_ensure(dir, "ci", names, &t, &err), 0);
	assert_null(strstr(t.ca_key, "/tls/"));
	assert_string_equal(t.ca_key, dt_path(dir, "ci", "ca/ca-key.pem"));
	assert_false(dt_exists(dt_path(dir, "ci", "tls/ca-key.pem")));
	assert_int_equal(dt_mode(dt_path(dir, "ci", "ca")), 0700);
	ca1 = dt_read(t.ca_cert);
	key1 = dt_read(t.ca_key);
	old = strdup(dt_path(dir, "ci", "tls/ca-key.pem"));
	/* the layout of an older driver */
	assert_int_equal(rename(t.ca_key, old), 0);
	durable_tls_release(&t);
	assert_int_equal(durable_tls_ensure(dir, "ci", names, &t, &err), 0);
	assert_false(t.ca_created);
	assert_false(dt_exists(old));
	{
		char *ca2 = dt_read(t.ca_cert), *key2 = dt_read(t.ca_key);

		assert_string_equal(ca1, ca2);
		assert_string_equal(key1, key2);
		free(ca2);
		free(key2);
	}
	free(ca1);
	free(key1);
	free(old);
	durable_tls_release(&t);
}

static void test_durable_tls__reused_when_nothing_changed(void **state)
{
	const char *dir = *state;
	const char *const reordered[] = {"FRONTEND",	"echobase-ci-durable-mariadb",
					 "api-gateway", "frontend",
					 "localhost",	NULL};
	struct durable_tls t = {0};
	struct error err = ERROR_INIT;
	char *ca1, *cert1, *key1, *ca2, *cert2, *key2;

	assert_int_equal(durable_tls_ensure(dir, "ci", names, &t, &err), 0);
	ca1 = dt_read(t.ca_cert);
	cert1 = dt_read(t.cert);
	key1 = dt_read(t.key);
	durable_tls_release(&t);
	/* order, case and duplicates do not matter */
	assert_int_equal(durable_tls_ensure(dir, "ci", reordered, &t, &err), 0);
	assert_false(t.ca_created);
	assert_false(t.cert_issued);
	ca2 = dt_read(t.ca_cert);
	cert2 = dt_read(t.cert);
	key2 = dt_read(t.key);
	assert_string_equal(ca1, ca2);
	assert_string_equal(cert1, cert2);
	assert_string_equal(key1, key2);
	free(ca1);
	free(cert1);
	free(key1);
	free(ca2);
	free(cert2);
	free(key2);
	durable_tls_release(&t);
}

static void test_durable_tls__san_change_reissues_server_keeps_ca(void **state)
{
	const char *dir = *state;
	const char *const more[] = {"api-gateway", "frontend", "echobase-ci-durable-mariadb",
				    "grafana", NULL};
	struct durable_tls t = {0};
	struct error err = ERROR_INIT;
	char *ca1, *cert1, *ca2, *cert2;
	X509 *ca, *cert;

	assert_int_equal(durable_tls_ensure(dir, "ci", names, &t, &err), 0);
	ca1 = dt_read(t.ca_cert);
	cert1 = dt_read(t.cert);
	durable_tls_release(&t);

	assert_int_equal(durable_tls_ensure(dir, "ci", more, &t, &err), 0);
	assert_false(t.ca_created);
	assert_true(t.cert_issued);
	ca2 = dt_read(t.ca_cert);
	cert2 = dt_read(t.cert);
	assert_string_equal(ca1, ca2);
	assert_string_not_equal(cert1, cert2);
	ca = load_x509(t.ca_cert);
	cert = load_x509(t.cert);
	assert_int_equal(chain_verifies(ca, cert), 1);
	assert_int_equal(X509_check_host(cert, "grafana", 0, 0, NULL), 1);
	X509_free(cert);
	durable_tls_release(&t);

	/* a removed name also reissues */
	assert_int_equal(durable_tls_ensure(dir, "ci", NULL, &t, &err), 0);
	assert_true(t.cert_issued);
	assert_false(t.ca_created);
	cert = load_x509(t.cert);
	assert_int_equal(X509_check_host(cert, "grafana", 0, 0, NULL), 0);
	assert_int_equal(X509_check_host(cert, "localhost", 0, 0, NULL), 1);
	assert_int_equal(chain_verifies(ca, cert), 1);
	X509_free(cert);
	X509_free(ca);
	free(ca1);
	free(cert1);
	free(ca2);
	free(cert2);
	durable_tls_release(&t);
}

/* Replace server.pem with one from the same CA and SANs that expires in `days`. */
static void plant_short_lived_cert(const struct durable_tls *t, int days)
{
	X509 *ca = load_x509(t->ca_cert);
	X509 *old = load_x509(t->cert);
	EVP_PKEY *ca_key = load_key(t->ca_key);
	EVP_PKEY *key = load_key(t->key);
	X509 *x = X509_new();
	int idx = X509_get_ext_by_NID(old, NID_subject_alt_name, -1);
	FILE *f;

	assert_true(idx >= 0);
	X509_set_version(x, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 42);
	X509_gmtime_adj(X509_getm_notBefore(x), -86400);
	X509_time_adj_ex(X509_getm_notAfter(x), days, 0, NULL);
	X509_set_subject_name(x, X509_get_subject_name(old));
	X509_set_issuer_name(x, X509_get_subject_name(ca));
	X509_set_pubkey(x, key);
	X509_add_ext(x, X509_get_ext(old, idx), -1);
	assert_true(X509_sign(x, ca_key, EVP_sha256()) > 0);
	f = fopen(t->cert, "w");
	assert_non_null(f);
	PEM_write_X509(f, x);
	fclose(f);
	X509_free(x);
	X509_free(ca);
	X509_free(old);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(key);
}

static void test_durable_tls__expiring_server_cert_is_reissued(void **state)
{
	const char *dir = *state;
	struct durable_tls t = {0};
	struct error err = ERROR_INIT;
	X509 *cert;

	assert_int_equal(durable_tls_ensure(dir, "ci", names, &t, &err), 0);
	/* 45 days left: still fine */
	plant_short_lived_cert(&t, 45);
	durable_tls_release(&t);
	assert_int_equal(durable_tls_ensure(dir, "ci", names, &t, &err), 0);
	assert_false(t.cert_issued);
	/* 10 days left: inside the renewal window */
	plant_short_lived_cert(&t, 10);
	durable_tls_release(&t);
	assert_int_equal(durable_tls_ensure(dir, "ci", names, &t, &err), 0);
	assert_true(t.cert_issued);
	assert_false(t.ca_created);
	cert = load_x509(t.cert);
	assert_true(days_left(cert) >= 824);
	X509_free(cert);
	durable_tls_release(&t);
}

static void test_durable_tls__torn_write_is_repaired(void **state)
{
	const char *dir = *state;
	struct durable_tls t = {0};
	struct error err = ERROR_INIT;
	EVP_PKEY *other;
	X509 *ca, *cert;
	EVP_PKEY *key;
	FILE *f;
	char *ca1;

	assert_int_equal(durable_tls_ensure(dir, "ci", names, &t, &err), 0);
	ca1 = dt_read(t.ca_cert);
	/* killed after writing a new server key, before its certificate */
	other = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	f = fopen(t.key, "w");
	PEM_write_PrivateKey(f, other, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	EVP_PKEY_free(other);
	durable_tls_release(&t);
	assert_int_equal(durable_tls_ensure(dir, "ci", names, &t, &err), 0);
	assert_true(t.cert_issued);
	assert_false(t.ca_created);
	cert = load_x509(t.cert);
	key = load_key(t.key);
	assert_int_equal(X509_check_private_key(cert, key), 1);
	X509_free(cert);
	EVP_PKEY_free(key);

	/* killed after writing a new CA key, before the CA certificate */
	unlink(t.ca_cert);
	durable_tls_release(&t);
	assert_int_equal(durable_tls_ensure(dir, "ci", names, &t, &err), 0);
	assert_true(t.ca_created);
	assert_true(t.cert_issued);
	ca = load_x509(t.ca_cert);
	cert = load_x509(t.cert);
	assert_int_equal(chain_verifies(ca, cert), 1);
	X509_free(ca);
	X509_free(cert);

	/* garbage in a certificate is replaced, with a warning */
	dt_write(t.cert, "-----BEGIN CERTIFICATE-----\nnot base64\n");
	durable_tls_release(&t);
	assert_int_equal(durable_tls_ensure(dir, "ci", names, &t, &err), 0);
	assert_true(t.cert_issued);
	assert_false(t.ca_created);
	free(ca1);
	durable_tls_release(&t);
}

static void test_durable_tls__fullchain_is_server_then_ca(void **state)
{
	struct durable_tls t = {0};
	struct error err = ERROR_INIT;
	char *chain, *cert, *ca, *want;

	assert_int_equal(durable_tls_ensure(*state, "ci", names, &t, &err), 0);
	chain = dt_read(t.fullchain);
	cert = dt_read(t.cert);
	ca = dt_read(t.ca_cert);
	assert_true(asprintf(&want, "%s%s", cert, ca) > 0);
	assert_string_equal(chain, want);
	free(chain);
	free(want);
	free(cert);
	free(ca);
	durable_tls_release(&t);
}

static void test_durable_tls__bad_dns_name_is_job_error(void **state)
{
	const char *const bad[] = {"api gateway", NULL};
	const char *const empty_label[] = {"a..b", NULL};
	struct durable_tls t = {0};
	struct error err = ERROR_INIT;

	assert_int_equal(durable_tls_ensure(*state, "ci", bad, &t, &err), -1);
	assert_int_equal(err.cls, ERR_JOB);
	assert_non_null(strstr(err.msg, "'api gateway'"));
	assert_int_equal(durable_tls_ensure(*state, "ci", empty_label, &t, &err), -1);
	assert_int_equal(err.cls, ERR_JOB);
	assert_false(dt_exists(dt_path(*state, "ci", "tls/ca.pem")));
}

static void test_durable_tls__expiry_for_doctor(void **state)
{
	struct durable_tls t = {0};
	struct error err = ERROR_INIT;
	time_t ca = 1, cert = 1;

	assert_int_equal(durable_tls_expiry(*state, "ci", &ca, &cert, &err), 0);
	assert_int_equal(ca, 0);
	assert_int_equal(cert, 0);
	assert_int_equal(durable_tls_ensure(*state, "ci", names, &t, &err), 0);
	assert_int_equal(durable_tls_expiry(*state, "ci", &ca, &cert, &err), 0);
	assert_int_equal((long long)ca, (long long)t.ca_not_after);
	assert_int_equal((long long)cert, (long long)t.cert_not_after);
	assert_true(cert < ca);
	dt_write(t.cert, "junk");
	assert_int_equal(durable_tls_expiry(*state, "ci", &ca, &cert, &err), -1);
	assert_int_equal(err.cls, ERR_IO);
	durable_tls_release(&t);
}

static void test_durable_tls__private_keys_never_printed(void **state)
{
	struct durable_tls t = {0};
	struct error err = ERROR_INIT;
	struct dt_capture cap;
	char *pem, *line, *save = NULL;

	log_clear_secrets();
	assert_int_equal(durable_tls_ensure(*state, "ci", names, &t, &err), 0);
	pem = dt_read(t.key);
	dt_capture_begin(&cap);
	log_raw(pem);
	dt_capture_end(&cap);
	for (line = strtok_r(pem, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (strncmp(line, "-----", 5) && strlen(line) >= 16)
			assert_null(strstr(cap.data, line));
	free(cap.data);
	free(pem);
	durable_tls_release(&t);
	log_clear_secrets();
}

static void test_durable_tls__envs_have_separate_cas(void **state)
{
	struct durable_tls a = {0}, b = {0};
	struct error err = ERROR_INIT;
	X509 *ca_a, *cert_b;

	assert_int_equal(durable_tls_ensure(*state, "ci", names, &a, &err), 0);
	assert_int_equal(durable_tls_ensure(*state, "devlocal", names, &b, &err), 0);
	ca_a = load_x509(a.ca_cert);
	cert_b = load_x509(b.cert);
	assert_int_equal(chain_verifies(ca_a, cert_b), 0);
	X509_free(ca_a);
	X509_free(cert_b);
	durable_tls_release(&a);
	durable_tls_release(&b);
	log_clear_secrets();
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, dt_setup, dt_teardown)
	const struct CMUnitTest tests[] = {
		T(test_durable_tls__ca_verifies_server_cert_with_sans),
		T(test_durable_tls__keys_private_dirs_closed),
		T(test_durable_tls__ca_key_outside_the_mounted_dir),
		T(test_durable_tls__reused_when_nothing_changed),
		T(test_durable_tls__san_change_reissues_server_keeps_ca),
		T(test_durable_tls__expiring_server_cert_is_reissued),
		T(test_durable_tls__torn_write_is_repaired),
		T(test_durable_tls__fullchain_is_server_then_ca),
		T(test_durable_tls__bad_dns_name_is_job_error),
		T(test_durable_tls__expiry_for_doctor),
		T(test_durable_tls__private_keys_never_printed),
		T(test_durable_tls__envs_have_separate_cas),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
