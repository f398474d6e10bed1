"""Random but valid scenarios for differential testing (docs/difftest.md).

    import random_rules
    toml_text, rules_text = random_rules.scenario(seed="7-3-0", probes=8)

One seed gives one scenario: a fixed small router topology (three interfaces,
a routed subnet behind one peer, an fwmark rule into a second table) plus a
random ruleset over raw/mangle/nat/filter and random probes, in the formats
recorder/record.py reads (scenario.toml, ruleset.rules).  The ruleset is
built to be accepted by iptables-legacy-restore: targets only in tables and
hooks the kernel allows, user chains jumped to only from chains declared
before them (no loops), nat user chains only reachable from the hooks their
targets need.  Nothing stateful whose outcome a dump cannot show is used
(no statistic, limit, recent, connlimit, hashlimit).
"""

from __future__ import annotations

import random

# --------------------------------------------------------------------------
# topology (fixed)

IFACES = [  # router name, router addr, peer name, peer addr
    ("eth0", "10.0.1.1", "lan", "10.0.1.2"),
    ("eth1", "10.0.2.1", "wan", "10.0.2.2"),
    ("dmz0", "10.0.3.1", "dmz", "10.0.3.2"),
]
ROUTES = ["10.0.4.0/24 via 10.0.2.2 dev eth1", "unreachable 10.0.5.0/24",
          "blackhole 10.0.6.0/24", "prohibit 10.0.7.0/24",
          "table 100 default via 10.0.3.2 dev dmz0",
          "table 100 10.0.1.0/24 dev eth0 scope link"]
IP_RULES = ["pref 100 fwmark 0x1/0x1 lookup 100", "pref 110 from 10.0.4.0/24 lookup 100",
            "pref 120 tos 0x10 lookup 100", "pref 130 iif eth0 to 10.0.4.0/24 lookup 100"]
SECONDARY = ("eth1", "10.0.2.100")   # a second address in eth1's subnet
ROUTER_ADDRS = [a for _, a, _, _ in IFACES] + [SECONDARY[1]]
PEER_ADDRS = [a for _, _, _, a in IFACES]
OTHER_HOSTS = ["10.0.1.5", "10.0.1.130", "10.0.2.9", "10.0.3.130", "10.0.4.7", "10.0.4.200"]
NOWHERE = ["10.9.9.9",    # no route in main (fwmark 1 still routes it via table 100)
           "10.0.5.1", "10.0.6.1", "10.0.7.1"]   # unreachable, blackhole, prohibit
BROADCASTS = ["10.0.1.255", "10.0.2.255"]
# Router sysctls a scenario may change (each with probability 1/6).
SYSCTLS = [("net.ipv4.conf.eth1.rp_filter", ["1", "2"]),
           ("net.ipv4.conf.all.rp_filter", ["1", "2"]),
           ("net.ipv4.conf.dmz0.forwarding", ["0"]),
           ("net.ipv4.conf.eth0.route_localnet", ["1"]),
           ("net.ipv4.conf.all.accept_local", ["1"]),
           ("net.netfilter.nf_conntrack_tcp_loose", ["0"])]

# --------------------------------------------------------------------------
# value spaces of matches and targets

NETS = ["10.0.1.0/24", "10.0.2.0/24", "10.0.3.0/24", "10.0.4.0/24", "10.0.0.0/16",
        "10.0.1.0/25", "10.0.1.128/25", "10.0.4.0/23", "10.0.2.2/32", "10.0.1.5/32",
        "10.0.3.1/32", "10.0.1.1/32", "10.0.4.7/32", "10.0.2.0/31"]
PORTS = [22, 53, 80, 443, 1000, 1005, 8080, 40000]
PORT_RANGES = ["1000:1010", "20:100", "40000:40010", "1:1023", "8000:8100"]
IFNAMES = ["eth0", "eth1", "dmz0", "eth+", "lo", "dmz+"]
MARKS = ["0x0", "0x1", "0x2", "0x3", "0x10", "0x11", "0xff"]
MASKS = ["0x1", "0x2", "0xf", "0xff", "0xffffffff", "0xf0"]
TCP_FLAG_SETS = ["SYN", "ACK", "FIN", "RST", "SYN,ACK", "FIN,ACK", "NONE", "ALL"]
STATES = ["NEW", "ESTABLISHED", "RELATED", "INVALID", "UNTRACKED"]
ADDRTYPES = ["LOCAL", "UNICAST", "BROADCAST", "MULTICAST", "UNREACHABLE"]

