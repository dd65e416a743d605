//! Applying a batch of events in one PostgreSQL transaction: the seam between
//! the pure rules and the database. Plan, load, decide, write:
//!
//! ```text
//! BEGIN; lock apply_version (its row: one batch at a time, cluster-wide)
//!   inbox: which of these ids were applied before?      → duplicates
//!   plan:   each new event states what it will read (domain::reads), given
//!   load:   what is loaded so far; all of it is loaded for the whole batch
//!           in one statement per round, until nothing is missing
//!   decide: the rules run on the loaded state, in delivery order
//!   write:  inbox rows, changed aggregates, outbox rows, apply_version
//!           (one statement)
//! COMMIT                                                 → then ack, relay
//! ```
//!
//! A rule that reads something its event's plan did not state makes the
//! decision void: that event is loaded again and decided again. It is a
//! safety net, counted (`collab_decide_misses_total`), and 0 over the
//! benchmark's workloads.
//!
//! Serializing whole batches on one row lock is the concurrency design:
//! rules span creators, sellers and campaigns (a violation touches every
//! commission of a creator; a tick, every due campaign), so any finer
//! partition would need cross-partition transactions (`docs/scaling.md`).
//!
//! `apply_version` also tells each process whether its cache of aggregates
//! is still the committed state: it is bumped by every batch, so a version
//! other than the one the process itself left means another process wrote.

use std::collections::HashSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use sqlx::{PgConnection, PgPool};
use tokio::sync::Mutex;

use crate::domain::model::{Doc, Key};
use crate::domain::workspace::{Decision, Lookup, Missing, Plan, Query, Sweep, Workspace};
use crate::domain::{self, Rules, business_time};
use crate::store::cache::DocCache;
use crate::store::commit::Write;
use crate::store::outbox::{OutboxRow, Pending};
use crate::store::state::{Overlay, StateWrites};
use crate::store::{StoreError, commit, inbox};
use crate::telemetry;
use crate::wire::envelope::{Inbound, outcome_text};

/// Planning rounds for one batch: each follows references one step further
/// (an order → its creator → the creator's campaigns); beyond this, what is
/// still missing is loaded when a rule misses it.
const MAX_PLAN_ROUNDS: usize = 8;
/// Decisions of one event voided by a miss before it counts as a rule bug.
const MAX_DECIDE_ROUNDS: usize = 16;
/// Changes and outcomes a sweep holds before writing the batch so far ahead.
const WRITE_AHEAD_AT: usize = 4_000;
/// Takes the apply lock with BEGIN, in one round trip.
const BEGIN_LOCKED: &str = "BEGIN; SELECT 1 FROM apply_version WHERE id = 1 FOR UPDATE";

/// Why the rules could not decide an event. Not a database problem and not
/// bad input: a bug, which trying again would repeat. Such an event is
/// dead-lettered at once, with the reason.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RuleFailure {
    #[error("a rule panicked: {0}")]
    Panicked(String),
    #[error("the rules kept reading state that was not loaded ({0} rounds)")]
    Unsettled(usize),
    /// In a sweep the event set off, after its own decision.
    #[error("{0}")]
    InSweep(String),
}

/// What happened to one event of a batch.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// Applied now, with this many outcomes.
    Applied { outcomes: usize },
    /// Applied before (same event id): nothing changed.
    Duplicate,
    /// The rules failed on it; nothing of it was written.
    Failed(RuleFailure),
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
    /// What it wrote ahead and let go: the cache forgets it.
    forget: Vec<Key>,
    /// Types of the outcomes written ahead.
    ahead: Vec<String>,
}

/// A batch committed.
pub struct Committed {
    pub verdicts: Vec<Verdict>,
    /// Its outcomes as stored with the last write, in `seq` order (those a
    /// large sweep wrote ahead are in the outbox only).
    pub stored: Vec<Pending>,
    /// Types of the outcomes written ahead.
    pub written_ahead: Vec<String>,
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

