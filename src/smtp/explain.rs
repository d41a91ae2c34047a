//! What a probe's sessions mean to the user: a diagnosis for each address in the words mail
//! clients use (Outlook's 0x800CCC7E and 0x80042109 included) with what to try next, and the
//! `smtp.*` findings, one a problem, the addresses it was seen at in the evidence.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::session::{Outcome, Session};
use super::tls::{CertificateFacts, CertificateProblem, EXPIRING_DAYS};
use super::{PortProbe, Role, TlsMode, lookup_failed};
use crate::finding::{Code, Finding, Severity, Verdict};

/// The port a client should try instead of `port`.
fn alternative(port: u16) -> &'static str {
    match port {
        587 => "port 465 with SSL/TLS (implicit TLS)",
        465 => "port 587 with STARTTLS",
        25 => {
            "port 587 with STARTTLS to send from a mail client (many networks block port 25 \
             for their customers)"
        }
        _ => "port 587 with STARTTLS, or 465 with SSL/TLS",
    }
}

/// What one session means, in the words a user knows, and what to try.
pub fn diagnosis(probe: &PortProbe, session: &Session) -> String {
    let port = probe.port;
    let ip = session.ip;
    let error = session.error.as_deref().unwrap_or_default();
    match session.outcome {
        Outcome::Refused => format!(
            "Connection refused: this is the send failure mail clients report (Outlook: \
             0x800CCC7E). Nothing listens on port {port} at {ip}, or a firewall rejects the \
             connection. Check the server name and port set in the client, and try {}.",
            alternative(port)
        ),
        Outcome::ConnectTimeout => format!(
            "No answer ({error}): this is the time-out mail clients report (Outlook: \
             0x80042109). A firewall drops the connection, or the network you are on blocks port \
             {port}. Try {}, or another network.",
            alternative(port)
        ),
        Outcome::Unreachable => format!(
            "{ip} cannot be reached from here ({error}): no route to it (for an IPv6 address, \
             this network may have no IPv6)."
        ),
        Outcome::NoGreeting if session.implicit_tls_detected => format!(
            "The server accepted the connection and waited without a word, and it answers a TLS \
             handshake: port {port} expects TLS from the first byte (implicit TLS, \"SSL/TLS\" in \
             mail clients), not STARTTLS. Set the client to SSL/TLS, or probe with --tls implicit."
        ),
        Outcome::NoGreeting => format!(
            "The server accepted the connection but sent no greeting ({error}); a TLS handshake \
             got no answer either, so this is not an implicit-TLS port. Mail clients report this \
             as a time-out (Outlook: 0x80042109). The server is overloaded or deliberately slow \
             (a tarpit), or something other than a mail server holds port {port}."
        ),
        Outcome::Rejected => format!(
            "The server refused the session in its greeting ({error}): it does not take \
             connections from this address, or offers no mail service on port {port}."
        ),
        Outcome::TlsFailed if session.tls_outdated => format!(
            "TLS failed: {error}. Mail clients and servers that follow RFC 8996 will not use this \
             server; enable TLS 1.2 and 1.3 on it."
        ),
        Outcome::TlsFailed if session.plain_text => {
            format!(
                "Port {port} answered in plain text where TLS was expected: it uses STARTTLS \
                 (as port 587 does). Set the client to STARTTLS, or probe with --tls starttls."
            )
        }
        Outcome::TlsFailed => format!(
            "TLS failed: {error}. Clients that require TLS cannot send through this server."
        ),
        Outcome::ReplyTimeout => format!(
            "The server stopped answering in the middle of the session ({error}): it is \
             overloaded or deliberately slow. Mail clients report this as a time-out (Outlook: \
             0x80042109)."
        ),
        Outcome::ProtocolError | Outcome::Closed | Outcome::Oversized => {
            format!("The server broke off or broke the SMTP protocol: {error}.")
        }
        Outcome::ProbeTimeout => format!(
            "The session did not finish within the probe's time limit ({error}): the server \
             answers too slowly to be used."
        ),
        Outcome::Completed => completed(probe, session),
    }
}

