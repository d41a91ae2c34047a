//! `mailaudit migrate` end to end: a domain on Google Workspace moving to Microsoft 365, at each
//! stage, served by a real DNS server on loopback (in process) from `fixtures/zones/` and
//! `fixtures/migrate/zones/` (the stages, and stand-ins for the Google and Microsoft names they
//! point to). Each stage's plan and `--verify` result is read as typed JSON.

#[path = "../support/mod.rs"]
#[allow(unused_imports)]
mod support;

#[path = "../browser/dom.rs"]
#[allow(dead_code)] // the browser test reads more of a page than this one
mod dom;

use std::path::Path;
use std::process::Output;
use std::sync::OnceLock;

use serde::Deserialize;
use support::dns_server::{self, TestDns};

mod hybrid;

#[derive(Debug, Deserialize)]
struct Report {
    domain: String,
    detected: Detection,
    plan: Option<Plan>,
}

#[derive(Debug, Deserialize)]
struct Detection {
    inbound: Vec<Detected>,
    outbound: Vec<Detected>,
    unknown_mx: Vec<String>,
    unknown_includes: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Detected {
    provider: String,
    id: Option<String>,
    evidence: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Plan {
    to: String,
    from: Option<String>,
    tenant: Option<String>,
    verified: bool,
    spf_lookups_now: usize,
    next_step: Option<String>,
    steps: Vec<Step>,
    submission: Vec<String>,
    hybrid: Option<hybrid::Hybrid>,
}

#[derive(Debug, Deserialize)]
struct Step {
    id: String,
    detail: String,
    add: Vec<String>,
    remove: Vec<String>,
    action: Option<String>,
    spf_lookups_after: Option<usize>,
    #[serde(default)]
    spf_to_drop: Vec<String>,
    breaks_delivery: bool,
    status: Option<String>,
    #[serde(default)]
    evidence: Vec<String>,
    half_done: Option<String>,
}

impl Plan {
    fn step(&self, id: &str) -> &Step {
        self.steps
            .iter()
            .find(|s| s.id == id)
            .unwrap_or_else(|| panic!("no step {id} in {:#?}", self.steps))
    }

    /// The steps `--verify` reports with `status`, in plan order.
    fn with_status(&self, status: &str) -> Vec<&str> {
        self.steps
            .iter()
            .filter(|s| s.status.as_deref() == Some(status))
            .map(|s| s.id.as_str())
            .collect()
    }
}

fn server() -> &'static TestDns {
    static SERVER: OnceLock<TestDns> = OnceLock::new();
    SERVER.get_or_init(|| {
        dns_server::start_with_zones(
            "127.0.0.1:0".parse().unwrap(),
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/migrate/zones"),
        )
    })
}

fn run(args: &[&str]) -> Output {
    let mut all = vec!["migrate"];
    all.extend_from_slice(args);
    support::command_with_resolvers(&all, &[server().resolver_arg()], "2")
        .output()
        .expect("run mailaudit")
}

/// `migrate ARGS --format json`: the report and the exit status.
fn json(args: &[&str]) -> (Report, i32) {
    let mut all = args.to_vec();
    all.extend(["--format", "json"]);
    let output = run(&all);
    let text = String::from_utf8_lossy(&output.stdout);
    let report: Report = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{e}: {text}\n{}", String::from_utf8_lossy(&output.stderr)));
    (report, output.status.code().unwrap())
}

fn verify(domain: &str) -> (Plan, i32) {
    let (report, code) = json(&[
        domain,
        "--to",
        "microsoft365",
        "--from",
        "google-workspace",
        "--tenant",
        "contoso",
        "--verify",
    ]);
    assert_eq!(report.domain, domain);
    let plan = report.plan.expect("a plan");
    assert!(plan.verified);
    (plan, code)
}

const ORDER: [&str; 8] = [
    "verify-domain",
    "publish-dkim",
    "add-spf-include",
    "lower-mx-ttl",
    "switch-mx",
    "keep-old-include",
    "remove-old-include",
    "tighten-dmarc",
];

#[test]
fn detection_names_each_provider_with_its_evidence() {
    let (before, code) = json(&["before.g2m.test"]);
    assert_eq!(code, 0);
    assert!(before.plan.is_none());
    assert_eq!(before.detected.inbound.len(), 1);
    let inbound = &before.detected.inbound[0];
    assert_eq!(inbound.provider, "Google Workspace");
    assert_eq!(inbound.id.as_deref(), Some("google-workspace"));
    assert_eq!(inbound.evidence, ["MX 1 smtp.google.com"]);
    let outbound = &before.detected.outbound;
    assert_eq!(outbound.len(), 1, "{outbound:?}");
    assert_eq!(
        outbound[0].evidence,
        [
            "SPF include:_spf.google.com",
            "DKIM key at google._domainkey.before.g2m.test"
        ]
    );
    assert!(before.detected.unknown_mx.is_empty());
    assert!(before.detected.unknown_includes.is_empty());

    // Mid-move: MX at Microsoft, both send.
    let (mid, _) = json(&["mx.g2m.test"]);
    let names = |list: &[Detected]| list.iter().map(|d| d.provider.clone()).collect::<Vec<_>>();
    assert_eq!(names(&mid.detected.inbound), ["Microsoft 365"]);
    assert_eq!(
        names(&mid.detected.outbound),
        ["Google Workspace", "Microsoft 365"]
    );
    let microsoft = &mid.detected.outbound[1];
    assert!(
        microsoft
            .evidence
            .contains(&"SPF include:spf.protection.outlook.com".to_owned())
    );
    assert!(microsoft.evidence.contains(
        &"DKIM selector1._domainkey.mx.g2m.test CNAME selector1-mx-g2m-test._domainkey.contoso.onmicrosoft.com (key published)"
            .to_owned()
    ));
}

#[test]
fn the_plan_orders_every_record_and_counts_spf_lookups() {
    let (report, code) = json(&[
        "before.g2m.test",
        "--to",
        "microsoft365",
        "--tenant",
        "contoso",
    ]);
    // Without --verify nothing is judged: exit 0, no status.
    assert_eq!(code, 0);
    let plan = report.plan.unwrap();
    assert_eq!(plan.to, "Microsoft 365");
    // --from defaults to the provider the MX names.
    assert_eq!(plan.from.as_deref(), Some("Google Workspace"));
    assert!(!plan.verified);
    let ids: Vec<&str> = plan.steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ORDER);
    assert!(plan.steps.iter().all(|s| s.status.is_none()));
    assert_eq!(plan.spf_lookups_now, 4);
    assert_eq!(
        plan.step("verify-domain").add,
        ["before.g2m.test. IN TXT \"MS=ms<number from the Microsoft 365 admin center>\""]
    );
    let dkim = plan.step("publish-dkim");
    assert_eq!(
        dkim.add,
        [
            "selector1._domainkey.before.g2m.test. 3600 IN CNAME selector1-before-g2m-test._domainkey.contoso.onmicrosoft.com.",
            "selector2._domainkey.before.g2m.test. 3600 IN CNAME selector2-before-g2m-test._domainkey.contoso.onmicrosoft.com.",
        ]
    );
    assert!(
        dkim.action
            .as_deref()
            .unwrap()
            .contains("Set-DkimSigningConfig -Identity before.g2m.test -Enabled $true")
    );
    // The newer target form is named, since only the console knows which one the tenant has.
    assert!(
        dkim.detail.contains("below dkim.mail.microsoft instead"),
        "{}",
        dkim.detail
    );
    let add = plan.step("add-spf-include");
    assert_eq!(
        add.add,
        [
            "before.g2m.test. IN TXT \"v=spf1 include:_spf.google.com include:spf.protection.outlook.com ~all\""
        ]
    );
    assert_eq!(
        add.remove,
        ["before.g2m.test. IN TXT \"v=spf1 include:_spf.google.com ~all\""]
    );
    assert_eq!(add.spf_lookups_after, Some(5));
    assert!(add.breaks_delivery);
    assert_eq!(
        plan.step("lower-mx-ttl").add,
        ["before.g2m.test. 300 IN MX 1 smtp.google.com."]
    );
    let switch = plan.step("switch-mx");
    assert_eq!(
        switch.add,
        ["before.g2m.test. 3600 IN MX 0 before-g2m-test.mail.protection.outlook.com."]
    );
    assert_eq!(
        switch.remove,
        ["before.g2m.test. 3600 IN MX 1 smtp.google.com."]
    );
    // The old include goes only after the MX switch, with the record that remains.
    let remove = plan.step("remove-old-include");
    assert_eq!(
        remove.add,
        ["before.g2m.test. IN TXT \"v=spf1 include:spf.protection.outlook.com ~all\""]
    );
    assert_eq!(remove.spf_lookups_after, Some(1));
    assert_eq!(
        plan.step("tighten-dmarc").add,
        [
            "_dmarc.before.g2m.test. IN TXT \"v=DMARC1; p=quarantine; rua=mailto:dmarc@before.g2m.test\""
        ]
    );
    assert_eq!(plan.submission, ["smtp.office365.com:587 starttls"]);
}

