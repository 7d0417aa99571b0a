"""The durable layer (issue 3) through build/executor, against the real engine.

Deployment jobs run through harness.py the way gitlab-runner runs them: no image,
GIT_STRATEGY=fetch from a local git repository that holds a copy of templates/example
(committed in a temp dir), the driver carrying out `durable:setup-<env>` and
`cleanup:durable-<env>` itself. Teardown is the operator's local command
`executor durable teardown <env> [--volumes]`, run in a checkout.

Everything here uses EXECUTOR_APP=e2edur and its own envs (e2edur*; the seed names `ci`
and `devlocal` only under that app), with database and router ports taken from the
23300+ range unless a test checks the seed's ports. So every Docker object the tests
create is named e2edur-<env>-durable* and labelled io.executor.env=<env>; only such
objects are ever removed (at module start, at the start and end of each test). The
example images (echobase/mariadb:local, echobase/router:local) are built once with
templates/example/images/build.sh (idempotent: about a second when up to date).

Every test also checks that none of the env's generated secrets (read from
<state>/envs/<env>/secrets.json) appears in anything it captured: job logs, the
driver's stdout/stderr and argv of every call, the local commands' output.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from e2elib import git as _git  # noqa: E402
from e2elib import (BUSYBOX, REPO, Job, JobResult, assert_no_leftovers, check, docker, executor_bin,  # noqa: E402
                    expect_failure, expect_success, port_free, run_job, runner_config, start_job,
                    state_dir, write_admin_config)

NEEDS_DOCKER = True

APP = "e2edur"
# envs of this module: everything labelled io.executor.env=<one of them> is ours
ENVS = ("e2edura", "e2edurb", "e2edurbad", "e2edurlk", "e2edursec")
# the seed's env names, used only under APP (never removed by label: others use them)
SEED_ENVS = ("devlocal", "ci")
SEED_PORTS = {"devlocal": {"EXECUTOR_DB_PORT": "3306", "EXECUTOR_LIVE_PORT": "8443", "EXECUTOR_PREVIEW_PORT": "9443"},
              "ci": {"EXECUTOR_DB_PORT": "3307", "EXECUTOR_LIVE_PORT": "443", "EXECUTOR_PREVIEW_PORT": "1443"}}
PORT_BASE = 23300
EXAMPLE = os.path.join(REPO, "templates", "example")
DURABLE_FILE = "durable/docker-compose.yml"
SERVICES = ("mariadb", "router")

_module: dict = {}
_ports: dict[str, dict[str, str]] = {}


# ------------------------------------------------------------------ module setup


def _module_setup() -> dict:
    """Once per run: the example images, the admin file, leftovers of earlier runs."""
    if _module:
        return _module
    t0 = time.monotonic()
    p = subprocess.run(["bash", os.path.join(EXAMPLE, "images", "build.sh"), "--quiet", "mariadb", "router"],
                       capture_output=True, text=True, timeout=900)
    check(p.returncode == 0, f"templates/example/images/build.sh mariadb router failed: {p.stderr.strip()[-2000:]}")
    for img in ("echobase/mariadb:local", "echobase/router:local"):
        check(docker("image", "inspect", img, check=False).returncode == 0, f"{img} missing after build.sh")
    d = state_dir()
    cfg = write_admin_config(os.path.join(d, "durable.conf"), os.path.join(d, "driver-durable"),
                             allowed_images="executor-test/*, echobase/*")
    _module.update(config=cfg, driver_state=os.path.join(d, "driver-durable"))
    removed = []
    for env in ENVS + SEED_ENVS:
        removed += _remove_env_objects(env)
    if removed:
        print(f"  test_durable: removed leftovers of an earlier run: {', '.join(removed)}", flush=True)
    _module["images_s"] = time.monotonic() - t0
    return _module


def _project(env: str) -> str:
    return f"{APP}-{env}-durable"


def _names(env: str) -> dict[str, str]:
    p = _project(env)
    return {"mariadb": f"{p}-mariadb", "router": f"{p}-router", "network": f"{p}-network",
            "volume": f"{p}-mariadb-data"}


def env_objects(env: str) -> dict[str, list[str]]:
    """Containers, networks and volumes of the env's durable layer: by its names (prefix
    e2edur-<env>-durable) and, for this module's own envs, by io.executor.env."""
    prefix = _project(env)
    out: dict[str, list[str]] = {}
    for kind, cmd in (("containers", ["ps", "-a"]), ("networks", ["network", "ls"]), ("volumes", ["volume", "ls"])):
        names = set()
        for n in docker(*cmd, "--format", "{{.Name}}" if kind != "containers" else "{{.Names}}",
                        "--filter", f"name={prefix}").stdout.split():
            if n.startswith(prefix):
                names.add(n)
        filters = [f"label=com.docker.compose.project={prefix}"]
        if env in ENVS:
            filters.append(f"label=io.executor.env={env}")
        for f in filters:
            names.update(docker(*cmd, "--format", "{{.Name}}" if kind != "containers" else "{{.Names}}",
                                "--filter", f).stdout.split())
        out[kind] = sorted(names)
    return out


def _remove_env_objects(env: str) -> list[str]:
    """Remove what an earlier run left for env (only e2edur-<env>-durable* / our env labels)."""
    removed = []
    objs = env_objects(env)
    if objs["containers"]:
        docker("rm", "-f", *objs["containers"], check=False)
        removed += [f"container {n}" for n in objs["containers"]]
    for n in objs["networks"]:
        docker("network", "rm", n, check=False)
        removed.append(f"network {n}")
    for n in objs["volumes"]:
        docker("volume", "rm", "-f", n, check=False)
        removed.append(f"volume {n}")
    return removed




