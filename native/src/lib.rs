//! Rust core of promsd.
//!
//! JS threads write metric values into their own shards of shared memory; this crate keeps
//! the process-wide table of which slots belong to which series ([`store`]), reads and merges
//! them without the writers' help ([`merge`], [`sketch`]), and encodes the exposition off the
//! JS thread ([`encoder`]); [`backend`] aggregates across processes through Redis. [`api`],
//! [`backend_api`], [`twin_api`], [`reader_api`] and [`route_api`] (where a scrape's exposition
//! comes from) are the whole napi surface.
//!
//! ```
//! use promsd_native::encoder::{write_value};
//! let mut s = String::new();
//! write_value(&mut s, f64::NAN);
//! assert_eq!(s, "NaN");
//! ```
#![deny(missing_docs)]

pub mod api;
pub mod backend;
pub mod backend_api;
pub mod clock;
pub mod combine;
pub mod encoder;
pub mod fxhash;
pub mod label_order;
pub mod layout;
pub mod merge;
pub mod native_histogram;
pub mod protobuf;
pub mod reader_api;
pub mod route_api;
pub mod sketch;
pub mod store;
pub mod twin_api;