BUILTIN = {
    "raw": ["PREROUTING", "OUTPUT"],
    "mangle": ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"],
    "nat": ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"],
    "filter": ["INPUT", "FORWARD", "OUTPUT"],
}
# nat user chains have a kind: which built-ins may reach them, which targets they hold
NAT_KIND_OF = {"PREROUTING": "dst", "OUTPUT": "dst", "POSTROUTING": "post", "INPUT": "src"}


def _neg(rng: random.Random, p: float = 0.2) -> str:
    return "! " if rng.random() < p else ""


def _dash(ports: str) -> str:
    """NAT targets write port ranges with a dash."""
    return ports.replace(":", "-")


def _mark(rng: random.Random) -> str:
    v = rng.choice(MARKS)
    return f"{v}/{rng.choice(MASKS)}" if rng.random() < 0.5 else v


class Gen:
    """Builds one ruleset from a seeded random stream."""

    def __init__(self, rng: random.Random):
        self.rng = rng

    # matches ---------------------------------------------------------------
    def proto_part(self) -> tuple[str, str | None]:
        """(-p … with its protocol match, the protocol a rule is limited to)."""
        r = self.rng
        x = r.random()
        if x < 0.45:
            return "", None
        if x < 0.55:
            p = r.choice(["tcp", "udp", "icmp"])
            return f"! -p {p}", None
        p = r.choice(["tcp", "tcp", "udp", "icmp"])
        words = [f"-p {p}"]
        if p in ("tcp", "udp"):
            words += self.port_matches(p)
        if p == "tcp" and r.random() < 0.35:
            words.append(self.tcp_flags())
        if p == "icmp" and r.random() < 0.5:
            t = r.choice(["echo-request", "echo-reply", "8", "0", "any", "destination-unreachable"])
            words.append(f"-m icmp {_neg(r)}--icmp-type {t}")
        return " ".join(words), p

    def port_matches(self, p: str) -> list[str]:
        r = self.rng
        out = []
        x = r.random()
        if x < 0.3:
            out.append(f"-m {p} {_neg(r)}--dport {r.choice(PORTS)}")
        elif x < 0.45:
            out.append(f"-m {p} {_neg(r)}--dport {r.choice(PORT_RANGES)}")
        elif x < 0.55:
            out.append(f"-m {p} {_neg(r)}--sport {r.choice(PORTS + PORT_RANGES)}")
        elif x < 0.7:
            opt = r.choice(["--dports", "--sports", "--ports"])
            items = r.sample(PORTS + PORT_RANGES, r.randint(1, 3))
            out.append(f"-m multiport {_neg(r)}{opt} {','.join(str(i) for i in items)}")
        return out

    def tcp_flags(self) -> str:
        r = self.rng
        if r.random() < 0.4:
            return f"-m tcp {_neg(r, 0.3)}--syn"
        mask = r.choice(["SYN,ACK", "SYN,RST,ACK,FIN", "ALL", "FIN,SYN,RST,PSH,ACK,URG"])
        comp = r.choice(TCP_FLAG_SETS)
        return f"-m tcp {_neg(r)}--tcp-flags {mask} {comp}"

    def extra_match(self, table: str) -> str:
        r = self.rng
        kind = r.choice(["mark", "mark", "connmark", "state", "conntrack", "addrtype",
                         "ttl", "length", "tos", "dscp", "iprange", "comment", "ctaddr",
                         "pkttype"])
        if kind == "mark":
            return f"-m mark {_neg(r)}--mark {_mark(r)}"
        if kind == "connmark":
            return f"-m connmark {_neg(r)}--mark {_mark(r)}"
        if kind == "state":
            states = ",".join(r.sample(STATES[:4], r.randint(1, 2)))
            return f"-m state {_neg(r)}--state {states}"
        if kind == "conntrack":
            states = ",".join(r.sample(STATES + ["SNAT", "DNAT"], r.randint(1, 2)))
            return f"-m conntrack {_neg(r)}--ctstate {states}"
        if kind == "addrtype":
            opt = r.choice(["--dst-type", "--src-type"])
            return f"-m addrtype {_neg(r)}{opt} {r.choice(ADDRTYPES)}"
        if kind == "ttl":
            op = r.choice(["--ttl-eq", "--ttl-lt", "--ttl-gt"])
            return f"-m ttl {op} {r.choice([1, 2, 63, 64, 65])}"
        if kind == "length":
            lo = r.choice([0, 28, 40, 41])
            return f"-m length {_neg(r)}--length {lo}:{lo + r.choice([0, 12, 100])}"
        if kind == "tos":
            return f"-m tos {_neg(r)}--tos {r.choice(['0x00', '0x10', '0x08'])}"
        if kind == "dscp":
            return f"-m dscp {_neg(r)}--dscp {r.choice([0, 2, 4, 10])}"
        if kind == "iprange":
            a = r.choice(["10.0.1.1-10.0.1.9", "10.0.2.0-10.0.4.255", "10.0.4.7-10.0.4.7"])
            opt = r.choice(["--src-range", "--dst-range"])
            return f"-m iprange {_neg(r)}{opt} {a}"
        if kind == "ctaddr":
            opt = r.choice(["--ctorigsrc", "--ctorigdst", "--ctreplsrc", "--ctrepldst"])
            extra = f" --ctdir {r.choice(['ORIGINAL', 'REPLY'])}" if r.random() < 0.3 else ""
            return f"-m conntrack {_neg(r)}{opt} {r.choice(NETS)}{extra}"
        if kind == "pkttype":
            return f"-m pkttype {_neg(r)}--pkt-type {r.choice(['unicast', 'broadcast'])}"
        return f'-m comment --comment "c{r.randint(0, 99)}"'

    def matches(self, table: str, chain: str) -> tuple[str, str | None]:
        r = self.rng
        words = []
        if r.random() < 0.25:
            words.append(f"{_neg(r)}-s {r.choice(NETS)}")
        if r.random() < 0.25:
            words.append(f"{_neg(r)}-d {r.choice(NETS)}")
        in_ok = chain not in ("OUTPUT", "POSTROUTING")
        out_ok = chain not in ("PREROUTING", "INPUT")
        if in_ok and r.random() < 0.25:
            words.append(f"{_neg(r)}-i {r.choice(IFNAMES)}")
        if out_ok and r.random() < 0.25:
            words.append(f"{_neg(r)}-o {r.choice(IFNAMES)}")
        proto, p = self.proto_part()
        if proto:
            words.append(proto)
        for _ in range(r.choice([0, 0, 0, 1, 1, 2])):
            words.append(self.extra_match(table))
        if chain in ("PREROUTING", "INPUT", "FORWARD") and r.random() < 0.05:
            t = r.choice(["LOCAL", "UNICAST", "BROADCAST"])
            words.append(f"-m addrtype --dst-type {t} --limit-iface-in")
        return " ".join(words), p

    # targets ---------------------------------------------------------------
    def mark_target(self) -> str:
        r = self.rng
        op = r.choice(["--set-xmark", "--set-mark", "--or-mark", "--and-mark", "--xor-mark"])
        if op in ("--set-xmark", "--set-mark"):
            return f"-j MARK {op} {_mark(self.rng)}"
        return f"-j MARK {op} {r.choice(MARKS + MASKS)}"

    def connmark_target(self) -> str:
        r = self.rng
        x = r.random()
        if x < 0.35:
            return f"-j CONNMARK --set-xmark {_mark(r)}{self.shift()}"
        masks = ""
        if r.random() < 0.4:
            masks = f" --nfmask {r.choice(MASKS)} --ctmask {r.choice(MASKS)}"
        return f"-j CONNMARK {r.choice(['--save-mark', '--restore-mark'])}{masks}{self.shift()}"

    def shift(self) -> str:
        """A revision-2 CONNMARK shift, sometimes (this kernel refuses 32)."""
        r = self.rng
        if r.random() < 0.7:
            return ""
        return f" --{r.choice(['left', 'right'])}-shift-mark {r.randint(1, 31)}"

    def header_target(self) -> str:
        """TTL/TOS/DSCP rewrites (mangle only)."""
        r = self.rng
        x = r.random()
        if x < 0.4:
            op = r.choice(["--ttl-set 1", "--ttl-set 63", "--ttl-dec 1", "--ttl-inc 1",
                           "--ttl-dec 63"])
            return f"-j TTL {op}"
        if x < 0.7:
            return f"-j TOS --set-tos {r.choice(['0x10', '0x00', '0x08/0x08', '0x10/0x3f'])}"
        return f"-j DSCP --set-dscp {r.choice([0, 4, 10])}"

    def nat_target(self, kind: str, p: str | None) -> str:
        r = self.rng
        port = p in ("tcp", "udp")
        if r.random() < 0.1:
            net = r.choice(["10.0.3.0/24", "10.0.1.0/24", "10.0.4.0/23", "10.0.2.2/32"])
            return f"-j NETMAP --to {net}"
        if kind == "dst":
            if r.random() < 0.3:
                return f"-j REDIRECT --to-ports {r.choice(PORTS)}" if port else "-j REDIRECT"
            ip = r.choice(PEER_ADDRS + ROUTER_ADDRS + OTHER_HOSTS[:3])
            suffix = f":{r.choice(PORTS)}" if port and r.random() < 0.5 else ""
            return f"-j DNAT --to-destination {ip}{suffix}"
        if kind == "post" and r.random() < 0.4:
            return f"-j MASQUERADE --to-ports {_dash(r.choice(PORT_RANGES))}" if port and \
                r.random() < 0.3 else "-j MASQUERADE"
        ip = r.choice(ROUTER_ADDRS + ["10.0.9.1", "10.0.2.50"])
        suffix = f":{_dash(r.choice(PORT_RANGES))}" if port and r.random() < 0.4 else ""
        return f"-j SNAT --to-source {ip}{suffix}"

    def target(self, table: str, chain: str, kind: str | None, p: str | None,
               callees: list[str]) -> str:
        r = self.rng
        opts = ["none", "ACCEPT", "RETURN"]
        if callees:
            opts += ["jump", "jump", "jump", "goto"]
        if table != "nat":
            opts += ["DROP", "mark", "mark"]
        if table in ("mangle", "filter"):
            opts += ["connmark"]
        if table == "mangle":
            opts += ["header"]
        if table == "raw":
            opts += ["notrack"]
        if table == "filter":
            opts += ["REJECT"]
        if table == "nat" and kind is not None:
            opts += ["nat", "nat", "nat"]
        t = r.choice(opts)
        if t == "none":
            return ""
        if t in ("jump", "goto"):
            return f"-{t[0]} {r.choice(callees)}"
        if t == "mark":
            return self.mark_target()
        if t == "connmark":
            return self.connmark_target()
        if t == "header":
            return self.header_target()
        if t == "notrack":
            return r.choice(["-j NOTRACK", "-j CT --notrack", f"-j CT --zone {r.choice([1, 5])}"])
        if t == "nat":
            return self.nat_target(kind, p)
        if t == "REJECT":
            with_ = ["icmp-port-unreachable", "icmp-host-prohibited", "icmp-net-unreachable",
                     "icmp-admin-prohibited"]
            if p == "tcp":
                with_.append("tcp-reset")
            return f"-j REJECT --reject-with {r.choice(with_)}"
        return f"-j {t}"

    # tables ----------------------------------------------------------------
    def table(self, table: str) -> list[str]:
        r = self.rng
        nuser = r.choice([0, 1, 2, 3])
        users = [f"{table[:1].upper()}{i}" for i in range(nuser)]
        kinds = {u: (r.choice(["dst", "post", "src"]) if table == "nat" else None) for u in users}
        lines = [f"*{table}"]
        for c in BUILTIN[table]:
            pol = "ACCEPT"
            if table == "filter" and r.random() < 0.2:
                pol = "DROP"
            lines.append(f":{c} {pol} [0:0]")
        lines += [f":{u} - [0:0]" for u in users]
        for c in BUILTIN[table]:
            kind = NAT_KIND_OF.get(c) if table == "nat" else None
            callees = [u for u in users if table != "nat" or kinds[u] == kind
                       or (c == "POSTROUTING" and kinds[u] == "src")]
            lines += self.chain_rules(table, c, kind, callees, r.randint(0, 5))
        for i, u in enumerate(users):
            kind = kinds[u]
            callees = [v for v in users[i + 1:] if table != "nat" or kinds[v] == kind]
            lines += self.chain_rules(table, u, kind, callees, r.randint(1, 4))
        lines.append("COMMIT")
        return lines

    def chain_rules(self, table: str, chain: str, kind: str | None, callees: list[str],
                    n: int) -> list[str]:
        out = []
        for _ in range(n):
            m, p = self.matches(table, chain)
            # SNAT in a POSTROUTING-reachable "src" chain is fine; MASQUERADE only in post.
            t = self.target(table, chain, kind, p, callees)
            out.append(" ".join(w for w in (f"-A {chain}", m, t) if w))
        return out

    def ruleset(self) -> str:
        r = self.rng
        lines = []
        for t in ("raw", "mangle", "nat", "filter"):
            if t == "filter" or r.random() < 0.8:
                lines += self.table(t)
        return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------
