//! The control socket's server side: binds the socket owner-only, checks each peer's uid,
//! reads size-limited request lines and answers them through a [`Handler`] (the runtime's,
//! or a test's). Runs on the runtime's single thread (`spawn_local`), so handlers can reach
//! the router's state without locks.

use super::{error_response, parse_request, Request, MAX_CONNECTIONS, MAX_REQUEST};
use std::cell::Cell;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;

/// What answers requests.
pub trait Handler {
    /// Answer a request that is not a stream (`{"ok":…}`).
    fn handle(&self, req: &Request) -> serde_json::Value;
    /// Start a trace stream; the receiver yields JSON lines.
    fn trace(&self, iface: Option<&str>) -> Result<mpsc::Receiver<String>, String>;
    /// Start a capture stream; the receiver yields JSON lines.
    fn capture(&self, iface: &str) -> Result<mpsc::Receiver<String>, String>;
    /// Subscribe to connection-tracking events.
    fn conntrack_events(&self) -> Result<mpsc::Receiver<String>, String> {
        Err("this router keeps no connection table events".into())
    }
}

/// A bound control socket. The socket file is removed when this is dropped.
pub struct ControlSocket {
    listener: Option<UnixListener>,
    tmp: PathBuf,
    path: PathBuf,
    published: bool,
}

/// Bind `path` (not yet visible under that name: see [`ControlSocket::publish`]). Fails if
/// another router answers there; a stale socket file is replaced. Must be called within a
/// tokio runtime.
pub fn bind(path: &Path) -> Result<ControlSocket, String> {
    let shown = path.display();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.is_dir() {
            return Err(format!(
                "control socket {shown}: directory {} does not exist (choose another path with --socket)",
                dir.display()
            ));
        }
    }
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(format!(
                    "control socket {shown}: another router is already running there (stop it, or use --socket)"
                ));
            }
            std::fs::remove_file(path)
                .map_err(|e| format!("control socket {shown}: removing the stale socket: {e}"))?;
        }
        Ok(_) => {
            return Err(format!(
                "control socket {shown}: exists and is not a socket; refusing to replace it"
            ))
        }
        Err(_) => {}
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".{}.tmp", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let _ = std::fs::remove_file(&tmp);
    let listener =
        UnixListener::bind(&tmp).map_err(|e| format!("control socket {shown}: bind: {e}"))?;
    let sock = ControlSocket {
        listener: Some(listener),
        tmp,
        path: path.to_path_buf(),
        published: false,
    };
    std::fs::set_permissions(&sock.tmp, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| format!("control socket {shown}: chmod 0600: {e}"))?;
    Ok(sock)
}

