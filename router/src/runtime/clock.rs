//! Clocks for the live runtime. The pipeline takes `now` in nanoseconds and uses it for rate
//! limits and ICMP timestamps; live, it comes from `CLOCK_MONOTONIC` (the kernel's rate limits
//! count jiffies, which are monotonic too), so a wall-clock step never opens or closes a
//! limiter. Captures get wall-clock timestamps, as tcpdump writes them.

/// `CLOCK_MONOTONIC` in nanoseconds.
#[allow(unsafe_code)]
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `clock_gettime` writes one `timespec` through the pointer, which points to a
    // live, exclusively borrowed local; CLOCK_MONOTONIC is always available on Linux.
    let r = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    if r != 0 {
        return 0;
    }
    (ts.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec as u64)
}

/// Wall-clock time in nanoseconds since the Unix epoch (0 if the clock is before 1970).
pub fn wall_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotonic_advances() {
        let a = monotonic_ns();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = monotonic_ns();
        assert!(a > 0 && b >= a + 1_000_000, "{a} {b}");
        assert!(wall_ns() > 1_600_000_000_000_000_000);
    }
}
