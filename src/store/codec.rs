//! How aggregates are stored in the `state` table: the key column, the JSON
//! body, and the indexed columns that answer the rules' queries
//! ([`Query`]) in SQL.

use chrono::{DateTime, Utc};

use crate::domain::model::{Doc, Key, TimerKey};
use crate::domain::workspace::Query;
use crate::wire::values::{
    CampaignId, ContentId, CreatorId, DisputeId, OrderId, ProductId, RefundableId, RequestId, SellerId,
};

/// How an aggregate id is written in the `state.key` column.
trait IdCodec: Sized {
    fn encode(&self) -> String;
    fn decode(raw: &str) -> Option<Self>;
}

macro_rules! string_id_codec {
    ($($t:ty),*) => {$(
        impl IdCodec for $t {
            fn encode(&self) -> String {
                self.as_str().to_owned()
            }
            fn decode(raw: &str) -> Option<Self> {
                Self::try_from(raw.to_owned()).ok()
            }
        }
    )*};
}
string_id_codec!(
    ProductId,
    CreatorId,
    OrderId,
    ContentId,
    SellerId,
    CampaignId,
    RequestId,
    RefundableId,
    DisputeId
);

/// Composite ids are written as JSON arrays, which cannot collide with each
/// other whatever characters the producers put in their ids.
macro_rules! json_id_codec {
    ($($t:ty),*) => {$(
        impl IdCodec for $t {
            fn encode(&self) -> String {
                serde_json::to_string(self).unwrap_or_default()
            }
            fn decode(raw: &str) -> Option<Self> {
                serde_json::from_str(raw).ok()
            }
        }
    )*};
}
json_id_codec!((SellerId, CreatorId), (CampaignId, CreatorId), TimerKey);

impl IdCodec for () {
    fn encode(&self) -> String {
        "singleton".to_owned()
    }
    fn decode(_: &str) -> Option<Self> {
        Some(())
    }
}

/// Encoding and decoding of keys and documents, one arm per aggregate.
macro_rules! codec {
    ($($agg:ident: $kind:literal => $id:ty),* $(,)?) => {
        /// The `state.key` column of a key.
        pub fn encode_key(key: &Key) -> String {
            match key {
                $(Key::$agg(id) => id.encode()),*
            }
        }

        /// The key stored as (`kind`, `key`).
        pub fn decode_key(kind: &str, raw: &str) -> Option<Key> {
            match kind {
                $($kind => <$id as IdCodec>::decode(raw).map(Key::$agg),)*
                _ => None,
            }
        }

        /// Reads a stored body; `kind` decides its type.
        pub fn decode_doc(kind: &str, body: &str) -> Result<Doc, String> {
            use crate::domain::model::*;
            match kind {
                $($kind => serde_json::from_str::<$agg>(body)
                    .map(|a| Doc::$agg(std::sync::Arc::new(a)))
                    .map_err(|e| e.to_string()),)*
                other => Err(format!("unknown aggregate kind {other:?}")),
            }
        }

        /// The stored body: the aggregate as JSON text.
        pub fn encode_doc(doc: &Doc) -> String {
            let text = match doc {
                $(Doc::$agg(a) => serde_json::to_string(&**a)),*
            };
            // Aggregates are plain data with string map keys: serialization cannot fail.
            text.unwrap_or_default()
        }
    };
}

crate::domain::model::for_each_aggregate!(codec);

/// Columns the store indexes so that a [`Query`] can find aggregates by
/// something other than their id. They must agree with
/// [`Query::matches`] (a test checks it).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IndexColumns {
    pub campaign_id: Option<String>,
    pub creator_id: Option<String>,
    pub product_id: Option<String>,
    pub pending: bool,
    pub due_at: Option<DateTime<Utc>>,
    /// An order's business time (when it was paid).
    pub occurred_at: Option<DateTime<Utc>>,
    /// An order's or a pair's seller (explanations: totals by seller).
    pub seller_id: Option<String>,
    /// An order's currency.
    pub currency: Option<String>,
    /// A pending commission's amount plus shop-ads amount (explanations:
    /// a creator's pending totals without reading the documents).
    pub pending_amount: Option<String>,
}

