//! Messages signed at test time with mail-auth: aligned and unaligned `d=`, relaxed and strict
//! alignment, a body changed after signing, `l=`, an expired signature, a message forwarded
//! through a list that seals an ARC set.

use mail_auth::arc::ArcSet;
use mail_auth::common::crypto::{RsaKey, Sha256};
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::DkimSigner;
use mail_auth::hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use mail_auth::{ArcOutput, AuthenticatedMessage, AuthenticationResults, MessageAuthenticator};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs1KeyDer};

use crate::{analyse, fixtures, server};

fn key() -> RsaKey<Sha256> {
    let pem = std::fs::read(fixtures().join("keys/test-rsa2048.pem")).expect("key");
    RsaKey::<Sha256>::from_key_der(PrivateKeyDer::Pkcs1(
        PrivatePkcs1KeyDer::from_pem_slice(&pem).expect("PEM"),
    ))
    .expect("RSA key")
}

const SIGNED: [&str; 6] = [
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "List-Unsubscribe",
];

/// A message from `from`, delivered by `ip` with MAIL FROM `mail_from` over ESMTPS.
fn message(from: &str, mail_from: &str, ip: &str, body: &str) -> String {
    format!(
        "Received: from mail.sender.test (mail.sender.test [{ip}]) by mx.receiver.test with ESMTPS id 1; Tue, 1 Jul 2025 10:00:00 +0000\r\n\
         Return-Path: <{mail_from}>\r\n\
         From: Sender <{from}>\r\n\
         To: user@receiver.test\r\n\
         Subject: Test\r\n\
         Date: Tue, 1 Jul 2025 10:00:00 +0000\r\n\
         Message-ID: <1@sender.test>\r\n\
         List-Unsubscribe: <https://sender.test/u?id=1>\r\n\
         List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n\
         \r\n\
         {body}\r\n"
    )
}

/// Signs `message` with `d=domain; s=sel`, From oversigned and both unsubscribe fields signed.
fn sign(
    message: &str,
    domain: &str,
    configure: impl Fn(
        DkimSigner<RsaKey<Sha256>, mail_auth::dkim::Done>,
    ) -> DkimSigner<RsaKey<Sha256>, mail_auth::dkim::Done>,
) -> String {
    let mut headers: Vec<&str> = SIGNED.to_vec();
    headers.extend(["List-Unsubscribe-Post", "From"]);
    let signer = configure(
        DkimSigner::from_key(key())
            .domain(domain)
            .selector("sel")
            .headers(headers),
    );
    let signature = signer.sign(message.as_bytes()).expect("sign");
    format!("{}{message}", signature.to_header())
}

#[test]
fn aligned_signature_spf_and_one_click_pass_everything() {
    let raw = sign(
        &message("news@msg.test", "bounces@msg.test", "192.0.2.10", "Hello"),
        "msg.test",
        |s| s,
    );
    let (report, output) = analyse(raw.as_bytes(), &[]);
    let sig = report.signature("msg.test");
    assert_eq!(
        (sig.result.as_str(), sig.aligned, sig.key_bits),
        ("pass", true, Some(2048))
    );
    assert!(sig.from_oversigned);
    assert_eq!(report.spf.result.as_deref(), Some("pass"));
    assert_eq!(report.spf.ip.as_deref(), Some("192.0.2.10"));
    assert!(report.spf.aligned);
    assert_eq!(report.dmarc.result, "pass");
    assert!(report.dmarc.spf_aligned && report.dmarc.dkim_aligned);
    for text in [
        "SPF and DKIM both pass",
        "one-click unsubscribe",
        "From domain aligned",
        "TLS on every hop",
    ] {
        assert_eq!(report.requirement(text).status, "met", "{text}");
    }
    assert!(report.hops[0].tls == Some(true));
    assert!(
        report.findings.iter().all(|f| f.severity == "info"),
        "{:?}",
        report.findings
    );
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(report.score.score, 100);
}

