"""The runner's own stages in a helper container, and sh-only images (issue 14 item 1).

Jobs run through harness.py, which generates get_sources, restore_cache, download_artifacts,
archive_cache and upload_artifacts exactly as gitlab-runner 19.4 does, against real parts:

  * a git server over HTTP (git's own `git http-backend` behind fake_gitlab.py, on the host's
    address on Docker's default bridge; it asks for the job token like GitLab does);
  * GitLab's artifacts API (fake_gitlab.py: POST and GET /api/v4/jobs/:id/artifacts with
    JOB-TOKEN), which keeps what it receives so the tests open the archives;
  * the driver's helper: executor-test/helper (git, CA certificates, busybox sh) with the
    gitlab-runner stand-in (tests/fixtures/gitlab-runner-standin.c, static) as runner_binary.

Job images are executor-test/busybox: no bash, no git, no gitlab-runner. A deployment job of
app e2ehelp (env e2ehelp: a router-only durable layer, ports picked free in 29600-29699)
uploads its dotenv report. Project ids 29029-29031, the fake GitLab's ports 29500-29599.
Only this module's objects are removed (app e2ehelp, and what run.py's leftover check finds
with the runner's label); every job ends checking that nothing of it is left.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
import zipfile
from typing import Callable

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import e2elib  # noqa: E402
from e2elib import git as _git  # noqa: E402
from e2elib import (BUSYBOX, REPO, Job, JobResult, assert_no_leftovers, check, docker,  # noqa: E402
                    expect_failure, expect_success, helper_conf, roles_of, run_job, runner_config, start_job,
                    state_dir, write_admin_config)
from fake_gitlab import FakeGitLab  # noqa: E402
from world import AppWorld, pick_ports, shared  # noqa: E402

NEEDS_DOCKER = True

APP = "e2ehelp"
ENV = "e2ehelp"
PROJECT = "e2e/helper"
PROJECT_ID = 29029
DEPLOY_PROJECT_ID = 29031
PORT_BASE = 29600
PORT_VARS = ("EXECUTOR_LIVE_PORT", "EXECUTOR_PREVIEW_PORT")
EXAMPLE = os.path.join(REPO, "templates", "example")
MESSAGE = "hello from the repository, over HTTP"

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

class World(AppWorld):
    """The module's git server, artifacts API, admin file and repositories."""

    app_name, env_name = APP, ENV

    def __init__(self) -> None:
        super().__init__("e2ehelp-", "helper.conf", allowed_images="executor-test/*, echobase/*",
                         pull_policy="never", **helper_conf())
        self.repos = os.path.join(self.tmp, "repos")
        self.sha = self._make_repo()
        self.gl = FakeGitLab(self.repos).__enter__()

    def _make_repo(self) -> str:
        work = os.path.join(self.tmp, "work")
        os.makedirs(os.path.join(work, "src"))
        with open(os.path.join(work, "src", "message.txt"), "w") as f:
            f.write(MESSAGE + "\n")
        _git(work, "init", "-q")
        _git(work, "add", "-A")
        _git(work, "commit", "-q", "-m", "a repository fetched over HTTP by the helper")
        sha = _git(work, "rev-parse", "HEAD")
        bare = os.path.join(self.repos, PROJECT + ".git")
        os.makedirs(os.path.dirname(bare))
        _git(self.tmp, "clone", "-q", "--bare", work, bare)
        return sha

    def job(self, script: list[str], **kw) -> Job:
        """A container job on busybox (no bash, no git, no gitlab-runner) that clones the
        repository over HTTP from the fake GitLab, known to it by its token."""
        kw.setdefault("image", BUSYBOX)
        kw.setdefault("git_strategy", "clone")
        kw.setdefault("project_id", PROJECT_ID)
        job = Job(script, project=PROJECT, sha=self.sha, ref="main",
                  refspecs=["+refs/heads/main:refs/remotes/origin/main"], **kw)
        self.gl.add_job(job)
        job.repo_url = self.gl.repo_url(job, PROJECT)
        return job

    def runner(self, config: str | None = None):
        return runner_config(url=self.gl.url, extra_env={"EXECUTOR_CONFIG": config or self.config})

    def run(self, job: Job, config: str | None = None) -> JobResult:
        res = run_job(job, self.runner(config))
        assert_no_leftovers(job)
        return res

    # ---- the deployment's env

    def pick_ports(self) -> dict[str, str]:
        if not self.ports:
            self.ports = pick_ports(PORT_BASE, 100, PORT_VARS)
        return self.ports

    def deploy_repo(self) -> tuple[str, str]:
        r = os.path.join(self.tmp, "deploy-repo")
        if not os.path.isdir(r):
            os.makedirs(os.path.join(r, "durable"))
            with open(os.path.join(r, "durable", "docker-compose.yml"), "w") as f:
                f.write(DURABLE)
            with open(os.path.join(r, "docker-compose.yml"), "w") as f:
                f.write(WEB)
            _git(r, "init", "-q")
            _git(r, "add", "-A")
            _git(r, "commit", "-q", "-m", "a router-only durable layer and one service")
        return r, _git(r, "rev-parse", "HEAD")

    def deploy_job(self, name: str, stage: str, **kw) -> Job:
        repo, sha = self.deploy_repo()
        kw.setdefault("image", None)
        job = Job(["echo 'carried out by the executor driver'"], name=name, stage=stage, git_strategy="fetch",
                  repo_url=repo, sha=sha, refspecs=["+refs/heads/main:refs/remotes/origin/main"],
                  project="e2e/helper-deploy", project_id=DEPLOY_PROJECT_ID,
                  variables={"EXECUTOR_APP": APP, "EXECUTOR_ENV": ENV, **self.pick_ports()}, **kw)
        self.gl.add_job(job)
        return job

    def local(self, *args: str, cwd: str | None = None) -> subprocess.CompletedProcess:
        self.pick_ports()
        return super().local(*args, cwd=cwd)


