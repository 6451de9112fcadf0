//! The hook registry through the whole pipeline: which hooks a packet visits on each path, in
//! which order, and what each verdict does (ACCEPT, DROP, QUEUE with reinjection, STOLEN,
//! REPEAT), plus the per-packet trace. Packets are built with etherparse, an implementation
//! independent of the router's own wire views.

use etherparse::PacketBuilder;
use router::config::Config;
use router::netfilter::hooks::{DropReason, Family, Hook, HookState, Verdict};
use router::packet::{IfIndex, Meta, PacketBuf};
use router::pipeline::{Router, Sink, TraceEvent};
use std::path::Path;
use std::sync::{Arc, Mutex};

const CFG: &str = r#"
[[interface]]
name = "lan0"
addresses = ["10.0.0.1/24"]
[[interface]]
name = "wan0"
addresses = ["203.0.113.1/24"]
[[route]]
to = "0.0.0.0/0"
via = "203.0.113.254"
[sysctl]
"net.ipv4.ip_forward" = 1
"#;
const LAN: IfIndex = IfIndex(2);
const WAN: IfIndex = IfIndex(3);

fn router() -> Router {
    Router::new(Config::parse(CFG, Path::new("test.toml")).unwrap())
}

fn udp(src: [u8; 4], dst: [u8; 4], ttl: u8) -> PacketBuf {
    let b = PacketBuilder::ipv4(src, dst, ttl).udp(40000, 53);
    let mut v = Vec::new();
    b.write(&mut v, b"hello").unwrap();
    let mut p = PacketBuf::with_capacity(2048);
    p.load(&v);
    p
}

#[derive(Default)]
struct Collect {
    out: Vec<(IfIndex, Vec<u8>)>,
    trace: bool,
    events: Vec<String>,
}

impl Sink for Collect {
    fn transmit(&mut self, oif: IfIndex, data: &[u8], _meta: &Meta) {
        self.out.push((oif, data.to_vec()));
    }
    fn trace_enabled(&self) -> bool {
        self.trace
    }
    fn trace(&mut self, e: &TraceEvent<'_>) {
        self.events.push(match e {
            TraceEvent::Hook {
                hook,
                callback,
                verdict,
                changed,
                ..
            } => format!("{hook} {callback} {} {changed:?}", verdict.name()),
            TraceEvent::Drop { reason, .. } => format!("drop {}", reason.name()),
            other => format!("{other:?}")
                .split_whitespace()
                .next()
                .unwrap()
                .to_string(),
        });
    }
}

type Log = Arc<Mutex<Vec<String>>>;

fn recorder(r: &mut Router, log: &Log, hook: Hook, prio: i32, name: &str, verdict: Verdict) {
    let log = log.clone();
    let n = format!("{hook}:{name}");
    r.hooks.register(
        Family::Ipv4,
        hook,
        prio,
        name,
        Box::new(move |_: &mut PacketBuf, _: &HookState| {
            log.lock().unwrap().push(n.clone());
            verdict
        }),
    );
}

fn all_hooks(r: &mut Router, log: &Log) {
    for h in Hook::ALL {
        recorder(r, log, h, 0, "rec", Verdict::Accept);
    }
}

#[test]
fn paths_visit_the_kernels_hooks() {
    // forwarded: PREROUTING → FORWARD → POSTROUTING
    let mut r = router();
    let log = Log::default();
    all_hooks(&mut r, &log);
    let mut sink = Collect::default();
    r.receive(
        LAN,
        &mut udp([10, 0, 0, 2], [192, 0, 2, 9], 64),
        0,
        &mut sink,
    );
    assert_eq!(
        *log.lock().unwrap(),
        ["PREROUTING:rec", "FORWARD:rec", "POSTROUTING:rec"]
    );
    assert_eq!(sink.out.len(), 1);
    assert_eq!(sink.out[0].0, WAN);

    // to the router: PREROUTING → INPUT, then the port unreachable OUTPUT → POSTROUTING
    log.lock().unwrap().clear();
    r.receive(
        LAN,
        &mut udp([10, 0, 0, 2], [10, 0, 0, 1], 64),
        0,
        &mut sink,
    );
    assert_eq!(
        *log.lock().unwrap(),
        [
            "PREROUTING:rec",
            "INPUT:rec",
            "OUTPUT:rec",
            "POSTROUTING:rec"
        ]
    );
    assert_eq!(sink.out.last().unwrap().0, LAN);
}

