//! The control plane of a running router (`router run`): a Unix socket speaking line-delimited
//! JSON, the server side that answers on it, and the `router ctl` client.
//!
//! # The socket
//!
//! Its path is, in order: `--socket PATH`, `[control] socket = "PATH"` in `router.toml`,
//! `$XDG_RUNTIME_DIR/router.sock`, or `/run/router.sock` when running as root. The file is
//! created with mode 0600 (bound under a temporary name, restricted, then renamed into place,
//! so it is never reachable with looser permissions, and it appears only once the router's
//! devices are up: scripts can wait for it). A connection from a process of another uid is
//! refused (`SO_PEERCRED`), whatever the file's mode. At most [`MAX_CONNECTIONS`] connections
//! are served at once.
//!
//! # The protocol
//!
//! The client writes one JSON object per line (at most [`MAX_REQUEST`] bytes, newline
//! included); the router answers each with one JSON object on one line, in order. Several
//! requests may share a connection. Every answer has `"ok"`: `true`, or `false` with an
//! `"error"` string. A malformed line, an unknown `cmd`, unknown or mistyped fields and invalid
//! values are answered with an error and the connection stays usable; a line longer than the
//! limit is answered with an error and the connection is closed (the rest of it cannot be
//! trusted to be a request).
//!
//! | request | answer |
//! |---|---|
//! | `{"cmd":"stats"}` | `{"ok":true,"interfaces":[{"name","index","netns","state":"up"/"gone","mtu","rx_packets","rx_bytes","tx_packets","tx_bytes","tx_queue_drops","tx_errors","tx_gone","tx_queued"}],"received","forwarded","delivered","originated","drops":{"REASON":N,…},"stream_lost":N}`: `rx_*`/`tx_*` and `drops` are the pipeline's counters (`tx` counts what the pipeline sent to the device); `tx_queue_drops` (queue full), `tx_errors` (device refused the write) and `tx_gone` (device disappeared) are the runtime's |
//! | `{"cmd":"routes"}` | `{"ok":true,"text":"…"}`: `ip route show table all`, a blank line, `route -n` (as `router routes`) |
//! | `{"cmd":"route_add","to":"198.51.100.0/24","via":"10.2.0.2","dev":"wan0","metric":5}` | `{"ok":true}`; `to` is a prefix, an address (/32) or `default`; `via`, `dev`, `metric` are optional but one of `via`/`dev` is needed; errors are the kernel's (`Nexthop has invalid gateway`, `File exists`) |
//! | `{"cmd":"route_del","to":"…","via":…,"dev":…,"metric":…}` | `{"ok":true,"removed":N}`; removes the main-table routes of that prefix matching the fields given (`No such process` if none) |
//! | `{"cmd":"hooks"}` | `{"ok":true,"text":"…"}` (as `router hooks`) |
//! | `{"cmd":"trace","iface":"lan0"}` | `{"ok":true,"stream":"trace"}`, then one line per trace event (the objects of `router replay --trace`: `receive`, `route`, `hook`, `originate`, `drop`, `transmit`) of every packet received (on `iface`, when given), until the client closes the connection |
//! | `{"cmd":"conntrack","op":"list"\|"count"\|"delete"\|"flush", "proto":…,"src":…,"dst":…,"sport":…,"dport":…,"reply_src":…,"reply_dst":…,"mark":…}` | `list`: `{"ok":true,"text":"…","count":N}` in `conntrack -L` format (filters apply); `count`: `{"ok":true,"count":N}`; `delete`/`flush`: `{"ok":true,"deleted":N}` |
//! | `{"cmd":"conntrack_events"}` | `{"ok":true,"stream":"conntrack-events"}`, then one line per event as `conntrack -E` prints it, wrapped: `{"ct":"    [NEW] tcp      6 120 SYN_SENT src=…"}` (NEW when a connection is confirmed, UPDATE when its state, reply or assured status changes, DESTROY when it goes) |
//! | `{"cmd":"iptables","op":"list"\|"save"\|"zero","table":"nat"}` | `list`: `{"ok":true,"text":"…"}` as `iptables -nvxL -t TABLE` (filter by default); `save`: `iptables-save -c` text (one table or all); `zero`: `{"ok":true}` (one table or all) |
//! | `{"cmd":"iptables_restore","rules":"*filter\n…COMMIT\n"}` | `{"ok":true}`: the ruleset is replaced atomically, connections kept; a file the router cannot run as the kernel would is refused with every problem at line:column, and the old rules stay |
//! | `{"cmd":"sysctl","name":"net.ipv4.ip_forward","value":"0"}` | `{"ok":true,"name":…,"value":…}`: the (new) effective value; without `value` only reads |
//! | `{"cmd":"capture","iface":"lan0"}` | `{"ok":true,"stream":"capture","iface":"lan0"}`, then one line per packet received or sent on `iface`: `{"dir":"rx"/"tx","ts_ns":WALL_NS,"originated":BOOL,"data":"HEX"}` |
//!
//! A stream ends when the client closes its side, or with `{"event":"end","reason":"…"}`
//! when the router stops. A stream never slows the router: events that do not fit its queue
//! are dropped, and the next line delivered is `{"event":"lost","count":N}`.

