//! `-j LOG`: the line the kernel writes for an IPv4 packet (`nf_log_ip_packet` and
//! `dump_ipv4_packet` in nf_log_syslog.c), field for field: the prefix, `IN=`/`OUT=`, the
//! `MAC=` a packet with an input device gets (empty for a TUN device, which has no
//! link-layer header), the IP header, the transport header (with `--log-tcp-sequence`,
//! `--log-tcp-options` and `--log-ip-options`), the packet an ICMP error quotes in
//! brackets, `INCOMPLETE [n bytes]` and `TRUNCATED` where the packet ends early, and
//! `MARK=`. Like the kernel's, every field ends with a space.
//!
//! Written by hand: the format is the kernel's own.

use super::ast::logflag;
use std::fmt::Write as _;

/// What a LOG rule needs to know about where the packet is.
pub struct Where<'a> {
    /// The rule's `--log-prefix`.
    pub prefix: &'a str,
    /// `--log-tcp-sequence` and the other flags ([`logflag`] bits).
    pub flags: u8,
    /// Input interface name, if the hook has one.
    pub in_dev: Option<&'a str>,
    /// Output interface name, if the hook has one.
    pub out_dev: Option<&'a str>,
    /// The input interface is the loopback device (its Ethernet-style header is shown).
    pub in_loopback: bool,
    /// The packet mark.
    pub mark: u32,
}

