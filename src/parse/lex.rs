//! Shared lexemes of the dump formats: iptables-restore words and quoting,
//! IPv4 addresses with masks, numbers as `strtoul(…, 0)` reads them, ports and
//! port ranges, `value/mask` pairs, and the small name tables (protocols,
//! services, ICMP types) that iptables resolves without `/etc` files.
//!
//! Everything here works on one word and returns `Option`; callers turn `None`
//! into a located [`ParseError`](super::ParseError).

use std::borrow::Cow;
use std::net::Ipv4Addr;

use crate::model::matches::PortRange;
use crate::model::ruleset::{AddrMask, AddrSpelling};

/// One argument of an iptables-restore line, after quote removal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word<'a> {
    /// The argument; borrowed from the line unless quotes or escapes were removed.
    pub text: Cow<'a, str>,
    /// Byte offset of the word's first character (or opening quote) in the line.
    pub start: usize,
    /// True when any part of the word was inside double quotes.
    pub quoted: bool,
}

impl Word<'_> {
    /// The word's text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// True for an unquoted word equal to `s` (quoted words are never options).
    pub fn is(&self, s: &str) -> bool {
        !self.quoted && self.text == s
    }
}

/// A quote opened and never closed: the byte offset of the opening `"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnterminatedQuote(pub usize);

/// Splits a line into words as iptables-restore does (`add_param_to_argv` in
/// `iptables/xshared.c`, 1.8):
///
/// * space, tab and newline separate words; runs of them count once;
/// * `"` opens a quoted part anywhere in a word; inside it a backslash takes
///   the next character literally (`\"`, `\\`, `\'`); the closing `"` ends the
///   word (so `""` is an empty word);
/// * outside quotes, backslash and `'` are ordinary characters.
///
/// iptables-restore silently ends an unterminated quote at the end of the line;
/// nftrace reports it instead, since it only happens in damaged pastes.
pub fn split_words(line: &str) -> Result<Vec<Word<'_>>, UnterminatedQuote> {
    let mut words = Vec::with_capacity(16);
    split_words_into(line, &mut words)?;
    Ok(words)
}

/// [`split_words`] into a reused buffer (cleared first), to spare an allocation per line.
pub fn split_words_into<'a>(
    line: &'a str,
    words: &mut Vec<Word<'a>>,
) -> Result<(), UnterminatedQuote> {
    words.clear();
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            _ => {
                let (word, next) = one_word(line, i)?;
                words.push(word);
                i = next;
            }
        }
    }
    Ok(())
}

/// Reads the word starting at byte `start`; returns it and the offset after it.
fn one_word(line: &str, start: usize) -> Result<(Word<'_>, usize), UnterminatedQuote> {
    let bytes = line.as_bytes();
    let plain_end = plain_end(bytes, start);
    if bytes.get(plain_end) != Some(&b'"') {
        let text = Cow::Borrowed(&line[start..plain_end]);
        let word = Word {
            text,
            start,
            quoted: false,
        };
        return Ok((word, plain_end));
    }
    if plain_end == start {
        if let Some(word) = plain_quoted(line, start) {
            return Ok(word);
        }
    }
    let mut text = String::from(&line[start..plain_end]);
    let end = quoted_part(line, plain_end, &mut text)?;
    let word = Word {
        text: Cow::Owned(text),
        start,
        quoted: true,
    };
    Ok((word, end))
}

/// True for the bytes that end an unquoted stretch of a word: blanks and `"`.
fn ends_plain(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'"')
}

/// The offset of the first byte from `i` on that ends an unquoted stretch
/// ([`ends_plain`]), or the length of `bytes`.
///
/// Eight bytes at a time: every such byte is below `0x23` (`"` is `0x22`), and
/// `(x - 0x23…) & !x & 0x80…` flags the first byte below `0x23` of eight
/// exactly (a borrow only runs upwards from a flagged byte). Words are read
/// from every line of the dump, so this loop is the lexer's cost.
fn plain_end(bytes: &[u8], mut i: usize) -> usize {
    const ONES: u64 = u64::from_le_bytes([1; 8]);
    while let Some(&chunk) = bytes.get(i..).and_then(|b| b.first_chunk::<8>()) {
        let x = u64::from_le_bytes(chunk);
        let low = x.wrapping_sub(ONES * 0x23) & !x & (ONES * 0x80);
        if low == 0 {
            i += 8;
            continue;
        }
        i += (low.trailing_zeros() / 8) as usize;
        if ends_plain(bytes[i]) {
            return i;
        }
        i += 1;
    }
    let tail = bytes.get(i..).unwrap_or(&[]);
    tail.iter()
        .position(|&b| ends_plain(b))
        .map_or(bytes.len(), |n| i + n)
}

