//! Resolution: requirements + targets → pinned distributions, one pubgrub run per target.
pub mod ranges;
