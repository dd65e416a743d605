//! Explanations: what the worker decided about an order, a campaign, a
//! creator or an event, and why (contract.md §1 rows "read API" and
//! "explain").
//!
//! Nothing here decides or re-derives a rule. The "why" is what the rules
//! recorded on the aggregates while deciding, in the same transaction as
//! the decision (`domain::model`: an order's O2 steps and commission life,
//! a campaign's status history, money and rejections, a creator's
//! violations and block); this module reads those documents, with the
//! index columns of the `state` table for lists, and shapes them as JSON
//! (the read API and `explain --json`) or as text for a person.
//!
//! Lists are paginated by an opaque cursor: an entity's main list (a
//! campaign's participants, a creator's pending commissions, an event's
//! outcomes) by `cursor`/`limit`; the short lists beside it are capped at
//! [`SIDE_LIST_CAP`] with a `*_truncated` flag.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use sqlx::{PgPool, Row};

use crate::domain::model::{
    Aggregate, Campaign, CampaignPlan, CommissionState, Creator, Doc, Key, Order, Pair, Participation, RateRecord,
    Submission,
};
use crate::store::{StoreError, codec, dead_letters};
use crate::wire::values::{CampaignId, CreatorId, OrderId, SellerId};

mod text;
pub use text::render_text;

/// Entries of a side list (a creator's connections or participations, a
/// campaign's refunds) beyond this are left out, flagged.
pub const SIDE_LIST_CAP: usize = 200;
/// Default and largest page of a main list.
pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 500;

/// What can be explained.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Entity {
    Order,
    Campaign,
    Creator,
    Event,
}

impl Entity {
    pub fn name(self) -> &'static str {
        match self {
            Entity::Order => "order",
            Entity::Campaign => "campaign",
            Entity::Creator => "creator",
            Entity::Event => "event",
        }
    }
}

/// A page of a main list: after `cursor`, at most `limit` entries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Page {
    pub cursor: Option<String>,
    pub limit: Option<usize>,
}

impl Page {
    /// The cursor, if one is given (an empty one is none: the first page).
    fn cursor(&self) -> Option<&str> {
        self.cursor.as_deref().filter(|c| !c.is_empty())
    }

    fn limit(&self) -> usize {
        self.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The cursor was not one this API handed out.
    #[error("invalid cursor")]
    BadCursor,
    /// The id is not a valid id (empty, too long, U+0000).
    #[error("invalid id")]
    BadId,
}

impl From<sqlx::Error> for ExplainError {
    fn from(error: sqlx::Error) -> Self {
        ExplainError::Store(StoreError::from(error))
    }
}

/// The explanation of one entity; `None` for an unknown id.
pub async fn explain(pool: &PgPool, entity: Entity, id: &str, page: &Page) -> Result<Option<Value>, ExplainError> {
    if id.is_empty() || id.len() > 256 || id.contains('\0') {
        return Err(ExplainError::BadId);
    }
    match entity {
        Entity::Order => order(pool, id).await,
        Entity::Campaign => campaign(pool, id, page).await,
        Entity::Creator => creator(pool, id, page).await,
        Entity::Event => event(pool, id, page).await,
    }
}

async fn doc(pool: &PgPool, key: &Key) -> Result<Option<Doc>, ExplainError> {
    let body: Option<String> = sqlx::query_scalar("SELECT body FROM state WHERE kind = $1 AND key = $2")
        .bind(key.kind())
        .bind(codec::encode_key(key))
        .fetch_optional(pool)
        .await?;
    body.map(|b| codec::decode_doc(key.kind(), &b).map_err(|e| ExplainError::Store(StoreError::Corrupt(e))))
        .transpose()
}

async fn aggregate<A: Aggregate>(pool: &PgPool, id: &A::Id) -> Result<Option<A>, ExplainError> {
    Ok(doc(pool, &A::key_of(id)).await?.and_then(A::from_doc))
}

fn to_json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

fn encode_cursor(parts: &[&str]) -> String {
    URL_SAFE_NO_PAD.encode(to_json(&parts).to_string())
}

fn decode_cursor(cursor: &str) -> Result<Vec<String>, ExplainError> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| ExplainError::BadCursor)?;
    serde_json::from_slice(&bytes).map_err(|_| ExplainError::BadCursor)
}

fn state_code(state: CommissionState) -> (&'static str, Option<&'static str>) {
    match state {
        CommissionState::Pending => ("pending", None),
        CommissionState::Payable => ("payable", None),
        CommissionState::Cancelled(reason) => ("cancelled", Some(reason.code())),
        CommissionState::Closed => ("closed", None),
    }
}

