//! Orders and commissions (rules O1–O8).
//!
//! An order's commission is decided once, when `order.paid` is applied and
//! its product is known: the rate by O2 as of the order's time
//! ([`decide_rate`], a pure function of what it names), the shop-ads rate by
//! O4, the amounts by O5. After that the commission only moves through its
//! life — adjusted, cancelled, payable, clawed back — by the methods of
//! [`Order`].
//!
//! Arrival order (O8): facts about an order that arrive before it can be
//! applied are kept on the order and replayed in time order once it is.
//! Enforcement facts already known with a time after the order's (a
//! violation, a pause, a block, a dispute) are replayed with them, so a late
//! order ends as if it had arrived in order.
//!
//! Whenever an order's base changes (accrued, refunded, cancelled) other
//! families react — task progress, challenge scores, refundable samples.
//! This module does not know them: it calls the [`Reaction`] it is given,
//! which the `cascade` module wires.

use std::sync::Arc;

use super::ids;
use super::model::{
    Campaign, CampaignCheck, CampaignStatus, Commission, CommissionState, Content, Creator, Dispute, Emit, Fact, Order,
    OrderFact, PaidOrder, Pair, Participation, Product, RateRecord, ShopAdsWhy, Step, Time,
};
use super::workspace::{Plan, Workspace};
use crate::wire::events::{ContentPosted, OrderPaid, OrderRef, OrderRefunded};
use crate::wire::outcomes::{CancelReason, CommissionAccrued, OutcomeData, RateSource};
use crate::wire::values::{CampaignId, ContentId, CreatorId, DisputeId, OrderId, ProductId, Rate, SellerId};

/// What the other families do when an order's base changed at a business
/// time (wired by the cascade).
pub type Reaction = fn(&mut Workspace<'_>, &Order, Time);

/// What O2 decided for one order, with the steps as evaluated.
#[derive(Clone, Debug, PartialEq)]
pub struct RateDecision {
    pub rate: Rate,
    pub source: RateSource,
    pub campaign_id: Option<CampaignId>,
    /// The shop-ads rate of the chosen campaign, if it sets one (O4).
    pub campaign_shop_ads_rate: Option<Rate>,
    /// Every step of O2 as evaluated, the decisive one marked: the
    /// explanation recorded on the order.
    pub steps: Vec<Step>,
}

/// What O2 reads about an attributed order.
pub struct RateInputs<'a> {
    pub creator: &'a Creator,
    pub pair: &'a Pair,
    pub product: &'a Product,
    /// The creator's campaigns with the order's seller, with the
    /// participation in each.
    pub campaigns: &'a [(Arc<Campaign>, Arc<Participation>)],
}

