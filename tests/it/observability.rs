//! What operators' tools read: `/metrics` on a fresh worker (every metric
//! the README documents, with its known label values, at zero; data for
//! every dashboard panel) and JSON logs a log pipeline accepts.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use lapin::options::QueueBindOptions;
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Value, json};

use crate::common::*;

const T0: &str = "2026-10-01T00:00:00Z";
const T1: &str = "2026-10-01T10:00:00Z";

fn project_file(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `name → label` of every metric in the README's Metrics bullet.
fn documented_metrics() -> BTreeMap<String, Option<String>> {
    let readme = project_file("README.md");
    let start = readme
        .find("* **Metrics**")
        .unwrap_or_else(|| panic!("README has no Metrics bullet"));
    let bullet = &readme[start..];
    let bullet = &bullet[..bullet[2..].find("\n* ").map_or(bullet.len(), |end| end + 2)];
    bullet
        .split('`')
        .filter(|token| token.starts_with("collab_"))
        .map(|token| match token.split_once('{') {
            Some((name, label)) => (name.to_owned(), Some(label.trim_end_matches('}').to_owned())),
            None => (token.to_owned(), None),
        })
        .collect()
}

/// The sample lines of one series name (`name{…} v` or `name v`).
fn samples<'a>(metrics: &'a str, name: &str) -> Vec<&'a str> {
    metrics
        .lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .collect()
}

/// The values of `label` over the samples of `name`.
fn label_values(metrics: &str, name: &str, label: &str) -> BTreeSet<String> {
    let key = format!("{label}=\"");
    samples(metrics, name)
        .iter()
        .filter_map(|l| {
            let from = l.find(&key)? + key.len();
            Some(l[from..].split('"').next()?.to_owned())
        })
        .collect()
}

fn asyncapi() -> Value {
    serde_norway::from_str(&project_file("docs/asyncapi.yaml")).expect("docs/asyncapi.yaml")
}

