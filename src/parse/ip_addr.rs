//! `ip addr show` dumps, multi-line and one-line (`ip -o addr`) forms.
//!
//! Grammar (iproute2 `ip/ipaddress.c print_linkinfo`, `print_addrinfo`):
//!
//! ```text
//! header   = IDX ":" SP NAME["@"LINK] ":" SP "<" FLAGS ">" { attr }      (may wrap)
//! attr     = mtu N | qdisc Q | master DEV | state S | group G | qlen N | …  (others ignored)
//! body     = WS ( "link/"TYPE [MAC] … | inet4 | "inet6" … | "valid_lft" … | "vrf table" N … )
//! inet4    = "inet" ADDR["/"LEN] ["peer" ADDR["/"LEN]] ["brd" ADDR] ["scope" S]
//!            { flag } ["metric" N] ["proto" P] [LABEL]
//! one-line = IDX ":" SP NAME WS inet4 "\" WS "valid_lft" …
//! ```
//!
//! Address order is kept exactly: `inet_select_addr` walks it (kernel-semantics.md §5.2).
//! Redacted addresses (`inet [PUBLIC IP HERE] …`) are skipped with a note.

use std::net::Ipv4Addr;

use crate::model::routing::{IfAddr, Link, Scope};
use crate::parse::ip_route::{prefix, Words};
use crate::parse::{ParseError, ParseErrors};

/// What one `ip addr` dump holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddrDump {
    /// Interfaces in dump order, addresses in list order.
    pub links: Vec<Link>,
    /// `inet6` lines skipped.
    pub skipped_v6: usize,
    /// Things skipped that a user may want to know (redacted addresses).
    pub notes: Vec<String>,
}

/// Parses an `ip addr show` dump into interfaces.
pub fn parse(file: &str, text: &str) -> Result<Vec<Link>, ParseErrors> {
    parse_dump(file, text).map(|d| d.links)
}

/// Parses an `ip addr show` dump, keeping notes and the count of skipped v6 lines.
pub fn parse_dump(file: &str, text: &str) -> Result<AddrDump, ParseErrors> {
    let mut dump = AddrDump::default();
    let mut errors = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let mut segments = line.split('\\');
        let head = segments.next().unwrap_or_default();
        let words = Words::new(file, i + 1, line);
        if let Err(e) = head_line(&words, head, &mut dump) {
            errors.push(e);
        }
        for seg in segments {
            if let Err(e) = body_line(&words, seg, &mut dump) {
                errors.push(e);
            }
        }
    }
    if errors.is_empty() {
        Ok(dump)
    } else {
        Err(ParseErrors(errors))
    }
}

/// The text of a line before any `\` (one-line form separator).
fn head_line<'a>(w: &Words<'a>, head: &'a str, dump: &mut AddrDump) -> Result<(), ParseError> {
    let trimmed = head.trim();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return Ok(());
    }
    if head.starts_with([' ', '\t']) {
        return body_line(w, head, dump);
    }
    match split_index(trimmed) {
        Some((index, rest)) => header(w, index, rest, dump),
        None => wrapped_header(w, trimmed, dump),
    }
}

/// `IDX: rest` when the line starts with an interface index.
fn split_index(text: &str) -> Option<(u32, &str)> {
    let (idx, rest) = text.split_once(':')?;
    Some((idx.parse().ok()?, rest))
}

/// An interface header, or a one-line (`ip -o addr`) address line.
fn header<'a>(
    w: &Words<'a>,
    index: u32,
    rest: &'a str,
    dump: &mut AddrDump,
) -> Result<(), ParseError> {
    let rest = rest.trim_start();
    let (name, attrs) = match rest.find(": <") {
        Some(pos) => (
            rest.get(..pos).unwrap_or(rest),
            rest.get(pos + 2..).unwrap_or(""),
        ),
        None => return one_line_addr(w, index, rest, dump),
    };
    let mut link = new_link(index, strip_link_suffix(name));
    let mut words = Words::new_at(w, attrs);
    if let Some(flags) = words.next() {
        link.flags = link_flags(flags);
        link.up = link.flags.iter().any(|f| f == "UP");
    }
    header_attrs(&mut words, &mut link);
    dump.links.push(link);
    Ok(())
}

/// `NAME@LINK` → `NAME` (the part after the last `@` names the lower device).
fn strip_link_suffix(name: &str) -> &str {
    name.rsplit_once('@').map_or(name, |(n, _)| n)
}

