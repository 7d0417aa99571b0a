"""Kill injection and concurrency (issue 6 items 1 and 3) through build/executor.

Kill injection uses the driver's test hook EXECUTOR_FAULT_KILL_AFTER=N (docker/transport.c:
the process SIGKILLs itself just before its Nth Engine API request) and
EXECUTOR_FAULT_REPORT=1 (prints "executor: N engine requests" at exit); a point in three is
killed before its request is sent, the others 2 ms and 30 ms after it is sent
(EXECUTOR_FAULT_KILL_DELAY_US: while the engine still works on it, or just after it answered). For each action
of the pipeline (durable setup, deploy green, promote green, deploy blue, promote blue,
rollback green, cleanup blue) the test counts the action's requests in an un-killed run,
then kills it at seeded points N in 1..count and re-runs the same action without the
fault. After every re-run: exit 0, `executor status --json` shows the expected live color
with healthy containers (and its history parses), the live entry answers with that color,
and the rows written to the database before the run are all there. It prints
"kill injection: N points, M converged" (and per action).

E2E_FAULT_POINTS (default 21: 3 per action, one of each kind of kill, fixed seed
E2E_FAULT_SEED=6) bounds the points in `make check`; `make soak` sets E2E_FAULT_POINTS=all:
every point of every action (about 200, ~25 minutes).

Concurrency: two deploys of the same env started together (serialized by the lock, the
waiting one names the holder), a deploy and a promote together, and the durable setup of
two different envs in parallel (they overlap in time).

Everything here is app e2efault, envs e2efault and e2efaultb, ports picked free in
25000-25999; only objects labelled io.executor.app=e2efault or named e2efault-* are
ever removed.
"""

from __future__ import annotations

import atexit
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import e2elib  # noqa: E402
from e2elib import git as _git  # noqa: E402
from e2elib import REPO, check, docker, executor_bin, port_free, state_dir, write_admin_config  # noqa: E402
from world import build_example_images, example_repo, https  # noqa: E402

NEEDS_DOCKER = True

APP = "e2efault"
ENV = "e2efault"
ENV2 = "e2efaultb"
COLORS = ("green", "blue")
SERVICES = ("api-gateway", "frontend", "order-processor", "localstack")
EXAMPLE = os.path.join(REPO, "templates", "example")
PORT_BASE = 25000
PORT_VARS = ("EXECUTOR_DB_PORT", "EXECUTOR_LIVE_PORT", "EXECUTOR_PREVIEW_PORT",
             "GREEN_API_PORT", "GREEN_FRONTEND_HTTPS_PORT", "GREEN_FRONTEND_HTTP_PORT",
             "GREEN_LOCALSTACK_PORT", "GREEN_LOCALSTACK_ALT_PORT",
             "BLUE_API_PORT", "BLUE_FRONTEND_HTTPS_PORT", "BLUE_FRONTEND_HTTP_PORT",
             "BLUE_LOCALSTACK_PORT", "BLUE_LOCALSTACK_ALT_PORT")
REQS = re.compile(r"executor: (\d+) engine requests")

# (label, argv, live after, preview after)
ACTIONS = [
    ("durable setup", ["durable", "setup", ENV], None, None),
    ("deploy green", ["deploy", "green", "--env", ENV], None, "green"),
    ("promote green", ["promote", "green", "--env", ENV], "green", None),
    ("deploy blue", ["deploy", "blue", "--env", ENV], "green", "blue"),
    ("promote blue", ["promote", "blue", "--env", ENV], "blue", "green"),
    ("rollback green", ["rollback", "green", "--env", ENV], "green", "blue"),
    ("cleanup blue", ["cleanup", "blue", "--env", ENV, "--force"], "green", None),
]

_world: "World | None" = None




def app_objects() -> dict[str, list[str]]:
    return e2elib.app_objects(APP)


def remove_app_objects() -> list[str]:
    return e2elib.remove_app_objects(APP)


