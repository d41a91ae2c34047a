//! `mailaudit audit` through unbound: what a user reads of DNSSEC and DANE in the JSON report.

use std::net::Ipv4Addr;

use aws_lc_rs::digest;

use crate::support::dnssec::{Signing, World, Zone};
use crate::support::smtp_server::{Ca, Leaf, Server, Smtp};
use crate::support::{self, Report};

/// `mailaudit audit DOMAIN --format json EXTRA...` through `world`'s unbound.
fn audit(world: &World, domain: &str, extra: &[&str]) -> Report {
    let mut args = vec!["audit", domain, "--format", "json", "--fail-on", "never"];
    args.extend_from_slice(extra);
    let output = support::command_with_resolvers(&args, &[world.resolver_arg()], "3")
        .output()
        .expect("run mailaudit");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{domain}: {e}\n{}", String::from_utf8_lossy(&output.stdout)))
}

fn codes_of(report: &Report, area: &str) -> Vec<String> {
    report
        .codes()
        .into_iter()
        .filter(|c| c.starts_with(area))
        .collect()
}

/// The records every test domain has: a mail host (at `ip`), SPF and DMARC.
fn mail_zone(ip: Ipv4Addr, extra: &str) -> String {
    format!(
        "@ 300 IN MX 10 mx\n\
         mx 300 IN A {ip}\n\
         @ 300 IN TXT \"v=spf1 mx -all\"\n\
         _dmarc 300 IN TXT \"v=DMARC1; p=reject\"\n\
         {extra}\n"
    )
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut text, byte| {
        let _ = write!(text, "{byte:02x}");
        text
    })
}

/// The SHA-256 of a certificate's `SubjectPublicKeyInfo`: the data of a `3 1 1` TLSA record.
fn spki_sha256(der: &[u8]) -> String {
    let (_, certificate) = x509_parser::parse_x509_certificate(der).expect("certificate");
    hex(digest::digest(&digest::SHA256, certificate.public_key().raw).as_ref())
}

#[test]
fn a_validating_resolver_tells_signed_unsigned_and_bogus_zones_apart() {
    let test = "a_validating_resolver_tells_signed_unsigned_and_bogus_zones_apart";
    if !World::available(test) {
        return;
    }
    let ip = Ipv4Addr::new(192, 0, 2, 25);
    let world = World::start(
        &[
            Zone::new("signed.test", Signing::Signed, &mail_zone(ip, "")),
            Zone::new("unsigned.test", Signing::Unsigned, &mail_zone(ip, "")),
            Zone::new("bogus.test", Signing::Bogus, &mail_zone(ip, "")),
        ],
        true,
    );
    let resolver = world.resolver_arg();

    let signed = audit(&world, "signed.test", &[]);
    let dnssec = signed.dnssec.as_ref().expect("a dnssec section");
    assert_eq!(dnssec.status, "signed", "{dnssec:?}\n{}", world.log());
    assert!(dnssec.authenticated);
    assert_eq!(dnssec.ds, "records");
    assert_eq!(dnssec.dnskey, "records");
    assert_eq!(dnssec.resolver.as_deref(), Some(resolver.as_str()));
    assert_eq!(dnssec.resolver_validates, Some(true));
    assert!(
        dnssec
            .detail
            .contains(&format!("validated by the resolver {resolver}"))
    );
    assert!(
        codes_of(&signed, "dnssec.").is_empty(),
        "{:?}",
        signed.codes()
    );
    assert!(!signed.incomplete, "{:?}", signed.unknown);

    let unsigned = audit(&world, "unsigned.test", &[]);
    assert_eq!(codes_of(&unsigned, "dnssec."), ["dnssec.unsigned"]);
    let finding = &unsigned.with_code("dnssec.unsigned")[0];
    assert_eq!(finding.severity, "info");
    assert_eq!(unsigned.dnssec.as_ref().unwrap().status, "unsigned");
    assert_eq!(unsigned.dnssec.as_ref().unwrap().ds, "nodata");

    let bogus = audit(&world, "bogus.test", &[]);
    let dnssec = bogus.dnssec.as_ref().expect("a dnssec section");
    assert_eq!(dnssec.status, "bogus", "{dnssec:?}");
    assert_eq!(dnssec.ds, "records", "the parent vouches for a key");
    let finding = &bogus.with_code("dnssec.bogus");
    assert_eq!(finding.len(), 1, "{:?}", bogus.codes());
    assert_eq!(finding[0].severity, "critical");
    assert!(
        finding[0].message.contains("SERVFAIL"),
        "{}",
        finding[0].message
    );
    assert!(
        bogus.grade != "A" && bogus.score <= 65,
        "a critical finding caps the score"
    );
}

