//! Access tokens: RFC 9068-shaped JWTs (`typ: at+jwt`) signed by the active
//! key of a ring and verified by whichever key of the ring their `kid` names
//! (see `auth::keys` for the ring's life). Verification needs no database:
//! signature, algorithm, key id, type, issuer, audience and lifetime are all
//! checked here against the ring in memory.

use std::{
    collections::HashMap,
    path::Path,
    sync::{Arc, RwLock},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use classboard::api::Role;
use jsonwebtoken::{
    Algorithm, DecodingKey, EncodingKey, Header, Validation,
    errors::ErrorKind,
    jwk::{Jwk, JwkSet, KeyAlgorithm, PublicKeyUse, ThumbprintHash},
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// `iss` of every token this server issues.
pub const ISSUER: &str = "classboard";
/// `aud` of every token: the API.
pub const AUDIENCE: &str = "classboard-api";
/// The JWT `typ` header of access tokens (RFC 9068 §2.1).
pub const TOKEN_TYPE: &str = "at+jwt";
/// Clock skew tolerated on `exp` and `nbf`, in seconds.
pub const LEEWAY_SECS: u64 = 5;

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// The user's id.
    pub sub: String,
    pub exp: u64,
    pub iat: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    pub jti: String,
    /// The session (refresh-token family) the token was issued for.
    pub sid: String,
    pub role: Role,
    /// Absent from an app's token whose scope allows neither `profile`
    /// nor `posts:write`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub username: String,
    /// How the session's holder signed in (RFC 8176 values). Absent from
    /// tokens of earlier versions, which were all password sign-ins.
    #[serde(default)]
    pub amr: Vec<String>,
    /// When the session's sign-in happened (seconds); 0 in tokens of
    /// earlier versions.
    #[serde(default)]
    pub auth_time: u64,
    /// The app the token was issued to (RFC 9068 §2.2); absent from the
    /// board's own tokens, whose rights are their role's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// What the person allowed the app (space-separated); the API refuses
    /// an app's token anything its scope does not name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The DPoP key the token is bound to (RFC 9449 §6): it works only with
    /// a proof signed by that key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
}

/// `cnf` (RFC 7800) of a DPoP-bound token: its key's RFC 7638 thumbprint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    pub jkt: String,
}

