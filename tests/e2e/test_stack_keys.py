"""Compose keys of real stacks deployed on the real engine (issue 16): each key's effect is read
back from the container (inspect, and from inside), not assumed.

A durable layer of app e2ekeys (env e2ekeys) set up with `executor durable setup` from a stack
of busybox services using capabilities, a read-only root, tmpfs, sysctls, limits, ulimits, init,
a stop signal, DNS, a secret from a CI/CD variable, a config with inline content, a network
mode shared with another service, and an internal network; then the secret is rotated and the
service is recreated with the new value; then teardown. Ports: none published.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from typing import Callable

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import e2elib  # noqa: E402
import secretscan  # noqa: E402
from e2elib import check, docker  # noqa: E402
from world import AppWorld, shared  # noqa: E402

NEEDS_DOCKER = True

APP = ENV = "e2ekeys"
PROJECT = f"{APP}-{ENV}-durable"
SECRET1 = "e2ekeys-first-" + os.urandom(8).hex()
SECRET2 = "e2ekeys-second-" + os.urandom(8).hex()

STACK = """services:
  app:
    image: executor-test/busybox:latest
    container_name: e2ekeys-app
    command: [sh, -c, "trap 'exit 0' INT; while true; do sleep 1; done"]
    cap_add: [NET_ADMIN]
    cap_drop: [MKNOD]
    read_only: true
    tmpfs: ["/scratch:size=1m"]
    sysctls: {net.ipv4.ip_forward: "1"}
    init: true
    stop_signal: SIGINT
    stop_grace_period: 5s
    ulimits: {nofile: {soft: 123, hard: 456}}
    dns: [10.9.8.7]
    mem_limit: 48m
    cpus: 0.5
    pids_limit: 30
    secrets: [db_password]
    configs: [{source: app_conf, target: /etc/app.conf, mode: 0440}]
    networks: [inner]
  sidecar:
    image: executor-test/busybox:latest
    container_name: e2ekeys-sidecar
    command: [sleep, "3600"]
    network_mode: service:app
    depends_on: [app]
networks:
  inner:
    internal: true
secrets:
  db_password:
    environment: E2EKEYS_DB_PASSWORD
configs:
  app_conf:
    content: "listen=8080"
