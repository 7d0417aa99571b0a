/* SPDX-License-Identifier: MIT */
#include "tests/unit/durable_test.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <time.h>

#include "common/cleanup.h"
#include "durable/env.h"
#include "durable/lock.h"

static const struct durable_holder job123 = {
	.action = "deploy green",
	.job_id = "123",
	.job_name = "deploy:green",
	.pipeline_id = "77",
	.project = "group/echobase",
	.user = "alice",
};

static long long ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Fork a child that takes the lock as job 123, reports "ok" on a pipe,
 * then holds it for hold_ms (or until killed) and releases it.
 */
static pid_t spawn_holder(const char *dir, int hold_ms)
{
	int fds[2];
	pid_t pid;
	char c = 0;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct durable_lock l = DURABLE_LOCK_INIT;
		struct error err = ERROR_INIT;
		struct timespec ts = {.tv_sec = hold_ms / 1000,
				      .tv_nsec = (hold_ms % 1000) * 1000000L};

		close(fds[0]);
		if (durable_lock_acquire(dir, "ci", &job123, 5, &l, &err) < 0)
			_exit(2);
		if (write(fds[1], "k", 1) != 1)
			_exit(3);
		nanosleep(&ts, NULL);
		durable_lock_release(&l);
		_exit(0);
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], &c, 1), 1);
	assert_int_equal(c, 'k');
	close(fds[0]);
	return pid;
}

static void kill_and_reap(pid_t pid)
{
	int status;

	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
}

static void test_durable_lock__acquire_records_holder_release_removes_it(void **state)
{
	const char *dir = *state;
	struct durable_lock l = DURABLE_LOCK_INIT;
	struct error err = ERROR_INIT;
	char *holder;
	char pid[32];

	assert_int_equal(durable_lock_acquire(dir, "ci", &job123, 0, &l, &err), 0);
	assert_true(l.fd >= 0);
	assert_int_equal(dt_mode(dt_path(dir, "ci", "lock")), 0600);
	assert_int_equal(dt_mode(dt_path(dir, "ci", "lock.holder")), 0600);
	holder = dt_read(dt_path(dir, "ci", "lock.holder"));
	assert_non_null(holder);
	snprintf(pid, sizeof(pid), "\"pid\":%d", (int)getpid());
	assert_non_null(strstr(holder, pid));
	assert_non_null(strstr(holder, "\"job_id\":\"123\""));
	assert_non_null(strstr(holder, "\"action\":\"deploy green\""));
	assert_non_null(strstr(holder, "\"user\":\"alice\""));
	assert_non_null(strstr(holder, "\"since\":\""));
	free(holder);
	durable_lock_release(&l);
	assert_int_equal(l.fd, -1);
	assert_false(dt_exists(dt_path(dir, "ci", "lock.holder")));
	/* the lock file itself stays: unlinking it would split lockers */
	assert_true(dt_exists(dt_path(dir, "ci", "lock")));
	durable_lock_release(&l); /* idempotent */
}

static void test_durable_lock__second_holder_waits_then_times_out(void **state)
{
	const char *dir = *state;
	struct durable_holder me = {.action = "promote green", .job_id = "124"};
	struct durable_lock l = DURABLE_LOCK_INIT;
	struct error err = ERROR_INIT;
	struct dt_capture cap;
	pid_t child = spawn_holder(dir, 30000);
	char want[64];
	long long t0, elapsed;

	dt_capture_begin(&cap);
	t0 = ms_now();
	assert_int_equal(durable_lock_acquire(dir, "ci", &me, 1, &l, &err), -1);
	elapsed = ms_now() - t0;
	dt_capture_end(&cap);

	assert_int_equal(err.cls, ERR_LOCK);
	assert_false(error_is_build_failure(&err));
	assert_true(elapsed >= 1000 && elapsed < 4000);
	assert_non_null(strstr(err.msg, "env 'ci' is locked by job 123 (deploy green) for 1 s "
					"(held since "));
	snprintf(want, sizeof(want), ", pid %d); giving up", (int)child);
	assert_non_null(strstr(err.msg, want));
	assert_non_null(strstr(err.msg, "retry when it finishes, or raise lock_timeout"));
	assert_non_null(strstr(cap.data,
			       "waiting for the lock on env 'ci': held by job 123 (deploy green)"));
	assert_int_equal(l.fd, -1);
	free(cap.data);
	kill_and_reap(child);
}

