//! The campaign clock (K1–K7): a `clock.ticked` applies everything that
//! became due at or before its `now`, in rule order.

use super::campaign::{campaign_ref, refund_seller};
use super::participation::finalize_challenge;
use super::sample::refundable_deadline;
use super::state::{Campaign, CampaignStatus, Clock, Miss, Query, Seller, Timer, TimerKey, Workspace};
use crate::wire::outcomes::{CampaignSettled, OutcomeData, RefundReason, TaxReportAvailable};

pub fn ticked(ws: &mut Workspace<'_>) -> Result<(), Miss> {
    let now = ws.now();
    let mut clock = ws.get::<Clock>(&())?.unwrap_or_default();
    if clock.last_tick.is_some_and(|last| now <= last) {
        // A stale or repeated tick has no effect.
        return Ok(());
    }
    clock.last_tick = Some(now);
    let mut due = ws.query::<Timer>(&Query::TimersDue(now))?;
    due.sort_by(|a, b| (a.id.rank(), a.due_at, &a.id).cmp(&(b.id.rank(), b.due_at, &b.id)));
    for timer in due {
        ws.delete::<Timer>(&timer.id);
        fire(ws, &timer.id)?;
    }
    ws.put(clock);
    Ok(())
}

fn fire(ws: &mut Workspace<'_>, timer: &TimerKey) -> Result<(), Miss> {
    match timer {
        TimerKey::PaymentDue(id) => transition(ws, id, CampaignStatus::PendingPayment, |ws, campaign| {
            // K1
            campaign.status = CampaignStatus::Expired;
            ws.emit(
                campaign.id.as_str(),
                OutcomeData::CampaignExpired(campaign_ref(campaign)),
            );
            Ok(())
        }),
        TimerKey::Start(id) => transition(ws, id, CampaignStatus::Scheduled, |ws, campaign| {
            // K2
            campaign.status = CampaignStatus::Ongoing;
            ws.emit(
                campaign.id.as_str(),
                OutcomeData::CampaignStarted(campaign_ref(campaign)),
            );
            Ok(())
        }),
        TimerKey::End(id) => transition(ws, id, CampaignStatus::Ongoing, |ws, campaign| {
            // K3: a task campaign settles at once; a challenge waits for the lag.
            campaign.status = CampaignStatus::Ended;
            ws.emit(campaign.id.as_str(), OutcomeData::CampaignEnded(campaign_ref(campaign)));
            if campaign.is_task() {
                settle(ws, campaign);
            }
            Ok(())
        }),
        TimerKey::Finalize(id) => transition(ws, id, CampaignStatus::Ended, |ws, campaign| {
            // K3, H3
            finalize_challenge(ws, campaign)?;
            settle(ws, campaign);
            Ok(())
        }),
        TimerKey::RefundableDeadline(id) => refundable_deadline(ws, id),
        TimerKey::TaxReport(seller_id, month) => {
            // K7
            let mut seller = ws
                .get::<Seller>(seller_id)?
                .unwrap_or_else(|| Seller::new(seller_id.clone()));
            if seller.tax_reports_sent.insert(month.clone()) {
                ws.emit(
                    &format!("{seller_id}/{month}"),
                    OutcomeData::TaxReportAvailable(TaxReportAvailable {
                        seller_id: seller_id.clone(),
                        month: month.clone(),
                    }),
                );
                ws.put(seller);
            }
            Ok(())
        }
    }
}

/// Runs `f` on the campaign if it is in status `from`; a timer whose
/// campaign moved on (recalled, paid…) does nothing.
fn transition(
    ws: &mut Workspace<'_>,
    id: &crate::wire::values::CampaignId,
    from: CampaignStatus,
    f: impl FnOnce(&mut Workspace<'_>, &mut Campaign) -> Result<(), Miss>,
) -> Result<(), Miss> {
    let Some(mut campaign) = ws.get::<Campaign>(id)? else {
        return Ok(());
    };
    if campaign.status != from {
        return Ok(());
    }
    f(ws, &mut campaign)?;
    ws.put(campaign);
    Ok(())
}

/// K5: charged = rewards issued and not cancelled; the rest is refunded.
pub fn settle(ws: &mut Workspace<'_>, campaign: &mut Campaign) {
    let rewards_total = campaign.rewards_total();
    let refunded = campaign.deposit - rewards_total;
    refund_seller(ws, campaign, refunded, RefundReason::UnusedBudget);
    campaign.status = CampaignStatus::Settled;
    ws.emit(
        campaign.id.as_str(),
        OutcomeData::CampaignSettled(CampaignSettled {
            campaign_id: campaign.id.clone(),
            seller_id: campaign.seller_id.clone(),
            deposit: campaign.deposit,
            rewards_total,
            charged: rewards_total,
            refunded,
            currency: campaign.currency.clone(),
        }),
    );
}