/// O2: the rate of an attributed order, the first rule that applies. Every
/// step is evaluated and kept with the fact that decided it, so the
/// explanation is the decision itself.
pub fn decide_rate(paid: &PaidOrder, inputs: &RateInputs<'_>) -> RateDecision {
    let t = paid.time;
    let creator = inputs.creator;
    let blocked = creator.blocked_by(t);
    let block_fact = creator.blocked_at.map(|b| Fact::new("platform_blocked", None, Some(b)));
    let paused = inputs.pair.paused_by(t);
    let pause_fact = inputs.pair.paused_at.map(|p| Fact::new("paused", None, Some(p)));
    let version = inputs.product.at(t);
    let open_rate = version.and_then(|v| v.open_collab_rate);
    let (best, checks) = best_campaign(paid, inputs.campaigns, open_rate);
    let partnership = inputs.pair.partnership_at(t);
    let demoted = creator.demoted_by(t);
    let violation = creator.violations.iter().find(|v| v.time <= t);

    let campaign_fact = best.as_ref().map(|(rate, id, joined_at, _)| Fact {
        rate: Some(*rate),
        joined_at: Some(*joined_at),
        ..Fact::new("participation", Some(id.to_string()), None)
    });
    let mut steps = Step::ladder([
        // 1 platform blocked, 2 connection paused
        (blocked, block_fact),
        (paused, pause_fact),
        // 3 campaign
        (best.is_some(), campaign_fact),
        // 4 partnership
        (
            partnership.is_some(),
            partnership.map(|(at, rate)| Fact {
                rate: Some(rate),
                ..Fact::new("partnership", None, Some(at))
            }),
        ),
        // 5 demoted
        (
            demoted,
            violation.map(|v| Fact::new("violation", Some(v.id.to_string()), Some(v.time))),
        ),
        // 6 open collaboration
        (
            open_rate.is_some(),
            version.map(|v| Fact {
                rate: v.open_collab_rate,
                ..Fact::new("product_version", Some(paid.product_id.to_string()), Some(v.time))
            }),
        ),
        // 7 none
        (true, None),
    ]);
    // Step 3 also lists every campaign it checked.
    steps[2].campaigns = checks;
    let decisive = steps.iter().position(|s| s.holds).unwrap_or(steps.len() - 1);
    steps[decisive].decisive = true;
    let (rate, source, campaign_id, campaign_shop_ads_rate) = match decisive {
        0 => (Rate::ZERO, RateSource::PlatformBlocked, None, None),
        1 => (Rate::ZERO, RateSource::ConnectionPaused, None, None),
        2 => match best {
            Some((rate, id, _, shop_ads)) => (rate, RateSource::Campaign, Some(id), shop_ads),
            None => (Rate::ZERO, RateSource::None, None, None),
        },
        3 => (
            partnership.map(|(_, r)| r).unwrap_or(Rate::ZERO),
            RateSource::Partnership,
            None,
            None,
        ),
        4 => (Rate::ZERO, RateSource::Demoted, None, None),
        5 => (open_rate.unwrap_or(Rate::ZERO), RateSource::OpenCollab, None, None),
        _ => (Rate::ZERO, RateSource::None, None, None),
    };
    RateDecision {
        rate,
        source,
        campaign_id,
        campaign_shop_ads_rate,
        steps,
    }
}

/// The campaign O2.3 chose: its rate, id, when the creator joined, its
/// shop-ads rate.
type Chosen = (Rate, CampaignId, Time, Option<Rate>);

/// O2.3: among the creator's campaigns with this seller that cover the order,
/// the highest rate; ties go to the earliest start, then the campaign id.
/// Returns the chosen one (rate, campaign, joined at, shop-ads rate) and
/// the check of every campaign.
fn best_campaign(
    paid: &PaidOrder,
    campaigns: &[(Arc<Campaign>, Arc<Participation>)],
    open_rate: Option<Rate>,
) -> (Option<Chosen>, Vec<CampaignCheck>) {
    let t = paid.time;
    let mut best: Option<(Rate, Time, CampaignId, Option<Rate>, Time)> = None;
    let mut checks = Vec::with_capacity(campaigns.len());
    for (campaign, participation) in campaigns {
        let Some(product) = campaign.product(&paid.product_id) else {
            checks.push(CampaignCheck {
                campaign_id: campaign.id.clone(),
                covers: false,
                why_not: Some("product_not_in_campaign".into()),
                rate: None,
                joined_at: participation.joined_at,
            });
            continue;
        };
        let rate = product.commission_rate.or(open_rate).unwrap_or(Rate::ZERO);
        let why_not = if participation.joined_at > t {
            Some("joined_after_order")
        } else if campaign.starts_at > t {
            Some("not_started")
        } else if t >= campaign.ends_at {
            Some("ended")
        } else if campaign.status == CampaignStatus::Recalled {
            Some("recalled")
        } else {
            None
        };
        checks.push(CampaignCheck {
            campaign_id: campaign.id.clone(),
            covers: why_not.is_none(),
            why_not: why_not.map(str::to_owned),
            rate: Some(rate),
            joined_at: participation.joined_at,
        });
        if why_not.is_some() {
            continue;
        }
        let better = match &best {
            None => true,
            Some((r, s, id, ..)) => rate > *r || (rate == *r && (campaign.starts_at, &campaign.id) < (*s, id)),
        };
        if better {
            best = Some((
                rate,
                campaign.starts_at,
                campaign.id.clone(),
                product.shop_ads_rate,
                participation.joined_at,
            ));
        }
    }
    (
        best.map(|(rate, _, id, shop_ads, joined)| (rate, id, joined, shop_ads)),
        checks,
    )
}

