//! Free samples (S1, S2) and refundable samples (S3, K4).

use chrono::Duration;
use rust_decimal::Decimal;

use super::ids;
use super::model::{
    Campaign, Creator, Emit, Order, Participation, RefundWindow, Refundable, RefundableStatus, Sample, Time, Timer,
    TimerKey,
};
use super::workspace::{Plan, Query, Workspace};
use crate::wire::events::{SampleProgress, SampleRefundablePurchased, SampleRequested};
use crate::wire::outcomes::{
    OutcomeData, ParticipationStatus, RefundDue, RefundReason, RefundTo, SampleApproved, SampleRefundExpired,
    SampleRejected, SampleRejection,
};
use crate::wire::values::{CreatorId, ProductId, RefundableId};

/// S1: approved requests per creator and campaign.
pub const SAMPLE_LIMIT: u32 = 3;
/// S3: the window in which units count.
pub const REFUNDABLE_WINDOW_DAYS: i64 = 60;
/// Refunds are due this many days after they are decided.
pub const REFUND_DUE_DAYS: i64 = 14;

/// Reads: the request, the participation, the campaign.
pub fn requested_reads(plan: &mut Plan<'_>, e: &SampleRequested) {
    plan.read::<Sample>(&e.request_id);
    plan.read::<Participation>(&(e.campaign_id.clone(), e.creator_id.clone()));
    plan.read::<Campaign>(&e.campaign_id);
}

/// S1: pre-approved unless a check fails (first failing reason wins).
pub fn requested(ws: &mut Workspace<'_>, e: &SampleRequested) {
    let mut sample = ws.get_or_new::<Sample>(&e.request_id);
    if sample.request.is_some() {
        return;
    }
    let key = (e.campaign_id.clone(), e.creator_id.clone());
    let participation = ws.get::<Participation>(&key);
    let campaign = ws.read::<Campaign>(&e.campaign_id);
    let reason = match (&participation, &campaign) {
        (None, _) | (_, None) => Some(SampleRejection::NotParticipating),
        (Some(p), _) if p.status == ParticipationStatus::Removed => Some(SampleRejection::NotParticipating),
        (_, Some(c)) if !c.is_open() => Some(SampleRejection::CampaignNotOpen),
        (_, Some(c)) if !c.product(&e.product_id).is_some_and(|p| p.free_sample) => {
            Some(SampleRejection::SampleNotOffered)
        }
        (Some(p), _) if p.samples_approved >= SAMPLE_LIMIT => Some(SampleRejection::SampleLimitReached),
        _ => None,
    };
    let entity = e.request_id.as_str();
    match (reason, participation) {
        (None, Some(mut p)) => {
            p.samples_approved += 1;
            sample.request = Some((key.0.clone(), key.1.clone(), true));
            ws.emit(
                entity,
                OutcomeData::SampleApproved(SampleApproved {
                    request_id: e.request_id.clone(),
                    campaign_id: e.campaign_id.clone(),
                    creator_id: e.creator_id.clone(),
                    product_id: e.product_id.clone(),
                    status: "ready_to_ship",
                }),
            );
            if sample.delivered_at.is_some() {
                p.sample_delivered(ws);
            }
            ws.put(p);
        }
        (reason, _) => {
            sample.request = Some((key.0.clone(), key.1.clone(), false));
            ws.emit(
                entity,
                OutcomeData::SampleRejected(SampleRejected {
                    request_id: e.request_id.clone(),
                    campaign_id: e.campaign_id.clone(),
                    creator_id: e.creator_id.clone(),
                    reason: reason.unwrap_or(SampleRejection::NotParticipating),
                }),
            );
        }
    }
    ws.put(sample);
}

/// Reads: the request, and the participation it was approved for (J3).
pub fn progress_reads(plan: &mut Plan<'_>, e: &SampleProgress) {
    if let Some(sample) = plan.read::<Sample>(&e.request_id)
        && let Some((campaign, creator, true)) = &sample.request
    {
        plan.read::<Participation>(&(campaign.clone(), creator.clone()));
    }
}

