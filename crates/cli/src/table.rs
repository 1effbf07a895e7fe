//! Plain aligned tables, as `kubectl get` prints them, and the `-o`
//! formats the observing commands share.

/// `-o`: a table, a wider table, or JSON.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    #[default]
    Table,
    Wide,
    Json,
}

/// `s`, or `-` for an empty cell (an unknown peer, no namespace).
pub fn dash(s: &str) -> String {
    if s.is_empty() { "-" } else { s }.to_string()
}

/// Renders `rows` under `headers`, each column as wide as its widest cell.
pub fn render(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut parts = Vec::new();
        for (cell, w) in cells.zip(&widths) {
            parts.push(format!("{cell:<w$}"));
        }
        out.push_str(parts.join("  ").trim_end());
        out.push('\n');
    };
    line(&mut headers.iter().copied());
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn columns_line_up() {
        let t = super::render(
            &["NAME", "STATE"],
            &[
                vec!["a-long-name".into(), "SYNCED".into()],
                vec!["b".into(), "STALE".into()],
            ],
        );
        assert_eq!(
            t,
            "NAME         STATE\na-long-name  SYNCED\nb            STALE\n"
        );
    }
}
