"""Rebuild a published host from a corpus bundle and record random probes.

    recorder/record.py --corpus-host <bundle-name> [--probes N] [--seed S]

The corpus (`../shared/corpus/bundle/<bundle-name>/`, see its SOURCES.md) holds
dumps of real hosts that other people published.  This mode turns one of them
back into a running router netns:

* one veth per interface of `addr*.txt` with IPv4 addresses (`lo` skipped,
  `@parent` suffixes dropped, names longer than 15 bytes or with `/`, space or
  `:` renamed), addresses in dump order with their `brd`/`peer`/`scope`/label;
* every `route*.txt`: `route-main.txt`/`route.txt` go to main,
  `route-table-<NAME>.txt` / `route-table<N>.txt` to that table (names are
  registered in the netns' own `/etc/netns/<ns>/iproute2/rt_tables`, so the
  kernel dumps print them as the host did); `proto kernel` lines that an
  address already created are skipped;
* every `ip rule` line except the three default rules;
* the ruleset with `iptables-legacy-restore` (after the minimal documented
  edits, see EDITS), then the recorder's two TRACE rules.

Then it sends N seeded random probes and writes, into
fixtures/corpus/<bundle-name>/:

* recorded.json: the probes as in every fixture;
* host.toml: how to rebuild the host from the corpus without copying it;
* bundle/{route,rule,addr,sysctl}.txt: the kernel's dumps of the rebuilt host.
  The ruleset is NOT written (it would be a near-copy of the corpus file): the
  replay test rebuilds it from the corpus file, the edits in host.toml and the
  two TRACE rules.

The ruleset is reloaded and the xt_recent lists are cleared before every probe,
so each probe meets a fresh ruleset (no limit/recent state left by another
probe), just like nftrace assumes.
"""

from __future__ import annotations

import datetime as _dt
import fcntl
import ipaddress
import json
import os
import random
import re
import shutil
import time
from pathlib import Path

import record as R

CORPUS_CANDIDATES = [R.REPO.parent / "shared" / "corpus", Path("/work/shared/corpus")]
IFNAME_OK = re.compile(r"^[A-Za-z0-9_.\-]{1,15}$")
DEFAULT_RULES = {
    "0": "from all lookup local",
    "32766": "from all lookup main",
    "32767": "from all lookup default",
}
# Tokens the corpus publishers used to anonymise data that the kernel cannot
# load.  Each is replaced by a fixed value everywhere it appears (and the
# replacement is recorded in host.toml).  02:00:00:00:ff:fe is no peer's MAC.
SUBSTITUTIONS = [
    ("XX:XX:XX:XX:XX:XX", "02:00:00:00:ff:fe",
     "anonymised MAC in -m mac --mac-source: iptables cannot load it; replaced by "
     "a MAC no peer uses, so these rules never match (as for any unknown host)"),
]
# Additions a bundle needs because its dumps are incomplete.  Every one is an
# assumption and is written to host.toml with its reason.
EXTRAS: dict[str, dict] = {
    "sqrl-shorewall-2015-08": {
        "routes": ["default via 188.95.234.1 dev lup"],
        "reason": "the bundle has no route dump; the NAT rules (-o lup -j MASQUERADE) show "
                  "lup is the uplink, so a default route via the first host of lup's /23 "
                  "is assumed (gateway address invented)",
    },
    "home-user-fw": {
        "addr_substitute": [("[PUBLIC IP HERE]", "198.51.100.2/24",
                             "the publisher replaced eth1's address by a placeholder; a "
                             "documentation address stands in (the ruleset never names it)")],
        "routes": ["default via 198.51.100.1 dev eth1"],
        "reason": "the bundle has no route dump; eth1 is the uplink (MASQUERADE -o eth1), so "
                  "a default route via the invented gateway 198.51.100.1 is assumed",
    },
}
# Ports a probe picks when the ruleset offers none.
COMMON_PORTS = [22, 25, 53, 67, 80, 123, 137, 161, 443, 1194, 3306, 3389, 5060, 8080]


def corpus_root() -> Path:
    env = os.environ.get("NFTRACE_CORPUS")
    cands = ([Path(env)] if env else []) + CORPUS_CANDIDATES
    for c in cands:
        if (c / "bundle").is_dir():
            return c.resolve()
    raise R.RecorderError("corpus not found (../shared/corpus or $NFTRACE_CORPUS)")


# --------------------------------------------------------------------------
# reading the bundle

