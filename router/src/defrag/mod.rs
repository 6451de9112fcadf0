//! IPv4 reassembly with the kernel's rules (`net/ipv4/ip_fragment.c`,
//! `net/ipv4/inet_fragment.c`, `net/ipv4/netfilter/nf_defrag_ipv4.c`).
//!
//! Fragments queue by (source, destination, IP ID, protocol, user), the user being who
//! reassembles: conntrack at PREROUTING or OUTPUT (priority -400, whenever connection
//! tracking is on) or local delivery. Overlaps are handled as Linux does since 4.19
//! (RFC 5722 as amended): a fragment wholly inside what a queue already holds is a
//! duplicate and only it is dropped; any other overlap discards the whole datagram. A
//! datagram over 65535 bytes, a fragment that ends inside what is known to be the end, or
//! ECN marks that cannot be combined discard it too. Queues live `ipfrag_time` seconds on
//! the packet clock; when one that had its first fragment expires, the kernel may send
//! "fragment reassembly time exceeded" (local delivery always; conntrack only when the
//! datagram was for this host). Memory is bounded by `ipfrag_high_thresh` (no new queue
//! above it; the oldest are evicted down to `ipfrag_low_thresh`), and `ipfrag_max_dist`
//! restarts a queue when too many fragments from the same source arrived in between.
//!
//! The reassembled datagram carries the first fragment's header and metadata, its total
//! length, DF when every fragment had it, and the largest fragment size (`frag_max_size`),
//! so that forwarding fragments it again no larger than the sender did.
//!
//! A queued fragment is copied out of the packet buffer (the datapath reuses its buffers),
//! so only fragmented traffic allocates; expiry costs nothing per packet until the earliest
//! queue's deadline has passed.
//!
//! Written by hand: no crate reassembles IP with Linux's exact rules.

use crate::config::sysctl::Sysctls;
use crate::packet::PacketBuf;
use crate::wire::ipv4::Ipv4Packet;
use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;

/// Who reassembles (`enum ip_defrag_users`); queues of different users are separate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum User {
    /// Conntrack at PREROUTING, per zone.
    ConntrackIn(u16),
    /// Conntrack at OUTPUT, per zone.
    ConntrackOut(u16),
    /// `ip_local_deliver`.
    LocalDeliver,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    src: Ipv4Addr,
    dst: Ipv4Addr,
    id: u16,
    proto: u8,
    user: User,
}

/// Reassembly settings from the `net.ipv4.ipfrag_*` sysctls.
#[derive(Debug, Clone, Copy)]
pub struct DefragConfig {
    /// `ipfrag_high_thresh` (bytes).
    pub high_thresh: usize,
    /// `ipfrag_low_thresh` (bytes).
    pub low_thresh: usize,
    /// `ipfrag_time` in ns.
    pub timeout_ns: u64,
    /// `ipfrag_max_dist` (0: off).
    pub max_dist: u32,
}

impl DefragConfig {
    /// From effective sysctls.
    pub fn from_sysctls(s: &Sysctls) -> DefragConfig {
        DefragConfig {
            high_thresh: s.get("net.ipv4.ipfrag_high_thresh").max(0) as usize,
            low_thresh: s.get("net.ipv4.ipfrag_low_thresh").max(0) as usize,
            timeout_ns: s.get("net.ipv4.ipfrag_time").max(0) as u64 * 1_000_000_000,
            max_dist: s
                .get("net.ipv4.ipfrag_max_dist")
                .clamp(0, i64::from(u32::MAX)) as u32,
        }
    }
}

/// Counters like the kernel's `Ip: Reasm*` MIB.
#[derive(Debug, Clone, Copy, Default)]
pub struct DefragStats {
    /// Fragments received for reassembly (`ReasmReqds`).
    pub reqds: u64,
    /// Datagrams reassembled (`ReasmOKs`).
    pub oks: u64,
    /// Reassembly failures (`ReasmFails`).
    pub fails: u64,
    /// Datagrams discarded for overlapping fragments (`ReasmOverlaps`).
    pub overlaps: u64,
    /// Queues that timed out (`ReasmTimeout`).
    pub timeouts: u64,
}

