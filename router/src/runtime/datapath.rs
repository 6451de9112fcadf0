//! The live datapath: per-device receive and transmit tasks around the one [`Router`].
//!
//! Each device has a receive task that owns its buffers (a read buffer and a `PacketBuf` of
//! 65535 bytes, allocated once), waits for the descriptor to become readable, and then reads
//! and routes at most [`BATCH`] packets before yielding, so a busy interface cannot starve the
//! others. What the pipeline transmits is written to the output device at once without
//! blocking; only when the device's kernel queue pushes back (`EAGAIN`) is the packet copied
//! into that device's bounded [`TxQueue`], which its transmit task drains when the device is
//! writable again. A full queue drops and counts (`tx_queue_drops`): a device that is slow to
//! take packets never holds up reading or writing on another.
//!
//! A read error other than `EAGAIN`/`EINTR` means the device is gone (deleted, or its
//! namespace destroyed: the kernel answers `EBADFD`): that is logged, its tasks end, packets
//! routed to it are counted as `tx_gone`, and every other interface keeps running.
//!
//! Trace and capture subscribers (the control socket's streams) are fed from here as JSON
//! lines through bounded channels; a subscriber that cannot keep up loses lines (counted)
//! rather than slowing the router. With no subscriber, nothing is formatted or copied.

use super::clock;
use super::device::{tx_queue_limit, TxQueue};
use crate::config::Interface;
use crate::ctl::hex;
use crate::netfilter::hooks::DropReason;
use crate::packet::{IfIndex, Meta, Origin, PacketBuf};
use crate::pipeline::{Router, Sink, TraceEvent, MAX_PACKET};
use serde_json::json;
use std::cell::RefCell;
use std::rc::Rc;
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::sync::{mpsc, Notify};

/// Packets read (or written from a queue) per device per wake-up.
pub const BATCH: usize = 64;

/// A device registered with the reactor.
pub type Device = AsyncFd<tun::Device>;

/// Counters the runtime keeps per device, beside the pipeline's.
#[derive(Debug, Default, Clone, Copy)]
pub struct PortCounters {
    /// Packets dropped because the device's transmit queue was full.
    pub tx_queue_drops: u64,
    /// Writes the device refused (e.g. `EIO` while it is down).
    pub tx_errors: u64,
    /// Packets routed to the device after it disappeared.
    pub tx_gone: u64,
}

/// One interface of the running router.
pub struct Port {
    /// Device name.
    pub name: String,
    /// Interface index in the pipeline.
    pub index: IfIndex,
    /// The namespace it lives in (as configured).
    pub netns: Option<String>,
    /// Current MTU.
    pub mtu: u32,
    /// The device; None once it has disappeared.
    pub dev: Option<Rc<Device>>,
    /// Packets waiting for the device.
    pub txq: TxQueue,
    /// Wakes the transmit task.
    pub tx_wake: Rc<Notify>,
    /// Runtime counters.
    pub counters: PortCounters,
    tx_error_logged: bool,
}

impl Port {
    /// A port for a configured interface and its opened device.
    pub fn new(iface: &Interface, dev: Rc<Device>) -> Port {
        Port {
            name: iface.name.clone(),
            index: iface.index,
            netns: iface.netns.clone(),
            mtu: iface.mtu,
            dev: Some(dev),
            txq: TxQueue::new(tx_queue_limit(iface.mtu)),
            tx_wake: Rc::new(Notify::new()),
            counters: PortCounters::default(),
            tx_error_logged: false,
        }
    }

    /// The device is gone (deleted, or its namespace destroyed): log it once, stop using it.
    fn mark_gone(&mut self, why: &std::io::Error) {
        if self.dev.take().is_none() {
            return;
        }
        self.txq.clear();
        self.tx_wake.notify_one();
        let ns = self
            .netns
            .as_deref()
            .map(|n| format!(" (netns {n})"))
            .unwrap_or_default();
        tracing::error!(
            "{}{ns}: device disappeared ({why}); packets routed to it are dropped (tx_gone), the other interfaces keep running",
            self.name
        );
    }

