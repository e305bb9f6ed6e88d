//! One service per resource, shared by the API and the pages: the work of
//! a request after its input is parsed and before it is answered, so both
//! faces book the same events with the same checks.

pub mod cases;
pub mod interests;
pub mod members;
