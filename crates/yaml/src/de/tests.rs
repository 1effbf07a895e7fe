use std::collections::BTreeMap;

use serde::Deserialize;

use super::*;
use crate::tree::parse_documents;

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Rule {
    #[serde(default)]
    route: Vec<RouteDestination>,
    timeout: Option<String>,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RouteDestination {
    destination: Destination,
    weight: Option<u32>,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Destination {
    host: String,
    subset: Option<String>,
    #[serde(alias = "port_number")]
    port_number: Option<u16>,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum Mode {
    Strict,
    Permissive,
}

#[derive(Debug, Deserialize, PartialEq)]
struct Lenient {
    name: String,
    #[serde(flatten)]
    _rest: BTreeMap<String, serde::de::IgnoredAny>,
}

fn read<T: for<'a> Deserialize<'a>>(yaml: &str) -> Result<(T, Vec<Problem>), Vec<Problem>> {
    let docs = parse_documents(yaml).unwrap();
    from_node::<T>(&docs[0].root)
}

fn described(problems: &[Problem]) -> Vec<String> {
    problems
        .iter()
        .map(|p| format!("{}:{}: {}", p.pos.line, p.path, p.kind))
        .collect()
}

#[test]
fn every_unknown_field_is_reported_and_the_rest_is_read() {
    let yaml = "\
route:
  - destination:
      host: reviews
      subset: v1
      weight: 50
  - destination:
      host: reviews
      subset: v3
      weight: 50
    timeout: 1s
";
    let (rule, problems) = read::<Rule>(yaml).unwrap();
    assert_eq!(
        described(&problems),
        [
            "5:route[0].destination.weight: unknown field `weight`",
            "9:route[1].destination.weight: unknown field `weight`",
            "10:route[1].timeout: unknown field `timeout`",
        ]
    );
    assert_eq!(rule.route.len(), 2);
    assert_eq!(rule.route[1].destination.subset.as_deref(), Some("v3"));
    match &problems[0].kind {
        ProblemKind::UnknownField { expected, .. } => {
            assert!(expected.contains(&"host") && expected.contains(&"portNumber"));
            assert!(
                expected.contains(&"port_number"),
                "aliases are accepted names"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_wrong_type_stops_with_its_path_and_line() {
    let yaml = "route:\n  - destination:\n      host: [a, b]\n";
    let problems = read::<Rule>(yaml).unwrap_err();
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].path.to_string(), "route[0].destination.host");
    assert_eq!(problems[0].pos.line, 3);
    assert!(
        problems[0].kind.to_string().contains("expected a string"),
        "{:?}",
        problems[0]
    );
}

#[test]
fn a_missing_field_is_reported_where_its_parent_is() {
    let yaml = "route:\n  - weight: 10\n    destination:\n      subset: v1\n";
    let problems = read::<Rule>(yaml).unwrap_err();
    assert_eq!(
        described(&problems),
        ["4:route[0].destination: missing field `host`"]
    );
}

#[test]
fn numbers_and_strings_read_as_protobuf_json_does() {
    let yaml = "route:\n  - destination: { host: 8080, portNumber: \"9080\" }\n    weight: '30'\n";
    let (rule, problems) = read::<Rule>(yaml).unwrap();
    assert!(problems.is_empty());
    assert_eq!(rule.route[0].destination.host, "8080");
    assert_eq!(rule.route[0].destination.port_number, Some(9080));
    assert_eq!(rule.route[0].weight, Some(30));
}

#[test]
fn null_reads_as_go_zero_values() {
    let (rule, _) = read::<Rule>("route:\ntimeout:\n").unwrap();
    assert_eq!(
        rule,
        Rule {
            route: vec![],
            timeout: None
        }
    );
}

#[test]
fn enums_name_the_values_they_accept() {
    let (mode, _) = read::<Mode>("PERMISSIVE").unwrap();
    assert_eq!(mode, Mode::Permissive);
    let problems = read::<Mode>("LAX").unwrap_err();
    assert_eq!(
        problems[0].kind.to_string(),
        "unknown value `LAX`; use one of `STRICT` or `PERMISSIVE`"
    );
}

#[test]
fn a_struct_with_a_catch_all_accepts_any_field() {
    let (v, problems) = read::<Lenient>("name: x\nimage: nginx\nports: [1]\n").unwrap();
    assert!(problems.is_empty());
    assert_eq!(v.name, "x");
}

#[test]
fn struct_fields_traces_what_each_place_accepts() {
    let docs = parse_documents("route:\n  - destination: { host: a }\n    timeout: 1s\n").unwrap();
    let trace = struct_fields::<Rule>(&docs[0].root);
    let at = |p: &str| {
        trace
            .iter()
            .find(|(path, _)| path.to_string() == p)
            .map(|(_, f)| *f)
    };
    assert!(at("").unwrap().contains(&"timeout"));
    assert!(at("route[0]").unwrap().contains(&"weight"));
    assert!(at("route[0].destination").unwrap().contains(&"subset"));
}
