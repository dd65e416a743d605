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
use crate::testkit::{Ev, events};

/// The story: (business time, event). Ids are added in order.
fn story() -> Vec<(&'static str, Ev)> {
    let seller = "glow-shop";
    let order = |id: &str, product: &str, creator: &str, amount: &str| {
        events::order_paid(id, seller, product, Some(creator), amount)
    };
    let creator = |id: &str| events::creator_updated(id, 5, 12000).with("avg_commission_rate", "0.12");
    let campaign = events::task_campaign(
        "spring-tint",
        seller,
        "beauty-creators",
        "2026-03-02T00:00:00Z",
        "2026-03-20T00:00:00Z",
        &[],
    )
    .with("title", "Spring lip tint")
    .with("budget", "200.00")
    .with(
        "products",
        json!([{"product_id": "lip-tint", "commission_rate": "0.15", "free_sample": true}]),
    )
    .with(
        "task",
        json!({"reward": "100.00", "tasks": [{"kind": "orders", "content_type": "any", "target": 2},
                                             {"kind": "content", "content_type": "video", "target": 1}]}),
    );
    vec![
        (
            "2026-03-01T08:00:00Z",
            events::product_updated("lip-tint", seller, Some("0.10")),
        ),
        (
            "2026-03-01T08:00:00Z",
            events::product_updated("blush", seller, Some("0.08")),
        ),
        ("2026-03-01T08:00:00Z", creator("ava")),
        ("2026-03-01T08:00:00Z", creator("ben")),
        (
            "2026-03-01T09:00:00Z",
            events::creator_group_saved(
                seller,
                "beauty-creators",
                json!({"categories": ["beauty"], "level_min": 3}),
            )
            .with("name", "Beauty creators"),
        ),
        ("2026-03-01T10:00:00Z", campaign),
        (
            "2026-03-01T11:00:00Z",
            events::payment_succeeded("pay-1", "spring-tint", seller, "200.00"),
        ),
        ("2026-03-02T00:00:00Z", events::clock_ticked("2026-03-02T00:00:00Z")),
        ("2026-03-02T09:00:00Z", events::join_requested("spring-tint", "ava")),
        ("2026-03-02T09:30:00Z", events::join_requested("spring-tint", "ben")),
        (
            "2026-03-03T12:00:00Z",
            events::content_posted("ava-video-1", "ava", &["lip-tint"]),
        ),
        ("2026-03-04T10:00:00Z", order("o-1001", "lip-tint", "ava", "40.00")),
        ("2026-03-04T11:00:00Z", order("o-1002", "blush", "ben", "30.00")),
        ("2026-03-05T10:00:00Z", order("o-1003", "lip-tint", "ava", "60.00")),
        ("2026-03-05T12:00:00Z", order("o-1004", "lip-tint", "ben", "25.00")),
        (
            "2026-03-06T09:00:00Z",
            events::violation_reported("vio-77", "ben", "misleading_claims"),
        ),
        ("2026-03-07T10:00:00Z", order("o-1005", "blush", "ben", "50.00")),
        ("2026-03-12T00:00:00Z", events::order_settled("o-1001")),
        ("2026-03-12T00:00:00Z", events::order_settled("o-1003")),
        ("2026-03-12T00:00:00Z", events::order_settled("o-1004")),
        ("2026-03-20T00:00:00Z", events::clock_ticked("2026-03-20T00:00:00Z")),
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
    for (i, (time, ev)) in story().into_iter().enumerate() {
        publisher
            .basic_publish(
                EVENTS_EXCHANGE.into(),
                ev.type_name.into(),
                BasicPublishOptions::default(),
                &ev.body(&format!("demo-{i:03}"), "/demo", time),
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
    fn every_event_of_the_story_is_valid() {
        for (time, ev) in story() {
            assert!(ev.typed().is_ok(), "{time} {}: {:?}", ev.type_name, ev.typed().err());
        }
    }

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
