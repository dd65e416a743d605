//! How a rule sees the state: a [`Workspace`] for deciding one event, and a
//! [`Plan`] for stating beforehand what it will read.
//!
//! The rules never do I/O. Each rule family states, beside the rule, what an
//! event will read — as a function of the event and of what is loaded so
//! far, so it can follow references (an order's creator, the creator's
//! campaigns). The shell calls those functions again with what it loaded
//! until nothing is missing, in one database round trip per round for the
//! whole batch; then the rules decide on the loaded state.
//!
//! Deciding never fails. A read of something not loaded answers "absent"
//! and is recorded: the shell then throws that decision away, loads what
//! was missing and decides again. That is a safety net, counted, for a
//! `reads` function that forgot something; the benchmark's workloads never
//! need it.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use chrono::Duration;

use super::ids;
use super::model::{Aggregate, Doc, Emit, Fresh, Key, Order, Time};
use crate::wire::envelope::Outcome;
use crate::wire::outcomes::OutcomeData;
use crate::wire::values::{CampaignId, CreatorId, EventId, ProductId, SellerId};

/// Business settings of the rules (the `[rules]` configuration section).
#[derive(Clone, Debug, PartialEq)]
pub struct Rules {
    /// K3: a challenge is finalized this long after its end.
    pub challenge_finalization_lag: Duration,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            challenge_finalization_lag: Duration::hours(1),
        }
    }
}

/// The secondary look-ups the rules need, besides reading by id. The store
/// answers them from indexed columns (`store::codec`); [`Query::matches`]
/// is the same predicate on a document, used to add what the batch changed
/// and not yet committed.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Query {
    /// Orders of a creator whose commission is pending (accrued, not payable, not cancelled).
    PendingOrdersOf(CreatorId),
    /// Orders attributed to a creator for one product, paid in
    /// [start, end) (S3: the units of a refundable sample's window).
    /// Bounded by time so that what it reads does not grow with the history.
    OrdersOfCreatorProductIn(CreatorId, ProductId, Time, Time),
    /// Timers due at or before the instant.
    TimersDue(Time),
    /// Every participation in a campaign.
    ParticipationsOf(CampaignId),
    /// Orders of a creator with a pending commission, paid at or after the
    /// instant (O9: what a late partnership or join may re-decide).
    PendingOrdersOfCreatorSince(CreatorId, Time),
    /// Orders of a product with a pending commission, paid at or after the
    /// instant, or all of them (O9: what a late product update may re-decide).
    PendingOrdersOfProductSince(ProductId, Option<Time>),
}

impl Query {
    pub fn kind(&self) -> &'static str {
        match self {
            Query::PendingOrdersOf(_)
            | Query::OrdersOfCreatorProductIn(..)
            | Query::PendingOrdersOfCreatorSince(..)
            | Query::PendingOrdersOfProductSince(..) => "order",
            Query::TimersDue(_) => "timer",
            Query::ParticipationsOf(_) => "participation",
        }
    }

    pub fn matches(&self, doc: &Doc) -> bool {
        let paid_since = |o: &Order, since: Option<Time>| {
            o.paid
                .as_ref()
                .is_some_and(|paid| since.is_none_or(|since| paid.time >= since))
        };
        match (self, doc) {
            (Query::PendingOrdersOf(c), Doc::Order(o)) => o.pending().is_some() && o.creator() == Some(c),
            (Query::OrdersOfCreatorProductIn(c, p, start, end), Doc::Order(o)) => {
                o.paid
                    .as_ref()
                    .is_some_and(|paid| &paid.product_id == p && paid.time >= *start && paid.time < *end)
                    && o.creator() == Some(c)
            }
            (Query::TimersDue(now), Doc::Timer(t)) => t.due_at <= *now,
            (Query::ParticipationsOf(k), Doc::Participation(p)) => &p.id.0 == k,
            (Query::PendingOrdersOfCreatorSince(c, since), Doc::Order(o)) => {
                o.pending().is_some() && o.creator() == Some(c) && paid_since(o, Some(*since))
            }
            (Query::PendingOrdersOfProductSince(p, since), Doc::Order(o)) => {
                o.pending().is_some()
                    && o.paid.as_ref().is_some_and(|paid| &paid.product_id == p)
                    && paid_since(o, *since)
            }
            _ => false,
        }
    }

    /// Where a document stands in a sweep over this query: sweeps go through
    /// their documents in business-time order (an order's paid time), then
    /// by key.
    pub fn sweep_position(doc: &Doc) -> Option<Time> {
        match doc {
            Doc::Order(o) => o.paid.as_ref().map(|p| p.time),
            _ => None,
        }
    }
}