# probes

def probe(rng: random.Random, i: int) -> dict:
    r = rng
    peers = [(p, a, ra) for _, ra, p, a in IFACES]
    frm = r.choice([p for p, _, _ in peers] + ["router"])
    pr: dict = {"name": f"p{i}", "from": frm}
    if frm != "router":
        x = r.random()
        if x < 0.2:
            pr["src"] = r.choice(OTHER_HOSTS + PEER_ADDRS)
        elif x < 0.25:
            # Not 127.0.0.1: the peer would ARP for the router with that source,
            # the router ignores the request and the probe never leaves the peer.
            pr["src"] = r.choice(ROUTER_ADDRS + ["10.0.1.255"])
    elif r.random() < 0.1:
        pr["src"] = r.choice(ROUTER_ADDRS + ["127.0.0.1"])
    dsts = ROUTER_ADDRS + PEER_ADDRS + OTHER_HOSTS + NOWHERE + BROADCASTS
    if frm == "router":
        dsts = [d for d in dsts if d not in NOWHERE] + ["127.0.0.1"]
    # A peer's own address never leaves the peer.
    own = {p: a for p, a, _ in peers}
    pr["dst"] = r.choice([d for d in dsts if d != own.get(frm)])
    if frm != "router" and pr["dst"] in BROADCASTS:
        # peers send every frame to the router's MAC (they route via it)
        pr["assume"] = ["l2-dst=host"]
    proto = r.choice(["tcp", "tcp", "tcp", "udp", "udp", "icmp"])
    pr["proto"] = proto
    if proto in ("tcp", "udp"):
        pr["sport"] = r.choice([40000, 40001, 1005, 53, 22, 50000 + i])
        pr["dport"] = r.choice(PORTS + [1003, 9999])
    if proto == "tcp":
        pr["flags"] = r.choice(["S", "S", "S", "SA", "A", "F", "R", "PA", ""])
    if proto == "icmp":
        pr["icmp_type"] = r.choice([8, 8, 8, 0, 13])
    if r.random() < 0.15:
        pr["ttl"] = r.choice([1, 2, 65])
    # Not from the router: hping3's raw socket routes with the socket's TOS (0),
    # not the header's, while nftrace --local --tos models a socket with that TOS.
    if frm != "router" and r.random() < 0.15:
        pr["tos"] = r.choice(["0x10", "0x08", "0x28"])
    if r.random() < 0.15:
        pr["data"] = r.choice([1, 12, 100])
    return pr


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


