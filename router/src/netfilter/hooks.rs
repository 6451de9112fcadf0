//! The hook registry: per (family, hook), callbacks sorted by priority, with the kernel's
//! verdicts. Everything that touches a packet at a hook — the iptables tables, conntrack,
//! NAT, defrag, a QUEUE consumer, a test — registers here, so `router hooks` shows exactly
//! what runs.
//!
//! Order at equal priority follows the kernel's `nf_hook_entries_grow`: a new callback is
//! inserted *before* the first existing one whose priority is greater than or equal to its
//! own, so among equal priorities the most recently registered runs first.

use crate::packet::{IfIndex, PacketBuf};
use std::fmt;

/// Address family of a hook list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// NFPROTO_IPV4.
    Ipv4,
    /// NFPROTO_IPV6.
    Ipv6,
}

/// The five hooks (`enum nf_inet_hooks`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Hook {
    /// NF_INET_PRE_ROUTING.
    PreRouting,
    /// NF_INET_LOCAL_IN.
    LocalIn,
    /// NF_INET_FORWARD.
    Forward,
    /// NF_INET_LOCAL_OUT.
    LocalOut,
    /// NF_INET_POST_ROUTING.
    PostRouting,
}

impl Hook {
    /// All hooks in kernel order.
    pub const ALL: [Hook; 5] = [
        Hook::PreRouting,
        Hook::LocalIn,
        Hook::Forward,
        Hook::LocalOut,
        Hook::PostRouting,
    ];

    /// The iptables chain name.
    pub fn chain_name(self) -> &'static str {
        match self {
            Hook::PreRouting => "PREROUTING",
            Hook::LocalIn => "INPUT",
            Hook::Forward => "FORWARD",
            Hook::LocalOut => "OUTPUT",
            Hook::PostRouting => "POSTROUTING",
        }
    }

    /// The kernel's name (`NF_INET_*`).
    pub fn kernel_name(self) -> &'static str {
        match self {
            Hook::PreRouting => "NF_INET_PRE_ROUTING",
            Hook::LocalIn => "NF_INET_LOCAL_IN",
            Hook::Forward => "NF_INET_FORWARD",
            Hook::LocalOut => "NF_INET_LOCAL_OUT",
            Hook::PostRouting => "NF_INET_POST_ROUTING",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.chain_name())
    }
}

/// Named priorities (`enum nf_ip_hook_priorities`).
pub mod priority {
    /// NF_IP_PRI_FIRST.
    pub const FIRST: i32 = i32::MIN;
    /// NF_IP_PRI_RAW_BEFORE_DEFRAG.
    pub const RAW_BEFORE_DEFRAG: i32 = -450;
    /// NF_IP_PRI_CONNTRACK_DEFRAG.
    pub const CONNTRACK_DEFRAG: i32 = -400;
    /// NF_IP_PRI_RAW.
    pub const RAW: i32 = -300;
    /// NF_IP_PRI_SELINUX_FIRST.
    pub const SELINUX_FIRST: i32 = -225;
    /// NF_IP_PRI_CONNTRACK.
    pub const CONNTRACK: i32 = -200;
    /// NF_IP_PRI_MANGLE.
    pub const MANGLE: i32 = -150;
    /// NF_IP_PRI_NAT_DST.
    pub const NAT_DST: i32 = -100;
    /// NF_IP_PRI_FILTER.
    pub const FILTER: i32 = 0;
    /// The security table's priority as iptables-nft registers it: 150, after NAT's INPUT
    /// callback (the legacy `iptable_security` uses NF_IP_PRI_SECURITY, 50).
    pub const SECURITY: i32 = 150;
    /// NF_IP_PRI_NAT_SRC.
    pub const NAT_SRC: i32 = 100;
    /// NF_IP_PRI_SELINUX_LAST.
    pub const SELINUX_LAST: i32 = 225;
    /// NF_IP_PRI_CONNTRACK_HELPER.
    pub const CONNTRACK_HELPER: i32 = 300;
    /// NF_IP_PRI_CONNTRACK_CONFIRM / NF_IP_PRI_LAST.
    pub const CONNTRACK_CONFIRM: i32 = i32::MAX;
}

