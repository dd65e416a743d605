//! The business rules of `../shared/spec/rules.md`, as plain functions of
//! (state, event, business time) → (state changes, outcomes).
//!
//! Nothing here does I/O or reads the wall clock. Each rule family lives in
//! one module:
//!
//! | module | rules |
//! | --- | --- |
//! | [`catalogue`] | product and creator reference data, creator groups (G1, G2) |
//! | [`commission`] | orders and commissions (O1–O8) |
//! | [`campaign`] | submission, payment, recall (C, P, R) |
//! | [`clock`] | the campaign clock, settlement, fees, tax reports (K) |
//! | [`participation`] | joining, tasks, challenges (J, T, H) |
//! | [`sample`] | free and refundable samples (S) |
//! | [`enforcement`] | community-guideline enforcement (V) |
//!
//! [`state`] holds the aggregates and the [`state::Workspace`] the rules
//! read and write through.

pub mod campaign;
pub mod catalogue;
pub mod clock;
pub mod commission;
pub mod enforcement;
pub mod ids;
pub mod participation;
pub mod sample;
pub mod state;

use chrono::Duration;

use crate::wire::events::Event;
use state::{Miss, Time, Workspace};

/// Business settings of the rules (the `[rules]` configuration section).
#[derive(Clone, Debug, PartialEq)]
pub struct Rules {
    /// K3: a challenge is finalized this long after its end.
    pub challenge_finalization_lag: Duration,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            challenge_finalization_lag: Duration::hours(1),
        }
    }
}

/// The business time of an event: the envelope `time`, except for a clock
/// tick, whose `now` is the time it announces.
pub fn business_time(envelope_time: Time, event: &Event) -> Time {
    match event {
        Event::ClockTicked(tick) => tick.now,
        _ => envelope_time,
    }
}

/// Applies one event. On `Err(Miss)` the workspace lists what to load.
pub fn apply(ws: &mut Workspace<'_>, event: &Event) -> Result<(), Miss> {
    match event {
        Event::ProductUpdated(e) => catalogue::product_updated(ws, e),
        Event::CreatorUpdated(e) => catalogue::creator_updated(ws, e),
        Event::CreatorGroupSaved(e) => catalogue::creator_group_saved(ws, e),
        Event::CampaignSubmitted(e) => campaign::submitted(ws, e),
        Event::CampaignRecallRequested(e) => campaign::recall_requested(ws, e),
        Event::PaymentSucceeded(e) => campaign::payment_succeeded(ws, e),
        Event::PaymentFailed(_) => Ok(()), // P3: the campaign waits for payment or expiry.
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
        Event::ContentPosted(e) => participation::content_posted(ws, e),
        Event::OrderPaid(e) => commission::order_paid(ws, e),
        Event::OrderCancelled(e) => commission::order_cancelled(ws, e),
        Event::OrderRefunded(e) => commission::order_refunded(ws, e),
        Event::OrderSettled(e) => commission::order_settled(ws, e),
        Event::CreatorViolationReported(e) => enforcement::violation_reported(ws, e),
        Event::CreatorPlatformBlocked(e) => enforcement::platform_blocked(ws, e),
        Event::ClockTicked(_) => clock::ticked(ws),
    }
}

#[cfg(test)]
pub mod testkit;

#[cfg(test)]
mod tests;
