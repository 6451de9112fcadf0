//! The last column of `iptables -nvxL`: what each match and target prints about itself
//! (the extensions' `print` functions in iptables 1.8, numeric form), for the extensions
//! whose wording is checked against `iptables -nvxL` in a namespace
//! (`tests/listing.rs`). A rule using any other extension is listed with its
//! `iptables-save` options instead, so nothing is hidden.
//!
//! Written by hand: the wording is iptables' own, not a format any crate knows.

use super::ast::{self, Match, MultiportDir, RejectWith, Rule, Target, TcpMssAction};
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
        Match::Multiport(mp) if !mp.neg => {
            out.push_str(" multiport ");
            out.push_str(match mp.dir {
                MultiportDir::Source => "sports ",
                MultiportDir::Destination => "dports ",
                MultiportDir::Either => "ports ",
            });
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
        Match::State { states, neg: false } => {
            out.push_str(" state ");
            states_words(out, *states);
        }
        Match::Conntrack(c)
            if c.proto.is_none()
                && c.orig_src.is_none()
                && c.orig_dst.is_none()
                && c.repl_src.is_none()
                && c.repl_dst.is_none()
                && c.orig_src_port.is_none()
                && c.orig_dst_port.is_none()
                && c.repl_src_port.is_none()
                && c.repl_dst_port.is_none()
                && c.status.is_none()
                && c.expire.is_none()
                && c.dir.is_none() =>
        {
            let (states, neg) = c.state?;
            out.push_str(" ctstate ");
            if neg {
                out.push('!');
            }
            states_words(out, states);
        }
        _ => return None,
    }
    Some(())
}

fn states_words(out: &mut String, states: u16) {
    let mut first = true;
    for (bit, name) in ast::ctstate::NAMES {
        if states & bit != 0 {
            if !first {
                out.push(',');
            }
            out.push_str(name);
            first = false;
        }
    }
}

fn nat_range(out: &mut String, r: &ast::NatRange) {
    if let Some((lo, hi)) = r.addrs {
        let _ = write!(out, "{lo}");
        if lo != hi {
            let _ = write!(out, "-{hi}");
        }
    }
    if let Some(p) = &r.ports {
        let _ = write!(out, ":{}", p.lo);
        if p.hi != p.lo {
            let _ = write!(out, "-{}", p.hi);
        }
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
            let name = match w {
                RejectWith::NetUnreachable => "icmp-net-unreachable",
                RejectWith::HostUnreachable => "icmp-host-unreachable",
                RejectWith::ProtoUnreachable => "icmp-proto-unreachable",
                RejectWith::PortUnreachable => "icmp-port-unreachable",
                RejectWith::NetProhibited => "icmp-net-prohibited",
                RejectWith::HostProhibited => "icmp-host-prohibited",
                RejectWith::TcpReset => "tcp-reset",
                RejectWith::AdminProhibited => "icmp-admin-prohibited",
            };
            let _ = write!(out, " reject-with {name}");
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
        Some(Target::Snat(r)) | Some(Target::Dnat(r)) if r.base_port.is_none() => {
            out.push_str(" to:");
            nat_range(out, r);
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
        Some(Target::Masquerade(r)) if r.ports.is_none() && !r.random && !r.random_fully => {}
        _ => return None,
    }
    Some(())
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