/// Why the datapath dropped a packet. Feeds counters and the trace; never a `Result`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DropReason {
    /// Shorter than an IPv4 header, or not version 4/6 (`IPSTATS_MIB_INHDRERRORS`).
    IpHeaderInvalid,
    /// IHL < 5 or larger than the data.
    IpBadIhl,
    /// Header checksum wrong (`IPSTATS_MIB_CSUMERRORS`).
    IpBadChecksum,
    /// Total length larger than the data (`IPSTATS_MIB_INTRUNCATEDPKTS`).
    IpTruncated,
    /// Total length smaller than the header.
    IpBadTotalLength,
    /// An IPv6 packet: IPv6 forwarding is not implemented yet.
    Ipv6Unsupported,
    /// Forwarding disabled on the ingress interface (`conf.IFACE.forwarding = 0`).
    ForwardingDisabled,
    /// No route to the destination.
    NoRoute,
    /// TTL expired in transit (time exceeded sent when allowed).
    TtlExpired,
    /// DF set and larger than the egress MTU (fragmentation needed sent).
    FragNeeded,
    /// Forwarded packet to a broadcast destination, or otherwise not for forwarding.
    NotForwardable,
    /// A transport header was malformed on local delivery.
    TransportMalformed,
    /// A transport checksum was wrong on local delivery (`*_MIB_CSUMERRORS`).
    TransportBadChecksum,
    /// Delivered locally, but no socket listens (the kernel's `SKB_DROP_REASON_NO_SOCKET`);
    /// any reset or ICMP error it calls for has been sent.
    NoSocket,
    /// Dropped by a hook callback.
    HookDrop,
    /// Queued to a queue nobody consumes.
    QueueNoConsumer,
    /// A callback returned REPEAT too many times in a row.
    RepeatLimit,
    /// The packet does not fit the buffer.
    TooBig,
    /// An ICMP error suppressed by the rate limiter.
    IcmpRateLimited,
    /// Martian source address (`ip_route_input_slow`'s martian_source).
    MartianSource,
    /// Martian destination address.
    MartianDestination,
    /// The QUEUE target's queue is full.
    QueueFull,
    /// A new connection could not be tracked: the table is full ("nf_conntrack: table
    /// full, dropping packet").
    ConntrackTableFull,
    /// A new connection clashed with an existing one at confirmation.
    ConntrackInsertFailed,
    /// A fragment whose data the reassembly queue already held (a duplicate).
    FragmentDuplicate,
    /// Malformed IP options (a parameter problem was sent).
    IpBadOptions,
    /// A source-routed packet not accepted (`accept_source_route`), or a source route that
    /// cannot be followed.
    SourceRoute,
    /// A strict source route whose next hop is not directly connected (source route
    /// failed was sent).
    SourceRouteFailed,
    /// A fragment whose datagram was discarded: overlapping or inconsistent fragments,
    /// over 65535 bytes, mixed ECN, or reassembly memory exhausted (`ReasmFails`).
    FragmentReasmFailed,
}

impl DropReason {
    /// A short, stable, snake_case name for counters, traces and logs.
    pub fn name(self) -> &'static str {
        use DropReason::*;
        match self {
            IpHeaderInvalid => "ip_header_invalid",
            IpBadIhl => "ip_bad_ihl",
            IpBadChecksum => "ip_bad_checksum",
            IpTruncated => "ip_truncated",
            IpBadTotalLength => "ip_bad_total_length",
            Ipv6Unsupported => "ipv6_unsupported",
            ForwardingDisabled => "forwarding_disabled",
            NoRoute => "no_route",
            TtlExpired => "ttl_expired",
            FragNeeded => "frag_needed",
            NotForwardable => "not_forwardable",
            TransportMalformed => "transport_malformed",
            TransportBadChecksum => "transport_bad_checksum",
            NoSocket => "no_socket",
            HookDrop => "hook_drop",
            QueueNoConsumer => "queue_no_consumer",
            RepeatLimit => "repeat_limit",
            TooBig => "too_big",
            IcmpRateLimited => "icmp_rate_limited",
            MartianSource => "martian_source",
            MartianDestination => "martian_destination",
            QueueFull => "queue_full",
            ConntrackTableFull => "conntrack_table_full",
            ConntrackInsertFailed => "conntrack_insert_failed",
            FragmentDuplicate => "fragment_duplicate",
            IpBadOptions => "ip_bad_options",
            SourceRoute => "source_route",
            SourceRouteFailed => "source_route_failed",
            FragmentReasmFailed => "fragment_reasm_failed",
        }
    }

    /// Every reason, in declaration order (`reason as usize` indexes this).
    pub const ALL: [DropReason; 29] = {
        use DropReason::*;
        [
            IpHeaderInvalid,
            IpBadIhl,
            IpBadChecksum,
            IpTruncated,
            IpBadTotalLength,
            Ipv6Unsupported,
            ForwardingDisabled,
            NoRoute,
            TtlExpired,
            FragNeeded,
            NotForwardable,
            TransportMalformed,
            TransportBadChecksum,
            NoSocket,
            HookDrop,
            QueueNoConsumer,
            RepeatLimit,
            TooBig,
            IcmpRateLimited,
            MartianSource,
            MartianDestination,
            QueueFull,
            ConntrackTableFull,
            ConntrackInsertFailed,
            FragmentDuplicate,
            FragmentReasmFailed,
            IpBadOptions,
            SourceRoute,
            SourceRouteFailed,
        ]
    };
}

