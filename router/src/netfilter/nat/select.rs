//! Choosing a connection's translated tuple (`get_unique_tuple` in `nf_nat_core.c`): keep
//! the original when it is in range and free; for source NAT, reuse the mapping an earlier
//! connection from the same source got; otherwise pick the address by hashing (the kernel's
//! `jhash`, so the same client maps to the same address as on Linux) and search the port
//! space from a random offset, in the kernel's ranges (1–511, 600–1023, 1024–65535 when no
//! ports are given), with its limit of 128 tries shrinking by halves.
//!
//! Written by hand: no crate implements netfilter's NAT tuple selection.

use super::{Manip, Range};
use crate::netfilter::conntrack::{Conntrack, Tuple, Zone};
use crate::wire::proto;
use std::net::Ipv4Addr;

/// Most tries of one round of the port search (`max_attempts`).
const MAX_ATTEMPTS: u32 = 128;
/// `NF_NAT_HARDER_THRESH`: tries left from which a TIME_WAIT connection may be evicted.
const HARDER_THRESH: u32 = MAX_ATTEMPTS / 4;

/// Bob Jenkins' lookup3 over 32-bit words (`jhash2`).
fn jhash2(k: &[u32], initval: u32) -> u32 {
    let init = 0xdead_beefu32
        .wrapping_add((k.len() as u32) << 2)
        .wrapping_add(initval);
    let (mut a, mut b, mut c) = (init, init, init);
    let mut k = k;
    while k.len() > 3 {
        a = a.wrapping_add(k[0]);
        b = b.wrapping_add(k[1]);
        c = c.wrapping_add(k[2]);
        // __jhash_mix
        a = a.wrapping_sub(c);
        a ^= c.rotate_left(4);
        c = c.wrapping_add(b);
        b = b.wrapping_sub(a);
        b ^= a.rotate_left(6);
        a = a.wrapping_add(c);
        c = c.wrapping_sub(b);
        c ^= b.rotate_left(8);
        b = b.wrapping_add(a);
        a = a.wrapping_sub(c);
        a ^= c.rotate_left(16);
        c = c.wrapping_add(b);
        b = b.wrapping_sub(a);
        b ^= a.rotate_left(19);
        a = a.wrapping_add(c);
        c = c.wrapping_sub(b);
        c ^= b.rotate_left(4);
        b = b.wrapping_add(a);
        k = &k[3..];
    }
    if k.is_empty() {
        return c;
    }
    if k.len() == 3 {
        c = c.wrapping_add(k[2]);
    }
    if k.len() >= 2 {
        b = b.wrapping_add(k[1]);
    }
    a = a.wrapping_add(k[0]);
    // __jhash_final
    c ^= b;
    c = c.wrapping_sub(b.rotate_left(14));
    a ^= c;
    a = a.wrapping_sub(c.rotate_left(11));
    b ^= a;
    b = b.wrapping_sub(a.rotate_left(25));
    c ^= b;
    c = c.wrapping_sub(b.rotate_left(16));
    a ^= c;
    a = a.wrapping_sub(c.rotate_left(4));
    b ^= a;
    b = b.wrapping_sub(a.rotate_left(14));
    c ^= b;
    c.wrapping_sub(b.rotate_left(24))
}

/// An address as the kernel's `__be32` reads on a little-endian machine.
fn raw(a: Ipv4Addr) -> u32 {
    u32::from_le_bytes(a.octets())
}

/// Is the translated tuple `t` taken, i.e. would its reply clash with an entry in the table
/// (`nf_nat_used_tuple`)?
fn used(ct: &mut Conntrack, t: &Tuple, zone: Zone, now: u64) -> bool {
    match t.invert() {
        Some(reply) => ct.tuple_taken(&reply, zone, now),
        None => false,
    }
}

/// `l4proto_in_range`: is the manipulated part of `t` within `[lo, hi]`?
fn l4_in_range(t: &Tuple, manip: Manip, lo: u16, hi: u16) -> bool {
    match t.proto {
        proto::ICMP => (lo..=hi).contains(&t.sport),
        proto::TCP | proto::UDP | 47 | 33 | 132 | 136 => {
            let p = if manip == Manip::Src {
                t.sport
            } else {
                t.dport
            };
            (lo..=hi).contains(&p)
        }
        _ => true,
    }
}

/// `in_range`: would a source mapping to `t` satisfy `range`?
fn in_range(t: &Tuple, range: &Range) -> bool {
    if let Some((lo, hi)) = range.addrs {
        if !(u32::from(lo)..=u32::from(hi)).contains(&u32::from(t.src)) {
            return false;
        }
    }
    match range.ports {
        None => true,
        Some((lo, hi)) => l4_in_range(t, Manip::Src, lo, hi),
    }
}

/// `find_appropriate_src`: the source an earlier connection from the same original source
/// was mapped to, if that fits `range`.
fn appropriate_src(ct: &Conntrack, orig: &Tuple, zone: Zone, range: &Range) -> Option<Tuple> {
    let mut found = None;
    ct.for_each_same_src(orig, zone, |c| {
        let r = &c.tuple[1];
        let cand = Tuple {
            src: r.dst,
            sport: if orig.proto == proto::ICMP {
                r.sport
            } else {
                r.dport
            },
            ..*orig
        };
        if in_range(&cand, range) {
            found = Some(cand);
            true
        } else {
            false
        }
    });
    found
}

