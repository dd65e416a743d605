//! The differential test (issue 13, item 6): random event streams over every
//! rule family, through the real worker on PostgreSQL and RabbitMQ, must give
//! exactly the outcomes (ids and bodies) and the final state that the pure
//! rules give on the in-memory state (`domain::decide_in_memory`), applied in
//! the order the pipeline applied them.
//!
//! Each case draws a stream from a fixed seed: a story in business time
//! (catalogue, groups, campaigns submitted, paid, failed, recalled, joins,
//! content, samples, orders paid, refunded, cancelled, settled, violations,
//! blocks, partnerships, pauses, disputes, clock ticks), then an arrival
//! order that disturbs it (late facts that set off O9 sweeps), redeliveries
//! of the same event id, and a batch size of 1, 7 or 500. It is delivered in
//! three parts: a backlog for one worker process, a backlog for a fresh one
//! (a cold cache), then two processes consuming while it is published (each
//! must notice the other's writes through `apply_version`).
//!
//! A fifth case crosses the write-ahead bound of a sweep (3 100 pending
//! commissions re-rated twice in one batch, for a warm worker).
//!
//! It catches shell bugs: with the cache kept across another process's
//! writes (`cache.validate` skipped) three of the four random cases fail;
//! with the `pending` index column always false, all four do; without
//! main's fix of `Overlay::holds` (a document written ahead read back from
//! the cache) the write-ahead case does.
//!
//! The order: inbox rows get their `seq` as they are written, and apply
//! transactions are serialized on one row lock, so `inbox.seq` is the order
//! the events were decided in. With one consumer it must also be the order
//! of first delivery (checked); with two, any interleaving is fine, and the
//! reference follows it.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use collab_worker::domain::model::{Doc, Key};
use collab_worker::domain::workspace::MemState;
use collab_worker::domain::{Rules, decide_in_memory};
use collab_worker::store::codec;
use collab_worker::wire::envelope::{self, outcome_json};
use serde_json::{Value, json};
use sqlx::Row;

use crate::common::*;

// ---------------------------------------------------------------------------
// The cases
// ---------------------------------------------------------------------------

/// One run: a seed, a batch size, how far arrival strays from business
/// time, and the worker's cache size.
struct Case {
    seed: u64,
    batch_size: usize,
    disorder: Disorder,
    cache_docs: Option<usize>,
    /// Instead of the random story: thousands of pending commissions and
    /// late facts whose sweeps cross the write-ahead bound, for one warm
    /// worker.
    write_ahead: bool,
}

#[derive(Clone, Copy)]
enum Disorder {
    /// Arrival follows business time, each event late by up to this many hours.
    LateBy(i64),
    /// Any order at all.
    Shuffled,
}

#[tokio::test]
async fn one_by_one_the_pipeline_agrees_with_the_rules_in_memory() {
    run(Case {
        seed: 0x5eed_0001,
        batch_size: 1,
        disorder: Disorder::LateBy(6),
        cache_docs: None,
        write_ahead: false,
    })
    .await;
}

#[tokio::test]
async fn in_batches_of_seven_the_pipeline_agrees_with_the_rules_in_memory() {
    run(Case {
        seed: 0x5eed_0007,
        batch_size: 7,
        disorder: Disorder::LateBy(72),
        cache_docs: None,
        write_ahead: false,
    })
    .await;
}

#[tokio::test]
async fn in_batches_of_500_shuffled_the_pipeline_agrees_with_the_rules_in_memory() {
    run(Case {
        seed: 0x5eed_0500,
        batch_size: 500,
        disorder: Disorder::Shuffled,
        cache_docs: None,
        write_ahead: false,
    })
    .await;
}

/// A cache far smaller than the state: most reads go to the database.
#[tokio::test]
async fn with_a_tiny_cache_the_pipeline_agrees_with_the_rules_in_memory() {
    run(Case {
        seed: 0x5eed_00c0,
        batch_size: 7,
        disorder: Disorder::LateBy(24),
        cache_docs: Some(16),
        write_ahead: false,
    })
    .await;
}

/// Sweeps so large they write ahead within their transaction and read back
/// what they wrote (not the cache's older copy).
#[tokio::test]
async fn past_the_write_ahead_bound_the_pipeline_agrees_with_the_rules_in_memory() {
    run(Case {
        seed: 0,
        batch_size: 500,
        disorder: Disorder::LateBy(0),
        cache_docs: None,
        write_ahead: true,
    })
    .await;
}