/// The whole line for packet `data` (IP header first).
pub fn line(w: &Where<'_>, data: &[u8]) -> String {
    let mut m = String::with_capacity(160);
    let _ = write!(
        m,
        "{}IN={} OUT={} ",
        w.prefix,
        w.in_dev.unwrap_or(""),
        w.out_dev.unwrap_or("")
    );
    if w.in_dev.is_some() {
        m.push_str("MAC=");
        if w.in_loopback {
            // loopback_xmit's all-zero Ethernet header, protocol IPv4.
            m.push_str("00:00:00:00:00:00:00:00:00:00:00:00:08:00");
        }
        m.push(' ');
    }
    ipv4(&mut m, w, data, 0);
    m
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// `dump_ipv4_packet` for the header at `off` (0, or inside an ICMP error).
fn ipv4(m: &mut String, w: &Where<'_>, data: &[u8], off: usize) {
    let Some(ih) = data.get(off..off + 20) else {
        m.push_str("TRUNCATED");
        return;
    };
    let _ = write!(
        m,
        "SRC={}.{}.{}.{} DST={}.{}.{}.{} ",
        ih[12], ih[13], ih[14], ih[15], ih[16], ih[17], ih[18], ih[19]
    );
    let (tos, ttl) = (ih[1], ih[8]);
    let _ = write!(
        m,
        "LEN={} TOS=0x{:02X} PREC=0x{:02X} TTL={ttl} ID={} ",
        be16(ih, 2),
        tos & 0x1e,
        tos & 0xe0,
        be16(ih, 4)
    );
    let frag = be16(ih, 6);
    for (bit, name) in [(0x8000, "CE "), (0x4000, "DF "), (0x2000, "MF ")] {
        if frag & bit != 0 {
            m.push_str(name);
        }
    }
    let offset = frag & 0x1fff;
    if offset != 0 {
        let _ = write!(m, "FRAG:{offset} ");
    }
    let ihl = usize::from(ih[0] & 0x0f) * 4;
    if w.flags & logflag::IPOPT != 0 && ihl > 20 {
        let Some(op) = data.get(off + 20..off + ihl) else {
            m.push_str("TRUNCATED");
            return;
        };
        hex_opts(m, op);
    }
    let l4 = off + ihl;
    let rest = data.len().saturating_sub(l4);
    let incomplete = |m: &mut String| {
        let _ = write!(m, "INCOMPLETE [{rest} bytes] ");
    };
    match ih[9] {
        6 => {
            m.push_str("PROTO=TCP ");
            if offset == 0 {
                let Some(th) = data.get(l4..l4 + 20) else {
                    return incomplete(m);
                };
                let _ = write!(m, "SPT={} DPT={} ", be16(th, 0), be16(th, 2));
                if w.flags & logflag::TCPSEQ != 0 {
                    let _ = write!(m, "SEQ={} ACK={} ", be32(th, 4), be32(th, 8));
                }
                let _ = write!(m, "WINDOW={} ", be16(th, 14));
                let _ = write!(m, "RES=0x{:02x} ", (th[12] & 0x0f) << 2);
                for (bit, name) in [
                    (0x80, "CWR "),
                    (0x40, "ECE "),
                    (0x20, "URG "),
                    (0x10, "ACK "),
                    (0x08, "PSH "),
                    (0x04, "RST "),
                    (0x02, "SYN "),
                    (0x01, "FIN "),
                ] {
                    if th[13] & bit != 0 {
                        m.push_str(name);
                    }
                }
                let _ = write!(m, "URGP={} ", be16(th, 18));
                let doff = usize::from(th[12] >> 4) * 4;
                if w.flags & logflag::TCPOPT != 0 && doff > 20 {
                    let Some(op) = data.get(l4 + 20..l4 + doff) else {
                        m.push_str("TRUNCATED");
                        return;
                    };
                    hex_opts(m, op);
                }
            }
        }
        p @ (17 | 136) => {
            m.push_str(if p == 17 {
                "PROTO=UDP "
            } else {
                "PROTO=UDPLITE "
            });
            if offset == 0 {
                let Some(uh) = data.get(l4..l4 + 8) else {
                    return incomplete(m);
                };
                let _ = write!(
                    m,
                    "SPT={} DPT={} LEN={} ",
                    be16(uh, 0),
                    be16(uh, 2),
                    be16(uh, 4)
                );
            }
        }
        1 => {
            m.push_str("PROTO=ICMP ");
            if offset == 0 {
                icmp(m, w, data, off, l4, rest);
            }
        }
        51 => {
            m.push_str("PROTO=AH ");
            if offset == 0 {
                match data.get(l4..l4 + 12) {
                    Some(ah) => {
                        let _ = write!(m, "SPI=0x{:x} ", be32(ah, 4));
                    }
                    None => incomplete(m),
                }
            }
        }
        50 => {
            m.push_str("PROTO=ESP ");
            if offset == 0 {
                match data.get(l4..l4 + 8) {
                    Some(eh) => {
                        let _ = write!(m, "SPI=0x{:x} ", be32(eh, 0));
                    }
                    None => incomplete(m),
                }
            }
        }
        p => {
            let _ = write!(m, "PROTO={p} ");
        }
    }
    if off == 0 && w.mark != 0 {
        let _ = write!(m, "MARK=0x{:x} ", w.mark);
    }
}

/// The ICMP part, after `PROTO=ICMP `.
fn icmp(m: &mut String, w: &Where<'_>, data: &[u8], off: usize, l4: usize, rest: usize) {
    let Some(ich) = data.get(l4..l4 + 8) else {
        let _ = write!(m, "INCOMPLETE [{rest} bytes] ");
        return;
    };
    let (ty, code) = (ich[0], ich[1]);
    let _ = write!(m, "TYPE={ty} CODE={code} ");
    // required_len: what each type needs beyond the 8-byte header to be dumped.
    let need = match ty {
        0 | 8 => 4,
        3 | 4 | 5 | 11 | 12 => 8 + 20,
        13 | 14 => 20,
        17 | 18 => 12,
        _ => 0,
    };
    if need != 0 && rest < need {
        let _ = write!(m, "INCOMPLETE [{rest} bytes] ");
        return;
    }
    match ty {
        0 | 8 => {
            let _ = write!(m, "ID={} SEQ={} ", be16(ich, 4), be16(ich, 6));
        }
        12 => {
            let _ = write!(m, "PARAMETER={} ", ich[4]);
        }
        3 | 4 | 5 | 11 => {
            if ty == 5 {
                let _ = write!(m, "GATEWAY={}.{}.{}.{} ", ich[4], ich[5], ich[6], ich[7]);
            }
            // Only the outer packet's error is opened.
            if off == 0 {
                m.push('[');
                ipv4(m, w, data, l4 + 8);
                m.push_str("] ");
            }
            if ty == 3 && code == 4 {
                let _ = write!(m, "MTU={} ", be16(ich, 6));
            }
        }
        _ => {}
    }
}

fn hex_opts(m: &mut String, op: &[u8]) {
    m.push_str("OPT (");
    for b in op {
        let _ = write!(m, "{b:02X}");
    }
    m.push_str(") ");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w<'a>(flags: u8, in_dev: Option<&'a str>, mark: u32) -> Where<'a> {
        Where {
            prefix: "p: ",
            flags,
            in_dev,
            out_dev: Some("wan0"),
            in_loopback: false,
            mark,
        }
    }

    /// The UDP datagram of the kernel's own line in the rules-targets recording.
    fn udp() -> Vec<u8> {
        let mut v = vec![
            0x45, 0, 0, 44, 0x43, 0x0a, 0, 0, 63, 17, 0, 0, 10, 0, 0, 110, 192, 0, 2, 10,
        ];
        v.extend_from_slice(&[0x9d, 0x76, 0x17, 0xd4, 0, 24, 0, 0]);
        v.extend_from_slice(&[0; 16]);
        v
    }

    #[test]
    fn a_forwarded_datagram_as_the_kernel_logged_it() {
        assert_eq!(
            line(&w(0, Some("lan0"), 0), &udp()),
            "p: IN=lan0 OUT=wan0 MAC= SRC=10.0.0.110 DST=192.0.2.10 LEN=44 TOS=0x00 \
             PREC=0x00 TTL=63 ID=17162 PROTO=UDP SPT=40310 DPT=6100 LEN=24 "
        );
    }

    #[test]
    fn tcp_flags_options_and_mark() {
        let mut v = vec![
            0x46, 0x08, 0, 48, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, 1, 1, 1, 0,
        ];
        v.extend_from_slice(&[
            0, 80, 0, 81, 0, 0, 0, 9, 0, 0, 0, 7, 0x61, 0xc2, 1, 0, 0, 0, 0, 0,
        ]);
        v.extend_from_slice(&[2, 4, 5, 0xb4]);
        let flags = logflag::TCPSEQ | logflag::TCPOPT | logflag::IPOPT;
        assert_eq!(
            line(&w(flags, None, 0x10), &v),
            "p: IN= OUT=wan0 SRC=10.0.0.1 DST=10.0.0.2 LEN=48 TOS=0x08 PREC=0x00 TTL=64 ID=1 \
             DF OPT (01010100) PROTO=TCP SPT=80 DPT=81 SEQ=9 ACK=7 WINDOW=256 RES=0x04 CWR \
             ECE SYN URGP=0 OPT (020405B4) MARK=0x10 "
        );
    }

    #[test]
    fn icmp_errors_show_the_quoted_packet_once() {
        let quoted = udp();
        let mut v = vec![
            0x45, 0xc0, 0, 56, 0, 2, 0, 0, 64, 1, 0, 0, 203, 0, 113, 1, 10, 0, 0, 110,
        ];
        v.extend_from_slice(&[3, 4, 0, 0, 0, 0, 0x05, 0xdc]);
        v.extend_from_slice(&quoted[..28]);
        assert_eq!(
            line(&w(0, None, 0), &v),
            "p: IN= OUT=wan0 SRC=203.0.113.1 DST=10.0.0.110 LEN=56 TOS=0x00 PREC=0xC0 TTL=64 \
             ID=2 PROTO=ICMP TYPE=3 CODE=4 [SRC=10.0.0.110 DST=192.0.2.10 LEN=44 TOS=0x00 \
             PREC=0x00 TTL=63 ID=17162 PROTO=UDP SPT=40310 DPT=6100 LEN=24 ] MTU=1500 "
        );
        // Cut short: the error needs 28 bytes after its header.
        assert!(line(&w(0, None, 0), &v[..40]).ends_with("TYPE=3 CODE=4 INCOMPLETE [20 bytes] "));
    }

    #[test]
    fn short_and_fragmented_packets() {
        let mut v = udp();
        v.truncate(24);
        assert!(line(&w(0, None, 0), &v).ends_with("PROTO=UDP INCOMPLETE [4 bytes] "));
        let mut f = udp();
        f[6] = 0x20;
        f[7] = 3;
        assert!(line(&w(0, None, 1), &f).ends_with("MF FRAG:3 PROTO=UDP MARK=0x1 "));
        assert_eq!(line(&w(0, None, 0), &f[..10]), "p: IN= OUT=wan0 TRUNCATED");
    }
}
