//! `collab-worker dlq`: operators' tools for the dead-letter queue.
//!
//! The queue is read with `basic.get` without acking, so every message stays
//! held by this connection while the command decides; messages it does not
//! remove go back to the queue when the connection closes. A replayed message
//! is republished to its original exchange and routing key with the same
//! body and message id (so the worker's inbox still deduplicates it), with
//! publisher confirms, and only then removed from the DLQ. If it fails
//! again, the worker dead-letters it again with its history; nothing
//! replays automatically, so nothing loops.

use std::io::{BufRead, Write};
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions, QueuePurgeOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::amqp::dead_letter::{
    DEAD_LETTERED_AT_HEADER, DEATH_COUNT_HEADER, DETAIL_HEADER, ERROR_HEADER, FIRST_DEATH_QUEUE_HEADER,
    ORIGINAL_EXCHANGE_HEADER, ORIGINAL_ROUTING_KEY_HEADER, REPLAY_COUNT_HEADER, header_int, header_text,
};
use crate::amqp::topology::{DEAD_LETTER_EXCHANGE, DEAD_LETTER_QUEUE};
use crate::amqp::{self, Broker};

/// Which dead letters a command applies to.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct Filter {
    /// Only messages first dead-lettered from this queue.
    #[arg(long)]
    pub queue: Option<String>,
    /// Only this reason (e.g. `schema_violation`, `apply_failed`, `delivery_limit`).
    #[arg(long)]
    pub reason: Option<String>,
    /// Only this event type.
    #[arg(long = "type")]
    pub event_type: Option<String>,
    /// Only messages dead-lettered at or after this RFC 3339 time.
    #[arg(long)]
    pub since: Option<DateTime<Utc>>,
    /// Only messages dead-lettered before this RFC 3339 time.
    #[arg(long)]
    pub until: Option<DateTime<Utc>>,
}

/// What the DLQ says about one message.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub reason: String,
    pub detail: String,
    pub first_death_queue: String,
    pub count: i64,
    pub dead_lettered_at: Option<DateTime<Utc>>,
    pub original_exchange: String,
    pub original_routing_key: String,
}

impl Filter {
    pub fn matches(&self, s: &Summary) -> bool {
        self.queue.as_ref().is_none_or(|q| *q == s.first_death_queue)
            && self.reason.as_ref().is_none_or(|r| *r == s.reason)
            && self.event_type.as_ref().is_none_or(|t| *t == s.event_type)
            && self
                .since
                .is_none_or(|since| s.dead_lettered_at.is_some_and(|at| at >= since))
            && self
                .until
                .is_none_or(|until| s.dead_lettered_at.is_some_and(|at| at < until))
    }
}

/// The first `x-death` entry the broker wrote, for messages it dead-lettered itself.
fn first_death(headers: &FieldTable) -> Option<&FieldTable> {
    match headers.inner().get("x-death")? {
        AMQPValue::FieldArray(deaths) => deaths.as_slice().iter().find_map(|d| match d {
            AMQPValue::FieldTable(t) => Some(t),
            _ => None,
        }),
        _ => None,
    }
}

/// Reads a delivery from the DLQ: our own headers first, then the broker's
/// `x-death`, then the body.
pub fn summarize(delivery: &Delivery) -> Summary {
    let headers = delivery.properties.headers().clone().unwrap_or_default();
    let body: Option<Value> = serde_json::from_slice(&delivery.data).ok();
    let death = first_death(&headers);
    let death_text = |name: &str| death.and_then(|d| header_text(d, name));
    let death_key = death.and_then(|d| match d.inner().get("routing-keys") {
        Some(AMQPValue::FieldArray(keys)) => keys.as_slice().iter().find_map(|k| match k {
            AMQPValue::LongString(s) => Some(s.to_string()),
            _ => None,
        }),
        _ => None,
    });
    let death_time = death.and_then(|d| match d.inner().get("time") {
        Some(AMQPValue::Timestamp(t)) => DateTime::from_timestamp(i64::try_from(*t).unwrap_or(0), 0),
        _ => None,
    });
    let body_text = |name: &str| body.as_ref().and_then(|b| b[name].as_str()).map(str::to_owned);
    Summary {
        id: body_text("id")
            .or_else(|| delivery.properties.message_id().as_ref().map(|m| m.to_string()))
            .unwrap_or_default(),
        event_type: body_text("type")
            .or_else(|| delivery.properties.kind().as_ref().map(|t| t.to_string()))
            .unwrap_or_default(),
        reason: header_text(&headers, ERROR_HEADER)
            .or_else(|| death_text("reason"))
            .unwrap_or_else(|| "unknown".into()),
        detail: header_text(&headers, DETAIL_HEADER).unwrap_or_default(),
        first_death_queue: header_text(&headers, FIRST_DEATH_QUEUE_HEADER)
            .or_else(|| header_text(&headers, "x-first-death-queue"))
            .or_else(|| death_text("queue"))
            .unwrap_or_default(),
        count: header_int(&headers, DEATH_COUNT_HEADER)
            .or_else(|| death.and_then(|d| header_int(d, "count")))
            .unwrap_or(1),
        dead_lettered_at: header_text(&headers, DEAD_LETTERED_AT_HEADER)
            .and_then(|t| crate::wire::values::rfc3339::parse(&t))
            .or(death_time),
        original_exchange: header_text(&headers, ORIGINAL_EXCHANGE_HEADER)
            .or_else(|| death_text("exchange"))
            .unwrap_or_default(),
        original_routing_key: header_text(&headers, ORIGINAL_ROUTING_KEY_HEADER)
            .or(death_key)
            .unwrap_or_default(),
    }
}