def _at_exit(w: World) -> None:
    w.gl.stop()
    w.teardown()


world: Callable[[], World] = shared("test_helper", APP, World, _at_exit)  # type: ignore[assignment]


def lines(res: JobResult) -> list[str]:
    return [ln.strip() for ln in res.text.splitlines()]


# ------------------------------------------------------------------ tests


def test_a_busybox_only_job_runs_its_scripts_and_its_helper_has_the_jobs_bounds():
    """prepare_script, the script and after_script run in a busybox image (no bash: sh is
    detected); the runner's stages run in the helper, which has the job's limits, no new
    privileges, no socket, the job's network and only the slot, the cache and the runner."""
    w = world()
    job = w.job(["echo \"shell=$0 bash=${BASH_VERSION:-none}\"", "readlink /bin/sh",
                 "if command -v git; then echo HAS-GIT; else echo NO-GIT; fi",
                 "echo INSPECT-NOW", "sleep 3"],
                after_script=["echo \"after-script ran in $0 status=$CI_JOB_STATUS\""], git_strategy="none")
    rj = start_job(job, w.runner())
    check(rj.control.wait_for_log("INSPECT-NOW", 180), "the job's script ran")
    roles = roles_of(job.id)
    infos = {r: json.loads(docker("inspect", roles[r][0]).stdout)[0] for r in ("job", "helper") if roles.get(r)}
    res = rj.wait(300)
    expect_success(res)
    ls = lines(res)
    check("shell=/bin/sh bash=none" in ls and "/bin/busybox" in ls and "NO-GIT" in ls,
          "the script ran in sh, in busybox, without git", res)
    check("after-script ran in /bin/sh status=success" in ls, "after_script ran in sh", res)
    check(res.stages == ["prepare_script", "get_sources", "build_script", "after_script", "cleanup_file_variables"],
          f"stages {res.stages}", res)
    check(sorted(infos) == ["helper", "job"], f"a job container and a helper while it ran: {roles}", res)
    h, j = infos["helper"], infos["job"]
    hc, jc = h["HostConfig"], j["HostConfig"]
    check(h["Config"]["Image"] == e2elib.HELPER, f"the helper's image is helper_image: {h['Config']['Image']}", res)
    check(hc["NetworkMode"] == f"container:{j['Name'].lstrip('/')}" or hc["NetworkMode"] == f"container:{j['Id']}",
          f"the helper shares the job container's network: {hc['NetworkMode']}", res)
    check(hc.get("Privileged") is False and "no-new-privileges" in (hc.get("SecurityOpt") or []),
          f"not privileged, no new privileges: {hc.get('Privileged')} {hc.get('SecurityOpt')}", res)
    for k in ("Memory", "MemorySwap", "PidsLimit", "NanoCpus"):
        check(hc.get(k) == jc.get(k), f"the helper's {k} is the job container's: {hc.get(k)} / {jc.get(k)}", res)
    check(hc.get("Memory") and hc.get("PidsLimit"), f"bounded memory and processes: {hc}", res)
    binds = sorted(hc.get("Binds") or [])
    slot = next(b for b in jc["Binds"])
    runner_bind = f"{helper_conf()['runner_binary']}:/usr/bin/gitlab-runner:ro"
    cache_bind = f"{w.state}/caches/{e2elib.RUNNER_SHORT}/project-{PROJECT_ID}:{w.state}/cache"
    check(binds == sorted([slot, runner_bind, cache_bind]),
          f"the helper mounts the job's slot, the project's cache and the runner read-only, nothing else: {binds}",
          res)
    check(not any("docker.sock" in b for b in binds), "no Docker socket in the helper", res)
    check(not [e for e in h["Config"].get("Env") or [] if not e.startswith("PATH=")],
          f"the helper's environment carries nothing of the job: {h['Config'].get('Env')}", res)
    labels = h["Config"]["Labels"]
    check(labels.get("io.executor.role") == "helper" and labels.get("io.executor.job") == str(job.id),
          f"the helper carries the job's labels (cleanup finds it): {labels}", res)
    check("runs the runner's stages" in res.text, "the job log says which helper runs the runner's stages", res)


