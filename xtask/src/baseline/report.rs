//! The results as a table for stdout and as JSON (`bench/runc-baseline.json`).

use super::{Mode, Variant, needed_by};
use crate::cli::RuncBaselineArgs;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};
use trace_tests::docker_ok;

/// The table for stdout: one row per profile, then the distinct failures and where they came from.
pub(super) fn table(variants: &[Variant], runtime: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<16} {:>9} {:>9}  {:<9} needed by",
        "name", "default", "nnp", "payload"
    );
    for variant in variants {
        let name = variant.removed.as_deref().unwrap_or("(full baseline)");
        let [default, nnp] = &variant.tallies;
        let payload = match &variant.payload {
            Ok(None) => "ok",
            Ok(Some(_)) => "fails",
            Err(_) => "?",
        };
        let who = needed_by(variant, runtime);
        let who = if variant.removed.is_none() {
            String::new()
        } else if who.is_empty() {
            "-".to_string()
        } else {
            who.join(", ")
        };
        let _ = writeln!(
            out,
            "{name:<16} {:>9} {:>9}  {payload:<9} {who}",
            format!("{}/{}", default.failed(), default.starts),
            format!("{}/{}", nnp.failed(), nnp.starts),
        );
    }
    let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for variant in variants {
        let name = variant.removed.as_deref().unwrap_or("(full)");
        for mode in Mode::ALL {
            for failure in variant.tallies[mode as usize].failures.keys() {
                seen.entry(format!(
                    "{}: {}",
                    failure.culprit.key(runtime),
                    failure.text
                ))
                .or_default()
                .push(format!("{name} ({})", mode.key()));
            }
        }
        if let Ok(Some(how)) = &variant.payload {
            seen.entry(format!("payload alone, under strace: {}", how.describe()))
                .or_default()
                .push(name.to_string());
        }
    }
    if !seen.is_empty() {
        let _ = writeln!(out, "\nfailures seen:");
        for (text, names) in seen {
            let _ = writeln!(out, "  {text}\n    <- {}", names.join(", "));
        }
    }
    out
}

pub(super) fn results_json(
    image: &str,
    args: &RuncBaselineArgs,
    full_starts: u32,
    variants: &[Variant],
    [full_secs, loo_secs]: [f64; 2],
) -> Value {
    let info = |format: &str| docker_ok(&["info", "--format", format]).unwrap_or_default();
    let image_id =
        docker_ok(&["image", "inspect", "--format", "{{.Id}}", image]).unwrap_or_default();
    let row = |variant: &Variant| {
        json!({
            "default": variant.tallies[Mode::Default as usize].to_json(&args.runtime),
            "nnp": variant.tallies[Mode::Nnp as usize].to_json(&args.runtime),
            "payload": match &variant.payload {
                Ok(None) => json!({ "fails": false }),
                Ok(Some(how)) => json!({ "fails": true, "how": how.describe() }),
                Err(why) => json!({ "checked": false, "why": why }),
            },
        })
    };
    let leave_one_out: Vec<Value> = variants[1..]
        .iter()
        .map(|v| {
            let mut r = row(v);
            r["name"] = json!(v.removed);
            r["needed_by"] = json!(needed_by(v, &args.runtime));
            r
        })
        .collect();
    let mut command = if args.runtime == "runc" {
        format!("cargo xtask runc-baseline --starts {}", args.starts)
    } else {
        format!(
            "cargo xtask runtime-baseline --runtime {} --starts {}",
            args.runtime, args.starts
        )
    };
    if args.full_starts.is_some() {
        let _ = write!(command, " --full-starts {full_starts}");
    }
    if let Some(tag) = &args.image {
        let _ = write!(command, " --image {tag}");
    }
    json!({
        "schema": "trace-runc-baseline",
        "schema_version": 1,
        "measured_at": utc_now(),
        "command": command,
        "docker": info("{{.ServerVersion}}"),
        "runc": info("{{.RuncCommit.ID}}"),
        "runtime": args.runtime,
        "runtime_version": runtime_version(&args.runtime),
        "kernel": info("{{.KernelVersion}}"),
        "image": { "tag": image, "id": image_id },
        "payload": ["true"],
        "parallel_starts": args.jobs,
        "seconds": { "full": round1(full_secs), "leave_one_out": round1(loo_secs) },
        "baseline": variants[1..].iter().map(|v| v.removed.clone()).collect::<Vec<_>>(),
        "full": row(&variants[0]),
        "leave_one_out": leave_one_out,
    })
}

/// The first line of `RUNTIME --version`, with the program Docker runs for the runtime named
/// `runtime` (its `runtimes` in `docker info`); empty when it cannot be found.
fn runtime_version(runtime: &str) -> String {
    let runtimes = docker_ok(&["info", "--format", "{{json .Runtimes}}"]).unwrap_or_default();
    let path = serde_json::from_str::<Value>(&runtimes)
        .ok()
        .and_then(|r| r[runtime]["path"].as_str().map(str::to_owned))
        .unwrap_or_else(|| runtime.to_owned());
    std::process::Command::new(path)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .map(str::to_owned)
        })
        .unwrap_or_default()
}

pub(super) fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// The current time as `YYYY-MM-DDTHH:MM:SSZ`.
pub(super) fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    utc(secs)
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ` (the proleptic Gregorian calendar).
pub(super) fn utc(secs: u64) -> String {
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil_from_days, for days >= 0.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}
