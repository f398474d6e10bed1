#!/bin/sh
# Runs one fuzz target for a bounded time, or every target one after the other.
#
#   fuzz/run.sh TARGET [SECONDS]     # default 60 s
#   fuzz/run.sh all [SECONDS]        # each target in turn
#   fuzz/run.sh cmin TARGET          # shrink TARGET's committed corpus
#
# Stable toolchain: cargo-fuzz needs nightly flags, so RUSTC_BOOTSTRAP=1 lets
# stable accept them. One job, so the machine stays usable. New inputs go to
# fuzz/corpus/TARGET (commit them after `cmin`); crashes to fuzz/artifacts/.
set -eu
cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1
TARGETS="iptables_save ip_route ip_rule ip_addr conntrack ipvsadm ipset sysctl trace"
run() {
    mkdir -p "corpus/$1"
    cargo fuzz run "$1" "corpus/$1" -- -max_total_time="$2" -max_len=65536 \
        -rss_limit_mb=2048 -timeout=10 -dict=dict.txt -print_final_stats=1
}
case "${1:-}" in
    all) for t in $TARGETS; do run "$t" "${2:-60}"; done ;;
    cmin) cargo fuzz cmin "$2" "corpus/$2" -- -set_cover_merge=1 -dict=dict.txt ;;
    "") echo "usage: $0 TARGET|all [SECONDS] | cmin TARGET; targets: $TARGETS" >&2; exit 2 ;;
    *) run "$1" "${2:-60}" ;;
esac
