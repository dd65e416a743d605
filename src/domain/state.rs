//! The state the rules read and write, as aggregates (one document per
//! entity), and the [`Workspace`] through which a rule sees them.
//!
//! The rules never do I/O. They read aggregates through a [`Lookup`] that the
//! shell filled from PostgreSQL; when a rule needs an aggregate the lookup
//! does not hold, the read fails with [`Miss`], the shell loads what was
//! missing and runs the rule again from the start. A rule's writes and
//! outcomes stay in the workspace until it returns `Ok`, so a rerun starts
//! from a clean slate and a rule is all-or-nothing.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::Rules;
use super::ids;
use crate::wire::envelope::Outcome;
use crate::wire::events::{ContentType, GroupCriteria, OrderChannel, Risk};
use crate::wire::outcomes::{CancelReason, OutcomeData, ParticipationStatus, RateSource};
use crate::wire::values::{
    CampaignId, ContentId, CreatorId, Currency, DisputeId, EventId, GroupId, OrderId, ProductId, Rate, RefundableId,
    RequestId, SellerId, ViolationId,
};

pub type Time = DateTime<Utc>;

/// How an aggregate id is written in the `state.key` column.
pub trait IdCodec: Sized {
    fn encode(&self) -> String;
    fn decode(raw: &str) -> Option<Self>;
}

macro_rules! string_id_codec {
    ($($t:ty),*) => {$(
        impl IdCodec for $t {
            fn encode(&self) -> String {
                self.as_str().to_owned()
            }
            fn decode(raw: &str) -> Option<Self> {
                Self::try_from(raw.to_owned()).ok()
            }
        }
    )*};
}
string_id_codec!(
    ProductId,
    CreatorId,
    OrderId,
    ContentId,
    SellerId,
    CampaignId,
    RequestId,
    RefundableId,
    DisputeId
);

/// Composite ids are written as JSON arrays, which cannot collide with each
/// other whatever characters the producers put in their ids.
macro_rules! json_id_codec {
    ($($t:ty),*) => {$(
        impl IdCodec for $t {
            fn encode(&self) -> String {
                serde_json::to_string(self).unwrap_or_default()
            }
            fn decode(raw: &str) -> Option<Self> {
                serde_json::from_str(raw).ok()
            }
        }
    )*};
}
json_id_codec!((SellerId, CreatorId), (CampaignId, CreatorId), TimerKey);

impl IdCodec for () {
    fn encode(&self) -> String {
        "singleton".to_owned()
    }
    fn decode(_: &str) -> Option<Self> {
        Some(())
    }
}

/// One aggregate type: its id, its kind name and its place in [`Doc`].
pub trait Aggregate: Clone + Sized {
    type Id: Clone;
    fn id(&self) -> Self::Id;
    fn key_of(id: &Self::Id) -> Key;
    /// An owned copy, to change and put back.
    fn from_doc(doc: Doc) -> Option<Self>;
    /// A shared, read-only view (no copy).
    fn shared(doc: &Doc) -> Option<Arc<Self>>;
    fn into_doc(self) -> Doc;
    fn key(&self) -> Key {
        Self::key_of(&self.id())
    }
}

macro_rules! aggregates {
    ($($agg:ident: $kind:literal => $id:ty),* $(,)?) => {
        /// The address of one aggregate.
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Key {
            $($agg($id)),*
        }

        /// One aggregate, whichever its type. Shared: cloning a document
        /// is cheap, and a rule that only reads one never copies it.
        #[derive(Clone, Debug, PartialEq)]
        pub enum Doc {
            $($agg(Arc<$agg>)),*
        }

        impl Key {
            pub fn kind(&self) -> &'static str {
                match self {
                    $(Key::$agg(_) => $kind),*
                }
            }

            pub fn encode(&self) -> String {
                match self {
                    $(Key::$agg(id) => id.encode()),*
                }
            }

            pub fn decode(kind: &str, raw: &str) -> Option<Key> {
                match kind {
                    $($kind => <$id as IdCodec>::decode(raw).map(Key::$agg),)*
                    _ => None,
                }
            }
        }

        impl Doc {
            /// Reads a stored body; `kind` decides its type.
            pub fn from_json_text(kind: &str, body: &str) -> Result<Doc, String> {
                match kind {
                    $($kind => serde_json::from_str::<$agg>(body).map(|a| Doc::$agg(Arc::new(a))).map_err(|e| e.to_string()),)*
                    other => Err(format!("unknown aggregate kind {other:?}")),
                }
            }

            /// The stored body: the aggregate as JSON text.
            pub fn to_json_text(&self) -> String {
                let text = match self {
                    $(Doc::$agg(a) => serde_json::to_string(&**a)),*
                };
                // Aggregates are plain data with string map keys: serialization cannot fail.
                text.unwrap_or_default()
            }
        }

        $(
            impl Aggregate for $agg {
                type Id = $id;
                fn id(&self) -> $id {
                    self.id.clone()
                }
                fn key_of(id: &$id) -> Key {
                    Key::$agg(id.clone())
                }
                fn from_doc(doc: Doc) -> Option<Self> {
                    Self::shared(&doc).map(Arc::unwrap_or_clone)
                }
                fn shared(doc: &Doc) -> Option<Arc<Self>> {
                    match doc {
                        Doc::$agg(a) => Some(Arc::clone(a)),
                        #[allow(unreachable_patterns)]
                        _ => None,
                    }
                }
                fn into_doc(self) -> Doc {
                    Doc::$agg(Arc::new(self))
                }
            }
        )*
    };
}