pub fn index(doc: &Doc) -> IndexColumns {
    match doc {
        Doc::Order(o) => match &o.paid {
            Some(paid) => IndexColumns {
                campaign_id: None,
                creator_id: paid.creator_id.as_ref().map(|c| c.as_str().to_owned()),
                product_id: Some(paid.product_id.as_str().to_owned()),
                pending: o.pending().is_some(),
                due_at: None,
                occurred_at: Some(paid.time),
                seller_id: Some(paid.seller_id.as_str().to_owned()),
                currency: Some(paid.currency.as_str().to_owned()),
                pending_amount: o.pending().map(|c| c.total().to_string()),
            },
            None => IndexColumns::default(),
        },
        Doc::Timer(t) => IndexColumns {
            due_at: Some(t.due_at),
            ..IndexColumns::default()
        },
        Doc::Pair(p) => IndexColumns {
            seller_id: Some(p.id.0.as_str().to_owned()),
            creator_id: Some(p.id.1.as_str().to_owned()),
            ..IndexColumns::default()
        },
        Doc::Participation(p) => IndexColumns {
            campaign_id: Some(p.id.0.as_str().to_owned()),
            creator_id: Some(p.id.1.as_str().to_owned()),
            ..IndexColumns::default()
        },
        _ => IndexColumns::default(),
    }
}

/// The condition on `state` that answers a query from the indexed columns,
/// with `{1}`, `{2}` where its parameters go, and the parameters.
pub fn query_condition(query: &Query) -> (&'static str, Vec<QueryParam>) {
    use QueryParam::{Text, Time};
    match query {
        Query::PendingOrdersOf(creator) => (
            "kind = 'order' AND pending AND creator_id = {1}",
            vec![Text(creator.as_str().to_owned())],
        ),
        Query::OrdersOfCreatorProductIn(creator, product, start, end) => (
            "kind = 'order' AND creator_id = {1} AND occurred_at >= {2} AND occurred_at < {3} AND product_id = {4}",
            vec![
                Text(creator.as_str().to_owned()),
                Time(*start),
                Time(*end),
                Text(product.as_str().to_owned()),
            ],
        ),
        Query::ParticipationsOf(campaign) => (
            "kind = 'participation' AND campaign_id = {1}",
            vec![Text(campaign.as_str().to_owned())],
        ),
        Query::TimersDue(now) => ("kind = 'timer' AND due_at <= {1}", vec![Time(*now)]),
        Query::PendingOrdersOfCreatorSince(creator, since) => (
            "kind = 'order' AND pending AND creator_id = {1} AND occurred_at >= {2}",
            vec![Text(creator.as_str().to_owned()), Time(*since)],
        ),
        Query::PendingOrdersOfProductSince(product, Some(since)) => (
            "kind = 'order' AND pending AND product_id = {1} AND occurred_at >= {2}",
            vec![Text(product.as_str().to_owned()), Time(*since)],
        ),
        Query::PendingOrdersOfProductSince(product, None) => (
            "kind = 'order' AND pending AND product_id = {1}",
            vec![Text(product.as_str().to_owned())],
        ),
    }
}

