"""Progressive delivery (issue 7) through build/executor, against the real engine.

The watch after promote (EXECUTOR_WATCH_SECONDS): a candidate that starts failing after
the switch is switched back automatically, with the evidence; a healthy one passes. The
weighted canary (EXECUTOR_CANARY_STEPS): the share of clients the router sends to the
candidate, sticky per client, under load with no failed request at any step change;
`promote --abort` (also handed to a running canary job), `--full`, a failing candidate
taken back to 0%, and what is refused while a canary runs.

Same example application and World as test_bluegreen (nginx router and MariaDB in the
durable layer, four services per color), its own app and env e2epg with ports picked
free in 28000-28999. Only objects labelled io.executor.app=e2epg are ever removed.
"""

from __future__ import annotations

import atexit
import collections
import http.client
import json
import os
import ssl
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from e2elib import check, expect_failure, expect_success, remove_app_objects  # noqa: E402
from test_bluegreen import World  # noqa: E402

NEEDS_DOCKER = True

APP = "e2epg"
ENV = "e2epg"
PORT_BASE = 28000
CANARY_SAMPLE = 5000  # requests measured at 10%, as the issue asks

_world: World | None = None


def world() -> World:
    global _world
    if _world is None:
        _world = World(APP, ENV, PORT_BASE)
        left = remove_app_objects(APP)
        if left:
            print(f"  test_progressive: removed leftovers of an earlier run: {', '.join(left)}", flush=True)
        atexit.register(_at_exit)
    return _world


def _at_exit() -> None:
    if _world is not None:
        _world.teardown()
        remove_app_objects(APP)


# ------------------------------------------------------------------ clients


class Answer:
    def __init__(self, t0: float, t1: float, status: int = 0, color: str | None = None, error: str = ""):
        self.t0, self.t1, self.status, self.color, self.error = t0, t1, status, color, error

    @property
    def ok(self) -> bool:
        return not self.error and 200 <= self.status < 400

    def __repr__(self) -> str:
        return f"<{self.status} {self.color} {self.error}>"


def request(port: int, ctx: ssl.SSLContext, path: str, client: str | None = None,
            conn: http.client.HTTPSConnection | None = None) -> Answer:
    """One GET through the router; `client` is the executor_client cookie. Without
    `conn`, a new connection that is closed after the answer."""
    t0 = time.monotonic()
    own = conn is None
    if own:
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=15)
    try:
        headers = {"Connection": "close"} if own else {}
        if client:
            headers["Cookie"] = f"executor_client={client}"
        conn.request("GET", path, headers=headers)
        r = conn.getresponse()
        r.read()
        return Answer(t0, time.monotonic(), r.status, r.getheader("X-Executor-Color"))
    except (OSError, http.client.HTTPException, ssl.SSLError) as e:
        return Answer(t0, time.monotonic(), error=f"{type(e).__name__}: {e}")
    finally:
        if own:
            conn.close()


class Load(threading.Thread):
    """GET `path` through the live entry, one new TLS connection per request, cycling
    through `clients` cookies (none: the client address decides), until stopped."""

    def __init__(self, w: World, path: str, clients: int = 0):
        super().__init__(daemon=True)
        self.port, self.path, self.clients = w.port("live"), path, clients
        self.ctx = ssl.create_default_context(cafile=w.ca())
        self.answers: list[Answer] = []
        self.stop = threading.Event()

    def run(self) -> None:
        i = 0
        while not self.stop.is_set():
            client = f"load-{i % self.clients}" if self.clients else None
            self.answers.append(request(self.port, self.ctx, self.path, client))
            i += 1

    def finish(self) -> list[Answer]:
        self.stop.set()
        self.join(30)
        return self.answers

    def wait_for(self, n: int, timeout: float = 30) -> None:
        end = time.monotonic() + timeout
        while len(self.answers) < n and time.monotonic() < end:
            time.sleep(0.02)


