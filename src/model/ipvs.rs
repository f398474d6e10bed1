//! IPVS virtual services, real servers and connections, as `ipvsadm -Sn`,
//! `ipvsadm -Ln` and `ipvsadm -Lnc` describe them.
//!
//! Read first: ../shared/docs/kernel-semantics.md §1.5 and docs/ipvs.md. The
//! vocabulary is the kernel's (`struct ip_vs_service`, `struct ip_vs_dest`,
//! `struct ip_vs_conn` in include/net/ip_vs.h).

use std::collections::HashMap;
use std::fmt;
use std::net::Ipv4Addr;

/// The transport protocols IPVS balances (`-t`, `-u`, `--sctp-service`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IpvsProto {
    /// TCP (`-t`, `TCP`).
    Tcp,
    /// UDP (`-u`, `UDP`).
    Udp,
    /// SCTP (`--sctp-service`, `SCTP`).
    Sctp,
}

/// `(protocol, ipvsadm -Ln name, IP protocol number)`: the one table both ways.
const PROTOS: [(IpvsProto, &str, u8); 3] = [
    (IpvsProto::Tcp, "TCP", 6),
    (IpvsProto::Udp, "UDP", 17),
    (IpvsProto::Sctp, "SCTP", 132),
];

impl IpvsProto {
    /// The IP protocol number.
    pub fn number(self) -> u8 {
        PROTOS.iter().find(|p| p.0 == self).map_or(0, |p| p.2)
    }

    /// From an IP protocol number.
    pub fn from_number(n: u8) -> Option<IpvsProto> {
        PROTOS.iter().find(|p| p.2 == n).map(|p| p.0)
    }

    /// From the name `ipvsadm -Ln` prints (`TCP`, `UDP`, `SCTP`).
    pub fn from_name(s: &str) -> Option<IpvsProto> {
        PROTOS.iter().find(|p| p.1 == s).map(|p| p.0)
    }

    /// The name `ipvsadm -Ln` prints.
    pub fn name(self) -> &'static str {
        PROTOS.iter().find(|p| p.0 == self).map_or("?", |p| p.1)
    }
}

impl fmt::Display for IpvsProto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a virtual service is addressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServiceKey {
    /// `-t|-u|--sctp-service VIP:PORT` (port 0: the persistent catch-all).
    Addr {
        /// Protocol.
        proto: IpvsProto,
        /// Virtual address.
        vip: Ipv4Addr,
        /// Virtual port (0 = any port, `nullsvc`).
        port: u16,
    },
    /// `-f FWMARK`: packets whose `skb->mark` equals the mark.
    Fwmark(u32),
}

impl fmt::Display for ServiceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceKey::Addr { proto, vip, port } => write!(f, "{proto} {vip}:{port}"),
            ServiceKey::Fwmark(m) => write!(f, "FWM {m}"),
        }
    }
}

/// The schedulers of net/netfilter/ipvs/ip_vs_*.c.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scheduler {
    /// Round robin (ip_vs_rr.c).
    Rr,
    /// Weighted round robin (ip_vs_wrr.c).
    Wrr,
    /// Least connection (ip_vs_lc.c).
    Lc,
    /// Weighted least connection (ip_vs_wlc.c), ipvsadm's default.
    Wlc,
    /// Locality-based least connection (ip_vs_lblc.c).
    Lblc,
    /// Locality-based least connection with replication (ip_vs_lblcr.c).
    Lblcr,
    /// Destination hashing (ip_vs_dh.c).
    Dh,
    /// Source hashing (ip_vs_sh.c).
    Sh,
    /// Shortest expected delay (ip_vs_sed.c).
    Sed,
    /// Never queue (ip_vs_nq.c).
    Nq,
    /// Weighted failover (ip_vs_fo.c).
    Fo,
    /// Weighted overflow (ip_vs_ovf.c).
    Ovf,
    /// Maglev hashing (ip_vs_mh.c).
    Mh,
    /// Power of two choices (ip_vs_twos.c, random).
    Twos,
    /// A name nftrace does not know.
    Unknown(String),
}

