//! weft's control plane: it reads what users write (`sources`), works out
//! what each proxy needs (`views`), and keeps every proxy up to date over
//! the config stream (`server`).

pub mod api;
pub mod ca;
pub mod compile;
pub mod dashboard;
pub mod model;
pub mod run;
pub mod server;
pub mod store;
pub mod tap;
pub mod telemetry;
pub mod views;
