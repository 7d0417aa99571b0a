"""Stacks that keep their own choices (issue 16, "Stacks keep their own choices"), on the real
engine through local commands (`executor durable setup`, `deploy`, `promote`):

- the generated secrets are the ones the durable file declares (x-executor.generate), a
  variable of the same name set by the job wins, nothing is written for a file that is empty or
  declares wrongly, secrets.json is 0600 and no value is printed;
- the durable file's top-level name: is the project's name, and a name that is the Compose
  project of another app's objects is refused;
- a durable stack without a router deploys colors on their own ports; promote refuses;
- an app serving its own certificate (nginx with a CA and certificate this test makes) works
  through the router with io.executor.route.tls-ca (its own CA) and tls-verify: off.

App e2eown, envs e2eown, e2eownn, e2eownr, e2eownt. Ports: from 31700 (router live and preview
entries, one color port). Objects: labelled io.executor.app=e2eown or named e2eown-*, plus
the decoy container e2eownx-decoy this module makes and removes.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import shutil
import ssl
import stat
import subprocess
import sys
import tempfile
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import e2elib  # noqa: E402
import secretscan  # noqa: E402
from e2elib import check, docker, executor_bin, port_free, state_dir, write_admin_config  # noqa: E402

NEEDS_DOCKER = True

APP = "e2eown"
DECOY = "e2eownx-decoy"
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
EXAMPLE = os.path.join(REPO_ROOT, "templates", "example")
PORT_BASE = 31700
JOB_ROOT = "e2eown-job-root-" + os.urandom(8).hex()
JOB_TOKEN = "e2eown-job-token-" + os.urandom(8).hex()

SECRETS_STACK = """x-executor:
  generate:
    OWN_TOKEN: {length: 40}
    OWN_USER: {value: alice}
    OWN_ROOT: {}
services:
  app:
    image: executor-test/busybox:latest
    container_name: e2eown-sec-app
    command: [sleep, "3600"]
    environment:
      TOKEN: ${OWN_TOKEN}
      USER: ${OWN_USER}
      ROOT: ${OWN_ROOT}
"""

ROUTER = """  router:
    image: echobase/router:local
    container_name: e2eown-${EXECUTOR_ENV}-router
    labels: {io.executor.role: router}
    ports: ["${EXECUTOR_LIVE_PORT}:443", "${EXECUTOR_PREVIEW_PORT}:1443"]
    volumes:
      - ${EXECUTOR_ROUTER_DIR}:/etc/nginx/conf.d:ro
      - ${EXECUTOR_TLS_DIR}:/etc/executor/tls:ro
    networks: [durable]
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8081/health"]
      interval: 1s
      timeout: 3s
      retries: 30