pub mod client;
pub mod server;

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Longest request line accepted, newline included (room for a large `iptables_restore`,
/// such as a kube-proxy node's rules).
pub const MAX_REQUEST: usize = 8 * 1024 * 1024;

/// Connections served at once; more are answered with an error and closed.
pub const MAX_CONNECTIONS: usize = 64;

/// Lines a stream (trace, capture) may have waiting before events are dropped.
pub const STREAM_QUEUE: usize = 4096;

/// A request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// Counters.
    Stats,
    /// The routing tables as text.
    Routes,
    /// Add a route to the main table.
    RouteAdd {
        /// Destination: `A.B.C.D/LEN`, `A.B.C.D` or `default`.
        to: String,
        /// Gateway.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        via: Option<String>,
        /// Output interface.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dev: Option<String>,
        /// Metric.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        metric: Option<u32>,
    },
    /// Remove routes from the main table.
    RouteDel {
        /// Destination.
        to: String,
        /// Only routes through this gateway.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        via: Option<String>,
        /// Only routes out of this interface.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dev: Option<String>,
        /// Only routes with this metric.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        metric: Option<u32>,
    },
    /// The hook registrations as text.
    Hooks,
    /// Stream trace events.
    Trace {
        /// Only packets received on this interface.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        iface: Option<String>,
    },
    /// Stream the packets of one interface.
    Capture {
        /// The interface.
        iface: String,
    },
    /// The connection table: `list` (`conntrack -L`), `count` (`-C`), `delete` (`-D`, with
    /// filters), `flush` (`-F`).
    Conntrack {
        /// `list`, `count`, `delete` or `flush`.
        op: String,
        /// Protocol (name or number).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        proto: Option<String>,
        /// Original source address.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        src: Option<String>,
        /// Original destination address.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dst: Option<String>,
        /// Original source port.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sport: Option<u16>,
        /// Original destination port.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dport: Option<u16>,
        /// Reply source address.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_src: Option<String>,
        /// Reply destination address.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_dst: Option<String>,
        /// Connection mark.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mark: Option<u32>,
    },
    /// The rules: `list` (`iptables -nvxL [-t table]`), `save` (`iptables-save -c`), `zero`
    /// (`iptables -Z [-t table]`).
    Iptables {
        /// `list`, `save` or `zero`.
        op: String,
        /// Table (default: filter for `list`; all for `save` and `zero`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        table: Option<String>,
    },
    /// Stream connection-tracking events (`conntrack -E`).
    ConntrackEvents,
    /// Replace the tables the rules hold, atomically (`iptables-restore [-c]`); the other
    /// tables and the connections stay.
    IptablesRestore {
        /// The rules, in `iptables-save` format.
        rules: String,
        /// Take the counters from the rules (`-c`); otherwise they start at zero.
        #[serde(default)]
        counters: bool,
    },
    /// Read a sysctl, or write one when `value` is given (`sysctl [-w] NAME[=VALUE]`).
    Sysctl {
        /// The name (dots or slashes).
        name: String,
        /// The new value.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        value: Option<String>,
    },
}

/// Parse one request line (without or with its newline).
pub fn parse_request(line: &[u8]) -> Result<Request, String> {
    let text = std::str::from_utf8(line).map_err(|_| "request is not UTF-8".to_string())?;
    let text = text.trim();
    if text.is_empty() {
        return Err(
            "empty request: send one JSON object per line, e.g. {\"cmd\":\"stats\"}".into(),
        );
    }
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("malformed JSON: {e}"))?;
    let Some(obj) = value.as_object() else {
        return Err("a request is a JSON object, e.g. {\"cmd\":\"stats\"}".into());
    };
    let cmd = match obj.get("cmd") {
        None => return Err("request has no `cmd`".into()),
        Some(serde_json::Value::String(c)) => c.clone(),
        Some(_) => return Err("`cmd` must be a string".into()),
    };
    // Serde ignores extra fields of unit variants: check every request the same way.
    if let Some(fields) = fields_of(&cmd) {
        if let Some(k) = obj
            .keys()
            .find(|k| *k != "cmd" && !fields.contains(&k.as_str()))
        {
            let expected = if fields.is_empty() {
                "none".to_string()
            } else {
                fields.join(", ")
            };
            return Err(format!(
                "bad request: unknown field `{k}` for `{cmd}` (fields: {expected})"
            ));
        }
    }
    serde_json::from_value(value).map_err(|e| format!("bad request: {e}"))
}

