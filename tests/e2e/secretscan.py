"""Every log the e2e tests produce, searched for every secret the run generated (issue 6 item 7).

run.py calls install() before the first test and verify() after the last. install() hooks
  * harness.RESULT_HOOKS: every job run through the harness (any module): its job log, and
    each driver call's argv, stdout and stderr as the driver wrote them (before the runner's
    masking);
  * subprocess.run: every local `executor ...` command a test runs (argv, stdout, stderr);
and writes each into <E2E_STATE_DIR>/logs/. After every job and command it harvests the
secrets that exist by then under E2E_STATE_DIR (the driver state of every module):
secrets.json values (database passwords, router credentials) and the body lines of every
private key (*key*.pem: the env CAs' and servers' TLS keys); plus every job's token and
masked variables, the registry passwords of every job's payload `credentials`, and what a
test registers with register() (tests/e2e/test_registry.py: its registry's passwords). verify() searches every log for every secret:
  * generated secrets, TLS keys, registry passwords: in everything (job logs, raw driver
    output, argv);
  * job tokens and masked variables: in the job logs (the runner masks what a script
    prints; the driver must not undo that by printing them itself).
"""

from __future__ import annotations

import json
import os
import re
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))

_state = {"dir": "", "n": 0, "bytes": 0}
GENERATED: dict[str, str] = {}  # secret -> where it was found
JOB_ONLY: dict[str, str] = {}  # masked variables and job tokens -> which job
_LOGS: list[tuple[str, bool]] = []  # (path, is a job log)
_DRIVER_NAMES = ("executor", "executor-under-valgrind")
_orig_run = subprocess.run


def _slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", s)[:80]


def record(label: str, data: bytes | str | None, job_log: bool = False) -> None:
    if not _state["dir"] or not data:
        return
    if isinstance(data, str):
        data = data.encode("utf-8", "replace")
    _state["n"] += 1
    path = os.path.join(_state["dir"], f"{_state['n']:05d}-{_slug(label)}.log")
    with open(path, "wb") as f:
        f.write(data)
    _state["bytes"] += len(data)
    _LOGS.append((path, job_log))


def harvest(root: str | None = None) -> None:
    """Secrets that exist now under the state directory of the run."""
    root = root or os.environ.get("E2E_STATE_DIR", "")
    if not root:
        return
    for d, dirs, files in os.walk(root):
        if d.startswith(_state["dir"]):
            continue
        for fn in files:
            p = os.path.join(d, fn)
            try:
                if fn == "secrets.json":
                    with open(p) as f:
                        doc = json.load(f)
                    for k, v in (doc.get("secrets") or {}).items():
                        if isinstance(v, str) and len(v) >= 12 and re.search(r"PASSWORD|SECRET|TOKEN|KEY", k):
                            GENERATED.setdefault(v, f"{k} of {p}")
                elif fn.endswith(".pem") and "key" in fn:
                    with open(p) as f:
                        body = [ln.strip() for ln in f if ln.strip() and not ln.startswith("-----")]
                    for ln in body[:-1]:  # the full lines (the last may be short)
                        if len(ln) >= 40:
                            GENERATED.setdefault(ln, f"a line of the private key {p}")
            except (OSError, ValueError):
                continue


def register(secret: str, where: str) -> None:
    """A secret a test made (a registry password, ...): searched in every log of the run."""
    if secret:
        GENERATED.setdefault(secret, where)


def on_job(res) -> None:
    jid = res.job.id
    record(f"job-{jid}-log", res.log, job_log=True)
    for i, c in enumerate(res.calls):
        where = f"job-{jid}-{i}-{c.kind}-{c.stage or ''}"
        record(where + "-argv", "\0".join(c.argv))
        record(where + "-stdout", c.stdout)
        record(where + "-stderr", c.stderr)
    JOB_ONLY.setdefault(res.job.token, f"the token of job {jid}")
    for v in res.job.user_variables:
        if v.masked and len(v.value) >= 8:
            JOB_ONLY.setdefault(v.value, f"masked variable {v.key} of job {jid}")
    for c in getattr(res.job, "credentials", []):
        if len(c.password) >= 8:  # the payload's registry passwords: in nothing at all
            GENERATED.setdefault(c.password, f"the {c.type} password for {c.url} of job {jid}")
    harvest()


def _is_driver(argv) -> bool:
    if not isinstance(argv, (list, tuple)) or not argv:
        return False
    a0 = str(argv[0])
    return os.path.basename(a0) in _DRIVER_NAMES or a0 == os.environ.get("EXECUTOR_BIN")


def _run(*args, **kw):
    p = _orig_run(*args, **kw)
    argv = args[0] if args else kw.get("args")
    if _is_driver(argv):
        label = "local-" + "-".join(str(a) for a in argv[1:4])
        record(label + "-argv", "\0".join(str(a) for a in argv))
        record(label + "-stdout", p.stdout)
        record(label + "-stderr", p.stderr)
        harvest()
    return p


def install(log_dir: str) -> None:
    import harness

    os.makedirs(log_dir, exist_ok=True)
    _state["dir"] = log_dir
    if on_job not in harness.RESULT_HOOKS:
        harness.RESULT_HOOKS.append(on_job)
    subprocess.run = _run


def find(secrets: dict[str, str], logs: list[tuple[str, bool]], job_only: dict[str, str]) -> list[str]:
    hits = []
    for path, is_job_log in logs:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            continue
        for s, where in secrets.items():
            if s.encode() in data:
                hits.append(f"{where} appears in {os.path.basename(path)}")
        if is_job_log:
            for s, where in job_only.items():
                if s.encode() in data:
                    hits.append(f"{where} appears in {os.path.basename(path)}")
    return hits


def verify() -> tuple[str, list[str]]:
    harvest()
    hits = find(GENERATED, _LOGS, JOB_ONLY)
    summary = (f"secrets: {len(GENERATED)} generated secrets and key lines, {len(JOB_ONLY)} job tokens and "
               f"masked variables, searched in {len(_LOGS)} logs ({_state['bytes'] / 1e6:.1f} MB): "
               f"{len(hits)} found")
    return summary, hits


# ---- run.py runs each module's tests in a child process: what a child found comes back ----

def snapshot() -> dict:
    """What this process knows: sent by a test process to run.py after each test."""
    return {"generated": GENERATED, "job_only": JOB_ONLY, "logs": _LOGS, "n": _state["n"],
            "bytes": _state["bytes"]}


def merge(snap: dict) -> None:
    """A test process's snapshot() into this process's record."""
    GENERATED.update(snap["generated"])
    JOB_ONLY.update(snap["job_only"])
    known = {p for p, _ in _LOGS}
    _LOGS.extend((p, bool(j)) for p, j in snap["logs"] if p not in known)
    _state["n"] = max(_state["n"], snap["n"])
    _state["bytes"] = max(_state["bytes"], snap["bytes"])


def adopt_orphans() -> None:
    """After a test process was killed: the logs it wrote since its last snapshot are
    searched too (as driver output, for every generated secret), and the next process
    numbers its logs after them."""
    if not _state["dir"]:
        return
    known = {p for p, _ in _LOGS}
    for fn in sorted(os.listdir(_state["dir"])):
        p = os.path.join(_state["dir"], fn)
        head = fn.split("-", 1)[0]
        if head.isdigit():
            _state["n"] = max(_state["n"], int(head))
        if p not in known:
            _LOGS.append((p, False))
            try:
                _state["bytes"] += os.path.getsize(p)
            except OSError:
                pass
