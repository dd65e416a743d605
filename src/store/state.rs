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
    /// First pages of sweeps, loaded with the plan: the keys in sweep order,
    /// and whether that was all of them.
    sweep_pages: HashMap<Query, (Vec<Key>, bool)>,
    /// Written ahead of the commit and let go: the table has them now (this
    /// transaction's), the cache may not.
    written_ahead: ahash::HashSet<Key>,
}

impl Lookup for Overlay<'_> {
    fn doc(&self, key: &Key) -> Option<Option<&Doc>> {
        if let Some(doc) = self.docs.get(key) {
            return Some(doc.as_ref());
        }
        if self.written_ahead.contains(key) {
            return None;
        }
        self.cache.get(key).map(Option::as_ref)
    }

    fn query(&self, query: &Query) -> Option<Vec<Key>> {
        self.queries.get(query).cloned()
    }

    fn resident(&self, kind: &str) -> Vec<Key> {
        // The cache is committed state: the stored answer covers it.
        self.docs.keys().filter(|k| k.kind() == kind).cloned().collect()
    }

    fn sweep_loaded(&self, query: &Query) -> bool {
        self.sweep_pages.contains_key(query)
    }
}

/// A page of a sweep: the keys in sweep order, and whether it was the last.
pub struct SweepPage {
    pub keys: Vec<Key>,
    pub last: bool,
}

fn decode_row(row: &sqlx::postgres::PgRow) -> Result<(Key, Doc), StoreError> {
    let kind: &str = row.try_get("kind")?;
    let key: &str = row.try_get("key")?;
    let body: &str = row.try_get("body")?;
    let decoded = codec::decode_key(kind, key).ok_or_else(|| StoreError::Corrupt(format!("bad key {kind}/{key}")))?;
    let doc = codec::decode_doc(kind, body).map_err(|e| StoreError::Corrupt(format!("{kind}/{key}: {e}")))?;
    Ok((decoded, doc))
}

/// Documents of a sweep read from the table at a time (and decided, and
/// written ahead if many changed, before the next page).
pub const SWEEP_PAGE: usize = 1000;

/// A query's condition with its parameters numbered from `first`.
fn condition(query: &Query, params: &mut Vec<QueryParam>, first: usize) -> String {
    let (condition, query_params) = codec::query_condition(query);
    let mut condition = condition.to_owned();
    for (n, param) in query_params.into_iter().enumerate() {
        let placeholder = match param {
            QueryParam::Text(_) => format!("${}::text", first + params.len()),
            QueryParam::Time(_) => format!("${}::timestamptz", first + params.len()),
        };
        condition = condition.replace(&format!("{{{}}}", n + 1), &placeholder);
        params.push(param);
    }
    condition
}

