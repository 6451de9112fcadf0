//! The TCP connection tracker: the state machine, window tracking and timeout choice of the
//! kernel's `net/netfilter/nf_conntrack_proto_tcp.c`, per packet, for one connection.
//!
//! Follows the file as of Linux 6.12+ (the copy read has `linux/unaligned.h`, the
//! `nf_ct_tcp_action` results of `tcp_in_window`, `nf_tcp_handle_invalid`, the
//! RST-keeps-ESTABLISHED challenge-ACK rule, the zero-window timeout, the capped timeout of a
//! picked-up connection and "do not renew timeout on SYN retransmit"), checked against a
//! running 6.18 kernel. What is left out: SYN proxy, NAT sequence adjustment (`seqadj`: the
//! offset is always 0), per-connection timeout policies (`nfct timeout`) and
//! `IPS_FIXED_TIMEOUT`.
//!
//! Pure and synchronous: no clock (the caller passes the remaining lifetime where the kernel
//! reads it), no allocation, no panics on any input. The caller owns the connection table and
//! the `IPS_*` status bits; this module owns the per-connection [`TcpConn`] (the kernel's
//! `struct ip_ct_tcp`) and tells the caller, through [`TcpVerdict`], what the kernel's
//! `nf_conntrack_tcp_packet` would have the core do.

use std::fmt;

use super::tuple::Dir;
use crate::wire::tcp::{flags as tf, TcpPacket, HEADER_LEN};

/// TCP conntrack states, numbered as the kernel's `enum tcp_conntrack`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[repr(u8)]
pub enum TcpState {
    /// Initial state (never the result of a packet).
    #[default]
    None = 0,
    /// SYN seen.
    SynSent = 1,
    /// SYN/ACK seen.
    SynRecv = 2,
    /// ACK seen after the SYN/ACK.
    Established = 3,
    /// FIN seen.
    FinWait = 4,
    /// ACK seen after the FIN.
    CloseWait = 5,
    /// FIN seen in both directions.
    LastAck = 6,
    /// Last ACK seen.
    TimeWait = 7,
    /// Closed by RST.
    Close = 8,
    /// SYN seen from the reply direction too: simultaneous open.
    SynSent2 = 9,
}

impl TcpState {
    /// Every state, in the kernel's order.
    pub const ALL: [TcpState; 10] = [
        TcpState::None,
        TcpState::SynSent,
        TcpState::SynRecv,
        TcpState::Established,
        TcpState::FinWait,
        TcpState::CloseWait,
        TcpState::LastAck,
        TcpState::TimeWait,
        TcpState::Close,
        TcpState::SynSent2,
    ];

    /// The name as `conntrack -L` and `/proc/net/nf_conntrack` print it.
    pub fn name(self) -> &'static str {
        match self {
            TcpState::None => "NONE",
            TcpState::SynSent => "SYN_SENT",
            TcpState::SynRecv => "SYN_RECV",
            TcpState::Established => "ESTABLISHED",
            TcpState::FinWait => "FIN_WAIT",
            TcpState::CloseWait => "CLOSE_WAIT",
            TcpState::LastAck => "LAST_ACK",
            TcpState::TimeWait => "TIME_WAIT",
            TcpState::Close => "CLOSE",
            TcpState::SynSent2 => "SYN_SENT2",
        }
    }
}

impl fmt::Display for TcpState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Index of a direction into per-direction arrays.
fn di(d: Dir) -> usize {
    d as usize
}

/// Index of the other direction.
fn other(d: Dir) -> usize {
    1 - d as usize
}

/// Which row of the transition table a segment uses (the kernel's `enum tcp_bit_set`),
/// chosen by [`flag_index`] from RST, SYN, FIN and ACK in that order of precedence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum FlagIndex {
    /// SYN without ACK.
    #[default]
    Syn = 0,
    /// SYN with ACK.
    SynAck = 1,
    /// FIN (without SYN or RST).
    Fin = 2,
    /// ACK (without SYN, FIN or RST).
    Ack = 3,
    /// RST, whatever else is set.
    Rst = 4,
    /// None of the four.
    None = 5,
}

/// The kernel's `get_conntrack_index`: the table row for a TCP flag byte.
pub fn flag_index(flags: u8) -> FlagIndex {
    if flags & tf::RST != 0 {
        FlagIndex::Rst
    } else if flags & tf::SYN != 0 {
        if flags & tf::ACK != 0 {
            FlagIndex::SynAck
        } else {
            FlagIndex::Syn
        }
    } else if flags & tf::FIN != 0 {
        FlagIndex::Fin
    } else if flags & tf::ACK != 0 {
        FlagIndex::Ack
    } else {
        FlagIndex::None
    }
}

/// One cell of the transition table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Move to this state (subject to the checks in [`TcpConn::packet`]).
    To(TcpState),
    /// `sIG`: may be valid or not; let it through without changing anything.
    Ignore,
    /// `sIV`: invalid in this state.
    Invalid,
}

const NO: Transition = Transition::To(TcpState::None);
const SS: Transition = Transition::To(TcpState::SynSent);
const SR: Transition = Transition::To(TcpState::SynRecv);
const ES: Transition = Transition::To(TcpState::Established);
const FW: Transition = Transition::To(TcpState::FinWait);
const CW: Transition = Transition::To(TcpState::CloseWait);
const LA: Transition = Transition::To(TcpState::LastAck);
const TW: Transition = Transition::To(TcpState::TimeWait);
const CL: Transition = Transition::To(TcpState::Close);
const S2: Transition = Transition::To(TcpState::SynSent2);
const IV: Transition = Transition::Invalid;
const IG: Transition = Transition::Ignore;