/// O4: the shop-ads rate, given whether the order's content was posted with
/// ads authorized.
pub fn shop_ads_rate(
    decision: &RateDecision,
    product_rate: Option<Rate>,
    via_shop_ads: bool,
    authorized: bool,
) -> Rate {
    shop_ads_decision(decision, product_rate, via_shop_ads, authorized).rate
}

/// O4 with where the rate came from (the explanation recorded on the order).
pub fn shop_ads_decision(
    decision: &RateDecision,
    product_rate: Option<Rate>,
    via_shop_ads: bool,
    authorized: bool,
) -> ShopAdsWhy {
    let why = |rate: Rate, from: &str| ShopAdsWhy {
        rate,
        from: from.to_owned(),
    };
    if !via_shop_ads {
        return why(Rate::ZERO, "not_via_shop_ads");
    }
    if !authorized {
        return why(Rate::ZERO, "not_ads_authorized");
    }
    match decision.source {
        RateSource::PlatformBlocked | RateSource::ConnectionPaused | RateSource::Demoted => {
            why(Rate::ZERO, decision.source.code())
        }
        _ => match (decision.campaign_shop_ads_rate, product_rate) {
            (Some(rate), _) => why(rate, "campaign"),
            (None, Some(rate)) => why(rate, "open_collab"),
            (None, None) => why(Rate::ZERO, "none"),
        },
    }
}

/// The record of a decision, as the order keeps it.
fn record_of(ws: &Workspace<'_>, decision: &RateDecision, shop_ads: ShopAdsWhy) -> RateRecord {
    RateRecord {
        event_id: ws.cause().clone(),
        decided_at: ws.now(),
        rate: decision.rate,
        source: decision.source,
        campaign_id: decision.campaign_id.clone(),
        steps: decision.steps.clone(),
        shop_ads,
    }
}

/// The creator's campaigns with a seller, each with its participation.
fn campaigns_with(
    ws: &mut Workspace<'_>,
    creator: &Creator,
    seller: &SellerId,
) -> Vec<(Arc<Campaign>, Arc<Participation>)> {
    let ids: Vec<CampaignId> = creator.campaigns(Some(seller)).cloned().collect();
    let keys: Vec<_> = ids.iter().map(|c| (c.clone(), creator.id.clone())).collect();
    let campaigns = ws.read_many::<Campaign>(&ids);
    let participations = ws.read_many::<Participation>(&keys);
    campaigns
        .into_iter()
        .zip(participations)
        .filter_map(|(c, p)| Some((c?, p?)))
        .collect()
}

/// The O2/O4 decision for a paid, attributed order on the current state:
/// the rate decision and the shop-ads rate, given whether the order's
/// content is known to be ads-authorized.
fn decision_now(
    ws: &mut Workspace<'_>,
    paid: &PaidOrder,
    creator: &CreatorId,
    product: &Product,
    authorized: bool,
) -> (RateDecision, ShopAdsWhy) {
    let creator = ws.read_or_new::<Creator>(creator);
    let pair = ws.read_or_new::<Pair>(&(paid.seller_id.clone(), creator.id.clone()));
    let campaigns = campaigns_with(ws, &creator, &paid.seller_id);
    let decision = decide_rate(
        paid,
        &RateInputs {
            creator: &creator,
            pair: &pair,
            product,
            campaigns: &campaigns,
        },
    );
    let shop_ads = shop_ads_decision(
        &decision,
        product.at(paid.time).and_then(|v| v.open_collab_shop_ads_rate),
        paid.via_shop_ads,
        authorized,
    );
    (decision, shop_ads)
}

