#!/usr/bin/env python3
"""`make demo`: the example repository's pipeline through build/executor.

templates/example (the seed's "echobase" layout) is copied into a temporary git
repository, its images are built locally (templates/example/images/build.sh), and its
pipeline runs job after job through harness.py, exactly as gitlab-runner drives the
driver (config, prepare, run per stage, cleanup):

  validate:stack    container job (echobase/ci-tools:local): tests/validate.sh
  build:image-sources  container job: packages images/ as an artifact (uploaded by the
                    driver's helper container to GitLab's artifacts API)
  durable:setup-ci  the driver sets up env ci's durable layer (MariaDB, nginx router)
  deploy:green      the driver deploys green; the router's preview entry serves it; its
                    dotenv report deploy.env is uploaded (artifacts:reports:dotenv)
  test:e2e          container job on green's network: downloads build:image-sources'
                    artifact and checks it, then tests/e2e.sh, TLS verified
  promote:green     the driver switches the live entry to green
  deploy:blue       ... blue, into the preview entry
  promote:blue      live -> blue
  rollback:to-green live -> green again

Every job fetches the repository from a `git daemon` the demo runs on the Docker
bridge's host address for its duration (deployment jobs with the driver's libgit2 on
the host, container jobs with git in the driver's helper container), as GitLab's
CI_REPOSITORY_URL would be fetched. Artifacts go to a small stand-in for GitLab's
artifacts API on the same address (tests/e2e/fake_gitlab.py), through the helper
(executor-test/helper, built by tests/fixtures/build-images.sh) and the gitlab-runner
stand-in the tests use (tests/fixtures/gitlab-runner-standin.c) as runner_binary. Then it prints what each job did, the URLs of the live and preview
entries, and how to remove the stack, which it leaves running.

Env ci uses the seed's ports (database 3307, router 443 live / 1443 preview, blue
3001/3443/3000/4566/4571, green 3101/3543/3100/4666/4671) when all are free, else the
same ports + 10000, and says which. The driver's state (TLS material, secrets, router
configuration) stays in $EXECUTOR_DEMO_DIR (default /var/tmp/executor-demo), so a second
run finds the durable layer running; if green is live from an earlier run, blue is
deployed and promoted first so that deploy:green never replaces the live color.

    EXECUTOR_BIN=build/executor python3 tests/e2e/demo.py [-v]      # run the pipeline
    EXECUTOR_BIN=build/executor python3 tests/e2e/demo.py --remove  # remove the stack
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import e2elib  # noqa: E402
from fake_gitlab import FakeGitLab  # noqa: E402
from harness import Job, JobResult, RunnerConfig, run_job  # noqa: E402

RUNNER = "e2edemo"
APP = "echobase"
ENV = "ci"
IMAGE = "echobase/ci-tools:local"
PROJECT = "demo/echobase"
EXAMPLE = os.path.join(e2elib.REPO, "templates", "example")
DEMO_DIR = os.environ.get("EXECUTOR_DEMO_DIR", "/var/tmp/executor-demo")
# the seed's port table (env ci); moved ports are these + PORT_SHIFT
SEED_PORTS = {"EXECUTOR_DB_PORT": 3307, "EXECUTOR_LIVE_PORT": 443, "EXECUTOR_PREVIEW_PORT": 1443,
              "GREEN_API_PORT": 3101, "GREEN_FRONTEND_HTTPS_PORT": 3543, "GREEN_FRONTEND_HTTP_PORT": 3100,
              "GREEN_LOCALSTACK_PORT": 4666, "GREEN_LOCALSTACK_ALT_PORT": 4671,
              "BLUE_API_PORT": 3001, "BLUE_FRONTEND_HTTPS_PORT": 3443, "BLUE_FRONTEND_HTTP_PORT": 3000,
              "BLUE_LOCALSTACK_PORT": 4566, "BLUE_LOCALSTACK_ALT_PORT": 4571}
PORT_SHIFT = 10000
TTY = sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def col(code: str, s: str) -> str:
    return f"\033[{code}m{s}\033[0m" if TTY else s


def paths() -> dict[str, str]:
    state = os.path.join(DEMO_DIR, "state")
    env_dir = os.path.join(state, "apps", APP, "envs", ENV)
    return {"config": os.path.join(DEMO_DIR, "executor.conf"), "state": state, "env_dir": env_dir,
            "ports": os.path.join(DEMO_DIR, "ports.json"), "ca": os.path.join(env_dir, "tls", "ca.pem")}


def load_json(path: str) -> dict:
    try:
        with open(path) as f:
            return json.load(f)
    except (FileNotFoundError, ValueError):
        return {}


def git(cwd: str, *args: str) -> str:
    p = subprocess.run(["git", "-c", "user.name=executor demo", "-c", "user.email=demo@example.com",
                        "-c", "init.defaultBranch=main", *args], cwd=cwd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)}: {p.stderr.strip()}")
    return p.stdout.strip()




def demo_stack_running() -> bool:
    """Our env ci's router container exists (labelled by the driver for app echobase)."""
    p = e2elib.docker("ps", "-a", "-q", "--filter", f"label=io.executor.app={APP}", "--filter",
                      f"label=io.executor.env={ENV}", "--filter", "label=io.executor.layer=durable", check=False)
    return bool(p.stdout.split()) and bool(load_json(os.path.join(paths()["env_dir"], "state.json")).get("router"))


