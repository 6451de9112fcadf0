//! Building the packets the router originates, into a caller-owned buffer, with the fields
//! the kernel chooses: `icmp_send` for errors, `icmp_reply` for echo and timestamp replies,
//! `tcp_v4_send_reset` for resets.

use crate::packet::{Origin, PacketBuf};
use crate::wire::icmp::{self, IcmpPacket};
use crate::wire::ipv4::{self, Ipv4Packet};
use crate::wire::tcp::{flags, TcpPacket};
use crate::wire::{checksum, proto};
use std::net::Ipv4Addr;

/// Largest ICMP error the kernel builds (RFC 1812 §4.3.2.3: 576 bytes).
pub const ICMP_ERROR_MAX: usize = 576;

/// IP header fields for an originated packet.
#[derive(Debug, Clone, Copy)]
pub struct IpFields {
    /// Source.
    pub src: Ipv4Addr,
    /// Destination.
    pub dst: Ipv4Addr,
    /// TOS byte.
    pub tos: u8,
    /// TTL.
    pub ttl: u8,
    /// Identification.
    pub ident: u16,
    /// Set DF.
    pub df: bool,
}

/// Build an ICMP error quoting `offending` (an IP packet as received). The quote is cut so
/// that the whole error fits `min(576, path_mtu)` bytes, as `icmp_send` does.
pub fn icmp_error(
    out: &mut PacketBuf,
    f: &IpFields,
    msg_type: u8,
    code: u8,
    rest: [u8; 4],
    offending: &[u8],
    path_mtu: usize,
) {
    let room = path_mtu.min(ICMP_ERROR_MAX) - ipv4::HEADER_LEN - icmp::HEADER_LEN;
    let quote = offending.len().min(room);
    let total = ipv4::HEADER_LEN + icmp::HEADER_LEN + quote;
    let b = out.reset_zeroed(total);
    let (iph, body) = b.split_at_mut(ipv4::HEADER_LEN);
    let mut m = IcmpPacket::new_unchecked(&mut body[..]);
    m.set_msg_type(msg_type);
    m.set_code(code);
    m.set_rest(rest);
    m.data_mut().copy_from_slice(&offending[..quote]);
    m.fill_checksum();
    write_ip_total(iph, total, f, proto::ICMP);
    out.meta.origin = Origin::Local;
}

/// Build an echo (or timestamp) reply: `request_icmp` is the request's ICMP message; the reply
/// copies it with type `reply_type` (the code is kept, as the kernel keeps it).
pub fn icmp_reply(out: &mut PacketBuf, f: &IpFields, reply_type: u8, request_icmp: &[u8]) {
    let total = ipv4::HEADER_LEN + request_icmp.len();
    let b = out.reset_zeroed(total);
    let (iph, body) = b.split_at_mut(ipv4::HEADER_LEN);
    body.copy_from_slice(request_icmp);
    let mut m = IcmpPacket::new_unchecked(&mut body[..]);
    m.set_msg_type(reply_type);
    m.fill_checksum();
    write_ip_total(iph, total, f, proto::ICMP);
    out.meta.origin = Origin::Local;
}

fn write_ip_total(iph: &mut [u8], total: usize, f: &IpFields, protocol: u8) {
    let mut ip = Ipv4Packet::new_unchecked(iph);
    ip.set_ver_ihl(5);
    ip.set_tos(f.tos);
    ip.set_total_len(total as u16);
    ip.set_ident(f.ident);
    ip.set_flags_frag(if f.df { ipv4::FLAG_DF } else { 0 });
    ip.set_ttl(f.ttl);
    ip.set_protocol(protocol);
    ip.set_src(f.src.octets());
    ip.set_dst(f.dst.octets());
    ip.fill_checksum();
}

/// Build the reset `tcp_v4_send_reset` answers `segment` (the offending TCP segment, header
/// and payload) with: if it had ACK, `seq = its ack` and RST alone; otherwise `seq = 0`,
/// `ack = seq + SYN + FIN + payload length` and RST|ACK. Window 0, no options.
pub fn tcp_reset(out: &mut PacketBuf, f: &IpFields, segment: &[u8]) {
    let t = TcpPacket::new_unchecked(segment);
    let total = ipv4::HEADER_LEN + 20;
    let b = out.reset_zeroed(total);
    let (iph, body) = b.split_at_mut(ipv4::HEADER_LEN);
    let mut r = TcpPacket::new_unchecked(&mut body[..]);
    r.set_src_port(t.dst_port());
    r.set_dst_port(t.src_port());
    r.set_header_len(20);
    if t.flags() & flags::ACK != 0 {
        r.set_seq(t.ack());
        r.set_flags(flags::RST);
    } else {
        let fl = t.flags();
        let n = u32::from(fl & flags::SYN != 0)
            + u32::from(fl & flags::FIN != 0)
            + (segment.len() - t.header_len()) as u32;
        r.set_seq(0);
        r.set_ack(t.seq().wrapping_add(n));
        r.set_flags(flags::RST | flags::ACK);
    }
    r.set_window(0);
    r.fill_checksum_v4(f.src.octets(), f.dst.octets());
    write_ip_total(iph, total, f, proto::TCP);
    out.meta.origin = Origin::Local;
}

