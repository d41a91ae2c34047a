//! SMTP servers probed as a mail client (submission, RFC 6409, on 587 with STARTTLS or 465 with
//! implicit TLS, RFC 8314) or an MTA (port 25, RFC 5321) would, with every failure explained in
//! the words users meet it in and what to try next.
//!
//! - [`reply`]: replies and EHLO extensions, parsed (pure).
//! - `session`: one bounded session with one address.
//! - [`tls`]: the TLS client that reports every certificate problem instead of stopping.
//! - `explain`: each session's diagnosis and the `smtp.*` findings.
//!
//! Why not a library: lettre's client hides the EHLO capabilities and the certificate verdict
//! an auditor must report, and stops at the first certificate problem.

mod explain;
pub mod reply;
mod session;
pub mod tls;

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use futures::future::join_all;
use serde::Serialize;

use crate::dns::Dns;
use crate::finding::{Checked, Verdict};

pub use explain::{diagnosis, findings, unknown_reason};
pub use session::{AuthResult, Outcome, Phase, Session};
pub use tls::{CertificateFacts, CertificateProblem, Presented, TlsFacts, Trust};

/// The ports `--all-ports` tries, each as a client would: MX relay, implicit-TLS submission,
/// STARTTLS submission, and the alternative submission port some providers open.
pub const ALL_PORTS: [(u16, TlsMode); 4] = [
    (25, TlsMode::Starttls),
    (465, TlsMode::Implicit),
    (587, TlsMode::Starttls),
    (2525, TlsMode::Starttls),
];

/// Addresses of one host probed at most: a hostile zone could list hundreds.
pub const MAX_ADDRESSES: usize = 8;

/// Steps of a session (connect, greeting, EHLO, STARTTLS, handshake, EHLO, AUTH, QUIT): the
/// whole session gets this many step time-outs, whatever each step takes.
pub(crate) const SESSION_STEPS: u32 = 8;

/// How TLS is started (`--tls`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum TlsMode {
    /// Plain text, then STARTTLS (RFC 3207): ports 25 and 587.
    Starttls,
    /// TLS from the first byte (RFC 8314 §3.3): port 465.
    Implicit,
    /// No TLS at all.
    None,
}

impl TlsMode {
    /// What a client uses on `port` unless told otherwise.
    pub fn default_for(port: u16) -> TlsMode {
        if port == 465 {
            TlsMode::Implicit
        } else {
            TlsMode::Starttls
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TlsMode::Starttls => "STARTTLS",
            TlsMode::Implicit => "implicit TLS",
            TlsMode::None => "no TLS",
        }
    }
}

/// What the server is to the user.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Receives mail from other servers (port 25): STARTTLS missing is a warning, the
    /// greeting is compared with the address's PTR.
    Mx,
    /// Takes mail from the user's clients (587, 465, 2525): STARTTLS missing is an error.
    Submission,
}

impl Role {
    pub fn for_port(port: u16) -> Role {
        if port == 25 {
            Role::Mx
        } else {
            Role::Submission
        }
    }
}

/// A password, read from the environment, never shown: its `Debug` prints nothing of it and it
/// is not serialisable, so it cannot reach a report.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub fn new(password: String) -> Password {
        Password(password)
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(hidden)")
    }
}

/// `--user` and its password.
#[derive(Clone, Debug)]
pub struct Credentials {
    pub user: String,
    pub password: Password,
}

/// What every probe of a run shares.
#[derive(Clone, Debug)]
pub struct ProbeOptions {
    pub trust: Trust,
    pub credentials: Option<Credentials>,
    /// Each step's time-out (`--timeout`).
    pub step: Duration,
}

/// One host and port probed, every address of the host tried.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PortProbe {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub role: Role,
    pub verdict: Verdict,
    /// The A and AAAA answers for the host (`records`, `nxdomain` ... or the failure); absent
    /// for an address literal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns: Option<AddressLookup>,
    /// How long resolving the host took.
    pub dns_ms: f64,
    /// One session per address.
    pub sessions: Vec<Session>,
    /// The PTR names of each address (port 25: compared with the greeting).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ptr: Vec<AddressPtr>,
    /// Addresses not probed past [`MAX_ADDRESSES`].
    #[serde(skip_serializing_if = "is_zero")]
    pub addresses_not_probed: usize,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// How the host's addresses were looked up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AddressLookup {
    pub a: String,
    pub aaaa: String,
}