#[test]
fn a_resolver_that_does_not_validate_leaves_signed_zones_unknown_not_unsigned() {
    let test = "a_resolver_that_does_not_validate_leaves_signed_zones_unknown_not_unsigned";
    if !World::available(test) {
        return;
    }
    let ip = Ipv4Addr::new(192, 0, 2, 25);
    let tlsa = format!("_25._tcp.mx 300 IN TLSA 3 1 1 {}", "ab".repeat(32));
    let world = World::start(
        &[
            Zone::new("signed.test", Signing::Signed, &mail_zone(ip, &tlsa)),
            Zone::new("unsigned.test", Signing::Unsigned, &mail_zone(ip, "")),
        ],
        false,
    );
    let resolver = world.resolver_arg();
    let signed = audit(&world, "signed.test", &[]);
    let dnssec = signed.dnssec.as_ref().expect("a dnssec section");
    assert_eq!(dnssec.status, "unknown", "{dnssec:?}");
    assert_eq!(dnssec.resolver_validates, Some(false));
    assert!(!signed.has("dnssec.unsigned"), "{:?}", signed.codes());
    assert!(!signed.has("dane.unsigned"), "{:?}", signed.codes());
    assert!(signed.incomplete);
    let part = signed
        .unknown
        .iter()
        .find(|u| u.area == "dnssec")
        .unwrap_or_else(|| panic!("a dnssec unknown part: {:?}", signed.unknown));
    assert!(
        part.reason
            .contains(&format!("the resolver {resolver} does not validate")),
        "{}",
        part.reason
    );
    let dane = signed
        .unknown
        .iter()
        .find(|u| u.area == "dane")
        .unwrap_or_else(|| panic!("a dane unknown part: {:?}", signed.unknown));
    assert_eq!(dane.subject.as_deref(), Some("mx.signed.test"));
    let host = &signed.dane.as_ref().unwrap().hosts[0];
    assert_eq!(host.status, "unknown");
    assert_eq!(host.records[0].record, format!("3 1 1 {}", "ab".repeat(32)));

    // No DS at the parent is unsigned whoever asks.
    let unsigned = audit(&world, "unsigned.test", &[]);
    assert!(unsigned.has("dnssec.unsigned"), "{:?}", unsigned.codes());
}

#[test]
fn tlsa_records_are_read_only_from_a_signed_zone_and_only_dane_usages_count() {
    let test = "tlsa_records_are_read_only_from_a_signed_zone_and_only_dane_usages_count";
    if !World::available(test) {
        return;
    }
    let ip = Ipv4Addr::new(192, 0, 2, 25);
    let digest = "cd".repeat(32);
    let world = World::start(
        &[
            Zone::new(
                "pkix.test",
                Signing::Signed,
                &mail_zone(ip, &format!("_25._tcp.mx 300 IN TLSA 1 1 1 {digest}")),
            ),
            Zone::new(
                "plain.test",
                Signing::Unsigned,
                &mail_zone(ip, &format!("_25._tcp.mx 300 IN TLSA 3 1 1 {digest}")),
            ),
        ],
        true,
    );
    let pkix = audit(&world, "pkix.test", &[]);
    assert_eq!(
        codes_of(&pkix, "dane."),
        ["dane.invalid"],
        "{:?}",
        pkix.codes()
    );
    let finding = &pkix.with_code("dane.invalid")[0];
    assert_eq!(finding.severity, "error");
    assert!(finding.message.contains("PKIX-EE"), "{}", finding.message);
    let host = &pkix.dane.as_ref().unwrap().hosts[0];
    assert_eq!(host.name, "_25._tcp.mx.pkix.test");
    assert!(host.authenticated);
    assert_eq!(host.status, "unusable");
    assert!(!host.records[0].usable);

    let plain = audit(&world, "plain.test", &[]);
    assert_eq!(
        codes_of(&plain, "dane."),
        ["dane.unsigned"],
        "{:?}",
        plain.codes()
    );
    assert_eq!(plain.with_code("dane.unsigned")[0].severity, "warning");
    assert_eq!(plain.dane.as_ref().unwrap().hosts[0].status, "unsigned");
}

