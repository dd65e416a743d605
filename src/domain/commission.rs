//! Orders and commissions (rules O1–O8).
//!
//! An order's commission is decided once, when `order.paid` is applied and
//! its product is known: the rate by O2 as of the order's time, the shop-ads
//! rate by O4, the amounts by O5. After that the commission only moves
//! through its life: adjusted, cancelled, payable, clawed back.
//!
//! Arrival order (O8): facts about an order that arrive before it can be
//! applied are kept on the order and replayed in time order once it is.
//! Enforcement facts already known with a time after the order's (a
//! violation, a pause, a block, a dispute) are replayed with them, so a late
//! order ends as if it had arrived in order.

use std::sync::Arc;

use rust_decimal::Decimal;

use super::state::{
    Campaign, Commission, CommissionState, Content, Creator, Dispute, Miss, Order, OrderFact, PaidOrder, Pair,
    Participation, Product, Time, Workspace,
};
use super::{ids, participation, sample};
use crate::wire::events::{OrderPaid, OrderRef, OrderRefunded};
use crate::wire::outcomes::{
    CancelReason, CommissionAccrued, CommissionAdjusted, CommissionCancelled, CommissionClawback, CommissionPayable,
    OutcomeData, PayableReason, RateSource,
};
use crate::wire::values::{CampaignId, DisputeId, Rate};

/// What O2 decided for one order.
#[derive(Clone, Debug, PartialEq)]
pub struct RateDecision {
    pub rate: Rate,
    pub source: RateSource,
    pub campaign_id: Option<CampaignId>,
    /// The shop-ads rate of the chosen campaign, if it sets one (O4).
    pub campaign_shop_ads_rate: Option<Rate>,
}

impl RateDecision {
    fn plain(rate: Rate, source: RateSource) -> Self {
        Self {
            rate,
            source,
            campaign_id: None,
            campaign_shop_ads_rate: None,
        }
    }
}

/// O2: the rate of an attributed order, the first rule that applies.
pub fn decide_rate(
    ws: &mut Workspace<'_>,
    paid: &PaidOrder,
    creator: &Creator,
    pair: &Pair,
    product: &Product,
) -> Result<RateDecision, Miss> {
    let t = paid.time;
    if creator.blocked_by(t) {
        return Ok(RateDecision::plain(Rate::ZERO, RateSource::PlatformBlocked));
    }
    if pair.paused_by(t) {
        return Ok(RateDecision::plain(Rate::ZERO, RateSource::ConnectionPaused));
    }
    let open_rate = product.at(t).and_then(|v| v.open_collab_rate);
    if let Some(best) = best_campaign(ws, paid, creator, open_rate)? {
        return Ok(best);
    }
    if let Some(rate) = pair.partnership_rate_at(t) {
        return Ok(RateDecision::plain(rate, RateSource::Partnership));
    }
    if creator.demoted_by(t) {
        return Ok(RateDecision::plain(Rate::ZERO, RateSource::Demoted));
    }
    Ok(match open_rate {
        Some(rate) => RateDecision::plain(rate, RateSource::OpenCollab),
        None => RateDecision::plain(Rate::ZERO, RateSource::None),
    })
}

