//! Scripted SMTP servers on 127.0.0.1, in the test process, for what a real MTA will not do on
//! demand: refuse, stay silent, speak TLS where plain text is expected (and the reverse), break
//! the handshake, present a bad certificate, offer AUTH before TLS, reject AUTH as Microsoft 365
//! does, answer a TLS 1.2 client as a TLS 1.0-only server does, drip bytes, never end a line,
//! send binary. And the test PKI: CAs and server certificates made with rcgen for each case
//! (expired, not yet valid, other names, another CA, expiring soon).
//!
//! Each [`Server`] accepts on its listeners in a runtime shared by the test binary, runs its
//! [`Script`] on every connection, logs each command line it receives ([`Server::received`]),
//! and stops (its connections with it) when dropped.

use std::fmt::Write as _;
use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::{
    self,
    pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer},
};

/// The address the scripted servers listen on (and `::1` beside it, for
/// [`Server::start_dual_stack`]).
pub const IP: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// The host name scripted servers greet with unless told otherwise.
pub const NAME: &str = "mail.scripted.test";

/// Longest line a scripted server reads from the client.
const MAX_LINE: usize = 64 * 1024;

/// How long a scripted server waits for the client at any one read before giving up on it.
const IDLE: Duration = Duration::from_secs(30);

/// The runtime every scripted server runs in (and the HTTPS servers of `https_server`): a thread
/// pool of its own, so that the tests can block on the binary they run.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("scripted-smtp")
            .enable_all()
            .build()
            .expect("scripted SMTP runtime")
    })
}

/// Held while a test listens on a fixed port (25: the role mailaudit gives a port is its
/// number), so that two tests of this binary never want it at once.
pub fn fixed_port_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A port on 127.0.0.1 that nothing listens on: bound, then released.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind((IP, 0)).expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

/// What a scripted server does with each connection.
#[derive(Clone)]
pub enum Script {
    /// Accepts and never sends a byte (reads until the client goes): a tarpit, or a port that
    /// waits for something else.
    Silent,
    /// A TLS server (rustls) that says nothing after the handshake.
    TlsOnly(Arc<rustls::ServerConfig>),
    /// `prefix`, then `chunk` again and again as fast as the client reads.
    Endless { prefix: Vec<u8>, chunk: Vec<u8> },
    /// `bytes` one at a time, `every` apart, over and over.
    Drip { bytes: Vec<u8>, every: Duration },
    /// `bytes` at once, then reads until the client goes.
    Bytes(Vec<u8>),
    /// `bytes` at once, then closes the connection.
    Close(Vec<u8>),
    /// An SMTP server.
    Smtp(Box<Smtp>),
}

/// How a scripted SMTP server answers STARTTLS.
#[derive(Clone)]
pub enum Starttls {
    /// `220`, then the TLS handshake with this configuration.
    Tls(Arc<rustls::ServerConfig>),
    /// This reply instead (`454 4.7.0 TLS not available`).
    Refuse(String),
    /// `220`, then the client's first TLS record read whole and answered with these bytes
    /// instead of a TLS server's (garbage, an alert, an old `ServerHello`).
    Answer(Vec<u8>),
}

/// A scripted SMTP server: what it greets with, offers and answers.
#[derive(Clone)]
pub struct Smtp {
    /// TLS from the first byte (implicit TLS, port 465), before the greeting.
    pub implicit: Option<Arc<rustls::ServerConfig>>,
    /// The greeting, sent as it is.
    pub greeting: Vec<u8>,
    /// The name on the first line of the EHLO reply.
    pub name: String,
    /// EHLO keywords before TLS (STARTTLS is added when [`Smtp::starttls`] is set).
    pub ehlo: Vec<String>,
    /// EHLO keywords over TLS.
    pub ehlo_tls: Vec<String>,
    /// STARTTLS offered, and how it is answered.
    pub starttls: Option<Starttls>,
    /// The final reply to AUTH.
    pub auth: String,
    /// The EHLO reply, sent as it is instead of the one made from the keywords.
    pub raw_ehlo: Option<Vec<u8>>,
    /// Every reply (the greeting too) sent this long after its command, and the STARTTLS
    /// handshake begun this long after the client's hello.
    pub delay: Option<Duration>,
}

