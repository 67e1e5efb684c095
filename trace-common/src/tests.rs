use super::*;

#[test]
fn slots_round_trip() {
    for abi in Abi::ALL {
        for nr in [0u64, 1, 333, u64::from(SYSCALLS_PER_ABI) - 1] {
            let slot = syscall_slot(abi, nr);
            assert!(slot < OUT_OF_RANGE_SLOT);
            assert_eq!(slot_syscall(slot), Some((abi, u32::try_from(nr).unwrap())));
        }
    }
    assert_eq!(
        syscall_slot(Abi::X86, u64::from(SYSCALLS_PER_ABI)),
        OUT_OF_RANGE_SLOT
    );
    assert_eq!(syscall_slot(Abi::X86_64, u64::MAX), OUT_OF_RANGE_SLOT);
    assert_eq!(slot_syscall(OUT_OF_RANGE_SLOT), None);
}

#[test]
fn phase_slots_round_trip() {
    for phase in Phase::ALL {
        assert_eq!(Phase::from_u8(phase as u8), Some(phase));
        for (abi, nr) in [(Abi::X86_64, 0u64), (Abi::X32, 1023), (Abi::X86, 5000)] {
            let slot = phase_syscall_slot(phase, abi, nr);
            assert!(slot < PHASE_SYSCALL_SLOTS);
            assert_eq!(slot_phase(slot), Some((phase, syscall_slot(abi, nr))));
        }
    }
    assert_eq!(Phase::from_u8(3), None);
    assert_eq!(slot_phase(PHASE_SYSCALL_SLOTS), None);
    assert_eq!(phase_of(0, 0), Phase::RuncBeforeFilter);
    assert_eq!(phase_of(1, 0), Phase::RuncAfterFilter);
    assert_eq!(phase_of(0, 1), Phase::Application);
    assert_eq!(phase_of(1, 1), Phase::Application);
    let entry = TargetEntry {
        slot: 3,
        ..TargetEntry::default()
    };
    assert_eq!(
        target_syscall_slot(entry.slot, entry.phase(), Abi::X86_64, 1),
        3 * PHASE_SYSCALL_SLOTS + 1
    );
}

#[test]
fn file_ops_round_trip() {
    for (n, op) in (1u32..).zip(FileOp::ALL) {
        assert_eq!(op as u32, n);
        assert_eq!(FileOp::from_u32(n), Some(op));
    }
    assert_eq!(FileOp::from_u32(0), None);
    assert_eq!(FileOp::from_u32(18), None);
}

#[test]
fn counter_slots_round_trip() {
    for cap in [0u32, 7, 10, 40, 63] {
        for denied in [false, true] {
            for checker in CapChecker::ALL {
                let slot = cap_slot(cap, denied, checker).unwrap();
                assert!(slot < CAP_SLOTS);
                assert_eq!(slot_cap(slot), (cap, denied, checker));
            }
        }
    }
    assert_eq!(cap_slot(64, false, CapChecker::Application), None);
    // SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC counts as SOCK_STREAM.
    let slot = socket_slot(2, 1 | 0o4000 | 0o2_000_000);
    assert_eq!(slot_socket(slot), Some((2, 1)));
    assert_eq!(socket_slot(64, 1), SOCKET_SLOTS - 1);
    assert_eq!(slot_socket(SOCKET_SLOTS - 1), None);
    assert_eq!(slot_socket(socket_slot(63, 15)), Some((63, 15)));
}

#[test]
fn the_ring_buffer_grows_with_the_cpus_within_bounds() {
    assert_eq!(events_bytes(0), EVENTS_BYTES_MIN);
    assert_eq!(events_bytes(1), EVENTS_BYTES_MIN);
    assert_eq!(events_bytes(2), 8 << 20);
    assert_eq!(events_bytes(3), 16 << 20);
    assert_eq!(events_bytes(16), EVENTS_BYTES);
    assert_eq!(events_bytes(u32::MAX), EVENTS_BYTES);
    for cpus in 0..64 {
        let bytes = events_bytes(cpus);
        // A ring buffer's size is a power-of-two number of pages.
        assert!(
            bytes.is_power_of_two() && bytes.is_multiple_of(4096),
            "{bytes}"
        );
        assert!(wakeup_bytes(bytes) >= 1 << 20);
    }
}
