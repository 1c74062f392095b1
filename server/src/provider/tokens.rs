//! The token endpoint's decisions (OAuth 2.1 §3.2, OpenID Connect Core
//! §3.1.3): who the app is, what a code or a refresh token is worth, and
//! the tokens it gets: an RFC 9068 access token, an ID token, and with
//! `offline_access` a refresh token that rotates like the board's own.

use std::sync::Arc;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{assertions::AppKeys, authorization::hash, clients::Secrets, scopes};
use crate::{
    auth::{
        dpop::Proven,
        jwt::{Claims, Confirmation, Keys, Purpose, unix_now},
        revocation::Revocations,
        sessions::{Refresh, Sessions},
    },
    config::RateLimit,
    outbound::Outbound,
    store::{
        Db,
        clients::{self, ClientRow},
        grants::{self, CodeRow, Exchange, NewGrant, SignedIn},
        ms, now_ms,
        rows::{Reason, stored_role},
    },
};

/// The longest code verifier (RFC 7636 §4.1); also the shortest is 43.
const VERIFIER: std::ops::RangeInclusive<usize> = 43..=128;

/// An RFC 6749 §5.2 error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenError {
    pub error: &'static str,
    pub description: String,
}

impl TokenError {
    pub fn new(error: &'static str, description: impl Into<String>) -> Self {
        Self {
            error,
            description: description.into(),
        }
    }

    /// The app could not be authenticated (`401`).
    pub fn invalid_client() -> Self {
        Self::new("invalid_client", "The app could not be authenticated.")
    }

    fn invalid_grant(why: &str) -> Self {
        Self::new("invalid_grant", why)
    }
}

/// Why the token endpoint could not answer at all.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("no key can sign ID tokens yet")]
    NoSigningKey,
    /// This instance's view of revocations or keys is out of date.
    #[error("the revocation set or the keys are stale")]
    Stale,
    /// Over the app's refresh budget from this network.
    #[error("too many refreshes; retry in {retry_after_secs} s")]
    Limited { retry_after_secs: u64 },
}

impl From<crate::auth::jwt::NoSigningKey> for ProviderError {
    fn from(_: crate::auth::jwt::NoSigningKey) -> Self {
        Self::NoSigningKey
    }
}

/// How an app presents itself at the token endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub client_id: String,
    /// `client_secret_basic` or `client_secret_post`.
    pub secret: Option<String>,
    /// `private_key_jwt`: a JWT signed by a key of the app's JWKS. With
    /// neither, a public app (`none`).
    pub assertion: Option<String>,
}

/// What the token endpoint answers (RFC 6749 §5.1).
#[derive(Debug, Serialize)]
pub struct Tokens {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

/// The claims of an ID token (OpenID Connect Core §2, §5.1).
#[derive(Debug, Serialize)]
struct IdClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    azp: &'a str,
    exp: u64,
    iat: u64,
    auth_time: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    amr: Vec<&'a str>,
    acr: &'static str,
    sid: &'a str,
    at_hash: String,
    #[serde(flatten)]
    person: PersonClaims,
}

/// The claims about the person that the granted scopes allow: in the ID
/// token and from `userinfo`.
#[derive(Debug, Default, Serialize)]
pub struct PersonClaims {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<classboard::api::Role>,
}

impl PersonClaims {
    /// What `scope` allows of the account with this name, address (and
    /// whether it is confirmed) and role.
    pub fn of_profile(
        (username, email, verified): (&str, &str, bool),
        role: classboard::api::Role,
        scope: &str,
    ) -> Self {
        let profile = scopes::has(scope, "profile");
        let with_email = scopes::has(scope, "email");
        Self {
            preferred_username: profile.then(|| username.to_owned()),
            name: profile.then(|| username.to_owned()),
            email: with_email.then(|| email.to_owned()),
            email_verified: with_email.then_some(verified),
            role: scopes::has(scope, "roles").then_some(role),
        }
    }
}

/// The token endpoint's side of the provider.
#[derive(Clone)]
pub struct TokenIssuer {
    pub(super) db: Db,
    keys: Arc<Keys>,
    issuer: String,
    secrets: Secrets,
    /// The apps' refresh-token families, minted under keys of their own:
    /// a board refresh token is not an app's, nor the other way round.
    grants: Sessions,
    refresh_limit: RateLimit,
    /// This instance's revoked sessions, told at once of a grant ended here.
    revocations: Revocations,
    /// The apps' JWKS, for `private_key_jwt`.
    app_keys: AppKeys,
}

