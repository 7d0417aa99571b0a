#!/usr/bin/env python3
"""A gitlab-runner emulator for ONE custom-executor job.

It drives a custom-executor driver (config_exec, prepare_exec, run_exec, cleanup_exec)
the way gitlab-runner 19.4 (executors/custom, common/build.go, shells/bash.go) does,
following /work/shared/reference/gitlab-custom-executor.md ("Harness notes"):

  * a per-job temp dir T = mkdtemp($TMPDIR/custom-executorXXXX) holding response.json
    (0600, the spec.Job JSON as json.Encoder writes it) and the build_exit_code path;
  * the environment of every call: the runner's own environ, TMPDIR=T,
    BUILD_FAILURE_EXIT_CODE=1, SYSTEM_FAILURE_EXIT_CODE=2, BUILD_EXIT_CODE_FILE,
    JOB_RESPONSE_FILE, then config's job_env, then CUSTOM_ENV_<K> for every job
    variable in the runner's order, then CUSTOM_ENV_CI_JOB_SERVICES; cwd=T,
    stdin=/dev/null, own process group;
  * config_exec output parsed like Go's json.Unmarshal (one JSON value only);
  * Prepare retried (3 attempts, 3 s apart; cleanup_exec after every failed attempt)
    on anything but a build failure;
  * stages in the runner's order with its skip rules; scripts written as BashWriter
    writes them; `step_script` sent as `build_script`;
  * exit codes mapped as executors/custom/command does (0 ok; 1 = build failure with the
    code from the first line of BUILD_EXIT_CODE_FILE parsed by strconv.Atoi; 2, other
    codes and signals = system failure);
  * CI_JOB_STATUS set before after_script; graceful cancel (only the running user step is
    SIGTERMed, after_script still runs), abort and timeouts (SIGTERM to the process group,
    SIGKILL after graceful_kill_timeout, give up after force_kill_timeout, later stages
    skipped); cleanup_exec always after a Prepare was entered;
  * stdout and stderr of every call captured apart, plus a job log like the runner's
    ending in "Job succeeded" / "ERROR: Job failed: ..." / "ERROR: Job failed (system
    failure): ...".

  * restore_cache, download_artifacts, archive_cache[_on_failure] and
    upload_artifacts_on_{success,failure} generated from the payload's `cache`, `dependencies`
    and `artifacts` (Job(cache=..., dependencies=..., artifacts=..., dotenv=...)) as
    shells/abstract.go writes them at 19.4 with a local cache only (no [runners.cache]): the
    `gitlab-runner --version` guard and its "Missing gitlab-runner. ... is disabled." line,
    cache keys sanitized, fallback keys, policies, `--file`/`--alternate-file` relative to
    the project dir, the CACHE_METADATA env file, the uploader's flags with RunnerConfig.url.

Not emulated (the job payload may not ask for them): a remote cache ([runners.cache]),
secrets, hooks, services' health by the runner (the driver's business), pwsh.
Deliberate, documented deviations: the job log has no per-line timestamps unless
RunnerConfig.timestamps is set; the final status line is always appended even past
output_limit; a call whose pipes stay open (a leaked grandchild) is waited for at most
RunnerConfig.pipe_drain_timeout seconds (Go would wait forever), which is recorded.
Harness extensions beyond the runner: JobControl.signal_current() (send any signal,
e.g. SIGKILL, to the running call's process group) and Job(raw_stages=...) (send stage
names a future runner might use).

Python API:
    from harness import Job, Service, RunnerConfig, JobControl, run_job, start_job
    cfg = RunnerConfig.for_driver("/path/to/executor", token="glrt-e2etest")
    res = run_job(Job(script=["echo hi"]), cfg)
    res.status, res.failure, res.exit_code, res.log, res.text, res.calls

CLI:
    python3 tests/e2e/harness.py job.json [--driver BIN] [--runner runner.json] ...
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import itertools
import json
import os
import posixpath
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

RUNNER_NAME = "gitlab-runner"
RUNNER_VERSION = "19.4.0"
RUNNER_REVISION = "d79f3e7b"
RUNNER_ARCH = "linux/amd64"

ANSI_BOLD_RED = "\033[31;1m"
ANSI_BOLD_GREEN = "\033[32;1m"
ANSI_BOLD_CYAN = "\033[36;1m"
ANSI_YELLOW = "\033[0;33m"
ANSI_RESET = "\033[0;m"
ANSI_CLEAR = "\033[0K"

# helpers/featureflags/flags.go at 19.4.0: (name, default), in declaration order.
FEATURE_FLAGS = [
    ("FF_NETWORK_PER_BUILD", False),
    ("FF_USE_LEGACY_KUBERNETES_EXECUTION_STRATEGY", False),
    ("FF_USE_DIRECT_DOWNLOAD", True),
    ("FF_USE_FASTZIP", True),
    ("FF_DISABLE_UMASK_FOR_DOCKER_EXECUTOR", False),
    ("FF_ENABLE_BASH_EXIT_CODE_CHECK", False),
    ("FF_USE_WINDOWS_LEGACY_PROCESS_STRATEGY", False),
    ("FF_USE_LEGACY_BASH_EVAL", False),
    ("FF_USE_POWERSHELL_PATH_RESOLVER", False),
    ("FF_USE_DYNAMIC_TRACE_FORCE_SEND_INTERVAL", False),
    ("FF_SCRIPT_SECTIONS", False),
    ("FF_ENABLE_JOB_CLEANUP", False),
    ("FF_KUBERNETES_HONOR_ENTRYPOINT", False),
    ("FF_POSIXLY_CORRECT_ESCAPES", False),
    ("FF_RESOLVE_FULL_TLS_CHAIN", False),
    ("FF_DISABLE_POWERSHELL_STDIN", False),
    ("FF_USE_POD_ACTIVE_DEADLINE_SECONDS", True),
    ("FF_USE_ADVANCED_POD_SPEC_CONFIGURATION", False),
    ("FF_SECRET_RESOLVING_FAILS_IF_MISSING", True),
    ("FF_PRINT_POD_EVENTS", False),
    ("FF_USE_GIT_BUNDLE_URIS", True),
    ("FF_USE_GIT_NATIVE_CLONE", False),
    ("FF_USE_DUMB_INIT_WITH_KUBERNETES_EXECUTOR", False),
    ("FF_USE_INIT_WITH_DOCKER_EXECUTOR", False),
    ("FF_LOG_IMAGES_CONFIGURED_FOR_JOB", False),
    ("FF_USE_DOCKER_AUTOSCALER_DIAL_STDIO", True),
    ("FF_CLEAN_UP_FAILED_CACHE_EXTRACT", False),
    ("FF_USE_WINDOWS_JOB_OBJECT", False),
    ("FF_TIMESTAMPS", True),
    ("FF_DISABLE_AUTOMATIC_TOKEN_ROTATION", False),
    ("FF_USE_LEGACY_GCS_CACHE_ADAPTER", False),
    ("FF_DISABLE_UMASK_FOR_KUBERNETES_EXECUTOR", False),
    ("FF_USE_LEGACY_S3_CACHE_ADAPTER", False),
    ("FF_GIT_URLS_WITHOUT_TOKENS", False),
    ("FF_WAIT_FOR_POD_TO_BE_REACHABLE", False),
    ("FF_MASK_ALL_DEFAULT_TOKENS", True),
    ("FF_EXPORT_HIGH_CARDINALITY_METRICS", False),
    ("FF_USE_FLEETING_ACQUIRE_HEARTBEATS", False),
    ("FF_USE_EXPONENTIAL_BACKOFF_STAGE_RETRY", True),
    ("FF_USE_ADAPTIVE_REQUEST_CONCURRENCY", True),
    ("FF_USE_GITALY_CORRELATION_ID", True),
    ("FF_USE_GIT_PROACTIVE_AUTH", False),
    ("FF_HASH_CACHE_KEYS", False),
    ("FF_ENABLE_JOB_INPUTS_INTERPOLATION", True),
    ("FF_USE_JOB_ROUTER", False),
    ("FF_SCRIPT_TO_STEP_MIGRATION", False),
    ("FF_USE_PARALLEL_CACHE_TRANSFER", False),
    ("FF_USE_PARALLEL_ARTIFACT_TRANSFER", False),
    ("FF_CONCRETE", False),
    ("FF_SUSPENDABLE_ENVIRONMENTS", False),
    ("FF_USE_NATIVE_CONTAINER_STOP", False),
]
_FF_NAMES = {n for n, _ in FEATURE_FLAGS}

# Stage names (common/build.go) and titles (GetStageDescription).
STAGE_TITLES = {
    "prepare_script": "Preparing environment",
    "get_sources": "Getting source from Git repository",
    "clear_worktree": "Deleting all tracked and untracked files due to source fetch failure",
    "restore_cache": "Restoring cache",
    "download_artifacts": "Downloading artifacts",
    "after_script": "Running after_script",
    "archive_cache": "Saving cache for successful job",
    "archive_cache_on_failure": "Saving cache for failed job",
    "upload_artifacts_on_failure": "Uploading artifacts for failed job",
    "upload_artifacts_on_success": "Uploading artifacts for successful job",
    "cleanup_file_variables": "Cleaning up project directory and file based variables",
}

GITLAB_ENV_FILE = "gitlab_runner_env"
EXT_GIT_CONFIG_FILE = ".gitlab-runner.ext.conf"
GLOBAL_GIT_CONFIG_SEED_FILE = ".glr.gconf"
BUILD_UID_GID_FILE = ".gitlab-build-uid-gid"

GO_SIGNAL_NAMES = {
    signal.SIGHUP: "hangup", signal.SIGINT: "interrupt", signal.SIGQUIT: "quit",
    signal.SIGILL: "illegal instruction", signal.SIGTRAP: "trace/breakpoint trap",
    signal.SIGABRT: "aborted", signal.SIGBUS: "bus error",
    signal.SIGFPE: "floating point exception", signal.SIGKILL: "killed",
    signal.SIGUSR1: "user defined signal 1", signal.SIGSEGV: "segmentation fault",
    signal.SIGUSR2: "user defined signal 2", signal.SIGPIPE: "broken pipe",
    signal.SIGALRM: "alarm clock", signal.SIGTERM: "terminated",
}


# --------------------------------------------------------------------------- Go helpers


def go_atoi(s: str) -> int:
    """strconv.Atoi (64-bit int): optional sign, ASCII digits only, in int64 range."""
    if not re.fullmatch(r"[+-]?[0-9]+", s):
        raise ValueError(f'strconv.Atoi: parsing "{s}": invalid syntax')
    v = int(s)
    if not -(2**63) <= v <= 2**63 - 1:
        raise ValueError(f'strconv.Atoi: parsing "{s}": value out of range')
    return v


def go_parse_bool(s: str) -> bool:
    """strconv.ParseBool."""
    if s in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if s in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise ValueError(f'strconv.ParseBool: parsing "{s}": invalid syntax')


_DUR_UNITS = {"ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "\u03bcs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def go_parse_duration(s: str) -> float:
    """time.ParseDuration, returning seconds."""
    orig = s
    if s in ("0", "+0", "-0"):
        return 0.0
    neg = False
    if s[:1] in "+-" and s:
        neg = s[0] == "-"
        s = s[1:]
    if not s:
        raise ValueError(f'time: invalid duration "{orig}"')
    total = 0.0
    for m in re.finditer(r"([0-9]*(?:\.[0-9]*)?)([a-z\u00b5\u03bc]+)|(.)", s):
        if m.group(3) is not None or not m.group(1) or m.group(1) == ".":
            raise ValueError(f'time: invalid duration "{orig}"')
        unit = _DUR_UNITS.get(m.group(2))
        if unit is None:
            raise ValueError(f'time: unknown unit "{m.group(2)}" in duration "{orig}"')
        total += float(m.group(1)) * unit
    return -total if neg else total


def go_duration(seconds: float) -> str:
    """time.Duration.String() for a number of seconds."""
    ns = int(round(seconds * 1e9))
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns < 1_000_000_000:
        for unit, div in (("ms", 1_000_000), ("\u00b5s", 1_000), ("ns", 1)):
            if ns >= div:
                return sign + _trim_float(ns / div) + unit
    h, rem = divmod(ns, 3600 * 10**9)
    m, rem = divmod(rem, 60 * 10**9)
    s = _trim_float(rem / 1e9)
    out = ""
    if h:
        out += f"{h}h"
    if h or m:
        out += f"{m}m"
    return sign + out + s + "s"


def _trim_float(x: float) -> str:
    t = f"{x:.9f}".rstrip("0").rstrip(".")
    return t or "0"


def go_expand(value: str, lookup: Callable[[str], str]) -> str:
    """os.Expand."""
    out: list[str] = []
    i = 0
    j = 0
    special = set("*#$@!?-0123456789")
    n = len(value)
    changed = False
    while j < n:
        if value[j] == "$" and j + 1 < n:
            changed = True
            out.append(value[i:j])
            s = value[j + 1:]
            name, w = "", 0
            if s[0] == "{":
                if len(s) > 2 and s[1] in special and s[2] == "}":
                    name, w = s[1:2], 3
                else:
                    k = s.find("}", 1)
                    if k == 1:
                        name, w = "", 2
                    elif k == -1:
                        name, w = "", 1
                    else:
                        name, w = s[1:k], k + 1
            elif s[0] in special:
                name, w = s[0], 1
            else:
                k = 0
                while k < len(s) and (s[k] == "_" or s[k].isascii() and s[k].isalnum()):
                    k += 1
                name, w = s[:k], k
            if name == "" and w > 0:
                pass  # bad syntax: eat the characters
            elif name == "":
                out.append("$")
            else:
                out.append(lookup(name))
            j += w
            i = j + 1
        j += 1
    if not changed:
        return value
    return "".join(out) + value[i:]


_LIT = set(",-./0123456789@ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz")
_QUO = set(" !\"#$%&()*+:;<=>?[]^`{|}~")
_ESC = {7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r", 39: "\\'", 92: "\\\\"}


def shell_escape(s: str) -> str:
    """helpers.ShellEscape: ANSI-C quoting when needed, bytes >= 0x80 as \\xNN."""
    if s == "":
        return "''"
    out = []
    esc = False
    for b in s.encode("utf-8", "surrogateescape"):
        c = chr(b)
        if c in _LIT:
            out.append(c)
        elif c in _QUO:
            out.append(c)
            esc = True
        elif b in _ESC:
            out.append(_ESC[b])
            esc = True
        else:
            out.append("\\x%02x" % b)
            esc = True
    body = "".join(out)
    return "$'" + body + "'" if esc else body


_POSIX_ESC = {"`": "\\`", '"': '\\"', "\\": "\\\\", "$": "\\$"}
_POSIX_QUO = set(" !#%&()*<=>?[|")


def posix_shell_escape(s: str) -> str:
    """helpers.PosixShellEscape (FF_POSIXLY_CORRECT_ESCAPES)."""
    if s == "":
        return "''"
    out = []
    esc = False
    for c in s:
        if c in _POSIX_ESC:
            out.append(_POSIX_ESC[c])
            esc = True
        elif c in _POSIX_QUO:
            out.append(c)
            esc = True
        else:
            out.append(c)
    return '"' + "".join(out) + '"' if esc else "".join(out)


def go_quote(s: str) -> str:
    """strconv.Quote (what %q prints)."""
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch in "\a\b\f\n\r\t\v":
            out.append({"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}[ch])
        elif o < 0x20 or o == 0x7F:
            out.append("\\x%02x" % o)
        elif ch.isprintable() or ch == " ":
            out.append(ch)
        elif o < 0x10000:
            out.append("\\u%04x" % o)
        else:
            out.append("\\U%08x" % o)
    out.append('"')
    return "".join(out)


def go_json(obj: Any) -> str:
    """encoding/json Marshal style: compact, HTML-escaped, map keys sorted by caller."""
    s = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    return (s.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def sanitize_cache_key(key: str) -> tuple[str, str | None]:
    """cache/cachekey.Sanitize: %2f/%2e decoded and \\ made /, in one pass; .. resolved inside
    a virtual root; trailing spaces of the last segments dropped. (key, error)."""
    if key == "":
        return "", None
    repl = {"%2f": "/", "%2F": "/", "%2e": ".", "%2E": "."}
    out, i = [], 0
    while i < len(key):
        if key[i] == "\\":
            out.append("/")
            i += 1
        elif key[i:i + 3] in repl:
            out.append(repl[key[i:i + 3]])
            i += 3
        else:
            out.append(key[i])
            i += 1
    cleaned = go_path_join("/", "".join(out))
    parts = cleaned[1:].split("/")
    n = len(parts)
    while n > 0:
        parts[n - 1] = parts[n - 1].rstrip()
        if parts[n - 1] != "":
            break
        n -= 1
    out_key = "/".join(parts[:n])
    if out_key == "":
        return "", f"cache key {go_quote(key)} could not be sanitized"
    return out_key, None


def shorten_token(token: str) -> str:
    """helpers.ShortenToken."""
    for pat in (r"^glrt-(t[123]_)?|^t[123]_|^glrtr-", r"^glcbt-", r"^GR[0-9A-Fa-f]{7}"):
        token = re.sub(pat, "", token)
    return token[:9]


def go_path_join(*elems: str) -> str:
    """path.Join: join non-empty elements and Clean."""
    parts = [e for e in elems if e]
    if not parts:
        return ""
    return posixpath.normpath("/".join(parts)).replace("//", "/")


def slugify(s: str) -> str:
    s = re.sub(r"[^a-z0-9]", "-", s.lower())[:63]
    return s.strip("-")


def go_mkdtemp(parent: str, prefix: str) -> str:
    """os.MkdirTemp(parent, prefix): prefix + random decimal digits, mode 0700."""
    for _ in range(10000):
        p = os.path.join(parent, prefix + str(random.randrange(1 << 32)))
        try:
            os.mkdir(p, 0o700)
            return p
        except FileExistsError:
            continue
    raise OSError(f"could not create a temporary directory in {parent}")


# --------------------------------------------------------------------------- errors


class _JSONObject(list):
    """A decoded JSON object as its (key, value) pairs, duplicates and order kept."""


def _json_kind(v: Any) -> str:
    if isinstance(v, _JSONObject):
        return "object"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    return "array"


class HarnessError(Exception):
    """The harness was used wrongly (not a job outcome)."""


class JobError(Exception):
    """An error value of the emulated runner."""

    build = False  # BuildError (job failure) vs anything else (system failure)
    failure_reason = "runner_system_failure"
    exit_code: int | None = None
    canceled = False  # errors.Is(err, context.Canceled / ErrJobCanceled)
    deadline = False  # errors.Is(err, context.DeadlineExceeded / ErrJobScriptTimeout)

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class BuildError(JobError):
    build = True

    def __init__(self, message: str, failure_reason: str = "script_failure", exit_code: int = 0,
                 canceled: bool = False, deadline: bool = False):
        super().__init__(message)
        self.failure_reason = failure_reason
        self.exit_code = exit_code
        self.canceled = canceled
        self.deadline = deadline


class SystemFailure(JobError):
    pass


class ScriptError(SystemFailure):
    """The runner could not generate a stage's script (an unknown cache policy)."""