/// One fragment's payload, its IP header, and its metadata.
#[derive(Debug, Clone)]
struct Frag {
    header: Vec<u8>,
    payload: Vec<u8>,
    meta: crate::packet::Meta,
}

#[derive(Debug)]
struct Queue {
    created: u64,
    /// Fragments by offset.
    frags: BTreeMap<usize, Frag>,
    /// Runs of contiguous fragments (start → end); only appends at the tail extend one.
    runs: BTreeMap<usize, usize>,
    /// End of the fragment with the highest end (`fragments_tail`).
    tail_end: Option<usize>,
    /// Start of the run the tail belongs to.
    tail_run: usize,
    /// Datagram payload length as known so far.
    len: usize,
    /// Bytes held.
    meat: usize,
    first_in: bool,
    last_in: bool,
    ecn: u8,
    max_size: usize,
    max_df_size: usize,
    rid: u32,
    mem: usize,
}

impl Queue {
    fn new(now: u64, rid: u32) -> Queue {
        Queue {
            created: now,
            frags: BTreeMap::new(),
            runs: BTreeMap::new(),
            tail_end: None,
            tail_run: 0,
            len: 0,
            meat: 0,
            first_in: false,
            last_in: false,
            ecn: 0,
            max_size: 0,
            max_df_size: 0,
            rid,
            mem: 0,
        }
    }
}

/// Why a fragment went no further.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    /// Queued, waiting for the rest.
    Queued,
    /// Dropped: a duplicate of data already held.
    Duplicate,
    /// Dropped with its whole datagram (overlap, bad geometry, too big, ECN, no memory).
    Failed,
}

/// What queueing a fragment did.
#[derive(Debug)]
pub enum Outcome {
    /// The datagram is complete: the packet now holds it.
    Complete,
    /// The packet was taken.
    Held(Held),
}

/// A queue that timed out: its first fragment (to quote in an ICMP error), and who was
/// reassembling.
#[derive(Debug)]
pub struct Expired {
    /// The first fragment as received, when it had arrived.
    pub head: Option<Vec<u8>>,
    /// Its metadata.
    pub meta: crate::packet::Meta,
    /// The reassembly user.
    pub user: User,
}

/// Per-fragment accounting, standing in for the kernel's `skb->truesize` (a received
/// skb's buffer and its bookkeeping).
const FRAG_OVERHEAD: usize = 768;

/// The reassembly queues.
#[derive(Debug)]
pub struct Defrag {
    cfg: DefragConfig,
    queues: HashMap<Key, Queue>,
    mem: usize,
    /// Per-source fragment counter (`inet_peer.rid`) for `ipfrag_max_dist`.
    rid: HashMap<Ipv4Addr, u32>,
    /// Counters.
    pub stats: DefragStats,
    /// The payload size of each fragment of the latest reassembled datagram, in order (the
    /// kernel keeps the fragments as the datagram's `frag_list`).
    geometry: Vec<usize>,
    geom_id: u32,
    /// No queue expires before this (ns; `u64::MAX` with no queues).
    next_expiry: u64,
}

/// `ip4_frag_ecn`: the ECN codepoint as a bit.
fn ecn_bit(tos: u8) -> u8 {
    1 << (tos & 3)
}

/// `ip_frag_ecn_table`: the ECN of the whole from its fragments' bits; None: invalid mix.
fn ecn_combine(bits: u8) -> Option<u8> {
    const NOT_ECT: u8 = 1;
    const CE: u8 = 8;
    if bits & NOT_ECT != 0 && bits != NOT_ECT {
        return None;
    }
    if bits & CE != 0 && bits != CE {
        return Some(3);
    }
    Some(0)
}

impl Defrag {
    /// No queues.
    pub fn new(cfg: DefragConfig) -> Defrag {
        Defrag {
            cfg,
            queues: HashMap::new(),
            mem: 0,
            rid: HashMap::new(),
            stats: DefragStats::default(),
            geometry: Vec::new(),
            geom_id: 0,
            next_expiry: u64::MAX,
        }
    }

