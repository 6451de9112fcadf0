//! Running a loaded ruleset: each table's built-in chains hooked into the registry at the
//! table's priority, rules evaluated as `ipt_do_table` does (base matches, then match
//! modules in order; the first failing match skips the rule; counters bumped when a rule
//! matches; jumps with a return stack, `-g` without; falling off a user chain returns,
//! falling off a built-in chain applies its policy), and the targets.
//!
//! Base chains are registered the way iptables-nft (Debian's default, which `diff-kernel`
//! runs) does: only for built-in chains the file declares or appends to. A table in the
//! file with no such chain hooks nothing.

use super::ast::{
    self, ctstate, AddrTypeLimit, ConnmarkOp, Counters, Match, MultiportDir, Policy, Rule, Ruleset,
    StatisticMode, TableName, Target, TcpMssAction, TtlAction, TtlOp,
};
use super::recent::Recent;
use crate::netfilter::conntrack::{status, Dir};
use crate::netfilter::hooks::{
    priority, Family, Hook, HookCtx, HookFn, HookState, Registry, Verdict,
};
use crate::packet::{CtInfo, CtRef, PacketBuf};
use crate::packet::{CtTemplate, Origin, Zone, ZoneDir};
use crate::route::RouteType;
use crate::wire::ipv4::Ipv4Packet;
use crate::wire::{checksum, proto};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::Ipv4Addr;

/// Why a ruleset cannot be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .problems.iter().map(|(l, m)| format!("{l}: {m}")).collect::<Vec<_>>().join("\n"))]
pub struct LoadError {
    /// Every problem, with its position (line:column).
    pub problems: Vec<(ast::Loc, String)>,
}

/// A table's priority at its hooks (NAT: DNAT before routing, SNAT after).
fn table_priority(t: TableName, hook: Hook) -> i32 {
    match t {
        TableName::Raw => priority::RAW,
        TableName::Mangle => priority::MANGLE,
        TableName::Filter => priority::FILTER,
        TableName::Security => priority::SECURITY,
        TableName::Nat => match hook {
            Hook::PreRouting | Hook::LocalOut => priority::NAT_DST,
            _ => priority::NAT_SRC,
        },
    }
}

#[derive(Debug, Clone, Copy)]
enum Jump {
    Chain(usize),
    Goto(usize),
}

/// Per-rule state of stateful matches.
#[derive(Debug, Clone, Default)]
struct RuleState {
    /// `-m limit`: (credit, prev ns) per limit match of the rule, in match order.
    limit: Vec<(u64, u64)>,
    /// `-m statistic --mode nth`: counter per statistic match.
    nth: Vec<u32>,
}

#[derive(Debug, Clone)]
struct LoadedTable {
    name: TableName,
    ast: ast::Table,
    /// For each chain, the jump target of each rule (None: not a jump).
    jumps: Vec<Vec<Option<Jump>>>,
    /// Rule counters, per chain per rule.
    counters: Vec<Vec<Counters>>,
    /// Policy counters per chain.
    policy: Vec<Counters>,
    state: Vec<Vec<RuleState>>,
    /// The hooks registered (declared built-in chains).
    hooked: Vec<(Hook, usize)>,
}

/// All loaded tables.
#[derive(Debug, Clone, Default)]
pub struct Tables {
    tables: Vec<LoadedTable>,
    recent: Recent,
    rng: Option<fastrand::Rng>,
    /// The jump stack, reused by every traversal.
    stack: Vec<(usize, usize)>,
}

/// What evaluation needs from the packet, read once.
struct Pkt {
    src: Ipv4Addr,
    dst: Ipv4Addr,
    proto: u8,
    frag_off: usize,
    hlen: usize,
    tot_len: u16,
    ttl: u8,
    tos: u8,
}

impl Pkt {
    fn read(data: &[u8]) -> Pkt {
        let ip = Ipv4Packet::new_unchecked(data);
        Pkt {
            src: ip.src_addr(),
            dst: ip.dst_addr(),
            proto: ip.protocol(),
            frag_off: ip.frag_offset(),
            hlen: ip.header_len(),
            tot_len: ip.total_len(),
            ttl: ip.ttl(),
            tos: ip.tos(),
        }
    }
}

enum M {
    Yes,
    No,
    /// The match could not examine the packet: the kernel drops it (`hotdrop`).
    Hotdrop,
}

fn b(x: bool) -> M {
    if x {
        M::Yes
    } else {
        M::No
    }
}

impl Tables {
    /// Load a parsed ruleset. Fails, listing every problem, if any rule uses something the
    /// router does not implement: a rule that silently did nothing would mislead.
    pub fn load(rs: &Ruleset, seed: u64) -> Result<Tables, LoadError> {
        let mut problems: Vec<(ast::Loc, String)> = rs.unsupported();
        for t in &rs.tables {
            for c in &t.chains {
                for r in &c.rules {
                    if let Some(reason) = r.target.as_ref().and_then(unimplemented_target) {
                        problems.push((r.loc, reason));
                    }
                }
            }
        }
        if !problems.is_empty() {
            problems.sort();
            return Err(LoadError { problems });
        }
        let mut tables = Vec::new();
        // A section that declares no chain and has no rule (`*nat` then `COMMIT`) leaves
        // no table behind: iptables-nft's restore deletes the table and creates nothing.
        let present = |t: &&ast::Table| t.chains.iter().any(|c| c.line != 0 || !c.rules.is_empty());
        for t in rs.tables.iter().filter(present) {
            let index: HashMap<&str, usize> = t
                .chains
                .iter()
                .enumerate()
                .map(|(i, c)| (c.name.as_str(), i))
                .collect();
            let jumps = t
                .chains
                .iter()
                .map(|c| {
                    c.rules
                        .iter()
                        .map(|r| match &r.target {
                            Some(Target::Jump(n)) => index.get(n.as_str()).map(|&i| Jump::Chain(i)),
                            Some(Target::Goto(n)) => index.get(n.as_str()).map(|&i| Jump::Goto(i)),
                            _ => None,
                        })
                        .collect()
                })
                .collect();
            let counters = t
                .chains
                .iter()
                .map(|c| c.rules.iter().map(|r| r.counters).collect())
                .collect();
            let policy = t.chains.iter().map(|c| c.counters).collect();
            let state = t
                .chains
                .iter()
                .map(|c| c.rules.iter().map(initial_state).collect())
                .collect();
            let hooked = t
                .chains
                .iter()
                .enumerate()
                .filter(|(_, c)| c.builtin && (c.line != 0 || !c.rules.is_empty()))
                .filter_map(|(i, c)| c.hook().map(|h| (h, i)))
                .collect();
            tables.push(LoadedTable {
                name: t.name,
                ast: t.clone(),
                jumps,
                counters,
                policy,
                state,
                hooked,
            });
        }
        let mut recent = Recent::default();
        recent.load(load_order(tables.iter()));
        Ok(Tables {
            tables,
            recent,
            rng: Some(fastrand::Rng::with_seed(seed)),
            stack: Vec::with_capacity(16),
        })
    }

