//! IPv4 options (RFC 791 §3.1, RFC 1812 §5.2.4, RFC 1108) as the Linux kernel handles them.
//!
//! This follows `net/ipv4/ip_options.c` of Linux 6.x (its semantics unchanged since 5.x; the
//! byte-level tests at the end were recorded from a 6.18 kernel): the receive-side validation
//! `__ip_options_compile`, the source-route walk `ip_options_rcv_srr`, the forwarding rewrite
//! `ip_forward_options`, the reply options `__ip_options_echo` with their completion
//! `ip_options_build`, and `ip_options_fragment`.
//! Everything works in place on the header bytes, allocates nothing, never panics (a slice
//! shorter than its IHL is read up to its end), and returns small `Copy` values. Offsets are
//! counted from the first byte of the IP header, as the kernel's `struct ip_options` does.
//!
//! What the caller does, in the kernel's order (`ip_rcv_finish_core`, `ip_rcv_options`,
//! `ip_forward`, `ip_forward_finish`):
//!
//! 1. After PREROUTING *and after the input route is decided* (martian sources and
//!    destinations are dropped before options are looked at, but a packet with no route or
//!    arriving with forwarding off is not: its options are compiled, and a malformed one gets
//!    a parameter problem, before it is dropped), for IHL > 5: [`compile`]. On `Err(p)` send
//!    ICMP parameter problem (type 12, code 0, pointer `p.pointer`) echoing `p.parsed`
//!    ([`echo`]) and drop. On success the header may have changed (a received
//!    record-route / timestamp option is filled in right here, with `spec_dst` and the time):
//!    the kernel does **not** fix the checksum now — packets delivered locally and the headers
//!    quoted in ICMP errors keep the stale checksum; only [`forward_options`] recomputes it.
//! 2. If `opts.srr` is set: unless `accept_source_route` (`conf.all && conf.IFACE`) holds,
//!    drop (with `log_martians`, log `source route option S -> D`); otherwise [`rcv_srr`].
//! 3. Forwarding (`ip_forward`): a strict source route (`opts.is_strictroute`) whose route
//!    uses a gateway gets ICMP unreachable code 5 (source route failed) after the TTL check
//!    and is dropped; no redirect is sent for a packet with a source route (`opts.srr`).
//! 4. After the FORWARD hook (`ip_forward_finish`): [`forward_options`], which recomputes the
//!    header checksum itself when anything changed since [`compile`].
//! 5. Replies (ICMP errors, echo / timestamp replies, TCP resets) to a packet with options:
//!    [`echo`] on the packet as it is now (after the rewrites above); `None` means the kernel
//!    sends nothing. The reply goes to [`ReplyOptions::first_hop`], carries the options
//!    ([`ReplyOptions::write`] fills them in), and an ICMP error quotes correspondingly less
//!    (576 − 20 − options − 8 bytes).
//! 6. Fragmenting: after the first fragment, [`fragment`] on the header the later fragments
//!    copy.

use super::checksum;
use std::net::Ipv4Addr;

/// Option type octets (IANA "IP Option Numbers").
pub mod kind {
    /// End of option list (RFC 791).
    pub const END: u8 = 0;
    /// No operation (RFC 791).
    pub const NOP: u8 = 1;
    /// Record route (RFC 791).
    pub const RR: u8 = 7;
    /// Internet timestamp (RFC 791).
    pub const TIMESTAMP: u8 = 68;
    /// Security (RFC 1108).
    pub const SEC: u8 = 130;
    /// Loose source and record route (RFC 791).
    pub const LSRR: u8 = 131;
    /// Commercial IP security option (CIPSO, draft-ietf-cipso-ipsecurity).
    pub const CIPSO: u8 = 134;
    /// Stream identifier (RFC 791, obsolete).
    pub const SID: u8 = 136;
    /// Strict source and record route (RFC 791).
    pub const SSRR: u8 = 137;
    /// Router alert (RFC 2113).
    pub const RA: u8 = 148;
    /// The "copied" flag: the option is repeated in every fragment (RFC 791).
    pub const COPIED: u8 = 0x80;
}

/// Timestamp option flags (low nibble of its fourth octet, RFC 791).
pub mod ts_flag {
    /// Timestamps only.
    pub const TSONLY: u8 = 0;
    /// Each timestamp preceded by the address of the recording host.
    pub const TSANDADDR: u8 = 1;
    /// Timestamps only by the hosts whose addresses are listed.
    pub const PRESPEC: u8 = 3;
}

/// Most option bytes a header can carry (IHL 15).
pub const MAX_LEN: usize = 40;

const IP_HLEN: usize = 20;
/// Offset of the destination address in the IP header: the pointer of the parameter problem
/// `ip_options_rcv_srr` sends for a strict route to someone else.
const DADDR_OFFSET: u8 = 16;

/// What `__ip_options_compile` learnt about a header's options (the kernel's
/// `struct ip_options`, the part the datapath uses). Offsets count from the start of the IP
/// header; `None` means the option is absent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Bytes of options (IHL × 4 − 20).
    pub optlen: u8,
    /// The loose or strict source route option.
    pub srr: Option<u8>,
    /// The record route option.
    pub rr: Option<u8>,
    /// The timestamp option.
    pub ts: Option<u8>,
    /// A router alert option with value 0.
    pub router_alert: Option<u8>,
    /// A CIPSO option (never accepted here: no CIPSO DOI is configured).
    pub cipso: Option<u8>,
    /// The source route is strict (SSRR).
    pub is_strictroute: bool,
    /// Set by [`rcv_srr`] when the route's next hop is not ours (`srr_is_hit`): the packet is
    /// forwarded to it, and [`forward_options`] makes it the destination.
    pub srr_nexthop: Option<Ipv4Addr>,
    /// The header was modified since it was received; the checksum is stale.
    pub is_changed: bool,
    /// An address is recorded in the record route option (the slot before its pointer).
    pub rr_needaddr: bool,
    /// A time is recorded in the timestamp option (the 4 bytes before its pointer).
    pub ts_needtime: bool,
    /// An address is recorded in the timestamp option (the 4 bytes before the time).
    pub ts_needaddr: bool,
}

/// A received header whose options the kernel rejects: it answers ICMP parameter problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamProblem {
    /// The ICMP pointer: offset of the offending byte from the start of the IP header.
    pub pointer: u8,
    /// The options compiled before the error: the kernel echoes these in the parameter
    /// problem it sends (the header may also have been modified up to the error).
    pub parsed: Options,
}

/// The route the kernel's `ip_route_input` gives a packet, as [`rcv_srr`] distinguishes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteKind {
    /// `RTN_LOCAL`: addressed to this host.
    Local,
    /// `RTN_UNICAST`: forwarded.
    Unicast,
    /// An error (martian, no route, forwarding off: `RTN_UNREACHABLE`) or any other type
    /// (broadcast, multicast, blackhole, …).
    Other,
}

/// What to do with a packet after [`rcv_srr`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SrrOutcome {
    /// The source route is not followed here (a loose route through us to someone else, or
    /// no source route): carry on with the route the packet already has.
    Unchanged,
    /// Deliver locally. Every listed hop reached was one of ours (or the list was
    /// exhausted); the destination address may have been rewritten to the last of them, and
    /// the route is the last local route the caller computed.
    Deliver,
    /// Forward towards this next hop, with the route the caller computed for it last;
    /// `opts.srr_nexthop` is set and [`forward_options`] writes it as the destination.
    Forward(Ipv4Addr),
}

/// Why [`rcv_srr`] refuses a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SrrError {
    /// Dropped silently.
    Drop,
    /// Dropped after an ICMP parameter problem with this pointer (echoing the options).
    ParamProblem(u8),
}

/// What [`forward_options`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Forwarded {
    /// The header checksum was recomputed (the header changed since it was received).
    pub checksum_updated: bool,
    /// The source route's next hop was not found from the pointer on: the kernel logs
    /// `ip_forward_options(): Argh! Destination lost!` (rate-limited, `KERN_CRIT`) and
    /// forwards anyway with the destination unchanged.
    pub destination_lost: bool,
}

/// The options of a reply, as `__ip_options_echo` builds them: padded with END to a multiple
/// of 4, at most 40 bytes, with the slots [`ReplyOptions::write`] fills in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyOptions {
    data: [u8; MAX_LEN],
    /// What the reply's options hold (offsets from the start of the reply's IP header).
    pub opts: Options,
    /// With a reversed source route: the first hop, to which the reply is routed and
    /// addressed (the kernel's `faddr`).
    pub faddr: Option<Ipv4Addr>,
}

impl ReplyOptions {
    /// The option bytes, to be placed after the 20-byte header (IHL = 5 + len / 4).
    pub fn bytes(&self) -> &[u8] {
        &self.data[..(self.opts.optlen as usize).min(MAX_LEN)]
    }
    /// Length of the options in bytes (a multiple of 4).
    pub fn len(&self) -> usize {
        self.bytes().len()
    }
    /// No options to send.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The reply's IP destination: the first hop of the reversed source route, if any,
    /// otherwise `dest` (the request's source).
    pub fn first_hop(&self, dest: Ipv4Addr) -> Ipv4Addr {
        self.faddr.unwrap_or(dest)
    }
    /// `ip_options_build`: copy the options into `header` after its first 20 bytes and fill
    /// in the reply's own entries — `dest` (the final destination, the request's source) at
    /// the end of a reversed source route, `src` (the reply's source address) in record route
    /// and timestamp-with-address, `now_ms` (ms since midnight UTC) as the timestamp. The
    /// caller sets IHL, total length and checksum. Does nothing if `header` is too short.
    pub fn write(&self, header: &mut [u8], dest: Ipv4Addr, src: Ipv4Addr, now_ms: u32) {
        let n = self.len();
        let Some(area) = header.get_mut(IP_HLEN..IP_HLEN + n) else {
            return;
        };
        area.copy_from_slice(self.bytes());
        let o = &self.opts;
        if let Some(s) = o.srr {
            let at = s as usize + header.get(s as usize + 1).copied().unwrap_or(0) as usize;
            put4(header, at.wrapping_sub(4), dest.octets());
        }
        if o.rr_needaddr {
            if let Some(at) = before_pointer(header, o.rr, 5) {
                put4(header, at, src.octets());
            }
        }
        if o.ts_needaddr {
            if let Some(at) = before_pointer(header, o.ts, 9) {
                put4(header, at, src.octets());
            }
        }
        if o.ts_needtime {
            if let Some(at) = before_pointer(header, o.ts, 5) {
                put4(header, at, now_ms.to_be_bytes());
            }
        }
    }
}

/// Length of the header the options belong to: IHL × 4, limited to the slice.
fn header_len(h: &[u8]) -> usize {
    h.first()
        .map_or(0, |b| (b & 0x0f) as usize * 4)
        .min(h.len())
}

