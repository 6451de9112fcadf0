//! `router ctl`: the client of the control socket. Each subcommand sends one request and
//! prints the answer the way the familiar tool would (`ip route`, `route -n`, a counter
//! table); `trace` prints the live JSON lines, and `capture` writes a pcapng file like
//! `tcpdump -w` (the format `router replay` writes: raw-IP interface named by `if_name`,
//! nanosecond timestamps, packets the router made marked `originated by the router`).

use super::{unhex, Request};
use crate::replay::pcap::ORIGINATED;
use clap::Subcommand;
use pcap_file::pcapng::blocks::enhanced_packet::{EnhancedPacketBlock, EnhancedPacketOption};
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::DataLink;
use serde_json::Value;
use std::borrow::Cow;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

/// `router ctl` subcommands.
#[derive(Debug, Subcommand)]
pub enum CtlCmd {
    /// Per-interface packets and bytes, queue drops, and drops by reason.
    Stats {
        /// Print the raw JSON answer.
        #[arg(long)]
        json: bool,
    },
    /// The routing tables, as `router routes` prints them.
    Routes,
    /// Change the main routing table live: `route add 198.51.100.0/24 via 10.2.0.2 [dev wan0]
    /// [metric 5]`, `route del 198.51.100.0/24 [via …] [dev …] [metric …]`.
    Route {
        /// What to do.
        #[command(subcommand)]
        op: RouteOp,
    },
    /// The callbacks registered at each hook, with priorities.
    Hooks,
    /// Stream the per-packet trace as JSON lines (as `replay --trace` writes) until Ctrl-C.
    Trace {
        /// Only packets received on this interface.
        #[arg(long)]
        iface: Option<String>,
    },
    /// The connection table, like the `conntrack` tool: `-L`, `-C`, `-D` with filters, `-F`.
    Conntrack(ConntrackArgs),
    /// The rules and counters, like `iptables -nvxL [-t table]`, `-Z`, `-S`.
    Iptables(IptablesArgs),
    /// The ruleset with counters, like `iptables-save -c [-t table]`.
    IptablesSave {
        /// Only this table.
        #[arg(short = 't', long = "table")]
        table: Option<String>,
    },
    /// Replace the tables FILE (or standard input) holds, atomically, like
    /// `iptables-restore [-c]`: tables the file lacks and the connections are kept, and a
    /// file the router cannot run is refused with the old rules left in place.
    IptablesRestore {
        /// Restore the `[packets:bytes]` counters too (otherwise they start at zero).
        #[arg(short = 'c', long = "counters")]
        counters: bool,
        /// The rules file (default: standard input).
        file: Option<PathBuf>,
    },
    /// Read sysctls, or with `-w` set them on the running router, like `sysctl`.
    Sysctl {
        /// Write: each argument is NAME=VALUE.
        #[arg(short = 'w', long = "write")]
        write: bool,
        /// NAME, or NAME=VALUE with -w.
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Capture the packets received and sent on an interface to a pcapng file, like
    /// `tcpdump -w`; stops on Ctrl-C or after `-c N` packets.
    Capture {
        /// The interface.
        iface: String,
        /// Output file.
        #[arg(short = 'w', long = "write")]
        write: PathBuf,
        /// Stop after this many packets.
        #[arg(short = 'c', long = "count")]
        count: Option<u64>,
    },
}

/// `router ctl conntrack`: the options of the `conntrack` tool it mirrors.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("op").required(true).args(["list", "count", "delete", "flush", "event"])))]
pub struct ConntrackArgs {
    /// List the table (`conntrack -L`).
    #[arg(short = 'L', long = "dump")]
    pub list: bool,
    /// Count the entries (`conntrack -C`).
    #[arg(short = 'C', long = "count")]
    pub count: bool,
    /// Delete the entries that match the filters (`conntrack -D`).
    #[arg(short = 'D', long = "delete")]
    pub delete: bool,
    /// Empty the table (`conntrack -F`).
    #[arg(short = 'F', long = "flush")]
    pub flush: bool,
    /// Print events as they happen (`conntrack -E`) until Ctrl-C.
    #[arg(short = 'E', long = "event")]
    pub event: bool,
    /// Protocol (tcp, udp, icmp, gre or a number).
    #[arg(short = 'p', long = "proto")]
    pub proto: Option<String>,
    /// Original source address.
    #[arg(short = 's', long = "src", alias = "orig-src")]
    pub src: Option<String>,
    /// Original destination address.
    #[arg(short = 'd', long = "dst", alias = "orig-dst")]
    pub dst: Option<String>,
    /// Original source port.
    #[arg(long = "sport", alias = "orig-port-src")]
    pub sport: Option<u16>,
    /// Original destination port.
    #[arg(long = "dport", alias = "orig-port-dst")]
    pub dport: Option<u16>,
    /// Reply source address.
    #[arg(short = 'r', long = "reply-src")]
    pub reply_src: Option<String>,
    /// Reply destination address.
    #[arg(short = 'q', long = "reply-dst")]
    pub reply_dst: Option<String>,
    /// Connection mark.
    #[arg(short = 'm', long = "mark", value_parser = parse_mark)]
    pub mark: Option<u32>,
}

fn parse_mark(s: &str) -> Result<u32, String> {
    let r = match s.strip_prefix("0x") {
        Some(h) => u32::from_str_radix(h, 16),
        None => s.parse(),
    };
    r.map_err(|_| format!("`{s}` is not a mark (a number, or hex with 0x)"))
}

/// `router ctl iptables`: the options of `iptables -nvxL` / `-Z` it mirrors.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("op").required(true).args(["list", "zero", "save"])))]
pub struct IptablesArgs {
    /// Table (default: filter).
    #[arg(short = 't', long = "table")]
    pub table: Option<String>,
    /// List the rules with their counters, as `iptables -nvxL`.
    #[arg(short = 'L', long = "list")]
    pub list: bool,
    /// Zero the counters.
    #[arg(short = 'Z', long = "zero")]
    pub zero: bool,
    /// Print the rules in iptables-save format (`-S`), with counters.
    #[arg(short = 'S', long = "list-rules")]
    pub save: bool,
    /// Numeric output (always).
    #[arg(short = 'n', long = "numeric")]
    pub numeric: bool,
    /// Verbose output (always).
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,
    /// Exact counters (always).
    #[arg(short = 'x', long = "exact")]
    pub exact: bool,
}

/// `router ctl route` operations.
#[derive(Debug, Subcommand)]
pub enum RouteOp {
    /// Add a route (`ip route add` syntax).
    Add {
        /// PREFIX [via GATEWAY] [dev IFACE] [metric N]
        #[arg(required = true, num_args = 1.., allow_hyphen_values = true)]
        spec: Vec<String>,
    },
    /// Delete routes (`ip route del` syntax).
    Del {
        /// PREFIX [via GATEWAY] [dev IFACE] [metric N]
        #[arg(required = true, num_args = 1.., allow_hyphen_values = true)]
        spec: Vec<String>,
    },
}

/// A route as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteWords {
    /// Destination.
    pub to: String,
    /// Gateway.
    pub via: Option<String>,
    /// Interface.
    pub dev: Option<String>,
    /// Metric.
    pub metric: Option<u32>,
}