def ports_for(env: str) -> dict[str, str]:
    """Three free host ports for the env's database, live and preview (23300 and up)."""
    if env in _ports:
        return _ports[env]
    taken = {int(v) for p in _ports.values() for v in p.values()}
    got: list[int] = []
    port = PORT_BASE
    while len(got) < 3:
        port += 1
        check(port < PORT_BASE + 2000, "no free ports in 23300-25300")
        if port not in taken and port_free(port):
            got.append(port)
    _ports[env] = {"EXECUTOR_DB_PORT": str(got[0]), "EXECUTOR_LIVE_PORT": str(got[1]),
                   "EXECUTOR_PREVIEW_PORT": str(got[2])}
    return _ports[env]


# ------------------------------------------------------------------ one test's world




class World:
    """One test: its envs (leftovers removed first, torn down with --volumes at the end),
    a git repository with a copy of templates/example, everything captured for the
    secrets check."""

    def __init__(self, *envs: str, ports: dict[str, dict[str, str]] | None = None):
        m = _module_setup()
        self.config = m["config"]
        self.state = m["driver_state"]
        self.envs = list(envs)
        self.ports = {e: (ports or {}).get(e) or ports_for(e) for e in envs}
        self.captured: list[tuple[str, bytes]] = []
        self.secrets_seen: dict[str, set[str]] = {}
        for env in envs:
            left = _remove_env_objects(env)
            if left:
                print(f"  removed leftovers of env {env}: {', '.join(left)}", flush=True)
            shutil.rmtree(self.env_dir(env), ignore_errors=True)
        self.tmp = tempfile.mkdtemp(prefix="e2edur-")
        self.repo = os.path.join(self.tmp, "repo")
        self.checkout = os.path.join(self.tmp, "checkout")
        try:
            shutil.copytree(EXAMPLE, self.repo, symlinks=True)
            _git(self.repo, "init", "-q")
            _git(self.repo, "add", "-A")
            _git(self.repo, "commit", "-q", "-m", "echobase example (copy of templates/example)")
            _git(self.repo, "clone", "-q", self.repo, self.checkout)
            self.good_durable = self.read(DURABLE_FILE)
        except BaseException:
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise

    def __enter__(self) -> "World":
        return self

    def __exit__(self, et, ev, tb) -> None:
        try:
            problems = []
            for env in self.envs:
                self.note_secrets(env)
                r = self.local("teardown", env, "--volumes")
                left = env_objects(env)
                if r.returncode != 0:
                    problems.append(f"teardown {env} --volumes exited {r.returncode}: {r.stderr.strip()}")
                if any(left.values()):
                    problems.append(f"env {env} left Docker objects after teardown --volumes: {left}")
                    _remove_env_objects(env)
            if et is None:
                self.assert_no_secret_leaked()
                check(not problems, "; ".join(problems))
            elif problems:
                print("  also, while cleaning up: " + "; ".join(problems), flush=True)
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # -- the repository

    def read(self, rel: str) -> str:
        with open(os.path.join(self.repo, rel)) as f:
            return f.read()

    def commit(self, rel: str, text: str, msg: str) -> str:
        with open(os.path.join(self.repo, rel), "w") as f:
            f.write(text)
        _git(self.repo, "add", "-A")
        _git(self.repo, "commit", "-q", "--allow-empty", "-m", msg)
        return self.head()

    def head(self) -> str:
        return _git(self.repo, "rev-parse", "HEAD")

    def sync_checkout(self) -> None:
        _git(self.checkout, "pull", "-q", "--ff-only")

    # -- jobs and commands

    def variables(self, env: str, **extra: str) -> dict[str, str]:
        v = {"EXECUTOR_APP": APP, **self.ports[env]}
        v.update(extra)
        return v

    def job(self, name: str, env: str, *, sha: str | None = None, protected: bool = False,
            variables: dict[str, str] | None = None) -> Job:
        return Job(name=name, stage="durable", image=None, git_strategy="fetch", repo_url=self.repo,
                   sha=sha or self.head(), refspecs=["+refs/heads/main:refs/remotes/origin/main"],
                   protected=protected, variables=self.variables(env, **(variables or {})))

    def runner(self, **kw):
        return runner_config(extra_env={"EXECUTOR_CONFIG": self.config, "NO_COLOR": "1"}, **kw)

    def capture(self, res: JobResult) -> JobResult:
        self.captured.append((f"job {res.job.id} log", res.log.encode()))
        for c in res.calls:
            where = f"job {res.job.id} {c.kind} {c.stage or ''}"
            self.captured += [(where + " stdout", c.stdout), (where + " stderr", c.stderr),
                              (where + " argv", "\0".join(c.argv).encode())]
        return res

    def run(self, job: Job, **kw) -> JobResult:
        res = self.capture(run_job(job, self.runner(**kw)))
        assert_no_leftovers(job, wait=0)
        return res

    def setup(self, env: str, **kw) -> JobResult:
        res = self.run(self.job(f"durable:setup-{env}", env, **kw))
        expect_success(res)
        self.note_secrets(env)
        return res

    def local(self, action: str, env: str, *args: str, **extra: str) -> subprocess.CompletedProcess:
        """executor durable <action> <env> [args] in the checkout, as an operator runs it."""
        e = dict(os.environ)
        e.update(EXECUTOR_CONFIG=self.config, NO_COLOR="1", **self.variables(env, **extra))
        argv = [executor_bin(), "durable", action, env, *args]
        p = subprocess.run(argv, cwd=self.checkout, env=e, capture_output=True, text=True, timeout=300)
        self.captured += [(f"executor durable {action} {env} stdout", p.stdout.encode()),
                          (f"executor durable {action} {env} stderr", p.stderr.encode()),
                          (f"executor durable {action} {env} argv", "\0".join(argv).encode())]
        return p

    # -- secrets

    def env_dir(self, env: str) -> str:
        """The env's state (docs/state-directory.md): <state_dir>/apps/<app>/envs/<env>."""
        return os.path.join(self.state, "apps", APP, "envs", env)

    def secrets_path(self, env: str) -> str:
        return os.path.join(self.env_dir(env), "secrets.json")

    def secrets(self, env: str) -> dict[str, str]:
        with open(self.secrets_path(env)) as f:
            doc = json.load(f)
        s = doc["secrets"]
        self.secrets_seen.setdefault(env, set()).update(
            v for k, v in s.items() if k in ("DB_ROOT_PASSWORD", "DB_PASSWORD"))
        return s

    def note_secrets(self, env: str) -> None:
        if os.path.exists(self.secrets_path(env)):
            self.secrets(env)

    def assert_no_secret_leaked(self) -> None:
        for env, values in self.secrets_seen.items():
            for v in values:
                check(len(v) >= 16, f"a generated secret of env {env} is only {len(v)} characters long")
                for where, data in self.captured:
                    check(v.encode() not in data, f"a generated secret of env {env} appears in {where}")

    # -- the database

    def sql(self, env: str, query: str, *, user: str | None = None, password: str | None = None,
            port: str | None = None, ok: bool = True, retry: float = 15.0) -> subprocess.CompletedProcess:
        """Run SQL with the host's mariadb client on 127.0.0.1:<db port> with the env's
        generated credentials (the password through MYSQL_PWD, never argv)."""
        s = self.secrets(env)
        user = user or s["DB_USER"]
        password = password if password is not None else s["DB_PASSWORD"]
        port = port or self.ports[env]["EXECUTOR_DB_PORT"]
        argv = ["mariadb", "-h127.0.0.1", f"-P{port}", f"-u{user}", "--batch", "--skip-column-names",
                "--connect-timeout=5", s["DB_NAME"], "-e", query]
        end = time.monotonic() + retry
        while True:
            p = subprocess.run(argv, capture_output=True, text=True, timeout=60, env={**os.environ, "MYSQL_PWD": password})
            # 2002/2003/2013: the port forward is not answering yet
            if p.returncode == 0 or not re.search(r"ERROR (2002|2003|2013)", p.stderr) or time.monotonic() > end:
                break
            time.sleep(0.5)
        if ok:
            check(p.returncode == 0, f"mariadb on port {port} as {user}: {query!r} failed: {p.stderr.strip()}")
        return p

    def rows(self, env: str, table: str = "e2e_rows", **kw) -> list[str]:
        return self.sql(env, f"SELECT v FROM {table} ORDER BY id", **kw).stdout.split("\n")[:-1]

    def write_rows(self, env: str, values: list[str], table: str = "e2e_rows") -> None:
        vals = ", ".join(f"('{v}')" for v in values)
        self.sql(env, f"CREATE TABLE IF NOT EXISTS {table} (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(64)); "
                      f"INSERT INTO {table} (v) VALUES {vals}")


