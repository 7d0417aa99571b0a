"""The trust boundaries of docs/security.md, played by the attackers a shared runner meets
(issue 13): another project (a fork with the same name, or any project of the attacker's),
an unprotected branch of the victim's own project, a hostile repository, a hostile job.

The victim is project victim/e2e-trust (id 5001): application e2e-trust (its name derived
from the project's, no EXECUTOR_APP), env `ci` (unprotected, as in the seed: every branch
deploys green to it) with green live and blue in preview, and env `trust-prod` (protected,
the default for every env but ci) with green live, each with the example's durable layer
(MariaDB with real data, the nginx router) — set up through the runner from protected refs,
as its pipeline would.

Every attack is a test of its own. Each one snapshots what the victim has before the attack
and checks after it, not assumes, that nothing changed: every container (id, start time,
running), every network (id and who is attached), every volume, every file of the app's
state directory (owner, state, secrets, TLS and CA keys, the router's configuration and
template, byte for byte; the history only grows where the victim's own refused action is
recorded), the live entry still answering from the live color, and host paths a job aimed at.

Objects: app e2e-trust and the attacker's apps e2e (whose names spell the victim's: e2e +
trust-ci = e2e-trust-ci) and e2e-x; ports 30000-30999.
"""

from __future__ import annotations

import atexit
import fcntl
import hashlib
import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import e2elib  # noqa: E402
from e2elib import git as _git  # noqa: E402
from e2elib import (REPO, Job, JobResult, assert_no_leftovers, check, docker, executor_bin,  # noqa: E402
                    expect_failure, expect_success, port_free, run_job, runner_config, state_dir,
                    write_admin_config)
from world import build_example_images, example_repo  # noqa: E402

NEEDS_DOCKER = True

APP = "e2e-trust"
VICTIM = ("victim/e2e-trust", 5001)
FORK = ("mallory/e2e-trust", 6002)  # a fork: its project has the victim's name
OTHER = ("mallory/tools", 6003)  # another project of the attacker's
COLLIDER = "e2e"  # the attacker's app: e2e + "-" + trust-ci spells e2e-trust-ci
XAPP = "e2e-x"  # the attacker's app that reaches for the victim's objects
CI, PROD = "ci", "trust-prod"
APPS = (APP, COLLIDER, XAPP)
EXAMPLE = os.path.join(REPO, "templates", "example")
PORT_BASE = 30000
ENV_PORTS = {
    CI: ("EXECUTOR_DB_PORT", "EXECUTOR_LIVE_PORT", "EXECUTOR_PREVIEW_PORT",
         "GREEN_API_PORT", "GREEN_FRONTEND_HTTPS_PORT", "GREEN_FRONTEND_HTTP_PORT",
         "GREEN_LOCALSTACK_PORT", "GREEN_LOCALSTACK_ALT_PORT",
         "BLUE_API_PORT", "BLUE_FRONTEND_HTTPS_PORT", "BLUE_FRONTEND_HTTP_PORT",
         "BLUE_LOCALSTACK_PORT", "BLUE_LOCALSTACK_ALT_PORT"),
    PROD: ("EXECUTOR_DB_PORT", "EXECUTOR_LIVE_PORT", "EXECUTOR_PREVIEW_PORT",
           "GREEN_API_PORT", "GREEN_FRONTEND_HTTPS_PORT", "GREEN_FRONTEND_HTTP_PORT",
           "GREEN_LOCALSTACK_PORT", "GREEN_LOCALSTACK_ALT_PORT"),
}
HOSTILE_MARK = "e2e-hostile-template"
PROTECTED_MARK = "e2e-protected-template"
OWNER_MSG = "application e2e-trust belongs to project victim/e2e-trust (id 5001)"

_w: "World | None" = None


# ------------------------------------------------------------------ the hostile repository