/// O9: re-decides a pending commission by O2/O4/O5 on the current state —
/// a fact stamped at or before the order arrived after it was decided.
/// Returns the campaign the order counted for before, when the decision
/// changed (`commission.adjusted`, `rate_corrected`). A payable commission
/// is locked, a cancelled one stays cancelled: neither is re-decided.
pub fn redecide(ws: &mut Workspace<'_>, order: &mut Order) -> Option<Option<CampaignId>> {
    order.pending()?;
    let paid = order.paid.clone()?;
    let creator = paid.creator_id.clone()?;
    let product = ws.read_or_new::<Product>(&paid.product_id);
    let authorized = paid.via_shop_ads
        && paid.content_id.as_ref().is_some_and(|id| {
            ws.read::<Content>(id)
                .is_some_and(|c| c.posted.as_ref().is_some_and(|p| p.ads_authorized))
        });
    let (decision, shop_ads) = decision_now(ws, &paid, &creator, &product, authorized);
    let record = record_of(ws, &decision, shop_ads.clone());
    let changed = order.redecide(decision.rate, decision.source, decision.campaign_id, shop_ads.rate, ws);
    if changed.is_some() {
        order.record_decision(record, ws);
    }
    changed
}

/// Reads of re-deciding an order's pending commission (O9).
pub fn redecide_reads(plan: &mut Plan<'_>, order: &Order) {
    let Some(paid) = order.paid.as_ref().filter(|_| order.pending().is_some()) else {
        return;
    };
    if let Some(creator) = &paid.creator_id {
        let content = paid.content_id.as_ref().filter(|_| paid.via_shop_ads);
        accrual_reads(plan, &paid.seller_id, creator, &paid.product_id, content);
    }
}

/// Reads of deciding an attributed order's commission (O2–O5) and of
/// replaying what is known to have happened after it: the product, the
/// creator, the pair and its disputes, the creator's campaigns with the
/// seller and the participations, the order's content.
pub fn accrual_reads(
    plan: &mut Plan<'_>,
    seller: &SellerId,
    creator: &CreatorId,
    product: &ProductId,
    content: Option<&ContentId>,
) {
    plan.read::<Product>(product);
    if let Some(content) = content {
        plan.read::<Content>(content);
    }
    if let Some(pair) = plan.read::<Pair>(&(seller.clone(), creator.clone())) {
        plan.read_all::<Dispute>(&pair.disputes);
    }
    if let Some(c) = plan.read::<Creator>(creator) {
        for campaign in c.campaigns(Some(seller)) {
            plan.read::<Campaign>(campaign);
            plan.read::<Participation>(&(campaign.clone(), creator.clone()));
        }
    }
}

/// Reads: the order, and what deciding its commission reads.
pub fn order_paid_reads(plan: &mut Plan<'_>, e: &OrderPaid) {
    plan.read::<Order>(&e.order_id);
    plan.read::<Product>(&e.product_id);
    if let Some(creator) = &e.creator_id {
        let content = e.content_id.as_ref().filter(|_| e.via_shop_ads);
        accrual_reads(plan, &e.seller_id, creator, &e.product_id, content);
    }
}

pub fn order_paid(ws: &mut Workspace<'_>, e: &OrderPaid, react: Reaction) {
    let mut order = ws.get_or_new::<Order>(&e.order_id);
    if order.paid.is_some() {
        // O1: a known order paid again changes nothing.
        return;
    }
    order.paid = Some(PaidOrder {
        time: ws.now(),
        seller_id: e.seller_id.clone(),
        product_id: e.product_id.clone(),
        creator_id: e.creator_id.clone(),
        content_id: e.content_id.clone(),
        channel: e.content_type,
        via_shop_ads: e.via_shop_ads,
        quantity: e.quantity,
        amount: e.amount.value(),
        currency: e.currency.clone(),
    });
    if e.creator_id.is_none() {
        // O1: not attributed, so no commission; its later facts are only recorded.
        replay_early_facts(ws, &mut order, react);
        ws.put(order);
        return;
    }
    let product = ws.read_or_new::<Product>(&e.product_id);
    if !product.is_known() {
        // Kept until `product.updated` arrives (rules.md conventions).
        let mut product = Arc::unwrap_or_clone(product);
        order.awaiting_product = true;
        product.waiting_orders.push(order.id.clone());
        ws.put(product);
        ws.put(order);
        return;
    }
    accrue(ws, &mut order, &product, react);
    ws.put(order);
}

