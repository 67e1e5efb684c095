//! Draining the ring buffers.
//!
//! The kernel side writes file, exec and socket records without waking userspace
//! (`BPF_RB_NO_WAKEUP`: a wakeup per record cost 3.7-10 us on the test VM) and forces a wakeup
//! only once an eighth of the ring is pending; cgroup records (rare) wake userspace each time. So
//! [`EventReader::readable`] returns on a wakeup or after 100 ms, whichever comes first.

use std::{
    io,
    os::fd::{AsFd as _, OwnedFd},
    time::Duration,
};

use aya::maps::{MapData, RingBuf};
use tokio::io::{Interest, unix::AsyncFd};
use trace_common::POLL_INTERVAL_MS;

use super::events::{ProbeEvent, decode};

/// How long [`EventReader::readable`] waits at most.
pub const POLL_INTERVAL: Duration = Duration::from_millis(POLL_INTERVAL_MS);

/// Reads the probe's ring buffers (from [`super::Probe::take_event_reader`]).
pub struct EventReader {
    events: RingBuf<MapData>,
    cgroups: RingBuf<MapData>,
    /// Duplicates of the ring buffers' fds, registered with tokio on first use.
    notify: Option<[AsyncFd<OwnedFd>; 2]>,
    malformed: u64,
}

impl EventReader {
    pub(super) fn new(events: RingBuf<MapData>, cgroups: RingBuf<MapData>) -> Self {
        EventReader {
            events,
            cgroups,
            notify: None,
            malformed: 0,
        }
    }

    /// Decodes every record available now into `out` (never blocks): the cgroup records first,
    /// so that a container cgroup is announced before any record of its tasks. Returns how many
    /// events it appended. Records that do not decode are counted
    /// ([`EventReader::malformed_records`]) and logged, not returned: they mean a build
    /// mismatch, not a lost event.
    pub fn read_ready(&mut self, out: &mut Vec<ProbeEvent>) -> usize {
        let before = out.len();
        for ring in [&mut self.cgroups, &mut self.events] {
            while let Some(record) = ring.next() {
                match decode(&record) {
                    Ok(event) => out.push(event),
                    Err(e) => {
                        self.malformed += 1;
                        log::warn!("skipping a ring-buffer record: {e}");
                    }
                }
            }
        }
        out.len() - before
    }

    /// Waits until the kernel side signals a backlog or a cgroup record, or [`POLL_INTERVAL`]
    /// has passed; then call [`EventReader::read_ready`]. Needs a tokio runtime (with I/O and
    /// time enabled).
    pub async fn readable(&mut self) -> io::Result<()> {
        if self.notify.is_none() {
            // Registering outside a runtime would panic.
            tokio::runtime::Handle::try_current().map_err(io::Error::other)?;
            let register = |ring: &RingBuf<MapData>| -> io::Result<AsyncFd<OwnedFd>> {
                let fd = ring.as_fd().try_clone_to_owned()?;
                // SAFETY: the OwnedFd is open and owned by the AsyncFd for its whole life, and
                // its raw fd never changes.
                let registered = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) };
                Ok(registered?)
            };
            self.notify = Some([register(&self.events)?, register(&self.cgroups)?]);
        }
        let Some([events, cgroups]) = self.notify.as_ref() else {
            return Ok(());
        };
        // The caller drains next; a record arriving after that waits for the next poll.
        tokio::select! {
            guard = events.readable() => guard?.clear_ready(),
            guard = cgroups.readable() => guard?.clear_ready(),
            () = tokio::time::sleep(POLL_INTERVAL) => {}
        }
        Ok(())
    }

    /// Records that could not be decoded so far.
    pub fn malformed_records(&self) -> u64 {
        self.malformed
    }
}