def test_a_job_without_git_clones_over_http_builds_uploads_and_a_later_job_downloads():
    """busybox has neither git nor gitlab-runner: the helper clones the repository over HTTP
    (the job token in the URL), the script builds a file from it, the helper uploads it as a
    zip to the artifacts API, and a later job gets it through its dependencies."""
    w = world()
    build = w.job(["if command -v git || command -v gitlab-runner; then echo TOOLS-IN-IMAGE; fi",
                   "mkdir -p out && cat src/message.txt > out/built.txt",
                   'echo "built at $CI_COMMIT_SHA" >> out/built.txt'],
                  name="build:file", stage="build", artifacts=[{"paths": ["out/"], "expire_in": "1 week"}])
    res = w.run(build)
    expect_success(res)
    check("TOOLS-IN-IMAGE" not in lines(res), "the job image has neither git nor gitlab-runner", res)
    check("Fetching changes with git depth set to 20..." in res.text and
          f"Checking out {w.sha[:8]} as detached HEAD (ref is main)..." in res.text,
          "the helper cloned the repository", res)
    git_calls = [r for r in w.gl.requests if ".git/" in r.path]
    check(any(r.status == 401 for r in git_calls) and any(r.status == 200 and r.token == build.token
                                                           for r in git_calls),
          f"the git server asked for credentials and got the job token: {[(r.path, r.status) for r in git_calls]}",
          res)
    check("Uploading artifacts..." in res.text and "201 Created" in res.text, "the upload stage ran", res)
    ups = w.gl.uploads.get(build.id) or []
    check(len(ups) == 1, f"the artifacts API received one upload: {ups}", res)
    up = ups[0]
    check(up.filename == "artifacts.zip" and up.query == {"artifact_format": "zip", "artifact_type": "archive",
                                                          "expire_in": "1 week"},
          f"as the runner's uploader sends it: {up.filename} {up.query}", res)
    z = zipfile.ZipFile(io.BytesIO(up.data))
    check(z.testzip() is None and "out/built.txt" in z.namelist(), f"a zip with out/built.txt: {z.namelist()}", res)
    want = f"{MESSAGE}\nbuilt at {w.sha}\n"
    check(z.read("out/built.txt").decode() == want, f"the built file: {z.read('out/built.txt')!r}", res)

    # the next job: a fresh clone (the project dir is emptied), then the dependency's artifacts
    test = w.job(["cat out/built.txt", "echo SIZE=$(wc -c < out/built.txt)"], name="test:file", stage="test",
                 dependencies=[build])
    res2 = w.run(test)
    expect_success(res2)
    check(f"Downloading artifacts for build:file ({build.id})..." in res2.text, "download_artifacts ran", res2)
    ls = lines(res2)
    check(MESSAGE in ls and f"built at {w.sha}" in ls and f"SIZE={len(want)}" in ls,
          "the later job has the built file", res2)
    gets = [r for r in w.gl.requests if r.method == "GET" and f"/jobs/{build.id}/artifacts" in r.path]
    check(gets and gets[-1].status == 200 and gets[-1].token == build.token,
          f"downloaded with the dependency's token: {gets}", res2)