#[test]
fn priorities_order_callbacks_and_drop_stops_the_walk() {
    let mut r = router();
    let log = Log::default();
    recorder(
        &mut r,
        &log,
        Hook::PreRouting,
        0,
        "filter-like",
        Verdict::Accept,
    );
    recorder(
        &mut r,
        &log,
        Hook::PreRouting,
        -300,
        "raw-like",
        Verdict::Accept,
    );
    recorder(&mut r, &log, Hook::PreRouting, 10, "dropper", Verdict::Drop);
    recorder(&mut r, &log, Hook::PreRouting, 20, "never", Verdict::Accept);
    let mut sink = Collect::default();
    r.receive(
        LAN,
        &mut udp([10, 0, 0, 2], [192, 0, 2, 9], 64),
        0,
        &mut sink,
    );
    assert_eq!(
        *log.lock().unwrap(),
        [
            "PREROUTING:raw-like",
            "PREROUTING:filter-like",
            "PREROUTING:dropper"
        ]
    );
    assert!(sink.out.is_empty());
    assert_eq!(r.stats.drops[DropReason::HookDrop as usize], 1);
}

#[test]
fn queue_without_consumer_drops_and_with_consumer_reinjects() {
    let mut r = router();
    let log = Log::default();
    recorder(&mut r, &log, Hook::Forward, 0, "queue", Verdict::Queue(3));
    recorder(&mut r, &log, Hook::Forward, 5, "after", Verdict::Accept);
    let mut sink = Collect::default();
    r.receive(
        LAN,
        &mut udp([10, 0, 0, 2], [192, 0, 2, 9], 64),
        0,
        &mut sink,
    );
    assert_eq!(r.stats.drops[DropReason::QueueNoConsumer as usize], 1);
    assert!(sink.out.is_empty());

    r.queues.bind(3);
    r.receive(
        LAN,
        &mut udp([10, 0, 0, 2], [192, 0, 2, 9], 64),
        0,
        &mut sink,
    );
    assert!(sink.out.is_empty());
    assert_eq!(r.queues.len(3), 1);
    let q = r.queues.pop(3).unwrap();
    assert_eq!(q.hook(), Hook::Forward);
    r.reinject(q, Verdict::Accept, 0, &mut sink);
    // Resumes after the queueing callback: "after" runs, the packet leaves.
    assert_eq!(log.lock().unwrap().last().unwrap(), "FORWARD:after");
    assert_eq!(sink.out.len(), 1);
    assert_eq!(sink.out[0].0, WAN);

    r.receive(
        LAN,
        &mut udp([10, 0, 0, 2], [192, 0, 2, 9], 64),
        0,
        &mut sink,
    );
    let q = r.queues.pop(3).unwrap();
    r.reinject(q, Verdict::Drop, 0, &mut sink);
    assert_eq!(sink.out.len(), 1);
}

#[test]
fn stolen_stops_silently_and_repeat_is_bounded() {
    let mut r = router();
    let log = Log::default();
    recorder(&mut r, &log, Hook::PreRouting, 0, "thief", Verdict::Stolen);
    let mut sink = Collect::default();
    r.receive(
        LAN,
        &mut udp([10, 0, 0, 2], [192, 0, 2, 9], 64),
        0,
        &mut sink,
    );
    assert!(sink.out.is_empty());
    assert_eq!(r.stats.drops.iter().sum::<u64>(), 0);

    let mut r = router();
    // REPEAT twice, then ACCEPT: the same callback is called three times.
    let calls = Arc::new(Mutex::new(0));
    let c = calls.clone();
    r.hooks.register(
        Family::Ipv4,
        Hook::PreRouting,
        0,
        "repeat-twice",
        Box::new(move |_: &mut PacketBuf, _: &HookState| {
            let mut n = c.lock().unwrap();
            *n += 1;
            if *n < 3 {
                Verdict::Repeat
            } else {
                Verdict::Accept
            }
        }),
    );
    r.receive(
        LAN,
        &mut udp([10, 0, 0, 2], [192, 0, 2, 9], 64),
        0,
        &mut sink,
    );
    assert_eq!(*calls.lock().unwrap(), 3);
    assert_eq!(sink.out.len(), 1);

    // A callback that always says REPEAT cannot hang the router.
    let mut r = router();
    r.hooks.register(
        Family::Ipv4,
        Hook::PreRouting,
        0,
        "forever",
        Box::new(|_: &mut PacketBuf, _: &HookState| Verdict::Repeat),
    );
    r.receive(
        LAN,
        &mut udp([10, 0, 0, 2], [192, 0, 2, 9], 64),
        0,
        &mut sink,
    );
    assert_eq!(r.stats.drops[DropReason::RepeatLimit as usize], 1);
}

