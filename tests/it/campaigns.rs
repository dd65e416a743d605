//! The campaign lifecycle end to end: submission (C1–C11), payment (P1–P3),
//! the campaign clock (K1–K3, K5–K7), recall (R1–R2) and creator groups
//! (G1–G2), against the real worker, PostgreSQL and RabbitMQ.
//!
//! Business time comes only from event `time` and tick `now`, so every time
//! here is explicit. What an event decided is read from the outcomes whose
//! `causationid` is its id; absence is asserted after a marker event (sent
//! later, processed later: the worker applies one queue in order) has had
//! its own outcome.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::common::*;

/// Reference data (products, groups, creators) is known from here on.
const SETUP: &str = "2027-02-01T00:00:00Z";
/// The usual submission time.
const T0: &str = "2027-03-01T00:00:00Z";
/// The usual payment time (same month as the start: no extra fee).
const PAID: &str = "2027-03-01T12:00:00Z";
/// T0 + 24 h: `payment_due_at` of a campaign submitted at T0.
const DUE: &str = "2027-03-02T00:00:00Z";
const STARTS: &str = "2027-03-10T00:00:00Z";
const ENDS: &str = "2027-03-30T00:00:00Z";

// ---------------------------------------------------------------------------
// Time
// ---------------------------------------------------------------------------

fn time(raw: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(raw)
        .unwrap_or_else(|e| panic!("bad test time {raw}: {e}"))
        .with_timezone(&Utc)
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `raw` shifted by `d`.
fn plus(raw: &str, d: Duration) -> String {
    iso(time(raw) + d)
}

/// A time field of an outcome.
fn time_of(v: &Value) -> DateTime<Utc> {
    time(v.as_str().unwrap_or_else(|| panic!("not a time: {v}")))
}

// ---------------------------------------------------------------------------
// Reference data
// ---------------------------------------------------------------------------

fn group(seller: &str, id: &str, criteria: Value) -> Value {
    json!({ "seller_id": seller, "group_id": id, "name": format!("group {id}"), "criteria": criteria })
}

/// Level 5, 5 000 followers, beauty and home, video, 12 %, low risk.
fn creator(id: &str) -> Value {
    json!({
        "creator_id": id, "level": 5, "followers": 5000, "categories": ["beauty", "home"],
        "content_types": ["video"], "avg_commission_rate": "0.12", "fake_order_risk": "low"
    })
}

fn with(mut v: Value, key: &str, value: Value) -> Value {
    v[key] = value;
    v
}

/// `{seller}-p1` and `{seller}-p2` (not on open collaboration) and the group
/// `g1` matching every described creator, known since SETUP.
async fn given_seller(env: &TestEnv, seller: &str) {
    for p in ["p1", "p2"] {
        let id = format!("{seller}-{p}");
        env.send(
            &format!("setup-{id}"),
            "product.updated",
            SETUP,
            product(&id, seller, None),
        )
        .await;
    }
    env.send(
        &format!("setup-{seller}-g1"),
        "creator_group.saved",
        SETUP,
        group(seller, "g1", json!({})),
    )
    .await;
}

async fn given_creator(env: &TestEnv, profile: Value, at: &str) {
    let id = profile["creator_id"].as_str().unwrap_or("?").to_owned();
    env.send(&format!("creator-{id}-{at}"), "creator.updated", at, profile)
        .await;
}

// ---------------------------------------------------------------------------
// Campaigns
// ---------------------------------------------------------------------------

/// A valid task campaign of `seller`: budget 100.00, reward 30.00 (capacity
/// 3), one content task, product `{seller}-p1`, group g1, STARTS–ENDS.
fn task(id: &str, seller: &str) -> Value {
    json!({
        "campaign_id": id, "seller_id": seller, "type": "task", "title": format!("task {id}"),
        "starts_at": STARTS, "ends_at": ENDS, "creator_group_id": "g1", "currency": "USD",
        "budget": "100.00", "prompt_ads_authorization": false,
        "products": [ { "product_id": format!("{seller}-p1"), "free_sample": false } ],
        "task": { "reward": "30.00", "tasks": [ { "kind": "content", "content_type": "any", "target": 1 } ] }
    })
}

/// A valid challenge of `seller`: rank 1 gets 50.00, ranks 2–3 25.00 each
/// (budget 100.00); ranked by video orders, at least 1.
fn challenge(id: &str, seller: &str) -> Value {
    json!({
        "campaign_id": id, "seller_id": seller, "type": "challenge", "title": format!("challenge {id}"),
        "starts_at": STARTS, "ends_at": ENDS, "creator_group_id": "g1", "currency": "USD",
        "budget": "100.00", "prompt_ads_authorization": false,
        "products": [ { "product_id": format!("{seller}-p1"), "free_sample": false } ],
        "challenge": {
            "metric": "orders", "content_types": ["video"], "min_value": 1,
            "rank_rewards": [
                { "from_rank": 1, "to_rank": 1, "amount_each": "50.00" },
                { "from_rank": 2, "to_rank": 3, "amount_each": "25.00" }
            ]
        }
    })
}

/// Running from `starts` for `length`.
fn running(v: Value, starts: &str, length: Duration) -> Value {
    let v = with(v, "starts_at", json!(starts));
    with(v, "ends_at", json!(plus(starts, length)))
}

fn dated(v: Value, starts: &str, ends: &str) -> Value {
    with(with(v, "starts_at", json!(starts)), "ends_at", json!(ends))
}

fn with_task(v: Value, reward: &str, tasks: Value) -> Value {
    with(v, "task", json!({ "reward": reward, "tasks": tasks }))
}

fn content_tasks(n: usize) -> Value {
    Value::Array(
        (0..n)
            .map(|_| json!({ "kind": "content", "content_type": "any", "target": 1 }))
            .collect(),
    )
}

fn with_challenge(mut v: Value, f: impl FnOnce(&mut Value)) -> Value {
    f(&mut v["challenge"]);
    v
}

// ---------------------------------------------------------------------------
// Events (the event id doubles as the handle to what it decided)
// ---------------------------------------------------------------------------

async fn submit(env: &TestEnv, event_id: &str, at: &str, campaign: Value) {
    env.send(event_id, "campaign.submitted", at, campaign).await;
}

fn payment(payment_id: &str, campaign: &str, seller: &str, amount: &str) -> Value {
    json!({
        "payment_id": payment_id, "campaign_id": campaign, "seller_id": seller,
        "amount": amount, "currency": "USD", "method": "credit_card"
    })
}

/// `payment.succeeded` whose payment id is the event id.
async fn pay(env: &TestEnv, event_id: &str, at: &str, campaign: &str, seller: &str, amount: &str) {
    env.send(
        event_id,
        "payment.succeeded",
        at,
        payment(event_id, campaign, seller, amount),
    )
    .await;
}

async fn payment_failed(env: &TestEnv, event_id: &str, at: &str, campaign: &str, seller: &str) {
    env.send(
        event_id,
        "payment.failed",
        at,
        json!({ "payment_id": event_id, "campaign_id": campaign, "seller_id": seller, "reason": "card_declined" }),
    )
    .await;
}

async fn tick(env: &TestEnv, event_id: &str, now: &str) {
    env.send(event_id, "clock.ticked", now, json!({ "now": now })).await;
}

async fn recall(env: &TestEnv, event_id: &str, at: &str, campaign: &str, seller: &str) {
    env.send(
        event_id,
        "campaign.recall_requested",
        at,
        json!({ "campaign_id": campaign, "seller_id": seller }),
    )
    .await;
}

async fn join(env: &TestEnv, event_id: &str, at: &str, campaign: &str, who: &str) {
    env.send(
        event_id,
        "creator.join_requested",
        at,
        json!({ "campaign_id": campaign, "creator_id": who }),
    )
    .await;
}

/// Video content by `who` linking `product`.
async fn post(env: &TestEnv, event_id: &str, at: &str, who: &str, product: &str) {
    env.send(
        event_id,
        "content.posted",
        at,
        json!({
            "content_id": event_id, "creator_id": who, "content_type": "video",
            "product_ids": [product], "ads_authorized": false
        }),
    )
    .await;
}

// ---------------------------------------------------------------------------
// Reading outcomes
// ---------------------------------------------------------------------------

static MARKERS: AtomicUsize = AtomicUsize::new(0);

/// Returns once every event published so far has been applied and its
/// outcomes received: a marker (a recall of a campaign nobody knows, which
/// changes nothing) is published and its own outcome awaited.
async fn sync(env: &TestEnv) {
    let n = MARKERS.fetch_add(1, Ordering::SeqCst);
    let campaign = format!("marker-{n}");
    recall(env, &format!("marker-event-{n}"), T0, &campaign, "marker").await;
    env.outcomes
        .wait_for("campaign.recall_rejected", |d| d["campaign_id"] == campaign.as_str())
        .await;
}

/// Every outcome (envelope) an event caused, in publication order.
fn effects(env: &TestEnv, cause: &str) -> Vec<Value> {
    env.outcomes
        .distinct()
        .into_iter()
        .filter(|o| o["causationid"] == cause)
        .collect()
}

/// The outcomes an event caused for one campaign.
fn effects_on(env: &TestEnv, cause: &str, campaign: &str) -> Vec<Value> {
    effects(env, cause)
        .into_iter()
        .filter(|o| o["data"]["campaign_id"] == campaign)
        .collect()
}

fn types(outcomes: &[Value]) -> Vec<&str> {
    outcomes.iter().map(|o| o["type"].as_str().unwrap_or("?")).collect()
}

/// Data of every outcome of a type.
fn data_of<'a>(outcomes: &'a [Value], type_name: &str) -> Vec<&'a Value> {
    outcomes
        .iter()
        .filter(|o| o["type"] == type_name)
        .map(|o| &o["data"])
        .collect()
}

/// Data of the single outcome of a type.
fn one<'a>(outcomes: &'a [Value], type_name: &str) -> &'a Value {
    let found = data_of(outcomes, type_name);
    assert_eq!(found.len(), 1, "one {type_name} in {:?}", types(outcomes));
    found[0]
}

