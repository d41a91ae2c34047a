//! The Postfix harness itself, checked with a client of the tests' own (no mailaudit): what
//! each service offers, before and after TLS, and that AUTH works with the right password only.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio_rustls::rustls;

use crate::client::{self, Reply, Session};
use crate::postfix::{self, Postfix};

/// The last lines Postfix logged, for failure messages.
fn log_tail(postfix: &Postfix) -> String {
    let log = postfix.log();
    let lines: Vec<&str> = log.lines().collect();
    let start = lines.len().saturating_sub(40);
    format!(
        "--- maillog (last lines) ---\n{}",
        lines[start..].join("\n")
    )
}

fn assert_greeting(reply: &Reply, service: &str) {
    assert_eq!(reply.code, 220, "{service} greeting: {reply:?}");
    assert!(
        reply.lines[0].starts_with(postfix::HOST),
        "{service} greeting names {}: {reply:?}",
        postfix::HOST
    );
}

async fn ehlo<S>(session: &mut Session<S>) -> Reply
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let reply = session.command("EHLO client.postfix.test").await;
    assert_eq!(reply.code, 250, "EHLO: {reply:?}");
    reply
}

/// `AUTH PLAIN` with an initial response.
fn auth_plain(user: &str, password: &str) -> String {
    format!(
        "AUTH PLAIN {}",
        BASE64.encode(format!("\0{user}\0{password}"))
    )
}

/// Connects to the submission port and upgrades with STARTTLS, trusting only the test CA.
async fn submission_tls(postfix: &Postfix) -> Session<tokio_rustls::client::TlsStream<TcpStream>> {
    let mut session = client::connect(postfix.submission_addr()).await;
    assert_greeting(&session.reply().await, "submission");
    ehlo(&mut session).await;
    let mut tls = session
        .starttls(postfix.tls_client_config(), postfix.host)
        .await
        .unwrap_or_else(|e| panic!("STARTTLS handshake: {e}\n{}", log_tail(postfix)));
    ehlo(&mut tls).await;
    tls
}

#[tokio::test]
async fn every_service_greets_with_220_and_the_host_name() {
    let postfix = Postfix::shared();
    for (service, addr) in [
        ("smtp", postfix.smtp_addr()),
        ("submission", postfix.submission_addr()),
    ] {
        let mut session = client::connect(addr).await;
        assert_greeting(&session.reply().await, service);
        assert_eq!(session.command("QUIT").await.code, 221);
    }
    let mut session = client::connect_tls(
        postfix.smtps_addr(),
        postfix.tls_client_config(),
        postfix.host,
    )
    .await
    .unwrap_or_else(|e| panic!("smtps handshake: {e}\n{}", log_tail(postfix)));
    assert_greeting(&session.reply().await, "smtps");
    assert_eq!(session.command("QUIT").await.code, 221);
}

#[tokio::test]
async fn port_25_style_offers_starttls_and_never_auth() {
    let postfix = Postfix::shared();
    let mut session = client::connect(postfix.smtp_addr()).await;
    assert_greeting(&session.reply().await, "smtp");
    let before = ehlo(&mut session).await;
    assert!(
        before.ehlo_keywords().contains(&"STARTTLS".to_owned()),
        "{before:?}"
    );
    assert_eq!(before.ehlo_line("AUTH"), None, "{before:?}");
    // TLS is optional here: mail may start in clear (and is refused for a foreign domain, as
    // an MX refuses relaying).
    assert_eq!(
        session
            .command("MAIL FROM:<probe@client.postfix.test>")
            .await
            .code,
        250
    );
    let rcpt = session.command("RCPT TO:<someone@example.com>").await;
    assert_eq!(rcpt.code, 554, "relaying refused: {rcpt:?}");
    assert!(rcpt.lines[0].contains("Relay access denied"), "{rcpt:?}");
    assert_eq!(session.command("RSET").await.code, 250);

    let mut tls = session
        .starttls(postfix.tls_client_config(), postfix.host)
        .await
        .unwrap_or_else(|e| panic!("STARTTLS handshake: {e}\n{}", log_tail(postfix)));
    let after = ehlo(&mut tls).await;
    assert_eq!(after.ehlo_line("AUTH"), None, "{after:?}");
    assert!(
        !after.ehlo_keywords().contains(&"STARTTLS".to_owned()),
        "{after:?}"
    );
}

