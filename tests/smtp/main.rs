//! SMTP probing (issue 10: `mailaudit smtp`) against a real MTA: Debian's Postfix, started by
//! the test as a private instance on 127.0.0.1 (`tests/support/postfix.rs`, which
//! `scripts/test` provides for by installing `postfix`, `sasl2-bin` and `libsasl2-modules`).
//!
//! `harness.rs` shows the instance is what the tests of `mailaudit smtp` rely on, with a client
//! of its own (`client.rs`, tokio-rustls): the three services greet, STARTTLS is offered on the
//! port-25-style service and required on submission, AUTH is offered only under TLS and takes
//! the right password only, and the implicit-TLS service speaks TLS at once with a certificate
//! that only the test CA vouches for.

#[path = "../support/mod.rs"]
#[allow(unused_imports)]
mod support;

#[path = "../support/postfix.rs"]
mod postfix;

mod client;
mod harness;
mod postfix_probe;
mod review;
mod scripted;
