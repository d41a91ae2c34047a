//! A real MTA for the SMTP tests: Debian's Postfix, started as a private instance of its own
//! (`postfix -c DIR start`) listening on loopback only (127.0.0.1), with three services at
//! ports picked here:
//!
//! - `smtp`: port-25 style, STARTTLS offered (`smtpd_tls_security_level=may`), no AUTH;
//! - `submission`: STARTTLS required (`encrypt`), then AUTH PLAIN and LOGIN
//!   (`smtpd_tls_auth_only=yes`: AUTH is not even offered before TLS);
//! - `smtps`: implicit TLS (`smtpd_tls_wrappermode=yes`), AUTH PLAIN and LOGIN.
//!
//! Its certificate, for [`HOST`] and its IP address, is signed by a CA made for this run (rcgen),
//! whose PEM file is [`Postfix::ca_file`] (`mailaudit smtp --ca-file`). One SASL user
//! ([`Postfix::user`], [`Postfix::password`]) is in a sasldb of its own (Cyrus SASL, auxprop
//! sasldb). Nothing is delivered anywhere: every transport is `error`, relaying needs AUTH, and
//! no DNS is asked.
//!
//! Use [`Postfix::shared`] (one instance for the whole test binary, started by the first test
//! that asks) or [`Postfix::start`] (an instance of one's own, stopped when dropped), or
//! [`Postfix::start_on_standard_ports`] (ports 25, 587 and 465 at a loopback address of its
//! own, 127.x.y.z, for a probe of every standard port of a host). Either way a watchdog process runs `postfix -c DIR stop` and removes the directory as soon as the
//! handle drops or the test process ends, however it ends.
//!
//! It needs root (Postfix's queue belongs to the `postfix` user and its master runs as root)
//! and Debian's `postfix`, `sasl2-bin` and `libsasl2-modules`: `scripts/test` installs them.
//! Without them the test fails, saying so; it never passes unchecked.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};

/// The server's name: `myhostname`, in its greeting and its certificate. No DNS knows it: a
/// test that gives mailaudit this name serves it from its own zone.
pub const HOST: &str = "mail.postfix.test";
/// The address the services of [`Postfix::start`] and [`Postfix::shared`] listen on (an IP
/// address SAN of the certificate, as is the address of [`Postfix::start_on_standard_ports`]).
pub const IP: Ipv4Addr = Ipv4Addr::LOCALHOST;
/// The SASL realm the user is in (`smtpd_sasl_local_domain`): `USER` and `USER@SASL_DOMAIN`
/// both log in.
pub const SASL_DOMAIN: &str = "postfix.test";
/// The one SASL user.
pub const USER: &str = "mailaudit";
/// Its password.
pub const PASSWORD: &str = "s3cret-submission-pw";

/// The programs and files the harness needs, with the Debian package of each.
const NEEDED: &[(&str, &str)] = &[
    ("/usr/sbin/postfix", "postfix"),
    ("/usr/sbin/postconf", "postfix"),
    ("/usr/sbin/saslpasswd2", "sasl2-bin"),
];
/// Set (non-empty), the instance's directory (configuration, `maillog`) is left in place after
/// Postfix is stopped, for a look at what happened.
pub const KEEP_ENV: &str = "MAILAUDIT_TEST_POSTFIX_KEEP";
/// How long starting may take before the test gives up (`postfix start`, then a greeting on
/// every port).
const START_LIMIT: Duration = Duration::from_mins(1);
/// How long one read or write of the readiness checks may take.
const IO_LIMIT: Duration = Duration::from_secs(10);

