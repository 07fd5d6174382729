//! `mitsu upload`, `mitsu tables`, `mitsu table show`, and account files written private.

use crate::render::{self, Align, print_schema};
use anyhow::Result;

/// Writes a file only its owner can read (0600): client files hold bearer tokens.
pub(crate) fn write_private(path: &std::path::Path, text: &str) -> Result<()> {
    use std::io::Write;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        o.mode(0o600);
        let mut f = o.open(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        // an existing file keeps its mode on open: make it private too
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        f.write_all(text.as_bytes())?;
    }
    #[cfg(not(unix))]
    o.open(path)?.write_all(text.as_bytes())?;
    Ok(())
}

pub(crate) fn upload(
    client: &std::path::Path,
    table: &str,
    csv: &std::path::Path,
    schema: Option<&std::path::Path>,
    (key, text): (Option<&str>, Option<&str>),
    policy: &crate::args::PolicyArgs,
) -> Result<()> {
    let c = mitsu_client::Client::load(client)?;
    // the policy is checked before any share leaves, and set once the version is committed
    let policy = match policy.given() {
        false => None,
        true => {
            let current = c.table_at(0, table)?.map(|t| t.policy).unwrap_or_default();
            Some(policy.apply(current)?)
        }
    };
    let schema: Option<mitsu_api::Schema> = match schema {
        Some(p) => Some(
            serde_json::from_str(&std::fs::read_to_string(p)?).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?,
        ),
        None => None,
    };
    let t = mitsu_client::table::read_csv_as(csv, schema.as_ref(), key, text)?;
    println!("{}: {} rows, schema{}:", csv.display(), t.rows, if schema.is_some() { "" } else { " (inferred)" });
    print_schema(&t.schema);
    for n in &t.notes {
        println!("  note: {n}");
    }
    // a bar on stderr for uploads that take a while; hidden when stderr is not a terminal
    let bar = if t.rows >= 100_000 {
        indicatif::ProgressBar::new(0).with_style(
            indicatif::ProgressStyle::with_template(
                "  uploading [{bar:30}] {pos}/{len} chunks, {elapsed} elapsed, ~{eta} left",
            )
            .expect("a valid template")
            .progress_chars("#>-"),
        )
    } else {
        indicatif::ProgressBar::hidden()
    };
    let progress = |done: usize, total: usize| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    };
    let r = c.upload(table, &t, &progress);
    bar.finish_and_clear();
    let r = r?;
    let size = match r.bytes_per_party {
        b if b < 1 << 20 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{:.1} MiB", b as f64 / (1 << 20) as f64),
    };
    println!(
        "uploaded {:?} version {}: {} rows secret-shared on this machine; each party received {size} of shares, \
         checked by the three parties together before the commit",
        r.table, r.version, r.rows
    );
    if let Some(p) = policy {
        c.set_policy(table, p)?;
        println!("policy of {table:?} at all three parties: {}", p.describe());
    }
    Ok(())
}

pub(crate) fn tables(client: &std::path::Path) -> Result<()> {
    let c = mitsu_client::Client::load(client)?;
    let mut all: std::collections::BTreeMap<String, Vec<(usize, i64, u64, String)>> = Default::default();
    for i in 0..3 {
        for t in c.tables_at(i)? {
            all.entry(t.name).or_default().push((i, t.version, t.rows, t.owner));
        }
    }
    if all.is_empty() {
        println!("no tables yet (upload one with `mitsu upload`)");
    }
    let rows: Vec<Vec<String>> = all
        .into_iter()
        .map(|(name, v)| {
            let parties: Vec<String> = v.iter().map(|x| x.0.to_string()).collect();
            vec![name, v[0].1.to_string(), v[0].2.to_string(), v[0].3.clone(), parties.join(",")]
        })
        .collect();
    let (l, r) = (Align::Left, Align::Right);
    println!(
        "{}",
        render::table(&["table", "version", "rows", "owner", "held by parties"], &[l, r, r, l, l], &rows, 0)
    );
    Ok(())
}

pub(crate) fn table_show(client: &std::path::Path, name: &str) -> Result<()> {
    let c = mitsu_client::Client::load(client)?;
    let mut first = None;
    let mut held = Vec::new();
    for i in 0..3 {
        match c.table_at(i, name) {
            Ok(Some(t)) => {
                held.push(format!("{i} (version {})", t.version));
                first.get_or_insert(t);
            }
            Ok(None) => held.push(format!("{i}: not held")),
            Err(e) => held.push(format!("{i}: {e}")),
        }
    }
    let Some(t) = first else { anyhow::bail!("no party holds a table named {name:?}") };
    println!("table {name}: version {}, {} rows, owner {}", t.version, t.rows, t.owner);
    println!("held by parties: {}", held.join("; "));
    println!("policy: {}", crate::commands::governance::policy_text(&t.policy));
    print_schema(&t.schema);
    Ok(())
}
