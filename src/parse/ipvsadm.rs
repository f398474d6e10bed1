//! `ipvsadm -Sn` (save form), `ipvsadm -Ln` (listing, with its `--stats`,
//! `--rate`, `--thresholds`, `--persistent-conn` and `--tun-info` columns) and
//! `ipvsadm -Lnc` (connection table, also `/proc/net/ip_vs_conn`).
//!
//! Read first: docs/ipvs.md §Inputs. The printed forms come from ipvsadm.c
//! (`print_title`, `print_service_entry`, `print_conn`). The listing may be
//! pasted without its title lines; the columns are then recognised by their
//! content. Addresses must be numeric: a listing made without `-n` shows
//! reverse-DNS names (`docker0.local:0`) that name no address offline, so they
//! are reported as errors (nftrace does not resolve names).

use std::net::Ipv4Addr;

use super::{ParseError, ParseErrors};
use crate::model::ipvs::{
    svc_flag, ConnProto, Dest, FwdMethod, IpvsConn, IpvsConnTable, IpvsProto, Scheduler, Service,
    ServiceKey,
};

/// What an `ipvsadm` dump yields.
#[derive(Debug, Clone, Default)]
pub struct IpvsDump {
    /// Services in dump order, each with its real servers.
    pub services: Vec<Service>,
    /// What was assumed while reading (e.g. a forwarding method the columns do not show).
    pub notes: Vec<String>,
}

/// Parses `ipvsadm -Sn` or `ipvsadm -Ln` output (the two may even be mixed).
pub fn parse(file: &str, text: &str) -> Result<IpvsDump, ParseErrors> {
    let mut p = Parser {
        file,
        dump: IpvsDump::default(),
        layout: None,
        current: None,
        errors: Vec::new(),
    };
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end();
        if !line.trim().is_empty() {
            p.line(i + 1, line);
        }
    }
    if p.errors.is_empty() {
        Ok(p.dump)
    } else {
        Err(ParseErrors(p.errors))
    }
}

/// The column layout of `ipvsadm -L` (`print_title`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// `Forward Weight ActiveConn InActConn`
    Default,
    /// `Forward TunnelInfo Weight ActiveConn InActConn` (`--tun-info`)
    TunInfo,
    /// `Conns InPkts OutPkts InBytes OutBytes` (`--stats`) or the `--rate` columns
    Counters,
    /// `Uthreshold Lthreshold ActiveConn InActConn` (`--thresholds`)
    Thresholds,
    /// `Weight PersistConn ActiveConn InActConn` (`--persistent-conn`)
    PersistConn,
}

struct Parser<'f> {
    file: &'f str,
    dump: IpvsDump,
    layout: Option<Layout>,
    /// Index of the service the following `->` lines belong to (`None` after a bad service line).
    current: Option<usize>,
    errors: Vec<ParseError>,
}

/// One line being read.
type Cx<'a> = super::LineCtx<'a>;

