//! `trace check --against DIR RECORDING.json`: drift of a recording from committed profiles.
//! Exit status: 0 everything observed is allowed, 1 drift, 2 the check could not be made (a
//! missing or malformed file; clap's usage errors are 2 as well).
//!
//! The report is printed as text, JSON, GitHub workflow annotations or SARIF 2.1.0; on drift the
//! commands that accept it (merge the new recording into the committed one, render again) follow
//! on stderr.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::json;

use super::{CheckArgs, ReportFormat, input};
use crate::check::{self, New, Report};
use crate::render;

/// Exit status when the check could not be made.
pub const EXIT_ERROR: i32 = 2;

pub(super) fn run(args: &CheckArgs) -> i32 {
    if args.deprecated_format.is_some() {
        say!("trace: warning: `trace check --format` is deprecated: use --output-format");
    }
    let result = (|| {
        let recording = input::read_recording(&args.recording)?;
        // Drift only of what enough runs saw: the same filter as the profiles' --min-runs.
        let (mut recording, _) = recording.seen_in_at_least(args.min_runs)?;
        recording.include_syscalls(&args.include_syscall);
        let committed = check::load_committed(&args.against)?;
        anyhow::Ok(check::check(
            &recording,
            &committed,
            &args.against.display().to_string(),
            args.strict,
        ))
    })();
    let report = match result {
        Ok(report) => report,
        Err(e) => {
            say!("trace: error: {e:#}");
            return EXIT_ERROR;
        }
    };
    show!("{}", render_report(&report, args.report_format()));
    if report.drift {
        for line in accept_commands(&report, &args.against, &args.recording) {
            note!("{line}");
        }
        check::EXIT_DRIFT
    } else {
        check::EXIT_OK
    }
}

/// The report in `format`.
pub fn render_report(report: &Report, format: ReportFormat) -> String {
    match format {
        ReportFormat::Text => check::render_text(report),
        ReportFormat::Json => check::render_json(report),
        ReportFormat::Github => render_github(report),
        ReportFormat::Sarif => render_sarif(report),
    }
}

/// One finding of a report: what kind, how serious, the message, and the committed file it is
/// about.
struct Finding {
    rule: &'static str,
    level: Level,
    message: String,
    file: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    /// Drift.
    Error,
    /// Refused by a deny rule: not drift, worth a look.
    Note,
}

/// The rules of the findings: id, short description.
const RULES: &[(&str, &str)] = &[
    (
        "new-syscall",
        "A system call the seccomp profile does not allow",
    ),
    (
        "new-file",
        "A file access the AppArmor profile does not allow",
    ),
    (
        "new-capability",
        "A capability the AppArmor profile does not grant",
    ),
    ("new-socket", "A socket the AppArmor profile does not allow"),
    (
        "new-bound-port",
        "A port the committed recording did not bind",
    ),
    (
        "refused-by-deny-rule",
        "Observed, and refused by an explicit deny rule (not drift)",
    ),
    (
        "no-longer-observed",
        "Allowed by the profiles and not observed (--strict)",
    ),
];

/// The committed file of `report` named one of `names`, as a path under the directory; the
/// directory itself when none was read.
fn committed_file(report: &Report, names: &[&str]) -> String {
    let dir = report.against.trim_end_matches('/');
    report
        .profiles
        .iter()
        .find(|p| names.contains(&p.file.as_str()))
        .map_or_else(|| dir.to_owned(), |p| format!("{dir}/{}", p.file))
}