/// `refund.due` data with the given reason.
fn refunds<'a>(outcomes: &'a [Value], reason: &str) -> Vec<&'a Value> {
    data_of(outcomes, "refund.due")
        .into_iter()
        .filter(|r| r["reason"] == reason)
        .collect()
}

/// The single outcome of a submission, which must be an acceptance.
fn accepted(env: &TestEnv, cause: &str) -> Value {
    let out = effects(env, cause);
    assert_eq!(types(&out), ["campaign.accepted"], "{cause}: {out:?}");
    out[0]["data"].clone()
}

/// The (code, field) pairs of a submission's single outcome, a rejection.
fn problems(env: &TestEnv, cause: &str) -> BTreeSet<(String, String)> {
    let out = effects(env, cause);
    assert_eq!(types(&out), ["campaign.rejected"], "{cause}: {out:?}");
    out[0]["data"]["reasons"]
        .as_array()
        .unwrap_or_else(|| panic!("reasons are a list: {out:?}"))
        .iter()
        .map(|r| {
            let text = |k: &str| r[k].as_str().unwrap_or_else(|| panic!("{k} of {r}")).to_owned();
            assert!(!text("message").is_empty(), "every problem is explained: {r}");
            (text("code"), text("field"))
        })
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    expected
        .iter()
        .map(|(c, f)| ((*c).to_owned(), (*f).to_owned()))
        .collect()
}

/// The submission was rejected with exactly these problems.
fn assert_rejected(env: &TestEnv, cause: &str, expected: &[(&str, &str)]) {
    assert_eq!(problems(env, cause), pairs(expected), "{cause}");
}

/// P2: `payment.rejected` with `reason`, then the paid amount refunded to the
/// payer within 14 days; nothing else.
fn assert_payment_refunded(env: &TestEnv, cause: &str, at: &str, reason: &str, amount: &str, currency: &str) {
    let out = effects(env, cause);
    assert_eq!(types(&out), ["payment.rejected", "refund.due"], "{cause}");
    let rejected = one(&out, "payment.rejected");
    assert_eq!(rejected["payment_id"], cause);
    assert_eq!(rejected["reason"], reason, "{cause}");
    let refund = one(&out, "refund.due");
    assert_eq!(refund["to"], "seller");
    assert_eq!(refund["reason"], "payment_not_applicable");
    assert_eq!(refund["amount"], amount, "{cause}");
    assert_eq!(refund["currency"], currency, "{cause}");
    assert_eq!(time_of(&refund["due_by"]), time(at) + Duration::days(14), "{cause}");
    assert!(!refund["refund_id"].as_str().unwrap_or_default().is_empty());
}

fn assert_recall_rejected(env: &TestEnv, cause: &str, campaign: &str, seller: &str, reason: &str) {
    let out = effects(env, cause);
    assert_eq!(types(&out), ["campaign.recall_rejected"], "{cause}");
    let rejected = one(&out, "campaign.recall_rejected");
    assert_eq!(rejected["campaign_id"], campaign);
    assert_eq!(rejected["seller_id"], seller);
    assert_eq!(rejected["reason"], reason, "{cause}");
}

/// K5: the settlement of a campaign of seller s1 in USD.
fn assert_settled(settled: &Value, campaign: &str, deposit: &str, rewards: &str, refunded: &str) {
    assert_eq!(settled["campaign_id"], campaign);
    assert_eq!(settled["seller_id"], "s1");
    assert_eq!(settled["deposit"], deposit, "{campaign}");
    assert_eq!(settled["rewards_total"], rewards, "{campaign}");
    assert_eq!(settled["charged"], rewards, "{campaign}: charged = rewards_total");
    assert_eq!(settled["refunded"], refunded, "{campaign}");
    assert_eq!(settled["currency"], "USD");
}

fn assert_no_effect(env: &TestEnv, cause: &str) {
    let out = effects(env, cause);
    assert!(out.is_empty(), "{cause} has no effect, got {:?}", types(&out));
}

// ---------------------------------------------------------------------------
// C — submission
// ---------------------------------------------------------------------------

#[tokio::test]
async fn c1_c3_c5_c6_c7_c10_each_broken_rule_is_rejected_with_its_code_and_a_rejection_lists_every_problem() {
    let env = TestEnv::start().await;
    given_seller(&env, "s1").await;
    given_seller(&env, "s2").await;
    env.send(
        "setup-s2-g",
        "creator_group.saved",
        SETUP,
        group("s2", "g-s2", json!({})),
    )
    .await;
    let mut open = product("s1-open", "s1", Some("0.10"));
    open["open_collab_shop_ads_rate"] = json!("0.05");
    env.send("setup-open", "product.updated", SETUP, open).await;
    let mut off = product("s1-off", "s1", None);
    off["affiliate_eligible"] = json!(false);
    env.send("setup-off", "product.updated", SETUP, off).await;

    let products = |v: Value, list: Value| with(v, "products", list);
    let rated = |id: &str, product: &str, commission: Option<&str>, ads: Option<&str>| {
        products(
            task(id, "s1"),
            json!([{ "product_id": product, "free_sample": false, "commission_rate": commission, "shop_ads_rate": ads }]),
        )
    };

    // C1
    submit(
        &env,
        "c1-contest",
        T0,
        with(task("c1-contest", "s1"), "type", json!("contest")),
    )
    .await;
    // C3: a start exactly at the submission time is not in the past; a second earlier is.
    submit(
        &env,
        "c3-now",
        T0,
        running(task("c3-now", "s1"), T0, Duration::days(20)),
    )
    .await;
    let past = plus(T0, Duration::seconds(-1));
    submit(
        &env,
        "c3-past",
        T0,
        running(task("c3-past", "s1"), &past, Duration::days(20)),
    )
    .await;
    // C5: unknown group, another seller's group.
    submit(
        &env,
        "c5-unknown",
        T0,
        with(task("c5-unknown", "s1"), "creator_group_id", json!("nope")),
    )
    .await;
    submit(
        &env,
        "c5-theirs",
        T0,
        with(task("c5-theirs", "s1"), "creator_group_id", json!("g-s2")),
    )
    .await;
    // C6: none, twice, unknown, another seller's, not affiliate-eligible.
    submit(&env, "c6-none", T0, products(task("c6-none", "s1"), json!([]))).await;
    let twice = json!([
        { "product_id": "s1-p1", "free_sample": false },
        { "product_id": "s1-p2", "free_sample": false },
        { "product_id": "s1-p1", "free_sample": true }
    ]);
    submit(&env, "c6-twice", T0, products(task("c6-twice", "s1"), twice)).await;
    let ghost =
        json!([{ "product_id": "s1-p1", "free_sample": false }, { "product_id": "ghost", "free_sample": false }]);
    submit(&env, "c6-ghost", T0, products(task("c6-ghost", "s1"), ghost)).await;
    let theirs = json!([{ "product_id": "s2-p1", "free_sample": false }]);
    submit(&env, "c6-theirs", T0, products(task("c6-theirs", "s1"), theirs)).await;
    let off = json!([{ "product_id": "s1-off", "free_sample": false }]);
    submit(&env, "c6-off", T0, products(task("c6-off", "s1"), off)).await;
    // C7: on open collaboration at 10 % (shop ads 5 %), rates must be strictly higher;
    // otherwise in (0, 0.80].
    submit(&env, "c7-equal", T0, rated("c7-equal", "s1-open", Some("0.10"), None)).await;
    submit(
        &env,
        "c7-above",
        T0,
        rated("c7-above", "s1-open", Some("0.11"), Some("0.06")),
    )
    .await;
    submit(
        &env,
        "c7-ads-equal",
        T0,
        rated("c7-ads-equal", "s1-open", Some("0.11"), Some("0.05")),
    )
    .await;
    submit(
        &env,
        "c7-range",
        T0,
        rated("c7-range", "s1-p1", Some("0.81"), Some("0")),
    )
    .await;
    submit(&env, "c7-max", T0, rated("c7-max", "s1-p1", Some("0.80"), Some("0.80"))).await;
    // C10
    submit(
        &env,
        "c10-mills",
        T0,
        with(task("c10-mills", "s1"), "budget", json!("100.001")),
    )
    .await;
    let cents = with(
        with_task(task("c10-cents", "s1"), "12.5", content_tasks(1)),
        "budget",
        json!("25.10"),
    );
    submit(&env, "c10-cents", T0, cents).await;
    // Everything wrong at once, under the id of an accepted campaign.
    let broken = json!({
        "campaign_id": "c3-now", "seller_id": "s1", "type": "task", "title": "Everything wrong",
        "starts_at": T0, "ends_at": plus(T0, Duration::days(10)),
        "creator_group_id": "nope", "currency": "USD", "budget": "0",
        "prompt_ads_authorization": false,
        "products": [
            { "product_id": "s1-open", "free_sample": false, "commission_rate": "0.90" },
            { "product_id": "ghost", "free_sample": false }
        ],
        "task": { "reward": "0", "tasks": [ { "kind": "orders", "content_type": "any", "target": 0 } ] }
    });
    submit(&env, "c-all", &plus(T0, Duration::hours(5)), broken).await;
    // The accepted c3-now is untouched: its deposit is still 100.00.
    pay(&env, "pay-c3-now", PAID, "c3-now", "s1", "100.00").await;
    sync(&env).await;

    assert_rejected(&env, "c1-contest", &[("invalid_type", "type")]);

    let a = accepted(&env, "c3-now");
    assert_eq!(a["campaign_id"], "c3-now");
    assert_eq!(a["seller_id"], "s1");
    assert_eq!(a["type"], "task");
    assert_eq!(a["status"], "pending_payment");
    assert_eq!(time_of(&a["payment_due_at"]), time(DUE), "t + 24 h");
    assert_eq!(a["deposit"], "100.00");
    assert_eq!(a["currency"], "USD");
    assert_eq!(a["capacity"], 3);
    assert_rejected(&env, "c3-past", &[("starts_in_past", "starts_at")]);

    assert_rejected(&env, "c5-unknown", &[("unknown_creator_group", "creator_group_id")]);
    assert_rejected(&env, "c5-theirs", &[("unknown_creator_group", "creator_group_id")]);

    assert_rejected(&env, "c6-none", &[("product_not_eligible", "products")]);
    assert_rejected(&env, "c6-twice", &[("product_not_eligible", "products[2].product_id")]);
    assert_rejected(&env, "c6-ghost", &[("product_not_eligible", "products[1].product_id")]);
    assert_rejected(&env, "c6-theirs", &[("product_not_eligible", "products[0].product_id")]);
    assert_rejected(&env, "c6-off", &[("product_not_eligible", "products[0].product_id")]);

    let rate_problem = |field: &str| ("commission_not_above_open_collab".to_owned(), field.to_owned());
    assert_eq!(
        problems(&env, "c7-equal"),
        BTreeSet::from([rate_problem("products[0].commission_rate")])
    );
    accepted(&env, "c7-above");
    assert_eq!(
        problems(&env, "c7-ads-equal"),
        BTreeSet::from([rate_problem("products[0].shop_ads_rate")])
    );
    assert_eq!(
        problems(&env, "c7-range"),
        BTreeSet::from([
            rate_problem("products[0].commission_rate"),
            rate_problem("products[0].shop_ads_rate")
        ])
    );
    accepted(&env, "c7-max");

    assert_rejected(&env, "c10-mills", &[("invalid_money", "budget")]);
    let a = accepted(&env, "c10-cents");
    assert_eq!(a["deposit"], "25.10");
    assert_eq!(a["capacity"], 2, "floor(25.10 / 12.5)");

    assert_rejected(
        &env,
        "c-all",
        &[
            ("campaign_immutable", "campaign_id"),
            ("invalid_duration", "ends_at"),
            ("starts_in_past", "starts_at"),
            ("unknown_creator_group", "creator_group_id"),
            ("commission_not_above_open_collab", "products[0].commission_rate"),
            ("product_not_eligible", "products[1].product_id"),
            ("invalid_money", "budget"),
            ("invalid_money", "task.reward"),
            ("invalid_task", "task.reward"),
            ("invalid_task", "task.tasks[0].target"),
        ],
    );
    let rejected = one(&effects(&env, "c-all"), "campaign.rejected").clone();
    assert_eq!(rejected["campaign_id"], "c3-now");
    assert_eq!(rejected["seller_id"], "s1");
    assert_eq!(
        types(&effects(&env, "pay-c3-now")),
        ["campaign.scheduled"],
        "the rejected resubmission changed nothing"
    );
}