fn get4(h: &[u8], at: usize) -> Option<[u8; 4]> {
    h.get(at..at.checked_add(4)?)?.try_into().ok()
}

fn put4(h: &mut [u8], at: usize, v: [u8; 4]) {
    if let Some(s) = at.checked_add(4).and_then(|e| h.get_mut(at..e)) {
        s.copy_from_slice(&v);
    }
}

/// Offset of `back` bytes before the pointer of the option at `opt` (`opt + ptr - back`).
fn before_pointer(h: &[u8], opt: Option<u8>, back: usize) -> Option<usize> {
    let o = opt? as usize;
    (o + *h.get(o + 2)? as usize).checked_sub(back)
}

fn daddr(h: &[u8]) -> Ipv4Addr {
    get4(h, 16).map_or(Ipv4Addr::UNSPECIFIED, Ipv4Addr::from)
}

/// `__ip_options_compile` on the receive path (`skb` and its input route present): validate
/// the options of `header` (the IHL-long header; a longer slice is read up to IHL) and record
/// where each one is.
///
/// As the kernel does on receive, it writes into the header: bytes after an END become END;
/// a record route with room gets `spec_dst` and its pointer advanced; a timestamp with room
/// gets `now_ms` (ms since midnight UTC, `inet_current_timestamp`) — with `spec_dst` before
/// it for flag 1, only if the listed address is not unicast (`!is_unicast`) for flag 3 — and
/// a full timestamp option (flags other than 3) has its overflow count incremented.
/// `is_changed` reports any of these; the checksum is left stale (see the module doc).
///
/// - `spec_dst`: the kernel's `fib_compute_spec_dst`, called at most once, only when an
///   address is recorded: the destination for a local unicast route; otherwise the preferred
///   source of the route back to the sender (`inet_select_addr` on the input device when the
///   source is 0.0.0.0 or there is no route back).
/// - `is_unicast(a)`: `inet_addr_type(net, a) == RTN_UNICAST` — false for 0.0.0.0,
///   255.255.255.255, multicast, and anything the local table matches (the router's
///   addresses, 127/8, its directed broadcasts); true otherwise.
///
/// CIPSO is always rejected (pointer +1 if shorter than 8 bytes, else +2: no DOI is
/// configured). Security, stream ID and unknown options of valid length are skipped.
pub fn compile(
    header: &mut [u8],
    now_ms: u32,
    spec_dst: impl FnOnce() -> Ipv4Addr,
    is_unicast: impl Fn(Ipv4Addr) -> bool,
) -> Result<Options, ParamProblem> {
    let end = header_len(header);
    let h = &mut header[..end];
    let mut opt = Options {
        optlen: end.saturating_sub(IP_HLEN) as u8,
        ..Options::default()
    };
    let mut spec_dst = Some(spec_dst);
    let mut spec: Option<[u8; 4]> = None;
    let mut spec_fill = |spec: &mut Option<[u8; 4]>| -> [u8; 4] {
        *spec.get_or_insert_with(|| spec_dst.take().map_or([0; 4], |f| f().octets()))
    };
    let mut i = IP_HLEN;
    while i < end {
        let l = end - i;
        let err = |at: usize, opt: Options| ParamProblem {
            pointer: at as u8,
            parsed: opt,
        };
        match h[i] {
            kind::END => {
                for b in &mut h[i + 1..] {
                    if *b != kind::END {
                        *b = kind::END;
                        opt.is_changed = true;
                    }
                }
                break;
            }
            kind::NOP => {
                i += 1;
                continue;
            }
            _ => {}
        }
        if l < 2 {
            return Err(err(i, opt));
        }
        let optlen = h[i + 1] as usize;
        if optlen < 2 || optlen > l {
            return Err(err(i, opt));
        }
        let o = &mut h[i..i + optlen];
        match o[0] {
            kind::LSRR | kind::SSRR => {
                if optlen < 3 {
                    return Err(err(i + 1, opt));
                }
                if o[2] < 4 {
                    return Err(err(i + 2, opt));
                }
                // RFC 1812 §5.2.4.1: at most one source route.
                if opt.srr.is_some() {
                    return Err(err(i, opt));
                }
                opt.is_strictroute = o[0] == kind::SSRR;
                opt.srr = Some(i as u8);
            }
            kind::RR => {
                if opt.rr.is_some() {
                    return Err(err(i, opt));
                }
                if optlen < 3 {
                    return Err(err(i + 1, opt));
                }
                let ptr = o[2] as usize;
                if ptr < 4 {
                    return Err(err(i + 2, opt));
                }
                if ptr <= optlen {
                    if ptr + 3 > optlen {
                        return Err(err(i + 2, opt));
                    }
                    let a = spec_fill(&mut spec);
                    o[ptr - 1..ptr + 3].copy_from_slice(&a);
                    opt.is_changed = true;
                    o[2] += 4;
                    opt.rr_needaddr = true;
                }
                opt.rr = Some(i as u8);
            }
            kind::TIMESTAMP => {
                if opt.ts.is_some() {
                    return Err(err(i, opt));
                }
                if optlen < 4 {
                    return Err(err(i + 1, opt));
                }
                let ptr = o[2] as usize;
                if ptr < 5 {
                    return Err(err(i + 2, opt));
                }
                let flag = o[3] & 0x0f;
                if ptr <= optlen {
                    if ptr + 3 > optlen {
                        return Err(err(i + 2, opt));
                    }
                    let mut time_at = None;
                    match flag {
                        ts_flag::TSONLY => {
                            time_at = Some(ptr - 1);
                            opt.ts_needtime = true;
                            o[2] += 4;
                        }
                        ts_flag::TSANDADDR => {
                            if ptr + 7 > optlen {
                                return Err(err(i + 2, opt));
                            }
                            let a = spec_fill(&mut spec);
                            o[ptr - 1..ptr + 3].copy_from_slice(&a);
                            time_at = Some(ptr + 3);
                            opt.ts_needaddr = true;
                            opt.ts_needtime = true;
                            o[2] += 8;
                        }
                        ts_flag::PRESPEC => {
                            if ptr + 7 > optlen {
                                return Err(err(i + 2, opt));
                            }
                            let a = get4(o, ptr - 1).map_or(Ipv4Addr::UNSPECIFIED, Ipv4Addr::from);
                            // Stamped only by the listed host: any address that is not
                            // "unicast" to the kernel (ours, broadcast, multicast) counts.
                            if !is_unicast(a) {
                                time_at = Some(ptr + 3);
                                opt.ts_needtime = true;
                                o[2] += 8;
                            }
                        }
                        // Unknown flags are accepted and left alone on receive.
                        _ => {}
                    }
                    if let Some(t) = time_at {
                        o[t..t + 4].copy_from_slice(&now_ms.to_be_bytes());
                        opt.is_changed = true;
                    }
                } else if flag != ts_flag::PRESPEC {
                    // Full: count the hop in the overflow nibble; a full count is an error.
                    let overflow = o[3] >> 4;
                    if overflow == 15 {
                        return Err(err(i + 3, opt));
                    }
                    o[3] = flag | ((overflow + 1) << 4);
                    opt.is_changed = true;
                }
                opt.ts = Some(i as u8);
            }
            kind::RA => {
                if optlen < 4 {
                    return Err(err(i + 1, opt));
                }
                if o[2] == 0 && o[3] == 0 {
                    opt.router_alert = Some(i as u8);
                }
            }
            kind::CIPSO => {
                if opt.cipso.is_some() {
                    return Err(err(i, opt));
                }
                // Recorded before validation, so a parameter problem echoes it.
                opt.cipso = Some(i as u8);
                // cipso_v4_validate with no DOI defined: too short, else unknown DOI.
                return Err(err(if optlen < 8 { i + 1 } else { i + 2 }, opt));
            }
            // SEC, SID and unknown options: accepted on receive, not interpreted.
            _ => {}
        }
        i += optlen;
    }
    Ok(opt)
}

/// `ip_options_rcv_srr`: follow a source route option (call it only when `opts.srr` is set and
/// `accept_source_route` allows it; a packet the link layer did not address to this host —
/// `pkt_type != PACKET_HOST` — is dropped instead).
///
/// `route` is the route the packet has now. For a local route, each listed hop from the
/// pointer on is routed as the kernel's `ip_route_input(nexthop, saddr, dscp, iif)` would
/// (`route_hop`, which must also keep that route as the packet's route): while the hops are
/// ours the destination is rewritten to them ("superfast loopback forward", the pointer is
/// not moved); the first hop that is not ours is the next hop to forward to.
pub fn rcv_srr(
    header: &mut [u8],
    opts: &mut Options,
    route: RouteKind,
    mut route_hop: impl FnMut(Ipv4Addr) -> RouteKind,
) -> Result<SrrOutcome, SrrError> {
    let Some(srr) = opts.srr else {
        return Ok(SrrOutcome::Unchanged);
    };
    match route {
        RouteKind::Unicast if !opts.is_strictroute => return Ok(SrrOutcome::Unchanged),
        // A strict route must list us: "parameter problem" pointing at the destination.
        RouteKind::Unicast => return Err(SrrError::ParamProblem(DADDR_OFFSET)),
        RouteKind::Other => return Err(SrrError::Drop),
        RouteKind::Local => {}
    }
    let end = header_len(header);
    let h = &mut header[..end];
    let s = srr as usize;
    let (Some(&space), Some(&ptr)) = (h.get(s + 1), h.get(s + 2)) else {
        return Err(SrrError::Drop);
    };
    let (space, mut ptr) = (space as usize, ptr as usize);
    while ptr <= space {
        if ptr + 3 > space {
            return Err(SrrError::ParamProblem(srr.wrapping_add(2)));
        }
        let Some(hop) = get4(h, (s + ptr).wrapping_sub(1)).map(Ipv4Addr::from) else {
            return Err(SrrError::Drop);
        };
        match route_hop(hop) {
            RouteKind::Other => return Err(SrrError::Drop),
            RouteKind::Unicast => {
                opts.srr_nexthop = Some(hop);
                opts.is_changed = true;
                return Ok(SrrOutcome::Forward(hop));
            }
            RouteKind::Local => {
                put4(h, 16, hop.octets());
                opts.is_changed = true;
            }
        }
        ptr += 4;
    }
    Ok(SrrOutcome::Deliver)
}

