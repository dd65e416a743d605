//! Orders, their commissions, and posted content (O1–O8, V1–V6 as they
//! touch one commission).
//!
//! A commission's life is a small state machine: pending → payable (O7,
//! V3) or cancelled (O6, V1, V4, V6), amounts following refunds (O6) and
//! clawed back once paid out. Every transition is a method of [`Order`]
//! that announces itself; the rules decide *which* orders a fact touches.

use std::collections::BTreeSet;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{Emit, Time};
use crate::wire::events::{ContentType, OrderChannel};
use crate::wire::outcomes::{
    AdjustReason, CancelReason, CommissionAdjusted, CommissionCancelled, CommissionClawback, CommissionPayable,
    OutcomeData, PayableReason, RateInForce, RateSource,
};
use crate::wire::values::{
    CampaignId, ContentId, CreatorId, Currency, DisputeId, EventId, OrderId, ProductId, Rate, SellerId,
};

/// One step of O2 as it was evaluated for an order: whether it held, and
/// the fact that made it so. Written by the rule itself
/// (`commission::decide_rate`), so the explanation cannot disagree with
/// the decision.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// 1–7, as numbered in O2.
    pub step: u8,
    /// The rate source this step gives when it holds.
    pub rule: RateSource,
    pub holds: bool,
    /// The step that decided (the first that holds).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub decisive: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fact: Option<Fact>,
    /// Step 3: every campaign of the seller the creator joined, and whether
    /// it covered the order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub campaigns: Vec<CampaignCheck>,
}

/// A fact a rule step read: what it is (`platform_blocked`, `paused`,
/// `participation`, `partnership`, `violation`, `product_version`), its id
/// when it has one, when it happened, and the rate it carries.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fact {
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<Time>,
    /// A rate the fact carries; `None` with `rate_set` = a product not on
    /// open collaboration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<Rate>,
    /// Step 3: when the creator joined the chosen campaign.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub joined_at: Option<Time>,
}

/// O2's ladder: the rate source of each step (1–7), in order.
const O2_STEPS: [RateSource; 7] = [
    RateSource::PlatformBlocked,
    RateSource::ConnectionPaused,
    RateSource::Campaign,
    RateSource::Partnership,
    RateSource::Demoted,
    RateSource::OpenCollab,
    RateSource::None,
];

impl Step {
    /// The seven steps of O2 from what each evaluated to, in O2's order:
    /// whether it held, and the fact that made it so. None is decisive yet.
    pub fn ladder(evaluated: [(bool, Option<Fact>); 7]) -> Vec<Step> {
        (1u8..)
            .zip(O2_STEPS)
            .zip(evaluated)
            .map(|((step, rule), (holds, fact))| Step {
                step,
                rule,
                holds,
                decisive: false,
                fact,
                campaigns: Vec::new(),
            })
            .collect()
    }

    /// O2's step `n` when it says nothing beyond its number: steps 1–6 did
    /// not hold, step 7 ("none") always holds; no fact, not decisive.
    fn plain(n: u8) -> Option<Step> {
        let rule = *O2_STEPS.get(usize::from(n).checked_sub(1)?)?;
        Some(Step {
            step: n,
            rule,
            holds: n == 7,
            decisive: false,
            fact: None,
            campaigns: Vec::new(),
        })
    }

    fn is_plain(&self) -> bool {
        Step::plain(self.step).as_ref() == Some(self)
    }
}

impl Fact {
    pub fn new(kind: &str, id: Option<String>, time: Option<Time>) -> Self {
        Self {
            kind: kind.to_owned(),
            id,
            time,
            rate: None,
            joined_at: None,
        }
    }
}

/// O2.3 for one campaign: whether it covered the order, else why not
/// (`product_not_in_campaign`, `joined_after_order`, `not_started`,
/// `ended`, `recalled`), and the rate it offered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CampaignCheck {
    pub campaign_id: CampaignId,
    pub covers: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why_not: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<Rate>,
    pub joined_at: Time,
}

