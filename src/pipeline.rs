//! Applying a batch of events in one PostgreSQL transaction: the seam between
//! the pure rules and the database.
//!
//! ```text
//! BEGIN
//!   lock the apply stream (one batch at a time, cluster-wide)
//!   inbox: which of these ids were applied before?      → duplicates
//!   for each new event, in delivery order:
//!       run the rules on the overlay; on a miss, load what was missing, rerun
//!   insert inbox rows, upsert/delete changed aggregates, insert outbox rows
//! COMMIT                                                 → then ack, relay
//! ```
//!
//! Serializing whole batches on one advisory lock is the concurrency design:
//! rules span creators, sellers and campaigns (a violation touches every
//! commission of a creator; a tick, every due campaign), so any finer
//! partition would need cross-partition transactions. Batching keeps the
//! serialized section short per event; see the README's scaling notes.

use std::collections::HashSet;
use std::panic::{AssertUnwindSafe, catch_unwind};

use sqlx::PgPool;

use crate::domain::state::{Key, Missing, Query, Workspace};
use crate::domain::{self, Rules, business_time};
use crate::store::outbox::OutboxRow;
use crate::store::state::Overlay;
use crate::store::{StoreError, inbox, outbox};
use crate::wire::envelope::{Inbound, outcome_text};
use crate::wire::events::Event;

/// Advisory lock key of the apply stream ("collab" in ASCII).
const APPLY_LOCK: i64 = 0x636f_6c6c_6162;
/// A rule needing more load rounds than this is a bug, not a big state.
const MAX_LOAD_ROUNDS: usize = 64;
/// Batch-wide discovery passes before applying (most events need 1–3).
const DISCOVERY_PASSES: usize = 4;

/// What happened to one event of a batch.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// Applied now, with this many outcomes.
    Applied { outcomes: usize },
    /// Applied before (same event id): nothing changed.
    Duplicate,
    /// The rules could not apply it (a bug or an inconsistency); nothing of it
    /// was written. The shell retries it alone and dead-letters it at last.
    Failed(String),
}

#[derive(Clone)]
pub struct Pipeline {
    pool: PgPool,
    rules: Rules,
}

impl Pipeline {
    pub fn new(pool: PgPool, rules: Rules) -> Self {
        Self { pool, rules }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Applies the events in one transaction. `Err` means nothing was
    /// committed; the verdicts say what happened to each event otherwise.
    pub async fn apply(&self, events: &[&Inbound]) -> Result<(Vec<Verdict>, Vec<OutboxRow>), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(APPLY_LOCK)
            .execute(&mut *tx)
            .await?;
        let ids: Vec<&str> = events.iter().map(|e| e.meta.id.as_str()).collect();
        let applied_before = inbox::applied(&mut tx, &ids).await?;

        let mut overlay = Overlay::default();
        let mut hints = Missing::default();
        for event in events {
            prefetch_hints(&event.event, &mut hints);
        }
        overlay.resolve(&mut tx, &hints).await?;
        let fresh: Vec<&Inbound> = events
            .iter()
            .copied()
            .filter(|e| !applied_before.contains(e.meta.id.as_str()))
            .collect();
        self.discover(&mut tx, &mut overlay, &fresh).await?;

        let mut seen = HashSet::new();
        let mut verdicts = Vec::with_capacity(events.len());
        let mut inbox_rows = Vec::new();
        let mut outbox_rows = Vec::new();
        for event in events {
            let id = event.meta.id.as_str();
            if applied_before.contains(id) || !seen.insert(id) {
                verdicts.push(Verdict::Duplicate);
                continue;
            }
            match self.decide(&mut tx, &mut overlay, event).await? {
                Ok(decision) => {
                    verdicts.push(Verdict::Applied {
                        outcomes: decision.outcomes.len(),
                    });
                    overlay.apply(decision.changes);
                    inbox_rows.push(inbox::InboxRow {
                        event_id: id.to_owned(),
                        type_name: event.meta.type_name.clone(),
                        source: event.meta.source.clone(),
                        time: event.meta.time,
                        outcomes: i32::try_from(decision.outcomes.len()).unwrap_or(i32::MAX),
                        body: event.raw.clone(),
                    });
                    outbox_rows.extend(decision.outcomes.iter().map(|o| OutboxRow {
                        id: o.id,
                        type_name: o.data.type_name().to_owned(),
                        causation_id: id.to_owned(),
                        body: outcome_text(o, &event.meta),
                    }));
                }
                Err(reason) => verdicts.push(Verdict::Failed(reason)),
            }
        }
        inbox::insert(&mut tx, &inbox_rows).await?;
        overlay.flush(&mut tx).await?;
        outbox::insert(&mut tx, &outbox_rows).await?;
        tx.commit().await?;
        Ok((verdicts, outbox_rows))
    }

    /// Runs every event of the batch against the loaded state, without
    /// keeping the results, to learn what each will read; loads all of it in
    /// one round per pass. Without this a batch would cost a database round
    /// trip per event that reads something not hinted. Events that depend on
    /// changes made earlier in the same batch may still miss later; the
    /// sequential pass loads those one by one.
    async fn discover(
        &self,
        conn: &mut sqlx::PgConnection,
        overlay: &mut Overlay,
        events: &[&Inbound],
    ) -> Result<(), StoreError> {
        for _ in 0..DISCOVERY_PASSES {
            let mut missing = Missing::default();
            for event in events {
                let now = business_time(event.meta.time, &event.event);
                let probe = catch_unwind(AssertUnwindSafe(|| {
                    let mut ws = Workspace::new(&*overlay, &self.rules, event.meta.id.clone(), now);
                    match domain::apply(&mut ws, &event.event) {
                        Ok(()) => Missing::default(),
                        Err(_) => ws.take_missing(),
                    }
                }));
                if let Ok(found) = probe {
                    missing.merge(found);
                }
            }
            if missing.is_empty() {
                break;
            }
            overlay.resolve(conn, &missing).await?;
        }
        Ok(())
    }

