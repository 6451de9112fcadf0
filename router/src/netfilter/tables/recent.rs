//! `-m recent`: the namespace's named address lists, as `xt_recent` keeps them.
//!
//! A list is created by the first rule that names it, and takes that rule's `--mask`. It
//! holds at most 100 addresses (`ip_list_tot`), least recently used first, the oldest
//! going when a new one arrives. Each address keeps a ring of timestamps sized for the
//! largest `--hitcount` of the rules naming the list (rounded up to a power of two; 32
//! without one), and the TTL it was last seen with. `--reap` removes the least recently
//! used address of the whole list once its newest hit has left the `--seconds` window.
//! Lists outlive a ruleset swap while some rule still names them.
//!
//! Written by hand: the behaviour is the kernel module's own.

use super::ast::{RecentMatch, RecentOp, RecentSide, Rule};
use std::collections::HashMap;
use std::net::Ipv4Addr;

/// Addresses per list (`ip_list_tot`).
const MAX_ENTRIES: usize = 100;
/// The largest `--hitcount` the kernel takes (`XT_RECENT_MAX_NSTAMPS` - 1).
pub const MAX_HITCOUNT: u32 = 65535;

/// Every list, by name.
#[derive(Debug, Default, Clone)]
pub struct Recent {
    lists: HashMap<String, List>,
}

#[derive(Debug, Clone)]
struct List {
    /// The mask of the rule that created the list (`t->mask`).
    mask: u32,
    /// Timestamps kept per address, minus one (`nstamps_max_mask`).
    stamps_mask: u16,
    /// Least recently used first (`lru_list`).
    entries: Vec<Entry>,
}

#[derive(Debug, Clone)]
struct Entry {
    addr: Ipv4Addr,
    ttl: u8,
    /// The slot after the newest timestamp (1 ..= ring size).
    index: u32,
    /// Slots in use.
    nstamps: u32,
    stamps: Box<[u64]>,
}

/// `recent_mt_check`'s ring size for a rule: `--hitcount` rounded up to a power of two, or
/// 32 without one.
fn stamps_mask(m: &RecentMatch) -> u16 {
    if m.hitcount == 0 {
        31
    } else {
        (m.hitcount.min(MAX_HITCOUNT).next_power_of_two() - 1) as u16
    }
}