    /// The database the pipeline writes to.
    pub fn pool(&self) -> &PgPool {
        &self.pool
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
            forget,
            ahead,
        } = decided;
        let stored = commit::write(&mut tx, &inbox_rows, &writes, outbox_rows, Write::Last).await?;
        if let Err(error) = tx.commit().await {
            // Committed or not, nobody can tell: trust nothing cached.
            self.cache.lock().await.invalidate();
            return Err(error.into());
        }
        // If another apply of this process slipped in between (there is one
        // consumer, so only in principle), the version it leaves makes the
        // next batch drop the cache: never stale, at worst cold.
        {
            let mut cache = self.cache.lock().await;
            cache.forget(&forget);
            cache.commit(version + 1, docs);
        }
        Ok(Committed {
            verdicts,
            stored,
            written_ahead: ahead,
        })
    }

    /// Plans, loads and decides every event, reading through `conn` what
    /// neither the cache nor earlier rounds hold.
    async fn decide(
        &self,
        conn: &mut PgConnection,
        cache: &DocCache,
        events: &[&Inbound],
        applied_before: HashSet<String>,
    ) -> Result<Decided, StoreError> {
        let mut overlay = Overlay::new(cache);
        // Applied before, or earlier in this batch: a duplicate.
        let mut seen = HashSet::new();
        let fresh: Vec<bool> = events
            .iter()
            .map(|e| !applied_before.contains(e.meta.id.as_str()) && seen.insert(e.meta.id.as_str()))
            .collect();

        // Plan and load, in rounds; an event whose reads are all loaded is
        // not planned again.
        let mut planning: Vec<usize> = (0..events.len()).filter(|i| fresh[*i]).collect();
        for _ in 0..MAX_PLAN_ROUNDS {
            let mut missing = Missing::default();
            planning.retain(|&i| {
                let event = events[i];
                let mut plan = Plan::new(&overlay, business_time(event.meta.time, &event.event));
                domain::reads(&mut plan, &event.event);
                let found = plan.into_missing();
                let done = found.is_empty();
                missing.merge(found);
                !done
            });
            if missing.is_empty() {
                break;
            }
            overlay.load(conn, &missing).await?;
        }

        let mut verdicts = Vec::with_capacity(events.len());
        let mut inbox_rows = Vec::new();
        let mut outbox_rows = Vec::new();
        let mut ahead = Vec::new();
        for (i, event) in events.iter().enumerate() {
            if !fresh[i] {
                verdicts.push(Verdict::Duplicate);
                continue;
            }
            let id = event.meta.id.as_str();
            let span = tracing::debug_span!("decide", event.id = id, event.type = %event.meta.type_name);
            let mut rounds = 0;
            let decision = loop {
                match span.in_scope(|| self.try_apply(&overlay, event)) {
                    Attempt::Decided(decision) => break Ok(decision),
                    Attempt::Failed(failure) => break Err(failure),
                    Attempt::Missing(_) if rounds >= MAX_DECIDE_ROUNDS => {
                        break Err(RuleFailure::Unsettled(MAX_DECIDE_ROUNDS));
                    }
                    Attempt::Missing(missing) => {
                        rounds += 1;
                        telemetry::decide_missed(&event.meta.type_name);
                        overlay.load(conn, &missing).await?;
                    }
                }
            };
            let decision = match decision {
                Ok(decision) => decision,
                Err(failure) => {
                    verdicts.push(Verdict::Failed(failure));
                    continue;
                }
            };
            let mut outcomes = decision.outcomes.len();
            outbox_rows.extend(decision.outcomes.iter().map(|o| OutboxRow {
                id: o.id,
                type_name: o.data.type_name().to_owned(),
                causation_id: id.to_owned(),
                body: outcome_text(o, &event.meta),
            }));
            overlay.apply(decision.changes);
            let mut sweeping = Sweeping {
                conn: &mut *conn,
                outbox_rows: &mut outbox_rows,
                ahead: &mut ahead,
            };
            for sweep in &decision.sweeps {
                outcomes += self.sweep(&mut sweeping, &mut overlay, event, sweep).await?;
            }
            verdicts.push(Verdict::Applied { outcomes });
            inbox_rows.push(inbox::InboxRow {
                event_id: id.to_owned(),
                type_name: event.meta.type_name.clone(),
                source: event.meta.source.clone(),
                time: event.meta.time,
                outcomes: i32::try_from(outcomes).unwrap_or(i32::MAX),
                body: event.raw.clone(),
            });
        }
        let writes = overlay.writes();
        let (docs, forget) = overlay.into_docs();
        Ok(Decided {
            verdicts,
            inbox_rows,
            outbox_rows,
            writes,
            docs,
            forget,
            ahead,
        })
    }

    /// Runs a sweep an event set off: page by page, each document planned,
    /// loaded and decided on its own, in sweep order; past a bound, the
    /// batch so far is written ahead (same transaction) and let go, so a
    /// sweep over a great many documents holds a page at a time. Returns
    /// how many outcomes it decided.
    async fn sweep(
        &self,
        out: &mut Sweeping<'_>,
        overlay: &mut Overlay<'_>,
        event: &Inbound,
        sweep: &Sweep,
    ) -> Result<usize, StoreError> {
        let now = business_time(event.meta.time, &event.event);
        let mut outcomes = 0;
        let mut after = None;
        loop {
            let page = overlay.sweep_page(out.conn, &sweep.query, after.as_ref()).await?;
            // Plan the page's reads, in rounds, for all its documents at once.
            for _ in 0..MAX_PLAN_ROUNDS {
                let mut missing = Missing::default();
                for key in &page.keys {
                    if let Some(doc) = overlay.doc(key).flatten() {
                        let mut plan = Plan::new(&*overlay, now);
                        domain::sweep_reads(&mut plan, &sweep.action, doc);
                        missing.merge(plan.into_missing());
                    }
                }
                if missing.is_empty() {
                    break;
                }
                overlay.load(out.conn, &missing).await?;
            }
            for key in &page.keys {
                let mut rounds = 0;
                let decision = loop {
                    let attempt = catch_unwind(AssertUnwindSafe(|| {
                        inject_sweep_fault(event);
                        let mut ws = Workspace::new(&*overlay, &self.rules, event.meta.id.clone(), now);
                        domain::sweep_apply(&mut ws, &sweep.action, key);
                        if ws.missing().is_empty() {
                            Ok(ws.into_decision())
                        } else {
                            Err(ws.take_missing())
                        }
                    }))
                    .map_err(|panic| {
                        // The event's own decision is already in the batch:
                        // the batch is refused, and the event retried alone.
                        StoreError::RulesFailed(format!(
                            "a rule panicked in a sweep of {}: {}",
                            event.meta.id,
                            panic_message(&panic)
                        ))
                    })?;
                    let missing = match attempt {
                        Ok(decision) => break decision,
                        Err(missing) => missing,
                    };
                    rounds += 1;
                    telemetry::decide_missed(&event.meta.type_name);
                    if rounds > MAX_DECIDE_ROUNDS {
                        return Err(StoreError::RulesFailed(format!(
                            "a sweep of {} kept reading state it had not loaded",
                            event.meta.id
                        )));
                    }
                    overlay.load(out.conn, &missing).await?;
                };
                outcomes += decision.outcomes.len();
                out.outbox_rows.extend(decision.outcomes.iter().map(|o| OutboxRow {
                    id: o.id,
                    type_name: o.data.type_name().to_owned(),
                    causation_id: event.meta.id.as_str().to_owned(),
                    body: outcome_text(o, &event.meta),
                }));
                overlay.apply(decision.changes);
            }
            if page.last {
                return Ok(outcomes);
            }
            after = page
                .keys
                .last()
                .and_then(|k| overlay.doc(k).flatten().map(|d| (Query::sweep_position(d), k.clone())));
            if overlay.unwritten() + out.outbox_rows.len() > WRITE_AHEAD_AT {
                let writes = overlay.write_ahead();
                let rows = std::mem::take(out.outbox_rows);
                out.ahead.extend(rows.iter().map(|r| r.type_name.clone()));
                commit::write(out.conn, &[], &writes, rows, Write::Ahead).await?;
            }
            if after.is_none() {
                // An empty page that is not the last cannot happen; stop
                // rather than loop.
                return Ok(outcomes);
            }
        }
    }

    /// Runs the rules for one event on the loaded state.
    fn try_apply(&self, overlay: &Overlay<'_>, event: &Inbound) -> Attempt {
        let now = business_time(event.meta.time, &event.event);
        let attempt = catch_unwind(AssertUnwindSafe(|| {
            inject_fault(event);
            let mut ws = Workspace::new(overlay, &self.rules, event.meta.id.clone(), now);
            domain::apply(&mut ws, &event.event);
            if ws.missing().is_empty() {
                Ok(ws.into_decision())
            } else {
                Err(ws.take_missing())
            }
        }));
        match attempt {
            Ok(Ok(decision)) => Attempt::Decided(decision),
            Ok(Err(missing)) => Attempt::Missing(missing),
            Err(panic) => Attempt::Failed(RuleFailure::Panicked(panic_message(&panic))),
        }
    }
}

