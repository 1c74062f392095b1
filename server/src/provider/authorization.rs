//! The authorization endpoint's decisions (OpenID Connect Core §3.1.2,
//! OAuth 2.1 §4.1): a request is checked, kept while the person signs in
//! and decides, and answered with a code or an error at the app's
//! registered redirect URI.
//!
//! Which errors go where: an unknown app or a redirect URI it did not
//! register is shown on this site's page and **never** redirected (the URI
//! could be anyone's); every other error goes back to the app with `state`
//! and `iss` (RFC 9207).

use std::time::Duration;

use sha2::{Digest, Sha256};

use super::scopes;
use crate::store::{
    Db,
    clients::{self, ClientRow},
    grants::{self, ConsentRow, NewCode, NewConsent, RequestRow},
    ms, now_ms,
    rows::{Event, Origin},
    sessions,
};
use classboard::api::EventKind;

/// How long a checked request waits for the person to sign in and decide.
pub const REQUEST_LIFETIME: Duration = Duration::from_secs(30 * 60);
/// How long a pushed request waits for the browser (RFC 9126 §2.2).
pub const PUSHED_LIFETIME: Duration = Duration::from_secs(60);
/// What a pushed request's `request_uri` starts with (RFC 9126 §2.2).
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";
/// The longest `state`, `nonce` or `login_hint` kept, in bytes.
const MAX_PARAM: usize = 512;

/// Why a request cannot even be sent back to the app: shown on a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    #[error("The request names no app (client_id).")]
    NoApp,
    #[error("No app with this client_id is registered here.")]
    UnknownApp,
    #[error("The request names no redirect_uri.")]
    NoRedirect,
    #[error("This redirect_uri is not one the app registered.")]
    UnknownRedirect,
    #[error("A parameter is given more than once.")]
    Repeated,
    #[error("This request_uri is unknown, was used already, or has expired.")]
    RequestUriEnded,
}

/// An error sent back to the app (RFC 6749 §4.1.2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub error: &'static str,
    pub description: String,
}

impl Refusal {
    fn new(error: &'static str, description: impl Into<String>) -> Self {
        Self {
            error,
            description: description.into(),
        }
    }
}

/// What the authorization endpoint answers.
#[derive(Debug)]
pub enum Begun {
    /// Checked and kept: the page goes on with this handle.
    Waiting(String),
    /// Refused: the browser goes back to the app at this address.
    Redirect(String),
    /// Refused on this site's page.
    Page(PageError),
}

/// A request pushed by an app (RFC 9126), waiting for the browser.
#[derive(Debug)]
pub struct Pushed {
    pub request_uri: String,
    pub expires_in: u64,
}

/// Who answers a request: the holder of a board access token.
#[derive(Debug, Clone, Copy)]
pub struct Person<'a> {
    pub user_id: &'a str,
    /// Their session on this site.
    pub session_id: &'a str,
    /// When they signed in (seconds).
    pub auth_time: u64,
}

/// Where a waiting request goes next.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Back to the app (with a code, or an error).
    Redirect(String),
    /// Nobody is signed in: the person signs in first.
    SignIn { login_hint: Option<String> },
    /// The person is asked.
    Consent {
        app: String,
        /// The scopes asked for, in the server's order.
        scopes: Vec<&'static str>,
        /// The app registered itself (dynamic registration).
        registered_itself: bool,
    },
}

/// Why a step cannot be taken.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error("This sign-in request has ended. Go back to the app and start again.")]
    Ended,
    #[error("Confirm it is you: the app asks for a recent sign-in.")]
    ReauthRequired,
    #[error("The session has ended.")]
    SessionEnded,
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// The authorization endpoint's side of the provider.
#[derive(Clone)]
pub struct Authorizations {
    db: Db,
    issuer: String,
    code_lifetime: Duration,
}