// ---------------------------------------------------------------------------
// A seeded random source (no dependency: SplitMix64)
// ---------------------------------------------------------------------------

/// Interior mutability lets a draw sit in the arguments of a `&mut self` call.
struct Rng(std::cell::Cell<u64>);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(std::cell::Cell::new(seed))
    }
    fn next(&self) -> u64 {
        let state = self.0.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
        self.0.set(state);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// 0..n
    fn below(&self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    fn money(&self, from: usize, to: usize) -> String {
        format!("{}.{:02}", from + self.below(to - from), self.below(100))
    }
}

// ---------------------------------------------------------------------------
// The story
// ---------------------------------------------------------------------------

const EVENTS: usize = 360;

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-09-30T12:00:00Z")
        .map(|t| t.to_utc())
        .unwrap_or_default()
}

fn minutes(m: i64) -> DateTime<Utc> {
    t0() + chrono::Duration::minutes(m)
}

fn text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

const DAY: i64 = 24 * 60;
/// Campaigns run from October 1st for 15 days; they are submitted and
/// paid the day before, in September (K6's extra fee on a refund).
const START: i64 = 12 * 60;
const END: i64 = START + 15 * DAY;
const SELLERS: [&str; 2] = ["S1", "S2"];
/// (product, seller)
const PRODUCTS: [(&str, &str); 4] = [("P1", "S1"), ("P2", "S1"), ("P3", "S2"), ("P4", "S2")];
const CREATORS: [&str; 6] = ["C1", "C2", "C3", "C4", "C5", "C6"];
/// (campaign, seller, its products)
const CAMPAIGNS: [(&str, &str, &[&str]); 4] = [
    ("K1", "S1", &["P1", "P2"]),
    ("K2", "S2", &["P3"]),
    ("K3", "S2", &["P4"]),
    ("K4", "S1", &["P2"]),
];

/// One event of the story: its id, business time and CloudEvent.
struct Told {
    time: DateTime<Utc>,
    event: Value,
}

struct Story {
    rng: Rng,
    told: Vec<Told>,
    orders: Vec<(String, String, String)>,
    contents: Vec<(String, String)>,
    samples: Vec<String>,
    disputes: Vec<(String, String, String)>,
}

impl Story {
    fn tell(&mut self, at: DateTime<Utc>, ev: Ev) {
        let id = format!("ev-{}", self.told.len());
        self.told.push(Told {
            time: at,
            event: ev.cloudevent(&id, &text(at)),
        });
    }

    /// A product; a `late` revision may also end its eligibility.
    fn product(&mut self, at: DateTime<Utc>, product: &str, seller: &str, late: bool) {
        let open: Option<&str> = *self.rng.pick(&[None, Some("0.08"), Some("0.10"), Some("0.12")]);
        let shop_ads = (open.is_some() && self.rng.chance(50)).then_some("0.04");
        let ev = events::product_updated(product, seller, open)
            .with("open_collab_shop_ads_rate", shop_ads)
            .with("affiliate_eligible", !late || !self.rng.chance(10));
        self.tell(at, ev);
    }

    fn creator(&mut self, at: DateTime<Utc>, creator: &str) {
        let level = 1 + self.rng.below(6) as u8;
        let followers = 100 * (1 + self.rng.below(200)) as u64;
        let risk = *self.rng.pick(&["low", "low", "medium", "high"]);
        let ev = events::creator_updated(creator, level, followers)
            .with("content_types", json!(["video", "live"]))
            .with("fake_order_risk", risk);
        self.tell(at, ev);
    }

