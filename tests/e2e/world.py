"""What the deployment test modules share (and bench/ too): a module's world made once and
torn down at exit, free ports, the driver run locally with the world's admin file, one
HTTPS request through a router entry, and a load loop of such requests.

  * AppWorld: a temporary directory under the run's state directory (E2E_STATE_DIR), its
    driver state and admin file, the env's ports, `local(...)` (the driver run as the
    admin's CLI with that file) and `teardown()` (the app's durable layer and objects);
  * shared(module, app, make, at_exit): the module's world() — made on first use, after the
    app's leftovers of an earlier run are removed; at_exit(world) at the process's exit;
  * pick_ports(base, span, names): the first free ports above base;
  * build_example_images(), example_repo(path): the example app's images, and a repository
    holding a copy of it;
  * https(port, ctx, ...) -> Reply; LoadLoop: GETs through an entry, one TLS connection each.

Only the standard library is imported at the top: bench/ imports https and LoadLoop.
"""

from __future__ import annotations

import atexit
import http.client
import json
import os
import shutil
import ssl
import subprocess
import tempfile
import threading
import time
from typing import Callable

LOAD_PATH = "/api/health"  # through the router: api-gateway, its CGI and the database


# ------------------------------------------------------------------ one request


class Reply:
    def __init__(self, status: int = 0, color: str | None = None, body: bytes = b"", error: str = ""):
        self.status, self.color, self.body, self.error = status, color, body, error

    @property
    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    @property
    def body_color(self) -> str | None:
        j = self.json
        return j.get("color") if isinstance(j, dict) else None

    def __repr__(self) -> str:
        return (f"<{self.status} X-Executor-Color={self.color} {self.body[:160]!r}"
                f"{' ' + self.error if self.error else ''}>")


