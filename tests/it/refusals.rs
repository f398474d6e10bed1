//! nftrace's loader against the kernel's verdicts: every snippet in
//! `fixtures/kernel-refusals.json` (recorded by `recorder/refusals.py`, a real
//! `iptables-legacy-restore` into a scratch network namespace) must be accepted
//! by `iptables_save::parse` exactly when the kernel accepted it, and a refusal
//! must name the line of the offending rule.

use nftrace::parse::iptables_save;

/// One recorded snippet.
struct Case {
    name: String,
    dump: String,
    line: Option<usize>,
    kernel_accepts: bool,
}

fn cases() -> Vec<Case> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/kernel-refusals.json");
    let text = std::fs::read_to_string(path).expect("fixtures/kernel-refusals.json");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    doc["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| Case {
            name: c["name"].as_str().unwrap().to_string(),
            dump: c["dump"].as_str().unwrap().to_string(),
            line: c["line"].as_u64().map(|l| l as usize),
            kernel_accepts: c["kernel"] == "accept",
        })
        .collect()
}

/// Why nftrace disagrees with the kernel on `case`, if it does.
fn disagreement(case: &Case) -> Option<String> {
    let parsed = iptables_save::parse(&case.name, &case.dump);
    match (case.kernel_accepts, parsed) {
        (true, Ok(_)) => None,
        (true, Err(e)) => Some(format!(
            "{}: kernel accepts, nftrace refuses:\n{e}",
            case.name
        )),
        (false, Ok(_)) => Some(format!("{}: kernel refuses, nftrace accepts", case.name)),
        (false, Err(e)) => {
            let lines: Vec<usize> = e.0.iter().map(|e| e.line).collect();
            (Some(lines[0]) != case.line).then(|| {
                format!(
                    "{}: refused at line {:?}, the offending rule is line {:?}:\n{e}",
                    case.name, lines, case.line
                )
            })
        }
    }
}

#[test]
fn nftrace_refuses_exactly_what_the_kernel_refuses() {
    let cases = cases();
    assert!(cases.len() > 50, "{} cases", cases.len());
    let wrong: Vec<String> = cases.iter().filter_map(disagreement).collect();
    assert!(
        wrong.is_empty(),
        "{}\n\n{}",
        wrong.len(),
        wrong.join("\n\n")
    );
}

#[test]
fn recorded_verdicts_match_the_cases_lines() {
    // The recorder's cases say which line is wrong; the kernel's verdict must
    // agree with that (a case with a line was refused, one without accepted).
    for c in cases() {
        assert_eq!(c.kernel_accepts, c.line.is_none(), "{}", c.name);
    }
}
