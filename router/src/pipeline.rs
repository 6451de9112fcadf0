//! The packet's walk through the router, IPv4 as the kernel does it:
//!
//! ```text
//! receive → validate (ip_rcv_core) → PREROUTING → route input (martians, FIB)
//!   local     → INPUT → the router as a host (echo, RST, port/protocol unreachable)
//!   forward   → TTL (time exceeded) → DF vs MTU (frag needed) → TTL-1 → redirect?
//!             → FORWARD → POSTROUTING → fragment to MTU → transmit
//! originated → OUTPUT → (re-route) → POSTROUTING → fragment → transmit
//! ```
//!
//! Each hook is followed by its continuation (the kernel's `okfn`), so a packet queued at any
//! callback can be reinjected and resume exactly there. The core is synchronous, reads no
//! clock (every entry point takes `now` in nanoseconds) and does not allocate per packet:
//! originated packets are built in buffers owned by the router and reused.

use crate::config::Config;
use crate::defrag::{Defrag, DefragConfig};
use crate::host::build::{self, IpFields};
use crate::host::ratelimit::{GlobalLimit, Peers};
use crate::netfilter::conntrack::{self, Conntrack, CtConfig};
use crate::netfilter::hooks::{
    DropReason, Effects, Family, Hook, HookCtx, HookState, Registry, Verdict,
};
use crate::netfilter::tables::ast::RejectWith;
use crate::netfilter::tables::eval::Tables;
use crate::packet::{CtInfo, CtRef, IfIndex, Meta, Origin, PacketBuf, RouteClass};
use crate::route::{Fib, RouteType};
use crate::wire::icmp::{self, types, unreach, IcmpPacket};
use crate::wire::ipv4::{self, Ipv4Packet};
use crate::wire::ipv4_options::{self, RouteKind, SrrError, SrrOutcome};
use crate::wire::tcp::{flags, TcpPacket};
use crate::wire::udp::UdpPacket;
use crate::wire::{proto, WireErrorKind};
use std::collections::{BTreeMap, VecDeque};
use std::net::Ipv4Addr;

/// How many times in a row a callback may answer REPEAT before the packet is dropped.
const REPEAT_LIMIT: u32 = 16;
/// Packets a queue holds before it drops (the kernel's default `queue_maxlen`).
const QUEUE_MAXLEN: usize = 1024;

/// Where the pipeline sends what it produces.
pub trait Sink {
    /// Transmit `data` on `oif`.
    fn transmit(&mut self, oif: IfIndex, data: &[u8], meta: &Meta);
    /// Is tracing wanted? (Tracing copies packets; it is off on the fast path.)
    fn trace_enabled(&self) -> bool {
        false
    }
    /// One trace event.
    fn trace(&mut self, _event: &TraceEvent<'_>) {}
}

/// One step of a packet's walk, for the per-packet trace.
#[derive(Debug, Clone)]
pub enum TraceEvent<'a> {
    /// A hook callback ran.
    Hook {
        /// Which packet of this input: 0 the input itself, 1.. packets originated for it.
        sub: u32,
        /// The hook.
        hook: Hook,
        /// The callback's priority.
        priority: i32,
        /// The callback's name.
        callback: &'a str,
        /// Its verdict.
        verdict: Verdict,
        /// Fields it changed.
        changed: &'a [&'static str],
    },
    /// The routing decision.
    Route {
        /// Which packet.
        sub: u32,
        /// local, broadcast, forward, output.
        decision: &'static str,
        /// Output interface.
        oif: Option<IfIndex>,
        /// Next hop.
        nexthop: Option<Ipv4Addr>,
    },
    /// The router originated a packet (an ICMP error, a reply, a reset).
    Originate {
        /// Its number.
        sub: u32,
        /// What it is.
        what: &'static str,
    },
    /// The packet was dropped.
    Drop {
        /// Which packet.
        sub: u32,
        /// Why.
        reason: DropReason,
    },
    /// A packet left on an interface.
    Transmit {
        /// Which packet.
        sub: u32,
        /// Interface.
        oif: IfIndex,
        /// Length.
        len: usize,
    },
}

/// A packet waiting in a queue for its consumer's verdict.
pub struct Queued {
    /// The packet (metadata included).
    pub pkt: PacketBuf,
    family: Family,
    hook: Hook,
    index: usize,
}

impl Queued {
    /// The hook at which it was queued.
    pub fn hook(&self) -> Hook {
        self.hook
    }
}

/// Queues for the QUEUE verdict. A queue exists while a consumer is bound to it; queueing to
/// an unbound queue drops, as the kernel does without `--queue-bypass`.
#[derive(Default)]
pub struct Queues {
    bound: BTreeMap<u16, VecDeque<Queued>>,
}

impl Queues {
    /// Bind a consumer to queue `n`.
    pub fn bind(&mut self, n: u16) {
        self.bound.entry(n).or_default();
    }
    /// Unbind queue `n`; packets still in it are returned (the caller decides their fate).
    pub fn unbind(&mut self, n: u16) -> Vec<Queued> {
        self.bound
            .remove(&n)
            .map(|q| q.into_iter().collect())
            .unwrap_or_default()
    }
    /// Take the next packet of queue `n`.
    pub fn pop(&mut self, n: u16) -> Option<Queued> {
        self.bound.get_mut(&n)?.pop_front()
    }
    /// Packets waiting in queue `n`.
    pub fn len(&self, n: u16) -> usize {
        self.bound.get(&n).map_or(0, |q| q.len())
    }
    /// Is queue `n` empty (or unbound)?
    pub fn is_empty(&self, n: u16) -> bool {
        self.len(n) == 0
    }
}

/// Per-interface counters.
#[derive(Debug, Clone, Copy, Default)]
pub struct IfStats {
    /// Packets received.
    pub rx_packets: u64,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Packets transmitted.
    pub tx_packets: u64,
    /// Bytes transmitted.
    pub tx_bytes: u64,
}

/// Datapath counters.
#[derive(Debug, Clone)]
pub struct Stats {
    /// Indexed by interface index.
    pub interfaces: Vec<IfStats>,
    /// Indexed by `DropReason as usize`.
    pub drops: [u64; DropReason::ALL.len()],
    /// Packets delivered to the router itself.
    pub delivered: u64,
    /// Packets forwarded.
    pub forwarded: u64,
    /// Packets the router originated.
    pub originated: u64,
}

impl Stats {
    fn new(n_if: usize) -> Self {
        Stats {
            interfaces: vec![IfStats::default(); n_if + 2],
            drops: [0; DropReason::ALL.len()],
            delivered: 0,
            forwarded: 0,
            originated: 0,
        }
    }
    /// Drops by reason, non-zero only.
    pub fn drop_counts(&self) -> Vec<(DropReason, u64)> {
        DropReason::ALL
            .iter()
            .map(|r| (*r, self.drops[*r as usize]))
            .filter(|(_, n)| *n > 0)
            .collect()
    }
}

/// Per-interface settings, combined from `conf.all` and `conf.IFACE` the way the kernel's
/// `IN_DEV_*` macros do, computed once (the datapath never looks sysctls up by name).
#[derive(Debug, Clone, Copy, Default)]
struct IfConf {
    /// `IN_DEV_FORWARD`: the interface's own value.
    forwarding: bool,
    /// `IN_DEV_RPFILTER`: the maximum of all and IFACE.
    rp_filter: i64,
    /// `IN_DEV_ACCEPT_LOCAL`: all || IFACE.
    accept_local: bool,
    /// `IN_DEV_NET_ROUTE_LOCALNET`: all || IFACE.
    route_localnet: bool,
    /// `IN_DEV_TX_REDIRECTS`: all || IFACE.
    send_redirects: bool,
    /// `IN_DEV_LOG_MARTIANS`: all || IFACE.
    log_martians: bool,
    /// `IN_DEV_SOURCE_ROUTE`: all && IFACE.
    accept_source_route: bool,
    /// `IN_DEV_BFORWARD`: all && IFACE.
    bc_forwarding: bool,
}

/// Global host settings used on the datapath.
#[derive(Debug, Clone, Copy)]
struct HostConf {
    default_ttl: u8,
    echo_ignore_all: bool,
    echo_ignore_broadcasts: bool,
    errors_use_inbound_ifaddr: bool,
    ratelimit_ms: u64,
    ratemask: i64,
    msgs_per_sec: i64,
    msgs_burst: i64,
}

