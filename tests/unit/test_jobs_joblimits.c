/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "jobs/joblimits.h"

#define GIB (1LL << 30)
#define MIB (1LL << 20)

/* The admin's file as text, over the defaults. */
static void admin(struct config *cfg, const char *text)
{
	struct error err = ERROR_INIT;

	config_defaults(cfg);
	if (config_parse(cfg, "test", text, &err) < 0)
		fail_msg("%s", err.msg);
}

static struct job_limits ok(const char *conf, const char *mem, const char *cpus, const char *pids)
{
	struct config cfg;
	struct job_limits l;
	struct error err = ERROR_INIT;

	admin(&cfg, conf);
	if (job_limits_resolve(&cfg, mem, cpus, pids, &l, &err) < 0)
		fail_msg("refused: %s", err.msg);
	config_release(&cfg);
	return l;
}

static void refused(const char *conf, const char *mem, const char *cpus, const char *pids,
		    enum error_class cls, const char *msg)
{
	struct config cfg;
	struct job_limits l;
	struct error err = ERROR_INIT;

	admin(&cfg, conf);
	assert_int_equal(job_limits_resolve(&cfg, mem, cpus, pids, &l, &err), -1);
	config_release(&cfg);
	assert_int_equal(err.cls, cls);
	if (strcmp(err.msg, msg))
		fail_msg("message\n  got:  %s\n  want: %s", err.msg, msg);
}

static void test_joblimits__defaults_are_the_admins(void **state)
{
	struct job_limits l = ok("", NULL, NULL, NULL);

	assert_int_equal(l.memory, 4 * GIB);
	assert_int_equal(l.nano_cpus, 0);
	assert_int_equal(l.pids, 4096);
	assert_int_equal(l.from_job, 0);
	l = ok("memory = 512m\ncpus = 1.5\npids_limit = 100\n", "", "", "");
	assert_int_equal(l.memory, 512 * MIB);
	assert_int_equal(l.nano_cpus, 1500000000LL);
	assert_int_equal(l.pids, 100);
	assert_int_equal(l.from_job, 0);
	l = ok("memory = 0\npids_limit = 0\n", NULL, NULL, NULL);
	assert_int_equal(l.memory, 0);
	assert_int_equal(l.pids, 0);
}

static void test_joblimits__lowering_is_always_allowed(void **state)
{
	struct job_limits l = ok("", "512m", "0.5", "64");

	assert_int_equal(l.memory, 512 * MIB);
	assert_int_equal(l.nano_cpus, 500000000LL);
	assert_int_equal(l.pids, 64);
	assert_int_equal(l.from_job, JOB_LIMIT_MEMORY | JOB_LIMIT_CPUS | JOB_LIMIT_PIDS);
	/* equal to the default is not a raise */
	l = ok("", "4g", NULL, "4096");
	assert_int_equal(l.memory, 4 * GIB);
	/* a limit where the admin set none is a lowering */
	l = ok("memory = 0\npids_limit = 0\n", "64g", "2", "100000");
	assert_int_equal(l.memory, 64 * GIB);
	assert_int_equal(l.nano_cpus, 2000000000LL);
	assert_int_equal(l.pids, 100000);
	/* below a ceiling lower than the default still counts as lowering */
	l = ok("memory_max = 1g\n", "2g", NULL, NULL);
	assert_int_equal(l.memory, 2 * GIB);
}

static void test_joblimits__a_raise_within_the_ceiling_is_applied(void **state)
{
	struct job_limits l =
		ok("memory_max = 8g\ncpus = 1\ncpus_max = 4\npids_limit_max = 10000\n", "8g", "3.5",
		   "10000");

	assert_int_equal(l.memory, 8 * GIB);
	assert_int_equal(l.nano_cpus, 3500000000LL);
	assert_int_equal(l.pids, 10000);
}

