//! The campaign clock (K1–K3, K7): a `clock.ticked` applies, in rule
//! order, everything that became due at or before its `now`.
//!
//! This module finds the due timers and moves campaigns through their
//! lifecycle; what a timer sets off in other families — settlement (K5),
//! challenge rankings (H3), refundable-sample deadlines (K4) — is wired in
//! the `cascade` module.

use std::sync::Arc;

use super::model::{Campaign, CampaignStatus, Clock, Emit, Seller, Time, Timer, TimerKey};
use super::workspace::{Plan, Query, Workspace};
use crate::wire::outcomes::{OutcomeData, TaxReportAvailable};
use crate::wire::values::{CampaignId, SellerId};

/// Reads: the clock, the timers due, and what each is about (its campaign,
/// its seller). Returns the due timers, for the families that react.
pub fn tick_reads(plan: &mut Plan<'_>, now: Time) -> Vec<Arc<Timer>> {
    plan.read::<Clock>(&());
    let due = plan.query::<Timer>(Query::TimersDue(now));
    for timer in &due {
        match &timer.id {
            TimerKey::PaymentDue(id) | TimerKey::Start(id) | TimerKey::End(id) | TimerKey::Finalize(id) => {
                plan.read::<Campaign>(id);
            }
            TimerKey::TaxReport(seller, _) => {
                plan.read::<Seller>(seller);
            }
            TimerKey::RefundableDeadline(_) => {}
        }
    }
    due
}

/// A tick: the timers due at or before its `now`, in rule order (K1…K7),
/// each removed. A tick not later than the latest one applied has no effect.
pub fn tick(ws: &mut Workspace<'_>) -> Vec<Timer> {
    let now = ws.now();
    let mut clock = ws.get_or_new::<Clock>(&());
    if clock.last_tick.is_some_and(|last| now <= last) {
        return Vec::new();
    }
    clock.last_tick = Some(now);
    ws.put(clock);
    let mut due = ws.query::<Timer>(&Query::TimersDue(now));
    due.sort_by(|a, b| (a.id.rank(), a.due_at, &a.id).cmp(&(b.id.rank(), b.due_at, &b.id)));
    for timer in &due {
        ws.delete::<Timer>(&timer.id);
    }
    due
}

/// The campaign if it is in status `from`; a timer whose campaign moved on
/// (recalled, paid…) does nothing.
pub fn campaign_in(ws: &mut Workspace<'_>, id: &CampaignId, from: CampaignStatus) -> Option<Campaign> {
    ws.get::<Campaign>(id).filter(|c| c.status == from)
}

/// K1: an unpaid campaign past its payment deadline expires.
pub fn payment_due(ws: &mut Workspace<'_>, id: &CampaignId) {
    if let Some(mut campaign) = campaign_in(ws, id, CampaignStatus::PendingPayment) {
        campaign.set_status(CampaignStatus::Expired, ws);
        ws.emit(campaign.id.as_str(), OutcomeData::CampaignExpired(campaign.reference()));
        ws.put(campaign);
    }
}

/// K2: a scheduled campaign starts.
pub fn start(ws: &mut Workspace<'_>, id: &CampaignId) {
    if let Some(mut campaign) = campaign_in(ws, id, CampaignStatus::Scheduled) {
        campaign.set_status(CampaignStatus::Ongoing, ws);
        ws.emit(campaign.id.as_str(), OutcomeData::CampaignStarted(campaign.reference()));
        ws.put(campaign);
    }
}

/// K3: an ongoing campaign ends. Returns it, not yet written: a task
/// campaign is settled at once, a challenge after the finalization lag.
pub fn end(ws: &mut Workspace<'_>, id: &CampaignId) -> Option<Campaign> {
    let mut campaign = campaign_in(ws, id, CampaignStatus::Ongoing)?;
    campaign.set_status(CampaignStatus::Ended, ws);
    ws.emit(campaign.id.as_str(), OutcomeData::CampaignEnded(campaign.reference()));
    Some(campaign)
}

/// K7: the month's tax report, once per seller and month.
pub fn tax_report(ws: &mut Workspace<'_>, seller_id: &SellerId, month: &str) {
    let mut seller = ws.get_or_new::<Seller>(seller_id);
    if seller.tax_reports_sent.insert(month.to_owned()) {
        ws.emit(
            &format!("{seller_id}/{month}"),
            OutcomeData::TaxReportAvailable(TaxReportAvailable {
                seller_id: seller_id.clone(),
                month: month.to_owned(),
            }),
        );
        ws.put(seller);
    }
}
