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
"""

from __future__ import annotations

import glob
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import threading
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


def run_one(fn: object, timeout: float) -> BaseException | None:
    box: dict[str, BaseException] = {}

    def body() -> None:
        try:
            fn()  # type: ignore[operator]
        except BaseException as e:  # noqa: BLE001
            box["e"] = e

    t = threading.Thread(target=body, daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        return TimeoutError(f"test did not finish within {timeout:.0f} s (E2E_TEST_TIMEOUT)")
    return box.get("e")


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
    t_all = time.monotonic()
    try:
        for full, mod, fn in tests:
            t0 = time.monotonic()
            err: BaseException | None = None
            if getattr(mod, "NEEDS_DOCKER", False) and docker_ready is None:
                try:
                    e2elib.executor_bin()
                    setup_docker(state)
                    docker_ready = True
                except BaseException as e:  # noqa: BLE001
                    docker_ready = False
                    setup_error = f"setup failed: {e}"
            if getattr(mod, "NEEDS_DOCKER", False) and not docker_ready:
                err = e2elib.SetupError(setup_error)
            else:
                # a test that is long by design (a soak) names its own bound
                err = run_one(fn, max(timeout, float(getattr(fn, "timeout", 0))))
            dt = time.monotonic() - t0
            if err is None:
                passed += 1
                print(f"{c('32', 'PASS')} {full} ({dt:.1f} s)", flush=True)
            else:
                failed += 1
                print(f"{c('31;1', 'FAIL')} {full} ({dt:.1f} s)", flush=True)
                if isinstance(err, (AssertionError, e2elib.SetupError, TimeoutError)):
                    print("  " + str(err).replace("\n", "\n  "), flush=True)
                else:
                    print("  " + "".join(traceback.format_exception(err)).replace("\n", "\n  "), flush=True)
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
