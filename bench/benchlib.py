"""Measurement helpers for bench/run.py (Python 3.11 stdlib only).

Every sample is a whole process (or a fixed sequence of whole processes): wall time
from just before fork to the wait4() that reaps it, and the max RSS GNU time reports
for it (ru_maxrss of the process and the descendants it waited for, in KiB), and the CPU
time (user + system) of the process and those descendants, from wait4. Ours and theirs alternate
A B A B after one warm-up of each; a row reports the medians.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

DEVNULL = subprocess.DEVNULL
TIME = "/usr/bin/time"  # GNU time (Debian package `time`)


class BenchError(Exception):
    """A benchmark step failed (a command exited non-zero, a precondition is missing)."""


@dataclass
class Sample:
    wall: float  # seconds
    maxrss_kb: int
    cpu: float = 0.0  # user + system seconds (wait4), the process and its waited-for children
    parts: list[tuple[str, float, int]] = field(default_factory=list)  # (label, wall, maxrss) per process

    @staticmethod
    def seq(parts: list["Sample"], labels: list[str]) -> "Sample":
        s = Sample(sum(p.wall for p in parts), max((p.maxrss_kb for p in parts), default=0),
                   sum(p.cpu for p in parts))
        s.parts = [(lab, p.wall, p.maxrss_kb) for lab, p in zip(labels, parts)]
        return s


def run_timed(argv: list[str], *, env: dict[str, str] | None = None, cwd: str | None = None,
              stdout=DEVNULL, stdin=DEVNULL, log: str | None = None, timeout: float = 600,
              check: bool = True, what: str | None = None) -> Sample:
    """Run one process to its end: wall time around it, max RSS from /usr/bin/time.

    Max RSS comes from GNU time (its wait4), not from our own wait4: a child forked from
    this Python process would carry Python's ~30 MB into ru_maxrss before its exec; the
    fork of the small `time` process carries about 1 MB, the same for ours and theirs.
    stderr goes to `log` (appended) so no pipe can stall the child; the child gets its
    own session so a timeout can kill it and everything it started."""
    errf = open(log, "ab") if log else subprocess.DEVNULL
    fd, rssfile = tempfile.mkstemp(prefix="bench-rss-")
    os.close(fd)
    try:
        t0 = time.perf_counter()
        p = subprocess.Popen([TIME, "-q", "-f", "%M %U %S", "-o", rssfile] + argv, env=env, cwd=cwd, stdout=stdout,
                             stderr=errf, stdin=stdin, start_new_session=True)
        timer = threading.Timer(timeout, lambda: _kill_group(p.pid))
        timer.start()
        try:
            _, status, ru = os.wait4(p.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        with open(rssfile) as f:
            words = f.read().split()
        # the last line is ours; a line before it may say the command exited non-zero
        try:
            maxrss = int(words[-3])
        except (IndexError, ValueError):
            maxrss = 0
        # CPU time from wait4 on `time` itself: the command and every descendant it reaped, in
        # microseconds (GNU time prints %U %S in 10 ms steps: a 20 ms process read as 0), plus
        # the small `time` process, the same on both sides. The engine's own CPU is in neither.
        cpu = ru.ru_utime + ru.ru_stime
    finally:
        os.unlink(rssfile)
        if log:
            errf.close()
    if check and p.returncode != 0:
        tail = ""
        if log:
            with open(log, "rb") as f:
                f.seek(max(0, os.path.getsize(log) - 1500))
                tail = f.read().decode(errors="replace")
        raise BenchError(f"{what or ' '.join(argv[:4])} exited {p.returncode} after {wall:.2f} s"
                         + (f"; last lines of {log}:\n{tail}" if tail else ""))
    return Sample(wall, maxrss, cpu)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def sh(argv: list[str], *, env: dict[str, str] | None = None, cwd: str | None = None, check: bool = True,
       timeout: float = 300, input: str | None = None) -> subprocess.CompletedProcess:
    """An untimed helper command; output captured."""
    p = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, input=input)
    if check and p.returncode != 0:
        raise BenchError(f"{' '.join(argv)} exited {p.returncode}: {(p.stderr or p.stdout).strip()[-800:]}")
    return p


@dataclass
class Row:
    key: str
    title: str
    ours_cmd: str
    theirs_cmd: str
    target: str = ""  # e.g. "<= 0.5"
    target_ratio: float | None = None  # ours/theirs must be <= this
    ours: list[Sample] = field(default_factory=list)
    theirs: list[Sample] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    load: list[str] = field(default_factory=list)  # /proc/loadavg at start and end
    rerun: bool = False
    extra: dict = field(default_factory=dict)
    skipped: str = ""  # why the row did not run
    floor: list[float] = field(default_factory=list)  # seconds: the row's minimum engine calls, by bench itself
    floor_note: str = ""  # what the floor is, or why the row has none

    @property
    def floor_median(self) -> float | None:
        return statistics.median(self.floor) if self.floor else None

    @property
    def ours_median(self) -> float:
        return statistics.median(s.wall for s in self.ours)

    @property
    def theirs_median(self) -> float:
        return statistics.median(s.wall for s in self.theirs)

    @property
    def ratio(self) -> float:
        return self.ours_median / self.theirs_median

    @property
    def ours_cpu(self) -> float:
        return statistics.median(s.cpu for s in self.ours)

    @property
    def theirs_cpu(self) -> float:
        return statistics.median(s.cpu for s in self.theirs)

    @property
    def ours_rss(self) -> int:
        return max(s.maxrss_kb for s in self.ours)

    @property
    def theirs_rss(self) -> int:
        return max(s.maxrss_kb for s in self.theirs)

    def met(self) -> str:
        if self.skipped or not self.ours or not self.theirs:
            return "n/a"
        if self.target_ratio is None:
            return "info"
        return "yes" if self.ratio <= self.target_ratio else "**no**"

    def spread(self) -> float:
        """Worst (max-min)/median of either side: how noisy the row was."""
        out = 0.0
        for side in (self.ours, self.theirs):
            if len(side) >= 2:
                w = [s.wall for s in side]
                out = max(out, (max(w) - min(w)) / statistics.median(w))
        return out

    def noisy(self) -> bool:
        """A side whose samples spread over more than half their median, and by more than
        50 ms (a 40 ms command varying by 30 ms is the machine's jitter, not noise)."""
        for side in (self.ours, self.theirs):
            if len(side) >= 2:
                w = [s.wall for s in side]
                if max(w) - min(w) > max(0.5 * statistics.median(w), 0.05):
                    return True
        return False


def measure_floor(row: Row, fn: Callable[[], None], runs: int, note: str = "",
                  between: Callable[[], None] | None = None, progress: Callable[[str], None] = print) -> None:
    """The row's floor: fn() (bench/floor.py: the engine calls the step cannot avoid) timed
    alone, one warm-up and `runs` samples (the row's count), after the row's own samples.
    A failing floor leaves the row without one (and says why) rather than failing the row."""
    try:
        for i in range(runs + 1):
            t0 = time.perf_counter()
            fn()
            if i:
                row.floor.append(time.perf_counter() - t0)
            if between:
                between()
        row.floor_note = note
        progress(f"  {row.key} floor: median {fmt_s(statistics.median(row.floor))} of {runs}")
    except Exception as e:  # noqa: BLE001 -- a floor is auxiliary: it never takes its row down
        row.floor = []
        row.floor_note = f"not measured: {(str(e).splitlines() or [type(e).__name__])[0]}"
        progress(f"  {row.key} floor failed: {e}")


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def alternate(row: Row, ours: Callable[[], Sample], theirs: Callable[[], Sample], runs: int,
              warmup: int = 1, between: Callable[[str], None] | None = None, progress: Callable[[str], None] = print) -> Row:
    """Warm-up of each, then A B A B ... `runs` times each. `between(side)` runs untimed
    after every sample of that side (to reset state for the next one)."""
    row.load.append(loadavg())
    for i in range(warmup):
        ours()
        if between:
            between("ours")
        theirs()
        if between:
            between("theirs")
    for i in range(runs):
        a = ours()
        row.ours.append(a)
        if between:
            between("ours")
        b = theirs()
        row.theirs.append(b)
        if between:
            between("theirs")
        progress(f"  {row.key} run {i + 1}/{runs}: ours {a.wall:.3f} s ({a.maxrss_kb} KiB), "
                 f"theirs {b.wall:.3f} s ({b.maxrss_kb} KiB)")
    row.load.append(loadavg())
    return row


def fmt_s(x: float) -> str:
    if x < 1:
        return f"{x * 1000:.0f} ms"
    return f"{x:.2f} s"


def fmt_kb(kb: int) -> str:
    return f"{kb / 1024:.1f} MiB"


def strace_profile(argv: list[str], *, env: dict[str, str] | None = None, cwd: str | None = None,
                   log: str | None = None) -> dict | None:
    """One run under `strace -f -tt` (connects, sleeps, execs only): where a process waits
    outside the engine. Returns None when strace is not installed. Untimed: strace slows
    the process down."""
    import re
    import shutil as _sh

    if not _sh.which("strace"):
        return None
    fd, out = tempfile.mkstemp(prefix="bench-strace-")
    os.close(fd)
    try:
        p = subprocess.run(["strace", "-f", "-tt", "-e", "trace=connect,nanosleep,clock_nanosleep,execve", "-o", out,
                            *argv], env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                           stderr=open(log, "ab") if log else subprocess.DEVNULL, timeout=600)
        with open(out) as f:
            lines = f.read().splitlines()
    finally:
        os.unlink(out)

    def ts(line: str) -> float:
        m = re.match(r"\s*\d+\s+(\d+):(\d+):(\d+\.\d+)", line)
        return int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3)) if m else 0.0

    stamps = [ts(ln) for ln in lines if ts(ln)]
    t0 = stamps[0] if stamps else 0.0
    sleeps, tcp, unix = [], {}, 0
    for ln in lines:
        m = re.search(r"nanosleep\(.*tv_sec=(\d+), tv_nsec=(\d+)", ln)
        if m and "resumed" not in ln:
            sleeps.append((round((ts(ln) - t0) * 1000), round(int(m.group(1)) * 1000 + int(m.group(2)) / 1e6)))
        m = re.search(r"connect\(\d+, \{sa_family=AF_INET6?, sin6?_port=htons\((\d+)\)", ln)
        if m:
            tcp[m.group(1)] = tcp.get(m.group(1), 0) + 1
        if "connect(" in ln and "docker.sock" in ln or ("connect(" in ln and ".sock\"" in ln and "nscd" not in ln):
            unix += 1
    return {"wall_ms": round(((stamps[-1] - t0) if stamps else 0) * 1000), "rc": p.returncode,
            "sleeps": sleeps, "sleep_ms": sum(d for _, d in sleeps), "tcp_connects": tcp, "engine_connects": unix}
