//! Text for the analyses: `--explain`'s near misses, `lint` findings and
//! `search` classes (JSON is their serde form).

use std::fmt::Write as _;

use comfy_table::{presets::UTF8_FULL_CONDENSED, ContentArrangement, Table};
use owo_colors::OwoColorize;

use super::human::Palette;
use crate::analysis::explain::{Explanation, RuleCite};
use crate::analysis::lint::{Finding, Level};
use crate::analysis::search::{describe, Goal, Region, SearchResult};

/// `--explain` for people, after the walk.
pub fn explain_human(e: &Explanation, p: &Palette) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "\n{}", "explain".style(p.hook()));
    let _ = writeln!(out, "  outcome: {}", e.outcome);
    if let Some(d) = &e.decided_by {
        let _ = writeln!(out, "  decided by {}", cite(d, p));
    }
    for v in &e.entered_via {
        let _ = writeln!(out, "  entered via {}", cite(v, p));
    }
    if e.near_misses.is_empty() {
        let _ = writeln!(
            out,
            "  no rule of the chains walked would change the outcome by changing the packet"
        );
    } else {
        let _ = writeln!(out, "  near misses (rules that would change the outcome):");
    }
    for n in &e.near_misses {
        let _ = writeln!(
            out,
            "  - {} {}",
            n.rule.style(p.chain()),
            n.text.style(p.rule_text())
        );
        for f in &n.failed {
            let _ = writeln!(out, "      failed: {}", f.why);
        }
        let flags: Vec<&str> = n.change.iter().map(|c| c.flag.as_str()).collect();
        let _ = writeln!(
            out,
            "      with {} → {}",
            flags.join(" ").style(p.changed()),
            n.outcome
        );
    }
    if !e.blocked.is_empty() {
        let _ = writeln!(out, "  not reachable by changing the packet alone:");
    }
    for b in &e.blocked {
        let _ = writeln!(
            out,
            "  - {} {}",
            b.rule.style(p.chain()),
            b.text.style(p.dim())
        );
        for f in &b.failed {
            let _ = writeln!(out, "      {}", f.why);
        }
    }
    for r in &e.related {
        let _ = writeln!(out, "  {} {r}", "related:".style(p.assumption()));
    }
    out
}

fn cite(c: &RuleCite, p: &Palette) -> String {
    let held = if c.held.is_empty() {
        String::new()
    } else {
        format!(" (held: {})", c.held.join(", "))
    };
    format!(
        "{} {}{}",
        c.rule.style(p.chain()),
        c.text.style(p.rule_text()),
        held.style(p.dim())
    )
}

/// `--explain` as comment lines after the TRACE lines.
pub fn explain_log(e: &Explanation) -> String {
    let mut out = format!("# explain: outcome {}\n", e.outcome);
    if let Some(d) = &e.decided_by {
        let _ = writeln!(out, "# explain: decided by {} {}", d.rule, d.text);
    }
    for n in &e.near_misses {
        let why: Vec<&str> = n.failed.iter().map(|f| f.why.as_str()).collect();
        let flags: Vec<&str> = n.change.iter().map(|c| c.flag.as_str()).collect();
        let _ = writeln!(
            out,
            "# near miss: {} ({}) with {} -> {}",
            n.rule,
            why.join("; "),
            flags.join(" "),
            n.outcome
        );
    }
    for r in &e.related {
        let _ = writeln!(out, "# related: {r}");
    }
    out
}

/// `lint` findings as a table.
pub fn lint_human(findings: &[Finding]) -> String {
    if findings.is_empty() {
        return "no findings\n".into();
    }
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(120)
        .set_header(["level", "kind", "finding"]);
    for f in findings {
        let mut text = f.message.clone();
        for r in &f.rules {
            text.push_str(&format!("\n  {r}"));
        }
        if let Some(ex) = &f.example {
            text.push_str(&format!("\n  example: nftrace trace {ex}"));
        }
        t.add_row([level(f.level), f.kind, &text]);
    }
    let count = |l: Level| findings.iter().filter(|f| f.level == l).count();
    format!(
        "{t}\n{} error(s), {} warning(s), {} info\n",
        count(Level::Error),
        count(Level::Warning),
        count(Level::Info)
    )
}

fn level(l: Level) -> &'static str {
    match l {
        Level::Info => "info",
        Level::Warning => "warning",
        Level::Error => "error",
    }
}

/// `search` results for people.
pub fn search_human(r: &SearchResult, start: &Region, goal: &Goal) -> String {
    let mut out = String::new();
    let query: Vec<String> = describe(start)
        .into_iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    let _ = writeln!(out, "search: {}", query.join(" · "));
    let _ = writeln!(out, "goal: {}", goal_words(goal));
    let completeness = if r.unexplored == 0 {
        "complete".to_string()
    } else {
        format!(
            "INCOMPLETE: {} region(s) left unexplored (raise --max-traces)",
            r.unexplored
        )
    };
    let _ = writeln!(
        out,
        "{} packets traced, {} class(es) reach the goal ({completeness})",
        r.traces,
        r.classes.len()
    );
    if !r.uncertain.is_empty() {
        let _ = writeln!(
            out,
            "{} more class(es) missed the goal on a walk that depended on an assumption; other packets of theirs may reach it (listed last)",
            r.uncertain.len()
        );
    }
    let uncertain = r.uncertain.iter().map(|c| ("uncertain", c));
    for (i, (label, c)) in r
        .classes
        .iter()
        .map(|c| ("class", c))
        .chain(uncertain)
        .enumerate()
    {
        let _ = writeln!(out, "\n{label} {}: {}", i + 1, c.outcome);
        let dims: Vec<String> = describe(&c.region)
            .into_iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        let _ = writeln!(out, "  packets: {}", dims.join("  "));
        let _ = writeln!(out, "  example: nftrace trace {}", c.example);
        let _ = writeln!(out, "  path: {}", c.path.join(" → "));
        for a in &c.assumptions {
            let _ = writeln!(out, "  assumes: {a}");
        }
    }
    out
}

fn goal_words(g: &Goal) -> String {
    let mut parts = Vec::new();
    if let Some(v) = &g.verdict {
        parts.push(format!("verdict {}", v.as_str()));
    }
    if let Some(v) = &g.via {
        parts.push(format!("via {v}"));
    }
    if let Some((a, p)) = g.to {
        parts.push(match p {
            Some(p) => format!("accepted towards {a}:{p}"),
            None => format!("accepted towards {a}"),
        });
    }
    if parts.is_empty() {
        "every outcome".into()
    } else {
        parts.join(", ")
    }
}
