//! `mitsu audit` and `mitsu project report`: the parties' records, verified.

use crate::Align;
use crate::commands::governance::{policy_text, when};
use crate::render::table;
use anyhow::{Result, bail};
use mitsu_api::audit::AuditRecord;
use mitsu_client::Client;
use std::path::Path;

fn opened_text(r: &AuditRecord) -> String {
    let mut parts: Vec<String> = r.opened.iter().map(|o| o.to_string()).collect();
    if r.suppressed > 0 {
        parts.push(format!("{} cells suppressed", r.suppressed));
    }
    if r.epsilon > 0.0 {
        parts.push(format!("ε {} spent", r.epsilon));
    }
    if parts.is_empty() { "nothing".into() } else { parts.join("; ") }
}

fn short(s: &str, n: usize) -> String {
    let s = s.replace('\n', " ");
    if s.chars().count() <= n { s } else { s.chars().take(n - 1).collect::<String>() + "…" }
}

pub(crate) fn audit(client: &Path, project: Option<String>, verify: bool, json: bool) -> Result<()> {
    let c = Client::load(client)?;
    if verify {
        let v = c.verify_audit(project.as_deref())?;
        for (p, n, head) in &v.chains {
            match head {
                Ok(h) if h.is_empty() => println!("party {p}: {n} records of the project, each intact"),
                Ok(h) => println!("party {p}: {n} records, chain intact (head {})", &h[..16.min(h.len())]),
                Err(e) => println!("party {p}: {n} records, CHAIN BROKEN: {e}"),
            }
        }
        for p in &v.problems {
            println!("DISAGREEMENT: {p}");
        }
        if !v.ok() {
            bail!("the audit logs do not verify (see above)");
        }
        println!("verified: the three parties agree on {} completed jobs and changes", v.agreed_jobs);
        if project.is_some() {
            println!(
                "(the links between records run through other projects' records: an auditor checks the whole chain)"
            );
        }
        return Ok(());
    }
    let records = c.audit_log(0, project.as_deref())?;
    if json {
        println!("{}", serde_json::to_string(&records)?);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = records
        .iter()
        .map(|r| {
            vec![
                r.seq.to_string(),
                when(r.time),
                r.account.clone(),
                r.kind.clone(),
                r.project.clone().unwrap_or_default(),
                if r.outcome == "done" { "done".into() } else { format!("{}: {}", r.outcome, short(&r.reason, 60)) },
                short(&r.request, 60),
            ]
        })
        .collect();
    let header = ["#", "time", "account", "kind", "project", "outcome", "request"];
    println!("{}", table(&header, &[Align::Left; 7], &rows, 0));
    println!("({} records at party 0; `mitsu audit --verify` checks all three)", records.len());
    Ok(())
}

pub(crate) fn report(client: &Path, name: &str, format: &str) -> Result<()> {
    if !["md", "json"].contains(&format) {
        bail!("--format must be md or json, not {format:?}");
    }
    let c = Client::load(client)?;
    let p = c.project_at_all(name)?.swap_remove(0);
    let logs: Vec<Vec<AuditRecord>> = (0..3).map(|i| c.audit_log(i, Some(name))).collect::<Result<_, _>>()?;
    // the report states only what all three parties recorded alike, each record intact
    for (i, log) in logs.iter().enumerate() {
        if let Err(e) = mitsu_api::audit::verify_records(log) {
            bail!("party {i}'s records of project {name:?} do not verify: {e}");
        }
    }
    let (agreed, problems) = mitsu_client::compare_audit_logs(&logs);
    if !problems.is_empty() {
        bail!("the parties' records of project {name:?} disagree: {}", problems.join("; "));
    }
    let jobs: Vec<&AuditRecord> = logs[0].iter().filter(|r| !r.kind.starts_with("change:")).collect();
    let changes: Vec<&AuditRecord> = logs[0].iter().filter(|r| r.kind.starts_with("change:")).collect();
    let mut policies = Vec::new();
    for t in &p.tables {
        let pol = c.table_at(0, &t.name)?.map(|v| v.policy);
        policies.push((t.name.clone(), t.owner.clone(), t.approved, pol));
    }
    if format == "json" {
        let v = serde_json::json!({
            "project": p,
            "policies": policies.iter().map(|(t, o, a, pol)| serde_json::json!({"table": t, "owner": o, "approved": a, "policy": pol, "policy_text": pol.as_ref().map(policy_text)})).collect::<Vec<_>>(),
            "changes": changes,
            "jobs": jobs,
            "checked": {"parties": 3, "agreed_records": agreed},
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    let mut owners: Vec<&str> = p.tables.iter().map(|t| t.owner.as_str()).collect();
    owners.sort();
    owners.dedup();
    println!("# Analysis project {}\n", p.name);
    println!("- **Purpose**: {}", p.purpose);
    println!("- **State**: {}", p.state);
    println!("- **Providers**: {}", owners.join(", "));
    println!("- **Recipients (analysts)**: {}", p.analysts.join(", "));
    println!("- **Proposed by**: {} on {}", p.proposer, when(p.created));
    println!("- **Functions allowed**: {}\n", p.functions.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(", "));
    println!("## Tables\n\n| table | provider | approved | policy |\n|---|---|---|---|");
    for (t, o, a, pol) in &policies {
        let pol = pol.as_ref().map(policy_text).unwrap_or_else(|| "(table gone)".into());
        println!("| {t} | {o} | {} | {pol} |", if *a { "yes" } else { "no" });
    }
    println!("\n## Decisions\n\n| # | time | by | what | outcome |\n|---|---|---|---|---|");
    for r in &changes {
        println!("| {} | {} | {} | {} | {} |", r.seq, when(r.time), r.account, r.request, r.outcome);
    }
    println!("\n## Jobs\n\n| # | time | analyst | kind | request | outcome | opened |\n|---|---|---|---|---|---|---|");
    for r in &jobs {
        let outcome =
            if r.outcome == "done" { "done".to_string() } else { format!("{}: {}", r.outcome, short(&r.reason, 80)) };
        println!(
            "| {} | {} | {} | {} | `{}` | {} | {} |",
            r.seq,
            when(r.time),
            r.account,
            r.kind,
            short(&r.request, 120).replace('|', "\\|"),
            outcome.replace('|', "\\|"),
            opened_text(r)
        );
    }
    println!(
        "\nChecked against the audit logs of all three parties on {}: {} completed records agree.",
        when(
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
        ),
        agreed
    );
    Ok(())
}