aggregates! {
    Product: "product" => ProductId,
    Creator: "creator" => CreatorId,
    Order: "order" => OrderId,
    Content: "content" => ContentId,
    Pair: "pair" => (SellerId, CreatorId),
    Seller: "seller" => SellerId,
    Campaign: "campaign" => CampaignId,
    Participation: "participation" => (CampaignId, CreatorId),
    Sample: "sample" => RequestId,
    Refundable: "refundable" => RefundableId,
    Dispute: "dispute" => DisputeId,
    Clock: "clock" => (),
    Timer: "timer" => TimerKey,
}

/// Columns the store indexes so that [`Query`] can find aggregates by
/// something other than their id.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IndexColumns {
    pub campaign_id: Option<String>,
    pub creator_id: Option<String>,
    pub product_id: Option<String>,
    pub pending: bool,
    pub due_at: Option<Time>,
}

impl Doc {
    pub fn index(&self) -> IndexColumns {
        match self {
            Doc::Order(o) => match &o.paid {
                Some(paid) => IndexColumns {
                    campaign_id: None,
                    creator_id: paid.creator_id.as_ref().map(|c| c.as_str().to_owned()),
                    product_id: Some(paid.product_id.as_str().to_owned()),
                    pending: o
                        .commission
                        .as_ref()
                        .is_some_and(|c| c.state == CommissionState::Pending),
                    due_at: None,
                },
                None => IndexColumns::default(),
            },
            Doc::Timer(t) => IndexColumns {
                due_at: Some(t.due_at),
                ..IndexColumns::default()
            },
            Doc::Participation(p) => IndexColumns {
                campaign_id: Some(p.id.0.as_str().to_owned()),
                creator_id: Some(p.id.1.as_str().to_owned()),
                ..IndexColumns::default()
            },
            _ => IndexColumns::default(),
        }
    }
}

/// The secondary look-ups the rules need. Each has an SQL twin in
/// `store::docs`; [`Query::matches`] is the same predicate in Rust, used to
/// reconcile the stored answer with changes not yet committed.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Query {
    /// Orders of a creator whose commission is pending (accrued, not payable, not cancelled).
    PendingOrdersOf(CreatorId),
    /// Every order attributed to a creator for one product.
    OrdersOfCreatorProduct(CreatorId, ProductId),
    /// Timers due at or before the instant.
    TimersDue(Time),
    /// Every participation in a campaign.
    ParticipationsOf(CampaignId),
}

impl Query {
    pub fn kind(&self) -> &'static str {
        match self {
            Query::PendingOrdersOf(_) | Query::OrdersOfCreatorProduct(..) => "order",
            Query::TimersDue(_) => "timer",
            Query::ParticipationsOf(_) => "participation",
        }
    }

    pub fn matches(&self, doc: &Doc) -> bool {
        let index = doc.index();
        match self {
            Query::PendingOrdersOf(c) => {
                matches!(doc, Doc::Order(_)) && index.pending && index.creator_id.as_deref() == Some(c.as_str())
            }
            Query::OrdersOfCreatorProduct(c, p) => {
                matches!(doc, Doc::Order(_))
                    && index.creator_id.as_deref() == Some(c.as_str())
                    && index.product_id.as_deref() == Some(p.as_str())
            }
            Query::TimersDue(now) => matches!(doc, Doc::Timer(_)) && index.due_at.is_some_and(|d| d <= *now),
            Query::ParticipationsOf(k) => {
                matches!(doc, Doc::Participation(_)) && index.campaign_id.as_deref() == Some(k.as_str())
            }
        }
    }
}