def parse_addr(text: str) -> list[dict]:
    """`ip addr` (multi-line form) -> [{name, addrs: [{local, plen, peer, brd, scope, label, line}]}]."""
    links: list[dict] = []
    cur = None
    for n, raw in enumerate(text.splitlines(), start=1):
        m = re.match(r"^\s*(\d+):\s+([^:\s]+):\s", raw)
        if m:
            cur = {"corpus": m.group(2), "addrs": [], "skipped": []}
            links.append(cur)
            continue
        s = raw.strip()
        if cur is None or not s.startswith("inet "):
            continue
        toks = s.split()[1:]
        try:
            first = toks[0]
            if "/" in first:
                local, plen = first.split("/")
            else:
                local, plen = first, "32"
            ipaddress.IPv4Address(local)
        except (ValueError, IndexError):
            cur["skipped"].append(f"addr line {n}: {s!r} is not an address (anonymised?)")
            continue
        a = {"local": local, "plen": int(plen), "peer": None, "brd": None,
             "scope": None, "label": None, "line": n}
        i = 1
        while i < len(toks):
            t = toks[i]
            if t in ("peer", "brd", "scope") and i + 1 < len(toks):
                a[t] = toks[i + 1]
                i += 2
                continue
            i += 1
        # the label is the last word when it differs from the device (eth5:0)
        last = toks[-1]
        base = cur["corpus"].split("@")[0]
        if last.startswith(base + ":"):
            a["label"] = last
        if a["peer"]:
            pa, _, pl = a["peer"].partition("/")
            a["peer_addr"], a["plen"] = pa, int(pl or 32)
        cur["addrs"].append(a)
    return links


def addr_args(a: dict, name: str) -> str:
    """The `ip addr add` arguments (without `dev`)."""
    if a["peer"]:
        s = f"{a['local']} peer {a['peer']}"
    else:
        s = f"{a['local']}/{a['plen']}"
    if a["brd"]:
        s += f" brd {a['brd']}"
    if a["scope"]:
        s += f" scope {a['scope']}"
    if a["label"]:
        s += " label " + a["label"].replace(a["label"].split(":")[0], name, 1)
    return s


def legal_name(corpus: str, taken: set[str]) -> str:
    name = corpus.split("@")[0]
    if IFNAME_OK.match(name) and name not in taken:
        return name
    base = re.sub(r"[^A-Za-z0-9_.\-]", "_", name)[:12] or "if"
    k = 0
    while f"{base}{k}" in taken:
        k += 1
    return f"{base}{k}"


def route_files(bdir: Path) -> list[tuple[str, str | None, int | None]]:
    """[(file, table name or None for main, table id or None)]."""
    out = []
    for p in sorted(bdir.glob("route*.txt")):
        if p.name.startswith("route6"):
            continue
        stem = p.stem
        if stem in ("route", "route-main"):
            out.append((p.name, None, None))
            continue
        if stem == "route-table-all":
            out.append((p.name, "all", None))
            continue
        m = re.match(r"^route-table-?(.+)$", stem)
        if not m:
            continue
        t = m.group(1)
        out.append((p.name, t, int(t) if t.isdigit() else None))
    # named tables get ids 100, 101, ... in file order
    nid = 100
    res = []
    for f, t, i in out:
        if t not in (None, "all") and i is None:
            i = nid
            nid += 1
        res.append((f, t, i))
    return res


def clean_route(line: str) -> list[str]:
    toks = line.split()
    drop = {"linkdown", "dead", "offload", "trap", "pervasive", "rt_offload", "rt_trap"}
    return [t for t in toks if t not in drop]


# --------------------------------------------------------------------------
# the plan: what to build, written to host.toml

