"""Engine faults a real engine will not produce on demand (issue 6 item 2), driver-level:
the built binary, under valgrind, talks to a scripted fake engine (fake_engine.py) on a unix
socket of its own, through the admin's docker_host, the way gitlab-runner runs it.

  * the engine answers 500 to everything but /_ping during a container job's prepare;
  * the hijacked exec stream of a `run` is cut in the middle of a frame;
  * the pull-progress stream of a missing image is cut in the middle of a chunk;
  * `executor durable setup` (a deployment action, local command) against an engine that
    answers 500.

Each must end in a system failure (exit 2, retried by `retry: when: runner_system_failure`)
whose stderr is one clear line naming what broke, with no crash (no signal, no valgrind
error: invalid access, uninitialised value, definite or indirect leak) and no descriptor
left open at exit. No real engine is touched (NEEDS_DOCKER is False: no lock needed).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import vglib  # noqa: E402
from e2elib import (JOB_IMAGE, REPO, RUNNER_TOKEN, check, executor_bin, new_job, run_job,  # noqa: E402
                    state_dir, write_admin_config)
from fake_engine import FakeEngine, Reply, chunk, error_reply, frame, json_reply  # noqa: E402
from harness import RunnerConfig  # noqa: E402

NEEDS_DOCKER = False

MSG500 = "e2e fake engine: internal failure (injected)"


class Fake:
    """A fake engine, an admin file pointing at it, a valgrind wrapper and its logs."""

    def __init__(self, name: str, handler) -> None:
        self.dir = tempfile.mkdtemp(prefix=f"fake-{name}-", dir=state_dir())
        self.engine = FakeEngine(os.path.join(self.dir, "engine.sock"), handler)
        self.config = write_admin_config(os.path.join(self.dir, "executor.conf"), os.path.join(self.dir, "state"),
                                         docker_host=self.engine.host(), allowed_images="executor-test/*, echobase/*")
        self.logs = os.path.join(self.dir, "valgrind")
        self.bin = vglib.wrapper(self.logs, executor_bin())

    def runner(self, **kw) -> RunnerConfig:
        base = dict(token=RUNNER_TOKEN, name="e2e-fake-engine", preparation_retry_interval=0.2,
                    extra_env={"EXECUTOR_CONFIG": self.config, "NO_COLOR": "1"})
        base.update(kw)
        return RunnerConfig.for_driver(self.bin, **base)

    def valgrind_clean(self) -> dict:
        s = vglib.summarize(self.logs)
        check(s["processes"] > 0, f"no valgrind log in {self.logs}")
        check(not s["errors"], vglib.report(s) + "\n" + "\n".join(f"{n}:\n{t}" for n, t in s["logs_with_errors"]))
        check(not s["fd_leaks"], f"descriptors left open at exit: {s['fd_leaks']}")
        print(f"  {vglib.report(s)}", flush=True)
        return s

    def close(self) -> None:
        self.engine.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def _one_clear_line(stderr: str, *needles: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    check(len(lines) == 1, f"exactly one line on stderr, got {len(lines)}: {lines}")
    for n in needles:
        check(n in lines[0], f"the line names {n!r}: {lines[0]!r}")
    return lines[0]


def _error_line(stderr: str, *needles: str) -> str:
    """Progress lines may come first; exactly one ERROR line, naming what broke."""
    lines = [ln for ln in stderr.splitlines() if "ERROR" in ln]
    check(len(lines) == 1, f"exactly one ERROR line on stderr, got {len(lines)}: {stderr[-2000:]}")
    for n in needles:
        check(n in lines[0], f"the line names {n!r}: {lines[0]!r}")
    return lines[0]


def _no_crash(res, f: "Fake | None" = None) -> None:
    for c in res.calls:
        check(c.returncode is not None and c.returncode >= 0, f"{c.kind} {c.stage or ''} died of signal "
              f"{-(c.returncode or 0)}: {c.stderr_text[-1500:]}")
        if c.returncode == vglib.ERROR_EXIT and f is not None:
            f.valgrind_clean()
        check(c.returncode != vglib.ERROR_EXIT, f"{c.kind} {c.stage or ''}: valgrind found errors "
              f"(exit {vglib.ERROR_EXIT})")


def test_engine_answering_500_fails_prepare_as_one_clear_system_failure():
    f = Fake("500", lambda req: None if req.path == "/_ping" else error_reply(500, MSG500))
    try:
        job = new_job(["echo never-ran"])
        res = run_job(job, f.runner())
        check(res.failure == "system", f"a system failure, got {res.status}/{res.failure}: {res.final_line}")
        _no_crash(res, f)
        prep = res.calls_of("prepare")
        check(len(prep) == 3 and all(c.returncode == 2 for c in prep),
              f"prepare exits 2 (SYSTEM_FAILURE_EXIT_CODE) and is retried: {[c.returncode for c in prep]}")
        line = _one_clear_line(prep[0].stderr_text, MSG500)
        check(not re.search(r"([a-z][^:]{5,}): \1:", line), f"each context said once: {line!r}")
        check(not res.stages, f"no stage ran: {res.stages}")
        check(len(f.engine.requests) > 3, f"the driver reached the fake engine: {f.engine.paths()}")
        print(f"  prepare: {line}", flush=True)
        f.valgrind_clean()
    finally:
        f.close()


def test_exec_stream_cut_mid_frame_fails_the_run_as_one_clear_system_failure():
    head = (b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
            b"Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
    # one whole frame, then a frame announcing 100 bytes of which 5 arrive
    cut = frame(1, b"started\n") + frame(1, b"x" * 100)[:8 + 5]

    def handler(req):
        if req.method == "GET" and req.path in ("/containers/json", "/networks"):
            return json_reply([])
        if req.method == "GET" and req.path.startswith("/containers/") and req.path.endswith("/json"):
            return json_reply({"Id": "e2efake", "State": {"Running": True, "Status": "running"}})
        if req.method == "POST" and req.path.endswith("/exec"):
            return json_reply({"Id": "e2efakeexec"}, 201, "Created")
        if req.method == "POST" and req.path == "/exec/e2efakeexec/start":
            return Reply(head, after_stdin=cut)
        if req.method == "GET" and req.path == "/exec/e2efakeexec/json":
            return json_reply({"ExitCode": 0, "Running": False})
        return None

    f = Fake("cut", handler)
    try:
        job = new_job(["echo never-ran"], git_strategy="none")
        res = run_job(job, f.runner(prepare_exec="/bin/true", prepare_args=[]))
        check(res.failure == "system", f"a system failure, got {res.status}/{res.failure}: {res.final_line}")
        _no_crash(res, f)
        runs = res.calls_of("run")
        check(runs and runs[0].returncode == 2, f"the first run exits 2: {[c.returncode for c in runs]}")
        check(len(runs) == 1, f"nothing runs after the system failure: {res.stages}")
        line = _one_clear_line(runs[0].stderr_text, "stage")
        low = line.lower()
        check(any(w in low for w in ("broke", "cut", "truncated", "ended", "malformed")),
              f"the line says the stream broke: {line!r}")
        check("started\n" in runs[0].stdout_text, "the whole frame before the cut reached the job log: "
              f"{runs[0].stdout_text!r}")
        check(res.calls[-1].kind == "cleanup" and res.calls[-1].returncode == 0,
              f"cleanup ran and succeeded: {res.calls[-1]!r} {res.calls[-1].stderr_text[-1500:]}; "
              f"requests {f.engine.paths()}")
        check(any(r.path == "/exec/e2efakeexec/start" for r in f.engine.requests), "the exec was started")
        print(f"  run: {line}", flush=True)
        f.valgrind_clean()
    finally:
        f.close()


def test_pull_stream_cut_mid_chunk_fails_prepare_as_one_clear_system_failure():
    image = "executor-test/e2efake-pull:latest"
    progress = b'{"status":"Pulling from executor-test/e2efake-pull","id":"latest"}\r\n'

    def handler(req):
        # whatever the order prepare asks in: networks can be created, the image is missing
        if req.method == "GET" and req.path in ("/containers/json", "/networks"):
            return json_reply([])
        if req.method == "POST" and req.path == "/networks/create":
            return json_reply({"Id": "e2efakenet", "Warning": ""}, 201, "Created")
        if req.method == "POST" and req.path == "/containers/create":
            return error_reply(404, f"No such image: {image}")
        if req.method == "GET" and req.path.startswith("/images/"):
            return error_reply(404, f"No such image: {image}")
        if req.method == "POST" and req.path == "/images/create":
            return Reply(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
                         b"Api-Version: 1.41\r\n\r\n" + chunk(progress) + b"400\r\n" + b'{"status":"Downloa',
                         close=True)
        return None

    f = Fake("pull", handler)
    try:
        job = new_job(["echo never-ran"], image=image)
        res = run_job(job, f.runner())
        check(res.failure == "system", f"a system failure, got {res.status}/{res.failure}: {res.final_line}")
        _no_crash(res, f)
        prep = res.calls_of("prepare")
        check(prep and all(c.returncode == 2 for c in prep), f"prepare exits 2: {[c.returncode for c in prep]}")
        check("Pulling from executor-test/e2efake-pull" in prep[0].stderr_text, "the progress before the cut is shown")
        line = _error_line(prep[0].stderr_text, image, "broke")
        check(any(r.path == "/images/create" for r in f.engine.requests), "the pull was started")
        check(all(c.returncode == 0 for c in res.calls_of("cleanup")), "cleanup succeeds")
        print(f"  pull: {line}", flush=True)
        f.valgrind_clean()
    finally:
        f.close()


def test_durable_setup_against_an_engine_answering_500():
    f = Fake("durable", lambda req: None if req.path == "/_ping" else error_reply(500, MSG500))
    try:
        repo = os.path.join(f.dir, "checkout")
        shutil.copytree(os.path.join(REPO, "templates", "example"), repo, symlinks=True)
        env = dict(os.environ, EXECUTOR_CONFIG=f.config, NO_COLOR="1", EXECUTOR_APP="e2efake",
                   EXECUTOR_DB_PORT="1", EXECUTOR_LIVE_PORT="2", EXECUTOR_PREVIEW_PORT="3")
        env.pop("DOCKER_HOST", None)
        import subprocess
        lines = []
        for attempt in (1, 2):
            p = subprocess.run([f.bin, "durable", "setup", "e2efake"], cwd=repo, env=env, capture_output=True,
                               text=True, timeout=300)
            check(p.returncode == 2, f"attempt {attempt}: exit 2 (system failure), got {p.returncode}: "
                  f"{p.stderr[-2000:]}")
            errs = [ln for ln in p.stderr.splitlines() if "ERROR" in ln]
            check(len(errs) == 1, f"attempt {attempt}: one ERROR line: {p.stderr[-2000:]}")
            check(MSG500 in errs[0], f"attempt {attempt}: the line carries the engine's message: {errs[0]!r}")
            check("waiting for the lock" not in p.stderr, f"attempt {attempt}: the lock was left held: {p.stderr}")
            lines.append(errs[0])
        print(f"  durable setup: {lines[0]}", flush=True)
        f.valgrind_clean()
    finally:
        f.close()
