//! BTP error codes (RFC 23). Not the same table as ILP error codes: only the letters mean the
//! same thing (F final, T temporary).

pub const T00_UNREACHABLE: [u8; 3] = *b"T00";
pub const F00_NOT_ACCEPTED: [u8; 3] = *b"F00";
pub const F01_INVALID_FIELDS: [u8; 3] = *b"F01";
pub const F03_TRANSFER_NOT_FOUND: [u8; 3] = *b"F03";
pub const F04_INVALID_FULFILLMENT: [u8; 3] = *b"F04";
pub const F05_DUPLICATE_ID: [u8; 3] = *b"F05";
pub const F06_ALREADY_ROLLED_BACK: [u8; 3] = *b"F06";
pub const F07_ALREADY_FULFILLED: [u8; 3] = *b"F07";
pub const F08_INSUFFICIENT_BALANCE: [u8; 3] = *b"F08";

/// The `name` RFC 23 pairs with a code (`"NotAcceptedError"` for F00, …).
pub fn name(code: [u8; 3]) -> Option<&'static str> {
    Some(match &code {
        b"T00" => "UnreachableError",
        b"F00" => "NotAcceptedError",
        b"F01" => "InvalidFieldsError",
        b"F03" => "TransferNotFoundError",
        b"F04" => "InvalidFulfillmentError",
        b"F05" => "DuplicateIdError",
        b"F06" => "AlreadyRolledBackError",
        b"F07" => "AlreadyFulfilledError",
        b"F08" => "InsufficientBalanceError",
        _ => return None,
    })
}
