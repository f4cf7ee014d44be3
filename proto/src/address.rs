//! ILP addresses (RFC 15).
//!
//! `scheme ("." segment)+`, scheme one of `g private example peer self test test1 test2 test3
//! local`, segments of `[A-Za-z0-9_~-]`, at most 1023 bytes in total.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// Longest address RFC 15 allows, in bytes.
pub const MAX_ADDRESS_LEN: usize = 1023;

/// Allocation schemes RFC 15 defines (the first segment of every address).
pub const SCHEMES: &[&str] = &[
    "g", "private", "example", "peer", "self", "test", "test1", "test2", "test3", "local",
];

/// A valid ILP address. Cheap to clone (shared, immutable).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address(Arc<str>);

/// Why a string is not a valid ILP address (or route prefix).
#[derive(Clone, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum AddressError {
    #[error("address is empty")]
    Empty,
    #[error("address is {0} bytes long, at most 1023 allowed")]
    TooLong(usize),
    #[error("unknown address scheme {0:?}")]
    BadScheme(String),
    /// An empty segment: leading, trailing or doubled `.`, or a scheme with no segment after it.
    #[error("address has an empty segment or no segment after the scheme")]
    EmptySegment,
    /// A character outside `[A-Za-z0-9_~-.]`. Bytes that are not UTF-8 are reported as U+FFFD.
    #[error("address contains invalid character {0:?}")]
    BadCharacter(char),
}

impl Address {
    pub fn new(s: &str) -> Result<Address, AddressError> {
        validate_address(s.as_bytes())?;
        Ok(Address(Arc::from(s)))
    }

    /// Validates wire bytes as an address (no UTF-8 pre-check needed: only ASCII is valid).
    pub fn from_bytes(bytes: &[u8]) -> Result<Address, AddressError> {
        validate_address(bytes)?;
        // Validation admits only ASCII, so this cannot fail; mapped anyway rather than unwrapped.
        let s = std::str::from_utf8(bytes).map_err(|_| AddressError::BadCharacter('\u{fffd}'))?;
        Ok(Address(Arc::from(s)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The allocation scheme: `"g"`, `"test"`, `"peer"`, …
    pub fn scheme(&self) -> &str {
        self.0.split('.').next().unwrap_or("")
    }

    /// `self + "." + segment`. `segment` must be one non-empty segment (no `.`).
    pub fn with_suffix(&self, segment: &str) -> Result<Address, AddressError> {
        if segment.is_empty() {
            return Err(AddressError::EmptySegment);
        }
        if let Some(c) = segment.chars().find(|&c| !is_segment_char(c)) {
            return Err(AddressError::BadCharacter(c));
        }
        let len = self.0.len() + 1 + segment.len();
        if len > MAX_ADDRESS_LEN {
            return Err(AddressError::TooLong(len));
        }
        let mut s = String::with_capacity(len);
        s.push_str(&self.0);
        s.push('.');
        s.push_str(segment);
        Ok(Address(Arc::from(s)))
    }

    /// The segments after the scheme.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('.').skip(1)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false (an address has at least `scheme.segment`); present for clippy's
    /// `len_without_is_empty` convention.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn is_segment_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '~')
}

fn is_segment_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'~')
}

/// The character to report for the invalid byte at `pos`: the UTF-8 character starting there
/// when there is one, U+FFFD otherwise.
fn char_at(bytes: &[u8], pos: usize) -> char {
    let tail = bytes.get(pos..).unwrap_or(&[]);
    let prefix = match std::str::from_utf8(tail) {
        Ok(s) => s,
        Err(e) => std::str::from_utf8(tail.get(..e.valid_up_to()).unwrap_or(&[])).unwrap_or(""),
    };
    prefix.chars().next().unwrap_or('\u{fffd}')
}

/// Checks characters, scheme and segments; `allow_bare_scheme` admits `"g"`, `"test"` etc. as
/// route prefixes.
fn validate(bytes: &[u8], allow_bare_scheme: bool) -> Result<(), AddressError> {
    if bytes.is_empty() {
        return Err(AddressError::Empty);
    }
    if bytes.len() > MAX_ADDRESS_LEN {
        return Err(AddressError::TooLong(bytes.len()));
    }
    if let Some(pos) = bytes
        .iter()
        .position(|&b| !(is_segment_byte(b) || b == b'.'))
    {
        return Err(AddressError::BadCharacter(char_at(bytes, pos)));
    }
    let mut parts = bytes.split(|&b| b == b'.');
    let scheme = parts.next().unwrap_or(&[]);
    if scheme.is_empty() {
        return Err(AddressError::EmptySegment);
    }
    if !SCHEMES.iter().any(|s| s.as_bytes() == scheme) {
        return Err(AddressError::BadScheme(
            String::from_utf8_lossy(scheme).into_owned(),
        ));
    }
    let mut segments = 0usize;
    for segment in parts {
        if segment.is_empty() {
            return Err(AddressError::EmptySegment);
        }
        segments += 1;
    }
    if segments == 0 && !allow_bare_scheme {
        return Err(AddressError::EmptySegment);
    }
    Ok(())
}

fn validate_address(bytes: &[u8]) -> Result<(), AddressError> {
    validate(bytes, false)
}

/// Is `prefix` a whole-segment prefix of `address`? (`"g.a"` matches `"g.a"` and `"g.a.b"`,
/// not `"g.ab"`.) The empty prefix matches everything. Works on plain strings so that route
/// prefixes like `"g"` work.
pub fn is_segment_prefix(prefix: &str, address: &str) -> bool {
    if prefix.is_empty() {
        return true;
    }
    match address.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || rest.starts_with('.'),
        None => false,
    }
}

