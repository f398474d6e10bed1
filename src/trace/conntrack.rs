//! The conntrack hook (`nf_conntrack_in`, priority -200) for a packet with no
//! existing entry: NEW, INVALID, or left alone when untracked.
//!
//! Read first: ../shared/docs/kernel-semantics.md §2.5.

use super::event::Event;
use super::walk::{ForcedState, Walk};
use crate::model::conntrack::{Connection, CtInfo, CtState, Direction, Tuple};
use crate::model::packet::{tcp_flag, Transport};

impl Walk<'_> {
    /// Attaches a conntrack to the packet, as `nf_conntrack_in` does. A CT
    /// template is used up: its zone is the connection's from here on.
    pub fn conntrack_in(&mut self) {
        self.attach_conntrack();
        self.ct_template = None;
    }

    fn attach_conntrack(&mut self) {
        if !matches!(self.ct, CtState::Unset | CtState::Invalid) {
            // Untracked (raw NOTRACK) or already attached (loopback): nothing to do.
            // A looped-back copy of an INVALID packet has no conntrack
            // (`skb->_nfct` is 0) and is looked up again, and counted invalid
            // again (fixtures/invalid-loopback-tracked-again).
            return;
        }
        if !self.conntrack_on() {
            return;
        }
        if self.forced_state() || self.existing_conn() {
            return;
        }
        match self.new_conn_verdict() {
            Ok(reason) => {
                let reason = self.zone_hint(reason);
                let conn = Connection {
                    zone: self.ct_zone(),
                    ..Connection::new(self.tuple())
                };
                self.ct = CtState::Tracked {
                    info: CtInfo::New,
                    conn,
                };
                self.emit(Event::Conntrack {
                    state: "NEW".into(),
                    reason,
                });
            }
            Err(reason) => {
                let reason = self.zone_hint(reason);
                self.ct = CtState::Invalid;
                self.emit(Event::Conntrack {
                    state: "INVALID".into(),
                    reason,
                });
            }
        }
    }

    /// `--ctstate`: the user decides the state; an ESTABLISHED connection has its
    /// NAT already set up (none), so the nat chains do not run.
    fn forced_state(&mut self) -> bool {
        let Some(forced) = self.opts.force_ctstate else {
            return false;
        };
        let mut conn = Connection::new(self.tuple());
        self.ct = match forced {
            ForcedState::New => return false,
            ForcedState::Invalid => CtState::Invalid,
            ForcedState::Untracked => CtState::Untracked,
            ForcedState::Related => CtState::Tracked {
                info: CtInfo::Related,
                conn,
            },
            ForcedState::Established => {
                conn.seen_reply = true;
                conn.confirmed = true;
                conn.src_nat_done = true;
                conn.dst_nat_done = true;
                CtState::Tracked {
                    info: CtInfo::Established,
                    conn,
                }
            }
        };
        let state = self.ct.name().to_string();
        self.emit(Event::Conntrack {
            state: state.clone(),
            reason: format!("forced by --ctstate {state}"),
        });
        self.assume(
            "conntrack",
            format!("conntrack state forced to {state} (--ctstate)"),
        );
        true
    }

    /// `resolve_normal_ct`: the packet's tuple found in the table, in either
    /// direction. ORIGINAL with a reply seen → ESTABLISHED, unreplied → NEW (its
    /// NAT already set up, so the nat chains are not consulted again); REPLY →
    /// ESTABLISHED_REPLY.
    fn existing_conn(&mut self) -> bool {
        if self.related_conn() {
            return true;
        }
        let tuple = self.tuple();
        let Some((entry, dir)) = self.host.conntrack.find(&tuple, self.ct_zone()) else {
            return false;
        };
        let conn = entry.connection();
        let info = match dir {
            Direction::Reply => CtInfo::EstablishedReply,
            Direction::Original if conn.seen_reply => CtInfo::Established,
            Direction::Original => CtInfo::New,
        };
        if self.tcp_reopens(entry.state.as_deref(), dir) {
            return false;
        }
        if let Some(reason) = self.tcp_invalid_on(entry.state.as_deref(), dir) {
            // -NF_ACCEPT: the packet goes on without its conntrack
            self.ct = CtState::Invalid;
            self.emit(Event::Conntrack {
                state: "INVALID".into(),
                reason: format!("conntrack entry (line {}): {reason}", entry.line),
            });
            return true;
        }
        let state = CtState::Tracked { info, conn };
        let reason = format!(
            "conntrack entry (line {}) matches the {} tuple: {}",
            entry.line,
            if dir == Direction::Reply {
                "reply"
            } else {
                "original"
            },
            entry.text.split_whitespace().collect::<Vec<_>>().join(" ")
        );
        self.emit(Event::Conntrack {
            state: match info {
                CtInfo::EstablishedReply => "ESTABLISHED (reply)".into(),
                _ => state.name().into(),
            },
            reason,
        });
        self.ct = state;
        true
    }

    /// `nf_conntrack_inet_error`: an ICMP error carries the header of the packet
    /// it is about; that header's tuple, inverted, is looked up, and a hit makes
    /// the error RELATED (RELATED_REPLY when the hit is the reply tuple).
    fn related_conn(&mut self) -> bool {
        let Transport::Icmp {
            icmp_type: 3 | 4 | 5 | 11 | 12,
            ..
        } = self.pkt.transport
        else {
            return false;
        };
        let Some(inner) = self.pkt.icmp_inner else {
            return false;
        };
        let Some((entry, dir)) = self.host.conntrack.find(&inner.invert(), self.ct_zone()) else {
            return false;
        };
        let info = if dir == Direction::Reply {
            CtInfo::RelatedReply
        } else {
            CtInfo::Related
        };
        let reason = format!(
            "ICMP error about {inner}: related to the conntrack entry on line {} ({})",
            entry.line,
            if dir == Direction::Reply {
                "reply direction"
            } else {
                "original direction"
            }
        );
        self.ct = CtState::Tracked {
            info,
            conn: entry.connection(),
        };
        self.emit(Event::Conntrack {
            state: "RELATED".into(),
            reason,
        });
        true
    }

    /// `tcp_packet`: a SYN in the original direction on a closing entry
    /// (TIME_WAIT, CLOSE) kills it and starts a new connection.
    fn tcp_reopens(&mut self, state: Option<&str>, dir: Direction) -> bool {
        let Transport::Tcp { flags, .. } = self.pkt.transport else {
            return false;
        };
        let syn_only = flags & (tcp_flag::SYN | tcp_flag::ACK) == tcp_flag::SYN;
        let closing = matches!(state, Some("TIME_WAIT" | "CLOSE"));
        if syn_only && closing && dir == Direction::Original {
            self.assume(
                "conntrack",
                "a SYN on a TIME_WAIT/CLOSE entry re-opens the connection (tcp_packet: the old entry is killed)".into(),
            );
            return true;
        }
        false
    }

    /// The clash check of `__nf_conntrack_confirm` / `nf_ct_resolve_clash`: when an
    /// entry in the table already holds our original or reply tuple, TCP (no
    /// `allow_clash`) is dropped; UDP/ICMP adopt an identical or un-NATed entry,
    /// and are dropped when the clashing entry is NATed. Returns the drop reason.
    pub fn confirm_clash(&mut self) -> Option<String> {
        let conn = self.ct.conn()?.clone();
        let (entry, which) = [(conn.orig, "original"), (conn.reply, "reply")]
            .into_iter()
            .find_map(|(t, which)| {
                self.host
                    .conntrack
                    .find(&t, conn.zone)
                    .map(|(e, _)| (e, which))
            })?;
        let other = entry.connection();
        let allow_clash = conn.orig.proto != 6;
        let resolvable = allow_clash
            && (!(other.src_nat || other.dst_nat)
                || (other.orig == conn.orig && other.reply == conn.reply));
        let flows = format!(
            "this flow ({} → reply {}) and the entry on line {} ({} → reply {}) share the {which} tuple",
            conn.orig, conn.reply, entry.line, entry.orig, entry.reply
        );
        if resolvable {
            self.emit(Event::Conntrack {
                state: "CLASH RESOLVED".into(),
                reason: format!("{flows}; the packet adopts the existing entry (clash_resolve +1)"),
            });
            return None;
        }
        let reason = format!("conntrack insert failed at confirm: {flows}; dropped (conntrack -S: insert_failed +1, drop +1)");
        self.emit(Event::Conntrack {
            state: "CLASH".into(),
            reason: reason.clone(),
        });
        Some(reason)
    }

    /// Whether conntrack runs in this netns: decided from the ruleset unless
    /// `--assume conntrack=on|off` says otherwise.
    fn conntrack_on(&mut self) -> bool {
        match self.opts.assume.get("conntrack") {
            "on" => true,
            "off" => false,
            _ if self.host.conntrack_enabled => true,
            _ => {
                self.assume(
                    "conntrack",
                    "no rule needs connection tracking, so the kernel does not track (nat chains never run); \
                     --assume conntrack=on if something else on the host enables it"
                        .into(),
                );
                false
            }
        }
    }

    /// The packet's tuple (`nf_ct_get_tuple`).
    pub fn tuple(&self) -> Tuple {
        let (sport, dport) = match self.pkt.transport {
            Transport::Tcp { sport, dport, .. } | Transport::Udp { sport, dport } => (sport, dport),
            Transport::Icmp {
                icmp_type,
                code,
                id,
            } => (id, u16::from(icmp_type) << 8 | u16::from(code)),
            Transport::Other { .. } => (0, 0),
        };
        Tuple {
            src: self.pkt.src,
            dst: self.pkt.dst,
            proto: self.pkt.proto(),
            sport,
            dport,
        }
    }

    /// `reason`, and why an entry with this tuple was not found when it is in
    /// another conntrack zone.
    fn zone_hint(&self, reason: String) -> String {
        let zone = self.ct_zone();
        match self.host.conntrack.find_in_other_zone(&self.tuple(), zone) {
            Some(e) => format!(
                "{reason}; the entry on line {} holds this tuple in zone {}, and this packet is looked up in zone {zone} (`CT --zone`)",
                e.line, e.zone
            ),
            None => reason,
        }
    }

    /// Whether the l4 tracker lets a packet without an entry start a connection.
    fn new_conn_verdict(&mut self) -> Result<String, String> {
        match self.pkt.transport {
            Transport::Tcp { flags, .. } => self.tcp_new(flags),
            Transport::Icmp { icmp_type, .. } => icmp_new(icmp_type),
            Transport::Udp { .. } | Transport::Other { .. } => {
                Ok("no conntrack entry for this tuple: first packet of a new connection".into())
            }
        }
    }

    /// `tcp_error` (valid flag combinations) then `tcp_new` (only SYN, or a bare
    /// ACK when `nf_conntrack_tcp_loose` is on, may create a connection).
    fn tcp_new(&mut self, flags: u8) -> Result<String, String> {
        use tcp_flag::{ACK, CWR, ECE, FIN, PSH, RST, SYN};
        let f = flags & !(ECE | CWR | PSH);
        if !tcp_flags_valid(flags) {
            return Err(format!(
                "TCP flags 0x{flags:02x} are not a valid combination (tcp_error)"
            ));
        }
        if f & SYN != 0 && f & ACK == 0 {
            return Ok("TCP SYN without a conntrack entry: new connection (SYN_SENT)".into());
        }
        if f & (SYN | RST | FIN) == 0 {
            let loose = if self.opts.assume.is_set("tcp-loose") {
                self.opts.assume.get("tcp-loose") != "0"
            } else {
                self.host.sysctl("net.netfilter.nf_conntrack_tcp_loose") != Some("0")
            };
            self.assume(
                "tcp-loose",
                format!("net.netfilter.nf_conntrack_tcp_loose={}", u8::from(loose)),
            );
            return if loose {
                Ok("TCP ACK without an entry: picked up mid-stream (tcp_loose=1)".into())
            } else {
                Err("TCP ACK without an entry and tcp_loose=0".into())
            };
        }
        Err(
            "TCP SYN/ACK, FIN or RST without a conntrack entry cannot start a connection (tcp_new)"
                .into(),
        )
    }
}

