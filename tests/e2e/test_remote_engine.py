"""Remote engines (issue 18 item 1): the driver reaching the engine over TCP+TLS and over SSH.

Real parts only, on loopback:

  * TCP+TLS: a TLS endpoint that verifies client certificates, socat (Debian's) listening on a
    free loopback port from 29100 and forwarding to /var/run/docker.sock. The shared engine is
    not reconfigured or restarted. Certificates are made here with the openssl CLI: a CA, the
    endpoint's certificate for 127.0.0.1/localhost, a client certificate, an expired one (openssl
    ca with dates in 2020), one expiring in 10 days, one from another CA, and that other CA.
    socat runs with -t 3600: after the driver ends an exec's stdin (TLS close_notify, then the
    TCP half-close) socat must keep the other direction open, as dockerd does;
  * SSH: Debian's OpenSSH server as a non-daemon `sshd -D -f <own config>` on a free loopback
    port, with its own host key and a key of the test's in its own authorized_keys file, for
    root (PermitRootLogin prohibit-password). The "remote" side runs `docker system
    dial-stdio` with the docker CLI installed here. OpenSSH's client reads ~/.ssh from the
    passwd entry, not $HOME, so the runner's PATH starts with a directory whose `ssh` is
    `exec /usr/bin/ssh -F <the test's config> "$@"` (the config names the key, the port's
    known_hosts written here, StrictHostKeyChecking yes): root's own ~/.ssh is never touched.

The engine behind both is this host's, so a container job's builds directory (a bind mount of
a path of the driver's host) is there too: with a real remote engine it would not be (issue 18
item 2). What the tests check:

  * a container job and a deployment action (durable setup of a three-service stack, brought up
    by a thread and a connection per service, then its confirmed cleanup) over TCP+TLS (the admin's docker_host / docker_tls_verify /
    docker_cert_path) and over SSH (DOCKER_HOST in the runner's environment), the TLS proxy or
    sshd seeing the connections, nothing left behind;
  * a wrong CA, a missing client certificate, an expired one, one from another CA, a port
    nobody listens on, a refused ssh key: each a system failure with one ERROR line naming the
    engine's address and what to fix;
  * `executor doctor` over each kind (local socket, TCP+TLS, SSH): the kind, the handshake, the
    certificates' expiry (a warning within 30 days, an error once expired);
  * the ssh processes' environment holds none of the job's variables;
  * every private key made here registered with secretscan: none may appear in any log.

Objects: app e2eremote (envs e2ertls, e2erssh), jobs of runner e2etest, files in
/var/tmp/executor-e2e-remote, the socat and sshd processes this module starts (found again by
their pid files and command lines). Leftovers of an earlier run are removed first; the last
test removes everything (an exit handler does it should that test not run). About 2 minutes.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import e2elib  # noqa: E402
import secretscan  # noqa: E402
import vglib  # noqa: E402
from e2elib import (BUSYBOX, RUNNER_TOKEN, Job, assert_no_leftovers, check, executor_bin,  # noqa: E402
                    expect_failure, expect_success, new_job, port_free, run_job, runner_config, start_job,
                    state_dir, write_admin_config)
from harness import RunnerConfig, Variable  # noqa: E402

NEEDS_DOCKER = True

APP = "e2eremote"
WORK = "/var/tmp/executor-e2e-remote"
PORTS = range(29100, 29200)
SOCKET = "/var/run/docker.sock"
DOCKER_VARS = ["DOCKER_HOST", "DOCKER_TLS", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"]

_m: dict = {}


def w(*p: str) -> str:
    return os.path.join(WORK, *p)


# ------------------------------------------------------------------ leftovers


def _stop(pidfile: str, exe: str) -> list[str]:
    """The process group an earlier run (or this one) started, found by its pid file and
    checked by its command line (our files), never by name."""
    try:
        with open(pidfile) as f:
            pid = int(f.read().strip())
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read().split(b"\0")
    except (OSError, ValueError):
        return []
    # sshd rewrites its title ("sshd: /usr/sbin/sshd -D -e -f <config> [listener] ..."): the
    # program's name and one of our files, anywhere in the command line
    line = b" ".join(cmd)
    if not cmd or exe.encode() not in cmd[0] or WORK.encode() not in line:
        return []
    try:
        os.killpg(pid, signal.SIGTERM)  # started in a session of its own: pgid == pid
    except OSError:
        return []
    for _ in range(100):
        if _gone(pid):
            break
        time.sleep(0.05)
    else:
        os.killpg(pid, signal.SIGKILL)
    return [f"{exe} {pid}"]


def _gone(pid: int) -> bool:
    """Exited (a zombie waiting for this process to reap it counts)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def _clean() -> list[str]:
    removed = _stop(w("socat.pid"), "socat") + _stop(w("sshd.pid"), "sshd")
    removed += e2elib.remove_app_objects(APP)
    if os.path.isdir(WORK):
        shutil.rmtree(WORK, ignore_errors=True)
        removed.append(WORK)
    return removed