/// `ip_options_build`: give a packet built with a plain 20-byte header the options of a
/// reply (`__ip_options_echo`): they go after the header, the reply's own entries are filled
/// in (`final_dest` at the end of a reversed source route, the reply's source in record
/// route and timestamp, `now_ms` as the time), and with a source route the packet is
/// addressed to its first hop. Layer-4 checksums are left as they were computed (for the
/// final destination, as the kernel computes them). False if the buffer has no room.
pub fn insert_options(
    out: &mut PacketBuf,
    ro: &crate::wire::ipv4_options::ReplyOptions,
    final_dest: Ipv4Addr,
    now_ms: u32,
) -> bool {
    let n = ro.len();
    if n == 0 {
        return true;
    }
    let len = out.len();
    if !out.extend(n) {
        return false;
    }
    let d = out.data_mut();
    d.copy_within(ipv4::HEADER_LEN..len, ipv4::HEADER_LEN + n);
    let src = Ipv4Addr::from([d[12], d[13], d[14], d[15]]);
    ro.write(&mut d[..ipv4::HEADER_LEN + n], final_dest, src, now_ms);
    let mut ip = Ipv4Packet::new_unchecked(d);
    ip.set_ver_ihl(5 + (n / 4) as u8);
    ip.set_total_len((len + n) as u16);
    ip.set_dst(ro.first_hop(final_dest).octets());
    ip.fill_checksum();
    true
}

/// Verify an originated packet's checksums (used by tests).
pub fn ip_checksum_ok(pkt: &[u8]) -> bool {
    checksum::sum(0, &pkt[..ipv4::HEADER_LEN]) == 0xffff
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> IpFields {
        IpFields {
            src: Ipv4Addr::new(10, 0, 0, 1),
            dst: Ipv4Addr::new(10, 0, 0, 2),
            tos: 0xc0,
            ttl: 64,
            ident: 7,
            df: false,
        }
    }

    #[test]
    fn error_quote_is_cut_at_576() {
        let offending = vec![0x45u8; 1000];
        let mut out = PacketBuf::with_capacity(2000);
        icmp_error(
            &mut out,
            &fields(),
            icmp::types::TIME_EXCEEDED,
            0,
            [0; 4],
            &offending,
            1500,
        );
        assert_eq!(out.len(), 576);
        assert!(ip_checksum_ok(out.data()));
        let ip = Ipv4Packet::new_checked(out.data()).unwrap();
        assert_eq!(ip.total_len(), 576);
        let m = IcmpPacket::new_checked(ip.payload()).unwrap();
        assert!(m.verify_checksum());
        assert_eq!(m.msg_type(), 11);
        icmp_error(
            &mut out,
            &fields(),
            3,
            4,
            [0, 0, 5, 0],
            &offending[..40],
            1500,
        );
        assert_eq!(out.len(), 68);
    }

    #[test]
    fn reset_numbers() {
        let mut syn = vec![0u8; 24];
        {
            let mut t = TcpPacket::new_unchecked(&mut syn[..]);
            t.set_src_port(40000);
            t.set_dst_port(22);
            t.set_seq(1000);
            t.set_header_len(24);
            t.set_flags(flags::SYN);
        }
        let mut out = PacketBuf::with_capacity(100);
        let f = IpFields {
            df: true,
            ident: 0,
            ..fields()
        };
        tcp_reset(&mut out, &f, &syn);
        let ip = Ipv4Packet::new_checked(out.data()).unwrap();
        assert!(ip.dont_frag());
        let t = TcpPacket::new_checked(ip.payload()).unwrap();
        assert_eq!(
            (t.src_port(), t.dst_port(), t.seq(), t.ack(), t.flags()),
            (22, 40000, 0, 1001, flags::RST | flags::ACK)
        );
        assert!(t.verify_checksum_v4(f.src.octets(), f.dst.octets()));
    }
}