/// One address's PTR names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AddressPtr {
    pub ip: IpAddr,
    /// `records`, `nxdomain`, `nodata` or the failure.
    pub answer: String,
    pub names: Vec<String>,
}

/// The SMTP area of an `smtp` report: the host and every port probed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SmtpReport {
    pub host: String,
    pub probes: Vec<PortProbe>,
}

/// The addresses of `host` (its A then AAAA records, through `dns`) and how they were looked
/// up; an address literal is used as it is, without a lookup.
pub async fn host_addresses(dns: &Dns, host: &str) -> (Vec<IpAddr>, Option<AddressLookup>) {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return (vec![ip], None);
    }
    let (a, aaaa) = dns.addresses(host).await;
    let mut addresses: Vec<IpAddr> = a.records().iter().copied().map(IpAddr::V4).collect();
    addresses.extend(aaaa.records().iter().copied().map(IpAddr::V6));
    let lookup = AddressLookup {
        a: a.status(),
        aaaa: aaaa.status(),
    };
    (addresses, Some(lookup))
}

/// Probes `host` on `port` with `mode`: resolves it through `dns` (an address literal is used
/// as it is), then one session per address, at once.
pub async fn probe(
    dns: &Dns,
    host: &str,
    port: u16,
    mode: TlsMode,
    role: Role,
    options: &ProbeOptions,
) -> Checked<PortProbe> {
    let started = tokio::time::Instant::now();
    let (addresses, lookup) = host_addresses(dns, host).await;
    let dns_ms = (started.elapsed().as_secs_f64() * 10_000.0).round() / 10.0;
    let not_probed = addresses.len().saturating_sub(MAX_ADDRESSES);
    let addresses: Vec<IpAddr> = addresses.into_iter().take(MAX_ADDRESSES).collect();
    let plan = session::Plan {
        host,
        port,
        mode,
        trust: &options.trust,
        credentials: options.credentials.as_ref(),
        step: options.step,
        deadline: tokio::time::Instant::now() + options.step * SESSION_STEPS,
    };
    // AUTH at one address only: a login tried at every address of a host (and every port)
    // looks like guessing to the lockout rules of providers and of fail2ban.
    let without_auth = session::Plan {
        credentials: None,
        ..plan
    };
    let ptr = async {
        if role == Role::Mx {
            join_all(addresses.iter().map(|&ip| async move {
                let answer = dns.ptr(ip).await;
                AddressPtr {
                    ip,
                    names: answer.records().to_vec(),
                    answer: answer.status(),
                }
            }))
            .await
        } else {
            Vec::new()
        }
    };
    let (sessions, ptr) = tokio::join!(
        join_all(addresses.iter().enumerate().map(|(index, &ip)| {
            session::run(if index == 0 { &plan } else { &without_auth }, ip)
        })),
        ptr
    );
    let mut report = PortProbe {
        host: host.to_owned(),
        port,
        tls: mode,
        role,
        verdict: Verdict::Unknown,
        dns: lookup,
        dns_ms,
        sessions,
        ptr,
        addresses_not_probed: not_probed,
    };
    let findings = explain::findings(&report);
    report.verdict = explain::verdict(&report, &findings);
    Checked { report, findings }
}

/// Whether no address of the server answered on any port probed (none greeted): nothing can
/// be sent through it.
pub fn unreachable(report: &SmtpReport) -> bool {
    let mut sessions = report.probes.iter().flat_map(|p| &p.sessions).peekable();
    sessions.peek().is_some() && sessions.all(|s| s.greeting.is_none() && s.tls.is_none())
}

/// Whether a lookup answer is a DNS failure (the host's addresses are then unknown).
pub fn lookup_failed(lookup: &AddressLookup) -> bool {
    let failed = |status: &str| !matches!(status, "records" | "nodata" | "nxdomain");
    failed(&lookup.a) || failed(&lookup.aaaa)
}
