//! mailgrant's server: a service layer that applies the domain rules over storage (no HTTP in
//! it), and a thin axum layer over that service.

pub mod config;
pub mod http;
pub mod limits;
pub mod paths;
pub mod service;
pub mod state;

pub use config::ServerConfig;
pub use service::{ServiceError, ServiceResult};
pub use state::AppState;
