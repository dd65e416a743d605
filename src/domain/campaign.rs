//! The seller side of campaigns: submission (C1–C11), payment (P1–P3),
//! recall (R1–R2), settlement (K5) and the refunds to sellers with the
//! extra fee (K6).

use chrono::{Datelike, Duration, TimeZone, Utc};
use rust_decimal::Decimal;

use super::ids;
use super::model::{
    Campaign, CampaignPlan, CampaignProduct, CampaignStatus, ChallengeMetric, ContentFilter, Emit, Product, RankBand,
    Rejection, Seller, Submission, TaskKind, TaskSpec, Time, Timer, TimerKey,
};
use super::workspace::{Plan, Workspace};
use crate::wire::events::{CampaignRecallRequested, CampaignSubmitted, ContentType, PaymentSucceeded, Target};
use crate::wire::outcomes::{
    CampaignAccepted, CampaignRecallRejected, CampaignRejected, CampaignScheduled, CampaignSettled, FeeCharged,
    OutcomeData, PaymentRejected, PaymentRejection, Problem, RecallRejection, RefundDue, RefundReason, RefundTo,
    SubmissionProblem as P,
};
use crate::wire::values::{Rate, round_money};

/// C4: accepted submissions per seller in any 30-day window.
pub const QUOTA: usize = 5;
pub const QUOTA_WINDOW_DAYS: i64 = 30;
/// P1: payment is due this long after acceptance.
pub const PAYMENT_WINDOW_HOURS: i64 = 24;
/// Refunds are due this many days after they are decided.
pub const REFUND_DUE_DAYS: i64 = 14;
/// K6: 11 % of the deposit.
pub const EXTRA_FEE_PERCENT: i64 = 11;
/// C7: campaign rates are in (0, 0.80].
const MAX_CAMPAIGN_RATE: Decimal = Decimal::from_parts(80, 0, 0, false, 2);

/// Collects every problem of a submission (C: "a rejection lists every problem").
#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    fn add(&mut self, code: P, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem {
            code,
            field: field.into(),
            message: message.into(),
        });
    }

    /// C10: positive, at most two fraction digits.
    fn money(&mut self, field: &str, value: Decimal) -> bool {
        let ok = value > Decimal::ZERO && value.normalize().scale() <= 2;
        if !ok {
            self.add(
                P::InvalidMoney,
                field,
                format!("{value} is not a positive amount with at most 2 decimals"),
            );
        }
        ok
    }
}

fn days(d: Duration) -> String {
    let days = Decimal::from(d.num_seconds()) / Decimal::from(86_400);
    format!("{} days", days.round_dp(2).normalize())
}

/// Reads: the campaign (C11), the seller (C4, C5), the products (C6, C7).
pub fn submitted_reads(plan: &mut Plan<'_>, e: &CampaignSubmitted) {
    plan.read::<Campaign>(&e.campaign_id);
    plan.read::<Submission>(&e.campaign_id);
    plan.read::<Seller>(&e.seller_id);
    plan.read_all::<Product>(e.products.iter().map(|p| &p.product_id));
}