/// O2.3: among the creator's campaigns with this seller that cover the order,
/// the highest rate; ties go to the earliest start, then the campaign id.
fn best_campaign(
    ws: &mut Workspace<'_>,
    paid: &PaidOrder,
    creator: &Creator,
    open_rate: Option<Rate>,
) -> Result<Option<RateDecision>, Miss> {
    let ids: Vec<CampaignId> = creator
        .participations
        .iter()
        .filter(|(_, seller)| *seller == paid.seller_id)
        .map(|(campaign, _)| campaign.clone())
        .collect();
    if ids.is_empty() {
        return Ok(None);
    }
    let keys: Vec<_> = ids.iter().map(|c| (c.clone(), creator.id.clone())).collect();
    let campaigns = ws.read_many::<Campaign>(&ids)?;
    let participations = ws.read_many::<Participation>(&keys)?;
    let t = paid.time;
    let mut best: Option<(Rate, Time, CampaignId, Option<Rate>)> = None;
    for (campaign, participation) in campaigns.into_iter().zip(participations) {
        let (Some(campaign), Some(participation)) = (campaign, participation) else {
            continue;
        };
        let Some(product) = campaign.product(&paid.product_id) else {
            continue;
        };
        let covers = participation.joined_at <= t
            && campaign.starts_at <= t
            && t < campaign.ends_at
            && campaign.status != super::state::CampaignStatus::Recalled;
        if !covers {
            continue;
        }
        let rate = product.commission_rate.or(open_rate).unwrap_or(Rate::ZERO);
        let candidate = (rate, campaign.starts_at, campaign.id.clone(), product.shop_ads_rate);
        let better = match &best {
            None => true,
            Some((r, s, id, _)) => rate > *r || (rate == *r && (campaign.starts_at, &campaign.id) < (*s, id)),
        };
        if better {
            best = Some(candidate);
        }
    }
    Ok(best.map(|(rate, _, id, shop_ads)| RateDecision {
        rate,
        source: RateSource::Campaign,
        campaign_id: Some(id),
        campaign_shop_ads_rate: shop_ads,
    }))
}

/// O4: the shop-ads rate, given whether the order's content was posted with
/// ads authorized.
pub fn shop_ads_rate(
    decision: &RateDecision,
    product_rate: Option<Rate>,
    via_shop_ads: bool,
    authorized: bool,
) -> Rate {
    if !via_shop_ads || !authorized {
        return Rate::ZERO;
    }
    match decision.source {
        RateSource::PlatformBlocked | RateSource::ConnectionPaused | RateSource::Demoted => Rate::ZERO,
        _ => decision.campaign_shop_ads_rate.or(product_rate).unwrap_or(Rate::ZERO),
    }
}

pub fn order_paid(ws: &mut Workspace<'_>, e: &OrderPaid) -> Result<(), Miss> {
    let mut order = ws
        .get::<Order>(&e.order_id)?
        .unwrap_or_else(|| Order::new(e.order_id.clone()));
    if order.paid.is_some() {
        // O1: a known order paid again changes nothing.
        return Ok(());
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
        replay_early_facts(ws, &mut order)?;
        ws.put(order);
        return Ok(());
    }
    let product = ws
        .read::<Product>(&e.product_id)?
        .unwrap_or_else(|| Arc::new(Product::new(e.product_id.clone())));
    if !product.is_known() {
        // Kept until `product.updated` arrives (rules.md conventions).
        let mut product = Arc::unwrap_or_clone(product);
        order.awaiting_product = true;
        product.waiting_orders.push(order.id.clone());
        ws.put(product);
        ws.put(order);
        return Ok(());
    }
    accrue(ws, &mut order, &product)?;
    ws.put(order);
    Ok(())
}

/// Applies orders that waited for their product.
pub fn product_arrived(ws: &mut Workspace<'_>, product: &mut Product) -> Result<(), Miss> {
    let waiting = std::mem::take(&mut product.waiting_orders);
    let orders = ws.get_many::<Order>(&waiting)?;
    for mut order in orders.into_iter().flatten() {
        if order.awaiting_product {
            accrue(ws, &mut order, product)?;
            ws.put(order);
        }
    }
    Ok(())
}

