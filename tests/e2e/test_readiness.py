"""Readiness without the engine's health tick (issue 17 item 1), against the real engine.

Right after a container with a healthcheck starts, the driver runs the healthcheck's test
itself (CMD as is, CMD-SHELL under /bin/sh -c) every 100-250 ms; a dependent with
`depends_on: service_healthy` starts the moment it passes; the health gate then decides on the engine's own status, so that the setup's result and
`executor status` agree. Here db's engine check comes first 15 s after its start: app starting
well before it can only have taken the driver's own check.
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
# engine checks db first DB_INTERVAL s after its start, app 2 s after its own
DB_INTERVAL = 15
STACK = """services:
  db:
    image: executor-test/busybox:latest
    command: [sh, -c, "trap 'exit 0' TERM; sleep 1; touch /tmp/ready; while true; do sleep 1; done"]
    healthcheck: {test: [CMD-SHELL, "test -f /tmp/ready"], interval: 15s, timeout: 5s, retries: 3}
  app:
    image: executor-test/busybox:latest
    command: [sh, -c, "trap 'exit 0' TERM; while true; do sleep 1; done"]
    depends_on:
      db: {condition: service_healthy}
    healthcheck: {test: [CMD, "true"], interval: 2s, retries: 3}
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


def ts(text: str) -> float:
    """An engine timestamp (RFC 3339 with nanoseconds) as seconds since the epoch."""
    whole = calendar.timegm(time.strptime(text[:19], "%Y-%m-%dT%H:%M:%S"))
    frac = text[19:].lstrip(".").rstrip("Z").split("+")[0].split("-")[0]
    return whole + (float("0." + frac) if frac.isdigit() else 0.0)


def test_a_dependent_starts_on_the_drivers_own_check_not_the_engines_tick():
    w = world()
    w.local("durable", "teardown", ENV, "--volumes")
    w.write(STACK)
    p = w.local("durable", "setup", ENV)
    check(p.returncode == 0, f"durable setup exited {p.returncode}: {p.stderr[-1500:]}")
    db, app = state_of("db"), state_of("app")
    check(db["Running"] and app["Running"], f"both services run: db {db['Status']}, app {app['Status']}")
    # the gate decided on the engine's own status: both healthy by the engine when setup ends
    for name, st in (("db", db), ("app", app)):
        health = st.get("Health") or {}
        check(health.get("Status") == "healthy" and health.get("Log"),
              f"{name}: the engine calls it healthy when the setup ends: {health}")
    # app started once db was ready (its file exists from a second after db's start) and
    # before the engine's first check of db: only the driver's own check can have let it start
    ready = int(docker("exec", f"{PROJECT}-db-1", "stat", "-c", "%Y", "/tmp/ready").stdout.strip())
    started = ts(app["StartedAt"])
    first_engine_check = ts(db["Health"]["Log"][0]["Start"])
    check(int(started) >= ready, f"app started at {app['StartedAt']}, db's ready file is from {ready}")
    check(started < first_engine_check - 5,
          f"app started at {app['StartedAt']}, before the engine first checked db "
          f"({db['Health']['Log'][0]['Start']}, {DB_INTERVAL} s after db's start)")
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
