//! Network address translation with the kernel's semantics (`nf_nat_core.c`,
//! `nf_nat_proto.c`, `xt_nat.c`, `nf_nat_masquerade.c`, `nf_nat_redirect.c`, `xt_NETMAP.c`).
//!
//! NAT lives in connection tracking: a flow's first packet decides its translation once,
//! and every later packet of the flow, in both directions, is rewritten from the entry's
//! tuples. As in the kernel, four callbacks register at the hooks once a `nat` table has a
//! chain — destination NAT at PREROUTING and OUTPUT (priority -100), source NAT at
//! POSTROUTING and INPUT (100). For a packet whose connection has no translation yet for
//! that side they run the nat table's chain for the hook (the chains are lookups inside
//! NAT, not hooks of their own, so only a flow's first packet ever traverses them); when the
//! chain sets nothing up, a "null binding" is made, which still moves a source port that
//! would clash with another connection's reply. ICMP errors about a translated flow are
//! translated outer and inner headers both.
//!
//! Written by hand: no crate implements netfilter's NAT.

pub mod manip;
mod select;

use crate::netfilter::conntrack::{status, Conntrack, Dir};
use crate::netfilter::hooks::{
    priority, Family, Hook, HookCtx, HookFn, HookState, Registry, Verdict,
};
use crate::netfilter::tables::ast::{NatRange, Target};
use crate::packet::{CtInfo, PacketBuf};
use crate::route::Scope;
use crate::wire::ipv4::Ipv4Packet;
use crate::wire::{icmp, proto};
use std::net::Ipv4Addr;

/// Which side of a connection a hook translates (`enum nf_nat_manip_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Manip {
    /// The source (POSTROUTING, INPUT).
    Src,
    /// The destination (PREROUTING, OUTPUT).
    Dst,
}

impl Manip {
    /// `HOOK2MANIP`.
    pub fn of_hook(h: Hook) -> Manip {
        match h {
            Hook::PostRouting | Hook::LocalIn => Manip::Src,
            _ => Manip::Dst,
        }
    }

    /// The other side.
    pub fn other(self) -> Manip {
        match self {
            Manip::Src => Manip::Dst,
            Manip::Dst => Manip::Src,
        }
    }

    /// The status bit saying this side is translated (`IPS_SRC_NAT` / `IPS_DST_NAT`).
    fn nat_bit(self) -> u32 {
        match self {
            Manip::Src => status::SRC_NAT,
            Manip::Dst => status::DST_NAT,
        }
    }

    /// The status bit saying this side's translation is set up (`IPS_*_NAT_DONE`).
    fn done_bit(self) -> u32 {
        match self {
            Manip::Src => status::SRC_NAT_DONE,
            Manip::Dst => status::DST_NAT_DONE,
        }
    }
}

/// What a translation may map to (`struct nf_nat_range2`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Range {
    /// Addresses (`NF_NAT_RANGE_MAP_IPS`); None keeps the address.
    pub addrs: Option<(Ipv4Addr, Ipv4Addr)>,
    /// Ports or ICMP ids (`NF_NAT_RANGE_PROTO_SPECIFIED`).
    pub ports: Option<(u16, u16)>,
    /// Shifted port mapping base (`NF_NAT_RANGE_PROTO_OFFSET`).
    pub base: Option<u16>,
    /// `NF_NAT_RANGE_PROTO_RANDOM`.
    pub random: bool,
    /// `NF_NAT_RANGE_PROTO_RANDOM_FULLY`.
    pub random_fully: bool,
    /// `NF_NAT_RANGE_PERSISTENT`.
    pub persistent: bool,
}

impl From<&NatRange> for Range {
    fn from(r: &NatRange) -> Range {
        Range {
            addrs: r.addrs,
            ports: r.ports.map(|p| (p.lo, p.hi)),
            base: r.base_port,
            random: r.random,
            random_fully: r.random_fully,
            persistent: r.persistent,
        }
    }
}

/// Has this side of the connection been set up (`nf_nat_initialized`)?
fn initialized(st: u32, m: Manip) -> bool {
    st & m.done_bit() != 0
}