class Plan:
    def __init__(self, name: str):
        self.name = name
        self.root = corpus_root()
        self.bdir = self.root / "bundle" / name
        if not self.bdir.is_dir():
            raise R.RecorderError(f"no corpus bundle {self.bdir}")
        self.rules_path = self.bdir / "iptables-save.txt"
        if not self.rules_path.is_file():
            raise R.RecorderError(f"{self.rules_path} missing")
        self.corpus_rules = self.rules_path.read_text()
        self.interfaces: list[dict] = []
        self.skipped_links: list[str] = []
        self.routes: list[dict] = []       # {file, table, line_no, args}
        self.route_files = route_files(self.bdir)
        self.rules: list[dict] = []
        self.rule_skipped: list[str] = []
        self.extras = EXTRAS.get(name, {})
        self.substitutions: list[dict] = []
        self.drops: list[dict] = []
        self._interfaces()
        self._routes()
        self._rules()
        self._ruleset_edits()

    # interfaces -------------------------------------------------------------
    def _interfaces(self) -> None:
        addr_files = sorted(p for p in self.bdir.glob("addr*.txt") if not p.name.startswith("addr6"))
        if not addr_files:
            raise R.RecorderError("no addr*.txt in the bundle")
        self.addr_file = addr_files[0].name
        addr_text = addr_files[0].read_text()
        self.addr_substitutions = []
        for frm, to, why in self.extras.get("addr_substitute", []):
            c = addr_text.count(frm)
            if c:
                addr_text = addr_text.replace(frm, to)
                self.addr_substitutions.append({"from": frm, "to": to, "count": c, "reason": why})
        links = parse_addr(addr_text)
        taken: set[str] = {"lo"}
        for ln in links:
            base = ln["corpus"].split("@")[0]
            if base == "lo":
                continue
            for s in ln["skipped"]:
                self.skipped_links.append(f"{ln['corpus']}: {s}")
            if not ln["addrs"]:
                self.skipped_links.append(f"{ln['corpus']}: no IPv4 address")
                continue
            name = legal_name(ln["corpus"], taken)
            taken.add(name)
            self.interfaces.append({"corpus": ln["corpus"], "name": name, "addrs": ln["addrs"]})
        for idx, itf in enumerate(self.interfaces, start=1):
            itf["index"] = idx
            itf["peer"] = f"p{idx}"
            itf["addr_args"] = [addr_args(a, itf["name"]) for a in itf["addrs"]]

    def rename(self, dev: str) -> str:
        for itf in self.interfaces:
            if itf["corpus"].split("@")[0] == dev:
                return itf["name"]
        return dev

    def router_addrs(self) -> set[str]:
        return {a["local"] for itf in self.interfaces for a in itf["addrs"]}

    def connected(self) -> set[tuple[str, str]]:
        out = set()
        for itf in self.interfaces:
            for a in itf["addrs"]:
                if a["peer"]:
                    net = ipaddress.IPv4Network(f"{a['peer_addr']}/{a['plen']}", strict=False)
                else:
                    net = ipaddress.IPv4Network(f"{a['local']}/{a['plen']}", strict=False)
                out.add((str(net) if net.prefixlen < 32 else str(net.network_address), itf["name"]))
        return out

    # routes -----------------------------------------------------------------
    def _routes(self) -> None:
        conn = self.connected()
        for f, table, tid in self.route_files:
            text = (self.bdir / f).read_text()
            for n, line in enumerate(text.splitlines(), start=1):
                s = line.strip()
                if not s or s.startswith("#"):
                    continue
                toks = clean_route(s)
                try:
                    ipaddress.IPv4Network(toks[0] if toks[0] not in (
                        "unreachable", "blackhole", "prohibit", "throw", "local",
                        "broadcast", "unicast", "multicast", "nat", "anycast") else toks[1])
                except (ValueError, IndexError):
                    if toks[0] != "default" and not (len(toks) > 1 and toks[1] == "default"):
                        self.routes.append({"file": f, "line": n, "skip": "not an IPv4 route"})
                        continue
                if "dev" in toks:
                    i = toks.index("dev")
                    toks[i + 1] = self.rename(toks[i + 1])
                if "proto" in toks and toks[toks.index("proto") + 1] == "kernel":
                    dst = toks[0]
                    dev = toks[toks.index("dev") + 1] if "dev" in toks else None
                    if (dst, dev) in conn and table is None:
                        self.routes.append({"file": f, "line": n,
                                            "skip": "proto kernel: created by the address"})
                        continue
                if table not in (None, "all") and "table" not in toks:
                    toks += ["table", table]
                self.routes.append({"file": f, "line": n, "args": toks})
        for r in self.extras.get("routes", []):
            self.routes.append({"file": "(added)", "line": 0, "args": r.split(),
                                "added": self.extras.get("reason", "")})

    # rules ------------------------------------------------------------------
    def _rules(self) -> None:
        files = sorted(p for p in self.bdir.glob("rule*.txt") if not p.name.startswith("rule6"))
        self.rule_file = files[0].name if files else None
        if not files:
            return
        for n, line in enumerate(files[0].read_text().splitlines(), start=1):
            m = re.match(r"^\s*(\d+):\s+(.*?)\s*$", line)
            if not m:
                continue
            pref, body = m.group(1), re.sub(r"\s+", " ", m.group(2))
            if DEFAULT_RULES.get(pref) == body:
                continue
            toks = body.split()
            for k in ("iif", "oif"):
                if k in toks:
                    i = toks.index(k)
                    toks[i + 1] = self.rename(toks[i + 1])
            self.rules.append({"line": n, "args": ["pref", pref] + toks})

    # ruleset ----------------------------------------------------------------
    def _ruleset_edits(self) -> None:
        for frm, to, why in SUBSTITUTIONS:
            c = self.corpus_rules.count(frm)
            if c:
                self.substitutions.append({"from": frm, "to": to, "count": c, "reason": why})
        # interface renames inside the ruleset
        for itf in self.interfaces:
            old = itf["corpus"].split("@")[0]
            if old != itf["name"]:
                pat = f" {old} "
                c = self.corpus_rules.count(pat)
                if c:
                    self.substitutions.append({
                        "from": pat, "to": f" {itf['name']} ", "count": c,
                        "reason": f"interface {old!r} is not a legal Linux ifname; renamed"})

    def ruleset_text(self) -> str:
        """The corpus ruleset after the edits (substitutions, dropped lines blanked)."""
        text = self.corpus_rules
        for s in self.substitutions:
            text = text.replace(s["from"], s["to"])
        lines = text.split("\n")
        for d in self.drops:
            lines[d["line"] - 1] = ""
        return "\n".join(lines)

    # tables -----------------------------------------------------------------
    def named_tables(self) -> list[tuple[int, str]]:
        return [(i, t) for _, t, i in self.route_files if t not in (None, "all") and not t.isdigit()]


