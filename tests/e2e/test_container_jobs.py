"""Container jobs through build/executor, driven the way gitlab-runner drives it.

Every job runs through harness.py (the runner emulator) against the real Docker engine
with the locally built executor-test/* images, runner short token `e2etest`. Every test
ends by checking that nothing with that job's labels is left.
"""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from e2elib import (BUSYBOX, JOB_IMAGE, RUNNER_SHORT, Service, assert_no_leftovers, check,  # noqa: E402
                    expect_failure, expect_success, labelled, new_job, roles_of, run_job, runner_config,
                    start_job, state_dir, write_admin_config)

NEEDS_DOCKER = True

READY = "READY-$((6*7))"  # prints READY-42; the command echo line shows the unexpanded form


def test_passing_job():
    job = new_job(["echo 'hello from the job container'",
                   "readlink /bin/sh",  # /bin/busybox in executor-test/bash, dash on the host
                   "cat /www/health",
                   'echo "pwd=$PWD"',
                   "echo kept-between-stages > state.txt"],
                  after_script=["cat state.txt", "echo after-status=$CI_JOB_STATUS"])
    res = run_job(job, runner_config())
    expect_success(res)
    t = res.text
    check("hello from the job container" in t, "script output in the log", res)
    check("\n/bin/busybox\n" in t and "\nok\n" in t, "the script ran inside executor-test/bash", res)
    check(f"pwd={res.project_dir}\n" in t, f"script runs in CI_PROJECT_DIR {res.project_dir}", res)
    check("\nkept-between-stages\n" in t, "stages of one job share the project directory", res)
    check("after-status=success" in t, "after_script sees CI_JOB_STATUS=success", res)
    check(res.stages == ["prepare_script", "get_sources", "build_script", "after_script", "cleanup_file_variables"],
          f"stages {res.stages}", res)
    check(all(c.returncode == 0 for c in res.calls), "every driver call exited 0", res)
    check(res.text.rstrip().endswith("Job succeeded"), "final line", res)
    assert_no_leftovers(job)


def test_script_exit_code_42_is_a_build_failure():
    job = new_job(["echo before-the-failure", "exit 42", "echo never-printed"],
                  after_script=["echo after-status=$CI_JOB_STATUS"])
    res = run_job(job, runner_config())
    expect_failure(res, "build", 42)
    check(res.final_line == "ERROR: Job failed: exit status 42", res.final_line, res)
    build = res.run_calls("build_script")[0]
    check(build.returncode == 1, f"run exits BUILD_FAILURE_EXIT_CODE (1), got {build.returncode}", res)
    check(build.exit_code_file is not None and build.exit_code_file.split(b"\n")[0] == b"42",
          f"BUILD_EXIT_CODE_FILE says {build.exit_code_file!r}", res)
    check("before-the-failure" in res.text and "\nnever-printed" not in res.text, "stops at the failure", res)
    check("after-status=failed" in res.text, "after_script runs with CI_JOB_STATUS=failed", res)
    assert_no_leftovers(job)


def test_service_reachable_by_alias():
    svc = Service(BUSYBOX, alias="web", command=["httpd", "-f", "-p", "8080", "-h", "/www"])
    job = new_job(["for i in $(seq 1 50); do wget -q -O- http://web:8080/health >/dev/null 2>&1 && break; sleep 0.2; done",
                   "wget -q -O- http://web:8080/health",
                   "echo SERVICE-$(wget -q -O- http://web:8080/health)-OK",
                   "sleep 3"], services=[svc])
    running = start_job(job, runner_config())
    roles = {}
    if running.control.wait_for_log("SERVICE-ok-OK", 120):
        roles = roles_of(job.id)
    res = running.wait(300)
    expect_success(res)
    check("SERVICE-ok-OK" in res.text, "the service answered through its alias", res)
    # the network is the runner slot's (executor-<runner>-slot-0), kept for the slot's next job
    check(len(roles.get("job", [])) == 1 and len(roles.get("service", [])) == 1 and not roles.get("network"),
          f"while running: one job container, one service, no network of the job's own: {roles}", res)
    assert_no_leftovers(job)


