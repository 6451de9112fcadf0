//! Asking the Linux kernel the same question: configure a throwaway network namespace from the
//! same `router.toml` (TUN devices with the same names, addresses, routes, MTUs and sysctls,
//! and the same rules through `iptables-restore`), write the same packets into the TUN devices
//! with the same spacing, and collect what the kernel emits on each.
//!
//! The namespace comes from re-running this binary under `unshare -Urn` (a user namespace
//! when not root), so nothing on the host is touched and everything vanishes when the child
//! exits, whatever happens. The one exception is a sysctl the kernel keeps only globally
//! ([`HOST_WIDE`], such as `nf_conntrack_max`, which a namespace can read but not write):
//! when a scenario sets one, it is set on the host for the run (this needs root) and put
//! back afterwards, even if the run fails.

pub mod fuzz;

use crate::config::Config;
use crate::replay::pcap::{read_capture, write_pcapng, Captured};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Why the kernel run failed.
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    /// A set-up step failed.
    #[error("{step}: {message}")]
    Setup {
        /// The step.
        step: String,
        /// What happened.
        message: String,
    },
}

fn setup(step: impl Into<String>, message: impl ToString) -> KernelError {
    KernelError::Setup {
        step: step.into(),
        message: message.to_string(),
    }
}

/// The raw-table chain `kernel_side` adds to turn conntrack on without touching packets.
const ENABLE_CHAIN: &str = "ROUTER-CT-ENABLE";

/// Sysctls that exist only host-wide (read-only inside a network namespace) but that a
/// scenario may set: the kernel run sets them on the host and restores them.
pub const HOST_WIDE: &[&str] = &["net.netfilter.nf_conntrack_max"];

/// Host-wide sysctls set for one kernel run; the old values are written back on drop.
struct HostSysctls {
    saved: Vec<(String, String)>,
}

impl HostSysctls {
    fn apply(cfg: &Config) -> Result<HostSysctls, KernelError> {
        let mut g = HostSysctls { saved: Vec::new() };
        for (name, value) in cfg
            .sysctl
            .writes
            .iter()
            .filter(|(n, _)| HOST_WIDE.contains(&n.as_str()))
        {
            let p = sysctl_path(name);
            let old =
                std::fs::read_to_string(&p).map_err(|e| setup(format!("reading {name}"), e))?;
            write_sysctl(name, value).map_err(|e| {
                setup(
                    format!("{name} is host-wide (a namespace cannot set it)"),
                    format!("{e}; run as root so it can be set for the run and restored"),
                )
            })?;
            eprintln!(
                "note: {name} set to {value} on the host for this run (was {})",
                old.trim()
            );
            g.saved.push((name.clone(), old.trim().to_string()));
        }
        Ok(g)
    }
}

/// Where the kernel's LOG lines appear: its log buffer (`/dev/kmsg`), read from the end it
/// had when the run started. A namespace's LOG writes there only with the host-wide
/// `net.netfilter.nf_log_all_netns` set, which this turns on for the run (root only).
struct KernelLog {
    kmsg: std::fs::File,
    _sysctl: HostSysctls,
}

const NF_LOG_ALL_NETNS: &str = "net.netfilter.nf_log_all_netns";

impl KernelLog {
    /// Start watching, or say why LOG lines cannot be compared.
    fn start() -> Result<KernelLog, String> {
        use std::io::{Seek, SeekFrom};
        use std::os::unix::fs::OpenOptionsExt;
        let mut kmsg = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open("/dev/kmsg")
            .map_err(|e| format!("/dev/kmsg: {e}"))?;
        kmsg.seek(SeekFrom::End(0))
            .map_err(|e| format!("/dev/kmsg: {e}"))?;
        let mut guard = HostSysctls { saved: Vec::new() };
        let p = sysctl_path(NF_LOG_ALL_NETNS);
        let old = std::fs::read_to_string(&p).map_err(|e| format!("{NF_LOG_ALL_NETNS}: {e}"))?;
        if old.trim() != "1" {
            write_sysctl(NF_LOG_ALL_NETNS, 1).map_err(|e| e.to_string())?;
            guard
                .saved
                .push((NF_LOG_ALL_NETNS.to_string(), old.trim().to_string()));
        }
        Ok(KernelLog {
            kmsg,
            _sysctl: guard,
        })
    }

    /// The LOG lines written since [`KernelLog::start`] (records holding `IN=` and `OUT=`).
    fn lines(mut self) -> Vec<String> {
        use std::io::Read;
        let mut out = Vec::new();
        let mut buf = vec![0u8; 8192];
        loop {
            match self.kmsg.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    // "priority,sequence,timestamp,flags;message\n" (then dictionary lines).
                    let rec = String::from_utf8_lossy(&buf[..n]);
                    let first = rec.lines().next().unwrap_or("");
                    if let Some((_, msg)) = first.split_once(';') {
                        if msg.contains("IN=") && msg.contains(" OUT=") {
                            out.push(msg.to_string());
                        }
                    }
                }
                // A record overwritten before we read it: go on with the next.
                Err(e) if e.raw_os_error() == Some(libc::EPIPE) => continue,
                Err(_) => break,
            }
        }
        out
    }
}