def _hostile_files(tpl: str) -> dict[str, str]:
    """What the `evil` branch adds to the example (a branch of the victim's project, and the
    commit a fork pushes)."""
    bb = "    image: executor-test/busybox:latest\n    command: [sleep, '3600']\n"
    swapped = (tpl.replace("{{live_locations}}", "@@L@@").replace("{{preview_locations}}", "{{live_locations}}")
               .replace("@@L@@", "{{preview_locations}}"))
    return {
        # sends the live entry to the color in preview: a promote without a protected ref
        "durable/router.conf.template": f"# {HOSTILE_MARK}\n" + swapped,
        # stacks of the attacker's own app that reach for the victim's objects
        "hostile/foreign-volume.yml": "services:\n  steal:\n" + bb + "    volumes: [loot:/loot]\n"
        "volumes:\n  loot:\n    external: true\n    name: e2e-trust-ci-durable-mariadb-data\n",
        "hostile/foreign-volume-named.yml": "services:\n  steal:\n" + bb + "    volumes: [loot:/loot]\n"
        "volumes:\n  loot:\n    name: e2e-trust-ci-durable-mariadb-data\n",
        "hostile/foreign-network.yml": "services:\n  steal:\n" + bb + "    networks: [db]\n"
        "networks:\n  db:\n    external: true\n    name: e2e-trust-ci-durable-network\n",
        "hostile/host-network.yml": "services:\n  steal:\n" + bb + "    networks: [h]\n"
        "networks:\n  h:\n    external: true\n    name: host\n",
        "hostile/network-mode-host.yml": "services:\n  steal:\n" + bb + "    network_mode: host\n",
        "hostile/network-mode-container.yml": "services:\n  steal:\n" + bb
        + "    network_mode: container:e2e-trust-ci-durable-mariadb\n",
        # color stacks of the victim's own unprotected branch that reach beyond the color
        "hostile/other-env-volume.yml": "services:\n  steal:\n" + bb + "    volumes: [loot:/loot]\n"
        "volumes:\n  loot:\n    external: true\n    name: e2e-trust-trust-prod-durable-mariadb-data\n",
        "hostile/router-dir.yml": "services:\n  steal:\n" + bb
        + "    volumes: ['${EXECUTOR_ROUTER_DIR}:/router']\n",
        "hostile/ca-dir.yml": "services:\n  steal:\n" + bb + "    volumes: ['${EXECUTOR_TLS_DIR}/../ca:/ca']\n",
        "hostile/secrets-dir.yml": "services:\n  steal:\n" + bb
        + "    volumes: ['${EXECUTOR_TLS_DIR}/../secrets:/secrets']\n",
        "hostile/state-dir.yml": "services:\n  steal:\n" + bb
        + "    volumes: ['${EXECUTOR_TLS_DIR}/../../../../../owner.json:/owner']\n",
        # a hostile repository: links committed beside the stack files (made in _branch)
        "hostile/sock.yml": "services:\n  steal:\n" + bb + "    volumes: ['./sock:/var/run/docker.sock']\n",
        "hostile/hostroot.yml": "services:\n  steal:\n" + bb + "    volumes: ['./hostroot:/host']\n",
        "hostile/envfile.yml": "services:\n  steal:\n" + bb + "    env_file: hostile/leak.env\n",
        # 1 MB of aliases to a 512 KiB scalar: 512 MB once expanded
        "hostile/bomb.yml": "x-big: &big \"" + "a" * (512 * 1024) + "\"\nx-laughs: [" + ", ".join(["*big"] * 1000)
        + "]\nservices:\n  steal:\n" + bb,
        # an engine name that walks to another object's API path
        "hostile/path-name.yml": "services:\n  steal:\n" + bb + "    volumes: [loot:/loot]\n"
        "volumes:\n  loot:\n    external: true\n    name: ../containers/e2e-trust-ci-durable-mariadb\n",
        # an image whose registry spells the allow-list's prefix
        "hostile/spoofed-image.yml": "services:\n  steal:\n    image: executor-test.evil.example/busybox:latest\n",
    }


LINKS = {"sock": "/var/run/docker.sock", "hostroot": "/"}  # and hostile/leak.env -> a host file of the world's
LEAK_MARKER = "E2E_TRUST_HOST_SECRET=" + hashlib.sha256(os.urandom(16)).hexdigest()


# ------------------------------------------------------------------ the world


