//! Issue 10, part 4: `monitor` watching a mail server (`smtp = ["HOST:PORT"]`). A small
//! scripted SMTP server on 127.0.0.1 (greeting, EHLO with STARTTLS, a TLS handshake with a
//! certificate made here with rcgen, EHLO again, QUIT), a private CA given as `ca_file`, and
//! three runs: a long-lived certificate (the baseline), a certificate that expires in 5 days
//! (a worse change naming it), nothing listening any more (a worse change: the port stopped
//! answering).

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::*;

/// The only address the test server listens on.
const LOOPBACK: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// The name the server greets with.
const GREETING_NAME: &str = "mail.monitor.test";

/// A test CA and the server certificates it signs, for 127.0.0.1.
struct Pki {
    ca: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
}

impl Pki {
    fn new() -> Pki {
        let mut params =
            rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Monitor Test CA");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let key = rcgen::KeyPair::generate().expect("CA key");
        Pki {
            ca: rcgen::CertifiedIssuer::self_signed(params, key).expect("CA certificate"),
        }
    }

    /// A server configuration presenting a certificate for 127.0.0.1 valid from yesterday
    /// until `days` from now, and that end of validity.
    fn server(&self, days: i64) -> (Arc<rustls::ServerConfig>, time::OffsetDateTime) {
        let now = time::OffsetDateTime::now_utc();
        // Whole seconds, as a certificate holds them.
        let not_after = (now + time::Duration::days(days))
            .replace_nanosecond(0)
            .expect("whole seconds");
        let mut params =
            rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()]).expect("names");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "127.0.0.1");
        params.not_before = now - time::Duration::days(1);
        params.not_after = not_after;
        params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let key = rcgen::KeyPair::generate().expect("server key");
        let certificate = params.signed_by(&key, &self.ca).expect("sign");
        let chain: Vec<CertificateDer<'static>> = vec![certificate.der().clone()];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .expect("server certificate");
        (Arc::new(config), not_after)
    }
}

/// A scripted SMTP server on 127.0.0.1: greets, offers STARTTLS, does TLS with its
/// certificate, answers EHLO again and QUIT; everything else is 502. Every command line is
/// logged. Stopped (its port closed) when [`SmtpServer::stop`] is called or it is dropped.
struct SmtpServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
    received: Arc<Mutex<Vec<String>>>,
}

