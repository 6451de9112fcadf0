//! The TCP connection tracker: the state machine, window tracking and timeout choice of the
//! kernel's `net/netfilter/nf_conntrack_proto_tcp.c`, per packet, for one connection.
//!
//! Follows the newest copy of the file found (gregkh/linux, 2025: `nf_ct_tcp_action` results
//! of `tcp_in_window` with deferred logging, `nf_tcp_handle_invalid`, the RST that keeps
//! ESTABLISHED for a challenge ACK, the zero-window timeout, the capped timeout of a
//! picked-up connection, "do not renew timeout on SYN retransmit", and a RST skipping the
//! window check only when it answers a SYN from the *other* side), and was checked packet by
//! packet against a running 6.18 kernel. Left out: SYN proxy, NAT sequence adjustment
//! (`seqadj`: the offset is always 0), per-connection timeout policies (`nfct timeout`) and
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
    /// Window scale shift this sender announced; both are reset to 0 when the reply's SYN
    /// shows that the two sides did not both announce one.
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

/// The sysctl behind each timeout slot, without the `net.netfilter.` prefix. SYN_SENT2 has
/// no sysctl (only a ctnetlink timeout policy could change it): it keeps 120 s.
pub const TIMEOUT_SYSCTLS: [(&str, usize); 10] = [
    (
        "nf_conntrack_tcp_timeout_syn_sent",
        TcpState::SynSent as usize,
    ),
    (
        "nf_conntrack_tcp_timeout_syn_recv",
        TcpState::SynRecv as usize,
    ),
    (
        "nf_conntrack_tcp_timeout_established",
        TcpState::Established as usize,
    ),
    (
        "nf_conntrack_tcp_timeout_fin_wait",
        TcpState::FinWait as usize,
    ),
    (
        "nf_conntrack_tcp_timeout_close_wait",
        TcpState::CloseWait as usize,
    ),
    (
        "nf_conntrack_tcp_timeout_last_ack",
        TcpState::LastAck as usize,
    ),
    (
        "nf_conntrack_tcp_timeout_time_wait",
        TcpState::TimeWait as usize,
    ),
    ("nf_conntrack_tcp_timeout_close", TcpState::Close as usize),
    ("nf_conntrack_tcp_timeout_max_retrans", TIMEOUT_MAX_RETRANS),
    (
        "nf_conntrack_tcp_timeout_unacknowledged",
        TIMEOUT_UNACKNOWLEDGED,
    ),
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
    /// The segment cannot start a connection (anything but a SYN or an ACK); the newest
    /// kernels no longer log it.
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
        !matches!(
            self,
            TcpReason::ShortHeader | TcpReason::NoPickup | TcpReason::InvalidNew
        )
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
        /// whose FIN or RST answer fell out of window: `nf_tcp_handle_invalid`; the kernel
        /// then also logs "lowered timeout to UNACK").
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
pub fn check_segment(
    seg: &[u8],
    verify: bool,
    src: [u8; 4],
    dst: [u8; 4],
) -> Result<(), TcpReason> {
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
        if let Err(reason) =
            check_segment(seg, cfg.checksum && ctx.verify_checksum, ctx.src, ctx.dst)
        {
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
            Transition::To(TcpState::SynSent) if old_state < TcpState::TimeWait => {
                TcpState::SynSent
            }
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
        if first != TcpState::SynSent && !cfg.loose {
            return Err(TcpReason::NoPickup);
        }
        *self = TcpConn::default();
        let win = u32::from(s.win).max(1);
        let o = &mut self.seen[0];
        if first == TcpState::SynSent {
            o.td_end = s.end;
            o.td_maxwin = win;
            o.td_maxend = s.end;
            parse_options(s.options, o);
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
    fn check_rst(
        &self,
        s: &Seg<'_>,
        ctx: &TcpCtx,
        cfg: &TcpConfig,
    ) -> Result<(TcpState, bool), TcpReason> {
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
        if ((ctx.seen_reply && self.last_index == FlagIndex::Syn && self.last_dir != dir)
            || (!ctx.assured && self.last_index == FlagIndex::Ack))
            && s.ack_seq == self.last_end
        {
            // A RST answering a SYN (from the other side) or an ACK we let through
            // unchecked: skip the window check, it may acknowledge segments we ignored.
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
    fn in_window(
        &mut self,
        dir: Dir,
        index: FlagIndex,
        s: &Seg<'_>,
        cfg: &TcpConfig,
    ) -> WindowAction {
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
            let ack_ok = after(
                sack,
                receiver.td_end.wrapping_sub(max_ack_win).wrapping_sub(1),
            );
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
    fn handle_invalid(
        &mut self,
        dir: Dir,
        index: FlagIndex,
        ctx: &TcpCtx,
        cfg: &TcpConfig,
    ) -> Option<u32> {
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

#[cfg(test)]
mod tests {
    //! Expectations marked "6.18" were checked against a running 6.18 kernel: the same
    //! segments written into a TUN device in a namespace with conntrack on, and `conntrack -L`
    //! and the `--ctstate` counters read after each one.

    use super::*;
    use crate::wire::tcp::TcpPacket;

    const CLIENT: [u8; 4] = [10, 0, 0, 2];
    const SERVER: [u8; 4] = [10, 0, 1, 2];
    const O: Dir = Dir::Original;
    const R: Dir = Dir::Reply;

    /// A segment to build.
    #[derive(Clone)]
    struct P {
        flags: u8,
        seq: u32,
        ack: u32,
        win: u16,
        len: usize,
        opts: Vec<u8>,
        bad_csum: bool,
        doff: Option<u8>,
    }

    fn flags_of(s: &str) -> u8 {
        s.chars()
            .map(|c| match c {
                'F' => tf::FIN,
                'S' => tf::SYN,
                'R' => tf::RST,
                'P' => tf::PSH,
                'A' => tf::ACK,
                'U' => tf::URG,
                'E' => 0x40,
                'C' => 0x80,
                '-' => 0,
                _ => panic!("flag {c}"),
            })
            .fold(0, |a, b| a | b)
    }

    /// `p("SA", seq, ack)`: window 1000, no payload, no options.
    fn p(flags: &str, seq: u32, ack: u32) -> P {
        P {
            flags: flags_of(flags),
            seq,
            ack,
            win: 1000,
            len: 0,
            opts: Vec::new(),
            bad_csum: false,
            doff: None,
        }
    }

    impl P {
        fn win(mut self, w: u16) -> P {
            self.win = w;
            self
        }
        fn len(mut self, l: usize) -> P {
            self.len = l;
            self
        }
        fn opts(mut self, o: &[u8]) -> P {
            self.opts = o.to_vec();
            while self.opts.len() % 4 != 0 {
                self.opts.push(0);
            }
            self
        }
        fn bad_csum(mut self) -> P {
            self.bad_csum = true;
            self
        }
        fn doff(mut self, d: u8) -> P {
            self.doff = Some(d);
            self
        }
        fn bytes(&self, dir: Dir) -> Vec<u8> {
            let hl = HEADER_LEN + self.opts.len();
            let mut seg = vec![b'x'; hl + self.len];
            seg[HEADER_LEN..hl].copy_from_slice(&self.opts);
            let (src, dst) = addrs(dir);
            let mut t = TcpPacket::new_unchecked(&mut seg[..]);
            t.set_src_port(if dir == O { 40000 } else { 80 });
            t.set_dst_port(if dir == O { 80 } else { 40000 });
            t.set_seq(self.seq);
            t.set_ack(self.ack);
            t.set_header_len(hl);
            t.set_flags(self.flags);
            t.set_window(self.win);
            t.set_urgent(0);
            t.fill_checksum_v4(src, dst);
            if self.bad_csum {
                let c = t.checksum();
                t.set_checksum(c ^ 0x5555);
            }
            if let Some(d) = self.doff {
                seg[12] = d << 4;
            }
            seg
        }
    }

    fn addrs(dir: Dir) -> ([u8; 4], [u8; 4]) {
        if dir == O {
            (CLIENT, SERVER)
        } else {
            (SERVER, CLIENT)
        }
    }

    /// The `--ctstate` the kernel gives a packet.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Ct {
        New,
        Established,
        Invalid,
    }

    /// One connection driven as the conntrack core drives the tracker: entry creation,
    /// SEEN_REPLY, ASSURED, the timer (on a millisecond clock), kill and reopen.
    struct Flow {
        cfg: TcpConfig,
        conn: TcpConn,
        exists: bool,
        seen_reply: bool,
        assured: bool,
        now_ms: u64,
        expires_ms: u64,
        last: Option<TcpVerdict>,
        reopened: bool,
    }

    impl Flow {
        fn new() -> Flow {
            Flow::with(TcpConfig::default())
        }
        fn with(cfg: TcpConfig) -> Flow {
            Flow {
                cfg,
                conn: TcpConn::default(),
                exists: false,
                seen_reply: false,
                assured: false,
                now_ms: 0,
                expires_ms: 0,
                last: None,
                reopened: false,
            }
        }
        /// A completed 3-way handshake: client ISN 1000, server ISN 5000, windows 64240 and
        /// 65000 (6.18: ESTABLISHED, ASSURED, 432000 s).
        fn established() -> Flow {
            Flow::established_with(TcpConfig::default())
        }
        fn established_with(cfg: TcpConfig) -> Flow {
            let mut f = Flow::with(cfg);
            f.o(p("S", 1000, 0).win(64240));
            f.r(p("SA", 5000, 1001).win(65000));
            f.o(p("A", 1001, 5001).win(64240));
            assert_eq!(f.state(), TcpState::Established);
            assert!(f.assured);
            f
        }
        fn sleep(&mut self, secs: u64) {
            self.now_ms += secs * 1000;
        }
        fn o(&mut self, pk: P) -> Ct {
            self.send(O, pk)
        }
        fn r(&mut self, pk: P) -> Ct {
            self.send(R, pk)
        }
        fn send(&mut self, dir: Dir, pk: P) -> Ct {
            let seg = pk.bytes(dir);
            self.reopened = false;
            if self.exists && self.expires_ms <= self.now_ms {
                self.exists = false;
            }
            loop {
                let confirmed = self.exists;
                if !confirmed {
                    self.seen_reply = false;
                    self.assured = false;
                }
                let (src, dst) = addrs(dir);
                let ctx = TcpCtx {
                    dir,
                    confirmed,
                    seen_reply: self.seen_reply,
                    assured: self.assured,
                    expires_in_ms: self.expires_ms.saturating_sub(self.now_ms),
                    verify_checksum: true,
                    src,
                    dst,
                };
                let before = self.conn;
                let v = self.conn.packet(&seg, &ctx, &self.cfg);
                self.last = Some(v);
                let ct = match v {
                    TcpVerdict::Invalid { .. } => Ct::Invalid,
                    _ if dir == R || self.seen_reply => Ct::Established,
                    _ => Ct::New,
                };
                match v {
                    TcpVerdict::Reopen => {
                        assert_eq!(self.conn, before, "reopen leaves the old entry as it was");
                        self.exists = false;
                        self.reopened = true;
                        continue;
                    }
                    TcpVerdict::Kill => self.exists = false,
                    TcpVerdict::Invalid {
                        lower_timeout_secs, ..
                    } => {
                        if let Some(t) = lower_timeout_secs {
                            self.expires_ms = self.now_ms + u64::from(t) * 1000;
                        }
                        if !confirmed {
                            self.exists = false;
                        }
                    }
                    TcpVerdict::Ignore { .. } => {
                        assert!(confirmed, "a fresh entry is never ignored");
                        if dir == R {
                            self.seen_reply = true;
                        }
                    }
                    TcpVerdict::Accept {
                        timeout_secs,
                        assured_now,
                        ..
                    } => {
                        if let Some(t) = timeout_secs {
                            self.expires_ms = self.now_ms + u64::from(t) * 1000;
                        }
                        self.assured |= assured_now;
                        if dir == R {
                            self.seen_reply = true;
                        }
                        self.exists = true;
                    }
                }
                return ct;
            }
        }
        fn state(&self) -> TcpState {
            assert!(self.exists, "no entry");
            self.conn.state
        }
        /// Remaining lifetime in seconds.
        fn timeout(&self) -> u64 {
            assert!(self.exists, "no entry");
            (self.expires_ms - self.now_ms) / 1000
        }
        fn reason(&self) -> TcpReason {
            match self.last {
                Some(TcpVerdict::Invalid { reason, .. }) | Some(TcpVerdict::Ignore { reason }) => {
                    reason
                }
                v => panic!("no reason in {v:?}"),
            }
        }
        fn ignored(&self) -> bool {
            matches!(self.last, Some(TcpVerdict::Ignore { .. }))
        }
        /// (state, timeout, seen_reply, assured) in one go.
        fn entry(&self) -> (TcpState, u64, bool, bool) {
            (self.state(), self.timeout(), self.seen_reply, self.assured)
        }
    }

    const WS7_SACK: &[u8] = &[4, 2, 1, 3, 3, 7];
    const SACK_PERM: &[u8] = &[4, 2];

    fn sack_block(left: u32, right: u32) -> Vec<u8> {
        let mut o = vec![1, 1, 5, 10];
        o.extend_from_slice(&left.to_be_bytes());
        o.extend_from_slice(&right.to_be_bytes());
        o
    }

    // ---- the transition table ----------------------------------------------------------

    /// The kernel's `tcp_conntracks`, copied by hand as text, one row per flag index.
    const KERNEL_TABLE: [&str; 12] = [
        // ORIGINAL: sNO  sSS  sSR  sES  sFW  sCW  sLA  sTW  sCL  sS2
        /*syn*/
        "sSS sSS sIG sIG sIG sIG sIG sSS sSS sS2",
        /*synack*/ "sIV sIV sSR sIV sIV sIV sIV sIV sIV sSR",
        /*fin*/ "sIV sIV sFW sFW sLA sLA sLA sTW sCL sIV",
        /*ack*/ "sES sIV sES sES sCW sCW sTW sTW sCL sIV",
        /*rst*/ "sIV sCL sCL sCL sCL sCL sCL sCL sCL sCL",
        /*none*/ "sIV sIV sIV sIV sIV sIV sIV sIV sIV sIV",
        // REPLY
        /*syn*/ "sIV sS2 sIV sIV sIV sIV sIV sSS sIV sS2",
        /*synack*/ "sIV sSR sIG sIG sIG sIG sIG sIG sIG sSR",
        /*fin*/ "sIV sIV sFW sFW sLA sLA sLA sTW sCL sIV",
        /*ack*/ "sIV sIG sSR sES sCW sCW sTW sTW sCL sIG",
        /*rst*/ "sIV sCL sCL sCL sCL sCL sCL sCL sCL sCL",
        /*none*/ "sIV sIV sIV sIV sIV sIV sIV sIV sIV sIV",
    ];

    fn cell(name: &str) -> Transition {
        match name {
            "sNO" => Transition::To(TcpState::None),
            "sSS" => Transition::To(TcpState::SynSent),
            "sSR" => Transition::To(TcpState::SynRecv),
            "sES" => Transition::To(TcpState::Established),
            "sFW" => Transition::To(TcpState::FinWait),
            "sCW" => Transition::To(TcpState::CloseWait),
            "sLA" => Transition::To(TcpState::LastAck),
            "sTW" => Transition::To(TcpState::TimeWait),
            "sCL" => Transition::To(TcpState::Close),
            "sS2" => Transition::To(TcpState::SynSent2),
            "sIV" => Transition::Invalid,
            "sIG" => Transition::Ignore,
            _ => panic!("{name}"),
        }
    }

    #[test]
    fn transition_table_is_the_kernels() {
        let indexes = [
            FlagIndex::Syn,
            FlagIndex::SynAck,
            FlagIndex::Fin,
            FlagIndex::Ack,
            FlagIndex::Rst,
            FlagIndex::None,
        ];
        let mut checked = 0;
        for (d, dir) in [O, R].into_iter().enumerate() {
            for (i, index) in indexes.into_iter().enumerate() {
                let row: Vec<&str> = KERNEL_TABLE[d * 6 + i].split_whitespace().collect();
                assert_eq!(row.len(), 10);
                for (s, state) in TcpState::ALL.into_iter().enumerate() {
                    assert_eq!(state as usize, s);
                    assert_eq!(
                        transition(dir, index, state),
                        cell(row[s]),
                        "dir {dir:?} index {index:?} state {state}"
                    );
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 2 * 6 * 10);
    }

    #[test]
    fn state_names_are_conntracks() {
        let names: Vec<&str> = TcpState::ALL.iter().map(|s| s.name()).collect();
        assert_eq!(
            names,
            [
                "NONE",
                "SYN_SENT",
                "SYN_RECV",
                "ESTABLISHED",
                "FIN_WAIT",
                "CLOSE_WAIT",
                "LAST_ACK",
                "TIME_WAIT",
                "CLOSE",
                "SYN_SENT2"
            ]
        );
        assert_eq!(TcpState::SynSent2.to_string(), "SYN_SENT2");
    }

    #[test]
    fn flag_index_precedence() {
        assert_eq!(flag_index(flags_of("S")), FlagIndex::Syn);
        assert_eq!(flag_index(flags_of("SA")), FlagIndex::SynAck);
        assert_eq!(flag_index(flags_of("SAF")), FlagIndex::SynAck);
        assert_eq!(flag_index(flags_of("RSA")), FlagIndex::Rst);
        assert_eq!(flag_index(flags_of("RA")), FlagIndex::Rst);
        assert_eq!(flag_index(flags_of("FA")), FlagIndex::Fin);
        assert_eq!(flag_index(flags_of("F")), FlagIndex::Fin);
        assert_eq!(flag_index(flags_of("PA")), FlagIndex::Ack);
        assert_eq!(flag_index(flags_of("AU")), FlagIndex::Ack);
        assert_eq!(flag_index(flags_of("PUEC")), FlagIndex::None);
        assert_eq!(flag_index(0), FlagIndex::None);
    }

    #[test]
    fn valid_flag_combinations_are_the_kernels() {
        // tcp_valid_flags: PSH, ECE and CWR never matter.
        let allowed = ["S", "SU", "SA", "R", "RA", "FA", "FAU", "A", "AU"];
        let allowed: Vec<u8> = allowed.iter().map(|s| flags_of(s)).collect();
        let mut n = 0;
        for f in 0..=255u8 {
            let core = f & !(flags_of("PEC"));
            assert_eq!(valid_flags(f), allowed.contains(&core), "flags {f:#04x}");
            n += usize::from(valid_flags(f));
        }
        assert_eq!(n, 9 * 8);
    }

    // ---- whole connections --------------------------------------------------------------

    #[test]
    fn handshake_data_and_fin_close() {
        // 6.18, step by step (ctstate, state, timeout, flags).
        let mut f = Flow::new();
        assert_eq!(f.o(p("S", 1000, 0).win(64240)), Ct::New);
        assert_eq!(f.entry(), (TcpState::SynSent, 120, false, false));
        assert_eq!(f.r(p("SA", 5000, 1001).win(65000)), Ct::Established);
        assert_eq!(f.entry(), (TcpState::SynRecv, 60, true, false));
        assert_eq!(f.o(p("A", 1001, 5001).win(64240)), Ct::Established);
        assert_eq!(f.entry(), (TcpState::Established, 432_000, true, true));
        assert!(matches!(
            f.last,
            Some(TcpVerdict::Accept {
                assured_now: true,
                state_changed: true,
                ..
            })
        ));
        // Outstanding data shortens the timeout to `unacknowledged` until acknowledged.
        f.o(p("PA", 1001, 5001).win(64240).len(100));
        assert_eq!(f.entry(), (TcpState::Established, 300, true, true));
        f.r(p("A", 5001, 1101).win(65000));
        assert_eq!(f.timeout(), 432_000);
        f.r(p("PA", 5001, 1101).win(65000).len(50));
        assert_eq!(f.timeout(), 300);
        f.o(p("A", 1101, 5051).win(64240));
        assert_eq!(f.timeout(), 432_000);
        f.o(p("FA", 1101, 5051).win(64240));
        assert_eq!(f.entry(), (TcpState::FinWait, 120, true, true));
        assert_ne!(f.conn.seen[0].flags & peer_flags::CLOSE_INIT, 0);
        f.r(p("A", 5051, 1102).win(65000));
        assert_eq!(f.entry(), (TcpState::CloseWait, 60, true, true));
        f.r(p("FA", 5051, 1102).win(65000));
        assert_eq!(f.entry(), (TcpState::LastAck, 30, true, true));
        f.o(p("A", 1102, 5052).win(64240));
        assert_eq!(f.entry(), (TcpState::TimeWait, 120, true, true));
        // A new SYN on the same ports reopens: the old entry goes, a new one starts.
        assert_eq!(f.o(p("S", 9000, 0).win(64240)), Ct::New);
        assert!(f.reopened);
        assert_eq!(f.entry(), (TcpState::SynSent, 120, false, false));
    }

    #[test]
    fn window_data_is_initialised_from_the_handshake() {
        let f = Flow::established();
        let [c, s] = f.conn.seen;
        assert_eq!((c.td_end, c.td_maxwin, c.td_maxack), (1001, 64240, 5001));
        // The client may send up to what the server's SYN/ACK allowed: 1001 + 65000.
        assert_eq!(c.td_maxend, 66001);
        assert_eq!(
            (s.td_end, s.td_maxwin, s.td_maxend),
            (5001, 65000, 5001 + 64240)
        );
        assert_eq!(c.flags, peer_flags::MAXACK_SET);
        assert_eq!(s.flags, peer_flags::MAXACK_SET);
        assert_eq!(f.conn.last_index, FlagIndex::Ack);
        assert_eq!(f.conn.retrans, 0);
    }

    #[test]
    fn rst_closes() {
        // 6.18: an exact RST (seq = what the peer acknowledged) closes, 10 s.
        let mut f = Flow::established();
        f.r(p("PA", 5001, 1001).win(65000).len(50));
        // The RST right after the data ends the train (seq = last end) and closes.
        assert_eq!(f.r(p("R", 5051, 0)), Ct::Established);
        assert_eq!(f.entry(), (TcpState::Close, 10, true, true));
        // Anything after in CLOSE stays CLOSE.
        f.o(p("A", 1001, 5001).win(64240));
        assert_eq!(f.entry(), (TcpState::Close, 10, true, true));
    }

    #[test]
    fn rst_with_inexact_sequence_keeps_established_for_a_challenge_ack() {
        // 6.18: ESTABLISHED with 10 s; a RST below what was acknowledged is INVALID;
        // the exact one closes.
        let mut f = Flow::established();
        assert_eq!(f.r(p("R", 5020, 0)), Ct::Established);
        assert_eq!(f.entry(), (TcpState::Established, 10, true, true));
        f.r(p("A", 5001, 1001).win(65000));
        assert_eq!(f.timeout(), 300);
        assert_eq!(f.r(p("R", 4000, 0)), Ct::Invalid);
        assert_eq!(f.reason(), TcpReason::InvalidRst);
        assert_eq!(f.reason().to_string(), "invalid rst");
        assert_eq!(f.entry(), (TcpState::Established, 300, true, true));
        f.r(p("R", 5001, 0));
        assert_eq!(f.entry(), (TcpState::Close, 10, true, true));
        // A reopen needs the RST to have come from the SYN's side: here it did not.
        assert_eq!(f.o(p("S", 3000, 0).win(64240)), Ct::Established);
        assert!(f.ignored());
        assert_eq!(f.state(), TcpState::Close);
    }

    #[test]
    fn ignore_invalid_rst_lets_an_old_rst_through() {
        // 6.18 with nf_conntrack_tcp_ignore_invalid_rst=1: accepted, ESTABLISHED, 10 s.
        let cfg = TcpConfig {
            ignore_invalid_rst: true,
            ..TcpConfig::default()
        };
        let mut f = Flow::established_with(cfg);
        assert_eq!(f.r(p("R", 4000, 0)), Ct::Established);
        assert_eq!(f.entry(), (TcpState::Established, 10, true, true));
    }

    #[test]
    fn rst_answering_the_syn_deletes_the_entry() {
        // 6.18: the entry is gone after each of these.
        for rst in [
            p("RA", 0, 1001),
            p("R", 0, 0),
            p("RA", 0, 999),
            p("RA", 0, 0),
        ] {
            let mut f = Flow::new();
            f.o(p("S", 1000, 0).win(64240));
            assert_eq!(f.r(rst), Ct::Established);
            assert_eq!(f.last, Some(TcpVerdict::Kill));
            assert!(!f.exists);
        }
    }

    #[test]
    fn simultaneous_open() {
        // 6.18: SYN, SYN → SYN_SENT2; SYN/ACK from the client → SYN_RECV; the server's
        // SYN/ACK is ignored; the server's ACK establishes (simultaneous-open flag) and
        // assures.
        let mut f = Flow::new();
        f.o(p("S", 1000, 0).win(64240));
        assert_eq!(f.r(p("S", 5000, 0).win(65000)), Ct::Established);
        assert_eq!(f.entry(), (TcpState::SynSent2, 120, true, false));
        assert_ne!(f.conn.last_flags & peer_flags::SIMULTANEOUS_OPEN, 0);
        f.o(p("SA", 1000, 5001).win(64240));
        assert_eq!(f.entry(), (TcpState::SynRecv, 60, true, false));
        f.r(p("SA", 5000, 1001).win(65000));
        assert!(f.ignored());
        assert_eq!(f.entry(), (TcpState::SynRecv, 60, true, false));
        f.r(p("A", 5001, 1001).win(65000));
        assert_eq!(f.entry(), (TcpState::Established, 432_000, true, true));

        // The other order: the server's SYN/ACK first.
        let mut f = Flow::new();
        f.o(p("S", 1000, 0).win(64240));
        f.r(p("S", 5000, 0).win(65000));
        f.r(p("SA", 5000, 1001).win(65000));
        assert_eq!(f.entry(), (TcpState::SynRecv, 60, true, false));
        f.o(p("SA", 1000, 5001).win(64240));
        assert!(f.ignored() || f.state() == TcpState::SynRecv);
        f.o(p("A", 1001, 5001).win(64240));
        assert_eq!(f.entry(), (TcpState::Established, 432_000, true, true));
    }

    #[test]
    fn syn_retransmission_does_not_renew_the_timer() {
        // 6.18: 119 then 116 after 3 s; the retransmitted SYN/ACK is ignored (57 after 2 s).
        let mut f = Flow::new();
        f.o(p("S", 1000, 0).win(64240));
        f.sleep(3);
        assert_eq!(f.o(p("S", 1000, 0).win(64240)), Ct::New);
        assert_eq!(
            f.last,
            Some(TcpVerdict::Accept {
                timeout_secs: None,
                assured_now: false,
                state_changed: false
            })
        );
        assert_eq!(f.entry(), (TcpState::SynSent, 117, false, false));
        f.r(p("SA", 5000, 1001).win(65000));
        f.sleep(2);
        assert_eq!(f.r(p("SA", 5000, 1001).win(65000)), Ct::Established);
        assert_eq!(
            f.reason(),
            TcpReason::StateIgnored {
                index: FlagIndex::SynAck,
                dir: R,
                state: TcpState::SynRecv
            }
        );
        assert_eq!(
            f.reason().to_string(),
            "packet (index 1) in dir 1 ignored, state SYN_RECV"
        );
        assert_eq!(f.entry(), (TcpState::SynRecv, 58, true, false));
        f.o(p("A", 1001, 5001).win(64240));
        assert_eq!(f.entry(), (TcpState::Established, 432_000, true, true));
    }

    #[test]
    fn syn_with_higher_sequence_restarts_the_handshake() {
        // A new SYN in SYN_SENT with a higher sequence number re-initialises the sender, so
        // the SYN/ACK answering it is in window.
        let mut f = Flow::new();
        f.o(p("S", 1000, 0).win(64240));
        f.o(p("S", 2000, 0).win(64240));
        assert_eq!(f.conn.seen[0].td_end, 2001);
        assert_eq!(f.r(p("SA", 5000, 2001).win(65000)), Ct::Established);
        assert_eq!(f.state(), TcpState::SynRecv);
        // 6.18: a SYN/ACK for the first SYN is still within the ACK bounds.
        let mut g = Flow::new();
        g.o(p("S", 1000, 0).win(64240));
        g.o(p("S", 2000, 0).win(64240));
        assert_eq!(g.r(p("SA", 5000, 1001).win(65000)), Ct::Established);
        assert_eq!(g.state(), TcpState::SynRecv);
    }

    #[test]
    fn reopen_after_rst_from_the_same_side_and_invalid_reply_syn() {
        // 6.18 sequence: RST from the server closes; a client SYN then is ignored (the RST
        // was not the client's); the server's SYN/ACK to it resyncs to SYN_RECV; the client's
        // RST closes; a reply-direction SYN in CLOSE is INVALID; a client SYN reopens.
        let mut f = Flow::established();
        f.r(p("R", 5001, 0));
        assert_eq!(f.entry(), (TcpState::Close, 10, true, true));
        assert_eq!(f.o(p("S", 3000, 0).win(64240)), Ct::Established);
        assert!(f.ignored());
        assert_eq!(f.r(p("SA", 8000, 3001).win(65000)), Ct::Established);
        assert_eq!(f.entry(), (TcpState::SynRecv, 60, true, true));
        f.o(p("R", 3001, 0));
        assert_eq!(f.entry(), (TcpState::Close, 10, true, true));
        assert_eq!(f.r(p("S", 123, 0)), Ct::Invalid);
        assert_eq!(f.o(p("S", 5000, 0).win(64240)), Ct::New);
        assert!(f.reopened);
        assert_eq!(f.entry(), (TcpState::SynSent, 120, false, false));
    }

    #[test]
    fn reply_syn_in_time_wait_reopens() {
        // The modern table lets the server reopen from TIME_WAIT (it may have switched
        // roles); the core then tracks the SYN as a new connection the other way round.
        let mut f = Flow::established();
        f.o(p("FA", 1001, 5001));
        f.r(p("FA", 5001, 1002));
        f.o(p("A", 1002, 5002));
        assert_eq!(f.state(), TcpState::TimeWait);
        let seg = p("S", 7000, 0).bytes(R);
        let ctx = TcpCtx {
            dir: R,
            confirmed: true,
            seen_reply: true,
            assured: true,
            expires_in_ms: 100_000,
            verify_checksum: true,
            src: SERVER,
            dst: CLIENT,
        };
        assert_eq!(f.conn.packet(&seg, &ctx, &f.cfg), TcpVerdict::Reopen);
    }

    #[test]
    fn syn_ack_answering_an_ignored_syn_resyncs() {
        // 6.18: ESTABLISHED, a client SYN is ignored; the server's SYN/ACK acknowledging it
        // takes the entry to SYN_RECV with the SYN's options; the ACK establishes again.
        let mut f = Flow::established();
        f.o(p("S", 9000, 0).win(64240).opts(&[1, 3, 3, 5, 4, 2]));
        assert!(f.ignored());
        assert_eq!(f.conn.last_end, 9001);
        assert_eq!(f.conn.last_wscale, 5);
        assert_eq!(
            f.conn.last_flags,
            peer_flags::WINDOW_SCALE | peer_flags::SACK_PERM
        );
        f.r(p("SA", 7000, 9001).win(65000).opts(SACK_PERM));
        assert_eq!(f.entry(), (TcpState::SynRecv, 60, true, true));
        let c = f.conn.seen[0];
        assert_eq!((c.td_end, c.td_maxwin), (9001, 64240));
        // The server sent no window scale: scaling is off both ways.
        assert_eq!((c.td_scale, f.conn.seen[1].td_scale), (0, 0));
        f.o(p("A", 9001, 7001).win(64240));
        assert_eq!(f.entry(), (TcpState::Established, 432_000, true, true));
    }

    #[test]
    fn challenge_ack_in_last_ack_is_not_the_last_ack() {
        // 6.18: in LAST_ACK a client SYN is ignored and the server's challenge ACK does not
        // move the entry to TIME_WAIT; the real last ACK does.
        let mut f = Flow::established();
        f.o(p("FA", 1001, 5001).win(64240));
        f.r(p("FA", 5001, 1002).win(65000));
        assert_eq!(f.state(), TcpState::LastAck);
        f.o(p("S", 7000, 0).win(64240));
        assert!(f.ignored());
        assert_ne!(f.conn.last_flags & peer_flags::EXP_CHALLENGE_ACK, 0);
        assert_eq!(f.r(p("A", 5002, 1002).win(65000)), Ct::Established);
        assert_eq!(f.reason(), TcpReason::ChallengeAck);
        assert_eq!(f.entry(), (TcpState::LastAck, 30, true, true));
        f.o(p("A", 1002, 5002).win(64240));
        assert_eq!(f.entry(), (TcpState::TimeWait, 120, true, true));
    }

    #[test]
    fn rst_answering_an_ignored_syn_skips_the_window_check_only_from_the_other_side() {
        // 6.18: after an ignored client SYN, the server's RST acknowledging it closes even
        // far out of window; the same RST from the client's side is window-checked: INVALID.
        let mut f = Flow::established();
        f.o(p("S", 900_000, 0).win(64240));
        assert!(f.ignored());
        assert_eq!(f.r(p("RA", 700_000, 900_001).win(0)), Ct::Established);
        assert_eq!(f.entry(), (TcpState::Close, 10, true, true));
        let mut f = Flow::established();
        f.o(p("S", 900_000, 0).win(64240));
        assert_eq!(f.o(p("R", 2_000_000, 900_001).win(0)), Ct::Invalid);
        assert_eq!(f.entry(), (TcpState::Established, 432_000, true, true));
        // Simultaneous open: the last SYN came from the server, so the client's RST skips
        // the check and closes; the server's own is checked (and ignored as old data).
        let mut f = Flow::new();
        f.o(p("S", 1_265_797_938, 0).win(65535));
        f.r(p("S", 6402, 0).win(100));
        assert_eq!(f.o(p("R", 2_839_786_315, 0)), Ct::Established);
        assert_eq!(f.entry(), (TcpState::Close, 10, true, false));
        let mut f = Flow::new();
        f.o(p("S", 1_265_797_938, 0).win(65535));
        f.r(p("S", 6402, 0).win(100));
        assert_eq!(f.r(p("R", 2_839_786_315, 0)), Ct::Established);
        assert!(matches!(f.reason(), TcpReason::SeqUnderLowerBound { .. }));
        assert_eq!(f.entry(), (TcpState::SynSent2, 120, true, false));
        // And a SYN/ACK ignored in SYN_SENT (its ACK far behind) does not make the client's
        // later RST skip the check either.
        let mut f = Flow::new();
        f.o(p("S", 1_265_797_938, 0).win(65535));
        f.r(p("SA", 6402, 0).win(0));
        assert!(matches!(f.reason(), TcpReason::AckUnderLowerBound { .. }));
        assert_eq!(f.o(p("R", 2_839_786_315, 0)), Ct::Invalid);
        assert_eq!(f.entry(), (TcpState::SynSent, 120, true, false));
    }

    #[test]
    fn half_open_challenge_ack_then_rst() {
        // 6.18: a reply ACK in SYN_SENT (a challenge ACK from a half-open peer) is ignored;
        // the client's RST with that ACK's number closes without a window check; with
        // another number it is checked (and here still in window).
        let mut f = Flow::new();
        f.o(p("S", 1000, 0).win(64240));
        assert_eq!(f.r(p("A", 777, 555).win(65000)), Ct::Established);
        assert!(f.ignored());
        assert_eq!(f.conn.last_ack, 555);
        f.o(p("R", 555, 0));
        assert_eq!(f.entry(), (TcpState::Close, 10, true, false));
        let mut g = Flow::new();
        g.o(p("S", 1000, 0).win(64240));
        g.r(p("A", 777, 555).win(65000));
        g.o(p("R", 556, 0));
        assert_eq!(g.entry(), (TcpState::Close, 10, true, false));
    }

    // ---- window tracking ----------------------------------------------------------------

    #[test]
    fn out_of_window_is_invalid_unless_liberal() {
        let mut f = Flow::established();
        assert_eq!(f.o(p("PA", 201_001, 5001).win(64240).len(10)), Ct::Invalid);
        assert_eq!(f.reason(), TcpReason::SeqOverUpperBound { bound: 66002 });
        assert_eq!(
            f.reason().to_string(),
            "SEQ is over upper bound 66002 (over the window of the receiver)"
        );
        assert_eq!(f.entry(), (TcpState::Established, 432_000, true, true));
        // Acknowledging data never sent.
        assert_eq!(f.r(p("A", 5001, 99_999).win(65000)), Ct::Invalid);
        assert_eq!(f.reason(), TcpReason::AckOverUpperBound { bound: 1002 });
        // 6.18 with nf_conntrack_tcp_be_liberal=1: both accepted.
        let cfg = TcpConfig {
            be_liberal: true,
            ..TcpConfig::default()
        };
        let mut f = Flow::established_with(cfg);
        assert_eq!(
            f.o(p("PA", 201_001, 5001).win(64240).len(10)),
            Ct::Established
        );
        assert_eq!(f.r(p("A", 5001, 99_999).win(65000)), Ct::Established);
        assert_eq!(f.state(), TcpState::Established);
    }

    #[test]
    fn a_little_more_than_the_window_is_ignored_but_followed() {
        // 6.18: past the window by a few bytes: let through (timer unchanged), and td_end
        // moves so that the ACK for it is in window.
        let mut f = Flow::established();
        f.sleep(2);
        assert_eq!(
            f.o(p("PA", 66_002, 5001).win(64240).len(10)),
            Ct::Established
        );
        assert_eq!(f.reason(), TcpReason::MoreThanExpected { bytes: 12 });
        assert_eq!(f.reason().to_string(), "12 bytes more than expected");
        assert_eq!(f.timeout(), 431_998);
        assert_eq!(f.conn.seen[0].td_end, 66_012);
        assert_eq!(f.r(p("A", 5001, 66_012).win(65000)), Ct::Established);
        assert_eq!(f.timeout(), 432_000);
    }

    #[test]
    fn old_data_and_old_acks_are_ignored() {
        let mut f = Flow::established();
        // Move the client well ahead: 60000 bytes, acknowledged.
        f.o(p("PA", 1001, 5001).win(64240).len(60000));
        f.r(p("A", 5001, 61_001).win(65000));
        f.o(p("PA", 61_001, 5001).win(64240).len(60000));
        f.r(p("A", 5001, 121_001).win(65000));
        // A retransmission of the first segment ends below td_end - receiver's max window.
        assert_eq!(f.o(p("PA", 1001, 5001).win(64240).len(10)), Ct::Established);
        assert!(f.ignored());
        assert!(matches!(f.reason(), TcpReason::SeqUnderLowerBound { .. }));
        // An ACK far behind what the client has sent (more than 66000 back).
        f.o(p("PA", 121_001, 5001).win(64240).len(60000));
        f.r(p("A", 5001, 181_001).win(65000));
        assert_eq!(f.r(p("A", 5001, 2001).win(65000)), Ct::Established);
        assert!(matches!(f.reason(), TcpReason::AckUnderLowerBound { .. }));
        assert!(f
            .reason()
            .to_string()
            .starts_with("ignored ACK under lower bound"));
    }

    #[test]
    fn window_scaling_needs_both_sides() {
        // 6.18: both offer scale 7: the server's window 2000 means 256000 bytes, so data
        // 200000 ahead is in window. Only the server offers: no scaling, INVALID.
        let mut f = Flow::new();
        f.o(p("S", 1000, 0).win(64240).opts(WS7_SACK));
        f.r(p("SA", 5000, 1001).win(65000).opts(WS7_SACK));
        assert_eq!((f.conn.seen[0].td_scale, f.conn.seen[1].td_scale), (7, 7));
        f.o(p("A", 1001, 5001).win(502));
        f.r(p("A", 5001, 1001).win(2000));
        assert_eq!(f.conn.seen[0].td_maxend, 1001 + (2000 << 7));
        assert_eq!(
            f.o(p("PA", 201_001, 5001).win(502).len(100)),
            Ct::Established
        );
        assert_eq!(f.entry(), (TcpState::Established, 300, true, true));

        let mut f = Flow::new();
        f.o(p("S", 1000, 0).win(64240).opts(SACK_PERM));
        f.r(p("SA", 5000, 1001).win(65000).opts(WS7_SACK));
        assert_eq!((f.conn.seen[0].td_scale, f.conn.seen[1].td_scale), (0, 0));
        f.o(p("A", 1001, 5001).win(502));
        f.r(p("A", 5001, 1001).win(2000));
        assert_eq!(f.o(p("PA", 201_001, 5001).win(502).len(100)), Ct::Invalid);
        assert_eq!(f.entry(), (TcpState::Established, 432_000, true, true));
    }

    #[test]
    fn window_scale_is_capped_at_14() {
        let mut f = Flow::new();
        f.o(p("S", 1000, 0).win(64240).opts(&[1, 3, 3, 15]));
        assert_eq!(f.conn.seen[0].td_scale, 14);
        assert_eq!(f.conn.seen[0].flags, peer_flags::WINDOW_SCALE);
    }

    #[test]
    fn sack_right_edges_count_when_both_permit() {
        // 6.18: with SACK permitted, a SACK block beyond the data sent is INVALID (ACK over
        // the upper bound); one within is fine. Without SACK-permitted the block is not read.
        let mut f = Flow::new();
        f.o(p("S", 1000, 0).win(64240).opts(SACK_PERM));
        f.r(p("SA", 5000, 1001).win(65000).opts(SACK_PERM));
        f.o(p("A", 1001, 5001).win(64240));
        f.o(p("PA", 1001, 5001).win(64240).len(1000));
        assert_eq!(
            f.r(p("A", 5001, 1001).win(65000).opts(&sack_block(1501, 2001))),
            Ct::Established
        );
        assert!(!f.ignored());
        // The SACKed bytes count towards the window the client may use.
        assert_eq!(f.conn.seen[0].td_maxend, 2001 + 65000);
        assert_eq!(
            f.r(p("A", 5001, 1001).win(65000).opts(&sack_block(1501, 3001))),
            Ct::Invalid
        );
        assert_eq!(f.reason(), TcpReason::AckOverUpperBound { bound: 2002 });

        let mut f = Flow::new();
        f.o(p("S", 1000, 0).win(64240));
        f.r(p("SA", 5000, 1001).win(65000));
        f.o(p("A", 1001, 5001).win(64240));
        f.o(p("PA", 1001, 5001).win(64240).len(1000));
        assert_eq!(
            f.r(p("A", 5001, 1001).win(65000).opts(&sack_block(1501, 3001))),
            Ct::Established
        );
    }

    #[test]
    fn sack_parsing() {
        // Highest right edge of the first SACK option, in sequence space.
        let mut o = vec![1, 1, 5, 26];
        for (l, r) in [(10u32, 20u32), (30, 0xffff_fff0), (40, 50)] {
            o.extend_from_slice(&l.to_be_bytes());
            o.extend_from_slice(&r.to_be_bytes());
        }
        // 0xfffffff0 is before 20 in sequence space, so 50 is the highest.
        assert_eq!(highest_sack(&o, 5), 50);
        assert_eq!(highest_sack(&o, 0xffff_ff00), 50);
        assert_eq!(
            highest_sack(&sack_block(30, 0xffff_fff0), 0xffff_ff00),
            0xffff_fff0
        );
        assert_eq!(highest_sack(&sack_block(30, 0xffff_fff0), 10), 10);
        // The timestamp-only fast path, and a malformed block length.
        let ts = [1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0];
        assert_eq!(highest_sack(&ts, 5), 5);
        assert_eq!(highest_sack(&[5, 9, 0, 0, 0, 0, 0, 0, 0], 5), 5);
        // Parsing stops at EOL, a silly length, or an option past the end.
        assert_eq!(highest_sack(&[0, 5, 10, 0, 0, 0, 0, 0, 0, 0, 9], 5), 5);
        assert_eq!(highest_sack(&[3, 1, 5, 10, 0, 0, 0, 0, 0, 0, 0, 9], 5), 5);
        assert_eq!(highest_sack(&[5, 10, 0, 0, 0, 0, 0, 0, 0], 5), 5);
        assert_eq!(highest_sack(&[1, 1, 1, 5], 5), 5);
    }

    #[test]
    fn option_parsing_keeps_liberal_and_skips_headers_without_options() {
        let mut peer = TcpPeer {
            td_scale: 3,
            flags: peer_flags::BE_LIBERAL | peer_flags::WINDOW_SCALE | peer_flags::MAXACK_SET,
            ..TcpPeer::default()
        };
        let before = peer;
        parse_options(&[], &mut peer);
        assert_eq!(peer, before);
        parse_options(&[1, 1, 4, 2], &mut peer);
        assert_eq!(peer.td_scale, 0);
        assert_eq!(peer.flags, peer_flags::BE_LIBERAL | peer_flags::SACK_PERM);
        // A window option of the wrong size is not one.
        parse_options(&[3, 4, 7, 0], &mut peer);
        assert_eq!(peer.flags, peer_flags::BE_LIBERAL);
        // Truncated: the kind byte alone at the end.
        parse_options(&[1, 1, 1, 3], &mut peer);
        assert_eq!(peer.flags, peer_flags::BE_LIBERAL);
    }

    // ---- segment checks -----------------------------------------------------------------

    #[test]
    fn invalid_flag_combinations_never_create_or_update() {
        // 6.18: each of these as a first packet is INVALID and leaves no entry.
        for flags in [
            "SF", "SR", "F", "-", "SAU", "FPU", "P", "RAU", "SRA", "SFA", "FU",
        ] {
            let mut f = Flow::new();
            assert_eq!(f.o(p(flags, 1, 1)), Ct::Invalid, "{flags}");
            assert_eq!(f.reason(), TcpReason::InvalidFlags, "{flags}");
            assert!(!f.exists);
        }
        // Valid flags that cannot start a connection.
        for flags in ["SA", "RA", "FA", "R"] {
            let mut f = Flow::new();
            assert_eq!(f.o(p(flags, 1, 1)), Ct::Invalid, "{flags}");
            assert_eq!(f.reason(), TcpReason::InvalidNew, "{flags}");
        }
        // SYN with URG, ECE, CWR or PSH starts one.
        for flags in ["SU", "SEC", "SP"] {
            let mut f = Flow::new();
            assert_eq!(f.o(p(flags, 1, 0)), Ct::New, "{flags}");
            assert_eq!(f.state(), TcpState::SynSent);
        }
        // In an established connection, SYN+FIN is INVALID before the state machine.
        let mut f = Flow::established();
        assert_eq!(f.o(p("SFA", 1001, 5001)), Ct::Invalid);
        assert_eq!(f.reason(), TcpReason::InvalidFlags);
        assert_eq!(f.reason().to_string(), "invalid tcp flag combination");
    }

    #[test]
    fn checksum_is_checked_only_when_asked() {
        // 6.18: a bad checksum is INVALID with nf_conntrack_checksum=1 and starts a
        // connection with 0.
        let mut f = Flow::new();
        assert_eq!(f.o(p("S", 1000, 0).bad_csum()), Ct::Invalid);
        assert_eq!(f.reason(), TcpReason::BadChecksum);
        assert!(!f.exists);
        let mut f = Flow::with(TcpConfig {
            checksum: false,
            ..TcpConfig::default()
        });
        assert_eq!(f.o(p("S", 1000, 0).bad_csum()), Ct::New);
        // Not at PRE_ROUTING (or offloaded): not checked either.
        let seg = p("S", 1000, 0).bad_csum().bytes(O);
        let ctx = TcpCtx {
            dir: O,
            confirmed: false,
            seen_reply: false,
            assured: false,
            expires_in_ms: 0,
            verify_checksum: false,
            src: CLIENT,
            dst: SERVER,
        };
        let mut c = TcpConn::default();
        assert!(matches!(
            c.packet(&seg, &ctx, &TcpConfig::default()),
            TcpVerdict::Accept { .. }
        ));
        assert_eq!(
            check_segment(&seg, true, CLIENT, SERVER),
            Err(TcpReason::BadChecksum)
        );
        assert_eq!(check_segment(&seg, false, CLIENT, SERVER), Ok(()));
    }

    #[test]
    fn header_length_checks() {
        // 6.18: data offset 4, or past the segment (8, 15 with no options): INVALID.
        for d in [0u8, 4, 8, 15] {
            let mut f = Flow::new();
            assert_eq!(f.o(p("S", 1000, 0).doff(d)), Ct::Invalid, "doff {d}");
            assert_eq!(f.reason(), TcpReason::Truncated);
            assert_eq!(f.reason().to_string(), "truncated packet");
        }
        let seg = p("S", 1000, 0).bytes(O);
        for n in 0..HEADER_LEN {
            assert_eq!(
                check_segment(&seg[..n], true, CLIENT, SERVER),
                Err(TcpReason::ShortHeader)
            );
        }
        assert!(!TcpReason::ShortHeader.logged());
    }

    // ---- picking up connections ---------------------------------------------------------

    #[test]
    fn loose_pickup_of_a_mid_stream_ack() {
        // 6.18: NEW, ESTABLISHED, [UNREPLIED], 300 s; the reply is still capped (SEEN_REPLY
        // is set after it); the next packet assures and gets the full timeout.
        let mut f = Flow::new();
        assert_eq!(f.o(p("A", 1001, 5001).win(64240)), Ct::New);
        assert_eq!(f.entry(), (TcpState::Established, 300, false, false));
        // The client's side is taken from the segment; both sides are SACK-permitted and
        // liberal, because the window scale cannot be known. (The ACK itself is beyond
        // anything seen from the server, so, being liberal, it updates nothing else.)
        let both = peer_flags::SACK_PERM | peer_flags::BE_LIBERAL;
        let [c, s] = f.conn.seen;
        assert_eq!(
            (c.td_end, c.td_maxwin, c.td_maxend),
            (1001, 64240, 1001 + 64240)
        );
        assert_eq!(c.flags, both);
        assert_eq!(
            s,
            TcpPeer {
                flags: both,
                ..TcpPeer::default()
            }
        );
        // The server's first segment initialises its side the same way.
        assert_eq!(f.r(p("A", 5001, 1001).win(65000)), Ct::Established);
        assert_eq!(f.entry(), (TcpState::Established, 300, true, false));
        let s = f.conn.seen[1];
        assert_eq!(
            (s.td_end, s.td_maxwin, s.td_maxend),
            (5001, 65000, 5001 + 65000)
        );
        assert_eq!(f.o(p("A", 1001, 5001).win(64240)), Ct::Established);
        assert_eq!(f.entry(), (TcpState::Established, 432_000, true, true));
        // Liberal from the start: far out of window is still accepted.
        assert_eq!(
            f.o(p("PA", 900_001, 5001).win(64240).len(10)),
            Ct::Established
        );
        // Only a bare ACK picks up: FIN/ACK cannot.
        let mut g = Flow::new();
        assert_eq!(g.o(p("FA", 1001, 5001)), Ct::Invalid);
        assert_eq!(g.reason(), TcpReason::InvalidNew);
        assert_eq!(g.reason().to_string(), "invalid new");
    }

    #[test]
    fn no_pickup_when_not_loose() {
        // 6.18 with nf_conntrack_tcp_loose=0: INVALID, no entry; a SYN still works.
        let cfg = TcpConfig {
            loose: false,
            ..TcpConfig::default()
        };
        let mut f = Flow::with(cfg);
        assert_eq!(f.o(p("A", 1001, 5001).win(64240)), Ct::Invalid);
        assert_eq!(f.reason(), TcpReason::NoPickup);
        assert!(!f.reason().logged());
        assert!(!f.exists);
        assert_eq!(f.o(p("S", 1000, 0).win(64240)), Ct::New);
    }

    #[test]
    fn keepalive_answer_on_a_picked_up_connection() {
        // Picked up on a keepalive (sequence number one below the next byte); the server's
        // first segment acknowledges one more than that, which the client's td_end absorbs.
        let mut f = Flow::new();
        f.o(p("A", 1000, 5001).win(64240));
        assert_eq!(f.conn.seen[0].td_end, 1000);
        f.r(p("A", 5001, 1001).win(65000));
        assert_eq!(f.conn.seen[0].td_end, 1001);
    }

    // ---- timeouts -----------------------------------------------------------------------

    #[test]
    fn max_retrans_and_zero_window_timeouts() {
        // 6.18 with max_retrans timeout 200 and unacknowledged 250: data outstanding gives
        // 250; the fourth identical segment (retrans 3 = max_retrans) gives 200; a window of 0
        // gives 200; a normal ACK the full 432000.
        let mut cfg = TcpConfig::default();
        cfg.timeouts[TIMEOUT_MAX_RETRANS] = 200;
        cfg.timeouts[TIMEOUT_UNACKNOWLEDGED] = 250;
        let mut f = Flow::established_with(cfg);
        let data = p("PA", 1001, 5001).win(64240).len(100);
        for (i, want) in [250, 250, 250, 200, 200].into_iter().enumerate() {
            f.o(data.clone());
            assert_eq!(f.conn.retrans, i as u8);
            assert_eq!(f.timeout(), want, "copy {i}");
        }
        f.r(p("A", 5001, 1101).win(65000));
        assert_eq!((f.conn.retrans, f.timeout()), (0, 432_000));
        f.r(p("A", 5001, 1101).win(0));
        assert_eq!(f.timeout(), 200);
        f.r(p("A", 5001, 1101).win(10));
        assert_eq!(f.timeout(), 432_000);
        // max_retrans 0: every packet counts as past the limit.
        let mut cfg = TcpConfig {
            max_retrans: 0,
            ..TcpConfig::default()
        };
        cfg.timeouts[TIMEOUT_MAX_RETRANS] = 200;
        let mut f = Flow::established_with(cfg);
        f.r(p("A", 5001, 1001).win(65000));
        assert_eq!(f.timeout(), 200);
    }

    #[test]
    fn out_of_window_fin_and_rst_shorten_an_assured_connection() {
        // 6.18: an out-of-window FIN from one side, then an out-of-window RST from the
        // other: both INVALID, and the second lowers the timer to `unacknowledged` (299).
        let mut f = Flow::established();
        f.r(p("A", 5001, 1001).win(65000));
        assert_eq!(f.o(p("FA", 901_001, 5001).win(64240)), Ct::Invalid);
        assert_eq!(f.timeout(), 432_000);
        assert_eq!((f.conn.last_index, f.conn.last_dir), (FlagIndex::Fin, O));
        assert_eq!(f.r(p("R", 905_001, 0)), Ct::Invalid);
        assert!(matches!(
            f.last,
            Some(TcpVerdict::Invalid {
                lower_timeout_secs: Some(300),
                ..
            })
        ));
        assert_eq!(f.entry(), (TcpState::Established, 300, true, true));
        // Below 120 s left, nothing is shortened.
        let mut g = Flow::established();
        g.r(p("A", 5001, 1001).win(65000));
        g.o(p("FA", 901_001, 5001).win(64240));
        g.sleep(432_000 - 100);
        g.r(p("R", 905_001, 0));
        assert!(matches!(
            g.last,
            Some(TcpVerdict::Invalid {
                lower_timeout_secs: None,
                ..
            })
        ));
    }

    #[test]
    fn config_defaults_are_the_kernels() {
        let c = TcpConfig::default();
        assert!(c.loose && !c.be_liberal && !c.ignore_invalid_rst && c.checksum);
        assert_eq!(c.max_retrans, 3);
        let t = |s: TcpState| c.timeouts[s as usize];
        assert_eq!(t(TcpState::SynSent), 120);
        assert_eq!(t(TcpState::SynRecv), 60);
        assert_eq!(t(TcpState::Established), 432_000);
        assert_eq!(t(TcpState::FinWait), 120);
        assert_eq!(t(TcpState::CloseWait), 60);
        assert_eq!(t(TcpState::LastAck), 30);
        assert_eq!(t(TcpState::TimeWait), 120);
        assert_eq!(t(TcpState::Close), 10);
        assert_eq!(t(TcpState::SynSent2), 120);
        assert_eq!(c.timeouts[TIMEOUT_MAX_RETRANS], 300);
        assert_eq!(c.timeouts[TIMEOUT_UNACKNOWLEDGED], 300);
        // Every sysctl names its own slot; the kernel has no syn_sent2 sysctl.
        let mut slots: Vec<usize> = TIMEOUT_SYSCTLS.iter().map(|&(_, i)| i).collect();
        slots.sort_unstable();
        slots.dedup();
        assert_eq!(slots.len(), TIMEOUT_SYSCTLS.len());
        assert!(slots.iter().all(|&i| i > 0 && i < TIMEOUT_SLOTS));
    }

    // ---- helpers of the core ------------------------------------------------------------

    #[test]
    fn closing_helpers() {
        let mut f = Flow::established();
        assert!(!f.conn.can_early_drop());
        assert_eq!(f.conn.set_closing(&f.cfg), Some(10));
        assert!(f.conn.can_early_drop());
        assert_eq!(f.conn.set_closing(&f.cfg), None);
        let mut c = TcpConn::default();
        c.set_be_liberal();
        assert!(c.seen.iter().all(|s| s.flags & peer_flags::BE_LIBERAL != 0));
    }

    #[test]
    fn connection_state_is_small() {
        assert_eq!(std::mem::size_of::<TcpConn>(), 60);
    }

    #[test]
    fn sequence_numbers_wrap() {
        // The same handshake and data across the 2^32 boundary.
        let c = 0xffff_fff0u32;
        let s = 0xffff_ff00u32;
        let mut f = Flow::new();
        f.o(p("S", c, 0).win(64240));
        f.r(p("SA", s, c.wrapping_add(1)).win(65000));
        f.o(p("A", c.wrapping_add(1), s.wrapping_add(1)).win(64240));
        assert_eq!(f.entry(), (TcpState::Established, 432_000, true, true));
        f.o(p("PA", c.wrapping_add(1), s.wrapping_add(1))
            .win(64240)
            .len(1000));
        assert_eq!(f.timeout(), 300);
        assert_eq!(
            f.r(p("A", s.wrapping_add(1), c.wrapping_add(1001)).win(65000)),
            Ct::Established
        );
        assert_eq!(f.timeout(), 432_000);
        assert_eq!(
            f.o(p("PA", c.wrapping_add(200_001), s.wrapping_add(1)).len(1)),
            Ct::Invalid
        );
    }

    /// Deterministic xorshift for the no-panic test.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    #[test]
    fn no_panics_on_arbitrary_input() {
        let mut rng = Rng(0x1234_5678_9abc_def1);
        let cfgs = [
            TcpConfig::default(),
            TcpConfig {
                loose: false,
                be_liberal: true,
                max_retrans: 0,
                ignore_invalid_rst: true,
                checksum: false,
                timeouts: [u32::MAX; TIMEOUT_SLOTS],
            },
        ];
        let mut buf = [0u8; 80];
        for round in 0..20_000 {
            let cfg = &cfgs[round % 2];
            let mut conn = TcpConn::default();
            // Arbitrary state, including scales no option could produce.
            if round % 3 == 0 {
                for peer in &mut conn.seen {
                    *peer = TcpPeer {
                        td_end: rng.next() as u32,
                        td_maxend: rng.next() as u32,
                        td_maxwin: rng.next() as u32,
                        td_maxack: rng.next() as u32,
                        td_scale: rng.next() as u8,
                        flags: rng.next() as u8,
                    };
                }
                conn.state = TcpState::ALL[(rng.next() % 10) as usize];
                conn.retrans = rng.next() as u8;
                conn.last_flags = rng.next() as u8;
            }
            for _ in 0..8 {
                let len = (rng.next() % buf.len() as u64) as usize;
                for b in &mut buf[..len] {
                    *b = rng.next() as u8;
                }
                if len > 13 && rng.next() % 2 == 0 {
                    // Mostly plausible offsets and flags, to get past the first checks.
                    buf[12] = (5 + (rng.next() % 4) as u8) << 4;
                    buf[13] = [0x02, 0x12, 0x10, 0x11, 0x04, 0x14][(rng.next() % 6) as usize];
                }
                let ctx = TcpCtx {
                    dir: if rng.next() % 2 == 0 { O } else { R },
                    confirmed: rng.next() % 4 != 0,
                    seen_reply: rng.next() % 2 == 0,
                    assured: rng.next() % 2 == 0,
                    expires_in_ms: rng.next() % 1_000_000_000,
                    verify_checksum: rng.next() % 2 == 0,
                    src: CLIENT,
                    dst: SERVER,
                };
                let _ = conn.packet(&buf[..len], &ctx, cfg);
            }
        }
    }
}