impl Parser<'_> {
    fn line(&mut self, n: usize, text: &str) {
        let cx = Cx {
            file: self.file,
            line: n,
            text,
        };
        let words: Vec<&str> = text.split_whitespace().collect();
        let result = match words[0] {
            "IP" if text.starts_with("IP Virtual Server version") => Ok(()),
            "Prot" => {
                self.title(text);
                Ok(())
            }
            "->" if words.get(1).is_some_and(|w| w.starts_with("RemoteAddress")) => {
                self.title(text);
                Ok(())
            }
            "->" => self.listed_dest(&cx, &words),
            "TCP" | "UDP" | "SCTP" | "FWM" => self.listed_service(&cx, &words),
            "-A" | "--add-service" => self.save_service(&cx, &words),
            "-a" | "--add-server" => self.save_dest(&cx, &words),
            w => Err(cx.err(
                w,
                "an ipvsadm -Sn line (-A/-a) or an ipvsadm -Ln line (TCP/UDP/SCTP/FWM, ->)",
            )),
        };
        if let Err(e) = result {
            self.errors.push(e);
        }
    }

    /// Reads the column layout from a title line.
    fn title(&mut self, text: &str) {
        let layout = if text.contains("Conns") || text.contains("CPS") {
            Layout::Counters
        } else if text.contains("Uthreshold") {
            Layout::Thresholds
        } else if text.contains("PersistConn") {
            Layout::PersistConn
        } else if text.contains("TunnelInfo") {
            Layout::TunInfo
        } else if text.contains("Forward") {
            Layout::Default
        } else {
            return;
        };
        self.layout = Some(layout);
    }

    fn push_service(&mut self, svc: Service) {
        self.dump.services.push(svc);
        self.current = Some(self.dump.services.len() - 1);
    }

    /// `TCP  10.96.0.1:443 rr persistent 10800`, `FWM  1 rr`, or with counter columns.
    fn listed_service(&mut self, cx: &Cx, words: &[&str]) -> Result<(), ParseError> {
        self.current = None;
        let (key, rest) = listed_key(cx, words)?;
        let mut svc = Service::new(key, Scheduler::Wlc);
        svc.line = cx.line;
        if self.counters_layout(rest) {
            // --stats / --rate: no scheduler or flags are shown.
            svc.scheduler = Scheduler::Unknown("?".into());
            self.dump.notes.push(format!(
                "{}:{}: the --stats/--rate listing shows no scheduler for {key}",
                cx.file, cx.line
            ));
        } else {
            listed_options(cx, rest, &mut svc)?;
        }
        self.push_service(svc);
        Ok(())
    }

    /// True when the line's columns are the numeric counters of `--stats`/`--rate`.
    fn counters_layout(&self, rest: &[&str]) -> bool {
        match self.layout {
            Some(l) => l == Layout::Counters,
            None => rest.first().is_some_and(|w| is_counter(w)),
        }
    }

    /// `  -> 10.0.0.5:6443 Masq 1 0 0` and the other column layouts.
    fn listed_dest(&mut self, cx: &Cx, words: &[&str]) -> Result<(), ParseError> {
        let Some(idx) = self.current else {
            return Err(cx.err(words[0], "a service line before its real servers"));
        };
        let addr_word = words.get(1).ok_or_else(|| cx.end("RemoteAddress:Port"))?;
        let (addr, port) = addr_port(cx, addr_word, true)?;
        let cols = &words[2..];
        let layout = self.layout.unwrap_or_else(|| guess_dest_layout(cols));
        let mut d = Dest::new(addr, port, FwdMethod::Masq);
        d.line = cx.line;
        self.dest_columns(cx, layout, cols, &mut d)?;
        self.dump.services[idx].dests.push(d);
        Ok(())
    }

    fn dest_columns(
        &mut self,
        cx: &Cx,
        layout: Layout,
        cols: &[&str],
        d: &mut Dest,
    ) -> Result<(), ParseError> {
        let want = match layout {
            Layout::Default | Layout::Thresholds | Layout::PersistConn => 4,
            Layout::TunInfo | Layout::Counters => 5,
        };
        if cols.len() < want {
            return Err(cx.end(&format!(
                "{want} columns after the address ({layout:?} listing)"
            )));
        }
        if let Some(extra) = cols.get(want) {
            return Err(cx.err(extra, "end of line"));
        }
        let num = |w: &str| number::<u32>(cx, w, "a number");
        match layout {
            Layout::Default | Layout::TunInfo => {
                d.method = method(cx, cols[0])?;
                let c = if layout == Layout::TunInfo {
                    if d.method == FwdMethod::Tunnel {
                        d.tun_type = Some(cols[1].split(':').next().unwrap_or("").to_string());
                    }
                    &cols[2..]
                } else {
                    &cols[1..]
                };
                d.weight = number::<i32>(cx, c[0], "a weight")?;
                d.active_conns = Some(num(c[1])?);
                d.inact_conns = Some(num(c[2])?);
            }
            Layout::Thresholds => {
                d.u_threshold = num(cols[0])?;
                d.l_threshold = num(cols[1])?;
                d.active_conns = Some(num(cols[2])?);
                d.inact_conns = Some(num(cols[3])?);
                self.note_method(cx);
            }
            Layout::PersistConn => {
                d.weight = number::<i32>(cx, cols[0], "a weight")?;
                d.active_conns = Some(num(cols[2])?);
                d.inact_conns = Some(num(cols[3])?);
                self.note_method(cx);
            }
            Layout::Counters => {
                for w in cols {
                    if !is_counter(w) {
                        return Err(cx.err(w, "a counter (digits, optionally K/M/G/T)"));
                    }
                }
                self.note_method(cx);
            }
        }
        Ok(())
    }

    fn note_method(&mut self, cx: &Cx) {
        self.dump.notes.push(format!(
            "{}:{}: this listing does not show the forwarding method; Masq assumed",
            cx.file, cx.line
        ));
    }

    /// `-A -t VIP:PORT -s SCHED [-p [T]] [-M MASK] [--pe NAME] [-o] [-b FLAGS]`
    fn save_service(&mut self, cx: &Cx, words: &[&str]) -> Result<(), ParseError> {
        self.current = None;
        let mut svc = Service::new(ServiceKey::Fwmark(0), Scheduler::Wlc);
        svc.line = cx.line;
        let mut key = None;
        let mut it = words[1..].iter().copied().peekable();
        while let Some(w) = it.next() {
            if let Some((k, _)) = service_opt(cx, w, &mut it)? {
                key = Some(k);
                continue;
            }
            match w {
                "-s" | "--scheduler" => svc.scheduler = Scheduler::from_name(arg(cx, w, &mut it)?),
                "-p" | "--persistent" => {
                    svc.flags |= svc_flag::PERSISTENT;
                    // ipvsadm: the timeout is optional, 300 s by default.
                    let t = match it.next_if(|t| t.bytes().all(|b| b.is_ascii_digit())) {
                        Some(t) => number(cx, t, "a timeout in seconds")?,
                        None => 300,
                    };
                    svc.timeout = Some(t);
                }
                "-M" | "--netmask" => {
                    let m = arg(cx, w, &mut it)?;
                    svc.netmask = m.parse().map_err(|_| cx.err(m, "a netmask (a.b.c.d)"))?;
                }
                "--pe" => svc.pe = Some(arg(cx, w, &mut it)?.to_string()),
                "-o" | "--ops" => svc.flags |= svc_flag::ONEPACKET,
                "-b" | "--sched-flags" => svc.flags |= sched_flags(cx, arg(cx, w, &mut it)?)?,
                "-6" | "--ipv6" => return Err(cx.err(w, "an IPv4 service (IPv6 is not modelled)")),
                _ => {
                    return Err(cx.err(
                        w,
                        "a service option (-t -u --sctp-service -f -s -p -M --pe -o -b)",
                    ))
                }
            }
        }
        svc.key = key.ok_or_else(|| cx.end("-t, -u, --sctp-service or -f"))?;
        self.push_service(svc);
        Ok(())
    }

    /// `-a -t VIP:PORT -r RIP[:PORT] -m|-g|-i -w W [-x U] [-y L]`
    fn save_dest(&mut self, cx: &Cx, words: &[&str]) -> Result<(), ParseError> {
        let mut key = None;
        let mut server = None;
        let mut d = Dest::new(Ipv4Addr::UNSPECIFIED, 0, FwdMethod::Route);
        d.line = cx.line;
        let mut it = words[1..].iter().copied().peekable();
        while let Some(w) = it.next() {
            if let Some(k) = service_opt(cx, w, &mut it)? {
                key = Some(k);
                continue;
            }
            match w {
                "-r" | "--real-server" => {
                    let a = arg(cx, w, &mut it)?;
                    server = Some(addr_port(cx, a, false).map(|(ip, p)| (ip, p, a))?);
                }
                "-m" | "--masquerading" => d.method = FwdMethod::Masq,
                "-g" | "--gatewaying" => d.method = FwdMethod::Route,
                "-i" | "--ipip" => d.method = FwdMethod::Tunnel,
                "-w" | "--weight" => d.weight = number(cx, arg(cx, w, &mut it)?, "a weight")?,
                "-x" | "--u-threshold" => {
                    d.u_threshold = number(cx, arg(cx, w, &mut it)?, "a connection count")?;
                }
                "-y" | "--l-threshold" => {
                    d.l_threshold = number(cx, arg(cx, w, &mut it)?, "a connection count")?;
                }
                "--tun-type" => d.tun_type = Some(arg(cx, w, &mut it)?.to_string()),
                "--tun-port" => {
                    arg(cx, w, &mut it)?;
                }
                "--tun-nocsum" | "--tun-csum" | "--tun-remcsum" => {}
                _ => {
                    return Err(cx.err(
                        w,
                        "a real-server option (-t -u --sctp-service -f -r -m -g -i -w -x -y)",
                    ))
                }
            }
        }
        let (key, key_word) = key.ok_or_else(|| cx.end("-t, -u, --sctp-service or -f"))?;
        let (addr, port, _) = server.ok_or_else(|| cx.end("-r RIP[:PORT]"))?;
        let idx = self
            .dump
            .services
            .iter()
            .rposition(|s| s.key == key)
            .ok_or_else(|| cx.err(key_word, "a service added by an earlier -A line"))?;
        let svc = &mut self.dump.services[idx];
        d.addr = addr;
        // ipvsadm.c: a real server without a port takes the service port, and
        // for -g/-i on a non-fwmark service the port is forced to the service port.
        d.port = if port == 0
            || (svc.fwmark() == 0 && matches!(d.method, FwdMethod::Route | FwdMethod::Tunnel))
        {
            svc.port()
        } else {
            port
        };
        if d.method == FwdMethod::Tunnel && d.tun_type.is_none() {
            d.tun_type = Some("ipip".into());
        }
        svc.dests.push(d);
        Ok(())
    }
}