def choose_ports() -> tuple[dict[str, int], str]:
    """The ports of env ci and a sentence saying why."""
    saved = load_json(paths()["ports"]).get("ports")
    if saved and demo_stack_running():
        seed = saved == SEED_PORTS
        return saved, ("the seed's ports" if seed else "moved ports") + ", as the demo stack already running uses"
    busy = [p for p in SEED_PORTS.values() if not e2elib.port_free(p)]
    if not busy:
        return dict(SEED_PORTS), "the seed's ports (all free)"
    ports: dict[str, int] = {}
    for k, seed_port in SEED_PORTS.items():
        p = seed_port + PORT_SHIFT
        while not e2elib.port_free(p) or p in ports.values():
            p += 1
        ports[k] = p
    return ports, f"moved ports (seed port + {PORT_SHIFT}): {', '.join(map(str, busy))} in use on this machine"


def bridge_host_address() -> str:
    """The host's address on Docker's default bridge: containers on any bridge network
    reach it, and so does the host itself."""
    info = json.loads(e2elib.docker("network", "inspect", "bridge").stdout)[0]
    for c in (info.get("IPAM") or {}).get("Config") or []:
        if c.get("Gateway"):
            return c["Gateway"]
        if c.get("Subnet") and ":" not in c["Subnet"]:
            return str(next(ipaddress.ip_network(c["Subnet"], strict=False).hosts()))
    raise RuntimeError("cannot find the Docker bridge's address (docker network inspect bridge)")


def free_port(host: str, start: int = 29418) -> int:
    for p in range(start, start + 200):
        s = socket.socket()
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as git daemon --reuseaddr
            s.bind((host, p))
            return p
        except OSError:
            continue
        finally:
            s.close()
    raise RuntimeError(f"no free port on {host} for git daemon")


class GitDaemon:
    """`git daemon` serving base/<name> read-only on the bridge address, for the demo's lifetime."""

    def __init__(self, base: str):
        self.host = bridge_host_address()
        self.port = free_port(self.host)
        self.proc = subprocess.Popen(["git", "daemon", "--reuseaddr", f"--listen={self.host}", f"--port={self.port}",
                                      f"--base-path={base}", "--export-all", "--informative-errors", base],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     start_new_session=True)
        end = time.monotonic() + 10
        while True:
            try:
                socket.create_connection((self.host, self.port), timeout=1).close()
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > end:
                    err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                    self.stop()
                    raise RuntimeError(f"git daemon did not start on {self.host}:{self.port}: {err.strip()}")
                time.sleep(0.05)

    def url(self, name: str) -> str:
        return f"git://{self.host}:{self.port}/{name}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)  # the daemon and its per-connection children
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


