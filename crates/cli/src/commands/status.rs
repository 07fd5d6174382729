//! `mitsu status`: health of every party and its links.

use anyhow::Result;

pub(crate) fn status(client: &std::path::Path, json: bool) -> Result<()> {
    let c = mitsu_client::Client::load(client)?;
    let res = c.status();
    let mut down = Vec::new();
    if json {
        let arr: Vec<serde_json::Value> = res
            .iter()
            .enumerate()
            .map(|(i, r)| match r {
                Ok(v) => serde_json::to_value(v).expect("serializes"),
                Err(e) => serde_json::json!({"party": i, "error": e.to_string()}),
            })
            .collect();
        println!("{}", serde_json::Value::Array(arr));
    }
    for (i, r) in res.iter().enumerate() {
        match r {
            Ok(v) => {
                if !json {
                    let linked: Vec<String> = v
                        .peers
                        .iter()
                        .map(|p| format!("{}:{}", p.party, if p.linked { "linked" } else { "not linked" }))
                        .collect();
                    let pending = match v.pending_changes {
                        0 => String::new(),
                        n => format!(
                            "; {n} interrupted change(s) waiting for the other parties (completed automatically)"
                        ),
                    };
                    println!(
                        "party {i}: up, version {}, uptime {:.0} s, peers {}{pending}",
                        v.version,
                        v.uptime_s,
                        linked.join(", ")
                    );
                }
            }
            Err(e) => {
                if !json {
                    println!("party {i}: NOT OK: {e}");
                }
                down.push(i);
            }
        }
    }
    if !down.is_empty() {
        anyhow::bail!("parties {down:?} did not answer the status request");
    }
    Ok(())
}