/// `-t|-u|--sctp-service ADDR:PORT` or `-f MARK`; `None` when `w` is another option.
fn service_opt<'a>(
    cx: &Cx,
    w: &str,
    it: &mut impl Iterator<Item = &'a str>,
) -> Result<Option<(ServiceKey, &'a str)>, ParseError> {
    let proto = match w {
        "-t" | "--tcp-service" => IpvsProto::Tcp,
        "-u" | "--udp-service" => IpvsProto::Udp,
        "--sctp-service" => IpvsProto::Sctp,
        "-f" | "--fwmark-service" => {
            let m = arg(cx, w, it)?;
            let mark = parse_u32(m).ok_or_else(|| cx.err(m, "an fwmark (a number > 0)"))?;
            return Ok(Some((ServiceKey::Fwmark(mark), m)));
        }
        _ => return Ok(None),
    };
    let a = arg(cx, w, it)?;
    let (vip, port) = addr_port(cx, a, false)?;
    Ok(Some((ServiceKey::Addr { proto, vip, port }, a)))
}

/// The argument of option `opt`.
fn arg<'a>(
    cx: &Cx,
    opt: &str,
    it: &mut impl Iterator<Item = &'a str>,
) -> Result<&'a str, ParseError> {
    it.next()
        .ok_or_else(|| cx.err(opt, &format!("an argument after {opt}")))
}