/// Why a presented access token was refused. The `Display` text is safe to
/// send back in `error_description`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("The access token is malformed.")]
    Malformed,
    #[error("The access token has expired.")]
    Expired,
    #[error("The access token is not valid yet.")]
    NotYetValid,
    #[error("The access token's signature or algorithm is not accepted.")]
    BadSignature,
    #[error("The access token was signed with an unknown key.")]
    UnknownKey,
    #[error("The token is not an access token.")]
    WrongType,
    #[error("The access token was issued for another issuer or audience.")]
    WrongIssuerOrAudience,
    #[error("The session of this access token has ended.")]
    Revoked,
    #[error("This access token is bound to a DPoP key: send it as DPoP, with a proof of that key.")]
    NeedsProof,
    #[error("This access token is not bound to a DPoP key: send it as a bearer token.")]
    NotBound,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read or write {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{0} does not hold a usable key: {1}")]
    Invalid(String, jsonwebtoken::errors::Error),
    #[error("{0}")]
    Missing(&'static str),
    #[error(transparent)]
    File(#[from] crate::files::FileError),
}

/// One key of the ring, loaded: what verifies with it, what signs with it,
/// and the public half a verifier may fetch (asymmetric keys only).
#[derive(Clone)]
pub struct Key {
    alg: Algorithm,
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    jwk: Option<Jwk>,
}

impl Key {
    /// HS256 with a shared secret. The key id is derived from the secret by
    /// a one-way hash, so it names the key without revealing it, and no
    /// public key is published.
    pub fn hs256(secret: &[u8]) -> Self {
        let digest = Sha256::new_with_prefix(b"classboard kid\0")
            .chain_update(secret)
            .finalize();
        let kid = URL_SAFE_NO_PAD.encode(&digest[..12]);
        Self::build(
            Algorithm::HS256,
            kid,
            EncodingKey::from_secret(secret),
            DecodingKey::from_secret(secret),
            None,
        )
    }

    /// EdDSA (Ed25519) from a PKCS#8 PEM private key.
    pub fn eddsa(pem: &[u8], source: &str) -> Result<Self, KeyError> {
        let invalid = |e| KeyError::Invalid(source.to_owned(), e);
        let encoding = EncodingKey::from_ed_pem(pem).map_err(invalid)?;
        let jwk = Jwk::from_encoding_key(&encoding, Algorithm::EdDSA).map_err(invalid)?;
        let decoding = DecodingKey::from_jwk(&jwk).map_err(invalid)?;
        Self::asymmetric(Algorithm::EdDSA, encoding, decoding, jwk).map_err(invalid)
    }

    /// RS256 from a PEM private key (PKCS#1 or PKCS#8).
    pub fn rs256(pem: &[u8], source: &str) -> Result<Self, KeyError> {
        let invalid = |e| KeyError::Invalid(source.to_owned(), e);
        let encoding = EncodingKey::from_rsa_pem(pem).map_err(invalid)?;
        let jwk = Jwk::from_encoding_key(&encoding, Algorithm::RS256).map_err(invalid)?;
        let decoding = DecodingKey::from_jwk(&jwk).map_err(invalid)?;
        Self::asymmetric(Algorithm::RS256, encoding, decoding, jwk).map_err(invalid)
    }

    /// ES256 (P-256) from a PKCS#8 DER private key.
    pub fn es256(der: &[u8], source: &str) -> Result<Self, KeyError> {
        let invalid = |e| KeyError::Invalid(source.to_owned(), e);
        let encoding = EncodingKey::from_ec_der(der);
        let jwk = Jwk::from_encoding_key(&encoding, Algorithm::ES256).map_err(invalid)?;
        let decoding = DecodingKey::from_jwk(&jwk).map_err(invalid)?;
        Self::asymmetric(Algorithm::ES256, encoding, decoding, jwk).map_err(invalid)
    }

    fn asymmetric(
        alg: Algorithm,
        encoding: EncodingKey,
        decoding: DecodingKey,
        mut jwk: Jwk,
    ) -> Result<Self, jsonwebtoken::errors::Error> {
        // RFC 7638 thumbprint: a stable id that any verifier can recompute.
        let kid = jwk.thumbprint(ThumbprintHash::SHA256)?;
        jwk.common.key_id = Some(kid.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        jwk.common.key_algorithm = Some(match alg {
            Algorithm::EdDSA => KeyAlgorithm::EdDSA,
            Algorithm::ES256 => KeyAlgorithm::ES256,
            _ => KeyAlgorithm::RS256,
        });
        Ok(Self::build(alg, kid, encoding, decoding, Some(jwk)))
    }

    fn build(
        alg: Algorithm,
        kid: String,
        encoding: EncodingKey,
        decoding: DecodingKey,
        jwk: Option<Jwk>,
    ) -> Self {
        let mut validation = Validation::new(alg);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        // The issuer depends on whom the token was issued to (the board's
        // own tokens name `ISSUER`, an app's the provider's issuer): checked
        // after decoding, in `Keys::verify_with`.
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        Self {
            alg,
            kid,
            encoding,
            decoding,
            validation,
            jwk,
        }
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public half as a JWK (`None` for HS256, which publishes nothing).
    pub fn public_jwk(&self) -> Option<&Jwk> {
        self.jwk.as_ref()
    }
}

/// What a key of the ring signs. Every key verifies the tokens it signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// Access tokens, the board's own (`JWT_ALG`) and, when that algorithm
    /// is asymmetric, the apps'.
    Access,
    /// ID tokens in RS256 (which every OpenID relying party supports, and
    /// the default), and the apps' access tokens when `JWT_ALG` is HS256:
    /// an app's token must be verifiable by anyone with the JWKS.
    Id,
    /// ID tokens of the apps that registered `EdDSA`.
    IdEdDsa,
    /// ID tokens of the apps that registered `ES256`.
    IdEs256,
}

impl Purpose {
    pub const ALL: [Self; 4] = [Self::Access, Self::Id, Self::IdEdDsa, Self::IdEs256];
    /// The purposes of ID keys, one per algorithm an app may register.
    pub const ID: [Self; 3] = [Self::Id, Self::IdEdDsa, Self::IdEs256];

    /// As the `signing_keys` table stores it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Access => "access",
            Self::Id => "id",
            Self::IdEdDsa => "id:EdDSA",
            Self::IdEs256 => "id:ES256",
        }
    }

    /// Whether its keys sign ID tokens (never a board token).
    pub fn is_id(self) -> bool {
        self != Self::Access
    }

    /// The ID keys for an app's `id_token_signed_response_alg` (`RS256`,
    /// `EdDSA`, `ES256`); RS256 for anything else.
    pub fn for_id_tokens(alg: &str) -> Self {
        match alg {
            "EdDSA" => Self::IdEdDsa,
            "ES256" => Self::IdEs256,
            _ => Self::Id,
        }
    }

    pub fn parse(stored: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == stored)
    }
}