/// Reads of applying the orders that waited for a product: each order and
/// what deciding its commission reads.
pub fn waiting_orders_reads(plan: &mut Plan<'_>, waiting: &[OrderId]) {
    for order in plan.read_all::<Order>(waiting) {
        if let Some(paid) = order.paid.as_ref()
            && let Some(creator) = &paid.creator_id
        {
            let content = paid.content_id.as_ref().filter(|_| paid.via_shop_ads);
            accrual_reads(plan, &paid.seller_id, creator, &paid.product_id, content);
        }
    }
}

/// Applies orders that waited for their product.
pub fn product_arrived(ws: &mut Workspace<'_>, product: &Product, waiting: &[OrderId], react: Reaction) {
    for mut order in ws.get_many::<Order>(waiting) {
        if order.awaiting_product {
            accrue(ws, &mut order, product, react);
            ws.put(order);
        }
    }
}

/// Decides the commission of a paid, attributed order whose product is known
/// (O2–O5), then replays what is already known to have happened after it.
fn accrue(ws: &mut Workspace<'_>, order: &mut Order, product: &Product, react: Reaction) {
    let Some(paid) = order.paid.clone() else {
        return;
    };
    let Some(creator_id) = paid.creator_id.clone() else {
        return;
    };
    let t = paid.time;
    let creator = ws.read_or_new::<Creator>(&creator_id);
    let pair = ws.read_or_new::<Pair>(&(paid.seller_id.clone(), creator_id.clone()));
    let disputes: Vec<Arc<Dispute>> = ws.read_many::<Dispute>(&pair.disputes).into_iter().flatten().collect();
    let authorized = match (&paid.content_id, paid.via_shop_ads) {
        (Some(content_id), true) => {
            let mut content = ws.get_or_new::<Content>(content_id);
            match &content.posted {
                Some(posted) => posted.ads_authorized,
                None => {
                    // The content is not known yet: shop ads earn 0 until it
                    // arrives, then the commission is adjusted.
                    content.waiting_orders.push(order.id.clone());
                    ws.put(content);
                    false
                }
            }
        }
        _ => false,
    };
    let (decision, shop_ads) = decision_now(ws, &paid, &creator_id, product, authorized);
    let shop_rate = shop_ads.rate;
    let record = record_of(ws, &decision, shop_ads);
    let base = order.base();
    let commission = Commission {
        id: ids::commission_id(&order.id),
        rate: decision.rate,
        source: decision.source,
        campaign_id: decision.campaign_id.clone(),
        shop_ads_rate: shop_rate,
        amount: decision.rate.apply(base),
        shop_ads_amount: shop_rate.apply(base),
        state: CommissionState::Pending,
        held_by: disputes.iter().filter(|d| d.open_at(t)).map(|d| d.id.clone()).collect(),
        paid_out: rust_decimal::Decimal::ZERO,
    };
    ws.emit(
        &commission.id,
        OutcomeData::CommissionAccrued(CommissionAccrued {
            commission_id: commission.id.clone(),
            order_id: order.id.clone(),
            creator_id: creator_id.clone(),
            seller_id: paid.seller_id.clone(),
            product_id: paid.product_id.clone(),
            campaign_id: commission.campaign_id.clone(),
            rate: commission.rate,
            rate_source: commission.source,
            base_amount: base,
            amount: commission.amount,
            shop_ads_amount: commission.shop_ads_amount,
            shop_ads_rate: commission.shop_ads_rate,
            currency: paid.currency.clone(),
        }),
    );
    order.commission = Some(commission);
    order.record_decision(record, ws);
    order.awaiting_product = false;
    react(ws, order, t);

    // What is known to have happened after the order, in time order.
    let mut later: Vec<(Time, Later)> = std::mem::take(&mut order.early_facts)
        .into_iter()
        .map(|f| (f.time(), Later::Fact(f)))
        .collect();
    later.extend(
        creator
            .violations
            .iter()
            .filter(|v| v.time > t)
            .map(|v| (v.time, Later::Violation)),
    );
    later.extend(creator.blocked_at.filter(|b| *b > t).map(|b| (b, Later::Blocked)));
    later.extend(pair.paused_at.filter(|p| *p > t).map(|p| (p, Later::Paused)));
    for dispute in &disputes {
        if let Some((opened, ..)) = dispute.opened.as_ref().filter(|(o, ..)| *o > t) {
            later.push((*opened, Later::DisputeOpened(dispute.id.clone())));
        }
        if let Some((resolved, cancelled)) = dispute.resolved.as_ref().filter(|(r, _)| *r > t) {
            let listed = cancelled.contains(&order.id);
            let paused = pair.paused_by(*resolved);
            later.push((*resolved, Later::DisputeResolved(dispute.id.clone(), listed, paused)));
        }
    }
    later.sort_by_key(|(time, _)| *time);
    for (_, item) in later {
        match item {
            Later::Fact(fact) => apply_fact(ws, order, &fact, react),
            Later::Violation => order.on_violation(ws),
            Later::Blocked => order.cancel_pending(CancelReason::PlatformBlocked, ws),
            Later::Paused => order.on_pause(ws),
            Later::DisputeOpened(id) => order.hold(&id),
            Later::DisputeResolved(id, listed, paused) => order.on_dispute_resolved(&id, listed, paused, ws),
        }
    }
}

