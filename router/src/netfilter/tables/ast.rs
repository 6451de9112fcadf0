//! The typed form of an iptables ruleset: tables, chains, rules, and every match and target
//! with its values already parsed into what the kernel stores, so that evaluation does no
//! string work.
//!
//! Conventions:
//! - Every match carries its negation (`neg`), exactly where iptables allows a `!`.
//! - A rule's `matches` are in the kernel's evaluation order: first the base flags (`-s`,
//!   `-d`, `-i`, `-o`, `-p`, `-f`, which the kernel checks together in `ip_packet_match`
//!   before any match module), then the match modules in the order iptables loaded them
//!   (command-line order, an implicitly loaded protocol match where its first option
//!   appeared). This is also the order `iptables-save` prints.
//! - Values are in host byte order.
//! - Anything the router does not implement is kept as `Match::Unsupported` /
//!   `Target::Unsupported` with its options and the reason, never silently dropped;
//!   [`Ruleset::unsupported`] lists them.

use crate::netfilter::hooks::Hook;
use std::fmt::{self, Write as _};
use std::net::Ipv4Addr;

/// A position in the rules file (1-based line and column; column counts characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Loc {
    /// 1-based line.
    pub line: usize,
    /// 1-based column (characters).
    pub column: usize,
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// A whole ruleset: the tables in the order their sections appeared.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ruleset {
    /// One entry per table section (a table restored twice keeps only its last section, as
    /// the second `*table` flushes the first).
    pub tables: Vec<Table>,
}

/// The five IPv4 tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TableName {
    /// `raw` (priority -300).
    Raw,
    /// `mangle` (priority -150).
    Mangle,
    /// `nat` (DNAT -100, SNAT 100).
    Nat,
    /// `filter` (priority 0).
    Filter,
    /// `security` (priority 150 under iptables-nft).
    Security,
}

impl TableName {
    /// Every table.
    pub const ALL: [TableName; 5] = [
        TableName::Raw,
        TableName::Mangle,
        TableName::Nat,
        TableName::Filter,
        TableName::Security,
    ];

    /// The order `iptables-save` (nf_tables) prints tables in: `enum nft_table_type`.
    pub const SAVE_ORDER: [TableName; 5] = [
        TableName::Mangle,
        TableName::Security,
        TableName::Raw,
        TableName::Filter,
        TableName::Nat,
    ];

    /// The name as in `*filter`.
    pub fn as_str(self) -> &'static str {
        match self {
            TableName::Raw => "raw",
            TableName::Mangle => "mangle",
            TableName::Nat => "nat",
            TableName::Filter => "filter",
            TableName::Security => "security",
        }
    }

    /// Parse a table name (exact, case-sensitive, as iptables-restore does).
    pub fn from_name(s: &str) -> Option<TableName> {
        TableName::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The hooks this table registers at, i.e. its built-in chains, in kernel order.
    pub fn hooks(self) -> &'static [Hook] {
        use Hook::*;
        match self {
            TableName::Raw => &[PreRouting, LocalOut],
            TableName::Mangle => &[PreRouting, LocalIn, Forward, LocalOut, PostRouting],
            TableName::Nat => &[PreRouting, LocalIn, LocalOut, PostRouting],
            TableName::Filter | TableName::Security => &[LocalIn, Forward, LocalOut],
        }
    }

    /// The hook of built-in chain `name` in this table, if it is one.
    pub fn builtin_hook(self, name: &str) -> Option<Hook> {
        self.hooks()
            .iter()
            .copied()
            .find(|h| h.chain_name() == name)
    }
}

impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One table: its built-in chains (always all of them, in hook order, whether or not the
/// file declared them) followed by the user-defined chains in creation order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// Which table.
    pub name: TableName,
    /// Chains: built-ins first (hook order), then user chains.
    pub chains: Vec<Chain>,
    /// Line of the `*table` header.
    pub line: usize,
}

impl Table {
    /// The chain called `name`.
    pub fn chain(&self, name: &str) -> Option<&Chain> {
        self.chains.iter().find(|c| c.name == name)
    }

    /// The built-in chain of `hook`, if this table has one.
    pub fn builtin(&self, hook: Hook) -> Option<&Chain> {
        self.chains
            .iter()
            .find(|c| c.builtin && c.name == hook.chain_name())
    }
}

/// A built-in chain's policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Policy {
    /// `ACCEPT`.
    Accept,
    /// `DROP`.
    Drop,
}

impl Policy {
    /// `ACCEPT` / `DROP`.
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Accept => "ACCEPT",
            Policy::Drop => "DROP",
        }
    }
}

/// Packet and byte counters (`[packets:bytes]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Counters {
    /// Packets.
    pub packets: u64,
    /// Bytes.
    pub bytes: u64,
}

/// A chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    /// Name (at most 28 characters).
    pub name: String,
    /// True for the table's built-in chains.
    pub builtin: bool,
    /// Policy of a built-in chain (`None` for user chains).
    pub policy: Option<Policy>,
    /// Policy counters as written on the chain line (zero when absent).
    pub counters: Counters,
    /// Rules in order.
    pub rules: Vec<Rule>,
    /// Line of the `:CHAIN` declaration (0 for a built-in chain the file did not declare).
    pub line: usize,
}

impl Chain {
    /// The hook of a built-in chain.
    pub fn hook(&self) -> Option<Hook> {
        if !self.builtin {
            return None;
        }
        Hook::ALL
            .iter()
            .copied()
            .find(|h| h.chain_name() == self.name)
    }
}

/// A rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Where the command (`-A`, `-I`, …) is.
    pub loc: Loc,
    /// Counters (`[p:b]` prefix or `-c p b`; zero when absent).
    pub counters: Counters,
    /// Matches in evaluation order (see the module documentation).
    pub matches: Vec<Match>,
    /// The target; `None` for a counting-only rule (it just continues).
    pub target: Option<Target>,
    /// The source line, without its line ending, for listings and errors. Rules expanded
    /// from an address list (`-s a,b`) share it.
    pub text: String,
}

/// An IPv4 network as iptables stores it: address and mask, the address already masked.
/// Masks need not be contiguous (`-s 10.0.0.1/255.0.255.0` is valid iptables).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Net {
    /// Network address (`addr & mask`).
    pub addr: Ipv4Addr,
    /// Mask.
    pub mask: Ipv4Addr,
}

impl Ipv4Net {
    /// `0.0.0.0/0`.
    pub const ANY: Ipv4Net = Ipv4Net {
        addr: Ipv4Addr::UNSPECIFIED,
        mask: Ipv4Addr::UNSPECIFIED,
    };

    /// A network from an address and a mask (host bits are cleared).
    pub fn new(addr: Ipv4Addr, mask: Ipv4Addr) -> Ipv4Net {
        Ipv4Net {
            addr: Ipv4Addr::from(u32::from(addr) & u32::from(mask)),
            mask,
        }
    }

    /// A network from an address and a prefix length (0-32; larger is treated as 32).
    pub fn from_prefix(addr: Ipv4Addr, len: u8) -> Ipv4Net {
        Ipv4Net::new(addr, Ipv4Addr::from(prefix_mask(len)))
    }

    /// The prefix length when the mask is contiguous.
    pub fn prefix_len(&self) -> Option<u8> {
        mask_prefix_len(u32::from(self.mask))
    }

    /// Does `a` belong to this network (`(a & mask) == addr`, as the kernel tests)?
    pub fn contains(&self, a: Ipv4Addr) -> bool {
        u32::from(a) & u32::from(self.mask) == u32::from(self.addr)
    }
}