#[tokio::test]
async fn c2_durations_accept_14_and_120_days_for_tasks_and_14_and_60_for_challenges_and_reject_13_9_121_and_61() {
    let env = TestEnv::start().await;
    given_seller(&env, "s1").await;
    given_seller(&env, "s2").await;
    // 13.9 days = 13 days 21 h 36 min.
    let d13_9 = Duration::days(13) + Duration::minutes(21 * 60 + 36);
    let short = [
        ("13.9d", d13_9, false),
        ("14d-1s", Duration::days(14) - Duration::seconds(1), false),
        ("14d", Duration::days(14), true),
        ("-20d", Duration::days(-20), false),
    ];
    let tasks = [
        ("90d", Duration::days(90), true),
        ("120d", Duration::days(120), true),
        ("120d+1s", Duration::days(120) + Duration::seconds(1), false),
        ("121d", Duration::days(121), false),
    ];
    let challenges = [
        ("60d", Duration::days(60), true),
        ("60d+1s", Duration::days(60) + Duration::seconds(1), false),
        ("61d", Duration::days(61), false),
        ("90d", Duration::days(90), false),
    ];
    let mut expected = Vec::new();
    for (name, length, ok) in short.iter().chain(&tasks) {
        let id = format!("task-{name}");
        submit(&env, &id, T0, running(task(&id, "s1"), STARTS, *length)).await;
        expected.push((id, *ok));
    }
    for (name, length, ok) in short.iter().chain(&challenges) {
        let id = format!("chal-{name}");
        submit(&env, &id, T0, running(challenge(&id, "s2"), STARTS, *length)).await;
        expected.push((id, *ok));
    }
    sync(&env).await;

    for (id, ok) in expected {
        if ok {
            assert_eq!(accepted(&env, &id)["campaign_id"], id.as_str());
        } else {
            assert_rejected(&env, &id, &[("invalid_duration", "ends_at")]);
        }
    }
}

/// Far enough in the future for every quota submission (C3).
fn later(id: &str, seller: &str) -> Value {
    running(task(id, seller), "2027-06-01T00:00:00Z", Duration::days(20))
}

#[tokio::test]
async fn c4_the_5th_submission_in_30_days_is_accepted_the_6th_rejected_until_the_window_slides() {
    let env = TestEnv::start().await;
    for seller in ["s1", "s2", "s3"] {
        given_seller(&env, seller).await;
    }
    let day = |n: i64| plus(T0, Duration::days(n));
    // s1: four a day from T0, a rejected one (does not count), then the 5th.
    for i in 0..4 {
        submit(&env, &format!("q{i}"), &day(i), later(&format!("q{i}"), "s1")).await;
    }
    let bad = with(later("bad", "s1"), "creator_group_id", json!("nope"));
    submit(&env, "bad", &day(3), bad).await;
    submit(&env, "q4", &day(4), later("q4", "s1")).await;
    submit(&env, "q5", &day(5), later("q5", "s1")).await;
    // Another seller is not limited by s1's quota.
    submit(&env, "other", &day(5), later("other", "s3")).await;
    // (t − 30 days, t]: one second before T0 leaves the window, it is still full…
    let almost = plus(T0, Duration::days(30) - Duration::seconds(1));
    submit(&env, "q5b", &almost, later("q5b", "s1")).await;
    // …at T0 + 30 days T0 is out: accepted, and the window is full again.
    submit(&env, "q6", &day(30), later("q6", "s1")).await;
    submit(&env, "q7", &day(30), later("q7", "s1")).await;
    // A day later the second oldest (T0 + 1 day) is out too.
    submit(&env, "q8", &day(31), later("q8", "s1")).await;

    // s2: five accepted, one recalled and four expired: they still count.
    for i in 0..5 {
        submit(&env, &format!("r{i}"), T0, later(&format!("r{i}"), "s2")).await;
    }
    pay(&env, "pay-r0", PAID, "r0", "s2", "100.00").await;
    recall(&env, "recall-r0", &plus(PAID, Duration::hours(1)), "r0", "s2").await;
    tick(&env, "tick-expire", &day(2)).await;
    submit(&env, "r5", &day(2), later("r5", "s2")).await;
    sync(&env).await;

    for id in ["q0", "q1", "q2", "q3", "q4"] {
        accepted(&env, id);
    }
    assert_rejected(&env, "bad", &[("unknown_creator_group", "creator_group_id")]);
    let quota = [("quota_exceeded", "seller_id")];
    assert_rejected(&env, "q5", &quota);
    accepted(&env, "other");
    assert_rejected(&env, "q5b", &quota);
    accepted(&env, "q6");
    assert_rejected(&env, "q7", &quota);
    accepted(&env, "q8");

    for i in 0..5 {
        accepted(&env, &format!("r{i}"));
    }
    assert_eq!(types(&effects(&env, "recall-r0")), ["campaign.recalled", "refund.due"]);
    let expired: BTreeSet<String> = data_of(&effects(&env, "tick-expire"), "campaign.expired")
        .iter()
        .filter(|d| d["seller_id"] == "s2")
        .map(|d| d["campaign_id"].as_str().unwrap_or("?").to_owned())
        .collect();
    assert_eq!(expired, ["r1", "r2", "r3", "r4"].map(String::from).into());
    assert_rejected(&env, "r5", &quota);
}

#[tokio::test]
async fn c11_a_campaign_id_is_submitted_once_and_a_duplicate_event_id_decides_nothing_new() {
    let env = TestEnv::start().await;
    given_seller(&env, "s1").await;
    let original = event("sub-c1", "campaign.submitted", T0, task("c1", "s1"));
    env.publish(&original).await;
    let edited = with(task("c1", "s1"), "budget", json!("200.00"));
    submit(&env, "sub-c1-edit", &plus(T0, Duration::hours(1)), edited).await;
    // The same event delivered again: a duplicate, not a resubmission.
    env.publish(&original).await;
    pay(&env, "pay-c1", PAID, "c1", "s1", "100.00").await;
    submit(&env, "sub-c1-paid", &plus(PAID, Duration::hours(1)), task("c1", "s1")).await;
    tick(&env, "tick-start", STARTS).await;
    let as_challenge = challenge("c1", "s1");
    submit(&env, "sub-c1-live", &plus(STARTS, Duration::hours(1)), as_challenge).await;
    // The three rejections did not count for the quota: four more fit in the window.
    let at = plus(STARTS, Duration::hours(2));
    for i in 2..=6 {
        let id = format!("c{i}");
        let v = running(task(&id, "s1"), "2027-04-01T00:00:00Z", Duration::days(20));
        submit(&env, &format!("sub-{id}"), &at, v).await;
    }
    sync(&env).await;

    assert_eq!(accepted(&env, "sub-c1")["deposit"], "100.00");
    assert_eq!(
        env.outcomes
            .of_type("campaign.accepted")
            .iter()
            .filter(|o| o["data"]["campaign_id"] == "c1")
            .count(),
        1,
        "the duplicate event has no second effect"
    );
    let immutable = [("campaign_immutable", "campaign_id")];
    assert_rejected(&env, "sub-c1-edit", &immutable);
    let scheduled = effects(&env, "pay-c1");
    assert_eq!(types(&scheduled), ["campaign.scheduled"], "the deposit is still 100.00");
    assert_rejected(&env, "sub-c1-paid", &immutable);
    assert_eq!(types(&effects_on(&env, "tick-start", "c1")), ["campaign.started"]);
    let live = problems(&env, "sub-c1-live");
    assert!(
        live.contains(&("campaign_immutable".to_owned(), "campaign_id".to_owned())),
        "{live:?}"
    );
    for i in 2..=5 {
        accepted(&env, &format!("sub-c{i}"));
    }
    assert_rejected(&env, "sub-c6", &[("quota_exceeded", "seller_id")]);
}