/// `<BROADCAST,MULTICAST,UP,LOWER_UP>` → its flags.
fn link_flags(word: &str) -> Vec<String> {
    word.trim_start_matches('<')
        .trim_end_matches('>')
        .split(',')
        .filter(|f| !f.is_empty())
        .map(str::to_string)
        .collect()
}

/// An empty link.
fn new_link(index: u32, name: &str) -> Link {
    Link {
        index,
        name: name.to_string(),
        mac: None,
        master: None,
        up: false,
        mtu: None,
        addrs: Vec::new(),
        flags: Vec::new(),
        group: 0,
        vrf_table: None,
    }
}

/// Header attributes; unknown words are ignored (they vary a lot across iproute2 versions).
fn header_attrs(words: &mut Words<'_>, link: &mut Link) {
    while let Some(kw) = words.next() {
        match kw {
            "mtu" => link.mtu = words.next().and_then(|v| v.parse().ok()),
            "master" => link.master = words.next().map(str::to_string),
            "group" => link.group = words.next().map_or(0, group_id),
            _ => {}
        }
    }
}

/// `group default` is 0; numbers as is; other names are unknown here (0).
fn group_id(text: &str) -> u32 {
    text.parse().unwrap_or(0)
}

/// What was expected at the start of a dump, naming the forms that are not read.
fn unknown_form(text: &str) -> &'static str {
    const STATES: &[&str] = &[
        "UP",
        "DOWN",
        "UNKNOWN",
        "LOWERLAYERDOWN",
        "DORMANT",
        "NOTPRESENT",
    ];
    let second = text.split_whitespace().nth(1).unwrap_or("");
    if text.starts_with(['[', '{']) {
        "an interface header \"N: NAME: <FLAGS> …\" (ip -j/--json output is not read: use ip addr show or ip -o addr show)"
    } else if STATES.contains(&second) {
        "an interface header \"N: NAME: <FLAGS> …\" (ip -br/--brief output is not read: it omits scope and secondary flags; use ip addr show or ip -o addr show)"
    } else {
        "an interface header \"N: NAME: <FLAGS> …\""
    }
}

/// A header wrapped onto the next line by the pasting program (`group default qlen 1000`).
fn wrapped_header<'a>(w: &Words<'a>, text: &'a str, dump: &mut AddrDump) -> Result<(), ParseError> {
    let Some(link) = dump.links.last_mut() else {
        return Err(w.error(text, unknown_form(text)));
    };
    header_attrs(&mut Words::new_at(w, text), link);
    Ok(())
}

/// `2: eth0    inet 10.0.0.1/24 … eth0` (the part before the first `\`).
fn one_line_addr<'a>(
    w: &Words<'a>,
    index: u32,
    rest: &'a str,
    dump: &mut AddrDump,
) -> Result<(), ParseError> {
    let mut words = Words::new_at(w, rest);
    let name = words.next().unwrap_or_default().trim_end_matches(':');
    let name = strip_link_suffix(name);
    let same = dump
        .links
        .last()
        .is_some_and(|l| l.index == index && l.name == name);
    if !same {
        let mut link = new_link(index, name);
        link.up = true;
        dump.links.push(link);
    }
    match words.next() {
        Some(kind) => addr_family_line(&mut words, kind, dump),
        None => Err(words.end_error("\"inet\", \"inet6\" or \"link/…\" after the device name")),
    }
}

/// An indented line under a header (or a `\`-separated segment).
fn body_line<'a>(w: &Words<'a>, text: &'a str, dump: &mut AddrDump) -> Result<(), ParseError> {
    let mut words = Words::new_at(w, text);
    match words.next() {
        None => Ok(()),
        Some(kind) => addr_family_line(&mut words, kind, dump),
    }
}

/// `link/…`, `inet`, `inet6`, `valid_lft`, `vrf table N`, or detail lines (ignored).
fn addr_family_line(
    words: &mut Words<'_>,
    kind: &str,
    dump: &mut AddrDump,
) -> Result<(), ParseError> {
    let Some(link) = dump.links.last_mut() else {
        return Err(words.error(kind, "an interface header before this line"));
    };
    match kind {
        "inet" => match inet(words, link)? {
            Some(addr) => link.addrs.push(addr),
            None => dump.notes.push(format!(
                "line {}: redacted address skipped: {}",
                words.line_no,
                words.text.trim()
            )),
        },
        "inet6" => dump.skipped_v6 += 1,
        "vrf" if words.next() == Some("table") => {
            link.vrf_table = words.next().and_then(|t| t.parse().ok());
        }
        k if k.starts_with("link/") => link.mac = words.next().and_then(parse_mac),
        _ => {}
    }
    Ok(())
}