impl fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.prefix_len() {
            Some(l) => write!(f, "{}/{}", self.addr, l),
            None => write!(f, "{}/{}", self.addr, self.mask),
        }
    }
}

/// The mask of a prefix length (0-32; larger is treated as 32).
pub fn prefix_mask(len: u8) -> u32 {
    if len == 0 {
        0
    } else if len >= 32 {
        u32::MAX
    } else {
        u32::MAX << (32 - u32::from(len))
    }
}

/// The prefix length of a contiguous mask.
pub fn mask_prefix_len(mask: u32) -> Option<u8> {
    let len = mask.leading_ones();
    (prefix_mask(len as u8) == mask).then_some(len as u8)
}

/// An interface name as `-i`/`-o` take it: exact, or a prefix when written with a trailing
/// `+` (`eth+`; a lone `+` matches every interface).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Iface {
    /// The name without the trailing `+`.
    pub name: String,
    /// Written with a trailing `+`: match every interface whose name starts with `name`.
    pub wildcard: bool,
}

impl Iface {
    /// Does interface `dev` match?
    pub fn matches(&self, dev: &str) -> bool {
        if self.wildcard {
            dev.as_bytes().starts_with(self.name.as_bytes())
        } else {
            dev == self.name
        }
    }
}

impl fmt::Display for Iface {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if self.wildcard {
            f.write_char('+')?;
        }
        Ok(())
    }
}

/// An inclusive port range (`a`, `a:b`, `a:`, `:b`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PortRange {
    /// Lowest port.
    pub lo: u16,
    /// Highest port (a range with `lo > hi` never matches, as in the kernel).
    pub hi: u16,
}

impl PortRange {
    /// Every port.
    pub const ALL: PortRange = PortRange { lo: 0, hi: 65535 };

    /// One port.
    pub fn single(p: u16) -> PortRange {
        PortRange { lo: p, hi: p }
    }

    /// Is `p` in the range?
    pub fn contains(&self, p: u16) -> bool {
        self.lo <= p && p <= self.hi
    }
}

/// A port test with its negation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PortMatch {
    /// The range.
    pub range: PortRange,
    /// `!` given.
    pub neg: bool,
}

/// An address test with its negation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NetMatch {
    /// The network.
    pub net: Ipv4Net,
    /// `!` given.
    pub neg: bool,
}

/// Conntrack state bits (`XT_CONNTRACK_STATE_*`), as used by `--state` and `--ctstate`.
pub mod ctstate {
    /// INVALID: no conntrack entry (`XT_CONNTRACK_STATE_INVALID`).
    pub const INVALID: u16 = 1 << 0;
    /// ESTABLISHED (`IP_CT_ESTABLISHED`, either direction).
    pub const ESTABLISHED: u16 = 1 << 1;
    /// RELATED (`IP_CT_RELATED`, either direction).
    pub const RELATED: u16 = 1 << 2;
    /// NEW (`IP_CT_NEW`).
    pub const NEW: u16 = 1 << 3;
    /// SNAT: the connection's source was translated (conntrack only).
    pub const SNAT: u16 = 1 << 6;
    /// DNAT: the connection's destination was translated (conntrack only).
    pub const DNAT: u16 = 1 << 7;
    /// UNTRACKED (`XT_CONNTRACK_STATE_UNTRACKED`).
    pub const UNTRACKED: u16 = 1 << 8;
    /// Names in the order iptables-save prints them.
    pub const NAMES: [(u16, &str); 7] = [
        (INVALID, "INVALID"),
        (NEW, "NEW"),
        (RELATED, "RELATED"),
        (ESTABLISHED, "ESTABLISHED"),
        (UNTRACKED, "UNTRACKED"),
        (SNAT, "SNAT"),
        (DNAT, "DNAT"),
    ];
}

/// Conntrack status bits (`IPS_*`) as `--ctstatus` takes them.
pub mod ctstatus {
    /// IPS_EXPECTED.
    pub const EXPECTED: u32 = 1 << 0;
    /// IPS_SEEN_REPLY.
    pub const SEEN_REPLY: u32 = 1 << 1;
    /// IPS_ASSURED.
    pub const ASSURED: u32 = 1 << 2;
    /// IPS_CONFIRMED.
    pub const CONFIRMED: u32 = 1 << 3;
}

/// Route types (`RTN_*`) as `addrtype` bit positions (`1 << RTN_x`).
pub mod rtn {
    /// RTN_UNSPEC.
    pub const UNSPEC: u16 = 1 << 0;
    /// RTN_UNICAST.
    pub const UNICAST: u16 = 1 << 1;
    /// RTN_LOCAL.
    pub const LOCAL: u16 = 1 << 2;
    /// RTN_BROADCAST.
    pub const BROADCAST: u16 = 1 << 3;
    /// RTN_ANYCAST.
    pub const ANYCAST: u16 = 1 << 4;
    /// RTN_MULTICAST.
    pub const MULTICAST: u16 = 1 << 5;
    /// RTN_BLACKHOLE.
    pub const BLACKHOLE: u16 = 1 << 6;
    /// RTN_UNREACHABLE.
    pub const UNREACHABLE: u16 = 1 << 7;
    /// RTN_PROHIBIT.
    pub const PROHIBIT: u16 = 1 << 8;
    /// RTN_THROW.
    pub const THROW: u16 = 1 << 9;
    /// RTN_NAT.
    pub const NAT: u16 = 1 << 10;
    /// RTN_XRESOLVE.
    pub const XRESOLVE: u16 = 1 << 11;
    /// Names in bit order (index = RTN value).
    pub const NAMES: [&str; 12] = [
        "UNSPEC",
        "UNICAST",
        "LOCAL",
        "BROADCAST",
        "ANYCAST",
        "MULTICAST",
        "BLACKHOLE",
        "UNREACHABLE",
        "PROHIBIT",
        "THROW",
        "NAT",
        "XRESOLVE",
    ];
}

/// TCP flag bits as `--tcp-flags` names them.
pub mod tcpflag {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// RST.
    pub const RST: u8 = 0x04;
    /// PSH.
    pub const PSH: u8 = 0x08;
    /// ACK.
    pub const ACK: u8 = 0x10;
    /// URG.
    pub const URG: u8 = 0x20;
    /// Names in the order iptables-save prints them.
    pub const NAMES: [(u8, &str); 6] = [
        (FIN, "FIN"),
        (SYN, "SYN"),
        (RST, "RST"),
        (PSH, "PSH"),
        (ACK, "ACK"),
        (URG, "URG"),
    ];
}

/// `-m tcp` (also loaded implicitly by `-p tcp` and a tcp option).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct TcpMatch {
    /// `--sport`.
    pub sport: Option<PortMatch>,
    /// `--dport`.
    pub dport: Option<PortMatch>,
    /// `--tcp-flags mask comp` / `--syn` (= `FIN,SYN,RST,ACK SYN`): `flags & mask == comp`.
    pub flags: Option<TcpFlags>,
    /// `--tcp-option N`: option kind present.
    pub option: Option<(u8, bool)>,
}

/// A TCP flags test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TcpFlags {
    /// Flags examined.
    pub mask: u8,
    /// Required values of the examined flags.
    pub comp: u8,
    /// `!` given.
    pub neg: bool,
}

/// `-m udp`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct UdpMatch {
    /// `--sport`.
    pub sport: Option<PortMatch>,
    /// `--dport`.
    pub dport: Option<PortMatch>,
}

/// `-m sctp` (ports only; `--chunk-types` makes the match unsupported).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct SctpMatch {
    /// `--sport`.
    pub sport: Option<PortMatch>,
    /// `--dport`.
    pub dport: Option<PortMatch>,
}