/// The router: configuration, routing tables, hooks and host state.
pub struct Router {
    /// The configuration it was built from.
    pub config: Config,
    /// Routing tables.
    pub fib: Fib,
    /// Hook registry.
    pub hooks: Registry,
    /// QUEUE consumers.
    pub queues: Queues,
    /// Counters.
    pub stats: Stats,
    /// The connection table (hooked in only when something needs it).
    pub conntrack: Conntrack,
    /// IPv4 reassembly queues (conntrack's and local delivery's).
    pub defrag: Defrag,
    /// The iptables tables loaded from `[netfilter] rules`.
    pub tables: Tables,
    ifaces: Vec<(String, usize)>,
    effects: Effects,
    peers: Peers,
    ident: u16,
    /// Buffers for packets the router originates; a stack, because originating can nest
    /// (a REJECT in OUTPUT answering a reset the router itself made).
    scratch: Vec<PacketBuf>,
    frag: Option<PacketBuf>,
    /// Fragment sizes being sent (reused).
    frag_sizes: Vec<usize>,
    trace_before: Vec<u8>,
    changed: Vec<&'static str>,
    sub: u32,
    cur_sub: u32,
    ifconf: Vec<IfConf>,
    host: HostConf,
    log_limit: crate::netfilter::RateLimitedLog,
    global_limit: GlobalLimit,
    /// The kernel's per-namespace ICMP socket is locked (an ICMP message is going out).
    icmp_xmit_busy: bool,
}

/// Seed of the router's random generator unless one is set: replays are reproducible.
pub const DEFAULT_SEED: u64 = 0x5eed;

/// How deeply originated packets may nest.
const SCRATCH_DEPTH: usize = 4;

/// Largest IPv4 packet.
pub const MAX_PACKET: usize = 65535;

impl Router {
    /// What the interfaces' `conf` sysctls and the host-wide ones say, as the datapath uses
    /// them.
    fn derive(config: &Config) -> (Vec<IfConf>, HostConf) {
        let n = config.interfaces.len();
        let sc = &config.sysctl;
        let mut ifconf = vec![IfConf::default(); n + 2];
        let names = std::iter::once(("lo", IfIndex::LOOPBACK))
            .chain(config.interfaces.iter().map(|i| (i.name.as_str(), i.index)));
        for (name, idx) in names {
            let or = |k: &str| sc.conf("all", k) != 0 || sc.conf(name, k) != 0;
            ifconf[idx.0 as usize] = IfConf {
                forwarding: sc.conf(name, "forwarding") != 0,
                rp_filter: sc.conf("all", "rp_filter").max(sc.conf(name, "rp_filter")),
                accept_local: or("accept_local"),
                route_localnet: or("route_localnet"),
                send_redirects: or("send_redirects"),
                log_martians: or("log_martians"),
                accept_source_route: sc.conf("all", "accept_source_route") != 0
                    && sc.conf(name, "accept_source_route") != 0,
                bc_forwarding: sc.conf("all", "bc_forwarding") != 0
                    && sc.conf(name, "bc_forwarding") != 0,
            };
        }
        let host = HostConf {
            default_ttl: sc.get("net.ipv4.ip_default_ttl").clamp(1, 255) as u8,
            echo_ignore_all: sc.get("net.ipv4.icmp_echo_ignore_all") != 0,
            echo_ignore_broadcasts: sc.get("net.ipv4.icmp_echo_ignore_broadcasts") != 0,
            errors_use_inbound_ifaddr: sc.get("net.ipv4.icmp_errors_use_inbound_ifaddr") != 0,
            ratelimit_ms: sc.get("net.ipv4.icmp_ratelimit").max(0) as u64,
            ratemask: sc.get("net.ipv4.icmp_ratemask"),
            msgs_per_sec: sc.get("net.ipv4.icmp_msgs_per_sec"),
            msgs_burst: sc.get("net.ipv4.icmp_msgs_burst"),
        };
        (ifconf, host)
    }

    /// `sysctl -w NAME=VALUE` on the running router: the value takes effect for the next
    /// packet. The conntrack table's size (`nf_conntrack_buckets`) is fixed once it exists.
    /// Returns the canonical name and the effective value.
    pub fn set_sysctl(&mut self, name: &str, value: &str) -> Result<(String, String), String> {
        let names: Vec<String> = self
            .config
            .interfaces
            .iter()
            .map(|i| i.name.clone())
            .collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let (new, canonical) = self.config.sysctl.write_live(name, value, &refs)?;
        if canonical == "net.netfilter.nf_conntrack_buckets" {
            return Err(format!(
                "sysctl: setting key \"{canonical}\": Operation not permitted (the table is sized at start: set it in router.toml)"
            ));
        }
        if !canonical.starts_with("net.") {
            return Err(format!(
                "sysctl: setting key \"{canonical}\": not a networking setting; the router has none of the host's"
            ));
        }
        self.config.sysctl = new;
        let (ifconf, host) = Router::derive(&self.config);
        self.ifconf = ifconf;
        self.host = host;
        let buckets = self.conntrack.cfg.buckets;
        self.conntrack.cfg = CtConfig {
            buckets,
            ..CtConfig::from_sysctls(&self.config.sysctl)
        };
        self.defrag
            .set_config(DefragConfig::from_sysctls(&self.config.sysctl));
        tracing::info!("sysctl -w {canonical}={}", value.trim());
        Ok((canonical.clone(), self.sysctl_value(&canonical)))
    }

    /// The effective value of a sysctl (as `sysctl NAME` prints it), or an error naming the
    /// closest known name.
    pub fn sysctl_value(&self, name: &str) -> String {
        let names: Vec<&str> = self
            .config
            .interfaces
            .iter()
            .map(|i| i.name.as_str())
            .collect();
        let want = name.trim().replace('/', ".");
        self.config
            .sysctl
            .effective(&names)
            .into_iter()
            .find(|(n, _, _)| *n == want)
            .map(|(_, v, _)| v)
            .unwrap_or_default()
    }

    /// Build a router from a configuration (no hooks registered yet).
    pub fn new(config: Config) -> Router {
        let fib = Fib::from_config(&config);
        let n = config.interfaces.len();
        let (ifconf, host) = Router::derive(&config);
        let mut hooks = Registry::new();
        if config.netfilter.conntrack {
            conntrack::register(&mut hooks);
        }
        let conntrack = Conntrack::new(CtConfig::from_sysctls(&config.sysctl), DEFAULT_SEED);
        let defrag = Defrag::new(DefragConfig::from_sysctls(&config.sysctl));
        let mut ifaces = vec![(String::new(), 1500), ("lo".to_string(), 65536)];
        for i in &config.interfaces {
            ifaces.push((i.name.clone(), i.mtu as usize));
        }
        Router {
            conntrack,
            defrag,
            tables: Tables::default(),
            ifaces,
            effects: Effects::default(),
            ifconf,
            host,
            log_limit: Default::default(),
            global_limit: GlobalLimit::new(DEFAULT_SEED),
            icmp_xmit_busy: false,
            config,
            fib,
            hooks,
            queues: Queues::default(),
            stats: Stats::new(n),
            peers: Peers::default(),
            ident: 0,
            scratch: (0..SCRATCH_DEPTH)
                .map(|_| PacketBuf::with_capacity(MAX_PACKET))
                .collect(),
            frag: Some(PacketBuf::with_capacity(MAX_PACKET)),
            frag_sizes: Vec::with_capacity(64),
            trace_before: Vec::new(),
            changed: Vec::with_capacity(16),
            sub: 0,
            cur_sub: 0,
        }
    }

    /// Build a router and load its rules file, if the configuration names one: rules that
    /// need connection tracking turn it on, as in the kernel.
    pub fn load(config: Config) -> Result<Router, String> {
        let rules = config.netfilter.rules.clone();
        let keep_counters = config.netfilter.restore_counters;
        let mut r = Router::new(config);
        if let Some(path) = rules {
            let rs =
                crate::netfilter::tables::parse::parse_file(&path).map_err(|e| e.to_string())?;
            let mut tables = Tables::load(&rs, DEFAULT_SEED).map_err(|e| {
                format!(
                    "{}: rules the router cannot run as the kernel would:\n{}",
                    path.display(),
                    e.problems
                        .iter()
                        .map(|(l, m)| format!("  {}:{l}: {m}", path.display()))
                        .collect::<Vec<_>>()
                        .join("\n")
                )
            })?;
            if !keep_counters {
                tables.zero();
            }
            r.set_tables(tables);
        }
        Ok(r)
    }

    /// Install a loaded ruleset: its hooked chains replace the previous tables' callbacks.
    pub fn set_tables(&mut self, tables: Tables) {
        for h in Hook::ALL {
            for t in crate::netfilter::tables::ast::TableName::ALL {
                self.hooks
                    .unregister(Family::Ipv4, h, &format!("iptable_{t}"));
            }
        }
        crate::netfilter::nat::unregister(&mut self.hooks);
        tables.register(&mut self.hooks);
        if tables.needs_conntrack() {
            conntrack::register(&mut self.hooks);
        }
        self.tables = tables;
    }

    fn mtu(&self, dev: IfIndex) -> usize {
        if dev == IfIndex::LOOPBACK {
            return 65536;
        }
        self.config.interface(dev).map_or(1500, |i| i.mtu as usize)
    }

    fn if_name(&self, dev: IfIndex) -> &str {
        self.config.if_name(dev)
    }

    fn drop_pkt(&mut self, reason: DropReason, sink: &mut dyn Sink) {
        self.stats.drops[reason as usize] += 1;
        if sink.trace_enabled() {
            sink.trace(&TraceEvent::Drop {
                sub: self.cur_sub,
                reason,
            });
        }
        tracing::trace!(reason = reason.name(), "drop");
    }