/// The fields each request takes besides `cmd`.
fn fields_of(cmd: &str) -> Option<&'static [&'static str]> {
    Some(match cmd {
        "stats" | "routes" | "hooks" | "conntrack_events" => &[],
        "route_add" | "route_del" => &["to", "via", "dev", "metric"],
        "trace" => &["iface"],
        "capture" => &["iface"],
        "conntrack" => &[
            "op",
            "proto",
            "src",
            "dst",
            "sport",
            "dport",
            "reply_src",
            "reply_dst",
            "mark",
        ],
        "iptables" => &["op", "table"],
        "iptables_restore" => &["rules", "counters"],
        "sysctl" => &["name", "value"],
        _ => return None,
    })
}

/// An error answer.
pub fn error_response(message: impl std::fmt::Display) -> serde_json::Value {
    serde_json::json!({"ok": false, "error": message.to_string()})
}

/// The effective uid of this process.
#[allow(unsafe_code)]
pub fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions, cannot fail and touches no memory of ours.
    unsafe { libc::geteuid() }
}

/// Where the control socket is when neither `--socket` nor `[control] socket` says:
/// `$XDG_RUNTIME_DIR/router.sock`, else `/run/router.sock` for root.
pub fn default_socket_path() -> Result<PathBuf, String> {
    if let Some(d) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d).join("router.sock"));
    }
    if euid() == 0 {
        return Ok(PathBuf::from("/run/router.sock"));
    }
    Err(
        "no place for the control socket: XDG_RUNTIME_DIR is not set and this is not root; \
         give one with --socket PATH or `[control] socket = \"PATH\"` in router.toml"
            .into(),
    )
}

/// The socket path: `--socket`, else the configuration's `[control] socket`, else the default.
pub fn socket_path(
    cli: Option<&std::path::Path>,
    config: Option<&crate::config::Config>,
) -> Result<PathBuf, String> {
    if let Some(p) = cli {
        return Ok(p.to_path_buf());
    }
    if let Some(p) = config.and_then(|c| c.control_socket.clone()) {
        return Ok(p);
    }
    default_socket_path()
}

/// Lower-case hex of `data`.
pub fn hex(data: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(data.len() * 2);
    for b in data {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// Bytes from hex (either case); None if it is not hex.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    if b.len() % 2 != 0 {
        return None;
    }
    let val = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    b.chunks(2)
        .map(|p| Some(val(p[0])? << 4 | val(p[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse() {
        assert_eq!(parse_request(b"{\"cmd\":\"stats\"}\n"), Ok(Request::Stats));
        assert_eq!(
            parse_request(br#"{"cmd":"route_add","to":"default","via":"10.0.0.2","metric":3}"#),
            Ok(Request::RouteAdd {
                to: "default".into(),
                via: Some("10.0.0.2".into()),
                dev: None,
                metric: Some(3)
            })
        );
        assert_eq!(
            parse_request(br#"{"cmd":"trace"}"#),
            Ok(Request::Trace { iface: None })
        );
        let roundtrip = Request::Capture {
            iface: "lan0".into(),
        };
        let line = serde_json::to_string(&roundtrip).unwrap();
        assert_eq!(parse_request(line.as_bytes()), Ok(roundtrip));
    }

    #[test]
    fn bad_requests_are_errors_not_panics() {
        let cases: &[&[u8]] = &[
            b"",
            b"\n",
            b"nonsense",
            b"{",
            b"[1,2]",
            b"{\"cmd\":7}",
            b"{\"nocmd\":1}",
            b"{\"cmd\":\"reboot\"}",
            b"{\"cmd\":\"route_add\"}",
            b"{\"cmd\":\"route_add\",\"to\":\"x\",\"metric\":-1}",
            b"{\"cmd\":\"route_add\",\"to\":\"x\",\"colour\":\"red\"}",
            b"{\"cmd\":\"capture\"}",
            b"{\"cmd\":\"stats\",\"verbose\":true}",
            b"\xff\xfe",
        ];
        for c in cases {
            let r = parse_request(c);
            assert!(r.is_err(), "{:?} gave {r:?}", String::from_utf8_lossy(c));
        }
        let e = parse_request(b"{\"cmd\":\"reboot\"}").unwrap_err();
        assert!(e.contains("reboot") && e.contains("stats"), "{e}");
    }

    #[test]
    fn hex_roundtrip() {
        let d = [0u8, 1, 0x45, 0xff, 0xa0];
        assert_eq!(hex(&d), "000145ffa0");
        assert_eq!(unhex(&hex(&d)).unwrap(), d);
        assert_eq!(unhex("4G"), None);
        assert_eq!(unhex("123"), None);
    }

    #[test]
    fn socket_path_order() {
        let p = socket_path(Some(std::path::Path::new("/x/r.sock")), None).unwrap();
        assert_eq!(p, PathBuf::from("/x/r.sock"));
    }
}