/// `-m icmp --icmp-type`: type and code range as iptables stores them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IcmpMatch {
    /// ICMP type; 255 means any type (`any`).
    pub icmp_type: u8,
    /// Lowest code.
    pub code_min: u8,
    /// Highest code.
    pub code_max: u8,
    /// `!` given.
    pub neg: bool,
}

/// Which ports `multiport` tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MultiportDir {
    /// `--sports`.
    Source,
    /// `--dports`.
    Destination,
    /// `--ports`: source or destination.
    Either,
}

/// `-m multiport` (revision 1: up to 15 slots, a range takes two).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MultiportMatch {
    /// Which ports.
    pub dir: MultiportDir,
    /// Ports and ranges.
    pub ports: Vec<PortRange>,
    /// `!` given.
    pub neg: bool,
}

/// An inclusive address range with its negation (`-m iprange`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AddrRange {
    /// Lowest address.
    pub lo: Ipv4Addr,
    /// Highest address (reversed ranges never match).
    pub hi: Ipv4Addr,
    /// `!` given.
    pub neg: bool,
}

/// `-m iprange`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpRangeMatch {
    /// `--src-range`.
    pub src: Option<AddrRange>,
    /// `--dst-range`.
    pub dst: Option<AddrRange>,
}

/// `--limit-iface-in` / `--limit-iface-out` of `addrtype`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddrTypeLimit {
    /// Look the address up on the input interface only.
    In,
    /// On the output interface only.
    Out,
}

/// `-m addrtype` (revision 1). Type sets are bitmasks of `1 << RTN_*` ([`rtn`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AddrTypeMatch {
    /// `--src-type`: (types, `!`).
    pub src: Option<(u16, bool)>,
    /// `--dst-type`: (types, `!`).
    pub dst: Option<(u16, bool)>,
    /// `--limit-iface-in/out`.
    pub limit: Option<AddrTypeLimit>,
}

/// `-m ttl` comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TtlOp {
    /// `--ttl-eq`.
    Eq,
    /// `! --ttl-eq`.
    Ne,
    /// `--ttl-lt`.
    Lt,
    /// `--ttl-gt`.
    Gt,
}

/// `-m pkttype` kinds (`PACKET_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PktType {
    /// `unicast` / `host` (PACKET_HOST).
    Unicast,
    /// `broadcast` / `bcast` (PACKET_BROADCAST).
    Broadcast,
    /// `multicast` / `mcast` (PACKET_MULTICAST).
    Multicast,
    /// `otherhost` (PACKET_OTHERHOST).
    OtherHost,
}

impl PktType {
    /// The name iptables-save prints.
    pub fn as_str(self) -> &'static str {
        match self {
            PktType::Unicast => "unicast",
            PktType::Broadcast => "broadcast",
            PktType::Multicast => "multicast",
            PktType::OtherHost => "otherhost",
        }
    }
}

/// `--ctdir`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CtDir {
    /// ORIGINAL.
    Original,
    /// REPLY.
    Reply,
}

/// `-m conntrack` (revision 3).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ConntrackMatch {
    /// `--ctstate`: ([`ctstate`] bits, `!`).
    pub state: Option<(u16, bool)>,
    /// `--ctproto`: (protocol, `!`).
    pub proto: Option<(u8, bool)>,
    /// `--ctorigsrc` (stored masked; the kernel compares masked addresses, iptables-save
    /// would print the address as written).
    pub orig_src: Option<NetMatch>,
    /// `--ctorigdst`.
    pub orig_dst: Option<NetMatch>,
    /// `--ctreplsrc`.
    pub repl_src: Option<NetMatch>,
    /// `--ctrepldst`.
    pub repl_dst: Option<NetMatch>,
    /// `--ctorigsrcport`.
    pub orig_src_port: Option<PortMatch>,
    /// `--ctorigdstport`.
    pub orig_dst_port: Option<PortMatch>,
    /// `--ctreplsrcport`.
    pub repl_src_port: Option<PortMatch>,
    /// `--ctrepldstport`.
    pub repl_dst_port: Option<PortMatch>,
    /// `--ctstatus`: ([`ctstatus`] bits, `!`).
    pub status: Option<(u32, bool)>,
    /// `--ctexpire`: (min seconds, max seconds, `!`).
    pub expire: Option<(u32, u32, bool)>,
    /// `--ctdir`.
    pub dir: Option<CtDir>,
}

/// `-m statistic` mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatisticMode {
    /// `--mode random --probability p`: matches when a random 31-bit number is below
    /// `probability`, which iptables stores as `lround(p * 2^31)`.
    Random {
        /// `lround(p * 0x80000000)`.
        probability: u32,
    },
    /// `--mode nth --every n --packet p`: matches every `n`th packet, starting at packet `p`.
    Nth {
        /// `n` (>= 1) as written; the kernel stores `n - 1`.
        every: u32,
        /// `p` (0 <= p < n).
        packet: u32,
    },
}

/// `-m statistic`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StatisticMatch {
    /// Mode and parameters.
    pub mode: StatisticMode,
    /// `!` given (before `--probability` or `--every`).
    pub neg: bool,
}

/// `-m limit`, in the kernel's `xt_rateinfo` units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LimitMatch {
    /// Average interval between packets in 1/10000 s (`XT_LIMIT_SCALE * seconds / count`);
    /// the default `3/hour` is 12_000_000.
    pub avg: u32,
    /// Burst (default 5).
    pub burst: u32,
    /// The rate as written: `count` packets …
    pub count: u32,
    /// … per this many seconds (1, 60, 3600 or 86400).
    pub per_secs: u32,
}

/// `-m recent` operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecentOp {
    /// `--set`: add/refresh the address; always matches (unless negated).
    Set,
    /// `--rcheck`: is the address in the list?
    Check,
    /// `--update`: like rcheck, and refresh the timestamp when it is.
    Update,
    /// `--remove`: remove the address when present (matches then).
    Remove,
}

/// Which address `recent` records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecentSide {
    /// `--rsource` (default).
    Source,
    /// `--rdest`.
    Dest,
}

/// `-m recent` (revision 1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RecentMatch {
    /// The operation.
    pub op: RecentOp,
    /// `!` given before the operation.
    pub neg: bool,
    /// `--name` (default `DEFAULT`).
    pub name: String,
    /// `--seconds` (0 = not given).
    pub seconds: u32,
    /// `--reap`.
    pub reap: bool,
    /// `--hitcount` (0 = not given).
    pub hitcount: u32,
    /// `--rttl`.
    pub rttl: bool,
    /// `--rsource` / `--rdest`.
    pub side: RecentSide,
    /// `--mask` (default 255.255.255.255).
    pub mask: Ipv4Addr,
}

