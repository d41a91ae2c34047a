//! One SMTP session with one address, as a mail client or an MTA opens it: connect, greeting,
//! EHLO, STARTTLS (RFC 3207) or implicit TLS (RFC 8314), EHLO again, AUTH (RFC 4954) when asked,
//! QUIT. No MAIL FROM, no DATA: no mail is ever sent.
//!
//! Every read is bounded against a hostile or broken server: a reply line at most
//! [`MAX_LINE`] bytes (RFC 5321 §4.5.3.1.5 allows 512; a few KiB are accepted), a reply at most
//! [`MAX_LINES`] lines, a session at most [`MAX_BYTES`] bytes, each reply within the step
//! time-out and the whole session within the probe's deadline: a server that drips one byte a
//! second or never ends a line cannot hold the probe past its limits.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::reply::{Extensions, Reply, ReplyBuilder, ReplyError, greeting_host};
use super::tls::{self, TlsFacts, Trust};
use super::{Credentials, TlsMode};

/// Longest reply line read.
pub const MAX_LINE: usize = 4096;
/// Most lines in one reply.
pub const MAX_LINES: usize = 200;
/// Most bytes read in one session.
pub const MAX_BYTES: usize = 256 * 1024;

/// How a session went, for one address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Greeted, EHLO answered, TLS as asked (when it was offered), QUIT sent.
    Completed,
    /// The connection was refused (nothing listens, or a firewall rejects it).
    Refused,
    /// No connection within the time-out (a firewall drops the packets, a blocked port).
    ConnectTimeout,
    /// The address cannot be reached from here (no route, network unreachable).
    Unreachable,
    /// Connected, but no greeting came in time.
    NoGreeting,
    /// The server greeted with a refusal (554: no SMTP service here).
    Rejected,
    /// The server answered something that is not SMTP, or broke the protocol.
    ProtocolError,
    /// The server's replies passed the probe's limits (line length, lines, bytes).
    Oversized,
    /// A reply after the greeting did not come in time.
    ReplyTimeout,
    /// The TLS handshake failed.
    TlsFailed,
    /// The server closed the connection before the session ended.
    Closed,
    /// The probe's total time ran out.
    ProbeTimeout,
}

impl Outcome {
    /// A few words for tables and records: `works`, `refused`, `no greeting` ...
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Completed => "works",
            Outcome::Refused => "connection refused",
            Outcome::ConnectTimeout => "no answer (time-out)",
            Outcome::Unreachable => "unreachable from here",
            Outcome::NoGreeting => "no greeting",
            Outcome::Rejected => "greeting refuses",
            Outcome::ProtocolError => "protocol error",
            Outcome::Oversized => "replies too large",
            Outcome::ReplyTimeout => "no reply in time",
            Outcome::TlsFailed => "TLS handshake failed",
            Outcome::Closed => "closed the connection",
            Outcome::ProbeTimeout => "too slow (session time limit)",
        }
    }
}

/// One step of a session and how long it took.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Phase {
    /// `connect`, `greeting`, `ehlo`, `starttls` (the command and the handshake), `tls` (an
    /// implicit handshake), `ehlo-tls`, `auth`, `quit`.
    pub phase: &'static str,
    pub ms: f64,
}

/// What AUTH said.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuthResult {
    pub user: String,
    /// The mechanism used; `None` when AUTH was not tried (the reason in `skipped`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mechanism: Option<String>,
    pub accepted: bool,
    /// The final reply (the password is never in it: servers do not echo it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply: Option<Reply>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enhanced_code: Option<String>,
    /// Why AUTH was not tried.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

