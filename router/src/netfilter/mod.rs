//! The netfilter model: hooks with priorities and verdicts, and the tables, connection
//! tracking and NAT that register at them.

pub mod conntrack;
pub mod hooks;
pub mod nat;
pub mod tables;

/// `net_ratelimit()`: at most 10 messages per 5 s (on the packet clock), then a count of
/// the suppressed ones.
#[derive(Debug, Default)]
pub struct RateLimitedLog {
    begin_ms: u64,
    printed: u32,
    missed: u32,
}

impl RateLimitedLog {
    /// May a message be logged at `now_ms`?
    pub fn allow(&mut self, now_ms: u64) -> bool {
        if self.begin_ms == 0 || now_ms.saturating_sub(self.begin_ms) >= 5000 {
            if self.missed > 0 {
                tracing::warn!("net_ratelimit: {} callbacks suppressed", self.missed);
            }
            self.begin_ms = now_ms.max(1);
            self.printed = 0;
            self.missed = 0;
        }
        if self.printed < 10 {
            self.printed += 1;
            true
        } else {
            self.missed += 1;
            false
        }
    }
}
