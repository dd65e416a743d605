//! Seller–creator connections: partnerships, pauses, the seller's
//! blocklist, and disputes (V3, V4, V7, J2).

use serde::{Deserialize, Serialize};

use super::Time;
use crate::wire::values::{CreatorId, DisputeId, OrderId, Rate, SellerId};

/// A seller–creator connection: partnership, pause, blocklist, disputes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pair {
    pub id: (SellerId, CreatorId),
    /// `partnership.established` facts: (time, rate).
    #[serde(default)]
    pub partnership: Vec<(Time, Rate)>,
    #[serde(default)]
    pub paused_at: Option<Time>,
    /// Seller blocklist facts: (time, blocked?).
    #[serde(default)]
    pub blocklist: Vec<(Time, bool)>,
    #[serde(default)]
    pub disputes: Vec<DisputeId>,
}

impl Pair {
    pub fn new(seller: SellerId, creator: CreatorId) -> Self {
        Self {
            id: (seller, creator),
            partnership: Vec::new(),
            paused_at: None,
            blocklist: Vec::new(),
            disputes: Vec::new(),
        }
    }

    pub fn paused_by(&self, t: Time) -> bool {
        self.paused_at.is_some_and(|p| p <= t)
    }

    pub fn partnership_rate_at(&self, t: Time) -> Option<Rate> {
        self.partnership_at(t).map(|(_, rate)| rate)
    }

    /// The partnership in force at `t`: since when, and its rate.
    pub fn partnership_at(&self, t: Time) -> Option<(Time, Rate)> {
        self.partnership.iter().rev().find(|(at, _)| *at <= t).copied()
    }

    /// J2: whether the seller's blocklist keeps the creator out of a campaign
    /// submitted at `submitted_at`, for a join at `t`. A block counts for
    /// every later join; an unblock only frees campaigns submitted after it.
    pub fn blocks_join(&self, submitted_at: Time, t: Time) -> bool {
        let mut blocked = false;
        for (at, is_block) in self.blocklist.iter().take_while(|(at, _)| *at <= t) {
            if *is_block {
                blocked = true;
            } else if submitted_at > *at {
                blocked = false;
            }
        }
        blocked
    }
}

/// A dispute between a seller and a creator (V4); either side may arrive first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dispute {
    pub id: DisputeId,
    #[serde(default)]
    pub opened: Option<(Time, SellerId, CreatorId)>,
    #[serde(default)]
    pub resolved: Option<(Time, Vec<OrderId>)>,
}

impl Dispute {
    pub fn new(id: DisputeId) -> Self {
        Self {
            id,
            opened: None,
            resolved: None,
        }
    }

    /// Open at `t`: opened at or before `t` and not resolved by then.
    pub fn open_at(&self, t: Time) -> bool {
        self.opened.as_ref().is_some_and(|(o, ..)| *o <= t) && self.resolved.as_ref().is_none_or(|(r, _)| *r > t)
    }
}
