//! The business rules of `../shared/spec/rules.md`, as plain functions of
//! (state, event, business time) → (state changes, outcomes).
//!
//! Nothing here does I/O or reads the wall clock. The modules depend one
//! way (a test checks it, `tests::module_graph`):
//!
//! ```text
//!   ids ◄── model ◄── workspace ◄── catalogue, campaign, clock, commission,  ◄── cascade ◄── (this module:
//!                                   participation, sample, enforcement             dispatch)
//! ```
//!
//! | module | rules |
//! | --- | --- |
//! | [`catalogue`] | product and creator reference data, creator groups (G1; G2 is `CreatorProfile::matches`) |
//! | [`commission`] | orders and commissions (O1–O8) |
//! | [`campaign`] | submission, payment, recall, settlement, extra fee (C, P, R, K5, K6) |
//! | [`clock`] | the campaign clock, lifecycle, tax reports (K1–K3, K7) |
//! | [`participation`] | joining, tasks, challenges (J, T, H) |
//! | [`sample`] | free and refundable samples (S, K4) |
//! | [`enforcement`] | community-guideline enforcement (V) |
//! | [`cascade`] | reactions across families: progress follows orders, waiting orders follow products, the clock's timers |
//! | [`model`] | the aggregates, and what one aggregate does to itself (a commission's life: `model::order`) |
//! | [`workspace`] | how a rule reads and writes: [`workspace::Workspace`], and [`workspace::Plan`] for its reads |
//!
//! Each event has two functions, dispatched below: its `reads` (what it
//! will read, given what is loaded so far) and its rule.

pub mod campaign;
pub mod cascade;
pub mod catalogue;
pub mod clock;
pub mod commission;
pub mod enforcement;
pub mod ids;
pub mod model;
pub mod participation;
pub mod sample;
pub mod workspace;

pub use workspace::Rules;

use crate::wire::envelope::Outcome;
use crate::wire::events::Event;
use crate::wire::values::EventId;
use model::{Doc, Key, Time};
use workspace::{Decision, MemState, Plan, SweepAction, Workspace};

/// The business time of an event: the envelope `time`, except for a clock
/// tick, whose `now` is the time it announces.
pub fn business_time(envelope_time: Time, event: &Event) -> Time {
    match event {
        Event::ClockTicked(tick) => tick.now,
        _ => envelope_time,
    }
}

/// States what applying `event` will read, given what `plan` has loaded.
/// Called again with more loaded until nothing is missing.
pub fn reads(plan: &mut Plan<'_>, event: &Event) {
    match event {
        Event::ProductUpdated(e) => cascade::product_updated_reads(plan, e),
        Event::CreatorUpdated(e) => catalogue::creator_updated_reads(plan, e),
        Event::CreatorGroupSaved(e) => catalogue::creator_group_saved_reads(plan, e),
        Event::CampaignSubmitted(e) => campaign::submitted_reads(plan, e),
        Event::CampaignRecallRequested(e) => campaign::recall_requested_reads(plan, e),
        Event::PaymentSucceeded(e) => campaign::payment_succeeded_reads(plan, e),
        Event::PaymentFailed(_) => {}
        Event::SellerCreatorBlocked(e) | Event::SellerCreatorUnblocked(e) => {
            participation::blocklist_changed_reads(plan, e)
        }
        Event::PartnershipEstablished(e) => enforcement::partnership_established_reads(plan, e),
        Event::PartnershipPaused(e) => enforcement::partnership_paused_reads(plan, e),
        Event::DisputeOpened(e) => enforcement::dispute_opened_reads(plan, e),
        Event::DisputeResolved(e) => enforcement::dispute_resolved_reads(plan, e),
        Event::CreatorJoinRequested(e) => participation::join_requested_reads(plan, e),
        Event::SampleRequested(e) => sample::requested_reads(plan, e),
        Event::SampleShipped(e) | Event::SampleDelivered(e) => sample::progress_reads(plan, e),
        Event::SampleRefundablePurchased(e) => sample::refundable_purchased_reads(plan, e),
        Event::ContentPosted(e) => cascade::content_posted_reads(plan, e),
        Event::OrderPaid(e) => cascade::order_paid_reads(plan, e),
        Event::OrderCancelled(e) | Event::OrderSettled(e) => cascade::order_fact_reads(plan, e),
        Event::OrderRefunded(e) => cascade::order_refunded_reads(plan, e),
        Event::CreatorViolationReported(e) => enforcement::violation_reported_reads(plan, e),
        Event::CreatorPlatformBlocked(e) => enforcement::platform_blocked_reads(plan, e),
        Event::ClockTicked(_) => cascade::tick_reads(plan),
    }
}

