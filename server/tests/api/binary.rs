//! The real server binary, started as an operator starts it: its own process,
//! a folder of its own (or one shared with siblings), configuration from the
//! environment only.

use std::{
    collections::BTreeMap,
    io::{BufRead, BufReader, Read},
    path::Path,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

use serde_json::{Value, json};

use crate::helpers::PASSWORD;

/// The binary with an empty environment but for `PATH`.
pub fn command() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_server"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    cmd
}

/// Runs `server set-role <who> <role>` in `dir`, as an operator would.
pub fn set_role(dir: &Path, who: &str, role: &str) -> std::process::Output {
    command()
        .current_dir(dir)
        .env("DATABASE_URL", database_url(dir))
        .args(["set-role", who, role])
        .output()
        .expect("the server binary runs")
}

/// The database of processes started in `dir` (see `helpers::database_url`):
/// SQLite in `dir/data` by default, else a PostgreSQL database of `dir`'s own.
pub fn database_url(dir: &Path) -> String {
    let data = dir.join("data");
    // Its own runtime on its own thread: callers may be inside one already.
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(crate::helpers::database_url(&data))
    })
    .join()
    .expect("the database is made")
}

/// A pool of the test's own to the database of processes started in `dir`.
pub async fn database(dir: &Path) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::AnyPool::connect(&database_url(dir)).await.unwrap()
}

/// A running server process. Dropping it kills the process.
pub struct Server {
    child: Option<Child>,
    /// `http://127.0.0.1:<port>`
    pub address: String,
    output: Arc<Mutex<String>>,
    /// The threads that collect stdout and stderr; they end with the process.
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl Server {
    /// Starts the binary in `dir` on a free port with `env`, and waits until
    /// it logs the address it listens on.
    pub fn start(dir: &Path, env: &[(&str, &str)]) -> Self {
        let mut cmd = command();
        cmd.current_dir(dir)
            .env("DATABASE_URL", database_url(dir))
            .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("the server binary starts");
        let output = Arc::new(Mutex::new(String::new()));
        let mut stderr = child.stderr.take().expect("piped stderr");
        let sink = output.clone();
        let err_reader = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            sink.lock().unwrap().push_str(&text);
        });
        // Every stdout line is collected; the one naming the address is also
        // sent here, and a server that never logs it fails the test in 30 s.
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let (found, address) = std::sync::mpsc::channel();
        let sink = output.clone();
        let out_reader = std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                // As text, or inside a JSON line's "message".
                if let Some(a) = line.split("listening on ").nth(1) {
                    let a = a.split(['"', ' ']).next().unwrap_or(a);
                    let _ = found.send(a.to_owned());
                }
                let mut out = sink.lock().unwrap();
                out.push_str(&line);
                out.push('\n');
            }
        });
        let address = address.recv_timeout(Duration::from_secs(30));
        let mut server = Self {
            child: Some(child),
            address: String::new(),
            output,
            readers: vec![err_reader, out_reader],
        };
        match address {
            Ok(address) => server.address = address,
            Err(_) => {
                server.kill();
                panic!(
                    "server did not log its address within 30 s:\n{}",
                    server.logs()
                );
            }
        }
        server
    }

    /// Everything the process printed so far.
    pub fn logs(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Sends SIGTERM, requires a clean exit within 10 seconds, and returns
    /// everything the process printed.
    pub fn stop(mut self) -> String {
        let mut child = self.child.take().expect("a running server");
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let exit = loop {
            if let Some(exit) = child.try_wait().unwrap() {
                break exit;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "server did not stop within 10 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(exit.success(), "graceful exit, got {exit:?}");
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        self.logs()
    }

    /// Kills the process at once (SIGKILL): no shutdown code runs.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A runtime for the synchronous tests that drive a process.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Signs `username` up on `server` and returns the token response.
pub async fn signup(client: &reqwest::Client, server: &Server, username: &str) -> Value {
    let response = client
        .post(server.url("/api/auth/signup"))
        .json(&json!({"username": username, "email": format!("{username}@example.com"), "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "signup of {username}");
    response.json().await.unwrap()
}

/// Proves presence for the session of `access` on `server` with the
/// password: an admin's session must, before it acts.
pub async fn prove(client: &reqwest::Client, server: &Server, access: &str) {
    let response = client
        .post(server.url("/api/account/reauth"))
        .bearer_auth(access)
        .json(&json!({"password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204, "proving presence");
}

/// Counts how often each status occurs.
pub fn tally(statuses: impl IntoIterator<Item = u16>) -> BTreeMap<u16, usize> {
    let mut counts = BTreeMap::new();
    for status in statuses {
        *counts.entry(status).or_default() += 1;
    }
    counts
}

/// The status `GET /api/me` gets on `server` with `access`.
pub async fn me_status(client: &reqwest::Client, server: &Server, access: &str) -> u16 {
    client
        .get(server.url("/api/me"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Asks `server` with `access` until it answers `401`, and fails the test
/// if that takes longer than `within` (measured, not slept).
pub async fn refused_within(
    client: &reqwest::Client,
    server: &Server,
    access: &str,
    within: Duration,
) {
    let asked = std::time::Instant::now();
    while me_status(client, server, access).await != 401 {
        assert!(
            asked.elapsed() < within,
            "{} still accepts the token after {within:?}",
            server.address
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
