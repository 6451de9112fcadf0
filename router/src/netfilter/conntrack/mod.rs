//! Connection tracking with the kernel's semantics (`net/netfilter/nf_conntrack_core.c` and
//! the protocol trackers): flows keyed by tuple, indexed in both directions in a chained
//! hash table shaped like the kernel's (bucket array, one link per direction), created
//! unconfirmed by a flow's first packet and confirmed only when that packet passes the last
//! hook; timeouts on the packet clock; the table limit with the kernel's early drop and its
//! "table full" drop; `conntrack -L` output.
//!
//! Written by hand: no crate models netfilter's conntrack. The hash function is ours (the
//! kernel's is a randomly keyed siphash), seeded so that replays are reproducible; what
//! depends on it (which entries share a bucket for early drop, listing order) is therefore
//! not byte-identical to any kernel run, but follows the same rules.

pub mod tcp;
pub mod tuple;

use crate::config::sysctl::Sysctls;
use crate::packet::{CtInfo, CtRef, PacketBuf};
use crate::wire::ipv4::Ipv4Packet;
use crate::wire::{checksum, icmp, proto};
use std::fmt::Write as _;
pub use tuple::{Dir, Tuple, Zone, ZoneDir};

/// Status bits (`enum ip_conntrack_status`).
pub mod status {
    /// An expected connection.
    pub const EXPECTED: u32 = 1 << 0;
    /// Packets have been seen both ways.
    pub const SEEN_REPLY: u32 = 1 << 1;
    /// Never early-dropped.
    pub const ASSURED: u32 = 1 << 2;
    /// In the main table.
    pub const CONFIRMED: u32 = 1 << 3;
    /// Source NAT applies.
    pub const SRC_NAT: u32 = 1 << 4;
    /// Destination NAT applies.
    pub const DST_NAT: u32 = 1 << 5;
    /// Source NAT done.
    pub const SRC_NAT_DONE: u32 = 1 << 7;
    /// Destination NAT done.
    pub const DST_NAT_DONE: u32 = 1 << 8;
    /// Being removed.
    pub const DYING: u32 = 1 << 9;
    /// Router-internal: a dying entry that had been confirmed. The kernel keeps
    /// IPS_CONFIRMED on a killed entry; here CONFIRMED means "in the table", so the fact is
    /// kept apart ([`super::Conn::kernel_status`] shows it as CONFIRMED).
    pub const WAS_CONFIRMED: u32 = 1 << 31;
    /// Either translation applies (`IPS_NAT_MASK`).
    pub const NAT_MASK: u32 = SRC_NAT | DST_NAT;
    /// Both translations have been set up (`IPS_NAT_DONE_MASK`).
    pub const NAT_DONE_MASK: u32 = SRC_NAT_DONE | DST_NAT_DONE;
}

/// How many buckets early drop looks at (`NF_CT_EVICTION_RANGE`).
const EVICTION_RANGE: u32 = 8;
/// IPPROTO_GRE.
const GRE: u8 = 47;
const NONE: u32 = u32::MAX;
const NS: u64 = 1_000_000_000;

/// Tracker settings from the `net.netfilter.nf_conntrack_*` sysctls.
#[derive(Debug, Clone)]
pub struct CtConfig {
    /// `nf_conntrack_max` (0 = no limit).
    pub max: usize,
    /// `nf_conntrack_buckets`.
    pub buckets: usize,
    /// `nf_conntrack_checksum`: verify layer-4 checksums at PREROUTING.
    pub checksum: bool,
    /// `nf_conntrack_udp_timeout` (s).
    pub udp_timeout: u64,
    /// `nf_conntrack_udp_timeout_stream` (s).
    pub udp_stream_timeout: u64,
    /// `nf_conntrack_icmp_timeout` (s).
    pub icmp_timeout: u64,
    /// `nf_conntrack_generic_timeout` (s).
    pub generic_timeout: u64,
    /// The TCP tracker's settings.
    pub tcp: tcp::TcpConfig,
    /// `nf_conntrack_gre_timeout` (s).
    pub gre_timeout: u64,
    /// `nf_conntrack_gre_timeout_stream` (s).
    pub gre_stream_timeout: u64,
}

impl CtConfig {
    /// From effective sysctls.
    pub fn from_sysctls(s: &Sysctls) -> CtConfig {
        let g = |n: &str| s.get(&format!("net.netfilter.{n}"));
        CtConfig {
            max: g("nf_conntrack_max").max(0) as usize,
            buckets: g("nf_conntrack_buckets").clamp(1, 1 << 26) as usize,
            checksum: g("nf_conntrack_checksum") != 0,
            udp_timeout: g("nf_conntrack_udp_timeout").max(0) as u64,
            udp_stream_timeout: g("nf_conntrack_udp_timeout_stream").max(0) as u64,
            icmp_timeout: g("nf_conntrack_icmp_timeout").max(0) as u64,
            generic_timeout: g("nf_conntrack_generic_timeout").max(0) as u64,
            gre_timeout: g("nf_conntrack_gre_timeout").max(0) as u64,
            gre_stream_timeout: g("nf_conntrack_gre_timeout_stream").max(0) as u64,
            tcp: {
                let mut t = tcp::TcpConfig {
                    loose: g("nf_conntrack_tcp_loose") != 0,
                    be_liberal: g("nf_conntrack_tcp_be_liberal") != 0,
                    max_retrans: g("nf_conntrack_tcp_max_retrans").clamp(0, 255) as u8,
                    ignore_invalid_rst: g("nf_conntrack_tcp_ignore_invalid_rst") != 0,
                    checksum: g("nf_conntrack_checksum") != 0,
                    ..tcp::TcpConfig::default()
                };
                for (name, slot) in tcp::TIMEOUT_SYSCTLS {
                    t.timeouts[slot] = g(name).clamp(0, u32::MAX as i64) as u32;
                }
                t
            },
        }
    }
}

/// Per-protocol state.
#[derive(Debug, Clone, Copy)]
enum L4 {
    Generic,
    Udp {
        stream_after: u64,
    },
    Icmp,
    Tcp(tcp::TcpConn),
    /// GRE (`nf_conntrack_proto_gre`): version 0 carries no keys, like generic tracking but
    /// with its own timeouts and `ASSURED` once replied.
    Gre,
}

/// A tracked connection (`struct nf_conn`).
#[derive(Debug, Clone)]
pub struct Conn {
    /// Original and reply tuples.
    pub tuple: [Tuple; 2],
    /// `status` bits.
    pub status: u32,
    /// Expiry on the packet clock (ns); relative while unconfirmed, as in the kernel.
    expires: u64,
    /// Connection mark (`ct->mark`).
    pub mark: u32,
    /// Zone.
    pub zone: Zone,
    l4: L4,
    /// Hash chain links, one per direction: `(slot << 1) | dir` of the next entry.
    next: [u32; 2],
    /// Packets holding this unconfirmed entry in a queue.
    queued: u16,
    /// MASQUERADE: the interface whose address the source became (`nat->masq_index`);
    /// 0 when not masqueraded.
    pub masq_index: u32,
    /// Link in the NAT by-source chain (`nat_bysource`), once source NAT is set up.
    src_next: u32,
}

impl Conn {
    /// Confirmed (in the main table)?
    pub fn confirmed(&self) -> bool {
        self.status & status::CONFIRMED != 0
    }