/// `nf_nat_setup_info`: choose the translation of an unconfirmed connection for one side
/// and record it as the entry's reply tuple. False: drop the packet.
pub fn setup_info(ct: &mut Conntrack, id: u32, range: &Range, m: Manip, now: u64) -> bool {
    let Some(c) = ct.get(id) else { return true };
    if c.confirmed() {
        return true;
    }
    if initialized(c.status, m) {
        return false;
    }
    let zone = c.zone;
    // What the packet looks like now: the inverse of the reply (earlier manipulations
    // included).
    let Some(curr) = c.tuple[1].invert() else {
        return true;
    };
    let new = select::unique_tuple(ct, id, &curr, range, m, zone, now);
    if new != curr {
        if let Some(reply) = new.invert() {
            ct.set_reply(id, reply);
            if let Some(c) = ct.get_mut(id) {
                c.status |= m.nat_bit();
            }
        }
    }
    if m == Manip::Src {
        ct.bysource_add(id);
    }
    if let Some(c) = ct.get_mut(id) {
        c.status |= m.done_bit();
    }
    true
}

/// `nf_nat_alloc_null_binding`: no rule translated this side; keep the address, but let
/// the port move if the tuple is taken.
pub fn null_binding(ct: &mut Conntrack, id: u32, m: Manip, now: u64) -> bool {
    let Some(c) = ct.get(id) else { return true };
    let ip = match m {
        Manip::Src => c.tuple[1].dst,
        Manip::Dst => c.tuple[1].src,
    };
    let range = Range {
        addrs: Some((ip, ip)),
        ..Range::default()
    };
    setup_info(ct, id, &range, m, now)
}

/// The bit that says this packet's side needs rewriting: a reply's source is the original's
/// destination.
fn statusbit(m: Manip, dir: Dir) -> u32 {
    let b = m.nat_bit();
    if dir == Dir::Reply {
        b ^ status::NAT_MASK
    } else {
        b
    }
}

fn other(d: Dir) -> usize {
    match d {
        Dir::Original => 1,
        Dir::Reply => 0,
    }
}

/// `nf_nat_packet`: rewrite the packet to look like the inverse of the other direction's
/// tuple, on this hook's side. False: drop.
fn nat_packet(ct: &Conntrack, id: u32, dir: Dir, m: Manip, pkt: &mut PacketBuf) -> bool {
    let Some(c) = ct.get(id) else { return true };
    if c.status & statusbit(m, dir) == 0 {
        return true;
    }
    match c.tuple[other(dir)].invert() {
        Some(target) => manip::manip_pkt(pkt.data_mut(), 0, &target, m),
        None => true,
    }
}

/// `nf_nat_icmp_reply_translation`: an ICMP error RELATED to a translated connection.
/// False: drop.
fn icmp_reply_translation(
    ct: &Conntrack,
    id: u32,
    dir: Dir,
    m: Manip,
    pkt: &mut PacketBuf,
) -> bool {
    let Some(c) = ct.get(id) else { return true };
    let data = pkt.data_mut();
    let hlen = usize::from(data[0] & 0x0f) * 4;
    if data.len() < hlen + icmp::HEADER_LEN + 20 {
        return false;
    }
    if crate::wire::checksum::checksum(&data[hlen..]) != 0 {
        return false;
    }
    if data[hlen] == icmp::types::REDIRECT {
        // Redirects are only passed for connections NAT leaves alone.
        if c.status & status::NAT_DONE_MASK != status::NAT_DONE_MASK
            || c.status & status::NAT_MASK != 0
        {
            return false;
        }
    }
    if c.status & statusbit(m, dir) == 0 {
        return true;
    }
    let inner = c.tuple[other(dir)];
    let Some(mut outer) = inner.invert() else {
        return true;
    };
    outer.proto = proto::ICMP;
    manip::translate_icmp_error(data, &inner, &outer, m)
}

/// `nf_nat_oif_changed`: a masqueraded connection's packet leaving by another interface.
fn oif_changed(hook: Hook, dir: Dir, masq_index: u32, st: &HookState) -> bool {
    masq_index != 0
        && hook == Hook::PostRouting
        && dir == Dir::Original
        && st.out_dev.is_some_and(|d| d.0 != masq_index)
}

