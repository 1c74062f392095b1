use std::process::ExitCode;

use clap::{Parser, Subcommand};
use server::{
    Config,
    commands::AdminError,
    provider::clients::Registration,
    startup::{Application, shutdown_signal},
    telemetry,
};

/// The classroom board's server. With no command, serves the site.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API and the pages (the default).
    Serve,
    /// Set a user's role (student, teacher or admin) and end their sessions.
    SetRole {
        /// The user's username or email.
        user: String,
        /// student, teacher or admin.
        role: String,
    },
    /// Unlock an account an admin locked (the way back in for a locked-out admin).
    Unlock {
        /// The user's username or email.
        user: String,
    },
    /// The keys that sign access tokens.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// The apps (OAuth clients) that sign people in through this server.
    #[command(subcommand)]
    Clients(ClientsCommand),
    /// Print the OpenAPI document (what `GET /api/openapi.json` serves).
    Openapi,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Every key, newest first: id, algorithm, state and times.
    List,
    /// Publish a new key (JWT_ALG); it signs after KEY_PUBLISH_LEAD (at once for HS256).
    Rotate,
    /// Stop signing and verifying with a key at once: its tokens are refused.
    Revoke {
        /// The key's id (kid).
        #[arg(allow_hyphen_values = true)]
        kid: String,
    },
}

#[derive(Subcommand)]
enum ClientsCommand {
    /// Register an app; prints its client_id and, for a confidential app,
    /// its client_secret (shown this once).
    Add {
        /// The app's name, as the consent page shows it.
        name: String,
        /// Where the app may send a person back to (exact; repeat for more).
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
        /// A single-page or native app: no secret, PKCE only.
        #[arg(long)]
        public: bool,
        /// The scopes it may ask for, space-separated
        /// (default "openid profile email").
        #[arg(long)]
        scope: Option<String>,
        /// One of the school's own apps: people are not asked for consent.
        #[arg(long)]
        trusted: bool,
        /// Where the app may send a person after logging out (repeatable).
        #[arg(long = "post-logout-redirect-uri")]
        post_logout_redirect_uris: Vec<String>,
        /// Where this server tells the app that a session ended.
        #[arg(long)]
        backchannel_logout_uri: Option<String>,
        /// A grant it may use (repeatable; default authorization_code and
        /// refresh_token; also client_credentials, and the device grant as
        /// urn:ietf:params:oauth:grant-type:device_code or device_code).
        #[arg(long = "grant")]
        grants: Vec<String>,
        /// The app's key set, for private_key_jwt.
        #[arg(long)]
        jwks_uri: Option<String>,
        /// What its ID tokens are signed with: RS256 (default), EdDSA or ES256.
        #[arg(long)]
        id_token_signed_response_alg: Option<String>,
        /// Its authorization requests must be pushed first (PAR, RFC 9126).
        #[arg(long)]
        require_par: bool,
    },
    /// Every app: client_id, kind, name, scopes, grants, redirect URIs.
    List,
    /// Remove an app.
    Remove {
        /// The app's client_id (it may begin with `-`).
        #[arg(allow_hyphen_values = true)]
        id: String,
    },
    /// Replace a confidential app's secret; the old one stops working at once.
    RotateSecret {
        /// The app's client_id (it may begin with `-`).
        #[arg(allow_hyphen_values = true)]
        id: String,
    },
    /// A new initial access token with which one app may register itself
    /// (DYNAMIC_REGISTRATION=token).
    RegistrationToken {
        /// How long it may be used (default 7d).
        #[arg(long, default_value = "7d", value_parser = humantime::parse_duration)]
        expires_in: std::time::Duration,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Openapi) = cli.command {
        // Needs no configuration: the document is the code's.
        let document = server::api::document()
            .to_pretty_json()
            .expect("the OpenAPI document serialises");
        println!("{document}");
        return ExitCode::SUCCESS;
    }
    telemetry::init(match cli.command {
        None | Some(Command::Serve) => telemetry::LogTo::Stdout,
        Some(_) => telemetry::LogTo::Stderr,
    });

    let config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => return fail(&e),
    };
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            server::serve::raise_open_file_limit();
            let app = match Application::build(config).await {
                Ok(app) => app,
                Err(e) => return fail(&e),
            };
            let shutdown = shutdown_signal();
            tracing::info!("listening on http://{}", app.local_addr());
            if let Some(metrics) = app.metrics_addr() {
                tracing::info!("metrics on http://{metrics}/metrics");
            }
            if let Err(e) = app.run_until_stopped(shutdown).await {
                return fail(&e);
            }
            ExitCode::SUCCESS
        }
        Command::SetRole { user, role } => {
            match server::commands::set_role(&config, &user, &role).await {
                Ok(account) => {
                    println!(
                        "{} <{}> is now {}",
                        account.username, account.email, account.role
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e),
            }
        }
        Command::Unlock { user } => match server::commands::unlock(&config, &user).await {
            Ok(account) => {
                println!("{} <{}> is unlocked", account.username, account.email);
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e),
        },
        Command::Keys(command) => say(keys(&config, command).await),
        Command::Clients(command) => say(clients(&config, command).await),
        Command::Openapi => unreachable!("answered before the configuration is read"),
    }
}

/// `server keys …`: what to print.
async fn keys(config: &Config, command: KeysCommand) -> Result<String, AdminError> {
    match command {
        KeysCommand::List => server::commands::keys_list(config)
            .await
            .map(|lines| lines.join("\n")),
        KeysCommand::Rotate => server::commands::keys_rotate(config).await,
        KeysCommand::Revoke { kid } => server::commands::keys_revoke(config, &kid).await,
    }
}

/// `server clients …`: what to print.
async fn clients(config: &Config, command: ClientsCommand) -> Result<String, AdminError> {
    match command {
        ClientsCommand::Add {
            name,
            redirect_uris,
            public,
            scope,
            trusted,
            post_logout_redirect_uris,
            backchannel_logout_uri,
            grants,
            jwks_uri,
            id_token_signed_response_alg,
            require_par,
        } => {
            let registration = Registration {
                name,
                redirect_uris,
                public,
                scopes: scope
                    .map(|s| s.split_whitespace().map(str::to_owned).collect())
                    .unwrap_or_default(),
                trusted,
                post_logout_redirect_uris,
                backchannel_logout_uri,
                grant_types: grants,
                jwks_uri,
                id_token_signed_response_alg,
                require_par,
            };
            server::commands::clients_add(config, &registration)
                .await
                .map(|lines| lines.join("\n"))
        }
        ClientsCommand::List => server::commands::clients_list(config)
            .await
            .map(|lines| lines.join("\n")),
        ClientsCommand::Remove { id } => server::commands::clients_remove(config, &id).await,
        ClientsCommand::RegistrationToken { expires_in } => {
            server::commands::clients_registration_token(config, expires_in)
                .await
                .map(|lines| lines.join("\n"))
        }
        ClientsCommand::RotateSecret { id } => {
            server::commands::clients_rotate_secret(config, &id).await
        }
    }
}

/// Prints what a command said, or its error.
fn say(said: Result<String, AdminError>) -> ExitCode {
    match said {
        Ok(said) => {
            println!("{said}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
    }
}

fn fail(error: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("error: {error}");
    ExitCode::FAILURE
}
