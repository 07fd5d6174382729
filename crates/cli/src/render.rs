//! Tables as the CLI prints them: columns sized by display width (a Japanese character takes two
//! cells), so labels of any script line up.

use comfy_table::{CellAlignment, Table, presets};

/// How a column's cells are aligned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Align {
    Left,
    Right,
}

/// `rows` under `header`, with no borders, each line indented by `indent` spaces.
pub(crate) fn table(header: &[&str], align: &[Align], rows: &[Vec<String>], indent: usize) -> String {
    let mut t = Table::new();
    t.load_preset(presets::NOTHING);
    t.set_header(header.iter().map(|h| h.to_string()).collect::<Vec<_>>());
    for r in rows {
        t.add_row(r.clone());
    }
    for (i, a) in align.iter().enumerate() {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(if *a == Align::Right { CellAlignment::Right } else { CellAlignment::Left });
        }
    }
    let pad = " ".repeat(indent);
    t.lines().map(|l| format!("{pad}{}", l.trim_end())).collect::<Vec<_>>().join("\n")
}

pub(crate) fn print_schema(s: &mitsu_api::Schema) {
    let mut rows = Vec::new();
    for c in &s.columns {
        let ty = match &c.kind {
            mitsu_api::Kind::Real { scale } => {
                format!("real({scale}), rounded to ±{}", mitsu_api::encode::half_unit(*scale))
            }
            k => k.display(),
        };
        let range = match c.kind {
            mitsu_api::Kind::Key => "-".to_string(),
            mitsu_api::Kind::Category => format!("labels of up to {} bytes", c.label_width()),
            mitsu_api::Kind::Text => format!("labels of up to {} bytes (compared on a hash)", c.label_width()),
            _ => format!("|encoded| < 2^{}", c.bits),
        };
        rows.push(vec![c.name.clone(), ty, if c.nullable { "yes" } else { "no" }.to_string(), range]);
    }
    let l = Align::Left;
    println!("{}", table(&["column", "type", "nullable", "range"], &[l, l, l, l], &rows, 1));
}

pub(crate) fn human_bytes(b: u64) -> String {
    match b {
        0..1_000 => format!("{b} B"),
        1_000..1_000_000 => format!("{:.1} kB", b as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1} MB", b as f64 / 1e6),
        _ => format!("{:.2} GB", b as f64 / 1e9),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn japanese_labels_line_up_by_display_width() {
        let rows = vec![vec!["東京病院".to_string(), "1".to_string()], vec!["osaka".to_string(), "22".to_string()]];
        let out = table(&["病院名", "n"], &[Align::Left, Align::Right], &rows, 0);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3, "{out}");
        // the count column ends at the same display column on every line
        let width = |s: &str| s.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum::<usize>();
        assert_eq!(width(lines[1]), width(lines[2]), "{out}");
        assert_eq!(width(lines[0]), width(lines[1]), "{out}");
    }
}