/// `tcp_error`: the flag combinations `tcp_valid_flags` allows (ECE, CWR and
/// PSH ignored).
fn tcp_flags_valid(flags: u8) -> bool {
    use tcp_flag::{ACK, CWR, ECE, FIN, PSH, RST, SYN, URG};
    let valid = [
        SYN,
        SYN | URG,
        SYN | ACK,
        RST,
        RST | ACK,
        FIN | ACK,
        FIN | ACK | URG,
        ACK,
        ACK | URG,
    ];
    valid.contains(&(flags & !(ECE | CWR | PSH)))
}

/// `tcp_conntrack_names`, in `enum tcp_conntrack` order: the columns of
/// [`TCP_INVALID`].
const TCP_STATES: [&str; 10] = [
    "NONE",
    "SYN_SENT",
    "SYN_RECV",
    "ESTABLISHED",
    "FIN_WAIT",
    "CLOSE_WAIT",
    "LAST_ACK",
    "TIME_WAIT",
    "CLOSE",
    "SYN_SENT2",
];

/// Where `tcp_conntracks` (net/netfilter/nf_conntrack_proto_tcp.c) leads to
/// sIV, by direction (original, reply) and flag set (syn, synack, fin, ack,
/// rst, none); one character per old state, `V` = invalid.
const TCP_INVALID: [[&str; 6]; 2] = [
    [
        "..........",
        "VV.VVVVVV.",
        "VV.......V",
        ".V.......V",
        "V.........",
        "VVVVVVVVVV",
    ],
    [
        "V.VVVVV.V.",
        "V.........",
        "VV.......V",
        "V.........",
        "V.........",
        "VVVVVVVVVV",
    ],
];

