//! HTTPS servers on loopback, in the test process, standing for MTA-STS policy hosts and for the
//! hosts of BIMI logos and mark certificates: tokio and tokio-rustls, a certificate from a test
//! CA ([`super::smtp_server::Ca`]). A policy host listens on port 443 of an address of
//! 127.0.0.0/8 given by the test (each test its own, so that tests running at once never meet;
//! listening on 443 needs root, which the tests and CI have), since a policy URL names no port;
//! any other host on a free port of 127.0.0.1, named in its URLs. Each serves one [`Serve`]
//! (by path with [`Serve::Paths`]), logs the requests it read and counts the connections it
//! accepted (a TLS handshake refused by the client counts), and stops when dropped.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;

use super::smtp_server::runtime;

/// The most a served body of [`Serve::Endless`] writes before giving up on a client that keeps
/// reading: far past any cap the client should apply.
const ENDLESS_LIMIT: usize = 16 * 1024 * 1024;

/// What a server answers to a request.
#[derive(Clone, Debug)]
pub enum Serve {
    /// A whole response: status, `Content-Type` (none: no header), body (with its length).
    Answer {
        status: u16,
        content_type: Option<String>,
        body: Vec<u8>,
    },
    /// `200`, this `Content-Type`, no length: the body ends when the connection closes.
    Unsized { content_type: String, body: Vec<u8> },
    /// `301 Moved Permanently` to this location.
    Redirect(String),
    /// `200`, `text/plain`, no length: bytes for as long as the client reads.
    Endless,
    /// `200`, `text/plain`, the length of `body` at once, then `body` one byte every `every`.
    Slow { body: Vec<u8>, every: Duration },
    /// Each path (`/logo.svg`) its own answer; `404 Not Found` for any other.
    Paths(BTreeMap<String, Serve>),
}

impl Serve {
    /// `200`, `content_type`, `body` (with its length).
    pub fn ok(content_type: &str, body: impl Into<Vec<u8>>) -> Serve {
        Serve::Answer {
            status: 200,
            content_type: Some(content_type.to_owned()),
            body: body.into(),
        }
    }

    /// `200`, `text/plain`, `body`: an MTA-STS policy.
    pub fn policy(body: &str) -> Serve {
        Serve::ok("text/plain", body)
    }

    /// What answers a request for `path`.
    fn for_path(&self, path: &str) -> &Serve {
        static NOT_FOUND: Serve = Serve::Answer {
            status: 404,
            content_type: None,
            body: Vec::new(),
        };
        match self {
            Serve::Paths(paths) => paths
                .get(path)
                .map_or(&NOT_FOUND, |serve| serve.for_path(path)),
            other => other,
        }
    }
}

/// One request as read: its request line and its `Host` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub line: String,
    pub host: Option<String>,
}

#[derive(Default)]
struct Log {
    requests: Mutex<Vec<Request>>,
    connections: Mutex<usize>,
}

/// A running HTTPS server.
pub struct HttpsServer {
    pub addr: SocketAddr,
    log: Arc<Log>,
    serve: Arc<Mutex<Serve>>,
    accept: tokio::task::AbortHandle,
}

impl HttpsServer {
    /// Starts serving `serve` on `ip`:443 with `config`'s certificate. Panics, saying why, when
    /// the address cannot be had (taken, or no root).
    pub fn start(ip: Ipv4Addr, config: Arc<rustls::ServerConfig>, serve: Serve) -> HttpsServer {
        let addr = SocketAddr::from((ip, 443));
        let listener = std::net::TcpListener::bind(addr).unwrap_or_else(|e| {
            panic!("cannot listen on {addr} (the tests need root for port 443): {e}")
        });
        HttpsServer::serve_on(listener, config, serve)
    }

    /// Starts serving `serve` on a free port of 127.0.0.1 (in [`HttpsServer::addr`]) with
    /// `config`'s certificate.
    pub fn start_any_port(config: Arc<rustls::ServerConfig>, serve: Serve) -> HttpsServer {
        let listener =
            std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a free port");
        HttpsServer::serve_on(listener, config, serve)
    }

