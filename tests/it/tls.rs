//! TLS to the broker and the database, with rustls. RabbitMQ here listens
//! in plain AMQP only, so each test starts its own TLS-terminating proxy on
//! 127.0.0.1 in front of it, with a CA, a server and a client certificate
//! made by rcgen; the proxy requires the client certificate (mutual TLS).
//! PostgreSQL has `ssl = on` with Debian's snake-oil certificate
//! (`CN=localhost`, self-signed), which serves as its own root for
//! `sslmode=verify-full`.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use collab_worker::amqp::{self, Broker};
use collab_worker::config::AmqpTlsSettings;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio::process::Command;
use tokio_rustls::TlsAcceptor;

use crate::common::*;

const T0: &str = "2026-10-01T00:00:00Z";
const T1: &str = "2026-10-01T10:00:00Z";
/// PostgreSQL's certificate on this machine (`ssl_cert_file`).
const PG_CERT: &str = "/etc/ssl/certs/ssl-cert-snakeoil.pem";

/// A test CA, a broker certificate for `localhost` signed by it, and a
/// client certificate, the client's files written to `dir`.
struct Pki {
    ca: CertificateDer<'static>,
    server_chain: Vec<CertificateDer<'static>>,
    server_key: Vec<u8>,
    ca_file: PathBuf,
    cert_file: PathBuf,
    key_file: PathBuf,
}

fn pki(dir: PathBuf) -> Pki {
    std::fs::create_dir_all(&dir).expect("TLS dir");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "collab-worker test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_key = KeyPair::generate().expect("CA key");
    let ca = ca_params.self_signed(&ca_key).expect("CA certificate");
    let issuer = Issuer::new(ca_params, ca_key);

    // The broker's name is `localhost` only: connecting by IP must fail.
    let mut server_params = CertificateParams::new(vec!["localhost".to_owned()]).expect("server params");
    server_params.distinguished_name.push(DnType::CommonName, "localhost");
    server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_key = KeyPair::generate().expect("server key");
    let server = server_params
        .signed_by(&server_key, &issuer)
        .expect("server certificate");

    let mut client_params = CertificateParams::new(Vec::<String>::new()).expect("client params");
    client_params
        .distinguished_name
        .push(DnType::CommonName, "collab-worker");
    client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_key = KeyPair::generate().expect("client key");
    let client = client_params
        .signed_by(&client_key, &issuer)
        .expect("client certificate");

    let write = |name: &str, text: String| {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write a TLS file");
        path
    };
    Pki {
        ca: ca.der().clone(),
        server_chain: vec![server.der().clone(), ca.der().clone()],
        server_key: server_key.serialize_der(),
        ca_file: write("ca.pem", ca.pem()),
        cert_file: write("client.pem", client.pem()),
        key_file: write("client.key", client_key.serialize_pem()),
    }
}

/// A TLS listener on 127.0.0.1 that requires a client certificate of the
/// test CA and forwards each connection to the local RabbitMQ. Returns its
/// port and how many TLS handshakes succeeded.
async fn tls_proxy(pki: &Pki) -> (u16, Arc<AtomicUsize>) {
    // ring, as the worker's own TLS (sqlx, lapin): rustls deprecates its
    // provider for lacking post-quantum key exchange, not for a flaw.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    roots.add(pki.ca.clone()).expect("CA as root");
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .expect("client verifier");
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            pki.server_chain.clone(),
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.server_key.clone())),
        )
        .expect("server config");
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    let handshakes = Arc::new(AtomicUsize::new(0));
    let counted = handshakes.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let counted = counted.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(client).await else {
                    return;
                };
                counted.fetch_add(1, Ordering::SeqCst);
                let Ok(mut broker) = tokio::net::TcpStream::connect(("127.0.0.1", amqp_port())).await else {
                    return;
                };
                // Ends when either side closes.
                let _closed = tokio::io::copy_bidirectional(&mut tls, &mut broker).await;
            });
        }
    });
    (port, handshakes)
}

fn tls_dir(env: &TestEnv) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("tls-{}", env.name))
}

