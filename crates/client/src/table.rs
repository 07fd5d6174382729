//! Reading a provider's CSV on its own machine: parse, infer or check the schema, validate every
//! row, encode every value exactly as an integer. Nothing is sent until the whole file is valid.
//!
//! Handles what real extracts contain: quoted fields with commas and newlines, UTF-8 with or without
//! a byte-order mark, Japanese text, empty cells as NULL, column names with spaces.

pub use mitsu_api::encode::{
    MAX_DIGITS, MAX_LABEL_BYTES, MAX_TEXT_BYTES, date_like, decompose, half_unit, key_of, missing_marker, number_like,
    pack_label, parse_date, parse_decimal, parse_real, text_chunks, unpack_label, unpack_text,
};
use mitsu_api::{ColumnSchema, Kind, Schema};
use std::path::Path;

/// A value that could not be read, located for the user.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TableError {
    #[error("{file}: {what}")]
    File { file: String, what: String },
    #[error("{file}, line {line}, column {column:?}: {} {why}", shown(value))]
    Value { file: String, line: u64, column: String, value: String, why: String },
}

/// A cell as an error quotes it: at most 60 characters (a 1000-byte label would bury the message).
fn shown(v: &str) -> String {
    match v.char_indices().nth(60) {
        Some((i, _)) => format!("{:?}…", &v[..i]),
        None => format!("{v:?}"),
    }
}

/// One encoded column: integers (NULL encoded as 0) and, for nullable columns, validity; for
/// text, the labels' bytes in payload chunks (`payload[k][row]`, zeros under NULL).
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub values: Vec<i128>,
    pub valid: Option<Vec<bool>>,
    pub payload: Vec<Vec<i128>>,
}

/// A validated, encoded table.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub schema: Schema,
    pub rows: usize,
    pub columns: Vec<Column>,
    /// What reading changed, for the user to see: cells read as NULL, values rounded.
    pub notes: Vec<String>,
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

fn bits_of(m: u128) -> u32 {
    128 - m.leading_zeros()
}

fn pow10(s: u32) -> i128 {
    10i128.pow(s)
}

/// Encodes one cell according to `c`; `Err(why)` for the user.
fn encode(c: &ColumnSchema, s: &str) -> Result<i128, String> {
    let v = match &c.kind {
        Kind::Integer => match parse_decimal(s) {
            Some((m, 0)) => m,
            Some(_) => return Err("is not a whole number".into()),
            None => return Err("is not a number".into()),
        },
        Kind::Decimal { scale } => match parse_decimal(s) {
            Some((m, sc)) if sc <= *scale => m.checked_mul(pow10(scale - sc)).ok_or("is too large")?,
            Some((_, sc)) => {
                return Err(format!(
                    "has {sc} decimal places; the schema allows {scale} (declare the column {{\"type\": \"real\", \"scale\": {scale}}} to round)"
                ));
            }
            None => return Err("is not a number".into()),
        },
        Kind::Real { scale } => match parse_real(s, *scale) {
            Some(r) => r?,
            None => return Err("is not a number".into()),
        },
        Kind::Boolean => parse_bool(s).ok_or("is not true or false")? as i128,
        Kind::Date => parse_date(s).ok_or("is not a date (YYYY-MM-DD)")?,
        Kind::Category => match pack_label(s, c.label_width()) {
            Some(v) => v,
            None if s.len() > MAX_LABEL_BYTES => return Err(long_label(s)),
            None => return Err(format!("is longer than the column's labels ({} bytes)", c.label_width())),
        },
        Kind::Key => key_of(s),
        Kind::Text => {
            if s.contains('\0') {
                return Err("contains a NUL character".into());
            }
            if s.len() > c.label_width() {
                return Err(format!("is {} bytes long; the column's labels have at most {}", s.len(), c.label_width()));
            }
            key_of(s)
        }
    };
    if bits_of(v.unsigned_abs()) > c.value_bits() {
        return Err(format!("is outside the declared range (|encoded value| < 2^{})", c.bits));
    }
    Ok(v)
}