/// C1–C11: accepts or rejects a submission as a whole.
pub fn submitted(ws: &mut Workspace<'_>, e: &CampaignSubmitted) {
    let t = ws.now();
    let mut problems = Problems::default();
    if ws.get::<Campaign>(&e.campaign_id).is_some() {
        problems.add(
            P::CampaignImmutable,
            "campaign_id",
            "a campaign cannot be changed once submitted",
        );
    }
    // C1
    let is_task = match e.kind.as_str() {
        "task" => Some(true),
        "challenge" => Some(false),
        other => {
            problems.add(
                P::InvalidType,
                "type",
                format!("{other:?} is neither \"task\" nor \"challenge\""),
            );
            None
        }
    };
    // C2
    let duration = e.ends_at - e.starts_at;
    if let Some(is_task) = is_task {
        let max_days = if is_task { 120 } else { 60 };
        if duration < Duration::days(14) || duration > Duration::days(max_days) {
            problems.add(
                P::InvalidDuration,
                "ends_at",
                format!("lasts {}, not within 14–{max_days} days", days(duration)),
            );
        }
    }
    // C3
    if e.starts_at < t {
        problems.add(P::StartsInPast, "starts_at", "starts before the submission time");
    }
    // C4
    let mut seller = ws.get_or_new::<Seller>(&e.seller_id);
    let window_start = t - Duration::days(QUOTA_WINDOW_DAYS);
    let in_window = seller
        .accepted_submissions
        .iter()
        .filter(|s| window_start < **s && **s <= t)
        .count();
    if in_window >= QUOTA {
        problems.add(
            P::QuotaExceeded,
            "seller_id",
            format!("{in_window} submissions were accepted in the last {QUOTA_WINDOW_DAYS} days"),
        );
    }
    // C5
    if !seller.groups.contains_key(&e.creator_group_id) {
        problems.add(
            P::UnknownCreatorGroup,
            "creator_group_id",
            "no such group of this seller",
        );
    }
    // C6, C7
    let products = check_products(ws, e, t, &mut problems);
    // C10
    problems.money("budget", e.budget.0);
    let budget = e.budget.0;
    // C8, C9
    let plan = match is_task {
        Some(true) => check_task(e, budget, &mut problems),
        Some(false) => check_challenge(e, budget, &mut problems),
        None => None,
    };

    let (Some(plan), true) = (plan, problems.0.is_empty()) else {
        let mut submission = ws.get_or_new::<Submission>(&e.campaign_id);
        submission.rejections.push(Rejection {
            event_id: ws.cause().clone(),
            time: t,
            seller_id: e.seller_id.clone(),
            reasons: problems.0.clone(),
        });
        ws.put(submission);
        ws.emit(
            e.campaign_id.as_str(),
            OutcomeData::CampaignRejected(CampaignRejected {
                campaign_id: e.campaign_id.clone(),
                seller_id: e.seller_id.clone(),
                reasons: problems.0,
            }),
        );
        return;
    };
    let capacity = match &plan {
        CampaignPlan::Task { reward, .. } => (budget / reward).floor().try_into().ok(),
        CampaignPlan::Challenge { .. } => None,
    };
    let campaign = Campaign {
        id: e.campaign_id.clone(),
        seller_id: e.seller_id.clone(),
        title: e.title.clone(),
        submitted_at: t,
        starts_at: e.starts_at,
        ends_at: e.ends_at,
        group_id: e.creator_group_id.clone(),
        currency: e.currency.clone(),
        deposit: budget,
        capacity,
        plan,
        products,
        status: CampaignStatus::PendingPayment,
        payment_due_at: t + Duration::hours(PAYMENT_WINDOW_HOURS),
        paid_at: None,
        recalled_at: None,
        participant_count: 0,
        rewards_total: Decimal::ZERO,
        rewards_issued: 0,
        finalized: false,
        history: Vec::new(),
        money: Vec::new(),
    };
    let mut campaign = campaign;
    campaign.set_status(CampaignStatus::PendingPayment, ws);
    seller.accepted_submissions.push(t);
    ws.put(seller);
    ws.put(Timer {
        id: TimerKey::PaymentDue(campaign.id.clone()),
        due_at: campaign.payment_due_at,
    });
    ws.emit(
        campaign.id.as_str(),
        OutcomeData::CampaignAccepted(CampaignAccepted {
            campaign_id: campaign.id.clone(),
            seller_id: campaign.seller_id.clone(),
            kind: campaign.kind_name(),
            status: "pending_payment",
            payment_due_at: campaign.payment_due_at,
            deposit: campaign.deposit,
            currency: campaign.currency.clone(),
            capacity: campaign.capacity,
        }),
    );
    ws.put(campaign);
}

