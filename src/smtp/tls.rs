//! TLS for the SMTP probe (rustls, no OpenSSL): a client that completes the handshake whatever
//! the certificate, so that an auditor can still read the server's extensions and report every
//! certificate problem as its own finding, instead of stopping at the first one a client would.
//! The handshake's own signatures are checked as any client checks them.
//!
//! The certificate the server sent is judged after the handshake, three ways: its chain against
//! the web PKI roots (`webpki-roots`, Mozilla's list) plus `--ca-file`, now — or, when only the
//! leaf's own dates fail, at a moment inside the leaf's validity, so that an expired leaf is not
//! also called untrusted while an expired intermediate still is; its names (RFC 6125 §6.4, as
//! webpki matches them) against the host name asked; its dates (RFC 5280 §4.1.2.5) against the
//! clock.

use std::fmt;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::server::ParsedCertificate;
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

/// The trust anchors of a run (the web PKI roots and `--ca-file`), and the one client
/// configuration every connection of the run uses.
#[derive(Clone)]
pub struct Trust {
    roots: Arc<RootCertStore>,
    provider: Arc<CryptoProvider>,
    config: Arc<ClientConfig>,
}

impl fmt::Debug for Trust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Trust({} roots)", self.roots.len())
    }
}

/// Dates a chain fails on: the leaf's own are their own findings.
fn is_date_error(error: &rustls::Error) -> bool {
    matches!(
        error,
        rustls::Error::InvalidCertificate(
            CertificateError::Expired
                | CertificateError::ExpiredContext { .. }
                | CertificateError::NotValidYet
                | CertificateError::NotValidYetContext { .. },
        )
    )
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
            let pem = crate::files::read_small(path, crate::files::SMALL_INPUT_LIMIT)
                .map_err(|e| fail(e.to_string()))?;
            let certificates: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
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
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let verifier = Arc::new(JudgedLater {
            provider: Arc::clone(&provider),
        });
        let config = ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_protocol_versions(rustls::ALL_VERSIONS)
            .expect("the default provider supports every rustls version")
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        Ok(Trust {
            roots: Arc::new(roots),
            provider,
            config: Arc::new(config),
        })
    }

    /// The client configuration of every connection.
    pub(super) fn client(&self) -> Arc<ClientConfig> {
        Arc::clone(&self.config)
    }

    /// A client configuration that verifies as browsers and sending MTAs do (RFC 6125 names,
    /// the chain to these roots, the dates) and refuses the handshake otherwise: for fetches
    /// whose content is taken only from a verified host (the MTA-STS policy, RFC 8461 §3.3).
    pub fn verifying_config(&self) -> ClientConfig {
        ClientConfig::builder_with_provider(Arc::clone(&self.provider))
            .with_safe_default_protocol_versions()
            .expect("the default provider supports the safe default versions")
            .with_root_certificates(Arc::clone(&self.roots))
            .with_no_client_auth()
    }

    /// What the certificate `chain` (the leaf first, as the server sent it) says, and each of
    /// its problems for `host` at `now`.
    pub(super) fn judge(
        &self,
        chain: &[CertificateDer<'_>],
        host: &str,
        now: SystemTime,
    ) -> Option<CertificateFacts> {
        let leaf = chain.first()?;
        let (Ok((_, parsed)), Ok(webpki_leaf)) = (
            X509Certificate::from_der(leaf.as_ref()),
            ParsedCertificate::try_from(leaf),
        ) else {
            let mut facts = CertificateFacts::unreadable(chain.len());
            facts.presented = Presented::of(chain);
            return Some(facts);
        };
        let not_before = parsed.validity().not_before.timestamp();
        let not_after = parsed.validity().not_after.timestamp();
        let now = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let trust_error = self.chain_error(&webpki_leaf, &chain[1..], now, (not_before, not_after));
        let name_matches = server_name(host)
            .is_ok_and(|name| rustls::client::verify_server_name(&webpki_leaf, &name).is_ok());
        let mut problems = Vec::new();
        if now > not_after {
            problems.push(CertificateProblem::Expired);
        }
        if now < not_before {
            problems.push(CertificateProblem::NotYetValid);
        }
        if !name_matches {
            problems.push(CertificateProblem::WrongName);
        }
        if trust_error.is_some() {
            problems.push(CertificateProblem::Untrusted);
        }
        Some(CertificateFacts {
            subject: parsed.subject().to_string(),
            issuer: parsed.issuer().to_string(),
            names: alternative_names(&parsed),
            not_before: rfc3339(not_before),
            not_after: rfc3339(not_after),
            days_left: days_left(not_after, now),
            key: key_description(&parsed),
            chain_length: chain.len(),
            name_matches,
            trusted: trust_error.is_none(),
            problems,
            trust_error,
            presented: Presented::of(chain),
        })
    }

    /// Why the chain does not lead to a trusted root now; `None` when it does. When only the
    /// leaf's own dates make it fail, it is judged again at the nearest moment inside the leaf's
    /// validity: those dates are findings of their own, and an expired leaf is not untrusted for
    /// it. An intermediate out of its dates makes the chain untrusted.
    fn chain_error(
        &self,
        leaf: &ParsedCertificate<'_>,
        intermediates: &[CertificateDer<'_>],
        now: i64,
        (not_before, not_after): (i64, i64),
    ) -> Option<String> {
        let verify = |secs: i64| {
            let at =
                UnixTime::since_unix_epoch(Duration::from_secs(u64::try_from(secs).unwrap_or(0)));
            rustls::client::verify_server_cert_signed_by_trust_anchor(
                leaf,
                &self.roots,
                intermediates,
                at,
                self.provider.signature_verification_algorithms.all,
            )
        };
        let error = verify(now).err()?;
        if !is_date_error(&error) {
            return Some(trust_words(&error));
        }
        if (not_before..=not_after).contains(&now) {
            return Some(
                "a certificate of its chain (an intermediate) has expired or is not valid yet"
                    .to_owned(),
            );
        }
        verify(now.clamp(not_before, not_after))
            .err()
            .map(|e| trust_words(&e))
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

/// A verifier that lets the handshake complete whatever the certificate (it is judged after,
/// [`Trust::judge`]), while the server's handshake signatures are checked as usual.
#[derive(Debug)]
struct JudgedLater {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for JudgedLater {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Why the chain is not trusted, in words.
pub(crate) fn trust_words(error: &rustls::Error) -> String {
    match error {
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            "issued by a CA that is not trusted (not a web PKI root, not in --ca-file), or the \
             server does not send the intermediate certificates"
                .to_owned()
        }
        rustls::Error::InvalidCertificate(CertificateError::BadSignature) => {
            "a signature in the chain does not verify".to_owned()
        }
        rustls::Error::InvalidCertificate(CertificateError::Other(other))
            if other.to_string().contains("CaUsedAsEndEntity") =>
        {
            "the server presents a CA certificate as its own (self-signed)".to_owned()
        }
        other => other.to_string(),
    }
}

pub(crate) fn alternative_names(certificate: &X509Certificate<'_>) -> Vec<String> {
    let mut names = Vec::new();
    if let Ok(Some(san)) = certificate.subject_alternative_name() {
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
    names
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
    /// The chain as the server sent it, the leaf first: what DANE's TLSA records are matched
    /// against (RFC 6698 §2.1.2). Not in the JSON: the digests a TLSA record names are.
    #[serde(skip)]
    pub presented: Vec<Presented>,
}

/// One certificate of the chain a server presented, as TLSA records select it (RFC 6698
/// §2.1.2): the whole certificate (selector 0) and its `SubjectPublicKeyInfo` (selector 1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Presented {
    /// The certificate, DER.
    pub certificate: Vec<u8>,
    /// Its `SubjectPublicKeyInfo`, DER; empty when the certificate cannot be read.
    pub spki: Vec<u8>,
}

impl Presented {
    /// Each certificate of `chain`, in order.
    fn of(chain: &[CertificateDer<'_>]) -> Vec<Presented> {
        chain
            .iter()
            .map(|der| Presented {
                certificate: der.as_ref().to_vec(),
                spki: X509Certificate::from_der(der.as_ref())
                    .map(|(_, parsed)| parsed.public_key().raw.to_vec())
                    .unwrap_or_default(),
            })
            .collect()
    }
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

impl CertificateProblem {
    /// The word used in JSON and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            CertificateProblem::Expired => "expired",
            CertificateProblem::NotYetValid => "not-yet-valid",
            CertificateProblem::WrongName => "wrong-name",
            CertificateProblem::Untrusted => "untrusted",
        }
    }
}

/// The facts of a finished handshake, the certificate judged against `host` and `now`.
pub(super) fn facts(
    connection: &rustls::ClientConnection,
    trust: &Trust,
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
    let certificate = connection
        .peer_certificates()
        .and_then(|chain| trust.judge(chain, host, now));
    TlsFacts {
        version,
        cipher,
        certificate,
    }
}

impl CertificateFacts {
    /// A certificate that cannot be read: nothing about it can be trusted.
    fn unreadable(chain_length: usize) -> CertificateFacts {
        CertificateFacts {
            subject: String::new(),
            issuer: String::new(),
            names: Vec::new(),
            not_before: String::new(),
            not_after: String::new(),
            days_left: 0,
            key: String::new(),
            chain_length,
            name_matches: false,
            trusted: false,
            problems: vec![CertificateProblem::Untrusted],
            trust_error: Some(
                "the certificate cannot be read (not a valid X.509 certificate)".to_owned(),
            ),
            presented: Vec::new(),
        }
    }
}

fn ip_from_bytes(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from),
        _ => None,
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

/// Whole days from `now` to `not_after` (Unix times), a part-day counted: 4 days and 23 hours
/// left is 5; 0 or negative once past.
pub(crate) fn days_left(not_after: i64, now: i64) -> i64 {
    (not_after - now + 86_399).div_euclid(86_400)
}

/// A Unix time as RFC 3339 (UTC).
pub(crate) fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| unix.to_string())
}

/// What kind of handshake failure it was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum HandshakeFailure {
    /// The server offers only TLS 1.0 or 1.1 (RFC 8996 deprecates both; rustls, like every
    /// current client, refuses them).
    Outdated,
    /// The server answered with something that is not TLS: plain text where TLS was expected.
    NotTls,
    Other,
}

/// A handshake failure in words, and its kind.
pub(super) fn handshake_failure(error: &std::io::Error) -> (String, HandshakeFailure) {
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
            HandshakeFailure::Outdated,
        ),
        Some(rustls::Error::InvalidMessage(_)) => (
            "the server did not answer with TLS (it sent something else, e.g. a plain-text SMTP \
             greeting)"
                .to_owned(),
            HandshakeFailure::NotTls,
        ),
        Some(other) => (other.to_string(), HandshakeFailure::Other),
        None => (error.to_string(), HandshakeFailure::Other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