    fn campaign(&mut self, at: DateTime<Utc>, index: usize) {
        let (id, seller, products) = CAMPAIGNS[index];
        let (starts, ends) = (text(minutes(START)), text(minutes(END)));
        let group = if seller == "S1" { "all" } else { "experienced" };
        let items: Vec<Value> = products
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let mut item = json!({"product_id": p, "free_sample": i == 0 && index == 0});
                if i == 0 && index == 0 {
                    item["refundable_sample_goal_units"] = json!(2);
                }
                if self.rng.chance(60) {
                    item["commission_rate"] = json!("0.15");
                }
                item
            })
            .collect();
        let ev = if index == 1 {
            let (metric, min_value) = if self.rng.chance(50) {
                ("orders", json!(1))
            } else {
                ("gmv", json!("1.00"))
            };
            let challenge = events::challenge_campaign(id, seller, group, &starts, &ends, products);
            let mut rules = challenge.data["challenge"].clone();
            rules["metric"] = json!(metric);
            rules["min_value"] = min_value;
            rules["content_types"] = json!(["video", "live"]);
            challenge.with("challenge", rules)
        } else {
            let tasks = match index {
                0 => json!([{"kind": "orders", "content_type": "any", "target": 2},
                            {"kind": "content", "content_type": "video", "target": 1}]),
                2 => json!([{"kind": "gmv", "content_type": "any", "target": "50.00"}]),
                _ => json!([{"kind": "content", "content_type": "any", "target": 1}]),
            };
            events::task_campaign(id, seller, group, &starts, &ends, products)
                .with("budget", "90.00")
                .with("task", json!({"reward": "30.00", "tasks": tasks}))
        };
        let ev = ev
            .with("products", items)
            .with("prompt_ads_authorization", self.rng.chance(50));
        self.tell(at, ev);
    }

    /// Catalogue, creators, groups and campaigns, the day before they start;
    /// then payments (one fails).
    fn setup(&mut self) {
        for (product, seller) in PRODUCTS {
            let at = minutes(self.rng.below(60) as i64);
            self.product(at, product, seller, false);
        }
        for creator in CREATORS {
            let at = minutes(self.rng.below(60) as i64);
            self.creator(at, creator);
        }
        self.tell(minutes(90), events::creator_group_saved("S1", "all", json!({})));
        self.tell(
            minutes(90),
            events::creator_group_saved("S2", "experienced", json!({"level_min": 3})),
        );
        for index in 0..CAMPAIGNS.len() {
            self.campaign(minutes(120 + index as i64), index);
        }
        for (index, (id, seller, _)) in CAMPAIGNS.iter().enumerate() {
            let at = minutes(180 + index as i64 * 10);
            let payment = format!("pay-{id}");
            let ev = match index {
                3 => events::payment_failed(&payment, id, seller),
                1 => events::payment_succeeded(&payment, id, seller, "100.00"),
                _ => events::payment_succeeded(&payment, id, seller, "90.00"),
            };
            self.tell(at, ev);
        }
    }

    /// The recall, maybe, and the clock.
    fn schedule(&mut self) {
        if self.rng.chance(70) {
            // Before the start (recalled) or after it (rejected).
            let at = if self.rng.chance(50) {
                START - 60
            } else {
                START + 3 * DAY
            };
            self.tell(minutes(at), events::campaign_recall_requested("K3", "S2"));
        }
        // The clock: campaigns start, run, end, challenges are finalized,
        // and September's tax reports are due in November (K7).
        for at in [
            START,
            START + DAY,
            START + 3 * DAY,
            START + 7 * DAY,
            START + 11 * DAY,
            END,
            END + 120,
            END + 2 * DAY,
            39 * DAY,
        ] {
            self.tell(minutes(at), events::clock_ticked(&text(minutes(at))));
        }
    }

    /// One event of the running campaigns, at a random time in them.
    fn activity(&mut self) {
        let at = minutes(START + 30 + self.rng.below((END - START + 60) as usize) as i64);
        let creator = *self.rng.pick(&CREATORS);
        let (product, seller) = *self.rng.pick(&PRODUCTS);
        let roll = self.rng.below(100);
        let n = self.told.len();
        let ev = match roll {
            0..10 => {
                let (campaign, _, _) = *self.rng.pick(&CAMPAIGNS);
                events::join_requested(campaign, creator)
            }
            10..20 => {
                let id = format!("V{n}");
                self.contents.push((id.clone(), creator.to_owned()));
                events::content_posted(&id, creator, &[product])
                    .with("content_type", *self.rng.pick(&["video", "video", "live"]))
                    .with("ads_authorized", self.rng.chance(70))
            }
            20..55 => {
                let id = format!("O{n}");
                let attributed = self.rng.chance(85).then_some(creator);
                let content = self
                    .contents
                    .iter()
                    .rev()
                    .find(|(_, c)| Some(c.as_str()) == attributed)
                    .map(|(id, _)| id.clone())
                    .filter(|_| self.rng.chance(70));
                let channel = match content {
                    Some(_) => *self.rng.pick(&["video", "live"]),
                    None => "showcase",
                };
                let amount = self.rng.money(5, 80);
                self.orders.push((id.clone(), seller.to_owned(), creator.to_owned()));
                let ev = events::order_paid(&id, seller, product, attributed, &amount)
                    .with("via_shop_ads", content.is_some() && self.rng.chance(30))
                    .with("content_id", content)
                    .with("content_type", channel)
                    .with("quantity", 1 + self.rng.below(3));
                if self.rng.chance(3) {
                    // The same order under a new event id: applied once.
                    self.tell(at, ev.clone());
                }
                ev
            }
            55..63 if !self.orders.is_empty() => {
                let (order, _, _) = self.rng.pick(&self.orders).clone();
                events::order_refunded(&order, &self.rng.money(1, 10))
            }
            63..68 if !self.orders.is_empty() => events::order_cancelled(&self.rng.pick(&self.orders).0.clone()),
            68..78 if !self.orders.is_empty() => events::order_settled(&self.rng.pick(&self.orders).0.clone()),
            78..82 => {
                let id = format!("R{n}");
                self.samples.push(id.clone());
                events::sample_requested(&id, "K1", creator, "P1")
            }
            82..85 if !self.samples.is_empty() => {
                let id = self.rng.pick(&self.samples).clone();
                if self.rng.chance(50) {
                    events::sample_shipped(&id)
                } else {
                    events::sample_delivered(&id)
                }
            }
            85..87 => {
                let price = self.rng.money(5, 20);
                events::sample_refundable_purchased(&format!("RF{n}"), "K1", creator, "P1", &format!("RO{n}"), &price)
            }
            87..89 => events::violation_reported(&format!("VIO{n}"), creator, "spam"),
            89..90 if self.rng.chance(30) => events::platform_blocked(creator),
            90..92 => {
                let seller = *self.rng.pick(&SELLERS);
                if self.rng.chance(50) {
                    events::creator_blocked(seller, creator)
                } else {
                    events::creator_unblocked(seller, creator)
                }
            }
            92..95 => {
                let seller = *self.rng.pick(&SELLERS);
                if self.rng.chance(70) {
                    {
                        let rate = *self.rng.pick(&["0.05", "0.2", "0.3"]);
                        events::partnership_established(seller, creator, rate)
                    }
                } else {
                    events::partnership_paused(seller, creator)
                }
            }
            95..97 => {
                let id = format!("D{n}");
                let seller = *self.rng.pick(&SELLERS);
                self.disputes.push((id.clone(), seller.to_owned(), creator.to_owned()));
                events::dispute_opened(&id, seller, creator)
            }
            97..98 if !self.disputes.is_empty() => {
                let (id, seller, creator) = self.rng.pick(&self.disputes).clone();
                let cancelled: Vec<&str> = self
                    .orders
                    .iter()
                    .filter(|(_, s, c)| *s == seller && *c == creator)
                    .map(|(o, _, _)| o.as_str())
                    .take(2)
                    .collect();
                events::dispute_resolved(&id, &cancelled)
            }
            98..100 => {
                // Late reference data: re-decides what was decided before it (O9).
                if self.rng.chance(50) {
                    self.product(at, product, seller, true);
                } else {
                    self.creator(at, creator);
                }
                return;
            }
            _ => {
                let id = format!("O{n}");
                self.orders.push((id.clone(), seller.to_owned(), creator.to_owned()));
                events::order_paid(&id, seller, product, Some(creator), &self.rng.money(5, 50))
                    .with("content_type", "showcase")
            }
        };
        self.tell(at, ev);
    }
}