def sample(w: World, clients: int, per_client: int, prefix: str, threads: int = 4) -> dict[str, list[str]]:
    """clients x per_client requests of / through the live entry, each client with its
    own cookie and its own keep-alive connection, opened when it starts (a connection
    opened before a reload may be served by an old worker, with the old routing, until
    it closes). A request on a reused connection that the
    server closed while idle is sent again on a new one, as HTTP/1.1 clients do (RFC 9112
    9.3.1: a reload closes the old workers' idle connections); any other failure, or a
    failure on a new connection, counts. client -> colors."""
    ctx = ssl.create_default_context(cafile=w.ca())
    out: dict[str, list[str]] = {}
    errors: list[Answer] = []
    lock = threading.Lock()

    def connect() -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection("127.0.0.1", w.port("live"), context=ctx, timeout=15)

    def work(k: int) -> None:
        conn, used = connect(), 0
        try:
            for c in range(k, clients, threads):
                name = f"{prefix}-{c}"
                got = []
                conn.close()
                conn, used = connect(), 0
                for _ in range(per_client):
                    a = request(w.port("live"), ctx, "/", name, conn)
                    if not a.ok and used and "RemoteDisconnected" in a.error:
                        conn.close()
                        conn, used = connect(), 0
                        a = request(w.port("live"), ctx, "/", name, conn)
                    used += 1
                    if not a.ok:
                        conn.close()
                        conn, used = connect(), 0
                        with lock:
                            errors.append(a)
                    got.append(a.color or "?")
                with lock:
                    out[name] = got
        finally:
            conn.close()

    ts = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    check(not errors, f"{len(errors)} of {clients * per_client} requests failed: {errors[:5]}")
    return out


def share(colors: dict[str, list[str]], color: str) -> float:
    n = sum(len(v) for v in colors.values())
    return sum(v.count(color) for v in colors.values()) / n


def sticky(colors: dict[str, list[str]]) -> list[str]:
    """Clients that got more than one color."""
    return [c for c, v in colors.items() if len(set(v)) != 1]


# ------------------------------------------------------------------ helpers


def promote_job(w: World, color: str, **variables: str):
    return w.job(f"promote:{color}", protected=True, stage="promote", variables=variables)


def status_json(w: World) -> dict:
    p = w.local("status", "--json")
    doc = json.loads(p.stdout)
    envs = doc.get("envs", doc) if isinstance(doc, dict) else doc
    for e in envs:
        if e.get("app") == APP and e.get("env") == ENV:
            return e
    raise AssertionError(f"executor status --json has no env {APP}/{ENV}: {p.stdout[:2000]}")


def canary_of(w: World) -> dict | None:
    return w.state_json().get("canary")


def deploy_green(w: World, **variables: str) -> None:
    """Green redeployed with these variables (the failure switch), blue live."""
    w.ensure("blue")
    res = w.run(w.job("deploy:green", variables=variables))
    expect_success(res)


def no_failures(answers: list[Answer], what: str) -> None:
    bad = [a for a in answers if not a.ok]
    check(answers and not bad, f"{what}: {len(bad)} of {len(answers)} requests failed: {bad[:5]}")


# ------------------------------------------------------------------ tests


