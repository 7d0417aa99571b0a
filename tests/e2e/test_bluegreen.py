"""Blue-green colors (issue 4) through build/executor, against the real engine.

The example application (templates/example: nginx router and MariaDB in the durable
layer; api-gateway, frontend, order-processor and the LocalStack stand-in per color)
runs from the images templates/example/images/build.sh builds locally. Deployment jobs
run through harness.py the way gitlab-runner runs them: no image, GIT_STRATEGY=fetch
from a local git repository holding a copy of templates/example, the driver carrying
out durable:setup-<env>, deploy:<color>, promote:<color>, rollback:to-<color> and
cleanup:<color> itself. Operators' local commands (`executor promote`, `rollback`,
`deploy`, `cleanup --force`, `durable teardown --volumes`) run in a clone of that
repository.

Everything here is app e2ebg, env e2ebg, with ports picked free in 22000-22999: Compose
projects e2ebg-green, e2ebg-blue and e2ebg-e2ebg-durable, all labelled
io.executor.app=e2ebg. Only such objects are ever removed. The tests share one durable
layer: the first test sets it up from nothing; every later test brings the env into
the state it needs (ensure()) so it also runs alone; the last test tears everything
down (and, should it not run, an exit handler removes the env's objects).
"""

from __future__ import annotations

import atexit
import glob
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from e2elib import app_objects, remove_app_objects  # noqa: E402
from world import LOAD_PATH, LoadLoop, Reply, build_example_images, example_repo, https, pick_ports  # noqa: E402,F401
from e2elib import git as _git  # noqa: E402
from e2elib import (REPO, Job, JobResult, assert_no_leftovers, check, docker, executor_bin,  # noqa: E402
                    expect_failure, expect_success, run_job, runner_config, state_dir,
                    write_admin_config)

NEEDS_DOCKER = True

APP = "e2ebg"
ENV = "e2ebg"
COLORS = ("green", "blue")
SERVICES = ("api-gateway", "frontend", "order-processor", "localstack")
EXAMPLE = os.path.join(REPO, "templates", "example")
CI_TOOLS = "echobase/ci-tools:local"
PORT_BASE = 22000
PORT_VARS = ("EXECUTOR_DB_PORT", "EXECUTOR_LIVE_PORT", "EXECUTOR_PREVIEW_PORT",
             "GREEN_API_PORT", "GREEN_FRONTEND_HTTPS_PORT", "GREEN_FRONTEND_HTTP_PORT",
             "GREEN_LOCALSTACK_PORT", "GREEN_LOCALSTACK_ALT_PORT",
             "BLUE_API_PORT", "BLUE_FRONTEND_HTTPS_PORT", "BLUE_FRONTEND_HTTP_PORT",
             "BLUE_LOCALSTACK_PORT", "BLUE_LOCALSTACK_ALT_PORT")
BROKEN_BRANCH = "broken-router"

_world: "World | None" = None


def other(color: str) -> str:
    return "blue" if color == "green" else "green"






# ------------------------------------------------------------------ the env's Docker objects


def env_objects() -> dict[str, list[str]]:
    return app_objects(APP)


def remove_env_objects() -> list[str]:
    return remove_app_objects(APP)


def container_facts(color: str, app: str = APP) -> dict[str, tuple[str, bool, str]]:
    """service -> (container id, running, health) of a color's containers."""
    out = {}
    for svc in SERVICES:
        p = docker("inspect", f"{app}-{color}-{svc}", check=False)
        if p.returncode != 0:
            continue
        i = json.loads(p.stdout)[0]
        out[svc] = (i["Id"], i["State"]["Running"], (i["State"].get("Health") or {}).get("Status", ""))
    return out


# ------------------------------------------------------------------ the module's world


