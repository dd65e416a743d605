//! RabbitMQ: the topology, the batch consumer, the outbox relay and the
//! dead-letter queue.

pub mod consumer;
pub mod dead_letter;
pub mod relay;
pub mod session;
pub mod topology;

use std::time::Duration;

use backon::ExponentialBuilder;

/// Reconnection schedule after a lost session: quick at first and never
/// slower than every 2 s (1 s plus up to as much jitter), forever — a broker outage must not end the worker,
/// and consuming should resume within seconds of the broker coming back.
/// (Connection attempts to a broker that is down are refused at once, so
/// trying often costs nothing.)
pub fn reconnect_schedule() -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(100))
        .with_max_delay(Duration::from_secs(1))
        .with_jitter()
        .without_max_times()
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