/// Everything one session with one address saw.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Session {
    pub ip: IpAddr,
    pub outcome: Outcome,
    /// What went wrong, in the words of the protocol (the diagnosis is made from it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub phases: Vec<Phase>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub greeting: Option<Reply>,
    /// The host name the greeting names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub greeting_host: Option<String>,
    /// EHLO before TLS (none for implicit TLS).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ehlo: Option<Extensions>,
    /// EHLO after TLS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ehlo_tls: Option<Extensions>,
    /// The STARTTLS command's reply, when it was sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starttls_reply: Option<Reply>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsFacts>,
    /// The server offers only TLS 1.0 or 1.1.
    pub tls_outdated: bool,
    /// TLS was expected but the server answered in plain text (it uses STARTTLS).
    pub plain_text: bool,
    /// On a port spoken to in plain text that never greeted, a TLS handshake on a second
    /// connection succeeded: it expects implicit TLS.
    pub implicit_tls_detected: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthResult>,
}

/// What a session needs besides the address.
pub(super) struct Plan<'a> {
    pub host: &'a str,
    pub port: u16,
    pub mode: TlsMode,
    pub trust: &'a Trust,
    pub credentials: Option<&'a Credentials>,
    /// Each step's time-out (connect, each reply, the handshake).
    pub step: Duration,
    /// When the whole session must be over.
    pub deadline: Instant,
}

/// Runs one session with `ip`; never fails: every outcome is data.
pub(super) async fn run(plan: &Plan<'_>, ip: IpAddr) -> Session {
    let mut session = Session {
        ip,
        outcome: Outcome::Completed,
        error: None,
        phases: Vec::new(),
        greeting: None,
        greeting_host: None,
        ehlo: None,
        ehlo_tls: None,
        starttls_reply: None,
        tls: None,
        tls_outdated: false,
        plain_text: false,
        implicit_tls_detected: false,
        auth: None,
    };
    let result = tokio::time::timeout_at(plan.deadline, converse(plan, ip, &mut session)).await;
    let failure = match result {
        Ok(Ok(mut conn)) => {
            // The session's work is done: QUIT gets one step of its own, and its reply (or
            // none) changes nothing.
            let started = Instant::now();
            conn.quit().await;
            session.phases.push(phase("quit", started));
            None
        }
        Ok(Err(failure)) => Some(failure),
        Err(_) => Some(Failure::new(
            Outcome::ProbeTimeout,
            format!(
                "the session did not finish within {}",
                seconds(plan.step * super::SESSION_STEPS)
            ),
        )),
    };
    if let Some(failure) = failure {
        session.outcome = failure.outcome;
        session.error = Some(failure.text);
    }
    // Plain text where TLS was never offered a greeting: is it an implicit-TLS port?
    if session.outcome == Outcome::NoGreeting
        && plan.mode != TlsMode::Implicit
        && Instant::now() + plan.step <= plan.deadline
    {
        session.implicit_tls_detected = answers_tls(plan, ip).await;
    }
    session
}

/// Why a session stopped.
struct Failure {
    outcome: Outcome,
    text: String,
}

impl Failure {
    fn new(outcome: Outcome, text: impl Into<String>) -> Failure {
        Failure {
            outcome,
            text: text.into(),
        }
    }
}

