//! Istio's string patterns in authorization policies: an exact value, a
//! `prefix*`, a `*suffix`, or `*` (any non-empty value).

/// One compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    Exact(String),
    Prefix(String),
    Suffix(String),
    /// `*`: anything but an absent or empty value.
    Any,
}

impl Pattern {
    pub fn new(s: &str) -> Self {
        if s == "*" {
            Pattern::Any
        } else if let Some(p) = s.strip_suffix('*') {
            Pattern::Prefix(p.to_string())
        } else if let Some(p) = s.strip_prefix('*') {
            Pattern::Suffix(p.to_string())
        } else {
            Pattern::Exact(s.to_string())
        }
    }

    /// Host patterns compare case-insensitively.
    pub fn host(s: &str) -> Self {
        Self::new(&s.to_ascii_lowercase())
    }

    pub fn matches(&self, v: &str) -> bool {
        match self {
            Pattern::Exact(e) => v == e,
            Pattern::Prefix(p) => v.starts_with(p.as_str()),
            Pattern::Suffix(p) => v.ends_with(p.as_str()),
            Pattern::Any => !v.is_empty(),
        }
    }
}

/// Whether `v` matches any of `patterns`; an absent value matches none.
pub fn any(patterns: &[Pattern], v: Option<&str>) -> bool {
    v.is_some_and(|v| patterns.iter().any(|p| p.matches(v)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_follow_istio() {
        let cases = [
            ("/info", "/info", true),
            ("/info", "/info/x", false),
            ("/api/*", "/api/v1", true),
            ("*.html", "/a/index.html", true),
            ("*", "anything", true),
            ("*", "", false),
        ];
        for (p, v, want) in cases {
            assert_eq!(Pattern::new(p).matches(v), want, "{p} vs {v}");
        }
        assert!(
            !any(&[Pattern::Any], None),
            "an absent value matches nothing"
        );
        assert!(Pattern::host("*.Example.COM").matches("api.example.com"));
    }
}