/// A match: a base flag or a match module.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Match {
    /// `[!] -s net`.
    Src(NetMatch),
    /// `[!] -d net`.
    Dst(NetMatch),
    /// `[!] -i iface`.
    InIface {
        /// The interface.
        iface: Iface,
        /// `!` given.
        neg: bool,
    },
    /// `[!] -o iface`.
    OutIface {
        /// The interface.
        iface: Iface,
        /// `!` given.
        neg: bool,
    },
    /// `[!] -p proto` (never 0: `-p all` adds no match).
    Proto {
        /// IP protocol number.
        proto: u8,
        /// `!` given.
        neg: bool,
    },
    /// `[!] -f`: second and later fragments (`! -f`: unfragmented and first fragments).
    Fragment {
        /// `!` given.
        neg: bool,
    },
    /// `-m tcp`.
    Tcp(TcpMatch),
    /// `-m udp`.
    Udp(UdpMatch),
    /// `-m sctp` (ports only).
    Sctp(SctpMatch),
    /// `-m icmp`.
    Icmp(IcmpMatch),
    /// `-m multiport`.
    Multiport(MultiportMatch),
    /// `-m iprange`.
    IpRange(IpRangeMatch),
    /// `-m addrtype`.
    AddrType(AddrTypeMatch),
    /// `-m comment --comment` (always matches; at most 255 bytes kept, as iptables does).
    Comment(String),
    /// `-m mark [!] --mark value[/mask]`: `(skb->mark & mask) == value`.
    Mark {
        /// Value.
        value: u32,
        /// Mask (0xffffffff when not given).
        mask: u32,
        /// `!` given.
        neg: bool,
    },
    /// `-m connmark [!] --mark value[/mask]` on the connection mark.
    ConnMark {
        /// Value.
        value: u32,
        /// Mask.
        mask: u32,
        /// `!` given.
        neg: bool,
    },
    /// `-m length [!] --length min[:max]` (IP total length).
    Length {
        /// Lowest length.
        min: u16,
        /// Highest length.
        max: u16,
        /// `!` given.
        neg: bool,
    },
    /// `-m ttl`.
    Ttl {
        /// The comparison.
        op: TtlOp,
        /// The value.
        value: u8,
    },
    /// `-m tos [!] --tos value[/mask]`: `(tos & mask) == value`.
    Tos {
        /// Value.
        value: u8,
        /// Mask (0xff for a number, 0x3f for a symbolic name).
        mask: u8,
        /// `!` given.
        neg: bool,
    },
    /// `-m dscp [!] --dscp n` / `--dscp-class C`.
    Dscp {
        /// DSCP (0-63).
        dscp: u8,
        /// `!` given.
        neg: bool,
    },
    /// `-m pkttype [!] --pkt-type`.
    PktType {
        /// The kind.
        kind: PktType,
        /// `!` given.
        neg: bool,
    },
    /// `-m state [!] --state` ([`ctstate`] bits; SNAT/DNAT are not allowed here).
    State {
        /// States.
        states: u16,
        /// `!` given.
        neg: bool,
    },
    /// `-m conntrack`.
    Conntrack(ConntrackMatch),
    /// `-m statistic`.
    Statistic(StatisticMatch),
    /// `-m limit`.
    Limit(LimitMatch),
    /// `-m recent`.
    Recent(RecentMatch),
    /// A match module the router does not implement; the loader refuses rulesets with these.
    Unsupported {
        /// Module name (`set`, `owner`, …).
        module: String,
        /// Its options as written (tokens, `!` included).
        options: Vec<String>,
        /// Where `-m module` is.
        loc: Loc,
        /// Why it is unsupported and what it would need.
        reason: String,
    },
}

/// `--reject-with`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectWith {
    /// icmp-net-unreachable.
    NetUnreachable,
    /// icmp-host-unreachable.
    HostUnreachable,
    /// icmp-proto-unreachable.
    ProtoUnreachable,
    /// icmp-port-unreachable (default).
    PortUnreachable,
    /// icmp-net-prohibited.
    NetProhibited,
    /// icmp-host-prohibited.
    HostProhibited,
    /// tcp-reset.
    TcpReset,
    /// icmp-admin-prohibited.
    AdminProhibited,
}

impl RejectWith {
    /// The name iptables-save prints.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectWith::NetUnreachable => "icmp-net-unreachable",
            RejectWith::HostUnreachable => "icmp-host-unreachable",
            RejectWith::ProtoUnreachable => "icmp-proto-unreachable",
            RejectWith::PortUnreachable => "icmp-port-unreachable",
            RejectWith::NetProhibited => "icmp-net-prohibited",
            RejectWith::HostProhibited => "icmp-host-prohibited",
            RejectWith::TcpReset => "tcp-reset",
            RejectWith::AdminProhibited => "icmp-admin-prohibited",
        }
    }

    /// The ICMP (type, code) sent, or `None` for a TCP reset.
    pub fn icmp(self) -> Option<(u8, u8)> {
        match self {
            RejectWith::NetUnreachable => Some((3, 0)),
            RejectWith::HostUnreachable => Some((3, 1)),
            RejectWith::ProtoUnreachable => Some((3, 2)),
            RejectWith::PortUnreachable => Some((3, 3)),
            RejectWith::NetProhibited => Some((3, 9)),
            RejectWith::HostProhibited => Some((3, 10)),
            RejectWith::AdminProhibited => Some((3, 13)),
            RejectWith::TcpReset => None,
        }
    }
}

/// LOG flag bits (`XT_LOG_*`).
pub mod logflag {
    /// --log-tcp-sequence.
    pub const TCPSEQ: u8 = 0x01;
    /// --log-tcp-options.
    pub const TCPOPT: u8 = 0x02;
    /// --log-ip-options.
    pub const IPOPT: u8 = 0x04;
    /// --log-uid.
    pub const UID: u8 = 0x08;
    /// --log-macdecode.
    pub const MACDECODE: u8 = 0x20;
}

/// `-j LOG`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LogTarget {
    /// Syslog level 0-7 (default 4, warning).
    pub level: u8,
    /// Prefix (at most 29 bytes; longer prefixes are cut as iptables does).
    pub prefix: String,
    /// [`logflag`] bits.
    pub flags: u8,
}

/// `-j NFLOG`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NflogTarget {
    /// `--nflog-group` (default 0).
    pub group: u16,
    /// `--nflog-prefix` (at most 127 bytes).
    pub prefix: String,
    /// `--nflog-size` (bytes to copy); `--nflog-range` is parsed and dropped, as
    /// iptables-nft does.
    pub len: u32,
    /// `--nflog-size` was used (`XT_NFLOG_F_COPY_LEN`); `--nflog-range` has no effect.
    pub size_given: bool,
    /// `--nflog-threshold` (default 1).
    pub threshold: u16,
}

/// `-j CONNMARK` operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnmarkOp {
    /// `--set-xmark v/m` (and the forms iptables converts to it): `ct = (ct & !mask) ^ value`.
    Set {
        /// Value.
        value: u32,
        /// Mask.
        mask: u32,
    },
    /// `--save-mark`: `ct = (ct & !ctmask) ^ (nfmark & nfmask)`.
    Save {
        /// nfmask.
        nfmask: u32,
        /// ctmask.
        ctmask: u32,
    },
    /// `--restore-mark`: `nf = (nf & !nfmask) ^ (ctmark & ctmask)`.
    Restore {
        /// nfmask.
        nfmask: u32,
        /// ctmask.
        ctmask: u32,
    },
}

/// `-j CONNMARK` (revision 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnmarkTarget {
    /// The operation.
    pub op: ConnmarkOp,
    /// `--left-shift-mark n` (false) / `--right-shift-mark n` (true), and `n` (0 = none).
    pub shift_right: bool,
    /// Shift bits.
    pub shift_bits: u8,
}

/// `-j TTL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TtlAction {
    /// `--ttl-set`.
    Set(u8),
    /// `--ttl-dec` (1-255).
    Dec(u8),
    /// `--ttl-inc` (1-255).
    Inc(u8),
}

/// `-j TCPMSS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TcpMssAction {
    /// `--set-mss n`.
    Set(u16),
    /// `--clamp-mss-to-pmtu`.
    ClampToPmtu,
}

/// A CT zone (`--zone`, `--zone-orig`, `--zone-reply`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CtZone {
    /// Zone id (0 with `from_mark`).
    pub id: u16,
    /// `mark`: take the zone from the packet mark.
    pub from_mark: bool,
    /// Original direction only (`--zone-orig`).
    pub orig_only: bool,
    /// Reply direction only (`--zone-reply`).
    pub reply_only: bool,
}

