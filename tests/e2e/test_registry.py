"""Private registries and pull policies (issue 14 items 2 and 3), against a real registry.

A distribution registry (Debian's docker-registry) runs as a process this module starts: TLS
with a CA made here (the engine trusts it through /etc/docker/certs.d/127.0.0.1:<port>/ca.crt,
which needs no engine restart), htpasswd auth (bcrypt, `htpasswd -B`), on a free loopback port
from 5443 up. Images built locally (executor-test/*, plus two marker images built here) are
pushed with the docker CLI logged in through a DOCKER_CONFIG of its own (nothing is written to
~/.docker), and the local tags are removed so the driver must pull.

  * a job image pulled with the job's DOCKER_AUTH_CONFIG;
  * a service image pulled with the payload's registry credentials (GitLab's CI_REGISTRY login);
  * a stack image of a deployment (the durable layer of app e2ereg) pulled with them;
  * a wrong password: one line naming the registry, the image and where the credentials
    came from; a build failure for the job's DOCKER_AUTH_CONFIG, a system failure for GitLab's;
  * pull policies as GitLab defines them: never with a missing image fails and pulls nothing,
    if-not-present uses a present image, always pulls, a list falls back to the next policy,
    a policy outside allowed_pull_policies is refused before anything is created.

Every password (and its base64 form) is registered with secretscan, so the run fails if one
appears in any log; the driver's state directory is searched for them too.

Objects: image tags 127.0.0.1:<port>/e2ereg/*, jobs of runner e2etest (labels), app and env
e2ereg; the registry's files in /var/tmp/executor-e2e-registry. Leftovers of an earlier run
(its registry process, its certs.d entry, its tags, the app's containers) are removed first;
the last test stops the registry and removes everything (an exit handler does it should that
test not run).
"""

from __future__ import annotations

import atexit
import base64
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import e2elib  # noqa: E402
import secretscan  # noqa: E402
from e2elib import (BUSYBOX, JOB_IMAGE, Job, Service, assert_no_leftovers, check, docker,  # noqa: E402
                    executor_bin, expect_failure, expect_success, new_job, port_free, roles_of, run_job,
                    runner_config, start_job, state_dir, write_admin_config)
from harness import Credential  # noqa: E402

NEEDS_DOCKER = True

APP = ENV = "e2ereg"
USER = "e2ereg"
WORK = "/var/tmp/executor-e2e-registry"
PIDFILE = os.path.join(WORK, "registry.pid")
CERTS_D = "/etc/docker/certs.d"
MARK = "e2ereg"  # the repository namespace of every tag this module makes
PORTS = range(5443, 5500)

_m: dict = {}


# ------------------------------------------------------------------ leftovers


def _our_tags() -> list[str]:
    out = docker("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    return [t for t in out if t.startswith("127.0.0.1:") and f"/{MARK}/" in t]


def _stop_registry() -> list[str]:
    """The registry process an earlier run (or this one) started: found by its pid file and
    checked by its command line (our config file), never by name."""
    done = []
    try:
        with open(PIDFILE) as f:
            pid = int(f.read().strip())
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read().split(b"\0")
        if cmd and os.path.basename(cmd[0].decode()) == "docker-registry" and \
                os.path.join(WORK, "config.yml").encode() in cmd:
            os.kill(pid, signal.SIGTERM)
            for _ in range(100):
                if not os.path.exists(f"/proc/{pid}"):
                    break
                time.sleep(0.05)
            else:
                os.kill(pid, signal.SIGKILL)
            done.append(f"registry process {pid}")
    except (OSError, ValueError):
        pass
    return done


def _clean(final: bool = False) -> list[str]:
    """Everything this module makes, gone: registry process, certs.d entries (only those
    carrying our marker file), tags, the app's containers, the work directory."""
    removed = _stop_registry()
    if os.path.isdir(CERTS_D):
        for d in os.listdir(CERTS_D):
            p = os.path.join(CERTS_D, d)
            if d.startswith("127.0.0.1:") and os.path.exists(os.path.join(p, "executor-e2e-registry")):
                shutil.rmtree(p, ignore_errors=True)
                removed.append(f"{p}")
    tags = _our_tags()
    if tags:
        docker("rmi", *tags, check=False)
        removed += [f"tag {t}" for t in tags]
    removed += e2elib.remove_app_objects(APP)
    shutil.rmtree(WORK, ignore_errors=True)
    return removed


def _at_exit() -> None:
    if _m and not _m.get("stopped"):
        _clean(final=True)


# ------------------------------------------------------------------ the registry


def _run(argv: list[str], stdin: str | None = None, env: dict | None = None, timeout: float = 120) -> str:
    p = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=timeout,
                       env={**os.environ, **(env or {})})
    check(p.returncode == 0, f"{' '.join(argv)} failed: {p.stderr.strip()[-1500:]}")
    return p.stdout