/// Where a key of the ring is in its life. Every one of them verifies; only
/// the active one signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// In JWKS ahead of signing, so verifiers have it before its tokens.
    Published,
    Active,
    /// Verifies the tokens it signed until they expire.
    Retired,
}

/// The keys this process signs and verifies with: the ring as the database
/// last said, swapped whole when it changes.
pub struct Keys {
    ring: RwLock<Arc<Ring>>,
    ttl: Duration,
    /// When the ring was last read from the database (ms after `started`),
    /// if a `KeyRing` keeps it current; see [`Keys::is_fresh`].
    current_at: std::sync::atomic::AtomicU64,
    watched: std::sync::atomic::AtomicBool,
    started: std::time::Instant,
    /// The provider's issuer, which the apps' tokens name (set once at
    /// start; until then no app token verifies).
    app_issuer: std::sync::OnceLock<String>,
}

/// How long a watched ring may go unread before this process stops
/// trusting it: past this, a key revoked meanwhile might still verify here.
pub const RING_STALE_AFTER: Duration = Duration::from_secs(5);

#[derive(Default)]
struct Ring {
    /// The kid of the key that signs access tokens, if any.
    active: Option<String>,
    /// The kid of the key that signs ID tokens, per ID purpose.
    active_ids: HashMap<Purpose, String>,
    keys: HashMap<String, Key>,
    jwks: JwkSet,
    /// The kids of the ID keys: what they signed is an app's, never a
    /// board token.
    id_kids: std::collections::HashSet<String>,
    /// Tokens these keys verified lately. A new ring starts with none, so a
    /// key taken out of the ring verifies nothing more from here either.
    verified: Verified,
}

/// How many verified tokens a ring keeps.
const VERIFIED_KEPT: usize = 4096;

/// Access tokens verified lately, by their whole text, with their claims.
///
/// A client presents the same token with every request for the token's
/// life; checking it again costs more than the rest of a request like
/// `GET /api/me` (the header is decoded three times over and the claims
/// twice by the library, and the HMAC key is set up anew). The same text
/// verified by the same ring verifies again as long as its time allows, so
/// a token found here is only checked against the clock. Only tokens that
/// verified are kept: an attacker without one cannot fill this, and one
/// with many only sends verification back to the library's full work.
#[derive(Default)]
struct Verified {
    by_token: RwLock<HashMap<Box<str>, Claims>>,
}

impl Verified {
    /// The claims of `token` if it verified lately and is still within its
    /// time at `now` (seconds), as the library would judge it.
    fn get(&self, token: &str, now: u64) -> Option<Claims> {
        let kept = self.by_token.read().unwrap_or_else(|e| e.into_inner());
        let claims = kept.get(token)?;
        let timely = claims.exp.saturating_add(LEEWAY_SECS) >= now
            && claims
                .nbf
                .is_none_or(|nbf| nbf <= now.saturating_add(LEEWAY_SECS));
        timely.then(|| claims.clone())
    }

    /// Keeps `token`, which just verified; when full, starts again, which
    /// costs one full verification per token in use.
    fn keep(&self, token: &str, claims: &Claims) {
        let mut kept = self.by_token.write().unwrap_or_else(|e| e.into_inner());
        if kept.len() >= VERIFIED_KEPT {
            kept.clear();
        }
        kept.insert(token.into(), claims.clone());
    }
}

