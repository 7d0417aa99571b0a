"""A hostile repository and a hostile job against the host's filesystem (issue 13, item 3).

Deployment jobs run through harness.py the way gitlab-runner runs them: the driver fetches
the repository with libgit2 and reads its stack files on the host. A repository can commit
symbolic links, and any job of the project can write into its builds slot. Each attack here
is refused with its one-line message and a build failure (exit 1), and nothing is created:
no container, network or volume of app e2efs beyond what was there, and the host paths the
attack aims at are unchanged (checked, not assumed).

  * bind mounts of committed links that lead out of the repository (sock ->
    /var/run/docker.sock, hostroot -> /, a directory component that is such a link, a missing
    source to be created through one), an env_file and a stack file that are such links, and
    durable/docker-compose.yml itself a link to a file outside the repository;
  * links that stay inside the repository (the stack file, its env_file, a bind source) work,
    and the engine is handed the real path;
  * an ordinary job replaces $CI_PROJECT_DIR in its builds slot with a link to a host
    directory; the next deployment job of the same project and slot leaves that directory
    untouched, checks out into the driver's own directory and writes its dotenv report into a
    real directory in the slot.

App e2efs, envs e2efs (the module's one durable layer: a router only) and e2efsnl (never a
layer), ports picked free in 28000-28999. Only the app's own objects are ever removed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Callable

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import e2elib  # noqa: E402
from e2elib import git as _git  # noqa: E402
from e2elib import REPO, Job, JobResult, assert_no_leftovers, check, docker, expect_success, run_job, runner_config  # noqa: E402,E501
from world import AppWorld, build_example_images, pick_ports, shared  # noqa: E402

NEEDS_DOCKER = True

APP = "e2efs"
ENV = "e2efs"
NOLAYER = "e2efsnl"
PROJECT = "e2e/hostfs"
PROJECT_ID = 28028  # the slot of every job here: slots/e2etest/project-28028/concurrent-0
EXAMPLE = os.path.join(REPO, "templates", "example")
PORT_BASE = 28000
PORT_VARS = ("EXECUTOR_LIVE_PORT", "EXECUTOR_PREVIEW_PORT")
LINK_OUT = "is a link that leads out of the repository; links may only point inside it"

DURABLE = """services:
  router:
    image: echobase/router:local
    container_name: ${EXECUTOR_APP}-${EXECUTOR_ENV}-durable-router
    labels:
      io.executor.role: router
    ports:
      - "${EXECUTOR_LIVE_PORT}:443"
      - "${EXECUTOR_PREVIEW_PORT}:1443"
    volumes:
      - ${EXECUTOR_ROUTER_DIR}:/etc/nginx/conf.d:ro
      - ${EXECUTOR_TLS_DIR}:/etc/executor/tls:ro
    networks: [durable]
    stop_grace_period: 2s
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8081/health"]
      interval: 1s
      retries: 30
networks:
  durable:
    name: ${EXECUTOR_DURABLE_NETWORK}
"""

WEB = """services:
  web:
    image: executor-test/busybox:latest
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"]
"""

# the color's stack: the stack file, its env_file and a bind source are links that stay
# inside the repository
GOOD = WEB + """    env_file: [env-link]
    volumes:
      - ./conf-link:/conf
    healthcheck:
      test: ["CMD-SHELL", "test -f /conf/app.conf && test \\"$$APP_MODE\\" = inside"]
      interval: 1s
      retries: 30
