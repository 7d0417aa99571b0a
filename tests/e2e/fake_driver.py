#!/usr/bin/env python3
"""A tiny stand-in custom-executor driver, for testing the harness itself.

It runs the runner's scripts with the local bash (like GitLab's own test driver,
executors/custom/testdata/test_executor) and records every call, so
test_harness_selftest.py can check what the harness hands a driver. It is NOT the
product and proves nothing about build/executor.

    fake_driver.py config | prepare | run <script> <stage> | cleanup

Behaviour knobs (environment of the runner process, i.e. RunnerConfig.extra_env):
  FAKE_STATE              directory for builds/, cache/ and counters (required)
  FAKE_LOG                append one JSON line per call (argv, env, cwd, process facts)
  FAKE_CONFIG_STDOUT      print this on stdout for `config` instead of the JSON
  FAKE_CONFIG_EXTRA       JSON object merged into the config output
  FAKE_<CMD>_EXIT         exit with this code for config/prepare/cleanup (e.g. FAKE_PREPARE_EXIT=2)
  FAKE_<CMD>_EXIT_TIMES   ... only for the first N calls of that command
  FAKE_RUN_EXIT_<STAGE>   `run` for that stage exits with this raw code without running the script
  FAKE_EXIT_FILE_CONTENT  what `run` writes to BUILD_EXIT_CODE_FILE on failure (default: the code)
  FAKE_NO_EXIT_FILE=1     `run` never writes BUILD_EXIT_CODE_FILE
  FAKE_RUN_SELF_SIGNAL_<STAGE>=SIG  `run` for that stage kills itself with SIG
  FAKE_IGNORE_TERM=1      `run` ignores SIGTERM and keeps waiting (for kill-sequence tests)
  FAKE_SLEEP_<CMD>        sleep this many seconds first (e.g. FAKE_SLEEP_PREPARE=5)
"""

import json
import os
import signal
import subprocess
import sys
import time


def log_call(cmd, extra=None):
    path = os.environ.get("FAKE_LOG")
    if not path:
        return
    try:
        stdin_target = os.readlink("/proc/self/fd/0")
    except OSError:
        stdin_target = "?"
    rec = {
        "cmd": cmd,
        "argv": sys.argv[1:],
        "cwd": os.getcwd(),
        "pid": os.getpid(),
        "pgid": os.getpgid(0),
        "stdin": stdin_target,
        "time": time.time(),
        "env": {k: v for k, v in os.environ.items()
                if k.startswith(("CUSTOM_ENV_", "FAKE_JOB_ENV")) or k in (
                    "TMPDIR", "BUILD_FAILURE_EXIT_CODE", "SYSTEM_FAILURE_EXIT_CODE", "BUILD_EXIT_CODE_FILE",
                    "JOB_RESPONSE_FILE", "HARNESS_HOST_MARK")},
    }
    if extra:
        rec.update(extra)
    with open(path, "a") as f:
        f.write(json.dumps(rec) + "\n")


def counter(name):
    path = os.path.join(os.environ["FAKE_STATE"], f"count-{name}")
    n = int(open(path).read()) if os.path.exists(path) else 0
    n += 1
    with open(path, "w") as f:
        f.write(str(n))
    return n


def maybe_fail(cmd):
    n = counter(cmd)
    code = os.environ.get(f"FAKE_{cmd.upper()}_EXIT")
    times = os.environ.get(f"FAKE_{cmd.upper()}_EXIT_TIMES")
    if code is not None and (times is None or n <= int(times)):
        print(f"fake_driver: {cmd} failing with exit code {code} (call {n})", file=sys.stderr)
        sys.exit(int(code))


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    state = os.environ["FAKE_STATE"]
    delay = os.environ.get(f"FAKE_SLEEP_{cmd.upper()}")
    if delay:
        time.sleep(float(delay))
    if cmd == "config":
        log_call(cmd)
        maybe_fail(cmd)
        if "FAKE_CONFIG_STDOUT" in os.environ:
            sys.stdout.write(os.environ["FAKE_CONFIG_STDOUT"])
            return 0
        out = {
            "builds_dir": os.path.join(state, "builds"),
            "cache_dir": os.path.join(state, "cache"),
            "builds_dir_is_shared": True,
            "hostname": "fake-host",
            "driver": {"name": "fake", "version": "0.0.1"},
            "job_env": {"FAKE_JOB_ENV": "from-config"},
        }
        out.update(json.loads(os.environ.get("FAKE_CONFIG_EXTRA", "{}")))
        print("fake_driver: config on stderr goes to the job log", file=sys.stderr)
        json.dump(out, sys.stdout)
        return 0
    if cmd == "prepare":
        log_call(cmd)
        print("fake_driver: preparing")
        maybe_fail(cmd)
        return 0
    if cmd == "cleanup":
        log_call(cmd)
        print("fake_driver: cleaned up")
        maybe_fail(cmd)
        return 0
    if cmd != "run" or len(sys.argv) != 4:
        print(f"fake_driver: bad arguments {sys.argv[1:]}", file=sys.stderr)
        return int(os.environ.get("SYSTEM_FAILURE_EXIT_CODE", "2"))
    script, stage = sys.argv[2], sys.argv[3]
    with open(script) as f:
        text = f.read()
    log_call(cmd, {"stage": stage, "script_mode": oct(os.stat(script).st_mode & 0o777), "script_len": len(text)})
    raw = os.environ.get(f"FAKE_RUN_EXIT_{stage.upper()}")
    if raw is not None:
        print(f"fake_driver: run {stage} exiting {raw}", file=sys.stderr)
        return int(raw)
    sig = os.environ.get(f"FAKE_RUN_SELF_SIGNAL_{stage.upper()}")
    if sig:
        os.kill(os.getpid(), getattr(signal, sig))
        time.sleep(5)
    terms = []
    if os.environ.get("FAKE_IGNORE_TERM") == "1":
        signal.signal(signal.SIGTERM, lambda s, f: terms.append(s))
        child = subprocess.Popen(["bash", "-c", "trap '' TERM; exec bash \"$0\"", script],
                                 stdin=subprocess.DEVNULL)
    else:
        signal.signal(signal.SIGTERM, lambda s, f: terms.append(s))  # the group's bash gets it too
        child = subprocess.Popen(["bash", script], stdin=subprocess.DEVNULL)
    while True:
        try:
            rc = child.wait()
            break
        except InterruptedError:
            continue
    if rc == 0:
        return 0
    if rc < 0:
        rc = 128 - rc
    if os.environ.get("FAKE_NO_EXIT_FILE") != "1":
        content = os.environ.get("FAKE_EXIT_FILE_CONTENT", f"{rc}\n")
        with open(os.environ["BUILD_EXIT_CODE_FILE"], "w") as f:
            f.write(content)
    return int(os.environ.get("BUILD_FAILURE_EXIT_CODE", "1"))


if __name__ == "__main__":
    sys.exit(main())