impl Authorizations {
    pub fn new(db: Db, issuer: &str, code_lifetime: Duration) -> Self {
        Self {
            db,
            issuer: issuer.to_owned(),
            code_lifetime,
        }
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Checks a request's parameters (as the query string gave them, in
    /// order) and keeps it for the person.
    pub async fn begin(&self, params: &[(String, String)]) -> Result<Begun, sqlx::Error> {
        let mut seen = std::collections::HashSet::new();
        if params.iter().any(|(name, _)| !seen.insert(name.as_str())) {
            return Ok(Begun::Page(PageError::Repeated));
        }
        let get = |name: &str| {
            params
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
                .filter(|v| !v.is_empty())
        };
        let Some(client_id) = get("client_id") else {
            return Ok(Begun::Page(PageError::NoApp));
        };
        if !super::clients::usable_id(client_id) {
            return Ok(Begun::Page(PageError::UnknownApp));
        }
        let Some(client) = clients::by_id(&self.db, client_id).await? else {
            return Ok(Begun::Page(PageError::UnknownApp));
        };
        // A pushed request: only what the app pushed counts (RFC 9126 §4),
        // and only the app that pushed it may bring it, once.
        if let Some(request_uri) = get("request_uri") {
            return self.claim(&client, request_uri).await;
        }
        let Some(redirect_uri) = get("redirect_uri") else {
            return Ok(Begun::Page(PageError::NoRedirect));
        };
        if !client
            .redirect_uris
            .split(' ')
            .any(|registered| super::clients::redirect_matches(registered, redirect_uri))
        {
            return Ok(Begun::Page(PageError::UnknownRedirect));
        }
        let state = get("state");
        let back = |refusal: Refusal| {
            Begun::Redirect(self.redirect(redirect_uri, &refused_params(&refusal, state)))
        };
        if client.require_par {
            return Ok(back(Refusal::new(
                "invalid_request",
                "This app must push its requests first (PAR, RFC 9126).",
            )));
        }
        let request = match check(&client, &get) {
            Ok(request) => request,
            Err(refusal) => return Ok(back(refusal)),
        };
        let handle = crate::auth::random_url_safe::<32>();
        let row = request.row(&client, (redirect_uri, state), &handle, REQUEST_LIFETIME);
        grants::insert_request(&self.db, &row).await?;
        Ok(Begun::Waiting(handle))
    }

    /// A pushed authorization request (RFC 9126) from `client`,
    /// authenticated: checked as the authorization endpoint checks one,
    /// and kept [`PUSHED_LIFETIME`] under a `request_uri` that works once.
    /// With a DPoP proof (`proven_jkt`), the code is bound to its key
    /// (RFC 9449 §10.1), as `dpop_jkt` would bind it.
    pub async fn push(
        &self,
        client: &ClientRow,
        params: &[(String, String)],
        proven_jkt: Option<&str>,
    ) -> Result<Result<Pushed, Refusal>, sqlx::Error> {
        let get = |name: &str| {
            params
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
                .filter(|v| !v.is_empty())
        };
        if get("request_uri").is_some() {
            return Ok(Err(Refusal::new(
                "invalid_request",
                "A pushed request cannot name a request_uri.",
            )));
        }
        if get("client_id").is_some_and(|named| named != client.id) {
            return Ok(Err(Refusal::new(
                "invalid_request",
                "client_id is not the app that authenticated.",
            )));
        }
        let Some(redirect_uri) = get("redirect_uri") else {
            return Ok(Err(Refusal::new(
                "invalid_request",
                "redirect_uri is missing.",
            )));
        };
        if !client
            .redirect_uris
            .split(' ')
            .any(|registered| super::clients::redirect_matches(registered, redirect_uri))
        {
            return Ok(Err(Refusal::new(
                "invalid_request",
                "This redirect_uri is not one the app registered.",
            )));
        }
        let mut request = match check(client, &get) {
            Ok(request) => request,
            Err(refusal) => return Ok(Err(refusal)),
        };
        match (request.dpop_jkt.as_deref(), proven_jkt) {
            (Some(asked), Some(proven)) if asked != proven => {
                return Ok(Err(Refusal::new(
                    "invalid_request",
                    "dpop_jkt is not the key of the DPoP proof.",
                )));
            }
            (None, Some(proven)) => request.dpop_jkt = Some(proven.to_owned()),
            _ => {}
        }
        let handle = crate::auth::random_url_safe::<32>();
        let mut row = request.row(
            client,
            (redirect_uri, get("state")),
            &handle,
            PUSHED_LIFETIME,
        );
        row.pushed = true;
        grants::insert_request(&self.db, &row).await?;
        Ok(Ok(Pushed {
            request_uri: format!("{REQUEST_URI_PREFIX}{handle}"),
            expires_in: PUSHED_LIFETIME.as_secs(),
        }))
    }

    /// Brings a pushed request to the authorization endpoint: it waits for
    /// the person under a new handle, and its `request_uri` is spent.
    async fn claim(&self, client: &ClientRow, request_uri: &str) -> Result<Begun, sqlx::Error> {
        let Some(pushed) = request_uri.strip_prefix(REQUEST_URI_PREFIX) else {
            return Ok(Begun::Page(PageError::RequestUriEnded));
        };
        let handle = crate::auth::random_url_safe::<32>();
        let now = now_ms();
        let claimed = grants::claim_pushed(
            &self.db,
            (&hash(pushed), &client.id),
            &hash(&handle),
            now,
            now + ms(REQUEST_LIFETIME),
        )
        .await?;
        Ok(match claimed {
            Some(_) => Begun::Waiting(handle),
            None => Begun::Page(PageError::RequestUriEnded),
        })
    }

    /// Where the request `handle` goes next, for `person` (`None`: nobody
    /// is signed in). Answers the app at once when nothing is left to ask.
    /// A person whose sign-in is older than the request allows
    /// (`prompt=login`, `max_age`) proves presence again first
    /// ([`StepError::ReauthRequired`]): that counts as signing in.
    pub async fn step(&self, handle: &str, person: Option<Person<'_>>) -> Result<Step, StepError> {
        let (request, client) = self.waiting(handle).await?;
        let prompt = Prompt::of(&request.prompt);
        let Some(person) = person else {
            if prompt.none {
                return self
                    .refuse(
                        &request,
                        Refusal::new("login_required", "Nobody is signed in."),
                    )
                    .await;
            }
            return Ok(Step::SignIn {
                login_hint: request.login_hint,
            });
        };
        if !fresh_enough(&request, self.authenticated_at(person).await?) {
            if prompt.none {
                return self
                    .refuse(
                        &request,
                        Refusal::new(
                            "login_required",
                            "The sign-in is older than max_age allows.",
                        ),
                    )
                    .await;
            }
            return Err(StepError::ReauthRequired);
        }
        // A public or native app's identity is not assured (any app on a
        // device can claim its redirect): it never gets a code without a
        // click (RFC 8252 §8.6, RFC 9700 §2.1.1), whatever was allowed
        // before.
        let assured = super::clients::identity_assured(&client);
        let consented = !prompt.consent
            && assured
            && (client.trusted || self.consented(&request, person.user_id).await?);
        if consented {
            return self.answer(&request, person, None).await;
        }
        if prompt.none {
            return self
                .refuse(
                    &request,
                    Refusal::new(
                        "consent_required",
                        "The person has not allowed this app yet.",
                    ),
                )
                .await;
        }
        Ok(Step::Consent {
            registered_itself: client.registration_access_hash.is_some(),
            app: client.name,
            scopes: scopes::in_order(&request.scope),
        })
    }

    /// The person's answer on the consent page.
    pub async fn decide(
        &self,
        handle: &str,
        person: Person<'_>,
        allow: bool,
        origin: &Origin,
    ) -> Result<Step, StepError> {
        let (request, _client) = self.waiting(handle).await?;
        if !fresh_enough(&request, self.authenticated_at(person).await?) {
            return Err(StepError::ReauthRequired);
        }
        if !allow {
            return self
                .refuse(
                    &request,
                    Refusal::new("access_denied", "The person did not allow it."),
                )
                .await;
        }
        let before = grants::consent(&self.db, person.user_id, &request.client_id).await?;
        let allowed = match &before {
            Some(before) => scopes::union(before, &request.scope),
            None => request.scope.clone(),
        };
        let detail = format!("{} {}", request.client_id, request.scope);
        let event = Event {
            detail: Some(&detail),
            ..Event::new(EventKind::AppAllowed, person.user_id, origin).session(person.session_id)
        };
        let consent = NewConsent {
            before: before.as_deref(),
            allowed: &allowed,
            event: &event,
        };
        self.answer(&request, person, Some(&consent)).await
    }

    /// The apps `user_id` allowed (by a consent, or a trusted app by
    /// holding a grant), by name, each once with all it may do and when it
    /// was last allowed something.
    pub async fn apps_with_access(&self, user_id: &str) -> Result<Vec<ConsentRow>, sqlx::Error> {
        let mut apps: Vec<ConsentRow> = Vec::new();
        for row in grants::consents_of(&self.db, user_id).await? {
            match apps.iter_mut().find(|app| app.client_id == row.client_id) {
                Some(app) => {
                    app.scope = scopes::union(&app.scope, &row.scope);
                    app.granted_at = app.granted_at.max(row.granted_at);
                }
                None => apps.push(row),
            }
        }
        Ok(apps)
    }

    /// Withdraws what the person allowed the app: their grants to it end
    /// with every token, and it asks again next time. The sessions ended,
    /// or `None` when the app had nothing of theirs.
    pub async fn withdraw(
        &self,
        person: Person<'_>,
        client_id: &str,
        origin: &Origin,
    ) -> Result<Option<Vec<String>>, sqlx::Error> {
        let event = Event {
            detail: Some(client_id),
            ..Event::new(EventKind::AppAccessWithdrawn, person.user_id, origin)
                .session(person.session_id)
        };
        grants::withdraw(&self.db, person.user_id, client_id, &event).await
    }

    /// When the person last authenticated (ms): their sign-in, or a later
    /// proof of presence on the same session.
    async fn authenticated_at(&self, person: Person<'_>) -> Result<i64, StepError> {
        let proven = sessions::proven_at(&self.db, person.user_id, person.session_id)
            .await?
            .ok_or(StepError::SessionEnded)?;
        let signed_in = i64::try_from(person.auth_time)
            .unwrap_or(i64::MAX)
            .saturating_mul(1000);
        Ok(proven.map_or(signed_in, |proven| proven.max(signed_in)))
    }

    async fn waiting(&self, handle: &str) -> Result<(RequestRow, ClientRow), StepError> {
        let request = grants::request(&self.db, &hash(handle), now_ms())
            .await?
            .ok_or(StepError::Ended)?;
        let client = clients::by_id(&self.db, &request.client_id)
            .await?
            .ok_or(StepError::Ended)?;
        Ok((request, client))
    }

    async fn consented(&self, request: &RequestRow, user_id: &str) -> Result<bool, sqlx::Error> {
        Ok(grants::consent(&self.db, user_id, &request.client_id)
            .await?
            .is_some_and(|allowed| scopes::covers(&allowed, &request.scope)))
    }

    /// Answers with a code (and, with `consent`, remembers it).
    async fn answer(
        &self,
        request: &RequestRow,
        person: Person<'_>,
        consent: Option<&NewConsent<'_>>,
    ) -> Result<Step, StepError> {
        let code = crate::auth::random_url_safe::<32>();
        let now = now_ms();
        let answered = grants::answer_with_code(
            &self.db,
            &request.handle_hash,
            &NewCode {
                code_hash: &hash(&code),
                user_id: person.user_id,
                session_id: person.session_id,
                now,
                expires_at: now + ms(self.code_lifetime),
            },
            consent,
        )
        .await?;
        if !answered {
            return Err(StepError::Ended);
        }
        let mut params = vec![("code", code.as_str())];
        if let Some(state) = request.state.as_deref() {
            params.push(("state", state));
        }
        Ok(Step::Redirect(
            self.redirect(&request.redirect_uri, &params),
        ))
    }

    async fn refuse(&self, request: &RequestRow, refusal: Refusal) -> Result<Step, StepError> {
        if !grants::end_request(&self.db, &request.handle_hash).await? {
            return Err(StepError::Ended);
        }
        let params = refused_params(&refusal, request.state.as_deref());
        Ok(Step::Redirect(
            self.redirect(&request.redirect_uri, &params),
        ))
    }

    /// `redirect_uri` with `params` and `iss` added to its query.
    fn redirect(&self, redirect_uri: &str, params: &[(&str, &str)]) -> String {
        let Ok(mut url) = url::Url::parse(redirect_uri) else {
            // Registered URIs are parsed when registered.
            return redirect_uri.to_owned();
        };
        {
            let mut query = url.query_pairs_mut();
            for (name, value) in params {
                query.append_pair(name, value);
            }
            query.append_pair("iss", &self.issuer);
        }
        url.into()
    }
}

fn refused_params<'a>(refusal: &'a Refusal, state: Option<&'a str>) -> Vec<(&'a str, &'a str)> {
    let mut params = vec![
        ("error", refusal.error),
        ("error_description", refusal.description.as_str()),
    ];
    if let Some(state) = state {
        params.push(("state", state));
    }
    params
}

