//! The DNS layer's DNSSEC questions against unbound: the AD bit of a validated answer, SERVFAIL
//! for a bogus zone and its answer with CD set, and a resolver that does not validate.

use std::time::Duration;

use mailaudit::dns::{Answer, Dns, DnsConfig, Failure};

use crate::support::dnssec::{Signing, World, Zone};

fn client(world: &World) -> Dns {
    Dns::new(&DnsConfig {
        servers: vec![world.resolver],
        timeout: Duration::from_secs(3),
        concurrency: 16,
    })
    .expect("client")
}

fn zones() -> Vec<Zone> {
    vec![
        Zone::new("signed.test", Signing::Signed, "@ 300 IN TXT \"hello\"\n"),
        Zone::new(
            "unsigned.test",
            Signing::Unsigned,
            "@ 300 IN TXT \"hello\"\n",
        ),
        Zone::new("bogus.test", Signing::Bogus, "@ 300 IN TXT \"hello\"\n"),
    ]
}

#[tokio::test]
async fn a_validating_resolver_sets_ad_for_a_signed_zone_only() {
    if !World::available("a_validating_resolver_sets_ad_for_a_signed_zone_only") {
        return;
    }
    let world = World::start(&zones(), true);
    let dns = client(&world);
    let validation = dns.resolver_validation().await;
    assert_eq!(validation.validates, Some(true), "{}", world.log());
    assert_eq!(validation.server, Some(world.resolver));

    let signed = dns.soa_validated("signed.test", false).await;
    assert!(signed.authentic, "{signed:?}\n{}", world.log());
    assert_eq!(signed.answer.records(), ["ns.root"]);
    assert!(matches!(
        dns.ds("signed.test").await,
        Answer::Records { .. }
    ));
    // Denial of existence validates too (NSEC3): a name that does not exist is NXDOMAIN.
    assert_eq!(dns.txt("nope.signed.test").await, Answer::nx_domain());

    let unsigned = dns.soa_validated("unsigned.test", false).await;
    assert!(!unsigned.authentic, "{unsigned:?}");
    assert_eq!(unsigned.answer.records(), ["ns.root"]);
    assert_eq!(dns.ds("unsigned.test").await, Answer::no_data());

    let bogus = dns.soa_validated("bogus.test", false).await;
    assert_eq!(bogus.answer, Answer::Failed(Failure::ServFail), "{bogus:?}");
    let unchecked = dns.soa_validated("bogus.test", true).await;
    assert_eq!(unchecked.answer.records(), ["ns.root"], "{unchecked:?}");
    assert!(!unchecked.authentic);
    assert!(matches!(dns.ds("bogus.test").await, Answer::Records { .. }));
}

#[tokio::test]
async fn a_resolver_that_does_not_validate_never_sets_ad() {
    if !World::available("a_resolver_that_does_not_validate_never_sets_ad") {
        return;
    }
    let world = World::start(&zones(), false);
    let dns = client(&world);
    assert_eq!(dns.resolver_validation().await.validates, Some(false));
    let signed = dns.soa_validated("signed.test", false).await;
    assert!(!signed.authentic, "{signed:?}");
    assert_eq!(signed.answer.records(), ["ns.root"]);
    let bogus = dns.soa_validated("bogus.test", false).await;
    assert_eq!(
        bogus.answer.records(),
        ["ns.root"],
        "not validated, so answered"
    );
}