/// The conversation up to QUIT; an `Err` is where it stopped.
async fn converse(plan: &Plan<'_>, ip: IpAddr, session: &mut Session) -> Result<Conn, Failure> {
    let started = Instant::now();
    let connected = connect(plan, ip).await;
    session.phases.push(phase("connect", started));
    let tcp = connected?;
    let local = tcp.local_addr().ok();
    let mut conn = Conn::new(Stream::Plain(tcp), plan.step);

    if plan.mode == TlsMode::Implicit {
        let started = Instant::now();
        conn = conn.handshake(plan, session).await?;
        session.phases.push(phase("tls", started));
    }

    let started = Instant::now();
    let greeting = conn.read_reply().await.map_err(|e| match e {
        ConnError::Timeout => Failure::new(
            Outcome::NoGreeting,
            format!("no greeting within {}", seconds(plan.step)),
        ),
        other => other.at("greeting"),
    })?;
    session.phases.push(phase("greeting", started));
    session.greeting_host = greeting_host(&greeting);
    let greeted = greeting.code == 220;
    session.greeting = Some(greeting.clone());
    if !greeted {
        conn.quit().await;
        return Err(Failure::new(
            Outcome::Rejected,
            format!("the server greeted with {}", greeting.summary()),
        ));
    }

    let helo = helo_name(local);
    let started = Instant::now();
    let ehlo = conn.ehlo(&helo).await?;
    session.phases.push(phase("ehlo", started));
    let offers_starttls = ehlo.starttls;
    let encrypted = conn.is_tls();
    if encrypted {
        session.ehlo_tls = Some(ehlo);
    } else {
        session.ehlo = Some(ehlo);
    }

    if plan.mode == TlsMode::Starttls && !encrypted && offers_starttls {
        let started = Instant::now();
        let reply = conn
            .command("STARTTLS")
            .await
            .map_err(|e| e.at("STARTTLS"))?;
        session.starttls_reply = Some(reply.clone());
        if reply.code != 220 {
            conn.quit().await;
            return Err(Failure::new(
                Outcome::TlsFailed,
                format!("STARTTLS was answered {}", reply.summary()),
            ));
        }
        conn = conn.handshake(plan, session).await?;
        session.phases.push(phase("starttls", started));
        let started = Instant::now();
        session.ehlo_tls = Some(conn.ehlo(&helo).await?);
        session.phases.push(phase("ehlo-tls", started));
    }

    if let Some(credentials) = plan.credentials {
        let started = Instant::now();
        let offered = session
            .ehlo_tls
            .as_ref()
            .or(session.ehlo.as_ref())
            .map(|e| e.auth.clone())
            .unwrap_or_default();
        let verified = session
            .tls
            .as_ref()
            .and_then(|t| t.certificate.as_ref())
            .is_some_and(|c| c.problems.is_empty());
        session.auth = Some(authenticate(&mut conn, credentials, &offered, verified).await?);
        session.phases.push(phase("auth", started));
    }
    Ok(conn)
}

fn phase(name: &'static str, started: Instant) -> Phase {
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    Phase {
        phase: name,
        ms: (ms * 10.0).round() / 10.0,
    }
}

/// The EHLO argument: the address literal of this end of the connection (RFC 5321 §4.1.3),
/// which is true whatever the machine is called.
fn helo_name(local: Option<SocketAddr>) -> String {
    match local.map(|a| a.ip()) {
        Some(IpAddr::V4(ip)) => format!("[{ip}]"),
        Some(IpAddr::V6(ip)) => format!("[IPv6:{ip}]"),
        None => "[127.0.0.1]".to_owned(),
    }
}

async fn connect(plan: &Plan<'_>, ip: IpAddr) -> Result<TcpStream, Failure> {
    let address = SocketAddr::new(ip, plan.port);
    match tokio::time::timeout(plan.step, TcpStream::connect(address)).await {
        Err(_) => Err(Failure::new(
            Outcome::ConnectTimeout,
            format!("nothing within {}", seconds(plan.step)),
        )),
        Ok(Err(error)) => Err(match error.kind() {
            std::io::ErrorKind::ConnectionRefused => Failure::new(Outcome::Refused, "refused"),
            std::io::ErrorKind::ConnectionReset => {
                Failure::new(Outcome::Refused, "connection reset while connecting")
            }
            _ => Failure::new(Outcome::Unreachable, error.to_string()),
        }),
        Ok(Ok(tcp)) => {
            let _ = tcp.set_nodelay(true);
            Ok(tcp)
        }
    }
}

/// `5 s`, `0.3 s`.
pub(super) fn seconds(duration: Duration) -> String {
    let secs = duration.as_secs_f64();
    if secs.fract() == 0.0 {
        format!("{secs:.0} s")
    } else {
        format!("{secs} s")
    }
}