    /// Does the nat table have a chain at any hook? Then NAT registers its callbacks.
    pub fn has_nat(&self) -> bool {
        self.tables
            .iter()
            .any(|t| t.name == TableName::Nat && !t.hooked.is_empty())
    }

    /// Run the nat table's chain for `hook`, if it has one (NAT calls it for a connection's
    /// first packet: `nf_nat_inet_fn`'s lookup).
    pub fn run_nat(pkt: &mut PacketBuf, st: &HookState, cx: &mut HookCtx<'_>) -> Option<Verdict> {
        let t = &cx.tables.tables;
        let ti = t.iter().position(|t| t.name == TableName::Nat)?;
        let &(_, chain) = t[ti].hooked.iter().find(|h| h.0 == st.hook)?;
        Some(Tables::run_chain(ti, chain, pkt, st, cx))
    }

    /// Traverse one chain of the tables in `cx`. They are taken out of `cx` meanwhile (a
    /// take of a few vectors, no copy), because the chain's targets get `cx` too.
    fn run_chain(
        ti: usize,
        chain: usize,
        pkt: &mut PacketBuf,
        st: &HookState,
        cx: &mut HookCtx<'_>,
    ) -> Verdict {
        let mut tables = std::mem::take(cx.tables);
        let v = tables.traverse(ti, chain, pkt, st, cx);
        *cx.tables = tables;
        v
    }

    /// Does any rule need connection tracking (state/conntrack/connmark matches, CONNMARK,
    /// CT without --notrack, or a nat chain)? The kernel turns conntrack on for the namespace when
    /// such a rule loads.
    pub fn needs_conntrack(&self) -> bool {
        self.has_nat()
            || self.tables.iter().any(|t| {
                t.ast.chains.iter().flat_map(|c| &c.rules).any(|r| {
                    r.matches.iter().any(|m| {
                        matches!(
                            m,
                            Match::State { .. } | Match::Conntrack(_) | Match::ConnMark { .. }
                        )
                    }) || match &r.target {
                        // iptables-nft turns NOTRACK, and CT with --notrack whatever else it
                        // has, into nftables' native `notrack`, which needs no conntrack.
                        Some(Target::Ct(c)) => !c.notrack,
                        Some(Target::ConnMark(_)) => true,
                        _ => false,
                    }
                })
            })
    }

    /// Register every hooked built-in chain in the registry; the nat table's chains are
    /// called by NAT's own callbacks instead.
    pub fn register(&self, reg: &mut Registry) {
        if self.has_nat() {
            crate::netfilter::nat::register(reg);
        }
        for (ti, t) in self.tables.iter().enumerate() {
            if t.name == TableName::Nat {
                continue;
            }
            for &(hook, chain) in &t.hooked {
                let name = format!("iptable_{}", t.name);
                reg.register(
                    Family::Ipv4,
                    hook,
                    table_priority(t.name, hook),
                    name,
                    Box::new(TableHook { table: ti, chain }),
                );
            }
        }
    }

    /// The ruleset with current counters, in `iptables-save -c` format.
    pub fn save(&self, with_counters: bool) -> String {
        self.save_table(None, with_counters)
    }

    /// One table (or all), in `iptables-save [-c] [-t table]` format.
    pub fn save_table(&self, only: Option<TableName>, with_counters: bool) -> String {
        let mut rs = Ruleset::default();
        for t in self
            .tables
            .iter()
            .filter(|t| only.is_none_or(|o| o == t.name))
        {
            let mut at = t.ast.clone();
            for (ci, c) in at.chains.iter_mut().enumerate() {
                c.counters = t.policy[ci];
                for (ri, r) in c.rules.iter_mut().enumerate() {
                    r.counters = t.counters[ci][ri];
                }
            }
            rs.tables.push(at);
        }
        rs.to_save_format(with_counters)
    }

    /// `iptables-restore [-c]` into the running ruleset: every table the file has a
    /// section for (`replaced`) is replaced by `new`'s (loaded from that file), with the
    /// file's counters only when `keep_counters`, as `-c` does; rule state such as limit
    /// buckets starts afresh, as for new kernel rules. Tables the file lacks stay exactly
    /// as they are, counters and state included. `-m recent` lists
    /// carry over by name while some rule still names them (the kernel shares an xt_recent
    /// table between the old and new rules; the last reference frees it).
    pub fn restore(&mut self, replaced: &[TableName], mut new: Tables, keep_counters: bool) {
        if !keep_counters {
            new.zero();
        }
        for t in std::mem::take(&mut self.tables) {
            if !replaced.contains(&t.name) {
                new.tables.push(t);
            }
        }
        // The old lists meet the new rules (kept tables' rules first: they name lists
        // that exist already), then lists no rule names go.
        let mut recent = std::mem::take(&mut self.recent);
        let (fresh, kept): (Vec<&LoadedTable>, Vec<&LoadedTable>) =
            new.tables.iter().partition(|t| replaced.contains(&t.name));
        recent.load(load_order(kept.into_iter()).chain(load_order(fresh.into_iter())));
        new.recent = recent;
        new.rng = self.rng.take().or(new.rng);
        *self = new;
    }

    /// Zero every counter (`iptables -Z`).
    pub fn zero(&mut self) {
        self.zero_table(None);
    }

    /// Zero the counters of one table, or of all (`iptables -Z [-t table]`).
    pub fn zero_table(&mut self, only: Option<TableName>) {
        for t in self
            .tables
            .iter_mut()
            .filter(|t| only.is_none_or(|o| o == t.name))
        {
            t.policy.iter_mut().for_each(|c| *c = Counters::default());
            t.counters
                .iter_mut()
                .flatten()
                .for_each(|c| *c = Counters::default());
        }
    }

    /// `iptables -nvxL [-t table]` (filter by default).
    pub fn listing(&self, table: TableName) -> String {
        let mut out = String::new();
        let Some(t) = self.tables.iter().find(|t| t.name == table) else {
            return out;
        };
        for (ci, c) in t.ast.chains.iter().enumerate() {
            if ci > 0 {
                out.push('\n');
            }
            if c.builtin {
                let p = t.policy[ci];
                let _ = writeln!(
                    out,
                    "Chain {} (policy {} {} packets, {} bytes)",
                    c.name,
                    c.policy.unwrap_or(Policy::Accept).as_str(),
                    p.packets,
                    p.bytes
                );
            } else {
                let refs = t.ast.chains.iter().flat_map(|x| &x.rules).filter(|r| matches!(&r.target, Some(Target::Jump(n)) | Some(Target::Goto(n)) if *n == c.name)).count();
                let _ = writeln!(out, "Chain {} ({refs} references)", c.name);
            }
            // iptables' print_header with -nvx: "%8s %10s %-9s  prot opt %-6s %-6s  %-19s  %-19s ".
            let _ = writeln!(
                out,
                "{:>8} {:>10} {:<9}  prot opt {:<6} {:<6}  {:<19}  {:<19} ",
                "pkts", "bytes", "target", "in", "out", "source", "destination"
            );
            for (ri, r) in c.rules.iter().enumerate() {
                let k = t.counters[ci][ri];
                let _ = writeln!(out, "{}", list_line(r, k));
            }
        }
        out
    }