/// `sh-fallback,sh-port,…` (ipvsadm.c `parse_sched_flags`).
fn sched_flags(cx: &Cx, s: &str) -> Result<u32, ParseError> {
    let mut bits = 0;
    for f in s.split(',') {
        let (_, b) = svc_flag::NAMES
            .iter()
            .find(|(n, _)| *n == f)
            .ok_or_else(|| {
                cx.err(
                    s,
                    "scheduler flags (sh-fallback, sh-port, mh-fallback, mh-port, flag-1..3)",
                )
            })?;
        bits |= b;
    }
    Ok(bits)
}

/// Service key and the remaining columns of a listing service line.
fn listed_key<'a, 'w>(
    cx: &Cx,
    words: &'a [&'w str],
) -> Result<(ServiceKey, &'a [&'w str]), ParseError> {
    let second = words.get(1).ok_or_else(|| cx.end("an address or fwmark"))?;
    if words[0] == "FWM" {
        let mark = parse_u32(second).ok_or_else(|| cx.err(second, "an fwmark"))?;
        if words.get(2) == Some(&"IPv6") {
            return Err(cx.err(words[2], "an IPv4 service (IPv6 is not modelled)"));
        }
        return Ok((ServiceKey::Fwmark(mark), &words[2..]));
    }
    let proto =
        IpvsProto::from_name(words[0]).ok_or_else(|| cx.err(words[0], "TCP, UDP, SCTP or FWM"))?;
    let (vip, port) = addr_port(cx, second, false)?;
    Ok((ServiceKey::Addr { proto, vip, port }, &words[2..]))
}

