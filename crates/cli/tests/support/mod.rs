//! Helpers shared by the process tests.

pub mod bookinfo;
pub mod gateway;
pub mod pcap;