/// A running Postfix instance of this test process.
#[derive(Debug)]
pub struct Postfix {
    /// [`HOST`].
    pub host: &'static str,
    /// The address every service listens on: [`IP`], or a loopback address of its own for
    /// [`Postfix::start_on_standard_ports`].
    pub ip: Ipv4Addr,
    /// Port-25 style: STARTTLS offered, no AUTH.
    pub smtp_port: u16,
    /// Submission: STARTTLS required, then AUTH PLAIN LOGIN.
    pub submission_port: u16,
    /// Implicit TLS, then AUTH PLAIN LOGIN.
    pub smtps_port: u16,
    /// The PEM file of the CA that signed the server's certificate, the only one to trust.
    pub ca_file: PathBuf,
    /// [`USER`].
    pub user: &'static str,
    /// [`PASSWORD`].
    pub password: &'static str,
    /// The instance's directory (`etc/` is its `config_directory`, `maillog` its log).
    pub dir: PathBuf,
    /// How long starting took, checks and greetings included.
    pub started_in: Duration,
    /// The watchdog's standard input: closing it (drop, or this process ending) stops Postfix.
    watchdog_stdin: Option<ChildStdin>,
    watchdog: Option<Child>,
}

impl Postfix {
    /// The instance shared by every test of this binary, started by the first caller (the
    /// others wait for it). It is stopped when the test process ends.
    pub fn shared() -> &'static Postfix {
        static SHARED: OnceLock<Postfix> = OnceLock::new();
        SHARED.get_or_init(Postfix::start)
    }

    /// Starts an instance of one's own, stopped when the handle drops. Panics, saying why and
    /// what to do, when it cannot start (not root, Postfix missing, a service that never
    /// greets).
    pub fn start() -> Postfix {
        Postfix::start_listening(|| {
            let [smtp, submission, smtps] = free_ports();
            (
                IP,
                Ports {
                    smtp,
                    submission,
                    smtps,
                },
            )
        })
    }

    /// Starts an instance of one's own on the standard ports (smtp 25, submission 587, smtps
    /// 465), at a loopback address no other instance uses (127.x.y.z, picked at random), so
    /// that a probe of every standard port of a host (`--all-ports`) finds it; stopped when the
    /// handle drops. The certificate holds this address too.
    pub fn start_on_standard_ports() -> Postfix {
        Postfix::start_listening(|| {
            (
                random_loopback(),
                Ports {
                    smtp: 25,
                    submission: 587,
                    smtps: 465,
                },
            )
        })
    }

    fn start_listening(pick: impl Fn() -> (Ipv4Addr, Ports)) -> Postfix {
        require_root_and_packages();
        let started = Instant::now();
        let mut last_error = String::new();
        // Ports are picked free, then released for Postfix to bind: another process may take
        // one in between. That fails the start with EADDRINUSE; new ones are picked then.
        for _attempt in 0..3 {
            let (ip, ports) = pick();
            match try_start(started, ip, &ports) {
                Ok(postfix) => {
                    eprintln!(
                        "postfix: {} on {} (smtp {}, submission {}, smtps {}) started in {} ms \
                         in {}",
                        postfix_version(),
                        postfix.ip,
                        postfix.smtp_port,
                        postfix.submission_port,
                        postfix.smtps_port,
                        postfix.started_in.as_millis(),
                        postfix.dir.display()
                    );
                    return postfix;
                }
                Err(Failure::PortTaken(message)) => last_error = message,
                Err(Failure::Other(message)) => panic!("{message}"),
            }
        }
        panic!(
            "Postfix could not bind its ports, three times (does another server listen on all \
             addresses at these ports, such as the distribution's own Postfix?): {last_error}"
        )
    }

    /// The port-25-style service's address.
    pub fn smtp_addr(&self) -> SocketAddr {
        SocketAddr::V4(SocketAddrV4::new(self.ip, self.smtp_port))
    }

    /// The submission service's address.
    pub fn submission_addr(&self) -> SocketAddr {
        SocketAddr::V4(SocketAddrV4::new(self.ip, self.submission_port))
    }

    /// The implicit-TLS service's address.
    pub fn smtps_addr(&self) -> SocketAddr {
        SocketAddr::V4(SocketAddrV4::new(self.ip, self.smtps_port))
    }

    /// The instance's `config_directory`.
    pub fn config_dir(&self) -> PathBuf {
        self.dir.join("etc")
    }

    /// What Postfix logged so far (`maillog_file`): for failure messages.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("maillog")).unwrap_or_default()
    }

    /// A TLS client configuration that trusts [`Postfix::ca_file`] and nothing else.
    pub fn tls_client_config(&self) -> Arc<rustls::ClientConfig> {
        client_config(&self.ca_file)
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        // The watchdog stops Postfix and removes the directory once its standard input closes;
        // wait for it, so that the instance is gone when the handle is.
        drop(self.watchdog_stdin.take());
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.wait();
        }
    }
}

