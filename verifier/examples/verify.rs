//! Verifies one access token from the command line:
//! `cargo run -p verifier --example verify -- https://board.example/.well-known/jwks.json TOKEN`

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [jwks, token] = args.as_slice() else {
        eprintln!("usage: verify JWKS_URL ACCESS_TOKEN");
        return std::process::ExitCode::from(2);
    };
    let verified = match verifier::Verifier::new(jwks).await {
        Ok(verifier) => verifier.verify(token).await,
        Err(e) => Err(e),
    };
    match verified {
        Ok(claims) => {
            println!(
                "valid: {} ({}), session {}, expires at {}",
                claims.username, claims.role, claims.sid, claims.exp
            );
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("refused: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