/// `tcp_conntracks[dir][index][state]`, columns in [`TcpState`] order.
#[rustfmt::skip]
const TABLE: [[[Transition; 10]; 6]; 2] = [
    [
        // ORIGINAL   NO  SS  SR  ES  FW  CW  LA  TW  CL  S2
        /* syn    */ [SS, SS, IG, IG, IG, IG, IG, SS, SS, S2],
        /* synack */ [IV, IV, SR, IV, IV, IV, IV, IV, IV, SR],
        /* fin    */ [IV, IV, FW, FW, LA, LA, LA, TW, CL, IV],
        /* ack    */ [ES, IV, ES, ES, CW, CW, TW, TW, CL, IV],
        /* rst    */ [IV, CL, CL, CL, CL, CL, CL, CL, CL, CL],
        /* none   */ [IV, IV, IV, IV, IV, IV, IV, IV, IV, IV],
    ],
    [
        // REPLY      NO  SS  SR  ES  FW  CW  LA  TW  CL  S2
        /* syn    */ [IV, S2, IV, IV, IV, IV, IV, SS, IV, S2],
        /* synack */ [IV, SR, IG, IG, IG, IG, IG, IG, IG, SR],
        /* fin    */ [IV, IV, FW, FW, LA, LA, LA, TW, CL, IV],
        /* ack    */ [IV, IG, SR, ES, CW, CW, TW, TW, CL, IG],
        /* rst    */ [IV, CL, CL, CL, CL, CL, CL, CL, CL, CL],
        /* none   */ [IV, IV, IV, IV, IV, IV, IV, IV, IV, IV],
    ],
];

// No cell leads back to NONE; the constant exists to keep the table legible.
const _: Transition = NO;

/// The transition table lookup (`tcp_conntracks[dir][index][state]`).
pub fn transition(dir: Dir, index: FlagIndex, state: TcpState) -> Transition {
    TABLE[di(dir)][index as usize][state as usize]
}

/// Per-direction flag bits (`IP_CT_TCP_FLAG_*` in `uapi/linux/netfilter/nf_conntrack_tcp.h`);
/// the same values `conntrack` and ctnetlink use.
pub mod peer_flags {
    /// The sender offered window scaling.
    pub const WINDOW_SCALE: u8 = 0x01;
    /// The sender offered SACK.
    pub const SACK_PERM: u8 = 0x02;
    /// This sender sent the first FIN.
    pub const CLOSE_INIT: u8 = 0x04;
    /// Window checking is liberal for this direction.
    pub const BE_LIBERAL: u8 = 0x08;
    /// The sender has data the peer has not acknowledged.
    pub const DATA_UNACKNOWLEDGED: u8 = 0x10;
    /// `td_maxack` holds a value.
    pub const MAXACK_SET: u8 = 0x20;
    /// In `last_flags`: an RFC 5961 challenge ACK may follow (`IP_CT_EXP_CHALLENGE_ACK`).
    pub const EXP_CHALLENGE_ACK: u8 = 0x40;
    /// In `last_flags`: a simultaneous open was seen (`IP_CT_TCP_SIMULTANEOUS_OPEN`).
    pub const SIMULTANEOUS_OPEN: u8 = 0x80;
}
use peer_flags as pf;

/// What the tracker knows of one direction's sender (`struct ip_ct_tcp_state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpPeer {
    /// Highest `seq + len` sent.
    pub td_end: u32,
    /// Highest `ack + max(win, 1)` the peer advertised: the right edge this sender may reach.
    pub td_maxend: u32,
    /// Largest window (scaled) this sender advertised.
    pub td_maxwin: u32,
    /// Highest ACK this sender sent (valid when [`peer_flags::MAXACK_SET`]).
    pub td_maxack: u32,
    /// Window scale shift this sender announced (0 unless both sides announced one).
    pub td_scale: u8,
    /// [`peer_flags`] bits.
    pub flags: u8,
}

/// Timeout slots past the per-state ones (which are indexed by `TcpState as usize`).
pub const TIMEOUT_MAX_RETRANS: usize = 10;
/// Slot of `nf_conntrack_tcp_timeout_unacknowledged`.
pub const TIMEOUT_UNACKNOWLEDGED: usize = 11;
/// Number of timeout slots in [`TcpConfig::timeouts`] (slot 0, NONE, is unused).
pub const TIMEOUT_SLOTS: usize = 12;

/// The sysctl behind each timeout slot, without the `net.netfilter.` prefix.
pub const TIMEOUT_SYSCTLS: [(&str, usize); 11] = [
    ("nf_conntrack_tcp_timeout_syn_sent", TcpState::SynSent as usize),
    ("nf_conntrack_tcp_timeout_syn_recv", TcpState::SynRecv as usize),
    (
        "nf_conntrack_tcp_timeout_established",
        TcpState::Established as usize,
    ),
    ("nf_conntrack_tcp_timeout_fin_wait", TcpState::FinWait as usize),
    (
        "nf_conntrack_tcp_timeout_close_wait",
        TcpState::CloseWait as usize,
    ),
    ("nf_conntrack_tcp_timeout_last_ack", TcpState::LastAck as usize),
    (
        "nf_conntrack_tcp_timeout_time_wait",
        TcpState::TimeWait as usize,
    ),
    ("nf_conntrack_tcp_timeout_close", TcpState::Close as usize),
    // SYN_SENT2 has no sysctl of its own in the kernel; it keeps its default (120 s).
    ("nf_conntrack_tcp_timeout_max_retrans", TIMEOUT_MAX_RETRANS),
    (
        "nf_conntrack_tcp_timeout_unacknowledged",
        TIMEOUT_UNACKNOWLEDGED,
    ),
    // Listed last so that name lookups find the state names first; same slot as SynSent2.
    ("nf_conntrack_tcp_timeout_syn_sent2", TcpState::SynSent2 as usize),
];

/// The `net.netfilter.nf_conntrack_tcp_*` sysctls (and `nf_conntrack_checksum`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpConfig {
    /// `nf_conntrack_tcp_loose` (default 1): a stray ACK may pick up a connection.
    pub loose: bool,
    /// `nf_conntrack_tcp_be_liberal` (default 0): out-of-window segments are not INVALID.
    pub be_liberal: bool,
    /// `nf_conntrack_tcp_max_retrans` (default 3).
    pub max_retrans: u8,
    /// `nf_conntrack_tcp_ignore_invalid_rst` (default 0).
    pub ignore_invalid_rst: bool,
    /// `nf_conntrack_checksum` (default 1).
    pub checksum: bool,
    /// Timeouts in seconds: per state at `TcpState as usize`, then
    /// [`TIMEOUT_MAX_RETRANS`] and [`TIMEOUT_UNACKNOWLEDGED`].
    pub timeouts: [u32; TIMEOUT_SLOTS],
}

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig {
            loose: true,
            be_liberal: false,
            max_retrans: 3,
            ignore_invalid_rst: false,
            checksum: true,
            timeouts: [0, 120, 60, 432_000, 120, 60, 30, 120, 10, 120, 300, 300],
        }
    }
}