def test_50mb_output_streamed_intact_and_in_order():
    lines = 524288  # 100-byte lines: 50 MiB
    pad = "x" * 90
    awk = ("awk 'BEGIN { for (i = 1; i <= %d; i++) { printf \"%%08d %%s\\n\", i, \"%s\"; "
           "if (i %% 131072 == 0) printf \"stderr-mark-%%d\\n\", i > \"/dev/stderr\" } }'" % (lines, pad))
    job = new_job(["echo BEGIN-50MB", awk, "echo END-50MB"])
    res = run_job(job, runner_config())
    expect_success(res)
    build = res.run_calls("build_script")[0]
    out = build.stdout
    expected = b"".join(b"%08d %s\n" % (i, pad.encode()) for i in range(1, lines + 1))
    start = out.find(b"00000001 ")
    end = out.find(b"\x1b[32;1m$ echo END-50MB")
    check(start >= 0 and end > start, f"markers in stdout ({len(out)} bytes)", res)
    data = out[start:end]
    check(len(data) == len(expected), f"{len(data)} bytes of data on stdout, want {len(expected)}", res)
    check(hashlib.sha256(data).hexdigest() == hashlib.sha256(expected).hexdigest(),
          "sha256 of the streamed stdout differs from the generated data", res)
    err_marks = [ln for ln in build.stderr_text.splitlines() if ln.startswith("stderr-mark-")]
    check(err_marks == [f"stderr-mark-{i}" for i in (131072, 262144, 393216, 524288)],
          f"stderr marks {err_marks}", res)
    check(b"\nstderr-mark-" not in out, "stderr did not leak into stdout", res)
    check(pad.encode() not in build.stderr, "stdout did not leak into stderr", res)
    check("Job's log exceeded limit" in res.text, "the runner's 4 MiB log limit applied to the job log", res)
    assert_no_leftovers(job)


def test_cancel_stops_promptly_and_runs_after_script():
    job = new_job([f"echo {READY}", "sleep 600"], after_script=["echo after-script-ran status=$CI_JOB_STATUS"])
    running = start_job(job, runner_config())
    check(running.control.wait_for_log("READY-42", 120), "the job script started")
    running.control.cancel()
    res = running.wait(300)
    build = res.run_calls("build_script")[0]
    sigs = [s for _, s in build.signals_sent]
    check(sigs == ["SIGTERM"], f"SIGTERM was enough (no SIGKILL): {sigs}", res)
    took = build.ended - build.signals_sent[0][0]
    check(took < 5, f"run stopped {took:.1f} s after SIGTERM (want a few seconds)", res)
    check(res.status == "canceled" and res.final_line == "ERROR: Job failed: canceled", res.final_line, res)
    check("after-script-ran status=canceled" in res.text, "after_script ran after the cancel", res)
    check(res.stages[-2:] == ["after_script", "cleanup_file_variables"], f"stages {res.stages}", res)
    assert_no_leftovers(job)


def test_sigkilled_run_then_cleanup_leaves_nothing():
    svc = Service(BUSYBOX, alias="web", command=["httpd", "-f", "-p", "8080", "-h", "/www"])
    job = new_job([f"echo {READY}", "sleep 600"], services=[svc])
    running = start_job(job, runner_config())
    check(running.control.wait_for_log("READY-42", 120), "the job script started")
    roles = roles_of(job.id)
    rec = running.control.signal_current(signal.SIGKILL)
    res = running.wait(300)
    check(rec is not None and rec.stage == "build_script", f"SIGKILLed {rec}", res)
    check(rec.returncode == -signal.SIGKILL, f"run died by SIGKILL: {rec.returncode}", res)
    check(roles.get("job") and roles.get("service"), f"containers existed before the kill: {roles}", res)
    expect_failure(res, "system")
    cleanup = res.calls_of("cleanup")
    check(len(cleanup) == 1 and cleanup[0].returncode == 0, f"cleanup ran and succeeded: {cleanup}", res)
    assert_no_leftovers(job, wait=0)


def test_sigkill_during_prepare_then_retry_leaves_nothing():
    """SIGKILL `prepare` while it is creating the job's objects: the runner cleans up and
    retries; after the job nothing with its labels may remain."""
    svc = Service(BUSYBOX, alias="web", command=["httpd", "-f", "-p", "8080", "-h", "/www"])
    caught = 0
    for _ in range(3):
        job = new_job(["echo job-ran-after-retry"], services=[svc])
        running = start_job(job, runner_config())
        rec = running.control.wait_for_call("prepare", timeout=60)
        check(rec is not None, "prepare started")
        while rec.ended is None and not labelled(RUNNER_SHORT, job.id)["containers"]:
            time.sleep(0.01)
        killed = running.control.signal_call(rec, signal.SIGKILL)
        res = running.wait(300)
        expect_success(res)
        check("job-ran-after-retry" in res.text, "the job ran after the retry", res)
        if killed:
            caught += 1
            check(rec.returncode == -signal.SIGKILL, f"prepare died by SIGKILL: {rec.returncode}", res)
            check(res.prepare_attempts == 2, f"a SIGKILLed prepare is retried ({res.prepare_attempts} attempts)", res)
            check([c.kind for c in res.calls][:4] == ["config", "prepare", "cleanup", "config"],
                  f"cleanup right after the killed attempt: {[c.kind for c in res.calls][:4]}", res)
        assert_no_leftovers(job)
        if caught:
            break
    check(caught, "never caught prepare while it was creating objects (3 tries)")


