//! The packet buffer: bytes with headroom, and the metadata the kernel keeps in an skb.
//!
//! A `PacketBuf` owns a fixed allocation made once (by the runtime's buffer pool or by replay)
//! and reused for every packet that passes through it: the datapath rewrites in place and never
//! allocates. Headroom in front of the data lets a later stage prepend headers without moving
//! the payload. Metadata travels beside the bytes, as in the kernel's `sk_buff`: interfaces,
//! firewall mark, the conntrack reference, and virtio-net offload data so that one day a 64 KiB
//! GSO frame can cross the pipeline whole.

pub use crate::netfilter::conntrack::tuple::{Zone, ZoneDir};
use std::net::Ipv4Addr;

/// Interface index, as in the kernel (`lo` is 1, configured interfaces follow in order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IfIndex(pub u32);

impl IfIndex {
    /// The loopback interface.
    pub const LOOPBACK: IfIndex = IfIndex(1);
}

/// Where a packet came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Origin {
    /// Received on an interface.
    #[default]
    Received,
    /// Originated by the router itself (ICMP errors, echo replies, resets).
    Local,
}

/// Offload information as carried by a virtio-net header (`struct virtio_net_hdr`): how to
/// segment a GSO frame and where a partial checksum lives. All zero means "a plain packet".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Offload {
    /// `VIRTIO_NET_HDR_F_*` flags (e.g. NEEDS_CSUM).
    pub flags: u8,
    /// `VIRTIO_NET_HDR_GSO_*` type (NONE, TCPV4, UDP, TCPV6, …).
    pub gso_type: u8,
    /// Length of the headers to replicate in each segment.
    pub hdr_len: u16,
    /// Maximum payload per segment.
    pub gso_size: u16,
    /// Offset at which checksumming starts.
    pub csum_start: u16,
    /// Offset of the checksum field from `csum_start`.
    pub csum_offset: u16,
}

/// What the input route decided (the kernel's `rt_type` / `RTCF_*` flags on the skb's dst).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RouteClass {
    /// Not routed yet.
    #[default]
    None,
    /// To one of the router's own addresses (`RTCF_LOCAL`).
    Local,
    /// To a broadcast address (`RTCF_BROADCAST`), delivered locally.
    Broadcast,
    /// To be forwarded.
    Forward,
    /// Originated by the router, routed by an output lookup.
    Output,
    /// The copy of a broadcast the router sends that loops back to its own stack.
    BroadcastLoop,
}

/// How a packet relates to its connection (`enum ip_conntrack_info`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CtInfo {
    /// Part of an established connection, original direction.
    Established,
    /// Related to a connection (an ICMP error about it), original direction.
    Related,
    /// Starts a new connection.
    New,
    /// Part of an established connection, reply direction.
    EstablishedReply,
    /// Related, reply direction.
    RelatedReply,
    /// Exempted from tracking (NOTRACK / CT --notrack).
    Untracked,
}

impl CtInfo {
    /// Is this the reply direction?
    pub fn is_reply(self) -> bool {
        matches!(self, CtInfo::EstablishedReply | CtInfo::RelatedReply)
    }
}

/// A packet's reference to a conntrack entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CtRef {
    /// Slot of the entry in the conntrack table (unused for `Untracked`).
    pub id: u32,
    /// The relation.
    pub info: CtInfo,
}

/// A `CT` target's template: the zone, whose id may come from the packet's mark when
/// conntrack looks it up (`--zone mark`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CtTemplate {
    /// The zone (id ignored with `from_mark`).
    pub zone: Zone,
    /// Take the id from the mark (`NF_CT_FLAG_MARK`).
    pub from_mark: bool,
}

