#!/usr/bin/env python3
"""Compare `executor compose config` with Debian's docker-compose 1.29 on the corpus.

For every case of tests/compose-conformance/cases that expects a model (not an
error), the case's files are written to <tmp>/app, `docker-compose config` (1.29,
Python) and `executor compose config --format json` are run there with the case's
variables as the environment, and each field both print is compared after
normalising the forms 1.29 prints as written (see NORMALISED below). Cases 1.29
refuses (keys it does not know, !reset, include...) are counted, not compared.
Known differences between 1.29 and the Compose specification that this reader
follows are listed in KNOWN with the reason; any other difference fails.

usage: compare-docker-compose.py EXECUTOR_BIN [CASES_DIR]
Prints one line per difference and a closing line "N passed, N failed".
"""
import concurrent.futures
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

import yaml  # python3-yaml, a dependency of docker-compose

# NORMALISED: 1.29 prints most values as written; both sides are brought to one form:
#   command/entrypoint strings are split like a shell; healthcheck test strings become
#   CMD-SHELL; byte sizes and durations become numbers; ports and volumes short syntax
#   become tuples; `$$` in 1.29's output is a literal `$` (it re-escapes on output);
#   extra_hosts "h:ip" is "h=ip"; services 1.29 keeps although their profile is off are
#   skipped; a service without networks is on "default".
KNOWN = {
    # the Compose specification (and Compose v2) differ from 1.29 here; the reader
    # follows the specification (issue 16 lists these as divergences to fix)
    "502-depends-on-list-overrides-condition": "1.29 keeps service_healthy; compose-go's list form means service_started",
    "503-volume-long-replaces-entry": "1.29 merges the long-syntax entry field by field; compose-go replaces it",
    "505-extra-hosts-across-files": "1.29 replaces the list; compose-go appends without duplicates",
    "506-braces-default-json": "1.29's regex leaves a stray }; compose-go counts braces",
    "016-interp-braces-in-default": "1.29's regex leaves a stray }; compose-go counts braces",
    "017-interp-nested-braces-default": "1.29's regex leaves a stray }; compose-go counts braces",
    "123-merge-env-file-appended": "1.29 resolves env_file paths per file and replaces the list",
    "107-merge-dns-unique": "1.29 keeps a string over a list (no unicity)",
    "116-merge-tmpfs-unique": "1.29 keeps a string over a list (no unicity)",
    "114-merge-cap-add-unique": "1.29 merges cap_add as a set, in another order",
    "124-merge-expose-unique": "1.29 merges expose as a set, in another order",
    "118-merge-ulimits-replace": "1.29 merges ulimits field by field",
    "120-merge-logging-other-driver": "1.29 keeps the old options with a new driver",
    "109-merge-ports-unique": "1.29 appends the duplicate port",
    "014-interp-nested-default": "1.29 does not interpolate inside a default",
    "015-interp-nested-var": "1.29 does not interpolate inside a default",
    "253-build-without-image": "1.29 prints no image for a build; Compose names it <project>-<service>",
}

RAM = re.compile(r"^(\d+(?:\.\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?$")


def ram(v):
    if isinstance(v, (int, float)):
        return int(v)
    m = RAM.match(str(v))
    if not m:
        return v
    mult = 1024 ** ("kmgtp".index(m.group(2).lower()) + 1) if m.group(2) else 1
    return int(float(m.group(1)) * mult)


DUR = re.compile(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)")
UNITS = {"ns": 1e-6, "us": 1e-3, "ms": 1, "s": 1000, "m": 60000, "h": 3600000}


def dur(v):
    if isinstance(v, (int, float)):
        return v
    return int(sum(float(a) * UNITS[u] for a, u in DUR.findall(str(v))))


def unesc(v):
    if isinstance(v, str):
        return v.replace("$$", "$")
    if isinstance(v, list):
        return [unesc(x) for x in v]
    if isinstance(v, dict):
        return {unesc(k): unesc(x) for k, x in v.items()}
    return v


def argv(v):
    if isinstance(v, str):
        return shlex.split(v)
    return [str(x) for x in v]


def kv(v):
    if isinstance(v, list):
        out = {}
        for e in v:
            k, _, val = str(e).partition("=")
            out[k] = val if "=" in str(e) else None
        return out
    return {str(k): (None if x is None else str(x).lower() if isinstance(x, bool) else str(x)) for k, x in (v or {}).items()}