fn tls_settings(pki: &Pki) -> Vec<(String, String)> {
    let path = |p: &PathBuf| p.display().to_string();
    vec![
        ("COLLAB_AMQP_TLS__CA_FILE".into(), path(&pki.ca_file)),
        ("COLLAB_AMQP_TLS__CERT_FILE".into(), path(&pki.cert_file)),
        ("COLLAB_AMQP_TLS__KEY_FILE".into(), path(&pki.key_file)),
    ]
}

/// The worker consumes from RabbitMQ over `amqps://` (CA file, client
/// certificate) and writes to PostgreSQL over TLS (`sslmode=require`): an
/// event is applied and its outcome published.
#[tokio::test]
async fn a_worker_over_amqps_and_postgres_tls_applies_an_event_and_publishes_its_outcome() {
    let mut env = TestEnv::prepare(Vec::new()).await;
    let pki = pki(tls_dir(&env));
    let (port, handshakes) = tls_proxy(&pki).await;
    env.worker_env.extend(tls_settings(&pki));
    env.worker_env.push((
        "AMQP_URL".into(),
        format!("amqps://guest:guest@localhost:{port}/{}", env.name),
    ));
    env.worker_env.push((
        "DATABASE_URL".into(),
        format!("postgres://postgres@127.0.0.1:5432/{}?sslmode=require", env.name),
    ));
    let env = env.with_worker().await;

    env.send("p-1", "product.updated", T0, product("P1", "S1", Some("0.10")))
        .await;
    env.send("o-1", "order.paid", T1, order("O1", "S1", "P1", Some("C1"), "100.00"))
        .await;
    let accrued = env.outcomes.wait_count("commission.accrued", 1).await;
    assert_eq!(accrued[0]["causationid"], "o-1");
    assert_eq!(accrued[0]["data"]["amount"], "10.00");

    assert!(
        handshakes.load(Ordering::SeqCst) >= 1,
        "the worker did not come through the TLS proxy"
    );
    // Every connection of the worker's pool is encrypted (the test's own
    // probe, this one, is not; it is the first this test opens).
    let mut db = env.db().await;
    let (encrypted, plain): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE s.ssl), count(*) FILTER (WHERE NOT s.ssl) \
         FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) \
         WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()",
    )
    .fetch_one(&mut db)
    .await
    .expect("pg_stat_ssl");
    assert!(
        encrypted >= 1 && plain == 0,
        "{encrypted} TLS, {plain} plain connections"
    );
    // File paths are logged, never their contents.
    let log = env.worker_log();
    assert!(log.contains("client.key"), "{log}");
    assert!(!log.contains("PRIVATE KEY"), "key material in the log");
}

/// rustls verifies: without the CA the broker's certificate is unknown,
/// by IP it does not name the host, without the client certificate the
/// broker (proxy) refuses; with all three the connection opens.
#[tokio::test]
async fn the_broker_is_reached_only_with_a_trusted_certificate_for_its_name_and_a_client_certificate() {
    let env = TestEnv::prepare(Vec::new()).await;
    let pki = pki(tls_dir(&env));
    let (port, _) = tls_proxy(&pki).await;
    let full = AmqpTlsSettings {
        ca_file: Some(pki.ca_file.clone()),
        cert_file: Some(pki.cert_file.clone()),
        key_file: Some(pki.key_file.clone()),
    };
    let by_name = format!("amqps://guest:guest@localhost:{port}/{}", env.name);
    let by_ip = format!("amqps://guest:guest@127.0.0.1:{port}/{}", env.name);
    let without_ca = AmqpTlsSettings {
        ca_file: None,
        ..full.clone()
    };
    let without_client = AmqpTlsSettings {
        ca_file: full.ca_file.clone(),
        ..AmqpTlsSettings::default()
    };
    let connect = |url: String, tls: AmqpTlsSettings| async move {
        let attempt = amqp::connect_with(Broker { url: &url, tls: &tls }, lapin::ConnectionProperties::default());
        match tokio::time::timeout(Duration::from_secs(15), attempt).await {
            Ok(Ok(connection)) => {
                let _closed = connection.close(200, "ok".into()).await;
                Ok(())
            }
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err("timed out".to_owned()),
        }
    };
    assert_eq!(connect(by_name.clone(), full.clone()).await, Ok(()));
    let unknown = connect(by_name.clone(), without_ca).await;
    assert!(
        unknown.as_ref().is_err_and(|e| e.contains("invalid peer certificate")),
        "{unknown:?}"
    );
    let wrong_name = connect(by_ip, full.clone()).await;
    assert!(
        wrong_name.as_ref().is_err_and(|e| e.contains("not valid for name")),
        "{wrong_name:?}"
    );
    assert!(connect(by_name, without_client).await.is_err());
}