def test_failing_candidate_is_switched_back_automatically_within_the_window():
    """green answers 500 after 40 requests: the watch sees the router's 5xx, switches
    back to blue, records the rollback, fails the job with the evidence; nothing fails
    after the switch back."""
    w = world()
    deploy_green(w, FAIL_AFTER_REQUESTS="40")
    load = Load(w, "/api/health")
    load.start()
    load.wait_for(20)
    t0 = time.monotonic()
    res = w.run(promote_job(w, "green", EXECUTOR_WATCH_SECONDS="60"))
    t_end = time.monotonic()
    time.sleep(2)
    answers = load.finish()
    expect_failure(res, "build")
    took = t_end - t0
    check("The watch after the switch passed" not in res.text,
          "the watch ended on the failure, not at the end of its window", res)
    text = res.text
    check("after the switch, green answered" in text and "live requests with 5xx" in text,
          "the job says how many live requests failed", res)
    check("first failing requests:" in text and "GET /api/health -> 500 (upstream said 500)" in text,
          "the job shows the first failing requests", res)
    check("switched back to blue" in text, "the job says it switched back", res)
    check(w.live() == "blue", f"blue is live again (state: {w.live()})", res)
    last = w.history()[-1]
    check(last["action"] == "promote" and last["result"] == "rolled-back" and "5xx" in last["message"],
          f"the history records the automatic rollback with the evidence: {last}", res)
    after = [a for a in answers if a.t0 > t_end]
    check(len(after) > 5, f"the load went on after the job ({len(after)} requests)")
    no_failures(after, "after the switch back")
    check(all(a.color == "blue" for a in after), "after the switch back, blue answers every request")
    failed = [a for a in answers if not a.ok]
    check(failed and all(a.color == "green" for a in failed),
          f"the only failures are green's own 500s: {failed[:5]}")
    print(f"  failing candidate: switched back {took:.1f} s after the promote started; "
          f"{len(failed)} of {len(answers)} requests failed (all green's 500s), "
          f"{len(after)} after the switch back, 0 failed", flush=True)
    w.expect_serving("live", "blue", "after the automatic rollback", res)


def test_healthy_candidate_passes_the_window_with_its_figures():
    w = world()
    deploy_green(w)
    load = Load(w, "/api/health")
    load.start()
    load.wait_for(10)
    res = w.run(promote_job(w, "green", EXECUTOR_WATCH_SECONDS="6"))
    answers = load.finish()
    expect_success(res)
    m = [ln for ln in res.text.splitlines() if "The watch after the switch passed: green:" in ln]
    check(m, "the job reports the window's figures", res)
    n = int(m[0].split("green: ")[1].split(" requests")[0])
    check(n > 10 and " 0 5xx" in m[0], f"the figures count the live requests, none failed: {m[0]}", res)
    check(w.live() == "green", "green is live", res)
    no_failures(answers, "a healthy promote with a watch")
    # the watch log is off again once the window is over
    check(b"executor_watch" not in w.router_file(), "the router's watch log is off after the window", res)
    w.local("rollback", "blue", "--env", ENV)


