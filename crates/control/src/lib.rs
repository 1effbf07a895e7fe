//! weft's control plane: it reads what users write (`sources`), works out
//! what each proxy needs (`views`), and keeps every proxy up to date over
//! the config stream (`server`).

pub mod compile;
pub mod model;
pub mod server;
pub mod views;