/// O4 as evaluated: the shop-ads rate and where it came from (`campaign`,
/// `open_collab`, `none`, `not_via_shop_ads`, `not_ads_authorized`, or the
/// O2 source that zeroes it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShopAdsWhy {
    pub rate: Rate,
    pub from: String,
}

/// One O2/O4 decision of an order's commission: at accrual, and again for
/// each late fact that re-decided it (O9).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RateRecord {
    /// The event being applied when it was decided.
    pub event_id: EventId,
    /// That event's business time.
    pub decided_at: Time,
    pub rate: Rate,
    pub source: RateSource,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<CampaignId>,
    pub steps: Vec<Step>,
    pub shop_ads: ShopAdsWhy,
}

impl RateRecord {
    /// The record as an order keeps it: without the steps that say nothing
    /// beyond their number (usually five of the seven). Orders are the bulk
    /// of the state and every change writes the whole document again; the
    /// plain steps were a third of it.
    pub fn compact(mut self) -> Self {
        self.steps.retain(|s| !s.is_plain());
        self
    }

    /// The record with all seven steps of O2, as evaluated: what
    /// [`RateRecord::compact`] left out put back in its place.
    pub fn expanded(&self) -> RateRecord {
        let mut steps = Vec::with_capacity(7);
        let mut kept = self.steps.iter().peekable();
        for n in 1..=7 {
            match kept.peek() {
                Some(s) if s.step == n => steps.extend(kept.next().cloned()),
                _ => steps.extend(Step::plain(n)),
            }
        }
        // Anything out of the numbering (not written by O2) stays as it was.
        steps.extend(kept.cloned());
        RateRecord { steps, ..self.clone() }
    }
}

/// One transition of a commission's life, with the event that caused it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LifeEntry {
    /// `accrued`, `adjusted`, `payable`, `cancelled`, `clawback`, `closed`.
    pub what: String,
    pub event_id: EventId,
    /// Business time of the causing event.
    pub time: Time,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Commission amount after the transition (the amount taken back, for a clawback).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shop_ads_amount: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta: Option<Decimal>,
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

    pub fn is_pending(&self) -> bool {
        self.state == CommissionState::Pending
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
    /// Business time of the latest refund (H3: when the order last changed
    /// a GMV score, for an order that enters a campaign late, O9).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_refund_at: Option<Time>,
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
    /// Why the commission has its rate: each O2/O4 decision as evaluated.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub decisions: Vec<RateRecord>,
    /// The commission's life, in the order it happened.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub life: Vec<LifeEntry>,
}

impl Order {
    pub fn new(id: OrderId) -> Self {
        Self {
            id,
            paid: None,
            refunded: Decimal::ZERO,
            last_refund_at: None,
            cancelled_at: None,
            settled_at: None,
            early_facts: Vec::new(),
            awaiting_product: false,
            commission: None,
            decisions: Vec::new(),
            life: Vec::new(),
        }
    }

    /// Records a transition of the commission's life, caused by the event
    /// `out` is applying.
    fn record(&mut self, what: &str, reason: Option<&str>, delta: Option<Decimal>, out: &impl Emit) {
        let (amount, shop_ads_amount) = match &self.commission {
            Some(c) => (Some(c.amount), Some(c.shop_ads_amount)),
            None => (None, None),
        };
        self.life.push(LifeEntry {
            what: what.to_owned(),
            event_id: out.cause().clone(),
            time: out.now(),
            reason: reason.map(str::to_owned),
            amount,
            shop_ads_amount,
            delta,
        });
    }

