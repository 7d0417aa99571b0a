"""Readiness without the engine's health tick (issue 17 item 1), against the real engine.

Right after a container with a healthcheck starts, the driver runs the healthcheck's test
itself (CMD as is, CMD-SHELL under /bin/sh -c) every 100-250 ms; a dependent with
`depends_on: service_healthy` starts the moment it passes, and the health gate accepts that
pass; a setup run again while the engine still says "starting" checks its unchanged containers
the same way. Here both services check every 300 s: the engine's first check comes 300 s after the
start, so a setup that ends before it with the layer up can only have taken the driver's own
checks — and the engine's status is left as it was ("starting", no check in its log).
A test that never passes still fails the setup, with the engine's verdict.
"""

from __future__ import annotations

import atexit
import calendar
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import e2elib  # noqa: E402
from e2elib import check, docker, executor_bin, state_dir, write_admin_config  # noqa: E402

NEEDS_DOCKER = True

APP = "e2eready"
ENV = "e2eready"
PROJECT = f"{APP}-{ENV}-durable"

# db becomes ready a moment after its start (the file appears), app needs it healthy; the
# engine would check each only after 300 s
STACK = """services:
  db:
    image: executor-test/busybox:latest
    command: [sh, -c, "trap 'exit 0' TERM; sleep 1; touch /tmp/ready; while true; do sleep 1; done"]
    healthcheck: {test: [CMD-SHELL, "test -f /tmp/ready"], interval: 300s, timeout: 5s, retries: 3}
  app:
    image: executor-test/busybox:latest
    command: [sh, -c, "trap 'exit 0' TERM; while true; do sleep 1; done"]
    depends_on:
      db: {condition: service_healthy}
    healthcheck: {test: [CMD, "true"], interval: 300s, retries: 3}
"""

NEVER = """services:
  db:
    image: executor-test/busybox:latest
    command: [sh, -c, "trap 'exit 0' TERM; while true; do sleep 1; done"]
    healthcheck: {test: [CMD-SHELL, "echo not yet; exit 1"], interval: 1s, timeout: 2s, retries: 2}
"""

_w = None


class World:
    def __init__(self) -> None:
        self.tmp = tempfile.mkdtemp(prefix="e2eready-", dir=state_dir())
        self.state = os.path.join(self.tmp, "driver")
        self.config = write_admin_config(os.path.join(self.tmp, "ready.conf"), self.state,
                                         allowed_images="executor-test/*", pull_policy="never")
        self.repo = os.path.join(self.tmp, "repo")
        os.makedirs(os.path.join(self.repo, "durable"))

    def write(self, text: str) -> None:
        with open(os.path.join(self.repo, "durable", "docker-compose.yml"), "w") as f:
            f.write(text)

    def local(self, *args: str) -> subprocess.CompletedProcess:
        env = dict(os.environ, EXECUTOR_CONFIG=self.config, NO_COLOR="1", EXECUTOR_APP=APP)
        return subprocess.run([executor_bin(), *args], cwd=self.repo, env=env, capture_output=True,
                              text=True, errors="replace", timeout=300)


def world() -> World:
    global _w
    if _w is None:
        left = e2elib.remove_app_objects(APP)
        if left:
            print(f"  test_readiness: removed leftovers of an earlier run: {', '.join(left)}", flush=True)
        _w = World()
        atexit.register(_at_exit)
    return _w


def _at_exit() -> None:
    if _w is not None:
        if os.path.isdir(_w.repo):
            _w.local("durable", "teardown", ENV, "--volumes")
        e2elib.remove_app_objects(APP)
        shutil.rmtree(_w.tmp, ignore_errors=True)


def state_of(service: str) -> dict:
    return json.loads(docker("inspect", f"{PROJECT}-{service}-1").stdout)[0]["State"]


def test_a_dependent_starts_on_the_drivers_own_check_not_the_engines_tick():
    w = world()
    w.local("durable", "teardown", ENV, "--volumes")
    w.write(STACK)
    p = w.local("durable", "setup", ENV)
    check(p.returncode == 0, f"durable setup exited {p.returncode}: {p.stderr[-1500:]}")
    db, app = state_of("db"), state_of("app")
    check(db["Running"] and app["Running"], f"both services run: db {db['Status']}, app {app['Status']}")
    # the engine has not checked either yet: the gate and the dependency took the driver's pass
    for name, st in (("db", db), ("app", app)):
        health = st.get("Health") or {}
        check(health.get("Status") == "starting" and not health.get("Log"),
              f"{name}: the engine's status is untouched by the driver's checks: {health}")
    # app started only once db was ready: its file existed (a whole second after db's start)
    ready = int(docker("exec", f"{PROJECT}-db-1", "stat", "-c", "%Y", "/tmp/ready").stdout.strip())
    started = calendar.timegm(time.strptime(app["StartedAt"][:19], "%Y-%m-%dT%H:%M:%S"))
    check(started >= ready, f"app started at {app['StartedAt']}, db's ready file is from {ready}")
    # run again while the engine still says "starting": the unchanged containers are checked
    # by the driver too, and kept
    p = w.local("durable", "setup", ENV)
    check(p.returncode == 0, f"the second setup exited {p.returncode}: {p.stderr[-1500:]}")
    again = state_of("db")
    check(again["StartedAt"] == db["StartedAt"] and (again.get("Health") or {}).get("Status") == "starting",
          f"db kept as it was, the engine still has not checked it: {again.get('Health')}")
    w.local("durable", "teardown", ENV, "--volumes")


def test_a_check_that_never_passes_still_fails_with_the_engines_verdict():
    w = world()
    w.local("durable", "teardown", ENV, "--volumes")
    w.write(NEVER)
    p = w.local("durable", "setup", ENV)
    out = p.stdout + p.stderr
    check(p.returncode != 0, f"the setup fails: {out[-800:]}")
    check(f"{PROJECT}-db-1 did not become healthy (unhealthy)" in out,
          f"one line names the service and the engine's verdict: {out[-1500:]}")
    check("not yet" in out, f"the check's own output is shown: {out[-1500:]}")
    w.local("durable", "teardown", ENV, "--volumes")