# --------------------------------------------------------------------------
# peers

def peer_setup(plan: Plan, itf: dict) -> tuple[list[str], list[str]]:
    """(peer_addrs, peer_routes) for the peer netns of one router interface."""
    a = itf["addrs"][0]
    mine = plan.router_addrs()
    local = a["local"]
    if a["peer"]:
        pa = a["peer_addr"]
        ok = pa not in mine and not ipaddress.IPv4Address(pa).is_multicast and \
            not pa.startswith("255.")
        cand = pa if ok else str(ipaddress.IPv4Address(local) + 1)
        return [f"{cand}/32"], [f"{local} dev eth0", f"default via {local}"]
    net = ipaddress.IPv4Network(f"{local}/{a['plen']}", strict=False)
    if net.prefixlen >= 31:
        cand = str(ipaddress.IPv4Address(local) + 1)
        return [f"{cand}/32"], [f"{local} dev eth0", f"default via {local}"]
    gws = []
    for r in plan.routes:
        t = r.get("args") or []
        if "via" in t and "dev" in t and t[t.index("dev") + 1] == itf["name"]:
            gws.append(t[t.index("via") + 1])
    cand = None
    for g in gws:
        try:
            ga = ipaddress.IPv4Address(g)
        except ValueError:
            continue
        if ga in net and g not in mine and ga not in (net.network_address, net.broadcast_address):
            cand = g
            break
    if cand is None:
        for h in net.hosts():
            if str(h) not in mine:
                cand = str(h)
                break
    # /32 and no subnet route: the peer sends every probe to the router, even
    # one addressed to its own subnet (with the /24 it would ARP for it itself
    # and nothing would reach the router).
    return [f"{cand}/32"], [f"{local} dev eth0", f"default via {local}"]


def scenario(plan: Plan) -> dict:
    ifaces = []
    for itf in plan.interfaces:
        paddrs, proutes = peer_setup(plan, itf)
        itf["peer_addrs"], itf["peer_routes"] = paddrs, proutes
        ifaces.append({"name": itf["name"], "addrs": itf["addr_args"], "peer": itf["peer"],
                       "peer_addrs": paddrs, "peer_routes": proutes})
    return {"router": {"interfaces": ifaces}}


# --------------------------------------------------------------------------
# probes

BAD_NETS = [ipaddress.IPv4Network(n) for n in
            ("0.0.0.0/8", "127.0.0.0/8", "224.0.0.0/3", "169.254.0.0/16")]