def sysctls(rng: random.Random) -> dict[str, str]:
    return {k: rng.choice(vs) for k, vs in SYSCTLS if rng.random() < 1 / 6}


def scenario_toml(description: str, probes: list[dict], sysctl: dict[str, str]) -> str:
    table = ", ".join(f"{_toml_value(k)} = {_toml_value(v)}" for k, v in sysctl.items())
    out = [f"description = {_toml_value(description)}", "", "[router]",
           f"routes = {_toml_value(ROUTES)}", f"rules = {_toml_value(IP_RULES)}",
           f"sysctls = {{ {table} }}", ""]
    for name, addr, peer, paddr in IFACES:
        # The peer holds a /32 and reaches everything via the router, so even
        # probes to its own /24 cross the router (hairpin forwarding).
        routes = [f"{addr} dev eth0 scope link", f"default via {addr}"]
        addrs = [f"{addr}/24"] + ([f"{SECONDARY[1]}/24"] if name == SECONDARY[0] else [])
        out += ["[[router.interfaces]]", f'name = "{name}"', f"addrs = {_toml_value(addrs)}",
                f'peer = "{peer}"', f'peer_addrs = ["{paddr}/32"]',
                f"peer_routes = {_toml_value(routes)}", ""]
    for pr in probes:
        out.append("[[probe]]")
        out += [f"{k} = {_toml_value(v)}" for k, v in pr.items()]
        out.append("")
    return "\n".join(out)


