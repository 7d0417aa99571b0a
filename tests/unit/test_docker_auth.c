/* SPDX-License-Identifier: MIT */
/* Registry credentials: keys and image paths as GitLab reads them, the
 * lookup, docker config.json, the X-Registry-Auth header, refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "docker/auth.h"

static const char *key(const char *server)
{
	static char out[256];

	registry_auth_key(server, out, sizeof(out));
	return out;
}

static const char *path(const char *image)
{
	static char out[256];

	registry_auth_image_path(image, out, sizeof(out));
	return out;
}

static void test_registry_auth__keys_as_gitlab_reads_them(void **state)
{
	/* with a scheme: host[:port] only */
	assert_string_equal(key("https://index.docker.io/v1/"), "docker.io");
	assert_string_equal(key("http://Reg.Example.com:5000/v2/x"), "reg.example.com:5000");
	/* without: the path is kept (a narrower key), tag and trailing / dropped */
	assert_string_equal(key("Reg.Example.com:5000/Group/"), "reg.example.com:5000/Group");
	assert_string_equal(key("reg.example.com/group/app:1"), "reg.example.com/group/app");
	assert_string_equal(key("127.0.0.1:5443"), "127.0.0.1:5443");
	/* Docker Hub's names */
	assert_string_equal(key("docker.io"), "docker.io");
	assert_string_equal(key("index.docker.io"), "docker.io");
	assert_string_equal(key("registry-1.docker.io"), "docker.io");
	assert_string_equal(key(""), "");
}

static void test_registry_auth__image_paths(void **state)
{
	assert_string_equal(path("alpine"), "docker.io/alpine");
	assert_string_equal(path("alpine:3.20"), "docker.io/alpine");
	assert_string_equal(path("library/alpine:3"), "docker.io/library/alpine");
	assert_string_equal(path("index.docker.io/acme/app:1"), "docker.io/acme/app");
	assert_string_equal(path("Reg.Example.com:5000/g/app:1"), "reg.example.com:5000/g/app");
	assert_string_equal(path("127.0.0.1:5443/e2e/busybox:1"), "127.0.0.1:5443/e2e/busybox");
	assert_string_equal(path("localhost/app"), "localhost/app");
	assert_string_equal(path("reg:5000/app@sha256:abcd"), "reg:5000/app");
	assert_string_equal(path("reg:5000/app:1@sha256:abcd"), "reg:5000/app");
	{
		char reg[64];

		registry_auth_image_registry("alpine", reg, sizeof(reg));
		assert_string_equal(reg, "docker.io");
		registry_auth_image_registry("127.0.0.1:5443/e2e/app:1", reg, sizeof(reg));
		assert_string_equal(reg, "127.0.0.1:5443");
	}
}

static void test_registry_auth__longest_prefix_and_earlier_source_win(void **state)
{
	struct registry_auth a = REGISTRY_AUTH_INIT;
	struct error err = ERROR_INIT;
	const struct registry_cred *c;

	assert_int_equal(registry_auth_add(&a, "reg:5000", "first", "pw-first-1", "A",
					   REGISTRY_AUTH_JOB, &err),
			 1);
	/* the same key from a later source is not used */
	assert_int_equal(registry_auth_add(&a, "https://reg:5000/v2/", "second", "pw-second-2", "B",
					   REGISTRY_AUTH_ADMIN, &err),
			 0);
	/* a narrower key from a later source is */
	assert_int_equal(registry_auth_add(&a, "reg:5000/team", "team", "pw-team-3", "C",
					   REGISTRY_AUTH_GITLAB, &err),
			 1);
	assert_int_equal(registry_auth_add(&a, "https://index.docker.io/v1/", "hub", "pw-hub-4",
					   "D", REGISTRY_AUTH_ADMIN, &err),
			 1);

	c = registry_auth_find(&a, "reg:5000/app:1");
	assert_non_null(c);
	assert_string_equal(c->username, "first");
	assert_string_equal(c->source, "A");
	c = registry_auth_find(&a, "reg:5000/team/app:1");
	assert_string_equal(c->username, "team");
	assert_int_equal(c->origin, REGISTRY_AUTH_GITLAB);
	c = registry_auth_find(&a, "reg:5000/teamx/app");
	assert_string_equal(c->username, "first");
	/* the port is part of the host */
	assert_null(registry_auth_find(&a, "reg:5001/app:1"));
	/* "reg/app" is Docker Hub's image reg/app */
	assert_string_equal(registry_auth_find(&a, "reg/app:1")->username, "hub");
	c = registry_auth_find(&a, "alpine:3");
	assert_non_null(c);
	assert_string_equal(c->username, "hub");
	assert_string_equal(c->server, "https://index.docker.io/v1/");
	assert_null(registry_auth_find(NULL, "alpine"));
	registry_auth_release(&a);
}