/// Whom an ID token was for, as an `id_token_hint` tells it.
#[derive(Debug, Clone, Deserialize)]
pub struct IdTokenHint {
    pub sub: String,
    /// The app (`aud` is one app: the ID tokens of this server name one).
    pub aud: String,
    /// The person's session on this site it was issued in.
    #[serde(default)]
    pub sid: Option<String>,
}

/// No key is active (only between an operator revoking the active key and
/// the ring's next change): no token can be signed.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("no signing key is active")]
pub struct NoSigningKey;

impl Keys {
    /// An empty ring: verifies nothing, signs nothing, until [`Keys::replace`].
    pub fn new(ttl: Duration) -> Self {
        super::rs256::install();
        Self {
            ring: RwLock::new(Arc::new(Ring {
                jwks: JwkSet { keys: vec![] },
                ..Ring::default()
            })),
            ttl,
            current_at: std::sync::atomic::AtomicU64::new(0),
            watched: std::sync::atomic::AtomicBool::new(false),
            started: std::time::Instant::now(),
            app_issuer: std::sync::OnceLock::new(),
        }
    }

    /// Sets the provider's issuer (once; a second call changes nothing).
    pub fn set_app_issuer(&self, issuer: &str) {
        let _ = self.app_issuer.set(issuer.to_owned());
    }

    /// The ring was just read from the database, whether or not it changed.
    pub fn mark_current(&self) {
        use std::sync::atomic::Ordering;
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.current_at.store(ms, Ordering::Relaxed);
        self.watched.store(true, Ordering::Relaxed);
    }

    /// Whether the keys can be trusted to match the database: always for a
    /// ring nobody keeps current (tests, the verifier's own), else when it
    /// was read within [`RING_STALE_AFTER`].
    pub fn is_fresh(&self) -> bool {
        use std::sync::atomic::Ordering;
        if !self.watched.load(Ordering::Relaxed) {
            return true;
        }
        let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let at = self.current_at.load(Ordering::Relaxed);
        now.saturating_sub(at) <= u64::try_from(RING_STALE_AFTER.as_millis()).unwrap_or(u64::MAX)
    }

    /// A ring of one key, active.
    pub fn single(key: Key, ttl: Duration) -> Self {
        let keys = Self::new(ttl);
        keys.replace(vec![(key, KeyState::Active, Purpose::Access)]);
        keys
    }

    /// HS256 with one shared secret (a ring of that one key).
    pub fn hs256(secret: &[u8], ttl: Duration) -> Self {
        Self::single(Key::hs256(secret), ttl)
    }

    /// Replaces the ring. The first active key of each purpose signs.
    pub fn replace(&self, keys: Vec<(Key, KeyState, Purpose)>) {
        let active = |purpose| {
            keys.iter()
                .find(|(_, state, p)| *state == KeyState::Active && *p == purpose)
                .map(|(key, _, _)| key.kid.clone())
        };
        let active_ids = Purpose::ID
            .into_iter()
            .filter_map(|purpose| Some((purpose, active(purpose)?)))
            .collect();
        let active = active(Purpose::Access);
        let id_kids = keys
            .iter()
            .filter(|(_, _, p)| p.is_id())
            .map(|(key, _, _)| key.kid.clone())
            .collect();
        let jwks = JwkSet {
            keys: keys
                .iter()
                .filter_map(|(key, _, _)| key.jwk.clone())
                .collect(),
        };
        let ring = Ring {
            active,
            active_ids,
            id_kids,
            keys: keys
                .into_iter()
                .map(|(key, _, _)| (key.kid.clone(), key))
                .collect(),
            jwks,
            verified: Verified::default(),
        };
        *self.ring.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(ring);
    }

