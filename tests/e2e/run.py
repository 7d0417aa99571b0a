#!/usr/bin/env python3
"""End-to-end test runner: tests/e2e/test_*.py, functions test_*, in file order.

    EXECUTOR_BIN=build/executor python3 tests/e2e/run.py [NAME-FILTER...]

A filter selects tests whose "module.function" contains it. Before the first test that
needs Docker (module attribute NEEDS_DOCKER = True) it builds the fixture images
(tests/fixtures/build-images.sh), writes the driver's admin file into a fresh state
directory (with helper_image = executor-test/helper and runner_binary = the gitlab-runner
stand-in, e2elib.helper_conf()), exports EXECUTOR_CONFIG and E2E_STATE_DIR, and removes what an earlier run
left with the label io.executor.runner=e2etest (and nothing else). After the tests it
checks that no object with that label is left, and searches every log the tests produced
for every secret the run generated (secretscan.py). Prints one line per test and ends with
"e2e: N passed, N failed"; exits 1 when anything failed.

Environment: E2E_KEEP=1 keeps the state directory, E2E_ECHO=1 echoes job logs live,
E2E_TEST_TIMEOUT (s, default 600) bounds each test (a test function's own `timeout`
attribute raises its bound), E2E_SKIP_IMAGES=1 skips the image build.

Each module's tests run in order in one child process (forked after the modules are
imported and the environment set; its own process group), which reports to run.py through
a pipe when each test starts and ends. A test past its bound is stopped: SIGTERM (the test
unwinds and the module's atexit teardowns run, for at most STOP_GRACE seconds), then the
whole process group is killed; the module's later tests go on in a new child process.
"""

from __future__ import annotations

import glob
import atexit
import importlib.util
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import e2elib  # noqa: E402
import secretscan  # noqa: E402

_LOCK = None
COLOR = sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def c(code: str, s: str) -> str:
    return f"\033[{code}m{s}\033[0m" if COLOR else s


def discover(filters: list[str]) -> list[tuple[str, object, object]]:
    tests = []
    for path in sorted(glob.glob(os.path.join(HERE, "test_*.py"))):
        name = os.path.splitext(os.path.basename(path))[0]
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)  # type: ignore[union-attr]
        for fname, fn in list(vars(mod).items()):
            if fname.startswith("test_") and callable(fn):
                full = f"{name}.{fname}"
                if not filters or any(f in full for f in filters):
                    tests.append((full, mod, fn))
    return tests


def modules(tests: list[tuple[str, object, object]]) -> list[tuple[object, list[tuple[str, object, object]]]]:
    """The tests grouped by module, in order (each group runs in one test process)."""
    groups: list[tuple[object, list[tuple[str, object, object]]]] = []
    for t in tests:
        if groups and groups[-1][0] is t[1]:
            groups[-1][1].append(t)
        else:
            groups.append((t[1], [t]))
    return groups


def setup_docker(state: str) -> None:
    global _LOCK
    _LOCK = e2elib.exclusive("executor-e2e")
    if os.environ.get("E2E_SKIP_IMAGES") != "1":
        t0 = time.monotonic()
        subprocess.run(["bash", os.path.join(e2elib.REPO, "tests", "fixtures", "build-images.sh"), "--quiet"], check=True)
        print(f"fixture images ready ({time.monotonic() - t0:.1f} s)")
    removed = e2elib.remove_runner_leftovers(e2elib.RUNNER_SHORT)
    if removed:
        print(f"removed {len(removed)} leftovers of an earlier run: {', '.join(removed)}")
    # the runner's own stages in a helper container (executor-test/helper, the gitlab-runner
    # stand-in) for every test that uses this file; tests with a file of their own opt in
    cfg = e2elib.write_admin_config(os.path.join(state, "executor.conf"), os.path.join(state, "driver"),
                                    **e2elib.helper_conf())
    os.environ["EXECUTOR_CONFIG"] = cfg
    print(f"admin config {cfg}; state dir {state}")


class Stopped(BaseException):
    """Raised in a test process by SIGTERM: its test ran out of time."""


def _send(fd: int, msg: dict) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    data = (json.dumps(msg) + "\n").encode()
    while data:
        data = data[os.write(fd, data):]


def _on_sigterm(signum: int, frame: object) -> None:
    raise Stopped()


def _child(tests: list[tuple[str, object, object, float]], fd: int) -> None:
    """The test process: the module's tests in order, one message when each starts and
    one when it ends (its error as text, and what secretscan found so far)."""
    os.setpgid(0, 0)  # its own group: run.py kills the test's processes with it
    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        for full, _mod, fn, _bound in tests:
            _send(fd, {"start": full})
            text = None
            try:
                fn()  # type: ignore[operator]
            except Stopped:
                raise
            except BaseException as e:  # noqa: BLE001
                if isinstance(e, (AssertionError, e2elib.SetupError, TimeoutError)):
                    text = str(e)
                else:
                    text = "".join(traceback.format_exception(e)).rstrip("\n")
            _send(fd, {"end": full, "error": text, "scan": secretscan.snapshot()})
    except Stopped:
        pass
    finally:
        # the module's atexit teardowns (a World's objects), as at the end of a process
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            atexit._run_exitfuncs()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)


# after a SIGTERM, how long a stopped test process has to tear its objects down
# before its whole process group is killed
STOP_GRACE = 60.0