/// With the `fault-injection` feature (tests only), an event whose id starts
/// with `fault:panic` makes the rules panic, so the failure path of a rule
/// bug can be tested against the real worker.
#[cfg_attr(not(feature = "fault-injection"), allow(unused_variables))]
fn inject_fault(event: &Inbound) {
    #[cfg(feature = "fault-injection")]
    if event.meta.id.as_str().starts_with("fault:panic") {
        panic!("fault injected into the rules for event {}", event.meta.id);
    }
}

/// Likewise `fault:sweep-panic` makes the rules panic in the event's sweep,
/// after its own decision.
#[cfg_attr(not(feature = "fault-injection"), allow(unused_variables))]
fn inject_sweep_fault(event: &Inbound) {
    #[cfg(feature = "fault-injection")]
    if event.meta.id.as_str().starts_with("fault:sweep-panic") {
        panic!("fault injected into a sweep of event {}", event.meta.id);
    }
}

/// Where a sweep's outcomes go, and the connection it loads through.
struct Sweeping<'a> {
    conn: &'a mut PgConnection,
    outbox_rows: &'a mut Vec<OutboxRow>,
    /// Types of the outcomes written ahead (for the metrics).
    ahead: &'a mut Vec<String>,
}

/// One run of the rules for one event.
enum Attempt {
    Decided(Decision),
    /// Load this and run again.
    Missing(Missing),
    /// A failure confined to this event (a bug).
    Failed(RuleFailure),
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}
