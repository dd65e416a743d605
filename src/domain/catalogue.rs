//! Reference data: products, creators, creator groups (G1, G2).
//!
//! Products, creators and groups keep their history, because the rules read
//! them "as of" a business time: the product's current rate at the order's
//! time (O2), the creator and group as known at join time (G2).

use super::commission;
use super::state::{
    Creator, CreatorProfile, GroupVersion, Miss, Product, ProductVersion, Seller, Workspace, insert_by_time,
};
use crate::wire::events::{CreatorGroupSaved, CreatorUpdated, GroupCriteria, ProductUpdated};
use crate::wire::outcomes::{CreatorGroupRejected, GroupRejection, OutcomeData};

/// G1: a seller holds at most this many groups.
pub const GROUP_LIMIT: usize = 100;

pub fn product_updated(ws: &mut Workspace<'_>, e: &ProductUpdated) -> Result<(), Miss> {
    let mut product = ws
        .get::<Product>(&e.product_id)?
        .unwrap_or_else(|| Product::new(e.product_id.clone()));
    product.record(ProductVersion {
        time: ws.now(),
        seller_id: e.seller_id.clone(),
        category: e.category.clone(),
        affiliate_eligible: e.affiliate_eligible,
        open_collab_rate: e.open_collab_rate,
        open_collab_shop_ads_rate: e.open_collab_shop_ads_rate,
    });
    commission::product_arrived(ws, &mut product)?;
    ws.put(product);
    Ok(())
}

pub fn creator_updated(ws: &mut Workspace<'_>, e: &CreatorUpdated) -> Result<(), Miss> {
    let mut creator = ws
        .get::<Creator>(&e.creator_id)?
        .unwrap_or_else(|| Creator::new(e.creator_id.clone()));
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
    Ok(())
}

/// G1: create or replace a group; a new group beyond the limit is rejected.
pub fn creator_group_saved(ws: &mut Workspace<'_>, e: &CreatorGroupSaved) -> Result<(), Miss> {
    let mut seller = ws
        .get::<Seller>(&e.seller_id)?
        .unwrap_or_else(|| Seller::new(e.seller_id.clone()));
    if !seller.groups.contains_key(&e.group_id) && seller.groups.len() >= GROUP_LIMIT {
        ws.emit(
            e.group_id.as_str(),
            OutcomeData::CreatorGroupRejected(CreatorGroupRejected {
                seller_id: e.seller_id.clone(),
                group_id: e.group_id.clone(),
                reason: GroupRejection::GroupLimitReached,
            }),
        );
        return Ok(());
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
    Ok(())
}

fn within<T: PartialOrd + Copy>(value: T, min: Option<T>, max: Option<T>) -> bool {
    min.is_none_or(|m| m <= value) && max.is_none_or(|m| value <= m)
}

/// G2: a creator matches a group when every criterion present holds.
pub fn matches(criteria: &GroupCriteria, creator: &CreatorProfile) -> bool {
    criteria
        .categories
        .as_ref()
        .is_none_or(|cs| cs.iter().any(|c| creator.categories.contains(c)))
        && within(creator.level, criteria.level_min, criteria.level_max)
        && within(creator.followers, criteria.followers_min, criteria.followers_max)
        && criteria
            .content_types
            .as_ref()
            .is_none_or(|ts| ts.iter().any(|t| creator.content_types.contains(t)))
        && within(
            creator.avg_commission_rate,
            criteria.avg_commission_rate_min,
            criteria.avg_commission_rate_max,
        )
        && criteria
            .max_fake_order_risk
            .is_none_or(|max| creator.fake_order_risk <= max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::events::{ContentType, Risk};
    use crate::wire::values::Rate;
    use rust_decimal::Decimal;

    fn creator() -> CreatorProfile {
        CreatorProfile {
            level: 4,
            followers: 5_000,
            categories: vec!["beauty".into(), "home".into()],
            content_types: vec![ContentType::Video],
            avg_commission_rate: Rate::new(Decimal::new(12, 2)).unwrap_or_default(),
            fake_order_risk: Risk::Medium,
        }
    }

    #[test]
    fn an_empty_group_matches_everyone() {
        assert!(matches(&GroupCriteria::default(), &creator()));
    }

    #[test]
    fn every_present_criterion_must_hold() {
        let c = creator();
        let g = |f: fn(&mut GroupCriteria)| {
            let mut g = GroupCriteria::default();
            f(&mut g);
            matches(&g, &c)
        };
        assert!(g(|g| g.categories = Some(vec!["home".into(), "toys".into()])));
        assert!(!g(|g| g.categories = Some(vec!["toys".into()])));
        assert!(g(|g| g.level_min = Some(4)));
        assert!(g(|g| g.level_max = Some(4)));
        assert!(!g(|g| g.level_min = Some(5)));
        assert!(!g(|g| g.followers_max = Some(4_999)));
        assert!(!g(|g| g.content_types = Some(vec![ContentType::Live])));
        assert!(g(|g| g.max_fake_order_risk = Some(Risk::Medium)));
        assert!(!g(|g| g.max_fake_order_risk = Some(Risk::Low)));
        assert!(!g(|g| g.avg_commission_rate_min = Rate::new(Decimal::new(13, 2))));
        assert!(g(|g| g.avg_commission_rate_max = Rate::new(Decimal::new(12, 2))));
    }
}