impl Smtp {
    /// A plain-text server greeting as `name`: `PIPELINING`, `8BITMIME`, no STARTTLS, no AUTH,
    /// AUTH (if asked anyway) accepted.
    pub fn new(name: &str) -> Smtp {
        Smtp {
            implicit: None,
            greeting: format!("220 {name} ESMTP scripted\r\n").into_bytes(),
            name: name.to_owned(),
            ehlo: words(&["PIPELINING", "8BITMIME"]),
            ehlo_tls: words(&["PIPELINING", "8BITMIME"]),
            starttls: None,
            auth: "235 2.7.0 Authentication successful".to_owned(),
            raw_ehlo: None,
            delay: None,
        }
    }

    /// STARTTLS offered and a handshake with `config` after it.
    #[must_use]
    pub fn starttls(mut self, config: Arc<rustls::ServerConfig>) -> Smtp {
        self.starttls = Some(Starttls::Tls(config));
        self
    }

    /// STARTTLS offered and answered as `answer` says.
    #[must_use]
    pub fn starttls_answer(mut self, answer: Starttls) -> Smtp {
        self.starttls = Some(answer);
        self
    }

    /// TLS from the first byte with `config`.
    #[must_use]
    pub fn implicit(mut self, config: Arc<rustls::ServerConfig>) -> Smtp {
        self.implicit = Some(config);
        self
    }

    /// EHLO keywords before TLS (beside STARTTLS).
    #[must_use]
    pub fn ehlo(mut self, keywords: &[&str]) -> Smtp {
        self.ehlo = words(keywords);
        self
    }

    /// EHLO keywords over TLS.
    #[must_use]
    pub fn ehlo_tls(mut self, keywords: &[&str]) -> Smtp {
        self.ehlo_tls = words(keywords);
        self
    }

    /// The greeting, sent as it is (line ends included).
    #[must_use]
    pub fn greeting(mut self, bytes: impl Into<Vec<u8>>) -> Smtp {
        self.greeting = bytes.into();
        self
    }

    /// The final reply to AUTH.
    #[must_use]
    pub fn auth_reply(mut self, reply: &str) -> Smtp {
        reply.clone_into(&mut self.auth);
        self
    }

    /// The EHLO reply, sent as it is.
    #[must_use]
    pub fn raw_ehlo(mut self, bytes: impl Into<Vec<u8>>) -> Smtp {
        self.raw_ehlo = Some(bytes.into());
        self
    }

    /// Every reply (the greeting too) sent `delay` after its command.
    #[must_use]
    pub fn delay(mut self, delay: Duration) -> Smtp {
        self.delay = Some(delay);
        self
    }

    /// As a [`Script`].
    pub fn script(self) -> Script {
        Script::Smtp(Box::new(self))
    }
}

fn words(keywords: &[&str]) -> Vec<String> {
    keywords.iter().map(|&k| k.to_owned()).collect()
}

/// One command line a scripted server received.
#[derive(Clone, Debug)]
pub struct Received {
    /// Which connection (0 for the first accepted).
    pub connection: usize,
    /// The address the connection came in on (the server's end: which listener).
    pub local: SocketAddr,
    /// It came over TLS.
    pub tls: bool,
    /// The line, without its line end.
    pub line: String,
}

#[derive(Default)]
struct Log {
    received: Mutex<Vec<Received>>,
    connections: Mutex<usize>,
}

impl Log {
    fn push(&self, (connection, local): (usize, SocketAddr), tls: bool, line: &str) {
        self.received
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Received {
                connection,
                local,
                tls,
                line: line.to_owned(),
            });
    }

    fn next_connection(&self) -> usize {
        let mut count = self
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *count += 1;
        *count - 1
    }
}

/// A running scripted server.
pub struct Server {
    /// Where it listens (the first listener).
    pub addr: SocketAddr,
    /// Every address it listens on.
    pub addrs: Vec<SocketAddr>,
    log: Arc<Log>,
    accept: tokio::task::AbortHandle,
}

impl Server {
    /// Starts `script` on a free port of 127.0.0.1.
    pub fn start(script: Script) -> Server {
        Server::start_on(&[0], script).expect("listen on a free port of 127.0.0.1")
    }

    /// Starts `script` on each of `ports` of 127.0.0.1 (`0`: a free one). A fixed port may be
    /// taken or need privileges: the error says which.
    pub fn start_on(ports: &[u16], script: Script) -> io::Result<Server> {
        Server::start_at(IP, ports, script)
    }