    fn traverse(
        &mut self,
        ti: usize,
        chain: usize,
        pkt: &mut PacketBuf,
        st: &HookState,
        cx: &mut HookCtx<'_>,
    ) -> Verdict {
        let mut stack = std::mem::take(&mut self.stack);
        stack.clear();
        let v = self.traverse_with(&mut stack, ti, chain, pkt, st, cx);
        self.stack = stack;
        v
    }

    fn traverse_with(
        &mut self,
        stack: &mut Vec<(usize, usize)>,
        ti: usize,
        chain: usize,
        pkt: &mut PacketBuf,
        st: &HookState,
        cx: &mut HookCtx<'_>,
    ) -> Verdict {
        let (mut ci, mut ri) = (chain, 0usize);
        loop {
            let n_rules = self.tables[ti].ast.chains[ci].rules.len();
            if ri >= n_rules {
                // End of chain: user chains return, built-in chains apply their policy.
                if let Some((c, r)) = stack.pop() {
                    ci = c;
                    ri = r + 1;
                    continue;
                }
                let t = &mut self.tables[ti];
                if t.ast.chains[ci].builtin {
                    let p = &mut t.policy[ci];
                    p.packets += 1;
                    p.bytes += pkt.len() as u64;
                    return match t.ast.chains[ci].policy {
                        Some(Policy::Drop) => Verdict::Drop,
                        _ => Verdict::Accept,
                    };
                }
                // A goto'd user chain's end with nothing to return to: the base chain's
                // policy (its underflow).
                let base = chain;
                let p = &mut t.policy[base];
                p.packets += 1;
                p.bytes += pkt.len() as u64;
                return match t.ast.chains[base].policy {
                    Some(Policy::Drop) => Verdict::Drop,
                    _ => Verdict::Accept,
                };
            }
            let info = Pkt::read(pkt.data());
            let m = rule_matches(
                &mut self.tables[ti],
                &mut self.recent,
                &mut self.rng,
                ci,
                ri,
                &info,
                pkt,
                st,
                cx,
            );
            match m {
                M::No => {
                    ri += 1;
                    continue;
                }
                M::Hotdrop => return Verdict::Drop,
                M::Yes => {}
            }
            {
                let k = &mut self.tables[ti].counters[ci][ri];
                k.packets += 1;
                k.bytes += pkt.len() as u64;
            }
            let jump = self.tables[ti].jumps[ci][ri];
            match jump {
                Some(Jump::Chain(to)) => {
                    stack.push((ci, ri));
                    ci = to;
                    ri = 0;
                    continue;
                }
                Some(Jump::Goto(to)) => {
                    ci = to;
                    ri = 0;
                    continue;
                }
                None => {}
            }
            match &self.tables[ti].ast.chains[ci].rules[ri].target {
                None => ri += 1,
                Some(Target::Accept) => return Verdict::Accept,
                Some(Target::Drop) => return Verdict::Drop,
                Some(Target::Return) => match stack.pop() {
                    Some((c, r)) => {
                        ci = c;
                        ri = r + 1;
                    }
                    None => {
                        let t = &mut self.tables[ti];
                        let p = &mut t.policy[chain];
                        p.packets += 1;
                        p.bytes += pkt.len() as u64;
                        return match t.ast.chains[chain].policy {
                            Some(Policy::Drop) => Verdict::Drop,
                            _ => Verdict::Accept,
                        };
                    }
                },
                Some(t) => match run_target(t, pkt, st, cx) {
                    None => ri += 1,
                    Some(v) => return v,
                },
            }
        }
    }
}