    /// The status bits as the kernel shows them (`--ctstatus`): a killed entry that had been
    /// confirmed is still CONFIRMED, and DYING.
    pub fn kernel_status(&self) -> u32 {
        let s = self.status & !status::WAS_CONFIRMED;
        if self.status & status::WAS_CONFIRMED != 0 {
            s | status::CONFIRMED
        } else {
            s
        }
    }

    /// Whole seconds left (`nf_ct_expires(ct) / HZ`, what `--ctexpire` and `conntrack -L`
    /// show). 0 while unconfirmed: the kernel keeps the timeout relative until
    /// confirmation, and subtracting the current time from it goes below zero (the kernel
    /// clamps at 0; only in the rare uptime windows where the 32-bit jiffies difference
    /// wraps would it show a large number instead).
    pub fn expires_secs(&self, now: u64) -> u64 {
        if self.confirmed() || self.status & status::WAS_CONFIRMED != 0 {
            self.expires.saturating_sub(now) / NS
        } else {
            0
        }
    }
}

/// Counters like `conntrack -S`.
#[derive(Debug, Clone, Copy, Default)]
pub struct CtStats {
    /// Packets found no valid place in a connection.
    pub invalid: u64,
    /// Entries inserted (confirmed).
    pub insert: u64,
    /// Confirmations that failed (a clash).
    pub insert_failed: u64,
    /// Packets dropped because the table was full.
    pub drop: u64,
    /// Entries evicted by early drop.
    pub early_drop: u64,
}

/// The connection table.
pub struct Conntrack {
    /// Settings.
    pub cfg: CtConfig,
    slots: Vec<Option<Conn>>,
    free: Vec<u32>,
    heads: Vec<u32>,
    /// Allocated entries, unconfirmed included (`cnet->count`).
    count: usize,
    /// Entries allocated while handling the current packet and not yet confirmed.
    pending: Vec<u32>,
    /// Entries killed while handling the current packet: out of the hash already, freed
    /// once the packet that killed them is gone.
    dying: Vec<u32>,
    seed: u64,
    /// Heads of the NAT by-source chains (`nf_nat_bysource`).
    src_heads: Vec<u32>,
    /// Random numbers for NAT port selection (`get_random_u16`), seeded: replay is
    /// reproducible.
    rng: fastrand::Rng,
    gc_cursor: usize,
    /// Counters.
    pub stats: CtStats,
    log: crate::netfilter::RateLimitedLog,
    /// `conntrack -E` lines waiting for a reader; None when nobody watches.
    events: Option<Vec<String>>,
    /// Events dropped because the reader was too slow.
    pub events_lost: u64,
}

/// The kinds of `conntrack -E` events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A connection was confirmed (`IPCT_NEW`).
    New,
    /// Its state, reply or assured status changed (`IPCT_PROTOINFO`, `IPCT_REPLY`,
    /// `IPCT_ASSURED`).
    Update,
    /// It was removed (timed out, killed, deleted).
    Destroy,
}

impl EventKind {
    fn tag(self) -> &'static str {
        match self {
            EventKind::New => "[NEW]",
            EventKind::Update => "[UPDATE]",
            EventKind::Destroy => "[DESTROY]",
        }
    }
}

/// Events kept for a slow reader at most; more are dropped (and counted).
const MAX_EVENTS: usize = 65536;

/// What the conntrack-in hook decided for a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InVerdict {
    /// Continue (the packet's `meta.ct` says how it relates, or None when INVALID).
    Accept,
    /// Drop: the table is full and nothing could be evicted.
    TableFull,
}

impl Conntrack {
    /// An empty table.
    pub fn new(cfg: CtConfig, seed: u64) -> Conntrack {
        let n = cfg.buckets;
        Conntrack {
            cfg,
            slots: Vec::new(),
            free: Vec::new(),
            heads: vec![NONE; n],
            count: 0,
            pending: Vec::new(),
            dying: Vec::new(),
            seed,
            src_heads: vec![NONE; n],
            rng: fastrand::Rng::with_seed(seed ^ 0x6e61_7470_6f72_7473),
            gc_cursor: 0,
            stats: CtStats::default(),
            log: Default::default(),
            events: None,
            events_lost: 0,
        }
    }

    /// Start or stop keeping `conntrack -E` events.
    pub fn watch_events(&mut self, on: bool) {
        if on {
            self.events.get_or_insert_with(Vec::new);
        } else {
            self.events = None;
        }
    }

    /// Move the waiting events into `out`, oldest first.
    pub fn drain_events(&mut self, out: &mut Vec<String>) {
        if let Some(e) = &mut self.events {
            out.append(e);
        }
    }

    fn event(&mut self, kind: EventKind, id: u32, now: Option<u64>) {
        if self.events.is_none() {
            return;
        }
        let Some(c) = self.get(id) else { return };
        let line = format!("{:>9} {}", kind.tag(), self.describe(c, now, false));
        let events = self.events.as_mut().expect("watched");
        if events.len() < MAX_EVENTS {
            events.push(line);
        } else {
            self.events_lost += 1;
        }
    }

    /// Number of confirmed-or-pending entries (`nf_conntrack_count`).
    pub fn count(&self) -> usize {
        self.count
    }

    /// The entry in slot `id`.
    pub fn get(&self, id: u32) -> Option<&Conn> {
        self.slots.get(id as usize)?.as_ref()
    }

    /// The entry in slot `id`, mutable.
    pub fn get_mut(&mut self, id: u32) -> Option<&mut Conn> {
        self.slots.get_mut(id as usize)?.as_mut()
    }

    fn hash(&self, t: &Tuple, zone: u16) -> u32 {
        // A keyed multiply-xorshift over the tuple's words.
        let mut h = self.seed ^ 0x9e37_79b9_7f4a_7c15;
        for w in [
            u32::from(t.src) as u64,
            u32::from(t.dst) as u64,
            ((t.sport as u64) << 32) | ((t.dport as u64) << 16) | ((t.proto as u64) << 8),
            zone as u64,
        ] {
            h = (h ^ w).wrapping_mul(0xff51_afd7_ed55_8ccd);
            h ^= h >> 33;
        }
        (h >> 32) as u32
    }

    /// `reciprocal_scale(hash, buckets)`.
    fn bucket(&self, raw: u32) -> usize {
        ((raw as u64 * self.heads.len() as u64) >> 32) as usize
    }

    fn expired(&self, c: &Conn, now: u64) -> bool {
        c.confirmed() && c.expires <= now
    }

    /// Find a confirmed entry by tuple (either direction), in a packet's zone. Expired
    /// entries met on the way are removed, as the kernel's lookup does.
    /// A one-direction zone has a second id: `resolve_normal_ct` then looks again with it.
    pub fn find(&mut self, t: &Tuple, zone: Zone, now: u64) -> Option<(u32, Dir)> {
        self.find_hashed(t, zone, Dir::Original, now).or_else(|| {
            if zone.id_in(Dir::Reply) != zone.id_in(Dir::Original) {
                self.find_hashed(t, zone, Dir::Reply, now)
            } else {
                None
            }
        })
    }