    /// The settings.
    pub fn config(&self) -> DefragConfig {
        self.cfg
    }

    /// New settings (`sysctl -w`, a reload); deadlines are looked at again.
    pub fn set_config(&mut self, cfg: DefragConfig) {
        self.cfg = cfg;
        self.next_expiry = 0;
    }

    /// The sizes of the fragments a reassembled packet was made of, if it is the latest
    /// reassembly (`meta.frag_geom`).
    pub fn geometry(&self, id: u32) -> Option<&[usize]> {
        (id != 0 && id == self.geom_id).then_some(self.geometry.as_slice())
    }

    /// Number of datagrams being reassembled.
    pub fn pending(&self) -> usize {
        self.queues.len()
    }

    fn kill(&mut self, key: &Key) {
        if let Some(q) = self.queues.remove(key) {
            self.mem -= q.mem;
        }
    }

    /// Queues whose time is up (`ip_expire`), oldest first, removed.
    pub fn expire(&mut self, now: u64) -> Vec<Expired> {
        if now < self.next_expiry {
            return Vec::new();
        }
        let timeout = self.cfg.timeout_ns;
        let mut keys: Vec<(u64, Key)> = self
            .queues
            .iter()
            .filter(|(_, q)| now >= q.created.saturating_add(timeout))
            .map(|(k, q)| (q.created, *k))
            .collect();
        keys.sort_by_key(|k| k.0);
        let mut out = Vec::new();
        for (_, k) in keys {
            let Some(q) = self.queues.remove(&k) else {
                continue;
            };
            self.mem -= q.mem;
            self.stats.timeouts += 1;
            self.stats.fails += 1;
            let head = q.first_in.then(|| {
                let f = &q.frags[&0];
                let mut v = f.header.clone();
                v.extend_from_slice(&f.payload);
                v
            });
            let meta = q.frags.values().next().map(|f| f.meta).unwrap_or_default();
            out.push(Expired {
                head,
                meta,
                user: k.user,
            });
        }
        self.next_expiry = self
            .queues
            .values()
            .map(|q| q.created.saturating_add(timeout))
            .min()
            .unwrap_or(u64::MAX);
        out
    }

