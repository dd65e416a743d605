//! Creators in campaigns: joining (J1–J3), task progress and rewards (T1–T3),
//! challenge scores and ranking (H1–H3).

use std::cmp::Ordering;
use std::sync::Arc;

use rust_decimal::Decimal;

use super::ids;
use super::model::{
    Campaign, CampaignPlan, ChallengeMetric, ContentFilter, Contribution, Creator, Emit, Order, Pair, Participation,
    RewardRecord, Seller, TaskKind, TaskSpec, Time, insert_by_time,
};
use super::workspace::{Plan, Query, Sweep, SweepAction, Workspace};
use crate::wire::events::{ContentPosted, CreatorJoinRequested, SellerCreator};
use crate::wire::outcomes::{
    JoinRejection, OutcomeData, ParticipationAccepted, ParticipationRejected, ParticipationStatus, RateSource,
    RewardIssued, RewardKind, TaskFinished,
};
use crate::wire::values::{CampaignId, CreatorId};

/// Reads: the pair's blocklist.
pub fn blocklist_changed_reads(plan: &mut Plan<'_>, e: &SellerCreator) {
    plan.read::<Pair>(&(e.seller_id.clone(), e.creator_id.clone()));
}

/// J2: `seller.creator_blocked` / `seller.creator_unblocked`.
pub fn blocklist_changed(ws: &mut Workspace<'_>, e: &SellerCreator, blocked: bool) {
    let mut pair = ws.get_or_new::<Pair>(&(e.seller_id.clone(), e.creator_id.clone()));
    insert_by_time(&mut pair.blocklist, ws.now(), blocked);
    ws.put(pair);
}

/// Reads: the campaign, the creator, the participation; then the campaign's
/// seller (its groups) and the seller–creator pair.
pub fn join_requested_reads(plan: &mut Plan<'_>, e: &CreatorJoinRequested) {
    plan.read::<Creator>(&e.creator_id);
    plan.read::<Participation>(&(e.campaign_id.clone(), e.creator_id.clone()));
    if let Some(campaign) = plan.read::<Campaign>(&e.campaign_id) {
        plan.read::<Pair>(&(campaign.seller_id.clone(), e.creator_id.clone()));
        plan.read::<Seller>(&campaign.seller_id);
    }
    let now = plan.now();
    plan.sweep(Query::PendingOrdersOfCreatorSince(e.creator_id.clone(), now));
}