/// What the shell must load before a rule can run: returned (through the
/// workspace) when a read found nothing loaded.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Missing {
    pub keys: Vec<Key>,
    pub queries: Vec<Query>,
    /// Membership of `keys`: a batch may miss thousands of keys.
    known: std::collections::HashSet<Key>,
}

impl Missing {
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.queries.is_empty()
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

    /// Adds what `other` misses, without repeats.
    pub fn merge(&mut self, other: Missing) {
        for key in other.keys {
            self.add_key(key);
        }
        for query in other.queries {
            self.add_query(query);
        }
    }
}

/// A read found state that is not loaded; the details are in the workspace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Miss;

/// The state a workspace reads from.
pub trait Lookup {
    /// `Ok(None)`: the aggregate does not exist. `Err`: not loaded.
    fn doc(&self, key: &Key) -> Result<Option<&Doc>, Miss>;
    /// Stored keys answering the query. `Err`: not loaded.
    fn query(&self, query: &Query) -> Result<Vec<Key>, Miss>;
    /// Keys of one kind held in memory; a query answer is reconciled with them.
    fn resident(&self, kind: &str) -> Vec<Key>;
}

/// A complete in-memory state: every aggregate it does not hold is absent.
/// Unit tests run the rules on it; it is also the reference the shell's
/// overlay must agree with.
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
}

impl Lookup for MemState {
    fn doc(&self, key: &Key) -> Result<Option<&Doc>, Miss> {
        Ok(self.docs.get(key))
    }
    fn query(&self, _: &Query) -> Result<Vec<Key>, Miss> {
        // Everything is resident; `resident` supplies the candidates.
        Ok(Vec::new())
    }
    fn resident(&self, kind: &str) -> Vec<Key> {
        self.docs.keys().filter(|k| k.kind() == kind).cloned().collect()
    }
}

/// What one rule run decided: the changed aggregates and the outcomes.
#[derive(Clone, Debug, Default)]
pub struct Decision {
    pub changes: BTreeMap<Key, Option<Doc>>,
    pub outcomes: Vec<Outcome>,
}

