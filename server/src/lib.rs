//! sebroker-server: the HTTP face of the engine. One route table
//! ([`api::routes`]) builds the API and the pages; one principal
//! ([`api::principal`]) and one policy table ([`api::policy`]) decide every
//! request; API errors are data ([`api::error`]); the rate limiter and the
//! serve loop live here too.

pub mod api;
pub mod door;
pub mod pages;
