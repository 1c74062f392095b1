use std::{collections::HashMap, net::SocketAddr, path::PathBuf};

use server::{Application, Config};
use tempfile::TempDir;
use tokio::sync::oneshot;

/// A running server with its own throw-away data folder.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub data_dir: PathBuf,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    _dir: TempDir,
}

impl TestApp {
    /// Starts a server with the default configuration plus `overrides`.
    pub async fn spawn_with(overrides: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("temporary folder");
        let data_dir = dir.path().join("data");
        let mut vars: HashMap<String, String> = HashMap::from([
            ("DATA_DIR".into(), data_dir.display().to_string()),
            ("LEPTOS_SITE_ADDR".into(), "127.0.0.1:0".into()),
        ]);
        vars.extend(
            overrides
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        let config =
            Config::from_lookup(|k| vars.get(k).cloned()).expect("valid test configuration");

        let app = Application::build(config).await.expect("server starts");
        let addr: SocketAddr = app.local_addr();
        let (tx, rx) = oneshot::channel();
        let server = tokio::spawn(app.run_until_stopped(async {
            let _ = rx.await;
        }));
        Self {
            address: format!("http://{addr}"),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("http client"),
            data_dir,
            shutdown: Some(tx),
            server: Some(server),
            _dir: dir,
        }
    }

    pub async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request sent")
    }

    /// Signals shutdown and waits for the server to finish.
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let server = self.server.take().expect("server task");
        tokio::time::timeout(std::time::Duration::from_secs(10), server)
            .await
            .expect("server stops within 10 s")
            .expect("server task did not panic")
    }
}