/// `rr (sh-port) persistent 10800 mask 255.255.255.0 pe sip ops` (`print_service_entry`).
fn listed_options(cx: &Cx, rest: &[&str], svc: &mut Service) -> Result<(), ParseError> {
    let mut it = rest.iter().copied();
    let sched = it.next().ok_or_else(|| cx.end("a scheduler name"))?;
    svc.scheduler = Scheduler::from_name(sched);
    while let Some(w) = it.next() {
        if let Some(inner) = w.strip_prefix('(').and_then(|s| s.strip_suffix(')')) {
            svc.flags |= sched_flags(cx, inner)?;
            continue;
        }
        match w {
            "persistent" => {
                svc.flags |= svc_flag::PERSISTENT;
                svc.timeout = Some(number(cx, arg(cx, w, &mut it)?, "a timeout")?);
            }
            "mask" => {
                let m = arg(cx, w, &mut it)?;
                svc.netmask = m.parse().map_err(|_| cx.err(m, "a netmask"))?;
            }
            "pe" => svc.pe = Some(arg(cx, w, &mut it)?.to_string()),
            "ops" => svc.flags |= svc_flag::ONEPACKET,
            _ => return Err(cx.err(w, "(flags), persistent N, mask M, pe NAME or ops")),
        }
    }
    Ok(())
}

/// Guesses the dest columns of a listing pasted without its title lines.
fn guess_dest_layout(cols: &[&str]) -> Layout {
    match cols.first() {
        Some(w) if FwdMethod::from_name(w).is_some() => {
            if cols.len() >= 5 {
                Layout::TunInfo
            } else {
                Layout::Default
            }
        }
        _ if cols.len() >= 5 => Layout::Counters,
        _ => Layout::Thresholds,
    }
}

/// `print_largenum`: digits, or digits with a K/M/G/T suffix.
fn is_counter(w: &str) -> bool {
    let digits = w.trim_end_matches(['K', 'M', 'G', 'T']);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) && w.len() - digits.len() <= 1
}

fn method(cx: &Cx, w: &str) -> Result<FwdMethod, ParseError> {
    FwdMethod::from_name(w)
        .ok_or_else(|| cx.err(w, "a forwarding method (Masq, Route, Tunnel, Local)"))
}

fn number<T: std::str::FromStr>(cx: &Cx, w: &str, what: &str) -> Result<T, ParseError> {
    w.parse().map_err(|_| cx.err(w, what))
}

/// Decimal or `0x` hex.
fn parse_u32(s: &str) -> Option<u32> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u32::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

/// `A.B.C.D:PORT` (or `A.B.C.D` when `port_required` is false → port 0).
fn addr_port(cx: &Cx, w: &str, port_required: bool) -> Result<(Ipv4Addr, u16), ParseError> {
    if w.starts_with('[') {
        return Err(cx.err(w, "an IPv4 address (IPv6 is not modelled)"));
    }
    let (host, port) = match w.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None if port_required => return Err(cx.err(w, "ADDRESS:PORT")),
        None => (w, None),
    };
    let addr = host.parse::<Ipv4Addr>().map_err(|_| {
        let expected = if host.bytes().any(|b| b.is_ascii_alphabetic()) {
            "a numeric IPv4 address, not a host name (the dump was made without -n; \
             nftrace does not resolve names: re-run ipvsadm with -n)"
        } else {
            "an IPv4 address"
        };
        cx.err(w, expected)
    })?;
    let port = match port {
        Some(p) => p.parse::<u16>().map_err(|_| {
            cx.err(
                w,
                "a numeric port (the dump was made without -n? re-run ipvsadm with -n)",
            )
        })?,
        None => 0,
    };
    Ok((addr, port))
}

