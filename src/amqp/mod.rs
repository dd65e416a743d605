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