impl Recent {
    /// The lists a set of rules needs, given in load order (`recent_mt_check` for each):
    /// a list already here keeps its mask and entries, and is emptied when a rule needs
    /// a larger ring; a new list takes the first naming rule's mask. Lists no rule names
    /// any more are freed.
    pub fn load<'a>(&mut self, rules: impl Iterator<Item = &'a Rule>) {
        let mut named: Vec<&str> = Vec::new();
        for m in rules.flat_map(|r| &r.matches) {
            let super::ast::Match::Recent(m) = m else {
                continue;
            };
            let want = stamps_mask(m);
            match self.lists.get_mut(m.name.as_str()) {
                Some(l) => {
                    if want > l.stamps_mask {
                        l.entries.clear();
                        l.stamps_mask = want;
                    }
                }
                None => {
                    self.lists.insert(
                        m.name.clone(),
                        List {
                            mask: u32::from(m.mask),
                            stamps_mask: want,
                            entries: Vec::new(),
                        },
                    );
                }
            }
            named.push(m.name.as_str());
        }
        self.lists.retain(|n, _| named.contains(&n.as_str()));
    }

    /// Addresses in a list (for tests and listings).
    pub fn len(&self, name: &str) -> usize {
        self.lists.get(name).map_or(0, |l| l.entries.len())
    }

    /// Is there no list at all?
    pub fn is_empty(&self) -> bool {
        self.lists.is_empty()
    }

    /// Is there a list of this name?
    pub fn has(&self, name: &str) -> bool {
        self.lists.contains_key(name)
    }

    /// `recent_mt`. `forwarded`: the packet has an output device and no local socket, so
    /// its TTL is taken as it was before forwarding decremented it.
    pub fn step(
        &mut self,
        m: &RecentMatch,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        ttl: u8,
        forwarded: bool,
        now: u64,
    ) -> bool {
        let mut ret = m.neg;
        let Some(l) = self.lists.get_mut(m.name.as_str()) else {
            return ret;
        };
        let addr = match m.side {
            RecentSide::Source => src,
            RecentSide::Dest => dst,
        };
        let addr = Ipv4Addr::from(u32::from(addr) & l.mask);
        let ttl = if forwarded { ttl.wrapping_add(1) } else { ttl };
        let want_ttl = if m.rttl { ttl } else { 0 };
        let found = l
            .entries
            .iter()
            .position(|e| e.addr == addr && (want_ttl == 0 || e.ttl == 0 || e.ttl == want_ttl));
        let Some(i) = found else {
            if m.op == RecentOp::Set {
                l.insert(addr, ttl, now);
                ret = !ret;
            }
            return ret;
        };
        match m.op {
            RecentOp::Set => ret = !ret,
            RecentOp::Remove => {
                l.entries.remove(i);
                return !ret;
            }
            RecentOp::Check | RecentOp::Update => {
                let since = now.saturating_sub(u64::from(m.seconds) * 1_000_000_000);
                let e = &l.entries[i];
                let mut hits = 0;
                for &t in &e.stamps[..e.nstamps as usize] {
                    if m.seconds != 0 && t < since {
                        continue;
                    }
                    hits += 1;
                    if m.hitcount == 0 || hits >= m.hitcount {
                        ret = !ret;
                        break;
                    }
                }
                if m.reap {
                    l.reap(since, addr, m.op == RecentOp::Update && ret);
                }
            }
        }
        if m.op == RecentOp::Set || (m.op == RecentOp::Update && ret) {
            if let Some(i) = l.entries.iter().position(|e| e.addr == addr) {
                l.touch(i, ttl, now);
            }
        }
        ret
    }
}

impl List {
    /// `recent_entry_init`: a new address, at the most recently used end; the least
    /// recently used one goes if the list is full.
    fn insert(&mut self, addr: Ipv4Addr, ttl: u8, now: u64) {
        if self.entries.len() >= MAX_ENTRIES {
            self.entries.remove(0);
        }
        let mut stamps = vec![0u64; usize::from(self.stamps_mask) + 1].into_boxed_slice();
        stamps[0] = now;
        self.entries.push(Entry {
            addr,
            ttl,
            index: 1,
            nstamps: 1,
            stamps,
        });
    }

    /// `recent_entry_update`: one more hit, and the address becomes the most recently used.
    fn touch(&mut self, i: usize, ttl: u8, now: u64) {
        let mut e = self.entries.remove(i);
        e.index &= u32::from(self.stamps_mask);
        e.stamps[e.index as usize] = now;
        e.index += 1;
        e.nstamps = e.nstamps.max(e.index);
        e.ttl = ttl;
        self.entries.push(e);
    }