async fn order(pool: &PgPool, id: &str) -> Result<Option<Value>, ExplainError> {
    let Some(order) = aggregate::<Order>(pool, &OrderId::from(id)).await? else {
        return Ok(None);
    };
    let commission = order.commission.as_ref().map(|c| {
        let (state, cancel_reason) = state_code(c.state);
        json!({
            "commission_id": c.id,
            "state": state,
            "cancel_reason": cancel_reason,
            "rate": c.rate,
            "rate_source": c.source,
            "campaign_id": c.campaign_id,
            "shop_ads_rate": c.shop_ads_rate,
            "base_amount": order.base().to_string(),
            "amount": c.amount.to_string(),
            "shop_ads_amount": c.shop_ads_amount.to_string(),
            "paid_out": c.paid_out.to_string(),
            "held_by_disputes": c.held_by,
        })
    });
    let paid = order.paid.as_ref().map(|p| {
        json!({
            "time": p.time,
            "seller_id": p.seller_id,
            "product_id": p.product_id,
            "creator_id": p.creator_id,
            "content_id": p.content_id,
            "content_type": p.channel,
            "via_shop_ads": p.via_shop_ads,
            "quantity": p.quantity,
            "amount": p.amount.to_string(),
            "currency": p.currency,
        })
    });
    let status = match (&order.paid, &order.commission) {
        (None, _) => "not_paid_yet",
        (Some(_), _) if order.awaiting_product => "awaiting_product",
        (Some(p), None) if p.creator_id.is_none() => "not_attributed",
        (Some(_), None) => "no_commission",
        (Some(_), Some(c)) => state_code(c.state).0,
    };
    Ok(Some(json!({
        "kind": "order",
        "id": order.id,
        "status": status,
        "paid": paid,
        "refunded": order.refunded.to_string(),
        "cancelled_at": order.cancelled_at,
        "settled_at": order.settled_at,
        "facts_waiting": order.early_facts.len(),
        "commission": commission,
        "decision": order.decisions.last().map(|d| to_json(&d.expanded())),
        "decisions": to_json(&order.decisions.iter().map(RateRecord::expanded).collect::<Vec<_>>()),
        "life": to_json(&order.life),
    })))
}

async fn campaign(pool: &PgPool, id: &str, page: &Page) -> Result<Option<Value>, ExplainError> {
    let campaign_id = CampaignId::from(id);
    let campaign = aggregate::<Campaign>(pool, &campaign_id).await?;
    let submission = aggregate::<Submission>(pool, &campaign_id).await?;
    let rejections = submission.as_ref().map(|s| to_json(&s.rejections)).unwrap_or(json!([]));
    let Some(campaign) = campaign else {
        let Some(submission) = submission else {
            return Ok(None);
        };
        let seller = submission.rejections.last().map(|r| r.seller_id.clone());
        return Ok(Some(json!({
            "kind": "campaign",
            "id": id,
            "status": "rejected",
            "seller_id": seller,
            "rejections": rejections,
            "history": [],
            "money": [],
            "participants": { "items": [], "next_cursor": null },
        })));
    };
    let limit = page.limit();
    let after = match page.cursor() {
        Some(c) => decode_cursor(c)?.into_iter().next().ok_or(ExplainError::BadCursor)?,
        None => String::new(),
    };
    let rows = sqlx::query(
        "SELECT key, body FROM state WHERE kind = 'participation' AND campaign_id = $1 AND key > $2 \
         ORDER BY key LIMIT $3",
    )
    .bind(id)
    .bind(&after)
    .bind(i64::try_from(limit + 1).unwrap_or(i64::MAX))
    .fetch_all(pool)
    .await?;
    let mut items = Vec::new();
    let mut next = None;
    for (i, row) in rows.iter().enumerate() {
        let key: String = row.try_get("key")?;
        if i == limit {
            break;
        }
        if i + 1 == limit && rows.len() > limit {
            next = Some(encode_cursor(&[&key]));
        }
        let body: String = row.try_get("body")?;
        let Some(p) = codec::decode_doc("participation", &body)
            .ok()
            .and_then(Participation::from_doc)
        else {
            continue;
        };
        items.push(json!({
            "creator_id": p.id.1,
            "joined_at": p.joined_at,
            "status": p.status,
            "finished_at": p.finished_at,
            "qualifying_orders": p.orders.len(),
            "samples_approved": p.samples_approved,
            "reward": p.reward.as_ref().map(|r| json!({
                "reward_id": r.reward_id,
                "amount": r.amount.to_string(),
                "cancelled": r.cancelled,
            })),
        }));
    }
    let money_truncated = campaign.money.len() > SIDE_LIST_CAP;
    let (reward, bands) = match &campaign.plan {
        CampaignPlan::Task { reward, tasks } => (Some(reward.to_string()), json!({ "tasks": to_json(tasks) })),
        CampaignPlan::Challenge {
            metric,
            content_types,
            min_value,
            bands,
        } => (
            None,
            json!({ "metric": metric, "content_types": content_types, "min_value": min_value.to_string(),
                    "rank_rewards": to_json(bands) }),
        ),
    };
    Ok(Some(json!({
        "kind": "campaign",
        "id": campaign.id,
        "status": campaign.status,
        "seller_id": campaign.seller_id,
        "type": campaign.kind_name(),
        "title": campaign.title,
        "submitted_at": campaign.submitted_at,
        "starts_at": campaign.starts_at,
        "ends_at": campaign.ends_at,
        "payment_due_at": campaign.payment_due_at,
        "paid_at": campaign.paid_at,
        "recalled_at": campaign.recalled_at,
        "currency": campaign.currency,
        "deposit": campaign.deposit.to_string(),
        "capacity": campaign.capacity,
        "reward_per_creator": reward,
        "plan": bands,
        "participant_count": campaign.participant_count,
        "rewards_total": campaign.rewards_total.to_string(),
        "rewards_issued": campaign.rewards_issued,
        "history": to_json(&campaign.history),
        "money": to_json(&campaign.money.iter().take(SIDE_LIST_CAP).collect::<Vec<_>>()),
        "money_truncated": money_truncated,
        "rejections": rejections,
        "participants": { "items": items, "next_cursor": next },
    })))
}