"""

NGINX_TLS = """server {
    listen 80;
    location = /health { return 200 "ok\\n"; }
}
server {
    listen 8443 ssl;
    ssl_certificate /etc/web/server.pem;
    ssl_certificate_key /etc/web/server-key.pem;
    location / { default_type text/plain; return 200 "own-tls-ok $ssl_server_name\\n"; }
}
"""

_w = None


def _free_ports(n: int) -> list[int]:
    got, port = [], PORT_BASE
    while len(got) < n:
        check(port < PORT_BASE + 300, "no free ports in 31700-31999")
        if port_free(port):
            got.append(port)
        port += 1
    return got


class World:
    def __init__(self) -> None:
        p = subprocess.run(["bash", os.path.join(EXAMPLE, "images", "build.sh"), "--quiet", "router"],
                           capture_output=True, text=True, timeout=900)
        check(p.returncode == 0, f"templates/example/images/build.sh router failed: {p.stderr.strip()[-2000:]}")
        self.tmp = tempfile.mkdtemp(prefix="e2eown-", dir=state_dir())
        self.state = os.path.join(self.tmp, "driver")
        self.config = write_admin_config(os.path.join(self.tmp, "own.conf"), self.state,
                                         allowed_images="executor-test/*, echobase/*", pull_policy="never")
        self.repo = os.path.join(self.tmp, "repo")
        os.makedirs(self.repo)
        self.live, self.preview, self.web = _free_ports(3)
        secretscan.register(JOB_ROOT, "the job's own OWN_ROOT")
        secretscan.register(JOB_TOKEN, "the job's own OWN_TOKEN")

    def write(self, rel: str, text: str) -> None:
        path = os.path.join(self.repo, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)

    def local(self, *args: str, **env: str) -> subprocess.CompletedProcess:
        e = dict(os.environ, EXECUTOR_CONFIG=self.config, NO_COLOR="1", EXECUTOR_APP=APP,
                 EXECUTOR_LIVE_PORT=str(self.live), EXECUTOR_PREVIEW_PORT=str(self.preview),
                 OWN_WEB_PORT=str(self.web))
        for k in ("OWN_ROOT", "OWN_TOKEN"):
            e.pop(k, None)
        e.update(env)
        return subprocess.run([executor_bin(), *args], cwd=self.repo, env=e, capture_output=True, text=True,
                              errors="replace", timeout=600)

    def env_dir(self, env: str) -> str:
        return os.path.join(self.state, "apps", APP, "envs", env)


def world() -> World:
    global _w
    if _w is None:
        left = e2elib.remove_app_objects(APP)
        if docker("ps", "-aq", "--filter", f"name=^{DECOY}$").stdout.strip():
            docker("rm", "-f", DECOY, check=False)
            left.append(f"container {DECOY}")
        if left:
            print(f"  test_own_stack: removed leftovers of an earlier run: {', '.join(left)}", flush=True)
        _w = World()
        atexit.register(_at_exit)
    return _w


def _at_exit() -> None:
    docker("rm", "-f", DECOY, check=False)
    e2elib.remove_app_objects(APP)
    if _w is not None:
        shutil.rmtree(_w.tmp, ignore_errors=True)


def inspect(name: str) -> dict:
    return json.loads(docker("inspect", name).stdout)[0]


def env_of(name: str) -> dict[str, str]:
    return dict(kv.split("=", 1) for kv in inspect(name)["Config"]["Env"])


def test_secrets_are_the_ones_the_stack_declares_and_the_jobs_win():
    w = world()
    env = "e2eown"
    secrets = os.path.join(w.env_dir(env), "secrets.json")
    f = "own/secrets.yml"
    # an empty stack, and a wrong declaration: refused, and nothing generated or written
    w.write(f, "x-executor:\n  generate:\n    OWN_TOKEN: {}\nservices: {}\n")
    p = w.local("durable", "setup", env, EXECUTOR_DURABLE_FILE=f)
    check(p.returncode != 0 and "own/secrets.yml defines no services" in p.stderr,
          f"an empty durable file is refused: {p.returncode} {p.stderr[-800:]}")
    check(not os.path.exists(secrets), "no secrets.json for an empty durable file")
    w.write(f, SECRETS_STACK.replace("OWN_ROOT: {}", "OWN-ROOT: {}"))
    p = w.local("durable", "setup", env, EXECUTOR_DURABLE_FILE=f)
    check(p.returncode != 0 and "own/secrets.yml:5: x-executor.generate.OWN-ROOT: not a variable name" in p.stderr,
          f"a wrong declaration is refused naming file, line and key: {p.stderr[-800:]}")
    check(not os.path.exists(secrets), "no secrets.json for a wrong declaration")

    # the job sets OWN_ROOT: it is used, and not generated
    w.write(f, SECRETS_STACK)
    p = w.local("durable", "setup", env, EXECUTOR_DURABLE_FILE=f, OWN_ROOT=JOB_ROOT)
    check(p.returncode == 0, f"durable setup: {p.stderr[-1500:]}")
    check(stat.S_IMODE(os.stat(secrets).st_mode) == 0o600, "secrets.json is 0600")
    with open(secrets) as fh:
        doc = json.load(fh)
    s = doc["secrets"]
    check(sorted(s) == ["OWN_TOKEN", "OWN_USER"], f"only the declared names the job does not set: {sorted(s)}")
    check(re.fullmatch(r"[A-Za-z0-9]{40}", s["OWN_TOKEN"]) is not None, "OWN_TOKEN: 40 random alphanumerics")
    check(s["OWN_USER"] == "alice" and doc.get("plain") == ["OWN_USER"], f"OWN_USER is a plain value: {doc.get('plain')}")
    secretscan.register(s["OWN_TOKEN"], "the generated OWN_TOKEN")
    e = env_of("e2eown-sec-app")
    check(e.get("ROOT") == JOB_ROOT, "the job's OWN_ROOT is what the container gets")
    check(e.get("TOKEN") == s["OWN_TOKEN"] and e.get("USER") == "alice", "the generated values reach the container")
    out = p.stdout + p.stderr
    check(JOB_ROOT not in out and s["OWN_TOKEN"] not in out, "no value in the output")
    check("generated 2 new values" in p.stderr, f"the setup says what it generated: {p.stderr[-800:]}")

    # a later run where the job sets OWN_TOKEN: the stored one is not used (drift reported), not changed
    p = w.local("durable", "setup", env, EXECUTOR_DURABLE_FILE=f, OWN_ROOT=JOB_ROOT, OWN_TOKEN=JOB_TOKEN)
    check(p.returncode == 0 and "differs" in p.stderr, f"the job's OWN_TOKEN changes the stack: {p.stderr[-1500:]}")
    with open(secrets) as fh:
        check(json.load(fh)["secrets"] == s, "secrets.json is unchanged")
    check(JOB_TOKEN not in p.stdout + p.stderr, "the job's value is not printed")
    p = w.local("durable", "teardown", env, "--volumes", EXECUTOR_DURABLE_FILE=f)
    check(p.returncode == 0, f"teardown: {p.stderr[-800:]}")


def test_the_files_name_is_the_project_and_another_apps_name_is_refused():
    w = world()
    env = "e2eownn"
    f = "own/named.yml"
    w.write(f, "name: e2eown-durable\nservices:\n  app:\n    image: executor-test/busybox:latest\n"
               "    container_name: e2eown-named-app\n    command: [sleep, \"3600\"]\n")
    p = w.local("durable", "setup", env, EXECUTOR_DURABLE_FILE=f)
    check(p.returncode == 0, f"durable setup: {p.stderr[-1500:]}")
    labels = inspect("e2eown-named-app")["Config"]["Labels"]
    check(labels.get("com.docker.compose.project") == "e2eown-durable",
          f"the file's name: is the project: {labels.get('com.docker.compose.project')}")
    with open(os.path.join(w.env_dir(env), "durable-project")) as fh:
        check(fh.read() == "e2eown-durable", "the env records the name")
    # renaming a running layer would leave it behind: refused until it is torn down
    w.write("own/renamed.yml", open(os.path.join(w.repo, f)).read().replace("e2eown-durable", "e2eown-renamed"))
    p = w.local("durable", "setup", env, EXECUTOR_DURABLE_FILE="own/renamed.yml")
    check(p.returncode != 0 and f"own/renamed.yml: the durable layer of env {env} runs as project e2eown-durable, "
          "and the file now names it e2eown-renamed: tear it down first" in p.stderr, f"rename refused: {p.stderr[-800:]}")
    p = w.local("durable", "teardown", env, EXECUTOR_DURABLE_FILE=f)
    check(p.returncode == 0, f"teardown: {p.stderr[-800:]}")
    check(docker("ps", "-aq", "--filter", "name=^e2eown-named-app$").stdout.strip() == "",
          "teardown found the containers by the recorded name")

    # a name that is another app's Compose project (a color of app e2eownx here)
    docker("run", "-d", "--name", DECOY, "--label", "com.docker.compose.project=e2eownx-blue",
           "--label", "io.executor.managed=true", "--label", "io.executor.app=e2eownx",
           "--label", "io.executor.env=e2eownn", "--label", "io.executor.layer=color",
           "executor-test/busybox:latest", "sleep", "3600")
    try:
        w.write(f, "name: e2eownx-blue\nservices:\n  app:\n    image: executor-test/busybox:latest\n"
                   "    container_name: e2eown-named-app\n    command: [sleep, \"3600\"]\n")
        p = w.local("durable", "setup", env, EXECUTOR_DURABLE_FILE=f)
        check(p.returncode != 0, "a name that spells another app's project is refused")
        check("own/named.yml: name: e2eownx-blue is the Compose project of objects that are not app e2eown's "
              "durable layer in env e2eownn (they belong to app e2eownx)" in p.stderr, f"the refusal: {p.stderr[-1000:]}")
        check(inspect(DECOY)["State"]["Running"], "the other app's container is untouched")
        check(docker("ps", "-aq", "--filter", "name=^e2eown-named-app$").stdout.strip() == "", "nothing was created")
    finally:
        docker("rm", "-f", DECOY, check=False)


def test_without_a_router_colors_run_on_their_own_ports_and_promote_refuses():
    w = world()
    env = "e2eownr"
    f = "own/norouter.yml"
    w.write(f, "services:\n  cache:\n    image: executor-test/busybox:latest\n"
               "    container_name: e2eown-norouter-cache\n    command: [sleep, \"3600\"]\n"
               "networks:\n  default:\n    name: ${EXECUTOR_DURABLE_NETWORK}\n")
    w.write("own/color.yml", "services:\n  web:\n    image: executor-test/nginx:latest\n"
                             "    ports: [\"${OWN_WEB_PORT}:80\"]\n")
    vars = dict(EXECUTOR_DURABLE_FILE=f, EXECUTOR_COMPOSE_FILES="own/color.yml")
    p = w.local("durable", "setup", env, **vars)
    check(p.returncode == 0 and "no router service" in p.stderr, f"setup without router: {p.stderr[-1500:]}")
    p = w.local("deploy", "blue", "--env", env, **vars)
    check(p.returncode == 0, f"deploy without router: {p.stderr[-1500:]}")
    check(f"Color blue of env {env} is deployed and healthy on its own ports (web {w.web}->80)" in p.stderr,
          f"the deploy names the color's ports: {p.stderr[-800:]}")
    body = urllib.request.urlopen(f"http://127.0.0.1:{w.web}/", timeout=10).read().decode()
    check("It works" in body, f"the color answers on its own port: {body[:200]!r}")
    p = w.local("promote", "blue", "--env", env, **vars)
    check(p.returncode != 0, "promote without a router fails")
    check(f"env {env} has no router, so promote has no entry to switch" in p.stderr
          and "io.executor.role: router" in p.stderr, f"one line saying so and how to add one: {p.stderr[-800:]}")
    p = w.local("cleanup", "blue", "--env", env, **vars)
    check(p.returncode == 0, f"color cleanup: {p.stderr[-800:]}")


def _make_tls(d: str) -> None:
    """A CA and a certificate for web.own.test issued by it (what the app ships itself)."""
    os.makedirs(d, exist_ok=True)

    def ossl(*a: str) -> None:
        p = subprocess.run(["openssl", *a], cwd=d, capture_output=True, text=True)
        check(p.returncode == 0, f"openssl {' '.join(a)}: {p.stderr[-500:]}")

    ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca-key.pem", "-out", "ca.pem",
         "-days", "2", "-subj", "/CN=e2eown test CA", "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    ossl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server-key.pem", "-out", "server.csr",
         "-subj", "/CN=web.own.test")
    with open(os.path.join(d, "ext.cnf"), "w") as fh:
        fh.write("subjectAltName=DNS:web.own.test\nextendedKeyUsage=serverAuth\n")
    ossl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
         "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf")
    os.unlink(os.path.join(d, "ca-key.pem"))
    os.chmod(os.path.join(d, "server-key.pem"), 0o644)  # read by nginx's master (root) through the bind


def _preview(w: World) -> str:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the router's own certificate is the env's: not what this checks
    return urllib.request.urlopen(f"https://127.0.0.1:{w.preview}/", context=ctx, timeout=10).read().decode()


def test_an_upstream_with_its_own_certificate_works_through_the_router():
    w = world()
    env = "e2eownt"
    f = "own/routed.yml"
    _make_tls(os.path.join(w.repo, "own", "tls"))
    w.write("own/web/default.conf", NGINX_TLS)
    w.write(f, "services:\n" + ROUTER + "networks:\n  durable:\n    name: ${EXECUTOR_DURABLE_NETWORK}\n")
    web = """services:
  web:
    image: executor-test/nginx:latest
    container_name: ${EXECUTOR_PROJECT}-web
    volumes:
      - ./own/web:/etc/nginx/conf.d:ro
      - ./own/tls:/etc/web:ro
    labels:
      io.executor.route.path: /
      io.executor.route.port: "8443"
      io.executor.route.scheme: https