/// AMQP field values as plain JSON, for display.
pub fn amqp_to_json(value: &AMQPValue) -> Value {
    match value {
        AMQPValue::Boolean(b) => json!(b),
        AMQPValue::ShortShortInt(n) => json!(n),
        AMQPValue::ShortShortUInt(n) => json!(n),
        AMQPValue::ShortInt(n) => json!(n),
        AMQPValue::ShortUInt(n) => json!(n),
        AMQPValue::LongInt(n) => json!(n),
        AMQPValue::LongUInt(n) => json!(n),
        AMQPValue::LongLongInt(n) => json!(n),
        AMQPValue::Timestamp(t) => json!(t),
        AMQPValue::ShortString(s) => json!(s.to_string()),
        AMQPValue::LongString(s) => json!(s.to_string()),
        AMQPValue::FieldArray(a) => Value::Array(a.as_slice().iter().map(amqp_to_json).collect()),
        AMQPValue::FieldTable(t) => table_to_json(t),
        other => json!(format!("{other:?}")),
    }
}

pub fn table_to_json(table: &FieldTable) -> Value {
    Value::Object(
        table
            .inner()
            .iter()
            .map(|(k, v)| (k.to_string(), amqp_to_json(v)))
            .collect(),
    )
}

/// One dead letter held by this connection.
pub struct Held {
    pub delivery: Delivery,
    pub summary: Summary,
}

/// A connection to the broker holding dead letters.
pub struct DeadLetterQueue {
    connection: Connection,
    channel: Channel,
    publisher: Channel,
}

impl DeadLetterQueue {
    pub async fn open(broker: Broker<'_>) -> anyhow::Result<Self> {
        let connection = amqp::connect_with(broker, lapin::ConnectionProperties::default())
            .await
            .context("connecting to RabbitMQ")?;
        let channel = connection.create_channel().await?;
        let publisher = connection.create_channel().await?;
        publisher.confirm_select(ConfirmSelectOptions::default()).await?;
        Ok(Self {
            connection,
            channel,
            publisher,
        })
    }

    /// Takes up to `limit` messages off the queue, unacked: they are this
    /// connection's until acked (removed) or the connection closes (back in
    /// the queue).
    pub async fn hold(&self, limit: usize) -> anyhow::Result<Vec<Held>> {
        let mut held = Vec::new();
        while held.len() < limit {
            let Some(message) = self
                .channel
                .basic_get(DEAD_LETTER_QUEUE.into(), BasicGetOptions { no_ack: false })
                .await
                .context("reading the dead-letter queue")?
            else {
                break;
            };
            let summary = summarize(&message.delivery);
            held.push(Held {
                delivery: message.delivery,
                summary,
            });
        }
        Ok(held)
    }

    /// Removes a held message from the queue.
    pub async fn remove(&self, held: &Held) -> anyhow::Result<()> {
        if !held.delivery.acker.ack(BasicAckOptions::default()).await? {
            bail!("could not remove {} (channel closed)", held.summary.id);
        }
        Ok(())
    }

    /// Republishes a held message where it first came from, with confirms.
    pub async fn republish(&self, held: &Held) -> anyhow::Result<()> {
        let s = &held.summary;
        if s.original_exchange.is_empty() && s.original_routing_key.is_empty() {
            bail!("{} has no original exchange or routing key", s.id);
        }
        let mut headers = held.delivery.properties.headers().clone().unwrap_or_default();
        let replays = header_int(&headers, REPLAY_COUNT_HEADER).unwrap_or(0) + 1;
        headers.insert(REPLAY_COUNT_HEADER.into(), AMQPValue::LongLongInt(replays));
        let properties = held
            .delivery
            .properties
            .clone()
            .with_headers(headers)
            .with_delivery_mode(2);
        self.publish_confirmed(
            &s.original_exchange,
            &s.original_routing_key,
            &held.delivery.data,
            properties,
        )
        .await
    }

