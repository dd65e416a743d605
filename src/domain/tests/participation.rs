//! Creators in campaigns: joining (J1–J3), task progress and rewards (T1–T3),
//! challenges (H1–H3), samples (S1–S3, K4) and the campaign parts of the
//! commission rate (O2, O4). Each test reads given / when / then.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::domain::model::{Campaign, CampaignStatus, Participation};
use crate::domain::testkit::*;
use crate::wire::outcomes::{OutcomeData, ParticipationStatus};
use crate::wire::values::{CampaignId, CreatorId};

// ---------------------------------------------------------------------------
// The world the tests build
// ---------------------------------------------------------------------------

const SELLER: &str = "s1";
const OTHER_SELLER: &str = "s2";
/// On open collaboration at 10 % (shop ads 5 %); in every campaign at 15 %
/// (shop ads 8 %), with free samples and a refundable-sample goal of 3 units.
const P: &str = "p1";
/// Not on open collaboration; in every campaign, without a rate or samples.
const P_PLAIN: &str = "p2";
/// The seller's product that no campaign includes.
const P_OUTSIDE: &str = "p3";
/// The other seller's product.
const Q: &str = "q1";

const ALICE: &str = "alice";
const BOB: &str = "bob";
const CAROL: &str = "carol";
const DAVE: &str = "dave";

/// Products, creator profiles and groups are described at this time.
const CATALOGUE: &str = "2024-09-01T00:00:00Z";
/// Campaigns are submitted and paid at this time (unless a test says otherwise).
const SUBMITTED: &str = "2024-09-20T00:00:00Z";
/// The default campaign runs Oct 2 – Oct 20.
const START: &str = "2024-10-02T00:00:00Z";
const END: &str = "2024-10-20T00:00:00Z";
/// END + the default finalization lag of one hour.
const FINALIZED: &str = "2024-10-20T01:00:00Z";

/// `2024-10-<day>T<hour>:00:00Z`
fn oct(day: u32, hour: u32) -> String {
    format!("2024-10-{day:02}T{hour:02}:00:00Z")
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `raw` shifted by `d`.
fn plus(raw: &str, d: Duration) -> String {
    iso(time(raw) + d)
}

fn with(mut v: Value, key: &str, value: Value) -> Value {
    v[key] = value;
    v
}

fn group(seller: &str, id: &str, criteria: Value) -> Value {
    json!({ "seller_id": seller, "group_id": id, "name": id, "criteria": criteria })
}

/// A level-4 beauty creator making videos, low fake-order risk.
fn profile(id: &str) -> Value {
    json!({
        "creator_id": id, "level": 4, "followers": 5000, "categories": ["beauty"],
        "content_types": ["video"], "avg_commission_rate": "0.12", "fake_order_risk": "low"
    })
}

/// The catalogue, a group `everyone` per seller, a group `level5` of the
/// seller, and profiles for Alice, Bob, Carol and Dave.
fn world() -> Scenario {
    let mut s = Scenario::new();
    let mut p = product(P, SELLER, Some("0.10"));
    p["open_collab_shop_ads_rate"] = json!("0.05");
    s.when("product.updated", CATALOGUE, p);
    s.when("product.updated", CATALOGUE, product(P_PLAIN, SELLER, None));
    s.when("product.updated", CATALOGUE, product(P_OUTSIDE, SELLER, Some("0.10")));
    s.when("product.updated", CATALOGUE, product(Q, OTHER_SELLER, Some("0.10")));
    s.when("creator_group.saved", CATALOGUE, group(SELLER, "everyone", json!({})));
    s.when(
        "creator_group.saved",
        CATALOGUE,
        group(SELLER, "level5", json!({ "level_min": 5 })),
    );
    s.when(
        "creator_group.saved",
        CATALOGUE,
        group(OTHER_SELLER, "everyone", json!({})),
    );
    for c in [ALICE, BOB, CAROL, DAVE] {
        s.when("creator.updated", CATALOGUE, profile(c));
    }
    s
}

fn products() -> Value {
    json!([
        {
            "product_id": P, "commission_rate": "0.15", "shop_ads_rate": "0.08",
            "free_sample": true, "refundable_sample_goal_units": 3
        },
        { "product_id": P_PLAIN, "free_sample": false }
    ])
}

/// A task campaign of the seller over Oct 2 – Oct 20: reward 10.00, budget
/// 30.00 (capacity 3), the given tasks.
fn task(id: &str, tasks: Value) -> Value {
    json!({
        "campaign_id": id, "seller_id": SELLER, "type": "task", "title": id,
        "starts_at": START, "ends_at": END, "creator_group_id": "everyone", "currency": "USD",
        "budget": "30.00", "prompt_ads_authorization": true, "products": products(),
        "task": { "reward": "10.00", "tasks": tasks }
    })
}

fn gmv_task(content_type: &str, target: &str) -> Value {
    json!({ "kind": "gmv", "content_type": content_type, "target": target })
}

fn orders_task(content_type: &str, target: i64) -> Value {
    json!({ "kind": "orders", "content_type": content_type, "target": target })
}

fn content_task(content_type: &str, target: i64) -> Value {
    json!({ "kind": "content", "content_type": content_type, "target": target })
}

/// A challenge of the seller over Oct 2 – Oct 20 on video orders: rank 1 gets
/// 50.00, ranks 2–3 get 20.00 each (budget 90.00).
fn challenge(id: &str, metric: &str, min_value: Value) -> Value {
    json!({
        "campaign_id": id, "seller_id": SELLER, "type": "challenge", "title": id,
        "starts_at": START, "ends_at": END, "creator_group_id": "everyone", "currency": "USD",
        "budget": "90.00", "prompt_ads_authorization": true, "products": products(),
        "challenge": {
            "metric": metric, "content_types": ["video"], "min_value": min_value,
            "rank_rewards": [
                { "from_rank": 1, "to_rank": 1, "amount_each": "50.00" },
                { "from_rank": 2, "to_rank": 3, "amount_each": "20.00" }
            ]
        }
    })
}

fn text(v: &Value) -> String {
    v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string())
}

/// Submits and pays a campaign at `at`.
fn launch_at(s: &mut Scenario, at: &str, campaign: Value) {
    let id = text(&campaign["campaign_id"]);
    let seller = text(&campaign["seller_id"]);
    let budget = text(&campaign["budget"]);
    let out = s.when("campaign.submitted", at, campaign);
    assert_eq!(types(&out), ["campaign.accepted"], "{out:?}");
    let out = s.when(
        "payment.succeeded",
        at,
        json!({
            "payment_id": format!("pay-{id}"), "campaign_id": id, "seller_id": seller,
            "amount": budget, "currency": "USD", "method": "credit_card"
        }),
    );
    assert_eq!(types(&out), ["campaign.scheduled"], "{out:?}");
}

/// Submits and pays a campaign on Sep 20: it is `scheduled`.
fn launch(s: &mut Scenario, campaign: Value) {
    launch_at(s, SUBMITTED, campaign);
}

fn join(s: &mut Scenario, campaign: &str, creator: &str, at: &str) -> Vec<OutcomeData> {
    s.when(
        "creator.join_requested",
        at,
        json!({ "campaign_id": campaign, "creator_id": creator }),
    )
}

/// Joins and asserts the participation was accepted.
fn joined(s: &mut Scenario, campaign: &str, creator: &str, at: &str) {
    let out = join(s, campaign, creator, at);
    assert_eq!(
        types(&out),
        ["participation.accepted"],
        "{creator} joins {campaign}: {out:?}"
    );
}

/// The reason of the one `participation.rejected` outcome.
fn rejection(out: &[OutcomeData]) -> String {
    assert_eq!(types(out), ["participation.rejected"], "{out:?}");
    text(&first(out, "participation.rejected")["reason"])
}

fn sale_of(id: &str, creator: &str, amount: &str) -> Value {
    order(id, SELLER, P, Some(creator), amount)
}

/// An attributed video order of product P.
fn sell(s: &mut Scenario, id: &str, creator: &str, amount: &str, at: &str) -> Vec<OutcomeData> {
    s.when("order.paid", at, sale_of(id, creator, amount))
}

fn cancel(s: &mut Scenario, id: &str, at: &str) -> Vec<OutcomeData> {
    s.when("order.cancelled", at, json!({ "order_id": id }))
}

fn refund(s: &mut Scenario, id: &str, amount: &str, at: &str) -> Vec<OutcomeData> {
    s.when("order.refunded", at, json!({ "order_id": id, "amount": amount }))
}

fn post(
    s: &mut Scenario,
    id: &str,
    creator: &str,
    content_type: &str,
    products: &[&str],
    at: &str,
) -> Vec<OutcomeData> {
    s.when(
        "content.posted",
        at,
        json!({
            "content_id": id, "creator_id": creator, "content_type": content_type,
            "product_ids": products, "ads_authorized": true
        }),
    )
}

fn block(s: &mut Scenario, creator: &str, at: &str) -> Vec<OutcomeData> {
    s.when(
        "seller.creator_blocked",
        at,
        json!({ "seller_id": SELLER, "creator_id": creator }),
    )
}

fn unblock(s: &mut Scenario, creator: &str, at: &str) -> Vec<OutcomeData> {
    s.when(
        "seller.creator_unblocked",
        at,
        json!({ "seller_id": SELLER, "creator_id": creator }),
    )
}

fn pause(s: &mut Scenario, creator: &str, at: &str) -> Vec<OutcomeData> {
    s.when(
        "partnership.paused",
        at,
        json!({ "seller_id": SELLER, "creator_id": creator }),
    )
}

fn platform_block(s: &mut Scenario, creator: &str, at: &str) -> Vec<OutcomeData> {
    s.when(
        "creator.platform_blocked",
        at,
        json!({ "creator_id": creator, "reason": "fraud" }),
    )
}

fn participation(s: &Scenario, campaign: &str, creator: &str) -> Participation {
    s.get::<Participation>(&(CampaignId::from(campaign), CreatorId::from(creator)))
        .unwrap_or_else(|| panic!("{creator} participates in {campaign}"))
}

fn status(s: &Scenario, campaign: &str, creator: &str) -> ParticipationStatus {
    participation(s, campaign, creator).status
}

fn campaign(s: &Scenario, id: &str) -> Campaign {
    s.get::<Campaign>(&CampaignId::from(id))
        .unwrap_or_else(|| panic!("campaign {id} is known"))
}

fn all(out: &[OutcomeData], type_name: &str) -> Vec<Value> {
    out.iter().filter(|o| o.type_name() == type_name).map(data).collect()
}

fn count(out: &[OutcomeData], type_name: &str) -> usize {
    types(out).iter().filter(|t| **t == type_name).count()
}

fn money(v: &Value) -> Decimal {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not money: {v}"))
}

fn time_of(v: &Value) -> DateTime<Utc> {
    time(v.as_str().unwrap_or_else(|| panic!("not a time: {v}")))
}

/// The statuses announced by `participation.status_changed`, in order.
fn status_changes(out: &[OutcomeData]) -> Vec<String> {
    all(out, "participation.status_changed")
        .iter()
        .map(|d| text(&d["status"]))
        .collect()
}

/// `refund.due` outcomes of unused budget.
fn unused_budget(out: &[OutcomeData]) -> Vec<Value> {
    all(out, "refund.due")
        .into_iter()
        .filter(|r| r["reason"] == "unused_budget")
        .collect()
}

