//! The live router: `router run -c router.toml` opens one TUN device per `[[interface]]`
//! (in the network namespace the interface names, if any), forwards between them through the
//! same [`Router`] pipeline `replay` uses, and serves the control socket.
//!
//! # Threads and tasks
//!
//! One thread, a tokio current-thread runtime with a `LocalSet`. The pipeline is one
//! synchronous `&mut Router` (FIB, rules, conntrack, rate limiters) and a packet's walk is
//! a few microseconds of CPU with no I/O: on one thread it needs no lock and no atomic on the
//! datapath, and the control socket's requests run between batches, so every answer is a
//! consistent snapshot. Per device there is a receive task (bounded batches of [`BATCH`]
//! packets per wake-up, then a yield) and a transmit task (its bounded queue); see
//! [`datapath`]. This machine class has two cores; one of them is the kernel's, moving the
//! packets on the other side of the TUN devices.
//!
//! Growing to one worker per TUN queue: open each device with `IFF_MULTI_QUEUE` (one
//! descriptor per queue, the kernel spreading flows across them by hash), run one such
//! current-thread runtime per worker thread, each with its own queue descriptors, buffers and
//! transmit queues, and split the `Router` into per-worker parts (rate-limiter and conntrack
//! shards keyed by the same flow hash, so a flow stays on one worker) and shared read-mostly
//! parts (FIB, hooks, config) published by pointer swap on change. The datapath code here
//! is written per device and per `State`, which is what each worker would own.
//!
//! # Life cycle
//!
//! Start-up checks `/dev/net/tun` first (its errors explain the fix), builds the pipeline
//! (loading the rules file, as `replay` does), creates the devices
//! (failing on the first one that cannot be made, removing those already made), then
//! publishes the control socket: its appearance means the router is up. SIGHUP re-reads the
//! configuration: a file that does not load, or that changes the set of interfaces (their
//! names, order or namespaces), or whose rules file the pipeline refuses, is logged and the
//! running configuration stays; otherwise the routes, addresses, sysctls, iptables rules and
//! MTUs are replaced atomically between two batches and the counters carry over. Routes added
//! with `ctl route add` are replaced too (the file is the truth). The connection table (NAT
//! bindings included) and the reassembly queues are kept, under the new sysctls; flows
//! masqueraded out of an interface whose addresses changed are removed. SIGTERM and SIGINT stop the
//! router: the devices are closed, which removes them from their namespaces, and the control
//! socket is removed.
//!
//! `now` for the pipeline is `CLOCK_MONOTONIC` in nanoseconds ([`clock`]).

pub mod clock;
pub mod control;
pub mod datapath;
pub mod device;
pub mod netns;

use crate::config::Config;
use crate::pipeline::Router;
use datapath::{Port, State, BATCH};
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use tokio::signal::unix::{signal, SignalKind};

/// The pipeline for a configuration, built the way `replay` builds it: with its rules file
/// loaded (a file the router cannot run as the kernel would fails a start-up or a reload).
pub fn build_router(cfg: Config) -> Result<Router, String> {
    Router::load(cfg)
}

/// `router run`: run until SIGTERM or SIGINT. `socket` overrides the control socket's path.
pub fn run(config_path: &Path, socket: Option<&Path>) -> Result<(), String> {
    let cfg = Config::load(config_path).map_err(|e| e.to_string())?;
    if cfg.interfaces.is_empty() {
        return Err(format!(
            "{}: no [[interface]]: nothing to route between",
            config_path.display()
        ));
    }
    let sock_path = crate::ctl::socket_path(socket, Some(&cfg))?;
    device::check_tun_node()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("starting the runtime: {e}"))?;
    let local = tokio::task::LocalSet::new();
    let result = local.block_on(&rt, serve(config_path.to_path_buf(), cfg, sock_path));
    // Dropping the tasks closes the devices' descriptors: the kernel removes the devices.
    drop(local);
    drop(rt);
    if result.is_ok() {
        tracing::info!("stopped; devices removed");
    }
    result
}

fn describe_port(p: &Port) -> String {
    match &p.netns {
        Some(n) => format!("{} (netns {n}, mtu {})", p.name, p.mtu),
        None => format!("{} (mtu {})", p.name, p.mtu),
    }
}