    /// `recent_entry_reap`: the least recently used address goes if its newest hit is
    /// older than `since`, unless it is the one about to be updated.
    fn reap(&mut self, since: u64, working: Ipv4Addr, updating: bool) {
        let Some(e) = self.entries.first() else {
            return;
        };
        if e.addr == working && updating {
            return;
        }
        if e.stamps[e.index as usize - 1] < since {
            self.entries.remove(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netfilter::tables::parse::parse_str;

    const S: u64 = 1_000_000_000;

    fn lists(rules: &str) -> (Recent, Vec<RecentMatch>) {
        let rs = parse_str(
            &format!("*filter\n:INPUT ACCEPT [0:0]\n{rules}COMMIT\n"),
            "t",
        )
        .unwrap();
        let all: Vec<&Rule> = rs.tables[0].chains.iter().flat_map(|c| &c.rules).collect();
        let mut r = Recent::default();
        r.load(all.iter().copied());
        let ms = all
            .iter()
            .flat_map(|r| &r.matches)
            .filter_map(|m| match m {
                super::super::ast::Match::Recent(m) => Some(m.clone()),
                _ => None,
            })
            .collect();
        (r, ms)
    }

    fn a(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn update_adds_a_hit_only_when_it_matches() {
        let (mut r, m) = lists(
            "-A INPUT -m recent --set --name x\n-A INPUT -m recent --update --hitcount 2 --name x\n\
             -A INPUT -m recent ! --update --hitcount 9 --name x\n",
        );
        let (set, upd, not_upd) = (&m[0], &m[1], &m[2]);
        let ip = a("10.0.0.1");
        assert!(r.step(set, ip, ip, 64, false, S));
        assert!(!r.step(upd, ip, ip, 64, false, 2 * S), "one hit");
        assert!(
            !r.step(upd, ip, ip, 64, false, 3 * S),
            "still one: a miss adds none"
        );
        // `! --update` matches on a miss, and then it records a hit (the final result).
        assert!(r.step(not_upd, ip, ip, 64, false, 4 * S));
        assert!(r.step(upd, ip, ip, 64, false, 5 * S), "two hits now");
    }

    #[test]
    fn the_first_rule_sets_the_mask_and_ttl_is_seen_before_forwarding() {
        let (mut r, m) = lists(
            "-A INPUT -m recent --set --name x --mask 255.255.255.0\n\
             -A INPUT -m recent --rcheck --rttl --name x --mask 255.255.255.255\n",
        );
        // Set while forwarding with TTL 63 (64 before the decrement), check locally.
        assert!(r.step(&m[0], a("10.0.0.1"), a("1.1.1.1"), 63, true, S));
        assert!(
            r.step(&m[1], a("10.0.0.9"), a("1.1.1.1"), 64, false, S),
            "the list's /24"
        );
        assert!(
            !r.step(&m[1], a("10.0.0.9"), a("1.1.1.1"), 63, false, S),
            "TTL differs"
        );
    }

    #[test]
    fn reap_removes_the_least_recently_used_address_only() {
        let (mut r, m) = lists(
            "-A INPUT -m recent --set --name x\n\
             -A INPUT -m recent --rcheck --seconds 10 --reap --name x\n",
        );
        let (p, q) = (a("10.0.0.1"), a("10.0.0.2"));
        r.step(&m[0], p, p, 64, false, S);
        r.step(&m[0], q, q, 64, false, 2 * S);
        // 30 s later both are stale; a check of q reaps p (the oldest), not q.
        assert!(!r.step(&m[1], q, q, 64, false, 30 * S));
        assert_eq!(r.len("x"), 1);
        assert!(!r.step(&m[1], q, q, 64, false, 31 * S));
        assert_eq!(r.len("x"), 0);
    }

    #[test]
    fn a_full_list_drops_its_least_recently_used_address() {
        let (mut r, m) =
            lists("-A INPUT -m recent --set --name x\n-A INPUT -m recent --rcheck --name x\n");
        for i in 0..=MAX_ENTRIES as u32 {
            let ip = Ipv4Addr::from(0x0a00_0000 + i);
            r.step(&m[0], ip, ip, 64, false, S + u64::from(i));
        }
        assert_eq!(r.len("x"), MAX_ENTRIES);
        assert!(!r.step(&m[1], a("10.0.0.0"), a("10.0.0.0"), 64, false, 2 * S));
        assert!(r.step(&m[1], a("10.0.0.1"), a("10.0.0.1"), 64, false, 2 * S));
    }

    #[test]
    fn hitcounts_above_32_get_a_larger_ring() {
        let (mut r, m) = lists("-A INPUT -m recent --set --name x\n-A INPUT -m recent --rcheck --hitcount 40 --name x\n");
        let ip = a("10.0.0.1");
        for i in 0..39 {
            r.step(&m[0], ip, ip, 64, false, S + i);
        }
        assert!(!r.step(&m[1], ip, ip, 64, false, 2 * S));
        r.step(&m[0], ip, ip, 64, false, 2 * S);
        assert!(r.step(&m[1], ip, ip, 64, false, 2 * S));
    }
}
