//! RabbitMQ: the topology, the batch consumer, the outbox relay and the
//! dead-letter queue.

pub mod consumer;
pub mod dead_letter;
pub mod relay;
pub mod topology;

use std::time::Duration;

use backon::ExponentialBuilder;
use lapin::{Connection, ConnectionProperties};

/// Reconnection schedule for lapin's automatic recovery: quick at first,
/// then every 10 s, forever — a broker outage must not end the worker.
pub fn reconnect_backoff() -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(200))
        .with_max_delay(Duration::from_secs(10))
        .with_jitter()
        .without_max_times()
}

/// Opens a connection with automatic recovery: lapin reconnects and replays
/// the declared topology, channels and consumers after a failure.
pub async fn connect(url: &str, name: &str) -> Result<Connection, lapin::Error> {
    let properties = ConnectionProperties::default()
        .with_connection_name(name.into())
        .enable_auto_recover()
        .with_backoff(reconnect_backoff());
    Connection::connect(url, properties).await
}
