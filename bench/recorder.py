#!/usr/bin/env python3
"""Driver stand-in used once per `make bench` to record how gitlab-runner calls the driver.

tests/e2e/harness.py (the runner emulator) runs one job with this file as config_exec,
prepare_exec, run_exec and cleanup_exec. Each call appends its argv, cwd, environment and
the files it was handed (the job payload, the stage script) as one JSON line to
$BENCH_RECORD, then execs the real driver ($BENCH_REAL_EXECUTOR) in its place. bench/run.py
replays those calls (fresh temp dir, same environment) to time the driver's processes alone.
"""
import json
import os
import sys

real = os.environ["BENCH_REAL_EXECUTOR"]
rec = {"argv": sys.argv[1:], "cwd": os.getcwd(), "env": dict(os.environ), "files": {}}
for a in sys.argv[1:] + [os.environ.get("JOB_RESPONSE_FILE", "")]:
    if a and os.path.isfile(a):
        with open(a, encoding="utf-8", errors="surrogateescape") as f:
            rec["files"][a] = f.read()
with open(os.environ["BENCH_RECORD"], "a", encoding="utf-8", errors="surrogateescape") as f:
    f.write(json.dumps(rec) + "\n")
os.execv(real, [real] + sys.argv[1:])