static void test_registry_auth__config_json_entries(void **state)
{
	/* "dXNlcjE6cGFzc3dvcmQtb25lOndpdGgtY29sb24=" = user1:password-one:with-colon */
	const char *json =
		"{\"auths\":{"
		"\"127.0.0.1:5443\":{\"auth\":\"dXNlcjE6cGFzc3dvcmQtb25lOndpdGgtY29sb24=\"},"
		"\"reg.example.com\":{\"username\":\"user2\",\"password\":\"pass-two-2\"},"
		"\"logged-out.example.com\":{}},"
		"\"HttpHeaders\":{\"User-Agent\":\"x\"}}\n";
	struct registry_auth a = REGISTRY_AUTH_INIT;
	struct error err = ERROR_INIT;
	const struct registry_cred *c;
	char line[256];

	assert_int_equal(registry_auth_add_config(&a, json, strlen(json), "DOCKER_AUTH_CONFIG",
						  REGISTRY_AUTH_JOB, &err),
			 0);
	assert_int_equal(a.n, 2);
	c = registry_auth_find(&a, "127.0.0.1:5443/e2e/busybox:1");
	assert_non_null(c);
	assert_string_equal(c->username, "user1");
	assert_string_equal(c->password, "password-one:with-colon");
	assert_string_equal(c->source, "DOCKER_AUTH_CONFIG");
	c = registry_auth_find(&a, "reg.example.com/x");
	assert_string_equal(c->password, "pass-two-2");
	assert_null(registry_auth_find(&a, "logged-out.example.com/x"));
	/* masked from the moment they were read */
	snprintf(line, sizeof(line), "a password-one:with-colon b pass-two-2 c");
	log_mask(line, sizeof(line));
	assert_string_equal(line, "a [MASKED] b [MASKED] c");
	registry_auth_release(&a);
}

static void test_registry_auth__bad_documents_add_nothing(void **state)
{
	static const char *const bad[] = {
		"not json",
		"[1,2]",
		"{\"auths\":[]}",
		"{\"auths\":{\"r\":\"x\"}}",
		"{\"auths\":{\"ok.example.com\":{\"auth\":\"dTpw\"},\"r\":{\"auth\":\"!!\"}}}",
		"{\"auths\":{\"r\":{\"auth\":\"bm9jb2xvbg==\"}}}", /* "nocolon" */
		"{\"auths\":{}} trailing",
		"{\"auths\":{",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct registry_auth a = REGISTRY_AUTH_INIT;
		struct error err = ERROR_INIT;

		assert_int_equal(registry_auth_add_config(&a, bad[i], strlen(bad[i]), "SRC",
							  REGISTRY_AUTH_ADMIN, &err),
				 -1);
		assert_int_equal(err.cls, ERR_CONFIG);
		assert_non_null(strstr(err.msg, "SRC"));
		assert_int_equal(a.n, 0);
		registry_auth_release(&a);
	}
}

static void test_registry_auth__credential_helpers_are_only_a_warning(void **state)
{
	const char *json = "{\"credsStore\":\"desktop\",\"credHelpers\":{\"gcr.io\":\"gcloud\"},"
			   "\"auths\":{\"reg:5000\":{\"auth\":\"dTpwYXNzd29yZC0z\"}}}";
	struct registry_auth a = REGISTRY_AUTH_INIT;
	struct error err = ERROR_INIT;
	char *out = NULL;
	size_t outlen = 0;
	FILE *f = open_memstream(&out, &outlen);

	log_set_stream(f);
	log_set_color(0);
	assert_int_equal(registry_auth_add_config(&a, json, strlen(json), "DOCKER_AUTH_CONFIG",
						  REGISTRY_AUTH_JOB, &err),
			 0);
	fclose(f);
	log_set_stream(NULL);
	assert_int_equal(a.n, 1);
	assert_non_null(strstr(out, "DOCKER_AUTH_CONFIG: credsStore and credHelpers are not "
				    "supported"));
	/* one line */
	assert_ptr_equal(strchr(out, '\n'), out + strlen(out) - 1);
	free(out);
	registry_auth_release(&a);
}