/// The diagnosis of a session that ran to QUIT: what is right, and what is not.
fn completed(probe: &PortProbe, session: &Session) -> String {
    let mut parts = Vec::new();
    match (&session.tls, probe.tls) {
        (Some(tls), _) => {
            let certificate = match &tls.certificate {
                Some(certificate) if certificate.problems.is_empty() => format!(
                    "a valid certificate for {} ({} days left)",
                    probe.host, certificate.days_left
                ),
                Some(certificate) => format!(
                    "a certificate with problems: {}",
                    certificate
                        .problems
                        .iter()
                        .map(|p| problem_words(*p))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                None => "no certificate".to_owned(),
            };
            parts.push(format!(
                "Works: {} ({} {}), {certificate}.",
                probe.tls.as_str(),
                tls.version,
                tls.cipher
            ));
        }
        (None, TlsMode::None) => parts.push("Works without TLS (--tls none).".to_owned()),
        (None, _) => parts.push(
            "The server answers, but STARTTLS is not offered: mail and passwords would cross \
             the network in plain text."
                .to_owned(),
        ),
    }
    if let Some(auth) = &session.auth {
        parts.push(match (&auth.skipped, auth.accepted) {
            (Some(reason), _) => format!("AUTH not tried: {reason}."),
            (None, true) => format!(
                "AUTH {} accepted for {}.",
                auth.mechanism.as_deref().unwrap_or_default(),
                auth.user
            ),
            (None, false) => format!(
                "AUTH {} rejected for {}: {}",
                auth.mechanism.as_deref().unwrap_or_default(),
                auth.user,
                auth_advice(
                    auth.reply
                        .as_ref()
                        .map(super::reply::Reply::summary)
                        .as_deref(),
                    auth.enhanced_code.as_deref()
                )
            ),
        });
    }
    parts.join(" ")
}

fn problem_words(problem: CertificateProblem) -> &'static str {
    match problem {
        CertificateProblem::Expired => "expired",
        CertificateProblem::NotYetValid => "not valid yet",
        CertificateProblem::WrongName => "issued for other names",
        CertificateProblem::Untrusted => "not trusted",
    }
}

/// What a rejected AUTH means: the known cause of its enhanced status code (RFC 3463), and what
/// to do about it.
fn auth_cause(enhanced: Option<&str>) -> (&'static str, &'static str) {
    match enhanced {
        Some("5.7.139") => (
            "Microsoft 365 refuses SMTP AUTH (basic authentication) for this mailbox or the whole \
             tenant",
            "Turn on \"Authenticated SMTP\" for the mailbox in the Microsoft 365 admin center \
             (or Set-CASMailbox -SmtpClientAuthenticationDisabled $false), check that security \
             defaults or a conditional access policy do not block it, or move the client to OAuth",
        ),
        Some("5.7.3") => (
            "the credentials were not accepted; Microsoft 365 also answers this when SMTP AUTH \
             is disabled for the tenant",
            "Check the user name (the full address) and the password; on Microsoft 365, check \
             that SMTP AUTH is enabled for the tenant and the mailbox",
        ),
        Some("5.7.8") => (
            "the user name or password is wrong",
            "Check the user name and password; a Google account with 2-step verification needs \
             an app password",
        ),
        Some("5.7.9") => (
            "the server wants a stronger mechanism or an app-specific password",
            "Create an app password for the account, or use the mechanism the provider asks for",
        ),
        _ => (
            "the user name or password is wrong, or the account may not send",
            "Check the user name and password; if they are right, check that the account may \
             send over SMTP AUTH",
        ),
    }
}

/// A rejected AUTH in one sentence: the cause first, then what the server said.
fn auth_advice(reply: Option<&str>, enhanced: Option<&str>) -> String {
    let (cause, fix) = auth_cause(enhanced);
    format!(
        "{cause}. {fix}. The server said: {}",
        reply.unwrap_or("nothing")
    )
}

