//! sebroker-server: the HTTP face of the engine. One route table
//! ([`router`]) builds the API ([`api`]) and the pages ([`pages`]); one
//! principal ([`principal`]) and one policy table ([`policy`]) decide every
//! request at the door ([`door`]: the admin token, the rate limits); API
//! errors are data ([`error`]); request bodies and queries are parsed by
//! [`body`]; blocking work runs through [`blocking`]; one CSV writer ([`csv`]); one service per resource ([`services`]); the serve loop ([`serve`]); the OpenAPI document and its page ([`openapi`]); Prometheus metrics ([`metrics`]).

pub mod api;
pub mod audit;
pub mod blocking;
pub mod body;
pub mod csv;
pub mod door;
pub mod error;
pub mod metrics;
pub mod openapi;
pub mod pages;
pub mod policy;
pub mod principal;
pub mod router;
pub mod serve;
pub mod services;
pub mod state;
#[cfg(test)]
pub mod testing;