def test_a_cache_saved_by_one_job_is_restored_by_the_next():
    w = world()
    key = f"deps-{uuid.uuid4().hex[:8]}"
    cache = [{"key": key, "paths": ["vendor/"]}]
    first = w.job(["if [ -e vendor/lib.txt ]; then echo CACHE-WAS-THERE; fi",
                   'mkdir -p vendor && echo "made by job $CI_JOB_ID" > vendor/lib.txt'], cache=cache)
    res = w.run(first)
    expect_success(res)
    check("CACHE-WAS-THERE" not in lines(res), "the first job starts without the cache", res)
    check(f"Checking cache for {key}..." in res.text, "restore_cache ran (nothing to restore yet)", res)
    check(f"Creating cache {key}..." in res.text and "Created cache" in res.text, "archive_cache saved it", res)
    archive = os.path.join(w.state, "caches", e2elib.RUNNER_SHORT, f"project-{PROJECT_ID}", PROJECT, key,
                           "cache.zip")
    check(os.path.isfile(archive), f"the cache archive is in the project's cache directory: {archive}", res)
    check("vendor/lib.txt" in zipfile.ZipFile(archive).namelist(), "with vendor/lib.txt", res)

    second = w.job(["cat vendor/lib.txt"], cache=cache)
    res2 = w.run(second)
    expect_success(res2)
    check("Successfully extracted cache" in res2.text, "restore_cache extracted it", res2)
    check(f"made by job {first.id}" in lines(res2), "the second job has the first job's file", res2)