/// `-j CT` (revision 2; `-j NOTRACK` is [`Target::NoTrack`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct CtTarget {
    /// `--notrack`.
    pub notrack: bool,
    /// `--helper NAME`.
    pub helper: Option<String>,
    /// `--ctevents` (bits `1 << IPCT_*`).
    pub ct_events: u32,
    /// `--expevents` (bits `1 << IPEXP_*`).
    pub exp_events: u32,
    /// Zone.
    pub zone: Option<CtZone>,
}

/// An address/port mapping for SNAT and DNAT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct NatRange {
    /// Address range (`NF_NAT_RANGE_MAP_IPS`); `None`: keep the address.
    pub addrs: Option<(Ipv4Addr, Ipv4Addr)>,
    /// Port range (`NF_NAT_RANGE_PROTO_SPECIFIED`).
    pub ports: Option<PortRange>,
    /// DNAT `a-b/base` shifted port map base (`NF_NAT_RANGE_PROTO_OFFSET`).
    pub base_port: Option<u16>,
    /// `--random`.
    pub random: bool,
    /// `--random-fully`.
    pub random_fully: bool,
    /// `--persistent`.
    pub persistent: bool,
}

/// A target.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// `-j ACCEPT`.
    Accept,
    /// `-j DROP`.
    Drop,
    /// `-j RETURN`.
    Return,
    /// `-j CHAIN`: jump to a user chain of the same table.
    Jump(String),
    /// `-g CHAIN`: go to a user chain (its RETURN returns to the caller's caller).
    Goto(String),
    /// `-j REJECT`.
    Reject(RejectWith),
    /// `-j LOG`.
    Log(LogTarget),
    /// `-j NFLOG`.
    Nflog(NflogTarget),
    /// `-j MARK` in xmark form: `mark = (mark & !mask) ^ value` (`--set-mark v/m` is
    /// value v, mask v|m; `--and-mark v` is 0/!v; `--or-mark v` is v/v; `--xor-mark v` is v/0).
    Mark {
        /// Value.
        value: u32,
        /// Mask.
        mask: u32,
    },
    /// `-j CONNMARK`.
    ConnMark(ConnmarkTarget),
    /// `-j TTL`.
    Ttl(TtlAction),
    /// `-j TOS` (revision 1): `tos = (tos & !mask) ^ value`.
    Tos {
        /// Value.
        value: u8,
        /// Mask.
        mask: u8,
    },
    /// `-j DSCP --set-dscp n` / `--set-dscp-class C`.
    Dscp(u8),
    /// `-j TCPMSS`.
    TcpMss(TcpMssAction),
    /// `-j NOTRACK` (CT with notrack).
    NoTrack,
    /// `-j CT`.
    Ct(CtTarget),
    /// `-j TRACE`.
    Trace,
    /// `-j CHECKSUM --checksum-fill`.
    Checksum,
    /// `-j SNAT --to-source`.
    Snat(NatRange),
    /// `-j DNAT --to-destination`.
    Dnat(NatRange),
    /// `-j MASQUERADE` (only `ports`, `random`, `random_fully` are used).
    Masquerade(NatRange),
    /// `-j REDIRECT` (only `ports` and `random` are used).
    Redirect(NatRange),
    /// `-j NETMAP --to net`.
    Netmap(Ipv4Net),
    /// A target the router does not implement.
    Unsupported {
        /// Target name.
        target: String,
        /// Its options as written.
        options: Vec<String>,
        /// Where `-j TARGET` is.
        loc: Loc,
        /// Why it is unsupported and what it would need.
        reason: String,
    },
}

impl Ruleset {
    /// The same ruleset without source positions or rule text, tables and chains in
    /// iptables-save's order (tables as [`TableName::SAVE_ORDER`]; built-in chains first,
    /// then by name): for comparing the parses of different texts, such as a file and what
    /// printing it back gives.
    pub fn without_positions(&self) -> Ruleset {
        let mut rs = self.clone();
        rs.tables
            .sort_by_key(|t| TableName::SAVE_ORDER.iter().position(|&n| n == t.name));
        for t in &mut rs.tables {
            t.line = 0;
            t.chains
                .sort_by(|a, b| (!a.builtin, &a.name).cmp(&(!b.builtin, &b.name)));
            for c in &mut t.chains {
                c.line = 0;
                for r in &mut c.rules {
                    r.loc = Loc::default();
                    r.text.clear();
                    for m in &mut r.matches {
                        if let Match::Unsupported { loc, .. } = m {
                            *loc = Loc::default();
                        }
                    }
                    if let Some(Target::Unsupported { loc, .. }) = &mut r.target {
                        *loc = Loc::default();
                    }
                }
            }
        }
        rs
    }

    /// The table `name`.
    pub fn table(&self, name: TableName) -> Option<&Table> {
        self.tables.iter().find(|t| t.name == name)
    }

    /// Every unsupported match and target, in file order, with a message naming what it is
    /// and what supporting it would need.
    pub fn unsupported(&self) -> Vec<(Loc, String)> {
        let mut out = Vec::new();
        for t in &self.tables {
            for c in &t.chains {
                for r in &c.rules {
                    for m in &r.matches {
                        if let Match::Unsupported {
                            module,
                            loc,
                            reason,
                            ..
                        } = m
                        {
                            out.push((*loc, format!("match `{module}` {reason}")));
                        }
                    }
                    if let Some(Target::Unsupported {
                        target,
                        loc,
                        reason,
                        ..
                    }) = &r.target
                    {
                        out.push((*loc, format!("target `{target}` {reason}")));
                    }
                }
            }
        }
        out.sort_by_key(|(l, _)| *l);
        out.dedup();
        out
    }

    /// The ruleset in `iptables-save`'s normalised format (`iptables-save -c` style when
    /// `with_counters`: `[packets:bytes]` before each rule and real policy counters).
    /// Tables come in iptables-nft's order (mangle, security, raw, filter, nat), whatever
    /// order the file had, as `iptables-save` prints them.
    pub fn to_save_format(&self, with_counters: bool) -> String {
        let mut s = String::new();
        let mut tables: Vec<&Table> = self.tables.iter().collect();
        tables.sort_by_key(|t| TableName::SAVE_ORDER.iter().position(|&n| n == t.name));
        for t in tables {
            let _ = writeln!(s, "*{}", t.name);
            for c in save_order(t) {
                let counters = if with_counters {
                    c.counters
                } else {
                    Counters::default()
                };
                let policy = c.policy.map(Policy::as_str).unwrap_or("-");
                let _ = writeln!(
                    s,
                    ":{} {} [{}:{}]",
                    c.name, policy, counters.packets, counters.bytes
                );
            }
            for c in save_order(t) {
                for r in &c.rules {
                    if with_counters {
                        let _ = write!(s, "[{}:{}] ", r.counters.packets, r.counters.bytes);
                    }
                    let _ = write!(s, "-A {}", c.name);
                    save_rule(&mut s, r);
                    s.push('\n');
                }
            }
            s.push_str("COMMIT\n");
        }
        s
    }
}

/// Chains in iptables-save's order: built-ins in hook order, then user chains by name.
fn save_order(t: &Table) -> Vec<&Chain> {
    let mut v: Vec<&Chain> = t.chains.iter().filter(|c| c.builtin).collect();
    let mut user: Vec<&Chain> = t.chains.iter().filter(|c| !c.builtin).collect();
    user.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    v.extend(user);
    v
}

