//! Issue 12, item 6 for BIMI: `monitor` with `fetch_bimi = true` watching a domain whose BIMI
//! record and mark certificate change between two runs. An HTTPS server on 127.0.0.1 serves the
//! logos and the mark certificates (a CA made here, given as `ca_file`); each run asks its own
//! DNS server, whose zone (written here, with the server's port) points at them. Run 1 is the
//! baseline (a certificate valid 300 days); at run 2 the record names another logo and a
//! certificate that expires in 10 days: both records changed, and the new
//! `bimi.certificate-expiring` is worse whatever `--fail-on`.

use std::collections::BTreeMap;

use super::*;
use support::https_server::{HttpsServer, Serve};
use support::marks::mark;
use support::smtp_server::{Ca, Leaf};

/// The host serving the logos and certificates.
const HOST: &str = "bimi.bimimon.test";

const LOGO: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" version="1.2" baseProfile="tiny-ps" viewBox="0 0 8 8"><title>Monitor</title><rect width="8" height="8" fill="#000"/></svg>"##;

/// The zone of bimimon.test at one run: its BIMI record names `logo` and `pem` on the server.
fn write_zone(dir: &Path, port: u16, logo: &str, pem: &str) {
    std::fs::create_dir_all(dir).expect("zone directory");
    let zone = format!(
        "$TTL 300\n@ IN SOA ns.test. hostmaster.test. 1 3600 600 86400 300\n@ IN NS ns.test.\n\
         @ IN TXT \"v=spf1 -all\"\n\
         _dmarc IN TXT \"v=DMARC1; p=reject; rua=mailto:d@bimimon.test\"\n\
         default._bimi IN TXT \"v=BIMI1; l=https://{HOST}:{port}/{logo}; a=https://{HOST}:{port}/{pem}\"\n\
         bimi IN A 127.0.0.1\n"
    );
    std::fs::write(dir.join("bimimon.test.zone"), zone).expect("write the zone");
}

/// One `monitor --once --format json` run of `config` asking `world`, with the working
/// blocklists.
fn run(world: &TestDns, config: &Path, db: &Path) -> (Output, RunReport) {
    monitor_config(world, config, db, &["--dnsbl", &support::working_catalog()])
}

#[test]
fn a_changed_bimi_record_and_an_expiring_mark_certificate_are_changes() {
    let ca = Ca::new("Monitor BIMI CA");
    let server = ca.issue(&Leaf::valid_for(&[HOST]));
    let pem = "application/x-pem-file";
    let mut routes = BTreeMap::new();
    routes.insert("/one.svg".to_owned(), Serve::ok("image/svg+xml", LOGO));
    routes.insert("/two.svg".to_owned(), Serve::ok("image/svg+xml", LOGO));
    routes.insert(
        "/long.pem".to_owned(),
        Serve::ok(pem, mark(&ca, &["bimimon.test"], -30, 300, true)),
    );
    routes.insert(
        "/short.pem".to_owned(),
        Serve::ok(pem, mark(&ca, &["bimimon.test"], -300, 10, true)),
    );
    let server = HttpsServer::start_any_port(server.server_config(), Serve::Paths(routes));
    let port = server.addr.port();

    let (dir, db) = temp();
    write_zone(&dir.path().join("run1"), port, "one.svg", "long.pem");
    write_zone(&dir.path().join("run2"), port, "two.svg", "short.pem");
    let ca_file = ca.write(dir.path(), "ca.pem");
    let config = config_file(
        dir.path(),
        &format!(
            "domains = [\"bimimon.test\"]\nfetch_bimi = true\nca_file = \"{}\"\n",
            ca_file.display()
        ),
    );
    let first_world = serve_zones(&dir.path().join("run1"));
    let second_world = serve_zones(&dir.path().join("run2"));

    // Run 1: the baseline, a certificate valid for 300 days: nothing to report.
    let (output, first) = run(&first_world, &config, &db);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{first:?} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(first.changes.is_empty(), "{:?}", first.changes);

    // Run 2: another logo in the record, a certificate that ends in 10 days.
    let (output, second) = run(&second_world, &config, &db);
    assert_eq!(output.status.code(), Some(1), "{:?}", second.changes);
    assert!(second.worse);
    let record = second
        .changes
        .iter()
        .find(|c| c.kind == "record-changed" && c.record.as_deref() == Some("bimi"))
        .unwrap_or_else(|| panic!("the BIMI record changed: {:?}", second.changes));
    assert!(
        record.message.starts_with("BIMI record changed:"),
        "{}",
        record.message
    );
    assert!(record.message.contains("/two.svg"), "{}", record.message);
    let certificate = second
        .changes
        .iter()
        .find(|c| c.kind == "record-changed" && c.record.as_deref() == Some("bimi:certificate"))
        .unwrap_or_else(|| panic!("the certificate changed: {:?}", second.changes));
    assert!(
        certificate
            .message
            .starts_with("BIMI mark certificate changed:"),
        "{}",
        certificate.message
    );
    let expiring = second
        .changes
        .iter()
        .find(|c| c.kind == "finding-new" && c.message.contains("bimi.certificate-expiring"))
        .unwrap_or_else(|| panic!("an expiring certificate: {:?}", second.changes));
    assert!(expiring.worse, "{expiring:?}");
}
