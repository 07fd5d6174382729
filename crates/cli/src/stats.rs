//! `mitsu stats FUNCTION …`: one command for the whole statistics suite. The function's help
//! (`mitsu stats FUNCTION --help`) comes from the catalogue in `mitsu_stats`, with what it opens.

use anyhow::{Result, bail};
use std::path::PathBuf;

/// Arguments of every statistics function (each uses the ones its usage line names).
#[derive(clap::Args, Debug)]
#[command(disable_help_flag = true)]
pub struct StatsArgs {
    /// The function; `mitsu stats --help` lists them.
    function: Option<String>,
    /// Help for the function (its options and what it opens).
    #[arg(long, short = 'h')]
    help: bool,
    #[arg(long, env = "MITSU_CLIENT")]
    client: Option<PathBuf>,
    /// The project the job runs in (default: the client file's `project`); not needed for your
    /// own tables.
    #[arg(long, env = "MITSU_PROJECT")]
    project: Option<String>,
    /// Table to analyse, or a SELECT query whose result is analysed.
    #[arg(long = "from")]
    from: Option<String>,
    #[arg(long, value_delimiter = ',')]
    columns: Vec<String>,
    #[arg(long)]
    column: Option<String>,
    /// Grouping column of a grouped test.
    #[arg(long)]
    by: Option<String>,
    /// Levels of the grouping column, in order (default: all, sorted).
    #[arg(long, value_delimiter = ',')]
    groups: Vec<String>,
    /// Quantile levels in [0, 1].
    #[arg(long, value_delimiter = ',')]
    q: Vec<f64>,
    /// Hypothesised mean of a one-sample t-test.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    mu: f64,
    #[arg(long)]
    welch: bool,
    #[arg(long)]
    paired: bool,
    #[arg(long)]
    y: Option<String>,
    #[arg(long, value_delimiter = ',')]
    x: Vec<String>,
    #[arg(long)]
    method: Option<String>,
    /// Confidence level of intervals.
    #[arg(long)]
    confidence: Option<f64>,
    /// Row variable of a contingency table.
    #[arg(long)]
    row: Option<String>,
    /// Column variable of a contingency table.
    #[arg(long)]
    col: Option<String>,
    /// Levels of --col, in order (default: all, sorted).
    #[arg(long, value_delimiter = ',')]
    col_groups: Vec<String>,
    /// Expected proportions of a goodness-of-fit test, one per level.
    #[arg(long, value_delimiter = ',')]
    expected: Vec<f64>,
    /// Number of histogram bins.
    #[arg(long)]
    bins: Option<usize>,
    /// Weight column of a weighted mean.
    #[arg(long)]
    weights: Option<String>,
    /// Proportion cut from each end by a trimmed mean.
    #[arg(long)]
    trim: Option<f64>,
    /// PCA of the correlation matrix.
    #[arg(long)]
    standardize: bool,
    /// The alternative hypothesis of ttest, ztest, mannwhitney and wilcoxon: two-sided (the
    /// default), less or greater.
    #[arg(long)]
    alternative: Option<String>,
    /// table, json or csv (statistic,value lines; what was opened on stderr).
    #[arg(long, default_value = "table")]
    format: String,
}

fn help(function: Option<&str>) -> Result<()> {
    match function {
        None => {
            println!("Statistics computed jointly by the three parties; only the results are opened, to you.\n");
            println!(
                "usage: mitsu stats FUNCTION --client C --from TABLE_OR_QUERY [options] [--format table|json|csv]\n"
            );
            println!("functions:");
            for f in mitsu_stats::functions() {
                println!("  {:<12} {}", f.name, f.about);
            }
            println!("\n`mitsu stats FUNCTION --help` shows a function's options and what it opens.");
        }
        Some(name) => {
            let f = mitsu_stats::spec(name)?;
            println!("mitsu stats {} — {}\n", f.name, f.about);
            println!(
                "usage: mitsu stats {} --client C --from TABLE_OR_QUERY {} [--format table|json]\n",
                f.name, f.usage
            );
            println!("opens: {}", f.leakage);
            println!(
                "\np-values and intervals are computed on your machine from the opened statistic and its degrees of freedom."
            );
        }
    }
    Ok(())
}

/// A statistic as R prints it: counts as integers, a small p-value as `1.5e-13` (never
/// `0.0000000000`), other values to 10 decimals.
fn number_text(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(i) = n.as_u64() {
        return i.to_string();
    }
    let x = n.as_f64().unwrap_or(f64::NAN);
    // a count or degrees of freedom that came as a float (198.0) reads as the integer it is
    if x.fract() == 0.0 && x.abs() < 1e15 {
        return format!("{}", x as i64);
    }
    if x != 0.0 && (x.abs() < 1e-4 || x.abs() >= 1e15) {
        let s = format!("{x:.6e}");
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let m = if m.contains('.') { m.trim_end_matches('0').trim_end_matches('.') } else { m };
        return format!("{m}e{e}");
    }
    format!("{x:.10}")
}

