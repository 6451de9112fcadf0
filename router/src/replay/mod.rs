//! Offline replay: packets from a capture are fed to the pipeline in order, as arriving on the
//! interface the capture names, with the capture's timestamp as `now`; everything the router
//! emits is collected per interface, with an optional per-packet, per-callback JSON trace.

pub mod compare;
pub mod logcap;
pub mod pcap;

use crate::netfilter::hooks::DropReason;
use crate::packet::{IfIndex, Meta, Origin, PacketBuf};
use crate::pipeline::{Router, Sink, TraceEvent, MAX_PACKET};
use pcap::Captured;
use serde_json::json;
use std::io::Write;

/// A replay problem that stops it (bad input is otherwise counted, not fatal).
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// A packet arrives on an interface the configuration does not have.
    #[error("packet {packet} arrives on interface `{iface}`, which is not in {config} (interfaces: {known})")]
    UnknownInterface {
        /// 1-based packet number.
        packet: usize,
        /// Interface name in the capture.
        iface: String,
        /// Config file.
        config: String,
        /// Known interfaces.
        known: String,
    },
    /// Writing the trace failed.
    #[error("writing the trace: {0}")]
    Trace(#[from] std::io::Error),
}

/// What a replay produced.
#[derive(Debug, Default)]
pub struct ReplayResult {
    /// Every packet the router transmitted, in order.
    pub emitted: Vec<Captured>,
    /// Input packets processed.
    pub inputs: usize,
    /// Input packets larger than the largest IPv4 packet (dropped, counted as too big).
    pub oversized: usize,
}

struct ReplaySink<'a, 't> {
    names: Vec<String>,
    now: u64,
    packet: usize,
    emitted: &'a mut Vec<Captured>,
    trace: Option<&'t mut dyn Write>,
    trace_err: Option<std::io::Error>,
}

impl Sink for ReplaySink<'_, '_> {
    fn transmit(&mut self, oif: IfIndex, data: &[u8], meta: &Meta) {
        let iface = self
            .names
            .get(oif.0 as usize)
            .cloned()
            .unwrap_or_else(|| format!("if{}", oif.0));
        let comment = (meta.origin == Origin::Local).then(|| pcap::ORIGINATED.to_string());
        self.emitted.push(Captured {
            iface,
            ts_ns: self.now,
            data: data.to_vec(),
            comment,
        });
    }
    fn trace_enabled(&self) -> bool {
        self.trace.is_some()
    }
    fn trace(&mut self, ev: &TraceEvent<'_>) {
        let name = |i: &IfIndex| self.names.get(i.0 as usize).cloned().unwrap_or_default();
        let v = match ev {
            TraceEvent::Hook {
                sub,
                hook,
                priority,
                callback,
                verdict,
                changed,
            } => json!({
                "packet": self.packet, "sub": sub, "event": "hook", "hook": hook.chain_name(),
                "priority": priority, "callback": callback, "verdict": verdict.name(), "changed": changed,
            }),
            TraceEvent::Route {
                sub,
                decision,
                oif,
                nexthop,
            } => json!({
                "packet": self.packet, "sub": sub, "event": "route", "decision": decision,
                "oif": oif.as_ref().map(name), "nexthop": nexthop.map(|n| n.to_string()),
            }),
            TraceEvent::Originate { sub, what } => {
                json!({"packet": self.packet, "sub": sub, "event": "originate", "what": what})
            }
            TraceEvent::Drop { sub, reason } => {
                json!({"packet": self.packet, "sub": sub, "event": "drop", "reason": reason.name()})
            }
            TraceEvent::Transmit { sub, oif, len } => {
                json!({"packet": self.packet, "sub": sub, "event": "transmit", "oif": name(oif), "len": len})
            }
        };
        self.write_line(&v);
    }
}

impl ReplaySink<'_, '_> {
    fn write_line(&mut self, v: &serde_json::Value) {
        if let Some(t) = self.trace.as_mut() {
            if let Err(e) = writeln!(t, "{v}") {
                self.trace_err.get_or_insert(e);
            }
        }
    }
}

/// Replay `inputs` through `router`. Deterministic: the same inputs give the same outputs.
pub fn replay<'t>(
    router: &mut Router,
    inputs: &[Captured],
    trace: Option<&'t mut dyn Write>,
) -> Result<ReplayResult, ReplayError> {
    let mut names = vec![String::new(), "lo".to_string()];
    for i in &router.config.interfaces {
        names.push(i.name.clone());
    }
    let mut result = ReplayResult::default();
    let mut emitted = Vec::new();
    let mut sink: ReplaySink<'_, 't> = ReplaySink {
        names,
        now: 0,
        packet: 0,
        emitted: &mut emitted,
        trace,
        trace_err: None,
    };
    let mut buf = PacketBuf::with_capacity(MAX_PACKET);
    for (n, c) in inputs.iter().enumerate() {
        let Some(iface) = router.config.interface_by_name(&c.iface) else {
            return Err(ReplayError::UnknownInterface {
                packet: n + 1,
                iface: c.iface.clone(),
                config: router.config.path.display().to_string(),
                known: router
                    .config
                    .interfaces
                    .iter()
                    .map(|i| i.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        };
        let iif = iface.index;
        sink.now = c.ts_ns;
        sink.packet = n + 1;
        if sink.trace.is_some() {
            let v = json!({"packet": n + 1, "sub": 0, "event": "receive", "iface": c.iface, "ts_ns": c.ts_ns,
                "len": c.data.len(), "summary": crate::wire::describe::describe(&c.data)});
            sink.write_line(&v);
        }
        if !buf.load(&c.data) {
            result.oversized += 1;
            router.stats.drops[DropReason::TooBig as usize] += 1;
            continue;
        }
        router.receive(iif, &mut buf, c.ts_ns, &mut sink);
        result.inputs += 1;
    }
    let err = sink.trace_err.take();
    drop(sink);
    if let Some(e) = err {
        return Err(ReplayError::Trace(e));
    }
    result.emitted = emitted;
    Ok(result)
}