class World:
    def __init__(self) -> None:
        build_example_images()
        self.tmp = tempfile.mkdtemp(prefix="e2etrust-", dir=state_dir())
        self.state = os.path.join(self.tmp, "driver")
        # the admin's defaults: every env but ci protected, no app shared
        self.config = write_admin_config(os.path.join(self.tmp, "trust.conf"), self.state,
                                         allowed_images="executor-test/*, echobase/*", pull_policy="never",
                                         protected_envs=None)
        self.app_dir = os.path.join(self.state, "apps", APP)
        self.ports = self._pick_ports()
        self.repo = os.path.join(self.tmp, "repo")
        self.sha = {"main": example_repo(self.repo)}
        with open(os.path.join(REPO, "templates", "router", "executor.conf.template")) as f:
            tpl = f.read()
        self.host_file = os.path.join(self.tmp, "host-secret.env")  # outside the repository
        with open(self.host_file, "w") as f:
            f.write(LEAK_MARKER + "\n")
        self._branch("evil", _hostile_files(tpl), "hostile additions",
                     {**LINKS, "hostile/leak.env": self.host_file})
        self._branch("tpl", {"durable/router.conf.template": f"# {PROTECTED_MARK}\n" + tpl},
                     "a router template of the maintainers'")

    def _branch(self, name: str, files: dict[str, str], msg: str, links: dict[str, str] | None = None) -> None:
        _git(self.repo, "checkout", "-q", "-b", name, "main")
        for rel, text in files.items():
            path = os.path.join(self.repo, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(text)
        for rel, target in (links or {}).items():
            os.symlink(target, os.path.join(self.repo, rel))
        _git(self.repo, "add", "-A")
        _git(self.repo, "commit", "-q", "-m", msg)
        self.sha[name] = _git(self.repo, "rev-parse", "HEAD")
        _git(self.repo, "checkout", "-q", "main")

    def _pick_ports(self) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {}
        port = PORT_BASE
        for env, names in ENV_PORTS.items():
            got = {}
            for n in names:
                while True:
                    port += 1
                    check(port < PORT_BASE + 1000, "no free ports in 30000-30999")
                    if port_free(port):
                        break
                got[n] = str(port)
            out[env] = got
        return out

    # -- jobs

    def job(self, name: str, *, who: tuple[str, int] = VICTIM, env: str = CI, ref: str = "main",
            protected: bool = False, variables: dict[str, str] | None = None, stage: str = "deploy",
            image: str | None = None, script: list[str] | None = None) -> Job:
        project, project_id = who
        v = {"EXECUTOR_ENV": env, **self.ports.get(env, self.ports[CI])}
        v.update(variables or {})
        return Job(script or ["echo 'carried out by the executor driver'"], name=name, stage=stage, image=image,
                   git_strategy="fetch" if image is None else "none", repo_url=self.repo, sha=self.sha[ref],
                   ref=ref, refspecs=[f"+refs/heads/{ref}:refs/remotes/origin/{ref}"], protected=protected,
                   project=project, project_id=project_id, variables=v)

    def runner(self):
        return runner_config(extra_env={"EXECUTOR_CONFIG": self.config, "NO_COLOR": "1"})

    def run(self, job: Job) -> JobResult:
        res = run_job(job, self.runner())
        assert_no_leftovers(job, wait=5)
        return res

    def victim_run(self, name: str, env: str, **kw) -> JobResult:
        res = self.run(self.job(name, env=env, protected=True, **kw))
        expect_success(res)
        return res

    def local(self, *args: str, env: str = CI, app: str = APP, ok: bool = True) -> subprocess.CompletedProcess:
        e = dict(os.environ)
        e.update(EXECUTOR_CONFIG=self.config, NO_COLOR="1", EXECUTOR_APP=app, **self.ports.get(env, self.ports[CI]))
        p = subprocess.run([executor_bin(), *args], cwd=self.repo, env=e, capture_output=True, text=True,
                           errors="replace", timeout=400)
        if ok:
            check(p.returncode == 0, f"executor {' '.join(args)} exited {p.returncode}: {p.stderr.strip()[-2000:]}")
        return p

    # -- the victim's env

    def env_dir(self, env: str) -> str:
        return os.path.join(self.app_dir, "envs", env)

    def state_json(self, env: str) -> dict:
        try:
            with open(os.path.join(self.env_dir(env), "state.json")) as f:
                return json.load(f)
        except FileNotFoundError:
            return {}

    def history(self, env: str) -> list[dict]:
        try:
            with open(os.path.join(self.env_dir(env), "history.jsonl")) as f:
                return [json.loads(ln) for ln in f if ln.strip()]
        except FileNotFoundError:
            return []

    def router_file(self, env: str) -> str:
        with open(os.path.join(self.env_dir(env), "router", "executor.conf")) as f:
            return f.read()

    def serving(self, env: str, entry: str) -> str:
        """The color that answers /api/health through an entry (3 requests agree)."""
        port = int(self.ports[env]["EXECUTOR_LIVE_PORT" if entry == "live" else "EXECUTOR_PREVIEW_PORT"])
        ctx = ssl.create_default_context(cafile=os.path.join(self.env_dir(env), "tls", "ca.pem"))
        colors = set()
        for _ in range(3):
            c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10)
            try:
                c.request("GET", "/api/health", headers={"Connection": "close"})
                r = c.getresponse()
                r.read()
                colors.add(f"{r.status} {r.getheader('X-Executor-Color') or '?'}")
            except (OSError, http.client.HTTPException) as e:
                colors.add(f"error {e}")
            finally:
                c.close()
        return " / ".join(sorted(colors))

    def ensure_victim(self) -> None:
        """The victim's pipeline, from protected refs, when its envs are not as wanted: env ci
        with green live and blue in preview, env trust-prod with its durable layer (a color's
        containers are named <app>-<color>, so one engine holds one green of an app)."""
        for env, colors in ((CI, ("green", "blue")), (PROD, ())):
            st = self.state_json(env)
            ok = bool(st.get("router")) and all(c in (st.get("colors") or {}) for c in colors)
            ok = ok and (not colors or (st.get("live") == "green" and st.get("preview") == "blue"))
            ok = ok and all(self._running(f"{APP}-{env}-durable-{s}") for s in ("mariadb", "router"))
            if ok:
                continue
            self.victim_run(f"durable:setup-{env}", env, stage="durable")
            if colors:
                self.victim_run("deploy:green", env)
                self.victim_run("promote:green", env, stage="promote")
                self.victim_run("deploy:blue", env)
        check(self.serving(CI, "live") == "200 green", f"ci's live entry serves green: {self.serving(CI, 'live')}")

    @staticmethod
    def _running(name: str) -> bool:
        return docker("inspect", "-f", "{{.State.Running}}", name, check=False).stdout.strip() == "true"

    # -- what the victim has

    def snapshot(self) -> dict:
        s: dict = {"containers": {}, "networks": {}, "volumes": [], "files": {}, "history": {}}
        names = docker("ps", "-a", "--format", "{{.Names}}", "--filter", f"label=io.executor.app={APP}").stdout.split()
        for n in sorted(names):
            s["containers"][n] = docker("inspect", "-f", "{{.Id}} {{.State.StartedAt}} {{.State.Running}}",
                                        n, check=False).stdout.strip()
        for n in sorted(docker("network", "ls", "--format", "{{.Name}}", "--filter",
                               f"label=io.executor.app={APP}").stdout.split()):
            s["networks"][n] = docker("network", "inspect", "-f",
                                      "{{.Id}} {{range $k, $v := .Containers}}{{$v.Name}},{{end}}", n,
                                      check=False).stdout.strip()
        s["volumes"] = sorted(docker("volume", "ls", "--format", "{{.Name}}", "--filter",
                                     f"label=io.executor.app={APP}").stdout.split())
        for root, _, files in os.walk(self.app_dir):
            for f in files:
                p = os.path.join(root, f)
                rel = os.path.relpath(p, self.app_dir)
                if f in ("history.jsonl", "lock", "lock.holder"):
                    if f == "history.jsonl":
                        s["history"][rel] = len(self.history(os.path.basename(root)))
                    continue
                with open(p, "rb") as fh:
                    s["files"][rel] = hashlib.sha256(fh.read()).hexdigest()
        return s

    def unchanged(self, before: dict, res: JobResult | None = None, history_may_grow: int = 0) -> None:
        """Nothing of the victim changed; its history gained at most history_may_grow entries
        (the victim's own refused or failed actions are recorded)."""
        after = self.snapshot()
        for k in ("containers", "networks", "volumes", "files"):
            if before[k] != after[k]:
                diff = ({n: (before[k].get(n), after[k].get(n)) for n in set(before[k]) | set(after[k])
                         if before[k].get(n) != after[k].get(n)} if isinstance(before[k], dict)
                        else (before[k], after[k]))
                check(False, f"the victim's {k} changed: {diff}", res)
        for rel, n in before["history"].items():
            m = after["history"].get(rel, 0)
            check(n <= m <= n + history_may_grow, f"{rel}: {n} entries before, {m} after", res)
        check(self.serving(CI, "live") == "200 green", f"ci's live entry serves green: {self.serving(CI, 'live')}",
              res)
        check(self.serving(CI, "preview") == "200 blue",
              f"ci's preview entry serves blue: {self.serving(CI, 'preview')}", res)

    # -- teardown

    def teardown(self) -> None:
        for env, colors in ((CI, ("green", "blue")), (PROD, ())):
            if os.path.isdir(self.env_dir(env)):
                for c in colors:
                    self.local("cleanup", c, "--env", env, "--force", env=env, ok=False)
                self.local("durable", "teardown", env, "--volumes", env=env, ok=False)
        for app, env in ((COLLIDER, "trust-ci"), (XAPP, CI)):
            if os.path.isdir(os.path.join(self.state, "apps", app, "envs", env)):
                self.local("durable", "teardown", env, "--volumes", env=env, app=app, ok=False)


