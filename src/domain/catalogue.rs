//! Reference data: products, creators, creator groups (G1, G2).
//!
//! Products, creators and groups keep their history, because the rules read
//! them "as of" a business time: the product's current rate at the order's
//! time (O2), the creator and group as known at join time (G2, with
//! [`CreatorProfile::matches`](super::model::CreatorProfile::matches)).

use super::model::{Creator, CreatorProfile, Emit, GroupVersion, Product, ProductVersion, Seller, insert_by_time};
use super::workspace::{Plan, Query, Sweep, SweepAction, Workspace};
use crate::wire::events::{CreatorGroupSaved, CreatorUpdated, ProductUpdated};
use crate::wire::outcomes::{CreatorGroupRejected, GroupRejection, OutcomeData};
use crate::wire::values::OrderId;

/// G1: a seller holds at most this many groups.
pub const GROUP_LIMIT: usize = 100;

/// Reads: the product (and the first page of the re-decisions it may set
/// off, O9).
pub fn product_updated_reads(plan: &mut Plan<'_>, e: &ProductUpdated) {
    let now = plan.now();
    if let Some(product) = plan.lookup::<Product>(&e.product_id) {
        let since = product.and_then(|p| p.current_from(now));
        plan.sweep(Query::PendingOrdersOfProductSince(e.product_id.clone(), since));
    }
}

/// Records the new version. Returns the orders that waited for the product
/// to be known (their commissions are decided now, by the cascade). O9: the
/// product's pending commissions of orders from the version's time on are
/// re-decided after this event (a sweep).
pub fn product_updated(ws: &mut Workspace<'_>, e: &ProductUpdated) -> (Product, Vec<OrderId>) {
    let mut product = ws.get_or_new::<Product>(&e.product_id);
    let since = product.current_from(ws.now());
    ws.sweep(Sweep {
        query: Query::PendingOrdersOfProductSince(e.product_id.clone(), since),
        action: SweepAction::Redecide { seller: None },
    });
    product.record(ProductVersion {
        time: ws.now(),
        seller_id: e.seller_id.clone(),
        category: e.category.clone(),
        affiliate_eligible: e.affiliate_eligible,
        open_collab_rate: e.open_collab_rate,
        open_collab_shop_ads_rate: e.open_collab_shop_ads_rate,
    });
    let waiting = std::mem::take(&mut product.waiting_orders);
    ws.put(product.clone());
    (product, waiting)
}

/// Reads: the creator.
pub fn creator_updated_reads(plan: &mut Plan<'_>, e: &CreatorUpdated) {
    plan.read::<Creator>(&e.creator_id);
}

pub fn creator_updated(ws: &mut Workspace<'_>, e: &CreatorUpdated) {
    let mut creator = ws.get_or_new::<Creator>(&e.creator_id);
    let profile = CreatorProfile {
        level: e.level,
        followers: e.followers,
        categories: e.categories.clone(),
        content_types: e.content_types.clone(),
        avg_commission_rate: e.avg_commission_rate,
        fake_order_risk: e.fake_order_risk,
    };
    insert_by_time(&mut creator.profiles, ws.now(), profile);
    ws.put(creator);
}

/// Reads: the seller (its groups).
pub fn creator_group_saved_reads(plan: &mut Plan<'_>, e: &CreatorGroupSaved) {
    plan.read::<Seller>(&e.seller_id);
}

/// G1: create or replace a group; a new group beyond the limit is rejected.
pub fn creator_group_saved(ws: &mut Workspace<'_>, e: &CreatorGroupSaved) {
    let mut seller = ws.get_or_new::<Seller>(&e.seller_id);
    if !seller.groups.contains_key(&e.group_id) && seller.groups.len() >= GROUP_LIMIT {
        ws.emit(
            e.group_id.as_str(),
            OutcomeData::CreatorGroupRejected(CreatorGroupRejected {
                seller_id: e.seller_id.clone(),
                group_id: e.group_id.clone(),
                reason: GroupRejection::GroupLimitReached,
            }),
        );
        return;
    }
    let version = GroupVersion {
        time: ws.now(),
        name: e.name.clone(),
        criteria: e.criteria.clone(),
    };
    let versions = seller.groups.entry(e.group_id.clone()).or_default();
    let at = versions.partition_point(|v| v.time <= version.time);
    versions.insert(at, version);
    ws.put(seller);
}