static int b64v(char ch)
{
	const char *abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const char *p = strchr(abc, ch);

	return p ? (int)(p - abc) : -1;
}

static void test_registry_auth__header_is_base64url_json(void **state)
{
	struct registry_auth a = REGISTRY_AUTH_INIT;
	struct error err = ERROR_INIT;
	struct buf h = BUF_INIT;
	char json[256];
	size_t i, n = 0;
	unsigned int acc = 0;
	int bits = 0;

	/* a password whose JSON and base64 need escaping and the URL alphabet */
	assert_int_equal(registry_auth_add(&a, "reg:5000", "u", "p\"w?>>?~~", "S",
					   REGISTRY_AUTH_ADMIN, &err),
			 1);
	assert_int_equal(registry_auth_header(&a.creds[0], &h, &err), 0);
	assert_int_equal(h.len % 4, 0);
	assert_null(strpbrk(buf_str(&h), "+/"));
	for (i = 0; i < h.len && h.data[i] != '='; i++) {
		int v = b64v(h.data[i]);

		assert_true(v >= 0);
		acc = (acc << 6) | (unsigned int)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			json[n++] = (char)((acc >> bits) & 0xff);
		}
	}
	json[n] = '\0';
	assert_string_equal(json,
			    "{\"username\":\"u\",\"password\":\"p\\\"w?>>?~~\",\"serveraddress\":"
			    "\"reg:5000\"}");
	buf_release(&h);
	registry_auth_release(&a);
}

static void test_registry_auth__refusals_are_recognised(void **state)
{
	assert_true(registry_auth_refused("unauthorized: authentication required"));
	assert_true(registry_auth_refused("Get \"https://r/v2/\": no basic auth credentials"));
	assert_true(registry_auth_refused("pull r/a:1: Head https://r/v2/a/manifests/1: 401"));
	assert_true(registry_auth_refused("UNAUTHORIZED: access to the requested resource"));
	assert_false(registry_auth_refused("manifest for r/a:1 not found: manifest unknown"));
	assert_false(registry_auth_refused("pull r/a@sha256:44019a: toomanyrequests"));
	assert_false(registry_auth_refused("port 4010 in use"));
	assert_false(registry_auth_refused(NULL));
}

static void test_registry_auth__entries_need_a_host_and_a_user(void **state)
{
	struct registry_auth a = REGISTRY_AUTH_INIT;
	struct error err = ERROR_INIT;

	assert_int_equal(
		registry_auth_add(&a, "", "u", "password-x", "S", REGISTRY_AUTH_ADMIN, &err), -1);
	assert_int_equal(err.cls, ERR_CONFIG);
	assert_int_equal(
		registry_auth_add(&a, "reg", "", "password-x", "S", REGISTRY_AUTH_ADMIN, &err), -1);
	assert_int_equal(registry_auth_add(&a, "https:///v1/", "u", "password-x", "S",
					   REGISTRY_AUTH_ADMIN, &err),
			 -1);
	assert_int_equal(a.n, 0);
	registry_auth_release(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registry_auth__keys_as_gitlab_reads_them),
		cmocka_unit_test(test_registry_auth__image_paths),
		cmocka_unit_test(test_registry_auth__longest_prefix_and_earlier_source_win),
		cmocka_unit_test(test_registry_auth__config_json_entries),
		cmocka_unit_test(test_registry_auth__bad_documents_add_nothing),
		cmocka_unit_test(test_registry_auth__credential_helpers_are_only_a_warning),
		cmocka_unit_test(test_registry_auth__header_is_base64url_json),
		cmocka_unit_test(test_registry_auth__refusals_are_recognised),
		cmocka_unit_test(test_registry_auth__entries_need_a_host_and_a_user),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