impl TokenIssuer {
    pub fn new(
        db: Db,
        keys: Arc<Keys>,
        issuer: &str,
        server_secret: &[u8],
        (grants, refresh_limit): (Sessions, RateLimit),
        revocations: Revocations,
        outbound: Outbound,
    ) -> Self {
        Self {
            app_keys: AppKeys::new(db.clone(), outbound),
            secrets: Secrets::new(server_secret),
            db,
            keys,
            issuer: issuer.to_owned(),
            grants,
            refresh_limit,
            revocations,
        }
    }

    /// The app `credentials` name, if they authenticate it: a confidential
    /// app by its secret (compared in constant time) or, when it registered
    /// a JWKS, by an assertion signed with a key of it (and then only so), a
    /// public app by its `client_id` alone (its codes are bound to PKCE).
    pub async fn authenticate(
        &self,
        credentials: &Credentials,
    ) -> Result<Result<ClientRow, TokenError>, ProviderError> {
        let Some(client) = clients::by_id(&self.db, &credentials.client_id).await? else {
            return Ok(Err(TokenError::invalid_client()));
        };
        let confidential = client.secret_hash.is_some();
        let good = match (
            &client.secret_hash,
            &credentials.secret,
            &credentials.assertion,
        ) {
            (Some(stored), Some(secret), None) => self.secrets.matches(secret, stored),
            (_, None, Some(assertion)) if confidential => {
                match self
                    .app_keys
                    .verify(&client, assertion, &self.issuer)
                    .await?
                {
                    Ok(()) => true,
                    Err(why) => {
                        tracing::info!(client_id = %client.id, %why, "client assertion refused");
                        false
                    }
                }
            }
            (None, None, None) => true,
            _ => false,
        };
        Ok(if good {
            Ok(client)
        } else {
            Err(TokenError::invalid_client())
        })
    }

    /// `grant_type=authorization_code`. With a DPoP proof (`proven`), the
    /// access token is bound to its key, and so are a public app's refresh
    /// tokens (RFC 9449 §5); a code bound to a key (`dpop_jkt`) needs a
    /// proof of it.
    pub async fn exchange_code(
        &self,
        client: &ClientRow,
        code: &str,
        (redirect_uri, verifier): (Option<&str>, Option<&str>),
        proven: Option<&Proven>,
    ) -> Result<Result<Tokens, TokenError>, ProviderError> {
        if !may_use(client, "authorization_code") {
            return Ok(Err(unauthorized()));
        }
        let Some(verifier) = verifier.filter(|v| well_formed_verifier(v)) else {
            return Ok(Err(TokenError::new(
                "invalid_request",
                "code_verifier is missing or not 43 to 128 unreserved characters (RFC 7636).",
            )));
        };
        let Some(redirect_uri) = redirect_uri else {
            return Ok(Err(TokenError::new(
                "invalid_request",
                "redirect_uri is missing.",
            )));
        };
        // Nothing is spent that cannot be answered: a retry of a code the
        // server could not sign for would look like its reuse.
        if !self.keys_ready() {
            return Err(ProviderError::NoSigningKey);
        }
        let grant_id = uuid::Uuid::new_v4().to_string();
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let check = |code: &CodeRow, consent: Option<&str>| {
            use subtle::ConstantTimeEq;
            // Still allowed: a withdrawal between the code and its
            // exchange wins (a trusted app is not asked).
            let allowed = client.trusted
                || consent.is_some_and(|allowed| scopes::covers(allowed, &code.scope));
            let key_matches = match &code.dpop_jkt {
                Some(bound) => proven.is_some_and(|proven| proven.jkt == *bound),
                None => true,
            };
            code.redirect_uri == redirect_uri
                && bool::from(code.code_challenge.as_bytes().ct_eq(challenge.as_bytes()))
                && allowed
                && key_matches
        };
        let now = now_ms();
        let exchanged = grants::exchange_code(
            &self.db,
            &hash(code),
            now,
            &NewGrant {
                id: &grant_id,
                client_id: &client.id,
                // A confidential app's refresh tokens are bound to its
                // authentication already (RFC 9449 §5).
                dpop_jkt: proven
                    .filter(|_| client.secret_hash.is_none())
                    .map(|proven| proven.jkt.as_str()),
            },
            check,
        )
        .await?;
        let (code, signed_in) = match exchanged {
            Exchange::Started(code, signed_in) => (code, signed_in),
            Exchange::Refused => {
                return Ok(Err(TokenError::invalid_grant(
                    "The redirect_uri, the code_verifier or the DPoP key does not match the code's.",
                )));
            }
            Exchange::Reused(ended) => {
                self.revocations.insert(&ended);
                tracing::warn!(client_id = %client.id, "an authorization code was used twice; its grant ended");
                return Ok(Err(TokenError::invalid_grant("The code was used before.")));
            }
            Exchange::Invalid => {
                return Ok(Err(TokenError::invalid_grant(
                    "The code is unknown, expired or another app's, or its sign-in has ended.",
                )));
            }
        };
        // A refresh token only with `offline_access`, for an app that may
        // refresh. Whether one is due is the code's scope, known once the
        // code is spent: the grant's first token is added then.
        let refresh =
            if scopes::has(&code.scope, "offline_access") && may_use(client, "refresh_token") {
                self.first_refresh_token(&grant_id).await?
            } else {
                None
            };
        let tokens = self
            .tokens(
                client,
                &grant_id,
                (&code.user_id, &code.scope),
                &signed_in,
                Some(IdTokenFor {
                    sid: &code.session_id,
                    nonce: code.nonce.as_deref(),
                }),
                (refresh, proven),
            )
            .await?;
        Ok(Ok(tokens))
    }

