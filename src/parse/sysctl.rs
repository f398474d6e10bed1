//! `sysctl -a` output (`key = value` per line), for the settings routing and
//! conntrack depend on.

use std::collections::BTreeMap;

use super::{ParseError, ParseErrors};

/// Parses `key = value` lines; blank lines and `#` comments are skipped.
pub fn parse(file: &str, text: &str) -> Result<BTreeMap<String, String>, ParseErrors> {
    let mut map = BTreeMap::new();
    let mut errors = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        match trimmed.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                map.insert(k.trim().to_string(), v.trim().to_string());
            }
            _ => errors.push(ParseError::token(
                file,
                i + 1,
                line,
                trimmed,
                "`key = value`",
            )),
        }
    }
    if errors.is_empty() {
        Ok(map)
    } else {
        Err(ParseErrors(errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_pairs_and_rejects_lines_without_equals() {
        let m = parse(
            "s",
            "net.ipv4.ip_forward = 1\n\nnet.ipv4.conf.eth0.rp_filter=2\n",
        )
        .unwrap();
        assert_eq!(m["net.ipv4.ip_forward"], "1");
        assert_eq!(m["net.ipv4.conf.eth0.rp_filter"], "2");
        let e = parse("s", "ok = 1\nbroken line\n").unwrap_err();
        assert_eq!((e.0[0].line, e.0[0].column), (2, 1));
    }
}
