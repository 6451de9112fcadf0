//! End-to-end tests of the live router (`router run`): real namespaces, real TUN devices, real
//! programs (ping, nc, kernel sockets) sending traffic through it.
//!
//! Each test builds its own throwaway lab: `unshare -Urn --mount --pid` (a user namespace, so
//! no root is needed where user namespaces are allowed) holding a private /run, in which
//! `ip netns add` makes a `client` and a `server` namespace. The router runs in the lab's own
//! network namespace and creates `lan0` inside `client` and `wan0` inside `server`.
//! Commands run inside the lab through `nsenter`; the control socket lives in a temporary
//! directory the test process reaches directly. Everything started in the lab is in its pid
//! namespace, so dropping the lab (also on a failed assertion) kills every process in it and
//! the namespaces vanish with them.
//!
//! Needs: user namespaces (or root), /dev/net/tun usable, and the programs iproute2,
//! util-linux (unshare, nsenter), iputils-ping and netcat-openbsd. Missing ones are a failure
//! with a message, never a skip. UDP is driven by this test binary itself, re-run inside a
//! namespace as a helper (`E2E_HELPER=...`): a plain kernel UDP socket whose errors show
//! what ICMP the kernel received.

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::time::{Duration, Instant};

const ROUTER: &str = env!("CARGO_BIN_EXE_router");

/// The two-namespace topology: lan0 (client, 10.1.0.0/24) and wan0 (server, 10.2.0.0/24).
const TOPOLOGY: &str = r#"
[[interface]]
name = "lan0"
addresses = ["10.1.0.1/24"]
netns = "client"

[[interface]]
name = "wan0"
addresses = ["10.2.0.1/24"]
netns = "server"

[sysctl]
"net.ipv4.ip_forward" = 1
"#;

fn require_tools() {
    let mut missing = Vec::new();
    for (cmd, pkg) in [
        ("ip", "iproute2"),
        ("unshare", "util-linux"),
        ("nsenter", "util-linux"),
        ("ping", "iputils-ping"),
        ("nc", "netcat-openbsd"),
    ] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {cmd}")])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if !found {
            missing.push(pkg);
        }
    }
    assert!(
        missing.is_empty(),
        "the e2e tests need these packages: {} (apt-get install {})",
        missing.join(", "),
        missing.join(" ")
    );
    assert!(
        Path::new("/dev/net/tun").exists(),
        "/dev/net/tun is missing: the e2e tests need the TUN driver (modprobe tun)"
    );
}

struct Lab {
    dir: PathBuf,
    holder: Child,
    _holder_stdin: ChildStdin,
    inner: u32,
    router: Option<Child>,
    sock: PathBuf,
}