/// J1: a join is accepted iff every check passes; otherwise the first failing
/// one is the reason.
pub fn join_requested(ws: &mut Workspace<'_>, e: &CreatorJoinRequested) {
    let t = ws.now();
    let reject = |ws: &mut Workspace<'_>, reason| {
        ws.emit(
            e.creator_id.as_str(),
            OutcomeData::ParticipationRejected(ParticipationRejected {
                campaign_id: e.campaign_id.clone(),
                creator_id: e.creator_id.clone(),
                reason,
            }),
        );
    };
    let Some(mut campaign) = ws.get::<Campaign>(&e.campaign_id) else {
        return reject(ws, JoinRejection::CampaignNotOpen);
    };
    if !campaign.open_at(t) {
        return reject(ws, JoinRejection::CampaignNotOpen);
    }
    let mut creator = ws.get_or_new::<Creator>(&e.creator_id);
    if creator.blocked_by(t) {
        return reject(ws, JoinRejection::PlatformBlocked);
    }
    let pair = ws.read_or_new::<Pair>(&(campaign.seller_id.clone(), e.creator_id.clone()));
    if pair.paused_by(t) {
        return reject(ws, JoinRejection::ConnectionPaused);
    }
    if pair.blocks_join(campaign.submitted_at, t) {
        return reject(ws, JoinRejection::BlockedBySeller);
    }
    let seller = ws.read_or_new::<Seller>(&campaign.seller_id);
    let profile = creator.profile_at(t).cloned();
    let eligible = match (&profile, seller.group_at(&campaign.group_id, t)) {
        (Some(profile), Some(group)) => profile.matches(&group.criteria),
        _ => false,
    };
    if !eligible {
        return reject(ws, JoinRejection::NotEligible);
    }
    let key = (e.campaign_id.clone(), e.creator_id.clone());
    if ws.read::<Participation>(&key).is_some() {
        return reject(ws, JoinRejection::AlreadyJoined);
    }
    if campaign.capacity.is_some_and(|cap| campaign.participant_count >= cap) {
        return reject(ws, JoinRejection::CapacityReached);
    }
    campaign.participant_count += 1;
    creator
        .participations
        .push((campaign.id.clone(), campaign.seller_id.clone()));
    let mut participation = Participation {
        id: key,
        seller_id: campaign.seller_id.clone(),
        joined_at: t,
        status: ParticipationStatus::Unfinished,
        orders: Default::default(),
        contents: Default::default(),
        finished_at: None,
        samples_approved: 0,
        sample_delivered: false,
        reward: None,
    };
    ws.emit(
        e.creator_id.as_str(),
        OutcomeData::ParticipationAccepted(ParticipationAccepted {
            campaign_id: campaign.id.clone(),
            creator_id: e.creator_id.clone(),
            seller_id: campaign.seller_id.clone(),
            fake_order_risk: profile.map(|p| p.fake_order_risk),
        }),
    );
    // V2: violations later than the join that arrived first.
    creator.notify_late_connection(&pair, t, ws);
    // V3: a pause after t that arrived first is replayed, as a later platform
    // block is (the join stands, the block then keeps every reward away): the
    // join ends as had it arrived in order — accepted, then removed, so it
    // never counts nor earns a reward.
    if pair.paused_at.is_some() {
        participation.set_status(ParticipationStatus::Removed, ws);
    }
    // O9: the creator's orders with the seller since the join may now earn
    // the campaign's rate.
    ws.sweep(Sweep {
        query: Query::PendingOrdersOfCreatorSince(e.creator_id.clone(), t),
        action: SweepAction::Redecide {
            seller: Some(campaign.seller_id.clone()),
        },
    });
    ws.put(participation);
    ws.put(campaign);
    ws.put(creator);
}

/// Reads of content counting for campaigns: the creator, and each of the
/// creator's campaigns with the participation in it.
pub fn content_posted_reads(plan: &mut Plan<'_>, e: &ContentPosted) {
    campaigns_of_reads(plan, &e.creator_id);
}

/// The creator, and every campaign the creator joined with the participation.
pub fn campaigns_of_reads(plan: &mut Plan<'_>, creator: &CreatorId) {
    if let Some(c) = plan.read::<Creator>(creator) {
        for campaign in c.campaigns(None) {
            plan.read::<Campaign>(campaign);
            plan.read::<Participation>(&(campaign.clone(), creator.clone()));
        }
    }
}

/// `content.posted` counted for tasks (T1) and the J3 status, in every
/// campaign of the creator that includes a linked product.
pub fn content_posted(ws: &mut Workspace<'_>, e: &ContentPosted) {
    let t = ws.now();
    let Some(creator) = ws.read::<Creator>(&e.creator_id) else {
        return;
    };
    for campaign_id in creator.campaigns(None) {
        let key = (campaign_id.clone(), e.creator_id.clone());
        let (Some(mut campaign), Some(mut p)) = (ws.get::<Campaign>(campaign_id), ws.get::<Participation>(&key)) else {
            continue;
        };
        let links = e.product_ids.iter().any(|id| campaign.product(id).is_some());
        if p.status == ParticipationStatus::Removed || !links || !p.counts_at(&campaign, t) || campaign.is_closed() {
            continue;
        }
        p.contents.insert(e.content_id.clone(), (t, e.content_type));
        if p.status == ParticipationStatus::NotFulfilled {
            p.set_status(ParticipationStatus::Unfinished, ws);
        }
        if evaluate(ws, &mut campaign, &mut p, &creator, t) {
            ws.put(campaign);
        }
        ws.put(p);
    }
}