def _free_port() -> int:
    for p in PORTS:
        if port_free(p):
            return p
    raise AssertionError(f"no free port in {PORTS.start}-{PORTS.stop - 1} for the registry")


def _wait_registry(port: int, ca: str) -> None:
    ctx = ssl.create_default_context(cafile=ca)
    end = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"https://127.0.0.1:{port}/v2/", context=ctx, timeout=2)
            raise AssertionError("the registry answers /v2/ without credentials")
        except urllib.error.HTTPError as e:
            if e.code == 401:
                return
            raise
        except (urllib.error.URLError, ConnectionError, socket.timeout):
            if time.monotonic() > end:
                log = open(os.path.join(WORK, "registry.log")).read()[-2000:]
                raise AssertionError(f"the registry on 127.0.0.1:{port} did not answer in 30 s: {log}")
            time.sleep(0.1)


def _build_marker(tag: str, text: str) -> str:
    """executor-test/bash with /marker holding text (the legacy builder, no network)."""
    ctx = tempfile.mkdtemp(dir=WORK)
    with open(os.path.join(ctx, "marker"), "w") as f:
        f.write(text + "\n")
    with open(os.path.join(ctx, "Dockerfile"), "w") as f:
        f.write(f"FROM {JOB_IMAGE}\nCOPY marker /marker\n")
    _run(["docker", "build", "-q", "-t", tag, ctx], timeout=300)
    shutil.rmtree(ctx, ignore_errors=True)
    return docker("image", "inspect", "-f", "{{.Id}}", tag).stdout.strip()


