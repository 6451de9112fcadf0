//! The `router` command line.

use clap::{Parser, Subcommand};
use router::config::Config;
use router::netfilter::hooks::Family;
use router::pipeline::Router;
use router::replay::{self, compare, pcap};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "router",
    version,
    about = "A userspace IPv4 router with the Linux kernel's netfilter semantics"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Feed a capture through the router and write what it emits.
    Replay {
        /// Configuration file.
        #[arg(short, long, default_value = "router.toml")]
        config: PathBuf,
        /// Input capture (pcapng with interface names, or pcap with --iface).
        #[arg(short, long)]
        input: PathBuf,
        /// Output pcapng (one interface per router interface).
        #[arg(short, long)]
        output: PathBuf,
        /// Write a JSON line per packet per hook callback here.
        #[arg(long)]
        trace: Option<PathBuf>,
        /// For classic pcap input: the interface its packets arrive on.
        #[arg(long)]
        iface: Option<String>,
        /// Compare the output with this capture (e.g. a fixture's expected.pcapng); the
        /// expected.counters and expected.conntrack beside it are compared too.
        #[arg(long)]
        expect: Option<PathBuf>,
        /// Write the rule counters afterwards, in `iptables-save -c` format.
        #[arg(long)]
        counters: Option<PathBuf>,
        /// Write the connection table afterwards, in `conntrack -L` format (remaining
        /// timeouts on the packet clock).
        #[arg(long)]
        conntrack: Option<PathBuf>,
    },
    /// Print the routing tables (`ip route show table all`, then `route -n`).
    Routes {
        /// Configuration file.
        #[arg(short, long, default_value = "router.toml")]
        config: PathBuf,
    },
    /// List the callbacks registered at each hook, with priorities.
    Hooks {
        /// Configuration file.
        #[arg(short, long, default_value = "router.toml")]
        config: PathBuf,
    },
    /// Print effective sysctl values like `sysctl -a` (the kernel's defaults for everything
    /// not set); `-a` lists all, names list those, default lists the ones the router honours.
    Sysctl {
        /// Configuration file.
        #[arg(short, long, default_value = "router.toml")]
        config: PathBuf,
        /// Every name Linux has.
        #[arg(short = 'a', long)]
        all: bool,
        /// Names to show.
        names: Vec<String>,
    },
    /// Validate the configuration.
    Check {
        /// Configuration file.
        #[arg(short, long, default_value = "router.toml")]
        config: PathBuf,
    },
    /// Run the same capture through the Linux kernel (in a throwaway namespace) and through
    /// the router, and print the differences. Exit status 0 only when they agree.
    DiffKernel {
        /// Configuration file.
        #[arg(short, long, default_value = "router.toml")]
        config: PathBuf,
        /// Input capture.
        #[arg(short, long)]
        input: PathBuf,
        /// For classic pcap input: the interface its packets arrive on.
        #[arg(long)]
        iface: Option<String>,
        /// Write the kernel's output as DIR/expected.pcapng (a fixture's expectation).
        #[arg(long)]
        record: Option<PathBuf>,
    },
    /// Differential fuzzing: random scenarios through the kernel and the router; every
    /// confirmed disagreement is shrunk and (with --save) kept as a fixture. Exit 1 if any.
    FuzzKernel {
        /// Stop starting new scenarios after this many seconds.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// First seed (scenario i uses seed + i); default: from the clock.
        #[arg(long)]
        seed: Option<u64>,
        /// Write each minimal disagreement to DIR/fuzz-SEED/ as a fixture.
        #[arg(long)]
        save: Option<PathBuf>,
    },
    /// Print the packets of a capture, one line each.
    Decode {
        /// Capture file.
        #[arg(short, long)]
        input: PathBuf,
        /// For classic pcap input: the interface name to show.
        #[arg(long)]
        iface: Option<String>,
    },
    /// Run the router live on TUN devices (one per [[interface]], in its `netns` if given)
    /// until SIGTERM or Ctrl-C; SIGHUP reloads the configuration.
    Run {
        /// Configuration file.
        #[arg(short, long, default_value = "router.toml")]
        config: PathBuf,
        /// Control socket (default: [control] socket, else $XDG_RUNTIME_DIR/router.sock, or
        /// /run/router.sock as root).
        #[arg(long)]
        socket: Option<PathBuf>,
    },
    /// Talk to a running router through its control socket.
    Ctl {
        /// Control socket (default: as `router run` chooses it).
        #[arg(long, global = true)]
        socket: Option<PathBuf>,
        /// Read the socket's path from this configuration's [control] section (give it
        /// before the subcommand: `router ctl -c router.toml stats`).
        #[arg(short, long)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        cmd: router::ctl::client::CtlCmd,
    },
    /// Internal: the kernel side of diff-kernel, run inside `unshare -Urn`.
    #[command(hide = true)]
    KernelSide {
        #[arg(short, long)]
        config: PathBuf,
        #[arg(short, long)]
        input: PathBuf,
        #[arg(short, long)]
        output: PathBuf,
        #[arg(long)]
        iface: Option<String>,
    },
    /// Internal: write seed corpora for the cargo-fuzz targets (`fuzz/`) from the fixtures
    /// (and the iptables corpus in ../shared when present).
    #[command(hide = true)]
    FuzzCorpus {
        /// The fixtures directory.
        #[arg(long, default_value = "fixtures")]
        fixtures: PathBuf,
        /// Output: one directory per target.
        #[arg(long)]
        out: PathBuf,
    },
}

