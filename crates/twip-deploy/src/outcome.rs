//! What an apply did, and how it reports stopping half-way.

use std::fmt;

/// What an apply did, whatever the target: the changes it computed and
/// whether it carried them out. `A` is the applier's own change type
/// (a container to create, a service to update, ...).
#[derive(Debug)]
pub struct Outcome<A> {
    /// The changes (empty: in sync).
    pub actions: Vec<A>,
    /// Whether they were carried out (false for a dry run).
    pub applied: bool,
}

impl<A> Default for Outcome<A> {
    fn default() -> Self {
        Outcome {
            actions: Vec::new(),
            applied: false,
        }
    }
}

/// What stopped half-way: an apply or a destroy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// `twip apply`: what was and was not applied.
    Apply,
    /// `twip destroy`: what was and was not removed.
    Destroy,
}

/// An apply (or destroy) that stopped half-way: the first failure, what was
/// carried out before it and what was not. `E` is the applier's error type,
/// whose `Partial` variant wraps this.
///
/// Shown as the cause, then one line of what was applied (removed), one of
/// what was not, and a hint that applying (destroying) again converges from
/// there.
#[derive(Debug)]
pub struct Partial<E> {
    /// The first failure.
    pub cause: Box<E>,
    /// Actions carried out, one line each.
    pub done: Vec<String>,
    /// Actions not carried out, one line each.
    pub left: Vec<String>,
    /// An apply or a destroy.
    pub stage: Stage,
}

impl<E> Partial<E> {
    /// An apply stopped at `cause` after `done`, with `left` not carried out.
    pub fn new(cause: E, done: Vec<String>, left: Vec<String>) -> Self {
        Partial {
            cause: Box::new(cause),
            done,
            left,
            stage: Stage::Apply,
        }
    }

    /// A destroy stopped at `cause` after removing `done`, with `left` not
    /// removed.
    pub fn destroy(cause: E, done: Vec<String>, left: Vec<String>) -> Self {
        Partial {
            stage: Stage::Destroy,
            ..Partial::new(cause, done, left)
        }
    }
}

/// `a; b; c`, or `nothing`.
fn list(v: &[String]) -> String {
    if v.is_empty() {
        "nothing".into()
    } else {
        v.join("; ")
    }
}

impl<E: fmt::Display> fmt::Display for Partial<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (done, again) = match self.stage {
            Stage::Apply => ("applied", "apply again; it converges from here"),
            Stage::Destroy => ("removed", "destroy again; it removes the rest"),
        };
        write!(
            f,
            "{}\n  {done}: {}\n  not {done}: {}\n  hint: fix the cause and {again}",
            self.cause,
            list(&self.done),
            list(&self.left)
        )
    }
}

// The cause is part of the message, so it is not also given as `source()`
// (a chain printer would show it twice).
impl<E: fmt::Debug + fmt::Display> std::error::Error for Partial<E> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partial_stop_says_what_was_and_was_not_applied() {
        let p = Partial::new(
            "creating service e-app failed",
            vec!["+ create   cluster c".into()],
            vec![
                "+ create   service e-app".into(),
                "- remove   service e-old".into(),
            ],
        );
        assert_eq!(
            p.to_string(),
            "creating service e-app failed\n  applied: + create   cluster c\n  not applied: + create   service e-app; - remove   service e-old\n  hint: fix the cause and apply again; it converges from here"
        );
        let none: Partial<&str> = Partial::new("no engine", vec![], vec!["x".into()]);
        assert!(none.to_string().contains("applied: nothing\n"), "{none}");
        let d = Partial::destroy(
            "network in use",
            vec!["container c".into()],
            vec!["network n".into()],
        );
        assert_eq!(
            d.to_string(),
            "network in use\n  removed: container c\n  not removed: network n\n  hint: fix the cause and destroy again; it removes the rest"
        );
    }
}