/// Reads of an order's change for its campaign: the campaign its commission
/// counts for, the participation, the creator.
pub fn order_changed_reads(plan: &mut Plan<'_>, order: &Order) {
    let (Some(creator), Some(campaign)) = (
        order.creator(),
        order.commission.as_ref().and_then(|c| c.campaign_id.as_ref()),
    ) else {
        return;
    };
    plan.read::<Campaign>(campaign);
    plan.read::<Participation>(&(campaign.clone(), creator.clone()));
    plan.read::<Creator>(creator);
}

/// An order's contribution to its campaign participation (T1, H1), after it
/// was accrued, refunded or cancelled at business time `at`.
pub fn order_changed(ws: &mut Workspace<'_>, order: &Order, at: Time) {
    let (Some(paid), Some(c)) = (&order.paid, &order.commission) else {
        return;
    };
    let (Some(campaign_id), Some(creator_id)) = (&c.campaign_id, &paid.creator_id) else {
        return;
    };
    if c.source != RateSource::Campaign {
        return;
    }
    let key = (campaign_id.clone(), creator_id.clone());
    let (Some(mut campaign), Some(mut p)) = (ws.get::<Campaign>(campaign_id), ws.get::<Participation>(&key)) else {
        return;
    };
    // Late facts no longer count once rewards are decided (H3, K5), nor for a
    // participation the seller removed (V3).
    if campaign.is_closed() || campaign.finalized || p.status == ParticipationStatus::Removed {
        return;
    }
    if !p.counts_at(&campaign, paid.time) || paid.currency != campaign.currency {
        return;
    }
    let base = order.base();
    let changed_at = match p.orders.get(&order.id) {
        None => (base > Decimal::ZERO).then_some(at),
        Some(before) if score_changes(&campaign.plan, before.base, base) => {
            Some(before.score_changed_at().map_or(at, |last| last.max(at)))
        }
        Some(before) => before.score_changed_at(),
    };
    p.orders.insert(
        order.id.clone(),
        Contribution {
            time: paid.time,
            base,
            channel: paid.channel,
            quantity: paid.quantity,
            changed_at,
        },
    );
    let creator = ws.read_or_new::<Creator>(creator_id);
    if evaluate(ws, &mut campaign, &mut p, &creator, paid.time) {
        ws.put(campaign);
    }
    ws.put(p);
}

/// O9: an order that no longer counts for a campaign leaves its progress
/// (unless rewards there are decided: settled, or a finalized challenge).
/// A reward already issued is never taken back; the status stays.
pub fn order_left(ws: &mut Workspace<'_>, order: &Order, campaign_id: &CampaignId) {
    let Some(creator_id) = order.creator() else {
        return;
    };
    let key = (campaign_id.clone(), creator_id.clone());
    let (Some(campaign), Some(mut p)) = (ws.read::<Campaign>(campaign_id), ws.get::<Participation>(&key)) else {
        return;
    };
    if campaign.is_closed() || campaign.finalized {
        return;
    }
    if p.orders.remove(&order.id).is_some() {
        ws.put(p);
    }
}

/// O9: an order that now counts for its campaign counts at its paid time —
/// for a GMV score, as of its latest refund if later (H3 ties).
pub fn order_entered(ws: &mut Workspace<'_>, order: &Order) {
    let Some(paid) = &order.paid else {
        return;
    };
    let gmv_score = order
        .commission
        .as_ref()
        .and_then(|c| c.campaign_id.as_ref())
        .and_then(|k| ws.read::<Campaign>(k))
        .is_some_and(|k| {
            matches!(
                k.plan,
                CampaignPlan::Challenge {
                    metric: ChallengeMetric::Gmv,
                    ..
                }
            )
        });
    let at = match order.last_refund_at {
        Some(refund) if gmv_score => paid.time.max(refund),
        _ => paid.time,
    };
    order_changed(ws, order, at);
}