/// The findings of a probe: one a problem (a code, and for certificates a problem), naming
/// every address it was seen at.
pub fn findings(probe: &PortProbe) -> Vec<Finding> {
    let mut grouped: BTreeMap<(Code, u8), (Finding, Vec<IpAddr>)> = BTreeMap::new();
    if let Some(lookup) = &probe.dns
        && probe.sessions.is_empty()
        && !lookup_failed(lookup)
    {
        let finding = Finding::new(
            Code::SmtpNoAddress,
            format!(
                "{} has no A or AAAA record (A: {}, AAAA: {}): no client can connect to it",
                probe.host, lookup.a, lookup.aaaa
            ),
        )
        .fix(format!(
            "Check the server name set in the mail client; publish an A record for {} if it is yours",
            probe.host
        ))
        .evidence("host", &probe.host);
        return vec![finding];
    }
    for session in &probe.sessions {
        for (key, finding) in session_findings(probe, session) {
            grouped
                .entry(key)
                .or_insert_with(|| (finding, Vec::new()))
                .1
                .push(session.ip);
        }
    }
    grouped
        .into_values()
        .map(|(finding, addresses)| {
            finding
                .evidence("host", &probe.host)
                .evidence("port", probe.port)
                .evidence("addresses", addresses)
        })
        .collect()
}

/// A finding and the key that groups it with the same problem at other addresses.
type Keyed = ((Code, u8), Finding);

fn session_findings(probe: &PortProbe, session: &Session) -> Vec<Keyed> {
    let port = probe.port;
    let at = format!("{}:{port}", probe.host);
    let fix_alternative = move || {
        format!(
            "Check the server name and port in the mail client, that the server listens on port \
             {port}, and that no firewall between you and the server blocks it; try {}",
            alternative(port)
        )
    };
    let mut out: Vec<Keyed> = Vec::new();
    if let Some(finding) = outcome_finding(probe, session, &at, &fix_alternative) {
        out.push(((finding.code, 0), finding));
    }
    out.extend(
        ehlo_findings(probe, session, &at)
            .into_iter()
            .map(|f| ((f.code, 0), f)),
    );
    if let Some(certificate) = session.tls.as_ref().and_then(|t| t.certificate.as_ref()) {
        out.extend(
            certificate_findings(&at, &probe.host, certificate)
                .into_iter()
                .map(|(index, f)| ((f.code, index), f)),
        );
    }
    out.extend(
        auth_finding(session, &at)
            .into_iter()
            .chain(banner_finding(probe, session, &at))
            .map(|f| ((f.code, 0), f)),
    );
    out
}