/// C6 and C7 for every product of the submission.
fn check_products(
    ws: &mut Workspace<'_>,
    e: &CampaignSubmitted,
    t: Time,
    problems: &mut Problems,
) -> Vec<CampaignProduct> {
    if e.products.is_empty() {
        problems.add(
            P::ProductNotEligible,
            "products",
            "a campaign needs at least one product",
        );
    }
    let ids: Vec<_> = e.products.iter().map(|p| p.product_id.clone()).collect();
    let known = ws.read_many::<Product>(&ids);
    let mut accepted = Vec::new();
    for (i, (submitted, product)) in e.products.iter().zip(known).enumerate() {
        let field = |name: &str| format!("products[{i}].{name}");
        if ids[..i].contains(&submitted.product_id) {
            problems.add(P::ProductNotEligible, field("product_id"), "listed twice");
        }
        let version = product.as_ref().and_then(|p| p.at(t));
        match version {
            None => problems.add(P::ProductNotEligible, field("product_id"), "unknown product"),
            Some(v) if v.seller_id != e.seller_id => {
                problems.add(P::ProductNotEligible, field("product_id"), "belongs to another seller")
            }
            Some(v) if !v.affiliate_eligible => problems.add(
                P::ProductNotEligible,
                field("product_id"),
                "not eligible for affiliate marketing",
            ),
            Some(_) => {}
        }
        let mut rate = |name: &str, value: Option<Decimal>, open: Option<Rate>| -> Option<Rate> {
            let value = value?;
            if value <= Decimal::ZERO || value > MAX_CAMPAIGN_RATE {
                problems.add(
                    P::CommissionNotAboveOpenCollab,
                    field(name),
                    format!("{value} is not in (0, 0.80]"),
                );
                return None;
            }
            if let Some(open) = open.filter(|open| value <= open.value()) {
                problems.add(
                    P::CommissionNotAboveOpenCollab,
                    field(name),
                    format!("{value} is not above the open-collaboration rate {open}"),
                );
            }
            Rate::new(value)
        };
        let on_open_collab = version.filter(|v| v.open_collab_rate.is_some());
        let commission_rate = rate(
            "commission_rate",
            submitted.commission_rate.map(|d| d.0),
            on_open_collab.and_then(|v| v.open_collab_rate),
        );
        let shop_ads_rate = rate(
            "shop_ads_rate",
            submitted.shop_ads_rate.map(|d| d.0),
            on_open_collab.and_then(|v| v.open_collab_shop_ads_rate),
        );
        accepted.push(CampaignProduct {
            product_id: submitted.product_id.clone(),
            commission_rate,
            shop_ads_rate,
            free_sample: submitted.free_sample,
            refundable_goal: submitted.refundable_sample_goal_units,
        });
    }
    accepted
}

fn content_filter(raw: &str) -> Option<ContentFilter> {
    match raw {
        "video" => Some(ContentFilter::Video),
        "live" => Some(ContentFilter::Live),
        "any" => Some(ContentFilter::Any),
        _ => None,
    }
}

/// C8
fn check_task(e: &CampaignSubmitted, budget: Decimal, problems: &mut Problems) -> Option<CampaignPlan> {
    let Some(task) = &e.task else {
        problems.add(P::InvalidTask, "task", "a task campaign needs its task details");
        return None;
    };
    let reward = task.reward.0;
    problems.money("task.reward", reward);
    if reward <= Decimal::ZERO {
        problems.add(P::InvalidTask, "task.reward", "the reward must be positive");
    }
    if !(1..=10).contains(&task.tasks.len()) {
        problems.add(
            P::InvalidTask,
            "task.tasks",
            format!("{} tasks; 1 to 10 are allowed", task.tasks.len()),
        );
    }
    let mut specs = Vec::new();
    for (i, item) in task.tasks.iter().enumerate() {
        let field = |name: &str| format!("task.tasks[{i}].{name}");
        let kind = match item.kind.as_str() {
            "gmv" => Some(TaskKind::Gmv),
            "orders" => Some(TaskKind::Orders),
            "content" => Some(TaskKind::Content),
            other => {
                problems.add(
                    P::InvalidTask,
                    field("kind"),
                    format!("{other:?} is not gmv, orders or content"),
                );
                None
            }
        };
        let filter = content_filter(&item.content_type);
        if filter.is_none() {
            problems.add(P::InvalidTask, field("content_type"), "must be video, live or any");
        }
        let target = match (kind, item.target) {
            (Some(TaskKind::Gmv), Target::Money(m)) => {
                if m.0 <= Decimal::ZERO {
                    problems.add(P::InvalidTask, field("target"), "the target must be positive");
                }
                problems.money(&field("target"), m.0).then_some(m.0)
            }
            (Some(TaskKind::Orders | TaskKind::Content), Target::Count(n)) if n > 0 => Some(Decimal::from(n)),
            (Some(TaskKind::Gmv), _) => {
                problems.add(P::InvalidTask, field("target"), "a GMV target is a money string");
                None
            }
            (Some(_), _) => {
                problems.add(P::InvalidTask, field("target"), "a count target is a positive integer");
                None
            }
            (None, _) => None,
        };
        if let (Some(kind), Some(content_type), Some(target)) = (kind, filter, target) {
            specs.push(TaskSpec {
                kind,
                content_type,
                target,
            });
        }
    }
    // Decision 15: an invalid budget or reward is judged by C8 too.
    if budget < reward {
        problems.add(P::InvalidTask, "budget", "the budget does not cover one reward");
    }
    Some(CampaignPlan::Task { reward, tasks: specs })
}

