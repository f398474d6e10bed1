//! [`Text`]: an immutable string that costs no allocation when it is a known name
//! or a piece of the dump it was read from.
//!
//! A kube-proxy dump has hundreds of thousands of rules, each with its line, one
//! or more module names, a comment and a jump target. Keeping each as its own
//! `String` made loading mostly malloc and free (issue 6). A `Text` is one of:
//! a `&'static str` (module and target names nftrace knows), a shared `Arc<str>`
//! (chain names, shared by the chain and every jump to it), or a range of the
//! shared dump text (rule lines, comments). The dump is held as an `Arc<String>`
//! (a thin pointer), so a `Text` is 24 bytes. It derefs to `str`, compares with
//! `str`/`String`, hashes as `str` does (so maps keyed by `Text` can be searched
//! with `&str`) and prints as the string.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// An immutable, cheaply cloned string (see the module doc).
#[derive(Clone)]
pub struct Text(Repr);

#[derive(Clone)]
enum Repr {
    Static(&'static str),
    Shared(Arc<str>),
    /// `source[start..end]`, on char boundaries.
    Slice {
        source: Arc<String>,
        start: u32,
        end: u32,
    },
}

impl Text {
    /// A static string, without allocating.
    pub const fn from_static(s: &'static str) -> Text {
        Text(Repr::Static(s))
    }

    /// `source[range]` sharing `source`. Falls back to a copy when the range does not
    /// fit in `u32` offsets or is not on char boundaries.
    pub fn slice(source: &Arc<String>, range: std::ops::Range<usize>) -> Text {
        let fits = u32::try_from(range.end).is_ok() && source.get(range.clone()).is_some();
        match (fits, u32::try_from(range.start), u32::try_from(range.end)) {
            (true, Ok(start), Ok(end)) => Text(Repr::Slice {
                source: Arc::clone(source),
                start,
                end,
            }),
            _ => Text::from(source.get(range).unwrap_or("")),
        }
    }

    /// The string.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Static(s) => s,
            Repr::Shared(s) => s,
            Repr::Slice { source, start, end } => &source[*start as usize..*end as usize],
        }
    }
}

impl Default for Text {
    fn default() -> Text {
        Text::from_static("")
    }
}

impl Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Text {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Text {
        Text(Repr::Shared(Arc::from(s)))
    }
}

impl From<String> for Text {
    fn from(s: String) -> Text {
        Text(Repr::Shared(Arc::from(s)))
    }
}

impl From<Text> for String {
    fn from(t: Text) -> String {
        t.as_str().to_string()
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Text) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Text {}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Text {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialEq<Text> for str {
    fn eq(&self, other: &Text) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<Text> for &str {
    fn eq(&self, other: &Text) -> bool {
        *self == other.as_str()
    }
}

impl PartialEq<Text> for String {
    fn eq(&self, other: &Text) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialOrd for Text {
    fn partial_cmp(&self, other: &Text) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Text {
    fn cmp(&self, other: &Text) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl std::hash::Hash for Text {
    /// Hashes as `str` does, as [`Borrow<str>`] requires.
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl serde::Serialize for Text {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn slice_shares_the_source_and_compares_as_str() {
        let src = Arc::new(String::from("-A INPUT -j ACCEPT"));
        let t = Text::slice(&src, 3..8);
        assert_eq!(t, "INPUT");
        assert_eq!(Arc::strong_count(&src), 2);
        assert_eq!(t.to_string(), "INPUT");
    }

    #[test]
    fn a_text_is_three_words() {
        assert_eq!(std::mem::size_of::<Text>(), 24);
    }

    #[test]
    fn maps_keyed_by_text_are_searched_by_str() {
        let mut m = HashMap::new();
        m.insert(Text::from("KUBE-SERVICES"), 1);
        assert_eq!(m.get("KUBE-SERVICES"), Some(&1));
    }

    #[test]
    fn a_range_off_char_boundaries_is_copied() {
        let src = Arc::new(String::from("é"));
        assert_eq!(Text::slice(&src, 0..1), "");
    }
}