/// Scheduler names as ipvsadm spells them.
const SCHEDULERS: [(&str, Scheduler); 14] = [
    ("rr", Scheduler::Rr),
    ("wrr", Scheduler::Wrr),
    ("lc", Scheduler::Lc),
    ("wlc", Scheduler::Wlc),
    ("lblc", Scheduler::Lblc),
    ("lblcr", Scheduler::Lblcr),
    ("dh", Scheduler::Dh),
    ("sh", Scheduler::Sh),
    ("sed", Scheduler::Sed),
    ("nq", Scheduler::Nq),
    ("fo", Scheduler::Fo),
    ("ovf", Scheduler::Ovf),
    ("mh", Scheduler::Mh),
    ("twos", Scheduler::Twos),
];

impl Scheduler {
    /// From its name; unknown names are kept.
    pub fn from_name(s: &str) -> Scheduler {
        SCHEDULERS
            .iter()
            .find(|(n, _)| *n == s)
            .map_or_else(|| Scheduler::Unknown(s.to_string()), |(_, sc)| sc.clone())
    }

    /// Its name as ipvsadm prints it.
    pub fn name(&self) -> &str {
        match self {
            Scheduler::Unknown(s) => s,
            known => SCHEDULERS
                .iter()
                .find(|(_, sc)| sc == known)
                .map_or("?", |(n, _)| n),
        }
    }
}

impl fmt::Display for Scheduler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Service flag bits (`IP_VS_SVC_F_*`, include/uapi/linux/ip_vs.h).
pub mod svc_flag {
    /// `IP_VS_SVC_F_PERSISTENT`
    pub const PERSISTENT: u32 = 0x0001;
    /// `IP_VS_SVC_F_ONEPACKET` (`-o`)
    pub const ONEPACKET: u32 = 0x0004;
    /// `IP_VS_SVC_F_SCHED1`: `sh-fallback`, `mh-fallback`, `flag-1`.
    pub const SCHED1: u32 = 0x0008;
    /// `IP_VS_SVC_F_SCHED2`: `sh-port`, `mh-port`, `flag-2`.
    pub const SCHED2: u32 = 0x0010;
    /// `IP_VS_SVC_F_SCHED3`: `flag-3`.
    pub const SCHED3: u32 = 0x0020;
    /// `-b` names and their bits (ipvsadm.c `parse_sched_flags`).
    pub const NAMES: [(&str, u32); 7] = [
        ("sh-fallback", SCHED1),
        ("sh-port", SCHED2),
        ("mh-fallback", SCHED1),
        ("mh-port", SCHED2),
        ("flag-1", SCHED1),
        ("flag-2", SCHED2),
        ("flag-3", SCHED3),
    ];
}

/// The forwarding method of a real server (`IP_VS_CONN_F_FWD_MASK`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FwdMethod {
    /// `-m`, `Masq`: NAT, `ip_vs_nat_xmit`.
    Masq,
    /// `-g`, `Route`: direct routing, `ip_vs_dr_xmit` (ipvsadm's default).
    Route,
    /// `-i`, `Tunnel`: IPIP (or GUE/GRE), `ip_vs_tunnel_xmit`.
    Tunnel,
    /// `Local`: the real server is this host (`IP_VS_CONN_F_LOCALNODE`,
    /// shown as `-g` by `ipvsadm -S`), `ip_vs_null_xmit`.
    Local,
}

/// `(method, -Ln name, -S switch)`.
const METHODS: [(FwdMethod, &str, &str); 4] = [
    (FwdMethod::Masq, "Masq", "-m"),
    (FwdMethod::Route, "Route", "-g"),
    (FwdMethod::Tunnel, "Tunnel", "-i"),
    (FwdMethod::Local, "Local", "-g"),
];

impl FwdMethod {
    /// From the `ipvsadm -Ln` column (`Masq`, `Route`, `Tunnel`, `Local`).
    pub fn from_name(s: &str) -> Option<FwdMethod> {
        METHODS.iter().find(|m| m.1 == s).map(|m| m.0)
    }

    /// The `ipvsadm -Ln` name.
    pub fn name(self) -> &'static str {
        METHODS.iter().find(|m| m.0 == self).map_or("?", |m| m.1)
    }

    /// The `ipvsadm -S` switch.
    pub fn switch(self) -> &'static str {
        METHODS.iter().find(|m| m.0 == self).map_or("?", |m| m.2)
    }
}

