//! Passkeys: `/api/account/passkeys*` (the caller's own, behind
//! re-authentication) and `/api/auth/passkey*` (signing in with one, with no
//! password or as the second step of a password login).

use crate::error::Failure;
use axum::{
    Json,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::Response,
};
use classboard::{
    api::{
        EventKind, MfaPasskeyOptions, NewPasskey, PasskeyCeremony, PasskeyList, PasskeyResponse,
        PasskeySignIn, Reauth,
    },
    validate::Issue,
};
use webauthn_rs::prelude::RegisterPublicKeyCredential;

use super::{
    shared::{
        limit_factor_changes, passkey_answer, passkey_assertion, passkey_ceremony, passkey_view,
        presented,
    },
    tokens::start_session,
};
use crate::{
    AppError, Result,
    auth::{
        limits::{Key, RequesterNet},
        passkeys::{self, MAX_PER_ACCOUNT, Registered, Verified},
        proof::Action,
        sessions::SignIn,
    },
    extract::{AppJson, AuthUser, Requester, RequesterIp, SessionKey},
    state::AppState,
    store::{now_ms, rows::Event, users},
};

/// `GET /api/account/passkeys`
#[utoipa::path(
    get, path = "/api/account/passkeys", tag = "account",
    responses(
        (status = 200, description = "The caller's passkeys", body = classboard::api::PasskeyList),
        Failure,
    ),
    security(("bearer" = [])),
)]
pub async fn list(State(state): State<AppState>, user: AuthUser) -> Result<Json<PasskeyList>> {
    let passkeys = state.passkeys.list(&user.id).await?;
    Ok(Json(PasskeyList {
        passkeys: passkeys.into_iter().map(passkey_view).collect(),
    }))
}

/// `POST /api/account/passkeys/register {password, code?}`: starts adding a
/// passkey, after proof of presence (or from a proven session). Counts
/// against `FACTOR_CHANGES_PER_USER`.
#[utoipa::path(
    post, path = "/api/account/passkeys/register", tag = "account",
    request_body = classboard::api::Reauth,
    responses(
        (status = 200, description = "A registration ceremony", body = classboard::api::PasskeyCeremony),
        Failure,
    ),
    security(("bearer" = [])),
)]
pub async fn register(
    State(state): State<AppState>,
    RequesterIp(ip): RequesterIp,
    user: AuthUser,
    AppJson(req): AppJson<Reauth>,
) -> Result<Json<PasskeyCeremony>> {
    let granted = state
        .proof
        .demand(
            user.caller(ip),
            Action::AddPasskey,
            presented(req)?,
            async |account: &users::Account| {
                if state.passkeys.count(&account.id).await? >= MAX_PER_ACCOUNT {
                    return Err(too_many());
                }
                limit_factor_changes(&state, &Key::factor_changes(&account.id)).await
            },
        )
        .await?;
    let account = granted.account;
    let Some(started) = state
        .passkeys
        .begin_registration(&account.id, &account.username)
        .await?
    else {
        return Err(too_many());
    };
    Ok(Json(passkey_ceremony(started)))
}