    async fn publish_confirmed(
        &self,
        exchange: &str,
        routing_key: &str,
        body: &[u8],
        properties: BasicProperties,
    ) -> anyhow::Result<()> {
        let confirm = self
            .publisher
            .basic_publish(
                exchange.into(),
                routing_key.into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..BasicPublishOptions::default()
                },
                body,
                properties,
            )
            .await?
            .await?;
        if !confirm.is_ack() || confirm.take_message().is_some() {
            bail!("the broker did not accept the message on {exchange} / {routing_key}");
        }
        Ok(())
    }

    pub async fn purge(&self) -> anyhow::Result<u32> {
        Ok(self
            .channel
            .queue_purge(DEAD_LETTER_QUEUE.into(), QueuePurgeOptions::default())
            .await?)
    }

    /// Closing returns every held message that was not removed.
    pub async fn close(self) -> anyhow::Result<()> {
        self.connection.close(200, "done".into()).await?;
        Ok(())
    }
}

/// One line of an NDJSON export: enough to put the message back exactly.
#[derive(Debug, Serialize, Deserialize)]
pub struct Exported {
    pub summary: Value,
    pub headers: FieldTable,
    pub message_id: Option<String>,
    #[serde(rename = "type")]
    pub amqp_type: Option<String>,
    pub content_type: Option<String>,
    pub timestamp: Option<u64>,
    pub routing_key: String,
    /// The body as UTF-8 text (bodies are JSON or what was sent as JSON).
    pub body: String,
}

impl Exported {
    fn of(held: &Held) -> Self {
        let p = &held.delivery.properties;
        Self {
            summary: serde_json::to_value(&held.summary).unwrap_or(Value::Null),
            headers: p.headers().clone().unwrap_or_default(),
            message_id: p.message_id().as_ref().map(|s| s.to_string()),
            amqp_type: p.kind().as_ref().map(|s| s.to_string()),
            content_type: p.content_type().as_ref().map(|s| s.to_string()),
            timestamp: *p.timestamp(),
            routing_key: held.delivery.routing_key.to_string(),
            body: String::from_utf8_lossy(&held.delivery.data).into_owned(),
        }
    }

    fn properties(&self) -> BasicProperties {
        let mut p = BasicProperties::default()
            .with_headers(self.headers.clone())
            .with_delivery_mode(2);
        if let Some(id) = &self.message_id {
            p = p.with_message_id(id.as_str().into());
        }
        if let Some(t) = &self.amqp_type {
            p = p.with_type(t.as_str().into());
        }
        if let Some(c) = &self.content_type {
            p = p.with_content_type(c.as_str().into());
        }
        if let Some(ts) = self.timestamp {
            p = p.with_timestamp(ts);
        }
        p
    }
}

/// What the `dlq` command should do.
#[derive(Clone, Debug)]
pub enum Action {
    List {
        filter: Filter,
        limit: usize,
        json: bool,
    },
    Show {
        id: String,
    },
    Replay {
        selection: Selection,
        dry_run: bool,
        rate: f64,
    },
    Export {
        filter: Filter,
        out: Option<std::path::PathBuf>,
    },
    Import {
        file: std::path::PathBuf,
    },
    Purge {
        yes: bool,
    },
}

#[derive(Clone, Debug)]
pub enum Selection {
    Id(String),
    Filter(Filter),
}

/// Asks on the terminal; without one, only `--yes` confirms.
fn confirm_purge() -> anyhow::Result<bool> {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        return Ok(false);
    }
    eprint!("Remove every message of {DEAD_LETTER_QUEUE} for good? Type \"purge\" to confirm: ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(answer.trim() == "purge")
}

/// How many messages one command may hold at once.
const HOLD_LIMIT: usize = 100_000;

pub async fn run(broker: Broker<'_>, action: Action, out: &mut impl Write) -> anyhow::Result<()> {
    let dlq = DeadLetterQueue::open(broker).await?;
    let result = execute(&dlq, action, out).await;
    dlq.close().await?;
    result
}

