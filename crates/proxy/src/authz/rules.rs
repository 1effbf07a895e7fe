//! A policy's rules, compiled, and how a request or connection matches
//! them.

use std::net::IpAddr;
use std::str::FromStr;

use http::HeaderName;
use weft_proto::config::{self, IpBlock};

use super::pattern::{Pattern, any};
use super::{Attrs, Mode};

/// A rule: one of `from`, one of `to`, all of `when` (absent parts match).
#[derive(Debug)]
pub struct Rule {
    from: Vec<Source>,
    to: Vec<Operation>,
    when: Vec<Condition>,
}

#[derive(Debug)]
struct Source {
    principals: Vec<Pattern>,
    not_principals: Vec<Pattern>,
    request_principals: Vec<Pattern>,
    not_request_principals: Vec<Pattern>,
    namespaces: Vec<Pattern>,
    not_namespaces: Vec<Pattern>,
    ip_blocks: Vec<IpBlock>,
    not_ip_blocks: Vec<IpBlock>,
    remote_ip_blocks: Vec<IpBlock>,
    not_remote_ip_blocks: Vec<IpBlock>,
}

/// Reads one HTTP attribute of a request.
type Field = for<'h> fn(&super::HttpAttrs<'h>) -> &'h str;

#[derive(Debug)]
struct Operation {
    hosts: Vec<Pattern>,
    not_hosts: Vec<Pattern>,
    ports: Vec<u16>,
    not_ports: Vec<u16>,
    methods: Vec<Pattern>,
    not_methods: Vec<Pattern>,
    paths: Vec<Pattern>,
    not_paths: Vec<Pattern>,
}

#[derive(Debug)]
struct Condition {
    key: Key,
    values: Values,
    not_values: Values,
}

/// A condition's values, compiled for the key's kind of attribute.
#[derive(Debug, Default)]
struct Values {
    patterns: Vec<Pattern>,
    blocks: Vec<IpBlock>,
    ports: Vec<u16>,
}

/// The attributes a `when` condition may name (Istio's list).
#[derive(Debug)]
enum Key {
    Header(HeaderName),
    SourceIp,
    RemoteIp,
    SourceNamespace,
    SourcePrincipal,
    DestinationIp,
    DestinationPort,
    /// `request.auth.*`: JWT claims, which weft does not validate yet; no
    /// request carries them, so conditions on them never hold.
    RequestAuth,
    /// Anything else weft cannot evaluate (`connection.sni` on plaintext,
    /// `experimental.*`): never holds.
    Unknown,
}

/// The result of matching one part against a connection that carries no
/// HTTP: an HTTP-only part is `Missing`, and what that means depends on
/// the policy's action (see [`Mode`]).
#[derive(PartialEq, Eq)]
enum Part {
    Yes,
    No,
    Missing,
}

// === impl Rule ===

impl Rule {
    pub fn new(r: &config::Rule) -> Self {
        Self {
            from: r.from.iter().map(Source::new).collect(),
            to: r.to.iter().map(Operation::new).collect(),
            when: r.when.iter().map(Condition::new).collect(),
        }
    }

    pub fn matches(&self, a: &Attrs<'_>, mode: Mode) -> bool {
        let any_of = |parts: &mut dyn Iterator<Item = Part>, empty: bool| -> bool {
            let mut saw = false;
            for p in parts {
                saw = true;
                if resolve(p, mode) {
                    return true;
                }
            }
            empty || !saw
        };
        any_of(
            &mut self.from.iter().map(|s| s.matches(a)),
            self.from.is_empty(),
        ) && any_of(
            &mut self.to.iter().map(|o| o.matches(a)),
            self.to.is_empty(),
        ) && self.when.iter().all(|c| resolve(c.matches(a), mode))
    }
}

/// Istio on TCP traffic: an ALLOW rule with an HTTP-only field does not
/// match (the connection is denied); a DENY rule ignores its HTTP-only
/// fields (it denies more). Both fail closed.
fn resolve(p: Part, mode: Mode) -> bool {
    match p {
        Part::Yes => true,
        Part::No => false,
        Part::Missing => mode == Mode::Deny,
    }
}

/// Folds parts that must all hold, without allocating: one that fails
/// decides; a missing attribute counts only when nothing failed.
#[derive(Default)]
struct All {
    no: bool,
    missing: bool,
}

impl All {
    fn push(&mut self, p: Part) {
        match p {
            Part::Yes => {}
            Part::No => self.no = true,
            Part::Missing => self.missing = true,
        }
    }

    fn result(self) -> Part {
        if self.no {
            Part::No
        } else if self.missing {
            Part::Missing
        } else {
            Part::Yes
        }
    }
}

fn bool_part(b: bool) -> Part {
    if b { Part::Yes } else { Part::No }
}

// === impl Source ===

impl Source {
    fn new(s: &config::Source) -> Self {
        let pats = |v: &[String]| v.iter().map(|p| Pattern::new(p)).collect();
        let blocks = |v: &[String]| v.iter().filter_map(|b| IpBlock::parse(b)).collect();
        Self {
            principals: pats(&s.principals),
            not_principals: pats(&s.not_principals),
            request_principals: pats(&s.request_principals),
            not_request_principals: pats(&s.not_request_principals),
            namespaces: pats(&s.namespaces),
            not_namespaces: pats(&s.not_namespaces),
            ip_blocks: blocks(&s.ip_blocks),
            not_ip_blocks: blocks(&s.not_ip_blocks),
            remote_ip_blocks: blocks(&s.remote_ip_blocks),
            not_remote_ip_blocks: blocks(&s.not_remote_ip_blocks),
        }
    }