/// Route prefixes: like an address, but a bare scheme (`"g"`, `"test"`) or `""` (catch-all) is
/// allowed.
pub fn validate_prefix(prefix: &str) -> Result<(), AddressError> {
    if prefix.is_empty() {
        return Ok(());
    }
    validate(prefix.as_bytes(), true)
}

impl FromStr for Address {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Address::new(s)
    }
}

impl TryFrom<&str> for Address {
    type Error = AddressError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Address::new(s)
    }
}

impl TryFrom<String> for Address {
    type Error = AddressError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        validate_address(s.as_bytes())?;
        Ok(Address(Arc::from(s)))
    }
}

impl AsRef<str> for Address {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_specific() {
        assert_eq!(Address::new(""), Err(AddressError::Empty));
        assert_eq!(Address::new("test"), Err(AddressError::EmptySegment));
        assert_eq!(Address::new("test."), Err(AddressError::EmptySegment));
        assert_eq!(Address::new(".test.a"), Err(AddressError::EmptySegment));
        assert_eq!(Address::new("test..a"), Err(AddressError::EmptySegment));
        assert_eq!(
            Address::new("test4.a"),
            Err(AddressError::BadScheme("test4".into()))
        );
        assert_eq!(
            Address::new("test.a b"),
            Err(AddressError::BadCharacter(' '))
        );
        assert_eq!(
            Address::from_bytes(b"test.alic\xf0"),
            Err(AddressError::BadCharacter('\u{fffd}'))
        );
        assert_eq!(
            Address::new("test.alicé"),
            Err(AddressError::BadCharacter('é'))
        );
    }

    #[test]
    fn scheme_and_suffix() {
        let a = Address::new("g.us.bank").unwrap();
        assert_eq!(a.scheme(), "g");
        assert_eq!(a.with_suffix("bob").unwrap().as_str(), "g.us.bank.bob");
        assert_eq!(a.with_suffix(""), Err(AddressError::EmptySegment));
        assert_eq!(a.with_suffix("b.c"), Err(AddressError::BadCharacter('.')));
        assert_eq!(a.segments().collect::<Vec<_>>(), ["us", "bank"]);
        let long = Address::new(&format!("g.{}", "a".repeat(1020))).unwrap();
        assert_eq!(long.with_suffix("b"), Err(AddressError::TooLong(1024)));
    }

    #[test]
    fn segment_prefixes() {
        assert!(is_segment_prefix("g.a", "g.a"));
        assert!(is_segment_prefix("g.a", "g.a.b"));
        assert!(!is_segment_prefix("g.a", "g.ab"));
        assert!(!is_segment_prefix("g.a.b", "g.a"));
        assert!(is_segment_prefix("", "g.a"));
        assert!(is_segment_prefix("g", "g.a"));
        assert!(!is_segment_prefix("g", "gg.a"));
    }

    #[test]
    fn prefixes() {
        assert_eq!(validate_prefix(""), Ok(()));
        assert_eq!(validate_prefix("g"), Ok(()));
        assert_eq!(validate_prefix("test3"), Ok(()));
        assert_eq!(validate_prefix("g.a"), Ok(()));
        assert_eq!(validate_prefix("g."), Err(AddressError::EmptySegment));
        assert_eq!(
            validate_prefix("x"),
            Err(AddressError::BadScheme("x".into()))
        );
    }
}
