//! One vocabulary for everything that feeds the worker events: typed event
//! builders ([`events`]), and a given/when/then harness over the pure rules
//! that answers with typed outcomes ([`Scenario`], [`Outcomes`]).
//!
//! The unit tests of the rules (`domain::tests`), the integration tests
//! (`tests/it/common`), the benchmark (`benches/throughput.rs`), the
//! differential test and `collab-worker demo` all build their events here, so
//! an event's shape is written once. It is pure (no I/O) and small, so it is
//! compiled always: the demo is part of the binary.

pub mod events;
mod scenario;

pub use events::Ev;
pub use scenario::{Outcomes, Scenario, data, first, order, product, time, types};