impl Drop for HostSysctls {
    fn drop(&mut self) {
        for (name, old) in self.saved.drain(..).rev() {
            if let Err(e) = write_sysctl(&name, &old) {
                eprintln!("warning: could not restore {name} to {old}: {e}");
            }
        }
    }
}

/// What the kernel did with a capture.
#[derive(Debug, Clone, Default)]
pub struct KernelRun {
    /// Every packet it emitted, per interface, stamped with the input that caused it.
    pub packets: Vec<Captured>,
    /// `conntrack -L` afterwards (None when conntrack-tools is missing).
    pub conntrack: Option<String>,
    /// `iptables-save -c` afterwards (None without a rules file).
    pub counters: Option<String>,
    /// The LOG lines it wrote, when the rules log and the kernel's log could be read
    /// (`Err` says why not).
    pub log: Option<Result<Vec<String>, String>>,
}

/// How long to wait, after the last packet written, for what the kernel still emits.
const SETTLE: Duration = Duration::from_millis(30);
const FINAL_DRAIN: Duration = Duration::from_millis(300);

/// Run `input` through a kernel configured from `config_path` in a fresh namespace; returns
/// what the kernel emitted, per interface, stamped with the timestamp of the input packet
/// that caused it. `exe` is the `router` binary, whose hidden `kernel-side` command runs
/// inside the namespace.
pub fn run_kernel(
    exe: &Path,
    config_path: &Path,
    input: &Path,
    iface: Option<&str>,
) -> Result<KernelRun, KernelError> {
    let cfg = Config::load(config_path).map_err(|e| setup("loading the configuration", e))?;
    let _host = HostSysctls::apply(&cfg)?;
    let logs = cfg
        .netfilter
        .rules
        .as_ref()
        .and_then(|r| std::fs::read_to_string(r).ok())
        .is_some_and(|t| t.contains("-j LOG"));
    let watch = logs.then(KernelLog::start);
    let dir = scratch_dir()?;
    let out = dir.join("kernel.pcapng");
    let mut cmd = Command::new("unshare");
    cmd.args(["-Urn", "--"])
        .arg(exe)
        .arg("kernel-side")
        .arg("-c")
        .arg(config_path)
        .arg("-i")
        .arg(input)
        .arg("-o")
        .arg(&out);
    if let Some(i) = iface {
        cmd.arg("--iface").arg(i);
    }
    let status = cmd.status().map_err(|e| {
        if e.kind() == ErrorKind::NotFound {
            setup("running unshare", "`unshare` (util-linux) is not installed")
        } else {
            setup("running unshare", e)
        }
    })?;
    let result = if status.success() {
        read_capture(&out, None)
            .map(|(packets, _)| KernelRun {
                packets,
                conntrack: std::fs::read_to_string(out.with_extension("conntrack")).ok(),
                counters: std::fs::read_to_string(out.with_extension("counters")).ok(),
                log: None,
            })
            .map_err(|e| setup("reading the kernel's output", e))
    } else {
        Err(setup(
            "kernel namespace",
            format!("`unshare -Urn {} kernel-side` failed ({status}); see the messages above (user namespaces and /dev/net/tun must be available)", exe.display()),
        ))
    };
    let _ = std::fs::remove_dir_all(&dir);
    result.map(|mut r| {
        r.log = watch.map(|w| w.map(KernelLog::lines));
        r
    })
}

