//! Community-guideline enforcement (V1–V7): demotion, notices, paused
//! connections, disputes, platform blocks, partnerships.
//!
//! Each rule here decides *which* commissions it touches; what happens to one
//! commission is a method of [`Order`], shared with late-arriving orders
//! that replay these facts (`commission`).

use std::collections::BTreeSet;

use super::model::{Campaign, Creator, Dispute, Emit, Order, Pair, Participation, Violation};
use super::workspace::{Plan, Query, Sweep, SweepAction, Workspace};
use crate::wire::events::{
    CreatorPlatformBlocked, CreatorViolationReported, DisputeOpened, DisputeResolved, PartnershipEstablished,
    SellerCreator,
};
use crate::wire::outcomes::{
    CancelReason, CommissionDemoted, OutcomeData, ParticipationStatus, PartnershipAccepted, PartnershipRejected,
    PartnershipRejection, RewardCancelReason, RewardCancelled,
};
use crate::wire::values::{CreatorId, OrderId, Rate, SellerId};

fn pair_id(seller: &SellerId, creator: &CreatorId) -> (SellerId, CreatorId) {
    (seller.clone(), creator.clone())
}

/// Pending commissions of a creator, optionally only those with one seller,
/// in the order they were paid.
fn pending_orders(ws: &mut Workspace<'_>, creator: &CreatorId, seller: Option<&SellerId>) -> Vec<Order> {
    let mut orders = ws.query::<Order>(&Query::PendingOrdersOf(creator.clone()));
    if let Some(seller) = seller {
        orders.retain(|o| o.paid.as_ref().is_some_and(|p| &p.seller_id == seller));
    }
    orders.sort_by(|a, b| (a.paid.as_ref().map(|p| p.time), &a.id).cmp(&(b.paid.as_ref().map(|p| p.time), &b.id)));
    orders
}

/// The creator's participations, as enforcement reads them (and, with
/// `campaigns`, their campaigns).
fn participations_reads(plan: &mut Plan<'_>, creator: &CreatorId, seller: Option<&SellerId>, campaigns: bool) {
    if let Some(c) = plan.read::<Creator>(creator) {
        for campaign in c.campaigns(seller) {
            plan.read::<Participation>(&(campaign.clone(), creator.clone()));
            if campaigns {
                plan.read::<Campaign>(campaign);
            }
        }
    }
}

/// Reads: the creator, its pending commissions, its participations and its
/// pairs with partners and campaign sellers (V2).
pub fn violation_reported_reads(plan: &mut Plan<'_>, e: &CreatorViolationReported) {
    plan.query::<Order>(Query::PendingOrdersOf(e.creator_id.clone()));
    let now = plan.now();
    plan.sweep(Query::PendingOrdersOfCreatorSince(e.creator_id.clone(), now));
    participations_reads(plan, &e.creator_id, None, false);
    if let Some(c) = plan.read::<Creator>(&e.creator_id) {
        let sellers: BTreeSet<&SellerId> = c
            .partner_sellers
            .iter()
            .chain(c.participations.iter().map(|(_, s)| s))
            .collect();
        for seller in sellers {
            plan.read::<Pair>(&pair_id(seller, &e.creator_id));
        }
    }
}

/// V1, V2
pub fn violation_reported(ws: &mut Workspace<'_>, e: &CreatorViolationReported) {
    let mut c = ws.get_or_new::<Creator>(&e.creator_id);
    if c.violations.iter().any(|v| v.id == e.violation_id) {
        return;
    }
    let mut violation = Violation {
        id: e.violation_id.clone(),
        time: ws.now(),
        notified: BTreeSet::new(),
        event_id: Some(ws.cause().clone()),
        guideline: Some(e.guideline.clone()),
    };
    ws.emit(
        e.violation_id.as_str(),
        OutcomeData::CommissionDemoted(CommissionDemoted {
            creator_id: e.creator_id.clone(),
            violation_id: e.violation_id.clone(),
            rate: Rate::ZERO,
        }),
    );
    // V1 cancels the open-collaboration commissions of orders paid before
    // the violation. Orders paid at or after it that arrived first are
    // re-decided instead (O9): in time order they would have been demoted
    // (O2.5), or earned a partnership or campaign rate that arrives later.
    let v = violation.time;
    for mut order in pending_orders(ws, &e.creator_id, None) {
        if order.paid.as_ref().is_some_and(|p| p.time < v) {
            order.on_violation(ws);
            ws.put(order);
        }
    }
    ws.sweep(Sweep {
        query: Query::PendingOrdersOfCreatorSince(e.creator_id.clone(), v),
        action: SweepAction::Redecide { seller: None },
    });
    // V2: sellers connected with the creator at the violation's time — a
    // partnership or an accepted participation from then or before, not
    // paused by then — whatever arrived since.
    let mut sellers: BTreeSet<SellerId> = BTreeSet::new();
    for seller in &c.partner_sellers {
        let pair = ws.read_or_new::<Pair>(&pair_id(seller, &c.id));
        if pair.partnership.iter().any(|(t, _)| *t <= v) && !pair.paused_by(v) {
            sellers.insert(seller.clone());
        }
    }
    let keys: Vec<_> = c
        .participations
        .iter()
        .map(|(k, _)| (k.clone(), c.id.clone()))
        .collect();
    for p in ws.read_many::<Participation>(&keys).into_iter().flatten() {
        if p.joined_at <= v && !ws.read_or_new::<Pair>(&pair_id(&p.seller_id, &c.id)).paused_by(v) {
            sellers.insert(p.seller_id.clone());
        }
    }
    for seller in sellers {
        violation.notify(&c.id, &seller, ws);
    }
    c.violations.push(violation);
    ws.put(c);
}

