//! Given/when/then for the rules: events in, outcomes out, no I/O.
//!
//! Every event a test applies is also checked against its stated reads:
//! the rules run on a lookup that records what they read, and everything
//! they read must be in what `domain::reads` planned for the event. So the
//! whole unit suite keeps the plans complete, and the pipeline's safety net
//! stays unused.

use std::cell::RefCell;
use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::events::Ev;
use crate::domain::model::{Aggregate, Doc, Key};
use crate::domain::workspace::{Decision, Lookup, MemState, Plan, Query, Rules, Workspace};
use crate::domain::{apply, business_time, reads, sweep_apply, sweep_reads};
use crate::wire::events::Event;
use crate::wire::outcomes::*;
use crate::wire::values::EventId;

/// A state under test and the outcomes it produced.
pub struct Scenario {
    pub state: MemState,
    pub rules: Rules,
    pub outcomes: Vec<OutcomeData>,
    events: u64,
}

impl Default for Scenario {
    fn default() -> Self {
        Self::new()
    }
}

/// A test time (RFC 3339); panics on a typo.
pub fn time(raw: &str) -> DateTime<Utc> {
    crate::wire::values::rfc3339::parse(raw).unwrap_or_else(|| panic!("bad test time {raw}"))
}

/// A lookup over the complete state that records what is read.
struct Recording<'a> {
    state: &'a MemState,
    keys: RefCell<BTreeSet<Key>>,
    queries: RefCell<Vec<Query>>,
}

impl Lookup for Recording<'_> {
    fn doc(&self, key: &Key) -> Option<Option<&Doc>> {
        self.keys.borrow_mut().insert(key.clone());
        self.state.doc(key)
    }
    fn query(&self, query: &Query) -> Option<Vec<Key>> {
        self.queries.borrow_mut().push(query.clone());
        self.state.query(query)
    }
    fn resident(&self, kind: &str) -> Vec<Key> {
        self.state.resident(kind)
    }
}

