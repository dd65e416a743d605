//! Community-guideline enforcement (V1–V7): demotion, notices, paused
//! connections, disputes, platform blocks, partnerships.
//!
//! Each rule here decides *which* commissions it touches; what happens to one
//! commission is in [`super::commission`], shared with late-arriving orders
//! that replay these facts.

use std::collections::BTreeSet;

use super::commission;
use super::participation::set_status;
use super::state::{Campaign, Creator, Dispute, Miss, Order, Pair, Participation, Query, Time, Violation, Workspace};
use crate::wire::events::{
    CreatorPlatformBlocked, CreatorViolationReported, DisputeOpened, DisputeResolved, PartnershipEstablished,
    SellerCreator,
};
use crate::wire::outcomes::{
    CancelReason, CommissionDemoted, OutcomeData, ParticipationStatus, PartnershipAccepted, PartnershipRejected,
    PartnershipRejection, RewardCancelReason, RewardCancelled, SellerViolationNotice,
};
use crate::wire::values::{CreatorId, Rate, SellerId};

fn creator(ws: &mut Workspace<'_>, id: &CreatorId) -> Result<Creator, Miss> {
    Ok(ws.get::<Creator>(id)?.unwrap_or_else(|| Creator::new(id.clone())))
}

fn pair(ws: &mut Workspace<'_>, seller: &SellerId, creator: &CreatorId) -> Result<Pair, Miss> {
    let id = (seller.clone(), creator.clone());
    Ok(ws
        .get::<Pair>(&id)?
        .unwrap_or_else(|| Pair::new(seller.clone(), creator.clone())))
}

/// Pending commissions of a creator, optionally only those with one seller.
fn pending_orders(ws: &mut Workspace<'_>, creator: &CreatorId, seller: Option<&SellerId>) -> Result<Vec<Order>, Miss> {
    let mut orders = ws.query::<Order>(&Query::PendingOrdersOf(creator.clone()))?;
    if let Some(seller) = seller {
        orders.retain(|o| o.paid.as_ref().is_some_and(|p| &p.seller_id == seller));
    }
    orders.sort_by(|a, b| (a.paid.as_ref().map(|p| p.time), &a.id).cmp(&(b.paid.as_ref().map(|p| p.time), &b.id)));
    Ok(orders)
}

/// V1, V2
pub fn violation_reported(ws: &mut Workspace<'_>, e: &CreatorViolationReported) -> Result<(), Miss> {
    let mut c = creator(ws, &e.creator_id)?;
    if c.violations.iter().any(|v| v.id == e.violation_id) {
        return Ok(());
    }
    let mut violation = Violation {
        id: e.violation_id.clone(),
        time: ws.now(),
        notified: BTreeSet::new(),
    };
    ws.emit(
        e.violation_id.as_str(),
        OutcomeData::CommissionDemoted(CommissionDemoted {
            creator_id: e.creator_id.clone(),
            violation_id: e.violation_id.clone(),
            rate: Rate::ZERO,
        }),
    );
    for mut order in pending_orders(ws, &e.creator_id, None)? {
        commission::on_violation(ws, &mut order);
        ws.put(order);
    }
    // V2: sellers with a partnership or a live campaign participation.
    let mut sellers: BTreeSet<SellerId> = c.partner_sellers.clone();
    let keys: Vec<_> = c
        .participations
        .iter()
        .map(|(k, _)| (k.clone(), c.id.clone()))
        .collect();
    for p in ws.get_many::<Participation>(&keys)?.into_iter().flatten() {
        if p.status != ParticipationStatus::Removed {
            sellers.insert(p.seller_id);
        }
    }
    for seller in sellers {
        notify(ws, &c.id, &mut violation, &seller);
    }
    c.violations.push(violation);
    ws.put(c);
    Ok(())
}

/// V2: one `seller.violation_notice` per (violation, seller), whichever
/// event causes it.
fn notify(ws: &mut Workspace<'_>, creator: &CreatorId, violation: &mut Violation, seller: &SellerId) {
    if !violation.notified.insert(seller.clone()) {
        return;
    }
    ws.emit(
        &format!("{seller}/{}", violation.id),
        OutcomeData::SellerViolationNotice(SellerViolationNotice {
            seller_id: seller.clone(),
            creator_id: creator.clone(),
            violation_id: violation.id.clone(),
            options: ["pause", "dispute", "none"],
        }),
    );
}

/// V2 for a connection that arrived after violations later than it: a
/// partnership or an accepted participation of `pair`'s seller since
/// `since`. The seller was connected with the creator when each violation
/// at or after `since` happened (a fact at the same instant counts as
/// earlier, decision 1), unless the pair was paused by then, so it gets the
/// notice it would have had in time order — once.
pub fn notify_late_connection(ws: &mut Workspace<'_>, creator: &mut Creator, pair: &Pair, since: Time) {
    let seller = &pair.id.0;
    for violation in creator.violations.iter_mut() {
        if violation.time >= since && !pair.paused_by(violation.time) {
            notify(ws, &pair.id.1, violation, seller);
        }
    }
}