/// Decides the commission of a paid, attributed order whose product is known
/// (O2–O5), then replays what is already known to have happened after it.
fn accrue(ws: &mut Workspace<'_>, order: &mut Order, product: &Product) -> Result<(), Miss> {
    let Some(paid) = order.paid.clone() else {
        return Ok(());
    };
    let Some(creator_id) = paid.creator_id.clone() else {
        return Ok(());
    };
    let t = paid.time;
    let creator = ws
        .read::<Creator>(&creator_id)?
        .unwrap_or_else(|| Arc::new(Creator::new(creator_id.clone())));
    let pair_id = (paid.seller_id.clone(), creator_id.clone());
    let pair = ws
        .read::<Pair>(&pair_id)?
        .unwrap_or_else(|| Arc::new(Pair::new(pair_id.0.clone(), pair_id.1.clone())));
    let disputes: Vec<Arc<Dispute>> = ws.read_many::<Dispute>(&pair.disputes)?.into_iter().flatten().collect();

    let decision = decide_rate(ws, &paid, &creator, &pair, product)?;
    let authorized = match (&paid.content_id, paid.via_shop_ads) {
        (Some(content_id), true) => {
            let mut content = ws
                .get::<Content>(content_id)?
                .unwrap_or_else(|| Content::new(content_id.clone()));
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
    let version = product.at(t);
    let shop_rate = shop_ads_rate(
        &decision,
        version.and_then(|v| v.open_collab_shop_ads_rate),
        paid.via_shop_ads,
        authorized,
    );
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
        paid_out: Decimal::ZERO,
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
    order.awaiting_product = false;

    participation::order_applied(ws, order, t)?;
    sample::order_applied(ws, order, &creator)?;

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
            Later::Fact(fact) => apply_fact(ws, order, &fact)?,
            Later::Violation => on_violation(ws, order),
            Later::Blocked => cancel_pending(ws, order, CancelReason::PlatformBlocked),
            Later::Paused => on_pause(ws, order),
            Later::DisputeOpened(id) => hold(order, &id),
            Later::DisputeResolved(id, listed, paused) => on_dispute_resolved(ws, order, &id, listed, paused),
        }
    }
    Ok(())
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

fn replay_early_facts(ws: &mut Workspace<'_>, order: &mut Order) -> Result<(), Miss> {
    let mut facts = std::mem::take(&mut order.early_facts);
    facts.sort_by_key(OrderFact::time);
    for fact in &facts {
        apply_fact(ws, order, fact)?;
    }
    Ok(())
}

/// Records a fact about an order: applied now if the order is, else kept.
fn record_fact(ws: &mut Workspace<'_>, order: &mut Order, fact: OrderFact) -> Result<(), Miss> {
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
        return Ok(());
    }
    if order.is_applied() {
        apply_fact(ws, order, &fact)
    } else {
        order.early_facts.push(fact);
        Ok(())
    }
}

pub fn order_cancelled(ws: &mut Workspace<'_>, e: &OrderRef) -> Result<(), Miss> {
    let mut order = ws
        .get::<Order>(&e.order_id)?
        .unwrap_or_else(|| Order::new(e.order_id.clone()));
    record_fact(ws, &mut order, OrderFact::Cancelled { time: ws.now() })?;
    ws.put(order);
    Ok(())
}

pub fn order_refunded(ws: &mut Workspace<'_>, e: &OrderRefunded) -> Result<(), Miss> {
    let mut order = ws
        .get::<Order>(&e.order_id)?
        .unwrap_or_else(|| Order::new(e.order_id.clone()));
    let fact = OrderFact::Refunded {
        time: ws.now(),
        amount: e.amount.value(),
    };
    record_fact(ws, &mut order, fact)?;
    ws.put(order);
    Ok(())
}

pub fn order_settled(ws: &mut Workspace<'_>, e: &OrderRef) -> Result<(), Miss> {
    let mut order = ws
        .get::<Order>(&e.order_id)?
        .unwrap_or_else(|| Order::new(e.order_id.clone()));
    record_fact(ws, &mut order, OrderFact::Settled { time: ws.now() })?;
    ws.put(order);
    Ok(())
}

