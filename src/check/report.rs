//! Printing `check` results: a table for people, JSON, and JUnit XML for CI.

use std::fmt::Write as _;

use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};

use super::{HostReport, Outcome};

/// Totals over every host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Totals {
    /// Probe runs (probes × hosts).
    pub probes: usize,
    /// Runs that passed.
    pub passed: usize,
    /// Runs that failed.
    pub failed: usize,
}

/// Sums the outcomes of all hosts.
pub fn totals(reports: &[HostReport]) -> Totals {
    let probes = reports.iter().map(|r| r.outcomes.len()).sum();
    let failed = reports.iter().map(HostReport::failed).sum();
    Totals {
        probes,
        passed: probes - failed,
        failed,
    }
}

/// The table for people: per host, one row per probe, then each failure with
/// what was expected, what happened and the rule that decided.
pub fn human(reports: &[HostReport]) -> String {
    let mut out = String::new();
    for r in reports {
        let _ = writeln!(out, "{}", r.host);
        let mut table = Table::new();
        table.load_preset(UTF8_FULL_CONDENSED);
        table.set_header(["probe", "result", "verdict", "egress", "decided by"]);
        for o in &r.outcomes {
            let decided = o
                .observed
                .decided_by
                .as_ref()
                .map_or_else(|| "-".to_string(), |d| d.at.clone());
            table.add_row([
                o.name.clone(),
                (if o.passed() { "pass" } else { "FAIL" }).to_string(),
                o.observed.verdict.to_string(),
                o.observed.egress(),
                decided,
            ]);
        }
        let _ = writeln!(out, "{table}");
        for o in r.outcomes.iter().filter(|o| !o.passed()) {
            out.push_str(&failure_text(o));
        }
        out.push('\n');
    }
    let t = totals(reports);
    let _ = writeln!(
        out,
        "{} probe run(s) on {} host(s): {} passed, {} failed",
        t.probes,
        reports.len(),
        t.passed,
        t.failed
    );
    out
}

/// One failure, several lines: the probe, each unmet expectation, the deciding rule.
pub fn failure_text(o: &Outcome) -> String {
    let mut out = format!("FAIL {} (line {}): {}\n", o.name, o.line, o.packet);
    for m in &o.failures {
        let _ = writeln!(
            out,
            "  {}: expected {}, got {}",
            m.field, m.expected, m.actual
        );
    }
    let _ = writeln!(out, "  decided by: {}", o.observed.decision());
    out
}

/// The JSON document (docs/check.md).
pub fn json(reports: &[HostReport]) -> String {
    let doc = serde_json::json!({
        "version": 1,
        "totals": totals(reports),
        "hosts": reports,
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}

/// JUnit XML: one `<testsuite>` per host, one `<testcase>` per probe, a
/// `<failure>` for each failed probe (the format Jenkins, GitLab and GitHub
/// test reporters read).
pub fn junit(reports: &[HostReport]) -> String {
    let t = totals(reports);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"nftrace check\" tests=\"{}\" failures=\"{}\">",
        t.probes, t.failed
    );
    for r in reports {
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\">",
            xml(&r.host),
            r.outcomes.len(),
            r.failed()
        );
        for o in &r.outcomes {
            testcase(&mut out, &r.host, o);
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

fn testcase(out: &mut String, host: &str, o: &Outcome) {
    let _ = write!(
        out,
        "    <testcase name=\"{}\" classname=\"{}\"",
        xml(&o.name),
        xml(host)
    );
    if o.passed() {
        out.push_str("/>\n");
        return;
    }
    let summary: Vec<String> = o
        .failures
        .iter()
        .map(|m| format!("{}: expected {}, got {}", m.field, m.expected, m.actual))
        .collect();
    let _ = writeln!(
        out,
        ">\n      <failure message=\"{}\" type=\"expectation\">{}</failure>\n    </testcase>",
        xml(&summary.join("; ")),
        xml(&failure_text(o))
    );
}

/// Escapes text for XML attributes and content.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::xml;

    #[test]
    fn xml_escapes_markup_and_drops_control_characters() {
        assert_eq!(xml("a<b>&\"c'\u{1}"), "a&lt;b&gt;&amp;&quot;c&apos;");
    }
}