def remove_objects(app: str) -> list[str]:
    """What an earlier run left of an app; by label only for the attacker's app e2e, whose
    name is a prefix of the victim's (e2elib's name match would take theirs too)."""
    if app != COLLIDER:
        return e2elib.remove_app_objects(app)
    removed = []
    for kind, cmd, rm in ((["ps", "-aq"], None, ["rm", "-f", "-v"]), (["network", "ls", "-q"], None, ["network", "rm"]),
                          (["volume", "ls", "-q"], None, ["volume", "rm", "-f"])):
        ids = docker(*kind, "--filter", f"label=io.executor.app={app}").stdout.split()
        if ids:
            docker(*rm, *ids, check=False, timeout=120)
            removed += ids
    return removed


def collider_objects() -> list[str]:
    out = []
    for kind in (["ps", "-a"], ["network", "ls"], ["volume", "ls"]):
        out += docker(*kind, "--format", "{{.Names}}" if kind[0] == "ps" else "{{.Name}}", "--filter",
                      f"label=io.executor.app={COLLIDER}").stdout.split()
    return out


def world() -> World:
    global _w
    if _w is None:
        for app in APPS:
            left = remove_objects(app)
            if left:
                print(f"  test_trust: removed leftovers of an earlier run: {', '.join(left)}", flush=True)
        _w = World()
        atexit.register(_at_exit)
    _w.ensure_victim()
    return _w


def _at_exit() -> None:
    if _w is not None:
        _w.teardown()
        for app in APPS:
            remove_objects(app)


def refused(res: JobResult, *needles: str, failure: str = "build") -> None:
    expect_failure(res, failure)
    for n in needles:
        check(n in res.text, f"the job log says {n!r}", res)


# ------------------------------------------------------------------ another project


def test_a_fork_with_the_projects_name_cannot_deploy_to_its_app():
    w = world()
    before = w.snapshot()
    res = w.run(w.job("deploy:blue", who=FORK))
    refused(res, OWNER_MSG, "project mallory/e2e-trust (id 6002) may not act on it",
            "app_projects = e2e-trust: 6002")
    check("DB_PASSWORD" not in res.text, "nothing of the env's secrets is named", res)
    w.unchanged(before, res)


