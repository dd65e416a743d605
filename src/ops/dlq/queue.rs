//! The dead-letter queue as the `dlq` commands see it: walked, never
//! browsed.
//!
//! RabbitMQ cannot show a message without delivering it, and a delivered
//! message handed back (a requeue, or the connection closing) raises its
//! `x-delivery-count` on quorum queues; RabbitMQ 4.x drops a message whose
//! count passes the queue's delivery limit (20 unless set). So the commands
//! never hand a message back. A walk takes every message that was ready
//! when it began, one chunk at a time, and settles each: a message that
//! stays is republished as an identical copy to the end of the queue (with
//! publisher confirms) and only then acked; a message that leaves (replay,
//! edit) is published where it goes, confirmed, then acked. The copy is a
//! new message with no delivery count, so reading the DLQ a thousand times
//! changes nothing but the messages' places in it; and at every moment a
//! message is in the queue or held by the walk, which gives it back if the
//! walk dies (docs/decisions.md, "Dead letters").
//!
//! Two walks at once would each miss what the other holds, so commands take
//! a lock first: an exclusive queue, which the broker releases when the
//! connection closes, however the command ends.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::StreamExt as _;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueDeclareOptions, QueuePurgeOptions,
};
use lapin::protocol::{AMQPErrorKind, AMQPSoftError};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{BasicProperties, Channel, Connection, ErrorKind};

use super::headers;
use super::{Summary, summarize};
use crate::amqp::dead_letter::DELIVERY_COUNT_HEADER;
use crate::amqp::topology::DEAD_LETTER_QUEUE;
use crate::amqp::{self, Broker};

/// The lock the `dlq` commands take: an exclusive queue of this name.
pub const LOCK_QUEUE: &str = "collab.events.dlq.lock";

/// How long a command waits for another one to finish.
const LOCK_WAIT: Duration = Duration::from_secs(60);

/// Messages taken before they are settled: bounds memory and the time a
/// message is held, and lets copies be published in one burst.
const CHUNK: usize = 500;

/// One dead letter taken off the queue.
pub struct Held {
    pub delivery: Delivery,
    pub summary: Summary,
}

/// A message to publish, with publisher confirms.
pub struct Outgoing {
    pub exchange: String,
    pub routing_key: String,
    pub body: Vec<u8>,
    pub properties: BasicProperties,
}

/// What a command does with a dead letter it took.
pub enum Fate {
    /// It stays: an identical copy goes to the end of the DLQ, then the
    /// original is acked.
    Keep,
    /// It leaves: this message is published (a replay, a corrected copy),
    /// then the original is acked.
    Move(Box<Outgoing>),
}

/// What a walk did.
#[derive(Debug, Default)]
pub struct Walked {
    /// Dead letters seen.
    pub seen: usize,
    /// Of which moved out.
    pub moved: usize,
}

/// A connection to the broker, holding the `dlq` lock.
pub struct DeadLetterQueue {
    connection: Connection,
    channel: Channel,
    publisher: Channel,
}

fn soft_error(error: &lapin::Error) -> Option<AMQPSoftError> {
    match error.kind() {
        ErrorKind::ProtocolError(e) => match e.kind() {
            AMQPErrorKind::Soft(soft) => Some(soft.clone()),
            AMQPErrorKind::Hard(_) => None,
        },
        _ => None,
    }
}

/// The properties of a message republished by the tools: its own, without
/// what belongs to its last delivery, persistent.
pub fn republished(properties: &BasicProperties) -> BasicProperties {
    let headers = headers::without(
        &properties.headers().clone().unwrap_or_default(),
        &[DELIVERY_COUNT_HEADER],
    );
    properties.clone().with_headers(headers).with_delivery_mode(2)
}