/// What the caller knows about the packet and the entry, beyond the segment itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpCtx {
    /// Direction of this packet.
    pub dir: Dir,
    /// The entry is confirmed (in the table). `false` for a fresh entry made for this
    /// packet: then the segment must be able to create a connection (`tcp_new`).
    pub confirmed: bool,
    /// `IPS_SEEN_REPLY` before this packet (the core sets it after the tracker has run).
    pub seen_reply: bool,
    /// `IPS_ASSURED` before this packet.
    pub assured: bool,
    /// Milliseconds until the entry would expire (read only when an out-of-window FIN or RST
    /// may shorten it).
    pub expires_in_ms: u64,
    /// Verify the checksum if `nf_conntrack_checksum` is on: the kernel does at PRE_ROUTING
    /// only, and not for packets whose checksum is already known good or left to hardware
    /// (`CHECKSUM_UNNECESSARY`, `CHECKSUM_PARTIAL`).
    pub verify_checksum: bool,
    /// IPv4 source address (for the pseudo-header).
    pub src: [u8; 4],
    /// IPv4 destination address.
    pub dst: [u8; 4],
}

/// Why a segment was found invalid or ignored. `Display` gives the kernel's log text (what
/// `nf_conntrack_log_invalid` prints after `nf_ct_proto_6: `).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpReason {
    /// Fewer than 20 bytes: the kernel cannot read the header and logs nothing.
    ShortHeader,
    /// Data offset below 5 or beyond the segment.
    Truncated,
    /// Bad checksum.
    BadChecksum,
    /// A flag combination `tcp_valid_flags` does not allow.
    InvalidFlags,
    /// The segment cannot start a connection (anything but a SYN or an ACK).
    InvalidNew,
    /// A mid-stream segment with `nf_conntrack_tcp_loose = 0` (the kernel logs nothing).
    NoPickup,
    /// The table says ignore (`sIG`).
    StateIgnored {
        /// Table row.
        index: FlagIndex,
        /// Packet direction.
        dir: Dir,
        /// State before the packet.
        state: TcpState,
    },
    /// The table says invalid (`sIV`).
    StateInvalid {
        /// Table row.
        index: FlagIndex,
        /// Packet direction.
        dir: Dir,
        /// State before the packet.
        state: TcpState,
    },
    /// An RFC 5961 challenge ACK in LAST_ACK, not taken as the last ACK.
    ChallengeAck,
    /// A RST whose sequence number is below what the peer has acknowledged.
    InvalidRst,
    /// Data beyond the receiver's window, but acknowledgeable: let through, not tracked.
    MoreThanExpected {
        /// Bytes past the window.
        bytes: u32,
    },
    /// Sequence number beyond the receiver's window.
    SeqOverUpperBound {
        /// The bound (`td_maxend + 1`).
        bound: u32,
    },
    /// Acknowledges data never seen.
    AckOverUpperBound {
        /// The bound (`td_end + 1` of the receiver).
        bound: u32,
    },
    /// Retransmission of data already acknowledged.
    SeqUnderLowerBound {
        /// The bound.
        bound: u32,
    },
    /// An acknowledgement far behind.
    AckUnderLowerBound {
        /// The bound.
        bound: u32,
    },
}

impl TcpReason {
    /// A short fixed name for counters and traces.
    pub fn as_str(&self) -> &'static str {
        match self {
            TcpReason::ShortHeader => "tcp_short_header",
            TcpReason::Truncated => "tcp_truncated",
            TcpReason::BadChecksum => "tcp_bad_checksum",
            TcpReason::InvalidFlags => "tcp_invalid_flags",
            TcpReason::InvalidNew => "tcp_invalid_new",
            TcpReason::NoPickup => "tcp_no_pickup",
            TcpReason::StateIgnored { .. } => "tcp_state_ignored",
            TcpReason::StateInvalid { .. } => "tcp_state_invalid",
            TcpReason::ChallengeAck => "tcp_challenge_ack",
            TcpReason::InvalidRst => "tcp_invalid_rst",
            TcpReason::MoreThanExpected { .. } => "tcp_more_than_expected",
            TcpReason::SeqOverUpperBound { .. } => "tcp_seq_over_upper_bound",
            TcpReason::AckOverUpperBound { .. } => "tcp_ack_over_upper_bound",
            TcpReason::SeqUnderLowerBound { .. } => "tcp_seq_under_lower_bound",
            TcpReason::AckUnderLowerBound { .. } => "tcp_ack_under_lower_bound",
        }
    }

    /// Whether the kernel logs this one (with `nf_conntrack_log_invalid`).
    pub fn logged(&self) -> bool {
        !matches!(self, TcpReason::ShortHeader | TcpReason::NoPickup)
    }
}

impl fmt::Display for TcpReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            TcpReason::ShortHeader => f.write_str("short header"),
            TcpReason::Truncated => f.write_str("truncated packet"),
            TcpReason::BadChecksum => f.write_str("bad checksum"),
            TcpReason::InvalidFlags => f.write_str("invalid tcp flag combination"),
            TcpReason::InvalidNew => f.write_str("invalid new"),
            TcpReason::NoPickup => f.write_str("no pickup"),
            TcpReason::StateIgnored { index, dir, state } => write!(
                f,
                "packet (index {}) in dir {} ignored, state {}",
                index as u8, dir as u8, state
            ),
            TcpReason::StateInvalid { index, dir, state } => write!(
                f,
                "packet (index {}) in dir {} invalid, state {}",
                index as u8, dir as u8, state
            ),
            TcpReason::ChallengeAck => f.write_str("challenge-ack ignored"),
            TcpReason::InvalidRst => f.write_str("invalid rst"),
            TcpReason::MoreThanExpected { bytes } => {
                write!(f, "{bytes} bytes more than expected")
            }
            TcpReason::SeqOverUpperBound { bound } => write!(
                f,
                "SEQ is over upper bound {bound} (over the window of the receiver)"
            ),
            TcpReason::AckOverUpperBound { bound } => write!(
                f,
                "ACK is over upper bound {bound} (ACKed data not seen yet)"
            ),
            TcpReason::SeqUnderLowerBound { bound } => write!(
                f,
                "SEQ is under lower bound {bound} (already ACKed data retransmitted)"
            ),
            TcpReason::AckUnderLowerBound { bound } => write!(
                f,
                "ignored ACK under lower bound {bound} (possible overly delayed)"
            ),
        }
    }
}

