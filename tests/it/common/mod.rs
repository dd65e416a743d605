//! Test harness: each test gets a fresh RabbitMQ vhost and a fresh
//! PostgreSQL database, and runs the real `collab-worker` binary against
//! them. A spy queue bound to `collab.outcomes` records every outcome.

// Test plumbing is best effort (teardown, probes): ignoring some results is deliberate.
#![allow(dead_code, let_underscore_drop, clippy::let_underscore_must_use)]

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions,
    ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};
use serde_json::{Value, json};
use sqlx::{Connection as _, PgConnection};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};
use tokio::sync::Notify;

pub use collab_worker::testkit::{Ev, events};

pub const PG_SERVER: &str = "postgres://postgres@127.0.0.1:5432";
/// The broker tests use, without a vhost: `CW_TEST_AMQP_SERVER`, by
/// default the local RabbitMQ. With `CW_TEST_RABBITMQ_NODE` naming its
/// node for `rabbitmqctl`, tests that restart the node can run against a
/// second, private node while other tests use the shared one.
pub fn amqp_server() -> String {
    std::env::var("CW_TEST_AMQP_SERVER").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672".into())
}

/// The AMQP port of the test broker.
pub fn amqp_port() -> u16 {
    amqp_server()
        .rsplit(':')
        .next()
        .and_then(|port| port.trim_end_matches('/').parse().ok())
        .unwrap_or(5672)
}

/// `rabbitmqctl` for the test broker's node.
pub fn rabbitmqctl_command() -> std::process::Command {
    let mut command = std::process::Command::new("rabbitmqctl");
    if let Ok(node) = std::env::var("CW_TEST_RABBITMQ_NODE") {
        command.args(["-n", &node]);
    }
    command
}
pub const SPY_QUEUE: &str = "test.spy";
pub const WAIT: Duration = Duration::from_secs(30);