    /// The lookup with the zone id of direction `hd` in the hash: a packet's lookup hashes
    /// with its zone's original id (`resolve_normal_ct`), a reply tuple's uniqueness check
    /// with the reply id (`nf_conntrack_tuple_taken`). An entry matches when the ids of the
    /// direction it is found in agree (`nf_ct_zone_equal`).
    fn find_hashed(&mut self, t: &Tuple, zone: Zone, hd: Dir, now: u64) -> Option<(u32, Dir)> {
        let b = self.bucket(self.hash(t, zone.id_in(hd)));
        let mut cur = self.heads[b];
        let mut expired = Vec::new();
        let mut found = None;
        while cur != NONE {
            let (id, d) = (cur >> 1, (cur & 1) as usize);
            let Some(c) = self.slots[id as usize].as_ref() else {
                break;
            };
            let dir = if d == 0 { Dir::Original } else { Dir::Reply };
            if c.tuple[d] == *t && c.zone.id_in(dir) == zone.id_in(dir) {
                if self.expired(c, now) {
                    expired.push(id);
                } else {
                    found = Some((id, dir));
                    break;
                }
            }
            cur = c.next[d];
        }
        for id in expired {
            self.remove(id);
        }
        found
    }

    fn link(&mut self, id: u32) {
        for d in 0..2 {
            let c = self.slots[id as usize].as_ref().expect("live");
            let b = self.bucket(self.hash(&c.tuple[d], c.zone.id_in(Dir::from_index(d))));
            let head = self.heads[b];
            self.slots[id as usize].as_mut().expect("live").next[d] = head;
            self.heads[b] = (id << 1) | d as u32;
        }
    }

    fn unlink(&mut self, id: u32) {
        for d in 0..2 {
            let c = self.slots[id as usize].as_ref().expect("live");
            let b = self.bucket(self.hash(&c.tuple[d], c.zone.id_in(Dir::from_index(d))));
            let me = (id << 1) | d as u32;
            let after = c.next[d];
            if self.heads[b] == me {
                self.heads[b] = after;
                continue;
            }
            let mut cur = self.heads[b];
            while cur != NONE {
                let (cid, cd) = (cur >> 1, (cur & 1) as usize);
                let next = self.slots[cid as usize].as_ref().expect("chained").next[cd];
                if next == me {
                    self.slots[cid as usize].as_mut().expect("chained").next[cd] = after;
                    break;
                }
                cur = next;
            }
        }
    }

    /// `nf_ct_kill`: take an entry out of the table now; its slot lives on until the current
    /// packet is gone (the packet may still refer to it).
    fn kill(&mut self, id: u32) {
        let Some(c) = self.slots.get(id as usize).and_then(|s| s.as_ref()) else {
            return;
        };
        if c.status & status::DYING != 0 {
            return;
        }
        if c.confirmed() {
            self.event(EventKind::Destroy, id, None);
            self.unlink(id);
        }
        let c = self.slots[id as usize].as_mut().expect("live");
        // A confirmed entry keeps its absolute timeout (what --ctexpire still sees on the
        // packet that killed it); an unconfirmed one's relative timeout means nothing now.
        if c.confirmed() {
            c.status |= status::WAS_CONFIRMED;
        } else {
            c.expires = 0;
        }
        c.status = (c.status & !status::CONFIRMED) | status::DYING;
        self.pending.retain(|&x| x != id);
        self.dying.push(id);
    }

    /// Remove an entry (confirmed or not).
    pub fn remove(&mut self, id: u32) {
        let Some(c) = self.slots.get(id as usize).and_then(|s| s.as_ref()) else {
            return;
        };
        let st = c.status;
        if c.confirmed() {
            self.event(EventKind::Destroy, id, None);
            self.unlink(id);
        }
        if st & status::SRC_NAT_DONE != 0 {
            self.bysource_unlink(id);
        }
        self.slots[id as usize] = None;
        self.free.push(id);
        self.count -= 1;
    }

    /// `hash_by_src`: the original direction's source (address, port, protocol) and zone.
    fn src_bucket(&self, t: &Tuple, zone: Zone) -> usize {
        let key = Tuple {
            dst: std::net::Ipv4Addr::UNSPECIFIED,
            dport: 0,
            ..*t
        };
        self.bucket(self.hash(&key, zone.id_in(Dir::Original)) ^ 0x5bd1_e995)
    }

    /// Put entry `id` at the head of its by-source chain (`nf_nat_setup_info` for a source
    /// manipulation): the newest mapping of a source is found first.
    pub(crate) fn bysource_add(&mut self, id: u32) {
        let Some(c) = self.get(id) else { return };
        let b = self.src_bucket(&c.tuple[0], c.zone);
        let head = self.src_heads[b];
        self.slots[id as usize].as_mut().expect("live").src_next = head;
        self.src_heads[b] = id;
    }

    fn bysource_unlink(&mut self, id: u32) {
        let c = self.slots[id as usize].as_ref().expect("live");
        let b = self.src_bucket(&c.tuple[0], c.zone);
        let after = c.src_next;
        if self.src_heads[b] == id {
            self.src_heads[b] = after;
            return;
        }
        let mut cur = self.src_heads[b];
        while cur != NONE {
            let next = self.slots[cur as usize].as_ref().expect("chained").src_next;
            if next == id {
                self.slots[cur as usize].as_mut().expect("chained").src_next = after;
                return;
            }
            cur = next;
        }
    }

    /// The entries whose original source (address, port, protocol) and zone equal `t`'s,
    /// newest first (`find_appropriate_src`'s walk); stops when `f` returns true.
    pub(crate) fn for_each_same_src(
        &self,
        t: &Tuple,
        zone: Zone,
        mut f: impl FnMut(&Conn) -> bool,
    ) {
        let mut cur = self.src_heads[self.src_bucket(t, zone)];
        while cur != NONE {
            let c = self.slots[cur as usize].as_ref().expect("chained");
            let o = &c.tuple[0];
            if o.proto == t.proto
                && o.src == t.src
                && o.sport == t.sport
                && c.zone.id_in(Dir::Original) == zone.id_in(Dir::Original)
                && f(c)
            {
                return;
            }
            cur = c.src_next;
        }
    }

    /// `nf_nat_used_tuple_harder`, for the last tries of a NAT port search: like
    /// [`Conntrack::tuple_taken`], except that a new TCP connection (`new`, in SYN_SENT) may
    /// take the tuple of a source-NATed connection in TIME_WAIT or later whose sequence
    /// numbers it has passed; that connection is killed. True while `reply` stays taken.
    pub(crate) fn tuple_taken_evicting(
        &mut self,
        reply: &Tuple,
        zone: Zone,
        new: u32,
        now: u64,
    ) -> bool {
        let new_end = match self.get(new).map(|c| &c.l4) {
            Some(L4::Tcp(t)) if reply.proto == proto::TCP && t.state == tcp::TcpState::SynSent => {
                t.seen[0].td_end
            }
            _ => return self.tuple_taken(reply, zone, now),
        };
        let Some((id, dir)) = self.find(reply, zone, now) else {
            return false;
        };
        if dir == Dir::Original {
            return true;
        }
        let c = self.slots[id as usize].as_ref().expect("found");
        let L4::Tcp(old) = &c.l4 else { return true };
        let may_kill = old.state as u8 >= tcp::TcpState::TimeWait as u8
            && c.status & status::DYING == 0
            && c.status & status::SRC_NAT != 0;
        if !may_kill || new_end.wrapping_sub(old.seen[0].td_end) as i32 <= 0 {
            return true;
        }
        self.kill(id);
        false
    }