    /// A packet arrives on `iif` at time `now` (ns). Everything it causes goes to `sink`.
    pub fn receive(&mut self, iif: IfIndex, pkt: &mut PacketBuf, now: u64, sink: &mut dyn Sink) {
        self.sub = 0;
        self.cur_sub = 0;
        if let Some(s) = self.stats.interfaces.get_mut(iif.0 as usize) {
            s.rx_packets += 1;
            s.rx_bytes += pkt.len() as u64;
        }
        self.expire_fragments(now, sink);
        if let Err(r) = validate(pkt) {
            return self.drop_pkt(r, sink);
        }
        pkt.meta.iif = Some(iif);
        pkt.meta.origin = Origin::Received;
        self.run_hook(Hook::PreRouting, 0, pkt, now, sink);
        self.conntrack.release_pending();
    }

    /// Reassembly queues whose time is up (`ip_expire`), on the packet clock: a queue that
    /// had its first fragment draws "fragment reassembly time exceeded" when the datagram
    /// was for this host (local delivery's queues always are; conntrack's when the first
    /// fragment routes locally).
    pub fn expire_fragments(&mut self, now: u64, sink: &mut dyn Sink) {
        if self.defrag.pending() == 0 {
            return;
        }
        for e in self.defrag.expire(now) {
            let Some(head) = e.head else { continue };
            let dst = Ipv4Packet::new_unchecked(&head[..]).dst_addr();
            let for_us = match e.user {
                crate::defrag::User::LocalDeliver => true,
                crate::defrag::User::ConntrackIn(_) => self.fib.is_local(dst),
                crate::defrag::User::ConntrackOut(_) => false,
            };
            if !for_us {
                continue;
            }
            let mut p = PacketBuf::with_capacity(head.len());
            p.load(&head);
            p.meta = e.meta;
            self.sub = 0;
            self.cur_sub = 0;
            self.icmp_send(&p, types::TIME_EXCEEDED, 1, [0; 4], now, sink);
            self.conntrack.release_pending();
        }
    }

    /// Reinject a packet a QUEUE consumer took, with the consumer's verdict: ACCEPT resumes
    /// after the callback that queued it, REPEAT calls that callback again, DROP drops.
    pub fn reinject(&mut self, mut q: Queued, verdict: Verdict, now: u64, sink: &mut dyn Sink) {
        self.cur_sub = 0;
        self.conntrack.hold(q.pkt.meta.ct, false);
        let _ = q.family;
        match verdict {
            Verdict::Accept => self.run_hook(q.hook, q.index + 1, &mut q.pkt, now, sink),
            Verdict::Repeat => self.run_hook(q.hook, q.index, &mut q.pkt, now, sink),
            Verdict::Drop => self.drop_pkt(DropReason::HookDrop, sink),
            Verdict::Queue(n) => self.enqueue(n, q.hook, q.index, &q.pkt, sink),
            Verdict::Stolen => {}
        }
        self.conntrack.release_pending();
    }

    fn enqueue(&mut self, n: u16, hook: Hook, index: usize, pkt: &PacketBuf, sink: &mut dyn Sink) {
        match self.queues.bound.get_mut(&n) {
            None => self.drop_pkt(DropReason::QueueNoConsumer, sink),
            Some(q) if q.len() >= QUEUE_MAXLEN => self.drop_pkt(DropReason::QueueFull, sink),
            Some(q) => {
                self.conntrack.hold(pkt.meta.ct, true);
                q.push_back(Queued {
                    pkt: pkt.clone(),
                    family: Family::Ipv4,
                    hook,
                    index,
                })
            }
        }
    }

    fn hook_state(&self, hook: Hook, pkt: &PacketBuf, now: u64) -> HookState {
        let (in_dev, out_dev) = match hook {
            Hook::PreRouting | Hook::LocalIn => (pkt.meta.iif, None),
            Hook::Forward => (pkt.meta.iif, pkt.meta.oif),
            Hook::LocalOut | Hook::PostRouting => (None, pkt.meta.oif),
        };
        HookState {
            hook,
            family: Family::Ipv4,
            in_dev,
            out_dev,
            now,
        }
    }

    /// Run `hook`'s callbacks from `start`, then its continuation if all accepted.
    fn run_hook(
        &mut self,
        hook: Hook,
        start: usize,
        pkt: &mut PacketBuf,
        now: u64,
        sink: &mut dyn Sink,
    ) {
        let state = self.hook_state(hook, pkt, now);
        let tracing = sink.trace_enabled();
        let mut i = start;
        loop {
            let entries = self.hooks.entries_mut(Family::Ipv4, hook);
            let Some(e) = entries.get_mut(i) else { break };
            let mut repeats = 0;
            let verdict = loop {
                let meta_before = pkt.meta;
                if tracing {
                    self.trace_before.clear();
                    self.trace_before.extend_from_slice(pkt.data());
                }
                let mut cx = HookCtx {
                    conntrack: &mut self.conntrack,
                    defrag: &mut self.defrag,
                    tables: &mut self.tables,
                    fib: &self.fib,
                    ifaces: &self.ifaces,
                    effects: &mut self.effects,
                };
                let v = e.func.call(pkt, &state, &mut cx);
                if tracing {
                    self.changed.clear();
                    diff_fields(
                        &self.trace_before,
                        &meta_before,
                        pkt.data(),
                        &pkt.meta,
                        &mut self.changed,
                    );
                    sink.trace(&TraceEvent::Hook {
                        sub: self.cur_sub,
                        hook,
                        priority: e.priority,
                        callback: &e.name,
                        verdict: v,
                        changed: &self.changed,
                    });
                }
                if v == Verdict::Repeat {
                    repeats += 1;
                    if repeats < REPEAT_LIMIT {
                        continue;
                    }
                }
                break v;
            };
            match verdict {
                Verdict::Accept => i += 1,
                Verdict::Drop => {
                    if let Some(with) = self.effects.reject.take() {
                        self.reject(with, pkt, now, sink);
                    }
                    let r = self
                        .effects
                        .drop_reason
                        .take()
                        .unwrap_or(DropReason::HookDrop);
                    return self.drop_pkt(r, sink);
                }
                Verdict::Repeat => return self.drop_pkt(DropReason::RepeatLimit, sink),
                Verdict::Stolen => return,
                Verdict::Queue(n) => return self.enqueue(n, hook, i, pkt, sink),
            }
        }
        self.after_hook(hook, pkt, now, sink);
    }

    fn after_hook(&mut self, hook: Hook, pkt: &mut PacketBuf, now: u64, sink: &mut dyn Sink) {
        match hook {
            Hook::PreRouting => self.route_input(pkt, now, sink),
            Hook::LocalIn => self.local_deliver(pkt, now, sink),
            Hook::Forward => {
                if pkt.meta.ip_opts.optlen != 0 {
                    self.forward_options(pkt);
                }
                self.run_hook(Hook::PostRouting, 0, pkt, now, sink)
            }
            Hook::LocalOut => self.local_out_finish(pkt, now, sink),
            Hook::PostRouting => self.finish_output(pkt, now, sink),
        }
    }

    /// `ip_forward_options` (in `ip_forward_finish`): record our address in record route,
    /// and follow a source route's next hop.
    fn forward_options(&mut self, pkt: &mut PacketBuf) {
        let mut opts = pkt.meta.ip_opts;
        let oif = pkt.meta.oif;
        let fib = &self.fib;
        // ip_rt_get_source: the address the output device uses towards `daddr`.
        let source = |daddr: Ipv4Addr| {
            let r = fib.lookup(daddr);
            r.and_then(|r| r.prefsrc)
                .or_else(|| {
                    let dev = oif.or(r.map(|r| r.dev))?;
                    let nh = r.map_or(daddr, |r| r.nexthop);
                    fib.select_addr(dev, nh, crate::route::Scope::Universe)
                })
                .unwrap_or(Ipv4Addr::UNSPECIFIED)
        };
        let f = ipv4_options::forward_options(pkt.data_mut(), &mut opts, source);
        if f.destination_lost && self.log_limit.allow(0) {
            tracing::error!("ip_forward_options(): Argh! Destination lost!");
        }
        pkt.meta.ip_opts = opts;
    }

    fn ifc(&self, dev: IfIndex) -> IfConf {
        self.ifconf.get(dev.0 as usize).copied().unwrap_or_default()
    }

    fn martian_source(
        &mut self,
        iif: IfIndex,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        now: u64,
        sink: &mut dyn Sink,
    ) {
        if self.ifc(iif).log_martians && self.log_limit.allow(now / 1_000_000) {
            tracing::warn!(
                "martian source {dst} from {src}, on dev {}",
                self.if_name(iif)
            );
        }
        self.drop_pkt(DropReason::MartianSource, sink)
    }