# ------------------------------------------------------------------ docker facts


def inspect(name: str) -> dict:
    p = docker("inspect", name, check=False)
    check(p.returncode == 0, f"container {name} does not exist: {p.stderr.strip()}")
    return json.loads(p.stdout)[0]


def layer_facts(env: str) -> dict:
    """What identifies the env's running layer: container ids and start times, network, volume."""
    n = _names(env)
    facts = {}
    for svc in SERVICES:
        i = inspect(n[svc])
        facts[svc] = (i["Id"], i["State"]["StartedAt"], i["State"]["Running"])
    facts["network"] = docker("network", "inspect", "-f", "{{.Id}}", n["network"]).stdout.strip()
    # (a local volume has no id, and its CreatedAt follows its directory's mtime)
    facts["volume"] = docker("volume", "inspect", "-f", "{{.Name}} {{.Mountpoint}}", n["volume"]).stdout.strip()
    return facts


def assert_layer_healthy(env: str, res: JobResult | None = None) -> None:
    n = _names(env)
    for svc in SERVICES:
        i = inspect(n[svc])
        st = i["State"]
        check(st["Running"] and st.get("Health", {}).get("Status") == "healthy",
              f"{n[svc]} running and healthy: running={st['Running']} health={st.get('Health', {}).get('Status')}", res)
        labels = i["Config"]["Labels"]
        want = {"io.executor.managed": "true", "io.executor.app": APP, "io.executor.env": env,
                "io.executor.layer": "durable",
                "com.docker.compose.project": _project(env), "com.docker.compose.service": svc}
        got = {k: labels.get(k) for k in want}
        check(got == want, f"{n[svc]} labels {got}, want {want}", res)


def published(name: str) -> dict[str, str]:
    """'3306/tcp' -> host port."""
    ports = inspect(name)["NetworkSettings"]["Ports"] or {}
    return {k: v[0]["HostPort"] for k, v in ports.items() if v}


def networks_of(name: str) -> list[str]:
    return sorted((inspect(name)["NetworkSettings"]["Networks"] or {}).keys())