    /// `nf_conntrack_tuple_taken`: does a confirmed, live entry other than unconfirmed ones
    /// have tuple `t` in either direction?
    pub fn tuple_taken(&mut self, t: &Tuple, zone: Zone, now: u64) -> bool {
        self.find_hashed(t, zone, Dir::Reply, now).is_some()
    }

    /// `nf_conntrack_alter_reply`: NAT chose the reply tuple of an unconfirmed entry.
    pub(crate) fn set_reply(&mut self, id: u32, reply: Tuple) {
        if let Some(c) = self.get_mut(id) {
            if !c.confirmed() {
                c.tuple[1] = reply;
            }
        }
    }

    /// A random 16-bit number from the table's seeded generator (`get_random_u16`).
    pub(crate) fn random_u16(&mut self) -> u16 {
        self.rng.u16(..)
    }

    /// `nf_ct_kill` for a packet's entry (NAT: the masquerading interface changed).
    pub fn kill_entry(&mut self, id: u32) {
        self.kill(id);
    }

    /// `early_drop`: evict non-assured confirmed entries from the buckets the new tuple
    /// hashes near. True if anything was evicted.
    fn early_drop(&mut self, raw: u32, now: u64) -> bool {
        for i in 0..EVICTION_RANGE {
            let b = self.bucket(raw.wrapping_add(i));
            let mut victims = Vec::new();
            let mut cur = self.heads[b];
            while cur != NONE {
                let (id, d) = (cur >> 1, (cur & 1) as usize);
                let c = self.slots[id as usize].as_ref().expect("chained");
                if self.expired(c, now) || c.status & (status::ASSURED | status::DYING) == 0 {
                    victims.push(id);
                }
                cur = c.next[d];
            }
            victims.sort_unstable();
            victims.dedup();
            if !victims.is_empty() {
                let n = victims.len() as u64;
                for id in victims {
                    self.remove(id);
                }
                self.stats.early_drop += n;
                return true;
            }
        }
        false
    }

    fn alloc(
        &mut self,
        orig: Tuple,
        reply: Tuple,
        zone: Zone,
        l4: L4,
        now: u64,
    ) -> Result<u32, ()> {
        self.count += 1;
        if self.cfg.max != 0 && self.count > self.cfg.max {
            let raw = self.hash(&orig, zone.id_in(Dir::Original));
            if !self.early_drop(raw, now) {
                self.count -= 1;
                self.stats.drop += 1;
                if self.log.allow(now / 1_000_000) {
                    tracing::warn!("nf_conntrack: table full, dropping packet");
                }
                return Err(());
            }
        }
        let conn = Conn {
            tuple: [orig, reply],
            status: 0,
            expires: 0,
            mark: 0,
            zone,
            l4,
            next: [NONE; 2],
            queued: 0,
            masq_index: 0,
            src_next: NONE,
        };
        let id = match self.free.pop() {
            Some(id) => {
                self.slots[id as usize] = Some(conn);
                id
            }
            None => {
                self.slots.push(Some(conn));
                (self.slots.len() - 1) as u32
            }
        };
        self.pending.push(id);
        Ok(id)
    }

    fn refresh(&mut self, id: u32, secs: u64, now: u64) {
        let c = self.slots[id as usize].as_mut().expect("live");
        c.expires = if c.status & status::CONFIRMED != 0 {
            now + secs * NS
        } else {
            secs * NS
        };
    }

    /// The conntrack-in hook (`nf_conntrack_in`) at PREROUTING (`prerouting` true: layer-4
    /// checksums are verified there) or OUTPUT. Sets `pkt.meta.ct`.
    pub fn conntrack_in(&mut self, pkt: &mut PacketBuf, prerouting: bool, now: u64) -> InVerdict {
        if let Some(r) = pkt.meta.ct {
            // Seen already (or exempted with NOTRACK): leave it.
            if r.info == CtInfo::Untracked || self.get(r.id).is_some() {
                return InVerdict::Accept;
            }
            pkt.meta.ct = None;
        }
        // The template gives the zone, and is dropped for the real entry (or for none).
        let zone = pkt.meta.ct_zone();
        pkt.meta.ct_tmpl = None;
        self.incremental_gc(now, 4);
        let ip = Ipv4Packet::new_unchecked(pkt.data());
        if ip.frag_offset() != 0 {
            // Non-first fragments carry no layer-4 header (reassembly comes first in the
            // kernel): no connection.
            self.stats.invalid += 1;
            return InVerdict::Accept;
        }
        let (src, dst, p) = (ip.src_addr(), ip.dst_addr(), ip.protocol());
        let l4 = ip.payload();
        let check = prerouting && self.cfg.checksum;
        if p == proto::ICMP {
            match self.icmp_error(src, dst, l4, check, zone, now) {
                IcmpClass::Invalid => {
                    self.stats.invalid += 1;
                    return InVerdict::Accept;
                }
                IcmpClass::Related(r) => {
                    pkt.meta.ct = Some(r);
                    return InVerdict::Accept;
                }
                IcmpClass::Query => {}
            }
        }
        if p == proto::UDP && !udp_valid(src, dst, l4, check) {
            self.stats.invalid += 1;
            return InVerdict::Accept;
        }
        let Some(t) = Tuple::from_packet(src, dst, p, l4) else {
            self.stats.invalid += 1;
            return InVerdict::Accept;
        };
        let mut reopened = false;
        loop {
            let (id, dir) = match self.find(&t, zone, now) {
                Some(hit) => hit,
                None => {
                    let Some(reply) = t.invert() else {
                        self.stats.invalid += 1;
                        return InVerdict::Accept;
                    };
                    let l4s = match p {
                        proto::UDP => L4::Udp {
                            stream_after: now + 2 * NS,
                        },
                        proto::ICMP => L4::Icmp,
                        proto::TCP => L4::Tcp(tcp::TcpConn::default()),
                        GRE => L4::Gre,
                        _ => L4::Generic,
                    };
                    match self.alloc(t, reply, zone, l4s, now) {
                        Ok(id) => (id, Dir::Original),
                        Err(()) => return InVerdict::TableFull,
                    }
                }
            };
            let c = self.slots[id as usize].as_ref().expect("live");
            let before = watch_state(c);
            let info = if dir == Dir::Reply {
                CtInfo::EstablishedReply
            } else if c.status & status::SEEN_REPLY != 0 {
                CtInfo::Established
            } else if c.status & status::EXPECTED != 0 {
                CtInfo::Related
            } else {
                CtInfo::New
            };
            // The protocol's packet handler.
            let ok = match c.l4 {
                L4::Generic => {
                    let t = self.cfg.generic_timeout;
                    self.refresh(id, t, now);
                    true
                }
                L4::Gre => {
                    if c.status & status::SEEN_REPLY != 0 {
                        let t = self.cfg.gre_stream_timeout;
                        self.refresh(id, t, now);
                        self.slots[id as usize].as_mut().expect("live").status |= status::ASSURED;
                    } else {
                        let t = self.cfg.gre_timeout;
                        self.refresh(id, t, now);
                    }
                    true
                }
                L4::Icmp => {
                    let ty = (t.dport >> 8) as u8;
                    if !c.confirmed() && !matches!(ty, 8 | 13 | 15 | 17) {
                        false
                    } else {
                        let to = self.cfg.icmp_timeout;
                        self.refresh(id, to, now);
                        true
                    }
                }
                L4::Udp { stream_after } => {
                    let seen_reply = c.status & status::SEEN_REPLY != 0;
                    let assured = c.status & status::ASSURED != 0;
                    if seen_reply {
                        let stream = now > stream_after;
                        let to = if stream {
                            self.cfg.udp_stream_timeout
                        } else {
                            self.cfg.udp_timeout
                        };
                        self.refresh(id, to, now);
                        if stream && !assured {
                            self.slots[id as usize].as_mut().expect("live").status |=
                                status::ASSURED;
                        }
                    } else {
                        let to = self.cfg.udp_timeout;
                        self.refresh(id, to, now);
                    }
                    true
                }
                L4::Tcp(mut tc) => {
                    let ctx = tcp::TcpCtx {
                        dir,
                        confirmed: c.confirmed(),
                        seen_reply: c.status & status::SEEN_REPLY != 0,
                        assured: c.status & status::ASSURED != 0,
                        expires_in_ms: if c.confirmed() {
                            c.expires.saturating_sub(now) / 1_000_000
                        } else {
                            c.expires / 1_000_000
                        },
                        verify_checksum: check,
                        src: src.octets(),
                        dst: dst.octets(),
                    };
                    let verdict = tc.packet(l4, &ctx, &self.cfg.tcp);
                    let cm = self.slots[id as usize].as_mut().expect("live");
                    match verdict {
                        tcp::TcpVerdict::Accept {
                            timeout_secs,
                            assured_now,
                            ..
                        } => {
                            cm.l4 = L4::Tcp(tc);
                            if assured_now {
                                cm.status |= status::ASSURED;
                            }
                            if let Some(secs) = timeout_secs {
                                self.refresh(id, u64::from(secs), now);
                            }
                            true
                        }
                        tcp::TcpVerdict::Ignore { .. } => {
                            cm.l4 = L4::Tcp(tc);
                            true
                        }
                        tcp::TcpVerdict::Kill => {
                            cm.l4 = L4::Tcp(tc);
                            if info == CtInfo::EstablishedReply {
                                cm.status |= status::SEEN_REPLY;
                            }
                            self.kill(id);
                            pkt.meta.ct = Some(CtRef { id, info });
                            return InVerdict::Accept;
                        }
                        tcp::TcpVerdict::Invalid {
                            lower_timeout_secs, ..
                        } => {
                            cm.l4 = L4::Tcp(tc);
                            if let Some(secs) = lower_timeout_secs {
                                if cm.confirmed() {
                                    cm.expires = cm.expires.min(now + u64::from(secs) * NS);
                                }
                            }
                            false
                        }
                        tcp::TcpVerdict::Reopen if !reopened => {
                            self.kill(id);
                            reopened = true;
                            continue;
                        }
                        tcp::TcpVerdict::Reopen => false,
                    }
                }
            };
            if !ok {
                // Invalid for its protocol: a fresh entry is discarded with the packet's
                // reference.
                if !self.slots[id as usize].as_ref().expect("live").confirmed() {
                    self.pending.retain(|&x| x != id);
                    self.remove(id);
                }
                self.stats.invalid += 1;
                return InVerdict::Accept;
            }
            if info == CtInfo::EstablishedReply {
                self.slots[id as usize].as_mut().expect("live").status |= status::SEEN_REPLY;
            }
            let c = self.slots[id as usize].as_ref().expect("live");
            if c.confirmed() && watch_state(c) != before {
                self.event(EventKind::Update, id, Some(now));
            }
            pkt.meta.ct = Some(CtRef { id, info });
            return InVerdict::Accept;
        }
    }