/// A word that is one quoted part without backslashes (`"kubernetes service portals"`),
/// borrowed from the line; `None` when it needs unescaping or goes on after the quote.
fn plain_quoted(line: &str, open: usize) -> Option<(Word<'_>, usize)> {
    let body = &line[open + 1..];
    let close = body.find(['"', '\\'])?;
    if body.as_bytes()[close] != b'"' {
        return None;
    }
    let word = Word {
        text: Cow::Borrowed(&body[..close]),
        start: open,
        quoted: true,
    };
    Some((word, open + close + 2))
}

/// Appends the quoted part opening at `open` (a `"`) to `out`, unescaping;
/// returns the offset after the closing quote.
fn quoted_part(line: &str, open: usize, out: &mut String) -> Result<usize, UnterminatedQuote> {
    let mut chars = line[open + 1..].char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, escaped)) => out.push(escaped),
                None => break,
            },
            '"' => return Ok(open + 1 + i + 1),
            _ => out.push(c),
        }
    }
    Err(UnterminatedQuote(open))
}

/// Characters `xtables_save_string` prints without quotes.
fn is_plain_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// Appends ` value` to `out` quoted as `xtables_save_string` (libxtables) does:
/// bare when every character is in `[A-Za-z0-9_-]` (and the value is not empty),
/// else in double quotes with `"`, `\` and `'` escaped by a backslash.
pub fn push_save_string(out: &mut String, value: &str) {
    out.push(' ');
    if !value.is_empty() && value.chars().all(is_plain_char) {
        out.push_str(value);
        return;
    }
    out.push('"');
    for c in value.chars() {
        if matches!(c, '"' | '\\' | '\'') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

/// An unsigned number as `strtoul(s, &end, 0)` reads it in `xtables_strtoui`:
/// `0x…` hex, a leading `0` octal, else decimal; the whole word must be used.
pub fn parse_u32(s: &str) -> Option<u32> {
    let (digits, radix) = if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        (hex, 16)
    } else if s.len() > 1 && s.starts_with('0') {
        (&s[1..], 8)
    } else {
        (s, 10)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u32::from_str_radix(digits, radix).ok()
}

/// A number that must fit in a byte.
pub fn parse_u8(s: &str) -> Option<u8> {
    parse_u32(s).and_then(|v| u8::try_from(v).ok())
}

/// `value[/mask]` as `xtables_parse_val_mask` reads it; the mask is `None` when absent.
pub fn parse_value_mask(s: &str) -> Option<(u32, Option<u32>)> {
    match s.split_once('/') {
        Some((v, m)) => Some((parse_u32(v)?, Some(parse_u32(m)?))),
        None => Some((parse_u32(s)?, None)),
    }
}

/// A dotted-quad IPv4 address (no host names: the dumps are numeric).
pub fn parse_ipv4(s: &str) -> Option<Ipv4Addr> {
    s.parse().ok()
}

/// `addr[/len|/dotted-mask]` as `-s`/`-d` take it. The address is masked as
/// iptables stores it (`ip_packet_match` compares `saddr & mask` with it).
pub fn parse_addr_mask(s: &str) -> Option<(AddrMask, AddrSpelling)> {
    parse_addr_mask_written(s).map(|(a, sp, _)| (a, sp))
}

/// Like [`parse_addr_mask`], also returning the address as written.
pub fn parse_addr_mask_written(s: &str) -> Option<(AddrMask, AddrSpelling, Ipv4Addr)> {
    let (written, mask, spelling) = match s.split_once('/') {
        None => (parse_ipv4(s)?, u32::MAX, AddrSpelling::Bare),
        Some((a, m)) => {
            let (mask, spelling) = parse_mask(m)?;
            (parse_ipv4(a)?, mask, spelling)
        }
    };
    let addr = Ipv4Addr::from(u32::from(written) & mask);
    Some((AddrMask { addr, mask }, spelling, written))
}

/// A mask after `/`: a prefix length 0–32 or a dotted quad.
fn parse_mask(m: &str) -> Option<(u32, AddrSpelling)> {
    if m.contains('.') {
        return Some((u32::from(parse_ipv4(m)?), AddrSpelling::Dotted));
    }
    let len: u32 = m.parse().ok().filter(|l| *l <= 32)?;
    let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
    Some((mask, AddrSpelling::Prefix))
}

/// Writes an address as `save_ipv4_addr` (or iptables 1.3) printed it;
/// `written` replaces the masked address when the dump had host bits set.
pub fn format_addr(a: &AddrMask, spelling: AddrSpelling, written: Option<Ipv4Addr>) -> String {
    let shown = AddrMask {
        addr: written.unwrap_or(a.addr),
        mask: a.mask,
    };
    match spelling {
        AddrSpelling::Prefix => shown.to_string(),
        AddrSpelling::Dotted => format!("{}/{}", shown.addr, Ipv4Addr::from(a.mask)),
        AddrSpelling::Bare if a.mask == u32::MAX => shown.addr.to_string(),
        AddrSpelling::Bare => shown.to_string(),
    }
}

/// Service names nftrace resolves without `/etc/services` (TCP/UDP ports).
pub const SERVICES: &[(&str, u16)] = &[
    ("echo", 7),
    ("discard", 9),
    ("daytime", 13),
    ("chargen", 19),
    ("ftp-data", 20),
    ("ftp", 21),
    ("ssh", 22),
    ("telnet", 23),
    ("smtp", 25),
    ("time", 37),
    ("whois", 43),
    ("domain", 53),
    ("bootps", 67),
    ("bootpc", 68),
    ("tftp", 69),
    ("finger", 79),
    ("http", 80),
    ("www", 80),
    ("kerberos", 88),
    ("pop3", 110),
    ("sunrpc", 111),
    ("auth", 113),
    ("nntp", 119),
    ("ntp", 123),
    ("netbios-ns", 137),
    ("netbios-dgm", 138),
    ("netbios-ssn", 139),
    ("imap", 143),
    ("imap2", 143),
    ("snmp", 161),
    ("snmp-trap", 162),
    ("bgp", 179),
    ("irc", 194),
    ("ldap", 389),
    ("https", 443),
    ("microsoft-ds", 445),
    ("smtps", 465),
    ("submissions", 465),
    ("isakmp", 500),
    ("syslog", 514),
    ("submission", 587),
    ("ldaps", 636),
    ("rsync", 873),
    ("domain-s", 853),
    ("imaps", 993),
    ("pop3s", 995),
    ("socks", 1080),
    ("openvpn", 1194),
    ("ms-sql-s", 1433),
    ("l2tp", 1701),
    ("pptp", 1723),
    ("radius", 1812),
    ("radius-acct", 1813),
    ("nfs", 2049),
    ("squid", 3128),
    ("mysql", 3306),
    ("ms-wbt-server", 3389),
    ("svn", 3690),
    ("ipsec-nat-t", 4500),
    ("sip", 5060),
    ("xmpp-client", 5222),
    ("mdns", 5353),
    ("postgresql", 5432),
    ("x11", 6000),
    ("http-alt", 8080),
    ("git", 9418),
];

/// A port: a number 0–65535 or a service name from [`SERVICES`].
pub fn parse_port(s: &str) -> Option<u16> {
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse().ok();
    }
    SERVICES.iter().find(|(n, _)| *n == s).map(|(_, p)| *p)
}

/// A port range `a`, `a<sep>b`, `a<sep>` (to 65535) or `<sep>b` (from 0),
/// as `xtables_parse_port_range`/`parse_multi_ports` read it; `min <= max`.
pub fn parse_port_range(s: &str, sep: char) -> Option<PortRange> {
    let (min, max) = match s.split_once(sep) {
        None => {
            let p = parse_port(s)?;
            (p, p)
        }
        Some((a, b)) => (
            if a.is_empty() { 0 } else { parse_port(a)? },
            if b.is_empty() {
                u16::MAX
            } else {
                parse_port(b)?
            },
        ),
    };
    (min <= max).then_some(PortRange { min, max })
}

/// Writes a port range as the save functions do: `a` or `a<sep>b`.
pub fn format_port_range(r: &PortRange, sep: char) -> String {
    if r.min == r.max {
        r.min.to_string()
    } else {
        format!("{}{sep}{}", r.min, r.max)
    }
}

/// A protocol after `-p`/`--ctproto`: a number 0–255 or a name from
/// [`PROTOCOLS`](crate::model::ruleset::PROTOCOLS), case-insensitive as
/// `xtables_parse_protocol` is.
pub fn parse_protocol(s: &str) -> Option<u8> {
    crate::model::ruleset::Protocol::read(s).map(|(number, _)| number)
}

/// ICMP type names with their type and code range (`icmp_codes` in
/// `extensions/libipt_icmp.c`); a name without a code covers codes 0–255.
pub const ICMP_TYPES: &[(&str, u8, u8, u8)] = &[
    ("echo-reply", 0, 0, 0xff),
    ("pong", 0, 0, 0xff),
    ("destination-unreachable", 3, 0, 0xff),
    ("network-unreachable", 3, 0, 0),
    ("host-unreachable", 3, 1, 1),
    ("protocol-unreachable", 3, 2, 2),
    ("port-unreachable", 3, 3, 3),
    ("fragmentation-needed", 3, 4, 4),
    ("source-route-failed", 3, 5, 5),
    ("network-unknown", 3, 6, 6),
    ("host-unknown", 3, 7, 7),
    ("network-prohibited", 3, 9, 9),
    ("host-prohibited", 3, 10, 10),
    ("TOS-network-unreachable", 3, 11, 11),
    ("TOS-host-unreachable", 3, 12, 12),
    ("communication-prohibited", 3, 13, 13),
    ("host-precedence-violation", 3, 14, 14),
    ("precedence-cutoff", 3, 15, 15),
    ("source-quench", 4, 0, 0xff),
    ("redirect", 5, 0, 0xff),
    ("network-redirect", 5, 0, 0),
    ("host-redirect", 5, 1, 1),
    ("TOS-network-redirect", 5, 2, 2),
    ("TOS-host-redirect", 5, 3, 3),
    ("echo-request", 8, 0, 0xff),
    ("ping", 8, 0, 0xff),
    ("router-advertisement", 9, 0, 0xff),
    ("router-solicitation", 10, 0, 0xff),
    ("time-exceeded", 11, 0, 0xff),
    ("ttl-exceeded", 11, 0, 0xff),
    ("ttl-zero-during-transit", 11, 0, 0),
    ("ttl-zero-during-reassembly", 11, 1, 1),
    ("parameter-problem", 12, 0, 0xff),
    ("ip-header-bad", 12, 0, 0),
    ("required-option-missing", 12, 1, 1),
    ("timestamp-request", 13, 0, 0xff),
    ("timestamp-reply", 14, 0, 0xff),
    ("address-mask-request", 17, 0, 0xff),
    ("address-mask-reply", 18, 0, 0xff),
];

/// `--icmp-type` value: `any` (`None`), a name, or `type[/code]`;
/// returns `(type, code_min, code_max)`.
pub fn parse_icmp_type(s: &str) -> Option<(Option<u8>, u8, u8)> {
    if s == "any" {
        return Some((None, 0, 0xff));
    }
    if let Some((_, t, lo, hi)) = ICMP_TYPES.iter().find(|e| e.0.eq_ignore_ascii_case(s)) {
        return Some((Some(*t), *lo, *hi));
    }
    let (t, code) = match s.split_once('/') {
        Some((t, c)) => (t, Some(c)),
        None => (s, None),
    };
    let t: u8 = t.parse().ok()?;
    match code {
        Some(c) => c.parse().ok().map(|c: u8| (Some(t), c, c)),
        None => Some((Some(t), 0, 0xff)),
    }
}

/// Two IPv4 addresses `a-b` (`-m iprange`, NAT ranges); `b >= a`.
pub fn parse_ipv4_range(s: &str) -> Option<(Ipv4Addr, Ipv4Addr)> {
    let (a, b) = match s.split_once('-') {
        Some((a, b)) => (parse_ipv4(a)?, parse_ipv4(b)?),
        None => {
            let a = parse_ipv4(s)?;
            (a, a)
        }
    };
    (u32::from(a) <= u32::from(b)).then_some((a, b))
}

/// A MAC address `XX:XX:XX:XX:XX:XX`.
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = s.split(':');
    for byte in &mut mac {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 2 {
            return None;
        }
        *byte = u8::from_str_radix(p, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

/// DSCP class names (`extensions/dscp_helper.c`), for `--dscp-class`/`--set-dscp-class`.
pub const DSCP_CLASSES: &[(&str, u8)] = &[
    ("CS0", 0x00),
    ("CS1", 0x08),
    ("CS2", 0x10),
    ("CS3", 0x18),
    ("CS4", 0x20),
    ("CS5", 0x28),
    ("CS6", 0x30),
    ("CS7", 0x38),
    ("BE", 0x00),
    ("AF11", 0x0a),
    ("AF12", 0x0c),
    ("AF13", 0x0e),
    ("AF21", 0x12),
    ("AF22", 0x14),
    ("AF23", 0x16),
    ("AF31", 0x1a),
    ("AF32", 0x1c),
    ("AF33", 0x1e),
    ("AF41", 0x22),
    ("AF42", 0x24),
    ("AF43", 0x26),
    ("EF", 0x2e),
];

/// A DSCP class name, case-insensitive.
pub fn parse_dscp_class(s: &str) -> Option<u8> {
    DSCP_CLASSES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(s))
        .map(|(_, v)| *v)
}

/// TOS names of `-m tos`/`-j TOS` (`tos_values.c`): (name, value); mask 0x3f.
pub const TOS_NAMES: &[(&str, u8)] = &[
    ("Minimize-Delay", 0x10),
    ("Maximize-Throughput", 0x08),
    ("Maximize-Reliability", 0x04),
    ("Minimize-Cost", 0x02),
    ("Normal-Service", 0x00),
];

/// A TOS `value[/mask]` or symbolic name; a name or a bare value gets `default_mask`
/// (names always use 0x3f, as `tos_parse_symbolic` does).
pub fn parse_tos(s: &str, default_mask: u8) -> Option<(u8, u8)> {
    if let Some((_, v)) = TOS_NAMES.iter().find(|(n, _)| n.eq_ignore_ascii_case(s)) {
        return Some((*v, 0x3f));
    }
    let (v, m) = parse_value_mask(s)?;
    let v = u8::try_from(v).ok()?;
    let m = match m {
        Some(m) => u8::try_from(m).ok()?,
        None => default_mask,
    };
    Some((v, m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// [`plain_end`] as a byte-at-a-time search.
    fn plain_end_bytewise(bytes: &[u8], from: usize) -> usize {
        let rest = bytes[from..].iter().position(|&b| ends_plain(b));
        rest.map_or(bytes.len(), |n| from + n)
    }

    proptest! {
        #[test]
        fn plain_end_finds_what_a_bytewise_search_finds(
            bytes in proptest::collection::vec(
                prop_oneof![
                    Just(b' '), Just(b'\t'), Just(b'\n'), Just(b'\r'), Just(b'"'),
                    Just(b'!'), Just(b'#'), Just(0u8), Just(0x22u8), Just(0x23u8),
                    Just(0x80u8), Just(0xa2u8), Just(0xffu8), b'a'..=b'z',
                ],
                0..40,
            ),
            from in 0usize..40,
        ) {
            let from = from.min(bytes.len());
            prop_assert_eq!(plain_end(&bytes, from), plain_end_bytewise(&bytes, from));
        }
    }

    #[test]
    fn a_word_ends_at_the_first_blank_or_quote_after_long_plain_runs() {
        let line = "KUBE-SEP-ABCDEFGHIJKLMNOP!x\t-j \"c d\"";
        let words = texts(line);
        assert_eq!(words, ["KUBE-SEP-ABCDEFGHIJKLMNOP!x", "-j", "c d"]);
    }

    fn texts(line: &str) -> Vec<String> {
        split_words(line)
            .unwrap()
            .into_iter()
            .map(|w| w.text.into_owned())
            .collect()
    }

    #[test]
    fn words_split_on_runs_of_blanks() {
        assert_eq!(
            texts("-A  INPUT\t-j ACCEPT "),
            ["-A", "INPUT", "-j", "ACCEPT"]
        );
    }

    #[test]
    fn quotes_group_words_and_unescape() {
        assert_eq!(
            texts(r#"--comment "a \"b\" \\ \'c\'" x"#),
            ["--comment", r#"a "b" \ 'c'"#, "x"]
        );
    }

    #[test]
    fn closing_quote_ends_the_word() {
        assert_eq!(texts(r#""a"b "" c"#), ["a", "b", "", "c"]);
    }

    #[test]
    fn quote_inside_a_word_continues_it() {
        assert_eq!(texts(r#"ab"c d" e"#), ["abc d", "e"]);
    }

    #[test]
    fn single_quotes_and_backslashes_are_plain_outside_quotes() {
        assert_eq!(texts(r"'a b' c\d"), ["'a", "b'", r"c\d"]);
    }

    #[test]
    fn unterminated_quote_is_reported_at_the_quote() {
        assert_eq!(split_words(r#"-j LOG "abc"#), Err(UnterminatedQuote(7)));
    }

    #[test]
    fn word_offsets_point_into_the_line() {
        let w = split_words(r#"a  "b c""#).unwrap();
        assert_eq!((w[0].start, w[1].start, w[1].quoted), (0, 3, true));
    }

    #[test]
    fn save_string_quotes_like_xtables() {
        let cases = [
            ("abc-D_9", " abc-D_9"),
            ("a b", r#" "a b""#),
            ("", r#" """#),
            (r#"x"y\z'"#, r#" "x\"y\\z\'""#),
        ];
        for (input, want) in cases {
            let mut s = String::new();
            push_save_string(&mut s, input);
            assert_eq!(s, want, "{input:?}");
        }
    }

    #[test]
    fn numbers_follow_strtoul_base_0() {
        assert_eq!(parse_u32("0x10"), Some(16));
        assert_eq!(parse_u32("010"), Some(8));
        assert_eq!(parse_u32("0"), Some(0));
        assert_eq!(parse_u32("4294967296"), None);
        assert_eq!(parse_u32("1a"), None);
        assert_eq!(parse_u32(""), None);
    }

    #[test]
    fn addresses_take_prefix_dotted_or_no_mask() {
        let (a, s) = parse_addr_mask("10.1.2.3/8").unwrap();
        assert_eq!(
            (a.to_string(), s),
            ("10.0.0.0/8".into(), AddrSpelling::Prefix)
        );
        let (a, s) = parse_addr_mask("192.168.1.0/255.255.255.0").unwrap();
        assert_eq!(format_addr(&a, s, None), "192.168.1.0/255.255.255.0");
        let (a, s) = parse_addr_mask("1.2.3.4").unwrap();
        assert_eq!(format_addr(&a, s, None), "1.2.3.4");
        assert!(parse_addr_mask("1.2.3.4/33").is_none());
        assert!(parse_addr_mask("example.com").is_none());
    }

    #[test]
    fn port_ranges_accept_open_ends_and_services() {
        assert_eq!(
            parse_port_range("1024:", ':'),
            Some(PortRange {
                min: 1024,
                max: 65535
            })
        );
        assert_eq!(
            parse_port_range(":80", ':'),
            Some(PortRange { min: 0, max: 80 })
        );
        assert_eq!(
            parse_port_range("ssh", ':'),
            Some(PortRange { min: 22, max: 22 })
        );
        assert_eq!(parse_port_range("90:80", ':'), None);
        assert_eq!(parse_port_range("nosuch", ':'), None);
    }

    #[test]
    fn icmp_types_by_name_and_number() {
        assert_eq!(parse_icmp_type("echo-request"), Some((Some(8), 0, 255)));
        assert_eq!(parse_icmp_type("3/4"), Some((Some(3), 4, 4)));
        assert_eq!(parse_icmp_type("any"), Some((None, 0, 255)));
        assert_eq!(parse_icmp_type("bogus"), None);
    }

    #[test]
    fn macs_need_six_hex_bytes() {
        assert_eq!(
            parse_mac("00:1a:2B:3c:4d:5e"),
            Some([0, 0x1a, 0x2b, 0x3c, 0x4d, 0x5e])
        );
        assert_eq!(parse_mac("00:1a:2B:3c:4d"), None);
    }
}
