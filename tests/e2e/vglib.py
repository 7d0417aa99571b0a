"""The driver under valgrind (memcheck), for the e2e tests and `make valgrind-smoke`.

    w = wrapper(dir, real_bin)   # an executable that runs real_bin under valgrind, one log per process
    s = summarize(dir)           # what the logs say: processes, errors, leaks, fds opened and not closed

Options: --leak-check=full --errors-for-leak-kinds=definite,indirect (a definite or indirect
leak counts as an error) --error-exitcode=97 --track-fds=yes, and the suppressions in
tests/valgrind.supp (third-party library noise only; each entry says why).
"""

from __future__ import annotations

import glob
import os
import re
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
SUPP = os.path.join(os.path.dirname(HERE), "valgrind.supp")
ERROR_EXIT = 97
OPTIONS = ["--leak-check=full", "--errors-for-leak-kinds=definite,indirect",
           "--show-leak-kinds=definite,indirect", f"--error-exitcode={ERROR_EXIT}", "--track-fds=yes",
           "--num-callers=30", f"--suppressions={SUPP}"]


def available() -> str:
    v = shutil.which("valgrind")
    if not v:
        raise AssertionError("valgrind is missing: apt-get install valgrind (scripts/install-deps.sh test)")
    return v


def wrapper(log_dir: str, real_bin: str) -> str:
    """A shell script standing in for the executor binary: the same argv, environment and
    exit code (97 when valgrind found an error), a log per process in log_dir."""
    vg = available()
    os.makedirs(log_dir, exist_ok=True)
    path = os.path.join(log_dir, "executor-under-valgrind")
    opts = " ".join(OPTIONS)
    with open(path, "w") as f:
        f.write(f"#!/bin/sh\nexec {vg} -q {opts} --log-file={log_dir}/vg.%p.log {real_bin} \"$@\"\n")
    os.chmod(path, 0o755)
    return path


_ERRS = re.compile(r"ERROR SUMMARY: (\d+) errors")
_FD = re.compile(r"^==\d+== Open (?:file descriptor|AF_UNIX socket|AF_INET socket) (\d+):.*?\n==\d+==    (.*)$",
                 re.M)


def summarize(log_dir: str) -> dict:
    """{'processes', 'errors', 'logs_with_errors': [(log, excerpt)], 'fd_leaks': [(log, fd, what)]}.
    With -q a clean process writes nothing but the fd report: an empty log or one with only
    inherited descriptors is clean; any "ERROR SUMMARY: N" with N > 0, any block of an
    error ("Invalid read", "definitely lost", ...) counts."""
    out = {"processes": 0, "errors": 0, "logs_with_errors": [], "fd_leaks": []}
    for log in sorted(glob.glob(os.path.join(log_dir, "vg.*.log"))):
        out["processes"] += 1
        text = open(log, errors="replace").read()
        n = sum(int(x) for x in _ERRS.findall(text))
        blocks = [b for b in re.split(r"\n==\d+== \n", text)
                  if re.search(r"Invalid |uninitialised|Conditional jump|definitely lost in|indirectly lost in|"
                               r"Mismatched free|Syscall param|Source and destination overlap", b)]
        if n or blocks:
            out["errors"] += max(n, len(blocks))
            # the root causes first: invalid accesses and definite leaks, then what hangs off them
            blocks.sort(key=lambda b: "indirectly lost in" in b)
            out["logs_with_errors"].append((os.path.basename(log), "\n".join(blocks)[:4000] or text[-4000:]))
        for m in re.finditer(r"^==\d+== Open ([^\n]*?)(\d+)(?::[^\n]*)?\n==\d+==    ([^\n]*)", text, re.M):
            if "inherited from parent" not in m.group(3):
                out["fd_leaks"].append((os.path.basename(log), int(m.group(2)), m.group(1) + m.group(3)))
    return out


def report(s: dict) -> str:
    return (f"valgrind: {s['processes']} driver processes, {s['errors']} errors (invalid accesses, uses of "
            f"uninitialised values, definite or indirect leaks), {len(s['fd_leaks'])} descriptors left open")