def assert_gone(env: str, *, volume_kept: bool, ignore: tuple[str, ...] = ()) -> None:
    n = _names(env)
    objs = {k: [x for x in v if x not in ignore] for k, v in env_objects(env).items()}
    check(not objs["containers"] and not objs["networks"],
          f"env {env}: containers and network removed, left {objs}")
    if volume_kept:
        check(objs["volumes"] == [n["volume"]], f"env {env}: the data volume {n['volume']} is kept, volumes {objs['volumes']}")
    else:
        check(not objs["volumes"], f"env {env}: the data volume is removed, volumes {objs['volumes']}")


# ------------------------------------------------------------------ tests


def test_setup_twice_the_second_run_changes_nothing_and_says_so():
    env = "e2edura"
    with World(env) as w:
        first = w.setup(env)
        t = first.text
        check(f"Durable layer of env {env} ready: 2 created, 0 started again, 0 already running" in t,
              "the first setup creates both services", first)
        for what in (f"Created network {_names(env)['network']}", f"Created volume {_names(env)['volume']}",
                     f"Started {_names(env)['mariadb']}", f"Started {_names(env)['router']}"):
            check(what in t, f"the first setup says {what!r}", first)
        check("The job's script lines are not run: the driver carries out durable-setup itself" in t,
              "the driver carries out the job", first)
        assert_layer_healthy(env, first)
        check(networks_of(_names(env)["mariadb"]) == [_names(env)["network"]], "mariadb is on the durable network", first)
        before = layer_facts(env)

        second = w.setup(env)
        t = second.text
        check(f"The durable layer of env {env} is already running and healthy (2 services); nothing to do" in t,
              "the second setup says it has nothing to do", second)
        for word in ("Created ", "Started ", "started again", "differs from"):
            check(word not in t, f"the second setup must not say {word!r}", second)
        after = layer_facts(env)
        check(after == before, f"the second setup changed nothing: {before} -> {after}", second)
        assert_layer_healthy(env, second)


def test_changed_durable_file_is_reported_as_drift_and_not_applied():
    """The durable layer is never recreated by a setup: a changed definition is reported
    with what differs and how to apply it, and the data stays."""
    env = "e2edura"
    with World(env) as w:
        w.setup(env)
        w.write_rows(env, ["kept"])
        before = layer_facts(env)
        good = w.good_durable
        old = "    stop_grace_period: 15s\n"
        check(old in good, "the example durable file changed; update this test")
        sha = w.commit(DURABLE_FILE, good.replace(old, "    stop_grace_period: 20s\n", 1), "router: longer grace")
        res = w.setup(env, sha=sha)
        t = res.text
        n = _names(env)
        check(f"The durable layer differs from {DURABLE_FILE} (not recreated, data kept):" in t, "drift reported", res)
        check(f"{n['router']}: StopTimeout: 15 -> 20" in t, "it says what differs", res)
        check(f"{n['mariadb']}:" not in t, "only the router differs", res)
        check(f"To apply the change: executor durable teardown {env} (keeps volumes), then set it up again" in t,
              "it says how to apply it", res)
        check(f"The durable layer of env {env} is already running and healthy (2 services); nothing to do" in t,
              "both services count as running", res)
        check(layer_facts(env) == before, "nothing was recreated or restarted", res)
        check(w.rows(env) == ["kept"], "the data is there", res)


def test_setup_after_docker_stop_starts_the_layer_again():
    env = "e2edura"
    with World(env) as w:
        w.setup(env)
        w.write_rows(env, ["before-the-stop"])
        before = layer_facts(env)
        n = _names(env)
        docker("stop", "-t", "10", n["mariadb"], n["router"])
        check(not inspect(n["mariadb"])["State"]["Running"] and not inspect(n["router"])["State"]["Running"],
              "both containers are stopped")
        res = w.setup(env)
        t = res.text
        check(f"Durable layer of env {env} ready: 0 created, 2 started again, 0 already running" in t,
              "the setup starts both again and creates nothing", res)
        check(f"Started {n['mariadb']} again (it was stopped)" in t and f"Started {n['router']} again" in t,
              "it names what it started", res)
        assert_layer_healthy(env, res)
        after = layer_facts(env)
        for svc in SERVICES:
            check(after[svc][0] == before[svc][0], f"{svc}: the same container was started, not a new one", res)
            check(after[svc][1] != before[svc][1], f"{svc}: started again (StartedAt changed)", res)
        check(after["volume"] == before["volume"] and after["network"] == before["network"],
              "same network and volume", res)
        check(w.rows(env) == ["before-the-stop"], "the data is still there", res)