impl fmt::Display for FwdMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A real server (`struct ip_vs_dest`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dest {
    /// Real server address.
    pub addr: Ipv4Addr,
    /// Real server port (0: keep the packet's port).
    pub port: u16,
    /// Forwarding method.
    pub method: FwdMethod,
    /// Weight (0: quiesced, never scheduled).
    pub weight: i32,
    /// `-x` upper connection threshold (0: none).
    pub u_threshold: u32,
    /// `-y` lower connection threshold (0: none).
    pub l_threshold: u32,
    /// `ActiveConn` from `ipvsadm -Ln`, when the dump has it.
    pub active_conns: Option<u32>,
    /// `InActConn` from `ipvsadm -Ln`, when the dump has it.
    pub inact_conns: Option<u32>,
    /// Tunnel type for `-i` (`ipip` unless `--tun-type` says otherwise).
    pub tun_type: Option<String>,
    /// 1-based line in the dump.
    pub line: usize,
}

impl Dest {
    /// A real server with ipvsadm's defaults (weight 1, no thresholds, no counts).
    pub fn new(addr: Ipv4Addr, port: u16, method: FwdMethod) -> Dest {
        Dest {
            addr,
            port,
            method,
            weight: 1,
            u_threshold: 0,
            l_threshold: 0,
            active_conns: None,
            inact_conns: None,
            tun_type: None,
            line: 0,
        }
    }

    /// `ip_vs_dest_conn_overhead()` (include/net/ip_vs.h):
    /// `(activeconns << 8) + inactconns`, when the counts are known.
    pub fn conn_overhead(&self) -> Option<u64> {
        Some((u64::from(self.active_conns?) << 8) + u64::from(self.inact_conns?))
    }

    /// `ip_vs_dest_totalconns()`: active plus inactive, when known.
    pub fn total_conns(&self) -> Option<u64> {
        Some(u64::from(self.active_conns?) + u64::from(self.inact_conns?))
    }

    /// Whether `IP_VS_DEST_F_OVERLOAD` is set.
    ///
    /// `ip_vs_bind_dest` (ip_vs_conn.c) sets it when `u_threshold != 0` and
    /// `totalconns >= u_threshold`; `ip_vs_unbind_dest` clears it when
    /// `totalconns < l_threshold` (or `totalconns * 4 < u_threshold * 3` when no
    /// lower threshold). Between the two the flag depends on history: `None`.
    /// Without counts (a `-Sn` dump) it is `None` too, unless no threshold is set.
    pub fn overloaded(&self) -> Option<bool> {
        if self.u_threshold == 0 {
            return Some(false);
        }
        let total = self.total_conns()?;
        if total >= u64::from(self.u_threshold) {
            return Some(true);
        }
        let clear = if self.l_threshold != 0 {
            total < u64::from(self.l_threshold)
        } else {
            total * 4 < u64::from(self.u_threshold) * 3
        };
        if clear {
            Some(false)
        } else {
            None
        }
    }
}

/// A virtual service (`struct ip_vs_service`) with its real servers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// Protocol/VIP/port or fwmark.
    pub key: ServiceKey,
    /// Scheduler.
    pub scheduler: Scheduler,
    /// `IP_VS_SVC_F_*` bits (persistent, one-packet, scheduler flags).
    pub flags: u32,
    /// Persistence timeout in seconds (`-p`), when persistent.
    pub timeout: Option<u32>,
    /// Persistence granularity (`-M`), 255.255.255.255 by default.
    pub netmask: Ipv4Addr,
    /// Persistence engine (`--pe sip`).
    pub pe: Option<String>,
    /// Real servers in dump order (ipvsadm sorts them by address and port).
    pub dests: Vec<Dest>,
    /// 1-based line in the dump.
    pub line: usize,
}

impl Service {
    /// A service with ipvsadm's defaults (not persistent, full netmask).
    pub fn new(key: ServiceKey, scheduler: Scheduler) -> Service {
        Service {
            key,
            scheduler,
            flags: 0,
            timeout: None,
            netmask: Ipv4Addr::BROADCAST,
            pe: None,
            dests: Vec::new(),
            line: 0,
        }
    }

