"""The Docker engine restarted in the middle of a deploy and of a promote (issue 6 item 2).

The driver reaches the real engine through a byte-level proxy on a unix socket of this
test (the admin's docker_host), which counts the HTTP requests going through. Armed at
request N (half of what the same action took when it ran undisturbed, counted with the
driver's EXECUTOR_FAULT_REPORT=1), the proxy holds that request back and stops dockerd
(SIGTERM to the pid in /var/run/docker.pid, as systemd would; dockerd stops every
container), so the driver sees its engine go away mid-action; new connections are refused
while the engine is down. Then:

  * the driver fails: exit 2 (system failure, retried by `retry: when:
    runner_system_failure`) with exactly one ERROR line, which names the engine;
  * the engine is started again the way scripts/ensure-engine.sh starts it, and the
    durable containers come back by themselves (restart: unless-stopped);
  * the same action, run again, converges: exit 0, `status --json` shows the expected
    live and preview colors healthy and a history that parses, the live entry serves
    exactly the live color, and the rows written to the database before are all there.

Restarting the engine disrupts every user of it: this runs only inside run.py (which holds
/tmp/executor-e2e.lock), and the engine is brought back (and /_ping waited for) whatever
happens, in a finally and at exit. Everything here is app e2erst, env e2erst, ports picked
free in 26000-26999; only objects labelled io.executor.app=e2erst or named e2erst-* are
ever removed.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import e2elib  # noqa: E402
from e2elib import git as _git  # noqa: E402
from e2elib import REPO, check, docker, executor_bin, state_dir, write_admin_config  # noqa: E402
from world import build_example_images, example_repo, https, pick_ports  # noqa: E402

NEEDS_DOCKER = True

APP = "e2erst"
ENV = "e2erst"
EXAMPLE = os.path.join(REPO, "templates", "example")
ENGINE_SOCK = "/var/run/docker.sock"
PIDFILE = "/var/run/docker.pid"
PORT_BASE = 26000
PORT_VARS = ("EXECUTOR_DB_PORT", "EXECUTOR_LIVE_PORT", "EXECUTOR_PREVIEW_PORT",
             "GREEN_API_PORT", "GREEN_FRONTEND_HTTPS_PORT", "GREEN_FRONTEND_HTTP_PORT",
             "GREEN_LOCALSTACK_PORT", "GREEN_LOCALSTACK_ALT_PORT",
             "BLUE_API_PORT", "BLUE_FRONTEND_HTTPS_PORT", "BLUE_FRONTEND_HTTP_PORT",
             "BLUE_LOCALSTACK_PORT", "BLUE_LOCALSTACK_ALT_PORT")
DURABLE = (f"{APP}-{ENV}-durable-mariadb", f"{APP}-{ENV}-durable-router")
REQS = re.compile(r"executor: (\d+) engine requests")
REQUEST_LINE = re.compile(rb"(?:GET|POST|PUT|DELETE|HEAD) (/[^ \r\n]*) HTTP/1\.1\r\n")


# ------------------------------------------------------------------ the engine


def engine_answers(timeout: float = 2.0) -> bool:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(ENGINE_SOCK)
        s.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
        data = b""
        while True:
            d = s.recv(4096)
            if not d:
                break
            data += d
        return data.startswith(b"HTTP/1.") and b" 200 " in data.split(b"\r\n")[0]
    except OSError:
        return False
    finally:
        s.close()


def dockerd_pid() -> int:
    with open(PIDFILE) as f:
        pid = int(f.read().strip())
    with open(f"/proc/{pid}/comm") as f:
        comm = f.read().strip()
    check(comm == "dockerd", f"{PIDFILE} names pid {pid}, which is {comm!r}, not dockerd")
    return pid


def stop_engine() -> float:
    """SIGTERM to dockerd; wait until it is gone (it stops the containers first)."""
    t0 = time.monotonic()
    pid = dockerd_pid()
    os.kill(pid, signal.SIGTERM)
    end = time.monotonic() + 90
    while os.path.exists(f"/proc/{pid}"):
        if time.monotonic() > end:
            os.kill(pid, signal.SIGKILL)
            end = time.monotonic() + 30
        time.sleep(0.1)
    return time.monotonic() - t0


def start_engine() -> float:
    """scripts/ensure-engine.sh: starts dockerd when nothing answers, waits for /_ping."""
    t0 = time.monotonic()
    p = subprocess.run(["sh", os.path.join(REPO, "scripts", "ensure-engine.sh")], capture_output=True, text=True,
                       timeout=180)
    check(p.returncode == 0 and engine_answers(), f"scripts/ensure-engine.sh failed: {p.stderr.strip()}")
    return time.monotonic() - t0


def ensure_engine_up() -> None:
    if not engine_answers():
        start_engine()


# ------------------------------------------------------------------ the proxy


class Proxy:
    """Unix socket -> /var/run/docker.sock, byte for byte, counting request lines."""

    def __init__(self, path: str) -> None:
        self.path = path
        if os.path.exists(path):
            os.unlink(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(64)
        self.count = 0
        self.arm_at = 0  # 0: never
        self.held = ""
        self.down = False
        self.stopped_in = 0.0
        self.error = ""
        self.lock = threading.Lock()
        self.conns: set[socket.socket] = set()
        self.sent = bytearray()  # every byte the clients sent (the first 64 MiB)
        threading.Thread(target=self._accept, daemon=True).start()

    def arm(self, n: int) -> None:
        with self.lock:
            self.count, self.arm_at, self.held, self.down, self.error = 0, n, "", False, ""

    def disarm(self) -> None:
        with self.lock:
            self.arm_at, self.down = 0, False

    def close(self) -> None:
        try:
            self.sock.close()
        finally:
            if os.path.exists(self.path):
                os.unlink(self.path)

    def _accept(self) -> None:
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            if self.down:
                c.close()
                continue
            u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                u.connect(ENGINE_SOCK)
            except OSError:
                c.close()
                u.close()
                continue
            with self.lock:
                self.conns.update((c, u))
            threading.Thread(target=self._pump, args=(c, u, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(u, c, False), daemon=True).start()

    def _trigger(self, line: str) -> None:
        self.held = line
        self.down = True
        try:
            self.stopped_in = stop_engine()
        except BaseException as e:  # noqa: BLE001
            self.error = f"stopping the engine: {e}"
        with self.lock:
            for s in list(self.conns):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _pump(self, src: socket.socket, dst: socket.socket, upstream: bool) -> None:
        """One direction. EOF is passed on as a half-close (a hijacked exec's stdin ends
        so); an error or the trigger closes both directions."""
        broken = False
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if upstream:
                    hit = None
                    with self.lock:
                        if len(self.sent) < 64 << 20:
                            self.sent += data
                        for m in REQUEST_LINE.finditer(data):
                            self.count += 1
                            if self.arm_at and self.count == self.arm_at:
                                hit = m.group(0).decode("latin-1").strip()
                    if hit:
                        self._trigger(hit)  # the request is never delivered
                        broken = True
                        break
                    if self.down:
                        broken = True
                        break
                dst.sendall(data)
        except OSError:
            broken = True
        try:
            if broken:
                src.shutdown(socket.SHUT_RDWR)
                dst.shutdown(socket.SHUT_RDWR)
            else:
                dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        with self.lock:
            # the second direction to finish closes both sockets
            done = getattr(self, "_half", set())
            self._half = done
            key = frozenset((id(src), id(dst)))
            if key in done or broken:
                done.discard(key)
                self.conns.discard(src)
                self.conns.discard(dst)
                src.close()
                dst.close()
            else:
                done.add(key)


# ------------------------------------------------------------------ the world


class World:
    def __init__(self) -> None:
        build_example_images()
        self.tmp = tempfile.mkdtemp(prefix="e2erst-", dir=state_dir())
        self.state = os.path.join(self.tmp, "driver")
        self.proxy = Proxy(os.path.join(self.tmp, "engine-proxy.sock"))
        self.config = write_admin_config(os.path.join(self.tmp, "restart.conf"), self.state,
                                         allowed_images="executor-test/*, echobase/*",
                                         docker_host=f"unix://{self.proxy.path}")
        self.ports = pick_ports(PORT_BASE, 1000, PORT_VARS)
        self.repo = os.path.join(self.tmp, "repo")
        self.checkout = os.path.join(self.tmp, "checkout")
        example_repo(self.repo)
        _git(self.tmp, "clone", "-q", "--branch", "main", self.repo, self.checkout)

    def env_dir(self) -> str:
        return os.path.join(self.state, "apps", APP, "envs", ENV)

    def local(self, *args: str, ok: bool = True, timeout: float = 400) -> subprocess.CompletedProcess:
        e = {k: v for k, v in os.environ.items() if not k.startswith("EXECUTOR_FAULT_")}
        e.update(EXECUTOR_CONFIG=self.config, NO_COLOR="1", EXECUTOR_APP=APP, EXECUTOR_ENV=ENV,
                 EXECUTOR_FAULT_REPORT="1", **self.ports)
        p = subprocess.run([executor_bin(), *args], cwd=self.checkout, env=e, capture_output=True, timeout=timeout)
        # the driver's output must be text whatever the engine did: decode strictly
        for name in ("stdout", "stderr"):
            raw = getattr(p, name)
            try:
                setattr(p, name, raw.decode())
            except UnicodeDecodeError as ex:
                raise AssertionError(f"executor {' '.join(args)} wrote bytes that are not UTF-8 on {name} "
                                     f"at {ex.start}: {raw[max(0, ex.start - 200):ex.start + 60]!r}") from None
        if ok:
            check(p.returncode == 0, f"executor {' '.join(args)} exited {p.returncode}: {p.stderr.strip()[-3000:]}")
        return p

    def status(self) -> dict:
        p = self.local("status", "--json")
        for e in json.loads(p.stdout):
            if e.get("app") == APP and e.get("env") == ENV:
                return e
        raise AssertionError(f"executor status --json has no entry for {APP}/{ENV}: {p.stdout[-2000:]}")

    def secrets(self) -> dict:
        with open(os.path.join(self.env_dir(), "secrets.json")) as f:
            return json.load(f)["secrets"]

    def sql(self, query: str, wait: float = 60) -> str:
        s = self.secrets()
        end = time.monotonic() + wait
        while True:
            p = docker("exec", "-e", f"MYSQL_PWD={s['DB_PASSWORD']}", DURABLE[0], "mariadb", "-h127.0.0.1",
                       f"-u{s['DB_USER']}", s["DB_NAME"], "-N", "-B", "-e", query, check=False)
            if p.returncode == 0 or time.monotonic() > end:
                break
            time.sleep(1)
        check(p.returncode == 0, f"mariadb {query!r} failed: {p.stderr.strip()}")
        return p.stdout

    def ctx(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=os.path.join(self.env_dir(), "tls", "ca.pem"))

    def live(self, path: str = "/api/health"):
        return https(int(self.ports["EXECUTOR_LIVE_PORT"]), self.ctx(), path=path)

    def teardown(self) -> None:
        ensure_engine_up()
        self.proxy.disarm()
        if os.path.exists(self.env_dir()):
            for color in ("green", "blue"):
                self.local("cleanup", color, "--env", ENV, "--force", ok=False)
            self.local("durable", "teardown", ENV, "--volumes", ok=False)
        e2elib.remove_app_objects(APP)


_w: "World | None" = None


def world() -> World:
    global _w
    if _w is None:
        left = e2elib.remove_app_objects(APP)
        if left:
            print(f"  test_engine_restart: removed leftovers of an earlier run: {', '.join(left)}", flush=True)
        _w = World()
        atexit.register(_at_exit)
    return _w


def _at_exit() -> None:
    ensure_engine_up()
    if _w is not None and any(e2elib.app_objects(APP).values()):
        _w.teardown()


def requests_of(p: subprocess.CompletedProcess) -> int:
    m = REQS.findall(p.stderr)
    return int(m[-1]) if m else 0


def durable_back(wait: float = 120) -> float:
    """The durable containers run again without the driver (restart policy) and mariadb is healthy."""
    t0 = time.monotonic()
    end = t0 + wait
    while True:
        facts = {n: docker("inspect", "-f", "{{.State.Running}} {{if .State.Health}}{{.State.Health.Status}}{{end}}",
                           n, check=False).stdout.strip() for n in DURABLE}
        if all(f.startswith("true") for f in facts.values()) and facts[DURABLE[0]] == "true healthy":
            return time.monotonic() - t0
        if time.monotonic() > end:
            why = {n: docker("inspect", "-f", "exit {{.State.ExitCode}} error {{json .State.Error}} restarts "
                             "{{.RestartCount}} policy {{.HostConfig.RestartPolicy.Name}} finished "
                             "{{.State.FinishedAt}}", n, check=False).stdout.strip() for n in DURABLE}
            logs = docker("logs", "--tail", "15", DURABLE[1], check=False)
            raise AssertionError(f"the durable containers did not come back with the engine: {facts}; {why}; "
                                 f"router log: {(logs.stdout + logs.stderr)[-2500:]}")
        time.sleep(0.5)


def converged(w: World, live: str, preview: str | None, rows: list[int], action: str, color: str) -> list[str]:
    bad = []
    st = w.status()
    if st.get("live") != live:
        bad.append(f"live is {st.get('live')}, want {live}")
    if st.get("preview") != preview:
        bad.append(f"preview is {st.get('preview')}, want {preview}")
    if not str(st.get("durable", "")).startswith("running, healthy (2 containers)"):
        bad.append(f"durable layer: {st.get('durable')}")
    for c in filter(None, (live, preview)):
        info = (st.get("colors") or {}).get(c) or {}
        if info.get("status") != "healthy" or info.get("containers") != "running, healthy (4 containers)":
            bad.append(f"{c}: {info}")
    hist = st.get("history")
    if not isinstance(hist, list) or not hist:
        bad.append(f"status --json history: {hist!r}")
    elif (hist[-1].get("action"), hist[-1].get("color"), hist[-1].get("result")) != (action, color, "ok"):
        bad.append(f"last history entry {hist[-1]}, want {action} {color} ok")
    with open(os.path.join(w.env_dir(), "history.jsonl")) as f:
        for i, ln in enumerate(x for x in f.read().split("\n") if x.strip()):
            try:
                json.loads(ln)
            except ValueError:
                bad.append(f"history.jsonl line {i + 1} does not parse: {ln[:200]!r}")
    # exactly one color behind the live entry: every answer is the live color's
    seen = set()
    for _ in range(10):
        r = w.live()
        seen.add((r.status, r.color, r.body_color))
    if seen != {(200, live, live)}:
        bad.append(f"the live entry answered {sorted(seen, key=str)}, want only (200, {live}, {live})")
    got = w.sql(f"SELECT COUNT(*) FROM orders WHERE id IN ({','.join(map(str, rows))})").strip()
    if got != str(len(rows)):
        bad.append(f"{got} of the {len(rows)} rows written before are there")
    return bad


def _restart_during(w: World, argv: list[str], n: int) -> tuple[subprocess.CompletedProcess, str]:
    """Run argv with the proxy armed at request n; the engine stops there. Start it again."""
    w.proxy.arm(n)
    try:
        p = w.local(*argv, ok=False)
    finally:
        w.proxy.disarm()
        started = start_engine()
    check(not w.proxy.error, w.proxy.error)
    check(w.proxy.held, f"{' '.join(argv)} made fewer than {n} requests; the engine was not stopped: "
          f"{p.stderr[-1500:]}")
    return p, f"stopped at request {n} ({w.proxy.held}) in {w.proxy.stopped_in:.1f} s, started in {started:.1f} s"


def _one_system_failure_line(p: subprocess.CompletedProcess, what: str) -> str:
    check(p.returncode == 2, f"{what}: exit 2 (system failure) when the engine goes away, got {p.returncode}: "
          f"{p.stderr[-3000:]}")
    errs = [ln for ln in p.stderr.splitlines() if "ERROR" in ln]
    check(len(errs) == 1, f"{what}: exactly one ERROR line, got {len(errs)}: {p.stderr[-3000:]}")
    low = errs[0].lower()
    check("engine" in low or "docker" in low, f"{what}: the line names the engine: {errs[0]!r}")
    return errs[0]


def test_engine_restarted_mid_deploy_and_mid_promote():
    w = world()
    try:
        w.local("durable", "setup", ENV)
        deploy_n = requests_of(w.local("deploy", "green", "--env", ENV))
        promote_n = requests_of(w.local("promote", "green", "--env", ENV))
        check(deploy_n > 4 and promote_n > 2, f"request counts: deploy {deploy_n}, promote {promote_n}")
        rows = []
        for i in range(3):
            r = https(int(w.ports["EXECUTOR_LIVE_PORT"]), w.ctx(), "POST", "/api/orders",
                      json.dumps({"item": "e2erst", "n": i}).encode())
            check(r.status == 201 and r.json and "id" in r.json, f"POST /api/orders through the live entry: {r!r}")
            rows.append(int(r.json["id"]))

        # deploy blue; the engine stops halfway
        p, how = _restart_during(w, ["deploy", "blue", "--env", ENV], max(2, deploy_n // 2))
        line = _one_system_failure_line(p, "deploy blue")
        print(f"  deploy blue: {how}\n    driver: {line}", flush=True)
        back = durable_back()
        print(f"  durable containers back by themselves {back:.1f} s after the engine", flush=True)
        w.local("deploy", "blue", "--env", ENV)
        bad = converged(w, "green", "blue", rows, "deploy", "blue")
        check(not bad, "after the re-run of deploy blue: " + "; ".join(bad))

        # promote blue; the engine stops halfway
        p, how = _restart_during(w, ["promote", "blue", "--env", ENV], max(2, promote_n // 2))
        line = _one_system_failure_line(p, "promote blue")
        print(f"  promote blue: {how}\n    driver: {line}", flush=True)
        durable_back()
        w.local("promote", "blue", "--env", ENV)
        bad = converged(w, "blue", "green", rows, "promote", "blue")
        check(not bad, "after the re-run of promote blue: " + "; ".join(bad))
    finally:
        ensure_engine_up()
        w.proxy.disarm()


def test_teardown():
    w = world()
    w.teardown()
    w.proxy.close()
    left = e2elib.app_objects(APP)
    check(not any(left.values()), f"nothing of app {APP} is left: {left}")
    check(engine_answers(), "the engine answers at the end")
