//! Applying a batch of events in one PostgreSQL transaction: the seam between
//! the pure rules and the database.
//!
//! ```text
//! BEGIN; lock apply_version (its row: one batch at a time, cluster-wide)
//!   inbox: which of these ids were applied before?      → duplicates
//!   for each new event, in delivery order:
//!       run the rules on the overlay (cache, then database); on a miss,
//!       load it — and what the rest of the batch will miss — then rerun
//!   insert inbox rows, upsert/delete changed aggregates, insert outbox rows,
//!   bump apply_version (one statement)
//! COMMIT                                                 → then ack, relay
//! ```
//!
//! Serializing whole batches on one row lock is the concurrency design:
//! rules span creators, sellers and campaigns (a violation touches every
//! commission of a creator; a tick, every due campaign), so any finer
//! partition would need cross-partition transactions.
//!
//! `apply_version` also tells each process whether its cache of aggregates
//! is still the committed state: it is bumped by every batch, so a version
//! other than the one the process itself left means another process wrote.
//!
//! Deciding the next batch while this one commits (optimistically, checked
//! against the version) was measured and did not pay on two cores: the
//! broker, PostgreSQL and the worker already share the CPUs (docs/decisions.md).

use std::collections::HashSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use sqlx::{PgConnection, PgPool};
use tokio::sync::Mutex;

use crate::domain::state::{Doc, Key, Lookup, Missing, Query, Workspace};
use crate::domain::{self, Rules, business_time};
use crate::store::cache::DocCache;
use crate::store::outbox::{OutboxRow, Pending};
use crate::store::state::{Overlay, StateWrites};
use crate::store::{StoreError, commit, inbox};
use crate::wire::envelope::{Inbound, outcome_text};
use crate::wire::events::Event;
use crate::wire::values::SellerId;

/// A rule needing more load rounds than this is a bug, not a big state.
const MAX_LOAD_ROUNDS: usize = 64;
/// Passes of one discovery probe (most events need 1–3 rounds of loads).
const DISCOVERY_PASSES: usize = 4;
/// Discovery probes per batch; misses after those load one event at a time.
const MAX_PROBES: usize = 3;
/// Takes the apply lock with BEGIN, in one round trip.
const BEGIN_LOCKED: &str = "BEGIN; SELECT 1 FROM apply_version WHERE id = 1 FOR UPDATE";

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

/// A batch decided under the apply lock, not yet committed.
struct Decided {
    verdicts: Vec<Verdict>,
    inbox_rows: Vec<inbox::InboxRow>,
    outbox_rows: Vec<OutboxRow>,
    writes: StateWrites,
    /// What it read from the table and wrote: the cache takes it after the
    /// commit.
    docs: Vec<(Key, Option<Doc>)>,
}

/// A batch committed.
pub struct Committed {
    pub verdicts: Vec<Verdict>,
    /// Its outcomes as stored, in `seq` order.
    pub stored: Vec<Pending>,
}

#[derive(Clone)]
pub struct Pipeline {
    pool: PgPool,
    rules: Rules,
    /// Read while deciding; written after a commit (and dropped when another
    /// process is found to have written). Not held during the write and the
    /// commit.
    cache: Arc<Mutex<DocCache>>,
}

impl Pipeline {
    /// `cache_docs`: how many committed aggregates to keep in memory.
    pub fn new(pool: PgPool, rules: Rules, cache_docs: usize) -> Self {
        Self {
            pool,
            rules,
            cache: Arc::new(Mutex::new(DocCache::new(cache_docs))),
        }
    }

    /// Applies the events in one transaction. `Err` means nothing was
    /// committed.
    pub async fn apply(&self, events: &[&Inbound]) -> Result<Committed, StoreError> {
        let mut tx = self
            .pool
            .begin_with(BEGIN_LOCKED)
            .await
            .map_err(StoreError::connecting)?;
        let ids: Vec<&str> = events.iter().map(|e| e.meta.id.as_str()).collect();
        let (version, applied_before) = inbox::version_and_applied(&mut tx, &ids).await?;
        let decided = {
            let mut cache = self.cache.lock().await;
            cache.validate(version);
            self.decide(&mut tx, &cache, events, applied_before).await?
        };
        let Decided {
            verdicts,
            inbox_rows,
            outbox_rows,
            writes,
            docs,
        } = decided;
        let stored = commit::write(&mut tx, &inbox_rows, &writes, outbox_rows).await?;
        if let Err(error) = tx.commit().await {
            // Committed or not, nobody can tell: trust nothing cached.
            self.cache.lock().await.invalidate();
            return Err(error.into());
        }
        // If another apply of this process slipped in between (there is one
        // consumer, so only in principle), the version it leaves makes the
        // next batch drop the cache: never stale, at worst cold.
        self.cache.lock().await.commit(version + 1, docs);
        Ok(Committed { verdicts, stored })
    }

