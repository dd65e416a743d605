//! The explanation as a person reads it (`collab-worker explain` without
//! `--json`): rendered from the same JSON the read API returns, so the two
//! cannot disagree.

use std::fmt::Write as _;

use serde_json::Value;

/// The explanation as a person reads it: a short account, the O2 steps of
/// an order, then its timeline.
pub fn render_text(value: &Value) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    if render(value, &mut out).is_err() {
        out.push_str("(rendering failed)");
    }
    out
}

fn render(value: &Value, out: &mut String) -> std::fmt::Result {
    let s = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => "—".to_owned(),
        other => other.to_string(),
    };
    let kind = s(&value["kind"]);
    writeln!(out, "{kind} {}: {}", s(&value["id"]), s(&value["status"]))?;
    match kind.as_str() {
        "order" => {
            let paid = &value["paid"];
            if !paid.is_null() {
                writeln!(
                    out,
                    "  paid {} {} at {} — seller {}, product {}, creator {}",
                    s(&paid["amount"]),
                    s(&paid["currency"]),
                    s(&paid["time"]),
                    s(&paid["seller_id"]),
                    s(&paid["product_id"]),
                    s(&paid["creator_id"]),
                )?;
            }
            let c = &value["commission"];
            if !c.is_null() {
                writeln!(
                    out,
                    "  commission {}: {} × {} = {} (+ shop ads {} × {} = {}), source {}{}",
                    s(&c["commission_id"]),
                    s(&c["base_amount"]),
                    s(&c["rate"]),
                    s(&c["amount"]),
                    s(&c["base_amount"]),
                    s(&c["shop_ads_rate"]),
                    s(&c["shop_ads_amount"]),
                    s(&c["rate_source"]),
                    c["campaign_id"]
                        .as_str()
                        .map(|k| format!(" (campaign {k})"))
                        .unwrap_or_default(),
                )?;
            }
            let decision = &value["decision"];
            if !decision.is_null() {
                writeln!(
                    out,
                    "\nO2 as of the order's time (decided by event {} at {}):",
                    s(&decision["event_id"]),
                    s(&decision["decided_at"]),
                )?;
                for step in decision["steps"].as_array().into_iter().flatten() {
                    let mark = if step["decisive"] == true {
                        "→"
                    } else if step["holds"] == true {
                        "·"
                    } else {
                        " "
                    };
                    write!(
                        out,
                        "  {mark} {}. {:<18} {}",
                        s(&step["step"]),
                        s(&step["rule"]),
                        if step["holds"] == true { "yes" } else { "no " }
                    )?;
                    let fact = &step["fact"];
                    if !fact.is_null() {
                        write!(out, "  {}", s(&fact["kind"]))?;
                        for field in ["id", "time", "rate", "joined_at"] {
                            if !fact[field].is_null() {
                                write!(out, " {field}={}", s(&fact[field]))?;
                            }
                        }
                    }
                    for check in step["campaigns"].as_array().into_iter().flatten() {
                        write!(
                            out,
                            "  [campaign {}: {}]",
                            s(&check["campaign_id"]),
                            check["why_not"].as_str().unwrap_or("covers")
                        )?;
                    }
                    writeln!(out)?;
                }
                let shop = &decision["shop_ads"];
                writeln!(out, "  O4 shop ads: rate {} ({})", s(&shop["rate"]), s(&shop["from"]))?;
            }
            let life = value["life"].as_array().cloned().unwrap_or_default();
            if !life.is_empty() {
                writeln!(out, "\nTimeline:")?;
            }
            for entry in life {
                write!(out, "  {}  {:<10}", s(&entry["time"]), s(&entry["what"]))?;
                if !entry["reason"].is_null() {
                    write!(out, " ({})", s(&entry["reason"]))?;
                }
                for field in ["amount", "shop_ads_amount", "delta"] {
                    if !entry[field].is_null() {
                        write!(out, " {field}={}", s(&entry[field]))?;
                    }
                }
                writeln!(out, "  event {}", s(&entry["event_id"]))?;
            }
        }
        "campaign" => {
            writeln!(
                out,
                "  seller {}, {} campaign, deposit {} {}, capacity {}, {} participants, rewards {}",
                s(&value["seller_id"]),
                s(&value["type"]),
                s(&value["deposit"]),
                s(&value["currency"]),
                s(&value["capacity"]),
                s(&value["participant_count"]),
                s(&value["rewards_total"]),
            )?;
            for r in value["rejections"].as_array().into_iter().flatten() {
                writeln!(out, "\nRejected at {} (event {}):", s(&r["time"]), s(&r["event_id"]))?;
                for reason in r["reasons"].as_array().into_iter().flatten() {
                    writeln!(
                        out,
                        "  - {} [{}]: {}",
                        s(&reason["code"]),
                        s(&reason["field"]),
                        s(&reason["message"])
                    )?;
                }
            }
            let history = value["history"].as_array().cloned().unwrap_or_default();
            if !history.is_empty() {
                writeln!(out, "\nTimeline:")?;
            }
            for h in history {
                writeln!(
                    out,
                    "  {}  {:<16} event {}",
                    s(&h["time"]),
                    s(&h["status"]),
                    s(&h["event_id"])
                )?;
            }
            for m in value["money"].as_array().into_iter().flatten() {
                writeln!(
                    out,
                    "  {}  {} {} ({}) event {}",
                    s(&m["time"]),
                    s(&m["kind"]),
                    s(&m["amount"]),
                    s(&m["reason"]),
                    s(&m["event_id"])
                )?;
            }
            let items = value["participants"]["items"].as_array().cloned().unwrap_or_default();
            if !items.is_empty() {
                writeln!(out, "\nParticipants:")?;
            }
            for p in items {
                let reward = p["reward"]["amount"]
                    .as_str()
                    .map(|a| format!(", reward {a}"))
                    .unwrap_or_default();
                writeln!(
                    out,
                    "  {} joined {} — {}{reward}",
                    s(&p["creator_id"]),
                    s(&p["joined_at"]),
                    s(&p["status"])
                )?;
            }
        }
        "creator" => {
            let blocked = &value["platform_blocked"];
            if !blocked.is_null() {
                writeln!(
                    out,
                    "  platform-blocked at {} ({}), event {}",
                    s(&blocked["time"]),
                    s(&blocked["reason"]),
                    s(&blocked["event_id"])
                )?;
            }
            let demoted = &value["demoted"];
            if !demoted.is_null() {
                writeln!(
                    out,
                    "  demoted since {} by violation {}",
                    s(&demoted["since"]),
                    s(&demoted["violation_id"])
                )?;
            }
            for v in value["violations"].as_array().into_iter().flatten() {
                writeln!(
                    out,
                    "  violation {} at {} ({}), notices to {}",
                    s(&v["violation_id"]),
                    s(&v["time"]),
                    s(&v["guideline"]),
                    s(&v["sellers_notified"])
                )?;
            }
            for c in value["connections"].as_array().into_iter().flatten() {
                writeln!(
                    out,
                    "  seller {}: partnership {}, paused {}",
                    s(&c["seller_id"]),
                    s(&c["partnership"]["rate"]),
                    s(&c["paused_at"])
                )?;
            }
            for p in value["participations"].as_array().into_iter().flatten() {
                writeln!(
                    out,
                    "  campaign {} (seller {}): {} since {}",
                    s(&p["campaign_id"]),
                    s(&p["seller_id"]),
                    s(&p["status"]),
                    s(&p["joined_at"])
                )?;
            }
            let pending = &value["pending_commissions"];
            for t in pending["totals"].as_array().into_iter().flatten() {
                writeln!(
                    out,
                    "  pending with seller {}: {} {} over {} commissions",
                    s(&t["seller_id"]),
                    s(&t["amount"]),
                    s(&t["currency"]),
                    s(&t["count"])
                )?;
            }
        }
        "event" => {
            writeln!(out, "  type {}, time {}", s(&value["type"]), s(&value["time"]))?;
            for d in value["dead_letters"].as_array().into_iter().flatten() {
                writeln!(
                    out,
                    "  dead-lettered at {}: {} — {}",
                    s(&d["at"]),
                    s(&d["reason"]),
                    s(&d["detail"])
                )?;
            }
            for o in value["outcomes"]["items"].as_array().into_iter().flatten() {
                writeln!(out, "  → {} {} ({})", s(&o["type"]), s(&o["subject"]), s(&o["id"]))?;
            }
        }
        _ => {}
    }
    if let Some(next) = ["participants", "pending_commissions", "outcomes"]
        .iter()
        .find_map(|list| value[list]["next_cursor"].as_str())
    {
        writeln!(out, "\n(more: --cursor {next})")?;
    }
    Ok(())
}
