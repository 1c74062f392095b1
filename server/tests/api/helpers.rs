use std::{collections::HashMap, net::SocketAddr, path::PathBuf};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{Value, json};
use server::{Config, startup::Application, state::AppState};
use sqlx::AnyPool;
use tempfile::TempDir;
use tokio::sync::oneshot;

/// A password that passes every rule for the usernames these tests use.
pub const PASSWORD: &str = "correct horse battery staple";

/// A running server with its own throw-away data folder.
pub struct TestApp {
    pub address: String,
    /// `http://<METRICS_ADDR>`, when the test asked for metrics.
    pub metrics_address: Option<String>,
    pub client: reqwest::Client,
    pub data_dir: PathBuf,
    pub state: AppState,
    vars: HashMap<String, String>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    _dir: Option<TempDir>,
}

/// A signed-up user and the tokens of their first session.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: String,
    pub access: String,
    pub refresh: String,
}

impl TestApp {
    /// Starts a server with test defaults plus `overrides`. Abuse limits are
    /// raised so that tests may sign up many users; the limit tests lower them.
    pub async fn spawn_with(overrides: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("temporary folder");
        let mut app = Self::spawn_in(dir.path().join("data"), overrides).await;
        app._dir = Some(dir);
        app
    }

    pub async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    /// Another server process on the same database and secret.
    pub async fn sibling(&self) -> Self {
        let overrides: Vec<(String, String)> = self
            .vars
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let overrides: Vec<(&str, &str)> = overrides
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        Self::spawn_in(self.data_dir.clone(), &overrides).await
    }

    /// A server in a data folder the caller made (and keeps).
    pub async fn spawn_in_dir(data_dir: PathBuf, overrides: &[(&str, &str)]) -> Self {
        Self::spawn_in(data_dir, overrides).await
    }

