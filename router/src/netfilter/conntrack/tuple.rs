//! Connection tuples (`struct nf_conntrack_tuple`) for IPv4: addresses, protocol, and the
//! protocol's "ports" (for ICMP queries: identifier, and type/code), how they are read off a
//! packet and how the reply direction's tuple is derived; and zones, which keep otherwise
//! equal tuples apart.

use crate::wire::{icmp, proto};
use std::fmt;
use std::net::Ipv4Addr;

/// A direction of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dir {
    /// The direction of the first packet.
    Original = 0,
    /// The other.
    Reply = 1,
}

impl Dir {
    /// The direction of index 0 (original) or 1 (reply).
    pub fn from_index(i: usize) -> Dir {
        if i == 0 {
            Dir::Original
        } else {
            Dir::Reply
        }
    }
}

/// Which directions of a connection a zone applies to (`NF_CT_ZONE_DIR_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ZoneDir {
    /// Both (`--zone`).
    #[default]
    Both,
    /// The original direction only (`--zone-orig`).
    Orig,
    /// The reply direction only (`--zone-reply`).
    Reply,
}

/// A conntrack zone (`struct nf_conntrack_zone`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Zone {
    /// The id (0 is the default zone).
    pub id: u16,
    /// The directions it applies to.
    pub dir: ZoneDir,
}

impl Zone {
    /// The default zone.
    pub const DEFAULT: Zone = Zone {
        id: 0,
        dir: ZoneDir::Both,
    };

    /// `nf_ct_zone_id`: the id in direction `d`: the default zone's where this zone does
    /// not apply. Tuples hash and compare with it.
    pub fn id_in(self, d: Dir) -> u16 {
        match (self.dir, d) {
            (ZoneDir::Both, _) | (ZoneDir::Orig, Dir::Original) | (ZoneDir::Reply, Dir::Reply) => {
                self.id
            }
            _ => 0,
        }
    }
}

/// One direction's identity of a connection. For TCP/UDP the ports; for ICMP queries the
/// identifier in `sport` and `type << 8 | code` in `dport`; zero for other protocols.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tuple {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// IP protocol.
    pub proto: u8,
    /// Source port / ICMP id.
    pub sport: u16,
    /// Destination port / ICMP type and code.
    pub dport: u16,
}

/// Protocols with their own tracker here; anything else is tracked by address only.
pub fn has_ports(p: u8) -> bool {
    p == proto::TCP || p == proto::UDP
}

/// The reply type of an ICMP query type (`invmap` in nf_conntrack_proto_icmp.c).
pub fn icmp_inverse(t: u8) -> Option<u8> {
    Some(match t {
        8 => 0,
        0 => 8,
        13 => 14,
        14 => 13,
        15 => 16,
        16 => 15,
        17 => 18,
        18 => 17,
        _ => return None,
    })
}

impl Tuple {
    /// Read the tuple of an IPv4 packet whose layer-4 part is `l4` (`nf_ct_get_tuple`).
    /// None when the layer-4 header is too short to carry its part of the tuple.
    pub fn from_packet(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, l4: &[u8]) -> Option<Tuple> {
        let (sport, dport) = match protocol {
            proto::TCP | proto::UDP => {
                // Only the first 8 bytes are needed (the ports).
                if l4.len() < 8 {
                    return None;
                }
                (
                    u16::from_be_bytes([l4[0], l4[1]]),
                    u16::from_be_bytes([l4[2], l4[3]]),
                )
            }
            proto::ICMP => {
                if l4.len() < icmp::HEADER_LEN {
                    return None;
                }
                (
                    u16::from_be_bytes([l4[4], l4[5]]),
                    u16::from_be_bytes([l4[0], l4[1]]),
                )
            }
            // GRE without a version-1 header (even none at all) is tracked like the
            // generic protocol, keys zero (`gre_pkt_to_tuple`).
            _ => (0, 0),
        };
        Some(Tuple {
            src,
            dst,
            proto: protocol,
            sport,
            dport,
        })
    }

    /// The tuple of the other direction (`nf_ct_invert_tuple`); None for ICMP types that have
    /// no reply type.
    pub fn invert(&self) -> Option<Tuple> {
        let (sport, dport) = match self.proto {
            proto::ICMP => {
                let t = icmp_inverse((self.dport >> 8) as u8)?;
                (self.sport, (u16::from(t) << 8) | (self.dport & 0xff))
            }
            p if has_ports(p) => (self.dport, self.sport),
            _ => (0, 0),
        };
        Some(Tuple {
            src: self.dst,
            dst: self.src,
            proto: self.proto,
            sport,
            dport,
        })
    }
}

impl fmt::Display for Tuple {
    /// As `conntrack -L` prints one direction.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "src={} dst={}", self.src, self.dst)?;
        match self.proto {
            proto::ICMP => write!(
                f,
                " type={} code={} id={}",
                self.dport >> 8,
                self.dport & 0xff,
                self.sport
            ),
            p if has_ports(p) => write!(f, " sport={} dport={}", self.sport, self.dport),
            47 => write!(f, " srckey=0x{:x} dstkey=0x{:x}", self.sport, self.dport),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extract_and_invert() {
        let a = Ipv4Addr::new(10, 0, 0, 2);
        let b = Ipv4Addr::new(192, 0, 2, 1);
        let udp = [0x9c, 0x40, 0, 53, 0, 8, 0, 0];
        let t = Tuple::from_packet(a, b, 17, &udp).unwrap();
        assert_eq!((t.sport, t.dport), (40000, 53));
        let r = t.invert().unwrap();
        assert_eq!((r.src, r.dst, r.sport, r.dport), (b, a, 53, 40000));
        assert_eq!(
            t.to_string(),
            "src=10.0.0.2 dst=192.0.2.1 sport=40000 dport=53"
        );
        let echo = [8, 0, 0, 0, 0x12, 0x34, 0, 1];
        let t = Tuple::from_packet(a, b, 1, &echo).unwrap();
        assert_eq!(
            t.to_string(),
            "src=10.0.0.2 dst=192.0.2.1 type=8 code=0 id=4660"
        );
        assert_eq!(
            t.invert().unwrap().to_string(),
            "src=192.0.2.1 dst=10.0.0.2 type=0 code=0 id=4660"
        );
        let unreach = [3, 3, 0, 0, 0, 0, 0, 0];
        assert!(Tuple::from_packet(a, b, 1, &unreach)
            .unwrap()
            .invert()
            .is_none());
        assert!(Tuple::from_packet(a, b, 6, &udp[..7]).is_none());
        let g = Tuple::from_packet(a, b, 253, &[]).unwrap();
        assert_eq!(g.invert().unwrap().src, b);
    }
}