enum Later {
    Fact(OrderFact),
    Violation,
    Blocked,
    Paused,
    DisputeOpened(DisputeId),
    /// Listed; the pair paused by the resolution.
    DisputeResolved(DisputeId, bool, bool),
}

fn replay_early_facts(ws: &mut Workspace<'_>, order: &mut Order, react: Reaction) {
    let mut facts = std::mem::take(&mut order.early_facts);
    facts.sort_by_key(OrderFact::time);
    for fact in &facts {
        apply_fact(ws, order, fact, react);
    }
}

/// Records a fact about an order: applied now if the order is, else kept.
fn record_fact(ws: &mut Workspace<'_>, order: &mut Order, fact: OrderFact, react: Reaction) {
    let seen = match &fact {
        OrderFact::Refunded { .. } => false,
        OrderFact::Cancelled { .. } => {
            order.cancelled_at.is_some()
                || order
                    .early_facts
                    .iter()
                    .any(|f| matches!(f, OrderFact::Cancelled { .. }))
        }
        OrderFact::Settled { .. } => {
            order.settled_at.is_some() || order.early_facts.iter().any(|f| matches!(f, OrderFact::Settled { .. }))
        }
    };
    if seen {
        return;
    }
    if order.is_applied() {
        apply_fact(ws, order, &fact, react);
    } else {
        order.early_facts.push(fact);
    }
}

/// Reads of a fact about an order: the order, and for a settlement the
/// disputes holding its commission (O8).
pub fn order_fact_reads(plan: &mut Plan<'_>, order: &OrderId) -> Option<Arc<Order>> {
    let order = plan.read::<Order>(order)?;
    if let Some(c) = &order.commission {
        plan.read_all::<Dispute>(&c.held_by);
    }
    Some(order)
}

pub fn order_cancelled(ws: &mut Workspace<'_>, e: &OrderRef, react: Reaction) {
    let mut order = ws.get_or_new::<Order>(&e.order_id);
    record_fact(ws, &mut order, OrderFact::Cancelled { time: ws.now() }, react);
    ws.put(order);
}

pub fn order_refunded(ws: &mut Workspace<'_>, e: &OrderRefunded, react: Reaction) {
    let mut order = ws.get_or_new::<Order>(&e.order_id);
    let fact = OrderFact::Refunded {
        time: ws.now(),
        amount: e.amount.value(),
    };
    record_fact(ws, &mut order, fact, react);
    ws.put(order);
}

pub fn order_settled(ws: &mut Workspace<'_>, e: &OrderRef, react: Reaction) {
    let mut order = ws.get_or_new::<Order>(&e.order_id);
    record_fact(ws, &mut order, OrderFact::Settled { time: ws.now() }, react);
    ws.put(order);
}

