//! The `state` table seen by one batch: an [`Overlay`] of the aggregates the
//! rules read (loaded in rounds, one statement each) and wrote (flushed at
//! commit).

use std::collections::BTreeSet;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Row};

use super::StoreError;
use super::cache::DocCache;
use super::codec::{self, QueryParam};
use crate::domain::model::{Doc, Key};
use crate::domain::workspace::{Lookup, Missing, Query};

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
    fn doc(&self, key: &Key) -> Option<Option<&Doc>> {
        self.docs.get(key).or_else(|| self.cache.get(key)).map(Option::as_ref)
    }

    fn query(&self, query: &Query) -> Option<Vec<Key>> {
        self.queries.get(query).cloned()
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
    let decoded = codec::decode_key(kind, key).ok_or_else(|| StoreError::Corrupt(format!("bad key {kind}/{key}")))?;
    let doc = codec::decode_doc(kind, body).map_err(|e| StoreError::Corrupt(format!("{kind}/{key}: {e}")))?;
    Ok((decoded, doc))
}

/// `SELECT` of the keys (`q` = 0) and of every query (`q` = its place + 1)
/// in one statement.
fn load_statement(queries: &[&Query]) -> (String, Vec<QueryParam>) {
    let mut sql = String::from(
        "SELECT 0 AS q, s.kind, s.key, s.body FROM state s \
         JOIN UNNEST($1::text[], $2::text[]) AS w(kind, key) ON s.kind = w.kind AND s.key = w.key",
    );
    let mut params = Vec::new();
    for (i, query) in queries.iter().enumerate() {
        let (condition, query_params) = codec::query_condition(query);
        let mut condition = condition.to_owned();
        for (n, param) in query_params.into_iter().enumerate() {
            let placeholder = match param {
                QueryParam::Text(_) => format!("${}::text", 3 + params.len()),
                QueryParam::Time(_) => format!("${}::timestamptz", 3 + params.len()),
            };
            condition = condition.replace(&format!("{{{}}}", n + 1), &placeholder);
            params.push(param);
        }
        let _infallible = write!(
            sql,
            " UNION ALL (SELECT {} AS q, kind, key, body FROM state WHERE {condition})",
            i + 1
        );
    }
    (sql, params)
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

    /// Loads what is missing — aggregates not yet held, queries not yet
    /// answered — in one statement. Absent aggregates are recorded as such;
    /// documents already held (maybe changed) are kept as they are.
    pub async fn load(&mut self, conn: &mut PgConnection, missing: &Missing) -> Result<(), StoreError> {
        let wanted: Vec<&Key> = missing.keys.iter().filter(|k| !self.holds(k)).collect();
        let queries: Vec<&Query> = missing
            .queries
            .iter()
            .filter(|q| !self.queries.contains_key(q))
            .collect();
        if wanted.is_empty() && queries.is_empty() {
            return Ok(());
        }
        let kinds: Vec<&str> = wanted.iter().map(|k| k.kind()).collect();
        let encoded: Vec<String> = wanted.iter().map(|k| codec::encode_key(k)).collect();
        let (sql, params) = load_statement(&queries);
        let mut statement = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(&kinds).bind(&encoded);
        for param in params {
            statement = match param {
                QueryParam::Text(text) => statement.bind(text),
                QueryParam::Time(time) => statement.bind(time),
            };
        }
        let rows = statement.fetch_all(&mut *conn).await?;
        for key in wanted {
            self.docs.insert(key.clone(), None);
            self.fetched.push(key.clone());
        }
        let mut answers: Vec<Vec<Key>> = vec![Vec::new(); queries.len()];
        for row in rows {
            let q: i32 = row.try_get("q")?;
            let (key, doc) = decode_row(&row)?;
            let loaded_now = q == 0 || !self.holds(&key);
            if loaded_now {
                // What this batch changed, and what the cache holds, is
                // newer than or equal to the stored row.
                self.docs.insert(key.clone(), Some(doc));
            }
            if q > 0 {
                if loaded_now {
                    self.fetched.push(key.clone());
                }
                if let Some(answer) = usize::try_from(q - 1).ok().and_then(|i| answers.get_mut(i)) {
                    answer.push(key);
                }
            }
        }
        for (query, keys) in queries.into_iter().zip(answers) {
            self.queries.insert(query.clone(), keys);
        }
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
                    writes.delete_keys.push(codec::encode_key(key));
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
        let index = codec::index(doc);
        self.kinds.push(key.kind());
        self.keys.push(codec::encode_key(key));
        self.bodies.push(codec::encode_doc(doc));
        self.campaigns.push(index.campaign_id);
        self.creators.push(index.creator_id);
        self.products.push(index.product_id);
        self.pending.push(index.pending);
        self.due.push(index.due_at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::values::CreatorId;

    #[test]
    fn keys_and_queries_load_in_one_statement() {
        let pending = Query::PendingOrdersOf(CreatorId::from("c"));
        let due = Query::TimersDue(DateTime::<Utc>::UNIX_EPOCH);
        let (sql, params) = load_statement(&[&pending, &due]);
        assert_eq!(params.len(), 2);
        assert!(
            sql.contains(
                "1 AS q, kind, key, body FROM state WHERE kind = 'order' AND pending AND creator_id = $3::text"
            ),
            "{sql}"
        );
        assert!(
            sql.contains("2 AS q, kind, key, body FROM state WHERE kind = 'timer' AND due_at <= $4::timestamptz"),
            "{sql}"
        );
    }
}