    /// ICMP: errors that quote a tracked connection are RELATED to it; queries go on to the
    /// normal lookup; anything else is invalid (`icmp_error` / `nf_conntrack_inet_error`).
    fn icmp_error(
        &mut self,
        src: std::net::Ipv4Addr,
        dst: std::net::Ipv4Addr,
        l4: &[u8],
        check: bool,
        zone: Zone,
        now: u64,
    ) -> IcmpClass {
        let _ = src;
        if l4.len() < icmp::HEADER_LEN {
            return IcmpClass::Invalid;
        }
        if check && !checksum::nf_payload_ok(l4) {
            return IcmpClass::Invalid;
        }
        let ty = l4[0];
        if ty > icmp::types::NR_ICMP_TYPES {
            return IcmpClass::Invalid;
        }
        if !icmp::is_error(ty) {
            return IcmpClass::Query;
        }
        // The quoted packet: its tuple, inverted, names the connection.
        let inner = &l4[icmp::HEADER_LEN..];
        let Ok(iip) = Ipv4Packet::new_checked(inner) else {
            return IcmpClass::Invalid;
        };
        if iip.frag_offset() != 0 {
            return IcmpClass::Invalid;
        }
        let Some(orig) = Tuple::from_packet(
            iip.src_addr(),
            iip.dst_addr(),
            iip.protocol(),
            iip.payload(),
        ) else {
            return IcmpClass::Invalid;
        };
        let Some(want) = orig.invert() else {
            return IcmpClass::Invalid;
        };
        // In the packet's own zone (`nf_ct_zone_tmpl`): an error given another zone by
        // `CT --zone` finds no connection there.
        let Some((id, dir)) = self.find(&want, zone, now) else {
            return IcmpClass::Invalid;
        };
        let c = self.slots[id as usize].as_ref().expect("live");
        if c.tuple[dir as usize].dst != dst {
            return IcmpClass::Invalid;
        }
        let info = if dir == Dir::Reply {
            CtInfo::RelatedReply
        } else {
            CtInfo::Related
        };
        IcmpClass::Related(CtRef { id, info })
    }

    /// The confirm hook (`nf_confirm`): a packet carrying a new entry has passed the last
    /// hook; the entry joins the table. False when it clashed with an existing entry (the
    /// packet is then dropped, as `nf_ct_resolve_clash` does for most protocols).
    pub fn confirm(&mut self, pkt: &mut PacketBuf, now: u64) -> bool {
        let Some(r) = pkt.meta.ct else { return true };
        if r.info == CtInfo::Untracked || r.info.is_reply() {
            return true;
        }
        let Some(c) = self.get(r.id) else { return true };
        if c.confirmed() {
            return true;
        }
        let (t0, t1, zone) = (c.tuple[0], c.tuple[1], c.zone);
        if self.find_hashed(&t0, zone, Dir::Original, now).is_some()
            || self.find_hashed(&t1, zone, Dir::Reply, now).is_some()
        {
            self.stats.insert_failed += 1;
            self.pending.retain(|&x| x != r.id);
            self.remove(r.id);
            pkt.meta.ct = None;
            return false;
        }
        let c = self.slots[r.id as usize].as_mut().expect("live");
        c.expires += now;
        c.status |= status::CONFIRMED;
        self.link(r.id);
        self.pending.retain(|&x| x != r.id);
        self.stats.insert += 1;
        self.event(EventKind::New, r.id, Some(now));
        true
    }

    /// A packet holding an unconfirmed entry went into a QUEUE (or came back out of it).
    pub fn hold(&mut self, r: Option<CtRef>, held: bool) {
        if let Some(c) = r.and_then(|r| self.get_mut(r.id)) {
            if !c.confirmed() {
                c.queued = if held {
                    c.queued + 1
                } else {
                    c.queued.saturating_sub(1)
                };
            }
        }
    }