    fn martian_destination(
        &mut self,
        iif: IfIndex,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        now: u64,
        sink: &mut dyn Sink,
    ) {
        if self.ifc(iif).log_martians && self.log_limit.allow(now / 1_000_000) {
            tracing::warn!(
                "martian destination {dst} from {src}, dev {}",
                self.if_name(iif)
            );
        }
        self.drop_pkt(DropReason::MartianDestination, sink)
    }

    /// `fib_validate_source`: is `src` a believable source for a packet arriving on `iif`
    /// and leaving by `oif` (None for local delivery)? Ok(true) when the source is directly
    /// connected through `iif` (the kernel returns 1: the redirect condition).
    fn validate_source(
        &self,
        src: Ipv4Addr,
        iif: IfIndex,
        oif: Option<IfIndex>,
    ) -> Result<bool, ()> {
        let c = self.ifc(iif);
        if c.rp_filter == 0 && (oif != Some(iif) || !c.send_redirects) {
            if c.accept_local {
                return Ok(false);
            }
            // Our own address as the source of a packet from outside (an address assigned
            // to an interface: inet_lookup_ifaddr_rcu).
            return if self.fib.is_interface_address(src) {
                Err(())
            } else {
                Ok(false)
            };
        }
        // The full check (__fib_validate_source): the route back to the source.
        let Some(r) = self.fib.lookup(src) else {
            return if c.rp_filter != 0 { Err(()) } else { Ok(false) };
        };
        if r.kind != RouteType::Unicast && !(r.kind == RouteType::Local && c.accept_local) {
            return Err(());
        }
        if r.dev == iif {
            // nhc_scope >= RT_SCOPE_HOST: directly connected (local routes included).
            return Ok(r.onlink);
        }
        if !self.fib.has_address(iif) {
            return if c.rp_filter != 0 { Err(()) } else { Ok(false) };
        }
        if c.rp_filter == 1 {
            return Err(());
        }
        Ok(false)
    }

    /// `ip_route_input_slow`: martian checks, FIB lookup, and the local/forward split.
    fn route_input(&mut self, pkt: &mut PacketBuf, now: u64, sink: &mut dyn Sink) {
        if pkt.meta.origin == Origin::Local {
            // Looped back (via lo, or a broadcast's copy) with its output route: straight to
            // local delivery.
            return self.run_hook(Hook::LocalIn, 0, pkt, now, sink);
        }
        let ip = Ipv4Packet::new_unchecked(pkt.data());
        let (src, dst) = (ip.src_addr(), ip.dst_addr());
        let iif = pkt.meta.iif.unwrap_or(IfIndex::LOOPBACK);
        let c = self.ifc(iif);

        if dst.is_multicast() {
            // Multicast routing and group membership are not modelled: not for us.
            return self.drop_pkt(DropReason::MartianDestination, sink);
        }
        if src.is_multicast() || src.is_broadcast() {
            return self.martian_source(iif, src, dst, now, sink);
        }
        if dst.is_broadcast() || (src.is_unspecified() && dst.is_unspecified()) {
            return self.broadcast_input(pkt, now, sink);
        }
        // `ipv4_is_zeronet` is `addr == 0` since Linux 5.3 (0.0.0.0/8 became unicast space).
        if src.is_unspecified() {
            return self.martian_source(iif, src, dst, now, sink);
        }
        if dst.is_unspecified() {
            return self.martian_destination(iif, src, dst, now, sink);
        }
        if dst.is_loopback() {
            if !c.route_localnet {
                return self.martian_destination(iif, src, dst, now, sink);
            }
        } else if src.is_loopback() && !c.route_localnet {
            return self.martian_source(iif, src, dst, now, sink);
        }

        let Some(r) = self.fib.lookup(dst) else {
            if self.rcv_options(pkt, RouteKind::Other, now, sink).is_none() {
                return;
            }
            if !c.forwarding {
                return self.drop_pkt(DropReason::ForwardingDisabled, sink);
            }
            // ip_error: its own per-source limiter, then icmp_send's.
            if self.peers.route_error_allow(src, now / 1_000_000) {
                self.icmp_send(pkt, types::DEST_UNREACH, unreach::NET, [0; 4], now, sink);
            }
            return self.drop_pkt(DropReason::NoRoute, sink);
        };
        match r.kind {
            // bc_forwarding: a directed broadcast is forwarded like unicast (make_route).
            RouteType::Broadcast if c.bc_forwarding => {
                let Ok(src_onlink) = self.validate_source(src, iif, Some(r.dev)) else {
                    return self.martian_source(iif, src, dst, now, sink);
                };
                if self.rcv_options(pkt, RouteKind::Other, now, sink).is_none() {
                    return;
                }
                let redirect = r.dev == iif && src_onlink && self.ifc(r.dev).send_redirects;
                self.forward_via(pkt, r.dev, dst, redirect, now, sink)
            }
            RouteType::Broadcast => self.broadcast_input(pkt, now, sink),
            RouteType::Local => {
                if self.validate_source(src, iif, None).is_err() {
                    return self.martian_source(iif, src, dst, now, sink);
                }
                match self.rcv_options(pkt, RouteKind::Local, now, sink) {
                    None => return,
                    Some(SrrOutcome::Forward(hop)) => {
                        return self.forward_source_routed(pkt, hop, now, sink)
                    }
                    Some(_) => {}
                }
                pkt.meta.route = RouteClass::Local;
                self.trace_route(sink, "local", None, None);
                self.run_hook(Hook::LocalIn, 0, pkt, now, sink)
            }
            RouteType::Unicast => {
                if !c.forwarding {
                    if self.rcv_options(pkt, RouteKind::Other, now, sink).is_none() {
                        return;
                    }
                    return self.drop_pkt(DropReason::ForwardingDisabled, sink);
                }
                let Ok(src_onlink) = self.validate_source(src, iif, Some(r.dev)) else {
                    return self.martian_source(iif, src, dst, now, sink);
                };
                if self
                    .rcv_options(pkt, RouteKind::Unicast, now, sink)
                    .is_none()
                {
                    return;
                }
                // __mkroute_input: a redirect when the packet leaves by the interface it came
                // in on and its source is directly connected there.
                let redirect = r.dev == iif && src_onlink && self.ifc(r.dev).send_redirects;
                self.forward_via(pkt, r.dev, r.nexthop, redirect, now, sink)
            }
        }
    }

    /// `ip_rcv_options`: compile a received header's options (a malformed one draws a
    /// parameter problem), then refuse a source route unless `accept_source_route`, or
    /// follow it (`ip_options_rcv_srr`). None: the packet was dropped.
    fn rcv_options(
        &mut self,
        pkt: &mut PacketBuf,
        route: RouteKind,
        now: u64,
        sink: &mut dyn Sink,
    ) -> Option<SrrOutcome> {
        let ip = Ipv4Packet::new_unchecked(pkt.data());
        if ip.ihl() <= 5 || pkt.meta.origin != Origin::Received {
            return Some(SrrOutcome::Unchanged);
        }
        let (src, dst) = (ip.src_addr(), ip.dst_addr());
        let iif = pkt.meta.iif.unwrap_or(IfIndex::LOOPBACK);
        let now_ms = ((now / 1_000_000) % 86_400_000) as u32;
        let fib = &self.fib;
        // fib_compute_spec_dst: our address as the sender sees it.
        let spec_dst = || {
            if route == RouteKind::Local {
                return dst;
            }
            let back = (!src.is_unspecified())
                .then(|| fib.lookup(src).and_then(|r| r.prefsrc))
                .flatten();
            back.or_else(|| fib.select_addr(iif, src, crate::route::Scope::Universe))
                .unwrap_or(Ipv4Addr::UNSPECIFIED)
        };
        let compiled = ipv4_options::compile(pkt.data_mut(), now_ms, spec_dst, |a| {
            is_unicast_addr(fib, a)
        });
        let mut opts = match compiled {
            Ok(o) => o,
            Err(p) => {
                pkt.meta.ip_opts = p.parsed;
                self.icmp_send(
                    pkt,
                    types::PARAMETER_PROB,
                    0,
                    [p.pointer, 0, 0, 0],
                    now,
                    sink,
                );
                self.drop_pkt(DropReason::IpBadOptions, sink);
                return None;
            }
        };
        pkt.meta.ip_opts = opts;
        if opts.srr.is_none() {
            return Some(SrrOutcome::Unchanged);
        }
        let c = self.ifc(iif);
        if !c.accept_source_route {
            if c.log_martians && self.log_limit.allow(now / 1_000_000) {
                tracing::info!("source route option {src} -> {dst}");
            }
            self.drop_pkt(DropReason::SourceRoute, sink);
            return None;
        }
        let fib = &self.fib;
        let r = ipv4_options::rcv_srr(pkt.data_mut(), &mut opts, route, |hop| {
            match fib.lookup(hop).map(|r| r.kind) {
                Some(RouteType::Local) => RouteKind::Local,
                Some(RouteType::Unicast) => RouteKind::Unicast,
                _ => RouteKind::Other,
            }
        });
        pkt.meta.ip_opts = opts;
        match r {
            Ok(o) => Some(o),
            Err(SrrError::Drop) => {
                self.drop_pkt(DropReason::SourceRoute, sink);
                None
            }
            Err(SrrError::ParamProblem(ptr)) => {
                self.icmp_send(pkt, types::PARAMETER_PROB, 0, [ptr, 0, 0, 0], now, sink);
                self.drop_pkt(DropReason::SourceRoute, sink);
                None
            }
        }
    }