async fn execute(dlq: &DeadLetterQueue, action: Action, out: &mut impl Write) -> anyhow::Result<()> {
    match action {
        Action::List { filter, limit, json } => {
            let held = dlq.hold(HOLD_LIMIT).await?;
            let rows: Vec<&Summary> = held
                .iter()
                .map(|h| &h.summary)
                .filter(|s| filter.matches(s))
                .take(limit)
                .collect();
            if json {
                for row in &rows {
                    writeln!(out, "{}", serde_json::to_string(row)?)?;
                }
            } else {
                writeln!(
                    out,
                    "{:<38} {:<28} {:<18} {:<22} {:>5}  DEAD-LETTERED AT",
                    "ID", "TYPE", "REASON", "FIRST-DEATH QUEUE", "COUNT"
                )?;
                for s in &rows {
                    let at = s
                        .dead_lettered_at
                        .map(|t| crate::wire::values::format_time(&t))
                        .unwrap_or_default();
                    writeln!(
                        out,
                        "{:<38} {:<28} {:<18} {:<22} {:>5}  {at}",
                        s.id, s.event_type, s.reason, s.first_death_queue, s.count
                    )?;
                }
                writeln!(out, "{} of {} dead letters", rows.len(), held.len())?;
            }
        }
        Action::Show { id } => {
            let held = dlq.hold(HOLD_LIMIT).await?;
            let Some(h) = held.iter().find(|h| h.summary.id == id) else {
                bail!("no dead letter with id {id}");
            };
            let body: Value = serde_json::from_slice(&h.delivery.data)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&h.delivery.data).into_owned()));
            let shown = json!({
                "summary": h.summary,
                "routing_key": h.delivery.routing_key.to_string(),
                "properties": {
                    "message_id": h.delivery.properties.message_id().as_ref().map(|s| s.to_string()),
                    "type": h.delivery.properties.kind().as_ref().map(|s| s.to_string()),
                    "content_type": h.delivery.properties.content_type().as_ref().map(|s| s.to_string()),
                    "timestamp": h.delivery.properties.timestamp(),
                },
                "headers": table_to_json(&h.delivery.properties.headers().clone().unwrap_or_default()),
                "body": body,
            });
            writeln!(out, "{}", serde_json::to_string_pretty(&shown)?)?;
        }
        Action::Replay {
            selection,
            dry_run,
            rate,
        } => {
            let held = dlq.hold(HOLD_LIMIT).await?;
            let selected: Vec<&Held> = held
                .iter()
                .filter(|h| match &selection {
                    Selection::Id(id) => h.summary.id == *id,
                    Selection::Filter(f) => f.matches(&h.summary),
                })
                .collect();
            if let Selection::Id(id) = &selection
                && selected.is_empty()
            {
                bail!("no dead letter with id {id}");
            }
            let pause = Duration::from_secs_f64(1.0 / rate.max(0.01));
            let mut replayed = 0usize;
            for (i, h) in selected.iter().enumerate() {
                let s = &h.summary;
                if dry_run {
                    writeln!(
                        out,
                        "would replay {} ({}, {}) to {} / {}",
                        s.id, s.event_type, s.reason, s.original_exchange, s.original_routing_key
                    )?;
                    continue;
                }
                if i > 0 {
                    tokio::time::sleep(pause).await;
                }
                dlq.republish(h).await?;
                dlq.remove(h).await?;
                replayed += 1;
                tracing::info!(event.id = %s.id, event.type = %s.event_type, reason = %s.reason, exchange = %s.original_exchange, routing_key = %s.original_routing_key, "replayed a dead letter");
                metrics::counter!("collab_dlq_replayed_total", "reason" => s.reason.clone()).increment(1);
                writeln!(out, "replayed {} ({}, {})", s.id, s.event_type, s.reason)?;
            }
            if dry_run {
                writeln!(out, "dry run: {} dead letters would be replayed", selected.len())?;
            } else {
                writeln!(out, "replayed {replayed} dead letters")?;
            }
        }
        Action::Export { filter, out: path } => {
            let held = dlq.hold(HOLD_LIMIT).await?;
            let mut lines = Vec::new();
            for h in held.iter().filter(|h| filter.matches(&h.summary)) {
                lines.push(serde_json::to_string(&Exported::of(h))?);
            }
            match path {
                Some(path) => {
                    let mut file =
                        std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
                    for line in &lines {
                        writeln!(file, "{line}")?;
                    }
                    writeln!(out, "exported {} dead letters to {}", lines.len(), path.display())?;
                }
                None => {
                    for line in &lines {
                        writeln!(out, "{line}")?;
                    }
                }
            }
        }
        Action::Import { file } => {
            let reader = std::io::BufReader::new(
                std::fs::File::open(&file).with_context(|| format!("opening {}", file.display()))?,
            );
            let mut imported = 0usize;
            for (n, line) in reader.lines().enumerate() {
                let line = line?;
                if line.trim().is_empty() {
                    continue;
                }
                let exported: Exported = serde_json::from_str(&line).with_context(|| format!("line {}", n + 1))?;
                dlq.publish_confirmed(
                    DEAD_LETTER_EXCHANGE,
                    &exported.routing_key,
                    exported.body.as_bytes(),
                    exported.properties(),
                )
                .await?;
                imported += 1;
            }
            writeln!(out, "imported {imported} dead letters")?;
        }
        Action::Purge { yes } => {
            if !yes && !confirm_purge()? {
                bail!("purge not confirmed; nothing removed (use --yes to skip the question)");
            }
            let purged = dlq.purge().await?;
            tracing::warn!(purged, "purged the dead-letter queue");
            writeln!(out, "purged {purged} dead letters")?;
        }
    }
    Ok(())
}