/// The finding of how the session ended, if it failed.
fn outcome_finding(
    probe: &PortProbe,
    session: &Session,
    at: &str,
    fix_alternative: &dyn Fn() -> String,
) -> Option<Finding> {
    let port = probe.port;
    let error = session.error.clone().unwrap_or_default();
    let mut found = None;
    let mut raise = |finding: Finding| found = Some(finding);
    match session.outcome {
        Outcome::Refused | Outcome::Rejected => {
            let how = if session.outcome == Outcome::Refused && error == "refused" {
                String::new()
            } else {
                format!(" ({error})")
            };
            raise(
                Finding::new(
                    Code::SmtpConnectRefused,
                    format!(
                        "{at} refused the connection{how}: the send failure mail clients report \
                         (Outlook 0x800CCC7E)"
                    ),
                )
                .fix(fix_alternative()),
            );
        }
        Outcome::NoGreeting if session.implicit_tls_detected => raise(
            Finding::new(
                Code::SmtpTimeout,
                format!(
                    "{at} sent no greeting in plain text: it expects implicit TLS (SSL/TLS) from \
                     the first byte"
                ),
            )
            .fix(format!(
                "Set the mail client to SSL/TLS (implicit TLS) for port {port}"
            )),
        ),
        Outcome::NoGreeting => raise(
            Finding::new(
                Code::SmtpTimeout,
                format!(
                    "{at} accepted the connection but sent no greeting ({error}): mail clients \
                     report a time-out (Outlook 0x80042109)"
                ),
            )
            .fix(format!(
                "Check the server's load and logs, and that the mail server (not another service) \
                 holds port {port}; meanwhile try {}",
                alternative(port)
            )),
        ),
        // No answer to a connection on port 25 is often the auditor's own network (outbound
        // port 25 is blocked on most client networks), and an address unreachable from here
        // says nothing of the server: both are unknown, not findings (see `unknown_reason`).
        Outcome::ConnectTimeout if probe.role == Role::Mx => {}
        Outcome::ConnectTimeout | Outcome::ProbeTimeout | Outcome::ReplyTimeout => raise(
            Finding::new(
                Code::SmtpTimeout,
                format!(
                    "{at} did not answer ({error}): the time-out mail clients report (Outlook \
                     0x80042109)"
                ),
            )
            .fix(fix_alternative()),
        ),
        Outcome::TlsFailed if session.tls_outdated => raise(Finding::new(
                Code::SmtpTlsOutdated,
                format!("{at} offers only TLS 1.0 or 1.1 (RFC 8996 deprecates both): {error}"),
            )
            .fix("Enable TLS 1.2 and 1.3 on the server (and disable 1.0 and 1.1)"),
        ),
        Outcome::TlsFailed => raise(Finding::new(
                Code::SmtpTlsFailed,
                format!("The TLS handshake with {at} failed: {error}"),
            )
            .fix(if session.plain_text {
                format!("Port {port} speaks plain SMTP: set the mail client to STARTTLS")
            } else {
                "Check the server's TLS configuration (certificate and key installed, TLS 1.2 or \
                 1.3 enabled)"
                    .to_owned()
            }),
        ),
        Outcome::ProtocolError | Outcome::Closed | Outcome::Oversized => raise(Finding::new(
                Code::SmtpProtocolError,
                format!("{at} broke the SMTP session: {error}"),
            )
            .fix("Check the server's logs; something that is not an SMTP server (or a broken proxy) answers on this port"),
        ),
        Outcome::Completed | Outcome::Unreachable => {}
    }
    found
}

/// What the EHLO before TLS shows: STARTTLS missing, AUTH offered in plain text.
fn ehlo_findings(probe: &PortProbe, session: &Session, at: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut raise = |finding: Finding| out.push(finding);
    if probe.tls == TlsMode::Starttls
        && let Some(ehlo) = &session.ehlo
    {
        if !ehlo.starttls {
            let severity = match probe.role {
                Role::Mx => Severity::Warning,
                Role::Submission => Severity::Error,
            };
            let consequence = match probe.role {
                Role::Mx => {
                    "mail to it crosses the internet in plain text, and receivers with MTA-STS or \
                     DANE policies will not deliver"
                }
                Role::Submission => "clients would send passwords and mail in plain text",
            };
            raise(Finding::new(
                    Code::SmtpNoStarttls,
                    format!("{at} does not offer STARTTLS: {consequence}"),
                )
                .severity(severity)
                .fix("Install a certificate and enable STARTTLS on the server (Postfix: smtpd_tls_security_level = may, or encrypt on submission)"),
            );
        }
        if !ehlo.auth.is_empty() {
            raise(
                Finding::new(
                    Code::SmtpAuthPlaintext,
                    format!(
                        "{at} offers AUTH {} before TLS, on a connection that is not encrypted: \
                         a client may send its password in plain text",
                        ehlo.auth.join(" ")
                    ),
                )
                .fix("Offer AUTH only after STARTTLS (Postfix: smtpd_tls_auth_only = yes)"),
            );
        }
    }
    if probe.tls == TlsMode::None
        && let Some(ehlo) = &session.ehlo
        && !ehlo.auth.is_empty()
    {
        raise(
            Finding::new(
                Code::SmtpAuthPlaintext,
                format!(
                    "{at} offers AUTH {} on a connection that is not encrypted",
                    ehlo.auth.join(" ")
                ),
            )
            .fix("Offer AUTH only over TLS"),
        );
    }
    out
}

