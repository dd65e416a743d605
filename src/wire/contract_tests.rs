//! Keeps `docs/asyncapi.yaml` honest: the document, the Rust wire types, the
//! shared fixtures (`tests/fixtures/events/`) and the outcomes the rules
//! actually emit must all agree.
//!
//! Message payload schemas are compiled with `jsonschema` (draft 2020-12,
//! formats checked). AsyncAPI payloads point into `#/components/schemas`, so
//! each validator is built from a root schema that is the payload schema
//! itself plus a copy of `components.schemas` under the same path: every
//! internal `$ref` (`#/components/schemas/Money`, …) then resolves inside that
//! root, with no retrieval and no rewriting of the references.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use crate::domain::testkit::{Scenario, order, product, time};
use crate::wire::envelope::{self, MalformedKind, Meta, Outcome};
use crate::wire::events::Event;
use crate::wire::outcomes::OutcomeData;
use crate::wire::values::{EventId, MAX_ID_BYTES};

const DRAFT_2020_12: &str = "https://json-schema.org/draft/2020-12/schema";

fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The AsyncAPI document as JSON.
fn document() -> Value {
    let path = project_root().join("docs/asyncapi.yaml");
    let text = String::from_utf8(read(&path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Follows internal `$ref`s (`#/…` JSON pointers) until a non-reference.
fn resolve<'a>(doc: &'a Value, mut value: &'a Value) -> &'a Value {
    for _ in 0..32 {
        let Some(reference) = value.get("$ref").and_then(Value::as_str) else {
            return value;
        };
        let pointer = reference
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("only internal references are used: {reference}"));
        value = doc
            .pointer(pointer)
            .unwrap_or_else(|| panic!("dangling reference {reference}"));
    }
    panic!("reference cycle at {value}")
}

/// The channel whose `address` is `address`.
fn channel<'a>(doc: &'a Value, address: &str) -> &'a Value {
    doc["channels"]
        .as_object()
        .and_then(|channels| channels.values().find(|c| c["address"] == address))
        .unwrap_or_else(|| panic!("no channel with address {address}"))
}

/// The messages of a channel, by message `name`, references resolved.
fn messages_of<'a>(doc: &'a Value, address: &str) -> BTreeMap<String, &'a Value> {
    let mut out = BTreeMap::new();
    let messages = channel(doc, address)["messages"]
        .as_object()
        .unwrap_or_else(|| panic!("channel {address} lists no messages"));
    for (key, message) in messages {
        let message = resolve(doc, message);
        let name = message["name"].as_str().unwrap_or(key).to_owned();
        assert!(
            out.insert(name.clone(), message).is_none(),
            "message {name} is listed twice on {address}"
        );
    }
    out
}

/// The payload schema of a message (a schema, or an AsyncAPI multi-format
/// schema object around one).
fn payload_schema(message: &Value) -> &Value {
    let payload = &message["payload"];
    match payload.get("schemaFormat") {
        Some(_) => &payload["schema"],
        None => payload,
    }
}

/// A validator for `schema`, a schema of the document: the root is the schema
/// plus `components.schemas` at its document path, so `#/components/schemas/…`
/// references resolve inside the root.
fn validator(doc: &Value, schema: &Value) -> jsonschema::Validator {
    let mut root = match schema {
        Value::Object(map) => map.clone(),
        other => {
            let mut map = Map::new();
            map.insert("allOf".into(), json!([other]));
            map
        }
    };
    root.insert("$schema".into(), json!(DRAFT_2020_12));
    root.insert(
        "components".into(),
        json!({ "schemas": doc["components"]["schemas"].clone() }),
    );
    jsonschema::options()
        .should_validate_formats(true)
        .build(&Value::Object(root))
        .unwrap_or_else(|e| panic!("schema {schema} does not compile: {e}"))
}

/// Every message of the document with its compiled payload (and headers) schema.
struct Contract {
    doc: Value,
    inbound: BTreeMap<String, jsonschema::Validator>,
    outcomes: BTreeMap<String, jsonschema::Validator>,
}

impl Contract {
    fn load() -> Self {
        let doc = document();
        let compile = |address: &str| -> BTreeMap<String, jsonschema::Validator> {
            messages_of(&doc, address)
                .into_iter()
                .map(|(name, message)| (name, validator(&doc, payload_schema(message))))
                .collect()
        };
        let inbound = compile(crate::amqp::topology::EVENTS_EXCHANGE);
        let outcomes = compile(crate::amqp::topology::OUTCOMES_EXCHANGE);
        Self { doc, inbound, outcomes }
    }

    fn inbound(&self, type_name: &str) -> &jsonschema::Validator {
        self.inbound
            .get(type_name)
            .unwrap_or_else(|| panic!("no inbound message {type_name} in the document"))
    }

    fn outcome(&self, type_name: &str) -> &jsonschema::Validator {
        self.outcomes
            .get(type_name)
            .unwrap_or_else(|| panic!("no outcome message {type_name} in the document"))
    }

    /// The resolved `data` schema of an outcome message: the `data` property
    /// of the last `allOf` part that describes it (the first is the envelope).
    fn outcome_data_schema(&self, type_name: &str) -> &Value {
        let messages = messages_of(&self.doc, crate::amqp::topology::OUTCOMES_EXCHANGE);
        let message = messages
            .get(type_name)
            .copied()
            .unwrap_or_else(|| panic!("no outcome message {type_name}"));
        let payload = resolve(&self.doc, payload_schema(message));
        let data = payload["allOf"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|part| resolve(&self.doc, part)["properties"].get("data"))
            .next_back()
            .unwrap_or_else(|| panic!("{type_name}: the payload schema does not describe data"));
        resolve(&self.doc, data)
    }
}

