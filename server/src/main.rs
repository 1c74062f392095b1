use std::process::ExitCode;

use clap::{Parser, Subcommand};
use server::{
    Config,
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
        kid: String,
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
        Command::Keys(command) => {
            let said = match command {
                KeysCommand::List => server::commands::keys_list(&config)
                    .await
                    .map(|l| l.join("\n")),
                KeysCommand::Rotate => server::commands::keys_rotate(&config).await,
                KeysCommand::Revoke { kid } => server::commands::keys_revoke(&config, &kid).await,
            };
            match said {
                Ok(said) => {
                    println!("{said}");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e),
            }
        }
        Command::Openapi => unreachable!("answered before the configuration is read"),
    }
}

fn fail(error: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("error: {error}");
    ExitCode::FAILURE
}