/// C9
fn check_challenge(e: &CampaignSubmitted, budget: Decimal, problems: &mut Problems) -> Option<CampaignPlan> {
    let Some(challenge) = &e.challenge else {
        problems.add(
            P::InvalidChallenge,
            "challenge",
            "a challenge campaign needs its challenge details",
        );
        return None;
    };
    let metric = match challenge.metric.as_str() {
        "gmv" => Some(ChallengeMetric::Gmv),
        "orders" => Some(ChallengeMetric::Orders),
        other => {
            problems.add(
                P::InvalidChallenge,
                "challenge.metric",
                format!("{other:?} is not gmv or orders"),
            );
            None
        }
    };
    if challenge.content_types.is_empty() {
        problems.add(
            P::InvalidChallenge,
            "challenge.content_types",
            "at least one content type",
        );
    }
    let mut content_types = Vec::new();
    for (i, raw) in challenge.content_types.iter().enumerate() {
        match raw.as_str() {
            "video" => content_types.push(ContentType::Video),
            "live" => content_types.push(ContentType::Live),
            other => problems.add(
                P::InvalidChallenge,
                format!("challenge.content_types[{i}]"),
                format!("{other:?} is not video or live"),
            ),
        }
    }
    let min_value = match (metric, challenge.min_value) {
        (Some(ChallengeMetric::Gmv), Target::Money(m)) if m.0 >= Decimal::ZERO && m.0.normalize().scale() <= 2 => {
            Some(m.0)
        }
        (Some(ChallengeMetric::Orders), Target::Count(n)) if n >= 0 => Some(Decimal::from(n)),
        (None, _) => None,
        _ => {
            problems.add(
                P::InvalidChallenge,
                "challenge.min_value",
                "a non-negative money string for gmv, a non-negative integer for orders",
            );
            None
        }
    };
    if challenge.rank_rewards.is_empty() {
        problems.add(P::InvalidChallenge, "challenge.rank_rewards", "at least one rank band");
    }
    // "Contiguous from rank 1, non-overlapping" is about the ranks, not the
    // order the bands are listed in: they are checked sorted by from_rank,
    // and a problem names the band by its place in the submission.
    let listed = &challenge.rank_rewards;
    let mut by_rank: Vec<usize> = (0..listed.len()).collect();
    by_rank.sort_by_key(|&i| (listed[i].from_rank, listed[i].to_rank));
    let mut next_rank = 1i64;
    for i in by_rank {
        let band = &listed[i];
        let field = format!("challenge.rank_rewards[{i}].from_rank");
        if band.to_rank < band.from_rank {
            problems.add(
                P::InvalidChallenge,
                field,
                format!("ranks {}–{} are empty", band.from_rank, band.to_rank),
            );
            continue;
        }
        if band.from_rank > next_rank {
            problems.add(
                P::InvalidChallenge,
                field,
                format!("bands must be contiguous from rank 1; no band for rank {next_rank}"),
            );
        } else if band.from_rank < 1 {
            problems.add(P::InvalidChallenge, field, "ranks start at 1");
        } else if band.from_rank < next_rank {
            problems.add(
                P::InvalidChallenge,
                field,
                format!(
                    "bands must not overlap; rank {} is already in another band",
                    band.from_rank
                ),
            );
        }
        next_rank = next_rank.max(band.to_rank.saturating_add(1));
    }
    let mut bands = Vec::new();
    for (i, band) in listed.iter().enumerate() {
        let field = |name: &str| format!("challenge.rank_rewards[{i}].{name}");
        if band.amount_each.0 <= Decimal::ZERO {
            problems.add(P::InvalidChallenge, field("amount_each"), "must be positive");
        }
        problems.money(&field("amount_each"), band.amount_each.0);
        if band.to_rank > i64::from(u32::MAX) {
            problems.add(
                P::InvalidChallenge,
                field("to_rank"),
                format!("ranks go up to {}", u32::MAX),
            );
        }
        // A band that does not fit is reported above (or by the rank checks).
        if let (Ok(from_rank), Ok(to_rank)) = (u32::try_from(band.from_rank), u32::try_from(band.to_rank)) {
            bands.push(RankBand {
                from_rank,
                to_rank,
                amount_each: band.amount_each.0,
            });
        }
    }
    // "A rejection lists every problem": the budget is compared whenever the
    // sum can be computed, even if the bands break C9 otherwise (decision 15:
    // an invalid budget is judged by C9 too).
    if let Some(sum) = rank_rewards_total(listed)
        && sum != budget
    {
        problems.add(
            P::BudgetMismatch,
            "budget",
            format!("the rank rewards add up to {sum}, not {budget}"),
        );
    }
    Some(CampaignPlan::Challenge {
        metric: metric?,
        content_types,
        min_value: min_value?,
        bands,
    })
}