impl SmtpServer {
    /// Listens on `port` of 127.0.0.1 (0: a free one). A port just closed by the server before
    /// is taken again; a few tries allow for the previous listener's last moments.
    fn start(port: u16, tls: Arc<rustls::ServerConfig>) -> SmtpServer {
        let mut tries = 0;
        let listener = loop {
            match TcpListener::bind((LOOPBACK, port)) {
                Ok(listener) => break listener,
                Err(error) if tries < 50 => {
                    tries += 1;
                    eprintln!("bind 127.0.0.1:{port}: {error}; trying again");
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(error) => panic!("bind 127.0.0.1:{port}: {error}"),
            }
        };
        let addr = listener.local_addr().expect("local address");
        let stop = Arc::new(AtomicBool::new(false));
        let received = Arc::new(Mutex::new(Vec::new()));
        let accept = {
            let (stop, received) = (Arc::clone(&stop), Arc::clone(&received));
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let (tls, received) = (Arc::clone(&tls), Arc::clone(&received));
                    std::thread::spawn(move || {
                        let _ = dialogue(stream, &tls, &received);
                    });
                }
            })
        };
        SmtpServer {
            addr,
            stop,
            accept: Some(accept),
            received,
        }
    }

    fn port(&self) -> u16 {
        self.addr.port()
    }

    fn received(&self) -> Vec<String> {
        self.received.lock().unwrap().clone()
    }

    /// Stops accepting and closes the port: once this returns, nothing listens on it.
    fn stop(&mut self) {
        if let Some(accept) = self.accept.take() {
            self.stop.store(true, Ordering::SeqCst);
            // Wake the accept loop so that it sees the flag and drops the listener.
            let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(5));
            accept.join().expect("the accept loop ends");
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Reads one command line (without its line end); `None` when the client went.
fn read_command(reader: &mut impl BufRead) -> Option<String> {
    let mut line = String::new();
    match reader.read_line(&mut line) {
        Ok(n) if n > 0 => Some(line.trim_end_matches(['\r', '\n']).to_owned()),
        _ => None,
    }
}

fn verb(line: &str) -> String {
    line.split_whitespace()
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase()
}

/// One connection: plain text until STARTTLS, then TLS until QUIT.
fn dialogue(
    stream: TcpStream,
    tls: &Arc<rustls::ServerConfig>,
    received: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_nodelay(true)?;
    let mut reader = BufReader::new(stream);
    write!(
        reader.get_mut(),
        "220 {GREETING_NAME} ESMTP monitor test\r\n"
    )?;
    loop {
        let Some(line) = read_command(&mut reader) else {
            return Ok(());
        };
        received.lock().unwrap().push(line.clone());
        let answer = match verb(&line).as_str() {
            "EHLO" => format!("250-{GREETING_NAME}\r\n250-STARTTLS\r\n250 8BITMIME\r\n"),
            "STARTTLS" => {
                reader
                    .get_mut()
                    .write_all(b"220 2.0.0 Ready to start TLS\r\n")?;
                break;
            }
            "QUIT" => {
                reader.get_mut().write_all(b"221 2.0.0 Bye\r\n")?;
                return Ok(());
            }
            _ => "502 5.5.2 Error: command not recognized\r\n".to_owned(),
        };
        reader.get_mut().write_all(answer.as_bytes())?;
    }
    // The client sends nothing after STARTTLS before its 220: nothing is left in the buffer.
    let connection =
        rustls::ServerConnection::new(Arc::clone(tls)).map_err(std::io::Error::other)?;
    let mut reader = BufReader::new(rustls::StreamOwned::new(connection, reader.into_inner()));
    loop {
        let Some(line) = read_command(&mut reader) else {
            return Ok(());
        };
        received.lock().unwrap().push(format!("(TLS) {line}"));
        let answer: &[u8] = match verb(&line).as_str() {
            "EHLO" => b"250-mail.monitor.test\r\n250 8BITMIME\r\n",
            "QUIT" => {
                let tls = reader.get_mut();
                tls.write_all(b"221 2.0.0 Bye\r\n")?;
                tls.conn.send_close_notify();
                tls.flush()?;
                return Ok(());
            }
            _ => b"502 5.5.2 Error: command not recognized\r\n",
        };
        reader.get_mut().write_all(answer)?;
        reader.get_mut().flush()?;
    }
}

/// A monitor.toml watching `127.0.0.1:PORT` with `ca_file`, written in `dir`.
fn write_config(dir: &Path, port: u16, ca_file: &Path) -> PathBuf {
    let config = dir.join("monitor.toml");
    std::fs::write(
        &config,
        format!(
            "# Written by tests/monitor/smtp.rs.\nsmtp = [\"127.0.0.1:{port}\"]\nca_file = '{}'\n",
            ca_file.display()
        ),
    )
    .expect("write the config");
    config
}

/// One `monitor --once` run of `config`, in `format`.
fn run_config(config: &Path, db: &Path, extra: &[&str]) -> Output {
    let mut args = support::monitor_once(config, db);
    args.extend_from_slice(extra);
    command(world(1), &args).output().expect("run mailaudit")
}

/// One `monitor --once --format json` run of `config` with `--metrics`.
fn run_json(config: &Path, db: &Path, metrics: &Path) -> (Output, RunReport) {
    let output = run_config(
        config,
        db,
        &[
            "--format",
            "json",
            "--metrics",
            metrics.to_str().expect("UTF-8 path"),
        ],
    );
    let report = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "monitor run: {e}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output, report)
}

fn find<'a>(changes: &'a [ChangeOut], kind: &str, code_or_record: &str) -> Option<&'a ChangeOut> {
    changes.iter().find(|c| {
        c.kind == kind
            && (c.record.as_deref() == Some(code_or_record)
                || c.message.contains(&format!("finding {code_or_record}")))
    })
}

/// What the three runs of one server share: its config and history, and the names of its
/// target, record and metric series.
struct Watched {
    config: PathBuf,
    db: PathBuf,
    metrics: PathBuf,
    port: u16,
    target: String,
    record: String,
    up: String,
    expiry: String,
}

impl Watched {
    fn new(dir: &Path, db: PathBuf, port: u16, ca_file: &Path) -> Watched {
        Watched {
            config: write_config(dir, port, ca_file),
            db,
            metrics: dir.join("mailaudit.prom"),
            port,
            target: format!("127.0.0.1:{port}"),
            record: format!("smtp:{port}"),
            up: format!("mailaudit_smtp_up{{host=\"127.0.0.1\",port=\"{port}\"}}"),
            expiry: format!(
                "mailaudit_smtp_certificate_expiry_seconds{{host=\"127.0.0.1\",port=\"{port}\"}}"
            ),
        }
    }