/// `nf_nat_ipv4_fn` / `nf_nat_inet_fn`: the NAT callback at each of its four hooks.
fn nat_fn(pkt: &mut PacketBuf, st: &HookState, cx: &mut HookCtx<'_>) -> Verdict {
    let Some(r) = pkt.meta.ct else {
        return Verdict::Accept;
    };
    if r.info == CtInfo::Untracked {
        return Verdict::Accept;
    }
    let Some(c) = cx.conntrack.get(r.id) else {
        return Verdict::Accept;
    };
    let m = Manip::of_hook(st.hook);
    let dir = if r.info.is_reply() {
        Dir::Reply
    } else {
        Dir::Original
    };
    let related = matches!(r.info, CtInfo::Related | CtInfo::RelatedReply);
    if related && Ipv4Packet::new_unchecked(pkt.data()).protocol() == proto::ICMP {
        return if icmp_reply_translation(cx.conntrack, r.id, dir, m, pkt) {
            Verdict::Accept
        } else {
            Verdict::Drop
        };
    }
    let (st_bits, masq) = (c.status, c.masq_index);
    let fresh = matches!(r.info, CtInfo::New) || related;
    if fresh && !initialized(st_bits, m) {
        // The nat table's chain for this hook decides; whatever it leaves unset gets a
        // null binding.
        if let Some(v) = crate::netfilter::tables::eval::Tables::run_nat(pkt, st, cx) {
            if v != Verdict::Accept {
                return v;
            }
        }
        let done = cx
            .conntrack
            .get(r.id)
            .is_none_or(|c| initialized(c.status, m));
        if !done && !null_binding(cx.conntrack, r.id, m, st.now) {
            return Verdict::Drop;
        }
    } else if oif_changed(st.hook, dir, masq, st) {
        cx.conntrack.kill_entry(r.id);
        return Verdict::Drop;
    }
    if nat_packet(cx.conntrack, r.id, dir, m, pkt) {
        Verdict::Accept
    } else {
        Verdict::Drop
    }
}

struct NatHook;

impl HookFn for NatHook {
    fn call(&mut self, pkt: &mut PacketBuf, st: &HookState, cx: &mut HookCtx<'_>) -> Verdict {
        nat_fn(pkt, st, cx)
    }
}

/// The NAT callbacks (`nf_nat_ipv4_ops`): name, hook, priority.
const OPS: [(&str, Hook, i32); 4] = [
    ("nf_nat_ipv4_in", Hook::PreRouting, priority::NAT_DST),
    ("nf_nat_ipv4_out", Hook::PostRouting, priority::NAT_SRC),
    ("nf_nat_ipv4_local_fn", Hook::LocalOut, priority::NAT_DST),
    ("nf_nat_ipv4_fn", Hook::LocalIn, priority::NAT_SRC),
];

/// Register the NAT callbacks, as `nf_nat_register_fn` does when the first nat chain
/// appears. Idempotent.
pub fn register(reg: &mut Registry) {
    if reg
        .entries(Family::Ipv4, Hook::PreRouting)
        .iter()
        .any(|e| e.name == OPS[0].0)
    {
        return;
    }
    for (name, hook, prio) in OPS {
        reg.register(Family::Ipv4, hook, prio, name, Box::new(NatHook));
    }
}

/// Remove the NAT callbacks (the last nat chain went away).
pub fn unregister(reg: &mut Registry) {
    for (name, hook, _) in OPS {
        reg.unregister(Family::Ipv4, hook, name);
    }
}