/// A rule's view of the state for one event: reads fall through to the
/// lookup, writes and outcomes are buffered.
pub struct Workspace<'a> {
    base: &'a dyn Lookup,
    pub rules: &'a Rules,
    cause: EventId,
    now: Time,
    changes: BTreeMap<Key, Option<Doc>>,
    outcomes: Vec<Outcome>,
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
            missing: Missing::default(),
        }
    }

    /// Business time of the event being applied ("at t").
    pub fn now(&self) -> Time {
        self.now
    }

    pub fn cause(&self) -> &EventId {
        &self.cause
    }

    fn doc(&mut self, key: &Key) -> Result<Option<Doc>, Miss> {
        if let Some(doc) = self.changes.get(key) {
            return Ok(doc.clone());
        }
        match self.base.doc(key) {
            Ok(doc) => Ok(doc.cloned()),
            Err(Miss) => {
                self.missing.add_key(key.clone());
                Err(Miss)
            }
        }
    }

    /// An owned copy of an aggregate, to change and [`put`](Self::put) back.
    pub fn get<A: Aggregate>(&mut self, id: &A::Id) -> Result<Option<A>, Miss> {
        Ok(self.doc(&A::key_of(id))?.and_then(A::from_doc))
    }

    /// A read-only view of an aggregate, without copying it.
    pub fn read<A: Aggregate>(&mut self, id: &A::Id) -> Result<Option<Arc<A>>, Miss> {
        Ok(self.doc(&A::key_of(id))?.as_ref().and_then(A::shared))
    }

    /// Read-only views of several aggregates (see [`get_many`](Self::get_many)).
    pub fn read_many<A: Aggregate>(&mut self, ids: &[A::Id]) -> Result<Vec<Option<Arc<A>>>, Miss> {
        let results: Vec<_> = ids.iter().map(|id| self.read::<A>(id)).collect();
        results.into_iter().collect()
    }

    /// Reads several aggregates, recording every one that is missing before
    /// failing, so one load round fetches them all.
    pub fn get_many<A: Aggregate>(&mut self, ids: &[A::Id]) -> Result<Vec<Option<A>>, Miss> {
        let results: Vec<_> = ids.iter().map(|id| self.get::<A>(id)).collect();
        results.into_iter().collect()
    }

    pub fn put<A: Aggregate>(&mut self, aggregate: A) {
        self.changes.insert(aggregate.key(), Some(aggregate.into_doc()));
    }

    pub fn delete<A: Aggregate>(&mut self, id: &A::Id) {
        self.changes.insert(A::key_of(id), None);
    }

    /// Every aggregate answering `query`, stored or changed in this batch.
    pub fn query<A: Aggregate>(&mut self, query: &Query) -> Result<Vec<A>, Miss> {
        let stored = match self.base.query(query) {
            Ok(keys) => keys,
            Err(Miss) => {
                self.missing.add_query(query.clone());
                return Err(Miss);
            }
        };
        let mut candidates: BTreeSet<Key> = stored.into_iter().collect();
        candidates.extend(self.base.resident(query.kind()));
        candidates.extend(self.changes.keys().filter(|k| k.kind() == query.kind()).cloned());
        let docs: Vec<_> = candidates.iter().map(|k| self.doc(k)).collect();
        let mut found = Vec::new();
        for doc in docs {
            if let Some(doc) = doc?
                && query.matches(&doc)
            {
                found.extend(A::from_doc(doc));
            }
        }
        Ok(found)
    }

    /// Records an outcome. Its id is derived from the cause, the outcome
    /// type and `entity`, so deciding the same cause again yields the same id.
    pub fn emit(&mut self, entity: &str, data: OutcomeData) {
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

    pub fn outcomes(&self) -> &[Outcome] {
        &self.outcomes
    }

    pub fn take_missing(&mut self) -> Missing {
        std::mem::take(&mut self.missing)
    }

    pub fn into_decision(self) -> Decision {
        Decision {
            changes: self.changes,
            outcomes: self.outcomes,
        }
    }
}

// ---------------------------------------------------------------------------
// Aggregates
// ---------------------------------------------------------------------------

/// A product and its history of `product.updated` facts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Product {
    pub id: ProductId,
    /// Sorted by time; among equal times, arrival order.
    #[serde(default)]
    pub versions: Vec<ProductVersion>,
    /// Orders paid before the product was known, applied when it arrives.
    #[serde(default)]
    pub waiting_orders: Vec<OrderId>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProductVersion {
    pub time: Time,
    pub seller_id: SellerId,
    pub category: String,
    pub affiliate_eligible: bool,
    pub open_collab_rate: Option<Rate>,
    pub open_collab_shop_ads_rate: Option<Rate>,
}

impl Product {
    pub fn new(id: ProductId) -> Self {
        Self {
            id,
            versions: Vec::new(),
            waiting_orders: Vec::new(),
        }
    }

    pub fn is_known(&self) -> bool {
        !self.versions.is_empty()
    }

    /// The product as of `t`: the latest update at or before `t`. A product
    /// first described after `t` is taken as it was first described, since it
    /// evidently existed when it was sold.
    pub fn at(&self, t: Time) -> Option<&ProductVersion> {
        self.versions
            .iter()
            .rev()
            .find(|v| v.time <= t)
            .or_else(|| self.versions.first())
    }

    pub fn record(&mut self, version: ProductVersion) {
        let at = self.versions.partition_point(|v| v.time <= version.time);
        self.versions.insert(at, version);
    }
}

/// History of one time-stamped value, as rules read it "as of t".
pub fn latest_at<T>(history: &[(Time, T)], t: Time) -> Option<&T> {
    history.iter().rev().find(|(at, _)| *at <= t).map(|(_, v)| v)
}

