#!/usr/bin/env python3
"""`make bench`: the driver against what users would run instead, on the local engine.

    EXECUTOR_BIN=build/executor python3 bench/run.py [--runs N] [--rows a,b,...] [--keep]

Prints one table and writes it to bench/results.md (with the machine, the engine version,
the date and the load), raw samples and engine-call logs to bench/out/. See bench/README.md
for what each row means. Nothing here asserts on timings; a missed target is reported,
and the exit code is 0 unless a step itself failed.

Rows (--rows takes these keys): trivial, helper, stream, durable, deploy, cleanup, promote, scaling.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import sys
import tempfile
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import plot  # noqa: E402
from benchlib import BenchError, Row, fmt_kb, fmt_s, loadavg, sh  # noqa: E402
from proxy import CountingProxy  # noqa: E402
from runner_rows import CHEAP_RUNS  # noqa: E402

ALL_ROWS = ["trivial", "helper", "stream", "durable", "deploy", "cleanup", "promote", "scaling"]
TEST_IMAGES = ["executor-test/bash:latest", "executor-test/busybox:latest", "executor-test/helper:latest"]


class Ctx:
    """What every row needs: the binary, a private workspace, admin files, the proxy."""

    def __init__(self, executor: str, keep: bool):
        self.keep = keep
        self.ws = tempfile.mkdtemp(prefix="bench-", dir="/tmp")
        os.chmod(self.ws, 0o700)
        # a private copy: a `make` elsewhere in the tree may relink build/executor mid-run
        self.executor = os.path.join(self.ws, "executor")
        shutil.copy2(executor, self.executor)
        self.out = os.environ.get("BENCH_OUT") or os.path.join(HERE, "out")
        os.makedirs(self.out, exist_ok=True)
        for f in os.listdir(self.out):  # the previous run's logs
            if f.endswith((".log", ".json")):
                os.unlink(os.path.join(self.out, f))
        self.state = os.path.join(self.ws, "state")
        self.sock = os.path.join(self.ws, "engine-proxy.sock")
        self.conf = self._admin_conf("executor.conf", None)
        self.proxy_conf = self._admin_conf("executor-proxy.conf", f"unix://{self.sock}")
        # the helper row: the runner's stages in a helper container, with the tests'
        # gitlab-runner stand-in as the runner binary (a trivial job calls none of it)
        sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
        from e2elib import standin_runner

        helper = {"helper_image": "executor-test/helper:latest", "runner_binary": standin_runner()}
        self.helper_conf = self._admin_conf("executor-helper.conf", None, helper)
        self.helper_proxy_conf = self._admin_conf("executor-helper-proxy.conf", f"unix://{self.sock}", helper)
        self.proxy = CountingProxy(self.sock).start()
        self.proxy_env = dict(os.environ, DOCKER_HOST=f"unix://{self.sock}")
        self.logfile = open(os.path.join(self.out, "run.log"), "w")

    def _admin_conf(self, name: str, docker_host: str | None, extra: dict[str, str] | None = None) -> str:
        path = os.path.join(self.ws, name)
        with open(path, "w") as f:
            f.write("# written by bench/run.py\n")
            f.write(f'state_dir = "{self.state}"\n')
            f.write('default_image = "executor-test/bash:latest"\n')
            f.write('pull_policy = "never"\n')
            if docker_host:
                f.write(f'docker_host = "{docker_host}"\n')
            for k, v in (extra or {}).items():
                f.write(f'{k} = "{v}"\n')
        os.chmod(path, 0o600)
        return path

    def log(self, msg: str) -> None:
        print(msg, flush=True)
        self.logfile.write(msg + "\n")
        self.logfile.flush()

    def close(self) -> None:
        self.proxy.stop()
        self.logfile.close()
        if not self.keep:
            shutil.rmtree(self.ws, ignore_errors=True)


# ---------------------------------------------------------------- machine


def machine() -> dict[str, str]:
    mem_kb = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    cpu = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    eng = sh(["docker", "version", "--format", "{{.Server.Version}} (API {{.Server.APIVersion}})"], check=False)
    compose = sh(["docker-compose", "version", "--short"], check=False)
    return {
        "cpus": str(os.cpu_count()),
        "cpu": cpu,
        "memory": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "kernel": platform.release(),
        "engine": eng.stdout.strip() or "?",
        "compose": f"docker-compose {compose.stdout.strip()}" if compose.returncode == 0 else "docker-compose missing",
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "uptime_start": sh(["uptime"]).stdout.strip(),
        "driver": driver_version(),
    }


def driver_version() -> str:
    """The commit the measured binary was built from (make bench builds the working tree)."""
    head = sh(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], check=False).stdout.strip()
    if not head:
        return "not a git checkout"
    dirty = sh(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no", "--", ".", ":!bench"],
               check=False).stdout.strip()
    return head + (" plus uncommitted changes" if dirty else "")


# ---------------------------------------------------------------- preflight


def preflight(executor: str) -> None:
    if not executor or not os.access(executor, os.X_OK):
        raise BenchError(f"EXECUTOR_BIN={executor!r} is not an executable (make bench sets it to build/executor)")
    if sh(["docker", "version", "--format", "{{.Server.Version}}"], check=False).returncode != 0:
        raise BenchError("no Docker engine answers; run scripts/ensure-engine.sh (make bench does)")
    if not shutil.which("docker-compose"):
        raise BenchError("docker-compose is missing; run scripts/install-deps.sh bench")
    missing = [i for i in TEST_IMAGES if sh(["docker", "image", "inspect", i], check=False).returncode != 0]
    if missing:
        sh([os.path.join(REPO, "tests", "fixtures", "build-images.sh"), "--quiet", "bash", "busybox", "helper"],
           timeout=900)


# ---------------------------------------------------------------- report


def table(rows: list[Row]) -> str:
    head = ("| benchmark | ours (median) | competitor (median) | ratio ours/theirs | floor (median) | ours/floor | "
            "target | met | CPU ours / competitor | max RSS ours / competitor | "
            "engine API calls: ours / minimum / competitor |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|\n")
    out = []
    for r in rows:
        if r.skipped:
            out.append(f"| {r.title} | — | — | — | — | — | {r.target or '—'} | not run | — | — | — |\n")
            continue
        api = r.extra.get("api")
        amin = r.extra.get("api_min")
        api_s = "—"
        if api:
            api_s = f"{len(api['ours'])} / {amin[0] if amin else '?'} / {len(api['theirs'])}"
        note = ""
        if "failed_requests" in r.extra:
            fr = r.extra["failed_requests"]
            note = f" — load loop: {fr['failed']} failed of {fr['total']} requests"
        fl = r.floor_median
        floor_s = fmt_s(fl) if fl else ("n/a" if r.floor_note.startswith("not meaningful") else "—")
        ratio_floor = f"{r.ours_median / fl:.1f}" if fl else "—"
        out.append(f"| {r.title}{note} | {fmt_s(r.ours_median)} | {fmt_s(r.theirs_median)} | {r.ratio:.2f} | "
                   f"{floor_s} | {ratio_floor} | {r.target or '—'} | {r.met()} | "
                   f"{fmt_s(r.ours_cpu)} / {fmt_s(r.theirs_cpu)} | {fmt_kb(r.ours_rss)} / {fmt_kb(r.theirs_rss)} | "
                   f"{api_s} |\n")
    return head + "".join(out)


def details(rows: list[Row]) -> str:
    out = []
    for r in rows:
        out.append(f"### {r.key}: {r.title}\n")
        if r.skipped:
            out.append(f"Not run: {r.skipped}\n")
            continue
        out.append(f"- ours: {r.ours_cmd}\n- competitor: {r.theirs_cmd}\n")
        out.append(f"- samples ours (s): {', '.join(f'{s.wall:.3f}' for s in r.ours)}\n")
        out.append(f"- samples competitor (s): {', '.join(f'{s.wall:.3f}' for s in r.theirs)}\n")
        out.append(f"- CPU time (user+sys, median): ours {fmt_s(r.ours_cpu)}, competitor {fmt_s(r.theirs_cpu)}\n")
        if r.floor:
            out.append(f"- floor (the minimum engine calls below, issued by bench/floor.py, timed alone) samples (s): "
                       f"{', '.join(f'{x:.3f}' for x in r.floor)}; median {fmt_s(r.floor_median)}, ours/floor "
                       f"{r.ours_median / r.floor_median:.1f}{'; ' + r.floor_note if r.floor_note else ''}\n")
        elif r.floor_note:
            out.append(f"- floor: {r.floor_note}\n")
        out.append(f"- load average at the start / end (of each pass): {' / '.join(r.load)}; spread (max-min)/median "
                   f"{r.spread():.0%}{'; two passes pooled (the first was noisy)' if r.rerun else ''}\n")
        if r.extra.get("ours_parts"):
            out.append("- ours per process (median wall, max RSS): "
                       + ", ".join(f"{lab} {fmt_s(w)} {fmt_kb(m)}" for lab, w, m in r.extra["ours_parts"]) + "\n")
        if "throughput_mib_s" in r.extra:
            a, b = r.extra["throughput_mib_s"]
            out.append(f"- throughput: ours {a:.0f} MiB/s, docker exec {b:.0f} MiB/s\n")
        if "big" in r.extra:
            mb, w, m = r.extra["big"]
            out.append(f"- with {mb} MiB (next row): ours max RSS {fmt_kb(m)} against {fmt_kb(r.ours_rss)} here "
                       f"(must stay < 16 MiB however large the output: "
                       f"{'yes' if max(m, r.ours_rss) < 16 * 1024 else '**no**'})\n")
        if "failed_requests" in r.extra:
            fr = r.extra["failed_requests"]
            where = (f" ({fr.get('in_ours', 0)} during or within 1 s after a promote, {fr.get('in_theirs', 0)} "
                     "after a bare HUP)") if fr["failed"] else ""
            out.append(f"- load loop through the live entry during this row: {fr['total']} requests, "
                       f"{fr['failed']} failed{where}{(' — ' + '; '.join(fr['errors'][:5])) if fr['errors'] else ''}"
                       "\n")
        for k in r.notes:
            out.append(f"- {k}\n")
        api = r.extra.get("api")
        if api:
            out.append(f"- engine API calls, ours ({len(api['ours'])}): {_counted(api['ours'])}\n")
            if api.get("per_phase"):
                out.append("- ours per process: " + ", ".join(f"{k} {v}" for k, v in api["per_phase"].items()) + "\n")
            amin = r.extra.get("api_min")
            if amin:
                out.append(f"- minimum the action needs ({amin[0]}): {amin[1]}\n")
            out.append(f"- engine API calls, competitor ({len(api['theirs'])}): {_counted(api['theirs'])}\n")
        out.append("\n")
    return "".join(out)


def _counted(calls: list[str]) -> str:
    seen: dict[str, int] = {}
    for c in calls:
        seen[c] = seen.get(c, 0) + 1
    return ", ".join(f"{k} ×{v}" if v > 1 else k for k, v in seen.items())


ANALYSIS_MARK = "<!-- analysis: written by hand, kept when make bench rewrites this file -->"


def kept_analysis(path: str) -> str:
    """The hand-written analysis at the end of the current results.md, if any."""
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        return ""
    i = text.find(ANALYSIS_MARK)
    return text[i:] if i >= 0 else ""


def write_results(path: str, m: dict[str, str], rows: list[Row], findings: str, runs: int,
                  svg: str = "results.svg", partial: str = "") -> str:
    analysis = kept_analysis(path)
    text = (
        "# Benchmark results\n\n"
        "Written by `make bench` (bench/run.py); see bench/README.md for what each row measures.\n\n"
        f"- date: {m['date']}\n"
        f"- machine: {m['cpus']} CPUs ({m['cpu']}), {m['memory']} memory, Linux {m['kernel']}\n"
        f"- engine: Docker {m['engine']}; competitor {m['compose']}, docker CLI of the same engine\n"
        f"- driver: built from {m['driver']}\n"
        f"- load: `{m['uptime_start']}` at the start, `{m.get('uptime_end', '?')}` at the end "
        "(other engineers' tests share this machine)\n"
        + (f"- **partial**: {partial}\n" if partial else "")
        + f"- method: whole processes, wall time around each, max RSS from GNU time, CPU time from wait4; one "
        "warm-up of "
        "each, then ours and "
        f"the competitor alternating A B A B, {runs} runs each ({max(runs, CHEAP_RUNS)} for the trivial-job and "
        "100 MiB streaming rows, about a second a sample); medians. Engine API calls counted by a "
        "counting proxy on a unix socket (bench/proxy.py) in separate, untimed runs. The floor: the row's minimum "
        "engine calls issued by bench itself (bench/floor.py, raw HTTP on the engine's socket), the same number of "
        "runs, after the row's samples. The scaling rows: "
        f"{min(runs, 3)} runs each for the stacks (a sample of 20 services takes half a minute on this machine).\n\n"
        + table(rows) + "\n"
        f"![ratio ours/competitor per row against its target]({svg})\n\n"
        "Ratio < 1 means ours is faster. \"met\" compares the ratio with the target of the issue; "
        "\"info\" rows have no target.\n\n"
        "## Details\n\n" + details(rows)
        + (findings or "")
        + ("\n" + analysis if analysis else "")
    )
    with open(path, "w") as f:
        f.write(text)
    return text


# ---------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", "5")),
                    help="measured runs per side after the warm-up (default 5, at least 5 for results.md)")
    ap.add_argument("--rows", default=os.environ.get("BENCH_ROWS", ",".join(ALL_ROWS)),
                    help="comma-separated row keys: " + ",".join(ALL_ROWS))
    ap.add_argument("--keep", action="store_true", help="keep the workspace in /tmp/bench-* (not the containers)")
    ap.add_argument("--results", default=None,
                    help="where to write the table (default bench/results.md for a full run, "
                         "bench/out/results-partial.md for a subset of --rows)")
    args = ap.parse_args()
    wanted = [r.strip() for r in args.rows.split(",") if r.strip()]
    bad = [r for r in wanted if r not in ALL_ROWS]
    if bad:
        ap.error(f"unknown rows {bad}; known: {ALL_ROWS}")

    if args.results is None:
        full = set(wanted) == set(ALL_ROWS)
        out = os.environ.get("BENCH_OUT") or os.path.join(HERE, "out")
        args.results = os.path.join(HERE, "results.md") if full else os.path.join(out, "results-partial.md")
    executor = os.environ.get("EXECUTOR_BIN", "")
    try:
        preflight(executor)
    except BenchError as e:
        print(f"bench: {e}", file=sys.stderr)
        return 2
    m = machine()
    ctx = Ctx(os.path.abspath(executor), args.keep)
    ctx.log(f"bench: {m['cpus']} CPUs, {m['memory']}, Docker {m['engine']}, {m['compose']}; "
            f"load {loadavg()}; workspace {ctx.ws}")
    rows: list[Row] = []
    findings = ""
    failed = False
    svg = os.path.splitext(os.path.abspath(args.results))[0] + ".svg"  # results.md: results.svg

    def checkpoint() -> None:
        """The rows so far, written as the run goes (marked partial): a run stopped early (a
        deadline, a machine too loaded to finish) still leaves the output of its finished rows."""
        if not rows:
            return
        with open(svg, "w") as f:
            f.write(plot.svg(rows))
        done = ", ".join(r.key for r in rows)
        write_results(args.results, m, rows, "", args.runs, os.path.basename(svg),
                      partial=f"written while the run was in progress, after the rows {done}; the rows not listed "
                              "were not measured (the run ended before them)")

    import runner_rows
    import stack_rows

    try:
        if "trivial" in wanted:
            ctx.log("trivial job:")
            rows += stack_rows._guarded(ctx, ["trivial"],
                                        lambda: rerun_if_noisy(ctx, lambda: runner_rows.trivial_rows(ctx, args.runs)))
        if "helper" in wanted:
            ctx.log("trivial job with a helper container:")
            rows += stack_rows._guarded(ctx, ["trivial-helper"],
                                        lambda: rerun_if_noisy(ctx, lambda: runner_rows.helper_rows(ctx, args.runs)))
        checkpoint()
        if "stream" in wanted:
            ctx.log("streaming:")
            rows += stack_rows._guarded(ctx, ["stream", "stream-large"],
                                        lambda: rerun_if_noisy(ctx, lambda: runner_rows.stream_rows(ctx, args.runs)))
        checkpoint()
        stack_keys = [k for k in wanted if k in ("durable", "deploy", "cleanup", "promote")]
        if stack_keys:
            rows += stack_rows.rows(ctx, args.runs, stack_keys, rerun_if_noisy)
            checkpoint()
        if "scaling" in wanted:
            import scaling_rows

            ctx.log("scaling:")
            rows += stack_rows._guarded(ctx, [f"scale-{n}" for n in scaling_rows.SIZES],
                                        lambda: scaling_rows.scale_rows(ctx, min(args.runs, scaling_rows.RUNS)))
            checkpoint()
            rows += stack_rows._guarded(ctx, ["concurrent-2"], lambda: scaling_rows.concurrent_rows(ctx, args.runs))
        findings = stack_rows.findings(rows)
    except BenchError as e:
        failed = True
        ctx.log(f"bench: {e}")
    except Exception:  # noqa: BLE001
        failed = True
        ctx.log("bench: " + traceback.format_exc())
    finally:
        try:
            stack_rows.cleanup(ctx)
            import scaling_rows

            scaling_rows.cleanup(ctx)
            import floor

            floor.remove_all()
        finally:
            from runner_rows import RUNNER_SHORT

            remove_labelled("io.executor.runner", RUNNER_SHORT)
            ctx.close()
    failed = failed or any(r.skipped.startswith(("failed", "setup failed")) for r in rows)
    m["uptime_end"] = sh(["uptime"]).stdout.strip()
    with open(os.path.join(ctx.out, "samples.json"), "w") as f:
        json.dump([{"key": r.key, "title": r.title, "ours": [vars(s) for s in r.ours],
                    "theirs": [vars(s) for s in r.theirs], "load": r.load, "extra": r.extra,
                    "skipped": r.skipped, "floor": r.floor, "floor_note": r.floor_note} for r in rows], f, indent=1,
                  default=str)
    if rows:
        with open(svg, "w") as f:
            f.write(plot.svg(rows))
        text = write_results(args.results, m, rows, findings, args.runs, os.path.basename(svg))
        print()
        print(table(rows))
        print(f"written to {os.path.relpath(args.results)} (details, samples: bench/out/)")
        del text
    return 1 if failed else 0


def rerun_if_noisy(ctx: Ctx, fn) -> list[Row]:
    """Run a group of rows; when one was noisy (Row.noisy), run the group once more and pool
    the samples of both passes (the medians then stand on twice the samples; picking one pass
    would pick by luck)."""
    first = fn()
    if not any(not r.skipped and r.noisy() for r in first):
        return first
    if os.environ.get("BENCH_RERUN", "1") == "0":
        for r in first:
            if not r.skipped and r.noisy():
                r.notes.append(f"noisy (spread {r.spread():.0%}); not run again: BENCH_RERUN=0")
        return first
    noisy = ", ".join(f"{r.key} {r.spread():.0%}" for r in first if not r.skipped and r.noisy())
    ctx.log(f"  noisy ({noisy}; load {loadavg()}): running once more")
    second = fn()
    out = []
    for a, b in zip(first, second):
        if a.skipped or b.skipped:
            out.append(b if a.skipped else a)
            continue
        b.notes.append(f"noisy first pass (spread {a.spread():.0%}; medians ours {fmt_s(a.ours_median)}, competitor "
                       f"{fmt_s(a.theirs_median)}), so the group ran again (spread {b.spread():.0%}; ours "
                       f"{fmt_s(b.ours_median)}, competitor {fmt_s(b.theirs_median)}); the row pools both passes")
        b.ours, b.theirs, b.load = a.ours + b.ours, a.theirs + b.theirs, a.load + b.load
        if a.floor and b.floor:
            b.floor = a.floor + b.floor
        if "failed_requests" in a.extra and "failed_requests" in b.extra:
            fa, fb = a.extra["failed_requests"], b.extra["failed_requests"]
            fb["total"] += fa["total"]
            fb["failed"] += fa["failed"]
            fb["errors"] = fa["errors"] + fb["errors"]
            for k in ("in_ours", "in_theirs"):
                fb[k] = fa.get(k, 0) + fb.get(k, 0)
        b.rerun = True
        out.append(b)
    return out


def remove_labelled(label: str, value: str) -> None:
    """Remove what the driver created for our runner token (io.executor.runner=benchmark) only."""
    f = ["--filter", f"label={label}={value}"]
    ids = sh(["docker", "ps", "-aq", *f], check=False).stdout.split()
    if ids:
        sh(["docker", "rm", "-f", "-v", *ids], check=False)
    nets = sh(["docker", "network", "ls", "-q", *f], check=False).stdout.split()
    if nets:
        sh(["docker", "network", "rm", *nets], check=False)


if __name__ == "__main__":
    sys.exit(main())
