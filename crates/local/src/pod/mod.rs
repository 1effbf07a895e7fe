//! Network-namespace pods: a bridge, one namespace per workload replica
//! with a veth onto the bridge, Istio's capture rules, and `/etc/hosts`.
