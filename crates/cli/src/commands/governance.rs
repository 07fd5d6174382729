//! `mitsu account`, `mitsu project`, `mitsu policy`: who may use what. Every change is applied by
//! all three parties or none; the messages say who has to act next.

use crate::Align;
use crate::args::{AccountCmd, PolicyArgs, PolicyCmd, ProjectCmd};
use crate::commands::tables::write_private;
use crate::render::table;
use anyhow::{Result, bail};
use mitsu_api::wire::{Function, ProjectView, TablePolicy};
use mitsu_client::Client;

pub(crate) fn when(unix: i64) -> String {
    // the date as SQL results print it, then the time of day
    let (days, secs) = (unix.div_euclid(86_400), unix.rem_euclid(86_400));
    format!("{} {:02}:{:02} UTC", mitsu_query::Value::Date(days as i128), secs / 3600, secs % 3600 / 60)
}

pub(crate) fn policy_text(p: &TablePolicy) -> String {
    p.describe()
}

impl PolicyArgs {
    /// Whether any setting was given.
    pub(crate) fn given(&self) -> bool {
        self.aggregate_only
            || self.allow_rows
            || self.min_group_size.is_some()
            || self.allow_order_statistics
            || self.no_order_statistics
            || self.dp_epsilon.is_some()
            || self.dp_delta.is_some()
            || self.max_jobs.is_some()
    }

    /// `current` with the settings given, checked as the parties will check it.
    pub(crate) fn apply(&self, current: TablePolicy) -> Result<TablePolicy> {
        let mut p = current;
        if self.aggregate_only || self.allow_rows {
            p.allow_rows = self.allow_rows;
        }
        if let Some(k) = self.min_group_size {
            p.min_group_size = k;
        }
        if self.allow_order_statistics || self.no_order_statistics {
            p.allow_order_statistics = self.allow_order_statistics;
        }
        if let Some(e) = &self.dp_epsilon {
            p.dp_epsilon = number_or_none("--dp-epsilon", e)?;
            if p.dp_epsilon.is_none() {
                p.dp_delta = None;
            }
        }
        if self.dp_delta.is_some() {
            p.dp_delta = self.dp_delta;
        }
        if let Some(n) = &self.max_jobs {
            p.max_jobs = number_or_none("--max-jobs", n)?;
        }
        // the parties check it too; checking here first gives the message without a round trip
        p.check().map_err(anyhow::Error::msg)?;
        Ok(p)
    }
}

/// `E`, or `none` for no value.
fn number_or_none<T: std::str::FromStr>(flag: &str, v: &str) -> Result<Option<T>> {
    if v.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    match v.trim().parse() {
        Ok(n) => Ok(Some(n)),
        Err(_) => bail!("{flag} takes a number or `none`, not {v:?}"),
    }
}

pub(crate) fn account(cmd: AccountCmd) -> Result<()> {
    match cmd {
        AccountCmd::Create { client, name, role, out } => {
            let cfg = Client::load(&client)?.create_account(&name, &role)?;
            write_private(&out, &cfg.to_toml())?;
            println!(
                "created {role} account {name:?} at all three parties; its client file is {} (keep it private)",
                out.display()
            );
        }
        AccountCmd::List { client, json } => {
            let a = Client::load(&client)?.accounts()?;
            if json {
                println!("{}", serde_json::to_string(&a)?);
                return Ok(());
            }
            let rows: Vec<Vec<String>> = a
                .iter()
                .map(|a| {
                    let state = if a.revoked { "revoked" } else { "active" };
                    vec![a.name.clone(), a.role.to_string(), when(a.created), state.to_string()]
                })
                .collect();
            println!("{}", table(&["account", "role", "created", "state"], &[Align::Left; 4], &rows, 0));
            println!("({} accounts; the bootstrap admin is in the parties' configuration)", a.len());
        }
        AccountCmd::Revoke { client, name } => {
            Client::load(&client)?.revoke_account(&name)?;
            println!("revoked account {name:?} at all three parties: its token opens nothing from now on");
        }
        AccountCmd::Rotate { client, name, out } => {
            let c = Client::load(&client)?;
            let name = name.unwrap_or_else(|| c.cfg.user.clone());
            let cfg = c.rotate_token(&name)?;
            write_private(&out, &cfg.to_toml())?;
            println!(
                "issued a new token for {name:?} at all three parties; the old one no longer works. \
                 The new client file is {} (keep it private)",
                out.display()
            );
        }
    }
    Ok(())
}

fn functions(names: &[String]) -> Result<Vec<Function>> {
    names
        .iter()
        .map(|n| {
            let n = n.trim();
            Function::parse(n).ok_or_else(|| {
                anyhow::anyhow!("unknown function {n:?}: a project allows stats, sql-aggregate and/or sql-rows")
            })
        })
        .collect()
}

