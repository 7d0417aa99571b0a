#!/usr/bin/env python3
"""`make valgrind-smoke`: an end-to-end path with every driver process under valgrind.

    EXECUTOR_BIN=build/executor python3 tests/e2e/valgrind_smoke.py

Runs, through tests/e2e/run.py with EXECUTOR_BIN pointing at a valgrind wrapper
(vglib.py: --leak-check=full --errors-for-leak-kinds=definite,indirect
--error-exitcode=97 --track-fds=yes, suppressions in tests/valgrind.supp):
  * a container job through config, prepare, run (every stage) and cleanup
    (test_container_jobs.test_passing_job), its get_sources and cleanup_file_variables in a
    helper container (run.py's admin file names one);
  * the helper's artifacts: a busybox job cloned over HTTP by its helper, its artifact uploaded
    and downloaded by a later job, and a deployment job without image whose dotenv report is
    uploaded from a helper on the job's network (test_helper's tests and its teardown);
  * the blue-green pipeline of a small stack: durable setup, deploy, promote, deploy,
    promote, rollback, cleanup, then the env's teardown (test_bluegreen's pipeline test
    and teardown).
(test_fake_engine runs the driver under valgrind itself, in every `make e2e`.)
Then reads every process's valgrind log and fails on any error: an invalid read or write,
a use of an uninitialised value, a definite or indirect leak, a descriptor left open.
Prints "valgrind: N driver processes, E errors, ..." (the figure the issue asks for).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import vglib  # noqa: E402

TESTS = ["test_container_jobs.test_passing_job",
         "test_helper.test_a_job_without_git_clones_over_http_builds_uploads_and_a_later_job_downloads",
         "test_helper.test_a_deploy_jobs_dotenv_report_is_uploaded_from_a_helper", "test_helper.test_teardown",
         "test_bluegreen.test_pipeline_setup_deploy_test_promote_deploy_promote_rollback_cleanup",
         "test_bluegreen.test_teardown_removes_every_object_of_the_env"]


def main() -> int:
    real = os.environ.get("EXECUTOR_BIN", "")
    if not real or not os.access(real, os.X_OK):
        print(f"valgrind-smoke: EXECUTOR_BIN={real!r} is not an executable (make sets it)")
        return 1
    logs = tempfile.mkdtemp(prefix="executor-valgrind-")
    wrapper = vglib.wrapper(logs, os.path.abspath(real))
    env = dict(os.environ, EXECUTOR_BIN=wrapper, E2E_TEST_TIMEOUT=os.environ.get("E2E_TEST_TIMEOUT", "1200"))
    rc = subprocess.run([sys.executable, os.path.join(HERE, "run.py"), *TESTS], env=env).returncode
    s = vglib.summarize(logs)
    print(vglib.report(s))
    for name, text in s["logs_with_errors"][:5]:
        print(f"--- {name}\n{text}")
    for log, fd, what in s["fd_leaks"][:10]:
        print(f"--- {log}: descriptor {fd} left open: {what}")
    bad = rc != 0 or s["processes"] == 0 or s["errors"] or s["fd_leaks"]
    print(f"valgrind-smoke: {'FAILED' if bad else 'clean'} (logs in {logs})")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