class World:
    """The admin file and driver state, the example repository (branch main, and
    broken-router with a durable/router.conf.template that fails nginx -t), a clone
    for the local commands, the env's ports."""

    def __init__(self, app: str = APP, env: str = ENV, port_base: int = PORT_BASE) -> None:
        self.app, self.env, self.port_base = app, env, port_base
        t0 = time.monotonic()
        build_example_images()
        self.images_s = time.monotonic() - t0
        d = state_dir()
        self.tmp = tempfile.mkdtemp(prefix=f"{app}-", dir=d)
        self.state = os.path.join(self.tmp, "driver")
        self.config = write_admin_config(os.path.join(self.tmp, "bluegreen.conf"), self.state,
                                         allowed_images="executor-test/*, echobase/*")
        self.env_dir = os.path.join(self.state, "apps", app, "envs", env)
        self.ports = self._pick_ports()
        self.repo = os.path.join(self.tmp, "repo")
        self.checkout = os.path.join(self.tmp, "checkout")
        self.sha = example_repo(self.repo)
        _git(self.repo, "checkout", "-q", "-b", BROKEN_BRANCH)
        with open(os.path.join(REPO, "templates", "router", "executor.conf.template")) as f:
            tpl = f.read()
        # valid placeholders, one directive nginx does not know: only `nginx -t` can tell
        broken = tpl.replace("{{live_locations}}", "{{live_locations}}\n    e2e_no_such_directive on;", 1)
        check(broken != tpl, "the router template has a {{live_locations}} placeholder")
        with open(os.path.join(self.repo, "durable", "router.conf.template"), "w") as f:
            f.write(broken)
        _git(self.repo, "add", "-A")
        _git(self.repo, "commit", "-q", "-m", "a router template that fails nginx -t")
        self.broken_sha = _git(self.repo, "rev-parse", "HEAD")
        _git(self.repo, "checkout", "-q", "main")
        _git(self.tmp, "clone", "-q", "--branch", "main", self.repo, self.checkout)
        self.ctx_cache: tuple[float, ssl.SSLContext] | None = None

    def _pick_ports(self) -> dict[str, str]:
        return pick_ports(self.port_base, 1000, PORT_VARS)

    # -- jobs and commands

    def variables(self, **extra: str) -> dict[str, str]:
        v = {"EXECUTOR_APP": self.app, "EXECUTOR_ENV": self.env, **self.ports}
        v.update(extra)
        return v

    def job(self, name: str, *, broken: bool = False, protected: bool = False,
            variables: dict[str, str] | None = None, stage: str = "deploy") -> Job:
        ref = BROKEN_BRANCH if broken else "main"
        return Job(["echo 'carried out by the executor driver'"], name=name, stage=stage, image=None,
                   git_strategy="fetch", repo_url=self.repo, sha=self.broken_sha if broken else self.sha,
                   ref=ref, refspecs=[f"+refs/heads/{ref}:refs/remotes/origin/{ref}"], protected=protected,
                   project="e2e/echobase", variables=self.variables(**(variables or {})))

    def runner(self, **kw):
        return runner_config(extra_env={"EXECUTOR_CONFIG": self.config, "NO_COLOR": "1"}, **kw)

    def run(self, job: Job) -> JobResult:
        res = run_job(job, self.runner())
        assert_no_leftovers(job, wait=0)
        return res

    def local(self, *args: str, ok: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
        """executor <args> in the checkout, as an operator runs it."""
        e = dict(os.environ)
        e.update(EXECUTOR_CONFIG=self.config, NO_COLOR="1", **self.variables())
        p = subprocess.run([executor_bin(), *args], cwd=self.checkout, env=e, capture_output=True, text=True,
                           timeout=timeout)
        if ok:
            check(p.returncode == 0, f"executor {' '.join(args)} exited {p.returncode}: {p.stderr.strip()[-3000:]}")
        return p

    # -- the env's state

    def state_json(self) -> dict:
        try:
            with open(os.path.join(self.env_dir, "state.json")) as f:
                return json.load(f)
        except FileNotFoundError:
            return {}

    def live(self) -> str | None:
        return self.state_json().get("live")

    def history(self) -> list[dict]:
        try:
            with open(os.path.join(self.env_dir, "history.jsonl")) as f:
                return [json.loads(ln) for ln in f if ln.strip()]
        except FileNotFoundError:
            return []

    def router_file(self) -> bytes:
        with open(os.path.join(self.env_dir, "router", "executor.conf"), "rb") as f:
            return f.read()

    def ca(self) -> str:
        return os.path.join(self.env_dir, "tls", "ca.pem")

    def ssl_ctx(self) -> ssl.SSLContext:
        mtime = os.stat(self.ca()).st_mtime
        if not self.ctx_cache or self.ctx_cache[0] != mtime:
            self.ctx_cache = (mtime, ssl.create_default_context(cafile=self.ca()))
        return self.ctx_cache[1]

    def port(self, entry: str) -> int:
        return int(self.ports["EXECUTOR_LIVE_PORT" if entry == "live" else "EXECUTOR_PREVIEW_PORT"])

    def get(self, entry: str = "live", path: str = LOAD_PATH, method: str = "GET", body: bytes | None = None) -> Reply:
        return https(self.port(entry), self.ssl_ctx(), method, path, body)

    def expect_serving(self, entry: str, color: str, what: str, res: JobResult | None = None, n: int = 3) -> None:
        """n requests through the entry: 200, header and body both say color."""
        for _ in range(n):
            r = self.get(entry)
            check(r.status == 200 and r.color == color and r.body_color == color,
                  f"{what}: the {entry} entry should serve {color}: {r!r}", res)

    # -- bringing the env into a state

    def durable_running(self) -> bool:
        for svc in ("mariadb", "router"):
            p = docker("inspect", "-f", "{{.State.Running}} {{.State.Health.Status}}",
                       f"{self.app}-{self.env}-durable-{svc}", check=False)
            if p.stdout.strip() != "true healthy":
                return False
        return bool(self.state_json().get("router"))

    def color_ok(self, color: str) -> bool:
        facts = container_facts(color, self.app)
        rec = (self.state_json().get("colors") or {}).get(color) or {}
        return (len(facts) == len(SERVICES) and all(r and h in ("healthy", "") for _, r, h in facts.values())
                and rec.get("status") == "healthy")

    def ensure(self, live: str, also: str | None = None) -> None:
        """The durable layer up, `live` live, `also` (if given) deployed and in preview;
        healthy colors are not redeployed."""
        if not self.durable_running():
            self.local("durable", "setup", self.env)
        if self.live() != live:
            if not self.color_ok(live):
                self.local("deploy", live, "--env", self.env)
            self.local("promote", live, "--env", self.env)
        if also and (not self.color_ok(also) or self.state_json().get("preview") != also):
            self.local("deploy", also, "--env", self.env)
        check(self.live() == live, f"ensure: {live} is live (state says {self.live()})")
        self.expect_serving("live", live, "ensure")
        if also:
            self.expect_serving("preview", also, "ensure")

    def teardown(self) -> list[str]:
        """The operator's way: cleanup of both colors (--force: even the live one), then
        the durable layer with its volumes. Returns what went wrong."""
        problems = []
        if os.path.exists(self.env_dir):
            for color in COLORS:
                p = self.local("cleanup", color, "--env", self.env, "--force", ok=False)
                if p.returncode != 0:
                    problems.append(f"cleanup {color} --force exited {p.returncode}: {p.stderr.strip()}")
            p = self.local("durable", "teardown", self.env, "--volumes", ok=False)
            if p.returncode != 0:
                problems.append(f"durable teardown {self.env} --volumes exited {p.returncode}: {p.stderr.strip()}")
        return problems


def world() -> World:
    global _world
    if _world is None:
        _world = World()
        left = remove_env_objects()
        if left:
            print(f"  test_bluegreen: removed leftovers of an earlier run: {', '.join(left)}", flush=True)
        atexit.register(_at_exit)
    return _world


def _at_exit() -> None:
    # the teardown test did not run (a filter) or failed half-way: leave nothing of ours
    if _world is not None and any(env_objects().values()):
        _world.teardown()
        remove_env_objects()


def allowed_colors(t0: float, t1: float, first: str, switches: list[tuple[float, float, str, str]]) -> set[str]:
    """Colors a request in flight from t0 to t1 may get: the color live when it started,
    and both colors of every switch whose window [start, end] overlaps [t0, t1]."""
    cur = first
    for s0, s1, _, to in switches:
        if s1 < t0:
            cur = to
    out = {cur}
    for s0, s1, frm, to in switches:
        if s0 <= t1 and s1 >= t0:
            out |= {frm, to}
    return out


# ------------------------------------------------------------------ tests


def test_pipeline_setup_deploy_test_promote_deploy_promote_rollback_cleanup():
    """The seed's pipeline, every job through the runner harness, from nothing."""
    w = world()
    left = remove_env_objects()
    if left:
        print(f"  removed leftovers of env {ENV}: {', '.join(left)}", flush=True)
    shutil.rmtree(w.env_dir, ignore_errors=True)
    steps: list[str] = []

    def step(job: Job) -> JobResult:
        res = w.run(job)
        expect_success(res)
        steps.append(f"{job.name} {res.duration:.1f}s")
        return res

    res = step(w.job(f"durable:setup-{ENV}", stage="durable"))
    check(f"Durable layer of env {ENV} ready: 2 created" in res.text, "the durable layer is created", res)
    check(os.path.exists(w.ca()), "the env's CA exists", res)
    r = w.get("live", "/")
    check(r.status == 503 and b"no color is live" in r.body, f"before any promote the live entry says so: {r!r}", res)

    res = step(w.job("deploy:green"))
    check(all(h == "healthy" for _, _, h in container_facts("green").values()) and len(container_facts("green")) == 4,
          f"green's four containers are healthy: {container_facts('green')}", res)
    w.expect_serving("preview", "green", "after deploy:green", res)
    st = w.state_json()
    check(st.get("preview") == "green" and not st.get("live"), f"state: preview green, nothing live: {st}", res)
    check(st["colors"]["green"]["commit"] == w.sha, f"green records the commit {w.sha}", res)

    test = Job(["test -s /etc/executor/tls/ca.pem",
                "curl -sS --fail --max-time 10 --cacert /etc/executor/tls/ca.pem "
                "-D /tmp/headers.txt https://api-gateway:3001/health | tee /tmp/body.txt",
                "grep -qi '^x-executor-color: green' /tmp/headers.txt && echo HEADER-COLOR-GREEN",
                "grep -q '\"color\":\"green\"' /tmp/body.txt && echo BODY-COLOR-GREEN",
                # TLS is verified: without the env's CA curl refuses the certificate
                "if curl -sS --max-time 10 https://api-gateway:3001/health >/dev/null 2>&1; then "
                "echo UNVERIFIED-TLS-ACCEPTED; exit 1; fi"],
               name="test:e2e", stage="test", image=CI_TOOLS, project="e2e/echobase",
               variables=w.variables(EXECUTOR_COLOR="green"))
    res = step(test)
    check("HEADER-COLOR-GREEN" in res.text and "BODY-COLOR-GREEN" in res.text and '"database":"ok"' in res.text,
          "the test job reached green's api-gateway over verified TLS", res)
    check("joined network e2ebg-green-network" in res.text, "the job container joined green's network", res)

    res = step(w.job("promote:green", protected=True, stage="promote"))
    w.expect_serving("live", "green", "after promote:green", res)
    check(w.live() == "green", "state: green is live", res)

    res = step(w.job("deploy:blue"))
    w.expect_serving("preview", "blue", "after deploy:blue", res)
    w.expect_serving("live", "green", "after deploy:blue, green stays live", res)

    res = step(w.job("promote:blue", protected=True, stage="promote"))
    w.expect_serving("live", "blue", "after promote:blue", res)
    check(container_facts("green"), "green keeps running for a rollback", res)

    res = step(w.job("rollback:to-green", protected=True, stage="rollback"))
    w.expect_serving("live", "green", "after rollback:to-green", res)
    check(w.live() == "green", "state: green is live again", res)

    res = step(w.job("cleanup:blue", stage="cleanup"))
    check(not container_facts("blue"), f"blue's containers are gone: {container_facts('blue')}", res)
    nets = docker("network", "ls", "--format", "{{.Name}}", "--filter", f"name={APP}-blue").stdout.split()
    check(not nets, f"blue's network is gone: {nets}", res)
    w.expect_serving("live", "green", "after cleanup:blue", res)
    check(w.durable_running(), "the durable layer is untouched", res)

    hist = [(e["action"], e.get("color"), e["result"]) for e in w.history()]
    want = [("durable-setup", None, "ok"), ("deploy", "green", "ok"), ("promote", "green", "ok"),
            ("deploy", "blue", "ok"), ("promote", "blue", "ok"), ("rollback", "green", "ok"), ("cleanup", "blue", "ok")]
    check(hist == want, f"history {hist}, want {want}")
    print("  " + "; ".join(steps), flush=True)


def test_deploy_writes_the_dotenv_report_with_the_environment_url():
    w = world()
    w.ensure("green")
    res = w.run(w.job("deploy:blue"))
    expect_success(res)
    found = glob.glob(os.path.join(w.state, "slots", "*", "project-*", "concurrent-*",
                                   os.path.basename(res.project_dir), "deploy.env"))
    check(len(found) == 1, f"deploy.env in the job's checkout on the host: {found}", res)
    with open(found[0]) as f:
        text = f.read()
    kv = dict(ln.split("=", 1) for ln in text.splitlines() if "=" in ln)
    preview = w.ports["EXECUTOR_PREVIEW_PORT"]
    check(kv.get("ENVIRONMENT_URL") == f"https://localhost:{preview}/",
          f"ENVIRONMENT_URL is the preview entry https://localhost:{preview}/: {text!r}", res)
    check(kv.get("DEPLOYED_COLOR") == "blue" and kv.get("DEPLOYED_ENV") == ENV and kv.get("DEPLOYED_COMMIT") == w.sha,
          f"the report names color, env and commit: {text!r}", res)
    check(not any(k.startswith("EXECUTOR_") for k in kv),
          f"no EXECUTOR_* variable (later jobs inherit the report): {text!r}", res)
    w.expect_serving("preview", "blue", "the ENVIRONMENT_URL serves blue", res)


def test_zero_failed_requests_across_20_switches_under_load():
    """>= 5000 HTTPS requests through the live entry while 20 promote/rollback switches
    run (two of them as harness jobs): no error, no reset, and every response's color
    (X-Executor-Color and the api's JSON body) matches the switch timeline."""
    w = world()
    w.ensure("green", also="blue")
    min_requests, n_switches = 5000, 20
    load = LoadLoop(w.port("live"), w.ca(), max_requests=9000, max_seconds=360)
    switches: list[tuple[float, float, str, str]] = []
    how: list[str] = []
    live = "green"
    load.start()
    try:
        for k in range(n_switches):
            load.wait_for((k + 1) * min_requests // (n_switches + 1))
            check(load.is_alive(), f"the load loop stopped early after {len(load.records)} requests")
            target = other(live)
            verb = "promote" if k % 2 == 0 else "rollback"
            s0 = time.monotonic()
            if k in (9, 10):  # through the runner harness
                name = f"promote:{target}" if verb == "promote" else f"rollback:to-{target}"
                res = w.run(w.job(name, protected=True, stage=verb))
                expect_success(res)
                call = res.run_calls("build_script")[0]
                switches.append((call.started, call.ended, live, target))
                how.append(f"job {name}")
            else:
                w.local(verb, target, "--env", ENV)
                switches.append((s0, time.monotonic(), live, target))
                how.append(f"executor {verb} {target}")
            check(w.live() == target, f"switch {k + 1} ({how[-1]}): state says {w.live()} is live")
            live = target
        load.wait_for(min_requests)
    finally:
        load.stop.set()
        load.join(30)
    recs = list(load.records)
    failures = [(i, r) for i, (_, _, r) in enumerate(recs) if r.error or r.status != 200]
    resets = [r for _, r in failures if "Reset" in r.error or "reset" in r.error]
    mismatches = []
    per_color = {c: 0 for c in COLORS}
    for i, (t0, t1, r) in enumerate(recs):
        if r.error or r.status != 200:
            continue
        ok = allowed_colors(t0, t1, "green", switches)
        if r.color not in ok or r.body_color not in ok or r.color != r.body_color:
            mismatches.append((i, sorted(ok), r))
        per_color[r.body_color] = per_color.get(r.body_color, 0) + 1
    # responses that got the old color while their switch was still in progress
    overlap = sum(1 for t0, t1, r in recs for s0, s1, frm, _ in switches
                  if s0 <= t0 and t1 <= s1 and r.body_color == frm)
    # the check discriminates: the same responses against the reversed timeline mostly fail
    wrong = sum(1 for t0, t1, r in recs if r.status == 200
                and r.body_color not in allowed_colors(t0, t1, "blue", [(a, b, t, f) for a, b, f, t in switches]))
    dur = recs[-1][1] - recs[0][0] if recs else 0
    windows = [s1 - s0 for s0, s1, _, _ in switches]
    print(f"  load: {len(recs)} requests in {dur:.1f} s ({len(recs) / max(dur, 0.001):.0f}/s), "
          f"{len(switches)} switches (each {min(windows):.2f}-{max(windows):.2f} s; {how[9]}, {how[10]}), "
          f"{len(failures)} failures ({len(resets)} resets), {len(mismatches)} color mismatches; "
          f"served by green {per_color.get('green')}, blue {per_color.get('blue')}; "
          f"{overlap} got the old color inside a switch window", flush=True)
    check(len(switches) == n_switches, f"{len(switches)} switches")
    check(len(recs) >= min_requests, f"only {len(recs)} requests (want {min_requests})")
    check(not failures, f"{len(failures)} failed requests, first: {failures[:5]}")
    check(not mismatches, f"{len(mismatches)} responses of the wrong color, first: {mismatches[:5]}")
    check(min(per_color.values()) > min_requests // 4, f"both colors served a share of the load: {per_color}")
    check(wrong > len(recs) // 2, f"against the reversed timeline most responses mismatch ({wrong} of {len(recs)})")
    last_after = [r for t0, _, r in recs if t0 > switches[-1][1]]
    check(last_after and all(r.body_color == live for r in last_after),
          f"after the last switch only {live} answers ({len(last_after)} requests)")


def test_rows_written_through_blue_are_read_through_green_after_promote():
    w = world()
    w.ensure("blue", also="green")
    marker = f"e2ebg-{uuid.uuid4().hex[:12]}"
    ids = []
    for i in range(3):
        r = w.get("live", "/api/orders", "POST", json.dumps({"item": marker, "n": i}).encode())
        check(r.status == 201 and r.color == "blue" and r.body_color == "blue",
              f"POST /api/orders through the live entry while blue is live: {r!r}")
        ids.append(r.json["id"])
    w.local("promote", "green", "--env", ENV)
    r = w.get("live", "/api/orders?limit=1000")
    check(r.status == 200 and r.color == "green", f"GET /api/orders through the live entry, now green: {r!r}")
    rows = {o["id"]: o for o in r.json if isinstance(o.get("payload"), dict) and o["payload"].get("item") == marker}
    check(sorted(rows) == sorted(ids), f"green returns the rows blue wrote: ids {sorted(rows)}, want {sorted(ids)}")
    check(all(o["created_by"] == "blue" for o in rows.values()), f"written by blue: {list(rows.values())}")
    one = w.get("live", f"/api/orders/{ids[0]}")
    check(one.status == 200 and one.color == "green" and one.json.get("payload") == {"item": marker, "n": 0},
          f"GET /api/orders/{ids[0]} through green: {one!r}")


def test_promote_from_an_unprotected_ref_is_refused_even_if_the_job_claims_protected():
    w = world()
    w.ensure("green", also="blue")
    router = w.router_file()
    n_hist = len(w.history())
    job = w.job("promote:blue", protected=False, stage="promote", variables={"CI_COMMIT_REF_PROTECTED": "true"})
    res = w.run(job)
    expect_failure(res, "build")
    for s in ("protected branch or tag", "not protected in the job payload",
              "CI_COMMIT_REF_PROTECTED set by a job does not count"):
        check(s in res.text, f"the job log says {s!r}", res)
    check(w.live() == "green", f"state: green stays live ({w.live()})", res)
    w.expect_serving("live", "green", "after the refused promote", res)
    check(w.router_file() == router, "the router's configuration is unchanged", res)
    new = w.history()[n_hist:]
    check([(e["action"], e.get("color"), e["result"]) for e in new] == [("promote", "blue", "refused")],
          f"the history records the refusal: {new}", res)


def test_deploy_over_the_live_color_and_cleanup_of_it_are_refused():
    w = world()
    w.ensure("green")
    before = container_facts("green")
    router = w.router_file()
    res = w.run(w.job("deploy:green"))
    expect_failure(res, "build")
    check("green is the live color of env e2ebg: deploying over it would drop live traffic" in res.text,
          "the deploy's refusal says why", res)
    check(container_facts("green") == before, "green's containers are untouched", res)
    check(w.state_json()["colors"]["green"].get("status") == "healthy",
          f"the live color's recorded status stays healthy: {w.state_json()['colors']['green'].get('status')}", res)
    w.expect_serving("live", "green", "after the refused deploy", res)

    res = w.run(w.job("cleanup:green", stage="cleanup"))
    expect_failure(res, "build")
    check("green is the live color of env e2ebg: cleaning it up would take the site down" in res.text,
          "the cleanup's refusal says why", res)
    check(container_facts("green") == before, "green's containers are untouched", res)
    check(w.router_file() == router, "the router's configuration is unchanged", res)
    w.expect_serving("live", "green", "after the refused cleanup", res)


def test_router_template_failing_nginx_t_keeps_the_previous_configuration():
    w = world()
    w.ensure("green", also="blue")
    router = w.router_file()
    w.expect_serving("live", "green", "before")
    # the router template is taken only from a protected ref (docs/security.md)
    for name, stage in (("deploy:blue", "deploy"), ("promote:blue", "promote")):
        res = w.run(w.job(name, broken=True, protected=True, stage=stage))
        expect_failure(res, "build")
        check("the new router configuration fails nginx -t" in res.text and "e2e_no_such_directive" in res.text,
              f"{name}: the job log carries nginx -t's message", res)
        check(w.router_file() == router, f"{name}: the router's file on disk is the previous one", res)
        check(w.live() == "green", f"{name}: state: green stays live", res)
        w.expect_serving("live", "green", f"after the failed {name}", res)
    r = docker("exec", f"{APP}-{ENV}-durable-router", "nginx", "-t", "-q", check=False)
    check(r.returncode == 0, f"the router's configuration passes nginx -t: {r.stderr.strip()}")


def test_deploy_that_never_becomes_healthy_fails_and_the_live_color_still_serves():
    w = world()
    w.ensure("green")
    w.expect_serving("live", "green", "before")
    router = w.router_file()
    res = w.run(w.job("deploy:blue", variables={"NEVER_HEALTHY": "1"}))
    expect_failure(res, "build")
    check("e2ebg-blue-api-gateway did not become healthy" in res.text and "the deployment is unhealthy" in res.text,
          "the job says which container is unhealthy", res)
    check("NEVER_HEALTHY=1: reporting unhealthy on purpose" in res.text, "the job shows the healthcheck's output", res)
    check(w.live() == "green", "state: green stays live", res)
    check(w.router_file() == router, "the router's configuration is unchanged", res)
    w.expect_serving("live", "green", "after the unhealthy deploy", res)
    check(w.history()[-1]["result"] == "failed", f"the history records the failure: {w.history()[-1]}", res)


def test_teardown_removes_every_object_of_the_env():
    w = world()
    w.ensure("green")
    problems = w.teardown()
    check(not problems, "; ".join(problems))
    left = env_objects()
    check(not any(left.values()), f"objects of app {APP} left after cleanup --force and durable teardown: {left}")
