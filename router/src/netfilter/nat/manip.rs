//! Rewriting a packet for NAT (`nf_nat_proto.c`): one side's address in the IP header and
//! its port (or ICMP query identifier) in the layer-4 header, every checksum updated
//! incrementally; and the translation of ICMP errors, whose quoted packet is rewritten the
//! other way round.
//!
//! Written by hand: it is a few dozen lines of checksum arithmetic over our own wire views.

use super::Manip;
use crate::netfilter::conntrack::Tuple;
use crate::wire::{checksum, icmp, proto};

fn get16(d: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([d[at], d[at + 1]])
}

fn put16(d: &mut [u8], at: usize, v: u16) {
    d[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

/// The ICMP types that carry a query identifier (`icmp_manip_pkt` leaves the others alone:
/// on an error message those bytes are the "unused" field or the next-hop MTU).
fn icmp_has_id(ty: u8) -> bool {
    matches!(ty, 0 | 8 | 13 | 14 | 15 | 16 | 17 | 18)
}

/// `nf_nat_ipv4_manip_pkt`: make the IPv4 packet at `ip_off` in `data` carry `target`'s
/// source (for [`Manip::Src`]) or destination. False when the headers are too short to
/// rewrite (the kernel drops the packet).
pub fn manip_pkt(data: &mut [u8], ip_off: usize, target: &Tuple, manip: Manip) -> bool {
    if data.len() < ip_off + 20 {
        return false;
    }
    let hdr_off = ip_off + usize::from(data[ip_off] & 0x0f) * 4;
    let (addr_at, new_addr) = match manip {
        Manip::Src => (ip_off + 12, target.src.octets()),
        Manip::Dst => (ip_off + 16, target.dst.octets()),
    };
    let old_addr: [u8; 4] = data[addr_at..addr_at + 4].try_into().expect("4 bytes");
    let new_port = match manip {
        Manip::Src => target.sport,
        Manip::Dst => target.dport,
    };
    let port_at = hdr_off + if manip == Manip::Src { 0 } else { 2 };
    match target.proto {
        proto::TCP => {
            // Conntrack guarantees 8 bytes; the checksum is only there (and only updated)
            // when the whole header is, which it may not be inside an ICMP error.
            if data.len() < hdr_off + 8 {
                return false;
            }
            let old_port = get16(data, port_at);
            put16(data, port_at, new_port);
            if data.len() >= hdr_off + 20 {
                let c = checksum::update32(get16(data, hdr_off + 16), old_addr, new_addr);
                let c = checksum::update16(c, old_port, new_port);
                put16(data, hdr_off + 16, c);
            }
        }
        proto::UDP => {
            if data.len() < hdr_off + 8 {
                return false;
            }
            let old_port = get16(data, port_at);
            let check = get16(data, hdr_off + 6);
            // A zero UDP checksum means "none" and stays so; a computed zero is sent as
            // all ones (CSUM_MANGLED_0).
            if check != 0 {
                let c = checksum::update32(check, old_addr, new_addr);
                let c = checksum::update16(c, old_port, new_port);
                put16(data, hdr_off + 6, if c == 0 { 0xffff } else { c });
            }
            put16(data, port_at, new_port);
        }
        proto::ICMP => {
            if data.len() < hdr_off + icmp::HEADER_LEN {
                return false;
            }
            if icmp_has_id(data[hdr_off]) {
                let old = get16(data, hdr_off + 4);
                let c = checksum::update16(get16(data, hdr_off + 2), old, target.sport);
                put16(data, hdr_off + 2, c);
                put16(data, hdr_off + 4, target.sport);
            }
        }
        47 => {
            // GRE: version 0 has no keys to translate; other versions (PPTP's call ids)
            // are not tracked here, and the kernel drops versions it does not know.
            if data.len() < hdr_off + 8 {
                return false;
            }
            if manip == Manip::Dst && data[hdr_off + 1] & 0x07 > 1 {
                return false;
            }
        }
        _ => {}
    }
    let c = checksum::update32(get16(data, ip_off + 10), old_addr, new_addr);
    put16(data, ip_off + 10, c);
    data[addr_at..addr_at + 4].copy_from_slice(&new_addr);
    true
}

/// The packet half of `nf_nat_icmp_reply_translation`: the quoted packet (after the ICMP
/// header) gets `inner` for the opposite manipulation, the ICMP checksum is recomputed,
/// and the outer header gets `outer`. False when the message is too short.
pub fn translate_icmp_error(data: &mut [u8], inner: &Tuple, outer: &Tuple, manip: Manip) -> bool {
    let hlen = usize::from(data[0] & 0x0f) * 4;
    if !manip_pkt(data, hlen + icmp::HEADER_LEN, inner, manip.other()) {
        return false;
    }
    put16(data, hlen + 2, 0);
    let c = checksum::checksum(&data[hlen..]);
    put16(data, hlen + 2, c);
    manip_pkt(data, 0, outer, manip)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ipv4::Ipv4Packet;
    use std::net::Ipv4Addr;

    fn ipv4(proto: u8, src: [u8; 4], dst: [u8; 4], l4: &[u8]) -> Vec<u8> {
        let mut p = vec![0x45, 0, 0, 0, 0, 1, 0, 0, 64, proto, 0, 0];
        p.extend_from_slice(&src);
        p.extend_from_slice(&dst);
        p.extend_from_slice(l4);
        let n = p.len() as u16;
        p[2..4].copy_from_slice(&n.to_be_bytes());
        let c = checksum::checksum(&p[..20]);
        p[10..12].copy_from_slice(&c.to_be_bytes());
        p
    }

    fn l4_sum_ok(p: &[u8]) -> bool {
        let ip = Ipv4Packet::new_unchecked(p);
        let ps = checksum::pseudo_header_v4(
            ip.src_addr().octets(),
            ip.dst_addr().octets(),
            ip.protocol(),
            (p.len() - 20) as u16,
        );
        checksum::finish(checksum::sum(ps, &p[20..])) == 0
    }

    fn with_l4_sum(mut p: Vec<u8>, at: usize) -> Vec<u8> {
        let ip = Ipv4Packet::new_unchecked(&p[..]);
        let ps = checksum::pseudo_header_v4(
            ip.src_addr().octets(),
            ip.dst_addr().octets(),
            ip.protocol(),
            (p.len() - 20) as u16,
        );
        let c = checksum::finish(checksum::sum(ps, &p[20..]));
        p[20 + at..22 + at].copy_from_slice(&c.to_be_bytes());
        p
    }

    fn t(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16, proto: u8) -> Tuple {
        Tuple {
            src: Ipv4Addr::from(src),
            dst: Ipv4Addr::from(dst),
            proto,
            sport,
            dport,
        }
    }

    #[test]
    fn tcp_and_udp_rewrites_keep_checksums_valid() {
        let mut tcp = vec![0u8; 24];
        tcp[0..2].copy_from_slice(&40000u16.to_be_bytes());
        tcp[2..4].copy_from_slice(&80u16.to_be_bytes());
        tcp[12] = 0x50;
        tcp[13] = 0x02;
        let mut p = with_l4_sum(ipv4(6, [10, 0, 0, 2], [192, 0, 2, 1], &tcp), 16);
        let target = t([203, 0, 113, 1], 1024, [192, 0, 2, 1], 80, 6);
        assert!(manip_pkt(&mut p, 0, &target, Manip::Src));
        assert_eq!(&p[12..16], &[203, 0, 113, 1]);
        assert_eq!(get16(&p, 20), 1024);
        assert_eq!(checksum::checksum(&p[..20]), 0);
        assert!(l4_sum_ok(&p));

        let udp = [0x9c, 0x40, 0, 53, 0, 12, 0, 0, 1, 2, 3, 4];
        let mut p = with_l4_sum(ipv4(17, [10, 0, 0, 2], [192, 0, 2, 1], &udp), 6);
        let target = t([10, 0, 0, 2], 40000, [198, 51, 100, 5], 5353, 17);
        assert!(manip_pkt(&mut p, 0, &target, Manip::Dst));
        assert_eq!(&p[16..20], &[198, 51, 100, 5]);
        assert_eq!(get16(&p, 22), 5353);
        assert!(l4_sum_ok(&p));

        // No UDP checksum: none after either.
        let mut p = ipv4(17, [10, 0, 0, 2], [192, 0, 2, 1], &udp);
        assert!(manip_pkt(&mut p, 0, &target, Manip::Dst));
        assert_eq!(get16(&p, 26), 0);
        // Too short for the ports: refused.
        let mut p = ipv4(17, [10, 0, 0, 2], [192, 0, 2, 1], &udp[..6]);
        assert!(!manip_pkt(&mut p, 0, &target, Manip::Dst));
    }

    #[test]
    fn icmp_ids_only_on_queries() {
        let mut echo = vec![8, 0, 0, 0, 0x12, 0x34, 0, 1, 9, 9];
        let c = checksum::checksum(&echo);
        echo[2..4].copy_from_slice(&c.to_be_bytes());
        let mut p = ipv4(1, [10, 0, 0, 2], [192, 0, 2, 1], &echo);
        let target = t([203, 0, 113, 1], 7, [192, 0, 2, 1], 0x0800, 1);
        assert!(manip_pkt(&mut p, 0, &target, Manip::Src));
        assert_eq!(get16(&p, 24), 7);
        assert_eq!(checksum::checksum(&p[20..]), 0);

        let unreach = vec![3, 4, 0, 0, 0, 0, 5, 0xdc];
        let mut p = ipv4(1, [10, 0, 0, 2], [192, 0, 2, 1], &unreach);
        assert!(manip_pkt(&mut p, 0, &target, Manip::Src));
        assert_eq!(&p[24..28], &[0, 0, 5, 0xdc], "the MTU field is not an id");
    }
}
