//! The kernel's per-peer rate limiting of ICMP errors and redirects, on the packet clock.
//!
//! In the kernel one `inet_peer` per remote address carries `rate_tokens`, `rate_last` and
//! `n_redirects`, and three users share those fields: `ip_error` (unreachable routes; cost
//! `ip_rt_error_cost` = 1 s, burst 5 s), `icmpv4_xrlim_allow` (every ICMP type in
//! `icmp_ratemask`; cost `icmp_ratelimit`, burst 6 × that) and `ip_rt_send_redirect`
//! (exponential back-off). Sharing the fields is what makes their interaction exact, so the
//! model shares them too. Time is kept in milliseconds (the kernel counts jiffies).

use std::collections::HashMap;
use std::net::Ipv4Addr;

/// XRLIM_BURST_FACTOR.
const XRLIM_BURST_FACTOR: u64 = 6;
/// ip_rt_error_cost (HZ).
const ERROR_COST_MS: u64 = 1000;
/// ip_rt_error_burst (5 * HZ).
const ERROR_BURST_MS: u64 = 5000;
/// ip_rt_redirect_number.
const REDIRECT_NUMBER: u32 = 9;
/// ip_rt_redirect_load (HZ / 50).
const REDIRECT_LOAD_MS: u64 = 20;
/// ip_rt_redirect_silence ((HZ / 50) << (9 + 1)).
const REDIRECT_SILENCE_MS: u64 = REDIRECT_LOAD_MS << 10;
/// A new peer's `rate_last` is set 60 s in the past so that its first refill is full.
const NEW_PEER_AGE_MS: u64 = 60_000;
/// Bound on remembered peers (the kernel's inet_peer tree is garbage collected likewise).
const MAX_PEERS: usize = 65536;

#[derive(Debug, Clone, Copy)]
struct Peer {
    rate_tokens: u64,
    rate_last: u64,
    n_redirects: u32,
}

/// Per-peer limiter state.
#[derive(Debug, Default)]
pub struct Peers {
    peers: HashMap<Ipv4Addr, Peer>,
}

impl Peers {
    fn peer(&mut self, addr: Ipv4Addr, now_ms: u64) -> &mut Peer {
        if self.peers.len() >= MAX_PEERS && !self.peers.contains_key(&addr) {
            // Forget peers idle for over a minute; if none are, forget all.
            self.peers
                .retain(|_, p| now_ms.saturating_sub(p.rate_last) < NEW_PEER_AGE_MS);
            if self.peers.len() >= MAX_PEERS {
                self.peers.clear();
            }
        }
        self.peers.entry(addr).or_insert(Peer {
            rate_tokens: 0,
            rate_last: now_ms.wrapping_sub(NEW_PEER_AGE_MS),
            n_redirects: 0,
        })
    }

    /// `ip_error`'s limiter for unreachable routes: may an error go to `src`?
    pub fn route_error_allow(&mut self, src: Ipv4Addr, now_ms: u64) -> bool {
        let p = self.peer(src, now_ms);
        p.rate_tokens = p.rate_tokens.wrapping_add(now_ms.wrapping_sub(p.rate_last));
        if p.rate_tokens > ERROR_BURST_MS {
            p.rate_tokens = ERROR_BURST_MS;
        }
        p.rate_last = now_ms;
        if p.rate_tokens >= ERROR_COST_MS {
            p.rate_tokens -= ERROR_COST_MS;
            true
        } else {
            false
        }
    }

    /// `inet_peer_xrlim_allow`: may an ICMP message limited by `icmp_ratelimit` (ms) go to
    /// `dst`? A limit of 0 disables limiting.
    pub fn xrlim_allow(&mut self, dst: Ipv4Addr, timeout_ms: u64, now_ms: u64) -> bool {
        // With a limit of 0 every message passes, but the peer's clock still moves (the
        // redirect back-off measures from it), as `inet_peer_xrlim_allow` does.
        let p = self.peer(dst, now_ms);
        let mut token = p.rate_tokens.wrapping_add(now_ms.wrapping_sub(p.rate_last));
        p.rate_last = now_ms;
        if token > XRLIM_BURST_FACTOR * timeout_ms {
            token = XRLIM_BURST_FACTOR * timeout_ms;
        }
        let ok = token >= timeout_ms;
        if ok {
            token -= timeout_ms;
        }
        p.rate_tokens = token;
        ok
    }