impl DeadLetterQueue {
    /// Connects and takes the lock (waiting up to a minute for another
    /// command to finish).
    pub async fn open(broker: Broker<'_>) -> anyhow::Result<Self> {
        let connection = amqp::connect_with(broker, lapin::ConnectionProperties::default())
            .await
            .context("connecting to RabbitMQ")?;
        lock(&connection).await?;
        let channel = connection.create_channel().await?;
        let publisher = connection.create_channel().await?;
        publisher.confirm_select(ConfirmSelectOptions::default()).await?;
        Ok(Self {
            connection,
            channel,
            publisher,
        })
    }

    /// Messages ready in the DLQ now.
    async fn ready(&self) -> anyhow::Result<u32> {
        let queue = crate::amqp::topology::declare_passive(&self.channel, DEAD_LETTER_QUEUE)
            .await
            .with_context(|| format!("{DEAD_LETTER_QUEUE} not found (a worker declares it when it starts)"))?;
        Ok(queue.message_count())
    }

    /// Takes every message ready when it starts, asks `decide` what becomes
    /// of each, and settles it so (see the module's documentation). Moves
    /// are `pace` apart.
    pub async fn walk(&self, pace: Duration, mut decide: impl FnMut(&Held) -> Fate) -> anyhow::Result<Walked> {
        let total = self.ready().await? as usize;
        let mut walked = Walked::default();
        while walked.seen < total {
            let want = (total - walked.seen).min(CHUNK);
            let chunk = self.take(want, walked.seen).await?;
            if chunk.is_empty() {
                break;
            }
            // Past the messages that were ready at the start (only when
            // someone else took some meanwhile) come this walk's own copies
            // and newer dead letters: kept, not shown twice.
            let fates: Vec<Fate> = chunk
                .iter()
                .enumerate()
                .map(|(i, held)| if i < want { decide(held) } else { Fate::Keep })
                .collect();
            walked.seen += chunk.len().min(want);
            let mut kept = Vec::new();
            let mut moves = Vec::new();
            for (held, fate) in chunk.iter().zip(fates) {
                match fate {
                    Fate::Keep => kept.push(held),
                    Fate::Move(out) => moves.push((held, out)),
                }
            }
            self.keep(&kept).await?;
            for (held, out) in moves {
                if walked.moved > 0 {
                    tokio::time::sleep(pace).await;
                }
                self.publish_confirmed(&out).await?;
                ack(held).await?;
                walked.moved += 1;
            }
        }
        Ok(walked)
    }

    /// Takes `want` messages: a consumer with a prefetch of `want`,
    /// cancelled once they arrived (the broker sends no more than that
    /// unacked), which streams them instead of a round trip each as
    /// `basic.get` would (5 000 dead letters: 1.5–3 s against 11 s). Fewer
    /// arrive only when someone else took some meanwhile: a second without
    /// one ends the wait; what still arrives before the cancel is returned
    /// too (so there may be more than `want`).
    async fn take(&self, want: usize, n: usize) -> anyhow::Result<Vec<Held>> {
        // A tag of its own per chunk: RabbitMQ 3.10 crashes the channel when
        // a quorum queue delivers to a tag just cancelled and consumed again.
        let tag = format!("collab-worker-dlq-{n}");
        let prefetch = u16::try_from(want).unwrap_or(u16::MAX);
        self.channel.basic_qos(prefetch, BasicQosOptions::default()).await?;
        let mut consumer = self
            .channel
            .basic_consume(
                DEAD_LETTER_QUEUE.into(),
                tag.as_str().into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .context("reading the dead-letter queue")?;
        let mut deliveries = Vec::with_capacity(want);
        while deliveries.len() < want {
            match tokio::time::timeout(Duration::from_secs(1), consumer.next()).await {
                Ok(Some(delivery)) => deliveries.push(delivery.context("reading the dead-letter queue")?),
                Ok(None) | Err(_) => break,
            }
        }
        self.channel
            .basic_cancel(tag.as_str().into(), BasicCancelOptions::default())
            .await?;
        // What arrived before the broker saw the cancel is ours too.
        while let Some(delivery) = consumer.next().await {
            deliveries.push(delivery.context("reading the dead-letter queue")?);
        }
        Ok(deliveries
            .into_iter()
            .map(|delivery| Held {
                summary: summarize(&delivery),
                delivery,
            })
            .collect())
    }

    /// Copies to the end of the queue, all published before any confirm is
    /// awaited; each original is acked once its copy is confirmed.
    async fn keep(&self, kept: &[&Held]) -> anyhow::Result<()> {
        let copies: Vec<Outgoing> = kept
            .iter()
            .map(|h| Outgoing {
                exchange: String::new(),
                routing_key: DEAD_LETTER_QUEUE.to_owned(),
                body: h.delivery.data.clone(),
                properties: republished(&h.delivery.properties),
            })
            .collect();
        let confirmed = crate::amqp::publish_in_order(copies.iter().map(|c| self.publish_confirmed(c)).collect()).await;
        for (held, result) in kept.iter().zip(confirmed) {
            result.with_context(|| format!("putting {} back", held.summary.id))?;
        }
        let acked = crate::amqp::publish_in_order(kept.iter().map(|h| ack(h)).collect()).await;
        acked.into_iter().collect()
    }

    /// Publishes with `mandatory` and waits for the broker's confirm.
    pub async fn publish_confirmed(&self, out: &Outgoing) -> anyhow::Result<()> {
        let confirm = self
            .publisher
            .basic_publish(
                out.exchange.as_str().into(),
                out.routing_key.as_str().into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..BasicPublishOptions::default()
                },
                &out.body,
                out.properties.clone(),
            )
            .await?
            .await?;
        if !confirm.is_ack() || confirm.take_message().is_some() {
            bail!(
                "the broker did not accept the message on {:?} / {}",
                out.exchange,
                out.routing_key
            );
        }
        Ok(())
    }