class Generator:
    def __init__(self, plan: Plan, seed: int):
        self.plan = plan
        self.rng = random.Random(seed)
        txt = plan.ruleset_text()
        self.rule_dst = self._nets(re.findall(r"(?:^|\s)-d (\d+\.\d+\.\d+\.\d+(?:/\d+)?)", txt, re.M))
        self.rule_dst += self._nets(re.findall(r"--to-destination (\d+\.\d+\.\d+\.\d+)", txt))
        self.rule_src = self._nets(re.findall(r"(?:^|\s)-s (\d+\.\d+\.\d+\.\d+(?:/\d+)?)", txt, re.M))
        self.dports = self._ports(re.findall(r"--dports? (\S+)", txt))
        self.sports = self._ports(re.findall(r"--sports? (\S+)", txt))
        self.subnets = []   # (iface name, network, broadcast-ish addresses excluded)
        for itf in plan.interfaces:
            for a in itf["addrs"]:
                base = a["peer_addr"] if a["peer"] else a["local"]
                net = ipaddress.IPv4Network(f"{base}/{a['plen']}", strict=False)
                self.subnets.append((itf["name"], net))
        self.mine = sorted(plan.router_addrs())
        self.edges = {str(n.network_address) for _, n in self.subnets if n.prefixlen < 31} | \
                     {str(n.broadcast_address) for _, n in self.subnets if n.prefixlen < 31}

    @staticmethod
    def _nets(vals: list[str]) -> list[ipaddress.IPv4Network]:
        out = []
        for v in vals:
            try:
                n = ipaddress.IPv4Network(v, strict=False)
            except ValueError:
                continue
            if n.prefixlen >= 8 and not any(n.subnet_of(b) for b in BAD_NETS):
                out.append(n)
        return out

    @staticmethod
    def _ports(vals: list[str]) -> list[int]:
        out = []
        for v in vals:
            for part in v.split(","):
                lo, _, hi = part.partition(":")
                try:
                    lo_i = int(lo) if lo else 0
                    hi_i = int(hi) if hi else lo_i
                except ValueError:
                    continue
                if 0 < lo_i <= 65535:
                    out.append(lo_i)
                    if hi_i != lo_i and 0 < hi_i <= 65535:
                        out.append(hi_i)
        return out

    def host_in(self, net: ipaddress.IPv4Network) -> str:
        if net.prefixlen >= 31:
            return str(net.network_address + self.rng.randrange(net.num_addresses))
        for _ in range(20):
            h = net.network_address + self.rng.randrange(1, net.num_addresses - 1)
            if str(h) not in self.mine:
                return str(h)
        return str(net.network_address + 1)

    def public(self) -> str:
        while True:
            a = ipaddress.IPv4Address(self.rng.randrange(1 << 24, 224 << 24))
            if a.is_global:
                return str(a)

    def usable(self, a: str) -> bool:
        ip = ipaddress.IPv4Address(a)
        return not any(ip in b for b in BAD_NETS) and a not in self.edges \
            and a != "255.255.255.255"

    def src_for(self, itf: dict) -> tuple[str, str]:
        r = self.rng.random()
        own = [n for name, n in self.subnets if name == itf["name"]]
        if r < 0.45 and own:
            return self.host_in(self.rng.choice(own)), f"subnet({itf['name']})"
        if r < 0.7 and self.rule_src:
            return self.host_in(self.rng.choice(self.rule_src)), "ruleset -s"
        return self.public(), "public"

    def dst(self, ingress: str | None) -> tuple[str, str]:
        r = self.rng.random()
        if r < 0.2:
            return self.rng.choice(self.mine), "router address"
        if r < 0.45:
            other = [n for name, n in self.subnets if name != ingress] or [n for _, n in self.subnets]
            return self.host_in(self.rng.choice(other)), "other subnet"
        if r < 0.6 or not self.rule_dst:
            return self.public(), "public"
        return self.host_in(self.rng.choice(self.rule_dst)), "ruleset -d"

    def probe(self, i: int, local: bool) -> dict:
        rng = self.rng
        pr: dict = {"name": f"p{i:03d}"}
        notes = []
        if local:
            pr["from"] = "router"
            itf = None
            notes.append("local")
        else:
            itf = rng.choice(self.plan.interfaces)
            pr["from"] = itf["peer"]
            for _ in range(10):
                src, why = self.src_for(itf)
                if self.usable(src):
                    break
            pr["src"] = src
            notes.append(f"src={why}")
        for _ in range(20):
            dst, why = self.dst(itf["name"] if itf else None)
            if self.usable(dst) and dst != pr.get("src"):
                break
        pr["dst"] = dst
        notes.append(f"dst={why}")
        r = rng.random()
        proto = "tcp" if r < 0.55 else "udp" if r < 0.8 else "icmp"
        pr["proto"] = proto
        if proto in ("tcp", "udp"):
            if self.dports and rng.random() < 0.6:
                pr["dport"] = rng.choice(self.dports)
                notes.append("dport=ruleset")
            else:
                pr["dport"] = rng.choice(COMMON_PORTS) if rng.random() < 0.6 else rng.randrange(1, 65536)
            if self.sports and rng.random() < 0.15:
                pr["sport"] = rng.choice(self.sports)
            else:
                pr["sport"] = rng.randrange(1024, 65536)
        if proto == "tcp":
            r = rng.random()
            pr["flags"] = "S" if r < 0.8 else "A" if r < 0.88 else "SA" if r < 0.92 else \
                "F" if r < 0.95 else "R" if r < 0.98 else ""
        if proto == "icmp":
            pr["icmp_type"], pr["icmp_code"] = rng.choice(
                [(8, 0)] * 6 + [(0, 0), (3, 3), (11, 0), (13, 0)])
        if not local and rng.random() < 0.04:
            pr["ttl"] = 1
        pr["note"] = "generated: " + ", ".join(notes)
        return pr


