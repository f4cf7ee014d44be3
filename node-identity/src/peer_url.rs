//! Which peer URLs a node may dial, in the one normal form every crate stores and compares.

/// Why a peer URL was refused. The URL in it has any userinfo redacted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid peer URL {url:?}: {reason}")]
pub struct UrlError {
    pub url: String,
    pub reason: &'static str,
}

/// Accepts `ws://…` and `wss://…`, and the `btp+ws://…` spelling of ilp-plugin-btp, and gives
/// the URL without the `btp+`. Credentials inside the URL are refused: they would end up in logs
/// and config files.
pub fn normalize(url: &str) -> Result<String, UrlError> {
    let invalid = |reason| UrlError {
        url: redact_userinfo(url),
        reason,
    };
    let url = url.strip_prefix("btp+").unwrap_or(url);
    let rest = url
        .strip_prefix("ws://")
        .or_else(|| url.strip_prefix("wss://"))
        .ok_or(invalid("scheme must be ws:// or wss://"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() {
        return Err(invalid("missing host"));
    }
    if authority.contains('@') {
        return Err(invalid(
            "credentials in the URL are not allowed; use a secret reference",
        ));
    }
    if url.starts_with("wss://") {
        return Err(invalid(
            "wss:// is not supported by this build yet; terminate TLS in front of the node",
        ));
    }
    Ok(url.to_string())
}

fn redact_userinfo(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}://<redacted>{}", &url[..scheme_end], &url[at..])
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_normalized_and_checked() {
        assert_eq!(
            normalize("ws://127.0.0.1:3000").as_deref(),
            Ok("ws://127.0.0.1:3000")
        );
        assert_eq!(
            normalize("btp+ws://node-b:3000/btp").as_deref(),
            Ok("ws://node-b:3000/btp")
        );
        assert!(normalize("http://x").is_err());
        assert!(normalize("ws://").is_err());
        let err = normalize("btp+ws://alice:s3cret@host:1").unwrap_err();
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }
}