/// What the stored request holds besides the app and the redirect URI.
struct Checked {
    scope: String,
    nonce: Option<String>,
    code_challenge: String,
    prompt: String,
    max_age: Option<i64>,
    login_hint: Option<String>,
    dpop_jkt: Option<String>,
}

impl Checked {
    /// The row that keeps the request for `lifetime` under `handle`.
    fn row(
        self,
        client: &ClientRow,
        (redirect_uri, state): (&str, Option<&str>),
        handle: &str,
        lifetime: Duration,
    ) -> RequestRow {
        let now = now_ms();
        RequestRow {
            handle_hash: hash(handle),
            client_id: client.id.clone(),
            redirect_uri: redirect_uri.to_owned(),
            scope: self.scope,
            state: state.map(str::to_owned),
            nonce: self.nonce,
            code_challenge: self.code_challenge,
            prompt: self.prompt,
            max_age: self.max_age,
            login_hint: self.login_hint,
            created_at: now,
            expires_at: now + ms(lifetime),
            pushed: false,
            dpop_jkt: self.dpop_jkt,
        }
    }
}

/// The checks that are answered at the app's redirect URI.
fn check<'a>(
    client: &ClientRow,
    get: &impl Fn(&str) -> Option<&'a str>,
) -> Result<Checked, Refusal> {
    if get("request").is_some() {
        return Err(Refusal::new(
            "request_not_supported",
            "Request objects are not supported.",
        ));
    }
    match get("response_type") {
        Some("code") => {}
        None => return Err(Refusal::new("invalid_request", "response_type is missing.")),
        Some(_) => {
            return Err(Refusal::new(
                "unsupported_response_type",
                "Only response_type=code is offered.",
            ));
        }
    }
    if !client
        .grant_types
        .split(' ')
        .any(|g| g == "authorization_code")
    {
        return Err(Refusal::new(
            "unauthorized_client",
            "This app may not use the authorization code flow.",
        ));
    }
    if let Some(mode) = get("response_mode")
        && mode != "query"
    {
        return Err(Refusal::new(
            "invalid_request",
            "Only response_mode=query is offered.",
        ));
    }
    let code_challenge = match (get("code_challenge"), get("code_challenge_method")) {
        (None, _) => {
            return Err(Refusal::new(
                "invalid_request",
                "PKCE is required: send code_challenge (S256).",
            ));
        }
        (Some(_), None | Some("plain")) => {
            return Err(Refusal::new(
                "invalid_request",
                "Only code_challenge_method=S256 is accepted.",
            ));
        }
        (Some(_), Some(method)) if method != "S256" => {
            return Err(Refusal::new(
                "invalid_request",
                "Only code_challenge_method=S256 is accepted.",
            ));
        }
        (Some(challenge), Some(_)) => {
            // BASE64URL(SHA-256(verifier)) without padding: 43 characters.
            let well_formed = challenge.len() == 43
                && challenge
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !well_formed {
                return Err(Refusal::new(
                    "invalid_request",
                    "code_challenge is not an S256 challenge.",
                ));
            }
            challenge.to_owned()
        }
    };
    let scope = match get("scope") {
        None => return Err(Refusal::new("invalid_scope", "scope is missing.")),
        Some(asked) => scopes::granted(asked, &client.scopes).map_err(|_| {
            Refusal::new(
                "invalid_scope",
                "The scope names something this app is not registered for.",
            )
        })?,
    };
    const PROMPTS: [&str; 4] = ["none", "login", "consent", "select_account"];
    let asked_prompts: Vec<&str> = get("prompt")
        .unwrap_or("")
        .split(' ')
        .filter(|p| !p.is_empty())
        .collect();
    if asked_prompts.iter().any(|p| !PROMPTS.contains(p)) {
        return Err(Refusal::new(
            "invalid_request",
            "prompt holds a value other than none, login, consent and select_account.",
        ));
    }
    // Kept as a set, in one order: a request cannot grow its row by
    // repeating a value.
    let prompt_values: Vec<&str> = PROMPTS
        .into_iter()
        .filter(|p| asked_prompts.contains(p))
        .collect();
    if prompt_values.contains(&"none") && prompt_values.len() > 1 {
        return Err(Refusal::new(
            "invalid_request",
            "prompt=none cannot be combined with another value.",
        ));
    }
    let max_age = match get("max_age") {
        None => None,
        Some(raw) => Some(
            raw.parse::<u32>()
                .map(i64::from)
                .map_err(|_| Refusal::new("invalid_request", "max_age is a number of seconds."))?,
        ),
    };
    let bounded = |name: &str| -> Result<Option<String>, Refusal> {
        match get(name) {
            Some(v) if v.len() > MAX_PARAM || v.contains('\0') => Err(Refusal::new(
                "invalid_request",
                format!("{name} is longer than {MAX_PARAM} bytes or holds NUL."),
            )),
            v => Ok(v.map(str::to_owned)),
        }
    };
    let nonce = bounded("nonce")?;
    bounded("state")?;
    let login_hint = bounded("login_hint")?;
    // RFC 9449 §10: the code will be exchanged with a proof of this key.
    let dpop_jkt = match get("dpop_jkt") {
        Some(jkt) if !crate::auth::dpop::is_thumbprint(jkt) => {
            return Err(Refusal::new(
                "invalid_request",
                "dpop_jkt is not a SHA-256 JWK thumbprint (RFC 7638).",
            ));
        }
        jkt => jkt.map(str::to_owned),
    };
    Ok(Checked {
        scope,
        nonce,
        code_challenge,
        prompt: prompt_values.join(" "),
        max_age,
        login_hint,
        dpop_jkt,
    })
}

