use crate::domain::testkit::*;
