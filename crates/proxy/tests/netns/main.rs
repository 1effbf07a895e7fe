//! Transparent interception inside network namespaces with real iptables
//! rules. Needs root; fails with a clear message without it.
#![allow(clippy::unwrap_used, clippy::expect_used)]
