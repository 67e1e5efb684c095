//! Helpers for the real-system tests: see tests/*.rs.