enum Failure {
    /// A port was taken between picking it and Postfix binding it: try other ports.
    PortTaken(String),
    Other(String),
}

/// Fails the test with what to do when the harness cannot run here.
fn require_root_and_packages() {
    let mut missing: Vec<&str> = NEEDED
        .iter()
        .filter(|(path, _)| !Path::new(path).exists())
        .map(|(_, package)| *package)
        .collect();
    if !sasl_plain_plugin_installed() {
        missing.push("libsasl2-modules");
    }
    missing.dedup();
    assert!(
        missing.is_empty(),
        "tests/smtp runs a real Postfix, and Debian's {} {} missing. Run scripts/test as root \
         (it installs them), or: apt-get install --no-install-recommends postfix sasl2-bin \
         libsasl2-modules",
        missing.join(", "),
        if missing.len() == 1 { "is" } else { "are" }
    );
    let uid = effective_uid();
    assert!(
        uid == Some(0),
        "tests/smtp starts its own Postfix instance, which must be started as root (this test \
         runs as uid {}): run scripts/test as root, as CI does",
        uid.map_or_else(|| "unknown".to_owned(), |uid| uid.to_string())
    );
}

/// Cyrus SASL's PLAIN mechanism (Debian's `libsasl2-modules`), in the multiarch directory.
fn sasl_plain_plugin_installed() -> bool {
    let Ok(entries) = fs::read_dir("/usr/lib") else {
        return false;
    };
    entries
        .filter_map(Result::ok)
        .any(|entry| entry.path().join("sasl2/libplain.so.2").exists())
        || Path::new("/usr/lib/sasl2/libplain.so.2").exists()
}

/// This process's effective user id, from `/proc/self/status` (`Uid: real effective ...`).
fn effective_uid() -> Option<u32> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

fn postfix_version() -> String {
    postconf(&["-d", "-h", "mail_version"]).map_or_else(
        |e| format!("version unknown ({e})"),
        |v| format!("Postfix {}", v.trim()),
    )
}