/// The operator commands use the same settings: `dlq list` and the demo
/// (a worker in the process, a fresh database) over `amqps://`, the demo's
/// database with `sslmode=verify-full` against PostgreSQL's certificate.
#[tokio::test]
async fn the_dlq_and_demo_commands_use_the_same_tls_settings() {
    let env = TestEnv::prepare(Vec::new()).await;
    let pki = pki(tls_dir(&env));
    let (port, handshakes) = tls_proxy(&pki).await;
    let run = |args: &'static [&'static str]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_collab-worker"));
        command
            .args(args)
            .env("AMQP_URL", format!("amqps://guest:guest@localhost:{port}/{}", env.name))
            .env(
                "DATABASE_URL",
                format!(
                    "postgres://postgres@localhost:5432/{}?sslmode=verify-full&sslrootcert={PG_CERT}",
                    env.name
                ),
            )
            .env("COLLAB_CONFIG_DIR", concat!(env!("CARGO_MANIFEST_DIR"), "/config"))
            .env("RUST_LOG", "warn")
            .env_remove("COLLAB_ENV")
            .stdin(std::process::Stdio::null());
        for (key, value) in tls_settings(&pki) {
            command.env(key, value);
        }
        async move { command.output().await.expect("run collab-worker") }
    };
    // The demo first: its worker declares the topology `dlq` reads.
    let demo = run(&["demo"]).await;
    let out = String::from_utf8_lossy(&demo.stdout);
    assert!(
        demo.status.success(),
        "demo: {out}\n{}",
        String::from_utf8_lossy(&demo.stderr)
    );
    assert!(out.contains("The story ran end to end"), "{out}");
    let after_demo = handshakes.load(Ordering::SeqCst);
    assert!(after_demo >= 1, "the demo did not come through the TLS proxy");

    let listed = run(&["dlq", "list"]).await;
    assert!(
        listed.status.success(),
        "dlq list: {}",
        String::from_utf8_lossy(&listed.stderr)
    );
    assert!(
        handshakes.load(Ordering::SeqCst) > after_demo,
        "dlq did not come through the TLS proxy"
    );
}

/// A client certificate without its key, or a TLS file with a plain
/// `amqp://` URL, is a configuration error at start (exit 2), not a
/// connection that silently goes without TLS.
#[tokio::test]
async fn tls_settings_that_cannot_work_are_refused_at_start() {
    let env = TestEnv::prepare(Vec::new()).await;
    let pki = pki(tls_dir(&env));
    let cases = [
        (
            "amqps://localhost/",
            vec![("COLLAB_AMQP_TLS__CERT_FILE", pki.cert_file.display().to_string())],
            "set together",
        ),
        (
            "amqp://guest:guest@127.0.0.1:5672/%2f",
            vec![("COLLAB_AMQP_TLS__CA_FILE", pki.ca_file.display().to_string())],
            "not an amqps:// URL",
        ),
        (
            "amqps://localhost/",
            vec![("COLLAB_AMQP_TLS__CA_FILE", "/nonexistent/ca.pem".to_owned())],
            "amqp_tls.ca_file /nonexistent/ca.pem",
        ),
    ];
    for (url, settings, expected) in cases {
        let output = Command::new(env!("CARGO_BIN_EXE_collab-worker"))
            .arg("run")
            .env("AMQP_URL", url)
            .env("COLLAB_CONFIG_DIR", concat!(env!("CARGO_MANIFEST_DIR"), "/config"))
            .envs(settings)
            .env_remove("COLLAB_ENV")
            .output()
            .await
            .expect("run collab-worker");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(expected), "{stderr}");
        assert!(!stderr.contains("guest:guest"), "{stderr}");
    }
}