    /// Starts `script` on each of `ports` of `ip`, a loopback address (`127.x.y.z`: port 25 of
    /// an address of its own, for a test that cannot share 127.0.0.1's).
    pub fn start_at(ip: Ipv4Addr, ports: &[u16], script: Script) -> io::Result<Server> {
        let mut listeners = Vec::new();
        for &port in ports {
            let listener = std::net::TcpListener::bind((ip, port))
                .map_err(|e| io::Error::new(e.kind(), format!("bind {ip}:{port}: {e}")))?;
            listeners.push(listener);
        }
        Server::serving(listeners, script)
    }

    /// Starts `script` on one port of both loopback addresses, 127.0.0.1 and `::1` (first and
    /// second in [`Server::addrs`]), for a host name with an A and an AAAA record; an error
    /// when `::1` cannot be had (a host without IPv6).
    pub fn start_dual_stack(script: Script) -> io::Result<Server> {
        let mut last = None;
        for _ in 0..20 {
            let v4 = std::net::TcpListener::bind((IP, 0))?;
            let port = v4.local_addr()?.port();
            match std::net::TcpListener::bind((Ipv6Addr::LOCALHOST, port)) {
                Ok(v6) => return Server::serving(vec![v4, v6], script),
                // The port is free on 127.0.0.1 only: another one.
                Err(e) if e.kind() == io::ErrorKind::AddrInUse => last = Some(e),
                Err(e) => {
                    return Err(io::Error::new(e.kind(), format!("bind [::1]:{port}: {e}")));
                }
            }
        }
        Err(last.unwrap_or_else(|| io::Error::other("no port free on both addresses")))
    }

    /// Runs `script` on each of `listeners` (bound, not yet accepting).
    fn serving(listeners: Vec<std::net::TcpListener>, script: Script) -> io::Result<Server> {
        let _entered = runtime().enter();
        let listeners = listeners
            .into_iter()
            .map(|listener| {
                listener.set_nonblocking(true)?;
                TcpListener::from_std(listener)
            })
            .collect::<io::Result<Vec<_>>>()?;
        let addrs: Vec<SocketAddr> = listeners
            .iter()
            .map(|l| l.local_addr().expect("local address"))
            .collect();
        let log = Arc::new(Log::default());
        let accept = runtime()
            .spawn(serve(listeners, script, Arc::clone(&log)))
            .abort_handle();
        Ok(Server {
            addr: addrs[0],
            addrs,
            log,
            accept,
        })
    }

    /// The port of the first listener.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Every command line received so far, in order.
    pub fn received(&self) -> Vec<Received> {
        self.log
            .received
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
}

impl Drop for Server {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Accepts on every listener and runs the script on each connection; the connections are
/// aborted with this task.
async fn serve(listeners: Vec<TcpListener>, script: Script, log: Arc<Log>) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut acceptors = JoinSet::new();
    for listener in listeners {
        let tx = tx.clone();
        acceptors.spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                if tx.send(tcp).is_err() {
                    break;
                }
            }
        });
    }
    drop(tx);
    let mut connections = JoinSet::new();
    while let Some(tcp) = rx.recv().await {
        let _ = tcp.set_nodelay(true);
        let connection = log.next_connection();
        connections.spawn(run_script(
            tcp,
            script.clone(),
            Arc::clone(&log),
            connection,
        ));
        while connections.try_join_next().is_some() {}
    }
}

/// A byte stream, plain or TLS.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

type Stream = Box<dyn Io>;

fn run_script(
    tcp: TcpStream,
    script: Script,
    log: Arc<Log>,
    connection: usize,
) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        match script {
            Script::Silent => drain(Box::new(tcp)).await,
            Script::TlsOnly(config) => {
                if let Ok(Ok(tls)) =
                    tokio::time::timeout(IDLE, TlsAcceptor::from(config).accept(tcp)).await
                {
                    drain(Box::new(tls)).await;
                }
            }
            Script::Endless { prefix, chunk } => {
                let mut tcp = tcp;
                if tcp.write_all(&prefix).await.is_ok() {
                    while tcp.write_all(&chunk).await.is_ok() {}
                }
            }
            Script::Drip { bytes, every } => {
                let mut tcp = tcp;
                'drip: loop {
                    for &byte in &bytes {
                        if tcp.write_all(&[byte]).await.is_err() {
                            break 'drip;
                        }
                        tokio::time::sleep(every).await;
                    }
                }
            }
            Script::Bytes(bytes) => {
                let mut tcp = tcp;
                if tcp.write_all(&bytes).await.is_ok() {
                    drain(Box::new(tcp)).await;
                }
            }
            Script::Close(bytes) => {
                let mut tcp = tcp;
                let _ = tcp.write_all(&bytes).await;
                let _ = tcp.shutdown().await;
            }
            Script::Smtp(smtp) => {
                let _ = dialogue(tcp, &smtp, &log, connection).await;
            }
        }
    })
}

