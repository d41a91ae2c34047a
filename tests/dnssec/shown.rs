//! What every format shows of DNSSEC and DANE, and what the monitor reports when they change.

use std::path::Path;

use crate::support::dnssec::{Signing, World, Zone};
use crate::support::{self, unescape_html};

fn zone(extra: &str) -> String {
    format!(
        "@ 300 IN MX 10 mx\n\
         mx 300 IN A 192.0.2.25\n\
         @ 300 IN TXT \"v=spf1 mx -all\"\n\
         _dmarc 300 IN TXT \"v=DMARC1; p=reject\"\n\
         {extra}\n"
    )
}

/// `mailaudit ARGS...` through `world`'s unbound; its standard output.
fn run(world: &World, args: &[&str]) -> String {
    let output = support::command_with_resolvers(args, &[world.resolver_arg()], "3")
        .output()
        .expect("run mailaudit");
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

#[test]
fn every_format_shows_the_dnssec_status_its_resolver_and_the_tlsa_records() {
    if !World::available("every_format_shows_the_dnssec_status_its_resolver_and_the_tlsa_records") {
        return;
    }
    let tlsa = format!("3 1 1 {}", "ab".repeat(32));
    let world = World::start(
        &[Zone::new(
            "shown.test",
            Signing::Signed,
            &zone(&format!("_25._tcp.mx 300 IN TLSA {tlsa}")),
        )],
        true,
    );
    let resolver = world.resolver_arg();
    let dir = tempfile::tempdir().expect("temporary directory");
    for format in ["table", "markdown", "html"] {
        let path = dir.path().join(format!("report.{format}"));
        let path = path.to_str().expect("UTF-8 path");
        run(
            &world,
            &["audit", "shown.test", "--format", format, "--output", path],
        );
        let text = std::fs::read_to_string(path).expect("the report file");
        let text = match format {
            "html" => unescape_html(&text),
            // Markdown escapes the underscores of `_25._tcp`.
            "markdown" => text.replace("\\_", "_"),
            _ => text,
        };
        // The table wraps long lines: compare without the line breaks and borders.
        let flat: String = text
            .split_whitespace()
            .filter(|w| !w.chars().all(|c| "│┆|".contains(c)))
            .collect::<Vec<_>>()
            .join(" ");
        assert!(flat.contains("DNSSEC"), "{format}: {text}");
        assert!(
            flat.contains(&format!("signed and validated by the resolver {resolver}")),
            "{format}: {flat}"
        );
        assert!(
            flat.contains("_25._tcp.mx.shown.test: TLSA records validated (DNSSEC)"),
            "{format}: {flat}"
        );
        assert!(
            flat.contains(&format!("TLSA {tlsa} (usable)")),
            "{format}: {flat}"
        );
    }
}

/// One `monitor --once --format json` run of `config` in `world`.
fn monitor(world: &World, config: &Path, db: &Path) -> serde_json::Value {
    let text = run(world, &support::monitor_once_json(config, db));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn the_monitor_reports_a_changed_tlsa_set_and_a_changed_dnssec_status() {
    if !World::available("the_monitor_reports_a_changed_tlsa_set_and_a_changed_dnssec_status") {
        return;
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    let config = dir.path().join("monitor.toml");
    std::fs::write(&config, "domains = [\"tlsa.test\", \"status.test\"]\n").expect("config");
    let db = dir.path().join("history.db");
    let old = format!("3 1 1 {}", "ab".repeat(32));
    let new = format!("3 1 1 {}", "cd".repeat(32));
    let run_with = |tlsa: &str, status: Signing| {
        let world = World::start(
            &[
                Zone::new(
                    "tlsa.test",
                    Signing::Signed,
                    &zone(&format!("_25._tcp.mx 300 IN TLSA {tlsa}")),
                ),
                Zone::new("status.test", status, &zone("")),
            ],
            true,
        );
        monitor(&world, &config, &db)
    };
    let first = run_with(&old, Signing::Unsigned);
    assert_eq!(first["changes"], serde_json::json!([]), "{first:#}");

    let second = run_with(&new, Signing::Signed);
    let changes = second["changes"].as_array().expect("changes");
    let change = |record: &str| {
        changes
            .iter()
            .find(|c| c["record"] == record)
            .unwrap_or_else(|| panic!("a change of {record}: {changes:#?}"))
    };
    let tlsa = change("tlsa:mx.tlsa.test");
    assert_eq!(tlsa["target"], "tlsa.test");
    assert_eq!(tlsa["type"], "record-changed");
    assert_eq!(tlsa["old"], old);
    assert_eq!(tlsa["new"], new);
    assert!(
        tlsa["message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("TLSA records of mx.tlsa.test (_25._tcp) changed"),
        "{tlsa}"
    );
    let status = change("dnssec");
    assert_eq!(status["target"], "status.test");
    assert_eq!(
        (status["old"].as_str(), status["new"].as_str()),
        (Some("unsigned"), Some("signed"))
    );
}
