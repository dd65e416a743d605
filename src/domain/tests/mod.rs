//! Unit tests of the rules, one file per rule family: given events, when an
//! event arrives, then these outcomes and this state. No I/O.

mod campaign;
mod commission;
mod late_facts;
mod module_graph;
mod participation;
