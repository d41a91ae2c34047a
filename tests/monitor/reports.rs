//! DMARC aggregate reports stored with `mailaudit reports --db` in the monitor's database: a
//! source failing DMARC that failed in none of the domain's reports stored before is reported
//! by the next monitor run of the domain, once, as a worse change; the domain's first stored
//! reports are its baseline, and a report stored twice counts once.

use std::fs;
use std::path::Path;

use std::process::Command;

use super::{monitor, temp, world};

/// A report by receiver.example on monitor.test: 198.51.100.1 passing, each of `failing`
/// failing DMARC with 5 messages.
fn report(id: &str, failing: &[&str]) -> String {
    let record = |ip: &str, count: u32, result: &str| {
        format!(
            "<record><row><source_ip>{ip}</source_ip><count>{count}</count><policy_evaluated>\
             <disposition>none</disposition><dkim>{result}</dkim><spf>{result}</spf>\
             </policy_evaluated></row><identifiers><header_from>monitor.test</header_from>\
             </identifiers><auth_results><spf><domain>monitor.test</domain><result>{result}\
             </result></spf></auth_results></record>"
        )
    };
    let mut records = record("198.51.100.1", 50, "pass");
    for ip in failing {
        records.push_str(&record(ip, 5, "fail"));
    }
    format!(
        "<?xml version=\"1.0\"?><feedback><report_metadata><org_name>receiver.example</org_name>\
         <email>dmarc@receiver.example</email><report_id>{id}</report_id><date_range><begin>\
         1717200000</begin><end>1717286399</end></date_range></report_metadata>\
         <policy_published><domain>monitor.test</domain><p>none</p></policy_published>{records}\
         </feedback>"
    )
}

/// `mailaudit reports FILES... --db DB`; returns its standard error.
fn store(db: &Path, files: &[&Path]) -> String {
    // No --resolver: storing asks no DNS.
    let output = Command::new(env!("CARGO_BIN_EXE_mailaudit"))
        .args(["reports", "--format", "json", "--db"])
        .arg(db)
        .args(files)
        .output()
        .expect("run mailaudit reports");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    stderr
}

fn new_failing(changes: &[super::ChangeOut]) -> Vec<&super::ChangeOut> {
    changes
        .iter()
        .filter(|c| c.kind == "failing-source-new")
        .collect()
}

#[test]
fn a_source_newly_failing_dmarc_in_stored_reports_is_a_change_of_the_next_run() {
    let (dir, db) = temp();
    let first = dir.path().join("first.xml");
    fs::write(&first, report("first", &["203.0.113.66"])).unwrap();
    let stderr = store(&db, &[&first]);
    assert!(stderr.contains("1 of 1 DMARC reports stored"), "{stderr}");

    // The domain's first reports are its baseline: the forger in them is not news.
    let (_, run1) = monitor(world(1), &db, &[]);
    assert_eq!(new_failing(&run1.changes), Vec::<&super::ChangeOut>::new());

    // The first report again (counted once) and a later one with a new failing source.
    let second = dir.path().join("second.xml");
    fs::write(&second, report("second", &["203.0.113.66", "203.0.113.77"])).unwrap();
    let stderr = store(&db, &[&first, &second]);
    assert!(
        stderr.contains("1 of 2 DMARC reports stored") && stderr.contains("1 sources newly"),
        "{stderr}"
    );

    let (output, run2) = monitor(world(1), &db, &[]);
    let changes = new_failing(&run2.changes);
    assert_eq!(changes.len(), 1, "{:?}", run2.changes);
    assert_eq!(changes[0].target, "monitor.test");
    assert!(changes[0].worse);
    assert!(changes[0].message.contains("203.0.113.77"), "{changes:?}");
    assert!(run2.worse);
    assert_eq!(output.status.code(), Some(1), "a worse change");

    // Reported once: the next run has nothing new.
    let (_, run3) = monitor(world(1), &db, &[]);
    assert_eq!(new_failing(&run3.changes), Vec::<&super::ChangeOut>::new());
}