class ContextError(JobError):
    def __init__(self, kind: str, cause: JobError | None = None):
        super().__init__("context canceled" if kind == "canceled" else "context deadline exceeded")
        self.kind = kind
        self.cause = cause
        self.canceled = kind == "canceled"
        self.deadline = kind == "deadline"


def wrap_error(err: JobError, message: str) -> JobError:
    """fmt.Errorf("...%w...", err): new text, same class."""
    if isinstance(err, BuildError):
        return BuildError(message, err.failure_reason, err.exit_code or 0, err.canceled, err.deadline)
    e = SystemFailure(message)
    e.canceled, e.deadline = err.canceled, err.deadline
    return e


# --------------------------------------------------------------------------- contexts


class Context:
    """A small context.Context: cancellation with a cause, deadlines, parents."""

    def __init__(self, parent: "Context | None" = None, timeout: float | None = None,
                 timeout_cause: JobError | None = None):
        self.parent = parent
        self.deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
        self.timeout_cause = timeout_cause
        self._err: str | None = None
        self._cause: JobError | None = None
        self._lock = threading.Lock()

    def cancel(self, cause: JobError | None = None) -> None:
        with self._lock:
            if self._err is None and self._own_deadline_err() is None and not (self.parent and self.parent.err()):
                self._err = "canceled"
                self._cause = cause

    def _own_deadline_err(self) -> str | None:
        if self.deadline is not None and time.monotonic() >= self.deadline:
            return "deadline"
        return None

    def err(self) -> str | None:
        if self.parent is not None:
            e = self.parent.err()
            if e:
                return e
        if self._err:
            return self._err
        return self._own_deadline_err()

    def error(self) -> ContextError | None:
        e = self.err()
        return ContextError(e, self.cause()) if e else None

    def cause(self) -> JobError | None:
        """context.Cause: the cause given to the context that ended first."""
        if self.parent is not None and self.parent.err():
            return self.parent.cause()
        if self._err:
            return self._cause or ContextError("canceled")
        if self._own_deadline_err():
            return self.timeout_cause or ContextError("deadline")
        return None

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True if the context ended meanwhile."""
        end = time.monotonic() + seconds
        while True:
            if self.err():
                return True
            left = end - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(0.02, left))


# --------------------------------------------------------------------------- job model


@dataclass
class Variable:
    key: str
    value: str = ""
    public: bool = True
    file: bool = False
    masked: bool = False
    raw: bool = False
    internal: bool = False  # not serialised (json:"-")

    def to_spec(self) -> dict:
        return {"key": self.key, "value": self.value, "public": self.public, "file": self.file,
                "masked": self.masked, "raw": self.raw}

    @staticmethod
    def from_any(v: Any) -> "Variable":
        if isinstance(v, Variable):
            return v
        if isinstance(v, dict):
            return Variable(v["key"], str(v.get("value", "")), bool(v.get("public", True)), bool(v.get("file", False)),
                            bool(v.get("masked", False)), bool(v.get("raw", False)))
        raise HarnessError(f"not a variable: {v!r}")


def _variables(v: Any) -> list[Variable]:
    if v is None:
        return []
    if isinstance(v, dict):
        return [Variable(k, str(val)) for k, val in v.items()]
    return [Variable.from_any(x) for x in v]


@dataclass
class Service:
    name: str
    alias: str | None = None
    command: list[str] | None = None
    entrypoint: list[str] | None = None
    variables: Any = None  # dict or list of Variable
    pull_policy: str | list[str] | None = None  # sent as GitLab sends it: a list

    def to_spec(self) -> dict:
        d: dict[str, Any] = {"name": self.name}
        if self.alias:
            d["alias"] = self.alias
        if self.command:
            d["command"] = list(self.command)
        if self.entrypoint:
            d["entrypoint"] = list(self.entrypoint)
        if self.pull_policy:
            d["pull_policy"] = _pull_policies(self.pull_policy)
        vs = _variables(self.variables)
        if vs:
            d["variables"] = [v.to_spec() for v in vs]
        d["executor_opts"] = {"docker": {"platform": "", "user": ""}, "kubernetes": {"user": ""}}
        return d


def _pull_policies(p: str | list[str]) -> list[str]:
    """image/services pull_policy: GitLab sends a list (spec.Image.PullPolicies)."""
    return [p] if isinstance(p, str) else list(p)


@dataclass
class Credential:
    """A `credentials` entry of the payload (spec.Credentials): GitLab sends one of type
    registry for its container registry (url = host:port, user gitlab-ci-token, the job token
    as password) and one for the dependency proxy."""
    url: str
    username: str
    password: str
    type: str = "registry"

    def to_spec(self) -> dict:
        return {"type": self.type, "url": self.url, "username": self.username, "password": self.password}


def artifact_spec(a: dict) -> dict:
    """An `artifacts:` entry as GitLab's runner API sends it (Ci::Build#runner_job_artifacts:
    type archive, format zip), fields in spec.Artifact's order; the given keys win."""
    out = {"name": None, "untracked": False, "paths": [], "when": "on_success", "expire_in": None,
           "artifact_type": "archive", "artifact_format": "zip"}
    out.update(a)
    return out


def dotenv_report_spec(path: str, expire_in: str | None = None) -> dict:
    """`artifacts:reports:dotenv: <path>` as GitLab sends it (create_reports): name `.env`,
    type dotenv, format gzip, when always."""
    return {"artifact_type": "dotenv", "artifact_format": "gzip", "name": ".env", "paths": [path],
            "when": "always", "expire_in": expire_in}


def cache_spec(c: dict) -> dict:
    """A `cache:` entry (spec.Cache): key, untracked, policy, paths, when, fallback_keys."""
    out = {"key": "", "untracked": False, "policy": "pull-push", "paths": [], "when": "on_success",
           "fallback_keys": []}
    out.update(c)
    return out


_job_ids = itertools.count(int(time.time() * 10) % 10**8 * 10)