def test_two_envs_side_by_side_with_their_own_ports_networks_and_data():
    a, b = "e2edura", "e2edurb"
    with World(a, b) as w:
        ra = w.setup(a)
        rb = w.setup(b)
        assert_layer_healthy(a, ra)
        assert_layer_healthy(b, rb)
        na, nb = _names(a), _names(b)
        pa, pb = w.ports[a], w.ports[b]
        check(published(na["mariadb"]).get("3306/tcp") == pa["EXECUTOR_DB_PORT"]
              and published(nb["mariadb"]).get("3306/tcp") == pb["EXECUTOR_DB_PORT"],
              f"databases on {pa['EXECUTOR_DB_PORT']} and {pb['EXECUTOR_DB_PORT']}: "
              f"{published(na['mariadb'])} {published(nb['mariadb'])}")
        check(published(na["router"]) == {"443/tcp": pa["EXECUTOR_LIVE_PORT"], "1443/tcp": pa["EXECUTOR_PREVIEW_PORT"]},
              f"router of {a} on its live/preview ports: {published(na['router'])}")
        for env, n in ((a, na), (b, nb)):
            for svc in SERVICES:
                check(networks_of(n[svc]) == [n["network"]], f"{n[svc]} only on {n['network']}: {networks_of(n[svc])}")
        check(na["network"] != nb["network"], "separate networks")
        mounts_a = [m.get("Name") for m in inspect(na["mariadb"])["Mounts"] if m["Type"] == "volume"]
        mounts_b = [m.get("Name") for m in inspect(nb["mariadb"])["Mounts"] if m["Type"] == "volume"]
        check(mounts_a == [na["volume"]] and mounts_b == [nb["volume"]], f"separate volumes: {mounts_a} {mounts_b}")
        check(w.secrets(a)["DB_PASSWORD"] != w.secrets(b)["DB_PASSWORD"], "separate credentials")

        w.write_rows(a, ["only-in-a"])
        w.write_rows(b, ["only-in-b"])
        check(w.rows(a) == ["only-in-a"] and w.rows(b) == ["only-in-b"], "each database holds its own rows")
        # the credentials of one env do not open the other
        p = w.sql(b, "SELECT 1", password=w.secrets(a)["DB_PASSWORD"], ok=False)
        check(p.returncode != 0 and "Access denied" in p.stderr, f"{a}'s password is refused by {b}: {p.stderr.strip()}")

        r = w.local("teardown", a, "--volumes")
        check(r.returncode == 0, f"teardown {a}: {r.stderr.strip()}")
        assert_gone(a, volume_kept=False)
        assert_layer_healthy(b)
        check(w.rows(b) == ["only-in-b"], f"{b} is untouched by the teardown of {a}")


def _seed_envs(ports: dict[str, dict[str, str]], jobvars: dict[str, dict[str, str]]) -> str | None:
    """Set up devlocal and ci side by side and check them; returns why not when a seed
    port turned out to be taken by something else."""
    with World(*SEED_ENVS, ports=ports) as w:
        results = {}
        for env in SEED_ENVS:
            job = Job(name=f"durable:setup-{env}", stage="durable", image=None, git_strategy="fetch",
                      repo_url=w.repo, sha=w.head(), refspecs=["+refs/heads/main:refs/remotes/origin/main"],
                      variables={"EXECUTOR_APP": APP, **jobvars[env]})
            results[env] = res = w.run(job)
            w.note_secrets(env)
            if not jobvars[env] and res.status != "success" and "a published port is taken" in res.text:
                return f"setup of {env} found a seed port taken: " + \
                    next(ln for ln in res.text.splitlines() if "port is taken" in ln)
            expect_success(res)
        for env in SEED_ENVS:
            n, p = _names(env), ports[env]
            assert_layer_healthy(env, results[env])
            check(n["mariadb"] == f"{APP}-{env}-durable-mariadb" and n["network"] == f"{APP}-{env}-durable-network",
                  "the seed's naming")
            check(published(n["mariadb"]) == {"3306/tcp": p["EXECUTOR_DB_PORT"]},
                  f"{env} database on {p['EXECUTOR_DB_PORT']}: {published(n['mariadb'])}", results[env])
            check(published(n["router"]) == {"443/tcp": p["EXECUTOR_LIVE_PORT"], "1443/tcp": p["EXECUTOR_PREVIEW_PORT"]},
                  f"{env} router on {p['EXECUTOR_LIVE_PORT']}/{p['EXECUTOR_PREVIEW_PORT']}: {published(n['router'])}",
                  results[env])
            for svc in SERVICES:
                check(networks_of(n[svc]) == [n["network"]], f"{n[svc]} only on {n['network']}")
        check(_names("ci")["network"] != _names("devlocal")["network"], "separate networks")
        w.write_rows("ci", ["ci-row"])
        w.write_rows("devlocal", ["devlocal-row"])
        check(w.rows("ci") == ["ci-row"] and w.rows("devlocal") == ["devlocal-row"], "separate data")
    return None


def test_seed_envs_devlocal_and_ci_side_by_side():
    """The seed's names and ports: devlocal on 3306 (router 8443/9443), ci on 3307
    (router 443/1443), from the driver's defaults (the jobs set no port). When one of
    those ports is busy on this machine the test still runs, with moved ports, and says why."""
    wanted = [int(p) for env in SEED_ENVS for p in SEED_PORTS[env].values()]
    busy = [p for p in wanted if not port_free(p)]
    why = f"seed ports {busy} are busy on this machine" if busy else \
        _seed_envs(SEED_PORTS, {env: {} for env in SEED_ENVS})
    if why:
        print(f"  {why}: checking devlocal and ci on moved ports instead", flush=True)
        moved = {env: ports_for("seed-" + env) for env in SEED_ENVS}
        check(_seed_envs(moved, moved) is None, "moved ports")


def test_rows_survive_teardown_and_a_new_setup():
    env = "e2edura"
    with World(env) as w:
        w.setup(env)
        w.write_rows(env, ["alpha", "beta", "gamma"])
        secrets_before = w.secrets(env)
        n = _names(env)

        r = w.local("teardown", env)
        check(r.returncode == 0, f"teardown exits 0: {r.returncode} {r.stderr.strip()}")
        out = r.stdout + r.stderr
        check(f"Durable layer of env {env} removed; its volumes (data) are kept" in out, f"teardown says so: {out!r}")
        check(f"Removed container {n['mariadb']}" in out and f"Removed network {n['network']}" in out,
              f"teardown names what it removed: {out!r}")
        assert_gone(env, volume_kept=True)
        check(w.secrets(env) == secrets_before, "the credentials are kept with the data")

        res = w.setup(env)
        check(f"Durable layer of env {env} ready: 2 created" in res.text, "the layer is created again", res)
        check(f"Created volume {n['volume']}" not in res.text, "the data volume is reused, not created", res)
        mounts = [m.get("Name") for m in inspect(n["mariadb"])["Mounts"] if m["Type"] == "volume"]
        check(mounts == [n["volume"]], f"the new database container mounts {n['volume']}: {mounts}", res)
        assert_layer_healthy(env, res)
        check(w.rows(env) == ["alpha", "beta", "gamma"], "the rows survived teardown and setup", res)