/// Whether the port completes a TLS handshake on a new connection (it waited silently for a
/// TLS hello when spoken to in plain text).
async fn answers_tls(plan: &Plan<'_>, ip: IpAddr) -> bool {
    let attempt = async {
        let tcp = TcpStream::connect(SocketAddr::new(ip, plan.port))
            .await
            .ok()?;
        let name = tls::server_name(plan.host).ok()?;
        TlsConnector::from(plan.trust.client())
            .connect(name, tcp)
            .await
            .ok()
    };
    tokio::time::timeout(plan.step, attempt)
        .await
        .ok()
        .flatten()
        .is_some()
}

/// AUTH with the strongest mechanism mailaudit speaks that the server offers: PLAIN, then
/// LOGIN (RFC 4616; the LOGIN draft), and only over TLS, where they do not expose the password.
async fn authenticate(
    conn: &mut Conn,
    credentials: &Credentials,
    offered: &[String],
    verified: bool,
) -> Result<AuthResult, Failure> {
    let mut result = AuthResult {
        user: credentials.user.clone(),
        mechanism: None,
        accepted: false,
        reply: None,
        enhanced_code: None,
        skipped: None,
    };
    if !conn.is_tls() {
        result.skipped = Some(
            "the connection is not encrypted: mailaudit never sends a password in plain text"
                .to_owned(),
        );
        return Ok(result);
    }
    if !verified {
        result.skipped = Some(
            "the server's certificate is not valid for it: mailaudit sends no password to a \
             server whose identity it cannot verify"
                .to_owned(),
        );
        return Ok(result);
    }
    let mechanism = ["PLAIN", "LOGIN"]
        .into_iter()
        .find(|m| offered.iter().any(|o| o == m));
    let Some(mechanism) = mechanism else {
        result.skipped = Some(if offered.is_empty() {
            "the server offers no AUTH".to_owned()
        } else {
            format!(
                "the server offers AUTH {}, none of which mailaudit can try (PLAIN, LOGIN)",
                offered.join(" ")
            )
        });
        return Ok(result);
    };
    result.mechanism = Some(mechanism.to_owned());
    let secrets = Secrets::of(credentials);
    let reply = if mechanism == "PLAIN" {
        let token = BASE64.encode(
            format!("\0{}\0{}", credentials.user, credentials.password.expose()).as_bytes(),
        );
        conn.secret_command(&format!("AUTH PLAIN {token}"), &secrets)
            .await?
    } else {
        let first = conn.secret_command("AUTH LOGIN", &secrets).await?;
        if first.code == 334 {
            let user = BASE64.encode(credentials.user.as_bytes());
            let second = conn.secret_command(&user, &secrets).await?;
            if second.code == 334 {
                let password = BASE64.encode(credentials.password.expose().as_bytes());
                conn.secret_command(&password, &secrets).await?
            } else {
                second
            }
        } else {
            first
        }
    };
    result.accepted = reply.code == 235;
    result.enhanced_code = reply.enhanced_code();
    result.reply = Some(reply);
    Ok(result)
}

/// What AUTH sends that reveals the password: a server that echoes a command back must not put
/// it in the report.
#[derive(Default)]
struct Secrets(Vec<String>);

impl Secrets {
    fn of(credentials: &Credentials) -> Secrets {
        let password = credentials.password.expose();
        let mut secrets: Vec<String> = [
            password.to_owned(),
            BASE64.encode(password.as_bytes()),
            BASE64.encode(format!("\0{}\0{password}", credentials.user).as_bytes()),
        ]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect();
        // The longest first: the PLAIN token ends with the password's base64 when the user's
        // part is a whole number of base64 groups, and is hidden whole, not cut in two.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        Secrets(secrets)
    }

    /// `text` with every secret replaced by `<hidden>`.
    fn scrub(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for secret in &self.0 {
            if text.contains(secret.as_str()) {
                text = text.replace(secret.as_str(), "<hidden>");
            }
        }
        text
    }
}

/// The byte stream: plain TCP, or TLS over it.
enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// A connection with its read buffer and limits.
struct Conn {
    stream: Stream,
    buffer: Vec<u8>,
    read: usize,
    step: Duration,
}