def test_without_a_runner_binary_the_stages_say_so_and_the_job_passes_as_in_gitlab():
    """No runner_binary and no gitlab-runner on PATH: the helper has none, the runner's own
    guard prints its line and the job passes, as GitLab's runner does; the driver says why."""
    w = world()
    conf = helper_conf()
    cfg = write_admin_config(os.path.join(w.tmp, "norunner.conf"), w.state, allowed_images="executor-test/*",
                             helper_image=conf["helper_image"])
    job = w.job(["mkdir -p out && echo x > out/x"], artifacts=[{"paths": ["out/"]}], git_strategy="none")
    res = run_job(job, runner_config(url=w.gl.url, extra_env={"EXECUTOR_CONFIG": cfg,
                                                              "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}))
    assert_no_leftovers(job)
    expect_success(res)
    check("Missing gitlab-runner. Uploading artifacts is disabled." in res.text, "the runner's guard line", res)
    check("No gitlab-runner on this host's PATH and no runner_binary" in res.text, "the driver's warning", res)
    check(job.id not in w.gl.uploads, "nothing was uploaded", res)


def test_a_missing_helper_image_is_a_system_failure_naming_it():
    w = world()
    cfg = write_admin_config(os.path.join(w.tmp, "nohelper.conf"), w.state, allowed_images="executor-test/*",
                             pull_policy="never", helper_image="executor-test/no-such-helper:1",
                             runner_binary=helper_conf()["runner_binary"])
    job = w.job(["echo never-printed"], git_strategy="none")
    res = w.run(job, cfg)
    expect_failure(res, "system")
    check("create the helper container (helper_image executor-test/no-such-helper:1): image "
          "executor-test/no-such-helper:1 is not present and pull_policy is never" in res.text,
          "one line naming helper_image and the fix", res)
    check("never-printed" not in lines(res), "the script did not run", res)


ODD_SHELL = "executor-test/e2ehelp-oddshell:latest"


def _odd_shell_image() -> None:
    """An image whose only shell is /opt/bin/sh (busybox): `sh` is on its PATH, so its idle
    container starts, but none of the paths the runner's shell detection knows has a shell.
    Made once, like the fixture images, and kept (labelled io.executor.fixture=true)."""
    if docker("image", "inspect", ODD_SHELL, check=False).returncode == 0:
        return
    d = tempfile.mkdtemp(prefix="e2ehelp-odd-", dir=state_dir())
    try:
        os.makedirs(os.path.join(d, "opt", "bin"))
        shutil.copy2("/bin/busybox", os.path.join(d, "opt", "bin", "busybox"))
        for app in ("sh", "echo", "sleep", "cat"):
            os.symlink("busybox", os.path.join(d, "opt", "bin", app))
        for sub in ("tmp", "proc", "sys", "dev", "etc"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        tar = os.path.join(state_dir(), "e2ehelp-oddshell.tar")
        subprocess.run(["tar", "-C", d, "--numeric-owner", "-cf", tar, "."], check=True)
        docker("import", "--change", "ENV PATH=/opt/bin", "--change", 'CMD ["sh"]', "--change",
               "LABEL io.executor.fixture=true", tar, ODD_SHELL, timeout=120)
        os.unlink(tar)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_an_image_without_a_shell_the_detection_knows_is_one_line_and_a_build_failure():
    w = world()
    _odd_shell_image()
    job = w.job(["echo never-printed"], image=ODD_SHELL, git_strategy="none")
    res = w.run(job)
    expect_failure(res, "build")
    check(f"the job image {ODD_SHELL} has no shell: the runner's scripts need sh on its PATH, and bash or sh in "
          "/usr/local/bin, /usr/bin, /bin or /busybox; use an image that has one" in res.text,
          "one line naming the image and what it needs", res)
    check(res.stages == ["prepare_script"], f"prepare_script failed, nothing else ran: {res.stages}", res)


def test_a_deploy_jobs_dotenv_report_is_uploaded_from_a_helper():
    """A deployment job without image: the driver deploys, writes deploy.env into the job's
    $CI_PROJECT_DIR, and the runner's upload stage (artifacts:reports:dotenv) runs in a helper
    on the job's network, so the artifacts API receives deploy.env with the environment URL."""
    w = world()
    p = subprocess.run(["bash", os.path.join(EXAMPLE, "images", "build.sh"), "--quiet"],
                       capture_output=True, text=True, timeout=900)
    check(p.returncode == 0, f"templates/example/images/build.sh failed: {p.stderr.strip()[-2000:]}")
    setup = w.deploy_job(f"durable:setup-{ENV}", "durable")
    res = w.run(setup)
    expect_success(res)
    w.layer_up = True
    job = w.deploy_job("deploy:green", "deploy", dotenv="deploy.env")
    res = w.run(job)
    expect_success(res)
    check("upload_artifacts_on_success" in res.stages, f"the upload stage ran: {res.stages}", res)
    ups = w.gl.uploads.get(job.id) or []
    check(len(ups) == 1, f"one upload: {ups}", res)
    up = ups[0]
    check(up.filename == ".env.gz" and up.query.get("artifact_type") == "dotenv" and
          up.query.get("artifact_format") == "gzip", f"a dotenv report as GitLab asks for it: {up.filename} "
          f"{up.query}", res)
    report = dict(ln.split("=", 1) for ln in gzip.decompress(up.data).decode().splitlines() if "=" in ln)
    url = report.get("ENVIRONMENT_URL", "")
    check(url.startswith("https://") and w.pick_ports()["EXECUTOR_PREVIEW_PORT"] in url,
          f"deploy.env carries the environment URL (the preview entry): {report}", res)
    check(report.get("DEPLOYED_COLOR") == "green", f"and the color: {report}", res)


def test_teardown():
    w = world()
    if w.layer_up:
        p = w.local("cleanup", "green", "--env", ENV, "--force")
        check(p.returncode == 0, f"cleanup green: {p.stderr[-1500:]}")
        p = w.local("durable", "teardown", ENV, "--volumes")
        check(p.returncode == 0, f"durable teardown: {p.stderr[-1500:]}")
        w.layer_up = False
    left = {k: v for k, v in e2elib.app_objects(APP).items() if v}
    check(not left, f"nothing of app {APP} is left: {left}")
    left = e2elib.labelled()
    check(not [c for c in left["containers"] if c.endswith("-helper")], f"no helper container is left: {left}")
