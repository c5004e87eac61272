//! The plugin's state: the compiled policy and the subscribe mode, loaded once at
//! `mosquitto_plugin_init`.

use std::path::Path;

use iotsec_mqtt_acl::{CompiledPolicy, Policy, SubscribeMode};

use crate::authorize::{AclRequest, Verdict, authorize};
use crate::options::Options;

/// What one loaded plugin instance decides with.
#[derive(Debug)]
pub struct Plugin {
    policy: CompiledPolicy,
    mode: SubscribeMode,
}

impl Plugin {
    /// A plugin for an already loaded policy.
    pub fn new(policy: Policy, mode: SubscribeMode) -> Self {
        Plugin {
            policy: CompiledPolicy::compile(policy),
            mode,
        }
    }

    /// Reads and compiles the policy the options name. Any error (unreadable file, bad TOML
    /// or JSON, invalid rule) is returned: the plugin must then refuse to start.
    pub fn load(options: &Options) -> Result<Self, String> {
        let policy = load_policy(&options.policy)?;
        Ok(Plugin::new(policy, options.mode))
    }

    /// Decides one ACL check (see [`authorize`]).
    pub fn check(&self, request: &AclRequest<'_>) -> Verdict {
        authorize(&self.policy, self.mode, request)
    }

    /// The subscribe mode in force.
    pub fn mode(&self) -> SubscribeMode {
        self.mode
    }

    /// The number of rules, for the start-up log line.
    pub fn rule_count(&self) -> usize {
        self.policy.policy().rules().len()
    }
}

/// Loads a policy file the way `iotsec-cloud acl --policy` does: JSON if the name ends in
/// `.json`, TOML otherwise.
pub fn load_policy(path: &Path) -> Result<Policy, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let parsed = if path.extension().is_some_and(|e| e == "json") {
        Policy::from_json_str(&text)
    } else {
        Policy::from_toml_str(&text)
    };
    parsed.map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn temp(name: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("iotsec-plugin-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn loads_toml_and_json() {
        let toml = temp(
            "p.toml",
            "[[rule]]\neffect = \"allow\"\nactions = [\"publish\"]\ntopics = [\"a/b\"]\n",
        );
        let json = temp(
            "p.json",
            r#"{"rules": [{"effect": "allow", "actions": ["publish"], "topics": ["a/b"]}]}"#,
        );
        for policy in [toml, json] {
            let p = Plugin::load(&Options {
                policy,
                mode: SubscribeMode::Narrow,
            })
            .unwrap();
            assert_eq!(p.rule_count(), 1);
            assert_eq!(p.mode(), SubscribeMode::Narrow);
        }
    }

    #[test]
    fn missing_or_broken_policy_is_an_error() {
        let missing = Options {
            policy: PathBuf::from("/nonexistent/iotsec/policy.toml"),
            mode: SubscribeMode::Strict,
        };
        assert!(Plugin::load(&missing).unwrap_err().contains("policy.toml"));
        let broken = Options {
            policy: temp("broken.toml", "[[rule]]\neffect = \"maybe\"\n"),
            mode: SubscribeMode::Strict,
        };
        assert!(Plugin::load(&broken).is_err());
        let bad_template = Options {
            policy: temp(
                "bad-template.toml",
                "[[rule]]\neffect = \"allow\"\nactions = [\"publish\"]\ntopics = [\"a/${client_id}x\"]\n",
            ),
            mode: SubscribeMode::Strict,
        };
        assert!(Plugin::load(&bad_template).is_err());
    }
}
