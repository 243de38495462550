//! End-to-end tests: the real `mailgrant` binary on an ephemeral port, driven over HTTP and
//! through its CLI. One test binary for all of them, to keep link time down.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod harness;

mod authorization;
mod browser;
mod cli;
mod client_credentials;
mod multinode;
mod registration;
mod resource_api;