/// What the core must do with the packet and the entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpVerdict {
    /// In state and in window: the packet belongs to the entry, which was updated.
    Accept {
        /// Set the entry's timer to this many seconds from now; `None` leaves it as it is
        /// (a retransmitted SYN before any reply does not renew it).
        timeout_secs: Option<u32>,
        /// Set `IPS_ASSURED` now.
        assured_now: bool,
        /// The TCP state changed (the kernel's `IPCT_PROTOINFO` event).
        state_changed: bool,
    },
    /// A RST before any reply was seen: the packet belongs to the entry, which the core
    /// deletes at once (`nf_ct_kill_acct`).
    Kill,
    /// Let the packet through as part of the entry without updating the tracked state
    /// (`NF_ACCEPT` before the state is written). The reason is logged when
    /// `nf_conntrack_log_invalid` is on.
    Ignore {
        /// Why.
        reason: TcpReason,
    },
    /// The packet is INVALID: it gets no conntrack (`-NF_ACCEPT`); the entry is unchanged
    /// except, when `lower_timeout_secs` is set, its timer.
    Invalid {
        /// Why.
        reason: TcpReason,
        /// Shorten the entry's timer to this many seconds from now (an assured connection
        /// whose FIN or RST answer fell out of window: `nf_tcp_handle_invalid`).
        lower_timeout_secs: Option<u32>,
    },
    /// A SYN reopening a closed connection: delete this entry and track the packet again
    /// as the first packet of a new one (the kernel's `-NF_REPEAT` after `nf_ct_kill`).
    Reopen,
}

/// The per-connection TCP state (`struct ip_ct_tcp`): 60 bytes, `Copy`. `Default` is the
/// all-zero state the kernel's `memset` leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpConn {
    /// Per direction, indexed by `Dir as usize`.
    pub seen: [TcpPeer; 2],
    /// The connection state.
    pub state: TcpState,
    /// Direction of the last packet that passed (or was ignored).
    pub last_dir: Dir,
    /// Consecutive retransmissions seen.
    pub retrans: u8,
    /// Row of the last packet.
    pub last_index: FlagIndex,
    /// Sequence number of the last packet.
    pub last_seq: u32,
    /// Acknowledgement number of the last packet.
    pub last_ack: u32,
    /// `seq + len` of the last packet.
    pub last_end: u32,
    /// Raw window of the last packet.
    pub last_win: u16,
    /// Window scale of the last ignored SYN.
    pub last_wscale: u8,
    /// [`peer_flags`] of the last ignored SYN, plus `EXP_CHALLENGE_ACK`, `SIMULTANEOUS_OPEN`.
    pub last_flags: u8,
}

impl Default for TcpConn {
    fn default() -> Self {
        TcpConn {
            seen: [TcpPeer::default(); 2],
            state: TcpState::None,
            last_dir: Dir::Original,
            retrans: 0,
            last_index: FlagIndex::Syn,
            last_seq: 0,
            last_ack: 0,
            last_end: 0,
            last_win: 0,
            last_wscale: 0,
            last_flags: 0,
        }
    }
}

/// `before(a, b)` of the kernel: `a` precedes `b` in sequence space.
fn before(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

fn after(a: u32, b: u32) -> bool {
    before(b, a)
}

/// `MAXACKWINDOW(sender)`: how far behind an ACK may be.
fn max_ack_window(sender: &TcpPeer) -> u32 {
    sender.td_maxwin.max(66_000)
}

/// The fields of a segment the tracker reads; built only after the header is known to fit.
struct Seg<'a> {
    seq: u32,
    ack_seq: u32,
    win: u16,
    flags: u8,
    /// `seq + payload + SYN + FIN` (`segment_seq_plus_len`).
    end: u32,
    options: &'a [u8],
}

impl Seg<'_> {
    fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
}

const TCPOPT_EOL: u8 = 0;
const TCPOPT_NOP: u8 = 1;
const TCPOPT_WINDOW: u8 = 3;
const TCPOPT_SACK_PERM: u8 = 4;
const TCPOPT_SACK: u8 = 5;
const TCPOPT_TIMESTAMP: u8 = 8;
/// RFC 7323 §2.3: shifts above 14 are taken as 14.
const TCP_MAX_WSCALE: u8 = 14;

/// Walk the options as the kernel's simplified parsers do, calling `f(kind, body)` for each
/// complete option; `f` returns `false` to stop. Stops at EOL, a length below 2 or an option
/// running past the end.
fn for_each_option(opts: &[u8], mut f: impl FnMut(u8, &[u8]) -> bool) {
    let mut i = 0;
    while i < opts.len() {
        let kind = opts[i];
        match kind {
            TCPOPT_EOL => return,
            TCPOPT_NOP => i += 1,
            _ => {
                let left = opts.len() - i;
                if left < 2 {
                    return;
                }
                let size = opts[i + 1] as usize;
                if size < 2 || size > left {
                    return;
                }
                if !f(kind, &opts[i + 2..i + size]) {
                    return;
                }
                i += size;
            }
        }
    }
}

/// `tcp_options`: window scale and SACK-permitted into `peer` (which keeps `BE_LIBERAL`).
/// A header without options leaves `peer` untouched, as in the kernel.
fn parse_options(opts: &[u8], peer: &mut TcpPeer) {
    if opts.is_empty() {
        return;
    }
    peer.td_scale = 0;
    peer.flags &= pf::BE_LIBERAL;
    for_each_option(opts, |kind, body| {
        if kind == TCPOPT_SACK_PERM && body.is_empty() {
            peer.flags |= pf::SACK_PERM;
        } else if kind == TCPOPT_WINDOW && body.len() == 1 {
            peer.td_scale = body[0].min(TCP_MAX_WSCALE);
            peer.flags |= pf::WINDOW_SCALE;
        }
        true
    });
}

