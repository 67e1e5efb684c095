//! The kernel catches a new container's cgroup inside its `mkdir` in the layout each engine and
//! cgroup driver makes (docs/runtimes.md), at that layout's level, with the id read from the
//! cgroup's name, and takes none of the engines' other cgroups for a container (Podman's
//! `libpod-conmon-<id>.scope`, where conmon runs crun, ends with the container's id too). The
//! cgroups are made by hand: this host runs neither systemd nor a kubelet, and the layouts of
//! both drivers are checked whichever it runs.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use trace_tests::{CgroupDriver, system_tier};
use trace_user::probe::{CgroupEvent, Probe, ProbeEvent, ProbeOptions};
use trace_user::runtime::cgroup::cgroup2_mount;

/// Where one engine and cgroup driver put a container, below the cgroup2 mount.
struct Layout {
    /// Engine and driver, for messages.
    what: &'static str,
    /// The container's id (64 hex digits, a fresh one per layout).
    id: String,
    /// The container's cgroup.
    container: String,
    /// Cgroups the engine makes beside it that are not the container, made first.
    decoys: Vec<String>,
}

impl Layout {
    /// A layout whose `container` and `decoys` name the id `{id}`, for a new id.
    fn new(what: &'static str, container: &str, decoys: &[&str]) -> Self {
        let id = format!("{}{}", random_hex(), random_hex());
        Layout {
            what,
            container: container.replace("{id}", &id),
            decoys: decoys.iter().map(|d| d.replace("{id}", &id)).collect(),
            id,
        }
    }

    /// The container's level in the cgroup v2 hierarchy.
    fn level(&self) -> u32 {
        u32::try_from(self.container.split('/').count()).unwrap()
    }
}

/// Every layout of docs/runtimes.md, each for a new container id (and, for a pod's, the pod
/// `uid`).
fn layouts(uid: &str) -> Vec<Layout> {
    let mut all = vec![
        Layout::new("Docker, cgroupfs", "docker/{id}", &[]),
        Layout::new("Docker, systemd", "system.slice/docker-{id}.scope", &[]),
        Layout::new(
            "Podman, cgroupfs",
            "libpod_parent/libpod-{id}",
            &["libpod_parent/conmon"],
        ),
        Layout::new(
            "Podman, systemd",
            "machine.slice/libpod-{id}.scope",
            &["machine.slice/libpod-conmon-{id}.scope"],
        ),
    ];
    for (what, driver) in [
        ("containerd (CRI), systemd", CgroupDriver::Systemd),
        ("containerd (CRI), cgroupfs", CgroupDriver::Cgroupfs),
    ] {
        let leaf = format!("{}/{}", driver.pod_path(uid), driver.container_leaf("{id}"));
        all.push(Layout::new(what, &leaf, &[]));
    }
    all
}

/// Directories made below a root, removed (deepest first) when dropped; those that were there
/// already are left alone.
struct Made {
    root: PathBuf,
    dirs: Vec<PathBuf>,
}

impl Made {
    /// Makes `relative` and each missing parent of it below the root.
    fn mkdir(&mut self, relative: &str) -> PathBuf {
        let mut path = self.root.clone();
        for part in relative.split('/') {
            path.push(part);
            if !path.exists() {
                std::fs::create_dir(&path)
                    .unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
                self.dirs.push(path.clone());
            }
        }
        path
    }
}

impl Drop for Made {
    fn drop(&mut self) {
        for dir in self.dirs.iter().rev() {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// A cgroup's id: the inode number of its directory on cgroup2.
fn cgroup_id(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(dir).unwrap().ino()
}

/// The probe's cgroup events until `until` picks one, for up to 5 s; all of them, in order.
fn events_until(
    reader: &mut trace_user::probe::EventReader,
    until: impl Fn(&CgroupEvent) -> bool,
) -> Vec<ProbeEvent> {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        let mut events = Vec::new();
        reader.read_ready(&mut events);
        let done = events.iter().any(|e| match e {
            ProbeEvent::CgroupCaught(c) | ProbeEvent::CgroupGone(c) => until(c),
            _ => false,
        });
        seen.extend(events);
        if done {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    seen
}

/// A fresh random 32-hex-digit string (the kernel's random UUID without its dashes).
fn random_hex() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/uuid")
        .unwrap()
        .trim()
        .replace('-', "")
}

#[test]
fn every_engines_layout_is_caught_in_its_mkdir_and_nothing_else_is() {
    const TEST: &str = "every_engines_layout_is_caught_in_its_mkdir_and_nothing_else_is";
    if system_tier(TEST).is_none() {
        return;
    }
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mount = cgroup2_mount(&mountinfo).expect("a cgroup2 mount");
    assert_eq!(mount.root, "/", "trace runs in the host's cgroup namespace");
    let uid = std::fs::read_to_string("/proc/sys/kernel/random/uuid").unwrap();
    let uid = uid.trim();
    let layouts = layouts(uid);
    let mut levels: Vec<u32> = layouts.iter().map(Layout::level).collect();
    levels.dedup();
    for level in levels {
        // One probe per level: it is fixed by the first container caught or expected.
        let mut probe = Probe::load(&ProbeOptions {
            slots: 4,
            running: &[],
            index_mask: None,
            without: &[],
        })
        .expect("the probe");
        probe.catches_new_containers().expect("the cgroup catch");
        probe.expect_level(level).unwrap();
        let mut reader = probe.take_event_reader().unwrap();
        for layout in layouts.iter().filter(|l| l.level() == level) {
            catch(&mut probe, &mut reader, &mount.mount_point, layout);
        }
    }
}

/// Makes `layout`'s cgroups and checks what `probe` made of them.
fn catch(
    probe: &mut Probe,
    reader: &mut trace_user::probe::EventReader,
    root: &Path,
    layout: &Layout,
) {
    let mut made = Made {
        root: root.to_owned(),
        dirs: Vec::new(),
    };
    let decoys: Vec<u64> = layout
        .decoys
        .iter()
        .map(|d| cgroup_id(&made.mkdir(d)))
        .collect();
    let leaf = made.mkdir(&layout.container);
    let leaf_id = cgroup_id(&leaf);
    let what = layout.what;
    let mut events = events_until(reader, |c| c.cgroup_id == leaf_id);
    std::fs::remove_dir(&leaf).unwrap();
    events.extend(events_until(reader, |c| {
        c.cgroup_id == leaf_id && c.container_id.is_empty()
    }));
    drop(made);

    let caught = events.iter().find_map(|e| match e {
        ProbeEvent::CgroupCaught(c) if c.cgroup_id == leaf_id => Some(c),
        _ => None,
    });
    let caught = caught.unwrap_or_else(|| panic!("{what}: {} was not caught", leaf.display()));
    assert_eq!(
        caught.container_id, layout.id,
        "{what}: the id from the name"
    );
    assert_eq!(caught.level, layout.level(), "{what}: {caught:?}");
    let slot = caught
        .slot
        .unwrap_or_else(|| panic!("{what}: given no slot: {caught:?}"));
    assert!(
        events
            .iter()
            .any(|e| matches!(e, ProbeEvent::CgroupGone(g) if g.cgroup_id == leaf_id)),
        "{what}: its removal was reported"
    );
    for decoy in &decoys {
        assert!(
            !events.iter().any(|e| matches!(
                e,
                ProbeEvent::CgroupCaught(c) if c.cgroup_id == *decoy && c.slot.is_some()
            )),
            "{what}: {:?} was taken for a container",
            layout.decoys
        );
    }
    probe.release(slot, caught.cgroup_id).unwrap();
}
