/* SPDX-License-Identifier: MIT */
/* Where the runner's stages run, and the shell detection of sh-only images. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jobs/helper.h"
#include "jobs/shell.h"

static void test_stage_place__the_runners_stages_run_in_the_helper(void **state)
{
	static const char *const helper[] = {
		"get_sources",
		"clear_worktree",
		"restore_cache",
		"download_artifacts",
		"archive_cache",
		"archive_cache_on_failure",
		"upload_artifacts_on_success",
		"upload_artifacts_on_failure",
		"cleanup_file_variables",
	};
	size_t i;

	for (i = 0; i < sizeof(helper) / sizeof(helper[0]); i++)
		if (stage_place_of(helper[i]) != STAGE_IN_HELPER)
			fail_msg("%s should run in the helper", helper[i]);
}

static void test_stage_place__the_jobs_stages_and_unknown_names_run_in_the_job(void **state)
{
	static const char *const job[] = {
		"prepare_script",
		"build_script",
		"step_script",
		"step_release",
		"after_script",
		/* names the driver does not know: user scripts, as the SPEC says */
		"step_",
		"prepare_executor",
		"GET_SOURCES",
		"get_sources ",
		"",
		"upload_artifacts",
	};
	size_t i;

	for (i = 0; i < sizeof(job) / sizeof(job[0]); i++)
		if (stage_place_of(job[i]) != STAGE_IN_JOB)
			fail_msg("\"%s\" should run in the job container", job[i]);
	assert_int_equal(stage_place_of(NULL), STAGE_IN_JOB);
}

static void test_shell_detect__bash_first_then_sh_in_the_docker_executors_order(void **state)
{
	const char *s = shell_detect_script("bash", 0);

	assert_string_equal(
		s, "for s in /usr/local/bin/bash /usr/bin/bash /bin/bash /usr/local/bin/sh "
		   "/usr/bin/sh /bin/sh /busybox/sh; do if [ -x \"$s\" ]; then exec \"$s\"; fi; "
		   "done; echo 'executor: no shell in the image: none of /usr/local/bin/bash "
		   "/usr/bin/bash /bin/bash /usr/local/bin/sh /usr/bin/sh /bin/sh /busybox/sh is "
		   "executable' >&2; exit 127");
	/* shell = sh: only the POSIX shells */
	s = shell_detect_script("sh", 0);
	assert_null(strstr(s, "bash"));
	assert_non_null(strstr(s, "for s in /usr/local/bin/sh /usr/bin/sh /bin/sh /busybox/sh;"));
	/* unknown or unset: as bash */
	assert_string_equal(shell_detect_script(NULL, 0), shell_detect_script("bash", 0));
}

static void test_shell_detect__the_helper_starts_with_umask_0000(void **state)
{
	const char *h = shell_detect_script("bash", 1), *j = shell_detect_script("bash", 0);

	assert_int_equal(strncmp(h, "umask 0000; ", 12), 0);
	assert_string_equal(h + 12, j);
	assert_null(strstr(j, "umask"));
	assert_int_equal(
		strncmp(shell_detect_script("sh", 1), "umask 0000; for s in /usr/local/bin/sh", 38),
		0);
}

/* The detection text as `sh -c` runs it, the script on its stdin: out gets
 * what the detected shell printed. */