/// Parse `PREFIX [via G] [dev D] [metric N]` as `ip route` takes it (also `gw` for `via`,
/// `priority`/`preference` for `metric`).
pub fn parse_route_words(words: &[String]) -> Result<RouteWords, String> {
    let mut it = words.iter();
    let to = it
        .next()
        .ok_or("missing the destination prefix (e.g. 198.51.100.0/24 or default)")?
        .clone();
    let (mut via, mut dev, mut metric) = (None, None, None);
    while let Some(w) = it.next() {
        let mut val = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("`{w}` needs a value"))
        };
        match w.as_str() {
            "via" | "gw" => via = Some(val()?),
            "dev" | "oif" => dev = Some(val()?),
            "metric" | "priority" | "preference" => {
                let v = val()?;
                metric = Some(
                    v.parse::<u32>()
                        .map_err(|_| format!("metric `{v}` is not a number (0-4294967295)"))?,
                );
            }
            other => {
                return Err(format!(
                    "unknown word `{other}` (expected: via GATEWAY, dev IFACE, metric N)"
                ))
            }
        }
    }
    Ok(RouteWords {
        to,
        via,
        dev,
        metric,
    })
}

/// Run a `router ctl` command against the socket at `path`.
pub fn main(path: &Path, cmd: CtlCmd) -> Result<ExitCode, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("starting the client runtime: {e}"))?;
    rt.block_on(run(path, cmd))
}

struct Conn {
    lines: tokio::io::Lines<BufReader<tokio::net::unix::OwnedReadHalf>>,
    w: tokio::net::unix::OwnedWriteHalf,
}