/// A rejected AUTH.
fn auth_finding(session: &Session, at: &str) -> Option<Finding> {
    let auth = session.auth.as_ref()?;
    if auth.skipped.is_some() || auth.accepted {
        return None;
    }
    let reply = auth.reply.as_ref().map(super::reply::Reply::summary);
    let (cause, fix) = auth_cause(auth.enhanced_code.as_deref());
    Some(
        Finding::new(
            Code::SmtpAuthFailed,
            format!(
                "{at} rejected AUTH {} for {}: {cause} (the server said: {})",
                auth.mechanism.as_deref().unwrap_or_default(),
                auth.user,
                reply.as_deref().unwrap_or("nothing")
            ),
        )
        .fix(fix)
        .evidence("reply_code", auth.reply.as_ref().map(|r| r.code))
        .evidence("enhanced_code", &auth.enhanced_code),
    )
}

/// On port 25: the greeting names a host the address's PTR does not.
fn banner_finding(probe: &PortProbe, session: &Session, at: &str) -> Option<Finding> {
    if probe.role != Role::Mx {
        return None;
    }
    let banner = session.greeting_host.as_ref()?;
    let ptr = probe.ptr.iter().find(|p| p.ip == session.ip)?;
    if ptr.names.is_empty() || ptr.names.iter().any(|name| name == banner) {
        return None;
    }
    Some(
        Finding::new(
            Code::SmtpBannerMismatch,
            format!(
                "{at} ({}) greets as {banner}, but its PTR names {}: some receivers and spam \
                     filters count the difference against it",
                session.ip,
                ptr.names.join(", ")
            ),
        )
        .fix(format!(
            "Make the greeting name (Postfix: myhostname) and the PTR record of {} the same name",
            session.ip
        ))
        .evidence("greeting_host", banner)
        .evidence("ptr", &ptr.names),
    )
}

/// One finding per certificate problem, and one when it expires within [`EXPIRING_DAYS`].
fn certificate_findings(
    at: &str,
    host: &str,
    certificate: &CertificateFacts,
) -> Vec<(u8, Finding)> {
    let mut out = Vec::new();
    for (index, problem) in (1u8..).zip(&certificate.problems) {
        let (message, fix) = match problem {
            CertificateProblem::Expired => (
                format!(
                    "The certificate of {at} expired on {} ({} days ago): clients refuse the \
                     connection",
                    certificate.not_after, -certificate.days_left
                ),
                "Renew the certificate and install it on the server".to_owned(),
            ),
            CertificateProblem::NotYetValid => (
                format!(
                    "The certificate of {at} is not valid before {}: clients refuse it (or the \
                     server's clock is wrong)",
                    certificate.not_before
                ),
                "Install a certificate that is valid now, and check the server's clock".to_owned(),
            ),
            CertificateProblem::WrongName => (
                format!(
                    "The certificate of {at} is not valid for {host}: it names {}",
                    if certificate.names.is_empty() {
                        "no DNS name".to_owned()
                    } else {
                        certificate.names.join(", ")
                    }
                ),
                format!(
                    "Install a certificate whose subject alternative names include {host}, or \
                     set the client to a name the certificate holds"
                ),
            ),
            CertificateProblem::Untrusted => (
                format!(
                    "The certificate of {at} is not trusted: {}",
                    certificate
                        .trust_error
                        .as_deref()
                        .unwrap_or("unknown issuer")
                ),
                "Use a certificate from a public CA and send its intermediate certificates \
                 (Postfix: smtpd_tls_chain_files with the full chain); for a private CA, \
                 give its certificate with --ca-file"
                    .to_owned(),
            ),
        };
        out.push((
            index,
            Finding::new(Code::SmtpCertInvalid, message)
                .fix(fix)
                .evidence("problem", problem)
                .evidence("subject", &certificate.subject)
                .evidence("issuer", &certificate.issuer)
                .evidence("names", &certificate.names)
                .evidence("not_after", &certificate.not_after),
        ));
    }
    // An unreadable certificate has no dates (`not_after` empty): nothing of it expires.
    let expiring = (0..=EXPIRING_DAYS).contains(&certificate.days_left)
        && !certificate.not_after.is_empty()
        && !certificate.problems.contains(&CertificateProblem::Expired);
    if expiring {
        out.push((
            0,
            Finding::new(
                Code::SmtpCertExpiring,
                format!(
                    "The certificate of {at} expires in {} days ({})",
                    certificate.days_left, certificate.not_after
                ),
            )
            .fix("Renew the certificate now (and automate renewal)")
            .evidence("not_after", &certificate.not_after),
        ));
    }
    out
}

