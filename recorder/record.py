#!/usr/bin/env python3
"""nftrace fixture recorder.

Builds a throw-away router topology out of network namespaces, loads an
iptables ruleset into the router with iptables-legacy, turns on TRACE, sends
probe packets with hping3 and records what the *real kernel* logged.

    recorder/record.py fixtures/<scenario> [fixtures/<other> ...]
    recorder/record.py --all            # every fixtures/*/scenario.toml

Needs root (network namespaces, iptables, dmesg).  Python 3.11 stdlib only.
See docs/recorder.md for the scenario.toml and recorded.json formats.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import fcntl
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LOCK_PATH = "/tmp/nftrace-recorder.lock"
NEEDED = {  # binary -> apt package
    "iptables-legacy": "iptables",
    "iptables-legacy-restore": "iptables",
    "iptables-legacy-save": "iptables",
    "ip": "iproute2",
    "conntrack": "conntrack",
    "hping3": "hping3",
    "dmesg": "util-linux",
}
DEFAULT_WAIT = 0.4
TS_RE = re.compile(r"^\[\s*\d+\.\d+\] ")
VERBOSE = False


class RecorderError(Exception):
    pass


def log(msg: str) -> None:
    print(f"[record] {msg}", file=sys.stderr, flush=True)


def run(cmd: list[str], *, check: bool = True, input: str | None = None,
        quiet_fail: bool = False) -> subprocess.CompletedProcess:
    if VERBOSE:
        log("$ " + shlex.join(cmd))
    p = subprocess.run(cmd, input=input, capture_output=True, text=True)
    if check and p.returncode != 0:
        raise RecorderError(
            f"command failed ({p.returncode}): {shlex.join(cmd)}\n"
            f"stdout: {p.stdout.strip()}\nstderr: {p.stderr.strip()}")
    if not check and p.returncode != 0 and not quiet_fail:
        log(f"(ignored failure {p.returncode}) {shlex.join(cmd)}: {p.stderr.strip()}")
    return p


# --------------------------------------------------------------------------
# environment

def ensure_root() -> None:
    if os.geteuid() != 0:
        sys.exit("record.py must run as root (it creates network namespaces, "
                 "loads iptables rules and reads/clears the kernel log). "
                 "Re-run it as root, e.g. `sudo recorder/record.py ...`.")


def ensure_tools() -> None:
    missing = sorted({pkg for b, pkg in NEEDED.items() if shutil.which(b) is None})
    if not missing:
        return
    log(f"installing missing packages: {' '.join(missing)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update"], env=env, check=False)
    subprocess.run(["apt-get", "install", "-y", "iptables", "iproute2",
                    "conntrack", "hping3"], env=env, check=True)
    still = sorted(b for b in NEEDED if shutil.which(b) is None)
    if still:
        raise RecorderError(f"still missing after apt-get: {still}")


def enable_netns_logging() -> None:
    # TRACE in a non-init netns only reaches the kernel log with this set.
    knob = Path("/proc/sys/net/netfilter/nf_log_all_netns")
    if not knob.exists():
        run(["modprobe", "nf_conntrack"], check=False)
        run(["modprobe", "nf_log_syslog"], check=False)
    run(["sysctl", "-qw", "net.netfilter.nf_log_all_netns=1"])


def tool_versions() -> tuple[str, str]:
    kernel = os.uname().release
    ipt = run(["iptables-legacy", "-V"]).stdout.strip()
    return kernel, ipt


# --------------------------------------------------------------------------
# scenario

class Topology:
    """Router netns + one peer netns per router interface."""

    def __init__(self, scen: dict, prefix: str):
        self.scen = scen
        self.prefix = prefix
        self.router = f"{prefix}-router"
        self.namespaces: list[str] = []
        self.peers: dict[str, dict] = {}   # peer name -> {ns, iface, router_if, addrs}
        self.peer_macs: dict[str, str] = {}   # peer name -> its MAC (for --mac-src)

    # helpers ---------------------------------------------------------------
    def nsexec(self, ns: str, cmd: list[str], **kw) -> subprocess.CompletedProcess:
        return run(["ip", "netns", "exec", ns] + cmd, **kw)

    def rexec(self, cmd: list[str], **kw) -> subprocess.CompletedProcess:
        return self.nsexec(self.router, cmd, **kw)

    def sysctl(self, ns: str, key: str, value, check: bool = True) -> None:
        self.nsexec(ns, ["sysctl", "-qw", f"{key}={value}"], check=check)

    def add_ns(self, name: str) -> None:
        run(["ip", "netns", "add", name])
        self.namespaces.append(name)
        self.nsexec(name, ["ip", "link", "set", "lo", "up"])
        # quiet, deterministic namespaces: no IPv6 chatter, no rp_filter
        for k, v in (("net.ipv6.conf.all.disable_ipv6", 1),
                     ("net.ipv6.conf.default.disable_ipv6", 1),
                     ("net.ipv4.conf.all.rp_filter", 0),
                     ("net.ipv4.conf.default.rp_filter", 0)):
            self.sysctl(name, k, v, check=False)

    # build -----------------------------------------------------------------
    def build(self) -> None:
        r = self.scen.get("router", {})
        self.add_ns(self.router)
        # icmp_ratelimit=0: every probe gets its ICMP error (the default token
        # bucket would swallow errors of probes sent in quick succession).
        sysctls = {"net.ipv4.ip_forward": "1", "net.ipv4.icmp_ratelimit": "0"}
        sysctls.update({k: str(v) for k, v in r.get("sysctls", {}).items()})
        # forwarding must be set first: setting ip_forward resets per-device
        # forwarding sysctls, so apply it before anything else.
        self.sysctl(self.router, "net.ipv4.ip_forward", sysctls.pop("net.ipv4.ip_forward"))

        ifaces = r.get("interfaces", [])
        for idx, itf in enumerate(ifaces, start=1):
            name = itf["name"]
            peer = itf.get("peer", f"peer{idx}")
            pns = f"{self.prefix}-{peer}"
            if peer in self.peers:
                raise RecorderError(f"peer name {peer!r} used twice")
            self.add_ns(pns)
            pif = itf.get("peer_ifname", "eth0")
            rmac = itf.get("mac", f"02:00:00:00:{idx:02x}:01")
            pmac = itf.get("peer_mac", f"02:00:00:00:{idx:02x}:02")
            self.peer_macs[peer] = pmac
            tmp = f"nftr{os.getpid() % 100000}p{idx}"
            run(["ip", "-n", self.router, "link", "add", name, "address", rmac,
                 "type", "veth", "peer", "name", tmp, "address", pmac,
                 "netns", pns])
            run(["ip", "-n", pns, "link", "set", tmp, "name", pif])
            if "mtu" in itf:
                run(["ip", "-n", self.router, "link", "set", name, "mtu", str(itf["mtu"])])
                run(["ip", "-n", pns, "link", "set", pif, "mtu", str(itf["mtu"])])
            for a in itf.get("addrs", []):
                run(["ip", "-n", self.router, "addr", "add"] + a.split() + ["dev", name])
            for a in itf.get("peer_addrs", []):
                run(["ip", "-n", pns, "addr", "add"] + a.split() + ["dev", pif])
            run(["ip", "-n", self.router, "link", "set", name, "up"])
            run(["ip", "-n", pns, "link", "set", pif, "up"])
            proutes = itf.get("peer_routes")
            if proutes is None:
                first = next(iter(itf.get("addrs", [])), None)
                proutes = [f"default via {first.split()[0].split('/')[0]}"] if first else []
            for rt in proutes:
                run(["ip", "-n", pns, "route", "add"] + rt.split())
            if itf.get("peer_silent", True):
                # peers only inject probes; they must not answer (RSTs/ICMP
                # from a peer would kill or confirm conntrack entries).
                self.nsexec(pns, ["iptables-legacy", "-A", "INPUT", "-j", "DROP"])
            for k, v in itf.get("peer_sysctls", {}).items():
                self.sysctl(pns, k, v)
            addrs = [a.split()[0].split("/")[0] for a in itf.get("peer_addrs", [])]
            self.peers[peer] = {"ns": pns, "iface": pif, "router_if": name,
                                "addr": addrs[0] if addrs else None}

        for idx, d in enumerate(r.get("dummies", []), start=1):
            dmac = d.get("mac", f"02:00:00:00:d{idx:x}:01")
            run(["ip", "-n", self.router, "link", "add", d["name"], "address", dmac,
                 "type", d.get("type", "dummy")])
            for a in d.get("addrs", []):
                run(["ip", "-n", self.router, "addr", "add"] + a.split() + ["dev", d["name"]])
            run(["ip", "-n", self.router, "link", "set", d["name"], "up"])

        for k, v in sysctls.items():
            self.sysctl(self.router, k, v)
        for rt in r.get("routes", []):
            run(["ip", "-n", self.router, "route", "add"] + rt.split())
        for ru in r.get("rules", []):
            run(["ip", "-n", self.router, "rule", "add"] + ru.split())
        for c in r.get("commands", []):
            self.rexec(shlex.split(c))

    def teardown(self) -> None:
        for ns in reversed(self.namespaces):
            run(["ip", "netns", "del", ns], check=False)
        self.namespaces.clear()


def load_rules(topo: Topology, sdir: Path) -> None:
    rules = (sdir / "ruleset.rules").read_text()
    topo.rexec(["iptables-legacy-restore"], input=rules)
    topo.rexec(["iptables-legacy", "-t", "raw", "-I", "PREROUTING", "1", "-j", "TRACE"])
    topo.rexec(["iptables-legacy", "-t", "raw", "-I", "OUTPUT", "1", "-j", "TRACE"])


def save_bundle(topo: Topology, sdir: Path, counters: bool) -> None:
    b = sdir / "bundle"
    b.mkdir(exist_ok=True)
    save = ["iptables-legacy-save"] + (["-c"] if counters else [])
    (b / "iptables-save.txt").write_text(topo.rexec(save).stdout)
    (b / "route.txt").write_text(topo.rexec(["ip", "route", "show", "table", "all"]).stdout)
    (b / "rule.txt").write_text(topo.rexec(["ip", "rule", "show"]).stdout)
    (b / "addr.txt").write_text(topo.rexec(["ip", "addr", "show"]).stdout)
    # The sysctls routing and conntrack depend on (forwarding and rp_filter per
    # interface, tcp_loose), in `sysctl -a` form.
    pattern = (r"^net\.ipv4\.(ip_forward|conf\.[^.]+\.(forwarding|rp_filter|src_valid_mark"
               r"|route_localnet|accept_local))$|^net\.netfilter\.nf_conntrack_tcp_loose$")
    out = topo.rexec(["sysctl", "-a", "-r", pattern], check=False).stdout
    (b / "sysctl.txt").write_text(out)


# --------------------------------------------------------------------------
# probes

FLAG_LETTERS = {"S": ("-S", "SYN"), "A": ("-A", "ACK"), "F": ("-F", "FIN"),
                "R": ("-R", "RST"), "P": ("-P", "PSH"), "U": ("-U", "URG"),
                "X": ("-X", "ECE"), "Y": ("-Y", "CWR")}
FLAG_ORDER = ["CWR", "ECE", "URG", "ACK", "PSH", "RST", "SYN", "FIN"]
PROTO_NUM = {"tcp": 6, "udp": 17, "icmp": 1}


def conntrack_stats(topo: Topology) -> dict[str, int]:
    p = topo.rexec(["conntrack", "-S"], check=False)
    tot: dict[str, int] = {}
    for line in p.stdout.splitlines():
        for tok in line.split():
            if "=" in tok:
                k, v = tok.split("=", 1)
                if k == "cpu":
                    continue
                try:
                    tot[k] = tot.get(k, 0) + int(v)
                except ValueError:
                    pass
    return tot


def top_level_id(line: str) -> int | None:
    head = line.split("[", 1)[0]
    m = re.search(r" ID=(\d+) ", head)
    return int(m.group(1)) if m else None


def read_kernel_log() -> list[str]:
    out = run(["dmesg"]).stdout
    lines = []
    for ln in out.split("\n"):
        if not ln:
            continue
        lines.append(TS_RE.sub("", ln, count=1))
    return lines


def build_probe(topo: Topology, pr: dict, index: int) -> tuple[str, list[str], list[str], dict]:
    """Return (namespace, hping3 argv, nftrace args, facts)."""
    frm = pr.get("from")
    if frm is None:
        raise RecorderError(f"probe {pr.get('name')!r} has no 'from'")
    proto = str(pr.get("proto", "tcp")).lower()
    ip_id = int(pr.get("id", 1000 + index))
    ttl = int(pr.get("ttl", 64))
    data = int(pr.get("data", 0))
    dst = pr["dst"]
    cmd = ["hping3", "-c", "1", "-n", "-q"]
    nargs: list[str] = []
    if frm == "router":
        ns = topo.router
        src = pr.get("src")
        router_if = None
        if src is None:
            # hping3 would take the address of whatever interface it guesses
            # (often lo); use the source the kernel's route lookup picks instead,
            # which is what a real local socket would get.
            get = ["ip", "route", "get", dst]
            if pr.get("route_get_mark"):
                get += ["mark", str(pr["route_get_mark"])]
            out = topo.rexec(get, check=False, quiet_fail=True).stdout
            m = re.search(r" src (\S+)", out)
            if m:
                src = m.group(1)
    else:
        if frm not in topo.peers:
            raise RecorderError(f"probe {pr.get('name')!r}: unknown peer {frm!r}")
        peer = topo.peers[frm]
        ns = peer["ns"]
        src = pr.get("src", peer["addr"])
        router_if = peer["router_if"]
        if src is None:
            raise RecorderError(f"probe {pr.get('name')!r}: peer {frm} has no address; give src")
    if src is not None and (frm == "router" or src != topo.peers[frm]["addr"]):
        cmd += ["-a", src]
    if "interface" in pr:  # hping3 -I (which interface hping3 takes its defaults from)
        cmd += ["-I", pr["interface"]]

    sport = pr.get("sport")
    dport = pr.get("dport")
    if proto == "tcp":
        flags = str(pr.get("flags", "S")).upper()
        names = []
        for ch in flags:
            if ch not in FLAG_LETTERS:
                raise RecorderError(f"bad tcp flag letter {ch!r}")
            cmd.append(FLAG_LETTERS[ch][0])
            names.append(FLAG_LETTERS[ch][1])
        names = [n for n in FLAG_ORDER if n in names]
        cmd += ["-M", str(pr.get("seq", 1000 + index)), "-L", str(pr.get("ack", 0))]
        if "window" in pr:
            cmd += ["-w", str(pr["window"])]
        length = 40 + data
    elif proto == "udp":
        cmd.append("-2")
        length = 28 + data
    elif proto == "icmp":
        itype = int(pr.get("icmp_type", 8))
        icode = int(pr.get("icmp_code", 0))
        cmd += ["-1", "-C", str(itype), "-K", str(icode)]
        length = 28 + data
    else:
        num = PROTO_NUM.get(proto, None)
        if num is None:
            num = int(proto)
        cmd += ["-0", "-H", str(num)]
        length = 20 + data
    if proto in ("tcp", "udp"):
        if sport is None or dport is None:
            raise RecorderError(f"probe {pr.get('name')!r}: tcp/udp need sport and dport")
        cmd += ["-s", str(sport), "-k", "-p", str(dport)]
    cmd += ["--id", str(ip_id), "-t", str(ttl)]
    if data:
        cmd += ["-d", str(data)]
    if pr.get("sign"):   # payload starts with this string (hping3 -e); needs data >= len
        cmd += ["-e", str(pr["sign"])]
    tos = pr.get("tos")
    if tos is not None:
        tos_i = int(tos, 0) if isinstance(tos, str) else int(tos)
        cmd += ["-o", f"{tos_i:02x}"]
    if pr.get("df"):
        cmd.append("-y")
    cmd += [str(x) for x in pr.get("hping3_extra", [])]
    cmd.append(dst)

    if src is not None:
        nargs += ["-s", src]
    nargs += ["-d", dst, "-p", proto if proto in PROTO_NUM else str(num)]
    if proto in ("tcp", "udp"):
        nargs += ["--sport", str(sport), "--dport", str(dport)]
    if proto == "tcp":
        nargs += ["--tcp-flags", ",".join(names) if names else "NONE"]
    if proto == "icmp":
        nargs += ["--icmp-type", f"{itype}/{icode}"]
    if router_if is None:
        nargs.append("--local")
    else:
        nargs += ["-i", router_if, "--mac-src", topo.peer_macs[frm]]
    if pr.get("df"):
        nargs.append("--df")
    if pr.get("sign"):
        nargs += ["--payload", str(pr["sign"])]
    # The embedded packet of an ICMP error, as nftrace's --inner-* flags.
    extra = [str(x) for x in pr.get("hping3_extra", [])]
    inner_flags = {"--icmp-ipsrc": "--inner-src", "--icmp-ipdst": "--inner-dst",
                   "--icmp-ipproto": "--inner-proto", "--icmp-srcport": "--inner-sport",
                   "--icmp-dstport": "--inner-dport"}
    for i, word in enumerate(extra[:-1]):
        if word in inner_flags:
            nargs += [inner_flags[word], extra[i + 1]]
    nargs += ["--ttl", str(ttl), "--id", str(ip_id), "--len", str(length)]
    if tos is not None:
        nargs += ["--tos", f"0x{tos_i:02x}"]
    return ns, cmd, nargs, {"id": ip_id, "len": length, "src": src}


def run_probe(topo: Topology, pr: dict, index: int) -> dict:
    ns, cmd, nargs, facts = build_probe(topo, pr, index)
    if not pr.get("keep_conntrack", False):
        topo.rexec(["conntrack", "-F"], check=False, quiet_fail=True)
    for c in pr.get("before", []):   # optional router commands run before the probe
        topo.rexec(shlex.split(c))
    before = conntrack_stats(topo)
    run(["dmesg", "-C"])
    proc = subprocess.Popen(["ip", "netns", "exec", ns] + cmd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(float(pr.get("wait", DEFAULT_WAIT)))
    if proc.poll() is None:
        proc.terminate()
    try:
        _, err = proc.communicate(timeout=3)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    if err and "error" in err.lower():
        log(f"hping3 stderr: {err.strip()}")
    klog = read_kernel_log()
    after = conntrack_stats(topo)
    ct = topo.rexec(["conntrack", "-L"], check=False, quiet_fail=True).stdout.splitlines()

    trace_all = [ln for ln in klog if ln.startswith("TRACE: ")]
    trace = [ln for ln in trace_all if top_level_id(ln) == facts["id"]]
    other = [ln for ln in klog if not ln.startswith("TRACE: ")]

    # read back what hping3 really sent and fix nftrace args if needed
    if trace:
        first = trace[0]
        m = re.search(r" LEN=(\d+) ", first.split("[", 1)[0])
        if m and int(m.group(1)) != facts["len"]:
            log(f"probe {pr['name']}: LEN {m.group(1)} != computed {facts['len']}, using kernel's")
            i = nargs.index("--len")
            nargs[i + 1] = m.group(1)
        if facts["src"] is None:
            m = re.search(r" SRC=(\S+) ", first)
            if m:
                nargs[0:0] = ["-s", m.group(1)]
    else:
        log(f"probe {pr['name']}: WARNING no TRACE line with ID={facts['id']}")

    keys = sorted(set(before) | set(after))
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in keys}
    rec = {
        "name": pr["name"],
        "nftrace_args": nargs,
        "hping3": cmd,
        "trace": trace,
        "trace_all": trace_all,
        "log_other": other,
        "conntrack": ct,
        "conntrack_stats_delta": delta,
    }
    if pr.get("note"):
        rec["note"] = pr["note"]
    if pr.get("keep_conntrack"):
        rec["keep_conntrack"] = True
    if pr.get("assume"):
        # State the recording left behind that no dump shows (counters of
        # stateful matches after earlier probes), as nftrace --assume items.
        rec["nftrace_assume"] = [str(a) for a in pr["assume"]]
    return rec


# --------------------------------------------------------------------------

def record_scenario(sdir: Path, kernel: str, ipt: str, follow=None) -> list[dict]:
    """Records every probe of sdir/scenario.toml into sdir/recorded.json and
    returns the probes sent.  `follow(probe, record)`, when given, returns
    probes to send right after `probe` (difftest.py derives replies from the
    conntrack entry the kernel just made); the caller writes them into
    scenario.toml so a later re-recording sends the same ones."""
    sdir = sdir.resolve()
    scen = tomllib.loads((sdir / "scenario.toml").read_text())
    name = sdir.name
    prefix = f"nft-rec-{os.getpid()}"
    topo = Topology(scen, prefix)
    t0 = time.time()
    try:
        topo.build()
        load_rules(topo, sdir)
        counters = bool(scen.get("save_counters", False))
        if not counters:
            save_bundle(topo, sdir, False)
        probes = []
        names = set()
        queue = list(scen.get("probe", []))
        for i, pr in enumerate(queue):   # grows while iterated when follow adds probes
            if pr["name"] in names:
                raise RecorderError(f"duplicate probe name {pr['name']!r}")
            names.add(pr["name"])
            probes.append(run_probe(topo, pr, i))
            if follow is not None:
                queue[i + 1:i + 1] = follow(pr, probes[-1])
        if counters:
            save_bundle(topo, sdir, True)
        out = {
            "scenario": name,
            "description": scen.get("description", ""),
            "kernel": kernel,
            "iptables": ipt,
            "recorded_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "probes": probes,
        }
        (sdir / "recorded.json").write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
        log(f"{name}: {len(probes)} probes recorded in {time.time() - t0:.1f}s")
        for p in probes:
            last = p["trace"][-1].split(" IN=")[0] if p["trace"] else "(no trace)"
            log(f"  {p['name']:<32} {len(p['trace']):>2} lines, last {last}")
        return queue
    finally:
        topo.teardown()


def main() -> int:
    global VERBOSE
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scenarios", nargs="*", help="fixtures/<scenario> directories")
    ap.add_argument("--all", action="store_true", help="record every fixtures/*/scenario.toml")
    ap.add_argument("-v", "--verbose", action="store_true")
    # --- corpus mode (recorder/corpus_host.py; docs/recorder.md "Rebuilding a published host")
    ap.add_argument("--corpus-host", metavar="BUNDLE",
                    help="rebuild ../shared/corpus/bundle/BUNDLE and record random probes "
                         "into fixtures/corpus/BUNDLE/")
    ap.add_argument("--probes", type=int, default=40, help="--corpus-host: number of probes")
    ap.add_argument("--seed", type=int, default=1, help="--corpus-host: random seed")
    a = ap.parse_args()
    VERBOSE = a.verbose
    if a.corpus_host:
        import corpus_host   # same directory; imports this module as `record`
        return corpus_host.main(a.corpus_host, a.probes, a.seed)
    # --- end corpus mode
    ensure_root()
    dirs = [Path(s) for s in a.scenarios]
    if a.all:
        dirs += sorted(p.parent for p in (REPO / "fixtures").glob("*/scenario.toml"))
    if not dirs:
        ap.error("give scenario directories or --all")
    for d in dirs:
        if not (d / "scenario.toml").exists():
            ap.error(f"{d}/scenario.toml not found")
    ensure_tools()
    enable_netns_logging()
    kernel, ipt = tool_versions()
    failed = []
    with open(LOCK_PATH, "w") as lockf:
        fcntl.flock(lockf, fcntl.LOCK_EX)   # dmesg is machine-global
        for d in dirs:
            try:
                record_scenario(d, kernel, ipt)
            except (RecorderError, KeyError, ValueError, tomllib.TOMLDecodeError) as e:
                log(f"{d}: FAILED: {e}")
                failed.append(str(d))
    if failed:
        log(f"failed scenarios: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