def port_tuples(ports):
    out = []
    for p in ports or []:
        if isinstance(p, dict):
            out.append((str(p.get("host_ip", "") or ""), str(p.get("published", "") or ""), int(p["target"]), p.get("protocol", "tcp")))
            continue
        s = str(p)
        proto = "tcp"
        if "/" in s:
            s, proto = s.rsplit("/", 1)
        ip = ""
        if s.startswith("["):
            ip, s = s[1:].split("]:", 1)
        parts = s.split(":")
        if len(parts) > 3:  # 1.29 prints an IPv6 host address without brackets
            parts = [":".join(parts[:-2])] + parts[-2:]
        if len(parts) == 3:
            ip, pub, tgt = parts
        elif len(parts) == 2:
            pub, tgt = parts
        else:
            pub, tgt = "", parts[0]
        t0, _, t1 = tgt.partition("-")
        p0, _, p1 = pub.partition("-")
        ts = list(range(int(t0), int(t1 or t0) + 1))
        for i, t in enumerate(ts):
            if p0 and len(ts) > 1:
                pp = str(int(p0) + i)
            else:
                pp = pub
            out.append((ip, pp, t, proto))
    return out


def vol_tuples(vols):
    out = []
    for v in vols or []:
        if isinstance(v, dict):
            out.append((v.get("type"), v.get("source"), os.path.normpath(v["target"]), bool(v.get("read_only", False))))
            continue
        parts = str(v).split(":")
        if len(parts) == 1:
            out.append(("volume", None, os.path.normpath(parts[0]), False))
            continue
        src, tgt = parts[0], parts[1]
        mode = parts[2] if len(parts) > 2 else ""
        typ = "bind" if src.startswith(("/", ".", "~")) else "volume"
        out.append((typ, src, os.path.normpath(tgt), "ro" in mode.split(",")))
    return out


def hosts(v):
    if isinstance(v, dict):
        return sorted(f"{k}={x}" for k, x in v.items())
    return sorted(str(e).replace(":", "=", 1) if "=" not in str(e) else str(e) for e in v or [])


def health(h):
    out = {}
    t = h.get("test")
    if isinstance(t, str):
        t = ["CMD-SHELL", t]
    if h.get("disable"):
        t = ["NONE"]
    if t is not None:
        out["test"] = [str(x) for x in t]
    for k in ("interval", "timeout", "start_period"):
        if k in h:
            out[k] = dur(h[k])
    if "retries" in h:
        out["retries"] = int(h["retries"])
    return out


def ulimits(u):
    out = {}
    for k, v in (u or {}).items():
        out[k] = (int(v), int(v)) if not isinstance(v, dict) else (int(v["soft"]), int(v["hard"]))
    return out


def strlist(v):
    if v is None:
        return None
    if isinstance(v, str):
        return [v]
    return [str(x) for x in v]


FIELDS = {
    "image": str,
    "command": argv,
    "entrypoint": argv,
    "environment": kv,
    "labels": kv,
    "sysctls": kv,
    "ports": port_tuples,
    "volumes": vol_tuples,
    "extra_hosts": hosts,
    "healthcheck": health,
    "ulimits": ulimits,
    "cap_add": strlist,
    "cap_drop": strlist,
    "dns": strlist,
    "dns_search": strlist,
    "security_opt": strlist,
    "tmpfs": strlist,
    "links": strlist,
    "group_add": strlist,
    "user": str,
    "working_dir": str,
    "hostname": str,
    "domainname": str,
    "stop_signal": str,
    "network_mode": str,
    "pid": str,
    "ipc": str,
    "container_name": str,
    "read_only": bool,
    "init": bool,
    "privileged": bool,
    "tty": bool,
    "stdin_open": bool,
    "mem_limit": ram,
    "mem_reservation": ram,
    "memswap_limit": ram,
    "shm_size": ram,
    "cpus": float,
    "cpu_shares": int,
    "pids_limit": int,
    "stop_grace_period": dur,
    "depends_on": lambda d: {k: (v or {}).get("condition", "service_started") for k, v in (d.items() if isinstance(d, dict) else ((x, None) for x in d))},
    "networks": lambda n: sorted(n.keys() if isinstance(n, dict) else n),
    "secrets": lambda s: sorted((x if isinstance(x, str) else x["source"]) for x in s),
    "configs": lambda s: sorted((x if isinstance(x, str) else x["source"]) for x in s),
    "logging": lambda l: (l.get("driver"), kv(l.get("options"))),
}