/// `find_best_ips_proto`: the address from the range, chosen by hashing the source (and,
/// unless `--persistent`, the destination) so a client keeps its address.
fn best_ip(t: &mut Tuple, range: &Range, manip: Manip, zone: Zone) {
    let Some((lo, hi)) = range.addrs else { return };
    let pick = if lo == hi {
        lo
    } else {
        let init = if range.persistent {
            0
        } else {
            raw(t.dst) ^ u32::from(zone.id)
        };
        // The kernel hashes the whole `union nf_inet_addr` (16 bytes, the IPv4 address
        // first and zeros after).
        let j = jhash2(&[raw(t.src), 0, 0, 0], init);
        let (min, max) = (u32::from(lo), u32::from(hi));
        let dist = max.wrapping_sub(min).wrapping_add(1);
        Ipv4Addr::from(min.wrapping_add(((u64::from(j) * u64::from(dist)) >> 32) as u32))
    };
    match manip {
        Manip::Src => t.src = pick,
        Manip::Dst => t.dst = pick,
    }
}

/// `nf_nat_l4proto_unique_tuple`: search the port (or ICMP id) space for a free tuple. May
/// give up and leave a taken one; confirmation then drops the packet.
#[allow(clippy::too_many_arguments)]
fn unique_l4(
    ct: &mut Conntrack,
    id: u32,
    t: &mut Tuple,
    range: &Range,
    manip: Manip,
    zone: Zone,
    now: u64,
) {
    let src_key = match t.proto {
        proto::ICMP => true,
        proto::TCP | proto::UDP => manip == Manip::Src,
        // GRE keys are only translated for PPTP, which has no helper here; others have
        // no ports.
        _ => return,
    };
    let key = |t: &Tuple| if src_key { t.sport } else { t.dport };
    let (min, size): (u32, u32) = if t.proto == proto::ICMP {
        match range.ports {
            None => (0, 65536),
            Some((lo, hi)) => (
                u32::from(lo),
                u32::from(hi).wrapping_sub(u32::from(lo)).wrapping_add(1),
            ),
        }
    } else {
        match range.ports {
            None => {
                if manip == Manip::Dst {
                    return;
                }
                match key(t) {
                    0..=511 => (1, 511),
                    512..=1023 => (600, 424),
                    _ => (1024, 64512),
                }
            }
            Some((a, b)) => {
                let (lo, hi) = (a.min(b), a.max(b));
                (u32::from(lo), u32::from(hi - lo) + 1)
            }
        }
    };
    // A destination mapping without --random walks the range from its start (the
    // kernel's "restore the pre-rover behaviour" fix): the first free port is the lowest.
    let mut off: u16 = match range.base {
        Some(base) => key(t).wrapping_sub(base),
        None if range.random || range.random_fully || manip != Manip::Dst => ct.random_u16(),
        None => 0,
    };
    let mut attempts = size.min(MAX_ATTEMPTS);
    loop {
        for i in 0..attempts {
            let v = min.wrapping_add(u32::from(off) % size.max(1)) as u16;
            if src_key {
                t.sport = v;
            } else {
                t.dport = v;
            }
            off = off.wrapping_add(1);
            // The last quarter of the tries may evict a connection in TIME_WAIT.
            let taken = if attempts - i > HARDER_THRESH {
                used(ct, t, zone, now)
            } else {
                t.invert()
                    .is_some_and(|r| ct.tuple_taken_evicting(&r, zone, id, now))
            };
            if !taken {
                return;
            }
        }
        if attempts >= size || attempts < 16 {
            return;
        }
        attempts /= 2;
        off = ct.random_u16();
    }
}

/// `get_unique_tuple`: the tuple the connection's original direction should look like
/// after this manipulation.
/// `id` is the connection being translated.
#[allow(clippy::too_many_arguments)]
pub(super) fn unique_tuple(
    ct: &mut Conntrack,
    id: u32,
    orig: &Tuple,
    range: &Range,
    manip: Manip,
    zone: Zone,
    now: u64,
) -> Tuple {
    let random_all = range.random || range.random_fully;
    // 1) Source NAT: the original if it already fits, else the mapping this source has.
    if manip == Manip::Src && !random_all {
        if in_range(orig, range) {
            if !used(ct, orig, zone, now) {
                return *orig;
            }
        } else if let Some(t) = appropriate_src(ct, orig, zone, range) {
            if !used(ct, &t, zone, now) {
                return t;
            }
        }
    }
    // 2) The address.
    let mut t = *orig;
    best_ip(&mut t, range, manip, zone);
    // 3) The port, unless already in range and free.
    if !random_all {
        match range.ports {
            Some((lo, hi)) => {
                if range.base.is_none()
                    && l4_in_range(&t, manip, lo, hi)
                    && (lo == hi || !used(ct, &t, zone, now))
                {
                    return t;
                }
            }
            None => {
                if !used(ct, &t, zone, now) {
                    return t;
                }
            }
        }
    }
    unique_l4(ct, id, &mut t, range, manip, zone, now);
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_of_addresses_hash_the_source() {
        let r = Range {
            addrs: Some((
                Ipv4Addr::new(203, 0, 113, 10),
                Ipv4Addr::new(203, 0, 113, 13),
            )),
            ..Range::default()
        };
        let mut seen = std::collections::BTreeSet::new();
        for host in 1..=40u8 {
            let mut t = Tuple {
                src: Ipv4Addr::new(10, 0, 0, host),
                dst: Ipv4Addr::new(192, 0, 2, 1),
                proto: 6,
                sport: 40000,
                dport: 80,
            };
            best_ip(&mut t, &r, Manip::Src, Zone::DEFAULT);
            assert!((10..=13).contains(&t.src.octets()[3]));
            seen.insert(t.src);
            // Deterministic.
            let mut again = t;
            again.src = Ipv4Addr::new(10, 0, 0, host);
            best_ip(&mut again, &r, Manip::Src, Zone::DEFAULT);
            assert_eq!(again.src, t.src);
        }
        assert_eq!(seen.len(), 4, "spread over the whole range");
    }
}
