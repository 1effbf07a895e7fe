//! Tests that run the real `weft-proxy` binary: signals, drain, admin,
//! bad input and resource use.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod admin;
mod bad_input;
mod drain;
mod idle;
mod memory;
mod metrics;
mod signals;
mod support;
