//! `mitsu sql`: a query, its EXPLAIN, and the result with what it revealed.

use crate::render::{self, Align, human_bytes};
use anyhow::Result;

pub(crate) fn sql(
    client: &std::path::Path,
    query: &str,
    format: &str,
    explain: bool,
    opts: mitsu_query::Options,
    project: Option<String>,
) -> Result<()> {
    if !["table", "json", "csv"].contains(&format) {
        anyhow::bail!("--format must be table, json or csv, not {format:?}");
    }
    let c = mitsu_client::Client::load(client)?.with_project(project);
    if explain {
        let x = c.explain_sql(query, opts)?;
        if format == "json" {
            println!("{}", serde_json::to_string_pretty(&x)?);
            return Ok(());
        }
        println!("plan (ring Z_2^{}; rounds and bytes per party are estimates):", x.ring);
        for st in &x.steps {
            println!(
                "{:indent$}{}  [rows {}, rounds ~{}, bytes ~{}]\n{:indent$}  reveals: {}",
                "",
                st.op,
                st.rows,
                st.rounds,
                human_bytes(st.bytes),
                "",
                st.reveals,
                indent = 2 * st.depth
            );
        }
        println!("total: ~{} rounds, ~{} per party", x.rounds, human_bytes(x.bytes));
        return Ok(());
    }
    let t = std::time::Instant::now();
    let r = c.sql_with(query, opts)?;
    match format {
        "json" => println!("{}", r.to_json()),
        "csv" => {
            let mut w = csv::Writer::from_writer(std::io::stdout());
            w.write_record(&r.columns)?;
            for row in &r.rows {
                w.write_record(
                    row.iter().map(|v| if *v == mitsu_query::Value::Null { String::new() } else { v.to_string() }),
                )?;
            }
            w.flush()?;
            // the leakage report goes beside the data, not into it: `> result.csv` stays clean
            eprintln!("revealed besides the result:");
            for l in &r.leakage {
                eprintln!("  - {l}");
            }
        }
        _ => {
            let cells: Vec<Vec<String>> =
                r.rows.iter().map(|row| row.iter().map(|v| v.to_string()).collect()).collect();
            // numbers right-aligned, labels left
            let align: Vec<Align> = (0..r.columns.len())
                .map(|i| {
                    if r.rows.iter().all(|row| row[i].as_f64().is_some() || row[i] == mitsu_query::Value::Null) {
                        Align::Right
                    } else {
                        Align::Left
                    }
                })
                .collect();
            let header: Vec<&str> = r.columns.iter().map(String::as_str).collect();
            println!("{}", render::table(&header, &align, &cells, 0));
            println!(
                "({} {}, {:.2} s; {} rounds, {} sent by the busiest party)",
                r.rows.len(),
                if r.rows.len() == 1 { "row" } else { "rows" },
                t.elapsed().as_secs_f64(),
                r.rounds,
                human_bytes(r.bytes_per_party)
            );
            println!("revealed besides the result:");
            for l in &r.leakage {
                println!("  - {l}");
            }
            // measured, beside the promise: what the engines opened among the parties
            let o = if r.parties_opened.is_empty() { "nothing".to_string() } else { r.parties_opened.join("; ") };
            println!("opened among the parties (their engines' record): {o}");
        }
    }
    Ok(())
}