/// O6/O7 on an applied order.
fn apply_fact(ws: &mut Workspace<'_>, order: &mut Order, fact: &OrderFact) -> Result<(), Miss> {
    match *fact {
        OrderFact::Refunded { amount, time } => {
            if order.cancelled_at.is_some() {
                return Ok(());
            }
            order.refunded += amount;
            recompute_after_refund(ws, order);
            progress_changed(ws, order, time)
        }
        OrderFact::Cancelled { time } => {
            order.cancelled_at = Some(time);
            match order.commission.as_ref().map(|c| (c.state, c.paid_out)) {
                Some((CommissionState::Pending, _)) => cancel(ws, order, CancelReason::OrderCancelled),
                Some((CommissionState::Payable, owed)) => {
                    clawback(ws, order, owed);
                    set_state(order, CommissionState::Cancelled(CancelReason::OrderCancelled));
                }
                _ => {}
            }
            progress_changed(ws, order, time)
        }
        OrderFact::Settled { time } => {
            order.settled_at = Some(time);
            settled_before_disputes(ws, order, time)?;
            settle(ws, order);
            Ok(())
        }
    }
}

/// Task progress, challenge scores and sample goals follow the order's base,
/// changed by a fact at business time `at`.
fn progress_changed(ws: &mut Workspace<'_>, order: &Order, at: Time) -> Result<(), Miss> {
    participation::order_applied(ws, order, at)?;
    let Some(creator_id) = order.paid.as_ref().and_then(|p| p.creator_id.clone()) else {
        return Ok(());
    };
    let creator = ws
        .read::<Creator>(&creator_id)?
        .unwrap_or_else(|| Arc::new(Creator::new(creator_id)));
    sample::order_applied(ws, order, &creator)
}

/// O6: amounts follow the base; a pending commission is adjusted (or
/// cancelled at 0), a payable one is clawed back by what is now owed.
fn recompute_after_refund(ws: &mut Workspace<'_>, order: &mut Order) {
    let base = order.base();
    let Some(c) = order.commission.clone() else {
        return;
    };
    let amount = c.rate.apply(base);
    let shop_ads_amount = c.shop_ads_rate.apply(base);
    match c.state {
        CommissionState::Pending if base.is_zero() => cancel(ws, order, CancelReason::OrderRefunded),
        CommissionState::Pending => {
            set_amounts(order, amount, shop_ads_amount);
            emit_adjusted(ws, order, amount + shop_ads_amount - c.total());
        }
        CommissionState::Payable => {
            set_amounts(order, amount, shop_ads_amount);
            let owed = c.paid_out - (amount + shop_ads_amount);
            if owed > Decimal::ZERO {
                clawback(ws, order, owed);
            }
        }
        CommissionState::Cancelled(_) | CommissionState::Closed => {}
    }
}

fn set_amounts(order: &mut Order, amount: Decimal, shop_ads_amount: Decimal) {
    if let Some(c) = order.commission.as_mut() {
        c.amount = amount;
        c.shop_ads_amount = shop_ads_amount;
    }
}

fn set_state(order: &mut Order, state: CommissionState) {
    if let Some(c) = order.commission.as_mut() {
        c.state = state;
    }
}

fn emit_adjusted(ws: &mut Workspace<'_>, order: &Order, delta: Decimal) {
    let (Some(c), Some(paid)) = (&order.commission, &order.paid) else {
        return;
    };
    ws.emit(
        &c.id,
        OutcomeData::CommissionAdjusted(CommissionAdjusted {
            commission_id: c.id.clone(),
            order_id: order.id.clone(),
            amount: c.amount,
            shop_ads_amount: c.shop_ads_amount,
            delta,
            currency: paid.currency.clone(),
            base_amount: order.base(),
        }),
    );
}

/// O8 for a settlement that arrives after a dispute opened later than it
/// (`settled`): at that time nothing held the commission, so in time order
/// it became payable first, and V4 holds only pending commissions. Holds of
/// disputes not open at `settled` are dropped so that `settle` pays it.
/// (A cancellation by a later violation or block that arrived first stays:
/// a commission announced cancelled is never made payable afterwards.)
fn settled_before_disputes(ws: &mut Workspace<'_>, order: &mut Order, settled: Time) -> Result<(), Miss> {
    let Some(c) = order.commission.as_ref().filter(|c| !c.held_by.is_empty()) else {
        return Ok(());
    };
    let ids: Vec<DisputeId> = c.held_by.iter().cloned().collect();
    let disputes = ws.read_many::<Dispute>(&ids)?;
    if let Some(c) = order.commission.as_mut() {
        for (id, dispute) in ids.into_iter().zip(disputes) {
            if dispute.is_some_and(|d| !d.open_at(settled)) {
                c.held_by.remove(&id);
            }
        }
    }
    Ok(())
}