def _stop(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    t_end = time.monotonic() + STOP_GRACE
    while time.monotonic() < t_end:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.2)
    try:
        os.killpg(pid, signal.SIGKILL)  # what the test started, too
    except ProcessLookupError:
        pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def run_module(tests: list[tuple[str, object, object, float]], report) -> None:
    """Run one module's tests in a child process (forked: the modules are imported, the
    environment set); a test past its bound is stopped (SIGTERM, then its process group
    killed), not abandoned, and the module's later tests go on in a new process.
    report(full, error-or-None, seconds) is called once per test."""
    while tests:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            _child(tests, w)
        os.close(w)
        current, t0, deadline, buf, done = None, 0.0, None, b"", 0
        try:
            while True:
                wait = None if deadline is None else max(0.0, deadline - time.monotonic())
                ready, _, _ = select.select([r], [], [], wait)
                if not ready:  # the test ran past its bound
                    _stop(pid)
                    bound = tests[done][3]
                    report(current, TimeoutError(f"test did not finish within {bound:.0f} s "
                                                 "(E2E_TEST_TIMEOUT); stopped"), time.monotonic() - t0)
                    secretscan.adopt_orphans()
                    done += 1
                    break
                chunk = os.read(r, 65536)
                if not chunk:  # the process ended
                    _, status = os.waitpid(pid, 0)
                    if current is not None:
                        report(current, AssertionError("the test's process ended (exit status "
                                                       f"{os.waitstatus_to_exitcode(status)}) before the test did"), time.monotonic() - t0)
                        secretscan.adopt_orphans()
                        done += 1
                    break
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    msg = json.loads(line)
                    if "start" in msg:
                        current, t0 = msg["start"], time.monotonic()
                        deadline = t0 + tests[done][3]
                    else:
                        secretscan.merge(msg["scan"])
                        err = msg["error"]
                        report(current, None if err is None else _Reported(err), time.monotonic() - t0)
                        current, deadline = None, None
                        done += 1
        except BaseException:
            _stop(pid)
            raise
        finally:
            os.close(r)
        tests = tests[done:]


class _Reported(Exception):
    """A test's error as its process wrote it."""


def main(argv: list[str]) -> int:
    filters = [a for a in argv if not a.startswith("-")]
    tests = discover(filters)
    if not tests:
        print(f"e2e: no tests match {filters}")
        print("e2e: 0 passed, 0 failed")
        return 1
    state = tempfile.mkdtemp(prefix="executor-e2e-")
    os.chmod(state, 0o700)
    os.environ["E2E_STATE_DIR"] = state
    timeout = float(os.environ.get("E2E_TEST_TIMEOUT", "600"))
    secretscan.install(os.path.join(state, "logs"))
    passed = failed = 0
    docker_ready: bool | None = None
    setup_error = ""
    setup_dt = 0.0
    t_all = time.monotonic()
    try:
        counts = {"passed": 0, "failed": 0}

        def report(full: str, err: BaseException | None, dt: float) -> None:
            if err is None:
                counts["passed"] += 1
                print(f"{c('32', 'PASS')} {full} ({dt:.1f} s)", flush=True)
                return
            counts["failed"] += 1
            print(f"{c('31;1', 'FAIL')} {full} ({dt:.1f} s)", flush=True)
            print("  " + str(err).replace("\n", "\n  "), flush=True)

        for mod, group in modules(tests):
            if getattr(mod, "NEEDS_DOCKER", False) and docker_ready is None:
                t0 = time.monotonic()
                try:
                    e2elib.executor_bin()
                    setup_docker(state)
                    docker_ready = True
                except BaseException as e:  # noqa: BLE001
                    docker_ready = False
                    setup_error = f"setup failed: {e}"
                setup_dt = time.monotonic() - t0
            if getattr(mod, "NEEDS_DOCKER", False) and not docker_ready:
                for full, _mod, _fn in group:
                    report(full, e2elib.SetupError(setup_error), setup_dt)
                    setup_dt = 0.0
                continue
            # a test that is long by design (a soak) names its own bound
            run_module([(full, m, fn, max(timeout, float(getattr(fn, "timeout", 0)))) for full, m, fn in group],
                       report)
        passed, failed = counts["passed"], counts["failed"]
        summary, hits = secretscan.verify()
        if hits:
            failed += 1
            print(f"{c('31;1', 'FAIL')} {summary}:\n  " + "\n  ".join(hits[:30]), flush=True)
        else:
            print(summary, flush=True)
        if docker_ready:
            e2elib.remove_slot_networks(e2elib.RUNNER_SHORT)
            left = e2elib.labelled(e2elib.RUNNER_SHORT)
            if any(left.values()):
                failed += 1
                print(f"{c('31;1', 'FAIL')} leftovers: objects labelled io.executor.runner={e2elib.RUNNER_SHORT} "
                      f"remain after the tests: {left}")
                e2elib.remove_runner_leftovers(e2elib.RUNNER_SHORT)
    finally:
        if os.environ.get("E2E_KEEP") == "1":
            print(f"state kept in {state}")
        else:
            shutil.rmtree(state, ignore_errors=True)
    print(f"e2e: took {time.monotonic() - t_all:.0f} s")
    print(f"e2e: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