def _at_exit() -> None:
    if _m and not _m.get("stopped"):
        _clean()
        if _m.get("made_run_sshd"):
            os.rmdir("/run/sshd")


# ------------------------------------------------------------------ the parts


def _run(argv: list[str], stdin: str | None = None, timeout: float = 60) -> str:
    p = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=timeout)
    check(p.returncode == 0, f"{' '.join(argv)} failed: {p.stderr.strip()[-1500:]}")
    return p.stdout


def _free_ports(n: int) -> list[int]:
    got = [p for p in PORTS if port_free(p)][:n]
    check(len(got) == n, f"{n} free ports in {PORTS.start}-{PORTS.stop - 1}")
    return got


def _wait_port(port: int, what: str, log: str) -> None:
    end = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > end:
                raise AssertionError(f"{what} on 127.0.0.1:{port} did not listen in 20 s: "
                                     f"{open(log).read()[-1500:]}")
            time.sleep(0.05)


def _key_and_csr(name: str, cn: str) -> None:
    _run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={cn}", "-keyout",
          w("pki", f"{name}-key.pem"), "-out", w("pki", f"{name}.csr")])


def _ca(name: str, cn: str, days: int = 3) -> None:
    _run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", str(days), "-subj", f"/CN={cn}",
          "-keyout", w("pki", f"{name}-key.pem"), "-out", w("pki", f"{name}.pem")])


def _sign(ca: str, name: str, ext: str, *dates: str) -> None:
    """`openssl ca` (it takes explicit dates, for the expired certificate)."""
    d = w("pki", f"db-{ca}")
    if not os.path.isdir(d):
        os.makedirs(os.path.join(d, "new"))
        open(os.path.join(d, "index.txt"), "w").close()
        with open(os.path.join(d, "serial"), "w") as f:
            f.write("1000\n")
        with open(os.path.join(d, "ca.cnf"), "w") as f:
            f.write(f"[ca]\ndefault_ca = e2e\n[e2e]\ndatabase = {d}/index.txt\nnew_certs_dir = {d}/new\n"
                    f"serial = {d}/serial\ndefault_md = sha256\npolicy = any\nunique_subject = no\n"
                    "copy_extensions = none\ndefault_days = 3\n[any]\ncommonName = supplied\n"
                    "[server]\nsubjectAltName = IP:127.0.0.1, DNS:localhost\nextendedKeyUsage = serverAuth\n"
                    "[client]\nextendedKeyUsage = clientAuth\n")
    _run(["openssl", "ca", "-batch", "-notext", "-config", os.path.join(d, "ca.cnf"), "-cert", w("pki", f"{ca}.pem"),
          "-keyfile", w("pki", f"{ca}-key.pem"), "-extensions", ext, *dates, "-in", w("pki", f"{name}.csr"),
          "-out", w("pki", f"{name}.pem")])


