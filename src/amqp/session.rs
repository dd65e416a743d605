//! One broker session: a connection, the channels the worker builds on it,
//! and a watch that says, the moment it knows, that any of it is gone.
//!
//! The worker does not rely on lapin's automatic recovery. A broker restart
//! could leave a recovered connection without its consumer, or a recovery
//! that never finished, and nothing reported it: the worker stayed alive and
//! "ready" and consumed nothing. Instead any loss — a connection error, a
//! channel closed by the broker, the consumer cancelled, or a consumer that
//! receives nothing while its queue holds ready messages — ends the session,
//! and the worker opens a new one from scratch (connection, channels, QoS,
//! consumer) with backoff. Unacked deliveries return to the queue when the
//! old connection goes; the inbox recognises those already applied.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use lapin::options::{ConfirmSelectOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, ConnectionProperties, Event};
use tokio::sync::watch;

use super::retry::RetrySchedule;
use super::topology::{self, WORK_QUEUE};
use crate::config::Settings;
use crate::telemetry;

/// How often the watch looks at the connection and channel states.
const STATUS_EVERY: Duration = Duration::from_millis(250);
/// A queue probe that takes longer than this means the broker is not there.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// Opening a session that takes longer than this is given up and tried
/// again: a broker that is starting may accept connections and not answer.
const OPEN_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Broker(#[from] lapin::Error),
    #[error("the broker did not answer within {0:?}")]
    TimedOut(Duration),
}

/// What the consumer tells the watchdog: whether it is registered, whether it
/// is waiting for deliveries, and when the last one came.
#[derive(Debug)]
pub struct Activity {
    epoch: Instant,
    registered: AtomicBool,
    waiting: AtomicBool,
    /// Milliseconds since `epoch` of the last delivery (or registration).
    last_delivery_ms: AtomicU64,
}

impl Default for Activity {
    fn default() -> Self {
        Self {
            epoch: Instant::now(),
            registered: AtomicBool::new(false),
            waiting: AtomicBool::new(false),
            last_delivery_ms: AtomicU64::new(0),
        }
    }
}

impl Activity {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    pub fn registered(&self) {
        self.last_delivery_ms.store(self.now_ms(), Ordering::SeqCst);
        self.registered.store(true, Ordering::SeqCst);
    }

    pub fn delivered(&self) {
        self.last_delivery_ms.store(self.now_ms(), Ordering::SeqCst);
    }

    /// The consumer waits for deliveries (`true`) or works on a batch.
    pub fn waiting(&self, waiting: bool) {
        self.waiting.store(waiting, Ordering::SeqCst);
    }

    fn is_registered(&self) -> bool {
        self.registered.load(Ordering::SeqCst)
    }

    /// Idle, registered, and nothing delivered for at least `after`. A
    /// consumer busy with a batch (or waiting out a database outage) is not
    /// stalled: the broker holds back deliveries beyond the prefetch.
    fn stalled_for(&self, after: Duration) -> Option<Duration> {
        if !self.is_registered() || !self.waiting.load(Ordering::SeqCst) {
            return None;
        }
        let idle = Duration::from_millis(
            self.now_ms()
                .saturating_sub(self.last_delivery_ms.load(Ordering::SeqCst)),
        );
        (idle >= after).then_some(idle)
    }
}

/// How the watch probes the work queue when nothing reports an error.
#[derive(Clone, Debug)]
pub struct Watchdog {
    /// How often the queue's ready messages and consumers are read.
    pub probe_every: Duration,
    /// Idle this long while the queue holds ready messages: stalled.
    pub stall_after: Duration,
    /// The retry queues, whose depth is the parked-events gauge.
    pub retry_queues: Vec<String>,
}

/// The broker side of one connection's life.
pub struct Session {
    pub connection: Connection,
    pub consume: Channel,
    pub relay: Channel,
    pub dead_letters: Channel,
    probe: Channel,
    lost: watch::Sender<Option<String>>,
}

impl Session {
    /// Connects, declares the topology and opens the worker's channels.
    pub async fn open(settings: &Settings) -> Result<Session, OpenError> {
        tokio::time::timeout(OPEN_TIMEOUT, Self::try_open(settings))
            .await
            .map_err(|_| OpenError::TimedOut(OPEN_TIMEOUT))?
            .map_err(OpenError::from)
    }

    async fn try_open(settings: &Settings) -> Result<Session, lapin::Error> {
        let connection = connect(settings).await?;
        topology::declare(
            &connection,
            settings.consumer.delivery_limit,
            &RetrySchedule::of(&settings.consumer),
        )
        .await?;
        let probe = connection.create_channel().await?;
        let relay = connection.create_channel().await?;
        relay.confirm_select(ConfirmSelectOptions::default()).await?;
        let dead_letters = connection.create_channel().await?;
        dead_letters.confirm_select(ConfirmSelectOptions::default()).await?;
        let consume = connection.create_channel().await?;
        let (lost, _) = watch::channel(None);
        Ok(Session {
            connection,
            consume,
            relay,
            dead_letters,
            probe,
            lost,
        })
    }

    /// Resolves to `Some(reason)` once the session is lost.
    pub fn lost(&self) -> watch::Receiver<Option<String>> {
        self.lost.subscribe()
    }