    /// Take fragment `pkt` for `user` (`ip_defrag`). On [`Outcome::Complete`] the packet
    /// holds the reassembled datagram.
    pub fn queue(&mut self, pkt: &mut PacketBuf, user: User, now: u64) -> Outcome {
        self.stats.reqds += 1;
        let data = pkt.data();
        let ip = Ipv4Packet::new_unchecked(data);
        let hlen = ip.header_len();
        let key = Key {
            src: ip.src_addr(),
            dst: ip.dst_addr(),
            id: ip.ident(),
            proto: ip.protocol(),
            user,
        };
        let offset = ip.frag_offset();
        let more = ip.more_frags();
        let df = ip.dont_frag();
        let tos = ip.tos();
        let tot = (ip.total_len() as usize).min(data.len());
        let plen = tot.saturating_sub(hlen);
        let frag_size = hlen + plen;

        if !self.queues.contains_key(&key) {
            if self.cfg.high_thresh == 0 || self.mem > self.cfg.high_thresh {
                self.evict();
                self.stats.fails += 1;
                return Outcome::Held(Held::Failed);
            }
            let rid = *self.rid.get(&key.src).unwrap_or(&0);
            self.queues.insert(key, Queue::new(now, rid));
            self.next_expiry = self
                .next_expiry
                .min(now.saturating_add(self.cfg.timeout_ns));
        }
        // ipfrag_max_dist: too many fragments from this source since this queue's last.
        if self.cfg.max_dist != 0 {
            let r = self.rid.entry(key.src).or_insert(0);
            *r = r.wrapping_add(1);
            let end = *r;
            let q = self.queues.get_mut(&key).expect("present");
            let start = q.rid;
            q.rid = end;
            if q.tail_end.is_some() && end.wrapping_sub(start) > self.cfg.max_dist {
                // ip_frag_reinit: start over with this fragment, the timer restarted.
                let m = q.mem;
                *q = Queue::new(now, end);
                self.mem -= m;
                self.stats.fails += 1;
            }
        }

        let mut end = offset + plen;
        let q = self.queues.get_mut(&key).expect("present");
        if !more {
            if end < q.len || (q.last_in && end != q.len) {
                return self.discard(&key);
            }
            q.last_in = true;
            q.len = end;
        } else {
            end &= !7;
            if end > q.len {
                if q.last_in {
                    return self.discard(&key);
                }
                q.len = end;
            }
        }
        if end == offset {
            return self.discard(&key);
        }
        // Insert (inet_frag_queue_insert).
        match q.tail_end {
            None => {
                q.runs.insert(offset, end);
                q.tail_run = offset;
                q.tail_end = Some(end);
            }
            Some(last_end) if last_end < end => {
                if offset < last_end {
                    self.stats.overlaps += 1;
                    return self.discard(&key);
                }
                if offset == last_end {
                    *q.runs.get_mut(&q.tail_run).expect("tail run") = end;
                } else {
                    q.runs.insert(offset, end);
                    q.tail_run = offset;
                }
                q.tail_end = Some(end);
            }
            Some(_) => {
                let hit: Vec<(usize, usize)> = q
                    .runs
                    .range(..end)
                    .filter(|(_, &e)| e > offset)
                    .map(|(&s, &e)| (s, e))
                    .collect();
                match hit.as_slice() {
                    [] => {
                        q.runs.insert(offset, end);
                    }
                    [(s, e)] if offset >= *s && end <= *e => {
                        return Outcome::Held(Held::Duplicate);
                    }
                    _ => {
                        self.stats.overlaps += 1;
                        return self.discard(&key);
                    }
                }
            }
        }
        let mut payload = data[hlen..hlen + (end - offset)].to_vec();
        payload.truncate(end - offset);
        let cost = FRAG_OVERHEAD + data.len();
        q.frags.insert(
            offset,
            Frag {
                header: data[..hlen].to_vec(),
                payload,
                meta: pkt.meta,
            },
        );
        q.meat += end - offset;
        q.ecn |= ecn_bit(tos);
        q.mem += cost;
        self.mem += cost;
        if offset == 0 {
            q.first_in = true;
        }
        q.max_size = q.max_size.max(frag_size);
        if df && frag_size > q.max_df_size {
            q.max_df_size = frag_size;
        }
        if q.first_in && q.last_in && q.meat == q.len {
            return self.reassemble(&key, pkt);
        }
        Outcome::Held(Held::Queued)
    }

    fn discard(&mut self, key: &Key) -> Outcome {
        self.kill(key);
        self.stats.fails += 1;
        Outcome::Held(Held::Failed)
    }

    /// Over the high threshold: drop the oldest queues down to the low one (the kernel's
    /// evictor works on the same rule, asynchronously).
    fn evict(&mut self) {
        while self.mem > self.cfg.low_thresh {
            let Some(k) = self
                .queues
                .iter()
                .min_by_key(|(_, q)| q.created)
                .map(|(k, _)| *k)
            else {
                break;
            };
            self.kill(&k);
            self.stats.fails += 1;
        }
    }

