#!/usr/bin/env python3
"""Differential testing of nftrace against the running kernel (docs/difftest.md).

    recorder/difftest.py --seed S --count N [--probes K] [--keep-going] [--out DIR]

Generates random scenarios (recorder/random_rules.py, K random probes each, plus
the follow-ups derived from the kernel's conntrack entries; one probe of one
scenario = one case) until at least N cases are recorded, records every one on
the real kernel with the fixture recorder (record.py, under its lock), then
replays them all at once with nftrace using the replay tests' comparison
(`cargo test --test integration replay_dir_from_env -- --ignored`, which runs
tests/it/replay.rs `check_probe`).  Prints cases, agreements, disagreements
and how many rulesets the kernel refused (those are regenerated, not counted).

Scenario k of seed S is generated from the string "S-k-attempt", so
`--seed S --only k` rebuilds one scenario exactly.  --keep-going records all
N cases even after a disagreement (default: stop recording once a batch has
one).  Scenario dirs stay in --out (default a new temp dir) for inspection.

    recorder/difftest.py --minimize DIR PROBE --to fixtures/difftest-NAME

keeps only probe PROBE of the recorded scenario DIR and drops rules, chains
and tables one at a time while the case still disagrees the same way
(re-recording each candidate on the kernel), then records the result into
the fixture directory.  `--tree DIR` replays with another nftrace source
tree (a checkout from before the fix, with its own CARGO_TARGET_DIR), so a
case that the current tree already agrees with can still be minimised.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import random_rules  # noqa: E402
import record as R  # noqa: E402

MAX_ATTEMPTS = 20


def log(msg: str) -> None:
    print(f"[difftest] {msg}", file=sys.stderr, flush=True)


def write_scenario(d: Path, seed: str, probes: int) -> None:
    d.mkdir(parents=True, exist_ok=True)
    toml_text, rules = random_rules.scenario(seed, probes)
    (d / "scenario.toml").write_text(toml_text)
    (d / "ruleset.rules").write_text(rules)


def refused(err: Exception) -> bool:
    """True when the kernel (iptables-legacy-restore) refused the ruleset."""
    return "iptables-legacy-restore" in str(err)


def record_one(d: Path, base: str, probes: int, kernel: str, ipt: str,
               stats: dict) -> str | None:
    """Generates and records scenario `base`, regenerating refused rulesets.
    Returns the seed string used, or None when no attempt loaded."""
    for attempt in range(MAX_ATTEMPTS):
        seed = f"{base}-{attempt}"
        write_scenario(d, seed, probes)
        try:
            scen_probes = R.record_scenario(d, kernel, ipt, random_rules.FollowUps(seed))
            # the follow-ups were decided from the kernel's state: keep them
            scen = tomllib.loads((d / "scenario.toml").read_text())
            (d / "scenario.toml").write_text(random_rules.scenario_toml_from(scen, scen_probes))
            return seed
        except R.RecorderError as e:
            if not refused(e):
                raise
            stats["refused"] += 1
            why = [ln for ln in str(e).splitlines() if "iptables-restore v" in ln or "line" in ln]
            log(f"{seed}: ruleset refused by the kernel: {' / '.join(why)}")
    return None


TREE = R.REPO   # the nftrace source tree whose replay test judges (--tree)


def replay(out: Path) -> dict:
    """Runs nftrace's replay comparison over every scenario dir in `out`."""
    report = out / "report.json"
    env = dict(os.environ, NFTRACE_REPLAY_DIR=str(out), NFTRACE_REPLAY_REPORT=str(report))
    cmd = ["cargo", "test", "-q", "--test", "integration", "replay_dir_from_env", "--",
           "--ignored", "--exact", "fixtures::replay_dir_from_env"]
    p = subprocess.run(cmd, cwd=TREE, env=env, capture_output=True, text=True)
    if p.returncode != 0 or not report.exists():
        sys.stderr.write(p.stdout + p.stderr)
        raise SystemExit("replay failed to run")
    return json.loads(report.read_text())


def in_a_row(out: Path, bad: set[str]) -> int:
    """Cases recorded before the first disagreeing one (scenario order, then
    probe order); a scenario-wide failure (`<scenario>/*`) counts at its start."""
    n = 0
    for d in sorted(p for p in out.iterdir() if (p / "recorded.json").exists()):
        if f"{d.name}/*" in bad:
            return n
        for pr in json.loads((d / "recorded.json").read_text())["probes"]:
            if f"{d.name}/{pr['name']}" in bad:
                return n
            n += 1
    return n


