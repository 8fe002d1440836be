//! Choosing one of several upstreams for a request, and passive health: an upstream that
//! fails `max_fails` times within `fail_window` is marked down for `cool_down` and gets no
//! traffic until then (the FastCGI and proxy routes share this).
//!
//! Time is passed in (`now`), never read here, so every rule is tested without sleeping.
//! A set of one upstream is never marked down: there is nothing to fail over to, and a
//! restarted application must be used again at once (nginx does the same).

use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use http::HeaderName;

/// How the next upstream is chosen among those that are up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Policy {
    /// Each in turn.
    RoundRobin,
    /// The one with the fewest requests in flight; ties go round robin.
    LeastConn,
    /// By a hash of the client's address: a client keeps its upstream while the set is up.
    IpHash,
    /// By a hash of a request field's value (`header:X-User`); requests without it go round
    /// robin.
    Header(HeaderName),
    /// The first that is up, in the order written: the rest are fallbacks.
    First,
}

/// As the config file writes it (`least_conn`, `header:X-User`).
impl std::fmt::Display for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Policy::RoundRobin => f.write_str("round_robin"),
            Policy::LeastConn => f.write_str("least_conn"),
            Policy::IpHash => f.write_str("ip_hash"),
            Policy::Header(name) => write!(f, "header:{name}"),
            Policy::First => f.write_str("first"),
        }
    }
}

/// When failures mark an upstream down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthRule {
    /// Failures within `fail_window` that mark an upstream down.
    pub max_fails: u32,
    /// How far back failures count.
    pub fail_window: Duration,
    /// How long a marked upstream gets no traffic.
    pub cool_down: Duration,
}

impl Default for HealthRule {
    /// One failure marks an upstream down for 10 s (nginx's `max_fails=1 fail_timeout=10s`).
    fn default() -> Self {
        HealthRule {
            max_fails: 1,
            fail_window: Duration::from_secs(10),
            cool_down: Duration::from_secs(10),
        }
    }
}

/// What a request is balanced by.
#[derive(Debug, Clone, Copy)]
pub struct Key<'a> {
    /// The client's address ([`Policy::IpHash`]).
    pub client: IpAddr,
    /// The policy's field value, if the request has it ([`Policy::Header`]).
    pub field: Option<&'a [u8]>,
}

/// Why no upstream was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoUpstream {
    /// Every upstream not yet tried is marked down; the first is back up after this long.
    AllDown {
        /// Until the first cool-down ends.
        retry_after: Duration,
    },
    /// Every upstream was tried for this request.
    Exhausted,
}

/// A set of upstreams and their health.
#[derive(Debug)]
pub struct Balancer<T> {
    members: Vec<Member<T>>,
    policy: Policy,
    rule: HealthRule,
    turn: AtomicUsize,
}

#[derive(Debug)]
struct Member<T> {
    target: T,
    health: Mutex<Health>,
    in_flight: Arc<AtomicUsize>,
}

#[derive(Debug, Default)]
struct Health {
    /// Failures counted in the current window, and when it started.
    failures: u32,
    window_start: Option<Instant>,
    down_until: Option<Instant>,
    /// The last active check failed: down until one passes.
    check_failed: bool,
}

/// One chosen upstream; it counts as in flight ([`Policy::LeastConn`]) until dropped.
#[derive(Debug)]
pub struct Pick<'a, T> {
    /// Its place in the set, to report its outcome with.
    pub index: usize,
    /// The upstream.
    pub target: &'a T,
    in_flight: Arc<AtomicUsize>,
}

