//! [`Text`]: an immutable string that costs no allocation when it is a known name
//! or a piece of the dump it was read from.
//!
//! A kube-proxy dump has hundreds of thousands of rules, each with its line, one
//! or more module names, a comment and a jump target. Keeping each as its own
//! `String` made loading mostly malloc and free (issue 6). A `Text` is one of:
//! a `&'static str` (module and target names nftrace knows), a shared `Arc<str>`
//! (chain names, shared by the chain and every jump to it), or a range of the
//! shared dump text (rule lines, comments), reached through a [`SliceSource`].
//! A `Text` is 24 bytes. It derefs to `str`, compares with `str`/`String`, hashes
//! as `str` does (so maps keyed by `Text` can be searched with `&str`) and prints
//! as the string.

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
        source: SliceSource,
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
    pub fn slice(source: &SliceSource, range: std::ops::Range<usize>) -> Text {
        let text = source.as_str();
        let fits = u32::try_from(range.end).is_ok() && text.get(range.clone()).is_some();
        match (fits, u32::try_from(range.start), u32::try_from(range.end)) {
            (true, Ok(start), Ok(end)) => Text(Repr::Slice {
                source: source.clone(),
                start,
                end,
            }),
            _ => Text::from(text.get(range).unwrap_or("")),
        }
    }

    /// The string.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Static(s) => s,
            Repr::Shared(s) => s,
            Repr::Slice { source, start, end } => &source.as_str()[*start as usize..*end as usize],
        }
    }
}

/// A handle on a shared dump, which [`Text::slice`] cuts from. Each handle has
/// its own reference count, on a cache line of its own. Threads that cut
/// `Text`s from one dump at once each take a handle ([`SliceSource::handle`]);
/// with one shared count, two cores making and dropping a kube-proxy dump's
/// `Text`s spent a tenth of the load waiting for that line (issue 6).
/// A clone shares the handle's count.
#[derive(Clone)]
pub struct SliceSource(Arc<Padded>);

/// The dump, alone on its cache line (with its neighbours' counts elsewhere).
#[repr(align(128))]
struct Padded(Arc<String>);

impl SliceSource {
    /// A first handle on `dump`.
    pub fn new(dump: Arc<String>) -> SliceSource {
        SliceSource(Arc::new(Padded(dump)))
    }

    /// Another handle on the same dump, with a count of its own.
    pub fn handle(&self) -> SliceSource {
        SliceSource::new(Arc::clone(&self.0 .0))
    }

    /// The dump.
    pub fn as_str(&self) -> &str {
        self.0 .0.as_str()
    }

    /// `s` as a [`Text`]: a range of the dump when `s` lies in it (no allocation),
    /// else a copy (e.g. a word whose quotes were removed).
    pub fn text_of(&self, s: &str) -> Text {
        let base = self.as_ptr() as usize;
        let at = s.as_ptr() as usize;
        if at >= base && at + s.len() <= base + self.len() {
            Text::slice(self, at - base..at - base + s.len())
        } else {
            Text::from(s)
        }
    }
}

impl Deref for SliceSource {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
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
        let dump = Arc::new(String::from("-A INPUT -j ACCEPT"));
        let src = SliceSource::new(Arc::clone(&dump));
        let t = Text::slice(&src, 3..8);
        assert_eq!(t, "INPUT");
        assert_eq!(Arc::strong_count(&src.0), 2);
        assert_eq!(t.to_string(), "INPUT");
    }

    #[test]
    fn each_handle_counts_its_own_texts() {
        let dump = Arc::new(String::from("-A INPUT -j ACCEPT"));
        let src = SliceSource::new(Arc::clone(&dump));
        let other = src.handle();
        let (a, b) = (Text::slice(&src, 3..8), Text::slice(&other, 12..18));
        assert_eq!((a.as_str(), b.as_str()), ("INPUT", "ACCEPT"));
        assert_eq!(Arc::strong_count(&src.0), 2);
        assert_eq!(Arc::strong_count(&other.0), 2);
        // The dump itself: the caller's, and one per handle.
        assert_eq!(Arc::strong_count(&dump), 3);
        drop((a, src));
        assert_eq!(b, "ACCEPT");
    }

    #[test]
    fn handles_count_on_lines_of_their_own() {
        let src = SliceSource::new(Arc::new(String::new()));
        let other = src.handle();
        let (a, b) = (Arc::as_ptr(&src.0) as usize, Arc::as_ptr(&other.0) as usize);
        assert!(a.abs_diff(b) >= 128);
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
        let src = SliceSource::new(Arc::new(String::from("é")));
        assert_eq!(Text::slice(&src, 0..1), "");
    }
}