    /// Whether the keys an answer needs are there: nothing is spent that
    /// cannot be answered.
    pub(super) fn keys_ready(&self) -> bool {
        self.keys.has_id_key()
    }

    /// The first refresh token of the grant `grant_id`, just started;
    /// `None` when it ended meanwhile.
    pub(super) async fn first_refresh_token(
        &self,
        grant_id: &str,
    ) -> Result<Option<String>, ProviderError> {
        let token = self.grants.mint_token();
        let hash = crate::auth::refresh_token::hash(&token);
        let now = now_ms();
        let ends = now + ms(self.grants.policy().idle);
        Ok(
            grants::add_refresh_token(&self.db, grant_id, &hash, now, ends)
                .await?
                .then_some(token),
        )
    }

    /// `grant_type=client_credentials`: an access token for the app itself
    /// (`sub` is the app), with the scopes an app may have for itself that
    /// it registered: all of them, or those `scope` asks for. No refresh
    /// token, no ID token: there is no person. It lives `ACCESS_TOKEN_TTL`;
    /// removing the app ends it.
    pub fn client_credentials(
        &self,
        client: &ClientRow,
        scope: Option<&str>,
        proven: Option<&Proven>,
    ) -> Result<Result<Tokens, TokenError>, ProviderError> {
        if !may_use(client, "client_credentials") || client.secret_hash.is_none() {
            return Ok(Err(unauthorized()));
        }
        let own: Vec<&str> = scopes::FOR_APPS_THEMSELVES
            .into_iter()
            .filter(|s| scopes::has(&client.scopes, s))
            .collect();
        let granted = match scope {
            None => own.join(" "),
            Some(asked) => {
                let asked: Vec<&str> = asked.split(' ').filter(|s| !s.is_empty()).collect();
                if asked.iter().any(|s| !own.contains(s)) {
                    return Ok(Err(TokenError::new(
                        "invalid_scope",
                        "An app may ask for itself only grades:read, if it registered it.",
                    )));
                }
                scopes::in_order(&asked.join(" ")).join(" ")
            }
        };
        if granted.is_empty() {
            return Ok(Err(TokenError::new(
                "invalid_scope",
                "This app registered no scope it may have for itself (grades:read).",
            )));
        }
        let (access_token, expires_in) = self.keys.issue_for_app(Claims {
            iss: String::new(),
            aud: String::new(),
            sub: client.id.clone(),
            exp: 0,
            iat: 0,
            nbf: None,
            jti: String::new(),
            sid: scopes::own_sid(client),
            // The least role: what an app may do for itself is its scope's.
            role: classboard::api::Role::Student,
            username: String::new(),
            amr: Vec::new(),
            auth_time: 0,
            client_id: Some(client.id.clone()),
            scope: Some(granted.clone()),
            cnf: bound_to(proven),
        })?;
        Ok(Ok(Tokens {
            access_token,
            token_type: token_type(proven),
            expires_in,
            scope: granted,
            id_token: None,
            refresh_token: None,
        }))
    }

