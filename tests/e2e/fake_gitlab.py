"""A small GitLab for the helper tests and the demo (python3 stdlib only): git over HTTP and
the job artifacts API, on the host's address on Docker's default bridge, where every
container reaches it.

  * git: `git http-backend` (Debian's git package) as a CGI under /<namespace>/<project>.git,
    for clones and fetches (smart HTTP). Like GitLab it asks for credentials (401 with a
    Basic challenge) and takes user gitlab-ci-token with a job token it knows.
  * artifacts (reference gitlab-runner-helper.md §3): POST /api/v4/jobs/:id/artifacts
    (multipart/form-data, part "file", JOB-TOKEN header: the job's own token), answered 201;
    GET /api/v4/jobs/:id/artifacts (JOB-TOKEN: a token of a job of the same pipeline, as
    GitLab allows a dependency's download), answered with the archive, 404 when there is
    none, 403 for an unknown token. Every upload is kept (FakeGitLab.uploads) so a test
    opens what the runner's uploader sent.

    with FakeGitLab(repos_dir) as gl:
        gl.add_job(job)                  # its token may fetch and upload
        job.repo_url = gl.repo_url(job, "e2e/helper")
        ... gl.uploads[job.id] -> Upload(filename, query, data, content_type)
"""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import re
import socket
import subprocess
import threading
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PORT_RANGE = range(29500, 29600)  # this module's own ports


@dataclass
class Upload:
    job_id: int
    filename: str
    query: dict[str, str]
    data: bytes
    token: str
    content_type: str = ""


@dataclass
class Request:
    method: str
    path: str
    status: int
    token: str = ""


