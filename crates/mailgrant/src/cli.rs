//! The command line: global options, then one subcommand. See the README for examples.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "mailgrant",
    version,
    about = "OAuth 2.0 token server and token keeper for email marketing"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Debug, Clone)]
pub struct Global {
    /// Folder for the embedded database and keys.
    #[arg(
        long,
        global = true,
        env = "MAILGRANT_DATA_DIR",
        default_value = "./mailgrant-data"
    )]
    pub data_dir: PathBuf,
    /// `sqlite://PATH` or `postgres://…`; defaults to SQLite in the data folder.
    #[arg(long, global = true, env = "MAILGRANT_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Print exactly one JSON object on stdout.
    #[arg(long, global = true)]
    pub json: bool,
}

impl Global {
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("mailgrant.db").display()))
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the HTTP server.
    Serve(ServeArgs),
    /// Manage users (people who log in).
    #[command(subcommand)]
    User(UserCommand),
    /// Manage accounts (customer workspaces) and their members.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Manage OAuth apps (clients).
    #[command(subcommand)]
    App(AppCommand),
    /// Manage private apps (an account's own integrations with one bearer token).
    #[command(subcommand, name = "private-app")]
    PrivateApp(PrivateAppCommand),
    /// Revoke and list tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Initial access tokens for dynamic client registration (RFC 7591).
    #[command(subcommand, name = "registration-token")]
    RegistrationToken(RegistrationTokenCommand),
    /// List and revoke grants (an account's consent to an app).
    #[command(subcommand)]
    Grant(GrantCommand),
}