/// The events of a case in arrival order, redeliveries included.
fn arrivals(case: &Case) -> Vec<Value> {
    let mut story = Story {
        rng: Rng::new(case.seed),
        told: Vec::new(),
        orders: Vec::new(),
        contents: Vec::new(),
        samples: Vec::new(),
        disputes: Vec::new(),
    };
    story.setup();
    let prelude = story.told.len();
    story.schedule();
    while story.told.len() < EVENTS {
        story.activity();
    }
    let Story { rng, mut told, .. } = story;
    // The catalogue, groups and campaigns arrive first, in business time:
    // a stream where every campaign is rejected would test little.
    let mut prelude: Vec<Told> = told.drain(..prelude).collect();
    prelude.sort_by_key(|t| t.time);
    // Then the rest: business time plus a random lateness (or no order at all).
    let mut keyed: Vec<(i64, usize, Value)> = told
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            let key = match case.disorder {
                Disorder::LateBy(hours) => t.time.timestamp() / 60 + rng.below((hours * 60) as usize + 1) as i64,
                Disorder::Shuffled => rng.next() as i64,
            };
            (key, i, t.event)
        })
        .collect();
    keyed.sort_by_key(|(key, i, _)| (*key, *i));
    // A few facts arrive last of all, long after the orders they precede in
    // business time: each sets off an O9 sweep.
    for _ in 0..4 {
        let late = keyed.iter().position(|(_, _, e)| {
            matches!(
                e["type"].as_str(),
                Some("product.updated" | "partnership.established" | "creator.join_requested")
            ) && e["time"].as_str() > Some("2026-10-02T00:00:00Z")
        });
        if let Some(at) = late {
            let moved = keyed.remove(at);
            keyed.push(moved);
        }
    }
    let mut out: Vec<Value> = prelude
        .into_iter()
        .map(|t| t.event)
        .chain(keyed.into_iter().map(|(_, _, e)| e))
        .collect();
    // Redeliveries of the same event id: right after it (often the same
    // batch) or much later.
    let copies: Vec<(usize, Value)> = (0..out.len() / 10)
        .map(|_| {
            let i = rng.below(out.len());
            let at = if rng.chance(50) {
                i + 1
            } else {
                i + 1 + rng.below(out.len() - i)
            };
            (at, out[i].clone())
        })
        .collect();
    let mut copies = copies;
    copies.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
    for (at, copy) in copies {
        out.insert(at.min(out.len()), copy);
    }
    out
}

