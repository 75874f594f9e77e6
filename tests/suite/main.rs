//! The integration tests, one module per area, in one test binary. Each
//! file here used to be a binary of its own (tests/*.rs), and each was
//! linked again against natter's library and dependencies (~100 MB apiece)
//! with `common` compiled into every one: one binary rebuilds in 12 s where
//! the 33 took 52, and `cargo test` runs in 65 s where it took 90, with no
//! binary's slowest test holding up the next one (this 2-core machine).
//! Run one area with a filter: `cargo test --test suite native_ws::`.

#[path = "../common/mod.rs"]
mod common;

mod abuse;
mod admin;
mod ai;
mod ai_real_model;
mod archive;
mod auth_matrix;
mod backup;
mod bench;
mod changes;
mod chatroom;
mod cli;
mod cross_dialect;
mod hostile;
mod mentions;
mod messenger;
mod native_auth;
mod native_conversations;
mod native_ws;
mod nodes;
mod openapi;
mod ops;
mod page;
mod postgres;
mod props;
mod push;
mod reactions;
mod real_clients;
mod rooms;
mod search;
mod shutdown;
mod threads;
mod upgrade;
mod whisper;
