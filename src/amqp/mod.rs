//! RabbitMQ: the topology, the batch consumer, the outbox relay, the retry
//! queues and the dead-letter queue.

pub mod consumer;
pub mod dead_letter;
pub mod relay;
pub mod retry;
pub mod session;
pub mod topology;

use std::path::PathBuf;
use std::time::Duration;

use backon::ExponentialBuilder;
use lapin::tcp::{OwnedIdentity, OwnedTLSConfig};
use lapin::{Connection, ConnectionProperties};

use crate::config::{AmqpTlsSettings, Settings};

/// Reconnection schedule after a lost session: quick at first and never
/// slower than every 2 s (1 s plus up to as much jitter), forever — a broker
/// outage must not end the worker, and consuming should resume within
/// seconds of the broker coming back. (Connection attempts to a broker that
/// is down are refused at once, so trying often costs nothing.)
pub fn reconnect_schedule() -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(100))
        .with_max_delay(Duration::from_secs(1))
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

/// Opens a connection with the given properties, with the TLS settings of
/// `broker`. Automatic recovery stays off everywhere: the worker rebuilds a
/// lost session whole (`session`), the operator commands fail and are run
/// again.
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
