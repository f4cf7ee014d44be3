//! ILP error codes (RFC 27 §Error Codes): a class letter and two digits.

use std::fmt;
use std::str::FromStr;

use crate::error::DecodeError;

/// How a sender should react to a Reject.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum ErrorClass {
    /// `F`: don't retry the same packet.
    Final,
    /// `T`: retry, possibly after a delay.
    Temporary,
    /// `R`: retry with more amount or time margin.
    Relative,
}

/// A syntactically valid ILP error code, `[FTR][0-9]{2}`. Codes RFC 27 does not name (e.g.
/// `F09`) are valid and passed through; they are classified by their letter.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ErrorCode([u8; 3]);

impl ErrorCode {
    pub const F00_BAD_REQUEST: ErrorCode = ErrorCode(*b"F00");
    pub const F01_INVALID_PACKET: ErrorCode = ErrorCode(*b"F01");
    pub const F02_UNREACHABLE: ErrorCode = ErrorCode(*b"F02");
    pub const F03_INVALID_AMOUNT: ErrorCode = ErrorCode(*b"F03");
    pub const F04_INSUFFICIENT_DESTINATION_AMOUNT: ErrorCode = ErrorCode(*b"F04");
    pub const F05_WRONG_CONDITION: ErrorCode = ErrorCode(*b"F05");
    pub const F06_UNEXPECTED_PAYMENT: ErrorCode = ErrorCode(*b"F06");
    pub const F07_CANNOT_RECEIVE: ErrorCode = ErrorCode(*b"F07");
    pub const F08_AMOUNT_TOO_LARGE: ErrorCode = ErrorCode(*b"F08");
    pub const F99_APPLICATION_ERROR: ErrorCode = ErrorCode(*b"F99");
    pub const T00_INTERNAL_ERROR: ErrorCode = ErrorCode(*b"T00");
    pub const T01_PEER_UNREACHABLE: ErrorCode = ErrorCode(*b"T01");
    pub const T02_PEER_BUSY: ErrorCode = ErrorCode(*b"T02");
    pub const T03_CONNECTOR_BUSY: ErrorCode = ErrorCode(*b"T03");
    pub const T04_INSUFFICIENT_LIQUIDITY: ErrorCode = ErrorCode(*b"T04");
    pub const T05_RATE_LIMITED: ErrorCode = ErrorCode(*b"T05");
    pub const T99_APPLICATION_ERROR: ErrorCode = ErrorCode(*b"T99");
    pub const R00_TRANSFER_TIMED_OUT: ErrorCode = ErrorCode(*b"R00");
    pub const R01_INSUFFICIENT_SOURCE_AMOUNT: ErrorCode = ErrorCode(*b"R01");
    pub const R02_INSUFFICIENT_TIMEOUT: ErrorCode = ErrorCode(*b"R02");
    pub const R99_APPLICATION_ERROR: ErrorCode = ErrorCode(*b"R99");

    /// Accepts exactly `[FTR][0-9]{2}`.
    pub fn new(code: [u8; 3]) -> Result<ErrorCode, DecodeError> {
        match code {
            [b'F' | b'T' | b'R', d1, d2] if d1.is_ascii_digit() && d2.is_ascii_digit() => {
                Ok(ErrorCode(code))
            }
            _ => Err(DecodeError::InvalidErrorCode),
        }
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII gets past `new`, so the fallback is unreachable.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }

    pub fn as_bytes(&self) -> &[u8; 3] {
        &self.0
    }

    pub fn class(&self) -> ErrorClass {
        match self.0[0] {
            b'T' => ErrorClass::Temporary,
            b'R' => ErrorClass::Relative,
            _ => ErrorClass::Final,
        }
    }

    /// RFC 27's name for the code, when it has one ("Unreachable" for F02, …).
    pub fn name(&self) -> Option<&'static str> {
        Some(match &self.0 {
            b"F00" => "Bad Request",
            b"F01" => "Invalid Packet",
            b"F02" => "Unreachable",
            b"F03" => "Invalid Amount",
            b"F04" => "Insufficient Destination Amount",
            b"F05" => "Wrong Condition",
            b"F06" => "Unexpected Payment",
            b"F07" => "Cannot Receive",
            b"F08" => "Amount Too Large",
            b"F99" | b"T99" | b"R99" => "Application Error",
            b"T00" => "Internal Error",
            b"T01" => "Peer Unreachable",
            b"T02" => "Peer Busy",
            b"T03" => "Connector Busy",
            b"T04" => "Insufficient Liquidity",
            b"T05" => "Rate Limited",
            b"R00" => "Transfer Timed Out",
            b"R01" => "Insufficient Source Amount",
            b"R02" => "Insufficient Timeout",
            _ => return None,
        })
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ErrorCode({})", self.as_str())
    }
}

impl FromStr for ErrorCode {
    type Err = DecodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let code: [u8; 3] = s
            .as_bytes()
            .try_into()
            .map_err(|_| DecodeError::InvalidErrorCode)?;
        ErrorCode::new(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_and_class() {
        assert_eq!("F02".parse::<ErrorCode>(), Ok(ErrorCode::F02_UNREACHABLE));
        assert_eq!(
            ErrorCode::new(*b"F09").map(|c| c.class()),
            Ok(ErrorClass::Final)
        );
        assert_eq!(ErrorCode::T05_RATE_LIMITED.class(), ErrorClass::Temporary);
        assert_eq!(
            ErrorCode::R02_INSUFFICIENT_TIMEOUT.class(),
            ErrorClass::Relative
        );
        for bad in ["L13", "f02", "F0", "F002", "F0x", "", "T\u{0}1"] {
            assert_eq!(
                bad.parse::<ErrorCode>(),
                Err(DecodeError::InvalidErrorCode),
                "{bad:?}"
            );
        }
        assert_eq!(
            ErrorCode::F08_AMOUNT_TOO_LARGE.name(),
            Some("Amount Too Large")
        );
        assert_eq!(ErrorCode::new(*b"F09").ok().and_then(|c| c.name()), None);
        assert_eq!(ErrorCode::F02_UNREACHABLE.to_string(), "F02");
    }
}