/// `postconf ARGS`, against the built-in defaults.
fn postconf(args: &[&str]) -> Result<String, String> {
    let output = Command::new("/usr/sbin/postconf")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("postconf: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "postconf {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The ids of a user and a group, from `id`.
fn id_of(flag: &str, user: &str) -> Result<u32, String> {
    let output = Command::new("id")
        .args([flag, user])
        .output()
        .map_err(|e| format!("id {flag} {user}: {e}"))?;
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .map_err(|_| format!("id {flag} {user}: no such user (is Postfix installed?)"))
}

/// Three distinct free ports on 127.0.0.1 (held together while picked, so they differ).
fn free_ports() -> [u16; 3] {
    let listeners: Vec<TcpListener> = (0..3)
        .map(|_| TcpListener::bind((IP, 0)).expect("bind a free port on 127.0.0.1"))
        .collect();
    let port = |i: usize| listeners[i].local_addr().expect("local address").port();
    [port(0), port(1), port(2)]
}

/// A loopback address other than 127.0.0.1, at random: Linux answers on all of 127.0.0.0/8.
fn random_loopback() -> Ipv4Addr {
    use std::hash::{BuildHasher, Hasher};
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
        .to_le_bytes();
    // Each byte 1 to 254, so never 127.0.0.1 itself.
    let byte = |b: u8| b % 254 + 1;
    Ipv4Addr::new(127, byte(random[0]), byte(random[1]), byte(random[2]))
}

fn try_start(started: Instant, ip: Ipv4Addr, ports: &Ports) -> Result<Postfix, Failure> {
    let other = Failure::Other;
    // The directory is removed by the watchdog, not by `TempDir`: a shared instance lives in a
    // static, which is never dropped.
    let dir = tempfile::Builder::new()
        .prefix("mailaudit-postfix-")
        .tempdir()
        .map_err(|e| other(format!("temporary directory: {e}")))?
        .keep();
    // From here on the watchdog cleans up whatever happens.
    let (watchdog, watchdog_stdin) = spawn_watchdog(&dir).map_err(other)?;
    let mut postfix = Postfix {
        host: HOST,
        ip,
        smtp_port: ports.smtp,
        submission_port: ports.submission,
        smtps_port: ports.smtps,
        ca_file: dir.join("tls/ca.pem"),
        user: USER,
        password: PASSWORD,
        dir: dir.clone(),
        started_in: Duration::ZERO,
        watchdog_stdin: Some(watchdog_stdin),
        watchdog: Some(watchdog),
    };
    lay_out(&dir, ip, ports).map_err(other)?;
    run_postfix("check", &mut postfix, started).map_err(other)?;
    if let Err(message) = run_postfix("start", &mut postfix, started) {
        let taken = message.contains("Address already in use");
        return Err(if taken {
            Failure::PortTaken(message)
        } else {
            Failure::Other(message)
        });
    }
    wait_until_ready(&postfix, started)?;
    postfix.started_in = started.elapsed();
    Ok(postfix)
}

struct Ports {
    smtp: u16,
    submission: u16,
    smtps: u16,
}

/// The watchdog: a shell that runs the `postfix -c DIR check` and `start` it is sent, one a
/// line on its standard input (each writing `postfix-COMMAND.out` and then
/// `postfix-COMMAND.status`), and when that input closes (the handle dropped, or this process
/// gone, killed included) runs `postfix -c DIR stop` and removes the directory. Commands run in
/// order, so a test process that dies while Postfix is starting still has it stopped once it
/// has started. The shell is in a process group of its own and ignores the terminal's signals:
/// Ctrl-C on the test run does not kill it before it has stopped Postfix. With [`KEEP_ENV`] set,
/// the directory stays.
fn spawn_watchdog(dir: &Path) -> Result<(Child, ChildStdin), String> {
    let script = r#"trap '' INT TERM HUP QUIT
dir=$1
while read -r command; do
    case $command in
    check|start)
        /usr/sbin/postfix -c "$dir/etc" "$command" >"$dir/postfix-$command.out" 2>&1
        echo $? >"$dir/postfix-$command.status.new"
        mv "$dir/postfix-$command.status.new" "$dir/postfix-$command.status";;
    esac
done
if [ -f "$dir/etc/main.cf" ]; then /usr/sbin/postfix -c "$dir/etc" stop >/dev/null 2>&1; fi
[ "$2" = keep ] || rm -rf -- "$dir""#;
    let keep = std::env::var_os(KEEP_ENV).is_some_and(|value| !value.is_empty());
    let mut child = Command::new("/bin/sh")
        .args(["-c", script, "postfix-watchdog"])
        .arg(dir)
        .arg(if keep { "keep" } else { "remove" })
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("start the Postfix watchdog: {e}"))?;
    let stdin = child.stdin.take().expect("piped standard input");
    Ok((child, stdin))
}

/// Writes the instance: configuration, certificates, sasldb, queue and data directories.
fn lay_out(dir: &Path, ip: Ipv4Addr, ports: &Ports) -> Result<(), String> {
    let io = |what: &str, e: std::io::Error| format!("{what}: {e}");
    let postfix_user = id_of("-u", "postfix")?;
    let postfix_group = id_of("-g", "postfix")?;
    // Postfix's daemons run as `postfix` and must reach into it; `postfix check` wants the
    // configuration owned by root and not writable by others.
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755))
        .map_err(|e| io("chmod the instance directory", e))?;
    let etc = dir.join("etc");
    let tls = dir.join("tls");
    for sub in [&etc, &etc.join("sasl"), &tls, &dir.join("spool")] {
        fs::create_dir_all(sub).map_err(|e| io("create a directory", e))?;
        fs::set_permissions(sub, fs::Permissions::from_mode(0o755))
            .map_err(|e| io("chmod a directory", e))?;
    }
    let data = dir.join("data");
    fs::create_dir(&data).map_err(|e| io("create data_directory", e))?;
    std::os::unix::fs::chown(&data, Some(postfix_user), Some(postfix_group))
        .map_err(|e| io("chown data_directory", e))?;

    write_certificates(&tls, ip)?;

    let sasldb = dir.join("sasldb2");
    make_sasldb(&sasldb)?;
    std::os::unix::fs::chown(&sasldb, Some(postfix_user), Some(postfix_group))
        .map_err(|e| io("chown the sasldb", e))?;
    fs::set_permissions(&sasldb, fs::Permissions::from_mode(0o600))
        .map_err(|e| io("chmod the sasldb", e))?;
    // Debian's build reads Cyrus SASL's settings from $config_directory/sasl/smtpd.conf
    // (`smtpd_sasl_path = smtpd`), whatever `cyrus_sasl_config_path` says.
    fs::write(
        etc.join("sasl/smtpd.conf"),
        format!(
            "pwcheck_method: auxprop\nauxprop_plugin: sasldb\nmech_list: PLAIN LOGIN\n\
             sasldb_path: {}\n",
            sasldb.display()
        ),
    )
    .map_err(|e| io("write sasl/smtpd.conf", e))?;

    fs::write(etc.join("main.cf"), main_cf(dir)?).map_err(|e| io("write main.cf", e))?;
    fs::write(etc.join("master.cf"), master_cf(ip, ports)).map_err(|e| io("write master.cf", e))?;
    Ok(())
}