def test_unconfirmed_or_unprotected_durable_cleanup_refuses_and_deletes_nothing():
    env = "e2edura"
    with World(env) as w:
        w.setup(env)
        w.write_rows(env, ["precious"])
        before = layer_facts(env)
        secrets_before = w.secrets(env)

        cases = [
            ("no confirmation", True, {}, [f"EXECUTOR_CONFIRM_DESTROY={env}", "refused"]),
            ("confirmation for another env", True, {"EXECUTOR_CONFIRM_DESTROY": "ci"},
             [f"EXECUTOR_CONFIRM_DESTROY={env}", "refused"]),
            ("unprotected ref claiming CI_COMMIT_REF_PROTECTED=true", False,
             {"EXECUTOR_CONFIRM_DESTROY": env, "CI_COMMIT_REF_PROTECTED": "true"},
             ["protected branch or tag", "not protected in the job payload",
              "CI_COMMIT_REF_PROTECTED set by a job does not count"]),
        ]
        for what, protected, variables, says in cases:
            job = w.job(f"cleanup:durable-{env}", env, protected=protected, variables=variables)
            res = w.run(job)
            expect_failure(res, "build")
            check(res.final_line.startswith("ERROR: Job failed: exit status"), f"{what}: {res.final_line}", res)
            for s in says:
                check(s in res.text, f"{what}: the job log says {s!r}", res)
            check("Removed " not in res.text, f"{what}: nothing was removed", res)
            check(layer_facts(env) == before, f"{what}: the layer is untouched", res)
            check(w.rows(env) == ["precious"], f"{what}: the data is untouched", res)
            check(w.secrets(env) == secrets_before, f"{what}: the credentials are untouched", res)
        history = open(os.path.join(w.env_dir(env), "history.jsonl")).read().splitlines()
        refused = [e for e in map(json.loads, history) if e.get("result") == "refused"]
        check(len(refused) == 3, f"three refusals recorded in the history: {history[-4:]}")


def test_teardown_refuses_while_a_color_of_the_app_runs_on_the_layer():
    """Colors of this app (Compose project e2edur-<color>) block the teardown; a color of
    another app in an env of the same name runs on another durable layer and does not.
    The colors are stand-ins: busybox containers with a deployed color's labels."""
    env = "e2edura"
    with World(env) as w:
        w.setup(env)
        before = layer_facts(env)

        def fake_color(name: str, app: str) -> str:
            project = f"{app}-green"
            docker("run", "-d", "--name", name, "--label", "io.executor.managed=true", "--label", f"io.executor.app={app}",
                   "--label", "io.executor.layer=color", "--label", f"io.executor.env={env}",
                   "--label", "io.executor.color=green", "--label", f"com.docker.compose.project={project}",
                   BUSYBOX, "sleep", "600")
            return name

        ours = fake_color(f"{APP}-{env}-e2e-green", APP)
        try:
            r = w.local("teardown", env, "--volumes")
            check(r.returncode != 0, f"teardown with green running must fail: rc {r.returncode}")
            want = f"colors green of env {env} still run on its durable layer: clean them up first"
            check(want in r.stderr, f"the refusal says {want!r}: {r.stderr.strip()!r}")
            check(layer_facts(env) == before, "the refused teardown removed nothing")
        finally:
            docker("rm", "-f", ours, check=False)
        other = fake_color(f"{APP}-{env}-e2e-otherapp-green", "e2eotherapp")
        try:
            r = w.local("teardown", env)
            check(r.returncode == 0, f"another app's green does not block the teardown: {r.stderr.strip()!r}")
            assert_gone(env, volume_kept=True, ignore=(other,))
            check(inspect(other)["State"]["Running"], "the other app's container is untouched")
        finally:
            docker("rm", "-f", other, check=False)


def test_confirmed_durable_cleanup_deletes_the_data():
    env = "e2edura"
    with World(env) as w:
        w.setup(env)
        w.write_rows(env, ["doomed"])
        old = w.secrets(env)
        job = w.job(f"cleanup:durable-{env}", env, protected=True, variables={"EXECUTOR_CONFIRM_DESTROY": env})
        res = w.run(job)
        expect_success(res)
        n = _names(env)
        t = res.text
        check(f"Removed volume {n['volume']} (its data is gone)" in t, "the job says the data is gone", res)
        check(f"Durable layer of env {env} removed, with its data" in t, "final message", res)
        assert_gone(env, volume_kept=False)
        check(not os.path.exists(w.secrets_path(env)), "the credentials of the deleted data are removed", res)

        res = w.setup(env)
        check(f"Created volume {n['volume']}" in res.text, "a new, empty volume", res)
        new = w.secrets(env)
        check(new["DB_PASSWORD"] != old["DB_PASSWORD"] and new["DB_ROOT_PASSWORD"] != old["DB_ROOT_PASSWORD"],
              "new credentials for the new database", res)
        p = w.sql(env, "SELECT v FROM e2e_rows", ok=False)
        check(p.returncode != 0 and "doesn't exist" in p.stderr, f"the old rows are gone: {p.stdout!r} {p.stderr!r}", res)
        p = w.sql(env, "SELECT 1", password=old["DB_PASSWORD"], ok=False)
        check(p.returncode != 0 and "Access denied" in p.stderr, "the old password no longer opens it", res)