fn strings(values: &Value) -> BTreeSet<String> {
    values
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

/// A fresh worker, before any event: every documented metric is there with
/// every label value known in advance, at zero; no label names a producer's
/// id; every query of the Grafana dashboard finds its series.
#[tokio::test]
async fn a_fresh_worker_lists_every_documented_metric_at_zero_and_feeds_every_dashboard_panel() {
    let env = TestEnv::start().await;
    let (status, metrics) = env.http_get("/metrics").await;
    assert_eq!(status, 200);

    let documented = documented_metrics();
    assert!(documented.len() >= 17, "{documented:?}");
    for (name, label) in &documented {
        assert!(
            metrics.contains(&format!("# TYPE {name} ")),
            "{name} is not exported by a fresh worker:\n{metrics}"
        );
        let series = if metrics.contains(&format!("# TYPE {name} histogram")) {
            format!("{name}_count")
        } else {
            name.clone()
        };
        let lines = samples(&metrics, &series);
        assert!(!lines.is_empty(), "{name} has no sample:\n{metrics}");
        for label in label.iter().flat_map(|labels| labels.split(',')) {
            assert!(
                lines.iter().all(|l| l.contains(&format!("{label}=\""))),
                "{name} samples lack the {label} label: {lines:?}"
            );
        }
        if name.ends_with("_total") {
            assert!(lines.iter().all(|l| l.ends_with(" 0")), "{name} is not zero: {lines:?}");
        }
    }

    // Every known label value, from the contract's own lists.
    let doc = asyncapi();
    let valid = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/events/valid");
    let inbound: BTreeSet<String> = std::fs::read_dir(valid)
        .expect("valid fixtures")
        .filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(".json").map(str::to_owned))
        .collect();
    assert_eq!(inbound.len(), 26);
    let outcomes: BTreeSet<String> = doc["channels"]["outcomes"]["messages"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    assert!(outcomes.len() > 30, "{outcomes:?}");
    let reasons = strings(&doc["components"]["schemas"]["DeadLetterHeaders"]["properties"]["x-collab-error"]["enum"]);
    assert!(
        reasons.contains("too_large") && reasons.contains("apply_failed"),
        "{reasons:?}"
    );
    for name in ["collab_events_applied_total", "collab_events_duplicate_total"] {
        assert_eq!(label_values(&metrics, name, "type"), inbound, "{name}");
    }
    for name in [
        "collab_outcomes_decided_total",
        "collab_outcomes_published_total",
        "collab_outcomes_unroutable_total",
    ] {
        assert_eq!(label_values(&metrics, name, "type"), outcomes, "{name}");
    }
    assert_eq!(
        label_values(&metrics, "collab_events_dead_lettered_total", "reason"),
        reasons
    );
    let replayable: BTreeSet<String> = reasons.iter().cloned().chain(["delivery_limit".to_owned()]).collect();
    assert_eq!(
        label_values(&metrics, "collab_dlq_replayed_total", "reason"),
        replayable
    );
    assert_eq!(
        label_values(&metrics, "collab_apply_retries_total", "cause"),
        BTreeSet::from(["failed".to_owned(), "transient".to_owned()])
    );
    for id_label in ["seller_id=", "creator_id=", "campaign_id=", "order_id="] {
        assert!(
            !metrics.contains(id_label),
            "a label grows with producers' ids: {id_label}"
        );
    }

    // The dashboard: every series a panel queries exists on this idle worker,
    // and a query that is NaN without samples (a quantile, a ratio of rates)
    // falls back to 0, so no panel says "No data".
    let dashboard: Value = serde_json::from_str(&project_file("docs/grafana-dashboard.json")).expect("dashboard");
    let mut queries = 0;
    for panel in dashboard["panels"].as_array().into_iter().flatten() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().unwrap_or_default();
            let title = panel["title"].as_str().unwrap_or_default();
            queries += 1;
            let series: BTreeSet<&str> = expr
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| w.starts_with("collab_"))
                .collect();
            assert!(!series.is_empty(), "{title}: {expr}");
            for name in series {
                assert!(
                    !samples(&metrics, name).is_empty(),
                    "panel {title:?} queries {name}, which a fresh worker does not export"
                );
            }
            if expr.contains("histogram_quantile") || expr.contains(" / ") {
                assert!(
                    expr.ends_with("or on() vector(0)"),
                    "panel {title:?} is NaN while idle: {expr}"
                );
            }
        }
    }
    assert!(queries >= 20, "{queries} queries");
}

/// Checks a JSON text for duplicate member names, at any depth.
struct NoDuplicateKeys;

impl<'de> Deserialize<'de> for NoDuplicateKeys {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Check;
        impl<'de> Visitor<'de> for Check {
            type Value = NoDuplicateKeys;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(NoDuplicateKeys)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(NoDuplicateKeys)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(NoDuplicateKeys)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(NoDuplicateKeys)
            }
            fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
                Ok(NoDuplicateKeys)
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(NoDuplicateKeys)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<NoDuplicateKeys>()?.is_some() {}
                Ok(NoDuplicateKeys)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut seen = HashSet::new();
                while let Some(key) = map.next_key::<String>()? {
                    if !seen.insert(key.clone()) {
                        return Err(de::Error::custom(format!("duplicate key {key:?}")));
                    }
                    map.next_value::<NoDuplicateKeys>()?;
                }
                Ok(NoDuplicateKeys)
            }
        }
        deserializer.deserialize_any(Check)
    }
}

/// Flattened `section.key` names of `config/default.toml`.
fn setting_names() -> BTreeSet<String> {
    use figment::providers::{Format, Toml};
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config/default.toml");
    let table: Value = figment::Figment::from(Toml::file(path))
        .extract()
        .expect("config/default.toml");
    let mut names = BTreeSet::new();
    for (key, value) in table.as_object().into_iter().flatten() {
        match value.as_object() {
            Some(section) => names.extend(section.keys().map(|k| format!("{key}.{k}"))),
            None => {
                names.insert(key.clone());
            }
        }
    }
    names
}