async fn serve(config_path: PathBuf, cfg: Config, sock_path: PathBuf) -> Result<(), String> {
    let mut sock = crate::ctl::server::bind(&sock_path)?;
    let sig = |k: SignalKind, name: &str| {
        signal(k).map_err(|e| format!("installing the {name} handler: {e}"))
    };
    let mut hup = sig(SignalKind::hangup(), "SIGHUP")?;
    let mut term = sig(SignalKind::terminate(), "SIGTERM")?;
    let mut int = sig(SignalKind::interrupt(), "SIGINT")?;

    // The pipeline first: a configuration it refuses fails before any device exists.
    let router = build_router(cfg)?;
    let mut ports = Vec::new();
    for iface in &router.config.interfaces {
        let i = iface.clone();
        let dev = netns::run_in(iface.netns.as_deref(), move || device::create(&i))?;
        let fd = device::register(dev, &iface.name)?;
        ports.push(Port::new(iface, Rc::new(fd)));
    }
    let up: Vec<String> = ports.iter().map(describe_port).collect();
    let state = Rc::new(RefCell::new(State::new(router, ports)));
    {
        let st = state.borrow();
        for p in &st.ports {
            let Some(dev) = p.dev.clone() else { continue };
            tokio::task::spawn_local(datapath::rx_task(state.clone(), dev.clone(), p.index));
            tokio::task::spawn_local(datapath::tx_task(
                state.clone(),
                dev,
                p.index,
                p.tx_wake.clone(),
            ));
        }
    }
    sock.publish()?;
    tracing::info!(
        "router running: {}; control socket {}; batches of {BATCH}",
        up.join(", "),
        sock.path().display()
    );

    let handler: Rc<dyn crate::ctl::server::Handler> =
        Rc::new(control::Control::new(state.clone()));
    let serving = sock.serve(handler);
    tokio::pin!(serving);
    let mut listening = true;
    loop {
        tokio::select! {
            _ = &mut serving, if listening => {
                tracing::error!("control socket: stopped accepting connections");
                listening = false;
            }
            _ = hup.recv() => reload(&state, &config_path),
            _ = term.recv() => { tracing::info!("SIGTERM: shutting down"); break; }
            _ = int.recv() => { tracing::info!("SIGINT: shutting down"); break; }
        }
    }
    let mut st = state.borrow_mut();
    st.taps.close_all();
    for p in &mut st.ports {
        p.dev = None;
        p.tx_wake.notify_one();
    }
    Ok(())
}

/// SIGHUP: re-read the configuration; keep the running one if the new one is not usable.
pub fn reload(state: &RefCell<State>, path: &Path) {
    let cfg = match Config::load(path) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("SIGHUP: {e}; keeping the running configuration");
            return;
        }
    };
    let mut st = state.borrow_mut();
    let shape = |c: &Config| -> Vec<(String, Option<String>)> {
        c.interfaces
            .iter()
            .map(|i| (i.name.clone(), i.netns.clone()))
            .collect()
    };
    if shape(&cfg) != shape(&st.router.config) {
        tracing::error!(
            "SIGHUP: {}: the interfaces changed (names, order or namespaces); keeping the running configuration (restart the router to change its devices)",
            path.display()
        );
        return;
    }
    let mtus: Vec<u32> = cfg.interfaces.iter().map(|i| i.mtu).collect();
    let (n_if, n_routes) = (cfg.interfaces.len(), cfg.routes.len());
    let mut router = match build_router(cfg) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("SIGHUP: {e}; keeping the running configuration");
            return;
        }
    };
    router.stats = st.router.stats.clone();
    // Flows survive the reload, as a rules swap leaves the kernel's table alone; the new
    // sysctls apply to them. Masqueraded flows out of an interface whose addresses changed
    // are dropped, as the kernel's masquerade notifier does when an address goes away.
    let mut ct = std::mem::replace(
        &mut st.router.conntrack,
        crate::netfilter::conntrack::Conntrack::new(router.conntrack.cfg.clone(), 0),
    );
    ct.cfg = crate::netfilter::conntrack::CtConfig {
        buckets: ct.cfg.buckets,
        ..router.conntrack.cfg.clone()
    };
    for (old, new) in st
        .router
        .config
        .interfaces
        .iter()
        .zip(&router.config.interfaces)
    {
        if old.addresses != new.addresses {
            let n = ct.delete_masquerading(new.index.0);
            if n > 0 {
                tracing::info!(
                    "SIGHUP: {}: addresses changed; {n} masqueraded flows removed",
                    new.name
                );
            }
        }
    }
    let kept = ct.count();
    router.conntrack = ct;
    let mut defrag = std::mem::replace(
        &mut st.router.defrag,
        crate::defrag::Defrag::new(router.defrag.config()),
    );
    defrag.set_config(router.defrag.config());
    router.defrag = defrag;
    st.router = router;
    tracing::info!("SIGHUP: {kept} connection-tracking entries kept");
    for (p, mtu) in st.ports.iter_mut().zip(mtus) {
        if p.mtu == mtu {
            continue;
        }
        if p.dev.is_some() {
            let name = p.name.clone();
            if let Err(e) = netns::run_in(p.netns.as_deref(), move || device::set_mtu(&name, mtu)) {
                tracing::warn!(
                    "SIGHUP: {}: the kernel side keeps MTU {}: {e}",
                    p.name,
                    p.mtu
                );
            }
        }
        p.mtu = mtu;
    }
    tracing::info!(
        "SIGHUP: reloaded {} ({n_if} interfaces, {n_routes} routes)",
        path.display()
    );
}