    /// `grant_type=refresh_token`: the token rotates exactly as the
    /// board's own (a second use outside the grace window ends the grant);
    /// a token of another app's grant ends that grant, and so does a token
    /// bound to a DPoP key presented without a proof of that key: either
    /// way it has left the app it was issued to.
    pub async fn refresh(
        &self,
        client: &ClientRow,
        presented: &str,
        counter: &str,
        proven: Option<&Proven>,
    ) -> Result<Result<Tokens, TokenError>, ProviderError> {
        if !may_use(client, "refresh_token") {
            return Ok(Err(unauthorized()));
        }
        let invalid = || {
            Ok(Err(TokenError::invalid_grant(
                "The refresh token is not valid.",
            )))
        };
        let issued = match self
            .grants
            .refresh(presented, counter, self.refresh_limit)
            .await?
        {
            Refresh::Rotated(issued, _) | Refresh::Replayed(issued, _) => issued,
            Refresh::Reused { session_id, .. } => {
                self.revocations.insert([&session_id]);
                return Ok(Err(TokenError::invalid_grant(
                    "The refresh token was used before; the grant has ended.",
                )));
            }
            Refresh::EndedByReuse => {
                return Ok(Err(TokenError::invalid_grant(
                    "The refresh token was used before; the grant has ended.",
                )));
            }
            Refresh::Invalid => return invalid(),
            Refresh::Limited(exceeded) => {
                return Err(ProviderError::Limited {
                    retry_after_secs: exceeded.retry_after_secs,
                });
            }
        };
        let Some((grant, signed_in)) =
            grants::grant_and_signed_in(&self.db, &issued.session_id, &issued.user_id).await?
        else {
            return invalid();
        };
        if grant.client_id != client.id {
            // Another app holds this grant's token: it was stolen.
            tracing::warn!(client_id = %client.id, "an app presented another app's refresh token; that grant ended");
            let ended = grants::end_grant(&self.db, &issued.session_id, Reason::Reuse).await?;
            self.revocations.insert(&ended);
            return invalid();
        }
        // A public app's grant is bound to the first key that proves for it
        // (RFC 9449 §5), even if it started without one; from then on each
        // refresh needs a proof of that key. A refresh without one, or with
        // another key's (the loser of two keys racing to bind it too), has
        // left the app: the grant ends with every token of it.
        let keeps_key = match (&grant.dpop_jkt, proven) {
            (Some(bound), proven) => proven.is_some_and(|proven| proven.jkt == *bound),
            (None, Some(proven)) if client.secret_hash.is_none() => {
                crate::store::sessions::bind_key(&self.db, &issued.session_id, &proven.jkt).await?
            }
            (None, _) => true,
        };
        if !keeps_key {
            tracing::warn!(client_id = %client.id, "a refresh token came without a proof of its grant's DPoP key; its grant ended");
            let ended = grants::end_grant(&self.db, &issued.session_id, Reason::Reuse).await?;
            self.revocations.insert(&ended);
            return Ok(Err(TokenError::invalid_grant(
                "The refresh token is bound to another DPoP key; the grant has ended.",
            )));
        }
        let Some(signed_in) = signed_in else {
            return invalid();
        };
        let tokens = self
            .tokens(
                client,
                &issued.session_id,
                (&issued.user_id, &grant.scope),
                &signed_in,
                // No new ID token at a refresh (OpenID Connect Core §12.2
                // allows it): the sign-in it tells of has not changed, and
                // an RS256 signature is most of what a refresh would cost.
                None,
                (Some(issued.refresh_token), proven),
            )
            .await?;
        Ok(Ok(tokens))
    }

