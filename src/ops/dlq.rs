//! `collab-worker dlq`: operators' tools for the dead-letter queue.
//!
//! Every command walks the queue (`queue.rs`): it takes the messages and
//! settles each one — an identical copy back to the end of the queue, or a
//! replay, or a corrected copy — never handing one back, so reading does not
//! raise a delivery count. A replayed message is republished to its original
//! exchange and routing key with the same body and message id (so the
//! worker's inbox still deduplicates it), with publisher confirms, and only
//! then removed from the DLQ; an edited one goes under a new id, naming the
//! original. Either carries who and when, which the worker counts and logs
//! when it arrives. If it fails again, the worker dead-letters it again with
//! its history; nothing replays automatically, so nothing loops.

mod edit;
mod groups;
pub mod headers;
mod queue;

use std::io::{BufRead, Write};
use std::time::Duration;

use anyhow::{Context, bail};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use lapin::BasicProperties;
use lapin::message::Delivery;
use lapin::types::{AMQPValue, FieldTable, LongString};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub use self::edit::Assignment;
pub use self::queue::{DeadLetterQueue, Fate, Held, LOCK_QUEUE, Outgoing};
use crate::amqp::Broker;
use crate::amqp::dead_letter::{
    self, DEAD_LETTERED_AT_HEADER, DEATH_COUNT_HEADER, DETAIL_HEADER, EDIT_OF_HEADER, EDITED_FIELDS_HEADER,
    FIRST_DEATH_QUEUE_HEADER, ORIGINAL_EXCHANGE_HEADER, ORIGINAL_ROUTING_KEY_HEADER, REPLAY_ACTION_HEADER,
    REPLAY_COUNT_HEADER, REPLAYED_AT_HEADER, REPLAYED_BY_HEADER, first_death, header_int, header_text,
};
use crate::amqp::topology::{DEAD_LETTER_EXCHANGE, DEAD_LETTER_QUEUE};

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
    /// Only this failure group (see `dlq groups`).
    #[arg(long)]
    pub group: Option<String>,
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
    /// Its failure group: same reason, type and detail but for values.
    pub group: String,
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
            && self.group.as_ref().is_none_or(|g| *g == s.group)
            && self
                .since
                .is_none_or(|since| s.dead_lettered_at.is_some_and(|at| at >= since))
            && self
                .until
                .is_none_or(|until| s.dead_lettered_at.is_some_and(|at| at < until))
    }
}

/// A time in a header: RabbitMQ writes `x-death` times as AMQP timestamps,
/// and an imported export brings them back as integers.
fn header_time(table: &FieldTable, name: &str) -> Option<DateTime<Utc>> {
    let seconds = match table.inner().get(name)? {
        AMQPValue::Timestamp(t) => i64::try_from(*t).ok()?,
        _ => header_int(table, name)?,
    };
    DateTime::from_timestamp(seconds, 0)
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
    let body_text = |name: &str| body.as_ref().and_then(|b| b[name].as_str()).map(str::to_owned);
    let event_type = body_text("type")
        .or_else(|| delivery.properties.kind().as_ref().map(|t| t.to_string()))
        .unwrap_or_default();
    let reason = dead_letter::reason(&headers).unwrap_or_else(|| "unknown".into());
    let detail = header_text(&headers, DETAIL_HEADER).unwrap_or_default();
    Summary {
        id: body_text("id")
            .or_else(|| delivery.properties.message_id().as_ref().map(|m| m.to_string()))
            .unwrap_or_default(),
        group: groups::group_id(&groups::fingerprint(&reason, &event_type, &detail)),
        event_type,
        reason,
        detail,
        first_death_queue: header_text(&headers, FIRST_DEATH_QUEUE_HEADER)
            .or_else(|| header_text(&headers, "x-first-death-queue"))
            .or_else(|| death_text("queue"))
            .unwrap_or_default(),
        count: header_int(&headers, DEATH_COUNT_HEADER)
            .or_else(|| death.and_then(|d| header_int(d, "count")))
            .unwrap_or(1),
        dead_lettered_at: header_text(&headers, DEAD_LETTERED_AT_HEADER)
            .and_then(|t| crate::wire::values::rfc3339::parse(&t))
            .or_else(|| death.and_then(|d| header_time(d, "time"))),
        original_exchange: header_text(&headers, ORIGINAL_EXCHANGE_HEADER)
            .or_else(|| death_text("exchange"))
            .unwrap_or_default(),
        original_routing_key: header_text(&headers, ORIGINAL_ROUTING_KEY_HEADER)
            .or(death_key)
            .unwrap_or_default(),
    }
}