/// Run a NAT target (SNAT, DNAT, MASQUERADE, REDIRECT, NETMAP) for a packet whose
/// connection is being set up. Its verdict ends the nat chain.
pub fn run_target(
    t: &Target,
    pkt: &mut PacketBuf,
    st: &HookState,
    cx: &mut HookCtx<'_>,
) -> Verdict {
    let Some(r) = pkt.meta.ct.filter(|r| r.info != CtInfo::Untracked) else {
        return Verdict::Accept;
    };
    let Some(c) = cx.conntrack.get(r.id) else {
        return Verdict::Accept;
    };
    let now = st.now;
    let ok = match t {
        Target::Snat(nr) => setup_info(cx.conntrack, r.id, &Range::from(nr), Manip::Src, now),
        Target::Dnat(nr) => setup_info(cx.conntrack, r.id, &Range::from(nr), Manip::Dst, now),
        Target::Masquerade(nr) => {
            // nf_nat_masquerade_ipv4: the source becomes the address the output interface
            // would use to reach the next hop.
            if c.tuple[0].src.is_unspecified() {
                return Verdict::Accept;
            }
            let Some(out) = st.out_dev else {
                return Verdict::Accept;
            };
            let dst = Ipv4Packet::new_unchecked(pkt.data()).dst_addr();
            let nh = pkt
                .meta
                .nexthop
                .filter(|n| !n.is_unspecified())
                .unwrap_or(dst);
            let Some(src) = cx.fib.select_addr(out, nh, Scope::Universe) else {
                tracing::info!("{} ate my IP address", cx.if_name(out));
                return Verdict::Drop;
            };
            if let Some(c) = cx.conntrack.get_mut(r.id) {
                c.masq_index = out.0;
            }
            let range = Range {
                addrs: Some((src, src)),
                ..Range::from(nr)
            };
            setup_info(cx.conntrack, r.id, &range, Manip::Src, now)
        }
        Target::Redirect(nr) => {
            // nf_nat_redirect_ipv4: to the router itself — loopback for its own packets,
            // else the first address of the interface the packet came in on.
            let to = if st.hook == Hook::LocalOut {
                Some(Ipv4Addr::LOCALHOST)
            } else {
                st.in_dev.and_then(|d| cx.fib.first_addr(d))
            };
            let Some(to) = to else {
                return Verdict::Drop;
            };
            let range = Range {
                addrs: Some((to, to)),
                ..Range::from(nr)
            };
            setup_info(cx.conntrack, r.id, &range, Manip::Dst, now)
        }
        Target::Netmap(net) => {
            // NETMAP: keep the host part, take the network part from the rule.
            let ip = Ipv4Packet::new_unchecked(pkt.data());
            let m = Manip::of_hook(st.hook);
            let cur = match m {
                Manip::Dst => ip.dst_addr(),
                Manip::Src => ip.src_addr(),
            };
            let mask = u32::from(net.mask);
            let new = Ipv4Addr::from((u32::from(cur) & !mask) | (u32::from(net.addr) & mask));
            let range = Range {
                addrs: Some((new, new)),
                ..Range::default()
            };
            setup_info(cx.conntrack, r.id, &range, m, now)
        }
        _ => true,
    };
    if ok {
        Verdict::Accept
    } else {
        Verdict::Drop
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::netfilter::tables::eval::Tables;
    use crate::netfilter::tables::parse::parse_str;
    use crate::packet::{IfIndex, Meta};
    use crate::pipeline::{Router, Sink};
    use crate::wire::checksum;
    use std::path::Path;

    struct Out(Vec<(IfIndex, Vec<u8>)>);
    impl Sink for Out {
        fn transmit(&mut self, oif: IfIndex, data: &[u8], _m: &Meta) {
            self.0.push((oif, data.to_vec()));
        }
    }

    const LAN: IfIndex = IfIndex(2);
    const WAN: IfIndex = IfIndex(3);

    fn router(nat: &str) -> Router {
        let cfg = Config::parse(
            "[[interface]]\nname = \"lan0\"\naddresses = [\"10.0.0.1/24\"]\n[[interface]]\nname = \"wan0\"\naddresses = [\"203.0.113.1/24\"]\n[[route]]\nto = \"0.0.0.0/0\"\nvia = \"203.0.113.254\"\n[sysctl]\n\"net.ipv4.ip_forward\" = 1\n",
            Path::new("t.toml"),
        )
        .unwrap();
        let mut r = Router::new(cfg);
        let rs = parse_str(&format!("*nat\n{nat}COMMIT\n"), "r").unwrap();
        r.set_tables(Tables::load(&rs, 1).unwrap());
        r
    }

    fn udp(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16) -> PacketBuf {
        let mut p = vec![0x45, 0, 0, 36, 0, 1, 0, 0, 64, 17, 0, 0];
        p.extend_from_slice(&src);
        p.extend_from_slice(&dst);
        p.extend_from_slice(&sport.to_be_bytes());
        p.extend_from_slice(&dport.to_be_bytes());
        p.extend_from_slice(&[0, 16, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]);
        let c = checksum::checksum(&p[..20]);
        p[10..12].copy_from_slice(&c.to_be_bytes());
        let ps = checksum::pseudo_header_v4(src, dst, 17, 16);
        let c = checksum::finish(checksum::sum(ps, &p[20..]));
        p[26..28].copy_from_slice(&c.to_be_bytes());
        let mut b = PacketBuf::with_capacity(2048);
        b.load(&p);
        b
    }

    fn ports(p: &[u8]) -> (u16, u16) {
        (
            u16::from_be_bytes([p[20], p[21]]),
            u16::from_be_bytes([p[22], p[23]]),
        )
    }

    #[test]
    fn manip_of_hook() {
        assert_eq!(Manip::of_hook(Hook::PreRouting), Manip::Dst);
        assert_eq!(Manip::of_hook(Hook::LocalOut), Manip::Dst);
        assert_eq!(Manip::of_hook(Hook::PostRouting), Manip::Src);
        assert_eq!(Manip::of_hook(Hook::LocalIn), Manip::Src);
        assert_eq!(statusbit(Manip::Src, Dir::Reply), status::DST_NAT);
        assert_eq!(statusbit(Manip::Dst, Dir::Reply), status::SRC_NAT);
    }

    #[test]
    fn masquerade_both_ways_and_only_first_packet_in_the_chain() {
        let mut r = router(":POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -o wan0 -j MASQUERADE\n");
        let names: Vec<String> = r
            .hooks
            .entries(Family::Ipv4, Hook::PostRouting)
            .iter()
            .map(|e| e.name.clone())
            .collect();
        assert!(names.contains(&"nf_nat_ipv4_out".to_string()), "{names:?}");
        let mut out = Out(Vec::new());
        r.receive(
            LAN,
            &mut udp([10, 0, 0, 5], 4000, [192, 0, 2, 53], 53),
            1,
            &mut out,
        );
        r.receive(
            LAN,
            &mut udp([10, 0, 0, 5], 4000, [192, 0, 2, 53], 53),
            2,
            &mut out,
        );
        assert_eq!(out.0.len(), 2);
        for (oif, p) in &out.0 {
            assert_eq!(*oif, WAN);
            assert_eq!(&p[12..16], &[203, 0, 113, 1]);
            assert_eq!(ports(p), (4000, 53));
            assert_eq!(checksum::checksum(&p[..20]), 0);
        }
        r.receive(
            WAN,
            &mut udp([192, 0, 2, 53], 53, [203, 0, 113, 1], 4000),
            3,
            &mut out,
        );
        let (oif, back) = &out.0[2];
        assert_eq!(*oif, LAN);
        assert_eq!(&back[16..20], &[10, 0, 0, 5]);
        let listing = r.conntrack.listing(4);
        assert!(
            listing.contains("src=10.0.0.5 dst=192.0.2.53 sport=4000 dport=53 src=192.0.2.53 dst=203.0.113.1 sport=53 dport=4000"),
            "{listing}"
        );
        // One connection: the chain's rule counted once.
        assert!(
            r.tables
                .save(true)
                .contains("[1:36] -A POSTROUTING -o wan0 -j MASQUERADE"),
            "{}",
            r.tables.save(true)
        );
    }

    #[test]
    fn a_full_one_port_range_drops_the_second_client() {
        let mut r = router(
            ":POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -o wan0 -p udp -j SNAT --to-source 203.0.113.1:6000\n",
        );
        let mut out = Out(Vec::new());
        r.receive(
            LAN,
            &mut udp([10, 0, 0, 5], 7000, [192, 0, 2, 53], 53),
            1,
            &mut out,
        );
        r.receive(
            LAN,
            &mut udp([10, 0, 0, 6], 7000, [192, 0, 2, 53], 53),
            2,
            &mut out,
        );
        r.receive(
            LAN,
            &mut udp([10, 0, 0, 6], 7000, [192, 0, 2, 54], 53),
            3,
            &mut out,
        );
        assert_eq!(out.0.len(), 2, "the clash is dropped at confirmation");
        assert_eq!(ports(&out.0[0].1).0, 6000);
        assert_eq!(&out.0[1].1[16..20], &[192, 0, 2, 54]);
        assert_eq!(ports(&out.0[1].1).0, 6000);
        assert_eq!(r.conntrack.stats.insert_failed, 1);
    }

    #[test]
    fn dnat_to_a_lan_server_and_back() {
        let mut r = router(
            ":PREROUTING ACCEPT [0:0]\n-A PREROUTING -i wan0 -p udp --dport 5000 -j DNAT --to-destination 10.0.0.11:6000\n",
        );
        let mut out = Out(Vec::new());
        r.receive(
            WAN,
            &mut udp([192, 0, 2, 9], 1234, [203, 0, 113, 1], 5000),
            1,
            &mut out,
        );
        let (oif, p) = &out.0[0];
        assert_eq!(*oif, LAN);
        assert_eq!(&p[16..20], &[10, 0, 0, 11]);
        assert_eq!(ports(p), (1234, 6000));
        r.receive(
            LAN,
            &mut udp([10, 0, 0, 11], 6000, [192, 0, 2, 9], 1234),
            2,
            &mut out,
        );
        let (oif, p) = &out.0[1];
        assert_eq!(*oif, WAN);
        assert_eq!(&p[12..16], &[203, 0, 113, 1]);
        assert_eq!(ports(p), (5000, 1234));
    }
}
