use super::*;
use crate::platform::operator::AppArmorProfile;

const PROFILE: &str = r#"
abi <abi/3.0>,
include <tunables/global>
@{HOMES} = /home/ /srv/
profile "trace-x" flags=(attach_disconnected,mediate_deleted) {
  #include <abstractions/base>
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

fn problem(text: &str) -> Problem {
    match parse(text) {
        Err(ParseError::At { problem, .. }) => problem,
        other => panic!("{text:?}: {other:?}"),
    }
}

#[test]
fn reads_the_rules_trace_writes_and_hand_written_ones() {
    let rules = parse(PROFILE).unwrap();
    let paths: Vec<&str> = rules.files.iter().map(|f| f.text.as_str()).collect();
    assert_eq!(paths.len(), 6, "{paths:?}");
    assert_eq!(paths[0], r#""/etc/passwd" rk,"#);
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
    assert_eq!(rules.profile.as_deref(), Some("trace-x"));
    assert!(rules.ignored.is_empty());
}

#[test]
fn rules_may_span_lines_and_globs_hold_braces_and_commas() {
    let rules = parse(
        "/usr/bin/app {\n  dbus send\n     bus=session\n     path=/org/x,\n  /srv/{a,b{c,d}}/** r,\n  r /etc/hosts,\n  px /bin/sh -> other,\n  link subset /tmp/a -> /tmp/b,\n  /opt/[{,]x w, /opt/y\n    k,\n}",
    )
    .unwrap();
    let texts: Vec<&str> = rules.files.iter().map(|f| f.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "/srv/{a,b{c,d}}/** r,",
            "r /etc/hosts,",
            "px /bin/sh -> other,",
            "link subset /tmp/a -> /tmp/b,",
            "/opt/[{,]x w,",
            "/opt/y k,"
        ]
    );
    assert!(rules.files[0].pattern.matches(b"/srv/bd/x"));
    assert!(rules.files[4].pattern.matches(b"/opt/,x"));
    assert_eq!(rules.profile.as_deref(), Some("/usr/bin/app"));
}

/// An extra profile block once made every file count as allowed: only the container's
/// profile's rules count, the rest is named as ignored.
#[test]
fn other_profiles_hats_and_children_are_not_the_profiles_rules() {
    let text = format!("{PROFILE}profile other {{ /** rwmix, }}\n");
    let rules = parse(&text).unwrap();
    assert_eq!(rules.files.len(), 6);
    assert!(!rules.files.iter().any(|f| f.pattern.matches(b"/anything")));
    assert_eq!(rules.ignored, ["profile other"]);
    let first = format!("profile other {{ /** rwmix, }}\n{PROFILE}");
    assert_eq!(parse(&first).unwrap().files.len(), 6);

    let nested = "profile trace-x {\n  /a r,\n  ^hat {\n    /** rw,\n  }\n  hat h2 { /b w, }\n  profile child flags=(complain) {\n    /c w,\n    capability,\n  }\n  /d r,\n}\n";
    let rules = parse(nested).unwrap();
    let texts: Vec<&str> = rules.files.iter().map(|f| f.text.as_str()).collect();
    assert_eq!(texts, ["/a r,", "/d r,"]);
    assert!(!rules.all_capabilities);
    assert_eq!(rules.ignored, ["hat ^hat", "hat h2", "profile child"]);

    // A malformed rule is an error wherever it is.
    assert!(matches!(
        problem("profile trace-x { /a r, }\nprofile other { /b q, }"),
        Problem::UnknownPermissions(_)
    ));
    assert!(matches!(
        problem("profile trace-x { ^hat { garbage here, } }"),
        Problem::UnknownRule(_)
    ));
}

#[test]
fn several_profiles_without_a_single_trace_one_are_refused() {
    assert!(matches!(
        parse("profile a { /a r, }\nprofile b { /b r, }"),
        Err(ParseError::Ambiguous(names)) if names.len() == 2
    ));
    assert!(matches!(
        parse("profile trace-a { /a r, }\nprofile trace-b { /b r, }"),
        Err(ParseError::Ambiguous(_))
    ));
    let single = parse("profile x {\n  /srv/** r,\n}\n").unwrap();
    assert_eq!(single.profile.as_deref(), Some("x"));
}

/// What cannot be read is an error (`trace check` exits 2), never an empty rule set that
/// reports everything as drift, nor a partial one.
#[test]
fn unreadable_profiles_are_errors() {
    for empty in [
        "",
        "\n\n",
        "# only a comment\n",
        "abi <abi/3.0>,\ninclude <x>\n",
    ] {
        assert_eq!(
            parse(empty).unwrap_err(),
            ParseError::NoProfile,
            "{empty:?}"
        );
    }
    assert!(matches!(problem("garbage"), Problem::Unterminated(_)));
    assert!(matches!(
        problem("hello world,\nprofile x { }"),
        Problem::OutsideProfile(_)
    ));
    assert!(matches!(
        problem("profile x {\n  /a r,\n"),
        Problem::UnclosedBlock(_)
    ));
    assert!(matches!(
        problem("profile x {\n  /a r\n}"),
        Problem::Unterminated(_)
    ));
    assert!(matches!(
        problem("profile x {\n  /a r,\n}\n}"),
        Problem::UnmatchedClose
    ));
    assert!(matches!(
        problem("profile x {\n  hello world,\n}"),
        Problem::UnknownRule(_)
    ));
    assert!(matches!(
        problem("profile x {\n  \"/a r,\n}"),
        Problem::UnclosedQuote
    ));
    assert!(matches!(
        problem("profile x {\n  /a{b r,\n}"),
        Problem::UnclosedBrace
    ));
    assert!(matches!(
        problem("profile x {\n  if defined @{x} {\n  }\n}"),
        Problem::UnknownBlock(_)
    ));
    assert!(matches!(problem("garbage {\n}"), Problem::UnknownBlock(_)));
    assert!(matches!(
        problem("profile x {\n  /a q,\n}"),
        Problem::UnknownPermissions(_)
    ));
    assert!(matches!(
        problem(&format!(
            "profile x {{\n  /{}a{} r,\n}}",
            "{".repeat(100),
            "}".repeat(100)
        )),
        Problem::Pattern {
            error: PatternError::TooDeep,
            ..
        }
    ));
    assert!(parse("  \"/a\" q,\n").is_err());
    let ParseError::At { line, .. } = parse("profile x {\n\n  /a r,\n  bad,\n}").unwrap_err()
    else {
        panic!()
    };
    assert_eq!(line, 4);
    let message = parse("profile x {\n  evil\x1b[2J rule,\n}")
        .unwrap_err()
        .to_string();
    assert!(
        message.starts_with("line 2: `evil\\x1b[2J rule,` is not an AppArmor rule"),
        "{message}"
    );
}

#[test]
fn operator_paths_are_read_as_written() {
    let mut profile: AppArmorProfile = serde_norway::from_str(
        "apiVersion: security-profiles-operator.x-k8s.io/v1alpha1\nkind: AppArmorProfile\nmetadata:\n  name: x\nspec:\n  abstract:\n    filesystem:\n      readOnlyPaths: [\"/etc/a b\", \"/proc/@{pid}/stat\"]\n    network:\n      allowRaw: false\n      allowedProtocols: {allowTcp: true, allowUdp: false}\n    capability:\n      allowedCapabilities: [chown]\n",
    )
    .unwrap();
    let rules = from_spo(&profile).unwrap();
    assert!(rules.spo);
    assert!(rules.files[0].pattern.matches(b"/etc/a b"));
    assert!(rules.files[1].pattern.matches(b"/proc/7/stat"));
    assert_eq!(rules.files[2].text, "deny /etc/a b wlk,");
    assert_eq!(rules.network.len(), 2, "tcp over inet and inet6");
    assert!(rules.capabilities.contains("chown"));
    let fs = profile.spec.abstract_.filesystem.as_mut().unwrap();
    fs.read_only_paths.push("relative".into());
    assert!(matches!(
        from_spo(&profile),
        Err(ParseError::Spo(Problem::NotAPath(_)))
    ));
}