#[test]
fn callbacks_may_modify_and_the_trace_says_what_changed() {
    let mut r = router();
    // A mangle-like callback: set TOS 0x10 and fix the checksum.
    r.hooks.register(
        Family::Ipv4,
        Hook::Forward,
        -150,
        "set-tos",
        Box::new(|p: &mut PacketBuf, _: &HookState| {
            let d = p.data_mut();
            d[1] = 0x10;
            d[10] = 0;
            d[11] = 0;
            let c = router::wire::checksum::checksum(&d[..20]);
            d[10..12].copy_from_slice(&c.to_be_bytes());
            p.meta.mark = 7;
            Verdict::Accept
        }),
    );
    let mut sink = Collect {
        trace: true,
        ..Default::default()
    };
    r.receive(
        LAN,
        &mut udp([10, 0, 0, 2], [192, 0, 2, 9], 64),
        0,
        &mut sink,
    );
    assert_eq!(sink.out[0].1[1], 0x10);
    assert_eq!(sink.out[0].1[8], 63);
    let hook_line = sink
        .events
        .iter()
        .find(|e| e.starts_with("FORWARD"))
        .unwrap();
    assert_eq!(
        hook_line,
        "FORWARD set-tos ACCEPT [\"mark\", \"tos\", \"ip.checksum\"]"
    );
    assert!(
        sink.events.iter().any(|e| e == "Route"),
        "{:?}",
        sink.events
    );
    assert!(
        sink.events.iter().any(|e| e == "Transmit"),
        "{:?}",
        sink.events
    );
}

#[test]
fn ttl_expiry_originates_time_exceeded_through_output() {
    let mut r = router();
    let log = Log::default();
    all_hooks(&mut r, &log);
    let mut sink = Collect::default();
    r.receive(
        LAN,
        &mut udp([10, 0, 0, 2], [192, 0, 2, 9], 1),
        0,
        &mut sink,
    );
    assert_eq!(
        *log.lock().unwrap(),
        ["PREROUTING:rec", "OUTPUT:rec", "POSTROUTING:rec"]
    );
    let (oif, pkt) = &sink.out[0];
    assert_eq!(*oif, LAN);
    let ip = etherparse::Ipv4HeaderSlice::from_slice(pkt).unwrap();
    assert_eq!(ip.source(), [10, 0, 0, 1]);
    assert_eq!(ip.destination(), [10, 0, 0, 2]);
    assert_eq!(pkt[20], 11);
    assert_eq!(r.stats.drops[DropReason::TtlExpired as usize], 1);
}

#[test]
fn garbage_never_panics() {
    let mut r = router();
    let mut sink = Collect {
        trace: true,
        ..Default::default()
    };
    let mut p = PacketBuf::with_capacity(256);
    // Deterministic pseudo-random bytes, every length up to 120, on both interfaces.
    let mut x: u32 = 0x1234_5678;
    for len in 0..120 {
        let mut v = Vec::with_capacity(len);
        for _ in 0..len {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            v.push(x as u8);
        }
        if len > 0 {
            v[0] = 0x45;
        }
        p.load(&v);
        r.receive(
            if len % 2 == 0 { LAN } else { WAN },
            &mut p,
            len as u64,
            &mut sink,
        );
    }
}
