//! TUN devices: opening them with errors that say how to fix what went wrong, bringing them
//! up with their MTU, and the bounded per-device transmit queue.
//!
//! Devices are layer-3 TUN with `IFF_NO_PI` (each read or write is one bare IP packet), one
//! queue each; the descriptor is closed by `Drop`, and as the devices are not persistent the
//! kernel removes them then. The MTU and the up flag are set with the TUN crate's ioctls
//! (`SIOCSIFMTU`, `SIOCSIFFLAGS`), each failure naming its ioctl.
//!
//! ## Addresses
//!
//! The device's kernel side is not the router: it is the neighbour on that link (the client
//! host in the `client` namespace, say). The router's own addresses (`addresses = [...]`) live
//! in the router's FIB and are answered by its pipeline; they are *not* put on the kernel
//! side, where the neighbour would claim them: it would answer pings meant for the router and
//! send its traffic from the router's address (a martian source to the router). The one
//! address that is unambiguous is a point-to-point one: for `A peer B[/LEN]` the kernel side
//! gets `B peer A/LEN` (with `ip addr add`, run in the device's namespace: iproute2 parses
//! exactly the syntax the configuration uses, including `peer`, which the ioctls cannot
//! express). Give other neighbours their address and default route yourself
//! (`ip -n client addr add 10.1.0.2/24 dev lan0; ip -n client route add default via
//! 10.1.0.1`), as `netns-scripts/lab.sh` does.

use crate::config::Interface;
use std::collections::VecDeque;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::Command;
use tokio::io::unix::AsyncFd;
use tun::AbstractDevice;

/// The TUN clone device.
pub const TUN_NODE: &str = "/dev/net/tun";

/// Check that the TUN clone device can be opened, explaining how to fix it when not.
pub fn check_tun_node() -> Result<(), String> {
    match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(TUN_NODE)
    {
        Ok(_) => Ok(()),
        Err(e) => Err(explain_tun_open(&e)),
    }
}

/// What to do about a failure to open /dev/net/tun.
pub fn explain_tun_open(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::ENOENT) => format!(
            "{TUN_NODE}: {e}. The TUN driver's device node is missing: load the module \
             (`modprobe tun`) or create the node (`mknod {TUN_NODE} c 10 200 && chmod 0666 \
             {TUN_NODE}`); in a container, pass the device in (e.g. `--device {TUN_NODE}`)."
        ),
        Some(libc::ENODEV) | Some(libc::ENXIO) => format!(
            "{TUN_NODE}: {e}. The node exists but no driver answers it: load the module \
             (`modprobe tun`)."
        ),
        Some(libc::EACCES) | Some(libc::EPERM) => {
            let userns = outside_uid();
            let node = match std::fs::metadata(TUN_NODE) {
                Ok(m) if userns.is_some() && m.uid() == 65534 => format!(
                    "the device node is mode {:04o} and owned by a user outside this user namespace (root, most likely)",
                    m.permissions().mode() & 0o7777
                ),
                Ok(m) => format!(
                    "the device node is mode {:04o} and owned by uid {}",
                    m.permissions().mode() & 0o7777,
                    m.uid()
                ),
                Err(_) => "the device node is not accessible".into(),
            };
            let me = crate::ctl::euid();
            let who = match userns {
                Some(outside) => format!(
                    "uid {me} of a user namespace, which is uid {outside} outside it (device nodes check that one)"
                ),
                None => format!("uid {me}"),
            };
            format!(
                "{TUN_NODE}: permission denied ({e}): {node}, and the router runs as {who}. \
                 Fix: make the node usable by everyone, as most distributions ship it \
                 (`chmod 0666 {TUN_NODE}` as root), or run the router as root. Creating devices \
                 also needs CAP_NET_ADMIN: as a normal user, run the router inside \
                 `unshare -Urn` (netns-scripts/lab.sh does)."
            )
        }
        _ => format!("{TUN_NODE}: open: {e}"),
    }
}

