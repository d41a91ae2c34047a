//! The monitor and MTA-STS: a new policy id (the `_mta-sts` record) and a new mode (the policy
//! fetched from the policy host) are changes. Two worlds of one zone, `stsmon.test`, written
//! here; one HTTPS policy host on 127.84.61.20:443 whose policy changes between the runs.

use std::net::Ipv4Addr;
use std::path::Path;

use super::support::https_server::{HttpsServer, Serve};
use super::support::smtp_server::{Ca, Leaf};
use super::{ChangeOut, config_file, monitor_config, serve_zones};

/// The zone of `stsmon.test` with this policy id.
fn write_world(dir: &Path, id: &str) {
    std::fs::create_dir_all(dir).expect("zone directory");
    std::fs::write(
        dir.join("stsmon.test.zone"),
        format!(
            "$TTL 300\n@ IN SOA ns.test. hostmaster.test. 1 3600 600 86400 300\n@ IN NS ns.test.\n\
             @ IN MX 10 mx.stsmon.test.\nmx IN A 192.0.2.25\n\
             _mta-sts IN TXT \"v=STSv1; id={id}\"\nmta-sts IN A 127.84.61.20\n\
             _smtp._tls IN TXT \"v=TLSRPTv1; rua=mailto:tls@stsmon.test\"\n"
        ),
    )
    .expect("write the zone");
}

fn policy(mode: &str) -> Serve {
    Serve::policy(&format!(
        "version: STSv1\nmode: {mode}\nmx: mx.stsmon.test\nmax_age: 86400\n"
    ))
}

fn record_change<'a>(changes: &'a [ChangeOut], record: &str) -> &'a ChangeOut {
    changes
        .iter()
        .find(|c| c.kind == "record-changed" && c.record.as_deref() == Some(record))
        .unwrap_or_else(|| panic!("no change of {record}: {changes:#?}"))
}

#[test]
fn a_new_policy_id_and_mode_are_changes() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let ca = Ca::new("mailaudit monitor MTA-STS CA");
    let ca_file = ca.write(dir.path(), "ca.pem");
    let server = HttpsServer::start(
        Ipv4Addr::new(127, 84, 61, 20),
        ca.issue(&Leaf::valid_for(&["mta-sts.stsmon.test"]))
            .server_config(),
        policy("testing"),
    );
    let config = config_file(
        dir.path(),
        &format!(
            "domains = [\"stsmon.test\"]\nca_file = '{}'\n",
            ca_file.display()
        ),
    );
    let db = dir.path().join("history.sqlite3");
    write_world(&dir.path().join("world1"), "20250101");
    write_world(&dir.path().join("world2"), "20250202");
    let first = serve_zones(&dir.path().join("world1"));
    let second = serve_zones(&dir.path().join("world2"));

    let baseline = monitor_config(&first, &config, &db, &[]).1;
    assert!(baseline.changes.is_empty(), "{:#?}", baseline.changes);
    assert_eq!(
        server.requests().len(),
        1,
        "the policy fetched, trusted by ca_file"
    );

    // The same world: no change.
    let again = monitor_config(&first, &config, &db, &[]).1;
    assert!(again.changes.is_empty(), "{:#?}", again.changes);

    server.set(policy("enforce"));
    let changed = monitor_config(&second, &config, &db, &[]).1;
    let id = record_change(&changed.changes, "mta-sts");
    assert_eq!(id.old.as_ref().expect("old"), "v=STSv1; id=20250101");
    assert_eq!(id.new.as_ref().expect("new"), "v=STSv1; id=20250202");
    assert!(
        id.message.starts_with("MTA-STS record changed"),
        "{}",
        id.message
    );
    let mode = record_change(&changed.changes, "mta-sts-policy");
    assert!(
        mode.message.contains("mode: testing") && mode.message.contains("mode: enforce"),
        "{}",
        mode.message
    );
    assert!(
        changed
            .changes
            .iter()
            .any(|c| c.kind == "finding-resolved" && c.message.contains("mtasts.testing")),
        "{:#?}",
        changed.changes
    );
}