def _cert_dir(name: str, ca: str | None, cert: str | None) -> str:
    """A DOCKER_CERT_PATH: ca.pem, cert.pem and key.pem as the CLI expects them."""
    d = w("certs", name)
    os.makedirs(d, mode=0o700)
    if ca:
        shutil.copy(w("pki", f"{ca}.pem"), os.path.join(d, "ca.pem"))
    if cert:
        shutil.copy(w("pki", f"{cert}.pem"), os.path.join(d, "cert.pem"))
        shutil.copy(w("pki", f"{cert}-key.pem"), os.path.join(d, "key.pem"))
        os.chmod(os.path.join(d, "key.pem"), 0o600)
    return d


def _register_keys() -> None:
    """Every private key made here: none of its lines may appear in any log."""
    for d, _, files in os.walk(WORK):
        for fn in files:
            p = os.path.join(d, fn)
            if not (fn.endswith("-key.pem") or fn == "key.pem" or fn.startswith("id_") or fn == "host_key"):
                continue
            if fn.endswith(".pub"):
                continue
            with open(p) as f:
                body = [ln.strip() for ln in f if ln.strip() and not ln.startswith("-----")]
            for ln in body[:-1]:
                if len(ln) >= 40:
                    secretscan.register(ln, f"a line of the private key {p}")


def _start(argv: list[str], name: str) -> subprocess.Popen:
    log = open(w(f"{name}.log"), "w")
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    with open(w(f"{name}.pid"), "w") as f:
        f.write(str(proc.pid))
    return proc