fn findings(report: &Report) -> Vec<Finding> {
    let seccomp = committed_file(report, &[render::SECCOMP_FILE, render::SPO_SECCOMP_FILE]);
    let apparmor = committed_file(report, &[render::APPARMOR_FILE, render::SPO_APPARMOR_FILE]);
    let recording = committed_file(report, &[render::RECORDING_FILE]);
    let mut out = Vec::new();
    let mut add = |rule, level, message: String, file: &str| {
        out.push(Finding {
            rule,
            level,
            message,
            file: file.to_owned(),
        });
    };
    let New {
        syscalls,
        files,
        capabilities,
        sockets,
        bound_ports,
    } = &report.new;
    for s in syscalls {
        let message = format!(
            "new system call {} ({}; {} calls) is not allowed by the seccomp profile",
            s.name,
            s.abis.join(", "),
            s.calls
        );
        add("new-syscall", Level::Error, message, &seccomp);
    }
    for f in files {
        let message = format!(
            "new file {} needs {} (seen: {})",
            f.path,
            f.missing,
            f.access.join(", ")
        );
        add("new-file", Level::Error, message, &apparmor);
    }
    for c in capabilities {
        let message = format!("new capability {} ({} checks granted)", c.name, c.granted);
        add("new-capability", Level::Error, message, &apparmor);
    }
    for s in sockets {
        let message = format!(
            "new socket {} {} ({} created)",
            s.family, s.sock_type, s.count
        );
        add("new-socket", Level::Error, message, &apparmor);
    }
    for p in bound_ports {
        let message = format!(
            "new bound port: {} {} port {}",
            p.family, p.sock_type, p.port
        );
        add("new-bound-port", Level::Error, message, &recording);
    }
    for f in &report.refused.files {
        let message = format!(
            "file {} is refused by a deny rule: denied {} (seen: {})",
            f.path,
            f.missing,
            f.access.join(", ")
        );
        add("refused-by-deny-rule", Level::Note, message, &apparmor);
    }
    for c in &report.refused.capabilities {
        let message = format!("capability {} is refused by a deny rule", c.name);
        add("refused-by-deny-rule", Level::Note, message, &apparmor);
    }
    for s in &report.refused.sockets {
        let message = format!(
            "socket {} {} is refused by a deny rule",
            s.family, s.sock_type
        );
        add("refused-by-deny-rule", Level::Note, message, &apparmor);
    }
    if let Some(unused) = &report.no_longer_observed {
        let kinds: [(&str, &Vec<String>, &str); 4] = [
            ("system call", &unused.syscalls, &seccomp),
            ("file rule", &unused.file_rules, &apparmor),
            ("capability", &unused.capabilities, &apparmor),
            ("network rule", &unused.network_rules, &apparmor),
        ];
        for (what, items, file) in kinds {
            for item in items {
                let message = format!("{what} {item} is allowed and no longer observed");
                add("no-longer-observed", Level::Error, message, file);
            }
        }
        for p in &unused.bound_ports {
            let message = format!(
                "bound port {} {} port {} is no longer observed",
                p.family, p.sock_type, p.port
            );
            add("no-longer-observed", Level::Error, message, &recording);
        }
    }
    out
}

/// GitHub Actions workflow commands: `::error` per drift and `::notice` per refusal, on the
/// committed file (line 1: the item is what the file lacks), then the text report's last line.
pub fn render_github(report: &Report) -> String {
    let mut out = String::new();
    for finding in findings(report) {
        let command = match finding.level {
            Level::Error => "error",
            Level::Note => "notice",
        };
        let _ = writeln!(
            out,
            "::{command} file={},line=1,title={}::{}",
            github_property(&finding.file),
            github_property(&format!("trace check: {}", finding.rule)),
            github_data(&finding.message)
        );
    }
    for note in &report.notes {
        let _ = writeln!(out, "::notice title=trace check::{}", github_data(note));
    }
    let text = check::render_text(report);
    if let Some(result) = text.lines().last() {
        let _ = writeln!(out, "{result}");
    }
    out
}

/// A workflow command's message, escaped as the runner reads it.
fn github_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A workflow command's property value (`file=`, `title=`), escaped as the runner reads it.
fn github_property(text: &str) -> String {
    github_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// A SARIF 2.1.0 log: one run of the tool `trace`, one result per finding, located on the
/// committed file.
pub fn render_sarif(report: &Report) -> String {
    let results: Vec<serde_json::Value> = findings(report)
        .into_iter()
        .map(|f| {
            json!({
                "ruleId": f.rule,
                "level": match f.level { Level::Error => "error", Level::Note => "note" },
                "message": { "text": f.message },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": uri_path(&f.file) },
                        "region": { "startLine": 1 }
                    }
                }]
            })
        })
        .collect();
    let rules: Vec<serde_json::Value> = RULES
        .iter()
        .map(|(id, text)| json!({ "id": id, "shortDescription": { "text": text } }))
        .collect();
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "trace",
                    "version": super::VERSION,
                    "rules": rules
                }
            },
            "results": results,
            "properties": { "drift": report.drift, "notes": report.notes }
        }]
    });
    let mut text = serde_json::to_string_pretty(&log).expect("a JSON value always serializes");
    text.push('\n');
    text
}

