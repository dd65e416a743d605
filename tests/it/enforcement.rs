//! Community-guideline enforcement (V1–V7) end to end: demotion, notices,
//! paused connections, disputes, platform blocks, partnerships, worked
//! example 3, late orders, and the high-risk participation metric.
//!
//! Every event gets a fresh id (`ev-<n>-<type>`), so what one event did is the set of
//! outcomes whose `causationid` is that id. What must *not* happen is checked
//! after a marker: a later event whose outcome arrives only once everything
//! published before it has been applied and its outcomes relayed.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::*;

/// Products, creator profiles and creator groups are described at this time.
const CATALOGUE: &str = "2026-09-01T00:00:00Z";
/// Campaigns are submitted and paid at this time.
const SUBMITTED: &str = "2026-09-20T00:00:00Z";
/// Every campaign runs Oct 2 – Oct 20.
const K_START: &str = "2026-10-02T00:00:00Z";
const K_END: &str = "2026-10-20T00:00:00Z";
/// The challenge finalization tick (`ends_at` + the default 1 hour lag).
const K_FINAL: &str = "2026-10-20T01:00:00Z";

/// `2026-10-<day>T<hour>:00:00Z`
fn oct(day: u32, hour: u32) -> String {
    format!("2026-10-{day:02}T{hour:02}:00:00Z")
}

// ---------------------------------------------------------------------------
// The world: a test environment that numbers its events
// ---------------------------------------------------------------------------

/// The common [`crate::common::World`], with this file's helpers.
struct World(crate::common::World);