/// What a creator's view reads, in one round trip: the creator, its
/// pending totals (kept by the apply statement in `creator_pending`), its
/// connections, and a page of pending commissions from index columns — no
/// order document, however many there are. One statement rather than four:
/// while the worker drains a backlog each round trip waits for a CPU.
const CREATOR_VIEW: &str = "\
SELECT
  (SELECT body FROM state WHERE kind = 'creator' AND key = $1) AS creator,
  (SELECT coalesce(json_agg(json_build_array(seller_id, currency, n, amount::text) ORDER BY seller_id, currency),
                   '[]')::text
     FROM (SELECT * FROM creator_pending WHERE creator_id = $1 AND n > 0
           ORDER BY seller_id, currency LIMIT 1000) t) AS totals,
  (SELECT coalesce(json_agg(body ORDER BY key), '[]')::text
     FROM (SELECT key, body FROM state WHERE kind = 'pair' AND creator_id = $1 ORDER BY key LIMIT $5) p) AS pairs,
  (SELECT coalesce(json_agg(json_build_array(key, seller_id, occurred_at, currency, pending_amount::text)
                            ORDER BY occurred_at, key), '[]')::text
     FROM (SELECT key, seller_id, occurred_at, currency, pending_amount FROM state
           WHERE kind = 'order' AND pending AND creator_id = $1
             AND ($2::timestamptz IS NULL OR (occurred_at, key) > ($2, $3))
           ORDER BY occurred_at, key LIMIT $4) i) AS page";

fn json_text<T: serde::de::DeserializeOwned>(raw: Option<String>) -> Result<T, ExplainError> {
    serde_json::from_str(raw.as_deref().unwrap_or("[]"))
        .map_err(|e| ExplainError::Store(StoreError::Corrupt(format!("creator view: {e}"))))
}