    /// `ip_rt_send_redirect`'s back-off: may a redirect go to `src` now?
    pub fn redirect_allow(&mut self, src: Ipv4Addr, now_ms: u64) -> bool {
        let p = self.peer(src, now_ms);
        if now_ms > p.rate_last.wrapping_add(REDIRECT_SILENCE_MS) {
            p.rate_tokens = 0;
            p.n_redirects = 0;
        }
        if p.n_redirects >= REDIRECT_NUMBER {
            p.rate_last = now_ms;
            return false;
        }
        let shift = p.n_redirects.min(31);
        if p.n_redirects == 0 || now_ms > p.rate_last.wrapping_add(REDIRECT_LOAD_MS << shift) {
            p.rate_last = now_ms;
            p.n_redirects += 1;
            return true;
        }
        false
    }
}

/// The global ICMP limit (`icmp_global_allow` / `icmp_global_consume`, per namespace since
/// Linux 6.10): a credit refilled at `icmp_msgs_per_sec` up to `icmp_msgs_burst`, refilled
/// only once it is spent and at most every 20 ms; each message sent costs a random 0, 1 or 2
/// credits. The randomness comes from a seeded generator so that a replay is reproducible
/// (the kernel's own draws cannot be reproduced, so floods large enough to reach this limit
/// can differ from a kernel run in how many messages get through).
#[derive(Debug)]
pub struct GlobalLimit {
    credit: i64,
    stamp_ms: Option<u64>,
    rng: fastrand::Rng,
}

impl GlobalLimit {
    /// A limiter whose random costs come from `seed`.
    pub fn new(seed: u64) -> Self {
        GlobalLimit {
            credit: 0,
            stamp_ms: None,
            rng: fastrand::Rng::with_seed(seed),
        }
    }

    /// `icmp_global_allow`.
    pub fn allow(&mut self, now_ms: u64, per_sec: i64, burst: i64) -> bool {
        if self.credit > 0 {
            return true;
        }
        let delta = self
            .stamp_ms
            .map_or(1000, |s| now_ms.saturating_sub(s).min(1000)) as i64;
        if delta < 20 {
            return false;
        }
        let incr = per_sec.max(0) * delta / 1000;
        if incr == 0 {
            return false;
        }
        self.stamp_ms = Some(now_ms);
        self.credit = (self.credit + incr).min(burst);
        true
    }

    /// `icmp_global_consume`: a sent message costs 0, 1 or 2 credits at random.
    pub fn consume(&mut self) {
        self.credit -= i64::from(self.rng.u32(0..3));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_limit_refills_only_when_spent() {
        let mut g = GlobalLimit::new(7);
        let t = 1_000_000;
        let mut sent = 0;
        for i in 0..200 {
            if g.allow(t + i / 50, 1000, 50) {
                g.consume();
                sent += 1;
            }
        }
        // about 50 credits at an average cost of 1 each, within 4 ms: no refill yet
        assert!((30..=100).contains(&sent), "{sent}");
        // after 20 ms the credit refills (by 20 credits at 1000/s)
        assert!(g.allow(t + 30, 1000, 50));
        assert!(!GlobalLimit::new(1).allow(5000, 0, 50));
    }

    const A: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

    #[test]
    fn xrlim_burst_then_one_per_interval() {
        let mut p = Peers::default();
        let t0 = 1_000_000;
        let sent: usize = (0..10).filter(|i| p.xrlim_allow(A, 1000, t0 + i)).count();
        assert_eq!(sent, 6);
        assert!(!p.xrlim_allow(A, 1000, t0 + 500));
        assert!(p.xrlim_allow(A, 1000, t0 + 1100));
        assert!(p.xrlim_allow(Ipv4Addr::new(192, 0, 2, 2), 1000, t0 + 1100));
        assert!(p.xrlim_allow(A, 0, t0 + 1101));
    }

    #[test]
    fn route_errors_burst_five() {
        let mut p = Peers::default();
        let sent: usize = (0..10)
            .filter(|i| p.route_error_allow(A, 5_000_000 + i))
            .count();
        assert_eq!(sent, 5);
    }

    #[test]
    fn redirect_backoff() {
        let mut p = Peers::default();
        let t = 9_000_000;
        assert!(p.redirect_allow(A, t));
        assert!(!p.redirect_allow(A, t + 30)); // needs > 20 << 1 = 40 ms
        assert!(p.redirect_allow(A, t + 41));
        assert!(!p.redirect_allow(A, t + 41 + 80));
        assert!(p.redirect_allow(A, t + 41 + 81));
    }
}
