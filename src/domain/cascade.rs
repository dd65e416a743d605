//! Reactions across rule families, in one place.
//!
//! A rule family never imports another. When a fact in one family sets off
//! rules of others, it is wired here:
//!
//! | fact | reaction |
//! | --- | --- |
//! | an order's base changes — accrued (O3), refunded or cancelled (O6) | task progress and challenge scores (T1, H1, `participation`), refundable-sample units (S3, `sample`) |
//! | a product becomes known (`product.updated`) | the orders that waited for it are accrued (O8, `commission`) |
//! | content is posted | waiting orders get their shop-ads commission (O4, `commission`), then tasks and J3 count it (`participation`) |
//! | the clock reaches a timer | expiry, start, end (K1–K3, `clock`), settlement (K5, `campaign`), ranking (H3, `participation`), refundable deadlines (K4, `sample`), tax reports (K7, `clock`) |
//!
//! Enforcement touching commissions and participations (V1, V3, V4, V6)
//! goes through methods of the aggregates (`model`), so it needs no wiring.
//! Each reaction states its reads beside it, as the families do.

use super::model::{CampaignStatus, Order, Product, Time, TimerKey};
use super::workspace::{Plan, Workspace};
use super::{campaign, catalogue, clock, commission, participation, sample};
use crate::wire::events::{ContentPosted, OrderPaid, OrderRef, OrderRefunded, ProductUpdated};
use crate::wire::values::{OrderId, SellerId};

/// An order's base changed at business time `at`: its campaign progress and
/// its refundable-sample units follow.
fn order_changed(ws: &mut Workspace<'_>, order: &Order, at: Time) {
    participation::order_changed(ws, order, at);
    sample::order_changed(ws, order, at);
}

/// Reads of [`order_changed`] for an applied order.
fn order_changed_reads(plan: &mut Plan<'_>, order: &Order) {
    participation::order_changed_reads(plan, order);
    if let (Some(paid), Some(creator)) = (&order.paid, order.creator()) {
        sample::order_changed_reads(plan, creator, &paid.product_id, paid.time);
    }
}

pub fn order_paid_reads(plan: &mut Plan<'_>, e: &OrderPaid) {
    commission::order_paid_reads(plan, e);
    // Progress reads of the accrual are among the commission's (the
    // creator's campaigns with the seller); the sample windows are not.
    if let Some(creator) = &e.creator_id {
        let now = plan.now();
        sample::order_changed_reads(plan, creator, &e.product_id, now);
    }
}

pub fn order_paid(ws: &mut Workspace<'_>, e: &OrderPaid) {
    commission::order_paid(ws, e, order_changed);
}

/// Reads of a refund, cancellation or settlement of an order.
pub fn order_fact_reads(plan: &mut Plan<'_>, e: &OrderRef) {
    if let Some(order) = commission::order_fact_reads(plan, &e.order_id)
        && order.is_applied()
    {
        order_changed_reads(plan, &order);
    }
}

pub fn order_refunded_reads(plan: &mut Plan<'_>, e: &OrderRefunded) {
    order_fact_reads(
        plan,
        &OrderRef {
            order_id: e.order_id.clone(),
        },
    );
}

pub fn order_refunded(ws: &mut Workspace<'_>, e: &OrderRefunded) {
    commission::order_refunded(ws, e, order_changed);
}

pub fn order_cancelled(ws: &mut Workspace<'_>, e: &OrderRef) {
    commission::order_cancelled(ws, e, order_changed);
}

pub fn order_settled(ws: &mut Workspace<'_>, e: &OrderRef) {
    commission::order_settled(ws, e, order_changed);
}

pub fn product_updated_reads(plan: &mut Plan<'_>, e: &ProductUpdated) {
    catalogue::product_updated_reads(plan, e);
    let waiting = plan
        .read::<Product>(&e.product_id)
        .map(|p| p.waiting_orders.clone())
        .unwrap_or_default();
    commission::waiting_orders_reads(plan, &waiting);
    for order in plan.read_all::<Order>(&waiting) {
        if let (Some(paid), Some(creator)) = (&order.paid, order.creator()) {
            sample::order_changed_reads(plan, creator, &paid.product_id, paid.time);
        }
    }
}

pub fn product_updated(ws: &mut Workspace<'_>, e: &ProductUpdated) {
    let (product, waiting) = catalogue::product_updated(ws, e);
    commission::product_arrived(ws, &product, &waiting, order_changed);
}

pub fn content_posted_reads(plan: &mut Plan<'_>, e: &ContentPosted) {
    commission::content_posted_reads(plan, e);
    participation::content_posted_reads(plan, e);
}

pub fn content_posted(ws: &mut Workspace<'_>, e: &ContentPosted) {
    if commission::content_posted(ws, e) {
        participation::content_posted(ws, e);
    }
}

/// Reads of re-deciding one order of a sweep (O9): what its commission's
/// decision and its campaign progress read.
pub fn redecide_reads(plan: &mut Plan<'_>, order: &Order) {
    // The sweep's page has loaded the order; stating it keeps the plan whole.
    plan.read::<Order>(&order.id);
    commission::redecide_reads(plan, order);
}

/// O9 for one order a late fact may affect: its pending commission is
/// re-decided; if the order moved between campaigns (or into or out of
/// one), the old campaign's progress loses it and the new one's counts it
/// at its paid time.
pub fn redecide(ws: &mut Workspace<'_>, id: &OrderId, seller: Option<&SellerId>) {
    let Some(mut order) = ws.get::<Order>(id) else {
        return;
    };
    if seller.is_some_and(|s| order.paid.as_ref().is_none_or(|p| &p.seller_id != s)) {
        return;
    }
    let Some(before) = commission::redecide(ws, &mut order) else {
        return;
    };
    let after = order.commission.as_ref().and_then(|c| c.campaign_id.clone());
    if before != after {
        if let Some(before) = &before {
            participation::order_left(ws, &order, before);
        }
        if after.is_some() {
            participation::order_entered(ws, &order);
        }
    }
    ws.put(order);
}

pub fn tick_reads(plan: &mut Plan<'_>) {
    let now = plan.now();
    for timer in clock::tick_reads(plan, now) {
        match &timer.id {
            TimerKey::Finalize(campaign) => participation::finalize_challenge_reads(plan, campaign),
            TimerKey::RefundableDeadline(id) => sample::refundable_deadline_reads(plan, id),
            _ => {}
        }
    }
}

/// K: everything due at the tick, in rule order.
pub fn tick(ws: &mut Workspace<'_>) {
    for timer in clock::tick(ws) {
        match &timer.id {
            TimerKey::PaymentDue(id) => clock::payment_due(ws, id),
            TimerKey::Start(id) => clock::start(ws, id),
            TimerKey::End(id) => {
                // K3: a task campaign settles at once (K5); a challenge
                // waits for the finalization lag.
                if let Some(mut campaign) = clock::end(ws, id) {
                    if campaign.is_task() {
                        campaign::settle(ws, &mut campaign);
                    }
                    ws.put(campaign);
                }
            }
            TimerKey::Finalize(id) => {
                // K3, H3, K5
                if let Some(mut campaign) = clock::campaign_in(ws, id, CampaignStatus::Ended) {
                    participation::finalize_challenge(ws, &mut campaign);
                    campaign::settle(ws, &mut campaign);
                    ws.put(campaign);
                }
            }
            TimerKey::RefundableDeadline(id) => sample::refundable_deadline(ws, id),
            TimerKey::TaxReport(seller, month) => clock::tax_report(ws, seller, month),
        }
    }
}
