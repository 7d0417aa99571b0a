"""Rows for the deployment actions, on a copy of the example app (templates/example).

Ours runs as an operator would on a workstation: `executor durable setup|deploy|cleanup|
promote` in a git checkout of the app (a temp copy, committed, because the driver records
the commit), env `bench`, app name `benchapp`, ports in the 27000s. The competitor is
Debian's docker-compose (1.29) on the same files with the same variables, and the docker
CLI for the router's reload.

Objects: ours are benchapp-green-*, benchapp-blue-*, benchapp-bench-durable-*; the
competitor's durable layer (for the no-op row) is benchapp-cbench-durable-*. cleanup()
removes exactly those.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time

import floor
from benchlib import BenchError, Row, Sample, alternate, loadavg, measure_floor, run_timed, sh, strace_profile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
from world import LoadLoop  # noqa: E402  (the e2e tests' load loop, one copy)
EXAMPLE = os.environ.get("BENCH_EXAMPLE") or os.path.join(REPO, "templates", "example")  # the example app

APP = "benchapp"
ENV = "bench"  # ours
CENV = "cbench"  # the competitor's durable layer (no-op row only)
PORTS = {
    "EXECUTOR_DB_PORT": "27306", "EXECUTOR_LIVE_PORT": "27443", "EXECUTOR_PREVIEW_PORT": "27444",
    "BLUE_API_PORT": "27031", "BLUE_FRONTEND_HTTPS_PORT": "27033", "BLUE_FRONTEND_HTTP_PORT": "27030",
    "BLUE_LOCALSTACK_PORT": "27066", "BLUE_LOCALSTACK_ALT_PORT": "27071",
    "GREEN_API_PORT": "27131", "GREEN_FRONTEND_HTTPS_PORT": "27133", "GREEN_FRONTEND_HTTP_PORT": "27130",
    "GREEN_LOCALSTACK_PORT": "27166", "GREEN_LOCALSTACK_ALT_PORT": "27171",
}
CPORTS = {"EXECUTOR_DB_PORT": "27316", "EXECUTOR_LIVE_PORT": "27453", "EXECUTOR_PREVIEW_PORT": "27454"}
PROJECTS = [f"{APP}-green", f"{APP}-blue", f"{APP}-{ENV}-durable", f"{APP}-{CENV}-durable"]
APP_FILES = ["docker-compose.yml", "docker-compose.green.yml", "docker-compose.blue.yml", "durable/docker-compose.yml"]
GIT_ID = ["-c", "user.name=bench", "-c", "user.email=bench@localhost"]


def example_missing() -> str:
    missing = [f for f in APP_FILES if not os.path.isfile(os.path.join(EXAMPLE, f))]
    if missing:
        return f"templates/example is not complete yet (missing {', '.join(missing)})"
    return ""


class Stack:
    def __init__(self, ctx):
        self.ctx = ctx
        self.app = os.path.join(ctx.ws, "app")
        # docs/state-directory.md: <state_dir>/apps/<app>/envs/<env> (older drivers: envs/<env>)
        self.env_dir = os.path.join(ctx.state, "apps", APP, "envs", ENV)
        if not os.path.isdir(self.env_dir) and os.path.isdir(os.path.join(ctx.state, "envs", ENV)):
            self.env_dir = os.path.join(ctx.state, "envs", ENV)
        self.log = os.path.join(ctx.out, "stack.log")
        self.events: list[dict] = []
        self._events_proc: subprocess.Popen | None = None
        self.services: list[str] = []

    # ---- setup

    def find_env_dir(self) -> None:
        for d in (os.path.join(self.ctx.state, "apps", APP, "envs", ENV), os.path.join(self.ctx.state, "envs", ENV)):
            if os.path.isfile(os.path.join(d, "tls", "ca.pem")):
                self.env_dir = d
                return
        raise BenchError(f"no TLS material of env {ENV} under {self.ctx.state} after the durable setup")

    def prepare_app(self) -> None:
        os.makedirs(self.app)
        for f in APP_FILES:
            dst = os.path.join(self.app, f)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copy2(os.path.join(EXAMPLE, f), dst)
        sh(["git", "init", "-q"], cwd=self.app)
        sh(["git", *GIT_ID, "add", "-A"], cwd=self.app)
        sh(["git", *GIT_ID, "commit", "-qm", "bench: the example app"], cwd=self.app)
        # Debian's docker-compose 1.29 rejects the top-level `name:` of the Compose spec
        # (the project name comes from -p anyway): its copy of the durable file drops it.
        with open(os.path.join(self.app, "durable", "docker-compose.yml")) as f:
            text = "".join(line for line in f if not line.startswith("name:"))
        self.cdurable = os.path.join(self.ctx.ws, "durable-compose129.yml")
        with open(self.cdurable, "w") as f:
            f.write(text)
        out = sh(["docker-compose", "-f", "docker-compose.yml", "config", "--services"], cwd=self.app,
                 env=self.compose_env("green")).stdout.split()
        self.services = out

    def ensure_images(self) -> None:
        """The images the stack files name; templates/example/images/build.sh when one is missing."""
        import re

        names = set()
        for f in APP_FILES:
            with open(os.path.join(EXAMPLE, f)) as fh:
                names.update(re.findall(r"^\s*image:\s*[\"']?([^\s\"']+)", fh.read(), re.M))
        missing = sorted(i for i in names if sh(["docker", "image", "inspect", i], check=False).returncode != 0)
        if missing:
            self.ctx.log(f"  building the example's images ({', '.join(missing)}): templates/example/images/build.sh")
            sh([os.path.join(EXAMPLE, "images", "build.sh"), "--quiet"], timeout=1800)

    def ours_env(self, proxy: bool = False) -> dict[str, str]:
        e = {k: v for k, v in os.environ.items() if not k.startswith(("EXECUTOR_", "DOCKER_HOST"))}
        e.update(PORTS)
        e.update(EXECUTOR_CONFIG=self.ctx.proxy_conf if proxy else self.ctx.conf, EXECUTOR_APP=APP, EXECUTOR_ENV=ENV,
                 NO_COLOR="1")
        return e

    def secrets(self) -> dict[str, str]:
        with open(os.path.join(self.env_dir, "secrets.json")) as f:
            doc = json.load(f)
        if isinstance(doc, dict) and isinstance(doc.get("secrets"), dict):
            doc = doc["secrets"]
        return {k: v for k, v in doc.items() if isinstance(v, str)}

    def compose_env(self, color: str, proxy: bool = False) -> dict[str, str]:
        """The variables the driver gives the stack files, for docker-compose."""
        e = {k: v for k, v in os.environ.items() if not k.startswith(("EXECUTOR_", "DOCKER_HOST"))}
        e.update(PORTS)
        e.update(EXECUTOR_APP=APP, EXECUTOR_ENV=ENV, EXECUTOR_COLOR=color, EXECUTOR_PROJECT=f"{APP}-{color}",
                 EXECUTOR_DURABLE_NETWORK=f"{APP}-{ENV}-durable-network",
                 EXECUTOR_TLS_DIR=os.path.join(self.env_dir, "tls"))
        if os.path.exists(os.path.join(self.env_dir, "secrets.json")):
            e.update(self.secrets())
        if proxy:
            e["DOCKER_HOST"] = f"unix://{self.ctx.sock}"
        return e

    def cdurable_env(self, proxy: bool = False) -> dict[str, str]:
        e = {k: v for k, v in os.environ.items() if not k.startswith(("EXECUTOR_", "DOCKER_HOST"))}
        e.update(CPORTS)
        e.update(EXECUTOR_APP=APP, EXECUTOR_ENV=CENV, EXECUTOR_DURABLE_NETWORK=f"{APP}-{CENV}-durable-network",
                 EXECUTOR_ROUTER_DIR=os.path.join(self.ctx.ws, "cbench-router"),
                 EXECUTOR_TLS_DIR=os.path.join(self.env_dir, "tls"))
        e.update(self.secrets())
        if proxy:
            e["DOCKER_HOST"] = f"unix://{self.ctx.sock}"
        return e

    # ---- commands

    def ours(self, *args: str, proxy: bool = False, what: str | None = None) -> Sample:
        return run_timed([self.ctx.executor, *args], env=self.ours_env(proxy), cwd=self.app, log=self.log,
                         what=what or f"executor {' '.join(args)}")

    def strace(self, *args: str) -> dict | None:
        """One more run of an action of ours under strace: its sleeps and TCP connects."""
        return strace_profile([self.ctx.executor, *args], env=self.ours_env(), cwd=self.app, log=self.log)

    def compose_argv(self, color: str, *args: str) -> list[str]:
        return ["docker-compose", "-f", "docker-compose.yml", "-f", f"docker-compose.{color}.yml",
                "-p", f"{APP}-{color}", *args]

    def compose(self, color: str, *args: str, proxy: bool = False) -> Sample:
        return run_timed(self.compose_argv(color, *args), env=self.compose_env(color, proxy), cwd=self.app,
                         log=self.log, what=f"docker-compose {' '.join(args)}")

    def cdurable_argv(self) -> list[str]:
        return ["docker-compose", "-f", self.cdurable, "--project-directory", self.app,
                "-p", f"{APP}-{CENV}-durable", "up", "-d"]

    def poll_healthy_argv(self, color: str) -> list[str]:
        """The competitor's wait: poll the containers' own healthchecks every 0.2 s (the
        driver's interval) until every service of the project says (healthy)."""
        n = len(self.services)
        script = (
            f'i=0; while :; do s=$(docker ps --filter label=com.docker.compose.project={APP}-{color} '
            "--format '{{.Status}}'); "
            f'h=$(printf "%s\\n" "$s" | grep -c "(healthy)"); [ "$h" -ge {n} ] && exit 0; '
            'case "$s" in *unhealthy*) echo "unhealthy: $s" >&2; exit 1;; esac; '
            'i=$((i+1)); [ $i -lt 1500 ] || { echo "not healthy after 300 s: $s" >&2; exit 1; }; '
            "sleep 0.2; done")
        return ["sh", "-c", script]

    def wait_healthy(self, project: str, n: int, timeout: float = 240) -> None:
        end = time.monotonic() + timeout
        while True:
            s = sh(["docker", "ps", "--filter", f"label=com.docker.compose.project={project}", "--format",
                    "{{.Status}}"]).stdout.splitlines()
            if len([x for x in s if "(healthy)" in x]) >= n:
                return
            if time.monotonic() > end:
                raise BenchError(f"{project} not healthy after {timeout:.0f} s: {s}")
            time.sleep(0.5)

    # ---- engine events: when did the last container of a project start?

    def start_events(self) -> None:
        self._events_proc = subprocess.Popen(
            ["docker", "events", "--format", "{{json .}}", "--filter", "type=container", "--filter", "event=start"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)

        def reader() -> None:
            for line in self._events_proc.stdout:  # type: ignore[union-attr]
                try:
                    ev = json.loads(line)
                except ValueError:
                    continue
                self.events.append(ev)

        threading.Thread(target=reader, daemon=True).start()
        time.sleep(0.3)

    def stop_events(self) -> None:
        if self._events_proc:
            self._events_proc.terminate()
            self._events_proc.wait()
            self._events_proc = None

    def last_start(self, project: str, t0: float, t1: float) -> tuple[float, int]:
        """Seconds from t0 (wall clock) to the last `start` event of the project's containers
        in [t0, t1], and how many started."""
        time.sleep(0.1)  # let the event stream catch up
        ts = [int(ev.get("timeNano", 0)) / 1e9 for ev in list(self.events)
              if (ev.get("Actor", {}).get("Attributes", {}).get("com.docker.compose.project") == project)]
        ts = [t for t in ts if t0 - 0.01 <= t <= t1 + 0.05]
        if not ts:
            raise BenchError(f"no container start event of {project} between the action's start and end")
        return max(ts) - t0, len(ts)


# ---------------------------------------------------------------- rows


def rows(ctx, runs: int, keys: list[str], rerun) -> list[Row]:
    why = example_missing()
    if why:
        ctx.log(f"stack rows: skipped, {why}")
        return [_skipped(k, why) for k in _row_keys(keys)]
    st = Stack(ctx)
    ctx.stack = st
    try:
        st.ensure_images()
        st.prepare_app()
        ctx.log(f"stack rows: app copy {st.app} (services: {', '.join(st.services)})")
        s = st.ours("durable", "setup", ENV)
        ctx.log(f"  durable setup {ENV} (first, creates the layer): {s.wall:.1f} s")
        st.find_env_dir()
    except BenchError as e:
        ctx.log(f"stack rows: setup failed: {e}")
        return [_skipped(k, f"setup failed: {_first_line(e)}") for k in _row_keys(keys)]
    out: list[Row] = []
    if "durable" in keys:
        out += _guarded(ctx, ["durable"], lambda: rerun(ctx, lambda: durable_rows(st, runs)))
    if "deploy" in keys or "cleanup" in keys:
        want = [k for k in _row_keys(keys) if k.startswith("deploy") or k == "cleanup"]
        out += [r for r in _guarded(ctx, want, lambda: rerun(ctx, lambda: deploy_rows(st, runs))) if r.key in want]
    if "promote" in keys:
        out += _guarded(ctx, ["promote"], lambda: rerun(ctx, lambda: promote_rows(st, runs)))
    return out


def _first_line(e: Exception) -> str:
    lines = [ln for ln in str(e).splitlines() if ln.strip()]
    err = [ln for ln in lines if "ERROR" in ln]
    return (lines[0] if lines else "?") + (f" — {err[-1].strip()}" if err else "")


def _guarded(ctx, keys: list[str], fn) -> list[Row]:
    """A group of rows; when a step fails, the rows say so and the others still run."""
    try:
        return fn()
    except BenchError as e:
        ctx.log(f"  FAILED: {e}")
        return [_skipped(k, f"failed: {_first_line(e)}") for k in keys]


def _row_keys(keys: list[str]) -> list[str]:
    out = []
    for k in keys:
        out += {"deploy": ["deploy-started", "deploy-healthy"]}.get(k, [k])
    return out


def _skipped(key: str, why: str) -> Row:
    titles = {"trivial": "one trivial container job: config + prepare + run + cleanup",
              "stream": "stream 100 MiB of job output", "stream-large": "stream 1000 MiB of job output",
              "durable": "durable setup when already running (the idempotent no-op)",
              "deploy-started": "deploy a color, until every container is started",
              "deploy-healthy": "deploy a color, until healthy",
              "cleanup": "remove a color", "promote": "promote (switch live to the other color)"}
    r = Row(key, titles.get(key, key), "", "", "")
    r.skipped = why
    return r


def durable_rows(st: Stack, runs: int) -> list[Row]:
    ctx = st.ctx
    # the competitor's own durable layer, up and healthy before the row
    rdir = os.path.join(ctx.ws, "cbench-router")
    shutil.rmtree(rdir, ignore_errors=True)
    shutil.copytree(os.path.join(st.env_dir, "router"), rdir)
    run_timed(st.cdurable_argv(), env=st.cdurable_env(), cwd=st.app, log=st.log, what="docker-compose durable up")
    st.wait_healthy(f"{APP}-{CENV}-durable", 2)
    row = Row("durable", "durable setup when already running (the idempotent no-op)",
              f"`executor durable setup {ENV}`",
              f"`docker-compose -p {APP}-{CENV}-durable -f durable/docker-compose.yml up -d` (its own, running layer)",
              "≤ 0.2", 0.2)

    alternate(row, lambda: st.ours("durable", "setup", ENV),
              lambda: run_timed(st.cdurable_argv(), env=st.cdurable_env(), cwd=st.app, log=st.log,
                                what="docker-compose durable up"), runs, progress=ctx.log)
    measure_floor(row, lambda: floor.durable_noop(f"{APP}-{ENV}-durable"), runs,
                  "one GET /containers/json filtered by the project label", progress=ctx.log)
    # engine API calls
    ours = ctx.proxy.record(lambda: st.ours("durable", "setup", ENV, proxy=True))
    theirs = ctx.proxy.record(lambda: run_timed(st.cdurable_argv(), env=st.cdurable_env(proxy=True), cwd=st.app,
                                                log=st.log))
    row.extra["api"] = _api(ours, theirs)
    row.extra["timeline"] = ours.timeline()
    row.extra["api_min"] = (1, "one GET /containers/json filtered by the project label: it carries each "
                               "container's state, health (in Status), labels (the config hash) and "
                               "networks, which is all a no-op needs to conclude 'running, healthy, "
                               "unchanged' (the API version can be pinned instead of pinged)")
    return [row]


def deploy_rows(st: Stack, runs: int) -> list[Row]:
    """deploy green / cleanup green, ours and docker-compose alternating; one cycle gives a
    sample of each of the three rows."""
    ctx = st.ctx
    color, project = "green", f"{APP}-green"
    started = Row("deploy-started", f"deploy a color of the example stack ({len(st.services)} services, "
                  "network, durable attach), until every container is started",
                  f"`executor deploy {color}`: time to the last container's `start` event (engine events); "
                  "the process goes on to the health gate, see the next row",
                  f"`docker-compose -f docker-compose.yml -f docker-compose.{color}.yml -p {project} up -d`",
                  "≤ 0.5", 0.5)
    healthy = Row("deploy-healthy", "the same until healthy",
                  f"`executor deploy {color}` (whole process: containers, health gate, preview switch, "
                  "probes through the preview entry)",
                  "`up -d`, then a poll of the same healthchecks every 0.2 s "
                  "(`docker ps --filter label=… --format {{.Status}}`)", "≤ 0.5", 0.5)
    clean = Row("cleanup", "remove a color", f"`executor cleanup {color}`",
                f"`docker-compose -f docker-compose.yml -f docker-compose.{color}.yml -p {project} down`",
                "≤ 0.5", 0.5)
    st.start_events()
    try:
        def ours_cycle(record: bool) -> None:
            t0 = time.time()
            d = st.ours("deploy", color)
            since, n = st.last_start(project, t0, t0 + d.wall)
            c = st.ours("cleanup", color)
            if record:
                started.ours.append(Sample(since, d.maxrss_kb, d.cpu))
                healthy.ours.append(d)
                clean.ours.append(c)
            ctx.log(f"  ours   deploy: started {since:.2f} s ({n} starts), healthy+switched {d.wall:.2f} s; "
                    f"cleanup {c.wall:.2f} s")

        def theirs_cycle(record: bool) -> None:
            t0 = time.time()
            up = st.compose(color, "up", "-d")
            since, n = st.last_start(project, t0, t0 + up.wall)
            poll = run_timed(st.poll_healthy_argv(color), env=st.compose_env(color), log=st.log, what="health poll")
            down = st.compose(color, "down")
            if record:
                s = Sample(up.wall, up.maxrss_kb, up.cpu)
                s.parts = [("up -d", up.wall, up.maxrss_kb), ("last start event", since, 0)]
                started.theirs.append(s)
                healthy.theirs.append(Sample.seq([up, poll], ["up -d", "poll"]))
                clean.theirs.append(down)
            ctx.log(f"  theirs deploy: up -d {up.wall:.2f} s (last start at {since:.2f} s), healthy "
                    f"{up.wall + poll.wall:.2f} s; down {down.wall:.2f} s")

        for r in (started, healthy, clean):
            r.load.append(loadavg())
        ours_cycle(False)
        theirs_cycle(False)
        for i in range(runs):
            ctx.log(f"  deploy/cleanup run {i + 1}/{runs}")
            ours_cycle(True)
            theirs_cycle(True)
        for r in (started, healthy, clean):
            r.load.append(loadavg())
    finally:
        st.stop_events()
    import statistics

    started.notes.append("competitor's last container `start` event (same measure as ours), median: "
                         f"{statistics.median(s.parts[1][1] for s in started.theirs):.2f} s; its process "
                         "ends shortly after")

    _deploy_floor(st, runs, started, healthy, clean)

    # engine API calls and a timeline of one run of each of ours
    d_calls = ctx.proxy.record(lambda: st.ours("deploy", color, proxy=True))
    c_calls = ctx.proxy.record(lambda: st.ours("cleanup", color, proxy=True))
    up_calls = ctx.proxy.record(lambda: st.compose(color, "up", "-d", proxy=True))
    st.wait_healthy(project, len(st.services))
    down_calls = ctx.proxy.record(lambda: st.compose(color, "down", proxy=True))
    n = len(st.services)
    started.extra["api"] = healthy.extra["api"] = _api(d_calls, up_calls)
    started.extra["api_min"] = healthy.extra["api_min"] = (
        2 * n + 1 + 3 + 1 + 4,
        f"app network create 1; per service create + start ({2 * n}); a second network (the durable one) "
        "needs POST /networks/{id}/connect for the 3 services on both networks, API 1.41 taking one "
        "endpoint at create (3); the health gate as one GET /events stream instead of polling (1); "
        "the preview switch: nginx -t by exec (create, start, inspect: 3) and the HUP (1). No image "
        "inspect (create answers 404 when one is missing), no pre-inspect of names (create answers 409)")
    clean.extra["api"] = _api(c_calls, down_calls)
    clean.extra["api_min"] = (
        1 + 2 * n + 1 + 4,
        f"list the project's containers 1; per container a graceful stop and a remove ({2 * n}); "
        "remove the app network by its name 1; the color was the preview, so the router's preview "
        "entry is rewritten first: nginx -t by exec (3) and the HUP (1)")
    healthy.extra["strace"] = st.strace("deploy", color)
    clean.extra["strace"] = st.strace("cleanup", color)
    healthy.extra["timeline"] = d_calls.timeline()
    clean.extra["timeline"] = c_calls.timeline()
    clean.extra["timeline_theirs"] = down_calls.timeline()
    return [started, healthy, clean]


def _deploy_floor(st: Stack, runs: int, started: Row, healthy: Row, clean: Row) -> None:
    """The deploy and cleanup floors: the green containers as the driver made them (one
    untimed deploy, inspected, cleaned up), recreated and removed by bare engine calls under
    project benchapp-floor (bench/floor.py StackCopy), up then down, `runs` times after a
    warm-up. Green is not running meanwhile (the copies publish its ports)."""
    ctx = st.ctx
    router = f"{APP}-{ENV}-durable-router"
    try:
        st.ours("deploy", "green")
        copy = floor.StackCopy(f"{APP}-green", f"{APP}-floor", router)
        try:
            copy.capture()
        finally:
            st.ours("cleanup", "green")
        ups, downs = [], []
        for i in range(runs + 1):
            u = floor.timed(copy.up)
            d = floor.timed(copy.down)
            if i:
                ups.append(u)
                downs.append(d)
        n = len(copy.specs)
        started.floor, healthy.floor, clean.floor = ups, list(ups), downs
        started.floor_note = (f"network create; per container ({n}) create (first network at create), connect to "
                              "the durable network, start — the containers at once, one connection each; then the "
                              "preview switch (nginx -t by exec, HUP)")
        healthy.floor_note = (started.floor_note + ". Engine calls only: the time until the healthchecks first pass "
                              "(the services' own start-up and the engine's health interval) is not engine work and "
                              "is not in it")
        clean.floor_note = (f"the preview switch (nginx -t by exec, HUP); list by project label; per container ({n}) "
                            "stop + remove, at once; network remove")
        ctx.log(f"  deploy floor: median {statistics.median(ups):.2f} s; cleanup floor {statistics.median(downs):.2f} s")
    except Exception as e:  # noqa: BLE001 -- a floor is auxiliary: it never takes its rows down
        for r in (started, healthy, clean):
            r.floor = []
            r.floor_note = f"not measured: {(str(e).splitlines() or [type(e).__name__])[0]}"
        ctx.log(f"  deploy floor failed: {e}")
    finally:
        floor.remove_all()


def promote_rows(st: Stack, runs: int) -> list[Row]:
    """Promote back and forth between blue and green under a load loop; the competitor is a
    bare `docker kill -s HUP` of the router (the floor of any switch)."""
    ctx = st.ctx
    router = f"{APP}-{ENV}-durable-router"
    ctx.log("  promote: deploying blue and green (untimed)")
    try:
        with open(os.path.join(st.env_dir, "state.json")) as f:
            live = json.load(f).get("live")
    except (OSError, ValueError):
        live = None
    # the env may have a live color from an earlier row: never deploy over it
    first = "blue" if live != "blue" else "green"
    second = "green" if first == "blue" else "blue"
    st.ours("deploy", first)
    st.ours("promote", first)
    st.ours("deploy", second)
    state = {"live": first}

    def promote_other() -> Sample:
        target = "green" if state["live"] == "blue" else "blue"
        s = st.ours("promote", target)
        state["live"] = target
        return s

    def hup() -> Sample:
        return run_timed(["docker", "kill", "-s", "HUP", router], log=st.log, what="docker kill -s HUP")

    row = Row("promote", "promote (switch live to the other color)", "`executor promote <other color>`",
              f"`docker kill -s HUP {router}` (the bare reload: the floor)", "≤ 2.0", 2.0)
    ca = os.path.join(st.env_dir, "tls", "ca.pem")
    # the e2e tests' load loop (tests/e2e/world.py): a new TLS connection per request, verified
    # against the env's CA, only to 127.0.0.1; any exception or a status >= 500 fails
    load = LoadLoop(int(PORTS["EXECUTOR_LIVE_PORT"]), ca, max_requests=20000, max_seconds=900,
                    paths=["/", "/api/health"], pause=0.01, timeout=10, name="bench-load")
    load.start()
    windows: list[tuple[str, float, float]] = []

    def timed(side: str, fn):
        def run() -> Sample:
            t0 = time.monotonic()
            s = fn()
            windows.append((side, t0, time.monotonic()))
            return s
        return run


    try:
        time.sleep(1.0)  # the loop's baseline, before the first switch
        alternate(row, timed("ours", promote_other), timed("theirs", hup), runs, progress=ctx.log)
        time.sleep(1.0)
    finally:
        fr = load.summary()
    fr["in_ours"] = sum(1 for t in fr["failed_at"] if any(s == "ours" and a <= t <= b + 1 for s, a, b in windows))
    fr["in_theirs"] = sum(1 for t in fr["failed_at"] if any(s == "theirs" and a <= t <= b + 1 for s, a, b in windows))
    row.extra["failed_requests"] = fr
    ctx.log(f"  load loop: {fr['total']} requests, {fr['failed']} failed; colors seen {fr['colors']}")
    measure_floor(row, lambda: floor.promote(f"{APP}-{state['live']}", router), runs,
                  "list the candidate's containers by project label; nginx -t by exec (create, start, inspect); "
                  "the HUP — the switch's calls without the rewrite of the router's file and without the probes "
                  "(HTTPS, not engine calls)", progress=ctx.log)
    # engine API calls
    target = "green" if state["live"] == "blue" else "blue"
    p_calls = ctx.proxy.record(lambda: st.ours("promote", target, proxy=True))
    state["live"] = target
    h_calls = ctx.proxy.record(lambda: run_timed(["docker", "kill", "-s", "HUP", router], env=ctx.proxy_env,
                                                 log=st.log))
    row.extra["api"] = _api(p_calls, h_calls)
    row.extra["api_min"] = (5, "the candidate's containers running and healthy: one list by project label "
                               "(1); nginx -t by exec: create, start, inspect (3); the reload: POST "
                               "/containers/{id}/kill?signal=HUP (1). The probes through the preview and "
                               "live entries are HTTPS, not Engine API calls")
    row.extra["timeline"] = p_calls.timeline()
    target = "green" if state["live"] == "blue" else "blue"
    row.extra["strace"] = st.strace("promote", target)
    state["live"] = target
    return [row]


# ---------------------------------------------------------------- API calls and profiles


def _api(ours, theirs) -> dict:
    return {"ours": ours.names(), "theirs": theirs.names()}


def findings(rows: list[Row]) -> str:
    """Profiles of our actions from their runs through the counting proxy."""
    out = []
    for r in rows:
        for key, who in (("timeline", "ours"), ("timeline_theirs", "competitor")):
            tl = r.extra.get(key)
            if not tl or not tl.get("calls"):
                continue
            out.append(f"### {r.key}, {who}: one run through the counting proxy\n\n")
            out.append(f"Process {tl['wall_ms']} ms: {tl['before_first_ms']} ms before the first engine call, "
                       f"{tl['engine_busy_ms']} ms inside engine calls, {tl['after_last_ms']} ms after the last; "
                       "idle stretches over 50 ms between calls (at ms: length ms): "
                       + (", ".join(f"{a}: {b}" for a, b in tl["gaps_ms"]) or "none") + ".\n\n")
            out.append("| call | count | total ms | longest ms |\n|---|---|---|---|\n")
            for k, n, tot, mx in tl["by_kind"][:14]:
                out.append(f"| `{k}` | {n} | {tot} | {mx} |\n")
            out.append("\n<details><summary>every call (start ms, duration ms, status)</summary>\n\n```\n")
            for at, dur, status, name in tl["calls"]:
                out.append(f"{at:7d} {dur:8.1f} {status} {name}\n")
            out.append("```\n</details>\n\n")
        stc = r.extra.get("strace")
        if stc:
            ports = ", ".join(f"{n} to port {p}" for p, n in sorted(stc["tcp_connects"].items())) or "none"
            out.append(f"### {r.key}, ours: one run under strace (connects, sleeps)\n\n"
                       f"{stc['wall_ms']} ms under strace; {stc['engine_connects']} connections to the engine's socket; "
                       f"TCP connections (HTTPS probes through the router, load excluded): {ports}; "
                       f"{len(stc['sleeps'])} sleeps totalling {stc['sleep_ms']} ms"
                       + (f" (at ms: length ms: {', '.join(f'{a}: {b}' for a, b in stc['sleeps'][:12])}"
                          f"{', ...' if len(stc['sleeps']) > 12 else ''})" if stc["sleeps"] else "") + ".\n\n")
    return ("## Where the time goes\n\nEngine calls and their durations from the counting proxy; sleeps and HTTPS "
            "probes from strace. One extra run each, untimed.\n\n" + "".join(out)) if out else ""


# ---------------------------------------------------------------- cleanup


def cleanup(ctx) -> None:
    """Remove what the stack rows created, and only that: the benchapp projects' containers,
    networks and volumes: the colors by `executor cleanup <color> --force` (the live one
    too), the durable layer by `executor durable teardown bench --volumes`, the competitor's by
    `docker-compose down -v`; then whatever a failed step left, by its project label or name."""
    st: Stack | None = getattr(ctx, "stack", None)
    if st:
        st.stop_events()
        force = "--force" in sh([ctx.executor, "cleanup", "--help"], check=False).stdout
        for color in ("green", "blue"):
            try:
                run_timed([ctx.executor, "cleanup", color] + (["--force"] if force else []), env=st.ours_env(),
                          cwd=st.app, log=st.log, check=False)
            except (OSError, BenchError):
                pass
        if os.path.exists(st.cdurable):
            try:
                run_timed(st.cdurable_argv()[:-2] + ["down", "-v"], env=st.cdurable_env(), cwd=st.app,
                          log=st.log, check=False)
            except (OSError, BenchError, ValueError):
                pass
    for project in PROJECTS:
        ids = sh(["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={project}"],
                 check=False).stdout.split()
        if ids and not project.endswith(f"{ENV}-durable"):
            sh(["docker", "rm", "-f", "-v", *ids], check=False)
    if st:
        run_timed([ctx.executor, "durable", "teardown", ENV, "--volumes"], env=st.ours_env(), cwd=st.app,
                  log=st.log, check=False)
    for project in PROJECTS:  # whatever is still there (a failed teardown)
        ids = sh(["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={project}"],
                 check=False).stdout.split()
        if ids:
            sh(["docker", "rm", "-f", "-v", *ids], check=False)
    nets = [n for n in sh(["docker", "network", "ls", "--format", "{{.Name}}"], check=False).stdout.split()
            if n.startswith(f"{APP}-")]
    if nets:
        sh(["docker", "network", "rm", *nets], check=False)
    vols = [v for v in sh(["docker", "volume", "ls", "--format", "{{.Name}}"], check=False).stdout.split()
            if v.startswith(f"{APP}-")]
    if vols:
        sh(["docker", "volume", "rm", *vols], check=False)
