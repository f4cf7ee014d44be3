//! Timestamp and address parsers: no panic; accepted ILP timestamps and addresses are
//! canonical (print back to the input); GeneralizedTime round-trips through `.fffZ`; any
//! i64 gives a timestamp with a valid wire form.
#![no_main]

use libfuzzer_sys::fuzz_target;
use proto::Timestamp;
use proto::address::{self, Address};

fuzz_target!(|data: &[u8]| {
    if let Ok(t) = Timestamp::parse_ilp(data) {
        assert_eq!(&t.to_ilp()[..], data);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(t) = Timestamp::parse_generalized(text) {
            assert_eq!(Timestamp::parse_generalized(&t.to_generalized()), Ok(t));
            if text.len() == 19 {
                assert_eq!(t.to_generalized(), text);
            }
        }
        if address::validate_prefix(text).is_ok() && !text.is_empty() {
            assert!(address::is_segment_prefix(text, text));
        }
        if let Ok(a) = Address::new(text) {
            assert_eq!(a.as_str(), text);
            assert!(address::validate_prefix(text).is_ok());
        }
    }
    if let Ok(a) = Address::from_bytes(data) {
        assert_eq!(a.as_str().as_bytes(), data);
    }
    if let Some(bytes) = data.get(..8) {
        let mut raw = [0u8; 8];
        raw.copy_from_slice(bytes);
        let t = Timestamp::from_unix_ms(i64::from_be_bytes(raw));
        assert_eq!(Timestamp::parse_ilp(&t.to_ilp()), Ok(t));
        assert_eq!(Timestamp::parse_generalized(&t.to_generalized()), Ok(t));
        let _ = t.checked_add_ms(i64::from_be_bytes(raw));
        let _ = t.saturating_sub_ms(i64::from_be_bytes(raw));
    }
});
