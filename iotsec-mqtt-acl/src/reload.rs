//! Atomic policy reload: a new policy is parsed and compiled off to the side, then swapped in
//! with one pointer store. Checks that already hold the old policy finish with it.

use std::sync::{Arc, RwLock};

use crate::compiled::CompiledPolicy;
use crate::error::PolicyError;
use crate::policy::Policy;

/// A shared, swappable compiled policy.
#[derive(Debug)]
pub struct PolicyHandle {
    current: RwLock<Arc<CompiledPolicy>>,
}

impl PolicyHandle {
    /// Starts serving a policy.
    pub fn new(policy: CompiledPolicy) -> Self {
        PolicyHandle {
            current: RwLock::new(Arc::new(policy)),
        }
    }

    /// The policy in force now (cheap: one reference-count increment, no allocation).
    pub fn current(&self) -> Arc<CompiledPolicy> {
        match self.current.read() {
            Ok(guard) => Arc::clone(&guard),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Swaps in a compiled policy; returns the previous one.
    pub fn replace(&self, policy: CompiledPolicy) -> Arc<CompiledPolicy> {
        let new = Arc::new(policy);
        let mut guard = match self.current.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        core::mem::replace(&mut *guard, new)
    }

    /// Parses, validates and compiles TOML, then swaps it in. On error the old policy stays.
    pub fn reload_toml(&self, text: &str) -> Result<Arc<CompiledPolicy>, PolicyError> {
        let compiled = CompiledPolicy::compile(Policy::from_toml_str(text)?);
        Ok(self.replace(compiled))
    }
}
