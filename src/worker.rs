//! `collab-worker run`: bootstrap, consume until SIGTERM/SIGINT, drain, exit.
//!
//! Start-up order: health endpoint (so `/healthz` answers at once), database
//! (created and migrated), broker (topology declared), relay, consumer; then
//! `/readyz` turns 200. Shutdown: stop taking deliveries, finish the batch in
//! flight (commit and ack), flush the outbox, close the connection.

use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context;
use backon::{BackoffBuilder, ExponentialBuilder};
use tokio::sync::watch;

use crate::amqp;
use crate::amqp::consumer::{Consumer, Interrupt, Stopped};
use crate::amqp::dead_letter::DeadLetters;
use crate::amqp::relay::Relay;
use crate::amqp::retry::{Retries, RetrySchedule};
use crate::amqp::session::{Activity, Session, Watchdog, lost_reason};
use crate::config::Settings;
use crate::http::{self, Health};
use crate::pipeline::Pipeline;
use crate::telemetry::failures::{
    BrokerCloseFailed, ConnectRetry, Dependency, ExpiredOutboxKept, RelayFailed, RelayFailure, RetentionFailed,
};
use crate::telemetry::{BrokerSessionLost, InternalEvent};
use crate::{store, telemetry};

/// Closing a connection waits this long for the broker's answer at most.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Resolves when SIGTERM or SIGINT arrives.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _interrupted = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _interrupted = interrupt.await;
    }
}

/// Retries `attempt` on `schedule` until it succeeds; `None` if shutdown
/// comes first. A dependency that is down at start-up is waited for, not a
/// reason to exit (no crash loop).
async fn until_available<T, E: Display, F, Fut>(
    dependency: Dependency,
    schedule: ExponentialBuilder,
    mut attempt: F,
    stop: &mut watch::Receiver<bool>,
) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut backoff = schedule.build();
    loop {
        match attempt().await {
            Ok(value) => return Some(value),
            Err(error) => {
                let delay = backoff.next().unwrap_or(Duration::from_secs(10));
                ConnectRetry {
                    dependency,
                    error: &error.to_string(),
                    delay,
                }
                .emit();
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = stop.wait_for(|s| *s) => return None,
                }
            }
        }
    }
}

/// `collab-worker run`: until SIGTERM or SIGINT.
pub async fn run(settings: Settings) -> anyhow::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutdown requested; finishing in-flight work");
        let _receivers_gone = stop_tx.send(true);
    });
    run_until(settings, stop_rx, Arc::new(Health::default())).await
}