/// `ip_forward_options`, run after the FORWARD hook: record our address in a record route
/// option that had room (the slot [`compile`] filled with `spec_dst` is overwritten), and when
/// a source route is being followed (`opts.srr_nexthop`), make its next hop the destination,
/// record our address in its slot, advance its pointer, and — only then — record our address
/// in a timestamp-with-address entry. Finally, if the header changed at any point since it
/// was received (`opts.is_changed`), recompute the header checksum in full, as the kernel's
/// `ip_send_check` does (an unchanged header keeps the incrementally updated one).
///
/// `source(daddr)` is the kernel's `ip_rt_get_source` for the forwarded packet given its
/// destination at that moment: the preferred source of `fib_lookup(daddr, saddr, oif = the
/// output device, iif)`, or else `inet_select_addr(output device, next hop, universe)`.
pub fn forward_options(
    header: &mut [u8],
    opts: &mut Options,
    mut source: impl FnMut(Ipv4Addr) -> Ipv4Addr,
) -> Forwarded {
    let mut out = Forwarded::default();
    let end = header_len(header);
    let h = &mut header[..end];
    if opts.rr_needaddr {
        if let Some(at) = before_pointer(h, opts.rr, 5) {
            let a = source(daddr(h));
            put4(h, at, a.octets());
            opts.is_changed = true;
        }
    }
    if let (Some(nexthop), Some(srr)) = (opts.srr_nexthop, opts.srr) {
        let s = srr as usize;
        let space = h.get(s + 1).copied().unwrap_or(0) as usize;
        let mut ptr = h.get(s + 2).copied().unwrap_or(u8::MAX) as usize;
        while ptr <= space {
            if ptr + 3 > space || get4(h, (s + ptr).wrapping_sub(1)) == Some(nexthop.octets()) {
                break;
            }
            ptr += 4;
        }
        if ptr + 3 <= space && ptr >= 1 && s + ptr + 3 <= h.len() {
            opts.is_changed = true;
            put4(h, 16, nexthop.octets());
            let a = source(nexthop);
            put4(h, s + ptr - 1, a.octets());
            h[s + 2] = (ptr + 4) as u8;
        } else {
            out.destination_lost = true;
        }
        // As in the kernel, the timestamp's address is rewritten only on this path.
        if opts.ts_needaddr {
            if let Some(at) = before_pointer(h, opts.ts, 9) {
                let a = source(daddr(h));
                put4(h, at, a.octets());
                opts.is_changed = true;
            }
        }
    }
    if opts.is_changed && h.len() >= IP_HLEN {
        opts.is_changed = false;
        h[10] = 0;
        h[11] = 0;
        let c = checksum::checksum(h);
        h[10..12].copy_from_slice(&c.to_be_bytes());
        out.checksum_updated = true;
    }
    out
}

/// `__ip_options_echo`: the options of a reply to `received` (the header as it is now, after
/// [`compile`] and any rewrites) whose compiled options are `opts` — the record route copied
/// with room taken for the replier's address, the timestamp copied with room for its entry,
/// the source route reversed (RFC 1812 §5.2.4.1: without the sender itself as first hop), a
/// CIPSO option copied; everything else dropped; END-padded to a multiple of 4.
///
/// `None` when the kernel's function fails (a record route or timestamp whose remaining room
/// cannot hold the reply's entry): the kernel then sends no reply at all. `is_unicast` as for
/// [`compile`] (for the next prespecified timestamp address).
pub fn echo(
    received: &[u8],
    opts: &Options,
    is_unicast: impl Fn(Ipv4Addr) -> bool,
) -> Option<ReplyOptions> {
    let mut r = ReplyOptions {
        data: [0; MAX_LEN],
        opts: Options::default(),
        faddr: None,
    };
    if opts.optlen == 0 {
        return Some(r);
    }
    let s = &received[..header_len(received)];
    let d = &mut r.data;
    let mut dlen = 0usize;
    // Copy the option at `at` to the end of the reply's options; returns its length.
    let copy = |d: &mut [u8; MAX_LEN], dlen: usize, at: u8| -> Option<usize> {
        let at = at as usize;
        let n = *s.get(at + 1)? as usize;
        d.get_mut(dlen..dlen + n)?
            .copy_from_slice(s.get(at..at + n)?);
        Some(n)
    };

    if let Some(rr) = opts.rr {
        let optlen = copy(d, dlen, rr)?;
        let soffset = s.get(rr as usize + 2).copied().unwrap_or(0) as usize;
        r.opts.rr = Some((dlen + IP_HLEN) as u8);
        if opts.rr_needaddr && soffset <= optlen {
            if soffset + 3 > optlen {
                return None;
            }
            d[dlen + 2] = (soffset + 4) as u8;
            r.opts.rr_needaddr = true;
        }
        dlen += optlen;
    }
    if let Some(ts) = opts.ts {
        let optlen = copy(d, dlen, ts)?;
        if optlen < 4 {
            return None;
        }
        let mut soffset = s.get(ts as usize + 2).copied().unwrap_or(0) as usize;
        r.opts.ts = Some((dlen + IP_HLEN) as u8);
        if soffset <= optlen {
            if opts.ts_needaddr {
                if soffset + 3 > optlen {
                    return None;
                }
                r.opts.ts_needaddr = true;
                soffset += 4;
            }
            if opts.ts_needtime {
                if soffset + 3 > optlen {
                    return None;
                }
                if d[dlen + 3] & 0x0f != ts_flag::PRESPEC {
                    r.opts.ts_needtime = true;
                    soffset += 4;
                } else if soffset + 7 <= optlen {
                    let a =
                        get4(d, dlen + soffset - 1).map_or(Ipv4Addr::UNSPECIFIED, Ipv4Addr::from);
                    if !is_unicast(a) {
                        r.opts.ts_needtime = true;
                        soffset += 8;
                    }
                }
            }
            d[dlen + 2] = soffset as u8;
        }
        dlen += optlen;
    }
    if let Some(srr) = opts.srr {
        let start = srr as usize;
        let optlen = s.get(start + 1).copied().unwrap_or(0) as isize;
        let mut soffset = s.get(start + 2).copied().unwrap_or(0) as isize;
        let mut doffset: isize = 0;
        let mut faddr = [0u8; 4];
        if soffset > optlen {
            soffset = optlen + 1;
        }
        soffset -= 4;
        if soffset > 3 {
            faddr = get4(s, start + soffset as usize - 1)?;
            soffset -= 4;
            doffset = 4;
            while soffset > 3 {
                let a = get4(s, start + soffset as usize - 1)?;
                put4(d, dlen + doffset as usize - 1, a);
                soffset -= 4;
                doffset += 4;
            }
            // Never route the reply back through its own destination.
            if get4(s, start + (soffset + 3) as usize) == get4(s, 12) {
                doffset -= 4;
            }
        }
        if doffset > 3 {
            let n = doffset as usize + 3;
            if dlen + n > MAX_LEN {
                return None;
            }
            r.faddr = Some(Ipv4Addr::from(faddr));
            d[dlen] = *s.get(start)?;
            d[dlen + 1] = n as u8;
            d[dlen + 2] = 4;
            r.opts.srr = Some((dlen + IP_HLEN) as u8);
            r.opts.is_strictroute = opts.is_strictroute;
            dlen += n;
        }
    }
    if let Some(c) = opts.cipso {
        let n = copy(d, dlen, c)?;
        r.opts.cipso = Some((dlen + IP_HLEN) as u8);
        dlen += n;
    }
    while dlen & 3 != 0 {
        d[dlen] = kind::END;
        dlen += 1;
    }
    // Bytes beyond the options (a source route that was not kept) are cleared.
    d[dlen..].fill(0);
    r.opts.optlen = dlen as u8;
    Some(r)
}