static void test_joblimits__a_raise_above_the_ceiling_is_a_policy_refusal(void **state)
{
	refused("memory_max = 6g\n", "8g", NULL, NULL, ERR_POLICY,
		"EXECUTOR_MEMORY=8g is above this runner's ceiling memory_max = 6g; ask for at "
		"most 6g, or ask the runner admin to raise memory_max");
	refused("memory_max = 6g\n", "6442450945", NULL, NULL, ERR_POLICY,
		"EXECUTOR_MEMORY=6442450945 is above this runner's ceiling memory_max = 6g; ask "
		"for at most 6g, or ask the runner admin to raise memory_max");
	refused("cpus = 1\ncpus_max = 2\n", NULL, "2.5", NULL, ERR_POLICY,
		"EXECUTOR_CPUS=2.5 is above this runner's ceiling cpus_max = 2; ask for at most 2, "
		"or ask the runner admin to raise cpus_max");
	refused("pids_limit_max = 5000\n", NULL, NULL, "5001", ERR_POLICY,
		"EXECUTOR_PIDS_LIMIT=5001 is above this runner's ceiling pids_limit_max = 5000; "
		"ask "
		"for at most 5000, or ask the runner admin to raise pids_limit_max");
	/* a ceiling below the default: the default is what a job may have */
	refused("memory_max = 1g\n", "5g", NULL, NULL, ERR_POLICY,
		"EXECUTOR_MEMORY=5g is above this runner's ceiling memory_max = 1g; ask for at "
		"most 4g, or ask the runner admin to raise memory_max");
}

static void test_joblimits__without_a_ceiling_a_job_may_only_lower(void **state)
{
	refused("", "5g", NULL, NULL, ERR_POLICY,
		"EXECUTOR_MEMORY=5g is above this runner's memory = 4g, and its admin set no "
		"memory_max, so a job may only lower it; ask for at most 4g, or ask the runner "
		"admin to set memory_max");
	refused("cpus = 0.5\n", NULL, "1", NULL, ERR_POLICY,
		"EXECUTOR_CPUS=1 is above this runner's cpus = 0.5, and its admin set no "
		"cpus_max, so a job may only lower it; ask for at most 0.5, or ask the runner "
		"admin to set cpus_max");
	refused("", NULL, NULL, "4097", ERR_POLICY,
		"EXECUTOR_PIDS_LIMIT=4097 is above this runner's pids_limit = 4096, and its admin "
		"set no pids_limit_max, so a job may only lower it; ask for at most 4096, or ask "
		"the runner admin to set pids_limit_max");
}

static void test_joblimits__malformed_values_are_job_errors(void **state)
{
	static const char *mem[] = {"lots", "-1", "0", "1m", "12q", "4 g", "9999999999999999t"};
	static const char *cpu[] = {"x", "-1", "0", "0.001", "nan", "inf", "1,5", "5000"};
	static const char *pid[] = {"x", "-1", "0", "1.5", "+5", " 5", "4194305", "1e3"};
	struct config cfg;
	struct job_limits l;
	size_t i;

	admin(&cfg, "memory_max = 1t\ncpus_max = 4096\npids_limit_max = 4194304\n");
	for (i = 0; i < sizeof(mem) / sizeof(*mem); i++) {
		struct error err = ERROR_INIT;

		assert_int_equal(job_limits_resolve(&cfg, mem[i], NULL, NULL, &l, &err), -1);
		assert_int_equal(err.cls, ERR_JOB);
		assert_non_null(strstr(err.msg, "is not a memory size"));
	}
	for (i = 0; i < sizeof(cpu) / sizeof(*cpu); i++) {
		struct error err = ERROR_INIT;

		assert_int_equal(job_limits_resolve(&cfg, NULL, cpu[i], NULL, &l, &err), -1);
		assert_int_equal(err.cls, ERR_JOB);
		assert_non_null(strstr(err.msg, "is not a number of CPUs"));
	}
	for (i = 0; i < sizeof(pid) / sizeof(*pid); i++) {
		struct error err = ERROR_INIT;

		assert_int_equal(job_limits_resolve(&cfg, NULL, NULL, pid[i], &l, &err), -1);
		assert_int_equal(err.cls, ERR_JOB);
		assert_non_null(strstr(err.msg, "is not a number of processes"));
	}
	config_release(&cfg);
	refused("", "lots", NULL, NULL, ERR_JOB,
		"EXECUTOR_MEMORY=lots is not a memory size; use bytes or a number with k, m or g, "
		"such as 512m or 2g (at least 6m)");
}