/// The coefficient table of an OLS or logit answer (estimate, std. error, t or z, p, interval),
/// taking its parts out of `v` so that the rest prints as lines. None for other answers.
fn coefficient_table(v: &mut serde_json::Value) -> Option<String> {
    let o = v.as_object_mut()?;
    let coef = o.get("coefficients")?.as_object()?.clone();
    o.get("std_errors")?.as_object()?;
    let (stat_key, stat_name, p_name) = if o.contains_key("t_values") {
        ("t_values", "t value", "Pr(>|t|)")
    } else {
        ("z_values", "z value", "Pr(>|z|)")
    };
    let conf = o.get("confidence").and_then(serde_json::Value::as_f64).unwrap_or(0.95);
    let (lo_name, hi_name) = (format!("[{}", pct((1.0 - conf) / 2.0)), format!("{}]", pct(1.0 - (1.0 - conf) / 2.0)));
    let cell = |part: &str, term: &str, i: Option<usize>| -> String {
        let x = o.get(part).and_then(|m| m.get(term));
        let x = match i {
            Some(i) => x.and_then(|a| a.get(i)),
            None => x,
        };
        match x.and_then(|x| x.as_number()) {
            Some(n) => number_text(n),
            // withheld: the reason is in `undefined`, printed below
            None => "—".into(),
        }
    };
    let rows: Vec<Vec<String>> = coef
        .keys()
        .map(|term| {
            vec![
                term.clone(),
                cell("coefficients", term, None),
                cell("std_errors", term, None),
                cell(stat_key, term, None),
                cell("p_values", term, None),
                cell("conf_int", term, Some(0)),
                cell("conf_int", term, Some(1)),
            ]
        })
        .collect();
    let head = ["term", "estimate", "std. error", stat_name, p_name, &lo_name, &hi_name];
    let mut align = [crate::Align::Right; 7];
    align[0] = crate::Align::Left;
    let text = crate::render::table(&head, &align, &rows, 0);
    for k in ["coefficients", "std_errors", stat_key, "p_values", "conf_int", "confidence"] {
        o.remove(k);
    }
    Some(text)
}

fn pct(x: f64) -> String {
    let s = format!("{:.3}", x * 100.0);
    format!("{}%", s.trim_end_matches('0').trim_end_matches('.'))
}

/// Flattens a JSON answer to aligned `path  value` lines.
fn lines(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, String)>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                let p = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                lines(&p, x, out);
            }
        }
        serde_json::Value::Number(n) => out.push((prefix.to_string(), number_text(n))),
        // group sizes and the like: the numbers as above, comma-separated
        serde_json::Value::Array(xs) if !xs.is_empty() && xs.iter().all(serde_json::Value::is_number) => {
            let parts: Vec<String> = xs.iter().filter_map(|x| x.as_number().map(number_text)).collect();
            out.push((prefix.to_string(), parts.join(", ")));
        }
        other => out.push((prefix.to_string(), other.to_string())),
    }
}

pub fn run(a: StatsArgs) -> Result<()> {
    if a.help || a.function.is_none() {
        return help(a.function.as_deref());
    }
    if !["table", "json", "csv"].contains(&a.format.as_str()) {
        bail!("--format must be table, json or csv, not {:?}", a.format);
    }
    let function = a.function.expect("checked");
    mitsu_stats::spec(&function)?;
    let Some(client) = a.client else { bail!("name your client file with --client (or MITSU_CLIENT)") };
    let Some(from) = a.from else { bail!("name the table or query to analyse with --from") };
    // `--columns "a, b"`: column names never start or end with a space, so list items are trimmed
    let names = |v: Vec<String>| v.into_iter().map(|c| c.trim().to_string()).filter(|c| !c.is_empty()).collect();
    let req = mitsu_stats::Request {
        function,
        from,
        columns: names(a.columns),
        column: a.column,
        by: a.by,
        groups: a.groups,
        q: a.q,
        mu: a.mu,
        welch: a.welch,
        paired: a.paired,
        y: a.y,
        x: names(a.x),
        method: a.method,
        confidence: a.confidence,
        row: a.row,
        col: a.col,
        col_groups: a.col_groups,
        expected: a.expected,
        bins: a.bins,
        weights: a.weights,
        trim: a.trim,
        standardize: a.standardize,
        alternative: a.alternative,
    };
    // a wrong --alternative is found before the parties compute anything
    mitsu_stats::finish::check_alternative(&req)?;
    let c = mitsu_client::Client::load(&client)?.with_project(a.project.clone());
    let t = std::time::Instant::now();
    let r = c.stats(&req)?;
    if a.format == "json" {
        println!("{}", r.to_json());
        return Ok(());
    }
    let mut out = Vec::new();
    lines("", &r.value, &mut out);
    if a.format == "csv" {
        // the values on stdout for a spreadsheet; what was opened on stderr, as for SQL
        let mut w = csv::Writer::from_writer(std::io::stdout());
        w.write_record(["statistic", "value"])?;
        for (k, v) in &out {
            w.write_record([k, v])?;
        }
        w.flush()?;
        eprintln!("opened to you: {}", r.leakage);
        for l in &r.query_leakage {
            eprintln!("  the query revealed: {l}");
        }
        return Ok(());
    }
    // a regression's coefficients as R and statsmodels print them, one row per term
    let mut rest = r.value.clone();
    if let Some(t) = coefficient_table(&mut rest) {
        println!("{t}\n");
        out.clear();
        lines("", &rest, &mut out);
    }
    // keys are column names and group labels, in any script: aligned by display width
    let rows: Vec<Vec<String>> = out.into_iter().map(|(k, v)| vec![k, v]).collect();
    let text = crate::render::table(&["statistic", "value"], &[crate::Align::Left, crate::Align::Left], &rows, 0);
    println!("{}", text.lines().skip(1).collect::<Vec<_>>().join("\n"));
    println!(
        "\nopened to you: {}. ({:.2} s, {} rounds, {} per party)",
        r.leakage,
        t.elapsed().as_secs_f64(),
        r.rounds,
        crate::human_bytes(r.bytes_per_party)
    );
    // measured, not promised: the engines' own record of what they opened to each other
    if let Some(o) = &r.parties_opened {
        let o = if o.is_empty() { "nothing".to_string() } else { o.join("; ") };
        println!("opened among the parties (their engines' record): {o}");
    }
    if !r.query_leakage.is_empty() {
        println!("the query's steps revealed:");
        for l in &r.query_leakage {
            println!("  - {l}");
        }
    }
    Ok(())
}
