//! OCDS: reading files of any published shape into raw releases
//! ([`read`]), the typed view of a release we normalise from ([`release`]),
//! and merging all releases of an ocid into one notice ([`compile`]).

pub mod compile;
pub mod files;
pub mod read;
pub mod release;

pub use compile::{compile, CompileContext};
pub use read::{
    read_bytes, read_bytes_with, read_path, ErrorKind, FileError, Limits, PackageInfo, RawRelease,
    ReadOutcome,
};
pub use release::Release;
