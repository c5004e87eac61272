//! The roles a trust root lists keys for (the TUF specification's root and targets roles, §2.1).
//! A leaf: the trust root and the error type both name a role, and neither imports the other
//! for it.

/// A role keys are trusted for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Signs trust roots (and their rotations).
    Root,
    /// Signs update manifests.
    Release,
}

impl core::fmt::Display for Role {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Role::Root => "root",
            Role::Release => "release",
        })
    }
}