    /// Send a packet now, or queue it if the device pushes back, or drop and count.
    fn transmit(&mut self, data: &[u8]) {
        let Some(dev) = &self.dev else {
            self.counters.tx_gone += 1;
            return;
        };
        if self.txq.is_empty() {
            match dev.get_ref().send(data) {
                Ok(_) => return,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) if e.raw_os_error() == Some(libc::EBADFD) => {
                    self.counters.tx_gone += 1;
                    self.mark_gone(&e);
                    return;
                }
                Err(e) => {
                    self.counters.tx_errors += 1;
                    if !self.tx_error_logged {
                        self.tx_error_logged = true;
                        tracing::warn!("{}: write: {e} (counted as tx_errors; further errors are only counted)", self.name);
                    }
                    return;
                }
            }
        }
        if self.txq.push(data) {
            self.tx_wake.notify_one();
        } else {
            self.counters.tx_queue_drops += 1;
        }
    }
}

/// A stream subscriber's end of a bounded channel.
struct Tap {
    tx: mpsc::Sender<String>,
    lost: u64,
    closed: bool,
}

impl Tap {
    /// Returns how many lines were lost by this send.
    fn send(&mut self, line: String) -> u64 {
        use mpsc::error::TrySendError;
        if self.lost > 0 {
            let note = json!({"event": "lost", "count": self.lost}).to_string();
            match self.tx.try_send(note) {
                Ok(()) => self.lost = 0,
                Err(TrySendError::Full(_)) => {
                    self.lost += 1;
                    return 1;
                }
                Err(TrySendError::Closed(_)) => {
                    self.closed = true;
                    return 0;
                }
            }
        }
        match self.tx.try_send(line) {
            Ok(()) => 0,
            Err(TrySendError::Full(_)) => {
                self.lost += 1;
                1
            }
            Err(TrySendError::Closed(_)) => {
                self.closed = true;
                0
            }
        }
    }
}

/// The control socket's live subscribers.
#[derive(Default)]
pub struct Taps {
    traces: Vec<(Option<IfIndex>, Tap)>,
    captures: Vec<(IfIndex, Tap)>,
    events: Vec<Tap>,
    /// Scratch for conntrack events on their way to subscribers.
    event_lines: Vec<String>,
    /// Lines lost by slow subscribers since start.
    pub lost: u64,
}

impl Taps {
    /// Add a trace subscriber (all packets, or those received on `iif`).
    pub fn add_trace(&mut self, iif: Option<IfIndex>, tx: mpsc::Sender<String>) {
        self.traces.push((
            iif,
            Tap {
                tx,
                lost: 0,
                closed: false,
            },
        ));
    }

    /// Add a capture subscriber for interface `index`.
    pub fn add_capture(&mut self, index: IfIndex, tx: mpsc::Sender<String>) {
        self.captures.push((
            index,
            Tap {
                tx,
                lost: 0,
                closed: false,
            },
        ));
    }

    /// Add a `conntrack -E` subscriber.
    pub fn add_events(&mut self, tx: mpsc::Sender<String>) {
        self.events.push(Tap {
            tx,
            lost: 0,
            closed: false,
        });
    }

    fn tracing(&self, iif: IfIndex) -> bool {
        self.traces.iter().any(|(f, _)| f.is_none_or(|f| f == iif))
    }

    fn trace(&mut self, iif: IfIndex, line: String) {
        let mut lost = 0;
        for (f, t) in &mut self.traces {
            if f.is_none_or(|f| f == iif) {
                lost += t.send(line.clone());
            }
        }
        self.lost += lost;
    }

    fn capturing(&self, index: IfIndex) -> bool {
        self.captures.iter().any(|(i, _)| *i == index)
    }

    fn capture(&mut self, index: IfIndex, dir: &str, data: &[u8], originated: bool) {
        let line = json!({"dir": dir, "ts_ns": clock::wall_ns(), "originated": originated, "data": hex(data)})
            .to_string();
        let mut lost = 0;
        for (i, t) in &mut self.captures {
            if *i == index {
                lost += t.send(line.clone());
            }
        }
        self.lost += lost;
    }

    /// Forget subscribers that went away.
    fn sweep(&mut self) {
        self.traces.retain(|(_, t)| !t.closed && !t.tx.is_closed());
        self.captures
            .retain(|(_, t)| !t.closed && !t.tx.is_closed());
        self.events.retain(|t| !t.closed && !t.tx.is_closed());
    }

