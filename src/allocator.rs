//! The global allocator: mimalloc, asked for plain allocations whenever the alignment allows.
//!
//! The one module with `unsafe` (a `GlobalAlloc` cannot be written without it), and why it
//! exists rather than the `mimalloc` crate's own: that one always calls `mi_malloc_aligned`,
//! whose fast path covers only blocks of up to 1 KiB. Measured with callgrind on the
//! benchmark's row a, the larger per-request blocks (request futures, read buffers, heads
//! with their body) went through its generic path instead: 8% of usher's instructions per
//! request. `mi_malloc` serves any size from its free lists, and its blocks are aligned to
//! 16 bytes (8 for blocks smaller than 16), which is what the standard library's own system
//! allocator relies on from `malloc` too.
//!
//! mimalloc itself replaced glibc's malloc because, per request, glibc spent about a sixth
//! of usher's user time there (`malloc_consolidate` and its large-block paths).

#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

use libmimalloc_sys::{
    mi_free, mi_malloc, mi_malloc_aligned, mi_realloc, mi_realloc_aligned, mi_zalloc,
    mi_zalloc_aligned,
};

/// Alignment every `mi_malloc` block of at least this size has (`MI_MAX_ALIGN_SIZE`).
const MALLOC_ALIGN: usize = 16;

/// mimalloc as Rust's global allocator.
pub struct MiMalloc;

/// Whether a plain allocation of `size` bytes is aligned enough for `align`.
fn plain_is_enough(size: usize, align: usize) -> bool {
    align <= MALLOC_ALIGN && align <= size
}

// SAFETY: every pointer handed out comes from mimalloc with at least the layout's size and
// alignment (plain blocks are used only where their guaranteed alignment suffices), and is
// freed or resized by mimalloc, which accepts blocks from any of its allocation functions.
unsafe impl GlobalAlloc for MiMalloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: plain FFI calls; mimalloc returns null on failure, as `alloc` must.
        unsafe {
            if plain_is_enough(layout.size(), layout.align()) {
                mi_malloc(layout.size()).cast()
            } else {
                mi_malloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as in `alloc`.
        unsafe {
            if plain_is_enough(layout.size(), layout.align()) {
                mi_zalloc(layout.size()).cast()
            } else {
                mi_zalloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: the caller passes a block this allocator handed out (GlobalAlloc contract).
        unsafe { mi_free(ptr.cast::<c_void>()) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` is this allocator's block of `layout` (GlobalAlloc contract); the
        // new block keeps the layout's alignment by the same rule as `alloc`.
        unsafe {
            if plain_is_enough(new_size, layout.align()) {
                mi_realloc(ptr.cast::<c_void>(), new_size).cast()
            } else {
                mi_realloc_aligned(ptr.cast::<c_void>(), new_size, layout.align()).cast()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_have_the_alignment_their_layout_asks_for() {
        let allocator = MiMalloc;
        for size in [
            1,
            7,
            8,
            15,
            16,
            24,
            100,
            1000,
            1025,
            4096,
            6000,
            70_000,
            3 << 20,
        ] {
            for align in [1, 2, 4, 8, 16, 32, 64, 4096] {
                let layout = Layout::from_size_align(size, align).unwrap();
                // SAFETY: a non-zero size; the block is freed with the layout it came with.
                unsafe {
                    let p = allocator.alloc(layout);
                    assert!(!p.is_null());
                    assert_eq!(p as usize % align, 0, "size {size} align {align}");
                    let p = allocator.realloc(p, layout, size * 2 + 1);
                    assert_eq!(p as usize % align, 0, "grown: size {size} align {align}");
                    let grown = Layout::from_size_align(size * 2 + 1, align).unwrap();
                    allocator.dealloc(p, grown);
                    let z = allocator.alloc_zeroed(layout);
                    assert_eq!(z as usize % align, 0);
                    assert!(std::slice::from_raw_parts(z, size).iter().all(|&b| b == 0));
                    allocator.dealloc(z, layout);
                }
            }
        }
    }
}