/// A callback's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Continue with the next callback.
    Accept,
    /// Drop the packet.
    Drop,
    /// Hand the packet to queue `n` for a consumer, which later reinjects it with a verdict.
    Queue(u16),
    /// The callback took the packet; stop without freeing it.
    Stolen,
    /// Call this callback again.
    Repeat,
}

impl Verdict {
    /// Kernel name (`NF_ACCEPT`, …).
    pub fn name(&self) -> &'static str {
        match self {
            Verdict::Accept => "ACCEPT",
            Verdict::Drop => "DROP",
            Verdict::Queue(_) => "QUEUE",
            Verdict::Stolen => "STOLEN",
            Verdict::Repeat => "REPEAT",
        }
    }
}

/// What a callback knows besides the packet (`struct nf_hook_state`).
#[derive(Debug, Clone, Copy)]
pub struct HookState {
    /// The hook being run.
    pub hook: Hook,
    /// Family.
    pub family: Family,
    /// Input interface (PREROUTING, INPUT, FORWARD).
    pub in_dev: Option<IfIndex>,
    /// Output interface (FORWARD, OUTPUT after routing, POSTROUTING).
    pub out_dev: Option<IfIndex>,
    /// The packet clock, in nanoseconds.
    pub now: u64,
}

/// Side effects a callback asks of the pipeline besides its verdict.
#[derive(Debug, Default, Clone, Copy)]
pub struct Effects {
    /// With a DROP verdict: the reason to count instead of the generic `hook_drop`.
    pub drop_reason: Option<DropReason>,
    /// With a DROP verdict: answer the packet first (the REJECT target).
    pub reject: Option<crate::netfilter::tables::ast::RejectWith>,
}

/// The router's subsystems a callback may use, borrowed for the call.
pub struct HookCtx<'a> {
    /// The connection table.
    pub conntrack: &'a mut crate::netfilter::conntrack::Conntrack,
    /// The reassembly queues.
    pub defrag: &'a mut crate::defrag::Defrag,
    /// The iptables tables.
    pub tables: &'a mut crate::netfilter::tables::eval::Tables,
    /// Routing tables (address types).
    pub fib: &'a crate::route::Fib,
    /// Interface names and MTUs, indexed by interface index.
    pub ifaces: &'a [(String, usize)],
    /// Effects to apply after the callback returns.
    pub effects: &'a mut Effects,
}

impl HookCtx<'_> {
    /// The name of interface `dev` (empty if unknown).
    pub fn if_name(&self, dev: IfIndex) -> &str {
        self.ifaces.get(dev.0 as usize).map_or("", |x| x.0.as_str())
    }
    /// The MTU of interface `dev`.
    pub fn mtu(&self, dev: IfIndex) -> usize {
        self.ifaces.get(dev.0 as usize).map_or(1500, |x| x.1)
    }
}

