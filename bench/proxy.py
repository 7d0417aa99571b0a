#!/usr/bin/env python3
"""A counting proxy for the Docker Engine API (Python 3.11 stdlib only).

Listens on a unix socket, forwards every connection to the engine's socket and
records each HTTP request that passes: method, path (query string kept), status,
and timings (request sent, response headers back, response body finished).
Keep-alive connections carry several requests; a hijacked connection (exec/attach
start, `101 Switching Protocols` or a raw-stream 200) is piped through unparsed
after its response headers, and counts as one request.

Used by bench/run.py only to COUNT and PROFILE engine calls: timing rows run
against the engine directly, never through this proxy.

    p = CountingProxy("/tmp/bench-proxy.sock"); p.start()
    p.mark("deploy")        # start a new segment
    ...run the action with DOCKER_HOST / docker_host = unix:///tmp/bench-proxy.sock
    calls = p.take()         # the requests since mark(), oldest first
    p.stop()
"""

from __future__ import annotations

import os
import socket
import threading
import time
from dataclasses import dataclass

ENGINE_SOCK = "/var/run/docker.sock"


@dataclass
class Call:
    method: str
    path: str
    t_start: float  # first byte of the request line arrived (monotonic)
    t_sent: float = 0.0  # request fully forwarded to the engine
    t_headers: float = 0.0  # response headers back
    t_end: float = 0.0  # response body finished (or connection closed)
    status: int = 0
    hijacked: bool = False
    conn: int = 0

    @property
    def duration(self) -> float:
        end = self.t_end or self.t_headers or self.t_sent
        return max(0.0, end - self.t_start)

    def short(self) -> str:
        """`GET /containers/json` with API version prefix, ids and query dropped."""
        p = self.path.split("?", 1)[0]
        parts = p.split("/")
        if len(parts) > 1 and parts[1].startswith("v1."):
            parts = [""] + parts[2:]
        out = []
        for i, s in enumerate(parts):
            prev = parts[i - 1] if i else ""
            if prev in ("containers", "exec", "networks", "volumes") and s not in ("json", "create", "prune"):
                s = "{id}"
            elif prev == "images" and s not in ("json", "create", "load", "search", "prune", "get"):
                s = "{name}"
                out.append(s)
                # image names contain slashes: the last part is the verb
                if parts[-1] in ("json", "history", "push", "tag"):
                    out.append(parts[-1])
                break
            out.append(s)
        return f"{self.method} {'/'.join(out)}"


class _Reader:
    """Buffered reads from a socket, with everything read also forwarded to `dst`."""

    def __init__(self, src: socket.socket, dst: socket.socket):
        self.src, self.dst = src, dst
        self.buf = b""
        self.eof = False

    def _fill(self) -> bool:
        if self.eof:
            return False
        try:
            data = self.src.recv(65536)
        except OSError:
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def _send(self, data: bytes) -> None:
        if data:
            self.dst.sendall(data)

    def line(self) -> bytes | None:
        """One CRLF line, forwarded."""
        while b"\n" not in self.buf:
            if len(self.buf) > 1 << 20 or not self._fill():
                return None
        i = self.buf.index(b"\n") + 1
        ln, self.buf = self.buf[:i], self.buf[i:]
        self._send(ln)
        return ln

    def headers(self) -> list[bytes] | None:
        out = []
        while True:
            ln = self.line()
            if ln is None:
                return None
            if ln in (b"\r\n", b"\n"):
                return out
            out.append(ln)

    def exactly(self, n: int) -> bool:
        while n > 0:
            if not self.buf and not self._fill():
                return False
            k = min(n, len(self.buf))
            self._send(self.buf[:k])
            self.buf = self.buf[k:]
            n -= k
        return True

    def chunked(self) -> bool:
        while True:
            ln = self.line()
            if ln is None:
                return False
            try:
                size = int(ln.split(b";", 1)[0].strip(), 16)
            except ValueError:
                return False
            if size == 0:
                while True:  # trailers up to the empty line
                    t = self.line()
                    if t is None:
                        return False
                    if t in (b"\r\n", b"\n"):
                        return True
            if not self.exactly(size + 2):
                return False

    def rest(self) -> None:
        """Pipe everything until EOF."""
        self._send(self.buf)
        self.buf = b""
        while self._fill():
            self._send(self.buf)
            self.buf = b""


def _hdr(headers: list[bytes], name: bytes) -> bytes | None:
    name = name.lower()
    for h in headers:
        k, _, v = h.partition(b":")
        if k.strip().lower() == name:
            return v.strip()
    return None


def _body(r: _Reader, headers: list[bytes]) -> bool:
    te = _hdr(headers, b"transfer-encoding")
    if te and b"chunked" in te.lower():
        return r.chunked()
    cl = _hdr(headers, b"content-length")
    if cl is not None:
        return r.exactly(int(cl))
    return True