    pub async fn purge(&self) -> anyhow::Result<u32> {
        Ok(self
            .channel
            .queue_purge(DEAD_LETTER_QUEUE.into(), QueuePurgeOptions::default())
            .await?)
    }

    /// Closing releases the lock (and would give back anything still held,
    /// which only a failed walk leaves).
    pub async fn close(self) -> anyhow::Result<()> {
        self.connection.close(200, "done".into()).await?;
        Ok(())
    }
}

async fn ack(held: &Held) -> anyhow::Result<()> {
    if !held.delivery.acker.ack(BasicAckOptions::default()).await? {
        bail!("could not settle {} (channel closed)", held.summary.id);
    }
    Ok(())
}

/// Takes the `dlq` lock: declares the exclusive queue [`LOCK_QUEUE`]. While
/// another connection has it the broker answers RESOURCE_LOCKED and closes
/// the channel; try again on a new one.
async fn lock(connection: &Connection) -> anyhow::Result<()> {
    let deadline = Instant::now() + LOCK_WAIT;
    let mut told = false;
    let mut arguments = FieldTable::default();
    // Exclusive queues are classic; said explicitly for brokers whose
    // default queue type is quorum.
    arguments.insert(
        "x-queue-type".into(),
        AMQPValue::LongString(LongString::from("classic")),
    );
    loop {
        let channel = connection.create_channel().await?;
        let declared = channel
            .queue_declare(
                LOCK_QUEUE.into(),
                QueueDeclareOptions {
                    exclusive: true,
                    auto_delete: true,
                    ..QueueDeclareOptions::default()
                },
                arguments.clone(),
            )
            .await;
        match declared {
            Ok(_) => return Ok(()),
            Err(error) if soft_error(&error) == Some(AMQPSoftError::RESOURCELOCKED) => {
                if Instant::now() >= deadline {
                    bail!(
                        "another `collab-worker dlq` command has been holding the DLQ for {} s ({LOCK_QUEUE}); \
                         try again when it is done",
                        LOCK_WAIT.as_secs()
                    );
                }
                if !told {
                    tracing::warn!("another `collab-worker dlq` command is working on the DLQ; waiting for it");
                    told = true;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(error) => return Err(error).context("taking the dlq lock"),
        }
    }
}