impl std::ops::Deref for World {
    type Target = crate::common::World;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl World {
    async fn start() -> World {
        World(crate::common::World::open(Vec::new(), Marker::Partnership, CATALOGUE).await)
    }

    async fn product(&self, id: &str, seller: &str, open_rate: Option<&str>) {
        self.send("product.updated", CATALOGUE, product(id, seller, open_rate))
            .await;
    }

    async fn partnership(&self, seller: &str, creator: &str, rate: &str, at: &str) -> String {
        self.send(
            "partnership.established",
            at,
            json!({ "seller_id": seller, "creator_id": creator, "commission_rate": rate }),
        )
        .await
    }

    async fn pause(&self, seller: &str, creator: &str, at: &str) -> String {
        self.send("partnership.paused", at, pair(seller, creator)).await
    }

    async fn violation(&self, violation: &str, creator: &str, at: &str) -> String {
        self.send(
            "creator.violation_reported",
            at,
            json!({ "violation_id": violation, "creator_id": creator, "guideline": "misleading_claims" }),
        )
        .await
    }

    async fn block(&self, creator: &str, at: &str) -> String {
        self.send(
            "creator.platform_blocked",
            at,
            json!({ "creator_id": creator, "reason": "fraud" }),
        )
        .await
    }

    async fn open_dispute(&self, dispute: &str, seller: &str, creator: &str, at: &str) -> String {
        self.send(
            "dispute.opened",
            at,
            json!({ "dispute_id": dispute, "seller_id": seller, "creator_id": creator }),
        )
        .await
    }

    async fn resolve_dispute(&self, dispute: &str, cancelled: &[&str], at: &str) -> String {
        self.send(
            "dispute.resolved",
            at,
            json!({ "dispute_id": dispute, "cancelled_order_ids": cancelled }),
        )
        .await
    }

    /// An attributed order of `amount` USD paid at `at`.
    async fn pay(&self, order_id: &str, seller: &str, product: &str, creator: &str, amount: &str, at: &str) -> String {
        self.send(
            "order.paid",
            at,
            order(order_id, seller, product, Some(creator), amount),
        )
        .await
    }

    async fn settle(&self, order_id: &str, at: &str) -> String {
        self.send("order.settled", at, json!({ "order_id": order_id })).await
    }

    /// A creator profile (described at [`CATALOGUE`]) with a fake-order risk.
    async fn profile(&self, creator: &str, risk: &str) {
        self.send(
            "creator.updated",
            CATALOGUE,
            json!({
                "creator_id": creator, "level": 3, "followers": 1000, "categories": ["beauty"],
                "content_types": ["video"], "avg_commission_rate": "0.1", "fake_order_risk": risk
            }),
        )
        .await;
    }

    /// Submits and pays a campaign of `seller` (on Sep 20, running Oct 2 –
    /// Oct 20, budget 100.00 USD) whose group matches every creator with a
    /// profile. `plan` is its `task` or `challenge` part.
    async fn campaign(&self, id: &str, seller: &str, products: &[(&str, Option<&str>)], plan: (&str, Value)) {
        self.send(
            "creator_group.saved",
            CATALOGUE,
            json!({ "seller_id": seller, "group_id": "everyone", "name": "everyone", "criteria": {} }),
        )
        .await;
        let products: Vec<Value> = products
            .iter()
            .map(|(p, rate)| json!({ "product_id": p, "commission_rate": rate, "free_sample": false }))
            .collect();
        let (kind, plan_data) = plan;
        let mut submitted = json!({
            "campaign_id": id, "seller_id": seller, "type": kind, "title": id,
            "starts_at": K_START, "ends_at": K_END, "creator_group_id": "everyone", "currency": "USD",
            "budget": "100.00", "prompt_ads_authorization": false, "products": products
        });
        submitted[kind] = plan_data;
        self.send("campaign.submitted", SUBMITTED, submitted).await;
        self.send(
            "payment.succeeded",
            SUBMITTED,
            json!({
                "payment_id": format!("PAY-{id}"), "campaign_id": id, "seller_id": seller,
                "amount": "100.00", "currency": "USD", "method": "credit_card"
            }),
        )
        .await;
    }

    /// A task campaign: reward 10.00 for `target` orders of any content type
    /// (capacity 10). A target of 1000 keeps rewards out of the way.
    async fn task_campaign(&self, id: &str, seller: &str, products: &[(&str, Option<&str>)], target: u32) {
        self.task_campaign_of(id, seller, products, "orders", target).await;
    }

    /// A task campaign whose one task is `target` orders or contents (`kind`).
    async fn task_campaign_of(
        &self,
        id: &str,
        seller: &str,
        products: &[(&str, Option<&str>)],
        kind: &str,
        target: u32,
    ) {
        let task = json!({ "reward": "10.00", "tasks": [{ "kind": kind, "content_type": "any", "target": target }] });
        self.campaign(id, seller, products, ("task", task)).await;
    }

    /// A video linking `products`, ads not authorized.
    async fn post(&self, content: &str, creator: &str, products: &[&str], at: &str) -> String {
        self.send(
            "content.posted",
            at,
            json!({
                "content_id": content, "creator_id": creator, "content_type": "video",
                "product_ids": products, "ads_authorized": false
            }),
        )
        .await
    }

    /// A challenge on the number of video orders (at least 1): rank 1 gets
    /// 50.00, ranks 2–3 get 25.00 each.
    async fn challenge_campaign(&self, id: &str, seller: &str, products: &[(&str, Option<&str>)]) {
        let challenge = json!({
            "metric": "orders", "content_types": ["video"], "min_value": 1,
            "rank_rewards": [
                { "from_rank": 1, "to_rank": 1, "amount_each": "50.00" },
                { "from_rank": 2, "to_rank": 3, "amount_each": "25.00" }
            ]
        });
        self.campaign(id, seller, products, ("challenge", challenge)).await;
    }

    /// The tick at `starts_at`; waits until every campaign has started.
    async fn start_campaigns(&self, ids: &[&str]) {
        self.send("clock.ticked", K_START, json!({ "now": K_START })).await;
        let all = self
            .env
            .outcomes
            .wait_until("the campaigns to start", |all| {
                let refused = all
                    .iter()
                    .any(|o| o["type"] == "campaign.rejected" || o["type"] == "payment.rejected");
                let started = ids.iter().all(|id| {
                    all.iter()
                        .any(|o| o["type"] == "campaign.started" && o["data"]["campaign_id"] == *id)
                });
                refused || started
            })
            .await;
        let refused: Vec<&Value> = all
            .iter()
            .filter(|o| o["type"] == "campaign.rejected" || o["type"] == "payment.rejected")
            .collect();
        assert!(refused.is_empty(), "a campaign set-up was refused: {refused:?}");
    }

    async fn tick(&self, now: &str) -> String {
        self.send("clock.ticked", now, json!({ "now": now })).await
    }

    async fn request_join(&self, campaign: &str, creator: &str, at: &str) -> String {
        self.send(
            "creator.join_requested",
            at,
            json!({ "campaign_id": campaign, "creator_id": creator }),
        )
        .await
    }

    /// A low-risk profile and a join at [`K_START`], which must be accepted.
    async fn join(&self, campaign: &str, creator: &str) {
        self.profile(creator, "low").await;
        let id = self.request_join(campaign, creator, K_START).await;
        let data = self
            .env
            .outcomes
            .wait_until(&format!("the answer to {creator} joining {campaign}"), |all| {
                all.iter().any(|o| o["causationid"] == id.as_str())
            })
            .await;
        let answer: Vec<&Value> = data.iter().filter(|o| o["causationid"] == id.as_str()).collect();
        assert_eq!(
            answer.first().map(|o| o["type"].clone()),
            Some(json!("participation.accepted")),
            "{creator} joining {campaign}: {answer:?}"
        );
    }
}

fn pair(seller: &str, creator: &str) -> Value {
    json!({ "seller_id": seller, "creator_id": creator })
}

// ---------------------------------------------------------------------------
// Reading outcomes
// ---------------------------------------------------------------------------

fn text(value: &Value) -> String {
    value.as_str().map(str::to_owned).unwrap_or_else(|| value.to_string())
}

/// Outcome types, sorted.
fn types(out: &[Value]) -> Vec<String> {
    let mut types: Vec<String> = out.iter().map(|o| text(&o["type"])).collect();
    types.sort();
    types
}

/// Data of every outcome of a type.
fn data(out: &[Value], type_name: &str) -> Vec<Value> {
    out.iter()
        .filter(|o| o["type"] == type_name)
        .map(|o| o["data"].clone())
        .collect()
}

/// Data of the one outcome of a type.
fn one(out: &[Value], type_name: &str) -> Value {
    let found = data(out, type_name);
    assert_eq!(found.len(), 1, "one {type_name} expected among {:?}", types(out));
    found.into_iter().next().unwrap_or_default()
}

/// Values of a field over the outcomes of a type, sorted.
fn field_of(out: &[Value], type_name: &str, field: &str) -> Vec<String> {
    let mut values: Vec<String> = data(out, type_name).iter().map(|d| text(&d[field])).collect();
    values.sort();
    values
}

fn orders_in(out: &[Value], type_name: &str) -> Vec<String> {
    field_of(out, type_name, "order_id")
}

/// The O2–O5 decision of the one accrued commission: `[rate, rate_source, amount]`.
fn rated(out: &[Value]) -> [String; 3] {
    let a = one(out, "commission.accrued");
    [text(&a["rate"]), text(&a["rate_source"]), text(&a["amount"])]
}

// ---------------------------------------------------------------------------
// V1 — demotion
// ---------------------------------------------------------------------------

#[tokio::test]
async fn v1_a_violation_demotes_the_creator_and_cancels_only_pending_open_collaboration_commissions() {
    // given C1's commissions: pending open_collab (S-OPEN), pending zero (S-OPEN, product off open
    // collaboration), pending partnership (S-PARTNER), pending campaign (S-CAMP), payable open_collab (S-PAID)
    let w = World::start().await;
    for (p, seller) in [
        ("P-OPEN", "S-OPEN"),
        ("P-PARTNER", "S-PARTNER"),
        ("P-CAMP", "S-CAMP"),
        ("P-PAID", "S-PAID"),
    ] {
        w.product(p, seller, Some("0.10")).await;
    }
    w.product("P-NONE", "S-OPEN", None).await;
    w.task_campaign("K-CAMP", "S-CAMP", &[("P-CAMP", Some("0.20"))], 1000)
        .await;
    w.start_campaigns(&["K-CAMP"]).await;
    w.join("K-CAMP", "C1").await;
    w.partnership("S-PARTNER", "C1", "0.12", &oct(1, 0)).await;
    let o_open = w.pay("O-OPEN", "S-OPEN", "P-OPEN", "C1", "100.00", &oct(3, 0)).await;
    let o_none = w.pay("O-NONE", "S-OPEN", "P-NONE", "C1", "100.00", &oct(3, 0)).await;
    let o_partner = w
        .pay("O-PARTNER", "S-PARTNER", "P-PARTNER", "C1", "100.00", &oct(3, 0))
        .await;
    let o_camp = w.pay("O-CAMP", "S-CAMP", "P-CAMP", "C1", "100.00", &oct(3, 0)).await;
    w.pay("O-PAID", "S-PAID", "P-PAID", "C1", "100.00", &oct(3, 0)).await;
    let s_paid = w.settle("O-PAID", &oct(4, 0)).await;

    // when a violation is reported on Oct 10
    let v = w.violation("V-1", "C1", &oct(10, 0)).await;
    // (and, later: orders with each seller, settlements, and the same violation again)
    let later_open = w.pay("O2-OPEN", "S-OPEN", "P-OPEN", "C1", "100.00", &oct(11, 0)).await;
    let later_partner = w
        .pay("O2-PARTNER", "S-PARTNER", "P-PARTNER", "C1", "100.00", &oct(11, 0))
        .await;
    let later_camp = w.pay("O2-CAMP", "S-CAMP", "P-CAMP", "C1", "100.00", &oct(11, 0)).await;
    let settle_open = w.settle("O-OPEN", &oct(12, 0)).await;
    let settle_partner = w.settle("O-PARTNER", &oct(12, 0)).await;
    let settle_camp = w.settle("O-CAMP", &oct(12, 0)).await;
    let again = w.violation("V-1", "C1", &oct(12, 0)).await;
    w.sync().await;

    // then the commissions were as described
    assert_eq!(rated(&w.caused(&o_open)), ["0.10", "open_collab", "10.00"]);
    assert_eq!(rated(&w.caused(&o_none)), ["0", "none", "0.00"]);
    assert_eq!(rated(&w.caused(&o_partner)), ["0.12", "partnership", "12.00"]);
    assert_eq!(rated(&w.caused(&o_camp)), ["0.20", "campaign", "20.00"]);
    assert_eq!(types(&w.caused(&s_paid)), ["commission.payable"]);

    // and the violation demoted C1 and cancelled only the pending open_collab commission (violation)
    let out = w.caused(&v);
    assert_eq!(
        one(&out, "commission.demoted"),
        json!({ "creator_id": "C1", "violation_id": "V-1", "rate": "0" })
    );
    let cancelled = one(&out, "commission.cancelled");
    assert_eq!(cancelled["order_id"], "O-OPEN");
    assert_eq!(cancelled["reason"], "violation");
    assert_eq!(
        cancelled["commission_id"],
        one(&w.caused(&o_open), "commission.accrued")["commission_id"]
    );
    // (V2: the partner and the campaign seller are notified; nothing else happens)
    assert_eq!(
        types(&out),
        [
            "commission.cancelled",
            "commission.demoted",
            "seller.violation_notice",
            "seller.violation_notice"
        ]
    );

    // and later open-collaboration orders earn 0 (demoted); partnership and campaign rates still apply
    assert_eq!(rated(&w.caused(&later_open)), ["0", "demoted", "0.00"]);
    assert_eq!(rated(&w.caused(&later_partner)), ["0.12", "partnership", "12.00"]);
    assert_eq!(rated(&w.caused(&later_camp)), ["0.20", "campaign", "20.00"]);
    assert_eq!(
        one(&w.caused(&later_camp), "commission.accrued")["campaign_id"],
        "K-CAMP"
    );

    // and the cancelled commission is never paid; the partnership and campaign ones are, on settlement
    assert!(
        w.caused(&settle_open).is_empty(),
        "{:?}",
        types(&w.caused(&settle_open))
    );
    for (settled, amount) in [(&settle_partner, "12.00"), (&settle_camp, "20.00")] {
        let payable = one(&w.caused(settled), "commission.payable");
        assert_eq!(
            [text(&payable["reason"]), text(&payable["amount"])],
            ["settled", amount]
        );
    }

    // and the same violation reported again (new event id) changes nothing
    assert!(w.caused(&again).is_empty(), "{:?}", types(&w.caused(&again)));
    assert_eq!(w.all_of("commission.demoted").len(), 1);
}

// ---------------------------------------------------------------------------
// V2 — notices
// ---------------------------------------------------------------------------

#[tokio::test]
async fn v2_violation_notices_go_exactly_to_partners_and_campaign_sellers_whose_connections_continue() {
    // given C1 partnered with S-PARTNER; in S-CAMP's campaign; selling for S-OPEN on open collaboration;
    // partnered with S-PAUSED, which paused; in S-REMOVED's campaign, removed by a pause; and blocked by
    // S-BLOCKLIST before asking to join its campaign (rejected)
    let w = World::start().await;
    for (p, seller) in [
        ("P-PARTNER", "S-PARTNER"),
        ("P-CAMP", "S-CAMP"),
        ("P-OPEN", "S-OPEN"),
        ("P-PAUSED", "S-PAUSED"),
        ("P-REMOVED", "S-REMOVED"),
        ("P-BLOCKLIST", "S-BLOCKLIST"),
    ] {
        w.product(p, seller, Some("0.10")).await;
    }
    w.task_campaign("K-CAMP", "S-CAMP", &[("P-CAMP", Some("0.20"))], 1000)
        .await;
    w.task_campaign("K-REMOVED", "S-REMOVED", &[("P-REMOVED", Some("0.20"))], 1000)
        .await;
    w.task_campaign("K-BLOCKLIST", "S-BLOCKLIST", &[("P-BLOCKLIST", Some("0.20"))], 1000)
        .await;
    w.send("seller.creator_blocked", &oct(1, 0), pair("S-BLOCKLIST", "C1"))
        .await;
    w.start_campaigns(&["K-CAMP", "K-REMOVED", "K-BLOCKLIST"]).await;
    w.join("K-CAMP", "C1").await;
    w.join("K-REMOVED", "C1").await;
    let blocklisted = w.request_join("K-BLOCKLIST", "C1", K_START).await;
    w.partnership("S-PARTNER", "C1", "0.12", &oct(1, 0)).await;
    w.partnership("S-PAUSED", "C1", "0.12", &oct(1, 0)).await;
    w.pay("O-OPEN", "S-OPEN", "P-OPEN", "C1", "100.00", &oct(3, 0)).await;
    w.pause("S-PAUSED", "C1", &oct(4, 0)).await;
    let removed = w.pause("S-REMOVED", "C1", &oct(4, 0)).await;

    // when a violation is reported
    let v = w.violation("V-1", "C1", &oct(10, 0)).await;
    let partner = w
        .pay("O-PARTNER", "S-PARTNER", "P-PARTNER", "C1", "100.00", &oct(11, 0))
        .await;
    let camp = w.pay("O-CAMP", "S-CAMP", "P-CAMP", "C1", "100.00", &oct(11, 0)).await;
    w.sync().await;
    assert_eq!(
        one(&w.caused(&blocklisted), "participation.rejected")["reason"],
        "blocked_by_seller"
    );
    assert_eq!(
        one(&w.caused(&removed), "participation.status_changed")["status"],
        "removed"
    );

    // then exactly S-PARTNER and S-CAMP are notified, with the three options
    let out = w.caused(&v);
    assert_eq!(
        field_of(&out, "seller.violation_notice", "seller_id"),
        ["S-CAMP", "S-PARTNER"]
    );
    for notice in data(&out, "seller.violation_notice") {
        assert_eq!(notice["creator_id"], "C1");
        assert_eq!(notice["violation_id"], "V-1");
        assert_eq!(notice["options"], json!(["pause", "dispute", "none"]));
    }
    // and nothing about their connections changes: no participation status, no payout
    assert_eq!(
        types(&out),
        [
            "commission.cancelled",
            "commission.demoted",
            "seller.violation_notice",
            "seller.violation_notice"
        ]
    );

    // and those connections continue unchanged until the seller acts
    assert_eq!(rated(&w.caused(&partner)), ["0.12", "partnership", "12.00"]);
    assert_eq!(rated(&w.caused(&camp)), ["0.20", "campaign", "20.00"]);
}

// ---------------------------------------------------------------------------
// V3 — pause
// ---------------------------------------------------------------------------

#[tokio::test]
async fn v3_a_pause_pays_out_pending_partnership_and_campaign_commissions_and_ends_the_connection() {
    // given S1's products P1 (in C1's 20 % campaign K1) and Q1 (open 10 %), S1's campaign K2 that C1 did
    // not join, and S1's one-video task campaign K3 that C1 and C2 joined; C1 sold Q1 on open
    // collaboration before partnering with S1 at 12 % on Oct 2, then sold Q1 (partnership) and P1
    // (campaign); C1 also has a pending partnership commission with S2
    let w = World::start().await;
    w.product("P1", "S1", Some("0.10")).await;
    w.product("Q1", "S1", Some("0.10")).await;
    w.product("P2", "S2", Some("0.10")).await;
    w.product("R1", "S1", Some("0.10")).await;
    w.task_campaign("K1", "S1", &[("P1", Some("0.20"))], 1000).await;
    w.task_campaign("K2", "S1", &[("P1", Some("0.25"))], 1000).await;
    w.task_campaign_of("K3", "S1", &[("R1", Some("0.20"))], "content", 1)
        .await;
    w.start_campaigns(&["K1", "K2", "K3"]).await;
    w.join("K1", "C1").await;
    w.join("K3", "C1").await;
    w.join("K3", "C2").await;
    let o_open = w.pay("O-OPEN", "S1", "Q1", "C1", "100.00", &oct(1, 12)).await;
    w.partnership("S1", "C1", "0.12", &oct(2, 0)).await;
    w.partnership("S2", "C1", "0.12", &oct(2, 0)).await;
    let o_partner = w.pay("O-PARTNER", "S1", "Q1", "C1", "100.00", &oct(3, 0)).await;
    let o_camp = w.pay("O-CAMP", "S1", "P1", "C1", "100.00", &oct(3, 0)).await;
    let o_other = w.pay("O-OTHER", "S2", "P2", "C1", "100.00", &oct(3, 0)).await;

    // when S1 pauses the connection on Oct 5
    let paused = w.pause("S1", "C1", &oct(5, 0)).await;
    // (and, later: orders, a new partnership, joins, settlements, the same pause again)
    let later_q = w.pay("O-LATER-Q", "S1", "Q1", "C1", "100.00", &oct(6, 0)).await;
    let later_p = w.pay("O-LATER-P", "S1", "P1", "C1", "100.00", &oct(6, 0)).await;
    let partnered = w.partnership("S1", "C1", "0.15", &oct(7, 0)).await;
    let rejoin = w.request_join("K1", "C1", &oct(7, 0)).await;
    let join_other = w.request_join("K2", "C1", &oct(7, 0)).await;
    let settle_open = w.settle("O-OPEN", &oct(8, 0)).await;
    let settle_other = w.settle("O-OTHER", &oct(8, 0)).await;
    let settle_partner = w.settle("O-PARTNER", &oct(8, 0)).await;
    let settle_later = w.settle("O-LATER-Q", &oct(8, 0)).await;
    let again = w.pause("S1", "C1", &oct(9, 0)).await;
    let c1_posts = w.post("V-C1", "C1", &["R1"], &oct(6, 0)).await;
    let c2_posts = w.post("V-C2", "C2", &["R1"], &oct(6, 0)).await;
    w.sync().await;
    assert_eq!(rated(&w.caused(&o_open)), ["0.10", "open_collab", "10.00"]);
    assert_eq!(rated(&w.caused(&o_partner)), ["0.12", "partnership", "12.00"]);
    assert_eq!(rated(&w.caused(&o_camp)), ["0.20", "campaign", "20.00"]);
    assert_eq!(rated(&w.caused(&o_other)), ["0.12", "partnership", "12.00"]);

    // then the pair's partnership and campaign commissions are payable at once (connection_paused),
    // C1's participations in K1 and K3 are removed, and nothing else happens
    let out = w.caused(&paused);
    assert_eq!(
        types(&out),
        [
            "commission.payable",
            "commission.payable",
            "participation.status_changed",
            "participation.status_changed"
        ]
    );
    assert_eq!(orders_in(&out, "commission.payable"), ["O-CAMP", "O-PARTNER"]);
    for payable in data(&out, "commission.payable") {
        assert_eq!(payable["reason"], "connection_paused");
        assert_eq!(payable["creator_id"], "C1");
        assert_eq!(payable["currency"], "USD");
        assert_eq!(payable["shop_ads_amount"], "0.00");
        let expected = if payable["order_id"] == "O-CAMP" {
            "20.00"
        } else {
            "12.00"
        };
        assert_eq!(payable["amount"], expected);
    }
    let mut removed = data(&out, "participation.status_changed");
    removed.sort_by_key(|d| text(&d["campaign_id"]));
    assert_eq!(
        removed,
        [
            json!({ "campaign_id": "K1", "creator_id": "C1", "status": "removed" }),
            json!({ "campaign_id": "K3", "creator_id": "C1", "status": "removed" })
        ]
    );

    // and a removed participation stops counting: C1's video does not finish K3's task, C2's does
    assert!(w.caused(&c1_posts).is_empty(), "{:?}", types(&w.caused(&c1_posts)));
    let finished = w.caused(&c2_posts);
    assert_eq!(one(&finished, "task.finished")["creator_id"], "C2");
    let reward = one(&finished, "reward.issued");
    assert_eq!(
        [
            text(&reward["campaign_id"]),
            text(&reward["creator_id"]),
            text(&reward["amount"])
        ],
        ["K3", "C2", "10.00"]
    );

    // and later orders with S1 earn 0 (connection_paused), with no campaign
    for later in [&later_q, &later_p] {
        let out = w.caused(later);
        assert_eq!(rated(&out), ["0", "connection_paused", "0.00"]);
        assert_eq!(one(&out, "commission.accrued")["campaign_id"], Value::Null);
    }

    // and a new partnership and joins to S1's campaigns are rejected (connection_paused)
    let rejected = one(&w.caused(&partnered), "partnership.rejected");
    assert_eq!(
        [
            text(&rejected["seller_id"]),
            text(&rejected["creator_id"]),
            text(&rejected["reason"])
        ],
        ["S1", "C1", "connection_paused"]
    );
    for join in [&rejoin, &join_other] {
        assert_eq!(
            one(&w.caused(join), "participation.rejected")["reason"],
            "connection_paused"
        );
    }

    // and the pair's open-collaboration commission and S2's commission are paid on settlement as usual
    for (settled, order) in [(&settle_open, "O-OPEN"), (&settle_other, "O-OTHER")] {
        let payable = one(&w.caused(settled), "commission.payable");
        assert_eq!(
            [text(&payable["order_id"]), text(&payable["reason"])],
            [order, "settled"]
        );
    }
    // and nothing is paid twice nor for a zero commission; a repeated pause is no news
    assert!(
        w.caused(&settle_partner).is_empty(),
        "{:?}",
        types(&w.caused(&settle_partner))
    );
    assert!(
        w.caused(&settle_later).is_empty(),
        "{:?}",
        types(&w.caused(&settle_later))
    );
    assert!(w.caused(&again).is_empty(), "{:?}", types(&w.caused(&again)));
}

// ---------------------------------------------------------------------------
// V4 — disputes
// ---------------------------------------------------------------------------

#[tokio::test]
async fn v4_a_dispute_holds_the_pairs_commissions_then_cancels_the_listed_ones_and_releases_the_rest() {
    // given S1–C1 partnership commissions O-1, O-2, O-3 (Oct 3) and O-PAID (already payable), and an
    // open dispute D-1 (Oct 4); O-1 and O-2 settle while it is open; O-4 is paid and settled while it is
    // open; and S2–C1 commissions O-H1, O-H2 held by a dispute D-2 when S2 pauses
    let w = World::start().await;
    w.product("P1", "S1", Some("0.10")).await;
    w.product("P2", "S2", Some("0.10")).await;
    w.partnership("S1", "C1", "0.12", &oct(1, 0)).await;
    w.partnership("S2", "C1", "0.12", &oct(1, 0)).await;
    for o in ["O-1", "O-2", "O-3", "O-PAID"] {
        w.pay(o, "S1", "P1", "C1", "100.00", &oct(3, 0)).await;
    }
    for o in ["O-H1", "O-H2"] {
        w.pay(o, "S2", "P2", "C1", "100.00", &oct(3, 0)).await;
    }
    let settle_paid = w.settle("O-PAID", &oct(3, 12)).await;
    let opened = w.open_dispute("D-1", "S1", "C1", &oct(4, 0)).await;
    let settle_1 = w.settle("O-1", &oct(5, 0)).await;
    let settle_2 = w.settle("O-2", &oct(5, 0)).await;
    let o_4 = w.pay("O-4", "S1", "P1", "C1", "100.00", &oct(6, 0)).await;
    let settle_4 = w.settle("O-4", &oct(7, 0)).await;
    w.open_dispute("D-2", "S2", "C1", &oct(4, 0)).await;
    let paused = w.pause("S2", "C1", &oct(5, 0)).await;

    // when D-1 is resolved cancelling O-1 and O-PAID, and D-2 cancelling O-H1
    let resolved = w.resolve_dispute("D-1", &["O-1", "O-PAID"], &oct(8, 0)).await;
    let resolved_2 = w.resolve_dispute("D-2", &["O-H1"], &oct(8, 0)).await;
    let settle_3 = w.settle("O-3", &oct(9, 0)).await;
    let settle_h2 = w.settle("O-H2", &oct(9, 0)).await;
    let settle_h1 = w.settle("O-H1", &oct(9, 0)).await;
    w.sync().await;

    // then nothing was payable while the dispute was open (also for O-4, accrued while it was open)
    assert_eq!(types(&w.caused(&settle_paid)), ["commission.payable"]);
    assert!(w.caused(&opened).is_empty(), "{:?}", types(&w.caused(&opened)));
    assert_eq!(rated(&w.caused(&o_4)), ["0.12", "partnership", "12.00"]);
    for settled in [&settle_1, &settle_2, &settle_4] {
        assert!(w.caused(settled).is_empty(), "{:?}", types(&w.caused(settled)));
    }
    // and a pause does not pay out commissions held by a dispute
    assert!(w.caused(&paused).is_empty(), "{:?}", types(&w.caused(&paused)));

    // and the resolution cancels O-1 (dispute), claws back the payable O-PAID, and releases the settled
    // O-2 and O-4 (payable now); O-3 stays pending
    let out = w.caused(&resolved);
    assert_eq!(
        types(&out),
        [
            "commission.cancelled",
            "commission.clawback",
            "commission.payable",
            "commission.payable"
        ]
    );
    let cancelled = one(&out, "commission.cancelled");
    assert_eq!(
        [text(&cancelled["order_id"]), text(&cancelled["reason"])],
        ["O-1", "dispute"]
    );
    let clawback = one(&out, "commission.clawback");
    assert_eq!(
        [
            text(&clawback["order_id"]),
            text(&clawback["amount"]),
            text(&clawback["currency"])
        ],
        ["O-PAID", "12.00", "USD"]
    );
    assert_eq!(orders_in(&out, "commission.payable"), ["O-2", "O-4"]);
    assert_eq!(field_of(&out, "commission.payable", "reason"), ["settled", "settled"]);
    assert_eq!(field_of(&out, "commission.payable", "amount"), ["12.00", "12.00"]);
    let payable_3 = one(&w.caused(&settle_3), "commission.payable");
    assert_eq!(
        [text(&payable_3["order_id"]), text(&payable_3["reason"])],
        ["O-3", "settled"]
    );

    // and D-2 cancels O-H1 and releases O-H2, payable at once since S2 paused the connection (V3,
    // decision 12); their settlements change nothing
    let out = w.caused(&resolved_2);
    let mut kinds = types(&out);
    kinds.sort_unstable();
    assert_eq!(kinds, ["commission.cancelled", "commission.payable"]);
    assert_eq!(one(&out, "commission.cancelled")["order_id"], "O-H1");
    assert_eq!(one(&out, "commission.cancelled")["reason"], "dispute");
    let payable_h2 = one(&out, "commission.payable");
    assert_eq!(
        [
            text(&payable_h2["order_id"]),
            text(&payable_h2["amount"]),
            text(&payable_h2["reason"])
        ],
        ["O-H2", "12.00", "connection_paused"]
    );
    assert!(w.caused(&settle_h2).is_empty(), "{:?}", types(&w.caused(&settle_h2)));
    assert!(w.caused(&settle_h1).is_empty(), "{:?}", types(&w.caused(&settle_h1)));
}

#[tokio::test]
async fn v4_a_dispute_resolved_before_the_orders_settle_cancels_the_listed_one_and_releases_the_other_to_settlement() {
    // given S1–C1 partnership commissions O-1 and O-2 (Oct 3) and an open dispute (Oct 4); and the same
    // for S2 (O-3, O-4), whose resolution arrives before its opening
    let w = World::start().await;
    w.product("P1", "S1", Some("0.10")).await;
    w.product("P2", "S2", Some("0.10")).await;
    w.partnership("S1", "C1", "0.12", &oct(1, 0)).await;
    w.partnership("S2", "C1", "0.12", &oct(1, 0)).await;
    for (o, seller, p) in [
        ("O-1", "S1", "P1"),
        ("O-2", "S1", "P1"),
        ("O-3", "S2", "P2"),
        ("O-4", "S2", "P2"),
    ] {
        w.pay(o, seller, p, "C1", "100.00", &oct(3, 0)).await;
    }
    w.open_dispute("D-1", "S1", "C1", &oct(4, 0)).await;

    // when the disputes are resolved on Oct 5 listing O-1 (and O-3), before any order settles
    let resolved = w.resolve_dispute("D-1", &["O-1"], &oct(5, 0)).await;
    let early_resolution = w.resolve_dispute("D-2", &["O-3"], &oct(5, 0)).await;
    let late_opening = w.open_dispute("D-2", "S2", "C1", &oct(4, 0)).await;
    // and then the orders settle
    let settled: Vec<(String, &str)> = {
        let mut settled = Vec::new();
        for o in ["O-1", "O-2", "O-3", "O-4"] {
            settled.push((w.settle(o, &oct(6, 0)).await, o));
        }
        settled
    };
    w.sync().await;

    // then the listed commission is cancelled (dispute) at once and nothing is payable yet
    let out = w.caused(&resolved);
    assert_eq!(types(&out), ["commission.cancelled"]);
    let cancelled = one(&out, "commission.cancelled");
    assert_eq!(
        [text(&cancelled["order_id"]), text(&cancelled["reason"])],
        ["O-1", "dispute"]
    );
    // (a resolution arriving before its opening applies when the opening arrives)
    assert!(
        w.caused(&early_resolution).is_empty(),
        "{:?}",
        types(&w.caused(&early_resolution))
    );
    let out = w.caused(&late_opening);
    assert_eq!(types(&out), ["commission.cancelled"]);
    let cancelled = one(&out, "commission.cancelled");
    assert_eq!(
        [text(&cancelled["order_id"]), text(&cancelled["reason"])],
        ["O-3", "dispute"]
    );

    // and the released commissions become payable when their orders settle; the cancelled ones never
    for (id, o) in &settled {
        let out = w.caused(id);
        if *o == "O-1" || *o == "O-3" {
            assert!(out.is_empty(), "{o}: {:?}", types(&out));
        } else {
            let payable = one(&out, "commission.payable");
            assert_eq!(
                [
                    text(&payable["order_id"]),
                    text(&payable["reason"]),
                    text(&payable["amount"])
                ],
                [*o, "settled", "12.00"]
            );
        }
    }
}

// ---------------------------------------------------------------------------
// V5 — other sellers
// ---------------------------------------------------------------------------

#[tokio::test]
async fn v5_one_sellers_pause_or_dispute_leaves_other_sellers_connections_unchanged() {
    // given C1 partnered at 12 % with S-A, S-B and S-C, with a pending commission each, and in S-C's
    // campaign
    let w = World::start().await;
    for seller in ["S-A", "S-B", "S-C"] {
        w.product(&format!("P-{seller}"), seller, Some("0.10")).await;
    }
    w.product("P-S-C-CAMP", "S-C", Some("0.10")).await;
    w.task_campaign("K-C", "S-C", &[("P-S-C-CAMP", Some("0.20"))], 1000)
        .await;
    w.start_campaigns(&["K-C"]).await;
    w.join("K-C", "C1").await;
    for seller in ["S-A", "S-B", "S-C"] {
        w.partnership(seller, "C1", "0.12", &oct(1, 0)).await;
        w.pay(
            &format!("O-{seller}"),
            seller,
            &format!("P-{seller}"),
            "C1",
            "100.00",
            &oct(3, 0),
        )
        .await;
    }

    // when S-A pauses and S-B opens a dispute
    let paused = w.pause("S-A", "C1", &oct(4, 0)).await;
    let disputed = w.open_dispute("D-1", "S-B", "C1", &oct(4, 0)).await;
    let later: Vec<(String, &str)> = {
        let mut later = Vec::new();
        for seller in ["S-A", "S-B", "S-C"] {
            let id = w
                .pay(
                    &format!("O2-{seller}"),
                    seller,
                    &format!("P-{seller}"),
                    "C1",
                    "100.00",
                    &oct(5, 0),
                )
                .await;
            later.push((id, seller));
        }
        later
    };
    let camp = w.pay("O-CAMP", "S-C", "P-S-C-CAMP", "C1", "100.00", &oct(5, 0)).await;
    let settle_c = w.settle("O-S-C", &oct(6, 0)).await;
    let settle_b = w.settle("O-S-B", &oct(6, 0)).await;
    let new_partner = w.partnership("S-D", "C1", "0.10", &oct(6, 0)).await;
    let rejoin_c = w.request_join("K-C", "C1", &oct(6, 0)).await;
    w.sync().await;

    // then only S-A's commission is paid out, and the dispute alone changes nothing visible
    let out = w.caused(&paused);
    assert_eq!(types(&out), ["commission.payable"]);
    assert_eq!(one(&out, "commission.payable")["order_id"], "O-S-A");
    assert!(w.caused(&disputed).is_empty(), "{:?}", types(&w.caused(&disputed)));

    // and S-B and S-C keep the partnership rate, S-A's later orders earn 0
    for (id, seller) in &later {
        let expected = if *seller == "S-A" {
            ["0", "connection_paused", "0.00"]
        } else {
            ["0.12", "partnership", "12.00"]
        };
        assert_eq!(rated(&w.caused(id)), expected, "{seller}");
    }
    // and C1's campaign with S-C goes on
    assert_eq!(rated(&w.caused(&camp)), ["0.20", "campaign", "20.00"]);
    assert_eq!(
        one(&w.caused(&rejoin_c), "participation.rejected")["reason"],
        "already_joined"
    );

    // and S-C pays on settlement; S-B's commission is held by its dispute
    assert_eq!(types(&w.caused(&settle_c)), ["commission.payable"]);
    assert!(w.caused(&settle_b).is_empty(), "{:?}", types(&w.caused(&settle_b)));
    // and other sellers may still partner with C1
    assert_eq!(types(&w.caused(&new_partner)), ["partnership.accepted"]);
}

// ---------------------------------------------------------------------------
// V6 — platform block
// ---------------------------------------------------------------------------

#[tokio::test]
async fn v6_a_platform_block_cancels_pending_commissions_and_unsettled_rewards_and_zeroes_everything_after() {
    // given C1's pending open_collab (S-OPEN), partnership (S-PARTNER) and campaign (S-CAMP, whose one-order
    // task C1 finished, earning a 10.00 reward) commissions, and a payable one (S-PAID)
    let w = World::start().await;
    for (p, seller) in [
        ("P-OPEN", "S-OPEN"),
        ("P-PARTNER", "S-PARTNER"),
        ("P-CAMP", "S-CAMP"),
        ("P-PAID", "S-PAID"),
    ] {
        w.product(p, seller, Some("0.10")).await;
    }
    w.task_campaign("K-1", "S-CAMP", &[("P-CAMP", Some("0.20"))], 1).await;
    w.task_campaign("K-2", "S-CAMP", &[("P-CAMP", Some("0.20"))], 1).await;
    w.start_campaigns(&["K-1", "K-2"]).await;
    w.join("K-1", "C1").await;
    w.partnership("S-PARTNER", "C1", "0.12", &oct(1, 0)).await;
    let o_open = w.pay("O-OPEN", "S-OPEN", "P-OPEN", "C1", "100.00", &oct(3, 0)).await;
    let o_partner = w
        .pay("O-PARTNER", "S-PARTNER", "P-PARTNER", "C1", "100.00", &oct(3, 0))
        .await;
    let o_camp = w.pay("O-CAMP", "S-CAMP", "P-CAMP", "C1", "100.00", &oct(3, 0)).await;
    w.pay("O-PAID", "S-PAID", "P-PAID", "C1", "100.00", &oct(3, 0)).await;
    let s_paid = w.settle("O-PAID", &oct(4, 0)).await;

    // when C1 is platform-blocked on Oct 10
    let blocked = w.block("C1", &oct(10, 0)).await;
    // (and, later: orders with every seller, a partnership, a join, the block again, settlements)
    let later: Vec<String> = {
        let mut later = Vec::new();
        for (o, seller, p) in [
            ("O2-OPEN", "S-OPEN", "P-OPEN"),
            ("O2-PARTNER", "S-PARTNER", "P-PARTNER"),
            ("O2-CAMP", "S-CAMP", "P-CAMP"),
        ] {
            later.push(w.pay(o, seller, p, "C1", "100.00", &oct(11, 0)).await);
        }
        later
    };
    let partnered = w.partnership("S-NEW", "C1", "0.12", &oct(12, 0)).await;
    let joined = w.request_join("K-2", "C1", &oct(12, 0)).await;
    let again = w.block("C1", &oct(13, 0)).await;
    let settle_pending: Vec<String> = {
        let mut settled = Vec::new();
        for o in ["O-OPEN", "O-PARTNER", "O-CAMP"] {
            settled.push(w.settle(o, &oct(14, 0)).await);
        }
        settled
    };
    let ended = w.tick(K_END).await;
    w.sync().await;

    // then the set-up was as described: C1 finished K-1's task and was rewarded
    assert_eq!(rated(&w.caused(&o_open)), ["0.10", "open_collab", "10.00"]);
    assert_eq!(rated(&w.caused(&o_partner)), ["0.12", "partnership", "12.00"]);
    let camp = w.caused(&o_camp);
    assert_eq!(rated(&camp), ["0.20", "campaign", "20.00"]);
    let reward = one(&camp, "reward.issued");
    assert_eq!(
        [
            text(&reward["campaign_id"]),
            text(&reward["kind"]),
            text(&reward["amount"])
        ],
        ["K-1", "task", "10.00"]
    );
    assert_eq!(types(&w.caused(&s_paid)), ["commission.payable"]);

    // and the block cancels every pending commission (platform_blocked), not the payable one, and the
    // reward of the campaign not yet settled
    let out = w.caused(&blocked);
    assert_eq!(
        types(&out),
        [
            "commission.cancelled",
            "commission.cancelled",
            "commission.cancelled",
            "reward.cancelled"
        ]
    );
    assert_eq!(
        orders_in(&out, "commission.cancelled"),
        ["O-CAMP", "O-OPEN", "O-PARTNER"]
    );
    assert_eq!(
        field_of(&out, "commission.cancelled", "reason"),
        ["platform_blocked", "platform_blocked", "platform_blocked"]
    );
    assert_eq!(
        one(&out, "reward.cancelled"),
        json!({ "reward_id": reward["reward_id"], "campaign_id": "K-1", "creator_id": "C1", "reason": "platform_blocked" })
    );

    // and later orders earn 0 everywhere (platform_blocked), also in the campaign
    for id in &later {
        let out = w.caused(id);
        assert_eq!(rated(&out), ["0", "platform_blocked", "0.00"]);
        assert_eq!(one(&out, "commission.accrued")["campaign_id"], Value::Null);
    }
    // and partnerships and joins are rejected (platform_blocked); a second block is no news
    assert_eq!(
        one(&w.caused(&partnered), "partnership.rejected")["reason"],
        "platform_blocked"
    );
    assert_eq!(
        one(&w.caused(&joined), "participation.rejected")["reason"],
        "platform_blocked"
    );
    assert!(w.caused(&again).is_empty(), "{:?}", types(&w.caused(&again)));
    // and nothing cancelled is ever paid
    for id in &settle_pending {
        assert!(w.caused(id).is_empty(), "{:?}", types(&w.caused(id)));
    }

    // and K-1 settles without the cancelled reward: the whole deposit is refunded
    let settled: Vec<Value> = data(&w.caused(&ended), "campaign.settled")
        .into_iter()
        .filter(|d| d["campaign_id"] == "K-1")
        .collect();
    assert_eq!(settled.len(), 1, "{:?}", types(&w.caused(&ended)));
    assert_eq!(
        ["deposit", "rewards_total", "charged", "refunded"].map(|f| text(&settled[0][f])),
        ["100.00", "0.00", "0.00", "100.00"]
    );
    assert_eq!(w.all_of("reward.issued").len(), 1);
}

#[tokio::test]
async fn v6_a_platform_blocked_creator_is_left_out_of_the_challenge_ranking_and_earns_no_task_reward() {
    // given a challenge of S1 on video orders (rank 1: 50.00, ranks 2–3: 25.00) that C1 and C2 joined;
    // C1 sold first (Oct 3), C2 later (Oct 4), one order each, so C1 would rank first
    // and a one-video task campaign K-T of S1 that both joined too
    let w = World::start().await;
    w.product("P1", "S1", Some("0.10")).await;
    w.product("T1", "S1", Some("0.10")).await;
    w.challenge_campaign("K-CH", "S1", &[("P1", Some("0.20"))]).await;
    w.task_campaign_of("K-T", "S1", &[("T1", Some("0.20"))], "content", 1)
        .await;
    w.start_campaigns(&["K-CH", "K-T"]).await;
    for creator in ["C1", "C2"] {
        w.join("K-CH", creator).await;
        w.join("K-T", creator).await;
    }
    let o_1 = w.pay("O-1", "S1", "P1", "C1", "100.00", &oct(3, 0)).await;
    let o_2 = w.pay("O-2", "S1", "P1", "C2", "100.00", &oct(4, 0)).await;

    // when C1 is platform-blocked before the challenge ends
    let blocked = w.block("C1", &oct(10, 0)).await;
    // (and both then post the video K-T asks for)
    let c1_posts = w.post("V-C1", "C1", &["T1"], &oct(11, 0)).await;
    let c2_posts = w.post("V-C2", "C2", &["T1"], &oct(11, 0)).await;
    w.tick(K_END).await;
    let finalized = w.tick(K_FINAL).await;
    w.sync().await;
    assert_eq!(rated(&w.caused(&o_1)), ["0.20", "campaign", "20.00"]);
    assert_eq!(rated(&w.caused(&o_2)), ["0.20", "campaign", "20.00"]);
    assert_eq!(
        one(&w.caused(&blocked), "commission.cancelled")["reason"],
        "platform_blocked"
    );

    // then C1 gets no task reward for the video; C2 does
    let c1_out = w.caused(&c1_posts);
    assert!(data(&c1_out, "reward.issued").is_empty(), "{:?}", types(&c1_out));
    let c2_reward = one(&w.caused(&c2_posts), "reward.issued");
    assert_eq!(
        [
            text(&c2_reward["campaign_id"]),
            text(&c2_reward["creator_id"]),
            text(&c2_reward["kind"])
        ],
        ["K-T", "C2", "task"]
    );

    // and only C2 is ranked in the challenge (rank 1, 50.00); C1 never gets a reward
    let rewards: Vec<Value> = w
        .all_of("reward.issued")
        .into_iter()
        .filter(|r| r["campaign_id"] == "K-CH")
        .collect();
    assert_eq!(rewards.len(), 1, "{rewards:?}");
    assert_eq!(
        [
            text(&rewards[0]["creator_id"]),
            text(&rewards[0]["kind"]),
            text(&rewards[0]["rank"]),
            text(&rewards[0]["amount"])
        ],
        ["C2", "challenge", "1", "50.00"]
    );
    assert!(w.all_of("reward.issued").iter().all(|r| r["creator_id"] == "C2"));
    // and the challenge is charged for that reward only
    let settled = one(&w.caused(&finalized), "campaign.settled");
    assert_eq!(
        ["deposit", "rewards_total", "charged", "refunded"].map(|f| text(&settled[f])),
        ["100.00", "50.00", "50.00", "50.00"]
    );
}

// ---------------------------------------------------------------------------
// V7 — partnerships
// ---------------------------------------------------------------------------

#[tokio::test]
async fn v7_a_partnership_reactivates_a_demoted_creator_with_that_seller_only_and_is_refused_when_blocked_or_paused() {
    // given C1 demoted on Oct 2, selling for S1 and S2 on open collaboration; C2 platform-blocked; and
    // S3 having paused its connection with C1
    let w = World::start().await;
    w.product("P1", "S1", Some("0.10")).await;
    w.product("P2", "S2", Some("0.10")).await;
    w.violation("V-1", "C1", &oct(2, 0)).await;
    let before = w.pay("O-1", "S1", "P1", "C1", "100.00", &oct(3, 0)).await;
    w.block("C2", &oct(2, 0)).await;
    w.pause("S3", "C1", &oct(2, 0)).await;

    // when S1 establishes a partnership at 12 % on Oct 4 (and S1 with C2, S3 with C1)
    let accepted = w.partnership("S1", "C1", "0.12", &oct(4, 0)).await;
    let blocked = w.partnership("S1", "C2", "0.12", &oct(4, 0)).await;
    let paused = w.partnership("S3", "C1", "0.12", &oct(4, 0)).await;
    let with_partner = w.pay("O-2", "S1", "P1", "C1", "100.00", &oct(5, 0)).await;
    let elsewhere = w.pay("O-3", "S2", "P2", "C1", "100.00", &oct(5, 0)).await;
    let settled = w.settle("O-2", &oct(6, 0)).await;
    w.sync().await;
    assert_eq!(rated(&w.caused(&before)), ["0", "demoted", "0.00"]);

    // then it is accepted; S1's later orders earn 12 %, S2's still 0 (demoted)
    let out = w.caused(&accepted);
    assert_eq!(types(&out), ["partnership.accepted"]);
    assert_eq!(
        one(&out, "partnership.accepted"),
        json!({ "seller_id": "S1", "creator_id": "C1" })
    );
    assert_eq!(rated(&w.caused(&with_partner)), ["0.12", "partnership", "12.00"]);
    assert_eq!(rated(&w.caused(&elsewhere)), ["0", "demoted", "0.00"]);
    let payable = one(&w.caused(&settled), "commission.payable");
    assert_eq!(
        [text(&payable["amount"]), text(&payable["reason"])],
        ["12.00", "settled"]
    );

    // and it is rejected for a platform-blocked creator and for a paused connection
    for (id, creator, seller, reason) in [
        (&blocked, "C2", "S1", "platform_blocked"),
        (&paused, "C1", "S3", "connection_paused"),
    ] {
        let out = w.caused(id);
        assert_eq!(types(&out), ["partnership.rejected"]);
        assert_eq!(
            one(&out, "partnership.rejected"),
            json!({ "seller_id": seller, "creator_id": creator, "reason": reason })
        );
    }
}

// ---------------------------------------------------------------------------
// Late orders: event time decides
// ---------------------------------------------------------------------------

#[tokio::test]
async fn v1_v3_v6_an_order_paid_before_enforcement_but_delivered_after_it_ends_as_if_it_had_arrived_in_order() {
    // given P1 (S1, open 10 %); C1's violation of Oct 10, C2's platform block of Oct 10, and S1's pause
    // with its partner C3 (12 % since Oct 1) of Oct 5 — all applied already
    let w = World::start().await;
    w.product("P1", "S1", Some("0.10")).await;
    w.partnership("S1", "C3", "0.12", &oct(1, 0)).await;
    w.violation("V-1", "C1", &oct(10, 0)).await;
    w.block("C2", &oct(10, 0)).await;
    w.pause("S1", "C3", &oct(5, 0)).await;
    w.sync().await;

    // when orders paid before those facts are delivered only now (and one paid after the violation)
    let late_violation = w.pay("O-1", "S1", "P1", "C1", "100.00", &oct(5, 0)).await;
    let after_violation = w.pay("O-1B", "S1", "P1", "C1", "100.00", &oct(11, 0)).await;
    let late_block = w.pay("O-2", "S1", "P1", "C2", "100.00", &oct(5, 0)).await;
    let late_pause = w.pay("O-3", "S1", "P1", "C3", "100.00", &oct(4, 0)).await;
    let settle_1 = w.settle("O-1", &oct(12, 0)).await;
    let settle_3 = w.settle("O-3", &oct(12, 0)).await;
    w.sync().await;

    // then the order paid before the violation is accrued open_collab as of its time, then cancelled
    // (violation), exactly as if it had arrived before the violation
    let out = w.caused(&late_violation);
    assert_eq!(types(&out), ["commission.accrued", "commission.cancelled"]);
    assert_eq!(rated(&out), ["0.10", "open_collab", "10.00"]);
    assert_eq!(one(&out, "commission.cancelled")["reason"], "violation");
    assert_eq!(out[0]["type"], "commission.accrued", "accrued first, then cancelled");
    assert!(w.caused(&settle_1).is_empty(), "{:?}", types(&w.caused(&settle_1)));
    // (while an order paid after the violation earns 0, demoted)
    assert_eq!(rated(&w.caused(&after_violation)), ["0", "demoted", "0.00"]);

    // and the order paid before the block is accrued, then cancelled (platform_blocked)
    let out = w.caused(&late_block);
    assert_eq!(types(&out), ["commission.accrued", "commission.cancelled"]);
    assert_eq!(rated(&out), ["0.10", "open_collab", "10.00"]);
    assert_eq!(one(&out, "commission.cancelled")["reason"], "platform_blocked");

    // and the partnership order paid before the pause is accrued, then paid out (connection_paused)
    let out = w.caused(&late_pause);
    assert_eq!(types(&out), ["commission.accrued", "commission.payable"]);
    assert_eq!(rated(&out), ["0.12", "partnership", "12.00"]);
    let payable = one(&out, "commission.payable");
    assert_eq!(
        [text(&payable["reason"]), text(&payable["amount"])],
        ["connection_paused", "12.00"]
    );
    assert!(w.caused(&settle_3).is_empty(), "{:?}", types(&w.caused(&settle_3)));
}

#[tokio::test]
async fn v3_a_pause_delivered_after_orders_made_after_it_leaves_those_orders_earning_zero() {
    // given P1 (S1, open 10 %); C1 sold P1 on Oct 2 (open_collab), partnered with S1 at 12 % on Oct 3,
    // sold P1 on Oct 4 and Oct 6 (partnership)
    let w = World::start().await;
    w.product("P1", "S1", Some("0.10")).await;
    w.pay("O-OPEN", "S1", "P1", "C1", "100.00", &oct(2, 0)).await;
    w.partnership("S1", "C1", "0.12", &oct(3, 0)).await;
    w.pay("O-BEFORE", "S1", "P1", "C1", "100.00", &oct(4, 0)).await;
    let after = w.pay("O-AFTER", "S1", "P1", "C1", "100.00", &oct(6, 0)).await;

    // when S1's pause of Oct 5 arrives only now
    let paused = w.pause("S1", "C1", &oct(5, 0)).await;
    let settle_after = w.settle("O-AFTER", &oct(7, 0)).await;
    let settle_open = w.settle("O-OPEN", &oct(7, 0)).await;
    w.sync().await;
    assert_eq!(rated(&w.caused(&after)), ["0.12", "partnership", "12.00"]);

    // then the order made before the pause is paid out, the one made after it is adjusted to 0
    let out = w.caused(&paused);
    assert_eq!(types(&out), ["commission.adjusted", "commission.payable"]);
    let payable = one(&out, "commission.payable");
    assert_eq!(
        [
            text(&payable["order_id"]),
            text(&payable["reason"]),
            text(&payable["amount"])
        ],
        ["O-BEFORE", "connection_paused", "12.00"]
    );
    let zeroed = one(&out, "commission.adjusted");
    assert_eq!(
        ["order_id", "amount", "shop_ads_amount", "delta"].map(|f| text(&zeroed[f])),
        ["O-AFTER", "0.00", "0.00", "-12.00"]
    );
    // and nothing is payable for it at settlement; the open-collaboration order is paid as usual
    assert!(
        w.caused(&settle_after).is_empty(),
        "{:?}",
        types(&w.caused(&settle_after))
    );
    let payable = one(&w.caused(&settle_open), "commission.payable");
    assert_eq!(
        [text(&payable["reason"]), text(&payable["amount"])],
        ["settled", "10.00"]
    );
}

// ---------------------------------------------------------------------------
// Worked example 3
// ---------------------------------------------------------------------------

#[tokio::test]
async fn worked_example_3_five_open_sellers_ten_partners_eight_pause_two_keep() {
    // given C1 with pending open-collaboration commissions (10 %) from 5 sellers and pending partnership
    // commissions (12 %) with 10 others, all from Oct 1
    let w = World::start().await;
    let open: Vec<String> = (0..5).map(|i| format!("S-OPEN-{i}")).collect();
    let partners: Vec<String> = (0..10).map(|i| format!("S-PARTNER-{i}")).collect();
    for seller in open.iter().chain(&partners) {
        w.product(&format!("P-{seller}"), seller, Some("0.10")).await;
    }
    for seller in &partners {
        w.partnership(seller, "C1", "0.12", &oct(1, 0)).await;
    }
    for seller in open.iter().chain(&partners) {
        w.pay(
            &format!("O-{seller}"),
            seller,
            &format!("P-{seller}"),
            "C1",
            "100.00",
            &oct(1, 12),
        )
        .await;
    }

    // when a violation is reported on Oct 5
    let v = w.violation("V-1", "C1", &oct(5, 0)).await;
    // and 8 partners pause on Oct 6, 2 do nothing
    let (pausing, keeping) = partners.split_at(8);
    let mut pauses = Vec::new();
    for seller in pausing {
        pauses.push((w.pause(seller, "C1", &oct(6, 0)).await, seller));
    }
    // and every seller sells again on Oct 7, and the first orders settle on Oct 8
    let mut later = Vec::new();
    let mut settled = Vec::new();
    for seller in open.iter().chain(&partners) {
        let id = w
            .pay(
                &format!("O2-{seller}"),
                seller,
                &format!("P-{seller}"),
                "C1",
                "100.00",
                &oct(7, 0),
            )
            .await;
        later.push((id, seller));
    }
    for seller in open.iter().chain(&partners) {
        settled.push((w.settle(&format!("O-{seller}"), &oct(8, 0)).await, seller));
    }
    w.sync().await;

    // then the 5 open sellers' pending commissions are cancelled (violation), and exactly the 10 partners
    // are notified
    let out = w.caused(&v);
    let mut expected_cancelled: Vec<String> = open.iter().map(|s| format!("O-{s}")).collect();
    expected_cancelled.sort();
    assert_eq!(orders_in(&out, "commission.cancelled"), expected_cancelled);
    assert!(
        data(&out, "commission.cancelled")
            .iter()
            .all(|d| d["reason"] == "violation")
    );
    let mut expected_notified = partners.clone();
    expected_notified.sort();
    assert_eq!(
        field_of(&out, "seller.violation_notice", "seller_id"),
        expected_notified
    );
    assert_eq!(one(&out, "commission.demoted")["rate"], "0");
    assert_eq!(out.len(), 5 + 10 + 1, "{:?}", types(&out));

    // and each pausing partner's pending commission becomes payable at once (connection_paused)
    for (id, seller) in &pauses {
        let out = w.caused(id);
        assert_eq!(types(&out), ["commission.payable"], "{seller}");
        let payable = one(&out, "commission.payable");
        assert_eq!(
            [
                text(&payable["order_id"]),
                text(&payable["reason"]),
                text(&payable["amount"])
            ],
            [
                format!("O-{seller}"),
                "connection_paused".to_owned(),
                "12.00".to_owned()
            ]
        );
    }

    // and later orders earn 0 (demoted) with the open sellers, 0 (connection_paused) with the 8, and
    // 12 % with the 2 who did nothing
    for (id, seller) in &later {
        let expected = if open.contains(seller) {
            ["0", "demoted", "0.00"]
        } else if keeping.contains(seller) {
            ["0.12", "partnership", "12.00"]
        } else {
            ["0", "connection_paused", "0.00"]
        };
        assert_eq!(rated(&w.caused(id)), expected, "{seller}");
    }

    // and the 2 who did nothing keep their earlier commissions pending until settlement; nothing else is
    // paid at settlement (cancelled or already paid out)
    for (id, seller) in &settled {
        let out = w.caused(id);
        if keeping.contains(seller) {
            let payable = one(&out, "commission.payable");
            assert_eq!(
                [
                    text(&payable["order_id"]),
                    text(&payable["reason"]),
                    text(&payable["amount"])
                ],
                [format!("O-{seller}"), "settled".to_owned(), "12.00".to_owned()]
            );
        } else {
            assert!(out.is_empty(), "{seller}: {:?}", types(&out));
        }
    }
    assert_eq!(w.all_of("seller.violation_notice").len(), 10);
}

// ---------------------------------------------------------------------------
// High-risk participations
// ---------------------------------------------------------------------------

/// The value of `collab_high_risk_participations_total`, if exported.
fn high_risk_count(metrics: &str) -> Option<f64> {
    metrics
        .lines()
        .find(|l| l.starts_with("collab_high_risk_participations_total "))
        .and_then(|l| l.rsplit(' ').next().and_then(|v| v.parse().ok()))
}

#[tokio::test]
async fn high_risk_participations_carry_the_creators_risk_and_are_counted() {
    // given campaigns of S1, S2 and S3, and creators of every risk; S3 blocklists C-HIGH-2
    let w = World::start().await;
    for (p, seller, campaign) in [("P1", "S1", "K1"), ("P2", "S2", "K2"), ("P3", "S3", "K3")] {
        w.product(p, seller, Some("0.10")).await;
        w.task_campaign(campaign, seller, &[(p, Some("0.20"))], 1000).await;
    }
    w.start_campaigns(&["K1", "K2", "K3"]).await;
    for (creator, risk) in [
        ("C-HIGH-1", "high"),
        ("C-HIGH-2", "high"),
        ("C-MEDIUM", "medium"),
        ("C-LOW", "low"),
    ] {
        w.profile(creator, risk).await;
    }
    w.send("seller.creator_blocked", &oct(1, 0), pair("S3", "C-HIGH-2"))
        .await;

    // when they join: two high-risk creators in K1, one in K2; only lower risks in K3 (C-HIGH-2's join
    // to K3 is rejected); a join repeated with the same event id and with a new one
    let joins = [
        ("K1", "C-HIGH-1"),
        ("K1", "C-HIGH-2"),
        ("K1", "C-LOW"),
        ("K2", "C-HIGH-2"),
        ("K3", "C-MEDIUM"),
        ("K3", "C-LOW"),
    ];
    let mut ids = Vec::new();
    for (campaign, creator) in joins {
        ids.push(w.request_join(campaign, creator, K_START).await);
    }
    let duplicate = event(
        "join-twice",
        "creator.join_requested",
        K_START,
        json!({ "campaign_id": "K2", "creator_id": "C-HIGH-1" }),
    );
    w.env.publish(&duplicate).await;
    w.env.publish(&duplicate).await;
    let again = w.request_join("K1", "C-HIGH-1", &oct(3, 0)).await;
    let refused = w.request_join("K3", "C-HIGH-2", K_START).await;
    w.sync().await;

    // then every accepted participation carries the creator's fake_order_risk
    for ((campaign, creator), id) in joins.iter().zip(&ids) {
        let accepted = one(&w.caused(id), "participation.accepted");
        let seller = format!("S{}", &campaign[1..]);
        let risk = match *creator {
            "C-LOW" => "low",
            "C-MEDIUM" => "medium",
            _ => "high",
        };
        assert_eq!(
            accepted,
            json!({ "campaign_id": campaign, "creator_id": creator, "seller_id": seller, "fake_order_risk": risk })
        );
    }
    assert_eq!(
        one(&w.caused("join-twice"), "participation.accepted")["fake_order_risk"],
        "high"
    );
    assert_eq!(
        one(&w.caused(&again), "participation.rejected")["reason"],
        "already_joined"
    );
    assert_eq!(
        one(&w.caused(&refused), "participation.rejected")["reason"],
        "blocked_by_seller"
    );

    // and /metrics counts the high-risk participations, 4 (no label per seller: the series stay bounded)
    let deadline = Instant::now() + WAIT;
    let metrics = loop {
        let (status, metrics) = w.env.http_get("/metrics").await;
        assert_eq!(status, 200);
        if high_risk_count(&metrics) == Some(4.0) || Instant::now() > deadline {
            break metrics;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let lines: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("collab_high_risk_participations_total"))
        .collect();
    assert_eq!(high_risk_count(&metrics), Some(4.0), "{lines:?}");
    assert!(!metrics.contains("seller_id="), "{lines:?}");
    // and the outbox says which sellers (the README's query): S1 2, S2 2 (C-HIGH-2, C-HIGH-1 once), none for S3
    let mut db = w.env.db().await;
    let per_seller: Vec<(String, i64)> = sqlx::query_as(
        "SELECT body::jsonb #>> '{data,seller_id}' AS seller_id, count(*) \
         FROM outbox \
         WHERE type = 'participation.accepted' AND body::jsonb #>> '{data,fake_order_risk}' = 'high' \
         GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 20",
    )
    .fetch_all(&mut db)
    .await
    .expect("per-seller query");
    assert_eq!(per_seller, [("S1".to_owned(), 2), ("S2".to_owned(), 2)]);
}