def bridge_address() -> str:
    """The host's address on Docker's default bridge: containers on any bridge network (and
    a helper sharing a job container's network) reach it."""
    p = subprocess.run(["docker", "network", "inspect", "bridge"], capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError(f"docker network inspect bridge: {p.stderr.strip()}")
    info = json.loads(p.stdout)[0]
    for c in (info.get("IPAM") or {}).get("Config") or []:
        if c.get("Gateway"):
            return c["Gateway"]
        if c.get("Subnet") and ":" not in c["Subnet"]:
            return str(next(ipaddress.ip_network(c["Subnet"], strict=False).hosts()))
    raise RuntimeError("cannot find the Docker bridge's address (docker network inspect bridge)")


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"
    protocol_version = "HTTP/1.0"

    def log_message(self, fmt: str, *args: Any) -> None:  # quiet
        pass

    # ---- plumbing

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _send(self, status: int, body: bytes = b"", ctype: str = "application/json",
              extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _record(self, status: int, token: str = "") -> None:
        with self.server.lock:
            self.server.requests.append(Request(self.command, self.path, status, token))

    # ---- routes

    def do_GET(self) -> None:  # noqa: N802
        self._route()

    def do_POST(self) -> None:  # noqa: N802
        self._route()

    def _route(self) -> None:
        path = urllib.parse.urlsplit(self.path).path
        m = re.fullmatch(r"/api/v4/jobs/(\d+)/artifacts", path)
        if m:
            if self.command == "POST":
                return self._upload(int(m.group(1)))
            return self._download(int(m.group(1)))
        if ".git/" in path or path.endswith(".git"):
            return self._git()
        self._record(404)
        self._send(404, b'{"message":"404 Not Found"}')

    def _upload(self, job_id: int) -> None:
        token = self.headers.get("JOB-TOKEN", "")
        body = self._body()
        if self.server.tokens.get(token) != job_id:
            self._record(403, token)
            return self._send(403, b'{"message":"403 Forbidden"}')
        ctype = self.headers.get("Content-Type", "")
        m = re.search(r"boundary=([^;]+)", ctype)
        if not m or not ctype.startswith("multipart/form-data"):
            self._record(400, token)
            return self._send(400, b'{"message":"400 Bad request - file is missing"}')
        boundary = m.group(1).strip('"').encode()
        filename, data = "", None
        for part in body.split(b"--" + boundary):
            head, sep, content = part.partition(b"\r\n\r\n")
            if not sep or b'name="file"' not in head:
                continue
            fm = re.search(rb'filename="([^"]*)"', head)
            filename = fm.group(1).decode() if fm else ""
            data = content[:-2] if content.endswith(b"\r\n") else content
        if data is None:
            self._record(400, token)
            return self._send(400, b'{"message":"400 Bad request - file is missing"}')
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
        with self.server.lock:
            self.server.uploads.setdefault(job_id, []).append(
                Upload(job_id, filename, query, data, token, ctype))
        self._record(201, token)
        self._send(201, b"201")

    def _download(self, job_id: int) -> None:
        token = self.headers.get("JOB-TOKEN", "")
        if token not in self.server.tokens:
            self._record(403, token)
            return self._send(403, b'{"message":"403 Forbidden"}')
        with self.server.lock:
            ups = [u for u in self.server.uploads.get(job_id, []) if u.query.get("artifact_type", "archive") == "archive"]
        if not ups:
            self._record(404, token)
            return self._send(404, b'{"message":"404 Not Found"}')
        self._record(200, token)
        self._send(200, ups[-1].data, "application/octet-stream")

    def _git(self) -> None:
        auth = self.headers.get("Authorization", "")
        user = token = ""
        if auth.startswith("Basic "):
            try:
                user, _, token = base64.b64decode(auth[6:]).decode().partition(":")
            except ValueError:
                pass
        if user != "gitlab-ci-token" or token not in self.server.tokens:
            self._body()
            self._record(401, token)
            return self._send(401, b"HTTP Basic: Access denied\n", "text/plain",
                              {"WWW-Authenticate": 'Basic realm="GitLab"'})
        u = urllib.parse.urlsplit(self.path)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "GIT_PROJECT_ROOT": self.server.repos,
               "GIT_HTTP_EXPORT_ALL": "1", "REQUEST_METHOD": self.command,
               "PATH_INFO": urllib.parse.unquote(u.path), "QUERY_STRING": u.query, "REMOTE_USER": user,
               "REMOTE_ADDR": self.client_address[0], "CONTENT_TYPE": self.headers.get("Content-Type", ""),
               "GATEWAY_INTERFACE": "CGI/1.1", "SERVER_PROTOCOL": "HTTP/1.0"}
        if self.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
        if self.headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
        body = self._body()
        env["CONTENT_LENGTH"] = str(len(body))
        p = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True, timeout=120)
        head, _, out = p.stdout.partition(b"\r\n\r\n")
        if not _:
            head, _, out = p.stdout.partition(b"\n\n")
        status, headers = 200, {}
        for line in head.decode("latin-1").splitlines():
            k, _, v = line.partition(":")
            if k.lower() == "status":
                status = int(v.strip().split()[0])
            elif k:
                headers[k.strip()] = v.strip()
        ctype = headers.pop("Content-Type", "application/octet-stream")
        self._record(status, token)
        self._send(status, out, ctype, headers)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], repos: str):
        super().__init__(addr, _Handler)
        self.repos = repos
        self.lock = threading.Lock()
        self.tokens: dict[str, int] = {}  # job token -> job id
        self.uploads: dict[int, list[Upload]] = {}
        self.requests: list[Request] = []


class FakeGitLab:
    """The server on the bridge address, in a thread, for a `with` block."""

    def __init__(self, repos: str, host: str | None = None):
        self.repos = repos
        self.host = host or bridge_address()
        last: OSError | None = None
        for port in PORT_RANGE:
            try:
                self.server = _Server((self.host, port), repos)
                break
            except OSError as e:
                last = e
        else:
            raise RuntimeError(f"no free port in {PORT_RANGE.start}-{PORT_RANGE.stop - 1} on {self.host}: {last}")
        self.port = self.server.server_address[1]
        self.url = f"http://{self.host}:{self.port}/"
        self._thread = threading.Thread(target=self.server.serve_forever, name="fake-gitlab", daemon=True)

    def __enter__(self) -> "FakeGitLab":
        self._thread.start()
        socket.create_connection((self.host, self.port), timeout=5).close()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def add_job(self, job: Any) -> None:
        """The job's token may fetch the repositories and upload its own artifacts."""
        with self.server.lock:
            self.server.tokens[job.token] = job.id

    def repo_url(self, job: Any, project: str) -> str:
        """What GitLab puts in git_info.repo_url: the job token in the URL."""
        return f"http://gitlab-ci-token:{job.token}@{self.host}:{self.port}/{project}.git"

    @property
    def uploads(self) -> dict[int, list[Upload]]:
        with self.server.lock:
            return {k: list(v) for k, v in self.server.uploads.items()}

    @property
    def requests(self) -> list[Request]:
        with self.server.lock:
            return list(self.server.requests)