def test_unknown_stage_names_run_as_user_scripts():
    job = new_job(["echo main-step"], extra_steps=[("release", ["echo release-step-ran"])],
                  raw_stages=[("some_future_stage", ["echo future-stage-ran"])])
    res = run_job(job, runner_config())
    expect_success(res)
    check("step_release" in res.stages and "some_future_stage" in res.stages, f"stages {res.stages}", res)
    check("release-step-ran" in res.text and "future-stage-ran" in res.text, "both ran", res)
    assert_no_leftovers(job)


def test_image_that_cannot_be_had_is_a_system_failure():
    image = "executor-test/does-not-exist:1"
    job = new_job(["echo never-ran"], image=image)
    res = run_job(job, runner_config())
    expect_failure(res, "system")
    prepares = res.calls_of("prepare")
    check(len(prepares) == 3 and all(p.returncode == 2 for p in prepares),
          f"prepare exits 2 and is retried 3 times: {[p.returncode for p in prepares]}", res)
    check(len(res.calls_of("cleanup")) == 3, "cleanup after every failed attempt", res)
    msg = prepares[0].stderr_text.strip()
    check(image in msg, f"prepare's message names the image: {msg!r}", res)
    check(len(msg.splitlines()) <= 3, f"short, clear message: {msg!r}", res)
    check(image in res.text, "the message reaches the job log", res)
    check(not res.stages, f"no stage ran: {res.stages}", res)
    assert_no_leftovers(job)


def test_engine_unreachable_is_one_clear_line_and_system_failure():
    d = state_dir()
    sock_path = os.path.join(d, "dead-engine.sock")
    if os.path.exists(sock_path):
        os.unlink(sock_path)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(sock_path)
    s.close()  # the file stays; nothing listens: connection refused
    cfg_file = write_admin_config(os.path.join(d, "dead-engine.conf"), os.path.join(d, "driver-dead"),
                                  docker_host=f"unix://{sock_path}")
    job = new_job(["echo never-ran"])
    res = run_job(job, runner_config(extra_env={"EXECUTOR_CONFIG": cfg_file}))
    expect_failure(res, "system")
    failing = [c for c in res.calls if c.kind in ("config", "prepare") and c.returncode != 0]
    check(failing, "config or prepare failed", res)
    check(all(c.returncode == 2 for c in failing), f"SYSTEM_FAILURE_EXIT_CODE: {[c.returncode for c in failing]}", res)
    lines = [ln for ln in failing[0].stderr_text.splitlines() if ln.strip()]
    check(len(lines) == 1, f"exactly one line on stderr: {lines}", res)
    low = lines[0].lower()
    check(sock_path in lines[0] or "engine" in low or "docker" in low, f"the line names the engine: {lines[0]!r}", res)
    check(res.prepare_attempts == 3, f"retried as a system failure: {res.prepare_attempts} attempts", res)
    check(not res.stages, f"no stage ran: {res.stages}", res)
    assert_no_leftovers(job)


def test_image_outside_allow_list_is_refused():
    job = new_job(["echo never-ran"], image="debian:12")
    res = run_job(job, runner_config())
    check(res.status != "success", f"debian:12 must be refused: {res.final_line}", res)
    check(not res.stages, f"no stage ran: {res.stages}", res)
    check("debian:12" in res.text and "executor-test/*" in res.text,
          "the message names the image and the allow-list", res)
    assert_no_leftovers(job)


def test_job_timeout_kills_the_script_and_cleanup_removes_everything():
    job = new_job([f"echo {READY}", "sleep 600"], after_script=["echo must-not-run"], timeout=8)
    t0 = time.monotonic()
    res = run_job(job, runner_config())
    check(time.monotonic() - t0 < 60, "the job ended soon after its timeout", res)
    check(res.final_line == "ERROR: Job failed: execution took longer than 8s seconds", res.final_line, res)
    check("after_script" not in res.stages, "after_script is skipped on a timeout", res)
    check(res.calls[-1].kind == "cleanup" and res.calls[-1].returncode == 0, "cleanup ran", res)
    assert_no_leftovers(job, wait=0)


def test_default_image_when_job_names_none():
    job = new_job(["readlink /bin/sh", "echo default-image-ok"], image=None)
    res = run_job(job, runner_config())
    expect_success(res)
    check("\n/bin/busybox\n" in res.text and "default-image-ok" in res.text,
          f"ran in the admin's default image {JOB_IMAGE}", res)
    assert_no_leftovers(job)