/// Reads of ranking a challenge: its participations and their creators.
pub fn finalize_challenge_reads(plan: &mut Plan<'_>, campaign: &CampaignId) {
    let participations = plan.query::<Participation>(Query::ParticipationsOf(campaign.clone()));
    plan.read_all::<Creator>(participations.iter().map(|p| &p.id.1));
}

/// Whether an order's base going from `before` to `after` changes the score:
/// any change of GMV, but for an orders challenge only the order starting or
/// ceasing to count (a partial refund leaves the count as it was).
fn score_changes(plan: &CampaignPlan, before: Decimal, after: Decimal) -> bool {
    match plan {
        CampaignPlan::Challenge {
            metric: ChallengeMetric::Orders,
            ..
        } => (before > Decimal::ZERO) != (after > Decimal::ZERO),
        _ => before != after,
    }
}

/// Progress of one task kind over the participation's qualifying facts up
/// to business time `until`.
fn task_progress(p: &Participation, kind: TaskKind, filter: ContentFilter, until: Time) -> Decimal {
    let orders = p
        .orders
        .values()
        .filter(|o| o.time <= until && filter.admits(o.channel.content_type()));
    match kind {
        TaskKind::Gmv => orders.map(|o| o.base).sum(),
        TaskKind::Orders => Decimal::from(orders.filter(|o| o.base > Decimal::ZERO).count()),
        TaskKind::Content => Decimal::from(
            p.contents
                .values()
                .filter(|(t, ct)| *t <= until && filter.admits(Some(*ct)))
                .count(),
        ),
    }
}

/// T2: the business time at which every task reached its target, taking the
/// known facts in time order whatever order they arrived in; `None` if not
/// all done.
fn tasks_done_at(p: &Participation, tasks: &[TaskSpec]) -> Option<Time> {
    let mut times: Vec<Time> = p
        .orders
        .values()
        .map(|o| o.time)
        .chain(p.contents.values().map(|(t, _)| *t))
        .collect();
    times.sort();
    times.dedup();
    times.into_iter().find(|&until| {
        tasks
            .iter()
            .all(|task| task_progress(p, task.kind, task.content_type, until) >= task.target)
    })
}

/// H1: the challenge score and when the participant reached it (H3): the
/// business time of the last fact that changed it — a qualifying order paid,
/// or a refund or cancellation of one. A score lowered by a refund was
/// reached when the refund happened, not when the order was paid.
pub fn challenge_score(campaign: &Campaign, p: &Participation) -> (Decimal, Option<Time>) {
    let CampaignPlan::Challenge {
        metric, content_types, ..
    } = &campaign.plan
    else {
        return (Decimal::ZERO, None);
    };
    let qualifying: Vec<&Contribution> = p
        .orders
        .values()
        .filter(|o| o.channel.content_type().is_some_and(|ct| content_types.contains(&ct)))
        .collect();
    let counting = qualifying.iter().filter(|o| o.base > Decimal::ZERO);
    let score = match metric {
        ChallengeMetric::Gmv => counting.map(|o| o.base).sum(),
        ChallengeMetric::Orders => Decimal::from(counting.count()),
    };
    (score, qualifying.iter().filter_map(|o| o.score_changed_at()).max())
}

/// H2: eligible for ranking.
fn challenge_eligible(campaign: &Campaign, p: &Participation, creator: &Creator, at: Time) -> bool {
    let CampaignPlan::Challenge { min_value, .. } = &campaign.plan else {
        return false;
    };
    let (score, _) = challenge_score(campaign, p);
    score > Decimal::ZERO && score >= *min_value && !creator.blocked_by(at)
}

