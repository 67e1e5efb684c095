//! The tracepoint links of the optional programs, detached all at once.
//!
//! Closing a syscall-tracepoint perf event waits for a grace period of the tracepoint's RCU
//! flavour: about 70 ms each on 6.18, so closing trace's ~50 links one after the other (what
//! dropping the `aya::Ebpf` that owns them does) took 3.4 s after Ctrl-C. Closed from threads of
//! their own, the waits partly overlap (the kernel still serializes part of each close under a
//! mutex): 2.0 s.

use aya::programs::trace_point::TracePointLink;

/// Owned tracepoint links; dropping them detaches every one, concurrently.
#[derive(Default)]
pub(super) struct Links(Vec<TracePointLink>);

impl Links {
    pub(super) fn push(&mut self, link: TracePointLink) {
        self.0.push(link);
    }
}

impl Drop for Links {
    fn drop(&mut self) {
        let links = std::mem::take(&mut self.0);
        std::thread::scope(|scope| {
            for link in links {
                // If no thread can be started, the closure, and with it the link, is dropped
                // here: that link is closed in turn, as before.
                let spawned = std::thread::Builder::new()
                    .name("trace-detach".into())
                    .spawn_scoped(scope, move || drop(link));
                if let Err(e) = spawned {
                    log::debug!("detached a link on the calling thread: {e}");
                }
            }
        });
    }
}
