//! `nftrace lint` and `nftrace search`: argument handling and exit codes.

use std::net::Ipv4Addr;

use anyhow::{bail, Context, Result};

use super::args::{LintArgs, ReportFormat, SearchArgs, SearchVerdict};
use crate::analysis::lint;
use crate::analysis::search::{self, Goal, Intervals, Region, SearchOptions};
use crate::model::Host;
use crate::render;
use crate::trace::assume::AssumeConfig;
use crate::trace::event::Verdict;
use crate::trace::TraceOptions;

/// `nftrace lint`: exit 1 when a finding at or above `--fail-on` exists.
pub(super) fn run_lint(a: &LintArgs) -> Result<(String, u8)> {
    let host = super::load(&a.input)?;
    let findings = lint::lint(&host);
    let failing = findings.iter().any(|f| f.level >= a.fail_on);
    let text = match a.format {
        ReportFormat::Human => render::analysis::lint_human(&findings),
        ReportFormat::Json => {
            serde_json::to_string_pretty(&serde_json::json!({
                "version": 1,
                "findings": findings,
            }))? + "\n"
        }
    };
    Ok((text, u8::from(failing)))
}

/// `nftrace search`: exit 0 when some class reaches the goal, 1 when none does.
pub(super) fn run_search(a: &SearchArgs) -> Result<(String, u8)> {
    let host = super::load(&a.input)?;
    let start = start_region(&host, a)?;
    let goal = Goal {
        verdict: a.verdict.map(|v| match v {
            SearchVerdict::Accept => Verdict::Accept,
            SearchVerdict::Drop => Verdict::Drop,
        }),
        via: a.via.clone(),
        to: a.to.as_deref().map(to_addr).transpose()?,
    };
    let opts = SearchOptions {
        trace: TraceOptions {
            assume: AssumeConfig::parse(&a.assume).map_err(anyhow::Error::msg)?,
            force_ctstate: a.ctstate,
            ..TraceOptions::default()
        },
        tcp_flags: crate::probe::tcp_flags(&a.tcp_flags)?,
        mark: parse_mark(&a.mark)?,
        max_traces: a.max_traces,
    };
    let result = search::search(&host, start.clone(), &goal, &opts);
    let found = !result.classes.is_empty();
    let text = match a.format {
        ReportFormat::Human => render::analysis::search_human(&result, &start, &goal),
        ReportFormat::Json => {
            serde_json::to_string_pretty(&serde_json::json!({
                "version": 1,
                "query": search::describe(&start).into_iter().collect::<std::collections::BTreeMap<_, _>>(),
                "result": result,
            }))? + "\n"
        }
    };
    Ok((text, u8::from(!found)))
}

/// The region the flags describe.
fn start_region(host: &Host, a: &SearchArgs) -> Result<Region> {
    let iif = if a.local {
        vec![None]
    } else if a.from_iif.is_empty() {
        host.routing
            .links
            .iter()
            .filter(|l| l.name != "lo")
            .map(|l| Some(l.name.clone()))
            .collect()
    } else {
        a.from_iif.iter().cloned().map(Some).collect()
    };
    if iif.is_empty() {
        bail!("no interface to explore: the bundle has no ip addr dump; give --from-iif IFACE or --local");
    }
    let mut protos: Vec<(u32, u32)> = a
        .proto
        .split(',')
        .map(|p| crate::probe::proto_number(p.trim()).map(|n| (n.into(), n.into())))
        .collect::<Result<_>>()?;
    protos.sort_unstable();
    protos.dedup();
    let src = match (&a.src, a.local) {
        (Some(s), _) => net(s, "-s/--src")?,
        // A local packet's source is chosen by the output route.
        (None, true) => vec![(0, 0)],
        (None, false) => vec![(0, u32::MAX)],
    };
    Ok(Region {
        iif,
        src,
        dst: a
            .dst
            .as_deref()
            .map_or(Ok(vec![(0, u32::MAX)]), |d| net(d, "-d/--dst"))?,
        proto: protos,
        sport: ports(a.sport.as_deref(), "--sport")?,
        dport: ports(a.dport.as_deref(), "--dport")?,
        icmp: vec![(0, 0xffff)],
    })
}

fn net(text: &str, flag: &str) -> Result<Intervals> {
    let n: ipnet::Ipv4Net = match text.parse() {
        Ok(n) => n,
        Err(_) => text
            .parse::<Ipv4Addr>()
            .map(ipnet::Ipv4Net::from)
            .with_context(|| format!("{flag} takes ADDR or ADDR/LEN, found {text:?}"))?,
    };
    Ok(vec![(n.network().into(), n.broadcast().into())])
}

fn ports(text: Option<&str>, flag: &str) -> Result<Intervals> {
    let Some(text) = text else {
        return Ok(vec![(0, 0xffff)]);
    };
    let parse = |p: &str| {
        p.parse::<u16>()
            .with_context(|| format!("{flag} takes PORT or FIRST:LAST, found {text:?}"))
    };
    let (a, b) = match text.split_once(':') {
        Some((a, b)) => (parse(a)?, parse(b)?),
        None => (parse(text)?, parse(text)?),
    };
    if a > b {
        bail!("{flag}: {a} is above {b}");
    }
    Ok(vec![(a.into(), b.into())])
}

fn to_addr(text: &str) -> Result<(Ipv4Addr, Option<u16>)> {
    let (addr, port) = match text.rsplit_once(':') {
        Some((a, p)) => (
            a,
            Some(
                p.parse::<u16>()
                    .with_context(|| format!("--to: {p:?} is not a port"))?,
            ),
        ),
        None => (text, None),
    };
    let addr = addr
        .parse()
        .with_context(|| format!("--to takes ADDR[:PORT], found {text:?}"))?;
    Ok((addr, port))
}

fn parse_mark(text: &str) -> Result<u32> {
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed.with_context(|| format!("--mark takes a number (decimal or 0x hex), found {text:?}"))
}