fn long_label(s: &str) -> String {
    format!(
        "is {} bytes long; a text label holds at most {MAX_TEXT_BYTES} bytes (341 Japanese characters): shorten \
         it, or leave the column out of the file",
        s.len()
    )
}

/// Longest labels inference stores as a category (ordered, packed in one value); a column with a
/// longer label is text (hashed for equality and grouping, its bytes carried as payload). 12 bytes
/// (4 Japanese characters) keep a category's GROUP BY sort key within Z_2^128 over any table and
/// leave room for a second key.
pub const MAX_CATEGORY_INFERRED: usize = 12;

/// Decimal places inference gives a real column: the fewest that hold every value exactly, at
/// most 6, or more for columns of small numbers so that the largest keeps 9 significant digits
/// (a probability in [0, 1] gets 9 places). SQL computes products and variances of up to 9
/// places exactly; see docs/deployment.md.
fn real_scale(cells: &[(u64, &str)]) -> (u32, bool) {
    let parts: Vec<(String, i64)> = cells.iter().filter_map(|(_, s)| decompose(s)).map(|(_, d, e)| (d, e)).collect();
    let exact = parts.iter().map(|(d, e)| if d.is_empty() { 0 } else { (-e).max(0) }).max().unwrap_or(0);
    let magnitude = parts.iter().filter(|(d, _)| !d.is_empty()).map(|(d, e)| d.len() as i64 - 1 + e).max().unwrap_or(0);
    let cap = (8 - magnitude).clamp(6, 30);
    let scale = exact.min(cap) as u32;
    (scale, exact > cap)
}

/// Infers a column's schema from its non-empty cells (with their line numbers). A column whose
/// every value looks like a number, or like a date, is one: a value of that shape mitsu cannot
/// store exactly (`1e309`, `2024-02-30`) is an error naming its cell, never a reason to turn the
/// whole column into text. In a number column, `NA`, `NaN` and `inf` are missing values.
/// Returns the schema and a note for the user when values will be rounded.
fn infer_column(
    name: &str,
    cells: &[(u64, &str)],
    nullable: bool,
    is_key: bool,
    is_text: bool,
) -> Result<(ColumnSchema, Option<String>), (u64, String, String)> {
    let bad = |(line, v): (u64, &str), why: &str| (line, v.to_string(), why.to_string());
    let values: Vec<(u64, &str)> = cells.iter().copied().filter(|(_, s)| !missing_marker(s)).collect();
    let mut note = None;
    let kind = if is_key {
        Kind::Key
    } else if !values.is_empty() && values.iter().all(|(_, s)| number_like(s)) {
        let exponent = values.iter().any(|(_, s)| s.contains(['e', 'E']));
        let scale = values.iter().map(|(_, s)| parse_decimal(s).map(|p| p.1)).try_fold(0, |a, p| p.map(|p| a.max(p)));
        // more digits than a float64 carries (17) is an exact decimal, not a float as written
        let float_like = values.iter().all(|(_, s)| decompose(s).is_some_and(|(_, d, _)| d.len() <= 17));
        match scale {
            Some(0) if !exponent => Kind::Integer,
            Some(d) if d <= 6 && !exponent => Kind::Decimal { scale: d },
            Some(d) if !exponent && !float_like => Kind::Decimal { scale: d },
            _ => {
                let (scale, rounded) = real_scale(&values);
                if rounded {
                    note = Some(format!(
                        "column {name:?}: real numbers rounded to {scale} decimal places (error at most {} per value)",
                        half_unit(scale)
                    ));
                }
                Kind::Real { scale }
            }
        }
    } else if !cells.is_empty() && cells.iter().all(|(_, s)| parse_bool(s).is_some()) {
        Kind::Boolean
    } else if !cells.is_empty() && cells.iter().all(|(_, s)| date_like(s)) {
        if let Some(&c) = cells.iter().find(|(_, s)| parse_date(s).is_none()) {
            return Err(bad(c, "is not a valid date (YYYY-MM-DD); the other values of the column are dates"));
        }
        Kind::Date
    } else if let Some(&c) = cells.iter().find(|(_, s)| s.len() > MAX_TEXT_BYTES) {
        return Err(bad(c, &long_label(c.1)));
    } else if is_text || cells.iter().any(|(_, s)| s.len() > MAX_CATEGORY_INFERRED) {
        // a key is a key because the user says so: long text stays text, printed in results
        Kind::Text
    } else {
        Kind::Category
    };
    let numeric = kind.scale().is_some();
    let nullable = nullable || (numeric && values.len() < cells.len());
    let mut c = ColumnSchema { name: name.to_string(), kind, nullable, bits: 127 };
    if matches!(c.kind, Kind::Category | Kind::Text) {
        if let Some(&c) = cells.iter().find(|(_, s)| s.contains('\0')) {
            return Err(bad(c, "contains a NUL character"));
        }
        // labels are packed to the longest one's width, so GROUP BY keys stay narrow
        let w = cells.iter().map(|(_, s)| s.len()).max().unwrap_or(1).max(1);
        c.bits = 8 * w as u32;
        return Ok((c, note));
    }
    let mut m = 0;
    for &cell in if numeric { &values } else { cells } {
        match encode(&c, cell.1) {
            Ok(v) => m = m.max(v.unsigned_abs()),
            Err(why) => return Err(bad(cell, &why)),
        }
    }
    c.bits = match c.kind {
        Kind::Category | Kind::Text => unreachable!(),
        Kind::Key => 96,
        Kind::Boolean => 1,
        _ => bits_of(m).max(1),
    };
    Ok((c, note))
}