%s"""
    w.write("own/blue.yml", web % "      io.executor.route.tls-ca: own/tls/ca.pem\n"
                                  "      io.executor.route.tls-name: web.own.test\n")
    w.write("own/green.yml", web % "      io.executor.route.tls-verify: \"off\"\n")
    p = w.local("durable", "setup", env, EXECUTOR_DURABLE_FILE=f)
    check(p.returncode == 0, f"durable setup with a router: {p.stderr[-1500:]}")

    # blue: verified against the stack's own CA, for the name its certificate has
    p = w.local("deploy", "blue", "--env", env, EXECUTOR_DURABLE_FILE=f, EXECUTOR_COMPOSE_FILES="own/blue.yml")
    check(p.returncode == 0, f"deploy blue (own CA): {p.stderr[-2000:]}")
    body = _preview(w)
    check(body.strip() == "own-tls-ok web.own.test", f"the preview entry reaches the TLS upstream: {body!r}")
    router_dir = os.path.join(w.env_dir(env), "router")
    conf = open(os.path.join(router_dir, "executor.conf")).read()
    m = re.search(r"proxy_ssl_trusted_certificate /etc/nginx/conf\.d/(upstream-ca-[0-9a-f]{16}\.pem);", conf)
    check(m is not None and "proxy_ssl_name web.own.test;" in conf, "the route verifies against the stack's CA")
    with open(os.path.join(router_dir, m.group(1))) as fh, open(os.path.join(w.repo, "own", "tls", "ca.pem")) as ca:
        check(fh.read() == ca.read(), "the router reads the repository's CA")

    # green: verification off for that route
    p = w.local("deploy", "green", "--env", env, EXECUTOR_DURABLE_FILE=f, EXECUTOR_COMPOSE_FILES="own/green.yml")
    check(p.returncode == 0, f"deploy green (tls-verify off): {p.stderr[-2000:]}")
    conf = open(os.path.join(router_dir, "executor.conf")).read()
    check("proxy_ssl_verify off;" in conf, "the route does not verify")
    check(_preview(w).startswith("own-tls-ok"), "the preview entry reaches green")

    # the labels on a plain http route are refused before anything runs
    w.write("own/bad.yml", (web % "      io.executor.route.tls-verify: \"off\"\n").replace("scheme: https",
                                                                                          "scheme: http"))
    p = w.local("deploy", "blue", "--env", env, EXECUTOR_DURABLE_FILE=f, EXECUTOR_COMPOSE_FILES="own/bad.yml")
    check(p.returncode != 0 and "io.executor.route.tls-* labels apply to an https upstream only" in p.stderr,
          f"tls labels on http: {p.stderr[-800:]}")
    for color in ("blue", "green"):
        w.local("cleanup", color, "--env", env, "--force", EXECUTOR_DURABLE_FILE=f)
    p = w.local("durable", "teardown", env, EXECUTOR_DURABLE_FILE=f)
    check(p.returncode == 0, f"teardown: {p.stderr[-800:]}")
