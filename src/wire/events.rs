//! Inbound event types of `collab.events` (contract.md §4), one struct per
//! `type`, deserialized from the CloudEvent `data` and checked at the edge.
//!
//! Structure and types are checked here: a missing field, a JSON number where
//! money is a string, a negative amount or an unknown enum value is a schema
//! violation and dead-letters the message. Campaign submissions are the one
//! exception by design: rules C1–C10 report bad values (`invalid_type`,
//! `invalid_money`, …) as a rejection outcome, so their values stay loosely
//! typed here and are judged in `domain::campaign`.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::values::{
    Amount, CampaignId, ContentId, CreatorId, Currency, DecimalText, DisputeId, GroupId, OrderId, PaymentId, ProductId,
    Rate, RefundableId, RequestId, SellerId, ViolationId, rfc3339,
};

/// Content a creator posts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ContentType {
    Video,
    Live,
}

/// Where an order came from: content, or the creator's showcase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderChannel {
    Video,
    Live,
    Showcase,
}

impl OrderChannel {
    pub fn content_type(self) -> Option<ContentType> {
        match self {
            OrderChannel::Video => Some(ContentType::Video),
            OrderChannel::Live => Some(ContentType::Live),
            OrderChannel::Showcase => None,
        }
    }
}

/// Fake-order risk, ordered `low < medium < high` (G2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Risk {
    Low,
    Medium,
    High,
}