    fn serve_on(
        listener: std::net::TcpListener,
        config: Arc<rustls::ServerConfig>,
        serve: Serve,
    ) -> HttpsServer {
        let addr = listener.local_addr().expect("local address");
        listener.set_nonblocking(true).expect("non-blocking");
        let _entered = runtime().enter();
        let listener = TcpListener::from_std(listener).expect("tokio listener");
        let log = Arc::new(Log::default());
        let serve = Arc::new(Mutex::new(serve));
        let accept = runtime()
            .spawn(accept_loop(
                listener,
                TlsAcceptor::from(config),
                Arc::clone(&log),
                Arc::clone(&serve),
            ))
            .abort_handle();
        HttpsServer {
            addr,
            log,
            serve,
            accept,
        }
    }

    /// Every request read so far.
    pub fn requests(&self) -> Vec<Request> {
        self.log
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// How many connections were accepted.
    pub fn connections(&self) -> usize {
        *self
            .log
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Serves `serve` from now on.
    pub fn set(&self, serve: Serve) {
        *self.serve.lock().unwrap_or_else(PoisonError::into_inner) = serve;
    }
}

impl Drop for HttpsServer {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    log: Arc<Log>,
    serve: Arc<Mutex<Serve>>,
) {
    let mut connections = tokio::task::JoinSet::new();
    while let Ok((stream, _)) = listener.accept().await {
        *log.connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner) += 1;
        let acceptor = acceptor.clone();
        let log = Arc::clone(&log);
        let serve = serve.lock().unwrap_or_else(PoisonError::into_inner).clone();
        connections.spawn(async move {
            let Ok(Ok(tls)) =
                tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await
            else {
                return;
            };
            let _ = respond(tls, &log, &serve).await;
        });
    }
}

/// Reads one request head (at most 16 KiB, within 10 s) and answers it.
async fn respond(
    mut tls: tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
    log: &Log,
    serve: &Serve,
) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut buffer = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let read = tokio::time::timeout(Duration::from_secs(10), tls.read(&mut buffer))
            .await
            .map_err(|_| std::io::Error::other("no request in time"))??;
        if read == 0 || head.len() > 16 * 1024 {
            return Ok(());
        }
        head.extend_from_slice(&buffer[..read]);
    }
    let text = String::from_utf8_lossy(&head);
    let mut lines = text.lines();
    let line = lines.next().unwrap_or_default().to_owned();
    let path = line.split_whitespace().nth(1).unwrap_or("/");
    let serve = serve.for_path(path);
    let host = lines.find_map(|l| {
        l.split_once(':')
            .filter(|(name, _)| name.eq_ignore_ascii_case("host"))
            .map(|(_, value)| value.trim().to_owned())
    });
    log.requests
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(Request { line, host });
    match serve {
        Serve::Answer {
            status,
            content_type,
            body,
        } => {
            let mut head = format!(
                "HTTP/1.1 {status} {}\r\nContent-Length: {}\r\nConnection: close\r\n",
                reason(*status),
                body.len()
            );
            if let Some(content_type) = content_type {
                let _ = write!(head, "Content-Type: {content_type}\r\n");
            }
            head.push_str("\r\n");
            tls.write_all(head.as_bytes()).await?;
            tls.write_all(body).await?;
        }
        Serve::Unsized { content_type, body } => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nConnection: close\r\n\r\n"
            );
            tls.write_all(head.as_bytes()).await?;
            tls.write_all(body).await?;
        }
        Serve::Redirect(location) => {
            let head = format!(
                "HTTP/1.1 301 Moved Permanently\r\nLocation: {location}\r\nContent-Length: 0\r\n\
                 Connection: close\r\n\r\n"
            );
            tls.write_all(head.as_bytes()).await?;
        }
        Serve::Endless => {
            tls.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n\
                  version: STSv1\r\nmode: enforce\r\nmx: mx.example\r\nmax_age: 86400\r\n",
            )
            .await?;
            let chunk = [b'#'; 8192];
            let mut written = 0;
            while written < ENDLESS_LIMIT {
                tls.write_all(&chunk).await?;
                written += chunk.len();
            }
        }
        Serve::Slow { body, every } => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n",
                body.len()
            );
            tls.write_all(head.as_bytes()).await?;
            tls.flush().await?;
            for byte in body {
                tokio::time::sleep(*every).await;
                tls.write_all(&[*byte]).await?;
                tls.flush().await?;
            }
        }
        Serve::Paths(_) => unreachable!("a path's answer is never a table of paths"),
    }
    tls.flush().await?;
    tls.shutdown().await
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        404 => "Not Found",
        _ => "Status",
    }
}