impl<T> Drop for Pick<'_, T> {
    fn drop(&mut self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl<T> Balancer<T> {
    /// A balancer over `targets` (at least one), all up.
    pub fn new(targets: Vec<T>, policy: Policy, rule: HealthRule) -> Self {
        assert!(!targets.is_empty(), "a balancer needs an upstream");
        let members = targets
            .into_iter()
            .map(|target| Member {
                target,
                health: Mutex::new(Health::default()),
                in_flight: Arc::new(AtomicUsize::new(0)),
            })
            .collect();
        Balancer {
            members,
            policy,
            rule,
            turn: AtomicUsize::new(0),
        }
    }

    /// Every upstream, in the order written.
    pub fn targets(&self) -> impl Iterator<Item = &T> {
        self.members.iter().map(|m| &m.target)
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The upstream for a request keyed by `key`, among those up and not in `tried` (the
    /// indexes this request already failed on).
    pub fn pick(
        &self,
        key: Key<'_>,
        tried: &[usize],
        now: Instant,
    ) -> Result<Pick<'_, T>, NoUpstream> {
        let n = self.members.len();
        let usable = |i: &usize| !tried.contains(i) && self.is_up(*i, now);
        // Counted, then walked: no allocation on this path, which every request takes.
        let up = (0..n).filter(usable).count();
        if up == 0 {
            return Err(self.none_usable(tried, now));
        }
        let nth_up = |k: usize| (0..n).filter(usable).nth(k % up);
        let index = match &self.policy {
            Policy::First => nth_up(0),
            Policy::RoundRobin => nth_up(self.next_turn()),
            Policy::LeastConn => {
                let load = |i: &usize| self.members[*i].in_flight.load(Ordering::Relaxed);
                // Walked from a turning start, so ties go round robin.
                let start = self.next_turn();
                (0..n)
                    .map(|k| (start + k) % n)
                    .filter(usable)
                    .min_by_key(load)
            }
            Policy::IpHash => Some(self.hashed(&key.client, tried, now)),
            Policy::Header(_) => match key.field {
                Some(value) => Some(self.hashed(value, tried, now)),
                None => nth_up(self.next_turn()),
            },
        };
        let index = index.expect("an upstream is up");
        let member = &self.members[index];
        member.in_flight.fetch_add(1, Ordering::Relaxed);
        Ok(Pick {
            index,
            target: &member.target,
            in_flight: member.in_flight.clone(),
        })
    }

    /// Why nothing was picked: every upstream tried, or the rest down until the first
    /// cool-down ends.
    fn none_usable(&self, tried: &[usize], now: Instant) -> NoUpstream {
        let candidates: Vec<usize> = (0..self.members.len())
            .filter(|i| !tried.contains(i))
            .collect();
        if candidates.is_empty() {
            return NoUpstream::Exhausted;
        }
        // Back when the first cool-down ends; upstreams failing active checks come back at
        // a check, whose time is not known here: a second.
        let back = candidates
            .iter()
            .filter_map(|&i| {
                let health = self.members[i].health.lock().expect("health");
                if health.check_failed {
                    Some(now + Duration::from_secs(1))
                } else {
                    health.down_until
                }
            })
            .min()
            .map_or(Duration::ZERO, |t| t.saturating_duration_since(now));
        NoUpstream::AllDown { retry_after: back }
    }

    /// The member `value` hashes to among those not tried, or, when that one is down, one
    /// of those up.
    fn hashed<V: Hash + ?Sized>(&self, value: &V, tried: &[usize], now: Instant) -> usize {
        let candidates: Vec<usize> = (0..self.members.len())
            .filter(|i| !tried.contains(i))
            .collect();
        let up: Vec<usize> = candidates
            .iter()
            .copied()
            .filter(|&i| self.is_up(i, now))
            .collect();
        up[hash_onto(value, &candidates, &up)]
    }

    /// Upstream `index` failed a request at `now` (could not be reached, timed out, or broke
    /// the protocol); enough failures within the window mark it down.
    pub fn failed(&self, index: usize, now: Instant) {
        if self.members.len() < 2 {
            return;
        }
        let mut health = self.members[index].health.lock().expect("health");
        let in_window = health
            .window_start
            .is_some_and(|start| now.saturating_duration_since(start) < self.rule.fail_window);
        if !in_window {
            health.window_start = Some(now);
            health.failures = 0;
        }
        health.failures += 1;
        if health.failures >= self.rule.max_fails {
            health.down_until = Some(now + self.rule.cool_down);
            health.failures = 0;
            health.window_start = None;
        }
    }

    /// Upstream `index` answered: its failures so far are forgotten.
    pub fn succeeded(&self, index: usize) {
        let mut health = self.members[index].health.lock().expect("health");
        health.failures = 0;
        health.window_start = None;
    }

    /// An active check of upstream `index` passed or failed: a failed one takes it out until
    /// a check passes; a pass also ends a passive cool-down, since the upstream answers.
    /// Unlike passive marking, this applies to a single upstream too: a failed check is
    /// evidence, not a guess from one request.
    pub fn checked(&self, index: usize, healthy: bool) {
        let mut health = self.members[index].health.lock().expect("health");
        health.check_failed = !healthy;
        if healthy {
            health.down_until = None;
            health.failures = 0;
            health.window_start = None;
        }
    }

    /// Whether upstream `index` takes traffic at `now`.
    pub fn is_up(&self, index: usize, now: Instant) -> bool {
        let health = self.members[index].health.lock().expect("health");
        !health.check_failed && health.down_until.is_none_or(|until| now >= until)
    }

    fn next_turn(&self) -> usize {
        self.turn.fetch_add(1, Ordering::Relaxed)
    }
}

/// The place in `up` of the member `value` hashes to. The hash picks among all `candidates`
/// first, so a client keeps its upstream while that upstream is up; only the clients of a
/// down one are spread over the others.
fn hash_onto<V: Hash + ?Sized>(value: &V, candidates: &[usize], up: &[usize]) -> usize {
    let mut hasher = DefaultHasher::new();
    value.hash(&mut hasher);
    let hash = hasher.finish() as usize;
    let first = candidates[hash % candidates.len()];
    match up.iter().position(|&i| i == first) {
        Some(place) => place,
        None => hash / candidates.len() % up.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(ip: &str) -> Key<'static> {
        Key {
            client: ip.parse().unwrap(),
            field: None,
        }
    }

    fn rule(max_fails: u32) -> HealthRule {
        HealthRule {
            max_fails,
            fail_window: Duration::from_secs(10),
            cool_down: Duration::from_secs(30),
        }
    }

    fn picks(b: &Balancer<&'static str>, n: usize, now: Instant) -> Vec<&'static str> {
        (0..n)
            .map(|_| *b.pick(key("10.0.0.1"), &[], now).unwrap().target)
            .collect()
    }

    #[test]
    fn round_robin_takes_each_in_turn_and_skips_a_down_one() {
        let b = Balancer::new(vec!["a", "b", "c"], Policy::RoundRobin, rule(1));
        let now = Instant::now();
        assert_eq!(picks(&b, 6, now), ["a", "b", "c", "a", "b", "c"]);
        b.failed(1, now);
        assert!(!b.is_up(1, now));
        let seen = picks(&b, 4, now);
        assert!(!seen.contains(&"b"), "{seen:?}");
        assert!(seen.contains(&"a") && seen.contains(&"c"), "{seen:?}");
        // Back after the cool-down.
        let later = now + Duration::from_secs(30);
        assert!(b.is_up(1, later));
        assert!(picks(&b, 3, later).contains(&"b"));
    }

    #[test]
    fn failures_mark_down_only_when_enough_fall_within_the_window() {
        let b = Balancer::new(vec!["a", "b"], Policy::RoundRobin, rule(3));
        let t0 = Instant::now();
        b.failed(0, t0);
        b.failed(0, t0 + Duration::from_secs(5));
        // The third comes after the window that began at t0: the count starts again.
        b.failed(0, t0 + Duration::from_secs(11));
        assert!(b.is_up(0, t0 + Duration::from_secs(11)));
        b.failed(0, t0 + Duration::from_secs(12));
        b.failed(0, t0 + Duration::from_secs(13));
        assert!(!b.is_up(0, t0 + Duration::from_secs(13)));
    }

    #[test]
    fn a_success_forgets_earlier_failures() {
        let b = Balancer::new(vec!["a", "b"], Policy::RoundRobin, rule(2));
        let now = Instant::now();
        b.failed(0, now);
        b.succeeded(0);
        b.failed(0, now);
        assert!(b.is_up(0, now));
    }

    #[test]
    fn a_single_upstream_is_never_marked_down() {
        let b = Balancer::new(vec!["only"], Policy::RoundRobin, rule(1));
        let now = Instant::now();
        for _ in 0..5 {
            b.failed(0, now);
        }
        assert!(b.is_up(0, now));
        assert_eq!(*b.pick(key("::1"), &[], now).unwrap().target, "only");
    }

    #[test]
    fn all_down_says_when_the_first_comes_back_and_tried_ones_are_skipped() {
        let b = Balancer::new(vec!["a", "b"], Policy::RoundRobin, rule(1));
        let now = Instant::now();
        b.failed(0, now);
        b.failed(1, now + Duration::from_secs(4));
        let later = now + Duration::from_secs(10);
        assert_eq!(
            b.pick(key("::1"), &[], later).unwrap_err(),
            NoUpstream::AllDown {
                retry_after: Duration::from_secs(20)
            }
        );
        let back = now + Duration::from_secs(30);
        assert_eq!(b.pick(key("::1"), &[], back).unwrap().index, 0);
        assert_eq!(
            b.pick(key("::1"), &[0], back).unwrap_err(),
            NoUpstream::AllDown {
                retry_after: Duration::from_secs(4)
            }
        );
        let both = now + Duration::from_secs(34);
        assert_eq!(b.pick(key("::1"), &[0], both).unwrap().index, 1);
        assert_eq!(
            b.pick(key("::1"), &[0, 1], both).unwrap_err(),
            NoUpstream::Exhausted
        );
    }

    #[test]
    fn a_failed_check_takes_an_upstream_out_until_one_passes() {
        let b = Balancer::new(vec!["only"], Policy::RoundRobin, rule(1));
        let now = Instant::now();
        b.checked(0, false);
        let later = now + Duration::from_secs(3600);
        assert!(!b.is_up(0, later), "no cool-down ends it");
        assert_eq!(
            b.pick(key("::1"), &[], later).unwrap_err(),
            NoUpstream::AllDown {
                retry_after: Duration::from_secs(1)
            }
        );
        b.checked(0, true);
        assert!(b.is_up(0, later));
    }

    #[test]
    fn a_passing_check_ends_a_passive_cool_down() {
        let b = Balancer::new(vec!["a", "b"], Policy::RoundRobin, rule(1));
        let now = Instant::now();
        b.failed(0, now);
        assert!(!b.is_up(0, now));
        b.checked(0, true);
        assert!(b.is_up(0, now));
    }

    #[test]
    fn first_keeps_to_the_first_that_is_up() {
        let b = Balancer::new(vec!["a", "b", "c"], Policy::First, rule(1));
        let now = Instant::now();
        assert_eq!(picks(&b, 3, now), ["a", "a", "a"]);
        b.failed(0, now);
        assert_eq!(picks(&b, 2, now), ["b", "b"]);
    }

    #[test]
    fn least_conn_prefers_the_upstream_with_fewest_in_flight() {
        let b = Balancer::new(vec!["a", "b", "c"], Policy::LeastConn, rule(1));
        let now = Instant::now();
        let first = b.pick(key("::1"), &[], now).unwrap();
        let second = b.pick(key("::1"), &[], now).unwrap();
        let third = b.pick(key("::1"), &[], now).unwrap();
        let mut held = [first.index, second.index, third.index];
        held.sort_unstable();
        assert_eq!(held, [0, 1, 2], "one each while all are busy");
        let freed_index = second.index;
        drop(second);
        // The freed one is the only one with nothing in flight, so it is chosen each time.
        for _ in 0..3 {
            assert_eq!(b.pick(key("::1"), &[], now).unwrap().index, freed_index);
        }
        drop((first, third));
    }

    #[test]
    fn ip_hash_keeps_a_client_on_its_upstream_and_moves_only_a_down_ones_clients() {
        let b = Balancer::new(vec!["a", "b", "c"], Policy::IpHash, rule(1));
        let now = Instant::now();
        let clients: Vec<String> = (1..=60).map(|n| format!("192.0.2.{n}")).collect();
        let home =
            |b: &Balancer<&'static str>, ip: &str, now| *b.pick(key(ip), &[], now).unwrap().target;
        let before: Vec<&str> = clients.iter().map(|c| home(&b, c, now)).collect();
        for (c, h) in clients.iter().zip(&before) {
            assert_eq!(home(&b, c, now), *h, "stable for {c}");
        }
        for name in ["a", "b", "c"] {
            assert!(before.contains(&name), "60 clients reach every upstream");
        }
        b.failed(1, now);
        for (c, h) in clients.iter().zip(&before) {
            let after = home(&b, c, now);
            if *h == "b" {
                assert_ne!(after, "b");
            } else {
                assert_eq!(after, *h, "{c} stays where it was");
            }
        }
    }

    #[test]
    fn header_hash_follows_the_field_and_round_robins_without_it() {
        let name = HeaderName::from_static("x-user");
        let b = Balancer::new(vec!["a", "b", "c"], Policy::Header(name), rule(1));
        let now = Instant::now();
        let with = |v: &'static [u8]| Key {
            client: "::1".parse().unwrap(),
            field: Some(v),
        };
        let alice = b.pick(with(b"alice"), &[], now).unwrap().index;
        for _ in 0..5 {
            assert_eq!(b.pick(with(b"alice"), &[], now).unwrap().index, alice);
        }
        let spread: std::collections::HashSet<usize> = (0..3)
            .map(|_| b.pick(key("::1"), &[], now).unwrap().index)
            .collect();
        assert_eq!(spread.len(), 3);
    }
}