impl ControlSocket {
    /// Move the socket to its real name (the moment clients can find it).
    pub fn publish(&mut self) -> Result<(), String> {
        std::fs::rename(&self.tmp, &self.path)
            .map_err(|e| format!("control socket {}: rename: {e}", self.path.display()))?;
        self.published = true;
        Ok(())
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Serve connections until the future is dropped.
    pub async fn serve(&mut self, handler: Rc<dyn Handler>) {
        let Some(listener) = self.listener.take() else {
            return;
        };
        let active = Rc::new(Cell::new(0usize));
        let me = super::euid();
        loop {
            let stream = match listener.accept().await {
                Ok((s, _)) => s,
                Err(e) => {
                    tracing::warn!("control socket: accept: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            };
            let handler = handler.clone();
            let active = active.clone();
            tokio::task::spawn_local(async move {
                if active.get() >= MAX_CONNECTIONS {
                    let _ = reply(
                        &mut { stream },
                        &error_response(format!(
                            "too many control connections (limit {MAX_CONNECTIONS})"
                        )),
                    )
                    .await;
                    return;
                }
                active.set(active.get() + 1);
                connection(stream, handler, me).await;
                active.set(active.get() - 1);
            });
        }
    }
}

impl Drop for ControlSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.tmp);
        if self.published {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

async fn reply<W: AsyncWriteExt + Unpin>(w: &mut W, v: &serde_json::Value) -> std::io::Result<()> {
    let mut line = v.to_string();
    line.push('\n');
    w.write_all(line.as_bytes()).await
}

/// Serve one connection: check the peer, then answer its requests in order.
pub async fn connection(stream: UnixStream, handler: Rc<dyn Handler>, allowed_uid: u32) {
    let (rd, mut wr) = stream.into_split();
    match wr.as_ref().peer_cred() {
        Ok(c) if c.uid() == allowed_uid => {}
        Ok(c) => {
            tracing::warn!(
                "control socket: refused a connection from uid {} (pid {:?})",
                c.uid(),
                c.pid()
            );
            let _ = reply(
                &mut wr,
                &error_response(format!(
                    "permission denied: uid {} is not the router's uid {allowed_uid}",
                    c.uid()
                )),
            )
            .await;
            return;
        }
        Err(e) => {
            tracing::warn!("control socket: SO_PEERCRED: {e}");
            return;
        }
    }
    let mut rd = BufReader::new(rd);
    let mut line = Vec::with_capacity(256);
    loop {
        line.clear();
        let n = match (&mut rd)
            .take(MAX_REQUEST as u64)
            .read_until(b'\n', &mut line)
            .await
        {
            Ok(n) => n,
            Err(_) => return,
        };
        if n == 0 {
            return;
        }
        if line.last() != Some(&b'\n') && line.len() >= MAX_REQUEST {
            let _ = reply(
                &mut wr,
                &error_response(format!(
                    "request too long: the limit is {MAX_REQUEST} bytes per line; closing"
                )),
            )
            .await;
            return;
        }
        let req = match parse_request(&line) {
            Ok(r) => r,
            Err(e) => {
                if reply(&mut wr, &error_response(e)).await.is_err() {
                    return;
                }
                continue;
            }
        };
        let stream = match &req {
            Request::Trace { iface } => Some(
                handler
                    .trace(iface.as_deref())
                    .map(|rx| (rx, serde_json::json!({"ok": true, "stream": "trace"}))),
            ),
            Request::ConntrackEvents => Some(handler.conntrack_events().map(|rx| {
                (
                    rx,
                    serde_json::json!({"ok": true, "stream": "conntrack-events"}),
                )
            })),
            Request::Capture { iface } => Some(handler.capture(iface).map(|rx| {
                (
                    rx,
                    serde_json::json!({"ok": true, "stream": "capture", "iface": iface}),
                )
            })),
            _ => None,
        };
        match stream {
            None => {
                if reply(&mut wr, &handler.handle(&req)).await.is_err() {
                    return;
                }
            }
            Some(Err(e)) => {
                if reply(&mut wr, &error_response(e)).await.is_err() {
                    return;
                }
            }
            Some(Ok((rx, head))) => {
                if reply(&mut wr, &head).await.is_ok() {
                    stream_lines(rx, rd, wr).await;
                }
                return;
            }
        }
    }
}

/// Forward a stream's lines until the client goes away or the router stops.
async fn stream_lines<R, W>(mut rx: mpsc::Receiver<String>, mut rd: R, mut wr: W)
where
    R: AsyncReadExt + Unpin,
    W: AsyncWriteExt + Unpin,
{
    let mut sink = [0u8; 512];
    loop {
        tokio::select! {
            line = rx.recv() => match line {
                Some(mut l) => {
                    l.push('\n');
                    if wr.write_all(l.as_bytes()).await.is_err() {
                        return;
                    }
                }
                None => {
                    let _ = reply(&mut wr, &serde_json::json!({"event": "end", "reason": "the router is stopping"})).await;
                    return;
                }
            },
            r = rd.read(&mut sink) => match r {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use tokio::io::AsyncBufReadExt;

    struct Fake {
        seen: RefCell<Vec<Request>>,
        tx: RefCell<Option<mpsc::Sender<String>>>,
    }

    impl Handler for Fake {
        fn handle(&self, req: &Request) -> serde_json::Value {
            self.seen.borrow_mut().push(req.clone());
            serde_json::json!({"ok": true, "text": "fine"})
        }
        fn trace(&self, _iface: Option<&str>) -> Result<mpsc::Receiver<String>, String> {
            let (tx, rx) = mpsc::channel(4);
            *self.tx.borrow_mut() = Some(tx);
            Ok(rx)
        }
        fn capture(&self, iface: &str) -> Result<mpsc::Receiver<String>, String> {
            Err(format!("no interface named `{iface}`"))
        }
    }

    async fn ask(
        lines: &mut tokio::io::Lines<BufReader<tokio::net::unix::OwnedReadHalf>>,
        w: &mut tokio::net::unix::OwnedWriteHalf,
        req: &[u8],
    ) -> serde_json::Value {
        w.write_all(req).await.unwrap();
        let l = lines.next_line().await.unwrap().expect("an answer");
        serde_json::from_str(&l).unwrap()
    }

    #[test]
    fn answers_errors_and_streams() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let local = tokio::task::LocalSet::new();
        local.block_on(&rt, async {
            let fake = Rc::new(Fake {
                seen: RefCell::new(Vec::new()),
                tx: RefCell::new(None),
            });
            let (a, b) = UnixStream::pair().unwrap();
            let h: Rc<dyn Handler> = fake.clone();
            let server = tokio::task::spawn_local(connection(a, h, super::super::euid()));
            let (r, mut w) = b.into_split();
            let mut lines = BufReader::new(r).lines();
            let v = ask(&mut lines, &mut w, b"{\"cmd\":\"stats\"}\n").await;
            assert_eq!(v["ok"], true);
            let v = ask(&mut lines, &mut w, b"garbage\n").await;
            assert_eq!(v["ok"], false);
            assert!(v["error"].as_str().unwrap().contains("malformed"), "{v}");
            let v = ask(&mut lines, &mut w, b"{\"cmd\":\"fly\"}\n").await;
            assert!(v["error"].as_str().unwrap().contains("fly"), "{v}");
            let v = ask(
                &mut lines,
                &mut w,
                b"{\"cmd\":\"capture\",\"iface\":\"x\"}\n",
            )
            .await;
            assert!(v["error"].as_str().unwrap().contains("`x`"), "{v}");
            let v = ask(&mut lines, &mut w, b"{\"cmd\":\"routes\"}\n").await;
            assert_eq!(v["text"], "fine");
            assert_eq!(fake.seen.borrow().len(), 2);
            let v = ask(&mut lines, &mut w, b"{\"cmd\":\"trace\"}\n").await;
            assert_eq!(v["stream"], "trace");
            let tx = fake.tx.borrow_mut().take().unwrap();
            tx.send("{\"event\":\"x\"}".into()).await.unwrap();
            assert_eq!(
                lines.next_line().await.unwrap().as_deref(),
                Some("{\"event\":\"x\"}")
            );
            drop(tx);
            let end = lines.next_line().await.unwrap().unwrap();
            assert!(end.contains("\"end\""), "{end}");
            server.await.unwrap();
        });
    }

    #[test]
    fn oversized_request_is_refused_and_closed() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let local = tokio::task::LocalSet::new();
        local.block_on(&rt, async {
            let fake = Rc::new(Fake {
                seen: RefCell::new(Vec::new()),
                tx: RefCell::new(None),
            });
            let (a, b) = UnixStream::pair().unwrap();
            let server = tokio::task::spawn_local(connection(a, fake, super::super::euid()));
            let (r, mut w) = b.into_split();
            let mut lines = BufReader::new(r).lines();
            let big = vec![b'x'; MAX_REQUEST + 10];
            // The server stops reading after the limit: write in the background.
            let writer = tokio::task::spawn_local(async move {
                let _ = w.write_all(&big).await;
                w
            });
            let l = lines.next_line().await.unwrap().unwrap();
            assert!(l.contains("too long"), "{l}");
            // Closed: end of file, or a reset as the server did not read the rest.
            assert!(!matches!(lines.next_line().await, Ok(Some(_))));
            server.await.unwrap();
            drop(writer.await);
        });
    }

    #[test]
    fn other_uid_is_refused() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let local = tokio::task::LocalSet::new();
        local.block_on(&rt, async {
            let fake = Rc::new(Fake {
                seen: RefCell::new(Vec::new()),
                tx: RefCell::new(None),
            });
            let (a, b) = UnixStream::pair().unwrap();
            // Pretend the router runs as another uid than this test.
            let other = super::super::euid().wrapping_add(1);
            let h: Rc<dyn Handler> = fake.clone();
            let server = tokio::task::spawn_local(connection(a, h, other));
            let (r, mut w) = b.into_split();
            let mut lines = BufReader::new(r).lines();
            let _ = w.write_all(b"{\"cmd\":\"stats\"}\n").await;
            let l = lines.next_line().await.unwrap().unwrap();
            assert!(l.contains("permission denied"), "{l}");
            assert!(fake.seen.borrow().is_empty());
            server.await.unwrap();
        });
    }

    #[test]
    fn socket_is_owner_only_and_removed() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let dir = std::env::temp_dir().join(format!("router-ctl-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("r.sock");
        rt.block_on(async {
            let mut s = bind(&path).unwrap();
            assert!(!path.exists());
            s.publish().unwrap();
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            // A second router on the same path is refused while the first listens.
            let e = bind(&path).err().unwrap();
            assert!(e.contains("already running"), "{e}");
            drop(s);
            assert!(!path.exists());
            std::fs::write(&path, b"not a socket").unwrap();
            let e = bind(&path).err().unwrap();
            assert!(e.contains("not a socket"), "{e}");
        });
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