class Job:
    """One CI job as GitLab hands it to the runner (a spec.Job payload).

    script is the job's `script:` (before_script is prepended as GitLab does); extra_steps
    are further steps like GitLab's `release` step ([(name, [commands]), ...]);
    raw_stages ([(stage_name, [commands]), ...]) is a harness extension: run_exec calls
    with exactly that stage name, after the user steps, as a future runner might send.
    """

    def __init__(self, script: Iterable[str] | None = None, *, name: str = "test", stage: str = "test",
                 image: str | None = None, image_entrypoint: list[str] | None = None,
                 services: Iterable[Service | str | dict] = (), variables: Any = None,
                 before_script: Iterable[str] | None = None, after_script: Iterable[str] | None = None,
                 extra_steps: Iterable[tuple[str, list[str]]] = (), raw_stages: Iterable[tuple[str, list[str]]] = (),
                 job_id: int | None = None, token: str | None = None, project: str = "e2e/project",
                 project_id: int = 4242, pipeline_id: int | None = None, ref: str = "main", sha: str | None = None,
                 ref_type: str = "branch", protected: bool = False, repo_url: str | None = None,
                 refspecs: list[str] | None = None, depth: int = 20, timeout: int = 3600,
                 git_strategy: str | None = "none", server_url: str = "https://gitlab.example.com",
                 user_login: str = "e2e-user", spec: dict | None = None,
                 image_pull_policy: str | list[str] | None = None,
                 credentials: Iterable[Credential | dict] = (),
                 artifacts: Iterable[dict] = (), cache: Iterable[dict] = (),
                 dependencies: Iterable["Job | dict"] = (), dotenv: str | None = None):
        self.id = job_id if job_id is not None else next(_job_ids)
        self.token = token or f"glcbt-64_e2e{self.id:x}Tok3n"
        self.name, self.stage = name, stage
        self.script = list(before_script or []) + list(script or [])
        self.after_script = list(after_script) if after_script is not None else None
        self.extra_steps = [(n, list(s)) for n, s in extra_steps]
        self.raw_stages = [(n, list(s)) for n, s in raw_stages]
        self.image = image
        self.image_entrypoint = image_entrypoint
        self.image_pull_policy = image_pull_policy
        self.credentials = [c if isinstance(c, Credential) else Credential(**c) for c in credentials]
        self.services = [self._service(s) for s in services]
        self.user_variables = _variables(variables)
        if git_strategy is not None and not any(v.key == "GIT_STRATEGY" for v in self.user_variables):
            self.user_variables.append(Variable("GIT_STRATEGY", git_strategy))
        self.project = project
        self.project_id = project_id
        self.pipeline_id = pipeline_id if pipeline_id is not None else self.id // 10 + 1
        self.ref, self.ref_type, self.protected = ref, ref_type, protected
        self.sha = sha or hashlib.sha1(f"e2e-commit-{self.id}".encode()).hexdigest()
        self.server_url = server_url.rstrip("/")
        host = urllib.parse.urlparse(self.server_url).netloc
        self.repo_url = repo_url or f"https://gitlab-ci-token:{self.token}@{host}/{project}.git"
        self.refspecs = refspecs if refspecs is not None else [
            f"+refs/pipelines/{self.pipeline_id}:refs/pipelines/{self.pipeline_id}",
            f"+refs/heads/{ref}:refs/remotes/origin/{ref}"]
        self.depth = depth
        self.timeout = timeout
        self.user_login = user_login
        # artifacts:, artifacts:reports:dotenv, cache: and the dependencies' artifacts, as
        # GitLab's job request entity sends them (spec.Artifact, spec.Cache, spec.Dependency)
        self.artifacts = [artifact_spec(a) for a in artifacts]
        if dotenv:
            self.artifacts.append(dotenv_report_spec(dotenv))
        self.cache = [cache_spec(c) for c in cache]
        self.dependencies = [d.dependency() if isinstance(d, Job) else dict(d) for d in dependencies]
        self._spec = spec

    def dependency(self, token: str | None = None) -> dict:
        """This job as a later job's `dependencies` entry (spec.Dependency): GitLab sends the
        dependency's token (or the running job's, with ci_expose_running_job_token_for_artifacts)."""
        return {"id": self.id, "token": token or self.token, "name": self.name,
                "artifacts_file": {"filename": "artifacts.zip", "size": 1}}

    @staticmethod
    def _service(s: Service | str | dict) -> Service:
        if isinstance(s, Service):
            return s
        if isinstance(s, str):
            return Service(s)
        return Service(s["name"], s.get("alias"), s.get("command"), s.get("entrypoint"), s.get("variables"),
                       s.get("pull_policy"))

    @classmethod
    def from_spec(cls, spec: dict) -> "Job":
        """A Job from a full spec.Job payload (as GitLab would send it); sent verbatim."""
        steps = {s["name"]: s for s in spec.get("steps") or []}
        job = cls(script=(steps.get("script") or {}).get("script", []),
                  after_script=(steps.get("after_script") or {}).get("script"),
                  extra_steps=[(n, s.get("script", [])) for n, s in steps.items() if n not in ("script", "after_script")],
                  job_id=spec.get("id"), token=spec.get("token"), git_strategy=None, spec=spec,
                  timeout=(spec.get("runner_info") or {}).get("timeout") or 7200)
        return job

    # The predefined variables GitLab sends (a realistic subset, GitLab's order).
    def gitlab_variables(self) -> list[Variable]:
        ns, _, proj = self.project.rpartition("/")
        host = urllib.parse.urlparse(self.server_url).netloc
        v = [
            ("CI_PIPELINE_ID", str(self.pipeline_id)),
            ("CI_PIPELINE_URL", f"{self.server_url}/{self.project}/-/pipelines/{self.pipeline_id}"),
            ("CI_JOB_ID", str(self.id)),
            ("CI_JOB_URL", f"{self.server_url}/{self.project}/-/jobs/{self.id}"),
            ("CI_JOB_STARTED_AT", _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")),
            ("CI_NODE_TOTAL", "1"),
            ("CI", "true"),
            ("GITLAB_CI", "true"),
            ("CI_SERVER_URL", self.server_url),
            ("CI_SERVER_HOST", host),
            ("CI_SERVER_PORT", "443"),
            ("CI_SERVER_PROTOCOL", "https"),
            ("CI_SERVER_NAME", "GitLab"),
            ("CI_SERVER_VERSION", "18.4.0-ee"),
            ("GITLAB_FEATURES", ""),
            ("CI_PROJECT_ID", str(self.project_id)),
            ("CI_PROJECT_NAME", proj),
            ("CI_PROJECT_TITLE", proj),
            ("CI_PROJECT_PATH", self.project),
            ("CI_PROJECT_PATH_SLUG", slugify(self.project)),
            ("CI_PROJECT_NAMESPACE", ns),
            ("CI_PROJECT_ROOT_NAMESPACE", ns.split("/")[0]),
            ("CI_PROJECT_URL", f"{self.server_url}/{self.project}"),
            ("CI_PROJECT_VISIBILITY", "private"),
            ("CI_DEFAULT_BRANCH", "main"),
            ("CI_CONFIG_PATH", ".gitlab-ci.yml"),
            ("CI_PIPELINE_SOURCE", "push"),
            ("CI_COMMIT_SHA", self.sha),
            ("CI_COMMIT_SHORT_SHA", self.sha[:8]),
            ("CI_COMMIT_BEFORE_SHA", "0" * 40),
            ("CI_COMMIT_REF_NAME", self.ref),
            ("CI_COMMIT_REF_SLUG", slugify(self.ref)),
            ("CI_COMMIT_BRANCH" if self.ref_type == "branch" else "CI_COMMIT_TAG", self.ref),
            ("CI_COMMIT_REF_PROTECTED", "true" if self.protected else "false"),
            ("CI_COMMIT_MESSAGE", "e2e: test commit\n"),
            ("CI_COMMIT_TITLE", "e2e: test commit"),
            ("CI_JOB_NAME", self.name),
            ("CI_JOB_NAME_SLUG", slugify(self.name)),
            ("CI_JOB_STAGE", self.stage),
            ("GITLAB_USER_ID", "1000"),
            ("GITLAB_USER_LOGIN", self.user_login),
            ("GITLAB_USER_EMAIL", f"{self.user_login}@example.com"),
            ("GITLAB_USER_NAME", "E2E User"),
        ]
        out = [Variable(k, val) for k, val in v]
        out.insert(4, Variable("CI_JOB_TOKEN", self.token, public=False, masked=True))
        out.insert(5, Variable("CI_REPOSITORY_URL", self.repo_url, public=False))
        # GitLab's registry login, as the job's variables carry it when the registry is on
        reg = next((c for c in self.credentials if c.type == "registry"), None)
        if reg:
            out += [Variable("CI_REGISTRY", reg.url), Variable("CI_REGISTRY_USER", reg.username),
                    Variable("CI_REGISTRY_PASSWORD", reg.password, public=False, masked=True),
                    Variable("CI_REGISTRY_IMAGE", f"{reg.url}/{self.project}")]
        return out

    def to_spec(self) -> dict:
        """The spec.Job payload, fields in the struct's order."""
        if self._spec is not None:
            return self._spec
        steps = [{"name": "script", "script": self.script, "timeout": self.timeout, "when": "on_success",
                  "allow_failure": False}]
        for n, s in self.extra_steps:
            steps.append({"name": n, "script": s, "timeout": self.timeout, "when": "on_success", "allow_failure": False})
        if self.after_script is not None:
            steps.append({"name": "after_script", "script": self.after_script, "timeout": self.timeout,
                          "when": "always", "allow_failure": True})
        image: dict[str, Any] = {}
        if self.image:
            image["name"] = self.image
        if self.image_entrypoint is not None:
            image["entrypoint"] = list(self.image_entrypoint)
        if self.image_pull_policy:
            image["pull_policy"] = _pull_policies(self.image_pull_policy)
        image["executor_opts"] = {"docker": {"platform": "", "user": ""}, "kubernetes": {"user": ""}}
        if "name" not in image:
            image = {"name": "", **image}
        return {
            "id": self.id,
            "token": self.token,
            "allow_git_fetch": False,
            "job_info": {"name": self.name, "stage": self.stage, "pipeline_id": self.pipeline_id,
                         "project_id": self.project_id, "project_name": self.project.rpartition("/")[2],
                         "project_full_path": self.project, "namespace_id": 7, "root_namespace_id": 7,
                         "organization_id": 1, "instance_id": "", "instance_uuid": "", "user_id": 1000,
                         "time_in_queue_seconds": 0.5, "project_jobs_running_on_instance_runners_count": "0",
                         "queue_size": 0, "queue_depth": 0},
            "git_info": {"repo_url": self.repo_url, "repo_object_format": "sha1", "ref": self.ref, "sha": self.sha,
                         "before_sha": "0" * 40, "ref_type": self.ref_type, "refspecs": self.refspecs,
                         "depth": self.depth, "protected": self.protected},
            "runner_info": {"timeout": self.timeout},
            "inputs": None,
            "variables": [v.to_spec() for v in self.gitlab_variables() + self.user_variables],
            "steps": steps,
            "image": image,
            "services": [s.to_spec() for s in self.services],
            "artifacts": self.artifacts or None,
            "cache": self.cache or None,
            "credentials": [c.to_spec() for c in self.credentials] or None,
            "dependencies": self.dependencies or None,
            "features": {"trace_sections": True, "token_mask_prefixes": None,
                         "failure_reasons": ["unknown_failure", "script_failure", "runner_system_failure",
                                             "job_execution_timeout", "job_canceled"], "tracing": None},
            "policy_options": {"execution_policy_job": False, "policy_name": ""},
            "suspend_options": {},
        }


@dataclass
class RunnerConfig:
    """[[runners]] + [runners.custom] of config.toml, plus harness knobs."""

    run_exec: str = ""
    run_args: list[str] = field(default_factory=list)
    config_exec: str = ""
    config_args: list[str] = field(default_factory=list)
    config_exec_timeout: int = 3600
    prepare_exec: str = ""
    prepare_args: list[str] = field(default_factory=list)
    prepare_exec_timeout: int = 3600
    cleanup_exec: str = ""
    cleanup_args: list[str] = field(default_factory=list)
    cleanup_exec_timeout: int = 3600
    graceful_kill_timeout: int = 600
    force_kill_timeout: int = 10
    name: str = "e2e-runner"
    url: str = "https://gitlab.example.com/"  # [[runners]] url: artifacts' --url (empty: no uploads)
    artifact_upload_timeout: str = "1h0m0s"  # [runners.artifact] upload_timeout (Go duration)
    artifact_response_header_timeout: str = "10m0s"
    token: str = "glrt-harness"
    system_id: str = "s_0123456789ab"
    builds_dir: str = ""
    cache_dir: str = ""
    shell: str = ""
    environment: list[str] = field(default_factory=list)  # "KEY=VALUE"
    pre_get_sources_script: str = ""
    post_get_sources_script: str = ""
    pre_build_script: str = ""
    post_build_script: str = ""
    output_limit: int = 4096  # KB
    prepare_timeout: int | None = None
    get_sources_timeout: int | None = None
    concurrent_id: int = 0  # CI_CONCURRENT_ID
    concurrent_project_id: int = 0  # CI_CONCURRENT_PROJECT_ID
    # harness knobs
    extra_env: dict[str, str] = field(default_factory=dict)  # the runner process's environment additions
    unset_env: list[str] = field(default_factory=list)
    tmpdir: str | None = None  # where T is created ($TMPDIR of the runner)
    preparation_retries: int = 3
    preparation_retry_interval: float | None = None  # default 3 s, or $HARNESS_PREPARE_RETRY_INTERVAL
    stage_retry_backoff: tuple[float, float] = (5.0, 300.0)
    wait_for_build_finish_timeout: float = 300.0
    pipe_drain_timeout: float = 30.0
    timestamps: bool = False
    echo: bool = False  # copy the job log to stderr as it is written

    @classmethod
    def for_driver(cls, binary: str, **kw: Any) -> "RunnerConfig":
        """The registration docs/configuration.md recommends for `executor`."""
        base: dict[str, Any] = dict(config_exec=binary, config_args=["config"], prepare_exec=binary,
                                    prepare_args=["prepare"], run_exec=binary, run_args=["run"],
                                    cleanup_exec=binary, cleanup_args=["cleanup"], graceful_kill_timeout=30)
        base.update(kw)
        return cls(**base)

    def retry_interval(self) -> float:
        if self.preparation_retry_interval is not None:
            return self.preparation_retry_interval
        return float(os.environ.get("HARNESS_PREPARE_RETRY_INTERVAL", "3"))

    @staticmethod
    def _timeout(v: int) -> float:  # executors/custom config.getDuration: <=0 -> default
        return float(v) if v and v > 0 else 3600.0


@dataclass
class CallRecord:
    kind: str  # config, prepare, run, cleanup
    argv: list[str]
    stage: str | None = None  # the stage name as sent to run_exec
    build_stage: str | None = None  # the runner's stage (step_script for build_script)
    attempt: int = 1
    env: dict[str, str] = field(default_factory=dict)
    cwd: str = ""
    script_path: str | None = None
    script: str | None = None
    pid: int | None = None
    started: float = 0.0
    ended: float | None = None
    returncode: int | None = None  # Python convention: -N for death by signal N
    stdout: bytes = b""
    stderr: bytes = b""
    error: JobError | None = None
    signals_sent: list[tuple[float, str]] = field(default_factory=list)
    pipes_left_open: bool = False
    exit_code_file: bytes | None = None  # BUILD_EXIT_CODE_FILE content right after the call (None: absent)
    gave_up: bool = False  # KillProcessError: still alive after SIGKILL + force_kill_timeout

    @property
    def duration(self) -> float | None:
        return None if self.ended is None else self.ended - self.started

    @property
    def stdout_text(self) -> str:
        return self.stdout.decode("utf-8", "replace")

    @property
    def stderr_text(self) -> str:
        return self.stderr.decode("utf-8", "replace")

    def __repr__(self) -> str:
        return (f"<CallRecord {self.kind} {self.stage or ''} rc={self.returncode} "
                f"out={len(self.stdout)}B err={len(self.stderr)}B {self.error or ''}>")


_ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_SECTION_RE = re.compile(r"section_(?:start|end):\d+:[^\r\n]*\r")


def strip_log(text: str) -> str:
    """The job log as a reader sees it: no ANSI codes, no section markers."""
    return _ANSI_RE.sub("", _SECTION_RE.sub("", text))


@dataclass
class JobResult:
    job: Job
    status: str = "failed"  # success | failed | canceled
    failure: str | None = None  # None | "build" | "system"
    failure_reason: str | None = None
    exit_code: int | None = None  # only for build failures
    error: str | None = None
    log: str = ""
    debug_log: list[str] = field(default_factory=list)
    calls: list[CallRecord] = field(default_factory=list)
    prepare_attempts: int = 0
    temp_dirs: list[str] = field(default_factory=list)
    builds_dir: str = ""
    project_dir: str = ""
    duration: float = 0.0
    final_line: str = ""

    @property
    def text(self) -> str:
        return strip_log(self.log)

    @property
    def stages(self) -> list[str]:
        """Stage names sent to run_exec, in order."""
        return [c.stage for c in self.calls if c.kind == "run"]

    def run_calls(self, stage: str | None = None) -> list[CallRecord]:
        return [c for c in self.calls if c.kind == "run" and (stage is None or c.stage == stage)]

    def calls_of(self, kind: str) -> list[CallRecord]:
        return [c for c in self.calls if c.kind == kind]

    def summary(self) -> str:
        s = f"job {self.job.id}: {self.status}"
        if self.failure:
            s += f" ({self.failure} failure"
            if self.exit_code is not None:
                s += f", exit code {self.exit_code}"
            s += ")"
        return s + f" in {self.duration:.1f} s; stages: {' '.join(self.stages) or '-'}"


# --------------------------------------------------------------------------- job log


class _JobLog:
    """The job trace: runner messages and driver output, masked and size-limited."""

    def __init__(self, limit_bytes: int, masks: list[str], timestamps: bool, echo: bool):
        self.limit = limit_bytes
        self.masks = sorted({m for m in masks if m}, key=len, reverse=True)
        self.timestamps = timestamps
        self.echo = echo
        self.chunks: list[str] = []
        self.size = 0
        self.truncated = False
        self.cond = threading.Condition()
        self._at_line_start = True

    def _mask(self, s: str) -> str:
        for m in self.masks:
            s = s.replace(m, "[MASKED]")
        return s

    def _stamp(self, s: str, stream: str) -> str:
        if not self.timestamps:
            return s
        out = []
        for piece in s.splitlines(keepends=True):
            if self._at_line_start:
                out.append(_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ ") + stream + " ")
            out.append(piece)
            self._at_line_start = piece.endswith("\n")
        return "".join(out)

    def write(self, s: str, stream: str = "00O", force: bool = False) -> None:
        if not s:
            return
        with self.cond:
            s = self._stamp(self._mask(s), stream)
            if not force and self.truncated:
                return
            if not force and self.size + len(s.encode()) > self.limit:
                room = max(0, self.limit - self.size)
                part = s.encode()[:room].decode("utf-8", "ignore")
                msg = (f"{part}\n{ANSI_BOLD_RED}Job's log exceeded limit of {self.limit} bytes.\n"
                       f"Job execution will continue but no more output will be collected.{ANSI_RESET}\n")
                self.chunks.append(msg)
                self.size = self.limit
                self.truncated = True
                if self.echo:
                    sys.stderr.write(msg)
            else:
                self.chunks.append(s)
                self.size += len(s.encode())
                if self.echo:
                    sys.stderr.write(s)
                    sys.stderr.flush()
            self.cond.notify_all()

    def println(self, msg: str) -> None:
        self.write(ANSI_CLEAR + msg + ANSI_RESET + "\n")

    def infoln(self, msg: str) -> None:
        self.write(ANSI_BOLD_GREEN + msg + ANSI_RESET + "\n")

    def warningln(self, msg: str) -> None:
        self.write(ANSI_YELLOW + "WARNING: " + msg + ANSI_RESET + "\n")

    def errorln(self, msg: str, force: bool = False) -> None:
        self.write(ANSI_BOLD_RED + "ERROR: " + msg + ANSI_RESET + "\n", force=force)

    def text(self) -> str:
        with self.cond:
            return "".join(self.chunks)

    def wait_for(self, needle: str, timeout: float) -> bool:
        end = time.monotonic() + timeout
        idx = 0
        tail = ""
        with self.cond:
            while True:
                while idx < len(self.chunks):
                    hay = tail + strip_log(self.chunks[idx])
                    if needle in hay:
                        return True
                    tail = hay[-max(len(needle) - 1, 0):] if len(needle) > 1 else ""
                    idx += 1
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(min(left, 0.1))


class _StreamToLog:
    """Line-buffers one output stream of a call into the job log (8 KiB max per chunk)."""

    def __init__(self, log: _JobLog, stream: str):
        self.log, self.stream, self.buf = log, stream, b""

    def feed(self, data: bytes) -> None:
        self.buf += data
        while True:
            nl = self.buf.find(b"\n")
            if nl < 0:
                if len(self.buf) >= 8192:
                    self.log.write(self.buf.decode("utf-8", "replace"), self.stream)
                    self.buf = b""
                return
            line, self.buf = self.buf[:nl + 1], self.buf[nl + 1:]
            self.log.write(line.decode("utf-8", "replace"), self.stream)

    def close(self) -> None:
        if self.buf:
            self.log.write(self.buf.decode("utf-8", "replace"), self.stream)
            self.buf = b""


# --------------------------------------------------------------------------- control


class JobControl:
    """What GitLab (and a test) can do to a running job, from another thread."""

    def __init__(self) -> None:
        self._run: "_JobRun | None" = None
        self._ready = threading.Event()
        self._pending: list[str] = []

    def _attach(self, run: "_JobRun") -> None:
        self._run = run
        self._ready.set()
        for p in self._pending:
            getattr(self, p)()

    def cancel(self) -> None:
        """GitLab job state `canceling` (UI/API cancel): the trace's cancel func.

        During user steps it cancels only the script context (the running step gets
        SIGTERM, after_script runs); elsewhere it cancels the whole job (like abort)."""
        if self._run is None:
            self._pending.append("cancel")
            return
        self._run.cancel_func()

    def abort(self) -> None:
        """GitLab says the job is gone (canceled hard, 403...): the job context ends."""
        if self._run is None:
            self._pending.append("abort")
            return
        self._run.job_ctx.cancel()

    def signal_current(self, sig: int = signal.SIGKILL) -> CallRecord | None:
        """Harness extension: send `sig` to the process group of the running driver call."""
        run = self._run
        rec = run.current_call if run else None
        if rec is None or rec.pid is None or rec.ended is not None:
            return None
        try:
            os.killpg(rec.pid, sig)
            rec.signals_sent.append((time.monotonic(), signal.Signals(sig).name + " (test)"))
        except ProcessLookupError:
            return None
        return rec

    def signal_call(self, rec: CallRecord, sig: int = signal.SIGKILL) -> bool:
        """Harness extension: send `sig` to the process group of that call if it still runs."""
        if rec.pid is None or rec.ended is not None:
            return False
        try:
            os.killpg(rec.pid, sig)
        except ProcessLookupError:
            return False
        rec.signals_sent.append((time.monotonic(), signal.Signals(sig).name + " (test)"))
        return True

    @property
    def current_call(self) -> CallRecord | None:
        return self._run.current_call if self._run else None

    def wait_for_log(self, needle: str, timeout: float = 60.0) -> bool:
        """Wait until `needle` appears in the (ANSI-stripped) job log."""
        if not self._ready.wait(timeout):
            return False
        return self._run.log.wait_for(needle, timeout)

    def wait_for_call(self, kind: str, stage: str | None = None, timeout: float = 60.0) -> CallRecord | None:
        """Wait until a call of that kind (and run stage) has started."""
        end = time.monotonic() + timeout
        if not self._ready.wait(timeout):
            return None
        while time.monotonic() < end:
            for c in list(self._run.result.calls):
                if c.kind == kind and (stage is None or c.stage == stage) and c.pid is not None:
                    return c
            time.sleep(0.02)
        return None


# --------------------------------------------------------------------------- bash writer


class BashWriter:
    """shells/bash.go BashWriter (the parts the emulated stages use)."""

    def __init__(self, temporary_path: str, shell: str, posix_escape: bool = False, check_for_errors: bool = False,
                 legacy_eval: bool = False):
        self.tmp = temporary_path
        self.shell = shell
        self.posix = posix_escape
        self.check = check_for_errors
        self.legacy_eval = legacy_eval
        self.indent = 0
        self.buf: list[str] = []

    def escape(self, s: str) -> str:
        return posix_shell_escape(s) if self.posix else shell_escape(s)

    def line(self, text: str) -> None:
        self.buf.append("  " * self.indent + text + "\n")

    def check_for_errors(self) -> None:
        if self.check:
            self.line("_runner_exit_code=$?; if [ $_runner_exit_code -ne 0 ]; then exit $_runner_exit_code; fi")

    def command(self, cmd: str, *args: str) -> None:
        self.line(" ".join([self.escape(cmd)] + [self.escape(a) for a in args]))
        self.check_for_errors()

    def command_with_stdin(self, best_effort: bool, stdin: str, cmd: str, *args: str) -> None:
        line = f"{self.escape('echo')} {self.escape(stdin)} | " + " ".join([self.escape(cmd)] + [self.escape(a) for a in args])
        if best_effort:
            self.line(line + " || true")
            return
        self.line(line)
        self.check_for_errors()

    def absolute(self, d: str) -> str:
        if d.startswith("/") or d.startswith("$PWD"):
            return d
        return go_path_join("$PWD", d)

    def tmp_file(self, name: str) -> str:
        return self.absolute(go_path_join(self.tmp, name))

    def variable(self, v: Variable) -> None:
        if v.file:
            f = self.tmp_file(v.key)
            self.line(f"mkdir -p {go_quote(self.tmp)}")
            self.line(f"printf '%s' {self.escape(v.value)} > {go_quote(f)}")
            self.line(f"export {self.escape(v.key)}={go_quote(f)}")
        else:
            value = v.value
            if value.startswith(self.tmp):
                value = self.absolute(value)
            self.line(f"export {self.escape(v.key)}={self.escape(value)}")

    def source_env(self, pathname: str) -> None:
        self.line(f"mkdir -p {go_quote(self.tmp)}")
        self.line(f"touch {go_quote(pathname)}")
        self.line(f'while read -r line; do export "$line"; done < {go_quote(pathname)}')

    def if_directory(self, p: str) -> None:
        self.line(f"if [ -d {go_quote(p)} ]; then")
        self.indent += 1

    def if_file(self, p: str) -> None:
        self.line(f"if [ -e {go_quote(p)} ]; then")
        self.indent += 1

    def _build(self, quoter: Callable[[str], str], cmd: str, args: Iterable[str]) -> str:
        return " ".join([self.escape(cmd)] + [quoter(a) for a in args])

    def if_cmd(self, cmd: str, *args: str) -> None:
        self.line("if " + self._build(self.escape, cmd, args) + " >/dev/null 2>&1 ; then")
        self.indent += 1

    def if_cmd_with_output(self, cmd: str, *args: str) -> None:
        self.line("if " + self._build(self.escape, cmd, args) + " ; then")
        self.indent += 1

    def else_(self) -> None:
        self.indent -= 1
        self.line("else")
        self.indent += 1

    def end_if(self) -> None:
        self.indent -= 1
        self.line("fi")

    def cd(self, p: str) -> None:
        self.command("cd", p)

    def mkdir(self, p: str) -> None:
        self.command("mkdir", "-p", p)

    def command_arg_expand(self, cmd: str, *args: str) -> None:
        """CommandArgExpand: every argument in double quotes ("-f" too)."""
        self.line(self._build(lambda a: '"' + a + '"', cmd, args))
        self.check_for_errors()

    def rm_dir(self, p: str) -> None:
        self.if_directory(p)
        self.command_arg_expand("chmod", "-R", "u+rwX", p)
        self.end_if()
        self.command_arg_expand("rm", "-r", "-f", p)

    def rm_file(self, p: str) -> None:
        self.command_arg_expand("rm", "-f", p)

    def rm_files_recursive(self, p: str, name: str) -> None:
        self.if_directory(p)
        self.line("et='+' ; find /dev/null -exec true {} + 2>/dev/null || et=';' ; "
                  f'find {go_quote(p)} -name {go_quote(name)} -type f -exec rm -f {{}} "${{et}}"')
        self.end_if()

    def dot_env_variables(self, base: str, variables: dict[str, str]) -> str:
        """DotEnvVariables: a heredoc into <project>.tmp/<base> (helpers.DotEnvEscape)."""
        path = self.tmp_file(base)
        text = f"cat << EOF > {path}\n"
        for k in sorted(variables):
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k):
                continue
            v = (variables[k].replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
                 .replace("\r", "\\r"))
            text += f'{k}="{v}"\n'
        self.line(text + "EOF\n")
        return path

    def printf(self, msg: str) -> None:
        self.line("echo " + self.escape(ANSI_RESET + msg))

    def noticef(self, msg: str) -> None:
        self.line("echo " + self.escape(ANSI_BOLD_GREEN + msg + ANSI_RESET))

    def warningf(self, msg: str) -> None:
        self.line("echo " + self.escape(ANSI_YELLOW + msg + ANSI_RESET))

    def empty_line(self) -> None:
        self.line("echo")

    def section_start(self, sid: str, command: str, options: list[str]) -> None:
        opts = f"[{','.join(options)}]" if options else ""
        self.line("printf '%b\\n' " + "section_start:$(date +%s):section_" + sid + opts + "\r" + ANSI_CLEAR
                  + self.escape(ANSI_BOLD_GREEN + command + ANSI_RESET))

    def section_end(self, sid: str) -> None:
        self.line("printf '%b\\n' " + "section_end:$(date +%s):section_" + sid + "\r" + ANSI_CLEAR)

    def finish(self, trace: bool) -> str:
        out = []
        if self.shell:
            out.append("#!/usr/bin/env " + self.shell + "\n\n")
        out.append("trap 'exit 1' TERM\n\n")
        if trace:
            out.append("set -o xtrace\n")
        out.append('case "$(set -o)" in *"pipefail"*) set -o pipefail;; esac; set -o errexit\n')
        out.append("set +o noclobber\n")
        body = "".join(self.buf)
        if self.legacy_eval:
            out.append(": | eval " + self.escape(body) + "\n")
        else:
            out.append("(trap 'exit 1' TERM; eval " + self.escape(body) + ") < /dev/null\n")
        out.append("exit 0\n")
        return "".join(out)


# --------------------------------------------------------------------------- the run


class _JobRun:
    def __init__(self, job: Job, cfg: RunnerConfig, control: JobControl):
        self.job, self.cfg, self.control = job, cfg, control
        self.spec = job.to_spec()
        self.result = JobResult(job=job)
        self.job_status = "running"
        self.short_token = shorten_token(cfg.token)
        masks = [v["value"] for v in self.spec.get("variables") or [] if v.get("masked")]
        self.log = _JobLog(cfg.output_limit * 1024, masks, cfg.timestamps, cfg.echo)
        self.current_call: CallRecord | None = None
        self.job_ctx = Context(None)  # replaced in run()
        self._cancel_func: Callable[[], None] = lambda: None
        self._cancel_lock = threading.Lock()
        # executor state (per Prepare attempt)
        self.tmp_dir = ""
        self.response_file = ""
        self.exit_code_file = ""
        self.job_env: dict[str, str] = {}
        self.builds_dir = cfg.builds_dir
        self.cache_dir = cfg.cache_dir
        self.shared_builds_dir = False
        self.shell = cfg.shell
        self.hostname = ""
        self.driver_info: dict | None = None
        # build state (persists across Prepare attempts, like common.Build)
        self.root_dir = ""
        self.build_dir = ""
        self.prepare_entered = False
        self.started_at = ""

    # ---- variables (common/build.go GetAllVariables)

    def _job_variables(self) -> list[Variable]:
        return [Variable.from_any(v) for v in self.spec.get("variables") or []]

    def _raw_lookup(self, variables: list[Variable]) -> Callable[[str], str]:
        tmp_project = self.build_dir_slash() + ".tmp"

        def get(key: str) -> str:
            if key == "$":
                return "$"
            if key in ("*", "#", "@", "!", "?") or key.isdigit() and len(key) == 1:
                return ""
            for v in reversed(variables):
                if v.key == key:
                    if v.file:
                        return go_path_join(tmp_project, v.key)
                    return v.value
            return ""

        return get

    def build_dir_slash(self) -> str:
        return self.build_dir

    def settings_value(self, key: str) -> str:
        """A setting read from the variables used for feature-flag resolution."""
        vs = [Variable(n, "true" if d else "false") for n, d in FEATURE_FLAGS]
        vs += self._base_before() + self._job_variables() + self._base_after()
        get = self._raw_lookup(vs)
        for v in reversed(vs):
            if v.key == key:
                return v.value if v.raw else go_expand(v.value, get)
        return ""

    def ff(self, name: str) -> bool:
        raw = ""
        for v in reversed(self._job_variables()):
            if v.key == name:
                raw = v.value
                break
        if raw:
            try:
                return go_parse_bool(raw)
            except ValueError:
                pass
        return dict(FEATURE_FLAGS)[name]

    def _base_before(self) -> list[Variable]:
        vs: list[Variable] = []
        image = (self.spec.get("image") or {}).get("name") or ""
        if image:
            vs.append(Variable("CI_JOB_IMAGE", image, internal=True))
        vs.append(Variable("CI_RUNNER_SHORT_TOKEN", self.short_token, internal=True))
        for e in self.cfg.environment:
            k, sep, val = e.partition("=")
            if sep:
                vs.append(Variable(k, val, internal=True))
        vs += [
            Variable("CI_BUILDS_DIR", self.root_dir, internal=True),
            Variable("CI_PROJECT_DIR", self.build_dir, internal=True),
            Variable("CI_CONCURRENT_ID", str(self.cfg.concurrent_id), internal=True),
            Variable("CI_CONCURRENT_PROJECT_ID", str(self.cfg.concurrent_project_id), internal=True),
            Variable("CI_SERVER", "yes", internal=True),
            Variable("CI_JOB_STATUS", self.job_status, internal=True),
            Variable("CI_JOB_TIMEOUT", str(int(self.build_timeout())), internal=True),
        ]
        return vs

    def _base_after(self) -> list[Variable]:
        return [
            Variable("CI_SHARED_ENVIRONMENT", "true", internal=True),
            Variable("CI_RUNNER_VERSION", RUNNER_VERSION, internal=True),
            Variable("CI_RUNNER_REVISION", RUNNER_REVISION, internal=True),
            Variable("CI_RUNNER_EXECUTABLE_ARCH", RUNNER_ARCH, internal=True),
            Variable("RUNNER_TEMP_PROJECT_DIR", self.build_dir + ".tmp", public=True, internal=True),
        ] + ([Variable("CI_BUILD_NETWORK_NAME", self._unique_short_name(), internal=True)]
             if self.ff("FF_NETWORK_PER_BUILD") else [])

    def _unique_short_name(self) -> str:
        return f"runner-{self.short_token}-{self.job.project_id}-{self.cfg.concurrent_project_id}-{self.job.id}".lower()

    def all_variables(self) -> list[Variable]:
        vs = [Variable(n, "true" if self.ff(n) else "false", internal=True) for n, _ in FEATURE_FLAGS]
        vs += self._base_before()
        vs += [v for v in self._job_variables() if v.key not in _FF_NAMES]
        vs += self._base_after()
        get = self._raw_lookup(vs)
        out = []
        for v in vs:
            nv = Variable(v.key, v.value if v.raw else go_expand(v.value, get), v.public, v.file, v.masked, v.raw,
                          v.internal)
            out.append(nv)
        return out

    def ci_job_services(self) -> str:
        services = self.spec.get("services") or []
        if not services:
            return ""
        base = self.all_variables()
        items = []
        for s in services:
            svars = _variables(s.get("variables"))
            aliases = (s.get("alias") or "").replace(",", " ").split()
            d: dict[str, Any] = {"name": s.get("name", ""), "alias": aliases[0] if aliases else "",
                                 "entrypoint": s.get("entrypoint"), "command": s.get("command")}
            if svars:
                allv = base + svars
                get = self._raw_lookup(allv)
                expanded = {v.key: (v.value if v.raw else go_expand(v.value, get)) for v in allv}
                d["variables"] = {v.key: expanded[v.key] for v in sorted(svars, key=lambda x: x.key)}
            items.append(d)
        return go_json(items)

    # ---- settings

    def build_timeout(self) -> float:
        t = (self.spec.get("runner_info") or {}).get("timeout") or 0
        return float(t) if t > 0 else 7200.0

    def git_strategy(self) -> str:
        raw = self.settings_value("GIT_STRATEGY")
        if raw in ("clone", "fetch", "none", "empty"):
            return raw
        return "fetch" if self.spec.get("allow_git_fetch") else "clone"

    def int_setting(self, key: str, default: int) -> int:
        raw = self.settings_value(key)
        if not raw:
            return default
        try:
            return int(raw, 10)
        except ValueError:
            return default

    def bool_setting(self, key: str, default: bool) -> bool:
        raw = self.settings_value(key)
        if not raw:
            return default
        try:
            return go_parse_bool(raw)
        except ValueError:
            return default

    # ---- paths

    def project_slug(self) -> str:
        repo = (self.spec.get("git_info") or {}).get("repo_url", "")
        u = urllib.parse.urlparse(repo)
        if not u.netloc:
            return f"project-{(self.spec.get('job_info') or {}).get('project_id', 0)}"
        slug = u.path
        if slug.endswith(".git"):
            slug = slug[:-4]
        slug = posixpath.normpath(slug) if slug else "."
        if slug == "." or ".." in slug:
            return f"project-{(self.spec.get('job_info') or {}).get('project_id', 0)}"
        return slug

    def project_unique_dir(self, shared: bool) -> str:
        d = self.project_slug()
        if shared:
            d = go_path_join(self.short_token, str(self.cfg.concurrent_project_id), d)
        if self.git_strategy() == "empty":
            d += "-empty"
        return d

    # ---- calls

    def call_env(self) -> dict[str, str]:
        env = dict(os.environ)
        for k in self.cfg.unset_env:
            env.pop(k, None)
        env.update(self.cfg.extra_env)
        env.update({
            "TMPDIR": self.tmp_dir,
            "BUILD_FAILURE_EXIT_CODE": "1",
            "SYSTEM_FAILURE_EXIT_CODE": "2",
            "BUILD_EXIT_CODE_FILE": self.exit_code_file,
            "JOB_RESPONSE_FILE": self.response_file,
        })
        env.update(self.job_env)
        for v in self.all_variables():
            env["CUSTOM_ENV_" + v.key] = v.value
        env["CUSTOM_ENV_CI_JOB_SERVICES"] = self.ci_job_services()
        return env

    def run_call(self, ctx: Context, rec: CallRecord, stdout_to: str, stderr_to: str, stream_id: str) -> JobError | None:
        """command.Run: start, stream, wait; kill sequence when ctx ends; map the exit."""
        rec.env = self.call_env()
        rec.cwd = self.tmp_dir
        rec.started = time.monotonic()
        self.result.calls.append(rec)
        exe = rec.argv[0]
        if "/" not in exe:
            found = shutil.which(exe, path=rec.env.get("PATH"))
            if not found:
                rec.ended = time.monotonic()
                rec.error = SystemFailure(f'failed to start command: exec: "{exe}": executable file not found in $PATH')
                return rec.error
            exe = found
        try:
            proc = subprocess.Popen([exe] + rec.argv[1:], cwd=self.tmp_dir, env=rec.env, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, process_group=0, close_fds=True)
        except OSError as e:
            rec.ended = time.monotonic()
            msg = (e.strerror or str(e)).lower()
            rec.error = SystemFailure(f"failed to start command: fork/exec {rec.argv[0]}: {msg}")
            return rec.error
        rec.pid = proc.pid
        self.current_call = rec
        out_buf, err_buf = bytearray(), bytearray()

        def pump(pipe: Any, buf: bytearray, to: str, stream: str) -> None:
            writer = _StreamToLog(self.log, stream) if to == "log" else None
            fd = pipe.fileno()
            while True:
                try:
                    data = os.read(fd, 65536)
                except OSError:
                    break
                if not data:
                    break
                buf += data
                if writer:
                    writer.feed(data)
            if writer:
                writer.close()
            pipe.close()

        t_out = threading.Thread(target=pump, args=(proc.stdout, out_buf, stdout_to, stream_id + "O"), daemon=True)
        t_err = threading.Thread(target=pump, args=(proc.stderr, err_buf, stderr_to, stream_id + "E"), daemon=True)
        t_out.start()
        t_err.start()

        gave_up = False
        while proc.poll() is None:
            if ctx.err():
                gave_up = not self._kill_and_wait(proc, rec)
                break
            time.sleep(0.02)

        if not gave_up:
            drain_end = time.monotonic() + self.cfg.pipe_drain_timeout
            for t in (t_out, t_err):
                t.join(max(0.0, drain_end - time.monotonic()))
            if t_out.is_alive() or t_err.is_alive():
                rec.pipes_left_open = True
                self.result.debug_log.append(
                    f"harness: {rec.kind} {rec.stage or ''}: pipes still open {self.cfg.pipe_drain_timeout:.0f} s after "
                    "the process exited (a child process kept stdout/stderr); gitlab-runner would wait forever")
        rec.stdout, rec.stderr = bytes(out_buf), bytes(err_buf)
        rec.ended = time.monotonic()
        try:
            with open(self.exit_code_file, "rb") as f:
                rec.exit_code_file = f.read(65536)
        except OSError:
            rec.exit_code_file = None
        rec.returncode = proc.returncode
        if self.current_call is rec:
            self.current_call = None
        if gave_up:
            rec.gave_up = True
            rec.error = SystemFailure(f"failed to kill process PID={proc.pid}, likely process is dormant")
            return rec.error
        rec.error = self._map_exit(proc.returncode)
        return rec.error

    def _kill_and_wait(self, proc: subprocess.Popen, rec: CallRecord) -> bool:
        """helpers/process KillAndWait; False if the process outlived SIGKILL + force_kill_timeout."""
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            rec.signals_sent.append((time.monotonic(), "SIGTERM"))
        except OSError:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
                rec.signals_sent.append((time.monotonic(), "SIGKILL"))
            except OSError:
                pass
        try:
            proc.wait(timeout=RunnerConfig._timeout(self.cfg.graceful_kill_timeout))
            return True
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)
            rec.signals_sent.append((time.monotonic(), "SIGKILL"))
        except OSError:
            pass
        force = self.cfg.force_kill_timeout if self.cfg.force_kill_timeout > 0 else 10
        try:
            proc.wait(timeout=force)
            return True
        except subprocess.TimeoutExpired:
            return False

    def _map_exit(self, rc: int) -> JobError | None:
        """command.waitForCommand + parseBuildFailure."""
        if rc == 0:
            return None
        if rc < 0:
            sig = -rc
            name = GO_SIGNAL_NAMES.get(sig, f"signal {sig}")
            return SystemFailure(f"unknown Custom executor executable exit code -1; "
                                 f"executable execution terminated with: signal: {name}")
        if rc == 1:
            try:
                with open(self.exit_code_file, "rb") as f:
                    data = f.read()
            except OSError:
                return BuildError("exit status 1", "script_failure", 1)
            first = data.split(b"\n", 1)[0]
            if len(first) > 64 * 1024:
                first = b""  # bufio.Scanner: token too long -> no token
            if first.endswith(b"\r"):
                first = first[:-1]
            code_str = first.decode("utf-8", "replace")
            try:
                code = go_atoi(code_str)
            except ValueError:
                return SystemFailure("unknown Custom executor executable exit code 2; "
                                     "executable execution terminated with: exit status 1")
            return BuildError(f"exit status {code_str}", "script_failure", code)
        if rc == 2:
            return SystemFailure("exit status 2")
        return SystemFailure(f"unknown Custom executor executable exit code {rc}; "
                             f"executable execution terminated with: exit status {rc}")

    # ---- executor.Prepare / Cleanup

    def _parse_config(self, out: bytes) -> JobError | None:
        """json.Unmarshal into ConfigExecOutput (unknown keys ignored, null = absent, keys
        matched case-insensitively, wrong types are errors), then InjectInto."""
        text = out.decode("utf-8", "replace")

        def bad_const(c: str) -> Any:
            raise ValueError(f"invalid character '{c[0]}' looking for beginning of value")

        try:
            doc = json.loads(text, object_pairs_hook=_JSONObject, parse_constant=bad_const)
        except ValueError as e:
            return SystemFailure(f"error while parsing JSON output: {e}")
        if doc is None:
            return None
        if not isinstance(doc, _JSONObject):
            return SystemFailure(f"error while parsing JSON output: json: cannot unmarshal {_json_kind(doc)} into Go "
                                 "value of type custom.ConfigExecOutput")
        fields = {"builds_dir": str, "cache_dir": str, "builds_dir_is_shared": bool, "hostname": str, "shell": str,
                  "driver": _JSONObject, "job_env": _JSONObject}
        got: dict[str, Any] = {}
        type_err: str | None = None

        def field_of(key: str, names: Iterable[str]) -> str | None:
            names = list(names)
            if key in names:
                return key
            return next((n for n in names if n.lower() == key.lower()), None)

        for key, val in doc:
            fname = field_of(key, fields)
            if fname is None or val is None:
                continue
            want = fields[fname]
            if not isinstance(val, want) or (want is str and isinstance(val, bool)) or \
                    (want is bool and not isinstance(val, bool)):
                gotype = {str: "string", bool: "bool"}.get(want, "custom.ConfigExecOutput." + fname)
                type_err = type_err or (f"json: cannot unmarshal {_json_kind(val)} into Go struct field "
                                        f"ConfigExecOutput.{fname} of type {gotype}")
                continue
            if fname == "driver":
                drv = dict(got.get("driver") or {})
                for k2, v2 in val:
                    f2 = field_of(k2, ("name", "version"))
                    if f2 is None or v2 is None:
                        continue
                    if not isinstance(v2, str):
                        type_err = type_err or (f"json: cannot unmarshal {_json_kind(v2)} into Go struct field "
                                                f"DriverInfo.driver.{f2} of type string")
                        continue
                    drv[f2] = v2
                got["driver"] = drv
            elif fname == "job_env":
                env = dict(got.get("job_env") or {})
                for k2, v2 in val:
                    if v2 is None:
                        env[k2] = ""
                    elif not isinstance(v2, str):
                        type_err = type_err or (f"json: cannot unmarshal {_json_kind(v2)} into Go struct field "
                                                f"ConfigExecOutput.job_env of type string")
                    else:
                        env[k2] = v2
                got["job_env"] = env
            else:
                got[fname] = val
        if type_err:
            return SystemFailure(f"error while parsing JSON output: {type_err}")
        if "hostname" in got:
            self.hostname = got["hostname"]
        if "builds_dir" in got:
            self.builds_dir = got["builds_dir"]
        if "cache_dir" in got:
            self.cache_dir = got["cache_dir"]
        if "builds_dir_is_shared" in got:
            self.shared_builds_dir = got["builds_dir_is_shared"]
        self.driver_info = got.get("driver")
        if "job_env" in got:
            self.job_env = got["job_env"]
        if "shell" in got:
            self.shell = got["shell"]
        return None

    def _prepare_attempt(self, prepare_ctx: Context, attempt: int) -> JobError | None:
        self.prepare_entered = True
        # Each attempt is a fresh executor: config_exec output of a failed attempt is gone.
        self.job_env = {}
        self.builds_dir, self.cache_dir, self.shell = self.cfg.builds_dir, self.cfg.cache_dir, self.cfg.shell
        self.shared_builds_dir, self.driver_info = False, None
        base = self.cfg.tmpdir or tempfile.gettempdir()
        self.tmp_dir = go_mkdtemp(base, "custom-executor")
        self.result.temp_dirs.append(self.tmp_dir)
        self.response_file = os.path.join(self.tmp_dir, "response.json")
        fd = os.open(self.response_file, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(go_json(self.spec) + "\n")
        self.exit_code_file = os.path.join(self.tmp_dir, "build_exit_code")

        if self.cfg.config_exec:
            ctx = Context(prepare_ctx, RunnerConfig._timeout(self.cfg.config_exec_timeout))
            rec = CallRecord("config", [self.cfg.config_exec] + list(self.cfg.config_args), attempt=attempt)
            err = self.run_call(ctx, rec, "buffer", "log", "00")
            if err:
                return err
            if rec.stdout:
                err = self._parse_config(rec.stdout)
                if err:
                    return err

        info = self.driver_info
        if not info or info.get("name") is None:
            self.log.println("Using Custom executor...")
        elif info.get("version") is None:
            self.log.println(f"Using Custom executor with driver {info['name']}...")
        else:
            self.log.println(f"Using Custom executor with driver {info['name']} {info['version']}...")

        # AbstractExecutor.PrepareBuildAndShell -> Build.StartBuild
        if not self.builds_dir:
            return BuildError("the builds_dir is not configured", "config_error")
        if not self.cache_dir:
            return BuildError("the cache_dir is not configured", "config_error")
        self.root_dir = self.builds_dir
        self.build_dir = go_path_join(self.root_dir, self.project_unique_dir(self.shared_builds_dir))
        shell = self.shell or "bash"
        if shell not in ("bash", "sh", "pwsh", "powershell"):
            return SystemFailure(f"shell {shell} not found")
        if shell in ("pwsh", "powershell"):
            raise HarnessError(f"shell {shell}: PowerShell scripts are not emulated by this harness")
        self.shell = shell

        if self.cfg.prepare_exec:
            ctx = Context(prepare_ctx, RunnerConfig._timeout(self.cfg.prepare_exec_timeout))
            rec = CallRecord("prepare", [self.cfg.prepare_exec] + list(self.cfg.prepare_args), attempt=attempt)
            return self.run_call(ctx, rec, "log", "log", "00")
        return None

    def executor_cleanup(self) -> None:
        if self.cfg.cleanup_exec:
            ctx = Context(None, RunnerConfig._timeout(self.cfg.cleanup_exec_timeout))
            rec = CallRecord("cleanup", [self.cfg.cleanup_exec] + list(self.cfg.cleanup_args))
            err = self.run_call(ctx, rec, "buffer", "buffer", "00")
            for line in rec.stdout_text.splitlines():
                self.result.debug_log.append(f"cleanup stdout: {line}")
            for line in rec.stderr_text.splitlines():
                self.result.debug_log.append(f"cleanup stderr: {line}")
            if err:
                self.log.warningln(f"Cleanup script failed: {err}")
        if self.tmp_dir:
            shutil.rmtree(self.tmp_dir, ignore_errors=True)

    def retry_create_executor(self, prepare_ctx: Context) -> tuple[bool, JobError | None]:
        err: JobError | None = None
        for attempt in range(1, max(1, self.cfg.preparation_retries) + 1):
            self.result.prepare_attempts = attempt
            err = self._prepare_attempt(prepare_ctx, attempt)
            if err is None:
                return True, None
            self.executor_cleanup()
            if err.build:
                return False, err
            if prepare_ctx.err():
                return False, self.handle_error(prepare_ctx.cause())
            self.log.errorln(f"Preparation failed: {err}")
            interval = self.cfg.retry_interval()
            self.log.infoln(f"Will be retried in {go_duration(interval)} ...")
            if prepare_ctx.wait(interval):
                return False, self.handle_error(prepare_ctx.cause())
        return False, err

    # ---- stages

    def writer(self) -> BashWriter:
        return BashWriter(self.build_dir + ".tmp", self.shell, posix_escape=self.ff("FF_POSIXLY_CORRECT_ESCAPES"),
                          check_for_errors=self.ff("FF_ENABLE_BASH_EXIT_CODE_CHECK"),
                          legacy_eval=self.ff("FF_USE_LEGACY_BASH_EVAL"))

    def _exports(self, w: BashWriter, env_only: bool = False) -> None:
        for v in self.all_variables():
            if env_only and v.file:
                w.variable(Variable(v.key, w.tmp_file(v.key)))
                continue
            w.variable(v)
        env_file = w.tmp_file(GITLAB_ENV_FILE)
        w.variable(Variable("GITLAB_ENV", env_file))
        w.source_env(env_file)
        if self.ff("FF_GIT_URLS_WITHOUT_TOKENS"):
            w.line(f'export {w.escape("GIT_CONFIG_GLOBAL")}="{w.tmp_file(GLOBAL_GIT_CONFIG_SEED_FILE)}"')

    def _write_commands(self, w: BashWriter, prefix: str, commands: list[str]) -> None:
        for i, command in enumerate(commands):
            command = command.strip()
            if command == "":
                w.empty_line()
            elif "\n" not in command:
                w.noticef(f"$ {command}")
            elif self.ff("FF_SCRIPT_SECTIONS") and (self.spec.get("features") or {}).get("trace_sections"):
                w.section_start(f"{prefix}_{i}", f"$ {command}", ["hide_duration=true", "collapsed=true"])
                w.section_end(f"{prefix}_{i}")
            else:
                w.noticef(f"$ {command.split(chr(10), 1)[0]} # collapsed multi-line command")
            w.line(command)
            w.check_for_errors()

    def _remote_host(self) -> tuple[str, str] | None:
        u = urllib.parse.urlparse((self.spec.get("git_info") or {}).get("repo_url", ""))
        if not u.hostname or u.scheme not in ("http", "https", "ssh"):
            return None
        host = u.hostname + (f":{u.port}" if u.port else "")
        return u.scheme, host

    def _clear_git_credentials(self, w: BashWriter) -> None:
        r = self._remote_host()
        if r:
            w.command_with_stdin(True, f"url={r[0]}://{r[1]}\nusername=gitlab-ci-token", "git", "credential", "reject")

    def _change_files_ownership(self, w: BashWriter, *dirs: str) -> None:
        """changeFilesOwnership: only acts when the uid/gid file exists (umask-off mode)."""
        uidgid = f"{self.root_dir}/{BUILD_UID_GID_FILE}"
        w.if_file(uidgid)
        for d in dirs or (self.root_dir,):
            if not d.strip():
                continue
            w.if_directory(d)
            w.line(f"chown -R \"$(stat -c '%u:%g' '{uidgid}')\" '{d}'")
            if self.bool_setting("CI_DEBUG_TRACE", False):
                w.line(f"echo \"Setting ownership for {d} to $(stat -c '%u:%g' '{uidgid}')\"")
            w.end_if()
        w.end_if()

    # ---- cache and artifacts (shells/abstract.go at 19.4)

    def cache_dir_of_build(self) -> str:
        """Build.CacheDir: cache_dir joined with ProjectUniqueDir(false)."""
        return go_path_join(self.cache_dir, self.project_unique_dir(False))

    def _guard(self, w: BashWriter, action: str, body: Callable[[], None]) -> None:
        """guardRunnerCommand: the helper commands only when `gitlab-runner --version` works."""
        w.if_cmd(RUNNER_NAME, "--version")
        body()
        w.else_()
        w.warningf(f"Missing {RUNNER_NAME}. {action} is disabled.")
        w.end_if()

    def _variable_value(self, key: str) -> str:
        for v in reversed(self.all_variables()):
            if v.key == key:
                return v.value
        return ""

    def _expand(self, value: str) -> str:
        return go_expand(value, self._raw_lookup(self.all_variables()))

    def _new_cache_config(self, w: BashWriter, user_key: str,
                          checks: Iterable[Callable[[str], bool]] = ()) -> tuple[dict | None, str, str | None]:
        """newCacheConfig: (config, warning, error)."""
        gi, ji = self.spec.get("git_info") or {}, self.spec.get("job_info") or {}
        raw = go_path_join("/", ji.get("name", ""), gi.get("ref", ""))[1:]
        if user_key:
            raw = self._expand(user_key)
        hashed_on = self.ff("FF_HASH_CACHE_KEYS")
        warning, err = "", None
        if hashed_on:
            human = raw
        else:
            human, serr = sanitize_cache_key(raw)
            if serr:
                warning = serr
            elif human != raw:
                warning = f"cache key {go_quote(raw)} sanitized to {go_quote(human)}"
        for check in checks:
            if not check(human):
                return None, warning, None
        if human == "":
            return None, warning, "empty cache key"

        def sha(k: str) -> str:
            return hashlib.sha256(k.encode()).hexdigest()

        hashed = sha(human) if hashed_on else human
        alternate = human if hashed_on else sha(human)

        def archive(key: str) -> str:
            return posixpath.relpath(go_path_join(self.cache_dir_of_build(), key, "cache.zip"), self.build_dir)

        return {"human": human, "hashed": hashed, "file": archive(hashed), "alternate_file": archive(alternate)}, \
            warning, err

    @staticmethod
    def _check_policy(policy: str, wanted: str) -> bool:
        """Cache.CheckPolicy; an unknown policy fails the script's generation."""
        if policy in ("", "pull-push"):
            return True
        if policy in ("pull", "push"):
            return policy == wanted
        raise ScriptError(f"unknown cache policy {policy}")

    def _caches(self, w: BashWriter, wanted: str, on_success: bool | None, seen: list[bool]):
        """The payload's caches a restore (wanted "pull") or an archive ("push", those whose
        `when` matches on_success) carries out, as the runner's two generators walk them:
        (cache, its config, archiver args) of each, with the notices of those skipped
        written in place; seen gets True when a cache names paths at all."""
        verb, noun = ("extraction", "downloading") if wanted == "pull" else ("archiving", "uploading")
        for c in self.spec.get("cache") or []:
            if on_success is not None and not self._when_matches(c.get("when"), on_success):
                continue
            args = [x for p in c.get("paths") or [] for x in ("--path", p)]
            if c.get("untracked"):
                args.append("--untracked")
            if not args:
                continue
            seen.append(True)
            cc, warning, err = self._new_cache_config(w, c.get("key") or "")
            if warning:
                w.warningf(warning)
            if err:
                w.noticef(f"Skipping cache {verb} due to {err}")
                continue
            try:
                ok = self._check_policy(self._expand(c.get("policy") or ""), wanted)
            except ScriptError as e:
                raise ScriptError(f"{e} for {cc['human']}") from None
            if not ok:
                w.noticef(f"Not {noun} cache {cc['human']} due to policy")
                continue
            yield c, cc, args

    def _gen_restore_cache(self, w: BashWriter) -> bool:
        self._exports(w)
        w.cd(self.build_dir)
        seen: list[bool] = []
        for c, cc, _args in self._caches(w, "pull", None, seen):
            self._extract_cache_or_fallbacks(w, cc, c)
        if not seen:
            return False
        self._change_files_ownership(w, self.cache_dir_of_build(), self.root_dir)
        return True

    def _extract_cache_or_fallbacks(self, w: BashWriter, first: dict, c: dict) -> None:
        configs = [first]

        def add(key: str, *checks: Callable[[str], bool]) -> None:
            if not key:
                return
            cc, warning, err = self._new_cache_config(w, key, checks)
            if warning:
                w.warningf(warning)
            if err:
                w.noticef(f"Skipping cache extraction due to {err}")
                return
            if cc is not None:
                configs.append(cc)

        for k in c.get("fallback_keys") or []:
            add(self._expand(k))

        def block_protected(key: str) -> bool:
            if key.rstrip(". ").endswith("-protected"):
                w.warningf(f"CACHE_FALLBACK_KEY {go_quote(key)} not allowed to end in {go_quote('-protected')}")
                return False
            return True

        add(self._variable_value("CACHE_FALLBACK_KEY"), block_protected)
        self._guard(w, "Extracting cache", lambda: self._add_extract_cache(w, configs, list(c.get("paths") or [])))

    def _add_extract_cache(self, w: BashWriter, configs: list[dict], paths: list[str]) -> None:
        cc = configs[0]
        args = ["cache-extractor", "--file", cc["file"], "--timeout", str(self.int_setting("CACHE_REQUEST_TIMEOUT", 10))]
        w.noticef(f"Checking cache for {cc['human']}...")
        # no [runners.cache]: no --url, --gocloud-url, --env-file or alternate URLs
        w.if_cmd_with_output(RUNNER_NAME, *args)
        w.noticef("Successfully extracted cache")
        w.else_()
        w.warningf("Failed to extract cache")
        if self.ff("FF_CLEAN_UP_FAILED_CACHE_EXTRACT"):
            for p in paths:
                w.printf(f"Removing {p}")
                w.rm_dir(p)
        if len(configs) > 1:
            self._add_extract_cache(w, configs[1:], paths)
        w.end_if()

    def _gen_download_artifacts(self, w: BashWriter) -> bool:
        self._exports(w)
        w.cd(self.build_dir)
        deps = [d for d in self.spec.get("dependencies") or [] if (d.get("artifacts_file") or {}).get("filename")]
        if not deps:
            return False

        def body() -> None:
            for d in deps:
                w.noticef(f"Downloading artifacts for {d.get('name', '')} ({d.get('id', 0)})...")
                w.command(RUNNER_NAME, "artifacts-downloader", "--url", self.cfg.url, "--token", d.get("token", ""),
                          "--id", str(d.get("id", 0)))

        self._guard(w, "Artifacts downloading", body)
        self._change_files_ownership(w, self.cache_dir_of_build(), self.root_dir)
        return True

    @staticmethod
    def _when_matches(when: str | None, on_success: bool) -> bool:
        """ArtifactWhen / CacheWhen: on_success (or empty), on_failure, always."""
        when = when or ""
        if on_success:
            return when in ("", "on_success", "always")
        return when in ("on_failure", "always")

    def _gen_archive_cache(self, w: BashWriter, on_success: bool) -> bool:
        self._exports(w)
        w.cd(self.build_dir)
        seen: list[bool] = []
        for _c, cc, args in self._caches(w, "push", on_success, seen):
            self._add_cache_upload(w, cc, args)
        return bool(seen)

    def _add_cache_upload(self, w: BashWriter, cc: dict, archiver_args: list[str]) -> None:
        args = ["cache-archiver", "--file", cc["file"], "--alternate-file", cc["alternate_file"],
                "--timeout", str(self.int_setting("CACHE_REQUEST_TIMEOUT", 10))]
        env = {"CACHE_METADATA": go_json({"cachekey": cc["human"]})}
        args += archiver_args

        def body() -> None:
            w.noticef(f"Creating cache {cc['human']}...")
            env_file = w.dot_env_variables("gitlab_runner_cache_env", env)
            w.if_cmd_with_output(RUNNER_NAME, *args, "--env-file", env_file)
            w.noticef("Created cache")
            w.else_()
            w.warningf("Failed to create cache")
            w.end_if()
            w.rm_file(env_file)

        self._guard(w, "Creating cache", body)

    def _gen_upload_artifacts(self, w: BashWriter, on_success: bool) -> bool:
        if not self.cfg.url:
            return False
        self._exports(w)
        w.cd(self.build_dir)
        wrote = False
        for a in self.spec.get("artifacts") or []:
            if not self._when_matches(a.get("when"), on_success):
                continue
            if self._write_upload_artifact(w, a):
                wrote = True
        return wrote

    def _write_upload_artifact(self, w: BashWriter, a: dict) -> bool:
        args = ["artifacts-uploader", "--url", self.cfg.url, "--token", str(self.spec.get("token", "")),
                "--id", str(self.spec.get("id", 0)), "--timeout", self.cfg.artifact_upload_timeout,
                "--response-header-timeout", self.cfg.artifact_response_header_timeout]
        fmt = a.get("artifact_format") or ""
        if fmt == "zip" and self._job_variable_bool("RUNNER_GENERATE_ARTIFACTS_METADATA"):
            args += self._artifacts_metadata_args()
        archiver = [x for p in a.get("paths") or [] for x in ("--path", p)]
        archiver += [x for p in a.get("exclude") or [] for x in ("--exclude", p)]
        if a.get("untracked"):
            archiver.append("--untracked")
        if not archiver:
            return False
        args += archiver
        for flag, key in (("--name", "name"), ("--expire-in", "expire_in"), ("--artifact-format", "artifact_format"),
                          ("--artifact-type", "artifact_type")):
            if a.get(key):
                args += [flag, str(a[key])]

        def body() -> None:
            w.noticef("Uploading artifacts...")
            w.command(RUNNER_NAME, *args)

        self._guard(w, "Uploading artifacts", body)
        return True

    def _job_variable_bool(self, key: str) -> bool:
        for v in reversed(self._job_variables()):
            if v.key == key:
                try:
                    return go_parse_bool(v.value)
                except ValueError:
                    return False
        return False

    def _artifacts_metadata_args(self) -> list[str]:
        """generateArtifactsMetadataArgs (RUNNER_GENERATE_ARTIFACTS_METADATA, zip only)."""
        jv = self._job_variables()

        def val(k: str) -> str:
            return next((v.value for v in reversed(jv) if v.key == k), "")

        gi = self.spec.get("git_info") or {}
        u = urllib.parse.urlsplit(gi.get("repo_url", ""))
        clean = urllib.parse.urlunsplit((u.scheme, u.hostname + (f":{u.port}" if u.port else "") if u.hostname else
                                         u.netloc, u.path, u.query, u.fragment))
        now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        args = ["--generate-artifacts-metadata", "--runner-id", val("CI_RUNNER_ID"),
                "--repo-url", clean[:-4] if clean.endswith(".git") else clean, "--repo-digest", gi.get("sha", ""),
                "--job-name", (self.spec.get("job_info") or {}).get("name", ""), "--executor-name", "custom",
                "--runner-name", self.cfg.name, "--started-at", self.started_at, "--ended-at", now,
                "--schema-version", val("SLSA_PROVENANCE_SCHEMA_VERSION") or "unknown"]
        for v in jv:
            args += ["--metadata-parameter", v.key]
        return args

    def _git_cleanup(self, w: BashWriter) -> None:
        proj = self.build_dir
        for f in ("index.lock", "shallow.lock", "HEAD.lock", "hooks/post-checkout", "config.lock"):
            w.rm_file(go_path_join(proj, ".git", f))
        w.rm_files_recursive(go_path_join(proj, ".git", "refs"), "*.lock")
        if self.git_strategy() != "none":
            for d in (w.tmp_file("git-template"), go_path_join(proj, ".git")):
                w.rm_file(go_path_join(d, "config"))
                w.rm_dir(go_path_join(d, "hooks"))

    def _gen_get_sources(self, w: BashWriter) -> None:
        self._exports(w)
        w.variable(Variable("GIT_TERMINAL_PROMPT", "0"))
        w.variable(Variable("GCM_INTERACTIVE", "Never"))
        strategy = self.git_strategy()
        hooks = strategy not in ("none", "empty")
        if hooks and self.cfg.pre_get_sources_script:
            self._write_commands(w, "pre_clone_script", [self.cfg.pre_get_sources_script])
        lfs_skip = self.bool_setting("GIT_LFS_SKIP_SMUDGE", False)
        if not lfs_skip:
            w.variable(Variable("GIT_LFS_SKIP_SMUDGE", "1"))
        proj = self.build_dir
        gi = self.spec.get("git_info") or {}
        if strategy == "none":
            w.noticef("Skipping Git repository setup")
            w.mkdir(proj)
        elif strategy == "empty":
            w.noticef("Skipping Git repository setup and creating an empty build directory")
            w.rm_dir(proj)
            w.mkdir(proj)
        else:
            # Simplified clone/fetch (no external git config, insteadOf or bundle URIs).
            self._git_cleanup(w)
            template = w.tmp_file("git-template")
            w.mkdir(template)
            tfile = go_path_join(template, "config")
            for k, v in (("init.defaultBranch", "none"), ("fetch.recurseSubmodules", "false"),
                         ("credential.interactive", "never"), ("gc.autoDetach", "false")):
                w.command("git", "config", "-f", tfile, k, v)
            if strategy == "clone":
                w.rm_dir(proj)
            depth = int(gi.get("depth") or 0)
            w.noticef(f"Fetching changes with git depth set to {depth}..." if depth > 0 else "Fetching changes...")
            w.command("git", "init", proj, "--template", template)
            w.cd(proj)
            w.if_cmd("git", "remote", "add", "origin", gi.get("repo_url", ""))
            w.noticef("Created fresh repository.")
            w.else_()
            w.command("git", "remote", "set-url", "origin", gi.get("repo_url", ""))
            w.end_if()
            args = ["-c", f"http.userAgent={RUNNER_NAME} {RUNNER_VERSION} {RUNNER_ARCH}", "fetch", "origin",
                    "--no-recurse-submodules"] + list(gi.get("refspecs") or [])
            if depth > 0:
                args += ["--depth", str(depth)]
            args += ["--prune", "--quiet"]
            w.command("git", *args)
        if strategy not in ("none", "empty") and self.bool_setting("GIT_CHECKOUT", True):
            sha = gi.get("sha", "")
            w.noticef(f"Checking out {sha[:8]} as detached HEAD (ref is {gi.get('ref', '')})...")
            w.command("git", "-c", "submodule.recurse=false", "checkout", "-f", "-q", sha)
            w.command("git", "clean", "-ffdx")
            if not lfs_skip:
                w.if_cmd("git", "lfs", "version")
                w.command("git", "lfs", "pull")
                w.empty_line()
                w.end_if()
        else:
            w.noticef("Skipping Git checkout")
        w.noticef("Skipping Git submodules setup")
        if hooks and self.cfg.post_get_sources_script:
            self._write_commands(w, "post_clone_script", [self.cfg.post_get_sources_script])
        self._change_files_ownership(w)
        self._clear_git_credentials(w)

    def _gen_clear_worktree(self, w: BashWriter) -> None:
        w.noticef("Deleting tracked and untracked files...")
        w.if_directory(self.build_dir)
        w.cd(self.build_dir)
        w.command("git", "rm", "-rf", "--ignore-unmatch", "--quiet", ".")
        w.command("git", "clean", "-ffdx", "-q")
        w.end_if()

    def _gen_cleanup(self, w: BashWriter) -> None:
        self._exports(w, env_only=True)
        self._clear_git_credentials(w)
        w.rm_file(w.tmp_file(GITLAB_ENV_FILE))
        w.rm_file(w.tmp_file("masking.db"))
        w.rm_file(w.tmp_file(EXT_GIT_CONFIG_FILE))
        w.rm_file(w.tmp_file(GLOBAL_GIT_CONFIG_SEED_FILE))
        for v in self.all_variables():
            if v.file:
                w.rm_file(w.tmp_file(v.key))
        if self.ff("FF_ENABLE_JOB_CLEANUP"):
            s = self.git_strategy()
            if s in ("clone", "empty"):
                w.rm_dir(self.build_dir)
            elif s == "fetch":
                w.cd(self.build_dir)
                w.command("git", "clean", "-ffdx")
                w.command("git", "reset", "--hard")
            else:
                w.noticef("Skipping build directory cleanup step")
        self._git_cleanup(w)
        w.rm_file(go_path_join(self.root_dir, BUILD_UID_GID_FILE))

    def _steps(self) -> list[dict]:
        return [s for s in self.spec.get("steps") or [] if s.get("name") != "after_script"]

    def generate(self, stage: str) -> str | None:
        """GenerateShellScript; None = ErrSkipBuildStage."""
        w = self.writer()
        if stage == "prepare_script":
            if self.hostname:
                w.line("echo " + go_quote(f"Running on $(hostname) via {self.hostname}..."))
            else:
                w.line("echo " + go_quote("Running on $(hostname)..."))
            w.rm_file(w.tmp_file(GITLAB_ENV_FILE))
            w.rm_file(w.tmp_file("masking.db"))
        elif stage == "get_sources":
            self._gen_get_sources(w)
        elif stage == "clear_worktree":
            self._gen_clear_worktree(w)
        elif stage == "restore_cache":
            if not self._gen_restore_cache(w):
                return None
        elif stage == "download_artifacts":
            if not self._gen_download_artifacts(w):
                return None
        elif stage in ("archive_cache", "archive_cache_on_failure"):
            if not self._gen_archive_cache(w, stage == "archive_cache"):
                return None
        elif stage in ("upload_artifacts_on_success", "upload_artifacts_on_failure"):
            if not self._gen_upload_artifacts(w, stage == "upload_artifacts_on_success"):
                return None
        elif stage == "after_script":
            step = next((s for s in self.spec.get("steps") or [] if s.get("name") == "after_script"), None)
            if not step or not step.get("script"):
                return None
            self._exports(w)
            w.cd(self.build_dir)
            w.noticef("Running after script...")
            self._write_commands(w, "after_script_step", list(step["script"]))
        elif stage == "cleanup_file_variables":
            self._gen_cleanup(w)
        else:
            step = next((s for s in self._steps() if "step_" + str(s.get("name", "")).lower() == stage), None)
            raw = next((cmds for n, cmds in self.job.raw_stages if n == stage), None)
            if step is None and raw is None:
                return None
            self._exports(w)
            w.cd(self.build_dir)
            if self.cfg.pre_build_script:
                self._write_commands(w, "pre_build_script", [self.cfg.pre_build_script])
            script = list(step["script"]) if step is not None else list(raw)
            if step is not None and step.get("name") == "release":
                get = self._raw_lookup(self.all_variables())
                script = [go_expand(s, get) for s in script]
            self._write_commands(w, "script_step", script)
            if self.cfg.post_build_script:
                self._write_commands(w, "post_build_script", [self.cfg.post_build_script])
        return w.finish(self.bool_setting("CI_DEBUG_TRACE", False))

    def execute_stage(self, ctx: Context, stage: str) -> JobError | None:
        """Build.executeStage + executor.Run."""
        if ctx.err():
            return ctx.error()
        try:
            script = self.generate(stage)
        except ScriptError as e:  # GenerateShellScript failed: not a build error
            return e
        if not script:
            return None
        features = self.spec.get("features") or {}
        if features.get("trace_sections"):
            self.log.write(f"section_start:{int(time.time())}:{stage}\r{ANSI_CLEAR}")
        self.log.println(ANSI_BOLD_CYAN + STAGE_TITLES.get(stage, f'Executing "{stage}" stage of the job script')
                         + ANSI_RESET)
        script_dir = go_mkdtemp(self.tmp_dir, "script")
        path = os.path.join(script_dir, "script")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o700)
        with os.fdopen(fd, "w") as f:
            f.write(script)
        sent = stage
        if stage == "step_script":
            self.log.warningln("Starting with version 17.0 the 'build_script' stage will be replaced with "
                               "'step_script': https://gitlab.com/groups/gitlab-org/-/epics/6112")
            sent = "build_script"
        rec = CallRecord("run", [self.cfg.run_exec] + list(self.cfg.run_args) + [path, sent], stage=sent,
                         build_stage=stage, script_path=path, script=script)
        err = self.run_call(ctx, rec, "log", "log", "01")
        if features.get("trace_sections"):
            self.log.write(f"section_end:{int(time.time())}:{stage}\r{ANSI_CLEAR}")
        if ctx.err() == "deadline":
            self.log.warningln(f"{stage} could not run to completion because the timeout was exceeded. For more "
                               "control over job and script timeouts see: "
                               "https://docs.gitlab.com/ci/runners/configure_runners/#set-script-and-after_script-timeouts")
        return err

    def attempt_stage(self, ctx: Context, stage: str, attempts: int,
                      before: Callable[[int], JobError | None] | None = None) -> JobError | None:
        attempts = max(1, min(10, attempts))
        lo, hi = self.cfg.stage_retry_backoff
        backoff = lo
        err: JobError | None = None
        for attempt in range(attempts):
            if before:
                err = before(attempt)
            if err is None:
                err = self.execute_stage(ctx, stage)
            if err is None:
                return None
            if attempt + 1 < attempts:
                self.log.warningln("Retrying...")
                wait = backoff if self.ff("FF_USE_EXPONENTIAL_BACKOFF_STAGE_RETRY") else 1.0
                backoff = min(hi, backoff * 2)
                if ctx.wait(wait):
                    return ctx.error()
        return err

    def stage_timeout(self, ctx: Context, name: str, default: float | None) -> Context:
        raw = self.settings_value(name)
        dur = default
        if raw.strip():
            try:
                d = go_parse_duration(raw)
                if d < 0:
                    self.log.warningln(f"Ignoring relative {name} timeout: {raw}")
                elif self.job_ctx.deadline is not None and d > self.job_ctx.deadline - time.monotonic():
                    # clamped by the parent (job) context anyway
                    self.log.warningln(f"{name} timeout: {raw} is longer than job timeout. Setting to job timeout")
                elif d != 0:
                    dur = d
            except ValueError:
                self.log.warningln(f"Ignoring malformed {name} timeout: {raw}")
        return Context(ctx, dur) if dur else Context(ctx)

    def runtime_state(self, err: JobError | None) -> tuple[str, JobError | None]:
        if err is None:
            return "success", None
        if err.canceled:
            return "canceled", BuildError("canceled", "job_canceled", canceled=True)
        if err.deadline:
            return "timedout", BuildError(f"execution took longer than {go_duration(self.build_timeout())} seconds",
                                          "job_execution_timeout", deadline=True)
        return "failed", err

    def handle_error(self, cause: JobError | None) -> JobError:
        _, err = self.runtime_state(cause or ContextError("canceled"))
        return err  # type: ignore[return-value]

    def cancel_func(self) -> None:
        with self._cancel_lock:
            f = self._cancel_func
        f()

    def _set_cancel_func(self, f: Callable[[], None]) -> None:
        with self._cancel_lock:
            self._cancel_func = f

    def execute_user_scripts(self, ctx: Context) -> JobError | None:
        script_ctx = self.stage_timeout(ctx, "RUNNER_SCRIPT_TIMEOUT", None)
        self._set_cancel_func(script_ctx.cancel)
        err: JobError | None = None
        stages = ["step_" + str(s.get("name", "")).lower() for s in self._steps()]
        stages += [n for n, _ in self.job.raw_stages]
        for st in stages:
            err = self.execute_stage(script_ctx, st)
            if err:
                break
        if ctx.err() is None and script_ctx.err() == "canceled":
            err = BuildError("canceled", "job_canceled", canceled=True)
            self.log.warningln("script canceled externally (UI, API)")
        elif ctx.err() != "deadline" and script_ctx.err() == "deadline":
            err = BuildError("script timeout: context deadline exceeded", "job_execution_timeout", deadline=True)
        after_ctx = self.stage_timeout(ctx, "RUNNER_AFTER_SCRIPT_TIMEOUT", 300.0)
        state, _ = self.runtime_state(err)
        self.job_status = state
        aerr = self.execute_stage(after_ctx, "after_script")
        if aerr and ctx.err() != "deadline":
            if self.bool_setting("AFTER_SCRIPT_IGNORE_ERRORS", True):
                self.log.warningln(f"after_script failed, but job will continue unaffected: {aerr}")
            elif err is None:
                err = aerr
        script_ctx.cancel()
        return err

    def execute_script(self, ctx: Context, prepare_ctx: Context) -> JobError | None:
        err = self.execute_stage(prepare_ctx, "prepare_script")
        if err:
            cause = prepare_ctx.cause()
            if cause is not None and getattr(cause, "prepare_timeout", False):
                return BuildError(str(cause), "job_execution_timeout")
            return wrap_error(err, f"prepare environment: {err}. Check "
                                   "https://docs.gitlab.com/runner/shells/#shell-profile-loading for more information")
        gs_timeout = self._bounded_timeout(self.cfg.get_sources_timeout)
        gs_cause = SystemFailure(f"get sources timeout: exceeded timeout of {go_duration(gs_timeout)}")
        gs_cause.get_sources_timeout = True  # type: ignore[attr-defined]
        gs_ctx = Context(ctx, gs_timeout, gs_cause)

        def clear_worktree(attempt: int) -> JobError | None:
            return self.execute_stage(gs_ctx, "clear_worktree") if attempt == 1 else None

        err = self.attempt_stage(gs_ctx, "get_sources", self.int_setting("GET_SOURCES_ATTEMPTS", 1), clear_worktree)
        if err:
            cause = gs_ctx.cause()
            if cause is not None and getattr(cause, "get_sources_timeout", False):
                return BuildError(str(cause), "job_execution_timeout")
        if err is None:
            err = self.attempt_stage(ctx, "restore_cache", self.int_setting("RESTORE_CACHE_ATTEMPTS", 1))
        if err is None:
            err = self.attempt_stage(ctx, "download_artifacts", self.int_setting("ARTIFACT_DOWNLOAD_ATTEMPTS", 1))
        if err is None:
            err = self.execute_user_scripts(ctx)
        cache_err = self.execute_stage(ctx, "archive_cache" if err is None else "archive_cache_on_failure")
        upload_err = self.execute_stage(ctx, "upload_artifacts_on_success" if err is None
                                        else "upload_artifacts_on_failure")
        err = err or cache_err or upload_err
        cerr = self.execute_stage(ctx, "cleanup_file_variables")
        if cerr:
            self.result.debug_log.append(f"Error while executing file based variables removal script: {cerr}")
        return err

    def _bounded_timeout(self, t: int | None) -> float:
        bt = self.build_timeout()
        if t is None or t <= 0 or t > bt:
            return bt
        return float(t)

    # ---- Build.Run

    def run(self) -> JobResult:
        t0 = time.monotonic()
        res = self.result
        self.started_at = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.job_ctx = Context(None, self.build_timeout())
        self._set_cancel_func(self.job_ctx.cancel)
        self.control._attach(self)
        self.log.println(f"Running with {RUNNER_NAME} {RUNNER_VERSION} ({RUNNER_REVISION})")
        if self.short_token:
            self.log.println(f"  on {self.cfg.name} {self.short_token}, system ID: {self.cfg.system_id}")
        ptimeout = self._bounded_timeout(self.cfg.prepare_timeout)
        pcause = SystemFailure(f"prepare timeout: exceeded timeout of {go_duration(ptimeout)}")
        pcause.prepare_timeout = True  # type: ignore[attr-defined]
        prepare_ctx = Context(self.job_ctx, ptimeout, pcause)
        err: JobError | None
        try:
            if not self.cfg.run_exec:
                err = BuildError("custom executor is missing RunExec", "config_error")
            else:
                sections = bool((self.spec.get("features") or {}).get("trace_sections"))
                if sections:
                    self.log.write(f"section_start:{int(time.time())}:prepare_executor\r{ANSI_CLEAR}")
                self.log.println(f'{ANSI_BOLD_CYAN}Preparing the "custom" executor{ANSI_RESET}')
                ok, err = self.retry_create_executor(prepare_ctx)
                if sections:
                    self.log.write(f"section_end:{int(time.time())}:prepare_executor\r{ANSI_CLEAR}")
                if not ok:
                    cause = prepare_ctx.cause()
                    if cause is not None and getattr(cause, "prepare_timeout", False):
                        err = BuildError(str(cause), "job_execution_timeout")
                else:
                    res.builds_dir, res.project_dir = self.root_dir, self.build_dir
                    try:
                        err = self._run_build(prepare_ctx)
                    finally:
                        self.executor_cleanup()
        except HarnessError:
            raise
        self._finish(err)
        res.duration = time.monotonic() - t0
        return res

    def _run_build(self, prepare_ctx: Context) -> JobError | None:
        run_ctx = Context(self.job_ctx)
        box: dict[str, Any] = {}
        done = threading.Event()

        def body() -> None:
            try:
                box["err"] = self.execute_script(run_ctx, prepare_ctx)
            except BaseException as e:  # noqa: BLE001 - surface harness bugs in the job result
                box["exc"] = e
            finally:
                done.set()

        t = threading.Thread(target=body, name=f"job-{self.job.id}", daemon=True)
        t.start()
        while not done.wait(0.02):
            if self.job_ctx.err():
                break
        if done.is_set() and not self.job_ctx.err():
            if "exc" in box:
                raise box["exc"]
            return box.get("err")
        err = self.handle_error(self.job_ctx.cause())
        run_ctx.cancel()
        if not done.wait(self.cfg.wait_for_build_finish_timeout):
            self.log.warningln("Timed out waiting for the build to finish")
        if "exc" in box:
            raise box["exc"]
        return err

    def _finish(self, err: JobError | None) -> None:
        res = self.result
        if err is None:
            res.status, res.failure = "success", None
            line = "Job succeeded"
            self.log.write(ANSI_BOLD_GREEN + line + ANSI_RESET + "\n", force=True)
        elif err.build:
            res.failure = "build"
            res.failure_reason = err.failure_reason
            res.status = "canceled" if err.failure_reason == "job_canceled" else "failed"
            res.exit_code = err.exit_code if err.failure_reason == "script_failure" else None
            line = f"ERROR: Job failed: {err}"
            self.log.errorln(f"Job failed: {err}", force=True)
        else:
            res.status, res.failure, res.failure_reason = "failed", "system", "runner_system_failure"
            line = f"ERROR: Job failed (system failure): {err}"
            self.log.errorln(f"Job failed (system failure): {err}", force=True)
        res.error = None if err is None else str(err)
        res.final_line = line
        res.log = self.log.text()


