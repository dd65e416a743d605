//! Operator and newcomer commands beside `run`: dead-letter tools.

pub mod dlq;
