//! Cross-process aggregation through Redis (protocol: `docs/REDIS-PROTOCOL.md`).
//!
//! ```text
//!  JS threads ──► shards ──► Store ◄── lock, copy (~µs per 1k series) ── flusher thread
//!                                                                          │ owns the connection
//!     flush()/render() ── channel ──────────────────────────────────────────┤
//!                                                                          ▼
//!                      Redis: EVALSHA apply.lua (one pipeline per flush), EVALSHA read.lua
//! ```
//!
//! [`snapshot`] copies the global registry's per-process values out of the store; [`writer`]
//! turns successive snapshots into idempotent batches (cumulative values, epoch, seed mode);
//! [`conn`] talks to Redis; [`reader`] says what to read and collects the replies; [`flusher`] is the thread; [`render`] turns a read into the
//! exposition through the ordinary encoder; [`throttle`] keeps error storms to a few lines.

pub mod conn;
#[cfg(unix)]
pub mod embedded;
pub mod field;
pub mod flusher;
pub mod model;
pub mod reader;
pub mod render;
pub mod resp;
pub mod selfmetrics;
pub mod snapshot;
pub mod throttle;
#[cfg(test)]
mod vectors;
pub mod writer;

/// The apply script (protocol v1).
pub const APPLY_LUA: &str = include_str!("apply.lua");
/// The read script of protocol v1 (one call returns everything; v2 readers use [`LIVE_LUA`]).
pub const READ_LUA: &str = include_str!("read.lua");
/// The live-ids script of protocol v2 (the reader then pipelines `HGETALL`s, [`reader`]).
pub const LIVE_LUA: &str = include_str!("live.lua");