def record_batch(a, out: Path, ks, kernel: str, ipt: str, stats: dict) -> None:
    for k in ks:
        d = out / f"s{a.seed}-{k:05d}"
        seed = record_one(d, f"{a.seed}-{k}", a.probes, kernel, ipt, stats)
        if seed is None:
            stats["gave_up"] += 1
            shutil.rmtree(d, ignore_errors=True)
            continue
        stats["scenarios"] += 1
        stats["cases"] += len(json.loads((d / "recorded.json").read_text())["probes"])


def summarize(a, stats: dict, rep: dict, out: Path) -> int:
    dis = rep["disagreements"]
    bad = {x["probe"] for x in dis}
    cases = rep["probes"]
    row = in_a_row(out, bad)
    log(f"seed {a.seed}: {stats['scenarios']} scenarios, {cases} cases, "
        f"{cases - len(bad)} agree, {len(bad)} disagree, {row} in a row before the first "
        f"disagreement; "
        f"{stats['refused']} rulesets refused by the kernel (regenerated), "
        f"{stats['gave_up']} scenarios given up; {time.time() - stats['t0']:.0f}s; dir {out}")
    for x in dis:
        print(f"--- {x['class']}\n{x['text']}\n")
    print(json.dumps({"seed": a.seed, "scenarios": stats["scenarios"], "cases": cases,
                      "agree": cases - len(bad), "disagree": len(bad), "in_a_row": row,
                      "refused": stats["refused"], "dir": str(out)}))
    return 1 if bad else 0


# --------------------------------------------------------------------------
# minimisation

def disagreement(work: Path, toml_text: str, rules: str, kernel: str, ipt: str,
                 probe: str) -> str | None:
    """Records one candidate into work/case and returns the class of the first
    disagreement of `probe` (None: agrees, or the kernel refused the ruleset)."""
    shutil.rmtree(work, ignore_errors=True)
    d = work / "case"
    d.mkdir(parents=True)
    (d / "scenario.toml").write_text(toml_text)
    (d / "ruleset.rules").write_text(rules)
    try:
        R.record_scenario(d, kernel, ipt)
    except R.RecorderError as e:
        if refused(e):
            return None
        raise
    dis = [x for x in replay(work)["disagreements"]
           if x["probe"] in (f"case/{probe}", "case/*")]
    # table:chain only: dropping rules renumbers them and may turn a rule line
    # into a policy line without changing what the case shows
    return re.sub(r"TRACE: (\S+?):(\S+?):\w+:\d+", r"\1:\2", dis[0]["class"]) if dis else None


def droppable(lines: list[str]) -> list[int]:
    """Indexes of rule lines, last first (later rules rarely feed earlier ones)."""
    return [i for i in reversed(range(len(lines))) if lines[i].startswith("-A ")]


def unused_chains(lines: list[str]) -> list[int]:
    """Declarations of user chains that no rule is in and no rule targets."""
    out = []
    for i, ln in enumerate(lines):
        if ln.startswith(":") and " - " in ln:
            name = ln[1:].split()[0]
            used = any(w == name for x in lines if x.startswith("-A ") for w in x.split())
            if not used:
                out.append(i)
    return out


def empty_tables(lines: list[str]) -> list[tuple[int, int]]:
    """(start, end) of tables without rules."""
    spans, start = [], None
    for i, ln in enumerate(lines):
        if ln.startswith("*"):
            start = i
        elif ln == "COMMIT" and start is not None:
            if not any(x.startswith("-A ") for x in lines[start:i]):
                spans.append((start, i))
            start = None
    return spans


def chain_to(probes: list[dict], name: str) -> list[dict]:
    """The probe `name` with the probes before it that it depends on: back to
    the last one that flushed conntrack (a follow-up meets their entry)."""
    idx = next((i for i, p in enumerate(probes) if p["name"] == name), None)
    if idx is None:
        return []
    start = idx
    while start > 0 and probes[start].get("keep_conntrack"):
        start -= 1
    return probes[start:idx + 1]


