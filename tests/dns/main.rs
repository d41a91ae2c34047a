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

/// A client of a server of its own (so that nothing else's questions land in its log).
fn own_client(server: &dns_server::TestDns, timeout_ms: u64) -> Dns {
    Dns::new(&DnsConfig {
        servers: vec![server.addr],
        timeout: Duration::from_millis(timeout_ms),
        concurrency: 1024,
    })
    .expect("client")
}

/// Answers that came back fast bring the retransmission time-out down to the round trips: a
/// question that gets no answer is sent again after it and given up after seven of them (at
/// least two seconds), within `--timeout` in all: not after three whole time-outs.
#[tokio::test]
async fn an_unanswered_question_is_given_up_after_a_time_out_from_the_round_trips() {
    let server = dns_server::start_switchable();
    let dns = own_client(&server, 3000).scoped(None);
    for n in 0..20 {
        assert_eq!(
            dns.txt(&format!("n{n}.dns.test")).await,
            Answer::nx_domain()
        );
    }
    let started = std::time::Instant::now();
    assert_eq!(
        dns.txt("resent.dead.test").await,
        Answer::Failed(Failure::Timeout)
    );
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(3), "waited {waited:?}");
    let sent = server.queries_for("resent.dead.test").len();
    assert!(sent >= 2, "sent {sent} times");
    let stats = dns.stats();
    assert_eq!((stats.queries, stats.retries, stats.timeouts), (21, 1, 1));
}

/// Until a domain answers, its questions go one at a time; once one timed out, the rest are not
/// sent: all are failures (unknown), never missing records, and only the first waited out the
/// whole time-out.
#[tokio::test]
async fn a_dead_domains_later_questions_are_not_sent() {
    let server = dns_server::start_switchable();
    let dns = own_client(&server, 3000).scoped(Some("gone.dead.test"));
    // Another domain's answers: the round trips are known.
    assert_eq!(dns.txt("nope.dns.test").await, Answer::nx_domain());
    assert_eq!(
        dns.txt("gone.dead.test").await,
        Answer::Failed(Failure::Timeout)
    );
    let later = futures::future::join_all((0..10).map(|n| {
        let dns = &dns;
        async move { dns.txt(&format!("s{n}._domainkey.gone.dead.test")).await }
    }))
    .await;
    assert!(
        later
            .iter()
            .all(|answer| *answer == Answer::Failed(Failure::Timeout)),
        "{later:?}"
    );
    let stats = dns.stats();
    // None of the ten sent.
    assert_eq!(stats.queries, 2, "{stats:?}");
    assert_eq!((stats.timeouts, stats.skipped), (1, 10), "{stats:?}");
    for n in 0..10 {
        let name = format!("s{n}._domainkey.gone.dead.test");
        assert!(server.queries_for(&name).is_empty(), "{name} sent");
    }
    // A name outside the domain still gets the whole time-out and its resends.
    assert_eq!(
        dns.txt("other.dead.test").await,
        Answer::Failed(Failure::Timeout)
    );
    assert_eq!(dns.stats().timeouts, 2);
}

/// The window of questions in flight starts modestly and grows while answers come back fast.
#[tokio::test]
async fn the_window_grows_while_answers_come_back_fast() {
    let server = dns_server::start_switchable();
    let dns = own_client(&server, 3000);
    assert_eq!(dns.window(), 32);
    // Fewer answers than the window needs before it compares round trips: it only grows.
    let answers = futures::future::join_all((0..60).map(|n| {
        let dns = &dns;
        async move { dns.txt(&format!("w{n}.dns.test")).await }
    }))
    .await;
    assert!(answers.iter().all(|a| *a == Answer::nx_domain()));
    // (A slow answer on a busy machine may shrink it once on the way: by 0.7, from up to 64.)
    assert!(dns.window() > 32, "window {}", dns.window());
}

/// A question unanswered while the others about its domain are answered is a loss: the window
/// shrinks by a factor.
#[tokio::test]
async fn a_lost_question_shrinks_the_window() {
    let server = dns_server::start_switchable();
    let dns = Dns::new(&DnsConfig {
        servers: vec![server.addr],
        timeout: Duration::from_secs(1),
        concurrency: 32,
    })
    .expect("client")
    .scoped(Some("good.test"));
    for n in 0..40 {
        assert_eq!(
            dns.txt(&format!("w{n}.good.test")).await,
            Answer::nx_domain()
        );
    }
    assert_eq!(dns.window(), 32);
    server.go_silent();
    assert_eq!(
        dns.txt("_dmarc.good.test").await,
        Answer::Failed(Failure::Timeout)
    );
    assert_eq!(dns.window(), 22);
    assert_eq!(dns.stats().skipped, 0);
}