# Called with every JobResult (tests/e2e/secretscan.py collects every job's logs so).
RESULT_HOOKS: list[Callable[[JobResult], None]] = []


def run_job(job: Job, cfg: RunnerConfig, control: JobControl | None = None) -> JobResult:
    """Run one job to its end (including cleanup_exec) and return what happened."""
    res = _JobRun(job, cfg, control or JobControl()).run()
    for hook in RESULT_HOOKS:
        hook(res)
    return res


class RunningJob:
    """A job running in a background thread (see start_job)."""

    def __init__(self, job: Job, cfg: RunnerConfig):
        self.job = job
        self.control = JobControl()
        self._result: JobResult | None = None
        self._exc: BaseException | None = None
        self._thread = threading.Thread(target=self._body, args=(cfg,), name=f"job-{job.id}-main", daemon=True)
        self._thread.start()

    def _body(self, cfg: RunnerConfig) -> None:
        try:
            self._result = run_job(self.job, cfg, self.control)
        except BaseException as e:  # noqa: BLE001
            self._exc = e

    def wait(self, timeout: float | None = None) -> JobResult:
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"job {self.job.id} still running after {timeout} s")
        if self._exc:
            raise self._exc
        assert self._result is not None
        return self._result


def start_job(job: Job, cfg: RunnerConfig) -> RunningJob:
    return RunningJob(job, cfg)