    /// A run, its exit status checked.
    fn run(&self, status: i32) -> RunReport {
        let (output, report) = run_json(&self.config, &self.db, &self.metrics);
        assert_eq!(
            output.status.code(),
            Some(status),
            "{report:?}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        report
    }

    /// `mailaudit_smtp_up` and `mailaudit_smtp_certificate_expiry_seconds` of the server.
    fn gauges(&self) -> (Option<f64>, Option<f64>) {
        let text = std::fs::read_to_string(&self.metrics).expect("the metrics file");
        (gauge(&text, &self.up), gauge(&text, &self.expiry))
    }
}

/// A Unix time as a sample value.
#[allow(clippy::cast_precision_loss)] // seconds, far below 2^53
fn unix(time: time::OffsetDateTime) -> f64 {
    time.unix_timestamp() as f64
}

#[test]
fn a_certificate_expiring_soon_and_a_port_that_stopped_answering_are_worse_changes() {
    let (dir, db) = temp();
    let pki = Pki::new();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, pki.ca.pem()).expect("write the CA file");

    // Run 1: a certificate valid for a year. The baseline: nothing to report.
    let (tls, long_lived) = pki.server(365);
    let mut server = SmtpServer::start(0, tls);
    let watched = Watched::new(dir.path(), db, server.port(), &ca_file);
    let first = watched.run(0);
    assert!(first.changes.is_empty(), "{:?}", first.changes);
    assert_eq!(first.targets.len(), 1);
    assert_eq!(first.targets[0].target, watched.target);
    assert_eq!(first.targets[0].kind, "smtp");
    assert!(first.targets[0].baseline);
    assert!(!first.targets[0].incomplete);
    let commands = server.received();
    assert_eq!(
        commands
            .iter()
            .map(|c| verb(c.trim_start_matches("(TLS) ")))
            .collect::<Vec<_>>(),
        ["EHLO", "STARTTLS", "EHLO", "QUIT"],
        "a client's session, over TLS after STARTTLS, no AUTH, no mail: {commands:?}"
    );
    assert!(commands[2].starts_with("(TLS) "), "{commands:?}");
    assert_eq!(watched.gauges(), (Some(1.0), Some(unix(long_lived))));

    // Run 2: the server replaced by one whose certificate expires in 5 days.
    server.stop();
    let (tls, expiring) = pki.server(5);
    let mut server = SmtpServer::start(watched.port, tls);
    let second = watched.run(1);
    assert_certificate_expiring(&watched, &second, expiring);

    // Run 3: nothing listens on the port any more.
    server.stop();
    drop(server);
    let third = watched.run(1);
    assert_port_stopped_answering(&watched, &third);

    // The history of the server, by its name.
    let timeline = history(&watched.db, &watched.target);
    assert_eq!(timeline.target, watched.target);
    assert_eq!(timeline.runs.len(), 3);
    assert!(timeline.runs[0].baseline);
    assert!(
        timeline.runs[2]
            .changes
            .iter()
            .any(|c| c.record.as_deref() == Some(watched.record.as_str()) && c.worse),
        "{:?}",
        timeline.runs[2].changes
    );

    // The table lists the server as it lists a domain.
    let output = run_config(&watched.config, &watched.db, &["--format", "table"]);
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(
        table
            .lines()
            .any(|line| line.contains(&watched.target) && line.contains("unchanged")),
        "{table}"
    );
}