    /// The tokens of grant `grant_id` for `user_id` with `scope`: an access
    /// token always (bound to the key of `proven`), an ID token with
    /// `openid` (bound to `nonce` when the request sent one, naming the
    /// person's session `sid`).
    pub(super) async fn tokens(
        &self,
        client: &ClientRow,
        grant_id: &str,
        (user_id, scope): (&str, &str),
        signed_in: &SignedIn,
        id_token_for: Option<IdTokenFor<'_>>,
        (refresh_token, proven): (Option<String>, Option<&Proven>),
    ) -> Result<Tokens, ProviderError> {
        let auth_time = u64::try_from(signed_in.auth_time / 1000).unwrap_or(0);
        let amr: Vec<String> = signed_in.amr.split(' ').map(str::to_owned).collect();
        let (access_token, expires_in) = self.keys.issue_for_app(Claims {
            iss: String::new(),
            aud: String::new(),
            sub: user_id.to_owned(),
            exp: 0,
            iat: 0,
            nbf: None,
            jti: String::new(),
            sid: grant_id.to_owned(),
            role: stored_role(&signed_in.role),
            // The name only where the person allowed the app to see it, or
            // to publish under it.
            username: if scopes::has(scope, "profile") || scopes::has(scope, "posts:write") {
                signed_in.username.clone()
            } else {
                String::new()
            },
            amr: amr.clone(),
            auth_time,
            client_id: Some(client.id.clone()),
            scope: Some(scope.to_owned()),
            cnf: bound_to(proven),
        })?;
        let id_token = if let Some(IdTokenFor { sid, nonce }) = id_token_for
            && scopes::has(scope, "openid")
        {
            // In the algorithm the app registered.
            let purpose = Purpose::for_id_tokens(&client.id_token_signed_response_alg);
            // The account as the exchange read it, in its transaction.
            let person = PersonClaims::of_profile(
                (
                    &signed_in.username,
                    &signed_in.email,
                    signed_in.email_verified,
                ),
                stored_role(&signed_in.role),
                scope,
            );
            let iat = unix_now();
            let claims = IdClaims {
                iss: &self.issuer,
                sub: user_id,
                aud: &client.id,
                azp: &client.id,
                exp: iat + self.keys.ttl().as_secs(),
                iat,
                auth_time,
                nonce,
                amr: amr.iter().map(String::as_str).collect(),
                acr: if amr.iter().any(|m| m == "mfa") {
                    "2"
                } else {
                    "1"
                },
                sid,
                at_hash: left_half_hash(&access_token, purpose),
                person,
            };
            Some(self.keys.sign_with_id_key(purpose, "JWT", &claims)?)
        } else {
            None
        };
        Ok(Tokens {
            access_token,
            token_type: token_type(proven),
            expires_in,
            scope: scope.to_owned(),
            id_token,
            refresh_token,
        })
    }
}

/// What introspection says of a token (RFC 7662 §2.2): `active`, and for an
/// active token what it is.
#[derive(Debug, Default, Serialize)]
pub struct Introspection {
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// The DPoP key a bound access token needs a proof of (RFC 9449 §6.2):
    /// the resource server that asked checks the proof.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
}

impl TokenIssuer {
    /// RFC 7009: `client` revokes a token it was issued. A refresh token
    /// ends its grant; so does an access token (a signed token cannot be
    /// ended alone: its grant is, refresh token included, RFC 7009 §2.1).
    /// Anything else (another app's token, junk, a token already ended)
    /// changes nothing, and is answered alike.
    pub async fn revoke(
        &self,
        client: &ClientRow,
        token: &str,
    ) -> Result<Result<(), TokenError>, ProviderError> {
        let grant_id = match self.grants.unrevoked_session_of(token).await? {
            Some((session_id, _)) => Some(session_id),
            None => {
                let Some(claims) = self
                    .keys
                    .verify(token)
                    .ok()
                    .filter(|claims| claims.client_id.as_deref() == Some(client.id.as_str()))
                else {
                    return Ok(Ok(()));
                };
                // A token the app got for itself cannot be ended alone
                // (replacing the secret ends them all): say so rather than
                // answer "revoked" (RFC 7009 §2.2.1).
                if claims.sid.starts_with(&scopes::own_sid_prefix(&client.id)) {
                    return Ok(Err(TokenError::new(
                        "unsupported_token_type",
                        "A token the app got for itself ends when its secret is replaced or the app is removed.",
                    )));
                }
                Some(claims.sid)
            }
        };
        let Some(grant_id) = grant_id else {
            return Ok(Ok(()));
        };
        let theirs = grants::grant(&self.db, &grant_id)
            .await?
            .is_some_and(|grant| grant.client_id == client.id);
        if theirs {
            let ended = grants::end_grant(&self.db, &grant_id, Reason::Revoked).await?;
            self.revocations.insert(&ended);
        }
        Ok(Ok(()))
    }