    fn ring(&self) -> Arc<Ring> {
        self.ring.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The public keys, for `/.well-known/jwks.json`: every published,
    /// active and retired asymmetric key (none with HS256).
    pub fn jwks(&self) -> JwkSet {
        self.ring().jwks.clone()
    }

    /// The kid that signs now.
    pub fn active_kid(&self) -> Option<String> {
        self.ring().active.clone()
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Signs an access token for `user_id` in session `sid`, signed in by
    /// password just now, with the active key.
    pub fn issue(
        &self,
        user_id: &str,
        username: &str,
        role: Role,
        sid: &str,
    ) -> Result<String, NoSigningKey> {
        self.issue_signed_in(
            (user_id, username, role),
            sid,
            (&["pwd".to_owned()], unix_now()),
            None,
        )
    }

    /// Signs an access token for `user_id` in session `sid`, whose holder
    /// signed in with `amr` at `auth_time` (seconds), with the active key.
    pub fn issue_signed_in(
        &self,
        (user_id, username, role): (&str, &str, Role),
        sid: &str,
        (amr, auth_time): (&[String], u64),
        cnf: Option<Confirmation>,
    ) -> Result<String, NoSigningKey> {
        let ring = self.ring();
        let key = ring
            .active
            .as_ref()
            .and_then(|kid| ring.keys.get(kid))
            .ok_or(NoSigningKey)?;
        let iat = unix_now();
        let claims = Claims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub: user_id.into(),
            exp: iat + self.ttl.as_secs(),
            iat,
            nbf: None,
            jti: uuid::Uuid::new_v4().to_string(),
            sid: sid.into(),
            role,
            username: username.into(),
            amr: amr.to_vec(),
            auth_time,
            client_id: None,
            scope: None,
            cnf,
        };
        let mut header = Header::new(key.alg);
        header.typ = Some(TOKEN_TYPE.into());
        header.kid = Some(key.kid.clone());
        Ok(jsonwebtoken::encode(&header, &claims, &key.encoding)
            .expect("a loaded key signs any claims"))
    }

    /// Signs an app's access token (RFC 9068) with claims made here from
    /// `claims` (whose `iss`, `aud`, `exp`, `iat` and `jti` are set here):
    /// by the access key when it is asymmetric, else by the ID key, so that
    /// anyone holding the JWKS can verify it. Returns it with its lifetime.
    pub fn issue_for_app(&self, mut claims: Claims) -> Result<(String, u64), NoSigningKey> {
        let ring = self.ring();
        let access = ring.active.as_ref().and_then(|kid| ring.keys.get(kid));
        let key = match access {
            Some(key) if key.alg != Algorithm::HS256 => key,
            _ => ring.id_key(Purpose::Id).ok_or(NoSigningKey)?,
        };
        let iat = unix_now();
        claims.iss = self.app_issuer.get().ok_or(NoSigningKey)?.clone();
        claims.aud = AUDIENCE.into();
        claims.iat = iat;
        claims.exp = iat + self.ttl.as_secs();
        claims.jti = uuid::Uuid::new_v4().to_string();
        let mut header = Header::new(key.alg);
        header.typ = Some(TOKEN_TYPE.into());
        header.kid = Some(key.kid.clone());
        let token = jsonwebtoken::encode(&header, &claims, &key.encoding)
            .expect("a loaded key signs any claims");
        Ok((token, self.ttl.as_secs()))
    }

    /// Signs `claims` as a JWT of type `typ` with the active ID key of
    /// `purpose` (ID tokens, logout tokens).
    pub fn sign_with_id_key(
        &self,
        purpose: Purpose,
        typ: &str,
        claims: &impl Serialize,
    ) -> Result<String, NoSigningKey> {
        // Access tokens are made by `issue` and `issue_for_app` only.
        assert_ne!(typ, TOKEN_TYPE, "the ID key signs no access token this way");
        let ring = self.ring();
        let key = ring.id_key(purpose).ok_or(NoSigningKey)?;
        let mut header = Header::new(key.alg);
        header.typ = Some(typ.into());
        header.kid = Some(key.kid.clone());
        Ok(jsonwebtoken::encode(&header, claims, &key.encoding)
            .expect("a loaded key signs any claims"))
    }

    /// Whether an ID key of every ID algorithm is active and the
    /// provider's issuer known: the provider can answer every app.
    pub fn has_id_key(&self) -> bool {
        let ring = self.ring();
        Purpose::ID.iter().all(|p| ring.id_key(*p).is_some()) && self.app_issuer.get().is_some()
    }

    /// What an ID token this server issued says of whom it was for, when
    /// `token` is one: signed by an ID key of the ring (of type `JWT`, so
    /// neither an access nor a logout token), naming the provider's issuer.
    /// Its time is not checked: an `id_token_hint` may have expired
    /// (OpenID Connect RP-Initiated Logout 1.0 §2).
    pub fn verify_id_token_hint(&self, token: &str) -> Option<IdTokenHint> {
        let ring = self.ring();
        let header = jsonwebtoken::decode_header(token).ok()?;
        let kid = header.kid.as_deref()?;
        let key = ring.keys.get(kid).filter(|_| ring.id_kids.contains(kid))?;
        if header.alg != key.alg || header.typ.as_deref() != Some("JWT") {
            return None;
        }
        let mut validation = Validation::new(key.alg);
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["iss", "sub", "aud"]);
        validation.set_issuer(&[self.app_issuer.get()?]);
        jsonwebtoken::decode::<IdTokenHint>(token, &key.decoding, &validation)
            .ok()
            .map(|data| data.claims)
    }

