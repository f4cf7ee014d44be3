//! Checks every field of a request before anything touches the registry. Each error names the
//! field in the JSON spelling the client used (`nodeId: …`), so the client can fix it.
//!
//! The character sets are also what keeps the signed bytes unambiguous: no field can contain
//! the `\n` that separates them, and no capability can contain the `,` that joins them.

use node_identity::{PublicKey, decode_signature};
use proto::discovery::Announcement;
use serde_json::{Map, Value};

pub const MAX_NODE_ID_LEN: usize = 64;
pub const MAX_ENDPOINT_LEN: usize = 512;
pub const MAX_CAPABILITIES: usize = 32;
pub const MAX_CAPABILITY_LEN: usize = 64;
pub const MAX_VERSION_LEN: usize = 64;

/// A refused field: `field` as the client spelled it (or `body` for the document itself).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct FieldError {
    pub field: String,
    pub problem: String,
}

fn refuse(field: impl Into<String>, problem: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        problem: problem.into(),
    }
}

/// The fields that make an announcement signed. A body carries all three (signed) or none of
/// them (the seed stories' unsigned announcement); some but not all is a mistake, refused naming
/// the first one missing.
pub const SIGNING_FIELDS: [&str; 3] = ["publicKey", "sequence", "signature"];

/// A checked announcement body. An unsigned one has an empty `public_key` and `signature` and
/// sequence 0: nothing in it proves who wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub announcement: Announcement,
    pub signed: bool,
}

/// Parses and checks an announcement body. The signature is only checked for form here;
/// whether it verifies is an authentication question the caller answers separately, as is
/// whether this server accepts unsigned announcements at all.
pub fn parse_announcement(body: &[u8]) -> Result<Parsed, FieldError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| refuse("body", format!("invalid JSON: {e}")))?;
    let Value::Object(object) = value else {
        return Err(refuse("body", "must be a JSON object"));
    };
    let signed = SIGNING_FIELDS.iter().any(|f| object.contains_key(*f));
    let mut announcement = Announcement {
        node_id: string(&object, "nodeId")?,
        btp_endpoint: string(&object, "btpEndpoint")?,
        ilp_address: string(&object, "ilpAddress")?,
        capabilities: strings(&object, "capabilities")?,
        version: string(&object, "version")?,
        public_key: String::new(),
        sequence: 0,
        signature: String::new(),
    };
    if signed {
        announcement.public_key = string(&object, "publicKey")?;
        announcement.sequence = match object.get("sequence") {
            None => return Err(refuse("sequence", "required")),
            Some(value) => value.as_u64().ok_or_else(|| {
                refuse(
                    "sequence",
                    format!("must be an integer in 0..={}", u64::MAX),
                )
            })?,
        };
        announcement.signature = string(&object, "signature")?;
        check_announcement(&announcement)?;
    } else {
        check_fields(&announcement)?;
    }
    Ok(Parsed {
        announcement,
        signed,
    })
}

fn string(object: &Map<String, Value>, field: &str) -> Result<String, FieldError> {
    match object.get(field) {
        None => Err(refuse(field, "required")),
        Some(Value::String(text)) => Ok(text.clone()),
        Some(_) => Err(refuse(field, "must be a string")),
    }
}

fn strings(object: &Map<String, Value>, field: &str) -> Result<Vec<String>, FieldError> {
    let Some(value) = object.get(field) else {
        return Err(refuse(field, "required"));
    };
    let Value::Array(items) = value else {
        return Err(refuse(field, "must be an array of strings"));
    };
    if items.len() > MAX_CAPABILITIES {
        return Err(refuse(
            field,
            format!("at most {MAX_CAPABILITIES} entries, got {}", items.len()),
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::String(text) => Ok(text.clone()),
            _ => Err(refuse(format!("{field}[{i}]"), "must be a string")),
        })
        .collect()
}

/// Checks every field of a signed announcement in the order they are listed.
pub fn check_announcement(a: &Announcement) -> Result<(), FieldError> {
    check_fields(a)?;
    PublicKey::from_base64(&a.public_key).map_err(|e| refuse("publicKey", e.to_string()))?;
    decode_signature(&a.signature).map_err(|e| refuse("signature", e.to_string()))?;
    Ok(())
}

/// Checks the fields every announcement has, signed or not, in the order they are listed.
pub fn check_fields(a: &Announcement) -> Result<(), FieldError> {
    check_node_id(&a.node_id).map_err(|p| refuse("nodeId", p))?;
    check_btp_endpoint(&a.btp_endpoint).map_err(|p| refuse("btpEndpoint", p))?;
    proto::Address::new(&a.ilp_address).map_err(|e| refuse("ilpAddress", e.to_string()))?;
    check_capabilities(&a.capabilities)?;
    check_version(&a.version).map_err(|p| refuse("version", p))?;
    Ok(())
}

pub fn check_node_id(id: &str) -> Result<(), String> {
    let ok = (1..=MAX_NODE_ID_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(format!("must be 1 to {MAX_NODE_ID_LEN} of [A-Za-z0-9_.-]"))
    }
}

/// Characters RFC 3986 allows in a URI. Refusing the rest (spaces, `\`, `"`, `<`, `{`, …) keeps
/// different URL parsers (ours, the WHATWG rules, `http::Uri` in WebSocket clients) from reading
/// the same endpoint differently.
fn is_uri_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=%".contains(&b)
}

