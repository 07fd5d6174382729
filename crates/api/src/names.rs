//! The one rule for names, applied by the client before it sends anything and by every party
//! before it stores anything (docs/deployment.md, "Names").
//!
//! * Table and account names: 1 to 64 characters; letters of any script, digits, `_` and `-`;
//!   not starting with `-` (it would read as a command-line option). `clinic`, `lab-2024`, `患者`.
//! * Column names: 1 to 64 characters of printable text, without `"` or `` ` ``, control
//!   characters, or spaces at either end (CSV headers such as `mean radius` or `年齢` are fine;
//!   SQL quotes them: `"mean radius"`).

/// Longest name, in characters.
pub const MAX_NAME_CHARS: usize = 64;

/// Checks a table or account name; `what` says which in the error.
pub fn check_name(what: &str, s: &str) -> Result<(), String> {
    let n = s.chars().count();
    let ok = (1..=MAX_NAME_CHARS).contains(&n)
        && !s.starts_with('-')
        && s.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{what} name {:?}: use 1 to {MAX_NAME_CHARS} letters, digits, '_' or '-' (not starting with '-')",
            shorten(s)
        ))
    }
}

/// Checks a column name.
pub fn check_column_name(s: &str) -> Result<(), String> {
    let n = s.chars().count();
    let ok = (1..=MAX_NAME_CHARS).contains(&n)
        && s.trim() == s
        && !s.chars().any(|c| c.is_control() || c == '"' || c == '`' || c == '\u{feff}');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "column name {:?}: use 1 to {MAX_NAME_CHARS} printable characters without quotes, control characters \
             or spaces at either end",
            shorten(s)
        ))
    }
}

/// A name as it may be echoed in an error: at most 80 characters.
fn shorten(s: &str) -> String {
    let mut t: String = s.chars().take(80).collect();
    if t.len() < s.len() {
        t.push('…');
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["clinic", "lab-2024", "患者", "a_b", "X"] {
            check_name("table", ok).unwrap();
        }
        for bad in ["", "-x", "a b", "a/b", "a.b", "../x", "a\0", &"x".repeat(65)] {
            assert!(check_name("table", bad).is_err(), "{bad:?}");
        }
        for ok in ["mean radius", "年齢", "bmi (kg/m2)", "a.b"] {
            check_column_name(ok).unwrap();
        }
        for bad in ["", " a", "a ", "a\"b", "a\nb", "a`b", &"x".repeat(65)] {
            assert!(check_column_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_name("table", &"x".repeat(1000)).unwrap_err().len() < 300, "errors echo at most 80 characters");
    }
}