#[tokio::test]
async fn submission_requires_starttls_and_offers_auth_only_after_it() {
    let postfix = Postfix::shared();
    let mut session = client::connect(postfix.submission_addr()).await;
    assert_greeting(&session.reply().await, "submission");
    let before = ehlo(&mut session).await;
    assert!(
        before.ehlo_keywords().contains(&"STARTTLS".to_owned()),
        "{before:?}"
    );
    assert_eq!(
        before.ehlo_line("AUTH"),
        None,
        "AUTH before TLS: {before:?}"
    );
    let mail = session.command("MAIL FROM:<probe@postfix.test>").await;
    assert_eq!(mail.code, 530, "mail before STARTTLS: {mail:?}");
    let auth = session
        .command(&auth_plain(postfix.user, postfix.password))
        .await;
    assert_ne!(auth.code, 235, "AUTH in clear: {auth:?}");

    let mut tls = session
        .starttls(postfix.tls_client_config(), postfix.host)
        .await
        .unwrap_or_else(|e| panic!("STARTTLS handshake: {e}\n{}", log_tail(postfix)));
    let after = ehlo(&mut tls).await;
    let auth = after
        .ehlo_line("AUTH")
        .unwrap_or_else(|| panic!("no AUTH after TLS: {after:?}\n{}", log_tail(postfix)));
    assert!(
        auth.contains(&"PLAIN".to_owned()) && auth.contains(&"LOGIN".to_owned()),
        "{auth:?}"
    );
    assert!(
        !after.ehlo_keywords().contains(&"STARTTLS".to_owned()),
        "{after:?}"
    );
}

#[tokio::test]
async fn auth_takes_the_right_password_only() {
    let postfix = Postfix::shared();

    let mut tls = submission_tls(postfix).await;
    let reply = tls
        .command(&auth_plain(postfix.user, postfix.password))
        .await;
    assert_eq!(reply.code, 235, "{reply:?}\n{}", log_tail(postfix));
    // Authenticated, relaying is allowed, but nothing is ever delivered: every transport is
    // `error`, so the recipient is refused at once and nothing is queued.
    assert_eq!(
        tls.command("MAIL FROM:<mailaudit@postfix.test>").await.code,
        250
    );
    let rcpt = tls.command("RCPT TO:<someone@example.com>").await;
    assert_eq!(rcpt.code, 550, "{rcpt:?}");
    assert!(rcpt.lines[0].contains("no delivery"), "{rcpt:?}");
    assert_eq!(tls.command("RSET").await.code, 250);

    let mut tls = submission_tls(postfix).await;
    let reply = tls
        .command(&auth_plain(postfix.user, "wrong-password"))
        .await;
    assert_eq!(reply.code, 535, "{reply:?}");

    // The user's full name in its realm logs in too, and so does AUTH LOGIN.
    let mut tls = submission_tls(postfix).await;
    let full = format!("{}@{}", postfix.user, postfix::SASL_DOMAIN);
    let reply = tls.command(&auth_plain(&full, postfix.password)).await;
    assert_eq!(reply.code, 235, "{reply:?}\n{}", log_tail(postfix));

    let mut tls = submission_tls(postfix).await;
    assert_eq!(tls.command("AUTH LOGIN").await.code, 334);
    assert_eq!(tls.command(&BASE64.encode(postfix.user)).await.code, 334);
    let reply = tls.command(&BASE64.encode(postfix.password)).await;
    assert_eq!(reply.code, 235, "{reply:?}\n{}", log_tail(postfix));
}