fn errors(validator: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn every_inbound_and_outcome_type_of_the_rust_types_is_a_message_of_the_document() {
    let doc = document();
    assert_eq!(doc["asyncapi"], "3.0.0");
    let inbound: BTreeSet<String> = messages_of(&doc, crate::amqp::topology::EVENTS_EXCHANGE)
        .into_keys()
        .collect();
    let outcomes: BTreeSet<String> = messages_of(&doc, crate::amqp::topology::OUTCOMES_EXCHANGE)
        .into_keys()
        .collect();
    assert_eq!(inbound, set(Event::TYPES), "inbound messages vs Event::TYPES");
    assert_eq!(
        outcomes,
        set(OutcomeData::TYPES),
        "outcome messages vs OutcomeData::TYPES"
    );
    assert_eq!(inbound.len(), 26);
    assert_eq!(outcomes.len(), 32);
    for (address, names) in [
        (crate::amqp::topology::EVENTS_EXCHANGE, &inbound),
        (crate::amqp::topology::OUTCOMES_EXCHANGE, &outcomes),
    ] {
        for (name, message) in messages_of(&doc, address) {
            assert!(names.contains(&name));
            assert_eq!(
                message["bindings"]["amqp"]["messageType"], name,
                "{name}: the AMQP type is the CloudEvent type"
            );
            assert_eq!(message["contentType"], envelope::CONTENT_TYPE, "{name}");
            let examples = message["examples"].as_array().map(Vec::len).unwrap_or(0);
            assert!(examples >= 1, "{name} has no example");
        }
    }
    // The worker consumes its queue with every inbound type.
    let queue: BTreeSet<String> = messages_of(&doc, crate::amqp::topology::WORK_QUEUE)
        .into_keys()
        .collect();
    assert_eq!(queue, inbound);
}

#[test]
fn the_topology_of_the_document_is_the_one_the_worker_declares() {
    use crate::amqp::topology::{
        DEAD_LETTER_EXCHANGE, DEAD_LETTER_QUEUE, EVENTS_EXCHANGE, OUTCOMES_EXCHANGE, WORK_QUEUE, work_queue_arguments,
    };
    use figment::providers::Format as _;
    use lapin::types::AMQPValue;

    let doc = document();
    for (name, kind) in [
        (EVENTS_EXCHANGE, "topic"),
        (OUTCOMES_EXCHANGE, "topic"),
        (DEAD_LETTER_EXCHANGE, "fanout"),
    ] {
        let amqp = &channel(&doc, name)["bindings"]["amqp"];
        assert_eq!(amqp["is"], "routingKey", "{name}");
        assert_eq!(amqp["exchange"]["name"], name);
        assert_eq!(amqp["exchange"]["type"], kind, "{name}");
        assert_eq!(amqp["exchange"]["durable"], true, "{name}");
        assert_eq!(amqp["exchange"]["autoDelete"], false, "{name}");
    }
    for name in [WORK_QUEUE, DEAD_LETTER_QUEUE] {
        let amqp = &channel(&doc, name)["bindings"]["amqp"];
        assert_eq!(amqp["is"], "queue", "{name}");
        assert_eq!(amqp["queue"]["name"], name);
        assert_eq!(amqp["queue"]["durable"], true, "{name}");
        assert_eq!(channel(&doc, name)["x-queue-arguments"]["x-queue-type"], "quorum");
    }
    assert_eq!(
        channel(&doc, WORK_QUEUE)["x-bindings"],
        json!([{ "exchange": EVENTS_EXCHANGE, "routingKey": "#" }])
    );
    assert_eq!(
        channel(&doc, DEAD_LETTER_QUEUE)["x-bindings"],
        json!([{ "exchange": DEAD_LETTER_EXCHANGE, "routingKey": "" }])
    );

    // The work queue's arguments, with the default delivery limit.
    let settings: crate::config::Settings = figment::Figment::new()
        .merge(figment::providers::Toml::file(
            project_root().join("config/default.toml"),
        ))
        .extract()
        .unwrap_or_else(|e| panic!("config/default.toml: {e}"));
    let documented = channel(&doc, WORK_QUEUE)["x-queue-arguments"].clone();
    let mut declared = Map::new();
    for (key, value) in work_queue_arguments(settings.consumer.delivery_limit).inner() {
        let value = match value {
            AMQPValue::LongString(s) => json!(s.to_string()),
            AMQPValue::ShortString(s) => json!(s.to_string()),
            AMQPValue::LongLongInt(n) => json!(n),
            AMQPValue::LongInt(n) => json!(n),
            other => panic!("undocumentable argument {key}: {other:?}"),
        };
        declared.insert(key.to_string(), value);
    }
    assert_eq!(documented, Value::Object(declared), "x-queue-arguments of {WORK_QUEUE}");
    let declared: Map<String, Value> = crate::amqp::topology::dead_letter_queue_arguments()
        .inner()
        .iter()
        .map(|(key, value)| (key.to_string(), crate::ops::dlq::headers::to_json(value)))
        .collect();
    assert_eq!(
        channel(&doc, DEAD_LETTER_QUEUE)["x-queue-arguments"],
        Value::Object(declared),
        "x-queue-arguments of {DEAD_LETTER_QUEUE}"
    );

    // The retry queues: their arguments (the first delay's queue), the
    // headers of a parked copy.
    let schedule = crate::amqp::retry::RetrySchedule::of(&settings.consumer);
    let first = schedule.delays()[0];
    let address = format!("{}{{delay}}ms", crate::amqp::retry::RETRY_QUEUE_PREFIX);
    let retry = channel(&doc, &address);
    assert_eq!(retry["bindings"]["amqp"]["queue"]["name"], address.as_str());
    assert_eq!(retry["bindings"]["amqp"]["queue"]["durable"], true);
    let declared: Map<String, Value> = crate::amqp::retry::queue_arguments(first, schedule.max_parked)
        .inner()
        .iter()
        .map(|(key, value)| (key.to_string(), crate::ops::dlq::headers::to_json(value)))
        .collect();
    assert_eq!(
        retry["x-queue-arguments"],
        Value::Object(declared),
        "x-queue-arguments of {}",
        crate::amqp::retry::queue_name(first)
    );
    let delays: Vec<String> = schedule.delays().iter().map(|d| d.as_millis().to_string()).collect();
    assert_eq!(retry["parameters"]["delay"]["examples"], json!(delays));
    let parked = messages_of(&doc, &address);
    let parked = parked.values().next().copied().unwrap_or(&Value::Null);
    let headers = resolve(&doc, &parked["headers"]);
    for header in [
        crate::amqp::retry::ATTEMPTS_HEADER,
        crate::amqp::retry::RETRY_REASON_HEADER,
    ] {
        assert!(
            headers["properties"].get(header).is_some(),
            "header {header} is not documented"
        );
    }

    // Dead letters: every header the worker writes, every reason it gives.
    use crate::amqp::dead_letter::{
        DEAD_LETTERED_AT_HEADER, DEATH_COUNT_HEADER, DETAIL_HEADER, EDIT_OF_HEADER, EDITED_FIELDS_HEADER, ERROR_HEADER,
        FIRST_DEATH_QUEUE_HEADER, HISTORY_HEADER, ORIGINAL_EXCHANGE_HEADER, ORIGINAL_ROUTING_KEY_HEADER,
        REPLAY_ACTION_HEADER, REPLAY_COUNT_HEADER, REPLAYED_AT_HEADER, REPLAYED_BY_HEADER,
    };

    let dead_letters = messages_of(&doc, DEAD_LETTER_QUEUE);
    assert_eq!(dead_letters.len(), 1);
    let message = dead_letters.values().next().copied().unwrap_or(&Value::Null);
    let headers = resolve(&doc, &message["headers"]);
    for header in [
        ERROR_HEADER,
        DETAIL_HEADER,
        ORIGINAL_EXCHANGE_HEADER,
        ORIGINAL_ROUTING_KEY_HEADER,
        FIRST_DEATH_QUEUE_HEADER,
        DEAD_LETTERED_AT_HEADER,
        DEATH_COUNT_HEADER,
        REPLAY_COUNT_HEADER,
        HISTORY_HEADER,
        REPLAY_ACTION_HEADER,
        REPLAYED_BY_HEADER,
        REPLAYED_AT_HEADER,
        EDIT_OF_HEADER,
        EDITED_FIELDS_HEADER,
    ] {
        assert!(
            headers["properties"].get(header).is_some(),
            "header {header} is not documented"
        );
    }
    let mut reasons: BTreeSet<String> = MalformedKind::ALL.iter().map(|k| k.code().to_owned()).collect();
    reasons.insert(crate::amqp::consumer::APPLY_FAILED.into());
    reasons.insert(crate::amqp::consumer::RULE_FAILED.into());
    let documented: BTreeSet<String> = headers["properties"][ERROR_HEADER]["enum"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    assert_eq!(documented, reasons);
    assert_eq!(headers["properties"][FIRST_DEATH_QUEUE_HEADER]["const"], WORK_QUEUE);
}

/// The limits the document and the README state are the parser's.
#[test]
fn the_documented_input_limits_are_the_parsers() {
    let doc = document();
    let schemas = &doc["components"]["schemas"];
    assert_eq!(schemas["Id"]["maxLength"], MAX_ID_BYTES);
    assert_eq!(
        schemas["InboundCloudEvent"]["properties"]["id"]["maxLength"],
        MAX_ID_BYTES
    );
    let nul_free = json!({"$ref": "#/components/schemas/NulFree"});
    assert!(
        schemas["InboundCloudEvent"]["allOf"]
            .as_array()
            .is_some_and(|all| all.contains(&nul_free)),
        "every inbound message is checked for U+0000"
    );
    // The default body limit: in the built-in configuration, in the document.
    use figment::providers::{Format, Toml};
    let defaults = figment::Figment::from(Toml::file(project_root().join("config/default.toml")));
    let max_body_bytes: Result<usize, _> = defaults.extract_inner("consumer.max_body_bytes");
    assert_eq!(max_body_bytes.ok(), Some(1_048_576));
    let description = doc["info"]["description"].as_str().unwrap_or_default();
    assert!(
        description.contains("`consumer.max_body_bytes` (default 1 MiB)"),
        "{description}"
    );
    // README's reason-code table names every dead-letter reason.
    let readme = String::from_utf8_lossy(&read(&project_root().join("README.md"))).into_owned();
    let row = readme
        .lines()
        .find(|l| l.starts_with("| dead letter |"))
        .unwrap_or_else(|| panic!("README has no dead-letter row in its reason codes"));
    for kind in MalformedKind::ALL {
        assert!(
            row.contains(&format!("`{}`", kind.code())),
            "README's dead-letter row lacks {}",
            kind.code()
        );
    }
}

#[test]
fn every_example_of_the_document_is_valid_against_its_message() {
    let contract = Contract::load();
    let doc = &contract.doc;
    let messages = doc["components"]["messages"]
        .as_object()
        .unwrap_or_else(|| panic!("no components.messages"));
    let mut checked = 0;
    for (key, message) in messages {
        let payload = validator(doc, payload_schema(message));
        let headers = message.get("headers").map(|h| validator(doc, h));
        for example in message["examples"].as_array().into_iter().flatten() {
            if let Some(instance) = example.get("payload") {
                let problems = errors(&payload, instance);
                assert!(problems.is_empty(), "example of {key}: {problems:#?}");
                checked += 1;
            }
            if let (Some(validator), Some(instance)) = (&headers, example.get("headers")) {
                let problems = errors(validator, instance);
                assert!(problems.is_empty(), "example headers of {key}: {problems:#?}");
            }
        }
        let name = message["name"].as_str().unwrap_or(key.as_str());
        if let Some(example) = message["examples"][0]["payload"].as_object()
            && Event::TYPES.contains(&name)
        {
            // The parser accepts every inbound example as its type.
            let body = serde_json::to_vec(example).unwrap_or_default();
            let parsed = envelope::parse(&body);
            assert!(
                parsed.as_ref().is_ok_and(|p| p.event.type_name() == name),
                "example of {name}: {:?}",
                parsed.err()
            );
        }
    }
    // One per inbound type, one per outcome type, one dead letter.
    let expected = Event::TYPES.len() + OutcomeData::TYPES.len() + 1;
    assert!(checked >= expected, "only {checked} examples");
}

/// `(reason, what, file)` of every malformed fixture.
fn malformed_fixtures() -> Vec<(String, String, PathBuf)> {
    let dir = project_root().join("tests/fixtures/events/malformed");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
        let Some(stem) = name.strip_suffix(".json") else {
            continue;
        };
        let (reason, what) = stem
            .split_once("--")
            .unwrap_or_else(|| panic!("{name}: expected <reason>--<what>.json"));
        out.push((reason.to_owned(), what.to_owned(), path));
    }
    out.sort();
    out
}

/// `(type, file)` of every valid fixture.
fn valid_fixtures() -> Vec<(String, PathBuf)> {
    let dir = project_root().join("tests/fixtures/events/valid");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if let Some(type_name) = name.strip_suffix(".json") {
            out.push((type_name.to_owned(), path));
        }
    }
    out.sort();
    out
}

