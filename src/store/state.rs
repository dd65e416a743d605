//! The `state` table seen by one batch: an [`Overlay`] of the aggregates the
//! rules read (loaded on demand) and wrote (flushed at commit).

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Row};

use super::StoreError;
use super::cache::DocCache;
use crate::domain::state::{Doc, Key, Lookup, Miss, Missing, Query};

/// Keys come from producers' ids: a keyed hash (DoS-resistant), but a fast one.
type HashMap<K, V> = std::collections::HashMap<K, V, ahash::RandomState>;

/// Aggregates of one batch, over the process's cache: loaded from the table
/// (`Some`/`None` = exists or not) or changed by the rules, plus the answers
/// of the queries run.
pub struct Overlay<'c> {
    cache: &'c DocCache,
    docs: HashMap<Key, Option<Doc>>,
    dirty: BTreeSet<Key>,
    /// Read from the table in this batch (the cache has not seen them).
    fetched: Vec<Key>,
    queries: HashMap<Query, Vec<Key>>,
}

impl Lookup for Overlay<'_> {
    fn doc(&self, key: &Key) -> Result<Option<&Doc>, Miss> {
        self.docs
            .get(key)
            .or_else(|| self.cache.get(key))
            .map(Option::as_ref)
            .ok_or(Miss)
    }

    fn query(&self, query: &Query) -> Result<Vec<Key>, Miss> {
        self.queries.get(query).cloned().ok_or(Miss)
    }

    fn resident(&self, kind: &str) -> Vec<Key> {
        // The cache is committed state: the stored answer covers it.
        self.docs.keys().filter(|k| k.kind() == kind).cloned().collect()
    }
}

fn decode_row(row: &sqlx::postgres::PgRow) -> Result<(Key, Doc), StoreError> {
    let kind: &str = row.try_get("kind")?;
    let key: &str = row.try_get("key")?;
    let body: &str = row.try_get("body")?;
    let decoded = Key::decode(kind, key).ok_or_else(|| StoreError::Corrupt(format!("bad key {kind}/{key}")))?;
    let doc = Doc::from_json_text(kind, body).map_err(|e| StoreError::Corrupt(format!("{kind}/{key}: {e}")))?;
    Ok((decoded, doc))
}

impl<'c> Overlay<'c> {
    pub fn new(cache: &'c DocCache) -> Self {
        Self {
            cache,
            docs: HashMap::default(),
            dirty: BTreeSet::new(),
            fetched: Vec::new(),
            queries: HashMap::default(),
        }
    }

    /// Loads what the rules found missing: keys not yet held, and queries.
    pub async fn resolve(&mut self, conn: &mut PgConnection, missing: &Missing) -> Result<(), StoreError> {
        self.load(conn, &missing.keys).await?;
        for query in &missing.queries {
            self.run_query(conn, query).await?;
        }
        Ok(())
    }

    /// Loads aggregates by key that neither this batch nor the cache holds,
    /// in one statement; absent ones are recorded as such.
    pub async fn load(&mut self, conn: &mut PgConnection, keys: &[Key]) -> Result<(), StoreError> {
        let wanted: Vec<&Key> = keys.iter().filter(|k| !self.holds(k)).collect();
        if wanted.is_empty() {
            return Ok(());
        }
        let kinds: Vec<&str> = wanted.iter().map(|k| k.kind()).collect();
        let encoded: Vec<String> = wanted.iter().map(|k| k.encode()).collect();
        let rows = sqlx::query(
            "SELECT s.kind, s.key, s.body FROM state s \
             JOIN UNNEST($1::text[], $2::text[]) AS w(kind, key) ON s.kind = w.kind AND s.key = w.key",
        )
        .bind(&kinds)
        .bind(&encoded)
        .fetch_all(&mut *conn)
        .await?;
        for key in wanted {
            self.docs.insert(key.clone(), None);
            self.fetched.push(key.clone());
        }
        for row in rows {
            let (key, doc) = decode_row(&row)?;
            self.docs.insert(key, Some(doc));
        }
        Ok(())
    }