    /// Whether `IP_VS_SVC_F_PERSISTENT` is set.
    pub fn persistent(&self) -> bool {
        self.flags & svc_flag::PERSISTENT != 0
    }

    /// The service port (0 for fwmark services, as `svc->port`).
    pub fn port(&self) -> u16 {
        match self.key {
            ServiceKey::Addr { port, .. } => port,
            ServiceKey::Fwmark(_) => 0,
        }
    }

    /// The fwmark (0 for address services, as `svc->fwmark`).
    pub fn fwmark(&self) -> u32 {
        match self.key {
            ServiceKey::Fwmark(m) => m,
            ServiceKey::Addr { .. } => 0,
        }
    }

    /// The real server at `addr:port`.
    pub fn dest(&self, addr: Ipv4Addr, port: u16) -> Option<&Dest> {
        self.dests.iter().find(|d| d.addr == addr && d.port == port)
    }
}

/// How `ip_vs_service_find` found a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceMatch {
    /// `__ip_vs_svc_fwm_find`: the packet's mark equals the service's fwmark.
    Fwmark,
    /// `__ip_vs_service_find(proto, vaddr, vport)`.
    Exact,
    /// The FTP control service (port 21) found for a data port (20 or ≥ 1024).
    FtpData,
    /// `__ip_vs_service_find(proto, vaddr, 0)`: the port-zero catch-all.
    PortZero,
}

/// The protocol column of `ipvsadm -Lnc` (`ip_vs_proto_name`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnProto {
    /// TCP, UDP or SCTP.
    L4(IpvsProto),
    /// `IP`: a persistence template of an fwmark service (`IPPROTO_IP`).
    Ip,
}

impl fmt::Display for ConnProto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnProto::L4(p) => p.fmt(f),
            ConnProto::Ip => f.write_str("IP"),
        }
    }
}

/// One `ipvsadm -Lnc` line (`struct ip_vs_conn`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpvsConn {
    /// Protocol.
    pub proto: ConnProto,
    /// Seconds left before expiry (`mm:ss`).
    pub expire: u32,
    /// State name (`ESTABLISHED`, `SYN_RECV`, `TIME_WAIT`, `NONE`, `ASSURED`, …).
    pub state: String,
    /// Client address (masked by `-M` for templates).
    pub caddr: Ipv4Addr,
    /// Client port (0 for templates).
    pub cport: u16,
    /// Virtual address (the fwmark as an address for fwmark templates).
    pub vaddr: Ipv4Addr,
    /// Virtual port (0 for port-zero and fwmark templates).
    pub vport: u16,
    /// Real server address.
    pub daddr: Ipv4Addr,
    /// Real server port.
    pub dport: u16,
    /// `pe name` and `pe_data` columns (`--persistent-conn`).
    pub pe: Option<(String, String)>,
    /// 1-based line in the dump.
    pub line: usize,
}

impl IpvsConn {
    /// A persistence template (`IP_VS_CONN_F_TEMPLATE`): client port 0 and a
    /// template state (`ip_vs_ctpl_state_name_table`: `NONE`, `ASSURED`), or
    /// protocol `IP`.
    pub fn is_template(&self) -> bool {
        self.proto == ConnProto::Ip
            || (self.cport == 0 && matches!(self.state.as_str(), "NONE" | "ASSURED"))
    }
}

/// Hash key of the connection table: `ip_vs_conn_hashkey_param` hashes
/// `(protocol, caddr, cport)` and `ip_vs_conn_in_get` compares
/// `(protocol, caddr, cport, vaddr, vport)`.
type ConnKey = (ConnProto, Ipv4Addr, u16, Ipv4Addr, u16);

/// The connection table of `ipvsadm -Lnc`, indexed as the kernel looks it up.
#[derive(Debug, Clone, Default)]
pub struct IpvsConnTable {
    /// Entries in dump order.
    pub conns: Vec<IpvsConn>,
    /// `(proto, caddr, cport, vaddr, vport)` → position (first entry wins).
    by_client: HashMap<ConnKey, usize>,
    /// `(proto, daddr, dport, caddr, cport)` → position, for replies.
    by_dest: HashMap<ConnKey, usize>,
}