    /// Records an O2/O4 decision and, for the first one, the accrual.
    pub fn record_decision(&mut self, decision: RateRecord, out: &impl Emit) {
        let first = self.decisions.is_empty();
        self.decisions.push(decision.compact());
        if first {
            self.record("accrued", None, None, out);
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

    /// The creator it is attributed to (O1), if any.
    pub fn creator(&self) -> Option<&CreatorId> {
        self.paid.as_ref().and_then(|p| p.creator_id.as_ref())
    }

    /// Paid by this seller–creator pair.
    pub fn of_pair(&self, seller: &SellerId, creator: &CreatorId) -> bool {
        self.paid
            .as_ref()
            .is_some_and(|p| &p.seller_id == seller && p.creator_id.as_ref() == Some(creator))
    }

    /// The commission while it is pending (accrued, not payable, not cancelled).
    pub fn pending(&self) -> Option<&Commission> {
        self.commission.as_ref().filter(|c| c.is_pending())
    }

    fn set_amounts(&mut self, amount: Decimal, shop_ads_amount: Decimal) {
        if let Some(c) = self.commission.as_mut() {
            c.amount = amount;
            c.shop_ads_amount = shop_ads_amount;
        }
    }

    fn set_state(&mut self, state: CommissionState) {
        if let Some(c) = self.commission.as_mut() {
            c.state = state;
        }
    }

    /// Announces the commission's amounts after a change of `delta`.
    pub fn announce_adjusted(&mut self, delta: Decimal, reason: AdjustReason, out: &mut impl Emit) {
        let (Some(c), Some(paid)) = (&self.commission, &self.paid) else {
            return;
        };
        let decision = (reason == AdjustReason::RateCorrected).then(|| RateInForce {
            rate: c.rate,
            rate_source: c.source,
            campaign_id: c.campaign_id.clone(),
            shop_ads_rate: c.shop_ads_rate,
        });
        out.emit(
            &c.id,
            OutcomeData::CommissionAdjusted(CommissionAdjusted {
                commission_id: c.id.clone(),
                order_id: self.id.clone(),
                amount: c.amount,
                shop_ads_amount: c.shop_ads_amount,
                delta,
                currency: paid.currency.clone(),
                base_amount: self.base(),
                reason,
                decision,
            }),
        );
        self.record("adjusted", Some(reason.code()), Some(delta), out);
    }

    /// O9: a pending commission takes the decision now in force — rate,
    /// source, campaign, shop-ads rate — with its amounts on the current
    /// base, announced with `rate_corrected` even when the amounts stay the
    /// same. Returns the campaign it counted for before, `Some` only when
    /// something changed (the campaign may be the same).
    pub fn redecide(
        &mut self,
        rate: Rate,
        source: RateSource,
        campaign_id: Option<CampaignId>,
        shop_ads_rate: Rate,
        out: &mut impl Emit,
    ) -> Option<Option<CampaignId>> {
        let base = self.base();
        let c = self.commission.as_mut().filter(|c| c.is_pending())?;
        if (c.rate, c.source, &c.campaign_id, c.shop_ads_rate) == (rate, source, &campaign_id, shop_ads_rate) {
            return None;
        }
        let before = c.total();
        let previous = std::mem::replace(&mut c.campaign_id, campaign_id);
        c.rate = rate;
        c.source = source;
        c.shop_ads_rate = shop_ads_rate;
        c.amount = rate.apply(base);
        c.shop_ads_amount = shop_ads_rate.apply(base);
        let delta = c.total() - before;
        self.announce_adjusted(delta, AdjustReason::RateCorrected, out);
        Some(previous)
    }

    /// O7 (and V3): the commission becomes payable; what is due is recorded.
    pub fn make_payable(&mut self, reason: PayableReason, out: &mut impl Emit) {
        let (Some(c), Some(paid)) = (self.commission.as_mut(), &self.paid) else {
            return;
        };
        let Some(creator_id) = paid.creator_id.clone() else {
            return;
        };
        c.state = CommissionState::Payable;
        c.paid_out = c.total();
        out.emit(
            &c.id,
            OutcomeData::CommissionPayable(CommissionPayable {
                commission_id: c.id.clone(),
                order_id: self.id.clone(),
                creator_id,
                amount: c.amount,
                shop_ads_amount: c.shop_ads_amount,
                currency: paid.currency.clone(),
                reason,
            }),
        );
        self.record("payable", Some(reason.code()), None, out);
    }

    pub fn cancel(&mut self, reason: CancelReason, out: &mut impl Emit) {
        let Some(c) = self.commission.as_mut() else {
            return;
        };
        c.state = CommissionState::Cancelled(reason);
        out.emit(
            &c.id,
            OutcomeData::CommissionCancelled(CommissionCancelled {
                commission_id: c.id.clone(),
                order_id: self.id.clone(),
                reason,
            }),
        );
        self.record("cancelled", Some(reason.code()), None, out);
    }

    /// O6: takes back `owed` of what was paid out.
    pub fn clawback(&mut self, owed: Decimal, out: &mut impl Emit) {
        let (Some(c), Some(paid)) = (self.commission.as_mut(), &self.paid) else {
            return;
        };
        c.paid_out -= owed;
        if owed <= Decimal::ZERO {
            return;
        }
        out.emit(
            &c.id,
            OutcomeData::CommissionClawback(CommissionClawback {
                commission_id: c.id.clone(),
                order_id: self.id.clone(),
                amount: owed,
                currency: paid.currency.clone(),
            }),
        );
        self.record("clawback", None, Some(-owed), out);
    }

    /// Cancels the commission if it is still pending.
    pub fn cancel_pending(&mut self, reason: CancelReason, out: &mut impl Emit) {
        if self.pending().is_some() {
            self.cancel(reason, out);
        }
    }

    /// O7: settlement makes a commission payable unless a dispute holds it.
    pub fn settle(&mut self, out: &mut impl Emit) {
        let Some(c) = self.pending() else {
            return;
        };
        if !c.held_by.is_empty() {
            return;
        }
        if c.total() > Decimal::ZERO {
            self.make_payable(PayableReason::Settled, out);
        } else {
            // Nothing is due: the commission's life ends here.
            self.set_state(CommissionState::Closed);
            self.record("closed", Some("settled"), None, out);
        }
    }

    /// O6 for `order.cancelled`: a pending commission is cancelled, a payable
    /// one clawed back in full.
    pub fn order_cancelled(&mut self, out: &mut impl Emit) {
        match self.commission.as_ref().map(|c| (c.state, c.paid_out)) {
            Some((CommissionState::Pending, _)) => self.cancel(CancelReason::OrderCancelled, out),
            Some((CommissionState::Payable, owed)) => {
                self.clawback(owed, out);
                self.set_state(CommissionState::Cancelled(CancelReason::OrderCancelled));
            }
            _ => {}
        }
    }

    /// O6: amounts follow the base; a pending commission is adjusted (or
    /// cancelled at 0), a payable one is clawed back by what is now owed.
    pub fn recompute_after_refund(&mut self, out: &mut impl Emit) {
        let base = self.base();
        let Some(c) = self.commission.clone() else {
            return;
        };
        let amount = c.rate.apply(base);
        let shop_ads_amount = c.shop_ads_rate.apply(base);
        match c.state {
            CommissionState::Pending if base.is_zero() => self.cancel(CancelReason::OrderRefunded, out),
            CommissionState::Pending => {
                self.set_amounts(amount, shop_ads_amount);
                self.announce_adjusted(amount + shop_ads_amount - c.total(), AdjustReason::OrderRefunded, out);
            }
            CommissionState::Payable => {
                self.set_amounts(amount, shop_ads_amount);
                let owed = c.paid_out - (amount + shop_ads_amount);
                if owed > Decimal::ZERO {
                    self.clawback(owed, out);
                }
            }
            CommissionState::Cancelled(_) | CommissionState::Closed => {}
        }
    }

    /// O4 for content that arrived after the order: the shop-ads rate now in
    /// force, applied to a pending commission. Returns whether it changed.
    pub fn set_shop_ads_rate(&mut self, rate: Rate, out: &mut impl Emit) -> bool {
        let Some(c) = self.pending().cloned() else {
            return false;
        };
        if rate == c.shop_ads_rate {
            return false;
        }
        let shop_ads_amount = rate.apply(self.base());
        if let Some(c) = self.commission.as_mut() {
            c.shop_ads_rate = rate;
        }
        self.set_amounts(c.amount, shop_ads_amount);
        self.announce_adjusted(
            shop_ads_amount - c.shop_ads_amount,
            AdjustReason::ContentAuthorized,
            out,
        );
        true
    }

    /// V1 for one order: a pending open-collaboration commission is cancelled.
    pub fn on_violation(&mut self, out: &mut impl Emit) {
        if self.pending().is_some_and(|c| c.source == RateSource::OpenCollab) {
            self.cancel(CancelReason::Violation, out);
        }
    }

    /// V3 for one order: a pending partnership or campaign commission with the
    /// seller is paid out at once (unless a dispute holds it).
    pub fn on_pause(&mut self, out: &mut impl Emit) {
        let eligible = self.pending().is_some_and(|c| {
            matches!(c.source, RateSource::Partnership | RateSource::Campaign)
                && c.held_by.is_empty()
                && c.total() > Decimal::ZERO
        });
        if eligible {
            self.make_payable(PayableReason::ConnectionPaused, out);
        }
    }

    /// V3 / O2.2 for an order paid at or after a pause that arrived after it:
    /// the order earns 0 (`connection_paused`), as if the pause had been known
    /// when it was accrued, so its pending amounts are adjusted to 0.
    pub fn on_pause_after_order(&mut self, out: &mut impl Emit) {
        let Some(before) = self.pending().cloned() else {
            return;
        };
        if let Some(c) = self.commission.as_mut() {
            c.rate = Rate::ZERO;
            c.source = RateSource::ConnectionPaused;
            c.campaign_id = None;
            c.shop_ads_rate = Rate::ZERO;
        }
        self.set_amounts(Decimal::ZERO, Decimal::ZERO);
        if before.total() > Decimal::ZERO {
            self.announce_adjusted(-before.total(), AdjustReason::ConnectionPaused, out);
        }
    }

    /// V4: an open dispute holds a pending commission.
    pub fn hold(&mut self, dispute: &DisputeId) {
        if let Some(c) = self.commission.as_mut().filter(|c| c.is_pending()) {
            c.held_by.insert(dispute.clone());
        }
    }

    /// V4: a resolved dispute cancels the listed orders' commissions and
    /// releases the others: payable now if already settled, or if the pair's
    /// connection was paused by the resolution (`paused`) — V3 pays a paused
    /// pair's pending commissions at once, and the dispute only held them back.
    pub fn on_dispute_resolved(&mut self, dispute: &DisputeId, listed: bool, paused: bool, out: &mut impl Emit) {
        let Some(c) = self.commission.as_mut() else {
            return;
        };
        c.held_by.remove(dispute);
        let (state, paid_out) = (c.state, c.paid_out);
        if listed {
            match state {
                CommissionState::Pending => self.cancel(CancelReason::Dispute, out),
                CommissionState::Payable => {
                    self.clawback(paid_out, out);
                    self.set_state(CommissionState::Cancelled(CancelReason::Dispute));
                }
                CommissionState::Cancelled(_) | CommissionState::Closed => {}
            }
        } else if self.settled_at.is_some() {
            self.settle(out);
        } else if paused {
            self.on_pause(out);
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every pattern O2 can produce (each step holding or not, with or
    /// without a fact, the first that holds decisive) survives being stored
    /// compactly and read back whole.
    #[test]
    fn a_compact_record_expands_to_the_steps_as_evaluated() {
        let time = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
        for pattern in 0u32..(1 << 12) {
            let mut steps: Vec<Step> = (1..=7u8)
                .filter_map(Step::plain)
                .map(|mut s| {
                    if s.step < 7 {
                        s.holds = pattern & (1 << (s.step - 1)) != 0;
                    }
                    if s.step < 7 && pattern & (1 << (s.step + 5)) != 0 {
                        s.fact = Some(Fact::new("violation", None, Some(time)));
                    }
                    s
                })
                .collect();
            let decisive = steps.iter().position(|s| s.holds).unwrap_or(6);
            steps[decisive].decisive = true;
            let record = RateRecord {
                event_id: EventId::from("e"),
                decided_at: time,
                rate: Rate::ZERO,
                source: steps[decisive].rule,
                campaign_id: None,
                steps,
                shop_ads: ShopAdsWhy {
                    rate: Rate::ZERO,
                    from: "none".into(),
                },
            };
            let compact = record.clone().compact();
            assert!(compact.steps.len() <= record.steps.len());
            assert_eq!(compact.expanded(), record, "pattern {pattern:#b}");
        }
    }
}