    /// Hand the connection table's events to their subscribers; stop collecting them when
    /// nobody listens.
    pub fn flush_events(&mut self, ct: &mut crate::netfilter::conntrack::Conntrack) {
        if self.events.is_empty() {
            ct.watch_events(false);
            return;
        }
        ct.watch_events(true);
        let mut lines = std::mem::take(&mut self.event_lines);
        ct.drain_events(&mut lines);
        let mut lost = 0;
        for l in lines.drain(..) {
            let line = json!({ "ct": l }).to_string();
            for t in &mut self.events {
                lost += t.send(line.clone());
            }
        }
        self.lost += lost;
        self.event_lines = lines;
    }

    /// End every stream (the router is stopping).
    pub fn close_all(&mut self) {
        self.traces.clear();
        self.captures.clear();
        self.events.clear();
    }
}

/// Everything the tasks share. Lives on the runtime's one thread (`Rc<RefCell<_>>`); no
/// borrow is ever held across an `.await`.
pub struct State {
    /// The pipeline.
    pub router: Router,
    /// The devices, in configuration order (index = interface index - 2).
    pub ports: Vec<Port>,
    /// Stream subscribers.
    pub taps: Taps,
    /// Packets received since start (numbers trace events).
    pub packets: u64,
}

fn port_of(ports: &mut [Port], idx: IfIndex) -> Option<&mut Port> {
    ports.iter_mut().find(|p| p.index == idx)
}

fn name_of(ports: &[Port], idx: IfIndex) -> String {
    if idx == IfIndex::LOOPBACK {
        return "lo".into();
    }
    ports
        .iter()
        .find(|p| p.index == idx)
        .map(|p| p.name.clone())
        .unwrap_or_else(|| format!("if{}", idx.0))
}

impl State {
    /// State for a router and its opened devices.
    pub fn new(router: Router, ports: Vec<Port>) -> State {
        State {
            router,
            ports,
            taps: Taps::default(),
            packets: 0,
        }
    }

    /// The port with this interface index.
    pub fn port_mut(&mut self, idx: IfIndex) -> Option<&mut Port> {
        port_of(&mut self.ports, idx)
    }

    /// One packet read from `iif`.
    fn process(&mut self, iif: IfIndex, data: &[u8], pkt: &mut PacketBuf) {
        self.packets += 1;
        let now = clock::monotonic_ns();
        let tracing = self.taps.tracing(iif);
        if self.taps.capturing(iif) {
            self.taps.capture(iif, "rx", data, false);
        }
        if tracing {
            let line = json!({"packet": self.packets, "sub": 0, "event": "receive",
                "iface": name_of(&self.ports, iif), "ts_ns": clock::wall_ns(), "len": data.len(),
                "summary": crate::wire::describe::describe(data)})
            .to_string();
            self.taps.trace(iif, line);
        }
        if !pkt.load(data) {
            self.router.stats.drops[DropReason::TooBig as usize] += 1;
            return;
        }
        let State {
            router,
            ports,
            taps,
            packets,
        } = self;
        let mut sink = LiveSink {
            ports,
            taps,
            packet: *packets,
            iif,
            tracing,
        };
        router.receive(iif, pkt, now, &mut sink);
    }

    /// A device is gone: log it, stop using it, keep the rest running.
    fn device_gone(&mut self, idx: IfIndex, why: &std::io::Error) {
        if let Some(p) = self.port_mut(idx) {
            p.mark_gone(why);
        }
    }
}

/// The pipeline's view of the devices while it handles one packet.
struct LiveSink<'a> {
    ports: &'a mut [Port],
    taps: &'a mut Taps,
    packet: u64,
    iif: IfIndex,
    tracing: bool,
}

impl Sink for LiveSink<'_> {
    fn transmit(&mut self, oif: IfIndex, data: &[u8], meta: &Meta) {
        if self.taps.capturing(oif) {
            self.taps
                .capture(oif, "tx", data, meta.origin == Origin::Local);
        }
        if let Some(p) = port_of(self.ports, oif) {
            p.transmit(data);
        }
    }

    fn trace_enabled(&self) -> bool {
        self.tracing
    }

    fn trace(&mut self, ev: &TraceEvent<'_>) {
        let line = trace_json(ev, self.packet, |i| name_of(self.ports, i)).to_string();
        self.taps.trace(self.iif, line);
    }
}