#[test]
fn verify_reports_exactly_the_steps_not_done_at_each_stage() {
    let stages: [(&str, &[&str], i32); 5] = [
        (
            "before.g2m.test",
            &[
                "verify-domain",
                "publish-dkim",
                "add-spf-include",
                "switch-mx",
                "remove-old-include",
                "tighten-dmarc",
            ],
            1,
        ),
        (
            "dkim.g2m.test",
            &["switch-mx", "remove-old-include", "tighten-dmarc"],
            1,
        ),
        ("mx.g2m.test", &["remove-old-include", "tighten-dmarc"], 0),
        ("removed.g2m.test", &["tighten-dmarc"], 0),
        ("done.g2m.test", &[], 0),
    ];
    for (domain, not_done, exit) in stages {
        let (plan, code) = verify(domain);
        assert_eq!(
            plan.with_status("not-done"),
            not_done,
            "{domain}: {plan:#?}"
        );
        assert_eq!(
            plan.next_step.as_deref(),
            not_done.first().copied(),
            "{domain}"
        );
        assert_eq!(code, exit, "{domain}");
        // A TTL cannot be seen through a resolver: unknown until the MX has moved.
        let ttl = plan.step("lower-mx-ttl").status.as_deref();
        let switched = !not_done.contains(&"switch-mx");
        assert_eq!(
            ttl,
            Some(if switched { "done" } else { "unknown" }),
            "{domain}"
        );
        assert!(plan.steps.iter().all(|s| s.half_done.is_none()), "{domain}");
    }
}

