//! Statistics on secret-shared data.
//!
//! * [`flt`]: secret floating point, the scale-free layer the statistics are finished in.

pub mod flt;
