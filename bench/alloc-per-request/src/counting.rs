//! A global allocator that counts allocations by the role of the thread
//! that makes them, so the proxy's share is read directly instead of
//! guessed: each proxy runs on threads of its own (a current-thread tokio
//! runtime, as `weft-proxy --concurrency 1`), tagged at thread start.
//!
//! Cost: a thread-local read and two relaxed atomic adds per allocation.
// `GlobalAlloc` is an unsafe trait and `System`'s methods are unsafe to
// call; this module only forwards to `System` with the caller's arguments,
// so it upholds exactly the contract it is given. No other module allows
// unsafe code.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

/// Who a thread works for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The client, the upstream server and this program's own work.
    Harness = 0,
    /// The proxy under test (the client-side sidecar in a pair).
    Proxy = 1,
    /// The server-side sidecar of a pair.
    PeerProxy = 2,
}

/// What the threads of one role allocated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// `alloc` and `alloc_zeroed` calls.
    pub allocs: u64,
    /// `realloc` calls (a `Vec` or buffer growing in place or moving).
    pub reallocs: u64,
    /// Bytes asked for by allocations, plus what reallocations grew by.
    pub bytes: u64,
}

/// Counts, then forwards to [`System`].
pub struct Counting;

struct RoleCounters {
    allocs: AtomicU64,
    reallocs: AtomicU64,
    bytes: AtomicU64,
}

const ROLES: usize = 3;

static COUNTERS: [RoleCounters; ROLES] = [const {
    RoleCounters {
        allocs: AtomicU64::new(0),
        reallocs: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
    }
}; ROLES];

thread_local! {
    // `const` and without a destructor: reading it never allocates, which
    // matters inside an allocator.
    static ROLE: Cell<Role> = const { Cell::new(Role::Harness) };
}

/// Tags the calling thread: from now on its allocations count for `role`.
pub fn set_thread_role(role: Role) {
    ROLE.with(|r| r.set(role));
}

/// What `role`'s threads have allocated since the program started.
pub fn counts(role: Role) -> Counts {
    let c = &COUNTERS[role as usize];
    Counts {
        allocs: c.allocs.load(Ordering::Relaxed),
        reallocs: c.reallocs.load(Ordering::Relaxed),
        bytes: c.bytes.load(Ordering::Relaxed),
    }
}

/// Everything every thread has allocated.
pub fn total() -> Counts {
    [Role::Harness, Role::Proxy, Role::PeerProxy]
        .into_iter()
        .map(counts)
        .fold(Counts::default(), |a, b| a + b)
}

fn counters() -> &'static RoleCounters {
    // During thread teardown the thread-local may be gone: count as harness.
    let role = ROLE.try_with(Cell::get).unwrap_or(Role::Harness);
    &COUNTERS[role as usize]
}

// === impl Counts ===

impl std::ops::Add for Counts {
    type Output = Self;

    fn add(self, o: Self) -> Self {
        Self {
            allocs: self.allocs + o.allocs,
            reallocs: self.reallocs + o.reallocs,
            bytes: self.bytes + o.bytes,
        }
    }
}

impl std::ops::Sub for Counts {
    type Output = Self;

    /// Saturating: a "minus baseline" figure never wraps around.
    fn sub(self, o: Self) -> Self {
        Self {
            allocs: self.allocs.saturating_sub(o.allocs),
            reallocs: self.reallocs.saturating_sub(o.reallocs),
            bytes: self.bytes.saturating_sub(o.bytes),
        }
    }
}

// === impl Counting ===

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let c = counters();
        c.allocs.fetch_add(1, Ordering::Relaxed);
        c.bytes.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: the caller's layout, passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let c = counters();
        c.allocs.fetch_add(1, Ordering::Relaxed);
        c.bytes.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: as in `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` with this layout (we hand out
        // nothing else).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let c = counters();
        c.reallocs.fetch_add(1, Ordering::Relaxed);
        let grown = new_size.saturating_sub(layout.size());
        c.bytes.fetch_add(grown as u64, Ordering::Relaxed);
        // SAFETY: as in `dealloc`; `new_size` is the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}
