//! What each answer must look like. Each check returns the rule in words, so the flag error
//! and the interactive re-ask say the same thing.

pub use config_model::settlement::{evm_address, xrp_address};

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