pub fn rabbitmqctl(args: &[&str]) {
    let status = rabbitmqctl_command()
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    assert!(
        status.is_ok_and(|s| s.success()),
        "rabbitmqctl {args:?} failed; is RabbitMQ running?"
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A CloudEvent as upstream systems publish it.
pub fn event(id: &str, type_name: &str, time: &str, data: Value) -> Value {
    events::cloudevent(id, "/tests", type_name, time, data)
}

/// Outcomes received by the spy queue, in arrival order.
#[derive(Clone, Default)]
pub struct Outcomes {
    seen: Arc<Mutex<Vec<Value>>>,
    arrived: Arc<Notify>,
}

impl Outcomes {
    pub fn all(&self) -> Vec<Value> {
        self.seen.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// Distinct outcomes (by id; a relay crash may publish one twice).
    pub fn distinct(&self) -> Vec<Value> {
        let mut ids = HashSet::new();
        self.all()
            .into_iter()
            .filter(|o| ids.insert(o["id"].to_string()))
            .collect()
    }

    /// How many distinct outcomes arrived, without copying them.
    pub fn distinct_count(&self) -> usize {
        let Ok(seen) = self.seen.lock() else { return 0 };
        seen.iter()
            .filter_map(|o| o["id"].as_str())
            .collect::<HashSet<_>>()
            .len()
    }

    pub fn of_type(&self, type_name: &str) -> Vec<Value> {
        self.distinct().into_iter().filter(|o| o["type"] == type_name).collect()
    }

    /// Waits until `done` holds for the outcomes seen so far.
    pub async fn wait_until(&self, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + WAIT;
        loop {
            let notified = self.arrived.notified();
            let now = self.distinct();
            if done(&now) {
                return now;
            }
            if Instant::now() > deadline {
                let types: Vec<_> = now
                    .iter()
                    .map(|o| o["type"].as_str().unwrap_or("?").to_owned())
                    .collect();
                panic!("timed out waiting for {what}; outcomes so far: {types:?}");
            }
            let _ = tokio::time::timeout(Duration::from_millis(200), notified).await;
        }
    }

    /// Waits for the first outcome of a type matching `pred` and returns its data.
    pub async fn wait_for(&self, type_name: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let found = self
            .wait_until(type_name, |all| {
                all.iter().any(|o| o["type"] == type_name && pred(&o["data"]))
            })
            .await;
        found
            .into_iter()
            .find(|o| o["type"] == type_name && pred(&o["data"]))
            .map(|o| o["data"].clone())
            .unwrap_or(Value::Null)
    }

    /// Waits for `count` outcomes of a type.
    pub async fn wait_count(&self, type_name: &str, count: usize) -> Vec<Value> {
        self.wait_until(&format!("{count} × {type_name}"), |all| {
            all.iter().filter(|o| o["type"] == type_name).count() >= count
        })
        .await;
        self.of_type(type_name)
    }

    /// Data of every outcome, once nothing new arrived for `quiet`.
    pub async fn settle(&self, quiet: Duration) -> Vec<Value> {
        let mut last = usize::MAX;
        loop {
            let n = self.all().len();
            if n == last {
                return self.distinct();
            }
            last = n;
            tokio::time::sleep(quiet).await;
        }
    }
}

/// A running worker process.
pub struct Worker {
    child: Child,
    pub http_port: u16,
}

impl Worker {
    /// SIGTERM; returns the exit code.
    pub async fn stop(mut self) -> Option<i32> {
        let pid = self.child.id()?;
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .ok()?
            .ok()?;
        status.code()
    }
}

pub struct TestEnv {
    pub name: String,
    pub amqp_url: String,
    pub database_url: String,
    pub outcomes: Outcomes,
    pub worker: Option<Worker>,
    /// Extra environment for the worker (e.g. rule settings).
    pub worker_env: Vec<(String, String)>,
    publisher: Mutex<Option<(Connection, Channel)>>,
    spy: tokio::task::JoinHandle<()>,
}

impl TestEnv {
    /// A fresh vhost and database, the spy queue, and a ready worker.
    pub async fn start() -> TestEnv {
        Self::start_with(Vec::new()).await
    }

    pub async fn start_with(worker_env: Vec<(&str, &str)>) -> TestEnv {
        let env = Self::prepare(worker_env).await;
        env.with_worker().await
    }

    /// A fresh vhost and database and the spy queue, no worker yet.
    pub async fn prepare(worker_env: Vec<(&str, &str)>) -> TestEnv {
        let name = format!("cw_{}", uuid::Uuid::new_v4().simple());
        let vhost = name.clone();
        tokio::task::spawn_blocking(move || {
            rabbitmqctl(&["add_vhost", &vhost]);
            rabbitmqctl(&["set_permissions", "-p", &vhost, "guest", ".*", ".*", ".*"]);
        })
        .await
        .expect("vhost set-up");
        let amqp_url = format!("{}/{name}", amqp_server());
        let database_url = format!("{PG_SERVER}/{name}");
        let outcomes = Outcomes::default();
        declare_spy(&amqp_url).await;
        let spy = tokio::spawn(run_spy(amqp_url.clone(), outcomes.clone()));
        TestEnv {
            name,
            amqp_url,
            database_url,
            outcomes,
            worker: None,
            worker_env: worker_env
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            publisher: Mutex::new(None),
            spy,
        }
    }

    pub async fn with_worker(mut self) -> TestEnv {
        self.worker = Some(self.spawn_worker().await);
        self
    }

    fn log_path(&self, n: usize) -> PathBuf {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("worker-logs");
        let _ = std::fs::create_dir_all(&dir);
        dir.join(format!("{}-{n}.log", self.name))
    }

    /// What the first worker of this test wrote to its log so far.
    pub fn worker_log(&self) -> String {
        std::fs::read_to_string(self.log_path(0)).unwrap_or_default()
    }

    /// Starts a worker process and waits until `/readyz` says 200.
    pub async fn spawn_worker(&self) -> Worker {
        let http_port = free_port();
        let n = std::fs::read_dir(self.log_path(0).parent().expect("log dir"))
            .map(|d| {
                d.filter(|e| {
                    e.as_ref()
                        .is_ok_and(|e| e.file_name().to_string_lossy().starts_with(&self.name))
                })
                .count()
            })
            .unwrap_or(0);
        let log = std::fs::File::create(self.log_path(n)).expect("worker log file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_collab-worker"));
        command
            .arg("run")
            .env("DATABASE_URL", &self.database_url)
            .env("AMQP_URL", &self.amqp_url)
            .env("HTTP_ADDR", format!("127.0.0.1:{http_port}"))
            .env("COLLAB_CONFIG_DIR", concat!(env!("CARGO_MANIFEST_DIR"), "/config"))
            .env(
                "RUST_LOG",
                std::env::var("WORKER_LOG").unwrap_or_else(|_| "info".into()),
            )
            .env_remove("COLLAB_ENV")
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .kill_on_drop(true);
        for (k, v) in &self.worker_env {
            command.env(k, v);
        }
        let child = command.spawn().expect("spawn collab-worker");
        let worker = Worker { child, http_port };
        wait_ready(http_port).await;
        worker
    }

    pub fn port(&self) -> u16 {
        self.worker.as_ref().map(|w| w.http_port).unwrap_or(0)
    }

    /// SIGKILL: no chance to finish anything.
    pub async fn kill_worker(&mut self) {
        if let Some(mut worker) = self.worker.take() {
            let _ = worker.child.start_kill();
            let _ = worker.child.wait().await;
        }
    }

    /// SIGTERM; returns the exit code.
    pub async fn stop_worker(&mut self) -> Option<i32> {
        self.worker.take()?.stop().await
    }

    pub async fn restart_worker(&mut self) {
        self.worker = Some(self.spawn_worker().await);
    }

    async fn channel(&self) -> Channel {
        if let Some((conn, ch)) = self.publisher.lock().expect("publisher lock").as_ref()
            && conn.status().connected()
            && ch.status().connected()
        {
            return ch.clone();
        }
        let conn = Connection::connect(&self.amqp_url, ConnectionProperties::default())
            .await
            .expect("test connection");
        let ch = conn.create_channel().await.expect("test channel");
        ch.confirm_select(ConfirmSelectOptions::default())
            .await
            .expect("confirms");
        *self.publisher.lock().expect("publisher lock") = Some((conn, ch.clone()));
        ch
    }

    /// Publishes bytes to `collab.events` and waits for the broker's confirm,
    /// reconnecting if the connection was closed under it.
    pub async fn publish_raw(&self, routing_key: &str, body: &[u8], message_id: Option<&str>) {
        for _ in 0..50 {
            let ch = self.channel().await;
            let mut props = BasicProperties::default()
                .with_content_type("application/cloudevents+json".into())
                .with_delivery_mode(2);
            if let Some(id) = message_id {
                props = props.with_message_id(id.into());
            }
            let result = async {
                ch.basic_publish(
                    "collab.events".into(),
                    routing_key.into(),
                    BasicPublishOptions::default(),
                    body,
                    props,
                )
                .await?
                .await
            }
            .await;
            match result {
                Ok(confirm) if confirm.is_ack() => return,
                _ => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
        panic!("could not publish to {routing_key}");
    }

    /// Publishes many events pipelined (confirms awaited together): a
    /// backlog builds up faster than the worker drains it.
    pub async fn publish_many(&self, events: &[Value]) {
        let ch = self.channel().await;
        let mut confirms = Vec::with_capacity(events.len());
        for event in events {
            let body = serde_json::to_vec(event).expect("json");
            let props = BasicProperties::default()
                .with_content_type("application/cloudevents+json".into())
                .with_delivery_mode(2)
                .with_message_id(event["id"].as_str().unwrap_or_default().into());
            let confirm = ch
                .basic_publish(
                    "collab.events".into(),
                    event["type"].as_str().unwrap_or("unknown").into(),
                    BasicPublishOptions::default(),
                    &body,
                    props,
                )
                .await
                .expect("publish");
            confirms.push(confirm);
        }
        for confirm in confirms {
            assert!(confirm.await.expect("confirm").is_ack(), "the broker refused an event");
        }
    }

    pub async fn publish(&self, event: &Value) {
        let routing_key = event["type"].as_str().unwrap_or("unknown").to_owned();
        let body = serde_json::to_vec(event).expect("json");
        self.publish_raw(&routing_key, &body, event["id"].as_str()).await;
    }

    /// Publishes an event built from its parts.
    pub async fn send(&self, id: &str, type_name: &str, time: &str, data: Value) {
        self.publish(&event(id, type_name, time, data)).await;
    }

    /// Takes every message from the dead-letter queue (acking them).
    pub async fn drain_dlq(&self) -> Vec<(FieldTable, Vec<u8>)> {
        let ch = self.channel().await;
        let mut out = Vec::new();
        while let Ok(Some(msg)) = ch
            .basic_get("collab.events.dlq".into(), BasicGetOptions::default())
            .await
        {
            let headers = msg.delivery.properties.headers().clone().unwrap_or_default();
            out.push((headers, msg.delivery.data.clone()));
            let _ = msg.delivery.acker.ack(BasicAckOptions::default()).await;
        }
        out
    }

    /// Waits for `count` dead letters and returns them.
    pub async fn wait_dlq(&self, count: usize) -> Vec<(FieldTable, Vec<u8>)> {
        let deadline = Instant::now() + WAIT;
        let mut got = Vec::new();
        while got.len() < count {
            got.extend(self.drain_dlq().await);
            if got.len() >= count {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {count} dead letters, got {}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        got
    }

    /// Messages waiting in the dead-letter queue (without taking them).
    pub async fn dlq_depth(&self) -> u32 {
        self.queue_state("collab.events.dlq").await.0
    }

    /// Ready messages and consumers of a queue (0, 0 if it does not exist).
    pub async fn queue_state(&self, queue: &str) -> (u32, u32) {
        let ch = self.channel().await;
        ch.queue_declare(
            queue.into(),
            QueueDeclareOptions {
                passive: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .map(|q| (q.message_count(), q.consumer_count()))
        .unwrap_or((0, 0))
    }

    /// The DLQ depth once it reaches `expected`, or what it is at the
    /// deadline. Messages a CLI held come back when its connection closes,
    /// which the broker finishes after the CLI has exited.
    pub async fn dlq_depth_settled(&self, expected: u32) -> u32 {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let depth = self.dlq_depth().await;
            if depth == expected || Instant::now() >= deadline {
                return depth;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn wait_dlq_depth(&self, depth: u32) {
        let deadline = Instant::now() + WAIT;
        while self.dlq_depth().await < depth {
            assert!(Instant::now() < deadline, "timed out waiting for {depth} dead letters");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Runs a `collab-worker` command against this test's broker and database.
    pub async fn cli(&self, args: &[&str]) -> (i32, String, String) {
        let output = Command::new(env!("CARGO_BIN_EXE_collab-worker"))
            .args(args)
            .env("DATABASE_URL", &self.database_url)
            .env("AMQP_URL", &self.amqp_url)
            .env("COLLAB_CONFIG_DIR", concat!(env!("CARGO_MANIFEST_DIR"), "/config"))
            .env("RUST_LOG", "warn")
            .env_remove("COLLAB_ENV")
            .stdin(Stdio::null())
            .output()
            .await
            .expect("run collab-worker");
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    pub async fn db(&self) -> PgConnection {
        PgConnection::connect(&self.database_url).await.expect("database")
    }

    pub async fn scalar_i64(&self, sql: &'static str) -> i64 {
        let mut db = self.db().await;
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(&mut db)
            .await
            .expect("query")
    }

    /// From now on PostgreSQL refuses to store any event whose id is LIKE
    /// `pattern`, with `error` (a trigger on the inbox): a poison event.
    pub async fn refuse_events(&self, pattern: &str, error: &str) {
        let mut db = self.db().await;
        let sql = format!(
            "CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN RAISE EXCEPTION '{error}'; END $$; \
             CREATE TRIGGER poison BEFORE INSERT ON inbox FOR EACH ROW \
             WHEN (NEW.event_id LIKE '{pattern}') EXECUTE FUNCTION poison();"
        );
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut db)
            .await
            .expect("poison trigger");
    }

    /// Undoes [`TestEnv::refuse_events`].
    pub async fn accept_events(&self) {
        let mut db = self.db().await;
        sqlx::raw_sql("DROP TRIGGER poison ON inbox; DROP FUNCTION poison();")
            .execute(&mut db)
            .await
            .expect("drop trigger");
    }

    /// Closes every connection of this test's vhost (the worker's included).
    pub async fn drop_connections(&self) {
        let vhost = self.name.clone();
        tokio::task::spawn_blocking(move || rabbitmqctl(&["close_all_connections", "-p", &vhost, "test"]))
            .await
            .expect("close connections");
    }

    pub async fn http_get(&self, path: &str) -> (u16, String) {
        http_get(self.port(), path).await
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        self.spy.abort();
        if let Some(worker) = self.worker.as_mut() {
            let _ = worker.child.start_kill();
        }
        if std::env::var("KEEP_TEST_STATE").is_ok() {
            return;
        }
        let name = self.name.clone();
        // Best effort: a leftover vhost or database only costs disk.
        let _ = rabbitmqctl_command()
            .args(["delete_vhost", &name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        for database in [name.clone(), format!("{name}_demo")] {
            let _ = std::process::Command::new("psql")
                .args([
                    "-h",
                    "127.0.0.1",
                    "-U",
                    "postgres",
                    "-qc",
                    &format!("DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)"),
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

async fn declare_spy(amqp_url: &str) {
    let conn = Connection::connect(amqp_url, ConnectionProperties::default())
        .await
        .expect("spy connection");
    let ch = conn.create_channel().await.expect("spy channel");
    ch.exchange_declare(
        "collab.outcomes".into(),
        ExchangeKind::Topic,
        ExchangeDeclareOptions {
            durable: true,
            ..ExchangeDeclareOptions::default()
        },
        FieldTable::default(),
    )
    .await
    .expect("outcomes exchange");
    // Quorum, like the worker's queues: after a node restart a classic
    // queue hands back its persisted messages at a few hundred a second.
    let mut args = FieldTable::default();
    args.insert("x-queue-type".into(), AMQPValue::LongString("quorum".into()));
    ch.queue_declare(SPY_QUEUE.into(), QueueDeclareOptions::durable(), args)
        .await
        .expect("spy queue");
    ch.queue_bind(
        SPY_QUEUE.into(),
        "collab.outcomes".into(),
        "#".into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .expect("spy binding");
    let _ = conn.close(200, "ok".into()).await;
}

/// Consumes the spy queue forever, reconnecting when the connection drops.
async fn run_spy(amqp_url: String, outcomes: Outcomes) {
    loop {
        // Each step bounded: a broker that is starting may accept the TCP
        // connection and not answer yet.
        let opened = tokio::time::timeout(Duration::from_secs(5), async {
            let conn = Connection::connect(&amqp_url, ConnectionProperties::default()).await?;
            let ch = conn.create_channel().await?;
            // Bounded, as a real consumer's: a quorum queue feeds a consumer
            // without a prefetch limit slowly.
            ch.basic_qos(1000, lapin::options::BasicQosOptions::default()).await?;
            let consumer = ch
                .basic_consume(
                    SPY_QUEUE.into(),
                    "spy".into(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await?;
            Ok::<_, lapin::Error>((conn, ch, consumer))
        })
        .await;
        let Ok(Ok((conn, ch, mut consumer))) = opened else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        // Without lapin's recovery a lost connection may not end the stream,
        // and a consumer registered while a restarted broker elects the
        // queue's leader may be counted and never fed: probe the queue, and
        // start over when the consumer is gone or starved.
        let mut alive = tokio::time::interval(Duration::from_secs(1));
        let mut last_delivery = Instant::now();
        loop {
            let delivery = tokio::select! {
                next = consumer.next() => match next {
                    Some(Ok(delivery)) => delivery,
                    _ => break,
                },
                _ = alive.tick() => {
                    let passive = QueueDeclareOptions { passive: true, ..QueueDeclareOptions::default() };
                    let probe = tokio::time::timeout(
                        Duration::from_secs(5),
                        ch.queue_declare(SPY_QUEUE.into(), passive, FieldTable::default()),
                    )
                    .await;
                    let starved = last_delivery.elapsed() > Duration::from_secs(3);
                    match probe {
                        Ok(Ok(q)) if q.consumer_count() > 0 && (q.message_count() == 0 || !starved) => continue,
                        _ => break,
                    }
                }
            };
            last_delivery = Instant::now();
            if let Ok(mut value) = serde_json::from_slice::<Value>(&delivery.data) {
                // Keep the AMQP properties the contract promises, for assertions.
                let props = &delivery.properties;
                value["_amqp"] = json!({
                    "message_id": props.message_id().as_ref().map(|s| s.to_string()),
                    "type": props.kind().as_ref().map(|s| s.to_string()),
                    "content_type": props.content_type().as_ref().map(|s| s.to_string()),
                    "delivery_mode": props.delivery_mode(),
                    "timestamp": props.timestamp(),
                    "routing_key": delivery.routing_key.to_string(),
                });
                if let Ok(mut seen) = outcomes.seen.lock() {
                    seen.push(value);
                }
                outcomes.arrived.notify_waiters();
            }
            // An ack on a connection the broker dropped may never complete.
            let acked =
                tokio::time::timeout(Duration::from_secs(2), delivery.acker.ack(BasicAckOptions::default())).await;
            if !matches!(acked, Ok(Ok(true))) {
                break;
            }
        }
        // Unacked messages go back to the queue for the next consumer.
        let _ = tokio::time::timeout(Duration::from_secs(2), conn.close(200, "spy restarts".into())).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A plain HTTP/1.0 GET (keeps the test dependencies small).
pub async fn http_get(port: u16, path: &str) -> (u16, String) {
    let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return (0, String::new());
    };
    let request = format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n");
    if stream.write_all(request.as_bytes()).await.is_err() {
        return (0, String::new());
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response).await;
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

async fn wait_ready(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if http_get(port, "/readyz").await.0 == 200 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the worker did not become ready on port {port}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Header value as text.
pub fn header(headers: &FieldTable, name: &str) -> Option<String> {
    match headers.inner().get(name)? {
        AMQPValue::LongString(s) => Some(s.to_string()),
        AMQPValue::ShortString(s) => Some(s.to_string()),
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// Event data (the builders of `collab_worker::testkit::events`)
// ---------------------------------------------------------------------------

pub fn product(id: &str, seller: &str, open_rate: Option<&str>) -> Value {
    events::product_updated(id, seller, open_rate).data
}

pub fn order(id: &str, seller: &str, product: &str, creator: Option<&str>, amount: &str) -> Value {
    events::order_paid(id, seller, product, creator, amount).data
}

// ---------------------------------------------------------------------------
// The world: one test environment that numbers its events
// ---------------------------------------------------------------------------

/// The event [`World::sync`] publishes last: its outcome arrives only once
/// everything published before it has been applied and its outcomes
/// relayed (one queue, applied in order, outcomes published in `seq` order).
#[derive(Clone, Copy)]
pub enum Marker {
    /// A join to a campaign nobody knows (always `participation.rejected`).
    Join,
    /// A partnership of a creator nobody else knows (`partnership.accepted`).
    Partnership,
}

/// The world of the scenario tests: a worker in its own vhost and database;
/// every event gets a fresh id (`ev-<n>-<type>`), so what one event did is
/// the set of outcomes whose `causationid` is that id.
pub struct World {
    pub env: TestEnv,
    events: AtomicUsize,
    marker: Marker,
    /// Business time of the markers.
    marker_time: &'static str,
}

impl World {
    pub async fn open(settings: Vec<(&str, &str)>, marker: Marker, marker_time: &'static str) -> World {
        World {
            env: TestEnv::start_with(settings).await,
            events: AtomicUsize::new(0),
            marker,
            marker_time,
        }
    }

    fn next_id(&self, what: &str) -> String {
        let n = self.events.fetch_add(1, Ordering::Relaxed) + 1;
        format!("ev-{n:04}-{what}")
    }

    /// Publishes an event and returns its id.
    pub async fn send(&self, type_name: &str, at: &str, data: Value) -> String {
        let id = self.next_id(type_name);
        self.env.send(&id, type_name, at, data).await;
        id
    }

    /// Publishes a built event and returns its id.
    pub async fn send_ev(&self, at: &str, ev: Ev) -> String {
        self.send(ev.type_name, at, ev.data).await
    }

    /// Publishes a marker and waits for its outcome: everything published
    /// before it has been applied and its outcomes received.
    pub async fn sync(&self) {
        let id = self.next_id("marker");
        let marker = match self.marker {
            Marker::Join => events::join_requested(&id, "marker"),
            Marker::Partnership => events::partnership_established("S-MARKER", &format!("C-{id}"), "0.01"),
        };
        self.env
            .send(&id, marker.type_name, self.marker_time, marker.data)
            .await;
        self.env
            .outcomes
            .wait_until(&format!("the outcome of marker {id}"), |all| {
                all.iter().any(|o| o["causationid"] == id.as_str())
            })
            .await;
    }

    /// The outcomes an event caused (call after [`World::sync`]), in the
    /// order they were published.
    pub fn caused(&self, id: &str) -> Vec<Value> {
        self.env
            .outcomes
            .distinct()
            .into_iter()
            .filter(|o| o["causationid"] == id)
            .collect()
    }

    /// Data of every outcome of a type received so far.
    pub fn all_of(&self, type_name: &str) -> Vec<Value> {
        self.env
            .outcomes
            .of_type(type_name)
            .into_iter()
            .map(|o| o["data"].clone())
            .collect()
    }

    /// Applies one event and returns the outcomes it caused.
    pub async fn when(&self, type_name: &str, at: &str, data: Value) -> Vec<Value> {
        let id = self.send(type_name, at, data).await;
        self.sync().await;
        self.caused(&id)
    }

    /// Applies one built event and returns the outcomes it caused.
    pub async fn when_ev(&self, at: &str, ev: Ev) -> Vec<Value> {
        self.when(ev.type_name, at, ev.data).await
    }
}
