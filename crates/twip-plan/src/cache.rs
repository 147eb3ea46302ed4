//! Results of simulated cases, reused across candidates: exactly (same
//! replicas, same losses), or by dominance (a case with no more survivors
//! than one that failed fails; one with at least the survivors of one that
//! passed, and no more losses, passes).

use std::sync::Mutex;

use crate::explain::Inference;
use crate::verify::{le, Case, CaseResult};

/// (replicas, losses, result) of one simulated case.
type Entry = (Vec<u32>, Vec<u32>, CaseResult);

/// Results of simulated cases, keyed by (replicas, losses), with dominance.
#[derive(Debug, Default)]
pub struct Cache {
    done: Mutex<Vec<Entry>>,
}

impl Cache {
    /// The result of `case` if it was simulated, or follows from one that was.
    pub fn lookup(&self, case: &Case) -> Option<CaseResult> {
        let done = self.done.lock().ok()?;
        let surv = case.survivors();
        let rename = |r: &CaseResult, inferred: Option<Inference>| {
            let mut r = r.clone();
            r.loss = case.loss.clone();
            r.inferred_from = inferred;
            r
        };
        for (rep, lost, r) in done.iter() {
            if rep == &case.replicas && lost == &case.lost {
                return Some(rename(r, None));
            }
        }
        for (rep, lost, r) in done.iter() {
            let s: Vec<u32> = rep.iter().zip(lost).map(|(a, b)| a - b).collect();
            let bad = r.violation().is_some();
            if bad && le(&surv, &s) && le(lost, &case.lost) {
                return Some(rename(r, Some(Inference::FailedWithMore(s))));
            }
            if !bad && le(&s, &surv) && le(&case.lost, lost) {
                return Some(rename(r, Some(Inference::PassedWithFewer(s))));
            }
        }
        None
    }

    /// Records a simulated case.
    pub fn insert(&self, case: &Case, r: &CaseResult) {
        if let Ok(mut d) = self.done.lock() {
            d.push((case.replicas.clone(), case.lost.clone(), r.clone()));
        }
    }
}