    /// Verifies everything about `token` that needs no database.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let ring = self.ring();
        if let Some(claims) = ring.verified.get(token, unix_now()) {
            return Ok(claims);
        }
        let claims = Self::verify_with(&ring, token, self.app_issuer.get())?;
        ring.verified.keep(token, &claims);
        Ok(claims)
    }

    /// [`Keys::verify`] by the library, every check made.
    fn verify_with(
        ring: &Ring,
        token: &str,
        app_issuer: Option<&String>,
    ) -> Result<Claims, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        let Some(key) = header.kid.as_deref().and_then(|kid| ring.keys.get(kid)) else {
            return Err(TokenError::UnknownKey);
        };
        // The key decides the algorithm, never the token: `none`, or an
        // HMAC signed with a public key, end here.
        if header.alg != key.alg {
            return Err(TokenError::BadSignature);
        }
        if header
            .typ
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
            != Some(TOKEN_TYPE)
        {
            return Err(TokenError::WrongType);
        }
        let data =
            jsonwebtoken::decode::<Claims>(token, &key.decoding, &key.validation).map_err(|e| {
                match e.kind() {
                    ErrorKind::ExpiredSignature => TokenError::Expired,
                    ErrorKind::ImmatureSignature => TokenError::NotYetValid,
                    ErrorKind::InvalidIssuer | ErrorKind::InvalidAudience => {
                        TokenError::WrongIssuerOrAudience
                    }
                    ErrorKind::InvalidSignature
                    | ErrorKind::InvalidAlgorithm
                    | ErrorKind::InvalidAlgorithmName => TokenError::BadSignature,
                    _ => TokenError::Malformed,
                }
            })?;
        let issuer_known = match data.claims.client_id {
            // A board token is never signed by an ID key.
            None => data.claims.iss == ISSUER && !ring.id_kids.contains(&key.kid),
            Some(_) => Some(&data.claims.iss) == app_issuer,
        };
        if !issuer_known {
            return Err(TokenError::WrongIssuerOrAudience);
        }
        Ok(data.claims)
    }
}

impl Ring {
    fn id_key(&self, purpose: Purpose) -> Option<&Key> {
        self.active_ids
            .get(&purpose)
            .and_then(|kid| self.keys.get(kid))
    }
}

/// A new Ed25519 private key, PKCS#8 PEM, from 256 random bits.
pub fn new_ed25519_pem() -> Vec<u8> {
    let mut der = ED25519_PKCS8_PREFIX.to_vec();
    let mut seed = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut seed);
    der.extend_from_slice(&seed);
    format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(&der)
    )
    .into_bytes()
}

/// The Ed25519 key an earlier version kept in the data folder, if there is
/// one (refused if other users can read it).
pub fn kept_ed25519(path: &Path) -> Result<Option<Vec<u8>>, KeyError> {
    if !path.exists() {
        return Ok(None);
    }
    Ok(Some(crate::files::read_private(path)?))
}

