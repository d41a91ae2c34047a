//! Serves the test fixtures (`fixtures/zones/`) on loopback, to try mailaudit by hand the way the
//! tests do:
//!
//! ```sh
//! cargo run --example fixture_dns -- 127.0.0.1:5353 &
//! cargo run --release -- audit hostile.test --resolver 127.0.0.1:5353
//! ```
//!
//! Zone directories given after the address are served too, each replacing zones of the same
//! name (`fixture_dns 127.0.0.1:5353 fixtures/migrate/zones` for `mailaudit migrate`).
//!
//! With `FIXTURE_DNS_LOG=1` in its environment it prints each question it is asked (name and
//! type) on standard error: what an audit asks, and how many.

#[path = "../tests/support/dns_server.rs"]
#[allow(dead_code)] // the tests use more of it than this server does
mod dns_server;

fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:5353".to_owned())
        .parse()
        .expect("usage: fixture_dns [IP:PORT]");
    assert!(
        std::net::SocketAddr::ip(&addr).is_loopback(),
        "the fixture server listens on loopback only"
    );
    let overlays: Vec<std::path::PathBuf> = std::env::args().skip(2).map(Into::into).collect();
    let dirs: Vec<&std::path::Path> = overlays.iter().map(AsRef::as_ref).collect();
    let server = dns_server::start_with_overlays(addr, &dirs);
    eprintln!(
        "serving fixtures/zones {} on {} (UDP and TCP); Ctrl-C stops",
        overlays
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(" "),
        server.addr
    );
    loop {
        std::thread::park();
    }
}
