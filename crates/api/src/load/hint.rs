//! Hints that turn "unknown field" into "this is what slipped, and where
//! it goes". Config copied from slides and docs mostly breaks in a few
//! ways: a field indented one level too deep (`weight` inside
//! `destination`), one not indented under the key it belongs to
//! (`end-user` beside an empty `headers:`), a list item nested where a new
//! rule was meant (`- route:` inside a route list), and old field names.

use weft_yaml::{FieldPath, Node, Segment, StructFields, SyntaxError};

/// Fields renamed upstream, with what to write instead.
const RENAMED: &[(&str, &str)] = &[
    (
        "mirror_percent",
        "`mirrorPercentage: { value: 50 }` on the HTTP rule (Istio removed `mirror_percent`)",
    ),
    (
        "mirrorPercent",
        "`mirrorPercentage: { value: 50 }` on the HTTP rule (Istio removed `mirrorPercent`)",
    ),
];

/// The most names to list when nothing better can be said.
const MAX_LISTED: usize = 16;

/// "unknown field `x`" plus the most likely fix.
pub(super) fn unknown_field(
    field: &str,
    path: &FieldPath,
    expected: &[&str],
    root: &Node,
    trace: &[StructFields],
) -> String {
    let parent = path.parent();
    let head = format!("unknown field `{field}` in {}", describe(&parent));
    if let Some((_, instead)) = RENAMED.iter().find(|(old, _)| *old == field) {
        return format!("{head}; write {instead}");
    }
    if let Some(fix) = belongs_higher(field, path, root, trace) {
        return format!("{head}; {fix}");
    }
    if let Some(fix) = belongs_under_empty_sibling(field, &parent, root) {
        return format!("{head}; {fix}");
    }
    if let Some(close) = closest(field, expected) {
        return format!("{head}; did you mean `{close}`?");
    }
    let mut names: Vec<&str> = expected
        .iter()
        .copied()
        .filter(|n| !n.contains('_'))
        .collect();
    if names.is_empty() {
        return format!("{head}; nothing may be written here");
    }
    names.sort_unstable();
    let more = names.len().saturating_sub(MAX_LISTED);
    names.truncate(MAX_LISTED);
    let listed = weft_yaml::backticked(&names);
    if more > 0 {
        format!("{head}; this place accepts {listed} and {more} more")
    } else {
        format!("{head}; this place accepts {listed}")
    }
}

/// The field is valid on an ancestor: it was indented too deep.
fn belongs_higher(
    field: &str,
    path: &FieldPath,
    root: &Node,
    trace: &[StructFields],
) -> Option<String> {
    let parent = path.parent();
    let mut at = parent.parent();
    loop {
        let accepts = trace
            .iter()
            .any(|(p, fields)| *p == at && fields.contains(&field));
        if accepts {
            let target = root.get(&at)?;
            let first = target.entries().first()?;
            // `- route:` opening an item of a `route` list, where the owner
            // already has `route`: a new rule was meant, not a new route.
            let opens_item = matches!(parent.segments().last(), Some(Segment::Index(_)))
                && root
                    .get(&parent)?
                    .entries()
                    .first()
                    .is_some_and(|e| e.key == field);
            let owner_is_item = matches!(at.segments().last(), Some(Segment::Index(_)));
            if opens_item && owner_is_item && target.entry(field).is_some() {
                let list = at.parent();
                return Some(format!(
                    "`{field}` is a field of each item of `{list}`: to start another item, indent `- {field}:` like `- {}:` on line {}",
                    first.key, first.key_pos.line
                ));
            }
            return Some(format!(
                "it belongs to {}: un-indent it to line up with `{}:` on line {} (column {})",
                describe(&at),
                first.key,
                first.key_pos.line,
                first.key_pos.column
            ));
        }
        if at.is_root() {
            return None;
        }
        at = at.parent();
    }
}

/// The entry just above the field has no value: the field was meant under
/// it (`headers:` then `end-user:` at the same indentation).
fn belongs_under_empty_sibling(field: &str, parent: &FieldPath, root: &Node) -> Option<String> {
    let entries = root.get(parent)?.entries();
    let i = entries.iter().position(|e| e.key == field)?;
    let above = entries.get(i.checked_sub(1)?)?;
    above.value.is_null().then(|| {
        format!(
            "`{}:` on line {} is empty: if `{field}` belongs under it, indent it two more spaces",
            above.key, above.key_pos.line
        )
    })
}

/// A name close enough to be a typo of `word`.
pub(super) fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let folded = |s: &str| s.replace(['_', '-'], "").to_ascii_lowercase();
    let w = folded(word);
    candidates
        .iter()
        .map(|c| (strsim::levenshtein(&w, &folded(c)), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 5))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// `spec.http[0].route[0]` for a reader: the root is "the resource".
fn describe(path: &FieldPath) -> String {
    if path.is_root() {
        "the resource".to_string()
    } else {
        format!("`{path}`")
    }
}

/// A YAML syntax error with the line it is on, and an indentation hint
/// when the line starts with a key less indented than its neighbours.
pub(super) fn syntax(e: &SyntaxError, text: &str) -> String {
    let first = e.message.lines().next().unwrap_or("not valid YAML").trim();
    let msg = format!("not valid YAML: {first}");
    let Some(pos) = e.pos else {
        return msg;
    };
    let lines: Vec<&str> = text.lines().collect();
    let idx = usize::try_from(pos.line).unwrap_or(0).saturating_sub(1);
    let Some(line) = lines.get(idx) else {
        return msg;
    };
    let indent = line.len() - line.trim_start().len();
    let key = line.trim().split(':').next().unwrap_or_default();
    // The nearest line above that starts a key left of this one: the
    // level this key most likely belongs to.
    let owner = lines[..idx].iter().enumerate().rev().find_map(|(i, l)| {
        let body = l.trim_start();
        if body.is_empty() || body.starts_with('#') {
            return None;
        }
        let dash = usize::from(body.starts_with("- "));
        let col = l.len() - body.len() + 2 * dash;
        let name = body[2 * dash..].split(':').next().unwrap_or_default();
        (col < indent && body.contains(':')).then(|| (i + 1, col, name.to_string()))
    });
    match owner {
        Some((line_no, col, name)) => format!(
            "{msg}; `{key}:` (column {}) is indented deeper than `{name}:` on line {line_no} (column {}) but is not inside a block there: line it up with `{name}:`, or indent it under the item above",
            indent + 1,
            col + 1
        ),
        None => format!(
            "{msg}; check the indentation of `{key}:` (column {})",
            indent + 1
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_finds_typos_and_case_slips() {
        let names = ["mirrorPercentage", "retries", "timeout", "corsPolicy"];
        assert_eq!(closest("retires", &names), Some("retries"));
        assert_eq!(closest("cors_policy", &names), Some("corsPolicy"));
        assert_eq!(closest("weight", &names), None);
    }
}