/// What a plan states (keys and queries), on the complete state: nothing is
/// missing there, so the lookup records what the plan reads.
fn planned(state: &MemState, now: DateTime<Utc>, reads: impl FnOnce(&mut Plan<'_>)) -> (BTreeSet<Key>, Vec<Query>) {
    let recording = Recording {
        state,
        keys: RefCell::default(),
        queries: RefCell::default(),
    };
    let mut plan = Plan::new(&recording, now);
    reads(&mut plan);
    let missing = plan.into_missing();
    assert!(
        missing.keys.is_empty() && missing.queries.is_empty(),
        "a complete state misses nothing"
    );
    (recording.keys.into_inner(), recording.queries.into_inner())
}

/// Runs `decide` on the state and checks that it read only what `planned`
/// states: by key, or as the answer of a stated query.
fn checked(
    state: &MemState,
    rules: &Rules,
    id: &str,
    now: DateTime<Utc>,
    what: &str,
    (planned_keys, planned_queries): (BTreeSet<Key>, Vec<Query>),
    decide: impl FnOnce(&mut Workspace<'_>),
) -> Decision {
    let recording = Recording {
        state,
        keys: RefCell::default(),
        queries: RefCell::default(),
    };
    let decision = {
        let mut ws = Workspace::new(&recording, rules, EventId::from(id), now);
        decide(&mut ws);
        assert!(ws.missing().is_empty(), "an in-memory state never misses");
        ws.into_decision()
    };
    for query in recording.queries.borrow().iter() {
        assert!(
            planned_queries.contains(query),
            "{what}: the rules ran {query:?}, which its reads do not state"
        );
    }
    let answered = |key: &Key| {
        planned_queries
            .iter()
            .any(|q| q.kind() == key.kind() && state.docs.get(key).is_some_and(|doc| q.matches(doc)))
    };
    for key in recording.keys.borrow().iter() {
        assert!(
            planned_keys.contains(key) || answered(key),
            "{what}: the rules read {key:?}, which its reads do not state"
        );
    }
    decision
}

impl Scenario {
    pub fn new() -> Self {
        Self {
            state: MemState::default(),
            rules: Rules::default(),
            outcomes: Vec::new(),
            events: 0,
        }
    }

    /// Applies an event given by type, envelope time and data; returns its outcomes.
    pub fn when(&mut self, type_name: &str, at: &str, data: Value) -> Vec<OutcomeData> {
        self.events += 1;
        let id = format!("e{}", self.events);
        self.apply_as(&id, type_name, at, data)
    }

    /// Applies an event with a chosen id (to test duplicates of ids).
    pub fn apply_as(&mut self, id: &str, type_name: &str, at: &str, data: Value) -> Vec<OutcomeData> {
        let event = match Event::parse(type_name, &data) {
            Ok(Some(event)) => event,
            other => panic!("bad test event {type_name}: {other:?}"),
        };
        self.apply_event(id, time(at), &event)
    }

    /// Applies a typed event as `decide_in_memory` does — the event, then
    /// its sweeps document by document — checking that each decision reads
    /// only what its plan states.
    pub fn apply_event(&mut self, id: &str, envelope_time: DateTime<Utc>, event: &Event) -> Vec<OutcomeData> {
        let now = business_time(envelope_time, event);
        let what = event.type_name();
        let plan = planned(&self.state, now, |plan| reads(plan, event));
        let decision = checked(&self.state, &self.rules, id, now, what, plan, |ws| apply(ws, event));
        self.state.apply_changes(decision.changes);
        let mut produced: Vec<OutcomeData> = decision.outcomes.into_iter().map(|o| o.data).collect();
        for sweep in decision.sweeps {
            for key in self.state.sweep_keys(&sweep.query) {
                let Some(doc) = self.state.docs.get(&key).cloned() else {
                    continue;
                };
                let plan = planned(&self.state, now, |plan| sweep_reads(plan, &sweep.action, &doc));
                let decision = checked(&self.state, &self.rules, id, now, what, plan, |ws| {
                    sweep_apply(ws, &sweep.action, &key)
                });
                self.state.apply_changes(decision.changes);
                produced.extend(decision.outcomes.into_iter().map(|o| o.data));
            }
        }
        self.outcomes.extend(produced.iter().cloned());
        produced
    }

    pub fn get<A: Aggregate>(&self, id: &A::Id) -> Option<A> {
        self.state.get::<A>(id)
    }

    /// A tick of the campaign clock.
    pub fn tick(&mut self, now: &str) -> Vec<OutcomeData> {
        self.when("clock.ticked", now, json!({ "now": now }))
    }

    /// Given: applies a built event at envelope time `at`, for what it
    /// sets up (its outcomes stay in [`Scenario::outcomes`]).
    pub fn given(&mut self, at: &str, ev: Ev) -> &mut Self {
        self.on(at, ev);
        self
    }

    /// When: applies a built event at envelope time `at`; then: its
    /// outcomes, typed.
    pub fn on(&mut self, at: &str, ev: Ev) -> Outcomes {
        self.events += 1;
        let id = format!("e{}", self.events);
        Outcomes(self.apply_event(&id, time(at), &ev.event()))
    }
}

/// The outcomes of one event, with a typed accessor per outcome type:
/// `out.commission_accrued()[0].amount`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outcomes(pub Vec<OutcomeData>);

impl std::ops::Deref for Outcomes {
    type Target = [OutcomeData];
    fn deref(&self) -> &[OutcomeData] {
        &self.0
    }
}

impl Outcomes {
    /// The outcome types, in order.
    pub fn types(&self) -> Vec<&'static str> {
        types(&self.0)
    }
}

/// Declares the typed accessors of [`Outcomes`], one per outcome type.
macro_rules! typed_outcomes {
    ($($method:ident => $variant:ident($ty:ty)),* $(,)?) => {
        impl Outcomes {
            $(
                #[doc = concat!("Every `", stringify!($variant), "` outcome, in order.")]
                pub fn $method(&self) -> Vec<&$ty> {
                    self.0
                        .iter()
                        .filter_map(|o| match o {
                            OutcomeData::$variant(data) => Some(data),
                            _ => None,
                        })
                        .collect()
                }
            )*
        }
    };
}

typed_outcomes! {
    campaign_accepted => CampaignAccepted(CampaignAccepted),
    campaign_rejected => CampaignRejected(CampaignRejected),
    campaign_scheduled => CampaignScheduled(CampaignScheduled),
    payment_rejected => PaymentRejected(PaymentRejected),
    campaign_expired => CampaignExpired(CampaignRef),
    campaign_started => CampaignStarted(CampaignRef),
    campaign_ended => CampaignEnded(CampaignRef),
    campaign_recalled => CampaignRecalled(CampaignRef),
    campaign_recall_rejected => CampaignRecallRejected(CampaignRecallRejected),
    campaign_settled => CampaignSettled(CampaignSettled),
    creator_group_rejected => CreatorGroupRejected(CreatorGroupRejected),
    participation_accepted => ParticipationAccepted(ParticipationAccepted),
    participation_rejected => ParticipationRejected(ParticipationRejected),
    participation_status_changed => ParticipationStatusChanged(ParticipationStatusChanged),
    task_finished => TaskFinished(TaskFinished),
    reward_issued => RewardIssued(RewardIssued),
    reward_cancelled => RewardCancelled(RewardCancelled),
    commission_accrued => CommissionAccrued(CommissionAccrued),
    commission_adjusted => CommissionAdjusted(CommissionAdjusted),
    commission_cancelled => CommissionCancelled(CommissionCancelled),
    commission_payable => CommissionPayable(CommissionPayable),
    commission_clawback => CommissionClawback(CommissionClawback),
    commission_demoted => CommissionDemoted(CommissionDemoted),
    seller_violation_notice => SellerViolationNotice(SellerViolationNotice),
    partnership_accepted => PartnershipAccepted(PartnershipAccepted),
    partnership_rejected => PartnershipRejected(PartnershipRejected),
    sample_approved => SampleApproved(SampleApproved),
    sample_rejected => SampleRejected(SampleRejected),
    sample_refund_expired => SampleRefundExpired(SampleRefundExpired),
    refund_due => RefundDue(RefundDue),
    fee_charged => FeeCharged(FeeCharged),
    tax_report_available => TaxReportAvailable(TaxReportAvailable),
}

/// Outcome types, for compact assertions.
pub fn types(outcomes: &[OutcomeData]) -> Vec<&'static str> {
    outcomes.iter().map(OutcomeData::type_name).collect()
}

