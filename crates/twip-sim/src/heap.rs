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
        let v = self.v.as_mut_slice();
        while i > 0 {
            let p = (i - 1) / 4;
            // SAFETY: p < i < v.len().
            let parent = unsafe { *v.get_unchecked(p) };
            if parent.t <= e.t {
                break;
            }
            unsafe { *v.get_unchecked_mut(i) = parent };
            i = p;
        }
        // SAFETY: i < v.len() (it only decreases from the last index).
        unsafe { *v.get_unchecked_mut(i) = e };
    }

    #[inline]
    pub fn pop(&mut self) -> Option<Ev> {
        let last = self.v.pop()?;
        let v = self.v.as_mut_slice();
        let n = v.len();
        if n == 0 {
            return Some(last);
        }
        let top = v[0];
        let mut i = 0;
        loop {
            let c = 4 * i + 1;
            let m = if c + 4 <= n {
                // Full family: branch-free selection of the smallest child.
                let k: &[Ev; 4] = v[c..c + 4].try_into().expect("four children");
                let (a, ta) = if k[1].t < k[0].t {
                    (1, k[1].t)
                } else {
                    (0, k[0].t)
                };
                let (b, tb) = if k[3].t < k[2].t {
                    (3, k[3].t)
                } else {
                    (2, k[2].t)
                };
                c + if tb < ta { b } else { a }
            } else if c < n {
                let mut m = c;
                for k in c + 1..n {
                    if v[k].t < v[m].t {
                        m = k;
                    }
                }
                m
            } else {
                break;
            };
            // SAFETY: m < n and i < m.
            let child = unsafe { *v.get_unchecked(m) };
            if child.t >= last.t {
                break;
            }
            unsafe { *v.get_unchecked_mut(i) = child };
            i = m;
        }
        // SAFETY: i < n.
        unsafe { *v.get_unchecked_mut(i) = last };
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