async fn connect(path: &Path) -> Result<Conn, String> {
    let s = UnixStream::connect(path).await.map_err(|e| {
        let hint = match e.kind() {
            std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
                " (is `router run` running? it creates the socket once its devices are up; \
                 give the path with --socket or -c router.toml)"
            }
            std::io::ErrorKind::PermissionDenied => {
                " (the socket is owner-only: run as the user that runs the router)"
            }
            _ => "",
        };
        format!("control socket {}: {e}{hint}", path.display())
    })?;
    let (r, w) = s.into_split();
    Ok(Conn {
        lines: BufReader::new(r).lines(),
        w,
    })
}

impl Conn {
    async fn send(&mut self, req: &Request) -> Result<(), String> {
        let mut line = serde_json::to_string(req).map_err(|e| e.to_string())?;
        line.push('\n');
        self.w
            .write_all(line.as_bytes())
            .await
            .map_err(|e| format!("control socket: write: {e}"))
    }

    async fn next(&mut self) -> Result<Option<Value>, String> {
        match self.lines.next_line().await {
            Ok(Some(l)) => serde_json::from_str(&l)
                .map(Some)
                .map_err(|e| format!("control socket: bad answer `{l}`: {e}")),
            Ok(None) => Ok(None),
            Err(e) => Err(format!("control socket: read: {e}")),
        }
    }

    /// Send and wait for the answer; an error answer becomes Err.
    async fn ask(&mut self, req: &Request) -> Result<Value, String> {
        self.send(req).await?;
        let v = self
            .next()
            .await?
            .ok_or("control socket: the router closed the connection without answering")?;
        if v["ok"] == Value::Bool(true) {
            Ok(v)
        } else {
            Err(v["error"]
                .as_str()
                .unwrap_or("the router refused the request")
                .to_string())
        }
    }
}

