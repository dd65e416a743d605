//! Orders and commissions (O1–O8) and community-guideline enforcement (V1–V7).
//!
//! Every test is given / when / then: the `given` events build the world, the
//! `when` event is the one under test, the `then` assertions read its outcomes
//! and the state. Rates travel as the producer wrote them (`"0.10"`), the
//! worker's own zero as `"0"`, money
//! with two decimals (`"10.00"`).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Duration, SecondsFormat};
use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::domain::model::{Commission, CommissionState, Order, Participation};
use crate::domain::testkit::*;
use crate::wire::outcomes::{CancelReason, OutcomeData, ParticipationStatus};
use crate::wire::values::{CampaignId, CreatorId, OrderId};

// ---------------------------------------------------------------------------
// The world the tests build
// ---------------------------------------------------------------------------

const S: &str = "s-1";
const C: &str = "c-1";
const P: &str = "p-1";
/// Products, creator profiles and creator groups are described at this time.
const CATALOGUE: &str = "2024-09-01T00:00:00Z";
/// Campaigns are submitted and paid at this time.
const SUBMITTED: &str = "2024-09-20T00:00:00Z";
/// The default campaign runs Oct 2 – Oct 20.
const K_START: &str = "2024-10-02T00:00:00Z";
const K_END: &str = "2024-10-20T00:00:00Z";

/// `2024-10-<day>T<hour>:00:00Z`
fn oct(day: u32, hour: u32) -> String {
    format!("2024-10-{day:02}T{hour:02}:00:00Z")
}

fn shop_product(id: &str, seller: &str, open: Option<&str>, shop: Option<&str>) -> Value {
    let mut p = product(id, seller, open);
    p["open_collab_shop_ads_rate"] = json!(shop);
    p
}

/// An order that came through shop ads, from the given content.
fn via_ads(mut order: Value, content: Option<&str>) -> Value {
    order["via_shop_ads"] = json!(true);
    order["content_id"] = json!(content);
    order
}

fn content(id: &str, creator: &str, product: &str, ads_authorized: bool) -> Value {
    json!({
        "content_id": id, "creator_id": creator, "content_type": "video",
        "product_ids": [product], "ads_authorized": ads_authorized
    })
}

fn order_ref(order: &str) -> Value {
    json!({ "order_id": order })
}

fn refund(order: &str, amount: &str) -> Value {
    json!({ "order_id": order, "amount": amount })
}

fn pair_event(seller: &str, creator: &str) -> Value {
    json!({ "seller_id": seller, "creator_id": creator })
}

/// Data of every outcome of a type, in order.
fn all(outcomes: &[OutcomeData], type_name: &str) -> Vec<Value> {
    outcomes
        .iter()
        .filter(|o| o.type_name() == type_name)
        .map(data)
        .collect()
}

fn text(value: &Value) -> String {
    value.as_str().map(str::to_owned).unwrap_or_else(|| value.to_string())
}

/// The O2–O5 decision of the accrued commission: `[rate, rate_source, amount]`.
fn rated(outcomes: &[OutcomeData]) -> [String; 3] {
    let a = first(outcomes, "commission.accrued");
    [text(&a["rate"]), text(&a["rate_source"]), text(&a["amount"])]
}

/// The shop-ads part of the accrued commission: `[shop_ads_rate, shop_ads_amount]`.
fn shop_rated(outcomes: &[OutcomeData]) -> [String; 2] {
    let a = first(outcomes, "commission.accrued");
    [text(&a["shop_ads_rate"]), text(&a["shop_ads_amount"])]
}

/// Order ids named by the outcomes of a type, sorted.
fn orders_in(outcomes: &[OutcomeData], type_name: &str) -> Vec<String> {
    let mut ids: Vec<String> = all(outcomes, type_name).iter().map(|d| text(&d["order_id"])).collect();
    ids.sort();
    ids
}

/// Values of one field over the outcomes of a type, sorted.
fn field_of(outcomes: &[OutcomeData], type_name: &str, field: &str) -> Vec<String> {
    let mut values: Vec<String> = all(outcomes, type_name).iter().map(|d| text(&d[field])).collect();
    values.sort();
    values
}

fn commission_of(sc: &Scenario, order: &str) -> Commission {
    sc.get::<Order>(&OrderId::from(order))
        .and_then(|o| o.commission)
        .unwrap_or_else(|| panic!("order {order} has no commission"))
}

fn state_of(sc: &Scenario, order: &str) -> CommissionState {
    commission_of(sc, order).state
}

fn money(cents: i64) -> Decimal {
    Decimal::new(cents, 2)
}

