use std::process::ExitCode;

use clap::{Parser, Subcommand};
use server::{Application, Config, startup::shutdown_signal, telemetry};

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
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init();

    let config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => return fail(&e),
    };
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let app = match Application::build(config).await {
                Ok(app) => app,
                Err(e) => return fail(&e),
            };
            tracing::info!("listening on http://{}", app.local_addr());
            if let Err(e) = app.run_until_stopped(shutdown_signal()).await {
                return fail(&e);
            }
            ExitCode::SUCCESS
        }
        Command::SetRole { user, role } => {
            match server::admin::set_role(&config, &user, &role).await {
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
    }
}

fn fail(error: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("error: {error}");
    ExitCode::FAILURE
}