/// DER of PKCS#8 v1 `PrivateKeyInfo` for Ed25519 up to the 32-byte seed (RFC 8410 §7).
const ED25519_PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef-test";

    fn hs() -> Keys {
        Keys::hs256(SECRET, Duration::from_secs(900))
    }

    fn parts(token: &str) -> Vec<String> {
        token.split('.').map(str::to_owned).collect()
    }

    fn json_part(part: &str) -> serde_json::Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    fn b64(v: &serde_json::Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    }

    #[test]
    fn issued_tokens_have_the_rfc_9068_shape_and_verify() {
        let keys = hs();
        let token = keys
            .issue("user-1", "ada", Role::Teacher, "sess-1")
            .unwrap();
        let p = parts(&token);
        let header = json_part(&p[0]);
        assert_eq!(header["alg"], "HS256");
        assert_eq!(header["typ"], "at+jwt");
        assert!(header["kid"].is_string());
        let claims = keys.verify(&token).unwrap();
        assert_eq!(
            (claims.sub.as_str(), claims.sid.as_str(), claims.role),
            ("user-1", "sess-1", Role::Teacher)
        );
        assert_eq!(
            (claims.iss.as_str(), claims.aud.as_str()),
            (ISSUER, AUDIENCE)
        );
        assert_eq!(claims.exp - claims.iat, 900);
        assert!(!claims.jti.is_empty());
    }

    #[test]
    fn alg_none_is_refused() {
        let keys = hs();
        let p = parts(&keys.issue("u", "ada", Role::Admin, "s").unwrap());
        let mut header = json_part(&p[0]);
        header["alg"] = "none".into();
        for token in [
            format!("{}.{}.", b64(&header), p[1]),
            format!("{}.{}", b64(&header), p[1]),
        ] {
            assert!(keys.verify(&token).is_err(), "{token}");
        }
    }

    #[test]
    fn a_tampered_payload_or_header_is_refused() {
        let keys = hs();
        let p = parts(&keys.issue("u", "ada", Role::Student, "s").unwrap());
        let mut claims = json_part(&p[1]);
        claims["role"] = "admin".into();
        let forged = format!("{}.{}.{}", p[0], b64(&claims), p[2]);
        assert_eq!(keys.verify(&forged), Err(TokenError::BadSignature));

        // Same header, re-encoded differently (key order): the signature no longer covers it.
        let header = json_part(&p[0]);
        let reordered = format!(
            r#"{{"typ":"at+jwt","kid":{},"alg":"HS256"}}"#,
            header["kid"]
        );
        let forged = format!("{}.{}.{}", URL_SAFE_NO_PAD.encode(reordered), p[1], p[2]);
        assert_eq!(keys.verify(&forged), Err(TokenError::BadSignature));
    }

    #[test]
    fn a_token_verified_before_is_still_refused_when_forged_or_its_key_leaves() {
        let keys = hs();
        let token = keys.issue("u", "ada", Role::Student, "s").unwrap();
        assert!(keys.verify(&token).is_ok());
        assert!(keys.verify(&token).is_ok(), "and again, from the kept ones");

        // Text that differs anywhere is another token, checked in full.
        let p = parts(&token);
        let mut claims = json_part(&p[1]);
        claims["role"] = "admin".into();
        let forged = format!("{}.{}.{}", p[0], b64(&claims), p[2]);
        assert_eq!(keys.verify(&forged), Err(TokenError::BadSignature));
        let first = if p[2].starts_with('A') { "B" } else { "A" };
        let signature = format!("{first}{}", &p[2][1..]);
        assert_eq!(
            keys.verify(&format!("{}.{}.{signature}", p[0], p[1])),
            Err(TokenError::BadSignature)
        );

        // A ring without the key that signed it verifies it no more.
        keys.replace(vec![(
            Key::hs256(b"the-next-secret-the-next-secret-0123"),
            KeyState::Active,
            Purpose::Access,
        )]);
        assert_eq!(keys.verify(&token), Err(TokenError::UnknownKey));
    }

    #[test]
    fn a_kept_token_is_judged_by_the_clock_as_the_library_judges_it() {
        let kept = Verified::default();
        let claims = |exp, nbf| Claims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub: "u".into(),
            exp,
            iat: 0,
            nbf,
            jti: "j".into(),
            sid: "s".into(),
            role: Role::Student,
            username: "ada".into(),
            amr: vec![],
            auth_time: 0,
            client_id: None,
            scope: None,
            cnf: None,
        };
        kept.keep("a", &claims(1_000, None));
        assert!(
            kept.get("a", 1_000 + LEEWAY_SECS).is_some(),
            "within the leeway"
        );
        assert!(kept.get("a", 1_000 + LEEWAY_SECS + 1).is_none(), "expired");
        // A clock that jumps back before the token's start.
        kept.keep("b", &claims(2_000, Some(1_500)));
        assert!(kept.get("b", 1_500 - LEEWAY_SECS).is_some());
        assert!(
            kept.get("b", 1_500 - LEEWAY_SECS - 1).is_none(),
            "not yet valid"
        );
        assert!(kept.get("c", 0).is_none(), "never verified");
        // Bounded: a full store starts again.
        for n in 0..VERIFIED_KEPT + 10 {
            kept.keep(&n.to_string(), &claims(1_000, None));
        }
        assert!(kept.by_token.read().unwrap().len() <= VERIFIED_KEPT);
    }

    #[test]
    fn a_token_from_another_secret_or_key_id_is_refused() {
        let other = Keys::hs256(
            b"another-secret-another-secret-another",
            Duration::from_secs(900),
        );
        let token = other.issue("u", "ada", Role::Student, "s").unwrap();
        assert_eq!(hs().verify(&token), Err(TokenError::UnknownKey));
    }

    #[test]
    fn an_expired_token_is_refused_after_the_leeway() {
        let keys = hs();
        let now = unix_now();
        let claims = Claims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub: "u".into(),
            exp: now - LEEWAY_SECS - 2,
            iat: now - 100,
            nbf: None,
            jti: "j".into(),
            sid: "s".into(),
            role: Role::Student,
            username: "ada".into(),
            amr: vec!["pwd".into()],
            auth_time: now - 100,
            client_id: None,
            scope: None,
            cnf: None,
        };
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some(TOKEN_TYPE.into());
        header.kid = keys.active_kid();
        let token =
            jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(SECRET)).unwrap();
        assert_eq!(keys.verify(&token), Err(TokenError::Expired));

        let fresh_enough = Claims {
            exp: now - 1,
            ..claims.clone()
        };
        let token = jsonwebtoken::encode(&header, &fresh_enough, &EncodingKey::from_secret(SECRET))
            .unwrap();
        assert!(keys.verify(&token).is_ok(), "within the 5 s leeway");

        let future = Claims {
            exp: now + 100,
            nbf: Some(now + 60),
            ..claims.clone()
        };
        let token =
            jsonwebtoken::encode(&header, &future, &EncodingKey::from_secret(SECRET)).unwrap();
        assert_eq!(keys.verify(&token), Err(TokenError::NotYetValid));

        let wrong_aud = Claims {
            exp: now + 100,
            aud: "someone-else".into(),
            ..claims.clone()
        };
        let token =
            jsonwebtoken::encode(&header, &wrong_aud, &EncodingKey::from_secret(SECRET)).unwrap();
        assert_eq!(keys.verify(&token), Err(TokenError::WrongIssuerOrAudience));

        let mut id_token = header.clone();
        id_token.typ = Some("JWT".into());
        let token = jsonwebtoken::encode(
            &id_token,
            &Claims {
                exp: now + 100,
                ..claims
            },
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap();
        assert_eq!(keys.verify(&token), Err(TokenError::WrongType));
    }

    #[test]
    fn eddsa_keys_publish_only_the_public_key_and_refuse_hmac_confusion() {
        let pem = new_ed25519_pem();
        let keys = Keys::single(Key::eddsa(&pem, "k.pem").unwrap(), Duration::from_secs(900));
        let token = keys.issue("u", "ada", Role::Student, "s").unwrap();
        assert!(keys.verify(&token).is_ok());

        let jwks = serde_json::to_value(keys.jwks()).unwrap();
        let key = &jwks["keys"][0];
        assert_eq!(
            (
                key["kty"].as_str(),
                key["crv"].as_str(),
                key["alg"].as_str()
            ),
            (Some("OKP"), Some("Ed25519"), Some("EdDSA"))
        );
        assert!(key.get("d").is_none(), "no private part");
        assert_eq!(key["kid"], json_part(&parts(&token)[0])["kid"]);

        // An attacker signs with HS256, using the public key as the HMAC secret.
        let public = URL_SAFE_NO_PAD.decode(key["x"].as_str().unwrap()).unwrap();
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some(TOKEN_TYPE.into());
        header.kid = key["kid"].as_str().map(str::to_owned);
        let claims = keys.verify(&token).unwrap();
        let forged =
            jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&public)).unwrap();
        assert_eq!(keys.verify(&forged), Err(TokenError::BadSignature));
    }
}