/// Creators rewarded by the outcomes, with kind, rank and amount.
fn rewards(out: &[OutcomeData]) -> Vec<(String, String, Value, String)> {
    all(out, "reward.issued")
        .iter()
        .map(|r| {
            (
                text(&r["creator_id"]),
                text(&r["kind"]),
                r["rank"].clone(),
                text(&r["amount"]),
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------
// J1 — joining
// ---------------------------------------------------------------------------

/// A scheduled task campaign `k1` (one content task) in the world.
fn given_a_scheduled_task() -> Scenario {
    let mut s = world();
    launch(&mut s, task("k1", json!([content_task("any", 1)])));
    s
}

#[test]
fn j1_given_a_scheduled_campaign_and_a_matching_creator_when_she_joins_then_she_is_accepted_as_unfinished() {
    let mut s = given_a_scheduled_task();
    let out = join(&mut s, "k1", ALICE, &oct(1, 0));
    assert_eq!(types(&out), ["participation.accepted"]);
    let accepted = first(&out, "participation.accepted");
    assert_eq!(accepted["campaign_id"], "k1");
    assert_eq!(accepted["creator_id"], ALICE);
    assert_eq!(accepted["seller_id"], SELLER);
    assert_eq!(accepted["fake_order_risk"], "low");
    let p = participation(&s, "k1", ALICE);
    assert_eq!(p.status, ParticipationStatus::Unfinished);
    assert_eq!(p.joined_at, time(&oct(1, 0)));
    assert_eq!(campaign(&s, "k1").participant_count, 1);
}

#[test]
fn j1_given_an_ongoing_campaign_when_a_matching_creator_joins_then_she_is_accepted() {
    let mut s = given_a_scheduled_task();
    assert_eq!(types(&s.tick(START)), ["campaign.started"]);
    joined(&mut s, "k1", ALICE, &oct(5, 0));
}

#[test]
fn j1_given_no_such_campaign_when_a_creator_joins_then_she_is_rejected_campaign_not_open() {
    let mut s = world();
    assert_eq!(rejection(&join(&mut s, "nope", ALICE, &oct(1, 0))), "campaign_not_open");
}

#[test]
fn j1_given_a_campaign_awaiting_payment_when_a_creator_joins_then_she_is_rejected_campaign_not_open() {
    let mut s = world();
    let out = s.when(
        "campaign.submitted",
        SUBMITTED,
        task("k1", json!([content_task("any", 1)])),
    );
    assert_eq!(types(&out), ["campaign.accepted"]);
    assert_eq!(rejection(&join(&mut s, "k1", ALICE, SUBMITTED)), "campaign_not_open");
}

/// Task `k1` submitted on Sep 20 00:00 and paid on Sep 20 at `paid`.
fn given_a_task_paid_at(paid: &str) -> Scenario {
    let mut s = world();
    let out = s.when(
        "campaign.submitted",
        SUBMITTED,
        task("k1", json!([content_task("any", 1)])),
    );
    assert_eq!(types(&out), ["campaign.accepted"]);
    let out = s.when(
        "payment.succeeded",
        paid,
        json!({
            "payment_id": "pay-k1", "campaign_id": "k1", "seller_id": SELLER,
            "amount": "30.00", "currency": "USD", "method": "credit_card"
        }),
    );
    assert_eq!(types(&out), ["campaign.scheduled"]);
    s
}

#[test]
fn j1_given_a_payment_after_the_join_time_arriving_first_when_the_join_arrives_then_campaign_not_open() {
    // given k1 awaiting payment from Sep 20 00:00, paid at 12:00 — the payment arrives first
    let mut s = given_a_task_paid_at("2024-09-20T12:00:00Z");

    // when a join stamped 06:00 (the campaign still awaited payment) arrives
    let out = join(&mut s, "k1", ALICE, "2024-09-20T06:00:00Z");

    // then it is judged against the campaign as it was at 06:00, as had it arrived first
    assert_eq!(rejection(&out), "campaign_not_open");
    assert_eq!(campaign(&s, "k1").participant_count, 0);
    // and a join at the instant of payment, or after it, is accepted (paid_at ≤ t)
    joined(&mut s, "k1", BOB, "2024-09-20T12:00:00Z");
    joined(&mut s, "k1", CAROL, "2024-09-20T13:00:00Z");
}

#[test]
fn j1_given_a_payment_after_the_join_time_arriving_first_then_a_failing_creator_is_still_campaign_not_open() {
    // given k1 paid at 12:00 (arrived first), and a creator failing every later check
    let mut s = given_a_task_paid_at("2024-09-20T12:00:00Z");
    platform_block(&mut s, "nobody", SUBMITTED);

    // when her join stamped 06:00 arrives
    let out = join(&mut s, "k1", "nobody", "2024-09-20T06:00:00Z");

    // then the first reason in J1 order is still campaign_not_open
    assert_eq!(rejection(&out), "campaign_not_open");
}

#[test]
fn j1_given_a_campaign_ended_and_settled_when_a_join_stamped_before_its_end_arrives_then_it_only_re_decides() {
    // given k1 (Oct 2 – Oct 20, one order completes it) started, and
    // Alice's order of Oct 19 10:00 applied at the open rate
    let mut s = world();
    launch(&mut s, task("k1", json!([orders_task("any", 1)])));
    s.tick(START);
    let out = s.when("order.paid", &oct(19, 10), sale_of("o-1", ALICE, "100.00"));
    assert_eq!(first(&out, "commission.accrued")["rate_source"], "open_collab");
    // and the campaign ended and settled
    s.tick(END);
    assert_eq!(campaign(&s, "k1").status, CampaignStatus::Settled);

    // when her join stamped Oct 19 00:00 — the campaign was open then — arrives
    let out = join(&mut s, "k1", ALICE, &oct(19, 0));

    // then it is accepted (J1 as of the join's time) and re-decides her
    // pending commission (O9), but a settled campaign issues no reward
    assert_eq!(
        types(&out),
        ["participation.accepted", "commission.adjusted"],
        "{out:?}"
    );
    let adjusted = first(&out, "commission.adjusted");
    assert_eq!(adjusted["reason"], "rate_corrected");
    assert_eq!(adjusted["rate_source"], "campaign");
    assert_eq!(adjusted["campaign_id"], "k1");
    assert_eq!(adjusted["rate"], "0.15");
    assert_eq!(adjusted["amount"], "15.00");
    assert_eq!(adjusted["delta"], "5.00");
}

#[test]
fn j1_given_an_expired_campaign_when_a_creator_joins_then_she_is_rejected_campaign_not_open() {
    let mut s = world();
    s.when(
        "campaign.submitted",
        SUBMITTED,
        task("k1", json!([content_task("any", 1)])),
    );
    assert_eq!(types(&s.tick("2024-09-21T00:00:00Z")), ["campaign.expired"]);
    assert_eq!(rejection(&join(&mut s, "k1", ALICE, &oct(1, 0))), "campaign_not_open");
}

#[test]
fn j1_given_a_recalled_campaign_when_a_creator_joins_then_she_is_rejected_campaign_not_open() {
    let mut s = given_a_scheduled_task();
    let out = s.when(
        "campaign.recall_requested",
        &oct(1, 0),
        json!({ "campaign_id": "k1", "seller_id": SELLER }),
    );
    assert_eq!(count(&out, "campaign.recalled"), 1);
    assert_eq!(rejection(&join(&mut s, "k1", ALICE, &oct(1, 1))), "campaign_not_open");
}

#[test]
fn j1_given_an_ended_campaign_when_a_creator_joins_then_she_is_rejected_campaign_not_open() {
    let mut s = given_a_scheduled_task();
    s.tick(START);
    s.tick(END);
    assert_eq!(campaign(&s, "k1").status, CampaignStatus::Settled);
    assert_eq!(rejection(&join(&mut s, "k1", ALICE, &oct(21, 0))), "campaign_not_open");
}

#[test]
fn j1_given_an_ongoing_campaign_past_its_end_before_the_end_tick_when_a_creator_joins_then_she_is_rejected() {
    // Decision 21: a join at or after ends_at is not open, tick or no tick.
    let mut s = given_a_scheduled_task();
    s.tick(START);
    assert_eq!(campaign(&s, "k1").status, CampaignStatus::Ongoing);
    assert_eq!(rejection(&join(&mut s, "k1", ALICE, END)), "campaign_not_open");
    let just_before = plus(END, -Duration::seconds(1));
    joined(&mut s, "k1", BOB, &just_before);
}

#[test]
fn j1_given_a_platform_blocked_creator_when_she_joins_then_she_is_rejected_platform_blocked() {
    let mut s = given_a_scheduled_task();
    platform_block(&mut s, ALICE, &oct(1, 0));
    assert_eq!(rejection(&join(&mut s, "k1", ALICE, &oct(1, 0))), "platform_blocked");
}

#[test]
fn j1_given_a_paused_connection_when_the_creator_joins_then_she_is_rejected_connection_paused() {
    let mut s = given_a_scheduled_task();
    pause(&mut s, ALICE, &oct(1, 0));
    assert_eq!(rejection(&join(&mut s, "k1", ALICE, &oct(1, 1))), "connection_paused");
}

#[test]
fn j1_given_a_connection_paused_with_another_seller_when_the_creator_joins_then_she_is_accepted() {
    let mut s = given_a_scheduled_task();
    s.when(
        "partnership.paused",
        &oct(1, 0),
        json!({ "seller_id": OTHER_SELLER, "creator_id": ALICE }),
    );
    joined(&mut s, "k1", ALICE, &oct(1, 1));
}

#[test]
fn j1_given_a_creator_blocked_by_the_seller_when_she_joins_then_she_is_rejected_blocked_by_seller() {
    let mut s = given_a_scheduled_task();
    block(&mut s, ALICE, &oct(1, 0));
    assert_eq!(rejection(&join(&mut s, "k1", ALICE, &oct(1, 1))), "blocked_by_seller");
}

#[test]
fn j1_given_a_creator_without_a_profile_when_she_joins_then_she_is_rejected_not_eligible() {
    let mut s = given_a_scheduled_task();
    assert_eq!(rejection(&join(&mut s, "k1", "nobody", &oct(1, 0))), "not_eligible");
}

#[test]
fn j1_given_a_creator_outside_the_campaigns_group_when_she_joins_then_she_is_rejected_not_eligible() {
    let mut s = world();
    launch(
        &mut s,
        with(
            task("k1", json!([content_task("any", 1)])),
            "creator_group_id",
            json!("level5"),
        ),
    );
    assert_eq!(rejection(&join(&mut s, "k1", ALICE, &oct(1, 0))), "not_eligible");
    let mut senior = profile(BOB);
    senior["level"] = json!(6);
    s.when("creator.updated", &oct(1, 0), senior);
    joined(&mut s, "k1", BOB, &oct(1, 1));
}

#[test]
fn j1_given_a_creator_who_already_joined_when_she_joins_again_then_she_is_rejected_already_joined() {
    let mut s = given_a_scheduled_task();
    joined(&mut s, "k1", ALICE, &oct(1, 0));
    assert_eq!(rejection(&join(&mut s, "k1", ALICE, &oct(1, 1))), "already_joined");
    assert_eq!(campaign(&s, "k1").participant_count, 1);
}

#[test]
fn j1_given_a_task_campaign_at_capacity_when_one_more_creator_joins_then_she_is_rejected_capacity_reached() {
    // Budget 30.00 / reward 10.00 = 3 creators.
    let mut s = given_a_scheduled_task();
    assert_eq!(campaign(&s, "k1").capacity, Some(3));
    for c in [ALICE, BOB, CAROL] {
        joined(&mut s, "k1", c, &oct(1, 0));
    }
    assert_eq!(rejection(&join(&mut s, "k1", DAVE, &oct(1, 1))), "capacity_reached");
    assert!(
        s.get::<Participation>(&(CampaignId::from("k1"), CreatorId::from(DAVE)))
            .is_none()
    );
}

#[test]
fn j1_given_a_full_task_campaign_with_a_removed_participant_when_another_creator_joins_then_capacity_still_counts_her()
{
    // Decision 21: capacity counts every accepted participation.
    let mut s = given_a_scheduled_task();
    for c in [ALICE, BOB, CAROL] {
        joined(&mut s, "k1", c, &oct(1, 0));
    }
    pause(&mut s, ALICE, &oct(1, 1));
    assert_eq!(status(&s, "k1", ALICE), ParticipationStatus::Removed);
    assert_eq!(rejection(&join(&mut s, "k1", DAVE, &oct(1, 2))), "capacity_reached");
}

#[test]
fn j1_given_a_challenge_when_many_creators_join_then_there_is_no_capacity() {
    let mut s = world();
    launch(&mut s, challenge("h1", "orders", json!(1)));
    for n in 0..12 {
        let c = format!("creator-{n:02}");
        s.when("creator.updated", CATALOGUE, profile(&c));
        joined(&mut s, "h1", &c, &oct(1, 0));
    }
}

#[test]
fn j1_given_a_creator_failing_every_check_when_she_joins_a_campaign_awaiting_payment_then_campaign_not_open_is_reported()
 {
    let mut s = world();
    s.when(
        "campaign.submitted",
        SUBMITTED,
        task("k1", json!([content_task("any", 1)])),
    );
    platform_block(&mut s, "nobody", SUBMITTED);
    pause(&mut s, "nobody", SUBMITTED);
    block(&mut s, "nobody", SUBMITTED);
    assert_eq!(rejection(&join(&mut s, "k1", "nobody", SUBMITTED)), "campaign_not_open");
}

#[test]
fn j1_given_several_failing_checks_when_creators_join_then_the_first_failing_reason_in_rule_order_is_reported() {
    let mut s = given_a_scheduled_task();
    let t = oct(1, 0);
    // Platform-blocked, paused, blocked by the seller, no profile.
    platform_block(&mut s, "x1", &t);
    pause(&mut s, "x1", &t);
    block(&mut s, "x1", &t);
    // Paused, blocked by the seller, no profile.
    pause(&mut s, "x2", &t);
    block(&mut s, "x2", &t);
    // Blocked by the seller, no profile.
    block(&mut s, "x3", &t);
    let later = oct(1, 1);
    assert_eq!(rejection(&join(&mut s, "k1", "x1", &later)), "platform_blocked");
    assert_eq!(rejection(&join(&mut s, "k1", "x2", &later)), "connection_paused");
    assert_eq!(rejection(&join(&mut s, "k1", "x3", &later)), "blocked_by_seller");
    assert_eq!(rejection(&join(&mut s, "k1", "x4", &later)), "not_eligible");
}

#[test]
fn j1_given_a_joined_creator_who_no_longer_matches_the_group_when_she_joins_again_then_not_eligible_comes_before_already_joined()
 {
    let mut s = world();
    launch(
        &mut s,
        with(
            task("k1", json!([content_task("any", 1)])),
            "creator_group_id",
            json!("level5"),
        ),
    );
    let mut senior = profile(ALICE);
    senior["level"] = json!(6);
    s.when("creator.updated", &oct(1, 0), senior);
    joined(&mut s, "k1", ALICE, &oct(1, 1));
    s.when("creator.updated", &oct(1, 2), profile(ALICE));
    assert_eq!(rejection(&join(&mut s, "k1", ALICE, &oct(1, 3))), "not_eligible");
}

#[test]
fn j1_given_a_full_campaign_when_a_participant_joins_again_then_already_joined_comes_before_capacity_reached() {
    let mut s = given_a_scheduled_task();
    for c in [ALICE, BOB, CAROL] {
        joined(&mut s, "k1", c, &oct(1, 0));
    }
    assert_eq!(rejection(&join(&mut s, "k1", ALICE, &oct(1, 1))), "already_joined");
}

#[test]
fn j1_given_a_blocked_creator_outside_a_full_campaign_when_she_joins_then_blocked_by_seller_comes_before_capacity() {
    let mut s = given_a_scheduled_task();
    for c in [ALICE, BOB, CAROL] {
        joined(&mut s, "k1", c, &oct(1, 0));
    }
    block(&mut s, DAVE, &oct(1, 0));
    assert_eq!(rejection(&join(&mut s, "k1", DAVE, &oct(1, 1))), "blocked_by_seller");
}

#[test]
fn j1_given_a_group_narrowed_after_a_join_when_creators_join_then_each_is_judged_by_the_group_as_of_the_join() {
    let mut s = given_a_scheduled_task();
    joined(&mut s, "k1", ALICE, &oct(1, 0));
    // The seller narrows the campaign's group to level 5 and up.
    s.when(
        "creator_group.saved",
        &oct(1, 6),
        group(SELLER, "everyone", json!({ "level_min": 5 })),
    );
    assert_eq!(status(&s, "k1", ALICE), ParticipationStatus::Unfinished);
    assert_eq!(rejection(&join(&mut s, "k1", BOB, &oct(1, 7))), "not_eligible");
    // A join requested before the narrowing, arriving late, sees the old group.
    joined(&mut s, "k1", CAROL, &oct(1, 5));
}

#[test]
fn j1_given_a_profile_update_after_the_join_time_when_the_join_arrives_late_then_the_profile_as_of_the_join_counts() {
    let mut s = world();
    launch(
        &mut s,
        with(
            task("k1", json!([content_task("any", 1)])),
            "creator_group_id",
            json!("level5"),
        ),
    );
    let mut senior = profile(ALICE);
    senior["level"] = json!(6);
    s.when("creator.updated", &oct(1, 0), senior);
    // Alice drops to level 4 at 02:00; her join at 01:00 arrives afterwards.
    s.when("creator.updated", &oct(1, 2), profile(ALICE));
    joined(&mut s, "k1", ALICE, &oct(1, 1));
}

#[test]
fn j1_given_a_creator_first_described_after_her_join_time_when_the_join_arrives_then_she_is_not_eligible() {
    let mut s = given_a_scheduled_task();
    s.when("creator.updated", &oct(1, 2), profile("newcomer"));
    assert_eq!(rejection(&join(&mut s, "k1", "newcomer", &oct(1, 1))), "not_eligible");
    joined(&mut s, "k1", "newcomer", &oct(1, 3));
}

// ---------------------------------------------------------------------------
// J2 — the seller's blocklist
// ---------------------------------------------------------------------------

/// `2024-09-<day>T<hour>:00:00Z`
fn sep(day: u32, hour: u32) -> String {
    format!("2024-09-{day:02}T{hour:02}:00:00Z")
}

fn simple_task(id: &str) -> Value {
    task(id, json!([content_task("any", 1)]))
}

#[test]
fn j2_worked_example_2_a_creator_blocked_after_joining_completes_and_is_rewarded_but_cannot_join_another_campaign() {
    let mut s = world();
    launch(&mut s, simple_task("A"));
    launch(&mut s, simple_task("B"));
    joined(&mut s, "A", BOB, &oct(1, 0));
    assert!(block(&mut s, BOB, &oct(1, 1)).is_empty());
    s.tick(START);
    let out = post(&mut s, "v1", BOB, "video", &[P], &oct(3, 0));
    assert_eq!(
        rewards(&out),
        [(BOB.into(), "task".into(), Value::Null, "10.00".into())]
    );
    assert_eq!(status(&s, "A", BOB), ParticipationStatus::Finished);
    assert_eq!(rejection(&join(&mut s, "B", BOB, &oct(4, 0))), "blocked_by_seller");
}

#[test]
fn j2_given_a_creator_blocked_after_joining_when_she_sells_then_her_orders_still_earn_the_campaign_rate() {
    let mut s = world();
    launch(&mut s, task("k1", json!([orders_task("any", 5)])));
    joined(&mut s, "k1", ALICE, &oct(1, 0));
    block(&mut s, ALICE, &oct(1, 1));
    let out = sell(&mut s, "o1", ALICE, "100.00", &oct(3, 0));
    let accrued = first(&out, "commission.accrued");
    assert_eq!(accrued["rate_source"], "campaign");
    assert_eq!(accrued["campaign_id"], "k1");
    assert_eq!(participation(&s, "k1", ALICE).orders.len(), 1);
}

#[test]
fn j2_given_a_block_at_t_when_joins_are_requested_at_t_and_just_before_then_only_the_earlier_one_is_accepted() {
    let mut s = world();
    launch(&mut s, simple_task("k1"));
    let t = oct(1, 12);
    block(&mut s, ALICE, &t);
    block(&mut s, BOB, &t);
    // Decision 1: a block at the same instant counts as earlier.
    assert_eq!(rejection(&join(&mut s, "k1", ALICE, &t)), "blocked_by_seller");
    // A join requested before the block, arriving after it, is accepted.
    joined(&mut s, "k1", BOB, &plus(&t, -Duration::seconds(1)));
}

#[test]
fn j2_given_a_block_then_an_unblock_when_the_creator_joins_then_only_campaigns_submitted_after_the_unblock_accept_her()
{
    let mut s = world();
    launch_at(&mut s, &sep(20, 0), simple_task("before-block"));
    block(&mut s, ALICE, &sep(21, 0));
    launch_at(&mut s, &sep(22, 0), simple_task("between"));
    unblock(&mut s, ALICE, &sep(23, 0));
    launch_at(&mut s, &sep(24, 0), simple_task("after-unblock"));
    assert_eq!(
        rejection(&join(&mut s, "before-block", ALICE, &oct(1, 0))),
        "blocked_by_seller"
    );
    assert_eq!(
        rejection(&join(&mut s, "between", ALICE, &oct(1, 0))),
        "blocked_by_seller"
    );
    joined(&mut s, "after-unblock", ALICE, &oct(1, 0));
}

#[test]
fn j2_given_a_campaign_submitted_at_the_instant_of_the_unblock_when_the_creator_joins_then_she_stays_blocked() {
    let mut s = world();
    block(&mut s, ALICE, &sep(19, 0));
    unblock(&mut s, ALICE, SUBMITTED);
    launch(&mut s, simple_task("k1"));
    assert_eq!(rejection(&join(&mut s, "k1", ALICE, &oct(1, 0))), "blocked_by_seller");
}

#[test]
fn j2_given_blocking_and_unblocking_repeated_when_the_creator_joins_then_each_fact_applies_from_its_time() {
    let mut s = world();
    launch_at(&mut s, &sep(20, 0), simple_task("k1"));
    block(&mut s, ALICE, &sep(21, 0));
    unblock(&mut s, ALICE, &sep(22, 0));
    launch_at(&mut s, &sep(23, 0), simple_task("k2"));
    launch_at(&mut s, &sep(23, 0), simple_task("k3"));
    // Between the unblock and the next block: free for k2, not for k1.
    assert_eq!(rejection(&join(&mut s, "k1", ALICE, &sep(23, 12))), "blocked_by_seller");
    joined(&mut s, "k2", ALICE, &sep(23, 12));
    block(&mut s, ALICE, &sep(24, 0));
    // Blocked again: even k3, submitted after the first unblock.
    assert_eq!(rejection(&join(&mut s, "k3", ALICE, &sep(24, 12))), "blocked_by_seller");
    unblock(&mut s, ALICE, &sep(25, 0));
    launch_at(&mut s, &sep(26, 0), simple_task("k4"));
    // k3 was submitted before the second unblock: still blocked.
    assert_eq!(rejection(&join(&mut s, "k3", ALICE, &oct(1, 0))), "blocked_by_seller");
    assert_eq!(rejection(&join(&mut s, "k1", ALICE, &oct(1, 0))), "blocked_by_seller");
    joined(&mut s, "k4", ALICE, &oct(1, 0));
    // The participation that existed before the second block is untouched.
    assert_eq!(status(&s, "k2", ALICE), ParticipationStatus::Unfinished);
}

#[test]
fn j2_given_an_unblock_arriving_before_the_earlier_block_when_the_creator_joins_then_the_facts_apply_in_time_order() {
    let mut s = world();
    launch_at(&mut s, &sep(20, 0), simple_task("old"));
    unblock(&mut s, ALICE, &sep(23, 0));
    block(&mut s, ALICE, &sep(21, 0));
    launch_at(&mut s, &sep(24, 0), simple_task("new"));
    assert_eq!(rejection(&join(&mut s, "old", ALICE, &oct(1, 0))), "blocked_by_seller");
    joined(&mut s, "new", ALICE, &oct(1, 0));
}

#[test]
fn j2_given_an_unblock_without_a_block_when_the_creator_joins_then_she_is_accepted() {
    let mut s = world();
    launch(&mut s, simple_task("k1"));
    unblock(&mut s, ALICE, &oct(1, 0));
    joined(&mut s, "k1", ALICE, &oct(1, 1));
}

#[test]
fn j2_given_a_block_by_another_seller_when_the_creator_joins_then_she_is_accepted() {
    let mut s = world();
    launch(&mut s, simple_task("k1"));
    s.when(
        "seller.creator_blocked",
        &oct(1, 0),
        json!({ "seller_id": OTHER_SELLER, "creator_id": ALICE }),
    );
    joined(&mut s, "k1", ALICE, &oct(1, 1));
}

// ---------------------------------------------------------------------------
// J3 — participation status
// ---------------------------------------------------------------------------

fn request_sample(
    s: &mut Scenario,
    id: &str,
    campaign: &str,
    creator: &str,
    product: &str,
    at: &str,
) -> Vec<OutcomeData> {
    s.when(
        "sample.requested",
        at,
        json!({ "request_id": id, "campaign_id": campaign, "creator_id": creator, "product_id": product }),
    )
}

fn ship(s: &mut Scenario, id: &str, at: &str) -> Vec<OutcomeData> {
    s.when("sample.shipped", at, json!({ "request_id": id }))
}

fn deliver(s: &mut Scenario, id: &str, at: &str) -> Vec<OutcomeData> {
    s.when("sample.delivered", at, json!({ "request_id": id }))
}

/// Task `k1` (two pieces of content) is running; Alice joined on Oct 2 at
/// 01:00 and was approved a free sample `r1` of P.
fn given_alice_with_an_approved_sample() -> Scenario {
    let mut s = world();
    launch(&mut s, task("k1", json!([content_task("any", 2)])));
    s.tick(START);
    joined(&mut s, "k1", ALICE, &oct(2, 1));
    let out = request_sample(&mut s, "r1", "k1", ALICE, P, &oct(2, 2));
    assert_eq!(types(&out), ["sample.approved"]);
    s
}

#[test]
fn j3_given_a_delivered_free_sample_and_no_content_when_it_is_delivered_then_the_participation_becomes_not_fulfilled() {
    let mut s = given_alice_with_an_approved_sample();
    assert!(ship(&mut s, "r1", &oct(3, 0)).is_empty());
    assert_eq!(status(&s, "k1", ALICE), ParticipationStatus::Unfinished);
    let out = deliver(&mut s, "r1", &oct(4, 0));
    assert_eq!(types(&out), ["participation.status_changed"]);
    let changed = first(&out, "participation.status_changed");
    assert_eq!(changed["campaign_id"], "k1");
    assert_eq!(changed["creator_id"], ALICE);
    assert_eq!(changed["status"], "not_fulfilled");
    assert_eq!(status(&s, "k1", ALICE), ParticipationStatus::NotFulfilled);
}

#[test]
fn j3_given_a_not_fulfilled_participation_when_qualifying_content_is_posted_then_it_is_unfinished_again() {
    let mut s = given_alice_with_an_approved_sample();
    deliver(&mut s, "r1", &oct(4, 0));
    let out = post(&mut s, "v1", ALICE, "video", &[P], &oct(5, 0));
    assert_eq!(status_changes(&out), ["unfinished"]);
    assert_eq!(status(&s, "k1", ALICE), ParticipationStatus::Unfinished);
    // Only one of the two pieces of content: not finished.
    assert_eq!(count(&out, "reward.issued"), 0);
}

#[test]
fn j3_given_qualifying_content_before_the_delivery_when_the_sample_is_delivered_then_the_status_stays_unfinished() {
    let mut s = given_alice_with_an_approved_sample();
    post(&mut s, "v1", ALICE, "live", &[P_PLAIN], &oct(3, 0));
    let out = deliver(&mut s, "r1", &oct(4, 0));
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(status(&s, "k1", ALICE), ParticipationStatus::Unfinished);
}

#[test]
fn j3_given_content_posted_only_before_joining_when_the_sample_is_delivered_then_the_participation_is_not_fulfilled() {
    let mut s = world();
    launch(&mut s, task("k1", json!([content_task("any", 2)])));
    s.tick(START);
    post(&mut s, "v0", ALICE, "video", &[P], &oct(2, 0));
    joined(&mut s, "k1", ALICE, &oct(2, 1));
    request_sample(&mut s, "r1", "k1", ALICE, P, &oct(2, 2));
    let out = deliver(&mut s, "r1", &oct(4, 0));
    assert_eq!(status_changes(&out), ["not_fulfilled"]);
}

#[test]
fn j3_given_a_not_fulfilled_participation_when_content_without_the_campaigns_products_is_posted_then_nothing_changes() {
    let mut s = given_alice_with_an_approved_sample();
    deliver(&mut s, "r1", &oct(4, 0));
    let out = post(&mut s, "v1", ALICE, "video", &[P_OUTSIDE, Q], &oct(5, 0));
    assert!(status_changes(&out).is_empty(), "{out:?}");
    assert_eq!(status(&s, "k1", ALICE), ParticipationStatus::NotFulfilled);
}

#[test]
fn j3_given_a_not_fulfilled_participation_when_someone_else_posts_content_then_nothing_changes() {
    let mut s = given_alice_with_an_approved_sample();
    joined(&mut s, "k1", BOB, &oct(2, 3));
    deliver(&mut s, "r1", &oct(4, 0));
    let out = post(&mut s, "v1", BOB, "video", &[P], &oct(5, 0));
    assert!(status_changes(&out).is_empty(), "{out:?}");
    assert_eq!(status(&s, "k1", ALICE), ParticipationStatus::NotFulfilled);
}

#[test]
fn j3_given_a_sample_delivered_before_its_request_arrives_when_the_request_is_approved_then_the_participation_is_not_fulfilled()
 {
    let mut s = world();
    launch(&mut s, task("k1", json!([content_task("any", 2)])));
    s.tick(START);
    joined(&mut s, "k1", ALICE, &oct(2, 1));
    assert!(deliver(&mut s, "r1", &oct(4, 0)).is_empty());
    let out = request_sample(&mut s, "r1", "k1", ALICE, P, &oct(2, 2));
    assert_eq!(types(&out), ["sample.approved", "participation.status_changed"]);
    assert_eq!(status_changes(&out), ["not_fulfilled"]);
}

#[test]
fn j3_given_a_rejected_sample_when_it_is_delivered_anyway_then_the_status_does_not_change() {
    let mut s = given_alice_with_an_approved_sample();
    let out = request_sample(&mut s, "r2", "k1", ALICE, P_PLAIN, &oct(2, 3));
    assert_eq!(types(&out), ["sample.rejected"]);
    assert!(deliver(&mut s, "r2", &oct(4, 0)).is_empty());
    assert_eq!(status(&s, "k1", ALICE), ParticipationStatus::Unfinished);
}

#[test]
fn j3_given_a_sample_delivered_twice_when_the_second_delivery_arrives_then_nothing_more_happens() {
    let mut s = given_alice_with_an_approved_sample();
    deliver(&mut s, "r1", &oct(4, 0));
    post(&mut s, "v1", ALICE, "video", &[P], &oct(5, 0));
    assert!(deliver(&mut s, "r1", &oct(6, 0)).is_empty());
    assert_eq!(status(&s, "k1", ALICE), ParticipationStatus::Unfinished);
}

#[test]
fn j3_given_all_tasks_done_when_the_last_content_is_posted_then_the_status_changes_to_finished() {
    let mut s = given_alice_with_an_approved_sample();
    post(&mut s, "v1", ALICE, "video", &[P], &oct(3, 0));
    let out = post(&mut s, "v2", ALICE, "video", &[P], &oct(4, 0));
    assert_eq!(status_changes(&out), ["finished"]);
    assert_eq!(status(&s, "k1", ALICE), ParticipationStatus::Finished);
}

#[test]
fn j3_given_a_not_fulfilled_participation_of_an_orders_task_when_the_orders_complete_it_then_it_becomes_finished() {
    let mut s = world();
    launch(&mut s, task("k1", json!([orders_task("any", 1)])));
    s.tick(START);
    joined(&mut s, "k1", ALICE, &oct(2, 1));
    request_sample(&mut s, "r1", "k1", ALICE, P, &oct(2, 2));
    deliver(&mut s, "r1", &oct(3, 0));
    let out = sell(&mut s, "o1", ALICE, "20.00", &oct(4, 0));
    assert_eq!(status_changes(&out), ["finished"]);
    assert_eq!(count(&out, "reward.issued"), 1);
}

#[test]
fn j3_given_a_finished_participation_when_a_sample_is_delivered_then_it_stays_finished() {
    let mut s = given_alice_with_an_approved_sample();
    post(&mut s, "v1", ALICE, "video", &[P], &oct(3, 0));
    post(&mut s, "v2", ALICE, "video", &[P], &oct(3, 1));
    assert!(deliver(&mut s, "r1", &oct(4, 0)).is_empty());
    assert_eq!(status(&s, "k1", ALICE), ParticipationStatus::Finished);
}

#[test]
fn j3_given_a_participation_when_the_seller_pauses_the_connection_then_it_is_removed_and_stops_counting() {
    let mut s = given_alice_with_an_approved_sample();
    post(&mut s, "v1", ALICE, "video", &[P], &oct(3, 0));
    let out = pause(&mut s, ALICE, &oct(4, 0));
    assert_eq!(status_changes(&out), ["removed"]);
    assert_eq!(status(&s, "k1", ALICE), ParticipationStatus::Removed);
    let out = post(&mut s, "v2", ALICE, "video", &[P], &oct(5, 0));
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(participation(&s, "k1", ALICE).contents.len(), 1);
    let out = deliver(&mut s, "r1", &oct(6, 0));
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(status(&s, "k1", ALICE), ParticipationStatus::Removed);
}

#[test]
fn j3_given_participations_with_two_sellers_when_one_seller_pauses_then_only_that_sellers_participation_is_removed() {
    let mut s = world();
    launch(&mut s, simple_task("k1"));
    let theirs = with(
        with(simple_task("k2"), "seller_id", json!(OTHER_SELLER)),
        "products",
        json!([{ "product_id": Q, "free_sample": true }]),
    );
    launch(&mut s, theirs);
    joined(&mut s, "k1", ALICE, &oct(1, 0));
    joined(&mut s, "k2", ALICE, &oct(1, 0));
    let out = pause(&mut s, ALICE, &oct(1, 1));
    assert_eq!(status_changes(&out), ["removed"]);
    assert_eq!(status(&s, "k1", ALICE), ParticipationStatus::Removed);
    assert_eq!(status(&s, "k2", ALICE), ParticipationStatus::Unfinished);
}

#[test]
fn v3_given_a_pause_after_the_join_time_arriving_first_when_the_join_arrives_then_it_is_accepted_then_removed() {
    // given task k1 (one order to finish) running, and the seller's pause on Oct 4 known
    let mut s = world();
    launch(&mut s, task("k1", json!([orders_task("any", 1)])));
    s.tick(START);
    assert!(status_changes(&pause(&mut s, ALICE, &oct(4, 0))).is_empty());

    // when Alice's join stamped Oct 3 (before the pause) arrives
    let out = join(&mut s, "k1", ALICE, &oct(3, 0));

    // then it ends as had it arrived in order: accepted, then removed by the pause
    assert_eq!(types(&out), ["participation.accepted", "participation.status_changed"]);
    assert_eq!(status_changes(&out), ["removed"]);
    assert_eq!(status(&s, "k1", ALICE), ParticipationStatus::Removed);
    assert_eq!(campaign(&s, "k1").participant_count, 1);

    // and an order that would finish her task counts nothing and earns no reward;
    // its campaign commission is paid out by the pause like any of the pair's
    let out = sell(&mut s, "o1", ALICE, "10.00", &oct(3, 12));
    assert_eq!(types(&out), ["commission.accrued", "commission.payable"], "{out:?}");
    assert_eq!(first(&out, "commission.accrued")["rate_source"], "campaign");
    assert!(participation(&s, "k1", ALICE).orders.is_empty());
    let settled = s.tick(END);
    assert_eq!(first(&settled, "campaign.settled")["rewards_total"], "0.00");
}

#[test]
fn v3_given_a_pause_after_the_join_time_arriving_first_when_the_challenge_is_finalized_then_the_late_joiner_is_not_ranked()
 {
    // given challenge h1 running with Bob, and the seller's pause of Alice on Oct 5 known
    let mut s = given_a_running_challenge(challenge("h1", "gmv", json!("0.00")), &[BOB]);
    pause(&mut s, ALICE, &oct(5, 0));

    // when Alice's join stamped Oct 3 arrives, then her order of Oct 4 (higher than Bob's)
    let out = join(&mut s, "h1", ALICE, &oct(3, 0));
    assert_eq!(status_changes(&out), ["removed"]);
    sell_as(&mut s, "a1", ALICE, "video", "300.00", &oct(4, 0));
    sell_as(&mut s, "b1", BOB, "video", "200.00", &oct(4, 0));

    // then only Bob is ranked, as when the pause arrives last
    assert_eq!(ranking(&finalize(&mut s)), ranked(&[(BOB, 1, "50.00")]));
}

#[test]
fn v3_given_a_pause_before_the_join_time_arriving_first_when_the_join_arrives_then_it_is_rejected_connection_paused() {
    // given a scheduled task and the seller's pause of Alice on Oct 1
    let mut s = given_a_scheduled_task();
    pause(&mut s, ALICE, &oct(1, 0));

    // when her join stamped at or after the pause arrives
    let out = join(&mut s, "k1", ALICE, &oct(1, 0));

    // then the connection was paused at the join: rejected, no participation
    assert_eq!(rejection(&out), "connection_paused");
}

#[test]
fn j3_given_a_not_fulfilled_participation_when_the_seller_pauses_then_it_is_removed() {
    let mut s = given_alice_with_an_approved_sample();
    deliver(&mut s, "r1", &oct(4, 0));
    let out = pause(&mut s, ALICE, &oct(5, 0));
    assert_eq!(status_changes(&out), ["removed"]);
}

// ---------------------------------------------------------------------------
// T1 — qualifying orders and content
// ---------------------------------------------------------------------------

/// Task `k1` with these tasks is running (started Oct 2); Alice joined on
/// Oct 3.
fn given_alice_in_a_running_task(tasks: Value) -> Scenario {
    let mut s = world();
    launch(&mut s, task("k1", tasks));
    s.tick(START);
    joined(&mut s, "k1", ALICE, &oct(3, 0));
    s
}

/// An order of Alice's with a chosen channel (`video`, `live`, `showcase`).
fn sell_via(s: &mut Scenario, id: &str, channel: &str, amount: &str, at: &str) -> Vec<OutcomeData> {
    let o = with(sale_of(id, ALICE, amount), "content_type", json!(channel));
    s.when("order.paid", at, o)
}

/// Ids of the orders counting for a participation (base > 0), sorted.
fn counted(s: &Scenario, campaign: &str, creator: &str) -> Vec<String> {
    participation(s, campaign, creator)
        .orders
        .iter()
        .filter(|(_, o)| o.base > Decimal::ZERO)
        .map(|(id, _)| id.to_string())
        .collect()
}

fn unreachable_orders() -> Value {
    json!([orders_task("any", 100)])
}

#[test]
fn t1_given_a_creator_who_joined_after_the_start_when_she_sells_then_only_orders_from_her_join_until_the_end_count() {
    let mut s = given_alice_in_a_running_task(unreachable_orders());
    let before_join = sell(&mut s, "before-join", ALICE, "10.00", &oct(2, 12));
    assert_eq!(first(&before_join, "commission.accrued")["rate_source"], "open_collab");
    sell(&mut s, "at-join", ALICE, "10.00", &oct(3, 0));
    sell(&mut s, "last-second", ALICE, "10.00", &plus(END, -Duration::seconds(1)));
    // The end tick has not come yet, but the window is over.
    let at_end = sell(&mut s, "at-end", ALICE, "10.00", END);
    assert_eq!(first(&at_end, "commission.accrued")["rate_source"], "open_collab");
    assert_eq!(counted(&s, "k1", ALICE), ["at-join", "last-second"]);
}

#[test]
fn t1_given_a_creator_who_joined_before_the_start_when_she_sells_then_orders_count_from_the_start() {
    let mut s = world();
    launch(&mut s, task("k1", unreachable_orders()));
    joined(&mut s, "k1", ALICE, &oct(1, 0));
    sell(&mut s, "before-start", ALICE, "10.00", &oct(1, 12));
    s.tick(START);
    sell(&mut s, "at-start", ALICE, "10.00", START);
    assert_eq!(counted(&s, "k1", ALICE), ["at-start"]);
}

#[test]
fn t1_given_a_running_task_when_orders_of_other_sellers_or_products_are_paid_then_only_the_campaigns_products_count() {
    let mut s = given_alice_in_a_running_task(unreachable_orders());
    s.when(
        "order.paid",
        &oct(4, 0),
        order("other-seller", OTHER_SELLER, Q, Some(ALICE), "10.00"),
    );
    s.when(
        "order.paid",
        &oct(4, 0),
        order("outside", SELLER, P_OUTSIDE, Some(ALICE), "10.00"),
    );
    // P_PLAIN is in the campaign without a rate: 0 %, but still the campaign's.
    let plain = s.when(
        "order.paid",
        &oct(4, 0),
        order("plain", SELLER, P_PLAIN, Some(ALICE), "10.00"),
    );
    let accrued = first(&plain, "commission.accrued");
    assert_eq!(
        (text(&accrued["rate"]), text(&accrued["rate_source"])),
        ("0".into(), "campaign".into())
    );
    sell(&mut s, "campaign", ALICE, "10.00", &oct(4, 0));
    assert_eq!(counted(&s, "k1", ALICE), ["campaign", "plain"]);
}

#[test]
fn t1_given_a_running_task_when_an_order_is_not_attributed_or_attributed_to_someone_else_then_it_does_not_count() {
    let mut s = given_alice_in_a_running_task(unreachable_orders());
    joined(&mut s, "k1", BOB, &oct(3, 0));
    s.when("order.paid", &oct(4, 0), order("nobodys", SELLER, P, None, "10.00"));
    sell(&mut s, "bobs", BOB, "10.00", &oct(4, 0));
    assert!(counted(&s, "k1", ALICE).is_empty());
    assert_eq!(counted(&s, "k1", BOB), ["bobs"]);
}

#[test]
fn t1_given_a_running_task_in_usd_when_an_order_is_paid_in_euros_then_it_earns_the_campaign_rate_but_does_not_count() {
    let mut s = given_alice_in_a_running_task(unreachable_orders());
    let out = s.when(
        "order.paid",
        &oct(4, 0),
        with(sale_of("eur", ALICE, "10.00"), "currency", json!("EUR")),
    );
    assert_eq!(first(&out, "commission.accrued")["rate_source"], "campaign");
    assert!(counted(&s, "k1", ALICE).is_empty());
}

#[test]
fn t1_given_two_campaigns_covering_an_order_when_it_is_paid_then_it_counts_only_for_the_one_whose_rate_o2_chose() {
    let mut s = world();
    launch(&mut s, task("k15", unreachable_orders()));
    let mut richer = task("k20", unreachable_orders());
    richer["products"][0]["commission_rate"] = json!("0.20");
    launch(&mut s, richer);
    s.tick(START);
    joined(&mut s, "k15", ALICE, &oct(3, 0));
    joined(&mut s, "k20", ALICE, &oct(3, 0));
    let out = sell(&mut s, "o1", ALICE, "10.00", &oct(4, 0));
    assert_eq!(first(&out, "commission.accrued")["campaign_id"], "k20");
    assert_eq!(counted(&s, "k20", ALICE), ["o1"]);
    assert!(counted(&s, "k15", ALICE).is_empty());
}

#[test]
fn t1_given_a_video_orders_task_when_live_and_showcase_orders_are_paid_then_only_video_orders_count() {
    let mut s = given_alice_in_a_running_task(json!([orders_task("video", 2)]));
    sell_via(&mut s, "live", "live", "10.00", &oct(4, 0));
    sell_via(&mut s, "showcase", "showcase", "10.00", &oct(4, 1));
    sell_via(&mut s, "video-1", "video", "10.00", &oct(4, 2));
    assert_eq!(status(&s, "k1", ALICE), ParticipationStatus::Unfinished);
    let out = sell_via(&mut s, "video-2", "video", "10.00", &oct(4, 3));
    assert_eq!(count(&out, "task.finished"), 1);
}

#[test]
fn t1_given_a_live_orders_task_when_video_and_showcase_orders_are_paid_then_only_live_orders_count() {
    let mut s = given_alice_in_a_running_task(json!([orders_task("live", 1)]));
    assert_eq!(
        count(
            &sell_via(&mut s, "video", "video", "10.00", &oct(4, 0)),
            "task.finished"
        ),
        0
    );
    assert_eq!(
        count(
            &sell_via(&mut s, "showcase", "showcase", "10.00", &oct(4, 1)),
            "task.finished"
        ),
        0
    );
    assert_eq!(
        count(&sell_via(&mut s, "live", "live", "10.00", &oct(4, 2)), "task.finished"),
        1
    );
}

#[test]
fn t1_given_an_any_orders_task_when_video_live_and_showcase_orders_are_paid_then_all_of_them_count() {
    let mut s = given_alice_in_a_running_task(json!([orders_task("any", 3)]));
    sell_via(&mut s, "video", "video", "10.00", &oct(4, 0));
    sell_via(&mut s, "live", "live", "10.00", &oct(4, 1));
    let out = sell_via(&mut s, "showcase", "showcase", "10.00", &oct(4, 2));
    assert_eq!(count(&out, "task.finished"), 1);
}

#[test]
fn t1_given_a_video_gmv_task_when_orders_of_several_channels_are_paid_then_only_video_gmv_adds_up() {
    let mut s = given_alice_in_a_running_task(json!([gmv_task("video", "100.00")]));
    sell_via(&mut s, "live", "live", "100.00", &oct(4, 0));
    sell_via(&mut s, "showcase", "showcase", "100.00", &oct(4, 1));
    sell_via(&mut s, "video-1", "video", "60.00", &oct(4, 2));
    assert_eq!(status(&s, "k1", ALICE), ParticipationStatus::Unfinished);
    let out = sell_via(&mut s, "video-2", "video", "40.00", &oct(4, 3));
    assert_eq!(count(&out, "task.finished"), 1);
}

#[test]
fn t1_given_a_live_content_task_when_video_content_is_posted_then_only_live_content_counts() {
    let mut s = given_alice_in_a_running_task(json!([content_task("live", 1)]));
    assert!(post(&mut s, "v1", ALICE, "video", &[P], &oct(4, 0)).is_empty());
    let out = post(&mut s, "l1", ALICE, "live", &[P_PLAIN, Q], &oct(4, 1));
    assert_eq!(count(&out, "task.finished"), 1);
}

#[test]
fn t1_given_a_content_task_when_content_is_posted_before_joining_after_the_end_or_without_campaign_products_then_it_does_not_count()
 {
    let mut s = world();
    launch(&mut s, task("k1", json!([content_task("any", 1)])));
    s.tick(START);
    post(&mut s, "before", ALICE, "video", &[P], &oct(2, 12));
    joined(&mut s, "k1", ALICE, &oct(3, 0));
    post(&mut s, "unlinked", ALICE, "video", &[P_OUTSIDE], &oct(4, 0));
    post(&mut s, "after", ALICE, "video", &[P], END);
    assert!(participation(&s, "k1", ALICE).contents.is_empty());
    let out = post(&mut s, "at-join", ALICE, "video", &[P], &oct(3, 0));
    assert_eq!(count(&out, "reward.issued"), 1);
}

#[test]
fn t1_given_a_content_task_when_the_same_content_is_posted_twice_then_it_counts_once() {
    let mut s = given_alice_in_a_running_task(json!([content_task("any", 2)]));
    post(&mut s, "v1", ALICE, "video", &[P], &oct(4, 0));
    let out = post(&mut s, "v1", ALICE, "video", &[P], &oct(4, 1));
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(participation(&s, "k1", ALICE).contents.len(), 1);
}

#[test]
fn t1_given_an_orders_task_when_an_order_is_cancelled_then_it_no_longer_counts_and_more_orders_are_needed() {
    let mut s = given_alice_in_a_running_task(json!([orders_task("any", 2)]));
    sell(&mut s, "o1", ALICE, "10.00", &oct(4, 0));
    cancel(&mut s, "o1", &oct(4, 1));
    let out = sell(&mut s, "o2", ALICE, "10.00", &oct(4, 2));
    assert_eq!(count(&out, "task.finished"), 0);
    assert_eq!(counted(&s, "k1", ALICE), ["o2"]);
    let out = sell(&mut s, "o3", ALICE, "10.00", &oct(4, 3));
    assert_eq!(count(&out, "task.finished"), 1);
}

#[test]
fn t1_given_an_orders_task_when_an_order_is_fully_refunded_then_it_no_longer_counts_but_a_partial_refund_keeps_it() {
    let mut s = given_alice_in_a_running_task(json!([orders_task("any", 2)]));
    sell(&mut s, "full", ALICE, "10.00", &oct(4, 0));
    refund(&mut s, "full", "4.00", &oct(4, 1));
    refund(&mut s, "full", "6.00", &oct(4, 2));
    sell(&mut s, "partial", ALICE, "10.00", &oct(4, 3));
    refund(&mut s, "partial", "9.99", &oct(4, 4));
    assert_eq!(counted(&s, "k1", ALICE), ["partial"]);
    assert_eq!(status(&s, "k1", ALICE), ParticipationStatus::Unfinished);
    let out = sell(&mut s, "third", ALICE, "10.00", &oct(4, 5));
    assert_eq!(count(&out, "task.finished"), 1);
}

#[test]
fn t1_given_a_gmv_task_when_an_order_is_partially_refunded_then_progress_is_the_base_after_refunds() {
    let mut s = given_alice_in_a_running_task(json!([gmv_task("any", "100.00")]));
    sell(&mut s, "o1", ALICE, "80.00", &oct(4, 0));
    refund(&mut s, "o1", "30.00", &oct(4, 1));
    assert_eq!(
        participation(&s, "k1", ALICE).orders[&"o1".into()].base,
        Decimal::new(5000, 2)
    );
    let out = sell(&mut s, "o2", ALICE, "40.00", &oct(4, 2));
    assert_eq!(count(&out, "task.finished"), 0, "50 + 40 < 100");
    let out = sell(&mut s, "o3", ALICE, "10.00", &oct(4, 3));
    assert_eq!(count(&out, "task.finished"), 1, "50 + 40 + 10 = 100");
}

#[test]
fn t1_given_a_cancellation_arriving_before_its_order_when_the_order_arrives_then_it_counts_nothing_in_the_end() {
    let mut s = given_alice_in_a_running_task(json!([orders_task("any", 2)]));
    cancel(&mut s, "o1", &oct(4, 1));
    sell(&mut s, "o1", ALICE, "10.00", &oct(4, 0));
    sell(&mut s, "o2", ALICE, "10.00", &oct(4, 2));
    assert_eq!(counted(&s, "k1", ALICE), ["o2"]);
}

// ---------------------------------------------------------------------------
// T2 — the task reward
// ---------------------------------------------------------------------------

#[test]
fn t2_given_the_last_task_completed_by_an_order_when_it_is_paid_then_the_task_is_finished_and_the_reward_issued_at_once()
 {
    let mut s = given_alice_in_a_running_task(json!([orders_task("any", 2)]));
    sell(&mut s, "o1", ALICE, "10.00", &oct(4, 0));
    let out = sell(&mut s, "o2", ALICE, "10.00", &oct(5, 0));
    assert_eq!(
        types(&out),
        [
            "commission.accrued",
            "task.finished",
            "participation.status_changed",
            "reward.issued"
        ]
    );
    let finished = first(&out, "task.finished");
    assert_eq!(finished["campaign_id"], "k1");
    assert_eq!(finished["creator_id"], ALICE);
    assert_eq!(time_of(&finished["finished_at"]), time(&oct(5, 0)));
    assert_eq!(status_changes(&out), ["finished"]);
    let reward = first(&out, "reward.issued");
    assert!(!text(&reward["reward_id"]).is_empty());
    assert_eq!(reward["campaign_id"], "k1");
    assert_eq!(reward["creator_id"], ALICE);
    assert_eq!(reward["kind"], "task");
    assert_eq!(reward["rank"], Value::Null);
    assert_eq!(reward["amount"], "10.00");
    assert_eq!(reward["currency"], "USD");
    // During the campaign, not at its end.
    let k = campaign(&s, "k1");
    assert_eq!(k.status, CampaignStatus::Ongoing);
    assert_eq!(k.rewards_total, Decimal::new(1000, 2));
    let p = participation(&s, "k1", ALICE);
    assert_eq!(p.status, ParticipationStatus::Finished);
    assert_eq!(p.finished_at, Some(time(&oct(5, 0))));
}

#[test]
fn t2_given_several_tasks_when_only_some_are_done_then_nothing_is_issued_until_the_last_one_completes() {
    let tasks = json!([
        content_task("video", 1),
        orders_task("any", 2),
        gmv_task("any", "50.00")
    ]);
    let mut s = given_alice_in_a_running_task(tasks);
    assert!(post(&mut s, "v1", ALICE, "video", &[P], &oct(4, 0)).is_empty());
    assert_eq!(
        count(&sell(&mut s, "o1", ALICE, "30.00", &oct(5, 0)), "reward.issued"),
        0
    );
    // Two orders but 45.00 of GMV.
    assert_eq!(
        count(&sell(&mut s, "o2", ALICE, "15.00", &oct(6, 0)), "reward.issued"),
        0
    );
    let out = sell(&mut s, "o3", ALICE, "5.00", &oct(7, 0));
    assert_eq!(
        rewards(&out),
        [(ALICE.into(), "task".into(), Value::Null, "10.00".into())]
    );
    assert_eq!(time_of(&first(&out, "task.finished")["finished_at"]), time(&oct(7, 0)));
}

#[test]
fn t2_given_the_last_task_completed_by_content_when_it_is_posted_then_the_reward_is_issued() {
    let mut s = given_alice_in_a_running_task(json!([orders_task("any", 1), content_task("any", 1)]));
    sell(&mut s, "o1", ALICE, "10.00", &oct(4, 0));
    let out = post(&mut s, "v1", ALICE, "live", &[P], &oct(5, 0));
    assert_eq!(
        types(&out),
        ["task.finished", "participation.status_changed", "reward.issued"]
    );
    assert_eq!(time_of(&first(&out, "task.finished")["finished_at"]), time(&oct(5, 0)));
}

#[test]
fn t2_given_a_finished_participation_when_more_orders_and_content_arrive_then_no_second_reward_is_issued() {
    let mut s = given_alice_in_a_running_task(json!([orders_task("any", 1), content_task("any", 1)]));
    sell(&mut s, "o1", ALICE, "10.00", &oct(4, 0));
    post(&mut s, "v1", ALICE, "video", &[P], &oct(5, 0));
    let mut later = Vec::new();
    later.extend(sell(&mut s, "o2", ALICE, "10.00", &oct(6, 0)));
    later.extend(post(&mut s, "v2", ALICE, "video", &[P], &oct(6, 1)));
    later.extend(post(&mut s, "v1", ALICE, "video", &[P], &oct(6, 2)));
    later.extend(s.when("order.paid", &oct(6, 3), sale_of("o1", ALICE, "10.00")));
    for t in ["task.finished", "participation.status_changed", "reward.issued"] {
        assert_eq!(count(&later, t), 0, "{t} in {:?}", types(&later));
    }
    assert_eq!(campaign(&s, "k1").rewards_issued, 1);
}

#[test]
fn t2_given_a_finished_participation_when_its_orders_are_refunded_and_cancelled_then_it_stays_finished_and_keeps_its_reward()
 {
    let mut s = given_alice_in_a_running_task(json!([gmv_task("any", "50.00"), orders_task("any", 1)]));
    sell(&mut s, "o1", ALICE, "50.00", &oct(4, 0));
    assert_eq!(status(&s, "k1", ALICE), ParticipationStatus::Finished);
    let mut later = refund(&mut s, "o1", "20.00", &oct(5, 0));
    later.extend(cancel(&mut s, "o1", &oct(6, 0)));
    assert!(status_changes(&later).is_empty(), "{later:?}");
    assert_eq!(count(&later, "reward.cancelled"), 0);
    assert_eq!(status(&s, "k1", ALICE), ParticipationStatus::Finished);
    s.tick(END);
    let out = s.tick(FINALIZED);
    assert!(out.is_empty(), "a task campaign settles at its end: {out:?}");
    assert_eq!(campaign(&s, "k1").rewards_total, Decimal::new(1000, 2));
}

#[test]
fn t2_given_the_last_tasks_completed_out_of_order_when_the_earlier_order_arrives_last_then_finished_at_is_when_the_last_task_completed()
 {
    let mut s = given_alice_in_a_running_task(json!([orders_task("any", 1), content_task("any", 1)]));
    // Content on Oct 10 arrives first; the order of Oct 5 arrives after it.
    assert!(post(&mut s, "v1", ALICE, "video", &[P], &oct(10, 0)).is_empty());
    let out = sell(&mut s, "o1", ALICE, "10.00", &oct(5, 0));
    assert_eq!(count(&out, "reward.issued"), 1);
    // In business time the last task (content) was completed on Oct 10.
    assert_eq!(time_of(&first(&out, "task.finished")["finished_at"]), time(&oct(10, 0)));
}

#[test]
fn t2_given_a_platform_blocked_creator_when_she_completes_her_tasks_then_no_reward_is_issued() {
    let mut s = given_alice_in_a_running_task(json!([orders_task("any", 1)]));
    platform_block(&mut s, ALICE, &oct(4, 0));
    let out = sell(&mut s, "o1", ALICE, "10.00", &oct(5, 0));
    assert_eq!(count(&out, "reward.issued"), 0);
    assert_eq!(count(&out, "task.finished"), 0);
    assert_eq!(campaign(&s, "k1").rewards_issued, 0);
}

#[test]
fn t2_given_content_timed_before_the_completing_order_arriving_last_when_it_arrives_then_finished_at_is_the_orders_time()
 {
    let mut s = given_alice_in_a_running_task(json!([orders_task("any", 1), content_task("any", 1)]));
    assert_eq!(
        count(&sell(&mut s, "o1", ALICE, "10.00", &oct(10, 0)), "reward.issued"),
        0
    );
    let out = post(&mut s, "v1", ALICE, "video", &[P], &oct(5, 0));
    assert_eq!(count(&out, "reward.issued"), 1);
    assert_eq!(time_of(&first(&out, "task.finished")["finished_at"]), time(&oct(10, 0)));
    assert_eq!(participation(&s, "k1", ALICE).finished_at, Some(time(&oct(10, 0))));
}

#[test]
fn t2_given_a_block_known_before_a_late_completing_order_paid_before_it_when_the_order_arrives_then_no_reward_stands() {
    // In time order the reward (Oct 5) would be issued and then cancelled by
    // the block (Oct 8, decision 14); arriving late must end the same way.
    let mut s = given_alice_in_a_running_task(json!([orders_task("any", 1)]));
    platform_block(&mut s, ALICE, &oct(8, 0));
    let out = sell(&mut s, "o1", ALICE, "10.00", &oct(5, 0));
    assert_eq!(
        count(&out, "reward.issued"),
        count(&out, "reward.cancelled"),
        "{:?}",
        types(&out)
    );
    assert_eq!(campaign(&s, "k1").rewards_total, Decimal::ZERO);
    let settled = s.tick(END);
    assert_eq!(first(&settled, "campaign.settled")["rewards_total"], "0.00");
}

#[test]
fn t2_given_a_completing_order_that_arrives_after_settlement_when_it_is_applied_then_no_reward_is_issued() {
    let mut s = given_alice_in_a_running_task(json!([orders_task("any", 1)]));
    let settled = s.tick(END);
    assert_eq!(count(&settled, "campaign.settled"), 1);
    let out = sell(&mut s, "late", ALICE, "10.00", &oct(19, 0));
    assert_eq!(first(&out, "commission.accrued")["rate_source"], "campaign");
    assert_eq!(count(&out, "reward.issued"), 0);
    assert_eq!(campaign(&s, "k1").rewards_issued, 0);
}

#[test]
fn t2_given_three_creators_when_each_completes_then_each_is_rewarded_once_and_the_deposit_is_fully_used() {
    let mut s = given_alice_in_a_running_task(json!([orders_task("any", 1)]));
    joined(&mut s, "k1", BOB, &oct(3, 0));
    joined(&mut s, "k1", CAROL, &oct(3, 0));
    for (n, c) in [ALICE, BOB, CAROL].into_iter().enumerate() {
        let out = sell(&mut s, &format!("o{n}"), c, "10.00", &oct(4, 0));
        assert_eq!(rewards(&out), [(c.into(), "task".into(), Value::Null, "10.00".into())]);
    }
    let out = s.tick(END);
    let settled = first(&out, "campaign.settled");
    assert_eq!(settled["rewards_total"], "30.00");
    assert_eq!(settled["refunded"], "0.00");
    assert_eq!(count(&out, "refund.due"), 0);
}

// ---------------------------------------------------------------------------
// T3 — partial completion
// ---------------------------------------------------------------------------

#[test]
fn t3_given_a_creator_who_completed_only_some_tasks_when_the_campaign_ends_then_she_earns_nothing_and_the_budget_is_refunded()
 {
    let mut s = given_alice_in_a_running_task(json!([orders_task("any", 1), content_task("any", 1)]));
    sell(&mut s, "o1", ALICE, "10.00", &oct(4, 0));
    let out = s.tick(END);
    assert_eq!(count(&out, "reward.issued"), 0);
    assert_eq!(count(&out, "task.finished"), 0);
    let settled = first(&out, "campaign.settled");
    assert_eq!(settled["deposit"], "30.00");
    assert_eq!(settled["rewards_total"], "0.00");
    assert_eq!(settled["charged"], "0.00");
    assert_eq!(settled["refunded"], "30.00");
    let unused = unused_budget(&out);
    assert_eq!(unused.len(), 1);
    let refund = &unused[0];
    assert_eq!(refund["to"], "seller");
    assert_eq!(refund["party_id"], SELLER);
    assert_eq!(refund["campaign_id"], "k1");
    assert_eq!(refund["reason"], "unused_budget");
    assert_eq!(refund["amount"], "30.00");
    assert_eq!(time_of(&refund["due_by"]), time(END) + Duration::days(14));
    assert_eq!(status(&s, "k1", ALICE), ParticipationStatus::Unfinished);
}

#[test]
fn t3_given_one_of_three_creators_finished_when_the_campaign_ends_then_only_her_reward_is_charged() {
    let mut s = given_alice_in_a_running_task(json!([orders_task("any", 2)]));
    joined(&mut s, "k1", BOB, &oct(3, 0));
    joined(&mut s, "k1", CAROL, &oct(3, 0));
    sell(&mut s, "a1", ALICE, "10.00", &oct(4, 0));
    sell(&mut s, "a2", ALICE, "10.00", &oct(4, 1));
    sell(&mut s, "b1", BOB, "10.00", &oct(4, 2));
    let out = s.tick(END);
    let settled = first(&out, "campaign.settled");
    assert_eq!(settled["rewards_total"], "10.00");
    assert_eq!(settled["charged"], "10.00");
    assert_eq!(settled["refunded"], "20.00");
    // K6 also applies (paid in September, started in October): only the
    // unused-budget refund is of interest here.
    let unused = unused_budget(&out);
    assert_eq!(unused.len(), 1);
    assert_eq!(unused[0]["amount"], "20.00");
    assert_eq!(campaign(&s, "k1").status, CampaignStatus::Settled);
}

// ---------------------------------------------------------------------------
// H1–H3 — challenges
// ---------------------------------------------------------------------------

/// Challenge `h1` (the metric and minimum given; video orders) is running;
/// the given creators joined on Oct 3.
fn given_a_running_challenge(challenge_json: Value, creators: &[&str]) -> Scenario {
    let mut s = world();
    launch(&mut s, challenge_json);
    s.tick(START);
    for c in creators {
        joined(&mut s, "h1", c, &oct(3, 0));
    }
    s
}

fn everyone() -> [&'static str; 4] {
    [ALICE, BOB, CAROL, DAVE]
}

/// H1: the score of a participant, as the ranking will see it.
fn score(s: &Scenario, creator: &str) -> Decimal {
    crate::domain::participation::challenge_score(&campaign(s, "h1"), &participation(s, "h1", creator)).0
}

/// An order of `creator` with a chosen channel.
fn sell_as(s: &mut Scenario, id: &str, creator: &str, channel: &str, amount: &str, at: &str) -> Vec<OutcomeData> {
    let o = with(sale_of(id, creator, amount), "content_type", json!(channel));
    s.when("order.paid", at, o)
}

/// Runs the clock over the end and the finalization; returns the outcomes of
/// the finalization tick.
fn finalize(s: &mut Scenario) -> Vec<OutcomeData> {
    let ended = s.tick(END);
    assert_eq!(count(&ended, "campaign.ended"), 1, "{ended:?}");
    assert_eq!(count(&ended, "reward.issued"), 0, "{ended:?}");
    assert_eq!(count(&ended, "campaign.settled"), 0, "{ended:?}");
    s.tick(FINALIZED)
}

/// (creator, rank, amount) of the challenge rewards, in issue order.
fn ranking(out: &[OutcomeData]) -> Vec<(String, u64, String)> {
    all(out, "reward.issued")
        .iter()
        .map(|r| {
            assert_eq!(r["kind"], "challenge");
            (
                text(&r["creator_id"]),
                r["rank"].as_u64().unwrap_or(0),
                text(&r["amount"]),
            )
        })
        .collect()
}

fn ranked(expected: &[(&str, u64, &str)]) -> Vec<(String, u64, String)> {
    expected
        .iter()
        .map(|(c, r, a)| ((*c).to_owned(), *r, (*a).to_owned()))
        .collect()
}

#[test]
fn h1_given_a_gmv_challenge_when_orders_are_paid_refunded_and_cancelled_then_the_score_is_the_video_gmv_after_refunds()
{
    let mut s = given_a_running_challenge(challenge("h1", "gmv", json!("0.00")), &[ALICE]);
    sell_as(&mut s, "v1", ALICE, "video", "30.00", &oct(4, 0));
    sell_as(&mut s, "v2", ALICE, "video", "20.00", &oct(4, 1));
    refund(&mut s, "v2", "5.00", &oct(4, 2));
    sell_as(&mut s, "v3", ALICE, "video", "99.00", &oct(4, 3));
    cancel(&mut s, "v3", &oct(4, 4));
    sell_as(&mut s, "l1", ALICE, "live", "1000.00", &oct(4, 5));
    sell_as(&mut s, "s1", ALICE, "showcase", "1000.00", &oct(4, 6));
    assert_eq!(score(&s, ALICE), Decimal::new(4500, 2));
}

#[test]
fn h1_given_an_orders_challenge_when_orders_are_paid_then_the_score_counts_video_orders_neither_cancelled_nor_fully_refunded()
 {
    let mut s = given_a_running_challenge(challenge("h1", "orders", json!(0)), &[ALICE]);
    sell_as(&mut s, "v1", ALICE, "video", "30.00", &oct(4, 0));
    sell_as(&mut s, "v2", ALICE, "video", "20.00", &oct(4, 1));
    refund(&mut s, "v2", "19.99", &oct(4, 2));
    sell_as(&mut s, "v3", ALICE, "video", "10.00", &oct(4, 3));
    refund(&mut s, "v3", "10.00", &oct(4, 4));
    sell_as(&mut s, "v4", ALICE, "video", "10.00", &oct(4, 5));
    cancel(&mut s, "v4", &oct(4, 6));
    sell_as(&mut s, "l1", ALICE, "live", "10.00", &oct(4, 7));
    assert_eq!(score(&s, ALICE), Decimal::from(2));
}

#[test]
fn h1_given_a_challenge_on_video_and_live_when_orders_of_every_channel_are_paid_then_showcase_orders_never_count() {
    let mut c = challenge("h1", "orders", json!(1));
    c["challenge"]["content_types"] = json!(["video", "live"]);
    let mut s = given_a_running_challenge(c, &[ALICE]);
    sell_as(&mut s, "v1", ALICE, "video", "10.00", &oct(4, 0));
    sell_as(&mut s, "l1", ALICE, "live", "10.00", &oct(4, 1));
    sell_as(&mut s, "s1", ALICE, "showcase", "10.00", &oct(4, 2));
    assert_eq!(score(&s, ALICE), Decimal::from(2));
}

#[test]
fn h1_given_a_live_only_challenge_when_video_orders_are_paid_then_they_do_not_score() {
    let mut c = challenge("h1", "gmv", json!("0.00"));
    c["challenge"]["content_types"] = json!(["live"]);
    let mut s = given_a_running_challenge(c, &[ALICE, BOB]);
    sell_as(&mut s, "v1", ALICE, "video", "100.00", &oct(4, 0));
    sell_as(&mut s, "l1", BOB, "live", "10.00", &oct(4, 1));
    let out = finalize(&mut s);
    assert_eq!(ranking(&out), ranked(&[(BOB, 1, "50.00")]));
}

#[test]
fn h1_given_a_challenge_when_orders_fall_outside_the_window_or_the_campaign_then_they_do_not_score() {
    let mut s = given_a_running_challenge(challenge("h1", "orders", json!(1)), &[ALICE]);
    sell_as(&mut s, "before-join", ALICE, "video", "10.00", &oct(2, 12));
    s.when(
        "order.paid",
        &oct(4, 0),
        order("outside", SELLER, P_OUTSIDE, Some(ALICE), "10.00"),
    );
    s.when(
        "order.paid",
        &oct(4, 0),
        order("other", OTHER_SELLER, Q, Some(ALICE), "10.00"),
    );
    assert_eq!(score(&s, ALICE), Decimal::ZERO);
}

#[test]
fn h2_given_a_gmv_minimum_when_participants_end_just_below_and_at_it_then_only_the_one_at_the_minimum_is_ranked() {
    let mut s = given_a_running_challenge(challenge("h1", "gmv", json!("50.00")), &[ALICE, BOB]);
    sell_as(&mut s, "a1", ALICE, "video", "49.99", &oct(4, 0));
    sell_as(&mut s, "b1", BOB, "video", "50.00", &oct(4, 1));
    let out = finalize(&mut s);
    assert_eq!(ranking(&out), ranked(&[(BOB, 1, "50.00")]));
}

#[test]
fn h2_given_an_orders_minimum_of_two_when_a_participant_has_one_order_then_she_is_not_ranked() {
    let mut s = given_a_running_challenge(challenge("h1", "orders", json!(2)), &[ALICE, BOB]);
    sell_as(&mut s, "a1", ALICE, "video", "500.00", &oct(4, 0));
    sell_as(&mut s, "b1", BOB, "video", "1.00", &oct(4, 1));
    sell_as(&mut s, "b2", BOB, "video", "1.00", &oct(4, 2));
    let out = finalize(&mut s);
    assert_eq!(ranking(&out), ranked(&[(BOB, 1, "50.00")]));
}

#[test]
fn h2_given_a_zero_minimum_when_a_participant_scores_nothing_then_she_is_not_ranked() {
    let mut s = given_a_running_challenge(challenge("h1", "gmv", json!("0.00")), &[ALICE, BOB]);
    sell_as(&mut s, "a1", ALICE, "video", "10.00", &oct(4, 0));
    cancel(&mut s, "a1", &oct(4, 1));
    let out = finalize(&mut s);
    assert!(ranking(&out).is_empty(), "{out:?}");
    assert_eq!(first(&out, "campaign.settled")["refunded"], "90.00");
}

#[test]
fn h2_given_a_participant_whose_score_becomes_eligible_when_the_order_is_paid_then_her_status_is_finished() {
    let mut s = given_a_running_challenge(challenge("h1", "orders", json!(2)), &[ALICE]);
    let out = sell_as(&mut s, "a1", ALICE, "video", "10.00", &oct(4, 0));
    assert!(status_changes(&out).is_empty());
    let out = sell_as(&mut s, "a2", ALICE, "video", "10.00", &oct(4, 1));
    assert_eq!(status_changes(&out), ["finished"]);
    assert_eq!(
        count(&out, "reward.issued"),
        0,
        "challenge rewards wait for the ranking"
    );
    let out = sell_as(&mut s, "a3", ALICE, "video", "10.00", &oct(4, 2));
    assert!(status_changes(&out).is_empty());
}

#[test]
fn h2_given_a_finished_participant_who_drops_below_the_minimum_when_the_challenge_is_finalized_then_she_stays_finished_but_is_not_ranked()
 {
    let mut s = given_a_running_challenge(challenge("h1", "orders", json!(2)), &[ALICE]);
    sell_as(&mut s, "a1", ALICE, "video", "10.00", &oct(4, 0));
    sell_as(&mut s, "a2", ALICE, "video", "10.00", &oct(4, 1));
    let out = cancel(&mut s, "a2", &oct(5, 0));
    assert!(status_changes(&out).is_empty());
    assert_eq!(status(&s, "h1", ALICE), ParticipationStatus::Finished);
    let out = finalize(&mut s);
    assert!(ranking(&out).is_empty(), "{out:?}");
}

#[test]
fn h3_given_ties_when_the_challenge_is_finalized_then_earlier_reach_wins_then_the_smaller_creator_id() {
    let mut s = given_a_running_challenge(challenge("h1", "gmv", json!("0.00")), &everyone());
    // Bob reaches 100 on Oct 5; Alice and Dave both reach 100 on Oct 6; Carol has 50.
    sell_as(&mut s, "d1", DAVE, "video", "100.00", &oct(6, 0));
    sell_as(&mut s, "a1", ALICE, "video", "60.00", &oct(4, 0));
    sell_as(&mut s, "a2", ALICE, "video", "40.00", &oct(6, 0));
    sell_as(&mut s, "b1", BOB, "video", "100.00", &oct(5, 0));
    sell_as(&mut s, "c1", CAROL, "video", "50.00", &oct(3, 0));
    let out = finalize(&mut s);
    assert_eq!(
        ranking(&out),
        ranked(&[(BOB, 1, "50.00"), (ALICE, 2, "20.00"), (DAVE, 3, "20.00")])
    );
    let settled = first(&out, "campaign.settled");
    assert_eq!(settled["rewards_total"], "90.00");
    assert_eq!(settled["refunded"], "0.00");
    assert!(unused_budget(&out).is_empty());
}

#[test]
fn h3_given_a_higher_score_reached_later_when_the_challenge_is_finalized_then_the_score_decides_first() {
    let mut s = given_a_running_challenge(challenge("h1", "orders", json!(1)), &[ALICE, BOB]);
    sell_as(&mut s, "a1", ALICE, "video", "10.00", &oct(4, 0));
    sell_as(&mut s, "b1", BOB, "video", "10.00", &oct(10, 0));
    sell_as(&mut s, "b2", BOB, "video", "10.00", &oct(18, 0));
    let out = finalize(&mut s);
    assert_eq!(ranking(&out), ranked(&[(BOB, 1, "50.00"), (ALICE, 2, "20.00")]));
}

#[test]
fn h3_given_a_score_lowered_by_a_refund_when_the_challenge_is_finalized_then_it_was_reached_at_the_refund() {
    // Decision 23. Alice: 50 on Oct 4 and 50 on Oct 8, the latter fully
    // refunded on Oct 9; Bob: 50 on Oct 6. Equal scores: Alice's final score
    // was reached by the refund on Oct 9, after Bob's on Oct 6.
    let mut s = given_a_running_challenge(challenge("h1", "gmv", json!("0.00")), &[ALICE, BOB]);
    sell_as(&mut s, "a1", ALICE, "video", "50.00", &oct(4, 0));
    sell_as(&mut s, "a2", ALICE, "video", "50.00", &oct(8, 0));
    refund(&mut s, "a2", "50.00", &oct(9, 0));
    sell_as(&mut s, "b1", BOB, "video", "50.00", &oct(6, 0));
    let out = finalize(&mut s);
    assert_eq!(ranking(&out), ranked(&[(BOB, 1, "50.00"), (ALICE, 2, "20.00")]));
}

#[test]
fn h3_given_a_refund_arriving_before_its_order_when_the_challenge_is_finalized_then_the_score_was_reached_at_the_refund()
 {
    // Alice: 50 on Oct 4, 50 on Oct 5 refunded 20 on Oct 9 — the refund
    // arriving before its order; Bob: 80 on Oct 6. Equal scores of 80:
    // Alice's was reached on Oct 9.
    let mut s = given_a_running_challenge(challenge("h1", "gmv", json!("0.00")), &[ALICE, BOB]);
    refund(&mut s, "a2", "20.00", &oct(9, 0));
    sell_as(&mut s, "b1", BOB, "video", "80.00", &oct(6, 0));
    sell_as(&mut s, "a1", ALICE, "video", "50.00", &oct(4, 0));
    sell_as(&mut s, "a2", ALICE, "video", "50.00", &oct(5, 0));
    let out = finalize(&mut s);
    assert_eq!(ranking(&out), ranked(&[(BOB, 1, "50.00"), (ALICE, 2, "20.00")]));
}

#[test]
fn h3_given_an_orders_challenge_when_a_partial_refund_leaves_the_count_then_it_does_not_move_the_reach_time() {
    // Alice: orders on Oct 4 and Oct 5, the second partly refunded on Oct 9
    // (still counting); Bob: orders on Oct 4 and Oct 6. Two each: Alice
    // reached two on Oct 5, before Bob.
    let mut s = given_a_running_challenge(challenge("h1", "orders", json!(1)), &[ALICE, BOB]);
    sell_as(&mut s, "a1", ALICE, "video", "10.00", &oct(4, 0));
    sell_as(&mut s, "a2", ALICE, "video", "10.00", &oct(5, 0));
    refund(&mut s, "a2", "4.00", &oct(9, 0));
    sell_as(&mut s, "b1", BOB, "video", "10.00", &oct(4, 0));
    sell_as(&mut s, "b2", BOB, "video", "10.00", &oct(6, 0));
    let out = finalize(&mut s);
    assert_eq!(ranking(&out), ranked(&[(ALICE, 1, "50.00"), (BOB, 2, "20.00")]));
}

#[test]
fn h3_given_an_orders_challenge_when_a_cancellation_lowers_the_count_then_the_score_was_reached_at_the_cancellation() {
    // Alice: orders on Oct 4 and Oct 5, the second cancelled on Oct 9 — one
    // order since Oct 9; Bob: one order on Oct 6.
    let mut s = given_a_running_challenge(challenge("h1", "orders", json!(1)), &[ALICE, BOB]);
    sell_as(&mut s, "a1", ALICE, "video", "10.00", &oct(4, 0));
    sell_as(&mut s, "a2", ALICE, "video", "10.00", &oct(5, 0));
    cancel(&mut s, "a2", &oct(9, 0));
    sell_as(&mut s, "b1", BOB, "video", "10.00", &oct(6, 0));
    let out = finalize(&mut s);
    assert_eq!(ranking(&out), ranked(&[(BOB, 1, "50.00"), (ALICE, 2, "20.00")]));
}

#[test]
fn h3_given_fewer_eligible_creators_than_ranks_when_the_challenge_settles_then_unfilled_ranks_are_refunded() {
    let mut s = given_a_running_challenge(challenge("h1", "orders", json!(1)), &[ALICE, BOB]);
    sell_as(&mut s, "a1", ALICE, "video", "10.00", &oct(4, 0));
    let out = finalize(&mut s);
    assert_eq!(ranking(&out), ranked(&[(ALICE, 1, "50.00")]));
    let reward = first(&out, "reward.issued");
    assert_eq!(reward["campaign_id"], "h1");
    assert_eq!(reward["currency"], "USD");
    let settled = first(&out, "campaign.settled");
    assert_eq!(settled["deposit"], "90.00");
    assert_eq!(settled["rewards_total"], "50.00");
    assert_eq!(settled["charged"], "50.00");
    assert_eq!(settled["refunded"], "40.00");
    let unused = unused_budget(&out);
    assert_eq!(unused.len(), 1);
    assert_eq!(unused[0]["amount"], "40.00");
    assert_eq!(time_of(&unused[0]["due_by"]), time(FINALIZED) + Duration::days(14));
    assert_eq!(campaign(&s, "h1").status, CampaignStatus::Settled);
}

#[test]
fn h3_given_more_eligible_creators_than_ranks_when_finalized_then_only_the_ranks_with_a_band_are_paid() {
    let mut s = given_a_running_challenge(challenge("h1", "orders", json!(1)), &everyone());
    for (n, c) in everyone().into_iter().enumerate() {
        for k in 0..=n {
            sell_as(&mut s, &format!("{c}-{k}"), c, "video", "1.00", &oct(4, k as u32));
        }
    }
    let out = finalize(&mut s);
    assert_eq!(
        ranking(&out),
        ranked(&[(DAVE, 1, "50.00"), (CAROL, 2, "20.00"), (BOB, 3, "20.00")])
    );
    assert_eq!(campaign(&s, "h1").rewards_total, Decimal::new(9000, 2));
}

#[test]
fn h3_given_a_challenge_when_it_ends_then_rewards_wait_for_the_finalization_lag() {
    let mut s = given_a_running_challenge(challenge("h1", "orders", json!(1)), &[ALICE]);
    sell_as(&mut s, "a1", ALICE, "video", "10.00", &oct(4, 0));
    // The tax report of September (K7) is due on Oct 7: out of the way first.
    assert_eq!(types(&s.tick(&oct(7, 0))), ["tax_report.available"]);
    assert_eq!(types(&s.tick(END)), ["campaign.ended"]);
    assert!(s.tick(&plus(END, Duration::minutes(59))).is_empty());
    assert_eq!(campaign(&s, "h1").status, CampaignStatus::Ended);
    let out = s.tick(FINALIZED);
    assert_eq!(ranking(&out), ranked(&[(ALICE, 1, "50.00")]));
    assert_eq!(count(&out, "campaign.settled"), 1);
}

#[test]
fn h3_given_an_order_paid_before_the_end_arriving_after_the_end_tick_when_the_challenge_is_finalized_then_it_counts() {
    let mut s = given_a_running_challenge(challenge("h1", "orders", json!(1)), &[ALICE, BOB]);
    sell_as(&mut s, "a1", ALICE, "video", "10.00", &oct(4, 0));
    sell_as(&mut s, "b1", BOB, "video", "10.00", &oct(5, 0));
    assert_eq!(count(&s.tick(END), "campaign.ended"), 1);
    // Paid one second before the end, arriving after the end tick.
    sell_as(&mut s, "b2", BOB, "video", "10.00", &plus(END, -Duration::seconds(1)));
    // Paid at the end: outside the window.
    sell_as(&mut s, "a2", ALICE, "video", "10.00", END);
    sell_as(&mut s, "a3", ALICE, "video", "10.00", &plus(END, Duration::minutes(30)));
    let out = s.tick(FINALIZED);
    assert_eq!(ranking(&out), ranked(&[(BOB, 1, "50.00"), (ALICE, 2, "20.00")]));
}

#[test]
fn h3_given_a_finalized_challenge_when_a_late_order_paid_before_the_end_arrives_then_it_changes_nothing() {
    let mut s = given_a_running_challenge(challenge("h1", "orders", json!(1)), &[ALICE, BOB]);
    sell_as(&mut s, "a1", ALICE, "video", "10.00", &oct(4, 0));
    let out = finalize(&mut s);
    assert_eq!(ranking(&out), ranked(&[(ALICE, 1, "50.00")]));
    let out = sell_as(&mut s, "b1", BOB, "video", "10.00", &oct(19, 0));
    assert_eq!(count(&out, "reward.issued"), 0);
    assert!(participation(&s, "h1", BOB).orders.is_empty());
    assert_eq!(status(&s, "h1", BOB), ParticipationStatus::Unfinished);
    let out = cancel(&mut s, "a1", &oct(21, 0));
    assert_eq!(
        count(&out, "reward.cancelled"),
        0,
        "a reward is never taken back by a refund"
    );
    assert_eq!(campaign(&s, "h1").rewards_total, Decimal::new(5000, 2));
}

#[test]
fn h3_given_a_platform_blocked_leader_when_the_challenge_is_finalized_then_she_is_excluded_and_the_others_move_up() {
    let mut s = given_a_running_challenge(challenge("h1", "gmv", json!("0.00")), &[ALICE, BOB, CAROL]);
    sell_as(&mut s, "a1", ALICE, "video", "300.00", &oct(4, 0));
    sell_as(&mut s, "b1", BOB, "video", "200.00", &oct(4, 0));
    sell_as(&mut s, "c1", CAROL, "video", "100.00", &oct(4, 0));
    platform_block(&mut s, ALICE, &oct(10, 0));
    let out = finalize(&mut s);
    assert_eq!(ranking(&out), ranked(&[(BOB, 1, "50.00"), (CAROL, 2, "20.00")]));
    assert_eq!(unused_budget(&out)[0]["amount"], "20.00");
}

#[test]
fn h3_given_a_leader_blocked_after_the_end_but_before_finalization_when_finalized_then_she_is_excluded() {
    let mut s = given_a_running_challenge(challenge("h1", "gmv", json!("0.00")), &[ALICE, BOB]);
    sell_as(&mut s, "a1", ALICE, "video", "300.00", &oct(4, 0));
    sell_as(&mut s, "b1", BOB, "video", "200.00", &oct(4, 0));
    s.tick(END);
    platform_block(&mut s, ALICE, &plus(END, Duration::minutes(10)));
    let out = s.tick(FINALIZED);
    assert_eq!(ranking(&out), ranked(&[(BOB, 1, "50.00")]));
}

#[test]
fn h3_given_a_participant_removed_by_a_pause_when_the_challenge_is_finalized_then_she_is_not_ranked() {
    let mut s = given_a_running_challenge(challenge("h1", "gmv", json!("0.00")), &[ALICE, BOB]);
    sell_as(&mut s, "a1", ALICE, "video", "300.00", &oct(4, 0));
    sell_as(&mut s, "b1", BOB, "video", "200.00", &oct(4, 0));
    pause(&mut s, ALICE, &oct(5, 0));
    let out = finalize(&mut s);
    assert_eq!(ranking(&out), ranked(&[(BOB, 1, "50.00")]));
}

// ---------------------------------------------------------------------------
// S1 — free-sample requests
// ---------------------------------------------------------------------------

/// The reason of the one `sample.rejected` outcome.
fn sample_rejection(out: &[OutcomeData]) -> String {
    assert_eq!(types(out), ["sample.rejected"], "{out:?}");
    text(&first(out, "sample.rejected")["reason"])
}

fn approved(out: &[OutcomeData]) {
    assert_eq!(types(out), ["sample.approved"], "{out:?}");
}

/// Task `k1` is running (unreachable task); Alice joined on Oct 3.
fn given_alice_in_a_running_campaign() -> Scenario {
    given_alice_in_a_running_task(unreachable_orders())
}

#[test]
fn s1_given_a_participant_when_she_requests_a_free_sample_then_it_is_pre_approved_ready_to_ship() {
    let mut s = given_alice_in_a_running_campaign();
    let out = request_sample(&mut s, "r1", "k1", ALICE, P, &oct(4, 0));
    approved(&out);
    let a = first(&out, "sample.approved");
    assert_eq!(a["request_id"], "r1");
    assert_eq!(a["campaign_id"], "k1");
    assert_eq!(a["creator_id"], ALICE);
    assert_eq!(a["product_id"], P);
    assert_eq!(a["status"], "ready_to_ship");
    assert_eq!(participation(&s, "k1", ALICE).samples_approved, 1);
}

#[test]
fn s1_given_a_scheduled_campaign_when_a_participant_requests_a_sample_before_the_start_then_it_is_approved() {
    let mut s = world();
    launch(&mut s, simple_task("k1"));
    joined(&mut s, "k1", ALICE, &oct(1, 0));
    approved(&request_sample(&mut s, "r1", "k1", ALICE, P, &oct(1, 1)));
}

#[test]
fn s1_given_a_creator_who_did_not_join_when_she_requests_a_sample_then_it_is_rejected_not_participating() {
    let mut s = given_alice_in_a_running_campaign();
    assert_eq!(
        sample_rejection(&request_sample(&mut s, "r1", "k1", BOB, P, &oct(4, 0))),
        "not_participating"
    );
    assert_eq!(
        sample_rejection(&request_sample(&mut s, "r2", "nope", ALICE, P, &oct(4, 0))),
        "not_participating"
    );
}

#[test]
fn s1_given_a_participant_removed_by_a_pause_when_she_requests_a_sample_then_it_is_rejected_not_participating() {
    let mut s = given_alice_in_a_running_campaign();
    pause(&mut s, ALICE, &oct(4, 0));
    assert_eq!(
        sample_rejection(&request_sample(&mut s, "r1", "k1", ALICE, P, &oct(4, 1))),
        "not_participating"
    );
}

#[test]
fn s1_given_an_ended_campaign_when_a_participant_requests_a_sample_then_it_is_rejected_campaign_not_open() {
    let mut s = given_alice_in_a_running_campaign();
    s.tick(END);
    assert_eq!(
        sample_rejection(&request_sample(&mut s, "r1", "k1", ALICE, P, &oct(21, 0))),
        "campaign_not_open"
    );
}

#[test]
fn s1_given_a_recalled_campaign_when_a_participant_requests_a_sample_then_it_is_rejected_campaign_not_open() {
    let mut s = world();
    launch(&mut s, simple_task("k1"));
    joined(&mut s, "k1", ALICE, &oct(1, 0));
    s.when(
        "campaign.recall_requested",
        &oct(1, 1),
        json!({ "campaign_id": "k1", "seller_id": SELLER }),
    );
    assert_eq!(
        sample_rejection(&request_sample(&mut s, "r1", "k1", ALICE, P, &oct(1, 2))),
        "campaign_not_open"
    );
}

#[test]
fn s1_given_a_product_without_free_samples_or_outside_the_campaign_when_requested_then_it_is_rejected_sample_not_offered()
 {
    let mut s = given_alice_in_a_running_campaign();
    assert_eq!(
        sample_rejection(&request_sample(&mut s, "r1", "k1", ALICE, P_PLAIN, &oct(4, 0))),
        "sample_not_offered"
    );
    assert_eq!(
        sample_rejection(&request_sample(&mut s, "r2", "k1", ALICE, P_OUTSIDE, &oct(4, 0))),
        "sample_not_offered"
    );
    assert_eq!(participation(&s, "k1", ALICE).samples_approved, 0);
}

#[test]
fn s1_given_three_approved_requests_when_the_fourth_is_made_then_it_is_rejected_sample_limit_reached() {
    let mut s = given_alice_in_a_running_campaign();
    for n in 1..=3 {
        approved(&request_sample(&mut s, &format!("r{n}"), "k1", ALICE, P, &oct(4, n)));
    }
    assert_eq!(
        sample_rejection(&request_sample(&mut s, "r4", "k1", ALICE, P, &oct(4, 4))),
        "sample_limit_reached"
    );
    assert_eq!(participation(&s, "k1", ALICE).samples_approved, 3);
}

#[test]
fn s1_given_rejected_requests_when_counting_towards_the_limit_then_only_approved_ones_count() {
    let mut s = given_alice_in_a_running_campaign();
    approved(&request_sample(&mut s, "r1", "k1", ALICE, P, &oct(4, 0)));
    sample_rejection(&request_sample(&mut s, "x1", "k1", ALICE, P_PLAIN, &oct(4, 1)));
    sample_rejection(&request_sample(&mut s, "x2", "k1", ALICE, P_PLAIN, &oct(4, 2)));
    approved(&request_sample(&mut s, "r2", "k1", ALICE, P, &oct(4, 3)));
    approved(&request_sample(&mut s, "r3", "k1", ALICE, P, &oct(4, 4)));
    assert_eq!(
        sample_rejection(&request_sample(&mut s, "r4", "k1", ALICE, P, &oct(4, 5))),
        "sample_limit_reached"
    );
}

#[test]
fn s1_given_the_limit_reached_in_one_campaign_when_requesting_in_another_or_for_another_creator_then_it_is_approved() {
    let mut s = world();
    launch(&mut s, simple_task("k1"));
    launch(&mut s, simple_task("k2"));
    joined(&mut s, "k1", ALICE, &oct(1, 0));
    joined(&mut s, "k2", ALICE, &oct(1, 0));
    joined(&mut s, "k1", BOB, &oct(1, 0));
    for n in 1..=3 {
        approved(&request_sample(&mut s, &format!("r{n}"), "k1", ALICE, P, &oct(1, n)));
    }
    approved(&request_sample(&mut s, "k2-r1", "k1", BOB, P, &oct(1, 5)));
    approved(&request_sample(&mut s, "k2-r2", "k2", ALICE, P, &oct(1, 5)));
}

#[test]
fn s1_given_several_failing_checks_when_samples_are_requested_then_the_first_failing_reason_in_rule_order_is_reported()
{
    let mut s = given_alice_in_a_running_campaign();
    for n in 1..=3 {
        approved(&request_sample(&mut s, &format!("r{n}"), "k1", ALICE, P, &oct(4, n)));
    }
    // At the limit and asking for a product without samples.
    assert_eq!(
        sample_rejection(&request_sample(&mut s, "a", "k1", ALICE, P_PLAIN, &oct(5, 0))),
        "sample_not_offered"
    );
    s.tick(END);
    // Closed, not offered, at the limit.
    assert_eq!(
        sample_rejection(&request_sample(&mut s, "b", "k1", ALICE, P_PLAIN, &oct(21, 0))),
        "campaign_not_open"
    );
    // Not participating, closed, not offered.
    assert_eq!(
        sample_rejection(&request_sample(&mut s, "c", "k1", BOB, P_PLAIN, &oct(21, 0))),
        "not_participating"
    );
}

#[test]
fn s1_given_a_decided_request_when_it_is_requested_again_then_nothing_more_happens() {
    let mut s = given_alice_in_a_running_campaign();
    approved(&request_sample(&mut s, "r1", "k1", ALICE, P, &oct(4, 0)));
    assert!(request_sample(&mut s, "r1", "k1", ALICE, P, &oct(4, 1)).is_empty());
    assert_eq!(participation(&s, "k1", ALICE).samples_approved, 1);
}

// ---------------------------------------------------------------------------
// S2 — shipping and delivery
// ---------------------------------------------------------------------------

#[test]
fn s2_given_an_approved_sample_when_it_is_shipped_and_delivered_then_both_are_recorded_once() {
    use crate::domain::model::Sample;
    use crate::wire::values::RequestId;
    let mut s = given_alice_in_a_running_campaign();
    approved(&request_sample(&mut s, "r1", "k1", ALICE, P, &oct(4, 0)));
    assert!(ship(&mut s, "r1", &oct(5, 0)).is_empty());
    assert!(ship(&mut s, "r1", &oct(5, 1)).is_empty());
    deliver(&mut s, "r1", &oct(6, 0));
    deliver(&mut s, "r1", &oct(6, 1));
    let sample = s
        .get::<Sample>(&RequestId::from("r1"))
        .unwrap_or_else(|| panic!("sample r1"));
    assert_eq!(sample.shipped_at, Some(time(&oct(5, 0))));
    assert_eq!(sample.delivered_at, Some(time(&oct(6, 0))));
    assert_eq!(sample.request, Some(("k1".into(), ALICE.into(), true)));
}

// ---------------------------------------------------------------------------
// S3, K4 — refundable samples
// ---------------------------------------------------------------------------

fn purchase(s: &mut Scenario, id: &str, product: &str, at: &str) -> Vec<OutcomeData> {
    s.when(
        "sample.refundable_purchased",
        at,
        json!({
            "refundable_id": id, "campaign_id": "k1", "creator_id": ALICE, "product_id": product,
            "order_id": format!("buy-{id}"), "price": "25.00", "shipping_fee": "4.99", "currency": "USD"
        }),
    )
}

/// Alice sells `quantity` units of P through `channel`.
fn sell_units(s: &mut Scenario, id: &str, channel: &str, quantity: u32, at: &str) -> Vec<OutcomeData> {
    let o = with(
        with(sale_of(id, ALICE, "10.00"), "content_type", json!(channel)),
        "quantity",
        json!(quantity),
    );
    s.when("order.paid", at, o)
}

fn refundable_status(s: &Scenario, id: &str) -> crate::domain::model::RefundableStatus {
    s.get::<crate::domain::model::Refundable>(&id.into())
        .unwrap_or_else(|| panic!("refundable {id}"))
        .status
}

fn sample_refunds(out: &[OutcomeData]) -> Vec<Value> {
    all(out, "refund.due")
        .into_iter()
        .filter(|r| r["reason"] == "refundable_sample")
        .collect()
}

#[test]
fn s3_given_a_refundable_sample_when_units_of_any_channel_reach_the_goal_then_price_and_shipping_are_refunded_to_the_creator()
 {
    let mut s = given_alice_in_a_running_campaign();
    assert!(purchase(&mut s, "rs1", P, &oct(4, 0)).is_empty());
    assert!(sample_refunds(&sell_units(&mut s, "v", "video", 1, &oct(5, 0))).is_empty());
    assert!(sample_refunds(&sell_units(&mut s, "s", "showcase", 1, &oct(6, 0))).is_empty());
    let out = sell_units(&mut s, "l", "live", 1, &oct(7, 0));
    let refunds = sample_refunds(&out);
    assert_eq!(refunds.len(), 1, "{out:?}");
    let r = &refunds[0];
    assert!(!text(&r["refund_id"]).is_empty());
    assert_eq!(r["to"], "creator");
    assert_eq!(r["party_id"], ALICE);
    assert_eq!(r["campaign_id"], "k1");
    assert_eq!(r["amount"], "29.99");
    assert_eq!(r["currency"], "USD");
    assert_eq!(time_of(&r["due_by"]), time(&oct(7, 0)) + Duration::days(14));
    assert_eq!(
        refundable_status(&s, "rs1"),
        crate::domain::model::RefundableStatus::Refunded
    );
}

#[test]
fn s3_given_a_refundable_sample_when_one_order_has_enough_units_then_the_quantity_counts() {
    let mut s = given_alice_in_a_running_campaign();
    purchase(&mut s, "rs1", P, &oct(4, 0));
    assert!(sample_refunds(&sell_units(&mut s, "two", "video", 2, &oct(5, 0))).is_empty());
    assert_eq!(
        sample_refunds(&sell_units(&mut s, "one", "video", 1, &oct(5, 1))).len(),
        1
    );
}

#[test]
fn s3_given_a_refundable_window_outlasting_the_campaign_when_open_collaboration_orders_follow_then_they_count() {
    let mut s = given_alice_in_a_running_campaign();
    purchase(&mut s, "rs1", P, &oct(15, 0));
    sell_units(&mut s, "in-campaign", "video", 1, &oct(16, 0));
    s.tick(END);
    let after = sell_units(&mut s, "after-1", "video", 1, &oct(25, 0));
    assert_eq!(first(&after, "commission.accrued")["rate_source"], "open_collab");
    let out = sell_units(&mut s, "after-2", "showcase", 1, "2024-11-20T00:00:00Z");
    assert_eq!(sample_refunds(&out).len(), 1);
}

#[test]
fn s3_given_cancelled_and_refunded_orders_when_counting_units_then_only_orders_still_standing_count() {
    let mut s = given_alice_in_a_running_campaign();
    purchase(&mut s, "rs1", P, &oct(4, 0));
    // Each order alone stays below the goal of 3 units.
    sell_units(&mut s, "cancelled", "video", 2, &oct(5, 0));
    cancel(&mut s, "cancelled", &oct(5, 1));
    sell_units(&mut s, "refunded", "video", 2, &oct(5, 2));
    refund(&mut s, "refunded", "10.00", &oct(5, 3));
    // A partial refund keeps all the units of the order.
    sell_units(&mut s, "partial", "video", 2, &oct(5, 4));
    let out = refund(&mut s, "partial", "9.00", &oct(5, 5));
    assert!(sample_refunds(&out).is_empty());
    assert_eq!(
        refundable_status(&s, "rs1"),
        crate::domain::model::RefundableStatus::Open
    );
    assert_eq!(
        sample_refunds(&sell_units(&mut s, "last", "live", 1, &oct(6, 0))).len(),
        1
    );
}

#[test]
fn s3_given_orders_sold_before_the_purchase_event_arrives_when_it_arrives_then_those_inside_the_window_count() {
    let mut s = given_alice_in_a_running_campaign();
    sell_units(&mut s, "before-window", "video", 5, &oct(3, 12));
    sell_units(&mut s, "in-1", "video", 1, &oct(5, 0));
    sell_units(&mut s, "in-2", "showcase", 1, &oct(6, 0));
    assert!(purchase(&mut s, "rs1", P, &oct(4, 0)).is_empty());
    let out = sell_units(&mut s, "in-3", "video", 1, &oct(7, 0));
    assert_eq!(sample_refunds(&out).len(), 1);
}

#[test]
fn s3_given_the_goal_already_met_when_the_purchase_event_arrives_then_the_refund_is_due_from_when_it_was_met() {
    let mut s = given_alice_in_a_running_campaign();
    sell_units(&mut s, "in-1", "video", 1, &oct(5, 0));
    sell_units(&mut s, "in-3", "video", 1, &oct(9, 0));
    sell_units(&mut s, "in-2", "video", 1, &oct(7, 0));
    let out = purchase(&mut s, "rs1", P, &oct(4, 0));
    let refunds = sample_refunds(&out);
    assert_eq!(refunds.len(), 1, "{out:?}");
    assert_eq!(time_of(&refunds[0]["due_by"]), time(&oct(9, 0)) + Duration::days(14));
    // Nothing expires later.
    assert!(
        s.tick("2024-12-31T00:00:00Z")
            .iter()
            .all(|o| o.type_name() != "sample.refund_expired")
    );
}

#[test]
fn s3_given_a_sixty_day_window_when_orders_come_just_before_and_at_its_end_then_only_the_one_before_counts() {
    let mut s = given_alice_in_a_running_campaign();
    let t = oct(4, 0);
    purchase(&mut s, "rs1", P, &t);
    sell_units(&mut s, "a", "video", 2, &oct(5, 0));
    let deadline = plus(&t, Duration::days(60));
    assert!(sample_refunds(&sell_units(&mut s, "at-end", "video", 1, &deadline)).is_empty());
    let out = sell_units(
        &mut s,
        "just-before",
        "video",
        1,
        &plus(&deadline, -Duration::seconds(1)),
    );
    assert_eq!(sample_refunds(&out).len(), 1);
}

#[test]
fn s3_given_a_refunded_sample_when_more_units_are_sold_or_orders_cancelled_then_nothing_more_is_refunded_or_taken_back()
{
    let mut s = given_alice_in_a_running_campaign();
    purchase(&mut s, "rs1", P, &oct(4, 0));
    let out = sell_units(&mut s, "three", "video", 3, &oct(5, 0));
    assert_eq!(sample_refunds(&out).len(), 1);
    let mut later = sell_units(&mut s, "more", "video", 3, &oct(6, 0));
    later.extend(cancel(&mut s, "three", &oct(6, 1)));
    later.extend(sell_units(&mut s, "again", "video", 3, &oct(7, 0)));
    assert!(sample_refunds(&later).is_empty(), "{later:?}");
    assert_eq!(
        refundable_status(&s, "rs1"),
        crate::domain::model::RefundableStatus::Refunded
    );
}

#[test]
fn s3_given_a_refundable_sample_when_others_sell_it_or_the_creator_sells_other_products_then_those_units_do_not_count()
{
    let mut s = given_alice_in_a_running_campaign();
    purchase(&mut s, "rs1", P, &oct(4, 0));
    s.when(
        "order.paid",
        &oct(5, 0),
        with(sale_of("bobs", BOB, "10.00"), "quantity", json!(5)),
    );
    s.when(
        "order.paid",
        &oct(5, 0),
        with(order("nobody", SELLER, P, None, "10.00"), "quantity", json!(5)),
    );
    s.when(
        "order.paid",
        &oct(5, 0),
        with(
            order("plain", SELLER, P_PLAIN, Some(ALICE), "10.00"),
            "quantity",
            json!(5),
        ),
    );
    assert_eq!(
        refundable_status(&s, "rs1"),
        crate::domain::model::RefundableStatus::Open
    );
}

#[test]
fn s3_given_a_product_without_a_refundable_goal_when_it_is_bought_as_a_refundable_sample_then_it_is_ignored() {
    // Decision 24.
    let mut s = given_alice_in_a_running_campaign();
    assert!(purchase(&mut s, "rs1", P_PLAIN, &oct(4, 0)).is_empty());
    assert!(s.get::<crate::domain::model::Refundable>(&"rs1".into()).is_none());
    let out = s.tick("2024-12-31T00:00:00Z");
    assert_eq!(count(&out, "sample.refund_expired"), 0);
}

#[test]
fn k4_given_a_refundable_sample_without_the_goal_when_the_first_tick_after_the_deadline_comes_then_it_expires_once() {
    let mut s = given_alice_in_a_running_campaign();
    let t = oct(4, 0);
    purchase(&mut s, "rs1", P, &t);
    sell_units(&mut s, "a", "video", 2, &oct(5, 0));
    let deadline = plus(&t, Duration::days(60));
    let before = s.tick(&plus(&deadline, -Duration::seconds(1)));
    assert_eq!(count(&before, "sample.refund_expired"), 0, "{before:?}");
    let out = s.tick(&plus(&deadline, Duration::minutes(1)));
    assert_eq!(types(&out), ["sample.refund_expired"]);
    let expired = first(&out, "sample.refund_expired");
    assert_eq!(expired["refundable_id"], "rs1");
    assert_eq!(expired["creator_id"], ALICE);
    assert_eq!(
        refundable_status(&s, "rs1"),
        crate::domain::model::RefundableStatus::Expired
    );
    assert!(s.tick(&plus(&deadline, Duration::days(1))).is_empty());
    // A late order paid inside the window changes nothing any more.
    let late = sell_units(&mut s, "late", "video", 1, &oct(6, 0));
    assert!(sample_refunds(&late).is_empty());
}

#[test]
fn k4_given_a_refundable_sample_when_a_tick_comes_exactly_at_the_deadline_then_it_expires() {
    let mut s = given_alice_in_a_running_campaign();
    let t = oct(4, 0);
    purchase(&mut s, "rs1", P, &t);
    let out = s.tick(&plus(&t, Duration::days(60)));
    assert_eq!(count(&out, "sample.refund_expired"), 1, "{out:?}");
}

#[test]
fn k4_given_a_refundable_sample_whose_goal_was_met_when_the_deadline_passes_then_nothing_expires() {
    let mut s = given_alice_in_a_running_campaign();
    let t = oct(4, 0);
    purchase(&mut s, "rs1", P, &t);
    sell_units(&mut s, "a", "video", 3, &oct(5, 0));
    let out = s.tick(&plus(&t, Duration::days(61)));
    assert_eq!(count(&out, "sample.refund_expired"), 0, "{out:?}");
}

// ---------------------------------------------------------------------------
// O2, O4 — commission rates inside campaigns
// ---------------------------------------------------------------------------

/// `[rate, rate_source, amount, campaign_id]` of the accrued commission.
fn rated(out: &[OutcomeData]) -> [String; 4] {
    let a = first(out, "commission.accrued");
    [
        text(&a["rate"]),
        text(&a["rate_source"]),
        text(&a["amount"]),
        text(&a["campaign_id"]),
    ]
}

fn rate(r: &str, source: &str, amount: &str, campaign: &str) -> [String; 4] {
    [r.into(), source.into(), amount.into(), campaign.into()]
}

/// The seller changes P's open-collaboration rate at `at` (shop ads stay 5 %).
fn set_open_rate(s: &mut Scenario, r: &str, at: &str) {
    let mut p = product(P, SELLER, Some(r));
    p["open_collab_shop_ads_rate"] = json!("0.05");
    s.when("product.updated", at, p);
}

#[test]
fn o2_worked_example_1_open_rate_then_the_exclusive_campaign_rate_then_the_lowered_open_rate() {
    let mut s = world();
    launch(&mut s, task("k1", unreachable_orders()));
    // Alice promotes P on open collaboration at 10 %.
    let oct1 = sell(&mut s, "oct-1", ALICE, "100.00", &oct(1, 10));
    joined(&mut s, "k1", ALICE, &oct(1, 12));
    s.tick(START);
    set_open_rate(&mut s, "0.08", &oct(3, 0));
    let oct3 = sell(&mut s, "oct-3", ALICE, "100.00", &oct(3, 12));
    s.tick(END);
    let oct21 = sell(&mut s, "oct-21", ALICE, "100.00", &oct(21, 12));
    assert_eq!(rated(&oct1), rate("0.10", "open_collab", "10.00", "null"));
    assert_eq!(rated(&oct3), rate("0.15", "campaign", "15.00", "k1"));
    assert_eq!(rated(&oct21), rate("0.08", "open_collab", "8.00", "null"));
}

#[test]
fn o2_given_a_campaign_without_its_own_rate_when_orders_are_paid_then_they_earn_the_current_open_rate_as_campaign() {
    let mut s = world();
    let mut k = task("k1", unreachable_orders());
    k["products"][0]["commission_rate"] = Value::Null;
    launch(&mut s, k);
    s.tick(START);
    joined(&mut s, "k1", ALICE, &oct(3, 0));
    let before = sell(&mut s, "before", ALICE, "100.00", &oct(4, 0));
    set_open_rate(&mut s, "0.08", &oct(5, 0));
    let after = sell(&mut s, "after", ALICE, "100.00", &oct(5, 0));
    assert_eq!(rated(&before), rate("0.10", "campaign", "10.00", "k1"));
    assert_eq!(rated(&after), rate("0.08", "campaign", "8.00", "k1"));
}

#[test]
fn o2_given_several_campaigns_covering_an_order_when_it_is_paid_then_the_highest_rate_wins() {
    let mut s = world();
    let mut no_rate = task("k-open", unreachable_orders());
    no_rate["products"][0]["commission_rate"] = Value::Null;
    launch(&mut s, no_rate);
    launch(&mut s, task("k-15", unreachable_orders()));
    let mut k20 = task("k-20", unreachable_orders());
    k20["products"][0]["commission_rate"] = json!("0.20");
    launch(&mut s, k20);
    s.tick(START);
    for k in ["k-open", "k-15", "k-20"] {
        joined(&mut s, k, ALICE, &oct(3, 0));
    }
    let out = sell(&mut s, "o1", ALICE, "100.00", &oct(4, 0));
    assert_eq!(rated(&out), rate("0.20", "campaign", "20.00", "k-20"));
}

#[test]
fn o2_given_two_campaigns_with_equal_rates_when_an_order_is_paid_then_the_one_that_started_first_wins() {
    let mut s = world();
    launch(&mut s, task("later", unreachable_orders()));
    launch(
        &mut s,
        with(task("sooner", unreachable_orders()), "starts_at", json!(oct(1, 0))),
    );
    s.tick(&oct(1, 0));
    s.tick(START);
    joined(&mut s, "later", ALICE, &oct(3, 0));
    joined(&mut s, "sooner", ALICE, &oct(3, 0));
    let out = sell(&mut s, "o1", ALICE, "100.00", &oct(4, 0));
    assert_eq!(rated(&out), rate("0.15", "campaign", "15.00", "sooner"));
}

#[test]
fn o2_given_a_campaign_when_orders_of_its_other_products_or_before_joining_are_paid_then_the_open_rate_applies() {
    let mut s = world();
    launch(&mut s, task("k1", unreachable_orders()));
    s.tick(START);
    let before_join = sell(&mut s, "before-join", ALICE, "100.00", &oct(2, 12));
    joined(&mut s, "k1", ALICE, &oct(3, 0));
    let outside = s.when(
        "order.paid",
        &oct(4, 0),
        order("outside", SELLER, P_OUTSIDE, Some(ALICE), "100.00"),
    );
    assert_eq!(rated(&before_join), rate("0.10", "open_collab", "10.00", "null"));
    assert_eq!(rated(&outside), rate("0.10", "open_collab", "10.00", "null"));
}

/// A shop-ads order of Alice's from her ads-authorized content `ad`.
fn sell_via_ads(s: &mut Scenario, id: &str, at: &str) -> Vec<OutcomeData> {
    let mut o = sale_of(id, ALICE, "100.00");
    o["via_shop_ads"] = json!(true);
    o["content_id"] = json!("ad");
    s.when("order.paid", at, o)
}

fn shop_ads(out: &[OutcomeData]) -> [String; 2] {
    let a = first(out, "commission.accrued");
    [text(&a["shop_ads_rate"]), text(&a["shop_ads_amount"])]
}

#[test]
fn o4_given_a_campaign_shop_ads_rate_when_a_shop_ads_order_is_paid_during_the_campaign_then_it_earns_that_rate() {
    let mut s = world();
    launch(&mut s, task("k1", unreachable_orders()));
    s.tick(START);
    joined(&mut s, "k1", ALICE, &oct(3, 0));
    post(&mut s, "ad", ALICE, "video", &[P], &oct(3, 1));
    let during = sell_via_ads(&mut s, "during", &oct(4, 0));
    assert_eq!(shop_ads(&during), ["0.08".to_owned(), "8.00".to_owned()]);
    s.tick(END);
    let after = sell_via_ads(&mut s, "after", &oct(21, 0));
    assert_eq!(shop_ads(&after), ["0.05".to_owned(), "5.00".to_owned()]);
}

#[test]
fn o4_given_a_campaign_without_a_shop_ads_rate_when_a_shop_ads_order_is_paid_then_it_earns_the_open_shop_ads_rate() {
    let mut s = world();
    let mut k = task("k1", unreachable_orders());
    k["products"][0]["shop_ads_rate"] = Value::Null;
    launch(&mut s, k);
    s.tick(START);
    joined(&mut s, "k1", ALICE, &oct(3, 0));
    post(&mut s, "ad", ALICE, "video", &[P], &oct(3, 1));
    let out = sell_via_ads(&mut s, "o1", &oct(4, 0));
    assert_eq!(rated(&out), rate("0.15", "campaign", "15.00", "k1"));
    assert_eq!(shop_ads(&out), ["0.05".to_owned(), "5.00".to_owned()]);
}

#[test]
fn o4_given_a_campaign_shop_ads_rate_when_the_order_is_not_via_shop_ads_or_its_content_not_authorized_then_shop_ads_earn_nothing()
 {
    let mut s = world();
    launch(&mut s, task("k1", unreachable_orders()));
    s.tick(START);
    joined(&mut s, "k1", ALICE, &oct(3, 0));
    s.when(
        "content.posted",
        &oct(3, 1),
        json!({
            "content_id": "ad", "creator_id": ALICE, "content_type": "video",
            "product_ids": [P], "ads_authorized": false
        }),
    );
    let unauthorized = sell_via_ads(&mut s, "unauthorized", &oct(4, 0));
    let organic = sell(&mut s, "organic", ALICE, "100.00", &oct(4, 1));
    assert_eq!(shop_ads(&unauthorized), ["0".to_owned(), "0.00".to_owned()]);
    assert_eq!(shop_ads(&organic), ["0".to_owned(), "0.00".to_owned()]);
}

// ---------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------

mod properties {
    use std::cmp::Ordering;
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;
    use crate::domain::participation::ranking_order;

    const CREATORS: [&str; 6] = [ALICE, BOB, CAROL, DAVE, "erin", "frank"];
    const CHANNELS: [&str; 3] = ["video", "live", "showcase"];
    /// Actions happen from Sep 30 to Oct 24 (the campaigns run Oct 2 – Oct 20).
    const ORIGIN: &str = "2024-09-30T00:00:00Z";
    const HOURS: u32 = 24 * 24;

    #[derive(Clone, Debug)]
    enum Act {
        Join {
            creator: usize,
            hour: u32,
        },
        Post {
            creator: usize,
            content: usize,
            live: bool,
            hour: u32,
        },
        Sell {
            creator: usize,
            order: usize,
            channel: usize,
            cents: i64,
            hour: u32,
        },
        Refund {
            order: usize,
            cents: i64,
            hour: u32,
        },
        Cancel {
            order: usize,
            hour: u32,
        },
        Block {
            creator: usize,
            hour: u32,
        },
    }

    fn at(hour: u32) -> String {
        plus(ORIGIN, Duration::hours(i64::from(hour)))
    }

    fn cents(c: i64) -> String {
        format!("{}.{:02}", c / 100, c % 100)
    }

    /// Actions of the first `creators` creators over a few ids, so that
    /// duplicates of content and orders are common.
    fn act(creators: usize, with_joins_and_blocks: bool) -> impl Strategy<Value = Act> {
        let creator = 0..creators;
        let hour = 0..HOURS;
        let common = prop_oneof![
            3 => (creator.clone(), 0..6usize, any::<bool>(), hour.clone())
                .prop_map(|(creator, content, live, hour)| Act::Post { creator, content, live, hour }),
            5 => (creator.clone(), 0..12usize, 0..CHANNELS.len(), 1..5_000i64, hour.clone())
                .prop_map(|(creator, order, channel, cents, hour)| Act::Sell { creator, order, channel, cents, hour }),
            2 => (0..12usize, 1..5_000i64, hour.clone()).prop_map(|(order, cents, hour)| Act::Refund { order, cents, hour }),
            1 => (0..12usize, hour.clone()).prop_map(|(order, hour)| Act::Cancel { order, hour }),
        ];
        if with_joins_and_blocks {
            prop_oneof![
                2 => (creator.clone(), hour.clone()).prop_map(|(creator, hour)| Act::Join { creator, hour }),
                1 => (creator, hour).prop_map(|(creator, hour)| Act::Block { creator, hour }),
                20 => common,
            ]
            .boxed()
        } else {
            common.boxed()
        }
    }

    /// Early joins (Sep 30 – Oct 3): the task's capacity is tested by six creators.
    fn early_joins() -> impl Strategy<Value = Vec<Act>> {
        proptest::collection::vec(
            (0..CREATORS.len(), 0..96u32).prop_map(|(creator, hour)| Act::Join { creator, hour }),
            4..10,
        )
    }

    fn apply(s: &mut Scenario, act: &Act, campaigns: &[&str]) {
        match *act {
            Act::Join { creator, hour } => {
                for k in campaigns {
                    join(s, k, CREATORS[creator], &at(hour));
                }
            }
            Act::Post {
                creator,
                content,
                live,
                hour,
            } => {
                let kind = if live { "live" } else { "video" };
                post(
                    s,
                    &format!("content-{content}"),
                    CREATORS[creator],
                    kind,
                    &[P],
                    &at(hour),
                );
            }
            Act::Sell {
                creator,
                order,
                channel,
                cents: c,
                hour,
            } => {
                let o = with(
                    sale_of(&format!("o{order}"), CREATORS[creator], &cents(c)),
                    "content_type",
                    json!(CHANNELS[channel]),
                );
                s.when("order.paid", &at(hour), o);
            }
            Act::Refund { order, cents: c, hour } => {
                refund(s, &format!("o{order}"), &cents(c), &at(hour));
            }
            Act::Cancel { order, hour } => {
                cancel(s, &format!("o{order}"), &at(hour));
            }
            Act::Block { creator, hour } => {
                platform_block(s, CREATORS[creator], &at(hour));
            }
        }
    }

    /// Σ of every `reward.issued` amount (cancelled or not) per campaign.
    fn issued_per_campaign(s: &Scenario) -> BTreeMap<String, Decimal> {
        let mut sums = BTreeMap::new();
        for r in all(&s.outcomes, "reward.issued") {
            *sums.entry(text(&r["campaign_id"])).or_insert(Decimal::ZERO) += money(&r["amount"]);
        }
        sums
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn rewards_issued_for_a_campaign_never_exceed_its_deposit(
            joins in early_joins(),
            before_end in proptest::collection::vec(act(CREATORS.len(), true), 0..60),
            after_end in proptest::collection::vec(act(CREATORS.len(), true), 0..10),
        ) {
            let mut s = world();
            for c in &CREATORS[4..] {
                s.when("creator.updated", CATALOGUE, profile(c));
            }
            // A task with capacity 3 that one piece of content completes, and a
            // challenge on orders that any video order enters.
            launch(&mut s, task("k1", json!([content_task("any", 1)])));
            launch(&mut s, challenge("h1", "orders", json!(1)));
            s.tick(START);
            for a in joins.iter().chain(&before_end) {
                apply(&mut s, a, &["k1", "h1"]);
            }
            s.tick(END);
            s.tick(FINALIZED);
            for a in &after_end {
                apply(&mut s, a, &["k1", "h1"]);
            }
            let issued = issued_per_campaign(&s);
            for (id, deposit) in [("k1", Decimal::new(3000, 2)), ("h1", Decimal::new(9000, 2))] {
                let total = issued.get(id).copied().unwrap_or_default();
                prop_assert!(total <= deposit, "{id}: issued {total} > deposit {deposit}");
                let k = campaign(&s, id);
                prop_assert!(k.rewards_total <= k.deposit);
                prop_assert_eq!(k.status, CampaignStatus::Settled);
            }
            for settled in all(&s.outcomes, "campaign.settled") {
                prop_assert!(money(&settled["charged"]) <= money(&settled["deposit"]));
                prop_assert_eq!(
                    money(&settled["charged"]) + money(&settled["refunded"]),
                    money(&settled["deposit"])
                );
            }
        }

        #[test]
        fn a_task_reward_is_issued_at_most_once_per_participation(
            acts in proptest::collection::vec(act(3, false), 0..40),
        ) {
            let mut s = world();
            launch(&mut s, task("k1", json!([orders_task("any", 2), content_task("any", 1)])));
            s.tick(START);
            for c in [ALICE, BOB, CAROL] {
                joined(&mut s, "k1", c, START);
            }
            // Everything twice: repeated content, orders, refunds and cancellations.
            for a in acts.iter().chain(acts.iter()) {
                apply(&mut s, a, &["k1"]);
            }
            for c in [ALICE, BOB, CAROL] {
                let mine = |type_name: &str| {
                    all(&s.outcomes, type_name)
                        .into_iter()
                        .filter(|d| d["creator_id"] == c)
                        .collect::<Vec<_>>()
                };
                let rewarded = mine("reward.issued").len();
                prop_assert!(rewarded <= 1, "{c} rewarded {rewarded} times");
                prop_assert_eq!(mine("task.finished").len(), rewarded);
                let finished = mine("participation.status_changed")
                    .into_iter()
                    .filter(|d| d["status"] == "finished")
                    .count();
                prop_assert_eq!(finished, rewarded);
                if rewarded == 1 {
                    prop_assert_eq!(status(&s, "k1", c), ParticipationStatus::Finished);
                }
            }
            let k = campaign(&s, "k1");
            prop_assert!(k.rewards_issued <= 3);
            prop_assert!(k.rewards_total <= k.deposit);
        }
    }

    type Entry = (Decimal, Option<DateTime<Utc>>, CreatorId);

    /// Small domains so that ties on score and time are frequent; scores are
    /// written with varying scales (`1`, `1.0`, `1.00`).
    fn entry() -> impl Strategy<Value = Entry> {
        (0..4i64, 0..3u32, proptest::option::of(0..3i64), 0..3usize).prop_map(|(score, scale, minute, id)| {
            let score = Decimal::new(score * 10i64.pow(scale), scale);
            let reached = minute.map(|m| time(START) + Duration::minutes(m));
            (score, reached, CreatorId::from(["a", "b", "c"][id]))
        })
    }

    proptest! {
        #[test]
        fn the_challenge_ranking_order_is_a_total_order(a in entry(), b in entry(), c in entry()) {
            // Reflexive, and equal only for equal entries.
            prop_assert_eq!(ranking_order(&a, &a), Ordering::Equal);
            prop_assert_eq!(ranking_order(&a, &b) == Ordering::Equal, a == b);
            // Antisymmetric.
            prop_assert_eq!(ranking_order(&a, &b), ranking_order(&b, &a).reverse());
            // Transitive.
            let le = |x: &Entry, y: &Entry| ranking_order(x, y) != Ordering::Greater;
            if le(&a, &b) && le(&b, &c) {
                prop_assert!(le(&a, &c), "{a:?} <= {b:?} <= {c:?}");
            }
            // Total: any two are comparable one way or the other.
            prop_assert!(le(&a, &b) || le(&b, &a));
            // Higher scores rank first; among equal scores an earlier reach first.
            if a.0 > b.0 {
                prop_assert_eq!(ranking_order(&a, &b), Ordering::Less);
            }
            if a.0 == b.0 && a.1 < b.1 {
                prop_assert_eq!(ranking_order(&a, &b), Ordering::Less);
            }
        }

        #[test]
        fn sorting_by_the_ranking_order_gives_the_same_ranking_whatever_the_input_order(
            mut entries in proptest::collection::vec(entry(), 0..12),
        ) {
            let mut sorted = entries.clone();
            sorted.sort_by(ranking_order);
            entries.reverse();
            entries.sort_by(ranking_order);
            prop_assert_eq!(&entries, &sorted);
            for pair in sorted.windows(2) {
                prop_assert!(pair[0].0 >= pair[1].0);
            }
        }
    }
}