/// S2: `sample.shipped` is recorded.
pub fn shipped(ws: &mut Workspace<'_>, e: &SampleProgress) {
    let mut sample = ws.get_or_new::<Sample>(&e.request_id);
    sample.shipped_at.get_or_insert(ws.now());
    ws.put(sample);
}

/// S2: `sample.delivered` is recorded and feeds J3.
pub fn delivered(ws: &mut Workspace<'_>, e: &SampleProgress) {
    let mut sample = ws.get_or_new::<Sample>(&e.request_id);
    if sample.delivered_at.is_some() {
        return;
    }
    sample.delivered_at = Some(ws.now());
    if let Some((campaign, creator, true)) = sample.request.clone()
        && let Some(mut p) = ws.get::<Participation>(&(campaign, creator))
    {
        p.sample_delivered(ws);
        ws.put(p);
    }
    ws.put(sample);
}

/// Reads: the refundable sample, its campaign, the creator, and the
/// creator's orders of the product paid in the window (no other order
/// counts, and history must not grow the read).
pub fn refundable_purchased_reads(plan: &mut Plan<'_>, e: &SampleRefundablePurchased) {
    plan.read::<Refundable>(&e.refundable_id);
    plan.read::<Campaign>(&e.campaign_id);
    plan.read::<Creator>(&e.creator_id);
    let start = plan.now();
    plan.query::<Order>(Query::OrdersOfCreatorProductIn(
        e.creator_id.clone(),
        e.product_id.clone(),
        start,
        start + Duration::days(REFUNDABLE_WINDOW_DAYS),
    ));
}

/// S3: opens the 60-day window and counts the units already sold in it.
pub fn refundable_purchased(ws: &mut Workspace<'_>, e: &SampleRefundablePurchased) {
    if ws.read::<Refundable>(&e.refundable_id).is_some() {
        return;
    }
    let Some(campaign) = ws.read::<Campaign>(&e.campaign_id) else {
        return;
    };
    // A product without a goal offers no refundable sample: nothing to track.
    let Some(goal) = campaign.product(&e.product_id).and_then(|p| p.refundable_goal) else {
        return;
    };
    let start = ws.now();
    let end = start + Duration::days(REFUNDABLE_WINDOW_DAYS);
    let mut refundable = Refundable {
        id: e.refundable_id.clone(),
        campaign_id: e.campaign_id.clone(),
        creator_id: e.creator_id.clone(),
        product_id: e.product_id.clone(),
        price: e.price.value(),
        shipping_fee: e.shipping_fee.value(),
        currency: e.currency.clone(),
        start,
        end,
        goal,
        status: RefundableStatus::Open,
        units: Default::default(),
    };
    let sold = ws.query::<Order>(&Query::OrdersOfCreatorProductIn(
        e.creator_id.clone(),
        e.product_id.clone(),
        start,
        end,
    ));
    for order in &sold {
        count(&mut refundable, order);
    }
    let mut creator = ws.get_or_new::<Creator>(&e.creator_id);
    if !check_goal(ws, &mut refundable) {
        creator.refund_windows.push(RefundWindow {
            refundable_id: refundable.id.clone(),
            product_id: refundable.product_id.clone(),
            start,
            end,
        });
        ws.put(Timer {
            id: TimerKey::RefundableDeadline(refundable.id.clone()),
            due_at: end,
        });
    }
    ws.put(creator);
    ws.put(refundable);
}

/// Units of an order in the window: its quantity, or 0 once cancelled or
/// fully refunded.
fn count(refundable: &mut Refundable, order: &Order) {
    let Some(paid) = &order.paid else { return };
    if paid.product_id != refundable.product_id
        || paid.creator_id.as_ref() != Some(&refundable.creator_id)
        || paid.time < refundable.start
        || paid.time >= refundable.end
    {
        return;
    }
    let units = if order.base() > Decimal::ZERO { paid.quantity } else { 0 };
    refundable.units.insert(order.id.clone(), (paid.time, units));
}