/// Per-packet metadata (the parts of an skb the hooks read and write).
#[derive(Debug, Clone, Copy, Default)]
pub struct Meta {
    /// Ingress interface (None for locally originated packets).
    pub iif: Option<IfIndex>,
    /// Egress interface, once routed.
    pub oif: Option<IfIndex>,
    /// Next hop chosen by routing (the gateway, or the destination when on-link).
    pub nexthop: Option<Ipv4Addr>,
    /// Firewall mark (`skb->mark`).
    pub mark: u32,
    /// The connection this packet belongs to and how (`skb->_nfct`), once conntrack has
    /// seen it; None when conntrack has not classified it (or found it INVALID).
    pub ct: Option<CtRef>,
    /// The template a `CT` rule attached before conntrack saw the packet (`nf_ct_tmpl`):
    /// conntrack looks the packet up in its zone.
    pub ct_tmpl: Option<CtTemplate>,
    /// A reply the router made for an untracked packet: the kernel attaches "related, no
    /// connection" (`_nfct` set with no entry), so NOTRACK/CT leave it alone and conntrack
    /// then tracks it afresh.
    pub ct_attached_none: bool,
    /// Segmentation/checksum offload data.
    pub offload: Offload,
    /// Received or locally originated.
    pub origin: Origin,
    /// Reassembled from fragments: the largest fragment's size (`IPCB(skb)->frag_max_size`),
    /// which forwarding will not exceed when it fragments again; 0 for a packet that was
    /// never fragmented. A reassembled packet may exceed the MTU with DF set
    /// (`skb->ignore_df`): it goes out in fragments no larger than its sender's.
    pub frag_max_size: u16,
    /// Every fragment had DF (`IPSKB_FRAG_PMTU`): fragments cut anew carry DF too.
    pub frag_pmtu: bool,
    /// The router's own broadcast, looped back to it (`dev_loopback_xmit`: `pkt_type`
    /// `PACKET_LOOPBACK`). Every other packet is `PACKET_HOST`: a TUN device never marks
    /// what it receives as broadcast or multicast.
    pub looped: bool,
    /// The IP options as `ip_options_compile` found them on receive (`IPCB(skb)->opt`);
    /// `optlen` 0 when the header has none or they were never compiled.
    pub ip_opts: crate::wire::ipv4_options::Options,
    /// Which reassembly produced this packet ([`crate::defrag::Defrag::geometry`] holds its
    /// fragments' sizes while it is the latest); 0 for none. Like the kernel's `frag_list`,
    /// it lets forwarding send the original fragments again.
    pub frag_geom: u32,
    /// The routing decision.
    pub route: RouteClass,
}

impl Meta {
    /// The zone conntrack and its reassembly look the packet up in (`nf_ct_zone_tmpl`):
    /// its template's, with the id from the mark for `--zone mark`; else the default.
    pub fn ct_zone(&self) -> Zone {
        match self.ct_tmpl {
            Some(t) if t.from_mark => Zone {
                id: self.mark as u16,
                dir: t.zone.dir,
            },
            Some(t) => t.zone,
            None => Zone::DEFAULT,
        }
    }
}

/// Bytes reserved in front of the packet data.
pub const HEADROOM: usize = 64;

/// A packet: data within a fixed, reusable allocation, plus metadata.
#[derive(Debug, Clone)]
pub struct PacketBuf {
    buf: Box<[u8]>,
    start: usize,
    len: usize,
    /// Metadata.
    pub meta: Meta,
}

impl PacketBuf {
    /// A buffer able to hold `capacity` bytes of packet after the headroom.
    pub fn with_capacity(capacity: usize) -> Self {
        PacketBuf {
            buf: vec![0u8; HEADROOM + capacity].into_boxed_slice(),
            start: HEADROOM,
            len: 0,
            meta: Meta::default(),
        }
    }

    /// Largest packet this buffer can hold.
    pub fn capacity(&self) -> usize {
        self.buf.len() - HEADROOM
    }

    /// Reset and copy `data` in (truncated to capacity; returns false if it did not fit).
    pub fn load(&mut self, data: &[u8]) -> bool {
        self.start = HEADROOM;
        self.meta = Meta::default();
        let n = data.len().min(self.capacity());
        self.buf[HEADROOM..HEADROOM + n].copy_from_slice(&data[..n]);
        self.len = n;
        n == data.len()
    }

    /// Reset to an empty packet of `len` zeroed bytes, for building a packet in place.
    pub fn reset_zeroed(&mut self, len: usize) -> &mut [u8] {
        self.start = HEADROOM;
        self.meta = Meta::default();
        self.len = len.min(self.capacity());
        let r = &mut self.buf[HEADROOM..HEADROOM + self.len];
        r.fill(0);
        r
    }

    /// The packet bytes.
    pub fn data(&self) -> &[u8] {
        &self.buf[self.start..self.start + self.len]
    }

    /// The packet bytes, mutable.
    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.start..self.start + self.len]
    }

    /// Packet length.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Is the packet empty?
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Shorten the packet to `len` bytes (no-op if already shorter), as `pskb_trim`.
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Room available after the data.
    pub fn tailroom(&self) -> usize {
        self.buf.len() - self.start - self.len
    }

    /// Grow the packet at the tail by `n` zeroed bytes; false if there is no room.
    pub fn extend(&mut self, n: usize) -> bool {
        if n > self.tailroom() {
            return false;
        }
        let end = self.start + self.len;
        self.buf[end..end + n].fill(0);
        self.len += n;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_truncate_extend() {
        let mut p = PacketBuf::with_capacity(16);
        assert!(p.load(&[1, 2, 3, 4]));
        assert_eq!(p.data(), &[1, 2, 3, 4]);
        p.truncate(2);
        assert_eq!(p.data(), &[1, 2]);
        assert!(p.extend(2));
        assert_eq!(p.data(), &[1, 2, 0, 0]);
        assert!(!p.extend(100));
        assert!(!p.load(&[0u8; 17]));
        assert_eq!(p.len(), 16);
    }
}