#[tokio::test]
async fn smtps_speaks_tls_at_once() {
    let postfix = Postfix::shared();

    // In clear, nothing comes: the server waits for the client's TLS hello.
    let mut plain = TcpStream::connect(postfix.smtps_addr())
        .await
        .expect("connect to smtps");
    let mut byte = [0u8; 1];
    let silent = tokio::time::timeout(Duration::from_millis(700), plain.read(&mut byte)).await;
    assert!(silent.is_err(), "smtps sent something in clear: {silent:?}");
    drop(plain);

    let mut session = client::connect_tls(
        postfix.smtps_addr(),
        postfix.tls_client_config(),
        postfix.host,
    )
    .await
    .unwrap_or_else(|e| panic!("smtps handshake: {e}\n{}", log_tail(postfix)));
    assert_greeting(&session.reply().await, "smtps");
    let reply = ehlo(&mut session).await;
    let auth = reply.ehlo_line("AUTH").expect("AUTH on smtps");
    assert!(
        auth.contains(&"PLAIN".to_owned()) && auth.contains(&"LOGIN".to_owned()),
        "{auth:?}"
    );
    assert!(
        !reply.ehlo_keywords().contains(&"STARTTLS".to_owned()),
        "{reply:?}"
    );
    let reply = session
        .command(&auth_plain(postfix.user, postfix.password))
        .await;
    assert_eq!(reply.code, 235, "{reply:?}\n{}", log_tail(postfix));
}

#[tokio::test]
async fn the_certificate_is_for_the_host_and_127_0_0_1_and_only_the_test_ca_vouches_for_it() {
    let postfix = Postfix::shared();
    let config = postfix.tls_client_config();

    let session = client::connect_tls(postfix.smtps_addr(), Arc::clone(&config), "127.0.0.1").await;
    assert!(session.is_ok(), "by IP address: {:?}", session.err());

    let other = client::connect_tls(postfix.smtps_addr(), config, "other.postfix.test").await;
    let error = other
        .err()
        .expect("a name the certificate does not hold is refused");
    assert!(
        error.to_string().contains("not valid for name"),
        "the name is the reason: {error}"
    );

    let no_roots = Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth(),
    );
    let untrusted = client::connect_tls(postfix.smtps_addr(), no_roots, postfix.host).await;
    let error = untrusted
        .err()
        .expect("a client without the test CA refuses it");
    assert!(
        error.to_string().contains("UnknownIssuer"),
        "the issuer is the reason: {error}"
    );
}

#[test]
fn an_instance_of_ones_own_is_stopped_and_removed_when_dropped() {
    let postfix = Postfix::start();
    let addr = postfix.submission_addr();
    let dir = postfix.dir.clone();
    assert!(std::net::TcpStream::connect(addr).is_ok(), "running");
    assert!(dir.join("etc/main.cf").exists());
    drop(postfix);
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "{addr} still accepts after the drop"
    );
    if std::env::var_os(postfix::KEEP_ENV).is_none_or(|value| value.is_empty()) {
        assert!(!dir.exists(), "{} left behind", dir.display());
    }
}

#[tokio::test]
async fn an_instance_on_the_standard_ports_has_a_loopback_address_of_its_own() {
    let postfix = Postfix::start_on_standard_ports();
    assert!(
        postfix.ip.is_loopback() && postfix.ip != postfix::IP,
        "{}",
        postfix.ip
    );
    assert_eq!(
        (
            postfix.smtp_port,
            postfix.submission_port,
            postfix.smtps_port
        ),
        (25, 587, 465)
    );
    for (service, addr) in [
        ("smtp", postfix.smtp_addr()),
        ("submission", postfix.submission_addr()),
    ] {
        let mut session = client::connect(addr).await;
        assert_greeting(&session.reply().await, service);
    }
    // The certificate names this address too.
    let ip = postfix.ip.to_string();
    let mut session = client::connect_tls(postfix.smtps_addr(), postfix.tls_client_config(), &ip)
        .await
        .unwrap_or_else(|e| panic!("smtps handshake with {ip}: {e}\n{}", log_tail(&postfix)));
    assert_greeting(&session.reply().await, "smtps");
}