/// Refunds price and shipping once the goal is reached; returns whether it was.
fn check_goal(ws: &mut Workspace<'_>, refundable: &mut Refundable) -> bool {
    if refundable.status != RefundableStatus::Open {
        return refundable.status == RefundableStatus::Refunded;
    }
    let mut sold: Vec<(Time, u32)> = refundable.units.values().copied().collect();
    sold.sort();
    let mut total = 0u32;
    let Some(reached_at) = sold.iter().find_map(|(t, units)| {
        total = total.saturating_add(*units);
        (total >= refundable.goal).then_some(*t)
    }) else {
        return false;
    };
    refundable.status = RefundableStatus::Refunded;
    let refund_id = ids::money_movement_id("refund", ws.cause(), refundable.id.as_str());
    ws.emit(
        &refund_id,
        OutcomeData::RefundDue(RefundDue {
            refund_id: refund_id.clone(),
            to: RefundTo::Creator,
            party_id: refundable.creator_id.to_string(),
            campaign_id: Some(refundable.campaign_id.clone()),
            amount: refundable.price + refundable.shipping_fee,
            currency: refundable.currency.clone(),
            reason: RefundReason::RefundableSample,
            due_by: reached_at + Duration::days(REFUND_DUE_DAYS),
        }),
    );
    true
}

/// Reads of an order's change for refundable samples (S3): the creator's
/// open windows for the product at the order's time `paid`.
pub fn order_changed_reads(plan: &mut Plan<'_>, creator: &CreatorId, product: &ProductId, paid: Time) {
    if let Some(creator) = plan.read::<Creator>(creator) {
        let windows: Vec<RefundableId> = creator
            .windows_at(product, paid)
            .map(|w| w.refundable_id.clone())
            .collect();
        plan.read_all::<Refundable>(&windows);
    }
}

/// An order of the creator was applied or changed: count it in every open
/// window for its product.
pub fn order_changed(ws: &mut Workspace<'_>, order: &Order, _at: Time) {
    let (Some(paid), Some(creator_id)) = (&order.paid, order.creator()) else {
        return;
    };
    let Some(creator) = ws.read::<Creator>(creator_id) else {
        return;
    };
    let windows: Vec<RefundableId> = creator
        .windows_at(&paid.product_id, paid.time)
        .map(|w| w.refundable_id.clone())
        .collect();
    if windows.is_empty() {
        return;
    }
    let mut done = Vec::new();
    for mut refundable in ws.get_many::<Refundable>(&windows) {
        if refundable.status != RefundableStatus::Open {
            continue;
        }
        count(&mut refundable, order);
        if check_goal(ws, &mut refundable) {
            done.push(refundable.id.clone());
            ws.delete::<Timer>(&TimerKey::RefundableDeadline(refundable.id.clone()));
        }
        ws.put(refundable);
    }
    if !done.is_empty() {
        let mut creator = (*creator).clone();
        creator.refund_windows.retain(|w| !done.contains(&w.refundable_id));
        ws.put(creator);
    }
}

/// Reads of the K4 deadline: the refundable sample and its creator.
pub fn refundable_deadline_reads(plan: &mut Plan<'_>, id: &RefundableId) {
    if let Some(refundable) = plan.read::<Refundable>(id) {
        plan.read::<Creator>(&refundable.creator_id);
    }
}

/// K4: the window closed before the goal was met.
pub fn refundable_deadline(ws: &mut Workspace<'_>, id: &RefundableId) {
    let Some(mut refundable) = ws.get::<Refundable>(id) else {
        return;
    };
    if refundable.status != RefundableStatus::Open {
        return;
    }
    refundable.status = RefundableStatus::Expired;
    ws.emit(
        refundable.id.as_str(),
        OutcomeData::SampleRefundExpired(SampleRefundExpired {
            refundable_id: refundable.id.clone(),
            creator_id: refundable.creator_id.clone(),
        }),
    );
    if let Some(mut creator) = ws.get::<Creator>(&refundable.creator_id) {
        creator.refund_windows.retain(|w| w.refundable_id != refundable.id);
        ws.put(creator);
    }
    ws.put(refundable);
}
