"""Rows for the runner commands: one trivial container job, and streaming job output.

The driver is called exactly the way gitlab-runner calls it: tests/e2e/harness.py (the
runner emulator) runs each job once with bench/recorder.py in front of the driver, which
records every call (argv, environment, the payload and stage script it was handed). The
timed runs replay those calls against the real driver in a fresh temp dir, so only the
driver's own processes are timed, not the emulator.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile

import floor
from benchlib import DEVNULL, BenchError, Row, Sample, alternate, measure_floor, run_timed

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

RUNNER_TOKEN = "glrt-benchmark"  # short token "benchmark": io.executor.runner=benchmark
RUNNER_SHORT = "benchmark"
JOB_IMAGE = "executor-test/bash:latest"
TRIVIAL_JOB = 27001
STREAM_JOB = 27002
HELPER_JOB = 27003
HELPER_IMAGE = "executor-test/helper:latest"
PLACEHOLDER = ": BENCH_COMMAND"
CHEAP_RUNS = 11  # runs for rows whose samples take about a second or less


class RecordedJob:
    """The driver calls of one job, as gitlab-runner made them."""

    def __init__(self, calls: list[dict], ws: str, executor: str):
        self.calls = calls
        self.ws = ws
        self.executor = executor
        self.tdir = calls[0]["cwd"]  # the runner's per-job temp dir T

    @classmethod
    def record(cls, executor: str, ws: str, admin_conf: str, job_id: int) -> "RecordedJob":
        sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
        try:
            from harness import Job, RunnerConfig, run_job  # the runner emulator
        except ImportError as e:
            raise BenchError(f"cannot import tests/e2e/harness.py (the runner emulator): {e}")
        record = os.path.join(ws, f"record-{job_id}.jsonl")
        if os.path.exists(record):
            os.unlink(record)
        tmp = os.path.join(ws, "runner-tmp")
        os.makedirs(tmp, exist_ok=True)
        saved = {k: os.environ.get(k) for k in ("BENCH_REAL_EXECUTOR", "BENCH_RECORD", "EXECUTOR_CONFIG")}
        os.environ.update(BENCH_REAL_EXECUTOR=executor, BENCH_RECORD=record, EXECUTOR_CONFIG=admin_conf)
        try:
            cfg = RunnerConfig.for_driver(os.path.join(HERE, "recorder.py"), token=RUNNER_TOKEN,
                                          name="bench-runner", preparation_retries=1, tmpdir=tmp)
            res = run_job(Job([PLACEHOLDER], image=JOB_IMAGE, job_id=job_id, project="bench/trivial",
                              name="bench-trivial"), cfg)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        if res.status != "success":
            raise BenchError(f"recording job {job_id} through the runner emulator failed: {res.final_line}\n"
                             + res.text[-2000:])
        with open(record, encoding="utf-8", errors="surrogateescape") as f:
            calls = [json.loads(line) for line in f]
        return cls(calls, ws, executor)

    def script(self, stage: str, command: str) -> str:
        """The stage script the runner handed the driver, with the placeholder replaced."""
        for c in self.calls:
            if c["argv"][0] == "run" and c["argv"][2] == stage:
                return c["files"][c["argv"][1]].replace(PLACEHOLDER, command)
        raise BenchError(f"no recorded {stage} call")

    def stages(self) -> list[str]:
        return [c["argv"][2] if c["argv"][0] == "run" else c["argv"][0] for c in self.calls]

    def replay(self, which: list[str], command: str, admin_conf: str, log: str,
               stdout=DEVNULL) -> Sample:
        """Run the recorded calls named in `which` (config, prepare, a stage name, cleanup)
        in a fresh temp dir, the placeholder replaced by `command`; one Sample for all."""
        t = tempfile.mkdtemp(prefix="custom-executor", dir=os.path.join(self.ws, "runner-tmp"))
        try:
            parts, labels = [], []
            for c in self.calls:
                name = c["argv"][2] if c["argv"][0] == "run" else c["argv"][0]
                if name not in which:
                    continue
                env = {k: v.replace(self.tdir, t) for k, v in c["env"].items() if not k.startswith("BENCH_")}
                env["EXECUTOR_CONFIG"] = admin_conf
                argv = [a.replace(self.tdir, t) for a in c["argv"]]
                for path, text in c["files"].items():
                    dst = path.replace(self.tdir, t)
                    os.makedirs(os.path.dirname(dst), mode=0o700, exist_ok=True)
                    with open(dst, "w", encoding="utf-8", errors="surrogateescape") as f:
                        f.write(text.replace(PLACEHOLDER, command) if name not in ("config", "prepare", "cleanup")
                                else text)
                    os.chmod(dst, 0o700 if c["argv"][0] == "run" else 0o600)
                parts.append(run_timed([self.executor] + argv, env=env, cwd=t, log=log,
                                       stdout=stdout if c["argv"][0] == "run" else DEVNULL,
                                       what=f"executor {' '.join(c['argv'][:1] + c['argv'][2:3])}"))
                labels.append(name)
            if not parts:
                raise BenchError(f"no recorded call matches {which}")
            return Sample.seq(parts, labels)
        finally:
            shutil.rmtree(t, ignore_errors=True)


def trivial_rows(ctx, runs: int) -> list[Row]:
    """One trivial job (`true`): config + prepare + run + cleanup vs `docker run --rm IMAGE true`."""
    job = RecordedJob.record(ctx.executor, ctx.ws, ctx.conf, TRIVIAL_JOB)
    ctx.log(f"  recorded the runner's calls for job {TRIVIAL_JOB}: {' '.join(job.stages())}")
    log = os.path.join(ctx.out, "trivial.log")
    theirs_argv = ["docker", "run", "--rm", "--name", "bench-trivial", JOB_IMAGE, "true"]
    minimal = ["config", "prepare", "build_script", "cleanup"]

    row = Row("trivial", "one trivial container job (`true`): config + prepare + run + cleanup",
              "`executor config`, `prepare`, `run <script> build_script`, `cleanup`",
              f"`docker run --rm {JOB_IMAGE} true`", "≤ 1.0", 1.0)
    runs = max(runs, CHEAP_RUNS)
    alternate(row, lambda: job.replay(minimal, "true", ctx.conf, log),
              lambda: run_timed(theirs_argv, log=log, what="docker run --rm"), runs, progress=ctx.log)
    row.extra["ours_parts"] = _parts_median(row.ours)

    full = [s for s in job.stages()]
    row2 = Row("trivial-full", f"the same job with every call gitlab-runner makes ({len(full)} calls: "
               + ", ".join(full) + ")", "the runner commands, all calls",
               f"`docker run --rm {JOB_IMAGE} true`", "", None)
    alternate(row2, lambda: job.replay(full, "true", ctx.conf, log),
              lambda: run_timed(theirs_argv, log=log, what="docker run --rm"), runs, progress=ctx.log)
    row2.extra["ours_parts"] = _parts_median(row2.ours)
    _job_floor(ctx, row, runs, 1)
    _job_floor(ctx, row2, runs, 4)

    # Engine API calls, through the counting proxy
    rec = ctx.proxy.record(lambda: job.replay(minimal, "true", ctx.proxy_conf, log))
    theirs = ctx.proxy.record(lambda: run_timed(theirs_argv, env=ctx.proxy_env, log=log, what="docker run --rm"))
    row.extra["api"] = {"ours": rec.names(), "theirs": theirs.names(),
                        "per_phase": _split_by_phase(rec.calls, rec.result)}
    row.extra["timeline"] = rec.timeline()
    row.notes.append(_startup(ctx))
    row.extra["timeline_theirs"] = theirs.timeline()
    row.extra["api_min"] = (7, "prepare 3 (inspect the runner slot's network, kept between jobs — the "
                               "check that no other job is on it —, container create — a 404 there is "
                               "the cue to pull, so no image inspect first — start), run 3 (exec create, "
                               "exec start hijacked, exec inspect for the exit code), cleanup 1 "
                               "(force-remove the container by its deterministic name; a list by label is "
                               "only needed when services exist), config 0; no /_ping (the API version "
                               "is kept in the state dir: a replay in a fresh state dir pings once)")
    return [row, row2]


def helper_rows(ctx, runs: int) -> list[Row]:
    """The trivial job with a helper container (helper_image set): get_sources and
    cleanup_file_variables run in the helper, created at get_sources, against
    `docker run --rm IMAGE true` and against the same job without a helper (trivial-full)."""
    job = RecordedJob.record(ctx.executor, ctx.ws, ctx.helper_conf, HELPER_JOB)
    full = job.stages()
    ctx.log(f"  recorded the runner's calls for job {HELPER_JOB} (helper_image set): {' '.join(full)}")
    log = os.path.join(ctx.out, "helper.log")
    theirs_argv = ["docker", "run", "--rm", "--name", "bench-helper", JOB_IMAGE, "true"]
    row = Row("trivial-helper", f"the same job with a helper container ({len(full)} calls; get_sources and "
              "cleanup_file_variables in the helper, created at get_sources)",
              f"the runner commands, all calls, `helper_image = {HELPER_IMAGE}`",
              f"`docker run --rm {JOB_IMAGE} true`", "", None)
    runs = max(runs, CHEAP_RUNS)
    alternate(row, lambda: job.replay(full, "true", ctx.helper_conf, log),
              lambda: run_timed(theirs_argv, log=log, what="docker run --rm"), runs, progress=ctx.log)
    row.extra["ours_parts"] = _parts_median(row.ours)
    _job_floor(ctx, row, runs, 0, HELPER_IMAGE)
    rec = ctx.proxy.record(lambda: job.replay(full, "true", ctx.helper_proxy_conf, log))
    theirs = ctx.proxy.record(lambda: run_timed(theirs_argv, env=ctx.proxy_env, log=log, what="docker run --rm"))
    row.extra["api"] = {"ours": rec.names(), "theirs": theirs.names(),
                        "per_phase": _split_by_phase(rec.calls, rec.result)}
    row.extra["api_min"] = (20, "prepare 3 (as the trivial row), prepare_script 3, get_sources 6 (the exec "
                                "create in the helper answered 404 — the cue to create it, as a create's 404 "
                                "is the cue to pull —, the helper's create and start, then exec create, start, "
                                "inspect), build_script 3, cleanup_file_variables 3 (in the helper), cleanup 2 "
                                "(the helper and the container, by name)")
    return [row]


def _job_floor(ctx, row: Row, runs: int, stages: int, helper_image: str | None = None) -> None:
    """The job's floor (bench/floor.py): its container on a slot network kept between jobs,
    `stages` stage scripts by exec (or the helper row's sequence), the force-remove."""
    eng = floor.Engine()
    try:
        floor.ensure_network(eng)  # kept between jobs, like the driver's slot network: untimed
    finally:
        eng.close()
    what = (f"the helper row's 20 calls" if helper_image else
            f"{3 + 3 * stages + 1} calls: slot network inspect, create, start, {stages} × exec (create, start, "
            "inspect), force-remove")
    measure_floor(row, lambda: floor.job(JOB_IMAGE, f"bench-floor-{row.key}", stages, helper_image), runs,
                  f"{what}, on one keep-alive connection (the exec stream on its own)", progress=ctx.log)


def _startup(ctx, n: int = 21) -> str:
    """What starting a process costs: `executor version` against `docker --version`."""
    import statistics

    ours = statistics.median(run_timed([ctx.executor, "version"]).wall for _ in range(n))
    cli = statistics.median(run_timed(["docker", "--version"]).wall for _ in range(n))
    return (f"process start alone (median of {n}): `executor version` {ours * 1000:.1f} ms, `docker --version` "
            f"{cli * 1000:.1f} ms; the job above starts {4} driver processes")


def _parts_median(samples: list[Sample]) -> list[tuple[str, float, int]]:
    import statistics

    labels = [p[0] for p in samples[0].parts]
    out = []
    for i, lab in enumerate(labels):
        out.append((lab, statistics.median(s.parts[i][1] for s in samples), max(s.parts[i][2] for s in samples)))
    return out


def _split_by_phase(calls, sample: Sample) -> dict[str, int]:
    """Attribute proxy calls to processes by time (the processes ran one after another)."""
    # The proxy timestamps are monotonic; the sample only has durations. Calls arrive in
    # process order, and each process starts with GET/HEAD /_ping, so split on pings.
    phases = [lab for lab, _, _ in sample.parts]
    out: dict[str, int] = {p: 0 for p in phases}
    engine_phases = [p for p in phases if p != "config"]  # config does not talk to the engine
    idx = -1
    for c in calls:
        if c.short().endswith("/_ping"):
            idx += 1
        key = engine_phases[min(max(idx, 0), len(engine_phases) - 1)]
        out[key] += 1
    return out


def stream_rows(ctx, runs: int) -> list[Row]:
    """Stream job output: `executor run` vs `docker exec -i` of the same script, at 100 MiB
    (BENCH_STREAM_MIB) and at ten times that (where per-process costs no longer matter)."""
    job = RecordedJob.record(ctx.executor, ctx.ws, ctx.conf, STREAM_JOB)
    log = os.path.join(ctx.out, "stream.log")
    container = f"executor-{RUNNER_SHORT}-{STREAM_JOB}"
    mib = int(os.environ.get("BENCH_STREAM_MIB", "100"))
    job.replay(["config", "prepare"], "true", ctx.conf, log)  # the job container, untimed
    try:
        rows = [_stream_row(ctx, job, container, log, "stream", mib, max(runs, CHEAP_RUNS)),
                _stream_row(ctx, job, container, log, "stream-large", 10 * mib, runs)]
        big = rows[1]
        rows[0].extra["big"] = (10 * mib, big.ours_median, big.ours_rss)
        return rows
    finally:
        job.replay(["cleanup"], "true", ctx.conf, log)


def _stream_row(ctx, job: RecordedJob, container: str, log: str, key: str, mib: int, runs: int) -> Row:
    size = mib * 1024 * 1024
    cmd = f"head -c {size} /dev/zero"
    script = os.path.join(ctx.ws, f"{key}-script.sh")
    with open(script, "w", encoding="utf-8", errors="surrogateescape") as f:
        f.write(job.script("build_script", cmd))

    def theirs(out=DEVNULL, env=None) -> Sample:
        # the same script through the same shell: what `executor run` does over the Engine API
        with open(script, "rb") as stdin:
            return run_timed(["docker", "exec", "-i", container, "bash"], stdin=stdin, stdout=out, env=env,
                             log=log, what="docker exec")

    if key == "stream":  # both must deliver every byte (and the echoed command line): count them once
        for desc, fn in (("executor run", lambda out: job.replay(["build_script"], cmd, ctx.conf, log, stdout=out)),
                         ("docker exec", theirs)):
            n = _count_bytes(fn)
            if not size <= n <= size + 4096:
                raise BenchError(f"{desc} delivered {n} bytes for {size} bytes of output")
    row = Row(key, f"stream {mib} MiB of job output (to /dev/null)",
              f"`executor run <script> build_script` (the runner's script for `{cmd}`)",
              f"`docker exec -i {container} bash < <the same script>`", "≤ 1.0", 1.0)
    alternate(row, lambda: job.replay(["build_script"], cmd, ctx.conf, log), theirs, runs, progress=ctx.log)
    if key == "stream":
        measure_floor(row, lambda: floor.exec_stream(container, size), runs,
                      f"exec create, start (hijacked; the {mib} MiB read to its end with recv_into and dropped), "
                      "inspect", progress=ctx.log)
    else:
        row.floor_note = (f"not measured: the same three calls as the stream row, whose floor shows their cost; "
                          f"{runs + 1} more reads of {mib} MiB would add minutes to the run")
    if mib:
        row.extra["throughput_mib_s"] = (mib / row.ours_median, mib / row.theirs_median)
    if key == "stream":
        ours = ctx.proxy.record(lambda: job.replay(["build_script"], cmd, ctx.proxy_conf, log))
        rec = ctx.proxy.record(lambda: theirs(env=ctx.proxy_env))
        row.extra["api"] = {"ours": ours.names(), "theirs": rec.names()}
        row.extra["api_min"] = (3, "exec create, exec start (hijacked stream), exec inspect (exit code)")
    return row


def _count_bytes(fn) -> int:
    import threading

    r, w = os.pipe()
    total = [0]

    def reader() -> None:
        with os.fdopen(r, "rb", buffering=0) as f:
            while True:
                b = f.read(1 << 20)
                if not b:
                    return
                total[0] += len(b)

    t = threading.Thread(target=reader)
    t.start()
    try:
        fn(w)
    finally:
        os.close(w)
        t.join()
    return total[0]