#[test]
fn valid_fixtures_are_accepted_by_the_document_and_by_the_parser() {
    let contract = Contract::load();
    let fixtures = valid_fixtures();
    let types: BTreeSet<String> = fixtures.iter().map(|(t, _)| t.clone()).collect();
    assert_eq!(types, set(Event::TYPES), "one valid fixture per inbound type");
    for (type_name, path) in fixtures {
        let body = read(&path);
        let parsed = envelope::parse(&body);
        assert!(
            parsed.as_ref().is_ok_and(|p| p.meta.type_name == type_name),
            "{}: {:?}",
            path.display(),
            parsed.err()
        );
        let value: Value = serde_json::from_slice(&body).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let problems = errors(contract.inbound(&type_name), &value);
        assert!(problems.is_empty(), "{}: {problems:#?}", path.display());
    }
}

#[test]
fn malformed_fixtures_are_rejected_by_the_document_and_by_the_parser_for_the_reason_in_their_name() {
    let contract = Contract::load();
    let fixtures = malformed_fixtures();
    let reasons: BTreeSet<String> = fixtures.iter().map(|(r, _, _)| r.clone()).collect();
    // `too_large` depends on a setting, not on the body: tested beside `parse_limited`.
    let parser_reasons: Vec<&str> = MalformedKind::ALL
        .iter()
        .filter(|k| **k != MalformedKind::TooLarge)
        .map(|k| k.code())
        .collect();
    assert_eq!(
        reasons,
        set(&parser_reasons),
        "a fixture for every reason the parser gives"
    );
    for (reason, what, path) in fixtures {
        let body = read(&path);
        let label = format!("{reason}--{what}");
        match envelope::parse(&body) {
            Ok(inbound) => panic!("{label}: the parser accepted it as {}", inbound.meta.type_name),
            Err(malformed) => assert_eq!(malformed.kind.code(), reason, "{label}: {}", malformed.detail),
        }
        let parsed: Option<Value> = serde_json::from_slice(&body).ok();
        match (reason.as_str(), parsed) {
            ("invalid_json", parsed) => assert!(parsed.is_none(), "{label} is JSON"),
            ("unknown_type", Some(value)) => {
                let type_name = value["type"].as_str().unwrap_or_default();
                assert!(
                    !contract.inbound.contains_key(type_name) && !contract.outcomes.contains_key(type_name),
                    "{label}: {type_name} is a message of the document"
                );
            }
            ("schema_violation" | "not_a_cloudevent", Some(value)) => {
                // Judged by the schema of the type it declares, or by the
                // envelope alone when it declares none the document knows.
                let declared = value["type"].as_str().unwrap_or_default();
                let envelope_only;
                let schema = match contract.inbound.get(declared) {
                    Some(schema) => schema,
                    None => {
                        let reference = json!({"$ref": "#/components/schemas/InboundCloudEvent"});
                        envelope_only = validator(&contract.doc, &reference);
                        &envelope_only
                    }
                };
                assert!(!schema.is_valid(&value), "{label}: the document accepts it");
            }
            (reason, parsed) => panic!("{label}: unexpected reason {reason} for {parsed:?}"),
        }
    }
}