impl IpvsConnTable {
    /// Indexes the entries.
    pub fn new(conns: Vec<IpvsConn>) -> IpvsConnTable {
        let mut t = IpvsConnTable {
            conns,
            ..IpvsConnTable::default()
        };
        for (i, c) in t.conns.iter().enumerate() {
            let k = (c.proto, c.caddr, c.cport, c.vaddr, c.vport);
            t.by_client.entry(k).or_insert(i);
            if !c.is_template() {
                let k = (c.proto, c.daddr, c.dport, c.caddr, c.cport);
                t.by_dest.entry(k).or_insert(i);
            }
        }
        t
    }

    /// `ip_vs_conn_in_get`: the entry of a client→VIP packet (templates included,
    /// as `ip_vs_ct_in_get` uses the same table).
    pub fn in_get(
        &self,
        proto: ConnProto,
        caddr: Ipv4Addr,
        cport: u16,
        vaddr: Ipv4Addr,
        vport: u16,
    ) -> Option<&IpvsConn> {
        let i = self.by_client.get(&(proto, caddr, cport, vaddr, vport))?;
        self.conns.get(*i)
    }

    /// `ip_vs_conn_out_get`: the entry of a real server→client reply
    /// (`daddr:dport` is the reply's source, `caddr:cport` its destination).
    pub fn out_get(
        &self,
        proto: IpvsProto,
        daddr: Ipv4Addr,
        dport: u16,
        caddr: Ipv4Addr,
        cport: u16,
    ) -> Option<&IpvsConn> {
        let i = self
            .by_dest
            .get(&(ConnProto::L4(proto), daddr, dport, caddr, cport))?;
        self.conns.get(*i)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.conns.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }
}

/// All of IPVS on one host: services (`ipvsadm.txt`) and connections (`ipvs-conn.txt`).
#[derive(Debug, Clone, Default)]
pub struct Ipvs {
    /// Services in dump order.
    pub services: Vec<Service>,
    /// Connections and templates.
    pub conns: IpvsConnTable,
}

impl Ipvs {
    /// True when no service is configured (`ipvs->enable == 0`: the hooks do nothing).
    pub fn is_empty(&self) -> bool {
        self.services.is_empty()
    }

    /// `ip_vs_service_find` (ip_vs_ctl.c): the fwmark table first when the
    /// packet has a mark, then `(protocol, vaddr, vport)`, then for TCP the FTP
    /// service (port 21) when one exists and `vport` is 20 or unprivileged
    /// (≥ 1024, `inet_port_requires_bind_service`), then the port-zero service.
    pub fn service_find(
        &self,
        mark: u32,
        proto: IpvsProto,
        vaddr: Ipv4Addr,
        vport: u16,
    ) -> Option<(&Service, ServiceMatch)> {
        if mark != 0 {
            if let Some(s) = self.find_key(ServiceKey::Fwmark(mark)) {
                return Some((s, ServiceMatch::Fwmark));
            }
        }
        let addr = |port| ServiceKey::Addr {
            proto,
            vip: vaddr,
            port,
        };
        if let Some(s) = self.find_key(addr(vport)) {
            return Some((s, ServiceMatch::Exact));
        }
        if proto == IpvsProto::Tcp && (vport == 20 || vport >= 1024) {
            if let Some(s) = self.find_key(addr(21)) {
                return Some((s, ServiceMatch::FtpData));
            }
        }
        self.find_key(addr(0)).map(|s| (s, ServiceMatch::PortZero))
    }

    /// The service with exactly this key.
    pub fn find_key(&self, key: ServiceKey) -> Option<&Service> {
        self.services.iter().find(|s| s.key == key)
    }

