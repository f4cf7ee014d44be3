//! How every view writes a time.

/// prost-types prints a `Timestamp` as RFC 3339 in UTC (`2026-05-01T12:00:00Z`, with as many
/// fraction digits as needed).
pub(super) fn rfc3339(t: prost_types::Timestamp) -> String {
    t.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let t = prost_types::Timestamp {
            seconds: 1_767_225_600,
            nanos: 500_000_000,
        };
        assert_eq!(rfc3339(t), "2026-01-01T00:00:00.500Z");
    }
}