/// Why a read or write failed.
#[derive(Debug)]
enum ConnError {
    Timeout,
    Closed,
    LineTooLong,
    TooManyLines,
    TooMuchData,
    Reply(ReplyError),
    Io(std::io::Error),
}

impl ConnError {
    /// The session's failure, naming what was being waited for.
    fn at(self, waiting_for: &str) -> Failure {
        match self {
            ConnError::Timeout => Failure::new(
                Outcome::ReplyTimeout,
                format!("no complete reply to {waiting_for} in time"),
            ),
            ConnError::Closed => Failure::new(
                Outcome::Closed,
                format!(
                    "the server closed the connection while mailaudit waited for the {waiting_for} reply"
                ),
            ),
            ConnError::LineTooLong => Failure::new(
                Outcome::Oversized,
                format!("a reply line longer than {MAX_LINE} bytes ({waiting_for})"),
            ),
            ConnError::TooManyLines => Failure::new(
                Outcome::Oversized,
                format!("a reply of more than {MAX_LINES} lines ({waiting_for})"),
            ),
            ConnError::TooMuchData => Failure::new(
                Outcome::Oversized,
                format!("more than {} KiB from the server", MAX_BYTES / 1024),
            ),
            ConnError::Reply(error) => {
                Failure::new(Outcome::ProtocolError, format!("{error} ({waiting_for})"))
            }
            ConnError::Io(error) => Failure::new(
                if error.kind() == std::io::ErrorKind::ConnectionReset {
                    Outcome::Closed
                } else {
                    Outcome::ProtocolError
                },
                format!("{error} ({waiting_for})"),
            ),
        }
    }
}

impl Conn {
    fn new(stream: Stream, step: Duration) -> Conn {
        Conn {
            stream,
            buffer: Vec::new(),
            read: 0,
            step,
        }
    }

    fn is_tls(&self) -> bool {
        matches!(self.stream, Stream::Tls(_))
    }

    /// One reply, all of it within one step time-out.
    async fn read_reply(&mut self) -> Result<Reply, ConnError> {
        self.read_reply_hiding(&Secrets::default()).await
    }

    /// One reply, each line with every secret of `hidden` replaced before it is read: a line
    /// that is no reply is quoted (cut) in the error, and a secret cut in two would not be
    /// found any more.
    async fn read_reply_hiding(&mut self, hidden: &Secrets) -> Result<Reply, ConnError> {
        let deadline = Instant::now() + self.step;
        let mut builder = ReplyBuilder::default();
        loop {
            let line = hidden.scrub(&self.read_line(deadline).await?);
            if builder.len() >= MAX_LINES {
                return Err(ConnError::TooManyLines);
            }
            if let Some(reply) = builder.push(&line).map_err(ConnError::Reply)? {
                return Ok(reply);
            }
        }
    }

    async fn read_line(&mut self, deadline: Instant) -> Result<String, ConnError> {
        loop {
            if let Some(end) = self.buffer.iter().position(|&b| b == b'\n') {
                if end > MAX_LINE {
                    return Err(ConnError::LineTooLong);
                }
                let line: Vec<u8> = self.buffer.drain(..=end).collect();
                return Ok(String::from_utf8_lossy(&line).into_owned());
            }
            if self.buffer.len() > MAX_LINE {
                return Err(ConnError::LineTooLong);
            }
            let mut chunk = [0u8; 4096];
            let read = match &mut self.stream {
                Stream::Plain(tcp) => tokio::time::timeout_at(deadline, tcp.read(&mut chunk)).await,
                Stream::Tls(tls) => tokio::time::timeout_at(deadline, tls.read(&mut chunk)).await,
            };
            let n = match read {
                Err(_) => return Err(ConnError::Timeout),
                Ok(Err(error)) => return Err(ConnError::Io(error)),
                Ok(Ok(0)) => return Err(ConnError::Closed),
                Ok(Ok(n)) => n,
            };
            self.read += n;
            if self.read > MAX_BYTES {
                return Err(ConnError::TooMuchData);
            }
            self.buffer.extend_from_slice(&chunk[..n]);
        }
    }