def https(port: int, ctx: ssl.SSLContext, method: str = "GET", path: str = LOAD_PATH, body: bytes | None = None,
          timeout: float = 10) -> Reply:
    """One request on a new connection to 127.0.0.1:port, TLS verified against ctx's CA."""
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=timeout)
    try:
        headers = {"Connection": "close"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
        data = r.read()
        return Reply(r.status, r.getheader("X-Executor-Color"), data)
    except (OSError, http.client.HTTPException, ssl.SSLError) as e:
        return Reply(error=f"{type(e).__name__}: {e}")
    finally:
        conn.close()


# ------------------------------------------------------------------ the load loop


class LoadLoop(threading.Thread):
    """GET `paths` in turn (default LOAD_PATH) through the entry at 127.0.0.1:port, one new
    TLS connection per request (Connection: close), verified against the env's CA, `pause`
    seconds apart, until stopped or bounded in count and time. records: (start, end, Reply)."""

    def __init__(self, port: int, cafile: str, max_requests: int, max_seconds: float,
                 paths: list[str] | None = None, pause: float = 0.0, timeout: float = 15, name: str | None = None):
        super().__init__(daemon=True, name=name)
        self.port, self.max_requests, self.max_seconds = port, max_requests, max_seconds
        self.paths, self.pause, self.timeout = paths or [LOAD_PATH], pause, timeout
        self.ctx = ssl.create_default_context(cafile=cafile)
        self.records: list[tuple[float, float, Reply]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        i = 0
        while not self.stop.is_set() and len(self.records) < self.max_requests and time.monotonic() < deadline:
            path = self.paths[i % len(self.paths)]
            i += 1
            t0 = time.monotonic()
            r = https(self.port, self.ctx, path=path, timeout=self.timeout)
            self.records.append((t0, time.monotonic(), r))
            if self.pause:
                time.sleep(self.pause)

    def wait_for(self, n: int) -> None:
        while len(self.records) < n and self.is_alive():
            time.sleep(0.02)

    def summary(self) -> dict:
        """Stop, and count: a request failed when it raised or answered >= 500."""
        self.stop.set()
        self.join(timeout=30)
        failed = [(t0, f"{self.paths[i % len(self.paths)]}: "
                       f"{r.error if r.error else f'HTTP {r.status}'}")
                  for i, (t0, _, r) in enumerate(list(self.records)) if r.error or r.status >= 500]
        colors: dict[str, int] = {}
        for _, _, r in self.records:
            if not r.error:
                colors[r.color or "?"] = colors.get(r.color or "?", 0) + 1
        return {"total": len(self.records), "failed": len(failed), "errors": [e for _, e in failed],
                "failed_at": [t for t, _ in failed], "colors": colors}


# ------------------------------------------------------------------ a module's world


def build_example_images() -> None:
    """The example app's images (templates/example/images/build.sh), built once per engine."""
    from e2elib import REPO, check

    p = subprocess.run(["bash", os.path.join(REPO, "templates", "example", "images", "build.sh"), "--quiet"],
                       capture_output=True, text=True, timeout=900)
    check(p.returncode == 0, f"templates/example/images/build.sh failed: {p.stderr.strip()[-2000:]}")


def example_repo(path: str) -> str:
    """A git repository at path holding a copy of templates/example, one commit on the
    current branch; its sha."""
    from e2elib import REPO
    from e2elib import git as _git

    shutil.copytree(os.path.join(REPO, "templates", "example"), path, symlinks=True)
    _git(path, "init", "-q")
    _git(path, "add", "-A")
    _git(path, "commit", "-q", "-m", "echobase example (copy of templates/example)")
    return _git(path, "rev-parse", "HEAD")


def pick_ports(base: int, span: int, names: list[str] | tuple[str, ...]) -> dict[str, str]:
    """One free port per name, the first free ones above base (below base + span)."""
    from e2elib import check, port_free

    got: list[int] = []
    port = base
    while len(got) < len(names):
        port += 1
        check(port < base + span, f"no free ports in {base}-{base + span - 1}")
        if port_free(port):
            got.append(port)
    return {k: str(v) for k, v in zip(names, got)}


class AppWorld:
    """A module's directory under the run's state directory, the driver's state and an
    admin file in it (write_admin_config's keys as given), and the app's ports."""

    app_name = ""  # EXECUTOR_APP of local(), and the app teardown() removes
    env_name = ""  # the env whose durable layer teardown() removes

    def __init__(self, prefix: str, conf_name: str, ports: dict[str, str] | None = None, **admin) -> None:
        from e2elib import state_dir, write_admin_config

        self.tmp = tempfile.mkdtemp(prefix=prefix, dir=state_dir())
        self.state = os.path.join(self.tmp, "driver")
        self.config = write_admin_config(os.path.join(self.tmp, conf_name), self.state, **admin)
        self.ports: dict[str, str] = dict(ports or {})
        self.layer_up = False

    def local(self, *args: str, cwd: str | None = None, env: dict[str, str] | None = None, timeout: float = 300,
              errors: str | None = None) -> subprocess.CompletedProcess:
        """The driver as the admin runs it, with this world's admin file, app and ports
        (and env's variables over them)."""
        from e2elib import executor_bin

        e = dict(os.environ, EXECUTOR_CONFIG=self.config, NO_COLOR="1", EXECUTOR_APP=self.app_name, **self.ports)
        e.update(env or {})
        return subprocess.run([executor_bin(), *args], cwd=cwd, env=e, capture_output=True, text=True,
                              errors=errors, timeout=timeout)

    def teardown(self) -> None:
        """The app's durable layer and every object of the app, then the directory."""
        import e2elib

        if any(e2elib.app_objects(self.app_name).values()):
            self.local("durable", "teardown", self.env_name, "--volumes")
            e2elib.remove_app_objects(self.app_name)
        shutil.rmtree(self.tmp, ignore_errors=True)


def shared(module: str, app: str, make: Callable[[], object],
           at_exit: Callable[[object], None]) -> Callable[[], object]:
    """The module's world(): made on first use, after the app's objects left by an earlier
    run are removed (said on one line); at_exit(world) runs when the process exits."""
    box: list[object] = []

    def world():
        if not box:
            import e2elib

            left = e2elib.remove_app_objects(app)
            if left:
                print(f"  {module}: removed leftovers of an earlier run: {', '.join(left)}", flush=True)
            box.append(make())
            atexit.register(lambda: at_exit(box[0]))
        return box[0]

    return world