    /// RFC 7662: what `token` is, for a confidential app, of its own tokens
    /// only (every app's token is for this server's API, so no other app is
    /// the resource server of it): an access token while valid and its
    /// grant live, a refresh token while live. Another app's token, the
    /// board's own, and anything ended, expired or unknown, are
    /// `{"active": false}` and nothing else.
    pub async fn introspect(
        &self,
        client: &ClientRow,
        token: &str,
    ) -> Result<Result<Introspection, TokenError>, ProviderError> {
        if client.secret_hash.is_none() {
            return Ok(Err(TokenError::new(
                "unauthorized_client",
                "Only a confidential app may introspect tokens.",
            )));
        }
        if let Ok(claims) = self.keys.verify(token) {
            // As the API does: with a stale view of revocations this
            // instance cannot tell a revoked token from a live one.
            if !self.revocations.is_fresh() || !self.keys.is_fresh() {
                return Err(ProviderError::Stale);
            }
            let live = claims.client_id.as_deref() == Some(client.id.as_str())
                && !self.revocations.is_revoked(&claims.sid);
            if !live {
                return Ok(Ok(Introspection::default()));
            }
            return Ok(Ok(Introspection {
                active: true,
                scope: claims.scope,
                client_id: claims.client_id,
                username: Some(claims.username).filter(|u| !u.is_empty()),
                token_type: Some(if claims.cnf.is_some() {
                    "DPoP"
                } else {
                    "Bearer"
                }),
                exp: Some(claims.exp),
                iat: Some(claims.iat),
                sub: Some(claims.sub),
                aud: Some(claims.aud),
                iss: Some(claims.iss),
                jti: Some(claims.jti),
                cnf: claims.cnf,
            }));
        }
        let Some(state) = self.grants.live_token(token).await? else {
            return Ok(Ok(Introspection::default()));
        };
        let Some(grant) = grants::grant(&self.db, &state.session_id).await? else {
            return Ok(Ok(Introspection::default()));
        };
        if grant.client_id != client.id {
            return Ok(Ok(Introspection::default()));
        }
        Ok(Ok(Introspection {
            active: true,
            scope: Some(grant.scope),
            client_id: Some(grant.client_id),
            token_type: Some("refresh_token"),
            cnf: grant.dpop_jkt.map(|jkt| Confirmation { jkt }),
            exp: u64::try_from(state.expires_at / 1000).ok(),
            sub: Some(state.user_id),
            iss: Some(self.issuer.clone()),
            ..Introspection::default()
        }))
    }
}

/// What an ID token is issued for: the person's session on this site
/// (`sid`), and the request's `nonce`.
pub(super) struct IdTokenFor<'a> {
    pub(super) sid: &'a str,
    pub(super) nonce: Option<&'a str>,
}

/// `at_hash`: the left half of the SHA-256 of the access token, base64url
/// (OpenID Connect Core §3.1.3.6; SHA-256 for RS256).
/// `at_hash` (OpenID Connect Core §3.1.3.6): the left half of the access
/// token's hash by the hash of the ID token's algorithm: SHA-256 for RS256
/// and ES256, SHA-512 for EdDSA (Ed25519 signs with SHA-512).
fn left_half_hash(token: &str, purpose: Purpose) -> String {
    match purpose {
        Purpose::IdEdDsa => {
            let digest = sha2::Sha512::digest(token.as_bytes());
            URL_SAFE_NO_PAD.encode(&digest[..32])
        }
        _ => {
            let digest = Sha256::digest(token.as_bytes());
            URL_SAFE_NO_PAD.encode(&digest[..16])
        }
    }
}

fn well_formed_verifier(verifier: &str) -> bool {
    VERIFIER.contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// `cnf` of an access token issued with a proof of `proven`'s key.
fn bound_to(proven: Option<&Proven>) -> Option<Confirmation> {
    proven.map(|proven| Confirmation {
        jkt: proven.jkt.clone(),
    })
}

/// `token_type` of an access token issued with or without a DPoP proof.
fn token_type(proven: Option<&Proven>) -> &'static str {
    if proven.is_some() { "DPoP" } else { "Bearer" }
}

pub(super) fn may_use(client: &ClientRow, grant: &str) -> bool {
    client.grant_types.split(' ').any(|g| g == grant)
}

fn unauthorized() -> TokenError {
    TokenError::new("unauthorized_client", "This app may not use this grant.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_is_the_left_half_of_sha256() {
        // OpenID Connect Core's example is for RS256 too.
        assert_eq!(
            left_half_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y", Purpose::Id),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
    }

    #[test]
    fn a_verifier_is_43_to_128_unreserved_characters() {
        assert!(well_formed_verifier(&"a".repeat(43)));
        assert!(well_formed_verifier(&"a-._~".repeat(25)));
        assert!(!well_formed_verifier(&"a".repeat(42)));
        assert!(!well_formed_verifier(&"a".repeat(129)));
        assert!(!well_formed_verifier(&format!("{}+", "a".repeat(43))));
    }
}
