//! Shared by the integration tests: the vector files (copied from shared/vectors, embedded so
//! the tests do not depend on the working directory) and small helpers.
#![allow(dead_code)]

use serde_json::Value;

pub const ILP_PACKETS: &str = include_str!("../vectors/ilp_packets.json");
pub const BTP_PACKETS: &str = include_str!("../vectors/btp_packets.json");
pub const OER_PRIMITIVES: &str = include_str!("../vectors/oer_primitives.json");

pub fn load(text: &str) -> Value {
    serde_json::from_str(text).expect("vector file is valid JSON")
}

/// The named array of a vector file.
pub fn section(file: &str, name: &str) -> Vec<Value> {
    load(file)[name]
        .as_array()
        .unwrap_or_else(|| panic!("vector file has no array {name:?}"))
        .clone()
}

pub fn name(v: &Value) -> &str {
    v["name"].as_str().expect("every vector has a name")
}

pub fn hex_field(v: &Value, key: &str) -> Vec<u8> {
    let s = v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{}: no hex field {key:?}", name(v)));
    hex::decode(s).unwrap_or_else(|e| panic!("{}: bad hex in {key:?}: {e}", name(v)))
}

/// The wire bytes of the packet vector named `wanted` in a vector file's `vectors` section.
pub fn vector_hex(file: &str, wanted: &str) -> Vec<u8> {
    section(file, "vectors")
        .iter()
        .find(|v| name(v) == wanted)
        .map(|v| hex_field(v, "hex"))
        .unwrap_or_else(|| panic!("no vector {wanted}"))
}

/// A vector's name and wire bytes.
pub type Seed = (String, Vec<u8>);

/// The wire bytes of every packet vector, ILP and BTP, valid or not: fuzz seeds.
pub fn packet_seeds() -> (Vec<Seed>, Vec<Seed>) {
    let ilp = section(ILP_PACKETS, "vectors")
        .iter()
        .map(|v| (name(v).to_owned(), hex_field(v, "hex")))
        .collect();
    let btp = section(BTP_PACKETS, "vectors")
        .iter()
        .map(|v| (name(v).to_owned(), hex_field(v, "hex")))
        .collect();
    (ilp, btp)
}

/// Collects failures so one run reports every broken vector, then fails once.
#[derive(Default)]
pub struct Failures(Vec<String>);

impl Failures {
    pub fn check(&mut self, ok: bool, msg: impl FnOnce() -> String) {
        if !ok {
            self.0.push(msg());
        }
    }

    pub fn push(&mut self, msg: String) {
        self.0.push(msg);
    }

    pub fn assert_none(self, what: &str, checked: usize) {
        assert!(
            self.0.is_empty(),
            "{} of {checked} {what} vectors failed:\n  {}",
            self.0.len(),
            self.0.join("\n  ")
        );
        assert!(checked > 0, "no {what} vectors were checked");
    }
}

/// Unix time in nanoseconds of an RFC 3339-style string (`2017-12-24T24:00:00.000Z`,
/// `…+0200`, sub-millisecond fractions), computed independently of the crate's calendar code
/// (day counting year by year) so the two can check each other. Accepts hour 24 because the
/// vectors use it as an encoder input.
pub fn iso_to_unix_nanos(iso: &str) -> i128 {
    let b = iso.as_bytes();
    let num = |r: std::ops::Range<usize>| -> i128 {
        iso.get(r.clone())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad number at {r:?} in {iso}"))
    };
    let (year, month, day) = (num(0..4), num(5..7), num(8..10));
    let (hour, minute, second) = (num(11..13), num(14..16), num(17..19));
    let mut pos = 19;
    let mut nanos = 0i128;
    if b.get(pos) == Some(&b'.') {
        let start = pos + 1;
        pos = start;
        while b.get(pos).is_some_and(u8::is_ascii_digit) {
            pos += 1;
        }
        let frac = &iso[start..pos];
        nanos = format!("{frac:0<9}")[..9].parse().expect("fraction digits");
    }
    let offset_minutes = match &iso[pos..] {
        "Z" => 0,
        zone => {
            let sign = if zone.starts_with('-') { -1 } else { 1 };
            let digits: String = zone[1..].chars().filter(char::is_ascii_digit).collect();
            sign * (digits[..2].parse::<i128>().unwrap() * 60
                + digits[2..4].parse::<i128>().unwrap())
        }
    };
    let is_leap = |y: i128| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_len = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let mut days: i128 = 0;
    if year >= 1970 {
        for y in 1970..year {
            days += if is_leap(y) { 366 } else { 365 };
        }
    } else {
        for y in year..1970 {
            days -= if is_leap(y) { 366 } else { 365 };
        }
    }
    for m in 1..month {
        days += month_len[(m - 1) as usize] + i128::from(m == 2 && is_leap(year));
    }
    days += day - 1;
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
    seconds * 1_000_000_000 + nanos
}