def _line_of(text: str, needle: str) -> int:
    for i, ln in enumerate(text.splitlines(), 1):
        if needle in ln:
            return i
    raise AssertionError(f"{needle!r} not in the durable file")


def test_bad_durable_files_fail_with_file_and_line_and_create_nothing():
    env = "e2edurbad"
    with World(env) as w:
        good = w.good_durable

        def variant(old: str, new: str) -> str:
            check(old in good, f"the example durable file changed: {old!r} not found; update this test")
            return good.replace(old, new, 1)

        cases = [
            ("YAML syntax error", variant("    image: echobase/router:local\n", "    image: echobase/router:local: x\n"),
             "echobase/router:local: x", ["YAML syntax error"]),
            ("YAML tab indentation", variant("    image: echobase/router:local\n", "\timage: echobase/router:local\n"),
             "\timage:", ["YAML syntax error", "tab"]),
            ("missing required variable", variant("image: echobase/mariadb:local", "image: ${E2E_DUR_UNSET:?needed}"),
             "E2E_DUR_UNSET", ["E2E_DUR_UNSET", "needed"]),
            ("unknown depends_on", variant("    stop_grace_period: 15s\n",
                                           "    stop_grace_period: 15s\n    depends_on: [nosuchservice]\n"),
             "depends_on:", ["depends_on", "nosuchservice"]),
            ("wrong type (retries)", variant("      retries: 5\n", "      retries: many\n"),
             "retries: many", ["retries", "many"]),
            ("wrong type (ports)", variant('    ports:\n      - "${EXECUTOR_DB_PORT}:3306"\n', "    ports: 3306\n"),
             "ports: 3306", ["ports", "expected a sequence"]),
        ]
        for what, text, marker, says in cases:
            ln = _line_of(text, marker)
            lines = (ln, ln)
            sha = w.commit(DURABLE_FILE, text, f"bad durable file: {what}")
            res = w.run(w.job(f"durable:setup-{env}", env, sha=sha))
            expect_failure(res, "build")
            m = re.search(r"durable/docker-compose\.yml:(\d+): (.*)", res.text)
            check(m is not None, f"{what}: the error names the file and line", res)
            check(lines[0] <= int(m.group(1)) <= lines[1], f"{what}: line {m.group(1)}, want {lines}", res)
            for s in says:
                check(s in m.group(2), f"{what}: the message says {s!r}: {m.group(0)!r}", res)
            check(m.group(0).startswith("durable/docker-compose.yml"), "the file is named relative to the checkout", res)
            check(w.repo not in m.group(0), "no temp paths in the message", res)
            objs = env_objects(env)
            check(not any(objs.values()), f"{what}: nothing created: {objs}", res)

        # the operator's command reports the same way
        w.sync_checkout()
        r = w.local("setup", env)
        check(r.returncode != 0, f"executor durable setup with a bad file exits non-zero: {r.returncode}")
        check("durable/docker-compose.yml:" in r.stderr and "expected a sequence" in r.stderr,
              f"the local command names the file and line: {r.stderr.strip()!r}")
        check(not any(env_objects(env).values()), f"nothing created: {env_objects(env)}")

        # a bad file never touches a layer that runs
        sha = w.commit(DURABLE_FILE, good, "good durable file")
        w.setup(env, sha=sha)
        before = layer_facts(env)
        sha = w.commit(DURABLE_FILE, cases[2][1], "bad again")
        res = w.run(w.job(f"durable:setup-{env}", env, sha=sha))
        expect_failure(res, "build")
        check(layer_facts(env) == before, "the running layer is untouched by a bad file", res)


def test_two_setups_at_once_are_serialized_by_the_lock():
    env = "e2edurlk"
    with World(env) as w:
        ja = w.job(f"durable:setup-{env}", env)
        jb = w.job(f"durable:setup-{env}", env)
        # two concurrent jobs of one project get different slots (CI_CONCURRENT_ID and
        # CI_CONCURRENT_PROJECT_ID), so different checkouts, as gitlab-runner gives them
        a = start_job(ja, w.runner(concurrent_id=0, concurrent_project_id=0))
        b = start_job(jb, w.runner(concurrent_id=1, concurrent_project_id=1))
        ra, rb = w.capture(a.wait(300)), w.capture(b.wait(300))
        expect_success(ra)
        expect_success(rb)
        w.note_secrets(env)
        created = [r for r in (ra, rb) if f"Durable layer of env {env} ready: 2 created" in r.text]
        verified = [r for r in (ra, rb) if f"The durable layer of env {env} is already running and healthy" in r.text]
        check(len(created) == 1 and len(verified) == 1,
              f"one creates, the other finds it running: created by {[r.job.id for r in created]}, "
              f"verified by {[r.job.id for r in verified]}", ra)
        first, second = created[0], verified[0]
        want = f"waiting for the lock on env '{env}': held by job {first.job.id} (durable-setup)"
        check(want in second.text, f"the second job says it waits and names the holder: {want!r}", second)
        check("waiting for the lock" not in first.text, "the first did not wait", first)
        build_a = first.run_calls("build_script")[0]
        build_b = second.run_calls("build_script")[0]
        check(build_b.ended >= build_a.ended, "the waiting job finished after the holder", second)
        check(build_b.started < build_a.ended, "the two setups really overlapped", second)
        assert_layer_healthy(env, second)
        check(len(env_objects(env)["containers"]) == 2, f"one layer: {env_objects(env)}")
        with open(os.path.join(w.env_dir(env), "history.jsonl")) as f:
            hist = [json.loads(ln) for ln in f if ln.strip()]
        msgs = sorted(e.get("message") for e in hist if e.get("action") == "durable-setup")
        check(msgs == ["created", "verified"], f"the history records one creation and one verification: {msgs}")
        for r in (ra, rb):
            assert_no_leftovers(r.job, wait=0)


