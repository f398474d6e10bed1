//! TEMPORARY stub: replaced by the routing branch.
#![allow(missing_docs, unused)]
use crate::model::routing::{RouteType, Routing, Scope};
use std::net::Ipv4Addr;

#[derive(Debug, Clone)]
pub struct FlowKey {
    pub dst: Ipv4Addr,
    pub src: Ipv4Addr,
    pub iif: Option<String>,
    pub oif: Option<String>,
    pub mark: u32,
    pub tos: u8,
    pub proto: u8,
    pub sport: Option<u16>,
    pub dport: Option<u16>,
    pub uid: u32,
}
pub fn addr_type(_r: &Routing, _a: Ipv4Addr, _d: Option<&str>) -> RouteType { RouteType::Unicast }
pub fn inet_select_addr(_r: &Routing, _dev: &str, _dst: Ipv4Addr, _s: Scope) -> Option<Ipv4Addr> { None }
pub fn first_addr(_r: &Routing, _dev: &str) -> Option<Ipv4Addr> { None }