/// C9: Σ (to_rank − from_rank + 1) × amount_each, if every band spans at
/// least one rank and the sum fits; `None` for no band at all.
fn rank_rewards_total(bands: &[crate::wire::events::SubmittedRankReward]) -> Option<Decimal> {
    if bands.is_empty() {
        return None;
    }
    bands.iter().try_fold(Decimal::ZERO, |sum, band| {
        let width = band.to_rank.checked_sub(band.from_rank)?.checked_add(1)?;
        if width < 1 {
            return None;
        }
        sum.checked_add(Decimal::from(width).checked_mul(band.amount_each.0)?)
    })
}

/// Reads: the campaign, and its seller for the tax report (K7).
pub fn payment_succeeded_reads(plan: &mut Plan<'_>, e: &PaymentSucceeded) {
    plan.read::<Campaign>(&e.campaign_id);
    plan.read::<Seller>(&e.seller_id);
}

/// P1, P2: a payment schedules a pending campaign or is refunded.
pub fn payment_succeeded(ws: &mut Workspace<'_>, e: &PaymentSucceeded) {
    let t = ws.now();
    let campaign = ws.get::<Campaign>(&e.campaign_id);
    let rejection = match &campaign {
        None => Some(PaymentRejection::UnknownCampaign),
        Some(c) if c.seller_id != e.seller_id => Some(PaymentRejection::SellerMismatch),
        Some(c) => match c.status {
            CampaignStatus::Expired => Some(PaymentRejection::CampaignExpired),
            CampaignStatus::PendingPayment if t > c.payment_due_at => Some(PaymentRejection::CampaignExpired),
            CampaignStatus::PendingPayment if e.currency != c.currency => Some(PaymentRejection::CurrencyMismatch),
            CampaignStatus::PendingPayment if e.amount.value() != c.deposit => Some(PaymentRejection::AmountMismatch),
            CampaignStatus::PendingPayment => None,
            _ => Some(PaymentRejection::AlreadyPaid),
        },
    };
    match (rejection, campaign) {
        (None, Some(mut campaign)) => {
            campaign.set_status(CampaignStatus::Scheduled, ws);
            campaign.paid_at = Some(t);
            ws.delete::<Timer>(&TimerKey::PaymentDue(campaign.id.clone()));
            ws.put(Timer {
                id: TimerKey::Start(campaign.id.clone()),
                due_at: campaign.starts_at,
            });
            ws.put(Timer {
                id: TimerKey::End(campaign.id.clone()),
                due_at: campaign.ends_at,
            });
            if !campaign.is_task() {
                ws.put(Timer {
                    id: TimerKey::Finalize(campaign.id.clone()),
                    due_at: campaign.ends_at + ws.rules.challenge_finalization_lag,
                });
            }
            schedule_tax_report(ws, &campaign.seller_id, t);
            ws.emit(
                campaign.id.as_str(),
                OutcomeData::CampaignScheduled(CampaignScheduled {
                    campaign_id: campaign.id.clone(),
                    seller_id: campaign.seller_id.clone(),
                    starts_at: campaign.starts_at,
                    paid_at: t,
                }),
            );
            ws.put(campaign);
        }
        (rejection, _) => {
            ws.emit(
                e.payment_id.as_str(),
                OutcomeData::PaymentRejected(PaymentRejected {
                    payment_id: e.payment_id.clone(),
                    campaign_id: e.campaign_id.clone(),
                    seller_id: e.seller_id.clone(),
                    reason: rejection.unwrap_or(PaymentRejection::UnknownCampaign),
                }),
            );
            let refund_id = ids::money_movement_id("refund", ws.cause(), e.payment_id.as_str());
            ws.emit(
                &refund_id,
                OutcomeData::RefundDue(RefundDue {
                    refund_id: refund_id.clone(),
                    to: RefundTo::Seller,
                    party_id: e.seller_id.to_string(),
                    campaign_id: Some(e.campaign_id.clone()),
                    amount: e.amount.value(),
                    currency: e.currency.clone(),
                    reason: RefundReason::PaymentNotApplicable,
                    due_by: t + Duration::days(REFUND_DUE_DAYS),
                }),
            );
        }
    }
}