/// The outcome's data as JSON, for field assertions.
pub fn data(outcome: &OutcomeData) -> Value {
    serde_json::to_value(outcome).unwrap_or(Value::Null)
}

/// Data of the first outcome of a type.
pub fn first(outcomes: &[OutcomeData], type_name: &str) -> Value {
    outcomes
        .iter()
        .find(|o| o.type_name() == type_name)
        .map(data)
        .unwrap_or_else(|| panic!("no {type_name} in {:?}", types(outcomes)))
}

/// `product.updated` data (see [`super::events::product_updated`]).
pub fn product(id: &str, seller: &str, open_rate: Option<&str>) -> Value {
    super::events::product_updated(id, seller, open_rate).data
}

/// `order.paid` data (see [`super::events::order_paid`]).
pub fn order(id: &str, seller: &str, product: &str, creator: Option<&str>, amount: &str) -> Value {
    super::events::order_paid(id, seller, product, creator, amount).data
}

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;

    use super::super::events::{order_paid, product_updated};
    use super::*;

    #[test]
    fn given_when_then_answers_with_typed_outcomes() {
        let mut s = Scenario::new();
        s.given("2026-10-01T00:00:00Z", product_updated("P1", "S1", Some("0.10")));
        let out = s.on(
            "2026-10-01T10:00:00Z",
            order_paid("O1", "S1", "P1", Some("C1"), "100.00"),
        );
        assert_eq!(out.types(), ["commission.accrued"]);
        let accrued = out.commission_accrued();
        assert_eq!(accrued[0].amount, Decimal::new(1000, 2));
        assert_eq!(accrued[0].order_id.as_str(), "O1");
        assert!(out.commission_cancelled().is_empty());
    }
}