/// `aa:bb:cc:dd:ee:ff`; `None` when redacted or not Ethernet-like.
fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = text.split(':');
    for byte in &mut mac {
        *byte = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

/// Address flags `ip addr` prints (`print_addrinfo`, `ifa_flag_names`).
const ADDR_FLAGS: &[&str] = &[
    "secondary",
    "temporary",
    "primary",
    "dynamic",
    "noprefixroute",
    "deprecated",
    "tentative",
    "permanent",
    "home",
    "nodad",
    "mngtmpaddr",
    "optimistic",
    "dadfailed",
    "stable-privacy",
    "autojoin",
];

/// `inet ADDR[/LEN] [peer P] [brd B] [scope S] {flag} [LABEL]`; `None` when redacted.
fn inet(words: &mut Words<'_>, link: &Link) -> Result<Option<IfAddr>, ParseError> {
    let local_text = words.value("an IPv4 address a.b.c.d/len")?;
    if local_text.starts_with('[') {
        return Ok(None);
    }
    let local =
        prefix(local_text).ok_or_else(|| words.error(local_text, "an IPv4 address a.b.c.d/len"))?;
    let mut addr = IfAddr {
        local: local.addr(),
        prefix_len: local.prefix_len(),
        peer: None,
        scope: Scope::Universe,
        secondary: false,
        label: None,
        broadcast: None,
        flags: Vec::new(),
    };
    while let Some(kw) = words.next() {
        inet_attr(words, kw, &mut addr, link)?;
    }
    Ok(Some(addr))
}

/// One attribute of an `inet` line.
fn inet_attr(
    words: &mut Words<'_>,
    kw: &str,
    addr: &mut IfAddr,
    link: &Link,
) -> Result<(), ParseError> {
    match kw {
        "peer" => {
            let v = words.value("a peer address")?;
            let peer = prefix(v).ok_or_else(|| words.error(v, "a peer address a.b.c.d[/len]"))?;
            addr.prefix_len = peer.prefix_len();
            addr.peer = Some(peer);
        }
        "brd" => {
            let v = words.value("a broadcast address")?;
            addr.broadcast = Some(
                v.parse::<Ipv4Addr>()
                    .map_err(|_| words.error(v, "an IPv4 address"))?,
            );
        }
        "scope" => {
            let v = words.value("a scope")?;
            addr.scope =
                Scope::parse(v).ok_or_else(|| words.error(v, "a scope (global, link, host, …)"))?;
        }
        "metric" | "proto" => {
            words.value("a value")?;
        }
        "secondary" => addr.secondary = true,
        f if ADDR_FLAGS.contains(&f) => addr.flags.push(f.to_string()),
        label => inet_label(words, label, addr, link)?,
    }
    Ok(())
}

/// The label: the last word of the line, when it is not a keyword.
fn inet_label(
    words: &mut Words<'_>,
    label: &str,
    addr: &mut IfAddr,
    link: &Link,
) -> Result<(), ParseError> {
    if let Some(next) = words.next() {
        return Err(words.error(label, &format!("an address attribute (brd, scope, peer, a flag) or the label as the last word, before {next:?}")));
    }
    if label != link.name {
        addr.label = Some(label.to_string());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHOW: &str = "\
1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN group default qlen 1000
    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00
    inet 127.0.0.1/8 scope host lo
       valid_lft forever preferred_lft forever
2: eth0@if5: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue master vrf0 state UP group 7
    link/ether aa:bb:cc:dd:ee:0f brd ff:ff:ff:ff:ff:ff link-netnsid 0
    inet 10.0.0.1/24 brd 10.0.0.255 scope global dynamic noprefixroute eth0
       valid_lft 41096sec preferred_lft 41096sec
    inet 10.0.0.6/24 scope global secondary eth0:1
    inet 192.168.5.1/24 brd 192.168.5.255 scope global eth0:5
    inet6 fe80::1/64 scope link
       valid_lft forever preferred_lft forever
8: tun0: <POINTOPOINT,MULTICAST,NOARP,UP,LOWER_UP> mtu 1500 qdisc mq state UP qlen 1000
    link/none
    inet 172.16.19.39 peer 172.16.19.1 scope global tun0
    inet 10.11.64.69 peer 10.11.64.70/30 brd 10.11.64.71 scope global tun0
9: vrf0: <NOARP,MASTER,UP,LOWER_UP> mtu 65575 qdisc noqueue state UP
    link/ether 12:34:56:78:9a:bc brd ff:ff:ff:ff:ff:ff promiscuity 0
    vrf table 1001 addrgenmode eui64
";

    fn links(text: &str) -> Vec<Link> {
        parse("addr.txt", text).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn headers() {
        let l = links(SHOW);
        let names: Vec<&str> = l.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["lo", "eth0", "tun0", "vrf0"]);
        assert_eq!(l[1].index, 2);
        assert_eq!(l[1].mtu, Some(1500));
        assert_eq!(l[1].master.as_deref(), Some("vrf0"));
        assert_eq!(l[1].group, 7);
        assert_eq!(l[1].mac, Some([0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0x0f]));
        assert!(l[1].up);
        assert!(l[0].is_loopback());
        assert_eq!(l[3].vrf_table, Some(1001));
    }

    #[test]
    fn addresses_keep_order_and_flags() {
        let l = links(SHOW);
        let eth0 = &l[1].addrs;
        let locals: Vec<String> = eth0.iter().map(|a| a.local.to_string()).collect();
        assert_eq!(locals, ["10.0.0.1", "10.0.0.6", "192.168.5.1"]);
        assert_eq!(eth0[0].broadcast, Some(Ipv4Addr::new(10, 0, 0, 255)));
        assert!(eth0[0].noprefixroute());
        assert!(eth0[1].secondary);
        assert_eq!(eth0[1].label.as_deref(), Some("eth0:1"));
        assert_eq!(eth0[0].label, None);
        assert_eq!(l[0].addrs[0].scope, Scope::Host);
    }

    #[test]
    fn peers() {
        let tun = &links(SHOW)[2].addrs;
        assert_eq!(tun[0].prefix_len, 32);
        assert_eq!(
            tun[0].peer.map(|p| p.to_string()).as_deref(),
            Some("172.16.19.1/32")
        );
        assert_eq!(tun[1].prefix_len, 30);
        assert!(tun[1].matches(Ipv4Addr::new(10, 11, 64, 70)));
        assert!(!tun[0].matches(Ipv4Addr::new(172, 16, 19, 39)));
    }

    #[test]
    fn one_line_form() {
        let text = "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever\n\
            1: lo    inet6 ::1/128 scope host \\       valid_lft forever preferred_lft forever\n\
            2: eth0    inet 172.16.1.10/24 brd 172.16.1.255 scope global dynamic noprefixroute eth0\\       valid_lft 41097sec preferred_lft 41097sec\n\
            2: eth0    inet 172.16.2.10/24 scope global secondary eth0\n";
        let d = parse_dump("t", text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(d.links.len(), 2);
        assert_eq!(d.links[1].addrs.len(), 2);
        assert_eq!(d.skipped_v6, 1);
    }

    #[test]
    fn wrapped_header_and_redacted_address() {
        let text = "# ip -4 a s\n\n1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN\ngroup default\n\
            3: eth1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc htb state\nUP group 4 qlen 32\n    inet [PUBLIC IP HERE] scope global eth1\n";
        let d = parse_dump("t", text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(d.links.len(), 2);
        assert_eq!(d.links[1].group, 4);
        assert!(d.links[1].addrs.is_empty());
        assert_eq!(d.notes.len(), 1);
    }

    #[test]
    fn odd_names() {
        let text = "7: foo:veth0@eth0@veth0: <BROADCAST,MULTICAST,M-DOWN> mtu 1500 qdisc noop state DOWN\n    inet 192.168.212.2/24 scope global foo:veth0@eth0\n";
        let l = links(text);
        assert_eq!(l[0].name, "foo:veth0@eth0");
        assert_eq!(l[0].addrs[0].label, None);
        assert!(!l[0].up);
    }

    #[test]
    fn errors() {
        // (text, line, column, found)
        let cases = [
            (
                "2: eth0: <UP> mtu 1500\n    inet 10.0.0.300/24 scope global eth0",
                2,
                10,
                "10.0.0.300/24",
            ),
            (
                "2: eth0: <UP> mtu 1500\n    inet 10.0.0.1/24 scope bogus eth0",
                2,
                28,
                "bogus",
            ),
            (
                "2: eth0: <UP> mtu 1500\n    inet 10.0.0.1/24 frob global eth0",
                2,
                22,
                "frob",
            ),
            ("    inet 10.0.0.1/24", 1, 5, "inet"),
            (
                "garbage before any header",
                1,
                1,
                "garbage before any header",
            ),
        ];
        for (text, line, column, found) in cases {
            let Err(errs) = parse("addr.txt", text) else {
                panic!("{text:?} parsed");
            };
            let e = &errs.0[0];
            assert_eq!(
                (e.line, e.column, e.found.as_str()),
                (line, column, found),
                "{text:?}"
            );
        }
    }
}