impl Rule {
    /// The rule's matches and target in iptables-save form (without `-A CHAIN`).
    pub fn spec(&self) -> String {
        let mut s = String::new();
        save_rule(&mut s, self);
        s.trim_start().to_string()
    }
}

/// Quote a string as `xtables_save_string` does.
pub fn save_string(value: &str) -> String {
    let plain = |c: char| c == '_' || c == '-' || c.is_ascii_alphanumeric();
    if !value.is_empty() && value.chars().all(plain) {
        return value.to_string();
    }
    let mut s = String::from("\"");
    for c in value.chars() {
        if matches!(c, '"' | '\\' | '\'') {
            s.push('\\');
        }
        s.push(c);
    }
    s.push('"');
    s
}

/// The name iptables-save prints for a protocol number.
pub fn proto_name(p: u8) -> Option<&'static str> {
    crate::netfilter::tables::parse::protocol_name(p)
}

fn neg(s: &mut String, n: bool) {
    if n {
        s.push_str(" !");
    }
}

fn save_ports(s: &mut String, opt: &str, p: &Option<PortMatch>) {
    if let Some(p) = p {
        // iptables-nft turns a negated range anchored at 0 or 65535 into the complementary
        // range (`! --dport 0:99` is stored and printed as `--dport 100:65535`).
        let (lo, hi) = (p.range.lo, p.range.hi);
        let complement = match (p.neg, lo, hi) {
            (true, 0, h) if h < 65535 => Some((h + 1, 65535)),
            (true, l, 65535) if l > 0 => Some((0, l - 1)),
            _ => None,
        };
        if let Some((l, h)) = complement {
            if l == h {
                let _ = write!(s, " --{opt} {l}");
            } else {
                let _ = write!(s, " --{opt} {l}:{h}");
            }
            return;
        }
        neg(s, p.neg);
        if p.range.lo == p.range.hi {
            let _ = write!(s, " --{opt} {}", p.range.lo);
        } else {
            let _ = write!(s, " --{opt} {}:{}", p.range.lo, p.range.hi);
        }
    }
}

fn flag_names(bits: u8) -> String {
    if bits == 0 {
        return "NONE".into();
    }
    let mut v = Vec::new();
    for (b, n) in tcpflag::NAMES {
        if bits & b != 0 {
            v.push(n);
        }
    }
    v.join(",")
}

/// ctstate names as iptables prints them, comma-separated.
pub(crate) fn state_names(bits: u16) -> String {
    let mut v = Vec::new();
    for (b, n) in ctstate::NAMES {
        if bits & b != 0 {
            v.push(n);
        }
    }
    v.join(",")
}

/// Address types as iptables prints them, comma-separated.
pub(crate) fn rtn_names(bits: u16) -> String {
    let mut v = Vec::new();
    for (i, n) in rtn::NAMES.iter().enumerate() {
        if bits & (1 << i) != 0 {
            v.push(*n);
        }
    }
    v.join(",")
}

fn save_net(s: &mut String, opt: &str, m: &Option<NetMatch>) {
    if let Some(m) = m {
        neg(s, m.neg);
        let _ = write!(s, " --{opt} {}", m.net.addr);
        if let Some(l) = m.net.prefix_len() {
            if l != 32 {
                let _ = write!(s, "/{l}");
            }
        } else {
            let _ = write!(s, "/{}", m.net.mask);
        }
    }
}

fn save_ct_port(s: &mut String, opt: &str, m: &Option<PortMatch>) {
    if let Some(m) = m {
        neg(s, m.neg);
        if m.range.lo == m.range.hi {
            let _ = write!(s, " --{opt} {}", m.range.lo);
        } else {
            let _ = write!(s, " --{opt} {}:{}", m.range.lo, m.range.hi);
        }
    }
}

/// `print_rate` of libxt_limit: the largest unit that represents `avg` well.
pub(crate) fn limit_rate(avg: u32) -> String {
    const RATES: [(&str, u32); 4] = [
        ("day", 10000 * 24 * 60 * 60),
        ("hour", 10000 * 60 * 60),
        ("min", 10000 * 60),
        ("sec", 10000),
    ];
    if avg == 0 {
        return "inf".into();
    }
    let mut i = 1;
    while i < RATES.len() {
        let m = RATES[i].1;
        if avg > m || m / avg < m % avg {
            break;
        }
        i += 1;
    }
    format!("{}/{}", RATES[i - 1].1 / avg, RATES[i - 1].0)
}

/// `--ctstatus` names, comma-separated (NONE for none).
pub(crate) fn ctstatus_names(bits: u32) -> String {
    let mut v = Vec::new();
    for (b, name) in [
        (ctstatus::EXPECTED, "EXPECTED"),
        (ctstatus::SEEN_REPLY, "SEEN_REPLY"),
        (ctstatus::ASSURED, "ASSURED"),
        (ctstatus::CONFIRMED, "CONFIRMED"),
    ] {
        if bits & b != 0 {
            v.push(name);
        }
    }
    if v.is_empty() {
        v.push("NONE");
    }
    v.join(",")
}

/// A NAT range as iptables writes it: `A[-B][:P[-Q][/BASE]]` (both in -S and -L).
pub(crate) fn nat_range_text(r: &NatRange) -> String {
    let mut buf = String::new();
    if let Some((lo, hi)) = r.addrs {
        let _ = write!(buf, "{lo}");
        if lo != hi {
            let _ = write!(buf, "-{hi}");
        }
    }
    if let Some(p) = r.ports {
        let _ = write!(buf, ":{}", p.lo);
        if p.hi != p.lo {
            let _ = write!(buf, "-{}", p.hi);
        }
        if let Some(b) = r.base_port {
            let _ = write!(buf, "/{b}");
        }
    }
    buf
}

fn save_nat_range(s: &mut String, opt: &str, r: &NatRange, skip_colon: bool) {
    let buf = nat_range_text(r);
    if !buf.is_empty() {
        let b = if skip_colon {
            buf.strip_prefix(':').unwrap_or(&buf)
        } else {
            &buf
        };
        let _ = write!(s, " --{opt} {b}");
    }
    if r.random {
        s.push_str(" --random");
    }
    if r.random_fully {
        s.push_str(" --random-fully");
    }
    if r.persistent {
        s.push_str(" --persistent");
    }
}

