//! Input limits at the edge (contract §3): what PostgreSQL could refuse is
//! dead-lettered at once with its reason, never retried as `apply_failed`.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::*;

const T0: &str = "2026-10-01T00:00:00Z";
const T1: &str = "2026-10-01T10:00:00Z";

/// An order event padded with an extension attribute to exactly `size` bytes.
fn padded_order(id: &str, size: usize) -> Vec<u8> {
    let mut e = event(id, "order.paid", T1, order(id, "S1", "P1", Some("C1"), "1.00"));
    e["xpad"] = json!("");
    let bare = serde_json::to_vec(&e).unwrap_or_default().len();
    e["xpad"] = json!("p".repeat(size.saturating_sub(bare)));
    let body = serde_json::to_vec(&e).unwrap_or_default();
    assert_eq!(body.len(), size);
    body
}

fn bytes(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

/// Each limit, published among good events: the bad ones are dead-lettered
/// at once with the reason and a detail saying what; the good ones apply;
/// nothing is retried.
#[tokio::test]
async fn each_input_limit_is_dead_lettered_at_once_with_its_reason() {
    let env = TestEnv::start().await;
    env.send("p-1", "product.updated", T0, product("P1", "S1", Some("0.10")))
        .await;
    let paid = |id: &str, order_id: &str| event(id, "order.paid", T1, order(order_id, "S1", "P1", Some("C1"), "1.00"));
    let with = |mut e: Value, path: &[&str], value: Value| {
        let mut node = &mut e;
        for step in &path[..path.len() - 1] {
            node = &mut node[*step];
        }
        node[path[path.len() - 1]] = value;
        e
    };
    let id_256 = "i".repeat(256);
    let mut not_utf8 = bytes(&paid("latin1", "O-latin1"));
    let at = not_utf8.windows(6).position(|w| w == b"/tests").unwrap_or(0);
    not_utf8[at + 2] = 0xE9;
    let lone = String::from_utf8_lossy(&bytes(&with(paid("lone", "O-lone"), &["xnote"], json!("@@"))))
        .replace("\"@@\"", "\"\\udc00\"")
        .into_bytes();
    // (reason, detail it must contain, body)
    let cases: Vec<(&str, &str, Vec<u8>)> = vec![
        (
            "too_large",
            "more than consumer.max_body_bytes (1048576)",
            padded_order("big", 1_048_577),
        ),
        (
            "too_large",
            "consumer.max_body_bytes",
            padded_order("huge", 5 * 1_048_576),
        ),
        ("invalid_json", "not UTF-8", not_utf8),
        ("invalid_json", "unpaired surrogate", lone),
        (
            "not_a_cloudevent",
            "id: must be a string, not a number",
            bytes(&with(paid("x", "O-x"), &["id"], json!(7001))),
        ),
        (
            "not_a_cloudevent",
            "the body is an array, not a JSON object",
            bytes(&json!([paid("arr", "O-arr")])),
        ),
        (
            "schema_violation",
            "id: ids are at most 256 bytes, this one has 257",
            bytes(&paid(&"i".repeat(257), "O-257")),
        ),
        (
            "schema_violation",
            "this one has 10000",
            bytes(&paid(&"i".repeat(10_000), "O-10000")),
        ),
        (
            "schema_violation",
            "data.order_id: ids are at most 256 bytes",
            bytes(&paid("long-order", &"o".repeat(300))),
        ),
        (
            "schema_violation",
            "id: ids may not contain U+0000",
            bytes(&paid("nul\u{0}id", "O-nul")),
        ),
        (
            "schema_violation",
            "data.creator_id: ids may not contain U+0000",
            bytes(&with(
                paid("nul-creator", "O-nc"),
                &["data", "creator_id"],
                json!("C\u{0}1"),
            )),
        ),
        (
            "schema_violation",
            "source: contains U+0000",
            bytes(&with(paid("nul-source", "O-ns"), &["source"], json!("/t\u{0}"))),
        ),
        (
            "schema_violation",
            "xnote: contains U+0000",
            bytes(&with(paid("nul-ext", "O-ne"), &["xnote"], json!("a\u{0}"))),
        ),
        (
            "schema_violation",
            "data.category: contains U+0000",
            bytes(&event(
                "nul-category",
                "product.updated",
                T1,
                with(product("P9", "S1", None), &["category"], json!("be\u{0}auty")),
            )),
        ),
    ];
    for (_, _, body) in &cases {
        env.publish_raw("order.paid", body, None).await;
    }
    // At the limits, still good: a 256-byte id, a body of exactly 1 MiB.
    // (Without a message_id: an AMQP short string holds 255 bytes at most.)
    env.publish_raw("order.paid", &bytes(&paid(&id_256, "O-256")), None)
        .await;
    env.publish_raw("order.paid", &padded_order("exactly-1mib", 1_048_576), None)
        .await;
    env.send(
        "good",
        "order.paid",
        T1,
        order("O-good", "S1", "P1", Some("C1"), "10.00"),
    )
    .await;

    env.outcomes
        .wait_until("the three good orders' commissions", |all| {
            all.iter().filter(|o| o["type"] == "commission.accrued").count() >= 3
        })
        .await;
    let dead = env.wait_dlq(cases.len()).await;
    assert_eq!(dead.len(), cases.len());
    for (reason, needle, body) in &cases {
        let Some((headers, _)) = dead.iter().find(|(_, b)| b == body) else {
            panic!("no dead letter for the {reason} case ({needle})");
        };
        assert_eq!(header(headers, "x-collab-error").as_deref(), Some(*reason), "{needle}");
        let detail = header(headers, "x-collab-error-detail").unwrap_or_default();
        assert!(detail.contains(needle), "{reason}: {detail:?} lacks {needle:?}");
    }
    assert_eq!(
        env.scalar_i64("SELECT count(*) FROM inbox WHERE type = 'order.paid'")
            .await,
        3
    );
    assert_eq!(
        env.scalar_i64("SELECT count(*) FROM inbox WHERE length(event_id) = 256")
            .await,
        1
    );
    // Refused at the edge, not by PostgreSQL: nothing was retried.
    let (_, metrics) = env.http_get("/metrics").await;
    assert!(
        !metrics
            .lines()
            .any(|l| l.starts_with("collab_apply_retries_total") && !l.ends_with(" 0")),
        "{metrics}"
    );
    assert!(
        metrics.contains("collab_events_dead_lettered_total{reason=\"too_large\"} 2"),
        "{metrics}"
    );
    // What the inbox stores can be read as jsonb: no body PostgreSQL refuses.
    env.outcomes.settle(Duration::from_millis(200)).await;
    assert_eq!(
        env.scalar_i64("SELECT count(*) FROM inbox WHERE body::jsonb IS NOT NULL")
            .await,
        env.scalar_i64("SELECT count(*) FROM inbox").await
    );
}