/// Parses `ipvsadm -Lnc` (also with `--persistent-conn`) or `/proc/net/ip_vs_conn`.
pub fn parse_conns(file: &str, text: &str) -> Result<IpvsConnTable, ParseErrors> {
    let mut conns = Vec::new();
    let mut errors = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end();
        let cx = Cx {
            file,
            line: i + 1,
            text: line,
        };
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.first() {
            None | Some(&"pro" | &"Pro") => {}
            Some(&"IPVS") if line.starts_with("IPVS connection entries") => {}
            Some(_) => match conn_line(&cx, &words) {
                Ok(c) => conns.push(c),
                Err(e) => errors.push(e),
            },
        }
    }
    if errors.is_empty() {
        Ok(IpvsConnTable::new(conns))
    } else {
        Err(ParseErrors(errors))
    }
}

/// `TCP 14:58 ESTABLISHED 10.0.0.1:5000 10.96.0.1:443 10.0.0.5:6443 [pe data]`
/// or the proc form `TCP 0A000001 1388 0A600001 01BB 0A000005 192B ESTABLISHED 898`.
fn conn_line(cx: &Cx, w: &[&str]) -> Result<IpvsConn, ParseError> {
    let proto = conn_proto(cx, w[0])?;
    if w.len() >= 9 && w[1].len() == 8 && w[1].bytes().all(|b| b.is_ascii_hexdigit()) {
        return proc_conn_line(cx, proto, w);
    }
    if w.len() < 6 {
        return Err(cx.end("pro expire state source virtual destination"));
    }
    let expire = mmss(w[1]).ok_or_else(|| cx.err(w[1], "an expiry mm:ss"))?;
    let (caddr, cport) = addr_port(cx, w[3], true)?;
    let (vaddr, vport) = addr_port(cx, w[4], true)?;
    let (daddr, dport) = addr_port(cx, w[5], true)?;
    let pe = match &w[6..] {
        [] => None,
        [name, data] => Some(((*name).to_string(), (*data).to_string())),
        [extra, ..] => return Err(cx.err(extra, "end of line, or pe name and pe data")),
    };
    Ok(IpvsConn {
        proto,
        expire,
        state: w[2].to_string(),
        caddr,
        cport,
        vaddr,
        vport,
        daddr,
        dport,
        pe,
        line: cx.line,
    })
}

fn proc_conn_line(cx: &Cx, proto: ConnProto, w: &[&str]) -> Result<IpvsConn, ParseError> {
    let hex_addr = |s: &str| {
        u32::from_str_radix(s, 16)
            .map(Ipv4Addr::from)
            .map_err(|_| cx.err(s, "an address in hex"))
    };
    let hex_port = |s: &str| u16::from_str_radix(s, 16).map_err(|_| cx.err(s, "a port in hex"));
    Ok(IpvsConn {
        proto,
        caddr: hex_addr(w[1])?,
        cport: hex_port(w[2])?,
        vaddr: hex_addr(w[3])?,
        vport: hex_port(w[4])?,
        daddr: hex_addr(w[5])?,
        dport: hex_port(w[6])?,
        state: w[7].to_string(),
        expire: number(cx, w[8], "seconds")?,
        pe: match &w[9..] {
            [name, data, ..] => Some(((*name).to_string(), (*data).to_string())),
            _ => None,
        },
        line: cx.line,
    })
}

fn conn_proto(cx: &Cx, w: &str) -> Result<ConnProto, ParseError> {
    if w == "IP" {
        return Ok(ConnProto::Ip);
    }
    IpvsProto::from_name(w)
        .map(ConnProto::L4)
        .ok_or_else(|| cx.err(w, "a protocol (TCP, UDP, SCTP, IP)"))
}