"""


def attack_files(host: str) -> dict[str, str]:
    """Stack files of the hostile cases (attack/<name>.yml)."""
    return {
        "sock": WEB + "    volumes:\n      - ./sock:/var/run/docker.sock\n",
        "hostroot": WEB + "    volumes:\n      - ./hostroot:/host\n",
        "hostroot-etc": WEB + "    volumes:\n      - ./hostroot/etc:/host-etc:ro\n",
        "create-through-link": WEB + "    volumes:\n      - ./canary-link/made-by-deploy:/x\n",
        "envfile": WEB + "    env_file: [attack/leak.env]\n",
    }


class World(AppWorld):
    app_name, env_name = APP, ENV

    def __init__(self) -> None:
        build_example_images()
        super().__init__("e2efs-", "fs.conf", pick_ports(PORT_BASE, 1000, PORT_VARS),
                         allowed_images="executor-test/*, echobase/*", pull_policy="never")
        # what the attacks aim at, on the host, outside the repository
        self.host = os.path.join(self.tmp, "host")
        os.makedirs(self.host)
        self.secret = os.path.join(self.host, "secret.env")
        with open(self.secret, "w") as f:
            f.write("E2EFS_HOST_SECRET=e2efs-not-for-the-repository\n")
        self.canary = os.path.join(self.host, "canary")
        os.makedirs(self.canary)
        with open(os.path.join(self.canary, "marker"), "w") as f:
            f.write("the host's own file\n")
        with open(os.path.join(self.canary, "untracked.txt"), "w") as f:
            f.write("an untracked file a checkout would delete\n")
        self.canary_before = tree(self.canary)
        self.repo = os.path.join(self.tmp, "repo")
        self._make_repo()

    def _make_repo(self) -> None:
        r = self.repo
        os.makedirs(os.path.join(r, "durable"))
        os.makedirs(os.path.join(r, "config"))
        os.makedirs(os.path.join(r, "stacks"))
        os.makedirs(os.path.join(r, "attack"))
        write(os.path.join(r, "durable", "docker-compose.yml"), DURABLE)
        write(os.path.join(r, "stacks", "app.yml"), GOOD)
        write(os.path.join(r, "config", "app.conf"), "inside the repository\n")
        write(os.path.join(r, "config", "app.env"), "APP_MODE=inside\n")
        os.symlink("stacks/app.yml", os.path.join(r, "docker-compose.yml"))
        os.symlink("config/app.env", os.path.join(r, "env-link"))
        os.symlink("config", os.path.join(r, "conf-link"))
        # the hostile links
        os.symlink("/var/run/docker.sock", os.path.join(r, "sock"))
        os.symlink("/", os.path.join(r, "hostroot"))
        os.symlink(self.canary, os.path.join(r, "canary-link"))
        os.symlink(self.secret, os.path.join(r, "attack", "leak.env"))
        os.symlink("../../../../../../../../../../etc/hostname", os.path.join(r, "attack", "outside.yml"))
        for name, text in attack_files(self.host).items():
            write(os.path.join(r, "attack", f"{name}.yml"), text)
        _git(r, "init", "-q")
        _git(r, "add", "-A")
        _git(r, "commit", "-q", "-m", "a repository with links in and out")
        self.sha = _git(r, "rev-parse", "HEAD")
        # a branch whose durable stack file is itself a link to a file outside the repository
        outside = os.path.join(self.host, "durable-outside.yml")
        write(outside, DURABLE)
        _git(r, "checkout", "-q", "-b", "hostile-durable")
        os.remove(os.path.join(r, "durable", "docker-compose.yml"))
        os.symlink(outside, os.path.join(r, "durable", "docker-compose.yml"))
        _git(r, "add", "-A")
        _git(r, "commit", "-q", "-m", "durable stack file linked out")
        self.hostile_sha = _git(r, "rev-parse", "HEAD")
        _git(r, "checkout", "-q", "main")

    def job(self, name: str, *, stage: str = "deploy", variables: dict[str, str] | None = None,
            hostile: bool = False, **kw) -> Job:
        ref = "hostile-durable" if hostile else "main"
        v = {"EXECUTOR_APP": APP, "EXECUTOR_ENV": ENV, **self.ports, **(variables or {})}
        kw.setdefault("image", None)
        return Job(["echo 'carried out by the executor driver'"], name=name, stage=stage,
                   git_strategy="fetch", repo_url=self.repo, sha=self.hostile_sha if hostile else self.sha,
                   ref=ref, refspecs=[f"+refs/heads/{ref}:refs/remotes/origin/{ref}"], project=PROJECT,
                   project_id=PROJECT_ID, variables=v, **kw)

    def runner(self):
        return runner_config(extra_env={"EXECUTOR_CONFIG": self.config, "NO_COLOR": "1"})

    def run(self, job: Job) -> JobResult:
        res = run_job(job, self.runner())
        assert_no_leftovers(job, wait=0)
        return res

    def ensure_layer(self) -> None:
        if self.layer_up:
            return
        res = self.run(self.job(f"durable:setup-{ENV}", stage="durable"))
        expect_success(res)
        self.layer_up = True

    def local(self, *args: str, cwd: str | None = None) -> subprocess.CompletedProcess:
        return super().local(*args, cwd=cwd or self.repo)


def write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def tree(d: str) -> dict[str, bytes]:
    """Every entry below d (not following links) with its content: what must not change."""
    out = {}
    for dirpath, dirs, files in os.walk(d):
        for n in dirs + files:
            p = os.path.join(dirpath, n)
            rel = os.path.relpath(p, d)
            if os.path.islink(p):
                out[rel] = b"<link to " + os.readlink(p).encode() + b">"
            elif os.path.isdir(p):
                out[rel] = b"<dir>"
            else:
                with open(p, "rb") as f:
                    out[rel] = f.read()
    return out


def app_objects() -> set[str]:
    return {f"{kind[:-1]} {n}" for kind, names in e2elib.app_objects(APP).items() for n in names}


world: Callable[[], World] = shared("test_hostfs", APP, World, AppWorld.teardown)  # type: ignore[assignment]


def refused(w: World, res: JobResult, message: str, before: set[str]) -> list[str]:
    """The job failed as a build failure with the message on one line, and created nothing."""
    problems = []
    line = f"ERROR: {message}"
    lines = [ln for ln in res.text.splitlines() if message in ln]
    if not lines:
        problems.append(f"message {message!r} missing; the log ends: {res.text.strip()[-1500:]!r}")
    elif not any(ln.strip().endswith(line) or ln.strip() == line or line in ln for ln in lines):
        problems.append(f"{message!r} is not an ERROR line: {lines}")
    if res.failure != "build" or res.exit_code != 1:
        problems.append(f"a build failure (exit 1) expected, got failure={res.failure} exit={res.exit_code}: "
                        f"{res.final_line!r}")
    new = app_objects() - before
    if new:
        problems.append(f"created {sorted(new)}")
    if tree(w.canary) != w.canary_before:
        problems.append(f"the host directory changed: {sorted(tree(w.canary))}")
    if "e2efs-not-for-the-repository" in res.text:
        problems.append("the host file's content reached the job log")
    return problems


# ------------------------------------------------------------------ tests


def test_setup_the_durable_layer_from_a_repository_with_links():
    w = world()
    w.ensure_layer()
    check(f"container {APP}-{ENV}-durable-router" in app_objects(), f"the router runs: {sorted(app_objects())}")


def test_stack_files_env_files_and_bind_mounts_that_link_out_are_refused():
    """Seven hostile deployment jobs: each refused with its line, exit 1, nothing created."""
    w = world()
    w.ensure_layer()
    cases = [
        ("sock", "attack/sock.yml:2: service web bind-mounts sock: sock " + LINK_OUT),
        ("hostroot", "attack/hostroot.yml:2: service web bind-mounts hostroot: hostroot " + LINK_OUT),
        ("hostroot-etc", "attack/hostroot-etc.yml:2: service web bind-mounts hostroot/etc: hostroot " + LINK_OUT),
        ("create-through-link", "attack/create-through-link.yml:2: service web bind-mounts "
         "canary-link/made-by-deploy: canary-link " + LINK_OUT),
        ("envfile", "attack/envfile.yml:5: services.web.env_file[0]: attack/leak.env " + LINK_OUT),
        ("outside", "attack/outside.yml " + LINK_OUT),
    ]
    problems = []
    for name, message in cases:
        before = app_objects()
        res = w.run(w.job("deploy:green", variables={"EXECUTOR_COMPOSE_FILES": f"attack/{name}.yml"}))
        problems += [f"{name}: {p}" for p in refused(w, res, message, before)]
    # the durable layer's own stack file, a link to a file outside the repository
    before = app_objects()
    res = w.run(w.job(f"durable:setup-{NOLAYER}", stage="durable", hostile=True,
                      variables={"EXECUTOR_ENV": NOLAYER}))
    problems += [f"durable link: {p}" for p in
                 refused(w, res, "durable/docker-compose.yml " + LINK_OUT, before)]
    check(not problems, f"{len(problems)} problems in {len(cases) + 1} attacks:\n" + "\n".join(problems))


def test_a_planted_project_dir_link_is_not_followed_and_links_inside_the_repository_work():
    """An ordinary job replaces $CI_PROJECT_DIR in its slot with a link to a host directory;
    the next deployment job of the same project and slot leaves that directory as it was,
    deploys from its own checkout (whose stack file, env_file and bind source are links
    inside the repository) and writes deploy.env into a real directory in the slot."""
    w = world()
    w.ensure_layer()
    plant = Job([f'rm -rf "$CI_PROJECT_DIR" && ln -s {w.canary} "$CI_PROJECT_DIR" && echo PLANTED'],
                name="build:plant", stage="build", image=e2elib.JOB_IMAGE, project=PROJECT, project_id=PROJECT_ID,
                repo_url=w.repo, git_strategy="none", variables={"EXECUTOR_APP": APP})
    pres = w.run(plant)
    check("PLANTED" in pres.text, "the ordinary job ran its script", pres)
    slot = os.path.join(w.state, "slots", e2elib.RUNNER_SHORT, f"project-{PROJECT_ID}", "concurrent-0")
    name = os.path.basename(pres.project_dir)
    check(os.path.islink(os.path.join(slot, name)),
          f"the job left a link at $CI_PROJECT_DIR in its slot: {os.listdir(slot)}", pres)

    res = w.run(w.job("deploy:green"))
    expect_success(res)
    check(tree(w.canary) == w.canary_before,
          f"the host directory the link pointed at is untouched: {sorted(tree(w.canary))}", res)
    check("$CI_PROJECT_DIR in the builds slot is a symbolic link, left by an earlier job: replaced by a new "
          "directory for the dotenv report" in res.text, "the job log says the link was replaced", res)
    dest = os.path.join(slot, name)
    check(os.path.isdir(dest) and not os.path.islink(dest), f"{dest} is a real directory now", res)
    with open(os.path.join(dest, "deploy.env")) as f:
        report = dict(ln.split("=", 1) for ln in f.read().splitlines() if "=" in ln)
    check(report.get("DEPLOYED_COMMIT") == w.sha and report.get("DEPLOYED_COLOR") == "green",
          f"deploy.env in the slot names the commit and color: {report}", res)
    checkout = os.path.join(w.state, "checkouts", e2elib.RUNNER_SHORT, f"project-{PROJECT_ID}", "concurrent-0",
                            "work", name)
    check(os.path.isfile(os.path.join(checkout, "config", "app.conf")) and not os.path.islink(checkout),
          f"the deployment job checked out into the driver's own directory {checkout}", res)
    mode = os.stat(os.path.dirname(os.path.dirname(checkout))).st_mode & 0o777
    check(mode == 0o700, f"the checkout's parent is private: {mode:o}")

    # the links inside the repository were followed, and the engine got real paths
    info = json.loads(docker("inspect", f"{APP}-green-web-1").stdout)[0]
    mounts = [(m["Source"], m["Destination"], m["RW"]) for m in info["Mounts"] if m["Type"] == "bind"]
    want = os.path.join(os.path.realpath(checkout), "config")
    check(mounts == [(want, "/conf", False)],
          f"./conf-link is mounted from its real path, read-only: {mounts} (want {want})", res)
    check("APP_MODE=inside" in info["Config"]["Env"], f"env-link was read: {info['Config']['Env']}", res)
    check("service web bind-mounts conf-link from the repository: mounted read-only" in res.text,
          "the read-write mount from the checkout is made read-only, with a warning", res)

    # a deployment job that names an image: its container mounts the slot, and its own
    # stages (after_script here, the artifact upload in GitLab) find the report there
    res = w.run(w.job("deploy:green", image=e2elib.JOB_IMAGE,
                      after_script=['echo "REPORT $(grep DEPLOYED_COMMIT "$CI_PROJECT_DIR/deploy.env")"']))
    expect_success(res)
    check(f"REPORT DEPLOYED_COMMIT={w.sha}" in res.text,
          "the job's container reads deploy.env at $CI_PROJECT_DIR", res)
    check(tree(w.canary) == w.canary_before, "the host directory is still untouched", res)


def test_teardown():
    w = world()
    p = w.local("cleanup", "green", "--env", ENV, "--force")
    check(p.returncode == 0, f"cleanup green: {p.stderr[-1500:]}")
    p = w.local("durable", "teardown", ENV, "--volumes")
    check(p.returncode == 0, f"durable teardown: {p.stderr[-1500:]}")
    w.layer_up = False
    left = app_objects()
    check(not left, f"nothing of app {APP} is left: {sorted(left)}")
    check(tree(w.canary) == w.canary_before, "the host directory is untouched at the end")
