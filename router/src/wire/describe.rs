//! One-line, tcpdump-like descriptions of packets, for summaries, traces and diffs.

use super::icmp::IcmpPacket;
use super::ipv4::Ipv4Packet;
use super::proto;
use super::tcp::TcpPacket;
use super::udp::UdpPacket;
use std::fmt::Write as _;

/// Describe an IP packet in one line. Never panics, whatever the bytes.
pub fn describe(pkt: &[u8]) -> String {
    let mut s = String::new();
    let ip = match Ipv4Packet::new_checked(pkt) {
        Ok(ip) => ip,
        Err(e) => {
            let _ = write!(s, "malformed ({e}), {} bytes", pkt.len());
            return s;
        }
    };
    let end = (ip.total_len() as usize).clamp(ip.header_len(), pkt.len());
    let payload = &pkt[ip.header_len()..end];
    let _ = write!(s, "{} > {}: ", ip.src_addr(), ip.dst_addr());
    if ip.frag_offset() != 0 {
        let _ = write!(
            s,
            "fragment proto {} offset {}",
            ip.protocol(),
            ip.frag_offset()
        );
    } else {
        match ip.protocol() {
            proto::TCP => match TcpPacket::new_checked(payload) {
                Ok(t) => {
                    let f = t.flags();
                    let names = [
                        (0x02, 'S'),
                        (0x01, 'F'),
                        (0x04, 'R'),
                        (0x08, 'P'),
                        (0x10, '.'),
                        (0x20, 'U'),
                    ];
                    let fl: String = names
                        .iter()
                        .filter(|(b, _)| f & b != 0)
                        .map(|(_, c)| *c)
                        .collect();
                    let _ = write!(
                        s,
                        "TCP {} > {} [{}] seq {} ack {} win {} len {}",
                        t.src_port(),
                        t.dst_port(),
                        fl,
                        t.seq(),
                        t.ack(),
                        t.window(),
                        t.payload_len()
                    );
                }
                Err(e) => {
                    let _ = write!(s, "TCP malformed ({e})");
                }
            },
            proto::UDP => match UdpPacket::new_checked(payload) {
                Ok(u) => {
                    let _ = write!(s, "UDP {} > {} len {}", u.src_port(), u.dst_port(), u.len());
                }
                Err(e) => {
                    let _ = write!(s, "UDP malformed ({e})");
                }
            },
            proto::ICMP => match IcmpPacket::new_checked(payload) {
                Ok(m) => {
                    let name = match (m.msg_type(), m.code()) {
                        (0, _) => "echo reply",
                        (8, _) => "echo request",
                        (3, 0) => "net unreachable",
                        (3, 1) => "host unreachable",
                        (3, 2) => "protocol unreachable",
                        (3, 3) => "port unreachable",
                        (3, 4) => "frag needed",
                        (3, _) => "unreachable",
                        (5, _) => "redirect",
                        (11, _) => "time exceeded",
                        (12, _) => "parameter problem",
                        (13, _) => "timestamp request",
                        (14, _) => "timestamp reply",
                        _ => "type",
                    };
                    let _ = write!(s, "ICMP {name} (type {} code {})", m.msg_type(), m.code());
                    if matches!(m.msg_type(), 0 | 8 | 13 | 14) {
                        let _ = write!(s, " id {} seq {}", m.echo_ident(), m.echo_seq());
                    }
                    if matches!(m.msg_type(), 3 | 5 | 11 | 12) {
                        let _ = write!(s, " quoting [{}]", describe_quote(m.data()));
                    }
                }
                Err(e) => {
                    let _ = write!(s, "ICMP malformed ({e})");
                }
            },
            p => {
                let _ = write!(s, "proto {p}");
            }
        }
    }
    let _ = write!(
        s,
        ", ttl {}, id {}, tos 0x{:02x}{}, length {}",
        ip.ttl(),
        ip.ident(),
        ip.tos(),
        if ip.dont_frag() { ", DF" } else { "" },
        ip.total_len()
    );
    s
}

fn describe_quote(q: &[u8]) -> String {
    match Ipv4Packet::new_checked(q) {
        Ok(ip) => format!(
            "{} > {} proto {} ttl {} length {}",
            ip.src_addr(),
            ip.dst_addr(),
            ip.protocol(),
            ip.ttl(),
            ip.total_len()
        ),
        Err(_) => format!("{} bytes", q.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_panics_on_prefixes() {
        let mut p = vec![
            0x45, 0, 0, 28, 0, 1, 0x40, 0, 64, 1, 0, 0, 10, 0, 0, 2, 10, 0, 0, 1, 8, 0, 0, 0, 0, 1,
            0, 1,
        ];
        for n in 0..p.len() {
            let _ = describe(&p[..n]);
        }
        let d = describe(&p);
        assert!(d.contains("echo request (type 8 code 0) id 1 seq 1"), "{d}");
        p[2] = 0xff; // total length beyond the data
        let _ = describe(&p);
        p[0] = 0x4f;
        let _ = describe(&p);
    }
}
