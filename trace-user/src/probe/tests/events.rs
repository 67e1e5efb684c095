//! The file, exec, socket and capability records on the real kernel: a child process in a fresh
//! cgroup does one of everything the probe records, and the test finds exactly that, nothing from
//! this (host) process, and every one of 20,000 distinct opens, once.

use std::{
    collections::{BTreeMap, BTreeSet},
    env,
    ffi::CString,
    fmt::Write as _,
    fs,
    io::Write as _,
    net::TcpListener,
    os::unix::{
        ffi::OsStrExt as _,
        fs::{MetadataExt as _, symlink},
        io::AsRawFd as _,
    },
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread,
    time::{Duration, Instant},
};

use super::super::*;
use super::kernel::{TempCgroup, cgroup2_mount_or_skip, skip};

/// Tells the re-executed test binary which cgroup to join and where to work.
const CHILD_CGROUP: &str = "TRACE_PROBE_EVENTS_CGROUP";
const CHILD_DIR: &str = "TRACE_PROBE_EVENTS_DIR";
/// Distinct files the child opens (twice each).
const STORM: usize = 20_000;
/// `O_ACCMODE`.
const ACCMODE: u32 = 0o3;
const CAP_CHOWN: u8 = 0;
const CAP_NET_BIND_SERVICE: u8 = 10;

/// A directory for the test, removed on drop.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[test]
fn records_files_execs_sockets_and_caps() {
    let Some(mount) = cgroup2_mount_or_skip() else {
        return;
    };
    let cgroup = TempCgroup::create(&mount, "events");
    let dir = env::temp_dir().join(format!("trace-probe-events-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("storm")).expect("create test dir");
    let dir = TempDir(dir.canonicalize().expect("canonical test dir"));
    // The storm's files exist before the trace: the child only opens them.
    for i in 0..STORM {
        fs::write(dir.0.join("storm").join(format!("f{i}")), b"").expect("create storm file");
    }

    let Some(run) = trace_child(&cgroup, &dir.0) else {
        return;
    };
    let check = Check::new(&run.events, &dir.0);
    check.nothing_from_the_host(run.child_pid, &dir.0.join(HOST_FILE));
    check.storm(run.dropped);
    check.files();
    check.exec();
    check.sockets(run.port, &run.sockets);
    let granted = |cap| run.caps.get(&cap).map_or(0, |c: &CapCount| c.granted);
    assert!(
        granted(CAP_CHOWN) >= 1,
        "no CAP_CHOWN check in {:?}",
        run.caps
    );
    assert!(
        granted(CAP_NET_BIND_SERVICE) >= 1,
        "no CAP_NET_BIND_SERVICE check in {:?}",
        run.caps
    );
}

/// The file this (host) process keeps opening during the trace.
const HOST_FILE: &str = "host-only.txt";

/// What one traced run of [`file_workload`] produced.
struct Run {
    events: Vec<ProbeEvent>,
    dropped: u64,
    caps: BTreeMap<u8, CapCount>,
    sockets: BTreeMap<(u16, u16), u64>,
    child_pid: u32,
    port: u32,
}

/// Attaches to `cgroup`, runs [`file_workload`] there (working in `dir`) while this process
/// opens a file of its own, and collects everything the probe saw. `None` (skipped) if this
/// kernel cannot run every program.
#[allow(clippy::too_many_lines, reason = "one traced run, step by step")]
fn trace_child(cgroup: &TempCgroup, dir: &Path) -> Option<Run> {
    let started = Instant::now();
    let running = [ProbeTarget {
        cgroup_id: fs::metadata(&cgroup.0).expect("stat cgroup").ino(),
        cgroup_level: 1,
    }];
    let mut probe = Probe::load(&ProbeOptions {
        slots: 1,
        running: &running,
        index_mask: None,
        without: &[],
    })
    .expect("attach");
    let slot = probe.running_slots()[0];
    let attach_time = started.elapsed();
    let features = probe.features().clone();
    if let Some(gap) = features.missing.first() {
        skip(&format!(
            "{} of the probe's attach points are missing, e.g. {} ({}): {}",
            features.missing.len(),
            gap.attach_point,
            gap.program,
            gap.why
        ));
        return None;
    }
    let mut reader = probe.take_event_reader().expect("first reader");
    assert!(probe.take_event_reader().is_none());

    // This process keeps opening a distinctive file while the child works: none of it may show.
    let host_file = dir.join(HOST_FILE);
    fs::write(&host_file, b"host").expect("host file");
    let stop = Arc::new(AtomicBool::new(false));
    let host = {
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let _ = fs::read(&host_file);
                let _ = fs::metadata(&host_file);
                thread::sleep(Duration::from_millis(1));
            }
        })
    };
    let child_started = Instant::now();
    let child = Command::new(env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "probe::tests::events::file_workload",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_CGROUP, &cgroup.0)
        .env(CHILD_DIR, dir)
        .stdout(Stdio::piped())
        .output()
        .expect("run child");
    let child_time = child_started.elapsed();
    stop.store(true, Ordering::Relaxed);
    host.join().expect("host thread");
    let stdout = String::from_utf8_lossy(&child.stdout);
    assert!(
        child.status.success(),
        "child failed: {}\n{stdout}",
        child.status
    );
    let value = |key: &str| -> u32 {
        stdout
            .lines()
            .find_map(|l| l.split_once(key)?.1.trim().parse().ok())
            .unwrap_or_else(|| panic!("child printed no {key}: {stdout}"))
    };

    // Everything is in the ring buffer once the child has exited. More than 1 MiB is pending,
    // so the kernel side has forced a wakeup: readable() returns at once, at worst after a poll.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let waited = Instant::now();
    runtime.block_on(reader.readable()).expect("readable");
    let waited = waited.elapsed();
    assert!(
        waited <= POLL_INTERVAL + Duration::from_millis(50),
        "{waited:?}"
    );
    let mut events = Vec::new();
    let drained = Instant::now();
    reader.read_ready(&mut events);
    let drain_time = drained.elapsed();
    assert_eq!(reader.malformed_records(), 0);
    let counts = probe.counts(slot).expect("counts");
    let run = Run {
        events,
        dropped: counts.dropped,
        caps: counts
            .capabilities
            .get(&CapChecker::Application)
            .cloned()
            .unwrap_or_default(),
        sockets: counts.sockets,
        child_pid: value("TRACE_PID="),
        port: value("TRACE_PORT="),
    };
    eprintln!(
        "attach {attach_time:?}, child {child_time:?}, {} events drained in {drain_time:?} \
         (readable after {waited:?}), {} dropped",
        run.events.len(),
        run.dropped
    );
    print_programs(&features);
    Some(run)
}