def minimize(a, kernel: str, ipt: str) -> int:
    src = a.minimize[0]
    scen = tomllib.loads((src / "scenario.toml").read_text())
    probe = chain_to(scen["probe"], a.minimize[1])
    if not probe:
        raise SystemExit(f"no probe {a.minimize[1]} in {src}")
    scen["description"] = (f"{scen.get('description', '')}, probe {a.minimize[1]}, minimised "
                           f"(recorder/difftest.py --minimize). {a.note or ''}").strip()
    toml_text = random_rules.scenario_toml_from(scen, probe)
    lines = (src / "ruleset.rules").read_text().splitlines()
    work = Path(tempfile.mkdtemp(prefix="nftrace-difftest-min-"))
    text = lambda ls: "\n".join(ls) + "\n"  # noqa: E731
    name = a.minimize[1]
    want = disagreement(work, toml_text, text(lines), kernel, ipt, name)
    if want is None:
        raise SystemExit("the case does not disagree when recorded alone")
    log(f"minimising {src.name}/{a.minimize[1]}: {want}")
    changed = True
    while changed:
        changed = False
        for i in droppable(lines):
            cand = lines[:i] + lines[i + 1:]
            if disagreement(work, toml_text, text(cand), kernel, ipt, name) == want:
                lines, changed = cand, True
                log(f"dropped a rule, {sum(ln.startswith('-A ') for ln in lines)} left")
    for i in reversed(unused_chains(lines)):
        lines = lines[:i] + lines[i + 1:]
    for s, e in reversed(empty_tables(lines)):
        cand = lines[:s] + lines[e + 1:]
        if disagreement(work, toml_text, text(cand), kernel, ipt, name) == want:
            lines = cand
    dest = a.to
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "scenario.toml").write_text(toml_text)
    (dest / "ruleset.rules").write_text(text(lines))
    R.record_scenario(dest, kernel, ipt)
    log(f"{dest}: {sum(ln.startswith('-A ') for ln in lines)} rules left")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int)
    ap.add_argument("--minimize", nargs=2, metavar=("DIR", "PROBE"))
    ap.add_argument("--to", type=Path, help="--minimize: fixture directory to write")
    ap.add_argument("--note", help="--minimize: what the case shows, for its description")
    ap.add_argument("--tree", type=Path, help="nftrace source tree to replay with (e.g. a "
                    "checkout from before a fix, to minimise a case it fixed); default: this one")
    ap.add_argument("--count", type=int, default=100, help="cases (probes) to record")
    ap.add_argument("--probes", type=int, default=8, help="probes per scenario")
    ap.add_argument("--batch", type=int, default=10, help="scenarios recorded between replays")
    ap.add_argument("--keep-going", action="store_true")
    ap.add_argument("--only", type=int, action="append", help="scenario index(es) to rebuild")
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    global TREE
    TREE = a.tree or TREE
    R.ensure_root()
    R.ensure_tools()
    R.enable_netns_logging()
    kernel, ipt = R.tool_versions()
    if a.minimize:
        if a.to is None:
            ap.error("--minimize needs --to")
        a.minimize[0] = Path(a.minimize[0])
        with open(R.LOCK_PATH, "w") as lockf:
            fcntl.flock(lockf, fcntl.LOCK_EX)
            return minimize(a, kernel, ipt)
    if a.seed is None:
        ap.error("--seed is required")
    out = a.out or Path(tempfile.mkdtemp(prefix=f"nftrace-difftest-{a.seed}-"))
    out.mkdir(parents=True, exist_ok=True)
    stats = {"refused": 0, "gave_up": 0, "scenarios": 0, "cases": 0, "t0": time.time()}
    rep: dict = {"probes": 0, "disagreements": []}
    next_k = 0
    with open(R.LOCK_PATH, "w") as lockf:
        while (stats["cases"] < a.count and not a.only) or (a.only and next_k == 0):
            ks = a.only or range(next_k, next_k + a.batch)
            next_k += a.batch
            fcntl.flock(lockf, fcntl.LOCK_EX)   # dmesg is machine-global
            try:
                record_batch(a, out, ks, kernel, ipt, stats)
            finally:
                fcntl.flock(lockf, fcntl.LOCK_UN)
            rep = replay(out)
            log(f"after {stats['scenarios']} scenarios: {rep['probes']} cases, "
                f"{len(rep['disagreements'])} disagreements")
            if rep["disagreements"] and not a.keep_going:
                break
    return summarize(a, stats, rep, out)


if __name__ == "__main__":
    sys.exit(main())
