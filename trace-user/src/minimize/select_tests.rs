use proptest::prelude::*;

use super::*;

fn image(entries: &[(&str, Kind)]) -> ImageIndex {
    let mut index = ImageIndex::default();
    for (path, kind) in entries {
        let size = u64::from(matches!(kind, Kind::File)) * 10;
        index.insert(
            PathBytes::from(*path),
            Node {
                kind: kind.clone(),
                size,
            },
        );
    }
    index
}

fn link(target: &str) -> Kind {
    Kind::Symlink(target.as_bytes().to_vec())
}

fn want(path: &str) -> Wanted {
    Wanted {
        path: PathBytes::from(path),
        subtree: false,
        origin: Origin::Recording,
    }
}

fn kept(selection: &Selection) -> Vec<String> {
    selection.keep.iter().map(ToString::to_string).collect()
}

/// A Debian-like layout: /lib -> usr/lib, a library reached through a versioned-name chain.
fn debian() -> ImageIndex {
    image(&[
        ("/lib", link("usr/lib")),
        ("/usr", Kind::Dir),
        ("/usr/lib", Kind::Dir),
        ("/usr/lib/libfoo.so", link("libfoo.so.1")),
        ("/usr/lib/libfoo.so.1", link("/usr/lib/libfoo.so.1.2.3")),
        ("/usr/lib/libfoo.so.1.2.3", Kind::File),
        ("/usr/lib/unused.so", Kind::File),
        ("/usr/share", Kind::Dir),
        ("/usr/share/doc", Kind::Dir),
        ("/usr/share/doc/a", Kind::File),
        ("/usr/share/doc/b", link("../../../lib/libfoo.so")),
        ("/etc", Kind::Dir),
        ("/etc/passwd", Kind::File),
        (
            "/etc/hard",
            Kind::HardLink(PathBytes::from("/usr/lib/unused.so")),
        ),
    ])
}

#[test]
fn a_symlink_chain_keeps_every_link_and_directory_on_the_way() {
    let selection = select(&debian(), &[want("/lib/libfoo.so")]);
    assert_eq!(
        kept(&selection),
        [
            "/lib",
            "/usr",
            "/usr/lib",
            "/usr/lib/libfoo.so",
            "/usr/lib/libfoo.so.1",
            "/usr/lib/libfoo.so.1.2.3"
        ]
    );
    assert!(selection.missing.is_empty());
}

#[test]
fn a_subtree_keeps_what_is_below_and_where_its_symlinks_lead() {
    let selection = select(
        &debian(),
        &[Wanted {
            path: PathBytes::from("/usr/share/doc/"),
            subtree: true,
            origin: Origin::Include,
        }],
    );
    let kept = kept(&selection);
    for path in [
        "/usr/share",
        "/usr/share/doc",
        "/usr/share/doc/a",
        "/usr/share/doc/b",
        "/lib",
        "/usr/lib/libfoo.so.1.2.3",
    ] {
        assert!(kept.contains(&path.to_owned()), "{path}: {kept:?}");
    }
    assert!(!kept.contains(&"/usr/lib/unused.so".to_owned()));
}

#[test]
fn a_directory_alone_keeps_no_contents() {
    let selection = select(&debian(), &[want("/usr/share")]);
    assert_eq!(kept(&selection), ["/usr", "/usr/share"]);
}

#[test]
fn a_hard_link_keeps_the_entry_it_links_to() {
    let selection = select(&debian(), &[want("/etc/hard")]);
    assert_eq!(
        kept(&selection),
        [
            "/etc",
            "/etc/hard",
            "/usr",
            "/usr/lib",
            "/usr/lib/unused.so"
        ]
    );
}

#[test]
fn missing_paths_are_reported_but_runtime_ones_are_not() {
    let selection = select(
        &debian(),
        &[
            want("/nope"),
            want("/etc/passwd/x"),
            Wanted {
                path: PathBytes::from("/etc/group"),
                subtree: false,
                origin: Origin::Runtime,
            },
            Wanted {
                path: PathBytes::from("/opt//x/"),
                subtree: true,
                origin: Origin::Include,
            },
        ],
    );
    assert_eq!(
        selection.missing,
        [
            (Origin::Recording, PathBytes::from("/etc/passwd/x")),
            (Origin::Recording, PathBytes::from("/nope")),
            (Origin::Include, PathBytes::from("/opt/x")),
        ]
    );
    // The walk to /etc/passwd/x still met /etc and /etc/passwd: keeping them is harmless.
    assert_eq!(kept(&selection), ["/etc", "/etc/passwd"]);
}

#[test]
fn symlink_loops_and_hostile_paths_end_without_escaping_the_image() {
    let index = image(&[
        ("/a", link("b")),
        ("/b", link("/a")),
        ("/deep", link("deep/x")),
        ("/up", link("../../../../etc")),
        ("/etc", Kind::Dir),
        ("/etc/passwd", Kind::File),
        ("/odd\n\u{ff}", Kind::File),
    ]);
    let selection = select(
        &index,
        &[
            want("/a"),
            want("/deep"),
            want("/../../up/passwd"),
            Wanted {
                path: PathBytes::new(b"/odd\n\xc3\xbf".to_vec()),
                subtree: false,
                origin: Origin::Recording,
            },
            Wanted {
                path: PathBytes::new(b"relative/\xff\x00".to_vec()),
                subtree: true,
                origin: Origin::Include,
            },
        ],
    );
    assert!(selection.keep.iter().all(|p| index.get(p).is_some()));
    assert!(selection.keep.contains(&PathBytes::from("/etc/passwd")));
    assert!(selection.keep.contains(&PathBytes::from("/odd\n\u{ff}")));
    let missing: Vec<String> = selection.missing.iter().map(|m| m.1.to_string()).collect();
    assert_eq!(missing, ["/a", "/deep", "/relative/\\xff\\x00"]);
}

