//! Creators in campaigns, end to end: joining (J1–J3), task campaigns
//! (T1–T3), challenges (H1–H3, with the K3 finalization lag), samples (S1–S3,
//! K4) and the campaign parts of the commission rate (O2, O4), with worked
//! examples 1 and 2 of rules.md.
//!
//! Each scenario reads given / when / then. `World::when` publishes one event,
//! then a marker event (a join to an unknown campaign, always rejected), waits
//! for the marker's outcome and returns the outcomes the event caused (by
//! `causationid`): the worker applies its queue in order and publishes outcomes
//! in the order they were decided, so once the marker's outcome is seen,
//! everything the event decided has been published — also when it decided
//! nothing.

use chrono::{DateTime, FixedOffset};
use serde_json::{Value, json};

use crate::common::*;

// ---------------------------------------------------------------------------
// The world the tests build (the same as the unit tests of these rules)
// ---------------------------------------------------------------------------

const SELLER: &str = "s1";
const OTHER_SELLER: &str = "s2";
/// On open collaboration at 10 % (shop ads 5 %); in every campaign at 15 %
/// (shop ads 8 %), with free samples and a refundable-sample goal of 3 units.
const P: &str = "p1";
/// Not on open collaboration; in every campaign, without a rate or samples.
const P_PLAIN: &str = "p2";
/// The seller's product that no campaign includes (open collaboration 10 %).
const P_OUTSIDE: &str = "p3";
/// The other seller's product (open collaboration 10 %).
const Q: &str = "q1";

const ALICE: &str = "alice";
const BOB: &str = "bob";
const CAROL: &str = "carol";
const DAVE: &str = "dave";
const ERIN: &str = "erin";

/// Products, creator profiles and groups are described at this time.
const CATALOGUE: &str = "2024-09-01T00:00:00Z";
/// Campaigns are submitted and paid at this time (unless a test says otherwise).
const SUBMITTED: &str = "2024-09-20T00:00:00Z";
/// The default campaign runs Oct 2 – Oct 20.
const START: &str = "2024-10-02T00:00:00Z";
const END: &str = "2024-10-20T00:00:00Z";
/// One second before the end: the last instant of the campaign window.
const LAST_SECOND: &str = "2024-10-19T23:59:59Z";
/// END + the default finalization lag of one hour.
const FINALIZED: &str = "2024-10-20T01:00:00Z";

/// `2024-09-<day>T<hour>:00:00Z`
fn sep(day: u32, hour: u32) -> String {
    format!("2024-09-{day:02}T{hour:02}:00:00Z")
}