    async fn spawn_in(data_dir: PathBuf, overrides: &[(&str, &str)]) -> Self {
        let mut vars: HashMap<String, String> = HashMap::from([
            ("DATABASE_URL".into(), database_url(&data_dir).await),
            ("DATA_DIR".into(), data_dir.display().to_string()),
            ("LEPTOS_SITE_ADDR".into(), "127.0.0.1:0".into()),
            ("SIGNUPS_PER_IP".into(), "10000/5m".into()),
            ("AUTH_REQUESTS_PER_IP".into(), "10000/5m".into()),
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
        let metrics_address = app.metrics_addr().map(|a| format!("http://{a}"));
        let state = app.state().clone();
        let (tx, rx) = oneshot::channel();
        let server = tokio::spawn(app.run_until_stopped(async {
            let _ = rx.await;
        }));
        Self {
            address: format!("http://{addr}"),
            metrics_address,
            client: client(),
            data_dir,
            state,
            vars,
            shutdown: Some(tx),
            server: Some(server),
            _dir: None,
        }
    }

    pub fn config(&self) -> Config {
        Config::from_lookup(|k| self.vars.get(k).cloned()).expect("valid test configuration")
    }

    /// The server's own SQLite pools (for tests of SQLite's machinery).
    pub fn sqlite(&self) -> &server::store::Sqlite {
        match &self.state.db {
            server::store::Db::Sqlite(db) => db,
            server::store::Db::Postgres(_) => panic!("a SQLite test run on PostgreSQL"),
        }
    }

    /// A SQLite pool of the test's own to the server's database file.
    pub async fn sqlite_file(&self) -> sqlx::SqlitePool {
        sqlx::SqlitePool::connect(&self.vars["DATABASE_URL"])
            .await
            .unwrap()
    }

    /// A connection pool of the test's own to the server's database, SQLite
    /// or PostgreSQL: statements use `$N` parameters, which both accept.
    pub async fn db(&self) -> AnyPool {
        sqlx::any::install_default_drivers();
        AnyPool::connect(&self.vars["DATABASE_URL"]).await.unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request sent")
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    /// A request with `Authorization: Bearer <token>`.
    pub fn bearer(&self, method: Method, path: &str, token: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(token)
    }

    /// `method path` with a JSON `body`, as the holder of `token`.
    pub async fn bearer_json(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Value,
    ) -> Response {
        self.bearer(method, path, token)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// `GET path` as the holder of `token`, which must answer `200`; its body.
    pub async fn get_json(&self, path: &str, token: &str) -> Value {
        let response = self.bearer(Method::GET, path, token).send().await.unwrap();
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.unwrap()
    }

    /// Publishes a post as the holder of `token`; returns the post.
    pub async fn publish(&self, token: &str, title: &str, body: &str) -> Value {
        let response = self
            .bearer(Method::POST, "/api/posts", token)
            .json(&json!({"title": title, "body": body}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "publishing {title:?}");
        response.json::<Value>().await.unwrap()["post"].clone()
    }

    pub async fn signup_response(&self, username: &str) -> Response {
        self.post_json(
            "/api/auth/signup",
            &json!({"username": username, "email": format!("{username}@example.com"), "password": PASSWORD}),
        )
        .await
    }

    /// Signs up `username` (email `<username>@example.com`, password [`PASSWORD`]).
    pub async fn signup(&self, username: &str) -> TestUser {
        let response = self.signup_response(username).await;
        assert_eq!(response.status(), 201, "signup of {username}");
        user_from(response.json().await.unwrap())
    }

    pub async fn login_response(&self, login: &str, password: &str) -> Response {
        self.post_json(
            "/api/auth/login",
            &json!({"login": login, "password": password}),
        )
        .await
    }

    pub async fn login(&self, login: &str) -> TestUser {
        let response = self.login_response(login, PASSWORD).await;
        assert_eq!(response.status(), 200, "login of {login}");
        user_from(response.json().await.unwrap())
    }

    pub async fn refresh(&self, refresh_token: &str) -> Response {
        self.post_json(
            "/api/auth/refresh",
            &json!({"refresh_token": refresh_token}),
        )
        .await
    }

    pub async fn me(&self, access: &str) -> Response {
        self.bearer(Method::GET, "/api/me", access)
            .send()
            .await
            .unwrap()
    }

    /// Signs up `username` and gives them `role` (through the operator
    /// command), then logs in again so the token carries the role. An
    /// admin's new session proves presence too (`POST /api/account/reauth`),
    /// as the console asks before an admin acts.
    pub async fn user_with_role(&self, username: &str, role: &str) -> TestUser {
        self.signup(username).await;
        server::commands::set_role(&self.config(), username, role)
            .await
            .expect("role set");
        let user = self.login(username).await;
        if role == "admin" {
            self.prove(&user).await;
        }
        user
    }

    /// Proves presence for `user`'s session with the password
    /// ([`PASSWORD`]): it counts as proven for `REAUTH_WINDOW`.
    pub async fn prove(&self, user: &TestUser) {
        let proven = self
            .bearer_json(
                Method::POST,
                "/api/account/reauth",
                &user.access,
                json!({"password": PASSWORD}),
            )
            .await;
        assert_eq!(proven.status(), 204, "proving presence");
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

pub fn user_from(body: Value) -> TestUser {
    TestUser {
        id: body["user"]["id"].as_str().unwrap().into(),
        access: body["access_token"].as_str().unwrap().into(),
        refresh: body["refresh_token"].as_str().unwrap().into(),
    }
}

/// The error body's `error` code.
pub async fn error_code(response: Response) -> String {
    let body: Value = response.json().await.expect("JSON error body");
    assert!(
        body["error_description"].is_string(),
        "error_description in {body}"
    );
    body["error"].as_str().expect("error code").to_owned()
}

pub fn header(response: &Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// The tests' HTTP client: no redirects followed, and a request that hangs
/// fails the test instead of hanging the suite.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .expect("http client")
}

/// The database of a test whose data folder is `data_dir`: by default a
/// SQLite file in it; with `TEST_DATABASE_URL=postgres://…` (the test
/// command's throw-away cluster), a PostgreSQL database of its own, made on
/// first use and named after the folder, so that processes started in the
/// same folder share it.
pub async fn database_url(data_dir: &std::path::Path) -> String {
    let Some(admin) = std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        return format!("sqlite://{}", data_dir.join("app.db").display());
    };
    use sha2::Digest;
    let name = format!(
        "t_{}",
        hex(&sha2::Sha256::digest(data_dir.display().to_string().as_bytes())[..12])
    );
    let mut admin_conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin)
        .await
        .expect("TEST_DATABASE_URL reaches PostgreSQL");
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(&name)
        .fetch_optional(&mut admin_conn)
        .await
        .unwrap();
    if exists.is_none() {
        // Two processes may race to make it: the loser finds it made.
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin_conn)
            .await;
    }
    let base = admin
        .rsplit_once('/')
        .map_or(admin.as_str(), |(base, _)| base);
    format!("{base}/{name}")
}

/// Whether the suite runs on PostgreSQL (`TEST_DATABASE_URL`).
pub fn on_postgres() -> bool {
    std::env::var("TEST_DATABASE_URL").is_ok_and(|u| !u.is_empty())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The per-IP counter key of client number `i`.
pub fn client_key(i: usize) -> server::auth::limits::Key {
    use server::auth::limits::{Key, RequesterNet};
    Key::auth_requests(RequesterNet::of(
        format!("10.0.{}.{}", i / 250, i % 250 + 1).parse().unwrap(),
    ))
}

/// The claims of an access token (read, not verified).
pub fn claims(access: &str) -> Value {
    let payload = access.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// A mail the server sent, as a person's mail program shows it.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl Mail {
    /// Reads an RFC 5322 message (MIME, quoted-printable and all).
    pub fn parse(raw: &[u8]) -> Option<Self> {
        let message = mail_parser::MessageParser::default().parse(raw)?;
        let to = message.to()?.first()?.address()?.to_owned();
        Some(Self {
            to,
            subject: message.subject()?.to_owned(),
            text: message.body_text(0)?.into_owned(),
            html: message.body_html(0)?.into_owned(),
        })
    }

    /// The link of the mail's action (`…?token=…`).
    pub fn link(&self) -> String {
        self.text
            .split_whitespace()
            .find(|word| word.contains("?token="))
            .unwrap_or_else(|| panic!("no link in {:?}", self.text))
            .to_owned()
    }

    /// The token of the mail's link.
    pub fn token(&self) -> String {
        self.link()
            .split_once("?token=")
            .map(|(_, token)| token.to_owned())
            .unwrap()
    }

    /// The link's path and query, to request from the test's server.
    pub fn path(&self) -> String {
        let link = self.link();
        let after_scheme = link
            .split_once("://")
            .map_or(link.as_str(), |(_, rest)| rest);
        after_scheme[after_scheme.find('/').unwrap()..].to_owned()
    }
}

impl TestApp {
    /// Every mail in the outbox folder (the default transport), oldest
    /// first.
    pub fn outbox(&self) -> Vec<Mail> {
        read_mail_folder(&self.data_dir.join("outbox"))
    }

    /// The mails to `to`, once there are at least `count` (waiting for the
    /// server's sender, at most ten seconds), oldest first.
    pub async fn mails_to(&self, to: &str, count: usize) -> Vec<Mail> {
        wait_for_mail(|| self.outbox(), to, count).await
    }
}

/// The `.eml` (or maildir) files of `folder` that parse, oldest first.
pub fn read_mail_folder(folder: &std::path::Path) -> Vec<Mail> {
    files_oldest_first(folder)
        .into_iter()
        .filter_map(|path| Mail::parse(&std::fs::read(path).ok()?))
        .collect()
}

/// The files of `folder` (none when it does not exist), oldest first: the
/// order the server's sender wrote them in.
pub fn files_oldest_first(folder: &std::path::Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return Vec::new();
    };
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    files.sort();
    files.into_iter().map(|(_, path)| path).collect()
}

/// Polls `read` until it holds `count` mails to `to`; fails after ten
/// seconds with what did arrive.
pub async fn wait_for_mail(read: impl Fn() -> Vec<Mail>, to: &str, count: usize) -> Vec<Mail> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let mails: Vec<Mail> = read().into_iter().filter(|m| m.to == to).collect();
        if mails.len() >= count {
            return mails;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "expected {count} mails to {to}, found {}: {:?}",
            mails.len(),
            mails.iter().map(|m| &m.subject).collect::<Vec<_>>()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// An admin, signed in but not proven (`TestApp::user_with_role` proves
/// the admins it makes).
pub async fn unproven_admin(app: &TestApp, name: &str) -> TestUser {
    app.signup(name).await;
    server::commands::set_role(&app.config(), name, "admin")
        .await
        .unwrap();
    app.login(name).await
}