#[derive(Subcommand, Debug)]
pub enum GrantCommand {
    /// List grants, live and revoked.
    List {
        #[arg(long)]
        account: Option<String>,
    },
    /// Revoke a grant: every code and token issued under it stops at once.
    Revoke {
        #[arg(long)]
        id: String,
    },
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "MAILGRANT_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Public base URL (RFC 8414 issuer); defaults to http://<listen>.
    #[arg(long, env = "MAILGRANT_ISSUER")]
    pub issuer: Option<String>,
    /// Access-token lifetime, e.g. 1h, 15m.
    #[arg(long, env = "MAILGRANT_ACCESS_TOKEN_TTL", default_value = "1h")]
    pub access_token_ttl: String,
    /// Let anyone register a client at /oauth/register without an initial access token
    /// (such clients get no account, so no client_credentials).
    #[arg(
        long,
        env = "MAILGRANT_OPEN_REGISTRATION",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub open_registration: bool,
    /// A retry with an already-rotated refresh token within this window gets the same new pair.
    #[arg(long, env = "MAILGRANT_REFRESH_RETRY_WINDOW", default_value = "30s")]
    pub refresh_retry_window: String,
    /// A refresh token unused this long expires.
    #[arg(long, env = "MAILGRANT_REFRESH_IDLE_TTL", default_value = "90d")]
    pub refresh_idle_ttl: String,
    /// A refresh token family ends this long after the code exchange that started it.
    #[arg(long, env = "MAILGRANT_REFRESH_ABSOLUTE_TTL", default_value = "365d")]
    pub refresh_absolute_ttl: String,
    /// Token-endpoint requests per client, e.g. 1200/m, 50/s, or off.
    #[arg(long, env = "MAILGRANT_RATE_LIMIT_TOKEN", default_value = "1200/m")]
    pub rate_limit_token: String,
    /// Resource-API requests per account, e.g. 6000/m, or off.
    #[arg(long, env = "MAILGRANT_RATE_LIMIT_API", default_value = "6000/m")]
    pub rate_limit_api: String,
    /// Nodes behind one load balancer: each node enforces 1/N of every limit.
    #[arg(long, env = "MAILGRANT_RATE_LIMIT_NODES", default_value_t = 1)]
    pub rate_limit_nodes: u32,
    /// How often expired tokens are deleted (in small batches, between other writes).
    #[arg(long, env = "MAILGRANT_PURGE_EVERY", default_value = "60s")]
    pub purge_every: String,
    /// Threads that serve requests; defaults to one per CPU. The SQLite writer has a thread of
    /// its own besides these.
    #[arg(long, env = "MAILGRANT_WORKERS")]
    pub workers: Option<std::num::NonZeroUsize>,
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a user; the password is read from standard input.
    Add {
        #[arg(long)]
        email: String,
        /// Read the password from standard input (required: passwords never go on the command line).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum AccountCommand {
    /// Create an account owned by an existing user.
    Add {
        #[arg(long)]
        name: String,
        /// Email of the owner.
        #[arg(long)]
        owner: String,
    },
    /// Manage members.
    #[command(subcommand)]
    Member(MemberCommand),
}

#[derive(Subcommand, Debug)]
pub enum MemberCommand {
    /// Add a user to an account (or change their role).
    Add {
        #[arg(long)]
        account: String,
        #[arg(long)]
        email: String,
        /// admin or member.
        #[arg(long)]
        role: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum AppCommand {
    /// Register an app; a confidential app's secret is printed once.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "")]
        description: String,
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
        /// authorization_code, client_credentials, refresh_token or implicit (legacy).
        #[arg(long = "grant-type")]
        grant_types: Vec<String>,
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// A public client: no secret, PKCE required.
        #[arg(long)]
        public: bool,
        /// The account that owns the app (client_credentials tokens act on it).
        #[arg(long)]
        account: Option<String>,
    },
    /// List apps.
    List {
        #[arg(long)]
        account: Option<String>,
    },
    /// Show one app.
    Show {
        #[arg(long)]
        client_id: String,
    },
    /// Delete an app and revoke every token issued to it.
    Delete {
        #[arg(long)]
        client_id: String,
    },
    /// Manage the app's secret.
    #[command(subcommand)]
    Secret(SecretCommand),
}

#[derive(Subcommand, Debug)]
pub enum SecretCommand {
    /// Issue a new secret; the old one keeps working for --keep-old-for.
    Rotate {
        #[arg(long)]
        client_id: String,
        #[arg(long, default_value = "0s")]
        keep_old_for: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum PrivateAppCommand {
    /// Create a private app; its token is printed once.
    Create {
        #[arg(long)]
        account: String,
        #[arg(long)]
        name: String,
        #[arg(long = "scope")]
        scopes: Vec<String>,
    },
    /// Replace the private app's token; the old one stops at once.
    Rotate {
        #[arg(long)]
        id: String,
    },
    /// Revoke the private app and its token.
    Revoke {
        #[arg(long)]
        id: String,
    },
    /// List private apps.
    List {
        #[arg(long)]
        account: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Revoke a token by its value (`-` reads it from standard input).
    Revoke { token: String },
    /// List live bearer tokens (hashes and metadata, never values).
    List {
        #[arg(long)]
        account: Option<String>,
        #[arg(long)]
        client_id: Option<String>,
        #[arg(long)]
        private_app: Option<String>,
        /// Include revoked and expired tokens.
        #[arg(long)]
        all: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum RegistrationTokenCommand {
    /// Create an initial access token; its value is printed once.
    Create {
        /// How long it works, e.g. 1h, 24h, 30d, or `never`.
        #[arg(long, default_value = "24h")]
        expires_in: String,
        /// Clients registered with it belong to this account (so they may use client_credentials).
        #[arg(long)]
        account: Option<String>,
        /// How many clients it may register (no limit when absent).
        #[arg(long)]
        max_uses: Option<i64>,
    },
    /// List initial access tokens (ids and metadata, never values).
    List,
    /// Revoke an initial access token; clients already registered with it stay.
    Revoke {
        #[arg(long)]
        id: String,
    },
}

/// Logs go to stderr (buffered: `logging.rs`); `MAILGRANT_LOG` (or `RUST_LOG`) filters,
/// `MAILGRANT_LOG_FORMAT=json` switches to JSON lines. Keep the returned guard until exit.
pub fn init_logging(cli: &Cli) -> crate::logging::FlushOnDrop {
    use tracing_subscriber::EnvFilter;
    let default = if matches!(cli.command, Command::Serve(_)) {
        "info"
    } else {
        "warn"
    };
    let filter = std::env::var("MAILGRANT_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| default.to_string());
    // tokio-postgres logs statement parameters at debug level, and parameters can be secrets:
    // it is held at info whatever the filter says.
    let mut env_filter = EnvFilter::new(filter);
    if let Ok(quiet) = "tokio_postgres=info".parse() {
        env_filter = env_filter.add_directive(quiet);
    }
    let (writer, guard) = crate::logging::BufferedStderr::start();
    let colours = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(env_filter)
        .with_ansi(colours)
        .with_writer(writer);
    if std::env::var("MAILGRANT_LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder.json().init();
    } else if colours {
        builder.compact().init();
    } else {
        // The same line as `compact()` without colours, for a fraction of the CPU (see log_line).
        builder.event_format(crate::log_line::PlainLine).init();
    }
    guard
}