fn show(p: &ProjectView) {
    println!("project {}: {}", p.name, p.state);
    println!("  purpose:   {}", p.purpose);
    println!("  proposed:  by {} on {}", p.proposer, when(p.created));
    println!("  analysts:  {}", p.analysts.join(", "));
    println!("  functions: {}", p.functions.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(", "));
    let rows: Vec<Vec<String>> = p
        .tables
        .iter()
        .map(|t| vec![t.name.clone(), t.owner.clone(), if t.approved { "approved" } else { "waiting" }.to_string()])
        .collect();
    println!("{}", table(&["table", "owner", "approval"], &[Align::Left; 3], &rows, 2));
}

pub(crate) fn project(cmd: ProjectCmd) -> Result<()> {
    match cmd {
        ProjectCmd::Create { client, name, purpose, analysts, tables, functions: f } => {
            let f = functions(&f)?;
            let trim = |v: Vec<String>| v.into_iter().map(|s| s.trim().to_string()).collect::<Vec<_>>();
            let c = Client::load(&client)?;
            c.propose_project(&name, &purpose, &trim(analysts), &trim(tables), &f)?;
            let p = c.project_at_all(&name)?.swap_remove(0);
            show(&p);
            match p.state.as_str() {
                "active" => println!("the project is active: its analysts can run jobs with --project {name}"),
                _ => {
                    let mut owners: Vec<&str> =
                        p.tables.iter().filter(|t| !t.approved).map(|t| t.owner.as_str()).collect();
                    owners.dedup();
                    println!(
                        "proposed at all three parties; it becomes active when {} approved it (`mitsu project approve {name}`)",
                        owners.join(", ")
                    );
                }
            }
        }
        ProjectCmd::Approve { client, name } => {
            let c = Client::load(&client)?;
            c.approve_project(&name, true)?;
            let p = c.project_at_all(&name)?.swap_remove(0);
            println!("approved project {name:?} for your tables at all three parties; the project is {}", p.state);
        }
        ProjectCmd::Withdraw { client, name } => {
            Client::load(&client)?.approve_project(&name, false)?;
            println!(
                "withdrew your approval of project {name:?} at all three parties: it runs no jobs until you approve again"
            );
        }
        ProjectCmd::Close { client, name } => {
            Client::load(&client)?.close_project(&name)?;
            println!("closed project {name:?} at all three parties");
        }
        ProjectCmd::Show { client, name, json } => {
            let all = Client::load(&client)?.project_at_all(&name)?;
            if json {
                println!("{}", serde_json::to_string(&all[0])?);
                return Ok(());
            }
            show(&all[0]);
            // the parties decide independently; a difference means a change is still under way
            let differ: Vec<String> = all
                .iter()
                .filter(|p| p.state != all[0].state)
                .map(|p| format!("party {}: {}", p.party, p.state))
                .collect();
            if !differ.is_empty() {
                println!(
                    "  note: the parties differ (party {}: {}; {}): a change is still being applied, or a party \
                     missed one; jobs are refused until they agree (the change's author can send it again)",
                    all[0].party,
                    all[0].state,
                    differ.join(", ")
                );
            }
        }
        ProjectCmd::Report { client, name, format } => crate::commands::audit::report(&client, &name, &format)?,
        ProjectCmd::List { client, json } => {
            let ps = Client::load(&client)?.projects()?;
            if json {
                println!("{}", serde_json::to_string(&ps)?);
                return Ok(());
            }
            let rows: Vec<Vec<String>> = ps
                .iter()
                .map(|p| {
                    let tables: Vec<&str> = p.tables.iter().map(|t| t.name.as_str()).collect();
                    vec![p.name.clone(), p.state.clone(), p.analysts.join(", "), tables.join(", "), p.purpose.clone()]
                })
                .collect();
            println!("{}", table(&["project", "state", "analysts", "tables", "purpose"], &[Align::Left; 5], &rows, 0));
            println!("({} projects)", ps.len());
        }
    }
    Ok(())
}

pub(crate) fn policy(cmd: PolicyCmd) -> Result<()> {
    match cmd {
        PolicyCmd::Set { client, table, policy } => {
            if !policy.given() {
                bail!(
                    "say what to change: --aggregate-only or --allow-rows, --min-group-size K, \
                     --allow-order-statistics, --dp-epsilon E [--dp-delta D], --max-jobs N (`mitsu policy show {table}` \
                     shows the policy now)"
                );
            }
            let c = Client::load(&client)?;
            let Some(t) = c.table_at(0, &table)? else { bail!("no table {table:?}") };
            let p = policy.apply(t.policy)?;
            c.set_policy(&table, p)?;
            println!("policy of {table:?} at all three parties: {}", policy_text(&p));
        }
        PolicyCmd::Show { client, table } => {
            let c = Client::load(&client)?;
            let Some(t) = c.table_at(0, &table)? else { bail!("no table {table:?}") };
            println!("{table}: {}", policy_text(&t.policy));
        }
    }
    Ok(())
}