def test_another_project_naming_the_app_with_EXECUTOR_APP_is_refused():
    w = world()
    before = w.snapshot()
    res = w.run(w.job("deploy:blue", who=OTHER, variables={"EXECUTOR_APP": APP}))
    refused(res, "application e2e-trust (EXECUTOR_APP) belongs to project victim/e2e-trust (id 5001)",
            "Choose another name with EXECUTOR_APP")
    w.unchanged(before, res)


def test_another_project_cannot_set_up_the_durable_layer():
    w = world()
    before = w.snapshot()
    res = w.run(w.job(f"durable:setup-{CI}", who=FORK, stage="durable"))
    refused(res, OWNER_MSG)
    w.unchanged(before, res)


def test_another_project_cannot_clean_up_a_color():
    w = world()
    before = w.snapshot()
    res = w.run(w.job("cleanup:blue", who=FORK, stage="cleanup"))
    refused(res, OWNER_MSG)
    w.unchanged(before, res)


def test_another_project_cannot_promote_even_from_its_protected_ref():
    w = world()
    before = w.snapshot()
    res = w.run(w.job("promote:blue", who=FORK, protected=True, stage="promote"))
    refused(res, OWNER_MSG)
    w.unchanged(before, res)


def test_another_project_cannot_destroy_the_durable_data():
    w = world()
    before = w.snapshot()
    res = w.run(w.job(f"cleanup:durable-{CI}", who=FORK, protected=True, stage="cleanup",
                      variables={"EXECUTOR_CONFIRM_DESTROY": CI}))
    refused(res, OWNER_MSG)
    w.unchanged(before, res)


def test_another_project_cannot_join_a_colors_network():
    w = world()
    before = w.snapshot()
    res = w.run(w.job("test:e2e", who=FORK, stage="test", image="executor-test/bash:latest",
                      script=["echo joined; getent hosts e2e-trust-green-api-gateway || true"],
                      variables={"EXECUTOR_COLOR": "green"}))
    refused(res, OWNER_MSG)
    check("joined" not in res.text, "the job's script never ran", res)
    w.unchanged(before, res)


def test_another_project_does_not_take_the_envs_lock():
    w = world()
    before = w.snapshot()
    holder = os.path.join(w.env_dir(CI), "lock.holder")
    with open(os.path.join(w.env_dir(CI), "lock"), "a") as lk:
        fcntl.flock(lk, fcntl.LOCK_EX)  # the victim's action holds the env
        t0 = time.monotonic()
        res = w.run(w.job("deploy:blue", who=FORK))
        fcntl.flock(lk, fcntl.LOCK_UN)
    refused(res, OWNER_MSG)
    check("waiting" not in res.text.lower(), "refused without queueing for the victim's lock", res)
    check(not os.path.exists(holder), "no lock.holder was written for the attacker", res)
    check(time.monotonic() - t0 < 300, "the refusal did not wait for the lock timeout", res)
    w.unchanged(before, res)


def test_forged_project_variables_do_not_make_a_fork_the_owner():
    w = world()
    before = w.snapshot()
    res = w.run(w.job("deploy:blue", who=FORK, variables={
        "CI_PROJECT_ID": "5001", "CI_PROJECT_PATH": "victim/e2e-trust", "CI_PROJECT_NAME": "e2e-trust",
        "CI_COMMIT_REF_PROTECTED": "true", "GITLAB_USER_LOGIN": "victim-admin"}))
    refused(res, OWNER_MSG, "project mallory/e2e-trust (id 6002) may not act on it")
    w.unchanged(before, res)


def test_an_app_whose_durable_names_spell_the_victims_cannot_take_them():
    # app e2e, env trust-ci: its durable project, network, volume and containers are all
    # spelled e2e-trust-ci-durable...: the victim's. From the attacker's protected ref.
    w = world()
    before = w.snapshot()
    res = w.run(w.job("durable:setup-trust-ci", who=OTHER, env="trust-ci", protected=True, stage="durable",
                      variables={"EXECUTOR_APP": COLLIDER}))
    refused(res, "network e2e-trust-ci-durable-network was not created by app e2e in env trust-ci "
                 "(it belongs to another app)")
    w.unchanged(before, res)
    check(not collider_objects(), f"nothing of app e2e was created either: {collider_objects()}", res)


def test_an_app_whose_durable_project_spells_the_victims_cannot_destroy_it():
    w = world()
    before = w.snapshot()
    res = w.run(w.job("cleanup:durable-trust-ci", who=OTHER, env="trust-ci", protected=True, stage="cleanup",
                      variables={"EXECUTOR_APP": COLLIDER, "EXECUTOR_CONFIRM_DESTROY": "trust-ci"}))
    # the attacker's own (empty) layer is "removed"; the victim's, spelled alike, is not touched
    expect_success(res)
    w.unchanged(before, res)


def test_an_app_whose_color_spells_the_victims_cannot_remove_it():
    # app e2e, color trust-green: project e2e-trust-green, the victim's green in env ci
    w = world()
    before = w.snapshot()
    res = w.run(w.job("cleanup:trust-green", who=OTHER, env=CI, stage="cleanup",
                      variables={"EXECUTOR_APP": COLLIDER}))
    expect_success(res)
    w.unchanged(before, res)