    /// Runs a query; documents already held (maybe changed) are kept as they are.
    pub async fn run_query(&mut self, conn: &mut PgConnection, query: &Query) -> Result<(), StoreError> {
        if self.queries.contains_key(query) {
            return Ok(());
        }
        let rows = match query {
            Query::PendingOrdersOf(creator) => {
                sqlx::query("SELECT kind, key, body FROM state WHERE kind = 'order' AND pending AND creator_id = $1")
                    .bind(creator.as_str())
                    .fetch_all(&mut *conn)
                    .await?
            }
            Query::OrdersOfCreatorProduct(creator, product) => {
                sqlx::query(
                    "SELECT kind, key, body FROM state WHERE kind = 'order' AND creator_id = $1 AND product_id = $2",
                )
                .bind(creator.as_str())
                .bind(product.as_str())
                .fetch_all(&mut *conn)
                .await?
            }
            Query::ParticipationsOf(campaign) => {
                sqlx::query("SELECT kind, key, body FROM state WHERE kind = 'participation' AND campaign_id = $1")
                    .bind(campaign.as_str())
                    .fetch_all(&mut *conn)
                    .await?
            }
            Query::TimersDue(now) => {
                sqlx::query("SELECT kind, key, body FROM state WHERE kind = 'timer' AND due_at <= $1")
                    .bind(now)
                    .fetch_all(&mut *conn)
                    .await?
            }
        };
        let mut keys = Vec::with_capacity(rows.len());
        for row in rows {
            let (key, doc) = decode_row(&row)?;
            // What this batch changed, and what the cache holds, is newer
            // than or equal to the stored row.
            if !self.holds(&key) {
                self.docs.insert(key.clone(), Some(doc));
                self.fetched.push(key.clone());
            }
            keys.push(key);
        }
        self.queries.insert(query.clone(), keys);
        Ok(())
    }

    /// Whether the document is known without the table.
    fn holds(&self, key: &Key) -> bool {
        self.docs.contains_key(key) || self.cache.get(key).is_some()
    }

    /// Takes the changes of one applied event.
    pub fn apply(&mut self, changes: impl IntoIterator<Item = (Key, Option<Doc>)>) {
        for (key, doc) in changes {
            self.dirty.insert(key.clone());
            self.docs.insert(key, doc);
        }
    }

    /// What the cache lacks once this batch committed: what it wrote and
    /// what it read from the table (what came from the cache is there).
    pub fn into_docs(mut self) -> Vec<(Key, Option<Doc>)> {
        let keys: BTreeSet<Key> = self.fetched.drain(..).chain(self.dirty.iter().cloned()).collect();
        keys.into_iter()
            .filter_map(|k| self.docs.remove(&k).map(|d| (k, d)))
            .collect()
    }

    /// Every changed aggregate, as column arrays for [`super::commit`].
    pub fn writes(&self) -> StateWrites {
        let mut writes = StateWrites::default();
        for key in &self.dirty {
            match self.docs.get(key) {
                Some(Some(doc)) => writes.upsert(key, doc),
                _ => {
                    writes.delete_kinds.push(key.kind());
                    writes.delete_keys.push(key.encode());
                }
            }
        }
        writes
    }
}

/// The changed aggregates of a batch as column arrays: rows to upsert, keys
/// to delete.
#[derive(Default)]
pub struct StateWrites {
    pub kinds: Vec<&'static str>,
    pub keys: Vec<String>,
    pub bodies: Vec<String>,
    pub campaigns: Vec<Option<String>>,
    pub creators: Vec<Option<String>>,
    pub products: Vec<Option<String>>,
    pub pending: Vec<bool>,
    pub due: Vec<Option<DateTime<Utc>>>,
    pub delete_kinds: Vec<&'static str>,
    pub delete_keys: Vec<String>,
}

impl StateWrites {
    fn upsert(&mut self, key: &Key, doc: &Doc) {
        let index = doc.index();
        self.kinds.push(key.kind());
        self.keys.push(key.encode());
        self.bodies.push(doc.to_json_text());
        self.campaigns.push(index.campaign_id);
        self.creators.push(index.creator_id);
        self.products.push(index.product_id);
        self.pending.push(index.pending);
        self.due.push(index.due_at);
    }
}
