#!/usr/bin/env python3
"""Differential testing of nftrace against the running kernel (docs/difftest.md).

    recorder/difftest.py --seed S --count N [--probes K] [--keep-going] [--out DIR]

Generates random scenarios (recorder/random_rules.py, K probes each; one probe
of one scenario = one case) until N cases are recorded, records every one on
the real kernel with the fixture recorder (record.py, under its lock), then
replays them all at once with nftrace using the replay tests' comparison
(`cargo test --test integration replay_dir_from_env -- --ignored`, which runs
tests/it/replay.rs `check_probe`).  Prints cases, agreements, disagreements
and how many rulesets the kernel refused (those are regenerated, not counted).

Scenario k of seed S is generated from the string "S-k-attempt", so
`--seed S --only k` rebuilds one scenario exactly.  --keep-going records all
N cases even after a disagreement (default: stop recording once a batch has
one).  Scenario dirs stay in --out (default a new temp dir) for inspection.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
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
            R.record_scenario(d, kernel, ipt)
            return seed
        except R.RecorderError as e:
            if not refused(e):
                raise
            stats["refused"] += 1
            log(f"{seed}: ruleset refused by the kernel: {str(e).splitlines()[-1]}")
    return None


def replay(out: Path) -> dict:
    """Runs nftrace's replay comparison over every scenario dir in `out`."""
    report = out / "report.json"
    env = dict(os.environ, NFTRACE_REPLAY_DIR=str(out), NFTRACE_REPLAY_REPORT=str(report))
    cmd = ["cargo", "test", "-q", "--test", "integration", "replay_dir_from_env", "--",
           "--ignored", "--exact", "fixtures::replay_dir_from_env"]
    p = subprocess.run(cmd, cwd=R.REPO, env=env, capture_output=True, text=True)
    if p.returncode != 0 or not report.exists():
        sys.stderr.write(p.stdout + p.stderr)
        raise SystemExit("replay failed to run")
    return json.loads(report.read_text())


def case_dirs(out: Path) -> list[Path]:
    return sorted(p for p in out.iterdir() if (p / "recorded.json").exists())


def record_batch(a, out: Path, ks: list[int], kernel: str, ipt: str, stats: dict) -> None:
    for k in ks:
        d = out / f"s{a.seed}-{k:05d}"
        seed = record_one(d, f"{a.seed}-{k}", a.probes, kernel, ipt, stats)
        if seed is None:
            stats["gave_up"] += 1
            shutil.rmtree(d, ignore_errors=True)
            continue
        stats["scenarios"] += 1


def summarize(a, stats: dict, rep: dict, out: Path) -> int:
    dis = rep["disagreements"]
    bad = sorted({x["probe"] for x in dis})
    cases = rep["probes"]
    log(f"seed {a.seed}: {stats['scenarios']} scenarios, {cases} cases, "
        f"{cases - len(bad)} agree, {len(bad)} disagree; "
        f"{stats['refused']} rulesets refused by the kernel (regenerated), "
        f"{stats['gave_up']} scenarios given up; {time.time() - stats['t0']:.0f}s; dir {out}")
    for x in dis:
        print(f"--- {x['class']}\n{x['text']}\n")
    print(json.dumps({"seed": a.seed, "scenarios": stats["scenarios"], "cases": cases,
                      "agree": cases - len(bad), "disagree": len(bad),
                      "refused": stats["refused"], "dir": str(out)}))
    return 1 if bad else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--count", type=int, default=100, help="cases (probes) to record")
    ap.add_argument("--probes", type=int, default=8, help="probes per scenario")
    ap.add_argument("--batch", type=int, default=10, help="scenarios recorded between replays")
    ap.add_argument("--keep-going", action="store_true")
    ap.add_argument("--only", type=int, action="append", help="scenario index(es) to rebuild")
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    R.ensure_root()
    R.ensure_tools()
    R.enable_netns_logging()
    kernel, ipt = R.tool_versions()
    out = a.out or Path(tempfile.mkdtemp(prefix=f"nftrace-difftest-{a.seed}-"))
    out.mkdir(parents=True, exist_ok=True)
    stats = {"refused": 0, "gave_up": 0, "scenarios": 0, "t0": time.time()}
    nscen = -(-a.count // a.probes)
    todo = a.only or list(range(nscen))
    rep: dict = {"probes": 0, "disagreements": []}
    with open(R.LOCK_PATH, "w") as lockf:
        for i in range(0, len(todo), a.batch):
            fcntl.flock(lockf, fcntl.LOCK_EX)   # dmesg is machine-global
            try:
                record_batch(a, out, todo[i:i + a.batch], kernel, ipt, stats)
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