class CountingProxy:
    def __init__(self, path: str, upstream: str = ENGINE_SOCK):
        self.path, self.upstream = path, upstream
        self.calls: list[Call] = []
        self.lock = threading.Lock()
        self.sock: socket.socket | None = None
        self.thread: threading.Thread | None = None
        self._conns = 0
        self._segment_start = 0

    # ---- control

    def start(self) -> "CountingProxy":
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(self.path)
        os.chmod(self.path, 0o600)
        s.listen(64)
        self.sock = s
        self.thread = threading.Thread(target=self._accept, daemon=True, name="bench-proxy")
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.sock:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    def mark(self) -> None:
        with self.lock:
            self._segment_start = len(self.calls)

    def record(self, fn) -> Recorded:
        """Run fn() (which talks to this proxy) and collect the calls it made."""
        self.mark()
        t0 = time.monotonic()
        r = fn()
        t1 = time.monotonic()
        return Recorded(r, self.take(), t0, t1)

    def take(self, settle: float = 0.3) -> list[Call]:
        """Requests since mark(); waits briefly for in-flight ones to finish."""
        end = time.monotonic() + settle
        while time.monotonic() < end:
            with self.lock:
                pending = [c for c in self.calls[self._segment_start:] if not c.t_end]
            if not pending:
                break
            time.sleep(0.02)
        with self.lock:
            out = list(self.calls[self._segment_start:])
            self._segment_start = len(self.calls)
        return out

    # ---- plumbing

    def _accept(self) -> None:
        while self.sock is not None:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self._conns += 1
            threading.Thread(target=self._serve, args=(c, self._conns), daemon=True).start()

    def _serve(self, client: socket.socket, conn_id: int) -> None:
        up = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            up.connect(self.upstream)
        except OSError:
            client.close()
            return
        req = _Reader(client, up)
        resp = _Reader(up, client)
        try:
            while True:
                first = req.line()
                if first is None:
                    break
                t0 = time.monotonic()
                parts = first.decode("latin-1").split()
                if len(parts) < 2:
                    break
                call = Call(parts[0], parts[1], t0, conn=conn_id)
                with self.lock:
                    self.calls.append(call)
                hdrs = req.headers()
                if hdrs is None:
                    break
                upgrade = _hdr(hdrs, b"upgrade") is not None
                hijack_path = (call.method == "POST" and (call.path.split("?")[0].endswith("/start") and "/exec/" in call.path
                                                          or call.path.split("?")[0].endswith("/attach")))
                if not _body(req, hdrs):
                    break
                call.t_sent = time.monotonic()
                status_line = resp.line()
                if status_line is None:
                    call.t_end = time.monotonic()
                    break
                try:
                    call.status = int(status_line.split()[1])
                except (IndexError, ValueError):
                    call.status = -1
                rh = resp.headers()
                call.t_headers = time.monotonic()
                if rh is None:
                    call.t_end = call.t_headers
                    break
                ctype = (_hdr(rh, b"content-type") or b"").lower()
                if call.status == 101 or (hijack_path and (upgrade or b"raw-stream" in ctype or b"multiplexed" in ctype)
                                          and call.status < 300):
                    call.hijacked = True
                    self._pipe_raw(req, resp)
                    call.t_end = time.monotonic()
                    break
                if call.method == "HEAD" or call.status in (204, 304) or 100 <= call.status < 200:
                    call.t_end = time.monotonic()
                    continue
                te = _hdr(rh, b"transfer-encoding")
                cl = _hdr(rh, b"content-length")
                if (te and b"chunked" in te.lower()) or cl is not None:
                    ok = _body(resp, rh)
                    call.t_end = time.monotonic()
                    if not ok:
                        break
                    continue
                resp.rest()  # body until close
                call.t_end = time.monotonic()
                break
        except OSError:
            pass
        finally:
            for s in (client, up):
                try:
                    s.close()
                except OSError:
                    pass

    @staticmethod
    def _pipe_raw(req: _Reader, resp: _Reader) -> None:
        def up() -> None:
            try:
                req.rest()
                req.dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass

        t = threading.Thread(target=up, daemon=True)
        t.start()
        try:
            resp.rest()
        except OSError:
            pass
        try:
            resp.dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        t.join(timeout=5)


@dataclass
class Recorded:
    """The engine calls one action made, and when the action ran (monotonic seconds)."""

    result: object
    calls: list[Call]
    t0: float
    t1: float

    def names(self) -> list[str]:
        return [c.short() for c in self.calls]

    def timeline(self) -> dict:
        """Where the action's time went: inside engine calls (their union), before the
        first and after the last call (process start, parsing, TLS material, probes...),
        and the idle stretches between calls (sleeps, polls, HTTPS probes, own work)."""
        calls = self.calls
        wall = self.t1 - self.t0
        if not calls:
            return {"wall_ms": round(wall * 1000), "engine_busy_ms": 0, "calls": []}
        iv = sorted((c.t_start, c.t_end or c.t_headers or c.t_start) for c in calls)
        busy, (a0, b0), gaps = 0.0, iv[0], []
        for a, b in iv[1:]:
            if a > b0:
                busy += b0 - a0
                if a - b0 > 0.05:
                    gaps.append((round((b0 - self.t0) * 1000), round((a - b0) * 1000)))
                a0, b0 = a, b
            else:
                b0 = max(b0, b)
        busy += b0 - a0
        last = max(b for _, b in iv)
        by_kind: dict[str, list[float]] = {}
        for c in calls:
            by_kind.setdefault(c.short(), []).append(c.duration)
        return {
            "wall_ms": round(wall * 1000),
            "engine_busy_ms": round(busy * 1000),
            "before_first_ms": round((iv[0][0] - self.t0) * 1000),
            "after_last_ms": round((self.t1 - last) * 1000),
            "gaps_ms": gaps,
            "by_kind": sorted(((k, len(v), round(sum(v) * 1000), round(max(v) * 1000)) for k, v in by_kind.items()),
                              key=lambda x: -x[2]),
            "calls": [(round((c.t_start - self.t0) * 1000), round(c.duration * 1000, 1), c.status, c.short())
                      for c in calls],
        }


if __name__ == "__main__":  # manual use: python3 bench/proxy.py /tmp/bench-proxy.sock
    import sys

    p = CountingProxy(sys.argv[1] if len(sys.argv) > 1 else "/tmp/bench-proxy.sock").start()
    print(f"proxy on {p.path}; Ctrl-C prints the calls", file=sys.stderr)
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        for c in p.calls:
            print(f"{c.duration * 1000:8.1f} ms {c.status} {c.method} {c.path}")