# ------------------------------------------------------------------ the pipeline


class Step:
    def __init__(self, job: Job, quotes: list[str], note: str = ""):
        self.job, self.quotes, self.note = job, [re.compile(q) for q in quotes], note
        self.res: JobResult | None = None
        self.dotenv = ""
        self.driver = job.name.split(":")[0] in ("durable", "deploy", "promote", "rollback", "cleanup")


QUOTE = " " * 8


def read_dotenv(gl: FakeGitLab, job: Job) -> str:
    """ENVIRONMENT_URL from the deploy job's dotenv report, as the artifacts API received it
    (artifacts:reports:dotenv: a gzip of deploy.env)."""
    import gzip

    for up in gl.uploads.get(job.id, []):
        if up.query.get("artifact_type") == "dotenv":
            text = gzip.decompress(up.data).decode()
            return " ".join(ln for ln in text.splitlines() if ln.startswith("ENVIRONMENT_URL="))
    return ""


def pipeline(url: str, sha: str, port_vars: dict[str, str], live: str | None, gl: FakeGitLab) -> list[Step]:
    pipeline_id = int(time.time()) % 10**7
    base = {"EXECUTOR_APP": APP}

    def job(name: str, stage: str, script: list[str], image: str | None = None, **kw) -> Job:
        variables = {**base, **kw.pop("variables", {})}
        j = Job(script, name=name, stage=stage, image=image, git_strategy="fetch", repo_url=url, sha=sha,
                refspecs=["+refs/heads/main:refs/remotes/origin/main"], protected=True, project=PROJECT,
                pipeline_id=pipeline_id, variables=variables, **kw)
        gl.add_job(j)  # its token may upload its artifacts and download its dependencies'
        return j

    def driver_job(name: str, stage: str, what: str, **kw) -> Job:
        # as in .gitlab-ci.yml: the script is only an echo (the driver carries the job
        # out), and the pipeline's default image applies (the driver runs the job's
        # other stages in a container of it, and the runner's in its helper)
        return job(name, stage, [f'echo "{name} is carried out by the executor driver ({what})"'], IMAGE,
                   variables={"EXECUTOR_ENV": ENV, **port_vars}, **kw)

    # .gitlab-ci.yml's build:image-sources, and the artifact the test jobs check
    build = job("build:image-sources", "build", ["tar -czf image-sources.tar.gz images",
                                                 "sha256sum image-sources.tar.gz | tee image-sources.sha256"],
                IMAGE, artifacts=[{"paths": ["image-sources.tar.gz", "image-sources.sha256"], "expire_in": "1 week"}])

    deployed = [r"Every container of \S+ is running and healthy.*", r"Color \w+ of env \w+ is deployed and healthy.*"]
    switched = [r"(Promoted|Rolled back): .*"]
    steps = []
    if live == "green":
        note = "(green is live from an earlier demo: blue takes the live traffic first, so deploy:green does not replace the live color)"
        steps += [Step(driver_job("deploy:blue", "deploy", "deploy of color blue to env ci", dotenv="deploy.env"),
                       deployed, note),
                  Step(driver_job("promote:blue", "promote", "switch env ci's live traffic to blue"), switched)]
    steps += [
        Step(job("validate:stack", "validate", ["bash tests/validate.sh"], IMAGE), [r"^\d+ passed, \d+ failed$"]),
        Step(build, [r"^[0-9a-f]{64}  image-sources\.tar\.gz$", r"^Uploading artifacts as .*"]),
        Step(driver_job("durable:setup-ci", "durable", "durable setup of env ci"),
             [r"Durable layer of env ci ready: .*", r"The durable layer of env ci is already running.*"]),
        Step(driver_job("deploy:green", "deploy", "deploy of color green to env ci", dotenv="deploy.env",
                        dependencies=[build]), deployed),
        Step(job("test:e2e", "test", ["bash tests/e2e.sh"], IMAGE, before_script=["sha256sum -c image-sources.sha256"],
                 dependencies=[build], variables={"EXECUTOR_ENV": ENV, "EXECUTOR_COLOR": "green"}),
             [r"^Downloading artifacts for build:image-sources .*", r"^image-sources\.tar\.gz: OK$",
              r"^Job container joined network .*", r"^(ok|FAIL) .*", r"^\d+ passed, \d+ failed$"]),
        Step(driver_job("promote:green", "promote", "switch env ci's live traffic to green"), switched),
        Step(driver_job("deploy:blue", "deploy", "deploy of color blue to env ci", dotenv="deploy.env"), deployed),
        Step(driver_job("promote:blue", "promote", "switch env ci's live traffic to blue"), switched),
        Step(driver_job("rollback:to-green", "rollback", "switch env ci's live traffic back to green"), switched),
    ]
    return steps