/// Where a mutation applies inside a JSON value.
#[derive(Clone, Debug)]
enum Step {
    Key(String),
    Index(usize),
}

fn paths(value: &Value, prefix: &[Step], out: &mut Vec<Vec<Step>>) {
    let mut push = |step: Step, child: &Value| {
        let mut path = prefix.to_vec();
        path.push(step);
        out.push(path.clone());
        paths(child, &path, out);
    };
    match value {
        Value::Object(map) => map.iter().for_each(|(k, v)| push(Step::Key(k.clone()), v)),
        Value::Array(items) => items.iter().enumerate().for_each(|(i, v)| push(Step::Index(i), v)),
        _ => {}
    }
}

/// Replaces (`Some`) or removes (`None`, object members only) the value at `path`.
fn mutate(value: &Value, path: &[Step], replacement: Option<&Value>) -> Option<Value> {
    let mut out = value.clone();
    let (last, parents) = path.split_last()?;
    let mut node = &mut out;
    for step in parents {
        node = match step {
            Step::Key(k) => node.get_mut(k.as_str())?,
            Step::Index(i) => node.get_mut(*i)?,
        };
    }
    match (last, replacement) {
        (Step::Key(k), Some(r)) => {
            node[k.as_str()] = r.clone();
        }
        (Step::Key(k), None) => {
            node.as_object_mut()?.remove(k.as_str());
        }
        (Step::Index(i), Some(r)) => *node.get_mut(*i)? = r.clone(),
        (Step::Index(_), None) => return None,
    }
    Some(out)
}

