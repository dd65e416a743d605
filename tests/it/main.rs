//! Integration tests: the real `collab-worker` binary against the real
//! PostgreSQL and RabbitMQ, each test in its own vhost and database. One
//! test binary with a module per capability keeps link time down.

mod broker;
mod campaigns;
mod commissions;
mod common;
mod compose;
mod differential;
mod dlq;
mod enforcement;
mod explain;
mod late_facts;
mod limits;
mod observability;
mod ops;
mod parking;
mod participation;
mod pipeline;
mod retention;
mod scale;
mod tls;
mod tracing;
