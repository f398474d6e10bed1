//! Parsers, one module per dump format. Each returns model types or a
//! [`ParseErrors`] naming file, line, column, the offending text and what was expected.

pub mod conntrack;
pub mod ip_addr;
pub mod ip_route;
pub mod ip_rule;
pub mod ipset;
pub mod iptables_save;
pub mod ipvsadm;
pub mod kernel_checks;
pub mod lex;
pub mod sysctl;

use std::borrow::Cow;
use std::fmt;

/// True for a line that is a shell prompt, with or without a command after it:
/// `root@host:~# iptables-save`, `[root@host ~]# `, `user@host:/tmp$ ip route`.
pub fn is_shell_prompt(line: &str) -> bool {
    let line = line.trim();
    let Some(end) = line.find(['#', '$']) else {
        return false;
    };
    let (prompt, rest) = line.split_at(end);
    let prompt = prompt
        .strip_prefix('[')
        .and_then(|p| p.strip_suffix(']'))
        .unwrap_or(prompt);
    let Some((user, host)) = prompt.split_once('@') else {
        return false;
    };
    let name = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    };
    let host = host.split([':', ' ']).next().unwrap_or("");
    name(user) && name(host) && (rest.len() == 1 || rest[1..].starts_with(' '))
}

/// `text` with a shell prompt on its first or last non-blank line blanked out
/// (the line stays, empty, so line numbers do not move): what a terminal
/// paste adds around a dump. A prompt anywhere else is left for the parser to
/// report. Borrowed when there is nothing to blank.
pub fn unframe(text: &str) -> Cow<'_, str> {
    let first = text.lines().enumerate().find(|(_, l)| !l.trim().is_empty());
    let mut blank: Vec<usize> = first
        .filter(|(_, l)| is_shell_prompt(l))
        .map(|(i, _)| i)
        .into_iter()
        .collect();
    // The last non-blank line, found from the end: a large dump is not scanned
    // twice, and its line number is counted only when it is a prompt.
    let last = text.lines().rev().find(|l| !l.trim().is_empty());
    if let Some(last) = last.filter(|l| is_shell_prompt(l)) {
        let at = subslice_offset(text, last).unwrap_or(0);
        blank.push(text[..at].matches('\n').count());
    }
    if blank.is_empty() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if blank.contains(&i) {
            out.push_str(if line.ends_with("\r\n") {
                "\r\n"
            } else if line.ends_with('\n') {
                "\n"
            } else {
                ""
            });
        } else {
            out.push_str(line);
        }
    }
    Cow::Owned(out)
}

/// One error in a dump, with its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// File name as given by the user (or `<stdin>`).
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters) of the offending text.
    pub column: usize,
    /// The whole line, for the caret display.
    pub line_text: String,
    /// The offending text (may be empty at end of line).
    pub found: String,
    /// What was expected there.
    pub expected: String,
}

impl ParseError {
    /// Builds an error for `found`, located at byte `offset` of `line_text`.
    pub fn at(
        file: &str,
        line: usize,
        line_text: &str,
        offset: usize,
        found: &str,
        expected: impl Into<String>,
    ) -> ParseError {
        let offset = offset.min(line_text.len());
        let column = line_text
            .get(..offset)
            .map_or(offset, |s| s.chars().count())
            + 1;
        ParseError {
            file: file.to_string(),
            line,
            column,
            line_text: line_text.to_string(),
            found: found.to_string(),
            expected: expected.into(),
        }
    }

    /// Builds an error for a token that is a sub-slice of `line_text`.
    pub fn token(
        file: &str,
        line: usize,
        line_text: &str,
        token: &str,
        expected: impl Into<String>,
    ) -> ParseError {
        let offset = subslice_offset(line_text, token).unwrap_or(0);
        ParseError::at(file, line, line_text, offset, token, expected)
    }
}

/// One line being read, for building errors that point into it.
#[derive(Debug, Clone, Copy)]
pub struct LineCtx<'a> {
    /// File name as given.
    pub file: &'a str,
    /// 1-based line.
    pub line: usize,
    /// The whole line.
    pub text: &'a str,
}

impl LineCtx<'_> {
    /// An error for `word`, a slice of the line.
    pub fn err(&self, word: &str, expected: &str) -> ParseError {
        ParseError::token(self.file, self.line, self.text, word, expected)
    }

    /// An error at the end of the line (something is missing).
    pub fn end(&self, expected: &str) -> ParseError {
        ParseError::at(
            self.file,
            self.line,
            self.text,
            self.text.len(),
            "",
            expected,
        )
    }
}

