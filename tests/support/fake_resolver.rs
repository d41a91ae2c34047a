//! Resolvers that do not work, on 127.0.0.1, for the resolver check that runs before anything
//! is audited: a socket that is bound and never read (a resolver that is down or firewalled:
//! the client times out), an address where nothing listens, and a responder that answers every
//! question with one error code (REFUSED: a resolver that does not serve this client;
//! SERVFAIL: one that cannot resolve anything).

use std::net::{SocketAddr, UdpSocket};
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use std::time::Instant;

use super::{command_with_resolvers, dns_server};

/// RCODE 2 (RFC 1035 §4.1.1).
pub const SERVFAIL: u8 = 2;
/// RCODE 5 (RFC 1035 §4.1.1).
pub const REFUSED: u8 = 5;

/// A UDP socket bound on loopback whose datagrams are never read: every question times out.
pub struct Silent {
    socket: UdpSocket,
}

impl Silent {
    pub fn bind() -> Silent {
        Silent {
            socket: UdpSocket::bind("127.0.0.1:0").expect("bind a loopback UDP socket"),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.socket.local_addr().expect("bound address")
    }
}

/// A loopback address where nothing listens (a socket was bound there and closed).
pub fn nothing_listening() -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind a loopback UDP socket");
    socket.local_addr().expect("bound address")
}

/// A UDP responder that answers every question with `rcode` and no records, until dropped.
pub struct Responder {
    addr: SocketAddr,
    rcode: u8,
    answered: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Responder {
    pub fn start(rcode: u8) -> Responder {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind a loopback UDP socket");
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("read timeout");
        let addr = socket.local_addr().expect("bound address");
        let answered = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (count, stopped) = (Arc::clone(&answered), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while !stopped.load(Ordering::SeqCst) {
                let Ok((len, from)) = socket.recv_from(&mut buffer) else {
                    continue;
                };
                // Only ever back to the loopback client that asked.
                if !from.ip().is_loopback() {
                    continue;
                }
                if let Some(reply) = error_reply(&buffer[..len], rcode)
                    && socket.send_to(&reply, from).is_ok()
                {
                    count.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
        Responder {
            addr,
            rcode,
            answered,
            stop,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many questions it answered.
    pub fn answered(&self) -> usize {
        self.answered.load(Ordering::SeqCst)
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// A resolver that does not work, one of each kind; it keeps not working while it lives.
pub enum Broken {
    /// Bound and never read: times out.
    Silent(Silent),
    /// Nothing listens there.
    NothingListening(SocketAddr),
    /// Answers every question with an error code.
    Answers(Responder),
}

impl Broken {
    /// One resolver of each kind: silent, nothing listening, REFUSED, SERVFAIL.
    pub fn each() -> Vec<Broken> {
        vec![
            Broken::Silent(Silent::bind()),
            Broken::NothingListening(nothing_listening()),
            Broken::Answers(Responder::start(REFUSED)),
            Broken::Answers(Responder::start(SERVFAIL)),
        ]
    }

    pub fn addr(&self) -> SocketAddr {
        match self {
            Broken::Silent(silent) => silent.addr(),
            Broken::NothingListening(addr) => *addr,
            Broken::Answers(responder) => responder.addr(),
        }
    }

    /// What the run must say happened (any of these words).
    pub fn says(&self) -> &'static [&'static str] {
        match self {
            Broken::Silent(_) => &["did not answer"],
            // A port nobody listens on: the client may see the ICMP error or just no answer.
            Broken::NothingListening(_) => &["did not answer", "refused", "network error"],
            Broken::Answers(responder) if responder.rcode == REFUSED => &["REFUSED"],
            Broken::Answers(_) => &["SERVFAIL"],
        }
    }
}

/// The reply to `query` with `rcode`: its ID, opcode, RD and question, QR and RA set, no
/// records (the query's EDNS record dropped). `None` for what is not a query.
fn error_reply(query: &[u8], rcode: u8) -> Option<Vec<u8>> {
    if query.len() < 12 || query[2] & 0x80 != 0 {
        return None;
    }
    // The question: QNAME (labels up to the root label), QTYPE, QCLASS.
    let mut end = 12;
    loop {
        let label = usize::from(*query.get(end)?);
        if label & 0xc0 != 0 {
            return None;
        }
        end += 1 + label;
        if label == 0 {
            break;
        }
    }
    end += 4;
    let question = query.get(12..end)?;
    let mut reply = Vec::with_capacity(end);
    reply.extend_from_slice(&query[..2]);
    reply.push(0x80 | (query[2] & 0x79));
    reply.push(0x80 | (rcode & 0x0f));
    reply.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    reply.extend_from_slice(question);
    Some(reply)
}

/// The run stopped before anything was audited because the resolver `server` does not work:
/// exit status 2, nothing on standard output, and one line on standard error naming the
/// resolver (`ADDR:PORT`) and saying what happened (one of `what`, e.g. "REFUSED").
pub fn assert_stopped_by(output: &Output, server: SocketAddr, what: &[&str]) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "stderr: {stderr}");
    assert!(
        output.stdout.is_empty(),
        "something was written: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "not one line: {stderr}");
    let line = lines[0];
    assert!(
        line.contains(&server.to_string()),
        "does not name {server}: {line}"
    );
    assert!(
        what.iter().any(|w| line.contains(w)),
        "does not say {what:?}: {line}"
    );
}

/// `mailaudit ARGS...` asking `resolvers` in this order, with a short timeout.
pub fn run_against(args: &[&str], resolvers: &[SocketAddr]) -> Output {
    let resolvers: Vec<String> = resolvers.iter().map(ToString::to_string).collect();
    command_with_resolvers(args, &resolvers, "0.3")
        .output()
        .expect("run mailaudit")
}

/// Each kind of broken resolver, alone and listed after a working one, stops `args` before
/// anything is judged: the working resolver is asked the root zone's SOA, but none of `names`
/// (the first names the run would look up for its targets).
pub fn assert_every_broken_resolver_stops(args: &[&str], names: &[&str]) {
    let working = dns_server::start_switchable();
    for broken in Broken::each() {
        let started = Instant::now();
        let output = run_against(args, &[broken.addr()]);
        assert_stopped_by(&output, broken.addr(), broken.says());
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{args:?} took {:?} to give up on {}",
            started.elapsed(),
            broken.addr()
        );

        // One working resolver does not make up for a dead one: the dead one is named.
        let output = run_against(args, &[working.addr, broken.addr()]);
        assert_stopped_by(&output, broken.addr(), broken.says());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !stderr.contains(&working.resolver_arg()),
            "the working resolver is blamed: {stderr}"
        );
        assert!(
            !working.queries_for("").is_empty(),
            "the working resolver was not checked"
        );
        for name in names {
            assert!(
                working.queries_for(name).is_empty(),
                "{name} was looked up before the resolvers were checked"
            );
        }
    }
}