/// O6/O7 on an applied order.
fn apply_fact(ws: &mut Workspace<'_>, order: &mut Order, fact: &OrderFact, react: Reaction) {
    match *fact {
        OrderFact::Refunded { amount, time } => {
            if order.cancelled_at.is_some() {
                return;
            }
            order.refunded += amount;
            order.last_refund_at = order.last_refund_at.max(Some(time));
            order.recompute_after_refund(ws);
            react(ws, order, time);
        }
        OrderFact::Cancelled { time } => {
            order.cancelled_at = Some(time);
            order.order_cancelled(ws);
            react(ws, order, time);
        }
        OrderFact::Settled { time } => {
            order.settled_at = Some(time);
            settled_before_disputes(ws, order, time);
            order.settle(ws);
        }
    }
}

/// O8 for a settlement that arrives after a dispute opened later than it
/// (`settled`): at that time nothing held the commission, so in time order
/// it became payable first, and V4 holds only pending commissions. Holds of
/// disputes not open at `settled` are dropped so that settling pays it.
/// (A cancellation by a later violation or block that arrived first stays:
/// a commission announced cancelled is never made payable afterwards.)
fn settled_before_disputes(ws: &mut Workspace<'_>, order: &mut Order, settled: Time) {
    let Some(c) = order.commission.as_ref().filter(|c| !c.held_by.is_empty()) else {
        return;
    };
    let ids: Vec<DisputeId> = c.held_by.iter().cloned().collect();
    let disputes = ws.read_many::<Dispute>(&ids);
    if let Some(c) = order.commission.as_mut() {
        for (id, dispute) in ids.into_iter().zip(disputes) {
            if dispute.is_some_and(|d| !d.open_at(settled)) {
                c.held_by.remove(&id);
            }
        }
    }
}

/// Reads of posting content: the content, the orders that waited for it,
/// and what their shop-ads rate reads (product, campaign).
pub fn content_posted_reads(plan: &mut Plan<'_>, e: &ContentPosted) {
    let Some(content) = plan.read::<Content>(&e.content_id) else {
        return;
    };
    for order in plan.read_all::<Order>(&content.waiting_orders) {
        if let Some(paid) = &order.paid {
            plan.read::<Product>(&paid.product_id);
        }
        if let Some(campaign) = order.commission.as_ref().and_then(|c| c.campaign_id.as_ref()) {
            plan.read::<Campaign>(campaign);
        }
    }
}

/// `content.posted`, as O4 sees it: the content is recorded, and orders that
/// waited for it get their shop-ads commission if it is ads-authorized.
/// Returns `false` for content already posted (nothing else happens then).
pub fn content_posted(ws: &mut Workspace<'_>, e: &ContentPosted) -> bool {
    let mut content = ws.get_or_new::<Content>(&e.content_id);
    if content.posted.is_some() {
        return false;
    }
    content.posted = Some(super::model::PostedContent {
        time: ws.now(),
        creator_id: e.creator_id.clone(),
        content_type: e.content_type,
        product_ids: e.product_ids.clone(),
        ads_authorized: e.ads_authorized,
    });
    let waiting = std::mem::take(&mut content.waiting_orders);
    ws.put(content);
    if !e.ads_authorized {
        return true;
    }
    for mut order in ws.get_many::<Order>(&waiting) {
        let Some(paid) = order.paid.clone() else {
            continue;
        };
        let Some(c) = order.pending().cloned() else {
            continue;
        };
        let product = ws.read_or_new::<Product>(&paid.product_id);
        let decision = RateDecision {
            rate: c.rate,
            source: c.source,
            campaign_id: c.campaign_id.clone(),
            campaign_shop_ads_rate: match &c.campaign_id {
                Some(id) => ws
                    .read::<Campaign>(id)
                    .and_then(|k| k.product(&paid.product_id).and_then(|p| p.shop_ads_rate)),
                None => None,
            },
            steps: Vec::new(),
        };
        let rate = shop_ads_rate(
            &decision,
            product.at(paid.time).and_then(|v| v.open_collab_shop_ads_rate),
            paid.via_shop_ads,
            true,
        );
        if order.set_shop_ads_rate(rate, ws) {
            ws.put(order);
        }
    }
    true
}