def test_another_apps_stack_cannot_mount_the_victims_data_volume():
    w = world()
    before = w.snapshot()
    for f in ("hostile/foreign-volume.yml", "hostile/foreign-volume-named.yml"):
        res = w.run(w.job(f"durable:setup-{CI}", who=OTHER, ref="evil", stage="durable",
                          variables={"EXECUTOR_APP": XAPP, "EXECUTOR_DURABLE_FILE": f}))
        refused(res, f"{f}:", "volume e2e-trust-ci-durable-mariadb-data was not created by app e2e-x in env ci "
                "(it belongs to another app)", "allowed_volumes")
    w.unchanged(before, res)
    check(not any(e2elib.app_objects(XAPP).values()), f"nothing of e2e-x was created: {e2elib.app_objects(XAPP)}")


def test_another_apps_stack_cannot_join_the_victims_database_network():
    w = world()
    before = w.snapshot()
    res = w.run(w.job(f"durable:setup-{CI}", who=OTHER, ref="evil", stage="durable",
                      variables={"EXECUTOR_APP": XAPP, "EXECUTOR_DURABLE_FILE": "hostile/foreign-network.yml"}))
    refused(res, "network e2e-trust-ci-durable-network was not created by app e2e-x in env ci", "allowed_networks")
    w.unchanged(before, res)
    check(not any(e2elib.app_objects(XAPP).values()), f"nothing of e2e-x was created: {e2elib.app_objects(XAPP)}")


def test_a_stack_cannot_use_the_hosts_network():
    w = world()
    before = w.snapshot()
    res = w.run(w.job(f"durable:setup-{CI}", who=OTHER, ref="evil", stage="durable",
                      variables={"EXECUTOR_APP": XAPP, "EXECUTOR_DURABLE_FILE": "hostile/host-network.yml"}))
    refused(res, "network host is the engine's own: a stack may not use it unless the runner admin allows it")
    w.unchanged(before, res)
    check(not any(e2elib.app_objects(XAPP).values()), f"nothing of e2e-x was created: {e2elib.app_objects(XAPP)}")


def test_network_mode_host_or_another_apps_container_is_refused():
    w = world()
    before = w.snapshot()
    for f, mode in (("hostile/network-mode-host.yml", "host"),
                    ("hostile/network-mode-container.yml", "container:e2e-trust-ci-durable-mariadb")):
        res = w.run(w.job(f"durable:setup-{CI}", who=OTHER, ref="evil", stage="durable",
                          variables={"EXECUTOR_APP": XAPP, "EXECUTOR_DURABLE_FILE": f}))
        refused(res, f"network_mode {mode} leaves the stack's networks")
    w.unchanged(before, res)
    check(not any(e2elib.app_objects(XAPP).values()), f"nothing of e2e-x was created: {e2elib.app_objects(XAPP)}")


# ------------------------------------------------------------------ an unprotected branch


def test_an_unprotected_branch_cannot_deploy_to_a_protected_env():
    w = world()
    before = w.snapshot()
    res = w.run(w.job("deploy:blue", env=PROD, ref="evil"))
    refused(res, "env trust-prod is protected on this runner: deploy runs only from a protected branch or tag, "
                 "and ref evil is not protected in the job payload")
    w.unchanged(before, res)


def test_an_unprotected_branch_cannot_set_up_a_protected_envs_durable_layer():
    w = world()
    before = w.snapshot()
    res = w.run(w.job(f"durable:setup-{PROD}", env=PROD, ref="evil", stage="durable"))
    refused(res, "env trust-prod is protected on this runner: durable-setup runs only from a protected branch")
    w.unchanged(before, res)


def test_an_unprotected_branch_cannot_clean_up_a_protected_envs_color():
    w = world()
    before = w.snapshot()
    res = w.run(w.job("cleanup:green", env=PROD, ref="evil", stage="cleanup",
                      variables={"CI_COMMIT_REF_PROTECTED": "true"}))
    refused(res, "env trust-prod is protected on this runner: cleanup runs only from a protected branch")
    w.unchanged(before, res)


def test_an_unprotected_branch_cannot_join_a_protected_envs_color():
    w = world()
    before = w.snapshot()
    res = w.run(w.job("test:e2e", env=PROD, ref="evil", stage="test", image="executor-test/bash:latest",
                      script=["echo joined"], variables={"EXECUTOR_COLOR": "green"}))
    refused(res, "env trust-prod is protected on this runner: joining a color's network runs only from a "
                 "protected branch or tag")
    check("joined" not in res.text, "the job's script never ran", res)
    w.unchanged(before, res)


def test_an_unprotected_promote_is_refused_and_the_history_says_who_truthfully():
    w = world()
    before = w.snapshot()
    res = w.run(w.job("promote:blue", ref="evil", stage="promote",
                      variables={"CI_COMMIT_REF_PROTECTED": "true", "GITLAB_USER_LOGIN": "release-bot"}))
    refused(res, "promote runs only from a protected branch or tag; ref evil is not protected in the job payload")
    w.unchanged(before, res, history_may_grow=1)
    last = w.history(CI)[-1]
    for k, v in (("action", "promote"), ("result", "refused"), ("via", "job"), ("project", "victim/e2e-trust"),
                 ("project_id", "5001"), ("ref", "evil"), ("protected", False), ("who", "e2e-user"),
                 ("who_claimed", "release-bot"), ("job_id", str(res.job.id))):
        check(last.get(k) == v, f"history: {k} is {last.get(k)!r}, want {v!r}: {last}", res)


