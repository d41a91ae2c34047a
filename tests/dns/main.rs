//! The DNS layer against a real DNS server over real sockets (in process, on 127.0.0.1).

#[path = "../support/mod.rs"]
mod support;

use support::dns_server;

use std::net::Ipv4Addr;
use std::time::Duration;

use mailaudit::dns::{Answer, Dns, DnsConfig, Failure};

fn client(timeout_ms: u64) -> Dns {
    Dns::new(&DnsConfig {
        servers: vec![dns_server::server().addr],
        timeout: Duration::from_millis(timeout_ms),
        concurrency: 16,
    })
    .expect("client")
}

#[tokio::test]
async fn records_are_typed_and_txt_strings_kept_apart() {
    let dns = client(2000);
    let answer = dns.txt("dns.test").await;
    let records = answer.records();
    assert_eq!(records.len(), 1, "{answer:?}");
    assert_eq!(
        records[0].strings,
        vec![b"v=spf1 ".to_vec(), b"-all".to_vec()]
    );
    assert_eq!(records[0].joined(), "v=spf1 -all");
}

#[tokio::test]
async fn nxdomain_and_nodata_are_told_apart() {
    let dns = client(2000);
    assert_eq!(dns.txt("nope.dns.test").await, Answer::nx_domain());
    assert_eq!(dns.txt("nodata.dns.test").await, Answer::no_data());
}

/// An alias into another zone, of a name that does not exist: NXDOMAIN is about the chain's
/// last name (RFC 6604 §2), and the answer says which chain led there.
#[tokio::test]
async fn a_negative_answer_carries_the_alias_chain() {
    let dns = client(2000);
    assert_eq!(
        dns.txt("gone.dns.test").await,
        Answer::NxDomain {
            aliases: vec!["gone.dns.test".to_owned(), "nothing.mx.test".to_owned()]
        }
    );
    assert_eq!(
        dns.a("gone.dns.test").await.aliases(),
        ["gone.dns.test", "nothing.mx.test"]
    );
}

#[tokio::test]
async fn servfail_is_a_failure_not_an_absence() {
    let dns = client(2000);
    assert_eq!(
        dns.txt("x.servfail.test").await,
        Answer::Failed(Failure::ServFail)
    );
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let dns = client(300);
    assert_eq!(
        dns.txt("x.dead.test").await,
        Answer::Failed(Failure::Timeout)
    );
}

#[tokio::test]
async fn a_txt_answer_too_large_for_udp_comes_over_tcp() {
    let dns = client(2000);
    let answer = dns.txt("big.dns.test").await;
    let records = answer.records();
    assert_eq!(records.len(), 1, "{answer:?}");
    assert_eq!(records[0].joined_bytes().len(), 4000);
    let asked = dns_server::server().queries_for("big.dns.test");
    assert!(
        asked.iter().any(|q| q.over_tcp),
        "no TCP retry seen: {asked:?}"
    );
}

#[tokio::test]
async fn cname_chains_are_followed_and_visible() {
    let dns = client(2000);
    let answer = dns.a("alias.dns.test").await;
    assert_eq!(answer.records(), &[Ipv4Addr::new(192, 0, 2, 11)]);
    assert_eq!(
        answer.aliases(),
        &["alias.dns.test", "alias2.dns.test", "target.dns.test"]
    );
}

#[tokio::test]
async fn mx_records_come_sorted_by_preference() {
    let dns = client(2000);
    let answer = dns.mx("mx.dns.test").await;
    let hosts: Vec<_> = answer
        .records()
        .iter()
        .map(|mx| (mx.preference, mx.exchange.as_str()))
        .collect();
    assert_eq!(hosts, vec![(5, "mail0.dns.test"), (10, "mail1.dns.test")]);
}

#[tokio::test]
async fn identical_questions_are_asked_once_even_concurrently() {
    let dns = client(2000);
    let (a, b, c) = tokio::join!(
        dns.a("target.dns.test"),
        dns.a("target.dns.test"),
        dns.a("TARGET.dns.test")
    );
    assert_eq!(a, b);
    assert_eq!(b, c);
    assert_eq!(dns.queries_sent(), 1);
}
