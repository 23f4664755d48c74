//! Describing certificates as stable `field: value` lines, for `certmint inspect`, the demo and
//! tests.