/// `2024-10-<day>T<hour>:00:00Z`
fn oct(day: u32, hour: u32) -> String {
    format!("2024-10-{day:02}T{hour:02}:00:00Z")
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

/// One piece of content of any type finishes it.
fn simple_task(id: &str) -> Value {
    task(id, json!([content_task("any", 1)]))
}

/// A task nobody finishes in these tests (100 orders).
fn unreachable_task(id: &str) -> Value {
    task(id, json!([orders_task("any", 100)]))
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

fn instant(v: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(v).unwrap_or_else(|e| panic!("not an RFC 3339 time: {v}: {e}"))
}

/// Asserts that an outcome's time field is the given instant.
fn assert_at(field: &Value, expected: &str) {
    assert_eq!(instant(&text(field)), instant(expected), "{field} is not {expected}");
}

// ---------------------------------------------------------------------------
// Reading outcomes (envelopes as the spy received them)
// ---------------------------------------------------------------------------

fn types(out: &[Value]) -> Vec<String> {
    out.iter().map(|o| text(&o["type"])).collect()
}

/// The data of every outcome of a type.
fn all(out: &[Value], type_name: &str) -> Vec<Value> {
    out.iter()
        .filter(|o| o["type"] == type_name)
        .map(|o| o["data"].clone())
        .collect()
}

fn count(out: &[Value], type_name: &str) -> usize {
    all(out, type_name).len()
}

/// The data of the first outcome of a type.
fn first(out: &[Value], type_name: &str) -> Value {
    all(out, type_name)
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no {type_name} in {:?}", types(out)))
}

/// The statuses announced by `participation.status_changed`, in order.
fn status_changes(out: &[Value]) -> Vec<String> {
    all(out, "participation.status_changed")
        .iter()
        .map(|d| text(&d["status"]))
        .collect()
}

/// The reason of the one `participation.rejected` outcome.
fn rejection(out: &[Value]) -> String {
    assert_eq!(types(out), ["participation.rejected"], "{out:?}");
    text(&first(out, "participation.rejected")["reason"])
}

/// The reason of the one `sample.rejected` outcome.
fn sample_rejection(out: &[Value]) -> String {
    assert_eq!(types(out), ["sample.rejected"], "{out:?}");
    text(&first(out, "sample.rejected")["reason"])
}

fn approved(out: &[Value]) {
    assert_eq!(types(out), ["sample.approved"], "{out:?}");
}

/// (creator, kind, rank, amount) of every `reward.issued`, in issue order.
fn rewards(out: &[Value]) -> Vec<(String, String, Value, String)> {
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

fn task_reward(creator: &str) -> (String, String, Value, String) {
    (creator.into(), "task".into(), Value::Null, "10.00".into())
}

/// (creator, rank, amount) of challenge rewards, in issue order.
fn ranking(out: &[Value]) -> Vec<(String, u64, String)> {
    all(out, "reward.issued")
        .iter()
        .map(|r| {
            assert_eq!(r["kind"], "challenge", "{r}");
            assert_eq!(r["currency"], "USD", "{r}");
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

/// `refund.due` outcomes with a reason.
fn refunds(out: &[Value], reason: &str) -> Vec<Value> {
    all(out, "refund.due")
        .into_iter()
        .filter(|r| r["reason"] == reason)
        .collect()
}

/// Outcomes about one campaign.
fn of_campaign(out: &[Value], campaign: &str) -> Vec<Value> {
    out.iter()
        .filter(|o| o["data"]["campaign_id"] == campaign)
        .cloned()
        .collect()
}

/// `[rate, rate_source, amount, campaign_id]` of the accrued commission.
fn rated(out: &[Value]) -> [String; 4] {
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

/// `[shop_ads_rate, shop_ads_amount]` of the accrued commission.
fn shop_ads(out: &[Value]) -> [String; 2] {
    let a = first(out, "commission.accrued");
    [text(&a["shop_ads_rate"]), text(&a["shop_ads_amount"])]
}

// ---------------------------------------------------------------------------
// The world: a test environment with the catalogue, and event helpers
// ---------------------------------------------------------------------------

/// The common [`crate::common::World`], with this file's catalogue and helpers.
struct World(crate::common::World);

impl std::ops::Deref for World {
    type Target = crate::common::World;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl World {
    /// A fresh worker with the catalogue: products, a group `everyone` per
    /// seller, a group `level5` of the seller, and profiles of Alice, Bob,
    /// Carol, Dave and Erin.
    async fn start() -> World {
        Self::start_with(Vec::new()).await
    }

    async fn start_with(settings: Vec<(&str, &str)>) -> World {
        let w = World(crate::common::World::open(settings, Marker::Join, CATALOGUE).await);
        let mut p = product(P, SELLER, Some("0.10"));
        p["open_collab_shop_ads_rate"] = json!("0.05");
        w.send("product.updated", CATALOGUE, p).await;
        w.send("product.updated", CATALOGUE, product(P_PLAIN, SELLER, None))
            .await;
        w.send("product.updated", CATALOGUE, product(P_OUTSIDE, SELLER, Some("0.10")))
            .await;
        w.send("product.updated", CATALOGUE, product(Q, OTHER_SELLER, Some("0.10")))
            .await;
        w.send("creator_group.saved", CATALOGUE, group(SELLER, "everyone", json!({})))
            .await;
        w.send(
            "creator_group.saved",
            CATALOGUE,
            group(SELLER, "level5", json!({ "level_min": 5 })),
        )
        .await;
        w.send(
            "creator_group.saved",
            CATALOGUE,
            group(OTHER_SELLER, "everyone", json!({})),
        )
        .await;
        for c in [ALICE, BOB, CAROL, DAVE, ERIN] {
            w.send("creator.updated", CATALOGUE, profile(c)).await;
        }
        w.sync().await;
        assert!(
            w.env
                .outcomes
                .distinct()
                .iter()
                .all(|o| o["type"] == "participation.rejected"),
            "the catalogue decides nothing: {:?}",
            types(&w.env.outcomes.distinct())
        );
        w
    }

    async fn tick(&self, now: &str) -> Vec<Value> {
        self.when("clock.ticked", now, json!({ "now": now })).await
    }

    /// Submits and pays a campaign at `at`: it is `scheduled`.
    async fn launch_at(&self, at: &str, campaign: Value) {
        let id = text(&campaign["campaign_id"]);
        let seller = text(&campaign["seller_id"]);
        let budget = text(&campaign["budget"]);
        let out = self.when("campaign.submitted", at, campaign).await;
        assert_eq!(types(&out), ["campaign.accepted"], "{id}: {out:?}");
        let out = self
            .when(
                "payment.succeeded",
                at,
                json!({
                    "payment_id": format!("pay-{id}"), "campaign_id": id, "seller_id": seller,
                    "amount": budget, "currency": "USD", "method": "credit_card"
                }),
            )
            .await;
        assert_eq!(types(&out), ["campaign.scheduled"], "{id}: {out:?}");
    }

    /// Submits and pays a campaign on Sep 20.
    async fn launch(&self, campaign: Value) {
        self.launch_at(SUBMITTED, campaign).await;
    }

    async fn join(&self, campaign: &str, creator: &str, at: &str) -> Vec<Value> {
        self.when(
            "creator.join_requested",
            at,
            json!({ "campaign_id": campaign, "creator_id": creator }),
        )
        .await
    }

    /// Joins and asserts the participation was accepted.
    async fn joined(&self, campaign: &str, creator: &str, at: &str) {
        let out = self.join(campaign, creator, at).await;
        assert_eq!(
            types(&out),
            ["participation.accepted"],
            "{creator} joins {campaign}: {out:?}"
        );
    }

    /// An attributed video order of product P.
    async fn sell(&self, id: &str, creator: &str, amount: &str, at: &str) -> Vec<Value> {
        self.sell_as(id, creator, "video", amount, at).await
    }

    /// An attributed order of product P through a channel (`video`, `live`, `showcase`).
    async fn sell_as(&self, id: &str, creator: &str, channel: &str, amount: &str, at: &str) -> Vec<Value> {
        let o = with(
            order(id, SELLER, P, Some(creator), amount),
            "content_type",
            json!(channel),
        );
        self.when("order.paid", at, o).await
    }

    /// `quantity` units of P sold by `creator` through a channel, for 10.00.
    async fn sell_units(&self, id: &str, creator: &str, channel: &str, quantity: u32, at: &str) -> Vec<Value> {
        let o = with(
            with(
                order(id, SELLER, P, Some(creator), "10.00"),
                "content_type",
                json!(channel),
            ),
            "quantity",
            json!(quantity),
        );
        self.when("order.paid", at, o).await
    }

    /// A shop-ads order of P for 100.00 from the creator's content.
    async fn sell_via_ads(&self, id: &str, creator: &str, content: &str, at: &str) -> Vec<Value> {
        let mut o = order(id, SELLER, P, Some(creator), "100.00");
        o["via_shop_ads"] = json!(true);
        o["content_id"] = json!(content);
        self.when("order.paid", at, o).await
    }

    async fn cancel(&self, id: &str, at: &str) -> Vec<Value> {
        self.when("order.cancelled", at, json!({ "order_id": id })).await
    }

    async fn refund(&self, id: &str, amount: &str, at: &str) -> Vec<Value> {
        self.when("order.refunded", at, json!({ "order_id": id, "amount": amount }))
            .await
    }

    async fn post(&self, id: &str, creator: &str, content_type: &str, products: &[&str], at: &str) -> Vec<Value> {
        self.post_ads(id, creator, content_type, products, true, at).await
    }

    async fn post_ads(
        &self,
        id: &str,
        creator: &str,
        content_type: &str,
        products: &[&str],
        ads_authorized: bool,
        at: &str,
    ) -> Vec<Value> {
        self.when(
            "content.posted",
            at,
            json!({
                "content_id": id, "creator_id": creator, "content_type": content_type,
                "product_ids": products, "ads_authorized": ads_authorized
            }),
        )
        .await
    }

    async fn block(&self, seller: &str, creator: &str, at: &str) -> Vec<Value> {
        self.when(
            "seller.creator_blocked",
            at,
            json!({ "seller_id": seller, "creator_id": creator }),
        )
        .await
    }

    async fn unblock(&self, creator: &str, at: &str) -> Vec<Value> {
        self.when(
            "seller.creator_unblocked",
            at,
            json!({ "seller_id": SELLER, "creator_id": creator }),
        )
        .await
    }

    async fn pause(&self, creator: &str, at: &str) -> Vec<Value> {
        self.when(
            "partnership.paused",
            at,
            json!({ "seller_id": SELLER, "creator_id": creator }),
        )
        .await
    }

    async fn platform_block(&self, creator: &str, at: &str) -> Vec<Value> {
        self.when(
            "creator.platform_blocked",
            at,
            json!({ "creator_id": creator, "reason": "fraud" }),
        )
        .await
    }

    async fn request_sample(&self, id: &str, campaign: &str, creator: &str, product: &str, at: &str) -> Vec<Value> {
        self.when(
            "sample.requested",
            at,
            json!({ "request_id": id, "campaign_id": campaign, "creator_id": creator, "product_id": product }),
        )
        .await
    }

    async fn ship(&self, id: &str, at: &str) -> Vec<Value> {
        self.when("sample.shipped", at, json!({ "request_id": id })).await
    }

    async fn deliver(&self, id: &str, at: &str) -> Vec<Value> {
        self.when("sample.delivered", at, json!({ "request_id": id })).await
    }

    /// The creator buys P as a refundable sample of campaign k1 for 25.00 + 4.99 shipping.
    async fn purchase(&self, id: &str, creator: &str, at: &str) -> Vec<Value> {
        self.when(
            "sample.refundable_purchased",
            at,
            json!({
                "refundable_id": id, "campaign_id": "k1", "creator_id": creator, "product_id": P,
                "order_id": format!("buy-{id}"), "price": "25.00", "shipping_fee": "4.99", "currency": "USD"
            }),
        )
        .await
    }
}

// ---------------------------------------------------------------------------
// J1 — joining
// ---------------------------------------------------------------------------

#[tokio::test]
async fn j1_joins_are_accepted_or_rejected_with_the_first_failing_reason_in_rule_order() {
    let w = World::start().await;
    // k1: capacity 3. k-unpaid: awaiting payment. k-level5: level 5 and up.
    w.launch(simple_task("k1")).await;
    let out = w.when("campaign.submitted", SUBMITTED, simple_task("k-unpaid")).await;
    assert_eq!(types(&out), ["campaign.accepted"]);
    w.launch(with(simple_task("k-level5"), "creator_group_id", json!("level5")))
        .await;
    // x1 fails every check after the campaign's, x2 every one after the
    // platform block, x3 is only blocked by the seller; x4 has no profile.
    let t = oct(1, 0);
    assert!(w.platform_block("x1", &t).await.is_empty());
    w.pause("x1", &t).await;
    w.block(SELLER, "x1", &t).await;
    w.pause("x2", &t).await;
    w.block(SELLER, "x2", &t).await;
    w.block(SELLER, "x3", &t).await;
    let later = oct(1, 1);

    // Campaign known and scheduled or ongoing: checked first.
    let out = w.join("nope", ALICE, &later).await;
    assert_eq!(rejection(&out), "campaign_not_open");
    let rejected = first(&out, "participation.rejected");
    assert_eq!(rejected["campaign_id"], "nope");
    assert_eq!(rejected["creator_id"], ALICE);
    assert_eq!(rejection(&w.join("k-unpaid", ALICE, &later).await), "campaign_not_open");
    assert_eq!(rejection(&w.join("k-unpaid", "x1", &later).await), "campaign_not_open");
    // Then, in rule order.
    assert_eq!(rejection(&w.join("k1", "x1", &later).await), "platform_blocked");
    assert_eq!(rejection(&w.join("k1", "x2", &later).await), "connection_paused");
    assert_eq!(rejection(&w.join("k1", "x3", &later).await), "blocked_by_seller");
    assert_eq!(rejection(&w.join("k1", "x4", &later).await), "not_eligible");
    assert_eq!(rejection(&w.join("k-level5", ALICE, &later).await), "not_eligible");

    // A matching creator joins a scheduled campaign.
    let out = w.join("k1", ALICE, &later).await;
    assert_eq!(types(&out), ["participation.accepted"]);
    let accepted = first(&out, "participation.accepted");
    assert_eq!(accepted["campaign_id"], "k1");
    assert_eq!(accepted["creator_id"], ALICE);
    assert_eq!(accepted["seller_id"], SELLER);
    assert_eq!(accepted["fake_order_risk"], "low");
    assert_eq!(rejection(&w.join("k1", ALICE, &oct(1, 2)).await), "already_joined");

    // Capacity: budget 30.00 / reward 10.00 = 3 creators.
    w.joined("k1", BOB, &oct(1, 2)).await;
    w.joined("k1", CAROL, &oct(1, 2)).await;
    assert_eq!(rejection(&w.join("k1", DAVE, &oct(1, 3)).await), "capacity_reached");
    assert_eq!(rejection(&w.join("k1", ALICE, &oct(1, 3)).await), "already_joined");
    assert_eq!(rejection(&w.join("k1", "x3", &oct(1, 3)).await), "blocked_by_seller");
    assert_eq!(rejection(&w.join("k1", "x4", &oct(1, 3)).await), "not_eligible");

    // Ongoing campaigns accept joins; a creator promoted to level 6 matches level5.
    let out = w.tick(START).await;
    assert_eq!(count(&out, "campaign.started"), 2, "{out:?}");
    for c in [DAVE, ERIN] {
        w.send("creator.updated", &oct(2, 0), with(profile(c), "level", json!(6)))
            .await;
    }
    w.joined("k-level5", ERIN, &oct(3, 0)).await;
    // Decision 21: a join at or after ends_at is not open, before the end tick
    // too; one requested in the last second, arriving after it, is accepted.
    assert_eq!(rejection(&w.join("k-level5", DAVE, END).await), "campaign_not_open");
    w.joined("k-level5", DAVE, LAST_SECOND).await;
}

// ---------------------------------------------------------------------------
// J2 — the seller's blocklist
// ---------------------------------------------------------------------------

/// Worked example 2 of rules.md.
#[tokio::test]
async fn j2_worked_example_2_a_creator_blocked_after_joining_finishes_and_is_rewarded_but_cannot_join_another_campaign()
{
    let w = World::start().await;
    w.launch(simple_task("A")).await;
    w.launch(simple_task("B")).await;
    // Bob joins A; the seller then blocks Bob.
    w.joined("A", BOB, &oct(1, 0)).await;
    assert!(w.block(SELLER, BOB, &oct(1, 1)).await.is_empty());
    w.tick(START).await;
    // Bob still sells at A's rate and completes A.
    let out = w.sell("o1", BOB, "100.00", &oct(3, 0)).await;
    assert_eq!(rated(&out), rate("0.15", "campaign", "15.00", "A"));
    let out = w.post("v1", BOB, "video", &[P], &oct(3, 1)).await;
    assert_eq!(
        types(&out),
        ["task.finished", "participation.status_changed", "reward.issued"]
    );
    assert_eq!(status_changes(&out), ["finished"]);
    assert_eq!(rewards(&out), [task_reward(BOB)]);
    assert_eq!(first(&out, "reward.issued")["campaign_id"], "A");
    // Bob's join to the seller's campaign B is rejected.
    let out = w.join("B", BOB, &oct(4, 0)).await;
    assert_eq!(rejection(&out), "blocked_by_seller");
    assert_eq!(first(&out, "participation.rejected")["campaign_id"], "B");
}

#[tokio::test]
async fn j2_a_block_stops_later_joins_and_an_unblock_frees_only_campaigns_submitted_after_it() {
    let w = World::start().await;
    // Five submissions of the seller (C4's maximum), around Alice's
    // block (Sep 21), unblock (Sep 23), block (Sep 25), unblock (Sep 27).
    w.launch_at(&sep(20, 0), simple_task("before-block")).await;
    assert!(w.block(SELLER, ALICE, &sep(21, 0)).await.is_empty());
    w.launch_at(&sep(22, 0), simple_task("between")).await;
    assert!(w.unblock(ALICE, &sep(23, 0)).await.is_empty());
    w.launch_at(&sep(24, 0), simple_task("after-unblock")).await;
    // Between the unblock and the next block: free for a campaign submitted
    // after the unblock only.
    assert_eq!(
        rejection(&w.join("before-block", ALICE, &sep(24, 12)).await),
        "blocked_by_seller"
    );
    w.joined("after-unblock", ALICE, &sep(24, 12)).await;
    // Blocking and unblocking repeat; the existing participation is not affected.
    assert!(w.block(SELLER, ALICE, &sep(25, 0)).await.is_empty());
    w.launch_at(&sep(26, 0), simple_task("after-reblock")).await;
    assert!(w.unblock(ALICE, &sep(27, 0)).await.is_empty());
    w.launch_at(&sep(28, 0), simple_task("after-second-unblock")).await;
    for k in ["before-block", "between", "after-reblock"] {
        assert_eq!(
            rejection(&w.join(k, ALICE, &oct(1, 0)).await),
            "blocked_by_seller",
            "{k}"
        );
    }
    w.joined("after-second-unblock", ALICE, &oct(1, 0)).await;
    w.tick(START).await;
    let out = w.post("v1", ALICE, "video", &[P], &oct(3, 0)).await;
    assert_eq!(
        of_campaign(&all_rewards(&out), "after-unblock").len(),
        1,
        "the participation that existed before the second block finishes: {out:?}"
    );

    // Decision 1: a block at the instant of the join counts as earlier; a join
    // requested a second before the block, arriving after it, is accepted.
    let t = oct(5, 12);
    w.block(SELLER, BOB, &t).await;
    w.block(SELLER, CAROL, &t).await;
    assert_eq!(rejection(&w.join("before-block", BOB, &t).await), "blocked_by_seller");
    w.joined("before-block", CAROL, "2024-10-05T11:59:59Z").await;
    // Another seller's block does not count (V5).
    w.block(OTHER_SELLER, DAVE, &oct(5, 0)).await;
    w.joined("before-block", DAVE, &oct(5, 1)).await;
}

/// `reward.issued` outcomes as envelopes.
fn all_rewards(out: &[Value]) -> Vec<Value> {
    out.iter().filter(|o| o["type"] == "reward.issued").cloned().collect()
}

// ---------------------------------------------------------------------------
// J3, S2 — participation status, shipping and delivery
// ---------------------------------------------------------------------------

#[tokio::test]
async fn j3_s2_the_status_follows_delivered_samples_qualifying_content_finished_tasks_and_pauses() {
    let w = World::start().await;
    w.launch(task("k1", json!([content_task("any", 2)]))).await;
    w.tick(START).await;
    for c in [ALICE, BOB, CAROL] {
        w.joined("k1", c, &oct(2, 1)).await;
    }
    for (r, c) in [("r-a", ALICE), ("r-b", BOB), ("r-c", CAROL)] {
        approved(&w.request_sample(r, "k1", c, P, &oct(2, 2)).await);
    }

    // S2: shipping is recorded, nothing to announce.
    assert!(w.ship("r-a", &oct(3, 0)).await.is_empty());
    // J3: delivered and no qualifying content since joining → not_fulfilled.
    let out = w.deliver("r-a", &oct(4, 0)).await;
    assert_eq!(types(&out), ["participation.status_changed"]);
    let changed = first(&out, "participation.status_changed");
    assert_eq!(changed["campaign_id"], "k1");
    assert_eq!(changed["creator_id"], ALICE);
    assert_eq!(changed["status"], "not_fulfilled");
    // A second delivery of the same sample changes nothing.
    assert!(w.deliver("r-a", &oct(4, 1)).await.is_empty());
    // Content without the campaign's products does not qualify (T1).
    assert!(
        w.post("a0", ALICE, "video", &[P_OUTSIDE, Q], &oct(4, 2))
            .await
            .is_empty()
    );
    // Qualifying content → unfinished again; the second piece → finished (T2).
    let out = w.post("a1", ALICE, "video", &[P], &oct(5, 0)).await;
    assert_eq!(types(&out), ["participation.status_changed"]);
    assert_eq!(status_changes(&out), ["unfinished"]);
    let out = w.post("a2", ALICE, "video", &[P], &oct(6, 0)).await;
    assert_eq!(
        types(&out),
        ["task.finished", "participation.status_changed", "reward.issued"]
    );
    assert_eq!(status_changes(&out), ["finished"]);
    // A finished participation stays finished when a sample is delivered.
    approved(&w.request_sample("r-a2", "k1", ALICE, P, &oct(6, 1)).await);
    assert!(w.deliver("r-a2", &oct(7, 0)).await.is_empty());

    // Carol posted qualifying content (live, a campaign product) before the delivery.
    assert!(status_changes(&w.post("c1", CAROL, "live", &[P_PLAIN], &oct(3, 0)).await).is_empty());
    assert!(w.deliver("r-c", &oct(4, 0)).await.is_empty());

    // Bob: not fulfilled, then the seller pauses the connection → removed;
    // his content no longer counts (two pieces would finish the task).
    assert_eq!(status_changes(&w.deliver("r-b", &oct(4, 0)).await), ["not_fulfilled"]);
    let out = w.pause(BOB, &oct(5, 0)).await;
    assert_eq!(status_changes(&out), ["removed"]);
    let removed = first(&out, "participation.status_changed");
    assert_eq!(
        (removed["campaign_id"].clone(), removed["creator_id"].clone()),
        (json!("k1"), json!(BOB))
    );
    assert!(w.post("b1", BOB, "video", &[P], &oct(6, 0)).await.is_empty());
    assert!(w.post("b2", BOB, "video", &[P], &oct(6, 1)).await.is_empty());
}

// ---------------------------------------------------------------------------
// T1–T3 — task campaigns
// ---------------------------------------------------------------------------

#[tokio::test]
async fn t1_t2_qualifying_orders_make_progress_and_the_reward_is_issued_as_soon_as_every_task_is_done() {
    let w = World::start().await;
    // Alice and Carol: two video orders. Bob: 100.00 of GMV, any channel.
    w.launch(task("k-orders", json!([orders_task("video", 2)]))).await;
    w.launch(task("k-gmv", json!([gmv_task("any", "100.00")]))).await;
    w.tick(START).await;
    w.joined("k-orders", ALICE, &oct(3, 0)).await;
    w.joined("k-orders", CAROL, &oct(3, 0)).await;
    w.joined("k-gmv", BOB, &oct(3, 0)).await;

    // Orders that do not qualify for Alice's video-orders task.
    let before_join = w.sell("a-before-join", ALICE, "10.00", &oct(2, 12)).await;
    assert_eq!(rated(&before_join), rate("0.10", "open_collab", "1.00", "null"));
    w.sell_as("a-live", ALICE, "live", "10.00", &oct(4, 0)).await;
    w.sell_as("a-showcase", ALICE, "showcase", "10.00", &oct(4, 1)).await;
    let outside = w
        .when(
            "order.paid",
            &oct(4, 2),
            order("a-outside", SELLER, P_OUTSIDE, Some(ALICE), "10.00"),
        )
        .await;
    assert_eq!(rated(&outside), rate("0.10", "open_collab", "1.00", "null"));
    w.when(
        "order.paid",
        &oct(4, 3),
        order("a-other-seller", OTHER_SELLER, Q, Some(ALICE), "10.00"),
    )
    .await;
    let eur = w
        .when(
            "order.paid",
            &oct(4, 4),
            with(
                order("a-eur", SELLER, P, Some(ALICE), "10.00"),
                "currency",
                json!("EUR"),
            ),
        )
        .await;
    assert_eq!(rated(&eur), rate("0.15", "campaign", "1.50", "k-orders"));
    w.when("order.paid", &oct(4, 5), order("nobodys", SELLER, P, None, "10.00"))
        .await;
    // A cancelled order stops counting.
    assert_eq!(
        count(&w.sell("a-v1", ALICE, "10.00", &oct(5, 0)).await, "reward.issued"),
        0
    );
    w.cancel("a-v1", &oct(5, 1)).await;
    let out = w.sell("a-v2", ALICE, "10.00", &oct(6, 0)).await;
    assert_eq!(types(&out), ["commission.accrued"], "one qualifying order so far");
    // T2: the second qualifying order finishes the task during the campaign.
    let out = w.sell("a-v3", ALICE, "10.00", &oct(7, 0)).await;
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
    assert_eq!(finished["campaign_id"], "k-orders");
    assert_eq!(finished["creator_id"], ALICE);
    assert_at(&finished["finished_at"], &oct(7, 0));
    assert_eq!(status_changes(&out), ["finished"]);
    let reward = first(&out, "reward.issued");
    assert!(!text(&reward["reward_id"]).is_empty());
    assert_eq!(reward["campaign_id"], "k-orders");
    assert_eq!(rewards(&out), [task_reward(ALICE)]);
    assert_eq!(reward["currency"], "USD");
    assert!(
        w.env.outcomes.of_type("campaign.ended").is_empty(),
        "the reward comes during the campaign"
    );
    // Once finished, no second reward.
    let out = w.sell("a-v4", ALICE, "10.00", &oct(8, 0)).await;
    assert_eq!(types(&out), ["commission.accrued"]);

    // Bob's GMV is the base after refunds, of any channel.
    w.sell("b1", BOB, "80.00", &oct(4, 0)).await;
    w.refund("b1", "30.00", &oct(4, 1)).await;
    let out = w.sell_as("b2", BOB, "live", "40.00", &oct(4, 2)).await;
    assert_eq!(count(&out, "reward.issued"), 0, "50 + 40 < 100");
    let out = w.sell_as("b3", BOB, "showcase", "10.00", &oct(4, 3)).await;
    assert_eq!(rewards(&out), [task_reward(BOB)], "50 + 40 + 10 = 100");
    assert_eq!(first(&out, "reward.issued")["campaign_id"], "k-gmv");

    // Carol: a fully refunded order and an order paid at the end (before the
    // end tick) do not count.
    w.sell("c0", CAROL, "10.00", &oct(9, 0)).await;
    w.refund("c0", "10.00", &oct(9, 1)).await;
    let out = w.sell("c1", CAROL, "10.00", &oct(10, 0)).await;
    assert_eq!(count(&out, "reward.issued"), 0);
    let at_end = w.sell("c2", CAROL, "10.00", END).await;
    assert_eq!(rated(&at_end), rate("0.10", "open_collab", "1.00", "null"));
    assert_eq!(count(&at_end, "reward.issued"), 0);
    let out = w.tick(END).await;
    assert_eq!(count(&out, "campaign.settled"), 2, "{out:?}");
    assert_eq!(count(&out, "reward.issued"), 0);
    // Decision 22: no reward once the campaign is settled, even for an order
    // paid inside the window (it still earns the campaign rate, O2).
    let late = w.sell("c3", CAROL, "10.00", &oct(19, 0)).await;
    assert_eq!(rated(&late), rate("0.15", "campaign", "1.50", "k-orders"));
    assert_eq!(types(&late), ["commission.accrued"]);
}

#[tokio::test]
async fn t3_partial_completion_earns_nothing_and_the_unused_budget_is_refunded_at_settlement() {
    let w = World::start().await;
    w.launch(task("k1", json!([orders_task("any", 1), content_task("any", 1)])))
        .await;
    w.tick(START).await;
    w.joined("k1", ALICE, &oct(3, 0)).await;
    w.joined("k1", BOB, &oct(3, 0)).await;
    // Alice does one of the two tasks; Bob both.
    let out = w.sell("a1", ALICE, "10.00", &oct(4, 0)).await;
    assert_eq!(types(&out), ["commission.accrued"]);
    w.sell("b1", BOB, "10.00", &oct(4, 0)).await;
    let out = w.post("vb", BOB, "video", &[P], &oct(5, 0)).await;
    assert_eq!(rewards(&out), [task_reward(BOB)]);
    // O6: cancelling the order of a finished participation never takes the reward back.
    let out = w.cancel("b1", &oct(6, 0)).await;
    assert_eq!(types(&out), ["commission.cancelled"]);

    let out = w.tick(END).await;
    let k1 = of_campaign(&out, "k1");
    assert_eq!(count(&k1, "campaign.ended"), 1, "{out:?}");
    assert_eq!(count(&k1, "reward.issued"), 0);
    let settled = first(&k1, "campaign.settled");
    assert_eq!(settled["seller_id"], SELLER);
    assert_eq!(settled["deposit"], "30.00");
    assert_eq!(settled["rewards_total"], "10.00");
    assert_eq!(settled["charged"], "10.00");
    assert_eq!(settled["refunded"], "20.00");
    assert_eq!(settled["currency"], "USD");
    let unused = refunds(&out, "unused_budget");
    assert_eq!(unused.len(), 1, "{out:?}");
    assert_eq!(unused[0]["to"], "seller");
    assert_eq!(unused[0]["party_id"], SELLER);
    assert_eq!(unused[0]["campaign_id"], "k1");
    assert_eq!(unused[0]["amount"], "20.00");
    assert_eq!(unused[0]["currency"], "USD");
    assert_at(&unused[0]["due_by"], "2024-11-03T00:00:00Z");
    // A task campaign settles at its end, once.
    let out = w.tick(FINALIZED).await;
    assert!(of_campaign(&out, "k1").is_empty(), "{out:?}");
    assert_eq!(w.env.outcomes.of_type("reward.issued").len(), 1);
    // J1: a settled campaign takes no joins.
    assert_eq!(rejection(&w.join("k1", CAROL, &oct(21, 0)).await), "campaign_not_open");
}

// ---------------------------------------------------------------------------
// H1–H3 — challenges
// ---------------------------------------------------------------------------

#[tokio::test]
async fn h1_h2_h3_the_challenge_ranks_eligible_scores_after_the_finalization_lag() {
    let w = World::start().await;
    // GMV of video orders, at least 50.00 to be ranked.
    w.launch(challenge("h1", "gmv", json!("50.00"))).await;
    w.tick(START).await;
    for c in [ALICE, BOB, CAROL, DAVE, ERIN] {
        w.joined("h1", c, &oct(3, 0)).await;
    }
    // H1/H2: Alice scores 80 − 20 refunded = 60 of video GMV; her live and
    // showcase sales do not score. She is finished when her score is eligible.
    let out = w.sell("a1", ALICE, "80.00", &oct(4, 0)).await;
    assert_eq!(status_changes(&out), ["finished"]);
    assert_eq!(count(&out, "reward.issued"), 0, "rewards wait for the ranking");
    w.refund("a1", "20.00", &oct(4, 1)).await;
    assert!(status_changes(&w.sell_as("a2", ALICE, "live", "1000.00", &oct(4, 2)).await).is_empty());
    w.sell_as("a3", ALICE, "showcase", "1000.00", &oct(4, 3)).await;
    // Bob stays just below the minimum.
    assert!(status_changes(&w.sell("b1", BOB, "49.99", &oct(4, 4)).await).is_empty());
    // Carol's only order is cancelled: she stays finished but scores 0.
    assert_eq!(
        status_changes(&w.sell("c1", CAROL, "100.00", &oct(4, 5)).await),
        ["finished"]
    );
    assert!(status_changes(&w.cancel("c1", &oct(4, 6)).await).is_empty());
    // Dave leads but is platform-blocked: not eligible.
    w.sell("d1", DAVE, "300.00", &oct(4, 7)).await;
    w.platform_block(DAVE, &oct(10, 0)).await;
    // Erin scores 70 + 30 = 100.
    w.sell("e1", ERIN, "70.00", &oct(4, 8)).await;
    w.sell("e2", ERIN, "30.00", &oct(5, 0)).await;

    // K3: the end tick ends the challenge; finalization waits for the lag.
    let out = of_campaign(&w.tick(END).await, "h1");
    assert_eq!(types(&out), ["campaign.ended"]);
    assert!(of_campaign(&w.tick("2024-10-20T00:59:00Z").await, "h1").is_empty());
    let out = w.tick(FINALIZED).await;
    // H3: ranks by score; rank 3 has nobody and pays nothing.
    assert_eq!(ranking(&out), ranked(&[(ERIN, 1, "50.00"), (ALICE, 2, "20.00")]));
    let reward = first(&out, "reward.issued");
    assert_eq!(reward["campaign_id"], "h1");
    assert!(!text(&reward["reward_id"]).is_empty());
    let settled = first(&out, "campaign.settled");
    assert_eq!(settled["deposit"], "90.00");
    assert_eq!(settled["rewards_total"], "70.00");
    assert_eq!(settled["charged"], "70.00");
    assert_eq!(settled["refunded"], "20.00");
    let unused = refunds(&out, "unused_budget");
    assert_eq!(unused.len(), 1, "{out:?}");
    assert_eq!(unused[0]["amount"], "20.00");
    assert_at(&unused[0]["due_by"], "2024-11-03T01:00:00Z");
}

#[tokio::test]
async fn h3_ties_go_to_whoever_reached_the_score_earlier_then_to_the_smaller_creator_id() {
    let w = World::start().await;
    w.launch(challenge("h1", "gmv", json!("0.00"))).await;
    w.tick(START).await;
    for c in [ALICE, BOB, CAROL, DAVE] {
        w.joined("h1", c, &oct(3, 0)).await;
    }
    // Bob reaches 100 on Oct 5; Alice and Dave both reach 100 on Oct 6;
    // Carol has 50. Arrival order is not business order.
    w.sell("d1", DAVE, "100.00", &oct(6, 0)).await;
    w.sell("a1", ALICE, "60.00", &oct(4, 0)).await;
    w.sell("a2", ALICE, "40.00", &oct(6, 0)).await;
    w.sell("b1", BOB, "100.00", &oct(5, 0)).await;
    w.sell("c1", CAROL, "50.00", &oct(3, 1)).await;
    w.tick(END).await;
    let out = w.tick(FINALIZED).await;
    assert_eq!(
        ranking(&out),
        ranked(&[(BOB, 1, "50.00"), (ALICE, 2, "20.00"), (DAVE, 3, "20.00")])
    );
    let settled = first(&out, "campaign.settled");
    assert_eq!(settled["rewards_total"], "90.00");
    assert_eq!(settled["refunded"], "0.00");
    assert!(refunds(&out, "unused_budget").is_empty(), "{out:?}");
}

#[tokio::test]
async fn h1_h3_k3_a_late_order_counts_until_finalization_and_not_after_it() {
    // A finalization lag of 30 minutes instead of the default hour.
    let w = World::start_with(vec![("COLLAB_RULES__CHALLENGE_FINALIZATION_LAG_SECS", "1800")]).await;
    w.launch(challenge("h1", "orders", json!(1))).await;
    w.tick(START).await;
    for c in [ALICE, BOB, CAROL] {
        w.joined("h1", c, &oct(3, 0)).await;
    }
    w.sell("a1", ALICE, "10.00", &oct(4, 0)).await;
    w.sell("b1", BOB, "10.00", &oct(5, 0)).await;
    assert_eq!(types(&of_campaign(&w.tick(END).await, "h1")), ["campaign.ended"]);
    // After the end tick, before finalization: Bob's order paid in the last
    // second counts; Alice's orders paid at or after the end do not.
    let late = w.sell("b2", BOB, "10.00", LAST_SECOND).await;
    assert_eq!(rated(&late), rate("0.15", "campaign", "1.50", "h1"));
    let at_end = w.sell("a2", ALICE, "10.00", END).await;
    assert_eq!(rated(&at_end), rate("0.10", "open_collab", "1.00", "null"));
    w.sell("a3", ALICE, "10.00", "2024-10-20T00:10:00Z").await;
    assert!(of_campaign(&w.tick("2024-10-20T00:29:59Z").await, "h1").is_empty());
    let out = w.tick("2024-10-20T00:30:00Z").await;
    assert_eq!(ranking(&out), ranked(&[(BOB, 1, "50.00"), (ALICE, 2, "20.00")]));
    assert_eq!(first(&out, "campaign.settled")["refunded"], "20.00");

    // After finalization: Carol's order paid in the window changes nothing
    // (with it she would be eligible and finished).
    let out = w.sell("c1", CAROL, "10.00", &oct(19, 0)).await;
    assert_eq!(types(&out), ["commission.accrued"], "{out:?}");
    // A cancellation after finalization never takes a reward back.
    let out = w.cancel("b1", &oct(21, 0)).await;
    assert_eq!(count(&out, "reward.cancelled"), 0, "{out:?}");
    assert!(of_campaign(&w.tick(&oct(22, 0)).await, "h1").is_empty());
    assert_eq!(w.env.outcomes.of_type("reward.issued").len(), 2);
}

// ---------------------------------------------------------------------------
// S1 — free samples
// ---------------------------------------------------------------------------

#[tokio::test]
async fn s1_free_samples_are_pre_approved_until_the_fourth_request_and_rejections_come_in_rule_order() {
    let w = World::start().await;
    w.launch(unreachable_task("k1")).await;
    w.launch(unreachable_task("k2")).await;
    // Approved in a scheduled campaign, before the start.
    w.joined("k1", ALICE, &oct(1, 0)).await;
    approved(&w.request_sample("r1", "k1", ALICE, P, &oct(1, 1)).await);
    w.tick(START).await;
    // Rejections, each with the first failing reason.
    let out = w.request_sample("x-bob", "k1", BOB, P, &oct(4, 0)).await;
    assert_eq!(sample_rejection(&out), "not_participating");
    let rejected = first(&out, "sample.rejected");
    assert_eq!(rejected["request_id"], "x-bob");
    assert_eq!(rejected["campaign_id"], "k1");
    assert_eq!(rejected["creator_id"], BOB);
    assert_eq!(
        sample_rejection(&w.request_sample("x-nope", "nope", ALICE, P, &oct(4, 0)).await),
        "not_participating"
    );
    assert_eq!(
        sample_rejection(&w.request_sample("x-plain", "k1", ALICE, P_PLAIN, &oct(4, 0)).await),
        "sample_not_offered"
    );
    assert_eq!(
        sample_rejection(&w.request_sample("x-outside", "k1", ALICE, P_OUTSIDE, &oct(4, 0)).await),
        "sample_not_offered"
    );
    // Rejected requests do not count towards the limit of 3.
    let out = w.request_sample("r2", "k1", ALICE, P, &oct(4, 1)).await;
    approved(&out);
    let a = first(&out, "sample.approved");
    assert_eq!(a["request_id"], "r2");
    assert_eq!(a["campaign_id"], "k1");
    assert_eq!(a["creator_id"], ALICE);
    assert_eq!(a["product_id"], P);
    assert_eq!(a["status"], "ready_to_ship");
    approved(&w.request_sample("r3", "k1", ALICE, P, &oct(4, 2)).await);
    // The 4th request.
    let out = w.request_sample("r4", "k1", ALICE, P, &oct(4, 3)).await;
    assert_eq!(sample_rejection(&out), "sample_limit_reached");
    assert_eq!(first(&out, "sample.rejected")["request_id"], "r4");
    // At the limit, a product without samples is reported first.
    assert_eq!(
        sample_rejection(
            &w.request_sample("x-limit-plain", "k1", ALICE, P_PLAIN, &oct(4, 4))
                .await
        ),
        "sample_not_offered"
    );
    // The same request again (new event id) decides nothing.
    assert!(w.request_sample("r2", "k1", ALICE, P, &oct(4, 5)).await.is_empty());
    // The limit is per creator and campaign.
    w.joined("k2", ALICE, &oct(4, 6)).await;
    approved(&w.request_sample("k2-r1", "k2", ALICE, P, &oct(4, 7)).await);
    w.joined("k1", CAROL, &oct(4, 6)).await;
    approved(&w.request_sample("carol-r1", "k1", CAROL, P, &oct(4, 7)).await);
    // A participation removed by a pause is not participating.
    w.joined("k1", DAVE, &oct(4, 6)).await;
    w.pause(DAVE, &oct(4, 8)).await;
    assert_eq!(
        sample_rejection(&w.request_sample("x-dave", "k1", DAVE, P, &oct(4, 9)).await),
        "not_participating"
    );
    // After the end: closed before not offered; not participating before closed.
    w.tick(END).await;
    assert_eq!(
        sample_rejection(&w.request_sample("x-closed", "k1", CAROL, P_PLAIN, &oct(21, 0)).await),
        "campaign_not_open"
    );
    assert_eq!(
        sample_rejection(&w.request_sample("x-closed-bob", "k1", BOB, P_PLAIN, &oct(21, 0)).await),
        "not_participating"
    );
}

// ---------------------------------------------------------------------------
// S3, K4 — refundable samples
// ---------------------------------------------------------------------------

#[tokio::test]
async fn s3_k4_a_refundable_sample_is_refunded_when_its_units_reach_the_goal_or_expires_after_sixty_days() {
    let w = World::start().await;
    w.launch(unreachable_task("k1")).await;
    w.tick(START).await;
    for c in [ALICE, BOB, CAROL] {
        w.joined("k1", c, &oct(3, 0)).await;
    }
    let sample_refunds = |out: &[Value]| refunds(out, "refundable_sample");

    // Alice: goal 3 units of P, sold by her through any channel.
    assert!(w.purchase("rs-a", ALICE, &oct(4, 0)).await.is_empty());
    // A cancelled order, other products and other creators' sales do not count.
    assert!(sample_refunds(&w.sell_units("a-cancelled", ALICE, "video", 2, &oct(4, 1)).await).is_empty());
    assert!(sample_refunds(&w.cancel("a-cancelled", &oct(4, 2)).await).is_empty());
    assert!(sample_refunds(&w.sell_units("a1", ALICE, "video", 1, &oct(5, 0)).await).is_empty());
    assert!(sample_refunds(&w.sell_units("a2", ALICE, "showcase", 1, &oct(6, 0)).await).is_empty());
    w.when(
        "order.paid",
        &oct(6, 3),
        with(
            order("a-plain", SELLER, P_PLAIN, Some(ALICE), "10.00"),
            "quantity",
            json!(5),
        ),
    )
    .await;
    assert!(sample_refunds(&w.sell_units("c-other", CAROL, "video", 5, &oct(6, 4)).await).is_empty());
    let out = w.sell_units("a3", ALICE, "live", 1, &oct(7, 0)).await;
    let refund = sample_refunds(&out);
    assert_eq!(refund.len(), 1, "{out:?}");
    let r = &refund[0];
    assert!(!text(&r["refund_id"]).is_empty());
    assert_eq!(r["to"], "creator");
    assert_eq!(r["party_id"], ALICE);
    assert_eq!(r["campaign_id"], "k1");
    assert_eq!(r["amount"], "29.99");
    assert_eq!(r["currency"], "USD");
    assert_at(&r["due_by"], "2024-10-21T00:00:00Z");
    // Once.
    assert!(sample_refunds(&w.sell_units("a4", ALICE, "video", 3, &oct(8, 0)).await).is_empty());

    // Carol's window (from Oct 15) outlasts the campaign: open-collaboration
    // sales after its end count.
    w.purchase("rs-c", CAROL, &oct(15, 0)).await;
    w.sell_units("c1", CAROL, "video", 1, &oct(16, 0)).await;
    w.tick(END).await;
    let after = w.sell_units("c2", CAROL, "video", 1, &oct(25, 0)).await;
    assert_eq!(first(&after, "commission.accrued")["rate_source"], "open_collab");
    assert!(sample_refunds(&after).is_empty());
    let out = w.sell_units("c3", CAROL, "showcase", 1, "2024-11-20T00:00:00Z").await;
    assert_eq!(sample_refunds(&out).len(), 1, "{out:?}");
    assert_eq!(sample_refunds(&out)[0]["party_id"], CAROL);

    // K4: Bob sells 2 of 3 units before his deadline, Oct 4 + 60 days.
    w.purchase("rs-b", BOB, &oct(4, 0)).await;
    w.sell_units("b1", BOB, "video", 2, &oct(5, 0)).await;
    let out = w.tick("2024-12-02T23:59:59Z").await;
    assert_eq!(count(&out, "sample.refund_expired"), 0, "{out:?}");
    let out = w.tick("2024-12-03T00:01:00Z").await;
    assert_eq!(types(&out), ["sample.refund_expired"]);
    let expired = first(&out, "sample.refund_expired");
    assert_eq!(expired["refundable_id"], "rs-b");
    assert_eq!(expired["creator_id"], BOB);
    assert!(w.tick("2024-12-04T00:00:00Z").await.is_empty());
    // A late order paid inside the window changes nothing any more.
    let late = w.sell_units("b2", BOB, "video", 1, &oct(6, 0)).await;
    assert!(sample_refunds(&late).is_empty(), "{late:?}");
    assert_eq!(w.env.outcomes.of_type("sample.refund_expired").len(), 1);
}

// ---------------------------------------------------------------------------
// O2, O4 — commission rates inside campaigns
// ---------------------------------------------------------------------------

/// The seller changes P's open-collaboration rate at `at` (shop ads stay 5 %).
async fn set_open_rate(w: &World, r: &str, at: &str) {
    let mut p = product(P, SELLER, Some(r));
    p["open_collab_shop_ads_rate"] = json!("0.05");
    w.send("product.updated", at, p).await;
}

/// Worked example 1 of rules.md.
#[tokio::test]
async fn o2_worked_example_1_the_open_rate_then_the_exclusive_campaign_rate_then_the_lowered_open_rate() {
    let w = World::start().await;
    w.launch(unreachable_task("k1")).await;
    // Alice promotes P on open collaboration at 10 %, then joins.
    let oct1 = w.sell("oct-1", ALICE, "100.00", &oct(1, 10)).await;
    w.joined("k1", ALICE, &oct(1, 12)).await;
    w.tick(START).await;
    // The seller lowers P's open rate to 8 % on Oct 3.
    set_open_rate(&w, "0.08", &oct(3, 0)).await;
    let oct3 = w.sell("oct-3", ALICE, "100.00", &oct(3, 12)).await;
    w.tick(END).await;
    let oct21 = w.sell("oct-21", ALICE, "100.00", &oct(21, 12)).await;
    assert_eq!(rated(&oct1), rate("0.10", "open_collab", "10.00", "null"));
    assert_eq!(rated(&oct3), rate("0.15", "campaign", "15.00", "k1"));
    assert_eq!(rated(&oct21), rate("0.08", "open_collab", "8.00", "null"));
    let a = first(&oct3, "commission.accrued");
    assert_eq!(a["base_amount"], "100.00");
    assert_eq!(a["creator_id"], ALICE);
    assert_eq!(a["seller_id"], SELLER);
    assert_eq!(a["product_id"], P);
    assert_eq!(a["currency"], "USD");
}

#[tokio::test]
async fn o2_o4_the_highest_campaign_rate_wins_ties_go_to_the_earliest_start_and_shop_ads_follow_the_campaign() {
    let w = World::start().await;
    // Budgets of 100.00 (capacity 10). k-open sets no rates; k-20 sets 20 % and
    // 9 % shop ads; k-15 and sooner 15 % and 8 %, sooner starting on Oct 1.
    let big = |k: Value| with(k, "budget", json!("100.00"));
    let mut k_open = big(unreachable_task("k-open"));
    k_open["products"][0]["commission_rate"] = Value::Null;
    k_open["products"][0]["shop_ads_rate"] = Value::Null;
    let mut k20 = big(unreachable_task("k-20"));
    k20["products"][0]["commission_rate"] = json!("0.20");
    k20["products"][0]["shop_ads_rate"] = json!("0.09");
    w.launch(k_open).await;
    w.launch(big(unreachable_task("k-15"))).await;
    w.launch(k20).await;
    w.launch(with(big(unreachable_task("sooner")), "starts_at", json!(oct(1, 0))))
        .await;
    w.tick(&oct(1, 0)).await;
    w.tick(START).await;
    for k in ["k-open", "k-15", "k-20"] {
        w.joined(k, ALICE, &oct(3, 0)).await;
    }
    w.joined("k-15", BOB, &oct(3, 0)).await;
    w.joined("sooner", BOB, &oct(3, 0)).await;
    w.joined("k-open", CAROL, &oct(3, 0)).await;
    w.joined("k-15", DAVE, &oct(3, 0)).await;
    w.joined("k-15", ERIN, &oct(3, 0)).await;

    // O2.3: the highest rate wins.
    let out = w.sell("a1", ALICE, "100.00", &oct(4, 0)).await;
    assert_eq!(rated(&out), rate("0.20", "campaign", "20.00", "k-20"));
    // Equal rates: the campaign that started first; also at a 0 rate.
    let out = w.sell("b1", BOB, "100.00", &oct(4, 0)).await;
    assert_eq!(rated(&out), rate("0.15", "campaign", "15.00", "sooner"));
    let out = w
        .when(
            "order.paid",
            &oct(4, 0),
            order("b-plain", SELLER, P_PLAIN, Some(BOB), "100.00"),
        )
        .await;
    assert_eq!(rated(&out), rate("0", "campaign", "0.00", "sooner"));
    // A campaign without its own rate: P's current open rate, as `campaign`.
    let out = w.sell("c1", CAROL, "100.00", &oct(4, 0)).await;
    assert_eq!(rated(&out), rate("0.10", "campaign", "10.00", "k-open"));
    set_open_rate(&w, "0.08", &oct(5, 0)).await;
    let out = w.sell("c2", CAROL, "100.00", &oct(5, 12)).await;
    assert_eq!(rated(&out), rate("0.08", "campaign", "8.00", "k-open"));
    // Other products of the seller and orders before joining: open collaboration.
    let out = w
        .when(
            "order.paid",
            &oct(4, 0),
            order("a-outside", SELLER, P_OUTSIDE, Some(ALICE), "100.00"),
        )
        .await;
    assert_eq!(rated(&out), rate("0.10", "open_collab", "10.00", "null"));
    let out = w.sell("e-before-join", ERIN, "100.00", &oct(2, 12)).await;
    assert_eq!(rated(&out), rate("0.10", "open_collab", "10.00", "null"));

    // O4: shop-ads orders from ads-authorized content.
    w.post("ad-a", ALICE, "video", &[P], &oct(3, 1)).await;
    w.post("ad-c", CAROL, "video", &[P], &oct(3, 1)).await;
    w.post("ad-d", DAVE, "video", &[P], &oct(3, 1)).await;
    w.post("ad-e", ERIN, "video", &[P], &oct(3, 1)).await;
    w.post_ads("ad-x", ALICE, "video", &[P], false, &oct(3, 1)).await;
    let out = w.sell_via_ads("a-ads", ALICE, "ad-a", &oct(6, 0)).await;
    assert_eq!(rated(&out), rate("0.20", "campaign", "20.00", "k-20"));
    assert_eq!(shop_ads(&out), ["0.09", "9.00"]);
    // The campaign chosen sets no shop-ads rate: the open shop-ads rate.
    let out = w.sell_via_ads("c-ads", CAROL, "ad-c", &oct(6, 0)).await;
    assert_eq!(rated(&out), rate("0.08", "campaign", "8.00", "k-open"));
    assert_eq!(shop_ads(&out), ["0.05", "5.00"]);
    // Content not ads-authorized, or an order not via shop ads: nothing.
    let out = w.sell_via_ads("a-unauthorized", ALICE, "ad-x", &oct(6, 1)).await;
    assert_eq!(shop_ads(&out), ["0", "0.00"]);
    let out = w.sell("a-organic", ALICE, "100.00", &oct(6, 2)).await;
    assert_eq!(shop_ads(&out), ["0", "0.00"]);
    // O2.1/O2.2 come before the campaign, and O4 pays no shop ads with them.
    w.pause(DAVE, &oct(7, 0)).await;
    let out = w.sell_via_ads("d-paused", DAVE, "ad-d", &oct(7, 1)).await;
    assert_eq!(rated(&out), rate("0", "connection_paused", "0.00", "null"));
    assert_eq!(shop_ads(&out), ["0", "0.00"]);
    w.platform_block(ERIN, &oct(7, 0)).await;
    let out = w.sell_via_ads("e-blocked", ERIN, "ad-e", &oct(7, 1)).await;
    assert_eq!(rated(&out), rate("0", "platform_blocked", "0.00", "null"));
    assert_eq!(shop_ads(&out), ["0", "0.00"]);
    // After the campaigns: the open rates again.
    w.tick(END).await;
    let out = w.sell_via_ads("a-after", ALICE, "ad-a", &oct(21, 0)).await;
    assert_eq!(rated(&out), rate("0.08", "open_collab", "8.00", "null"));
    assert_eq!(shop_ads(&out), ["0.05", "5.00"]);
}