fn lookup<'a>(value: &'a Value, path: &[Step]) -> Option<&'a Value> {
    path.iter().try_fold(value, |node, step| match step {
        Step::Key(k) => node.get(k.as_str()),
        Step::Index(i) => node.get(*i),
    })
}

fn describe(path: &[Step]) -> String {
    path.iter()
        .map(|s| match s {
            Step::Key(k) => format!(".{k}"),
            Step::Index(i) => format!("[{i}]"),
        })
        .collect()
}

/// Differential check of required/optional/nullable fields, types, enums and
/// value formats: every field of every valid inbound sample (fixtures and
/// examples), at any depth, is removed or replaced by values of each JSON type
/// and of each value grammar; the parser and the schema must reach the same
/// verdict on every variant.
#[test]
fn the_document_and_the_parser_agree_on_variants_of_every_field() {
    let contract = Contract::load();
    let mut samples: Vec<(String, Value)> = Vec::new();
    for (type_name, path) in valid_fixtures() {
        let value = serde_json::from_slice(&read(&path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        samples.push((type_name, value));
    }
    for type_name in Event::TYPES {
        let message = &contract.doc["components"]["messages"][*type_name];
        for example in message["examples"].as_array().into_iter().flatten() {
            samples.push(((*type_name).to_owned(), example["payload"].clone()));
        }
    }
    let replacements = [
        json!(null),
        json!(1.5),
        json!(9),
        json!(0),
        json!(-1),
        json!(true),
        json!(""),
        json!("-1"),
        json!("01.50"),
        json!("1.0"),
        json!("0.123"),
        json!("100.00"),
        json!("USD"),
        json!("radio"),
        json!("video"),
        json!("2026-10-01T10:00:00+02:00"),
        json!({}),
        json!([]),
        // Limits: ids are at most 256 bytes; no string holds U+0000.
        json!("x".repeat(MAX_ID_BYTES)),
        json!("x".repeat(MAX_ID_BYTES + 1)),
        json!("a\u{0}b"),
    ];
    let mut disagreements = Vec::new();
    let mut variants = 0;
    for (type_name, sample) in &samples {
        let validator = contract.inbound(type_name);
        let mut all = Vec::new();
        paths(sample, &[], &mut all);
        for path in all {
            let candidates = std::iter::once(None).chain(replacements.iter().map(Some));
            for replacement in candidates {
                let Some(variant) = mutate(sample, &path, replacement) else {
                    continue;
                };
                variants += 1;
                let body = serde_json::to_vec(&variant).unwrap_or_default();
                let parser = envelope::parse(&body);
                let schema = validator.is_valid(&variant);
                // Known leniency of the parser, not of the contract: serde's
                // derived `Deserialize` also reads a struct from a JSON array
                // of its fields in declaration order (`"criteria": []` is an
                // empty criteria). The document keeps objects.
                let struct_as_array = parser.is_ok()
                    && replacement.is_some_and(Value::is_array)
                    && lookup(sample, &path).is_some_and(Value::is_object);
                if parser.is_ok() != schema && !struct_as_array {
                    disagreements.push(format!(
                        "{type_name}{} = {}: parser {}, schema {}",
                        describe(&path),
                        replacement.map_or("<removed>".to_owned(), Value::to_string),
                        parser.map_or_else(|m| format!("rejects ({m})"), |_| "accepts".into()),
                        if schema { "accepts" } else { "rejects" },
                    ));
                }
            }
        }
    }
    assert!(variants > 5_000, "only {variants} variants");
    assert!(
        disagreements.is_empty(),
        "{} disagreements:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
}

/// Runs events through the rules and turns each outcome into the CloudEvent
/// the relay publishes.
struct Story {
    scenario: Scenario,
    events: u64,
    published: Vec<Value>,
}

impl Story {
    fn new() -> Self {
        Self {
            scenario: Scenario::new(),
            events: 0,
            published: Vec::new(),
        }
    }

    fn when(&mut self, type_name: &str, at: &str, data: Value) -> Vec<&'static str> {
        self.events += 1;
        let id = format!("story-{}", self.events);
        let outcomes = self.scenario.apply_as(&id, type_name, at, data);
        let cause = Meta {
            id: EventId::from(id.as_str()),
            source: "/tests".into(),
            type_name: type_name.into(),
            time: time(at),
            subject: None,
            correlationid: self.events.is_multiple_of(2).then(|| format!("corr-{}", self.events)),
            traceparent: self
                .events
                .is_multiple_of(3)
                .then(|| "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned()),
            tracestate: self.events.is_multiple_of(3).then(|| "congo=t61rcWkgMzE".to_owned()),
        };
        // The business time of a decision (a tick is applied at its `now`).
        let decided_at = time(at);
        let mut types = Vec::new();
        for data in outcomes {
            let outcome = Outcome {
                id: crate::domain::ids::outcome_id(&cause.id, data.type_name(), &data.subject()),
                time: decided_at,
                data,
            };
            types.push(outcome.data.type_name());
            self.published.push(envelope::outcome_json(&outcome, &cause));
        }
        types
    }

    fn tick(&mut self, now: &str) -> Vec<&'static str> {
        self.when("clock.ticked", now, json!({ "now": now }))
    }
}

fn creator(id: &str) -> Value {
    json!({
        "creator_id": id, "level": 3, "followers": 12000, "categories": ["beauty"],
        "content_types": ["video"], "avg_commission_rate": "0.1", "fake_order_risk": "low"
    })
}

fn task_campaign(id: &str, starts_at: &str, ends_at: &str, budget: &str) -> Value {
    json!({
        "campaign_id": id, "seller_id": "S1", "type": "task", "title": format!("Campaign {id}"),
        "starts_at": starts_at, "ends_at": ends_at, "creator_group_id": "G1", "currency": "USD",
        "budget": budget, "prompt_ads_authorization": false,
        "products": [{"product_id": "P1", "commission_rate": "0.15", "free_sample": true,
                      "refundable_sample_goal_units": 1}],
        "task": {"reward": "10.00", "tasks": [{"kind": "orders", "content_type": "any", "target": 1}]}
    })
}

/// A story through every rule family, producing every outcome type.
fn story() -> Story {
    let mut s = Story::new();
    let day0 = "2026-01-05T00:00:00Z";
    s.when("product.updated", day0, product("P1", "S1", Some("0.10")));
    for c in ["C2", "C3", "C4", "C6"] {
        s.when("creator.updated", day0, creator(c));
    }
    s.when(
        "creator_group.saved",
        day0,
        json!({"seller_id": "S1", "group_id": "G1", "name": "everyone", "criteria": {}}),
    );
    // G1: a seller holds at most 100 groups.
    for g in 0..100 {
        s.when(
            "creator_group.saved",
            day0,
            json!({"seller_id": "S9", "group_id": format!("G-{g}"), "name": "g", "criteria": {"level_min": 1}}),
        );
    }
    assert_eq!(
        s.when(
            "creator_group.saved",
            day0,
            json!({"seller_id": "S9", "group_id": "G-100", "name": "one too many", "criteria": {}}),
        ),
        ["creator_group.rejected"]
    );

    // Campaigns: submitted in January, KF and KC run in February.
    let jan25 = "2026-01-25T00:00:00Z";
    s.when(
        "campaign.submitted",
        jan25,
        task_campaign("KF", "2026-02-01T00:00:00Z", "2026-02-20T00:00:00Z", "100.00"),
    );
    s.when(
        "campaign.submitted",
        jan25,
        json!({
            "campaign_id": "KX", "seller_id": "S1", "type": "contest", "title": "bad",
            "starts_at": "2026-01-01T00:00:00Z", "ends_at": "2026-01-05T00:00:00Z", "creator_group_id": "G404",
            "currency": "USD", "budget": "-5", "prompt_ads_authorization": false, "products": []
        }),
    );
    s.when(
        "campaign.submitted",
        "2026-01-25T01:00:00Z",
        task_campaign("KE", "2026-02-01T00:00:00Z", "2026-02-20T00:00:00Z", "50.00"),
    );
    s.when(
        "campaign.submitted",
        "2026-01-25T02:00:00Z",
        task_campaign("KR", "2026-03-01T00:00:00Z", "2026-03-20T00:00:00Z", "100.00"),
    );
    s.when(
        "campaign.recall_requested",
        "2026-01-25T03:00:00Z",
        json!({"campaign_id": "KR", "seller_id": "S1"}),
    );
    s.when(
        "campaign.submitted",
        "2026-01-25T04:00:00Z",
        json!({
            "campaign_id": "KC", "seller_id": "S1", "type": "challenge", "title": "Most orders",
            "starts_at": "2026-02-01T00:00:00Z", "ends_at": "2026-02-20T00:00:00Z", "creator_group_id": "G1",
            "currency": "USD", "budget": "30.00", "prompt_ads_authorization": true,
            "products": [{"product_id": "P1", "commission_rate": "0.12", "free_sample": false}],
            "challenge": {"metric": "orders", "content_types": ["video"], "min_value": 1,
                          "rank_rewards": [{"from_rank": 1, "to_rank": 1, "amount_each": "30.00"}]}
        }),
    );
    let pay = |payment: &str, campaign: &str, amount: &str| {
        json!({"payment_id": payment, "campaign_id": campaign, "seller_id": "S1", "amount": amount,
               "currency": "USD", "method": "credit_card"})
    };
    s.when(
        "payment.succeeded",
        "2026-01-25T10:00:00Z",
        pay("PAY-F", "KF", "100.00"),
    );
    s.when(
        "payment.succeeded",
        "2026-01-25T10:05:00Z",
        pay("PAY-R", "KR", "100.00"),
    );
    s.when("payment.succeeded", "2026-01-25T10:10:00Z", pay("PAY-C", "KC", "30.00"));
    s.when("payment.succeeded", "2026-01-25T10:15:00Z", pay("PAY-Z", "KZ", "12.00"));
    s.when(
        "campaign.recall_requested",
        "2026-01-25T11:00:00Z",
        json!({"campaign_id": "KR", "seller_id": "S1"}),
    );
    s.tick("2026-01-26T02:00:00Z"); // KE was never paid
    s.when(
        "creator.join_requested",
        "2026-01-27T00:00:00Z",
        json!({"campaign_id": "KZ", "creator_id": "C2"}),
    );
    s.when(
        "sample.requested",
        "2026-01-27T00:00:00Z",
        json!({"request_id": "R0", "campaign_id": "KF", "creator_id": "C4", "product_id": "P1"}),
    );

    // February: KF and KC run.
    s.tick("2026-02-01T00:00:00Z");
    let join = |campaign: &str, creator: &str| json!({"campaign_id": campaign, "creator_id": creator});
    for c in ["C2", "C3", "C4"] {
        s.when("creator.join_requested", "2026-02-01T01:00:00Z", join("KF", c));
    }
    s.when("creator.join_requested", "2026-02-01T01:00:00Z", join("KC", "C6"));
    s.when(
        "sample.requested",
        "2026-02-01T02:00:00Z",
        json!({"request_id": "R1", "campaign_id": "KF", "creator_id": "C3", "product_id": "P1"}),
    );
    s.when("sample.shipped", "2026-02-01T12:00:00Z", json!({"request_id": "R1"}));
    s.when("sample.delivered", "2026-02-02T00:00:00Z", json!({"request_id": "R1"}));
    let refundable = |id: &str, creator: &str| {
        json!({"refundable_id": id, "campaign_id": "KF", "creator_id": creator, "product_id": "P1",
               "order_id": format!("O-{id}"), "price": "5.00", "shipping_fee": "1.00", "currency": "USD"})
    };
    s.when(
        "sample.refundable_purchased",
        "2026-02-02T00:00:00Z",
        refundable("RF1", "C3"),
    );
    s.when(
        "sample.refundable_purchased",
        "2026-02-02T00:00:00Z",
        refundable("RF2", "C4"),
    );
    s.when(
        "order.paid",
        "2026-02-03T00:00:00Z",
        order("O-C2", "S1", "P1", Some("C2"), "50.00"),
    );
    s.when(
        "order.paid",
        "2026-02-03T01:00:00Z",
        order("O-C3", "S1", "P1", Some("C3"), "20.00"),
    );
    s.when(
        "order.paid",
        "2026-02-03T02:00:00Z",
        order("O-C6", "S1", "P1", Some("C6"), "40.00"),
    );
    // V6 after C2's reward was issued, before KF settles.
    s.when(
        "creator.platform_blocked",
        "2026-02-05T00:00:00Z",
        json!({"creator_id": "C2", "reason": "fraud"}),
    );
    s.tick("2026-02-07T00:00:00Z"); // K7: January's tax report
    s.tick("2026-02-20T00:00:00Z"); // KF ends and settles (K6: paid in January)
    s.tick("2026-02-20T01:00:00Z"); // KC is finalized and settles

    // March: commissions and enforcement.
    let mar = |day: u32, hour: u32| format!("2026-03-{day:02}T{hour:02}:00:00Z");
    s.when("product.updated", &mar(1, 0), product("P3", "S2", Some("0.10")));
    s.when("product.updated", &mar(1, 0), product("P4", "S3", None));
    s.when("creator.updated", &mar(1, 0), creator("C5"));
    s.when(
        "partnership.established",
        &mar(1, 1),
        json!({"seller_id": "S3", "creator_id": "C5", "commission_rate": "0.20"}),
    );
    s.when("order.paid", &mar(2, 0), order("OA", "S2", "P3", Some("C5"), "100.00"));
    s.when(
        "order.refunded",
        &mar(2, 1),
        json!({"order_id": "OA", "amount": "40.00"}),
    );
    s.when("order.settled", &mar(2, 2), json!({"order_id": "OA"}));
    s.when(
        "order.refunded",
        &mar(2, 3),
        json!({"order_id": "OA", "amount": "10.00"}),
    );
    s.when("order.paid", &mar(2, 4), order("OB", "S2", "P3", Some("C5"), "50.00"));
    s.when("order.cancelled", &mar(2, 5), json!({"order_id": "OB"}));
    s.when("order.paid", &mar(2, 6), order("OC", "S2", "P3", Some("C5"), "30.00"));
    s.when("order.paid", &mar(2, 7), order("OD", "S3", "P4", Some("C5"), "80.00"));
    // O9: S2 lowered P3's rate before OC was paid; the news arrives late.
    s.when(
        "product.updated",
        "2026-03-02T05:30:00Z",
        product("P3", "S2", Some("0.08")),
    );
    s.when(
        "creator.violation_reported",
        &mar(5, 0),
        json!({"violation_id": "V1", "creator_id": "C5", "guideline": "misleading_claims", "details": null}),
    );
    s.when(
        "partnership.paused",
        &mar(6, 0),
        json!({"seller_id": "S3", "creator_id": "C5"}),
    );
    s.when(
        "partnership.established",
        &mar(7, 0),
        json!({"seller_id": "S3", "creator_id": "C5", "commission_rate": "0.25"}),
    );
    s.when("order.paid", &mar(8, 0), order("OE", "S2", "P3", None, "15.00"));

    s.tick("2026-04-05T00:00:00Z"); // K4: RF2's window closed without a sale
    s
}

#[test]
fn outcomes_the_rules_emit_are_valid_against_the_document() {
    let contract = Contract::load();
    let story = story();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut written_fields: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut documented_fields: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for outcome in &story.published {
        let type_name = outcome["type"].as_str().unwrap_or_default().to_owned();
        let problems = errors(contract.outcome(&type_name), outcome);
        assert!(problems.is_empty(), "{type_name}: {problems:#?}\n{outcome:#}");

        // Every field the worker writes is documented and required (by the
        // schema, or by its `if`/`then` for this outcome, e.g. the decision
        // fields of a `rate_corrected` adjustment); every documented field is
        // written by some outcome of the story (checked below).
        let schema = contract.outcome_data_schema(&type_name);
        let documented: BTreeSet<String> = schema["properties"]
            .as_object()
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default();
        let written: BTreeSet<String> = outcome["data"]
            .as_object()
            .map(|d| d.keys().cloned().collect())
            .unwrap_or_default();
        assert!(
            written.is_subset(&documented),
            "{type_name}: data fields {written:?} not all documented"
        );
        let names = |list: &Value| -> BTreeSet<String> {
            list.as_array()
                .map(|r| r.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
                .unwrap_or_default()
        };
        let mut required = names(&schema["required"]);
        // The document's conditions are `const`s on data fields.
        let condition_holds = schema["if"]["properties"]
            .as_object()
            .is_some_and(|p| p.iter().all(|(field, c)| outcome["data"][field] == c["const"]));
        if condition_holds {
            required.extend(names(&schema["then"]["required"]));
        }
        assert_eq!(required, written, "{type_name}: every field written is required");
        written_fields.entry(type_name.clone()).or_default().extend(written);
        documented_fields.insert(type_name.clone(), documented);
        *seen.entry(type_name).or_default() += 1;
    }
    let missing: Vec<&&str> = OutcomeData::TYPES.iter().filter(|t| !seen.contains_key(**t)).collect();
    assert!(
        seen.len() >= 30,
        "only {} outcome types were produced; missing {missing:?}",
        seen.len()
    );
    assert!(missing.is_empty(), "the story no longer produces {missing:?}");
    for (type_name, documented) in &documented_fields {
        let written = written_fields.get(type_name).cloned().unwrap_or_default();
        let never: Vec<&String> = documented.difference(&written).collect();
        assert!(
            never.is_empty(),
            "{type_name}: documented fields never written: {never:?}"
        );
    }
}

#[test]
fn the_story_decides_what_the_rules_say() {
    let story = story();
    let find = |type_name: &str, pred: &dyn Fn(&Value) -> bool| -> Vec<Value> {
        story
            .published
            .iter()
            .filter(|o| o["type"] == type_name && pred(&o["data"]))
            .map(|o| o["data"].clone())
            .collect()
    };
    // K6: paid in January, starting and settling in February.
    let fee = find("fee.charged", &|d| d["campaign_id"] == "KF");
    assert_eq!(fee.len(), 1);
    assert_eq!(fee[0]["amount"], "11.00");
    let reversal = find("refund.due", &|d| d["reason"] == "extra_fee_reversal");
    assert_eq!(reversal.len(), 1);
    assert_eq!(reversal[0]["due_by"], "2026-03-01T00:00:00Z");
    // V6: C2's task reward was cancelled, so KF charged only C3's.
    assert_eq!(find("reward.cancelled", &|d| d["creator_id"] == "C2").len(), 1);
    let settled = find("campaign.settled", &|d| d["campaign_id"] == "KF");
    assert_eq!(settled.len(), 1);
    assert_eq!(settled[0]["rewards_total"], "10.00");
    assert_eq!(settled[0]["refunded"], "90.00");
    // H3: the challenge's rank 1.
    let challenge = find("reward.issued", &|d| d["kind"] == "challenge");
    assert_eq!(challenge.len(), 1);
    assert_eq!(challenge[0]["rank"], 1);
    // O6: a refund of 40 on 100 at 10 % moves the commission by −4.
    let adjusted = find("commission.adjusted", &|d| d["order_id"] == "OA");
    assert_eq!(adjusted.first().map(|d| d["delta"].clone()), Some(json!("-4.00")));
    assert_eq!(
        find("commission.clawback", &|d| d["order_id"] == "OA")[0]["amount"],
        "1.00"
    );
    // Every outcome names its cause.
    assert!(
        story
            .published
            .iter()
            .all(|o| o["causationid"].as_str().is_some_and(|c| c.starts_with("story-")))
    );
}
