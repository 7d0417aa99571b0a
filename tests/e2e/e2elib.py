"""Helpers shared by the e2e tests, the demo and run.py (Python 3.11 stdlib only)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

from harness import Job, JobResult, RunnerConfig, Service, run_job, start_job  # noqa: E402,F401

# Every job the e2e tests run uses this runner token, so the driver labels everything
# it creates io.executor.runner=e2etest (docs/configuration.md).
RUNNER_TOKEN = "glrt-e2etest"
RUNNER_SHORT = "e2etest"
JOB_IMAGE = "executor-test/bash:latest"
BUSYBOX = "executor-test/busybox:latest"
NGINX = "executor-test/nginx:latest"
MARIADB = "executor-test/mariadb:latest"
# the driver's helper_image in the tests (tests/fixtures/build-images.sh helper)
HELPER = "executor-test/helper:latest"
STANDIN_SRC = os.path.join(REPO, "tests", "fixtures", "gitlab-runner-standin.c")


class SetupError(Exception):
    """The environment the tests need is missing (reported as a failure, never skipped)."""


def executor_bin() -> str:
    b = os.environ.get("EXECUTOR_BIN", "")
    if not b:
        raise SetupError("EXECUTOR_BIN is not set (make e2e sets it to build/executor)")
    if not os.access(b, os.X_OK):
        raise SetupError(f"EXECUTOR_BIN={b} is not an executable file (build it with make)")
    return b


def state_dir() -> str:
    d = os.environ.get("E2E_STATE_DIR", "")
    if not d:
        raise SetupError("E2E_STATE_DIR is not set; run the tests through tests/e2e/run.py")
    return d


def runner_config(**kw: Any) -> RunnerConfig:
    """The runner registration of docs/configuration.md, with the e2e runner token."""
    base: dict[str, Any] = dict(token=RUNNER_TOKEN, name="e2e-runner",
                                preparation_retry_interval=float(os.environ.get("E2E_PREPARE_RETRY_INTERVAL", "1")),
                                echo=os.environ.get("E2E_ECHO") == "1")
    base.update(kw)
    return RunnerConfig.for_driver(executor_bin(), **base)


def new_job(script: list[str], **kw: Any) -> Job:
    kw.setdefault("image", JOB_IMAGE)
    return Job(script, **kw)


# ------------------------------------------------------------------ helper


def standin_runner() -> str:
    """The gitlab-runner stand-in (tests/fixtures/gitlab-runner-standin.c), built static with
    gcc once per version of its source, for the driver to mount into helper containers as
    runner_binary. A static binary runs in any image."""
    import hashlib

    with open(STANDIN_SRC, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:12]
    d = os.path.join(os.environ.get("TMPDIR") or "/tmp", "executor-fixtures")
    out = os.path.join(d, f"gitlab-runner-standin-{digest}")
    if os.access(out, os.X_OK):
        return out
    os.makedirs(d, exist_ok=True)
    tmp = f"{out}.{os.getpid()}"
    p = subprocess.run(["gcc", "-static", "-O2", "-Wall", "-o", tmp, STANDIN_SRC], capture_output=True, text=True)
    if p.returncode != 0:
        raise SetupError(f"building the gitlab-runner stand-in failed (gcc -static; needs libc6-dev): "
                         f"{p.stderr.strip()[-1500:]}")
    os.replace(tmp, out)
    return out


def helper_conf() -> dict[str, str]:
    """The admin keys that give jobs a helper: the test helper image and the stand-in."""
    return {"helper_image": HELPER, "runner_binary": standin_runner()}


# ------------------------------------------------------------------ admin config file


def write_admin_config(path: str, state: str, **extra: str | None) -> str:
    """The driver's admin file (docs/configuration.md): key = value lines."""
    # The suites deploy to envs of their own from unprotected refs, as the seed's pipeline
    # does to `ci`; by default every env but `ci` is protected (docs/security.md), so they
    # name the protected envs. test_trust.py plays the default (protected_envs=None drops a key).
    keys = {"state_dir": state, "default_image": JOB_IMAGE, "allowed_images": "executor-test/*", "shell": "bash",
            "protected_envs": "production, e2eprot*"}
    keys.update(extra)
    with open(path, "w") as f:
        f.write("# written by tests/e2e for one test run\n")
        for k, v in keys.items():
            if v is not None:
                f.write(f'{k} = "{v}"\n')
    os.chmod(path, 0o600)
    return path