/// The `prompt` values of a request.
struct Prompt {
    none: bool,
    login: bool,
    consent: bool,
}

impl Prompt {
    fn of(stored: &str) -> Self {
        let has = |v: &str| stored.split(' ').any(|p| p == v);
        Self {
            none: has("none"),
            login: has("login"),
            consent: has("consent"),
        }
    }
}

/// Whether a person who authenticated at `at` (ms) did so recently enough
/// for `request`: after the request with `prompt=login` (to the second, as
/// `auth_time` is), within `max_age` seconds when it is given.
fn fresh_enough(request: &RequestRow, at: i64) -> bool {
    if Prompt::of(&request.prompt).login && at < request.created_at - 999 {
        return false;
    }
    match request.max_age {
        Some(max_age) => now_ms() - at <= max_age.saturating_mul(1000),
        None => true,
    }
}

/// What is stored of a handle or a code.
pub fn hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> ClientRow {
        ClientRow {
            id: "app".into(),
            name: "Library".into(),
            secret_hash: None,
            redirect_uris: "https://library.example/cb".into(),
            post_logout_redirect_uris: String::new(),
            backchannel_logout_uri: None,
            scopes: "openid profile grades:read".into(),
            grant_types: "authorization_code refresh_token".into(),
            trusted: false,
            jwks_uri: None,
            created_at: 0,
            secret_rotated_at: None,
            id_token_signed_response_alg: "RS256".into(),
            require_par: false,
            registration_access_hash: None,
        }
    }

    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn checked(extra: &[(&str, &str)]) -> Result<Checked, Refusal> {
        let mut params = vec![
            ("response_type", "code"),
            ("scope", "openid profile"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ];
        for (name, value) in extra {
            params.retain(|(n, _)| n != name);
            if !value.is_empty() {
                params.push((name, value));
            }
        }
        let get = |name: &str| params.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
        check(&app(), &get)
    }

    #[test]
    fn a_good_request_is_kept_as_asked() {
        let request =
            checked(&[("nonce", "n-1"), ("prompt", "consent"), ("max_age", "60")]).unwrap();
        assert_eq!(request.scope, "openid profile");
        assert_eq!(request.nonce.as_deref(), Some("n-1"));
        assert_eq!(request.prompt, "consent");
        assert_eq!(request.max_age, Some(60));
    }

    #[test]
    fn pkce_is_s256_only_and_always() {
        let error = |extra: &[(&str, &str)]| checked(extra).err().map(|r| r.error);
        assert_eq!(error(&[("code_challenge", "")]), Some("invalid_request"));
        assert_eq!(
            error(&[("code_challenge_method", "plain")]),
            Some("invalid_request")
        );
        assert_eq!(
            error(&[("code_challenge_method", "")]),
            Some("invalid_request")
        );
        assert_eq!(
            error(&[("code_challenge", "short")]),
            Some("invalid_request")
        );
        assert_eq!(
            error(&[("code_challenge", &"a".repeat(128))]),
            Some("invalid_request")
        );
    }

    #[test]
    fn each_refusal_has_its_rfc_name() {
        let error = |extra: &[(&str, &str)]| checked(extra).err().map(|r| r.error);
        assert_eq!(
            error(&[("response_type", "token")]),
            Some("unsupported_response_type")
        );
        assert_eq!(error(&[("response_type", "")]), Some("invalid_request"));
        assert_eq!(error(&[("scope", "openid email")]), Some("invalid_scope"));
        assert_eq!(error(&[("scope", "openid admin")]), Some("invalid_scope"));
        assert_eq!(error(&[("scope", "")]), Some("invalid_scope"));
        assert_eq!(error(&[("prompt", "none login")]), Some("invalid_request"));
        assert_eq!(error(&[("prompt", "always")]), Some("invalid_request"));
        assert_eq!(error(&[("max_age", "-1")]), Some("invalid_request"));
        assert_eq!(error(&[("request", "eyJ")]), Some("request_not_supported"));
        assert_eq!(
            error(&[("response_mode", "fragment")]),
            Some("invalid_request")
        );
        assert_eq!(
            error(&[("nonce", &"n".repeat(MAX_PARAM + 1))]),
            Some("invalid_request")
        );
        assert_eq!(error(&[("state", "a\0b")]), Some("invalid_request"));
    }

    #[test]
    fn a_sign_in_is_fresh_enough_by_prompt_and_max_age() {
        let now = now_ms();
        let request = |prompt: &str, max_age| RequestRow {
            handle_hash: vec![],
            client_id: "app".into(),
            redirect_uri: String::new(),
            scope: "openid".into(),
            state: None,
            nonce: None,
            code_challenge: CHALLENGE.into(),
            prompt: prompt.into(),
            max_age,
            login_hint: None,
            created_at: now,
            expires_at: now + 1,
            pushed: false,
            dpop_jkt: None,
        };
        let at = |secs_ago: i64| now - secs_ago * 1000;
        assert!(fresh_enough(&request("", None), at(86_400)));
        assert!(!fresh_enough(&request("login", None), at(60)));
        assert!(fresh_enough(&request("login", None), at(0)));
        assert!(fresh_enough(&request("", Some(120)), at(60)));
        assert!(!fresh_enough(&request("", Some(30)), at(60)));
    }
}
