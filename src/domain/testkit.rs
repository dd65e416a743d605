//! The unit tests' given/when/then: the crate's test vocabulary
//! ([`crate::testkit`]), shared with the integration tests, the benchmark
//! and the demo.

pub use crate::testkit::*;
