//! `collab-worker explain` and the read API (issue 17): rules.md worked
//! examples 1 and 3 explained step by step, a rejected campaign with all
//! its reasons, a dead-lettered event, authentication, and every response
//! validated against `docs/openapi.yaml`.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{TestEnv, event, order, product};

const TOKEN: &str = "s3cret-token-for-tests";
const SELLER: &str = "seller-x";
const P: &str = "p-explained";

/// A GET with an optional bearer token: (status, JSON body).
async fn get(port: u16, path: &str, token: Option<&str>) -> (u16, Value) {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let request = format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n{auth}\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// The OpenAPI document's 200 schema of a path, compiled.
fn response_schema(path: &str) -> jsonschema::Validator {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.yaml")).expect("docs/openapi.yaml");
    let doc: Value = serde_norway::from_str(&text).expect("openapi.yaml parses");
    assert_eq!(doc["openapi"], "3.1.0");
    let schema = doc["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"].clone();
    let mut root = match schema {
        Value::Object(map) => map,
        other => panic!("no schema for {path}: {other}"),
    };
    root.insert("$schema".into(), json!("https://json-schema.org/draft/2020-12/schema"));
    root.insert(
        "components".into(),
        json!({ "schemas": doc["components"]["schemas"].clone() }),
    );
    jsonschema::options()
        .should_validate_formats(true)
        .build(&Value::Object(root))
        .expect("schema compiles")
}

/// Reads an entity through the API, checks it against the OpenAPI
/// document, and that `explain --json` says the same.
async fn explained(env: &TestEnv, entity: &str, id: &str) -> Value {
    let path = format!("/v1/{entity}s/{id}");
    let (status, body) = get(env.port(), &path, Some(TOKEN)).await;
    assert_eq!(status, 200, "{path}: {body}");
    let schema = response_schema(&format!("/v1/{entity}s/{{id}}"));
    let errors: Vec<String> = schema
        .iter_errors(&body)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{path} does not match docs/openapi.yaml: {errors:?}\n{body:#}"
    );
    let (code, stdout, stderr) = env.cli(&["explain", entity, id, "--json"]).await;
    assert_eq!(code, 0, "explain {entity} {id}: {stderr}");
    let cli: Value = serde_json::from_str(&stdout).expect("explain --json prints JSON");
    assert_eq!(cli, body, "explain --json and GET {path} differ");
    body
}

/// Waits until the API shows `done` for the entity.
async fn until(env: &TestEnv, entity: &str, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = get(env.port(), &format!("/v1/{entity}s/{id}"), Some(TOKEN)).await;
        if status == 200 && done(&body) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "{entity} {id} never got there: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn start() -> TestEnv {
    TestEnv::start_with(vec![("COLLAB_HTTP__API_TOKEN", TOKEN)]).await
}

fn step(decision: &Value, n: u64) -> &Value {
    decision["steps"]
        .as_array()
        .and_then(|steps| steps.iter().find(|s| s["step"] == n))
        .unwrap_or_else(|| panic!("no step {n} in {decision}"))
}

fn decisive(decision: &Value) -> u64 {
    let steps = decision["steps"].as_array().cloned().unwrap_or_default();
    assert_eq!(steps.len(), 7, "every O2 step is evaluated: {decision}");
    let decisive: Vec<u64> = steps
        .iter()
        .filter(|s| s["decisive"] == true)
        .filter_map(|s| s["step"].as_u64())
        .collect();
    assert_eq!(decisive.len(), 1, "{decision}");
    decisive[0]
}

fn campaign(id: &str) -> Value {
    json!({
        "campaign_id": id, "seller_id": SELLER, "type": "task", "title": "Exclusive 15 %",
        "starts_at": "2026-10-02T00:00:00Z", "ends_at": "2026-10-20T00:00:00Z",
        "creator_group_id": "everyone", "currency": "USD", "budget": "30.00",
        "prompt_ads_authorization": false,
        "products": [{ "product_id": P, "commission_rate": "0.15", "free_sample": false }],
        "task": { "reward": "10.00", "tasks": [{ "kind": "orders", "content_type": "any", "target": 100 }] }
    })
}

/// rules.md worked example 1: the Oct 1, Oct 3 and Oct 21 orders earn 10 %
/// open collaboration, 15 % campaign and 8 % open collaboration, and each
/// explanation names the fact that decided every step.
#[tokio::test]
async fn worked_example_1_each_order_explains_its_o2_steps() {
    let env = start().await;
    let c = "creator-ex1";
    env.send(
        "e1-p",
        "product.updated",
        "2026-09-01T00:00:00Z",
        product(P, SELLER, Some("0.10")),
    )
    .await;
    env.send(
        "e1-g",
        "creator_group.saved",
        "2026-09-01T00:00:00Z",
        json!({ "seller_id": SELLER, "group_id": "everyone", "name": "everyone", "criteria": {} }),
    )
    .await;
    env.send(
        "e1-c",
        "creator.updated",
        "2026-09-01T00:00:00Z",
        json!({ "creator_id": c, "level": 4, "followers": 5000, "categories": ["beauty"],
                "content_types": ["video"], "avg_commission_rate": "0.12", "fake_order_risk": "low" }),
    )
    .await;
    env.send("e1-k", "campaign.submitted", "2026-09-20T00:00:00Z", campaign("k-ex1"))
        .await;
    env.send(
        "e1-pay",
        "payment.succeeded",
        "2026-09-20T01:00:00Z",
        json!({ "payment_id": "pay-ex1", "campaign_id": "k-ex1", "seller_id": SELLER, "amount": "30.00",
                "currency": "USD", "method": "credit_card" }),
    )
    .await;
    env.send(
        "e1-o1",
        "order.paid",
        "2026-10-01T10:00:00Z",
        order("o-oct1", SELLER, P, Some(c), "100.00"),
    )
    .await;
    env.send(
        "e1-join",
        "creator.join_requested",
        "2026-10-01T12:00:00Z",
        json!({ "campaign_id": "k-ex1", "creator_id": c }),
    )
    .await;
    env.send(
        "e1-p8",
        "product.updated",
        "2026-10-03T09:00:00Z",
        product(P, SELLER, Some("0.08")),
    )
    .await;
    env.send(
        "e1-o3",
        "order.paid",
        "2026-10-03T10:00:00Z",
        order("o-oct3", SELLER, P, Some(c), "100.00"),
    )
    .await;
    env.send(
        "e1-o21",
        "order.paid",
        "2026-10-21T10:00:00Z",
        order("o-oct21", SELLER, P, Some(c), "100.00"),
    )
    .await;
    env.send(
        "e1-s1",
        "order.settled",
        "2026-10-25T00:00:00Z",
        json!({ "order_id": "o-oct1" }),
    )
    .await;
    until(&env, "order", "o-oct21", |o| o["status"] == "pending").await;
    until(&env, "order", "o-oct1", |o| o["status"] == "payable").await;

    // Oct 1: 10 % open collaboration — the product version of Sep 1.
    let o1 = explained(&env, "order", "o-oct1").await;
    assert_eq!(o1["commission"]["rate"], "0.10");
    assert_eq!(o1["commission"]["rate_source"], "open_collab");
    let d = &o1["decision"];
    assert_eq!(decisive(d), 6);
    for n in [1, 2, 4, 5] {
        assert_eq!(step(d, n)["holds"], false, "step {n}: {d}");
    }
    // Decided when it arrived, before the join (stamped later, so no O9).
    let s3 = step(d, 3);
    assert_eq!(s3["holds"], false);
    assert!(s3.get("campaigns").is_none() && s3.get("fact").is_none(), "{s3}");
    let s6 = step(d, 6);
    assert_eq!(s6["fact"]["kind"], "product_version");
    assert_eq!(s6["fact"]["id"], P);
    assert_eq!(s6["fact"]["time"], "2026-09-01T00:00:00Z");
    assert_eq!(s6["fact"]["rate"], "0.10");
    assert_eq!(d["event_id"], "e1-o1");
    let life: Vec<&str> = o1["life"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l["what"].as_str())
        .collect();
    assert_eq!(life, ["accrued", "payable"]);
    assert_eq!(o1["life"][0]["event_id"], "e1-o1");
    assert_eq!(o1["life"][1]["event_id"], "e1-s1");
    assert_eq!(o1["life"][1]["reason"], "settled");

    // Oct 3: 15 % campaign — the participation (joined Oct 1 12:00).
    let o3 = explained(&env, "order", "o-oct3").await;
    assert_eq!(o3["commission"]["rate"], "0.15");
    let d = &o3["decision"];
    assert_eq!(decisive(d), 3);
    let s3 = step(d, 3);
    assert_eq!(s3["fact"]["kind"], "participation");
    assert_eq!(s3["fact"]["id"], "k-ex1");
    assert_eq!(s3["fact"]["joined_at"], "2026-10-01T12:00:00Z");
    assert_eq!(s3["fact"]["rate"], "0.15");
    assert_eq!(s3["campaigns"][0]["covers"], true);
    // Beneath it, step 6 would have given the 8 % of Oct 3 09:00.
    assert_eq!(step(d, 6)["fact"]["time"], "2026-10-03T09:00:00Z");
    assert_eq!(step(d, 6)["fact"]["rate"], "0.08");

    // Oct 21: 8 % open collaboration — the campaign ended Oct 20.
    let o21 = explained(&env, "order", "o-oct21").await;
    assert_eq!(o21["commission"]["rate"], "0.08");
    let d = &o21["decision"];
    assert_eq!(decisive(d), 6);
    assert_eq!(step(d, 3)["campaigns"][0]["why_not"], "ended");
    assert_eq!(step(d, 6)["fact"]["time"], "2026-10-03T09:00:00Z");

    // The readable account names the steps and the timeline.
    let (code, text, stderr) = env.cli(&["explain", "order", "o-oct1"]).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(text.contains("O2 as of the order's time"), "{text}");
    assert!(
        text.contains("open_collab") && text.contains("product_version"),
        "{text}"
    );
    assert!(text.contains("Timeline:") && text.contains("payable"), "{text}");

    // The campaign's history names its causes; the creator its participation.
    let k = explained(&env, "campaign", "k-ex1").await;
    let history: Vec<(&str, &str)> = k["history"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|h| Some((h["status"].as_str()?, h["event_id"].as_str()?)))
        .collect();
    assert_eq!(history, [("pending_payment", "e1-k"), ("scheduled", "e1-pay")]);
    assert_eq!(k["participants"]["items"][0]["creator_id"], c);
    let creator = explained(&env, "creator", c).await;
    assert_eq!(creator["participations"][0]["campaign_id"], "k-ex1");
    let totals = &creator["pending_commissions"]["totals"];
    assert_eq!(totals[0]["seller_id"], SELLER);
    assert_eq!(totals[0]["count"], 2);
    assert_eq!(totals[0]["amount"], "23.00");
    // Pending commissions page by page, in business-time order.
    let (_, first) = get(env.port(), &format!("/v1/creators/{c}?limit=1"), Some(TOKEN)).await;
    let page = &first["pending_commissions"];
    assert_eq!(page["items"][0]["order_id"], "o-oct3");
    let cursor = page["next_cursor"].as_str().expect("a next page");
    let (_, second) = get(
        env.port(),
        &format!("/v1/creators/{c}?limit=1&cursor={cursor}"),
        Some(TOKEN),
    )
    .await;
    assert_eq!(second["pending_commissions"]["items"][0]["order_id"], "o-oct21");
    assert_eq!(second["pending_commissions"]["next_cursor"], Value::Null);

    // The event of the settlement: what it caused.
    let e = explained(&env, "event", "e1-s1").await;
    assert_eq!(e["status"], "applied");
    assert_eq!(e["outcomes"]["items"][0]["type"], "commission.payable");
}

/// rules.md worked example 3, smaller: open-collaboration commissions from
/// two sellers, partnerships with three; a violation cancels the former
/// (each explained by the violation), the partners are notified, two pause
/// (their pending commissions become payable), one does nothing.
#[tokio::test]
async fn worked_example_3_a_violation_is_explained_on_orders_and_on_the_creator() {
    let env = start().await;
    let c = "creator-ex3";
    let t0 = "2026-10-01T00:00:00Z";
    for s in ["open-1", "open-2", "partner-1", "partner-2", "partner-3"] {
        env.send(
            &format!("p-{s}"),
            "product.updated",
            t0,
            product(&format!("prod-{s}"), s, Some("0.10")),
        )
        .await;
    }
    for s in ["partner-1", "partner-2", "partner-3"] {
        env.send(
            &format!("ps-{s}"),
            "partnership.established",
            "2026-10-01T01:00:00Z",
            json!({ "seller_id": s, "creator_id": c, "commission_rate": "0.20" }),
        )
        .await;
    }
    for s in ["open-1", "open-2", "partner-1", "partner-2", "partner-3"] {
        env.send(
            &format!("o-{s}"),
            "order.paid",
            "2026-10-02T00:00:00Z",
            order(&format!("ord-{s}"), s, &format!("prod-{s}"), Some(c), "50.00"),
        )
        .await;
    }
    env.send(
        "v-1",
        "creator.violation_reported",
        "2026-10-03T00:00:00Z",
        json!({ "violation_id": "viol-1", "creator_id": c, "guideline": "fake_engagement" }),
    )
    .await;
    for s in ["partner-1", "partner-2"] {
        env.send(
            &format!("pause-{s}"),
            "partnership.paused",
            "2026-10-04T00:00:00Z",
            json!({ "seller_id": s, "creator_id": c }),
        )
        .await;
    }
    env.send(
        "o-late",
        "order.paid",
        "2026-10-05T00:00:00Z",
        order("ord-late", "open-1", "prod-open-1", Some(c), "50.00"),
    )
    .await;
    until(&env, "order", "ord-late", |o| o["status"] == "pending").await;
    until(&env, "order", "ord-partner-2", |o| o["status"] == "payable").await;

    // The open-collaboration orders: cancelled by the violation's event.
    for s in ["open-1", "open-2"] {
        let o = explained(&env, "order", &format!("ord-{s}")).await;
        assert_eq!(o["commission"]["state"], "cancelled");
        assert_eq!(o["commission"]["cancel_reason"], "violation");
        let last = o["life"].as_array().and_then(|l| l.last()).cloned().unwrap_or_default();
        assert_eq!(last["what"], "cancelled");
        assert_eq!(last["event_id"], "v-1");
        assert_eq!(decisive(&o["decision"]), 6);
    }
    // A later order: demoted, and step 5 names the violation.
    let late = explained(&env, "order", "ord-late").await;
    assert_eq!(late["commission"]["rate_source"], "demoted");
    let d = &late["decision"];
    assert_eq!(decisive(d), 5);
    assert_eq!(step(d, 5)["fact"]["kind"], "violation");
    assert_eq!(step(d, 5)["fact"]["id"], "viol-1");
    assert_eq!(step(d, 5)["fact"]["time"], "2026-10-03T00:00:00Z");
    // Partners: decided by step 4; two paused → payable (connection_paused).
    for (s, state) in [
        ("partner-1", "payable"),
        ("partner-2", "payable"),
        ("partner-3", "pending"),
    ] {
        let o = explained(&env, "order", &format!("ord-{s}")).await;
        assert_eq!(decisive(&o["decision"]), 4, "{s}");
        assert_eq!(step(&o["decision"], 4)["fact"]["rate"], "0.20");
        assert_eq!(o["commission"]["state"], state, "{s}");
        if state == "payable" {
            assert_eq!(o["life"][1]["reason"], "connection_paused");
            assert_eq!(o["life"][1]["event_id"], format!("pause-{s}"));
        }
    }
    let creator = explained(&env, "creator", c).await;
    assert_eq!(creator["demoted"]["violation_id"], "viol-1");
    assert_eq!(creator["violations"][0]["event_id"], "v-1");
    assert_eq!(
        creator["violations"][0]["sellers_notified"],
        json!(["partner-1", "partner-2", "partner-3"])
    );
    let paused: Vec<&str> = creator["paused_pairs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["seller_id"].as_str())
        .collect();
    assert_eq!(paused, ["partner-1", "partner-2"]);
    let totals: Vec<(&str, &str)> = creator["pending_commissions"]["totals"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| Some((t["seller_id"].as_str()?, t["amount"].as_str()?)))
        .collect();
    // ord-late earns 0 (demoted) and stays pending; partner-3's 20 % of 50.
    assert_eq!(totals, [("open-1", "0.00"), ("partner-3", "10.00")]);
}

#[tokio::test]
async fn a_rejected_campaign_is_explained_with_every_reason() {
    let env = start().await;
    let mut bad = campaign("k-bad");
    bad["type"] = json!("contest");
    bad["starts_at"] = json!("2026-01-01T00:00:00Z");
    bad["creator_group_id"] = json!("nobody");
    env.send("k-bad-1", "campaign.submitted", "2026-09-20T00:00:00Z", bad)
        .await;
    let rejected = env
        .outcomes
        .wait_for("campaign.rejected", |d| d["campaign_id"] == "k-bad")
        .await;
    let k = until(&env, "campaign", "k-bad", |k| k["status"] == "rejected").await;
    assert_eq!(k, explained(&env, "campaign", "k-bad").await);
    assert_eq!(k["rejections"][0]["event_id"], "k-bad-1");
    assert_eq!(k["rejections"][0]["reasons"], rejected["reasons"]);
    let codes: Vec<&str> = k["rejections"][0]["reasons"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["code"].as_str())
        .collect();
    for code in [
        "invalid_type",
        "starts_in_past",
        "unknown_creator_group",
        "product_not_eligible",
    ] {
        assert!(codes.contains(&code), "{code} missing from {codes:?}");
    }
    let (code, text, _) = env.cli(&["explain", "campaign", "k-bad"]).await;
    assert_eq!(code, 0);
    assert!(text.contains("rejected") && text.contains("invalid_type"), "{text}");
}

#[tokio::test]
async fn a_dead_lettered_event_is_explained_with_its_reason() {
    let env = start().await;
    let broken = event(
        "ev-broken",
        "order.paid",
        "2026-10-01T00:00:00Z",
        json!({ "order_id": "o1", "amount": "-5" }),
    );
    env.publish(&broken).await;
    env.wait_dlq_depth(1).await;
    let e = until(&env, "event", "ev-broken", |e| e["status"] == "dead_lettered").await;
    assert_eq!(e, explained(&env, "event", "ev-broken").await);
    assert_eq!(e["type"], "order.paid");
    assert_eq!(e["dead_letters"][0]["reason"], "schema_violation");
    assert_eq!(e["outcomes"]["items"], json!([]));
    let (code, text, _) = env.cli(&["explain", "event", "ev-broken"]).await;
    assert_eq!(code, 0);
    assert!(
        text.contains("dead-lettered") && text.contains("schema_violation"),
        "{text}"
    );
}

#[tokio::test]
async fn the_read_api_needs_the_token_and_answers_404_for_unknown_ids() {
    // No token configured: the API is closed (403), health stays open.
    let env = TestEnv::start().await;
    let (status, _) = get(env.port(), "/v1/orders/x", Some(TOKEN)).await;
    assert_eq!(status, 403);
    assert_eq!(env.http_get("/healthz").await.0, 200);
    drop(env);

    let env = start().await;
    for path in ["/v1/orders/x", "/v1/campaigns/x", "/v1/creators/x", "/v1/events/x"] {
        let (status, body) = get(env.port(), path, None).await;
        assert_eq!(status, 401, "{path} without a token: {body}");
        let (status, _) = get(env.port(), path, Some("wrong")).await;
        assert_eq!(status, 401, "{path} with a wrong token");
        let (status, _) = get(env.port(), path, Some(&format!("{TOKEN}x"))).await;
        assert_eq!(status, 401, "{path} with a longer token");
        let (status, body) = get(env.port(), path, Some(TOKEN)).await;
        assert_eq!(status, 404, "{path} unknown: {body}");
        assert!(body["error"].is_string());
    }
    assert_eq!(env.http_get("/healthz").await.0, 200);
    assert_eq!(env.http_get("/metrics").await.0, 200);
    // A bad page is a 400, never a 5xx.
    env.send(
        "p",
        "product.updated",
        "2026-09-01T00:00:00Z",
        product(P, SELLER, Some("0.10")),
    )
    .await;
    env.send(
        "o",
        "order.paid",
        "2026-10-01T00:00:00Z",
        order("o1", SELLER, P, Some("c1"), "10.00"),
    )
    .await;
    until(&env, "order", "o1", |o| o["status"] == "pending").await;
    let (status, _) = get(env.port(), "/v1/creators/c1?cursor=garbage", Some(TOKEN)).await;
    assert_eq!(status, 400);
    let (status, _) = get(env.port(), "/v1/creators/c1?limit=0", Some(TOKEN)).await;
    assert_eq!(status, 400);
    // The token never reaches the log.
    assert!(!env.worker_log().contains(TOKEN), "the token was logged");
}

/// Issue 17's latency figure: `GET /v1/creators/{id}` for a creator with
/// 10 000 pending commissions, while the worker drains a backlog of other
/// orders. Prints p50/p99 (README, section "Explain"). Ignored: it takes a
/// minute and measures this machine. Run it alone:
/// `cargo test --release --features fault-injection --test it creator_view_latency -- --ignored --nocapture`
#[tokio::test]
#[ignore = "benchmark: run alone, see README"]
async fn creator_view_latency_with_10000_commissions_while_draining() {
    let env = start().await;
    let big = "creator-10k";
    env.send(
        "p-big",
        "product.updated",
        "2026-09-01T00:00:00Z",
        product(P, SELLER, Some("0.10")),
    )
    .await;
    let minute = |i: usize| format!("2026-10-01T{:02}:{:02}:00Z", (i / 60) % 24, i % 60);
    let orders: Vec<Value> = (0..10_000)
        .map(|i| {
            event(
                &format!("big-{i}"),
                "order.paid",
                &minute(i),
                order(&format!("ob-{i}"), SELLER, P, Some(big), "10.00"),
            )
        })
        .collect();
    env.publish_many(&orders).await;
    until(&env, "creator", big, |c| {
        c["pending_commissions"]["totals"][0]["count"] == 10_000
    })
    .await;

    // A backlog of other creators' orders, then the measurement while it drains.
    let backlog: Vec<Value> = (0..40_000)
        .map(|i| {
            event(
                &format!("bl-{i}"),
                "order.paid",
                &minute(i),
                order(&format!("obl-{i}"), SELLER, P, Some(&format!("c-{}", i % 500)), "10.00"),
            )
        })
        .collect();
    env.publish_many(&backlog).await;
    let mut latencies = Vec::new();
    let mut baseline = Vec::new();
    let started = Instant::now();
    let queue = "collab.events.worker";
    while latencies.len() < 2_000 {
        let t = Instant::now();
        let (status, body) = get(env.port(), &format!("/v1/creators/{big}"), Some(TOKEN)).await;
        latencies.push(t.elapsed());
        // The same round trip without the database: what the machine
        // itself adds (a shared 2-core VM under load adds a lot).
        let t = Instant::now();
        env.http_get("/healthz").await;
        baseline.push(t.elapsed());
        assert_eq!(status, 200);
        assert_eq!(body["pending_commissions"]["totals"][0]["count"], 10_000);
        if latencies.len() % 200 == 0 && env.queue_state(queue).await.0 == 0 {
            break;
        }
    }
    let (left, _) = env.queue_state(queue).await;
    let ms = |mut all: Vec<Duration>, p: f64| {
        all.sort();
        all[((all.len() as f64 * p) as usize).min(all.len() - 1)].as_secs_f64() * 1e3
    };
    println!(
        "GET /v1/creators/{{id}} (10 000 pending commissions) while draining: {} requests in {:.1} s, \
         p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; GET /healthz alongside: p50 {:.1} ms, p99 {:.1} ms; \
         backlog left at the end: {left}",
        latencies.len(),
        started.elapsed().as_secs_f64(),
        ms(latencies.clone(), 0.50),
        ms(latencies.clone(), 0.99),
        ms(latencies.clone(), 1.0),
        ms(baseline.clone(), 0.50),
        ms(baseline.clone(), 0.99),
    );
    assert!(
        left > 0 || latencies.len() >= 200,
        "the backlog drained before enough requests were made"
    );
}
