"""The binary's own surface: --help on every command, the man page true to the command table,
config's pure JSON, doctor's verdicts. Run against build/executor."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from e2elib import REPO, check, executor_bin, state_dir  # noqa: E402

NEEDS_DOCKER = True


def _run(*args: str, env: dict | None = None, cwd: str | None = None) -> subprocess.CompletedProcess:
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([executor_bin(), *args], capture_output=True, text=True, env=e, cwd=cwd,
                          timeout=60)


def _commands() -> list[str]:
    out = _run("help").stdout
    cmds = re.findall(r"^  (\w[\w-]*)\s{2,}", out, re.M)
    check(len(cmds) >= 10, f"executor help lists the commands: {cmds}")
    return cmds


def test_every_command_has_help_and_a_man_entry():
    man = open(os.path.join(REPO, "docs", "executor.1")).read()
    for cmd in _commands():
        r = _run(cmd, "--help")
        check(r.returncode == 0 and r.stdout.startswith("usage: executor " + cmd),
              f"`executor {cmd} --help` prints its usage: rc={r.returncode} {r.stdout[:80]!r}")
        check(re.search(r'^\.B[IR]? "?' + re.escape(cmd) + r'\b', man, re.M) is not None,
              f"docs/executor.1 documents `{cmd}`")
    r = _run("--version")
    check(r.returncode == 0 and re.match(r"executor \d+\.\d+\.\d+ \(libcurl", r.stdout),
          f"--version: {r.stdout!r}")
    r = _run("no-such-command")
    check(r.returncode == 2 and "unknown command" in r.stderr, f"unknown command: {r.stderr!r}")


def test_config_prints_pure_json():
    r = _run("config")
    check(r.returncode == 0, f"config exits 0: {r.stderr}")
    doc = json.loads(r.stdout)  # nothing else on stdout
    check(doc["builds_dir"].endswith("/builds") and doc["cache_dir"].endswith("/cache"),
          f"builds and cache dirs under the state dir: {doc}")
    check(doc["builds_dir_is_shared"] is True and doc["driver"]["name"] == "executor"
          and doc["shell"] in ("bash", "sh"), f"config fields: {doc}")


def test_config_error_is_one_line_and_a_system_failure():
    with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as f:
        f.write("state_dir = /tmp/x\nallowed_imagez = oops\n")
    try:
        r = _run("config", env={"EXECUTOR_CONFIG": f.name, "SYSTEM_FAILURE_EXIT_CODE": "2",
                                "NO_COLOR": "1"})
        check(r.returncode == 2, f"bad admin config is a system failure: {r.returncode}")
        check(r.stdout == "", "nothing on stdout when the config is broken")
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        check(len(lines) == 1 and ":2: unknown key \"allowed_imagez\"" in lines[0],
              f"one line naming file, line and key: {lines}")
    finally:
        os.unlink(f.name)


def test_doctor_reports_and_fails_on_errors():
    r = _run("doctor", "--json", env={"NO_COLOR": "1"})
    checks = json.loads(r.stdout)
    names = {c["check"]: c for c in checks}
    check(names.get("engine", {}).get("status") == "ok", f"engine check ok: {names.get('engine')}")
    check(r.returncode == 0, f"doctor exits 0 with no errors: {r.returncode} {checks}")
    for c in checks:
        if c["status"] != "ok":
            check(c.get("fix"), f"every warning or error says how to fix it: {c}")
    # an engine that does not answer is an error with the fix, and a non-zero exit
    with tempfile.TemporaryDirectory() as d:
        conf = os.path.join(d, "executor.conf")
        with open(conf, "w") as f:
            f.write(f"state_dir = {d}/state\ndocker_host = unix://{d}/nothing.sock\n")
        r = _run("doctor", env={"EXECUTOR_CONFIG": conf, "NO_COLOR": "1"})
        check(r.returncode == 1, f"doctor exits 1 on errors: {r.returncode}\n{r.stdout}")
        line = [ln for ln in r.stdout.splitlines() if ln.startswith("error") and "engine" in ln]
        check(line and "fix:" in line[0] and "nothing.sock" in line[0],
              f"the engine error names the socket and the fix: {r.stdout}")


def test_doctor_checks_job_limits_against_the_engine():
    info = json.loads(subprocess.run(["curl", "-s", "--unix-socket", "/var/run/docker.sock",
                                      "http://x/info"], capture_output=True, text=True).stdout)
    ncpu = int(info["NCPU"])
    cases = [(f"cpus = {ncpu + 1}\n", "error", f"engine has {ncpu} CPUs", 1),
             (f"cpus_max = {ncpu * 4}\n", "warning", "cpus_max", 0),
             ("memory = 1m\n", "error", "under 6 MB", 1),
             ("cpus = 0.5\nmemory = 64m\n", "ok", "fit the engine", 0)]
    for body, status, words, code in cases:
        with tempfile.TemporaryDirectory() as d:
            conf = os.path.join(d, "executor.conf")
            with open(conf, "w") as f:
                f.write(f"state_dir = {d}/state\n" + body)
            r = _run("doctor", "--json", env={"EXECUTOR_CONFIG": conf, "NO_COLOR": "1"})
            lim = [c for c in json.loads(r.stdout) if c["check"] == "limits"]
            check(len(lim) == 1 and lim[0]["status"] == status and words in lim[0]["message"],
                  f"{body!r}: the limits check is {status} naming {words!r}: {lim}")
            check(status == "ok" or lim[0].get("fix"), f"{body!r}: says how to fix it: {lim}")
            check(r.returncode == code, f"{body!r}: doctor exits {code}: {r.returncode}")
