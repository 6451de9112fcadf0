//! The last column of `iptables -nvxL`: what each match and target prints about itself
//! (the extensions' `print` functions in iptables 1.8, numeric form), for every extension
//! the router loads; the wording is checked against `iptables -nvxL` in a namespace
//! (`tests/listing.rs`). Only a rule holding an unsupported extension (which a loaded
//! table never does) would be listed with its `iptables-save` options.
//!
//! Written by hand: the wording is iptables' own, not a format any crate knows.

use super::ast::{self, Match, MultiportDir, Rule, Target, TcpMssAction};
use std::fmt::Write as _;

fn ports(out: &mut String, name: &str, p: &Option<ast::PortMatch>) {
    let Some(p) = p else { return };
    let (lo, hi, inv) = (p.range.lo, p.range.hi, if p.neg { "!" } else { "" });
    if lo == 0 && hi == 0xffff && !p.neg {
        return;
    }
    if lo == hi {
        let _ = write!(out, " {name}:{inv}{lo}");
    } else {
        let _ = write!(out, " {name}s:{inv}{lo}:{hi}");
    }
}

fn mark_mask(out: &mut String, value: u32, mask: u32) {
    if mask == u32::MAX {
        let _ = write!(out, " 0x{value:x}");
    } else {
        let _ = write!(out, " 0x{value:x}/0x{mask:x}");
    }
}