/// `mm:ss` (minutes may exceed 59).
fn mmss(s: &str) -> Option<u32> {
    let (m, sec) = s.split_once(':')?;
    let minutes = m.parse::<u32>().ok()?.checked_mul(60)?;
    minutes.checked_add(sec.parse::<u32>().ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    fn one_error(text: &str) -> ParseError {
        let e = parse("ipvsadm.txt", text).unwrap_err();
        assert_eq!(e.0.len(), 1, "{e}");
        e.0[0].clone()
    }

    #[test]
    fn save_form_service_and_servers() {
        let d = parse(
            "f",
            "-A -t 10.96.0.1:443 -s rr -p 10800 -M 255.255.255.0 -o -b sh-port\n\
             -a -t 10.96.0.1:443 -r 10.0.0.5:6443 -m -w 1\n\
             -a -t 10.96.0.1:443 -r 10.0.0.6:6443 -g -w 0 -x 100 -y 50\n\
             -A -f 7 -s sh\n\
             --add-server --fwmark-service 7 --real-server 10.0.0.9 --ipip --weight 3\n",
        )
        .unwrap();
        let s = &d.services[0];
        assert_eq!(s.scheduler, Scheduler::Rr);
        assert_eq!(s.timeout, Some(10800));
        assert_eq!(s.netmask, ip("255.255.255.0"));
        assert_eq!(
            s.flags,
            svc_flag::PERSISTENT | svc_flag::ONEPACKET | svc_flag::SCHED2
        );
        assert_eq!(s.dests[0].method, FwdMethod::Masq);
        assert_eq!(s.dests[0].port, 6443);
        // ipvsadm.c: -g forces the service port on a non-fwmark service.
        assert_eq!(s.dests[1].port, 443);
        assert_eq!((s.dests[1].weight, s.dests[1].u_threshold), (0, 100));
        let f = &d.services[1];
        assert_eq!(f.key, ServiceKey::Fwmark(7));
        assert_eq!(f.dests[0].method, FwdMethod::Tunnel);
        assert_eq!(f.dests[0].tun_type.as_deref(), Some("ipip"));
    }

    #[test]
    fn persistent_without_timeout_defaults_to_300() {
        let d = parse("f", "-A -u 10.0.0.1:53 -s wlc -p\n").unwrap();
        assert_eq!(d.services[0].timeout, Some(300));
    }

    #[test]
    fn listing_default_columns() {
        let d = parse(
            "f",
            "IP Virtual Server version 1.2.1 (size=4096)\n\
             Prot LocalAddress:Port Scheduler Flags\n  \
             -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n\
             TCP  10.96.0.1:443 rr persistent 10800 mask 255.255.0.0\n  \
             -> 10.0.0.5:6443                Masq    1      3          7\n\
             FWM  1 sh (sh-fallback,sh-port)\n  \
             -> 10.0.0.6:0                   Route   2      0          0\n",
        )
        .unwrap();
        let s = &d.services[0];
        assert!(s.persistent());
        assert_eq!(s.netmask, ip("255.255.0.0"));
        assert_eq!(s.dests[0].active_conns, Some(3));
        assert_eq!(s.dests[0].inact_conns, Some(7));
        assert_eq!(d.services[1].flags, svc_flag::SCHED1 | svc_flag::SCHED2);
        assert_eq!(d.services[1].dests[0].method, FwdMethod::Route);
    }

    #[test]
    fn listing_stats_columns_keep_addresses_and_note_the_method() {
        let d = parse(
            "f",
            "Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes\n  \
             -> RemoteAddress:Port\n\
             TCP  10.3.0.42:80                    14209   111769    74613  7207174  8334358\n  \
             -> 10.2.1.22:80                        2       12        8      774     1K\n",
        )
        .unwrap();
        assert_eq!(d.services[0].dests[0].addr, ip("10.2.1.22"));
        assert_eq!(d.services[0].dests[0].active_conns, None);
        assert!(d.notes.iter().any(|n| n.contains("Masq assumed")));
    }

    #[test]
    fn errors_name_the_place_and_what_was_expected() {
        // (input, line, column, found) — each a reason the corpus or users hit.
        let cases = [
            (
                "FWM  258 rr\n  -> docker0.local:0 Masq 1 0 0\n",
                2,
                6,
                "docker0.local:0",
            ),
            (
                "-a -t 10.0.0.1:80 -r 10.0.0.2:80 -m -w 1\n",
                1,
                7,
                "10.0.0.1:80",
            ),
            ("-A -t 10.0.0.1:80 -s rr --bogus\n", 1, 25, "--bogus"),
            ("TCP  [::1]:80 rr\n", 1, 6, "[::1]:80"),
            ("  -> 10.0.0.2:80 Masq 1 0 0\n", 1, 3, "->"),
            (
                "TCP  10.0.0.1:80 rr\n  -> 10.0.0.2:80 Nat 1 0 0\n",
                2,
                18,
                "Nat",
            ),
        ];
        for (text, line, column, found) in cases {
            let e = one_error(text);
            assert_eq!(
                (e.line, e.column, e.found.as_str()),
                (line, column, found),
                "{e}"
            );
        }
    }

    #[test]
    fn host_names_are_reported_as_unresolved() {
        let e = one_error("FWM  258 rr\n  -> docker0.local:0 Masq 1 0 0\n");
        assert!(e.expected.contains("not a host name"), "{e}");
    }

    #[test]
    fn keeps_going_after_a_bad_line() {
        let e = parse(
            "f",
            "-A -t 10.0.0.1:80 -s rr --bogus\n-A -t 10.0.0.1:81 -s rr\n-x\n",
        )
        .unwrap_err();
        assert_eq!(e.0.iter().map(|e| e.line).collect::<Vec<_>>(), [1, 3]);
    }

    #[test]
    fn connection_table_and_templates() {
        let t = parse_conns(
            "c",
            "IPVS connection entries\n\
             pro expire state       source             virtual            destination\n\
             TCP 14:58  ESTABLISHED 10.0.0.1:5000      10.96.0.1:443      10.0.0.5:6443\n\
             TCP 179:59 NONE        10.0.0.0:0         10.96.0.1:443      10.0.0.5:6443\n\
             IP  05:00  NONE        10.0.0.1:0         0.0.0.7:0          10.0.0.9:0\n",
        )
        .unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!(t.conns[0].expire, 14 * 60 + 58);
        assert!(!t.conns[0].is_template());
        assert!(t.conns[1].is_template());
        assert!(t.conns[2].is_template());
        assert_eq!(t.conns[1].expire, 179 * 60 + 59);
    }

    #[test]
    fn an_expiry_beyond_u32_seconds_is_an_error_not_an_overflow() {
        // Found by fuzz/ipvsadm: `m * 60` overflowed (a panic with debug assertions).
        let e = parse_conns(
            "c",
            "TCP 2222222222:08 NONE 10.0.0.1:1 10.96.0.1:443 10.0.0.5:6443\n",
        )
        .unwrap_err();
        assert_eq!(
            (e.0[0].line, e.0[0].column, e.0[0].found.as_str()),
            (1, 5, "2222222222:08")
        );
        let e = parse_conns(
            "c",
            "TCP 71582789:00 NONE 10.0.0.1:1 10.96.0.1:443 10.0.0.5:6443\n",
        )
        .unwrap_err();
        assert!(e.0[0].expected.contains("mm:ss"), "{e}");
    }

    #[test]
    fn proc_connection_form() {
        let t = parse_conns(
            "c",
            "Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData\n\
             TCP 0A000001 1388 0A600001 01BB 0A000005 192B ESTABLISHED 898\n",
        )
        .unwrap();
        let c = &t.conns[0];
        assert_eq!((c.caddr, c.cport), (ip("10.0.0.1"), 5000));
        assert_eq!((c.vaddr, c.vport), (ip("10.96.0.1"), 443));
        assert_eq!((c.daddr, c.dport), (ip("10.0.0.5"), 6443));
    }
}
