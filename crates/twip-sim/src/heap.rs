//! A 4-ary min-heap of `(time, payload)` ordered by time only: shallower than
//! a binary heap, so a pop touches fewer cache lines, and one compare per
//! child. Events at equal times come out in an order fixed by the sequence
//! of pushes and pops, so runs stay reproducible.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Ev {
    /// f64 bits of a non-negative time: ordered like the float.
    pub t: u64,
    pub payload: u64,
}

#[derive(Default)]
pub(crate) struct Heap {
    v: Vec<Ev>,
}

impl Heap {
    pub fn with_capacity(n: usize) -> Heap {
        Heap {
            v: Vec::with_capacity(n),
        }
    }

    #[inline(always)]
    pub fn peek_time(&self) -> Option<u64> {
        self.v.first().map(|e| e.t)
    }

    #[inline]
    pub fn push(&mut self, e: Ev) {
        let mut i = self.v.len();
        self.v.push(e);
        while i > 0 {
            let p = (i - 1) / 4;
            if self.v[p].t <= e.t {
                break;
            }
            self.v[i] = self.v[p];
            i = p;
        }
        self.v[i] = e;
    }

    #[inline]
    pub fn pop(&mut self) -> Option<Ev> {
        let last = self.v.pop()?;
        if self.v.is_empty() {
            return Some(last);
        }
        let top = self.v[0];
        let n = self.v.len();
        let mut i = 0;
        loop {
            let c = 4 * i + 1;
            if c >= n {
                break;
            }
            let mut m = c;
            if c + 4 <= n {
                // Full family: branch-free selection of the smallest child.
                let t = |k: usize| self.v[k].t;
                let a = if t(c + 1) < t(c) { c + 1 } else { c };
                let b = if t(c + 3) < t(c + 2) { c + 3 } else { c + 2 };
                m = if t(b) < t(a) { b } else { a };
            } else {
                for k in c + 1..n {
                    if self.v[k].t < self.v[m].t {
                        m = k;
                    }
                }
            }
            if self.v[m].t >= last.t {
                break;
            }
            self.v[i] = self.v[m];
            i = m;
        }
        self.v[i] = last;
        Some(top)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn pops_in_order() {
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(1);
        let mut h = Heap::default();
        let mut reference = Vec::new();
        for round in 0..2000 {
            if round % 3 == 2 {
                reference.sort();
                let want = if reference.is_empty() {
                    None
                } else {
                    Some(reference.remove(0))
                };
                assert_eq!(h.pop().map(|e| e.t), want);
            } else {
                let t = rng.random_range(0..100);
                h.push(Ev {
                    t,
                    payload: rng.random_range(0..5),
                });
                reference.push(t);
            }
        }
        reference.sort();
        for t in reference {
            assert_eq!(h.pop().map(|e| e.t), Some(t));
        }
        assert_eq!(h.pop(), None);
    }
}