/// O7: settlement makes a commission payable unless a dispute holds it.
fn settle(ws: &mut Workspace<'_>, order: &mut Order) {
    let Some(c) = pending(order) else {
        return;
    };
    if !c.held_by.is_empty() {
        return;
    }
    if c.total() > Decimal::ZERO {
        make_payable(ws, order, PayableReason::Settled);
    } else {
        // Nothing is due: the commission's life ends here.
        set_state(order, CommissionState::Closed);
    }
}

pub fn make_payable(ws: &mut Workspace<'_>, order: &mut Order, reason: PayableReason) {
    let (Some(c), Some(paid)) = (order.commission.as_mut(), &order.paid) else {
        return;
    };
    let Some(creator_id) = paid.creator_id.clone() else {
        return;
    };
    c.state = CommissionState::Payable;
    c.paid_out = c.total();
    ws.emit(
        &c.id,
        OutcomeData::CommissionPayable(CommissionPayable {
            commission_id: c.id.clone(),
            order_id: order.id.clone(),
            creator_id,
            amount: c.amount,
            shop_ads_amount: c.shop_ads_amount,
            currency: paid.currency.clone(),
            reason,
        }),
    );
}

pub fn cancel(ws: &mut Workspace<'_>, order: &mut Order, reason: CancelReason) {
    let Some(c) = order.commission.as_mut() else {
        return;
    };
    c.state = CommissionState::Cancelled(reason);
    ws.emit(
        &c.id,
        OutcomeData::CommissionCancelled(CommissionCancelled {
            commission_id: c.id.clone(),
            order_id: order.id.clone(),
            reason,
        }),
    );
}

fn clawback(ws: &mut Workspace<'_>, order: &mut Order, owed: Decimal) {
    let (Some(c), Some(paid)) = (order.commission.as_mut(), &order.paid) else {
        return;
    };
    c.paid_out -= owed;
    if owed <= Decimal::ZERO {
        return;
    }
    ws.emit(
        &c.id,
        OutcomeData::CommissionClawback(CommissionClawback {
            commission_id: c.id.clone(),
            order_id: order.id.clone(),
            amount: owed,
            currency: paid.currency.clone(),
        }),
    );
}

fn pending(order: &Order) -> Option<&Commission> {
    order
        .commission
        .as_ref()
        .filter(|c| c.state == CommissionState::Pending)
}

/// Cancels the commission if it is still pending.
pub fn cancel_pending(ws: &mut Workspace<'_>, order: &mut Order, reason: CancelReason) {
    if pending(order).is_some() {
        cancel(ws, order, reason);
    }
}

/// V1 for one order: a pending open-collaboration commission is cancelled.
pub fn on_violation(ws: &mut Workspace<'_>, order: &mut Order) {
    if pending(order).is_some_and(|c| c.source == RateSource::OpenCollab) {
        cancel(ws, order, CancelReason::Violation);
    }
}

/// V3 for one order: a pending partnership or campaign commission with the
/// seller is paid out at once (unless a dispute holds it).
pub fn on_pause(ws: &mut Workspace<'_>, order: &mut Order) {
    let eligible = pending(order).is_some_and(|c| {
        matches!(c.source, RateSource::Partnership | RateSource::Campaign)
            && c.held_by.is_empty()
            && c.total() > Decimal::ZERO
    });
    if eligible {
        make_payable(ws, order, PayableReason::ConnectionPaused);
    }
}