/// What each program cost the verifier, for the test log.
fn print_programs(features: &ProbeFeatures) {
    for program in &features.programs {
        eprintln!(
            "  {:<15} {:>6} insns verified, loaded in {:?}, {} attach points",
            program.program,
            program.verified_insns.unwrap_or(0),
            program.load_time,
            program.attached
        );
    }
}

/// The events, with helpers to find one and explain a failure.
struct Check<'a> {
    events: &'a [ProbeEvent],
    dir: &'a Path,
}

impl<'a> Check<'a> {
    fn new(events: &'a [ProbeEvent], dir: &'a Path) -> Self {
        Check { events, dir }
    }

    fn path(&self, name: &str) -> Vec<u8> {
        self.dir.join(name).into_os_string().into_encoded_bytes()
    }

    fn file_events(&self) -> impl Iterator<Item = &'a FileEvent> {
        self.events.iter().filter_map(|e| match e {
            ProbeEvent::File(f) => Some(f),
            _ => None,
        })
    }

    /// The file events that mention the test directory, readable, for failure messages.
    fn dump(&self) -> String {
        let dir = self.dir.as_os_str().as_bytes();
        let show = |p: &Option<Vec<u8>>| {
            p.as_ref()
                .map_or("-".to_owned(), |p| String::from_utf8_lossy(p).into_owned())
        };
        self.file_events()
            .filter(|f| {
                [&f.requested, &f.base, &f.resolved, &f.second_base]
                    .iter()
                    .any(|p| p.as_ref().is_some_and(|p| p.starts_with(dir)))
            })
            .filter(|f| {
                !f.resolved
                    .as_ref()
                    .is_some_and(|p| p.windows(7).any(|w| w == b"/storm/"))
            })
            .fold(String::new(), |mut out, f| {
                let _ = writeln!(
                    out,
                    "{:?} flags {:#o} result {} req {} base {} resolved {} second {} base2 {}",
                    f.op,
                    f.flags,
                    f.result,
                    show(&f.requested),
                    show(&f.base),
                    show(&f.resolved),
                    show(&f.second_requested),
                    show(&f.second_base)
                );
                out
            })
    }

    /// Exactly one file event matches.
    fn one(&self, what: &str, matches: impl Fn(&FileEvent) -> bool) -> &'a FileEvent {
        let found: Vec<_> = self.file_events().filter(|f| matches(f)).collect();
        assert_eq!(found.len(), 1, "{what}: {found:#?}\nall:\n{}", self.dump());
        found[0]
    }

    fn nothing_from_the_host(&self, child_pid: u32, host_file: &Path) {
        let host_file = host_file.as_os_str().as_bytes();
        let mut pids = BTreeSet::from([child_pid]);
        pids.extend(self.events.iter().filter_map(|e| match e {
            ProbeEvent::Exec(x) => Some(x.pid),
            _ => None,
        }));
        for event in self.events {
            let (pid, paths) = match event {
                ProbeEvent::File(f) => {
                    (f.pid, vec![&f.requested, &f.resolved, &f.second_requested])
                }
                ProbeEvent::Exec(x) => (x.pid, vec![]),
                ProbeEvent::Bind(b) | ProbeEvent::Listen(b) => (b.pid, vec![]),
                ProbeEvent::CgroupCaught(_) | ProbeEvent::CgroupGone(_) => continue,
            };
            assert!(pids.contains(&pid), "an event of pid {pid}: {event:?}");
            for path in paths.into_iter().flatten() {
                assert!(
                    !path.ends_with(host_file) && !path.ends_with(b"host-only.txt"),
                    "the host's file shows: {event:?}"
                );
            }
        }
    }

    fn storm(&self, dropped: u64) {
        let prefix = self.path("storm/f");
        let mut seen = BTreeSet::new();
        for f in self.file_events() {
            let Some(resolved) = &f.resolved else {
                continue;
            };
            if !resolved.starts_with(&prefix) || f.op != FileOp::Open {
                continue;
            }
            assert!(seen.insert(resolved.clone()), "opened twice: {f:?}");
        }
        // Every distinct file arrived once (the re-opens cost nothing), or the drops count
        // exactly for the missing ones.
        let missing = u64::try_from(STORM - seen.len()).unwrap();
        assert_eq!(missing, dropped, "{} of {STORM} storm files", seen.len());
        assert_eq!(dropped, 0, "a 64 MiB ring buffer holds the storm");
    }

    fn files(&self) {
        let p = |name: &str| Some(self.path(name));
        let d = Some(self.dir.as_os_str().as_bytes().to_vec());
        let lit = |s: &str| Some(s.as_bytes().to_vec());

        // An absolute open (read-only) of a file the child created.
        let abs = self.one("absolute open", |f| {
            f.op == FileOp::Open && f.requested == p("abs.txt") && f.flags & ACCMODE == 0
        });
        assert!(abs.result >= 0 && abs.base.is_none() && abs.resolved == p("abs.txt"));
        // Its creation is another fact (other flags).
        self.one("creation", |f| {
            f.op == FileOp::Open
                && f.requested == p("abs.txt")
                && f.flags & libc::O_CREAT as u32 != 0
        });
        // chdir, then a relative open: requested as passed, the cwd as base.
        self.one("chdir", |f| {
            f.op == FileOp::Chdir && f.requested == d && f.resolved == d && f.result == 0
        });
        self.one("relative open", |f| {
            f.op == FileOp::Open
                && f.requested == lit("rel.txt")
                && f.base == d
                && f.resolved == p("rel.txt")
        });
        // openat with a directory fd: the base is that directory.
        self.one("openat with a dirfd", |f| {
            f.op == FileOp::Open
                && f.requested == lit("at.txt")
                && f.base == p("sub")
                && f.resolved == p("sub/at.txt")
        });
        // A symlink, and an open through it: requested != resolved.
        let link = self.one("symlink", |f| f.op == FileOp::Symlink);
        assert_eq!(
            link.requested,
            lit("target.txt"),
            "the target is literal text"
        );
        assert_eq!(link.base, None);
        assert_eq!(
            (&link.second_requested, &link.second_base, link.result),
            (&lit("link.txt"), &d, 0)
        );
        self.one("open through the symlink", |f| {
            f.op == FileOp::Open
                && f.requested == lit("link.txt")
                && f.base == d
                && f.resolved == p("target.txt")
        });
        // A file created, then deleted.
        self.one("creation of gone.txt", |f| {
            f.op == FileOp::Open && f.resolved == p("gone.txt")
        });
        self.one("unlink", |f| {
            f.op == FileOp::Unlink && f.requested == lit("gone.txt") && f.base == d && f.result == 0
        });
        // A probe of a missing path: the requested path only.
        let probe = self.one("failed open", |f| {
            f.op == FileOp::Open && f.requested == p("missing.txt")
        });
        assert_eq!(
            (probe.result, &probe.resolved),
            (-i64::from(libc::ENOENT), &None)
        );
        // Metadata, rename, mode and owner.
        self.one("stat", |f| {
            f.op == FileOp::Stat && f.requested == p("abs.txt") && f.result == 0
        });
        self.one("rename", |f| {
            f.op == FileOp::Rename
                && f.requested == p("ren-a.txt")
                && f.second_requested == p("ren-b.txt")
                && f.result == 0
        });
        self.one("chmod", |f| {
            f.op == FileOp::Chmod && f.requested == p("abs.txt") && f.flags == 0o600
        });
        self.one("chown", |f| {
            f.op == FileOp::Chown && f.requested == p("abs.txt") && f.result == 0
        });
        // An executable mapping of a file, found by its fd.
        let mapped = self.one("mmap PROT_EXEC", |f| {
            f.op == FileOp::MmapExec && f.resolved == p("code.bin")
        });
        assert_eq!(mapped.requested, None);
        assert_eq!(mapped.flags, (libc::PROT_READ | libc::PROT_EXEC) as u32);
    }

    fn exec(&self) {
        let true_path = fs::canonicalize("/bin/true")
            .expect("/bin/true")
            .into_os_string()
            .into_encoded_bytes();
        let execs: Vec<&ExecEvent> = self
            .events
            .iter()
            .filter_map(|e| match e {
                ProbeEvent::Exec(x) if x.path == true_path => Some(x),
                _ => None,
            })
            .collect();
        assert_eq!(
            execs.len(),
            1,
            "{:#?}",
            self.events
                .iter()
                .filter(|e| matches!(e, ProbeEvent::Exec(_)))
                .collect::<Vec<_>>()
        );
        assert_eq!(
            execs[0].argv,
            vec![b"/bin/true".to_vec(), b"probe-arg".to_vec()]
        );
        let file = self.one("exec file event", |f| {
            f.op == FileOp::Exec && f.resolved == Some(true_path.clone())
        });
        assert_eq!(file.requested.as_deref(), Some(&b"/bin/true"[..]));
    }

    fn sockets(&self, port: u32, counts: &BTreeMap<(u16, u16), u64>) {
        let port = u16::try_from(port).expect("port");
        let inet_stream = |b: &BindEvent| b.family == 2 && b.sock_type == 1 && b.port == port;
        let binds = self
            .events
            .iter()
            .filter(|e| matches!(e, ProbeEvent::Bind(b) if inet_stream(b)))
            .count();
        let listens = self
            .events
            .iter()
            .filter(|e| matches!(e, ProbeEvent::Listen(b) if inet_stream(b)))
            .count();
        assert_eq!(
            (binds, listens),
            (1, 1),
            "{:?}",
            self.events
                .iter()
                .filter(|e| matches!(e, ProbeEvent::Bind(_) | ProbeEvent::Listen(_)))
                .collect::<Vec<_>>()
        );
        assert!(counts.get(&(2, 1)).copied().unwrap_or(0) >= 1, "{counts:?}");
    }
}