def probe(port: int, cafile: str, path: str = "/api/health") -> str:
    try:
        ctx = ssl.create_default_context(cafile=cafile)
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10)
        conn.request("GET", path, headers={"Connection": "close"})
        r = conn.getresponse()
        body = r.read()
        conn.close()
        color = r.getheader("X-Executor-Color") or "-"
        try:
            j = json.loads(body)
        except ValueError:
            j = {}
        extra = f", database {j['database']}" if isinstance(j, dict) and "database" in j else ""
        return f"{r.status}, color {color}{extra}"
    except (OSError, http.client.HTTPException) as e:
        return f"no answer ({e})"


def local(binary: str, *args: str) -> subprocess.CompletedProcess:
    e = dict(os.environ, EXECUTOR_CONFIG=paths()["config"], EXECUTOR_APP=APP, NO_COLOR="1")
    return subprocess.run([binary, *args], env=e, capture_output=True, text=True, timeout=600)


def remove_commands(binary: str) -> list[str]:
    return [f"export EXECUTOR_CONFIG={paths()['config']} EXECUTOR_APP={APP}",
            f"{binary} cleanup blue --env {ENV} --force",
            f"{binary} cleanup green --env {ENV} --force",
            f"{binary} durable teardown {ENV} --volumes"]


def remove(binary: str) -> int:
    """--remove: the demo stack, its data and the demo's state directory."""
    if not os.path.exists(paths()["config"]):
        print(f"demo: nothing to remove ({paths()['config']} does not exist)")
        return 0
    ok = True
    for cmd in remove_commands(binary)[1:]:
        args = cmd.split()[1:]
        p = local(binary, *args)
        out = (p.stdout + p.stderr).strip().splitlines()
        print(f"  $ executor {' '.join(args)}: " + (out[-1] if out else f"exit {p.returncode}"))
        ok = ok and p.returncode == 0
    if ok:
        shutil.rmtree(DEMO_DIR, ignore_errors=True)
        print(f"demo: stack removed; {DEMO_DIR} deleted")
        return 0
    print(col("31;1", "demo: something could not be removed (see above)"))
    return 1


