//! RabbitMQ: the topology, the batch consumer, the outbox relay and the
//! dead-letter queue.

pub mod consumer;
pub mod dead_letter;
pub mod relay;
pub mod topology;

use std::time::Duration;

use std::path::PathBuf;

use backon::ExponentialBuilder;
use lapin::tcp::{OwnedIdentity, OwnedTLSConfig};
use lapin::{Connection, ConnectionProperties};

use crate::config::{AmqpTlsSettings, Settings};

/// Reconnection schedule for lapin's automatic recovery: quick at first,
/// then every 10 s, forever — a broker outage must not end the worker.
pub fn reconnect_backoff() -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(200))
        .with_max_delay(Duration::from_secs(10))
        .with_jitter()
        .without_max_times()
}

/// The broker as configured: `AMQP_URL` and, for `amqps://`, the TLS files.
#[derive(Clone, Copy, Debug)]
pub struct Broker<'a> {
    pub url: &'a str,
    pub tls: &'a AmqpTlsSettings,
}

impl Settings {
    pub fn broker(&self) -> Broker<'_> {
        Broker {
            url: &self.amqp_url,
            tls: &self.amqp_tls,
        }
    }
}

/// Reads the TLS files (PEM) into lapin's configuration. Verification of the
/// broker's certificate and host name is rustls's, against the system's
/// trust store plus `ca_file`.
fn tls_config(tls: &AmqpTlsSettings) -> std::io::Result<OwnedTLSConfig> {
    let [(ca_name, ca), (cert_name, cert), (key_name, key)] = tls.files();
    let read = |name: &str, path: &PathBuf| {
        std::fs::read(path).map_err(|e| std::io::Error::new(e.kind(), format!("{name} {}: {e}", path.display())))
    };
    let cert_chain = match ca {
        Some(path) => Some(String::from_utf8_lossy(&read(ca_name, path)?).into_owned()),
        None => None,
    };
    let identity = match (cert, key) {
        (Some(cert), Some(key)) => Some(OwnedIdentity::PKCS8 {
            pem: read(cert_name, cert)?,
            key: read(key_name, key)?,
        }),
        _ => None,
    };
    Ok(OwnedTLSConfig { identity, cert_chain })
}

/// Opens a connection with automatic recovery: lapin reconnects (with the
/// same TLS settings) and replays the declared topology, channels and
/// consumers after a failure.
pub async fn connect(broker: Broker<'_>, name: &str) -> Result<Connection, lapin::Error> {
    let properties = ConnectionProperties::default()
        .with_connection_name(name.into())
        .enable_auto_recover()
        .with_backoff(reconnect_backoff());
    connect_with(broker, properties).await
}

/// Opens a connection with the given properties (the operator commands'
/// connections do not recover: they fail and the operator runs them again).
pub async fn connect_with(broker: Broker<'_>, properties: ConnectionProperties) -> Result<Connection, lapin::Error> {
    let config = tls_config(broker.tls)?;
    Connection::connect_with_config(broker.url, properties, config, lapin::runtime::default_runtime()?).await
}

/// Drives many publish futures at once, polling them in order.
///
/// `Channel::basic_publish` queues its frames on its first poll and then
/// waits for lapin's I/O thread to write them; awaiting publishes one by one
/// costs two thread hand-offs per message. Polling them all (in order, so the
/// frames and delivery tags keep the caller's order) lets the I/O thread
/// write them in one go.
pub async fn publish_in_order<F, T>(futures: Vec<F>) -> Vec<T>
where
    F: std::future::Future<Output = T>,
{
    use std::task::Poll;
    let mut futures: Vec<std::pin::Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut done: Vec<Option<T>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, slot) in futures.iter_mut().zip(done.iter_mut()) {
            if slot.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(value) => *slot = Some(value),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending { Poll::Pending } else { Poll::Ready(()) }
    })
    .await;
    done.into_iter().flatten().collect()
}
