//! Boxing a large future where it is made, rather than making it and then copying it in.
//!
//! A future is as large as its largest state (an exchange's is 5.4 KiB, `dispatch_at`'s
//! 1.2 KiB) though it starts with only its arguments. `Box::pin(f())` builds it on the stack,
//! then allocates, then copies all of it over: callgrind counted those copies as the largest
//! single cost of a small request. Allocating first lets the optimizer build it in the box:
//! 12,942 -> 12,466 instructions per request in row a, 17,235 -> 16,593 in row e.
//!
//! The safe way, `Box::write`, needs Rust 1.87; usher builds with 1.85 (Debian 13's), so this
//! module does the same with one `unsafe` line. Replace it with `Box::write` once the minimum
//! version allows. (Allocating a placeholder first and `Pin::set`ting the future over it keeps
//! the copy: the old value's drop comes between.)
#![allow(unsafe_code)]

use std::pin::Pin;

/// `Box::pin(make())`, with the box allocated before `make` runs.
pub fn boxed<T>(make: impl FnOnce() -> T) -> Pin<Box<T>> {
    let mut slot = Box::<T>::new_uninit();
    slot.write(make());
    // SAFETY: `write` initialised the value just above.
    Box::into_pin(unsafe { slot.assume_init() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_boxed_value_is_the_one_made() {
        let made = boxed(|| [7u8; 4096]);
        assert!(made.iter().all(|&b| b == 7));
        let fut = boxed(|| async { 41 + 1 });
        assert_eq!(futures_util::FutureExt::now_or_never(fut), Some(42));
    }
}