    /// `ip_frag_reasm`: build the datagram in `pkt`.
    fn reassemble(&mut self, key: &Key, pkt: &mut PacketBuf) -> Outcome {
        let q = self.queues.remove(key).expect("present");
        self.mem -= q.mem;
        let head = &q.frags[&0];
        let hlen = head.header.len();
        let total = hlen + q.len;
        let Some(ecn) = ecn_combine(q.ecn) else {
            self.stats.fails += 1;
            return Outcome::Held(Held::Failed);
        };
        if total > 65535 || total > pkt.capacity() {
            tracing::info!("Oversized IP packet from {}", key.src);
            self.stats.fails += 1;
            return Outcome::Held(Held::Failed);
        }
        let meta = head.meta;
        let b = pkt.reset_zeroed(total);
        b[..hlen].copy_from_slice(&head.header);
        for (&off, f) in &q.frags {
            let n = f.payload.len().min(q.len - off);
            b[hlen + off..hlen + off + n].copy_from_slice(&f.payload[..n]);
        }
        pkt.meta = meta;
        let pmtu = q.max_df_size == q.max_size;
        let mut ip = Ipv4Packet::new_unchecked(pkt.data_mut());
        ip.set_total_len(total as u16);
        ip.set_tos(ip.tos() | ecn);
        ip.set_flags_frag(if pmtu { crate::wire::ipv4::FLAG_DF } else { 0 });
        ip.fill_checksum();
        pkt.meta.frag_max_size = q.max_size.max(q.max_df_size) as u16;
        pkt.meta.frag_pmtu = pmtu;
        self.geometry.clear();
        self.geometry.extend(
            q.frags
                .iter()
                .map(|(&off, f)| f.payload.len().min(q.len - off)),
        );
        self.geom_id = self.geom_id.wrapping_add(1).max(1);
        pkt.meta.frag_geom = self.geom_id;
        self.stats.oks += 1;
        Outcome::Complete
    }
}

use crate::netfilter::hooks::{
    priority, DropReason, Family, Hook, HookCtx, HookFn, HookState, Registry, Verdict,
};
use crate::packet::CtInfo;

/// `ipv4_conntrack_defrag`: conntrack sees whole datagrams.
struct DefragHook;

impl HookFn for DefragHook {
    fn call(&mut self, pkt: &mut PacketBuf, st: &HookState, cx: &mut HookCtx<'_>) -> Verdict {
        // Seen before (looped back) or exempted: leave it.
        if pkt
            .meta
            .ct
            .is_some_and(|r| r.info == CtInfo::Untracked || cx.conntrack.get(r.id).is_some())
        {
            return Verdict::Accept;
        }
        if !Ipv4Packet::new_unchecked(pkt.data()).is_fragment() {
            return Verdict::Accept;
        }
        // nf_ct_defrag_user: the zone's id in the original direction.
        let zone = pkt
            .meta
            .ct_zone()
            .id_in(crate::netfilter::conntrack::Dir::Original);
        let user = if st.hook == Hook::PreRouting {
            User::ConntrackIn(zone)
        } else {
            User::ConntrackOut(zone)
        };
        held_verdict(cx.defrag.queue(pkt, user, st.now), cx)
    }
}

/// The verdict for what queueing did: go on with the whole datagram, steal the fragment
/// (queued), or drop it with its reason.
fn held_verdict(o: Outcome, cx: &mut HookCtx<'_>) -> Verdict {
    match o {
        Outcome::Complete => Verdict::Accept,
        Outcome::Held(Held::Queued) => Verdict::Stolen,
        Outcome::Held(h) => {
            cx.effects.drop_reason = Some(drop_reason(h));
            Verdict::Drop
        }
    }
}

/// The drop reason for a fragment that went no further.
pub fn drop_reason(h: Held) -> DropReason {
    match h {
        Held::Duplicate => DropReason::FragmentDuplicate,
        _ => DropReason::FragmentReasmFailed,
    }
}