def test_secrets_stay_out_of_logs_and_their_files_are_private():
    env = "e2edursec"
    with World(env) as w:
        res = w.setup(env)
        check("generated" in res.text and "secrets.json" in res.text,
              "the first setup says it generated credentials (without printing them)", res)
        s = w.secrets(env)
        for k in ("DB_ROOT_PASSWORD", "DB_PASSWORD"):
            check(re.fullmatch(r"[A-Za-z0-9]{32}", s[k]) is not None, f"{k} is 32 random alphanumerics")
        # the generated credentials are the database's
        check(w.sql(env, "SELECT CURRENT_USER()").stdout.startswith(s["DB_USER"] + "@"), "app user logs in")
        check(w.sql(env, "SELECT 1", user="root", password=s["DB_ROOT_PASSWORD"]).stdout.strip() == "1",
              "root logs in with DB_ROOT_PASSWORD")

        path = w.secrets_path(env)
        mode = stat.S_IMODE(os.stat(path).st_mode)
        check(mode == 0o600, f"secrets.json is 0600, is {mode:04o}")
        envdir = os.path.dirname(path)
        # <state>/apps/<app>/envs/<env>, and every directory up to apps/
        for d in (envdir, os.path.dirname(envdir), os.path.join(w.state, "apps", APP), os.path.join(w.state, "apps")):
            dm = stat.S_IMODE(os.stat(d).st_mode)
            check(dm == 0o700, f"{d} is 0700, is {dm:04o}")
        sdir = os.path.join(envdir, "secrets")
        if os.path.isdir(sdir):
            check(stat.S_IMODE(os.stat(sdir).st_mode) == 0o700, f"{sdir} is 0700")

        # more runs that print things: verify, local setup, teardown, setup again
        w.setup(env)
        r = w.local("setup", env)
        check(r.returncode == 0, f"local setup: {r.stderr.strip()}")
        r = w.local("teardown", env)
        check(r.returncode == 0, f"local teardown: {r.stderr.strip()}")
        w.setup(env)
        check(w.secrets(env) == s, "the same credentials after teardown (volumes kept) and setup")

        # nor in the containers' labels (the recorded spec hashes environment values)
        n = _names(env)
        for svc in SERVICES:
            labels = json.dumps(inspect(n[svc])["Config"]["Labels"])
            for k in ("DB_ROOT_PASSWORD", "DB_PASSWORD"):
                check(s[k] not in labels, f"{k} appears in the labels of {n[svc]}")
        # nor in the env's other state files
        for f in ("state.json", "history.jsonl"):
            p = os.path.join(envdir, f)
            if os.path.exists(p):
                text = open(p).read()
                for k in ("DB_ROOT_PASSWORD", "DB_PASSWORD"):
                    check(s[k] not in text, f"{k} appears in {f}")
        check(len(w.captured) > 20, f"captured {len(w.captured)} outputs to check")
        w.assert_no_secret_leaked()


def test_docker_compose_ps_lists_the_durable_containers():
    env = "e2edura"
    dc = shutil.which("docker-compose")
    check(dc is not None, "docker-compose is missing: apt-get install docker-compose (scripts/install-deps.sh test)")
    with World(env) as w:
        w.setup(env)
        n = _names(env)
        # Compose v1 wants a file; it finds the containers by the project and service labels
        d = os.path.join(w.tmp, "compose-ps")
        os.makedirs(d)
        with open(os.path.join(d, "docker-compose.yml"), "w") as f:
            f.write("services:\n  mariadb:\n    image: echobase/mariadb:local\n"
                    "  router:\n    image: echobase/router:local\n")

        def compose(project: str, *args: str) -> subprocess.CompletedProcess:
            return subprocess.run([dc, "-p", project, *args], cwd=d, capture_output=True, text=True, timeout=120)

        p = compose(_project(env), "ps")
        check(p.returncode == 0, f"docker-compose ps: {p.stderr.strip()}")
        for svc in SERVICES:
            line = [ln for ln in p.stdout.splitlines() if ln.startswith(n[svc] + " ")]
            check(line and "Up" in line[0], f"docker-compose -p {_project(env)} ps lists {n[svc]} as Up:\n{p.stdout}")
        check(f"{w.ports[env]['EXECUTOR_DB_PORT']}->3306/tcp" in p.stdout, f"with its port:\n{p.stdout}")
        ids = sorted(compose(_project(env), "ps", "-q").stdout.split())
        want = sorted(inspect(n[s])["Id"] for s in SERVICES)
        check(ids == want, f"docker-compose ps -q gives the durable containers: {ids} vs {want}")
        other = compose(_project("e2edurb"), "ps", "-q")
        check(other.returncode == 0 and not other.stdout.strip(), f"another project lists nothing: {other.stdout!r}")
        logs = compose(_project(env), "logs", "--no-color", "--tail", "5", "router")
        check(logs.returncode == 0 and n["router"] in logs.stdout, f"docker-compose logs works: {logs.stderr.strip()}")
