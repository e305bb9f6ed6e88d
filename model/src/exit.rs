//! Process exit codes, the same for every command: 0 ok, 1 failed, 2 usage,
//! 3 partial (some inputs failed, the good ones were kept).

pub const OK: u8 = 0;
pub const FAILED: u8 = 1;
pub const USAGE: u8 = 2;
pub const PARTIAL: u8 = 3;
