//! No core dumps: a core of this process would hold the master keys and every API key it has
//! opened, in plain text, on a disk anyone with access to the crash directory can read.
//!
//! At startup, before any secret is read, the core size limit is set to 0 (soft and hard, so
//! nothing later in the process can raise it) and the process is marked not dumpable, which also
//! keeps other processes of the same user from attaching to it or reading its memory through
//! /proc. Under the systemd unit, `SystemCallFilter=~@resources` forbids `setrlimit` (EPERM):
//! the unit's `LimitCORE=0` has already done that part, so a refusal is a warning, not a failure.

use rustix::process::{DumpableBehavior, Resource, Rlimit};

/// What [`disable`] could not do, to be logged once logging is up.
#[derive(Debug, Default)]
pub struct Outcome {
    pub warnings: Vec<String>,
}

impl Outcome {
    pub fn log(&self) {
        for w in &self.warnings {
            tracing::warn!("{w}");
        }
    }
}

/// Sets RLIMIT_CORE to 0 and PR_SET_DUMPABLE to 0 for this process.
pub fn disable() -> Outcome {
    let mut warnings = Vec::new();
    let zero = Rlimit {
        current: Some(0),
        maximum: Some(0),
    };
    if let Err(e) = rustix::process::setrlimit(Resource::Core, zero) {
        let already_zero = rustix::process::getrlimit(Resource::Core).current == Some(0);
        warnings.push(format!(
            "cannot set the core file size limit to 0 ({e}); it is {}: set LimitCORE=0 in the unit",
            if already_zero { "0 already" } else { "not 0" }
        ));
    }
    if let Err(e) = rustix::process::set_dumpable_behavior(DumpableBehavior::NotDumpable) {
        warnings.push(format!(
            "cannot mark the process not dumpable ({e}); a core dump or a debugger of the same user could read secrets"
        ));
    }
    Outcome { warnings }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaves_no_core_limit_and_not_dumpable() {
        let outcome = disable();
        assert!(outcome.warnings.is_empty(), "{:?}", outcome.warnings);
        let limit = rustix::process::getrlimit(Resource::Core);
        assert_eq!((limit.current, limit.maximum), (Some(0), Some(0)));
        assert_eq!(
            rustix::process::dumpable_behavior().unwrap(),
            DumpableBehavior::NotDumpable
        );
    }
}
