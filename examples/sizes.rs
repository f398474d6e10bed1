//! Prints the in-memory size of the model types there are one of per rule, route
//! or conntrack entry (issue 6).
//!
//! `cargo run --release --example sizes`

use std::mem::size_of;

use nftrace::model::matches::{Match, MatchKind};
use nftrace::model::ruleset::{Chain, IpHeaderMatch, Rule, RuleSpelling};
use nftrace::model::target::Target;
use nftrace::model::text::Text;

fn main() {
    println!(
        "Route          {:4}",
        size_of::<nftrace::model::routing::Route>()
    );
    println!(
        "Nexthop        {:4}",
        size_of::<nftrace::model::routing::Nexthop>()
    );
    println!(
        "CtEntry        {:4}",
        size_of::<nftrace::model::conntrack::ConntrackEntry>()
    );
    println!("Rule           {:4}", size_of::<Rule>());
    println!("IpHeaderMatch  {:4}", size_of::<IpHeaderMatch>());
    println!("RuleSpelling   {:4}", size_of::<RuleSpelling>());
    println!("Target         {:4}", size_of::<Target>());
    println!("Match          {:4}", size_of::<Match>());
    println!("MatchKind      {:4}", size_of::<MatchKind>());
    println!("Text           {:4}", size_of::<Text>());
    println!("Chain          {:4}", size_of::<Chain>());
}