/// One parameter of a query's condition.
pub enum QueryParam {
    Text(String),
    Time(DateTime<Utc>),
}

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;

    use super::*;
    use crate::domain::model::{
        Aggregate, Commission, CommissionState, Order, OrderFact, PaidOrder, Participation, Timer,
    };
    use crate::wire::events::OrderChannel;
    use crate::wire::outcomes::{ParticipationStatus, RateSource};
    use crate::wire::values::{Currency, Rate};

    fn paid(creator: Option<&str>, product: &str) -> PaidOrder {
        PaidOrder {
            time: DateTime::<Utc>::UNIX_EPOCH,
            seller_id: SellerId::from("s"),
            product_id: ProductId::from(product),
            creator_id: creator.map(CreatorId::from),
            content_id: None,
            channel: OrderChannel::Video,
            via_shop_ads: false,
            quantity: 1,
            amount: Decimal::TEN,
            currency: Currency::from("USD"),
        }
    }

    fn commission(state: CommissionState) -> Commission {
        Commission {
            id: "k".into(),
            rate: Rate::ZERO,
            source: RateSource::None,
            campaign_id: None,
            shop_ads_rate: Rate::ZERO,
            amount: Decimal::ZERO,
            shop_ads_amount: Decimal::ZERO,
            state,
            held_by: Default::default(),
            paid_out: Decimal::ZERO,
        }
    }

    #[test]
    fn stored_documents_leave_empty_fields_out_and_read_back_the_same() {
        let mut order = Order::new(OrderId::from("o1"));
        let doc = order.clone().into_doc();
        let text = encode_doc(&doc);
        assert_eq!(text, r#"{"id":"o1"}"#);
        assert_eq!(decode_doc("order", &text), Ok(doc));

        order.refunded = Decimal::new(150, 2);
        order.early_facts.push(OrderFact::Settled {
            time: DateTime::<Utc>::UNIX_EPOCH,
        });
        order.awaiting_product = true;
        let doc = order.into_doc();
        assert_eq!(decode_doc("order", &encode_doc(&doc)), Ok(doc));
    }

    #[test]
    fn every_kind_of_aggregate_has_a_codec() {
        for kind in Key::KINDS {
            let decoded = decode_doc(kind, "{}");
            assert!(
                !decoded.as_ref().is_err_and(|e| e.starts_with("unknown aggregate kind")),
                "{kind}: {decoded:?}"
            );
        }
    }

    #[test]
    fn keys_encode_and_decode_whatever_the_ids_contain() {
        for key in [
            Key::Order(OrderId::from("o/1 \"x\"")),
            Key::Pair((SellerId::from("s,1"), CreatorId::from("c\u{1f}1"))),
            Key::Timer(TimerKey::TaxReport(SellerId::from("s"), "2026-01".into())),
            Key::Clock(()),
        ] {
            assert_eq!(decode_key(key.kind(), &encode_key(&key)), Some(key));
        }
    }

    /// The columns the SQL reads say what `Query::matches` says.
    #[test]
    fn indexed_columns_agree_with_the_query_predicates() {
        let mut docs = Vec::new();
        for state in [
            None,
            Some(CommissionState::Pending),
            Some(CommissionState::Payable),
            Some(CommissionState::Closed),
        ] {
            for creator in [None, Some("c1"), Some("c2")] {
                for product in ["p1", "p2"] {
                    let mut order = Order::new(OrderId::from("o"));
                    order.paid = Some(paid(creator, product));
                    order.commission = state.map(commission);
                    docs.push(order.into_doc());
                }
            }
        }
        docs.push(Order::new(OrderId::from("unpaid")).into_doc());
        for due in [0, 100] {
            docs.push(
                Timer {
                    id: TimerKey::Start(CampaignId::from("k")),
                    due_at: DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::seconds(due),
                }
                .into_doc(),
            );
        }
        for campaign in ["k1", "k2"] {
            docs.push(
                Participation {
                    id: (CampaignId::from(campaign), CreatorId::from("c1")),
                    seller_id: SellerId::from("s"),
                    joined_at: DateTime::<Utc>::UNIX_EPOCH,
                    status: ParticipationStatus::Unfinished,
                    orders: Default::default(),
                    contents: Default::default(),
                    finished_at: None,
                    samples_approved: 0,
                    sample_delivered: false,
                    reward: None,
                }
                .into_doc(),
            );
        }
        let queries = [
            Query::PendingOrdersOf(CreatorId::from("c1")),
            Query::OrdersOfCreatorProductIn(
                CreatorId::from("c1"),
                ProductId::from("p1"),
                DateTime::<Utc>::UNIX_EPOCH,
                DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::days(60),
            ),
            Query::OrdersOfCreatorProductIn(
                CreatorId::from("c1"),
                ProductId::from("p1"),
                DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::seconds(1),
                DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::days(60),
            ),
            Query::OrdersOfCreatorProductIn(
                CreatorId::from("c1"),
                ProductId::from("p1"),
                DateTime::<Utc>::UNIX_EPOCH - chrono::Duration::days(1),
                DateTime::<Utc>::UNIX_EPOCH,
            ),
            Query::TimersDue(DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::seconds(50)),
            Query::ParticipationsOf(CampaignId::from("k1")),
            Query::PendingOrdersOfCreatorSince(CreatorId::from("c1"), DateTime::<Utc>::UNIX_EPOCH),
            Query::PendingOrdersOfCreatorSince(
                CreatorId::from("c1"),
                DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::seconds(1),
            ),
            Query::PendingOrdersOfProductSince(ProductId::from("p1"), None),
            Query::PendingOrdersOfProductSince(ProductId::from("p1"), Some(DateTime::<Utc>::UNIX_EPOCH)),
        ];
        for doc in &docs {
            let columns = index(doc);
            for query in &queries {
                let by_columns = doc.kind() == query.kind()
                    && match query {
                        Query::PendingOrdersOf(c) => {
                            columns.pending && columns.creator_id.as_deref() == Some(c.as_str())
                        }
                        Query::OrdersOfCreatorProductIn(c, p, start, end) => {
                            columns.creator_id.as_deref() == Some(c.as_str())
                                && columns.product_id.as_deref() == Some(p.as_str())
                                && columns.occurred_at.is_some_and(|t| t >= *start && t < *end)
                        }
                        Query::TimersDue(now) => columns.due_at.is_some_and(|d| d <= *now),
                        Query::ParticipationsOf(k) => columns.campaign_id.as_deref() == Some(k.as_str()),
                        Query::PendingOrdersOfCreatorSince(c, since) => {
                            columns.pending
                                && columns.creator_id.as_deref() == Some(c.as_str())
                                && columns.occurred_at.is_some_and(|t| t >= *since)
                        }
                        Query::PendingOrdersOfProductSince(p, since) => {
                            columns.pending
                                && columns.product_id.as_deref() == Some(p.as_str())
                                && columns
                                    .occurred_at
                                    .is_some_and(|t| since.is_none_or(|since| t >= since))
                        }
                    };
                assert_eq!(by_columns, query.matches(doc), "{query:?} on {doc:?}");
            }
        }
    }
}