fn load(path: &Path) -> Result<Config, String> {
    Config::load(path).map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    restore_sigpipe();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("router: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, String> {
    match cli.cmd {
        Cmd::Replay {
            config,
            input,
            output,
            trace,
            iface,
            expect,
            counters,
            conntrack,
        } => {
            let cfg = load(&config)?;
            let (packets, skipped) =
                pcap::read_capture(&input, iface.as_deref()).map_err(|e| e.to_string())?;
            let mut router = Router::load(cfg)?;
            let mut trace_file = match &trace {
                Some(p) => Some(std::io::BufWriter::new(
                    std::fs::File::create(p).map_err(|e| format!("{}: {e}", p.display()))?,
                )),
                None => None,
            };
            let res = replay::replay(
                &mut router,
                &packets,
                trace_file.as_mut().map(|f| f as &mut dyn std::io::Write),
            )
            .map_err(|e| e.to_string())?;
            if let Some(mut f) = trace_file {
                std::io::Write::flush(&mut f).map_err(|e| format!("trace: {e}"))?;
            }
            let names: Vec<&str> = router
                .config
                .interfaces
                .iter()
                .map(|i| i.name.as_str())
                .collect();
            pcap::write_pcapng(&output, &names, &res.emitted).map_err(|e| e.to_string())?;
            print_summary(&router, &input, &output, packets.len(), skipped, &res);
            let last_ts = packets.last().map_or(0, |p| p.ts_ns);
            let ct_listing = router.conntrack.listing(last_ts);
            if let Some(p) = &counters {
                std::fs::write(p, router.tables.save(true))
                    .map_err(|e| format!("{}: {e}", p.display()))?;
            }
            if let Some(p) = &conntrack {
                std::fs::write(p, &ct_listing).map_err(|e| format!("{}: {e}", p.display()))?;
            }
            if let Some(exp) = expect {
                let (expected, _) = pcap::read_capture(&exp, None).map_err(|e| e.to_string())?;
                let diffs = compare::compare(&expected, &res.emitted, &|a| router.fib.is_local(a));
                let mut agree = true;
                let dir = exp.parent().unwrap_or(Path::new("."));
                if let Ok(k) = std::fs::read_to_string(dir.join("expected.counters")) {
                    let (only_k, only_r) = compare::compare_counters(&k, &router.tables.save(true));
                    if !only_k.is_empty() || !only_r.is_empty() {
                        agree = false;
                        println!("rule counters differ:");
                        only_k.iter().for_each(|l| println!("  expected: {l}"));
                        only_r.iter().for_each(|l| println!("  router:   {l}"));
                    }
                }
                if let Ok(k) = std::fs::read_to_string(dir.join("expected.conntrack")) {
                    let (only_k, only_r) =
                        router::netfilter::conntrack::diff_listings(&k, &ct_listing);
                    if !only_k.is_empty() || !only_r.is_empty() {
                        agree = false;
                        println!("conntrack differs (timeouts not compared):");
                        only_k.iter().for_each(|l| println!("  expected: {l}"));
                        only_r.iter().for_each(|l| println!("  router:   {l}"));
                    }
                }
                let code = report(&diffs, "expected");
                return Ok(if agree { code } else { ExitCode::from(1) });
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Routes { config } => {
            let cfg = load(&config)?;
            let router = Router::load(cfg)?;
            print!("{}", router.fib.format_ip_route(&router.config));
            println!();
            print!("{}", router.fib.format_route_n(&router.config));
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Hooks { config } => {
            let cfg = load(&config)?;
            let router = Router::load(cfg)?;
            print!("{}", router.hooks.listing(Family::Ipv4));
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Sysctl { config, all, names } => {
            let cfg = load(&config)?;
            let ifs: Vec<&str> = cfg.interfaces.iter().map(|i| i.name.as_str()).collect();
            let eff = cfg.sysctl.effective(&ifs);
            let mut missing = Vec::new();
            for n in &names {
                let n = n.replace('/', ".");
                match eff.iter().find(|(k, _, _)| *k == n) {
                    Some((k, v, _)) => println!("{k} = {v}"),
                    None => missing.push(n),
                }
            }
            if names.is_empty() {
                for (k, v, e) in &eff {
                    if all || *e == router::config::sysctl::Effect::Honoured {
                        println!("{k} = {v}");
                    }
                }
            }
            if !missing.is_empty() {
                return Err(format!("unknown sysctl: {}", missing.join(", ")));
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Check { config } => {
            let cfg = load(&config)?;
            println!(
                "{}: OK ({} interfaces, {} routes, {} sysctl settings)",
                config.display(),
                cfg.interfaces.len(),
                cfg.routes.len(),
                cfg.sysctl.writes.len()
            );
            let names: Vec<&str> = cfg.interfaces.iter().map(|i| i.name.as_str()).collect();
            let eff = cfg.sysctl.effective(&names);
            for (name, value) in &cfg.sysctl.writes {
                if let Some((_, _, router::config::sysctl::Effect::NoEffect)) =
                    eff.iter().find(|(n, _, _)| n == name)
                {
                    println!("  note: {name} = {value} is accepted (Linux has it) but has no effect in this router");
                }
            }
            if let Some(r) = &cfg.netfilter.rules {
                let rs =
                    router::netfilter::tables::parse::parse_file(r).map_err(|e| e.to_string())?;
                let n: usize = rs
                    .tables
                    .iter()
                    .flat_map(|t| &t.chains)
                    .map(|c| c.rules.len())
                    .sum();
                match router::netfilter::tables::eval::Tables::load(&rs, 0) {
                    Ok(t) => println!(
                        "{}: OK ({} tables, {n} rules{})",
                        r.display(),
                        rs.tables.len(),
                        if t.needs_conntrack() {
                            ", connection tracking on"
                        } else {
                            ""
                        }
                    ),
                    Err(e) => {
                        println!("{}: {} rule(s) use what this router does not implement (the whole file is refused):", r.display(), e.problems.len());
                        for (loc, m) in &e.problems {
                            println!("  {}:{loc}: {m}", r.display());
                        }
                        return Ok(ExitCode::from(1));
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::DiffKernel {
            config,
            input,
            iface,
            record,
        } => {
            let cfg = load(&config)?;
            let (packets, _) =
                pcap::read_capture(&input, iface.as_deref()).map_err(|e| e.to_string())?;
            eprintln!(
                "running {} packets through the kernel (this takes as long as the capture spans)…",
                packets.len()
            );
            let exe =
                std::env::current_exe().map_err(|e| format!("finding this executable: {e}"))?;
            let run = router::kernel::run_kernel(&exe, &config, &input, iface.as_deref())
                .map_err(|e| e.to_string())?;
            let kernel = &run.packets;
            if let Some(dir) = &record {
                std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                let names: Vec<&str> = cfg.interfaces.iter().map(|i| i.name.as_str()).collect();
                let p = dir.join("expected.pcapng");
                pcap::write_pcapng(&p, &names, kernel).map_err(|e| e.to_string())?;
                let log = match &run.log {
                    Some(Ok(lines)) if !lines.is_empty() => Some(
                        lines
                            .iter()
                            .map(|l| format!("{}\n", l.trim_end()))
                            .collect(),
                    ),
                    _ => None,
                };
                for (text, file) in [
                    (&run.conntrack, "expected.conntrack"),
                    (&run.counters, "expected.counters"),
                    (&log, "expected.log"),
                ] {
                    if let Some(t) = text.as_ref().filter(|t| !t.is_empty()) {
                        std::fs::write(dir.join(file), t).map_err(|e| format!("{file}: {e}"))?;
                    }
                }
                eprintln!(
                    "recorded the kernel's {} packets in {}",
                    kernel.len(),
                    p.display()
                );
            }
            let mut router = Router::load(cfg)?;
            let (res, log) =
                replay::logcap::capture(|| replay::replay(&mut router, &packets, None));
            let res = res.map_err(|e| e.to_string())?;
            let diffs = compare::compare(kernel, &res.emitted, &|a| router.fib.is_local(a));
            println!(
                "kernel emitted {} packets, router emitted {}",
                kernel.len(),
                res.emitted.len()
            );
            let last_ts = packets.last().map_or(0, |p| p.ts_ns);
            let router_ct = router.conntrack.listing(last_ts);
            let (only_kernel, only_router) = router::netfilter::conntrack::diff_listings(
                run.conntrack.as_deref().unwrap_or(""),
                &router_ct,
            );
            let ct_agree = only_kernel.is_empty() && only_router.is_empty();
            if !ct_agree {
                println!("conntrack tables differ (timeouts not compared):");
                for l in &only_kernel {
                    println!("  kernel only: {l}");
                }
                for l in &only_router {
                    println!("  router only: {l}");
                }
            } else if !router_ct.is_empty() {
                println!(
                    "conntrack tables agree ({} entries)",
                    router_ct.lines().count()
                );
            }
            let mut counters_agree = true;
            if let Some(k) = &run.counters {
                let ours = router.tables.save(true);
                // Per table, in the file's line order; tables themselves in any order.
                let (kl, rl) = compare::compare_counters(k, &ours);
                if !kl.is_empty() || !rl.is_empty() {
                    counters_agree = false;
                    println!("rule counters differ (iptables-save -c):");
                    for l in kl {
                        println!("  kernel: {l}");
                    }
                    for l in rl {
                        println!("  router: {l}");
                    }
                } else {
                    let n = k.lines().filter(|l| !l.starts_with('#')).count();
                    println!("rule counters agree ({n} lines)");
                }
            }
            let mut log_agree = true;
            match &run.log {
                Some(Ok(klog)) => {
                    let d = replay::logcap::compare(klog, &log);
                    if d.is_empty() {
                        println!("LOG lines agree ({})", klog.len());
                    } else {
                        log_agree = false;
                        println!("LOG lines differ:");
                        for l in d {
                            println!("  {l}");
                        }
                    }
                }
                Some(Err(why)) => println!("LOG lines not compared: {why} (needs root)"),
                None => {}
            }
            let code = report(&diffs, "kernel");
            Ok(if ct_agree && counters_agree && log_agree {
                code
            } else {
                ExitCode::from(1)
            })
        }
        Cmd::Decode { input, iface } => {
            let (packets, skipped) =
                pcap::read_capture(&input, iface.as_deref()).map_err(|e| e.to_string())?;
            for (n, p) in packets.iter().enumerate() {
                let t = p.ts_ns as f64 / 1e9;
                let mark = if p.comment.is_some() {
                    " (originated)"
                } else {
                    ""
                };
                println!(
                    "{:>5} {t:.6} {:<8} {}{mark}",
                    n + 1,
                    p.iface,
                    router::wire::describe::describe(&p.data)
                );
            }
            if skipped > 0 {
                println!("({skipped} non-IP packets skipped)");
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::FuzzKernel {
            seconds,
            seed,
            save,
        } => fuzz(seconds, seed, save),
        Cmd::Run { config, socket } => {
            router::runtime::run(&config, socket.as_deref())?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Ctl {
            socket,
            config,
            cmd,
        } => {
            let cfg = config.as_deref().map(load).transpose()?;
            let path = router::ctl::socket_path(socket.as_deref(), cfg.as_ref())?;
            router::ctl::client::main(&path, cmd)
        }
        Cmd::KernelSide {
            config,
            input,
            output,
            iface,
        } => {
            router::kernel::kernel_side(&config, &input, &output, iface.as_deref())
                .map_err(|e| e.to_string())?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::FuzzCorpus { fixtures, out } => {
            let n = fuzz_corpus(&fixtures, &out)?;
            eprintln!("wrote {n} seed inputs under {}", out.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Seeds for the fuzz targets: every fixture's packets (one file each for the packet
/// parser, one record stream per fixture for the pipeline), its rules and its router.toml.
fn fuzz_corpus(fixtures: &Path, out: &Path) -> Result<usize, String> {
    let mut n = 0;
    let io = |e: std::io::Error| e.to_string();
    for t in ["packet_parse", "pipeline", "rules_parser", "config_loader"] {
        std::fs::create_dir_all(out.join(t)).map_err(io)?;
    }
    let mut dirs: Vec<_> = std::fs::read_dir(fixtures)
        .map_err(|e| format!("{}: {e}", fixtures.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("input.pcapng").exists())
        .collect();
    dirs.sort();
    for d in dirs {
        let name = d
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let ifaces: Vec<String> = router::config::Config::load(&d.join("router.toml"))
            .map(|c| c.interfaces.into_iter().map(|i| i.name).collect())
            .unwrap_or_default();
        let (pkts, _) = router::replay::pcap::read_capture(&d.join("input.pcapng"), None)
            .map_err(|e| format!("{}: {e}", d.display()))?;
        let mut records = Vec::new();
        for (i, p) in pkts.iter().enumerate() {
            std::fs::write(
                out.join("packet_parse").join(format!("{name}-{i}")),
                &p.data,
            )
            .map_err(io)?;
            n += 1;
            let idx = ifaces.iter().position(|x| *x == p.iface).unwrap_or(0) as u8;
            records.push((idx, p.data.as_slice()));
        }
        std::fs::write(
            out.join("pipeline").join(&name),
            router::fuzzing::pipeline_input(&records, 20),
        )
        .map_err(io)?;
        n += 1;
        for (file, target) in [
            ("rules.v4", "rules_parser"),
            ("router.toml", "config_loader"),
        ] {
            if let Ok(text) = std::fs::read(d.join(file)) {
                std::fs::write(out.join(target).join(&name), text).map_err(io)?;
                n += 1;
            }
        }
    }
    let corpus = Path::new("../shared/iptables-corpus");
    if let Ok(rd) = std::fs::read_dir(corpus) {
        for e in rd.flatten() {
            let p = e.path();
            if p.extension()
                .is_some_and(|x| x == "rules" || x == "v4" || x == "txt")
            {
                if let Ok(text) = std::fs::read(&p) {
                    let f = p
                        .file_name()
                        .unwrap_or_default()
                        .to_string_lossy()
                        .to_string();
                    std::fs::write(out.join("rules_parser").join(format!("corpus-{f}")), text)
                        .map_err(io)?;
                    n += 1;
                }
            }
        }
    } else {
        eprintln!(
            "note: {} is absent: no iptables corpus seeds",
            corpus.display()
        );
    }
    Ok(n)
}

fn fuzz(seconds: u64, seed: Option<u64>, save: Option<PathBuf>) -> Result<ExitCode, String> {
    use router::kernel::fuzz;
    let exe = std::env::current_exe().map_err(|e| format!("finding this executable: {e}"))?;
    let base = seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    });
    let work = std::env::temp_dir().join(format!("router-fuzz-{}", std::process::id()));
    let start = std::time::Instant::now();
    let (mut runs, mut found, mut flaky) = (0u64, 0u64, 0u64);
    let mut i = 0;
    while start.elapsed().as_secs() < seconds {
        let s = base + i;
        i += 1;
        let mut rng = fastrand::Rng::with_seed(s);
        let scenario = fuzz::generate(&mut rng);
        let out = fuzz::check(&exe, &work, &scenario).map_err(|e| e.to_string())?;
        runs += 1;
        if out.diffs.is_empty() {
            eprintln!(
                "seed {s}: {} packets, agree ({} emitted)",
                scenario.packets.len(),
                out.kernel.len()
            );
            continue;
        }
        // The kernel's limiters run on real time: confirm before believing it.
        if fuzz::check(&exe, &work, &scenario)
            .map_err(|e| e.to_string())?
            .diffs
            .is_empty()
        {
            flaky += 1;
            eprintln!(
                "seed {s}: disagreement did not reproduce on a second kernel run (timing); ignored"
            );
            continue;
        }
        found += 1;
        eprintln!(
            "seed {s}: DISAGREEMENT ({} differences); shrinking…",
            out.diffs.len()
        );
        let mut budget = 60;
        let small = fuzz::shrink(&exe, &work, scenario, &mut budget).map_err(|e| e.to_string())?;
        let out = fuzz::check(&exe, &work, &small).map_err(|e| e.to_string())?;
        println!(
            "seed {s}: minimal scenario has {} packets:\n{}",
            small.packets.len(),
            small.config
        );
        for d in &out.diffs {
            println!("  {d}");
        }
        if let Some(dir) = &save {
            let d = dir.join(format!("fuzz-{s}"));
            std::fs::create_dir_all(&d).map_err(|e| format!("{}: {e}", d.display()))?;
            std::fs::write(d.join("router.toml"), &small.config).map_err(|e| e.to_string())?;
            let names: Vec<&str> = small.ifaces.iter().map(String::as_str).collect();
            pcap::write_pcapng(&d.join("input.pcapng"), &names, &small.packets)
                .map_err(|e| e.to_string())?;
            pcap::write_pcapng(&d.join("expected.pcapng"), &names, &out.kernel)
                .map_err(|e| e.to_string())?;
            if let Some(r) = &small.rules {
                std::fs::write(d.join("rules.v4"), r).map_err(|e| e.to_string())?;
            }
            if let Some(c) = &out.counters {
                std::fs::write(d.join("expected.counters"), c).map_err(|e| e.to_string())?;
            }
            if let Some(c) = out.conntrack.as_ref().filter(|c| !c.is_empty()) {
                std::fs::write(d.join("expected.conntrack"), c).map_err(|e| e.to_string())?;
            }
            std::fs::write(
                d.join("README.md"),
                format!("# fuzz-{s}\n\nFound by `router fuzz-kernel --seed {s}`: the router disagreed with the kernel on this scenario (shrunk to {} packets). `expected.pcapng` is the kernel's output.\n", small.packets.len()),
            )
            .map_err(|e| e.to_string())?;
            println!("  saved as {}", d.display());
        }
    }
    let _ = std::fs::remove_dir_all(&work);
    println!("fuzz-kernel: {runs} scenarios from seed {base} in {:.0}s: {found} disagreement(s), {flaky} not reproducible", start.elapsed().as_secs_f64());
    Ok(if found == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn report(diffs: &[compare::Difference], other: &str) -> ExitCode {
    if diffs.is_empty() {
        println!("router and {other} agree on every packet");
        return ExitCode::SUCCESS;
    }
    println!(
        "{} difference(s) between the router and the {other}:",
        diffs.len()
    );
    for d in diffs {
        println!("  {d}");
    }
    ExitCode::from(1)
}

fn print_summary(
    router: &Router,
    input: &Path,
    output: &Path,
    n: usize,
    skipped: usize,
    res: &replay::ReplayResult,
) {
    println!(
        "replayed {n} packets from {} → {} packets written to {}",
        input.display(),
        res.emitted.len(),
        output.display()
    );
    if skipped > 0 {
        println!("  ({skipped} non-IP packets in the input were skipped)");
    }
    println!(
        "  {:<10} {:>8} {:>10} {:>8} {:>10}",
        "interface", "rx pkts", "rx bytes", "tx pkts", "tx bytes"
    );
    for i in &router.config.interfaces {
        let s = router.stats.interfaces[i.index.0 as usize];
        println!(
            "  {:<10} {:>8} {:>10} {:>8} {:>10}",
            i.name, s.rx_packets, s.rx_bytes, s.tx_packets, s.tx_bytes
        );
    }
    println!(
        "  forwarded {}, delivered to the router {}, originated by the router {}",
        router.stats.forwarded, router.stats.delivered, router.stats.originated
    );
    let drops = router.stats.drop_counts();
    if !drops.is_empty() {
        println!("  drops by reason:");
        for (r, c) in drops {
            println!("    {:<28} {c}", r.name());
        }
    }
}

/// Die quietly on a closed pipe (`router decode ... | head`), as command-line tools do, rather
/// than panic on the failed write: Rust ignores SIGPIPE by default.
#[allow(unsafe_code)]
fn restore_sigpipe() {
    // SAFETY: called first thing in main, before any thread exists; setting a signal's
    // disposition to SIG_DFL has no memory-safety preconditions.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
