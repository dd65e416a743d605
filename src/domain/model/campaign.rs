//! Campaigns and what happens in them: participations, free-sample
//! requests, refundable samples, and the clock's timers.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{Emit, Time};
use crate::wire::events::{ContentType, OrderChannel};
use crate::wire::outcomes::{CampaignRef, OutcomeData, ParticipationStatus, ParticipationStatusChanged, Problem};
use crate::wire::values::{
    CampaignId, ContentId, CreatorId, Currency, EventId, GroupId, OrderId, ProductId, Rate, RefundableId, RequestId,
    SellerId,
};

/// A campaign's change of status and the event that caused it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StatusChange {
    pub status: CampaignStatus,
    pub event_id: EventId,
    /// Business time of the causing event.
    pub time: Time,
}

/// Money the campaign moved besides rewards: refunds to the seller and
/// fees (R1, K5, K6), as decided.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MoneyRecord {
    /// `refund` or `fee`.
    pub kind: String,
    pub id: String,
    pub amount: Decimal,
    pub reason: String,
    pub event_id: EventId,
    pub time: Time,
}

/// The rejected submissions of a campaign id (C1–C11), each with every
/// problem found: a rejected campaign has no [`Campaign`], and its
/// explanation must outlive the outbox.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Submission {
    pub id: CampaignId,
    #[serde(default)]
    pub rejections: Vec<Rejection>,
}

impl Submission {
    pub fn new(id: CampaignId) -> Self {
        Self {
            id,
            rejections: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rejection {
    pub event_id: EventId,
    pub time: Time,
    pub seller_id: SellerId,
    pub reasons: Vec<Problem>,
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
    /// When it was recalled (R1), if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recalled_at: Option<Time>,
    /// Accepted participations (their documents are found by
    /// `Query::ParticipationsOf`); kept as a count so the campaign document
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
    /// Every change of status, with its cause (acceptance first).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<StatusChange>,
    /// Refunds and fees it caused.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub money: Vec<MoneyRecord>,
}

impl Campaign {
    /// Records a refund or fee decided for the campaign.
    pub fn record_money(&mut self, out: &impl Emit, kind: &str, id: &str, amount: Decimal, reason: &str) {
        self.money.push(MoneyRecord {
            kind: kind.to_owned(),
            id: id.to_owned(),
            amount,
            reason: reason.to_owned(),
            event_id: out.cause().clone(),
            time: out.now(),
        });
    }

    /// Moves to `status`, recording the event that caused it.
    pub fn set_status(&mut self, status: CampaignStatus, out: &impl Emit) {
        self.status = status;
        self.history.push(StatusChange {
            status,
            event_id: out.cause().clone(),
            time: out.now(),
        });
    }

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

    /// Open for samples (S1): scheduled or ongoing now.
    pub fn is_open(&self) -> bool {
        matches!(self.status, CampaignStatus::Scheduled | CampaignStatus::Ongoing)
    }

    /// Open for a join at business time `t` (J1): scheduled or ongoing as
    /// of `t` — paid at or before `t`, before its end, not recalled by `t` —
    /// whatever arrived since. A payment stamped after `t` that arrived
    /// before the join does not open the campaign to it; a join stamped
    /// while it was open that arrives after its end is accepted (it can then
    /// only re-decide pending commissions, O9). An unpaid campaign, expired
    /// or not, was never open.
    pub fn open_at(&self, t: Time) -> bool {
        self.paid_at.is_some_and(|paid| paid <= t)
            && t < self.ends_at
            && self.recalled_at.is_none_or(|recalled| recalled > t)
    }

    /// Rewards can no longer change once the campaign is settled or recalled.
    pub fn is_closed(&self) -> bool {
        matches!(
            self.status,
            CampaignStatus::Settled | CampaignStatus::Recalled | CampaignStatus::Expired
        )
    }

    /// The campaign as its lifecycle outcomes name it.
    pub fn reference(&self) -> CampaignRef {
        CampaignRef {
            campaign_id: self.id.clone(),
            seller_id: self.seller_id.clone(),
        }
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

impl Participation {
    /// J3: every change of status is announced.
    pub fn set_status(&mut self, status: ParticipationStatus, out: &mut impl Emit) {
        if self.status == status {
            return;
        }
        self.status = status;
        out.emit(
            &format!("{}/{}", self.id.0, status.code()),
            OutcomeData::ParticipationStatusChanged(ParticipationStatusChanged {
                campaign_id: self.id.0.clone(),
                creator_id: self.id.1.clone(),
                status,
            }),
        );
    }

    /// Whether business time `t` falls in the participation's counting
    /// window (T1): from the later of start and join, until the end.
    pub fn counts_at(&self, campaign: &Campaign, t: Time) -> bool {
        campaign.starts_at.max(self.joined_at) <= t && t < campaign.ends_at
    }

    /// J3: a delivered sample without qualifying content since joining makes
    /// the participation `not_fulfilled`.
    pub fn sample_delivered(&mut self, out: &mut impl Emit) {
        self.sample_delivered = true;
        if self.status == ParticipationStatus::Unfinished && self.contents.is_empty() {
            self.set_status(ParticipationStatus::NotFulfilled, out);
        }
    }
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