// ---------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------

async fn run(case: Case) {
    let started = Instant::now();
    let arrivals = if case.write_ahead {
        write_ahead_arrivals()
    } else {
        arrivals(&case)
    };
    let batch = case.batch_size.to_string();
    let cache = case.cache_docs.map(|n| n.to_string());
    let mut worker_env = vec![("COLLAB_CONSUMER__BATCH_SIZE", batch.as_str())];
    if let Some(cache) = &cache {
        worker_env.push(("COLLAB_CONSUMER__STATE_CACHE_DOCS", cache.as_str()));
    }
    // The first worker declares the topology; events then wait for the next.
    let mut env = TestEnv::start_with(worker_env).await;
    env.stop_worker().await;

    // Three parts (see the module's header); the write-ahead case is one
    // backlog for one worker, whose cache is warm when the sweeps run.
    let parts = if case.write_ahead { 1 } else { 3 };
    let bounds: Vec<usize> = (1..=parts).map(|k| k * arrivals.len() / parts).collect();
    let mut published = 0;
    let mut distinct = HashSet::new();
    // Ids in the order of their first delivery, while one worker consumes.
    let mut first_order = Vec::new();
    for (part, end) in bounds.into_iter().enumerate() {
        let events = &arrivals[published..end];
        published = end;
        for event in events {
            let id = event["id"].as_str().unwrap_or_default().to_owned();
            if distinct.insert(id.clone()) && part < 2 {
                first_order.push(id);
            }
        }
        // Parts 1 and 2: a backlog (full batches) for one fresh worker
        // process each (a cold cache, and taking turns). Part 3: two
        // workers consuming while the events are published, so the broker
        // hands deliveries to both and each must notice the other's writes.
        let mut workers = Vec::new();
        if part < 2 {
            env.publish_many(events).await;
            workers.push(env.spawn_worker().await);
        } else {
            workers.push(env.spawn_worker().await);
            workers.push(env.spawn_worker().await);
            for chunk in events.chunks(case.batch_size.clamp(2, 20)) {
                env.publish_many(chunk).await;
            }
        }
        wait_applied(&env, distinct.len()).await;
        for worker in workers {
            assert_eq!(worker.stop().await, Some(0), "a worker did not stop cleanly");
        }
    }
    assert_eq!(env.dlq_depth().await, 0, "nothing is dead-lettered");

    let (inbox, outbox, state) = read_back(&env).await;

    // Every event applied once, and while one worker consumed, in the order
    // of first delivery.
    let applied: Vec<&str> = inbox.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(applied.len(), distinct.len(), "each distinct event id applied once");
    assert_eq!(
        applied.iter().copied().collect::<HashSet<_>>(),
        distinct.iter().map(String::as_str).collect::<HashSet<_>>()
    );
    assert_eq!(
        &applied[..first_order.len()],
        first_order.iter().map(String::as_str).collect::<Vec<_>>(),
        "one consumer applies in delivery order"
    );

    // The reference: the pure rules on the in-memory state, in that order.
    let rules = Rules::default();
    let mut memory = MemState::default();
    let mut expected = Vec::new();
    for (id, body) in &inbox {
        let inbound = envelope::parse(body.as_bytes())
            .unwrap_or_else(|e| panic!("the inbox holds an event that does not parse: {id}: {e:?}"));
        for outcome in decide_in_memory(&mut memory, &rules, &inbound.meta.id, inbound.meta.time, &inbound.event) {
            expected.push(StoredOutcome {
                id: outcome.id.to_string(),
                cause: id.clone(),
                body: outcome_json(&outcome, &inbound.meta),
            });
        }
    }

    compare_outcomes(&expected, &outbox);
    compare_state(&memory, &state);
    let mut types: BTreeMap<&str, usize> = BTreeMap::new();
    for outcome in &outbox {
        *types.entry(outcome.body["type"].as_str().unwrap_or("?")).or_default() += 1;
    }
    eprintln!(
        "differential seed {:#x}, batch {}: {} deliveries, {} events, {} outcomes, {} aggregates, {:?}\n  {types:?}",
        case.seed,
        case.batch_size,
        arrivals.len(),
        inbox.len(),
        outbox.len(),
        state.len(),
        started.elapsed()
    );
    let covered = if case.write_ahead { WRITE_AHEAD_COVERED } else { COVERED };
    for needed in covered {
        assert!(
            types.contains_key(needed),
            "the stream never led to {needed}: {types:?}"
        );
    }
}

