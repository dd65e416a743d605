//! The wire contract (`../shared/spec/contract.md`): CloudEvents envelopes,
//! inbound event types, outcome types and their value types. Everything that
//! crosses the broker is parsed or written here and nowhere else.

pub mod envelope;
pub mod events;
pub mod outcomes;
pub mod values;

#[cfg(test)]
mod contract_tests;
