//! An HTTPS server on 127.0.0.1 in the test process (tokio-rustls), answering fixed replies by
//! path, and the mark certificates (BIMI's VMC or CMC) a test CA issues for it to serve.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use base64::Engine;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::smtp_server::{Ca, Leaf};

/// One answer of the test server.
#[derive(Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Send Content-Length (without it the body ends when the connection closes).
    pub length: bool,
}

impl Reply {
    /// A 200 with `body` of `content_type`, its length announced.
    pub fn ok(content_type: &str, body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status: 200,
            headers: vec![("Content-Type".to_owned(), content_type.to_owned())],
            body: body.into(),
            length: true,
        }
    }
}

/// An HTTPS server on 127.0.0.1 answering each path from `routes` (404 otherwise), one request
/// per connection, in a thread of its own; it stops with the test process.
pub fn serve(config: Arc<rustls::ServerConfig>, routes: BTreeMap<String, Reply>) -> u16 {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("HTTPS test runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            tx.send(listener.local_addr().expect("address").port())
                .expect("report the port");
            let acceptor = tokio_rustls::TlsAcceptor::from(config);
            let routes = Arc::new(routes);
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let acceptor = acceptor.clone();
                let routes = Arc::clone(&routes);
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let mut request = Vec::new();
                    let mut buffer = [0u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 16_384 {
                        match tls.read(&mut buffer).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buffer[..n]),
                        }
                    }
                    let text = String::from_utf8_lossy(&request);
                    let path = text.split_whitespace().nth(1).unwrap_or("/").to_owned();
                    let reply = routes.get(&path).cloned().unwrap_or(Reply {
                        status: 404,
                        headers: Vec::new(),
                        body: b"not found".to_vec(),
                        length: true,
                    });
                    let mut head = format!("HTTP/1.1 {} X\r\nConnection: close\r\n", reply.status);
                    for (name, value) in &reply.headers {
                        let _ = write!(head, "{name}: {value}\r\n");
                    }
                    if reply.length {
                        let _ = write!(head, "Content-Length: {}\r\n", reply.body.len());
                    }
                    head.push_str("\r\n");
                    let _ = tls.write_all(head.as_bytes()).await;
                    let _ = tls.write_all(&reply.body).await;
                    let _ = tls.shutdown().await;
                });
            }
        });
    });
    rx.recv_timeout(std::time::Duration::from_secs(10))
        .expect("HTTPS server started")
}

/// id-pe-logotype and id-kp-BrandIndicatorforMessageIdentification.
const LOGOTYPE: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 1, 12];
const BIMI_USAGE: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 3, 31];

/// A mark certificate `ca` issues for `names`, valid from `from` to `to` days from now, with the
/// logotype extension (and the BIMI key usage) when `logotype`; the PEM chain, mark first.
pub fn mark(ca: &Ca, names: &[&str], from: i64, to: i64, logotype: bool) -> String {
    let identity = ca.issue_with(&Leaf::valid_for(names).between(from, to), |params| {
        params.extended_key_usages =
            vec![rcgen::ExtendedKeyUsagePurpose::Other(BIMI_USAGE.to_vec())];
        if logotype {
            // The logo is a data: URI in a LogotypeExtn; its presence is what is checked.
            params
                .custom_extensions
                .push(rcgen::CustomExtension::from_oid_content(
                    LOGOTYPE,
                    vec![0x30, 0x00],
                ));
        }
    });
    let identity = identity.with_chain(ca);
    let mut pem = String::new();
    for der in &identity.chain {
        let base64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
        let lines: Vec<&str> = base64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        let _ = write!(
            pem,
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            lines.join("\n")
        );
    }
    pem
}