/// Register reassembly before conntrack (priority -400 at PREROUTING and OUTPUT), as
/// `nf_defrag_ipv4_enable` does when conntrack is first needed. Idempotent.
pub fn register(reg: &mut Registry) {
    if reg
        .entries(Family::Ipv4, Hook::PreRouting)
        .iter()
        .any(|e| e.name == "ipv4_conntrack_defrag")
    {
        return;
    }
    for hook in [Hook::PreRouting, Hook::LocalOut] {
        reg.register(
            Family::Ipv4,
            hook,
            priority::CONNTRACK_DEFRAG,
            "ipv4_conntrack_defrag",
            Box::new(DefragHook),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> DefragConfig {
        DefragConfig {
            high_thresh: 4 << 20,
            low_thresh: 3 << 20,
            timeout_ns: 30_000_000_000,
            max_dist: 64,
        }
    }

    /// A fragment of datagram `id` carrying `payload` at byte `offset`.
    fn frag(id: u16, offset: usize, more: bool, df: bool, payload: &[u8]) -> PacketBuf {
        let mut p = vec![
            0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 2, 192, 0, 2, 1,
        ];
        p.extend_from_slice(payload);
        let n = p.len() as u16;
        p[2..4].copy_from_slice(&n.to_be_bytes());
        p[4..6].copy_from_slice(&id.to_be_bytes());
        let mut w = (offset / 8) as u16;
        if more {
            w |= 0x2000;
        }
        if df {
            w |= 0x4000;
        }
        p[6..8].copy_from_slice(&w.to_be_bytes());
        let mut b = PacketBuf::with_capacity(65535);
        b.load(&p);
        Ipv4Packet::new_unchecked(b.data_mut()).fill_checksum();
        b
    }

    #[test]
    fn in_order_out_of_order_duplicates_and_overlaps() {
        let mut d = Defrag::new(cfg());
        let u = User::LocalDeliver;
        let a: Vec<u8> = (0..16).collect();
        // Second half first, then the first: complete.
        assert!(matches!(
            d.queue(&mut frag(1, 8, false, false, &a[8..]), u, 0),
            Outcome::Held(Held::Queued)
        ));
        let mut p = frag(1, 0, true, false, &a[..8]);
        assert!(matches!(d.queue(&mut p, u, 1), Outcome::Complete));
        assert_eq!(&p.data()[20..], &a[..]);
        let ip = Ipv4Packet::new_unchecked(p.data());
        assert_eq!(
            (ip.total_len(), ip.frag_offset(), ip.more_frags()),
            (36, 0, false)
        );
        assert_eq!(p.meta.frag_max_size, 28);
        assert_eq!(d.pending(), 0);

        // A duplicate inside a run is dropped alone; an overlap kills the datagram.
        d.queue(&mut frag(2, 0, true, false, &a[..8]), u, 0);
        assert!(matches!(
            d.queue(&mut frag(2, 0, true, false, &a[..8]), u, 0),
            Outcome::Held(Held::Duplicate)
        ));
        assert_eq!(d.pending(), 1);
        assert!(matches!(
            d.queue(&mut frag(2, 0, true, false, &[0; 16]), u, 0),
            Outcome::Held(Held::Failed)
        ));
        assert_eq!((d.pending(), d.stats.overlaps), (0, 1));

        // A last fragment ending before data already held: discarded.
        d.queue(&mut frag(3, 8, true, false, &a[..8]), u, 0);
        assert!(matches!(
            d.queue(&mut frag(3, 0, false, false, &a[..8]), u, 0),
            Outcome::Held(Held::Failed)
        ));
    }

    #[test]
    fn df_everywhere_sets_df_and_timeouts_expire() {
        let mut d = Defrag::new(cfg());
        let u = User::ConntrackIn(0);
        d.queue(&mut frag(9, 0, true, true, &[1; 16]), u, 0);
        let mut p = frag(9, 16, false, true, &[2; 4]);
        assert!(matches!(d.queue(&mut p, u, 0), Outcome::Complete));
        assert!(Ipv4Packet::new_unchecked(p.data()).dont_frag());
        assert!(p.meta.frag_pmtu);

        d.queue(&mut frag(10, 0, true, false, &[1; 16]), u, 5);
        assert!(d.expire(30_000_000_004).is_empty());
        let e = d.expire(30_000_000_005);
        assert_eq!(e.len(), 1);
        assert!(e[0].head.is_some());
        assert_eq!(d.stats.timeouts, 1);
    }

    #[test]
    fn ecn_rules() {
        assert_eq!(ecn_combine(ecn_bit(0)), Some(0));
        assert_eq!(ecn_combine(ecn_bit(3) | ecn_bit(2)), Some(3));
        assert_eq!(ecn_combine(ecn_bit(0) | ecn_bit(2)), None);
    }
}