/// Reads and drops what the client sends until it goes (or stays idle too long).
async fn drain(mut stream: Stream) {
    let mut buffer = [0u8; 4096];
    while let Ok(Ok(n)) = tokio::time::timeout(IDLE, stream.read(&mut buffer)).await {
        if n == 0 {
            break;
        }
    }
}

/// Lines read from a stream, through a buffer that a TLS upgrade empties.
#[derive(Default)]
struct Lines {
    buffer: Vec<u8>,
}

impl Lines {
    async fn next(&mut self, stream: &mut Stream) -> Option<String> {
        loop {
            if let Some(end) = self.buffer.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buffer.drain(..=end).collect();
                let text = String::from_utf8_lossy(&line);
                return Some(text.trim_end_matches(['\r', '\n']).to_owned());
            }
            if self.buffer.len() > MAX_LINE {
                return None;
            }
            let mut chunk = [0u8; 4096];
            match tokio::time::timeout(IDLE, stream.read(&mut chunk)).await {
                Ok(Ok(n)) if n > 0 => self.buffer.extend_from_slice(&chunk[..n]),
                _ => return None,
            }
        }
    }
}

/// Writes `bytes`, after `delay`.
async fn send(stream: &mut Stream, bytes: &[u8], delay: Option<Duration>) -> io::Result<()> {
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    stream.write_all(bytes).await?;
    stream.flush().await
}

/// A reply of `code`, one line each of `lines`.
fn reply(code: u16, lines: &[String]) -> Vec<u8> {
    let mut out = String::new();
    for (index, line) in lines.iter().enumerate() {
        let separator = if index + 1 == lines.len() { ' ' } else { '-' };
        let _ = write!(out, "{code}{separator}{line}\r\n");
    }
    out.into_bytes()
}

/// The EHLO reply of `smtp`, before or over TLS.
fn ehlo_reply(smtp: &Smtp, tls: bool) -> Vec<u8> {
    if let Some(raw) = &smtp.raw_ehlo {
        return raw.clone();
    }
    let mut keywords = vec![format!("{} Hello", smtp.name)];
    if tls {
        keywords.extend(smtp.ehlo_tls.iter().cloned());
    } else {
        if smtp.starttls.is_some() {
            keywords.push("STARTTLS".to_owned());
        }
        keywords.extend(smtp.ehlo.iter().cloned());
    }
    reply(250, &keywords)
}

/// The prompts (334) an AUTH command gets before its final reply.
fn auth_prompts(line: &str) -> &'static [&'static [u8]] {
    let mut words = line.split_whitespace().skip(1);
    let mechanism = words.next().unwrap_or_default().to_ascii_uppercase();
    let initial_response = words.next().is_some();
    match (mechanism.as_str(), initial_response) {
        ("LOGIN", _) => &[b"334 VXNlcm5hbWU6\r\n", b"334 UGFzc3dvcmQ6\r\n"],
        ("PLAIN", false) => &[b"334 \r\n"],
        _ => &[],
    }
}

/// The server's side of a TLS handshake over `stream`.
async fn accept_tls(config: &Arc<rustls::ServerConfig>, stream: Stream) -> io::Result<Stream> {
    let accepted = tokio::time::timeout(IDLE, TlsAcceptor::from(Arc::clone(config)).accept(stream))
        .await
        .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??;
    Ok(Box::new(accepted))
}