/// `POST /api/account/passkeys {ceremony, credential, name}`: finishes
/// adding a passkey (its ceremony was started by a proven request). The
/// account's other sessions that signed in with the password alone end, as
/// when TOTP is turned on.
#[utoipa::path(
    post, path = "/api/account/passkeys", tag = "account",
    request_body = classboard::api::NewPasskey,
    responses(
        (status = 201, description = "The passkey is added", body = classboard::api::PasskeyResponse),
        Failure,
    ),
    security(("bearer" = [])),
)]
pub async fn add(
    State(state): State<AppState>,
    Requester { origin, .. }: Requester,
    user: AuthUser,
    AppJson(req): AppJson<NewPasskey>,
) -> Result<(StatusCode, Json<PasskeyResponse>)> {
    let registration = passkey_answer::<RegisterPublicKeyCredential>(
        Some(&req.ceremony),
        req.credential.as_deref(),
    );
    let ((ceremony, presented), name) = match (registration, passkey_name(&req.name)) {
        (Ok(registration), Ok(name)) => (registration, name),
        (registration, name) => {
            let issues = registration.err().into_iter().flatten();
            return Err(AppError::validation(issues.chain([("name", name.err())])));
        }
    };
    let (added, ended) = match state
        .passkeys
        .finish_registration(
            (&user.id, &user.session_id),
            &ceremony,
            &presented,
            (&name, &origin),
        )
        .await?
    {
        Registered::Added(added, ended) => (added, ended),
        Registered::Gone => return Err(AppError::CeremonyGone),
        Registered::Refused => {
            return Err(AppError::WrongProof(
                "The authenticator's answer was not accepted. Please try again.",
            ));
        }
        // Told apart from a refusal, it would say whether a credential id
        // exists on some account.
        Registered::Duplicate => {
            return Err(AppError::WrongProof(
                "The authenticator's answer was not accepted. Please try again.",
            ));
        }
        Registered::TooMany => return Err(too_many()),
    };
    state.profiles.forget(&user.id);
    state.revocations.insert(&ended);
    tracing::info!(user = %user.id, passkey = %added.id, sessions_ended = ended.len(), "passkey added");
    Ok((
        StatusCode::CREATED,
        Json(PasskeyResponse {
            passkey: passkey_view(added),
        }),
    ))
}

