//! TLS for the SMTP probe (rustls, no OpenSSL): a client that completes the handshake whatever
//! the certificate, so that an auditor can still read the server's extensions and report every
//! certificate problem as its own finding, instead of stopping at the first one a client would.
//!
//! The certificate is judged three ways: its dates (RFC 5280 §4.1.2.5) against the clock, its
//! names (RFC 6125 §6.4: the subject alternative names, one left-most wildcard label) against the
//! host name asked, and its chain against the web PKI roots (`webpki-roots`, Mozilla's list)
//! plus `--ca-file`, checked at a moment inside its validity so that a date problem is not
//! mistaken for an untrusted issuer. The handshake itself checks the server's signature as any
//! client does.

use std::fmt;
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use serde::Serialize;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

/// A certificate is "expiring" this many days before its end.
pub const EXPIRING_DAYS: i64 = 14;

/// `--ca-file` could not be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the CA file '{path}': {reason}")]
pub struct CaFileError {
    path: String,
    reason: String,
}

/// The trust anchors of a run: the web PKI roots and `--ca-file`.
#[derive(Clone)]
pub struct Trust {
    roots: Arc<RootCertStore>,
    provider: Arc<CryptoProvider>,
}

impl fmt::Debug for Trust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Trust({} roots)", self.roots.len())
    }
}

impl Trust {
    /// The web PKI roots, and every certificate of the PEM file `ca_file`.
    pub fn new(ca_file: Option<&Path>) -> Result<Trust, CaFileError> {
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(path) = ca_file {
            let fail = |reason: String| CaFileError {
                path: path.display().to_string(),
                reason,
            };
            let certificates: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .map_err(|e| fail(e.to_string()))?
                .collect::<Result<_, _>>()
                .map_err(|e| fail(e.to_string()))?;
            if certificates.is_empty() {
                return Err(fail("no PEM certificate in it".to_owned()));
            }
            for certificate in certificates {
                roots
                    .add(certificate)
                    .map_err(|e| fail(format!("not a CA certificate: {e}")))?;
            }
        }
        Ok(Trust {
            roots: Arc::new(roots),
            provider: Arc::new(rustls::crypto::aws_lc_rs::default_provider()),
        })
    }

    /// A client configuration for one connection, and where its verifier leaves what it saw.
    pub(super) fn client(&self) -> Result<(Arc<ClientConfig>, Arc<Seen>), rustls::Error> {
        let inner = WebPkiServerVerifier::builder_with_provider(
            Arc::clone(&self.roots),
            Arc::clone(&self.provider),
        )
        .build()
        .map_err(|e| rustls::Error::General(e.to_string()))?;
        let seen = Arc::new(Seen::default());
        let verifier = Recording {
            inner,
            seen: Arc::clone(&seen),
        };
        let config = ClientConfig::builder_with_provider(Arc::clone(&self.provider))
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        Ok((Arc::new(config), seen))
    }
}

/// The name a TLS connection to `host` asks for (SNI and name checks): the DNS name, or the
/// address for an IP literal.
pub(super) fn server_name(host: &str) -> Result<ServerName<'static>, String> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(ServerName::IpAddress(ip.into()));
    }
    ServerName::try_from(host.to_owned())
        .map_err(|e| format!("'{host}' cannot be a TLS server name: {e}"))
}

/// What the verifier was shown during a handshake.
#[derive(Default)]
pub(super) struct Seen {
    chain: Mutex<Option<Chain>>,
}

struct Chain {
    certificates: Vec<CertificateDer<'static>>,
    /// The chain's verdict at a moment inside the leaf's validity: `None` trusted.
    trust_error: Option<String>,
}

impl Seen {
    fn take(&self) -> Option<Chain> {
        self.chain
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

/// A verifier that records the certificate and the web PKI's verdict, and lets the handshake go
/// on: an audit reports the certificate's problems rather than stopping at them.
#[derive(Debug)]
struct Recording {
    inner: Arc<WebPkiServerVerifier>,
    seen: Arc<Seen>,
}

impl fmt::Debug for Seen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Seen")
    }
}

