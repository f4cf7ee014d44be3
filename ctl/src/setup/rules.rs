//! What each answer must look like. Each check returns the rule in words, so the flag error
//! and the interactive re-ask say the same thing.

/// XRP Ledger's base58 alphabet (Bitcoin's, reordered so classic addresses start with `r`);
/// like every base58 alphabet it has no 0, O, I or l.
pub const XRP_ALPHABET: &str = "rpshnaf39wBUDNEGHJKLM4PQRST7VWXYZ2bcdeCg65jkm8oFqi1tuvAxyz";

pub const EVM_RULE: &str = "an EVM address is 0x followed by exactly 40 hex digits (0-9, a-f)";
// Short enough that the wizard's "error: " line fits 80 columns.
pub const XRP_RULE: &str =
    "an XRP address is r and 24 to 34 XRP base58 characters (no 0, O, I or l)";

pub fn evm_address(text: &str) -> Result<(), String> {
    let valid = text
        .strip_prefix("0x")
        .is_some_and(|hex| hex.len() == 40 && hex.chars().all(|c| c.is_ascii_hexdigit()));
    if valid { Ok(()) } else { Err(EVM_RULE.into()) }
}

pub fn xrp_address(text: &str) -> Result<(), String> {
    let valid = text.strip_prefix('r').is_some_and(|rest| {
        (24..=34).contains(&rest.len()) && rest.chars().all(|c| XRP_ALPHABET.contains(c))
    });
    if valid { Ok(()) } else { Err(XRP_RULE.into()) }
}

pub fn node_id(text: &str) -> Result<(), String> {
    config_model::check_identifier(text)
}

pub fn ilp_address(text: &str) -> Result<(), String> {
    proto::Address::new(text)
        .map(|_| ())
        .map_err(|e| format!("not an ILP address ({e}), e.g. g.acme.east"))
}

/// KMS key ids, ARNs and resource names: free-form, but one line of visible characters so
/// the .env file stays one variable per line.
pub fn key_id(text: &str) -> Result<(), String> {
    if text.is_empty() {
        return Err("required for a KMS key backend".into());
    }
    if !text.chars().all(|c| c.is_ascii_graphic()) {
        return Err("must be visible ASCII characters without spaces".into());
    }
    Ok(())
}

pub fn port(text: &str) -> Result<u16, String> {
    match text.trim().parse::<u16>() {
        Ok(port) if port > 0 => Ok(port),
        _ => Err(format!("{text:?} is not a port number (1-65535)")),
    }
}

/// Comma-separated http(s) URLs; empty means none. Returns them trimmed.
pub fn discovery_endpoints(text: &str) -> Result<Vec<String>, String> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    text.split(',')
        .map(|item| {
            let item = item.trim();
            let url = url::Url::parse(item).map_err(|e| {
                format!("{item:?} is not a URL ({e}); give http(s) URLs separated by commas")
            })?;
            if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
                return Err(format!(
                    "{item:?} is not an http:// or https:// URL with a host"
                ));
            }
            Ok(item.to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_xrp_alphabet_is_base58_without_look_alikes() {
        assert_eq!(XRP_ALPHABET.len(), 58);
        let mut chars: Vec<char> = XRP_ALPHABET.chars().collect();
        chars.sort_unstable();
        chars.dedup();
        assert_eq!(chars.len(), 58, "no repeats");
        for excluded in ['0', 'O', 'I', 'l'] {
            assert!(!XRP_ALPHABET.contains(excluded), "{excluded}");
        }
    }

    #[test]
    fn evm_addresses() {
        assert!(evm_address("0x52908400098527886E0F7030069857D2E4169EE7").is_ok());
        assert!(evm_address("0xde709f2102306220921060314715629080e2fb77").is_ok());
        for bad in [
            "52908400098527886E0F7030069857D2E4169EE7",
            "0x52908400098527886E0F7030069857D2E4169EE",
            "0x52908400098527886E0F7030069857D2E4169EE77",
            "0x52908400098527886E0F7030069857D2E4169EEG",
            "0X52908400098527886E0F7030069857D2E4169EE7",
            "",
        ] {
            assert_eq!(evm_address(bad).err().as_deref(), Some(EVM_RULE), "{bad}");
        }
    }

    #[test]
    fn xrp_addresses() {
        assert!(xrp_address("rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTh").is_ok());
        assert!(xrp_address(&format!("r{}", "p".repeat(24))).is_ok());
        for bad in [
            "rHb9CJAWyB4rj91VRWn96DkukG4bwdtyT0",
            "rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTO",
            "rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTI",
            "rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTl",
            "xHb9CJAWyB4rj91VRWn96DkukG4bwdtyTh",
            &format!("r{}", "p".repeat(23)),
            &format!("r{}", "p".repeat(35)),
        ] {
            assert_eq!(xrp_address(bad).err().as_deref(), Some(XRP_RULE), "{bad}");
        }
    }

    #[test]
    fn discovery_endpoints_are_http_urls() {
        assert_eq!(discovery_endpoints(" ").ok(), Some(vec![]));
        assert_eq!(
            discovery_endpoints("http://a:8090, https://b.example/x").ok(),
            Some(vec!["http://a:8090".into(), "https://b.example/x".into()])
        );
        for bad in ["a:8090", "ftp://a", "http://a,", "http://a,,http://b"] {
            assert!(discovery_endpoints(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ports_node_ids_addresses_and_key_ids() {
        assert_eq!(port("3000"), Ok(3000));
        assert!(port("0").is_err() && port("65536").is_err() && port("x").is_err());
        assert!(node_id("node-1a2b").is_ok() && node_id("a b").is_err());
        assert!(ilp_address("g.node-1").is_ok() && ilp_address("g..x").is_err());
        assert!(key_id("arn:aws:kms:eu-west-1:1:key/abc").is_ok());
        assert!(key_id("").is_err() && key_id("a b").is_err() && key_id("a\nB=1").is_err());
    }
}