#[test]
fn a_service_signing_with_its_own_domain_is_not_aligned_and_dmarc_rejects() {
    let raw = sign(
        &message("news@msg.test", "bounce@esp.test", "192.0.2.20", "Hello"),
        "esp.test",
        |s| s,
    );
    let (report, output) = analyse(raw.as_bytes(), &[]);
    let sig = report.signature("esp.test");
    assert_eq!((sig.result.as_str(), sig.aligned), ("pass", false));
    assert_eq!(report.spf.result.as_deref(), Some("pass"));
    assert_eq!(report.spf.domain.as_deref(), Some("esp.test"));
    assert!(!report.dmarc.spf_aligned && !report.dmarc.dkim_aligned);
    assert_eq!(
        (
            report.dmarc.result.as_str(),
            report.dmarc.disposition.as_str()
        ),
        ("fail", "reject")
    );
    assert_eq!(report.finding("message.dmarc-fail").severity, "critical");
    assert!(report.codes().contains(&"message.dkim-unaligned"));
    // One-click is there but not under an aligned signature (RFC 8058 §4).
    assert!(report.codes().contains(&"message.unsubscribe-unsigned"));
    assert_eq!(report.requirement("one-click").status, "not-met");
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn relaxed_alignment_accepts_a_subdomain_strict_does_not() {
    let raw = sign(
        &message("news@msg.test", "bounces@msg.test", "192.0.2.99", "Hi"),
        "mail.msg.test",
        |s| s,
    );
    let (report, _) = analyse(raw.as_bytes(), &[]);
    assert!(report.signature("mail.msg.test").aligned);
    assert_eq!(report.dmarc.result, "pass");
    // SPF fails for 192.0.2.99, DKIM carries DMARC.
    assert_eq!(report.spf.result.as_deref(), Some("fail"));
    assert!(report.codes().contains(&"message.spf-fail"));

    let raw = sign(
        &message("news@strict.test", "x@strict.test", "192.0.2.99", "Hi"),
        "mail.strict.test",
        |s| s,
    );
    let (report, _) = analyse(raw.as_bytes(), &[]);
    assert_eq!(report.dmarc.adkim.as_deref(), Some("strict"));
    let sig = report.signature("mail.strict.test");
    assert_eq!((sig.result.as_str(), sig.aligned), ("pass", false));
    assert_eq!(
        (
            report.dmarc.result.as_str(),
            report.dmarc.disposition.as_str()
        ),
        ("fail", "quarantine")
    );
}

#[test]
fn body_changed_after_signing_fails_and_the_receivers_pass_is_explained() {
    let signed = sign(
        &message("news@msg.test", "bounces@msg.test", "192.0.2.10", "Hello"),
        "msg.test",
        |s| s,
    );
    // The receiver verified it as it arrived; a gateway appended a footer since.
    let raw = format!(
        "Authentication-Results: mx.receiver.test; dkim=pass header.d=msg.test; spf=pass smtp.mailfrom=bounces@msg.test; dmarc=pass header.from=msg.test\r\n{signed}-- \r\nScanned by a gateway\r\n"
    );
    let (report, _) = analyse(raw.as_bytes(), &[]);
    let sig = report.signature("msg.test");
    assert_ne!(sig.result, "pass");
    assert!(
        sig.reason
            .as_deref()
            .unwrap_or_default()
            .contains("changed after signing")
    );
    let dkim = report
        .comparison
        .iter()
        .find(|c| c.method == "dkim")
        .expect("dkim compared");
    assert_eq!((dkim.receiver_result.as_str(), dkim.agree), ("pass", false));
    assert!(
        dkim.explanation
            .as_deref()
            .unwrap_or_default()
            .contains("footer")
    );
    let spf = report
        .comparison
        .iter()
        .find(|c| c.method == "spf")
        .expect("spf compared");
    assert!(spf.agree, "{spf:?}");
    // SPF still passes and is aligned: DMARC passes.
    assert_eq!(report.dmarc.result, "pass");
    assert!(report.codes().contains(&"message.results-differ"));
}

#[test]
fn body_length_tag_is_a_warning_and_appended_text_still_passes() {
    let signed = sign(
        &message("news@msg.test", "bounces@msg.test", "192.0.2.10", "Hello"),
        "msg.test",
        |s| s.body_length(true),
    );
    let raw = format!("{signed}Appended by anyone\r\n");
    let (report, _) = analyse(raw.as_bytes(), &[]);
    let sig = report.signature("msg.test");
    assert_eq!(sig.result, "pass");
    assert!(sig.body_length.is_some());
    assert_eq!(report.finding("message.dkim-length").severity, "warning");
}

#[test]
fn an_expired_signature_is_reported_with_its_earlier_result() {
    let raw = sign(
        &message("news@msg.test", "bounces@msg.test", "192.0.2.10", "Hello"),
        "msg.test",
        |s| s.expiration(1),
    );
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let (report, _) = analyse(raw.as_bytes(), &[]);
    let sig = report.signature("msg.test");
    assert!(sig.expired);
    assert_eq!(sig.result, "neutral");
    assert_eq!(sig.result_ignoring_expiry.as_deref(), Some("pass"));
    assert!(
        report
            .finding("message.dkim-expired")
            .message
            .contains("before that it was: pass")
    );
}

fn authenticator() -> MessageAuthenticator {
    let addr = server().addr;
    let mut name_server = NameServerConfig::udp_and_tcp(addr.ip());
    for connection in &mut name_server.connections {
        connection.port = addr.port();
    }
    MessageAuthenticator::new(
        ResolverConfig::from_name_servers(vec![name_server]),
        ResolverOpts::default(),
    )
    .expect("authenticator")
}

/// The list verifies the author's signature as it arrives (pass), changes the Subject and adds
/// a footer, seals an ARC set recording that pass, and signs with its own domain.
#[tokio::test(flavor = "multi_thread")]
async fn a_list_forwarded_message_fails_dmarc_but_its_arc_chain_passes() {
    let original = sign(
        &message(
            "author@msg.test",
            "bounces@msg.test",
            "192.0.2.10",
            "Hello list",
        ),
        "msg.test",
        |s| s,
    );
    let resolver = authenticator();
    let arrived = AuthenticatedMessage::parse(original.as_bytes()).expect("parse");
    let dkim = resolver.verify_dkim(&arrived).await;
    assert_eq!(dkim[0].result(), &mail_auth::DkimResult::Pass);
    let modified = original
        .replace("Subject: Test", "Subject: [list] Test")
        .replace(
            "Return-Path: <bounces@msg.test>",
            "Return-Path: <list-bounces@lists.test>",
        )
        .replace("[192.0.2.10]", "[192.0.2.30]")
        + "--\r\nYou are on the list\r\n";
    let modified_parsed = AuthenticatedMessage::parse(modified.as_bytes()).expect("parse");
    let results = AuthenticationResults::new("lists.test").with_dkim_results(&dkim, "msg.test");
    let arc_output = ArcOutput::default();
    let set: ArcSet<'_> = mail_auth::arc::ArcSealer::from_key(key())
        .domain("lists.test")
        .selector("arc")
        .headers(["From", "To", "Subject", "DKIM-Signature"])
        .seal(&modified_parsed, &results, &arc_output)
        .expect("seal");
    let sealed = format!("{}{modified}", set.to_header());
    let list_signed = sign(&sealed, "lists.test", |s| s);

    let (report, _) = tokio::task::spawn_blocking(move || analyse(list_signed.as_bytes(), &[]))
        .await
        .expect("analyse");
    assert_eq!(report.arc.result, "pass", "{:?}", report.arc);
    let instance = &report.arc.instances[0];
    assert_eq!(
        (
            instance.instance,
            instance.domain.as_str(),
            instance.selector.as_str()
        ),
        (1, "lists.test", "arc")
    );
    assert_ne!(report.signature("msg.test").result, "pass");
    assert_eq!(report.signature("lists.test").result, "pass");
    assert_eq!(report.spf.domain.as_deref(), Some("lists.test"));
    assert_eq!(report.spf.result.as_deref(), Some("pass"));
    assert_eq!(
        (
            report.dmarc.result.as_str(),
            report.dmarc.disposition.as_str()
        ),
        ("fail", "reject")
    );
}
