//! The rules of a committed AppArmor profile that a drift check needs: file, capability and
//! network rules, allow and deny. Reads what trace writes (quoted, octal-escaped paths) and what
//! people add by hand (unquoted paths, globs, `owner`, `audit`, `allow`, `file,`), one rule per
//! line; other rules (signal, ptrace, mount, unix, ...) are skipped. A Security Profiles Operator
//! `AppArmorProfile` (YAML) is read through the rules the operator's template makes of it.

use std::collections::BTreeSet;
use std::fmt::Write;

use super::glob::Pattern;
use crate::recording::{CAPABILITY_NAMES, Capability, FAMILY_NAMES, SocketFamily, SocketType};
use crate::render::apparmor::spo::AppArmorProfile;

/// One file rule.
#[derive(Clone, Debug)]
pub struct FileRule {
    /// A deny rule.
    pub deny: bool,
    /// Its path pattern.
    pub pattern: Pattern,
    /// Permission letters (`r w a l k m x`; any exec mode is `x`).
    pub perms: BTreeSet<char>,
    /// The rule as written, for reports.
    pub text: String,
}

/// A network rule: family and type, `None` for any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkRule {
    /// A deny rule.
    pub deny: bool,
    /// `inet`, `unix`, ... or any.
    pub family: Option<String>,
    /// `stream`, `dgram`, ... or any.
    pub sock_type: Option<String>,
    /// The rule as written.
    pub text: String,
}

/// What a profile allows and denies, as far as a drift check compares it.
#[derive(Clone, Debug, Default)]
pub struct Rules {
    /// File rules.
    pub files: Vec<FileRule>,
    /// `file,`: every file access.
    pub all_files: bool,
    /// Capabilities allowed (AppArmor names, `net_bind_service`).
    pub capabilities: BTreeSet<String>,
    /// Capabilities denied.
    pub denied_capabilities: BTreeSet<String>,
    /// `capability,`: every capability.
    pub all_capabilities: bool,
    /// Network rules.
    pub network: Vec<NetworkRule>,
    /// Read from a Security Profiles Operator `AppArmorProfile`, whose network rules can name
    /// only tcp, udp (over inet and inet6) and raw sockets.
    pub spo: bool,
}

impl Rules {
    /// Whether the profile could name a socket of this family and type at all: AppArmor has no
    /// name for some families, the operator's abstract only for tcp, udp and raw.
    pub fn can_name_socket(&self, family: SocketFamily, sock_type: SocketType) -> bool {
        if self.spo {
            matches!(
                (family.name(), sock_type.name()),
                (Some("inet" | "inet6"), Some("stream" | "dgram")) | (_, Some("raw"))
            )
        } else {
            crate::render::apparmor::network::apparmor_family(family).is_some()
        }
    }
}

/// Where a rule could not be read: line number and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {why}")]
pub struct ParseError {
    /// 1-based line.
    pub line: usize,
    /// What was wrong.
    pub why: String,
}

/// `line` without a trailing `# comment` (a `#` outside quotes, after a space or at the start).
fn strip_comment(line: &str) -> &str {
    let mut quoted = false;
    let mut escaped = false;
    let bytes = line.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            _ if escaped => escaped = false,
            b'\\' => escaped = true,
            b'"' => quoted = !quoted,
            b'#' if !quoted && (i == 0 || bytes[i - 1].is_ascii_whitespace()) => return &line[..i],
            _ => {}
        }
    }
    line
}

/// Splits off the first word, which may be a quoted string (returned with its quotes).
fn first_word(text: &str) -> (&str, &str) {
    let text = text.trim_start();
    if text.starts_with('"') {
        let bytes = text.as_bytes();
        let mut i = 1;
        while i < bytes.len() {
            match bytes[i] {
                b'\\' => i += 2,
                b'"' => return (&text[..=i], &text[i + 1..]),
                _ => i += 1,
            }
        }
        return (text, "");
    }
    let end = text.find(char::is_whitespace).unwrap_or(text.len());
    (&text[..end], &text[end..])
}

