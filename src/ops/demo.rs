//! `collab-worker demo`: a short story, end to end, for newcomers.
//!
//! Runs a worker in this process against a demo database (`<database>_demo`,
//! recreated each run, so its campaign clock starts fresh) and the configured
//! broker, publishes a scripted story to `collab.events`, and prints the
//! outcomes from `collab.outcomes` as a timeline with money totals.

use std::collections::BTreeMap;
use std::io::Write;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::StreamExt;
use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, ConnectionProperties};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection as _};
use tokio::sync::watch;

use crate::amqp;
use crate::amqp::topology::{EVENTS_EXCHANGE, OUTCOMES_EXCHANGE, WORK_QUEUE};
use crate::config::Settings;
use crate::http::Health;

/// The story: (event type, business time, data). Ids are added in order.
fn story() -> Vec<(&'static str, &'static str, Value)> {
    let order = |id: &str, product: &str, creator: &str, amount: &str, time: &'static str| {
        (
            "order.paid",
            time,
            json!({"order_id": id, "seller_id": "glow-shop", "product_id": product, "creator_id": creator,
                   "content_type": "video", "via_shop_ads": false, "quantity": 1, "amount": amount, "currency": "USD"}),
        )
    };
    let creator = |id: &str| {
        json!({"creator_id": id, "level": 5, "followers": 12000, "categories": ["beauty"],
               "content_types": ["video"], "avg_commission_rate": "0.12", "fake_order_risk": "low"})
    };
    vec![
        (
            "product.updated",
            "2026-03-01T08:00:00Z",
            json!({"product_id": "lip-tint", "seller_id": "glow-shop", "category": "beauty", "affiliate_eligible": true, "open_collab_rate": "0.10", "open_collab_shop_ads_rate": null}),
        ),
        (
            "product.updated",
            "2026-03-01T08:00:00Z",
            json!({"product_id": "blush", "seller_id": "glow-shop", "category": "beauty", "affiliate_eligible": true, "open_collab_rate": "0.08", "open_collab_shop_ads_rate": null}),
        ),
        ("creator.updated", "2026-03-01T08:00:00Z", creator("ava")),
        ("creator.updated", "2026-03-01T08:00:00Z", creator("ben")),
        (
            "creator_group.saved",
            "2026-03-01T09:00:00Z",
            json!({"seller_id": "glow-shop", "group_id": "beauty-creators", "name": "Beauty creators", "criteria": {"categories": ["beauty"], "level_min": 3}}),
        ),
        (
            "campaign.submitted",
            "2026-03-01T10:00:00Z",
            json!({
            "campaign_id": "spring-tint", "seller_id": "glow-shop", "type": "task", "title": "Spring lip tint",
            "starts_at": "2026-03-02T00:00:00Z", "ends_at": "2026-03-20T00:00:00Z", "creator_group_id": "beauty-creators",
            "currency": "USD", "budget": "200.00", "prompt_ads_authorization": false,
            "products": [{"product_id": "lip-tint", "commission_rate": "0.15", "free_sample": true}],
            "task": {"reward": "100.00", "tasks": [{"kind": "orders", "content_type": "any", "target": 2}, {"kind": "content", "content_type": "video", "target": 1}]}}),
        ),
        (
            "payment.succeeded",
            "2026-03-01T11:00:00Z",
            json!({"payment_id": "pay-1", "campaign_id": "spring-tint", "seller_id": "glow-shop", "amount": "200.00", "currency": "USD", "method": "credit_card"}),
        ),
        (
            "clock.ticked",
            "2026-03-02T00:00:00Z",
            json!({"now": "2026-03-02T00:00:00Z"}),
        ),
        (
            "creator.join_requested",
            "2026-03-02T09:00:00Z",
            json!({"campaign_id": "spring-tint", "creator_id": "ava"}),
        ),
        (
            "creator.join_requested",
            "2026-03-02T09:30:00Z",
            json!({"campaign_id": "spring-tint", "creator_id": "ben"}),
        ),
        (
            "content.posted",
            "2026-03-03T12:00:00Z",
            json!({"content_id": "ava-video-1", "creator_id": "ava", "content_type": "video", "product_ids": ["lip-tint"], "ads_authorized": true}),
        ),
        order("o-1001", "lip-tint", "ava", "40.00", "2026-03-04T10:00:00Z"),
        order("o-1002", "blush", "ben", "30.00", "2026-03-04T11:00:00Z"),
        order("o-1003", "lip-tint", "ava", "60.00", "2026-03-05T10:00:00Z"),
        order("o-1004", "lip-tint", "ben", "25.00", "2026-03-05T12:00:00Z"),
        (
            "creator.violation_reported",
            "2026-03-06T09:00:00Z",
            json!({"violation_id": "vio-77", "creator_id": "ben", "guideline": "misleading_claims"}),
        ),
        order("o-1005", "blush", "ben", "50.00", "2026-03-07T10:00:00Z"),
        ("order.settled", "2026-03-12T00:00:00Z", json!({"order_id": "o-1001"})),
        ("order.settled", "2026-03-12T00:00:00Z", json!({"order_id": "o-1003"})),
        ("order.settled", "2026-03-12T00:00:00Z", json!({"order_id": "o-1004"})),
        (
            "clock.ticked",
            "2026-03-20T00:00:00Z",
            json!({"now": "2026-03-20T00:00:00Z"}),
        ),
    ]
}

