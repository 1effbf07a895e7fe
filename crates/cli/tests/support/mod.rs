//! Helpers shared by the process tests.

pub mod bookinfo;
pub mod gateway;
pub mod local_mesh;
pub mod pcap;