    /// A loose or strict source route through this router to `hop`: forward it there.
    fn forward_source_routed(
        &mut self,
        pkt: &mut PacketBuf,
        hop: Ipv4Addr,
        now: u64,
        sink: &mut dyn Sink,
    ) {
        let iif = pkt.meta.iif.unwrap_or(IfIndex::LOOPBACK);
        if !self.ifc(iif).forwarding {
            return self.drop_pkt(DropReason::ForwardingDisabled, sink);
        }
        let Some(r) = self.fib.lookup(hop) else {
            return self.drop_pkt(DropReason::NoRoute, sink);
        };
        self.forward_via(pkt, r.dev, r.nexthop, false, now, sink)
    }

    /// The input route says forward, out of `dev` towards `nexthop`.
    fn forward_via(
        &mut self,
        pkt: &mut PacketBuf,
        dev: IfIndex,
        nexthop: Ipv4Addr,
        redirect: bool,
        now: u64,
        sink: &mut dyn Sink,
    ) {
        pkt.meta.route = RouteClass::Forward;
        pkt.meta.oif = Some(dev);
        pkt.meta.nexthop = Some(nexthop);
        self.trace_route(sink, "forward", Some(dev), Some(nexthop));
        self.forward(pkt, redirect, now, sink)
    }

    fn broadcast_input(&mut self, pkt: &mut PacketBuf, now: u64, sink: &mut dyn Sink) {
        let ip = Ipv4Packet::new_unchecked(pkt.data());
        let (src, dst) = (ip.src_addr(), ip.dst_addr());
        let iif = pkt.meta.iif.unwrap_or(IfIndex::LOOPBACK);
        if !src.is_unspecified() && self.validate_source(src, iif, None).is_err() {
            return self.martian_source(iif, src, dst, now, sink);
        }
        pkt.meta.route = RouteClass::Broadcast;
        self.trace_route(sink, "broadcast", None, None);
        self.run_hook(Hook::LocalIn, 0, pkt, now, sink)
    }

    fn trace_route(
        &mut self,
        sink: &mut dyn Sink,
        decision: &'static str,
        oif: Option<IfIndex>,
        nexthop: Option<Ipv4Addr>,
    ) {
        if sink.trace_enabled() {
            sink.trace(&TraceEvent::Route {
                sub: self.cur_sub,
                decision,
                oif,
                nexthop,
            });
        }
    }

    /// `ip_forward`: TTL, MTU, TTL decrement, redirect, then FORWARD.
    fn forward(&mut self, pkt: &mut PacketBuf, redirect: bool, now: u64, sink: &mut dyn Sink) {
        let oif = pkt.meta.oif.expect("routed");
        let ip = Ipv4Packet::new_unchecked(pkt.data());
        if ip.ttl() <= 1 {
            self.icmp_send(pkt, types::TIME_EXCEEDED, 0, [0; 4], now, sink);
            return self.drop_pkt(DropReason::TtlExpired, sink);
        }
        let opts = pkt.meta.ip_opts;
        // A strict source route's next hop must be directly connected: the route to it
        // must not go through a gateway (only source-routed packets get here strict).
        if opts.is_strictroute && opts.srr_nexthop != pkt.meta.nexthop {
            self.icmp_send(
                pkt,
                types::DEST_UNREACH,
                unreach::SR_FAILED,
                [0; 4],
                now,
                sink,
            );
            return self.drop_pkt(DropReason::SourceRouteFailed, sink);
        }
        let redirect = redirect && opts.srr.is_none();
        let mtu = self.mtu(oif);
        // ip_exceeds_mtu: a reassembled datagram may be bigger than the MTU with DF set, as
        // long as its fragments were not.
        let fmax = usize::from(pkt.meta.frag_max_size);
        if pkt.len() > mtu && ip.dont_frag() && (fmax == 0 || fmax > mtu) {
            let m = (mtu as u32).to_be_bytes();
            self.icmp_send(pkt, types::DEST_UNREACH, unreach::FRAG_NEEDED, m, now, sink);
            return self.drop_pkt(DropReason::FragNeeded, sink);
        }
        let src = ip.src_addr();
        Ipv4Packet::new_unchecked(pkt.data_mut()).decrease_ttl();
        if redirect && self.peers.redirect_allow(src, now / 1_000_000) {
            let gw = pkt.meta.nexthop.unwrap_or(Ipv4Addr::UNSPECIFIED).octets();
            // ICMP_REDIR_HOST, quoting the packet with its TTL already decremented.
            self.icmp_send(pkt, types::REDIRECT, 1, gw, now, sink);
        }
        self.stats.forwarded += 1;
        self.run_hook(Hook::Forward, 0, pkt, now, sink)
    }

    /// After OUTPUT: re-route if a hook changed the destination, then POSTROUTING.
    fn local_out_finish(&mut self, pkt: &mut PacketBuf, now: u64, sink: &mut dyn Sink) {
        // ip_route_me_harder: route again if OUTPUT changed the destination (mangle, or
        // NAT's destination translation).
        let dst = Ipv4Packet::new_unchecked(pkt.data()).dst_addr();
        let route = self.fib.lookup(dst).map(|r| {
            let dev = if r.kind == RouteType::Local {
                IfIndex::LOOPBACK
            } else {
                r.dev
            };
            (dev, r.nexthop)
        });
        if pkt.meta.nexthop.is_none()
            || (pkt.meta.route == RouteClass::Output && route != pkt.meta.oif.zip(pkt.meta.nexthop))
        {
            match route {
                Some((dev, nexthop)) => {
                    pkt.meta.oif = Some(dev);
                    pkt.meta.nexthop = Some(nexthop);
                }
                None => return self.drop_pkt(DropReason::NoRoute, sink),
            }
        }
        // ip_mc_output: a broadcast the router sends is also looped back to itself, the copy
        // passing POSTROUTING first.
        if self
            .fib
            .lookup(dst)
            .is_some_and(|r| r.kind == RouteType::Broadcast)
            || dst.is_broadcast()
        {
            let mut copy = PacketBuf::with_capacity(pkt.len());
            copy.load(pkt.data());
            copy.meta = pkt.meta;
            copy.meta.route = RouteClass::BroadcastLoop;
            self.run_hook(Hook::PostRouting, 0, &mut copy, now, sink);
        }
        self.run_hook(Hook::PostRouting, 0, pkt, now, sink)
    }

    /// `ip_finish_output`: fragment to the MTU when allowed, then transmit.
    fn finish_output(&mut self, pkt: &mut PacketBuf, now: u64, sink: &mut dyn Sink) {
        let oif = pkt.meta.oif.expect("routed");
        if oif == IfIndex::LOOPBACK {
            return self.loopback(pkt, now, sink);
        }
        if pkt.meta.route == RouteClass::BroadcastLoop {
            // dev_loopback_xmit: received on the output device, as a broadcast.
            pkt.meta.iif = Some(oif);
            pkt.meta.oif = None;
            pkt.meta.route = RouteClass::Broadcast;
            pkt.meta.looped = true;
            return self.run_hook(Hook::PreRouting, 0, pkt, now, sink);
        }
        let mtu = self.mtu(oif);
        let fmax = usize::from(pkt.meta.frag_max_size);
        if pkt.len() <= mtu && fmax == 0 {
            return self.transmit(oif, pkt, sink);
        }
        // ip_fragment: DF only passes for a reassembled datagram whose fragments fit.
        let ip = Ipv4Packet::new_unchecked(pkt.data());
        if ip.dont_frag() && (fmax == 0 || fmax > mtu) {
            if pkt.meta.origin == Origin::Received {
                let m = (mtu as u32).to_be_bytes();
                self.icmp_send(pkt, types::DEST_UNREACH, unreach::FRAG_NEEDED, m, now, sink);
            }
            return self.drop_pkt(DropReason::FragNeeded, sink);
        }
        // ip_do_fragment: no fragment larger than the sender's largest; the original
        // fragments again when they fit (the fast path over the frag_list).
        let mtu = if fmax != 0 { mtu.min(fmax) } else { mtu };
        let hlen = ip.header_len();
        let fast = self.defrag.geometry(pkt.meta.frag_geom).is_some_and(|g| {
            let room = mtu.saturating_sub(hlen);
            g.iter().sum::<usize>() == pkt.len() - hlen
                && g.iter()
                    .enumerate()
                    .all(|(i, &n)| n <= room && (n % 8 == 0 || i + 1 == g.len()))
        });
        if fast {
            let sizes = std::mem::take(&mut self.frag_sizes);
            let mut sizes = sizes;
            sizes.clear();
            sizes.extend_from_slice(self.defrag.geometry(pkt.meta.frag_geom).unwrap_or(&[]));
            self.emit_fragments(oif, &sizes, false, pkt, sink);
            self.frag_sizes = sizes;
            return;
        }
        self.fragment(oif, mtu, pkt, sink);
    }