fn scratch_dir() -> Result<PathBuf, KernelError> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let d = std::env::temp_dir().join(format!("router-kernel-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&d).map_err(|e| setup(format!("creating {}", d.display()), e))?;
    Ok(d)
}

fn sysctl_path(name: &str) -> PathBuf {
    // conf.<scope>.<key>: the scope may itself contain dots (eth0.100).
    if let Some(rest) = name.strip_prefix("net.ipv4.conf.") {
        if let Some((scope, key)) = rest.rsplit_once('.') {
            return PathBuf::from(format!("/proc/sys/net/ipv4/conf/{scope}/{key}"));
        }
    }
    PathBuf::from(format!("/proc/sys/{}", name.replace('.', "/")))
}

fn write_sysctl(name: &str, value: impl std::fmt::Display) -> Result<(), KernelError> {
    let p = sysctl_path(name);
    std::fs::write(&p, format!("{value}\n"))
        .map_err(|e| setup(format!("sysctl -w {name}={value}"), e))
}

/// A configured sysctl: honoured ones must be set; others are set when the namespace allows
/// it and otherwise reported as not compared (some, like `nf_conntrack_buckets`, are global).
fn write_configured(name: &str, value: &str) -> Result<(), KernelError> {
    if HOST_WIDE.contains(&name) {
        // Set on the host by the parent for this run.
        return Ok(());
    }
    // Only networking sysctls are per namespace: anything else would change the host.
    if !name.starts_with("net.") {
        eprintln!("note: {name} is a host setting, not a network namespace's: not compared");
        return Ok(());
    }
    let honoured = crate::config::sysctl::GLOBAL.iter().any(|k| k.name == name)
        || name.starts_with("net.ipv4.conf.");
    match write_sysctl(name, value) {
        Err(e) if !honoured || !sysctl_path(name).exists() => {
            eprintln!("note: {e}: cannot be set in a namespace; not compared");
            Ok(())
        }
        r => r,
    }
}

fn run(cmd: &str, args: &[&str]) -> Result<(), KernelError> {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .map_err(|e| setup(format!("{cmd} {}", args.join(" ")), e))?;
    if !out.status.success() {
        return Err(setup(
            format!("{cmd} {}", args.join(" ")),
            String::from_utf8_lossy(&out.stderr).trim(),
        ));
    }
    Ok(())
}

/// The part that runs inside the namespace (`router kernel-side`).
pub fn kernel_side(
    config_path: &Path,
    input: &Path,
    output: &Path,
    iface: Option<&str>,
) -> Result<(), KernelError> {
    let cfg = Config::load(config_path).map_err(|e| setup("loading the configuration", e))?;
    let (packets, _) = read_capture(input, iface).map_err(|e| setup("reading the input", e))?;

    // IPv6 is not compared yet: keep the kernel from emitting its own IPv6 traffic.
    write_sysctl("net.ipv6.conf.all.disable_ipv6", 1)?;
    write_sysctl("net.ipv6.conf.default.disable_ipv6", 1)?;
    run("ip", &["link", "set", "lo", "up"])?;
    // A new namespace inherits conf/all and conf/default from the host: reset them to the
    // kernel's defaults, which is what the router assumes for anything not configured.
    write_sysctl("net.ipv4.ip_forward", 0)?;
    for (key, _, _) in crate::config::sysctl::CONF {
        for scope in ["all", "default"] {
            let name = format!("net.ipv4.conf.{scope}.{key}");
            if sysctl_path(&name).exists() {
                write_sysctl(&name, crate::config::sysctl::conf_default(scope, key))?;
            }
        }
    }
    let per_iface = |n: &str| {
        crate::config::sysctl::iface_scope(n).is_some_and(|s| s != "all" && s != "default")
    };
    for (name, value) in cfg.sysctl.writes.iter().filter(|(n, _)| !per_iface(n)) {
        write_configured(name, value)?;
    }

    let mut devices = Vec::new();
    for i in &cfg.interfaces {
        let mut c = tun::Configuration::default();
        c.tun_name(&i.name)
            .layer(tun::Layer::L3)
            .mtu(i.mtu as u16)
            .up();
        let dev = tun::Device::new(&c)
            .map_err(|e| setup(format!("creating TUN device {}", i.name), e))?;
        dev.set_nonblock()
            .map_err(|e| setup(format!("{}: non-blocking mode", i.name), e))?;
        for a in &i.addresses {
            let mut args: Vec<&str> = vec!["addr", "add"];
            args.extend(a.text.split_whitespace());
            args.extend(["dev", &i.name]);
            run("ip", &args)?;
        }
        devices.push((i.name.clone(), dev));
    }
    for r in &cfg.routes {
        let to = format!("{}/{}", r.to.0, r.to.1);
        let metric = r.metric.to_string();
        let mut args = vec!["route", "add", to.as_str()];
        let via = r.via.map(|v| v.to_string());
        if let Some(v) = &via {
            args.extend(["via", v.as_str()]);
        }
        args.extend(["dev", cfg.if_name(r.dev), "metric", metric.as_str()]);
        run("ip", &args)?;
    }
    for (name, value) in cfg.sysctl.writes.iter().filter(|(n, _)| per_iface(n)) {
        write_configured(name, value)?;
    }
    if let Some(rules) = &cfg.netfilter.rules {
        let f = std::fs::File::open(rules)
            .map_err(|e| setup(format!("opening {}", rules.display()), e))?;
        let out = Command::new("iptables-restore")
            .args(if cfg.netfilter.restore_counters {
                &["-c"][..]
            } else {
                &[]
            })
            .stdin(f)
            .output()
            .map_err(|e| setup("iptables-restore", e))?;
        if !out.status.success() {
            return Err(setup(
                "iptables-restore",
                String::from_utf8_lossy(&out.stderr).trim(),
            ));
        }
    }

    if cfg.netfilter.conntrack {
        // The namespace's equivalent of `nf_conntrack enable_hooks=1`: a rule that needs
        // conntrack, in a chain nothing jumps to, turns tracking on without touching packets.
        // After the rules: a raw table in them would otherwise replace the chain.
        run("iptables", &["-t", "raw", "-N", ENABLE_CHAIN])?;
        run(
            "iptables",
            &[
                "-t",
                "raw",
                "-A",
                ENABLE_CHAIN,
                "-m",
                "conntrack",
                "--ctstate",
                "INVALID",
            ],
        )?;
    }

    let mut buf = vec![0u8; 65536];
    let mut emitted = Vec::new();
    let mut collect = |devices: &[(String, tun::Device)],
                       ts: u64,
                       quiet: Duration,
                       emitted: &mut Vec<Captured>| {
        let mut last = Instant::now();
        while last.elapsed() < quiet {
            let mut got = false;
            for (name, dev) in devices {
                while let Ok(n) = dev.recv(&mut buf) {
                    if buf.first().is_some_and(|b| b >> 4 == 6) {
                        continue;
                    }
                    emitted.push(Captured {
                        iface: name.clone(),
                        ts_ns: ts,
                        data: buf[..n].to_vec(),
                        comment: None,
                    });
                    got = true;
                }
            }
            if got {
                last = Instant::now();
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    };
    // Anything the kernel says on its own at start-up is not part of the answer.
    let mut discard = Vec::new();
    collect(&devices, 0, Duration::from_millis(50), &mut discard);

    let start = Instant::now();
    let t0 = packets.first().map_or(0, |p| p.ts_ns);
    for (n, p) in packets.iter().enumerate() {
        let due = Duration::from_nanos(p.ts_ns.saturating_sub(t0));
        if let Some(wait) = due.checked_sub(start.elapsed()) {
            std::thread::sleep(wait);
        }
        let Some((_, dev)) = devices.iter().find(|(n, _)| *n == p.iface) else {
            return Err(setup(
                "writing packets",
                format!("packet on `{}`, which is not in the configuration", p.iface),
            ));
        };
        // The kernel refuses some malformed packets at the TUN itself (EINVAL): that is its
        // answer.
        if let Err(e) = dev.send(&p.data) {
            tracing::debug!("write to {}: {e}", p.iface);
        }
        // Collect until the next packet is due (at most SETTLE), so that the kernel sees the
        // same spacing as the capture says — its rate limiters run on real time.
        let next_due = packets
            .get(n + 1)
            .map(|q| Duration::from_nanos(q.ts_ns.saturating_sub(t0)));
        let quiet = next_due
            .map(|d| d.saturating_sub(start.elapsed()).min(SETTLE))
            .unwrap_or(SETTLE)
            .max(Duration::from_micros(200));
        collect(&devices, p.ts_ns, quiet, &mut emitted);
    }
    let last_ts = packets.last().map_or(0, |p| p.ts_ns);
    collect(&devices, last_ts, FINAL_DRAIN, &mut emitted);

    // The state the kernel ends in: its connection table and, with rules, their counters.
    if let Ok(o) = Command::new("conntrack").arg("-L").output() {
        let text = String::from_utf8_lossy(&o.stdout).to_string();
        let _ = std::fs::write(output.with_extension("conntrack"), text);
    }
    if let Some(rules) = &cfg.netfilter.rules {
        let o = Command::new("iptables-save")
            .arg("-c")
            .output()
            .map_err(|e| setup("iptables-save -c", e))?;
        let saved = String::from_utf8_lossy(&o.stdout).to_string();
        let declared = std::fs::read_to_string(rules).unwrap_or_default();
        let _ = std::fs::write(
            output.with_extension("counters"),
            strip_enable_chain(&saved, &declared),
        );
    }
    let names: Vec<&str> = cfg.interfaces.iter().map(|i| i.name.as_str()).collect();
    write_pcapng(output, &names, &emitted).map_err(|e| setup("writing the kernel's output", e))
}

/// Remove what `kernel_side` added to turn conntrack on (the `ROUTER-CT-ENABLE` chain, and
/// the raw table when the rules file has none) from an `iptables-save` output.
fn strip_enable_chain(saved: &str, rules_file: &str) -> String {
    let has_raw = rules_file.lines().any(|l| l.trim() == "*raw");
    let mut out = String::new();
    let mut skipping = false;
    for l in saved.lines() {
        if l.starts_with('*') {
            skipping = l.trim() == "*raw" && !has_raw;
        }
        if skipping {
            if l.trim() == "COMMIT" {
                skipping = false;
            }
            continue;
        }
        if l.contains(ENABLE_CHAIN) {
            continue;
        }
        out.push_str(l);
        out.push('\n');
    }
    out
}