fn save_match(s: &mut String, m: &Match) {
    match m {
        Match::Src(n) => {
            neg(s, n.neg);
            let _ = write!(s, " -s {}", n.net);
        }
        Match::Dst(n) => {
            neg(s, n.neg);
            let _ = write!(s, " -d {}", n.net);
        }
        Match::InIface { iface, neg: n } => {
            neg(s, *n);
            let _ = write!(s, " -i {iface}");
        }
        Match::OutIface { iface, neg: n } => {
            neg(s, *n);
            let _ = write!(s, " -o {iface}");
        }
        Match::Proto { proto, neg: n } => {
            neg(s, *n);
            match proto_name(*proto) {
                Some(name) => {
                    let _ = write!(s, " -p {name}");
                }
                None => {
                    let _ = write!(s, " -p {proto}");
                }
            }
        }
        Match::Fragment { neg: n } => {
            neg(s, *n);
            s.push_str(" -f");
        }
        Match::Tcp(t) => {
            s.push_str(" -m tcp");
            save_ports(s, "sport", &t.sport);
            save_ports(s, "dport", &t.dport);
            if let Some((o, n)) = t.option {
                neg(s, n);
                let _ = write!(s, " --tcp-option {o}");
            }
            if let Some(f) = t.flags {
                neg(s, f.neg);
                let _ = write!(
                    s,
                    " --tcp-flags {} {}",
                    flag_names(f.mask),
                    flag_names(f.comp)
                );
            }
        }
        Match::Udp(u) => {
            s.push_str(" -m udp");
            save_ports(s, "sport", &u.sport);
            save_ports(s, "dport", &u.dport);
        }
        Match::Sctp(u) => {
            s.push_str(" -m sctp");
            save_ports(s, "sport", &u.sport);
            save_ports(s, "dport", &u.dport);
        }
        Match::Icmp(i) => {
            s.push_str(" -m icmp");
            neg(s, i.neg);
            if i.icmp_type == 0xff {
                s.push_str(" --icmp-type any");
            } else {
                let _ = write!(s, " --icmp-type {}", i.icmp_type);
                // iptables-save prints only the lowest code of a code range, which does not
                // restore to the same rule; print the range so that it does.
                if i.code_min == i.code_max {
                    let _ = write!(s, "/{}", i.code_min);
                } else if i.code_min != 0 || i.code_max != 0xff {
                    let _ = write!(s, "/{}:{}", i.code_min, i.code_max);
                }
            }
        }
        Match::Multiport(mp) => {
            s.push_str(" -m multiport");
            neg(s, mp.neg);
            let opt = match mp.dir {
                MultiportDir::Source => "sports",
                MultiportDir::Destination => "dports",
                MultiportDir::Either => "ports",
            };
            let list: Vec<String> = mp
                .ports
                .iter()
                .map(|p| {
                    if p.lo == p.hi {
                        p.lo.to_string()
                    } else {
                        format!("{}:{}", p.lo, p.hi)
                    }
                })
                .collect();
            let _ = write!(s, " --{opt} {}", list.join(","));
        }
        Match::IpRange(r) => {
            s.push_str(" -m iprange");
            for (opt, v) in [("src-range", &r.src), ("dst-range", &r.dst)] {
                if let Some(a) = v {
                    neg(s, a.neg);
                    let _ = write!(s, " --{opt} {}-{}", a.lo, a.hi);
                }
            }
        }
        Match::AddrType(a) => {
            s.push_str(" -m addrtype");
            if let Some((t, n)) = a.src {
                neg(s, n);
                let _ = write!(s, " --src-type {}", rtn_names(t));
            }
            if let Some((t, n)) = a.dst {
                neg(s, n);
                let _ = write!(s, " --dst-type {}", rtn_names(t));
            }
            match a.limit {
                Some(AddrTypeLimit::In) => s.push_str(" --limit-iface-in"),
                Some(AddrTypeLimit::Out) => s.push_str(" --limit-iface-out"),
                None => {}
            }
        }
        Match::Comment(c) => {
            let _ = write!(s, " -m comment --comment {}", save_string(c));
        }
        Match::Mark {
            value,
            mask,
            neg: n,
        }
        | Match::ConnMark {
            value,
            mask,
            neg: n,
        } => {
            let name = if matches!(m, Match::Mark { .. }) {
                "mark"
            } else {
                "connmark"
            };
            let _ = write!(s, " -m {name}");
            neg(s, *n);
            if *mask != u32::MAX {
                let _ = write!(s, " --mark {value:#x}/{mask:#x}");
            } else {
                let _ = write!(s, " --mark {value:#x}");
            }
        }
        Match::Length { min, max, neg: n } => {
            s.push_str(" -m length");
            neg(s, *n);
            if min == max {
                let _ = write!(s, " --length {min}");
            } else {
                let _ = write!(s, " --length {min}:{max}");
            }
        }
        Match::Ttl { op, value } => {
            s.push_str(" -m ttl");
            let _ = match op {
                TtlOp::Eq => write!(s, " --ttl-eq {value}"),
                TtlOp::Ne => write!(s, " ! --ttl-eq {value}"),
                TtlOp::Lt => write!(s, " --ttl-lt {value}"),
                TtlOp::Gt => write!(s, " --ttl-gt {value}"),
            };
        }
        Match::Tos {
            value,
            mask,
            neg: n,
        } => {
            s.push_str(" -m tos");
            neg(s, *n);
            let _ = write!(s, " --tos {value:#04x}/{mask:#04x}");
        }
        Match::Dscp { dscp, neg: n } => {
            s.push_str(" -m dscp");
            neg(s, *n);
            let _ = write!(s, " --dscp {dscp:#04x}");
        }
        Match::PktType { kind, neg: n } => {
            s.push_str(" -m pkttype");
            neg(s, *n);
            let _ = write!(s, " --pkt-type {}", kind.as_str());
        }
        Match::State { states, neg: n } => {
            s.push_str(" -m state");
            neg(s, *n);
            let _ = write!(s, " --state {}", state_names(*states));
        }
        Match::Conntrack(c) => {
            s.push_str(" -m conntrack");
            if let Some((st, n)) = c.state {
                neg(s, n);
                let _ = write!(s, " --ctstate {}", state_names(st));
            }
            if let Some((p, n)) = c.proto {
                neg(s, n);
                let _ = write!(s, " --ctproto {p}");
            }
            save_net(s, "ctorigsrc", &c.orig_src);
            save_net(s, "ctorigdst", &c.orig_dst);
            save_net(s, "ctreplsrc", &c.repl_src);
            save_net(s, "ctrepldst", &c.repl_dst);
            save_ct_port(s, "ctorigsrcport", &c.orig_src_port);
            save_ct_port(s, "ctorigdstport", &c.orig_dst_port);
            save_ct_port(s, "ctreplsrcport", &c.repl_src_port);
            save_ct_port(s, "ctrepldstport", &c.repl_dst_port);
            if let Some((st, n)) = c.status {
                neg(s, n);
                let _ = write!(s, " --ctstatus {}", ctstatus_names(st));
            }
            if let Some((lo, hi, n)) = c.expire {
                neg(s, n);
                if lo == hi {
                    let _ = write!(s, " --ctexpire {lo}");
                } else {
                    let _ = write!(s, " --ctexpire {lo}:{hi}");
                }
            }
            match c.dir {
                Some(CtDir::Original) => s.push_str(" --ctdir ORIGINAL"),
                Some(CtDir::Reply) => s.push_str(" --ctdir REPLY"),
                None => {}
            }
        }
        Match::Statistic(st) => {
            s.push_str(" -m statistic");
            match st.mode {
                StatisticMode::Random { probability } => {
                    s.push_str(" --mode random");
                    neg(s, st.neg);
                    let _ = write!(
                        s,
                        " --probability {:.11}",
                        f64::from(probability) / f64::from(0x8000_0000u32)
                    );
                }
                StatisticMode::Nth { every, packet } => {
                    s.push_str(" --mode nth");
                    neg(s, st.neg);
                    let _ = write!(s, " --every {every} --packet {packet}");
                }
            }
        }
        Match::Limit(l) => {
            let _ = write!(s, " -m limit --limit {}", limit_rate(l.avg));
            if l.burst != 5 {
                let _ = write!(s, " --limit-burst {}", l.burst);
            }
        }
        Match::Recent(r) => {
            s.push_str(" -m recent");
            neg(s, r.neg);
            s.push_str(match r.op {
                RecentOp::Set => " --set",
                RecentOp::Check => " --rcheck",
                RecentOp::Update => " --update",
                RecentOp::Remove => " --remove",
            });
            if r.seconds != 0 {
                let _ = write!(s, " --seconds {}", r.seconds);
            }
            if r.reap {
                s.push_str(" --reap");
            }
            if r.hitcount != 0 {
                let _ = write!(s, " --hitcount {}", r.hitcount);
            }
            if r.rttl {
                s.push_str(" --rttl");
            }
            let _ = write!(s, " --name {}", save_token(&r.name));
            let _ = write!(s, " --mask {}", r.mask);
            s.push_str(match r.side {
                RecentSide::Source => " --rsource",
                RecentSide::Dest => " --rdest",
            });
        }
        Match::Unsupported {
            module, options, ..
        } => {
            let _ = write!(s, " -m {module}");
            for o in options {
                let _ = write!(s, " {}", save_token(o));
            }
        }
    }
}