    /// Runs the rules for one event, loading what they miss. `Ok(Err)` is a
    /// rule failure confined to this event.
    async fn decide(
        &self,
        conn: &mut sqlx::PgConnection,
        overlay: &mut Overlay,
        event: &Inbound,
    ) -> Result<Result<domain::state::Decision, String>, StoreError> {
        let now = business_time(event.meta.time, &event.event);
        for _ in 0..MAX_LOAD_ROUNDS {
            let attempt = catch_unwind(AssertUnwindSafe(|| {
                let mut ws = Workspace::new(&*overlay, &self.rules, event.meta.id.clone(), now);
                match domain::apply(&mut ws, &event.event) {
                    Ok(()) => Ok(ws.into_decision()),
                    Err(_) => Err(ws.take_missing()),
                }
            }));
            match attempt {
                Ok(Ok(decision)) => return Ok(Ok(decision)),
                Ok(Err(missing)) if missing.is_empty() => {
                    return Ok(Err("a rule reported missing state without naming it".into()));
                }
                Ok(Err(missing)) => overlay.resolve(conn, &missing).await?,
                Err(panic) => return Ok(Err(format!("rule panicked: {}", panic_message(&panic)))),
            }
        }
        Ok(Err(format!("state still missing after {MAX_LOAD_ROUNDS} load rounds")))
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// Aggregates an event will certainly read, fetched for the whole batch in
/// one round trip. Only a shortcut: what is not hinted is loaded on a miss.
fn prefetch_hints(event: &Event, hints: &mut Missing) {
    use crate::wire::values::SellerId;
    let mut key = |k: Key| hints.add_key(k);
    match event {
        Event::ProductUpdated(e) => key(Key::Product(e.product_id.clone())),
        Event::CreatorUpdated(e) => key(Key::Creator(e.creator_id.clone())),
        Event::CreatorGroupSaved(e) => key(Key::Seller(e.seller_id.clone())),
        Event::CampaignSubmitted(e) => {
            key(Key::Campaign(e.campaign_id.clone()));
            key(Key::Seller(e.seller_id.clone()));
            for p in &e.products {
                key(Key::Product(p.product_id.clone()));
            }
        }
        Event::CampaignRecallRequested(e) => key(Key::Campaign(e.campaign_id.clone())),
        Event::PaymentSucceeded(e) => {
            key(Key::Campaign(e.campaign_id.clone()));
            key(Key::Seller(e.seller_id.clone()));
        }
        Event::PaymentFailed(_) => {}
        Event::SellerCreatorBlocked(e) | Event::SellerCreatorUnblocked(e) | Event::PartnershipPaused(e) => {
            key(Key::Pair((e.seller_id.clone(), e.creator_id.clone())));
            key(Key::Creator(e.creator_id.clone()));
        }
        Event::PartnershipEstablished(e) => {
            key(Key::Pair((e.seller_id.clone(), e.creator_id.clone())));
            key(Key::Creator(e.creator_id.clone()));
        }
        Event::DisputeOpened(e) => {
            key(Key::Dispute(e.dispute_id.clone()));
            key(Key::Pair((e.seller_id.clone(), e.creator_id.clone())));
        }
        Event::DisputeResolved(e) => key(Key::Dispute(e.dispute_id.clone())),
        Event::CreatorJoinRequested(e) => {
            key(Key::Campaign(e.campaign_id.clone()));
            key(Key::Creator(e.creator_id.clone()));
            key(Key::Participation((e.campaign_id.clone(), e.creator_id.clone())));
        }
        Event::SampleRequested(e) => {
            key(Key::Sample(e.request_id.clone()));
            key(Key::Campaign(e.campaign_id.clone()));
            key(Key::Participation((e.campaign_id.clone(), e.creator_id.clone())));
        }
        Event::SampleShipped(e) | Event::SampleDelivered(e) => key(Key::Sample(e.request_id.clone())),
        Event::SampleRefundablePurchased(e) => {
            key(Key::Campaign(e.campaign_id.clone()));
            key(Key::Creator(e.creator_id.clone()));
            key(Key::Refundable(e.refundable_id.clone()));
        }
        Event::ContentPosted(e) => {
            key(Key::Content(e.content_id.clone()));
            key(Key::Creator(e.creator_id.clone()));
        }
        Event::OrderPaid(e) => {
            key(Key::Order(e.order_id.clone()));
            key(Key::Product(e.product_id.clone()));
            if let Some(creator) = &e.creator_id {
                key(Key::Creator(creator.clone()));
                let seller: SellerId = e.seller_id.clone();
                key(Key::Pair((seller, creator.clone())));
            }
            if let Some(content) = &e.content_id {
                key(Key::Content(content.clone()));
            }
        }
        Event::OrderCancelled(e) | Event::OrderSettled(e) => key(Key::Order(e.order_id.clone())),
        Event::OrderRefunded(e) => key(Key::Order(e.order_id.clone())),
        Event::CreatorViolationReported(e) => {
            key(Key::Creator(e.creator_id.clone()));
            hints.add_query(Query::PendingOrdersOf(e.creator_id.clone()));
        }
        Event::CreatorPlatformBlocked(e) => {
            key(Key::Creator(e.creator_id.clone()));
            hints.add_query(Query::PendingOrdersOf(e.creator_id.clone()));
        }
        Event::ClockTicked(tick) => {
            key(Key::Clock(()));
            hints.add_query(Query::TimersDue(tick.now));
        }
    }
}