async fn run(path: &Path, cmd: CtlCmd) -> Result<ExitCode, String> {
    let mut c = connect(path).await?;
    match cmd {
        CtlCmd::Stats { json } => {
            let v = c.ask(&Request::Stats).await?;
            if json {
                println!("{v}");
            } else {
                print!("{}", format_stats(&v));
            }
        }
        CtlCmd::Routes => {
            let v = c.ask(&Request::Routes).await?;
            print!("{}", v["text"].as_str().unwrap_or_default());
        }
        CtlCmd::Hooks => {
            let v = c.ask(&Request::Hooks).await?;
            print!("{}", v["text"].as_str().unwrap_or_default());
        }
        CtlCmd::Route { op } => {
            let (add, words) = match op {
                RouteOp::Add { spec } => (true, spec),
                RouteOp::Del { spec } => (false, spec),
            };
            let RouteWords {
                to,
                via,
                dev,
                metric,
            } = parse_route_words(&words)?;
            let req = if add {
                Request::RouteAdd {
                    to,
                    via,
                    dev,
                    metric,
                }
            } else {
                Request::RouteDel {
                    to,
                    via,
                    dev,
                    metric,
                }
            };
            c.ask(&req).await?;
        }
        CtlCmd::Conntrack(a) if a.event => {
            c.ask(&Request::ConntrackEvents).await?;
            let mut shown = 0u64;
            loop {
                tokio::select! {
                    line = c.lines.next_line() => match line {
                        Ok(Some(l)) => {
                            let v: Value = serde_json::from_str(&l).unwrap_or(Value::Null);
                            if let Some(ct) = v["ct"].as_str() {
                                println!("{ct}");
                                shown += 1;
                            } else if v["event"] == "lost" {
                                eprintln!("conntrack: {} events lost (reader too slow)", v["count"]);
                            } else if v["event"] == "end" {
                                break;
                            }
                        }
                        _ => break,
                    },
                    _ = tokio::signal::ctrl_c() => break,
                }
            }
            eprintln!("conntrack v1.4.7 (conntrack-tools): {shown} flow events have been shown.");
        }
        CtlCmd::Conntrack(a) => {
            let op = if a.list {
                "list"
            } else if a.count {
                "count"
            } else if a.delete {
                "delete"
            } else {
                "flush"
            };
            let req = Request::Conntrack {
                op: op.into(),
                proto: a.proto,
                src: a.src,
                dst: a.dst,
                sport: a.sport,
                dport: a.dport,
                reply_src: a.reply_src,
                reply_dst: a.reply_dst,
                mark: a.mark,
            };
            let v = c.ask(&req).await?;
            const TOOL: &str = "conntrack v1.4.7 (conntrack-tools)";
            match op {
                "list" => {
                    print!("{}", v["text"].as_str().unwrap_or_default());
                    eprintln!(
                        "{TOOL}: {} flow entries have been shown.",
                        v["count"].as_u64().unwrap_or(0)
                    );
                }
                "count" => println!("{}", v["count"].as_u64().unwrap_or(0)),
                "delete" => {
                    let n = v["deleted"].as_u64().unwrap_or(0);
                    eprintln!("{TOOL}: {n} flow entries have been deleted.");
                    if n == 0 {
                        return Ok(ExitCode::from(1));
                    }
                }
                _ => eprintln!("{TOOL}: connection tracking table has been emptied."),
            }
        }
        CtlCmd::Iptables(a) => {
            let op = if a.list {
                "list"
            } else if a.zero {
                "zero"
            } else {
                "save"
            };
            let v = c
                .ask(&Request::Iptables {
                    op: op.into(),
                    table: a.table,
                })
                .await?;
            print!("{}", v["text"].as_str().unwrap_or_default());
        }
        CtlCmd::IptablesSave { table } => {
            let v = c
                .ask(&Request::Iptables {
                    op: "save".into(),
                    table,
                })
                .await?;
            print!("{}", v["text"].as_str().unwrap_or_default());
        }
        CtlCmd::IptablesRestore { counters, file } => {
            let rules = match &file {
                Some(f) => {
                    std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?
                }
                None => std::io::read_to_string(std::io::stdin())
                    .map_err(|e| format!("standard input: {e}"))?,
            };
            c.ask(&Request::IptablesRestore { rules, counters }).await?;
        }
        CtlCmd::Sysctl { write, names } => {
            for n in names {
                let req = if write {
                    let Some((name, value)) = n.split_once('=') else {
                        return Err(format!("sysctl: \"{n}\" must be of the form name=value"));
                    };
                    Request::Sysctl {
                        name: name.trim().into(),
                        value: Some(value.trim().into()),
                    }
                } else {
                    Request::Sysctl {
                        name: n.trim().into(),
                        value: None,
                    }
                };
                let v = c.ask(&req).await?;
                println!(
                    "{} = {}",
                    v["name"].as_str().unwrap_or_default(),
                    v["value"].as_str().unwrap_or_default()
                );
            }
        }
        CtlCmd::Trace { iface } => {
            c.ask(&Request::Trace { iface }).await?;
            let stdout = std::io::stdout();
            loop {
                tokio::select! {
                    line = c.lines.next_line() => match line {
                        Ok(Some(l)) => {
                            let mut out = stdout.lock();
                            if writeln!(out, "{l}").and_then(|_| out.flush()).is_err() {
                                break;
                            }
                        }
                        _ => break,
                    },
                    _ = tokio::signal::ctrl_c() => break,
                }
            }
        }
        CtlCmd::Capture {
            iface,
            write,
            count,
        } => return capture(c, &iface, &write, count).await,
    }
    Ok(ExitCode::SUCCESS)
}

async fn capture(
    mut c: Conn,
    iface: &str,
    path: &Path,
    count: Option<u64>,
) -> Result<ExitCode, String> {
    let shown = path.display().to_string();
    c.ask(&Request::Capture {
        iface: iface.to_string(),
    })
    .await?;
    let f = std::fs::File::create(path).map_err(|e| format!("{shown}: {e}"))?;
    let mut w = PcapNgWriter::new(std::io::BufWriter::new(f))
        .map_err(|e| format!("{shown}: cannot write: {e}"))?;
    let mut idb = InterfaceDescriptionBlock::new(DataLink::RAW, 0);
    idb.options
        .push(InterfaceDescriptionOption::IfName(Cow::Owned(
            iface.to_string(),
        )));
    idb.options.push(InterfaceDescriptionOption::IfTsResol(9));
    w.write_pcapng_block(idb)
        .map_err(|e| format!("{shown}: cannot write: {e}"))?;
    w.get_mut()
        .flush()
        .map_err(|e| format!("{shown}: cannot write: {e}"))?;
    eprintln!("capturing on {iface} to {shown}; Ctrl-C stops");
    let (mut n, mut lost) = (0u64, 0u64);
    let stop = tokio::signal::ctrl_c();
    tokio::pin!(stop);
    while count.is_none_or(|c| n < c) {
        let v = tokio::select! {
            v = c.next() => v?,
            _ = &mut stop => break,
        };
        let Some(v) = v else { break };
        match v["event"].as_str() {
            Some("lost") => {
                lost += v["count"].as_u64().unwrap_or(0);
                continue;
            }
            Some(_) => break,
            None => {}
        }
        let Some(data) = v["data"].as_str().and_then(unhex) else {
            return Err(format!("control socket: bad capture line: {v}"));
        };
        let mut options = Vec::new();
        if v["originated"] == Value::Bool(true) {
            options.push(EnhancedPacketOption::Comment(Cow::Borrowed(ORIGINATED)));
        }
        let epb = EnhancedPacketBlock {
            interface_id: 0,
            timestamp: Duration::from_nanos(v["ts_ns"].as_u64().unwrap_or(0)),
            original_len: data.len() as u32,
            data: Cow::Borrowed(&data),
            options,
        };
        w.write_pcapng_block(epb)
            .map_err(|e| format!("{shown}: cannot write: {e}"))?;
        w.get_mut()
            .flush()
            .map_err(|e| format!("{shown}: cannot write: {e}"))?;
        n += 1;
    }
    w.get_mut()
        .flush()
        .map_err(|e| format!("{shown}: cannot write: {e}"))?;
    eprintln!("{n} packets captured");
    if lost > 0 {
        eprintln!("{lost} packets dropped by the router (the capture could not keep up)");
    }
    Ok(ExitCode::SUCCESS)
}

