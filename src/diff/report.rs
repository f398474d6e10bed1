//! Printing `diff` results: before and after side by side, or JSON.

use std::fmt::Write as _;

use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, Table};

use super::{Behaviour, Change};

/// How one aspect of a behaviour is shown.
type Aspect = fn(&Behaviour) -> String;

/// One table per changed probe, the aspects in rows, before and after in columns.
pub fn human(changes: &[Change], probes: usize) -> String {
    let mut out = String::new();
    for c in changes {
        let _ = writeln!(out, "{}: {}", c.name, c.packet);
        let mut table = Table::new();
        table.load_preset(UTF8_FULL_CONDENSED);
        table.set_header(["", "before", "after"]);
        let rows: [(&str, Aspect); 4] = [
            ("verdict", |b| b.verdict.clone()),
            ("egress", |b| b.egress.clone()),
            ("translation", |b| b.translation.clone()),
            ("rule", rule_cell),
        ];
        for (aspect, value) in rows {
            let mark = if c.changed.contains(&aspect) {
                "*"
            } else {
                " "
            };
            table.add_row([
                Cell::new(format!("{mark}{aspect}")),
                Cell::new(value(&c.before)),
                Cell::new(value(&c.after)),
            ]);
        }
        let _ = writeln!(out, "{table}\n");
    }
    let _ = writeln!(
        out,
        "{} of {probes} probe(s) behave differently",
        changes.len()
    );
    out
}

fn rule_cell(b: &Behaviour) -> String {
    match &b.rule_at {
        Some(at) => format!("{at}\n{}", b.rule),
        None => b.rule.clone(),
    }
}

/// `{"version":1,"probes":N,"changes":[…]}`.
pub fn json(changes: &[Change], probes: usize) -> String {
    let doc = serde_json::json!({ "version": 1, "probes": probes, "changes": changes });
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}