/// A small random image: names from {a, b, c}, depth 3, symlinks with absolute and relative
/// targets (`..` too), hard links; every entry's parents are directories, as in a real tar.
fn arbitrary_image() -> impl Strategy<Value = ImageIndex> {
    let name = prop_oneof![Just("a"), Just("b"), Just("c")];
    let path = proptest::collection::vec(name, 1..4).prop_map(|parts| parts.join("/"));
    let target = (
        any::<bool>(),
        proptest::collection::vec(
            prop_oneof![Just(".."), Just("a"), Just("b"), Just("c")],
            0..4,
        ),
    )
        .prop_map(|(absolute, parts)| {
            format!("{}{}", if absolute { "/" } else { "" }, parts.join("/"))
        });
    let kind = prop_oneof![
        3 => Just(Kind::Dir),
        3 => Just(Kind::File),
        3 => target.prop_map(|t| Kind::Symlink(t.into_bytes())),
        1 => path.clone().prop_map(|p| Kind::HardLink(normalize(p.as_bytes()))),
    ];
    proptest::collection::vec((path, kind), 0..24).prop_map(|entries| {
        let mut index = ImageIndex::default();
        for (path, kind) in entries {
            let path = normalize(path.as_bytes());
            let mut parent = path.parent();
            let mut parents_ok = true;
            while let Some(dir) = parent.filter(|d| d.as_bytes() != b"/") {
                match index.get(&dir) {
                    None => index.insert(
                        dir.clone(),
                        Node {
                            kind: Kind::Dir,
                            size: 0,
                        },
                    ),
                    Some(Node {
                        kind: Kind::Dir, ..
                    }) => {}
                    Some(_) => parents_ok = false,
                }
                parent = dir.parent();
            }
            if parents_ok && index.get(&path).is_none() {
                index.insert(path, Node { kind, size: 1 });
            }
        }
        index
    })
}

fn arbitrary_wanted() -> impl Strategy<Value = Vec<Wanted>> {
    let part = prop_oneof![Just(".."), Just("."), Just("a"), Just("b"), Just("c")];
    proptest::collection::vec((proptest::collection::vec(part, 0..5), any::<bool>()), 0..6)
        .prop_map(|paths| {
            paths
                .into_iter()
                .map(|(parts, subtree)| Wanted {
                    path: PathBytes::from(format!("/{}", parts.join("/")).as_str()),
                    subtree,
                    origin: Origin::Recording,
                })
                .collect()
        })
}

proptest! {
    /// The slim image resolves every wanted path, and every kept symlink, to the same entry as the
    /// full image; it holds only image entries, with their parent directories.
    #[test]
    fn the_slim_image_resolves_like_the_full_one(index in arbitrary_image(), wanted in arbitrary_wanted()) {
        let selection = select(&index, &wanted);
        let slim = index.restricted_to(&selection.keep);
        prop_assert_eq!(slim.len(), selection.keep.len(), "only image entries");
        for want in &wanted {
            prop_assert_eq!(resolve(&slim, want.path.as_bytes()), resolve(&index, want.path.as_bytes()), "{:?}", want.path);
        }
        for path in &selection.keep {
            let mut parent = path.parent();
            while let Some(dir) = parent.filter(|d| d.as_bytes() != b"/") {
                prop_assert!(selection.keep.contains(&dir), "{:?} without {:?}", path, dir);
                parent = dir.parent();
            }
            match &index.get(path).unwrap().kind {
                Kind::Symlink(_) => prop_assert_eq!(resolve(&slim, path.as_bytes()), resolve(&index, path.as_bytes())),
                Kind::HardLink(target) if index.get(target).is_some() => prop_assert!(selection.keep.contains(target)),
                _ => {}
            }
        }
        // Selecting again from the slim image changes nothing.
        prop_assert_eq!(select(&slim, &wanted).keep, selection.keep.clone());
    }
}

#[test]
fn an_executable_keeps_its_interpreter_through_its_symlinks() {
    let mut index = image(&[
        ("/lib", link("usr/lib")),
        ("/lib64", link("usr/lib64")),
        ("/usr", Kind::Dir),
        ("/usr/lib", Kind::Dir),
        ("/usr/lib/ld.so", Kind::File),
        ("/usr/lib64", Kind::Dir),
        ("/usr/lib64/ld-linux.so.2", link("/lib/ld.so")),
        ("/usr/bin", Kind::Dir),
        ("/usr/bin/app", Kind::File),
    ]);
    index.set_interpreter(
        PathBytes::from("/usr/bin/app"),
        b"/lib64/ld-linux.so.2".to_vec(),
    );
    let selection = select(&index, &[want("/usr/bin/app")]);
    assert_eq!(
        kept(&selection),
        [
            "/lib",
            "/lib64",
            "/usr",
            "/usr/bin",
            "/usr/bin/app",
            "/usr/lib",
            "/usr/lib/ld.so",
            "/usr/lib64",
            "/usr/lib64/ld-linux.so.2"
        ]
    );
}