def _module() -> dict:
    if _m:
        return _m
    t0 = time.monotonic()
    left = _clean()
    if left:
        print(f"  test_registry: removed leftovers of an earlier run: {', '.join(left)}", flush=True)
    for tool in ("docker-registry", "htpasswd", "openssl"):
        check(shutil.which(tool), f"{tool} is missing: run scripts/install-deps.sh test")
    os.makedirs(WORK, mode=0o700)
    atexit.register(_at_exit)
    _m["started"] = True
    port = _free_port()
    host = f"127.0.0.1:{port}"
    w = lambda *p: os.path.join(WORK, *p)  # noqa: E731
    # a CA of our own and the registry's certificate
    _run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=e2ereg-ca",
          "-keyout", w("ca-key.pem"), "-out", w("ca.pem")])
    _run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout",
          w("server-key.pem"), "-out", w("server.csr")])
    with open(w("server.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    _run(["openssl", "x509", "-req", "-in", w("server.csr"), "-CA", w("ca.pem"), "-CAkey", w("ca-key.pem"),
          "-CAcreateserial", "-days", "2", "-extfile", w("server.ext"), "-out", w("server.pem")])
    password = "e2e-" + secrets.token_urlsafe(18)
    wrong = "e2e-wrong-" + secrets.token_urlsafe(12)
    _run(["htpasswd", "-iBc", w("htpasswd"), USER], stdin=password + "\n")
    with open(w("config.yml"), "w") as f:
        f.write(f"""version: 0.1
log: {{level: warn}}
storage: {{filesystem: {{rootdirectory: {w('data')}}}, delete: {{enabled: true}}}}
http: {{addr: "{host}", tls: {{certificate: {w('server.pem')}, key: {w('server-key.pem')}}}}}
auth: {{htpasswd: {{realm: e2ereg, path: {w('htpasswd')}}}}}
""")
    log = open(w("registry.log"), "w")
    proc = subprocess.Popen(["docker-registry", "serve", w("config.yml")], stdin=subprocess.DEVNULL, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    with open(PIDFILE, "w") as f:
        f.write(str(proc.pid))
    _m.update(proc=proc, port=port, host=host, password=password, wrong=wrong)
    # what must appear nowhere
    for s, what in ((password, "the registry password"), (wrong, "the wrong registry password"),
                    (_b64(f"{USER}:{password}"), "the registry auth (base64)"),
                    (_b64(f"{USER}:{wrong}"), "the wrong registry auth (base64)")):
        secretscan.register(s, what)
    _wait_registry(port, w("ca.pem"))
    # the engine trusts our CA for this registry (read per pull: no restart)
    os.makedirs(os.path.join(CERTS_D, host), exist_ok=True)
    shutil.copy(w("ca.pem"), os.path.join(CERTS_D, host, "ca.crt"))
    open(os.path.join(CERTS_D, host, "executor-e2e-registry"), "w").close()
    # push with a docker CLI logged in through a config of its own
    cli = {"DOCKER_CONFIG": w("cli")}
    os.makedirs(w("cli"), mode=0o700)
    _run(["docker", "login", host, "-u", USER, "--password-stdin"], stdin=password, env=cli)
    img = {"bash": f"{host}/{MARK}/bash:1", "busybox": f"{host}/{MARK}/busybox:1", "app": f"{host}/{MARK}/app:1",
           "pp": f"{host}/{MARK}/pp:1", "pp_local": f"{host}/{MARK}/pp-local:1",
           "absent": f"{host}/{MARK}/absent:1"}
    docker("tag", JOB_IMAGE, img["bash"])
    docker("tag", BUSYBOX, img["busybox"])
    docker("tag", BUSYBOX, img["app"])
    reg_id = _build_marker(img["pp"], "from-the-registry")
    for k in ("bash", "busybox", "app", "pp"):
        _run(["docker", "push", img[k]], env=cli, timeout=300)
    _run(["docker", "logout", host], env=cli)
    shutil.rmtree(w("cli"), ignore_errors=True)
    local_id = _build_marker(img["pp_local"], "the-local-copy")
    for k in ("bash", "busybox", "app", "pp"):
        docker("rmi", img[k])
    _m.update(img=img, reg_id=reg_id, local_id=local_id)
    d = state_dir()
    _m["state"] = os.path.join(d, "driver-registry")
    _m["config"] = _admin("registry.conf")
    print(f"  test_registry: registry on {host} with 4 images pushed ({time.monotonic() - t0:.1f} s)", flush=True)
    return _m


def _b64(s: str) -> str:
    return base64.b64encode(s.encode()).decode()


def _admin(name: str, **extra: str) -> str:
    keys = {"allowed_images": f"executor-test/*, 127.0.0.1:*/{MARK}/*"}
    keys.update(extra)
    return write_admin_config(os.path.join(state_dir(), name), _m["state"], **keys)


def _auth_config(password: str) -> str:
    return json.dumps({"auths": {_m["host"]: {"auth": _b64(f"{USER}:{password}")}}})


def _runner(config: str | None = None):
    return runner_config(extra_env={"EXECUTOR_CONFIG": config or _m["config"], "NO_COLOR": "1"})


def _present(ref: str) -> bool:
    return docker("image", "inspect", ref, check=False).returncode == 0


def _image_id(ref: str) -> str:
    return docker("image", "inspect", "-f", "{{.Id}}", ref).stdout.strip()


def _absent(ref: str) -> None:
    if _present(ref):
        docker("rmi", ref)
    check(not _present(ref), f"{ref} is not present locally")


def _error_lines(res) -> list[str]:
    """The driver's ERROR lines, from every prepare call."""
    return [ln for c in res.calls_of("prepare") for ln in c.stderr_text.splitlines() if ln.startswith("ERROR: ")]


def _assert_no_secret_in_state() -> None:
    """No file of the driver's state holds a registry password."""
    needles = [_m["password"].encode(), _m["wrong"].encode(), _b64(f"{USER}:{_m['password']}").encode()]
    for d, _, files in os.walk(_m["state"]):
        for fn in files:
            p = os.path.join(d, fn)
            try:
                with open(p, "rb") as f:
                    data = f.read()
            except OSError:
                continue
            check(not any(n in data for n in needles), f"a registry password is in the state file {p}")


# ------------------------------------------------------------------ credentials


def test_job_image_pulled_with_docker_auth_config():
    m = _module()
    ref = m["img"]["bash"]
    _absent(ref)
    job = new_job(["echo job-ran-on-the-pulled-image"], image=ref,
                  variables={"DOCKER_AUTH_CONFIG": _auth_config(m["password"])})
    res = run_job(job, _runner())
    expect_success(res)
    check("Authenticating with credentials from DOCKER_AUTH_CONFIG" in res.text, "the source is named", res)
    check(f"Pulling image {ref}" in res.text and "job-ran-on-the-pulled-image" in res.text,
          "the image was pulled and the job ran", res)
    check(_present(ref), f"{ref} is present after the job")
    assert_no_leftovers(job)
    _assert_no_secret_in_state()


def test_service_image_pulled_with_the_payloads_registry_credentials():
    m = _module()
    ref = m["img"]["busybox"]
    _absent(ref)
    job = new_job(["echo SERVICE-UP", "sleep 3"],
                  services=[Service(ref, alias="svc", command=["sleep", "300"])],
                  credentials=[Credential(m["host"], USER, m["password"])])
    rj = start_job(job, _runner())
    check(rj.control.wait_for_log("SERVICE-UP", 120), "the job got to its script")
    svcs = roles_of(job.id).get("service") or []
    check(len(svcs) == 1, f"one service container: {roles_of(job.id)}")
    info = json.loads(docker("inspect", svcs[0]).stdout)[0]
    res = rj.wait(300)
    expect_success(res)
    check(info["Config"]["Image"] == ref, f"the service runs {ref}: {info['Config']['Image']}", res)
    check("Authenticating with credentials from GitLab's registry credentials for this job" in res.text,
          "the payload's credentials were used", res)
    flat = json.dumps(info)
    check(m["password"] not in flat and "DOCKER_AUTH_CONFIG" not in flat and "CI_REGISTRY_PASSWORD" not in flat,
          "the service's configuration (env, labels, command) holds no registry credential")
    assert_no_leftovers(job)


def _stack_repo() -> tuple[str, str]:
    repo = tempfile.mkdtemp(prefix="e2ereg-repo-", dir=state_dir())
    os.makedirs(os.path.join(repo, "durable"))
    with open(os.path.join(repo, "durable", "docker-compose.yml"), "w") as f:
        f.write(f"services:\n  app:\n    image: {_m['img']['app']}\n    command: [\"sleep\", \"3600\"]\n")
    e2elib.git(repo, "init", "-q")
    e2elib.git(repo, "add", "-A")
    e2elib.git(repo, "commit", "-q", "-m", "a stack with an image from the private registry")
    return repo, e2elib.git(repo, "rev-parse", "HEAD")


def test_stack_image_of_a_deployment_pulled_with_the_payloads_credentials():
    m = _module()
    ref = m["img"]["app"]
    _absent(ref)
    e2elib.remove_app_objects(APP)
    repo, sha = _stack_repo()
    job = Job(name=f"durable:setup-{ENV}", stage="durable", image=None, git_strategy="fetch", repo_url=repo,
              sha=sha, refspecs=["+refs/heads/main:refs/remotes/origin/main"],
              variables={"EXECUTOR_APP": APP}, credentials=[Credential(m["host"], USER, m["password"])])
    try:
        res = run_job(job, _runner())
        expect_success(res)
        check("Authenticating with credentials from GitLab's registry credentials for this job" in res.text,
              "the stack image was pulled with the payload's credentials", res)
        project = f"{APP}-{ENV}-durable"
        st = docker("ps", "--filter", f"label=com.docker.compose.project={project}", "--format",
                    "{{.Image}} {{.State}}").stdout.split()
        check(st == [ref, "running"], f"the durable layer {project} runs {ref}: {st}", res)
        _assert_no_secret_in_state()
    finally:
        e2elib.remove_app_objects(APP)
        shutil.rmtree(repo, ignore_errors=True)
    check(not any(e2elib.app_objects(APP).values()), f"app {APP} removed: {e2elib.app_objects(APP)}")


def test_a_wrong_password_is_one_line_naming_the_registry_and_the_source():
    m = _module()
    ref = m["img"]["bash"]
    # the job's own DOCKER_AUTH_CONFIG: the job author's mistake, a build failure
    _absent(ref)
    job = new_job(["echo never-runs"], image=ref, variables={"DOCKER_AUTH_CONFIG": _auth_config(m["wrong"])})
    res = run_job(job, _runner())
    expect_failure(res, "build")
    want = (f"registry {m['host']} refused the credentials for {ref} (from DOCKER_AUTH_CONFIG): "
            "check the user and password")
    lines = _error_lines(res)
    check(len(lines) == 1 and lines[0].endswith(want), f"one ERROR line ending {want!r}: {lines}", res)
    check("never-runs" not in res.text.replace("echo never-runs", ""), "the script did not run", res)
    check(not _present(ref), "nothing was pulled")
    assert_no_leftovers(job)
    print(f"  {lines[0]}", flush=True)

    # GitLab's credentials (or the admin's): not the job author's fault, a system failure
    job = new_job(["echo never-runs"], image=ref, credentials=[Credential(m["host"], USER, m["wrong"])])
    res = run_job(job, _runner())
    expect_failure(res, "system")
    want = (f"registry {m['host']} refused the credentials for {ref} (from GitLab's registry credentials for "
            "this job): check the user and password")
    lines = _error_lines(res)
    attempts = len(res.calls_of("prepare"))
    check(len(lines) == attempts and all(ln.endswith(want) for ln in lines),
          f"one ERROR line per prepare attempt ({attempts}) ending {want!r}: {lines}", res)
    assert_no_leftovers(job)


def test_admin_auth_file_is_used_after_the_payload():
    """docker_auth_file: the admin's credentials for the registry, used when the job has none;
    the payload's credentials for the same registry come first."""
    m = _module()
    ref = m["img"]["bash"]
    path = os.path.join(state_dir(), "registry-auth.json")
    with open(path, "w") as f:
        f.write(_auth_config(m["password"]))
    os.chmod(path, 0o600)
    cfg = _admin("registry-file.conf", docker_auth_file=path)
    _absent(ref)
    job = new_job(["echo via-the-admin-file"], image=ref)
    res = run_job(job, _runner(cfg))
    expect_success(res)
    check(f"Authenticating with credentials from docker_auth_file {path}" in res.text, "the file was used", res)
    # the payload's (wrong) credentials win over the file: GitLab's order
    _absent(ref)
    job = new_job(["echo never-runs"], image=ref, credentials=[Credential(m["host"], USER, m["wrong"])])
    res = run_job(job, _runner(cfg))
    expect_failure(res, "system")
    check(any("(from GitLab's registry credentials for this job)" in ln for ln in _error_lines(res)),
          f"the payload's credentials came before the admin's file: {_error_lines(res)}", res)
    assert_no_leftovers(job)


# ------------------------------------------------------------------ pull policies


def _policy_job(ref: str, policy, *script: str, **kw) -> Job:
    return new_job(list(script) or ["cat /marker"], image=ref, image_pull_policy=policy,
                   variables={"DOCKER_AUTH_CONFIG": _auth_config(_m["password"])}, **kw)


def test_pull_policy_never_with_a_missing_image_fails_clearly_and_pulls_nothing():
    m = _module()
    ref = m["img"]["bash"]
    _absent(ref)
    cfg = _admin("registry-policies.conf", allowed_pull_policies="always, if-not-present, never")
    job = _policy_job(ref, "never", "echo never-runs")
    res = run_job(job, _runner(cfg))
    expect_failure(res, "system")
    want = f"image {ref} is not present and pull_policy is never; load it on the runner host or change pull_policy"
    lines = _error_lines(res)
    check(lines and all(ln.endswith(want) for ln in lines), f"ERROR lines end {want!r}: {lines}", res)
    check("Pulling image" not in res.text and not _present(ref), "nothing was pulled", res)
    assert_no_leftovers(job)


def test_pull_policy_if_not_present_uses_the_present_image():
    m = _module()
    ref = m["img"]["pp"]
    docker("tag", m["img"]["pp_local"], ref)  # present, and not what the registry has
    cfg = _admin("registry-policies.conf", allowed_pull_policies="always, if-not-present, never")
    job = _policy_job(ref, "if-not-present")
    res = run_job(job, _runner(cfg))
    expect_success(res)
    check("the-local-copy" in res.text and "from-the-registry" not in res.text, "the local image ran", res)
    check("Pulling image" not in res.text, "nothing was pulled", res)
    check(_image_id(ref) == m["local_id"], "the tag still names the local image")
    assert_no_leftovers(job)


def test_pull_policy_always_pulls_a_present_image():
    m = _module()
    ref = m["img"]["pp"]
    docker("tag", m["img"]["pp_local"], ref)
    cfg = _admin("registry-policies.conf", allowed_pull_policies="always, if-not-present, never")
    job = _policy_job(ref, "always")
    res = run_job(job, _runner(cfg))
    expect_success(res)
    check(f"Pulling image {ref}" in res.text, "the image was pulled although present", res)
    check("from-the-registry" in res.text and "the-local-copy" not in res.text, "the registry's image ran", res)
    check(_image_id(ref) == m["reg_id"], "the tag now names the registry's image")
    assert_no_leftovers(job)


def test_pull_policy_list_falls_back_to_the_next_policy():
    """[always, if-not-present]: always fails (the registry has no such image), if-not-present
    then uses the local one."""
    m = _module()
    ref = m["img"]["pp_local"]
    cfg = _admin("registry-policies.conf", allowed_pull_policies="always, if-not-present")
    job = _policy_job(ref, ["always", "if-not-present"])
    res = run_job(job, _runner(cfg))
    expect_success(res)
    check(f"Pulling image {ref}" in res.text and "Attempt #2" in res.text and "the-local-copy" in res.text,
          "always was tried, then if-not-present used the local image", res)
    assert_no_leftovers(job)


def test_a_policy_outside_allowed_pull_policies_is_refused_before_anything_is_created():
    m = _module()
    ref = m["img"]["absent"]
    svc = m["img"]["busybox"]
    _absent(svc)
    cfg = _admin("registry-allowed.conf", allowed_pull_policies="if-not-present")
    # the service's policy is refused before the job image (allowed) is even looked at
    job = _policy_job(JOB_IMAGE, "if-not-present", "echo never-runs",
                      services=[Service(svc, alias="svc", command=["sleep", "300"], pull_policy="always")])
    res = run_job(job, _runner(cfg))
    expect_failure(res, "build")
    want = (f"service image {svc}: pull_policy always is not allowed on this runner; allowed_pull_policies: "
            "if-not-present (use one of them, or ask the runner admin to extend allowed_pull_policies)")
    lines = _error_lines(res)
    check(len(lines) == 1 and lines[0] == "ERROR: " + want, f"one ERROR line {want!r}: {lines}", res)
    check(len(res.calls_of("prepare")) == 1, "a build failure: prepare is not retried", res)
    check(not _present(svc), "nothing was pulled")
    assert_no_leftovers(job, wait=0)
    # the job image's policy, likewise
    job = _policy_job(ref, ["never", "always"], "echo never-runs")
    res = run_job(job, _runner(cfg))
    expect_failure(res, "build")
    want = (f"image {ref}: pull_policy never, always is not allowed on this runner; allowed_pull_policies: "
            "if-not-present (use one of them, or ask the runner admin to extend allowed_pull_policies)")
    lines = _error_lines(res)
    check(len(lines) == 1 and lines[0] == "ERROR: " + want, f"one ERROR line {want!r}: {lines}", res)
    assert_no_leftovers(job, wait=0)


# ------------------------------------------------------------------ the end


def test_registry_is_stopped_and_leaves_nothing():
    """The last test: the registry stops, its CA leaves certs.d, every e2ereg tag goes."""
    if not _m:
        _module()
    proc = _m["proc"]
    _clean(final=True)
    _m["stopped"] = True
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        raise AssertionError("the registry process did not stop")
    check(not _our_tags(), f"no {MARK} tag is left: {_our_tags()}")
    check(not os.path.exists(os.path.join(CERTS_D, _m["host"])), "the registry's CA left certs.d")
    check(not os.path.exists(WORK), f"{WORK} removed")
    check(not any(e2elib.app_objects(APP).values()), f"app {APP} left nothing: {e2elib.app_objects(APP)}")