/// The worker until `stop` turns true; `health` tells when it is ready.
pub async fn run_until(settings: Settings, stop_rx: watch::Receiver<bool>, health: Arc<Health>) -> anyhow::Result<()> {
    telemetry::starting(&settings);
    let metrics = telemetry::install_metrics().context("installing the metrics recorder")?;
    tokio::spawn(telemetry::run_upkeep(metrics.clone()));
    let listener = std::net::TcpListener::bind(settings.http_addr)
        .with_context(|| format!("binding HTTP_ADDR {}", settings.http_addr))?;
    let api = http::Api::new(settings.http.token());
    let server = http::spawn(
        listener,
        http::router(health.clone(), metrics).merge(http::api_router(api.clone())),
        stop_rx.clone(),
    );

    let mut stop = stop_rx.clone();
    let pool = until_available(
        Dependency::PostgreSql,
        amqp::consumer::retry_schedule().with_min_delay(Duration::from_millis(250)),
        || store::connect(&settings.database_url, settings.consumer.pool_size),
        &mut stop,
    )
    .await;
    let Some(pool) = pool else {
        return finish(server).await;
    };
    // Partitions for what this process will store exist before it applies
    // anything (every replica waits for the round in progress, if any).
    let policy = settings.retention_policy();
    let prepared = until_available(
        Dependency::PostgreSql,
        amqp::consumer::retry_schedule().with_min_delay(Duration::from_millis(250)),
        || store::retention::run_once(&settings.database_url, &policy, true),
        &mut stop,
    )
    .await;
    if prepared.is_none() {
        return finish(server).await;
    }
    tokio::spawn(retention(
        settings.database_url.clone(),
        policy,
        Duration::from_secs_f64(settings.retention.interval_secs),
        stop_rx.clone(),
    ));
    health.migrated.store(true, Ordering::SeqCst);
    api.connected(&settings.database_url);
    let pipeline = Pipeline::new(
        pool.clone(),
        settings.rules.to_rules(),
        settings.consumer.state_cache_docs,
    );
    let watchdog = Watchdog {
        probe_every: Duration::from_millis(settings.consumer.watchdog_interval_ms.max(100)),
        stall_after: Duration::from_millis(settings.consumer.stall_timeout_ms.max(100)),
        retry_queues: RetrySchedule::of(&settings.consumer).queues(),
    };

    loop {
        let Some(session) = until_available(
            Dependency::RabbitMq,
            amqp::reconnect_schedule(),
            || Session::open(&settings),
            &mut stop,
        )
        .await
        else {
            break;
        };
        let session = Arc::new(session);
        health.topology.store(true, Ordering::SeqCst);
        let activity = Arc::new(Activity::default());
        let watch = tokio::spawn({
            let (session, activity, watchdog) = (session.clone(), activity.clone(), watchdog.clone());
            async move { session.watch(activity, watchdog).await }
        });
        // Readiness follows a loss the moment the watch reports it, even
        // while the consumer is still busy with a batch.
        let readiness = tokio::spawn({
            let (mut lost, health) = (session.lost(), health.clone());
            async move {
                let reason = lost_reason(&mut lost).await;
                health.consumer_down(&reason);
            }
        });
        let (relay_stop_tx, relay_stop_rx) = watch::channel(false);
        let (relay_feed, feed) = tokio::sync::mpsc::unbounded_channel();
        let relay = tokio::spawn(
            Relay::new(pool.clone(), session.relay.clone(), settings.relay.clone()).run(feed, relay_stop_rx),
        );
        let relay_stopper = tokio::spawn({
            let (mut lost, relay_stop_tx) = (session.lost(), relay_stop_tx.clone());
            async move {
                lost_reason(&mut lost).await;
                let _relay_gone = relay_stop_tx.send(true);
            }
        });
        let consumer = Consumer {
            channel: session.consume.clone(),
            dead_letters: DeadLetters::new(session.dead_letters.clone()),
            retries: Retries::new(session.dead_letters.clone(), RetrySchedule::of(&settings.consumer)),
            pipeline: pipeline.clone(),
            settings: settings.consumer.clone(),
            relay_feed,
            health: health.clone(),
            activity,
        };
        let interrupt = Interrupt {
            shutdown: stop_rx.clone(),
            lost: session.lost(),
        };
        let stopped = consumer.run(interrupt).await;
        // The relay outlives the consumer so the last commits get published
        // (unless the session is gone: then the next session's relay does).
        let _relay_gone = relay_stop_tx.send(true);
        if let Err(error) = relay.await {
            RelayFailed {
                failure: RelayFailure::Task,
                error: &error.to_string(),
                delay: None,
            }
            .emit();
        }
        relay_stopper.abort();
        match stopped {
            Stopped::Shutdown => {
                readiness.abort();
                watch.abort();
                health.consuming.store(false, Ordering::SeqCst);
                match tokio::time::timeout(CLOSE_TIMEOUT, session.connection.close(200, "shutdown".into())).await {
                    Ok(Ok(())) => {}
                    Ok(Err(error)) => BrokerCloseFailed {
                        error: &error.to_string(),
                    }
                    .emit(),
                    Err(_) => BrokerCloseFailed {
                        error: "the broker did not confirm in time",
                    }
                    .emit(),
                }
                break;
            }
            Stopped::Lost(reason) => {
                session.lose(reason);
                let reason = session.lost().borrow().clone().unwrap_or_default();
                health.consumer_down(&reason);
                BrokerSessionLost { reason: &reason }.emit();
                watch.abort();
                readiness.abort();
                // Closing what is left of the connection returns its unacked
                // deliveries to the queue now rather than at a timeout.
                if session.connection.status().connected() {
                    let closing = session.connection.close(320, "session lost; reconnecting".into());
                    let _closed = tokio::time::timeout(CLOSE_TIMEOUT, closing).await;
                }
            }
        }
    }
    pool.close().await;
    finish(server).await
}

/// Retention maintenance every `interval` until shutdown: the round of
/// whichever replica takes the advisory lock first; the others skip it.
async fn retention(
    database_url: String,
    policy: store::retention::Policy,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        match store::retention::run_once(&database_url, &policy, false).await {
            Ok(Some(round)) => {
                if !round.created.is_empty() || !round.dropped.is_empty() || round.ids_deleted > 0 {
                    tracing::info!(
                        created = ?round.created,
                        dropped = ?round.dropped,
                        ids_deleted = round.ids_deleted,
                        default_rows_deleted = round.default_rows_deleted,
                        "retention round"
                    );
                }
                if !round.kept_unpublished.is_empty() {
                    ExpiredOutboxKept {
                        partitions: &round.kept_unpublished,
                    }
                    .emit();
                }
            }
            Ok(None) => tracing::debug!("retention round skipped: another process holds it"),
            Err(error) => RetentionFailed {
                error: &error.to_string(),
            }
            .emit(),
        }
    }
}

async fn finish(server: tokio::task::JoinHandle<std::io::Result<()>>) -> anyhow::Result<()> {
    server.await.context("HTTP task")?.context("HTTP server")?;
    tracing::info!("stopped");
    Ok(())
}
