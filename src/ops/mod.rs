//! Operator and newcomer commands beside `run`: dead-letter tools, the demo.

pub mod demo;
pub mod dlq;
