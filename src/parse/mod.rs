//! Parsers, one module per dump format. Each returns model types or a
//! [`ParseErrors`] naming file, line, column, the offending text and what was expected.

pub mod conntrack;
pub mod ip_addr;
pub mod ip_route;
pub mod ip_rule;
pub mod ipset;
pub mod iptables_save;
pub mod ipvsadm;
pub mod lex;
pub mod sysctl;

use std::fmt;

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

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let found = if self.found.is_empty() {
            "end of line".to_string()
        } else {
            format!("{:?}", self.found)
        };
        writeln!(
            f,
            "{}:{}:{}: expected {}, found {}",
            self.file, self.line, self.column, self.expected, found
        )?;
        let gutter = self.line.to_string().len();
        writeln!(f, "{:gutter$} |", "")?;
        writeln!(f, "{} | {}", self.line, self.line_text)?;
        let width = self.found.chars().count().max(1);
        write!(
            f,
            "{:gutter$} | {:pad$}{}",
            "",
            "",
            "^".repeat(width),
            pad = self.column - 1
        )
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