/// Reads `path`. With `schema`, every value is checked against it; without, a schema is inferred.
/// `key` names a column to treat as a join key. The first error aborts with its location.
pub fn read_csv(path: &Path, schema: Option<&Schema>, key: Option<&str>) -> Result<Table, TableError> {
    read_csv_as(path, schema, key, None)
}

/// As [`read_csv`]; `text` names columns to store as text whatever their labels' length (so a
/// column joins another provider's text column).
pub fn read_csv_as(
    path: &Path,
    schema: Option<&Schema>,
    key: Option<&str>,
    text: Option<&str>,
) -> Result<Table, TableError> {
    let file = path.display().to_string();
    let ferr = |what: String| TableError::File { file: file.clone(), what };
    // Excel in Japanese saves CSV as Shift_JIS: say so, and how to get UTF-8, instead of the
    // parser's "invalid utf-8 near byte index 0"
    let not_utf8 = |line: Option<u64>| {
        let at = line.map(|l| format!("line {l}: ")).unwrap_or_default();
        ferr(format!(
            "{at}the file is not UTF-8 text (Excel on Japanese Windows saves Shift_JIS): save it as \
             \"CSV UTF-8\", or convert it with `iconv -f CP932 -t UTF-8`"
        ))
    };
    let csv_err = |e: csv::Error| {
        let line = e.position().map(|p| p.line());
        if matches!(e.kind(), csv::ErrorKind::Utf8 { .. }) {
            return not_utf8(line);
        }
        match line {
            Some(l) => ferr(format!("line {l}: {e}")),
            None => ferr(e.to_string()),
        }
    };
    let mut rd = csv::ReaderBuilder::new().flexible(false).from_path(path).map_err(|e| ferr(e.to_string()))?;
    let mut headers: Vec<String> = rd.headers().map_err(csv_err)?.iter().map(|h| h.trim().to_string()).collect();
    if let Some(h) = headers.first_mut() {
        *h = h.trim_start_matches('\u{feff}').to_string();
    }
    if headers.is_empty() {
        return Err(ferr("every column needs a name in the header row".into()));
    }
    if let Some(i) = headers.iter().position(|h| h.is_empty()) {
        let hint = if i == 0 { " (pandas writes its row index so: save with to_csv(index=False))" } else { "" };
        return Err(ferr(format!("column {} has no name in the header row{hint}", i + 1)));
    }
    for (i, h) in headers.iter().enumerate() {
        if headers[..i].contains(h) {
            return Err(ferr(format!("column {h:?} appears twice in the header")));
        }
    }
    // `--key a,b`: every named column a key
    let list = |k: Option<&str>| -> Vec<String> {
        k.map(|k| k.split(',').map(str::trim).filter(|k| !k.is_empty()).map(String::from).collect()).unwrap_or_default()
    };
    let (keys, texts) = (list(key), list(text));
    for (flag, names) in [("--key", &keys), ("--text", &texts)] {
        for k in names {
            if !headers.iter().any(|h| h == k) {
                return Err(ferr(format!(
                    "{flag} names column {k:?}, which the file does not have (columns: {})",
                    headers.join(", ")
                )));
            }
        }
    }
    let mut notes = Vec::new();
    let mut cells: Vec<Vec<String>> = vec![Vec::new(); headers.len()];
    let mut lines: Vec<u64> = Vec::new();
    for rec in rd.records() {
        let rec = rec.map_err(csv_err)?;
        lines.push(rec.position().map_or(0, |p| p.line()));
        for (i, v) in rec.iter().enumerate() {
            cells[i].push(v.trim().to_string());
        }
    }
    let rows = lines.len();
    let schema = match schema {
        Some(s) => {
            let names: Vec<&str> = s.columns.iter().map(|c| c.name.as_str()).collect();
            if names != headers.iter().map(String::as_str).collect::<Vec<_>>() {
                return Err(ferr(format!(
                    "the schema's columns ({}) differ from the file's ({})",
                    names.join(", "),
                    headers.join(", ")
                )));
            }
            // encoded by this version, so described in its format
            Schema { format: mitsu_api::SCHEMA_FORMAT, ..s.clone() }
        }
        None => {
            let mut columns = Vec::with_capacity(headers.len());
            for (i, h) in headers.iter().enumerate() {
                let non_empty: Vec<(u64, &str)> =
                    cells[i].iter().zip(&lines).filter(|(s, _)| !s.is_empty()).map(|(s, l)| (*l, s.as_str())).collect();
                let (c, note) =
                    infer_column(h, &non_empty, non_empty.len() < rows, keys.contains(h), texts.contains(h)).map_err(
                        |(line, value, why)| TableError::Value {
                            file: file.clone(),
                            line,
                            column: h.clone(),
                            value,
                            why,
                        },
                    )?;
                notes.extend(note);
                columns.push(c);
            }
            Schema::new(columns)
        }
    };
    schema.validate().map_err(&ferr)?;
    let mut columns = Vec::with_capacity(headers.len());
    let mut markers = vec![0usize; headers.len()];
    for (i, c) in schema.columns.iter().enumerate() {
        let mut values = Vec::with_capacity(rows);
        let mut valid = Vec::with_capacity(rows);
        let mut payload = vec![Vec::with_capacity(rows); c.text_chunks()];
        for (r, s) in cells[i].iter().enumerate() {
            let verr = |why: String| TableError::Value {
                file: file.clone(),
                line: lines[r],
                column: c.name.clone(),
                value: s.clone(),
                why,
            };
            let marker = c.kind.scale().is_some() && missing_marker(s);
            if s.is_empty() || marker {
                if !c.nullable {
                    let what = if marker { "is a missing value" } else { "is empty" };
                    return Err(verr(format!("{what}, but the column does not allow NULL")));
                }
                markers[i] += usize::from(marker);
                values.push(0);
                valid.push(false);
                payload.iter_mut().for_each(|p| p.push(0));
            } else {
                values.push(encode(c, s).map_err(verr)?);
                valid.push(true);
                if !payload.is_empty() {
                    // checked by encode: fits the width, no NUL
                    let chunks = text_chunks(s, payload.len()).expect("a label that fits");
                    payload.iter_mut().zip(chunks).for_each(|(p, v)| p.push(v));
                }
            }
        }
        columns.push(Column { values, valid: c.nullable.then_some(valid), payload });
        if markers[i] > 0 {
            let n = markers[i];
            notes.push(format!(
                "column {:?}: {n} cell{} of NA, NaN or inf read as NULL",
                c.name,
                if n == 1 { "" } else { "s" }
            ));
        }
    }
    Ok(Table { schema, rows, columns, notes })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file that removes itself when the test is done with it.
    struct TempFile(std::path::PathBuf);
    impl std::ops::Deref for TempFile {
        type Target = std::path::Path;
        fn deref(&self) -> &std::path::Path {
            &self.0
        }
    }
    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    fn write(name: &str, text: &str) -> TempFile {
        let p = std::env::temp_dir().join(format!("mitsu-table-{name}-{}.csv", std::process::id()));
        std::fs::write(&p, text).unwrap();
        TempFile(p)
    }

    #[test]
    fn decimals_dates_labels_and_keys_encode_exactly() {
        assert_eq!(parse_decimal("-12.340"), Some((-1234, 2)));
        assert_eq!(parse_decimal("59.0"), Some((59, 0)));
        assert_eq!(parse_decimal(".5"), Some((5, 1)));
        assert_eq!(parse_decimal("1e3"), Some((1000, 0)));
        assert_eq!(parse_decimal("1.5E-3"), Some((15, 4)));
        assert_eq!(parse_decimal("-2.50e+2"), Some((-250, 0)));
        assert_eq!(parse_decimal("1e309"), None);
        assert_eq!(parse_decimal("1e-40"), None);
        assert_eq!(parse_decimal("1e"), None);
        assert_eq!(parse_decimal("NaN"), None);
        assert!(number_like("NaN") && number_like("-inf") && number_like("1e309") && !number_like("12a"));
        assert_eq!(parse_decimal("-"), None);
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2000-03-01"), Some(11017));
        assert_eq!(parse_date("2023-02-29"), None);
        assert_eq!(unpack_label(pack_label("東京", 6).unwrap(), 6), "東京");
        assert_eq!(unpack_label(pack_label("東京", 9).unwrap(), 9), "東京");
        assert_eq!(pack_label("a string longer than 15", 15), None);
        // byte-wise text order, a shorter prefix first, as SQLite's BINARY collation
        let mut labels = ["b", "aa", "z", "ab", "b1", "a", "Z", "é", "東"];
        let packed = |s: &str| pack_label(s, 3).unwrap();
        labels.sort_by_key(|s| packed(s));
        let mut bytes = labels;
        bytes.sort();
        assert_eq!(labels, bytes);
        assert_eq!(pack_label("ab", 3).unwrap(), pack_label("ab", 2).unwrap() * 256);
        assert_eq!(key_of("P100"), key_of("P100"));
        assert_ne!(key_of("P100"), key_of("P101"));
        assert!(key_of("x").unsigned_abs() < 1 << 96);
    }

    #[test]
    fn real_extracts_are_read() {
        let p = write(
            "real",
            "\u{feff}patient id,age,bmi,note,visited,ok\n\
             P1,59,32.1,\"東京, 本院\",2024-01-31,true\n\
             P2,,21.60,\"line one\nline two\",2024-02-01,false\n\
             P3,72,-3,plain,,TRUE\n",
        );
        let t = read_csv(&p, None, Some("patient id, note")).unwrap();
        assert_eq!(t.rows, 3);
        let kinds: Vec<&Kind> = t.schema.columns.iter().map(|c| &c.kind).collect();
        assert_eq!(
            kinds,
            vec![&Kind::Key, &Kind::Integer, &Kind::Decimal { scale: 1 }, &Kind::Key, &Kind::Date, &Kind::Boolean]
        );
        assert_eq!(t.schema.columns[0].name, "patient id", "BOM stripped, spaces kept");
        assert!(t.schema.columns[1].nullable && !t.schema.columns[2].nullable);
        assert_eq!(t.columns[1].values, vec![59, 0, 72]);
        assert_eq!(t.columns[1].valid, Some(vec![true, false, true]));
        assert_eq!(t.columns[2].values, vec![321, 216, -30]);
        assert_eq!(t.schema.columns[2].bits, 9, "|v| <= 321 < 2^9");
        assert_eq!(t.columns[5].values, vec![1, 0, 1]);
    }

    #[test]
    fn a_bad_value_is_located_and_nothing_is_returned() {
        let p = write("bad", "id,x\na,1.5\nb,\"2\n\"\nc,abc\n");
        let e = read_csv(&p, None, None).unwrap();
        assert_eq!(e.schema.columns[1].kind, Kind::Category, "short mixed text infers as a category");
        let schema = Schema::new(vec![
            ColumnSchema { name: "id".into(), kind: Kind::Category, nullable: false, bits: 120 },
            ColumnSchema { name: "x".into(), kind: Kind::Decimal { scale: 1 }, nullable: false, bits: 8 },
        ]);
        let err = read_csv(&p, Some(&schema), None).unwrap_err().to_string();
        assert!(err.ends_with("line 5, column \"x\": \"abc\" is not a number"), "{err}");
        let p = write("range", "id,x\na,1.5\nb,300\n");
        let err = read_csv(&p, Some(&schema), None).unwrap_err().to_string();
        assert!(err.contains("line 3, column \"x\": \"300\" is outside the declared range"), "{err}");
        let p = write("scale", "id,x\na,1.55\n");
        let err = read_csv(&p, Some(&schema), None).unwrap_err().to_string();
        assert!(err.contains("has 2 decimal places; the schema allows 1"), "{err}");
        let p = write("null", "id,x\na,\n");
        let err = read_csv(&p, Some(&schema), None).unwrap_err().to_string();
        assert!(err.contains("is empty, but the column does not allow NULL"), "{err}");
        let p = write("ragged", "id,x\na,1,2\n");
        let err = read_csv(&p, None, None).unwrap_err().to_string();
        assert!(err.contains("line 2"), "{err}");
        let p = write("dup", "id,id\na,1\n");
        assert!(read_csv(&p, None, None).unwrap_err().to_string().contains("appears twice"));
        let p = write("key", "id,x\na,1\n");
        let err = read_csv(&p, None, Some("nope")).unwrap_err().to_string();
        assert!(err.contains("--key names column \"nope\""), "{err}");
    }

    // Regression: `1e309`, `NaN`, `inf`, `1e5` and `2024-02-30` silently turned a numeric or date
    // column into a category.
    #[test]
    fn numbers_and_dates_of_every_shape_are_read_or_named() {
        let p = write("exp", "x,d\n1e5,2024-02-28\n2.5E-3,2024-02-29\n-1,2023-12-31\n");
        let t = read_csv(&p, None, None).unwrap();
        assert_eq!(t.schema.columns[0].kind, Kind::Real { scale: 4 }, "exponent notation: a real, here exact");
        assert_eq!(t.columns[0].values, vec![1_000_000_000, 25, -10_000]);
        assert!(t.notes.is_empty(), "nothing rounded: {:?}", t.notes);
        assert_eq!(t.schema.columns[1].kind, Kind::Date);
        // NaN and inf, as pandas writes them, are missing values
        for cell in ["NaN", "inf", "-Infinity", "NA", "N/A"] {
            let p = write("nan", &format!("id,x\na,1.5\nb,{cell}\nc,2\n"));
            let t = read_csv(&p, None, None).unwrap();
            assert_eq!(t.schema.columns[1].kind, Kind::Decimal { scale: 1 }, "{cell}");
            assert_eq!(t.columns[1].valid, Some(vec![true, false, true]), "{cell}");
        }
        for (cell, want) in
            [("1e309", "\"1e309\" is too large"), ("123456789012345678901234567890123456789", "is too large")]
        {
            let p = write("nan", &format!("id,x\na,1.5\nb,{cell}\nc,2\n"));
            let err = read_csv(&p, None, None).unwrap_err().to_string();
            assert!(err.contains("line 3, column \"x\"") && err.contains(want), "{cell}: {err}");
        }
        let p = write("baddate", "id,d\na,2024-02-28\nb,2024-02-30\n");
        let err = read_csv(&p, None, None).unwrap_err().to_string();
        assert!(err.contains("line 3, column \"d\": \"2024-02-30\" is not a valid date"), "{err}");
        // text stays text
        let p = write("text", "id,x\na,abc\nb,12\n");
        assert_eq!(read_csv(&p, None, None).unwrap().schema.columns[1].kind, Kind::Category);
        // a header no party would accept is refused here first
        let p = write("header", "id,\"a\"\"b\"\nx,1\n");
        assert!(read_csv(&p, None, None).unwrap_err().to_string().contains("column name"), "quote in a header");
    }

    #[test]
    fn the_sample_data_reads() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
        let t = read_csv(&dir.join("clinic_patients.csv"), None, Some("patient_id")).unwrap();
        assert_eq!(t.rows, 442);
        assert_eq!(t.schema.columns[2].kind, Kind::Category, "sex");
        assert_eq!(t.schema.columns[3].kind, Kind::Decimal { scale: 1 }, "bmi");
        let t = read_csv(&dir.join("lab_results.csv"), None, Some("patient_id")).unwrap();
        assert_eq!(t.schema.columns[5].kind, Kind::Decimal { scale: 4 }, "s5");
    }

    #[test]
    fn floats_as_pandas_and_r_write_them_become_reals() {
        let p = write("floats", "x,tiny,r\n1234.5678901234567,0.0000123456789,NA\n0.1,1.5e-7,2.5\n1e-05,0,NaN\n");
        let t = read_csv(&p, None, None).unwrap();
        let k: Vec<&Kind> = t.schema.columns.iter().map(|c| &c.kind).collect();
        assert_eq!(k, vec![&Kind::Real { scale: 6 }, &Kind::Real { scale: 13 }, &Kind::Decimal { scale: 1 }]);
        assert_eq!(t.columns[0].values, vec![1_234_567_890, 100_000, 10], "rounded half away from zero");
        assert_eq!(t.columns[1].values, vec![123_456_789, 1_500_000, 0], "small numbers keep their digits");
        assert_eq!(t.columns[2].values, vec![0, 25, 0]);
        assert_eq!(t.columns[2].valid, Some(vec![false, true, false]), "NA and NaN are NULL");
        assert!(t.schema.columns[2].nullable && !t.schema.columns[0].nullable);
        let notes = t.notes.join("\n");
        assert!(notes.contains("\"x\": real numbers rounded to 6 decimal places (error at most 5e-7"), "{notes}");
        assert!(notes.contains("\"r\": 2 cells of NA, NaN or inf read as NULL"), "{notes}");
        // a declared real rounds what a decimal refuses
        let s = Schema::new(vec![ColumnSchema {
            name: "v".into(),
            kind: Kind::Real { scale: 2 },
            nullable: false,
            bits: 20,
        }]);
        let p = write("declared", "v\n-2.345\n1e2\n0.004\n");
        assert_eq!(read_csv(&p, Some(&s), None).unwrap().columns[0].values, vec![-235, 10_000, 0]);
        let d = Schema::new(vec![ColumnSchema {
            name: "v".into(),
            kind: Kind::Decimal { scale: 2 },
            nullable: false,
            bits: 20,
        }]);
        let e = read_csv(&p, Some(&d), None).unwrap_err().to_string();
        assert!(e.contains("has 3 decimal places") && e.contains("\"real\""), "{e}");
        // NA where NULL is not allowed, and numbers too large at the scale, are located
        let p = write("na", "v\n1\nNA\n");
        let e = read_csv(&p, Some(&s), None).unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("is a missing value, but the column does not allow NULL"), "{e}");
        let p = write("huge", "v\n1.5\n1e300\n");
        let e = read_csv(&p, None, None).unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("too large"), "{e}");
    }

    #[test]
    fn long_text_is_text_never_a_key_behind_the_users_back() {
        let p = write("maker", "maker,pref\nTOYOTA,北海道\nMITSUBISHI HEAVY INDUSTRIES,\n");
        let t = read_csv(&p, None, None).unwrap();
        let c = &t.schema.columns[0];
        assert_eq!((&c.kind, c.bits, c.nullable), (&Kind::Text, 8 * 27, false), "27 bytes");
        assert_eq!(t.columns[0].values, vec![key_of("TOYOTA"), key_of("MITSUBISHI HEAVY INDUSTRIES")]);
        assert_eq!(t.columns[0].payload.len(), 2, "two chunks of 15 bytes");
        let label = |r: usize| unpack_text(&t.columns[0].payload.iter().map(|p| p[r]).collect::<Vec<_>>());
        assert_eq!((label(0), label(1)), ("TOYOTA".to_string(), "MITSUBISHI HEAVY INDUSTRIES".to_string()));
        let c = &t.schema.columns[1];
        assert_eq!((&c.kind, c.bits, c.nullable), (&Kind::Category, 72, true), "9 bytes, an empty cell");
        // a key only when named so; --text makes short labels text (to join a text column)
        let t = read_csv(&p, None, Some("maker")).unwrap();
        assert_eq!(t.schema.columns[0].kind, Kind::Key);
        let t = read_csv_as(&p, None, None, Some("pref")).unwrap();
        assert_eq!((&t.schema.columns[1].kind, t.columns[1].valid.clone()), (&Kind::Text, Some(vec![true, false])));
        assert_eq!(t.columns[1].payload[0][1], 0, "NULL's payload is zero");
        let e = read_csv_as(&p, None, None, Some("nope")).unwrap_err().to_string();
        assert!(e.contains("--text names column \"nope\""), "{e}");
        // Japanese labels of any length up to 1024 bytes
        let long = "北海道札幌市中央区".repeat(30);
        let p = write("pref", &format!("pref\n北海道札幌市中央区\n{long}\n"));
        let t = read_csv(&p, None, None).unwrap();
        assert_eq!((&t.schema.columns[0].kind, t.schema.columns[0].bits), (&Kind::Text, 8 * 810));
        let too_long = "あ".repeat(342);
        let p = write("toolong", &format!("t\nx\n{too_long}\n"));
        let e = read_csv(&p, None, None).unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("1026 bytes long") && e.contains("at most 1024"), "{e}");
        // a declared width is checked
        let s = Schema::new(vec![ColumnSchema { name: "t".into(), kind: Kind::Text, nullable: false, bits: 8 * 20 }]);
        let p = write("declared_text", "t\nshort\nthis label is longer than twenty\n");
        let e = read_csv(&p, Some(&s), None).unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("at most 20"), "{e}");
    }

    #[test]
    fn reals_round_half_away_from_zero_at_any_exponent() {
        for (s, scale, want) in [
            ("-2.5", 0, -3),
            ("2.4999", 0, 2),
            ("0.000000049", 7, 0),
            ("1.5e-7", 7, 2),
            ("-1.5E-7", 7, -2),
            ("12345678901234567890", 0, 12_345_678_901_234_567_890),
            ("1e-300", 6, 0),
            ("0", 30, 0),
            ("+7.25", 1, 73),
        ] {
            assert_eq!(parse_real(s, scale), Some(Ok(want)), "{s} at {scale}");
        }
        assert!(parse_real("1e40", 0).unwrap().is_err());
        assert_eq!(parse_real("abc", 2), None);
        assert_eq!(parse_real("1e99999", 2), None, "exponents of at most 4 digits");
    }

    #[test]
    fn a_shift_jis_file_is_named_with_the_way_out() {
        let p = write("sjis", "");
        // 名前,値 / 東京,1 in CP932, with CRLF as Excel writes it
        std::fs::write(&*p, b"\x96\xbc\x91\x4f,\x92\x6c\r\n\x93\x8c\x8b\x9e,1\r\n").unwrap();
        let e = read_csv(&p, None, None).unwrap_err().to_string();
        assert!(e.contains("not UTF-8") && e.contains("iconv -f CP932 -t UTF-8"), "{e}");
        // a later line, after valid UTF-8 ones
        std::fs::write(&*p, b"name,v\nTokyo,1\n\x93\x8c\x8b\x9e,2\n").unwrap();
        let e = read_csv(&p, None, None).unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("not UTF-8"), "{e}");
        // UTF-8 with a BOM and CRLF, as R on Windows and Excel's "CSV UTF-8" write it
        std::fs::write(&*p, "\u{feff}名前,値\r\n東京,1.5\r\n大阪,NA\r\n").unwrap();
        let t = read_csv(&p, None, None).unwrap();
        assert_eq!(t.schema.columns[0].name, "名前");
        assert_eq!(t.columns[1].valid, Some(vec![true, false]));
    }
}