/// `tcp_sack`: the highest right edge of the first SACK option, if beyond `sack`.
fn highest_sack(opts: &[u8], mut sack: u32) -> u32 {
    // The kernel's fast path: exactly NOP NOP TIMESTAMP(10) means no SACK.
    if opts.len() == 12 && opts[..4] == [TCPOPT_NOP, TCPOPT_NOP, TCPOPT_TIMESTAMP, 10] {
        return sack;
    }
    for_each_option(opts, |kind, body| {
        if kind == TCPOPT_SACK && body.len() >= 8 && body.len() % 8 == 0 {
            for block in body.chunks_exact(8) {
                let right = u32::from_be_bytes([block[4], block[5], block[6], block[7]]);
                if after(right, sack) {
                    sack = right;
                }
            }
            return false;
        }
        true
    });
    sack
}

/// `tcp_valid_flags`: allowed combinations of FIN, SYN, RST, ACK and URG (PSH, ECE and CWR
/// are ignored).
fn valid_flags(flags: u8) -> bool {
    const FIN: u8 = tf::FIN;
    const SYN: u8 = tf::SYN;
    const RST: u8 = tf::RST;
    const ACK: u8 = tf::ACK;
    const URG: u8 = tf::URG;
    matches!(
        flags & (FIN | SYN | RST | ACK | URG),
        SYN | 0x22 // SYN|URG
            | 0x12 // SYN|ACK
            | RST
            | 0x14 // RST|ACK
            | 0x11 // FIN|ACK
            | 0x31 // FIN|ACK|URG
            | ACK
            | 0x30 // ACK|URG
    )
}

/// `tcp_error`: the checks every segment passes before the state machine sees it. `verify`
/// is whether to check the checksum (`nf_conntrack_checksum` and PRE_ROUTING).
pub fn check_segment(seg: &[u8], verify: bool, src: [u8; 4], dst: [u8; 4]) -> Result<(), TcpReason> {
    if seg.len() < HEADER_LEN {
        return Err(TcpReason::ShortHeader);
    }
    let p = TcpPacket::new_unchecked(seg);
    let hlen = p.header_len();
    if hlen < HEADER_LEN || seg.len() < hlen {
        return Err(TcpReason::Truncated);
    }
    if verify && !p.verify_checksum_v4(src, dst) {
        return Err(TcpReason::BadChecksum);
    }
    if !valid_flags(p.flags()) {
        return Err(TcpReason::InvalidFlags);
    }
    Ok(())
}

/// Read a segment that passed [`check_segment`].
fn read_seg(seg: &[u8]) -> Seg<'_> {
    let p = TcpPacket::new_unchecked(seg);
    let hlen = p.header_len();
    let flags = p.flags();
    let payload = (seg.len() - hlen) as u32;
    let seq = p.seq();
    let end = seq
        .wrapping_add(payload)
        .wrapping_add(u32::from(flags & tf::SYN != 0))
        .wrapping_add(u32::from(flags & tf::FIN != 0));
    Seg {
        seq,
        ack_seq: p.ack(),
        win: p.window(),
        flags,
        end,
        options: &seg[HEADER_LEN..hlen],
    }
}

/// Result of window tracking (`enum nf_ct_tcp_action`).
enum WindowAction {
    Accept,
    Ignore(TcpReason),
    Invalid(TcpReason),
}

