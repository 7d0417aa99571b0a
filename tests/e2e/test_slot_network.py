"""The network of a runner slot: reused by the slot's jobs, never shared by two jobs at once.

A job's containers join `executor-<runner>-slot-<CI_CONCURRENT_ID>`, created by the slot's
first job and kept, so a job pays no network create and delete. CI_CONCURRENT_ID is the
job's to override, so it is not trusted: when a container of another job is attached to the
slot network (two jobs claiming one slot), the later job gets a network of its own, cannot
reach the first, and the first keeps running.
"""

from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from e2elib import (RUNNER_SHORT, assert_no_leftovers, check, docker, expect_success,  # noqa: E402
                    new_job, run_job, runner_config, start_job)

NEEDS_DOCKER = True

READY = "READY-$((6*7))"  # prints READY-42
SLOT = 5  # a slot no other test uses (they run in slot 0)
SLOT_NET = f"executor-{RUNNER_SHORT}-slot-{SLOT}"


def _networks_of(container: str) -> list[str]:
    out = docker("inspect", "-f", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}", container,
                 check=False).stdout
    return out.split()


def _job_networks(job_id: int) -> list[str]:
    return docker("network", "ls", "--format", "{{.Name}}", "--filter", f"label=io.executor.runner={RUNNER_SHORT}",
                  "--filter", f"label=io.executor.job={job_id}").stdout.split()


def test_jobs_of_one_slot_reuse_its_network():
    docker("network", "rm", SLOT_NET, check=False)
    seen = []
    for n in range(2):
        job = new_job([f"echo {READY}", "sleep 2"])
        running = start_job(job, runner_config(concurrent_id=SLOT))
        nets, own = [], []
        if running.control.wait_for_log("READY-42", 120):
            nets = _networks_of(f"executor-{RUNNER_SHORT}-{job.id}")
            own = _job_networks(job.id)
        res = running.wait(300)
        expect_success(res)
        check(nets == [SLOT_NET], f"job {n + 1}'s container is on the slot network only: {nets}", res)
        check(own == [], f"job {n + 1} created no network of its own: {own}", res)
        seen.append(res)
        assert_no_leftovers(job)
    check("Created network " + SLOT_NET in seen[0].text, "the slot's first job created its network", seen[0])
    check("Created network" not in seen[1].text, "the second job reused it", seen[1])
    labels = docker("network", "inspect", "-f",
                    '{{index .Labels "io.executor.role"}} {{index .Labels "io.executor.slot"}} '
                    '{{index .Labels "io.executor.runner"}}', SLOT_NET).stdout.split()
    check(labels == ["slot-network", str(SLOT), RUNNER_SHORT], f"the slot network's labels: {labels}")
    attached = docker("network", "inspect", "-f", "{{len .Containers}}", SLOT_NET).stdout.strip()
    check(attached == "0", f"after cleanup nothing is attached to the slot network: {attached}")


def test_two_jobs_claiming_one_slot_never_share_a_network():
    docker("network", "rm", SLOT_NET, check=False)
    first = new_job([f"echo {READY}", "sleep 600"])
    a = start_job(first, runner_config(concurrent_id=SLOT))
    check(a.control.wait_for_log("READY-42", 120), "the first job runs")
    a_name = f"executor-{RUNNER_SHORT}-{first.id}"
    a_ip = docker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", a_name).stdout.strip()
    check(_networks_of(a_name) == [SLOT_NET], f"the first job is on the slot network: {_networks_of(a_name)}")
    try:
        # the second job says it is in the same slot (CI_CONCURRENT_ID is the job's to override)
        second = new_job([
            f"if nslookup {a_name} 127.0.0.11 >/dev/null 2>&1; then echo RESOLVED; else echo NAME-NOT-FOUND; fi",
            f"if ping -c 1 -W 1 {a_ip} >/dev/null 2>&1; then echo REACHED; else echo UNREACHABLE; fi",
        ])
        res = run_job(second, runner_config(concurrent_id=SLOT))
        expect_success(res)
        lines = res.text.splitlines()
        check("has another job's containers attached: this job gets a network of its own" in res.text,
              "the second job says it gets a network of its own", res)
        check("NAME-NOT-FOUND" in lines and "RESOLVED" not in lines,
              "the second job cannot resolve the first job's container", res)
        check("UNREACHABLE" in lines and "REACHED" not in lines,
              f"the second job cannot reach the first job's address {a_ip}", res)
        assert_no_leftovers(second)
        running = docker("inspect", "-f", "{{.State.Running}}", a_name, check=False).stdout.strip()
        check(running == "true", f"the first job's container still runs after the second job: {running}")
    finally:
        a.control.cancel()
    ra = a.wait(300)
    check(ra.status == "canceled", f"the first job ends when canceled: {ra.status}", ra)
    assert_no_leftovers(first)
