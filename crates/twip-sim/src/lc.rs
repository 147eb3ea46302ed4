//! Least-connections in O(1): the in-rotation replicas of each service kept
//! in intrusive FIFO lists by load (requests in service + queued), with a
//! cursor on the lowest non-empty level. Ties go to the replica that has
//! been at that load the longest, which rotates picks among equals.

const NONE: u32 = u32::MAX;

pub(crate) struct LeastConn {
    prev: Vec<u32>,
    next: Vec<u32>,
    /// Level a replica is listed at, `NONE` when not listed.
    level: Vec<u32>,
    /// Per service, per level: (head, tail).
    levels: Vec<Vec<(u32, u32)>>,
    /// Per service: no listed replica has a lower level.
    min: Vec<usize>,
}

impl LeastConn {
    pub fn new(replicas: usize, services: usize) -> LeastConn {
        LeastConn {
            prev: vec![NONE; replicas],
            next: vec![NONE; replicas],
            level: vec![NONE; replicas],
            levels: vec![Vec::new(); services],
            min: vec![0; services],
        }
    }

    fn unlink(&mut self, svc: usize, r: u32) {
        let l = self.level[r as usize] as usize;
        let (p, n) = (self.prev[r as usize], self.next[r as usize]);
        let lists = &mut self.levels[svc];
        if p == NONE {
            lists[l].0 = n;
        } else {
            self.next[p as usize] = n;
        }
        if n == NONE {
            lists[l].1 = p;
        } else {
            self.prev[n as usize] = p;
        }
        self.level[r as usize] = NONE;
    }

    fn push(&mut self, svc: usize, r: u32, l: usize) {
        let lists = &mut self.levels[svc];
        if lists.len() <= l {
            lists.resize(l + 1, (NONE, NONE));
        }
        let tail = lists[l].1;
        self.prev[r as usize] = tail;
        self.next[r as usize] = NONE;
        if tail == NONE {
            lists[l].0 = r;
        } else {
            self.next[tail as usize] = r;
        }
        lists[l].1 = r;
        self.level[r as usize] = l as u32;
        if l < self.min[svc] {
            self.min[svc] = l;
        }
    }

    /// Lists replica `r` of `svc` at `load` (moving it if listed elsewhere).
    #[inline]
    pub fn set(&mut self, svc: usize, r: u32, load: usize) {
        let cur = self.level[r as usize];
        if cur == load as u32 {
            return;
        }
        if cur != NONE {
            self.unlink(svc, r);
        }
        self.push(svc, r, load);
    }

    /// Takes replica `r` out of the lists.
    pub fn remove(&mut self, svc: usize, r: u32) {
        if self.level[r as usize] != NONE {
            self.unlink(svc, r);
        }
    }

    /// A replica with the fewest requests, or `NONE` if none is listed.
    #[inline]
    pub fn pick(&mut self, svc: usize) -> u32 {
        let lists = &self.levels[svc];
        let mut l = self.min[svc];
        while l < lists.len() {
            if lists[l].0 != NONE {
                self.min[svc] = l;
                return lists[l].0;
            }
            l += 1;
        }
        self.min[svc] = 0;
        NONE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_least_loaded_in_fifo_order() {
        let mut lc = LeastConn::new(4, 1);
        for r in 0..3 {
            lc.set(0, r, 0);
        }
        assert_eq!(lc.pick(0), 0);
        lc.set(0, 0, 1);
        assert_eq!(lc.pick(0), 1);
        lc.set(0, 1, 1);
        lc.set(0, 2, 1);
        assert_eq!(lc.pick(0), 0, "all at 1: the one there longest");
        lc.set(0, 1, 0);
        assert_eq!(lc.pick(0), 1);
        lc.remove(0, 1);
        assert_eq!(lc.pick(0), 0);
        for r in 0..3 {
            lc.remove(0, r);
        }
        assert_eq!(lc.pick(0), NONE);
    }
}