fn file_perms(word: &str) -> Option<BTreeSet<char>> {
    let mut perms = BTreeSet::new();
    for c in word.chars() {
        match c {
            'r' | 'w' | 'a' | 'l' | 'k' | 'm' => {
                perms.insert(c);
            }
            'x' => {
                perms.insert('x');
            }
            'i' | 'p' | 'P' | 'u' | 'U' | 'c' | 'C' => {}
            _ => return None,
        }
    }
    (!perms.is_empty()).then_some(perms)
}

/// `network` rule words: a family, a type, or a protocol (`tcp` is stream, `udp` dgram, over inet
/// and inet6).
fn network_rules(words: &[&str], deny: bool, text: &str) -> Vec<NetworkRule> {
    let types = [
        "stream",
        "dgram",
        "raw",
        "rdm",
        "seqpacket",
        "dccp",
        "packet",
    ];
    let rule = |family: Option<&str>, sock_type: Option<&str>| NetworkRule {
        deny,
        family: family.map(str::to_owned),
        sock_type: sock_type.map(str::to_owned),
        text: text.to_owned(),
    };
    match words {
        [] => vec![rule(None, None)],
        [proto @ ("tcp" | "udp")] | [_, proto @ ("tcp" | "udp")] => {
            let sock_type = if *proto == "tcp" { "stream" } else { "dgram" };
            let families: Vec<&str> = match words {
                [family, _] => vec![family],
                _ => vec!["inet", "inet6"],
            };
            families
                .into_iter()
                .map(|f| rule(Some(f), Some(sock_type)))
                .collect()
        }
        [t] if types.contains(t) && !FAMILY_NAMES.contains(t) => vec![rule(None, Some(t))],
        [family] => vec![rule(Some(family), None)],
        [family, t, ..] => vec![rule(Some(family), Some(t))],
    }
}

/// Reads the rules of an AppArmor profile.
pub fn parse(text: &str) -> Result<Rules, ParseError> {
    let mut rules = Rules::default();
    for (index, raw) in text.lines().enumerate() {
        let line = strip_comment(raw).trim();
        let Some(body) = line.strip_suffix(',') else {
            continue; // headers, includes, braces, blank lines
        };
        let error = |why: String| ParseError {
            line: index + 1,
            why,
        };
        let mut rest = body.trim();
        let mut deny = false;
        loop {
            let (word, after) = first_word(rest);
            match word {
                "deny" => deny = true,
                "allow" | "audit" | "owner" => {}
                _ => break,
            }
            rest = after.trim_start();
        }
        let (word, after) = first_word(rest);
        let words: Vec<&str> = after.split_whitespace().collect();
        match word {
            "capability" => {
                if words.is_empty() {
                    if !deny {
                        rules.all_capabilities = true;
                    }
                } else if deny {
                    rules
                        .denied_capabilities
                        .extend(words.iter().map(|w| (*w).to_owned()));
                } else {
                    rules
                        .capabilities
                        .extend(words.iter().map(|w| (*w).to_owned()));
                }
            }
            "network" => rules.network.extend(network_rules(&words, deny, line)),
            "file" if words.is_empty() => {
                if !deny {
                    rules.all_files = true;
                }
            }
            _ => {
                let (path, perms) = match word {
                    "file" => {
                        let (path, perms) = first_word(after);
                        (path, perms.trim())
                    }
                    _ => (word, after.trim()),
                };
                let path = path
                    .strip_prefix('"')
                    .and_then(|p| p.strip_suffix('"'))
                    .unwrap_or(path);
                if !(path.starts_with('/') || path.starts_with("@{")) {
                    continue; // not a file rule: signal, ptrace, mount, unix, dbus, ...
                }
                // `PATH PERMS -> TARGET` (link rules): the permissions are before the arrow.
                let perms = perms.split("->").next().unwrap_or_default().trim();
                let perms = file_perms(perms)
                    .ok_or_else(|| error(format!("unknown file permissions {perms:?}")))?;
                let pattern = Pattern::parse(path.as_bytes())
                    .map_err(|e| error(format!("path {path:?}: {e}")))?;
                rules.files.push(FileRule {
                    deny,
                    pattern,
                    perms,
                    text: line.to_owned(),
                });
            }
        }
    }
    Ok(rules)
}