fn money_text(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// An attributed order of `amount` paid at `at`.
fn pay(
    sc: &mut Scenario,
    id: &str,
    seller: &str,
    product: &str,
    creator: &str,
    amount: &str,
    at: &str,
) -> Vec<OutcomeData> {
    sc.when("order.paid", at, order(id, seller, product, Some(creator), amount))
}

fn settle(sc: &mut Scenario, id: &str, at: &str) -> Vec<OutcomeData> {
    sc.when("order.settled", at, order_ref(id))
}

fn profile(sc: &mut Scenario, creator: &str) {
    sc.when(
        "creator.updated",
        CATALOGUE,
        json!({
            "creator_id": creator, "level": 3, "followers": 1000, "categories": ["beauty"],
            "content_types": ["video"], "avg_commission_rate": "0.1", "fake_order_risk": "low"
        }),
    );
}

fn partnership(sc: &mut Scenario, seller: &str, creator: &str, rate: &str, at: &str) {
    let out = sc.when(
        "partnership.established",
        at,
        json!({ "seller_id": seller, "creator_id": creator, "commission_rate": rate }),
    );
    assert_eq!(types(&out), ["partnership.accepted"]);
}

fn violation(sc: &mut Scenario, id: &str, creator: &str, at: &str) -> Vec<OutcomeData> {
    sc.when(
        "creator.violation_reported",
        at,
        json!({ "violation_id": id, "creator_id": creator, "guideline": "misleading_claims" }),
    )
}

/// A paid task campaign of `seller` (submitted and paid on Sep 20) over
/// `products`: (product, commission_rate, shop_ads_rate). Its group matches
/// every creator with a profile; its one task is out of reach, so no reward
/// comes in the way of the commission outcomes.
fn campaign(
    sc: &mut Scenario,
    id: &str,
    seller: &str,
    starts: &str,
    ends: &str,
    products: &[(&str, Option<&str>, Option<&str>)],
) {
    sc.when(
        "creator_group.saved",
        CATALOGUE,
        json!({ "seller_id": seller, "group_id": "everyone", "name": "everyone", "criteria": {} }),
    );
    let products: Vec<Value> = products
        .iter()
        .map(|(p, rate, shop)| {
            json!({ "product_id": p, "commission_rate": rate, "shop_ads_rate": shop, "free_sample": false })
        })
        .collect();
    let out = sc.when(
        "campaign.submitted",
        SUBMITTED,
        json!({
            "campaign_id": id, "seller_id": seller, "type": "task", "title": id,
            "starts_at": starts, "ends_at": ends, "creator_group_id": "everyone", "currency": "USD",
            "budget": "100.00", "prompt_ads_authorization": true, "products": products,
            "task": { "reward": "10.00", "tasks": [{ "kind": "orders", "content_type": "any", "target": 1000 }] }
        }),
    );
    assert_eq!(types(&out), ["campaign.accepted"], "{out:?}");
    let out = sc.when(
        "payment.succeeded",
        SUBMITTED,
        json!({
            "payment_id": format!("pay-{id}"), "campaign_id": id, "seller_id": seller,
            "amount": "100.00", "currency": "USD", "method": "credit_card"
        }),
    );
    assert_eq!(types(&out), ["campaign.scheduled"], "{out:?}");
}

fn join(sc: &mut Scenario, campaign: &str, creator: &str, at: &str) {
    profile(sc, creator);
    let out = sc.when(
        "creator.join_requested",
        at,
        json!({ "campaign_id": campaign, "creator_id": creator }),
    );
    assert_eq!(types(&out), ["participation.accepted"], "{out:?}");
}

/// Seller S with product P (open 10 %) in campaign K at 20 % (Oct 2 – Oct 20)
/// that C joined on Oct 1, and a partnership S–C at 12 % since Oct 1.
fn campaign_and_partnership() -> Scenario {
    let mut sc = Scenario::new();
    sc.when("product.updated", CATALOGUE, product(P, S, Some("0.10")));
    campaign(&mut sc, "k-1", S, K_START, K_END, &[(P, Some("0.20"), None)]);
    join(&mut sc, "k-1", C, &oct(1, 0));
    partnership(&mut sc, S, C, "0.12", &oct(1, 0));
    sc
}

// ---------------------------------------------------------------------------
// O1 — unattributed and repeated orders
// ---------------------------------------------------------------------------

#[test]
fn an_unattributed_order_earns_no_commission_and_its_later_facts_produce_nothing() {
    // given an open-collaboration product
    let mut sc = Scenario::new();
    sc.when("product.updated", CATALOGUE, product(P, S, Some("0.10")));

    // when an order without a creator is paid, refunded and settled
    let paid = sc.when("order.paid", &oct(3, 0), order("o-1", S, P, None, "100.00"));
    let refunded = sc.when("order.refunded", &oct(4, 0), refund("o-1", "10.00"));
    let settled = settle(&mut sc, "o-1", &oct(5, 0));

    // then nothing is accrued, adjusted or payable
    assert!(paid.is_empty(), "{:?}", types(&paid));
    assert!(refunded.is_empty(), "{:?}", types(&refunded));
    assert!(settled.is_empty(), "{:?}", types(&settled));
    let order = sc.get::<Order>(&OrderId::from("o-1")).expect("the order is recorded");
    assert_eq!(order.commission, None);
}

#[test]
fn an_unattributed_order_paid_again_with_a_creator_stays_unattributed() {
    // given an unattributed order
    let mut sc = Scenario::new();
    sc.when("product.updated", CATALOGUE, product(P, S, Some("0.10")));
    sc.when("order.paid", &oct(3, 0), order("o-1", S, P, None, "100.00"));

    // when an order.paid for the same order id arrives (new event id) naming a creator
    let out = pay(&mut sc, "o-1", S, P, C, "100.00", &oct(3, 1));

    // then it changes nothing: still no commission
    assert!(out.is_empty(), "{:?}", types(&out));
    assert!(settle(&mut sc, "o-1", &oct(5, 0)).is_empty());
    let order = sc.get::<Order>(&OrderId::from("o-1")).expect("the order is recorded");
    assert_eq!(order.commission, None);
}

#[test]
fn a_repeated_order_paid_with_a_new_event_id_changes_nothing() {
    // given an attributed order accrued at 10 % of 100.00
    let mut sc = Scenario::new();
    sc.when("product.updated", CATALOGUE, product(P, S, Some("0.10")));
    let first_paid = pay(&mut sc, "o-1", S, P, C, "100.00", &oct(3, 0));
    assert_eq!(rated(&first_paid), ["0.10", "open_collab", "10.00"]);
    let before = commission_of(&sc, "o-1");

    // when order.paid for the same order arrives again with a new event id (even with other data)
    let again = pay(&mut sc, "o-1", S, P, C, "250.00", &oct(4, 0));

    // then no outcome, the commission is unchanged, and settlement pays the original amount
    assert!(again.is_empty(), "{:?}", types(&again));
    assert_eq!(commission_of(&sc, "o-1"), before);
    let settled = settle(&mut sc, "o-1", &oct(5, 0));
    assert_eq!(types(&settled), ["commission.payable"]);
    assert_eq!(first(&settled, "commission.payable")["amount"], "10.00");
}

#[test]
fn a_repeated_cancellation_or_settlement_with_a_new_event_id_changes_nothing() {
    // given a settled (payable) order and a cancelled one
    let mut sc = Scenario::new();
    sc.when("product.updated", CATALOGUE, product(P, S, Some("0.10")));
    pay(&mut sc, "o-1", S, P, C, "100.00", &oct(3, 0));
    pay(&mut sc, "o-2", S, P, C, "100.00", &oct(3, 0));
    assert_eq!(types(&settle(&mut sc, "o-1", &oct(5, 0))), ["commission.payable"]);
    assert_eq!(
        types(&sc.when("order.cancelled", &oct(5, 0), order_ref("o-2"))),
        ["commission.cancelled"]
    );

    // when the settlement and the cancellation are repeated with new event ids
    let settled_again = settle(&mut sc, "o-1", &oct(6, 0));
    let cancelled_again = sc.when("order.cancelled", &oct(6, 0), order_ref("o-2"));

    // then nothing more happens
    assert!(settled_again.is_empty(), "{:?}", types(&settled_again));
    assert!(cancelled_again.is_empty(), "{:?}", types(&cancelled_again));
    assert_eq!(state_of(&sc, "o-1"), CommissionState::Payable);
    assert_eq!(
        state_of(&sc, "o-2"),
        CommissionState::Cancelled(CancelReason::OrderCancelled)
    );
}

// ---------------------------------------------------------------------------
// O2 — the rate source, in precedence order
// ---------------------------------------------------------------------------

#[test]
fn a_platform_blocked_creator_earns_zero_even_with_a_campaign_and_a_partnership() {
    // given C in S's 20 % campaign, partnered with S at 12 %, then platform-blocked on Oct 4
    let mut sc = campaign_and_partnership();
    sc.when(
        "creator.platform_blocked",
        &oct(4, 0),
        json!({ "creator_id": C, "reason": "fraud" }),
    );

    // when C sells P during the campaign
    let out = pay(&mut sc, "o-1", S, P, C, "100.00", &oct(5, 0));

    // then the rate is 0, platform_blocked, with no campaign
    assert_eq!(rated(&out), ["0", "platform_blocked", "0.00"]);
    assert_eq!(first(&out, "commission.accrued")["campaign_id"], Value::Null);
}

#[test]
fn a_paused_connection_earns_zero_even_with_a_campaign_and_a_partnership() {
    // given C in S's 20 % campaign, partnered with S at 12 %, and S pauses the connection on Oct 4
    let mut sc = campaign_and_partnership();
    sc.when("partnership.paused", &oct(4, 0), pair_event(S, C));

    // when C sells P during the campaign
    let out = pay(&mut sc, "o-1", S, P, C, "100.00", &oct(5, 0));

    // then the rate is 0, connection_paused
    assert_eq!(rated(&out), ["0", "connection_paused", "0.00"]);
    assert_eq!(first(&out, "commission.accrued")["campaign_id"], Value::Null);
}

#[test]
fn a_campaign_rate_beats_partnership_demotion_and_open_collaboration() {
    // given C in S's 20 % campaign, partnered with S at 12 %, P open at 10 %, and C demoted on Oct 3
    let mut sc = campaign_and_partnership();
    violation(&mut sc, "v-1", C, &oct(3, 0));

    // when C sells P during the campaign
    let out = pay(&mut sc, "o-1", S, P, C, "100.00", &oct(5, 0));

    // then the campaign rate applies, naming the campaign
    assert_eq!(rated(&out), ["0.20", "campaign", "20.00"]);
    assert_eq!(first(&out, "commission.accrued")["campaign_id"], "k-1");
}

#[test]
fn a_partnership_rate_beats_demotion_and_open_collaboration() {
    // given C partnered with S at 12 %, P open at 10 %, and C demoted on Oct 3
    let mut sc = Scenario::new();
    sc.when("product.updated", CATALOGUE, product(P, S, Some("0.10")));
    partnership(&mut sc, S, C, "0.12", &oct(1, 0));
    violation(&mut sc, "v-1", C, &oct(3, 0));

    // when C sells P
    let out = pay(&mut sc, "o-1", S, P, C, "100.00", &oct(5, 0));

    // then the partnership rate applies
    assert_eq!(rated(&out), ["0.12", "partnership", "12.00"]);
}

#[test]
fn a_demoted_creator_earns_zero_on_open_collaboration() {
    // given P open at 10 % and C demoted on Oct 3
    let mut sc = Scenario::new();
    sc.when("product.updated", CATALOGUE, product(P, S, Some("0.10")));
    violation(&mut sc, "v-1", C, &oct(3, 0));

    // when C sells P after the violation
    let out = pay(&mut sc, "o-1", S, P, C, "100.00", &oct(5, 0));

    // then the rate is 0, demoted
    assert_eq!(rated(&out), ["0", "demoted", "0.00"]);
}

#[test]
fn an_open_collaboration_order_earns_the_products_open_rate() {
    // given P open at 10 %
    let mut sc = Scenario::new();
    sc.when("product.updated", CATALOGUE, product(P, S, Some("0.10")));

    // when C sells P for 100.00
    let out = pay(&mut sc, "o-1", S, P, C, "100.00", &oct(5, 0));

    // then 10 % open_collab, fully described
    let a = first(&out, "commission.accrued");
    assert_eq!(types(&out), ["commission.accrued"]);
    assert_eq!(
        a,
        json!({
            "commission_id": commission_of(&sc, "o-1").id, "order_id": "o-1", "creator_id": C,
            "seller_id": S, "product_id": P, "campaign_id": null, "rate": "0.10",
            "rate_source": "open_collab", "base_amount": "100.00", "amount": "10.00",
            "shop_ads_rate": "0", "shop_ads_amount": "0.00", "currency": "USD"
        })
    );
}

#[test]
fn rates_come_back_as_the_producer_wrote_them_and_the_workers_own_zeros_as_0() {
    // given P open at "0.10" with "0.050" shop ads, Q in S's campaign at "0.150" / "0.080",
    // and a second creator demoted by a violation
    let mut sc = Scenario::new();
    sc.when(
        "product.updated",
        CATALOGUE,
        shop_product(P, S, Some("0.10"), Some("0.050")),
    );
    sc.when("product.updated", CATALOGUE, shop_product("q-1", S, Some("0.10"), None));
    campaign(
        &mut sc,
        "k-1",
        S,
        K_START,
        K_END,
        &[("q-1", Some("0.150"), Some("0.080"))],
    );
    join(&mut sc, "k-1", C, &oct(1, 0));
    sc.when("content.posted", &oct(3, 0), content("v-1", C, P, true));
    sc.when("content.posted", &oct(3, 0), content("v-2", C, "q-1", true));
    let demoted = violation(&mut sc, "viol-1", "c-2", &oct(3, 0));

    // when C sells P on open collaboration and Q in the campaign, both via shop ads,
    // and the demoted creator sells P
    let open = sc.when(
        "order.paid",
        &oct(4, 0),
        via_ads(order("o-1", S, P, Some(C), "100.00"), Some("v-1")),
    );
    let camp = sc.when(
        "order.paid",
        &oct(4, 0),
        via_ads(order("o-2", S, "q-1", Some(C), "100.00"), Some("v-2")),
    );
    let zero = pay(&mut sc, "o-3", S, P, "c-2", "100.00", &oct(4, 0));

    // then the producer's rates keep their fraction digits; the rates the worker decides are "0"
    assert_eq!(rated(&open), ["0.10", "open_collab", "10.00"]);
    assert_eq!(shop_rated(&open), ["0.050", "5.00"]);
    assert_eq!(rated(&camp), ["0.150", "campaign", "15.00"]);
    assert_eq!(shop_rated(&camp), ["0.080", "8.00"]);
    assert_eq!(rated(&zero), ["0", "demoted", "0.00"]);
    assert_eq!(first(&demoted, "commission.demoted")["rate"], "0");
}

#[test]
fn an_order_of_a_product_not_on_open_collaboration_earns_zero_with_source_none() {
    // given P not on open collaboration, and no campaign nor partnership
    let mut sc = Scenario::new();
    sc.when("product.updated", CATALOGUE, product(P, S, None));

    // when C sells P
    let out = pay(&mut sc, "o-1", S, P, C, "100.00", &oct(5, 0));

    // then the rate is 0, none
    assert_eq!(rated(&out), ["0", "none", "0.00"]);
}

#[test]
fn the_open_rate_is_the_latest_product_update_at_or_before_the_order() {
    // given P at 10 % from Oct 1, 8 % from Oct 10 and 12 % from Oct 20, the updates arriving out of order
    let mut sc = Scenario::new();
    sc.when("product.updated", &oct(10, 0), product(P, S, Some("0.08")));
    sc.when("product.updated", &oct(20, 0), product(P, S, Some("0.12")));
    sc.when("product.updated", &oct(1, 0), product(P, S, Some("0.10")));

    // when C sells P on Oct 5, at the Oct 10 update's very instant, on Oct 15 and on Oct 25
    let oct5 = pay(&mut sc, "o-1", S, P, C, "100.00", &oct(5, 0));
    let oct10 = pay(&mut sc, "o-2", S, P, C, "100.00", &oct(10, 0));
    let oct15 = pay(&mut sc, "o-3", S, P, C, "100.00", &oct(15, 0));
    let oct25 = pay(&mut sc, "o-4", S, P, C, "100.00", &oct(25, 0));

    // then each earns the rate current at its time (an update at the same instant counts)
    assert_eq!(rated(&oct5), ["0.10", "open_collab", "10.00"]);
    assert_eq!(rated(&oct10), ["0.08", "open_collab", "8.00"]);
    assert_eq!(rated(&oct15), ["0.08", "open_collab", "8.00"]);
    assert_eq!(rated(&oct25), ["0.12", "open_collab", "12.00"]);
}

#[test]
fn worked_example_1_open_rate_then_campaign_rate_then_the_lowered_open_rate() {
    // given P on open collaboration at 10 %, S's campaign at 15 % on P (Oct 2 – Oct 20) that C
    // joins on Oct 1, and S lowering P's open rate to 8 % on Oct 3
    let mut sc = Scenario::new();
    sc.when("product.updated", CATALOGUE, product(P, S, Some("0.10")));
    campaign(&mut sc, "k-1", S, K_START, K_END, &[(P, Some("0.15"), None)]);
    join(&mut sc, "k-1", C, &oct(1, 0));
    sc.when("product.updated", &oct(3, 0), product(P, S, Some("0.08")));

    // when C sells P on Oct 1, Oct 3 and Oct 21
    let oct1 = pay(&mut sc, "o-1", S, P, C, "100.00", &oct(1, 12));
    let oct3 = pay(&mut sc, "o-2", S, P, C, "100.00", &oct(3, 12));
    let oct21 = pay(&mut sc, "o-3", S, P, C, "100.00", &oct(21, 12));

    // then 10 % open_collab, 15 % campaign, 8 % open_collab
    assert_eq!(rated(&oct1), ["0.10", "open_collab", "10.00"]);
    assert_eq!(rated(&oct3), ["0.15", "campaign", "15.00"]);
    assert_eq!(first(&oct3, "commission.accrued")["campaign_id"], "k-1");
    assert_eq!(rated(&oct21), ["0.08", "open_collab", "8.00"]);
}

#[test]
fn among_several_campaigns_the_highest_rate_wins() {
    // given two campaigns of S on P, at 15 % (joined first) and at 20 % (joined second)
    let mut sc = Scenario::new();
    sc.when("product.updated", CATALOGUE, product(P, S, Some("0.10")));
    campaign(&mut sc, "k-15", S, K_START, K_END, &[(P, Some("0.15"), None)]);
    campaign(&mut sc, "k-20", S, K_START, K_END, &[(P, Some("0.20"), None)]);
    join(&mut sc, "k-15", C, &oct(1, 0));
    join(&mut sc, "k-20", C, &oct(1, 1));

    // when C sells P while both run
    let out = pay(&mut sc, "o-1", S, P, C, "100.00", &oct(5, 0));

    // then the 20 % campaign is chosen
    assert_eq!(rated(&out), ["0.20", "campaign", "20.00"]);
    assert_eq!(first(&out, "commission.accrued")["campaign_id"], "k-20");
}

#[test]
fn equal_campaign_rates_go_to_the_campaign_that_started_earliest() {
    // given two 15 % campaigns of S on P: "k-a" starts Oct 5 and is joined first,
    // "k-z" starts Oct 2 and is joined second (so neither id nor join order favours it)
    let mut sc = Scenario::new();
    sc.when("product.updated", CATALOGUE, product(P, S, Some("0.10")));
    campaign(&mut sc, "k-a", S, &oct(5, 0), K_END, &[(P, Some("0.15"), None)]);
    campaign(&mut sc, "k-z", S, K_START, K_END, &[(P, Some("0.15"), None)]);
    join(&mut sc, "k-a", C, &oct(1, 0));
    join(&mut sc, "k-z", C, &oct(1, 1));

    // when C sells P while both run
    let out = pay(&mut sc, "o-1", S, P, C, "100.00", &oct(6, 0));

    // then the earliest-starting campaign is named
    assert_eq!(rated(&out), ["0.15", "campaign", "15.00"]);
    assert_eq!(first(&out, "commission.accrued")["campaign_id"], "k-z");
}

#[test]
fn a_campaign_without_its_own_rate_pays_the_current_open_rate() {
    // given S's campaign on P (open 10 %, lowered to 8 % on Oct 6) and on Q (not on open
    // collaboration), both without a campaign rate, joined by C
    let mut sc = Scenario::new();
    sc.when("product.updated", CATALOGUE, product(P, S, Some("0.10")));
    sc.when("product.updated", CATALOGUE, product("q-1", S, None));
    campaign(
        &mut sc,
        "k-1",
        S,
        K_START,
        K_END,
        &[(P, None, None), ("q-1", None, None)],
    );
    join(&mut sc, "k-1", C, &oct(1, 0));
    sc.when("product.updated", &oct(6, 0), product(P, S, Some("0.08")));

    // when C sells P on Oct 5 and Oct 7, and Q on Oct 5
    let p_oct5 = pay(&mut sc, "o-1", S, P, C, "100.00", &oct(5, 0));
    let p_oct7 = pay(&mut sc, "o-2", S, P, C, "100.00", &oct(7, 0));
    let q_oct5 = pay(&mut sc, "o-3", S, "q-1", C, "100.00", &oct(5, 0));

    // then the campaign source applies at P's current open rate, and at 0 for Q
    assert_eq!(rated(&p_oct5), ["0.10", "campaign", "10.00"]);
    assert_eq!(rated(&p_oct7), ["0.08", "campaign", "8.00"]);
    assert_eq!(rated(&q_oct5), ["0", "campaign", "0.00"]);
    assert_eq!(first(&q_oct5, "commission.accrued")["campaign_id"], "k-1");
}

#[test]
fn a_campaign_rate_applies_only_after_joining_within_its_window_and_to_its_products() {
    // given S's 20 % campaign on P (Oct 2 – Oct 20) joined by C on Oct 5, S's product Q
    // outside the campaign, all open at 10 %
    let mut sc = Scenario::new();
    sc.when("product.updated", CATALOGUE, product(P, S, Some("0.10")));
    sc.when("product.updated", CATALOGUE, product("q-1", S, Some("0.10")));
    campaign(&mut sc, "k-1", S, K_START, K_END, &[(P, Some("0.20"), None)]);
    join(&mut sc, "k-1", C, &oct(5, 0));

    // when C sells P before joining, P after joining, Q after joining, and P at the end instant
    let before_join = pay(&mut sc, "o-1", S, P, C, "100.00", &oct(4, 0));
    let joined = pay(&mut sc, "o-2", S, P, C, "100.00", &oct(5, 0));
    let other_product = pay(&mut sc, "o-3", S, "q-1", C, "100.00", &oct(6, 0));
    let at_end = pay(&mut sc, "o-4", S, P, C, "100.00", K_END);

    // then only the order of a campaign product, from the join until before the end, is campaign
    assert_eq!(rated(&before_join), ["0.10", "open_collab", "10.00"]);
    assert_eq!(rated(&joined), ["0.20", "campaign", "20.00"]);
    assert_eq!(rated(&other_product), ["0.10", "open_collab", "10.00"]);
    assert_eq!(rated(&at_end), ["0.10", "open_collab", "10.00"]);
}

#[test]
fn a_recalled_campaign_gives_no_campaign_rate() {
    // given S's 20 % campaign on P starting Oct 10, joined by C on Oct 2, recalled on Oct 3
    let mut sc = Scenario::new();
    sc.when("product.updated", CATALOGUE, product(P, S, Some("0.10")));
    campaign(&mut sc, "k-1", S, &oct(10, 0), &oct(30, 0), &[(P, Some("0.20"), None)]);
    join(&mut sc, "k-1", C, &oct(2, 0));
    let recalled = sc.when(
        "campaign.recall_requested",
        &oct(3, 0),
        json!({ "campaign_id": "k-1", "seller_id": S }),
    );
    assert!(
        types(&recalled).contains(&"campaign.recalled"),
        "{:?}",
        types(&recalled)
    );

    // when C sells P in what would have been the campaign window
    let out = pay(&mut sc, "o-1", S, P, C, "100.00", &oct(12, 0));

    // then the open rate applies
    assert_eq!(rated(&out), ["0.10", "open_collab", "10.00"]);
}

// ---------------------------------------------------------------------------
// O3 — every attributed order is accrued
// ---------------------------------------------------------------------------

#[test]
fn a_zero_rate_commission_is_still_accrued_and_explained() {
    // given P not on open collaboration
    let mut sc = Scenario::new();
    sc.when("product.updated", CATALOGUE, product(P, S, None));

    // when C sells P
    let out = pay(&mut sc, "o-1", S, P, C, "80.00", &oct(5, 0));

    // then exactly one commission.accrued, at rate 0 on the full base, pending
    assert_eq!(types(&out), ["commission.accrued"]);
    let a = first(&out, "commission.accrued");
    assert_eq!(a["base_amount"], "80.00");
    assert_eq!(a["amount"], "0.00");
    assert_eq!(a["rate_source"], "none");
    assert_eq!(state_of(&sc, "o-1"), CommissionState::Pending);
}

// ---------------------------------------------------------------------------
// O4 — shop-ads commission
// ---------------------------------------------------------------------------

#[test]
fn shop_ads_commission_needs_a_shop_ads_order_from_ads_authorized_content() {
    // given P open at 10 % with a 5 % shop-ads rate, content v-yes posted ads-authorized and v-no not
    let mut sc = Scenario::new();
    sc.when(
        "product.updated",
        CATALOGUE,
        shop_product(P, S, Some("0.10"), Some("0.05")),
    );
    sc.when("content.posted", &oct(1, 0), content("v-yes", C, P, true));
    sc.when("content.posted", &oct(1, 0), content("v-no", C, P, false));

    // when C sells P via shop ads from each content, without shop ads, and via shop ads without content
    let authorized = sc.when(
        "order.paid",
        &oct(3, 0),
        via_ads(order("o-1", S, P, Some(C), "100.00"), Some("v-yes")),
    );
    let unauthorized = sc.when(
        "order.paid",
        &oct(3, 0),
        via_ads(order("o-2", S, P, Some(C), "100.00"), Some("v-no")),
    );
    let mut organic = order("o-3", S, P, Some(C), "100.00");
    organic["content_id"] = json!("v-yes");
    let organic = sc.when("order.paid", &oct(3, 0), organic);
    let no_content = sc.when(
        "order.paid",
        &oct(3, 0),
        via_ads(order("o-4", S, P, Some(C), "100.00"), None),
    );

    // then only the shop-ads order from authorized content earns the shop-ads rate
    assert_eq!(shop_rated(&authorized), ["0.05", "5.00"]);
    assert_eq!(rated(&authorized), ["0.10", "open_collab", "10.00"]);
    assert_eq!(shop_rated(&unauthorized), ["0", "0.00"]);
    assert_eq!(shop_rated(&organic), ["0", "0.00"]);
    assert_eq!(shop_rated(&no_content), ["0", "0.00"]);
}

#[test]
fn a_campaign_shop_ads_rate_beats_the_open_shop_ads_rate() {
    // given P and Q open at 10 % with 5 % shop ads; S's campaign sets 20 % and 9 % shop ads on P,
    // and 20 % without a shop-ads rate on Q; C joined and posted authorized content
    let mut sc = Scenario::new();
    sc.when(
        "product.updated",
        CATALOGUE,
        shop_product(P, S, Some("0.10"), Some("0.05")),
    );
    sc.when(
        "product.updated",
        CATALOGUE,
        shop_product("q-1", S, Some("0.10"), Some("0.05")),
    );
    campaign(
        &mut sc,
        "k-1",
        S,
        K_START,
        K_END,
        &[(P, Some("0.20"), Some("0.09")), ("q-1", Some("0.20"), None)],
    );
    join(&mut sc, "k-1", C, &oct(1, 0));
    sc.when("content.posted", &oct(3, 0), content("v-1", C, P, true));

    // when C sells P and Q via shop ads during the campaign
    let p = sc.when(
        "order.paid",
        &oct(4, 0),
        via_ads(order("o-1", S, P, Some(C), "100.00"), Some("v-1")),
    );
    let q = sc.when(
        "order.paid",
        &oct(4, 0),
        via_ads(order("o-2", S, "q-1", Some(C), "100.00"), Some("v-1")),
    );

    // then P earns the campaign's shop-ads rate, Q falls back to its open shop-ads rate
    assert_eq!(rated(&p), ["0.20", "campaign", "20.00"]);
    assert_eq!(shop_rated(&p), ["0.09", "9.00"]);
    assert_eq!(rated(&q), ["0.20", "campaign", "20.00"]);
    assert_eq!(shop_rated(&q), ["0.05", "5.00"]);
}

#[test]
fn shop_ads_earn_zero_for_blocked_paused_and_demoted_creators() {
    // given P open at 10 % with 5 % shop ads, and three creators with authorized content:
    // one platform-blocked, one whose connection with S is paused, one demoted
    let mut sc = Scenario::new();
    sc.when(
        "product.updated",
        CATALOGUE,
        shop_product(P, S, Some("0.10"), Some("0.05")),
    );
    for creator in ["c-blocked", "c-paused", "c-demoted"] {
        sc.when(
            "content.posted",
            &oct(1, 0),
            content(&format!("v-{creator}"), creator, P, true),
        );
    }
    sc.when(
        "creator.platform_blocked",
        &oct(2, 0),
        json!({ "creator_id": "c-blocked", "reason": "fraud" }),
    );
    sc.when("partnership.paused", &oct(2, 0), pair_event(S, "c-paused"));
    violation(&mut sc, "v-1", "c-demoted", &oct(2, 0));

    // when each sells P via shop ads from their content
    let sell = |sc: &mut Scenario, creator: &str| {
        let o = via_ads(
            order(&format!("o-{creator}"), S, P, Some(creator), "100.00"),
            Some(&format!("v-{creator}")),
        );
        sc.when("order.paid", &oct(3, 0), o)
    };
    let blocked = sell(&mut sc, "c-blocked");
    let paused = sell(&mut sc, "c-paused");
    let demoted = sell(&mut sc, "c-demoted");

    // then neither commission nor shop-ads commission is earned
    assert_eq!(rated(&blocked), ["0", "platform_blocked", "0.00"]);
    assert_eq!(shop_rated(&blocked), ["0", "0.00"]);
    assert_eq!(rated(&paused), ["0", "connection_paused", "0.00"]);
    assert_eq!(shop_rated(&paused), ["0", "0.00"]);
    assert_eq!(rated(&demoted), ["0", "demoted", "0.00"]);
    assert_eq!(shop_rated(&demoted), ["0", "0.00"]);
}

#[test]
fn ads_authorized_content_arriving_after_the_order_adds_the_shop_ads_commission() {
    // given P open at 10 % with 5 % shop ads, and a shop-ads order from content not known yet
    let mut sc = Scenario::new();
    sc.when(
        "product.updated",
        CATALOGUE,
        shop_product(P, S, Some("0.10"), Some("0.05")),
    );
    let paid = sc.when(
        "order.paid",
        &oct(3, 0),
        via_ads(order("o-1", S, P, Some(C), "100.00"), Some("v-1")),
    );
    assert_eq!(shop_rated(&paid), ["0", "0.00"]);

    // when the content arrives, posted (earlier) with ads authorized
    let out = sc.when("content.posted", &oct(2, 0), content("v-1", C, P, true));

    // then the commission is adjusted to include the shop-ads amount, and settlement pays both
    assert_eq!(types(&out), ["commission.adjusted"]);
    let adjusted = first(&out, "commission.adjusted");
    assert_eq!(adjusted["order_id"], "o-1");
    assert_eq!(adjusted["amount"], "10.00");
    assert_eq!(adjusted["shop_ads_amount"], "5.00");
    assert_eq!(adjusted["delta"], "5.00");
    let settled = settle(&mut sc, "o-1", &oct(5, 0));
    let payable = first(&settled, "commission.payable");
    assert_eq!(
        [text(&payable["amount"]), text(&payable["shop_ads_amount"])],
        ["10.00", "5.00"]
    );
}

#[test]
fn late_ads_authorized_content_gives_a_campaign_order_the_campaigns_shop_ads_rate() {
    // given S's campaign on P at 20 % with 9 % shop ads (P open at 10 % with 5 %), joined by C,
    // and C's shop-ads campaign order from content not known yet
    let mut sc = Scenario::new();
    sc.when(
        "product.updated",
        CATALOGUE,
        shop_product(P, S, Some("0.10"), Some("0.05")),
    );
    campaign(&mut sc, "k-1", S, K_START, K_END, &[(P, Some("0.20"), Some("0.09"))]);
    join(&mut sc, "k-1", C, &oct(1, 0));
    let paid = sc.when(
        "order.paid",
        &oct(4, 0),
        via_ads(order("o-1", S, P, Some(C), "100.00"), Some("v-1")),
    );
    assert_eq!(shop_rated(&paid), ["0", "0.00"]);

    // when the content arrives ads-authorized
    let out = sc.when("content.posted", &oct(3, 0), content("v-1", C, P, true));

    // then the commission is adjusted with the campaign's shop-ads rate
    let adjusted = first(&out, "commission.adjusted");
    assert_eq!(
        [&adjusted["amount"], &adjusted["shop_ads_amount"], &adjusted["delta"]].map(text),
        ["20.00", "9.00", "9.00"]
    );
}

#[test]
fn content_arriving_after_the_order_without_ads_authorization_changes_nothing() {
    // given a shop-ads order from content not known yet
    let mut sc = Scenario::new();
    sc.when(
        "product.updated",
        CATALOGUE,
        shop_product(P, S, Some("0.10"), Some("0.05")),
    );
    sc.when(
        "order.paid",
        &oct(3, 0),
        via_ads(order("o-1", S, P, Some(C), "100.00"), Some("v-1")),
    );

    // when the content arrives without ads authorization
    let out = sc.when("content.posted", &oct(2, 0), content("v-1", C, P, false));

    // then no adjustment: the shop-ads commission stays 0
    assert!(out.is_empty(), "{:?}", types(&out));
    assert_eq!(commission_of(&sc, "o-1").shop_ads_amount, Decimal::ZERO);
}

// ---------------------------------------------------------------------------
// O5 — rounding
// ---------------------------------------------------------------------------

#[test]
fn amounts_round_to_cents_half_away_from_zero() {
    // given P open at 10 % with 5 % shop ads and Q open at 15 %, authorized content
    let mut sc = Scenario::new();
    sc.when(
        "product.updated",
        CATALOGUE,
        shop_product(P, S, Some("0.10"), Some("0.05")),
    );
    sc.when("product.updated", CATALOGUE, product("q-1", S, Some("0.15")));
    sc.when("content.posted", &oct(1, 0), content("v-1", C, P, true));

    // when orders whose exact commission ends in a half cent are paid
    let half = sc.when(
        "order.paid",
        &oct(3, 0),
        via_ads(order("o-1", S, P, Some(C), "1.25"), Some("v-1")),
    );
    let tiny = pay(&mut sc, "o-2", S, P, C, "0.05", &oct(3, 0));
    let below_half = pay(&mut sc, "o-3", S, "q-1", C, "33.35", &oct(3, 0));
    pay(&mut sc, "o-4", S, "q-1", C, "10.00", &oct(3, 0));
    let refunded = sc.when("order.refunded", &oct(4, 0), refund("o-4", "1.70"));

    // then halves round up (away from zero), not to even; below half rounds down
    // 1.25 × 0.10 = 0.125 → 0.13; 1.25 × 0.05 = 0.0625 → 0.06
    assert_eq!(rated(&half), ["0.10", "open_collab", "0.13"]);
    assert_eq!(shop_rated(&half), ["0.05", "0.06"]);
    // 0.05 × 0.10 = 0.005 → 0.01
    assert_eq!(rated(&tiny), ["0.10", "open_collab", "0.01"]);
    // 33.35 × 0.15 = 5.0025 → 5.00
    assert_eq!(rated(&below_half), ["0.15", "open_collab", "5.00"]);
    // after the refund: 8.30 × 0.15 = 1.245 → 1.25
    let adjusted = first(&refunded, "commission.adjusted");
    assert_eq!(adjusted["amount"], "1.25");
    assert_eq!(adjusted["delta"], "-0.25");
}

// ---------------------------------------------------------------------------
// O6 — refunds and cancellations
// ---------------------------------------------------------------------------

/// P open at 10 % with 5 % shop ads, and C's 100.00 shop-ads order o-1 from
/// authorized content: 10.00 + 5.00.
fn shop_ads_order() -> Scenario {
    let mut sc = Scenario::new();
    sc.when(
        "product.updated",
        CATALOGUE,
        shop_product(P, S, Some("0.10"), Some("0.05")),
    );
    sc.when("content.posted", &oct(1, 0), content("v-1", C, P, true));
    let out = sc.when(
        "order.paid",
        &oct(3, 0),
        via_ads(order("o-1", S, P, Some(C), "100.00"), Some("v-1")),
    );
    assert_eq!(rated(&out), ["0.10", "open_collab", "10.00"]);
    assert_eq!(shop_rated(&out), ["0.05", "5.00"]);
    sc
}

#[test]
fn a_partial_refund_recomputes_both_amounts_on_the_new_base() {
    // given a pending 10.00 + 5.00 commission on 100.00
    let mut sc = shop_ads_order();

    // when 30.00 then 20.00 are refunded
    let first_refund = sc.when("order.refunded", &oct(4, 0), refund("o-1", "30.00"));
    let second_refund = sc.when("order.refunded", &oct(5, 0), refund("o-1", "20.00"));

    // then each refund adjusts the amounts on the base net of all refunds so far
    assert_eq!(types(&first_refund), ["commission.adjusted"]);
    let a = first(&first_refund, "commission.adjusted");
    assert_eq!(
        [&a["amount"], &a["shop_ads_amount"], &a["delta"], &a["currency"]].map(text),
        ["7.00", "3.50", "-4.50", "USD"]
    );
    let b = first(&second_refund, "commission.adjusted");
    assert_eq!(
        [&b["amount"], &b["shop_ads_amount"], &b["delta"]].map(text),
        ["5.00", "2.50", "-3.00"]
    );
    assert_eq!(state_of(&sc, "o-1"), CommissionState::Pending);
}

#[test]
fn a_refund_bringing_the_base_to_zero_cancels_the_commission() {
    // given a pending commission on 100.00, 60.00 of which were refunded
    let mut sc = shop_ads_order();
    sc.when("order.refunded", &oct(4, 0), refund("o-1", "60.00"));

    // when the remaining 40.00 is refunded
    let out = sc.when("order.refunded", &oct(5, 0), refund("o-1", "40.00"));

    // then the commission is cancelled (order_refunded), not adjusted, and settlement pays nothing
    assert_eq!(types(&out), ["commission.cancelled"]);
    assert_eq!(first(&out, "commission.cancelled")["reason"], "order_refunded");
    assert_eq!(
        state_of(&sc, "o-1"),
        CommissionState::Cancelled(CancelReason::OrderRefunded)
    );
    assert!(settle(&mut sc, "o-1", &oct(6, 0)).is_empty());
}

#[test]
fn a_cancelled_order_cancels_its_commission() {
    // given a pending commission
    let mut sc = shop_ads_order();

    // when the order is cancelled
    let out = sc.when("order.cancelled", &oct(4, 0), order_ref("o-1"));

    // then commission.cancelled (order_cancelled); later refunds and settlement change nothing
    assert_eq!(types(&out), ["commission.cancelled"]);
    let cancelled = first(&out, "commission.cancelled");
    assert_eq!(cancelled["reason"], "order_cancelled");
    assert_eq!(cancelled["commission_id"], Value::from(commission_of(&sc, "o-1").id));
    assert!(sc.when("order.refunded", &oct(5, 0), refund("o-1", "10.00")).is_empty());
    assert!(settle(&mut sc, "o-1", &oct(6, 0)).is_empty());
    assert_eq!(
        state_of(&sc, "o-1"),
        CommissionState::Cancelled(CancelReason::OrderCancelled)
    );
}

#[test]
fn refunds_after_payable_claw_back_what_is_owed() {
    // given a 10.00 + 5.00 commission made payable
    let mut sc = shop_ads_order();
    assert_eq!(types(&settle(&mut sc, "o-1", &oct(4, 0))), ["commission.payable"]);

    // when 30.00, then the remaining 70.00, are refunded
    let partial = sc.when("order.refunded", &oct(5, 0), refund("o-1", "30.00"));
    let rest = sc.when("order.refunded", &oct(6, 0), refund("o-1", "70.00"));

    // then each refund claws back what is now owed, commission and shop ads together
    assert_eq!(types(&partial), ["commission.clawback"]);
    assert_eq!(first(&partial, "commission.clawback")["amount"], "4.50");
    assert_eq!(types(&rest), ["commission.clawback"]);
    assert_eq!(first(&rest, "commission.clawback")["amount"], "10.50");
    assert_eq!(commission_of(&sc, "o-1").paid_out, Decimal::ZERO);
}

#[test]
fn a_cancellation_after_payable_claws_back_everything_still_paid_out() {
    // given a 10.00 + 5.00 commission made payable, then 30.00 refunded (4.50 clawed back)
    let mut sc = shop_ads_order();
    settle(&mut sc, "o-1", &oct(4, 0));
    sc.when("order.refunded", &oct(5, 0), refund("o-1", "30.00"));

    // when the order is cancelled
    let out = sc.when("order.cancelled", &oct(6, 0), order_ref("o-1"));

    // then only a clawback of the remaining 10.50, no commission.cancelled (decision 6)
    assert_eq!(types(&out), ["commission.clawback"]);
    let clawback = first(&out, "commission.clawback");
    assert_eq!([&clawback["amount"], &clawback["order_id"]].map(text), ["10.50", "o-1"]);
    let c = commission_of(&sc, "o-1");
    assert_eq!(c.state, CommissionState::Cancelled(CancelReason::OrderCancelled));
    assert_eq!(c.paid_out, Decimal::ZERO);
}

// ---------------------------------------------------------------------------
// O7 — settlement
// ---------------------------------------------------------------------------

#[test]
fn settlement_makes_a_commission_payable() {
    // given a pending 10.00 + 5.00 commission
    let mut sc = shop_ads_order();

    // when the order settles
    let out = settle(&mut sc, "o-1", &oct(4, 0));

    // then commission.payable (settled) with both amounts
    assert_eq!(types(&out), ["commission.payable"]);
    assert_eq!(
        first(&out, "commission.payable"),
        json!({
            "commission_id": commission_of(&sc, "o-1").id, "order_id": "o-1", "creator_id": C,
            "amount": "10.00", "shop_ads_amount": "5.00", "currency": "USD", "reason": "settled"
        })
    );
    assert_eq!(commission_of(&sc, "o-1").paid_out, money(1500));
}

#[test]
fn a_zero_commission_is_not_made_payable() {
    // given a commission at rate 0 (product not on open collaboration)
    let mut sc = Scenario::new();
    sc.when("product.updated", CATALOGUE, product(P, S, None));
    pay(&mut sc, "o-1", S, P, C, "100.00", &oct(3, 0));

    // when the order settles
    let out = settle(&mut sc, "o-1", &oct(4, 0));

    // then nothing is payable; the commission is closed
    assert!(out.is_empty(), "{:?}", types(&out));
    assert_eq!(state_of(&sc, "o-1"), CommissionState::Closed);
}

#[test]
fn a_commission_held_by_an_open_dispute_becomes_payable_only_when_released() {
    // given a pending partnership commission and an open dispute between S and C
    let mut sc = Scenario::new();
    sc.when("product.updated", CATALOGUE, product(P, S, Some("0.10")));
    partnership(&mut sc, S, C, "0.12", &oct(1, 0));
    pay(&mut sc, "o-1", S, P, C, "100.00", &oct(3, 0));
    sc.when(
        "dispute.opened",
        &oct(4, 0),
        json!({ "dispute_id": "d-1", "seller_id": S, "creator_id": C }),
    );

    // when the order settles, then the dispute is resolved without listing it
    let settled = settle(&mut sc, "o-1", &oct(5, 0));
    let resolved = sc.when(
        "dispute.resolved",
        &oct(6, 0),
        json!({ "dispute_id": "d-1", "cancelled_order_ids": [] }),
    );

    // then it is payable at the resolution, not at settlement
    assert!(settled.is_empty(), "{:?}", types(&settled));
    assert_eq!(types(&resolved), ["commission.payable"]);
    assert_eq!(first(&resolved, "commission.payable")["reason"], "settled");
    assert_eq!(first(&resolved, "commission.payable")["amount"], "12.00");
}

// ---------------------------------------------------------------------------
// O8 — arrival order
// ---------------------------------------------------------------------------

#[test]
fn a_settlement_arriving_before_the_order_makes_it_payable_when_paid() {
    // given P open at 10 %, and the settlement of o-1 arriving first
    let mut sc = Scenario::new();
    sc.when("product.updated", CATALOGUE, product(P, S, Some("0.10")));
    let early = settle(&mut sc, "o-1", &oct(5, 0));
    assert!(early.is_empty(), "{:?}", types(&early));

    // when the order.paid arrives
    let out = pay(&mut sc, "o-1", S, P, C, "100.00", &oct(3, 0));

    // then it is accrued and made payable at once
    assert_eq!(types(&out), ["commission.accrued", "commission.payable"]);
    assert_eq!(first(&out, "commission.payable")["amount"], "10.00");
}

#[test]
fn refunds_arriving_before_the_order_are_applied_when_it_is_paid() {
    // given P open at 10 %, and two refunds of o-1 (20.00 and 30.00) arriving first, out of time order
    let mut sc = Scenario::new();
    sc.when("product.updated", CATALOGUE, product(P, S, Some("0.10")));
    assert!(sc.when("order.refunded", &oct(6, 0), refund("o-1", "30.00")).is_empty());
    assert!(sc.when("order.refunded", &oct(5, 0), refund("o-1", "20.00")).is_empty());

    // when the order.paid arrives
    let out = pay(&mut sc, "o-1", S, P, C, "100.00", &oct(3, 0));

    // then it is accrued on 100.00 and adjusted down to 5.00 on the base net of both refunds
    assert_eq!(
        types(&out),
        ["commission.accrued", "commission.adjusted", "commission.adjusted"]
    );
    assert_eq!(first(&out, "commission.accrued")["amount"], "10.00");
    let adjusted = all(&out, "commission.adjusted");
    assert_eq!(adjusted[0]["amount"], "8.00");
    assert_eq!(adjusted[1]["amount"], "5.00");
    assert_eq!(commission_of(&sc, "o-1").amount, money(500));
}

#[test]
fn a_full_refund_arriving_before_the_order_cancels_it_when_paid() {
    // given the full refund of o-1 arriving first
    let mut sc = Scenario::new();
    sc.when("product.updated", CATALOGUE, product(P, S, Some("0.10")));
    sc.when("order.refunded", &oct(5, 0), refund("o-1", "100.00"));

    // when the order.paid arrives
    let out = pay(&mut sc, "o-1", S, P, C, "100.00", &oct(3, 0));

    // then it is accrued and cancelled (order_refunded)
    assert_eq!(types(&out), ["commission.accrued", "commission.cancelled"]);
    assert_eq!(first(&out, "commission.cancelled")["reason"], "order_refunded");
}

#[test]
fn a_cancellation_arriving_before_the_order_cancels_it_when_paid() {
    // given the cancellation and the settlement of o-1 arriving first
    let mut sc = Scenario::new();
    sc.when("product.updated", CATALOGUE, product(P, S, Some("0.10")));
    assert!(sc.when("order.cancelled", &oct(4, 0), order_ref("o-1")).is_empty());
    assert!(settle(&mut sc, "o-1", &oct(5, 0)).is_empty());

    // when the order.paid arrives
    let out = pay(&mut sc, "o-1", S, P, C, "100.00", &oct(3, 0));

    // then it is accrued and cancelled (order_cancelled), never payable
    assert_eq!(types(&out), ["commission.accrued", "commission.cancelled"]);
    assert_eq!(first(&out, "commission.cancelled")["reason"], "order_cancelled");
}

#[test]
fn an_order_arriving_before_its_product_is_kept_then_accrued_with_its_facts() {
    // given an order of a product nobody described yet, settled meanwhile
    let mut sc = Scenario::new();
    let paid = pay(&mut sc, "o-1", S, P, C, "100.00", &oct(3, 0));
    let settled = settle(&mut sc, "o-1", &oct(5, 0));
    assert!(paid.is_empty(), "{:?}", types(&paid));
    assert!(settled.is_empty(), "{:?}", types(&settled));

    // when the product is described (after the order: taken as first described)
    let out = sc.when("product.updated", &oct(4, 0), product(P, S, Some("0.10")));

    // then the order is accrued at its rate and made payable
    assert_eq!(types(&out), ["commission.accrued", "commission.payable"]);
    assert_eq!(rated(&out), ["0.10", "open_collab", "10.00"]);
}

#[test]
fn an_order_arriving_before_its_product_uses_the_version_current_at_the_order() {
    // given an order of Oct 5 waiting for its product
    let mut sc = Scenario::new();
    pay(&mut sc, "o-1", S, P, C, "100.00", &oct(5, 0));

    // when the product's Oct 1 description (10 %) arrives, then its Oct 10 one (8 %)
    let first_description = sc.when("product.updated", &oct(1, 0), product(P, S, Some("0.10")));
    let second_description = sc.when("product.updated", &oct(10, 0), product(P, S, Some("0.08")));

    // then it is accrued once, at the rate current on Oct 5
    assert_eq!(rated(&first_description), ["0.10", "open_collab", "10.00"]);
    assert!(second_description.is_empty(), "{:?}", types(&second_description));
}

// ---------------------------------------------------------------------------
// V1 — demotion
// ---------------------------------------------------------------------------

#[test]
fn a_violation_demotes_the_creator_and_cancels_only_pending_open_collaboration_commissions() {
    // given C's commissions: pending open_collab (s-open), pending zero (s-open, product off open
    // collaboration), pending partnership (s-partner), pending campaign (s-camp), payable open_collab (s-paid)
    let mut sc = Scenario::new();
    for (p, seller) in [
        ("p-open", "s-open"),
        ("p-partner", "s-partner"),
        ("p-camp", "s-camp"),
        ("p-paid", "s-paid"),
    ] {
        sc.when("product.updated", CATALOGUE, product(p, seller, Some("0.10")));
    }
    sc.when("product.updated", CATALOGUE, product("p-none", "s-open", None));
    partnership(&mut sc, "s-partner", C, "0.12", &oct(1, 0));
    campaign(
        &mut sc,
        "k-1",
        "s-camp",
        K_START,
        K_END,
        &[("p-camp", Some("0.20"), None)],
    );
    join(&mut sc, "k-1", C, &oct(1, 0));
    pay(&mut sc, "o-open", "s-open", "p-open", C, "100.00", &oct(3, 0));
    pay(&mut sc, "o-none", "s-open", "p-none", C, "100.00", &oct(3, 0));
    pay(&mut sc, "o-partner", "s-partner", "p-partner", C, "100.00", &oct(3, 0));
    pay(&mut sc, "o-camp", "s-camp", "p-camp", C, "100.00", &oct(3, 0));
    pay(&mut sc, "o-paid", "s-paid", "p-paid", C, "100.00", &oct(3, 0));
    settle(&mut sc, "o-paid", &oct(4, 0));

    // when a violation is reported on Oct 10
    let out = violation(&mut sc, "v-1", C, &oct(10, 0));

    // then C is demoted, and only the pending open_collab commission is cancelled (violation)
    assert_eq!(
        first(&out, "commission.demoted"),
        json!({ "creator_id": C, "violation_id": "v-1", "rate": "0" })
    );
    assert_eq!(orders_in(&out, "commission.cancelled"), ["o-open"]);
    assert_eq!(first(&out, "commission.cancelled")["reason"], "violation");
    assert_eq!(
        state_of(&sc, "o-open"),
        CommissionState::Cancelled(CancelReason::Violation)
    );
    assert_eq!(state_of(&sc, "o-none"), CommissionState::Pending);
    assert_eq!(state_of(&sc, "o-partner"), CommissionState::Pending);
    assert_eq!(state_of(&sc, "o-camp"), CommissionState::Pending);
    assert_eq!(state_of(&sc, "o-paid"), CommissionState::Payable);

    // and later open-collaboration orders earn 0 (demoted)
    let later = pay(&mut sc, "o-later", "s-open", "p-open", C, "100.00", &oct(11, 0));
    assert_eq!(rated(&later), ["0", "demoted", "0.00"]);
}

#[test]
fn an_order_paid_before_a_violation_but_applied_after_it_ends_cancelled() {
    // given P open at 10 % and a violation of Oct 10 already applied
    let mut sc = Scenario::new();
    sc.when("product.updated", CATALOGUE, product(P, S, Some("0.10")));
    violation(&mut sc, "v-1", C, &oct(10, 0));

    // when an order paid on Oct 5 arrives
    let out = pay(&mut sc, "o-1", S, P, C, "100.00", &oct(5, 0));

    // then it is accrued as open_collab (not yet demoted on Oct 5), then cancelled by the violation
    assert_eq!(types(&out), ["commission.accrued", "commission.cancelled"]);
    assert_eq!(rated(&out), ["0.10", "open_collab", "10.00"]);
    assert_eq!(first(&out, "commission.cancelled")["reason"], "violation");
    assert!(settle(&mut sc, "o-1", &oct(12, 0)).is_empty());
}

#[test]
fn a_commission_cancelled_by_a_violation_that_arrived_first_stays_cancelled_when_an_earlier_settlement_arrives() {
    // given an open-collaboration order of Oct 3, cancelled by a violation of Oct 10 that arrived first
    let mut sc = Scenario::new();
    sc.when("product.updated", CATALOGUE, product(P, S, Some("0.10")));
    pay(&mut sc, "o-1", S, P, C, "100.00", &oct(3, 0));
    let cancelled = violation(&mut sc, "v-1", C, &oct(10, 0));
    assert_eq!(orders_in(&cancelled, "commission.cancelled"), ["o-1"]);

    // when its settlement of Oct 5 arrives, then nothing is paid: a commission
    // announced cancelled is never made payable afterwards (decision 8)
    assert!(settle(&mut sc, "o-1", &oct(5, 0)).is_empty());
    assert_eq!(
        state_of(&sc, "o-1"),
        CommissionState::Cancelled(CancelReason::Violation)
    );
}

#[test]
fn a_settlement_from_before_a_dispute_opened_arriving_after_it_is_not_held() {
    // given a partnership order of Oct 3 and a dispute opened on Oct 6 that arrived first
    let mut sc = Scenario::new();
    sc.when("product.updated", CATALOGUE, product(P, S, Some("0.10")));
    partnership(&mut sc, S, C, "0.12", &oct(1, 0));
    pay(&mut sc, "o-1", S, P, C, "100.00", &oct(3, 0));
    pay(&mut sc, "o-2", S, P, C, "50.00", &oct(3, 0));
    open_dispute(&mut sc, "d-1", S, C, &oct(6, 0));

    // when o-1's settlement of Oct 5 arrives, then it is payable (the dispute was not open then);
    // o-2's of Oct 7 is held
    let out = settle(&mut sc, "o-1", &oct(5, 0));
    assert_eq!(types(&out), ["commission.payable"]);
    assert_eq!(first(&out, "commission.payable")["amount"], "12.00");
    assert!(settle(&mut sc, "o-2", &oct(7, 0)).is_empty());

    // and when the dispute lists o-1, what was paid is clawed back, as in time order
    let resolved = resolve_dispute(&mut sc, "d-1", &["o-1"], &oct(8, 0));
    assert_eq!(resolved.len(), 2, "{:?}", types(&resolved));
    assert_eq!(orders_in(&resolved, "commission.clawback"), ["o-1"]);
    assert_eq!(orders_in(&resolved, "commission.payable"), ["o-2"]);
}

#[test]
fn a_repeated_violation_report_changes_nothing() {
    // given a violation v-1 already applied
    let mut sc = Scenario::new();
    sc.when("product.updated", CATALOGUE, product(P, S, Some("0.10")));
    partnership(&mut sc, S, C, "0.12", &oct(1, 0));
    violation(&mut sc, "v-1", C, &oct(10, 0));

    // when the same violation is reported again (new event id)
    let out = violation(&mut sc, "v-1", C, &oct(10, 0));

    // then no new demotion nor notice
    assert!(out.is_empty(), "{:?}", types(&out));
}

// ---------------------------------------------------------------------------
// V2 — notices
// ---------------------------------------------------------------------------

#[test]
fn violation_notices_go_exactly_to_partners_and_campaign_sellers() {
    // given C partnered with s-partner; in s-camp's campaign; selling for s-open on open collaboration;
    // partnered with s-paused, which paused; in s-removed's campaign, removed by a pause; and blocked by
    // s-blocklist before joining its campaign (rejected)
    let mut sc = Scenario::new();
    for (p, seller) in [
        ("p-partner", "s-partner"),
        ("p-camp", "s-camp"),
        ("p-open", "s-open"),
        ("p-removed", "s-removed"),
        ("p-blocklist", "s-blocklist"),
    ] {
        sc.when("product.updated", CATALOGUE, product(p, seller, Some("0.10")));
    }
    partnership(&mut sc, "s-partner", C, "0.12", &oct(1, 0));
    campaign(
        &mut sc,
        "k-camp",
        "s-camp",
        K_START,
        K_END,
        &[("p-camp", Some("0.20"), None)],
    );
    join(&mut sc, "k-camp", C, &oct(1, 0));
    pay(&mut sc, "o-open", "s-open", "p-open", C, "100.00", &oct(3, 0));
    partnership(&mut sc, "s-paused", C, "0.12", &oct(1, 0));
    sc.when("partnership.paused", &oct(2, 0), pair_event("s-paused", C));
    campaign(
        &mut sc,
        "k-removed",
        "s-removed",
        K_START,
        K_END,
        &[("p-removed", Some("0.20"), None)],
    );
    join(&mut sc, "k-removed", C, &oct(1, 0));
    sc.when("partnership.paused", &oct(2, 0), pair_event("s-removed", C));
    campaign(
        &mut sc,
        "k-blocklist",
        "s-blocklist",
        K_START,
        K_END,
        &[("p-blocklist", Some("0.20"), None)],
    );
    sc.when("seller.creator_blocked", &oct(1, 0), pair_event("s-blocklist", C));
    let rejected = sc.when(
        "creator.join_requested",
        &oct(2, 0),
        json!({ "campaign_id": "k-blocklist", "creator_id": C }),
    );
    assert_eq!(types(&rejected), ["participation.rejected"]);

    // when a violation is reported
    let out = violation(&mut sc, "v-1", C, &oct(10, 0));

    // then exactly s-partner and s-camp are notified, with the three options
    assert_eq!(
        field_of(&out, "seller.violation_notice", "seller_id"),
        ["s-camp", "s-partner"]
    );
    for notice in all(&out, "seller.violation_notice") {
        assert_eq!(notice["creator_id"], C);
        assert_eq!(notice["violation_id"], "v-1");
        assert_eq!(notice["options"], json!(["pause", "dispute", "none"]));
    }

    // and those connections continue unchanged until the seller acts
    let partner = pay(&mut sc, "o-partner", "s-partner", "p-partner", C, "100.00", &oct(11, 0));
    let camp = pay(&mut sc, "o-camp", "s-camp", "p-camp", C, "100.00", &oct(11, 0));
    assert_eq!(rated(&partner), ["0.12", "partnership", "12.00"]);
    assert_eq!(rated(&camp), ["0.20", "campaign", "20.00"]);
}

/// The sellers named by the `seller.violation_notice` outcomes, sorted.
fn noticed(out: &[OutcomeData]) -> Vec<String> {
    field_of(out, "seller.violation_notice", "seller_id")
}

#[test]
fn a_partnership_from_before_a_violation_arriving_after_it_gets_the_notice_once() {
    // given C's violation v-1 on Oct 10, known before any connection
    let mut sc = Scenario::new();
    violation(&mut sc, "v-1", C, &oct(10, 0));

    // when S's partnership with C from Oct 5 arrives
    let out = sc.when(
        "partnership.established",
        &oct(5, 0),
        json!({ "seller_id": S, "creator_id": C, "commission_rate": "0.12" }),
    );

    // then S had a connection when the violation happened: accepted, then notified
    assert_eq!(types(&out), ["partnership.accepted", "seller.violation_notice"]);
    let notice = first(&out, "seller.violation_notice");
    assert_eq!(notice["creator_id"], C);
    assert_eq!(notice["violation_id"], "v-1");
    assert_eq!(notice["options"], json!(["pause", "dispute", "none"]));

    // and a new rate for the same partnership, also from before the violation, notifies no more
    let again = sc.when(
        "partnership.established",
        &oct(6, 0),
        json!({ "seller_id": S, "creator_id": C, "commission_rate": "0.15" }),
    );
    assert_eq!(types(&again), ["partnership.accepted"]);

    // and a partnership that began after the violation brings no notice
    let after = sc.when(
        "partnership.established",
        &oct(11, 0),
        json!({ "seller_id": "s-later", "creator_id": C, "commission_rate": "0.12" }),
    );
    assert_eq!(types(&after), ["partnership.accepted"]);
}

#[test]
fn a_partnership_paused_before_the_violation_arriving_late_gets_no_notice() {
    // given C's violation on Oct 10, and S's pause of C on Oct 6, both known
    let mut sc = Scenario::new();
    violation(&mut sc, "v-1", C, &oct(10, 0));
    sc.when("partnership.paused", &oct(6, 0), pair_event(S, C));

    // when S's partnership from Oct 5 arrives
    let out = sc.when(
        "partnership.established",
        &oct(5, 0),
        json!({ "seller_id": S, "creator_id": C, "commission_rate": "0.12" }),
    );

    // then the connection had ended when the violation happened: no notice
    assert_eq!(types(&out), ["partnership.accepted"]);
}

#[test]
fn a_campaign_participation_from_before_a_violation_arriving_after_it_gets_the_notice() {
    // given S's campaign and C's violation on Oct 10
    let mut sc = Scenario::new();
    sc.when("product.updated", CATALOGUE, product(P, S, Some("0.10")));
    campaign(&mut sc, "k-1", S, K_START, K_END, &[(P, Some("0.20"), None)]);
    profile(&mut sc, C);
    violation(&mut sc, "v-1", C, &oct(10, 0));

    // when C's join of Oct 3 arrives
    let out = sc.when(
        "creator.join_requested",
        &oct(3, 0),
        json!({ "campaign_id": "k-1", "creator_id": C }),
    );

    // then S is notified of the violation that came after the join
    assert_eq!(types(&out), ["participation.accepted", "seller.violation_notice"]);
    assert_eq!(noticed(&out), [S]);
}

#[test]
fn a_seller_connected_twice_gets_one_notice_per_violation_whatever_the_arrival_order() {
    // given S's campaign, and C's violations v-1 (Oct 10) and v-2 (Oct 12)
    let mut sc = Scenario::new();
    sc.when("product.updated", CATALOGUE, product(P, S, Some("0.10")));
    campaign(&mut sc, "k-1", S, K_START, K_END, &[(P, Some("0.20"), None)]);
    campaign(&mut sc, "k-2", S, K_START, K_END, &[(P, Some("0.25"), None)]);
    profile(&mut sc, C);
    violation(&mut sc, "v-1", C, &oct(10, 0));
    // S and C connected by the join of Oct 11, between the two violations, arriving in order
    let out = sc.when(
        "creator.join_requested",
        &oct(11, 0),
        json!({ "campaign_id": "k-1", "creator_id": C }),
    );
    assert_eq!(types(&out), ["participation.accepted"]);
    let v2 = violation(&mut sc, "v-2", C, &oct(12, 0));
    assert_eq!(noticed(&v2), [S]);

    // when a partnership of Oct 1 and a join of another campaign on Oct 2 arrive late
    let partner = sc.when(
        "partnership.established",
        &oct(1, 0),
        json!({ "seller_id": S, "creator_id": C, "commission_rate": "0.12" }),
    );
    let joined = sc.when(
        "creator.join_requested",
        &oct(2, 0),
        json!({ "campaign_id": "k-2", "creator_id": C }),
    );

    // then S is told about v-1 once (it was not connected then), and never again about v-2
    assert_eq!(
        all(&partner, "seller.violation_notice")
            .iter()
            .map(|n| text(&n["violation_id"]))
            .collect::<Vec<_>>(),
        ["v-1"]
    );
    assert_eq!(types(&joined), ["participation.accepted"]);
}

// ---------------------------------------------------------------------------
// V3 — pause
// ---------------------------------------------------------------------------

#[test]
fn a_pause_pays_out_the_pairs_pending_partnership_and_campaign_commissions_and_ends_the_connection() {
    // given S's products P (in C's 20 % campaign) and Q (open 10 %); C sold Q on open collaboration
    // before partnering with S at 12 % on Oct 2, then sold Q (partnership) and P (campaign);
    // C also has a pending partnership commission with another seller s-2
    let mut sc = Scenario::new();
    sc.when("product.updated", CATALOGUE, product(P, S, Some("0.10")));
    sc.when("product.updated", CATALOGUE, product("q-1", S, Some("0.10")));
    sc.when("product.updated", CATALOGUE, product("p-2", "s-2", Some("0.10")));
    campaign(&mut sc, "k-1", S, K_START, K_END, &[(P, Some("0.20"), None)]);
    join(&mut sc, "k-1", C, &oct(1, 0));
    let open = pay(&mut sc, "o-open", S, "q-1", C, "100.00", &oct(1, 12));
    assert_eq!(rated(&open), ["0.10", "open_collab", "10.00"]);
    partnership(&mut sc, S, C, "0.12", &oct(2, 0));
    partnership(&mut sc, "s-2", C, "0.12", &oct(2, 0));
    assert_eq!(
        rated(&pay(&mut sc, "o-partner", S, "q-1", C, "100.00", &oct(3, 0)))[1],
        "partnership"
    );
    assert_eq!(
        rated(&pay(&mut sc, "o-camp", S, P, C, "100.00", &oct(3, 0)))[1],
        "campaign"
    );
    assert_eq!(
        rated(&pay(&mut sc, "o-other", "s-2", "p-2", C, "100.00", &oct(3, 0)))[1],
        "partnership"
    );

    // when S pauses the connection on Oct 5
    let out = sc.when("partnership.paused", &oct(5, 0), pair_event(S, C));

    // then the pair's partnership and campaign commissions are payable (connection_paused) at once,
    // C's participation in S's campaign is removed, and nothing else changes
    assert_eq!(orders_in(&out, "commission.payable"), ["o-camp", "o-partner"]);
    assert_eq!(
        field_of(&out, "commission.payable", "reason"),
        ["connection_paused", "connection_paused"]
    );
    assert_eq!(field_of(&out, "commission.payable", "amount"), ["12.00", "20.00"]);
    let removed = first(&out, "participation.status_changed");
    assert_eq!(
        [&removed["campaign_id"], &removed["status"]].map(text),
        ["k-1", "removed"]
    );
    assert_eq!(types(&out).len(), 3, "{:?}", types(&out));
    let participation = sc
        .get::<Participation>(&(CampaignId::from("k-1"), CreatorId::from(C)))
        .expect("the participation exists");
    assert_eq!(participation.status, ParticipationStatus::Removed);
    assert_eq!(state_of(&sc, "o-open"), CommissionState::Pending);
    assert_eq!(state_of(&sc, "o-other"), CommissionState::Pending);

    // and later orders with S earn 0, partnerships and joins with S are rejected
    let later_q = pay(&mut sc, "o-later-q", S, "q-1", C, "100.00", &oct(6, 0));
    let later_p = pay(&mut sc, "o-later-p", S, P, C, "100.00", &oct(6, 0));
    assert_eq!(rated(&later_q), ["0", "connection_paused", "0.00"]);
    assert_eq!(rated(&later_p), ["0", "connection_paused", "0.00"]);
    let again = sc.when(
        "partnership.established",
        &oct(7, 0),
        json!({ "seller_id": S, "creator_id": C, "commission_rate": "0.15" }),
    );
    assert_eq!(types(&again), ["partnership.rejected"]);
    assert_eq!(first(&again, "partnership.rejected")["reason"], "connection_paused");
    let rejoin = sc.when(
        "creator.join_requested",
        &oct(7, 0),
        json!({ "campaign_id": "k-1", "creator_id": C }),
    );
    assert_eq!(first(&rejoin, "participation.rejected")["reason"], "connection_paused");

    // and the open-collaboration commission is paid on settlement as usual
    let settled = settle(&mut sc, "o-open", &oct(8, 0));
    assert_eq!(first(&settled, "commission.payable")["reason"], "settled");
}

#[test]
fn a_pause_does_not_pay_out_commissions_held_by_a_dispute() {
    // given two pending partnership commissions of S–C held by an open dispute
    let mut sc = Scenario::new();
    sc.when("product.updated", CATALOGUE, product(P, S, Some("0.10")));
    partnership(&mut sc, S, C, "0.12", &oct(1, 0));
    pay(&mut sc, "o-1", S, P, C, "100.00", &oct(3, 0));
    pay(&mut sc, "o-2", S, P, C, "100.00", &oct(3, 0));
    sc.when(
        "dispute.opened",
        &oct(4, 0),
        json!({ "dispute_id": "d-1", "seller_id": S, "creator_id": C }),
    );

    // when S pauses the connection
    let out = sc.when("partnership.paused", &oct(5, 0), pair_event(S, C));

    // then neither is paid out (decision 12); the resolution cancels o-1 and
    // releases o-2, paid out at once as the paused pair's pending commission (V3)
    assert!(all(&out, "commission.payable").is_empty(), "{:?}", types(&out));
    let resolved = sc.when(
        "dispute.resolved",
        &oct(6, 0),
        json!({ "dispute_id": "d-1", "cancelled_order_ids": ["o-1"] }),
    );
    assert_eq!(orders_in(&resolved, "commission.cancelled"), ["o-1"]);
    assert_eq!(orders_in(&resolved, "commission.payable"), ["o-2"]);
    assert_eq!(first(&resolved, "commission.payable")["reason"], "connection_paused");
    assert_eq!(first(&resolved, "commission.payable")["amount"], "12.00");
    assert!(settle(&mut sc, "o-2", &oct(7, 0)).is_empty());
}

#[test]
fn a_pause_arriving_after_orders_made_after_it_leaves_those_orders_earning_zero() {
    // given P open at 10 %; C sold P on Oct 2 (open_collab), partnered with S at 12 % on Oct 3,
    // sold P on Oct 4 and Oct 6 (partnership); C2 sold P on Oct 6 (open_collab)
    let mut sc = Scenario::new();
    sc.when("product.updated", CATALOGUE, product(P, S, Some("0.10")));
    pay(&mut sc, "o-open", S, P, C, "100.00", &oct(2, 0));
    partnership(&mut sc, S, C, "0.12", &oct(3, 0));
    pay(&mut sc, "o-before", S, P, C, "100.00", &oct(4, 0));
    let after = pay(&mut sc, "o-after", S, P, C, "100.00", &oct(6, 0));
    assert_eq!(rated(&after), ["0.12", "partnership", "12.00"]);
    let other = pay(&mut sc, "o-c2-after", S, P, "c-2", "100.00", &oct(6, 0));
    assert_eq!(rated(&other), ["0.10", "open_collab", "10.00"]);

    // when S's pauses of Oct 5 with C and with C2 arrive only now
    let paused = sc.when("partnership.paused", &oct(5, 0), pair_event(S, C));
    let paused_c2 = sc.when("partnership.paused", &oct(5, 0), pair_event(S, "c-2"));

    // then only the order made before the pause is paid out; the orders made after it earn 0
    // (O2.2, whatever the arrival order), as if the pause had been known: adjusted to 0, and
    // nothing is payable at settlement
    assert_eq!(orders_in(&paused, "commission.payable"), ["o-before"]);
    assert_eq!(orders_in(&paused, "commission.adjusted"), ["o-after"]);
    let zeroed = first(&paused, "commission.adjusted");
    assert_eq!(
        [&zeroed["amount"], &zeroed["shop_ads_amount"], &zeroed["delta"]].map(text),
        ["0.00", "0.00", "-12.00"]
    );
    assert_eq!(types(&paused_c2), ["commission.adjusted"]);
    assert_eq!(first(&paused_c2, "commission.adjusted")["delta"], "-10.00");
    assert!(settle(&mut sc, "o-after", &oct(7, 0)).is_empty());
    assert!(settle(&mut sc, "o-c2-after", &oct(7, 0)).is_empty());
    assert_eq!(state_of(&sc, "o-after"), CommissionState::Closed);
    // a later refund does not bring the commission back
    assert!(
        sc.when("order.refunded", &oct(8, 0), refund("o-after", "10.00"))
            .is_empty()
    );
    // and the open-collaboration order made before the pause is paid as usual
    let settled = settle(&mut sc, "o-open", &oct(7, 0));
    assert_eq!(first(&settled, "commission.payable")["amount"], "10.00");
}

// ---------------------------------------------------------------------------
// V4 — disputes
// ---------------------------------------------------------------------------

fn open_dispute(sc: &mut Scenario, id: &str, seller: &str, creator: &str, at: &str) -> Vec<OutcomeData> {
    sc.when(
        "dispute.opened",
        at,
        json!({ "dispute_id": id, "seller_id": seller, "creator_id": creator }),
    )
}

fn resolve_dispute(sc: &mut Scenario, id: &str, cancelled: &[&str], at: &str) -> Vec<OutcomeData> {
    sc.when(
        "dispute.resolved",
        at,
        json!({ "dispute_id": id, "cancelled_order_ids": cancelled }),
    )
}

#[test]
fn a_dispute_holds_the_pairs_commissions_then_cancels_the_listed_ones_and_releases_the_rest() {
    // given S–C partnership commissions o-1, o-2, o-3 (Oct 3) and an open dispute (Oct 4);
    // o-1 and o-2 settle while it is open; o-4 is paid and settled while it is open
    let mut sc = Scenario::new();
    sc.when("product.updated", CATALOGUE, product(P, S, Some("0.10")));
    partnership(&mut sc, S, C, "0.12", &oct(1, 0));
    for o in ["o-1", "o-2", "o-3"] {
        pay(&mut sc, o, S, P, C, "100.00", &oct(3, 0));
    }
    assert!(open_dispute(&mut sc, "d-1", S, C, &oct(4, 0)).is_empty());
    assert!(settle(&mut sc, "o-1", &oct(5, 0)).is_empty());
    assert!(settle(&mut sc, "o-2", &oct(5, 0)).is_empty());
    pay(&mut sc, "o-4", S, P, C, "100.00", &oct(6, 0));
    assert!(settle(&mut sc, "o-4", &oct(7, 0)).is_empty());

    // when the dispute is resolved cancelling o-1
    let out = resolve_dispute(&mut sc, "d-1", &["o-1"], &oct(8, 0));

    // then o-1 is cancelled (dispute), the settled o-2 and o-4 become payable, o-3 stays pending
    assert_eq!(orders_in(&out, "commission.cancelled"), ["o-1"]);
    assert_eq!(first(&out, "commission.cancelled")["reason"], "dispute");
    assert_eq!(orders_in(&out, "commission.payable"), ["o-2", "o-4"]);
    assert_eq!(field_of(&out, "commission.payable", "reason"), ["settled", "settled"]);
    assert_eq!(state_of(&sc, "o-3"), CommissionState::Pending);
    assert_eq!(types(&settle(&mut sc, "o-3", &oct(9, 0))), ["commission.payable"]);
}

#[test]
fn a_dispute_resolution_arriving_before_its_opening_applies_when_the_dispute_opens() {
    // given S–C partnership commissions o-1 and o-2, and the resolution of d-1 (cancelling o-1)
    // arriving before its opening
    let mut sc = Scenario::new();
    sc.when("product.updated", CATALOGUE, product(P, S, Some("0.10")));
    partnership(&mut sc, S, C, "0.12", &oct(1, 0));
    pay(&mut sc, "o-1", S, P, C, "100.00", &oct(3, 0));
    pay(&mut sc, "o-2", S, P, C, "100.00", &oct(3, 0));
    let early = resolve_dispute(&mut sc, "d-1", &["o-1"], &oct(8, 0));
    assert!(early.is_empty(), "{:?}", types(&early));

    // when the dispute.opened arrives
    let out = open_dispute(&mut sc, "d-1", S, C, &oct(4, 0));

    // then o-1 is cancelled (dispute) and o-2 is released: payable on settlement
    assert_eq!(types(&out), ["commission.cancelled"]);
    assert_eq!(first(&out, "commission.cancelled")["order_id"], "o-1");
    assert_eq!(first(&out, "commission.cancelled")["reason"], "dispute");
    assert!(commission_of(&sc, "o-2").held_by.is_empty());
    assert_eq!(types(&settle(&mut sc, "o-2", &oct(9, 0))), ["commission.payable"]);
}

#[test]
fn a_listed_order_already_payable_is_clawed_back() {
    // given an S–C partnership commission made payable before a dispute opened
    let mut sc = Scenario::new();
    sc.when("product.updated", CATALOGUE, product(P, S, Some("0.10")));
    partnership(&mut sc, S, C, "0.12", &oct(1, 0));
    pay(&mut sc, "o-1", S, P, C, "100.00", &oct(3, 0));
    settle(&mut sc, "o-1", &oct(3, 12));
    open_dispute(&mut sc, "d-1", S, C, &oct(4, 0));

    // when the resolution lists it
    let out = resolve_dispute(&mut sc, "d-1", &["o-1"], &oct(5, 0));

    // then its 12.00 is clawed back (decision 13), without commission.cancelled
    assert_eq!(types(&out), ["commission.clawback"]);
    assert_eq!(first(&out, "commission.clawback")["amount"], "12.00");
    let c = commission_of(&sc, "o-1");
    assert_eq!(c.state, CommissionState::Cancelled(CancelReason::Dispute));
    assert_eq!(c.paid_out, Decimal::ZERO);
}

// ---------------------------------------------------------------------------
// V5 — other sellers
// ---------------------------------------------------------------------------

#[test]
fn one_sellers_pause_or_dispute_leaves_other_sellers_connections_unchanged() {
    // given C partnered at 12 % with s-a, s-b and s-c, with a pending commission each
    let mut sc = Scenario::new();
    for seller in ["s-a", "s-b", "s-c"] {
        sc.when(
            "product.updated",
            CATALOGUE,
            product(&format!("p-{seller}"), seller, Some("0.10")),
        );
        partnership(&mut sc, seller, C, "0.12", &oct(1, 0));
        pay(
            &mut sc,
            &format!("o-{seller}"),
            seller,
            &format!("p-{seller}"),
            C,
            "100.00",
            &oct(3, 0),
        );
    }

    // when s-a pauses and s-b opens a dispute
    let paused = sc.when("partnership.paused", &oct(4, 0), pair_event("s-a", C));
    let disputed = open_dispute(&mut sc, "d-1", "s-b", C, &oct(4, 0));

    // then only s-a's commission is paid out and nothing else happens
    assert_eq!(orders_in(&paused, "commission.payable"), ["o-s-a"]);
    assert!(disputed.is_empty(), "{:?}", types(&disputed));

    // and s-c keeps its partnership rate and pays on settlement; s-b keeps its rate but holds payment
    let c_later = pay(&mut sc, "o-s-c-2", "s-c", "p-s-c", C, "100.00", &oct(5, 0));
    let b_later = pay(&mut sc, "o-s-b-2", "s-b", "p-s-b", C, "100.00", &oct(5, 0));
    let a_later = pay(&mut sc, "o-s-a-2", "s-a", "p-s-a", C, "100.00", &oct(5, 0));
    assert_eq!(rated(&c_later), ["0.12", "partnership", "12.00"]);
    assert_eq!(rated(&b_later), ["0.12", "partnership", "12.00"]);
    assert_eq!(rated(&a_later), ["0", "connection_paused", "0.00"]);
    assert_eq!(types(&settle(&mut sc, "o-s-c", &oct(6, 0))), ["commission.payable"]);
    assert!(settle(&mut sc, "o-s-b", &oct(6, 0)).is_empty());
    partnership(&mut sc, "s-d", C, "0.10", &oct(6, 0));
}

// ---------------------------------------------------------------------------
// V6 — platform block
// ---------------------------------------------------------------------------

#[test]
fn a_platform_block_cancels_every_pending_commission_and_zeroes_everything_after() {
    // given C's pending open_collab (s-open), partnership (s-partner) and campaign (s-camp)
    // commissions, and a payable one (s-paid)
    let mut sc = Scenario::new();
    for (p, seller) in [
        ("p-open", "s-open"),
        ("p-partner", "s-partner"),
        ("p-camp", "s-camp"),
        ("p-paid", "s-paid"),
    ] {
        sc.when("product.updated", CATALOGUE, product(p, seller, Some("0.10")));
    }
    partnership(&mut sc, "s-partner", C, "0.12", &oct(1, 0));
    campaign(
        &mut sc,
        "k-1",
        "s-camp",
        K_START,
        K_END,
        &[("p-camp", Some("0.20"), None)],
    );
    campaign(
        &mut sc,
        "k-2",
        "s-camp",
        K_START,
        K_END,
        &[("p-camp", Some("0.20"), None)],
    );
    join(&mut sc, "k-1", C, &oct(1, 0));
    pay(&mut sc, "o-open", "s-open", "p-open", C, "100.00", &oct(3, 0));
    pay(&mut sc, "o-partner", "s-partner", "p-partner", C, "100.00", &oct(3, 0));
    pay(&mut sc, "o-camp", "s-camp", "p-camp", C, "100.00", &oct(3, 0));
    pay(&mut sc, "o-paid", "s-paid", "p-paid", C, "100.00", &oct(3, 0));
    settle(&mut sc, "o-paid", &oct(4, 0));

    // when C is platform-blocked on Oct 10
    let out = sc.when(
        "creator.platform_blocked",
        &oct(10, 0),
        json!({ "creator_id": C, "reason": "fraud" }),
    );

    // then every pending commission is cancelled (platform_blocked); the payable one is untouched
    assert_eq!(
        types(&out),
        ["commission.cancelled", "commission.cancelled", "commission.cancelled"]
    );
    assert_eq!(
        orders_in(&out, "commission.cancelled"),
        ["o-camp", "o-open", "o-partner"]
    );
    assert_eq!(
        field_of(&out, "commission.cancelled", "reason"),
        ["platform_blocked", "platform_blocked", "platform_blocked"]
    );
    assert_eq!(state_of(&sc, "o-paid"), CommissionState::Payable);

    // and later orders earn 0 everywhere; partnerships and joins are rejected; a second block is no news
    for (o, seller, p) in [
        ("o-2", "s-open", "p-open"),
        ("o-3", "s-partner", "p-partner"),
        ("o-4", "s-camp", "p-camp"),
    ] {
        assert_eq!(
            rated(&pay(&mut sc, o, seller, p, C, "100.00", &oct(11, 0))),
            ["0", "platform_blocked", "0.00"]
        );
    }
    let partnered = sc.when(
        "partnership.established",
        &oct(12, 0),
        json!({ "seller_id": "s-new", "creator_id": C, "commission_rate": "0.12" }),
    );
    assert_eq!(first(&partnered, "partnership.rejected")["reason"], "platform_blocked");
    let joined = sc.when(
        "creator.join_requested",
        &oct(12, 0),
        json!({ "campaign_id": "k-2", "creator_id": C }),
    );
    assert_eq!(first(&joined, "participation.rejected")["reason"], "platform_blocked");
    let again = sc.when(
        "creator.platform_blocked",
        &oct(13, 0),
        json!({ "creator_id": C, "reason": "again" }),
    );
    assert!(again.is_empty(), "{:?}", types(&again));
}

#[test]
fn an_order_paid_before_a_platform_block_but_applied_after_it_ends_cancelled() {
    // given P open at 10 % and C's platform block of Oct 10 already applied
    let mut sc = Scenario::new();
    sc.when("product.updated", CATALOGUE, product(P, S, Some("0.10")));
    sc.when(
        "creator.platform_blocked",
        &oct(10, 0),
        json!({ "creator_id": C, "reason": "fraud" }),
    );

    // when an order paid on Oct 5 arrives
    let out = pay(&mut sc, "o-1", S, P, C, "100.00", &oct(5, 0));

    // then it is accrued as of Oct 5 and cancelled by the block
    assert_eq!(types(&out), ["commission.accrued", "commission.cancelled"]);
    assert_eq!(rated(&out), ["0.10", "open_collab", "10.00"]);
    assert_eq!(first(&out, "commission.cancelled")["reason"], "platform_blocked");
}

// ---------------------------------------------------------------------------
// V7 — partnership as reactivation
// ---------------------------------------------------------------------------

#[test]
fn a_partnership_reactivates_a_demoted_creator_with_that_seller_only() {
    // given C demoted on Oct 2, selling for s-1 and s-2 on open collaboration
    let mut sc = Scenario::new();
    sc.when("product.updated", CATALOGUE, product(P, S, Some("0.10")));
    sc.when("product.updated", CATALOGUE, product("p-2", "s-2", Some("0.10")));
    violation(&mut sc, "v-1", C, &oct(2, 0));
    let before = pay(&mut sc, "o-1", S, P, C, "100.00", &oct(3, 0));
    assert_eq!(rated(&before), ["0", "demoted", "0.00"]);

    // when s-1 establishes a partnership at 12 % on Oct 4
    let out = sc.when(
        "partnership.established",
        &oct(4, 0),
        json!({ "seller_id": S, "creator_id": C, "commission_rate": "0.12" }),
    );

    // then it is accepted; s-1's later orders earn 12 %, s-2's still 0 (demoted)
    assert_eq!(
        first(&out, "partnership.accepted"),
        json!({ "seller_id": S, "creator_id": C })
    );
    let with_partner = pay(&mut sc, "o-2", S, P, C, "100.00", &oct(5, 0));
    let elsewhere = pay(&mut sc, "o-3", "s-2", "p-2", C, "100.00", &oct(5, 0));
    assert_eq!(rated(&with_partner), ["0.12", "partnership", "12.00"]);
    assert_eq!(rated(&elsewhere), ["0", "demoted", "0.00"]);
}

// ---------------------------------------------------------------------------
// Worked example 3
// ---------------------------------------------------------------------------

#[test]
fn worked_example_3_five_open_sellers_ten_partners_eight_pause_two_keep() {
    // given C with pending open-collaboration commissions from 5 sellers and pending partnership
    // commissions (12 %) with 10 others, all from Oct 1
    let mut sc = Scenario::new();
    let open: Vec<String> = (0..5).map(|i| format!("s-open-{i}")).collect();
    let partners: Vec<String> = (0..10).map(|i| format!("s-partner-{i}")).collect();
    for seller in open.iter().chain(&partners) {
        sc.when(
            "product.updated",
            CATALOGUE,
            product(&format!("p-{seller}"), seller, Some("0.10")),
        );
    }
    for seller in &partners {
        partnership(&mut sc, seller, C, "0.12", &oct(1, 0));
    }
    for seller in open.iter().chain(&partners) {
        pay(
            &mut sc,
            &format!("o-{seller}"),
            seller,
            &format!("p-{seller}"),
            C,
            "100.00",
            &oct(1, 12),
        );
    }

    // when a violation is reported on Oct 5
    let out = violation(&mut sc, "v-1", C, &oct(5, 0));

    // then the 5 open sellers' commissions are cancelled and the 10 partners are notified
    let mut expected_cancelled: Vec<String> = open.iter().map(|s| format!("o-{s}")).collect();
    expected_cancelled.sort();
    assert_eq!(orders_in(&out, "commission.cancelled"), expected_cancelled);
    let mut expected_notified = partners.clone();
    expected_notified.sort();
    assert_eq!(
        field_of(&out, "seller.violation_notice", "seller_id"),
        expected_notified
    );

    // and when 8 partners pause, each one's pending commission becomes payable
    let (pausing, keeping) = partners.split_at(8);
    for seller in pausing {
        let paused = sc.when("partnership.paused", &oct(6, 0), pair_event(seller, C));
        assert_eq!(orders_in(&paused, "commission.payable"), [format!("o-{seller}")]);
        assert_eq!(first(&paused, "commission.payable")["reason"], "connection_paused");
    }

    // then later orders earn 0 (demoted) with the open sellers, 0 (connection_paused) with the
    // 8, and 12 % with the 2 who did nothing, whose earlier commissions are still pending
    for seller in &open {
        let later = pay(
            &mut sc,
            &format!("o2-{seller}"),
            seller,
            &format!("p-{seller}"),
            C,
            "100.00",
            &oct(7, 0),
        );
        assert_eq!(rated(&later), ["0", "demoted", "0.00"]);
    }
    for seller in pausing {
        let later = pay(
            &mut sc,
            &format!("o2-{seller}"),
            seller,
            &format!("p-{seller}"),
            C,
            "100.00",
            &oct(7, 0),
        );
        assert_eq!(rated(&later), ["0", "connection_paused", "0.00"]);
    }
    for seller in keeping {
        let later = pay(
            &mut sc,
            &format!("o2-{seller}"),
            seller,
            &format!("p-{seller}"),
            C,
            "100.00",
            &oct(7, 0),
        );
        assert_eq!(rated(&later), ["0.12", "partnership", "12.00"]);
        assert_eq!(state_of(&sc, &format!("o-{seller}")), CommissionState::Pending);
        let settled = settle(&mut sc, &format!("o-{seller}"), &oct(8, 0));
        assert_eq!(first(&settled, "commission.payable")["reason"], "settled");
    }
}

// ---------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------

/// One event of an order's life, for the properties.
#[derive(Clone, Debug)]
enum OrderEvent {
    Paid,
    Refunded(i64),
    Cancelled,
    Settled,
}

/// How a delivery repeats an event: not at all, with the same event id, or
/// with a new event id.
#[derive(Clone, Copy, Debug)]
enum Repeat {
    No,
    SameId,
    NewId,
}

/// An event ready to apply: (event id, type, time, data).
type Delivery = (String, &'static str, String, Value);

fn time_plus_minutes(base: &str, minutes: i64) -> String {
    (time(base) + Duration::minutes(minutes)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// P open at 10 % with 5 % shop ads and C's ads-authorized content, so that
/// every order earns a commission and a shop-ads commission.
fn order_world() -> Scenario {
    let mut sc = Scenario::new();
    sc.when(
        "product.updated",
        CATALOGUE,
        shop_product(P, S, Some("0.10"), Some("0.05")),
    );
    sc.when("content.posted", &oct(1, 0), content("v-1", C, P, true));
    sc
}

fn apply_all(sc: &mut Scenario, deliveries: &[Delivery]) {
    for (id, kind, at, data) in deliveries {
        sc.apply_as(id, kind, at, data.clone());
    }
}

/// What the final state of a commission says, for comparisons: its state,
/// its amounts while it is not cancelled, and what is paid out. A cancelled
/// commission's amounts are never published again nor paid: whether a refund
/// was folded into them before the cancellation depends on which arrived
/// first (a refund arriving after the cancellation is ignored), so they are
/// left out.
fn final_view(sc: &Scenario, order: &str) -> (CommissionState, Option<(Decimal, Decimal)>, Decimal) {
    let c = commission_of(sc, order);
    let amounts = match c.state {
        CommissionState::Cancelled(_) => None,
        _ => Some((c.amount, c.shop_ads_amount)),
    };
    (c.state, amounts, c.paid_out)
}

/// An order's history: its amount in cents, then its facts in time order.
///
/// Restrictions, each because the spec/decisions make the final state
/// legitimately depend on arrival order once an outcome has been published
/// (outcomes are never retracted, only compensated):
/// - refunds total at most 3/4 of the amount (and the amount is at least
///   4.00), so the base never reaches 0 and the commission never rounds to 0:
///   a settlement arriving before an earlier refund that empties the base
///   publishes `commission.payable` and the refund then claws it back (state
///   payable, nothing owed), whereas in time order the refund cancels the
///   commission (`order_refunded`) and the settlement finds nothing to pay;
///   likewise a zero commission is `Closed` at settlement in time order but
///   payable-then-clawed-back when the settlement arrives first; and when both
///   a full refund and a cancellation happen, the reason of
///   `commission.cancelled` is that of whichever arrives first;
/// - refunds are not redelivered with the same event id: refunds accumulate
///   (decision 10), and deduplication by event id is the shell inbox's job
///   (decision 25), not the domain's. `order.paid`, `order.cancelled` and
///   `order.settled` are idempotent in the domain (decision 10) and are
///   redelivered with both the same and new event ids.
fn order_history() -> impl Strategy<Value = (i64, Vec<OrderEvent>)> {
    (400i64..=100_000).prop_flat_map(|amount| {
        let refunds = proptest::collection::vec((1..=amount / 4).prop_map(OrderEvent::Refunded), 0..=3);
        let facts = (refunds, any::<bool>(), any::<bool>())
            .prop_map(|(mut facts, cancelled, settled)| {
                if cancelled {
                    facts.push(OrderEvent::Cancelled);
                }
                if settled {
                    facts.push(OrderEvent::Settled);
                }
                facts
            })
            .prop_shuffle();
        (Just(amount), facts)
    })
}

fn repeat() -> impl Strategy<Value = Repeat> {
    prop_oneof![Just(Repeat::No), Just(Repeat::SameId), Just(Repeat::NewId)]
}

/// The deliveries of an order's history in time order (paid first, each fact
/// an hour after the previous one), each with its event id.
fn deliveries(amount: i64, facts: &[OrderEvent]) -> Vec<(Delivery, bool)> {
    let paid_at = oct(5, 0);
    let mut events = vec![OrderEvent::Paid];
    events.extend(facts.iter().cloned());
    events
        .iter()
        .enumerate()
        .map(|(i, event)| {
            let at = time_plus_minutes(&paid_at, 60 * i as i64);
            let id = format!("ev-{i}");
            let (kind, data, repeatable) = match event {
                OrderEvent::Paid => (
                    "order.paid",
                    via_ads(order("o-1", S, P, Some(C), &money_text(amount)), Some("v-1")),
                    true,
                ),
                OrderEvent::Refunded(cents) => ("order.refunded", refund("o-1", &money_text(*cents)), false),
                OrderEvent::Cancelled => ("order.cancelled", order_ref("o-1"), true),
                OrderEvent::Settled => ("order.settled", order_ref("o-1"), true),
            };
            ((id, kind, at, data), repeatable)
        })
        .collect()
}

/// Checks, per commission, the outcome stream against the final state:
/// payable at most once and never after a cancellation; never
/// `commission.cancelled` after payable (decision 6: a clawback instead);
/// clawbacks only of what was made payable; what is paid out is what was made
/// payable minus what was clawed back; and a commission that ends cancelled
/// after being payable had all of it clawed back.
fn check_commission_streams(sc: &Scenario) -> Result<(), TestCaseError> {
    #[derive(Default)]
    struct Ledger {
        order: Option<String>,
        payable: Option<Decimal>,
        cancelled: bool,
        clawed_back: Decimal,
    }
    let mut ledgers: BTreeMap<String, Ledger> = BTreeMap::new();
    for outcome in &sc.outcomes {
        match outcome {
            OutcomeData::CommissionAccrued(a) => {
                let ledger = ledgers.entry(a.commission_id.clone()).or_default();
                prop_assert!(ledger.order.is_none(), "accrued twice: {}", a.order_id);
                ledger.order = Some(a.order_id.to_string());
            }
            OutcomeData::CommissionPayable(p) => {
                let ledger = ledgers.entry(p.commission_id.clone()).or_default();
                prop_assert!(ledger.payable.is_none(), "payable twice: {}", p.order_id);
                prop_assert!(!ledger.cancelled, "payable after cancelled: {}", p.order_id);
                ledger.payable = Some(p.amount + p.shop_ads_amount);
            }
            OutcomeData::CommissionCancelled(c) => {
                let ledger = ledgers.entry(c.commission_id.clone()).or_default();
                prop_assert!(ledger.payable.is_none(), "cancelled after payable: {}", c.order_id);
                prop_assert!(!ledger.cancelled, "cancelled twice: {}", c.order_id);
                ledger.cancelled = true;
            }
            OutcomeData::CommissionClawback(k) => {
                let ledger = ledgers.entry(k.commission_id.clone()).or_default();
                let paid = ledger.payable.unwrap_or_default();
                ledger.clawed_back += k.amount;
                prop_assert!(k.amount > Decimal::ZERO, "empty clawback: {}", k.order_id);
                prop_assert!(ledger.clawed_back <= paid, "clawed back more than paid: {}", k.order_id);
            }
            _ => {}
        }
    }
    for (id, ledger) in ledgers {
        let order = ledger
            .order
            .unwrap_or_else(|| panic!("commission {id} has outcomes but was never accrued"));
        let c = commission_of(sc, &order);
        let paid = ledger.payable.unwrap_or_default();
        prop_assert_eq!(c.paid_out, paid - ledger.clawed_back, "paid out of {}", order);
        if matches!(c.state, CommissionState::Cancelled(_)) {
            prop_assert_eq!(ledger.clawed_back, paid, "{} ends cancelled with money paid out", order);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// O8 and decision 10: whatever the arrival order, and with repeated
    /// deliveries, an order's commission ends as if its events had arrived in
    /// time order once each.
    #[test]
    fn an_orders_commission_ends_the_same_whatever_the_arrival_order_and_repeats(
        (amount, facts) in order_history(),
        repeats in proptest::collection::vec(repeat(), 6),
        arrival_keys in proptest::collection::vec(any::<u64>(), 12),
    ) {
        // given the order's events in time order, once each
        let in_time_order = deliveries(amount, &facts);
        let mut reference = order_world();
        let once: Vec<Delivery> = in_time_order.iter().map(|(d, _)| d.clone()).collect();
        apply_all(&mut reference, &once);

        // when the same events, some repeated, arrive shuffled
        let mut shuffled: Vec<Delivery> = once.clone();
        for (((id, kind, at, data), repeatable), repeat) in in_time_order.iter().zip(&repeats) {
            match (repeatable, repeat) {
                (true, Repeat::SameId) => shuffled.push((id.clone(), kind, at.clone(), data.clone())),
                (true, Repeat::NewId) => shuffled.push((format!("{id}-again"), kind, at.clone(), data.clone())),
                _ => {}
            }
        }
        let mut keyed: Vec<(u64, Delivery)> = arrival_keys.iter().copied().zip(shuffled).collect();
        keyed.sort_by_key(|(key, _)| *key);
        let arrived: Vec<Delivery> = keyed.into_iter().map(|(_, d)| d).collect();
        let mut sc = order_world();
        apply_all(&mut sc, &arrived);

        // then the commission ends in the same state, with the same amounts and payout
        let arrival: Vec<(&str, &str)> = arrived.iter().map(|d| (d.1, d.2.as_str())).collect();
        prop_assert_eq!(final_view(&sc, "o-1"), final_view(&reference, "o-1"), "arrived as {:?}", arrival);
        check_commission_streams(&sc)?;
        check_commission_streams(&reference)?;
    }
}

/// One order of the enforcement property: seller index (0 = s-a, 1 = s-b),
/// paid offset (hours), amount (cents), refunds (offset after paid, cents),
/// cancellation and settlement offsets after paid.
type OrderPlan = (usize, i64, i64, Vec<(i64, i64)>, Option<i64>, Option<i64>);

fn order_plan() -> impl Strategy<Value = OrderPlan> {
    (0usize..2, 0i64..200, 1i64..20_000).prop_flat_map(|(seller, paid, amount)| {
        (
            Just(seller),
            Just(paid),
            Just(amount),
            proptest::collection::vec((0i64..100, 1..=amount), 0..=2),
            proptest::option::of(0i64..100),
            proptest::option::of(0i64..100),
        )
    })
}

/// Enforcement facts of the property, each at an optional offset (hours):
/// partnership s-a–C, violation, pause s-a–C, block, and a dispute on s-a or
/// s-b (opened, resolved after it, listing some of the orders).
type EnforcementPlan = (
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<(usize, i64, Option<i64>, Vec<bool>)>,
);

fn enforcement_plan() -> impl Strategy<Value = EnforcementPlan> {
    let at = || proptest::option::of(0i64..250);
    let dispute = proptest::option::of((
        0usize..2,
        0i64..250,
        proptest::option::of(0i64..100),
        proptest::collection::vec(any::<bool>(), 4),
    ));
    (at(), at(), at(), at(), dispute)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// O6, V1–V6: whatever happens in whatever arrival order, no commission
    /// ends both payable and cancelled unless a clawback records it.
    #[test]
    fn no_commission_is_both_paid_and_cancelled_without_a_clawback(
        orders in proptest::collection::vec(order_plan(), 1..=4),
        (partnership_at, violation_at, pause_at, block_at, dispute) in enforcement_plan(),
        arrival_keys in proptest::collection::vec(any::<u64>(), 40),
    ) {
        // given two sellers on open collaboration (10 %, 5 % shop ads) and C's authorized content
        let base = oct(1, 0);
        let at = |hours: i64| time_plus_minutes(&base, 60 * hours);
        let sellers = ["s-a", "s-b"];
        let mut sc = Scenario::new();
        for seller in sellers {
            let p = shop_product(&format!("p-{seller}"), seller, Some("0.10"), Some("0.05"));
            sc.when("product.updated", CATALOGUE, p);
        }
        sc.when("content.posted", CATALOGUE, content("v-1", C, "p-s-a", true));

        // when the orders' events and the enforcement facts arrive in random order
        let mut events: Vec<(&'static str, String, Value)> = Vec::new();
        for (i, (seller, paid, amount, refunds, cancel, settled)) in orders.iter().enumerate() {
            let id = format!("o-{i}");
            let seller = sellers[*seller];
            let o = via_ads(order(&id, seller, &format!("p-{seller}"), Some(C), &money_text(*amount)), Some("v-1"));
            events.push(("order.paid", at(*paid), o));
            for (after, cents) in refunds {
                events.push(("order.refunded", at(paid + after), refund(&id, &money_text(*cents))));
            }
            if let Some(after) = cancel {
                events.push(("order.cancelled", at(paid + after), order_ref(&id)));
            }
            if let Some(after) = settled {
                events.push(("order.settled", at(paid + after), order_ref(&id)));
            }
        }
        if let Some(t) = partnership_at {
            let data = json!({ "seller_id": "s-a", "creator_id": C, "commission_rate": "0.12" });
            events.push(("partnership.established", at(t), data));
        }
        if let Some(t) = violation_at {
            let data = json!({ "violation_id": "v-1", "creator_id": C, "guideline": "g" });
            events.push(("creator.violation_reported", at(t), data));
        }
        if let Some(t) = pause_at {
            events.push(("partnership.paused", at(t), pair_event("s-a", C)));
        }
        if let Some(t) = block_at {
            events.push(("creator.platform_blocked", at(t), json!({ "creator_id": C, "reason": "fraud" })));
        }
        if let Some((seller, opened, resolved, listed)) = &dispute {
            let data = json!({ "dispute_id": "d-1", "seller_id": sellers[*seller], "creator_id": C });
            events.push(("dispute.opened", at(*opened), data));
            if let Some(after) = resolved {
                let cancelled: Vec<String> = listed
                    .iter()
                    .enumerate()
                    .filter(|(_, l)| **l)
                    .map(|(i, _)| format!("o-{i}"))
                    .collect();
                let data = json!({ "dispute_id": "d-1", "cancelled_order_ids": cancelled });
                events.push(("dispute.resolved", at(opened + after), data));
            }
        }
        let mut keyed: Vec<(u64, usize)> = arrival_keys.iter().copied().zip(0..events.len()).collect();
        keyed.sort();
        for (_, i) in keyed {
            let (kind, at, data) = &events[i];
            sc.apply_as(&format!("ev-{i}"), kind, at, data.clone());
        }

        // then every commission's outcome stream agrees with its final state
        check_commission_streams(&sc)?;
    }
}

#[test]
fn the_commission_stream_check_accepts_a_clawed_back_cancellation() {
    // given a payable commission whose order is then cancelled
    let mut sc = shop_ads_order();
    settle(&mut sc, "o-1", &oct(4, 0));
    sc.when("order.cancelled", &oct(5, 0), order_ref("o-1"));

    // when the stream is checked
    let checked = check_commission_streams(&sc);

    // then it holds: the cancellation after payable is recorded by a clawback
    assert!(checked.is_ok(), "{checked:?}");
    let ids: BTreeSet<String> = all(&sc.outcomes, "commission.clawback")
        .iter()
        .map(|c| text(&c["commission_id"]))
        .collect();
    assert_eq!(ids.len(), 1);
}