static void test_durable_lock__killed_holder_does_not_block(void **state)
{
	const char *dir = *state;
	struct durable_lock l = DURABLE_LOCK_INIT;
	struct durable_lock_info info;
	struct error err = ERROR_INIT;
	pid_t child = spawn_holder(dir, 30000);
	long long t0;
	char *holder;
	char pid[32];

	assert_int_equal(durable_lock_acquire(dir, "ci", NULL, 0, &l, &err), -1);
	assert_int_equal(err.cls, ERR_LOCK);
	kill_and_reap(child);
	/* the dead holder's lock.holder is still there, its flock is gone */
	assert_true(dt_exists(dt_path(dir, "ci", "lock.holder")));
	assert_int_equal(durable_lock_query(dir, "ci", &info, &err), 0);
	assert_false(info.held);

	t0 = ms_now();
	assert_int_equal(durable_lock_acquire(dir, "ci", NULL, 10, &l, &err), 0);
	assert_true(ms_now() - t0 < 1500);
	holder = dt_read(dt_path(dir, "ci", "lock.holder"));
	snprintf(pid, sizeof(pid), "\"pid\":%d", (int)getpid());
	assert_non_null(strstr(holder, pid));
	free(holder);
	durable_lock_release(&l);
}

static void test_durable_lock__waiter_gets_lock_when_holder_releases(void **state)
{
	const char *dir = *state;
	struct durable_lock l = DURABLE_LOCK_INIT;
	struct error err = ERROR_INIT;
	pid_t child = spawn_holder(dir, 600);
	long long t0 = ms_now(), elapsed;
	int status;

	assert_int_equal(durable_lock_acquire(dir, "ci", NULL, 10, &l, &err), 0);
	elapsed = ms_now() - t0;
	assert_true(elapsed >= 300 && elapsed < 3000);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	durable_lock_release(&l);
}

static void test_durable_lock__not_reentrant_in_one_process(void **state)
{
	const char *dir = *state;
	struct durable_lock a = DURABLE_LOCK_INIT, b = DURABLE_LOCK_INIT;
	struct error err = ERROR_INIT;
	long long t0;

	assert_int_equal(durable_lock_acquire(dir, "ci", NULL, 0, &a, &err), 0);
	t0 = ms_now();
	assert_int_equal(durable_lock_acquire(dir, "ci", NULL, 5, &b, &err), -1);
	assert_true(ms_now() - t0 < 1000);
	assert_int_equal(err.cls, ERR_SYSTEM);
	assert_non_null(strstr(err.msg, "already locked by this process"));
	/* another env is independent */
	assert_int_equal(durable_lock_acquire(dir, "devlocal", NULL, 0, &b, &err), 0);
	durable_lock_release(&b);
	durable_lock_release(&a);
	assert_int_equal(durable_lock_acquire(dir, "ci", NULL, 0, &a, &err), 0);
	durable_lock_release(&a);
}

static volatile sig_atomic_t cancel_flag;

static void test_durable_lock__cancel_stops_waiting(void **state)
{
	const char *dir = *state;
	struct durable_holder me = {.action = "deploy blue", .cancel = &cancel_flag};
	struct durable_lock l = DURABLE_LOCK_INIT;
	struct error err = ERROR_INIT;
	pid_t child = spawn_holder(dir, 30000);
	long long t0;

	cancel_flag = 1;
	t0 = ms_now();
	assert_int_equal(durable_lock_acquire(dir, "ci", &me, 60, &l, &err), -1);
	assert_true(ms_now() - t0 < 1000);
	assert_int_equal(err.cls, ERR_CANCELED);
	cancel_flag = 0;
	kill_and_reap(child);
}