/// Run a non-jump target. None: continue with the next rule.
fn run_target(
    t: &Target,
    pkt: &mut PacketBuf,
    st: &HookState,
    cx: &mut HookCtx<'_>,
) -> Option<Verdict> {
    {
        match t {
            Target::Reject(with) => {
                cx.effects.reject = Some(*with);
                Some(Verdict::Drop)
            }
            Target::Log(l) => {
                log_packet(l, pkt, st, cx);
                None
            }
            Target::Nflog(_) | Target::Trace | Target::Checksum => None,
            Target::Mark { value, mask } => {
                pkt.meta.mark = (pkt.meta.mark & !mask) ^ value;
                None
            }
            Target::ConnMark(c) => {
                connmark(c, pkt, cx);
                None
            }
            Target::Ttl(a) => {
                let mut ip = Ipv4Packet::new_unchecked(pkt.data_mut());
                let old = ip.ttl();
                let new = match a {
                    TtlAction::Set(v) => *v,
                    TtlAction::Dec(v) => old.saturating_sub(*v),
                    TtlAction::Inc(v) => old.saturating_add(*v),
                };
                if new != old {
                    let c = checksum::update16(
                        ip.checksum(),
                        u16::from_be_bytes([old, ip.protocol()]),
                        u16::from_be_bytes([new, ip.protocol()]),
                    );
                    ip.set_ttl(new);
                    ip.set_checksum(c);
                }
                None
            }
            Target::Tos { value, mask } => {
                set_tos(pkt, |old| (old & !mask) ^ value);
                None
            }
            Target::Dscp(d) => {
                set_tos(pkt, |old| (old & 0x03) | (d << 2));
                None
            }
            Target::TcpMss(a) => {
                tcpmss(a, pkt, st, cx);
                None
            }
            // iptables-nft makes NOTRACK, and CT with --notrack, nftables' native `notrack`:
            // it leaves a packet with anything attached alone (a connection, a template,
            // "untracked", or the "related, no connection" of a reply the router made for
            // an untracked packet, as the kernel's recordings show).
            Target::NoTrack | Target::Ct(ast::CtTarget { notrack: true, .. }) => {
                if pkt.meta.ct.is_none() && pkt.meta.ct_tmpl.is_none() && !pkt.meta.ct_attached_none
                {
                    pkt.meta.ct = Some(CtRef {
                        id: 0,
                        info: CtInfo::Untracked,
                    });
                }
                None
            }
            // xt_CT: a template for a packet with nothing attached yet (`skb->_nfct == 0`).
            Target::Ct(c) => {
                if pkt.meta.ct.is_none() && !pkt.meta.ct_attached_none && pkt.meta.ct_tmpl.is_none()
                {
                    let z = c.zone.unwrap_or(ast::CtZone {
                        id: 0,
                        from_mark: false,
                        orig_only: false,
                        reply_only: false,
                    });
                    pkt.meta.ct_tmpl = Some(CtTemplate {
                        zone: Zone {
                            id: z.id,
                            dir: if z.orig_only {
                                ZoneDir::Orig
                            } else if z.reply_only {
                                ZoneDir::Reply
                            } else {
                                ZoneDir::Both
                            },
                        },
                        from_mark: z.from_mark,
                    });
                }
                None
            }
            Target::Snat(_)
            | Target::Dnat(_)
            | Target::Masquerade(_)
            | Target::Redirect(_)
            | Target::Netmap(_) => Some(crate::netfilter::nat::run_target(t, pkt, st, cx)),
            // Refused at load time (see `unimplemented_target`).
            _ => Some(Verdict::Accept),
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn rule_matches(
    t: &mut LoadedTable,
    recent: &mut Recent,
    rng: &mut Option<fastrand::Rng>,
    ci: usize,
    ri: usize,
    p: &Pkt,
    pkt: &PacketBuf,
    st: &HookState,
    cx: &mut HookCtx<'_>,
) -> M {
    let (mut li, mut si) = (0usize, 0usize);
    let LoadedTable { ast, state, .. } = t;
    for m in &ast.chains[ci].rules[ri].matches {
        let r = match m {
            Match::Limit(l) => {
                let (cost, cap) = limit_costs(l);
                let s = &mut state[ci][ri].limit[li];
                li += 1;
                b(limit_step(s, cost, cap, st.now))
            }
            Match::Statistic(sm) => {
                let r = match sm.mode {
                    StatisticMode::Random { probability } => {
                        let x = rng.as_mut().map_or(0, |g| g.u32(..)) & 0x7fff_ffff;
                        x < probability
                    }
                    StatisticMode::Nth { every, packet } => {
                        // iptables-nft runs nth as `numgen inc mod every == packet`: the
                        // k-th packet to reach the match (from 0) matches when
                        // k mod every == packet.
                        let c = &mut state[ci][ri].nth[si];
                        let hit = every != 0 && *c % every == packet;
                        *c = c.wrapping_add(1);
                        hit
                    }
                };
                si += 1;
                b(r ^ sm.neg)
            }
            Match::Recent(rm) => {
                // "TTL as seen before forwarding": an output device and no local socket.
                let forwarded = st.out_dev.is_some() && pkt.meta.origin == Origin::Received;
                b(recent.step(rm, p.src, p.dst, p.ttl, forwarded, st.now))
            }
            other => eval_match(other, p, pkt, st, cx),
        };
        match r {
            M::Yes => {}
            other => return other,
        }
    }
    M::Yes
}

fn initial_state(r: &Rule) -> RuleState {
    let mut s = RuleState::default();
    for m in &r.matches {
        match m {
            Match::Limit(l) => {
                let (_, cap) = limit_costs(l);
                s.limit.push((cap, u64::MAX));
            }
            Match::Statistic(_) => s.nth.push(0),
            _ => {}
        }
    }
    s
}

/// A set of tables' rules in the order the kernel checks them when they load: file order.
fn load_order<'a>(tables: impl Iterator<Item = &'a LoadedTable>) -> impl Iterator<Item = &'a Rule> {
    let mut rules: Vec<&Rule> = tables
        .flat_map(|t| t.ast.chains.iter().flat_map(|c| &c.rules))
        .collect();
    rules.sort_by_key(|r| r.loc);
    rules.into_iter()
}

/// Targets the parser knows but the router does not implement yet.
fn unimplemented_target(t: &Target) -> Option<String> {
    match t {
        // A helper on a --notrack rule is never attached: the kernel does not even look it up.
        Target::Ct(c) if c.helper.is_some() && !c.notrack => Some(format!(
            "CT --helper {}: connection tracking helpers are not supported",
            c.helper.as_deref().unwrap_or("")
        )),
        _ => None,
    }
}

/// `xt_limit`: credits on a nanosecond clock. Cost of one packet and the bucket size.
fn limit_costs(l: &ast::LimitMatch) -> (u64, u64) {
    // avg is in units of 1/10000 s per packet (XT_LIMIT_SCALE).
    let cost = u64::from(l.avg) * 100_000; // ns per packet
    (cost, cost * u64::from(l.burst.max(1)))
}

fn limit_step(s: &mut (u64, u64), cost: u64, cap: u64, now: u64) -> bool {
    let (credit, prev) = s;
    if *prev == u64::MAX {
        *prev = now;
    }
    *credit = (*credit + now.saturating_sub(*prev)).min(cap);
    *prev = now;
    if *credit >= cost {
        *credit -= cost;
        true
    } else {
        false
    }
}

fn eval_match(m: &Match, p: &Pkt, pkt: &PacketBuf, st: &HookState, cx: &mut HookCtx<'_>) -> M {
    let l4 = pkt.data().get(p.hlen..).unwrap_or(&[]);
    let ports = || -> Option<(u16, u16)> {
        (l4.len() >= 4).then(|| {
            (
                u16::from_be_bytes([l4[0], l4[1]]),
                u16::from_be_bytes([l4[2], l4[3]]),
            )
        })
    };
    match m {
        Match::Src(n) => b(n.net.contains(p.src) ^ n.neg),
        Match::Dst(n) => b(n.net.contains(p.dst) ^ n.neg),
        Match::InIface { iface, neg } => {
            let name = st.in_dev.map_or("", |d| cx.if_name(d));
            b(iface.matches(name) ^ neg)
        }
        Match::OutIface { iface, neg } => {
            let name = st.out_dev.map_or("", |d| cx.if_name(d));
            b(iface.matches(name) ^ neg)
        }
        Match::Proto { proto, neg } => b((*proto == 0 || *proto == p.proto) ^ neg),
        Match::Fragment { neg } => b((p.frag_off != 0) ^ neg),
        Match::Tcp(t) => {
            // iptables-nft runs a tcp match without --tcp-option as native nftables
            // expressions, which simply miss when their field is not there; with
            // --tcp-option it is the x_tables match, which drops what it cannot read and
            // the "evil" 8-byte-offset fragment.
            let xt = t.option.is_some();
            if p.frag_off != 0 {
                return if xt && p.frag_off == 8 {
                    M::Hotdrop
                } else {
                    M::No
                };
            }
            if xt && l4.len() < 20 {
                return M::Hotdrop;
            }
            if t.sport.is_some() || t.dport.is_some() {
                let Some((s, d)) = ports() else { return M::No };
                if let Some(pm) = t.sport {
                    if !(pm.range.contains(s) ^ pm.neg) {
                        return M::No;
                    }
                }
                if let Some(pm) = t.dport {
                    if !(pm.range.contains(d) ^ pm.neg) {
                        return M::No;
                    }
                }
            }
            if let Some(f) = t.flags {
                let Some(&fl) = l4.get(13) else { return M::No };
                if !(((fl & f.mask) == f.comp) ^ f.neg) {
                    return M::No;
                }
            }
            if let Some((opt, neg)) = t.option {
                let doff = (l4[12] >> 4) as usize * 4;
                if doff < 20 || doff > l4.len() {
                    return M::Hotdrop;
                }
                if !(tcp_has_option(&l4[20..doff], opt) ^ neg) {
                    return M::No;
                }
            }
            M::Yes
        }
        Match::Udp(u) => {
            // Native nftables in iptables-nft: a missing field is a miss, not a drop.
            if p.frag_off != 0 {
                return M::No;
            }
            if u.sport.is_none() && u.dport.is_none() {
                return M::Yes;
            }
            let Some((s, d)) = ports() else { return M::No };
            b(u.sport.is_none_or(|pm| pm.range.contains(s) ^ pm.neg)
                && u.dport.is_none_or(|pm| pm.range.contains(d) ^ pm.neg))
        }
        Match::Sctp(u) => {
            if p.frag_off != 0 {
                return M::No;
            }
            let Some((s, d)) = ports().filter(|_| l4.len() >= 12) else {
                return M::Hotdrop;
            };
            b(u.sport.is_none_or(|pm| pm.range.contains(s) ^ pm.neg)
                && u.dport.is_none_or(|pm| pm.range.contains(d) ^ pm.neg))
        }
        Match::Icmp(i) => {
            if p.frag_off != 0 {
                return M::No;
            }
            // The x_tables icmp match reads the whole 8-byte header or drops.
            if l4.len() < 8 {
                return M::Hotdrop;
            }
            let (ty, code) = (l4[0], l4[1]);
            let hit = i.icmp_type == 0xff
                || (ty == i.icmp_type && code >= i.code_min && code <= i.code_max);
            b(hit ^ i.neg)
        }
        Match::Multiport(mp) => {
            if p.frag_off != 0 {
                return M::No;
            }
            let Some((s, d)) = ports() else {
                return M::Hotdrop;
            };
            let hit = mp.ports.iter().any(|r| match mp.dir {
                MultiportDir::Source => r.contains(s),
                MultiportDir::Destination => r.contains(d),
                MultiportDir::Either => r.contains(s) || r.contains(d),
            });
            b(hit ^ mp.neg)
        }
        Match::IpRange(r) => {
            let inr = |a: Ipv4Addr, x: &ast::AddrRange| {
                (u32::from(a) >= u32::from(x.lo) && u32::from(a) <= u32::from(x.hi)) ^ x.neg
            };
            b(r.src.is_none_or(|x| inr(p.src, &x)) && r.dst.is_none_or(|x| inr(p.dst, &x)))
        }
        Match::AddrType(a) => {
            let dev = match a.limit {
                Some(AddrTypeLimit::In) => st.in_dev,
                Some(AddrTypeLimit::Out) => st.out_dev,
                None => None,
            };
            let ty = |addr: Ipv4Addr| addr_type(cx, addr, dev);
            let ok = a
                .src
                .is_none_or(|(mask, neg)| ((ty(p.src) & mask) != 0) ^ neg)
                && a.dst
                    .is_none_or(|(mask, neg)| ((ty(p.dst) & mask) != 0) ^ neg);
            b(ok)
        }
        Match::Comment(_) => M::Yes,
        Match::Mark { value, mask, neg } => b(((pkt.meta.mark & mask) == *value) ^ neg),
        Match::ConnMark { value, mask, neg } => {
            match tracked(pkt).and_then(|r| cx.conntrack.get(r.id)) {
                Some(c) => b(((c.mark & mask) == *value) ^ neg),
                None => M::No,
            }
        }
        Match::Length { min, max, neg } => b((p.tot_len >= *min && p.tot_len <= *max) ^ neg),
        Match::Ttl { op, value } => b(match op {
            TtlOp::Eq => p.ttl == *value,
            TtlOp::Ne => p.ttl != *value,
            TtlOp::Lt => p.ttl < *value,
            TtlOp::Gt => p.ttl > *value,
        }),
        Match::Tos { value, mask, neg } => b(((p.tos & mask) == *value) ^ neg),
        Match::Dscp { dscp, neg } => b(((p.tos >> 2) == *dscp) ^ neg),
        // Every packet on a TUN device is PACKET_HOST.
        // `skb->pkt_type`, which a TUN device leaves at PACKET_HOST; a looped-back packet
        // (PACKET_LOOPBACK) counts as multicast or, whatever its address, broadcast.
        Match::PktType { kind, neg } => {
            let ty = if !pkt.meta.looped {
                ast::PktType::Unicast
            } else if p.dst.is_multicast() {
                ast::PktType::Multicast
            } else {
                ast::PktType::Broadcast
            };
            b((*kind == ty) ^ neg)
        }
        Match::State { states, neg } => b(((state_bits(pkt, cx) & states) != 0) ^ neg),
        Match::Conntrack(c) => conntrack_match(c, pkt, cx, st.now),
        Match::Limit(_) | Match::Statistic(_) | Match::Recent(_) => M::Yes,
        Match::Unsupported { .. } => M::No,
    }
}

fn tracked(pkt: &PacketBuf) -> Option<CtRef> {
    pkt.meta.ct.filter(|r| r.info != CtInfo::Untracked)
}

/// The state bits of `xt_conntrack` / `xt_state` for this packet.
fn state_bits(pkt: &PacketBuf, cx: &HookCtx<'_>) -> u16 {
    match pkt.meta.ct {
        Some(r) if r.info == CtInfo::Untracked => ctstate::UNTRACKED,
        Some(r) if cx.conntrack.get(r.id).is_some() => match r.info {
            CtInfo::Established | CtInfo::EstablishedReply => ctstate::ESTABLISHED,
            CtInfo::Related | CtInfo::RelatedReply => ctstate::RELATED,
            CtInfo::New => ctstate::NEW,
            CtInfo::Untracked => ctstate::UNTRACKED,
        },
        _ => ctstate::INVALID,
    }
}

fn conntrack_match(m: &ast::ConntrackMatch, pkt: &PacketBuf, cx: &HookCtx<'_>, now: u64) -> M {
    let r = tracked(pkt);
    let c = r.and_then(|r| cx.conntrack.get(r.id));
    if let Some((mask, neg)) = m.state {
        let mut bits = state_bits(pkt, cx);
        if let Some(c) = c {
            if c.status & status::SRC_NAT != 0 {
                bits |= ctstate::SNAT;
            }
            if c.status & status::DST_NAT != 0 {
                bits |= ctstate::DNAT;
            }
        }
        if ((bits & mask) != 0) == neg {
            return M::No;
        }
    }
    // No connection (INVALID, UNTRACKED): `conntrack_mt` matches exactly when a --ctstate
    // was given (and passed above), whatever the other options say.
    let (Some(c), Some(r)) = (c, r) else {
        return b(m.state.is_some());
    };
    if let Some(d) = m.dir {
        let orig = !r.info.is_reply();
        if orig != (d == ast::CtDir::Original) {
            return M::No;
        }
    }
    let (o, rp) = (
        &c.tuple[Dir::Original as usize],
        &c.tuple[Dir::Reply as usize],
    );
    let net = |x: &Option<ast::NetMatch>, a: Ipv4Addr| {
        x.as_ref().is_none_or(|n| n.net.contains(a) ^ n.neg)
    };
    let port = |x: &Option<ast::PortMatch>, v: u16| {
        x.as_ref().is_none_or(|pm| pm.range.contains(v) ^ pm.neg)
    };
    let ok = m.proto.is_none_or(|(pr, neg)| (o.proto == pr) ^ neg)
        && net(&m.orig_src, o.src)
        && net(&m.orig_dst, o.dst)
        && net(&m.repl_src, rp.src)
        && net(&m.repl_dst, rp.dst)
        && port(&m.orig_src_port, o.sport)
        && port(&m.orig_dst_port, o.dport)
        && port(&m.repl_src_port, rp.sport)
        && port(&m.repl_dst_port, rp.dport)
        && m.status
            .is_none_or(|(mask, neg)| ((c.kernel_status() & mask) != 0) ^ neg)
        && m.expire.is_none_or(|(lo, hi, neg)| {
            let secs = c.expires_secs(now);
            (secs >= u64::from(lo) && secs <= u64::from(hi)) ^ neg
        });
    b(ok)
}

fn addr_type(cx: &HookCtx<'_>, a: Ipv4Addr, dev: Option<crate::packet::IfIndex>) -> u16 {
    if a.is_unspecified() || a.is_broadcast() {
        return ast::rtn::BROADCAST;
    }
    if a.is_multicast() {
        return ast::rtn::MULTICAST;
    }
    match cx.fib.local_type(a) {
        Some((RouteType::Local, d)) if dev.is_none_or(|x| x == d) => ast::rtn::LOCAL,
        Some((RouteType::Broadcast, d)) if dev.is_none_or(|x| x == d) => ast::rtn::BROADCAST,
        _ => ast::rtn::UNICAST,
    }
}

/// `tcp_find_option`: kinds 0 and 1 are one byte; any other advances by its length byte,
/// or by one when that is 0.
fn tcp_has_option(opts: &[u8], want: u8) -> bool {
    let mut i = 0;
    while i < opts.len() {
        match opts[i] {
            o if o == want => return true,
            0 | 1 => i += 1,
            _ => {
                let l = opts.get(i + 1).copied().unwrap_or(0) as usize;
                i += l.max(1);
            }
        }
    }
    false
}

fn set_tos(pkt: &mut PacketBuf, f: impl Fn(u8) -> u8) {
    let mut ip = Ipv4Packet::new_unchecked(pkt.data_mut());
    let old = ip.tos();
    let new = f(old);
    if new != old {
        let c = checksum::update16(
            ip.checksum(),
            u16::from_be_bytes([0x40 | ip.ihl(), old]),
            u16::from_be_bytes([0x40 | ip.ihl(), new]),
        );
        ip.set_tos(new);
        ip.set_checksum(c);
    }
}

fn connmark(t: &ast::ConnmarkTarget, pkt: &mut PacketBuf, cx: &mut HookCtx<'_>) {
    let Some(r) = tracked(pkt) else { return };
    // The loader refuses shifts of 32 or more, as the kernel does.
    let shift = |v: u32| {
        let n = u32::from(t.shift_bits);
        if t.shift_right {
            v.checked_shr(n).unwrap_or(0)
        } else {
            v.checked_shl(n).unwrap_or(0)
        }
    };
    let Some(c) = cx.conntrack.get_mut(r.id) else {
        return;
    };
    match t.op {
        // connmark_tg_shift shifts the whole new mark when it sets one.
        ConnmarkOp::Set { value, mask } => c.mark = shift((c.mark & !mask) ^ value),
        ConnmarkOp::Save { nfmask, ctmask } => {
            let nf = shift(pkt.meta.mark & nfmask);
            c.mark = (c.mark & !ctmask) ^ nf;
        }
        ConnmarkOp::Restore { nfmask, ctmask } => {
            let m = shift(c.mark & ctmask);
            pkt.meta.mark = (pkt.meta.mark & !nfmask) ^ m;
        }
    }
}

/// `TCPMSS` (`tcpmss_mangle_packet`): lower the MSS option of a SYN to the configured value
/// (or to the path MTU less 40: the smaller of the egress interface's MTU and the MTU of the
/// route back to the sender), or, when a SYN without payload has no MSS option, add one of
/// at most 536 (RFC 1122's default).
fn tcpmss(a: &TcpMssAction, pkt: &mut PacketBuf, st: &HookState, cx: &HookCtx<'_>) {
    let p = Pkt::read(pkt.data());
    if p.proto != proto::TCP || p.frag_off != 0 {
        return;
    }
    let hl = p.hlen;
    let seg_len = pkt.len().saturating_sub(hl);
    let (flags, doff) = {
        let l4 = &pkt.data()[hl..];
        if l4.len() < 20 {
            return;
        }
        (l4[13], (l4[12] >> 4) as usize * 4)
    };
    if flags & 0x02 == 0 || doff < 20 || doff > seg_len {
        return;
    }
    let newmss = match a {
        TcpMssAction::Set(v) => *v,
        TcpMssAction::ClampToPmtu => {
            let out_mtu = st.out_dev.map_or(1500, |d| cx.mtu(d));
            let back = cx.fib.lookup(p.src).map_or(out_mtu, |r| cx.mtu(r.dev));
            (out_mtu.min(back) as u16).saturating_sub(40)
        }
    };
    let (src, dst) = (p.src.octets(), p.dst.octets());
    // An existing MSS option: lowered only.
    {
        let l4 = &mut pkt.data_mut()[hl..];
        let mut i = 20;
        while i < doff {
            match l4[i] {
                0 => break,
                1 => i += 1,
                kind => {
                    let Some(&l) = l4.get(i + 1) else { return };
                    let l = l as usize;
                    if l < 2 || i + l > doff {
                        return;
                    }
                    if kind == 2 && l == 4 {
                        let old = u16::from_be_bytes([l4[i + 2], l4[i + 3]]);
                        if old > newmss {
                            let c = u16::from_be_bytes([l4[16], l4[17]]);
                            l4[i + 2..i + 4].copy_from_slice(&newmss.to_be_bytes());
                            let nc = checksum::update16(c, old, newmss);
                            l4[16..18].copy_from_slice(&nc.to_be_bytes());
                        }
                        return;
                    }
                    i += l;
                }
            }
        }
    }
    // None: add one, if the SYN carries no data and the header has room.
    if seg_len > doff || doff >= 60 || !pkt.extend(4) {
        return;
    }
    let mss = newmss.min(536);
    let total = pkt.len();
    let data = pkt.data_mut();
    data.copy_within(hl + 20..total - 4, hl + 24);
    data[hl + 20..hl + 24].copy_from_slice(&[2, 4, (mss >> 8) as u8, mss as u8]);
    data[hl + 12] = (((doff + 4) / 4) as u8) << 4 | (data[hl + 12] & 0x0f);
    let mut ip = Ipv4Packet::new_unchecked(&mut data[..]);
    ip.set_total_len(total as u16);
    ip.fill_checksum();
    crate::wire::tcp::TcpPacket::new_unchecked(&mut data[hl..total]).fill_checksum_v4(src, dst);
}

/// `LOG`: the kernel's `nf_log_ip_packet` line ([`super::log`]), through tracing (without
/// the kernel's trailing space).
fn log_packet(l: &ast::LogTarget, pkt: &PacketBuf, st: &HookState, cx: &HookCtx<'_>) {
    let w = super::log::Where {
        prefix: &l.prefix,
        flags: l.flags,
        in_dev: st.in_dev.map(|d| cx.if_name(d)),
        out_dev: st.out_dev.map(|d| cx.if_name(d)),
        in_loopback: st.in_dev == Some(crate::packet::IfIndex::LOOPBACK),
        mark: pkt.meta.mark,
    };
    let line = super::log::line(&w, pkt.data());
    tracing::info!(target: "router::log", "{}", line.trim_end());
}

fn list_line(r: &Rule, k: Counters) -> String {
    let target = match &r.target {
        None => String::new(),
        Some(Target::Jump(n)) | Some(Target::Goto(n)) => n.clone(),
        Some(t) => target_name(t).to_string(),
    };
    // The columns as iptables 1.8's print_rule_details, print_fragment, print_ifaces and
    // print_ipv4_addresses lay them out with -nvx: protocol as a number, "--" / "-f" /
    // "!f", "*" for any interface, a "!" before an inverted field.
    let (mut pinv, mut proto) = (' ', 0u8);
    let (mut sinv, mut src) = (' ', "0.0.0.0/0".to_string());
    let (mut dinv, mut dst) = (' ', "0.0.0.0/0".to_string());
    let (mut ind, mut outd) = ("*".to_string(), "*".to_string());
    let mut opt = "--";
    let addr = |n: &ast::NetMatch| {
        let s = n.net.to_string();
        s.strip_suffix("/32").map(str::to_string).unwrap_or(s)
    };
    for m in &r.matches {
        match m {
            Match::Proto { proto: pr, neg } => {
                proto = *pr;
                if *neg {
                    pinv = '!';
                }
            }
            Match::Src(n) => {
                src = addr(n);
                if n.neg {
                    sinv = '!';
                }
            }
            Match::Dst(n) => {
                dst = addr(n);
                if n.neg {
                    dinv = '!';
                }
            }
            Match::InIface { iface, neg } => {
                ind = format!("{}{iface}", if *neg { "!" } else { "" })
            }
            Match::OutIface { iface, neg } => {
                outd = format!("{}{iface}", if *neg { "!" } else { "" })
            }
            Match::Fragment { neg } => opt = if *neg { "!f" } else { "-f" },
            _ => {}
        }
    }
    let goto = if matches!(r.target, Some(Target::Goto(_))) {
        "[goto] "
    } else {
        ""
    };
    format!(
        "{:>8} {:>8} {:<9} {pinv}{:<4} {opt}  {:<6} {:<6} {sinv}{:<19} {dinv}{:<19} {goto}{}",
        k.packets,
        k.bytes,
        target,
        proto,
        ind,
        outd,
        src,
        dst,
        super::list::options(r)
    )
}

fn target_name(t: &Target) -> &'static str {
    match t {
        Target::Accept => "ACCEPT",
        Target::Drop => "DROP",
        Target::Return => "RETURN",
        Target::Jump(_) | Target::Goto(_) => "",
        Target::Reject(_) => "REJECT",
        Target::Log(_) => "LOG",
        Target::Nflog(_) => "NFLOG",
        Target::Mark { .. } => "MARK",
        Target::ConnMark(_) => "CONNMARK",
        Target::Ttl(_) => "TTL",
        Target::Tos { .. } => "TOS",
        Target::Dscp(_) => "DSCP",
        Target::TcpMss(_) => "TCPMSS",
        // iptables lists NOTRACK under its implementation, the CT target.
        Target::NoTrack => "CT",
        Target::Ct(_) => "CT",
        Target::Trace => "TRACE",
        Target::Checksum => "CHECKSUM",
        Target::Snat(_) => "SNAT",
        Target::Dnat(_) => "DNAT",
        Target::Masquerade(_) => "MASQUERADE",
        Target::Redirect(_) => "REDIRECT",
        Target::Netmap(_) => "NETMAP",
        Target::Unsupported { .. } => "?",
    }
}

