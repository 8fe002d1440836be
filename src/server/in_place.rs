//! Boxing a large future where it is made, rather than making it and then copying it in.

use std::pin::Pin;

/// `Box::pin(make())`, with the box allocated before `make` runs, so that the compiler can
/// build the value in the box instead of on the stack and copying it over. A future is as
/// large as its largest state (an exchange's is several KiB) although it starts with only its
/// arguments; `Box::pin(f())` copied all of it, which callgrind counted as the largest single
/// cost of a small request. Whether the copy goes is up to the optimizer: the benches say.
pub fn boxed<T>(make: impl FnOnce() -> T) -> Pin<Box<T>> {
    let slot = Box::new_uninit();
    Box::into_pin(Box::write(slot, make()))
}