/// Why a session's result says nothing about the server, if it does not: an address
/// unreachable from here, or no answer on port 25 (outbound port 25 is blocked on most client
/// networks). Reported as unknown, never as a finding.
pub fn unknown_reason(probe: &PortProbe, session: &Session) -> Option<String> {
    match session.outcome {
        Outcome::Unreachable => Some(format!(
            "{} cannot be reached from the network this audit runs on ({})",
            session.ip,
            session.error.as_deref().unwrap_or_default()
        )),
        Outcome::ConnectTimeout if probe.role == Role::Mx => Some(format!(
            "no answer from {} on port 25 ({}): the network this audit runs on may block \
             outbound port 25, as most client networks do",
            session.ip,
            session.error.as_deref().unwrap_or_default()
        )),
        _ => None,
    }
}

/// The probe's verdict: what its findings say, but unknown rather than ok when part of the
/// server could not be seen (an address lookup failed, in whole or in part, or a session says
/// nothing of the server, [`unknown_reason`]): a problem seen is a problem, nothing seen is not
/// "ok".
pub(super) fn verdict(probe: &PortProbe, findings: &[Finding]) -> Verdict {
    let verdict = Verdict::from_findings(findings, true);
    let unseen = probe.dns.as_ref().is_some_and(lookup_failed)
        || probe
            .sessions
            .iter()
            .any(|session| unknown_reason(probe, session).is_some());
    if verdict == Verdict::Ok && unseen {
        Verdict::Unknown
    } else {
        verdict
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smtp::reply::{Extensions, Reply};
    use crate::smtp::{AddressPtr, AuthResult};

    fn session(outcome: Outcome, error: &str) -> Session {
        Session {
            ip: "127.0.0.1".parse().unwrap(),
            outcome,
            error: (!error.is_empty()).then(|| error.to_owned()),
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
        }
    }

    fn probe(port: u16, sessions: Vec<Session>) -> PortProbe {
        PortProbe {
            host: "mail.example.com".to_owned(),
            port,
            tls: TlsMode::default_for(port),
            role: Role::for_port(port),
            verdict: Verdict::Unknown,
            dns: None,
            dns_ms: 0.0,
            sessions,
            ptr: Vec::new(),
            addresses_not_probed: 0,
        }
    }

    fn codes(probe: &PortProbe) -> Vec<(Code, Severity)> {
        findings(probe)
            .iter()
            .map(|f| (f.code, f.severity))
            .collect()
    }

    #[test]
    fn refused_and_silent_ports_read_as_mail_clients_report_them() {
        let refused = probe(587, vec![session(Outcome::Refused, "connection refused")]);
        assert_eq!(
            codes(&refused),
            [(Code::SmtpConnectRefused, Severity::Error)]
        );
        let said = diagnosis(&refused, &refused.sessions[0]);
        assert!(
            said.contains("0x800CCC7E") && said.contains("465"),
            "{said}"
        );

        let silent = probe(
            587,
            vec![session(Outcome::ConnectTimeout, "nothing within 5 s")],
        );
        assert_eq!(codes(&silent), [(Code::SmtpTimeout, Severity::Error)]);
        let said = diagnosis(&silent, &silent.sessions[0]);
        assert!(
            said.contains("0x80042109") && said.contains("firewall"),
            "{said}"
        );

        let mut tls_port = session(Outcome::NoGreeting, "no complete reply to greeting in time");
        tls_port.implicit_tls_detected = true;
        let tls_port = probe(465, vec![tls_port]);
        let said = diagnosis(&tls_port, &tls_port.sessions[0]);
        assert!(said.contains("implicit TLS"), "{said}");
    }

    #[test]
    fn one_finding_names_every_address_with_the_problem() {
        let mut other = session(Outcome::Refused, "connection refused");
        other.ip = "::1".parse().unwrap();
        let refused = probe(
            587,
            vec![session(Outcome::Refused, "connection refused"), other],
        );
        let found = findings(&refused);
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].evidence["addresses"],
            serde_json::json!(["127.0.0.1", "::1"])
        );
    }

    fn ehlo(lines: &[&str]) -> Extensions {
        Extensions::parse(&Reply {
            code: 250,
            lines: lines.iter().map(|l| (*l).to_owned()).collect(),
        })
    }

    #[test]
    fn starttls_missing_is_an_error_on_submission_and_a_warning_on_mx() {
        let mut plain = session(Outcome::Completed, "");
        plain.ehlo = Some(ehlo(&["mx.example.com", "PIPELINING"]));
        let submission = probe(587, vec![plain.clone()]);
        assert_eq!(
            codes(&submission),
            [(Code::SmtpNoStarttls, Severity::Error)]
        );
        let mx = probe(25, vec![plain]);
        assert_eq!(codes(&mx), [(Code::SmtpNoStarttls, Severity::Warning)]);
    }

    #[test]
    fn auth_before_tls_is_critical_and_a_rejection_is_explained() {
        let mut open = session(Outcome::Completed, "");
        open.ehlo = Some(ehlo(&["mx.example.com", "STARTTLS", "AUTH PLAIN LOGIN"]));
        assert!(
            codes(&probe(587, vec![open])).contains(&(Code::SmtpAuthPlaintext, Severity::Critical))
        );

        let mut rejected = session(Outcome::Completed, "");
        rejected.auth = Some(AuthResult {
            user: "me@example.com".to_owned(),
            mechanism: Some("LOGIN".to_owned()),
            accepted: false,
            reply: Some(Reply {
                code: 535,
                lines: vec!["5.7.139 Authentication unsuccessful".to_owned()],
            }),
            enhanced_code: Some("5.7.139".to_owned()),
            skipped: None,
        });
        let probe = probe(587, vec![rejected]);
        let found = findings(&probe);
        let failed = found
            .iter()
            .find(|f| f.code == Code::SmtpAuthFailed)
            .unwrap();
        assert!(
            failed.message.contains("Microsoft 365"),
            "{}",
            failed.message
        );
        assert_eq!(failed.evidence["enhanced_code"], "5.7.139");
    }

    #[test]
    fn a_greeting_name_unlike_the_ptr_is_a_banner_mismatch_on_port_25_only() {
        let mut greeted = session(Outcome::Completed, "");
        greeted.greeting_host = Some("relay.internal".to_owned());
        let mut mx = probe(25, vec![greeted.clone()]);
        mx.ptr = vec![AddressPtr {
            ip: greeted.ip,
            answer: "records".to_owned(),
            names: vec!["mx.example.com".to_owned()],
        }];
        assert!(codes(&mx).contains(&(Code::SmtpBannerMismatch, Severity::Warning)));
        mx.ptr[0].names = vec!["relay.internal".to_owned()];
        assert!(
            !codes(&mx)
                .iter()
                .any(|(c, _)| *c == Code::SmtpBannerMismatch)
        );
    }
}