/// A trace event as `router replay --trace` writes it.
pub fn trace_json(
    ev: &TraceEvent<'_>,
    packet: u64,
    name: impl Fn(IfIndex) -> String,
) -> serde_json::Value {
    match ev {
        TraceEvent::Hook {
            sub,
            hook,
            priority,
            callback,
            verdict,
            changed,
        } => json!({
            "packet": packet, "sub": sub, "event": "hook", "hook": hook.chain_name(),
            "priority": priority, "callback": callback, "verdict": verdict.name(), "changed": changed,
        }),
        TraceEvent::Route {
            sub,
            decision,
            oif,
            nexthop,
        } => json!({
            "packet": packet, "sub": sub, "event": "route", "decision": decision,
            "oif": oif.map(&name), "nexthop": nexthop.map(|n| n.to_string()),
        }),
        TraceEvent::Originate { sub, what } => {
            json!({"packet": packet, "sub": sub, "event": "originate", "what": what})
        }
        TraceEvent::Drop { sub, reason } => {
            json!({"packet": packet, "sub": sub, "event": "drop", "reason": reason.name()})
        }
        TraceEvent::Transmit { sub, oif, len } => {
            json!({"packet": packet, "sub": sub, "event": "transmit", "oif": name(*oif), "len": len})
        }
    }
}

/// Read, route, repeat: one device's receive loop.
pub async fn rx_task(state: Rc<RefCell<State>>, dev: Rc<Device>, iif: IfIndex) {
    let mut buf = vec![0u8; MAX_PACKET];
    let mut pkt = PacketBuf::with_capacity(MAX_PACKET);
    loop {
        // ERROR too: a deleted device reports only EPOLLERR (and reads then fail EBADFD).
        let guard = match dev.ready(Interest::READABLE | Interest::ERROR).await {
            Ok(g) => g,
            Err(e) => {
                state.borrow_mut().device_gone(iif, &e);
                return;
            }
        };
        match read_batch(&state, guard, iif, &mut buf, &mut pkt) {
            None => return,
            Some(BATCH) => tokio::task::yield_now().await,
            Some(_) => {}
        }
    }
}

/// Read and route up to [`BATCH`] packets; how many, or None when the device is gone.
fn read_batch(
    state: &RefCell<State>,
    mut guard: tokio::io::unix::AsyncFdReadyGuard<'_, tun::Device>,
    iif: IfIndex,
    buf: &mut [u8],
    pkt: &mut PacketBuf,
) -> Option<usize> {
    let mut st = state.borrow_mut();
    let mut n = 0;
    while n < BATCH {
        match guard.try_io(|fd| fd.get_ref().recv(buf)) {
            Err(_would_block) => break,
            Ok(Ok(len)) => {
                n += 1;
                st.process(iif, &buf[..len], pkt);
            }
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Ok(Err(e)) => {
                st.device_gone(iif, &e);
                return None;
            }
        }
    }
    st.taps.sweep();
    let State { router, taps, .. } = &mut *st;
    taps.flush_events(&mut router.conntrack);
    Some(n)
}

/// Drain one device's transmit queue whenever it has packets and the device takes them.
pub async fn tx_task(state: Rc<RefCell<State>>, dev: Rc<Device>, oif: IfIndex, wake: Rc<Notify>) {
    loop {
        wake.notified().await;
        loop {
            match state.borrow_mut().port_mut(oif) {
                Some(p) if p.dev.is_some() => {
                    if p.txq.is_empty() {
                        break;
                    }
                }
                _ => return,
            }
            let guard = match dev.writable().await {
                Ok(g) => g,
                Err(_) => return,
            };
            match write_batch(&state, guard, oif) {
                None => return,
                Some(BATCH) => tokio::task::yield_now().await,
                Some(_) => {}
            }
        }
    }
}

/// Write up to [`BATCH`] queued packets; how many were taken off the queue (None: no port).
fn write_batch(
    state: &RefCell<State>,
    mut guard: tokio::io::unix::AsyncFdReadyGuard<'_, tun::Device>,
    oif: IfIndex,
) -> Option<usize> {
    let mut st = state.borrow_mut();
    let p = st.port_mut(oif)?;
    let mut sent = 0;
    while sent < BATCH {
        let Some(data) = p.txq.front() else { break };
        match guard.try_io(|fd| fd.get_ref().send(data)) {
            Err(_would_block) => break,
            Ok(Ok(_)) => p.txq.pop(),
            Ok(Err(_)) => {
                p.counters.tx_errors += 1;
                p.txq.pop();
            }
        }
        sent += 1;
    }
    Some(sent)
}