# --------------------------------------------------------------------------
# output

def toml_value(v) -> str:
    # JSON strings, integers, booleans and flat arrays of them are valid TOML
    # (and the replay test reads them back with serde_json).
    return json.dumps(v, ensure_ascii=False)


def write_host_toml(plan: Plan, path: Path, seed: int, nprobes: int, rt_ids: dict) -> None:
    L = []
    w = L.append
    w("# How to rebuild this published host from the corpus, written by")
    w("#   recorder/record.py --corpus-host " + plan.name)
    w("# Nothing of the corpus is copied: the replay test reads the corpus ruleset,")
    w("# applies the edits below and inserts the two TRACE rules. bundle/ holds the")
    w("# kernel's own dumps (ip route/rule/addr, sysctl) of the rebuilt router netns.")
    w(f"bundle = {toml_value(plan.name)}")
    w(f"corpus_dir = {toml_value('bundle/' + plan.name)}  # relative to the corpus root (../shared/corpus)")
    w(f"ruleset_file = {toml_value(plan.rules_path.name)}")
    w(f"ruleset_lines = {plan.corpus_rules.count(chr(10))}")
    w(f"ruleset_bytes = {len(plan.corpus_rules.encode())}")
    w(f"addr_file = {toml_value(plan.addr_file)}")
    w(f"rule_file = {toml_value(plan.rule_file or '')}")
    w(f"seed = {seed}")
    w(f"probes = {nprobes}")
    w("# after iptables-legacy-restore of the edited ruleset the recorder ran these;")
    w("# both insert at position 1 (creating the raw table when the ruleset has none)")
    w(toml_value_line("trace_rules", ["iptables -t raw -I PREROUTING 1 -j TRACE",
                                      "iptables -t raw -I OUTPUT 1 -j TRACE"]))
    w(toml_value_line("reset_before_each_probe", [
        "conntrack -F", "every table of the ruleset and raw flushed (-F, -X), so no recent/"
        "hashlimit/limit state survives", "iptables-legacy-restore of the edited ruleset",
        "the two TRACE rules inserted again", "every /proc/net/xt_recent list cleared"]))
    w(toml_value_line("sysctls", ["net.ipv4.ip_forward=1", "net.ipv4.icmp_ratelimit=0",
                                  "rp_filter=0 everywhere", "IPv6 disabled"]))
    w(toml_value_line("skipped_links", plan.skipped_links))
    w("")
    for s in plan.substitutions:
        w("[[ruleset_substitute]]  # applied to the whole corpus ruleset text")
        for k in ("from", "to", "count", "reason"):
            w(f"{k} = {toml_value(s[k])}")
        w("")
    for s in plan.addr_substitutions:
        w("[[addr_substitute]]  # applied to the corpus addr file before rebuilding")
        for k in ("from", "to", "count", "reason"):
            w(f"{k} = {toml_value(s[k])}")
        w("")
    for d in plan.drops:
        w("[[ruleset_drop]]  # this corpus line is left out (replaced by an empty line)")
        w(f"line = {d['line']}")
        w(f"reason = {toml_value(d['reason'])}")
        w("")
    for itf in plan.interfaces:
        w("[[interface]]")
        w(f"corpus = {toml_value(itf['corpus'])}")
        w(f"name = {toml_value(itf['name'])}")
        w(f"renamed = {toml_value(itf['corpus'].split('@')[0] != itf['name'])}")
        w(toml_value_line("addr_lines", [a["line"] for a in itf["addrs"]]))
        idx = itf["index"]
        w(f"mac = {toml_value(f'02:00:00:00:{idx:02x}:01')}")
        w(f"peer = {toml_value(itf['peer'])}")
        w(f"peer_mac = {toml_value(f'02:00:00:00:{idx:02x}:02')}")
        w(toml_value_line("peer_addrs", itf["peer_addrs"]))
        w("")
    for f, t, i in plan.route_files:
        w("[[route_file]]")
        w(f"file = {toml_value(f)}")
        w(f"table = {toml_value(t or 'main')}")
        if i is not None:
            w(f"table_id = {i}")
        rs = [r for r in plan.routes if r["file"] == f]
        w(f"lines_added = {sum(1 for r in rs if 'args' in r and not r.get('failed'))}")
        w(toml_value_line("lines_skipped", [f"{r['line']}: {r.get('skip') or r.get('failed')}"
                                            for r in rs if 'skip' in r or r.get('failed')]))
        w("")
    for r in plan.routes:
        if r.get("added"):
            w("[[route_added]]  # not in the corpus: an assumption")
            w(f"route = {toml_value(' '.join(r['args']))}")
            w(f"reason = {toml_value(r['added'])}")
            w("")
    if plan.rule_file:
        w("[rules]")
        w(f"file = {toml_value(plan.rule_file)}")
        w(toml_value_line("lines_added", [r["line"] for r in plan.rules if not r.get("failed")]))
        w(toml_value_line("lines_failed", [f"{r['line']}: {r['failed']}" for r in plan.rules
                                           if r.get("failed")]))
        w("# the default rules 0/32766/32767 exist in every netns and are not added")
        w("")
    if rt_ids:
        w("[rt_tables]  # registered in /etc/netns/<router ns>/iproute2/rt_tables")
        for name, i in rt_ids.items():
            w(f"{name} = {i}")
    path.write_text("\n".join(L) + "\n")