# ------------------------------------------------------------------ docker (test assertions only)


def docker(*args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
    p = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed: {p.stderr.strip()}")
    return p


def labelled(runner: str = RUNNER_SHORT, job_id: int | None = None) -> dict[str, list[str]]:
    """Containers, networks and volumes carrying the driver's labels for that runner (and job)."""
    filters = ["--filter", f"label=io.executor.runner={runner}"]
    if job_id is not None:
        filters += ["--filter", f"label=io.executor.job={job_id}"]
    out = {}
    out["containers"] = docker("ps", "-a", "--format", "{{.Names}}", *filters).stdout.split()
    out["networks"] = docker("network", "ls", "--format", "{{.Name}}", *filters).stdout.split()
    out["volumes"] = docker("volume", "ls", "--format", "{{.Name}}", *filters).stdout.split()
    return out


def roles_of(job_id: int, runner: str = RUNNER_SHORT) -> dict[str, list[str]]:
    """io.executor.role of each labelled object of a job: {'job': [...], 'service': [...], 'network': [...]}."""
    roles: dict[str, list[str]] = {}
    objs = labelled(runner, job_id)
    for kind, names in (("container", objs["containers"]), ("network", objs["networks"])):
        for n in names:
            cmd = ["inspect", "-f", '{{index .Config.Labels "io.executor.role"}}'] if kind == "container" else \
                ["network", "inspect", "-f", '{{index .Labels "io.executor.role"}}']
            r = docker(*cmd, n, check=False).stdout.strip()
            roles.setdefault(r, []).append(n)
    return roles


def assert_no_leftovers(job: Job | int, runner: str = RUNNER_SHORT, wait: float = 5.0) -> None:
    """Nothing with this job's labels may exist (containers, networks, volumes)."""
    job_id = job.id if isinstance(job, Job) else job
    end = time.monotonic() + wait
    while True:
        left = labelled(runner, job_id)
        if not any(left.values()):
            return
        if time.monotonic() > end:
            raise AssertionError(f"job {job_id} left Docker objects behind: {left}")
        time.sleep(0.2)


def remove_slot_networks(runner: str = RUNNER_SHORT) -> list[str]:
    """The networks of the runner's slots, kept between jobs by design: removed when nothing is
    attached (a container still attached is a leftover, and `labelled` reports it)."""
    nets = docker("network", "ls", "--format", "{{.Name}}", "--filter", f"label=io.executor.runner={runner}",
                  "--filter", "label=io.executor.role=slot-network").stdout.split()
    removed = []
    for n in nets:
        if docker("network", "rm", n, check=False).returncode == 0:
            removed.append(n)
    return removed


def remove_runner_leftovers(runner: str = RUNNER_SHORT) -> list[str]:
    """Remove what an earlier run left with io.executor.runner=<runner>; nothing else."""
    removed = []
    f = ["--filter", f"label=io.executor.runner={runner}"]
    ids = docker("ps", "-aq", *f).stdout.split()
    if ids:
        docker("rm", "-f", "-v", *ids, check=False)
        removed += [f"container {i}" for i in ids]
    nets = docker("network", "ls", "-q", *f).stdout.split()
    if nets:
        docker("network", "rm", *nets, check=False)
        removed += [f"network {n}" for n in nets]
    vols = docker("volume", "ls", "-q", *f).stdout.split()
    if vols:
        docker("volume", "rm", "-f", *vols, check=False)
        removed += [f"volume {v}" for v in vols]
    return removed


# ------------------------------------------------------------------ assertions


def _tail(res: JobResult | None, n: int = 40) -> str:
    if res is None:
        return ""
    lines = res.text.splitlines()
    calls = "\n".join(f"    {c.kind} {c.stage or ''} rc={c.returncode} err={(c.stderr_text.strip().splitlines() or [''])[-1][:200]}"
                      for c in res.calls)
    return ("\n  --- job log (last %d lines) ---\n" % min(n, len(lines)) + "\n".join("  | " + ln for ln in lines[-n:])
            + "\n  --- driver calls ---\n" + calls)


def check(cond: Any, msg: str, res: JobResult | None = None) -> None:
    if not cond:
        raise AssertionError(msg + _tail(res))


def expect_success(res: JobResult) -> None:
    check(res.status == "success", f"job {res.job.id} should succeed but {res.final_line!r}", res)


def expect_failure(res: JobResult, failure: str, exit_code: int | None = None) -> None:
    check(res.failure == failure, f"job {res.job.id} should be a {failure} failure, got status={res.status} "
          f"failure={res.failure}: {res.final_line!r}", res)
    if exit_code is not None:
        check(res.exit_code == exit_code, f"job {res.job.id}: exit code {res.exit_code}, want {exit_code}", res)


def exclusive(name: str):
    """Hold /tmp/<name>.lock for the process lifetime: runs sharing a runner token on one
    engine must not overlap (each removes the other's leftovers at start)."""
    import fcntl

    f = open(os.path.join("/tmp", name + ".lock"), "w")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print(f"waiting for another run holding /tmp/{name}.lock ...", flush=True)
        fcntl.flock(f, fcntl.LOCK_EX)
    return f


def dump_json(obj: Any) -> str:
    return json.dumps(obj, indent=2, default=str)


def port_free(port: int) -> bool:
    """Nothing listens on the port, on IPv4 or IPv6 (a bind succeeds)."""
    for fam, addr in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
        s = socket.socket(fam, socket.SOCK_STREAM)
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if fam == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s.bind((addr, port))
        except OSError as e:
            if fam == socket.AF_INET6 and e.errno in (97, 99):  # no IPv6 here
                continue
            return False
        finally:
            s.close()
    return True


def git(cwd: str, *args: str) -> str:
    """Run git in cwd as a fixed test identity; fail the test when it fails."""
    p = subprocess.run(["git", "-c", "user.name=e2e", "-c", "user.email=e2e@example.com",
                        "-c", "init.defaultBranch=main", *args], cwd=cwd, capture_output=True, text=True)
    check(p.returncode == 0, f"git {' '.join(args)} failed: {p.stderr.strip()}")
    return p.stdout.strip()


def app_objects(app: str) -> dict[str, list[str]]:
    """Containers, networks and volumes of an app: labelled io.executor.app=<app>, or named
    <app>-* (what a half-created object of ours may carry)."""
    out: dict[str, list[str]] = {}
    for kind, cmd, fmt in (("containers", ["ps", "-a"], "{{.Names}}"), ("networks", ["network", "ls"], "{{.Name}}"),
                           ("volumes", ["volume", "ls"], "{{.Name}}")):
        names = set(docker(*cmd, "--format", fmt, "--filter", f"label=io.executor.app={app}").stdout.split())
        names.update(n for n in docker(*cmd, "--format", fmt, "--filter", f"name={app}-").stdout.split()
                     if n.startswith(app + "-"))
        out[kind] = sorted(names)
    return out


def remove_app_objects(app: str) -> list[str]:
    """Remove what app_objects(app) finds (only the app's own objects); say what went."""
    removed = []
    objs = app_objects(app)
    if objs["containers"]:
        docker("rm", "-f", "-v", *objs["containers"], check=False, timeout=120)
        removed += [f"container {n}" for n in objs["containers"]]
    for n in objs["networks"]:
        # by id: a name the engine holds twice (a killed create) is ambiguous to `rm <name>`
        ids = [ln.split()[0] for ln in docker("network", "ls", "--no-trunc", "--format", "{{.ID}} {{.Name}}",
                                              "--filter", f"name={n}").stdout.splitlines()
               if ln.split()[1:] == [n]]
        for i in ids or [n]:
            docker("network", "rm", i, check=False)
        removed.append(f"network {n}")
    for n in objs["volumes"]:
        docker("volume", "rm", "-f", n, check=False)
        removed.append(f"volume {n}")
    return removed