/// One match's words, or None when this module does not know them.
fn match_words(out: &mut String, m: &Match) -> Option<()> {
    match m {
        Match::Src(_)
        | Match::Dst(_)
        | Match::InIface { .. }
        | Match::OutIface { .. }
        | Match::Proto { .. }
        | Match::Fragment { .. } => {}
        Match::Tcp(t) => {
            out.push_str(" tcp");
            ports(out, "spt", &t.sport);
            ports(out, "dpt", &t.dport);
            if let Some((o, neg)) = t.option {
                let _ = write!(out, " option={}{o}", if neg { "!" } else { "" });
            }
            if let Some(f) = &t.flags {
                let _ = write!(
                    out,
                    " flags:{}0x{:02X}/0x{:02X}",
                    if f.neg { "!" } else { "" },
                    f.mask,
                    f.comp
                );
            }
        }
        Match::Udp(u) => {
            out.push_str(" udp");
            ports(out, "spt", &u.sport);
            ports(out, "dpt", &u.dport);
        }
        Match::Sctp(sc) => {
            out.push_str(" sctp");
            ports(out, "spt", &sc.sport);
            ports(out, "dpt", &sc.dport);
        }
        Match::Multiport(mp) => {
            out.push_str(" multiport ");
            out.push_str(match mp.dir {
                MultiportDir::Source => "sports ",
                MultiportDir::Destination => "dports ",
                MultiportDir::Either => "ports ",
            });
            if mp.neg {
                out.push_str(" !");
            }
            for (i, r) in mp.ports.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                if r.lo == r.hi {
                    let _ = write!(out, "{}", r.lo);
                } else {
                    let _ = write!(out, "{}:{}", r.lo, r.hi);
                }
            }
        }
        Match::IpRange(r) => {
            if let Some(s) = &r.src {
                let _ = write!(
                    out,
                    " source IP range{} {}-{}",
                    if s.neg { " !" } else { "" },
                    s.lo,
                    s.hi
                );
            }
            if let Some(d) = &r.dst {
                let _ = write!(
                    out,
                    " destination IP range{} {}-{}",
                    if d.neg { " !" } else { "" },
                    d.lo,
                    d.hi
                );
            }
        }
        Match::Comment(c) => {
            let _ = write!(out, " /* {c} */");
        }
        Match::Mark { value, mask, neg } => {
            out.push_str(" mark match");
            if *neg {
                out.push_str(" !");
            }
            mark_mask(out, *value, *mask);
        }
        Match::Length { min, max, neg } => {
            let _ = write!(out, " length {}", if *neg { "!" } else { "" });
            if min == max {
                let _ = write!(out, "{min}");
            } else {
                let _ = write!(out, "{min}:{max}");
            }
        }
        Match::Ttl { op, value } => {
            let o = match op {
                ast::TtlOp::Eq => "==",
                ast::TtlOp::Ne => "!=",
                ast::TtlOp::Lt => "<",
                ast::TtlOp::Gt => ">",
            };
            let _ = write!(out, " TTL match TTL {o} {value}");
        }
        Match::State { states, neg } => {
            out.push_str(if *neg { " ! state " } else { " state " });
            out.push_str(&ast::state_names(*states));
        }
        Match::Conntrack(c) => conntrack_words(out, c),
        Match::Icmp(i) => {
            out.push_str(if i.neg { " icmp !type " } else { " icmptype " });
            let _ = write!(out, "{}", i.icmp_type);
            if i.code_min == i.code_max {
                let _ = write!(out, " code {}", i.code_min);
            } else if i.code_min != 0 || i.code_max != 0xff {
                let _ = write!(out, " codes {}-{}", i.code_min, i.code_max);
            }
        }
        Match::Limit(l) => {
            let _ = write!(
                out,
                " limit: avg {} burst {}",
                ast::limit_rate(l.avg),
                l.burst
            );
        }
        Match::AddrType(a) => {
            out.push_str(" ADDRTYPE match");
            for (name, side) in [(" src-type ", &a.src), (" dst-type ", &a.dst)] {
                if let Some((mask, neg)) = side {
                    out.push_str(name);
                    if *neg {
                        out.push('!');
                    }
                    out.push_str(&ast::rtn_names(*mask));
                }
            }
            match a.limit {
                Some(ast::AddrTypeLimit::In) => out.push_str(" limit-in"),
                Some(ast::AddrTypeLimit::Out) => out.push_str(" limit-out"),
                None => {}
            }
        }
        Match::ConnMark { value, mask, neg } => {
            out.push_str(" connmark match ");
            if *neg {
                out.push('!');
            }
            mark_mask(out, *value, *mask);
        }
        Match::Tos { value, mask, neg } => {
            let _ = write!(
                out,
                " tos match{}0x{value:02x}/0x{mask:02x}",
                if *neg { "!" } else { "" }
            );
        }
        Match::Dscp { dscp, neg } => {
            let _ = write!(
                out,
                " DSCP match {}0x{dscp:02x}",
                if *neg { "!" } else { "" }
            );
        }
        Match::PktType { kind, neg } => {
            let name = match kind {
                ast::PktType::Unicast => "unicast",
                ast::PktType::Broadcast => "broadcast",
                ast::PktType::Multicast => "multicast",
                ast::PktType::OtherHost => "otherhost",
            };
            let _ = write!(out, " PKTTYPE {}= {name}", if *neg { "!" } else { "" });
        }
        Match::Statistic(st) => {
            out.push_str(" statistic");
            let inv = if st.neg { " !" } else { "" };
            match st.mode {
                ast::StatisticMode::Random { probability } => {
                    let _ = write!(
                        out,
                        " mode random{inv} probability {:.11}",
                        f64::from(probability) / 2147483648.0
                    );
                }
                ast::StatisticMode::Nth { every, packet } => {
                    let _ = write!(out, " mode nth{inv} every {every}");
                    if packet != 0 {
                        let _ = write!(out, " packet {packet}");
                    }
                }
            }
        }
        Match::Recent(r) => recent_words(out, r),
        Match::Unsupported { .. } => return None,
    }
    Some(())
}

/// `-m recent`, as `recent_print` words it.
fn recent_words(out: &mut String, r: &ast::RecentMatch) {
    if r.neg {
        out.push_str(" !");
    }
    out.push_str(match r.op {
        ast::RecentOp::Set => " recent: SET",
        ast::RecentOp::Check => " recent: CHECK",
        ast::RecentOp::Update => " recent: UPDATE",
        ast::RecentOp::Remove => " recent: REMOVE",
    });
    if r.seconds != 0 {
        let _ = write!(out, " seconds: {}", r.seconds);
    }
    if r.reap {
        out.push_str(" reap");
    }
    if r.hitcount != 0 {
        let _ = write!(out, " hit_count: {}", r.hitcount);
    }
    if r.rttl {
        out.push_str(" TTL-Match");
    }
    let side = match r.side {
        ast::RecentSide::Source => "source",
        ast::RecentSide::Dest => "dest",
    };
    let _ = write!(out, " name: {} side: {side} mask: {}", r.name, r.mask);
}

