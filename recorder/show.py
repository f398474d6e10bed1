#!/usr/bin/env python3
"""Print a compact view of fixtures/<scenario>/recorded.json (table:chain:type:n + key fields)."""
import json, re, sys
from pathlib import Path

def short(line):
    head = line.split(" IN=")[0].replace("TRACE: ", "")
    f = dict(re.findall(r"(\b[A-Z]+)=(\S*)", line.split("[", 1)[0]))
    extra = " MARK=" + f["MARK"] if "MARK" in f else ""
    return (f"{head:<45} IN={f.get('IN','')} OUT={f.get('OUT','')} {f.get('SRC')}:{f.get('SPT','')}"
            f" > {f.get('DST')}:{f.get('DPT','')} TTL={f.get('TTL')}{extra}")

for d in sys.argv[1:]:
    rec = json.loads((Path(d) / "recorded.json").read_text())
    print(f"### {rec['scenario']}")
    for p in rec["probes"]:
        print(f"== {p['name']}: {' '.join(p['nftrace_args'])}")
        for l in p["trace"]:
            print("   " + short(l))
        others = [l for l in p["trace_all"] if l not in p["trace"]]
        if others:
            print(f"   (+{len(others)} other trace lines, e.g. {short(others[0])})")
        for l in p["log_other"][:4]:
            print("   log: " + l[:150])
        for l in p["conntrack"]:
            print("   ct: " + l)
        dl = {k: v for k, v in p["conntrack_stats_delta"].items() if v}
        if dl:
            print(f"   ct-stats: {dl}")
