"""The floor of each row: the engine calls a step cannot avoid, issued by bench itself.

Raw HTTP/1.1 on the engine's unix socket (python stdlib only, API version pinned, no /_ping),
one keep-alive connection per thread; exec output is read to its end and dropped. Each floor
is timed like a side of its row (median of the same number of runs), after the row's own
samples, with nothing else of ours running. What each floor issues is the row's "minimum"
list in results.md; bench/README.md says where a floor is not meaningful.

Objects: containers and networks named `bench-floor-*` (labelled io.executor.bench=floor), and
for the deployment rows the project `benchapp-floor`; remove_all() removes exactly those.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
import urllib.parse

from benchlib import BenchError

SOCK = "/var/run/docker.sock"
API = "/v1.41"
LABEL = {"io.executor.bench": "floor"}


class _UnixConn(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 300):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.path)
        self.sock = s


class Engine:
    """One connection to the engine; call() returns (status, decoded JSON or bytes)."""

    def __init__(self, path: str = SOCK):
        self.path = path
        self.conn = _UnixConn(path)
        self.calls = 0

    def call(self, method: str, path: str, body=None, ok=(200, 201, 204, 304), query: dict | None = None):
        url = API + path + ("?" + urllib.parse.urlencode(query) if query else "")
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        self.calls += 1
        try:
            self.conn.request(method, url, body=data, headers=headers)
            r = self.conn.getresponse()
            raw = r.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()  # a stale keep-alive connection: once more on a new one
            self.conn = _UnixConn(self.path)
            self.conn.request(method, url, body=data, headers=headers)
            r = self.conn.getresponse()
            raw = r.read()
        if ok and r.status not in ok:
            raise BenchError(f"floor: {method} {path} answered {r.status}: {raw[:300].decode(errors='replace')}")
        if raw and (r.getheader("Content-Type") or "").startswith("application/json"):
            return r.status, json.loads(raw)
        return r.status, raw

    def exec_run(self, container: str, cmd: list[str]) -> int:
        """exec create, exec start (output read to the end, dropped), exec inspect: the exit code."""
        _, e = self.call("POST", f"/containers/{container}/exec",
                         {"Cmd": cmd, "AttachStdout": True, "AttachStderr": True})
        self.calls += 1
        # the stream on its own connection, hijacked as the docker CLI does (Upgrade: tcp), read
        # to EOF with recv_into: a floor must not be slowed by an HTTP client's body decoding
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.settimeout(600)
            s.connect(self.path)
            body = b'{"Detach":false,"Tty":false}'
            s.sendall(f"POST {API}/exec/{e['Id']}/start HTTP/1.1\r\nHost: localhost\r\n"
                      "Content-Type: application/json\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
                      f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
            buf = bytearray(1 << 20)
            view = memoryview(buf)
            head = b""
            while b"\r\n\r\n" not in head:
                n = s.recv_into(view)
                if not n:
                    break
                head += bytes(view[:n])
            if not head.startswith((b"HTTP/1.1 101", b"HTTP/1.1 200")):
                raise BenchError(f"floor: exec start answered {head[:60]!r}")
            while s.recv_into(view):
                pass
        finally:
            s.close()
        _, ins = self.call("GET", f"/exec/{e['Id']}/json")
        return int(ins.get("ExitCode") or 0)

    def close(self) -> None:
        self.conn.close()


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def parallel(fns) -> None:
    """Run independent call sequences at once, one connection each (a floor need not wait
    for one container before the next)."""
    errs: list[BaseException] = []

    def wrap(f):
        try:
            f()
        except BaseException as e:  # noqa: BLE001
            errs.append(e)

    ts = [threading.Thread(target=wrap, args=(f,)) for f in fns]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errs:
        raise errs[0]


# ---------------------------------------------------------------- container jobs


FLOOR_NET = "bench-floor-slot"


def ensure_network(eng: Engine) -> None:
    st, _ = eng.call("GET", f"/networks/{FLOOR_NET}", ok=None)
    if st == 404:
        eng.call("POST", "/networks/create", {"Name": FLOOR_NET, "CheckDuplicate": True, "Labels": LABEL})


def job(image: str, name: str, stages: int = 1, helper_image: str | None = None) -> None:
    """A container job: prepare (slot network inspect, create, start), `stages` stage scripts
    (exec create, start, inspect each), cleanup (force-remove by name). With helper_image, the
    helper row's sequence: prepare_script in the job container, get_sources in the helper
    (an exec create answered 404 is the cue to create it, then create, start, exec),
    build_script in the job container, cleanup_file_variables in the helper, both removed."""
    eng = Engine()
    try:
        eng.call("GET", f"/networks/{FLOOR_NET}")
        eng.call("POST", "/containers/create", {"Image": image, "Cmd": ["sleep", "3600"], "Labels": LABEL,
                                                 "HostConfig": {"NetworkMode": FLOOR_NET}},
                 query={"name": name})
        eng.call("POST", f"/containers/{name}/start")
        if helper_image is None:
            for _ in range(stages):
                eng.exec_run(name, ["true"])
        else:
            helper = name + "-helper"
            eng.exec_run(name, ["true"])  # prepare_script
            st, _ = eng.call("POST", f"/containers/{helper}/exec", {"Cmd": ["true"]}, ok=(404,))
            eng.call("POST", "/containers/create", {"Image": helper_image, "Cmd": ["sleep", "3600"], "Labels": LABEL,
                                                     "HostConfig": {"NetworkMode": FLOOR_NET}},
                     query={"name": helper})
            eng.call("POST", f"/containers/{helper}/start")
            eng.exec_run(helper, ["true"])  # get_sources
            eng.exec_run(name, ["true"])  # build_script
            eng.exec_run(helper, ["true"])  # cleanup_file_variables
            eng.call("DELETE", f"/containers/{helper}", query={"force": "1", "v": "1"})
        eng.call("DELETE", f"/containers/{name}", query={"force": "1", "v": "1"})
    finally:
        eng.close()


def exec_stream(container: str, nbytes: int) -> None:
    eng = Engine()
    try:
        if eng.exec_run(container, ["head", "-c", str(nbytes), "/dev/zero"]) != 0:
            raise BenchError("floor: head in the job container failed")
    finally:
        eng.close()


# ---------------------------------------------------------------- the deployment rows


def list_project(eng: Engine, project: str) -> list[dict]:
    _, cs = eng.call("GET", "/containers/json", query={
        "all": "1", "filters": json.dumps({"label": [f"com.docker.compose.project={project}"]})})
    return cs


def router_switch(eng: Engine, router: str) -> None:
    """The preview or live switch: nginx -t by exec, then the HUP."""
    if eng.exec_run(router, ["nginx", "-t"]) != 0:
        raise BenchError(f"floor: nginx -t in {router} failed")
    eng.call("POST", f"/containers/{router}/kill", query={"signal": "HUP"})


class StackCopy:
    """The containers of a color as the driver created them (inspected once), recreated under
    project `benchapp-floor` by bare engine calls: network create, per container create (its
    first network at create) + connect to the others + start, then the router's switch; and
    removal: list, per container stop + remove, network remove, the switch."""

    def __init__(self, src_project: str, dst_project: str, router: str | None):
        self.src, self.dst, self.router = src_project, dst_project, router
        self.specs: list[tuple[str, dict, dict, str, list[str]]] = []  # name, config, hostconfig, net, others
        self.network = f"{dst_project}-network"

    def capture(self) -> None:
        eng = Engine()
        try:
            own_nets: set[str] = set()
            for c in list_project(eng, self.src):
                _, ins = eng.call("GET", f"/containers/{c['Id']}/json")
                name = ins["Name"].lstrip("/").replace(self.src, self.dst)
                cfg = dict(ins["Config"])
                for k in ("Hostname", "Domainname"):
                    cfg.pop(k, None)
                cfg["Labels"] = dict(LABEL, **{"com.docker.compose.project": self.dst})
                hc = dict(ins["HostConfig"])
                nets = list(ins["NetworkSettings"]["Networks"])
                mine = [n for n in nets if n.startswith(self.src)]
                own_nets.update(mine)
                others = [n for n in nets if n not in mine]
                hc["NetworkMode"] = self.network
                self.specs.append((name, cfg, hc, self.network, others))
            if len(own_nets) > 1:
                raise BenchError(f"floor: {self.src} has {len(own_nets)} networks of its own; the floor copies one")
            if not self.specs:
                raise BenchError(f"floor: no containers of {self.src} to copy")
        finally:
            eng.close()

    def up(self) -> None:
        eng = Engine()
        try:
            eng.call("POST", "/networks/create", {"Name": self.network, "CheckDuplicate": True,
                                                  "Labels": dict(LABEL, **{"com.docker.compose.project": self.dst})})

            def one(spec):
                name, cfg, hc, net, others = spec
                e = Engine()
                try:
                    _, c = e.call("POST", "/containers/create", dict(cfg, HostConfig=hc), query={"name": name})
                    for o in others:
                        e.call("POST", f"/networks/{o}/connect", {"Container": c["Id"]})
                    e.call("POST", f"/containers/{c['Id']}/start")
                finally:
                    e.close()

            parallel([lambda s=s: one(s) for s in self.specs])
            if self.router:
                router_switch(eng, self.router)
        finally:
            eng.close()

    def down(self) -> None:
        eng = Engine()
        try:
            cs = list_project(eng, self.dst)

            def one(cid: str) -> None:
                e = Engine()
                try:
                    e.call("POST", f"/containers/{cid}/stop", ok=(204, 304))
                    e.call("DELETE", f"/containers/{cid}")
                finally:
                    e.close()

            if self.router:
                router_switch(eng, self.router)
            parallel([lambda i=c["Id"]: one(i) for c in cs])
            eng.call("DELETE", f"/networks/{self.network}")
        finally:
            eng.close()


def promote(project: str, router: str) -> None:
    eng = Engine()
    try:
        if not list_project(eng, project):
            raise BenchError(f"floor: no containers of {project}")
        router_switch(eng, router)
    finally:
        eng.close()


def durable_noop(project: str) -> None:
    eng = Engine()
    try:
        if not list_project(eng, project):
            raise BenchError(f"floor: no containers of {project}")
    finally:
        eng.close()


def remove_all(projects: tuple[str, ...] = ("benchapp-floor",)) -> None:
    """Everything the floors created, and nothing else: by the label io.executor.bench=floor."""
    eng = Engine()
    try:
        _, cs = eng.call("GET", "/containers/json", query={
            "all": "1", "filters": json.dumps({"label": ["io.executor.bench=floor"]})})
        for c in cs:
            eng.call("DELETE", f"/containers/{c['Id']}", query={"force": "1", "v": "1"}, ok=(204, 404))
        _, ns = eng.call("GET", "/networks", query={"filters": json.dumps({"label": ["io.executor.bench=floor"]})})
        for n in ns:
            eng.call("DELETE", f"/networks/{n['Id']}", ok=(204, 404))
    finally:
        eng.close()
