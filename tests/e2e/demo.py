#!/usr/bin/env python3
"""`make demo`: a small pipeline of container jobs through build/executor.

Three jobs run one after another, each through harness.py exactly as gitlab-runner
would drive the driver (config, prepare, run per stage, cleanup):

  validate   checks a shell script and a config file with bash
  build      "builds" a static site, with an nginx service (alias `web`) it checks
  test       talks to a MariaDB service (alias `db`) over TCP and reads its greeting

Then it prints what happened per job. Images are built locally first
(tests/fixtures/build-images.sh); nothing is pulled. Everything the demo creates
carries io.executor.runner=e2edemo and is gone when it ends.

    EXECUTOR_BIN=build/executor python3 tests/e2e/demo.py [-v]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import e2elib  # noqa: E402
from harness import Job, RunnerConfig, Service, run_job  # noqa: E402

RUNNER = "e2edemo"
TTY = sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def col(code: str, s: str) -> str:
    return f"\033[{code}m{s}\033[0m" if TTY else s


def pipeline() -> list[tuple[str, Job, str]]:
    """(title, job, what the summary quotes from its log)."""
    validate = Job([
        "printf '#!/bin/bash\\nset -eu\\necho \"deploying $1\"\\n' > deploy.sh",
        "bash -n deploy.sh && echo 'deploy.sh: syntax ok'",
        "printf 'port=8080\\nworkers=2\\n' > app.conf",
        "grep -q '^port=[0-9]*$' app.conf && echo 'app.conf: port ok'",
    ], name="validate:scripts", stage="validate", image=e2elib.JOB_IMAGE, project="demo/shop")
    build = Job([
        "mkdir -p public && echo '<h1>shop</h1>' > public/index.html",
        "echo \"built $(wc -c < public/index.html) bytes into public/\"",
        "for i in $(seq 1 50); do wget -q -O /dev/null http://web/health && break; sleep 0.2; done",
        "echo \"nginx service says: $(wget -q -O- http://web/health)\"",
    ], name="build:site", stage="build", image=e2elib.JOB_IMAGE, project="demo/shop",
        services=[Service(e2elib.NGINX, alias="web")])
    test = Job([
        "for i in $(seq 1 150); do (exec 3<>/dev/tcp/db/3306) 2>/dev/null && break; sleep 0.2; done",
        "exec 3<>/dev/tcp/db/3306; head -c 60 <&3 | strings -n 8 | head -n 1 "
        "| sed 's/^5[.]5[.]5-//; s/^/database greeting: server /'; exec 3<&-",
        "echo 'tests: 3 passed'",
    ], name="test:db", stage="test", image=e2elib.JOB_IMAGE, project="demo/shop",
        services=[Service(e2elib.MARIADB, alias="db",
                          variables={"MARIADB_ROOT_PASSWORD": "demo-root-pw", "MARIADB_DATABASE": "shop"})])
    return [("validate", validate, "ok"), ("build", build, "nginx service says"), ("test", test, "greeting")]


def main(argv: list[str]) -> int:
    verbose = "-v" in argv
    try:
        binary = e2elib.executor_bin()
    except e2elib.SetupError as e:
        print(f"demo: {e}", file=sys.stderr)
        return 1
    lock = e2elib.exclusive("executor-demo")  # noqa: F841 - held until exit
    print(col("1", "executor demo: a 3-job pipeline of container jobs, driven like gitlab-runner would"))
    t0 = time.monotonic()
    subprocess.run(["bash", os.path.join(e2elib.REPO, "tests", "fixtures", "build-images.sh"), "--quiet"], check=True)
    print(f"  images ready: executor-test/bash, nginx, mariadb ({time.monotonic() - t0:.1f} s, built locally)")
    e2elib.remove_runner_leftovers(RUNNER)
    state = tempfile.mkdtemp(prefix="executor-demo-")
    os.chmod(state, 0o700)
    os.environ["EXECUTOR_CONFIG"] = e2elib.write_admin_config(os.path.join(state, "executor.conf"),
                                                              os.path.join(state, "driver"))
    cfg = RunnerConfig.for_driver(binary, token=f"glrt-{RUNNER}", name="demo-runner", echo=verbose)
    rows = []
    failed = False
    try:
        for title, job, quote in pipeline():
            if failed:
                rows.append((title, job, None, quote))
                continue
            print(f"  running {job.name} ...", flush=True)
            res = run_job(job, cfg)
            rows.append((title, job, res, quote))
            failed = res.status != "success"
        left = e2elib.labelled(RUNNER)
    finally:
        e2elib.remove_runner_leftovers(RUNNER)
        shutil.rmtree(state, ignore_errors=True)

    print()
    print(col("1", "Pipeline summary"))
    for title, job, res, quote in rows:
        if res is None:
            print(f"  {col('33', 'SKIPPED')}  {job.name:18} (an earlier job failed)")
            continue
        mark = col("32", "PASSED ") if res.status == "success" else col("31;1", "FAILED ")
        svc = ", ".join(f"{s.name} as {s.alias}" for s in job.services) or "no services"
        print(f"  {mark}  {job.name:18} {res.duration:5.1f} s  image {job.image}; {svc}")
        calls = res.calls
        print(f"           driver calls: {len(calls)} (config, prepare, {len(res.stages)} run stages: "
              f"{' '.join(res.stages)}, cleanup)")
        for line in res.text.splitlines():
            if quote in line and not line.startswith("$ "):
                print(f"           log: {line.strip()}")
        if res.status != "success":
            print(f"           {res.final_line}")
            for line in res.text.splitlines()[-15:]:
                print(f"           | {line}")
    ok = all(r is not None and r.status == "success" for _, _, r, _ in rows)
    if any(left.values()):
        print(col("31;1", f"  leftovers after the pipeline: {left}"))
        ok = False
    else:
        print("  nothing left behind: no container, network or volume labelled io.executor.runner=e2edemo")
    print(col("32;1", "demo: pipeline passed") if ok else col("31;1", "demo: pipeline failed"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