static void test_joblimits__a_hostile_value_stays_one_short_line(void **state)
{
	struct config cfg;
	struct job_limits l;
	struct error err = ERROR_INIT;
	char big[4096];

	memset(big, 'A', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	big[3] = '\n';
	admin(&cfg, "");
	assert_int_equal(job_limits_resolve(&cfg, big, NULL, NULL, &l, &err), -1);
	config_release(&cfg);
	assert_null(strchr(err.msg, '\n'));
	assert_true(strlen(err.msg) < 200);
	assert_non_null(strstr(err.msg, "EXECUTOR_MEMORY=AAA?AAAA"));
	assert_non_null(strstr(err.msg, "... is not a memory size"));
}

static json_object *host_for(const char *conf, const char *mem, const char *cpus, const char *pids)
{
	struct config cfg;
	struct job_limits l;
	struct error err = ERROR_INIT;
	json_object *host = json_object_new_object();

	admin(&cfg, conf);
	if (job_limits_resolve(&cfg, mem, cpus, pids, &l, &err) < 0 ||
	    job_limits_apply(&cfg, &l, host, &err) < 0)
		fail_msg("%s", err.msg);
	config_release(&cfg);
	return host;
}

static const char *field(json_object *host, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(host, key, &v)
		       ? json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN)
		       : NULL;
}

static void test_joblimits__host_config_carries_them(void **state)
{
	json_object *h = host_for("", NULL, NULL, NULL);

	assert_string_equal(field(h, "SecurityOpt"), "[\"no-new-privileges\"]");
	assert_null(field(h, "CapAdd"));
	assert_null(field(h, "CapDrop"));
	assert_string_equal(field(h, "PidsLimit"), "4096");
	assert_string_equal(field(h, "Memory"), "4294967296");
	assert_string_equal(field(h, "MemorySwap"), "4294967296");
	assert_null(field(h, "NanoCpus"));
	json_object_put(h);

	h = host_for("cap_drop = NET_RAW, MKNOD\ncap_add = SYS_PTRACE\nsecurity_opt = "
		     "apparmor=ci, label=disable\ncpus = 2\nmemory = 0\npids_limit = 0\n",
		     NULL, "0.25", NULL);
	assert_string_equal(field(h, "SecurityOpt"),
			    "[\"no-new-privileges\",\"apparmor=ci\",\"label=disable\"]");
	assert_string_equal(field(h, "CapAdd"), "[\"SYS_PTRACE\"]");
	assert_string_equal(field(h, "CapDrop"), "[\"NET_RAW\",\"MKNOD\"]");
	assert_string_equal(field(h, "NanoCpus"), "250000000");
	assert_null(field(h, "Memory"));
	assert_null(field(h, "MemorySwap"));
	assert_null(field(h, "PidsLimit"));
	json_object_put(h);
}

static void test_joblimits__privileged_keeps_limits_but_not_no_new_privileges(void **state)
{
	json_object *h = host_for("privileged = true\n", NULL, NULL, NULL);

	assert_null(field(h, "SecurityOpt"));
	assert_string_equal(field(h, "PidsLimit"), "4096");
	assert_string_equal(field(h, "Memory"), "4294967296");
	json_object_put(h);
	h = host_for("privileged = true\nsecurity_opt = no-new-privileges\n", NULL, NULL, NULL);
	assert_string_equal(field(h, "SecurityOpt"), "[\"no-new-privileges\"]");
	json_object_put(h);
}

static void test_joblimits__sizes_in_messages(void **state)
{
	char b[32];

	assert_string_equal(job_limits_size_str(4 * GIB, b, sizeof(b)), "4g");
	assert_string_equal(job_limits_size_str(1536 * MIB, b, sizeof(b)), "1536m");
	assert_string_equal(job_limits_size_str(1LL << 40, b, sizeof(b)), "1t");
	assert_string_equal(job_limits_size_str(6 * MIB + 1, b, sizeof(b)), "6291457");
	assert_string_equal(job_limits_size_str(0, b, sizeof(b)), "0");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_joblimits__defaults_are_the_admins),
		cmocka_unit_test(test_joblimits__lowering_is_always_allowed),
		cmocka_unit_test(test_joblimits__a_raise_within_the_ceiling_is_applied),
		cmocka_unit_test(test_joblimits__a_raise_above_the_ceiling_is_a_policy_refusal),
		cmocka_unit_test(test_joblimits__without_a_ceiling_a_job_may_only_lower),
		cmocka_unit_test(test_joblimits__malformed_values_are_job_errors),
		cmocka_unit_test(test_joblimits__a_hostile_value_stays_one_short_line),
		cmocka_unit_test(test_joblimits__host_config_carries_them),
		cmocka_unit_test(test_joblimits__privileged_keeps_limits_but_not_no_new_privileges),
		cmocka_unit_test(test_joblimits__sizes_in_messages),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