def _module() -> dict:
    if _m:
        return _m
    t0 = time.monotonic()
    left = _clean()
    if left:
        print(f"  test_remote_engine: removed leftovers of an earlier run: {', '.join(left)}", flush=True)
    for tool in ("socat", "openssl", "ssh", "ssh-keygen", "docker"):
        check(shutil.which(tool), f"{tool} is missing: run scripts/install-deps.sh test")
    check(os.access("/usr/sbin/sshd", os.X_OK), "/usr/sbin/sshd is missing: run scripts/install-deps.sh test")
    os.makedirs(w("pki"), mode=0o700)
    atexit.register(_at_exit)
    _m["started"] = True
    tls_port, ssh_port, dead_port = _free_ports(3)

    # certificates
    _ca("ca", "e2e-remote-ca")
    _ca("other-ca", "e2e-remote-other-ca")
    for name, cn in (("server", "127.0.0.1"), ("client", "e2e-remote-client"), ("expired", "e2e-remote-old"),
                     ("soon", "e2e-remote-soon"), ("stranger", "e2e-remote-stranger")):
        _key_and_csr(name, cn)
    _sign("ca", "server", "server")
    _sign("ca", "client", "client")
    _sign("ca", "expired", "client", "-startdate", "20200101000000Z", "-enddate", "20200201000000Z")
    _sign("ca", "soon", "client", "-days", "10")
    _sign("other-ca", "stranger", "client")
    certs = {
        "good": _cert_dir("good", "ca", "client"),
        "wrong-ca": _cert_dir("wrong-ca", "other-ca", "client"),
        "no-client-cert": _cert_dir("no-client-cert", "ca", None),
        "expired": _cert_dir("expired", "ca", "expired"),
        "soon": _cert_dir("soon", "ca", "soon"),
        "other-ca": _cert_dir("other-ca", "ca", "stranger"),
    }

    # the TLS endpoint
    _m["socat"] = _start(["socat", "-d", "-d", "-t", "3600",
                          f"OPENSSL-LISTEN:{tls_port},bind=127.0.0.1,reuseaddr,fork,cert={w('pki', 'server.pem')},"
                          f"key={w('pki', 'server-key.pem')},cafile={w('pki', 'ca.pem')},verify=1",
                          f"UNIX-CONNECT:{SOCKET}"], "socat")
    _wait_port(tls_port, "socat", w("socat.log"))

    # the SSH endpoint
    os.makedirs(w("ssh"), mode=0o700)
    _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "e2e-remote-host", "-f", w("ssh", "host_key")])
    _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "e2e-remote-runner", "-f", w("ssh", "id_runner")])
    _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "e2e-remote-refused", "-f", w("ssh", "id_refused")])
    shutil.copy(w("ssh", "id_runner.pub"), w("ssh", "authorized_keys"))
    with open(w("ssh", "sshd_config"), "w") as f:
        # StrictModes no: the files live under /var/tmp, which is world-writable
        f.write(f"Port {ssh_port}\nListenAddress 127.0.0.1\nHostKey {w('ssh', 'host_key')}\n"
                f"PidFile {w('ssh', 'sshd-own.pid')}\nAuthorizedKeysFile {w('ssh', 'authorized_keys')}\n"
                "PermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
                "UsePAM no\nStrictModes no\nLogLevel VERBOSE\n")
    with open(w("ssh", "host_key.pub")) as f:
        kind, key = f.read().split()[:2]
    with open(w("ssh", "known_hosts"), "w") as f:
        f.write(f"[127.0.0.1]:{ssh_port} {kind} {key}\n")
    for name, key in (("bin", "id_runner"), ("bin-refused", "id_refused")):
        with open(w("ssh", f"config-{name}"), "w") as f:
            f.write(f"Host 127.0.0.1\n  IdentityFile {w('ssh', key)}\n  IdentitiesOnly yes\n"
                    f"  UserKnownHostsFile {w('ssh', 'known_hosts')}\n  GlobalKnownHostsFile /dev/null\n"
                    "  StrictHostKeyChecking yes\n")
        os.makedirs(w(name))
        with open(w(name, "ssh"), "w") as f:
            f.write(f"#!/bin/sh\nexec /usr/bin/ssh -F {w('ssh', f'config-{name}')} \"$@\"\n")
        os.chmod(w(name, "ssh"), 0o755)
    if not os.path.isdir("/run/sshd"):  # sshd's privilege separation directory
        os.makedirs("/run/sshd", mode=0o755)
        _m["made_run_sshd"] = True
    _m["sshd"] = _start(["/usr/sbin/sshd", "-D", "-e", "-f", w("ssh", "sshd_config")], "sshd")
    _wait_port(ssh_port, "sshd", w("sshd.log"))
    _register_keys()

    _m.update(tls_port=tls_port, ssh_port=ssh_port, dead_port=dead_port, certs=certs,
              tls=f"tcp://127.0.0.1:{tls_port}", ssh=f"ssh://root@127.0.0.1:{ssh_port}")
    _m["state"] = os.path.join(state_dir(), "driver-remote")
    # the admin's file naming the TLS engine and its certificates
    _m["tls_config"] = write_admin_config(os.path.join(state_dir(), "remote-tls.conf"), _m["state"],
                                          docker_host=_m["tls"], docker_tls_verify="true",
                                          docker_cert_path=certs["good"])
    # an admin's file without an engine: the runner's environment names it
    _m["env_config"] = write_admin_config(os.path.join(state_dir(), "remote-env.conf"), _m["state"])
    print(f"  test_remote_engine: TLS endpoint on 127.0.0.1:{tls_port}, sshd on 127.0.0.1:{ssh_port} "
          f"({time.monotonic() - t0:.1f} s)", flush=True)
    return _m


# ------------------------------------------------------------------ helpers


def _tls_runner():
    return runner_config(extra_env={"EXECUTOR_CONFIG": _m["tls_config"], "NO_COLOR": "1"}, unset_env=DOCKER_VARS)


def _env(**kv: str) -> dict[str, str]:
    """The runner's environment for an engine named by the DOCKER_* variables."""
    env = {"EXECUTOR_CONFIG": _m["env_config"], "NO_COLOR": "1"}
    env.update(kv)
    return env


def _ssh_env(bin_dir: str = "bin") -> dict[str, str]:
    return _env(DOCKER_HOST=_m["ssh"], PATH=f"{w(bin_dir)}:{os.environ.get('PATH', '/usr/bin:/bin')}")


def _tls_env(certs: str, host: str | None = None) -> dict[str, str]:
    return _env(DOCKER_HOST=host or _m["tls"], DOCKER_TLS_VERIFY="1", DOCKER_CERT_PATH=_m["certs"][certs])


def _runner(env: dict[str, str]):
    return runner_config(extra_env=env, unset_env=[k for k in DOCKER_VARS if k not in env])


