//! Request field names made once per thread: a browser sends the same dozen names, spelled
//! the same way, with every request, and `HeaderName::from_bytes` checks and lowercases each
//! one byte by byte, matches it against the names it knows, and copies one it does not know
//! (`Sec-Fetch-Mode`, `Priority`, `Upgrade-Insecure-Requests`) into an allocation of its own.
//!
//! A name seen before, byte for byte, is cloned from a small table instead (a custom name's
//! clone shares its bytes). The table is keyed by the exact bytes received, so what it gives
//! is what `from_bytes` gave for them: it only holds names `from_bytes` accepted.

use std::cell::RefCell;

use http::HeaderName;
use http::header::InvalidHeaderName;

/// Slots in each thread's table; a name whose slot holds another replaces it.
const SLOTS: usize = 128;

/// Longest name kept (32 bytes): longer ones are rare and made each time.
const LONGEST: usize = 32;

/// One remembered name: the bytes it was received as, and the name made from them.
struct Slot {
    raw: [u8; LONGEST],
    len: u8,
    name: HeaderName,
}

thread_local! {
    static TABLE: RefCell<Vec<Option<Slot>>> = RefCell::new((0..SLOTS).map(|_| None).collect());
}

/// The field name `raw` spells, as `HeaderName::from_bytes` makes it.
pub(super) fn field_name(raw: &[u8]) -> Result<HeaderName, InvalidHeaderName> {
    if raw.is_empty() || raw.len() > LONGEST {
        return HeaderName::from_bytes(raw);
    }
    // Two slots may hold it: names that meet in one (`User-Agent` and `Connection` do)
    // then both stay.
    let first = slot_of(raw);
    let slots = [first, (first + 1) % SLOTS];
    let holds = |slot: &Option<Slot>| {
        slot.as_ref()
            .filter(|kept| &kept.raw[..usize::from(kept.len)] == raw)
            .map(|kept| kept.name.clone())
    };
    let known = TABLE.with(|table| {
        let table = table.borrow();
        holds(&table[slots[0]]).or_else(|| holds(&table[slots[1]]))
    });
    if let Some(name) = known {
        return Ok(name);
    }
    let name = HeaderName::from_bytes(raw)?;
    let mut kept = Slot {
        raw: [0; LONGEST],
        len: raw.len() as u8,
        name: name.clone(),
    };
    kept.raw[..raw.len()].copy_from_slice(raw);
    TABLE.with(|table| {
        let mut table = table.borrow_mut();
        // An empty slot of the two, else the first.
        let slot = slots
            .into_iter()
            .find(|&s| table[s].is_none())
            .unwrap_or(first);
        table[slot] = Some(kept);
    });
    Ok(name)
}

/// The slot for `raw` (not empty): its length and four of its bytes (the last two tell
/// `Sec-Fetch-Dest`, `-Mode`, `-Site` and `-User` apart), mixed by a multiplication.
fn slot_of(raw: &[u8]) -> usize {
    let len = raw.len();
    let key = (len as u64)
        | u64::from(raw[0]) << 8
        | u64::from(raw[len / 2]) << 16
        | u64::from(raw[len.saturating_sub(2)]) << 24
        | u64::from(raw[len - 1]) << 32;
    (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - SLOTS.trailing_zeros())) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: [&str; 24] = [
        "Host",
        "host",
        "HOST",
        "User-Agent",
        "Accept",
        "Accept-Language",
        "Accept-Encoding",
        "Upgrade-Insecure-Requests",
        "Sec-Fetch-Dest",
        "Sec-Fetch-Mode",
        "Sec-Fetch-Site",
        "Sec-Fetch-User",
        "sec-fetch-user",
        "Priority",
        "Cookie",
        "X-Custom",
        "x-custom",
        "a",
        "A",
        "!#$%&'*+-.^_`|~",
        "Sec-CH-UA-Platform-Version-Full-X",
        "01234567890123456789012345678901",
        "012345678901234567890123456789012",
        "If-None-Match",
    ];

    /// Every name, asked for again and again in every order, is what `from_bytes` makes of
    /// the same bytes: no slot answers for a name it does not hold.
    #[test]
    fn a_remembered_name_is_the_one_from_bytes_makes() {
        for round in 0..3 {
            for (i, raw) in NAMES.iter().enumerate() {
                let raw = if round == 1 {
                    NAMES[NAMES.len() - 1 - i]
                } else {
                    raw
                };
                let made = HeaderName::from_bytes(raw.as_bytes()).unwrap();
                assert_eq!(field_name(raw.as_bytes()).unwrap(), made, "{raw}");
            }
        }
    }

    /// Names sharing a slot replace each other and are still told apart.
    #[test]
    fn names_in_one_slot_are_told_apart() {
        let mut by_slot: std::collections::HashMap<usize, Vec<String>> = Default::default();
        for n in 0..2000 {
            let raw = format!("x-{n}");
            by_slot
                .entry(slot_of(raw.as_bytes()))
                .or_default()
                .push(raw);
        }
        let crowded = by_slot.values().find(|names| names.len() > 2).unwrap();
        for _ in 0..2 {
            for raw in crowded {
                assert_eq!(field_name(raw.as_bytes()).unwrap().as_str(), raw);
            }
        }
    }

    /// What `from_bytes` refuses is refused, and never remembered.
    #[test]
    fn an_invalid_name_is_refused_every_time() {
        for raw in [
            &b""[..],
            b"a b",
            b"a:b",
            b"\xff",
            b"caf\xc3\xa9",
            b"x\0y",
            b"(x)",
        ] {
            for _ in 0..2 {
                assert!(field_name(raw).is_err(), "{raw:?}");
            }
        }
        // Its slot then holds nothing it could answer for a valid name.
        assert_eq!(field_name(b"ab").unwrap().as_str(), "ab");
    }
}