/// When this process is in a user namespace (not the initial one), its uid outside it.
fn outside_uid() -> Option<u64> {
    let map = std::fs::read_to_string("/proc/self/uid_map").ok()?;
    let me = u64::from(crate::ctl::euid());
    for line in map.lines() {
        let f: Vec<u64> = line
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
        if let [inside, outside, count] = f[..] {
            if inside == 0 && outside == 0 && count == u64::from(u32::MAX) {
                return None;
            }
            if (inside..inside + count).contains(&me) {
                return Some(outside + (me - inside));
            }
        }
    }
    None
}

fn explain_create(name: &str, e: tun::Error) -> String {
    let io: io::Error = e.into();
    let hint = match io.raw_os_error() {
        Some(libc::EPERM) => " — creating a network device needs CAP_NET_ADMIN in this network namespace: run the router as root, or inside `unshare -Urn` (which gives it in a new user and network namespace); a persistent device of that name owned by another user also gives this",
        Some(libc::EBUSY) => " — a TUN device of that name is already in use in this namespace (another router running? `ip link del NAME` if it is stale)",
        Some(libc::EINVAL) => " — a device of that name that is not a TUN device exists in this namespace (`ip link del NAME`)",
        Some(libc::EACCES) | Some(libc::ENOENT) => return explain_tun_open(&io),
        _ => "",
    };
    format!(
        "creating TUN device {name} (open {TUN_NODE}, ioctl TUNSETIFF): {io}{}",
        hint.replace("NAME", name)
    )
}

/// Create the TUN device for `iface` in the calling thread's namespace: layer 3, no packet
/// information, the configured MTU, up; point-to-point peers mirrored on the kernel side.
/// Non-blocking, ready for the reactor.
pub fn create(iface: &Interface) -> Result<tun::Device, String> {
    let name = iface.name.as_str();
    let mut c = tun::Configuration::default();
    c.tun_name(name).layer(tun::Layer::L3);
    // Configure it here, each step with its own error, rather than inside `Device::new`.
    c.platform_config(|p| {
        p.ensure_root_privileges(false);
    });
    let mut dev = tun::Device::new(&c).map_err(|e| explain_create(name, e))?;
    // Linux TUN devices accept up to 65535 (the configuration allows 68-65535).
    let mtu = u16::try_from(iface.mtu).unwrap_or(u16::MAX);
    dev.set_mtu(mtu)
        .map_err(|e| format!("{name}: setting MTU {mtu} (ioctl SIOCSIFMTU): {e}"))?;
    dev.enabled(true)
        .map_err(|e| format!("{name}: bringing it up (ioctl SIOCSIFFLAGS): {e}"))?;
    for a in &iface.addresses {
        if let Some(peer) = a.peer {
            let mirrored = format!("{}/{}", a.local, a.prefix_len);
            ip(&[
                "addr",
                "add",
                &peer.to_string(),
                "peer",
                &mirrored,
                "dev",
                name,
            ])?;
        }
    }
    dev.set_nonblock()
        .map_err(|e| format!("{name}: non-blocking mode (fcntl O_NONBLOCK): {e}"))?;
    Ok(dev)
}

/// Register a device with the reactor (it must be non-blocking, as [`create`] leaves it).
#[allow(unsafe_code)]
pub fn register(dev: tun::Device, name: &str) -> Result<AsyncFd<tun::Device>, String> {
    // SAFETY: a `tun::Device` owns its descriptor (opened by `Device::new`, closed only by its
    // `Drop`) and `as_raw_fd` always returns that same descriptor; the `AsyncFd` takes
    // ownership of the device, so the descriptor stays open and unchanged for its whole life.
    unsafe { AsyncFd::register(dev) }.map_err(|e| {
        let (_, cause) = e.into_parts();
        format!("{name}: registering the device with the reactor (epoll_ctl): {cause}")
    })
}