class World:
    def __init__(self) -> None:
        build_example_images()
        self.tmp = tempfile.mkdtemp(prefix="e2efault-", dir=state_dir())
        self.state = os.path.join(self.tmp, "driver")
        self.config = write_admin_config(os.path.join(self.tmp, "faults.conf"), self.state,
                                         allowed_images="executor-test/*, echobase/*")
        self.ports: dict[str, dict[str, str]] = {}
        taken: set[int] = set()
        port = PORT_BASE
        for env in (ENV, ENV2):
            got: list[int] = []
            while len(got) < len(PORT_VARS):
                port += 1
                check(port < PORT_BASE + 1000, "no free ports in 25000-25999")
                if port not in taken and port_free(port):
                    got.append(port)
                    taken.add(port)
            self.ports[env] = {k: str(v) for k, v in zip(PORT_VARS, got)}
        self.repo = os.path.join(self.tmp, "repo")
        self.checkout = os.path.join(self.tmp, "checkout")
        example_repo(self.repo)
        _git(self.tmp, "clone", "-q", "--branch", "main", self.repo, self.checkout)

    def env_dir(self, env: str = ENV) -> str:
        return os.path.join(self.state, "apps", APP, "envs", env)

    def environ(self, env: str = ENV, kill_after: int | None = None, delay_us: int = 0) -> dict[str, str]:
        e = {k: v for k, v in os.environ.items() if not k.startswith("EXECUTOR_FAULT_")}
        e.update(EXECUTOR_CONFIG=self.config, NO_COLOR="1", EXECUTOR_APP=APP, EXECUTOR_ENV=env,
                 EXECUTOR_FAULT_REPORT="1", **self.ports[env])
        if kill_after:
            e["EXECUTOR_FAULT_KILL_AFTER"] = str(kill_after)
        if kill_after and delay_us:
            e["EXECUTOR_FAULT_KILL_DELAY_US"] = str(delay_us)
        return e

    def local(self, *args: str, env: str = ENV, kill_after: int | None = None, delay_us: int = 0, ok: bool = True,
              timeout: float = 300) -> subprocess.CompletedProcess:
        p = subprocess.run([executor_bin(), *args], cwd=self.checkout, env=self.environ(env, kill_after, delay_us),
                           capture_output=True, text=True, timeout=timeout)
        if ok:
            check(p.returncode == 0, f"executor {' '.join(args)} exited {p.returncode}: {p.stderr.strip()[-3000:]}")
        return p

    def popen(self, *args: str, env: str = ENV) -> subprocess.Popen:
        return subprocess.Popen([executor_bin(), *args], cwd=self.checkout, env=self.environ(env),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def status(self, env: str = ENV) -> dict:
        p = self.local("status", "--json", env=env)
        for e in json.loads(p.stdout):
            if e.get("app") == APP and e.get("env") == env:
                return e
        raise AssertionError(f"executor status --json has no entry for {APP}/{env}: {p.stdout[-2000:]}")

    def state_json(self, env: str = ENV) -> dict:
        with open(os.path.join(self.env_dir(env), "state.json")) as f:
            return json.load(f)

    def secrets(self, env: str = ENV) -> dict:
        with open(os.path.join(self.env_dir(env), "secrets.json")) as f:
            return json.load(f)["secrets"]

    def sql(self, query: str, env: str = ENV) -> str:
        s = self.secrets(env)
        p = docker("exec", "-e", f"MYSQL_PWD={s['DB_PASSWORD']}", f"{APP}-{env}-durable-mariadb", "mariadb",
                   "-h127.0.0.1", f"-u{s['DB_USER']}", s["DB_NAME"], "-N", "-B", "-e", query, check=False)
        check(p.returncode == 0, f"mariadb {query!r} failed: {p.stderr.strip()}")
        return p.stdout

    def live_reply(self, env: str = ENV):
        import ssl
        ctx = ssl.create_default_context(cafile=os.path.join(self.env_dir(env), "tls", "ca.pem"))
        return https(int(self.ports[env]["EXECUTOR_LIVE_PORT"]), ctx, path="/api/health")

    def teardown(self) -> None:
        for env in (ENV, ENV2):
            if os.path.exists(self.env_dir(env)):
                for color in COLORS:
                    self.local("cleanup", color, "--env", env, "--force", env=env, ok=False)
                self.local("durable", "teardown", env, "--volumes", env=env, ok=False)
        remove_app_objects()


def world() -> World:
    global _world
    if _world is None:
        left = remove_app_objects()
        if left:
            print(f"  test_faults: removed leftovers of an earlier run: {', '.join(left)}", flush=True)
        _world = World()
        atexit.register(_at_exit)
    return _world


def _at_exit() -> None:
    if _world is not None and any(app_objects().values()):
        _world.teardown()


def requests_of(p: subprocess.CompletedProcess) -> int:
    m = REQS.findall(p.stderr)
    return int(m[-1]) if m else 0


# ------------------------------------------------------------------ kill injection

# undo of each action: post-state back to its pre-state (None: the first point starts there)
RESTORE = {
    "durable setup": [["durable", "teardown", ENV]],
    "deploy green": [["cleanup", "green", "--env", ENV, "--force"]],
    "promote green": [["cleanup", "green", "--env", ENV, "--force"], ["deploy", "green", "--env", ENV]],
    "deploy blue": [["cleanup", "blue", "--env", ENV, "--force"]],
    "promote blue": [["rollback", "green", "--env", ENV]],
    "rollback green": [["promote", "blue", "--env", ENV]],
    "cleanup blue": [["deploy", "blue", "--env", ENV]],
}
HISTORY_ACTION = {"durable setup": ("durable-setup", None), "deploy green": ("deploy", "green"),
                  "promote green": ("promote", "green"), "deploy blue": ("deploy", "blue"),
                  "promote blue": ("promote", "blue"), "rollback green": ("rollback", "green"),
                  "cleanup blue": ("cleanup", "blue")}


# each action's points alternate: killed before the request is sent, and 2 ms and 30 ms after
# it is sent (in flight at the engine, or just answered): EXECUTOR_FAULT_KILL_DELAY_US
IN_FLIGHT_US = (0, 2000, 30000)


def points_for(count: int, rng: random.Random) -> list[int]:
    want = os.environ.get("E2E_FAULT_POINTS", "21")
    if want == "all":
        return list(range(1, count + 1))
    per = max(1, -(-int(want) // len(ACTIONS)))
    return sorted(rng.sample(range(1, count + 1), min(per, count)))


def converged(w: World, label: str, live: str | None, preview: str | None, rows: list[int]) -> list[str]:
    """What is wrong with the env after the re-run of label (empty: converged)."""
    bad = []
    st = w.status()
    if st.get("live") != live:
        bad.append(f"live is {st.get('live')}, want {live}")
    if st.get("preview") != preview:
        bad.append(f"preview is {st.get('preview')}, want {preview}")
    if not str(st.get("durable", "")).startswith("running, healthy (2 containers)"):
        bad.append(f"durable layer: {st.get('durable')}")
    for color in filter(None, (live, preview)):
        c = (st.get("colors") or {}).get(color) or {}
        if c.get("status") != "healthy" or c.get("containers") != "running, healthy (4 containers)":
            bad.append(f"{color}: {c}")
    if label == "cleanup blue" and "blue" in (st.get("colors") or {}):
        bad.append("blue is still recorded after cleanup blue")
    hist = st.get("history")
    want = HISTORY_ACTION[label]
    if not isinstance(hist, list) or not hist:
        bad.append(f"status --json history: {hist!r}")
    elif (hist[-1].get("action"), hist[-1].get("color"), hist[-1].get("result")) != (*want, "ok"):
        bad.append(f"last history entry {hist[-1]}, want {want} ok")
    with open(os.path.join(w.env_dir(), "history.jsonl")) as f:
        lines = [ln for ln in f.read().split("\n") if ln.strip()]
    for i, ln in enumerate(lines):
        try:
            json.loads(ln)
        except ValueError:
            bad.append(f"history.jsonl line {i + 1} of {len(lines)} does not parse: {ln[:200]!r}")
    try:
        w.state_json()
    except ValueError as e:
        bad.append(f"state.json does not parse: {e}")
    r = w.live_reply()
    if live and not (r.status == 200 and r.color == live and r.body_color == live):
        bad.append(f"live entry: {r!r}, want {live}")
    if not live and r.status != 503:
        bad.append(f"live entry: {r!r}, want 503 (nothing live)")
    got = w.sql(f"SELECT COUNT(*) FROM orders WHERE id IN ({','.join(map(str, rows))})").strip()
    if got != str(len(rows)):
        bad.append(f"{got} of the {len(rows)} rows written before the run are there")
    return bad


def test_kill_injection():
    w = world()
    seed = int(os.environ.get("E2E_FAULT_SEED", "6"))
    rng = random.Random(seed)
    # the rows: written once, before any kill, through the live entry (the api creates its table)
    w.local("durable", "setup", ENV)
    w.local("deploy", "green", "--env", ENV)
    w.local("promote", "green", "--env", ENV)
    import ssl
    ctx = ssl.create_default_context(cafile=os.path.join(w.env_dir(), "tls", "ca.pem"))
    rows = []
    for i in range(5):
        r = https(int(w.ports[ENV]["EXECUTOR_LIVE_PORT"]), ctx, "POST", "/api/orders",
                  json.dumps({"item": "e2efault", "n": i}).encode())
        check(r.status == 201 and r.json and "id" in r.json, f"POST /api/orders through the live entry: {r!r}")
        rows.append(int(r.json["id"]))
    # the kill loop starts from nothing running (the volume, with the rows, is kept)
    w.local("cleanup", "green", "--env", ENV, "--force")
    w.local("durable", "teardown", ENV)

    tried = conv = 0
    failures: list[str] = []
    per_action: list[str] = []
    t_all = time.monotonic()
    for label, argv, live, preview in ACTIONS:
        # the un-killed count: run it, undo it
        p = w.local(*argv)
        count = requests_of(p)
        check(count > 0, f"{label}: EXECUTOR_FAULT_REPORT printed no request count: {p.stderr[-1000:]}")
        for cmd in RESTORE[label]:
            w.local(*cmd)
        pts = points_for(count, rng)
        a_tried = a_conv = a_killed = 0
        for k, n in enumerate(pts):
            if k:
                for cmd in RESTORE[label]:
                    w.local(*cmd)
            # before the request is sent, or while it is in flight at the engine
            delay = IN_FLIGHT_US[k % len(IN_FLIGHT_US)]
            killed = w.local(*argv, kill_after=n, delay_us=delay, ok=False)
            a_killed += killed.returncode == -9
            rerun = w.local(*argv, ok=False)
            tried += 1
            a_tried += 1
            bad = [] if rerun.returncode == 0 else [f"re-run exited {rerun.returncode}: {rerun.stderr.strip()[-1500:]}"]
            if not bad:
                bad = converged(w, label, live, preview, rows)
            if bad:
                when = f"{delay} us after sending request" if delay else "before request"
                failures.append(f"{label}, killed {when} {n} of {count} (exit {killed.returncode}; "
                                f"its stderr ends {killed.stderr.strip()[-300:]!r}): " + "; ".join(bad))
                # back to the action's post-state before the next point
                w.local(*argv, ok=False)
            else:
                conv += 1
                a_conv += 1
        per_action.append(f"{label} {a_conv}/{a_tried} of {count} requests ({a_killed} killed)")
    print(f"  kill injection per action: {'; '.join(per_action)}", flush=True)
    print(f"  kill injection: {tried} points, {conv} converged ({time.monotonic() - t_all:.0f} s, seed {seed})",
          flush=True)
    want = os.environ.get("E2E_FAULT_POINTS", "21")
    floor = 50 if want == "all" else min(int(want), 21)
    check(tried >= floor, f"at least {floor} points tried: {tried}")
    check(not failures, f"{len(failures)} of {tried} points did not converge:\n" + "\n".join(failures[:20]))


test_kill_injection.timeout = 1800  # type: ignore[attr-defined]  # 21 points, ~2.5 minutes; `make soak` has its own


# ------------------------------------------------------------------ concurrency


def _together(w: World, *cmds: tuple[list[str], str]) -> list[tuple[subprocess.CompletedProcess, float, float]]:
    """Start the commands at once; (result, start, end) each."""
    out: list = [None] * len(cmds)
    go = threading.Event()

    def one(i: int, argv: list[str], env: str) -> None:
        go.wait()
        t0 = time.monotonic()
        p = w.local(*argv, env=env, ok=False)
        out[i] = (p, t0, time.monotonic())

    ts = [threading.Thread(target=one, args=(i, a, e)) for i, (a, e) in enumerate(cmds)]
    for t in ts:
        t.start()
    go.set()
    for t in ts:
        t.join(400)
    return out


def test_two_deploys_of_one_env_are_serialized():
    w = world()
    if not os.path.exists(os.path.join(w.env_dir(), "state.json")) or w.status().get("durable", "").find("healthy") < 0:
        w.local("durable", "setup", ENV)
    for color in COLORS:
        w.local("cleanup", color, "--env", ENV, "--force")
    res = _together(w, (["deploy", "green", "--env", ENV], ENV), (["deploy", "blue", "--env", ENV], ENV))
    for (p, _, _), color in zip(res, COLORS):
        check(p.returncode == 0, f"deploy {color} exited {p.returncode}: {p.stderr[-2000:]}")
    waited = [p.stderr for p, _, _ in res if f"waiting for the lock on env '{ENV}': held by" in p.stderr]
    check(len(waited) == 1, f"exactly one deploy waits on the lock and names the holder: {len(waited)}")
    st = w.state_json()
    check(set((st.get("colors") or {})) == {"green", "blue"}, f"state.json has both colors: {st}")
    for color in COLORS:
        check(st["colors"][color].get("status") == "healthy", f"{color} healthy in state.json: {st['colors'][color]}")
    print(f"  two deploys: {'green' if 'held by' in res[1][0].stderr else 'blue'} went first, the other waited",
          flush=True)


def test_deploy_and_promote_together():
    w = world()
    # from the previous test: green and blue deployed, nothing live
    w.local("promote", "green", "--env", ENV)
    res = _together(w, (["deploy", "blue", "--env", ENV], ENV), (["promote", "green", "--env", ENV], ENV))
    for (p, _, _), what in zip(res, ("deploy blue", "promote green")):
        check(p.returncode == 0, f"{what} exited {p.returncode}: {p.stderr[-2000:]}")
    st = w.status()
    check(st.get("live") == "green", f"green stays live: {st.get('live')}")
    for color in COLORS:
        c = st["colors"].get(color) or {}
        check(c.get("status") == "healthy" and c.get("containers") == "running, healthy (4 containers)",
              f"{color} healthy: {c}")
    json.loads(open(os.path.join(w.env_dir(), "state.json")).read())
    r = w.live_reply()
    check(r.status == 200 and r.color == "green", f"the live entry serves green: {r!r}")


def test_two_envs_set_up_in_parallel():
    w = world()
    for color in COLORS:
        w.local("cleanup", color, "--env", ENV, "--force")
    w.local("durable", "teardown", ENV)
    res = _together(w, (["durable", "setup", ENV], ENV), (["durable", "setup", ENV2], ENV2))
    for (p, _, _), env in zip(res, (ENV, ENV2)):
        check(p.returncode == 0, f"durable setup {env} exited {p.returncode}: {p.stderr[-2000:]}")
        check("waiting for the lock" not in p.stderr, f"durable setup {env} waited on a lock: {p.stderr[-1000:]}")
    (_, a0, a1), (_, b0, b1) = res
    overlap = min(a1, b1) - max(a0, b0)
    check(overlap > 0, f"the two setups overlap in time: {a0:.2f}-{a1:.2f} and {b0:.2f}-{b1:.2f}")
    print(f"  two envs: setups took {a1 - a0:.1f} s and {b1 - b0:.1f} s, overlapping {overlap:.1f} s", flush=True)


def test_teardown():
    w = world()
    w.teardown()
    left = app_objects()
    check(not any(left.values()), f"nothing of app {APP} is left: {left}")