/// `-m conntrack`: each option as `conntrack_dump` prints it, "!" before an inverted one.
fn conntrack_words(out: &mut String, c: &ast::ConntrackMatch) {
    let inv = |out: &mut String, n: bool| {
        if n {
            out.push_str(" !");
        }
    };
    if let Some((states, n)) = c.state {
        inv(out, n);
        out.push_str(" ctstate ");
        out.push_str(&ast::state_names(states));
    }
    if let Some((p, n)) = c.proto {
        inv(out, n);
        let _ = write!(out, " ctproto {p}");
    }
    for (name, net) in [
        ("ctorigsrc", &c.orig_src),
        ("ctorigdst", &c.orig_dst),
        ("ctreplsrc", &c.repl_src),
        ("ctrepldst", &c.repl_dst),
    ] {
        if let Some(m) = net {
            inv(out, m.neg);
            let a = m.net.to_string();
            let _ = write!(out, " {name} {}", a.strip_suffix("/32").unwrap_or(&a));
        }
    }
    for (name, port) in [
        ("ctorigsrcport", &c.orig_src_port),
        ("ctorigdstport", &c.orig_dst_port),
        ("ctreplsrcport", &c.repl_src_port),
        ("ctrepldstport", &c.repl_dst_port),
    ] {
        if let Some(p) = port {
            inv(out, p.neg);
            if p.range.lo == p.range.hi {
                let _ = write!(out, " {name} {}", p.range.lo);
            } else {
                let _ = write!(out, " {name} {}:{}", p.range.lo, p.range.hi);
            }
        }
    }
    if let Some((st, n)) = c.status {
        inv(out, n);
        let _ = write!(out, " ctstatus {}", ast::ctstatus_names(st));
    }
    if let Some((lo, hi, n)) = c.expire {
        inv(out, n);
        if lo == hi {
            let _ = write!(out, " ctexpire {lo}");
        } else {
            let _ = write!(out, " ctexpire {lo}:{hi}");
        }
    }
    if let Some(d) = c.dir {
        out.push_str(match d {
            ast::CtDir::Original => " ctdir ORIGINAL",
            ast::CtDir::Reply => " ctdir REPLY",
        });
    }
}

/// The target's words, or None when this module does not know them.
fn target_words(out: &mut String, t: &Option<Target>) -> Option<()> {
    match t {
        None
        | Some(Target::Accept)
        | Some(Target::Drop)
        | Some(Target::Return)
        | Some(Target::Jump(_))
        | Some(Target::Goto(_)) => {}
        Some(Target::Reject(w)) => {
            let _ = write!(out, " reject-with {}", w.as_str());
        }
        Some(Target::Log(l)) => {
            let _ = write!(out, " LOG flags {} level {}", l.flags, l.level);
            if !l.prefix.is_empty() {
                let _ = write!(out, " prefix \"{}\"", l.prefix);
            }
        }
        Some(Target::Mark { value, mask }) => {
            let (v, m) = (*value, *mask);
            if v == 0 {
                let _ = write!(out, " MARK and 0x{:x}", !m);
            } else if v == m {
                let _ = write!(out, " MARK or 0x{v:x}");
            } else if m == 0 {
                let _ = write!(out, " MARK xor 0x{v:x}");
            } else if m == u32::MAX {
                let _ = write!(out, " MARK set 0x{v:x}");
            } else {
                let _ = write!(out, " MARK xset 0x{v:x}/0x{m:x}");
            }
        }
        Some(Target::TcpMss(a)) => match a {
            TcpMssAction::ClampToPmtu => out.push_str(" TCPMSS clamp to PMTU"),
            TcpMssAction::Set(n) => {
                let _ = write!(out, " TCPMSS set {n}");
            }
        },
        Some(Target::Snat(r)) | Some(Target::Dnat(r)) => {
            let _ = write!(out, " to:{}", ast::nat_range_text(r));
            if r.random {
                out.push_str(" random");
            }
            if r.random_fully {
                out.push_str(" random-fully");
            }
            if r.persistent {
                out.push_str(" persistent");
            }
        }
        Some(Target::Masquerade(r)) => {
            if let Some(p) = &r.ports {
                let _ = write!(out, " masq ports: {}", p.lo);
                if p.hi != p.lo {
                    let _ = write!(out, "-{}", p.hi);
                }
            }
            if r.random {
                out.push_str(" random");
            }
            if r.random_fully {
                out.push_str(" random-fully");
            }
        }
        Some(Target::Redirect(r)) => {
            if let Some(p) = &r.ports {
                let _ = write!(out, " redir ports {}", p.lo);
                if p.hi != p.lo {
                    let _ = write!(out, "-{}", p.hi);
                }
            }
            if r.random {
                out.push_str(" random");
            }
        }
        Some(Target::Netmap(n)) => {
            let _ = write!(out, " to:{n}");
        }
        Some(Target::NoTrack) => out.push_str(" NOTRACK"),
        Some(Target::Ct(c)) => {
            out.push_str(" CT");
            ast::ct_options(out, c, "");
        }
        Some(Target::Ttl(a)) => {
            let _ = match a {
                ast::TtlAction::Set(v) => write!(out, " TTL set to {v}"),
                ast::TtlAction::Dec(v) => write!(out, " TTL decrement by {v}"),
                ast::TtlAction::Inc(v) => write!(out, " TTL increment by {v}"),
            };
        }
        Some(Target::Dscp(d)) => {
            let _ = write!(out, " DSCP set 0x{d:02x}");
        }
        Some(Target::Tos { value, mask }) => {
            let _ = write!(out, " TOS set 0x{value:02x}/0x{mask:02x}");
        }
        Some(Target::Trace) => {}
        Some(Target::Checksum) => out.push_str(" CHECKSUM fill"),
        Some(Target::Nflog(n)) => {
            if !n.prefix.is_empty() {
                let _ = write!(out, " nflog-prefix {}", ast::save_string(&n.prefix));
            }
            if n.group != 0 {
                let _ = write!(out, " nflog-group {}", n.group);
            }
            if n.size_given {
                let _ = write!(out, " nflog-size {}", n.len);
            }
            if n.threshold != 1 {
                let _ = write!(out, " nflog-threshold {}", n.threshold);
            }
        }
        Some(Target::ConnMark(c)) => connmark_words(out, c),
        Some(Target::Unsupported { .. }) => return None,
    }
    Some(())
}