/// Inserts keeping time order (equal times: arrival order).
pub fn insert_by_time<T>(history: &mut Vec<(Time, T)>, at: Time, value: T) {
    let i = history.partition_point(|(t, _)| *t <= at);
    history.insert(i, (at, value));
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CreatorProfile {
    pub level: u8,
    pub followers: u64,
    pub categories: Vec<String>,
    pub content_types: Vec<ContentType>,
    pub avg_commission_rate: Rate,
    pub fake_order_risk: Risk,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Violation {
    pub id: ViolationId,
    pub time: Time,
    /// Sellers sent a `seller.violation_notice` for it (V2). Notices have
    /// different causes — the violation, or a connection that arrived after
    /// it — so their ids alone cannot keep a seller from being told twice.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub notified: BTreeSet<SellerId>,
}

/// A refundable-sample window open for a creator and a product (S3).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RefundWindow {
    pub refundable_id: RefundableId,
    pub product_id: ProductId,
    pub start: Time,
    pub end: Time,
}

/// A creator: profile history, enforcement facts and the indexes other
/// rules follow from a creator (participations, partners, sample windows).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Creator {
    pub id: CreatorId,
    #[serde(default)]
    pub profiles: Vec<(Time, CreatorProfile)>,
    #[serde(default)]
    pub violations: Vec<Violation>,
    #[serde(default)]
    pub blocked_at: Option<Time>,
    /// Accepted participations, in join order.
    #[serde(default)]
    pub participations: Vec<(CampaignId, SellerId)>,
    #[serde(default)]
    pub partner_sellers: BTreeSet<SellerId>,
    #[serde(default)]
    pub refund_windows: Vec<RefundWindow>,
}

impl Creator {
    pub fn new(id: CreatorId) -> Self {
        Self {
            id,
            profiles: Vec::new(),
            violations: Vec::new(),
            blocked_at: None,
            participations: Vec::new(),
            partner_sellers: BTreeSet::new(),
            refund_windows: Vec::new(),
        }
    }

    pub fn profile_at(&self, t: Time) -> Option<&CreatorProfile> {
        latest_at(&self.profiles, t)
    }

    pub fn blocked_by(&self, t: Time) -> bool {
        self.blocked_at.is_some_and(|b| b <= t)
    }

    /// Demoted by a violation at or before `t` (V1).
    pub fn demoted_by(&self, t: Time) -> bool {
        self.violations.iter().any(|v| v.time <= t)
    }
}

/// The `order.paid` facts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PaidOrder {
    pub time: Time,
    pub seller_id: SellerId,
    pub product_id: ProductId,
    pub creator_id: Option<CreatorId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_id: Option<ContentId>,
    pub channel: OrderChannel,
    pub via_shop_ads: bool,
    pub quantity: u32,
    pub amount: Decimal,
    pub currency: Currency,
}

/// A fact about an order that may arrive before `order.paid` (O8).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum OrderFact {
    Refunded { time: Time, amount: Decimal },
    Cancelled { time: Time },
    Settled { time: Time },
}

