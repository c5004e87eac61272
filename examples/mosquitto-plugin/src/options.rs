//! The plugin's options: the `plugin_opt_KEY VALUE` lines of `mosquitto.conf`, which mosquitto
//! hands over as (KEY, VALUE) pairs.

use std::path::PathBuf;

use iotsec_mqtt_acl::SubscribeMode;

/// The validated options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// `plugin_opt_policy`: the policy file (TOML, or JSON if it ends in `.json`). Required.
    pub policy: PathBuf,
    /// `plugin_opt_mode`: `strict` (default), `narrow` or `mosquitto`.
    pub mode: SubscribeMode,
}

/// Validates the options. Unknown or repeated keys are errors (a misspelt `plugin_opt_mode`
/// must not silently fall back to a default), and so is a missing `policy`.
pub fn parse_options<'a>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<Options, String> {
    let mut policy: Option<PathBuf> = None;
    let mut mode: Option<SubscribeMode> = None;
    for (key, value) in pairs {
        match key {
            "policy" => {
                if policy.is_some() {
                    return Err("plugin_opt_policy given twice".into());
                }
                if value.is_empty() {
                    return Err("plugin_opt_policy is empty".into());
                }
                policy = Some(PathBuf::from(value));
            }
            "mode" => {
                if mode.is_some() {
                    return Err("plugin_opt_mode given twice".into());
                }
                mode = Some(SubscribeMode::from_name(value).ok_or_else(|| {
                    format!("plugin_opt_mode {value:?} is not strict, narrow or mosquitto")
                })?);
            }
            other => {
                return Err(format!(
                    "unknown option plugin_opt_{other} (known: policy, mode)"
                ));
            }
        }
    }
    let policy = policy.ok_or("plugin_opt_policy is required (path of the policy file)")?;
    Ok(Options {
        policy,
        mode: mode.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_required_mode_defaults_to_strict() {
        let o = parse_options([("policy", "/etc/p.toml")]).unwrap();
        assert_eq!(o.policy, PathBuf::from("/etc/p.toml"));
        assert_eq!(o.mode, SubscribeMode::Strict);
        assert!(parse_options([]).unwrap_err().contains("required"));
        assert!(parse_options([("mode", "narrow")]).is_err());
        assert!(parse_options([("policy", "")]).is_err());
    }

    #[test]
    fn modes_parse() {
        for (name, mode) in [
            ("strict", SubscribeMode::Strict),
            ("narrow", SubscribeMode::Narrow),
            ("mosquitto", SubscribeMode::Mosquitto),
        ] {
            let o = parse_options([("policy", "p"), ("mode", name)]).unwrap();
            assert_eq!(o.mode, mode);
        }
        assert!(parse_options([("policy", "p"), ("mode", "Strict")]).is_err());
    }

    #[test]
    fn unknown_and_repeated_keys_are_refused() {
        assert!(parse_options([("policy", "p"), ("mdoe", "narrow")]).is_err());
        assert!(parse_options([("policy", "p"), ("policy", "q")]).is_err());
        assert!(parse_options([("policy", "p"), ("mode", "strict"), ("mode", "strict")]).is_err());
    }
}