    async fn write_line(&mut self, line: &str) -> Result<(), ConnError> {
        let bytes = format!("{line}\r\n");
        let write = async {
            match &mut self.stream {
                Stream::Plain(tcp) => {
                    tcp.write_all(bytes.as_bytes()).await?;
                    tcp.flush().await
                }
                Stream::Tls(tls) => {
                    tls.write_all(bytes.as_bytes()).await?;
                    tls.flush().await
                }
            }
        };
        match tokio::time::timeout(self.step, write).await {
            Err(_) => Err(ConnError::Timeout),
            Ok(Err(error)) => Err(ConnError::Io(error)),
            Ok(Ok(())) => Ok(()),
        }
    }

    async fn command(&mut self, line: &str) -> Result<Reply, ConnError> {
        self.write_line(line).await?;
        self.read_reply().await
    }

    /// A command of the AUTH exchange: what comes back, reply or failure, has every secret
    /// scrubbed, as a server may echo the line it got (in a reply, or in text that is no reply).
    async fn secret_command(&mut self, line: &str, secrets: &Secrets) -> Result<Reply, Failure> {
        self.write_line(line).await.map_err(|e| e.at("AUTH"))?;
        self.read_reply_hiding(secrets)
            .await
            .map_err(|e| e.at("AUTH"))
    }

    /// EHLO, its reply read as extensions; a refusal stops the session.
    async fn ehlo(&mut self, helo: &str) -> Result<Extensions, Failure> {
        let reply = self
            .command(&format!("EHLO {helo}"))
            .await
            .map_err(|e| e.at("EHLO"))?;
        if !reply.is_positive() {
            self.quit().await;
            return Err(Failure::new(
                Outcome::ProtocolError,
                format!("EHLO was answered {}", reply.summary()),
            ));
        }
        Ok(Extensions::parse(&reply))
    }

    /// QUIT, its reply waited for one step; the session is over either way.
    async fn quit(&mut self) {
        if self.write_line("QUIT").await.is_ok() {
            let _ = self.read_reply().await;
        }
    }

    /// The TLS handshake over this connection (after a 220 to STARTTLS, or at once for implicit
    /// TLS); records the TLS facts in `session`.
    async fn handshake(self, plan: &Plan<'_>, session: &mut Session) -> Result<Conn, Failure> {
        let Stream::Plain(tcp) = self.stream else {
            return Err(Failure::new(Outcome::ProtocolError, "TLS is already on"));
        };
        if !self.buffer.is_empty() {
            // RFC 3207 §5: what came before the handshake must not be taken as protected.
            return Err(Failure::new(
                Outcome::ProtocolError,
                "the server sent data after its STARTTLS reply, before the TLS handshake",
            ));
        }
        let name = tls::server_name(plan.host).map_err(|e| Failure::new(Outcome::TlsFailed, e))?;
        let connector = TlsConnector::from(plan.trust.client());
        let stream = match tokio::time::timeout(plan.step, connector.connect(name, tcp)).await {
            Err(_) => {
                return Err(Failure::new(
                    Outcome::TlsFailed,
                    format!(
                        "the TLS handshake did not finish within {}",
                        seconds(plan.step)
                    ),
                ));
            }
            Ok(Err(error)) => {
                let (text, kind) = tls::handshake_failure(&error);
                session.tls_outdated = kind == tls::HandshakeFailure::Outdated;
                session.plain_text = kind == tls::HandshakeFailure::NotTls;
                return Err(Failure::new(Outcome::TlsFailed, text));
            }
            Ok(Ok(stream)) => stream,
        };
        session.tls = Some(tls::facts(
            stream.get_ref().1,
            plan.trust,
            plan.host,
            std::time::SystemTime::now(),
        ));
        Ok(Conn {
            stream: Stream::Tls(Box::new(stream)),
            buffer: Vec::new(),
            read: self.read,
            step: self.step,
        })
    }
}