/// Outcomes every case's stream leads to: it reaches each family.
const COVERED: &[&str] = &[
    "campaign.accepted",
    "campaign.scheduled",
    "campaign.started",
    "campaign.settled",
    "participation.accepted",
    "commission.accrued",
    "commission.adjusted",
    "commission.cancelled",
    "commission.payable",
    "refund.due",
    "tax_report.available",
];

/// What the write-ahead case's stream leads to.
const WRITE_AHEAD_COVERED: &[&str] = &["commission.accrued", "commission.adjusted", "commission.payable"];

/// Orders past the write-ahead bound: a sweep writes the batch so far ahead
/// after 4 000 changes and outcomes (`pipeline::WRITE_AHEAD_AT`), here in
/// its fourth page of 1 000.
const BULK_ORDERS: usize = 3_100;

/// `BULK_ORDERS` pending commissions of one product, then two late
/// `product.updated` stamped before all of them (each re-rates every one,
/// the second on what the first wrote ahead), then settlements.
fn write_ahead_arrivals() -> Vec<Value> {
    let mut out = vec![events::product_updated("P1", "S1", Some("0.10")).cloudevent("bulk-p", &text(minutes(0)))];
    for i in 0..BULK_ORDERS {
        let creator = format!("C{}", i % 50);
        let paid = events::order_paid(&format!("B{i}"), "S1", "P1", Some(&creator), "10.00");
        out.push(paid.cloudevent(&format!("bulk-{i}"), &text(minutes(START + i as i64))));
    }
    for (id, rate, at) in [("late-1", "0.08", 30), ("late-2", "0.05", 60)] {
        let late = events::product_updated("P1", "S1", Some(rate));
        out.push(late.cloudevent(id, &text(minutes(at))));
    }
    for i in (0..BULK_ORDERS).step_by(97) {
        let settled = events::order_settled(&format!("B{i}"));
        out.push(settled.cloudevent(&format!("settle-{i}"), &text(minutes(END + i as i64))));
    }
    out
}

