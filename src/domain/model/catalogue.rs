//! Reference data with history: products, creators, sellers. Rules read
//! them "as of" a business time — the product's rate at an order's time
//! (O2), the creator and group as known at a join (G2) — so each keeps its
//! versions.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{Emit, Pair, Time, latest_at};
use crate::wire::events::{ContentType, GroupCriteria, Risk};
use crate::wire::outcomes::{OutcomeData, SellerViolationNotice};
use crate::wire::values::{
    CampaignId, CreatorId, EventId, GroupId, OrderId, ProductId, Rate, RefundableId, SellerId, ViolationId,
};

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
    /// evidently existed when it was sold (decision 2).
    pub fn at(&self, t: Time) -> Option<&ProductVersion> {
        self.versions
            .iter()
            .rev()
            .find(|v| v.time <= t)
            .or_else(|| self.versions.first())
    }

    /// Records a version in time order (equal times: arrival order).
    pub fn record(&mut self, version: ProductVersion) {
        let at = self.versions.partition_point(|v| v.time <= version.time);
        self.versions.insert(at, version);
    }

    /// From when orders take a version stamped `t` as current: from `t`, or
    /// from the beginning if no version is stamped at or before `t` — an
    /// order before a product's first version takes that first version
    /// (decision 2). `None`: from the beginning.
    pub fn current_from(&self, t: Time) -> Option<Time> {
        self.versions.iter().any(|v| v.time <= t).then_some(t)
    }
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

fn within<T: PartialOrd + Copy>(value: T, min: Option<T>, max: Option<T>) -> bool {
    min.is_none_or(|m| m <= value) && max.is_none_or(|m| value <= m)
}

impl CreatorProfile {
    /// G2: the creator matches a group when every criterion present holds.
    pub fn matches(&self, criteria: &GroupCriteria) -> bool {
        criteria
            .categories
            .as_ref()
            .is_none_or(|cs| cs.iter().any(|c| self.categories.contains(c)))
            && within(self.level, criteria.level_min, criteria.level_max)
            && within(self.followers, criteria.followers_min, criteria.followers_max)
            && criteria
                .content_types
                .as_ref()
                .is_none_or(|ts| ts.iter().any(|t| self.content_types.contains(t)))
            && within(
                self.avg_commission_rate,
                criteria.avg_commission_rate_min,
                criteria.avg_commission_rate_max,
            )
            && criteria
                .max_fake_order_risk
                .is_none_or(|max| self.fake_order_risk <= max)
    }
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
    /// The `creator.violation_reported` event (for explanations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<EventId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guideline: Option<String>,
}

impl Violation {
    /// V2: one `seller.violation_notice` per (violation, seller), whichever
    /// event causes it.
    pub fn notify(&mut self, creator: &CreatorId, seller: &SellerId, out: &mut impl Emit) {
        if !self.notified.insert(seller.clone()) {
            return;
        }
        out.emit(
            &format!("{seller}/{}", self.id),
            OutcomeData::SellerViolationNotice(SellerViolationNotice {
                seller_id: seller.clone(),
                creator_id: creator.clone(),
                violation_id: self.id.clone(),
                options: ["pause", "dispute", "none"],
            }),
        );
    }
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
    /// The `creator.platform_blocked` event and its reason (for explanations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block: Option<(EventId, String)>,
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
            block: None,
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

    /// Campaigns the creator joined, optionally only those of one seller.
    pub fn campaigns<'a>(&'a self, seller: Option<&'a SellerId>) -> impl Iterator<Item = &'a CampaignId> + 'a {
        self.participations
            .iter()
            .filter(move |(_, s)| seller.is_none_or(|seller| s == seller))
            .map(|(campaign, _)| campaign)
    }

    /// Open refundable-sample windows for a product covering `t` (S3).
    pub fn windows_at<'a>(&'a self, product: &'a ProductId, t: Time) -> impl Iterator<Item = &'a RefundWindow> + 'a {
        self.refund_windows
            .iter()
            .filter(move |w| &w.product_id == product && w.start <= t && t < w.end)
    }

    /// V2 for a connection that arrived after violations later than it: a
    /// partnership or an accepted participation of `pair`'s seller since
    /// `since`. The seller was connected with the creator when each violation
    /// at or after `since` happened (a fact at the same instant counts as
    /// earlier, decision 1), unless the pair was paused by then, so it gets
    /// the notice it would have had in time order — once.
    pub fn notify_late_connection(&mut self, pair: &Pair, since: Time, out: &mut impl Emit) {
        let seller = &pair.id.0;
        let creator = self.id.clone();
        for violation in self.violations.iter_mut() {
            if violation.time >= since && !pair.paused_by(violation.time) {
                violation.notify(&creator, seller, out);
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;

    fn creator() -> CreatorProfile {
        CreatorProfile {
            level: 4,
            followers: 5_000,
            categories: vec!["beauty".into(), "home".into()],
            content_types: vec![ContentType::Video],
            avg_commission_rate: Rate::new(Decimal::new(12, 2)).unwrap_or_default(),
            fake_order_risk: Risk::Medium,
        }
    }

    #[test]
    fn an_empty_group_matches_everyone() {
        assert!(creator().matches(&GroupCriteria::default()));
    }

    #[test]
    fn every_present_criterion_must_hold() {
        let c = creator();
        let g = |f: fn(&mut GroupCriteria)| {
            let mut g = GroupCriteria::default();
            f(&mut g);
            c.matches(&g)
        };
        assert!(g(|g| g.categories = Some(vec!["home".into(), "toys".into()])));
        assert!(!g(|g| g.categories = Some(vec!["toys".into()])));
        assert!(g(|g| g.level_min = Some(4)));
        assert!(g(|g| g.level_max = Some(4)));
        assert!(!g(|g| g.level_min = Some(5)));
        assert!(!g(|g| g.followers_max = Some(4_999)));
        assert!(!g(|g| g.content_types = Some(vec![ContentType::Live])));
        assert!(g(|g| g.max_fake_order_risk = Some(Risk::Medium)));
        assert!(!g(|g| g.max_fake_order_risk = Some(Risk::Low)));
        assert!(!g(|g| g.avg_commission_rate_min = Rate::new(Decimal::new(13, 2))));
        assert!(g(|g| g.avg_commission_rate_max = Rate::new(Decimal::new(12, 2))));
    }
}
