"""Converging from a crash (issue 17 item 3): a durable setup killed while it creates its
network, then run again, must not leave the env stuck on two networks of one name.

The engine's CheckDuplicate is not atomic against a create still in flight: killed about 0.1 s
after it starts, `executor durable setup` used to leave two `echobase-ci-durable-network`
networks and every later run failed with "network ... is ambiguous". Here, against the real
engine, with a durable layer of app and env e2econv (one busybox service, no ports):
- a twin of the layer's network (same labels, no containers, made with CheckDuplicate off as a
  killed create leaves it) is removed by the next setup, with a warning, and the copy in use is
  kept;
- a copy with other labels is not the driver's to remove: the setup fails with one line naming
  both and the fix (a system failure), and both copies stay;
- the setup SIGKILLed at several delays, from its first request on, then run again, ends with
  one network of that name and the layer healthy, every time.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from typing import Callable

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import e2elib  # noqa: E402
from e2elib import check, docker, executor_bin  # noqa: E402
from world import AppWorld, shared  # noqa: E402

NEEDS_DOCKER = True

APP = ENV = "e2econv"
PROJECT = f"{APP}-{ENV}-durable"
NETWORK = f"{PROJECT}_default"

STACK = """services:
  db:
    image: executor-test/busybox:latest
    command: [sh, -c, "trap 'exit 0' TERM; while true; do sleep 1; done"]
    healthcheck: {test: [CMD, "true"], interval: 1s, retries: 3}