fn children_of(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

impl Lab {
    /// A fresh lab with `client` and `server` namespaces (IPv6 off, so the kernels stay quiet).
    fn new(name: &str) -> Lab {
        require_tools();
        let dir = std::env::temp_dir().join(format!("router-e2e-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut holder = Command::new("unshare")
            .args([
                "-Urn",
                "--mount",
                "--propagation",
                "private",
                "--pid",
                "--fork",
                "--kill-child",
                "--",
                "sh",
                "-c",
                "mount -t tmpfs -o mode=0755 tmpfs /run && echo ready && exec cat >/dev/null",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("running unshare (util-linux)");
        let mut line = String::new();
        BufReader::new(holder.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        if line.trim() != "ready" {
            let mut err = String::new();
            let _ = holder.stderr.take().unwrap().read_to_string(&mut err);
            panic!("cannot create the lab's namespaces with `unshare -Urn --mount --pid` (user namespaces must be available): {err}");
        }
        let stdin = holder.stdin.take().unwrap();
        let inner = *children_of(holder.id())
            .first()
            .expect("the lab's init process");
        let lab = Lab {
            sock: dir.join("router.sock"),
            dir,
            holder,
            _holder_stdin: stdin,
            inner,
            router: None,
        };
        lab.ok("ip link set lo up
            for ns in client server; do
              ip netns add $ns
              ip -n $ns link set lo up
              ip netns exec $ns sh -c 'echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6; echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6'
            done");
        lab
    }

    fn nsenter(&self) -> Command {
        let mut c = Command::new("nsenter");
        c.args(["-t", &self.inner.to_string()]).args([
            "-U",
            "-m",
            "-n",
            "-p",
            "--preserve-credentials",
            "--",
        ]);
        c
    }

    /// Run a shell script inside the lab.
    fn sh(&self, script: &str) -> Output {
        self.nsenter()
            .args(["sh", "-c", script])
            .output()
            .expect("running nsenter")
    }

    /// Run a script that must succeed; its stdout.
    fn ok(&self, script: &str) -> String {
        let o = self.sh(script);
        assert!(
            o.status.success(),
            "in the lab: `{script}` failed ({}):\n{}{}",
            o.status,
            text(&o.stdout),
            text(&o.stderr)
        );
        text(&o.stdout)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("router.log")).unwrap_or_default()
    }

    /// Write `toml` and start the router; wait for its control socket.
    fn start_router(&mut self, toml: &str) {
        let cfg = self.dir.join("router.toml");
        std::fs::write(&cfg, toml).unwrap();
        let log = std::fs::File::create(self.dir.join("router.log")).unwrap();
        let child = self
            .nsenter()
            .arg(ROUTER)
            .args(["run", "-c"])
            .arg(&cfg)
            .arg("--socket")
            .arg(&self.sock)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting the router");
        self.router = Some(child);
        let start = Instant::now();
        while !self.sock.exists() {
            if let Some(st) = self.router.as_mut().unwrap().try_wait().unwrap() {
                panic!("the router exited during start-up ({st}):\n{}", self.log());
            }
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "the router did not come up in 15 s:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The router's pid (it runs under nsenter, which forks into the pid namespace).
    fn router_pid(&self) -> u32 {
        let ns = self.router.as_ref().expect("router started").id();
        *children_of(ns).first().expect("the router process")
    }

    fn signal(&self, sig: &str) {
        let st = Command::new("sh")
            .args(["-c", &format!("kill -{sig} {}", self.router_pid())])
            .status()
            .unwrap();
        assert!(st.success(), "kill -{sig} the router");
    }

    /// Give the hosts their addresses and default routes through the router.
    fn configure_hosts(&self) {
        self.ok("ip -n client addr add 10.1.0.2/24 dev lan0
            ip -n client route add default via 10.1.0.1
            ip -n server addr add 10.2.0.2/24 dev wan0
            ip -n server route add default via 10.2.0.1");
    }

    fn ctl(&self, args: &[&str]) -> Output {
        Command::new(ROUTER)
            .arg("ctl")
            .arg("--socket")
            .arg(&self.sock)
            .args(args)
            .output()
            .unwrap()
    }

    fn ctl_ok(&self, args: &[&str]) -> String {
        let o = self.ctl(args);
        assert!(
            o.status.success(),
            "router ctl {}: {}{}",
            args.join(" "),
            text(&o.stdout),
            text(&o.stderr)
        );
        text(&o.stdout)
    }

    /// Start this test binary as a UDP echo server on `addr` in `server`; wait until it
    /// listens.
    fn start_udp_echo(&self, addr: &str) {
        self.ok(&format!(
            "E2E_HELPER='udp-echo {addr}' ip netns exec server {} --exact helper_process --nocapture --test-threads=1 >/dev/null 2>&1 &
            for i in $(seq 100); do
              ip netns exec server ss -Hlun | grep -q {addr} && exit 0
              sleep 0.05
            done
            echo 'the UDP echo helper did not start' >&2; exit 1",
            std::env::current_exe().unwrap().display()
        ));
    }

    fn stats(&self) -> Value {
        serde_json::from_str(&self.ctl_ok(&["stats", "--json"])).unwrap()
    }

    /// Run this test binary inside namespace `ns` as a helper; its `E2E-RESULT` line.
    fn helper(&self, ns: &str, args: &str) -> String {
        let exe = std::env::current_exe().unwrap();
        let o = self
            .nsenter()
            .args(["ip", "netns", "exec", ns])
            .arg(exe)
            .args([
                "--exact",
                "helper_process",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("E2E_HELPER", args)
            .output()
            .unwrap();
        let out = text(&o.stdout);
        out.lines()
            .find_map(|l| l.split_once("E2E-RESULT ").map(|(_, r)| r))
            .map(str::to_string)
            .unwrap_or_else(|| {
                panic!(
                    "helper `{args}` in {ns} gave no result:\n{out}{}",
                    text(&o.stderr)
                )
            })
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- router log ---\n{}", self.log());
        }
        if let Some(mut r) = self.router.take() {
            let _ = r.kill();
            let _ = r.wait();
        }
        // Killing unshare kills the lab's init (--kill-child), and with it everything in the
        // lab's pid namespace; the namespaces go with their last process.
        let _ = self.holder.kill();
        let _ = self.holder.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn delta(after: &Value, before: &Value, iface: usize, key: &str) -> u64 {
    after["interfaces"][iface][key].as_u64().unwrap()
        - before["interfaces"][iface][key].as_u64().unwrap()
}

#[test]
fn forwarding_between_namespaces() {
    let mut lab = Lab::new("fwd");
    lab.start_router(TOPOLOGY);
    lab.configure_hosts();

    // Counters before and after exactly five echo requests and their replies.
    let before = lab.stats();
    let out = lab.ok("ip netns exec client ping -c 5 -i 0.1 -W 2 10.2.0.2");
    assert!(out.contains("5 received"), "{out}");
    let after = lab.stats();
    assert_eq!(after["interfaces"][0]["name"], "lan0");
    assert_eq!(delta(&after, &before, 0, "rx_packets"), 5, "{after}");
    assert_eq!(delta(&after, &before, 1, "tx_packets"), 5, "{after}");
    assert_eq!(delta(&after, &before, 1, "rx_packets"), 5, "{after}");
    assert_eq!(delta(&after, &before, 0, "tx_packets"), 5, "{after}");
    assert_eq!(delta(&after, &before, 0, "rx_bytes"), 5 * 84, "{after}");
    assert_eq!(
        after["forwarded"].as_u64().unwrap() - before["forwarded"].as_u64().unwrap(),
        10
    );

    // The other way, and the router itself.
    let out = lab.ok("ip netns exec server ping -c 2 -i 0.1 -W 2 10.1.0.2");
    assert!(
        out.contains("2 received") && out.contains("ttl=63"),
        "{out}"
    );
    let out = lab.ok("ip netns exec client ping -c 1 -W 2 10.1.0.1");
    assert!(
        out.contains("1 received") && out.contains("ttl=64"),
        "{out}"
    );

    // TTL 1: the router answers time exceeded from its address facing the client.
    let o = lab.sh("ip netns exec client ping -c 1 -t 1 -W 2 10.2.0.2");
    let out = text(&o.stdout);
    assert!(
        out.contains("From 10.1.0.1") && out.contains("Time to live exceeded"),
        "{out}"
    );

    // TCP: nc in server, nc in client.
    let out = lab.ok(&format!(
        "ip netns exec server timeout 10 nc -l 10.2.0.2 8080 > {dir}/tcp.out &
        for i in $(seq 50); do
          echo 'hello over tcp' | ip netns exec client nc -N -w 3 10.2.0.2 8080 2>/dev/null && break
          sleep 0.1
        done
        wait
        cat {dir}/tcp.out",
        dir = lab.dir.display()
    ));
    assert_eq!(out.trim(), "hello over tcp");

    // UDP both ways: an echo server in server, a socket in client.
    lab.start_udp_echo("10.2.0.2:5353");
    let r = lab.helper("client", "udp-ask 10.2.0.2:5353 ping-over-udp");
    assert_eq!(r, "reply ping-over-udp");

    // A closed UDP port on the far side: the server's port unreachable crosses the router
    // and reaches the client's socket as ECONNREFUSED.
    let r = lab.helper("client", "udp-ask 10.2.0.2:9 anyone");
    assert_eq!(r, "refused");
    // A closed UDP port on the router itself: the router's own port unreachable.
    let r = lab.helper("client", "udp-ask 10.1.0.1:9 anyone");
    assert_eq!(r, "refused");

    let s = lab.stats();
    assert!(s["drops"]["ttl_expired"].as_u64().unwrap() >= 1, "{s}");
    assert_eq!(s["interfaces"][0]["tx_queue_drops"], 0);
    let table = lab.ctl_ok(&["stats"]);
    assert!(
        table.contains("lan0") && table.contains("ttl_expired"),
        "{table}"
    );
}

#[test]
fn ctl_routes_and_live_route_changes() {
    let mut lab = Lab::new("routes");
    lab.start_router(TOPOLOGY);
    lab.configure_hosts();
    // An address behind the server that the router has no route to.
    lab.ok("ip -n server addr add 198.51.100.10/32 dev lo");

    // `ctl routes` and `ctl hooks` print what the offline commands print.
    let cfg = lab.dir.join("router.toml");
    let offline = Command::new(ROUTER)
        .arg("routes")
        .arg("-c")
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(lab.ctl_ok(&["routes"]), text(&offline.stdout));
    let offline = Command::new(ROUTER)
        .arg("hooks")
        .arg("-c")
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(lab.ctl_ok(&["hooks"]), text(&offline.stdout));

    let o = lab.sh("ip netns exec client ping -c 1 -W 2 198.51.100.10");
    assert!(
        text(&o.stdout).contains("Destination Net Unreachable"),
        "{}",
        text(&o.stdout)
    );

    lab.ctl_ok(&[
        "route",
        "add",
        "198.51.100.0/24",
        "via",
        "10.2.0.2",
        "metric",
        "5",
    ]);
    let routes = lab.ctl_ok(&["routes"]);
    assert!(
        routes.contains("198.51.100.0/24 via 10.2.0.2 dev wan0 metric 5"),
        "{routes}"
    );
    let out = lab.ok("ip netns exec client ping -c 2 -i 0.1 -W 2 198.51.100.10");
    assert!(out.contains("2 received"), "{out}");

    // The kernel's answers to bad changes.
    let o = lab.ctl(&[
        "route",
        "add",
        "198.51.100.0/24",
        "via",
        "10.2.0.3",
        "metric",
        "5",
    ]);
    assert!(
        !o.status.success() && text(&o.stderr).contains("File exists"),
        "{o:?}"
    );
    let o = lab.ctl(&["route", "add", "203.0.113.0/24", "via", "192.0.2.1"]);
    assert!(
        text(&o.stderr).contains("Nexthop has invalid gateway"),
        "{o:?}"
    );
    let o = lab.ctl(&["route", "add", "203.0.113.7/24", "dev", "wan0"]);
    assert!(text(&o.stderr).contains("203.0.113.0/24"), "{o:?}");

    lab.ctl_ok(&["route", "del", "198.51.100.0/24"]);
    let o = lab.ctl(&["route", "del", "198.51.100.0/24"]);
    assert!(text(&o.stderr).contains("No such process"), "{o:?}");
    let o = lab.sh("ip netns exec client ping -c 1 -W 2 198.51.100.10");
    assert!(text(&o.stdout).contains("Destination Net Unreachable"));

    // The socket: owner-only, and it answers junk with errors, not a crash.
    let mode = std::fs::metadata(&lab.sock).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let mut s = std::os::unix::net::UnixStream::connect(&lab.sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut ask = |req: &[u8]| -> Value {
        s.write_all(req).unwrap();
        let mut l = String::new();
        r.read_line(&mut l).unwrap();
        serde_json::from_str(&l).unwrap_or_else(|e| panic!("{e}: {l}"))
    };
    for bad in [
        &b"not json\n"[..],
        b"{\"cmd\":\"shutdown\"}\n",
        b"{\"cmd\":\"route_add\",\"to\":\"10.9.0.0/16\"}\n",
        b"{\"cmd\":\"capture\",\"iface\":\"eth7\"}\n",
        b"{\"cmd\":\"stats\",\"extra\":1}\n",
    ] {
        let v = ask(bad);
        assert_eq!(v["ok"], false, "{} gave {v}", text(bad));
    }
    let v = ask(b"{\"cmd\":\"stats\"}\n");
    assert_eq!(v["ok"], true);
    let mut big = vec![b'x'; router::ctl::MAX_REQUEST + 1024];
    big.push(b'\n');
    let _ = s.write_all(&big);
    let mut l = String::new();
    let _ = r.read_line(&mut l);
    assert!(l.contains("too long"), "{l}");
    // Still serving others.
    assert!(lab.ctl_ok(&["stats"]).contains("wan0"));

    // Another uid is refused even when the file would let it in (root only: needs setpriv).
    if is_root() {
        std::fs::set_permissions(&lab.sock, std::fs::Permissions::from_mode(0o666)).unwrap();
        std::fs::set_permissions(&lab.dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let o = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .args(["sh", "-c"])
            .arg(format!(
                // The refusal comes at connect time; sending nothing keeps nc from racing it.
                "nc -N -U {} </dev/null",
                lab.sock.display()
            ))
            .output()
            .unwrap();
        assert!(
            text(&o.stdout).contains("permission denied"),
            "{}{}",
            text(&o.stdout),
            text(&o.stderr)
        );
        assert!(lab.log().contains("refused a connection from uid"));
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| text(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

#[test]
fn trace_and_capture_streams() {
    let mut lab = Lab::new("streams");
    lab.start_router(TOPOLOGY);
    lab.configure_hosts();

    // A live trace of what arrives on lan0.
    let mut trace = Command::new(ROUTER)
        .arg("ctl")
        .arg("--socket")
        .arg(&lab.sock)
        .args(["trace", "--iface", "lan0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let lines = BufReader::new(trace.stdout.take().unwrap());
    std::thread::spawn(move || {
        for l in lines.lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    // Ping until the trace shows a whole packet: the subscription is registered only once
    // the client has connected, which this test does not otherwise see.
    let mut events: Vec<Value> = Vec::new();
    'rounds: for _ in 0..20 {
        lab.ok("ip netns exec client ping -c 1 -W 1 10.2.0.2");
        while let Ok(l) = rx.recv_timeout(Duration::from_millis(300)) {
            let v: Value = serde_json::from_str(&l).unwrap();
            if events.is_empty() && v["event"] != "receive" {
                continue;
            }
            let done = v["event"] == "transmit";
            events.push(v);
            if done {
                break 'rounds;
            }
        }
    }
    let _ = trace.kill();
    let _ = trace.wait();
    // receive, route, (a hook event per registered callback), transmit.
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.first(), Some(&"receive"), "{events:?}");
    assert_eq!(events[0]["iface"], "lan0");
    assert!(events[0]["summary"].as_str().unwrap().contains("10.1.0.2"));
    let route = events
        .iter()
        .find(|e| e["event"] == "route")
        .expect("a route event");
    assert_eq!(route["decision"], "forward");
    assert_eq!(route["oif"], "wan0");
    assert_eq!(events.last().unwrap()["oif"], "wan0");
    assert!(
        events.iter().all(|e| e["packet"] == events[0]["packet"]),
        "{events:?}"
    );
    // The reply arrived on wan0 and is not in this filtered trace; the subscription is gone
    // once the client is.

    // Capture on lan0: the request in, and (for TTL 1) the router's time exceeded out.
    let file = lab.dir.join("lan0.pcapng");
    let mut cap = Command::new(ROUTER)
        .arg("ctl")
        .arg("--socket")
        .arg(&lab.sock)
        .args(["capture", "lan0", "-c", "4", "-w"])
        .arg(&file)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    let mut cap_err = BufReader::new(cap.stderr.take().unwrap());
    cap_err.read_line(&mut first).unwrap();
    if !first.contains("capturing on lan0") {
        let mut rest = String::new();
        let _ = cap_err.read_to_string(&mut rest);
        panic!("ctl capture: {first}{rest} ({:?})", cap.wait());
    }
    lab.ok("ip netns exec client ping -c 1 -W 2 10.2.0.2");
    let _ = lab.sh("ip netns exec client ping -c 1 -t 1 -W 2 10.2.0.2");
    let start = Instant::now();
    let st = loop {
        if let Some(st) = cap.try_wait().unwrap() {
            break st;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "capture did not stop after 4 packets"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(st.success());
    let (pkts, _) = router::replay::pcap::read_capture(&file, None).unwrap();
    assert_eq!(pkts.len(), 4, "{pkts:?}");
    assert!(pkts.iter().all(|p| p.iface == "lan0"));
    let desc: Vec<String> = pkts
        .iter()
        .map(|p| router::wire::describe::describe(&p.data))
        .collect();
    assert!(
        desc[0].contains("10.1.0.2") && desc[0].contains("10.2.0.2"),
        "{desc:?}"
    );
    assert!(
        desc[1].contains("10.2.0.2") && desc[1].contains("10.1.0.2"),
        "{desc:?}"
    );
    assert_eq!(
        pkts[3].comment.as_deref(),
        Some(router::replay::pcap::ORIGINATED),
        "{desc:?}"
    );
    assert!(pkts[1].comment.is_none());
}

#[test]
fn reload_device_loss_and_shutdown() {
    let mut lab = Lab::new("life");
    // wan0's namespace given as a path rather than a name.
    let toml = TOPOLOGY.replace("netns = \"server\"", "netns = \"/run/netns/server\"");
    lab.start_router(&toml);
    lab.configure_hosts();
    let cfg = lab.dir.join("router.toml");

    // A broken file is refused; the running configuration stays.
    std::fs::write(&cfg, "[[interface]]\nname = \"lan0\"\nmtu = 5\n").unwrap();
    lab.signal("HUP");
    wait_for(
        || lab.log().contains("keeping the running configuration"),
        "the reload to be refused",
    );
    assert!(lab.log().contains("mtu 5 is out of range"), "{}", lab.log());
    // A file with other interfaces is refused too.
    std::fs::write(&cfg, TOPOLOGY.replace("wan0", "wan1")).unwrap();
    lab.signal("HUP");
    wait_for(
        || lab.log().contains("the interfaces changed"),
        "the second reload to be refused",
    );
    lab.ok("ip netns exec client ping -c 1 -W 2 10.2.0.2");

    // A good one: a new route appears, lan0's MTU changes, counters carry over.
    let before = lab.stats();
    let changed = toml.replacen("netns = \"client\"", "netns = \"client\"\nmtu = 1400", 1);
    std::fs::write(
        &cfg,
        format!("{changed}\n[[route]]\nto = \"198.51.100.0/24\"\nvia = \"10.2.0.2\"\n"),
    )
    .unwrap();
    lab.signal("HUP");
    wait_for(|| lab.log().contains("SIGHUP: reloaded"), "the reload");
    assert!(lab
        .ctl_ok(&["routes"])
        .contains("198.51.100.0/24 via 10.2.0.2 dev wan0"));
    let link = lab.ok("ip -n client -o link show lan0");
    assert!(link.contains("mtu 1400"), "{link}");
    let after = lab.stats();
    assert!(
        delta(&after, &before, 0, "rx_packets") == 0
            && after["interfaces"][0]["rx_packets"].as_u64().unwrap() >= 1
    );

    // wan0 disappears (its namespace side deleted): logged, and the rest keeps running.
    lab.ok("ip -n server link del wan0");
    // Traffic towards wan0 is what makes the router notice at the latest.
    let _ = lab.sh("ip netns exec client ping -c 1 -W 1 10.2.0.2");
    wait_for(
        || lab.log().contains("device disappeared"),
        "the loss of wan0 to be logged",
    );
    let s = lab.stats();
    assert_eq!(s["interfaces"][1]["state"], "gone", "{s}");
    assert_eq!(s["interfaces"][0]["state"], "up", "{s}");
    let out = lab.ok("ip netns exec client ping -c 2 -i 0.1 -W 2 10.1.0.1");
    assert!(out.contains("2 received"), "{out}");

    // SIGTERM: a clean stop, devices removed, socket removed.
    lab.signal("TERM");
    let mut r = lab.router.take().unwrap();
    let st = r.wait().unwrap();
    assert!(st.success(), "router exit: {st}\n{}", lab.log());
    assert!(lab.log().contains("devices removed"));
    assert!(!lab.sock.exists());
    let links = lab.ok("ip -n client -o link show");
    assert!(!links.contains("lan0"), "{links}");
}

#[test]
fn jumbo_mtu_fragmentation_and_frag_needed() {
    let mut lab = Lab::new("mtu");
    // A 64 KiB link on the client side, a 1500-byte one on the server side.
    lab.start_router(&TOPOLOGY.replacen(
        "netns = \"client\"",
        "netns = \"client\"\nmtu = 65535",
        1,
    ));
    lab.configure_hosts();
    let link = lab.ok("ip -n client -o link show lan0");
    assert!(link.contains("mtu 65535"), "{link}");
    // 60000 bytes of ICMP in one packet: the router fragments it for wan0; the server's
    // reply comes back in fragments, which the router forwards as they are.
    let out = lab.ok("ip netns exec client ping -c 2 -i 0.2 -s 60000 -M dont -W 2 10.2.0.2");
    assert!(out.contains("2 received"), "{out}");
    let s = lab.stats();
    assert_eq!(s["interfaces"][0]["rx_bytes"], 2 * 60028, "{s}");
    assert!(
        s["interfaces"][1]["tx_packets"].as_u64().unwrap() >= 2 * 41,
        "{s}"
    );
    // With DF the router answers fragmentation needed, with wan0's MTU.
    let o = lab.sh("ip netns exec client ping -c 1 -s 60000 -M do -W 2 10.2.0.2");
    let out = text(&o.stdout);
    assert!(
        out.contains("From 10.1.0.1") && out.contains("mtu = 1500"),
        "{out}{}",
        text(&o.stderr)
    );
}

#[test]
fn point_to_point_address_is_mirrored_on_the_kernel_side() {
    let mut lab = Lab::new("p2p");
    lab.start_router(
        "[[interface]]\nname = \"lan0\"\naddresses = [\"192.0.2.1 peer 192.0.2.2\"]\nnetns = \"client\"\n",
    );
    let addr = lab.ok("ip -n client -o -4 addr show dev lan0");
    assert!(addr.contains("inet 192.0.2.2 peer 192.0.2.1/32"), "{addr}");
    // Nothing else to configure: the client reaches the router over the link.
    let out = lab.ok("ip netns exec client ping -c 1 -W 2 192.0.2.1");
    assert!(out.contains("1 received"), "{out}");
}

#[test]
fn rules_file_applies_live_and_reloads() {
    let mut lab = Lab::new("rules");
    let rules = |extra: &str| {
        format!("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n{extra}COMMIT\n")
    };
    std::fs::write(
        lab.dir.join("rules.v4"),
        rules("-A FORWARD -p udp --dport 7777 -j REJECT\n"),
    )
    .unwrap();
    lab.start_router(&format!("{TOPOLOGY}\n[netfilter]\nrules = \"rules.v4\"\n"));
    lab.configure_hosts();
    assert!(lab.ctl_ok(&["hooks"]).contains("iptable_filter"));
    lab.start_udp_echo("10.2.0.2:7777");
    // REJECT in FORWARD: the router's port unreachable, although the server listens.
    assert_eq!(lab.helper("client", "udp-ask 10.2.0.2:7777 hi"), "refused");

    // A rules file the router refuses keeps the running rules.
    std::fs::write(
        lab.dir.join("rules.v4"),
        "*filter\n-A NOSUCHCHAIN -j DROP\nCOMMIT\n",
    )
    .unwrap();
    lab.signal("HUP");
    wait_for(
        || lab.log().contains("keeping the running configuration"),
        "the bad rules to be refused",
    );
    assert!(lab.log().contains("rules.v4"), "{}", lab.log());
    assert_eq!(lab.helper("client", "udp-ask 10.2.0.2:7777 hi"), "refused");

    // Without the rule, the echo comes back.
    std::fs::write(lab.dir.join("rules.v4"), rules("")).unwrap();
    lab.signal("HUP");
    wait_for(|| lab.log().contains("SIGHUP: reloaded"), "the reload");
    assert_eq!(lab.helper("client", "udp-ask 10.2.0.2:7777 hi"), "reply hi");
}

#[test]
fn startup_errors_explain_the_fix() {
    require_tools();
    let dir = std::env::temp_dir().join(format!("router-e2e-errors-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("router.toml");
    std::fs::write(&cfg, TOPOLOGY).unwrap();
    let run = |prefix: &str| -> String {
        let o = Command::new("unshare")
            .args([
                "-Urn",
                "--mount",
                "--propagation",
                "private",
                "--",
                "sh",
                "-c",
            ])
            .arg(format!(
                "{prefix} exec {ROUTER} run -c {} --socket {}/r.sock",
                cfg.display(),
                dir.display()
            ))
            .output()
            .unwrap();
        assert!(!o.status.success());
        text(&o.stderr)
    };
    // No TUN device node.
    let e = run("mount -t tmpfs tmpfs /dev/net &&");
    assert!(
        e.contains("/dev/net/tun") && e.contains("modprobe tun"),
        "{e}"
    );
    // A namespace that does not exist.
    let e = run("");
    assert!(e.contains("ip netns add client"), "{e}");
    // Permission denied on the node: as a user who cannot open it (needs root to switch).
    if is_root()
        && std::fs::metadata("/dev/net/tun")
            .unwrap()
            .permissions()
            .mode()
            & 0o006
            == 0
    {
        let o = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .args(["unshare", "-Urn", ROUTER, "run", "-c"])
            .arg(&cfg)
            .arg("--socket")
            .arg(dir.join("r.sock"))
            .output()
            .unwrap();
        let e = text(&o.stderr);
        assert!(
            e.contains("permission denied")
                && e.contains("chmod 0666")
                && e.contains("unshare -Urn"),
            "{e}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn wait_for(mut cond: impl FnMut() -> bool, what: &str) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Not a test: when `E2E_HELPER` is set, this binary was started inside a namespace to be a
/// UDP endpoint, and prints `E2E-RESULT ...`.
///
/// - `udp-echo ADDR:PORT`: answer each datagram with itself, for 20 s.
/// - `udp-ask ADDR:PORT MSG`: send MSG (retrying, as UDP needs), print `reply MSG`,
///   `refused` (an ICMP port unreachable reached the socket) or `timeout`.
#[test]
fn helper_process() {
    let Ok(args) = std::env::var("E2E_HELPER") else {
        return;
    };
    let words: Vec<&str> = args.split_whitespace().collect();
    match words.as_slice() {
        ["udp-echo", addr] => {
            let s = std::net::UdpSocket::bind(addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            let mut buf = [0u8; 2048];
            while let Ok((n, from)) = s.recv_from(&mut buf) {
                let _ = s.send_to(&buf[..n], from);
            }
        }
        ["udp-ask", addr, msg] => {
            let s = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
            s.connect(addr).unwrap();
            s.set_read_timeout(Some(Duration::from_millis(300)))
                .unwrap();
            let mut buf = [0u8; 2048];
            let mut result = "timeout".to_string();
            for _ in 0..20 {
                if let Err(e) = s.send(msg.as_bytes()) {
                    if e.kind() == std::io::ErrorKind::ConnectionRefused {
                        result = "refused".into();
                        break;
                    }
                }
                match s.recv(&mut buf) {
                    Ok(n) => {
                        result = format!("reply {}", String::from_utf8_lossy(&buf[..n]));
                        break;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                        result = "refused".into();
                        break;
                    }
                    Err(_) => {}
                }
            }
            println!("E2E-RESULT {result}");
        }
        _ => panic!("unknown helper `{args}`"),
    }
}

/// Egress NAT and a stateful FORWARD policy on the live router, inspected and changed with
/// `ctl conntrack`, `ctl iptables`, `ctl iptables-restore` and `ctl sysctl`.
#[test]
fn ctl_conntrack_iptables_and_sysctl_on_masquerade() {
    let mut lab = Lab::new("nat");
    std::fs::write(
        lab.dir.join("rules.v4"),
        "*nat\n:POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -o wan0 -j MASQUERADE\nCOMMIT\n\
         *filter\n:FORWARD DROP [0:0]\n-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n\
         -A FORWARD -i lan0 -o wan0 -j ACCEPT\nCOMMIT\n",
    )
    .unwrap();
    lab.start_router(&format!("{TOPOLOGY}\n[netfilter]\nrules = \"rules.v4\"\n"));
    lab.configure_hosts();

    // `ctl conntrack -E` sees the connection come and be answered.
    let mut events = Command::new(ROUTER)
        .args(["ctl", "--socket"])
        .arg(&lab.sock)
        .args(["conntrack", "-E"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    lab.ok("ip netns exec client ping -c 2 -i 0.2 -W 2 10.2.0.2");
    std::thread::sleep(Duration::from_millis(300));
    let _ = events.kill();
    let mut ev = String::new();
    events
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut ev)
        .unwrap();
    let _ = events.wait();
    assert!(
        ev.contains("    [NEW] icmp     1 30 src=10.1.0.2 dst=10.2.0.2 type=8 code=0")
            && ev.contains("[UNREPLIED] src=10.2.0.2 dst=10.2.0.1 type=0 code=0"),
        "{ev}"
    );
    assert!(
        ev.contains(" [UPDATE] icmp     1 30 src=10.1.0.2 dst=10.2.0.2"),
        "{ev}"
    );

    // Masqueraded: the server answered 10.2.0.1.
    let ct = lab.ctl_ok(&["conntrack", "-L"]);
    assert!(
        ct.contains("src=10.1.0.2 dst=10.2.0.2 type=8 code=0")
            && ct.contains("src=10.2.0.2 dst=10.2.0.1 type=0 code=0"),
        "{ct}"
    );
    assert_eq!(lab.ctl_ok(&["conntrack", "-C"]).trim(), "1");
    // One connection: the nat chain saw one packet.
    let nat = lab.ctl_ok(&["iptables", "-t", "nat", "-nvxL"]);
    let masq = nat.lines().find(|l| l.contains("MASQUERADE")).unwrap();
    assert_eq!(masq.split_whitespace().next(), Some("1"), "{nat}");
    // From outside, nothing new gets in.
    let o = lab.sh("ip netns exec server ping -c 1 -W 1 10.1.0.2");
    assert!(!o.status.success());

    // SIGHUP re-reads the files; the connection (and its translation) survives.
    lab.signal("HUP");
    wait_for(
        || lab.log().contains("connection-tracking entries kept"),
        "the reload",
    );
    assert!(
        lab.log()
            .contains("SIGHUP: 1 connection-tracking entries kept"),
        "{}",
        lab.log()
    );
    assert!(lab
        .ctl_ok(&["conntrack", "-L"])
        .contains("src=10.2.0.2 dst=10.2.0.1 type=0 code=0"));

    // Zero the counters of one table.
    lab.ctl_ok(&["iptables", "-t", "nat", "-Z"]);
    let save = lab.ctl_ok(&["iptables-save", "-t", "nat"]);
    assert!(
        save.contains("[0:0] -A POSTROUTING -o wan0 -j MASQUERADE"),
        "{save}"
    );

    // A bad ruleset is refused and the old one stays.
    let o = lab.sh(&format!(
        "printf '*filter\\n-A NOPE -j ACCEPT\\nCOMMIT\\n' | {ROUTER} ctl --socket {} iptables-restore",
        lab.sock.display()
    ));
    assert!(!o.status.success());
    assert!(text(&o.stderr).contains("2:"), "{}", text(&o.stderr));
    assert!(lab.ctl_ok(&["iptables", "-nvxL"]).contains("policy DROP"));

    // A file with only a filter section leaves nat alone, as iptables-restore does; its
    // counters are taken only with -c.
    std::fs::write(
        lab.dir.join("filter.v4"),
        "*filter\n:FORWARD DROP [5:500]\nCOMMIT\n",
    )
    .unwrap();
    let filter_v4 = lab.dir.join("filter.v4");
    lab.ctl_ok(&["iptables-restore", filter_v4.to_str().unwrap()]);
    let save = lab.ctl_ok(&["iptables-save"]);
    assert!(save.contains(":FORWARD DROP [0:0]"), "{save}");
    assert!(
        save.contains("-A POSTROUTING -o wan0 -j MASQUERADE"),
        "{save}"
    );
    lab.ctl_ok(&["iptables-restore", "-c", filter_v4.to_str().unwrap()]);
    assert!(lab
        .ctl_ok(&["iptables-save", "-t", "filter"])
        .contains(":FORWARD DROP [5:500]"));

    // Let everything in and remove nat (an empty section deletes the table): the
    // connection survives the swap, and the server can now ping in.
    std::fs::write(
        lab.dir.join("open.v4"),
        "*filter\n:FORWARD ACCEPT [0:0]\nCOMMIT\n*nat\nCOMMIT\n",
    )
    .unwrap();
    lab.ctl_ok(&[
        "iptables-restore",
        lab.dir.join("open.v4").to_str().unwrap(),
    ]);
    assert!(!lab.ctl_ok(&["iptables-save"]).contains("*nat"));
    assert!(lab.ctl_ok(&["conntrack", "-L"]).contains("type=8"));
    lab.ok("ip netns exec server ping -c 1 -W 2 10.1.0.2");
    assert!(
        !lab.ctl_ok(&["hooks"]).contains("nf_nat"),
        "no nat table, no NAT hooks"
    );

    // Delete with a filter, then flush.
    lab.ctl_ok(&["conntrack", "-D", "-p", "icmp", "-s", "10.2.0.2"]);
    let ct = lab.ctl_ok(&["conntrack", "-L"]);
    assert!(!ct.contains("src=10.2.0.2 dst=10.1.0.2 type=8"), "{ct}");
    let o = lab.ctl(&["conntrack", "-D", "-p", "tcp", "--dport", "9"]);
    assert!(
        !o.status.success(),
        "nothing to delete is exit 1, as conntrack"
    );
    lab.ctl_ok(&["conntrack", "-F"]);
    assert_eq!(lab.ctl_ok(&["conntrack", "-C"]).trim(), "0");

    // sysctl: read, write, and refuse what cannot be written.
    assert_eq!(
        lab.ctl_ok(&["sysctl", "net.ipv4.ip_forward"]).trim(),
        "net.ipv4.ip_forward = 1"
    );
    lab.ctl_ok(&["sysctl", "-w", "net.ipv4.ip_forward=0"]);
    let o = lab.sh("ip netns exec client ping -c 1 -W 1 10.2.0.2");
    assert!(!o.status.success(), "forwarding is off");
    assert_eq!(
        lab.ctl_ok(&["sysctl", "net/ipv4/conf/lan0/forwarding"])
            .trim(),
        "net.ipv4.conf.lan0.forwarding = 0"
    );
    lab.ctl_ok(&["sysctl", "-w", "net.ipv4.ip_forward=1"]);
    lab.ok("ip netns exec client ping -c 1 -W 2 10.2.0.2");
    let o = lab.ctl(&["sysctl", "-w", "net.ipv4.ip_froward=1"]);
    assert!(
        text(&o.stderr).contains("ip_forward"),
        "{}",
        text(&o.stderr)
    );
    let o = lab.ctl(&["sysctl", "-w", "net.netfilter.nf_conntrack_buckets=64"]);
    assert!(!o.status.success());
}

/// The two scripts users start with run to the end: `lab.sh` (MASQUERADE between two
/// namespaces, the stateful policy, the table and counters) and `container-egress.sh demo`.
#[test]
fn netns_scripts_run_to_the_end() {
    require_tools();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../netns-scripts");
    for (script, args) in [("lab.sh", &[][..]), ("container-egress.sh", &["demo"][..])] {
        let o = Command::new("bash")
            .arg(dir.join(script))
            .args(args)
            .env("ROUTER_BIN", ROUTER)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let out = text(&o.stdout);
        assert!(
            o.status.success(),
            "{script} failed:\n{out}{}",
            text(&o.stderr)
        );
        assert!(
            out.contains("flow entries have been shown")
                || text(&o.stderr).contains("flow entries have been shown"),
            "{script}:\n{out}"
        );
        assert!(out.contains("tearing down"), "{script}:\n{out}");
    }
}

/// Port forwarding with real programs: `server` connects to the router's WAN address, DNAT
/// sends it to a listener in `client`; the TCP stream survives a SIGHUP reload in the
/// middle, and `ctl conntrack` shows the translated flow.
#[test]
fn dnat_port_forward_survives_a_reload_mid_stream() {
    let mut lab = Lab::new("dnat");
    std::fs::write(
        lab.dir.join("rules.v4"),
        "*nat\n:PREROUTING ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n\
         -A PREROUTING -i wan0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.1.0.2:7777\n\
         -A POSTROUTING -o wan0 -j MASQUERADE\nCOMMIT\n\
         *filter\n:FORWARD DROP [0:0]\n\
         -A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n\
         -A FORWARD -m conntrack --ctstate DNAT -j ACCEPT\n\
         -A FORWARD -i lan0 -j ACCEPT\nCOMMIT\n",
    )
    .unwrap();
    lab.start_router(&format!("{TOPOLOGY}\n[netfilter]\nrules = \"rules.v4\"\n"));
    lab.configure_hosts();
    let recv = lab.dir.join("recv.txt");
    lab.ok(&format!(
        "ip netns exec client nc -d -l -n 10.1.0.2 7777 > {} 2>/dev/null < /dev/null &
        for i in $(seq 100); do
          ip netns exec client ss -Hltn | grep -q 10.1.0.2:7777 && exit 0
          sleep 0.05
        done
        echo 'the listener did not start' >&2; exit 1",
        recv.display()
    ));
    let stream = lab.dir.join("stream.sh");
    std::fs::write(
        &stream,
        "(echo first; sleep 1; echo second) | ip netns exec server nc -N -w 5 10.2.0.1 8080\n",
    )
    .unwrap();
    let mut client = lab.nsenter().arg("sh").arg(&stream).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(400));
    let ct = lab.ctl_ok(&["conntrack", "-L", "-p", "tcp"]);
    assert!(
        ct.contains("src=10.2.0.2 dst=10.2.0.1")
            && ct.contains("dport=8080 src=10.1.0.2 dst=10.2.0.2 sport=7777"),
        "{ct}"
    );
    lab.signal("HUP");
    wait_for(|| lab.log().contains("SIGHUP: reloaded"), "the reload");
    assert!(client.wait().unwrap().success(), "{}", lab.log());
    wait_for(
        || std::fs::read_to_string(&recv).is_ok_and(|s| s.contains("second")),
        "the second line",
    );
    assert_eq!(std::fs::read_to_string(&recv).unwrap(), "first\nsecond\n");

    // UDP the other way, from the client through MASQUERADE to an echo server.
    lab.start_udp_echo("10.2.0.2:7777");
    assert_eq!(lab.helper("client", "udp-ask 10.2.0.2:7777 hi"), "reply hi");
    let ct = lab.ctl_ok(&["conntrack", "-L", "-p", "udp"]);
    assert!(
        ct.contains("src=10.1.0.2 dst=10.2.0.2")
            && ct.contains("src=10.2.0.2 dst=10.2.0.1 sport=7777"),
        "{ct}"
    );
}

/// Seed 002's table-full experiment on the live router over a real tun0: the kernel side
/// in `client` connects to port 80 of the router ten times (read before any retry), the router's
/// table holds 7 (`nf_conntrack_max` = 7 in its own configuration), raw counts 10 SYNs and
/// mangle 7, and the router's resets are dropped in raw OUTPUT.
#[test]
fn table_of_seven_over_a_real_tun0() {
    let mut lab = Lab::new("table7");
    std::fs::write(
        lab.dir.join("rules.v4"),
        "*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A PREROUTING -j CT\n\
         -A OUTPUT -p tcp -m tcp --sport 80 -j DROP\nCOMMIT\n\
         *mangle\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING\nCOMMIT\n",
    )
    .unwrap();
    lab.start_router(
        "[[interface]]\nname = \"tun0\"\naddresses = [\"192.0.2.1 peer 192.0.2.2\"]\nnetns = \"client\"\n\
         [sysctl]\n\"net.netfilter.nf_conntrack_max\" = 7\n\
         [netfilter]\nrules = \"rules.v4\"\n",
    );
    // Ten connection attempts, counted before the first SYN retransmission (1 s later).
    lab.ok("ip -n client addr add 192.0.2.2 peer 192.0.2.1 dev tun0
        for i in 0 1 2 3 4 5 6 7 8 9; do
          ip netns exec client nc -z -w 3 -p 1000$i 192.0.2.1 80 </dev/null >/dev/null 2>&1 &
        done
        sleep 0.4");
    let raw = lab.ctl_ok(&["iptables", "-t", "raw", "-nvxL"]);
    let mangle = lab.ctl_ok(&["iptables", "-t", "mangle", "-nvxL"]);
    let first = |t: &str, target: &str| -> u64 {
        t.lines()
            .find(|l| l.contains(target))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(u64::MAX)
    };
    assert_eq!(first(&raw, " CT "), 10, "{raw}");
    assert_eq!(first(&mangle, "0.0.0.0/0"), 7, "{mangle}");
    assert_eq!(lab.ctl_ok(&["conntrack", "-C"]).trim(), "7");
    assert!(
        lab.log()
            .contains("nf_conntrack: table full, dropping packet"),
        "{}",
        lab.log()
    );
    let stats = lab.stats();
    assert_eq!(stats["drops"]["conntrack_table_full"], 3, "{stats}");
}