/// The `ctl stats` table.
pub fn format_stats(v: &Value) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let n = |x: &Value| x.as_u64().unwrap_or(0);
    let _ = writeln!(
        out,
        "{:<10} {:<6} {:>9} {:>11} {:>9} {:>11} {:>9} {:>9}  netns",
        "interface", "state", "rx pkts", "rx bytes", "tx pkts", "tx bytes", "tx drops", "tx errs"
    );
    for i in v["interfaces"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "{:<10} {:<6} {:>9} {:>11} {:>9} {:>11} {:>9} {:>9}  {}",
            i["name"].as_str().unwrap_or("?"),
            i["state"].as_str().unwrap_or("?"),
            n(&i["rx_packets"]),
            n(&i["rx_bytes"]),
            n(&i["tx_packets"]),
            n(&i["tx_bytes"]),
            n(&i["tx_queue_drops"]) + n(&i["tx_gone"]),
            n(&i["tx_errors"]),
            i["netns"].as_str().unwrap_or("-"),
        );
    }
    let _ = writeln!(
        out,
        "forwarded {}, delivered to the router {}, originated by the router {}",
        n(&v["forwarded"]),
        n(&v["delivered"]),
        n(&v["originated"])
    );
    if let Some(d) = v["drops"].as_object().filter(|d| !d.is_empty()) {
        let _ = writeln!(out, "drops by reason:");
        for (reason, count) in d {
            let _ = writeln!(out, "  {reason:<28} {}", n(count));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn route_words() {
        assert_eq!(
            parse_route_words(&words("198.51.100.0/24 via 10.2.0.2 metric 5")).unwrap(),
            RouteWords {
                to: "198.51.100.0/24".into(),
                via: Some("10.2.0.2".into()),
                dev: None,
                metric: Some(5)
            }
        );
        assert_eq!(
            parse_route_words(&words("default dev wan0")).unwrap(),
            RouteWords {
                to: "default".into(),
                via: None,
                dev: Some("wan0".into()),
                metric: None
            }
        );
        assert!(parse_route_words(&words("10.0.0.0/8 via"))
            .unwrap_err()
            .contains("needs a value"));
        assert!(parse_route_words(&words("10.0.0.0/8 table 5"))
            .unwrap_err()
            .contains("`table`"));
        assert!(parse_route_words(&words("10.0.0.0/8 metric x"))
            .unwrap_err()
            .contains("metric"));
        assert!(parse_route_words(&[]).is_err());
    }

    #[test]
    fn stats_table() {
        let v = serde_json::json!({"ok": true, "interfaces": [{"name": "lan0", "state": "up", "rx_packets": 3, "rx_bytes": 252, "tx_packets": 1, "tx_bytes": 84, "tx_queue_drops": 0, "tx_errors": 0, "tx_gone": 0, "netns": "client"}],
            "forwarded": 2, "delivered": 1, "originated": 1, "drops": {"no_route": 4}});
        let t = format_stats(&v);
        assert!(
            t.contains("lan0") && t.contains("client") && t.contains("no_route"),
            "{t}"
        );
    }
}
