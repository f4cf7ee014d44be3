//! How a node settles (`SETTLEMENT`, `SETTLEMENT_EVM_ADDRESS`, `SETTLEMENT_XRP_ADDRESS`, as
//! `ctl setup` asks for them): the rules for each address, and the capabilities a node that
//! settles that way announces. The wizard checks answers with these rules and the control plane
//! checks its environment with the same ones.

/// XRP Ledger's base58 alphabet (Bitcoin's, reordered so classic addresses start with `r`);
/// like every base58 alphabet it has no 0, O, I or l.
pub const XRP_ALPHABET: &str = "rpshnaf39wBUDNEGHJKLM4PQRST7VWXYZ2bcdeCg65jkm8oFqi1tuvAxyz";

/// What a node settling on an EVM chain announces with discovery.
pub const EVM_CAPABILITY: &str = "evm-settlement";
/// What a node settling on the XRP Ledger announces with discovery.
pub const XRP_CAPABILITY: &str = "xrp-settlement";

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

/// How a node settles, as configured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settlement {
    /// `evm-settlement` and/or `xrp-settlement`: what the node announces with discovery.
    pub capabilities: Vec<String>,
    pub evm_address: Option<String>,
    pub xrp_address: Option<String>,
}

/// Which of the three settings a problem is about, and the problem.
pub type SettlementError = (&'static str, String);

impl Settlement {
    /// Reads `SETTLEMENT` (`evm`, `xrp`, `both`, or unset) and the addresses, each checked by
    /// its rule. An address for a method that was not chosen is refused: it would be announced
    /// nowhere and paid to nobody, so it is most likely a mistake.
    pub fn parse(
        method: Option<&str>,
        evm: Option<&str>,
        xrp: Option<&str>,
    ) -> Result<Settlement, SettlementError> {
        let (uses_evm, uses_xrp) = match method {
            // "none": what earlier example files wrote for a node that does not settle.
            None | Some("none") => (false, false),
            Some("evm") => (true, false),
            Some("xrp") => (false, true),
            Some("both") => (true, true),
            Some(other) => {
                return Err((
                    "SETTLEMENT",
                    format!("{other:?} is not evm, xrp, both or none"),
                ));
            }
        };
        let address = |name: &'static str,
                       used: bool,
                       value: Option<&str>,
                       rule: fn(&str) -> Result<(), String>|
         -> Result<Option<String>, SettlementError> {
            match value {
                None => Ok(None),
                Some(_) if !used => Err((
                    name,
                    "set, but SETTLEMENT does not include this method".to_string(),
                )),
                Some(text) => rule(text)
                    .map(|()| Some(text.to_string()))
                    .map_err(|p| (name, p)),
            }
        };
        let mut capabilities = Vec::new();
        if uses_evm {
            capabilities.push(EVM_CAPABILITY.to_string());
        }
        if uses_xrp {
            capabilities.push(XRP_CAPABILITY.to_string());
        }
        Ok(Settlement {
            capabilities,
            evm_address: address("SETTLEMENT_EVM_ADDRESS", uses_evm, evm, evm_address)?,
            xrp_address: address("SETTLEMENT_XRP_ADDRESS", uses_xrp, xrp, xrp_address)?,
        })
    }

    /// The methods chosen, as `SETTLEMENT` spells them (`evm`, `xrp`), each with its address
    /// (`None`: chosen without one): the form the control plane stores, one row per method.
    pub fn methods(&self) -> Vec<(&'static str, Option<&str>)> {
        let mut methods = Vec::new();
        if self.capabilities.iter().any(|c| c == EVM_CAPABILITY) {
            methods.push(("evm", self.evm_address.as_deref()));
        }
        if self.capabilities.iter().any(|c| c == XRP_CAPABILITY) {
            methods.push(("xrp", self.xrp_address.as_deref()));
        }
        methods
    }

    /// Back from [`Settlement::methods`]' form, checked by the same rules as the environment
    /// (so a stored row that breaks them is refused, not shown).
    pub fn from_methods(
        methods: &[(String, Option<String>)],
    ) -> Result<Settlement, SettlementError> {
        let mut evm = None;
        let mut xrp = None;
        for (method, address) in methods {
            match method.as_str() {
                "evm" => evm = Some(address.as_deref()),
                "xrp" => xrp = Some(address.as_deref()),
                other => {
                    return Err(("SETTLEMENT", format!("{other:?} is not evm or xrp")));
                }
            }
        }
        let method = match (evm.is_some(), xrp.is_some()) {
            (false, false) => None,
            (true, false) => Some("evm"),
            (false, true) => Some("xrp"),
            (true, true) => Some("both"),
        };
        Settlement::parse(method, evm.flatten(), xrp.flatten())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_round_trip() {
        let owned = |s: &Settlement| -> Vec<(String, Option<String>)> {
            s.methods()
                .into_iter()
                .map(|(m, a)| (m.to_string(), a.map(String::from)))
                .collect()
        };
        for (method, evm, xrp) in [
            (None, None, None),
            (
                Some("evm"),
                Some("0x52908400098527886E0F7030069857D2E4169EE7"),
                None,
            ),
            (Some("xrp"), None, None),
            (
                Some("both"),
                None,
                Some("rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTh"),
            ),
        ] {
            let settlement = Settlement::parse(method, evm, xrp).unwrap();
            let back = Settlement::from_methods(&owned(&settlement)).unwrap();
            assert_eq!(back, settlement, "{method:?}");
        }
        assert!(Settlement::from_methods(&[("btc".into(), None)]).is_err());
        assert!(Settlement::from_methods(&[("evm".into(), Some("0x1".into()))]).is_err());
    }

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
    fn the_method_gives_the_capabilities_and_addresses_follow_their_rules() {
        let evm = "0x52908400098527886E0F7030069857D2E4169EE7";
        let xrp = "rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTh";
        assert_eq!(
            Settlement::parse(None, None, None),
            Ok(Settlement::default())
        );
        assert_eq!(
            Settlement::parse(Some("none"), None, None),
            Ok(Settlement::default())
        );
        let both = Settlement::parse(Some("both"), Some(evm), Some(xrp)).unwrap();
        assert_eq!(both.capabilities, ["evm-settlement", "xrp-settlement"]);
        assert_eq!(both.evm_address.as_deref(), Some(evm));
        assert_eq!(
            Settlement::parse(Some("xrp"), None, Some(xrp))
                .unwrap()
                .capabilities,
            ["xrp-settlement"]
        );
        assert_eq!(
            Settlement::parse(Some("bitcoin"), None, None)
                .unwrap_err()
                .0,
            "SETTLEMENT"
        );
        assert_eq!(
            Settlement::parse(Some("evm"), Some("0x12"), None).unwrap_err(),
            ("SETTLEMENT_EVM_ADDRESS", EVM_RULE.to_string())
        );
        assert_eq!(
            Settlement::parse(Some("evm"), None, Some(xrp))
                .unwrap_err()
                .0,
            "SETTLEMENT_XRP_ADDRESS"
        );
    }
}