impl TcpConn {
    /// Track one segment (`nf_conntrack_tcp_packet`): `seg` is the TCP header and payload,
    /// trimmed to the IP total length. For a fresh entry (`ctx.confirmed == false`) the
    /// segment must be able to create a connection, and the state is initialised from it.
    pub fn packet(&mut self, seg: &[u8], ctx: &TcpCtx, cfg: &TcpConfig) -> TcpVerdict {
        if let Err(reason) = check_segment(seg, cfg.checksum && ctx.verify_checksum, ctx.src, ctx.dst) {
            return TcpVerdict::Invalid {
                reason,
                lower_timeout_secs: None,
            };
        }
        let s = read_seg(seg);
        if !ctx.confirmed {
            if let Err(reason) = self.init_new(&s, cfg) {
                return TcpVerdict::Invalid {
                    reason,
                    lower_timeout_secs: None,
                };
            }
        }

        let dir = ctx.dir;
        let d = di(dir);
        let index = flag_index(s.flags);
        let mut old_state = self.state;
        let mut skip_window = false;
        let tr = transition(dir, index, old_state);

        let new_state = match tr {
            Transition::To(TcpState::SynSent) if old_state < TcpState::TimeWait => TcpState::SynSent,
            Transition::To(TcpState::SynSent) | Transition::Ignore => {
                if tr != Transition::Ignore
                    && ((self.seen[0].flags | self.seen[1].flags) & pf::CLOSE_INIT != 0
                        || (self.last_dir == dir && self.last_index == FlagIndex::Rst))
                {
                    // A SYN reopening a closed or aborted connection (RFC 1122 4.2.2.13).
                    return TcpVerdict::Reopen;
                }
                if index == FlagIndex::SynAck
                    && self.last_index == FlagIndex::Syn
                    && self.last_dir != dir
                    && s.ack_seq == self.last_end
                {
                    // This SYN/ACK answers a SYN we ignored: client and server are in sync
                    // and we are not; take the state from what we noted of that SYN.
                    old_state = TcpState::SynSent;
                    let l = di(self.last_dir);
                    self.seen[l].td_end = self.last_end;
                    self.seen[l].td_maxend = self.last_end;
                    self.seen[l].td_maxwin = u32::from(self.last_win).max(1);
                    self.seen[l].td_scale = self.last_wscale;
                    self.last_flags &= !pf::EXP_CHALLENGE_ACK;
                    self.seen[l].flags = self.last_flags;
                    let own = &mut self.seen[d];
                    *own = TcpPeer {
                        flags: own.flags & pf::BE_LIBERAL,
                        ..TcpPeer::default()
                    };
                    TcpState::SynRecv
                } else {
                    self.note_ignored(&s, dir, index, old_state);
                    return TcpVerdict::Ignore {
                        reason: TcpReason::StateIgnored {
                            index,
                            dir,
                            state: old_state,
                        },
                    };
                }
            }
            Transition::Invalid => {
                return TcpVerdict::Invalid {
                    reason: TcpReason::StateInvalid {
                        index,
                        dir,
                        state: old_state,
                    },
                    lower_timeout_secs: None,
                };
            }
            Transition::To(TcpState::TimeWait) => {
                if old_state == TcpState::LastAck
                    && index == FlagIndex::Ack
                    && self.last_dir != dir
                    && self.last_index == FlagIndex::Syn
                    && self.last_flags & pf::EXP_CHALLENGE_ACK != 0
                {
                    // RFC 5961 challenge ACK answering a SYN: not the last ACK.
                    self.last_flags &= !pf::EXP_CHALLENGE_ACK;
                    return TcpVerdict::Ignore {
                        reason: TcpReason::ChallengeAck,
                    };
                }
                TcpState::TimeWait
            }
            Transition::To(TcpState::SynSent2) => {
                self.last_flags |= pf::SIMULTANEOUS_OPEN;
                TcpState::SynSent2
            }
            Transition::To(TcpState::SynRecv) => {
                if dir == Dir::Reply
                    && index == FlagIndex::Ack
                    && self.last_flags & pf::SIMULTANEOUS_OPEN != 0
                {
                    TcpState::Established
                } else {
                    TcpState::SynRecv
                }
            }
            Transition::To(TcpState::Close) if index == FlagIndex::Rst => {
                match self.check_rst(&s, ctx, cfg) {
                    Err(reason) => {
                        return TcpVerdict::Invalid {
                            reason,
                            lower_timeout_secs: None,
                        }
                    }
                    Ok((state, skip)) => {
                        skip_window = skip;
                        state
                    }
                }
            }
            Transition::To(state) => state,
        };

        if !skip_window {
            match self.in_window(dir, index, &s, cfg) {
                WindowAction::Accept => {}
                WindowAction::Ignore(reason) => return TcpVerdict::Ignore { reason },
                WindowAction::Invalid(reason) => {
                    let lower_timeout_secs = self.handle_invalid(dir, index, ctx, cfg);
                    return TcpVerdict::Invalid {
                        reason,
                        lower_timeout_secs,
                    };
                }
            }
        }

        // From here on the packet is in window.
        self.last_index = index;
        self.last_dir = dir;
        self.state = new_state;
        if old_state != new_state && new_state == TcpState::FinWait {
            self.seen[d].flags |= pf::CLOSE_INIT;
        }

        let t = &cfg.timeouts;
        let state_t = t[new_state as usize];
        let mut timeout = if self.retrans >= cfg.max_retrans && state_t > t[TIMEOUT_MAX_RETRANS] {
            t[TIMEOUT_MAX_RETRANS]
        } else if index == FlagIndex::Rst {
            t[TcpState::Close as usize]
        } else if (self.seen[0].flags | self.seen[1].flags) & pf::DATA_UNACKNOWLEDGED != 0
            && state_t > t[TIMEOUT_UNACKNOWLEDGED]
        {
            t[TIMEOUT_UNACKNOWLEDGED]
        } else if self.last_win == 0 && state_t > t[TIMEOUT_MAX_RETRANS] {
            t[TIMEOUT_MAX_RETRANS]
        } else {
            state_t
        };
        let state_changed = new_state != old_state;

        let mut assured_now = false;
        if !ctx.seen_reply {
            if s.has(tf::RST) {
                // Only a RST came back: there never was a connection.
                return TcpVerdict::Kill;
            }
            if index == FlagIndex::Syn && old_state == TcpState::SynSent {
                // A retransmitted SYN does not renew the timer, or port reuse could keep the
                // entry (and its NAT binding) alive for ever.
                return TcpVerdict::Accept {
                    timeout_secs: None,
                    assured_now: false,
                    state_changed,
                };
            }
            // A picked-up connection with no reply yet does not get the long timeout.
            if new_state == TcpState::Established && timeout > t[TIMEOUT_UNACKNOWLEDGED] {
                timeout = t[TIMEOUT_UNACKNOWLEDGED];
            }
        } else if !ctx.assured
            && (old_state == TcpState::SynRecv || old_state == TcpState::Established)
            && new_state == TcpState::Established
        {
            assured_now = true;
        }
        TcpVerdict::Accept {
            timeout_secs: Some(timeout),
            assured_now,
            state_changed,
        }
    }

    /// `tcp_new`: initialise a fresh entry from its first segment, or refuse it.
    fn init_new(&mut self, s: &Seg<'_>, cfg: &TcpConfig) -> Result<(), TcpReason> {
        let index = flag_index(s.flags);
        let first = match transition(Dir::Original, index, TcpState::None) {
            Transition::To(state) => state,
            _ => return Err(TcpReason::InvalidNew),
        };
        *self = TcpConn::default();
        let win = u32::from(s.win).max(1);
        let o = &mut self.seen[0];
        if first == TcpState::SynSent {
            o.td_end = s.end;
            o.td_maxwin = win;
            o.td_maxend = s.end;
            parse_options(s.options, o);
        } else if !cfg.loose {
            return Err(TcpReason::NoPickup);
        } else {
            // Mid-stream: the history is lost; start from this segment and be liberal, since
            // the window scale cannot be known.
            o.td_end = s.end;
            o.td_maxwin = win;
            o.td_maxend = s.end.wrapping_add(win);
            self.seen[0].flags = pf::SACK_PERM | pf::BE_LIBERAL;
            self.seen[1].flags = pf::SACK_PERM | pf::BE_LIBERAL;
        }
        self.last_index = FlagIndex::None;
        Ok(())
    }

    /// Note a segment the table ignored, so that the answer to it can be recognised.
    fn note_ignored(&mut self, s: &Seg<'_>, dir: Dir, index: FlagIndex, old_state: TcpState) {
        self.last_index = index;
        self.last_dir = dir;
        self.last_seq = s.seq;
        self.last_end = s.end;
        self.last_win = s.win;
        if index == FlagIndex::Syn && dir == Dir::Original {
            // A SYN we are out of sync with: keep its options for the SYN/ACK that may follow.
            let mut opts = TcpPeer::default();
            parse_options(s.options, &mut opts);
            self.last_flags = opts.flags & (pf::WINDOW_SCALE | pf::SACK_PERM);
            self.last_wscale = if opts.flags & pf::WINDOW_SCALE != 0 {
                opts.td_scale
            } else {
                0
            };
            // In LAST_ACK an RFC 5961 challenge ACK would look like the last ACK.
            if old_state == TcpState::LastAck {
                self.last_flags |= pf::EXP_CHALLENGE_ACK;
            }
        }
        // A possible challenge ACK answering our SYN.
        if old_state == TcpState::SynSent && index == FlagIndex::Ack && dir == Dir::Reply {
            self.last_ack = s.ack_seq;
        }
    }