/// The SMTP dialogue of a scripted server, until QUIT, the client going, or a scripted end.
async fn dialogue(tcp: TcpStream, smtp: &Smtp, log: &Log, connection: usize) -> io::Result<()> {
    let connection = (connection, tcp.local_addr()?);
    let mut stream: Stream = Box::new(tcp);
    let mut tls = false;
    if let Some(config) = &smtp.implicit {
        stream = accept_tls(config, stream).await?;
        tls = true;
    }
    let delay = smtp.delay;
    send(&mut stream, &smtp.greeting, delay).await?;
    let mut lines = Lines::default();
    while let Some(line) = lines.next(&mut stream).await {
        log.push(connection, tls, &line);
        let verb = line
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        match verb.as_str() {
            "EHLO" | "HELO" => send(&mut stream, &ehlo_reply(smtp, tls), delay).await?,
            "STARTTLS" if !tls => match &smtp.starttls {
                None => send(&mut stream, b"502 5.5.1 STARTTLS not offered\r\n", delay).await?,
                Some(Starttls::Refuse(answer)) => {
                    send(&mut stream, format!("{answer}\r\n").as_bytes(), delay).await?;
                }
                Some(Starttls::Tls(config)) => {
                    send(&mut stream, b"220 2.0.0 Ready to start TLS\r\n", delay).await?;
                    if let Some(delay) = delay {
                        tokio::time::sleep(delay).await;
                    }
                    stream = accept_tls(config, stream).await?;
                    lines = Lines::default();
                    tls = true;
                }
                Some(Starttls::Answer(bytes)) => {
                    send(&mut stream, b"220 2.0.0 Ready to start TLS\r\n", delay).await?;
                    read_tls_record(&mut stream).await?;
                    send(&mut stream, bytes, None).await?;
                    drain(stream).await;
                    return Ok(());
                }
            },
            "AUTH" => {
                for prompt in auth_prompts(&line) {
                    send(&mut stream, prompt, delay).await?;
                    let Some(answer) = lines.next(&mut stream).await else {
                        return Ok(());
                    };
                    log.push(connection, tls, &answer);
                }
                send(&mut stream, format!("{}\r\n", smtp.auth).as_bytes(), delay).await?;
            }
            "QUIT" => {
                send(&mut stream, b"221 2.0.0 Bye\r\n", delay).await?;
                return Ok(());
            }
            "NOOP" | "RSET" => send(&mut stream, b"250 2.0.0 OK\r\n", delay).await?,
            _ => {
                let unknown = b"502 5.5.2 Error: command not recognized\r\n";
                send(&mut stream, unknown, delay).await?;
            }
        }
    }
    Ok(())
}

/// Reads one whole TLS record (the client's hello): its 5-byte header and the length it gives,
/// so that nothing unread makes closing the connection a reset.
async fn read_tls_record(stream: &mut Stream) -> io::Result<Vec<u8>> {
    let mut header = [0u8; 5];
    tokio::time::timeout(IDLE, stream.read_exact(&mut header))
        .await
        .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??;
    let length = usize::from(u16::from_be_bytes([header[3], header[4]]));
    let mut body = vec![0u8; length];
    tokio::time::timeout(IDLE, stream.read_exact(&mut body))
        .await
        .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??;
    Ok(body)
}

/// A TLS alert record, fatal, of `description`, in a TLS 1.0 record (as old servers send it):
/// `protocol_version` is 70 (0x46), `handshake_failure` 40 (0x28).
pub fn tls_alert(description: u8) -> Vec<u8> {
    vec![0x15, 0x03, 0x01, 0x00, 0x02, 0x02, description]
}

/// The `ServerHello` a TLS 1.0-only server answers a TLS 1.2/1.3 `ClientHello` with: it picks
/// TLS 1.0 (0x0301) and `TLS_RSA_WITH_AES_128_CBC_SHA`, no extensions.
pub fn tls10_server_hello() -> Vec<u8> {
    let mut body = vec![0x03, 0x01];
    body.extend_from_slice(&[0x5a; 32]); // server random
    body.push(0); // no session id
    body.extend_from_slice(&[0x00, 0x2f]); // TLS_RSA_WITH_AES_128_CBC_SHA
    body.push(0); // no compression
    let length = u32::try_from(body.len()).expect("short body").to_be_bytes();
    let mut handshake = vec![0x02, length[1], length[2], length[3]];
    handshake.extend_from_slice(&body);
    let record_length = u16::try_from(handshake.len())
        .expect("short record")
        .to_be_bytes();
    let mut record = vec![0x16, 0x03, 0x01, record_length[0], record_length[1]];
    record.extend_from_slice(&handshake);
    record
}

/// A test certificate authority.
pub struct Ca {
    issuer: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
}

/// What a server certificate holds: its names and its validity.
#[derive(Clone, Debug)]
pub struct Leaf {
    /// DNS names and IP addresses (subject alternative names; the first is the common name).
    pub names: Vec<String>,
    pub not_before: time::OffsetDateTime,
    pub not_after: time::OffsetDateTime,
    /// An RSA 2048 key instead of ECDSA P-256.
    pub rsa: bool,
}

fn days(n: i64) -> time::Duration {
    time::Duration::days(n)
}

impl Leaf {
    /// Valid from 30 days ago for 90 more days, for `names`.
    pub fn valid_for(names: &[&str]) -> Leaf {
        let now = time::OffsetDateTime::now_utc();
        Leaf {
            names: words(names),
            not_before: now - days(30),
            not_after: now + days(90),
            rsa: false,
        }
    }

