//! collab-worker: the back office of creator collaborations.
//!
//! Upstream systems publish CloudEvents to the RabbitMQ exchange
//! `collab.events`; this worker applies each event to the state in
//! PostgreSQL — exactly once, in one transaction with the outcomes it
//! decides — and a relay publishes those outcomes to `collab.outcomes`.
//!
//! The layout follows the architecture, a functional core in an I/O shell:
//!
//! * [`wire`] — the contract: envelopes, event and outcome types, values.
//! * [`domain`] — the business rules as pure functions; no I/O, no clock.
//! * [`store`] — PostgreSQL: database bootstrap, migrations, inbox, state,
//!   outbox.
//! * [`amqp`] — RabbitMQ: topology, the batch consumer, the outbox relay,
//!   dead letters.
//! * [`pipeline`] — the shell's core: applies a batch of deliveries in one
//!   transaction (dedup, load state, run rules, write state and outbox).
//! * [`worker`] — `collab-worker run`: wires it all, health, shutdown.
//! * [`trace`] — a span per event, exported over OTLP; W3C trace context.
//! * [`config`], [`telemetry`], [`http`], [`cli`] — the usual plumbing.

pub mod domain;
pub mod wire;

pub mod amqp;
pub mod cli;
pub mod config;
pub mod explain;
pub mod http;
pub mod ops;
pub mod pipeline;
pub mod store;
pub mod telemetry;
pub mod testkit;
pub mod trace;
pub mod worker;