/// A relative path as a URI reference: every byte outside the unreserved set and `/` as `%HH`.
fn uri_path(path: &str) -> String {
    let mut out = String::new();
    for byte in path.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// The commands that accept the drift: merge the new recording into the committed one (or commit
/// it), then render the profiles again in the committed format.
pub fn accept_commands(report: &Report, against: &Path, recording: &Path) -> Vec<String> {
    let dir = shell_word(&against.display().to_string());
    let new = if input::is_stdin(recording) {
        "NEW/recording.json".to_owned()
    } else {
        shell_word(&recording.display().to_string())
    };
    let committed = shell_word(&against.join(render::RECORDING_FILE).display().to_string());
    let has_recording = report
        .profiles
        .iter()
        .any(|p| p.file == render::RECORDING_FILE);
    let format = report
        .profiles
        .iter()
        .find_map(|p| match p.format.as_str() {
            "oci" => Some(" --format oci"),
            "spo" => Some(" --format spo"),
            _ => None,
        })
        .unwrap_or("");
    let take = if has_recording {
        format!("trace merge {committed} {new} -o {committed}")
    } else {
        format!("cp {new} {committed}")
    };
    vec![
        "trace: to accept these changes, update the committed profiles (hand edits in them are replaced;".to_owned(),
        "trace: add the --arch and --relative-to-default options they were rendered with):".to_owned(),
        format!("  {take}"),
        format!("  trace render {committed}{format} --out {dir}"),
    ]
}

/// `text` as one shell word: as it is when it holds only safe characters, else single-quoted.
fn shell_word(text: &str) -> String {
    let safe = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._/:@%+=,".contains(&b));
    if safe {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{NewFile, NewSyscall, ProfileFile};

    fn report() -> Report {
        let mut report = Report {
            against: "profiles/web".into(),
            profiles: vec![
                ProfileFile {
                    file: "seccomp.json".into(),
                    format: "docker".into(),
                },
                ProfileFile {
                    file: "apparmor.profile".into(),
                    format: "apparmor".into(),
                },
            ],
            drift: true,
            new: New::default(),
            refused: New::default(),
            no_longer_observed: None,
            notes: vec!["no recording.json: ports are not compared".into()],
        };
        report.new.syscalls.push(NewSyscall {
            name: "mkdir".into(),
            abis: vec!["x86_64".into()],
            calls: 1,
        });
        report.new.files.push(NewFile {
            path: "/tmp/a,b:c%\\x0a".into(),
            missing: "w".into(),
            access: vec!["create".into()],
        });
        report
    }

    #[test]
    fn github_annotations_name_the_committed_file_and_escape() {
        let text = render_github(&report());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "::error file=profiles/web/seccomp.json,line=1,title=trace check%3A new-syscall::new system call mkdir (x86_64; 1 calls) is not allowed by the seccomp profile"
        );
        assert_eq!(
            lines[1],
            "::error file=profiles/web/apparmor.profile,line=1,title=trace check%3A new-file::new file /tmp/a,b:c%25\\x0a needs w (seen: create)"
        );
        assert_eq!(
            lines[2],
            "::notice title=trace check::no recording.json: ports are not compared"
        );
        assert_eq!(lines[3], "result: DRIFT: 2 new, 0 no longer observed");
        assert_eq!(lines.len(), 4);
        assert_eq!(github_property("a,b:c\nd%"), "a%2Cb%3Ac%0Ad%25");
    }

    #[test]
    fn sarif_has_a_result_per_finding_on_the_committed_file() {
        let log: serde_json::Value = serde_json::from_str(&render_sarif(&report())).unwrap();
        assert_eq!(log["version"], "2.1.0");
        let run = &log["runs"][0];
        assert_eq!(run["tool"]["driver"]["name"], "trace");
        let results = run["results"].as_array().unwrap();
        assert_eq!(results.len(), 2);
        assert_eq!(results[0]["ruleId"], "new-syscall");
        assert_eq!(results[0]["level"], "error");
        assert_eq!(
            results[1]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "profiles/web/apparmor.profile"
        );
        let ids: Vec<&str> = run["tool"]["driver"]["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap())
            .collect();
        for result in results {
            assert!(ids.contains(&result["ruleId"].as_str().unwrap()));
        }
        assert_eq!(uri_path("a b/c%d.json"), "a%20b/c%25d.json");
    }

    #[test]
    fn accepting_merges_into_the_committed_recording_or_commits_the_new_one() {
        let mut report = report();
        let lines = accept_commands(
            &report,
            Path::new("profiles/web"),
            Path::new("new dir/recording.json"),
        );
        assert_eq!(
            lines[2..],
            [
                "  cp 'new dir/recording.json' profiles/web/recording.json",
                "  trace render profiles/web/recording.json --out profiles/web",
            ]
        );
        report.profiles.push(ProfileFile {
            file: "recording.json".into(),
            format: "recording".into(),
        });
        report.profiles[0].format = "oci".into();
        let lines = accept_commands(&report, Path::new("p"), Path::new("-"));
        assert_eq!(
            lines[2..],
            [
                "  trace merge p/recording.json NEW/recording.json -o p/recording.json",
                "  trace render p/recording.json --format oci --out p",
            ]
        );
        assert_eq!(shell_word("it's"), r"'it'\''s'");
    }
}