def test_canary_10_50_abort_then_10_100_sticky_with_no_failed_request():
    """10% of clients (5,000 requests: 10% +- 3%), sticky; 50%, the 10% clients among
    them; abort to 0%; then 10 -> 100 in one job; a load loop throughout: 0 failures."""
    w = world()
    deploy_green(w)
    bg = Load(w, "/", clients=50)
    bg.start()
    bg.wait_for(10)

    res = w.run(promote_job(w, "green", EXECUTOR_CANARY_STEPS="10", EXECUTOR_CANARY_PAUSE_SECONDS="2"))
    expect_success(res)
    check("The canary rests at 10% of live clients on green" in res.text, "the canary rests at 10%", res)
    st = status_json(w)
    check(st.get("live") == "blue" and st.get("split") == {"blue": 90, "green": 10},
          f"executor status shows the split: {st.get('split')}")
    human = w.local("status").stdout
    check("split: blue 90%, green 10%" in human, f"executor status prints the split: {human[:800]}")
    at10 = sample(w, CANARY_SAMPLE // 5, 5, "c")
    s10 = share(at10, "green")
    print(f"  canary at 10%: green answered {s10:.1%} of {CANARY_SAMPLE} requests from "
          f"{len(at10)} clients", flush=True)
    check(0.07 <= s10 <= 0.13, f"at 10%, green should get 10% +- 3% of {CANARY_SAMPLE} requests: {s10:.3f}")
    check(not sticky(at10), f"each client always gets the same color: {sticky(at10)[:5]}")
    green10 = {c for c, v in at10.items() if v[0] == "green"}

    check(w.run(w.job("deploy:green")).failure == "build", "deploying the canary color is refused")
    res = w.run(promote_job(w, "green", EXECUTOR_CANARY_STEPS="10,50", EXECUTOR_CANARY_PAUSE_SECONDS="2"))
    expect_success(res)
    check("The watch at 50% passed" in res.text, "the 50% step is watched", res)
    at50 = sample(w, 1000, 2, "c")
    s50 = share(at50, "green")
    print(f"  canary at 50%: green answered {s50:.1%} of 2000 requests from {len(at50)} clients", flush=True)
    check(0.45 <= s50 <= 0.55, f"at 50%, green should get 50% +- 5% of 2000 requests: {s50:.3f}")
    moved_back = [c for c in green10 if at50.get(c, ["green"])[0] != "green"]
    check(not moved_back, f"raising the weight keeps the 10% clients on green: {moved_back[:5]}")

    p = w.local("promote", "--abort", "--env", ENV)
    check("Canary aborted: blue serves every client" in p.stderr, f"--abort says so: {p.stderr[-500:]}")
    check(canary_of(w) is None and w.live() == "blue", f"no canary after --abort: {w.state_json()}")
    at0 = sample(w, 200, 1, "c")
    check(share(at0, "green") == 0, "after --abort no client reaches green")

    res = w.run(promote_job(w, "green", EXECUTOR_CANARY_STEPS="10,100", EXECUTOR_CANARY_PAUSE_SECONDS="3",
                            EXECUTOR_WATCH_SECONDS="2"))
    expect_success(res)
    answers = bg.finish()
    check("Canary: 10% of the live entry's clients now go to green" in res.text and "green is live" in res.text,
          "one job went 10% then 100%", res)
    check(w.live() == "green" and canary_of(w) is None, f"green is live, no canary left: {w.state_json()}")
    no_failures(answers, "the load loop across every step change")
    print(f"  load loop across 10%, 50%, abort, 10%, 100%: {len(answers)} requests, 0 failed", flush=True)
    check({a.color for a in answers} == {"blue", "green"}, "the load loop saw both colors")
    at100 = sample(w, 200, 1, "c")
    check(share(at100, "green") == 1, "at 100% every client reaches green")
    w.local("rollback", "blue", "--env", ENV)


def test_canary_with_a_failing_candidate_goes_back_to_0_percent():
    w = world()
    deploy_green(w, FAIL_AFTER_REQUESTS="30")
    bg = Load(w, "/api/health", clients=40)
    bg.start()
    bg.wait_for(10)
    res = w.run(promote_job(w, "green", EXECUTOR_CANARY_STEPS="10,50,100", EXECUTOR_CANARY_PAUSE_SECONDS="60"))
    t_end = time.monotonic()
    time.sleep(2)
    answers = bg.finish()
    expect_failure(res, "build")
    check("The watch at 10% passed" not in res.text, "the failure ended the step's watch, not its pause", res)
    check("at 10%, " in res.text and "every client is back on the live color" in res.text,
          "the job says the canary failed at 10% and went back", res)
    check(canary_of(w) is None and w.live() == "blue", f"no canary, blue live: {w.state_json()}")
    check(w.history()[-1]["result"] == "rolled-back", f"history: {w.history()[-1]}")
    after = [a for a in answers if a.t0 > t_end]
    no_failures(after, "after the canary went back to 0%")
    check(all(a.color == "blue" for a in after), "after it, blue answers every client")


def test_abort_is_handed_to_a_running_canary_job():
    """A canary job pauses 120 s at 10%; `executor promote --abort` from the host asks it
    to stop: back to 0% at once, the job fails saying an operator aborted it."""
    from harness import start_job

    w = world()
    deploy_green(w)
    job = promote_job(w, "green", EXECUTOR_CANARY_STEPS="10,50", EXECUTOR_CANARY_PAUSE_SECONDS="120")
    running = start_job(job, w.runner())
    end = time.monotonic() + 60
    while time.monotonic() < end and not canary_of(w):
        time.sleep(0.1)
    check(canary_of(w) and canary_of(w).get("weight") == 10, f"the job reached 10%: {w.state_json()}")
    p = w.local("promote", "--abort", "--env", ENV)
    check("took the abort" in p.stderr, f"--abort was handed to the running job: {p.stderr[-600:]}")
    # the job pauses 120 s at 10%: it ends long before only because it took the abort
    res = running.wait(60)
    expect_failure(res, "build")
    check("an operator asked to abort at 10%" in res.text, "the canary job says it was aborted", res)
    check(canary_of(w) is None and w.live() == "blue", f"back to 0%: {w.state_json()}")
    # and --full to a running one
    running = start_job(promote_job(w, "green", EXECUTOR_CANARY_STEPS="20,50",
                                    EXECUTOR_CANARY_PAUSE_SECONDS="120"), w.runner())
    end = time.monotonic() + 60
    while time.monotonic() < end and not canary_of(w):
        time.sleep(0.1)
    p = w.local("promote", "--full", "--env", ENV)
    check("took the request to finish" in p.stderr, f"--full was handed over: {p.stderr[-600:]}")
    res = running.wait(60)
    expect_success(res)
    check(w.live() == "green" and canary_of(w) is None, f"--full: green live: {w.state_json()}")
    w.local("rollback", "blue", "--env", ENV)


def test_canceling_a_canary_job_takes_it_back_to_0_percent():
    from harness import start_job

    w = world()
    deploy_green(w)
    running = start_job(promote_job(w, "green", EXECUTOR_CANARY_STEPS="30,100",
                                    EXECUTOR_CANARY_PAUSE_SECONDS="120"), w.runner())
    end = time.monotonic() + 60
    while time.monotonic() < end and not canary_of(w):
        time.sleep(0.1)
    check(canary_of(w), "the job reached its first step")
    running.control.cancel()
    res = running.wait(60)
    check(res.status in ("canceled", "failed"), f"the job ends canceled: {res.status}", res)
    check(canary_of(w) is None and w.live() == "blue", f"canceled: back to 0%: {w.state_json()}")
    w.expect_serving("live", "blue", "after the cancel")


def test_bad_canary_and_watch_variables_are_refused_before_anything_changes():
    w = world()
    w.ensure("blue", also="green")
    before = w.router_file()
    for variables, message in (
        ({"EXECUTOR_CANARY_STEPS": "50,10"},
         'EXECUTOR_CANARY_STEPS "50,10" must be rising percentages of live traffic from 1 to 100, '
         "comma-separated (at most 8), e.g. 10,50,100"),
        ({"EXECUTOR_CANARY_STEPS": "10;rm"},
         'EXECUTOR_CANARY_STEPS "10;rm" must be rising percentages of live traffic from 1 to 100, '
         "comma-separated (at most 8), e.g. 10,50,100"),
        ({"EXECUTOR_WATCH_SECONDS": "soon"},
         'EXECUTOR_WATCH_SECONDS must be a whole number from 0 to 86400, not "soon"'),
        ({"EXECUTOR_WATCH_MAX_ERROR_RATE": "2"},
         "EXECUTOR_WATCH_MAX_ERROR_RATE must be a share from 0 to 1 (0.05) or a percentage (5%), "
         'not "2"'),
        ({"EXECUTOR_PROMOTE": "sideways"}, 'EXECUTOR_PROMOTE must be abort, full or steps, not "sideways"'),
    ):
        res = w.run(promote_job(w, "green", **variables))
        expect_failure(res, "build")
        check(message in res.text, f"{variables}: the job says {message!r}", res)
        check(w.live() == "blue" and canary_of(w) is None and w.router_file() == before,
              f"{variables}: nothing changed", res)


def test_teardown_leaves_nothing():
    w = world()
    problems = w.teardown()
    check(not problems, f"teardown: {problems}")
    left = remove_app_objects(APP)
    check(not left, f"objects of app {APP} left after the teardown: {left}")