    /// The packet being processed is gone (sent, delivered, dropped): entries it created
    /// and did not confirm are freed — conntrack "turns a blind eye to dropped SYNs".
    pub fn release_pending(&mut self) {
        let pend = std::mem::take(&mut self.pending);
        for id in &pend {
            if let Some(c) = self.get(*id) {
                if !c.confirmed() && c.queued == 0 {
                    self.remove(*id);
                }
            }
        }
        self.pending = pend;
        self.pending.clear();
        while let Some(id) = self.dying.pop() {
            if self.get(id).is_some_and(|c| c.queued == 0) {
                self.remove(id);
            }
        }
    }

    /// Remove up to `budget` expired entries, continuing where the last call stopped, so
    /// that collection never stalls the datapath.
    pub fn incremental_gc(&mut self, now: u64, budget: usize) {
        let n = self.slots.len();
        if n == 0 {
            return;
        }
        for _ in 0..budget.min(n) {
            self.gc_cursor = (self.gc_cursor + 1) % n;
            let id = self.gc_cursor as u32;
            if self.get(id).is_some_and(|c| self.expired(c, now)) {
                self.remove(id);
            }
        }
    }

    /// `conntrack -F`: remove every confirmed entry. Returns how many.
    pub fn flush(&mut self) -> usize {
        self.delete_matching(&CtFilter::default())
    }

    /// The masquerade notifier (`masq_device_event`): remove the flows masqueraded out of
    /// interface `ifindex`. Returns how many.
    pub fn delete_masquerading(&mut self, ifindex: u32) -> usize {
        self.delete_where(|c| c.masq_index == ifindex)
    }

    /// `conntrack -D` with filters: remove the confirmed entries that match. Returns how
    /// many.
    pub fn delete_matching(&mut self, f: &CtFilter) -> usize {
        self.delete_where(|c| f.matches(c))
    }

    /// Remove the confirmed entries for which `pred` holds. Returns how many.
    fn delete_where(&mut self, pred: impl Fn(&Conn) -> bool) -> usize {
        let ids: Vec<u32> = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let c = c.as_ref()?;
                (c.confirmed() && pred(c)).then_some(i as u32)
            })
            .collect();
        for &id in &ids {
            self.remove(id);
        }
        ids.len()
    }

    /// `conntrack -L` at time `now` (remaining timeouts in whole seconds), one line per
    /// confirmed, unexpired entry.
    pub fn listing(&self, now: u64) -> String {
        self.listing_filtered(now, &CtFilter::default())
    }

    /// `conntrack -L` with filters.
    pub fn listing_filtered(&self, now: u64, f: &CtFilter) -> String {
        let mut out = String::new();
        for c in self.slots.iter().flatten() {
            if !c.confirmed() || self.expired(c, now) || !f.matches(c) {
                continue;
            }
            out.push_str(&self.describe(c, Some(now), true));
            out.push('\n');
        }
        out
    }

    /// One entry as `conntrack` prints it: with the remaining timeout when `now` is given,
    /// and for a listing (`-L`) the mark, zone and use count, which events (`-E`) leave out.
    fn describe(&self, c: &Conn, now: Option<u64>, listing: bool) -> String {
        let mut out = String::new();
        {
            let t = &c.tuple[0];
            let name = match t.proto {
                proto::TCP => "tcp",
                proto::UDP => "udp",
                proto::ICMP => "icmp",
                GRE => "gre",
                _ => "unknown",
            };
            let _ = write!(out, "{name:<8} {} ", t.proto);
            if let Some(now) = now {
                let _ = write!(out, "{} ", c.expires_secs(now));
            }
            if let L4::Tcp(tc) = &c.l4 {
                let _ = write!(out, "{} ", tc.state);
            }
            let _ = write!(out, "{} ", c.tuple[0]);
            // A one-direction zone is part of that direction's tuple (CTA_TUPLE_ZONE).
            if c.zone.dir == ZoneDir::Orig && c.zone.id != 0 {
                let _ = write!(out, "zone-orig={} ", c.zone.id);
            }
            if c.status & status::SEEN_REPLY == 0 {
                out.push_str("[UNREPLIED] ");
            }
            let _ = write!(out, "{}", c.tuple[1]);
            if c.zone.dir == ZoneDir::Reply && c.zone.id != 0 {
                let _ = write!(out, " zone-reply={}", c.zone.id);
            }
            if c.status & status::ASSURED != 0 {
                out.push_str(" [ASSURED]");
            }
            if listing {
                let _ = write!(out, " mark={}", c.mark);
                if c.zone.dir == ZoneDir::Both && c.zone.id != 0 {
                    let _ = write!(out, " zone={}", c.zone.id);
                }
                out.push_str(" use=1");
            }
        }
        out
    }
}

/// Which entries `conntrack -L`/`-D` select (`-p`, `-s`, `-d`, `--sport`, `--dport` on the
/// original direction; `-r`, `-q` the reply's source and destination; `-m` the mark).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CtFilter {
    /// Protocol number.
    pub proto: Option<u8>,
    /// Original source.
    pub src: Option<std::net::Ipv4Addr>,
    /// Original destination.
    pub dst: Option<std::net::Ipv4Addr>,
    /// Original source port.
    pub sport: Option<u16>,
    /// Original destination port.
    pub dport: Option<u16>,
    /// Reply source.
    pub reply_src: Option<std::net::Ipv4Addr>,
    /// Reply destination.
    pub reply_dst: Option<std::net::Ipv4Addr>,
    /// Connection mark.
    pub mark: Option<u32>,
}

impl CtFilter {
    /// Does entry `c` match?
    pub fn matches(&self, c: &Conn) -> bool {
        let (o, r) = (&c.tuple[0], &c.tuple[1]);
        self.proto.is_none_or(|p| p == o.proto)
            && self.src.is_none_or(|a| a == o.src)
            && self.dst.is_none_or(|a| a == o.dst)
            && self
                .sport
                .is_none_or(|p| tuple::has_ports(o.proto) && p == o.sport)
            && self
                .dport
                .is_none_or(|p| tuple::has_ports(o.proto) && p == o.dport)
            && self.reply_src.is_none_or(|a| a == r.src)
            && self.reply_dst.is_none_or(|a| a == r.dst)
            && self.mark.is_none_or(|m| m == c.mark)
    }
}

/// What an UPDATE event reports a change of: reply seen, assured, the TCP state.
fn watch_state(c: &Conn) -> (u32, Option<tcp::TcpState>) {
    let st = c.status & (status::SEEN_REPLY | status::ASSURED);
    let tcp = match &c.l4 {
        L4::Tcp(t) => Some(t.state),
        _ => None,
    };
    (st, tcp)
}

enum IcmpClass {
    Invalid,
    Query,
    Related(CtRef),
}

/// `udp_error`: header present, length field within the packet, checksum when checked.
fn udp_valid(src: std::net::Ipv4Addr, dst: std::net::Ipv4Addr, l4: &[u8], check: bool) -> bool {
    let Ok(u) = crate::wire::udp::UdpPacket::new_checked(l4) else {
        return false;
    };
    !check || u.verify_checksum_v4(src.octets(), dst.octets())
}