/// A token as it must be written to come back unchanged through the restore tokenizer.
fn save_token(t: &str) -> String {
    if !t.is_empty() && !t.contains([' ', '\t', '\n', '"', '\\', '\'']) {
        t.to_string()
    } else {
        save_string(t)
    }
}

fn save_target(s: &mut String, t: &Target) {
    match t {
        Target::Accept => s.push_str(" -j ACCEPT"),
        Target::Drop => s.push_str(" -j DROP"),
        Target::Return => s.push_str(" -j RETURN"),
        Target::Jump(c) => {
            let _ = write!(s, " -j {c}");
        }
        Target::Goto(c) => {
            let _ = write!(s, " -g {c}");
        }
        Target::Reject(w) => {
            let _ = write!(s, " -j REJECT --reject-with {}", w.as_str());
        }
        Target::Log(l) => {
            s.push_str(" -j LOG");
            if !l.prefix.is_empty() {
                let _ = write!(s, " --log-prefix {}", save_string(&l.prefix));
            }
            if l.level != 4 {
                let _ = write!(s, " --log-level {}", l.level);
            }
            for (b, name) in [
                (logflag::TCPSEQ, "--log-tcp-sequence"),
                (logflag::TCPOPT, "--log-tcp-options"),
                (logflag::IPOPT, "--log-ip-options"),
                (logflag::UID, "--log-uid"),
                (logflag::MACDECODE, "--log-macdecode"),
            ] {
                if l.flags & b != 0 {
                    let _ = write!(s, " {name}");
                }
            }
        }
        Target::Nflog(n) => {
            s.push_str(" -j NFLOG");
            if !n.prefix.is_empty() {
                let _ = write!(s, " --nflog-prefix {}", save_string(&n.prefix));
            }
            if n.group != 0 {
                let _ = write!(s, " --nflog-group {}", n.group);
            }
            if n.size_given {
                let _ = write!(s, " --nflog-size {}", n.len);
            }
            if n.threshold != 1 {
                let _ = write!(s, " --nflog-threshold {}", n.threshold);
            }
        }
        Target::Mark { value, mask } => {
            let _ = write!(s, " -j MARK --set-xmark {value:#x}/{mask:#x}");
        }
        Target::ConnMark(c) => {
            s.push_str(" -j CONNMARK");
            let _ = match c.op {
                ConnmarkOp::Set { value, mask } => {
                    write!(s, " --set-xmark {value:#x}/{mask:#x}")
                }
                ConnmarkOp::Save { nfmask, ctmask } => {
                    write!(s, " --save-mark --nfmask {nfmask:#x} --ctmask {ctmask:#x}")
                }
                ConnmarkOp::Restore { nfmask, ctmask } => write!(
                    s,
                    " --restore-mark --nfmask {nfmask:#x} --ctmask {ctmask:#x}"
                ),
            };
            if c.shift_bits != 0 {
                let dir = if c.shift_right {
                    "right-shift-mark"
                } else {
                    "left-shift-mark"
                };
                let _ = write!(s, " --{dir} {}", c.shift_bits);
            }
        }
        Target::Ttl(a) => {
            let _ = match a {
                TtlAction::Set(v) => write!(s, " -j TTL --ttl-set {v}"),
                TtlAction::Dec(v) => write!(s, " -j TTL --ttl-dec {v}"),
                TtlAction::Inc(v) => write!(s, " -j TTL --ttl-inc {v}"),
            };
        }
        Target::Tos { value, mask } => {
            let _ = write!(s, " -j TOS --set-tos {value:#04x}/{mask:#04x}");
        }
        Target::Dscp(d) => {
            let _ = write!(s, " -j DSCP --set-dscp {d:#04x}");
        }
        Target::TcpMss(a) => {
            let _ = match a {
                TcpMssAction::Set(v) => write!(s, " -j TCPMSS --set-mss {v}"),
                TcpMssAction::ClampToPmtu => write!(s, " -j TCPMSS --clamp-mss-to-pmtu"),
            };
        }
        Target::NoTrack => s.push_str(" -j NOTRACK"),
        Target::Ct(c) => {
            s.push_str(" -j CT");
            ct_options(s, c, "--");
        }
        Target::Trace => s.push_str(" -j TRACE"),
        Target::Checksum => s.push_str(" -j CHECKSUM --checksum-fill"),
        Target::Snat(r) => {
            s.push_str(" -j SNAT");
            save_nat_range(s, "to-source", r, false);
        }
        Target::Dnat(r) => {
            s.push_str(" -j DNAT");
            save_nat_range(s, "to-destination", r, false);
        }
        Target::Masquerade(r) => {
            s.push_str(" -j MASQUERADE");
            save_nat_range(s, "to-ports", r, true);
        }
        Target::Redirect(r) => {
            s.push_str(" -j REDIRECT");
            save_nat_range(s, "to-ports", r, true);
        }
        Target::Netmap(n) => {
            let _ = write!(s, " -j NETMAP --to {n}");
        }
        Target::Unsupported {
            target, options, ..
        } => {
            let _ = write!(s, " -j {target}");
            for o in options {
                let _ = write!(s, " {}", save_token(o));
            }
        }
    }
}

/// The CT target's options in iptables' order, each prefixed with `dashes` ("--" for
/// iptables-save, "" for the `-L` listing, whose words are the same).
pub(crate) fn ct_options(s: &mut String, c: &CtTarget, dashes: &str) {
    if c.notrack {
        let _ = write!(s, " {dashes}notrack");
    }
    if let Some(h) = &c.helper {
        let _ = write!(s, " {dashes}helper {h}");
    }
    if c.ct_events != 0 {
        let _ = write!(
            s,
            " {dashes}ctevents {}",
            event_names(&CT_EVENTS, c.ct_events)
        );
    }
    if c.exp_events != 0 {
        let _ = write!(
            s,
            " {dashes}expevents {}",
            event_names(&EXP_EVENTS, c.exp_events)
        );
    }
    if let Some(z) = c.zone {
        if z.from_mark || z.id != 0 {
            let opt = if z.orig_only {
                "zone-orig"
            } else if z.reply_only {
                "zone-reply"
            } else {
                "zone"
            };
            if z.from_mark {
                let _ = write!(s, " {dashes}{opt} mark");
            } else {
                let _ = write!(s, " {dashes}{opt} {}", z.id);
            }
        }
    }
}

/// `--ctevents` names (bit = `1 << IPCT_*`).
pub const CT_EVENTS: [(&str, u32); 10] = [
    ("new", 0),
    ("related", 1),
    ("destroy", 2),
    ("reply", 3),
    ("assured", 4),
    ("protoinfo", 5),
    ("helper", 6),
    ("mark", 7),
    ("natseqinfo", 8),
    ("secmark", 9),
];

/// `--expevents` names (bit = `1 << IPEXP_*`).
pub const EXP_EVENTS: [(&str, u32); 1] = [("new", 0)];

fn event_names(tbl: &[(&str, u32)], mask: u32) -> String {
    tbl.iter()
        .filter(|(_, b)| mask & (1 << b) != 0)
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(",")
}

fn save_rule(s: &mut String, r: &Rule) {
    for m in &r.matches {
        save_match(s, m);
    }
    if let Some(t) = &r.target {
        save_target(s, t);
    }
}