    /// Marks the session lost (first reason wins); the consumer and the relay
    /// see it through [`Session::lost`].
    pub fn lose(&self, reason: String) {
        self.lost.send_if_modified(|slot| {
            if slot.is_some() {
                return false;
            }
            *slot = Some(reason);
            true
        });
    }

    /// Watches the session until it is lost or dropped: connection events
    /// (errors are reported at once), connection and channel states, and the
    /// work queue's consumers and ready messages against the consumer's
    /// activity.
    pub async fn watch(&self, activity: Arc<Activity>, watchdog: Watchdog) {
        let mut events = self.connection.events_listener();
        let mut status = tokio::time::interval(STATUS_EVERY);
        status.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_probe = Instant::now();
        let mut lost = self.lost();
        loop {
            tokio::select! {
                _ = lost.changed() => return,
                event = events.next() => match event {
                    Some(Event::Error(error)) => return self.lose(format!("connection error: {error}")),
                    Some(_) => {}
                    None => return self.lose("the connection's event stream ended".into()),
                },
                _ = status.tick() => {
                    if let Some(reason) = self.broken() {
                        return self.lose(reason);
                    }
                    if last_probe.elapsed() >= watchdog.probe_every {
                        last_probe = Instant::now();
                        if let Some(reason) = self.probe(&activity, &watchdog).await {
                            return self.lose(reason);
                        }
                    }
                }
            }
        }
    }

    /// A connection or channel that is no longer open.
    fn broken(&self) -> Option<String> {
        let connection = self.connection.status();
        if !connection.connected() {
            let state = if connection.closing() || connection.closed() {
                "closed"
            } else if connection.errored() {
                "failed"
            } else {
                "not connected"
            };
            return Some(format!("connection {state}"));
        }
        let channels = [
            ("consumer", &self.consume),
            ("relay", &self.relay),
            ("dead-letter", &self.dead_letters),
            ("probe", &self.probe),
        ];
        channels
            .into_iter()
            .find(|(_, channel)| !channel.status().connected())
            .map(|(name, _)| format!("{name} channel closed"))
    }

    /// Reads the work queue: no consumer at all, or ready messages while
    /// this consumer has waited idle too long, mean it is not consuming.
    /// Then reads the retry queues for the parked-events gauge (what all
    /// workers parked: the queues are shared).
    async fn probe(&self, activity: &Activity, watchdog: &Watchdog) -> Option<String> {
        let queue = match self.read_queue(WORK_QUEUE).await {
            Err(_) => return Some(format!("the queue probe got no answer in {PROBE_TIMEOUT:?}")),
            Ok(Err(error)) => return Some(format!("the queue probe failed: {error}")),
            Ok(Ok(queue)) => queue,
        };
        if activity.is_registered() && queue.consumer_count() == 0 {
            return Some(format!("{WORK_QUEUE} has no consumer"));
        }
        let ready = queue.message_count();
        if ready > 0
            && let Some(idle) = activity.stalled_for(watchdog.stall_after)
        {
            return Some(format!(
                "stalled: {ready} messages ready in {WORK_QUEUE}, none delivered for {} s",
                idle.as_secs()
            ));
        }
        let mut parked = 0;
        for name in &watchdog.retry_queues {
            match self.read_queue(name).await {
                Ok(Ok(queue)) => parked += u64::from(queue.message_count()),
                Err(_) => return Some(format!("the queue probe got no answer in {PROBE_TIMEOUT:?}")),
                Ok(Err(error)) => return Some(format!("the probe of {name} failed: {error}")),
            }
        }
        telemetry::events_parked(parked);
        None
    }

    /// A passive declare: the queue's depth and consumers, unchanged.
    async fn read_queue(&self, name: &str) -> Result<Result<lapin::Queue, lapin::Error>, tokio::time::error::Elapsed> {
        let passive = QueueDeclareOptions {
            passive: true,
            ..QueueDeclareOptions::default()
        };
        tokio::time::timeout(
            PROBE_TIMEOUT,
            self.probe.queue_declare(name.into(), passive, FieldTable::default()),
        )
        .await
    }
}

/// Waits until the session is lost; returns why.
pub async fn lost_reason(lost: &mut watch::Receiver<Option<String>>) -> String {
    match lost.wait_for(Option::is_some).await {
        Ok(reason) => reason.clone().unwrap_or_default(),
        Err(_) => "the session was dropped".into(),
    }
}

/// Opens the worker's connection. Automatic recovery stays off: a lost
/// session is rebuilt whole (see the module documentation).
async fn connect(settings: &Settings) -> Result<Connection, lapin::Error> {
    let properties = ConnectionProperties::default().with_connection_name("collab-worker".into());
    super::connect_with(settings.broker(), properties).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_idle_registered_consumer_can_stall() {
        let activity = Activity::default();
        assert_eq!(activity.stalled_for(Duration::ZERO), None, "not registered");
        activity.registered();
        assert_eq!(activity.stalled_for(Duration::ZERO), None, "busy with a batch");
        activity.waiting(true);
        assert!(activity.stalled_for(Duration::ZERO).is_some());
        assert_eq!(
            activity.stalled_for(Duration::from_secs(60)),
            None,
            "not for long enough"
        );
    }
}