async fn creator(pool: &PgPool, id: &str, page: &Page) -> Result<Option<Value>, ExplainError> {
    let creator_id = CreatorId::from(id);
    let limit = page.limit();
    let (after_time, after_key) = match page.cursor() {
        Some(c) => {
            let parts = decode_cursor(c)?;
            let [time, key] = parts.as_slice() else {
                return Err(ExplainError::BadCursor);
            };
            let time = DateTime::parse_from_rfc3339(time)
                .map_err(|_| ExplainError::BadCursor)?
                .with_timezone(&Utc);
            (Some(time), key.clone())
        }
        None => (None, String::new()),
    };
    let row = sqlx::query(CREATOR_VIEW)
        .bind(id)
        .bind(after_time)
        .bind(&after_key)
        .bind(i64::try_from(limit + 1).unwrap_or(i64::MAX))
        .bind(i64::try_from(SIDE_LIST_CAP + 1).unwrap_or(i64::MAX))
        .fetch_one(pool)
        .await?;
    let creator = row
        .try_get::<Option<String>, _>("creator")?
        .map(|body| codec::decode_doc("creator", &body).map_err(|e| ExplainError::Store(StoreError::Corrupt(e))))
        .transpose()?
        .and_then(Creator::from_doc);
    type Total = (Option<String>, Option<String>, i64, Option<String>);
    type Item = (
        String,
        Option<String>,
        Option<DateTime<Utc>>,
        Option<String>,
        Option<String>,
    );
    let totals: Vec<Total> = json_text(row.try_get("totals")?)?;
    let pairs: Vec<String> = json_text(row.try_get("pairs")?)?;
    let rows: Vec<Item> = json_text(row.try_get("page")?)?;
    if creator.is_none() && totals.is_empty() && pairs.is_empty() {
        return Ok(None);
    }
    let creator = creator.unwrap_or_else(|| Creator::new(creator_id.clone()));
    let pending_totals: Vec<Value> = totals
        .into_iter()
        .map(|(seller, currency, n, total)| {
            json!({ "seller_id": seller, "currency": currency, "count": n, "amount": normalize_money(total) })
        })
        .collect();
    let mut items = Vec::new();
    let mut next = None;
    for (i, (key, seller, occurred, currency, amount)) in rows.iter().enumerate() {
        if i == limit {
            break;
        }
        if i + 1 == limit && rows.len() > limit {
            let time = occurred.map(|t| t.to_rfc3339()).unwrap_or_default();
            next = Some(encode_cursor(&[&time, key]));
        }
        items.push(json!({
            "order_id": key,
            "commission_id": crate::domain::ids::commission_id(&OrderId::from(key.as_str())),
            "seller_id": seller,
            "paid_at": occurred,
            "amount": normalize_money(amount.clone()),
            "currency": currency,
        }));
    }

    let mut connections = Vec::new();
    for body in pairs.iter().take(SIDE_LIST_CAP) {
        let Some(pair) = codec::decode_doc("pair", body).ok().and_then(Pair::from_doc) else {
            continue;
        };
        let latest = pair.partnership.last();
        connections.push(json!({
            "seller_id": pair.id.0,
            "partnership": latest.map(|(since, rate)| json!({ "since": since, "rate": rate })),
            "paused_at": pair.paused_at,
            "blocked_by_seller": pair.blocklist.last().map(|(_, blocked)| *blocked).unwrap_or(false),
            "disputes": pair.disputes,
        }));
    }
    let paused: Vec<Value> = connections
        .iter()
        .filter(|c| !c["paused_at"].is_null())
        .map(|c| json!({ "seller_id": c["seller_id"], "paused_at": c["paused_at"] }))
        .collect();

    let keys: Vec<(CampaignId, CreatorId)> = creator
        .participations
        .iter()
        .take(SIDE_LIST_CAP)
        .map(|(k, _)| (k.clone(), creator_id.clone()))
        .collect();
    // The participations in one read.
    let mut found = std::collections::HashMap::new();
    if !keys.is_empty() {
        let encoded: Vec<String> = keys
            .iter()
            .map(|k| codec::encode_key(&Participation::key_of(k)))
            .collect();
        let rows = sqlx::query("SELECT body FROM state WHERE kind = 'participation' AND key = ANY($1)")
            .bind(&encoded)
            .fetch_all(pool)
            .await?;
        for row in rows {
            let body: String = row.try_get("body")?;
            if let Some(p) = codec::decode_doc("participation", &body)
                .ok()
                .and_then(Participation::from_doc)
            {
                found.insert(p.id.clone(), p);
            }
        }
    }
    let mut participations = Vec::new();
    for (key, (_, seller)) in keys.iter().zip(&creator.participations) {
        let p = found.get(key);
        participations.push(json!({
            "campaign_id": key.0,
            "seller_id": seller,
            "joined_at": p.as_ref().map(|p| p.joined_at),
            "status": p.as_ref().map(|p| p.status),
            "finished_at": p.as_ref().and_then(|p| p.finished_at),
            "reward": p.as_ref().and_then(|p| p.reward.as_ref()).map(|r| json!({
                "reward_id": r.reward_id, "amount": r.amount.to_string(), "cancelled": r.cancelled,
            })),
        }));
    }
    let violations: Vec<Value> = creator
        .violations
        .iter()
        .map(|v| {
            json!({
                "violation_id": v.id,
                "time": v.time,
                "event_id": v.event_id,
                "guideline": v.guideline,
                "sellers_notified": v.notified,
            })
        })
        .collect();
    let demotion = creator
        .violations
        .iter()
        .min_by_key(|v| v.time)
        .map(|v| json!({ "since": v.time, "violation_id": v.id, "event_id": v.event_id }));
    let blocked = creator.blocked_at.map(|at| {
        json!({
            "time": at,
            "event_id": creator.block.as_ref().map(|(e, _)| e),
            "reason": creator.block.as_ref().map(|(_, r)| r),
        })
    });
    Ok(Some(json!({
        "kind": "creator",
        "id": creator.id,
        "platform_blocked": blocked,
        "demoted": demotion,
        "violations": violations,
        "partner_sellers": creator.partner_sellers.iter().take(SIDE_LIST_CAP).collect::<Vec<&SellerId>>(),
        "connections": connections,
        "paused_pairs": paused,
        "connections_truncated": pairs.len() > SIDE_LIST_CAP,
        "participations": participations,
        "participations_truncated": creator.participations.len() > SIDE_LIST_CAP,
        "pending_commissions": {
            "totals": pending_totals,
            "items": items,
            "next_cursor": next,
        },
    })))
}