#[test]
fn half_done_microsoft_dkim_is_named_with_its_fix() {
    for (domain, cname) in [
        (
            "halfdkim.g2m.test",
            "selector1._domainkey.halfdkim.g2m.test",
        ),
        (
            "m365-dkimoff.test",
            "selector1._domainkey.m365-dkimoff.test",
        ),
    ] {
        let (plan, _) = verify(domain);
        let dkim = plan.step("publish-dkim");
        assert_eq!(dkim.status.as_deref(), Some("not-done"), "{domain}");
        let half = dkim.half_done.as_deref().expect("named half done");
        assert!(half.starts_with("half done: "), "{half}");
        assert!(half.contains(cname), "{half}");
        assert!(half.contains("Set-DkimSigningConfig"), "{half}");
        assert!(
            dkim.evidence.iter().any(|e| e.contains("nxdomain")),
            "{:?}",
            dkim.evidence
        );
    }
    // Without --tenant, the tenant the published CNAMEs name fills the records in.
    let (report, _) = json(&["halfdkim.g2m.test", "--to", "microsoft365"]);
    let plan = report.plan.unwrap();
    assert_eq!(plan.tenant.as_deref(), Some("contoso"));
    assert_eq!(
        plan.step("publish-dkim").add[0],
        "selector1._domainkey.halfdkim.g2m.test. 3600 IN CNAME selector1-halfdkim-g2m-test._domainkey.contoso.onmicrosoft.com."
    );
}