    /// The RST checks of the CLOSE transition. `Ok((new_state, skip_window))`.
    fn check_rst(&mut self, s: &Seg<'_>, ctx: &TcpCtx, cfg: &TcpConfig) -> Result<(TcpState, bool), TcpReason> {
        let old_state = self.state;
        let dir = ctx.dir;
        // Closing already: the tuple may have been reused, so the window data is stale.
        if self.can_early_drop() {
            return Ok((TcpState::Close, true));
        }
        let mut new_state = TcpState::Close;
        let peer = self.seen[other(dir)];
        // td_maxack may be stale if a SYN was let through.
        if peer.flags & pf::MAXACK_SET != 0 && self.last_index != FlagIndex::Syn {
            let seq = s.seq;
            let established = old_state == TcpState::Established && ctx.assured;
            // Seq 0 before the connection is established: an answer to a SYN let through.
            if seq == 0 && !established {
                return Ok((new_state, false));
            }
            if before(seq, peer.td_maxack) && !cfg.ignore_invalid_rst {
                return Err(TcpReason::InvalidRst);
            }
            if !established || seq == peer.td_maxack {
                return Ok((new_state, false));
            }
            // The RST that ends a train of data: "P seq:end ... R end:end".
            if self.last_index == FlagIndex::Ack && self.last_dir == dir && seq == self.last_end {
                return Ok((new_state, false));
            }
            // The sequence number does not match exactly: keep the state so that a
            // challenge ACK can pass.
            new_state = old_state;
        }
        if ((ctx.seen_reply && self.last_index == FlagIndex::Syn)
            || (!ctx.assured && self.last_index == FlagIndex::Ack))
            && s.ack_seq == self.last_end
        {
            // A RST answering a SYN or ACK we let through unchecked: skip the window check,
            // it may acknowledge segments we ignored.
            return Ok((new_state, true));
        }
        // A RST answering a challenge ACK we let through.
        if old_state == TcpState::SynSent
            && self.last_index == FlagIndex::Ack
            && self.last_dir == Dir::Reply
            && s.seq == self.last_ack
        {
            return Ok((new_state, true));
        }
        Ok((new_state, false))
    }

    /// `tcp_init_sender`: a SYN or SYN/ACK (re)starts this direction.
    fn init_sender(&mut self, dir: Dir, s: &Seg<'_>) {
        let d = di(dir);
        let sender = &mut self.seen[d];
        sender.td_end = s.end;
        sender.td_maxend = s.end;
        sender.td_maxwin = u32::from(s.win).max(1);
        parse_options(s.options, sender);
        // RFC 7323: scaling is on only when both sides offered it.
        let both = self.seen[0].flags & self.seen[1].flags & pf::WINDOW_SCALE != 0;
        if dir == Dir::Reply && !both {
            self.seen[0].td_scale = 0;
            self.seen[1].td_scale = 0;
        }
    }