/// A sum of money as two-decimal text (`numeric` sums keep the scale).
fn normalize_money(raw: Option<String>) -> Option<String> {
    let mut value: Decimal = raw?.parse().ok()?;
    value.rescale(2);
    Some(value.to_string())
}

async fn event(pool: &PgPool, id: &str, page: &Page) -> Result<Option<Value>, ExplainError> {
    let applied = sqlx::query("SELECT type, source, event_time, received_at, outcomes FROM inbox WHERE event_id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await?;
    let dead = dead_letters::of_event(pool, id).await?;
    if applied.is_none() && dead.is_empty() {
        return Ok(None);
    }
    let limit = page.limit();
    let after: i64 = match page.cursor() {
        Some(c) => decode_cursor(c)?
            .first()
            .and_then(|s| s.parse().ok())
            .ok_or(ExplainError::BadCursor)?,
        None => 0,
    };
    let rows = sqlx::query(
        "SELECT seq, id::text AS id, type, body FROM outbox WHERE causation_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
    )
    .bind(id)
    .bind(after)
    .bind(i64::try_from(limit + 1).unwrap_or(i64::MAX))
    .fetch_all(pool)
    .await?;
    let mut outcomes = Vec::new();
    let mut next = None;
    for (i, row) in rows.iter().enumerate() {
        if i == limit {
            break;
        }
        let seq: i64 = row.try_get("seq")?;
        if i + 1 == limit && rows.len() > limit {
            next = Some(encode_cursor(&[&seq.to_string()]));
        }
        let body: String = row.try_get("body")?;
        let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        outcomes.push(json!({
            "id": row.try_get::<String, _>("id")?,
            "type": row.try_get::<String, _>("type")?,
            "subject": body["subject"],
            "time": body["time"],
            "data": body["data"],
        }));
    }
    let status = if applied.is_some() { "applied" } else { "dead_lettered" };
    let (type_name, time, received_at, count) = match &applied {
        Some(row) => (
            row.try_get::<Option<String>, _>("type")?,
            row.try_get::<Option<DateTime<Utc>>, _>("event_time")?,
            row.try_get::<Option<DateTime<Utc>>, _>("received_at")?,
            Some(row.try_get::<i32, _>("outcomes")?),
        ),
        None => (dead.last().and_then(|d| d.type_name.clone()), None, None, None),
    };
    let dead_letters: Vec<Value> = dead
        .iter()
        .map(|d| json!({ "reason": d.reason, "detail": d.detail, "at": d.at }))
        .collect();
    Ok(Some(json!({
        "kind": "event",
        "id": id,
        "status": status,
        "type": type_name,
        "time": time,
        "applied_at": received_at,
        "outcome_count": count,
        "outcomes": { "items": outcomes, "next_cursor": next },
        "dead_letters": dead_letters,
    })))
}

/// `collab-worker explain`: the explanation, as JSON or as text; an
/// unknown id is an error (exit status 1).
pub async fn run(
    database_url: &str,
    entity: Entity,
    id: &str,
    page: &Page,
    as_json: bool,
    out: &mut impl std::io::Write,
) -> anyhow::Result<()> {
    let pool = crate::store::connect(database_url, 2).await?;
    let value = explain(&pool, entity, id, page).await;
    pool.close().await;
    let Some(value) = value? else {
        anyhow::bail!("no {} {id:?}", entity.name());
    };
    if as_json {
        writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
    } else {
        write!(out, "{}", render_text(&value))?;
    }
    Ok(())
}