/// What a sweep does to each document it goes through.
#[derive(Clone, Debug, PartialEq)]
pub enum SweepAction {
    /// O9: re-decide a pending commission on the current state, if its
    /// order is with this seller (any seller: `None`).
    Redecide { seller: Option<SellerId> },
}

/// Work an event sets off over many aggregates — possibly a great many, as
/// when a late product update re-decides every pending commission of the
/// product: done after the event's own decision, document by document in
/// [`Query::sweep_position`] order, in pages the shell can write as it goes
/// so memory stays bounded.
#[derive(Clone, Debug, PartialEq)]
pub struct Sweep {
    pub query: Query,
    pub action: SweepAction,
}

/// What is not loaded yet: aggregates by key, and queries.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Missing {
    pub keys: Vec<Key>,
    pub queries: Vec<Query>,
    /// Sweep queries whose first page can be loaded with the rest.
    pub sweeps: Vec<Query>,
    /// Membership of `keys`: a batch may miss thousands of keys.
    known: HashSet<Key>,
}

impl Missing {
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.queries.is_empty() && self.sweeps.is_empty()
    }

    pub fn add_key(&mut self, key: Key) {
        if self.known.insert(key.clone()) {
            self.keys.push(key);
        }
    }

    pub fn add_query(&mut self, query: Query) {
        if !self.queries.contains(&query) {
            self.queries.push(query);
        }
    }

    pub fn add_sweep(&mut self, query: Query) {
        if !self.sweeps.contains(&query) {
            self.sweeps.push(query);
        }
    }

    /// Adds what `other` misses, without repeats.
    pub fn merge(&mut self, other: Missing) {
        for key in other.keys {
            self.add_key(key);
        }
        for query in other.queries {
            self.add_query(query);
        }
        for query in other.sweeps {
            self.add_sweep(query);
        }
    }
}

/// The state a workspace or a plan reads from.
pub trait Lookup {
    /// `Some(None)`: the aggregate does not exist. `None`: not loaded.
    fn doc(&self, key: &Key) -> Option<Option<&Doc>>;
    /// Stored keys answering the query. `None`: not loaded.
    fn query(&self, query: &Query) -> Option<Vec<Key>>;
    /// Keys of one kind held in memory; a query answer is reconciled with them.
    fn resident(&self, kind: &str) -> Vec<Key>;
    /// Whether the first page of a sweep over `query` is loaded (or not
    /// worth loading ahead).
    fn sweep_loaded(&self, _query: &Query) -> bool {
        true
    }
}

/// A complete in-memory state: every aggregate it does not hold is absent.
/// Unit tests run the rules on it; it is also the reference the shell must
/// agree with (the differential test).
#[derive(Clone, Debug, Default)]
pub struct MemState {
    pub docs: HashMap<Key, Doc>,
}

impl MemState {
    pub fn apply_changes(&mut self, changes: impl IntoIterator<Item = (Key, Option<Doc>)>) {
        for (key, doc) in changes {
            match doc {
                Some(doc) => self.docs.insert(key, doc),
                None => self.docs.remove(&key),
            };
        }
    }

    pub fn get<A: Aggregate>(&self, id: &A::Id) -> Option<A> {
        self.docs.get(&A::key_of(id)).cloned().and_then(A::from_doc)
    }

    /// Every document a sweep over `query` goes through, in sweep order.
    pub fn sweep_keys(&self, query: &Query) -> Vec<Key> {
        let mut found: Vec<(Option<Time>, Key)> = self
            .docs
            .iter()
            .filter(|(_, doc)| query.matches(doc))
            .map(|(key, doc)| (Query::sweep_position(doc), key.clone()))
            .collect();
        found.sort();
        found.into_iter().map(|(_, key)| key).collect()
    }
}

impl Lookup for MemState {
    fn doc(&self, key: &Key) -> Option<Option<&Doc>> {
        Some(self.docs.get(key))
    }
    fn query(&self, _: &Query) -> Option<Vec<Key>> {
        // Everything is resident; `resident` supplies the candidates.
        Some(Vec::new())
    }
    fn resident(&self, kind: &str) -> Vec<Key> {
        self.docs.keys().filter(|k| k.kind() == kind).cloned().collect()
    }
}