def test_an_unprotected_rollback_is_refused():
    w = world()
    before = w.snapshot()
    res = w.run(w.job("rollback:to-blue", ref="evil", stage="rollback"))
    refused(res, "rollback runs only from a protected branch or tag")
    w.unchanged(before, res, history_may_grow=1)


def test_an_unprotected_branch_cannot_destroy_the_durable_data_even_confirmed():
    w = world()
    before = w.snapshot()
    res = w.run(w.job(f"cleanup:durable-{CI}", ref="evil", stage="cleanup",
                      variables={"EXECUTOR_CONFIRM_DESTROY": CI}))
    refused(res, "durable-cleanup runs only from a protected branch or tag")
    w.unchanged(before, res, history_may_grow=1)


def test_a_color_named_like_the_durable_project_cannot_remove_it():
    # e2e-trust + ci-durable = e2e-trust-ci-durable, the durable project of env ci
    w = world()
    before = w.snapshot()
    for name, variables in (("cleanup:ci-durable", {}), ("cleanup:x", {"EXECUTOR_COLOR": "durable"})):
        res = w.run(w.job(name, ref="evil", stage="cleanup", variables=variables))
        refused(res, "which names durable layers (<app>-<env>-durable): choose another color name")
    w.unchanged(before, res)


def test_an_unprotected_deploy_cannot_route_the_live_entry_with_its_own_template():
    w = world()
    res = w.run(w.job("deploy:blue", ref="evil"))
    expect_success(res)
    check("durable/router.conf.template of ref evil is not used" in res.text,
          "the job says the branch's template is not used", res)
    conf = w.router_file(CI)
    check(HOSTILE_MARK not in conf, "the router's configuration is not the branch's template", res)
    check(w.serving(CI, "live") == "200 green", f"live still serves green: {w.serving(CI, 'live')}", res)
    check(w.serving(CI, "preview") == "200 blue", f"preview serves blue: {w.serving(CI, 'preview')}", res)
    check(not os.path.exists(os.path.join(w.env_dir(CI), "router.conf.template")),
          "no template was kept from an unprotected ref", res)


def test_the_router_template_a_protected_ref_set_is_the_one_an_unprotected_deploy_uses():
    w = world()
    try:
        expect_success(w.run(w.job("deploy:blue", ref="tpl", protected=True)))
        check(PROTECTED_MARK in w.router_file(CI), "the protected ref's template is in use")
        kept = os.path.join(w.env_dir(CI), "router.conf.template")
        check(os.path.exists(kept) and os.stat(kept).st_mode & 0o777 == 0o600,
              "the env keeps the protected ref's template (0600)")
        res = w.run(w.job("deploy:blue", ref="evil"))
        expect_success(res)
        conf = w.router_file(CI)
        check(PROTECTED_MARK in conf and HOSTILE_MARK not in conf,
              "the unprotected deploy rendered with the template the protected ref set", res)
        check(w.serving(CI, "live") == "200 green", f"live still serves green: {w.serving(CI, 'live')}", res)
    finally:
        # the maintainers' main has no template: a protected deploy from it forgets the kept one
        expect_success(w.run(w.job("deploy:blue", ref="main", protected=True)))
    check(not os.path.exists(os.path.join(w.env_dir(CI), "router.conf.template")),
          "a protected ref without a template forgets the kept one")
    check(PROTECTED_MARK not in w.router_file(CI), "the built-in template is back")


def test_a_color_cannot_mount_another_envs_data_volume():
    w = world()
    before = w.snapshot()
    res = w.run(w.job("deploy:blue", ref="evil", variables={"EXECUTOR_COMPOSE_FILES": "hostile/other-env-volume.yml"}))
    refused(res, "volume e2e-trust-trust-prod-durable-mariadb-data was not created by app e2e-trust in env ci "
                 "(it belongs to another env of it)")
    w.unchanged(before, res, history_may_grow=1)


def test_a_color_cannot_mount_the_routers_configuration():
    w = world()
    before = w.snapshot()
    res = w.run(w.job("deploy:blue", ref="evil", variables={"EXECUTOR_COMPOSE_FILES": "hostile/router-dir.yml"}))
    refused(res, "hostile/router-dir.yml:", "bind-mounts", "outside the project and the paths the runner admin allows")
    w.unchanged(before, res, history_may_grow=1)


def test_a_color_cannot_mount_the_ca_key_the_secrets_or_the_owner_record():
    w = world()
    before = w.snapshot()
    for f in ("hostile/ca-dir.yml", "hostile/secrets-dir.yml", "hostile/state-dir.yml"):
        res = w.run(w.job("deploy:blue", ref="evil", variables={"EXECUTOR_COMPOSE_FILES": f}))
        refused(res, f"{f}:", "bind-mounts")
    w.unchanged(before, res, history_may_grow=3)