def _count(log: str, needle: str) -> int:
    with open(w(log), errors="replace") as f:
        return f.read().count(needle)


def _tls_connections() -> int:
    return _count("socat.log", "accepting connection from")


def _ssh_logins() -> int:
    return _count("sshd.log", "Accepted publickey for root")


def _error_lines(res) -> list[str]:
    """The driver's ERROR lines, from every prepare call."""
    return [ln for c in res.calls_of("prepare") for ln in c.stderr_text.splitlines() if ln.startswith("ERROR: ")]


def _container_job(runner) -> None:
    job = new_job(["echo REMOTE-JOB-RAN", 'echo "builds slot: $CI_PROJECT_DIR"',
                   'echo bind-mounted > "$CI_PROJECT_DIR/remote-marker"', 'cat "$CI_PROJECT_DIR/remote-marker"',
                   "sleep 1", "echo AFTER-STDIN-CLOSED"],
                  services=[e2elib.Service(BUSYBOX, alias="svc", command=["sleep", "300"])])
    res = run_job(job, runner)
    expect_success(res)
    for want in ("REMOTE-JOB-RAN", "bind-mounted", "AFTER-STDIN-CLOSED"):
        check(want in res.text.replace(f"echo {want}", ""), f"the script printed {want}", res)
    assert_no_leftovers(job)


def _stack_repo() -> tuple[str, str]:
    repo = tempfile.mkdtemp(prefix="e2eremote-repo-", dir=state_dir())
    os.makedirs(os.path.join(repo, "durable"))
    with open(os.path.join(repo, "durable", "docker-compose.yml"), "w") as f:
        # three services: the stack is brought up by a thread per service, each with a client
        # (and a connection, an ssh process) of its own
        f.write("services:\n")
        for name in ("app", "worker", "cache"):
            f.write(f"  {name}:\n    image: {BUSYBOX}\n"
                    "    command: [\"sh\", \"-c\", \"trap 'exit 0' TERM; while :; do sleep 1; done\"]\n")
    e2elib.git(repo, "init", "-q")
    e2elib.git(repo, "add", "-A")
    e2elib.git(repo, "commit", "-q", "-m", "a three-service durable layer")
    return repo, e2elib.git(repo, "rev-parse", "HEAD")


def _durable_setup_and_cleanup(env: str, runner) -> None:
    e2elib.remove_app_objects(APP)
    repo, sha = _stack_repo()
    project = f"{APP}-{env}-durable"

    def job(name: str, **kw) -> Job:
        return Job(name=name, stage="durable", image=None, git_strategy="fetch", repo_url=repo, sha=sha,
                   refspecs=["+refs/heads/main:refs/remotes/origin/main"], **kw)

    try:
        res = run_job(job(f"durable:setup-{env}", variables={"EXECUTOR_APP": APP}), runner)
        expect_success(res)
        st = sorted(e2elib.docker("ps", "--filter", f"label=com.docker.compose.project={project}", "--format",
                                  "{{.Label \"com.docker.compose.service\"}} {{.Image}} {{.State}}").stdout.splitlines())
        want = [f"{n} {BUSYBOX} running" for n in ("app", "cache", "worker")]
        check(st == want, f"the durable layer {project} runs its three services: {st}", res)
        res = run_job(job(f"cleanup:durable-{env}", protected=True,
                          variables={"EXECUTOR_APP": APP, "EXECUTOR_CONFIRM_DESTROY": env}), runner)
        expect_success(res)
        check(f"Durable layer of env {env} removed, with its data" in res.text, "the layer was removed", res)
        left = e2elib.docker("ps", "-a", "--filter", f"label=com.docker.compose.project={project}", "-q").stdout
        check(not left.strip(), f"no container of {project} is left: {left}", res)
    finally:
        e2elib.remove_app_objects(APP)
        shutil.rmtree(repo, ignore_errors=True)
    check(not any(e2elib.app_objects(APP).values()), f"app {APP} removed: {e2elib.app_objects(APP)}")