/// The documents answering a query in `base`: the stored answer and what is
/// resident, filtered by the query's predicate. `None`: not loaded.
fn answer(base: &dyn Lookup, query: &Query, extra: impl IntoIterator<Item = Key>) -> Option<BTreeSet<Key>> {
    let mut candidates: BTreeSet<Key> = base.query(query)?.into_iter().collect();
    candidates.extend(base.resident(query.kind()));
    candidates.extend(extra);
    Some(candidates)
}

/// What one event's rules will read, stated before they run.
pub struct Plan<'a> {
    loaded: &'a dyn Lookup,
    now: Time,
    missing: Missing,
}

impl<'a> Plan<'a> {
    /// A plan for an event at business time `now`, over what is `loaded`.
    pub fn new(loaded: &'a dyn Lookup, now: Time) -> Self {
        Self {
            loaded,
            now,
            missing: Missing::default(),
        }
    }

    /// The business time of the event ("at t").
    pub fn now(&self) -> Time {
        self.now
    }

    /// The aggregate if it is loaded (`None` if absent or not loaded yet;
    /// then it is missing, and a later round follows it).
    pub fn read<A: Aggregate>(&mut self, id: &A::Id) -> Option<Arc<A>> {
        let key = A::key_of(id);
        match self.loaded.doc(&key) {
            Some(doc) => doc.and_then(A::shared),
            None => {
                self.missing.add_key(key);
                None
            }
        }
    }

    /// As [`read`](Self::read), telling "absent" (`Some(None)`) from "not
    /// loaded yet" (`None`).
    pub fn lookup<A: Aggregate>(&mut self, id: &A::Id) -> Option<Option<Arc<A>>> {
        let key = A::key_of(id);
        match self.loaded.doc(&key) {
            Some(doc) => Some(doc.and_then(A::shared)),
            None => {
                self.missing.add_key(key);
                None
            }
        }
    }

    /// [`read`](Self::read) for several.
    pub fn read_all<'i, A: Aggregate + 'i>(&mut self, ids: impl IntoIterator<Item = &'i A::Id>) -> Vec<Arc<A>> {
        ids.into_iter().filter_map(|id| self.read::<A>(id)).collect()
    }

    /// The documents answering a query, once it is loaded.
    pub fn query<A: Aggregate>(&mut self, query: Query) -> Vec<Arc<A>> {
        let Some(keys) = answer(self.loaded, &query, []) else {
            self.missing.add_query(query);
            return Vec::new();
        };
        keys.iter()
            .filter_map(|k| self.loaded.doc(k).flatten())
            .filter(|doc| query.matches(doc))
            .filter_map(A::shared)
            .collect()
    }

    /// A sweep the event may set off: its first page is worth loading with
    /// the rest of the batch (most sweeps find nothing: a fact that is not
    /// late re-decides nothing).
    pub fn sweep(&mut self, query: Query) {
        if !self.loaded.sweep_loaded(&query) {
            self.missing.add_sweep(query);
        }
    }

    pub fn into_missing(self) -> Missing {
        self.missing
    }
}

/// What one event decided: the changed aggregates, the outcomes, and the
/// sweeps it sets off.
#[derive(Clone, Debug, Default)]
pub struct Decision {
    pub changes: BTreeMap<Key, Option<Doc>>,
    pub outcomes: Vec<Outcome>,
    pub sweeps: Vec<Sweep>,
}

/// A rule's view of the state for one event: reads fall through to the
/// lookup, writes and outcomes are buffered until the event is decided.
pub struct Workspace<'a> {
    base: &'a dyn Lookup,
    pub rules: &'a Rules,
    cause: EventId,
    now: Time,
    changes: BTreeMap<Key, Option<Doc>>,
    outcomes: Vec<Outcome>,
    sweeps: Vec<Sweep>,
    missing: Missing,
}

impl<'a> Workspace<'a> {
    pub fn new(base: &'a dyn Lookup, rules: &'a Rules, cause: EventId, now: Time) -> Self {
        Self {
            base,
            rules,
            cause,
            now,
            changes: BTreeMap::new(),
            outcomes: Vec::new(),
            sweeps: Vec::new(),
            missing: Missing::default(),
        }
    }