/// `YYYY-MM` of a time.
pub fn month_of(t: Time) -> String {
    format!("{:04}-{:02}", t.year(), t.month())
}

/// The first instant of the month after the one containing `t`.
pub fn next_month_start(t: Time) -> Time {
    let (y, m) = if t.month() == 12 {
        (t.year() + 1, 1)
    } else {
        (t.year(), t.month() + 1)
    };
    Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0).single().unwrap_or(t)
}

/// K7: the month of a successful payment gets a tax report on the 7th of the
/// following month.
fn schedule_tax_report(ws: &mut Workspace<'_>, seller: &crate::wire::values::SellerId, paid_at: Time) {
    let month = month_of(paid_at);
    let already = ws
        .read::<Seller>(seller)
        .is_some_and(|s| s.tax_reports_sent.contains(&month));
    if !already {
        ws.put(Timer {
            id: TimerKey::TaxReport(seller.clone(), month),
            due_at: next_month_start(paid_at) + Duration::days(6),
        });
    }
}

/// Reads: the campaign.
pub fn recall_requested_reads(plan: &mut Plan<'_>, e: &CampaignRecallRequested) {
    plan.read::<Campaign>(&e.campaign_id);
}

/// R1, R2
pub fn recall_requested(ws: &mut Workspace<'_>, e: &CampaignRecallRequested) {
    let campaign = ws
        .get::<Campaign>(&e.campaign_id)
        .filter(|c| c.seller_id == e.seller_id);
    let reason = match campaign.as_ref().map(|c| c.status) {
        Some(CampaignStatus::Scheduled) => None,
        Some(CampaignStatus::PendingPayment) => Some(RecallRejection::NotPaid),
        Some(CampaignStatus::Ongoing | CampaignStatus::Ended | CampaignStatus::Settled) => {
            Some(RecallRejection::AlreadyStarted)
        }
        Some(CampaignStatus::Expired | CampaignStatus::Recalled) | None => Some(RecallRejection::NotRecallable),
    };
    match (reason, campaign) {
        (None, Some(mut campaign)) => {
            campaign.set_status(CampaignStatus::Recalled, ws);
            campaign.recalled_at = Some(ws.now());
            for timer in [TimerKey::Start, TimerKey::End, TimerKey::Finalize] {
                ws.delete::<Timer>(&timer(campaign.id.clone()));
            }
            ws.emit(
                campaign.id.as_str(),
                OutcomeData::CampaignRecalled(campaign.reference()),
            );
            let deposit = campaign.deposit;
            refund_seller(ws, &mut campaign, deposit, RefundReason::CampaignRecalled);
            ws.put(campaign);
        }
        (reason, _) => ws.emit(
            e.campaign_id.as_str(),
            OutcomeData::CampaignRecallRejected(CampaignRecallRejected {
                campaign_id: e.campaign_id.clone(),
                seller_id: e.seller_id.clone(),
                reason: reason.unwrap_or(RecallRejection::NotRecallable),
            }),
        ),
    }
}

