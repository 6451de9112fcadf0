//! The bodies of the cargo-fuzz targets (`fuzz/`), kept in the library so that the inputs
//! the fuzzer once crashed on (`fuzz/regressions/<target>/`) are replayed by `cargo test`
//! (`tests/fuzz_regressions.rs`) through exactly the same code. Each function must return
//! normally on any input: an error, a counted drop, never a panic or a hang.

use crate::config::Config;
use crate::netfilter::tables::{ast::TableName, eval::Tables, parse::parse_str};
use crate::packet::{IfIndex, Meta, PacketBuf};
use crate::pipeline::{Router, Sink, MAX_PACKET};
use std::net::Ipv4Addr;
use std::path::Path;

/// Packet parsing: every wire view, the options compiler and the describer.
pub fn packet_parse(data: &[u8]) {
    let _ = crate::wire::describe::describe(data);
    if let Ok(ip) = crate::wire::ipv4::Ipv4Packet::new_checked(data) {
        let _ = ip.payload();
        let mut h = data[..ip.header_len().min(data.len())].to_vec();
        if let Ok(mut o) = crate::wire::ipv4_options::compile(
            &mut h,
            0,
            || Ipv4Addr::new(192, 0, 2, 1),
            |a| !a.is_broadcast(),
        ) {
            let _ = crate::wire::ipv4_options::echo(&h, &o, |_| true);
            let _ = crate::wire::ipv4_options::forward_options(&mut h, &mut o, |a| a);
        }
    }
    let _ = crate::wire::tcp::TcpPacket::new_checked(data);
    let _ = crate::wire::udp::UdpPacket::new_checked(data);
    let _ = crate::wire::icmp::IcmpPacket::new_checked(data);
}

struct Null;
impl Sink for Null {
    fn transmit(&mut self, _oif: IfIndex, data: &[u8], _m: &Meta) {
        assert!(
            data.len() >= 20,
            "a packet shorter than an IP header went out"
        );
    }
}

const CONFIG: &str = r#"
[[interface]]
name = "lan0"
addresses = ["10.0.0.1/24"]
[[interface]]
name = "wan0"
addresses = ["203.0.113.1/24"]
mtu = 1400
[[interface]]
name = "dmz0"
addresses = ["198.51.100.1/24", "192.0.2.1 peer 192.0.2.2"]
mtu = 576
[[route]]
to = "0.0.0.0/0"
via = "203.0.113.254"
[sysctl]
"net.ipv4.ip_forward" = 1
"net.ipv4.conf.all.accept_source_route" = 1
"net.netfilter.nf_conntrack_max" = 64
"net.ipv4.ipfrag_time" = 1
"#;

/// The realistic rule set the pipeline target runs: NOTRACK, TCPMSS, marks, DNAT,
/// REDIRECT, MASQUERADE, SNAT to a two-port range, a stateful FORWARD policy, REJECTs.
pub const RULES: &str = "*raw\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -p udp --dport 9 -j NOTRACK\nCOMMIT\n\
*mangle\n:PREROUTING ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n-A FORWARD -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu\n-A PREROUTING -m conntrack --ctstate INVALID -j MARK --set-mark 1\nCOMMIT\n\
*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n\
-A PREROUTING -i wan0 -p tcp --dport 8080 -j DNAT --to-destination 10.0.0.10:80\n\
-A PREROUTING -i lan0 -p udp --dport 53 -j REDIRECT --to-ports 5353\n\
-A POSTROUTING -o wan0 -j MASQUERADE\n-A POSTROUTING -o dmz0 -p udp -j SNAT --to-source 198.51.100.1:6000-6001\nCOMMIT\n\
*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n\
-A INPUT -p tcp --dport 22 -j REJECT --reject-with tcp-reset\n\
-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n\
-A FORWARD -m conntrack --ctstate INVALID -j DROP\n\
-A FORWARD -i lan0 -j ACCEPT\n-A FORWARD -p tcp --dport 80 -j ACCEPT\n\
-A FORWARD -p icmp -j REJECT --reject-with icmp-host-prohibited\nCOMMIT\n";

/// The whole datapath: `data` is a sequence of records `[iface, dt_hi, dt_lo, len_hi,
/// len_lo, bytes…]` (interface lan0/wan0/dmz0 by `iface % 3`, `dt` ms after the previous
/// packet), all through one router.
pub fn pipeline(data: &[u8]) {
    let cfg = Config::parse(CONFIG, Path::new("fuzz.toml")).expect("the fuzz configuration");
    let mut r = Router::new(cfg);
    let rs = parse_str(RULES, "fuzz.v4").expect("the fuzz rules");
    r.set_tables(Tables::load(&rs, 1).expect("the fuzz rules load"));
    let mut buf = PacketBuf::with_capacity(MAX_PACKET);
    let mut now: u64 = 1_000_000_000;
    let mut rest = data;
    while rest.len() >= 5 {
        let iface = IfIndex(2 + u32::from(rest[0] % 3));
        now += u64::from(u16::from_be_bytes([rest[1], rest[2]])) * 1_000_000;
        let len = usize::from(u16::from_be_bytes([rest[3], rest[4]])).min(rest.len() - 5);
        let pkt = &rest[5..5 + len];
        rest = &rest[5 + len..];
        buf.load(pkt);
        r.receive(iface, &mut buf, now, &mut Null);
    }
    let _ = r.conntrack.listing(now);
    let _ = r.tables.save(true);
}

/// A pipeline input from packets: one record per packet, `dt_ms` apart.
pub fn pipeline_input(packets: &[(u8, &[u8])], dt_ms: u16) -> Vec<u8> {
    let mut v = Vec::new();
    for (iface, p) in packets {
        let n = p.len().min(usize::from(u16::MAX));
        v.push(*iface);
        v.extend_from_slice(&dt_ms.to_be_bytes());
        v.extend_from_slice(&(n as u16).to_be_bytes());
        v.extend_from_slice(&p[..n]);
    }
    v
}

/// The iptables-save parser and loader: an error with a position, or a ruleset that saves
/// and parses again.
pub fn rules_parser(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(rs) = parse_str(text, "fuzz") {
        let saved = rs.to_save_format(true);
        let _ = parse_str(&saved, "fuzz-saved");
        if let Ok(t) = Tables::load(&rs, 1) {
            let _ = t.save(true);
            let _ = t.listing(TableName::Filter);
        }
    }
}

/// The router.toml loader: an error naming the place, or a configuration a router builds
/// from.
pub fn config_loader(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(cfg) = Config::parse(text, Path::new("fuzz.toml")) {
        let _ = Router::new(cfg);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_targets_accept_their_seeds() {
        packet_parse(&[
            0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 2, 192, 0, 2, 1,
        ]);
        let udp = [
            0x45, 0, 0, 28, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 2, 192, 0, 2, 1, 0x9c, 0x40, 0, 53,
            0, 8, 0, 0,
        ];
        pipeline(&pipeline_input(&[(0, &udp), (1, &udp), (2, &[0x45])], 10));
        rules_parser(RULES.as_bytes());
        config_loader(CONFIG.as_bytes());
    }
}