impl ServerCertVerifier for Recording {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // Judged inside the certificate's validity: dates and names are checked on their own.
        let at = validity_midpoint(end_entity).unwrap_or(now);
        let trust_error = match self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            at,
        ) {
            Ok(_)
            | Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => None,
            Err(error) => Some(trust_words(&error)),
        };
        let certificates = std::iter::once(end_entity)
            .chain(intermediates)
            .map(|c| c.clone().into_owned())
            .collect();
        *self
            .seen
            .chain
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Chain {
            certificates,
            trust_error,
        });
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Why the chain is not trusted, in words.
fn trust_words(error: &rustls::Error) -> String {
    match error {
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            "issued by a CA that is not trusted (not a web PKI root, not in --ca-file), or the \
             server does not send the intermediate certificates"
                .to_owned()
        }
        rustls::Error::InvalidCertificate(CertificateError::BadSignature) => {
            "a signature in the chain does not verify".to_owned()
        }
        rustls::Error::InvalidCertificate(CertificateError::Revoked) => "revoked".to_owned(),
        other => other.to_string(),
    }
}

/// The middle of the certificate's validity, to check its chain apart from its dates.
fn validity_midpoint(certificate: &CertificateDer<'_>) -> Option<UnixTime> {
    let (_, parsed) = X509Certificate::from_der(certificate.as_ref()).ok()?;
    let start = parsed.validity().not_before.timestamp();
    let end = parsed.validity().not_after.timestamp();
    let middle = u64::try_from(start / 2 + end / 2).ok()?;
    Some(UnixTime::since_unix_epoch(Duration::from_secs(middle)))
}

/// The TLS facts of a connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TlsFacts {
    /// `TLSv1.3` or `TLSv1.2` (rustls negotiates nothing older).
    pub version: String,
    pub cipher: String,
    /// The server's certificate, when it sent one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertificateFacts>,
}

/// What the server's certificate says, and each problem with it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CertificateFacts {
    pub subject: String,
    pub issuer: String,
    /// Subject alternative names: DNS names and IP addresses.
    pub names: Vec<String>,
    /// RFC 3339 times.
    pub not_before: String,
    pub not_after: String,
    /// Days until `not_after`, a part-day counted as a day (0 or negative once expired).
    pub days_left: i64,
    /// `RSA 2048`, `EC P-256`, `Ed25519` ...
    pub key: String,
    /// Certificates the server sent, the leaf included.
    pub chain_length: usize,
    /// The host name asked is among `names`.
    pub name_matches: bool,
    /// The chain leads to a trusted root (web PKI or `--ca-file`).
    pub trusted: bool,
    /// Each problem: `expired`, `not-yet-valid`, `wrong-name`, `untrusted`.
    pub problems: Vec<CertificateProblem>,
    /// Why it is not trusted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trust_error: Option<String>,
}

/// One problem of a certificate: each is its own finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CertificateProblem {
    Expired,
    NotYetValid,
    WrongName,
    Untrusted,
}

/// The facts of a finished handshake, the certificate judged against `host` and `now`.
pub(super) fn facts(
    connection: &rustls::ClientConnection,
    seen: &Seen,
    host: &str,
    now: SystemTime,
) -> TlsFacts {
    let version = connection
        .protocol_version()
        .and_then(|v| v.as_str())
        .unwrap_or("unknown")
        .replace("TLSv1_", "TLSv1.");
    let cipher = connection
        .negotiated_cipher_suite()
        .and_then(|s| s.suite().as_str())
        .unwrap_or("unknown")
        .to_owned();
    let certificate = seen
        .take()
        .and_then(|chain| certificate_facts(&chain, host, now));
    TlsFacts {
        version,
        cipher,
        certificate,
    }
}

fn certificate_facts(chain: &Chain, host: &str, now: SystemTime) -> Option<CertificateFacts> {
    let leaf = chain.certificates.first()?;
    let (_, parsed) = X509Certificate::from_der(leaf.as_ref()).ok()?;
    let mut names = Vec::new();
    if let Ok(Some(san)) = parsed.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(dns) => names.push(dns.to_ascii_lowercase()),
                GeneralName::IPAddress(bytes) => {
                    if let Some(ip) = ip_from_bytes(bytes) {
                        names.push(ip.to_string());
                    }
                }
                _ => {}
            }
        }
    }
    let not_before = parsed.validity().not_before.timestamp();
    let not_after = parsed.validity().not_after.timestamp();
    let now_secs = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    // Whole days, a part-day counted: a certificate ending in 4 days and 23 hours has 5 left.
    let days_left = (not_after - now_secs + 86_399).div_euclid(86_400);
    let name_matches = names.iter().any(|name| name_matches(name, host));
    let mut problems = Vec::new();
    if now_secs > not_after {
        problems.push(CertificateProblem::Expired);
    }
    if now_secs < not_before {
        problems.push(CertificateProblem::NotYetValid);
    }
    if !name_matches {
        problems.push(CertificateProblem::WrongName);
    }
    if chain.trust_error.is_some() {
        problems.push(CertificateProblem::Untrusted);
    }
    Some(CertificateFacts {
        subject: parsed.subject().to_string(),
        issuer: parsed.issuer().to_string(),
        names,
        not_before: rfc3339(not_before),
        not_after: rfc3339(not_after),
        days_left,
        key: key_description(&parsed),
        chain_length: chain.certificates.len(),
        name_matches,
        trusted: chain.trust_error.is_none(),
        problems,
        trust_error: chain.trust_error.clone(),
    })
}

