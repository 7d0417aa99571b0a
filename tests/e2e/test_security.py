"""The security model of docs/security.md, one test per claim (issue 6 item 7).

  * a job container is not privileged, has no Docker socket and no host path but its
    builds slot: from HostConfig (docker inspect) and from inside the container (its
    capabilities, its mounts, the socket paths);
  * unless the admin allows it: `privileged = true` and `mount_docker_socket = true` do
    give them (so the checks above can fail);
  * every container of a job (job container, services) gets no-new-privileges and the
    admin's memory (MemorySwap equal to it), cpus and pids_limit: from HostConfig and from
    inside (NoNewPrivs, the cgroup's pids/memory/cpu files, v1 or v2; a setuid-root copy of
    bash run by nobody stays nobody); a job's EXECUTOR_MEMORY / EXECUTOR_CPUS /
    EXECUTOR_PIDS_LIMIT within the admin's *_max ceilings is applied, one above them (or a
    malformed one) is refused with one line before anything is created;
  * an image outside allowed_images is refused before anything is created;
  * secrets are not in argv: every /proc/*/cmdline on the host is sampled while the driver
    sets up a durable layer, deploys and promotes, and the containers' Path/Args/Cmd/
    Entrypoint/Labels are inspected;
  * secrets are not in world-readable files: the driver's state directory is walked;
  * secrets never appear in job logs: run.py searches every log of every module for every
    generated secret at the end of the run (secretscan.py); here the scanner itself is
    shown to find a planted secret.
Promote, rollback and durable cleanup need a protected ref from the trusted payload:
test_bluegreen.test_promote_from_an_unprotected_ref_is_refused_even_if_the_job_claims_protected
and test_durable.test_unconfirmed_or_unprotected_durable_cleanup_refuses_and_deletes_nothing.

Objects: jobs of runner e2etest (labels), app e2esec / env e2esec (ports 27000-27999), app and env
e2eseclim (a deployment job's container; the action finds nothing to remove).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import e2elib  # noqa: E402
import secretscan  # noqa: E402
from e2elib import git as _git  # noqa: E402
from e2elib import (BUSYBOX, REPO, Service, assert_no_leftovers, check, docker, executor_bin,  # noqa: E402
                    expect_success, new_job, port_free, roles_of, runner_config, start_job, state_dir,
                    write_admin_config)

NEEDS_DOCKER = True

APP = ENV = "e2esec"
EXAMPLE = os.path.join(REPO, "templates", "example")
DEFAULT_CAPS = 0x00000000A80425FB  # Docker's default capability set
SOCKETS = ("/var/run/docker.sock", "/run/docker.sock")


def _job_container_facts(extra_conf: dict[str, str] | None = None) -> tuple[dict, str, object]:
    """Run a job that reports from inside, inspect its container while it runs."""
    d = tempfile.mkdtemp(prefix="sec-", dir=state_dir())
    cfg = write_admin_config(os.path.join(d, "executor.conf"), os.path.join(d, "state"), **(extra_conf or {}))
    script = ["grep CapEff /proc/self/status",
              "for s in " + " ".join(SOCKETS) + "; do [ -e $s ] && echo SOCKET-PRESENT $s; done; true",
              "awk '{print \"MOUNT\", $5, $4}' /proc/self/mountinfo",
              "echo INSPECT-NOW", "sleep 4"]
    job = new_job(script)
    rj = start_job(job, runner_config(extra_env={"EXECUTOR_CONFIG": cfg}))
    check(rj.control.wait_for_log("INSPECT-NOW", 120), "the job reached INSPECT-NOW")
    names = roles_of(job.id).get("job") or []
    check(len(names) == 1, f"one job container: {roles_of(job.id)}")
    info = json.loads(docker("inspect", names[0]).stdout)[0]
    res = rj.wait(300)
    expect_success(res)
    assert_no_leftovers(job)
    shutil.rmtree(d, ignore_errors=True)
    return info, res.text, res


def _host_binds(info: dict) -> list[str]:
    return [m.get("Source", "") for m in info.get("Mounts", []) if m.get("Type") == "bind"]


def test_job_container_is_not_privileged_and_has_no_socket_and_only_its_slot():
    info, text, res = _job_container_facts()
    hc = info["HostConfig"]
    check(hc.get("Privileged") is False, f"HostConfig.Privileged: {hc.get('Privileged')}", res)
    check(not hc.get("CapAdd"), f"no added capabilities: {hc.get('CapAdd')}", res)
    binds = _host_binds(info)
    check(len(binds) == 1, f"exactly one host path: {binds}", res)
    check("/slots/" in binds[0] and "/project-4242/concurrent-" in binds[0],
          f"the one host path is the builds slot <state>/slots/<runner>/project-<id>/concurrent-<n>: {binds[0]}",
          res)
    check(not any(s in b for b in binds for s in SOCKETS), f"no Docker socket bound: {binds}", res)
    # from inside
    cap = re.search(r"CapEff:\s*([0-9a-f]+)", text)
    check(cap is not None, "CapEff printed", res)
    check(int(cap.group(1), 16) & ~DEFAULT_CAPS == 0, f"no capability beyond Docker's default: {cap.group(1)}", res)
    # (the script's own echo of its command line names the word too: match output lines)
    check(not re.search(r"^SOCKET-PRESENT ", text, re.M), "no Docker socket inside the container", res)
    mounts = re.findall(r"^MOUNT (\S+) (\S+)$", text, re.M)
    standard = ("/proc", "/dev", "/sys", "/etc/hosts", "/etc/hostname", "/etc/resolv.conf")
    extra = [(mp, root) for mp, root in mounts if mp != "/" and not mp.startswith(standard)]
    check(len(extra) == 1 and res.project_dir.startswith(extra[0][0]),
          f"inside, one mount besides the standard ones, the parent of CI_PROJECT_DIR "
          f"{res.project_dir}: {extra}", res)


def _create_bodies(sent: bytes) -> list[dict]:
    """The JSON bodies of every POST /containers/create in the bytes a client sent."""
    out = []
    for m in re.finditer(rb"POST /v[0-9.]+/containers/create[^\r]*\r\n(.*?)\r\n\r\n", sent, re.S):
        n = re.search(rb"(?i)content-length:\s*(\d+)", m.group(1))
        if n:
            body = sent[m.end():m.end() + int(n.group(1))]
            out.append(json.loads(body))
    return out


def test_admin_can_allow_the_socket():
    info, text, res = _job_container_facts({"mount_docker_socket": "true"})
    check(info["HostConfig"].get("Privileged") is False, "the socket alone does not make it privileged", res)
    check(any(s in b for b in _host_binds(info) for s in SOCKETS),
          f"mount_docker_socket = true binds the socket: {_host_binds(info)}", res)
    check(re.search(r"^SOCKET-PRESENT ", text, re.M), "and the job sees it", res)


def test_admin_can_allow_privileged():
    """privileged = true: the container is created privileged (read from the create
    request itself, through a recording proxy in front of the engine). Where the host's
    engine may run privileged containers the job runs and sees all capabilities; a
    sandboxed engine (this project's CI machine) refuses to start one, and that refusal
    must be the only way the job fails."""
    from e2elib import run_job
    from test_engine_restart import Proxy

    d = tempfile.mkdtemp(prefix="sec-priv-", dir=state_dir())
    proxy = Proxy(os.path.join(d, "engine.sock"))
    try:
        cfg = write_admin_config(os.path.join(d, "executor.conf"), os.path.join(d, "state"), privileged="true",
                                 docker_host=f"unix://{proxy.path}")
        job = new_job(["grep CapEff /proc/self/status"])
        res = run_job(job, runner_config(extra_env={"EXECUTOR_CONFIG": cfg}))
        bodies = [b for b in _create_bodies(bytes(proxy.sent)) if (b.get("Labels") or {}).get("io.executor.role") == "job"
                  or "HostConfig" in b]
        check(bodies, f"the driver created the job container through the proxy ({len(proxy.sent)} bytes seen)", res)
        check(all(b["HostConfig"].get("Privileged") is True for b in bodies),
              f"HostConfig.Privileged in the create requests: {[b['HostConfig'].get('Privileged') for b in bodies]}",
              res)
        check(all(b["HostConfig"].get("PidsLimit") == 4096 and b["HostConfig"].get("Memory") == 4 << 30
                  for b in bodies),
              f"a privileged job keeps the default limits: {[b['HostConfig'] for b in bodies]}", res)
        if res.failure is None:
            cap = re.search(r"^CapEff:\s*([0-9a-f]+)", res.text, re.M)
            check(cap and int(cap.group(1), 16) & ~DEFAULT_CAPS, f"a privileged job has more capabilities: {cap}", res)
        else:
            check("unable to apply caps: operation not permitted" in res.text,
                  "the only failure allowed is the engine refusing privileged containers", res)
        assert_no_leftovers(job)
    finally:
        proxy.close()
        shutil.rmtree(d, ignore_errors=True)


# ------------------------------------------------------------------ privileges and resources

# From inside a container: no_new_privs, the cgroup's limits (v2: one directory; v1: one
# per controller, memsw when swap accounting is on), and what a setuid-root copy of bash
# gives the user nobody (euid 0 without no_new_privs: shown to fail by hand with
# `docker run` without the option).
INSIDE = [
    "grep NoNewPrivs /proc/self/status",
    "if [ -f /sys/fs/cgroup/cgroup.controllers ]; then c=/sys/fs/cgroup; echo CG-VERSION=2;"
    " echo CG-PIDS=$(cat $c/pids.max); echo CG-MEM=$(cat $c/memory.max);"
    " echo CG-SWAP=$(cat $c/memory.swap.max 2>/dev/null || echo none); echo CG-CPU=$(cat $c/cpu.max);"
    " else c=/sys/fs/cgroup; echo CG-VERSION=1; echo CG-PIDS=$(cat $c/pids/pids.max);"
    " echo CG-MEM=$(cat $c/memory/memory.limit_in_bytes);"
    " echo CG-SWAP=$(cat $c/memory/memory.memsw.limit_in_bytes 2>/dev/null || echo none);"
    " echo CG-CPU=$(cat $c/cpu/cpu.cfs_quota_us) $(cat $c/cpu/cpu.cfs_period_us); fi",
]
SETUID = ["cp /usr/bin/bash /tmp/sbash && chmod 4755 /tmp/sbash && ls -ln /tmp/sbash",
          "su -s /bin/sh nobody -c '/tmp/sbash -p -c \"echo SETUID-RUID=\\$UID SETUID-EUID=\\$EUID\"'"]
# the same for a service, by `docker exec` (the test's own look, not the driver's)
SVC_INSIDE = "grep NoNewPrivs /proc/1/status; " + INSIDE[1]


def _cgroup(text: str) -> dict[str, str]:
    return dict(re.findall(r"^(CG-[A-Z]+)=(.*)$", text, re.M))


def _check_limits(where: str, hc: dict, inside: str, memory: int, nano_cpus: int, pids: int, res) -> None:
    """HostConfig and the container's own view agree with the limits asked for."""
    check("no-new-privileges" in (hc.get("SecurityOpt") or []), f"{where}: SecurityOpt {hc.get('SecurityOpt')}", res)
    check((hc.get("PidsLimit"), hc.get("Memory"), hc.get("MemorySwap"), hc.get("NanoCpus"))
          == (pids, memory, memory, nano_cpus),
          f"{where}: HostConfig PidsLimit/Memory/MemorySwap/NanoCpus "
          f"{(hc.get('PidsLimit'), hc.get('Memory'), hc.get('MemorySwap'), hc.get('NanoCpus'))}, "
          f"want {(pids, memory, memory, nano_cpus)}", res)
    check(re.search(r"^NoNewPrivs:\s*1$", inside, re.M), f"{where}: NoNewPrivs is 1 inside", res)
    cg = _cgroup(inside)
    check(cg.get("CG-PIDS") == str(pids), f"{where}: the cgroup's pids.max: {cg}", res)
    check(cg.get("CG-MEM") == str(memory), f"{where}: the cgroup's memory limit: {cg}", res)
    if cg.get("CG-VERSION") == "2":
        check(cg.get("CG-SWAP") in ("0", "none"), f"{where}: no swap beyond the memory limit: {cg}", res)
        quota = str(nano_cpus // 10000) if nano_cpus else "max"
        check(cg.get("CG-CPU") == f"{quota} 100000", f"{where}: cpu.max: {cg}", res)
    else:
        check(cg.get("CG-VERSION") == "1", f"{where}: a cgroup version was reported: {cg}", res)
        # memsw exists only with swap accounting on (the engine warns otherwise)
        check(cg.get("CG-SWAP") in (str(memory), "none"), f"{where}: memory+swap = memory: {cg}", res)
        quota = str(nano_cpus // 10000) if nano_cpus else "-1"
        check(cg.get("CG-CPU") == f"{quota} 100000", f"{where}: cfs quota and period: {cg}", res)


def _limits_job(conf: dict[str, str], variables: dict[str, str] | None = None):
    """A job with a service under a per-test admin file; both containers inspected and
    looked into while the job runs."""
    d = tempfile.mkdtemp(prefix="sec-lim-", dir=state_dir())
    try:
        cfg = write_admin_config(os.path.join(d, "executor.conf"), os.path.join(d, "state"), **conf)
        svc = Service(BUSYBOX, alias="web", command=["httpd", "-f", "-p", "8080", "-h", "/"])
        job = new_job(INSIDE + SETUID + ["echo INSPECT-NOW", "sleep 4"], services=[svc], variables=variables)
        rj = start_job(job, runner_config(extra_env={"EXECUTOR_CONFIG": cfg}))
        check(rj.control.wait_for_log("INSPECT-NOW", 120), "the job reached INSPECT-NOW")
        roles = roles_of(job.id)
        check(len(roles.get("job") or []) == 1 and len(roles.get("service") or []) == 1,
              f"one job container and one service: {roles}")
        job_hc = json.loads(docker("inspect", roles["job"][0]).stdout)[0]["HostConfig"]
        svc_hc = json.loads(docker("inspect", roles["service"][0]).stdout)[0]["HostConfig"]
        svc_inside = docker("exec", roles["service"][0], "sh", "-c", SVC_INSIDE).stdout
        res = rj.wait(300)
        expect_success(res)
        assert_no_leftovers(job)
        return res, job_hc, svc_hc, svc_inside
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_job_containers_get_no_new_privileges_and_the_admins_limits():
    conf = {"memory": "256m", "cpus": "0.5", "pids_limit": "300", "cap_drop": "NET_RAW"}
    res, job_hc, svc_hc, svc_inside = _limits_job(conf)
    _check_limits("job container", job_hc, res.text, 256 << 20, 500_000_000, 300, res)
    _check_limits("service", svc_hc, svc_inside, 256 << 20, 500_000_000, 300, res)
    for where, hc in (("job container", job_hc), ("service", svc_hc)):
        check(not hc.get("CapAdd") and hc.get("CapDrop") == ["NET_RAW"],
              f"{where}: no capability added, the admin's cap_drop applied: {hc.get('CapAdd')} {hc.get('CapDrop')}",
              res)
        check(hc.get("Privileged") is False, f"{where}: not privileged", res)
    # a setuid-root binary gives nobody nothing
    check(re.search(r"^-rws.* 0 +0 .*/tmp/sbash$", res.text, re.M), "the setuid-root copy of bash exists", res)
    check(re.search(r"^SETUID-RUID=65534 SETUID-EUID=65534$", res.text, re.M),
          "a setuid-root binary run by nobody stays nobody (no_new_privs)", res)
    check("This job's containers get" not in res.text, "no note when the job changed no limit", res)


def test_a_job_may_choose_its_limits_within_the_admins_ceilings():
    conf = {"memory": "256m", "memory_max": "512m", "cpus": "0.5", "cpus_max": "1", "pids_limit": "300",
            "pids_limit_max": "600"}
    # a raise of memory and CPUs within the ceilings, a lowering of processes
    res, job_hc, svc_hc, svc_inside = _limits_job(
        conf, {"EXECUTOR_MEMORY": "384m", "EXECUTOR_CPUS": "1", "EXECUTOR_PIDS_LIMIT": "200"})
    _check_limits("job container", job_hc, res.text, 384 << 20, 1_000_000_000, 200, res)
    _check_limits("service", svc_hc, svc_inside, 384 << 20, 1_000_000_000, 200, res)
    check("This job's containers get: memory 384m, CPUs 1, processes 200" in res.text,
          "the job log says what the job's containers get", res)


def test_a_limit_above_the_ceiling_is_refused_before_anything_is_created():
    d = tempfile.mkdtemp(prefix="sec-cap-", dir=state_dir())
    try:
        cfg = write_admin_config(os.path.join(d, "executor.conf"), os.path.join(d, "state"), memory="256m",
                                 memory_max="512m", cpus="0.5", pids_limit="300")
        cases = [
            ({"EXECUTOR_MEMORY": "1g"}, "EXECUTOR_MEMORY=1g is above this runner's ceiling memory_max = 512m; ask "
             "for at most 512m, or ask the runner admin to raise memory_max"),
            ({"EXECUTOR_CPUS": "2"}, "EXECUTOR_CPUS=2 is above this runner's cpus = 0.5, and its admin set no "
             "cpus_max, so a job may only lower it; ask for at most 0.5, or ask the runner admin to set cpus_max"),
            ({"EXECUTOR_PIDS_LIMIT": "301", "EXECUTOR_MEMORY": "300m"},
             "EXECUTOR_PIDS_LIMIT=301 is above this runner's pids_limit = 300, and its admin set no "
             "pids_limit_max, so a job may only lower it; ask for at most 300, or ask the runner admin to set "
             "pids_limit_max"),
            ({"EXECUTOR_MEMORY": "lots"}, "EXECUTOR_MEMORY=lots is not a memory size; use bytes or a number with "
             "k, m or g, such as 512m or 2g (at least 6m)"),
        ]
        for variables, message in cases:
            svc = Service(BUSYBOX, alias="web", command=["httpd", "-f", "-p", "8080", "-h", "/"])
            job = new_job(["echo never-ran"], services=[svc], variables=variables)
            res = e2elib.run_job(job, runner_config(extra_env={"EXECUTOR_CONFIG": cfg}))
            e2elib.expect_failure(res, "build")
            lines = [ln for ln in res.text.splitlines() if message in ln]
            check(len(lines) == 1, f"{variables}: one line {message!r}", res)
            check(not res.stages, f"{variables}: no stage ran: {res.stages}", res)
            assert_no_leftovers(job, wait=0)
            check(not docker("ps", "-a", "-q", "--filter", f"name=executor-e2etest-{job.id}").stdout.strip(),
                  f"{variables}: no container of the job exists", res)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_a_deployment_jobs_container_gets_the_same_bounds():
    """A deployment job that names an image gets a job container for its other stages
    (jobs/deployjob.c): the same no-new-privileges and limits, the job's override
    included; one above the ceiling is refused before it is created. The action itself
    (cleanup of a color of an app that has none) is not what is looked at here."""
    e2elib.remove_app_objects("e2eseclim")
    d = tempfile.mkdtemp(prefix="sec-dep-", dir=state_dir())
    try:
        cfg = write_admin_config(os.path.join(d, "executor.conf"), os.path.join(d, "state"), memory="256m",
                                 memory_max="512m", pids_limit="300")
        repo = os.path.join(d, "repo")  # a checkout for the after_script to cd into
        os.makedirs(repo)
        _git(repo, "init", "-q", "-b", "main")
        with open(os.path.join(repo, "README"), "w") as f:
            f.write("nothing to deploy\n")
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "-m", "a repository")
        sha = _git(repo, "rev-parse", "HEAD").strip()
        variables = {"EXECUTOR_APP": "e2eseclim", "EXECUTOR_ENV": "e2eseclim", "EXECUTOR_MEMORY": "320m"}
        job = new_job(["echo 'carried out by the executor driver'"], name="cleanup:green", stage="deploy",
                      variables=variables, after_script=INSIDE + ["echo INSPECT-NOW", "sleep 4"],
                      git_strategy="fetch", repo_url=repo, sha=sha,
                      refspecs=["+refs/heads/main:refs/remotes/origin/main"])
        rj = start_job(job, runner_config(extra_env={"EXECUTOR_CONFIG": cfg}))
        check(rj.control.wait_for_log("INSPECT-NOW", 120), "the job's after_script reached INSPECT-NOW")
        names = roles_of(job.id).get("job") or []
        check(len(names) == 1, f"one job container: {roles_of(job.id)}")
        hc = json.loads(docker("inspect", names[0]).stdout)[0]["HostConfig"]
        res = rj.wait(300)
        check("Deployment job: cleanup green" in res.text, "it was a deployment job", res)
        _check_limits("deployment job container", hc, res.text, 320 << 20, 0, 300, res)
        assert_no_leftovers(job)

        job = new_job(["echo never-ran"], name="cleanup:green", stage="deploy",
                      variables=dict(variables, EXECUTOR_MEMORY="1g"))
        res = e2elib.run_job(job, runner_config(extra_env={"EXECUTOR_CONFIG": cfg}))
        e2elib.expect_failure(res, "build")
        check("EXECUTOR_MEMORY=1g is above this runner's ceiling memory_max = 512m" in res.text,
              "the deployment job's override above the ceiling is refused", res)
        check(not res.stages, f"no stage ran: {res.stages}", res)
        assert_no_leftovers(job, wait=0)
        left = e2elib.app_objects("e2eseclim")
        check(not any(left.values()), f"the app has no engine objects: {left}")
    finally:
        e2elib.remove_app_objects("e2eseclim")
        shutil.rmtree(d, ignore_errors=True)


def test_image_outside_the_allow_list_is_refused_before_anything_is_created():
    job = new_job(["echo never-ran"], image="debian:12")
    res = e2elib.run_job(job, runner_config())
    e2elib.expect_failure(res, "build")
    check("image debian:12 is not allowed on this runner; allowed: executor-test/*" in res.text,
          "the refusal names the image and the allow-list", res)
    check(not res.stages, f"no stage ran: {res.stages}", res)
    assert_no_leftovers(job, wait=0)


# ------------------------------------------------------------------ secrets: argv, files


class Sampler(threading.Thread):
    """Every /proc/*/cmdline on the host, sampled every 20 ms."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.seen: dict[str, str] = {}
        self.stop = threading.Event()
        self.samples = 0

    def run(self) -> None:
        while not self.stop.is_set():
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        cl = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
                except OSError:
                    continue
                self.seen.setdefault(cl, pid)
            self.samples += 1
            time.sleep(0.02)


def _ports() -> dict[str, str]:
    names = ("EXECUTOR_DB_PORT", "EXECUTOR_LIVE_PORT", "EXECUTOR_PREVIEW_PORT", "GREEN_API_PORT",
             "GREEN_FRONTEND_HTTPS_PORT", "GREEN_FRONTEND_HTTP_PORT", "GREEN_LOCALSTACK_PORT",
             "GREEN_LOCALSTACK_ALT_PORT")
    got, port = [], 27000
    while len(got) < len(names):
        port += 1
        check(port < 28000, "no free ports in 27000-27999")
        if port_free(port):
            got.append(port)
    return {k: str(v) for k, v in zip(names, got)}


def test_secrets_not_in_argv_nor_in_world_readable_files():
    e2elib.remove_app_objects(APP)
    p = subprocess.run(["bash", os.path.join(EXAMPLE, "images", "build.sh"), "--quiet"], capture_output=True,
                       text=True, timeout=900)
    check(p.returncode == 0, f"images/build.sh: {p.stderr[-1500:]}")
    tmp = tempfile.mkdtemp(prefix="e2esec-", dir=state_dir())
    st = os.path.join(tmp, "driver")
    cfg = write_admin_config(os.path.join(tmp, "sec.conf"), st, allowed_images="executor-test/*, echobase/*")
    repo = os.path.join(tmp, "checkout")
    shutil.copytree(EXAMPLE, repo, symlinks=True)
    _git(repo, "init", "-q")
    env = dict(os.environ, EXECUTOR_CONFIG=cfg, NO_COLOR="1", EXECUTOR_APP=APP, EXECUTOR_ENV=ENV, **_ports())

    def ex(*args: str) -> subprocess.CompletedProcess:
        r = subprocess.run([executor_bin(), *args], cwd=repo, env=env, capture_output=True, text=True, timeout=400)
        check(r.returncode == 0, f"executor {' '.join(args)}: {r.stderr[-2000:]}")
        return r

    sampler = Sampler()
    sampler.start()
    try:
        ex("durable", "setup", ENV)
        ex("deploy", "green", "--env", ENV)
        ex("promote", "green", "--env", ENV)
        sampler.stop.set()
        sampler.join(10)
        envdir = os.path.join(st, "apps", APP, "envs", ENV)
        with open(os.path.join(envdir, "secrets.json")) as f:
            secrets = {k: v for k, v in json.load(f)["secrets"].items() if "PASSWORD" in k}
        check(len(secrets) >= 2, f"the env has generated passwords: {list(secrets)}")
        secretscan.harvest(tmp)
        keylines = [s for s, where in secretscan.GENERATED.items() if "private key" in where and tmp in where]
        check(keylines, "the env has TLS private keys")
        every = list(secrets.values()) + keylines
        # argv of every process on the host while the driver ran
        check(sampler.samples > 20, f"sampled /proc {sampler.samples} times")
        for cl, pid in sampler.seen.items():
            for s in every:
                check(s not in cl, f"a secret is in the argv of pid {pid}: {cl[:200]!r}")
        # what the engine keeps of the containers' commands and labels
        for name in e2elib.app_objects(APP)["containers"]:
            i = json.loads(docker("inspect", name).stdout)[0]
            shown = json.dumps([i.get("Path"), i.get("Args"), i["Config"].get("Cmd"), i["Config"].get("Entrypoint"),
                                i["Config"].get("Labels")])
            for k, s in secrets.items():
                check(s not in shown, f"{k} is in the command or labels of {name}")
        # files: nothing world-readable holds a secret; the env's directories are 0700
        walked = 0
        for d, dirs, files in os.walk(st):
            for fn in files:
                p = os.path.join(d, fn)
                mode = stat.S_IMODE(os.lstat(p).st_mode)
                walked += 1
                if mode & 0o044:
                    data = open(p, "rb").read()
                    for s in every:
                        check(s.encode() not in data, f"{p} (mode {mode:04o}) holds a secret and others may read it")
                if fn == "secrets.json" or (fn.endswith(".pem") and "key" in fn):
                    check(mode & 0o077 == 0, f"{p} is {mode:04o}, want no access for group and others")
        check(walked > 5, f"walked {walked} files of the state directory")
        for d in (envdir, os.path.dirname(envdir), os.path.join(st, "apps")):
            m = stat.S_IMODE(os.stat(d).st_mode)
            check(m & 0o077 == 0, f"{d} is {m:04o}, want 0700")
        print(f"  argv: {len(sampler.seen)} distinct command lines in {sampler.samples} samples; "
              f"files: {walked} in the state directory; {len(every)} secrets and key lines", flush=True)
    finally:
        sampler.stop.set()
        subprocess.run([executor_bin(), "cleanup", "green", "--env", ENV, "--force"], cwd=repo, env=env,
                       capture_output=True, timeout=300)
        subprocess.run([executor_bin(), "durable", "teardown", ENV, "--volumes"], cwd=repo, env=env,
                       capture_output=True, timeout=300)
        e2elib.remove_app_objects(APP)


def test_the_log_scanner_finds_a_planted_secret():
    """run.py's end-of-run search (secretscan.find) is not vacuous."""
    d = tempfile.mkdtemp(prefix="scan-", dir=state_dir())
    try:
        planted = os.path.join(d, "a.log")
        with open(planted, "w") as f:
            f.write("line\nDB_PASSWORD=Zq8e2eNotARealSecret0123456789\n")
        clean = os.path.join(d, "b.log")
        with open(clean, "w") as f:
            f.write("nothing here\n")
        hits = secretscan.find({"Zq8e2eNotARealSecret0123456789": "a planted secret"},
                               [(planted, False), (clean, True)], {"glcbt-64_planted": "a job token"})
        check(hits == ["a planted secret appears in a.log"], f"the scanner's hits: {hits}")
        check(secretscan._LOGS, "run.py's collector has recorded the logs of this run so far")
    finally:
        shutil.rmtree(d, ignore_errors=True)
