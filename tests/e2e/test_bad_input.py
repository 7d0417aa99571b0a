"""The bad-input catalogue: malformed and hostile input, each case asserting the exact
message (the stable part: what is wrong and how to fix it), the failure class (build
failure: exit 1 / harness failure "build"; system failure: exit 2 / "system") and that
nothing was left behind.

A table of cases, three kinds:

  durable  a stack file given to `executor durable setup e2ebadnl` (a local command in a
           checkout, EXECUTOR_DURABLE_FILE=bad/<case>.yml); env e2ebadnl never has a layer
  deploy   a color's stack file given to `executor deploy green --env e2ebad`
           (EXECUTOR_COMPOSE_FILES=bad/<case>.yml) while env e2ebad's durable layer runs
  job      a job through harness.py (hostile job variables, job names, a malformed
           $JOB_RESPONSE_FILE, a stage name never seen, images, a missing layer)

Everything is app e2ebad (envs e2ebad*), ports picked free from 24000 up. ONE durable
layer (env e2ebad) is set up by the first test and torn down (--volumes) by the last
(an exit handler removes it should that test not run). After every case: no new
container, network or volume labelled io.executor.app=e2ebad or named e2ebad-*, none
with the job's runner labels, and the running layer untouched (same containers, same
start times).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import time
from typing import Callable

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import e2elib  # noqa: E402
from e2elib import git as _git  # noqa: E402
from e2elib import REPO, Job, assert_no_leftovers, check, docker, executor_bin, run_job, runner_config  # noqa: E402,E501
from world import AppWorld, build_example_images, example_repo, pick_ports, shared  # noqa: E402

NEEDS_DOCKER = True

APP = "e2ebad"
ENV = "e2ebad"  # the env with the module's one durable layer
NOLAYER = "e2ebadnl"  # an env that never has one
EXAMPLE = os.path.join(REPO, "templates", "example")
PORT_BASE = 24000
PORT_VARS = ("EXECUTOR_DB_PORT", "EXECUTOR_LIVE_PORT", "EXECUTOR_PREVIEW_PORT",
             "GREEN_API_PORT", "GREEN_FRONTEND_HTTPS_PORT", "GREEN_FRONTEND_HTTP_PORT",
             "GREEN_LOCALSTACK_PORT", "GREEN_LOCALSTACK_ALT_PORT", "E2EBAD_BUSY_PORT")
LAYER = (f"{APP}-{ENV}-durable-mariadb", f"{APP}-{ENV}-durable-router")
BUILD, SYSTEM = "build", "system"




# ------------------------------------------------------------------ Docker objects of the app


def app_objects() -> set[str]:
    """Every container, network and volume of app e2ebad (label or name e2ebad-*)."""
    return {f"{kind[:-1]} {n}" for kind, names in e2elib.app_objects(APP).items() for n in names}


def remove_app_objects() -> list[str]:
    return e2elib.remove_app_objects(APP)


def layer_facts() -> dict:
    facts = {}
    for n in LAYER:
        p = docker("inspect", "-f", "{{.Id}} {{.State.StartedAt}} {{.State.Running}}", n, check=False)
        facts[n] = p.stdout.strip()
    return facts


# ------------------------------------------------------------------ the module's world


class World(AppWorld):
    app_name, env_name = APP, ENV

    def __init__(self) -> None:
        build_example_images()
        super().__init__("e2ebad-", "bad.conf", pick_ports(PORT_BASE, 1000, PORT_VARS),
                         allowed_images="executor-test/*, echobase/*", pull_policy="never")
        self.repo = os.path.join(self.tmp, "repo")
        self.checkout = os.path.join(self.tmp, "checkout")
        self.sha = example_repo(self.repo)
        _git(self.tmp, "clone", "-q", self.repo, self.checkout)
        os.makedirs(os.path.join(self.checkout, "bad"))
        self.baseline: set[str] = set()

    def variables(self, **extra: str) -> dict[str, str]:
        v = {"EXECUTOR_APP": APP, **self.ports}
        v.update(extra)
        return v

    def local(self, *args: str, env: dict[str, str] | None = None,  # type: ignore[override]
              timeout: float = 300) -> subprocess.CompletedProcess:
        return super().local(*args, cwd=self.checkout, env=env, timeout=timeout, errors="replace")

    def write(self, rel: str, data: str | bytes) -> str:
        path = os.path.join(self.checkout, rel)
        with open(path, "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode())
        return rel

    def job(self, name: str, *, variables: dict[str, str] | None = None, stage: str = "deploy",
            image: str | None = None, script: list[str] | None = None, **kw) -> Job:
        return Job(script or ["echo 'carried out by the executor driver'"], name=name, stage=stage, image=image,
                   git_strategy="fetch" if image is None else "none", repo_url=self.repo, sha=self.sha,
                   refspecs=["+refs/heads/main:refs/remotes/origin/main"], project="e2e/echobase",
                   variables=self.variables(**{"EXECUTOR_ENV": ENV, **(variables or {})}), **kw)

    def runner(self, **kw):
        return runner_config(extra_env={"EXECUTOR_CONFIG": self.config, "NO_COLOR": "1"}, **kw)

    def ensure_layer(self) -> None:
        if self.layer_up and all(f.endswith(" true") for f in layer_facts().values()):
            return
        p = self.local("durable", "setup", ENV, timeout=400)
        check(p.returncode == 0, f"durable setup {ENV} exited {p.returncode}: {p.stderr.strip()[-3000:]}")
        self.layer_up = True

    def teardown(self) -> list[str]:  # type: ignore[override]
        problems = []
        p = self.local("cleanup", "green", "--env", ENV, "--force")
        if p.returncode != 0 and "not deployed" not in p.stderr and "no color" not in p.stderr:
            pass  # nothing of green is expected; the leftovers check below says what is left
        p = self.local("durable", "teardown", ENV, "--volumes")
        if p.returncode != 0:
            problems.append(f"durable teardown {ENV} --volumes exited {p.returncode}: {p.stderr.strip()[-2000:]}")
        self.layer_up = False
        return problems


def _at_exit(w: World) -> None:
    if any(app_objects()):
        w.teardown()
        remove_app_objects()
    shutil.rmtree(w.tmp, ignore_errors=True)


world: Callable[[], World] = shared("test_bad_input", APP, World, _at_exit)  # type: ignore[assignment]


# ------------------------------------------------------------------ the catalogue

HDR = "services:\n  db:\n    image: echobase/mariadb:local\n"
APP_HDR = "services:\n  web:\n    image: echobase/frontend:local\n"


def _byte_laughs() -> str:
    """1 MB: a 512 KiB scalar and 1,000 aliases to it (512 MB expanded)."""
    return ("x-big: &big \"" + "a" * (512 * 1024) + "\"\nx-laughs: [" + ", ".join(["*big"] * 1000) + "]\n"
            + HDR)


def _laughs() -> str:
    s = "x-a: &a [1,1,1,1,1,1,1,1,1,1]\n"
    for prev, cur in zip("abcde", "bcdef"):
        s += f"x-{cur}: &{cur} [" + ",".join([f"*{prev}"] * 10) + "]\n"
    return s + HDR


# (name, kind, input, expected message (stable part), class)
# durable/deploy: input is the stack file's text (or bytes); job: a function of the World
# returning (Job, runner kwargs) or a Job.
DURABLE_CASES = [
    ("yaml-unclosed-flow", "services:\n  a: [\n", "bad/yaml-unclosed-flow.yml:3: YAML syntax error: flow sequence "
     "without a closing bracket", BUILD),
    ("yaml-tab-indent", "services:\n\tdb:\n    image: x\n",
     "bad/yaml-tab-indent.yml:2: YAML syntax error: tab character may not be used as indentation", BUILD),
    ("yaml-duplicate-key", HDR + "    image: echobase/router:local\n",
     "bad/yaml-duplicate-key.yml:4: YAML syntax error: duplicate key", BUILD),
    ("top-level-sequence", "- a\n- b\n",
     "bad/top-level-sequence.yml:1: the file must be a mapping (services:, ...), not a sequence", BUILD),
    ("two-documents", HDR + "---\n" + HDR,
     "bad/two-documents.yml:5: more than one YAML document in a stack file is not supported", BUILD),
    ("services-is-a-list", "services:\n  - db\n",
     "bad/services-is-a-list.yml:1: services: expected a mapping, got a sequence", BUILD),
    ("ports-is-a-string", HDR + "    ports: abc\n",
     "bad/ports-is-a-string.yml:4: services.db.ports: expected a sequence, got a string", BUILD),
    ("port-out-of-range", HDR + "    ports:\n      - \"70000:3306\"\n",
     "bad/port-out-of-range.yml:5: services.db.ports[0]: invalid host port \"70000\"", BUILD),
    ("port-protocol", HDR + "    ports:\n      - \"24999:3306/sctpx\"\n",
     "bad/port-protocol.yml:5: services.db.ports[0]: invalid protocol \"sctpx\" (tcp, udp or sctp)", BUILD),
    ("environment-value-mapping", HDR + "    environment:\n      A:\n        b: c\n",
     "bad/environment-value-mapping.yml:5: services.db.environment.A: expected a string, number or boolean, "
     "got a mapping", BUILD),
    ("restart-unknown", HDR + "    restart: sometimes\n",
     "bad/restart-unknown.yml:4: services.db.restart: expected no, always, on-failure[:max-retries] or "
     "unless-stopped, got \"sometimes\"", BUILD),
    ("healthcheck-test", HDR + "    healthcheck:\n      test: [\"BOGUS\", \"x\"]\n",
     "bad/healthcheck-test.yml:5: services.db.healthcheck.test: a list must start with \"CMD\", \"CMD-SHELL\" "
     "or \"NONE\"", BUILD),
    ("no-image", "services:\n  db:\n    command: x\n", "bad/no-image.yml:2: services.db: no image: set image:", BUILD),
    ("depends-on-unknown", HDR + "    depends_on: [nope]\n",
     "bad/depends-on-unknown.yml:4: services.db.depends_on: unknown service \"nope\"", BUILD),
    ("depends-on-cycle", "services:\n  a:\n    image: echobase/mariadb:local\n    depends_on: [b]\n"
     "  b:\n    image: echobase/mariadb:local\n    depends_on: [a]\n",
     "bad/depends-on-cycle.yml:2: services.a.depends_on: dependency cycle: a -> b -> a", BUILD),
    ("undefined-network", HDR + "    networks: [nope]\n",
     "bad/undefined-network.yml:4: services.db.networks.nope: refers to undefined network \"nope\" (declare it "
     "under the top-level networks:)", BUILD),
    ("undefined-volume", HDR + "    volumes:\n      - nope:/data\n",
     "bad/undefined-volume.yml:5: services.db.volumes[0]: refers to undefined volume \"nope\" (declare it under "
     "the top-level volumes:)", BUILD),
    ("same-container-name", "services:\n  a:\n    image: echobase/mariadb:local\n    container_name: e2ebad-same\n"
     "  b:\n    image: echobase/mariadb:local\n    container_name: e2ebad-same\n",
     "bad/same-container-name.yml:5: services a and b have the same container name e2ebad-same", BUILD),
    # no silent drops (issue 16): a key that is not Compose's is a typo until shown otherwise,
    # metadata warns, and what leaves the sandbox needs the admin's allowed_stack_options
    ("unknown-key-refused",
     "services:\n  db:\n    image: echobase/mariadb:local\n    bogus_key: 1\n",
     "bad/unknown-key-refused.yml:4: services.db.bogus_key: unknown key (not a Compose key: a typo?)", BUILD),
    ("metadata-warned",
     "services:\n  db:\n    image: alpine:latest\n    develop: {}\n",
     ["bad/metadata-warned.yml:4: services.db.develop is ignored",
      "service db uses image alpine:latest, which is not allowed on this runner (allowed: executor-test/*, "
      "echobase/*)"], BUILD),
    ("privileged-not-allowed",
     "services:\n  db:\n    image: echobase/mariadb:local\n    privileged: true\n",
     "bad/privileged-not-allowed.yml:2: service db asks for privileged, which leaves the container's sandbox: "
     "not allowed unless the runner admin lists \"privileged\" in allowed_stack_options", BUILD),
    ("interpolation-unclosed", "services:\n  db:\n    image: echobase/mariadb:${TAG\n",
     "bad/interpolation-unclosed.yml:3: services.db.image: invalid interpolation in \"echobase/mariadb:${TAG\": "
     "missing \"}\" after \"${\"", BUILD),
    ("interpolation-bad-name", "services:\n  db:\n    image: echobase/mariadb:${1TAG}\n",
     "services.db.image: invalid interpolation in \"echobase/mariadb:${1TAG}\": a variable name must start "
     "with a letter or _", BUILD),
    ("interpolation-required", "services:\n  db:\n    image: echobase/mariadb:${E2EBAD_TAG:?set E2EBAD_TAG}\n",
     "bad/interpolation-required.yml:3: services.db.image: required variable E2EBAD_TAG is missing a value: "
     "set E2EBAD_TAG", BUILD),
    ("interpolation-nested-deep", "services:\n  db:\n    image: x" + "${A:-" * 40 + "x" + "}" * 40 + "\n",
     "...\": nested too deeply", BUILD),
    ("service-name-shell-metachars", "services:\n  'db;rm -rf /':\n    image: echobase/mariadb:local\n",
     "bad/service-name-shell-metachars.yml:2: services.db;rm -rf /: invalid service name: use letters, digits, "
     "'.', '_' and '-'", BUILD),
    ("container-name-shell-metachars", HDR + "    container_name: \"x$(id)\"\n",
     "bad/container-name-shell-metachars.yml:4: services.db.container_name: invalid container name \"x$(id)\"",
     BUILD),
    ("bind-dotdot-to-etc", HDR + "    volumes:\n      - ../../../../../../etc:/x\n",
     "bad/bind-dotdot-to-etc.yml:2: service db bind-mounts /etc, outside the project and the paths the runner "
     "admin allows (allowed_bind_paths: (none)); use a named volume", BUILD),
    ("env-file-outside-the-checkout", HDR + "    env_file: ../../../../../../../../etc/passwd\n",
     "env_file ../../../../../../../../etc/passwd is outside the project directory; keep env files in the "
     "repository", BUILD),
    ("bind-docker-socket", HDR + "    volumes:\n      - /var/run/docker.sock:/var/run/docker.sock\n",
     "service db bind-mounts /var/run/docker.sock, outside the project and the paths the runner admin allows "
     "(allowed_bind_paths: (none)); use a named volume", BUILD),
    ("image-not-allowed", "services:\n  db:\n    image: alpine:latest\n",
     "bad/image-not-allowed.yml:2: service db uses image alpine:latest, which is not allowed on this runner "
     "(allowed: executor-test/*, echobase/*)", BUILD),
    ("image-missing", "services:\n  db:\n    image: echobase/e2ebad-no-such-image:local\n",
     "image echobase/e2ebad-no-such-image:local is not present and pull_policy is never; load it on the "
     "runner host or change pull_policy", SYSTEM),
    ("external-network-missing", HDR + "    networks: [x]\nnetworks:\n  x:\n    external: true\n"
     "    name: e2ebad-no-such-net\n",
     "network e2ebad-no-such-net is declared external but does not exist; create it, or drop `external: true`",
     BUILD),
    ("absurdly-long-container-name", HDR + "    container_name: " + "a" * 5000 + "\n",
     "bad/absurdly-long-container-name.yml:4: services.db.container_name: invalid container name \"" + "a" * 80
     + "...\": Docker names are [a-zA-Z0-9][a-zA-Z0-9_.-]+ (at most 255 characters); use such a name", BUILD),
    ("deep-nesting", HDR + "    command: " + "[" * 100 + "]" * 100 + "\n",
     "bad/deep-nesting.yml:4: YAML syntax error: Max depth (64) exceeded", BUILD),
    ("huge-file", HDR + "    environment:\n" + "".join(f"      V{i}: \"{'x' * 100}\"\n" for i in range(45000)),
     "bad/huge-file.yml: the file is larger than 4194304 bytes", BUILD),
    ("alias-bomb", _laughs(), "bad/alias-bomb.yml: the file has more than 200000 nodes once aliases are expanded",
     BUILD),
    ("nul-byte", (HDR + "    command: a\0b\n").encode(), "bad/nul-byte.yml:4: the file contains a NUL byte", BUILD),
    ("invalid-utf8", HDR.encode() + b"    command: \xff\xfe\n",
     "bad/invalid-utf8.yml:4: invalid UTF-8 (stack files must be saved as UTF-8)", BUILD),
    ("alias-no-anchor", HDR + "    command: *nope\n", "bad/alias-no-anchor.yml:4: alias *nope: no such anchor", BUILD),
    ("alias-bytes-bomb", _byte_laughs(),
     "bad/alias-bytes-bomb.yml:2: the stack grows past 32 MiB once aliases are expanded (each alias is a full copy "
     "of its anchor); use aliases of large values fewer times", BUILD),
    ("volume-name-dotdot", HDR + "    volumes:\n      - v:/data\nvolumes:\n  v:\n    name: ../containers/x\n",
     "bad/volume-name-dotdot.yml:8: volumes.v.name: invalid volume name \"../containers/x\": Docker names are "
     "[a-zA-Z0-9][a-zA-Z0-9_.-]* (at most 255 characters); use such a name", BUILD),
    ("empty-file", "", "bad/empty-file.yml defines no services: the durable layer needs at least its database "
     "(or router); add them, or leave durable:setup-", BUILD),
    ("no-services", "networks:\n  x: {}\n", "bad/no-services.yml defines no services: the durable layer needs",
     BUILD),
]

DEPLOY_CASES = [
    ("color-yaml-syntax", "services:\n  web: {\n",
     "bad/color-yaml-syntax.yml:3: YAML syntax error", BUILD),
    ("color-image-not-allowed", "services:\n  web:\n    image: alpine:latest\n",
     "bad/color-image-not-allowed.yml:2: service web uses image alpine:latest, which is not allowed on this "
     "runner (allowed: executor-test/*, echobase/*)", BUILD),
    ("color-bind-etc", APP_HDR + "    volumes:\n      - /etc:/host-etc:ro\n",
     "service web bind-mounts /etc, outside the project and the paths the runner admin allows "
     "(allowed_bind_paths: (none)); use a named volume", BUILD),
    ("color-route-label-injection", APP_HDR + "    labels:\n      io.executor.route.path: \"/x; return 200;\"\n"
     "      io.executor.route.port: \"3443\"\n",
     "bad/color-route-label-injection.yml:2: service web: io.executor.route.path must start with / (no spaces, "
     "quotes, braces or ;) and io.executor.route.port must be a port", BUILD),
    ("color-interpolation-required", "services:\n  web:\n    image: echobase/frontend:${E2EBAD_TAG:?set it}\n",
     "services.web.image: required variable E2EBAD_TAG is missing a value: set it", BUILD),
    ("color-network-name-dotdot", APP_HDR + "    networks: [n]\nnetworks:\n  n:\n    name: ../networks/y\n",
     "bad/color-network-name-dotdot.yml:7: networks.n.name: invalid network name \"../networks/y\": Docker names "
     "are [a-zA-Z0-9][a-zA-Z0-9_.-]* (at most 255 characters); use such a name", BUILD),
]


def _assert_clean(before: set[str], facts: dict | None, what: str, out: str = "") -> None:
    end = time.monotonic() + 5
    while True:
        new = app_objects() - before
        if not new or time.monotonic() > end:
            break
        time.sleep(0.2)
    check(not new, f"{what}: left Docker objects behind: {sorted(new)}\n{out[-3000:]}")
    if facts is not None:
        now = layer_facts()
        check(now == facts, f"{what}: the running durable layer was touched: {facts} -> {now}\n{out[-3000:]}")


def _expect(what: str, text: str, msgs, cls: str, got_cls: str | None) -> list[str]:
    problems = []
    for m in ([msgs] if isinstance(msgs, str) else msgs):
        if m not in text:
            problems.append(f"{what}: message {m!r} missing; output ends: {text.strip()[-1500:]!r}")
    if got_cls != cls:
        problems.append(f"{what}: a {cls} failure expected, got {got_cls}; output ends: {text.strip()[-800:]!r}")
    return problems


def _cls(rc: int) -> str | None:
    return {0: None, 1: BUILD, 2: SYSTEM}.get(rc, f"exit {rc}")


def _run_file_cases(cases, kind: str) -> None:
    w = world()
    problems = []
    for name, data, msgs, cls in cases:
        rel = w.write(f"bad/{name}.yml", data)
        before = app_objects()
        facts = layer_facts() if w.layer_up else None
        if kind == "durable":
            p = w.local("durable", "setup", NOLAYER, env={"EXECUTOR_DURABLE_FILE": rel})
        else:
            p = w.local("deploy", "green", "--env", ENV, env={"EXECUTOR_COMPOSE_FILES": rel})
        problems += _expect(f"{kind} {name}", p.stderr, msgs, cls, _cls(p.returncode))
        _assert_clean(before, facts, f"{kind} {name}", p.stderr)
    check(not problems, f"{len(problems)} of {len(cases)} cases wrong:\n" + "\n".join(problems))


# ------------------------------------------------------------------ tests


def test_setup_the_one_durable_layer():
    w = world()
    w.ensure_layer()
    w.baseline = app_objects()


def test_bad_durable_stack_files():
    """42 malformed and hostile durable files: each refused with its message, nothing created."""
    _run_file_cases(DURABLE_CASES, "durable")


def test_bad_color_stack_files_leave_the_running_layer_alone():
    w = world()
    w.ensure_layer()
    _run_file_cases(DEPLOY_CASES, "deploy")


def test_port_already_in_use():
    """A color whose host port another process holds: a build failure naming the port,
    the color's half-created containers removed, the layer untouched."""
    w = world()
    w.ensure_layer()
    port = int(w.ports["E2EBAD_BUSY_PORT"])
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(1)
    try:
        rel = w.write("bad/port-in-use.yml", APP_HDR + f"    ports:\n      - \"{port}:3443\"\n")
        before, facts = app_objects(), layer_facts()
        p = w.local("deploy", "green", "--env", ENV, env={"EXECUTOR_COMPOSE_FILES": rel})
        problems = _expect("port in use", p.stderr, [
            "ERROR: start e2ebad-green-web-1 (a published port is taken: stop what uses it or change the port)",
            f"0.0.0.0:{port}: bind: address already in use"], BUILD, _cls(p.returncode))
        check(not problems, "\n".join(problems))
        # a failed deploy keeps the failed color for inspection (as a never-healthy one):
        # only its own objects, which cleanup:green removes
        new = app_objects() - before
        check(new <= {"container e2ebad-green-web-1", "network e2ebad-green_default"},
              f"port in use: only the failed color is left: {sorted(new)}")
        c = w.local("cleanup", "green", "--env", ENV)
        check(c.returncode == 0, f"cleanup green after the failed deploy: {c.stderr[-1500:]}")
        _assert_clean(before, facts, "port in use", p.stderr)
    finally:
        s.close()