/// `get_conntrack_index`: the row of `tcp_conntracks` for a flag set.
fn tcp_index(flags: u8) -> (usize, &'static str) {
    use tcp_flag::{ACK, FIN, RST, SYN};
    match flags {
        f if f & RST != 0 => (4, "RST"),
        f if f & SYN != 0 && f & ACK != 0 => (1, "SYN/ACK"),
        f if f & SYN != 0 => (0, "SYN"),
        f if f & FIN != 0 => (2, "FIN"),
        f if f & ACK != 0 => (3, "ACK"),
        _ => (5, "no SYN/ACK/FIN/RST"),
    }
}

impl Walk<'_> {
    /// `nf_conntrack_tcp_packet` on an existing entry: `tcp_error` (flag
    /// combination) and the state table; either makes the packet invalid
    /// (-NF_ACCEPT). Window tracking is not modelled. `None`: not invalid.
    fn tcp_invalid_on(&self, state: Option<&str>, dir: Direction) -> Option<String> {
        let Transport::Tcp { flags, .. } = self.pkt.transport else {
            return None;
        };
        if !tcp_flags_valid(flags) {
            return Some(format!(
                "TCP flags 0x{flags:02x} are not a valid combination (tcp_error)"
            ));
        }
        let old = TCP_STATES.iter().position(|s| Some(*s) == state)?;
        let (row, name) = tcp_index(flags);
        let d = usize::from(dir == Direction::Reply);
        let invalid = TCP_INVALID[d][row].as_bytes()[old] == b'V';
        invalid.then(|| {
            format!(
                "TCP {name} in the {} direction of a {} connection: no such transition (tcp_conntracks: sIV)",
                if d == 0 { "original" } else { "reply" },
                TCP_STATES[old]
            )
        })
    }
}

/// `icmp_packet`: only requests start a connection; errors without a related
/// entry and unsolicited replies are INVALID.
fn icmp_new(icmp_type: u8) -> Result<String, String> {
    match icmp_type {
        8 | 13 | 15 | 17 => Ok("ICMP request: new connection".into()),
        3 | 4 | 5 | 11 | 12 => Err("ICMP error about no known connection".into()),
        t => Err(format!("ICMP type {t} cannot start a connection")),
    }
}