def toml_value_line(key: str, v) -> str:
    return f"{key} = {toml_value(v)}"


# --------------------------------------------------------------------------

def load_ruleset(topo: R.Topology, text: str) -> None:
    # Empty every table the ruleset names, plus raw (TRACE), first: restore
    # alone keeps named match state alive (an xt_recent list or a hashlimit
    # table is found again by name while the old rules still hold it), and it
    # only replaces the tables it names, so every reload would add another pair
    # of TRACE rules to a raw table the ruleset lacks.  Only existing/named
    # tables are touched: -F on another table would create it.
    tables = set(re.findall(r"^\*(\w+)\s*$", text, re.M)) | {"raw"}
    for t in sorted(tables):
        topo.rexec(["iptables-legacy", "-t", t, "-F"])
        topo.rexec(["iptables-legacy", "-t", t, "-X"])
    topo.rexec(["iptables-legacy-restore"], input=text)
    topo.rexec(["iptables-legacy", "-t", "raw", "-I", "PREROUTING", "1", "-j", "TRACE"])
    topo.rexec(["iptables-legacy", "-t", "raw", "-I", "OUTPUT", "1", "-j", "TRACE"])


def restore_with_drops(topo: R.Topology, plan: Plan) -> None:
    """Load the ruleset; a line iptables-legacy-restore rejects is dropped and recorded."""
    for _ in range(50):
        p = topo.rexec(["iptables-legacy-restore"], input=plan.ruleset_text(), check=False,
                       quiet_fail=True)
        if p.returncode == 0:
            return
        m = re.search(r"line:? (\d+) failed", p.stderr) or re.search(r"line (\d+)", p.stderr)
        if not m:
            raise R.RecorderError(f"iptables-legacy-restore failed: {p.stderr.strip()}")
        n = int(m.group(1))
        line = plan.ruleset_text().split("\n")[n - 1]
        if not line.startswith("-A "):
            raise R.RecorderError(f"iptables-legacy-restore failed at line {n} ({line!r}), "
                                  f"not a rule line: {p.stderr.strip()}")
        reason = p.stderr.strip().splitlines()[0] if p.stderr.strip() else "rejected"
        plan.drops.append({"line": n, "reason": f"iptables-legacy-restore: {reason}"})
        R.log(f"dropping ruleset line {n}: {reason}")
    raise R.RecorderError("too many rejected ruleset lines")


