//! `mitsu bench --processes`: operations between three party processes.

use anyhow::Result;

pub(crate) fn bench_processes(n: usize, only: &[String], repeat: usize, json: bool) -> Result<()> {
    use mitsu_bench::processes::PROCESS_OPS;
    let ops: Vec<String> = if only.is_empty() { vec!["mul_fixed".into(), "lt".into()] } else { only.to_vec() };
    if let Some(o) = ops.iter().find(|o| !PROCESS_OPS.contains(&o.as_str())) {
        anyhow::bail!("--processes measures {}, not {o:?}", PROCESS_OPS.join(", "));
    }
    let dep = mitsu_server::local::TempDeployment::start("bench", &std::env::current_exe()?)?;
    let dir = dep.dir.clone();
    let c = mitsu_client::Client::load(&dir.join("admin.toml"))?;
    let mut res = std::collections::BTreeMap::new();
    for op in &ops {
        res.insert(op.clone(), mitsu_bench::processes::measure(&c, op, n, repeat)?);
    }
    if json {
        println!("{}", serde_json::json!({ "n": n, "processes": res }));
    } else {
        println!("mitsu bench --processes: n = {n}, three party processes, mutual TLS on loopback (compute + open)");
        println!(
            "{:<10} {:>12} {:>12} {:>8} {:>16} {:>14}",
            "op", "processes", "in-process", "ratio", "with sharing", "bytes/party"
        );
        for (op, r) in &res {
            println!(
                "{:<10} {:>12.4} {:>12.4} {:>8.2} {:>16.4} {:>14}",
                op, r.processes, r.in_process, r.ratio, r.with_sharing, r.bytes_per_party
            );
        }
    }
    Ok(())
}
