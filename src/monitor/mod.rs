//! Scheduled monitoring: runs recorded in a history database, compared with the previous
//! complete run of the same manifest, and the changes sent once each to the sinks.

pub mod command;
pub mod diff;
pub mod event;
pub mod sinks;