static void test_durable_lock__query_reports_holder(void **state)
{
	const char *dir = *state;
	struct durable_lock_info info;
	struct error err = ERROR_INIT;
	pid_t child;
	char desc[512];

	/* no env yet: not held */
	assert_int_equal(durable_lock_query(dir, "ci", &info, &err), 0);
	assert_false(info.held);

	child = spawn_holder(dir, 30000);
	assert_int_equal(durable_lock_query(dir, "ci", &info, &err), 0);
	assert_true(info.held);
	assert_true(info.known);
	assert_int_equal(info.pid, child);
	assert_string_equal(info.job_id, "123");
	assert_string_equal(info.pipeline_id, "77");
	assert_string_equal(info.project, "group/echobase");
	assert_string_equal(info.user, "alice");
	assert_true(info.since > time(NULL) - 60);
	durable_lock_describe(&info, desc, sizeof(desc));
	assert_non_null(strstr(desc, "job 123 (deploy green) since "));
	kill_and_reap(child);

	assert_int_equal(durable_lock_query(dir, "ci", &info, &err), 0);
	assert_false(info.held);
}

static void test_durable_lock__stale_holder_details_not_shown(void **state)
{
	const char *dir = *state;
	struct durable_lock_info info;
	struct error err = ERROR_INIT;
	pid_t dead = spawn_holder(dir, 30000), raw;
	int fds[2];
	char c, desc[256];

	kill_and_reap(dead);
	/* a new holder has the flock but has not written lock.holder yet */
	assert_int_equal(pipe(fds), 0);
	raw = fork();
	assert_true(raw >= 0);
	if (raw == 0) {
		int fd = open(dt_path(dir, "ci", "lock"), O_RDWR);

		if (fd < 0 || flock(fd, LOCK_EX) < 0 || write(fds[1], "k", 1) != 1)
			_exit(2);
		pause();
		_exit(0);
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], &c, 1), 1);
	close(fds[0]);
	assert_int_equal(durable_lock_query(dir, "ci", &info, &err), 0);
	assert_true(info.held);
	assert_false(info.known);
	durable_lock_describe(&info, desc, sizeof(desc));
	assert_string_equal(desc, "another process, which has not recorded its details yet");
	kill_and_reap(raw);
}

static void test_durable_lock__acquire_sweeps_tmp_leftovers(void **state)
{
	const char *dir = *state;
	struct durable_lock l = DURABLE_LOCK_INIT;
	struct error err = ERROR_INIT;

	assert_int_equal(durable_env_ensure(dir, "ci", &err), 0);
	dt_write(dt_path(dir, "ci", "state.json.tmp.4242"), "{\"torn\":");
	assert_int_equal(durable_lock_acquire(dir, "ci", NULL, 0, &l, &err), 0);
	assert_false(dt_exists(dt_path(dir, "ci", "state.json.tmp.4242")));
	durable_lock_release(&l);
}

static void test_durable_lock__bad_env_is_job_error(void **state)
{
	struct durable_lock l = DURABLE_LOCK_INIT;
	struct error err = ERROR_INIT;

	assert_int_equal(durable_lock_acquire(*state, "CI!", NULL, 0, &l, &err), -1);
	assert_int_equal(err.cls, ERR_JOB);
	assert_int_equal(l.fd, -1);
}

static void test_durable_lock__fd_not_inherited_by_exec(void **state)
{
	const char *dir = *state;
	struct durable_lock l = DURABLE_LOCK_INIT;
	struct error err = ERROR_INIT;
	int flags;

	assert_int_equal(durable_lock_acquire(dir, "ci", NULL, 0, &l, &err), 0);
	flags = fcntl(l.fd, F_GETFD);
	assert_true(flags >= 0 && (flags & FD_CLOEXEC));
	durable_lock_release(&l);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, dt_setup, dt_teardown)
	const struct CMUnitTest tests[] = {
		T(test_durable_lock__acquire_records_holder_release_removes_it),
		T(test_durable_lock__second_holder_waits_then_times_out),
		T(test_durable_lock__killed_holder_does_not_block),
		T(test_durable_lock__waiter_gets_lock_when_holder_releases),
		T(test_durable_lock__not_reentrant_in_one_process),
		T(test_durable_lock__cancel_stops_waiting),
		T(test_durable_lock__query_reports_holder),
		T(test_durable_lock__stale_holder_details_not_shown),
		T(test_durable_lock__acquire_sweeps_tmp_leftovers),
		T(test_durable_lock__bad_env_is_job_error),
		T(test_durable_lock__fd_not_inherited_by_exec),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
