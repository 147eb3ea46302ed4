// Shared guest glue of the built-in policies: WIT bindings and the
// conversion from the WIT request to `twip_policy_core`'s view of it.
// Included by each guest's lib.rs, which defines KIND, NAME, DESCRIPTION.

wit_bindgen::generate!({
    path: "../../wit",
    world: "policy",
});

use exports::twip::policy::placement::{
    Assignments, ErrorKind, Guest, PlaceError, PolicyInfo, Request, Topology,
};
use twip_policy_core::{Fail, NodeCap, Svc, Topo};

struct Policy;

fn topo(t: Option<Topology>) -> Option<Topo> {
    t.map(|t| match t {
        Topology::Node => Topo::Node,
        Topology::Zone => Topo::Zone,
    })
}

impl Guest for Policy {
    fn info() -> PolicyInfo {
        PolicyInfo {
            name: NAME.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: DESCRIPTION.into(),
        }
    }

    fn place(req: Request) -> Result<Assignments, PlaceError> {
        let nodes: Vec<NodeCap> = req
            .nodes
            .iter()
            .map(|n| NodeCap {
                zone: n.zone,
                cpu: n.cpu_millis,
                mem: n.memory_mib,
            })
            .collect();
        let services: Vec<Svc> = req
            .services
            .iter()
            .map(|s| Svc {
                replicas: s.replicas,
                cpu: s.cpu_millis,
                mem: s.memory_mib,
                spread: topo(s.spread),
                anti: topo(s.anti_affinity),
                existing: &s.existing,
            })
            .collect();
        let placed = twip_policy_core::place(KIND, req.zones.len(), &nodes, &services);
        placed.map(|per_service| per_service.concat()).map_err(|f| {
            let kind = match f {
                Fail::Capacity { .. } => ErrorKind::InsufficientCapacity,
                Fail::Unsatisfiable { .. } => ErrorKind::Unsatisfiable,
                Fail::Invalid(_) => ErrorKind::InvalidRequest,
            };
            let message = f.describe(&services, &|i| req.services[i].name.clone());
            PlaceError { kind, message }
        })
    }
}

export!(Policy);

/// A bump allocator for the guest: allocation is a pointer increment, and
/// the whole heap is reclaimed when the last live allocation is freed —
/// which happens after every call, once the bindings have freed the
/// request and (in post-return) the answer. Much cheaper per call than
/// dlmalloc for this allocate-everything-then-free-everything pattern.
mod bump {
    use std::alloc::{GlobalAlloc, Layout};

    pub struct Bump;

    struct Heap {
        base: usize,
        top: usize,
        end: usize,
        live: usize,
    }

    // Single-threaded wasm: no other thread can observe the heap.
    static mut HEAP: Heap = Heap {
        base: 0,
        top: 0,
        end: 0,
        live: 0,
    };

    const PAGE: usize = 65536;

    #[allow(static_mut_refs)]
    fn heap() -> &'static mut Heap {
        // SAFETY: wasm32 guests are single-threaded and the allocator is
        // not re-entered.
        unsafe { &mut HEAP }
    }

    unsafe impl GlobalAlloc for Bump {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            let h = heap();
            if h.base == 0 {
                h.base = core::arch::wasm32::memory_size(0) * PAGE;
                h.top = h.base;
                h.end = h.base;
            }
            let p = (h.top + layout.align() - 1) & !(layout.align() - 1);
            let Some(new_top) = p.checked_add(layout.size()) else {
                return core::ptr::null_mut();
            };
            if new_top > h.end {
                let pages = (new_top - h.end).div_ceil(PAGE);
                if core::arch::wasm32::memory_grow(0, pages) == usize::MAX {
                    return core::ptr::null_mut();
                }
                h.end += pages * PAGE;
            }
            h.top = new_top;
            h.live += 1;
            p as *mut u8
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            let h = heap();
            h.live -= 1;
            if h.live == 0 {
                h.top = h.base;
            } else if ptr as usize + layout.size() == h.top {
                h.top = ptr as usize;
            }
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            let h = heap();
            let start = ptr as usize;
            // The last allocation grows (or shrinks) in place.
            if start + layout.size() == h.top && new_size <= h.end - start {
                h.top = start + new_size;
                return ptr;
            }
            // SAFETY: as in GlobalAlloc::realloc's default.
            unsafe {
                let new = self.alloc(Layout::from_size_align_unchecked(new_size, layout.align()));
                if !new.is_null() {
                    core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                    self.dealloc(ptr, layout);
                }
                new
            }
        }
    }
}

#[global_allocator]
static ALLOC: bump::Bump = bump::Bump;

/// The canonical ABI's allocator, straight onto the bump heap. The host calls
/// it once for every string and list of a request (ten times for a one-node,
/// one-service request), so it replaces wit-bindgen's default (a weak symbol
/// reached through two more calls) with one short function.
///
/// # Safety
/// Called by the host per the canonical ABI: `old_ptr`/`old_len`/`align`
/// describe a live allocation of this heap (or `old_len` is 0).
#[no_mangle]
pub unsafe extern "C" fn cabi_realloc(
    old_ptr: *mut u8,
    old_len: usize,
    align: usize,
    new_len: usize,
) -> *mut u8 {
    use std::alloc::{GlobalAlloc, Layout};
    // SAFETY: the canonical ABI passes a power-of-two `align`, and a live
    // allocation of `old_len` bytes at `old_ptr` when `old_len` is not 0.
    let p = unsafe {
        if old_len == 0 {
            if new_len == 0 {
                return align as *mut u8;
            }
            ALLOC.alloc(Layout::from_size_align_unchecked(new_len, align))
        } else {
            ALLOC.realloc(
                old_ptr,
                Layout::from_size_align_unchecked(old_len, align),
                new_len,
            )
        }
    };
    if p.is_null() {
        core::arch::wasm32::unreachable();
    }
    p
}