/// One line of an NDJSON export: enough to put the message back exactly.
/// Headers are plain JSON (`headers.rs`); the body is UTF-8 text, or
/// base64 when it is not UTF-8.
#[derive(Debug, Serialize, Deserialize)]
pub struct Exported {
    pub summary: Value,
    #[serde(default)]
    pub headers: Value,
    pub message_id: Option<String>,
    #[serde(rename = "type")]
    pub amqp_type: Option<String>,
    pub content_type: Option<String>,
    pub timestamp: Option<u64>,
    /// The routing key it was first published with.
    pub routing_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
}

impl Exported {
    fn of(held: &Held) -> Self {
        let p = &held.delivery.properties;
        let (body, body_base64) = match std::str::from_utf8(&held.delivery.data) {
            Ok(text) => (Some(text.to_owned()), None),
            Err(_) => (
                None,
                Some(base64::engine::general_purpose::STANDARD.encode(&held.delivery.data)),
            ),
        };
        let routing_key = if held.summary.original_routing_key.is_empty() {
            held.delivery.routing_key.to_string()
        } else {
            held.summary.original_routing_key.clone()
        };
        Self {
            summary: serde_json::to_value(&held.summary).unwrap_or(Value::Null),
            headers: headers::table_to_json(&p.headers().clone().unwrap_or_default()),
            message_id: p.message_id().as_ref().map(|s| s.to_string()),
            amqp_type: p.kind().as_ref().map(|s| s.to_string()),
            content_type: p.content_type().as_ref().map(|s| s.to_string()),
            timestamp: *p.timestamp(),
            routing_key,
            body,
            body_base64,
        }
    }

    fn body(&self) -> anyhow::Result<Vec<u8>> {
        match (&self.body, &self.body_base64) {
            (_, Some(encoded)) => Ok(base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .context("body_base64")?),
            (Some(text), None) => Ok(text.as_bytes().to_vec()),
            (None, None) => bail!("no body"),
        }
    }