/// `ip_options_fragment`: in the header that the second and later fragments copy, replace
/// the options without the copied flag (record route, timestamp, …) by NOPs; the header keeps
/// its length. Stops at END or at a malformed length, as the kernel does. (The kernel also
/// forgets its record-route/timestamp bookkeeping for those fragments; nothing here uses it.)
pub fn fragment(header: &mut [u8]) {
    let end = header_len(header);
    let h = &mut header[..end];
    let mut i = IP_HLEN;
    while i < end {
        match h[i] {
            kind::END => return,
            kind::NOP => {
                i += 1;
                continue;
            }
            _ => {}
        }
        let Some(&len) = h.get(i + 1) else {
            return;
        };
        let len = len as usize;
        if len < 2 || len > end - i {
            return;
        }
        if h[i] & kind::COPIED == 0 {
            h[i..i + len].fill(kind::NOP);
        }
        i += len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const OUT: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);
    const NOW: u32 = 0x0102_0304;

    /// A header: 10.0.0.20 → `dst`, TTL 64, UDP, with `opts` (padded to 4 with END), and a
    /// valid checksum.
    fn hdr(dst: [u8; 4], opts: &[u8]) -> Vec<u8> {
        let olen = opts.len().div_ceil(4) * 4;
        let hl = 20 + olen;
        let mut v = vec![0u8; hl];
        v[0] = 0x40 | (hl / 4) as u8;
        v[2..4].copy_from_slice(&(hl as u16).to_be_bytes());
        v[8] = 64;
        v[9] = 17;
        v[12..16].copy_from_slice(&[10, 0, 0, 20]);
        v[16..20].copy_from_slice(&dst);
        v[20..20 + opts.len()].copy_from_slice(opts);
        let c = checksum::checksum(&v);
        v[10..12].copy_from_slice(&c.to_be_bytes());
        v
    }

    fn ours(a: Ipv4Addr) -> bool {
        a == SPEC || a == OUT
    }

    fn comp(h: &mut [u8]) -> Result<Options, ParamProblem> {
        compile(h, NOW, || SPEC, |a| !ours(a))
    }

    fn err_at(opts: &[u8]) -> u8 {
        let mut h = hdr([192, 0, 2, 10], opts);
        comp(&mut h).expect_err("must be rejected").pointer
    }

    fn csum_ok(h: &[u8]) -> bool {
        checksum::sum(0, h) == 0xffff
    }

    #[test]
    fn no_options() {
        let mut h = hdr([192, 0, 2, 10], &[]);
        let o = comp(&mut h).unwrap();
        assert_eq!(o, Options::default());
    }

    #[test]
    fn end_normalises_padding() {
        let mut h = hdr([192, 0, 2, 10], &[1, 0, 7, 1]);
        let o = comp(&mut h).unwrap();
        assert_eq!(&h[20..24], &[1, 0, 0, 0]);
        assert!(o.is_changed);
        assert_eq!(o.optlen, 4);
        // Already clean: nothing changes.
        let mut h = hdr([192, 0, 2, 10], &[1, 1, 0, 0]);
        assert!(!comp(&mut h).unwrap().is_changed);
    }

    #[test]
    fn length_errors() {
        // A lone type byte at the end (l < 2).
        assert_eq!(err_at(&[1, 1, 1, 7]), 23);
        // Length 0, 1, and longer than what is left.
        assert_eq!(err_at(&[7, 0, 4, 0]), 20);
        assert_eq!(err_at(&[1, 130, 1, 0]), 21);
        assert_eq!(err_at(&[130, 5, 0, 0]), 20);
        // Unknown options need a valid length too.
        assert_eq!(err_at(&[1, 1, 99, 3]), 22);
    }

    #[test]
    fn unknown_sec_sid_skipped() {
        let mut h = hdr(
            [192, 0, 2, 10],
            &[130, 4, 0xaa, 0xbb, 136, 4, 0, 1, 99, 2, 0, 0],
        );
        let before = h.clone();
        let o = comp(&mut h).unwrap();
        assert_eq!(h, before);
        assert_eq!(
            o,
            Options {
                optlen: 12,
                ..Options::default()
            }
        );
    }

    #[test]
    fn source_routes() {
        let mut h = hdr([10, 0, 0, 1], &[131, 7, 4, 192, 0, 2, 10, 1]);
        let before = h.clone();
        let o = comp(&mut h).unwrap();
        assert_eq!(h, before, "source routes are not touched by compile");
        assert_eq!(o.srr, Some(21 - 1));
        assert!(!o.is_strictroute);
        let mut h = hdr([10, 0, 0, 1], &[1, 137, 7, 4, 192, 0, 2, 10]);
        let o = comp(&mut h).unwrap();
        assert_eq!(o.srr, Some(21));
        assert!(o.is_strictroute);
        // Errors: length < 3, pointer < 4, a second source route.
        assert_eq!(err_at(&[131, 2, 1, 1]), 21);
        assert_eq!(err_at(&[137, 3, 3, 0]), 22);
        assert_eq!(err_at(&[131, 3, 4, 137, 3, 4, 0, 0]), 23);
        // Odd lengths and pointers are accepted here (rcv_srr judges them).
        let mut h = hdr([10, 0, 0, 1], &[131, 3, 4, 0]);
        assert!(comp(&mut h).is_ok());
    }

    #[test]
    fn record_route() {
        let mut h = hdr([192, 0, 2, 10], &[1, 7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0]);
        let o = comp(&mut h).unwrap();
        assert_eq!(&h[21..32], &[7, 11, 8, 10, 0, 0, 1, 0, 0, 0, 0]);
        assert_eq!(o.rr, Some(21));
        assert!(o.rr_needaddr && o.is_changed);
        // Full: accepted, nothing recorded, no error.
        let opts = [7, 7, 8, 1, 2, 3, 4, 0];
        let mut h = hdr([192, 0, 2, 10], &opts);
        let o = comp(&mut h).unwrap();
        assert_eq!(&h[20..28], &opts);
        assert!(!o.rr_needaddr && !o.is_changed);
        assert_eq!(o.rr, Some(20));
        // Misaligned pointer with room: recorded where it points.
        let mut h = hdr([192, 0, 2, 10], &[7, 8, 5, 0, 0, 0, 0, 0]);
        comp(&mut h).unwrap();
        assert_eq!(&h[20..28], &[7, 8, 9, 0, 10, 0, 0, 1]);
        // Errors.
        assert_eq!(err_at(&[7, 2, 1, 1]), 21);
        assert_eq!(err_at(&[7, 7, 3, 0, 0, 0, 0, 0]), 22);
        assert_eq!(
            err_at(&[7, 7, 5, 0, 0, 0, 0, 0]),
            22,
            "pointer + 3 > length"
        );
        assert_eq!(err_at(&[7, 3, 8, 7, 3, 8, 0, 0]), 23, "duplicate");
    }

    #[test]
    fn record_route_spec_dst_is_computed_once_and_lazily() {
        let mut calls = 0;
        let mut h = hdr([192, 0, 2, 10], &[1, 1, 0, 0]);
        compile(
            &mut h,
            NOW,
            || {
                calls += 1;
                SPEC
            },
            |_| true,
        )
        .unwrap();
        assert_eq!(calls, 0);
        let mut h = hdr(
            [192, 0, 2, 10],
            &[7, 7, 4, 0, 0, 0, 0, 68, 12, 5, 1, 0, 0, 0, 0, 0, 0, 0, 0],
        );
        compile(
            &mut h,
            NOW,
            || {
                calls += 1;
                SPEC
            },
            |_| true,
        )
        .unwrap();
        assert_eq!(calls, 1);
        assert_eq!(&h[31..35], &SPEC.octets(), "timestamp address");
    }

    #[test]
    fn timestamp_only() {
        let mut h = hdr([192, 0, 2, 10], &[68, 12, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        let o = comp(&mut h).unwrap();
        assert_eq!(&h[20..32], &[68, 12, 9, 0, 1, 2, 3, 4, 0, 0, 0, 0]);
        assert!(o.ts_needtime && !o.ts_needaddr && o.is_changed);
        assert_eq!(o.ts, Some(20));
    }

    #[test]
    fn timestamp_and_address() {
        let mut h = hdr([192, 0, 2, 10], &[68, 12, 5, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
        let o = comp(&mut h).unwrap();
        assert_eq!(&h[20..32], &[68, 12, 13, 1, 10, 0, 0, 1, 1, 2, 3, 4]);
        assert!(o.ts_needtime && o.ts_needaddr);
        // Room for a time but not for address and time.
        assert_eq!(err_at(&[68, 8, 5, 1, 0, 0, 0, 0]), 22);
    }

    #[test]
    fn timestamp_prespecified() {
        // Our address listed first: stamped, pointer past the pair.
        let mut h = hdr([192, 0, 2, 10], &[68, 12, 5, 3, 10, 0, 0, 1, 0, 0, 0, 0]);
        let o = comp(&mut h).unwrap();
        assert_eq!(&h[20..32], &[68, 12, 13, 3, 10, 0, 0, 1, 1, 2, 3, 4]);
        assert!(o.ts_needtime && !o.ts_needaddr);
        // Someone else's: untouched.
        let opts = [68, 12, 5, 3, 192, 0, 2, 99, 0, 0, 0, 0];
        let mut h = hdr([192, 0, 2, 10], &opts);
        let o = comp(&mut h).unwrap();
        assert_eq!(&h[20..32], &opts);
        assert!(!o.ts_needtime && !o.is_changed);
        assert_eq!(o.ts, Some(20));
        // A broadcast address is "not unicast" to the kernel: stamped.
        let mut h = hdr(
            [192, 0, 2, 10],
            &[68, 12, 5, 3, 255, 255, 255, 255, 0, 0, 0, 0],
        );
        compile(&mut h, NOW, || SPEC, |a| !ours(a) && !a.is_broadcast()).unwrap();
        assert_eq!(h[22], 13);
        // Full prespecified: no overflow counting.
        let opts = [68, 12, 13, 0x33, 10, 0, 0, 1, 0, 0, 0, 0];
        let mut h = hdr([192, 0, 2, 10], &opts);
        assert!(!comp(&mut h).unwrap().is_changed);
        assert_eq!(&h[20..32], &opts);
        assert_eq!(err_at(&[68, 8, 5, 3, 0, 0, 0, 0]), 22);
    }

    #[test]
    fn timestamp_unknown_flag_left_alone() {
        let opts = [68, 8, 5, 2, 0, 0, 0, 0];
        let mut h = hdr([192, 0, 2, 10], &opts);
        let o = comp(&mut h).unwrap();
        assert_eq!(&h[20..28], &opts);
        assert_eq!(o.ts, Some(20));
        assert!(!o.ts_needtime && !o.is_changed);
    }

    #[test]
    fn timestamp_overflow() {
        let mut h = hdr([192, 0, 2, 10], &[68, 8, 9, 0x21, 0, 0, 0, 0]);
        let o = comp(&mut h).unwrap();
        assert_eq!(h[23], 0x31);
        assert!(o.is_changed && !o.ts_needtime);
        assert_eq!(err_at(&[68, 8, 9, 0xf0, 0, 0, 0, 0]), 23);
    }

    #[test]
    fn timestamp_errors() {
        assert_eq!(err_at(&[68, 3, 5, 0]), 21);
        assert_eq!(err_at(&[68, 8, 4, 0, 0, 0, 0, 0]), 22);
        assert_eq!(
            err_at(&[68, 8, 6, 0, 0, 0, 0, 0]),
            22,
            "pointer + 3 > length"
        );
        assert_eq!(err_at(&[68, 4, 5, 0, 68, 4, 5, 0]), 24, "duplicate");
    }

    #[test]
    fn router_alert() {
        let mut h = hdr([192, 0, 2, 10], &[148, 4, 0, 0]);
        assert_eq!(comp(&mut h).unwrap().router_alert, Some(20));
        let mut h = hdr([192, 0, 2, 10], &[148, 4, 0, 1]);
        assert_eq!(comp(&mut h).unwrap().router_alert, None);
        assert_eq!(err_at(&[148, 3, 0, 0]), 21);
        assert_eq!(err_at(&[148, 2, 0, 0]), 21);
    }

    #[test]
    fn cipso_rejected() {
        assert_eq!(err_at(&[134, 6, 0, 0, 0, 1, 0, 0]), 21);
        let mut h = hdr([192, 0, 2, 10], &[1, 134, 10, 0, 0, 0, 1, 1, 2, 0, 0]);
        let e = comp(&mut h).unwrap_err();
        assert_eq!(e.pointer, 23);
        assert_eq!(e.parsed.cipso, Some(21));
    }

    #[test]
    fn error_reports_what_was_parsed() {
        let mut h = hdr([192, 0, 2, 10], &[7, 7, 4, 0, 0, 0, 0, 148, 3, 0, 0, 0]);
        let e = comp(&mut h).unwrap_err();
        assert_eq!(e.pointer, 28);
        assert_eq!(e.parsed.rr, Some(20));
        assert!(e.parsed.rr_needaddr);
        assert_eq!(
            &h[20..27],
            &[7, 7, 8, 10, 0, 0, 1],
            "recorded before the error"
        );
    }

    #[test]
    fn longer_slice_reads_up_to_ihl() {
        let mut v = hdr([192, 0, 2, 10], &[1, 0, 0, 0]);
        v.extend_from_slice(&[7, 3, 4, 9]); // payload, not options
        let o = comp(&mut v).unwrap();
        assert_eq!(o.optlen, 4);
        assert_eq!(&v[24..], &[7, 3, 4, 9]);
    }

    // ---- rcv_srr ----

    fn lsrr_to_us(hops: &[[u8; 4]], ptr: u8, strict: bool) -> (Vec<u8>, Options) {
        let mut o = vec![
            if strict { 137 } else { 131 },
            (3 + 4 * hops.len()) as u8,
            ptr,
        ];
        for a in hops {
            o.extend_from_slice(a);
        }
        o.push(1);
        let mut h = hdr([10, 0, 0, 1], &o);
        let opts = comp(&mut h).unwrap();
        (h, opts)
    }

    #[test]
    fn srr_not_for_us() {
        let (mut h, mut o) = lsrr_to_us(&[[192, 0, 2, 10]], 4, false);
        assert_eq!(
            rcv_srr(&mut h, &mut o, RouteKind::Unicast, |_| unreachable!()),
            Ok(SrrOutcome::Unchanged)
        );
        let (mut h, mut o) = lsrr_to_us(&[[192, 0, 2, 10]], 4, true);
        assert_eq!(
            rcv_srr(&mut h, &mut o, RouteKind::Unicast, |_| unreachable!()),
            Err(SrrError::ParamProblem(16))
        );
        assert_eq!(
            rcv_srr(&mut h, &mut o, RouteKind::Other, |_| unreachable!()),
            Err(SrrError::Drop)
        );
    }

    #[test]
    fn srr_forward_to_next_hop() {
        let (mut h, mut o) = lsrr_to_us(&[[192, 0, 2, 10], [198, 51, 100, 7]], 4, false);
        let before = h.clone();
        let r = rcv_srr(&mut h, &mut o, RouteKind::Local, |_| RouteKind::Unicast);
        assert_eq!(r, Ok(SrrOutcome::Forward(Ipv4Addr::new(192, 0, 2, 10))));
        assert_eq!(h, before, "the header changes only in forward_options");
        assert_eq!(o.srr_nexthop, Some(Ipv4Addr::new(192, 0, 2, 10)));
        assert!(o.is_changed);
        // forward_options: destination, our address in the slot, pointer advanced.
        let f = forward_options(&mut h, &mut o, |_| OUT);
        assert!(f.checksum_updated && !f.destination_lost);
        assert_eq!(&h[16..20], &[192, 0, 2, 10]);
        assert_eq!(&h[20..31], &[131, 11, 8, 203, 0, 113, 1, 198, 51, 100, 7]);
        assert!(csum_ok(&h));
    }

    #[test]
    fn srr_local_hops_then_forward() {
        let (mut h, mut o) = lsrr_to_us(&[[203, 0, 113, 1], [192, 0, 2, 10]], 4, false);
        let mut seen = vec![];
        let r = rcv_srr(&mut h, &mut o, RouteKind::Local, |a| {
            seen.push(a);
            if ours(a) {
                RouteKind::Local
            } else {
                RouteKind::Unicast
            }
        });
        assert_eq!(r, Ok(SrrOutcome::Forward(Ipv4Addr::new(192, 0, 2, 10))));
        assert_eq!(seen, [OUT, Ipv4Addr::new(192, 0, 2, 10)]);
        assert_eq!(
            &h[16..20],
            &[203, 0, 113, 1],
            "destination moved to the local hop"
        );
        assert_eq!(h[22], 4, "pointer not moved for local hops");
        forward_options(&mut h, &mut o, |_| OUT);
        // The search starts at the pointer and finds the next hop in the second slot.
        assert_eq!(&h[20..31], &[131, 11, 12, 203, 0, 113, 1, 203, 0, 113, 1]);
        assert_eq!(&h[16..20], &[192, 0, 2, 10]);
        assert!(csum_ok(&h));
    }

    #[test]
    fn srr_all_local_or_exhausted() {
        let (mut h, mut o) = lsrr_to_us(&[[203, 0, 113, 1]], 4, true);
        assert_eq!(
            rcv_srr(&mut h, &mut o, RouteKind::Local, |_| RouteKind::Local),
            Ok(SrrOutcome::Deliver)
        );
        assert_eq!(&h[16..20], &[203, 0, 113, 1]);
        assert_eq!(o.srr_nexthop, None);
        let (mut h, mut o) = lsrr_to_us(&[[192, 0, 2, 10]], 8, false);
        assert_eq!(
            rcv_srr(&mut h, &mut o, RouteKind::Local, |_| unreachable!()),
            Ok(SrrOutcome::Deliver)
        );
        assert!(!o.is_changed);
    }

    #[test]
    fn srr_errors() {
        // Hop with no usable route: dropped silently.
        let (mut h, mut o) = lsrr_to_us(&[[192, 0, 2, 10]], 4, false);
        assert_eq!(
            rcv_srr(&mut h, &mut o, RouteKind::Local, |_| RouteKind::Other),
            Err(SrrError::Drop)
        );
        // Pointer leaves less than an address: parameter problem at the pointer.
        let mut h = hdr([10, 0, 0, 1], &[1, 131, 10, 8, 10, 0, 0, 1, 192, 0, 2, 0]);
        let mut o = comp(&mut h).unwrap();
        assert_eq!(
            rcv_srr(&mut h, &mut o, RouteKind::Local, |_| RouteKind::Local),
            Err(SrrError::ParamProblem(23))
        );
        // No source route at all.
        let mut h = hdr([10, 0, 0, 1], &[]);
        let mut o = Options::default();
        assert_eq!(
            rcv_srr(&mut h, &mut o, RouteKind::Local, |_| unreachable!()),
            Ok(SrrOutcome::Unchanged)
        );
    }

    // ---- forward_options ----

    #[test]
    fn forward_record_route_overwrites_spec_dst() {
        let mut h = hdr([192, 0, 2, 10], &[1, 7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0]);
        let mut o = comp(&mut h).unwrap();
        let f = forward_options(&mut h, &mut o, |d| {
            assert_eq!(d, Ipv4Addr::new(192, 0, 2, 10));
            OUT
        });
        assert!(f.checksum_updated);
        assert_eq!(&h[21..32], &[7, 11, 8, 203, 0, 113, 1, 0, 0, 0, 0]);
        assert!(csum_ok(&h));
        assert!(!o.is_changed);
    }

    #[test]
    fn forward_timestamp_address_kept_without_srr() {
        let mut h = hdr([192, 0, 2, 10], &[68, 12, 5, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
        let mut o = comp(&mut h).unwrap();
        forward_options(&mut h, &mut o, |_| OUT);
        assert_eq!(
            &h[24..28],
            &SPEC.octets(),
            "spec_dst stays: no source route"
        );
        assert!(csum_ok(&h));
    }

    #[test]
    fn forward_timestamp_address_with_srr() {
        let mut h = hdr(
            [10, 0, 0, 1],
            &[
                131, 7, 4, 192, 0, 2, 10, 68, 12, 5, 1, 0, 0, 0, 0, 0, 0, 0, 0,
            ],
        );
        let mut o = comp(&mut h).unwrap();
        rcv_srr(&mut h, &mut o, RouteKind::Local, |_| RouteKind::Unicast).unwrap();
        forward_options(&mut h, &mut o, |_| OUT);
        assert_eq!(&h[31..35], &OUT.octets());
        assert!(csum_ok(&h));
    }

    #[test]
    fn forward_unchanged_keeps_checksum() {
        let mut h = hdr([192, 0, 2, 10], &[130, 4, 0, 0]);
        h[10] ^= 0xff; // deliberately wrong: must not be recomputed
        let before = h.clone();
        let mut o = comp(&mut h).unwrap();
        let f = forward_options(&mut h, &mut o, |_| OUT);
        assert_eq!(f, Forwarded::default());
        assert_eq!(h, before);
    }

    #[test]
    fn forward_destination_lost() {
        let (mut h, mut o) = lsrr_to_us(&[[192, 0, 2, 10]], 4, false);
        rcv_srr(&mut h, &mut o, RouteKind::Local, |_| RouteKind::Unicast).unwrap();
        h[23..27].copy_from_slice(&[9, 9, 9, 9]); // a hook rewrote the route
        let f = forward_options(&mut h, &mut o, |_| OUT);
        assert!(f.destination_lost && f.checksum_updated);
        assert_eq!(&h[16..20], &[10, 0, 0, 1]);
    }

    // ---- echo ----

    fn reply(r: &ReplyOptions, dest: Ipv4Addr, src: Ipv4Addr) -> Vec<u8> {
        let mut h = vec![0u8; 20 + r.len()];
        h[0] = 0x40 | ((20 + r.len()) / 4) as u8;
        r.write(&mut h, dest, src, NOW);
        h
    }

    #[test]
    fn echo_nothing() {
        let h = hdr([10, 0, 0, 1], &[]);
        let r = echo(&h, &Options::default(), |_| true).unwrap();
        assert!(r.is_empty());
        // Options the kernel does not echo: padding only disappears too.
        let mut h = hdr([10, 0, 0, 1], &[130, 4, 0, 0, 148, 4, 0, 0]);
        let o = comp(&mut h).unwrap();
        assert!(echo(&h, &o, |_| true).unwrap().is_empty());
    }

    #[test]
    fn echo_record_route_round_trip() {
        // Ping -R to the router: 9 slots, compile records 10.0.0.1.
        let mut opts = vec![7, 39, 4];
        opts.extend_from_slice(&[0; 36]);
        opts.push(1);
        let mut h = hdr([10, 0, 0, 1], &opts);
        let o = comp(&mut h).unwrap();
        let r = echo(&h, &o, |a| !ours(a)).unwrap();
        assert_eq!(r.len(), 40);
        assert_eq!(r.faddr, None);
        assert!(r.opts.rr_needaddr);
        assert_eq!(r.opts.rr, Some(20));
        let out = reply(&r, Ipv4Addr::new(10, 0, 0, 20), SPEC);
        assert_eq!(&out[20..31], &[7, 39, 12, 10, 0, 0, 1, 10, 0, 0, 1]);
        assert_eq!(out[59], 0, "padded with END");
        // Full after our entry: copied as is, nothing more recorded.
        let mut h = hdr([10, 0, 0, 1], &[1, 7, 7, 4, 0, 0, 0, 0]);
        let o = comp(&mut h).unwrap();
        let r = echo(&h, &o, |_| true).unwrap();
        assert_eq!(r.bytes(), &[7, 7, 8, 10, 0, 0, 1, 0]);
        assert!(!r.opts.rr_needaddr);
    }

    #[test]
    fn echo_record_route_without_room_sends_nothing() {
        let mut h = hdr([10, 0, 0, 1], &[7, 9, 4, 0, 0, 0, 0, 0, 0]);
        let o = comp(&mut h).unwrap();
        assert_eq!(h[22], 8);
        assert_eq!(echo(&h, &o, |_| true), None);
    }

    #[test]
    fn echo_timestamp() {
        let mut h = hdr(
            [10, 0, 0, 1],
            &[68, 20, 5, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        );
        let o = comp(&mut h).unwrap();
        let r = echo(&h, &o, |a| !ours(a)).unwrap();
        assert!(r.opts.ts_needaddr && r.opts.ts_needtime);
        let out = reply(&r, Ipv4Addr::new(10, 0, 0, 20), SPEC);
        assert_eq!(
            &out[20..40],
            &[68, 20, 21, 1, 10, 0, 0, 1, 1, 2, 3, 4, 10, 0, 0, 1, 1, 2, 3, 4]
        );
        // Room for the address but not the time: no reply.
        let mut h = hdr(
            [10, 0, 0, 1],
            &[68, 16, 5, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        );
        let o = comp(&mut h).unwrap();
        assert_eq!(echo(&h, &o, |_| true), None);
        // Timestamp only.
        let mut h = hdr([10, 0, 0, 1], &[68, 12, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        let o = comp(&mut h).unwrap();
        let r = echo(&h, &o, |_| true).unwrap();
        let out = reply(&r, Ipv4Addr::new(10, 0, 0, 20), SPEC);
        assert_eq!(&out[20..32], &[68, 12, 13, 0, 1, 2, 3, 4, 1, 2, 3, 4]);
    }

    #[test]
    fn echo_timestamp_prespecified() {
        let opts = [
            68, 20, 5, 3, 10, 0, 0, 1, 0, 0, 0, 0, 203, 0, 113, 1, 0, 0, 0, 0,
        ];
        let mut h = hdr([10, 0, 0, 1], &opts);
        let o = comp(&mut h).unwrap();
        // The next listed address is also ours: the reply stamps it.
        let r = echo(&h, &o, |a| !ours(a)).unwrap();
        assert!(r.opts.ts_needtime && !r.opts.ts_needaddr);
        let out = reply(&r, Ipv4Addr::new(10, 0, 0, 20), SPEC);
        assert_eq!(
            &out[20..40],
            &[68, 20, 21, 3, 10, 0, 0, 1, 1, 2, 3, 4, 203, 0, 113, 1, 1, 2, 3, 4]
        );
        // ... unless it is someone else's.
        let r = echo(&h, &o, |a| a != SPEC).unwrap();
        assert!(!r.opts.ts_needtime);
        assert_eq!(r.bytes()[2], 13);
    }

    #[test]
    fn echo_source_route_reversed() {
        // 10.0.0.20 sent via A=198.51.100.7 then B=192.0.2.10 to us; both recorded (pointer
        // past the end). Reply: first hop B, then A, then the sender.
        let mut h = hdr(
            [203, 0, 113, 1],
            &[1, 131, 11, 12, 198, 51, 100, 7, 192, 0, 2, 10],
        );
        let o = comp(&mut h).unwrap();
        let r = echo(&h, &o, |_| true).unwrap();
        assert_eq!(r.faddr, Some(Ipv4Addr::new(192, 0, 2, 10)));
        assert_eq!(
            r.first_hop(Ipv4Addr::new(10, 0, 0, 20)),
            Ipv4Addr::new(192, 0, 2, 10)
        );
        assert_eq!(r.len(), 12);
        let out = reply(&r, Ipv4Addr::new(10, 0, 0, 20), OUT);
        assert_eq!(
            &out[20..32],
            &[131, 11, 4, 198, 51, 100, 7, 10, 0, 0, 20, 0]
        );
        // Strict stays strict.
        let mut h = hdr(
            [203, 0, 113, 1],
            &[137, 11, 12, 198, 51, 100, 7, 192, 0, 2, 10],
        );
        let o = comp(&mut h).unwrap();
        let r = echo(&h, &o, |_| true).unwrap();
        assert!(r.opts.is_strictroute);
        assert_eq!(r.bytes()[0], 137);
    }

    #[test]
    fn echo_source_route_drops_sender_as_first_hop() {
        let mut h = hdr(
            [203, 0, 113, 1],
            &[1, 131, 11, 12, 10, 0, 0, 20, 192, 0, 2, 10],
        );
        let o = comp(&mut h).unwrap();
        let r = echo(&h, &o, |_| true).unwrap();
        assert_eq!(r.faddr, Some(Ipv4Addr::new(192, 0, 2, 10)));
        let out = reply(&r, Ipv4Addr::new(10, 0, 0, 20), OUT);
        assert_eq!(&out[20..28], &[131, 7, 4, 10, 0, 0, 20, 0]);
    }

    #[test]
    fn echo_source_route_nothing_consumed() {
        let (h, o) = lsrr_to_us(&[[192, 0, 2, 10]], 4, false);
        let r = echo(&h, &o, |_| true).unwrap();
        assert!(r.is_empty());
        assert_eq!(r.faddr, None);
        // One hop consumed and it was the sender: nothing either.
        let mut h = hdr([203, 0, 113, 1], &[131, 7, 8, 10, 0, 0, 20]);
        let o = comp(&mut h).unwrap();
        assert!(echo(&h, &o, |_| true).unwrap().is_empty());
    }

    #[test]
    fn echo_combined_and_cipso() {
        let mut h = hdr(
            [203, 0, 113, 1],
            &[
                7, 7, 4, 0, 0, 0, 0, 131, 7, 8, 192, 0, 2, 10, 134, 8, 0, 0, 0, 1, 0, 0,
            ],
        );
        let e = comp(&mut h).unwrap_err();
        assert_eq!(e.pointer, 36);
        let r = echo(&h, &e.parsed, |_| true).unwrap();
        // RR (7, full after ours) + reversed LSRR (7) + CIPSO (8) = 22, padded to 24.
        assert_eq!(r.len(), 24);
        assert_eq!(r.opts.rr, Some(20));
        assert_eq!(r.opts.srr, Some(27));
        assert_eq!(r.opts.cipso, Some(34));
        assert_eq!(&r.bytes()[7..10], &[131, 7, 4]);
        assert_eq!(&r.bytes()[14..24], &[134, 8, 0, 0, 0, 1, 0, 0, 0, 0]);
    }

    // ---- fragment ----

    #[test]
    fn fragment_keeps_copied_options() {
        let mut h = hdr(
            [192, 0, 2, 10],
            &[
                7, 7, 4, 0, 0, 0, 0, 131, 7, 4, 1, 2, 3, 4, 68, 8, 5, 0, 0, 0, 0, 0, 148, 4, 0, 0,
            ],
        );
        fragment(&mut h);
        assert_eq!(
            &h[20..48],
            &[
                1, 1, 1, 1, 1, 1, 1, 131, 7, 4, 1, 2, 3, 4, 1, 1, 1, 1, 1, 1, 1, 1, 148, 4, 0, 0,
                0, 0
            ]
        );
        // Stops at END and at a bad length.
        let mut h = hdr([192, 0, 2, 10], &[0, 7, 3, 4]);
        let before = h.clone();
        fragment(&mut h);
        assert_eq!(h, before);
        let mut h = hdr([192, 0, 2, 10], &[7, 3, 4, 7, 9, 1, 1, 1]);
        fragment(&mut h);
        assert_eq!(&h[20..28], &[1, 1, 1, 7, 9, 1, 1, 1]);
    }

    // ---- robustness ----

    fn exercise(bytes: &[u8]) {
        let mut h = bytes.to_vec();
        let res = compile(&mut h, NOW, || SPEC, |a| a.octets()[0] & 1 == 0);
        let mut o = match res {
            Ok(o) => o,
            Err(e) => e.parsed,
        };
        let _ = echo(&h, &o, |_| false);
        let mut h2 = h.clone();
        for kind in [RouteKind::Local, RouteKind::Unicast] {
            let mut n = 0;
            let _ = rcv_srr(&mut h2, &mut o, kind, |_| {
                n += 1;
                if n < 3 {
                    RouteKind::Local
                } else {
                    RouteKind::Unicast
                }
            });
        }
        forward_options(&mut h2, &mut o, |_| OUT);
        if let Some(r) = echo(&h2, &o, |_| true) {
            let mut out = [0u8; 60];
            r.write(&mut out, SPEC, OUT, NOW);
            r.write(&mut out[..21], SPEC, OUT, NOW);
        }
        fragment(&mut h2);
        // Arbitrary (inconsistent) Options against arbitrary bytes.
        let junk = Options {
            optlen: bytes.len() as u8,
            srr: bytes.get(1).copied(),
            rr: bytes.get(2).copied(),
            ts: bytes.get(3).copied(),
            cipso: bytes.get(4).copied(),
            rr_needaddr: true,
            ts_needaddr: true,
            ts_needtime: true,
            srr_nexthop: Some(SPEC),
            is_changed: true,
            ..Options::default()
        };
        let _ = echo(bytes, &junk, |_| false);
        let mut o = junk;
        let _ = rcv_srr(&mut h.clone(), &mut o, RouteKind::Local, |_| {
            RouteKind::Local
        });
        forward_options(&mut h.clone(), &mut o, |_| OUT);
    }

    #[test]
    fn every_truncation_never_panics() {
        let samples: [&[u8]; 5] = [
            &[7, 39, 4],
            &[131, 11, 12, 198, 51, 100, 7, 192, 0, 2, 10, 68, 12, 5, 1],
            &[
                68, 20, 5, 3, 10, 0, 0, 1, 0, 0, 0, 0, 203, 0, 113, 1, 0, 0, 0, 0,
            ],
            &[134, 8, 0, 0, 0, 1, 0, 0, 148, 4, 0, 0],
            &[137, 7, 4, 10, 0, 0, 1, 7, 7, 4, 0, 0, 0, 0],
        ];
        for s in samples {
            let full = hdr([10, 0, 0, 1], s);
            for n in 0..=full.len() {
                exercise(&full[..n]);
            }
        }
    }

    #[test]
    fn random_headers_never_panic() {
        let mut rng = fastrand::Rng::with_seed(0x0b7);
        let alphabet = [
            0u8, 1, 7, 68, 130, 131, 134, 136, 137, 148, 2, 3, 4, 5, 8, 9, 12, 13, 40, 255,
        ];
        for _ in 0..20_000 {
            let len = rng.usize(0..=64);
            let mut v: Vec<u8> = (0..len)
                .map(|_| {
                    if rng.bool() {
                        rng.u8(..)
                    } else {
                        alphabet[rng.usize(..alphabet.len())]
                    }
                })
                .collect();
            if len > 0 && rng.u8(..4) != 0 {
                v[0] = 0x40 | rng.u8(5..16);
            }
            exercise(&v);
        }
    }

    #[test]
    fn compiled_reply_fits_and_is_aligned() {
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..20_000 {
            let n = rng.usize(1..=40);
            let opts: Vec<u8> = (0..n)
                .map(|i| match i % 4 {
                    0 => [7, 68, 131, 137, 1][rng.usize(..5)],
                    _ => rng.u8(..48),
                })
                .collect();
            let mut h = hdr([10, 0, 0, 1], &opts);
            let o = match comp(&mut h) {
                Ok(o) => o,
                Err(e) => e.parsed,
            };
            if let Some(r) = echo(&h, &o, |_| true) {
                assert!(r.len() <= MAX_LEN && r.len() % 4 == 0);
                if let Some(rr) = r.opts.rr {
                    assert_eq!(r.bytes()[rr as usize - 20], kind::RR);
                }
            }
        }
    }

    // ---- recorded from Linux 6.18 (`router diff-kernel --record`): lan0 10.0.0.1/24,
    // wan0 203.0.113.1/24, default via 203.0.113.254, ip_forward 1; sender 10.0.0.20.
    // Timestamps are the kernel's wall clock, so `now` is taken from its output.

    fn classify(a: Ipv4Addr) -> RouteKind {
        if ours(a) {
            RouteKind::Local
        } else if a.is_loopback() {
            RouteKind::Other
        } else {
            RouteKind::Unicast
        }
    }

    /// ip_rcv_options, ip_forward (TTL), ip_forward_finish; the outgoing address is wan0's.
    fn kernel_forward(input: &[u8], now: u32) -> Vec<u8> {
        let mut h = input.to_vec();
        let mut o = compile(&mut h, now, || SPEC, |a| !ours(a)).unwrap();
        if o.srr.is_some() {
            let route = classify(daddr(&h));
            assert!(rcv_srr(&mut h, &mut o, route, classify).is_ok());
        }
        crate::wire::ipv4::Ipv4Packet::new_unchecked(&mut h[..]).decrease_ttl();
        forward_options(&mut h, &mut o, |_| OUT);
        h
    }

    /// The options of a reply from 10.0.0.1 to 10.0.0.20 about `input` (after compile).
    fn kernel_reply(input: &[u8], now: u32) -> (Vec<u8>, Option<ReplyOptions>) {
        let mut h = input.to_vec();
        let o = match compile(&mut h, now, || SPEC, |a| !ours(a)) {
            Ok(o) => o,
            Err(e) => e.parsed,
        };
        let r = echo(&h, &o, |a| !ours(a));
        let bytes = r.map(|r| {
            let mut out = vec![0u8; 20 + r.len()];
            r.write(&mut out, Ipv4Addr::new(10, 0, 0, 20), SPEC, now);
            out[20..].to_vec()
        });
        (bytes.unwrap_or_default(), r)
    }

    #[test]
    fn kernel_forwarded_headers() {
        let cases: [(&[u8], &[u8], u32); 11] = [
            // A1
            (
                &[
                    79, 0, 0, 84, 51, 1, 0, 0, 64, 17, 102, 83, 10, 0, 0, 20, 192, 0, 2, 10, 7, 39,
                    4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                ],
                &[
                    79, 0, 0, 84, 51, 1, 0, 0, 63, 17, 97, 23, 10, 0, 0, 20, 192, 0, 2, 10, 7, 39,
                    8, 203, 0, 113, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                ],
                0x0,
            ),
            // A7
            (
                &[
                    72, 0, 0, 56, 51, 7, 0, 0, 64, 17, 47, 132, 10, 0, 0, 20, 192, 0, 2, 10, 68,
                    12, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                ],
                &[
                    72, 0, 0, 56, 51, 7, 0, 0, 63, 17, 231, 192, 10, 0, 0, 20, 192, 0, 2, 10, 68,
                    12, 9, 0, 2, 69, 66, 126, 0, 0, 0, 0,
                ],
                0x245427e,
            ),
            // A14
            (
                &[
                    72, 0, 0, 56, 51, 14, 0, 0, 64, 17, 39, 93, 10, 0, 0, 20, 192, 0, 2, 10, 68,
                    12, 13, 32, 0, 0, 0, 0, 0, 0, 0, 0,
                ],
                &[
                    72, 0, 0, 56, 51, 14, 0, 0, 63, 17, 40, 77, 10, 0, 0, 20, 192, 0, 2, 10, 68,
                    12, 13, 48, 0, 0, 0, 0, 0, 0, 0, 0,
                ],
                0x0,
            ),
            // A16
            (
                &[
                    71, 0, 0, 52, 51, 16, 0, 0, 64, 17, 226, 118, 10, 0, 0, 20, 192, 0, 2, 10, 148,
                    4, 0, 0, 0, 7, 3, 9,
                ],
                &[
                    71, 0, 0, 52, 51, 16, 0, 0, 63, 17, 230, 134, 10, 0, 0, 20, 192, 0, 2, 10, 148,
                    4, 0, 0, 0, 0, 0, 0,
                ],
                0x0,
            ),
            // A19
            (
                &[
                    72, 0, 0, 56, 51, 19, 0, 0, 64, 17, 109, 17, 10, 0, 0, 20, 192, 0, 2, 10, 68,
                    12, 5, 3, 192, 0, 2, 99, 0, 0, 0, 0,
                ],
                &[
                    72, 0, 0, 56, 51, 19, 0, 0, 63, 17, 110, 17, 10, 0, 0, 20, 192, 0, 2, 10, 68,
                    12, 5, 3, 192, 0, 2, 99, 0, 0, 0, 0,
                ],
                0x0,
            ),
            // A20
            (
                &[
                    72, 0, 0, 56, 51, 20, 0, 0, 64, 17, 47, 118, 10, 0, 0, 20, 192, 0, 2, 10, 68,
                    12, 5, 1, 0, 0, 0, 0, 0, 0, 0, 0,
                ],
                &[
                    72, 0, 0, 56, 51, 20, 0, 0, 63, 17, 161, 213, 10, 0, 0, 20, 192, 0, 2, 10, 68,
                    12, 13, 1, 10, 0, 0, 1, 2, 69, 122, 90,
                ],
                0x2457a5a,
            ),
            // A21
            (
                &[
                    70, 0, 0, 48, 51, 21, 0, 0, 64, 17, 22, 132, 10, 0, 0, 20, 192, 0, 2, 10, 99,
                    4, 1, 2,
                ],
                &[
                    70, 0, 0, 48, 51, 21, 0, 0, 63, 17, 23, 132, 10, 0, 0, 20, 192, 0, 2, 10, 99,
                    4, 1, 2,
                ],
                0x0,
            ),
            // B1
            (
                &[
                    71, 0, 0, 52, 52, 1, 0, 0, 64, 17, 158, 217, 10, 0, 0, 20, 10, 0, 0, 1, 131, 7,
                    4, 192, 0, 2, 10, 1,
                ],
                &[
                    71, 0, 0, 52, 52, 1, 0, 0, 63, 17, 236, 85, 10, 0, 0, 20, 192, 0, 2, 10, 131,
                    7, 8, 203, 0, 113, 1, 1,
                ],
                0x0,
            ),
            // B2
            (
                &[
                    72, 0, 0, 56, 52, 2, 0, 0, 64, 17, 155, 148, 10, 0, 0, 20, 10, 0, 0, 1, 131,
                    11, 4, 203, 0, 113, 1, 192, 0, 2, 10, 1,
                ],
                &[
                    72, 0, 0, 56, 52, 2, 0, 0, 63, 17, 229, 16, 10, 0, 0, 20, 192, 0, 2, 10, 131,
                    11, 12, 203, 0, 113, 1, 203, 0, 113, 1, 1,
                ],
                0x0,
            ),
            // B5
            (
                &[
                    71, 0, 0, 52, 52, 5, 0, 0, 64, 17, 85, 91, 10, 0, 0, 20, 10, 0, 0, 1, 137, 7,
                    4, 203, 0, 113, 77, 1,
                ],
                &[
                    71, 0, 0, 52, 52, 5, 0, 0, 63, 17, 108, 14, 10, 0, 0, 20, 203, 0, 113, 77, 137,
                    7, 8, 203, 0, 113, 1, 1,
                ],
                0x0,
            ),
            // B10
            (
                &[
                    74, 0, 0, 64, 52, 10, 0, 0, 64, 17, 143, 185, 10, 0, 0, 20, 10, 0, 0, 1, 131,
                    7, 4, 192, 0, 2, 10, 7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1,
                ],
                &[
                    74, 0, 0, 64, 52, 10, 0, 0, 63, 17, 161, 47, 10, 0, 0, 20, 192, 0, 2, 10, 131,
                    7, 8, 203, 0, 113, 1, 7, 11, 8, 203, 0, 113, 1, 0, 0, 0, 0, 1, 1,
                ],
                0x0,
            ),
        ];
        for (i, (input, want, now)) in cases.iter().enumerate() {
            assert_eq!(kernel_forward(input, *now), *want, "case {i}");
        }
    }

    #[test]
    fn kernel_forwarded_source_route_with_timestamp() {
        let input = &[
            74, 0, 0, 64, 52, 13, 0, 0, 64, 17, 142, 120, 10, 0, 0, 20, 10, 0, 0, 1, 131, 7, 4,
            192, 0, 2, 10, 68, 12, 5, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1,
        ];
        let want = &[
            74, 0, 0, 64, 52, 13, 0, 0, 63, 17, 23, 90, 10, 0, 0, 20, 192, 0, 2, 10, 131, 7, 8,
            203, 0, 113, 1, 68, 12, 13, 1, 203, 0, 113, 1, 2, 70, 84, 124, 1,
        ];
        assert_eq!(kernel_forward(input, 0x246547c), want);
    }

    #[test]
    fn kernel_replies() {
        // (input, reply options as sent; the quoted header where it matters)
        // A2: time exceeded, RR
        let (got, _) = kernel_reply(
            &[
                79, 0, 0, 84, 51, 2, 0, 0, 1, 17, 165, 82, 10, 0, 0, 20, 192, 0, 2, 10, 7, 39, 4,
                0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                0, 0, 0, 0, 0, 0, 0, 0, 0,
            ],
            0x0,
        );
        assert_eq!(
            got,
            &[
                7, 39, 12, 10, 0, 0, 1, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
            ]
        );
        // A3: echo reply, RR
        let (got, _) = kernel_reply(
            &[
                79, 0, 0, 84, 51, 3, 0, 0, 64, 1, 30, 107, 10, 0, 0, 20, 10, 0, 0, 1, 7, 39, 4, 0,
                0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                0, 0, 0, 0, 0, 0, 0, 0,
            ],
            0x0,
        );
        assert_eq!(
            got,
            &[
                7, 39, 12, 10, 0, 0, 1, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
            ]
        );
        // A8: echo reply, TS with addresses
        let (got, _) = kernel_reply(
            &[
                78, 0, 0, 80, 51, 8, 0, 0, 64, 1, 225, 107, 10, 0, 0, 20, 10, 0, 0, 1, 68, 36, 5,
                1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                0, 0, 0, 0, 0,
            ],
            0x24546ca,
        );
        assert_eq!(
            got,
            &[
                68, 36, 21, 1, 10, 0, 0, 1, 2, 69, 70, 202, 10, 0, 0, 1, 2, 69, 70, 202, 0, 0, 0,
                0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
            ]
        );
        // A11: port unreachable, RR
        let (got, _) = kernel_reply(
            &[
                79, 0, 0, 84, 51, 11, 0, 0, 64, 17, 30, 83, 10, 0, 0, 20, 10, 0, 0, 1, 7, 39, 4, 0,
                0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                0, 0, 0, 0, 0, 0, 0, 0,
            ],
            0x0,
        );
        assert_eq!(
            got,
            &[
                7, 39, 12, 10, 0, 0, 1, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
            ]
        );
        // A17: parameter problem 32 after RR
        let (got, _) = kernel_reply(
            &[
                73, 0, 0, 60, 51, 17, 0, 0, 64, 17, 31, 237, 10, 0, 0, 20, 10, 0, 0, 1, 7, 11, 4,
                0, 0, 0, 0, 0, 0, 0, 0, 148, 3, 0, 1, 0,
            ],
            0x0,
        );
        assert_eq!(got, &[7, 11, 12, 10, 0, 0, 1, 10, 0, 0, 1, 0]);
        // A9: parameter problem 22, CIPSO echoed
        let (got, _) = kernel_reply(
            &[
                71, 0, 0, 52, 51, 9, 0, 0, 64, 17, 243, 136, 10, 0, 0, 20, 192, 0, 2, 10, 134, 8,
                0, 0, 0, 1, 0, 0,
            ],
            0x0,
        );
        assert_eq!(got, &[134, 8, 0, 0, 0, 1, 0, 0]);
        // A18: echo reply, TS prespecified
        let (got, _) = kernel_reply(
            &[
                74, 0, 0, 64, 51, 18, 0, 0, 64, 1, 159, 124, 10, 0, 0, 20, 10, 0, 0, 1, 68, 20, 5,
                3, 10, 0, 0, 1, 0, 0, 0, 0, 203, 0, 113, 1, 0, 0, 0, 0,
            ],
            0x24571c2,
        );
        assert_eq!(
            got,
            &[68, 20, 21, 3, 10, 0, 0, 1, 2, 69, 113, 194, 203, 0, 113, 1, 2, 69, 113, 194]
        );
        // A22: time exceeded, TS with addresses
        let (got, _) = kernel_reply(
            &[
                76, 0, 0, 72, 51, 22, 0, 0, 1, 17, 106, 84, 10, 0, 0, 20, 192, 0, 2, 10, 68, 28, 5,
                1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            ],
            0x24582f2,
        );
        assert_eq!(
            got,
            &[
                68, 28, 21, 1, 10, 0, 0, 1, 2, 69, 130, 242, 10, 0, 0, 1, 2, 69, 130, 242, 0, 0, 0,
                0, 0, 0, 0, 0
            ]
        );
        // A10, A23: record route of length 9 full after our entry: no reply at all.
        assert_eq!(
            kernel_reply(
                &[
                    72, 0, 0, 56, 51, 10, 0, 0, 64, 1, 36, 156, 10, 0, 0, 20, 10, 0, 0, 1, 7, 9, 4,
                    0, 0, 0, 0, 0, 0, 1, 1, 1
                ],
                0
            )
            .1,
            None
        );
        assert_eq!(
            kernel_reply(
                &[
                    72, 0, 0, 56, 51, 23, 0, 0, 1, 17, 171, 117, 10, 0, 0, 20, 192, 0, 2, 10, 7, 9,
                    4, 0, 0, 0, 0, 0, 0, 1, 1, 1
                ],
                0
            )
            .1,
            None
        );
    }

    #[test]
    fn kernel_quoted_header_is_stale() {
        // A2: the time exceeded quotes the header as compile left it, checksum not updated.
        let mut h = [
            79, 0, 0, 84, 51, 2, 0, 0, 1, 17, 165, 82, 10, 0, 0, 20, 192, 0, 2, 10, 7, 39, 4, 0, 0,
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0, 0, 0, 0, 0, 0,
        ]
        .to_vec();
        compile(&mut h, 0, || SPEC, |a| !ours(a)).unwrap();
        assert_eq!(
            h,
            &[
                79, 0, 0, 84, 51, 2, 0, 0, 1, 17, 165, 82, 10, 0, 0, 20, 192, 0, 2, 10, 7, 39, 8,
                10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                0, 0, 0, 0, 0, 0, 0, 0, 0, 0
            ]
        );
    }

    #[test]
    fn kernel_parameter_problems_and_drops() {
        assert_eq!(
            compile(
                &mut [
                    71, 0, 0, 52, 51, 5, 0, 0, 64, 17, 111, 142, 10, 0, 0, 20, 192, 0, 2, 10, 7, 7,
                    3, 0, 0, 0, 0, 1
                ]
                .to_vec(),
                0,
                || SPEC,
                |a| !ours(a)
            )
            .unwrap_err()
            .pointer,
            22
        ); // A5
        assert_eq!(
            compile(
                &mut [
                    70, 0, 0, 48, 51, 6, 0, 0, 64, 17, 233, 159, 10, 0, 0, 20, 10, 0, 0, 1, 68, 3,
                    5, 0
                ]
                .to_vec(),
                0,
                || SPEC,
                |a| !ours(a)
            )
            .unwrap_err()
            .pointer,
            21
        ); // A6
        assert_eq!(
            compile(
                &mut [
                    72, 0, 0, 56, 51, 15, 0, 0, 64, 17, 38, 140, 10, 0, 0, 20, 192, 0, 2, 10, 68,
                    12, 13, 240, 0, 0, 0, 0, 0, 0, 0, 0
                ]
                .to_vec(),
                0,
                || SPEC,
                |a| !ours(a)
            )
            .unwrap_err()
            .pointer,
            23
        ); // A15
        assert_eq!(
            compile(
                &mut [
                    73, 0, 0, 60, 51, 17, 0, 0, 64, 17, 31, 237, 10, 0, 0, 20, 10, 0, 0, 1, 7, 11,
                    4, 0, 0, 0, 0, 0, 0, 0, 0, 148, 3, 0, 1, 0
                ]
                .to_vec(),
                0,
                || SPEC,
                |a| !ours(a)
            )
            .unwrap_err()
            .pointer,
            32
        ); // A17
        assert_eq!(
            compile(
                &mut [
                    71, 0, 0, 52, 51, 9, 0, 0, 64, 17, 243, 136, 10, 0, 0, 20, 192, 0, 2, 10, 134,
                    8, 0, 0, 0, 1, 0, 0
                ]
                .to_vec(),
                0,
                || SPEC,
                |a| !ours(a)
            )
            .unwrap_err()
            .pointer,
            22
        ); // A9
           // With accept_source_route: B3 strict route to someone else, B7 misaligned pointer,
           // B8 a loopback hop (dropped silently).
        let srr = |input: &[u8]| {
            let mut h = input.to_vec();
            let mut o = compile(&mut h, 0, || SPEC, |a| !ours(a)).unwrap();
            let route = classify(daddr(&h));
            rcv_srr(&mut h, &mut o, route, classify)
        };
        assert_eq!(
            srr(&[
                71, 0, 0, 52, 52, 3, 0, 0, 64, 17, 176, 101, 10, 0, 0, 20, 192, 0, 2, 10, 137, 7,
                4, 198, 51, 100, 7, 1
            ]),
            Err(SrrError::ParamProblem(16))
        ); // B3
        assert_eq!(
            srr(&[
                71, 0, 0, 52, 52, 7, 0, 0, 64, 17, 156, 211, 10, 0, 0, 20, 10, 0, 0, 1, 131, 7, 6,
                192, 0, 2, 10, 1
            ]),
            Err(SrrError::ParamProblem(22))
        ); // B7
        assert_eq!(
            srr(&[
                71, 0, 0, 52, 52, 8, 0, 0, 64, 17, 164, 21, 10, 0, 0, 20, 10, 0, 0, 1, 131, 7, 4,
                127, 0, 0, 5, 1
            ]),
            Err(SrrError::Drop)
        ); // B8
        assert_eq!(
            srr(&[
                71, 0, 0, 52, 52, 9, 0, 0, 64, 17, 182, 95, 10, 0, 0, 20, 192, 0, 2, 10, 131, 7, 4,
                198, 51, 100, 7, 1
            ]),
            Ok(SrrOutcome::Unchanged)
        ); // B9
        assert_eq!(
            srr(&[
                71, 0, 0, 52, 52, 4, 0, 0, 64, 17, 152, 214, 10, 0, 0, 20, 10, 0, 0, 1, 137, 7, 4,
                192, 0, 2, 10, 1
            ]),
            Ok(SrrOutcome::Forward(Ipv4Addr::new(192, 0, 2, 10)))
        ); // B4
    }

    #[test]
    fn kernel_source_routed_replies() {
        // B6: sent from 10.0.0.1 to the first hop, out wan0
        let mut h = [
            71, 0, 0, 52, 52, 6, 0, 0, 64, 1, 154, 228, 10, 0, 0, 20, 10, 0, 0, 1, 131, 7, 8, 192,
            0, 2, 10, 1,
        ]
        .to_vec();
        let o = compile(&mut h, 0, || SPEC, |a| !ours(a)).unwrap();
        let r = echo(&h, &o, |a| !ours(a)).unwrap();
        assert_eq!(
            r.first_hop(Ipv4Addr::new(10, 0, 0, 20)),
            Ipv4Addr::new(192, 0, 2, 10)
        );
        assert_eq!(
            &reply(&r, Ipv4Addr::new(10, 0, 0, 20), SPEC)[20..],
            &[131, 7, 4, 10, 0, 0, 20, 0]
        );
        // B12: sent from 10.0.0.1 to the first hop, out wan0
        let mut h = [
            72, 0, 0, 56, 52, 12, 0, 0, 64, 17, 90, 156, 10, 0, 0, 20, 10, 0, 0, 1, 131, 11, 12,
            198, 51, 100, 7, 192, 0, 2, 10, 1,
        ]
        .to_vec();
        let o = compile(&mut h, 0, || SPEC, |a| !ours(a)).unwrap();
        let r = echo(&h, &o, |a| !ours(a)).unwrap();
        assert_eq!(
            r.first_hop(Ipv4Addr::new(10, 0, 0, 20)),
            Ipv4Addr::new(192, 0, 2, 10)
        );
        assert_eq!(
            &reply(&r, Ipv4Addr::new(10, 0, 0, 20), SPEC)[20..],
            &[131, 11, 4, 198, 51, 100, 7, 10, 0, 0, 20, 0]
        );
    }

    #[test]
    fn kernel_fragment_header() {
        // A13: the second fragment's header: record route NOPed, security option kept.
        let mut h = [
            73, 0, 5, 220, 51, 13, 32, 0, 63, 17, 129, 113, 10, 0, 0, 20, 192, 0, 2, 10, 7, 11, 8,
            203, 0, 113, 1, 0, 0, 0, 0, 130, 4, 170, 187, 1,
        ]
        .to_vec();
        fragment(&mut h);
        assert_eq!(
            &h[20..],
            &[1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 130, 4, 170, 187, 1]
        );
    }
}