/// `SELECT` of the keys (`q` = 0), of every query (`q` = its place + 1), and
/// of the first page of every sweep (after the queries), in one statement.
fn load_statement(queries: &[&Query], sweeps: &[&Query]) -> (String, Vec<QueryParam>) {
    let mut sql = String::from(
        "SELECT 0 AS q, s.kind, s.key, s.body FROM state s \
         JOIN UNNEST($1::text[], $2::text[]) AS w(kind, key) ON s.kind = w.kind AND s.key = w.key",
    );
    let mut params = Vec::new();
    for (i, query) in queries.iter().enumerate() {
        let condition = condition(query, &mut params, 3);
        let _infallible = write!(
            sql,
            " UNION ALL (SELECT {} AS q, kind, key, body FROM state WHERE {condition})",
            i + 1
        );
    }
    for (i, sweep) in sweeps.iter().enumerate() {
        let condition = condition(sweep, &mut params, 3);
        let _infallible = write!(
            sql,
            " UNION ALL (SELECT {} AS q, kind, key, body FROM state WHERE {condition} \
             ORDER BY occurred_at, key LIMIT {})",
            queries.len() + i + 1,
            SWEEP_PAGE + 1
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
            sweep_pages: HashMap::default(),
            written_ahead: ahash::HashSet::default(),
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
        let sweeps: Vec<&Query> = missing
            .sweeps
            .iter()
            .filter(|q| !self.sweep_pages.contains_key(q))
            .collect();
        if wanted.is_empty() && queries.is_empty() && sweeps.is_empty() {
            return Ok(());
        }
        let kinds: Vec<&str> = wanted.iter().map(|k| k.kind()).collect();
        let encoded: Vec<String> = wanted.iter().map(|k| codec::encode_key(k)).collect();
        let (sql, params) = load_statement(&queries, &sweeps);
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
        let mut answers: Vec<Vec<Key>> = vec![Vec::new(); queries.len() + sweeps.len()];
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
        let mut sweep_answers = answers.split_off(queries.len());
        for (query, keys) in queries.into_iter().zip(answers) {
            self.queries.insert(query.clone(), keys);
        }
        for (sweep, keys) in sweeps.into_iter().zip(sweep_answers.iter_mut()) {
            let mut keys = std::mem::take(keys);
            // UNION ALL keeps each part's order only as far as the plan
            // does; the sweep order is restored here.
            keys.sort_by_cached_key(|k| (self.position(k), k.clone()));
            let last = keys.len() <= SWEEP_PAGE;
            keys.truncate(SWEEP_PAGE);
            self.sweep_pages.insert(sweep.clone(), (keys, last));
        }
        Ok(())
    }

    /// Where a held document stands in a sweep.
    fn position(&self, key: &Key) -> Option<DateTime<Utc>> {
        self.doc(key).flatten().and_then(Query::sweep_position)
    }

    /// The next page of a sweep over `query` after `after` (its sweep
    /// position and key; the first page if `None`): the stored documents,
    /// with what this batch changed and did not write yet — documents that
    /// no longer answer the query dropped, new ones added — in sweep order.
    pub async fn sweep_page(
        &mut self,
        conn: &mut PgConnection,
        query: &Query,
        after: Option<&(Option<DateTime<Utc>>, Key)>,
    ) -> Result<SweepPage, StoreError> {
        let (stored, last) = match (after, self.sweep_pages.remove(query)) {
            (None, Some(first)) => first,
            _ => self.fetch_page(conn, query, after).await?,
        };
        // The page covers positions after `after` up to its last stored
        // document (everything, if it is the last page).
        let upper: Option<(Option<DateTime<Utc>>, Key)> = if last {
            None
        } else {
            stored.last().map(|k| (self.position(k), k.clone()))
        };
        let in_range = |position: &(Option<DateTime<Utc>>, Key)| {
            after.is_none_or(|a| position > a) && upper.as_ref().is_none_or(|u| position <= u)
        };
        let mut keys: BTreeSet<(Option<DateTime<Utc>>, Key)> = BTreeSet::new();
        for key in stored.into_iter().chain(self.dirty.iter().cloned()) {
            let Some(doc) = self.doc(&key).flatten() else {
                continue;
            };
            if key.kind() == query.kind() && query.matches(doc) {
                let position = (Query::sweep_position(doc), key);
                if in_range(&position) {
                    keys.insert(position);
                }
            }
        }
        Ok(SweepPage {
            keys: keys.into_iter().map(|(_, key)| key).collect(),
            last,
        })
    }

    /// Reads one page of a sweep from the table (its documents are held
    /// from then on, unless already held).
    async fn fetch_page(
        &mut self,
        conn: &mut PgConnection,
        query: &Query,
        after: Option<&(Option<DateTime<Utc>>, Key)>,
    ) -> Result<(Vec<Key>, bool), StoreError> {
        let mut params = Vec::new();
        let condition = condition(query, &mut params, 1);
        let n = params.len();
        let mut sql = format!("SELECT kind, key, body FROM state WHERE {condition}");
        if after.is_some() {
            let _infallible = write!(
                sql,
                " AND (occurred_at, key) > (${}::timestamptz, ${}::text)",
                n + 1,
                n + 2
            );
        }
        let _infallible = write!(sql, " ORDER BY occurred_at, key LIMIT {}", SWEEP_PAGE + 1);
        let mut statement = sqlx::query(sqlx::AssertSqlSafe(sql));
        for param in params {
            statement = match param {
                QueryParam::Text(text) => statement.bind(text),
                QueryParam::Time(time) => statement.bind(time),
            };
        }
        if let Some((position, key)) = after {
            statement = statement.bind(*position).bind(codec::encode_key(key));
        }
        let rows = statement.fetch_all(&mut *conn).await?;
        let last = rows.len() <= SWEEP_PAGE;
        let mut keys = Vec::with_capacity(rows.len());
        for row in rows.iter().take(SWEEP_PAGE) {
            let (key, doc) = decode_row(row)?;
            if !self.holds(&key) {
                self.docs.insert(key.clone(), Some(doc));
                self.fetched.push(key.clone());
            }
            keys.push(key);
        }
        Ok((keys, last))
    }

    /// Changes not yet written, counted: a sweep writes ahead past a bound.
    pub fn unwritten(&self) -> usize {
        self.dirty.len()
    }

    /// Takes every change not yet written, to write ahead of the commit,
    /// and lets go of the documents this batch read or wrote (a great sweep
    /// must not hold them all): later reads go to the table, where this
    /// transaction sees what it wrote.
    pub fn write_ahead(&mut self) -> StateWrites {
        let writes = self.writes();
        for key in std::mem::take(&mut self.dirty) {
            self.written_ahead.insert(key);
        }
        for key in self.fetched.drain(..) {
            self.written_ahead.insert(key);
        }
        self.docs.clear();
        self.queries.clear();
        self.sweep_pages.clear();
        writes
    }

    /// Whether the document is known without the table.
    /// A document written ahead and let go is not held, even if the cache
    /// has it: the cache's copy is older than what this transaction wrote.
    fn holds(&self, key: &Key) -> bool {
        self.docs.contains_key(key) || (!self.written_ahead.contains(key) && self.cache.get(key).is_some())
    }

    /// Takes the changes of one applied event.
    pub fn apply(&mut self, changes: impl IntoIterator<Item = (Key, Option<Doc>)>) {
        for (key, doc) in changes {
            self.dirty.insert(key.clone());
            self.docs.insert(key, doc);
        }
    }

    /// What the cache lacks once this batch committed: what it wrote and
    /// what it read from the table (what came from the cache is there); and
    /// what it wrote ahead and let go, which the cache must forget.
    pub fn into_docs(mut self) -> (Vec<(Key, Option<Doc>)>, Vec<Key>) {
        let keys: BTreeSet<Key> = self.fetched.drain(..).chain(self.dirty.iter().cloned()).collect();
        let docs = keys
            .into_iter()
            .filter_map(|k| self.docs.remove(&k).map(|d| (k, d)))
            .collect();
        let forget = self
            .written_ahead
            .into_iter()
            .filter(|k| !self.docs.contains_key(k))
            .collect();
        (docs, forget)
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
    pub occurred: Vec<Option<DateTime<Utc>>>,
    pub sellers: Vec<Option<String>>,
    pub currencies: Vec<Option<String>>,
    pub pending_amounts: Vec<Option<String>>,
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
        self.occurred.push(index.occurred_at);
        self.sellers.push(index.seller_id);
        self.currencies.push(index.currency);
        self.pending_amounts.push(index.pending_amount);
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
        let (sql, params) = load_statement(&[&pending, &due], &[]);
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