/// `LOG_FORMAT=json` with the harness's `RUST_LOG=info`: every line is one
/// JSON object without duplicate keys; outcomes no queue takes give one
/// line per type, without payload bytes (lapin's per-message warning is
/// off); the start-up settings are fields, the password masked.
#[tokio::test]
async fn json_logs_are_one_object_per_line_without_duplicate_keys() {
    let mut env = TestEnv::prepare(vec![("LOG_FORMAT", "json")]).await;
    // The spy takes only commissions: participation outcomes are unroutable.
    let connection = Connection::connect(&env.amqp_url, ConnectionProperties::default())
        .await
        .expect("connection");
    let channel = connection.create_channel().await.expect("channel");
    channel
        .queue_bind(
            SPY_QUEUE.into(),
            "collab.outcomes".into(),
            "commission.*".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("bind");
    channel
        .queue_unbind(
            SPY_QUEUE.into(),
            "collab.outcomes".into(),
            "#".into(),
            FieldTable::default(),
        )
        .await
        .expect("unbind");
    connection.close(200, "ok".into()).await.expect("close");
    env = env.with_worker().await;

    env.send("p-1", "product.updated", T0, product("P1", "S1", Some("0.10")))
        .await;
    for i in 0..3 {
        env.send(
            &format!("join-{i}"),
            "creator.join_requested",
            T1,
            json!({"campaign_id": "K-unknown", "creator_id": format!("C{i}")}),
        )
        .await;
    }
    env.publish_raw("order.paid", b"{\"specversion\": ", None).await;
    let paid = event("o-1", "order.paid", T1, order("O1", "S1", "P1", Some("C1"), "10.00"));
    env.publish(&paid).await;
    env.publish(&paid).await;
    env.outcomes.wait_count("commission.accrued", 1).await;
    let deadline = Instant::now() + WAIT;
    loop {
        let (_, metrics) = env.http_get("/metrics").await;
        if metrics.contains("collab_outcomes_unroutable_total{type=\"participation.rejected\"} 3")
            && metrics.contains("collab_events_duplicate_total{type=\"order.paid\"} 1")
        {
            break;
        }
        assert!(Instant::now() < deadline, "unroutable outcomes not counted:\n{metrics}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(env.stop_worker().await, Some(0));

    let log = env.worker_log();
    let mut lines = Vec::new();
    for line in log.lines() {
        let value: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(value.is_object(), "not an object: {line}");
        if let Err(e) = serde_json::from_str::<NoDuplicateKeys>(line) {
            panic!("{e}: {line}");
        }
        assert!(line.len() < 4096, "a {}-byte line: {}", line.len(), &line[..200]);
        assert!(!line.contains("returned us a message"), "{line}");
        lines.push(value);
    }
    let unroutable: Vec<&Value> = lines
        .iter()
        .filter(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("no queue is bound"))
        })
        .collect();
    assert_eq!(unroutable.len(), 1, "one line per unroutable type: {unroutable:?}");
    assert_eq!(unroutable[0]["outcome.type"], "participation.rejected");
    assert!(
        lines
            .iter()
            .any(|l| l["message"] == "dead-lettered a message" && l["reason"] == "invalid_json")
    );

    let starting = lines
        .iter()
        .find(|l| l["message"] == "starting")
        .unwrap_or_else(|| panic!("no start-up line in:\n{log}"));
    for name in setting_names() {
        assert!(starting.get(&name).is_some(), "start-up line lacks {name}: {starting}");
    }
    assert_eq!(starting["consumer.batch_size"], 500);
    let amqp_url = starting["amqp_url"].as_str().unwrap_or_default();
    assert!(amqp_url.starts_with("amqp://guest:***@"), "{amqp_url}");
    assert!(!log.contains("guest:guest"), "a password in the log");
}
