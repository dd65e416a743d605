//! Outcome types published to `collab.outcomes` (contract.md §5): one struct
//! per `data` shape, the reason codes as enums, and the `OutcomeData` enum
//! that ties each outcome `type` to its data and its subject.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;

use super::events::Risk;
use super::values::{
    CampaignId, CreatorId, Currency, GroupId, OrderId, PaymentId, ProductId, Rate, RefundableId, RequestId, SellerId,
    ViolationId, serialize_money, utc_time,
};

/// Declares a snake_case reason-code enum with its wire names.
macro_rules! codes {
    ($($(#[$doc:meta])* $name:ident { $($variant:ident = $code:literal),* $(,)? })*) => {$(
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize)]
        pub enum $name {
            $(#[serde(rename = $code)] $variant),*
        }

        impl $name {
            pub fn code(self) -> &'static str {
                match self {
                    $($name::$variant => $code),*
                }
            }
        }
    )*};
}

codes! {
    /// Which rule of O2 decided a commission rate.
    RateSource {
        Campaign = "campaign",
        OpenCollab = "open_collab",
        Partnership = "partnership",
        Demoted = "demoted",
        ConnectionPaused = "connection_paused",
        PlatformBlocked = "platform_blocked",
        None = "none",
    }
    CancelReason {
        OrderCancelled = "order_cancelled",
        OrderRefunded = "order_refunded",
        Violation = "violation",
        Dispute = "dispute",
        PlatformBlocked = "platform_blocked",
    }
    PayableReason {
        Settled = "settled",
        ConnectionPaused = "connection_paused",
    }
    /// Why a pending commission was adjusted (O6, O4, V3, O9).
    AdjustReason {
        OrderRefunded = "order_refunded",
        ContentAuthorized = "content_authorized",
        ConnectionPaused = "connection_paused",
        RateCorrected = "rate_corrected",
    }
    RefundTo {
        Seller = "seller",
        Creator = "creator",
    }
    RefundReason {
        CampaignRecalled = "campaign_recalled",
        UnusedBudget = "unused_budget",
        PaymentNotApplicable = "payment_not_applicable",
        ExtraFeeReversal = "extra_fee_reversal",
        RefundableSample = "refundable_sample",
    }
    ParticipationStatus {
        Unfinished = "unfinished",
        NotFulfilled = "not_fulfilled",
        Finished = "finished",
        Removed = "removed",
    }
    RewardKind {
        Task = "task",
        Challenge = "challenge",
    }
    /// J1, in the order the rule checks them.
    JoinRejection {
        CampaignNotOpen = "campaign_not_open",
        PlatformBlocked = "platform_blocked",
        ConnectionPaused = "connection_paused",
        BlockedBySeller = "blocked_by_seller",
        NotEligible = "not_eligible",
        AlreadyJoined = "already_joined",
        CapacityReached = "capacity_reached",
    }
    /// S1, in the order the rule checks them.
    SampleRejection {
        NotParticipating = "not_participating",
        CampaignNotOpen = "campaign_not_open",
        SampleNotOffered = "sample_not_offered",
        SampleLimitReached = "sample_limit_reached",
    }
    PartnershipRejection {
        PlatformBlocked = "platform_blocked",
        ConnectionPaused = "connection_paused",
    }
    RecallRejection {
        NotPaid = "not_paid",
        AlreadyStarted = "already_started",
        NotRecallable = "not_recallable",
    }
    /// P2: why a successful payment could not be applied.
    PaymentRejection {
        UnknownCampaign = "unknown_campaign",
        SellerMismatch = "seller_mismatch",
        CampaignExpired = "campaign_expired",
        AlreadyPaid = "already_paid",
        AmountMismatch = "amount_mismatch",
        CurrencyMismatch = "currency_mismatch",
    }
    RewardCancelReason {
        PlatformBlocked = "platform_blocked",
    }
    GroupRejection {
        GroupLimitReached = "group_limit_reached",
    }
    /// Reason codes of `campaign.rejected` (rules C1–C11).
    SubmissionProblem {
        InvalidType = "invalid_type",
        InvalidDuration = "invalid_duration",
        StartsInPast = "starts_in_past",
        QuotaExceeded = "quota_exceeded",
        UnknownCreatorGroup = "unknown_creator_group",
        ProductNotEligible = "product_not_eligible",
        CommissionNotAboveOpenCollab = "commission_not_above_open_collab",
        InvalidTask = "invalid_task",
        BudgetMismatch = "budget_mismatch",
        InvalidChallenge = "invalid_challenge",
        InvalidMoney = "invalid_money",
        CampaignImmutable = "campaign_immutable",
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CampaignAccepted {
    pub campaign_id: CampaignId,
    pub seller_id: SellerId,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub status: &'static str,
    #[serde(serialize_with = "utc_time::serialize")]
    pub payment_due_at: DateTime<Utc>,
    #[serde(serialize_with = "serialize_money")]
    pub deposit: Decimal,
    pub currency: Currency,
    pub capacity: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct Problem {
    pub code: SubmissionProblem,
    pub field: String,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CampaignRejected {
    pub campaign_id: CampaignId,
    pub seller_id: SellerId,
    pub reasons: Vec<Problem>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CampaignScheduled {
    pub campaign_id: CampaignId,
    pub seller_id: SellerId,
    #[serde(serialize_with = "utc_time::serialize")]
    pub starts_at: DateTime<Utc>,
    #[serde(serialize_with = "utc_time::serialize")]
    pub paid_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PaymentRejected {
    pub payment_id: PaymentId,
    pub campaign_id: CampaignId,
    pub seller_id: SellerId,
    pub reason: PaymentRejection,
}

/// `campaign.expired`, `.started`, `.ended`, `.recalled`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CampaignRef {
    pub campaign_id: CampaignId,
    pub seller_id: SellerId,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CampaignRecallRejected {
    pub campaign_id: CampaignId,
    pub seller_id: SellerId,
    pub reason: RecallRejection,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CampaignSettled {
    pub campaign_id: CampaignId,
    pub seller_id: SellerId,
    #[serde(serialize_with = "serialize_money")]
    pub deposit: Decimal,
    #[serde(serialize_with = "serialize_money")]
    pub rewards_total: Decimal,
    #[serde(serialize_with = "serialize_money")]
    pub charged: Decimal,
    #[serde(serialize_with = "serialize_money")]
    pub refunded: Decimal,
    pub currency: Currency,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CreatorGroupRejected {
    pub seller_id: SellerId,
    pub group_id: GroupId,
    pub reason: GroupRejection,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ParticipationAccepted {
    pub campaign_id: CampaignId,
    pub creator_id: CreatorId,
    pub seller_id: SellerId,
    pub fake_order_risk: Option<Risk>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ParticipationRejected {
    pub campaign_id: CampaignId,
    pub creator_id: CreatorId,
    pub reason: JoinRejection,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ParticipationStatusChanged {
    pub campaign_id: CampaignId,
    pub creator_id: CreatorId,
    pub status: ParticipationStatus,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TaskFinished {
    pub campaign_id: CampaignId,
    pub creator_id: CreatorId,
    #[serde(serialize_with = "utc_time::serialize")]
    pub finished_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RewardIssued {
    pub reward_id: String,
    pub campaign_id: CampaignId,
    pub creator_id: CreatorId,
    pub kind: RewardKind,
    pub rank: Option<u32>,
    #[serde(serialize_with = "serialize_money")]
    pub amount: Decimal,
    pub currency: Currency,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RewardCancelled {
    pub reward_id: String,
    pub campaign_id: CampaignId,
    pub creator_id: CreatorId,
    pub reason: RewardCancelReason,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CommissionAccrued {
    pub commission_id: String,
    pub order_id: OrderId,
    pub creator_id: CreatorId,
    pub seller_id: SellerId,
    pub product_id: ProductId,
    pub campaign_id: Option<CampaignId>,
    pub rate: Rate,
    pub rate_source: RateSource,
    #[serde(serialize_with = "serialize_money")]
    pub base_amount: Decimal,
    #[serde(serialize_with = "serialize_money")]
    pub amount: Decimal,
    pub shop_ads_rate: Rate,
    #[serde(serialize_with = "serialize_money")]
    pub shop_ads_amount: Decimal,
    pub currency: Currency,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CommissionAdjusted {
    pub commission_id: String,
    pub order_id: OrderId,
    #[serde(serialize_with = "serialize_money")]
    pub amount: Decimal,
    #[serde(serialize_with = "serialize_money")]
    pub shop_ads_amount: Decimal,
    /// Change of `amount + shop_ads_amount`; negative after a refund, 0 when
    /// only the decision changed.
    #[serde(serialize_with = "serialize_money")]
    pub delta: Decimal,
    pub currency: Currency,
    /// Extra: the order amount net of refunds the amounts were computed on.
    #[serde(serialize_with = "serialize_money")]
    pub base_amount: Decimal,
    pub reason: AdjustReason,
    /// With `rate_corrected` (O9): the decision now in force.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub decision: Option<RateInForce>,
}

/// The O2/O4 decision a `rate_corrected` adjustment announces.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RateInForce {
    pub rate: Rate,
    pub rate_source: RateSource,
    /// Null unless the source is `campaign`.
    pub campaign_id: Option<CampaignId>,
    pub shop_ads_rate: Rate,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CommissionCancelled {
    pub commission_id: String,
    pub order_id: OrderId,
    pub reason: CancelReason,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CommissionPayable {
    pub commission_id: String,
    pub order_id: OrderId,
    pub creator_id: CreatorId,
    #[serde(serialize_with = "serialize_money")]
    pub amount: Decimal,
    #[serde(serialize_with = "serialize_money")]
    pub shop_ads_amount: Decimal,
    pub currency: Currency,
    pub reason: PayableReason,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CommissionClawback {
    pub commission_id: String,
    pub order_id: OrderId,
    /// Everything now owed back: commission and shop-ads commission together.
    #[serde(serialize_with = "serialize_money")]
    pub amount: Decimal,
    pub currency: Currency,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CommissionDemoted {
    pub creator_id: CreatorId,
    pub violation_id: ViolationId,
    pub rate: Rate,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SellerViolationNotice {
    pub seller_id: SellerId,
    pub creator_id: CreatorId,
    pub violation_id: ViolationId,
    pub options: [&'static str; 3],
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PartnershipAccepted {
    pub seller_id: SellerId,
    pub creator_id: CreatorId,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PartnershipRejected {
    pub seller_id: SellerId,
    pub creator_id: CreatorId,
    pub reason: PartnershipRejection,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SampleApproved {
    pub request_id: RequestId,
    pub campaign_id: CampaignId,
    pub creator_id: CreatorId,
    pub product_id: ProductId,
    pub status: &'static str,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SampleRejected {
    pub request_id: RequestId,
    pub campaign_id: CampaignId,
    pub creator_id: CreatorId,
    pub reason: SampleRejection,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SampleRefundExpired {
    pub refundable_id: RefundableId,
    pub creator_id: CreatorId,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RefundDue {
    pub refund_id: String,
    pub to: RefundTo,
    pub party_id: String,
    pub campaign_id: Option<CampaignId>,
    #[serde(serialize_with = "serialize_money")]
    pub amount: Decimal,
    pub currency: Currency,
    pub reason: RefundReason,
    #[serde(serialize_with = "utc_time::serialize")]
    pub due_by: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FeeCharged {
    pub fee_id: String,
    pub seller_id: SellerId,
    pub campaign_id: CampaignId,
    #[serde(serialize_with = "serialize_money")]
    pub amount: Decimal,
    pub currency: Currency,
    pub reason: &'static str,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TaxReportAvailable {
    pub seller_id: SellerId,
    /// `YYYY-MM`
    pub month: String,
}

/// Declares `OutcomeData` with each outcome's type name and subject field.
macro_rules! outcomes {
    ($($name:literal => $variant:ident($ty:ty) subject $subject:ident),* $(,)?) => {
        /// The `data` of one outcome, tagged by its outcome type.
        #[derive(Clone, Debug, PartialEq, Serialize)]
        #[serde(untagged)]
        pub enum OutcomeData {
            $($variant($ty)),*
        }

        impl OutcomeData {
            /// Every outcome `type` of the contract.
            pub const TYPES: &'static [&'static str] = &[$($name),*];

            pub fn type_name(&self) -> &'static str {
                match self {
                    $(OutcomeData::$variant(_) => $name),*
                }
            }

            /// The CloudEvents `subject`: the outcome's main entity id.
            pub fn subject(&self) -> String {
                match self {
                    $(OutcomeData::$variant(d) => d.$subject.to_string()),*
                }
            }
        }
    };
}

outcomes! {
    "campaign.accepted" => CampaignAccepted(CampaignAccepted) subject campaign_id,
    "campaign.rejected" => CampaignRejected(CampaignRejected) subject campaign_id,
    "campaign.scheduled" => CampaignScheduled(CampaignScheduled) subject campaign_id,
    "payment.rejected" => PaymentRejected(PaymentRejected) subject payment_id,
    "campaign.expired" => CampaignExpired(CampaignRef) subject campaign_id,
    "campaign.started" => CampaignStarted(CampaignRef) subject campaign_id,
    "campaign.ended" => CampaignEnded(CampaignRef) subject campaign_id,
    "campaign.recalled" => CampaignRecalled(CampaignRef) subject campaign_id,
    "campaign.recall_rejected" => CampaignRecallRejected(CampaignRecallRejected) subject campaign_id,
    "campaign.settled" => CampaignSettled(CampaignSettled) subject campaign_id,
    "creator_group.rejected" => CreatorGroupRejected(CreatorGroupRejected) subject group_id,
    "participation.accepted" => ParticipationAccepted(ParticipationAccepted) subject creator_id,
    "participation.rejected" => ParticipationRejected(ParticipationRejected) subject creator_id,
    "participation.status_changed" => ParticipationStatusChanged(ParticipationStatusChanged) subject creator_id,
    "task.finished" => TaskFinished(TaskFinished) subject creator_id,
    "reward.issued" => RewardIssued(RewardIssued) subject reward_id,
    "reward.cancelled" => RewardCancelled(RewardCancelled) subject reward_id,
    "commission.accrued" => CommissionAccrued(CommissionAccrued) subject commission_id,
    "commission.adjusted" => CommissionAdjusted(CommissionAdjusted) subject commission_id,
    "commission.cancelled" => CommissionCancelled(CommissionCancelled) subject commission_id,
    "commission.payable" => CommissionPayable(CommissionPayable) subject commission_id,
    "commission.clawback" => CommissionClawback(CommissionClawback) subject commission_id,
    "commission.demoted" => CommissionDemoted(CommissionDemoted) subject creator_id,
    "seller.violation_notice" => SellerViolationNotice(SellerViolationNotice) subject seller_id,
    "partnership.accepted" => PartnershipAccepted(PartnershipAccepted) subject creator_id,
    "partnership.rejected" => PartnershipRejected(PartnershipRejected) subject creator_id,
    "sample.approved" => SampleApproved(SampleApproved) subject request_id,
    "sample.rejected" => SampleRejected(SampleRejected) subject request_id,
    "sample.refund_expired" => SampleRefundExpired(SampleRefundExpired) subject refundable_id,
    "refund.due" => RefundDue(RefundDue) subject refund_id,
    "fee.charged" => FeeCharged(FeeCharged) subject fee_id,
    "tax_report.available" => TaxReportAvailable(TaxReportAvailable) subject seller_id,
}