def _doctor(env: dict[str, str]) -> tuple[int, dict[str, list[dict]]]:
    e = {k: v for k, v in os.environ.items() if k not in DOCKER_VARS}
    e.update(env)
    r = subprocess.run([executor_bin(), "doctor", "--json"], capture_output=True, text=True, env=e, timeout=120)
    checks: dict[str, list[dict]] = {}
    for c in json.loads(r.stdout):
        checks.setdefault(c["check"], []).append(c)
    return r.returncode, checks


# ------------------------------------------------------------------ TCP+TLS


def test_tls_engine_runs_a_container_job_and_a_durable_layer():
    """The admin's file names the engine and its certificates; nothing in the environment."""
    _module()
    before = _tls_connections()
    _container_job(_tls_runner())
    check(_tls_connections() > before, "the job's requests went through the TLS endpoint")
    before = _tls_connections()
    _durable_setup_and_cleanup("e2ertls", _tls_runner())
    check(_tls_connections() > before, "the deployment's requests went through the TLS endpoint")


def _one_line(env: dict[str, str], *says: str) -> str:
    job = new_job(["echo never-runs"])
    res = run_job(job, _runner(env))
    expect_failure(res, "system")
    lines = _error_lines(res)
    attempts = len(res.calls_of("prepare"))
    check(attempts >= 1 and len(lines) == attempts and len(set(lines)) == 1,
          f"one ERROR line per prepare attempt ({attempts}), the same each time: {lines}", res)
    for s in says:
        check(s in lines[0], f"the line says {s!r}: {lines[0]}", res)
    check("never-runs" not in res.text.replace("echo never-runs", ""), "the script did not run", res)
    assert_no_leftovers(job, wait=0)
    print(f"  {lines[0]}", flush=True)
    return lines[0]


def test_tls_failures_are_one_line_naming_the_engine_and_the_fix():
    m = _module()
    c = m["certs"]
    tls = m["tls"]
    _one_line(_tls_env("wrong-ca"),
              f"cannot reach the Docker engine at {tls}: its certificate is not signed by the CA in "
              f"{c['wrong-ca']}/ca.pem", "put the CA that signed the engine's certificate there")
    _one_line(_tls_env("no-client-cert"),
              f"cannot reach the Docker engine at {tls}: it asks for a client certificate and there is none "
              f"(no cert.pem and key.pem in {c['no-client-cert']})",
              "put a client certificate signed by the engine's CA and its key there")
    _one_line(_tls_env("expired"),
              f"cannot use the Docker engine at {tls}: the client certificate {c['expired']}/cert.pem expired "
              "on 2020-02-01 00:00 UTC; issue a new one from the engine's CA")
    _one_line(_tls_env("other-ca"),
              f"cannot reach the Docker engine at {tls}: it refused the client certificate "
              f"{c['other-ca']}/cert.pem", "it is not signed by a CA the engine trusts; issue one from the engine's CA")
    dead = f"tcp://127.0.0.1:{m['dead_port']}"
    check(port_free(m["dead_port"]), "nobody listens on the dead port")
    _one_line(_tls_env("good", dead),
              f"cannot reach the Docker engine at {dead}: connection refused; is the engine listening there",
              "and the port open to this host?")
    # the environment alone cannot weaken the connection
    _one_line(_env(DOCKER_HOST=tls),
              f"DOCKER_HOST={tls}: a plain TCP engine gives root on its host to anyone who reaches the port",
              "set docker_tls = false in the admin's file to allow it")


# ------------------------------------------------------------------ SSH


def test_ssh_engine_runs_a_container_job_and_a_durable_layer():
    _module()
    before = _ssh_logins()
    _container_job(_runner(_ssh_env()))
    check(_ssh_logins() > before, "the job's requests went through sshd")
    before = _ssh_logins()
    _durable_setup_and_cleanup("e2erssh", _runner(_ssh_env()))
    check(_ssh_logins() > before, "the deployment's requests went through sshd")


def _ssh_children(port: int) -> list[int]:
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().split(b"\0")
        except OSError:
            continue
        if cmd and cmd[0].endswith(b"ssh") and b"docker system dial-stdio" in cmd and str(port).encode() in cmd:
            out.append(int(pid))
    return out