pub fn check_btp_endpoint(endpoint: &str) -> Result<(), String> {
    if endpoint.len() > MAX_ENDPOINT_LEN {
        return Err(format!("must be at most {MAX_ENDPOINT_LEN} characters"));
    }
    if !(endpoint.starts_with("ws://") || endpoint.starts_with("wss://")) {
        return Err("must be a ws:// or wss:// URL".into());
    }
    if let Some(bad) = endpoint.bytes().find(|&b| !is_uri_char(b)) {
        return Err(format!(
            "contains {:?}, not allowed in a URL",
            char::from(bad)
        ));
    }
    let url = url::Url::parse(endpoint).map_err(|e| format!("not a valid URL: {e}"))?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err("must name a host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not contain credentials (user:password@)".into());
    }
    if url.fragment().is_some() {
        return Err("must not have a #fragment".into());
    }
    Ok(())
}

pub fn check_capability(capability: &str) -> Result<(), String> {
    let ok = (1..=MAX_CAPABILITY_LEN).contains(&capability.len())
        && capability
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{capability:?} must be 1 to {MAX_CAPABILITY_LEN} of [a-z0-9_-]"
        ))
    }
}

pub fn check_capabilities(capabilities: &[String]) -> Result<(), FieldError> {
    if capabilities.len() > MAX_CAPABILITIES {
        return Err(refuse(
            "capabilities",
            format!(
                "at most {MAX_CAPABILITIES} entries, got {}",
                capabilities.len()
            ),
        ));
    }
    for (i, capability) in capabilities.iter().enumerate() {
        check_capability(capability).map_err(|p| refuse(format!("capabilities[{i}]"), p))?;
        if capabilities[..i].contains(capability) {
            return Err(refuse(
                format!("capabilities[{i}]"),
                format!("{capability:?} is listed twice"),
            ));
        }
    }
    Ok(())
}

pub fn check_version(version: &str) -> Result<(), String> {
    let ok = (1..=MAX_VERSION_LEN).contains(&version.len())
        && version.bytes().all(|b| (0x20..=0x7e).contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "must be 1 to {MAX_VERSION_LEN} printable ASCII characters"
        ))
    }
}