/// A hook callback.
pub trait HookFn: Send {
    /// Look at (and possibly change) the packet; say what to do with it.
    fn call(&mut self, pkt: &mut PacketBuf, state: &HookState, cx: &mut HookCtx<'_>) -> Verdict;
}

/// Plain closures are callbacks that need nothing but the packet.
impl<F: FnMut(&mut PacketBuf, &HookState) -> Verdict + Send> HookFn for F {
    fn call(&mut self, pkt: &mut PacketBuf, state: &HookState, _cx: &mut HookCtx<'_>) -> Verdict {
        self(pkt, state)
    }
}

/// A registered callback.
pub struct Entry {
    /// Priority (lower runs first).
    pub priority: i32,
    /// Name for listings and traces (e.g. `iptable_filter`).
    pub name: String,
    /// The callback.
    pub func: Box<dyn HookFn>,
}

/// Callbacks per (family, hook).
#[derive(Default)]
pub struct Registry {
    lists: [[Vec<Entry>; 5]; 2],
}

fn fam(f: Family) -> usize {
    match f {
        Family::Ipv4 => 0,
        Family::Ipv6 => 1,
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Register a callback (see the module doc for the order at equal priority).
    pub fn register(
        &mut self,
        family: Family,
        hook: Hook,
        priority: i32,
        name: impl Into<String>,
        func: Box<dyn HookFn>,
    ) {
        let list = &mut self.lists[fam(family)][hook.index()];
        let pos = list
            .iter()
            .position(|e| priority <= e.priority)
            .unwrap_or(list.len());
        list.insert(
            pos,
            Entry {
                priority,
                name: name.into(),
                func,
            },
        );
    }

    /// Remove every callback with this name from one hook; returns how many.
    pub fn unregister(&mut self, family: Family, hook: Hook, name: &str) -> usize {
        let list = &mut self.lists[fam(family)][hook.index()];
        let before = list.len();
        list.retain(|e| e.name != name);
        before - list.len()
    }

    /// The callbacks of one hook, in call order.
    pub fn entries(&self, family: Family, hook: Hook) -> &[Entry] {
        &self.lists[fam(family)][hook.index()]
    }

    /// Mutable access to one hook's list (the pipeline runs callbacks through this).
    pub fn entries_mut(&mut self, family: Family, hook: Hook) -> &mut [Entry] {
        &mut self.lists[fam(family)][hook.index()]
    }

    /// A listing in the style of `list-nf-hooks` (one block per hook, one line per callback).
    pub fn listing(&self, family: Family) -> String {
        let mut out = String::new();
        let fam_name = match family {
            Family::Ipv4 => "ipv4",
            Family::Ipv6 => "ipv6",
        };
        for hook in Hook::ALL {
            out.push_str(&format!(
                "{fam_name} {}  ({})\n",
                hook.chain_name(),
                hook.kernel_name()
            ));
            let list = self.entries(family, hook);
            if list.is_empty() {
                out.push_str("    (no callbacks)\n");
            }
            for e in list {
                out.push_str(&format!("    {:>11}  {}\n", e.priority, e.name));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn priority_order_and_equal_priority_rule() {
        let mut r = Registry::new();
        let calls = Arc::new(Mutex::new(Vec::new()));
        for (name, prio) in [
            ("filter", 0),
            ("raw", -300),
            ("confirm", i32::MAX),
            ("second-filter", 0),
            ("mangle", -150),
        ] {
            let c = calls.clone();
            let n = name.to_string();
            r.register(
                Family::Ipv4,
                Hook::LocalIn,
                prio,
                name,
                Box::new(move |_: &mut PacketBuf, _: &HookState| {
                    c.lock().unwrap().push(n.clone());
                    Verdict::Accept
                }),
            );
        }
        let names: Vec<&str> = r
            .entries(Family::Ipv4, Hook::LocalIn)
            .iter()
            .map(|e| e.name.as_str())
            .collect();
        // Equal priority: the later registration runs first (nf_hook_entries_grow).
        assert_eq!(
            names,
            ["raw", "mangle", "second-filter", "filter", "confirm"]
        );
        assert!(r.entries(Family::Ipv4, Hook::Forward).is_empty());
        assert!(r.entries(Family::Ipv6, Hook::LocalIn).is_empty());
        assert_eq!(r.unregister(Family::Ipv4, Hook::LocalIn, "filter"), 1);
        assert_eq!(r.entries(Family::Ipv4, Hook::LocalIn).len(), 4);
        let listing = r.listing(Family::Ipv4);
        assert!(
            listing.contains("ipv4 INPUT  (NF_INET_LOCAL_IN)\n           -300  raw\n"),
            "{listing}"
        );
    }
}
