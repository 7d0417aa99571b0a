"""Self-tests of the gitlab-runner emulator (harness.py), with a stand-in driver.

fake_driver.py runs the runner's scripts with the local bash and records every call.
These tests check the harness's own behaviour — call protocol, environment, stage order,
exit-code mapping, Prepare retry, cancel/kill sequence, timeouts — not the product.
They need no Docker engine and no build/executor.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import harness as h  # noqa: E402
from e2elib import check  # noqa: E402

NEEDS_DOCKER = False
FAKE = os.path.join(HERE, "fake_driver.py")


class Fake:
    """A fresh state dir + call log for one job run through fake_driver.py."""

    def __init__(self, **env: str):
        self.dir = tempfile.mkdtemp(prefix="harness-selftest-")
        self.log = os.path.join(self.dir, "calls.jsonl")
        self.env = {"FAKE_STATE": self.dir, "FAKE_LOG": self.log, "HARNESS_HOST_MARK": "host-env-passes"}
        self.env.update(env)

    def cfg(self, **kw) -> h.RunnerConfig:
        base = dict(token="glrt-selftest1x", preparation_retry_interval=0.2, extra_env=self.env,
                    stage_retry_backoff=(0.1, 0.2), tmpdir=self.dir)
        base.update(kw)
        # Run the stand-in with this interpreter (no PATH lookup, no shims that re-order env).
        cfg = h.RunnerConfig.for_driver(sys.executable, **base)
        for k in ("config_args", "prepare_args", "run_args", "cleanup_args"):
            setattr(cfg, k, [FAKE] + getattr(cfg, k))
        return cfg

    def calls(self) -> list[dict]:
        if not os.path.exists(self.log):
            return []
        with open(self.log) as f:
            return [json.loads(line) for line in f]

    def run(self, job: h.Job, **kw) -> h.JobResult:
        return h.run_job(job, self.cfg(**kw))

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def job(script, **kw) -> h.Job:
    kw.setdefault("image", "executor-test/bash:latest")
    return h.Job(script, **kw)


# ---------------------------------------------------------------- protocol


def test_call_protocol_env_and_stage_order():
    f = Fake()
    try:
        j = job(["echo hello-$CI_JOB_ID", "echo err-line >&2"], after_script=["echo after=$CI_JOB_STATUS"],
                services=[h.Service("executor-test/busybox:latest", alias="web,www", command=["httpd", "-f"]),
                          h.Service("executor-test/nginx:latest", variables={"A": "x$CI_JOB_ID", "B": "<&>"})],
                variables=[h.Variable("SECRET_TOKEN", "s3cr3t-value", masked=True),
                           h.Variable("MYFILE", "file-content", file=True),
                           h.Variable("RAWV", "$CI_JOB_ID", raw=True)])
        res = f.run(j)
        check(res.status == "success", f"job should succeed: {res.final_line}", res)
        check(res.final_line == "Job succeeded", res.final_line, res)
        check(res.text.rstrip().endswith("Job succeeded"), "last log line must be 'Job succeeded'", res)
        check(res.stages == ["prepare_script", "get_sources", "build_script", "after_script",
                             "cleanup_file_variables"], f"stage order {res.stages}", res)
        check([c.kind for c in res.calls] == ["config", "prepare"] + ["run"] * 5 + ["cleanup"],
              f"call kinds {[c.kind for c in res.calls]}", res)
        check(f"hello-{j.id}" in res.text and "after=success" in res.text, "script output in log", res)
        build = res.run_calls("build_script")[0]
        check(build.stderr == b"err-line\n" and b"\nerr-line\n" not in build.stdout, "stderr kept apart", res)
        check("s3cr3t-value" not in res.log, "masked variable must not reach the job log", res)

        calls = f.calls()
        check(len(calls) == 8, f"fake driver saw {len(calls)} calls", res)
        T = calls[0]["env"]["TMPDIR"]
        check(os.path.basename(T).startswith("custom-executor") and os.path.basename(T)[15:].isdigit(),
              f"T={T} should be custom-executor<digits>", res)
        check(not os.path.exists(T), "T must be removed after the job", res)
        for c in calls:
            e = c["env"]
            check(c["cwd"] == T, f"cwd {c['cwd']} != T", res)
            check(c["pid"] == c["pgid"], "every call runs in its own process group", res)
            check(c["stdin"] == "/dev/null", f"stdin is {c['stdin']}", res)
            check(e["BUILD_FAILURE_EXIT_CODE"] == "1" and e["SYSTEM_FAILURE_EXIT_CODE"] == "2", "exit code vars", res)
            check(e["BUILD_EXIT_CODE_FILE"] == os.path.join(T, "build_exit_code"), "BUILD_EXIT_CODE_FILE", res)
            check(e["JOB_RESPONSE_FILE"] == os.path.join(T, "response.json"), "JOB_RESPONSE_FILE", res)
            check(e.get("HARNESS_HOST_MARK") == "host-env-passes", "the runner's own env passes through", res)
            check(e["CUSTOM_ENV_CI_JOB_ID"] == str(j.id), "CUSTOM_ENV_CI_JOB_ID", res)
            check(e["CUSTOM_ENV_CI_RUNNER_SHORT_TOKEN"] == "selftest1", "short token = 9 chars after glrt-", res)
            check(e["CUSTOM_ENV_MYFILE"] == "file-content", "file variables carry their content", res)
            check(e["CUSTOM_ENV_RAWV"] == "$CI_JOB_ID", "raw variables are not expanded", res)
        cfg_env = calls[0]["env"]
        check(cfg_env["CUSTOM_ENV_CI_BUILDS_DIR"] == "" and cfg_env["CUSTOM_ENV_CI_PROJECT_DIR"] == "",
              "builds/project dir unknown during config_exec", res)
        check(cfg_env["CUSTOM_ENV_RUNNER_TEMP_PROJECT_DIR"] == ".tmp", "RUNNER_TEMP_PROJECT_DIR at config", res)
        check("FAKE_JOB_ENV" not in cfg_env, "job_env only after config_exec", res)
        pe = calls[1]["env"]
        builds = os.path.join(f.dir, "builds")
        check(pe["CUSTOM_ENV_CI_BUILDS_DIR"] == builds, "CI_BUILDS_DIR from config's builds_dir", res)
        proj = f"{builds}/selftest1/0/e2e/project"
        check(pe["CUSTOM_ENV_CI_PROJECT_DIR"] == proj, f"shared layout: {pe['CUSTOM_ENV_CI_PROJECT_DIR']}", res)
        check(pe["CUSTOM_ENV_RUNNER_TEMP_PROJECT_DIR"] == proj + ".tmp", "RUNNER_TEMP_PROJECT_DIR", res)
        check(pe["FAKE_JOB_ENV"] == "from-config", "job_env reaches later calls unprefixed", res)
        check(pe["CUSTOM_ENV_CI_JOB_STATUS"] == "running", "CI_JOB_STATUS=running before after_script", res)
        want_services = ('[{"name":"executor-test/busybox:latest","alias":"web","entrypoint":null,'
                         '"command":["httpd","-f"]},{"name":"executor-test/nginx:latest","alias":"",'
                         f'"entrypoint":null,"command":null,"variables":{{"A":"x{j.id}","B":"\\u003c\\u0026\\u003e"}}}}]')
        check(pe["CUSTOM_ENV_CI_JOB_SERVICES"] == want_services,
              f"CI_JOB_SERVICES encoding:\n {pe['CUSTOM_ENV_CI_JOB_SERVICES']}\n {want_services}", res)
        keys = [k for k in res.calls[1].env if k.startswith("CUSTOM_ENV_")]
        check(keys[0] == "CUSTOM_ENV_FF_NETWORK_PER_BUILD" and keys[-1] == "CUSTOM_ENV_CI_JOB_SERVICES",
              f"variable order: first {keys[0]}, last {keys[-1]}", res)
        after = [c for c in calls if c.get("stage") == "after_script"][0]
        check(after["env"]["CUSTOM_ENV_CI_JOB_STATUS"] == "success", "CI_JOB_STATUS=success for after_script", res)
        check(calls[-1]["cmd"] == "cleanup" and calls[-1]["env"]["CUSTOM_ENV_CI_JOB_STATUS"] == "success",
              "cleanup_exec sees the final CI_JOB_STATUS", res)
        for c in calls:
            if c["cmd"] == "run":
                script, stage = c["argv"][1], c["argv"][2]
                check(c["argv"][0] == "run" and len(c["argv"]) == 3, f"run argv {c['argv']}", res)
                check(os.path.dirname(os.path.dirname(script)) == T and os.path.basename(script) == "script"
                      and os.path.basename(os.path.dirname(script)).startswith("script"),
                      f"script path {script}", res)
                check(c["script_mode"] == "0o700", f"script mode {c['script_mode']}", res)
        check(res.calls[-1].stdout == b"fake_driver: cleaned up\n", "cleanup stdout captured", res)
        check("fake_driver: cleaned up" not in res.log, "cleanup output stays out of the job log", res)
        check("fake_driver: preparing" in res.text, "prepare output in the job log", res)
        check("fake_driver: config on stderr" in res.text, "config stderr in the job log", res)
        check("Using Custom executor with driver fake 0.0.1..." in res.text, "startup line", res)
        check("Running on " in res.text and " via fake-host..." in res.text, "hostname banner", res)
    finally:
        f.close()


def test_response_file():
    f = Fake()
    snap = os.path.join(f.dir, "snap.json")
    try:
        # A wrapper driver keeps a copy of response.json (and its mode) seen by `prepare`.
        wrapper = os.path.join(f.dir, "wrap.sh")
        with open(wrapper, "w") as w:
            w.write(f'#!/bin/sh\nif [ "$1" = prepare ]; then stat -c %a "$JOB_RESPONSE_FILE" > {f.dir}/mode; '
                    f'cp "$JOB_RESPONSE_FILE" {snap}; fi\nexec {sys.executable} {FAKE} "$@"\n')
        os.chmod(wrapper, 0o755)
        cfg = f.cfg()
        cfg.config_exec = cfg.prepare_exec = cfg.run_exec = cfg.cleanup_exec = wrapper
        for k in ("config_args", "prepare_args", "run_args", "cleanup_args"):
            setattr(cfg, k, getattr(cfg, k)[1:])
        j = job(["true"])
        res = h.run_job(j, cfg)
        check(res.status == "success", res.final_line, res)
        check(not os.path.exists(f.calls()[0]["env"]["JOB_RESPONSE_FILE"]), "response.json is removed with T", res)
        check(open(os.path.join(f.dir, "mode")).read().strip() == "600", "response.json mode 0600", res)
        raw = open(snap).read()
        check(raw.endswith("}\n") and raw.count("\n") == 1, "one JSON line + newline (json.Encoder)", res)
        doc = json.loads(raw)
        check(doc["id"] == j.id and doc["token"] == j.token, "id and token", res)
        check(list(doc)[:5] == ["id", "token", "allow_git_fetch", "job_info", "git_info"], f"field order {list(doc)[:5]}", res)
        check(doc["steps"][0]["name"] == "script" and doc["image"]["name"] == "executor-test/bash:latest", "steps/image", res)
        check(doc["features"]["trace_sections"] is True, "features.trace_sections", res)
        check(any(v["key"] == "CI_JOB_TOKEN" and v["masked"] for v in doc["variables"]), "masked job token", res)
        check(doc["git_info"]["repo_url"] == j.repo_url and doc["job_info"]["project_id"] == j.project_id, "git/job info", res)
    finally:
        f.close()


def test_generated_script_is_bashwriter_shaped_and_exits_right():
    f = Fake()
    try:
        j = job(["echo one", "exit 42", "echo never"], variables={"QUOTED": "it's a \"test\"\n$HOME"})
        res = f.run(j)
        s = res.run_calls("build_script")[0].script
        check(s.startswith("#!/usr/bin/env bash\n\ntrap 'exit 1' TERM\n\n"), f"script head:\n{s[:120]}")
        check('case "$(set -o)" in *"pipefail"*) set -o pipefail;; esac; set -o errexit\nset +o noclobber\n'
              "(trap 'exit 1' TERM; eval $'" in s, "errexit/pipefail/noclobber + subshell eval")
        check(s.endswith("') < /dev/null\nexit 0\n"), f"script tail: {s[-60:]!r}")
        check(f"export CI_JOB_ID={j.id}\\n" in s, "exports job variables")
        check(f"cd {res.project_dir}\\n" in s, "cd to the project dir")
        check("echo $\\'\\\\x1b[32;1m$ echo one\\\\x1b[0;m\\'\\n" in s, "green '$ cmd' echo before each command")
        # Run the script with bash directly: the exit code is the command's.
        os.makedirs(res.project_dir, exist_ok=True)
        p = os.path.join(f.dir, "s.sh")
        with open(p, "w") as fh:
            fh.write(s)
        r = subprocess.run(["bash", p], capture_output=True, text=True, stdin=subprocess.DEVNULL)
        check(r.returncode == 42, f"bash script exit {r.returncode} (want 42)")
        check("one" in r.stdout and "never" not in r.stdout.replace("$ echo never", ""), "stops at the failure")
        # SIGTERM makes the script exit 1 (trap 'exit 1' TERM), promptly.
        s2 = h.BashWriter("/tmp/x.tmp", "bash")
        s2.line("sleep 600")
        with open(p, "w") as fh:
            fh.write(s2.finish(False))
        pr = subprocess.Popen(["bash", p], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, process_group=0)
        time.sleep(0.3)
        t0 = time.monotonic()
        os.killpg(pr.pid, signal.SIGTERM)
        rc = pr.wait(10)
        check(rc == 1 and time.monotonic() - t0 < 3, f"SIGTERM -> exit {rc}")
        # The variable survived the ANSI-C quoting.
        build = res.run_calls("build_script")[0]
        check(build.returncode == 1 and build.exit_code_file == b"42\n", "driver wrote 42", res)
    finally:
        f.close()


# ---------------------------------------------------------------- exit codes


def test_exit_code_mapping():
    cases = [
        # (fake env, script, want failure, want exit code, final-line fragment)
        ({}, ["exit 42"], "build", 42, "ERROR: Job failed: exit status 42"),
        ({"FAKE_EXIT_FILE_CONTENT": "+7\n"}, ["exit 3"], "build", 7, "ERROR: Job failed: exit status +7"),
        ({"FAKE_EXIT_FILE_CONTENT": "042\r\nrest"}, ["exit 3"], "build", 42, "exit status 042"),
        ({"FAKE_EXIT_FILE_CONTENT": "42 \n"}, ["exit 42"], "system", None,
         "unknown Custom executor executable exit code 2; executable execution terminated with: exit status 1"),
        ({"FAKE_EXIT_FILE_CONTENT": ""}, ["exit 42"], "system", None, "exit code 2"),
        ({"FAKE_EXIT_FILE_CONTENT": "99999999999999999999"}, ["exit 42"], "system", None, "exit code 2"),
        ({"FAKE_NO_EXIT_FILE": "1"}, ["exit 42"], "build", 1, "ERROR: Job failed: exit status 1"),
        ({"FAKE_RUN_EXIT_BUILD_SCRIPT": "2"}, ["true"], "system", None,
         "ERROR: Job failed (system failure): exit status 2"),
        ({"FAKE_RUN_EXIT_BUILD_SCRIPT": "3"}, ["true"], "system", None,
         "unknown Custom executor executable exit code 3; executable execution terminated with: exit status 3"),
        ({"FAKE_RUN_EXIT_BUILD_SCRIPT": "42"}, ["true"], "system", None, "exit code 42"),
        ({"FAKE_RUN_SELF_SIGNAL_BUILD_SCRIPT": "SIGKILL"}, ["true"], "system", None,
         "exit code -1; executable execution terminated with: signal: killed"),
    ]
    for env, script, failure, code, frag in cases:
        f = Fake(**env)
        try:
            res = f.run(job(script))
            check(res.failure == failure, f"{env}: failure {res.failure}, want {failure}", res)
            check(res.exit_code == code, f"{env}: exit code {res.exit_code}, want {code}", res)
            check(frag in res.final_line and res.text.rstrip().endswith(res.final_line),
                  f"{env}: final line {res.final_line!r} lacks {frag!r}", res)
            check(res.stages[-1] == "cleanup_file_variables" and res.calls[-1].kind == "cleanup",
                  f"{env}: cleanup stages still run", res)
        finally:
            f.close()


def test_go_helpers():
    for s, want in (("42", 42), ("+7", 7), ("-3", -3), ("007", 7), ("9223372036854775807", 2**63 - 1)):
        check(h.go_atoi(s) == want, f"Atoi({s!r})")
    for s in ("", "42 ", " 42", "4_2", "0x10", "9223372036854775808", "+", "1e3", "٤٢"):
        try:
            h.go_atoi(s)
            check(False, f"Atoi({s!r}) should fail")
        except ValueError:
            pass
    for secs, want in ((3600, "1h0m0s"), (2, "2s"), (90, "1m30s"), (0.2, "200ms"), (1.5, "1.5s"), (0, "0s")):
        check(h.go_duration(secs) == want, f"go_duration({secs}) = {h.go_duration(secs)}")
    for s, want in (("10m", 600), ("1h30m", 5400), ("1.5s", 1.5), ("300ms", 0.3)):
        check(abs(h.go_parse_duration(s) - want) < 1e-9, f"ParseDuration({s})")
    check(h.shell_escape("abc/def-1.2") == "abc/def-1.2", "literal needs no quoting")
    check(h.shell_escape("it's") == "$'it\\'s'", h.shell_escape("it's"))
    check(h.shell_escape("a b\n") == "$'a b\\n'", h.shell_escape("a b\n"))
    check(h.shell_escape("\x1b[0m") == "$'\\x1b[0m'", h.shell_escape("\x1b[0m"))
    check(h.shell_escape("é") == "$'\\xc3\\xa9'", h.shell_escape("é"))
    check(h.shell_escape("") == "''", "empty")
    look = {"A": "1", "B": "two"}.get
    check(h.go_expand("x$A${B}y", lambda k: look(k, "")) == "x1twoy", "expand basic")
    check(h.go_expand("cost $5", lambda k: "") == "cost ", "special var $5 expands to ''")
    check(h.go_expand("100%", lambda k: "") == "100%", "no $")
    check(h.shorten_token("glrt-t1_abcdefghijkl") == "abcdefghi", "ShortenToken strips glrt-t1_")
    check(h.shorten_token("glrt-e2etest") == "e2etest", "ShortenToken")
    check(h.go_quote('a"b\n') == '"a\\"b\\n"', "strconv.Quote")


# ---------------------------------------------------------------- prepare retry / config


def test_prepare_retried_three_times_on_system_failure():
    f = Fake(FAKE_PREPARE_EXIT="2")
    try:
        t0 = time.monotonic()
        res = f.run(job(["echo never-runs"]), preparation_retry_interval=0.4)
        dt = time.monotonic() - t0
        check(res.failure == "system", f"system failure expected: {res.final_line}", res)
        check(res.final_line == "ERROR: Job failed (system failure): exit status 2", res.final_line, res)
        kinds = [c.kind for c in res.calls]
        check(kinds == ["config", "prepare", "cleanup"] * 3, f"calls {kinds}", res)
        check(res.prepare_attempts == 3 and len(set(res.temp_dirs)) == 3, "3 attempts, fresh T each", res)
        check(res.text.count("ERROR: Preparation failed: exit status 2") == 3, "3 'Preparation failed'", res)
        check(res.text.count("Will be retried in 400ms ...") == 3, "retry interval printed", res)
        check(dt >= 1.2, f"3 waits of 0.4 s, took {dt:.2f} s", res)
        check(not res.stages, "no stage ran", res)
        check("never-runs" not in res.text.replace("$ echo never-runs", ""), "script never ran", res)
    finally:
        f.close()
    f = Fake(FAKE_PREPARE_EXIT="2", FAKE_PREPARE_EXIT_TIMES="1")
    try:
        res = f.run(job(["echo ok-now"]))
        check(res.status == "success" and res.prepare_attempts == 2, f"second attempt succeeds: {res.final_line}", res)
        check([c.kind for c in res.calls][:6] == ["config", "prepare", "cleanup", "config", "prepare", "run"],
              f"cleanup after the failed attempt: {[c.kind for c in res.calls]}", res)
    finally:
        f.close()


def test_prepare_build_failure_not_retried():
    f = Fake(FAKE_PREPARE_EXIT="1")
    try:
        res = f.run(job(["true"]))
        check(res.failure == "build" and res.exit_code == 1, f"{res.final_line}", res)
        check([c.kind for c in res.calls] == ["config", "prepare", "cleanup"], "one attempt only", res)
    finally:
        f.close()


def test_config_output_strictly_parsed():
    cases = [
        ("log line\n{}", "system", "error while parsing JSON output"),
        ('{"builds_dir": 5}', "system", "cannot unmarshal number"),
        ('{"builds_dir": "/x", "cache_dir": "/y"} {}', "system", "error while parsing JSON output"),
        ('[1]', "system", "cannot unmarshal array"),
        ('{"driver": {"name": 1}}', "system", "cannot unmarshal number"),
        ('{"builds_dir": "", "cache_dir": "/y"}', "build", "the builds_dir is not configured"),
        ('{"builds_dir": "/x"}', "build", "the cache_dir is not configured"),
        ('{"shell": "fish", "builds_dir": "/tmp/x", "cache_dir": "/tmp/y"}', "system", "shell fish not found"),
        ('{"builds_dir": NaN}', "system", "error while parsing JSON output"),
    ]
    for out, failure, frag in cases:
        f = Fake(FAKE_CONFIG_STDOUT=out)
        try:
            res = f.run(job(["true"]), preparation_retry_interval=0.05)
            check(res.failure == failure and frag in res.text, f"config {out!r}: {res.final_line}", res)
            want = 1 if failure == "build" else 3
            check(res.prepare_attempts == want, f"config {out!r}: {res.prepare_attempts} attempts, want {want}", res)
        finally:
            f.close()
    # Accepted: whitespace around one object, unknown keys, null, case-insensitive keys.
    f = Fake(FAKE_CONFIG_STDOUT='\n {"Builds_Dir": "%s/b", "cache_dir": "%s/c", "unknown": [1], "hostname": null,'
             ' "builds_dir_is_shared": false, "driver": {"name": "n"}} \n' % ("{S}", "{S}"))
    try:
        f.env["FAKE_CONFIG_STDOUT"] = f.env["FAKE_CONFIG_STDOUT"].replace("{S}", f.dir)
        res = f.run(job(["echo ok"]))
        check(res.status == "success", res.final_line, res)
        check(res.project_dir == f"{f.dir}/b/e2e/project", f"non-shared layout: {res.project_dir}", res)
        check("Using Custom executor with driver n..." in res.text, "driver name without version", res)
    finally:
        f.close()
    f = Fake(FAKE_CONFIG_STDOUT="")
    try:
        res = f.run(job(["true"]), builds_dir=os.path.join(tempfile.gettempdir(), "hs-b"),
                    cache_dir=os.path.join(tempfile.gettempdir(), "hs-c"))
        check(res.status == "success" and "Using Custom executor..." in res.text, "empty config stdout = no overrides", res)
    finally:
        f.close()


# ---------------------------------------------------------------- stages


def test_stage_names_and_order_with_extra_steps():
    f = Fake()
    try:
        res = f.run(job(["echo main"], after_script=["echo after"], extra_steps=[("release", ["echo rel-$CI_JOB_ID"])],
                        raw_stages=[("some_future_stage", ["echo future"])]))
        check(res.status == "success", res.final_line, res)
        check(res.stages == ["prepare_script", "get_sources", "build_script", "step_release", "some_future_stage",
                             "after_script", "cleanup_file_variables"], f"stages {res.stages}", res)
        check(f"rel-{res.job.id}" in res.text and "future" in res.text, "outputs", res)
        check('Executing "step_release" stage of the job script' in res.text, "step title", res)
        check(res.text.count("'build_script' stage will be replaced with 'step_script'") == 1, "warning once", res)
    finally:
        f.close()


def test_user_step_failure_still_runs_after_script():
    f = Fake()
    try:
        res = f.run(job(["exit 3"], after_script=["echo status=$CI_JOB_STATUS"],
                        extra_steps=[("release", ["echo must-not-run"])]))
        check(res.failure == "build" and res.exit_code == 3, res.final_line, res)
        check(res.stages == ["prepare_script", "get_sources", "build_script", "after_script",
                             "cleanup_file_variables"], f"later steps skipped: {res.stages}", res)
        check("status=failed" in res.text, "after_script sees CI_JOB_STATUS=failed", res)
    finally:
        f.close()


def test_prepare_script_failure_stops_everything():
    f = Fake(FAKE_RUN_EXIT_PREPARE_SCRIPT="1", FAKE_NO_EXIT_FILE="1")
    try:
        res = f.run(job(["echo x"], after_script=["echo y"]))
        check(res.stages == ["prepare_script"], f"stages {res.stages}", res)
        check(res.final_line.startswith("ERROR: Job failed: prepare environment: exit status 1. Check "
                                        "https://docs.gitlab.com/runner/shells/#shell-profile-loading"),
              res.final_line, res)
        check(res.calls[-1].kind == "cleanup", "cleanup_exec still runs", res)
    finally:
        f.close()


def test_get_sources_retry_with_clear_worktree():
    f = Fake(FAKE_RUN_EXIT_GET_SOURCES="1")
    try:
        res = f.run(job(["echo x"], after_script=["echo y"], variables={"GET_SOURCES_ATTEMPTS": "2"}))
        check(res.stages == ["prepare_script", "get_sources", "clear_worktree", "get_sources",
                             "cleanup_file_variables"], f"stages {res.stages}", res)
        check(res.failure == "build" and res.exit_code == 1, res.final_line, res)
        check(res.text.count("WARNING: Retrying...") == 1, "one retry", res)
    finally:
        f.close()


def test_git_clone_from_local_repository():
    f = Fake()
    try:
        repo = os.path.join(f.dir, "src")
        bare = os.path.join(f.dir, "repo.git")
        env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@e", GIT_COMMITTER_NAME="t",
                   GIT_COMMITTER_EMAIL="t@e")
        subprocess.run(["git", "init", "-q", "-b", "main", repo], check=True, env=env)
        with open(os.path.join(repo, "README"), "w") as fh:
            fh.write("cloned-content\n")
        subprocess.run(["git", "-C", repo, "add", "README"], check=True, env=env)
        subprocess.run(["git", "-C", repo, "commit", "-q", "-m", "c1"], check=True, env=env)
        subprocess.run(["git", "clone", "-q", "--bare", repo, bare], check=True, env=env)
        sha = subprocess.run(["git", "-C", repo, "rev-parse", "HEAD"], capture_output=True, text=True,
                             check=True).stdout.strip()
        j = job(["cat README", "git rev-parse HEAD"], repo_url=bare, git_strategy="clone", sha=sha,
                refspecs=["+refs/heads/main:refs/remotes/origin/main"])
        res = f.run(j)
        check(res.status == "success", res.final_line, res)
        check("cloned-content" in res.text and sha in res.text, "checked out the commit", res)
        check(res.project_dir.endswith("/selftest1/0/project-4242"), f"slug for a local path: {res.project_dir}", res)
    finally:
        f.close()


def test_cache_and_artifact_stages_as_the_runner_writes_them():
    """restore_cache, download_artifacts, archive_cache and upload_artifacts from the payload,
    run with the local bash: with a `gitlab-runner` on PATH (a recorder) it gets the flags of
    /work/shared/reference/gitlab-runner-helper.md §2; without one, the runner's guard lines
    and the job passes."""
    f = Fake()
    try:
        stub_dir = os.path.join(f.dir, "bin")
        os.makedirs(stub_dir)
        calls = os.path.join(f.dir, "gitlab-runner.jsonl")
        with open(os.path.join(stub_dir, "gitlab-runner"), "w") as fh:
            fh.write(f"#!{sys.executable}\nimport json, os, sys\n"
                     f"open({calls!r}, 'a').write(json.dumps([os.getcwd()] + sys.argv[1:]) + '\\n')\n")
        os.chmod(os.path.join(stub_dir, "gitlab-runner"), 0o755)
        dep = {"id": 77, "token": "glcbt-dependency", "name": "build", "artifacts_file": {"filename": "a.zip", "size": 3}}
        kw = dict(cache=[{"key": "default", "paths": ["vendor/"]}],
                  artifacts=[{"paths": ["out/"], "exclude": ["out/tmp/**"], "untracked": True, "name": "artifacts",
                              "expire_in": "7 days"}],
                  dependencies=[dep, {"id": 78, "token": "t", "name": "no-file", "artifacts_file": {"filename": ""}}],
                  dotenv="deploy.env")
        j = job(["echo built"], **kw)
        res = f.run(j, extra_env={**f.env, "PATH": stub_dir + ":" + os.environ["PATH"]},
                    url="https://gitlab.example.com/")
        check(res.status == "success", res.final_line, res)
        check(res.stages == ["prepare_script", "get_sources", "restore_cache", "download_artifacts", "build_script",
                             "archive_cache", "upload_artifacts_on_success", "cleanup_file_variables"],
              f"stages {res.stages}", res)
        with open(calls) as fh:
            got = [json.loads(line) for line in fh]
        proj = res.project_dir
        rel = os.path.relpath(os.path.join(f.dir, "cache", "e2e", "project"), proj)
        sha = "37a8eec1ce19687d132fe29051dca629d164e2c4958ba141d5f4133a33f0688f"
        want = [
            [proj, "--version"],
            [proj, "cache-extractor", "--file", f"{rel}/default/cache.zip", "--timeout", "10"],
            [proj, "--version"],
            [proj, "artifacts-downloader", "--url", "https://gitlab.example.com/", "--token", "glcbt-dependency",
             "--id", "77"],
            [proj, "--version"],
            [proj, "cache-archiver", "--file", f"{rel}/default/cache.zip", "--alternate-file",
             f"{rel}/{sha}/cache.zip", "--timeout", "10", "--path", "vendor/", "--env-file",
             proj + ".tmp/gitlab_runner_cache_env"],
            [proj, "--version"],
            [proj, "artifacts-uploader", "--url", "https://gitlab.example.com/", "--token", j.token, "--id", str(j.id),
             "--timeout", "1h0m0s", "--response-header-timeout", "10m0s", "--path", "out/", "--exclude",
             "out/tmp/**", "--untracked", "--name", "artifacts", "--expire-in", "7 days", "--artifact-format", "zip",
             "--artifact-type", "archive"],
            [proj, "--version"],
            [proj, "artifacts-uploader", "--url", "https://gitlab.example.com/", "--token", j.token, "--id", str(j.id),
             "--timeout", "1h0m0s", "--response-header-timeout", "10m0s", "--path", "deploy.env", "--name", ".env",
             "--artifact-format", "gzip", "--artifact-type", "dotenv"],
        ]
        for i, (g, w) in enumerate(zip(got, want)):
            check(g == w, f"gitlab-runner call {i}:\n  got  {g}\n  want {w}", res)
        check(len(got) == len(want), f"{len(got)} gitlab-runner calls, want {len(want)}", res)
        arch = res.run_calls("archive_cache")[0].script
        check("cat << EOF > " + proj + ".tmp/gitlab_runner_cache_env" in arch and "CACHE_METADATA=" in arch,
              "the cache env file is written by a heredoc", res)
        check(not os.path.exists(proj + ".tmp/gitlab_runner_cache_env"), "and removed after the archiver", res)

        # no gitlab-runner: each stage says so, as the runner's guard does, and the job passes
        j2 = job(["echo built"], **kw)
        res2 = f.run(j2, url="https://gitlab.example.com/")
        check(res2.status == "success", res2.final_line, res2)
        for line in ("Missing gitlab-runner. Extracting cache is disabled.",
                     "Missing gitlab-runner. Artifacts downloading is disabled.",
                     "Missing gitlab-runner. Creating cache is disabled.",
                     "Missing gitlab-runner. Uploading artifacts is disabled."):
            check(line in res2.text, f"the guard line {line!r}", res2)
        # no runner URL: no upload stage; an unknown cache policy: a system failure
        res3 = f.run(job(["true"], **kw), url="")
        check("upload_artifacts_on_success" not in res3.stages, f"no url, no upload: {res3.stages}", res3)
        res4 = f.run(job(["true"], cache=[{"key": "k", "paths": ["v/"], "policy": "sometimes"}]))
        check(res4.failure == "system" and "unknown cache policy sometimes for k" in res4.final_line,
              f"unknown policy: {res4.final_line}", res4)
    finally:
        f.close()


# ---------------------------------------------------------------- cancel, kill, timeouts


def test_graceful_cancel_runs_after_script():
    f = Fake()
    try:
        j = job(["echo READY-$((6*7))", "sleep 600"], after_script=["echo after-cancel status=$CI_JOB_STATUS"])
        running = h.start_job(j, f.cfg())
        check(running.control.wait_for_log("READY-42", 30), "job started")
        t0 = time.monotonic()
        running.control.cancel()
        res = running.wait(60)
        build = res.run_calls("build_script")[0]
        check([s for _, s in build.signals_sent] == ["SIGTERM"], f"only SIGTERM: {build.signals_sent}", res)
        check(build.ended - t0 < 5, f"build_script stopped {build.ended - t0:.1f} s after cancel", res)
        check(res.status == "canceled" and res.final_line == "ERROR: Job failed: canceled", res.final_line, res)
        check("WARNING: script canceled externally (UI, API)" in res.text, "cancel warning", res)
        check("after-cancel status=canceled" in res.text, "after_script ran with CI_JOB_STATUS=canceled", res)
        check(res.stages[-2:] == ["after_script", "cleanup_file_variables"] and res.calls[-1].kind == "cleanup",
              f"stages {res.stages}", res)
    finally:
        f.close()


def test_job_timeout_skips_later_stages_but_cleans_up():
    f = Fake()
    try:
        j = job(["sleep 600"], after_script=["echo after"], timeout=2)
        t0 = time.monotonic()
        res = f.run(j)
        check(time.monotonic() - t0 < 10, "timed out promptly", res)
        check(res.final_line == "ERROR: Job failed: execution took longer than 2s seconds", res.final_line, res)
        check(res.failure_reason == "job_execution_timeout", str(res.failure_reason), res)
        check(res.stages == ["prepare_script", "get_sources", "build_script"], f"stages {res.stages}", res)
        check(res.calls[-1].kind == "cleanup", "cleanup_exec runs after a timeout", res)
        # executeAfterScript sets CI_JOB_STATUS from the stage error before finding the
        # context done, so cleanup_exec sees "failed" although after_script never ran.
        check(res.calls[-1].env["CUSTOM_ENV_CI_JOB_STATUS"] == "failed",
              f"CI_JOB_STATUS at cleanup: {res.calls[-1].env['CUSTOM_ENV_CI_JOB_STATUS']}", res)
        check("after" not in res.text.replace("after_script", ""), "after_script skipped", res)
    finally:
        f.close()


def test_script_timeout_still_runs_after_script():
    f = Fake()
    try:
        res = f.run(job(["sleep 600"], after_script=["echo after status=$CI_JOB_STATUS"],
                        variables={"RUNNER_SCRIPT_TIMEOUT": "1s"}))
        check(res.final_line == "ERROR: Job failed: script timeout: context deadline exceeded", res.final_line, res)
        check(res.failure_reason == "job_execution_timeout" and res.status == "failed", str(res.failure_reason), res)
        check("after status=timedout" in res.text, "after_script runs with CI_JOB_STATUS=timedout", res)
        check(res.stages[-2:] == ["after_script", "cleanup_file_variables"], f"stages {res.stages}", res)
        check("WARNING: step_script could not run to completion because the timeout was exceeded" in res.text,
              "timeout warning", res)
    finally:
        f.close()


def test_abort_skips_after_script():
    f = Fake()
    try:
        running = h.start_job(job(["echo READY-$((6*7))", "sleep 600"], after_script=["echo after"]), f.cfg())
        check(running.control.wait_for_log("READY-42", 30), "job started")
        running.control.abort()
        res = running.wait(60)
        check(res.status == "canceled" and res.final_line == "ERROR: Job failed: canceled", res.final_line, res)
        check(res.stages == ["prepare_script", "get_sources", "build_script"], f"stages {res.stages}", res)
        check(res.calls[-1].kind == "cleanup", "cleanup_exec runs after an abort", res)
    finally:
        f.close()


def test_kill_sequence_sigterm_then_sigkill():
    f = Fake(FAKE_IGNORE_TERM="1")
    try:
        j = job(["echo READY-$((6*7))", "sleep 600"], after_script=["echo after"])
        running = h.start_job(j, f.cfg(graceful_kill_timeout=1))
        check(running.control.wait_for_log("READY-42", 30), "job started")
        running.control.cancel()
        res = running.wait(60)
        build = res.run_calls("build_script")[0]
        sigs = [s for _, s in build.signals_sent]
        check(sigs == ["SIGTERM", "SIGKILL"], f"signals {sigs}", res)
        gap = build.signals_sent[1][0] - build.signals_sent[0][0]
        check(0.9 <= gap < 2.5, f"SIGKILL {gap:.2f} s after SIGTERM (graceful_kill_timeout=1)", res)
        check(build.returncode == -9, f"returncode {build.returncode}", res)
        check(res.status == "canceled" and "after" in res.text, "after_script after a forced kill", res)
    finally:
        f.close()


def test_signal_current_sigkill_is_a_system_failure():
    f = Fake()
    try:
        j = job(["echo READY-$((6*7))", "sleep 600"])
        running = h.start_job(j, f.cfg())
        check(running.control.wait_for_log("READY-42", 30), "job started")
        rec = running.control.signal_current(signal.SIGKILL)
        check(rec is not None and rec.stage == "build_script", f"killed {rec}")
        res = running.wait(60)
        check(res.failure == "system" and "signal: killed" in res.final_line, res.final_line, res)
        check(res.calls[-1].kind == "cleanup", "cleanup_exec still runs", res)
    finally:
        f.close()


def test_output_streams_apart_and_intact():
    f = Fake()
    try:
        script = ["for i in $(seq 1 20000); do echo out-$i; if [ $((i % 5000)) = 0 ]; then echo err-$i >&2; fi; done"]
        res = f.run(job(script))
        build = res.run_calls("build_script")[0]
        want = "".join(f"out-{i}\n" for i in range(1, 20001))
        out = build.stdout_text
        check(want in out, "stdout complete and in order", res)
        check(build.stderr_text == "".join(f"err-{i}\n" for i in (5000, 10000, 15000, 20000)), "stderr apart", res)
    finally:
        f.close()


def test_run_py_stops_a_test_past_its_bound():
    """run.py's own machinery: a test that outlives its bound is stopped (its process
    group killed, its atexit teardown run), not abandoned; the module's later tests still
    run, in a new process; a test whose process dies fails alone."""
    import atexit

    import run

    d = tempfile.mkdtemp(prefix="e2e-runsel-")
    marker = os.path.join(d, "teardown-ran")
    pidfile = os.path.join(d, "sleeper.pid")

    def hangs() -> None:
        atexit.register(lambda: open(marker, "w").close())
        p = subprocess.Popen(["sleep", "600"])
        with open(pidfile, "w") as f:
            f.write(str(p.pid))
        p.wait()

    def passes() -> None:
        pass

    def fails() -> None:
        check(False, "the failure's own message")

    def dies() -> None:
        os._exit(3)

    got: list[tuple[str, str]] = []
    try:
        run.run_module([("m.hangs", None, hangs, 2), ("m.passes", None, passes, 30), ("m.fails", None, fails, 30),
                        ("m.dies", None, dies, 30), ("m.last", None, passes, 30)],
                       lambda full, err, dt: got.append((full, "" if err is None else str(err))))
        names = [g[0] for g in got]
        check(names == ["m.hangs", "m.passes", "m.fails", "m.dies", "m.last"], f"every test reported once: {got}")
        check("did not finish within 2 s" in got[0][1] and "stopped" in got[0][1], f"the timeout: {got[0]}")
        check(got[1][1] == "" and got[4][1] == "", f"the later tests pass: {got}")
        check("the failure's own message" in got[2][1], f"a failure keeps its message: {got[2]}")
        check("exit status 3" in got[3][1], f"a dying test says so: {got[3]}")
        check(os.path.exists(marker), "the stopped test's atexit teardown ran")
        with open(pidfile) as f:
            pid = int(f.read())
        gone = False
        for _ in range(50):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                gone = True
                break
            time.sleep(0.1)
        check(gone, f"the stopped test's child process {pid} is gone")
    finally:
        shutil.rmtree(d, ignore_errors=True)
