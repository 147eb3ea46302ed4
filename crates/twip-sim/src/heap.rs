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

/// Event queue classes.
pub(crate) const CLASSES: usize = 4;

/// Events split into [`CLASSES`] classes, each in its own [`Heap`], the next
/// event found by a branch-free minimum over the four head times. The
/// engine gives the services with the shortest service times classes of
/// their own: a request's short front-end events then live in heaps of a
/// few entries instead of sifting through the long back-end queue, so most
/// pops touch a tiny heap. Ties between classes go to the lowest class, so
/// runs stay reproducible.
pub(crate) struct Queue {
    heaps: [Heap; CLASSES],
    /// Head time of each class, `u64::MAX` when the class is empty.
    tops: [u64; CLASSES],
}

impl Queue {
    pub fn new() -> Queue {
        Queue {
            heaps: std::array::from_fn(|_| Heap::with_capacity(256)),
            tops: [u64::MAX; CLASSES],
        }
    }

    #[inline(always)]
    pub fn push(&mut self, class: usize, e: Ev) {
        self.heaps[class].push(e);
        let top = &mut self.tops[class];
        if e.t < *top {
            *top = e.t;
        }
    }

    /// The class and time of the earliest event, if any.
    #[inline(always)]
    pub fn peek(&self) -> Option<(usize, u64)> {
        let t = &self.tops;
        let (a, ta) = if t[1] < t[0] { (1, t[1]) } else { (0, t[0]) };
        let (b, tb) = if t[3] < t[2] { (3, t[3]) } else { (2, t[2]) };
        let best = if tb < ta { (b, tb) } else { (a, ta) };
        (best.1 != u64::MAX).then_some(best)
    }

    /// Removes the head of `class` (as found by [`Queue::peek`]).
    #[inline(always)]
    pub fn pop(&mut self, class: usize) -> Option<Ev> {
        let h = &mut self.heaps[class];
        let e = h.pop();
        self.tops[class] = h.peek_time().unwrap_or(u64::MAX);
        e
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

    #[test]
    fn queue_pops_in_order_across_classes() {
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(2);
        let mut q = Queue::new();
        let mut reference = Vec::new();
        for round in 0..3000 {
            if round % 3 == 2 {
                reference.sort();
                let want = (!reference.is_empty()).then(|| reference.remove(0));
                let got = q.peek().map(|(c, t)| {
                    assert_eq!(q.pop(c).map(|e| e.t), Some(t));
                    t
                });
                assert_eq!(got, want);
            } else {
                let t = rng.random_range(0..100);
                q.push(rng.random_range(0..CLASSES), Ev { t, payload: 0 });
                reference.push(t);
            }
        }
        reference.sort();
        for t in reference {
            let (c, top) = q.peek().expect("not empty");
            assert_eq!(top, t);
            q.pop(c);
        }
        assert_eq!(q.peek(), None);
    }
}