def test_ssh_processes_get_none_of_the_jobs_variables():
    """The driver's environment holds the job's variables (CUSTOM_ENV_*); ssh gets only what
    ssh itself reads (HOME, PATH, SSH_AUTH_SOCK...)."""
    m = _module()
    secret = "e2e-remote-" + os.urandom(12).hex()
    secretscan.register(secret, "a masked job variable of test_remote_engine")
    job = new_job(["echo RUNNING", "sleep 8", "echo DONE"],
                  variables=[Variable("E2E_REMOTE_SECRET", secret, masked=True)])
    rj = start_job(job, _runner(_ssh_env()))
    check(rj.control.wait_for_log("RUNNING", 120), "the job got to its script")
    seen = {}
    for pid in _ssh_children(m["ssh_port"]):
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                seen[pid] = f.read().split(b"\0")
        except OSError:
            continue
    res = rj.wait(300)
    expect_success(res)
    check(seen, "ssh processes of the driver were running during the job")
    for pid, env in seen.items():
        keys = sorted(e.split(b"=", 1)[0].decode() for e in env if e)
        check(not any(k.startswith("CUSTOM_ENV_") or k.startswith("CI_") for k in keys),
              f"ssh {pid} has no job variable in its environment: {keys}")
        check(all(secret.encode() not in e for e in env), f"ssh {pid}'s environment holds no job secret")
        # (PWD: the test's ssh wrapper is a shell script, and sh sets it)
        check(set(keys) <= {"HOME", "USER", "LOGNAME", "PATH", "SSH_AUTH_SOCK", "KRB5CCNAME", "LANG", "LC_ALL",
                            "PWD"}, f"ssh {pid} gets only what ssh reads: {keys}")
    assert_no_leftovers(job)


def test_ssh_failures_are_one_line_naming_the_engine_and_the_fix():
    m = _module()
    ssh = m["ssh"]
    _one_line(_ssh_env("bin-refused"),
              f"cannot reach the Docker engine at {ssh}: ssh exited with status 255: root@127.0.0.1: Permission "
              "denied (publickey).", "give the runner's user a key that the remote user accepts")
    dead = f"ssh://root@127.0.0.1:{m['dead_port']}"
    _one_line(_env(DOCKER_HOST=dead, PATH=_ssh_env()["PATH"]),
              f"cannot reach the Docker engine at {dead}: ssh exited with status 255: ssh: connect to host "
              f"127.0.0.1 port {m['dead_port']}: Connection refused", "is sshd running on that host and port")


def test_tls_and_ssh_drivers_are_clean_under_valgrind():
    """A container job with a service over each transport, every driver process under
    valgrind: no invalid access, no leak, no descriptor left open (the kept connections, the
    ssh listener, the ssh processes' stderr files), no ssh process left behind."""
    m = _module()
    for name, env in (("tls", _tls_env("good")), ("ssh", _ssh_env())):
        logs = w("valgrind", name)
        runner = RunnerConfig.for_driver(vglib.wrapper(logs, executor_bin()), token=RUNNER_TOKEN,
                                         name="e2e-remote-valgrind", preparation_retry_interval=0.2,
                                         extra_env=env, unset_env=[k for k in DOCKER_VARS if k not in env])
        _container_job(runner)
        summary = vglib.summarize(logs)
        check(summary["processes"] > 0, f"no valgrind log in {logs}")
        check(not summary["errors"], vglib.report(summary) + "\n" +
              "\n".join(f"{n}:\n{t}" for n, t in summary["logs_with_errors"]))
        check(not summary["fd_leaks"], f"{name}: descriptors left open at exit: {summary['fd_leaks']}")
        print(f"  {name}: {vglib.report(summary)}", flush=True)
    check(not _ssh_children(m["ssh_port"]), "no ssh process of the driver is left")


# ------------------------------------------------------------------ doctor