    /// A packet the router sent to one of its own addresses comes back in on `lo` (the
    /// loopback device's transmit is a receive) keeping the route its output lookup chose:
    /// PREROUTING, then INPUT and local delivery, without the input route's checks.
    fn loopback(&mut self, pkt: &mut PacketBuf, now: u64, sink: &mut dyn Sink) {
        if let Some(s) = self.stats.interfaces.get_mut(IfIndex::LOOPBACK.0 as usize) {
            s.tx_packets += 1;
            s.tx_bytes += pkt.len() as u64;
            s.rx_packets += 1;
            s.rx_bytes += pkt.len() as u64;
        }
        pkt.meta.iif = Some(IfIndex::LOOPBACK);
        pkt.meta.oif = None;
        pkt.meta.route = RouteClass::Local;
        self.run_hook(Hook::PreRouting, 0, pkt, now, sink)
    }

    fn transmit(&mut self, oif: IfIndex, pkt: &PacketBuf, sink: &mut dyn Sink) {
        if let Some(s) = self.stats.interfaces.get_mut(oif.0 as usize) {
            s.tx_packets += 1;
            s.tx_bytes += pkt.len() as u64;
        }
        if sink.trace_enabled() {
            sink.trace(&TraceEvent::Transmit {
                sub: self.cur_sub,
                oif,
                len: pkt.len(),
            });
        }
        sink.transmit(oif, pkt.data(), &pkt.meta);
    }

    /// `ip_do_fragment` (slow path): fragments of `(mtu - header) & !7` bytes; DF kept only
    /// for a reassembled datagram whose fragments all had it.
    fn fragment(&mut self, oif: IfIndex, mtu: usize, pkt: &PacketBuf, sink: &mut dyn Sink) {
        let hlen = Ipv4Packet::new_unchecked(pkt.data()).header_len();
        let room = mtu.saturating_sub(hlen) & !7;
        if room == 0 {
            return;
        }
        let mut sizes = std::mem::take(&mut self.frag_sizes);
        sizes.clear();
        let mut left = pkt.len() - hlen;
        while left > 0 {
            let n = room.min(left);
            sizes.push(n);
            left -= n;
        }
        self.emit_fragments(oif, &sizes, pkt.meta.frag_pmtu, pkt, sink);
        self.frag_sizes = sizes;
    }

    /// Send `pkt` as fragments carrying `sizes` bytes of its payload each: the first with
    /// the whole header, the others with the options lacking the copied flag replaced by
    /// NOPs; offsets continue the packet's own (a fragment fragmented again), MF on all but
    /// the last unless the packet itself was not the last; DF when `df` (the fast path over
    /// a reassembled datagram's own fragments never sets it).
    fn emit_fragments(
        &mut self,
        oif: IfIndex,
        sizes: &[usize],
        df: bool,
        pkt: &PacketBuf,
        sink: &mut dyn Sink,
    ) {
        let Some(mut f) = self.frag.take() else {
            return self.drop_pkt(DropReason::TooBig, sink);
        };
        let ip = Ipv4Packet::new_unchecked(pkt.data());
        let hlen = ip.header_len();
        let first_hdr = &pkt.data()[..hlen];
        let mut later_hdr = [0u8; 60];
        let later_len = copied_options_header(first_hdr, &mut later_hdr);
        let payload = &pkt.data()[hlen..];
        let base_off = ip.frag_offset();
        let not_last = ip.more_frags();
        let mut off = 0;
        for (i, &n) in sizes.iter().enumerate() {
            let h: &[u8] = if i == 0 {
                first_hdr
            } else {
                &later_hdr[..later_len]
            };
            let last = i + 1 == sizes.len();
            let b = f.reset_zeroed(h.len() + n);
            b[..h.len()].copy_from_slice(h);
            b[h.len()..].copy_from_slice(&payload[off..off + n]);
            f.meta = pkt.meta;
            let mut fp = Ipv4Packet::new_unchecked(f.data_mut());
            let mut word = (((base_off + off) / 8) as u16) & ipv4::OFFSET_MASK;
            if !last || not_last {
                word |= ipv4::FLAG_MF;
            }
            if df {
                word |= ipv4::FLAG_DF;
            }
            fp.set_flags_frag(word);
            fp.set_total_len((h.len() + n) as u16);
            fp.fill_checksum();
            self.transmit(oif, &f, sink);
            off += n;
        }
        self.frag = Some(f);
    }

    /// `icmp_send`: decide whether an error may be sent about `offending`, and send it.
    fn icmp_send(
        &mut self,
        offending: &PacketBuf,
        msg_type: u8,
        code: u8,
        rest: [u8; 4],
        now: u64,
        sink: &mut dyn Sink,
    ) {
        if self.icmp_xmit_busy {
            return;
        }
        let ip = Ipv4Packet::new_unchecked(offending.data());
        if matches!(offending.meta.route, RouteClass::Broadcast) {
            return;
        }
        // A packet the router sent to a broadcast address has a broadcast output route:
        // no errors about it either.
        if matches!(
            offending.meta.route,
            RouteClass::Output | RouteClass::BroadcastLoop
        ) && (ip.dst_addr().is_broadcast()
            || self
                .fib
                .lookup(ip.dst_addr())
                .is_some_and(|r| r.kind == RouteType::Broadcast))
        {
            return;
        }
        if ip.frag_offset() != 0 {
            return;
        }
        if icmp::is_error(msg_type) && ip.protocol() == proto::ICMP {
            // Never an error about an error (nor about an unknown type).
            match ip.payload().first() {
                Some(&t) if t <= types::NR_ICMP_TYPES && !icmp::is_error(t) => {}
                _ => return,
            }
        }
        // icmpv4_mask_allow / icmpv4_global_allow: the types in icmp_ratemask, except
        // frag-needed (PMTU discovery), pass the global limit first.
        let limited = msg_type <= types::NR_ICMP_TYPES
            && !(msg_type == types::DEST_UNREACH && code == unreach::FRAG_NEEDED)
            && (self.host.ratemask >> msg_type) & 1 == 1;
        let now_ms = now / 1_000_000;
        if limited
            && !self
                .global_limit
                .allow(now_ms, self.host.msgs_per_sec, self.host.msgs_burst)
        {
            self.stats.drops[DropReason::IcmpRateLimited as usize] += 1;
            return;
        }
        let dst = ip.src_addr();
        // __ip_options_echo: an error about a packet with options carries them back (and
        // follows a reversed source route); options that cannot be echoed mean no error.
        let fib = &self.fib;
        let Some(ro) = ipv4_options::echo(offending.data(), &offending.meta.ip_opts, |a| {
            is_unicast_addr(fib, a)
        }) else {
            return;
        };
        // An offending packet whose route is local (RTCF_LOCAL: received for the router, or
        // sent by it to one of its own addresses) is answered from the address it went to.
        let to_self = offending.meta.route == RouteClass::Local
            || (offending.meta.route == RouteClass::Output
                && offending.meta.oif == Some(IfIndex::LOOPBACK));
        let saddr = if to_self {
            Some(ip.dst_addr())
        } else if self.host.errors_use_inbound_ifaddr {
            // inet_select_addr(inbound dev, the offending source, RT_SCOPE_LINK)
            offending
                .meta
                .iif
                .and_then(|d| self.fib.select_addr(d, dst, crate::route::Scope::Link))
        } else {
            None
        };
        let Some(r) = self.fib.lookup(ro.first_hop(dst)) else {
            return;
        };

        let Some(src) = saddr.or(r.prefsrc) else {
            return;
        };
        // icmpv4_xrlim_allow: the per-destination limit (not for errors that go out on the
        // loopback device, i.e. to the router itself), then the global cost.
        if limited {
            if r.kind != RouteType::Local
                && !self.peers.xrlim_allow(dst, self.host.ratelimit_ms, now_ms)
            {
                self.stats.drops[DropReason::IcmpRateLimited as usize] += 1;
                return;
            }
            self.global_limit.consume();
        }
        let Some(mut out) = self.scratch.pop() else {
            return;
        };
        let f = IpFields {
            src,
            dst,
            tos: (ip.tos() & 0x1e) | 0xc0,
            ttl: self.default_ttl(),
            ident: self.next_ident(),
            df: false,
        };
        build::icmp_error(
            &mut out,
            &f,
            msg_type,
            code,
            rest,
            offending.data(),
            self.mtu(r.dev).min(build::ICMP_ERROR_MAX) - ro.len(),
        );
        build::insert_options(&mut out, &ro, dst, now_ms_of_day(now));
        out.meta.oif = Some(if r.kind == RouteType::Local {
            IfIndex::LOOPBACK
        } else {
            r.dev
        });
        out.meta.nexthop = Some(r.nexthop);
        out.meta.route = RouteClass::Output;
        out.meta.mark = 0;
        // icmp_glue_bits: an error belongs to the connection of the packet it quotes
        // (nf_ct_attach), RELATED in the other direction.
        attach_ct(&mut out.meta, offending.meta.ct);
        let what = match (msg_type, code) {
            (types::TIME_EXCEEDED, _) => "icmp time-exceeded",
            (types::DEST_UNREACH, unreach::NET) => "icmp net-unreachable",
            (types::DEST_UNREACH, unreach::PROTOCOL) => "icmp protocol-unreachable",
            (types::DEST_UNREACH, unreach::PORT) => "icmp port-unreachable",
            (types::DEST_UNREACH, unreach::FRAG_NEEDED) => "icmp frag-needed",
            (types::REDIRECT, _) => "icmp redirect",
            _ => "icmp error",
        };
        // The ICMP socket stays locked while the message goes out: an error about it (a
        // REJECT in OUTPUT) finds the lock taken and is not sent (icmp_xmit_lock).
        self.icmp_xmit_busy = true;
        self.local_out(&mut out, what, now, sink);
        self.icmp_xmit_busy = false;
        self.scratch.push(out);
    }

