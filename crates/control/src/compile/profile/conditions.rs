//! A ServiceProfile's conditions in the shapes a proxy route takes:
//! request conditions as alternatives of (method, path regex) pairs,
//! response classes as the set of statuses that are failures.

use weft_api::kinds::linkerd::{RequestMatch, ResponseClass, ResponseMatch};
use weft_proto::config::{PathMatch, RouteMatch, StatusRange};

/// How many alternatives a condition may expand to (`all` of `any`s
/// multiplies them).
const MAX_ALTERNATIVES: usize = 64;

/// The statuses a response class can match (linkerd2 `pkg/profiles`).
const FIRST: u16 = 100;
const LAST: u16 = 599;
const STATUSES: usize = (LAST - FIRST + 1) as usize;

/// One alternative: all present conditions must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Conj {
    method: Option<String>,
    path: Option<String>,
}

/// The route's match blocks: any one must hold (Istio's route semantics).
/// `Err` says why the condition cannot be carried out (`not`, or two
/// different path regexes that must both hold: RE2 cannot intersect
/// them). An empty list: nothing can match (say, `all` of two methods).
pub fn route_matches(m: &RequestMatch) -> Result<Vec<RouteMatch>, &'static str> {
    Ok(dnf(m)?
        .into_iter()
        .map(|c| RouteMatch {
            method: c.method.map(weft_proto::config::StringMatch::Exact),
            // linkerd2 matches `pathRegex` against the whole path, as
            // weft's path regexes do.
            path: c.path.map(PathMatch::Regex),
            ..RouteMatch::default()
        })
        .collect())
}

/// linkerd2 `RequestMatch`: set fields are ANDed; `all` ANDs its
/// conditions, `any` ORs them.
fn dnf(m: &RequestMatch) -> Result<Vec<Conj>, &'static str> {
    if m.not.is_some() {
        return Err("weft does not carry out `not` request conditions yet");
    }
    let mut out = vec![Conj {
        method: m.method.clone(),
        path: m.path_regex.clone(),
    }];
    for sub in &m.all {
        out = and(&out, &dnf(sub)?)?;
    }
    if !m.any.is_empty() {
        let mut alternatives = Vec::new();
        for sub in &m.any {
            alternatives.extend(dnf(sub)?);
        }
        out = and(&out, &alternatives)?;
    }
    Ok(out)
}

fn and(a: &[Conj], b: &[Conj]) -> Result<Vec<Conj>, &'static str> {
    let mut out = Vec::new();
    for x in a {
        for y in b {
            let method = match (&x.method, &y.method) {
                // A request has one method: never both.
                (Some(p), Some(q)) if p != q => continue,
                (Some(m), _) | (None, Some(m)) => Some(m.clone()),
                (None, None) => None,
            };
            let path = match (&x.path, &y.path) {
                (Some(p), Some(q)) if p != q => {
                    return Err("weft cannot require two different `pathRegex`es at once");
                }
                (Some(p), _) | (None, Some(p)) => Some(p.clone()),
                (None, None) => None,
            };
            let c = Conj { method, path };
            if !out.contains(&c) {
                out.push(c);
            }
            if out.len() > MAX_ALTERNATIVES {
                return Err("the condition expands to too many alternatives");
            }
        }
    }
    Ok(out)
}

/// The statuses that are failures: each response takes the class of the
/// first class that matches it; one no class matches is a failure when
/// it is a 5xx (linkerd.io "Service Profiles", Response Class). `None`:
/// no classes, Linkerd's default (5xx).
pub fn failures(classes: &[ResponseClass]) -> Option<Vec<StatusRange>> {
    if classes.is_empty() {
        return None;
    }
    let mut decided: Vec<Option<bool>> = vec![None; STATUSES];
    for class in classes {
        let Some(cond) = &class.condition else {
            continue;
        };
        let set = statuses(cond);
        for (i, d) in decided.iter_mut().enumerate() {
            if d.is_none() && set[i] {
                *d = Some(class.is_failure);
            }
        }
    }
    let mut out: Vec<StatusRange> = Vec::new();
    for (i, d) in decided.iter().enumerate() {
        let status = FIRST + i as u16;
        if !d.unwrap_or(status >= 500) {
            continue;
        }
        match out.last_mut() {
            Some(r) if r.max + 1 == status => r.max = status,
            _ => out.push(StatusRange {
                min: status,
                max: status,
            }),
        }
    }
    Some(out)
}

/// Whether the failure ranges are exactly 5xx.
pub fn is_5xx(ranges: &[StatusRange]) -> bool {
    ranges == [StatusRange { min: 500, max: 599 }]
}

/// linkerd2 `ResponseMatch` over statuses 100..=599: set fields ANDed.
fn statuses(m: &ResponseMatch) -> Vec<bool> {
    let mut set = vec![true; STATUSES];
    let mut and = |other: Vec<bool>| {
        for (s, o) in set.iter_mut().zip(other) {
            *s = *s && o;
        }
    };
    if let Some(r) = &m.status {
        // 0 (or absent) leaves that end open.
        let min = if r.min == 0 { u32::from(FIRST) } else { r.min };
        let max = if r.max == 0 { u32::from(LAST) } else { r.max };
        and((FIRST..=LAST)
            .map(|s| (min..=max).contains(&u32::from(s)))
            .collect());
    }
    for sub in &m.all {
        and(statuses(sub));
    }
    if !m.any.is_empty() {
        let mut any = vec![false; STATUSES];
        for sub in &m.any {
            for (a, s) in any.iter_mut().zip(statuses(sub)) {
                *a = *a || s;
            }
        }
        and(any);
    }
    if let Some(not) = &m.not {
        and(statuses(not).into_iter().map(|s| !s).collect());
    }
    set
}