/// A loopback address of its own for a scripted MX on port 25, or why there is none (port 25
/// needs root).
fn port_25(script: &crate::support::smtp_server::Script) -> Result<(Ipv4Addr, Server), String> {
    let mut last = String::new();
    for host in 1..40 {
        let ip = Ipv4Addr::new(127, 53, 0, host);
        match Server::start_at(ip, &[25], script.clone()) {
            Ok(server) => return Ok((ip, server)),
            Err(e) => last = e.to_string(),
        }
    }
    Err(last)
}

#[test]
fn with_smtp_the_presented_certificate_is_matched_against_the_tlsa_records() {
    let test = "with_smtp_the_presented_certificate_is_matched_against_the_tlsa_records";
    if !World::available(test) {
        return;
    }
    let ca = Ca::new("DANE test CA");
    let identity = ca.issue(&Leaf::valid_for(&["mx.match.test", "mx.mismatch.test"]));
    let script = Smtp::new("mx.match.test")
        .starttls(identity.server_config())
        .script();
    let (ip, _server) = match port_25(&script) {
        Ok(server) => server,
        Err(why) => {
            eprintln!("SKIPPED {test}: port 25 of 127.53.0.x: {why}");
            return;
        }
    };
    let presented = spki_sha256(identity.chain[0].as_ref());
    let other = "ef".repeat(32);
    let world = World::start(
        &[
            Zone::new(
                "match.test",
                Signing::Signed,
                &mail_zone(
                    ip,
                    &format!(
                        "_25._tcp.mx 300 IN TLSA 3 1 1 {other}\n\
                         _25._tcp.mx 300 IN TLSA 3 1 1 {presented}"
                    ),
                ),
            ),
            Zone::new(
                "mismatch.test",
                Signing::Signed,
                &mail_zone(ip, &format!("_25._tcp.mx 300 IN TLSA 3 1 1 {other}")),
            ),
        ],
        true,
    );

    let matching = audit(&world, "match.test", &["--smtp"]);
    assert!(
        codes_of(&matching, "dane.").is_empty(),
        "{:?}",
        matching.codes()
    );
    let host = &matching.dane.as_ref().unwrap().hosts[0];
    assert_eq!(host.status, "usable");
    assert_eq!(host.matched, Some(true), "{host:?}");

    let mismatch = audit(&world, "mismatch.test", &["--smtp"]);
    let findings = mismatch.with_code("dane.mismatch");
    assert_eq!(findings.len(), 1, "{:?}", mismatch.codes());
    assert_eq!(findings[0].severity, "critical");
    assert_eq!(findings[0].evidence["ip"], ip.to_string());
    let fix = findings[0].fix.as_deref().unwrap_or_default();
    assert!(
        fix.contains(&format!(
            "_25._tcp.mx.mismatch.test. IN TLSA 3 1 1 {presented}"
        )),
        "the fix names the record of the key presented: {fix}"
    );
    assert_eq!(
        mismatch.dane.as_ref().unwrap().hosts[0].matched,
        Some(false)
    );

    // Without --smtp nothing is matched, so nothing mismatches.
    let unprobed = audit(&world, "mismatch.test", &[]);
    assert!(!unprobed.has("dane.mismatch"));
    assert_eq!(unprobed.dane.as_ref().unwrap().hosts[0].matched, None);
}

/// An MX host whose zone fails (SERVFAIL for every name in it, the fixture server's
/// `servfail.test`): its TLSA lookup is `dane.lookup-failed` and the host's DANE status unknown,
/// never "no TLSA records".
#[test]
fn a_failed_tlsa_lookup_is_unknown_never_absent() {
    let report = support::audit("servfail.mx.test");
    let failed = report.with_code("dane.lookup-failed");
    assert_eq!(failed.len(), 1, "{:?}", report.codes());
    assert_eq!(failed[0].evidence["name"], "_25._tcp.mx.servfail.test");
    let host = report
        .dane
        .as_ref()
        .expect("a dane section")
        .hosts
        .iter()
        .find(|h| h.host == "mx.servfail.test")
        .expect("the host");
    assert_eq!(
        (host.status.as_str(), host.answer.as_str()),
        ("unknown", "SERVFAIL")
    );
    assert!(
        report
            .unknown
            .iter()
            .any(|u| u.area == "dane" && u.subject.as_deref() == Some("mx.servfail.test")),
        "{:?}",
        report.unknown
    );
}