    /// The REJECT target's answer (`nf_send_unreach` / `nf_send_reset`), sent before the
    /// packet is dropped.
    fn reject(&mut self, with: RejectWith, pkt: &PacketBuf, now: u64, sink: &mut dyn Sink) {
        let ip = Ipv4Packet::new_unchecked(pkt.data());
        if ip.frag_offset() != 0 {
            return;
        }
        let (p, src, dst) = (ip.protocol(), ip.src(), ip.dst());
        let l4 = ip.payload();
        if let Some((t, code)) = with.icmp() {
            // nf_reject_verify_csum: TCP, UDP with a checksum, ICMP and most others are
            // checked; a packet failing its checksum gets no answer.
            let verify = match p {
                proto::UDP => l4.len() >= 8 && l4[6..8] != [0, 0],
                47 | 50 | 51 | 132 | 136 | 33 => false,
                _ => true,
            };
            if verify && !l4_checksum_ok(p, l4, src, dst) {
                return;
            }
            return self.icmp_send(pkt, t, code, [0; 4], now, sink);
        }
        // tcp-reset: only for an intact, checksummed TCP segment that is not itself a RST,
        // and never towards a broadcast.
        if p != proto::TCP || pkt.meta.route == RouteClass::Broadcast {
            return;
        }
        let Ok(t) = TcpPacket::new_checked(l4) else {
            return;
        };
        if t.flags() & flags::RST != 0 || !t.verify_checksum_v4(src, dst) {
            return;
        }
        let Some(r) = self.fib.lookup(ip.src_addr()) else {
            return;
        };
        let Some(mut out) = self.scratch.pop() else {
            return;
        };
        let f = IpFields {
            src: ip.dst_addr(),
            dst: ip.src_addr(),
            tos: 0,
            ttl: self.default_ttl(),
            ident: 0,
            df: true,
        };
        build::tcp_reset(&mut out, &f, l4);
        out.meta.oif = Some(if r.kind == RouteType::Local {
            IfIndex::LOOPBACK
        } else {
            r.dev
        });
        out.meta.nexthop = Some(r.nexthop);
        out.meta.route = RouteClass::Output;
        // nf_ct_attach: the reset belongs to the rejected packet's connection.
        attach_ct(&mut out.meta, pkt.meta.ct);
        self.local_out(&mut out, "tcp reset (REJECT)", now, sink);
        self.scratch.push(out);
    }

    fn default_ttl(&self) -> u8 {
        self.host.default_ttl
    }

    fn next_ident(&mut self) -> u16 {
        self.ident = self.ident.wrapping_add(1);
        self.ident
    }

    /// Send an originated packet through OUTPUT and POSTROUTING.
    fn local_out(
        &mut self,
        out: &mut PacketBuf,
        what: &'static str,
        now: u64,
        sink: &mut dyn Sink,
    ) {
        let saved = self.cur_sub;
        self.sub += 1;
        self.cur_sub = self.sub;
        self.stats.originated += 1;
        if sink.trace_enabled() {
            sink.trace(&TraceEvent::Originate {
                sub: self.cur_sub,
                what,
            });
        }
        self.run_hook(Hook::LocalOut, 0, out, now, sink);
        self.cur_sub = saved;
    }

    /// `ip_local_deliver` after INPUT: the protocol handlers of a host with no sockets.
    fn local_deliver(&mut self, pkt: &mut PacketBuf, now: u64, sink: &mut dyn Sink) {
        if Ipv4Packet::new_unchecked(pkt.data()).is_fragment() {
            // ip_local_deliver: reassemble (conntrack, when on, already has).
            match self
                .defrag
                .queue(pkt, crate::defrag::User::LocalDeliver, now)
            {
                crate::defrag::Outcome::Complete => {}
                crate::defrag::Outcome::Held(crate::defrag::Held::Queued) => return,
                crate::defrag::Outcome::Held(h) => {
                    return self.drop_pkt(crate::defrag::drop_reason(h), sink)
                }
            }
        }
        let ip = Ipv4Packet::new_unchecked(pkt.data());
        self.stats.delivered += 1;
        let broadcast = pkt.meta.route == RouteClass::Broadcast;
        match ip.protocol() {
            proto::ICMP => self.icmp_rcv(pkt, broadcast, now, sink),
            proto::TCP => {
                let (src, dst) = (ip.src(), ip.dst());
                let Ok(t) = TcpPacket::new_checked(ip.payload()) else {
                    return self.drop_pkt(DropReason::TransportMalformed, sink);
                };
                if !t.verify_checksum_v4(src, dst) {
                    return self.drop_pkt(DropReason::TransportBadChecksum, sink);
                }
                if t.flags() & flags::RST != 0 || broadcast {
                    return self.drop_pkt(DropReason::NoSocket, sink);
                }
                self.send_reset(pkt, now, sink);
                self.drop_pkt(DropReason::NoSocket, sink)
            }
            proto::UDP => {
                let (src, dst) = (ip.src(), ip.dst());
                let hl = ip.header_len();
                let u = match UdpPacket::new_checked(ip.payload()) {
                    Ok(u) => u,
                    Err(_) => return self.drop_pkt(DropReason::TransportMalformed, sink),
                };
                let ulen = u.len() as usize;
                if broadcast {
                    return self.drop_pkt(DropReason::NoSocket, sink);
                }
                if !u.verify_checksum_v4(src, dst) {
                    return self.drop_pkt(DropReason::TransportBadChecksum, sink);
                }
                // udp_rcv trims the skb to the UDP length before answering, and with no
                // socket it drops the connection reference first (nf_reset_ct), so the port
                // unreachable leaves without one: raw OUTPUT sees no connection, and
                // conntrack finds it RELATED afresh at LOCAL_OUT.
                pkt.truncate(hl + ulen);
                pkt.meta.ct = None;
                pkt.meta.ct_attached_none = false;
                self.icmp_send(pkt, types::DEST_UNREACH, unreach::PORT, [0; 4], now, sink);
                self.drop_pkt(DropReason::NoSocket, sink)
            }
            // IGMP is consumed by the kernel's own handler.
            2 => self.drop_pkt(DropReason::NoSocket, sink),
            _ => {
                if !broadcast {
                    self.icmp_send(
                        pkt,
                        types::DEST_UNREACH,
                        unreach::PROTOCOL,
                        [0; 4],
                        now,
                        sink,
                    );
                }
                self.drop_pkt(DropReason::NoSocket, sink)
            }
        }
    }