impl Risk {
    pub fn as_str(self) -> &'static str {
        match self {
            Risk::Low => "low",
            Risk::Medium => "medium",
            Risk::High => "high",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    CreditCard,
    DebitCard,
    BankTransfer,
}

/// Extra checks serde's types cannot express.
trait Validate {
    fn validate(&self) -> Result<(), String> {
        Ok(())
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct ProductUpdated {
    pub product_id: ProductId,
    pub seller_id: SellerId,
    pub category: String,
    pub affiliate_eligible: bool,
    #[serde(default)]
    pub open_collab_rate: Option<Rate>,
    #[serde(default)]
    pub open_collab_shop_ads_rate: Option<Rate>,
}
impl Validate for ProductUpdated {}

#[derive(Clone, Debug, Deserialize)]
pub struct CreatorUpdated {
    pub creator_id: CreatorId,
    pub level: u8,
    pub followers: u64,
    pub categories: Vec<String>,
    pub content_types: Vec<ContentType>,
    pub avg_commission_rate: Rate,
    pub fake_order_risk: Risk,
}
impl Validate for CreatorUpdated {
    fn validate(&self) -> Result<(), String> {
        if self.level > 8 {
            return Err(format!("level: {} is outside 0–8", self.level));
        }
        Ok(())
    }
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize, serde::Serialize)]
pub struct GroupCriteria {
    #[serde(default)]
    pub categories: Option<Vec<String>>,
    #[serde(default)]
    pub level_min: Option<u8>,
    #[serde(default)]
    pub level_max: Option<u8>,
    #[serde(default)]
    pub followers_min: Option<u64>,
    #[serde(default)]
    pub followers_max: Option<u64>,
    #[serde(default)]
    pub content_types: Option<Vec<ContentType>>,
    #[serde(default)]
    pub avg_commission_rate_min: Option<Rate>,
    #[serde(default)]
    pub avg_commission_rate_max: Option<Rate>,
    #[serde(default)]
    pub max_fake_order_risk: Option<Risk>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct CreatorGroupSaved {
    pub seller_id: SellerId,
    pub group_id: GroupId,
    pub name: String,
    pub criteria: GroupCriteria,
}
impl Validate for CreatorGroupSaved {
    fn validate(&self) -> Result<(), String> {
        for (name, level) in [
            ("level_min", self.criteria.level_min),
            ("level_max", self.criteria.level_max),
        ] {
            if level.is_some_and(|l| l > 8) {
                return Err(format!("criteria.{name}: levels are 0–8"));
            }
        }
        Ok(())
    }
}

/// A task or challenge target: a money string for GMV, an integer for counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(untagged)]
pub enum Target {
    Count(i64),
    Money(DecimalText),
}

#[derive(Clone, Debug, Deserialize)]
pub struct SubmittedProduct {
    pub product_id: ProductId,
    #[serde(default)]
    pub commission_rate: Option<DecimalText>,
    #[serde(default)]
    pub shop_ads_rate: Option<DecimalText>,
    pub free_sample: bool,
    #[serde(default)]
    pub refundable_sample_goal_units: Option<u32>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct SubmittedTaskItem {
    pub kind: String,
    pub content_type: String,
    pub target: Target,
}

#[derive(Clone, Debug, Deserialize)]
pub struct SubmittedTask {
    pub reward: DecimalText,
    pub tasks: Vec<SubmittedTaskItem>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct SubmittedRankReward {
    pub from_rank: i64,
    pub to_rank: i64,
    pub amount_each: DecimalText,
}

#[derive(Clone, Debug, Deserialize)]
pub struct SubmittedChallenge {
    pub metric: String,
    pub content_types: Vec<String>,
    pub min_value: Target,
    pub rank_rewards: Vec<SubmittedRankReward>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct CampaignSubmitted {
    pub campaign_id: CampaignId,
    pub seller_id: SellerId,
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    #[serde(deserialize_with = "rfc3339::deserialize")]
    pub starts_at: DateTime<Utc>,
    #[serde(deserialize_with = "rfc3339::deserialize")]
    pub ends_at: DateTime<Utc>,
    pub creator_group_id: GroupId,
    pub currency: Currency,
    pub budget: DecimalText,
    pub prompt_ads_authorization: bool,
    #[serde(default)]
    pub contact_whatsapp: Option<String>,
    pub products: Vec<SubmittedProduct>,
    #[serde(default)]
    pub task: Option<SubmittedTask>,
    #[serde(default)]
    pub challenge: Option<SubmittedChallenge>,
}
impl Validate for CampaignSubmitted {
    fn validate(&self) -> Result<(), String> {
        for (i, p) in self.products.iter().enumerate() {
            if p.refundable_sample_goal_units == Some(0) {
                return Err(format!("products[{i}].refundable_sample_goal_units: must be ≥ 1"));
            }
        }
        Ok(())
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct CampaignRecallRequested {
    pub campaign_id: CampaignId,
    pub seller_id: SellerId,
}
impl Validate for CampaignRecallRequested {}

#[derive(Clone, Debug, Deserialize)]
pub struct PaymentSucceeded {
    pub payment_id: PaymentId,
    pub campaign_id: CampaignId,
    pub seller_id: SellerId,
    pub amount: Amount,
    pub currency: Currency,
    pub method: PaymentMethod,
}
impl Validate for PaymentSucceeded {}

#[derive(Clone, Debug, Deserialize)]
pub struct PaymentFailed {
    pub payment_id: PaymentId,
    pub campaign_id: CampaignId,
    pub seller_id: SellerId,
    pub reason: String,
}
impl Validate for PaymentFailed {}

/// `seller.creator_blocked`, `seller.creator_unblocked`, `partnership.paused`.
#[derive(Clone, Debug, Deserialize)]
pub struct SellerCreator {
    pub seller_id: SellerId,
    pub creator_id: CreatorId,
}
impl Validate for SellerCreator {}

#[derive(Clone, Debug, Deserialize)]
pub struct PartnershipEstablished {
    pub seller_id: SellerId,
    pub creator_id: CreatorId,
    pub commission_rate: Rate,
}
impl Validate for PartnershipEstablished {}

#[derive(Clone, Debug, Deserialize)]
pub struct DisputeOpened {
    pub dispute_id: DisputeId,
    pub seller_id: SellerId,
    pub creator_id: CreatorId,
}
impl Validate for DisputeOpened {}

#[derive(Clone, Debug, Deserialize)]
pub struct DisputeResolved {
    pub dispute_id: DisputeId,
    pub cancelled_order_ids: Vec<OrderId>,
}
impl Validate for DisputeResolved {}

#[derive(Clone, Debug, Deserialize)]
pub struct CreatorJoinRequested {
    pub campaign_id: CampaignId,
    pub creator_id: CreatorId,
}
impl Validate for CreatorJoinRequested {}

#[derive(Clone, Debug, Deserialize)]
pub struct SampleRequested {
    pub request_id: RequestId,
    pub campaign_id: CampaignId,
    pub creator_id: CreatorId,
    pub product_id: ProductId,
}
impl Validate for SampleRequested {}

/// `sample.shipped`, `sample.delivered`.
#[derive(Clone, Debug, Deserialize)]
pub struct SampleProgress {
    pub request_id: RequestId,
}
impl Validate for SampleProgress {}

#[derive(Clone, Debug, Deserialize)]
pub struct SampleRefundablePurchased {
    pub refundable_id: RefundableId,
    pub campaign_id: CampaignId,
    pub creator_id: CreatorId,
    pub product_id: ProductId,
    pub order_id: OrderId,
    pub price: Amount,
    pub shipping_fee: Amount,
    pub currency: Currency,
}
impl Validate for SampleRefundablePurchased {}

#[derive(Clone, Debug, Deserialize)]
pub struct ContentPosted {
    pub content_id: ContentId,
    pub creator_id: CreatorId,
    pub content_type: ContentType,
    pub product_ids: Vec<ProductId>,
    pub ads_authorized: bool,
}
impl Validate for ContentPosted {}

#[derive(Clone, Debug, Deserialize)]
pub struct OrderPaid {
    pub order_id: OrderId,
    pub seller_id: SellerId,
    pub product_id: ProductId,
    #[serde(default)]
    pub creator_id: Option<CreatorId>,
    #[serde(default)]
    pub content_id: Option<ContentId>,
    pub content_type: OrderChannel,
    pub via_shop_ads: bool,
    pub quantity: u32,
    pub amount: Amount,
    pub currency: Currency,
}
impl Validate for OrderPaid {
    fn validate(&self) -> Result<(), String> {
        if self.quantity == 0 {
            return Err("quantity: must be ≥ 1".into());
        }
        Ok(())
    }
}

/// `order.cancelled`, `order.settled`.
#[derive(Clone, Debug, Deserialize)]
pub struct OrderRef {
    pub order_id: OrderId,
}
impl Validate for OrderRef {}

#[derive(Clone, Debug, Deserialize)]
pub struct OrderRefunded {
    pub order_id: OrderId,
    pub amount: Amount,
}
impl Validate for OrderRefunded {}

#[derive(Clone, Debug, Deserialize)]
pub struct CreatorViolationReported {
    pub violation_id: ViolationId,
    pub creator_id: CreatorId,
    pub guideline: String,
    #[serde(default)]
    pub details: Option<String>,
}
impl Validate for CreatorViolationReported {}

#[derive(Clone, Debug, Deserialize)]
pub struct CreatorPlatformBlocked {
    pub creator_id: CreatorId,
    pub reason: String,
}
impl Validate for CreatorPlatformBlocked {}

#[derive(Clone, Debug, Deserialize)]
pub struct ClockTicked {
    #[serde(deserialize_with = "rfc3339::deserialize")]
    pub now: DateTime<Utc>,
}
impl Validate for ClockTicked {}

fn parse_data<'de, T, D>(data: D) -> Result<T, String>
where
    T: DeserializeOwned + Validate,
    D: serde::Deserializer<'de>,
    D::Error: std::fmt::Display,
{
    let value: T = serde_path_to_error::deserialize(data).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            format!("data: {}", e.inner())
        } else {
            format!("data.{path}: {}", e.inner())
        }
    })?;
    value.validate().map_err(|e| format!("data.{e}"))?;
    Ok(value)
}

/// Declares the `Event` enum and its type-name table in one place, so a type
/// cannot be routed without being parsed or parsed without being named.
macro_rules! events {
    ($($name:literal => $variant:ident($ty:ty)),* $(,)?) => {
        /// One inbound event, typed.
        #[derive(Clone, Debug)]
        pub enum Event {
            $($variant($ty)),*
        }

        impl Event {
            /// Every inbound `type` of the contract.
            pub const TYPES: &'static [&'static str] = &[$($name),*];

            pub fn type_name(&self) -> &'static str {
                match self {
                    $(Event::$variant(_) => $name),*
                }
            }

            /// `Ok(None)` when the type is unknown; `Err` describes a schema violation.
            pub fn parse(type_name: &str, data: &serde_json::Value) -> Result<Option<Event>, String> {
                match type_name {
                    $($name => parse_data::<$ty, _>(data).map(|d| Some(Event::$variant(d))),)*
                    _ => Ok(None),
                }
            }

            /// As [`Event::parse`], from the JSON text of `data` (one pass, no
            /// intermediate tree).
            pub fn parse_text(type_name: &str, data: &str) -> Result<Option<Event>, String> {
                match type_name {
                    $($name => parse_data::<$ty, _>(&mut serde_json::Deserializer::from_str(data)).map(|d| Some(Event::$variant(d))),)*
                    _ => Ok(None),
                }
            }
        }
    };
}

events! {
    "product.updated" => ProductUpdated(ProductUpdated),
    "creator.updated" => CreatorUpdated(CreatorUpdated),
    "creator_group.saved" => CreatorGroupSaved(CreatorGroupSaved),
    "campaign.submitted" => CampaignSubmitted(CampaignSubmitted),
    "campaign.recall_requested" => CampaignRecallRequested(CampaignRecallRequested),
    "payment.succeeded" => PaymentSucceeded(PaymentSucceeded),
    "payment.failed" => PaymentFailed(PaymentFailed),
    "seller.creator_blocked" => SellerCreatorBlocked(SellerCreator),
    "seller.creator_unblocked" => SellerCreatorUnblocked(SellerCreator),
    "partnership.established" => PartnershipEstablished(PartnershipEstablished),
    "partnership.paused" => PartnershipPaused(SellerCreator),
    "dispute.opened" => DisputeOpened(DisputeOpened),
    "dispute.resolved" => DisputeResolved(DisputeResolved),
    "creator.join_requested" => CreatorJoinRequested(CreatorJoinRequested),
    "sample.requested" => SampleRequested(SampleRequested),
    "sample.shipped" => SampleShipped(SampleProgress),
    "sample.delivered" => SampleDelivered(SampleProgress),
    "sample.refundable_purchased" => SampleRefundablePurchased(SampleRefundablePurchased),
    "content.posted" => ContentPosted(ContentPosted),
    "order.paid" => OrderPaid(OrderPaid),
    "order.cancelled" => OrderCancelled(OrderRef),
    "order.refunded" => OrderRefunded(OrderRefunded),
    "order.settled" => OrderSettled(OrderRef),
    "creator.violation_reported" => CreatorViolationReported(CreatorViolationReported),
    "creator.platform_blocked" => CreatorPlatformBlocked(CreatorPlatformBlocked),
    "clock.ticked" => ClockTicked(ClockTicked),
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn order(amount: serde_json::Value) -> serde_json::Value {
        json!({
            "order_id": "o1", "seller_id": "s1", "product_id": "p1", "creator_id": "c1",
            "content_type": "video", "via_shop_ads": false, "quantity": 1,
            "amount": amount, "currency": "USD"
        })
    }

    #[test]
    fn a_valid_order_parses() {
        let parsed = Event::parse("order.paid", &order(json!("10.00")));
        assert!(matches!(parsed, Ok(Some(Event::OrderPaid(_)))), "{parsed:?}");
    }

    #[test]
    fn schema_violations_name_the_field() {
        for (amount, needle) in [
            (json!(10.5), "data.amount"),
            (json!("-1.00"), "negative"),
            (json!("1.234"), "fraction digits"),
        ] {
            let err = Event::parse("order.paid", &order(amount)).err().unwrap_or_default();
            assert!(err.contains(needle), "{err}");
        }
        let mut bad_enum = order(json!("1.00"));
        bad_enum["content_type"] = json!("radio");
        let err = Event::parse("order.paid", &bad_enum).err().unwrap_or_default();
        assert!(err.contains("data.content_type"), "{err}");
        let mut zero = order(json!("1.00"));
        zero["quantity"] = json!(0);
        assert!(Event::parse("order.paid", &zero).is_err());
    }

    #[test]
    fn unknown_types_are_not_events() {
        assert!(matches!(Event::parse("order.teleported", &json!({})), Ok(None)));
    }

    #[test]
    fn nullable_fields_may_be_absent() {
        let mut o = order(json!("1.00"));
        if let Some(map) = o.as_object_mut() {
            map.remove("creator_id");
        }
        assert!(matches!(Event::parse("order.paid", &o), Ok(Some(Event::OrderPaid(p))) if p.creator_id.is_none()));
    }

    #[test]
    fn every_type_is_listed_once() {
        let mut types = Event::TYPES.to_vec();
        types.sort_unstable();
        types.dedup();
        assert_eq!(types.len(), Event::TYPES.len());
        assert_eq!(types.len(), 26);
    }
}
