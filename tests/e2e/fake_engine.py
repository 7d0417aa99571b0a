"""A scripted fake Docker engine on a unix socket (Python 3.11 stdlib only).

    eng = FakeEngine(path, handler)      # listening; eng.close() stops it
    handler(req) -> Reply | None         # None: 404 {"message": "no such object"}

Each connection is served by its own thread, HTTP/1.1 with keep-alive (libcurl reuses
connections); request bodies by Content-Length or chunked. /_ping is answered by the
engine itself (Api-Version: 1.41) unless the handler answers it. A Reply is written as
is; `close=True` closes the connection after it (a stream cut mid-frame), `hold=True`
keeps the connection open without answering more (the client's bytes are read and dropped
until it hangs up), `after_stdin=b"..."` (a hijacked exec) reads the client's stdin until it
shuts its side, then writes those bytes and closes. Every request is recorded in eng.requests as
(method, path-without-version, query).
"""

from __future__ import annotations

import json
import os
import re
import socket
import struct
import threading
from dataclasses import dataclass, field

_VERSION = re.compile(r"^/v\d+\.\d+(/.*)$")


@dataclass
class Request:
    method: str
    path: str  # without /vX.Y
    query: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Reply:
    data: bytes
    close: bool = False
    hold: bool = False
    after_stdin: bytes | None = None  # hijack: read the client's stdin to EOF, write this, close


def json_reply(obj, status: int = 200, reason: str = "OK") -> Reply:
    body = json.dumps(obj).encode()
    return Reply(f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nApi-Version: 1.41\r\n"
                 f"Content-Length: {len(body)}\r\n\r\n".encode() + body)


def error_reply(status: int, message: str) -> Reply:
    reason = {400: "Bad Request", 404: "Not Found", 409: "Conflict", 500: "Internal Server Error"}.get(status, "Error")
    return json_reply({"message": message}, status, reason)


def frame(stream: int, data: bytes) -> bytes:
    """One frame of Docker's multiplexed stream (8-byte header)."""
    return struct.pack(">BxxxI", stream, len(data)) + data


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


@dataclass
class FakeEngine:
    path: str
    handler: object
    requests: list[Request] = field(default_factory=list)
    connections: int = 0

    def __post_init__(self) -> None:
        if os.path.exists(self.path):
            os.unlink(self.path)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(self.path)
        self._sock.listen(64)
        self._stop = False
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def host(self) -> str:
        return f"unix://{self.path}"

    def close(self) -> None:
        self._stop = True
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
        with self._lock:
            for c in list(self._open):
                try:
                    c.close()
                except OSError:
                    pass
        if os.path.exists(self.path):
            os.unlink(self.path)

    def paths(self) -> list[str]:
        return [f"{r.method} {r.path}" for r in self.requests]

    def _accept(self) -> None:
        while not self._stop:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self._open.add(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _read_body(self, conn: socket.socket, buf: bytes, headers: dict[str, str]) -> tuple[bytes, bytes] | None:
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                while b"\r\n" not in buf:
                    d = conn.recv(65536)
                    if not d:
                        return None
                    buf += d
                line, buf = buf.split(b"\r\n", 1)
                n = int(line.split(b";")[0], 16)
                while len(buf) < n + 2:
                    d = conn.recv(65536)
                    if not d:
                        return None
                    buf += d
                body += buf[:n]
                buf = buf[n + 2:]
                if n == 0:
                    return body, buf
        n = int(headers.get("content-length", "0") or 0)
        while len(buf) < n:
            d = conn.recv(65536)
            if not d:
                return None
            buf += d
        return buf[:n], buf[n:]

    def _serve(self, conn: socket.socket) -> None:
        buf = b""
        try:
            while not self._stop:
                while b"\r\n\r\n" not in buf:
                    d = conn.recv(65536)
                    if not d:
                        return
                    buf += d
                head, buf = buf.split(b"\r\n\r\n", 1)
                lines = head.decode("latin-1").split("\r\n")
                method, target = lines[0].split(" ")[:2]
                headers = {}
                for ln in lines[1:]:
                    k, _, v = ln.partition(":")
                    headers[k.strip().lower()] = v.strip()
                got = self._read_body(conn, buf, headers)
                if got is None:
                    return
                body, buf = got
                path, _, query = target.partition("?")
                m = _VERSION.match(path)
                if m:
                    path = m.group(1)
                req = Request(method, path, query, headers, body)
                self.requests.append(req)
                reply = self.handler(req)  # type: ignore[operator]
                if reply is None and path == "/_ping":
                    reply = Reply(b"HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Type: text/plain\r\n"
                                  b"Content-Length: 2\r\n\r\nOK")
                if reply is None:
                    reply = error_reply(404, f"no such object: {path}")
                conn.sendall(reply.data)
                if reply.after_stdin is not None:
                    while conn.recv(65536):
                        pass
                    conn.sendall(reply.after_stdin)
                    return
                if reply.hold:
                    while conn.recv(65536):
                        pass
                    return
                if reply.close:
                    return
        except OSError:
            return
        finally:
            with self._lock:
                self._open.discard(conn)
            try:
                conn.close()
            except OSError:
                pass