    fn matches(&self, a: &Attrs<'_>) -> Part {
        let principal = a.identity.map(|i| i.principal.as_str());
        let namespace = a.identity.map(|i| i.namespace.as_str());
        let mut parts = All::default();
        let mut names = |yes: &[Pattern], no: &[Pattern], v: Option<&str>| {
            if !yes.is_empty() {
                parts.push(bool_part(any(yes, v)));
            }
            if !no.is_empty() {
                parts.push(bool_part(!any(no, v)));
            }
        };
        names(&self.principals, &self.not_principals, principal);
        names(&self.namespaces, &self.not_namespaces, namespace);
        let mut ips = |yes: &[IpBlock], no: &[IpBlock], ip: IpAddr| {
            if !yes.is_empty() {
                parts.push(bool_part(yes.iter().any(|b| b.contains(ip))));
            }
            if !no.is_empty() {
                parts.push(bool_part(!no.iter().any(|b| b.contains(ip))));
            }
        };
        ips(&self.ip_blocks, &self.not_ip_blocks, a.peer);
        ips(&self.remote_ip_blocks, &self.not_remote_ip_blocks, a.remote);
        // A request principal comes from a validated JWT (HTTP only); weft
        // validates none yet, so no request has one.
        if !self.request_principals.is_empty() || !self.not_request_principals.is_empty() {
            parts.push(match a.http {
                None => Part::Missing,
                Some(_) => bool_part(self.request_principals.is_empty()),
            });
        }
        parts.result()
    }
}

// === impl Operation ===

impl Operation {
    fn new(o: &config::Operation) -> Self {
        let pats = |v: &[String]| v.iter().map(|p| Pattern::new(p)).collect();
        let hosts = |v: &[String]| v.iter().map(|p| Pattern::host(p)).collect();
        Self {
            hosts: hosts(&o.hosts),
            not_hosts: hosts(&o.not_hosts),
            ports: o.ports.clone(),
            not_ports: o.not_ports.clone(),
            methods: pats(&o.methods),
            not_methods: pats(&o.not_methods),
            paths: pats(&o.paths),
            not_paths: pats(&o.not_paths),
        }
    }

    fn matches(&self, a: &Attrs<'_>) -> Part {
        let mut parts = All::default();
        if !self.ports.is_empty() {
            parts.push(bool_part(self.ports.contains(&a.port)));
        }
        if !self.not_ports.is_empty() {
            parts.push(bool_part(!self.not_ports.contains(&a.port)));
        }
        let http_fields: [(&[Pattern], bool, Field); 6] = [
            (&self.hosts, true, |h| h.host),
            (&self.not_hosts, false, |h| h.host),
            (&self.methods, true, |h| h.method),
            (&self.not_methods, false, |h| h.method),
            (&self.paths, true, |h| h.path),
            (&self.not_paths, false, |h| h.path),
        ];
        for (patterns, positive, get) in http_fields {
            if patterns.is_empty() {
                continue;
            }
            parts.push(match &a.http {
                None => Part::Missing,
                Some(h) => bool_part(any(patterns, Some(get(h))) == positive),
            });
        }
        parts.result()
    }
}

// === impl Condition ===

impl Condition {
    fn new(c: &config::Condition) -> Self {
        let key = if let Some(h) = c
            .key
            .strip_prefix("request.headers[")
            .and_then(|k| k.strip_suffix(']'))
        {
            HeaderName::from_str(h).map_or(Key::Unknown, Key::Header)
        } else {
            match c.key.as_str() {
                "source.ip" => Key::SourceIp,
                "remote.ip" => Key::RemoteIp,
                "source.namespace" => Key::SourceNamespace,
                "source.principal" => Key::SourcePrincipal,
                "destination.ip" => Key::DestinationIp,
                "destination.port" => Key::DestinationPort,
                k if k.starts_with("request.auth.") => Key::RequestAuth,
                _ => Key::Unknown,
            }
        };
        let values = |list: &[String]| Values {
            patterns: list.iter().map(|p| Pattern::new(p)).collect(),
            blocks: list.iter().filter_map(|b| IpBlock::parse(b)).collect(),
            ports: list.iter().filter_map(|p| p.parse().ok()).collect(),
        };
        Self {
            key,
            values: values(&c.values),
            not_values: values(&c.not_values),
        }
    }

    /// Holds when the attribute matches one of `values` (or there are
    /// none) and none of `not_values`; an absent attribute matches no
    /// value.
    fn matches(&self, a: &Attrs<'_>) -> Part {
        let holds = |hit: &dyn Fn(&Values) -> bool| {
            bool_part(
                (self.values.patterns.is_empty() || hit(&self.values)) && !hit(&self.not_values),
            )
        };
        let text = |v: Option<&str>| holds(&|vals: &Values| any(&vals.patterns, v));
        let ip = |v: Option<IpAddr>| {
            holds(&|vals: &Values| v.is_some_and(|ip| vals.blocks.iter().any(|b| b.contains(ip))))
        };
        match &self.key {
            Key::Header(name) => match &a.http {
                None => Part::Missing,
                Some(h) => text(h.headers.get(name).and_then(|v| v.to_str().ok())),
            },
            Key::SourceIp => ip(Some(a.peer)),
            Key::RemoteIp => ip(Some(a.remote)),
            Key::SourceNamespace => text(a.identity.map(|i| i.namespace.as_str())),
            Key::SourcePrincipal => text(a.identity.map(|i| i.principal.as_str())),
            Key::DestinationIp => ip(a.local.map(|l| l.ip())),
            Key::DestinationPort => holds(&|vals: &Values| vals.ports.contains(&a.port)),
            Key::RequestAuth => match a.http {
                None => Part::Missing,
                Some(_) => text(None),
            },
            Key::Unknown => text(None),
        }
    }
}
