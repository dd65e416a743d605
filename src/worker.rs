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
use backon::BackoffBuilder;
use lapin::options::ConfirmSelectOptions;
use lapin::{Channel, Connection};
use tokio::sync::watch;

use crate::amqp::consumer::{Consumer, Stopped};
use crate::amqp::dead_letter::DeadLetters;
use crate::amqp::relay::Relay;
use crate::amqp::{self, topology};
use crate::config::Settings;
use crate::http::{self, Health};
use crate::pipeline::Pipeline;
use crate::{store, telemetry};

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

/// Retries `attempt` with backoff until it succeeds; `None` if shutdown
/// comes first. A dependency that is down at start-up is waited for, not a
/// reason to exit (no crash loop).
async fn until_available<T, E: Display, F, Fut>(
    what: &str,
    mut attempt: F,
    stop: &mut watch::Receiver<bool>,
) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut backoff = amqp::consumer::retry_schedule()
        .with_min_delay(Duration::from_millis(250))
        .build();
    loop {
        match attempt().await {
            Ok(value) => return Some(value),
            Err(error) => {
                let delay = backoff.next().unwrap_or(Duration::from_secs(10));
                tracing::warn!(%error, retry_in_ms = delay.as_millis() as u64, "{what} unavailable; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = stop.wait_for(|s| *s) => return None,
                }
            }
        }
    }
}

/// The broker side of one connection's life.
struct Session {
    connection: Connection,
    consume: Channel,
    relay: Channel,
    dead_letters: Channel,
}

async fn open_session(settings: &Settings) -> Result<Session, lapin::Error> {
    let connection = amqp::connect(&settings.amqp_url, "collab-worker").await?;
    topology::declare(&connection, settings.consumer.delivery_limit).await?;
    let relay = connection.create_channel().await?;
    relay.confirm_select(ConfirmSelectOptions::default()).await?;
    let dead_letters = connection.create_channel().await?;
    dead_letters.confirm_select(ConfirmSelectOptions::default()).await?;
    let consume = connection.create_channel().await?;
    Ok(Session {
        connection,
        consume,
        relay,
        dead_letters,
    })
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
    tracing::info!(settings = ?settings.redacted(), "starting");
    let metrics = telemetry::install_metrics().context("installing the metrics recorder")?;
    tokio::spawn(telemetry::run_upkeep(metrics.clone()));
    let listener = tokio::net::TcpListener::bind(settings.http_addr)
        .await
        .with_context(|| format!("binding HTTP_ADDR {}", settings.http_addr))?;
    let server = tokio::spawn(http::serve(
        listener,
        http::router(health.clone(), metrics),
        stop_rx.clone(),
    ));

    let mut stop = stop_rx.clone();
    let pool = until_available(
        "PostgreSQL",
        || store::connect(&settings.database_url, settings.consumer.pool_size),
        &mut stop,
    )
    .await;
    let Some(pool) = pool else {
        return finish(server).await;
    };
    health.migrated.store(true, Ordering::SeqCst);
    let pipeline = Pipeline::new(
        pool.clone(),
        settings.rules.to_rules(),
        settings.consumer.state_cache_docs,
    );

    loop {
        let Some(session) = until_available("RabbitMQ", || open_session(&settings), &mut stop).await else {
            break;
        };
        health.topology.store(true, Ordering::SeqCst);
        let (relay_stop_tx, relay_stop_rx) = watch::channel(false);
        let (relay_feed, feed) = tokio::sync::mpsc::unbounded_channel();
        let relay = tokio::spawn(
            Relay::new(pool.clone(), session.relay.clone(), settings.relay.clone()).run(feed, relay_stop_rx),
        );
        tracing::info!("consuming");
        let stopped = Consumer {
            channel: session.consume.clone(),
            dead_letters: DeadLetters::new(session.dead_letters.clone()),
            pipeline: pipeline.clone(),
            settings: settings.consumer.clone(),
            relay_feed,
            consuming: health.consuming.clone(),
        }
        .run(stop_rx.clone())
        .await;
        // The relay outlives the consumer so the last commits get published.
        let _receiver_gone = relay_stop_tx.send(true);
        if let Err(error) = relay.await {
            tracing::error!(%error, "relay task failed");
        }
        health.topology.store(false, Ordering::SeqCst);
        match stopped {
            Stopped::Shutdown => {
                if let Err(error) = session.connection.close(200, "shutdown".into()).await {
                    tracing::warn!(%error, "closing the broker connection");
                }
                break;
            }
            Stopped::Lost(reason) => {
                tracing::error!(%reason, "broker connection lost beyond recovery; reconnecting");
            }
        }
    }
    pool.close().await;
    finish(server).await
}

async fn finish(server: tokio::task::JoinHandle<std::io::Result<()>>) -> anyhow::Result<()> {
    server.await.context("HTTP task")?.context("HTTP server")?;
    tracing::info!("stopped");
    Ok(())
}