/// V3: the connection ends for good.
pub fn partnership_paused(ws: &mut Workspace<'_>, e: &SellerCreator) -> Result<(), Miss> {
    let mut p = pair(ws, &e.seller_id, &e.creator_id)?;
    if p.paused_at.is_some() {
        return Ok(());
    }
    let paused_at = ws.now();
    p.paused_at = Some(paused_at);
    ws.put(p);
    let mut c = creator(ws, &e.creator_id)?;
    c.partner_sellers.remove(&e.seller_id);
    for mut order in pending_orders(ws, &e.creator_id, Some(&e.seller_id))? {
        // An order made at or after the pause earns 0 (O2.2), whenever the pause arrives.
        if order.paid.as_ref().is_some_and(|paid| paid.time >= paused_at) {
            commission::on_pause_after_order(ws, &mut order);
        } else {
            commission::on_pause(ws, &mut order);
        }
        ws.put(order);
    }
    let keys: Vec<_> = c
        .participations
        .iter()
        .filter(|(_, seller)| *seller == e.seller_id)
        .map(|(k, _)| (k.clone(), c.id.clone()))
        .collect();
    for mut participation in ws.get_many::<Participation>(&keys)?.into_iter().flatten() {
        set_status(ws, &mut participation, ParticipationStatus::Removed);
        ws.put(participation);
    }
    ws.put(c);
    Ok(())
}

/// V4: an open dispute holds the pair's pending commissions.
pub fn dispute_opened(ws: &mut Workspace<'_>, e: &DisputeOpened) -> Result<(), Miss> {
    let mut dispute = ws
        .get::<Dispute>(&e.dispute_id)?
        .unwrap_or_else(|| Dispute::new(e.dispute_id.clone()));
    if dispute.opened.is_some() {
        return Ok(());
    }
    dispute.opened = Some((ws.now(), e.seller_id.clone(), e.creator_id.clone()));
    let mut p = pair(ws, &e.seller_id, &e.creator_id)?;
    p.disputes.push(e.dispute_id.clone());
    ws.put(p);
    for mut order in pending_orders(ws, &e.creator_id, Some(&e.seller_id))? {
        commission::hold(&mut order, &e.dispute_id);
        ws.put(order);
    }
    // The resolution may have arrived first.
    if dispute.resolved.is_some() {
        resolve(ws, &dispute)?;
    }
    ws.put(dispute);
    Ok(())
}

/// V4: listed orders are cancelled, the others released.
pub fn dispute_resolved(ws: &mut Workspace<'_>, e: &DisputeResolved) -> Result<(), Miss> {
    let mut dispute = ws
        .get::<Dispute>(&e.dispute_id)?
        .unwrap_or_else(|| Dispute::new(e.dispute_id.clone()));
    if dispute.resolved.is_some() {
        return Ok(());
    }
    dispute.resolved = Some((ws.now(), e.cancelled_order_ids.clone()));
    if dispute.opened.is_some() {
        resolve(ws, &dispute)?;
    }
    ws.put(dispute);
    Ok(())
}

fn resolve(ws: &mut Workspace<'_>, dispute: &Dispute) -> Result<(), Miss> {
    let (Some((_, seller, creator)), Some((resolved_at, listed))) = (&dispute.opened, &dispute.resolved) else {
        return Ok(());
    };
    let paused = pair(ws, seller, creator)?.paused_by(*resolved_at);
    let mut orders = pending_orders(ws, creator, Some(seller))?;
    let extra: Vec<_> = listed
        .iter()
        .filter(|id| !orders.iter().any(|o| &o.id == *id))
        .cloned()
        .collect();
    orders.extend(ws.get_many::<Order>(&extra)?.into_iter().flatten());
    for mut order in orders {
        let of_pair = order
            .paid
            .as_ref()
            .is_some_and(|p| &p.seller_id == seller && p.creator_id.as_ref() == Some(creator));
        if !of_pair {
            continue;
        }
        let is_listed = listed.contains(&order.id);
        commission::on_dispute_resolved(ws, &mut order, &dispute.id, is_listed, paused);
        ws.put(order);
    }
    Ok(())
}

/// V6: final. Pending commissions and unsettled rewards are cancelled.
pub fn platform_blocked(ws: &mut Workspace<'_>, e: &CreatorPlatformBlocked) -> Result<(), Miss> {
    let mut c = creator(ws, &e.creator_id)?;
    if c.blocked_at.is_some() {
        return Ok(());
    }
    c.blocked_at = Some(ws.now());
    for mut order in pending_orders(ws, &e.creator_id, None)? {
        commission::cancel_pending(ws, &mut order, CancelReason::PlatformBlocked);
        ws.put(order);
    }
    // Rewards already issued in campaigns not yet settled are cancelled.
    let keys: Vec<_> = c
        .participations
        .iter()
        .map(|(k, _)| (k.clone(), c.id.clone()))
        .collect();
    for mut p in ws.get_many::<Participation>(&keys)?.into_iter().flatten() {
        let Some(reward) = p.reward.as_mut().filter(|r| !r.cancelled) else {
            continue;
        };
        let Some(mut campaign) = ws.get::<Campaign>(&p.id.0)?.filter(|k| !k.is_closed()) else {
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
    Ok(())
}

/// V7: a partnership (also how a seller keeps a demoted creator).
pub fn partnership_established(ws: &mut Workspace<'_>, e: &PartnershipEstablished) -> Result<(), Miss> {
    let t = ws.now();
    let mut c = creator(ws, &e.creator_id)?;
    let mut p = pair(ws, &e.seller_id, &e.creator_id)?;
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
        return Ok(());
    }
    super::state::insert_by_time(&mut p.partnership, t, e.commission_rate);
    c.partner_sellers.insert(e.seller_id.clone());
    ws.emit(
        e.creator_id.as_str(),
        OutcomeData::PartnershipAccepted(PartnershipAccepted {
            seller_id: e.seller_id.clone(),
            creator_id: e.creator_id.clone(),
        }),
    );
    notify_late_connection(ws, &mut c, &p, t);
    ws.put(p);
    ws.put(c);
    Ok(())
}
