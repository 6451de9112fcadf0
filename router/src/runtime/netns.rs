//! Network namespaces: run set-up work inside another namespace without moving the router.
//!
//! A namespace is named as `ip netns` names it (`client` → /run/netns/client) or by a path
//! (/proc/PID/ns/net, or any bind mount of one). The work runs on a dedicated thread that
//! enters the namespace with `setns(CLONE_NEWNET)` and then ends, so no other thread of the
//! router ever changes namespace (a namespace belongs to a thread, not to the process; tokio's
//! thread must stay where it is). Whatever that work creates keeps living in the namespace
//! it was created in — in particular a TUN device, whose descriptor the router keeps — and
//! programs it starts (`ip`) inherit the thread's namespace.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::PathBuf;

/// The file of a namespace given as a name or a path.
pub fn path_of(spec: &str) -> PathBuf {
    if spec.contains('/') {
        PathBuf::from(spec)
    } else {
        PathBuf::from("/run/netns").join(spec)
    }
}

/// Why a namespace could not be entered, explained.
fn explain(spec: &str, step: &str, e: &io::Error) -> String {
    let path = path_of(spec);
    let p = path.display();
    let named = !spec.contains('/');
    let hint = match (e.raw_os_error(), step) {
        (Some(libc::ENOENT), _) if named => format!(
            ": the namespace does not exist; create it with `ip netns add {spec}` (in the same user namespace the router runs in)"
        ),
        (Some(libc::ENOENT), _) => ": no such file (for a process's namespace use /proc/PID/ns/net with a running PID)".into(),
        (Some(libc::EPERM), "setns") | (Some(libc::EACCES), _) => ": the router needs CAP_SYS_ADMIN over the user namespace that owns it: run the router as root, or inside the same `unshare -Urn` that created the namespace".into(),
        (Some(libc::EINVAL), "setns") => ": this is not a network namespace".into(),
        _ => String::new(),
    };
    format!("network namespace `{spec}` ({p}): {step}: {e}{hint}")
}

#[allow(unsafe_code)]
fn setns_net(ns: &File) -> io::Result<()> {
    // SAFETY: setns reads only the descriptor number, which `ns` keeps open for the duration
    // of the call; it changes the calling thread's network namespace and touches no memory
    // of ours.
    let r = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Run `work` inside the namespace `spec` (None: right here, in the router's own) and return
/// what it returns. Blocks until it is done.
pub fn run_in<T, F>(spec: Option<&str>, work: F) -> Result<T, String>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, String> + Send + 'static,
{
    let Some(spec) = spec else {
        return work();
    };
    let spec = spec.to_string();
    let ns = File::open(path_of(&spec)).map_err(|e| explain(&spec, "open", &e))?;
    let name = format!("netns-{}", spec.rsplit('/').next().unwrap_or("ns"));
    let thread = std::thread::Builder::new()
        .name(name)
        .spawn(move || {
            setns_net(&ns).map_err(|e| explain(&spec, "setns", &e))?;
            // The thread ends after the work: nothing needs to switch back.
            work()
        })
        .map_err(|e| format!("starting a thread to enter a namespace: {e}"))?;
    thread
        .join()
        .map_err(|_| "the namespace thread panicked".to_string())?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_paths() {
        assert_eq!(path_of("client"), PathBuf::from("/run/netns/client"));
        assert_eq!(path_of("/proc/1/ns/net"), PathBuf::from("/proc/1/ns/net"));
    }

    #[test]
    fn missing_namespace_is_explained() {
        let e = run_in(Some("no-such-ns-router-test"), || Ok(())).unwrap_err();
        assert!(e.contains("ip netns add no-such-ns-router-test"), "{e}");
        let e = run_in(Some("/nonexistent/ns"), || Ok(())).unwrap_err();
        assert!(
            e.contains("/nonexistent/ns") && e.contains("no such file"),
            "{e}"
        );
        // Not a namespace file.
        let e = run_in(Some("/proc/self/status"), || Ok(())).unwrap_err();
        assert!(e.contains("setns"), "{e}");
        assert_eq!(run_in(None, || Ok(7)).unwrap(), 7);
    }
}