def test_doctor_says_which_engine_and_checks_it():
    m = _module()
    c = m["certs"]
    # the local socket
    rc, checks = _doctor(_env())
    check(rc == 0, f"doctor on the local socket exits 0: {checks}")
    check("local socket unix:///var/run/docker.sock" in checks["connect"][0]["message"], f"{checks['connect']}")
    check("local socket at unix:///var/run/docker.sock" in checks["engine"][-1]["message"], f"{checks['engine']}")
    # TCP+TLS, from the admin's file
    rc, checks = _doctor({"EXECUTOR_CONFIG": m["tls_config"], "NO_COLOR": "1"})
    msg = checks["connect"][0]["message"]
    check(rc == 0 and checks["connect"][0]["status"] == "ok", f"doctor over TLS is happy: {checks}")
    check(f"TCP+TLS engine {m['tls']} (docker_host): TLS handshake done, engine certificate verified against "
          f"{c['good']}/ca.pem, client certificate accepted" == msg, f"the connect line: {msg}")
    check(f"TCP+TLS at {m['tls']}" in checks["engine"][-1]["message"], f"{checks['engine']}")
    certs = {x["message"].split()[0] + " " + x["message"].split()[1]: x for x in checks["certs"]}
    check(certs["CA " + c["good"] + "/ca.pem"]["status"] == "warning", f"the CA expires within 30 days: {certs}")
    check(certs["client certificate"]["status"] == "warning", f"so does the client certificate: {certs}")
    check("expires in 2 days" in certs["client certificate"]["message"], f"{certs['client certificate']}")
    check("ports" in checks and "is remote" in checks["ports"][0]["message"], f"{checks.get('ports')}")
    # a client certificate that expires in 10 days: a warning, and it still connects
    rc, checks = _doctor(_tls_env("soon"))
    soon = [x for x in checks["certs"] if "client certificate" in x["message"]]
    check(rc == 0 and checks["connect"][0]["status"] == "ok", f"a certificate about to expire still works: {checks}")
    check(len(soon) == 1 and soon[0]["status"] == "warning" and "expires in 9 days" in soon[0]["message"]
          and soon[0].get("fix"), f"a warning with the fix: {soon}")
    # an expired one: an error, and the engine check says why it cannot connect
    rc, checks = _doctor(_tls_env("expired"))
    old = [x for x in checks["certs"] if "client certificate" in x["message"]]
    check(rc == 1, f"doctor exits 1 on an expired certificate: {checks}")
    check(len(old) == 1 and old[0]["status"] == "error" and "has expired" in old[0]["message"], f"{old}")
    check(any(x["status"] == "error" and "expired on 2020-02-01" in x["message"] for x in checks["engine"]),
          f"the engine check names the expiry: {checks['engine']}")
    # SSH
    rc, checks = _doctor(_ssh_env())
    check(rc == 0, f"doctor over SSH exits 0: {checks}")
    check(f"SSH engine {m['ssh']} (DOCKER_HOST): ssh logged in, `docker system dial-stdio` answered"
          == checks["connect"][0]["message"], f"{checks['connect']}")
    check(f"SSH at {m['ssh']}" in checks["engine"][-1]["message"], f"{checks['engine']}")
    # SSH refused: an error with the fix, exit 1
    rc, checks = _doctor(_ssh_env("bin-refused"))
    bad = [x for x in checks["engine"] if x["status"] == "error"]
    check(rc == 1 and bad and "Permission denied (publickey)" in bad[0]["message"] and bad[0].get("fix"),
          f"a refused key is an error with the fix: {checks}")


# ------------------------------------------------------------------ teardown


def test_zz_teardown_removes_everything():
    """The last test: the processes and files this module made, gone."""
    m = _module()
    socat, sshd = m["socat"].pid, m["sshd"].pid
    _clean()
    for proc in (m["socat"], m["sshd"]):
        proc.wait(timeout=10)
    if m.get("made_run_sshd"):
        os.rmdir("/run/sshd")
    m["stopped"] = True
    for pid in (socat, sshd):
        check(not os.path.exists(f"/proc/{pid}"), f"process {pid} stopped")
    check(not os.path.exists(WORK), f"{WORK} removed")
    check(not any(e2elib.app_objects(APP).values()), f"app {APP} removed: {e2elib.app_objects(APP)}")