/// Waits until `count` events are in the inbox and the work queue is empty
/// (redeliveries after the last new event are consumed too).
async fn wait_applied(env: &TestEnv, count: usize) {
    // A debug worker on a busy machine: the write-ahead case takes a while.
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        if env.dlq_depth().await > 0 {
            let dead: Vec<String> = env
                .drain_dlq()
                .await
                .iter()
                .map(|(headers, _)| header(headers, "x-collab-error-detail").unwrap_or_default())
                .collect();
            panic!("the worker dead-lettered events: {dead:?}");
        }
        let applied = env.scalar_i64("SELECT count(*) FROM inbox").await;
        let (ready, _) = env.queue_state("collab.events.worker").await;
        if applied == count as i64 && ready == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out: {applied} of {count} events applied, {ready} deliveries waiting"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[derive(Debug, PartialEq)]
struct StoredOutcome {
    id: String,
    cause: String,
    body: Value,
}

/// A stored aggregate with the index columns it was written with.
struct StoredDoc {
    doc: Doc,
    index: codec::IndexColumns,
}

async fn read_back(env: &TestEnv) -> (Vec<(String, String)>, Vec<StoredOutcome>, BTreeMap<Key, StoredDoc>) {
    let mut db = env.db().await;
    let inbox = sqlx::query("SELECT event_id, body FROM inbox ORDER BY seq")
        .fetch_all(&mut db)
        .await
        .expect("inbox")
        .into_iter()
        .map(|row| (row.get::<String, _>(0), row.get::<String, _>(1)))
        .collect();
    let outbox = sqlx::query("SELECT id::text, causation_id, body FROM outbox ORDER BY seq")
        .fetch_all(&mut db)
        .await
        .expect("outbox")
        .into_iter()
        .map(|row| StoredOutcome {
            id: row.get(0),
            cause: row.get(1),
            body: serde_json::from_str(row.get::<&str, _>(2)).expect("an outbox body is JSON"),
        })
        .collect();
    let rows = sqlx::query(
        "SELECT kind, key, body, campaign_id, creator_id, product_id, pending, due_at, occurred_at, seller_id, currency, \
         pending_amount::text FROM state",
    )
    .fetch_all(&mut db)
    .await
    .expect("state");
    let mut state = BTreeMap::new();
    for row in rows {
        let kind: String = row.get(0);
        let raw: String = row.get(1);
        let key = codec::decode_key(&kind, &raw).unwrap_or_else(|| panic!("undecodable key {kind}/{raw}"));
        let doc = codec::decode_doc(&kind, row.get(2)).unwrap_or_else(|e| panic!("undecodable {kind}/{raw}: {e}"));
        let index = codec::IndexColumns {
            campaign_id: row.get(3),
            creator_id: row.get(4),
            product_id: row.get(5),
            pending: row.get(6),
            due_at: row.get(7),
            occurred_at: row.get(8),
            seller_id: row.get(9),
            currency: row.get(10),
            pending_amount: row.get(11),
        };
        state.insert(key, StoredDoc { doc, index });
    }
    (inbox, outbox, state)
}

fn compare_outcomes(expected: &[StoredOutcome], stored: &[StoredOutcome]) {
    let first_difference = expected
        .iter()
        .zip(stored)
        .position(|(e, s)| e != s)
        .or((expected.len() != stored.len()).then(|| expected.len().min(stored.len())));
    if let Some(at) = first_difference {
        panic!(
            "outcome {at} differs ({} expected, {} stored)\n in memory: {:#?}\n pipeline:  {:#?}",
            expected.len(),
            stored.len(),
            expected.get(at),
            stored.get(at)
        );
    }
}

fn compare_state(memory: &MemState, stored: &BTreeMap<Key, StoredDoc>) {
    let in_memory: BTreeSet<&Key> = memory.docs.keys().collect();
    let in_store: BTreeSet<&Key> = stored.keys().collect();
    assert_eq!(
        in_memory.difference(&in_store).collect::<Vec<_>>(),
        Vec::<&&Key>::new(),
        "aggregates in memory and not stored"
    );
    assert_eq!(
        in_store.difference(&in_memory).collect::<Vec<_>>(),
        Vec::<&&Key>::new(),
        "aggregates stored and not in memory"
    );
    for (key, doc) in &memory.docs {
        let Some(found) = stored.get(key) else { continue };
        assert!(
            found.doc == *doc,
            "{key:?} differs\n in memory: {}\n stored:    {}",
            codec::encode_doc(doc),
            codec::encode_doc(&found.doc)
        );
        assert_eq!(
            found.index,
            codec::index(doc),
            "{key:?}: the index columns follow the document"
        );
    }
}