    /// True when `addr` is the VIP of some address service (what the host must
    /// route locally for `ip_vs_in` to see the packet).
    pub fn is_vip(&self, addr: Ipv4Addr) -> bool {
        self.services
            .iter()
            .any(|s| matches!(s.key, ServiceKey::Addr { vip, .. } if vip == addr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    fn svc(key: ServiceKey) -> Service {
        Service::new(key, Scheduler::Rr)
    }

    fn tcp(vip: &str, port: u16) -> ServiceKey {
        ServiceKey::Addr {
            proto: IpvsProto::Tcp,
            vip: ip(vip),
            port,
        }
    }

    #[test]
    fn service_find_follows_ip_vs_service_find_order() {
        let ipvs = Ipvs {
            services: vec![
                svc(tcp("10.0.0.1", 80)),
                svc(tcp("10.0.0.1", 0)),
                svc(tcp("10.0.0.1", 21)),
                svc(ServiceKey::Fwmark(7)),
            ],
            conns: IpvsConnTable::default(),
        };
        let find = |mark, port| {
            ipvs.service_find(mark, IpvsProto::Tcp, ip("10.0.0.1"), port)
                .map(|(s, m)| (s.key, m))
        };
        // ip_vs_service_find: the fwmark table is checked first.
        assert_eq!(
            find(7, 80),
            Some((ServiceKey::Fwmark(7), ServiceMatch::Fwmark))
        );
        // An unknown mark falls through to the address table.
        assert_eq!(
            find(8, 80),
            Some((tcp("10.0.0.1", 80), ServiceMatch::Exact))
        );
        // FTP data: vport >= 1024 finds the port-21 service before port zero.
        assert_eq!(
            find(0, 5000),
            Some((tcp("10.0.0.1", 21), ServiceMatch::FtpData))
        );
        // Privileged non-FTP port: the port-zero catch-all (nullsvc_counter).
        assert_eq!(
            find(0, 443),
            Some((tcp("10.0.0.1", 0), ServiceMatch::PortZero))
        );
    }

    #[test]
    fn overload_follows_bind_and_unbind_thresholds() {
        let mut d = Dest::new(ip("10.0.0.5"), 80, FwdMethod::Masq);
        // (u, l, active, inactive, expected) — ip_vs_bind_dest / ip_vs_unbind_dest.
        let cases = [
            (0, 0, Some(100), Some(0), Some(false)), // no threshold: never set
            (10, 0, Some(10), Some(0), Some(true)),  // total >= u
            (10, 0, Some(7), Some(0), Some(false)),  // 7*4 < 10*3
            (10, 0, Some(8), Some(0), None),         // hysteresis band
            (10, 5, Some(4), Some(0), Some(false)),  // total < l
            (10, 0, None, None, None),               // -Sn: counts unknown
        ];
        for (u, l, a, i, want) in cases {
            d.u_threshold = u;
            d.l_threshold = l;
            d.active_conns = a;
            d.inact_conns = i;
            assert_eq!(d.overloaded(), want, "u={u} l={l} a={a:?}");
        }
    }

    #[test]
    fn conn_table_finds_by_client_and_by_dest() {
        let c = IpvsConn {
            proto: ConnProto::L4(IpvsProto::Tcp),
            expire: 898,
            state: "ESTABLISHED".into(),
            caddr: ip("10.0.0.1"),
            cport: 5000,
            vaddr: ip("10.96.0.1"),
            vport: 443,
            daddr: ip("10.0.0.5"),
            dport: 6443,
            pe: None,
            line: 1,
        };
        let t = IpvsConnTable::new(vec![c]);
        let tcp = ConnProto::L4(IpvsProto::Tcp);
        assert!(t
            .in_get(tcp, ip("10.0.0.1"), 5000, ip("10.96.0.1"), 443)
            .is_some());
        assert!(t
            .in_get(tcp, ip("10.0.0.1"), 5001, ip("10.96.0.1"), 443)
            .is_none());
        assert!(t
            .out_get(IpvsProto::Tcp, ip("10.0.0.5"), 6443, ip("10.0.0.1"), 5000)
            .is_some());
    }

    #[test]
    fn names_round_trip() {
        for (n, s) in SCHEDULERS {
            assert_eq!(Scheduler::from_name(n), s);
            assert_eq!(s.name(), n);
        }
        assert_eq!(Scheduler::from_name("xyz").name(), "xyz");
        for (m, n, _) in METHODS {
            assert_eq!(FwdMethod::from_name(n), Some(m));
        }
    }
}
