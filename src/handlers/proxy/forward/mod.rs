//! The fields a request and its response carry across usher (RFC 9110 §7.6).

mod cidr;

pub use self::cidr::{Cidr, CidrError, any_contains};