def scenario(seed: str, probes: int) -> tuple[str, str]:
    """(scenario.toml text, ruleset.rules text) for one seed."""
    rng = random.Random(seed)
    rules = Gen(rng).ruleset()
    prs = [probe(rng, i) for i in range(probes)]
    desc = f"recorder/difftest.py random scenario, seed {seed}"
    return scenario_toml(desc, prs, sysctls(rng)), rules


def scenario_toml_from(scen: dict, probes: list[dict]) -> str:
    """scenario.toml text for a parsed generated scenario with other probes
    (the topology is always the fixed one above)."""
    sysctl = {k: str(v) for k, v in scen.get("router", {}).get("sysctls", {}).items()}
    return scenario_toml(scen.get("description", ""), probes, sysctl)


# --------------------------------------------------------------------------
# follow-up probes, derived from what the kernel recorded

SUBNET_PEER = {"10.0.1.": "lan", "10.0.2.": "wan", "10.0.4.": "wan", "10.0.3.": "dmz"}


def _arg(rec: dict, flag: str) -> str | None:
    args = rec["nftrace_args"]
    return args[args.index(flag) + 1] if flag in args else None


def _entry(pr: dict, rec: dict) -> dict | None:
    """The original/reply tuples of the conntrack entry the probe made."""
    want = (_arg(rec, "-s"), pr["dst"], str(pr.get("sport")), str(pr.get("dport")))
    for line in rec["conntrack"]:
        words = [w.split("=", 1) for w in line.split() if "=" in w]
        keys = [(k, v) for k, v in words if k in ("src", "dst", "sport", "dport")]
        if len(keys) < 8:
            continue
        orig = tuple(v for _, v in keys[:4])
        if orig == want:
            return {k: v for k, v in keys[4:8]}
    return None


