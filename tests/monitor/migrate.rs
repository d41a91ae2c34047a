//! Issue 15, item 5: `monitor` watching a migration (`migrate = { to = "microsoft365" }` on a
//! domain). The domain watch.g2m.test moves from Google Workspace to Microsoft 365; each run asks
//! a DNS server of its own serving fixtures/migrate/zones (Google's and the tenant's names) and the
//! domain's zone at that run, written here. Run 1: MX switched to Microsoft 365 (the step done).
//! A run whose every lookup fails: the steps are unknown, no change. Run 3: MX back at Google:
//! the step done is not done any more, a worse change, exit 1.

use super::*;

const DOMAIN: &str = "watch.g2m.test";

const CONFIG: &str = r#"domains = [{ name = "watch.g2m.test", migrate = { to = "microsoft365", from = "google-workspace", tenant = "contoso" } }]
"#;

/// The SPF record of watch.g2m.test at the MX-switch stage: both includes.
const BOTH_INCLUDES: &str =
    "v=spf1 include:_spf.google.com include:spf.protection.outlook.com ~all";

/// The zone of watch.g2m.test with its MX at `mx` and SPF record `spf`; the rest as at the
/// MX-switch stage of fixtures/migrate (verified, DKIM on at the tenant), with an on-premises
/// server mail.watch.g2m.test at 192.0.2.30.
fn write_zone(dir: &Path, mx: &str, spf: &str) {
    std::fs::create_dir_all(dir).expect("zone directory");
    let zone = format!(
        "$TTL 3600\n@ IN SOA ns.test. hostmaster.test. 1 3600 600 86400 300\n@ IN NS ns.test.\n\
         @ IN MX {mx}\n\
         @ IN TXT \"{spf}\"\n\
         mail IN A 192.0.2.30\n\
         @ IN TXT \"MS=ms12345678\"\n\
         selector1._domainkey IN CNAME selector1-mx-g2m-test._domainkey.contoso.onmicrosoft.com.\n\
         selector2._domainkey IN CNAME selector2-mx-g2m-test._domainkey.contoso.onmicrosoft.com.\n\
         _dmarc IN TXT \"v=DMARC1; p=none; rua=mailto:dmarc@{DOMAIN}\"\n"
    );
    std::fs::write(dir.join(format!("{DOMAIN}.zone")), zone).expect("write the zone");
}

fn world_with(dir: &Path, mx: &str, spf: &str) -> TestDns {
    write_zone(dir, mx, spf);
    let migrate = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/migrate/zones");
    dns_server::start_with_overlays("127.0.0.1:0".parse().expect("loopback"), &[&migrate, dir])
}

fn step_changes<'a>(report: &'a RunReport, kind: &str) -> Vec<&'a ChangeOut> {
    report.changes.iter().filter(|c| c.kind == kind).collect()
}

#[test]
fn a_migration_step_undone_is_a_worse_change_and_a_failed_lookup_is_none() {
    let (dir, db) = temp();
    let config = config_file(dir.path(), CONFIG);

    let switched = world_with(
        &dir.path().join("run1"),
        "0 mx-g2m-test.mail.protection.outlook.com.",
        BOTH_INCLUDES,
    );
    let (output, first) = monitor_config(&switched, &config, &db, &[]);
    assert!(
        first
            .targets
            .iter()
            .any(|t| t.target == DOMAIN && t.baseline),
        "{first:?}"
    );
    assert!(
        step_changes(&first, "migration-step-undone").is_empty(),
        "{first:?}"
    );
    assert_ne!(output.status.code(), Some(2), "{first:?}");

    // Every lookup fails: each step is unknown, which says nothing about it.
    switched.degrade();
    let (output, failed) = monitor_config(&switched, &config, &db, &[]);
    assert!(failed.changes.is_empty(), "{:?}", failed.changes);
    assert_eq!(output.status.code(), Some(0), "{failed:?}");

    // MX back at Google: the switch is undone, compared with what run 1 knew.
    let reverted = world_with(
        &dir.path().join("run3"),
        "1 smtp.google.com.",
        BOTH_INCLUDES,
    );
    let (output, third) = monitor_config(&reverted, &config, &db, &[]);
    let undone = step_changes(&third, "migration-step-undone");
    assert_eq!(undone.len(), 1, "{:?}", third.changes);
    assert_eq!(undone[0].target, DOMAIN);
    assert!(undone[0].worse);
    assert_eq!(
        undone[0].step.as_deref(),
        Some("switch-mx"),
        "{:?}",
        undone[0]
    );
    assert!(third.worse);
    assert_eq!(output.status.code(), Some(1), "{third:?}");
}

#[test]
fn a_hybrid_server_dropped_from_spf_is_a_worse_change() {
    let (dir, db) = temp();
    let config = config_file(
        dir.path(),
        r#"domains = [{ name = "watch.g2m.test", migrate = { to = "microsoft365", from = "google-workspace", tenant = "contoso", hybrid = "mail.watch.g2m.test" } }]"#,
    );
    let mx = "0 mx-g2m-test.mail.protection.outlook.com.";
    let kept = world_with(
        &dir.path().join("run1"),
        mx,
        "v=spf1 ip4:192.0.2.30 include:_spf.google.com include:spf.protection.outlook.com ~all",
    );
    let (_, first) = monitor_config(&kept, &config, &db, &[]);
    assert!(
        first
            .targets
            .iter()
            .any(|t| t.target == DOMAIN && t.baseline),
        "{first:?}"
    );

    // The server's address is gone from SPF: its mail fails SPF.
    let dropped = world_with(&dir.path().join("run2"), mx, BOTH_INCLUDES);
    let (output, second) = monitor_config(&dropped, &config, &db, &[]);
    let undone = step_changes(&second, "migration-step-undone");
    assert_eq!(undone.len(), 1, "{:?}", second.changes);
    assert_eq!(
        undone[0].step.as_deref(),
        Some("keep-hybrid-in-spf"),
        "{:?}",
        undone[0]
    );
    // The relay is never probed by monitor: unknown at every run, never a change.
    assert!(
        second
            .changes
            .iter()
            .all(|c| c.step.as_deref() != Some("hybrid-route")),
        "{:?}",
        second.changes
    );
    assert_eq!(output.status.code(), Some(1), "{second:?}");
}

#[test]
fn a_migrate_naming_no_provider_stops_the_monitor_before_any_run() {
    let (dir, db) = temp();
    let config = config_file(
        dir.path(),
        r#"domains = [{ name = "watch.g2m.test", migrate = { to = "nosuchprovider" } }]"#,
    );
    let output = command(world(1), &support::monitor_once(&config, &db))
        .output()
        .expect("run mailaudit");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("nosuchprovider"), "{stderr}");
    assert!(!db.exists(), "nothing is stored");
}
