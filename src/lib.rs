//! careshift: a system-dynamics engine for testing care-model investments.
//! See docs/ARCHITECTURE.md for the map.
pub mod equation;
pub mod units;