/// Applies one event. What it read that was not loaded is in
/// [`Workspace::missing`]; the decision only counts if nothing was.
pub fn apply(ws: &mut Workspace<'_>, event: &Event) {
    match event {
        Event::ProductUpdated(e) => cascade::product_updated(ws, e),
        Event::CreatorUpdated(e) => catalogue::creator_updated(ws, e),
        Event::CreatorGroupSaved(e) => catalogue::creator_group_saved(ws, e),
        Event::CampaignSubmitted(e) => campaign::submitted(ws, e),
        Event::CampaignRecallRequested(e) => campaign::recall_requested(ws, e),
        Event::PaymentSucceeded(e) => campaign::payment_succeeded(ws, e),
        Event::PaymentFailed(_) => {} // P3: the campaign waits for payment or expiry.
        Event::SellerCreatorBlocked(e) => participation::blocklist_changed(ws, e, true),
        Event::SellerCreatorUnblocked(e) => participation::blocklist_changed(ws, e, false),
        Event::PartnershipEstablished(e) => enforcement::partnership_established(ws, e),
        Event::PartnershipPaused(e) => enforcement::partnership_paused(ws, e),
        Event::DisputeOpened(e) => enforcement::dispute_opened(ws, e),
        Event::DisputeResolved(e) => enforcement::dispute_resolved(ws, e),
        Event::CreatorJoinRequested(e) => participation::join_requested(ws, e),
        Event::SampleRequested(e) => sample::requested(ws, e),
        Event::SampleShipped(e) => sample::shipped(ws, e),
        Event::SampleDelivered(e) => sample::delivered(ws, e),
        Event::SampleRefundablePurchased(e) => sample::refundable_purchased(ws, e),
        Event::ContentPosted(e) => cascade::content_posted(ws, e),
        Event::OrderPaid(e) => cascade::order_paid(ws, e),
        Event::OrderCancelled(e) => cascade::order_cancelled(ws, e),
        Event::OrderRefunded(e) => cascade::order_refunded(ws, e),
        Event::OrderSettled(e) => cascade::order_settled(ws, e),
        Event::CreatorViolationReported(e) => enforcement::violation_reported(ws, e),
        Event::CreatorPlatformBlocked(e) => enforcement::platform_blocked(ws, e),
        Event::ClockTicked(_) => cascade::tick(ws),
    }
}

/// States what one document of a sweep will read.
pub fn sweep_reads(plan: &mut Plan<'_>, action: &SweepAction, doc: &Doc) {
    // One action today; other documents are not swept.
    if let (SweepAction::Redecide { .. }, Doc::Order(order)) = (action, doc) {
        cascade::redecide_reads(plan, order);
    }
}

/// Applies a sweep's action to one document. Each document is decided on
/// its own (one workspace each), after the documents before it.
pub fn sweep_apply(ws: &mut Workspace<'_>, action: &SweepAction, key: &Key) {
    if let (SweepAction::Redecide { seller }, Key::Order(id)) = (action, key) {
        cascade::redecide(ws, id, seller.as_ref());
    }
}

/// Decides an event on a complete in-memory state, its sweeps included, and
/// applies what it changed: the reference the pipeline must agree with (the
/// unit tests and the differential test use it). Returns every outcome, in
/// order.
pub fn decide_in_memory(
    state: &mut MemState,
    rules: &Rules,
    id: &EventId,
    envelope_time: Time,
    event: &Event,
) -> Vec<Outcome> {
    let now = business_time(envelope_time, event);
    let Decision {
        changes,
        mut outcomes,
        sweeps,
    } = {
        let mut ws = Workspace::new(state, rules, id.clone(), now);
        apply(&mut ws, event);
        ws.into_decision()
    };
    state.apply_changes(changes);
    for sweep in sweeps {
        for key in state.sweep_keys(&sweep.query) {
            let decision = {
                let mut ws = Workspace::new(state, rules, id.clone(), now);
                sweep_apply(&mut ws, &sweep.action, &key);
                ws.into_decision()
            };
            state.apply_changes(decision.changes);
            outcomes.extend(decision.outcomes);
        }
    }
    outcomes
}

#[cfg(test)]
pub mod testkit;

#[cfg(test)]
mod tests;