    fn properties(&self) -> anyhow::Result<BasicProperties> {
        let headers = headers::table_from_json(&self.headers).map_err(anyhow::Error::msg)?;
        let mut p = BasicProperties::default().with_headers(headers);
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
        Ok(queue::republished(&p))
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
    Groups {
        filter: Filter,
        json: bool,
    },
    Show {
        id: String,
    },
    Replay {
        selection: Selection,
        dry_run: bool,
        rate: f64,
        by: String,
    },
    Edit {
        id: String,
        set: Vec<Assignment>,
        dry_run: bool,
        by: String,
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

impl Selection {
    fn matches(&self, s: &Summary) -> bool {
        match self {
            Selection::Id(id) => s.id == *id,
            Selection::Filter(f) => f.matches(s),
        }
    }
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

/// Who runs the command, for the replay headers and logs: `--by`, else
/// `COLLAB_OPERATOR`, else the login name.
pub fn operator(by: Option<String>) -> String {
    by.or_else(|| std::env::var("USER").ok())
        .or_else(|| std::env::var("LOGNAME").ok())
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "unknown".into())
}

fn text(value: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(value))
}

/// The headers of a message an operator puts back in the work queue.
fn replay_headers(held: &Held, action: &str, by: &str, at: &str) -> FieldTable {
    let mut headers = held.delivery.properties.headers().clone().unwrap_or_default();
    let replays = header_int(&headers, REPLAY_COUNT_HEADER).unwrap_or(0) + 1;
    headers.insert(REPLAY_COUNT_HEADER.into(), AMQPValue::LongLongInt(replays));
    headers.insert(REPLAY_ACTION_HEADER.into(), text(action));
    headers.insert(REPLAYED_BY_HEADER.into(), text(by));
    headers.insert(REPLAYED_AT_HEADER.into(), text(at));
    headers
}

/// The message as it was, back where it came from.
fn replay_of(held: &Held, by: &str, at: &str) -> Result<Outgoing, String> {
    let s = &held.summary;
    if s.original_exchange.is_empty() && s.original_routing_key.is_empty() {
        return Err(format!("{} has no original exchange or routing key", s.id));
    }
    let properties = held
        .delivery
        .properties
        .clone()
        .with_headers(replay_headers(held, "replay", by, at));
    Ok(Outgoing {
        exchange: s.original_exchange.clone(),
        routing_key: s.original_routing_key.clone(),
        body: held.delivery.data.clone(),
        properties: queue::republished(&properties),
    })
}

/// A corrected copy under a new id, naming the original; `Err` says why
/// the correction cannot be applied.
fn edited_copy(held: &Held, set: &[Assignment], by: &str, at: &str) -> Result<(Outgoing, String), String> {
    let s = &held.summary;
    let body: Value = serde_json::from_slice(&held.delivery.data)
        .map_err(|e| format!("the body is not JSON ({e}); it cannot be edited"))?;
    if !body.is_object() {
        return Err("the body is not a JSON object; it cannot be edited".into());
    }
    let accepts = |candidate: &Value| {
        let bytes = serde_json::to_vec(candidate).map_err(|e| e.to_string())?;
        crate::wire::envelope::parse(&bytes)
            .map(|_| ())
            .map_err(|m| format!("{}: {}", m.kind.code(), m.detail))
    };
    let mut edited = edit::apply(&body, set, accepts)
        .map_err(|reason| format!("the corrected event would be dead-lettered again: {reason}"))?;
    let sets_id = set.iter().any(|a| a.path == [edit::Step::Key("id".into())]);
    if !sets_id {
        edited["id"] = Value::String(edit::new_id(&s.id, &edited));
    }
    let new_id = edited["id"].as_str().unwrap_or_default().to_owned();
    let new_type = edited["type"].as_str().unwrap_or_default().to_owned();
    // The routing key is the event type: a corrected type moves it.
    let routing_key = if s.original_routing_key == s.event_type && !new_type.is_empty() {
        new_type.clone()
    } else {
        s.original_routing_key.clone()
    };
    if s.original_exchange.is_empty() && routing_key.is_empty() {
        return Err(format!("{} has no original exchange or routing key", s.id));
    }
    let mut headers = replay_headers(held, "edit", by, at);
    headers.insert(EDIT_OF_HEADER.into(), text(&s.id));
    let fields: Vec<&str> = set.iter().map(|a| a.text.as_str()).collect();
    headers.insert(EDITED_FIELDS_HEADER.into(), text(&fields.join(",")));
    let mut properties = held
        .delivery
        .properties
        .clone()
        .with_headers(headers)
        .with_message_id(new_id.as_str().into());
    if !new_type.is_empty() {
        properties = properties.with_type(new_type.as_str().into());
    }
    let body = serde_json::to_vec(&edited).map_err(|e| e.to_string())?;
    Ok((
        Outgoing {
            exchange: s.original_exchange.clone(),
            routing_key,
            body,
            properties: queue::republished(&properties),
        },
        new_id,
    ))
}

pub async fn run(broker: Broker<'_>, action: Action, out: &mut impl Write) -> anyhow::Result<()> {
    let dlq = DeadLetterQueue::open(broker).await?;
    let result = execute(&dlq, action, out).await;
    dlq.close().await?;
    result
}

/// No pause between moves (only replays are paced).
const NO_PACE: Duration = Duration::ZERO;

async fn execute(dlq: &DeadLetterQueue, action: Action, out: &mut impl Write) -> anyhow::Result<()> {
    match action {
        Action::List { filter, limit, json } => {
            let (mut rows, seen) = matching(dlq, &filter).await?;
            rows.truncate(limit);
            if json {
                json_lines(out, &rows)?;
            } else {
                writeln!(
                    out,
                    "{:<38} {:<28} {:<18} {:<12} {:<22} {:>5}  DEAD-LETTERED AT",
                    "ID", "TYPE", "REASON", "GROUP", "FIRST-DEATH QUEUE", "COUNT"
                )?;
                for s in &rows {
                    writeln!(
                        out,
                        "{:<38} {:<28} {:<18} {:<12} {:<22} {:>5}  {}",
                        s.id,
                        s.event_type,
                        s.reason,
                        s.group,
                        s.first_death_queue,
                        s.count,
                        time_text(s.dead_lettered_at)
                    )?;
                }
                writeln!(out, "{} of {seen} dead letters", rows.len())?;
            }
        }
        Action::Groups { filter, json } => {
            let (summaries, _) = matching(dlq, &filter).await?;
            let found = groups::group(&summaries);
            if json {
                json_lines(out, &found)?;
            } else {
                writeln!(
                    out,
                    "{:<12} {:>6}  {:<18} {:<28} {:<20} {:<20} DETAIL",
                    "GROUP", "COUNT", "REASON", "TYPE", "FIRST SEEN", "LAST SEEN"
                )?;
                for g in &found {
                    writeln!(
                        out,
                        "{:<12} {:>6}  {:<18} {:<28} {:<20} {:<20} {}",
                        g.group,
                        g.count,
                        g.reason,
                        g.event_type,
                        time_text(g.first_seen),
                        time_text(g.last_seen),
                        g.detail
                    )?;
                }
                writeln!(
                    out,
                    "{} groups, {} dead letters; replay one with `dlq replay --group GROUP`",
                    found.len(),
                    summaries.len()
                )?;
            }
        }
        Action::Show { id } => {
            let mut shown = None;
            dlq.walk(NO_PACE, |h| {
                if shown.is_none() && h.summary.id == id {
                    shown = Some(shown_json(h));
                }
                Fate::Keep
            })
            .await?;
            let Some(shown) = shown else {
                bail!("no dead letter with id {id}");
            };
            writeln!(out, "{}", serde_json::to_string_pretty(&shown)?)?;
        }
        Action::Replay {
            selection,
            dry_run,
            rate,
            by,
        } => {
            let at = crate::wire::values::format_time(&Utc::now());
            // Each selected dead letter, and why it stays if it cannot be replayed.
            let mut selected: Vec<(Summary, Option<String>)> = Vec::new();
            let pace = Duration::from_secs_f64(1.0 / rate.max(0.01));
            let walked = dlq
                .walk(pace, |h| {
                    if !selection.matches(&h.summary) {
                        return Fate::Keep;
                    }
                    let replay = if dry_run { None } else { Some(replay_of(h, &by, &at)) };
                    match replay {
                        Some(Ok(replay)) => {
                            selected.push((h.summary.clone(), None));
                            Fate::Move(Box::new(replay))
                        }
                        Some(Err(why)) => {
                            selected.push((h.summary.clone(), Some(why)));
                            Fate::Keep
                        }
                        None => {
                            selected.push((h.summary.clone(), None));
                            Fate::Keep
                        }
                    }
                })
                .await?;
            if let Selection::Id(id) = &selection
                && selected.is_empty()
            {
                bail!("no dead letter with id {id}");
            }
            let mut refused = Vec::new();
            for (s, why) in &selected {
                if dry_run {
                    writeln!(
                        out,
                        "would replay {} ({}, {}) to {} / {}",
                        s.id, s.event_type, s.reason, s.original_exchange, s.original_routing_key
                    )?;
                } else if let Some(why) = why {
                    refused.push(why.as_str());
                } else {
                    tracing::info!(event.id = %s.id, event.type = %s.event_type, reason = %s.reason, replayed_by = %by, exchange = %s.original_exchange, routing_key = %s.original_routing_key, "replayed a dead letter");
                    writeln!(out, "replayed {} ({}, {})", s.id, s.event_type, s.reason)?;
                }
            }
            if dry_run {
                writeln!(out, "dry run: {} dead letters would be replayed", selected.len())?;
            } else {
                writeln!(out, "replayed {} dead letters", walked.moved)?;
            }
            if !refused.is_empty() {
                bail!("not replayed (left in the DLQ): {}", refused.join("; "));
            }
        }
        Action::Edit { id, set, dry_run, by } => {
            let at = crate::wire::values::format_time(&Utc::now());
            let mut found = 0usize;
            let mut edits = Vec::new();
            let mut refused = None;
            dlq.walk(NO_PACE, |h| {
                if h.summary.id != id {
                    return Fate::Keep;
                }
                found += 1;
                match edited_copy(h, &set, &by, &at) {
                    Ok((copy, new_id)) => {
                        let body: Value = serde_json::from_slice(&copy.body).unwrap_or(Value::Null);
                        edits.push((new_id, body));
                        if dry_run {
                            Fate::Keep
                        } else {
                            Fate::Move(Box::new(copy))
                        }
                    }
                    Err(why) => {
                        refused.get_or_insert(why);
                        Fate::Keep
                    }
                }
            })
            .await?;
            if found == 0 {
                bail!("no dead letter with id {id}");
            }
            if let Some(why) = refused {
                bail!("{id} not edited (left in the DLQ): {why}");
            }
            let fields: Vec<&str> = set.iter().map(|a| a.text.as_str()).collect();
            for (new_id, body) in &edits {
                if dry_run {
                    writeln!(out, "would publish {new_id}, an edit of {id}:")?;
                    writeln!(out, "{}", serde_json::to_string_pretty(body)?)?;
                } else {
                    tracing::info!(event.id = %new_id, edit_of = %id, fields = %fields.join(","), edited_by = %by, edited_at = %at, "edited a dead letter");
                    writeln!(
                        out,
                        "edited {id} ({}) by {by} at {at}: published {new_id}, removed {id}",
                        fields.join(", ")
                    )?;
                }
            }
        }
        Action::Export { filter, out: path } => {
            let mut file = match &path {
                Some(path) => Some(std::io::BufWriter::new(
                    std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
                )),
                None => None,
            };
            let mut written = 0usize;
            let mut failure: Option<std::io::Error> = None;
            dlq.walk(NO_PACE, |h| {
                if failure.is_none() && filter.matches(&h.summary) {
                    let line = serde_json::to_string(&Exported::of(h)).unwrap_or_default();
                    let result = match file.as_mut() {
                        Some(f) => writeln!(f, "{line}"),
                        None => writeln!(out, "{line}"),
                    };
                    match result {
                        Ok(()) => written += 1,
                        Err(e) => failure = Some(e),
                    }
                }
                Fate::Keep
            })
            .await?;
            if let Some(error) = failure {
                return Err(error).context("writing the export");
            }
            if let (Some(mut file), Some(path)) = (file, path) {
                file.flush()?;
                writeln!(out, "exported {written} dead letters to {}", path.display())?;
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
                let context = || format!("{} line {}", file.display(), n + 1);
                let exported: Exported = serde_json::from_str(&line).with_context(context)?;
                dlq.publish_confirmed(&Outgoing {
                    exchange: DEAD_LETTER_EXCHANGE.to_owned(),
                    routing_key: exported.routing_key.clone(),
                    body: exported.body().with_context(context)?,
                    properties: exported.properties().with_context(context)?,
                })
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

/// Walks the DLQ, keeping everything; the summaries that match, and how
/// many dead letters were seen.
async fn matching(dlq: &DeadLetterQueue, filter: &Filter) -> anyhow::Result<(Vec<Summary>, usize)> {
    let mut rows = Vec::new();
    let walked = dlq
        .walk(NO_PACE, |h| {
            if filter.matches(&h.summary) {
                rows.push(h.summary.clone());
            }
            Fate::Keep
        })
        .await?;
    Ok((rows, walked.seen))
}

fn time_text(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| crate::wire::values::format_time(&t)).unwrap_or_default()
}

fn json_lines<T: Serialize>(out: &mut impl Write, rows: &[T]) -> anyhow::Result<()> {
    for row in rows {
        writeln!(out, "{}", serde_json::to_string(row)?)?;
    }
    Ok(())
}

fn shown_json(h: &Held) -> Value {
    let body: Value = serde_json::from_slice(&h.delivery.data)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&h.delivery.data).into_owned()));
    json!({
        "summary": h.summary,
        "routing_key": if h.summary.original_routing_key.is_empty() {
            h.delivery.routing_key.to_string()
        } else {
            h.summary.original_routing_key.clone()
        },
        "properties": {
            "message_id": h.delivery.properties.message_id().as_ref().map(|s| s.to_string()),
            "type": h.delivery.properties.kind().as_ref().map(|s| s.to_string()),
            "content_type": h.delivery.properties.content_type().as_ref().map(|s| s.to_string()),
            "timestamp": h.delivery.properties.timestamp(),
        },
        "headers": headers::table_to_json(&h.delivery.properties.headers().clone().unwrap_or_default()),
        "body": body,
    })
}