/// Set a device's MTU (in the calling thread's namespace) with `ip link`.
pub fn set_mtu(name: &str, mtu: u32) -> Result<(), String> {
    ip(&["link", "set", "dev", name, "mtu", &mtu.to_string()])
}

/// Run `ip ARGS`; its error output becomes the error.
pub fn ip(args: &[&str]) -> Result<(), String> {
    let shown = format!("ip {}", args.join(" "));
    let out = Command::new("ip").args(args).output().map_err(|e| {
        if e.kind() == io::ErrorKind::NotFound {
            format!("{shown}: `ip` (iproute2) is not installed")
        } else {
            format!("{shown}: {e}")
        }
    })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{shown}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A bounded queue of packets waiting for a device that would not take them right away.
/// Buffers are recycled: once the queue has been as deep as it gets, queueing allocates
/// nothing.
#[derive(Debug)]
pub struct TxQueue {
    queue: VecDeque<Vec<u8>>,
    free: Vec<Vec<u8>>,
    limit: usize,
}

impl TxQueue {
    /// A queue of at most `limit` packets.
    pub fn new(limit: usize) -> Self {
        TxQueue {
            queue: VecDeque::with_capacity(limit),
            free: Vec::new(),
            limit,
        }
    }

    /// Queue a copy of `data`; false (and nothing queued) when full.
    pub fn push(&mut self, data: &[u8]) -> bool {
        if self.queue.len() >= self.limit {
            return false;
        }
        let mut b = self.free.pop().unwrap_or_default();
        b.clear();
        b.extend_from_slice(data);
        self.queue.push_back(b);
        true
    }

    /// The oldest packet.
    pub fn front(&self) -> Option<&[u8]> {
        self.queue.front().map(|b| b.as_slice())
    }

    /// Drop the oldest packet (its buffer is kept for reuse).
    pub fn pop(&mut self) {
        if let Some(b) = self.queue.pop_front() {
            self.free.push(b);
        }
    }

    /// Packets waiting.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Nothing waiting?
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Forget everything waiting.
    pub fn clear(&mut self) {
        while !self.queue.is_empty() {
            self.pop();
        }
    }
}

/// How many packets a device's transmit queue holds: about 4 MiB of its MTU, between 16 and
/// 1024 packets.
pub fn tx_queue_limit(mtu: u32) -> usize {
    ((4 << 20) / mtu.max(68) as usize).clamp(16, 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_is_bounded_and_recycles() {
        let mut q = TxQueue::new(2);
        assert!(q.push(&[1, 2, 3]));
        assert!(q.push(&[4]));
        assert!(!q.push(&[5]));
        assert_eq!(q.front(), Some(&[1u8, 2, 3][..]));
        q.pop();
        assert_eq!(q.front(), Some(&[4u8][..]));
        assert!(q.push(&[6, 7]));
        assert_eq!(q.len(), 2);
        q.clear();
        assert!(q.is_empty() && q.front().is_none());
        assert_eq!(tx_queue_limit(1500), 1024);
        assert_eq!(tx_queue_limit(65535), 64);
    }

    #[test]
    fn errors_say_how_to_fix() {
        let e = explain_tun_open(&io::Error::from_raw_os_error(libc::ENOENT));
        assert!(e.contains("modprobe tun") && e.contains("mknod"), "{e}");
        let e = explain_tun_open(&io::Error::from_raw_os_error(libc::EACCES));
        assert!(
            e.contains("chmod 0666") && e.contains("unshare -Urn") && e.contains("denied"),
            "{e}"
        );
        let e = explain_create(
            "lan0",
            tun::Error::Io(io::Error::from_raw_os_error(libc::EPERM)),
        );
        assert!(e.contains("CAP_NET_ADMIN") && e.contains("lan0"), "{e}");
        let e = explain_create(
            "lan0",
            tun::Error::Io(io::Error::from_raw_os_error(libc::EBUSY)),
        );
        assert!(e.contains("ip link del lan0"), "{e}");
    }
}