#[tokio::test]
async fn c8_c9_task_capacity_is_floor_of_budget_over_reward_and_challenge_budgets_equal_their_rank_rewards() {
    let env = TestEnv::start().await;
    given_seller(&env, "s1").await;
    given_seller(&env, "s2").await;
    let t = |id: &str| task(id, "s1");
    let c = |id: &str| challenge(id, "s2");

    // C8 (tasks of s1)
    submit(&env, "c8-cap3", T0, t("c8-cap3")).await;
    submit(&env, "c8-cap1", T0, with(t("c8-cap1"), "budget", json!("30.00"))).await;
    submit(&env, "c8-ten", T0, with_task(t("c8-ten"), "30.00", content_tasks(10))).await;
    submit(&env, "c8-short", T0, with(t("c8-short"), "budget", json!("29.99"))).await;
    submit(&env, "c8-zero", T0, with_task(t("c8-zero"), "0", content_tasks(1))).await;
    submit(&env, "c8-none", T0, with_task(t("c8-none"), "30.00", json!([]))).await;
    submit(
        &env,
        "c8-eleven",
        T0,
        with_task(t("c8-eleven"), "30.00", content_tasks(11)),
    )
    .await;
    let targets = json!([
        { "kind": "orders", "content_type": "any", "target": 0 },
        { "kind": "gmv", "content_type": "video", "target": "0.00" },
        { "kind": "content", "content_type": "photo", "target": 1 }
    ]);
    submit(&env, "c8-targets", T0, with_task(t("c8-targets"), "30.00", targets)).await;
    let mut missing = t("c8-missing");
    if let Some(o) = missing.as_object_mut() {
        o.remove("task");
    }
    submit(&env, "c8-missing", T0, missing).await;

    // C9 (challenges of s2)
    submit(&env, "c9-ok", T0, c("c9-ok")).await;
    let wide = with_challenge(c("c9-wide"), |ch| {
        ch["rank_rewards"] = json!([
            { "from_rank": 1, "to_rank": 10, "amount_each": "10.00" },
            { "from_rank": 11, "to_rank": 110, "amount_each": "0.50" }
        ]);
    });
    submit(&env, "c9-wide", T0, with(wide, "budget", json!("150.00"))).await;
    submit(
        &env,
        "c9-cent-over",
        T0,
        with(c("c9-cent-over"), "budget", json!("100.01")),
    )
    .await;
    submit(
        &env,
        "c9-cent-under",
        T0,
        with(c("c9-cent-under"), "budget", json!("99.99")),
    )
    .await;
    let no_types = with_challenge(c("c9-no-types"), |ch| ch["content_types"] = json!([]));
    submit(&env, "c9-no-types", T0, no_types).await;
    let negative = with_challenge(c("c9-min"), |ch| ch["min_value"] = json!(-1));
    submit(&env, "c9-min", T0, negative).await;
    let no_bands = with_challenge(c("c9-no-bands"), |ch| ch["rank_rewards"] = json!([]));
    submit(&env, "c9-no-bands", T0, no_bands).await;
    let gap = with_challenge(c("c9-gap"), |ch| {
        ch["rank_rewards"] = json!([
            { "from_rank": 1, "to_rank": 1, "amount_each": "50.00" },
            { "from_rank": 3, "to_rank": 4, "amount_each": "25.00" }
        ]);
    });
    submit(&env, "c9-gap", T0, gap).await;
    let zero_band = with_challenge(c("c9-zero-band"), |ch| {
        ch["rank_rewards"] = json!([
            { "from_rank": 1, "to_rank": 1, "amount_each": "100.00" },
            { "from_rank": 2, "to_rank": 3, "amount_each": "0.00" }
        ]);
    });
    submit(&env, "c9-zero-band", T0, zero_band).await;
    sync(&env).await;

    assert_eq!(accepted(&env, "c8-cap3")["capacity"], 3, "floor(100 / 30)");
    assert_eq!(
        accepted(&env, "c8-cap1")["capacity"],
        1,
        "a budget of exactly one reward"
    );
    accepted(&env, "c8-ten");
    assert_rejected(&env, "c8-short", &[("invalid_task", "budget")]);
    assert_rejected(
        &env,
        "c8-zero",
        &[("invalid_task", "task.reward"), ("invalid_money", "task.reward")],
    );
    assert_rejected(&env, "c8-none", &[("invalid_task", "task.tasks")]);
    assert_rejected(&env, "c8-eleven", &[("invalid_task", "task.tasks")]);
    assert_rejected(
        &env,
        "c8-targets",
        &[
            ("invalid_task", "task.tasks[0].target"),
            ("invalid_task", "task.tasks[1].target"),
            ("invalid_money", "task.tasks[1].target"),
            ("invalid_task", "task.tasks[2].content_type"),
        ],
    );
    assert_rejected(&env, "c8-missing", &[("invalid_task", "task")]);

    let a = accepted(&env, "c9-ok");
    assert_eq!(a["type"], "challenge");
    assert_eq!(a["capacity"], Value::Null);
    assert_eq!(a["deposit"], "100.00");
    assert_eq!(
        accepted(&env, "c9-wide")["deposit"],
        "150.00",
        "10 × 10.00 + 100 × 0.50"
    );
    assert_rejected(&env, "c9-cent-over", &[("budget_mismatch", "budget")]);
    assert_rejected(&env, "c9-cent-under", &[("budget_mismatch", "budget")]);
    assert_rejected(&env, "c9-no-types", &[("invalid_challenge", "challenge.content_types")]);
    assert_rejected(&env, "c9-min", &[("invalid_challenge", "challenge.min_value")]);
    assert_rejected(&env, "c9-no-bands", &[("invalid_challenge", "challenge.rank_rewards")]);
    assert_rejected(
        &env,
        "c9-gap",
        &[("invalid_challenge", "challenge.rank_rewards[1].from_rank")],
    );
    assert_rejected(
        &env,
        "c9-zero-band",
        &[
            ("invalid_challenge", "challenge.rank_rewards[1].amount_each"),
            ("invalid_money", "challenge.rank_rewards[1].amount_each"),
        ],
    );
}

// ---------------------------------------------------------------------------
// P — payment
// ---------------------------------------------------------------------------

#[tokio::test]
async fn p1_p2_p3_a_payment_exactly_at_payment_due_at_schedules_and_any_other_payment_is_refunded() {
    let env = TestEnv::start().await;
    given_seller(&env, "s1").await;
    for id in ["pa", "pb", "pc", "pd", "pe"] {
        submit(&env, &format!("sub-{id}"), T0, task(id, "s1")).await;
    }
    let late = plus(DUE, Duration::seconds(1));
    // P1 at the deadline; P2 already paid.
    pay(&env, "pay-pa", DUE, "pa", "s1", "100.00").await;
    pay(
        &env,
        "pay-pa-again",
        &plus(DUE, Duration::hours(1)),
        "pa",
        "s1",
        "100.00",
    )
    .await;
    // P2 one second after the deadline (before any tick): refunded, and the
    // campaign is still pending payment.
    pay(&env, "pay-pb-late", &late, "pb", "s1", "100.00").await;
    recall(&env, "recall-pb", &plus(DUE, Duration::seconds(2)), "pb", "s1").await;
    // P2 wrong amount, currency, seller; then P1 with the amount written differently.
    pay(&env, "pay-pc-short", PAID, "pc", "s1", "99.99").await;
    let mut eur = payment("pay-pc-eur", "pc", "s1", "100.00");
    eur["currency"] = json!("EUR");
    env.send("pay-pc-eur", "payment.succeeded", PAID, eur).await;
    pay(&env, "pay-pc-s2", PAID, "pc", "s2", "100.00").await;
    pay(&env, "pay-pc", &plus(PAID, Duration::hours(1)), "pc", "s1", "100").await;
    // P3: a failure changes nothing; a later payment still schedules…
    payment_failed(&env, "fail-pd", PAID, "pd", "s1").await;
    pay(&env, "pay-pd", &plus(PAID, Duration::hours(2)), "pd", "s1", "100.00").await;
    // …and without one the campaign expires (K1), after which even a payment
    // dated within the window is refunded.
    payment_failed(&env, "fail-pe", PAID, "pe", "s1").await;
    pay(&env, "pay-ghost", PAID, "ghost", "s1", "42.00").await;
    tick(&env, "tick-due", DUE).await;
    let in_window = plus(DUE, Duration::seconds(-1));
    pay(&env, "pay-pe-late", &in_window, "pe", "s1", "100.00").await;
    sync(&env).await;

    let out = effects(&env, "pay-pa");
    assert_eq!(types(&out), ["campaign.scheduled"]);
    let scheduled = one(&out, "campaign.scheduled");
    assert_eq!(scheduled["campaign_id"], "pa");
    assert_eq!(scheduled["seller_id"], "s1");
    assert_eq!(time_of(&scheduled["starts_at"]), time(STARTS));
    assert_eq!(time_of(&scheduled["paid_at"]), time(DUE));
    let again = plus(DUE, Duration::hours(1));
    assert_payment_refunded(&env, "pay-pa-again", &again, "already_paid", "100.00", "USD");

    assert_payment_refunded(&env, "pay-pb-late", &late, "campaign_expired", "100.00", "USD");
    let refund = one(&effects(&env, "pay-pb-late"), "refund.due").clone();
    assert_eq!(refund["party_id"], "s1");
    assert_eq!(refund["campaign_id"], "pb");
    assert_recall_rejected(&env, "recall-pb", "pb", "s1", "not_paid");

    assert_payment_refunded(&env, "pay-pc-short", PAID, "amount_mismatch", "99.99", "USD");
    assert_payment_refunded(&env, "pay-pc-eur", PAID, "currency_mismatch", "100.00", "EUR");
    assert_payment_refunded(&env, "pay-pc-s2", PAID, "seller_mismatch", "100.00", "USD");
    assert_eq!(one(&effects(&env, "pay-pc-s2"), "refund.due")["party_id"], "s2");
    let out = effects(&env, "pay-pc");
    assert_eq!(types(&out), ["campaign.scheduled"], "nothing changed before");
    assert_eq!(
        time_of(&one(&out, "campaign.scheduled")["paid_at"]),
        time(PAID) + Duration::hours(1)
    );

    assert_no_effect(&env, "fail-pd");
    assert_eq!(types(&effects(&env, "pay-pd")), ["campaign.scheduled"]);
    assert_no_effect(&env, "fail-pe");
    assert_payment_refunded(&env, "pay-ghost", PAID, "unknown_campaign", "42.00", "USD");
    assert_eq!(one(&effects(&env, "pay-ghost"), "refund.due")["campaign_id"], "ghost");

    let expired: BTreeSet<_> = data_of(&effects(&env, "tick-due"), "campaign.expired")
        .iter()
        .map(|d| d["campaign_id"].as_str().unwrap_or("?").to_owned())
        .collect();
    assert_eq!(
        expired,
        ["pb", "pe"].map(String::from).into(),
        "paid campaigns no longer expire"
    );
    assert_payment_refunded(&env, "pay-pe-late", &in_window, "campaign_expired", "100.00", "USD");
}