/// Byte offset of `inner` within `outer` when `inner` borrows from it.
pub fn subslice_offset(outer: &str, inner: &str) -> Option<usize> {
    let start = outer.as_ptr() as usize;
    let pos = inner.as_ptr() as usize;
    (pos >= start && pos <= start + outer.len()).then(|| pos - start)
}

/// Longest piece of a line shown under an error (a pasted 10 MB line is cut
/// around the offending text).
const SHOWN_LINE: usize = 160;

/// Longest offending text quoted in an error's first line.
const SHOWN_FOUND: usize = 80;

/// At most `max` characters of `s`, with `…` when cut.
fn cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &s[..end]),
        None => s.to_string(),
    }
}

impl ParseError {
    /// The part of the line shown under the error, and the caret's offset in
    /// characters within it.
    fn excerpt(&self) -> (String, usize) {
        let at = self.column - 1;
        let start = at.saturating_sub(SHOWN_LINE / 3);
        let mut shown: String = self
            .line_text
            .chars()
            .skip(start)
            .take(SHOWN_LINE)
            .collect();
        if self.line_text.chars().count() > start + SHOWN_LINE {
            shown.push('…');
        }
        if start > 0 {
            (format!("…{shown}"), at - start + 1)
        } else {
            (shown, at)
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let found = if self.found.is_empty() {
            "end of line".to_string()
        } else {
            format!("{:?}", cut(&self.found, SHOWN_FOUND))
        };
        writeln!(
            f,
            "{}:{}:{}: expected {}, found {}",
            self.file, self.line, self.column, self.expected, found
        )?;
        let gutter = self.line.to_string().len();
        let (shown, pad) = self.excerpt();
        let room = shown.chars().count().saturating_sub(pad).max(1);
        let width = self.found.chars().count().clamp(1, room);
        writeln!(f, "{:gutter$} |", "")?;
        writeln!(f, "{} | {}", self.line, shown)?;
        write!(f, "{:gutter$} | {:pad$}{}", "", "", "^".repeat(width))
    }
}

impl std::error::Error for ParseError {}

/// All errors found in one file (parsers keep going line by line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseErrors(pub Vec<ParseError>);

/// How many errors are printed before the rest is summarised.
const SHOWN_ERRORS: usize = 10;

impl fmt::Display for ParseErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().take(SHOWN_ERRORS).enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        if self.0.len() > SHOWN_ERRORS {
            write!(f, "\n… and {} more errors", self.0.len() - SHOWN_ERRORS)?;
        }
        Ok(())
    }
}

impl std::error::Error for ParseErrors {}

impl From<ParseError> for ParseErrors {
    fn from(e: ParseError) -> Self {
        ParseErrors(vec![e])
    }
}

/// How many lines `text` has: an upper bound on the records of a dump with one
/// per line, to reserve a large dump's vector once instead of moving it as it grows.
pub(crate) fn line_count(text: &str) -> usize {
    text.bytes().filter(|&b| b == b'\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_prompts_are_recognised() {
        for p in [
            "root@host:~# iptables-save",
            "root@host:~#",
            "[root@node-1 ~]# ip route show table all",
            "user@box:/tmp$ ",
        ] {
            assert!(is_shell_prompt(p), "{p}");
        }
        for not in [
            "# Generated by iptables-save v1.8.9",
            "-A INPUT -m comment --comment \"a@b: # c\" -j ACCEPT",
            "*filter",
            "default via 10.0.0.1 dev eth0",
            "root@host:~#x",
        ] {
            assert!(!is_shell_prompt(not), "{not}");
        }
    }

    #[test]
    fn unframe_blanks_only_the_first_and_last_prompt() {
        let text =
            "root@h:~# ip rule\r\n0: from all lookup local\n\nu@h:~$ x\n1: y\nroot@h:~# \n\n";
        let out = unframe(text);
        assert_eq!(out, "\r\n0: from all lookup local\n\nu@h:~$ x\n1: y\n\n\n");
        assert!(matches!(unframe("a\nb\n"), Cow::Borrowed(_)));
    }

    #[test]
    fn long_lines_are_cut_around_the_error() {
        let line = format!("{}BAD{}", "a".repeat(5_000), "b".repeat(5_000));
        let e = ParseError::at("f", 1, &line, 5_000, "BAD", "good");
        let shown = e.to_string();
        assert!(shown.len() < 600, "{shown}");
        let lines: Vec<&str> = shown.lines().collect();
        let caret = lines[3].chars().position(|c| c == '^').unwrap();
        let under: String = lines[2].chars().skip(caret).take(3).collect();
        assert_eq!(under, "BAD");
    }
}