/// Reads: the pair, the creator, its pending commissions and its
/// participations in the seller's campaigns.
pub fn partnership_paused_reads(plan: &mut Plan<'_>, e: &SellerCreator) {
    plan.read::<Pair>(&pair_id(&e.seller_id, &e.creator_id));
    plan.query::<Order>(Query::PendingOrdersOf(e.creator_id.clone()));
    participations_reads(plan, &e.creator_id, Some(&e.seller_id), false);
}

/// V3: the connection ends for good.
pub fn partnership_paused(ws: &mut Workspace<'_>, e: &SellerCreator) {
    let mut p = ws.get_or_new::<Pair>(&pair_id(&e.seller_id, &e.creator_id));
    if p.paused_at.is_some() {
        return;
    }
    let paused_at = ws.now();
    p.paused_at = Some(paused_at);
    ws.put(p);
    // The seller stays among the creator's partners: V2 asks who was
    // connected at a violation's time, and the pause says until when.
    let c = ws.read_or_new::<Creator>(&e.creator_id);
    for mut order in pending_orders(ws, &e.creator_id, Some(&e.seller_id)) {
        // An order made at or after the pause earns 0 (O2.2), whenever the pause arrives.
        if order.paid.as_ref().is_some_and(|paid| paid.time >= paused_at) {
            order.on_pause_after_order(ws);
        } else {
            order.on_pause(ws);
        }
        ws.put(order);
    }
    let keys: Vec<_> = c
        .participations
        .iter()
        .filter(|(_, seller)| *seller == e.seller_id)
        .map(|(k, _)| (k.clone(), c.id.clone()))
        .collect();
    for mut participation in ws.get_many::<Participation>(&keys) {
        participation.set_status(ParticipationStatus::Removed, ws);
        ws.put(participation);
    }
}

/// Reads of settling a dispute both sides of which are known: the pair, the
/// creator's pending commissions, the listed orders.
fn resolve_reads(plan: &mut Plan<'_>, seller: &SellerId, creator: &CreatorId, listed: &[OrderId]) {
    plan.read::<Pair>(&pair_id(seller, creator));
    plan.query::<Order>(Query::PendingOrdersOf(creator.clone()));
    plan.read_all::<Order>(listed);
}

/// Reads: the dispute, the pair, the creator's pending commissions, and the
/// listed orders if the resolution arrived first.
pub fn dispute_opened_reads(plan: &mut Plan<'_>, e: &DisputeOpened) {
    let listed = plan
        .read::<Dispute>(&e.dispute_id)
        .and_then(|d| d.resolved.as_ref().map(|(_, listed)| listed.clone()))
        .unwrap_or_default();
    resolve_reads(plan, &e.seller_id, &e.creator_id, &listed);
}

/// Reads: the dispute, and if it was opened, what resolving it reads.
pub fn dispute_resolved_reads(plan: &mut Plan<'_>, e: &DisputeResolved) {
    if let Some(dispute) = plan.read::<Dispute>(&e.dispute_id)
        && let Some((_, seller, creator)) = &dispute.opened
    {
        resolve_reads(plan, seller, creator, &e.cancelled_order_ids);
    }
}

/// V4: an open dispute holds the pair's pending commissions.
pub fn dispute_opened(ws: &mut Workspace<'_>, e: &DisputeOpened) {
    let mut dispute = ws.get_or_new::<Dispute>(&e.dispute_id);
    if dispute.opened.is_some() {
        return;
    }
    dispute.opened = Some((ws.now(), e.seller_id.clone(), e.creator_id.clone()));
    let mut p = ws.get_or_new::<Pair>(&pair_id(&e.seller_id, &e.creator_id));
    p.disputes.push(e.dispute_id.clone());
    ws.put(p);
    for mut order in pending_orders(ws, &e.creator_id, Some(&e.seller_id)) {
        order.hold(&e.dispute_id);
        ws.put(order);
    }
    // The resolution may have arrived first.
    if dispute.resolved.is_some() {
        resolve(ws, &dispute);
    }
    ws.put(dispute);
}

/// V4: listed orders are cancelled, the others released.
pub fn dispute_resolved(ws: &mut Workspace<'_>, e: &DisputeResolved) {
    let mut dispute = ws.get_or_new::<Dispute>(&e.dispute_id);
    if dispute.resolved.is_some() {
        return;
    }
    dispute.resolved = Some((ws.now(), e.cancelled_order_ids.clone()));
    if dispute.opened.is_some() {
        resolve(ws, &dispute);
    }
    ws.put(dispute);
}

