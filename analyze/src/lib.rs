//! Replay: a capture's events through Falco rules, with the system state rebuilt as it goes.
//!
//! This crate sits after `format/` (reading captures) and `rules/` (the rules language).
//! [`state`] rebuilds threads, fds, containers and users from state blocks and events;
//! [`fields`] gives the rules engine each field's value for an event in that state; [`replay`]
//! drives a capture through a ruleset and collects findings; [`parquet`] writes them for SQL.
//! [`batch`] and [`pool`] carry events with their state views to other threads. [`spans`]
//! decodes and pairs the tracer records applications write to mark their own work. [`views`]
//! answers a responder's questions over a capture: top lists, the fd table, users' commands.

pub mod batch;
pub mod drops;
pub mod fields;
pub mod parquet;
pub mod pool;
pub mod replay;
pub mod spans;
pub mod state;
pub mod views;