/// V3 / O2.2 for an order paid at or after a pause that arrived after it: the
/// order earns 0 (`connection_paused`), as if the pause had been known when
/// it was accrued, so its pending amounts are adjusted to 0.
pub fn on_pause_after_order(ws: &mut Workspace<'_>, order: &mut Order) {
    let Some(before) = pending(order).cloned() else {
        return;
    };
    if let Some(c) = order.commission.as_mut() {
        c.rate = Rate::ZERO;
        c.source = RateSource::ConnectionPaused;
        c.campaign_id = None;
        c.shop_ads_rate = Rate::ZERO;
    }
    set_amounts(order, Decimal::ZERO, Decimal::ZERO);
    if before.total() > Decimal::ZERO {
        emit_adjusted(ws, order, -before.total());
    }
}

/// V4: an open dispute holds a pending commission.
pub fn hold(order: &mut Order, dispute: &DisputeId) {
    if let Some(c) = order
        .commission
        .as_mut()
        .filter(|c| c.state == CommissionState::Pending)
    {
        c.held_by.insert(dispute.clone());
    }
}

/// V4: a resolved dispute cancels the listed orders' commissions and
/// releases the others: payable now if already settled, or if the pair's
/// connection was paused by the resolution (`paused`) — V3 pays a paused
/// pair's pending commissions at once, and the dispute only held them back.
pub fn on_dispute_resolved(ws: &mut Workspace<'_>, order: &mut Order, dispute: &DisputeId, listed: bool, paused: bool) {
    let Some(c) = order.commission.as_mut() else {
        return;
    };
    c.held_by.remove(dispute);
    let (state, paid_out) = (c.state, c.paid_out);
    if listed {
        match state {
            CommissionState::Pending => cancel(ws, order, CancelReason::Dispute),
            CommissionState::Payable => {
                clawback(ws, order, paid_out);
                set_state(order, CommissionState::Cancelled(CancelReason::Dispute));
            }
            CommissionState::Cancelled(_) | CommissionState::Closed => {}
        }
    } else if order.settled_at.is_some() {
        settle(ws, order);
    } else if paused {
        on_pause(ws, order);
    }
}

/// O4 for orders that waited for their content: the shop-ads commission is
/// added now that the content is known to be ads-authorized.
pub fn content_arrived(ws: &mut Workspace<'_>, content: &mut Content) -> Result<(), Miss> {
    let waiting = std::mem::take(&mut content.waiting_orders);
    let Some(posted) = content.posted.clone() else {
        return Ok(());
    };
    if !posted.ads_authorized {
        return Ok(());
    }
    let orders = ws.get_many::<Order>(&waiting)?;
    for mut order in orders.into_iter().flatten() {
        let Some(paid) = order.paid.clone() else {
            continue;
        };
        let Some(c) = pending(&order).cloned() else {
            continue;
        };
        let product = ws
            .get::<Product>(&paid.product_id)?
            .unwrap_or_else(|| Product::new(paid.product_id.clone()));
        let decision = RateDecision {
            rate: c.rate,
            source: c.source,
            campaign_id: c.campaign_id.clone(),
            campaign_shop_ads_rate: match &c.campaign_id {
                Some(id) => ws
                    .get::<Campaign>(id)?
                    .and_then(|k| k.product(&paid.product_id).and_then(|p| p.shop_ads_rate)),
                None => None,
            },
        };
        let rate = shop_ads_rate(
            &decision,
            product.at(paid.time).and_then(|v| v.open_collab_shop_ads_rate),
            paid.via_shop_ads,
            true,
        );
        if rate == c.shop_ads_rate {
            continue;
        }
        let shop_ads_amount = rate.apply(order.base());
        if let Some(c) = order.commission.as_mut() {
            c.shop_ads_rate = rate;
        }
        set_amounts(&mut order, c.amount, shop_ads_amount);
        emit_adjusted(ws, &order, shop_ads_amount - c.shop_ads_amount);
        ws.put(order);
    }
    Ok(())
}