/// `postgres://…/collab?sslmode=require` → `postgres://…/collab_demo?sslmode=require`
/// (the parameters, TLS ones included, stay).
fn demo_database(url: &str) -> anyhow::Result<(String, String)> {
    let options = PgConnectOptions::from_str(url).context("DATABASE_URL")?;
    let name = format!("{}_demo", options.get_database().unwrap_or("collab"));
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let prefix = base.rsplit_once('/').map(|(p, _)| p).unwrap_or(base);
    Ok((name.clone(), format!("{prefix}/{name}{query}")))
}

async fn recreate_database(url: &str, name: &str) -> anyhow::Result<()> {
    let admin_options = PgConnectOptions::from_str(url)?.database("postgres");
    let mut admin = admin_options.connect().await.context("connecting to PostgreSQL")?;
    let quoted = name.replace('"', "\"\"");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS \"{quoted}\" WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await?;
    admin.close().await?;
    Ok(())
}

fn money(v: &Value) -> Decimal {
    v.as_str().and_then(|s| s.parse().ok()).unwrap_or_default()
}

/// One line of the timeline.
fn describe(o: &Value) -> String {
    let d = &o["data"];
    let s = |k: &str| d[k].as_str().unwrap_or("").to_owned();
    match o["type"].as_str().unwrap_or("") {
        "campaign.accepted" => format!(
            "{} accepted: deposit {} {}, room for {} creators",
            s("campaign_id"),
            s("deposit"),
            s("currency"),
            d["capacity"]
        ),
        "campaign.scheduled" => format!("{} paid, starts {}", s("campaign_id"), s("starts_at")),
        "campaign.started" | "campaign.ended" => s("campaign_id"),
        "participation.accepted" => format!("{} joins {}", s("creator_id"), s("campaign_id")),
        "participation.status_changed" => format!("{} is now {} in {}", s("creator_id"), s("status"), s("campaign_id")),
        "commission.accrued" => format!(
            "{} earns {} on {} ({} × {}, {})",
            s("creator_id"),
            s("amount"),
            s("order_id"),
            s("base_amount"),
            s("rate"),
            s("rate_source")
        ),
        "commission.cancelled" => format!("commission on {} cancelled ({})", s("order_id"), s("reason")),
        "commission.payable" => format!(
            "{} {} payable to {} ({})",
            s("amount"),
            s("currency"),
            s("creator_id"),
            s("reason")
        ),
        "commission.demoted" => format!(
            "{} demoted to 0 % open-collaboration commission ({})",
            s("creator_id"),
            s("violation_id")
        ),
        "seller.violation_notice" => format!(
            "{} notified about {}: pause, dispute or nothing",
            s("seller_id"),
            s("creator_id")
        ),
        "task.finished" => format!("{} finished every task of {}", s("creator_id"), s("campaign_id")),
        "reward.issued" => format!("{} {} reward to {}", s("amount"), s("currency"), s("creator_id")),
        "refund.due" => format!(
            "{} {} back to {} {} ({})",
            s("amount"),
            s("currency"),
            s("to"),
            s("party_id"),
            s("reason")
        ),
        "campaign.settled" => format!(
            "{} settled: deposit {}, charged {}, refunded {}",
            s("campaign_id"),
            s("deposit"),
            s("charged"),
            s("refunded")
        ),
        _ => d.to_string(),
    }
}