#[test]
fn removing_the_old_include_before_the_mx_switch_breaks_delivery() {
    let (plan, code) = verify("early.g2m.test");
    let keep = plan.step("keep-old-include");
    assert_eq!(keep.status.as_deref(), Some("not-done"));
    assert!(keep.breaks_delivery);
    assert_eq!(
        keep.add,
        [
            "early.g2m.test. IN TXT \"v=spf1 include:spf.protection.outlook.com include:_spf.google.com ~all\""
        ]
    );
    assert_eq!(
        plan.step("remove-old-include").status.as_deref(),
        Some("done")
    );
    assert_eq!(code, 1);
}

#[test]
fn an_spf_record_passing_ten_lookups_says_what_to_drop() {
    let (plan, _) = verify("over.g2m.test");
    assert_eq!(plan.spf_lookups_now, 10);
    let add = plan.step("add-spf-include");
    assert_eq!(add.spf_lookups_after, Some(11));
    assert!(
        add.spf_to_drop[0].starts_with("11 lookups is over the limit of 10"),
        "{:?}",
        add.spf_to_drop
    );
    let google = add
        .spf_to_drop
        .iter()
        .find(|d| d.starts_with("include:_spf.google.com (4 lookups)"))
        .expect("the old include is named");
    assert!(google.contains("only once the old provider no longer sends"));
    assert!(
        add.spf_to_drop
            .iter()
            .any(|d| d.starts_with("mx (1 lookup): replace it"))
    );
    assert!(
        add.spf_to_drop
            .iter()
            .any(|d| d.starts_with("include:crm.over.g2m.test (1 lookup)"))
    );
    // Once Google's include goes, the record is back under the limit.
    let remove = plan.step("remove-old-include");
    assert_eq!(remove.spf_lookups_after, Some(7));
    assert!(remove.spf_to_drop.is_empty());
}

#[test]
fn a_dns_failure_is_unknown_never_not_done() {
    let (plan, code) = verify("g2m.txtfail.test");
    for id in [
        "verify-domain",
        "add-spf-include",
        "keep-old-include",
        "remove-old-include",
        "tighten-dmarc",
    ] {
        assert_eq!(plan.step(id).status.as_deref(), Some("unknown"), "{id}");
    }
    assert_eq!(plan.with_status("not-done"), ["switch-mx"]);
    assert_eq!(code, 1);
}

#[test]
fn the_markdown_checklist_reads_as_a_change_ticket() {
    let output = run(&[
        "dkim.g2m.test",
        "--to",
        "microsoft365",
        "--from",
        "google-workspace",
        "--verify",
        "--format",
        "markdown",
    ]);
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        text.contains("## Moving dkim.g2m.test from Google Workspace to Microsoft 365"),
        "{text}"
    );
    assert!(
        text.contains("**Next step:** Switch MX to Microsoft 365"),
        "{text}"
    );
    assert!(
        text.contains("- [x] **Verify dkim.g2m.test at Microsoft 365**"),
        "{text}"
    );
    assert!(
        text.contains(
            "- [ ] **Switch MX to Microsoft 365** — delivery breaks without it *(not done)*"
        ),
        "{text}"
    );
    assert!(
        text.contains("  dkim.g2m.test. 3600 IN MX 0 dkim-g2m-test.mail.protection.outlook.com."),
        "{text}"
    );
    let switch = text.find("Switch MX").unwrap();
    let remove = text.find("**Remove include:_spf.google.com").unwrap();
    assert!(switch < remove);
}