/// Compare two `conntrack -L` listings ignoring order and the timeout column (which depends
/// on when each was taken). Returns the lines only in `a` and only in `b`.
pub fn diff_listings(a: &str, b: &str) -> (Vec<String>, Vec<String>) {
    let norm = |s: &str| -> Vec<String> {
        let mut v: Vec<String> = s
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with("conntrack v"))
            .map(|l| {
                let mut w: Vec<&str> = l.split_whitespace().collect();
                if w.len() > 2 {
                    w[2] = "*";
                }
                w.join(" ")
            })
            .collect();
        v.sort();
        v
    };
    let (x, y) = (norm(a), norm(b));
    let only_a = x.iter().filter(|l| !y.contains(l)).cloned().collect();
    let only_b = y.iter().filter(|l| !x.contains(l)).cloned().collect();
    (only_a, only_b)
}

use crate::netfilter::hooks::{
    priority, DropReason, Family, Hook, HookCtx, HookFn, HookState, Registry, Verdict,
};

/// `ipv4_conntrack_in` / `ipv4_conntrack_local`.
struct CtInHook;

impl HookFn for CtInHook {
    fn call(&mut self, pkt: &mut PacketBuf, st: &HookState, cx: &mut HookCtx<'_>) -> Verdict {
        match cx
            .conntrack
            .conntrack_in(pkt, st.hook == Hook::PreRouting, st.now)
        {
            InVerdict::Accept => Verdict::Accept,
            InVerdict::TableFull => {
                cx.effects.drop_reason = Some(DropReason::ConntrackTableFull);
                Verdict::Drop
            }
        }
    }
}

/// `ipv4_confirm`.
struct CtConfirmHook;

impl HookFn for CtConfirmHook {
    fn call(&mut self, pkt: &mut PacketBuf, st: &HookState, cx: &mut HookCtx<'_>) -> Verdict {
        if cx.conntrack.confirm(pkt, st.now) {
            Verdict::Accept
        } else {
            cx.effects.drop_reason = Some(DropReason::ConntrackInsertFailed);
            Verdict::Drop
        }
    }
}