def _bad_response_runner(w: World, content: bytes) -> dict:
    """A runner whose prepare_exec overwrites $JOB_RESPONSE_FILE before the driver reads it."""
    wrapper = os.path.join(w.tmp, f"bad-response-{abs(hash(content))}.sh")
    data = os.path.join(w.tmp, f"bad-response-{abs(hash(content))}.json")
    with open(data, "wb") as f:
        f.write(content)
    with open(wrapper, "w") as f:
        f.write(f"#!/bin/sh\ncp '{data}' \"$JOB_RESPONSE_FILE\"\nexec '{executor_bin()}' \"$@\"\n")
    os.chmod(wrapper, 0o755)
    return dict(prepare_exec=wrapper, run_exec=wrapper, cleanup_exec=wrapper, preparation_retries=1)


NAME_RULE = "is not a valid name: use 1 to 32 of a-z, 0-9, - and _, starting with a letter or digit"

JOB_CASES = [
    # (name, job factory, expected message(s), class)
    ("env-with-shell-metachars",
     lambda w: w.job("deploy:green", variables={"EXECUTOR_ENV": "e2ebad;rm -rf /"}),
     "ERROR: EXECUTOR_ENV \"e2ebad;rm -rf /\" " + NAME_RULE, BUILD),
    ("env-absurdly-long",
     lambda w: w.job("deploy:green", variables={"EXECUTOR_ENV": "e2ebad" + "x" * 4000}),
     "ERROR: EXECUTOR_ENV \"e2ebad" + "x" * 58 + "\" " + NAME_RULE, BUILD),
    ("color-with-dotdot",
     lambda w: w.job("deploy:green", variables={"EXECUTOR_COLOR": "../green"}),
     "ERROR: EXECUTOR_COLOR \"../green\" " + NAME_RULE, BUILD),
    ("action-unknown",
     lambda w: w.job("deploy:green", variables={"EXECUTOR_ACTION": "e2e-bogus"}),
     "ERROR: EXECUTOR_ACTION \"e2e-bogus\" is not an action: use none, durable-setup, durable-cleanup, deploy, "
     "promote, rollback or cleanup", BUILD),
    ("job-name-shell-metachars",
     lambda w: w.job("deploy:$(touch /tmp/e2ebad-pwned)"),
     "the color in the job name \"$(touch /tmp/e2ebad-pwned)\" is not a valid name: use 1 to 32 of a-z, 0-9, - "
     "and _, starting with a letter or digit", BUILD),
    ("job-name-absurdly-long",
     lambda w: w.job("deploy:" + "g" * 5000),
     "the color in the job name \"" + "g" * 64 + "\" is not a valid name: use 1 to 32 of a-z, 0-9, - and _", BUILD),
    ("durable-file-dotdot",
     lambda w: w.job(f"durable:setup-{NOLAYER}", stage="durable",
                     variables={"EXECUTOR_ENV": NOLAYER, "EXECUTOR_DURABLE_FILE": "../../../../../../etc/passwd"}),
     "EXECUTOR_DURABLE_FILE \"../../../../../../etc/passwd\" must be a path inside the repository (relative, "
     "without ..)", BUILD),
    ("compose-files-dotdot",
     lambda w: w.job("deploy:green", variables={"EXECUTOR_COMPOSE_FILES": "../../../../../../etc/hostname"}),
     "EXECUTOR_COMPOSE_FILES \"../../../../../../etc/hostname\" must be a path inside the repository (relative, "
     "without ..)", BUILD),
    ("app-name-with-dotdot",
     lambda w: w.job("deploy:green", variables={"EXECUTOR_APP": "../../etc"}),
     "EXECUTOR_APP \"../../etc\" is not a valid name: use 1 to 40 of a-z, 0-9 and -, starting with a letter "
     "or digit", BUILD),
    ("missing-durable-layer",
     lambda w: w.job("deploy:green", variables={"EXECUTOR_ENV": NOLAYER}),
     f"the durable layer of env {NOLAYER} is not set up: run durable:setup-{NOLAYER} (or executor durable setup "
     f"{NOLAYER}) first", BUILD),
    ("job-image-not-allowed",
     lambda w: w.job("test:bad-image", stage="test", image="alpine:latest", script=["true"]),
     "image alpine:latest is not allowed on this runner; allowed: executor-test/*, echobase/*", BUILD),
    ("job-image-registry-spoofing-the-allow-list",
     lambda w: w.job("test:spoofed-image", stage="test", image="executor-test.evil.example/bash:latest",
                     script=["true"]),
     "image executor-test.evil.example/bash:latest is not allowed on this runner; allowed: executor-test/*, "
     "echobase/*", BUILD),
    ("job-image-missing",
     lambda w: w.job("test:missing-image", stage="test", image="executor-test/e2ebad-no-such:latest",
                     script=["true"]),
     "image executor-test/e2ebad-no-such:latest is not present and pull_policy is never; load it on the runner "
     "host or change pull_policy", SYSTEM),
    ("stage-never-seen",
     lambda w: w.job("test:raw-stage", stage="test", image="executor-test/bash:latest", script=["true"],
                     raw_stages=[("step_e2ebad_unknown", ["echo hi"])]),
     ["Executing \"step_e2ebad_unknown\" stage of the job script", "$ echo hi\nhi\n"], None),
    ("response-file-not-json",
     lambda w: (w.job("test:bad-payload", stage="test", image="executor-test/bash:latest", script=["true"]),
                _bad_response_runner(w, b'{"id": 1, "token": ')),
     "job payload is not valid JSON", SYSTEM),
    ("response-file-not-an-object",
     lambda w: (w.job("test:bad-payload2", stage="test", image="executor-test/bash:latest", script=["true"]),
                _bad_response_runner(w, b'[1, 2, 3]')),
     "job payload is not a JSON object", SYSTEM),
]


def test_hostile_jobs_through_the_runner():
    w = world()
    w.ensure_layer()
    problems = []
    for name, make, msgs, cls in JOB_CASES:
        made = make(w)
        job, kw = made if isinstance(made, tuple) else (made, {})
        before, facts = app_objects(), layer_facts()
        res = run_job(job, w.runner(**kw))
        text = res.text + "".join(c.stderr_text for c in res.calls)
        problems += _expect(f"job {name}", text, msgs, cls, res.failure)
        try:
            assert_no_leftovers(job, wait=2)
            _assert_clean(before, facts, f"job {name}", text)
        except AssertionError as e:
            problems.append(str(e))
    check(not os.path.exists("/tmp/e2ebad-pwned"), "a job name ran as a shell command")
    check(not problems, f"{len(problems)} of {len(JOB_CASES)} cases wrong:\n" + "\n".join(problems))


def test_teardown_the_one_durable_layer():
    w = world()
    problems = w.teardown()
    left = remove_app_objects()
    check(not problems and not left, f"teardown: {problems}; left {left}")