/// The rules the Security Profiles Operator's template makes of an `AppArmorProfile` (see
/// [`crate::render::apparmor::spo`]).
pub fn from_spo(profile: &AppArmorProfile) -> Result<Rules, ParseError> {
    let mut text = String::new();
    let spec = &profile.spec.abstract_;
    let mut add = |paths: &[String], perms: &str| {
        for path in paths {
            let _ = writeln!(text, "{path} {perms},");
        }
    };
    if let Some(exe) = &spec.executable {
        add(&exe.allowed_executables, "ixr");
        add(&exe.allowed_libraries, "mr");
    }
    if let Some(fs) = &spec.filesystem {
        add(&fs.read_only_paths, "r");
        add(&fs.write_only_paths, "wlk");
        add(&fs.read_write_paths, "rwlk");
        for path in &fs.read_only_paths {
            let _ = writeln!(text, "deny {path} wlk,");
        }
        for path in &fs.write_only_paths {
            let _ = writeln!(text, "deny {path} r,");
        }
    }
    if let Some(network) = &spec.network {
        if network.allow_raw {
            text.push_str("network raw,\n");
        }
        if network.allowed_protocols.allow_tcp {
            text.push_str("network tcp,\n");
        }
        if network.allowed_protocols.allow_udp {
            text.push_str("network udp,\n");
        }
    }
    if let Some(caps) = &spec.capability {
        for cap in &caps.allowed_capabilities {
            let _ = writeln!(text, "capability {cap},");
        }
    }
    let mut rules = parse(&text)?;
    rules.spo = true;
    Ok(rules)
}

/// AppArmor's name of a capability (`net_bind_service`), `None` for numbers without a name.
pub fn capability_name(cap: Capability) -> Option<String> {
    let name = CAPABILITY_NAMES.get(usize::try_from(cap.0).ok()?)?;
    Some(name.trim_start_matches("CAP_").to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_rules_trace_writes_and_hand_written_ones() {
        let profile = r#"
abi <abi/3.0>,
include <tunables/global>
profile "trace-x" flags=(attach_disconnected,mediate_deleted) {
  "/etc/passwd" rk,  # read, lock
  "/data/a\054b\012c" w,  # write
  owner /srv/** rw,
  file /opt/app ix,
  /usr/lib/** mr,
  capability net_bind_service,
  deny capability sys_admin,
  network inet stream,
  network tcp,
  deny network alg,
  signal (receive) peer=unconfined,
  ptrace (read,readby) peer="trace-x",
  deny @{PROC}/* w,
  deny mount,
}
"#;
        let rules = parse(profile).unwrap();
        let paths: Vec<&str> = rules.files.iter().map(|f| f.text.as_str()).collect();
        assert_eq!(paths.len(), 6, "{paths:?}");
        assert!(rules.files[1].pattern.matches(b"/data/a,b\nc"));
        assert!(rules.files[2].pattern.matches(b"/srv/x/y"));
        assert!(rules.files[3].perms.contains(&'x'));
        assert!(rules.files[5].deny);
        assert_eq!(
            rules.capabilities,
            BTreeSet::from(["net_bind_service".to_owned()])
        );
        assert!(rules.denied_capabilities.contains("sys_admin"));
        assert_eq!(
            rules.network.len(),
            4,
            "inet stream, tcp over inet and inet6, deny alg"
        );
        assert!(!rules.all_files && !rules.all_capabilities);
        assert!(parse("  \"/a\" q,\n").is_err());
    }
}
