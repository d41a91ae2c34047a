//! A minimal SMTP client for the tests: replies read whole (continuation lines included),
//! STARTTLS and implicit TLS with tokio-rustls, every step bounded in time.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::{self, pki_types::ServerName};

/// How long one step (connect, a reply, a handshake) may take.
pub const STEP_LIMIT: Duration = Duration::from_secs(15);

/// One SMTP reply.
#[derive(Debug, Clone)]
pub struct Reply {
    pub code: u16,
    /// The text of each line, after `NNN-` or `NNN `.
    pub lines: Vec<String>,
}

impl Reply {
    /// The EHLO keywords (every line but the first, the first word of each, upper case).
    pub fn ehlo_keywords(&self) -> Vec<String> {
        self.lines
            .iter()
            .skip(1)
            .filter_map(|line| line.split_whitespace().next())
            .map(str::to_ascii_uppercase)
            .collect()
    }

    /// The EHLO line of `keyword`, split in words (`AUTH PLAIN LOGIN` → `["AUTH", "PLAIN",
    /// "LOGIN"]`), if the server lists it.
    pub fn ehlo_line(&self, keyword: &str) -> Option<Vec<String>> {
        self.lines.iter().skip(1).find_map(|line| {
            let words: Vec<String> = line
                .split_whitespace()
                .map(str::to_ascii_uppercase)
                .collect();
            (words.first().map(String::as_str) == Some(keyword)).then_some(words)
        })
    }
}

/// An SMTP session over a plain or TLS stream.
pub struct Session<S> {
    /// Read through a buffer, written directly.
    stream: BufReader<S>,
}

/// Connects in clear.
pub async fn connect(addr: SocketAddr) -> Session<TcpStream> {
    let tcp = bounded(format!("connect to {addr}"), TcpStream::connect(addr))
        .await
        .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    Session {
        stream: BufReader::new(tcp),
    }
}

/// Connects and does the TLS handshake at once (implicit TLS, as on port 465).
pub async fn connect_tls(
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
    name: &str,
) -> Result<Session<TlsStream<TcpStream>>, std::io::Error> {
    let tcp = bounded(format!("connect to {addr}"), TcpStream::connect(addr))
        .await
        .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    let tls = handshake(tcp, config, name).await?;
    Ok(Session {
        stream: BufReader::new(tls),
    })
}

async fn handshake(
    tcp: TcpStream,
    config: Arc<rustls::ClientConfig>,
    name: &str,
) -> Result<TlsStream<TcpStream>, std::io::Error> {
    let server_name = ServerName::try_from(name.to_owned()).expect("a valid server name");
    bounded(
        format!("TLS handshake with {name}"),
        TlsConnector::from(config).connect(server_name, tcp),
    )
    .await
}

impl<S: AsyncRead + AsyncWrite + Unpin> Session<S> {
    /// Reads one reply; panics if none comes in time or the connection closes.
    pub async fn reply(&mut self) -> Reply {
        self.try_reply()
            .await
            .unwrap_or_else(|e| panic!("reading a reply: {e}"))
    }

    /// Reads one reply.
    pub async fn try_reply(&mut self) -> Result<Reply, std::io::Error> {
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let n = bounded("an SMTP reply".to_owned(), self.stream.read_line(&mut line)).await?;
            if n == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("connection closed after {lines:?}"),
                ));
            }
            let line = line.trim_end_matches(['\r', '\n']);
            let code = line
                .get(..3)
                .and_then(|code| code.parse::<u16>().ok())
                .unwrap_or_else(|| panic!("not an SMTP reply line: {line:?}"));
            let last = line.as_bytes().get(3) != Some(&b'-');
            lines.push(line.get(4..).unwrap_or("").to_owned());
            if last {
                return Ok(Reply { code, lines });
            }
        }
    }

    /// Sends `line` (CRLF added) and reads the reply.
    pub async fn command(&mut self, line: &str) -> Reply {
        self.send(line).await;
        self.reply().await
    }

    /// Sends `line` (CRLF added).
    pub async fn send(&mut self, line: &str) {
        let write = async {
            let stream = self.stream.get_mut();
            stream.write_all(format!("{line}\r\n").as_bytes()).await?;
            stream.flush().await
        };
        bounded(format!("send {line:?}"), write)
            .await
            .unwrap_or_else(|e| panic!("send {line:?}: {e}"));
    }
}

impl Session<TcpStream> {
    /// `STARTTLS`, which must get 220, then the handshake.
    pub async fn starttls(
        mut self,
        config: Arc<rustls::ClientConfig>,
        name: &str,
    ) -> Result<Session<TlsStream<TcpStream>>, std::io::Error> {
        let reply = self.command("STARTTLS").await;
        assert_eq!(reply.code, 220, "STARTTLS: {reply:?}");
        // Nothing may be buffered past the 220: the server speaks TLS from here on.
        assert!(
            self.stream.buffer().is_empty(),
            "data after the STARTTLS reply"
        );
        let tls = handshake(self.stream.into_inner(), config, name).await?;
        Ok(Session {
            stream: BufReader::new(tls),
        })
    }
}

/// `future`, or a timeout error after [`STEP_LIMIT`].
async fn bounded<T>(
    what: String,
    future: impl Future<Output = Result<T, std::io::Error>>,
) -> Result<T, std::io::Error> {
    tokio::time::timeout(STEP_LIMIT, future)
        .await
        .unwrap_or_else(|_| {
            Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("{what}: no answer in {} s", STEP_LIMIT.as_secs()),
            ))
        })
}
