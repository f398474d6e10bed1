#!/bin/sh
# Records `ip addr|route|rule` in their optional forms (-o, -d, -s, -br, -4)
# from one scratch namespace into fixtures/ip-forms/, so tests can check that
# every form nftrace reads gives the same model as the plain one
# (tests/it/ip_forms.rs). Needs root and iproute2.
set -eu
out="$(dirname "$0")/../fixtures/ip-forms"
ns="nftrace-ipforms-$$"
ip netns add "$ns"
trap 'ip netns del "$ns"' EXIT
n() { ip -n "$ns" "$@"; }
n link add br0 type bridge
n link add v0 type veth peer name v1
for l in lo br0 v0 v1; do n link set "$l" up; done
n addr add 10.0.0.1/24 dev v1
n addr add 10.0.0.2/24 dev v1
n addr add 10.1.0.1 peer 10.1.0.2/32 dev v0
n addr add 10.2.0.1/24 dev br0 label br0:x
n addr add fd00::1/64 dev v1
n route add 192.168.0.0/16 via 10.0.0.254 table 100
n route add blackhole 10.9.0.0/16
n route add 172.16.0.0/12 nexthop via 10.0.0.253 weight 1 nexthop via 10.0.0.252 weight 2
n route add 10.3.0.0/16 via 10.0.0.254 metric 50 mtu 1400
n rule add fwmark 0x1/0xff lookup 100 pref 100
n rule add from 10.0.0.0/24 iif v1 lookup 100 pref 200
mkdir -p "$out"
uname -r > "$out/KERNEL"
ip -V >> "$out/KERNEL"
for form in "" "-d" "-s" "-s -s" "-d -s" "-o" "-o -d" "-4"; do
    name=$(echo "plain $form" | tr -d ' -' | sed 's/^plain$/plain/; s/^plain//')
    [ -n "$name" ] || name=plain
    n $form addr show > "$out/addr-$name.txt"
    n $form route show table all > "$out/route-$name.txt"
    n $form rule show > "$out/rule-$name.txt"
done
n -br addr show > "$out/addr-br.txt"
echo "wrote $out"