/// Run by [`records_files_execs_sockets_and_caps`] in a child process; does nothing on its own.
#[test]
#[ignore = "helper of records_files_execs_sockets_and_caps"]
fn file_workload() {
    let (Some(cgroup), Some(dir)) = (env::var_os(CHILD_CGROUP), env::var_os(CHILD_DIR)) else {
        return;
    };
    let d = PathBuf::from(dir);
    // Writing 0 moves the writing process.
    fs::write(Path::new(&cgroup).join("cgroup.procs"), "0").expect("join cgroup");

    // An absolute create, then an absolute read-only open.
    fs::write(d.join("abs.txt"), b"abs").expect("create abs.txt");
    drop(fs::File::open(d.join("abs.txt")).expect("open abs.txt"));
    // chdir, then a relative open (a create).
    env::set_current_dir(&d).expect("chdir");
    fs::write("rel.txt", b"rel").expect("relative create");
    // openat with a directory fd.
    fs::create_dir(d.join("sub")).expect("mkdir sub");
    let sub = fs::File::open(d.join("sub")).expect("open sub");
    let name = CString::new("at.txt").expect("no NUL");
    // SAFETY: a valid directory fd, a NUL-terminated name, plain flags and mode.
    let fd = unsafe {
        libc::openat(
            sub.as_raw_fd(),
            name.as_ptr(),
            libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC,
            0o644,
        )
    };
    assert!(fd >= 0, "openat: {}", std::io::Error::last_os_error());
    // SAFETY: `fd` was just opened and is closed once.
    unsafe { libc::close(fd) };
    // A symlink (relative target) and an open through it.
    fs::write("target.txt", b"target").expect("create target");
    symlink("target.txt", "link.txt").expect("symlink");
    drop(fs::File::open("link.txt").expect("open through the link"));
    // Created, then deleted.
    fs::write("gone.txt", b"").expect("create gone.txt");
    fs::remove_file("gone.txt").expect("unlink");
    // A probe of a missing path.
    assert!(fs::File::open(d.join("missing.txt")).is_err());
    // stat, rename, chmod, chown.
    let abs = CString::new(d.join("abs.txt").as_os_str().as_bytes()).expect("no NUL");
    // SAFETY: a NUL-terminated path and a stat buffer that outlives the call.
    let ret = unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        libc::stat(abs.as_ptr(), &raw mut st)
    };
    assert_eq!(ret, 0, "stat");
    fs::write(d.join("ren-a.txt"), b"").expect("create ren-a");
    fs::rename(d.join("ren-a.txt"), d.join("ren-b.txt")).expect("rename");
    // SAFETY: a NUL-terminated path.
    assert_eq!(unsafe { libc::chmod(abs.as_ptr(), 0o600) }, 0, "chmod");
    // SAFETY: a NUL-terminated path; as root chown needs (and checks) CAP_CHOWN.
    assert_eq!(unsafe { libc::chown(abs.as_ptr(), 1000, 1000) }, 0, "chown");
    // An executable mapping of a file.
    fs::write(d.join("code.bin"), [0xc3u8; 4096]).expect("create code.bin");
    let code = fs::File::open(d.join("code.bin")).expect("open code.bin");
    // SAFETY: maps 4096 bytes of an open file privately; unmapped right after.
    unsafe {
        let at = libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_EXEC,
            libc::MAP_PRIVATE,
            code.as_raw_fd(),
            0,
        );
        assert_ne!(
            at,
            libc::MAP_FAILED,
            "mmap: {}",
            std::io::Error::last_os_error()
        );
        libc::munmap(at, 4096);
    }
    // A program, through the /bin -> usr/bin symlink.
    let status = Command::new("/bin/true")
        .arg("probe-arg")
        .status()
        .expect("run /bin/true");
    assert!(status.success());
    // A TCP socket bound below 1024 (needs CAP_NET_BIND_SERVICE) and listening.
    let listener = (900..1024)
        .find_map(|port| TcpListener::bind(("127.0.0.1", port)).ok())
        .expect("a free port below 1024");
    let port = listener.local_addr().expect("local address").port();
    // The storm: every file twice; the second round must cost no records.
    for _ in 0..2 {
        for i in 0..STORM {
            drop(fs::File::open(d.join("storm").join(format!("f{i}"))).expect("storm open"));
        }
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "TRACE_PID={}", std::process::id()).expect("stdout");
    writeln!(out, "TRACE_PORT={port}").expect("stdout");
}