/// A refund of campaign money to the seller, with K6: if the campaign was
/// paid in a month before its start month and the refund is issued in the
/// start month, the seller is charged the extra platform fee and refunded it
/// at once.
pub fn refund_seller(ws: &mut Workspace<'_>, campaign: &mut Campaign, amount: Decimal, reason: RefundReason) {
    if amount <= Decimal::ZERO {
        return;
    }
    let t = ws.now();
    let refund_id = ids::money_movement_id("refund", ws.cause(), &format!("{}/{}", campaign.id, reason.code()));
    ws.emit(
        &refund_id,
        OutcomeData::RefundDue(RefundDue {
            refund_id: refund_id.clone(),
            to: RefundTo::Seller,
            party_id: campaign.seller_id.to_string(),
            campaign_id: Some(campaign.id.clone()),
            amount,
            currency: campaign.currency.clone(),
            reason,
            due_by: t + Duration::days(REFUND_DUE_DAYS),
        }),
    );
    campaign.record_money(ws, "refund", &refund_id, amount, reason.code());
    let month = |t: Time| (t.year(), t.month());
    let fee_applies = campaign
        .paid_at
        .is_some_and(|paid| month(paid) < month(campaign.starts_at) && month(t) == month(campaign.starts_at));
    if !fee_applies {
        return;
    }
    let fee = round_money(campaign.deposit * Decimal::new(EXTRA_FEE_PERCENT, 2));
    let fee_id = ids::money_movement_id("fee", ws.cause(), campaign.id.as_str());
    ws.emit(
        &fee_id,
        OutcomeData::FeeCharged(FeeCharged {
            fee_id: fee_id.clone(),
            seller_id: campaign.seller_id.clone(),
            campaign_id: campaign.id.clone(),
            amount: fee,
            currency: campaign.currency.clone(),
            reason: "extra_platform_fee",
        }),
    );
    campaign.record_money(ws, "fee", &fee_id, fee, "extra_platform_fee");
    let reversal_id = ids::money_movement_id("refund", ws.cause(), &format!("{}/extra_fee_reversal", campaign.id));
    ws.emit(
        &reversal_id,
        OutcomeData::RefundDue(RefundDue {
            refund_id: reversal_id.clone(),
            to: RefundTo::Seller,
            party_id: campaign.seller_id.to_string(),
            campaign_id: Some(campaign.id.clone()),
            amount: fee,
            currency: campaign.currency.clone(),
            reason: RefundReason::ExtraFeeReversal,
            due_by: next_month_start(t),
        }),
    );
    campaign.record_money(ws, "refund", &reversal_id, fee, RefundReason::ExtraFeeReversal.code());
}

/// K5: charged = rewards issued and not cancelled; the rest is refunded.
pub fn settle(ws: &mut Workspace<'_>, campaign: &mut Campaign) {
    let rewards_total = campaign.rewards_total;
    let refunded = campaign.deposit - rewards_total;
    refund_seller(ws, campaign, refunded, RefundReason::UnusedBudget);
    campaign.set_status(CampaignStatus::Settled, ws);
    ws.emit(
        campaign.id.as_str(),
        OutcomeData::CampaignSettled(CampaignSettled {
            campaign_id: campaign.id.clone(),
            seller_id: campaign.seller_id.clone(),
            deposit: campaign.deposit,
            rewards_total,
            charged: rewards_total,
            refunded,
            currency: campaign.currency.clone(),
        }),
    );
}