"""

class World(AppWorld):
    app_name, env_name = APP, ENV

    def __init__(self) -> None:
        super().__init__("e2ekeys-", "keys.conf", allowed_images="executor-test/*", pull_policy="never",
                         allowed_stack_options="cap_add:NET_ADMIN")
        self.repo = os.path.join(self.tmp, "repo")
        os.makedirs(os.path.join(self.repo, "durable"))
        with open(os.path.join(self.repo, "durable", "docker-compose.yml"), "w") as f:
            f.write(STACK)
        secretscan.register(SECRET1, "the stack's secret (E2EKEYS_DB_PASSWORD)")
        secretscan.register(SECRET2, "the stack's rotated secret")

    def local(self, *args: str, secret: str = SECRET1) -> subprocess.CompletedProcess:  # type: ignore[override]
        return super().local(*args, cwd=self.repo, env={"E2EKEYS_DB_PASSWORD": secret}, errors="replace")


def _at_exit(w: World) -> None:
    if os.path.isdir(w.repo):  # the run's state may already be gone; then the objects go below
        w.local("durable", "teardown", ENV, "--volumes")
    e2elib.remove_app_objects(APP)
    shutil.rmtree(w.tmp, ignore_errors=True)


world: Callable[[], World] = shared("test_stack_keys", APP, World, _at_exit)  # type: ignore[assignment]


def inspect(name: str, fmt: str) -> str:
    return docker("inspect", "-f", fmt, name).stdout.strip()


def sh(name: str, cmd: str) -> subprocess.CompletedProcess:
    return docker("exec", name, "sh", "-c", cmd, check=False)


def test_every_key_takes_effect_in_the_container():
    w = world()
    p = w.local("durable", "setup", ENV)
    check(p.returncode == 0, f"durable setup exited {p.returncode}: {p.stderr[-2000:]}")
    check(SECRET1 not in p.stdout + p.stderr, "the secret is not in the output")
    c = "e2ekeys-app"
    for fmt, want in (("{{json .HostConfig.CapAdd}}", '["NET_ADMIN"]'),
                      ("{{json .HostConfig.CapDrop}}", '["MKNOD"]'),
                      ("{{.HostConfig.ReadonlyRootfs}}", "true"),
                      ("{{.HostConfig.Init}}", "true"),
                      ("{{.Config.StopSignal}}", "SIGINT"),
                      ("{{.HostConfig.PidsLimit}}", "30"),
                      ("{{.HostConfig.Memory}}", str(48 << 20)),
                      ("{{.HostConfig.NanoCpus}}", "500000000"),
                      ("{{json .HostConfig.Dns}}", '["10.9.8.7"]'),
                      ("{{index .HostConfig.Sysctls \"net.ipv4.ip_forward\"}}", "1")):
        got = inspect(c, fmt)
        check(got == want, f"{c} {fmt}: {got!r}, want {want!r}")
    # from inside: the root is read-only, tmpfs is writable, the limits and files are there
    r = sh(c, "touch /x 2>&1; echo rc=$?")
    check("Read-only file system" in r.stdout, f"the root is read-only: {r.stdout!r}")
    r = sh(c, "touch /scratch/x && mount | grep ' /scratch '")
    check(r.returncode == 0 and "tmpfs" in r.stdout, f"/scratch is a tmpfs: {r.stdout!r} {r.stderr!r}")
    # the main process's limits (an exec'd process gets soft = hard from this engine); on a user
    # network resolv.conf names the engine's resolver, which forwards to HostConfig.Dns (above)
    r = sh(c, "grep 'open files' /proc/1/limits; cat /proc/sys/net/ipv4/ip_forward")
    check(r.stdout.split()[3:] == ["123", "456", "files", "1"], f"ulimits, sysctl: {r.stdout!r}")
    r = sh(c, "cat /run/secrets/db_password; echo; stat -c %a /etc/app.conf; cat /etc/app.conf")
    check(r.stdout.split() == [SECRET1, "440", "listen=8080"], "the secret's and the config's content and mode")
    check(SECRET1 not in docker("inspect", c).stdout, "the secret's value is not in the container's configuration")
    # the sidecar shares app's network namespace; the internal network has no way out
    check(inspect("e2ekeys-sidecar", "{{.HostConfig.NetworkMode}}") == "container:" + inspect(c, "{{.Id}}")
          or inspect("e2ekeys-sidecar", "{{.HostConfig.NetworkMode}}") == "container:e2ekeys-app",
          f"network_mode service:app: {inspect('e2ekeys-sidecar', '{{.HostConfig.NetworkMode}}')}")
    net = docker("network", "ls", "-q", "--filter", f"label=com.docker.compose.project={PROJECT}").stdout.split()
    check(len(net) == 1 and docker("network", "inspect", "-f", "{{.Internal}}", net[0]).stdout.strip() == "true",
          "the stack's network is internal")
    # stop with the service's stop signal: the trap exits 0 at once
    started = inspect(c, "{{.State.StartedAt}}")
    docker("stop", c)
    check(inspect(c, "{{.State.ExitCode}}") == "0", "SIGINT reached the app's trap (exit 0)")
    p = w.local("durable", "setup", ENV)
    check(p.returncode == 0 and inspect(c, "{{.State.Running}}") == "true", "the layer starts it again")
    check(inspect(c, "{{.State.StartedAt}}") != started, "it was started again")


def test_a_rotated_secret_recreates_the_container_with_the_new_value():
    w = world()
    c = "e2ekeys-app"
    before = inspect(c, "{{.Id}}")
    # the durable layer keeps what runs and reports drift: a teardown and setup applies it
    p = w.local("durable", "setup", ENV, secret=SECRET2)
    check(p.returncode == 0 and "differs" in p.stderr, f"the rotation is reported as drift: {p.stderr[-1500:]}")
    check(inspect(c, "{{.Id}}") == before, "the durable layer was not recreated by itself")
    check(w.local("durable", "teardown", ENV).returncode == 0, "teardown")
    p = w.local("durable", "setup", ENV, secret=SECRET2)
    check(p.returncode == 0, f"setup with the new secret: {p.stderr[-1500:]}")
    r = sh(c, "cat /run/secrets/db_password")
    check(r.stdout.strip() == SECRET2, "the container reads the rotated secret")


def test_teardown_removes_the_stacks_files():
    w = world()
    files = os.path.join(w.state, "apps", APP, "envs", ENV, "files", PROJECT)
    check(os.path.isdir(files), f"{files} holds the stack's secrets and configs")
    mode = os.stat(os.path.join(files, "secrets")).st_mode & 0o777
    check(mode == 0o700, f"the secrets directory is 0700, not {mode:o}")
    p = w.local("durable", "teardown", ENV, "--volumes")
    check(p.returncode == 0, f"teardown: {p.stderr[-1500:]}")
    check(not os.path.exists(files), "the stack's files are gone with it")
    check(not any(e2elib.app_objects(APP).values()), f"nothing of {APP} is left: {e2elib.app_objects(APP)}")