def parse_case(path):
    sections, cur, name = {}, None, None
    files = []
    for line in open(path).read().split("\n"):
        if line.startswith("--- "):
            head = line[4:]
            if head.startswith("file: "):
                cur = []
                files.append((head[6:], cur))
            else:
                cur = []
                sections[head.split(":")[0]] = cur
            continue
        if cur is not None:
            cur.append(line)
    return [(n, "\n".join(t)) for n, t in files], {k: "\n".join(v) for k, v in sections.items()}


def run_case(exe, path):
    files, sec = parse_case(path)
    if "error" in sec or "expect" not in sec:
        return "skip", ""
    tmp = tempfile.mkdtemp(prefix="cc-")
    try:
        d = os.path.join(tmp, "app")
        os.makedirs(d)
        for n, t in files:
            os.makedirs(os.path.dirname(os.path.join(d, n)), exist_ok=True)
            open(os.path.join(d, n), "w").write(t + "\n")
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/root")}
        for line in sec.get("vars", "").splitlines():
            if "=" in line:
                k, _, v = line.partition("=")
                env[k] = v
        args = sec.get("args", "").split()
        if "--no-dotenv" in args or "--file-name-wins" in args or "--root" in args:
            return "skip", ""
        dc, ours = ["docker-compose"], [exe, "compose", "config", "--format", "json"]
        it = iter(args)
        for a in it:
            v = next(it)
            if a == "-f":
                dc += ["-f", v]
                ours += ["-f", v]
            elif a == "--profile":
                dc += ["--profile", v]
                ours += ["--profile", v]
            elif a == "--project-name":
                dc += ["-p", v]
                ours += ["--project-name", v]
        if not any(a == "-f" for a in args):
            dc += ["-f", files[0][0]]
            ours += ["-f", files[0][0]]
        r = subprocess.run(dc + ["config"], cwd=d, env=env, capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            return "refused", r.stderr.strip().splitlines()[-1:] if r.stderr else ""
        theirs = unesc(yaml.safe_load(r.stdout) or {})
        o = subprocess.run(ours, cwd=d, env=env, capture_output=True, text=True, timeout=60)
        if o.returncode != 0:
            return "differ", f"executor failed: {o.stderr.strip()}"
        mine = json.loads(o.stdout)
        diffs = []
        for name, ts in (theirs.get("services") or {}).items():
            ms = (mine.get("services") or {}).get(name)
            if ms is None:
                continue  # 1.29 keeps services whose profiles are off
            ts = dict(ts)
            if "networks" not in ts and "network_mode" not in ts:
                ts["networks"] = {"default": None}
            for field, norm in FIELDS.items():
                if field not in ts and field not in ms:
                    continue
                if field not in ts or field not in ms:
                    if field in ("networks", "container_name", "depends_on"):
                        continue
                    diffs.append(f"{name}.{field}: only in {'1.29' if field in ts else 'executor'}")
                    continue
                try:
                    a, b = norm(ts[field]), norm(ms[field])
                except Exception as e:  # a form this script does not normalise
                    diffs.append(f"{name}.{field}: cannot compare ({e})")
                    continue
                if field == "volumes":
                    a = [(t, (os.path.normpath(s) if t == "bind" and s else s), g, ro) for t, s, g, ro in a]
                    b = [(t, (os.path.normpath(s) if t == "bind" and s else s), g, ro) for t, s, g, ro in b]
                if a != b:
                    diffs.append(f"{name}.{field}: 1.29 {a!r}, executor {b!r}")
        return ("agree", "") if not diffs else ("differ", "; ".join(diffs))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    exe = os.path.abspath(sys.argv[1])
    cases = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "cases")
    if not shutil.which("docker-compose"):
        print("docker-compose is not installed (scripts/install-deps.sh test installs it)")
        sys.exit(1)
    counts = {"skip": 0, "refused": 0, "agree": 0, "differ": 0, "known": 0}
    failed = 0
    names = sorted(f[:-5] for f in os.listdir(cases) if f.endswith(".case"))
    # two at a time: docker-compose 1.29 takes about a second to start
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda n: run_case(exe, os.path.join(cases, n + ".case")), names))
    for name, (res, why) in zip(names, results):
        if res == "differ" and name in KNOWN:
            res = "known"
        counts[res] += 1
        if res == "differ":
            failed += 1
            print(f"DIFFER {name}: {why}")
    compared = counts["agree"] + counts["differ"] + counts["known"]
    print(f"docker-compose 1.29: {compared} cases compared ({counts['agree']} agree, "
          f"{counts['known']} known differences), {counts['refused']} refused by 1.29, "
          f"{counts['skip']} not comparable (errors, reader options)")
    print(f"compare-1.29: {counts['agree'] + counts['known']} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