// ---------------------------------------------------------------------------
// K — the clock
// ---------------------------------------------------------------------------

#[tokio::test]
async fn k1_k2_ticks_a_second_early_do_nothing_ticks_exactly_at_payment_due_at_and_starts_at_fire_once_and_stale_or_duplicate_ticks_have_no_effect()
 {
    let env = TestEnv::start().await;
    given_seller(&env, "s1").await;
    submit(&env, "sub-unpaid", T0, task("unpaid", "s1")).await;
    submit(&env, "sub-paid", T0, task("paid", "s1")).await;
    pay(&env, "pay-paid", PAID, "paid", "s1", "100.00").await;

    tick(&env, "tick-due-1s", &plus(DUE, Duration::seconds(-1))).await;
    let at_due = event("tick-due", "clock.ticked", DUE, json!({ "now": DUE }));
    env.publish(&at_due).await;
    tick(&env, "tick-due-again", DUE).await;
    env.publish(&at_due).await; // the same event redelivered
    tick(&env, "tick-starts-1s", &plus(STARTS, Duration::seconds(-1))).await;
    tick(&env, "tick-starts", STARTS).await;
    tick(&env, "tick-starts-again", STARTS).await;
    tick(&env, "tick-stale", &plus(DUE, Duration::hours(1))).await;

    // A submission that reaches the worker late: its payment was due on
    // 03-06, before the latest tick (STARTS). Stale ticks do not expire it,
    // the next later tick does.
    let late = dated(task("late", "s1"), "2027-03-20T00:00:00Z", "2027-04-10T00:00:00Z");
    submit(&env, "sub-late", "2027-03-05T00:00:00Z", late).await;
    tick(&env, "tick-stale-due", "2027-03-07T00:00:00Z").await;
    tick(&env, "tick-repeat", STARTS).await;
    tick(&env, "tick-next", &plus(STARTS, Duration::seconds(1))).await;

    // K2: a campaign paid after its start time starts on the next tick.
    let starts = plus(STARTS, Duration::hours(1));
    let now = running(task("now", "s1"), &starts, Duration::days(20));
    submit(&env, "sub-now", &starts, now).await;
    tick(&env, "tick-unpaid-start", &plus(STARTS, Duration::hours(2))).await;
    pay(
        &env,
        "pay-now",
        &plus(STARTS, Duration::hours(3)),
        "now",
        "s1",
        "100.00",
    )
    .await;
    tick(&env, "tick-paid-start", &plus(STARTS, Duration::hours(4))).await;
    sync(&env).await;

    accepted(&env, "sub-late");
    assert_no_effect(&env, "tick-due-1s");
    let out = effects(&env, "tick-due");
    assert_eq!(types(&out), ["campaign.expired"]);
    let expired = one(&out, "campaign.expired");
    assert_eq!(expired["campaign_id"], "unpaid");
    assert_eq!(expired["seller_id"], "s1");
    assert_no_effect(&env, "tick-due-again");
    assert_no_effect(&env, "tick-starts-1s");
    let out = effects(&env, "tick-starts");
    assert_eq!(types(&out), ["campaign.started"]);
    let started = one(&out, "campaign.started");
    assert_eq!(started["campaign_id"], "paid");
    assert_eq!(started["seller_id"], "s1");
    assert_no_effect(&env, "tick-starts-again");
    assert_no_effect(&env, "tick-stale");
    assert_no_effect(&env, "tick-stale-due");
    assert_no_effect(&env, "tick-repeat");
    assert_eq!(types(&effects(&env, "tick-next")), ["campaign.expired"]);
    assert_eq!(
        one(&effects(&env, "tick-next"), "campaign.expired")["campaign_id"],
        "late"
    );
    assert_eq!(env.outcomes.of_type("campaign.expired").len(), 2, "each expires once");
    assert_eq!(env.outcomes.of_type("campaign.started").len(), 2, "each starts once");

    assert_no_effect(&env, "tick-unpaid-start");
    assert_eq!(types(&effects(&env, "pay-now")), ["campaign.scheduled"]);
    assert_eq!(types(&effects_on(&env, "tick-paid-start", "now")), ["campaign.started"]);
}

#[tokio::test]
async fn k3_k5_a_task_ends_and_settles_at_ends_at_charging_the_rewards_issued_and_refunding_the_rest_once() {
    let env = TestEnv::start().await;
    given_seller(&env, "s1").await;
    submit(&env, "sub-part", T0, task("part", "s1")).await;
    submit(&env, "sub-full", T0, with(task("full", "s1"), "budget", json!("60.00"))).await;
    submit(&env, "sub-none", T0, task("none", "s1")).await;
    pay(&env, "pay-part", PAID, "part", "s1", "100.00").await;
    pay(&env, "pay-full", PAID, "full", "s1", "60.00").await;
    pay(&env, "pay-none", PAID, "none", "s1", "100.00").await;
    tick(&env, "tick-start", STARTS).await;
    let joined = plus(STARTS, Duration::hours(1));
    let posted = plus(STARTS, Duration::hours(2));
    for (campaign, who, finishes) in [
        ("part", "a", true),
        ("part", "b", true),
        ("part", "idle", false),
        ("full", "c", true),
        ("full", "d", true),
        ("none", "e", false),
    ] {
        given_creator(&env, creator(who), SETUP).await;
        join(&env, &format!("join-{who}"), &joined, campaign, who).await;
        if finishes {
            post(&env, &format!("content-{who}"), &posted, who, "s1-p1").await;
        }
    }
    tick(&env, "tick-end-1s", &plus(ENDS, Duration::seconds(-1))).await;
    let at_end = event("tick-end", "clock.ticked", ENDS, json!({ "now": ENDS }));
    env.publish(&at_end).await;
    env.publish(&at_end).await;
    tick(&env, "tick-end-again", ENDS).await;
    tick(&env, "tick-later", &plus(ENDS, Duration::days(1))).await;
    sync(&env).await;

    for who in ["a", "b", "idle", "c", "d", "e"] {
        assert_eq!(
            types(&effects(&env, &format!("join-{who}"))),
            ["participation.accepted"],
            "{who} joins"
        );
    }
    for (who, campaign) in [("a", "part"), ("b", "part"), ("c", "full"), ("d", "full")] {
        let out = effects(&env, &format!("content-{who}"));
        let reward = one(&out, "reward.issued");
        assert_eq!(reward["campaign_id"], campaign);
        assert_eq!(reward["creator_id"], who);
        assert_eq!(reward["kind"], "task");
        assert_eq!(reward["amount"], "30.00");
        assert_eq!(reward["currency"], "USD");
    }
    assert_no_effect(&env, "tick-end-1s");

    // Partially achieved: charged partially (2 × 30.00), the rest refunded.
    let out = effects_on(&env, "tick-end", "part");
    assert_eq!(types(&out), ["campaign.ended", "refund.due", "campaign.settled"]);
    assert_eq!(one(&out, "campaign.ended")["seller_id"], "s1");
    let refund = one(&out, "refund.due");
    assert_eq!(refund["reason"], "unused_budget");
    assert_eq!(refund["to"], "seller");
    assert_eq!(refund["party_id"], "s1");
    assert_eq!(refund["amount"], "40.00");
    assert_eq!(refund["currency"], "USD");
    assert_eq!(time_of(&refund["due_by"]), time(ENDS) + Duration::days(14));
    assert_settled(one(&out, "campaign.settled"), "part", "100.00", "60.00", "40.00");
    // Fully used: nothing to refund.
    let out = effects_on(&env, "tick-end", "full");
    assert_eq!(types(&out), ["campaign.ended", "campaign.settled"]);
    assert_settled(one(&out, "campaign.settled"), "full", "60.00", "60.00", "0.00");
    // Nobody finished: the whole deposit is refunded.
    let out = effects_on(&env, "tick-end", "none");
    assert_eq!(types(&out), ["campaign.ended", "refund.due", "campaign.settled"]);
    assert_eq!(one(&out, "refund.due")["amount"], "100.00");
    assert_settled(one(&out, "campaign.settled"), "none", "100.00", "0.00", "100.00");
    // Paid in the start month: no extra fee (K6).
    assert!(env.outcomes.of_type("fee.charged").is_empty());
    // Duplicate and later ticks settle nothing again.
    assert_no_effect(&env, "tick-end-again");
    assert_no_effect(&env, "tick-later");
    assert_eq!(env.outcomes.of_type("campaign.settled").len(), 3);
    assert_eq!(env.outcomes.of_type("refund.due").len(), 2);
}

