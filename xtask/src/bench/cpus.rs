//! CPU masks: the bench gives the measured processes a CPU of their own (the last one) and
//! everything else (load generator, tracers' userspace, Docker) the others.

use anyhow::{Context, Result};

/// The measured processes (a server and its twin, the system call loops) get the last CPU to
/// themselves; the load generator, the tracers' userspace and everything else share the others.
/// Unpinned, nginx's runs of one configuration spread by 50 % on the 2-CPU test VM
/// (35,000-58,000 requests per second), as the scheduler moved 16 load threads and 2 nginx
/// workers around; a real service's clients are not on its machine either.
pub struct Cpus {
    /// `None` on a 1-CPU machine: nothing is pinned.
    pub measured: Option<usize>,
    rest: Vec<usize>,
}

impl Cpus {
    pub fn split() -> Result<Cpus> {
        let allowed = affinity()?;
        Ok(match allowed.split_last() {
            Some((&last, rest)) if !rest.is_empty() => Cpus {
                measured: Some(last),
                rest: rest.to_vec(),
            },
            _ => Cpus {
                measured: None,
                rest: allowed,
            },
        })
    }

    /// The CPU the measured processes run on (on a 1-CPU machine, the only one).
    pub fn measured_or_only(&self) -> usize {
        self.measured
            .or_else(|| self.rest.first().copied())
            .unwrap_or(0)
    }

    /// Pins the calling thread to the CPUs not given to the measured processes, until the guard
    /// is dropped.
    pub fn pin_rest(&self) -> Result<Option<Pinned>> {
        if self.measured.is_none() {
            return Ok(None);
        }
        let before = affinity()?;
        set_affinity(&self.rest)?;
        Ok(Some(Pinned { before }))
    }
}

/// Restores the calling thread's CPU mask when dropped.
pub struct Pinned {
    before: Vec<usize>,
}

impl Drop for Pinned {
    fn drop(&mut self) {
        let _ = set_affinity(&self.before);
    }
}

/// The CPUs the calling thread may run on.
fn affinity() -> Result<Vec<usize>> {
    // SAFETY: cpu_set_t is a plain bit array; zeroed is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: the pointer and size describe `set`, writable for the call.
    let rc = unsafe { libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &raw mut set) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error()).context("sched_getaffinity");
    }
    // SAFETY: CPU_ISSET reads the set; every index is below CPU_SETSIZE.
    Ok((0..libc::CPU_SETSIZE as usize)
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect())
}

/// Sets the calling thread's CPU mask.
fn set_affinity(cpus: &[usize]) -> Result<()> {
    // SAFETY: as in `affinity`.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &cpu in cpus {
        // SAFETY: CPU_SET writes one bit of `set`; the CPUs came from sched_getaffinity.
        unsafe { libc::CPU_SET(cpu, &mut set) };
    }
    // SAFETY: the pointer and size describe `set`, readable for the call.
    let rc = unsafe { libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &raw const set) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error()).context("sched_setaffinity");
    }
    Ok(())
}