impl OrderFact {
    pub fn time(&self) -> Time {
        match self {
            OrderFact::Refunded { time, .. } | OrderFact::Cancelled { time } | OrderFact::Settled { time } => *time,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CommissionState {
    /// Accrued, not yet payable.
    Pending,
    Payable,
    Cancelled(CancelReason),
    /// Settled with nothing due (a zero commission).
    Closed,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Commission {
    pub id: String,
    pub rate: Rate,
    pub source: RateSource,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<CampaignId>,
    pub shop_ads_rate: Rate,
    pub amount: Decimal,
    pub shop_ads_amount: Decimal,
    pub state: CommissionState,
    /// Open disputes holding it back from payment (V4).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub held_by: BTreeSet<DisputeId>,
    /// What has been made payable and not clawed back: the creator's due.
    #[serde(default, skip_serializing_if = "Decimal::is_zero")]
    pub paid_out: Decimal,
}

impl Commission {
    pub fn total(&self) -> Decimal {
        self.amount + self.shop_ads_amount
    }
}

/// An order: its facts, in whatever order they arrived, and its commission.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Order {
    pub id: OrderId,
    // Empty fields are left out of the stored document: orders are the bulk
    // of the state, and every byte is written again on each change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paid: Option<PaidOrder>,
    /// Refunds applied so far.
    #[serde(default, skip_serializing_if = "Decimal::is_zero")]
    pub refunded: Decimal,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled_at: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settled_at: Option<Time>,
    /// Facts that arrived before the order could be applied, replayed in
    /// time order when it is.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub early_facts: Vec<OrderFact>,
    /// Paid, but the product is not known yet.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub awaiting_product: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commission: Option<Commission>,
}

impl Order {
    pub fn new(id: OrderId) -> Self {
        Self {
            id,
            paid: None,
            refunded: Decimal::ZERO,
            cancelled_at: None,
            settled_at: None,
            early_facts: Vec::new(),
            awaiting_product: false,
            commission: None,
        }
    }

    /// Order amount net of refunds ("base"); 0 once cancelled.
    pub fn base(&self) -> Decimal {
        match (&self.paid, self.cancelled_at) {
            (Some(paid), None) => (paid.amount - self.refunded).max(Decimal::ZERO),
            _ => Decimal::ZERO,
        }
    }

    /// Applied: paid and its product known, so rules have seen it.
    pub fn is_applied(&self) -> bool {
        self.paid.is_some() && !self.awaiting_product
    }
}

/// Posted content (J3, O4, T1) and orders waiting to learn about it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Content {
    pub id: ContentId,
    #[serde(default)]
    pub posted: Option<PostedContent>,
    #[serde(default)]
    pub waiting_orders: Vec<OrderId>,
}

impl Content {
    pub fn new(id: ContentId) -> Self {
        Self {
            id,
            posted: None,
            waiting_orders: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PostedContent {
    pub time: Time,
    pub creator_id: CreatorId,
    pub content_type: ContentType,
    pub product_ids: Vec<ProductId>,
    pub ads_authorized: bool,
}

/// A seller–creator connection: partnership, pause, blocklist, disputes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pair {
    pub id: (SellerId, CreatorId),
    /// `partnership.established` facts: (time, rate).
    #[serde(default)]
    pub partnership: Vec<(Time, Rate)>,
    #[serde(default)]
    pub paused_at: Option<Time>,
    /// Seller blocklist facts: (time, blocked?).
    #[serde(default)]
    pub blocklist: Vec<(Time, bool)>,
    #[serde(default)]
    pub disputes: Vec<DisputeId>,
}

impl Pair {
    pub fn new(seller: SellerId, creator: CreatorId) -> Self {
        Self {
            id: (seller, creator),
            partnership: Vec::new(),
            paused_at: None,
            blocklist: Vec::new(),
            disputes: Vec::new(),
        }
    }

    pub fn paused_by(&self, t: Time) -> bool {
        self.paused_at.is_some_and(|p| p <= t)
    }

    pub fn partnership_rate_at(&self, t: Time) -> Option<Rate> {
        latest_at(&self.partnership, t).copied()
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupVersion {
    pub time: Time,
    pub name: String,
    pub criteria: GroupCriteria,
}

/// A seller: creator groups, the submissions counted by the quota, and the
/// months whose tax report went out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Seller {
    pub id: SellerId,
    #[serde(default)]
    pub groups: BTreeMap<GroupId, Vec<GroupVersion>>,
    #[serde(default)]
    pub accepted_submissions: Vec<Time>,
    #[serde(default)]
    pub tax_reports_sent: BTreeSet<String>,
}

impl Seller {
    pub fn new(id: SellerId) -> Self {
        Self {
            id,
            groups: BTreeMap::new(),
            accepted_submissions: Vec::new(),
            tax_reports_sent: BTreeSet::new(),
        }
    }

    /// The group as of `t` (the latest save at or before `t`, else the first).
    pub fn group_at(&self, group: &GroupId, t: Time) -> Option<&GroupVersion> {
        let versions = self.groups.get(group)?;
        versions.iter().rev().find(|v| v.time <= t).or_else(|| versions.first())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignStatus {
    PendingPayment,
    Expired,
    Scheduled,
    Ongoing,
    Ended,
    Settled,
    Recalled,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    Gmv,
    Orders,
    Content,
}

/// `video`, `live`, or `any`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContentFilter {
    Video,
    Live,
    Any,
}

impl ContentFilter {
    pub fn admits(self, content: Option<ContentType>) -> bool {
        match self {
            ContentFilter::Any => true,
            ContentFilter::Video => content == Some(ContentType::Video),
            ContentFilter::Live => content == Some(ContentType::Live),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskSpec {
    pub kind: TaskKind,
    pub content_type: ContentFilter,
    /// Money for GMV, a count otherwise.
    pub target: Decimal,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChallengeMetric {
    Gmv,
    Orders,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RankBand {
    pub from_rank: u32,
    pub to_rank: u32,
    pub amount_each: Decimal,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum CampaignPlan {
    Task {
        reward: Decimal,
        tasks: Vec<TaskSpec>,
    },
    Challenge {
        metric: ChallengeMetric,
        content_types: Vec<ContentType>,
        min_value: Decimal,
        bands: Vec<RankBand>,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CampaignProduct {
    pub product_id: ProductId,
    pub commission_rate: Option<Rate>,
    pub shop_ads_rate: Option<Rate>,
    pub free_sample: bool,
    pub refundable_goal: Option<u32>,
}

/// A reward issued to a participant (T2, H3); cancelled by V6.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RewardRecord {
    pub reward_id: String,
    pub amount: Decimal,
    pub cancelled: bool,
}

/// A campaign from acceptance to settlement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Campaign {
    pub id: CampaignId,
    pub seller_id: SellerId,
    pub title: String,
    pub submitted_at: Time,
    pub starts_at: Time,
    pub ends_at: Time,
    pub group_id: GroupId,
    pub currency: Currency,
    pub deposit: Decimal,
    pub capacity: Option<u64>,
    pub plan: CampaignPlan,
    pub products: Vec<CampaignProduct>,
    pub status: CampaignStatus,
    pub payment_due_at: Time,
    #[serde(default)]
    pub paid_at: Option<Time>,
    /// Accepted participations (their documents are found by
    /// [`Query::ParticipationsOf`]); kept as a count so the campaign document
    /// stays small however many creators join.
    #[serde(default)]
    pub participant_count: u64,
    /// Rewards issued and not cancelled (each is recorded on its participation).
    #[serde(default)]
    pub rewards_total: Decimal,
    #[serde(default)]
    pub rewards_issued: u32,
    #[serde(default)]
    pub finalized: bool,
}

impl Campaign {
    pub fn kind_name(&self) -> &'static str {
        match self.plan {
            CampaignPlan::Task { .. } => "task",
            CampaignPlan::Challenge { .. } => "challenge",
        }
    }

    pub fn is_task(&self) -> bool {
        matches!(self.plan, CampaignPlan::Task { .. })
    }

    pub fn product(&self, id: &ProductId) -> Option<&CampaignProduct> {
        self.products.iter().find(|p| &p.product_id == id)
    }

    pub fn rewards_total(&self) -> Decimal {
        self.rewards_total
    }

    /// Open for samples (S1): scheduled or ongoing now.
    pub fn is_open(&self) -> bool {
        matches!(self.status, CampaignStatus::Scheduled | CampaignStatus::Ongoing)
    }

    /// Open for a join at business time `t` (J1): scheduled or ongoing as
    /// of `t` — paid at or before `t`, not yet at its end — and still
    /// scheduled or ongoing now. A payment stamped after `t` that arrived
    /// before the join does not open the campaign to it; a join that
    /// arrives once the campaign has ended is refused even if stamped
    /// before its end, since nothing could count for it any more.
    pub fn open_at(&self, t: Time) -> bool {
        self.is_open() && self.paid_at.is_some_and(|paid| paid <= t) && t < self.ends_at
    }

    /// Rewards can no longer change once the campaign is settled or recalled.
    pub fn is_closed(&self) -> bool {
        matches!(
            self.status,
            CampaignStatus::Settled | CampaignStatus::Recalled | CampaignStatus::Expired
        )
    }
}

/// One order's contribution to a participation (T1, H1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Contribution {
    pub time: Time,
    pub base: Decimal,
    pub channel: OrderChannel,
    pub quantity: u32,
    /// Business time of the latest fact about the order — its payment, a
    /// refund, its cancellation — that changed the campaign's score (H3);
    /// `None` if none did. Absent from documents written before it was
    /// kept: see [`Contribution::score_changed_at`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_at: Option<Time>,
}

impl Contribution {
    /// When the order last changed the score, if it ever did.
    pub fn score_changed_at(&self) -> Option<Time> {
        self.changed_at.or((self.base > Decimal::ZERO).then_some(self.time))
    }
}

/// A creator in a campaign.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Participation {
    pub id: (CampaignId, CreatorId),
    pub seller_id: SellerId,
    pub joined_at: Time,
    pub status: ParticipationStatus,
    /// Qualifying orders; a cancelled or fully refunded one has base 0.
    #[serde(default)]
    pub orders: BTreeMap<OrderId, Contribution>,
    /// Qualifying content.
    #[serde(default)]
    pub contents: BTreeMap<ContentId, (Time, ContentType)>,
    #[serde(default)]
    pub finished_at: Option<Time>,
    #[serde(default)]
    pub samples_approved: u32,
    #[serde(default)]
    pub sample_delivered: bool,
    #[serde(default)]
    pub reward: Option<RewardRecord>,
}

/// A free-sample request (S1, S2).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub id: RequestId,
    /// Set once the request was decided: (campaign, creator, approved?).
    #[serde(default)]
    pub request: Option<(CampaignId, CreatorId, bool)>,
    #[serde(default)]
    pub shipped_at: Option<Time>,
    #[serde(default)]
    pub delivered_at: Option<Time>,
}

impl Sample {
    pub fn new(id: RequestId) -> Self {
        Self {
            id,
            request: None,
            shipped_at: None,
            delivered_at: None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundableStatus {
    Open,
    Refunded,
    Expired,
}

/// A refundable sample (S3): units sold count towards its goal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Refundable {
    pub id: RefundableId,
    pub campaign_id: CampaignId,
    pub creator_id: CreatorId,
    pub product_id: ProductId,
    pub price: Decimal,
    pub shipping_fee: Decimal,
    pub currency: Currency,
    pub start: Time,
    pub end: Time,
    pub goal: u32,
    pub status: RefundableStatus,
    /// Counted orders: time paid and units still counting (0 once cancelled
    /// or fully refunded).
    #[serde(default)]
    pub units: BTreeMap<OrderId, (Time, u32)>,
}

/// A dispute between a seller and a creator (V4); either side may arrive first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dispute {
    pub id: DisputeId,
    #[serde(default)]
    pub opened: Option<(Time, SellerId, CreatorId)>,
    #[serde(default)]
    pub resolved: Option<(Time, Vec<OrderId>)>,
}

impl Dispute {
    pub fn new(id: DisputeId) -> Self {
        Self {
            id,
            opened: None,
            resolved: None,
        }
    }

    /// Open at `t`: opened at or before `t` and not resolved by then.
    pub fn open_at(&self, t: Time) -> bool {
        self.opened.as_ref().is_some_and(|(o, ..)| *o <= t) && self.resolved.as_ref().is_none_or(|(r, _)| *r > t)
    }
}

/// The campaign clock: the latest applied tick.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Clock {
    pub id: (),
    pub last_tick: Option<Time>,
}

/// Something the clock must do at `due_at`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimerKey {
    /// K1
    PaymentDue(CampaignId),
    /// K2
    Start(CampaignId),
    /// K3
    End(CampaignId),
    /// K3 for challenges: finalization and settlement after the lag.
    Finalize(CampaignId),
    /// K4
    RefundableDeadline(RefundableId),
    /// K7: (seller, `YYYY-MM`)
    TaxReport(SellerId, String),
}

impl TimerKey {
    /// Rules run in the order K1…K7 within a tick.
    pub fn rank(&self) -> u8 {
        match self {
            TimerKey::PaymentDue(_) => 1,
            TimerKey::Start(_) => 2,
            TimerKey::End(_) => 3,
            TimerKey::Finalize(_) => 4,
            TimerKey::RefundableDeadline(_) => 5,
            TimerKey::TaxReport(..) => 7,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Timer {
    pub id: TimerKey,
    pub due_at: Time,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_documents_leave_empty_fields_out_and_read_back_the_same() {
        let mut order = Order::new(OrderId::from("o1"));
        let doc = order.clone().into_doc();
        let text = doc.to_json_text();
        assert_eq!(text, r#"{"id":"o1"}"#);
        assert_eq!(Doc::from_json_text("order", &text), Ok(doc));

        order.refunded = Decimal::new(150, 2);
        order.early_facts.push(OrderFact::Settled {
            time: DateTime::<Utc>::UNIX_EPOCH,
        });
        order.awaiting_product = true;
        let doc = order.into_doc();
        assert_eq!(Doc::from_json_text("order", &doc.to_json_text()), Ok(doc));
    }

    #[test]
    fn keys_encode_and_decode_whatever_the_ids_contain() {
        for key in [
            Key::Order(OrderId::from("o/1 \"x\"")),
            Key::Pair((SellerId::from("s,1"), CreatorId::from("c\u{1f}1"))),
            Key::Timer(TimerKey::TaxReport(SellerId::from("s"), "2026-01".into())),
            Key::Clock(()),
        ] {
            assert_eq!(Key::decode(key.kind(), &key.encode()), Some(key));
        }
    }
}