/// The `capabilities` query parameter of a list: comma-separated, empty items ignored.
pub fn parse_capability_filter(text: Option<&str>) -> Result<Vec<String>, FieldError> {
    let mut wanted = Vec::new();
    for item in text.unwrap_or("").split(',').filter(|s| !s.is_empty()) {
        check_capability(item).map_err(|p| refuse("capabilities", p))?;
        if !wanted.iter().any(|w| w == item) {
            wanted.push(item.to_string());
        }
    }
    if wanted.len() > MAX_CAPABILITIES {
        return Err(refuse(
            "capabilities",
            format!("at most {MAX_CAPABILITIES} to filter by"),
        ));
    }
    Ok(wanted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use node_identity::NodeKey;
    use proto::discovery::sign_announcement;

    fn signed() -> Announcement {
        let mut a = Announcement {
            node_id: "node-1".into(),
            btp_endpoint: "ws://127.0.0.1:3000".into(),
            ilp_address: "test.node1".into(),
            capabilities: vec!["peering".into()],
            version: "0.1.0".into(),
            public_key: String::new(),
            sequence: 1,
            signature: String::new(),
        };
        sign_announcement(&NodeKey::generate(), &mut a);
        a
    }

    #[test]
    fn a_good_announcement_passes() {
        let a = signed();
        let body = serde_json::to_vec(&a).unwrap();
        assert_eq!(
            parse_announcement(&body).unwrap(),
            Parsed {
                announcement: a,
                signed: true
            }
        );
    }

    #[test]
    fn an_announcement_without_any_signing_field_is_unsigned() {
        let body = br#"{"nodeId":"n","btpEndpoint":"ws://h:1","ilpAddress":"g.n",
                        "capabilities":["peering"],"version":"1.0"}"#;
        let parsed = parse_announcement(body).unwrap();
        assert!(!parsed.signed);
        assert_eq!(parsed.announcement.public_key, "");
        assert_eq!(parsed.announcement.sequence, 0);
        // Its fields get the same checks as a signed one's.
        let bad = br#"{"nodeId":"n","btpEndpoint":"http://h:1","ilpAddress":"g.n",
                       "capabilities":[],"version":"1.0"}"#;
        assert_eq!(parse_announcement(bad).unwrap_err().field, "btpEndpoint");
        // One signing field without the others is a mistake, not an unsigned announcement.
        let mut value = serde_json::to_value(signed()).unwrap();
        value.as_object_mut().unwrap().remove("signature");
        let error = parse_announcement(value.to_string().as_bytes()).unwrap_err();
        assert_eq!(error.to_string(), "signature: required");
        value.as_object_mut().unwrap().remove("publicKey");
        let error = parse_announcement(value.to_string().as_bytes()).unwrap_err();
        assert_eq!(error.to_string(), "publicKey: required");
    }

    #[test]
    fn endpoints() {
        for good in [
            "ws://a",
            "wss://node.example:443/btp?x=1",
            "ws://[::1]:3000",
            "ws://10.0.0.1:3000/",
        ] {
            assert_eq!(check_btp_endpoint(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "http://a",
            "WS://a",
            "ws:a",
            "ws://",
            "ws://user:pw@a",
            "ws://user@a",
            "ws://a/#frag",
            "ws://a b",
            "ws://a\\b@c",
            "ws://a\n",
            "ws://é.example",
        ] {
            assert!(check_btp_endpoint(bad).is_err(), "{bad:?}");
        }
        assert!(check_btp_endpoint(&format!("ws://{}", "a".repeat(508))).is_err());
        assert!(check_btp_endpoint(&format!("ws://{}", "a".repeat(507))).is_ok());
    }

    #[test]
    fn node_ids() {
        for good in ["a", "A.b_c-9", &"x".repeat(64)] {
            assert!(check_node_id(good).is_ok(), "{good}");
        }
        for bad in ["", "a b", "a/b", "a\n", "é", &"x".repeat(65)] {
            assert!(check_node_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn capability_lists() {
        let caps = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(check_capabilities(&caps(&[])).is_ok());
        assert!(check_capabilities(&caps(&["a", "b-1", "c_2"])).is_ok());
        assert_eq!(
            check_capabilities(&caps(&["a", "B"])).unwrap_err().field,
            "capabilities[1]"
        );
        assert_eq!(
            check_capabilities(&caps(&["a,b"])).unwrap_err().field,
            "capabilities[0]"
        );
        assert_eq!(
            check_capabilities(&caps(&["a", "b", "a"]))
                .unwrap_err()
                .field,
            "capabilities[2]"
        );
        let many: Vec<String> = (0..33).map(|i| format!("c{i}")).collect();
        assert_eq!(check_capabilities(&many).unwrap_err().field, "capabilities");
    }

    #[test]
    fn versions() {
        assert!(check_version("1.2.3 (abc)").is_ok());
        assert!(check_version("").is_err());
        assert!(check_version("1\n2").is_err());
        assert!(check_version(&"v".repeat(65)).is_err());
    }

    #[test]
    fn body_errors_name_the_field() {
        let field = |body: &str| parse_announcement(body.as_bytes()).unwrap_err().field;
        assert_eq!(field("{"), "body");
        assert_eq!(field("[]"), "body");
        assert_eq!(field("{}"), "nodeId");
        let mut value = serde_json::to_value(signed()).unwrap();
        value["sequence"] = serde_json::json!(-1);
        assert_eq!(field(&value.to_string()), "sequence");
        value["sequence"] = serde_json::json!("1");
        assert_eq!(field(&value.to_string()), "sequence");
        value["capabilities"] = serde_json::json!("peering");
        assert_eq!(field(&value.to_string()), "capabilities");
        value["capabilities"] = serde_json::json!([1]);
        assert_eq!(field(&value.to_string()), "capabilities[0]");
    }

    #[test]
    fn capability_filters() {
        assert_eq!(parse_capability_filter(None).unwrap(), Vec::<String>::new());
        assert_eq!(
            parse_capability_filter(Some("a,,b,a")).unwrap(),
            vec!["a".to_string(), "b".to_string()]
        );
        assert_eq!(
            parse_capability_filter(Some("a,B")).unwrap_err().field,
            "capabilities"
        );
    }
}