#[test]
fn a_profile_file_adds_a_provider() {
    let dir = std::env::temp_dir().join(format!("mailaudit-migrate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("profiles.toml");
    std::fs::write(
        &path,
        "[[provider]]\nname = \"Crm Co\"\nid = \"crm\"\nspf = [\"crm.over.g2m.test\"]\n",
    )
    .unwrap();
    let (report, _) = json(&["over.g2m.test", "--profiles", path.to_str().unwrap()]);
    assert!(
        report
            .detected
            .outbound
            .iter()
            .any(|d| d.provider == "Crm Co" && d.evidence == ["SPF include:crm.over.g2m.test"])
    );
    assert!(
        !report
            .detected
            .unknown_includes
            .contains(&"crm.over.g2m.test".to_owned())
    );
    let unknown = run(&["over.g2m.test", "--to", "nosuch"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no provider profile 'nosuch'"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_move_from_microsoft_365_to_google_workspace_is_planned_and_verified_alike() {
    let (report, code) = json(&["before.m2g.test", "--to", "google-workspace", "--verify"]);
    assert_eq!(code, 1);
    let plan = report.plan.unwrap();
    assert_eq!(plan.to, "Google Workspace");
    assert_eq!(plan.from.as_deref(), Some("Microsoft 365"));
    let ids: Vec<&str> = plan.steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ORDER);
    assert_eq!(
        plan.step("verify-domain").add,
        [
            "before.m2g.test. IN TXT \"google-site-verification=<token from the Google Admin console>\""
        ]
    );
    // Google gives a TXT key from its console, not CNAMEs.
    let dkim = plan.step("publish-dkim");
    assert_eq!(
        dkim.add,
        [
            "google._domainkey.before.m2g.test. IN TXT \"v=DKIM1; k=rsa; p=<public key from the console>\""
        ]
    );
    assert!(dkim.action.as_deref().unwrap().contains("Admin console"));
    let include = plan.step("add-spf-include");
    assert_eq!(
        include.add,
        [
            "before.m2g.test. IN TXT \"v=spf1 include:spf.protection.outlook.com include:_spf.google.com -all\""
        ]
    );
    // Microsoft's include costs 1, Google's 4 (fixtures/migrate/zones/google.com.zone).
    assert_eq!(include.spf_lookups_after, Some(5));
    assert_eq!(
        plan.step("switch-mx").add,
        ["before.m2g.test. 3600 IN MX 1 smtp.google.com."]
    );
    assert_eq!(
        plan.step("remove-old-include").add,
        ["before.m2g.test. IN TXT \"v=spf1 include:_spf.google.com -all\""]
    );
    assert_eq!(
        plan.with_status("not-done"),
        [
            "verify-domain",
            "publish-dkim",
            "add-spf-include",
            "switch-mx",
            "remove-old-include",
            "tighten-dmarc"
        ]
    );
    assert_eq!(plan.next_step.as_deref(), Some("verify-domain"));
    assert_eq!(
        plan.submission,
        ["smtp.gmail.com:587 starttls", "smtp.gmail.com:465 tls"]
    );

    // MX switched: what is left does not break delivery.
    let (report, code) = json(&["mx.m2g.test", "--to", "google-workspace", "--verify"]);
    assert_eq!(code, 0);
    let plan = report.plan.unwrap();
    assert_eq!(
        plan.with_status("not-done"),
        ["remove-old-include", "tighten-dmarc"]
    );
    assert!(plan.with_status("unknown").is_empty());
}

#[test]
fn several_spf_records_are_replaced_by_one_with_the_new_include() {
    let (report, code) = json(&["two.g2m.test", "--to", "microsoft365", "--verify"]);
    assert_eq!(code, 1);
    let plan = report.plan.unwrap();
    let include = plan.step("add-spf-include");
    assert_eq!(include.status.as_deref(), Some("not-done"));
    // Both published records go; one record with every term of both and the include comes.
    let mut removed = include.remove.clone();
    removed.sort();
    assert_eq!(
        removed,
        [
            "two.g2m.test. IN TXT \"v=spf1 include:_spf.google.com ~all\"",
            "two.g2m.test. IN TXT \"v=spf1 ip4:192.0.2.50 ~all\"",
        ]
    );
    assert_eq!(include.add.len(), 1);
    let added = &include.add[0];
    for term in [
        "include:_spf.google.com",
        "ip4:192.0.2.50",
        "include:spf.protection.outlook.com ~all\"",
    ] {
        assert!(added.contains(term), "{term}: {added}");
    }
    // Several records are not walked: the merged record's lookups are not guessed.
    assert_eq!(include.spf_lookups_after, None);
    assert!(
        include
            .evidence
            .iter()
            .any(|e| e.starts_with("2 SPF records are published")),
        "{:?}",
        include.evidence
    );
    // The old include is read from the merged record: present, not "removed too early".
    assert_eq!(
        plan.step("keep-old-include").status.as_deref(),
        Some("done")
    );
}

/// With several SPF records the includes are read from the record merging them, and named
/// lowercased as with one record: DNS names compare case-insensitively (RFC 4343 §2).
#[test]
fn the_includes_of_several_spf_records_are_named_lowercased() {
    let (report, _) = json(&["case.g2m.test"]);
    let google = report
        .detected
        .outbound
        .iter()
        .find(|d| d.provider == "Google Workspace")
        .unwrap_or_else(|| panic!("{:?}", report.detected));
    assert_eq!(google.evidence, ["SPF include:_spf.google.com"]);
    assert_eq!(report.detected.unknown_includes, ["crm.case.g2m.test"]);
}

/// `migrate ARGS --format html --output -`: the page and the exit status.
fn html(args: &[&str]) -> (String, i32) {
    let mut all = args.to_vec();
    all.extend(["--format", "html", "--output", "-"]);
    let output = run(&all);
    assert!(
        output.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let page = String::from_utf8(output.stdout).expect("UTF-8 page");
    // Kept for a person to look at.
    let keep = Path::new(env!("CARGO_TARGET_TMPDIR")).join("migrate");
    std::fs::create_dir_all(&keep).expect("create target/tmp/migrate");
    std::fs::write(keep.join(format!("{}.html", args[0])), &page).expect("keep the page");
    (page, output.status.code().unwrap())
}

/// The text of HTML as a browser shows it (the browser test's tokenizer).
fn page_text(html: &str) -> String {
    dom::Dom::parse(html).text
}

#[test]
fn the_html_page_of_a_half_done_move_shows_each_step_its_status_fix_and_records() {
    let (page, code) = html(&["halfdkim.g2m.test", "--to", "microsoft365", "--verify"]);
    assert_eq!(
        code, 1,
        "delivery at risk: exit 1 as with the other formats"
    );
    let (report, _) = json(&["halfdkim.g2m.test", "--to", "microsoft365", "--verify"]);
    let plan = report.plan.unwrap();
    let text = page_text(&page);
    assert!(text.contains("Moving halfdkim.g2m.test from Google Workspace to Microsoft 365"));
    assert!(text.contains(concat!("by mailaudit ", env!("CARGO_PKG_VERSION"))));
    // The status first, before the providers and the steps.
    let done = plan.with_status("done").len();
    let next = plan.step(plan.next_step.as_deref().unwrap());
    let headline = format!("{done} of 8 steps done; next: Publish Microsoft 365's DKIM keys");
    let status_at = text.find(&headline).expect("the status headline");
    assert!(text.contains("Delivery at risk:"), "{text}");
    assert!(status_at < text.find("Providers in use today").unwrap());
    assert_eq!(next.id, "publish-dkim");
    // Each step in order, with its status badge, as the JSON has them.
    let mut at = 0;
    for step in &plan.steps {
        let anchor = format!(
            "<li id=\"step-{}\" class=\"step {}",
            step.id,
            step.status.as_deref().unwrap()
        );
        let found = page[at..]
            .find(&anchor)
            .unwrap_or_else(|| panic!("{anchor} after byte {at}"));
        at += found;
        let item = &page[at..at + page[at..].find("</li>\n<li id=").unwrap_or(page.len() - at)];
        let badge = match step.status.as_deref().unwrap() {
            "not-done" => "not done",
            other => other,
        };
        assert!(
            item.contains(&format!(
                "<span class=\"badge {}\">{badge}</span>",
                step.status.as_deref().unwrap()
            )),
            "{}: {item}",
            step.id
        );
        assert_eq!(
            item.contains("Delivery breaks without it"),
            step.breaks_delivery,
            "{}",
            step.id
        );
        let item_text = page_text(item);
        for line in step.add.iter().chain(&step.remove) {
            assert!(item_text.contains(line.as_str()), "{}: {line}", step.id);
        }
        at += 1;
    }
    // The half-done DKIM, named with its fix, in the DKIM step.
    let half = plan.step("publish-dkim").half_done.as_deref().unwrap();
    assert!(half.contains("Set-DkimSigningConfig"));
    let dkim_item = &page[page.find("id=\"step-publish-dkim\"").unwrap()
        ..page.find("id=\"step-add-spf-include\"").unwrap()];
    assert!(page_text(dkim_item).contains(half), "{dkim_item}");
    assert!(dkim_item.contains("<p class=\"half\">"));
    assert!(text.contains(
        "selector1._domainkey.halfdkim.g2m.test. 3600 IN CNAME selector1-halfdkim-g2m-test._domainkey.contoso.onmicrosoft.com."
    ));
    assert!(text.contains("smtp.office365.com:587 starttls"));
}

#[test]
fn the_html_page_shows_hostile_records_as_text_and_links_only_to_the_docs() {
    let (page, _) = html(&["hostile.g2m.test", "--to", "microsoft365", "--verify"]);
    let text = page_text(&page);
    // The verification TXT (quotes, then a script) and the DMARC record (an image), as text.
    for hostile in [
        "MS=ms\"'><script src=http://canary-ms.invalid/x.js></script>",
        "rua=mailto:<img src=http://canary-dmarc.invalid/x.png>@hostile.g2m.test",
    ] {
        assert!(text.contains(hostile), "{hostile} not shown: {text}");
    }
    assert!(text.contains("mx.hostile.g2m.test"));
    assert!(text.contains("include:crm.hostile.g2m.test"));
    let lower = page.to_ascii_lowercase();
    assert!(!lower.contains("<script"), "a script element");
    assert!(!lower.contains("<img"), "an image element");
    assert!(!page.contains("\"'>"), "a quote ends an attribute");
    // No element loads anything; the links are the provider's documentation, or in the page.
    let mut docs = 0;
    for element in &dom::Dom::parse(&page).elements {
        for (name, value) in &element.attributes {
            assert!(
                !["src", "style", "srcset"].contains(&name.as_str()) && !name.starts_with("on"),
                "{element:?}"
            );
            if name == "href" && !value.starts_with('#') {
                assert!(value.starts_with("https://"), "{element:?}");
                assert_eq!(element.name, "a");
                assert_eq!(element.attribute("rel"), Some("noreferrer noopener"));
                docs += 1;
            }
        }
    }
    assert!(docs > 0, "Microsoft 365's documentation is linked");
    assert!(
        page.contains("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none';")
    );
}

#[test]
fn without_output_the_html_page_goes_to_a_dated_file_under_reports() {
    let dir = std::env::temp_dir().join(format!("mailaudit-migrate-html-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let output = support::command_with_resolvers(
        &[
            "migrate",
            "dkim.g2m.test",
            "--to",
            "microsoft365",
            "--format",
            "html",
        ],
        &[server().resolver_arg()],
        "2",
    )
    .current_dir(&dir)
    .output()
    .expect("run mailaudit");
    assert_eq!(output.status.code(), Some(0));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let path = stdout
        .trim()
        .strip_prefix("report written to ")
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(path.starts_with("reports/dkim.g2m.test-migrate-"), "{path}");
    let page = std::fs::read_to_string(dir.join(path)).unwrap();
    // Without --verify: the plan, no status.
    assert!(page.contains("id=\"step-switch-mx\" class=\"step\""));
    assert!(!page.contains("class=\"badge"));
    assert!(!page.contains("id=\"status\""));
    std::fs::remove_dir_all(&dir).unwrap();
}