    /// `tcp_in_window`: window tracking after van Rooij, with the kernel's bounds:
    /// I. `seq <= sender.td_maxend`; II. `end >= sender.td_end - receiver.td_maxwin`;
    /// III. `sack <= receiver.td_end`; IV. `sack >= receiver.td_end - MAXACKWINDOW`.
    fn in_window(&mut self, dir: Dir, index: FlagIndex, s: &Seg<'_>, cfg: &TcpConfig) -> WindowAction {
        let (d, r) = (di(dir), other(dir));
        let mut seq = s.seq;
        let mut ack = s.ack_seq;
        let mut sack = ack;
        let mut end = s.end;
        let mut win = u32::from(s.win);
        let syn = s.has(tf::SYN);

        if self.seen[r].flags & pf::SACK_PERM != 0 {
            sack = highest_sack(s.options, sack);
        }

        if self.seen[d].td_maxwin == 0 {
            if syn {
                // SYN/ACK answering the SYN, or the reply's SYN of a simultaneous open.
                self.init_sender(dir, s);
                if !s.has(tf::ACK) {
                    return WindowAction::Accept;
                }
            } else {
                // Picked up mid-stream in this direction: use what this segment tells.
                let scale = self.seen[d].td_scale;
                let sender = &mut self.seen[d];
                sender.td_end = end;
                let swin = win.wrapping_shl(u32::from(scale));
                sender.td_maxwin = swin.max(1);
                sender.td_maxend = end.wrapping_add(sender.td_maxwin);
                let receiver = &mut self.seen[r];
                if receiver.td_maxwin == 0 {
                    // Nothing seen the other way yet: make III and IV pass until then.
                    receiver.td_end = sack;
                    receiver.td_maxend = sack;
                } else if sack == receiver.td_end.wrapping_add(1) {
                    // Likely the answer to a keepalive.
                    receiver.td_end = receiver.td_end.wrapping_add(1);
                }
            }
        } else if syn
            && after(end, self.seen[d].td_end)
            && (self.state == TcpState::SynSent || self.state == TcpState::SynRecv)
        {
            // RFC 793: a reinitialised TCP uses higher sequence numbers; start over.
            self.init_sender(dir, s);
            if dir == Dir::Reply && !s.has(tf::ACK) {
                return WindowAction::Accept;
            }
        }

        let receiver_end = self.seen[r].td_end;
        if !s.has(tf::ACK) || (s.has(tf::RST) && ack == 0) {
            // No ACK (or a broken stack's RST with ACK 0): pretend it acked everything.
            ack = receiver_end;
            sack = receiver_end;
        }

        if s.has(tf::RST) && seq == 0 && self.state == TcpState::SynSent {
            // A RST answering the SYN.
            seq = self.seen[d].td_end;
            end = seq;
        }

        let liberal = cfg.be_liberal || self.seen[d].flags & pf::BE_LIBERAL != 0;
        let sender = self.seen[d];
        let receiver = self.seen[r];
        let max_ack_win = max_ack_window(&sender);

        if !before(seq, sender.td_maxend.wrapping_add(1)) {
            let overshot = end.wrapping_sub(sender.td_maxend).wrapping_add(1);
            let ack_ok = after(sack, receiver.td_end.wrapping_sub(max_ack_win).wrapping_sub(1));
            let in_recv_win = receiver.td_maxwin != 0
                && after(
                    end,
                    sender
                        .td_end
                        .wrapping_sub(receiver.td_maxwin)
                        .wrapping_sub(1),
                );
            if in_recv_win
                && ack_ok
                && overshot <= receiver.td_maxwin
                && before(sack, receiver.td_end.wrapping_add(1))
            {
                // Some stacks send more than the window allows; if the peer acknowledges it,
                // everything after would be over the ACK bound unless td_end moves now.
                let sender = &mut self.seen[d];
                sender.td_end = end;
                sender.flags |= pf::DATA_UNACKNOWLEDGED;
                return outside(
                    liberal,
                    WindowAction::Ignore(TcpReason::MoreThanExpected { bytes: overshot }),
                );
            }
            return outside(
                liberal,
                WindowAction::Invalid(TcpReason::SeqOverUpperBound {
                    bound: sender.td_maxend.wrapping_add(1),
                }),
            );
        }

        if !before(sack, receiver.td_end.wrapping_add(1)) {
            return outside(
                liberal,
                WindowAction::Invalid(TcpReason::AckOverUpperBound {
                    bound: receiver.td_end.wrapping_add(1),
                }),
            );
        }

        let lower = sender
            .td_end
            .wrapping_sub(receiver.td_maxwin)
            .wrapping_sub(1);
        if receiver.td_maxwin != 0 && !after(end, lower) {
            return outside(
                liberal,
                WindowAction::Ignore(TcpReason::SeqUnderLowerBound { bound: lower }),
            );
        }
        let ack_lower = receiver.td_end.wrapping_sub(max_ack_win).wrapping_sub(1);
        if !after(sack, ack_lower) {
            return outside(
                liberal,
                WindowAction::Ignore(TcpReason::AckUnderLowerBound { bound: ack_lower }),
            );
        }

        // Window scaling (RFC 7323) never applies to SYNs.
        if !syn {
            win = win.wrapping_shl(u32::from(sender.td_scale));
        }

        // Update the sender.
        let sender = &mut self.seen[d];
        let swin = win.wrapping_add(sack.wrapping_sub(ack));
        if sender.td_maxwin < swin {
            sender.td_maxwin = swin;
        }
        if after(end, sender.td_end) {
            sender.td_end = end;
            sender.flags |= pf::DATA_UNACKNOWLEDGED;
        }
        if s.has(tf::ACK) {
            if sender.flags & pf::MAXACK_SET == 0 {
                sender.td_maxack = ack;
                sender.flags |= pf::MAXACK_SET;
            } else if after(ack, sender.td_maxack) {
                sender.td_maxack = ack;
            }
        }
        let sender_maxend = sender.td_maxend;

        // Update the receiver.
        let receiver = &mut self.seen[r];
        if receiver.td_maxwin != 0 && after(end, sender_maxend) {
            receiver.td_maxwin = receiver
                .td_maxwin
                .wrapping_add(end.wrapping_sub(sender_maxend));
        }
        if after(sack.wrapping_add(win), receiver.td_maxend.wrapping_sub(1)) {
            receiver.td_maxend = sack.wrapping_add(win);
            if win == 0 {
                receiver.td_maxend = receiver.td_maxend.wrapping_add(1);
            }
        }
        if ack == receiver.td_end {
            receiver.flags &= !pf::DATA_UNACKNOWLEDGED;
        }

        // Count retransmissions: the same ACK segment again from the same side.
        if index == FlagIndex::Ack {
            if self.last_dir == dir
                && self.last_seq == seq
                && self.last_ack == ack
                && self.last_end == end
                && self.last_win == s.win
            {
                self.retrans = self.retrans.wrapping_add(1);
            } else {
                self.last_dir = dir;
                self.last_seq = seq;
                self.last_ack = ack;
                self.last_end = end;
                self.last_win = s.win;
                self.retrans = 0;
            }
        }
        WindowAction::Accept
    }

    /// `nf_tcp_handle_invalid`: an assured connection whose FIN or RST fell out of window is
    /// probably dead on one side; when the other side's FIN/RST came before, shorten the
    /// timer to the unacknowledged timeout. Otherwise note this packet for next time.
    fn handle_invalid(&mut self, dir: Dir, index: FlagIndex, ctx: &TcpCtx, cfg: &TcpConfig) -> Option<u32> {
        if !ctx.assured || !matches!(index, FlagIndex::Rst | FlagIndex::Fin) {
            return None;
        }
        if self.last_dir != dir && matches!(self.last_index, FlagIndex::Fin | FlagIndex::Rst) {
            if ctx.expires_in_ms < 120_000 {
                return None;
            }
            let timeout = cfg.timeouts[TIMEOUT_UNACKNOWLEDGED];
            if ctx.expires_in_ms > u64::from(timeout) * 1000 {
                return Some(timeout);
            }
            None
        } else {
            self.last_index = index;
            self.last_dir = dir;
            None
        }
    }

    /// `tcp_can_early_drop`: the connection is closing, so it may be evicted first.
    pub fn can_early_drop(&self) -> bool {
        matches!(
            self.state,
            TcpState::FinWait
                | TcpState::LastAck
                | TcpState::TimeWait
                | TcpState::Close
                | TcpState::CloseWait
        )
    }

    /// `nf_conntrack_tcp_set_closing`: the router sent a RST for this (confirmed) connection.
    /// Moves to CLOSE; returns the timeout to set, or `None` if it was closed already.
    pub fn set_closing(&mut self, cfg: &TcpConfig) -> Option<u32> {
        let old = self.state;
        self.state = TcpState::Close;
        if old == TcpState::Close {
            None
        } else {
            Some(cfg.timeouts[TcpState::Close as usize])
        }
    }

    /// `nf_ct_set_tcp_be_liberal`: stop checking windows in both directions (NAT helpers,
    /// flow offload).
    pub fn set_be_liberal(&mut self) {
        self.seen[0].flags |= pf::BE_LIBERAL;
        self.seen[1].flags |= pf::BE_LIBERAL;
    }
}

/// `nf_tcp_log_invalid`: out of window is accepted when liberal, else the given action.
fn outside(liberal: bool, action: WindowAction) -> WindowAction {
    if liberal {
        WindowAction::Accept
    } else {
        action
    }
}