/// `DELETE /api/account/passkeys/{id} {password, code?}`: another account's
/// passkey is `404`, like one that does not exist. The sessions that signed
/// in with it end, but the caller's.
#[utoipa::path(
    delete, path = "/api/account/passkeys/{id}", tag = "account",
    params(("id" = String, Path)),
    request_body = classboard::api::Reauth,
    responses(
        (status = 204, description = "The passkey is removed"),
        Failure,
    ),
    security(("bearer" = [])),
)]
pub async fn remove(
    State(state): State<AppState>,
    Requester { ip, origin }: Requester,
    user: AuthUser,
    Path(id): Path<String>,
    AppJson(req): AppJson<Reauth>,
) -> Result<StatusCode> {
    state
        .proof
        .demand(
            user.caller(ip),
            Action::RemovePasskey,
            presented(req)?,
            async |account: &users::Account| {
                if state.passkeys.exists(&account.id, &id).await? {
                    Ok(())
                } else {
                    Err(AppError::NotFound)
                }
            },
        )
        .await?;
    let event = Event::new(EventKind::PasskeyRemoved, &user.id, &origin);
    let Some(ended) = state
        .passkeys
        .remove((&user.id, &user.session_id), &id, &event)
        .await?
    else {
        return Err(AppError::NotFound);
    };
    state.revocations.insert(&ended);
    state.profiles.forget(&user.id);
    tracing::info!(user = %user.id, passkey = %id, sessions_ended = ended.len(), "passkey removed");
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/auth/passkey/options`: starts a sign-in with no name typed.
#[utoipa::path(
    post, path = "/api/auth/passkey/options", tag = "auth",
    responses(
        (status = 200, description = "A sign-in ceremony", body = classboard::api::PasskeyCeremony),
        Failure,
    ),
)]
pub async fn sign_in_options(
    State(state): State<AppState>,
    RequesterIp(ip): RequesterIp,
) -> Result<Json<PasskeyCeremony>> {
    // Each ceremony writes a row: it counts like a sign-in request.
    state.limit_auth_request(RequesterNet::of(ip)).await?;
    Ok(Json(passkey_ceremony(
        state.passkeys.begin_sign_in().await?,
    )))
}

/// `POST /api/auth/passkey {ceremony, credential}`: signs in with a passkey
/// alone. User verification makes it two factors: no second step follows.
#[utoipa::path(
    post, path = "/api/auth/passkey", tag = "auth",
    request_body = classboard::api::PasskeySignIn,
    responses(
        (status = 200, description = "Signed in: tokens (and the refresh cookie)", body = classboard::api::TokenResponse),
        (status = 403, description = "`forbidden`: the account is locked", body = classboard::ErrorBody),
        Failure,
    ),
)]
pub async fn sign_in(
    State(state): State<AppState>,
    Requester { ip, origin }: Requester,
    session_key: SessionKey,
    headers: HeaderMap,
    AppJson(req): AppJson<PasskeySignIn>,
) -> Result<Response> {
    let (ceremony, presented) = passkey_assertion(Some(&req.ceremony), req.credential.as_deref())?;
    // Each ceremony writes a row: it counts like a sign-in request.
    state.limit_auth_request(RequesterNet::of(ip)).await?;
    let session_key = session_key.spend(&state).await?;
    let (user_id, passkey_id, key) =
        match state.passkeys.finish_sign_in(&ceremony, &presented).await? {
            Verified::Yes {
                user_id,
                passkey_id,
                amr,
            } => (user_id, passkey_id, amr),
            Verified::Gone => return Err(AppError::CeremonyGone),
            Verified::Refused | Verified::CounterWentBack => {
                return Err(AppError::WrongProof("This passkey was not accepted."));
            }
        };
    let Some(account) = users::by_id(&state.db, &user_id).await? else {
        return Err(AppError::WrongProof("This passkey was not accepted."));
    };
    if account.locked {
        return Err(AppError::Locked);
    }
    let events = [
        (EventKind::LoginSucceeded, Some("passkey")),
        (EventKind::PasskeyUsed, None),
    ];
    start_session(
        &state,
        &headers,
        StatusCode::OK,
        (&account, &origin),
        SignIn::passkey(key, &passkey_id, now_ms()).bound_to(session_key),
        &events,
        AppError::WrongProof("This passkey was not accepted."),
    )
    .await
}

/// `POST /api/auth/mfa/passkey/options {mfa_token}`: the passkey step of a
/// password login, limited to that account's passkeys.
#[utoipa::path(
    post, path = "/api/auth/mfa/passkey/options", tag = "auth",
    request_body = classboard::api::MfaPasskeyOptions,
    responses(
        (status = 200, description = "A ceremony limited to the account's passkeys", body = classboard::api::PasskeyCeremony),
        Failure,
    ),
)]
pub async fn second_factor_options(
    State(state): State<AppState>,
    RequesterIp(ip): RequesterIp,
    AppJson(req): AppJson<MfaPasskeyOptions>,
) -> Result<Json<PasskeyCeremony>> {
    let Some(challenge) = state.second_factors.challenged(&req.mfa_token).await? else {
        return Err(AppError::InvalidMfaToken);
    };
    // Each ceremony writes a row: it counts like a sign-in request.
    state.limit_auth_request(RequesterNet::of(ip)).await?;
    let Some(started) = state
        .passkeys
        .begin_assertion(&challenge.user_id, Some(&req.mfa_token))
        .await?
    else {
        return Err(AppError::InvalidRequest(
            "This account has no passkey: use another method.".into(),
        ));
    };
    Ok(Json(passkey_ceremony(started)))
}

/// A passkey's name as its owner typed it: trimmed, 1 to 64 characters, no
/// control characters.
fn passkey_name(raw: &str) -> std::result::Result<String, Issue> {
    let name = raw.trim();
    if name.is_empty() {
        Err(Issue::Required)
    } else if name.chars().count() > passkeys::NAME_MAX {
        Err(Issue::TooLong)
    } else if name.chars().any(char::is_control) {
        Err(Issue::InvalidCharacters)
    } else {
        Ok(name.to_owned())
    }
}

fn too_many() -> AppError {
    AppError::Conflict("An account has at most 20 passkeys: remove one first.")
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_sentence_names_the_limit() {
        assert_eq!(super::MAX_PER_ACCOUNT, 20);
    }
}