    fn icmp_rcv(&mut self, pkt: &mut PacketBuf, broadcast: bool, now: u64, sink: &mut dyn Sink) {
        let ip = Ipv4Packet::new_unchecked(pkt.data());
        let Ok(m) = IcmpPacket::new_checked(ip.payload()) else {
            return self.drop_pkt(DropReason::TransportMalformed, sink);
        };
        if !m.verify_checksum() {
            return self.drop_pkt(DropReason::TransportBadChecksum, sink);
        }
        let t = m.msg_type();
        let is_query = t == types::ECHO_REQUEST || t == types::TIMESTAMP;
        if broadcast && is_query && self.host.echo_ignore_broadcasts {
            return self.drop_pkt(DropReason::NoSocket, sink);
        }
        if t == types::ECHO_REQUEST && self.host.echo_ignore_all {
            return self.drop_pkt(DropReason::NoSocket, sink);
        }
        if t == types::TIMESTAMP && m.data().len() < 4 {
            return self.drop_pkt(DropReason::TransportMalformed, sink);
        }
        if !is_query || self.icmp_xmit_busy {
            // Replies and errors addressed to us are consumed (no socket wants them); a
            // query looped back while an ICMP message is going out finds the ICMP socket
            // locked and gets no reply.
            return;
        }
        // icmp_reply: from the address the request was sent to (for broadcasts, the
        // interface's address facing the sender), TOS copied, no DF; the request's options
        // echoed (none sent if they cannot be).
        let (src, dst, tos) = (ip.src_addr(), ip.dst_addr(), ip.tos());
        let fib = &self.fib;
        let Some(ro) =
            ipv4_options::echo(pkt.data(), &pkt.meta.ip_opts, |a| is_unicast_addr(fib, a))
        else {
            return;
        };
        let Some(r) = self.fib.lookup(ro.first_hop(src)) else {
            return self.drop_pkt(DropReason::NoRoute, sink);
        };
        // fib_compute_spec_dst: for a broadcast, the preferred source of the route back to
        // the sender.
        let from = if broadcast {
            let iif = pkt.meta.iif.unwrap_or(IfIndex::LOOPBACK);
            match r
                .prefsrc
                .or_else(|| self.fib.select_addr(iif, src, crate::route::Scope::Link))
            {
                Some(a) => a,
                None => return self.drop_pkt(DropReason::NoRoute, sink),
            }
        } else {
            dst
        };
        let req = ip.payload();
        let Some(mut out) = self.scratch.pop() else {
            return;
        };
        let f = IpFields {
            src: from,
            dst: src,
            tos,
            ttl: self.default_ttl(),
            ident: self.next_ident(),
            df: false,
        };
        if t == types::ECHO_REQUEST {
            build::icmp_reply(&mut out, &f, types::ECHO_REPLY, req);
        } else {
            // Timestamp: originate copied, receive = transmit = ms since midnight UT.
            let mut msg = [0u8; 20];
            msg[..12].copy_from_slice(&req[..12]);
            let ms = ((now / 1_000_000) % 86_400_000) as u32;
            msg[12..16].copy_from_slice(&ms.to_be_bytes());
            msg[16..20].copy_from_slice(&ms.to_be_bytes());
            build::icmp_reply(&mut out, &f, types::TIMESTAMP_REPLY, &msg);
        }
        build::insert_options(&mut out, &ro, src, now_ms_of_day(now));
        out.meta.oif = Some(if r.kind == RouteType::Local {
            IfIndex::LOOPBACK
        } else {
            r.dev
        });
        out.meta.nexthop = Some(r.nexthop);
        out.meta.route = RouteClass::Output;
        self.icmp_xmit_busy = true;
        self.local_out(&mut out, "icmp reply", now, sink);
        self.icmp_xmit_busy = false;
        self.scratch.push(out);
    }

    fn send_reset(&mut self, pkt: &PacketBuf, now: u64, sink: &mut dyn Sink) {
        let ip = Ipv4Packet::new_unchecked(pkt.data());
        let (src, dst) = (ip.src_addr(), ip.dst_addr());
        let fib = &self.fib;
        let Some(ro) =
            ipv4_options::echo(pkt.data(), &pkt.meta.ip_opts, |a| is_unicast_addr(fib, a))
        else {
            return;
        };
        let Some(r) = self.fib.lookup(ro.first_hop(src)) else {
            return;
        };
        let Some(mut out) = self.scratch.pop() else {
            return;
        };
        let f = IpFields {
            src: dst,
            dst: src,
            // tcp_v4_send_reset: the TOS of the segment without its ECN bits.
            tos: ip.tos() & !0x03,
            ttl: self.default_ttl(),
            ident: 0,
            df: true,
        };
        build::tcp_reset(&mut out, &f, ip.payload());
        build::insert_options(&mut out, &ro, src, now_ms_of_day(now));
        out.meta.oif = Some(if r.kind == RouteType::Local {
            IfIndex::LOOPBACK
        } else {
            r.dev
        });
        out.meta.nexthop = Some(r.nexthop);
        out.meta.route = RouteClass::Output;
        self.local_out(&mut out, "tcp reset", now, sink);
        self.scratch.push(out);
    }
}

/// `ip_rcv_core`'s checks, in its order; trims bytes beyond the total length.
pub fn validate(pkt: &mut PacketBuf) -> Result<(), DropReason> {
    let data = pkt.data();
    match data.first().map(|b| b >> 4) {
        Some(4) => {}
        Some(6) => return Err(DropReason::Ipv6Unsupported),
        _ => return Err(DropReason::IpHeaderInvalid),
    }
    let ip = match Ipv4Packet::new_checked(data) {
        Ok(ip) => ip,
        Err(e) => {
            return Err(match e.kind {
                WireErrorKind::BadField { field: "IHL", .. } => DropReason::IpBadIhl,
                WireErrorKind::Truncated { needed, .. } if needed > ipv4::HEADER_LEN => {
                    DropReason::IpBadIhl
                }
                _ => DropReason::IpHeaderInvalid,
            })
        }
    };
    if !ip.verify_checksum() {
        return Err(DropReason::IpBadChecksum);
    }
    let total = ip.total_len() as usize;
    if data.len() < total {
        return Err(DropReason::IpTruncated);
    }
    if total < ip.header_len() {
        return Err(DropReason::IpBadTotalLength);
    }
    pkt.truncate(total);
    Ok(())
}

/// The header for non-first fragments: options without the "copied" flag are removed
/// (`ip_options_fragment`); returns its length.
fn copied_options_header(first: &[u8], out: &mut [u8; 60]) -> usize {
    out[..first.len()].copy_from_slice(first);
    let opts = &mut out[ipv4::HEADER_LEN..first.len()];
    let mut i = 0;
    while i < opts.len() {
        match opts[i] {
            0 => break,
            1 => i += 1,
            t => {
                let l = opts.get(i + 1).copied().unwrap_or(0) as usize;
                if l < 2 || i + l > opts.len() {
                    break;
                }
                if t & 0x80 == 0 {
                    // Replaced by NOPs, as the kernel does.
                    opts[i..i + l].fill(1);
                }
                i += l;
            }
        }
    }
    first.len()
}

/// Names of the header fields that differ between two versions of a packet.
pub fn diff_fields(before: &[u8], mb: &Meta, after: &[u8], ma: &Meta, out: &mut Vec<&'static str>) {
    if mb.mark != ma.mark {
        out.push("mark");
    }
    if before.len() != after.len() {
        out.push("length");
    }
    if before.len() < 20 || after.len() < 20 {
        if before != after {
            out.push("bytes");
        }
        return;
    }
    const IP_FIELDS: [(usize, usize, &str); 8] = [
        (1, 2, "tos"),
        (4, 6, "ip.id"),
        (6, 8, "ip.frag"),
        (8, 9, "ttl"),
        (9, 10, "protocol"),
        (10, 12, "ip.checksum"),
        (12, 16, "saddr"),
        (16, 20, "daddr"),
    ];
    for (a, b, name) in IP_FIELDS {
        if before[a..b] != after[a..b] {
            out.push(name);
        }
    }
    let hl = ((before[0] & 0x0f) as usize * 4).max(20);
    if before.len() >= hl + 4 && after.len() >= hl + 4 {
        if before[hl..hl + 2] != after[hl..hl + 2] {
            out.push("sport");
        }
        if before[hl + 2..hl + 4] != after[hl + 2..hl + 4] {
            out.push("dport");
        }
    }
    let rest_b = before.get(hl + 4..).unwrap_or(&[]);
    let rest_a = after.get(hl + 4..).unwrap_or(&[]);
    if rest_b != rest_a {
        out.push("l4");
    }
}

/// Does the layer-4 checksum of a packet verify (`nf_ip_checksum`)? Protocols without one
/// (or not known here) pass.
fn l4_checksum_ok(p: u8, l4: &[u8], src: [u8; 4], dst: [u8; 4]) -> bool {
    match p {
        proto::TCP => TcpPacket::new_checked(l4).is_ok_and(|t| t.verify_checksum_v4(src, dst)),
        proto::UDP => UdpPacket::new_checked(l4).is_ok_and(|u| u.verify_checksum_v4(src, dst)),
        // Anything else: a plain one's-complement sum over the payload (`nf_ip_checksum`
        // uses the pseudo-header only for TCP and UDP), which random payloads fail.
        _ => crate::wire::checksum::nf_payload_ok(l4),
    }
}

/// Milliseconds since midnight UTC on the packet clock (`inet_current_timestamp`).
fn now_ms_of_day(now: u64) -> u32 {
    ((now / 1_000_000) % 86_400_000) as u32
}

/// `inet_addr_type(a) == RTN_UNICAST`.
fn is_unicast_addr(fib: &Fib, a: Ipv4Addr) -> bool {
    !(a.is_unspecified() || a.is_broadcast() || a.is_multicast()) && fib.local_type(a).is_none()
}

/// `nf_conntrack_attach`: a packet the router makes in answer to another belongs to that
/// packet's connection, RELATED in the other direction; an untracked packet's answer gets
/// "related, no connection".
fn attach_ct(meta: &mut Meta, of: Option<CtRef>) {
    match of {
        None => {}
        Some(c) if c.info == CtInfo::Untracked => meta.ct_attached_none = true,
        Some(c) => {
            let info = if c.info.is_reply() {
                CtInfo::Related
            } else {
                CtInfo::RelatedReply
            };
            meta.ct = Some(CtRef { id: c.id, info });
        }
    }
}