def chain_counts(save_text: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    table = None
    for ln in save_text.splitlines():
        if ln.startswith("*"):
            table = ln[1:].strip()
        elif ln.startswith(":") and table:
            counts.setdefault(f"{table}:{ln[1:].split()[0]}", 0)
        elif ln.startswith("-A ") and table:
            k = f"{table}:{ln.split()[1]}"
            counts[k] = counts.get(k, 0) + 1
    return counts


def record_corpus_host(name: str, nprobes: int, seed: int, kernel: str, ipt: str) -> None:
    plan = Plan(name)
    out_dir = R.REPO / "fixtures" / "corpus" / name
    prefix = f"nft-rec-{os.getpid()}"
    router_ns = f"{prefix}-router"
    etc_dir = Path("/etc/netns") / router_ns
    rt_ids = {t: i for i, t in plan.named_tables()}
    topo = R.Topology(scenario(plan), prefix)
    t0 = time.time()
    try:
        if rt_ids:
            (etc_dir / "iproute2").mkdir(parents=True, exist_ok=True)
            src = Path("/etc/iproute2")
            if src.is_dir():
                for f in src.iterdir():
                    if f.is_file():
                        shutil.copy(f, etc_dir / "iproute2" / f.name)
            base = "255\tlocal\n254\tmain\n253\tdefault\n0\tunspec\n"
            (etc_dir / "iproute2" / "rt_tables").write_text(
                base + "".join(f"{i}\t{t}\n" for t, i in rt_ids.items()))
        topo.build()
        # routes and rules: a line the kernel refuses is recorded, not fatal
        for r in plan.routes:
            if "args" not in r:
                continue
            p = R.run(["ip", "-n", topo.router, "route", "add"] + r["args"], check=False,
                      quiet_fail=True)
            if p.returncode != 0:
                r["failed"] = f"ip route add refused: {p.stderr.strip()}"
                R.log(f"route {r['file']}:{r['line']} {' '.join(r['args'])}: {p.stderr.strip()}")
        for ru in plan.rules:
            p = R.run(["ip", "-n", topo.router, "rule", "add"] + ru["args"], check=False,
                      quiet_fail=True)
            if p.returncode != 0:
                ru["failed"] = f"ip rule add refused: {p.stderr.strip()}"
                R.log(f"rule line {ru['line']}: {p.stderr.strip()}")
        restore_with_drops(topo, plan)
        rules_text = plan.ruleset_text()
        load_ruleset(topo, rules_text)

        out_dir.mkdir(parents=True, exist_ok=True)
        b = out_dir / "bundle"
        b.mkdir(exist_ok=True)
        # R.save_bundle writes iptables-save.txt too: keep it in /tmp only.
        tmp = Path(f"/tmp/nftrace-corpus-{name}-{os.getpid()}")
        tmp.mkdir(exist_ok=True)
        R.save_bundle(topo, tmp, False)
        for f in ("route.txt", "rule.txt", "addr.txt", "sysctl.txt"):
            shutil.copy(tmp / "bundle" / f, b / f)
        kernel_save = (tmp / "bundle" / "iptables-save.txt").read_text()
        counts = chain_counts(kernel_save)

        gen = Generator(plan, seed)
        probes = []
        i = 0
        attempts = 0
        while len(probes) < nprobes and attempts < nprobes * 4:
            attempts += 1
            local = gen.rng.random() < 0.15
            pr = gen.probe(len(probes), local)
            if local:
                got = topo.rexec(["ip", "route", "get", pr["dst"]], check=False, quiet_fail=True)
                if got.returncode != 0 or " src " not in got.stdout:
                    continue   # no route: hping3 could not even send it
            # a fresh ruleset for every probe: no limit/recent/nth state carried over
            topo.rexec(["sh", "-c", "for f in /proc/net/xt_recent/*; do [ -e \"$f\" ] && "
                        "echo / > \"$f\"; done; true"], check=False)
            load_ruleset(topo, rules_text)
            rec = R.run_probe(topo, pr, len(probes))
            rec["generated"] = {k: v for k, v in pr.items() if k not in ("name", "note")}
            probes.append(rec)
            i += 1
        out = {
            "scenario": f"corpus/{name}",
            "description": f"published host {name} rebuilt from the corpus (see host.toml); "
                           f"{len(probes)} random probes, seed {seed}",
            "kernel": kernel,
            "iptables": ipt,
            "recorded_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "ruleset_chain_rules": counts,
            "probes": probes,
        }
        (out_dir / "recorded.json").write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
        write_host_toml(plan, out_dir / "host.toml", seed, len(probes), rt_ids)
        shutil.rmtree(tmp, ignore_errors=True)
        R.log(f"corpus/{name}: {len(probes)} probes recorded in {time.time() - t0:.1f}s")
        for p in probes:
            last = p["trace"][-1].split(" IN=")[0] if p["trace"] else "(no trace)"
            R.log(f"  {p['name']:<6} {' '.join(p['nftrace_args'][:8]):<70} "
                  f"{len(p['trace']):>2} lines, last {last}")
    finally:
        topo.teardown()
        shutil.rmtree(etc_dir, ignore_errors=True)


def main(name: str, nprobes: int, seed: int) -> int:
    R.ensure_root()
    R.ensure_tools()
    R.enable_netns_logging()
    kernel, ipt = R.tool_versions()
    with open(R.LOCK_PATH, "w") as lockf:
        fcntl.flock(lockf, fcntl.LOCK_EX)   # dmesg is machine-global
        try:
            record_corpus_host(name, nprobes, seed, kernel, ipt)
        except (R.RecorderError, KeyError, ValueError) as e:
            R.log(f"corpus/{name}: FAILED: {e}")
            return 1
    return 0