# --------------------------------------------------------------------------- CLI


def _job_from_file(path: str) -> tuple[Job, dict]:
    with open(path) as f:
        doc = json.load(f)
    runner = doc.pop("runner", {}) if isinstance(doc, dict) else {}
    if "steps" in doc:
        return Job.from_spec(doc), runner
    services = [Service(s) if isinstance(s, str) else Service(s["name"], s.get("alias"), s.get("command"),
                                                                s.get("entrypoint"), s.get("variables"))
                for s in doc.get("services", [])]
    img = doc.get("image")
    entry = None
    if isinstance(img, dict):
        entry = img.get("entrypoint")
        img = img.get("name")
    job = Job(script=doc.get("script", []), before_script=doc.get("before_script"),
              after_script=doc.get("after_script"), name=doc.get("name", "test"), stage=doc.get("stage", "test"),
              image=img, image_entrypoint=entry, services=services, variables=doc.get("variables"),
              extra_steps=[(k, v) for k, v in (doc.get("extra_steps") or {}).items()],
              timeout=int(doc.get("timeout", 3600)), project=doc.get("project", "e2e/project"),
              artifacts=doc.get("artifacts") or (), cache=doc.get("cache") or (),
              dependencies=doc.get("dependencies") or (), dotenv=doc.get("dotenv"))
    return job, runner


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description="Run one GitLab CI job through a custom-executor driver, the way gitlab-runner 19.4 would.",
        epilog="job.json is either a full spec.Job payload (with \"steps\") or a short form: "
               '{"script": [...], "image": "...", "services": [{"name": "...", "alias": "..."}], '
               '"variables": {...}, "after_script": [...], "artifacts": [{"paths": [...]}], "cache": [{"key": ..., '
               '"paths": [...]}], "dependencies": [{"id": ..., "token": ..., "name": ..., "artifacts_file": '
               '{"filename": ...}}], "dotenv": "deploy.env", "runner": {RunnerConfig fields, "url": ...}}')
    ap.add_argument("job", help="job JSON file")
    ap.add_argument("--driver", default=os.environ.get("EXECUTOR_BIN"),
                    help="driver binary registered for all four stages (default $EXECUTOR_BIN)")
    ap.add_argument("--runner", help="JSON file with RunnerConfig fields (run_exec, config_exec, ...)")
    ap.add_argument("--token", help="runner token (short token = first 9 chars after the glrt- prefix)")
    ap.add_argument("--cancel-after", type=float, help="cancel the job (UI cancel) after this many seconds")
    ap.add_argument("--plain", action="store_true", help="print the log without ANSI codes and section markers")
    ap.add_argument("--calls", action="store_true", help="print every driver call at the end")
    args = ap.parse_args(argv)

    job, runner_fields = _job_from_file(args.job)
    if args.runner:
        with open(args.runner) as f:
            runner_fields.update(json.load(f))
    if args.token:
        runner_fields["token"] = args.token
    if not runner_fields.get("run_exec"):
        if not args.driver:
            ap.error("no driver: give --driver, set EXECUTOR_BIN, or put run_exec in --runner")
        cfg = RunnerConfig.for_driver(args.driver, **runner_fields)
    else:
        cfg = RunnerConfig(**runner_fields)
    running = start_job(job, cfg)
    if args.cancel_after is not None:
        threading.Timer(args.cancel_after, running.control.cancel).start()
    res = running.wait()
    sys.stdout.write(res.text if args.plain else res.log)
    if args.calls:
        for c in res.calls:
            print(f"# {c.kind:8} {' '.join(c.argv)} -> rc={c.returncode} "
                  f"({len(c.stdout)} B stdout, {len(c.stderr)} B stderr, {c.duration or 0:.2f} s)", file=sys.stderr)
    print(f"# {res.summary()}", file=sys.stderr)
    return 0 if res.status == "success" else (2 if res.failure == "system" else 1)


if __name__ == "__main__":
    sys.exit(main())