    /// Runs the rules for every event, reading through `conn` what neither
    /// the batch ahead nor the cache holds.
    async fn decide(
        &self,
        conn: &mut PgConnection,
        cache: &DocCache,
        events: &[&Inbound],
        applied_before: HashSet<String>,
    ) -> Result<Decided, StoreError> {
        let mut overlay = Overlay::new(cache);
        let mut hints = Missing::default();
        for event in events {
            prefetch_hints(&event.event, &mut hints);
        }
        overlay.resolve(conn, &hints).await?;
        let mut follow_ups = Missing::default();
        for event in events {
            follow_up_hints(&event.event, &overlay, &mut follow_ups);
        }
        overlay.resolve(conn, &follow_ups).await?;

        // Applied before, or earlier in this batch: a duplicate.
        let mut seen = HashSet::new();
        let fresh: Vec<bool> = events
            .iter()
            .map(|e| !applied_before.contains(e.meta.id.as_str()) && seen.insert(e.meta.id.as_str()))
            .collect();
        let mut verdicts = Vec::with_capacity(events.len());
        let mut inbox_rows = Vec::new();
        let mut outbox_rows = Vec::new();
        let mut probes = 0;
        for (i, event) in events.iter().enumerate() {
            let id = event.meta.id.as_str();
            if !fresh[i] {
                verdicts.push(Verdict::Duplicate);
                continue;
            }
            let mut rounds = 0;
            let decision = loop {
                match self.try_apply(&overlay, event) {
                    Attempt::Decided(decision) => break Ok(decision),
                    Attempt::Failed(reason) => break Err(reason),
                    Attempt::Missing(_) if rounds >= MAX_LOAD_ROUNDS => {
                        break Err(format!("state still missing after {MAX_LOAD_ROUNDS} load rounds"));
                    }
                    Attempt::Missing(missing) => {
                        rounds += 1;
                        overlay.resolve(conn, &missing).await?;
                        // One miss usually means more to come in this batch (a
                        // cold cache): learn what the rest will read, in a few
                        // queries rather than one per event.
                        if probes < MAX_PROBES {
                            probes += 1;
                            let rest: Vec<&Inbound> =
                                (i + 1..events.len()).filter(|j| fresh[*j]).map(|j| events[j]).collect();
                            self.discover(conn, &mut overlay, &rest).await?;
                        }
                    }
                }
            };
            match decision {
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
        let writes = overlay.writes();
        Ok(Decided {
            verdicts,
            inbox_rows,
            outbox_rows,
            writes,
            docs: overlay.into_docs(),
        })
    }

    /// Runs the given events against the loaded state, without keeping the
    /// results, to learn what each will read, and loads all of it in one
    /// round per pass. Called when an event missed something: without it a
    /// cold batch would cost a database round trip per event.
    async fn discover(
        &self,
        conn: &mut PgConnection,
        overlay: &mut Overlay<'_>,
        events: &[&Inbound],
    ) -> Result<(), StoreError> {
        for _ in 0..DISCOVERY_PASSES {
            let mut missing = Missing::default();
            for event in events {
                if let Attempt::Missing(found) = self.try_apply(overlay, event) {
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

    /// Runs the rules for one event on the loaded state.
    fn try_apply(&self, overlay: &Overlay<'_>, event: &Inbound) -> Attempt {
        let now = business_time(event.meta.time, &event.event);
        let attempt = catch_unwind(AssertUnwindSafe(|| {
            let mut ws = Workspace::new(overlay, &self.rules, event.meta.id.clone(), now);
            match domain::apply(&mut ws, &event.event) {
                Ok(()) => Ok(ws.into_decision()),
                Err(_) => Err(ws.take_missing()),
            }
        }));
        match attempt {
            Ok(Ok(decision)) => Attempt::Decided(decision),
            Ok(Err(missing)) if missing.is_empty() => {
                Attempt::Failed("a rule reported missing state without naming it".into())
            }
            Ok(Err(missing)) => Attempt::Missing(missing),
            Err(panic) => Attempt::Failed(format!("rule panicked: {}", panic_message(&panic))),
        }
    }
}

/// One run of the rules for one event.
enum Attempt {
    Decided(domain::state::Decision),
    /// Load this and run again.
    Missing(Missing),
    /// A failure confined to this event (a bug or an inconsistency).
    Failed(String),
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// What an event will read next, found from what [`prefetch_hints`] loaded:
/// the campaigns and participations of a creator with a seller, the pair of
/// a join. One more round trip for the batch instead of a miss per event.
/// Absent or unloaded documents are skipped: misses still load them.
fn follow_up_hints(event: &Event, loaded: &dyn Lookup, hints: &mut Missing) {
    let doc = |key: Key| loaded.doc(&key).ok().flatten();
    let mut campaigns_of = |creator: &crate::wire::values::CreatorId, seller: Option<&SellerId>| {
        if let Some(Doc::Creator(c)) = doc(Key::Creator(creator.clone())) {
            for (campaign, campaign_seller) in &c.participations {
                if seller.is_none_or(|s| s == campaign_seller) {
                    hints.add_key(Key::Campaign(campaign.clone()));
                    hints.add_key(Key::Participation((campaign.clone(), creator.clone())));
                }
            }
        }
    };
    match event {
        Event::OrderPaid(e) => {
            if let Some(creator) = &e.creator_id {
                campaigns_of(creator, Some(&e.seller_id));
            }
        }
        Event::ContentPosted(e) => campaigns_of(&e.creator_id, None),
        Event::CreatorJoinRequested(e) => {
            if let Some(Doc::Campaign(k)) = doc(Key::Campaign(e.campaign_id.clone())) {
                hints.add_key(Key::Pair((k.seller_id.clone(), e.creator_id.clone())));
                hints.add_key(Key::Seller(k.seller_id.clone()));
            }
        }
        _ => {}
    }
}

/// Aggregates an event will certainly read, fetched for the whole batch in
/// one round trip. Only a shortcut: what is not hinted is loaded on a miss.
fn prefetch_hints(event: &Event, hints: &mut Missing) {
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