/// A CA, and a server certificate it signed for [`HOST`], [`IP`] and `ip`: `tls/ca.pem`,
/// `tls/server.pem`, `tls/server.key` (read by smtpd while it is still root).
fn write_certificates(tls: &Path, ip: Ipv4Addr) -> Result<(), String> {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
        IsCa, KeyPair, KeyUsagePurpose, SanType,
    };
    let rcgen = |e: rcgen::Error| format!("generate the test certificates: {e}");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(rcgen)?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "mailaudit test CA (postfix.test)");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().map_err(rcgen)?)
        .map_err(rcgen)?;

    let mut params = CertificateParams::new(vec![HOST.to_owned()]).map_err(rcgen)?;
    params.distinguished_name.push(DnType::CommonName, HOST);
    for address in [IP, ip] {
        let san = SanType::IpAddress(std::net::IpAddr::V4(address));
        if !params.subject_alt_names.contains(&san) {
            params.subject_alt_names.push(san);
        }
    }
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate().map_err(rcgen)?;
    let cert = params.signed_by(&key, &ca).map_err(rcgen)?;

    let write = |name: &str, text: String, mode: u32| {
        let path = tls.join(name);
        fs::write(&path, text).map_err(|e| format!("write {}: {e}", path.display()))?;
        fs::set_permissions(&path, fs::Permissions::from_mode(mode))
            .map_err(|e| format!("chmod {}: {e}", path.display()))
    };
    write("ca.pem", ca.pem(), 0o644)?;
    write("server.pem", cert.pem(), 0o644)?;
    write("server.key", key.serialize_pem(), 0o600)
}