def test_a_color_that_mounts_the_tls_directory_finds_no_ca_key():
    w = world()
    tls = os.path.join(w.env_dir(CI), "tls")
    check(not os.path.exists(os.path.join(tls, "ca-key.pem")), f"{tls} holds no CA key")
    check(os.path.exists(os.path.join(w.env_dir(CI), "ca", "ca-key.pem")), "the CA key is in ca/")
    p = docker("exec", f"{APP}-green-api-gateway", "ls", "/etc/executor/tls", check=False)
    check(p.returncode == 0, f"ls in green's api-gateway: {p.stderr}")
    files = p.stdout.split()
    check("server-key.pem" in files and "ca.pem" in files and "ca-key.pem" not in files,
          f"a color's container sees the server's key and the CA's certificate, not the CA's key: {files}")


# ------------------------------------------------------------------ a hostile repository, a hostile job


def test_a_committed_link_to_the_docker_socket_is_not_mounted():
    w = world()
    before = w.snapshot()
    res = w.run(w.job("deploy:blue", ref="evil", variables={"EXECUTOR_COMPOSE_FILES": "hostile/sock.yml"}))
    refused(res, "hostile/sock.yml:", "sock is a link that leads out of the repository")
    w.unchanged(before, res, history_may_grow=1)


def test_a_committed_link_to_the_hosts_root_is_not_mounted():
    w = world()
    before = w.snapshot()
    res = w.run(w.job("deploy:blue", ref="evil", variables={"EXECUTOR_COMPOSE_FILES": "hostile/hostroot.yml"}))
    refused(res, "hostile/hostroot.yml:", "hostroot is a link that leads out of the repository")
    w.unchanged(before, res, history_may_grow=1)


def test_an_env_file_that_links_out_of_the_repository_is_not_read():
    w = world()
    before = w.snapshot()
    res = w.run(w.job("deploy:blue", ref="evil", variables={"EXECUTOR_COMPOSE_FILES": "hostile/envfile.yml"}))
    refused(res, "hostile/leak.env is a link that leads out of the repository")
    check(LEAK_MARKER.split("=")[1] not in res.text, "nothing of the host's file is shown", res)
    check(not any(LEAK_MARKER.split("=")[1] in docker("inspect", n, check=False).stdout
                  for n in docker("ps", "-aq", "--filter", f"label=io.executor.app={APP}").stdout.split()),
          "no container got the host file's content", res)
    w.unchanged(before, res, history_may_grow=1)


def test_an_alias_bomb_is_refused_within_its_byte_budget():
    w = world()
    before = w.snapshot()
    res = w.run(w.job("deploy:blue", ref="evil", variables={"EXECUTOR_COMPOSE_FILES": "hostile/bomb.yml"}))
    refused(res, "the stack grows past 32 MiB once aliases are expanded")
    w.unchanged(before, res, history_may_grow=1)


def test_an_engine_name_that_walks_to_another_objects_path_is_refused():
    w = world()
    before = w.snapshot()
    res = w.run(w.job("deploy:blue", ref="evil", variables={"EXECUTOR_COMPOSE_FILES": "hostile/path-name.yml"}))
    refused(res, 'invalid volume name "../containers/e2e-trust-ci-durable-mariadb"')
    w.unchanged(before, res, history_may_grow=1)


def test_an_image_whose_registry_spells_the_allow_lists_prefix_is_refused():
    w = world()
    before = w.snapshot()
    res = w.run(w.job("deploy:blue", ref="evil", variables={"EXECUTOR_COMPOSE_FILES": "hostile/spoofed-image.yml"}))
    refused(res, "uses image executor-test.evil.example/busybox:latest, which is not allowed on this runner")
    w.unchanged(before, res, history_may_grow=1)
    res = w.run(w.job("build:x", ref="evil", stage="build", image="executor-test.evil.example/bash:latest",
                      script=["echo ran"]))
    refused(res, "executor-test.evil.example/bash:latest is not allowed on this runner")
    check("ran" not in res.text.split("Executing")[-1], "the job never ran", res)
    w.unchanged(before, res, history_may_grow=1)


def test_a_job_that_forks_without_end_is_stopped_by_its_process_limit():
    w = world()
    before = w.snapshot()
    res = w.run(w.job("build:forks", ref="evil", stage="build", image="executor-test/bash:latest",
                      variables={"EXECUTOR_PIDS_LIMIT": "40"},
                      # the EXIT trap takes its children down with shell builtins (no fork left),
                      # so the runner's later stages can exec in the container again
                      script=["sh -c 'trap \"j=1; while [ \\$j -le 64 ]; do kill %\\$j 2>/dev/null; "
                              "j=\\$((j+1)); done\" EXIT; i=0; while [ $i -lt 200 ]; do sleep 60 & "
                              "i=$((i+1)); done; echo all-200-started'"]))
    expect_failure(res, "build")
    check("can't fork" in res.text and "all-200-started" not in res.text.splitlines(),
          "forks beyond the job's process limit (40) fail inside its container", res)
    w.unchanged(before, res)