    /// Sets off a sweep, done once this event is decided.
    pub fn sweep(&mut self, sweep: Sweep) {
        self.sweeps.push(sweep);
    }

    fn doc(&mut self, key: &Key) -> Option<Doc> {
        if let Some(doc) = self.changes.get(key) {
            return doc.clone();
        }
        match self.base.doc(key) {
            Some(doc) => doc.cloned(),
            None => {
                self.missing.add_key(key.clone());
                None
            }
        }
    }

    /// An owned copy of an aggregate, to change and [`put`](Self::put) back.
    pub fn get<A: Aggregate>(&mut self, id: &A::Id) -> Option<A> {
        self.doc(&A::key_of(id)).and_then(A::from_doc)
    }

    /// An owned copy, or a fresh one if it does not exist yet.
    pub fn get_or_new<A: Fresh>(&mut self, id: &A::Id) -> A {
        self.get(id).unwrap_or_else(|| A::fresh(id))
    }

    /// A read-only view of an aggregate, without copying it.
    pub fn read<A: Aggregate>(&mut self, id: &A::Id) -> Option<Arc<A>> {
        self.doc(&A::key_of(id)).as_ref().and_then(A::shared)
    }

    /// A read-only view, or a fresh aggregate if it does not exist yet.
    pub fn read_or_new<A: Fresh>(&mut self, id: &A::Id) -> Arc<A> {
        self.read(id).unwrap_or_else(|| Arc::new(A::fresh(id)))
    }

    /// Read-only views of several aggregates, in the order of `ids`.
    pub fn read_many<A: Aggregate>(&mut self, ids: &[A::Id]) -> Vec<Option<Arc<A>>> {
        ids.iter().map(|id| self.read::<A>(id)).collect()
    }

    /// Owned copies of the aggregates of `ids` that exist.
    pub fn get_many<A: Aggregate>(&mut self, ids: &[A::Id]) -> Vec<A> {
        ids.iter().filter_map(|id| self.get::<A>(id)).collect()
    }

    pub fn put<A: Aggregate>(&mut self, aggregate: A) {
        self.changes.insert(aggregate.key(), Some(aggregate.into_doc()));
    }

    pub fn delete<A: Aggregate>(&mut self, id: &A::Id) {
        self.changes.insert(A::key_of(id), None);
    }

    /// Every aggregate answering `query`, stored or changed by this event.
    pub fn query<A: Aggregate>(&mut self, query: &Query) -> Vec<A> {
        let changed: Vec<Key> = self
            .changes
            .keys()
            .filter(|k| k.kind() == query.kind())
            .cloned()
            .collect();
        let Some(candidates) = answer(self.base, query, changed) else {
            self.missing.add_query(query.clone());
            return Vec::new();
        };
        let mut found = Vec::new();
        for key in &candidates {
            if let Some(doc) = self.doc(key)
                && query.matches(&doc)
            {
                found.extend(A::from_doc(doc));
            }
        }
        found
    }

    pub fn outcomes(&self) -> &[Outcome] {
        &self.outcomes
    }

    /// What the rules read that was not loaded: if anything, this decision
    /// does not count (see the module documentation).
    pub fn missing(&self) -> &Missing {
        &self.missing
    }

    pub fn take_missing(&mut self) -> Missing {
        std::mem::take(&mut self.missing)
    }

    pub fn into_decision(self) -> Decision {
        Decision {
            changes: self.changes,
            outcomes: self.outcomes,
            sweeps: self.sweeps,
        }
    }
}

impl Emit for Workspace<'_> {
    /// Records an outcome. Its id is derived from the cause, the outcome
    /// type and `entity`, so deciding the same cause again yields the same id.
    fn emit(&mut self, entity: &str, data: OutcomeData) {
        let type_name = data.type_name();
        let mut id = ids::outcome_id(&self.cause, type_name, entity);
        let mut n = 1;
        while self.outcomes.iter().any(|o| o.id == id) {
            n += 1;
            id = ids::outcome_id(&self.cause, type_name, &format!("{entity}#{n}"));
        }
        self.outcomes.push(Outcome {
            id,
            time: self.now,
            data,
        });
    }

    fn cause(&self) -> &EventId {
        &self.cause
    }

    fn now(&self) -> Time {
        self.now
    }
}