/// The callback of one hooked built-in chain.
struct TableHook {
    table: usize,
    chain: usize,
}

impl HookFn for TableHook {
    fn call(&mut self, pkt: &mut PacketBuf, st: &HookState, cx: &mut HookCtx<'_>) -> Verdict {
        Tables::run_chain(self.table, self.chain, pkt, st, cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::netfilter::tables::parse::parse_str;
    use crate::packet::{IfIndex, Meta};
    use crate::pipeline::{Router, Sink};
    use std::path::Path;

    struct Out(Vec<(IfIndex, Vec<u8>)>);
    impl Sink for Out {
        fn transmit(&mut self, oif: IfIndex, data: &[u8], _m: &Meta) {
            self.0.push((oif, data.to_vec()));
        }
    }

    fn router(rules: &str) -> Router {
        let cfg = Config::parse(
            "[[interface]]\nname = \"lan0\"\naddresses = [\"10.0.0.1/24\"]\n[[interface]]\nname = \"wan0\"\naddresses = [\"203.0.113.1/24\"]\n[[route]]\nto = \"0.0.0.0/0\"\nvia = \"203.0.113.254\"\n[sysctl]\n\"net.ipv4.ip_forward\" = 1\n",
            Path::new("t.toml"),
        )
        .unwrap();
        let mut r = Router::new(cfg);
        let rs = parse_str(rules, "rules.v4").unwrap();
        r.set_tables(Tables::load(&rs, 1).unwrap());
        r
    }

    fn udp(dst: [u8; 4], dport: u16) -> PacketBuf {
        let mut v = vec![0u8; 28];
        v[0] = 0x45;
        v[2..4].copy_from_slice(&28u16.to_be_bytes());
        v[8] = 64;
        v[9] = 17;
        v[12..16].copy_from_slice(&[10, 0, 0, 2]);
        v[16..20].copy_from_slice(&dst);
        v[20..22].copy_from_slice(&5000u16.to_be_bytes());
        v[22..24].copy_from_slice(&dport.to_be_bytes());
        v[24..26].copy_from_slice(&8u16.to_be_bytes());
        let c = checksum::checksum(&v[..20]);
        v[10..12].copy_from_slice(&c.to_be_bytes());
        let mut p = PacketBuf::with_capacity(100);
        p.load(&v);
        p
    }

    #[test]
    fn tcp_options_are_walked_as_tcp_find_option() {
        // A length of 1 advances one byte (the kernel's `op[i+1] ?: 1` takes 1 as it is).
        assert!(tcp_has_option(&[5, 1, 2, 4, 5, 0xb4], 2));
        // A length of 0 advances one byte too.
        assert!(tcp_has_option(&[9, 0, 8], 8));
        assert!(tcp_has_option(&[1, 1, 2, 4, 5, 0xb4], 2));
        assert!(!tcp_has_option(&[2, 4, 5, 0xb4], 8));
        assert!(!tcp_has_option(&[3], 2));
    }

    #[test]
    fn conntrack_without_a_connection_matches_on_state_alone() {
        // An untracked packet: --ctstate UNTRACKED passes and the other options are not
        // looked at (conntrack_mt returns after the state test when there is no entry).
        let mut r = router(
            "*raw\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j NOTRACK\nCOMMIT\n\
             *filter\n:FORWARD ACCEPT [0:0]\n\
             -A FORWARD -m conntrack --ctstate UNTRACKED --ctproto tcp --ctorigsrc 1.2.3.4\n\
             -A FORWARD -m conntrack --ctproto udp\nCOMMIT\n",
        );
        let mut out = Out(Vec::new());
        r.receive(IfIndex(2), &mut udp([192, 0, 2, 1], 53), 1, &mut out);
        let save = r.tables.save(true);
        assert!(
            save.contains("[1:28] -A FORWARD -m conntrack --ctstate UNTRACKED"),
            "{save}"
        );
        assert!(
            save.contains("[0:0] -A FORWARD -m conntrack --ctproto 17"),
            "{save}"
        );
    }

    #[test]
    fn file_counters_are_taken_only_with_restore_counters() {
        let dir = std::env::temp_dir().join(format!("router-counters-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("rules.v4"),
            "*filter\n:INPUT ACCEPT [9:900]\n[4:400] -A INPUT -j ACCEPT\nCOMMIT\n",
        )
        .unwrap();
        let save = |extra: &str| {
            let toml = dir.join("router.toml");
            std::fs::write(
                &toml,
                format!("[[interface]]\nname = \"lan0\"\naddresses = [\"10.0.0.1/24\"]\n[netfilter]\nrules = \"rules.v4\"\n{extra}"),
            )
            .unwrap();
            Router::load(Config::load(&toml).unwrap())
                .unwrap()
                .tables
                .save(true)
        };
        // As plain `iptables-restore`: the counters start at zero.
        let plain = save("");
        assert!(
            plain.contains(":INPUT ACCEPT [0:0]") && plain.contains("[0:0] -A INPUT"),
            "{plain}"
        );
        // As `iptables-restore -c`.
        let c = save("restore_counters = true\n");
        assert!(
            c.contains(":INPUT ACCEPT [9:900]") && c.contains("[4:400] -A INPUT"),
            "{c}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn restore_replaces_only_the_tables_in_the_file() {
        let mut r = router(
            "*nat\n:POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -o wan0 -j MASQUERADE\nCOMMIT\n\
             *mangle\n:FORWARD ACCEPT [0:0]\n-A FORWARD -m recent --set --name B\nCOMMIT\n\
             *filter\n:FORWARD ACCEPT [0:0]\n-A FORWARD -m recent --set --name A\nCOMMIT\n",
        );
        let mut out = Out(Vec::new());
        r.receive(IfIndex(2), &mut udp([192, 0, 2, 1], 53), 1, &mut out);
        assert_eq!(out.0.len(), 1);
        let before = r.tables.save(true);
        assert!(
            before.contains("[1:28] -A POSTROUTING -o wan0 -j MASQUERADE"),
            "{before}"
        );
        assert!(r.tables.recent.has("A") && r.tables.recent.has("B"));

        // The file holds filter (with counters) and an empty mangle section.
        let file = "*filter\n:FORWARD DROP [7:700]\n[3:300] -A FORWARD -m recent --rcheck --name A\nCOMMIT\n*mangle\nCOMMIT\n";
        let rs = parse_str(file, "new.v4").unwrap();
        let names: Vec<TableName> = rs.tables.iter().map(|t| t.name).collect();
        let mut t = std::mem::take(&mut r.tables);
        t.restore(&names, Tables::load(&rs, 1).unwrap(), false);
        let after = t.save(true);
        // nat untouched, counters included; mangle gone (iptables-nft deletes an empty
        // table); filter replaced with zeroed counters.
        assert!(
            after.contains("[1:28] -A POSTROUTING -o wan0 -j MASQUERADE"),
            "{after}"
        );
        assert!(!after.contains("*mangle"), "{after}");
        assert!(after.contains(":FORWARD DROP [0:0]"), "{after}");
        assert!(
            after.contains("[0:0] -A FORWARD -m recent --rcheck --name A"),
            "{after}"
        );
        // The list still named (A) keeps its addresses; B is no longer named and is freed.
        assert_eq!(t.recent.len("A"), 1);
        assert!(!t.recent.has("B"));

        // With -c the file's counters are taken.
        t.restore(&names, Tables::load(&rs, 1).unwrap(), true);
        let c = t.save(true);
        assert!(
            c.contains(":FORWARD DROP [7:700]") && c.contains("[3:300] -A FORWARD"),
            "{c}"
        );
        r.set_tables(t);
        // The new filter drops; MASQUERADE still registered (nat kept).
        assert!(r.tables.has_nat());
        r.receive(IfIndex(2), &mut udp([192, 0, 2, 1], 53), 2, &mut out);
        assert_eq!(out.0.len(), 1);
    }

    #[test]
    fn jumps_returns_policy_and_counters() {
        let mut r = router(
            "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n:CHK - [0:0]\n\
             -A FORWARD -p udp --dport 53 -j CHK\n-A FORWARD -p udp --dport 54 -g CHK\n\
             -A CHK -d 192.0.2.1/32 -j ACCEPT\n-A CHK -m comment --comment \"count\"\nCOMMIT\n",
        );
        let mut out = Out(Vec::new());
        // dport 53 to .1: CHK accepts.
        r.receive(IfIndex(2), &mut udp([192, 0, 2, 1], 53), 1, &mut out);
        // dport 53 to .2: CHK returns, then the FORWARD policy drops.
        r.receive(IfIndex(2), &mut udp([192, 0, 2, 2], 53), 2, &mut out);
        // dport 54 to .2: goto CHK, falls off its end: the policy of FORWARD.
        r.receive(IfIndex(2), &mut udp([192, 0, 2, 2], 54), 3, &mut out);
        assert_eq!(out.0.len(), 1);
        let save = r.tables.save(true);
        assert!(save.contains(":FORWARD DROP [2:56]"), "{save}");
        assert!(
            save.contains("[2:56] -A FORWARD -p udp -m udp --dport 53 -j CHK"),
            "{save}"
        );
        assert!(
            save.contains("[1:28] -A CHK -d 192.0.2.1/32 -j ACCEPT"),
            "{save}"
        );
        assert!(
            save.contains("[2:56] -A CHK -m comment --comment count"),
            "{save}"
        );
        r.tables.zero();
        assert!(r.tables.save(true).contains(":FORWARD DROP [0:0]"));
    }

    #[test]
    fn reject_answers_and_marks_and_tos() {
        let mut r = router(
            "*mangle\n:FORWARD ACCEPT [0:0]\n-A FORWARD -j MARK --set-xmark 0x5/0xff\n-A FORWARD -m mark --mark 0x5 -j TOS --set-tos 0x10/0xff\nCOMMIT\n\
             *filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A FORWARD -p udp --dport 9 -j REJECT --reject-with icmp-admin-prohibited\nCOMMIT\n",
        );
        let mut out = Out(Vec::new());
        r.receive(IfIndex(2), &mut udp([192, 0, 2, 1], 9), 1, &mut out);
        assert_eq!(out.0.len(), 1);
        let (oif, pkt) = &out.0[0];
        assert_eq!(*oif, IfIndex(2));
        assert_eq!((pkt[20], pkt[21]), (3, 13));
        // The quoted packet carries the TOS set in mangle.
        assert_eq!(pkt[28 + 1], 0x10);
        r.receive(IfIndex(2), &mut udp([192, 0, 2, 1], 10), 2, &mut out);
        assert_eq!(out.0[1].1[1], 0x10);
    }

    #[test]
    fn unsupported_rules_refuse_the_file() {
        let rs = parse_str(
            "*raw\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -p tcp -j CT --helper ftp\nCOMMIT\n",
            "r",
        )
        .unwrap();
        let e = Tables::load(&rs, 1).unwrap_err();
        assert_eq!(e.problems[0].0.line, 3);
        assert!(e.problems[0].1.contains("helper"), "{:?}", e.problems);
    }
}