/// A challenge of s1 whose creators compete: `orders` video orders each.
async fn compete(env: &TestEnv, campaign: &str, who: &str, orders: usize) {
    given_creator(env, creator(who), SETUP).await;
    join(
        env,
        &format!("join-{campaign}-{who}"),
        &plus(STARTS, Duration::hours(1)),
        campaign,
        who,
    )
    .await;
    for n in 0..orders {
        let at = plus(STARTS, Duration::hours(2) + Duration::minutes(n as i64));
        let id = format!("{campaign}-{who}-o{n}");
        env.send(&id, "order.paid", &at, order(&id, "s1", "s1-p1", Some(who), "20.00"))
            .await;
    }
}

#[tokio::test]
async fn k3_k5_a_challenge_ends_at_ends_at_and_settles_one_hour_later_counting_late_orders_and_a_single_late_tick_runs_every_step()
 {
    let env = TestEnv::start().await;
    given_seller(&env, "s1").await;
    submit(&env, "sub-race", T0, challenge("race", "s1")).await;
    // Starts after the last tick of `race`, in the month it is paid (no K6 fee).
    let once = dated(challenge("once", "s1"), "2027-03-31T00:00:00Z", "2027-04-20T00:00:00Z");
    submit(&env, "sub-once", T0, once).await;
    pay(&env, "pay-race", PAID, "race", "s1", "100.00").await;
    pay(&env, "pay-once", PAID, "once", "s1", "100.00").await;
    tick(&env, "tick-start", STARTS).await;
    compete(&env, "race", "a", 2).await;
    compete(&env, "race", "b", 0).await;
    compete(&env, "race", "z", 0).await;
    tick(&env, "tick-end", ENDS).await;
    tick(
        &env,
        "tick-lag-1s",
        &plus(ENDS, Duration::minutes(59) + Duration::seconds(59)),
    )
    .await;
    // Paid during the campaign, published only after it ended.
    let late = plus(ENDS, Duration::minutes(-5));
    env.send(
        "late-order",
        "order.paid",
        &late,
        order("late-order", "s1", "s1-p1", Some("b"), "20.00"),
    )
    .await;
    tick(&env, "tick-lag", &plus(ENDS, Duration::hours(1))).await;
    tick(&env, "tick-lag-again", &plus(ENDS, Duration::hours(1))).await;
    // The first tick `once` sees is long after its end.
    tick(&env, "tick-long-after", "2027-04-21T00:00:00Z").await;
    sync(&env).await;

    assert_eq!(types(&effects_on(&env, "tick-start", "race")), ["campaign.started"]);
    let out = effects_on(&env, "tick-end", "race");
    assert_eq!(types(&out), ["campaign.ended"], "a challenge is not settled at its end");
    assert_no_effect(&env, "tick-lag-1s");
    let out = effects_on(&env, "tick-lag", "race");
    assert_eq!(
        types(&out),
        ["reward.issued", "reward.issued", "refund.due", "campaign.settled"]
    );
    let rewards = data_of(&out, "reward.issued");
    let summary: Vec<_> = rewards
        .iter()
        .map(|r| {
            (
                r["creator_id"].clone(),
                r["rank"].clone(),
                r["amount"].clone(),
                r["kind"].clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (json!("a"), json!(1), json!("50.00"), json!("challenge")),
            (json!("b"), json!(2), json!("25.00"), json!("challenge")),
        ],
        "the late order counts: b is ranked"
    );
    let refund = one(&out, "refund.due");
    assert_eq!(refund["reason"], "unused_budget");
    assert_eq!(refund["amount"], "25.00", "rank 3 paid nobody");
    assert_eq!(
        time_of(&refund["due_by"]),
        time(ENDS) + Duration::hours(1) + Duration::days(14)
    );
    assert_settled(one(&out, "campaign.settled"), "race", "100.00", "75.00", "25.00");
    assert_no_effect(&env, "tick-lag-again");

    let out = effects_on(&env, "tick-long-after", "once");
    assert_eq!(
        types(&out),
        ["campaign.started", "campaign.ended", "refund.due", "campaign.settled"],
        "K2, K3 and K5 in rule order on one tick"
    );
    assert_settled(one(&out, "campaign.settled"), "once", "100.00", "0.00", "100.00");
    assert_eq!(env.outcomes.of_type("campaign.settled").len(), 2);
}

#[tokio::test]
async fn k3_a_configured_finalization_lag_of_30_minutes_settles_a_challenge_30_minutes_after_its_end() {
    let env = TestEnv::start_with(vec![("COLLAB_RULES__CHALLENGE_FINALIZATION_LAG_SECS", "1800")]).await;
    given_seller(&env, "s1").await;
    submit(&env, "sub-race", T0, challenge("race", "s1")).await;
    pay(&env, "pay-race", PAID, "race", "s1", "100.00").await;
    tick(&env, "tick-start", STARTS).await;
    tick(&env, "tick-end", ENDS).await;
    tick(
        &env,
        "tick-29m",
        &plus(ENDS, Duration::minutes(29) + Duration::seconds(59)),
    )
    .await;
    tick(&env, "tick-30m", &plus(ENDS, Duration::minutes(30))).await;
    sync(&env).await;

    assert_eq!(types(&effects(&env, "tick-start")), ["campaign.started"]);
    assert_eq!(types(&effects(&env, "tick-end")), ["campaign.ended"]);
    assert_no_effect(&env, "tick-29m");
    let out = effects(&env, "tick-30m");
    assert_eq!(types(&out), ["refund.due", "campaign.settled"]);
    assert_settled(one(&out, "campaign.settled"), "race", "100.00", "0.00", "100.00");
}

#[tokio::test]
async fn k6_r1_a_refund_issued_in_the_start_month_of_a_campaign_paid_the_month_before_charges_and_reverses_11_percent_and_same_month_refunds_do_not()
 {
    let env = TestEnv::start().await;
    given_seller(&env, "s1").await;
    given_seller(&env, "s2").await;
    let submitted = "2027-01-30T10:00:00Z";
    let paid = "2027-01-30T12:00:00Z";
    // Paid on Jan 30 (s1), starting in February.
    let campaigns = [
        // Worked example 4: runs Feb 1 – Feb 20, nothing used.
        ("f-example", "1000.00", "2027-02-01T00:00:00Z", "2027-02-20T00:00:00Z"),
        ("f-round", "123.45", "2027-02-01T00:00:00Z", "2027-02-20T00:00:00Z"),
        ("f-recall", "100.00", "2027-02-10T00:00:00Z", "2027-03-01T00:00:00Z"),
        ("f-recall-jan", "100.00", "2027-02-10T00:00:00Z", "2027-03-01T00:00:00Z"),
        ("f-later", "100.00", "2027-02-15T00:00:00Z", "2027-03-10T00:00:00Z"),
    ];
    for (id, budget, starts, ends) in campaigns {
        let v = with(dated(task(id, "s1"), starts, ends), "budget", json!(budget));
        submit(&env, &format!("sub-{id}"), submitted, v).await;
        pay(&env, &format!("pay-{id}"), paid, id, "s1", budget).await;
    }
    // Paid in its start month (s2).
    let same = dated(task("f-same", "s2"), "2027-02-03T00:00:00Z", "2027-02-20T00:00:00Z");
    submit(&env, "sub-f-same", "2027-02-01T10:00:00Z", same).await;
    pay(&env, "pay-f-same", "2027-02-01T12:00:00Z", "f-same", "s2", "100.00").await;

    recall(&env, "recall-jan", "2027-01-31T08:00:00Z", "f-recall-jan", "s1").await;
    tick(&env, "tick-feb-01", "2027-02-01T00:00:00Z").await;
    tick(&env, "tick-feb-03", "2027-02-03T00:00:00Z").await;
    recall(&env, "recall-feb", "2027-02-05T08:00:00Z", "f-recall", "s1").await;
    // A stray payment refunded in the start month carries no fee (decision 18).
    pay(&env, "pay-stray", "2027-02-05T09:00:00Z", "f-example", "s1", "1000.00").await;
    tick(&env, "tick-feb-15", "2027-02-15T00:00:00Z").await;
    tick(&env, "tick-feb-20", "2027-02-20T00:00:00Z").await;
    tick(&env, "tick-mar-10", "2027-03-10T00:00:00Z").await;
    sync(&env).await;

    for (id, ..) in campaigns {
        assert_eq!(types(&effects(&env, &format!("pay-{id}"))), ["campaign.scheduled"]);
    }
    // R1: the recall in January (before the start month) carries no fee.
    let out = effects(&env, "recall-jan");
    assert_eq!(types(&out), ["campaign.recalled", "refund.due"]);
    assert_eq!(one(&out, "refund.due")["reason"], "campaign_recalled");

    // R1 + K6: the recall in February does.
    let out = effects(&env, "recall-feb");
    assert_eq!(
        types(&out),
        ["campaign.recalled", "refund.due", "fee.charged", "refund.due"]
    );
    let recalled = &refunds(&out, "campaign_recalled")[0];
    assert_eq!(recalled["amount"], "100.00");
    assert_eq!(time_of(&recalled["due_by"]), time("2027-02-19T08:00:00Z"));
    let fee = one(&out, "fee.charged");
    assert_eq!(fee["amount"], "11.00");
    assert_eq!(fee["reason"], "extra_platform_fee");
    let reversal = &refunds(&out, "extra_fee_reversal")[0];
    assert_eq!(reversal["amount"], "11.00");
    assert_eq!(time_of(&reversal["due_by"]), time("2027-03-01T00:00:00Z"));

    assert_eq!(types(&effects(&env, "pay-stray")), ["payment.rejected", "refund.due"]);

    // Worked example 4.
    let out = effects_on(&env, "tick-feb-20", "f-example");
    assert_eq!(
        types(&out),
        [
            "campaign.ended",
            "refund.due",
            "fee.charged",
            "refund.due",
            "campaign.settled"
        ]
    );
    let unused = &refunds(&out, "unused_budget")[0];
    assert_eq!(unused["amount"], "1000.00");
    assert_eq!(time_of(&unused["due_by"]), time("2027-03-06T00:00:00Z"));
    let fee = one(&out, "fee.charged");
    assert_eq!(fee["seller_id"], "s1");
    assert_eq!(fee["campaign_id"], "f-example");
    assert_eq!(fee["amount"], "110.00", "11 % of the deposit");
    assert_eq!(fee["currency"], "USD");
    assert_eq!(fee["reason"], "extra_platform_fee");
    assert!(!fee["fee_id"].as_str().unwrap_or_default().is_empty());
    let reversal = &refunds(&out, "extra_fee_reversal")[0];
    assert_eq!(reversal["to"], "seller");
    assert_eq!(reversal["party_id"], "s1");
    assert_eq!(reversal["amount"], "110.00");
    assert_eq!(reversal["currency"], "USD");
    assert_eq!(time_of(&reversal["due_by"]), time("2027-03-01T00:00:00Z"));
    assert_settled(one(&out, "campaign.settled"), "f-example", "1000.00", "0.00", "1000.00");

    // 123.45 × 0.11 = 13.5795
    let out = effects_on(&env, "tick-feb-20", "f-round");
    assert_eq!(one(&out, "fee.charged")["amount"], "13.58");
    assert_eq!(refunds(&out, "extra_fee_reversal")[0]["amount"], "13.58");

    // Same month: paid Feb 1 for a start on Feb 3, refunded Feb 20.
    let out = effects_on(&env, "tick-feb-20", "f-same");
    assert_eq!(types(&out), ["campaign.ended", "refund.due", "campaign.settled"]);
    assert_eq!(one(&out, "refund.due")["amount"], "100.00");

    // Refund in March for a February start: not in the start month.
    assert_eq!(types(&effects_on(&env, "tick-feb-15", "f-later")), ["campaign.started"]);
    let out = effects_on(&env, "tick-mar-10", "f-later");
    assert_eq!(types(&out), ["campaign.ended", "refund.due", "campaign.settled"]);

    // R1: the recalled campaign never starts, ends or settles.
    assert!(
        env.outcomes
            .distinct()
            .iter()
            .filter(|o| o["data"]["campaign_id"] == "f-recall")
            .all(|o| [
                "campaign.accepted",
                "campaign.scheduled",
                "campaign.recalled",
                "refund.due",
                "fee.charged"
            ]
            .contains(&o["type"].as_str().unwrap_or("?")))
    );
    assert_eq!(env.outcomes.of_type("fee.charged").len(), 3);
}

#[tokio::test]
async fn k7_a_tax_report_per_seller_and_payment_month_comes_once_on_the_first_tick_at_or_after_the_7th_of_the_next_month()
 {
    let env = TestEnv::start().await;
    for seller in ["s1", "s2", "s3"] {
        given_seller(&env, seller).await;
    }
    // s1 pays twice in March and once in April; s2 once in March.
    submit(&env, "sub-c1", T0, task("c1", "s1")).await;
    pay(&env, "pay-c1", PAID, "c1", "s1", "100.00").await;
    submit(&env, "sub-c2", "2027-03-20T00:00:00Z", later("c2", "s1")).await;
    pay(&env, "pay-c2", "2027-03-20T01:00:00Z", "c2", "s1", "100.00").await;
    submit(&env, "sub-c3", "2027-03-15T00:00:00Z", later("c3", "s2")).await;
    pay(&env, "pay-c3", "2027-03-15T01:00:00Z", "c3", "s2", "100.00").await;
    submit(&env, "sub-c4", "2027-04-02T00:00:00Z", later("c4", "s1")).await;
    pay(&env, "pay-c4", "2027-04-02T01:00:00Z", "c4", "s1", "100.00").await;
    // s3: only payments that were rejected in March.
    submit(&env, "sub-c5", T0, task("c5", "s3")).await;
    pay(&env, "pay-c5", PAID, "c5", "s3", "1.00").await;
    pay(&env, "pay-ghost", PAID, "ghost", "s3", "100.00").await;

    tick(&env, "tick-apr-6", "2027-04-06T23:59:59Z").await;
    tick(&env, "tick-apr-7", "2027-04-07T00:00:00Z").await;
    tick(&env, "tick-apr-7-again", "2027-04-07T00:00:00Z").await;
    // A March payment that reaches the worker after March was reported.
    submit(&env, "sub-c6", "2027-03-31T10:00:00Z", later("c6", "s1")).await;
    pay(&env, "pay-c6", "2027-03-31T11:00:00Z", "c6", "s1", "100.00").await;
    tick(&env, "tick-apr-8", "2027-04-08T00:00:00Z").await;
    tick(&env, "tick-may-6", "2027-05-06T23:00:00Z").await;
    tick(&env, "tick-may-7", "2027-05-07T00:00:00Z").await;
    tick(&env, "tick-jun-8", "2027-06-08T00:00:00Z").await;
    sync(&env).await;

    let reports = |cause: &str| -> BTreeSet<(String, String)> {
        data_of(&effects(&env, cause), "tax_report.available")
            .iter()
            .map(|r| {
                let text = |k: &str| r[k].as_str().unwrap_or("?").to_owned();
                (text("seller_id"), text("month"))
            })
            .collect()
    };
    assert_eq!(types(&effects(&env, "pay-c6")), ["campaign.scheduled"]);
    assert_eq!(reports("tick-apr-6"), pairs(&[]));
    assert_eq!(reports("tick-apr-7"), pairs(&[("s1", "2027-03"), ("s2", "2027-03")]));
    assert_eq!(reports("tick-apr-7-again"), pairs(&[]));
    assert_eq!(reports("tick-apr-8"), pairs(&[]), "March was reported already");
    assert_eq!(reports("tick-may-6"), pairs(&[]));
    assert_eq!(reports("tick-may-7"), pairs(&[("s1", "2027-04")]));
    assert_eq!(reports("tick-jun-8"), pairs(&[]));
    assert_eq!(env.outcomes.of_type("tax_report.available").len(), 3);
}

// ---------------------------------------------------------------------------
// R — recall
// ---------------------------------------------------------------------------

#[tokio::test]
async fn r1_r2_only_a_scheduled_campaign_is_recalled_with_its_full_deposit_refunded_and_an_ongoing_one_can_never_be() {
    let env = TestEnv::start().await;
    given_seller(&env, "s1").await;
    submit(&env, "sub-sched", T0, task("sched", "s1")).await;
    submit(&env, "sub-pending", T0, task("pending", "s1")).await;
    submit(&env, "sub-live", T0, task("live", "s1")).await;
    submit(&env, "sub-race", T0, challenge("race", "s1")).await;
    submit(&env, "sub-unpaid", T0, task("unpaid", "s1")).await;
    pay(&env, "pay-sched", PAID, "sched", "s1", "100.00").await;
    pay(&env, "pay-live", PAID, "live", "s1", "100.00").await;
    pay(&env, "pay-race", PAID, "race", "s1", "100.00").await;
    recall(&env, "recall-pending", "2027-03-01T06:00:00Z", "pending", "s1").await;
    pay(&env, "pay-pending", "2027-03-01T13:00:00Z", "pending", "s1", "100.00").await;
    tick(&env, "tick-due", DUE).await;
    recall(&env, "recall-expired", "2027-03-02T01:00:00Z", "unpaid", "s1").await;
    recall(&env, "recall-unknown", "2027-03-02T01:00:00Z", "nobody", "s1").await;
    let recalled_at = "2027-03-05T08:00:00Z";
    recall(&env, "recall-sched", recalled_at, "sched", "s1").await;
    recall(&env, "recall-sched-again", "2027-03-05T09:00:00Z", "sched", "s1").await;
    recall(&env, "recall-by-other", "2027-03-05T10:00:00Z", "live", "s2").await;
    tick(&env, "tick-start", STARTS).await;
    recall(
        &env,
        "recall-ongoing",
        &plus(STARTS, Duration::seconds(1)),
        "live",
        "s1",
    )
    .await;
    tick(&env, "tick-end", ENDS).await;
    recall(&env, "recall-ended", &plus(ENDS, Duration::minutes(1)), "race", "s1").await;
    recall(&env, "recall-settled", &plus(ENDS, Duration::days(1)), "live", "s1").await;
    tick(&env, "tick-lag", &plus(ENDS, Duration::hours(2))).await;
    sync(&env).await;

    // R1
    let out = effects(&env, "recall-sched");
    assert_eq!(types(&out), ["campaign.recalled", "refund.due"]);
    let recalled = one(&out, "campaign.recalled");
    assert_eq!(recalled["campaign_id"], "sched");
    assert_eq!(recalled["seller_id"], "s1");
    let refund = one(&out, "refund.due");
    assert_eq!(refund["reason"], "campaign_recalled");
    assert_eq!(refund["to"], "seller");
    assert_eq!(refund["party_id"], "s1");
    assert_eq!(refund["campaign_id"], "sched");
    assert_eq!(refund["amount"], "100.00");
    assert_eq!(refund["currency"], "USD");
    assert_eq!(time_of(&refund["due_by"]), time(recalled_at) + Duration::days(14));
    assert!(
        env.outcomes
            .distinct()
            .iter()
            .filter(|o| o["data"]["campaign_id"] == "sched")
            .all(|o| !["campaign.started", "campaign.ended", "campaign.settled"]
                .contains(&o["type"].as_str().unwrap_or("?"))),
        "a recalled campaign never starts, ends or settles"
    );

    // R2
    assert_recall_rejected(&env, "recall-pending", "pending", "s1", "not_paid");
    assert_eq!(types(&effects(&env, "pay-pending")), ["campaign.scheduled"]);
    assert_eq!(types(&effects_on(&env, "tick-due", "unpaid")), ["campaign.expired"]);
    assert_recall_rejected(&env, "recall-expired", "unpaid", "s1", "not_recallable");
    assert_recall_rejected(&env, "recall-unknown", "nobody", "s1", "not_recallable");
    assert_recall_rejected(&env, "recall-sched-again", "sched", "s1", "not_recallable");
    let all = env.outcomes.distinct();
    assert_eq!(refunds(&all, "campaign_recalled").len(), 1, "refunded once");
    assert_recall_rejected(&env, "recall-by-other", "live", "s2", "not_recallable");
    let started: BTreeSet<_> = data_of(&effects(&env, "tick-start"), "campaign.started")
        .iter()
        .map(|d| d["campaign_id"].as_str().unwrap_or("?").to_owned())
        .collect();
    assert_eq!(started, ["live", "pending", "race"].map(String::from).into());
    assert_recall_rejected(&env, "recall-ongoing", "live", "s1", "already_started");
    assert_eq!(
        types(&effects_on(&env, "tick-end", "live")),
        ["campaign.ended", "refund.due", "campaign.settled"],
        "the ongoing campaign went on to its end"
    );
    assert_eq!(types(&effects_on(&env, "tick-end", "race")), ["campaign.ended"]);
    assert_recall_rejected(&env, "recall-ended", "race", "s1", "already_started");
    assert_recall_rejected(&env, "recall-settled", "live", "s1", "already_started");
    assert_eq!(
        types(&effects_on(&env, "tick-lag", "race")),
        ["refund.due", "campaign.settled"]
    );
}

// ---------------------------------------------------------------------------
// G — creator groups
// ---------------------------------------------------------------------------

#[tokio::test]
async fn g1_a_seller_holds_at_most_100_groups_replacing_is_always_allowed_and_one_group_serves_many_campaigns() {
    let env = TestEnv::start().await;
    env.send("setup-s9-p1", "product.updated", SETUP, product("s9-p1", "s9", None))
        .await;
    for i in 0..100 {
        env.send(
            &format!("save-g{i}"),
            "creator_group.saved",
            SETUP,
            group("s9", &format!("g{i}"), json!({})),
        )
        .await;
    }
    env.send("save-g100", "creator_group.saved", T0, group("s9", "g100", json!({})))
        .await;
    // Replacing g42 at 100 groups: from Mar 5, level 7 and up.
    let replaced = "2027-03-05T00:00:00Z";
    env.send(
        "replace-g42",
        "creator_group.saved",
        replaced,
        group("s9", "g42", json!({ "level_min": 7 })),
    )
    .await;
    env.send("save-g101", "creator_group.saved", T0, group("s9", "g101", json!({})))
        .await;
    env.send(
        "save-s8-g100",
        "creator_group.saved",
        T0,
        group("s8", "g100", json!({})),
    )
    .await;
    let for_s9 = |id: &str, g: &str| {
        let v = with(task(id, "s9"), "creator_group_id", json!(g));
        with(v, "budget", json!("300.00"))
    };
    submit(&env, "sub-rejected-group", T0, for_s9("ca-x", "g100")).await;
    submit(&env, "sub-ca", T0, for_s9("ca", "g42")).await;
    submit(&env, "sub-cb", T0, for_s9("cb", "g42")).await;
    pay(&env, "pay-ca", PAID, "ca", "s9", "300.00").await;
    let mut level8 = creator("level8");
    level8["level"] = json!(8);
    given_creator(&env, level8, SETUP).await;
    given_creator(&env, creator("early"), SETUP).await;
    given_creator(&env, creator("late"), SETUP).await;
    join(&env, "join-early", "2027-03-04T23:59:59Z", "ca", "early").await;
    join(&env, "join-late", replaced, "ca", "late").await;
    join(&env, "join-level8", replaced, "ca", "level8").await;
    sync(&env).await;

    for i in 0..100 {
        assert_no_effect(&env, &format!("save-g{i}"));
    }
    let out = effects(&env, "save-g100");
    assert_eq!(types(&out), ["creator_group.rejected"]);
    let rejected = one(&out, "creator_group.rejected");
    assert_eq!(rejected["seller_id"], "s9");
    assert_eq!(rejected["group_id"], "g100");
    assert_eq!(rejected["reason"], "group_limit_reached");
    assert_no_effect(&env, "replace-g42");
    assert_eq!(
        one(&effects(&env, "save-g101"), "creator_group.rejected")["reason"],
        "group_limit_reached",
        "still 100 groups after the replacement"
    );
    assert_no_effect(&env, "save-s8-g100");
    assert_rejected(
        &env,
        "sub-rejected-group",
        &[("unknown_creator_group", "creator_group_id")],
    );
    accepted(&env, "sub-ca");
    accepted(&env, "sub-cb");
    // The replacement's criteria apply to joins from its time on.
    assert_eq!(types(&effects(&env, "join-early")), ["participation.accepted"]);
    let out = effects(&env, "join-late");
    assert_eq!(one(&out, "participation.rejected")["reason"], "not_eligible");
    assert_eq!(types(&effects(&env, "join-level8")), ["participation.accepted"]);
}

#[tokio::test]
async fn g2_a_creator_matches_when_every_criterion_holds_with_inclusive_bounds_using_creator_and_group_as_known_at_join_time()
 {
    let env = TestEnv::start().await;
    given_seller(&env, "s1").await;
    let strict = json!({
        "categories": ["beauty", "toys"], "level_min": 4, "level_max": 6,
        "followers_min": 1000, "followers_max": 10000, "content_types": ["video"],
        "avg_commission_rate_min": "0.05", "avg_commission_rate_max": "0.20",
        "max_fake_order_risk": "medium"
    });
    env.send(
        "save-strict",
        "creator_group.saved",
        SETUP,
        group("s1", "g-strict", strict),
    )
    .await;
    env.send(
        "save-tight",
        "creator_group.saved",
        SETUP,
        group("s1", "g-tight", json!({ "level_min": 4 })),
    )
    .await;
    let tightened = "2027-03-06T00:00:00Z";
    env.send(
        "tighten",
        "creator_group.saved",
        tightened,
        group("s1", "g-tight", json!({ "level_min": 8 })),
    )
    .await;
    for (id, g) in [("strict", "g-strict"), ("tight", "g-tight")] {
        submit(
            &env,
            &format!("sub-{id}"),
            T0,
            with(challenge(id, "s1"), "creator_group_id", json!(g)),
        )
        .await;
        pay(&env, &format!("pay-{id}"), PAID, id, "s1", "100.00").await;
    }

    let variant = |id: &str, key: &str, value: Value| with(creator(id), key, value);
    let profiles = [
        (creator("ok"), true),
        (
            json!({
                "creator_id": "low-edges", "level": 4, "followers": 1000, "categories": ["toys"],
                "content_types": ["live", "video"], "avg_commission_rate": "0.05", "fake_order_risk": "medium"
            }),
            true,
        ),
        (
            json!({
                "creator_id": "high-edges", "level": 6, "followers": 10000, "categories": ["beauty"],
                "content_types": ["video"], "avg_commission_rate": "0.20", "fake_order_risk": "low"
            }),
            true,
        ),
        (variant("level-3", "level", json!(3)), false),
        (variant("level-7", "level", json!(7)), false),
        (variant("followers-999", "followers", json!(999)), false),
        (variant("followers-10001", "followers", json!(10001)), false),
        (variant("garden", "categories", json!(["garden"])), false),
        (variant("live-only", "content_types", json!(["live"])), false),
        (variant("rate-4", "avg_commission_rate", json!("0.04")), false),
        (variant("rate-21", "avg_commission_rate", json!("0.21")), false),
        (variant("risky", "fake_order_risk", json!("high")), false),
    ];
    let joined = "2027-03-03T00:00:00Z";
    for (profile, _) in &profiles {
        let id = profile["creator_id"].as_str().unwrap_or("?").to_owned();
        given_creator(&env, profile.clone(), SETUP).await;
        join(&env, &format!("join-{id}"), joined, "strict", &id).await;
    }
    // Never described; described only after the join time; levelled up later.
    join(&env, "join-ghost", joined, "strict", "ghost").await;
    given_creator(&env, creator("late"), "2027-03-04T00:00:00Z").await;
    join(&env, "join-late", joined, "strict", "late").await;
    given_creator(&env, variant("grows", "level", json!(3)), SETUP).await;
    given_creator(&env, creator("grows"), "2027-03-04T00:00:00Z").await;
    join(&env, "join-grows-before", joined, "strict", "grows").await;
    join(&env, "join-grows-after", "2027-03-04T00:00:00Z", "strict", "grows").await;
    // The group as known at join time.
    given_creator(&env, creator("before-tightening"), SETUP).await;
    given_creator(&env, creator("after-tightening"), SETUP).await;
    join(
        &env,
        "join-before-tightening",
        "2027-03-05T23:59:59Z",
        "tight",
        "before-tightening",
    )
    .await;
    join(&env, "join-after-tightening", tightened, "tight", "after-tightening").await;
    sync(&env).await;

    let verdict = |cause: &str| -> String {
        let out = effects(&env, cause);
        assert_eq!(out.len(), 1, "{cause}: {:?}", types(&out));
        match out[0]["type"].as_str() {
            Some("participation.accepted") => "accepted".to_owned(),
            Some("participation.rejected") => out[0]["data"]["reason"].as_str().unwrap_or("?").to_owned(),
            other => panic!("{cause}: {other:?}"),
        }
    };
    for (profile, matches) in &profiles {
        let id = profile["creator_id"].as_str().unwrap_or("?");
        let expected = if *matches { "accepted" } else { "not_eligible" };
        assert_eq!(verdict(&format!("join-{id}")), expected, "{id}");
    }
    let accepted_join = one(&effects(&env, "join-ok"), "participation.accepted").clone();
    assert_eq!(accepted_join["campaign_id"], "strict");
    assert_eq!(accepted_join["creator_id"], "ok");
    assert_eq!(accepted_join["seller_id"], "s1");
    assert_eq!(
        verdict("join-ghost"),
        "not_eligible",
        "no creator.updated: matches nothing"
    );
    assert_eq!(
        verdict("join-late"),
        "not_eligible",
        "described only after the join time"
    );
    assert_eq!(verdict("join-grows-before"), "not_eligible");
    assert_eq!(verdict("join-grows-after"), "accepted");
    assert_eq!(verdict("join-before-tightening"), "accepted");
    assert_eq!(verdict("join-after-tightening"), "not_eligible");
}