fn ip_from_bytes(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from),
        _ => None,
    }
}

/// Whether a certificate name covers `host` (RFC 6125 §6.4.3): equal ignoring case, or a
/// wildcard `*.` standing for exactly one whole left-most label.
pub fn name_matches(name: &str, host: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if name == host {
        return true;
    }
    match name.strip_prefix("*.") {
        Some(rest) => host.split_once('.').is_some_and(|(label, parent)| {
            !label.is_empty() && parent == rest && rest.contains('.')
        }),
        None => false,
    }
}

/// The key's algorithm and size.
fn key_description(certificate: &X509Certificate<'_>) -> String {
    use x509_parser::public_key::PublicKey;
    let info = certificate.public_key();
    match info.parsed() {
        Ok(PublicKey::RSA(rsa)) => format!("RSA {}", rsa.key_size()),
        Ok(PublicKey::EC(point)) => {
            let curve = info
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map_or_else(|| "EC".to_owned(), |oid| curve_name(&oid.to_id_string()));
            format!("{curve} ({} bits)", point.key_size())
        }
        _ => match info.algorithm.algorithm.to_id_string().as_str() {
            "1.3.101.112" => "Ed25519".to_owned(),
            "1.3.101.113" => "Ed448".to_owned(),
            other => format!("algorithm {other}"),
        },
    }
}

fn curve_name(oid: &str) -> String {
    match oid {
        "1.2.840.10045.3.1.7" => "EC P-256".to_owned(),
        "1.3.132.0.34" => "EC P-384".to_owned(),
        "1.3.132.0.35" => "EC P-521".to_owned(),
        other => format!("EC {other}"),
    }
}

/// A Unix time as RFC 3339 (UTC).
fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| unix.to_string())
}

/// A handshake failure in words, and whether it says the server offers only TLS 1.0 or 1.1
/// (which rustls, like every current client, refuses).
pub(super) fn handshake_failure(error: &std::io::Error) -> (String, bool) {
    let inner = error
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>());
    match inner {
        Some(
            rustls::Error::PeerIncompatible(
                rustls::PeerIncompatible::ServerDoesNotSupportTls12Or13
                | rustls::PeerIncompatible::Tls12NotOffered,
            )
            | rustls::Error::AlertReceived(rustls::AlertDescription::ProtocolVersion),
        ) => (
            "the server offers only TLS 1.0 or 1.1, which current mail clients and servers \
             refuse"
                .to_owned(),
            true,
        ),
        Some(rustls::Error::InvalidMessage(_)) => (
            "the server did not answer with TLS (it sent something else, e.g. a plain-text SMTP \
             greeting)"
                .to_owned(),
            false,
        ),
        Some(other) => (other.to_string(), false),
        None => (error.to_string(), false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_exactly_or_by_one_left_most_wildcard_label() {
        assert!(name_matches("mail.example.com", "MAIL.example.com."));
        assert!(name_matches("*.example.com", "mail.example.com"));
        assert!(!name_matches("*.example.com", "a.mail.example.com"));
        assert!(!name_matches("*.example.com", "example.com"));
        assert!(
            !name_matches("*.com", "example.com"),
            "a wildcard needs two labels under it"
        );
        assert!(!name_matches("mail.example.com", "mail.example.org"));
        assert!(name_matches("127.0.0.1", "127.0.0.1"));
    }

    #[test]
    fn a_ca_file_that_is_not_pem_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate").unwrap();
        let error = Trust::new(Some(&path)).unwrap_err().to_string();
        assert!(error.contains("ca.pem"), "{error}");
        assert!(Trust::new(None).is_ok());
    }
}
