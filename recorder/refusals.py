#!/usr/bin/env python3
"""Which small rulesets the kernel refuses on a real iptables-restore.

Each case in CASES is a whole iptables-restore input. It is loaded with
`iptables-legacy-restore` into a fresh network namespace (a real restore: the
kernel runs translate_table, mark_source_chains and every checkentry; `--test`
would not ask the kernel). The verdict (accept/refuse) and the tool's message
are written to fixtures/kernel-refusals.json, which tests/it/refusals.rs
replays through nftrace's parser: nftrace must accept exactly what the kernel
accepts, and point a refusal at the case's `line`.

    recorder/refusals.py            # needs root; Python 3 stdlib only
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "fixtures" / "kernel-refusals.json"
NS = f"nftrace-refusals-{os.getpid()}"


def nat(body: str, chains: str = "") -> str:
    head = "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n"
    return head + chains + body + "COMMIT\n"


def filt(body: str, chains: str = "") -> str:
    head = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
    return head + chains + body + "COMMIT\n"


def mangle(body: str, chains: str = "") -> str:
    head = (
        "*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n"
        ":OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n"
    )
    return head + chains + body + "COMMIT\n"


def raw(body: str, chains: str = "") -> str:
    head = "*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
    return head + chains + body + "COMMIT\n"


DNAT = "-j DNAT --to-destination 10.0.0.1\n"
SNAT = "-j SNAT --to-source 10.0.0.1\n"
U = ":U - [0:0]\n"
V = ":V - [0:0]\n"

# (name, dump, line of the offending rule in the dump or None when accepted)
# Line numbers: nat()/filt() heads are 5/4 lines, mangle() 6, raw() 3, plus the chain lines.
CASES: list[tuple[str, str, int | None]] = [
    ("dnat-prerouting", nat("-A PREROUTING " + DNAT), None),
    ("dnat-output", nat("-A OUTPUT " + DNAT), None),
    ("dnat-postrouting", nat("-A POSTROUTING " + DNAT), 6),
    ("dnat-input", nat("-A INPUT " + DNAT), 6),
    ("dnat-in-filter", filt("-A FORWARD " + DNAT), 5),
    ("dnat-in-filter-unreached-user-chain", filt("-A U " + DNAT, U), 6),
    ("dnat-in-mangle-prerouting", mangle("-A PREROUTING " + DNAT), 7),
    ("snat-postrouting", nat("-A POSTROUTING " + SNAT), None),
    ("snat-input", nat("-A INPUT " + SNAT), None),
    ("snat-prerouting", nat("-A PREROUTING " + SNAT), 6),
    ("snat-output", nat("-A OUTPUT " + SNAT), 6),
    ("masquerade-postrouting", nat("-A POSTROUTING -j MASQUERADE\n"), None),
    ("masquerade-input", nat("-A INPUT -j MASQUERADE\n"), 6),
    ("masquerade-in-filter-output", filt("-A OUTPUT -j MASQUERADE\n"), 5),
    ("redirect-prerouting", nat("-A PREROUTING -p tcp -j REDIRECT --to-ports 8080\n"), None),
    ("redirect-output", nat("-A OUTPUT -p tcp -j REDIRECT --to-ports 8080\n"), None),
    ("redirect-postrouting", nat("-A POSTROUTING -p tcp -j REDIRECT --to-ports 8080\n"), 6),
    ("netmap-all-nat-hooks", nat("-A PREROUTING -j NETMAP --to 10.1.0.0/24\n-A POSTROUTING -j NETMAP --to 10.1.0.0/24\n"), None),
    ("netmap-in-filter", filt("-A INPUT -j NETMAP --to 10.1.0.0/24\n"), 5),
    ("reject-filter-input", filt("-A INPUT -j REJECT\n"), None),
    ("reject-mangle-input", mangle("-A INPUT -j REJECT\n"), 7),
    ("reject-mangle-prerouting", mangle("-A PREROUTING -j REJECT\n"), 7),
    ("reject-mangle-postrouting", mangle("-A POSTROUTING -j REJECT\n"), 7),
    ("reject-raw-prerouting", raw("-A PREROUTING -j REJECT\n"), 4),
    ("reject-nat-output", nat("-A OUTPUT -j REJECT\n"), 6),
    ("reject-tcp-reset-without-p-tcp", filt("-A INPUT -j REJECT --reject-with tcp-reset\n"), 5),
    ("reject-tcp-reset-with-p-tcp", filt("-A INPUT -p tcp -j REJECT --reject-with tcp-reset\n"), None),
    ("user-chain-dnat-from-prerouting", nat("-A PREROUTING -j U\n-A U " + DNAT, U), None),
    ("user-chain-dnat-from-prerouting-and-output", nat("-A PREROUTING -j U\n-A OUTPUT -j U\n-A U " + DNAT, U), None),
    ("user-chain-dnat-from-postrouting", nat("-A POSTROUTING -j U\n-A U " + DNAT, U), 8),
    ("user-chain-dnat-from-prerouting-and-postrouting", nat("-A PREROUTING -j U\n-A POSTROUTING -j U\n-A U " + DNAT, U), 9),
    ("user-chain-dnat-two-levels-from-postrouting", nat("-A POSTROUTING -j U\n-A U -j V\n-A V " + DNAT, U + V), 10),
    ("user-chain-dnat-goto-from-postrouting", nat("-A POSTROUTING -g U\n-A U " + DNAT, U), 8),
    ("user-chain-dnat-unreached", nat("-A U " + DNAT, U), None),
    ("user-chain-snat-from-input-and-postrouting", nat("-A INPUT -j U\n-A POSTROUTING -j U\n-A U " + SNAT, U), None),
    ("user-chain-reject-from-filter-hooks", filt("-A INPUT -j U\n-A FORWARD -j U\n-A OUTPUT -j U\n-A U -j REJECT\n", U), None),
    ("user-chain-reject-from-mangle-prerouting", mangle("-A PREROUTING -j U\n-A U -j REJECT\n", U), 9),
    ("policy-on-user-chain", filt("", ":U ACCEPT [0:0]\n"), 5),
    ("unknown-chain-target", filt("-A INPUT -j NOPE\n"), 5),
    ("jump-to-builtin-chain", filt("-A INPUT -j OUTPUT\n"), 5),
    ("unreached-chain-jumps-to-itself", filt("-A U -j U\n", U), None),
    ("unreached-jump-loop-two-chains", filt("-A U -j V\n-A V -j U\n", U + V), None),
    ("chain-jumps-to-itself", filt("-A INPUT -j U\n-A U -j U\n", U), 7),
    ("jump-loop-two-chains", filt("-A FORWARD -j U\n-A U -j V\n-A V -j U\n", U + V), 9),
    ("goto-loop-two-chains", filt("-A OUTPUT -g U\n-A U -g V\n-A V -g U\n", U + V), 9),
    ("jump-loop-in-nat", nat("-A OUTPUT -j U\n-A U -j U\n", U), 8),
    ("tcp-match-without-p-tcp", filt("-A INPUT -m tcp --dport 22 -j ACCEPT\n"), 5),
    ("udp-match-with-p-tcp", filt("-A INPUT -p tcp -m udp --dport 53 -j ACCEPT\n"), 5),
    ("multiport-without-p", filt("-A INPUT -m multiport --dports 22,80 -j ACCEPT\n"), 5),
    ("multiport-with-p-udp", filt("-A INPUT -p udp -m multiport --dports 53,123 -j ACCEPT\n"), None),
    ("icmp-match-without-p-icmp", filt("-A INPUT -m icmp --icmp-type 8 -j ACCEPT\n"), 5),
    ("tcp-match-with-inverted-p", filt("-A INPUT ! -p tcp -m tcp --dport 22 -j ACCEPT\n"), 5),
    ("mac-in-output", filt("-A OUTPUT -m mac --mac-source 02:00:00:00:00:01 -j ACCEPT\n"), 5),
    ("mac-in-input", filt("-A INPUT -m mac --mac-source 02:00:00:00:00:01 -j ACCEPT\n"), None),
    ("in-iface-in-output", filt("-A OUTPUT -i eth0 -j ACCEPT\n"), 5),
    ("out-iface-in-input", filt("-A INPUT -o eth0 -j ACCEPT\n"), 5),
    ("out-iface-in-prerouting", nat("-A PREROUTING -o eth0 -j ACCEPT\n"), 6),
    ("in-iface-in-postrouting", nat("-A POSTROUTING -i eth0 -j MASQUERADE\n"), 6),
    ("in-iface-in-user-chain-from-output", filt("-A OUTPUT -j U\n-A U -i eth0 -j ACCEPT\n", U), None),
    ("mark-in-filter", filt("-A INPUT -j MARK --set-xmark 0x1/0xffffffff\n"), None),
    ("ttl-in-filter", filt("-A INPUT -j TTL --ttl-set 64\n"), 5),
    ("ttl-in-mangle", mangle("-A PREROUTING -j TTL --ttl-set 64\n"), None),
    ("tos-target-in-filter", filt("-A INPUT -j TOS --set-tos 0x10/0xff\n"), 5),
    ("dscp-target-in-filter", filt("-A INPUT -j DSCP --set-dscp 10\n"), 5),
    ("dscp-target-in-mangle", mangle("-A FORWARD -j DSCP --set-dscp 10\n"), None),
    ("notrack-in-filter", filt("-A INPUT -j NOTRACK\n"), 5),
    ("notrack-in-raw", raw("-A PREROUTING -j NOTRACK\n"), None),
    ("ct-in-mangle", mangle("-A PREROUTING -j CT --notrack\n"), 7),
    ("trace-in-filter", filt("-A INPUT -j TRACE\n"), 5),
    ("trace-in-raw", raw("-A PREROUTING -j TRACE\n"), None),
    ("log-in-raw", raw("-A PREROUTING -j LOG\n"), None),
    ("classify-in-filter-input", filt("-A INPUT -j CLASSIFY --set-class 1:1\n"), 5),
    ("classify-in-filter-output", filt("-A OUTPUT -j CLASSIFY --set-class 1:1\n"), None),
    ("checksum-in-filter", filt("-A OUTPUT -p udp -j CHECKSUM --checksum-fill\n"), 5),
    ("checksum-in-mangle", mangle("-A POSTROUTING -p udp -j CHECKSUM --checksum-fill\n"), None),
    ("tproxy-in-nat", nat("-A PREROUTING -p tcp -j TPROXY --on-port 3128\n"), 6),
    ("tproxy-in-mangle-prerouting", mangle("-A PREROUTING -p tcp -j TPROXY --on-port 3128\n"), None),
    ("tee-in-filter", filt("-A INPUT -j TEE --gateway 10.0.0.1\n"), None),
    ("ecn-in-filter", filt("-A INPUT -p tcp -j ECN --ecn-tcp-remove\n"), 5),
    ("owner-in-input", filt("-A INPUT -m owner --uid-owner 0 -j ACCEPT\n"), 5),
    ("owner-in-output", filt("-A OUTPUT -m owner --uid-owner 0 -j ACCEPT\n"), None),
    ("connmark-left-shift-31", mangle("-A PREROUTING -j CONNMARK --save-mark --left-shift-mark 31\n"), None),
    ("connmark-left-shift-32", mangle("-A PREROUTING -j CONNMARK --save-mark --left-shift-mark 32\n"), 7),
    ("connmark-right-shift-32", mangle("-A PREROUTING -j CONNMARK --restore-mark --right-shift-mark 32\n"), 7),
    ("connmark-set-xmark-right-shift-31", mangle("-A PREROUTING -j CONNMARK --set-xmark 0x1/0x1 --right-shift-mark 31\n"), None),
    ("owner-in-user-chain-from-input", filt("-A INPUT -j U\n-A U -m owner --uid-owner 0 -j ACCEPT\n", U), 7),
    ("addrtype-limit-iface-in-output", filt("-A OUTPUT -m addrtype --dst-type LOCAL --limit-iface-in -j ACCEPT\n"), 5),
    ("addrtype-limit-iface-out-input", filt("-A INPUT -m addrtype --dst-type LOCAL --limit-iface-out -j ACCEPT\n"), 5),
    ("addrtype-limit-iface-in-input", filt("-A INPUT -m addrtype --dst-type LOCAL --limit-iface-in -j ACCEPT\n"), None),
    ("rpfilter-in-filter", filt("-A INPUT -m rpfilter -j ACCEPT\n"), 5),
    ("rpfilter-in-raw-prerouting", raw("-A PREROUTING -m rpfilter --invert -j DROP\n"), None),
    ("rpfilter-in-mangle-output", mangle("-A OUTPUT -m rpfilter -j DROP\n"), 7),
    ("socket-in-output", mangle("-A OUTPUT -m socket -j ACCEPT\n"), 7),
    ("socket-in-prerouting", mangle("-A PREROUTING -m socket -j ACCEPT\n"), None),
    ("policy-dir-in-from-output", filt("-A OUTPUT -m policy --dir in --pol ipsec -j ACCEPT\n"), 5),
    ("policy-dir-out-from-input", filt("-A INPUT -m policy --dir out --pol ipsec -j ACCEPT\n"), 5),
    ("policy-dir-in-from-input", filt("-A INPUT -m policy --dir in --pol ipsec -j ACCEPT\n"), None),
    ("sctp-match-without-p-sctp", filt("-A INPUT -m sctp --dport 80 -j ACCEPT\n"), 5),
    ("esp-match-without-p-esp", filt("-A INPUT -m esp --espspi 1 -j ACCEPT\n"), 5),
    ("esp-match-with-p-esp", filt("-A INPUT -p esp -m esp --espspi 1 -j ACCEPT\n"), None),
    ("ah-match-without-p-ah", filt("-A INPUT -m ah --ahspi 1 -j ACCEPT\n"), 5),
    ("dccp-match-without-p-dccp", filt("-A INPUT -m dccp --dport 1 -j ACCEPT\n"), 5),
    ("dccp-match-with-p-dccp", filt("-A INPUT -p dccp -m dccp --dport 1 -j ACCEPT\n"), None),
    ("physdev-out-bridged-in-output", filt("-A OUTPUT -m physdev --physdev-out eth0 --physdev-is-bridged -j ACCEPT\n"), None),
    ("rpfilter-in-user-chain-from-prerouting-and-input", mangle("-A PREROUTING -j U\n-A INPUT -j U\n-A U -m rpfilter -j DROP\n", U), 10),
    ("tcpmss-match-without-p-tcp", filt("-A INPUT -m tcpmss --mss 1000:1500 -j ACCEPT\n"), 5),
    ("physdev-out-in-output", filt("-A OUTPUT -m physdev --physdev-out eth0 -j ACCEPT\n"), 5),
    ("physdev-out-in-forward", filt("-A FORWARD -m physdev --physdev-out eth0 -j ACCEPT\n"), None),
    ("tcpmss-target-in-input", mangle("-A INPUT -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu\n"), 7),
    ("tcpmss-target-in-forward", mangle("-A FORWARD -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu\n"), None),
    ("tcpmss-target-without-p-tcp", mangle("-A FORWARD -j TCPMSS --clamp-mss-to-pmtu\n"), 7),
    ("dnat-port-without-p", nat("-A PREROUTING -j DNAT --to-destination 10.0.0.1:80\n"), 6),
    ("dnat-port-with-p-icmp", nat("-A PREROUTING -p icmp -j DNAT --to-destination 10.0.0.1:80\n"), None),
    ("dnat-port-with-p-gre", nat("-A PREROUTING -p gre -j DNAT --to-destination 10.0.0.1:80\n"), 6),
    ("dnat-port-with-inverted-p-tcp", nat("-A PREROUTING ! -p tcp -j DNAT --to-destination 10.0.0.1:80\n"), None),
    ("dnat-port-with-p-sctp", nat("-A PREROUTING -p sctp -j DNAT --to-destination 10.0.0.1:80\n"), None),
    ("snat-port-with-p-udp", nat("-A POSTROUTING -p udp -j SNAT --to-source 10.0.0.1:1000-2000\n"), None),
    ("snat-port-without-p", nat("-A POSTROUTING -j SNAT --to-source 10.0.0.1:1000-2000\n"), 6),
    ("redirect-without-p", nat("-A PREROUTING -j REDIRECT\n"), None),
    ("redirect-to-ports-without-p", nat("-A PREROUTING -j REDIRECT --to-ports 8080\n"), 6),
    ("masquerade-to-ports-without-p", nat("-A POSTROUTING -j MASQUERADE --to-ports 1000-2000\n"), 6),
    ("masquerade-to-ports-with-p-tcp", nat("-A POSTROUTING -p tcp -j MASQUERADE --to-ports 1000-2000\n"), None),
    ("nat-user-chain-dnat-and-snat-unreached", nat("-A U " + DNAT + "-A U " + SNAT, U), None),
]


def sh(*argv: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, input=stdin, capture_output=True, text=True)


def load(dump: str) -> tuple[str, str]:
    """Restores `dump` into a fresh namespace; returns (verdict, message)."""
    sh("ip", "netns", "del", NS)
    made = sh("ip", "netns", "add", NS)
    if made.returncode != 0:
        sys.exit(f"ip netns add failed (root needed): {made.stderr}")
    try:
        r = sh("ip", "netns", "exec", NS, "iptables-legacy-restore", stdin=dump)
        verdict = "accept" if r.returncode == 0 else "refuse"
        return verdict, (r.stderr + r.stdout).strip()
    finally:
        sh("ip", "netns", "del", NS)


def version() -> str:
    return sh("iptables-legacy-restore", "--version").stdout.strip()


def main() -> None:
    results = []
    for name, dump, line in CASES:
        verdict, message = load(dump)
        expected = "accept" if line is None else "refuse"
        mark = "" if verdict == expected else "   <-- differs from the case's line"
        print(f"{verdict:7} {name}{mark}")
        results.append(
            {"name": name, "dump": dump, "line": line, "kernel": verdict, "message": message}
        )
    doc = {
        "recorded_with": {"kernel": platform.release(), "iptables": version()},
        "cases": results,
    }
    OUT.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {OUT.relative_to(REPO)} ({len(results)} cases)")


if __name__ == "__main__":
    main()