/// `-j CONNMARK`, as `connmark_tg_print_v2` words it.
fn connmark_words(out: &mut String, c: &ast::ConnmarkTarget) {
    let _ = match c.op {
        ast::ConnmarkOp::Set { value: v, mask: m } => {
            if v == 0 {
                write!(out, " CONNMARK and 0x{:x}", !m)
            } else if v == m {
                write!(out, " CONNMARK or 0x{v:x}")
            } else if m == 0 {
                write!(out, " CONNMARK xor 0x{v:x}")
            } else if m == u32::MAX {
                write!(out, " CONNMARK set 0x{v:x}")
            } else {
                write!(out, " CONNMARK xset 0x{v:x}/0x{m:x}")
            }
        }
        ast::ConnmarkOp::Save { nfmask, ctmask } => {
            if nfmask == u32::MAX && ctmask == u32::MAX {
                write!(out, " CONNMARK save")
            } else if nfmask == ctmask {
                write!(out, " CONNMARK save mask 0x{nfmask:x}")
            } else {
                write!(
                    out,
                    " CONNMARK save nfmask 0x{nfmask:x} ctmask ~0x{ctmask:x}"
                )
            }
        }
        ast::ConnmarkOp::Restore { nfmask, ctmask } => {
            if nfmask == u32::MAX && ctmask == u32::MAX {
                write!(out, " CONNMARK restore")
            } else if nfmask == ctmask {
                write!(out, " CONNMARK restore mask 0x{ctmask:x}")
            } else {
                write!(
                    out,
                    " CONNMARK restore ctmask 0x{ctmask:x} nfmask ~0x{nfmask:x}"
                )
            }
        }
    };
    if c.shift_bits != 0 {
        let dir = if c.shift_right { "right" } else { "left" };
        let _ = write!(out, " {dir}-shift-mark {}", c.shift_bits);
    }
}

/// The options column of one rule: iptables' words, or (for extensions not covered here)
/// the rule's `iptables-save` options.
pub fn options(r: &Rule) -> String {
    let mut out = String::new();
    let known = r.matches.iter().all(|m| match_words(&mut out, m).is_some())
        && target_words(&mut out, &r.target).is_some();
    if known {
        out
    } else {
        format!(" {}", r.spec())
    }
}