fn resolve(ws: &mut Workspace<'_>, dispute: &Dispute) {
    let (Some((_, seller, creator)), Some((resolved_at, listed))) = (&dispute.opened, &dispute.resolved) else {
        return;
    };
    let paused = ws
        .read::<Pair>(&pair_id(seller, creator))
        .is_some_and(|p| p.paused_by(*resolved_at));
    let mut orders = pending_orders(ws, creator, Some(seller));
    let extra: Vec<_> = listed
        .iter()
        .filter(|id| !orders.iter().any(|o| &o.id == *id))
        .cloned()
        .collect();
    orders.extend(ws.get_many::<Order>(&extra));
    for mut order in orders {
        if !order.of_pair(seller, creator) {
            continue;
        }
        let is_listed = listed.contains(&order.id);
        order.on_dispute_resolved(&dispute.id, is_listed, paused, ws);
        ws.put(order);
    }
}

/// Reads: the creator, its pending commissions, its participations and
/// their campaigns (rewards to cancel).
pub fn platform_blocked_reads(plan: &mut Plan<'_>, e: &CreatorPlatformBlocked) {
    plan.query::<Order>(Query::PendingOrdersOf(e.creator_id.clone()));
    participations_reads(plan, &e.creator_id, None, true);
}

/// V6: final. Pending commissions and unsettled rewards are cancelled.
pub fn platform_blocked(ws: &mut Workspace<'_>, e: &CreatorPlatformBlocked) {
    let mut c = ws.get_or_new::<Creator>(&e.creator_id);
    if c.blocked_at.is_some() {
        return;
    }
    c.blocked_at = Some(ws.now());
    c.block = Some((ws.cause().clone(), e.reason.clone()));
    for mut order in pending_orders(ws, &e.creator_id, None) {
        order.cancel_pending(CancelReason::PlatformBlocked, ws);
        ws.put(order);
    }
    // Rewards already issued in campaigns not yet settled are cancelled.
    let keys: Vec<_> = c
        .participations
        .iter()
        .map(|(k, _)| (k.clone(), c.id.clone()))
        .collect();
    for mut p in ws.get_many::<Participation>(&keys) {
        let Some(reward) = p.reward.as_mut().filter(|r| !r.cancelled) else {
            continue;
        };
        let Some(mut campaign) = ws.get::<Campaign>(&p.id.0).filter(|k| !k.is_closed()) else {
            continue;
        };
        reward.cancelled = true;
        campaign.rewards_total -= reward.amount;
        ws.emit(
            &reward.reward_id,
            OutcomeData::RewardCancelled(RewardCancelled {
                reward_id: reward.reward_id.clone(),
                campaign_id: campaign.id.clone(),
                creator_id: c.id.clone(),
                reason: RewardCancelReason::PlatformBlocked,
            }),
        );
        ws.put(campaign);
        ws.put(p);
    }
    ws.put(c);
}

/// Reads: the creator and the pair.
pub fn partnership_established_reads(plan: &mut Plan<'_>, e: &PartnershipEstablished) {
    plan.read::<Creator>(&e.creator_id);
    plan.read::<Pair>(&pair_id(&e.seller_id, &e.creator_id));
    let now = plan.now();
    plan.sweep(Query::PendingOrdersOfCreatorSince(e.creator_id.clone(), now));
}

/// V7: a partnership (also how a seller keeps a demoted creator).
pub fn partnership_established(ws: &mut Workspace<'_>, e: &PartnershipEstablished) {
    let t = ws.now();
    let mut c = ws.get_or_new::<Creator>(&e.creator_id);
    let mut p = ws.get_or_new::<Pair>(&pair_id(&e.seller_id, &e.creator_id));
    let rejection = if c.blocked_by(t) {
        Some(PartnershipRejection::PlatformBlocked)
    } else if p.paused_by(t) {
        Some(PartnershipRejection::ConnectionPaused)
    } else {
        None
    };
    if let Some(reason) = rejection {
        ws.emit(
            e.creator_id.as_str(),
            OutcomeData::PartnershipRejected(PartnershipRejected {
                seller_id: e.seller_id.clone(),
                creator_id: e.creator_id.clone(),
                reason,
            }),
        );
        return;
    }
    super::model::insert_by_time(&mut p.partnership, t, e.commission_rate);
    c.partner_sellers.insert(e.seller_id.clone());
    ws.emit(
        e.creator_id.as_str(),
        OutcomeData::PartnershipAccepted(PartnershipAccepted {
            seller_id: e.seller_id.clone(),
            creator_id: e.creator_id.clone(),
        }),
    );
    c.notify_late_connection(&p, t, ws);
    // O9: the seller's orders with the creator since then may now earn the
    // partnership's rate.
    ws.sweep(Sweep {
        query: Query::PendingOrdersOfCreatorSince(e.creator_id.clone(), t),
        action: SweepAction::Redecide {
            seller: Some(e.seller_id.clone()),
        },
    });
    ws.put(p);
    ws.put(c);
}