/// Run 2: the new certificate is a changed record naming it, and its expiry a worse change.
fn assert_certificate_expiring(
    watched: &Watched,
    second: &RunReport,
    expiring: time::OffsetDateTime,
) {
    assert!(second.worse);
    let renewed = find(&second.changes, "record-changed", &watched.record)
        .unwrap_or_else(|| panic!("the certificate's change: {:?}", second.changes));
    let not_after = expiring
        .format(&time::format_description::well_known::Rfc3339)
        .expect("RFC 3339");
    assert_eq!(renewed.target, watched.target);
    assert!(
        renewed.message.contains("CN=127.0.0.1") && renewed.message.contains(&not_after),
        "the change names the new certificate: {renewed:?}"
    );
    assert_eq!(
        renewed.new.as_ref().and_then(|v| v.as_str()),
        Some(format!("answers: TLSv1.3, certificate CN=127.0.0.1, not after {not_after}").as_str())
    );
    let warning = find(&second.changes, "finding-new", "smtp.cert-expiring")
        .unwrap_or_else(|| panic!("the expiring certificate: {:?}", second.changes));
    assert!(
        warning.worse,
        "a warning, worse at --fail-on error: {warning:?}"
    );
    assert!(warning.message.contains("expires in"), "{warning:?}");
    assert_eq!(watched.gauges(), (Some(1.0), Some(unix(expiring))));
    let text = std::fs::read_to_string(&watched.metrics).unwrap();
    assert_eq!(
        gauge(&text, r#"mailaudit_last_run_changes{worse="true"}"#),
        Some(1.0),
        "{text}"
    );
}

/// Run 3: the port stopped answering, a worse change; the certificate, not seen, is neither
/// resolved nor exported.
fn assert_port_stopped_answering(watched: &Watched, third: &RunReport) {
    let silent = find(&third.changes, "record-changed", &watched.record)
        .unwrap_or_else(|| panic!("the port's change: {:?}", third.changes));
    assert!(silent.worse, "{silent:?}");
    assert!(
        silent.message.starts_with(&format!(
            "SMTP port {} stopped answering: connection refused",
            watched.port
        )),
        "{silent:?}"
    );
    let refused = find(&third.changes, "finding-new", "smtp.connect-refused")
        .unwrap_or_else(|| panic!("the refused connection: {:?}", third.changes));
    assert!(refused.worse, "an error is worse at --fail-on error");
    assert!(
        find(&third.changes, "finding-resolved", "smtp.cert-expiring").is_none(),
        "a certificate not seen is not resolved: {:?}",
        third.changes
    );
    assert_eq!(watched.gauges(), (Some(0.0), None), "no certificate seen");
}

#[test]
fn a_certificate_already_expiring_alerts_on_the_first_run() {
    let (dir, db) = temp();
    let pki = Pki::new();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, pki.ca.pem()).unwrap();
    let (tls, _) = pki.server(3);
    let server = SmtpServer::start(0, tls);
    let config = write_config(dir.path(), server.port(), &ca_file);
    let (output, first) = run_json(&config, &db, &dir.path().join("m.prom"));
    assert_eq!(output.status.code(), Some(1), "{first:?}");
    let alert = find(&first.changes, "finding-new", "smtp.cert-expiring")
        .unwrap_or_else(|| panic!("{:?}", first.changes));
    assert!(alert.worse);
    assert!(
        alert.message.contains("first run of this target"),
        "{alert:?}"
    );
    assert!(first.targets[0].baseline);
}

#[test]
fn bad_smtp_entries_and_ca_files_stop_the_monitor_before_anything_runs() {
    let (dir, db) = temp();
    let config = dir.path().join("monitor.toml");
    let cases: [(&str, &str); 4] = [
        (
            "smtp = [\"127.0.0.1:0\"]",
            "smtp: '127.0.0.1:0': the port must be a number",
        ),
        ("smtp = [\"::1\"]", "in brackets"),
        (
            "smtp = [\"127.0.0.1:2525\"]\ncafile = \"x\"",
            "unknown field `cafile`",
        ),
        (
            "smtp = [\"127.0.0.1:2525\"]\nca_file = 'no-such-ca.pem'",
            "ca_file: cannot read the CA file 'no-such-ca.pem'",
        ),
    ];
    for (text, expected) in cases {
        std::fs::write(&config, text).unwrap();
        let output = run_config(&config, &db, &[]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{text}: {stderr}");
        assert!(stderr.contains(expected), "{text}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(!db.exists(), "nothing stored: {text}");
    }
    // The CA file is an input: never an output's path.
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, Pki::new().ca.pem()).unwrap();
    let before = std::fs::read(&ca_file).unwrap();
    let config = write_config(dir.path(), 2525, &ca_file);
    for option in ["--output", "--metrics"] {
        let output = run_config(&config, &db, &[option, ca_file.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{option}: {stderr}");
        assert!(stderr.contains("`ca_file` of the config"), "{stderr}");
        assert!(stderr.contains("same file"), "{stderr}");
        assert_eq!(std::fs::read(&ca_file).unwrap(), before);
        assert!(!db.exists());
    }
}