/// `saslpasswd2 -f DB -p -c -u SASL_DOMAIN USER`, the password on standard input.
fn make_sasldb(path: &Path) -> Result<(), String> {
    let mut child = Command::new("/usr/sbin/saslpasswd2")
        .arg("-f")
        .arg(path)
        .args(["-p", "-c", "-u", SASL_DOMAIN, USER])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("saslpasswd2: {e}"))?;
    child
        .stdin
        .take()
        .expect("piped standard input")
        .write_all(PASSWORD.as_bytes())
        .map_err(|e| format!("saslpasswd2: write the password: {e}"))?;
    let output = child
        .wait_with_output()
        .map_err(|e| format!("saslpasswd2: {e}"))?;
    if !output.status.success() || !path.exists() {
        return Err(format!(
            "saslpasswd2 -f {} failed ({}): {}",
            path.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(())
}

fn main_cf(dir: &Path) -> Result<String, String> {
    // Where Debian keeps Postfix's own files, which do not move with config_directory:
    // `postfix-files` and `dynamicmaps.cf` (meta_directory, /etc/postfix), the daemons and the
    // dynamic map plugins.
    let defaults = postconf(&[
        "-d",
        "meta_directory",
        "shlib_directory",
        "daemon_directory",
        "command_directory",
    ])?;
    let dir = dir.display();
    let mut text = String::new();
    text.push_str("# A private instance for mailaudit's tests (tests/support/postfix.rs).\n");
    text.push_str(&defaults);
    writeln!(
        text,
        "compatibility_level = 3.6
config_directory = {dir}/etc
queue_directory = {dir}/spool
data_directory = {dir}/data
mail_owner = postfix
setgid_group = postdrop

# Logging to a file of its own (the container has no syslog); postlogd writes it, and only
# under maillog_file_prefixes.
maillog_file = {dir}/maillog
maillog_file_prefixes = {dir}

# Loopback only, and no DNS: the name is given, clients' names are not looked up, and nothing
# is ever delivered (every transport is error), so no lookup or connection leaves the machine.
# inet_interfaces must name an address of an interface (127.0.0.1 is lo's only one; a
# 127.x.y.z service is bound from master.cf, which takes any address of 127.0.0.0/8).
inet_interfaces = {IP}
inet_protocols = ipv4
myhostname = {HOST}
mydomain = postfix.test
myorigin = $myhostname
mydestination =
mynetworks = 127.0.0.1/32
relayhost =
local_recipient_maps =
alias_maps =
alias_database =
smtp_dns_support_level = disabled
lmtp_dns_support_level = disabled
smtpd_peername_lookup = no
default_transport = error:mailaudit test server: no delivery
relay_transport = error:mailaudit test server: no delivery
local_transport = error:mailaudit test server: no delivery
virtual_transport = error:mailaudit test server: no delivery
smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination
biff = no
append_dot_mydomain = no
readme_directory = no
smtpd_banner = $myhostname ESMTP Postfix

# TLS: offered on the port-25-style service; services override the level in master.cf.
smtpd_tls_cert_file = {dir}/tls/server.pem
smtpd_tls_key_file = {dir}/tls/server.key
smtpd_tls_security_level = may
smtpd_tls_loglevel = 1

# Cyrus SASL (sasl/smtpd.conf, sasldb), turned on per service in master.cf.
smtpd_sasl_auth_enable = no
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
smtpd_sasl_local_domain = {SASL_DOMAIN}
smtpd_sasl_security_options = noanonymous"
    )
    .expect("write to a String");
    Ok(text)
}

fn master_cf(ip: Ipv4Addr, ports: &Ports) -> String {
    let Ports {
        smtp,
        submission,
        smtps,
    } = ports;
    // chroot off everywhere (column 5): the instance's files are not in a chroot.
    format!(
        "# service type  private unpriv  chroot  wakeup  maxproc command + args
{ip}:{smtp} inet n - n - - smtpd
{ip}:{submission} inet n - n - - smtpd
  -o syslog_name=postfix/submission
  -o smtpd_tls_security_level=encrypt
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_tls_auth_only=yes
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
{ip}:{smtps} inet n - n - - smtpd
  -o syslog_name=postfix/smtps
  -o smtpd_tls_wrappermode=yes
  -o smtpd_tls_security_level=encrypt
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"
    )
}

/// `postfix -c DIR/etc COMMAND`, run by the watchdog (see [`spawn_watchdog`]); its output is
/// kept in a file, as the master it starts detaches and must not hold a pipe of ours open.
fn run_postfix(command: &str, postfix: &mut Postfix, started: Instant) -> Result<(), String> {
    let status_path = postfix.dir.join(format!("postfix-{command}.status"));
    postfix
        .watchdog_stdin
        .as_mut()
        .expect("the watchdog's input")
        .write_all(format!("{command}\n").as_bytes())
        .map_err(|e| format!("postfix {command}: write to the watchdog: {e}"))?;
    let status = loop {
        if let Ok(text) = fs::read_to_string(&status_path) {
            break text.trim().to_owned();
        }
        if started.elapsed() > START_LIMIT {
            return Err(format!(
                "postfix -c {} {command} did not finish within {} s",
                postfix.config_dir().display(),
                START_LIMIT.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    if status == "0" {
        return Ok(());
    }
    let output =
        fs::read_to_string(postfix.dir.join(format!("postfix-{command}.out"))).unwrap_or_default();
    Err(format!(
        "postfix -c {} {command} failed (exit status {status}):\n{output}\n--- maillog ---\n{}",
        postfix.config_dir().display(),
        postfix.log()
    ))
}

/// Waits until every service accepts a connection and greets with 220 and [`HOST`]: in clear
/// on `smtp` and `submission`, after the TLS handshake on `smtps`.
fn wait_until_ready(postfix: &Postfix, started: Instant) -> Result<(), Failure> {
    let config = postfix.tls_client_config();
    let checks: [(&str, SocketAddr, bool); 3] = [
        ("smtp", postfix.smtp_addr(), false),
        ("submission", postfix.submission_addr(), false),
        ("smtps", postfix.smtps_addr(), true),
    ];
    for (name, addr, tls) in checks {
        loop {
            let greeting = if tls {
                greet_tls(addr, &config)
            } else {
                greet(addr)
            };
            match greeting {
                Ok(line) if line.starts_with("220 ") && line.contains(HOST) => break,
                Ok(line) => {
                    return Err(Failure::Other(format!(
                        "Postfix's {name} service at {addr} greeted with {line:?}, not \
                         220 {HOST}\n--- maillog ---\n{}",
                        postfix.log()
                    )));
                }
                Err(e) if started.elapsed() > START_LIMIT => {
                    return Err(Failure::Other(format!(
                        "Postfix's {name} service at {addr} did not greet within {} s: \
                         {e}\n--- maillog ---\n{}",
                        START_LIMIT.as_secs(),
                        postfix.log()
                    )));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }
    Ok(())
}

/// Connects and reads the greeting's last line, then says QUIT.
fn greet(addr: SocketAddr) -> Result<String, String> {
    let stream = TcpStream::connect_timeout(&addr, IO_LIMIT).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(IO_LIMIT))
        .map_err(|e| e.to_string())?;
    let mut writer = stream.try_clone().map_err(|e| e.to_string())?;
    let line = read_reply(&mut BufReader::new(stream))?;
    let _ = writer.write_all(b"QUIT\r\n");
    Ok(line)
}

/// Connects, does the TLS handshake at once (implicit TLS) trusting only the test CA, and
/// reads the greeting's last line.
fn greet_tls(addr: SocketAddr, config: &Arc<rustls::ClientConfig>) -> Result<String, String> {
    let stream = TcpStream::connect_timeout(&addr, IO_LIMIT).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(IO_LIMIT))
        .map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(Some(IO_LIMIT))
        .map_err(|e| e.to_string())?;
    let name = ServerName::try_from(HOST).expect("a valid DNS name");
    let connection =
        rustls::ClientConnection::new(Arc::clone(config), name).map_err(|e| e.to_string())?;
    let mut tls = rustls::StreamOwned::new(connection, stream);
    let line = read_reply(&mut BufReader::new(&mut tls))?;
    let _ = tls.write_all(b"QUIT\r\n");
    Ok(line)
}

/// Reads one SMTP reply (continuation lines `NNN-...`, then `NNN ...`) and returns its last
/// line.
fn read_reply(reader: &mut impl BufRead) -> Result<String, String> {
    loop {
        let mut line = String::new();
        let n = reader
            .by_ref()
            .take(4096)
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("connection closed before a reply".to_owned());
        }
        let line = line.trim_end().to_owned();
        if line.as_bytes().get(3) != Some(&b'-') {
            return Ok(line);
        }
    }
}

/// A client configuration trusting the CA certificate(s) in `ca_file` and nothing else.
pub fn client_config(ca_file: &Path) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca_file)
        .unwrap_or_else(|e| panic!("read {}: {e}", ca_file.display()))
    {
        roots
            .add(cert.unwrap_or_else(|e| panic!("parse {}: {e}", ca_file.display())))
            .expect("a usable CA certificate");
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS 1.2 and 1.3")
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}
