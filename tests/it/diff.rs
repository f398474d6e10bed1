//! `nftrace diff` on a recorded bundle and edited copies of it: a change that
//! breaks traffic, a harmless reorder, a rule that shadows another.

use serde_json::Value;

use crate::check::{edited_bundle, nftrace};

const VR2: &str = "fixtures/cloud-vr2-firewall-drop/bundle";

/// `(name, packet, changed aspects)` of a reported change.
type Reported = (String, String, Vec<String>);

/// Every reported change, and the exit code.
fn diff(edit: impl Fn(&str) -> String) -> (Vec<Reported>, Option<i32>) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let after = edited_bundle(tmp.path(), "cloud-vr2-firewall-drop", edit);
    let out = nftrace(&[
        "diff",
        "--format",
        "json",
        "--before",
        VR2,
        "--after",
        after.to_str().unwrap(),
    ]);
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let changes = v["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| {
            let changed = c["changed"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect();
            (
                c["name"].as_str().unwrap().to_string(),
                c["packet"].as_str().unwrap().to_string(),
                changed,
            )
        })
        .collect();
    (changes, out.status.code())
}

#[test]
fn removing_the_port_forward_shows_forwarded_traffic_now_delivered_locally() {
    let (changes, code) = diff(|t| {
        t.replace(
            "-A PREROUTING -d 172.17.21.105/32 -i eth2 -j DNAT --to-destination 10.1.1.69\n",
            "",
        )
    });
    assert_eq!(code, Some(1));
    assert_eq!(
        changes,
        [(
            "nat:PREROUTING:1 (before)".to_string(),
            "tcp 198.51.100.7:40000 -> 172.17.21.105:300 in eth2".to_string(),
            vec!["egress".into(), "translation".into(), "rule".into()]
        )]
    );
}

#[test]
fn swapping_disjoint_forward_rules_changes_nothing() {
    let (changes, code) = diff(|t| {
        let a = "-A FORWARD -d 10.1.1.69/32 -i eth2 -o eth0 -j ACCEPT\n";
        let b = "-A FORWARD -i eth0 -o eth2 -j ACCEPT\n";
        t.replace(&format!("{a}{b}"), &format!("{b}{a}"))
    });
    assert_eq!(changes, []);
    assert_eq!(code, Some(0));
}

#[test]
fn a_broader_drop_above_the_tcp_return_shadows_it() {
    let (changes, code) = diff(|t| {
        let r = "-A FIREWALL_172.17.21.105 -p tcp -m tcp --dport 300:65535 -j RETURN\n";
        t.replace(r, &format!("-A FIREWALL_172.17.21.105 -p tcp -j DROP\n{r}"))
    });
    assert_eq!(code, Some(1));
    let summary: Vec<(&str, &str, Vec<&str>)> = changes
        .iter()
        .map(|(n, p, c)| {
            (
                n.as_str(),
                p.as_str(),
                c.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                "nat:PREROUTING:1 (before)",
                "tcp 198.51.100.7:40000 -> 172.17.21.105:80 in eth2",
                vec!["rule"]
            ),
            (
                "nat:PREROUTING:1 (before)",
                "tcp 198.51.100.7:40000 -> 172.17.21.105:300 in eth2",
                vec!["verdict", "egress", "translation", "rule"]
            ),
            (
                "nat:PREROUTING:2 (before)",
                "tcp 198.51.100.7:40000 -> 172.17.21.105:80 in eth0",
                vec!["rule"]
            ),
            (
                "nat:PREROUTING:2 (before)",
                "tcp 198.51.100.7:40000 -> 172.17.21.105:300 in eth0",
                vec!["translation", "rule"]
            ),
        ]
    );
}

#[test]
fn identical_bundles_exit_zero_and_a_probes_file_is_used_when_given() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let probes = tmp.path().join("p.toml");
    std::fs::write(
        &probes,
        "[[probe]]\nname = \"ssh\"\nsrc = \"183.62.15.118\"\ndst = \"172.17.21.105\"\ndport = 22\niif = \"eth2\"\n",
    )
    .unwrap();
    let out = nftrace(&[
        "diff",
        "--before",
        VR2,
        "--after",
        VR2,
        probes.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "0 of 1 probe(s) behave differently\n"
    );
}

#[test]
fn the_human_report_puts_before_and_after_side_by_side() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let after = edited_bundle(tmp.path(), "cloud-vr2-firewall-drop", |t| {
        t.replace(
            "-A PREROUTING -d 172.17.21.105/32 -i eth2 -j DNAT --to-destination 10.1.1.69\n",
            "",
        )
    });
    let out = nftrace(&["diff", "--before", VR2, "--after", after.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    let egress = text
        .lines()
        .find(|l| l.contains("*egress"))
        .expect("egress row");
    assert!(
        egress.contains("sent eth0") && egress.contains("delivered"),
        "{text}"
    );
}