def _sender(addr: str) -> tuple[str, str | None] | None:
    """(from, src) of a probe sourced from addr: the router, a peer, or None."""
    if addr in ROUTER_ADDRS or addr.startswith("127."):
        return "router", addr
    for prefix, peer in SUBNET_PEER.items():
        if addr.startswith(prefix):
            own = next(a for _, _, p, a in IFACES if p == peer)
            return peer, (None if addr == own else addr)
    return None


class FollowUps:
    """`follow` callback of record.record_scenario: probes sent right after a
    probe without flushing conntrack.  After a TCP/UDP probe: the reply its
    kernel conntrack entry expects (from whoever owns the reply source), then
    maybe one more original-direction packet; or the same packet again."""

    def __init__(self, seed: str):
        self.seed = seed
        self.orig: dict[str, dict] = {}   # reply probe name -> the probe it answers

    def __call__(self, pr: dict, rec: dict) -> list[dict]:
        rng = random.Random(f"{self.seed}-{pr['name']}")
        name = pr["name"]
        if name in self.orig:
            if rng.random() >= 0.5:
                return []
            again = dict(self.orig[name], name=name[:-1] + "a", keep_conntrack=True)
            if again.get("proto") == "tcp":
                again["flags"] = "A"
            return [again]
        if pr.get("proto") not in ("tcp", "udp") or pr.get("keep_conntrack"):
            return []
        x = rng.random()
        if x < 0.15:
            return [dict(pr, name=name + "a", keep_conntrack=True)]
        reply = _entry(pr, rec)
        if x > 0.65 or reply is None:
            return []
        return self.reply(pr, reply)

    def reply(self, pr: dict, reply: dict) -> list[dict]:
        sender = _sender(reply["src"])
        own = {p: a for _, _, p, a in IFACES}
        if sender is None or own.get(sender[0]) == reply["dst"]:
            return []   # a peer's packet to its own address never leaves it
        if sender[0] != "router" and reply["dst"].startswith("127."):
            return []   # nor does one to 127/8 (the peer's own loopback)
        out = {"name": pr["name"] + "r", "from": sender[0]}
        if sender[1] is not None:
            out["src"] = sender[1]
        out |= {"dst": reply["dst"], "proto": pr["proto"], "sport": int(reply["sport"]),
                "dport": int(reply["dport"])}
        if pr["proto"] == "tcp":
            out["flags"] = "SA" if "S" in pr.get("flags", "S") else "A"
        out["keep_conntrack"] = True
        self.orig[out["name"]] = {k: v for k, v in pr.items() if k != "name"}
        return [out]
