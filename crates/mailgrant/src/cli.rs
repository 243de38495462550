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

/// Logs go to stderr; `MAILGRANT_LOG` (or `RUST_LOG`) filters, `MAILGRANT_LOG_FORMAT=json`
/// switches to JSON lines.
pub fn init_logging(cli: &Cli) {
    use tracing_subscriber::EnvFilter;
    let default = if matches!(cli.command, Command::Serve(_)) {
        "info"
    } else {
        "warn"
    };
    let filter = std::env::var("MAILGRANT_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| default.to_string());
    let builder = tracing_subscriber::fmt()
        // tokio_postgres logs query parameters (token hashes, keys) at debug: never below info.
        .with_env_filter(
            EnvFilter::new(filter).add_directive(
                "tokio_postgres=info"
                    .parse()
                    .unwrap_or_else(|_| tracing::Level::INFO.into()),
            ),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    if std::env::var("MAILGRANT_LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder.json().init();
    } else {
        builder.compact().init();
    }
}