/// T2 and H2 after the participation's facts changed at business time `at`.
/// Returns whether the campaign changed (a reward was issued); most calls
/// only move the participation, and the campaign is written only if so.
fn evaluate(
    ws: &mut Workspace<'_>,
    campaign: &mut Campaign,
    p: &mut Participation,
    creator: &Creator,
    at: Time,
) -> bool {
    if p.status == ParticipationStatus::Finished || p.status == ParticipationStatus::Removed {
        return false;
    }
    match &campaign.plan {
        CampaignPlan::Task { reward, tasks } => {
            let Some(done_at) = tasks_done_at(p, tasks) else {
                return false;
            };
            // V6: a blocked creator is never rewarded. Any known block counts:
            // a reward issued before it would be cancelled by it (decision 14).
            if done_at >= campaign.ends_at || creator.blocked_at.is_some() {
                return false;
            }
            let reward = *reward;
            p.finished_at = Some(done_at);
            ws.emit(
                p.id.1.as_str(),
                OutcomeData::TaskFinished(TaskFinished {
                    campaign_id: campaign.id.clone(),
                    creator_id: p.id.1.clone(),
                    finished_at: done_at,
                }),
            );
            p.set_status(ParticipationStatus::Finished, ws);
            issue_reward(ws, campaign, p, reward, RewardKind::Task, None)
        }
        CampaignPlan::Challenge { .. } => {
            if challenge_eligible(campaign, p, creator, at) {
                p.finished_at = Some(at);
                p.set_status(ParticipationStatus::Finished, ws);
            }
            false
        }
    }
}

/// Returns whether a reward was issued (at most one per participation).
fn issue_reward(
    ws: &mut Workspace<'_>,
    campaign: &mut Campaign,
    p: &mut Participation,
    amount: Decimal,
    kind: RewardKind,
    rank: Option<u32>,
) -> bool {
    if p.reward.is_some() {
        return false;
    }
    let reward_id = ids::reward_id(&campaign.id, &p.id.1);
    p.reward = Some(RewardRecord {
        reward_id: reward_id.clone(),
        amount,
        cancelled: false,
    });
    campaign.rewards_total += amount;
    campaign.rewards_issued += 1;
    ws.emit(
        &reward_id,
        OutcomeData::RewardIssued(RewardIssued {
            reward_id: reward_id.clone(),
            campaign_id: campaign.id.clone(),
            creator_id: p.id.1.clone(),
            kind,
            rank,
            amount,
            currency: campaign.currency.clone(),
        }),
    );
    true
}

/// H3: ranks the eligible participants and issues the band rewards.
pub fn finalize_challenge(ws: &mut Workspace<'_>, campaign: &mut Campaign) {
    let CampaignPlan::Challenge { bands, .. } = campaign.plan.clone() else {
        return;
    };
    let now = ws.now();
    let mut participations = ws.query::<Participation>(&Query::ParticipationsOf(campaign.id.clone()));
    let creator_ids: Vec<CreatorId> = participations.iter().map(|p| p.id.1.clone()).collect();
    let creators = ws.read_many::<Creator>(&creator_ids);
    let mut ranked: Vec<(Decimal, Option<Time>, CreatorId)> = Vec::new();
    for (p, creator) in participations.iter().zip(creators) {
        let creator = creator.unwrap_or_else(|| Arc::new(Creator::new(p.id.1.clone())));
        if p.status == ParticipationStatus::Removed || !challenge_eligible(campaign, p, &creator, now) {
            continue;
        }
        let (score, reached) = challenge_score(campaign, p);
        ranked.push((score, reached, p.id.1.clone()));
    }
    ranked.sort_by(ranking_order);
    for (i, (_, _, creator)) in ranked.iter().enumerate() {
        let rank = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let band = bands.iter().find(|b| b.from_rank <= rank && rank <= b.to_rank);
        let p = participations.iter_mut().find(|p| &p.id.1 == creator);
        if let (Some(band), Some(p)) = (band, p)
            && issue_reward(ws, campaign, p, band.amount_each, RewardKind::Challenge, Some(rank))
        {
            ws.put(p.clone());
        }
    }
    campaign.finalized = true;
}

/// H3: score descending, then who reached it earlier, then creator id.
pub fn ranking_order(a: &(Decimal, Option<Time>, CreatorId), b: &(Decimal, Option<Time>, CreatorId)) -> Ordering {
    b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)).then_with(|| a.2.cmp(&b.2))
}