/// Register conntrack at its hooks, as `nf_ct_netns_get` does when something first needs
/// it: conntrack-in at PREROUTING and OUTPUT (priority -200), confirm at INPUT and
/// POSTROUTING (priority INT_MAX). Idempotent.
pub fn register(reg: &mut Registry) {
    crate::defrag::register(reg);
    if reg
        .entries(Family::Ipv4, Hook::PreRouting)
        .iter()
        .any(|e| e.name == "nf_conntrack_in")
    {
        return;
    }
    reg.register(
        Family::Ipv4,
        Hook::PreRouting,
        priority::CONNTRACK,
        "nf_conntrack_in",
        Box::new(CtInHook),
    );
    reg.register(
        Family::Ipv4,
        Hook::LocalOut,
        priority::CONNTRACK,
        "nf_conntrack_local",
        Box::new(CtInHook),
    );
    reg.register(
        Family::Ipv4,
        Hook::LocalIn,
        priority::CONNTRACK_CONFIRM,
        "nf_confirm",
        Box::new(CtConfirmHook),
    );
    reg.register(
        Family::Ipv4,
        Hook::PostRouting,
        priority::CONNTRACK_CONFIRM,
        "nf_confirm",
        Box::new(CtConfirmHook),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn cfg(max: usize) -> CtConfig {
        CtConfig {
            max,
            buckets: 1024,
            checksum: true,
            udp_timeout: 30,
            udp_stream_timeout: 120,
            icmp_timeout: 30,
            generic_timeout: 600,
            tcp: tcp::TcpConfig::default(),
            gre_timeout: 30,
            gre_stream_timeout: 180,
        }
    }

    fn udp(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> PacketBuf {
        let mut v = vec![0u8; 28];
        v[0] = 0x45;
        v[2..4].copy_from_slice(&28u16.to_be_bytes());
        v[8] = 64;
        v[9] = 17;
        v[12..16].copy_from_slice(&src);
        v[16..20].copy_from_slice(&dst);
        v[20..22].copy_from_slice(&sport.to_be_bytes());
        v[22..24].copy_from_slice(&dport.to_be_bytes());
        v[24..26].copy_from_slice(&8u16.to_be_bytes());
        let mut p = PacketBuf::with_capacity(100);
        p.load(&v);
        p
    }

    const A: [u8; 4] = [10, 0, 0, 2];
    const B: [u8; 4] = [192, 0, 2, 1];

    #[test]
    fn udp_flow_new_confirm_reply() {
        let mut ct = Conntrack::new(cfg(0), 1);
        let mut p = udp(A, B, 40000, 53);
        assert_eq!(ct.conntrack_in(&mut p, true, 1_000 * NS), InVerdict::Accept);
        assert_eq!(p.meta.ct.unwrap().info, CtInfo::New);
        // Not confirmed yet: invisible.
        assert_eq!(ct.listing(1_000 * NS), "");
        assert!(ct.confirm(&mut p, 1_000 * NS));
        ct.release_pending();
        assert_eq!(
            ct.listing(1_001 * NS),
            "udp      17 29 src=10.0.0.2 dst=192.0.2.1 sport=40000 dport=53 [UNREPLIED] src=192.0.2.1 dst=10.0.0.2 sport=53 dport=40000 mark=0 use=1\n"
        );
        let mut r = udp(B, A, 53, 40000);
        ct.conntrack_in(&mut r, true, 1_002 * NS);
        assert_eq!(r.meta.ct.unwrap().info, CtInfo::EstablishedReply);
        let l = ct.listing(1_002 * NS);
        assert!(!l.contains("UNREPLIED") && !l.contains("ASSURED"), "{l}");
        // After two seconds both ways, it is a stream: assured, 120 s.
        let mut q = udp(A, B, 40000, 53);
        ct.conntrack_in(&mut q, true, 1_005 * NS);
        assert_eq!(q.meta.ct.unwrap().info, CtInfo::Established);
        assert!(
            ct.listing(1_005 * NS).starts_with("udp      17 120 ")
                && ct.listing(1_005 * NS).contains("[ASSURED]")
        );
        // Expiry on the packet clock.
        assert_eq!(ct.listing(1_200 * NS), "");
    }

    #[test]
    fn dropped_before_confirm_leaves_nothing() {
        let mut ct = Conntrack::new(cfg(0), 1);
        let mut p = udp(A, B, 40000, 53);
        ct.conntrack_in(&mut p, true, NS);
        ct.release_pending();
        assert_eq!(ct.count(), 0);
        assert_eq!(ct.listing(NS), "");
    }

    #[test]
    fn table_full_drops_new_flows_when_nothing_can_be_evicted() {
        let mut ct = Conntrack::new(cfg(3), 1);
        let mut full = 0;
        for port in 0..10u16 {
            let mut p = udp(A, B, 10000 + port, 53);
            match ct.conntrack_in(&mut p, true, NS) {
                InVerdict::Accept => {
                    ct.confirm(&mut p, NS);
                    // Assured entries cannot be early-dropped.
                    let id = p.meta.ct.unwrap().id;
                    ct.get_mut(id).unwrap().status |= status::ASSURED;
                }
                InVerdict::TableFull => full += 1,
            }
            ct.release_pending();
        }
        assert_eq!((ct.count(), full, ct.stats.drop), (3, 7, 7));
    }

    #[test]
    fn icmp_error_is_related() {
        let mut ct = Conntrack::new(cfg(0), 1);
        let mut p = udp(A, B, 40000, 53);
        ct.conntrack_in(&mut p, true, NS);
        ct.confirm(&mut p, NS);
        ct.release_pending();
        // B answers with port unreachable quoting the datagram.
        let mut v = vec![0u8; 20 + 8 + 28];
        v[0] = 0x45;
        let total = v.len() as u16;
        v[2..4].copy_from_slice(&total.to_be_bytes());
        v[8] = 64;
        v[9] = 1;
        v[12..16].copy_from_slice(&B);
        v[16..20].copy_from_slice(&A);
        v[20] = 3;
        v[21] = 3;
        v[28..].copy_from_slice(udp(A, B, 40000, 53).data());
        let c = checksum::checksum(&v[20..]);
        v[22..24].copy_from_slice(&c.to_be_bytes());
        let mut e = PacketBuf::with_capacity(100);
        e.load(&v);
        ct.conntrack_in(&mut e, true, 2 * NS);
        assert_eq!(e.meta.ct.unwrap().info, CtInfo::RelatedReply);
        // The same error aimed at another host is not related.
        v[16..20].copy_from_slice(&Ipv4Addr::new(10, 0, 0, 9).octets());
        e.load(&v);
        ct.conntrack_in(&mut e, true, 2 * NS);
        assert!(e.meta.ct.is_none());
    }

    #[test]
    fn listings_compare_without_order_or_timeouts() {
        let a = "udp      17 20 src=1 x\nicmp     1 3 y\n";
        let b = "icmp     1 29 y\nudp      17 2 src=1 x\n";
        assert_eq!(diff_listings(a, b), (vec![], vec![]));
        assert_eq!(diff_listings(a, "").0.len(), 2);
    }
}

#[cfg(test)]
mod memory {
    use super::*;

    /// Bytes the table uses per tracked flow, measured on a million UDP flows.
    #[test]
    fn a_million_flows_fit_in_well_under_the_kernels_memory_per_flow() {
        let cfg = CtConfig {
            max: 0,
            buckets: 262_144,
            checksum: false,
            udp_timeout: 30,
            udp_stream_timeout: 120,
            icmp_timeout: 30,
            generic_timeout: 600,
            tcp: tcp::TcpConfig::default(),
            gre_timeout: 30,
            gre_stream_timeout: 180,
        };
        let mut ct = Conntrack::new(cfg, 7);
        let n = 1_000_000u32;
        for i in 0..n {
            let t = Tuple {
                src: std::net::Ipv4Addr::from(0x0a00_0000 | (i >> 8)),
                dst: std::net::Ipv4Addr::new(192, 0, 2, 1),
                proto: 17,
                sport: 1024 + (i & 0xff) as u16,
                dport: 53,
            };
            let id = ct
                .alloc(
                    t,
                    t.invert().unwrap(),
                    Zone::DEFAULT,
                    L4::Udp { stream_after: 0 },
                    1,
                )
                .unwrap();
            let c = ct.get_mut(id).unwrap();
            c.expires = 30 * NS;
            c.status |= status::CONFIRMED;
            ct.link(id);
        }
        ct.pending.clear();
        assert_eq!(ct.count(), n as usize);
        let bytes = ct.slots.capacity() * std::mem::size_of::<Option<Conn>>()
            + ct.heads.len() * 4
            + ct.src_heads.len() * 4;
        let per_flow = bytes as f64 / f64::from(n);
        eprintln!(
            "conntrack: {} bytes per entry, {per_flow:.0} bytes per flow at 1M flows",
            std::mem::size_of::<Option<Conn>>()
        );
        // The kernel's nf_conn sits in a 320-byte slab object, plus its hash buckets.
        assert!(per_flow < 200.0, "{per_flow}");
        // Lookups still find flows in both directions.
        let t = Tuple {
            src: std::net::Ipv4Addr::from(0x0a00_0000 | (4242 >> 8)),
            dst: std::net::Ipv4Addr::new(192, 0, 2, 1),
            proto: 17,
            sport: 1024 + (4242 & 0xff) as u16,
            dport: 53,
        };
        assert_eq!(
            ct.find(&t, Zone::DEFAULT, 2).map(|x| x.1),
            Some(Dir::Original)
        );
        assert_eq!(
            ct.find(&t.invert().unwrap(), Zone::DEFAULT, 2).map(|x| x.1),
            Some(Dir::Reply)
        );
    }
}

#[cfg(test)]
mod after_confirm {
    use crate::config::Config;
    use crate::netfilter::hooks::{priority, Family, Hook, HookState, Verdict};
    use crate::packet::{IfIndex, Meta, PacketBuf};
    use crate::pipeline::{Router, Sink};
    use std::path::Path;

    struct Null;
    impl Sink for Null {
        fn transmit(&mut self, _oif: IfIndex, _d: &[u8], _m: &Meta) {}
    }

    fn syn() -> PacketBuf {
        let mut p = vec![
            0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0, 198, 18, 0, 2, 192, 0, 2, 1,
        ];
        let mut t = vec![0u8; 20];
        t[0..2].copy_from_slice(&2570u16.to_be_bytes());
        t[2..4].copy_from_slice(&2570u16.to_be_bytes());
        t[12] = 0x50;
        t[13] = 0x02;
        t[14] = 0xff;
        let ps = crate::wire::checksum::pseudo_header_v4([198, 18, 0, 2], [192, 0, 2, 1], 6, 20);
        let c = crate::wire::checksum::finish(crate::wire::checksum::sum(ps, &t));
        t[16..18].copy_from_slice(&c.to_be_bytes());
        p.extend_from_slice(&t);
        let c = crate::wire::checksum::checksum(&p[..20]);
        p[10..12].copy_from_slice(&c.to_be_bytes());
        let mut b = PacketBuf::with_capacity(128);
        b.load(&p);
        b
    }

    /// Seed 002's nftables trick: a dropping callback at INT_MAX registered *before*
    /// conntrack runs after the confirm hook (equal priorities: the later registration runs
    /// first), so the dropped SYN leaves an entry; registered after conntrack, it runs
    /// before confirmation and leaves none.
    #[test]
    fn a_drop_after_confirm_leaves_the_entry() {
        for (before_conntrack, entries) in [(true, 1), (false, 0)] {
            let cfg = Config::parse(
                "[[interface]]\nname = \"tun0\"\naddresses = [\"192.0.2.1 peer 192.0.2.2\"]\n",
                Path::new("t.toml"),
            )
            .unwrap();
            let mut r = Router::new(cfg);
            let drop_all = |_: &mut PacketBuf, _: &HookState| Verdict::Drop;
            if before_conntrack {
                r.hooks.register(
                    Family::Ipv4,
                    Hook::LocalIn,
                    priority::CONNTRACK_CONFIRM,
                    "my_input",
                    Box::new(drop_all),
                );
                super::register(&mut r.hooks);
            } else {
                super::register(&mut r.hooks);
                r.hooks.register(
                    Family::Ipv4,
                    Hook::LocalIn,
                    priority::CONNTRACK_CONFIRM,
                    "my_input",
                    Box::new(drop_all),
                );
            }
            r.receive(IfIndex(2), &mut syn(), 1_000_000_000, &mut Null);
            assert_eq!(
                r.conntrack.count(),
                entries,
                "registered before conntrack: {before_conntrack}"
            );
        }
    }
}
