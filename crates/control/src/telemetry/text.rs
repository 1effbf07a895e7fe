//! Reading the Prometheus / OpenMetrics text a proxy's `/metrics` serves:
//! one sample per line, `name{label="value",...} value [timestamp]`.
//! Only what the aggregator needs: comments and `# EOF` are skipped, and a
//! line that cannot be read is skipped rather than failing the scrape.

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample<'a> {
    pub name: &'a str,
    /// Label names and values, values unescaped.
    pub labels: Vec<(&'a str, String)>,
    pub value: f64,
}

impl Sample<'_> {
    pub fn label(&self, name: &str) -> &str {
        self.labels
            .iter()
            .find(|(k, _)| *k == name)
            .map_or("", |(_, v)| v.as_str())
    }
}

/// The samples of `text` whose metric name passes `wanted`.
pub fn samples<'a>(
    text: &'a str,
    wanted: impl Fn(&str) -> bool + 'a,
) -> impl Iterator<Item = Sample<'a>> + 'a {
    text.lines().filter_map(move |line| {
        let line = line.trim_end();
        if line.is_empty() || line.starts_with('#') {
            return None;
        }
        let name_end = line.find(['{', ' '])?;
        let name = &line[..name_end];
        if !wanted(name) {
            return None;
        }
        let (labels, rest) = if line[name_end..].starts_with('{') {
            parse_labels(&line[name_end + 1..])?
        } else {
            (Vec::new(), &line[name_end..])
        };
        let value = rest.split_whitespace().next()?;
        let value = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().ok()?,
        };
        Some(Sample {
            name,
            labels,
            value,
        })
    })
}

/// `k="v",k2="v2"}` → labels and what follows the `}`.
fn parse_labels(mut s: &str) -> Option<(Vec<(&str, String)>, &str)> {
    let mut out = Vec::new();
    loop {
        s = s.trim_start_matches([',', ' ']);
        if let Some(rest) = s.strip_prefix('}') {
            return Some((out, rest));
        }
        let eq = s.find('=')?;
        let key = s[..eq].trim();
        let mut chars = s[eq + 1..].char_indices();
        if chars.next()?.1 != '"' {
            return None;
        }
        let mut value = String::new();
        let mut end = None;
        let mut escaped = false;
        for (i, c) in chars {
            match (escaped, c) {
                (true, 'n') => {
                    value.push('\n');
                    escaped = false;
                }
                (true, c) => {
                    value.push(c);
                    escaped = false;
                }
                (false, '\\') => escaped = true,
                (false, '"') => {
                    end = Some(eq + 1 + i + 1);
                    break;
                }
                (false, c) => value.push(c),
            }
        }
        out.push((key, value));
        s = &s[end?..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_names_labels_escapes_and_values() {
        let text = r#"# HELP istio_requests_total Requests.
# TYPE istio_requests_total counter
istio_requests_total{reporter="destination",source_workload="product\"page",response_code="200"} 12
istio_request_duration_milliseconds_bucket{reporter="source",le="+Inf"} 3
weft_up 1
bad{line 7
# EOF
"#;
        let got: Vec<_> = samples(text, |_| true).collect();
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(got[0].name, "istio_requests_total");
        assert_eq!(got[0].label("source_workload"), "product\"page");
        assert_eq!(got[0].label("response_code"), "200");
        assert_eq!(got[0].label("missing"), "");
        assert_eq!(got[0].value, 12.0);
        assert_eq!(got[1].label("le"), "+Inf");
        assert_eq!(got[2].name, "weft_up");
        assert!(got[2].labels.is_empty());
        let only: Vec<_> = samples(text, |n| n == "weft_up").collect();
        assert_eq!(only.len(), 1);
    }
}