/// Runs the story; fails if it does not end with a settled campaign.
pub async fn run(settings: Settings, out: &mut impl Write) -> anyhow::Result<()> {
    let (db_name, db_url) = demo_database(&settings.database_url)?;
    recreate_database(&settings.database_url, &db_name).await?;
    let connection = amqp::connect_with(settings.broker(), ConnectionProperties::default())
        .await
        .context("connecting to RabbitMQ")?;
    let channel = connection.create_channel().await?;
    let passive = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    if let Ok(queue) = channel
        .queue_declare(WORK_QUEUE.into(), passive, FieldTable::default())
        .await
        && queue.consumer_count() > 0
    {
        bail!(
            "another worker consumes {WORK_QUEUE} on this vhost; stop it or point AMQP_URL at another vhost for the demo"
        );
    }
    let channel = connection.create_channel().await?;

    let mut worker_settings = settings.clone();
    worker_settings.database_url = db_url;
    worker_settings.http_addr = "127.0.0.1:0".parse()?;
    let health = Arc::new(Health::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let worker = tokio::spawn(crate::worker::run_until(worker_settings, stop_rx, health.clone()));
    let deadline = Instant::now() + Duration::from_secs(60);
    while !health.ready() {
        if worker.is_finished() || Instant::now() > deadline {
            bail!("the demo worker did not start; is PostgreSQL reachable?");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let watch = channel
        .queue_declare(
            "".into(),
            QueueDeclareOptions {
                exclusive: true,
                auto_delete: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await?;
    channel
        .queue_bind(
            watch.name().clone(),
            OUTCOMES_EXCHANGE.into(),
            "#".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let mut outcomes = channel
        .basic_consume(
            watch.name().clone(),
            "demo".into(),
            BasicConsumeOptions {
                no_ack: true,
                ..BasicConsumeOptions::default()
            },
            FieldTable::default(),
        )
        .await?;

    let publisher = connection.create_channel().await?;
    publisher.confirm_select(ConfirmSelectOptions::default()).await?;
    writeln!(
        out,
        "Publishing the story to {EVENTS_EXCHANGE} ({} events)…\n",
        story().len()
    )?;
    for (i, (type_name, time, data)) in story().into_iter().enumerate() {
        let event = json!({"specversion": "1.0", "id": format!("demo-{i:03}"), "source": "/demo", "type": type_name, "time": time, "data": data});
        publisher
            .basic_publish(
                EVENTS_EXCHANGE.into(),
                type_name.into(),
                BasicPublishOptions::default(),
                &serde_json::to_vec(&event)?,
                BasicProperties::default()
                    .with_content_type("application/cloudevents+json".into())
                    .with_delivery_mode(2),
            )
            .await?
            .await?;
    }

    let mut seen: Vec<Value> = Vec::new();
    let wait_until = Instant::now() + Duration::from_secs(60);
    let mut settled_at: Option<Instant> = None;
    while Instant::now() < wait_until {
        // After the settlement, a moment more for the last outcomes.
        if settled_at.is_some_and(|t| t.elapsed() > Duration::from_millis(500)) {
            break;
        }
        if let Ok(Some(Ok(delivery))) = tokio::time::timeout(Duration::from_millis(200), outcomes.next()).await
            && let Ok(outcome) = serde_json::from_slice::<Value>(&delivery.data)
        {
            if outcome["type"] == "campaign.settled" {
                settled_at = Some(Instant::now());
            }
            seen.push(outcome);
        }
    }
    let _stop_sent = stop_tx.send(true);
    let worker_result = worker.await;
    connection.close(200, "demo done".into()).await?;

    print_timeline(&seen, out)?;
    match worker_result {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(e.context("the demo worker failed")),
        Err(e) => bail!("the demo worker panicked: {e}"),
    }
    let has = |t: &str| seen.iter().any(|o| o["type"] == t);
    if !(has("reward.issued") && has("commission.demoted") && has("campaign.settled")) {
        bail!("the story did not complete; see the worker log above");
    }
    writeln!(out, "\nThe story ran end to end. State is in the database {db_name}.")?;
    Ok(())
}

fn print_timeline(seen: &[Value], out: &mut impl Write) -> anyhow::Result<()> {
    writeln!(out, "{:<17} {:<30} WHAT", "BUSINESS TIME", "OUTCOME")?;
    let mut totals: BTreeMap<&str, Decimal> = BTreeMap::new();
    for o in seen {
        let time = o["time"].as_str().unwrap_or("").replace('T', " ");
        let time = time.get(..16).unwrap_or(&time).to_owned();
        writeln!(
            out,
            "{time:<17} {:<30} {}",
            o["type"].as_str().unwrap_or("?"),
            describe(o)
        )?;
        let d = &o["data"];
        let mut add = |k: &'static str, v: Decimal| *totals.entry(k).or_default() += v;
        match o["type"].as_str().unwrap_or("") {
            "campaign.scheduled" => {}
            "campaign.accepted" => add("seller deposit", money(&d["deposit"])),
            "reward.issued" => add("rewards issued", money(&d["amount"])),
            "refund.due" => add("refunded to sellers", money(&d["amount"])),
            "commission.accrued" => add("commissions accrued", money(&d["amount"])),
            "commission.payable" => add("commissions payable", money(&d["amount"])),
            _ => {}
        }
    }
    writeln!(out, "\nMoney (USD)")?;
    for (what, amount) in &totals {
        writeln!(out, "  {what:<30} {:>10}", crate::wire::values::format_money(amount))?;
    }
    let cancelled = seen.iter().filter(|o| o["type"] == "commission.cancelled").count();
    writeln!(out, "  {:<30} {cancelled:>10}", "commissions cancelled")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_database_keeps_the_urls_parameters() {
        let demo = |url: &str| demo_database(url).map_err(|e| e.to_string());
        assert_eq!(
            demo("postgres://u@h:5432/collab"),
            Ok(("collab_demo".into(), "postgres://u@h:5432/collab_demo".into()))
        );
        assert_eq!(
            demo("postgres://u@h/shop?sslmode=verify-full&sslrootcert=/ca.pem"),
            Ok((
                "shop_demo".into(),
                "postgres://u@h/shop_demo?sslmode=verify-full&sslrootcert=/ca.pem".into()
            ))
        );
    }
}