    /// Valid from `from` days from now (negative: ago) to `to` days from now.
    #[must_use]
    pub fn between(mut self, from: i64, to: i64) -> Leaf {
        let now = time::OffsetDateTime::now_utc();
        self.not_before = now + days(from);
        self.not_after = now + days(to);
        self
    }

    /// With an RSA 2048 key.
    #[must_use]
    pub fn rsa(mut self) -> Leaf {
        self.rsa = true;
        self
    }
}

impl Ca {
    /// A self-signed root named `common_name`.
    pub fn new(common_name: &str) -> Ca {
        let params = ca_params(common_name);
        let key = rcgen::KeyPair::generate().expect("CA key");
        Ca {
            issuer: rcgen::CertifiedIssuer::self_signed(params, key).expect("CA certificate"),
        }
    }

    /// An intermediate CA this one signs.
    pub fn intermediate(&self, common_name: &str) -> Ca {
        let params = ca_params(common_name);
        let key = rcgen::KeyPair::generate().expect("intermediate key");
        Ca {
            issuer: rcgen::CertifiedIssuer::signed_by(params, key, &self.issuer)
                .expect("intermediate certificate"),
        }
    }

    /// An intermediate CA this one signs, valid from `from` days from now (negative: ago) to
    /// `to` days from now.
    pub fn intermediate_between(&self, common_name: &str, from: i64, to: i64) -> Ca {
        let mut params = ca_params(common_name);
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now + days(from);
        params.not_after = now + days(to);
        let key = rcgen::KeyPair::generate().expect("intermediate key");
        Ca {
            issuer: rcgen::CertifiedIssuer::signed_by(params, key, &self.issuer)
                .expect("intermediate certificate"),
        }
    }

    /// The CA certificate, PEM.
    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// The CA certificate, DER.
    pub fn der(&self) -> CertificateDer<'static> {
        self.issuer.der().clone()
    }

    /// Writes the CA certificate to `dir/NAME` (for `--ca-file`) and returns the path.
    pub fn write(&self, dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, self.pem()).expect("write the CA file");
        path
    }

    /// A server certificate this CA signs, and its key.
    pub fn issue(&self, leaf: &Leaf) -> Identity {
        self.issue_with(leaf, |_| {})
    }

    /// A certificate this CA signs, as [`Ca::issue`] makes it and then changed by `customize`
    /// (other key usages, custom extensions), and its key.
    pub fn issue_with(
        &self,
        leaf: &Leaf,
        customize: impl FnOnce(&mut rcgen::CertificateParams),
    ) -> Identity {
        let mut params = rcgen::CertificateParams::new(leaf.names.clone()).expect("names");
        if let Some(first) = leaf.names.first() {
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, first.as_str());
        }
        params.not_before = leaf.not_before;
        params.not_after = leaf.not_after;
        params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        customize(&mut params);
        let key = if leaf.rsa {
            rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
                .expect("RSA key")
        } else {
            rcgen::KeyPair::generate().expect("server key")
        };
        let certificate = params.signed_by(&key, &self.issuer).expect("sign");
        Identity {
            chain: vec![certificate.der().clone()],
            key: PrivatePkcs8KeyDer::from(key.serialize_der()),
        }
    }
}

fn ca_params(common_name: &str) -> rcgen::CertificateParams {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, common_name);
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    params
}

/// A server's certificate chain (the leaf first) and key.
pub struct Identity {
    pub chain: Vec<CertificateDer<'static>>,
    key: PrivatePkcs8KeyDer<'static>,
}

impl Identity {
    /// The chain with `ca`'s certificate sent after it (an intermediate).
    #[must_use]
    pub fn with_chain(mut self, ca: &Ca) -> Identity {
        self.chain.push(ca.der());
        self
    }

    /// The chain with its leaf replaced by `der` (the same key: a leaf altered after signing,
    /// which the handshake still accepts as long as its public key is the key's).
    #[must_use]
    pub fn with_leaf(mut self, der: Vec<u8>) -> Identity {
        self.chain[0] = CertificateDer::from(der);
        self
    }

    /// A rustls server configuration presenting this chain (TLS 1.2 and 1.3).
    pub fn server_config(&self) -> Arc<rustls::ServerConfig> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(
                self.chain.clone(),
                PrivateKeyDer::Pkcs8(self.key.clone_key()),
            )
            .expect("server certificate");
        Arc::new(config)
    }
}
