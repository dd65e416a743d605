//! The aggregates the rules read and write: one document per entity, plain
//! data with the small methods that keep each one consistent.
//!
//! Nothing here decides across entities; the rule families do, through
//! the workspace (`domain::workspace`). What one aggregate does to itself when a
//! rule tells it to — a commission becoming payable, a participation
//! changing status — is a method here, so every rule family that needs it
//! calls the same code and no family imports another.
//!
//! | module | aggregates |
//! | --- | --- |
//! | [`catalogue`] | `Product`, `Creator`, `Seller` (groups, quota, tax reports) |
//! | [`order`] | `Order` and its `Commission`, `Content` |
//! | [`campaign`] | `Campaign`, `Participation`, `Sample`, `Refundable`, `Clock`, `Timer`, `Submission` (rejections) |
//! | [`connection`] | `Pair` (seller–creator), `Dispute` |

pub mod campaign;
pub mod catalogue;
pub mod connection;
pub mod order;

use std::sync::Arc;

use chrono::{DateTime, Utc};

pub use campaign::{
    Campaign, CampaignPlan, CampaignProduct, CampaignStatus, ChallengeMetric, Clock, ContentFilter, Contribution,
    MoneyRecord, Participation, RankBand, Refundable, RefundableStatus, Rejection, RewardRecord, Sample, StatusChange,
    Submission, TaskKind, TaskSpec, Timer, TimerKey,
};
pub use catalogue::{Creator, CreatorProfile, GroupVersion, Product, ProductVersion, RefundWindow, Seller, Violation};
pub use connection::{Dispute, Pair};
pub use order::{
    CampaignCheck, Commission, CommissionState, Content, Fact, LifeEntry, Order, OrderFact, PaidOrder, PostedContent,
    RateRecord, ShopAdsWhy, Step,
};

use crate::wire::outcomes::OutcomeData;
use crate::wire::values::{
    CampaignId, ContentId, CreatorId, DisputeId, EventId, OrderId, ProductId, RefundableId, RequestId, SellerId,
};

pub type Time = DateTime<Utc>;

/// Where a decision goes: outcomes, named by the cause being applied. The
/// workspace implements it; aggregate methods take it, so they can announce
/// what they did without knowing about the workspace.
pub trait Emit {
    /// Records an outcome about `entity` (part of its deterministic id).
    fn emit(&mut self, entity: &str, data: OutcomeData);
    /// The event being applied.
    fn cause(&self) -> &EventId;
    /// Its business time ("at t").
    fn now(&self) -> Time;
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

/// An aggregate that exists, empty, as soon as a fact about it arrives: a
/// rule reading one that is not there yet starts from this.
pub trait Fresh: Aggregate {
    fn fresh(id: &Self::Id) -> Self;
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
            /// Every kind of aggregate, by name.
            pub const KINDS: &'static [&'static str] = &[$($kind),*];

            pub fn kind(&self) -> &'static str {
                match self {
                    $(Key::$agg(_) => $kind),*
                }
            }
        }

        impl Doc {
            pub fn kind(&self) -> &'static str {
                match self {
                    $(Doc::$agg(_) => $kind),*
                }
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

/// Every aggregate: its type, its storage kind and its id. One list, which
/// the model (`aggregates!`) and the storage codec (`store::codec`) expand.
macro_rules! for_each_aggregate {
    ($then:ident) => {
        $then! {
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
            Submission: "submission" => CampaignId,
        }
    };
}
pub(crate) use for_each_aggregate;

for_each_aggregate!(aggregates);

macro_rules! fresh {
    ($($agg:ident),*) => {$(
        impl Fresh for $agg {
            fn fresh(id: &Self::Id) -> Self {
                $agg::new(id.clone())
            }
        }
    )*};
}
fresh!(Product, Creator, Order, Content, Seller, Sample, Dispute, Submission);

impl Fresh for Pair {
    fn fresh((seller, creator): &Self::Id) -> Self {
        Pair::new(seller.clone(), creator.clone())
    }
}

impl Fresh for Clock {
    fn fresh(_: &()) -> Self {
        Clock::default()
    }
}