static int run_detect(const char *detect, const char *script, char *out, size_t size)
{
	char in[] = "/tmp/executor-unit-detect-XXXXXX";
	int fd = mkstemp(in), pipefd[2], status;
	ssize_t n;
	size_t len = 0;
	pid_t pid;

	if (fd < 0 || write(fd, script, strlen(script)) != (ssize_t)strlen(script) ||
	    lseek(fd, 0, SEEK_SET) < 0 || pipe(pipefd) < 0)
		fail_msg("temp file or pipe");
	pid = fork();
	if (pid == 0) {
		dup2(fd, 0);
		dup2(pipefd[1], 1);
		close(pipefd[0]);
		execl("/bin/sh", "sh", "-c", detect, (char *)NULL);
		_exit(126);
	}
	close(pipefd[1]);
	close(fd);
	unlink(in);
	while (len + 1 < size && (n = read(pipefd[0], out + len, size - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = '\0';
	close(pipefd[0]);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_shell_detect__execs_a_shell_that_reads_the_script_from_stdin(void **state)
{
	char out[256];
	struct stat st;

	/* this host has bash: the detection execs it, and it reads the script */
	if (stat("/bin/bash", &st) == 0 || stat("/usr/bin/bash", &st) == 0) {
		assert_int_equal(run_detect(shell_detect_script("bash", 0),
					    "echo \"shell=${BASH_VERSION:+bash}\"; exit 3\n", out,
					    sizeof(out)),
				 3);
		assert_string_equal(out, "shell=bash\n");
	}
	/* shell = sh never starts bash */
	assert_int_equal(run_detect(shell_detect_script("sh", 1),
				    "echo \"shell=${BASH_VERSION:+bash} umask=$(umask)\"\n", out,
				    sizeof(out)),
			 0);
	assert_string_equal(out, "shell= umask=0000\n");
}

static void test_runner_binary__configured_then_found_on_path(void **state)
{
	char dir[] = "/tmp/executor-unit-runner-XXXXXX", bin[256], out[4096], path[512];
	const char *old = getenv("PATH");
	char *saved = old ? strdup(old) : NULL;
	struct config cfg;
	struct error err = ERROR_INIT;
	int fd;

	assert_non_null(mkdtemp(dir));
	snprintf(bin, sizeof(bin), "%s/gitlab-runner", dir);
	config_defaults(&cfg);

	/* none on PATH: 0, nothing to mount */
	setenv("PATH", "/nonexistent-executor-unit", 1);
	assert_int_equal(helper_runner_binary(&cfg, out, sizeof(out), &err), 0);

	/* found on PATH (a relative entry is skipped) */
	fd = open(bin, O_WRONLY | O_CREAT, 0755);
	assert_true(fd >= 0);
	close(fd);
	snprintf(path, sizeof(path), "relative:/nonexistent-executor-unit:%s", dir);
	setenv("PATH", path, 1);
	assert_int_equal(helper_runner_binary(&cfg, out, sizeof(out), &err), 1);
	assert_string_equal(out, bin);

	/* runner_binary wins, and must be an executable file */
	cfg.runner_binary = strdup("/nonexistent-executor-unit/gitlab-runner");
	assert_int_equal(helper_runner_binary(&cfg, out, sizeof(out), &err), -1);
	assert_int_equal(err.cls, ERR_CONFIG);
	assert_non_null(strstr(err.msg, "runner_binary /nonexistent-executor-unit/gitlab-runner is "
					"not an executable file"));
	chmod(bin, 0644);
	free(cfg.runner_binary);
	cfg.runner_binary = strdup(bin);
	assert_int_equal(helper_runner_binary(&cfg, out, sizeof(out), &err), -1);
	chmod(bin, 0755);
	assert_int_equal(helper_runner_binary(&cfg, out, sizeof(out), &err), 1);
	assert_string_equal(out, bin);

	unlink(bin);
	rmdir(dir);
	if (saved)
		setenv("PATH", saved, 1);
	free(saved);
	config_release(&cfg);
}

static void test_binary_is_static__reads_the_elf_program_headers(void **state)
{
	char path[] = "/tmp/executor-unit-notelf-XXXXXX";
	int fd = mkstemp(path);

	/* the unit test binary itself is dynamically linked (cmocka, libcurl, ...) */
	assert_int_equal(helper_binary_is_static("/proc/self/exe"), 0);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "#!/bin/sh\n", 10), 10);
	close(fd);
	assert_int_equal(helper_binary_is_static(path), -1);
	unlink(path);
	assert_int_equal(helper_binary_is_static("/nonexistent-executor-unit"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stage_place__the_runners_stages_run_in_the_helper),
		cmocka_unit_test(
			test_stage_place__the_jobs_stages_and_unknown_names_run_in_the_job),
		cmocka_unit_test(
			test_shell_detect__bash_first_then_sh_in_the_docker_executors_order),
		cmocka_unit_test(test_shell_detect__the_helper_starts_with_umask_0000),
		cmocka_unit_test(test_shell_detect__execs_a_shell_that_reads_the_script_from_stdin),
		cmocka_unit_test(test_runner_binary__configured_then_found_on_path),
		cmocka_unit_test(test_binary_is_static__reads_the_elf_program_headers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