"""

class World(AppWorld):
    app_name, env_name = APP, ENV

    def __init__(self) -> None:
        super().__init__("e2econv-", "conv.conf", allowed_images="executor-test/*", pull_policy="never")
        self.repo = os.path.join(self.tmp, "repo")
        os.makedirs(os.path.join(self.repo, "durable"))
        with open(os.path.join(self.repo, "durable", "docker-compose.yml"), "w") as f:
            f.write(STACK)
        self.foreign: list[str] = []

    def env(self) -> dict[str, str]:
        return dict(os.environ, EXECUTOR_CONFIG=self.config, NO_COLOR="1", EXECUTOR_APP=APP)

    def local(self, *args: str) -> subprocess.CompletedProcess:  # type: ignore[override]
        return super().local(*args, cwd=self.repo, errors="replace")


def _at_exit(w: World) -> None:
    for i in w.foreign:
        docker("network", "rm", i, check=False)
    if os.path.isdir(w.repo):
        w.local("durable", "teardown", ENV, "--volumes")
    e2elib.remove_app_objects(APP)
    shutil.rmtree(w.tmp, ignore_errors=True)


world: Callable[[], World] = shared("test_converge", APP, World, _at_exit)  # type: ignore[assignment]


def networks() -> list[dict]:
    """Every network named exactly NETWORK, inspected."""
    ids = [ln.split()[0] for ln in docker("network", "ls", "--no-trunc", "--format", "{{.ID}} {{.Name}}",
                                          "--filter", f"name={NETWORK}").stdout.splitlines()
           if ln.split()[1:] == [NETWORK]]
    return [json.loads(docker("network", "inspect", i).stdout)[0] for i in ids]


def twin(labels: dict[str, str]) -> str:
    """A network of the same name made as a killed create leaves it (CheckDuplicate off)."""
    body = json.dumps({"Name": NETWORK, "CheckDuplicate": False, "Driver": "bridge", "Labels": labels})
    p = subprocess.run(["curl", "-sf", "--unix-socket", "/var/run/docker.sock", "-H", "Content-Type: application/json",
                        "-d", body, "http://localhost/networks/create"], capture_output=True, text=True, timeout=30)
    check(p.returncode == 0, f"creating the twin network failed: {p.stdout} {p.stderr}")
    return json.loads(p.stdout)["Id"]


def setup_ok(w: World) -> subprocess.CompletedProcess:
    p = w.local("durable", "setup", ENV)
    check(p.returncode == 0, f"durable setup exited {p.returncode}: {p.stderr[-1500:]}")
    return p


def test_a_twin_network_left_by_a_killed_create_is_removed_and_the_one_in_use_kept():
    w = world()
    setup_ok(w)
    nets = networks()
    check(len(nets) == 1, f"one network after the first setup: {len(nets)}")
    kept = nets[0]["Id"]
    check(nets[0]["Containers"], "the layer's container is on its network")
    extra = twin(nets[0]["Labels"])
    check(len(networks()) == 2, "the engine holds the name twice")
    p = setup_ok(w)
    out = p.stdout + p.stderr
    check(f"network {NETWORK} existed 2 times" in out and extra[:12] in out and kept[:12] in out,
          f"the setup says which copy it removed and which it kept: {out[-1500:]}")
    nets = networks()
    check([n["Id"] for n in nets] == [kept], f"only the copy in use is left: {[n['Id'][:12] for n in nets]}")


def test_a_copy_with_other_labels_is_reported_not_removed():
    w = world()
    nets = networks()
    check(len(nets) == 1, "the layer is set up with one network")
    labels = dict(nets[0]["Labels"])
    labels["io.executor.app"] = "someone-else"
    foreign = twin(labels)
    w.foreign.append(foreign)
    p = w.local("durable", "setup", ENV)
    lines = [ln for ln in p.stderr.splitlines() if "was not created like" in ln]
    check(p.returncode == 2, f"a system failure (exit 2), not {p.returncode}: {p.stderr[-1500:]}")
    check(len(lines) == 1 and foreign[:12] in lines[0] and "docker network rm" in lines[0],
          f"one line naming the copy and the fix: {p.stderr[-1500:]}")
    check(len(networks()) == 2, "both copies stay: the foreign one is not the driver's to remove")
    docker("network", "rm", foreign)
    w.foreign.remove(foreign)
    setup_ok(w)


def test_setup_killed_at_any_moment_then_run_again_leaves_one_network():
    """Killed before each of its engine requests and while each is in flight (the driver's
    EXECUTOR_FAULT_KILL_AFTER / EXECUTOR_FAULT_KILL_DELAY_US hook, docker/transport.c)."""
    w = world()
    p = w.local("durable", "teardown", ENV)
    check(p.returncode == 0, f"teardown exited {p.returncode}: {p.stderr[-800:]}")
    p = subprocess.run([executor_bin(), "durable", "setup", ENV], cwd=w.repo, capture_output=True, text=True,
                       env=dict(w.env(), EXECUTOR_FAULT_REPORT="1"), timeout=300)
    check(p.returncode == 0, f"durable setup exited {p.returncode}: {p.stderr[-800:]}")
    count = int(p.stderr.rsplit("executor: ", 1)[1].split()[0])
    tried = repaired = 0
    for n in range(1, count + 1):
        for delay_us in ((0, 2000, 30000)[n % 3],):  # every request, each at one of three delays
            p = w.local("durable", "teardown", ENV)
            check(p.returncode == 0, f"teardown exited {p.returncode}: {p.stderr[-800:]}")
            check(not networks(), "no network is left after teardown")
            env = dict(w.env(), EXECUTOR_FAULT_KILL_AFTER=str(n))
            if delay_us:
                env["EXECUTOR_FAULT_KILL_DELAY_US"] = str(delay_us)
            k = subprocess.run([executor_bin(), "durable", "setup", ENV], cwd=w.repo, env=env,
                               capture_output=True, text=True, timeout=300)
            # killed, or done before its last request's delay ran out
            check(k.returncode == -9 or (n == count and delay_us and k.returncode == 0),
                  f"request {n} + {delay_us} us: the setup was not killed ({k.returncode})")
            # at once, as a retried job does: the killed run's create may still be in flight
            p = w.local("durable", "setup", ENV)
            tried += 1
            where = f"killed at request {n} of {count} + {delay_us} us"
            check(p.returncode == 0, f"{where}: the next setup exited {p.returncode}: {p.stderr[-1500:]}")
            repaired += "existed 2 times" in p.stdout + p.stderr
            time.sleep(0.3)  # what was in flight has landed; a later run finds it
            p = w.local("durable", "setup", ENV)
            check(p.returncode == 0, f"{where}: the setup after that exited {p.returncode}: {p.stderr[-1500:]}")
            repaired += "existed 2 times" in p.stdout + p.stderr
            nets = networks()
            check(len(nets) == 1, f"{where}: {len(nets)} networks named {NETWORK}")
            check(nets[0]["Containers"], f"{where}: the layer's container is on the network")
    print(f"  crash convergence: {tried} kills, every re-run converged; {repaired} left a twin network "
          "that the re-run removed", flush=True)


def test_teardown():
    w = world()
    p = w.local("durable", "teardown", ENV, "--volumes")
    check(p.returncode == 0, f"teardown exited {p.returncode}: {p.stderr[-800:]}")
    check(not networks(), "no network left")
    check(not any(e2elib.app_objects(APP).values()), f"nothing of the app left: {e2elib.app_objects(APP)}")