def main(argv: list[str]) -> int:
    verbose = "-v" in argv
    try:
        binary = os.path.abspath(e2elib.executor_bin())
    except e2elib.SetupError as e:
        print(f"demo: {e}", file=sys.stderr)
        return 1
    lock = e2elib.exclusive("executor-demo")  # noqa: F841 - held until exit
    if "--remove" in argv:
        return remove(binary)
    print(col("1", "executor demo: the echobase example pipeline, driven like gitlab-runner would drive it"))
    t0 = time.monotonic()
    p = subprocess.run(["bash", os.path.join(EXAMPLE, "images", "build.sh"), "--quiet"], capture_output=True, text=True)
    if p.returncode != 0:
        print(f"demo: templates/example/images/build.sh failed:\n{p.stderr.strip()}", file=sys.stderr)
        return 1
    print(f"  images ready: echobase/mariadb, router, api-gateway, frontend, order-processor, localstack, ci-tools "
          f"({time.monotonic() - t0:.1f} s, built locally from this host's packages)")

    P = paths()
    os.makedirs(DEMO_DIR, mode=0o700, exist_ok=True)
    os.chmod(DEMO_DIR, 0o700)
    p = subprocess.run(["bash", os.path.join(e2elib.REPO, "tests", "fixtures", "build-images.sh"), "--quiet", "helper"],
                       capture_output=True, text=True)
    if p.returncode != 0:
        print(f"demo: tests/fixtures/build-images.sh helper failed:\n{p.stderr.strip()}", file=sys.stderr)
        return 1
    e2elib.write_admin_config(P["config"], P["state"], default_image=IMAGE, allowed_images="echobase/*",
                              **e2elib.helper_conf())
    os.environ["EXECUTOR_CONFIG"] = P["config"]
    ports, why = choose_ports()
    with open(P["ports"], "w") as f:
        json.dump({"ports": ports}, f, indent=1)
    moved = ports != SEED_PORTS
    port_vars = {k: str(v) for k, v in ports.items()} if moved else {}
    print(f"  env {ENV} of app {APP}: {why}")
    print(f"    database {ports['EXECUTOR_DB_PORT']}, router live {ports['EXECUTOR_LIVE_PORT']} / preview "
          f"{ports['EXECUTOR_PREVIEW_PORT']}, green API {ports['GREEN_API_PORT']} / frontend "
          f"{ports['GREEN_FRONTEND_HTTPS_PORT']}, blue API {ports['BLUE_API_PORT']} / frontend "
          f"{ports['BLUE_FRONTEND_HTTPS_PORT']}" + ("" if moved else " (the driver's and the overlays' defaults)"))
    print(f"  driver state (TLS, secrets, router configuration): {P['state']}")
    e2elib.remove_runner_leftovers(RUNNER)

    tmp = tempfile.mkdtemp(prefix="executor-demo-repo-")
    daemon = None
    gl: FakeGitLab | None = None
    steps: list[Step] = []
    try:
        repo = os.path.join(tmp, "echobase")
        shutil.copytree(EXAMPLE, repo, symlinks=True)
        git(repo, "init", "-q")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "echobase: the executor example repository")
        sha = git(repo, "rev-parse", "HEAD")
        daemon = GitDaemon(tmp)
        url = daemon.url("echobase")
        print(f"  repository: a copy of templates/example at {sha[:8]}, served as {url}")
        gl = FakeGitLab(os.path.join(tmp, "no-repos")).__enter__()
        print(f"  artifacts: GitLab's artifacts API stood in for at {gl.url}api/v4/jobs/:id/artifacts; the runner's "
              f"stages run in helper containers ({e2elib.HELPER})")
        live = load_json(os.path.join(P["env_dir"], "state.json")).get("live") if demo_stack_running() else None
        steps = pipeline(url, sha, port_vars, live, gl)
        cfg = RunnerConfig.for_driver(binary, token=f"glrt-{RUNNER}", name="demo-runner", echo=verbose, url=gl.url)
        print()
        failed = False
        for st in steps:
            if failed:
                continue
            if st.note:
                print(f"  {st.note}")
            print(f"  {st.job.name} ...", end="\n" if verbose else "", flush=True)
            st.res = run_job(st.job, cfg)
            failed = st.res.status != "success"
            print(f"{'  ' + st.job.name if verbose else ''} {'failed' if failed else 'ok'} ({st.res.duration:.1f} s)",
                  flush=True)
            if st.job.name.startswith("deploy:") and not failed:
                st.dotenv = read_dotenv(gl, st.job)
        e2elib.remove_slot_networks(RUNNER)
        left = e2elib.labelled(RUNNER)
    finally:
        if daemon:
            daemon.stop()
        if gl:
            gl.stop()
        e2elib.remove_runner_leftovers(RUNNER)
        shutil.rmtree(tmp, ignore_errors=True)

    print()
    print(col("1", f"Pipeline {steps[0].job.pipeline_id if steps else ''} (runner demo-runner, env {ENV}, app {APP})"))
    print(f"  {'job':19} {'stage':9} {'result':8} {'time':>6}   what happened")
    for st in steps:
        j, res = st.job, st.res
        if res is None:
            print(f"  {j.name:19} {j.stage:9} {col('33', 'skipped'):8} {'':>6}   an earlier job failed")
            continue
        ok = res.status == "success"
        mark = col("32", "passed  ") if ok else col("31;1", "failed  ")
        kind = f"container job, image {j.image}" if not st.driver else "carried out by the driver"
        print(f"  {j.name:19} {j.stage:9} {mark} {res.duration:5.1f}s   {kind}")
        for line in res.text.splitlines():
            line = line.strip()
            if any(q.search(line) for q in st.quotes) and not line.startswith("$ "):
                print(f"{QUOTE}{line}")
        if st.dotenv:
            print(f"{QUOTE}dotenv report deploy.env, as GitLab received it: {st.dotenv}")
        if not ok:
            print(f"{QUOTE}{res.final_line}")
            for line in res.text.splitlines()[-15:]:
                print(f"{QUOTE}| {line}")
    ok = bool(steps) and all(s.res is not None and s.res.status == "success" for s in steps)
    if any(left.values()):
        print(col("31;1", f"  job containers left after the pipeline: {left}"))
        ok = False
    else:
        print(f"  job containers: none left (everything labelled io.executor.runner={RUNNER} is gone; "
              f"the deployed stack stays)")

    state = load_json(os.path.join(P["env_dir"], "state.json"))
    lp, pp = ports["EXECUTOR_LIVE_PORT"], ports["EXECUTOR_PREVIEW_PORT"]
    print()
    print(col("1", "Open it (the demo stack keeps running)"))
    if os.path.exists(P["ca"]):
        print(f"  live     https://localhost:{lp}/      {state.get('live') or '-':6} now: {probe(lp, P['ca'])}")
        print(f"  preview  https://localhost:{pp}/     {state.get('preview') or '-':6} now: {probe(pp, P['ca'])}")
        print(f"  green    https://localhost:{ports['GREEN_FRONTEND_HTTPS_PORT']}/  (frontend) and "
              f"https://localhost:{ports['GREEN_API_PORT']}/health (API), directly")
        print(f"  blue     https://localhost:{ports['BLUE_FRONTEND_HTTPS_PORT']}/  (frontend) and "
              f"https://localhost:{ports['BLUE_API_PORT']}/health (API), directly")
        print(f"  the certificates are issued by the env's own CA: {P['ca']}")
        print(f"    curl --cacert {P['ca']} https://localhost:{lp}/api/health")
        print(f"    curl --cacert {P['ca']} https://localhost:{pp}/api/health")
        print(f"    curl --cacert {P['ca']} -X POST --data-binary '{{\"item\":\"demo\"}}' "
              f"https://localhost:{lp}/api/orders")
        print("  (in a browser, import that CA or accept the warning)")
    print(f"  status:  EXECUTOR_CONFIG={P['config']} {binary} status")
    print()
    print(col("1", "Remove it"))
    print(f"  EXECUTOR_BIN={binary} python3 {os.path.relpath(__file__)} --remove")
    print("  or by hand:")
    for c in remove_commands(binary):
        print(f"    {c}")
    print()
    print(col("32;1", "demo: pipeline passed") if ok else col("31;1", "demo: pipeline failed"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
