//! `/api/account/*`: the caller's own second factors, and proving presence
//! (`POST /api/account/reauth`). What each change must prove is decided by
//! the one policy in `auth::proof`; these handlers name their action and
//! the checks that can refuse it.

use crate::error::Failure;

use axum::{Json, extract::State, http::StatusCode};
use classboard::{
    api::{
        MfaStatus, PasskeyCeremony, Reauth, RecoveryCodes, TotpConfirmation, TotpEnrolment,
        TotpStatus,
    },
    validate::Issue,
};
use qrcode::{QrCode, render::svg};

use super::shared::{self, limit_factor_changes, presented};
use crate::{
    AppError, Result,
    auth::{jwt::TokenError, limits::Key, mfa::Pending, proof::Action},
    extract::{AppJson, AuthUser, Requester},
    state::AppState,
    store::{rfc3339, users::Account},
};

/// `GET /api/account/mfa`
#[utoipa::path(
    get, path = "/api/account/mfa", tag = "account",
    responses(
        (status = 200, description = "The caller's second factors", body = classboard::api::MfaStatus),
        Failure,
    ),
    security(("bearer" = [])),
)]
pub async fn mfa_status(State(state): State<AppState>, user: AuthUser) -> Result<Json<MfaStatus>> {
    let factors = state.second_factors.factors(&user.id).await?;
    let passkeys = state.passkeys.list(&user.id).await?;
    let phone = match factors.phone_since {
        Some(_) => crate::store::phones::phone(&state.db, &user.id).await?,
        None => None,
    };
    Ok(Json(MfaStatus {
        totp: TotpStatus {
            enabled: factors.totp_since.is_some(),
            created_at: factors.totp_since.map(rfc3339),
        },
        passkeys: passkeys.into_iter().map(shared::passkey_view).collect(),
        recovery_codes_left: u32::try_from(factors.recovery_codes_left).unwrap_or(0),
        phone: phone.map(|phone| classboard::api::Phone {
            number: phone.number,
            confirmed_at: rfc3339(phone.confirmed_at),
        }),
        sms_available: state.second_factors.sms(),
    }))
}

/// `POST /api/account/reauth {password, code? | ceremony, credential}`: the
/// caller's session counts as proven for `REAUTH_WINDOW`.
#[utoipa::path(
    post, path = "/api/account/reauth", tag = "account",
    request_body = classboard::api::Reauth,
    responses(
        (status = 204, description = "Presence is proven: the session counts as proven for REAUTH_WINDOW"),
        Failure,
    ),
    security(("bearer" = [])),
)]
pub async fn reauth(
    State(state): State<AppState>,
    Requester { ip, .. }: Requester,
    user: AuthUser,
    AppJson(req): AppJson<Reauth>,
) -> Result<StatusCode> {
    let caller = user.caller(ip);
    state
        .proof
        .demand(
            caller,
            Action::Reauthenticate,
            presented(req)?,
            async |_| Ok::<_, AppError>(()),
        )
        .await?;
    if !state.proof.mark_proven(caller).await? {
        return Err(AppError::InvalidToken(TokenError::Revoked));
    }
    tracing::info!(user = %user.id, session = %user.session_id, "presence proven");
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/account/mfa/totp`: a new secret, pending until a code from it
/// confirms it (within ten minutes). Starting again replaces a pending one.
#[utoipa::path(
    post, path = "/api/account/mfa/totp", tag = "account",
    responses(
        (status = 201, description = "A new secret, pending until confirmed", body = classboard::api::TotpEnrolment),
        Failure,
    ),
    security(("bearer" = [])),
)]
pub async fn totp_begin(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<(StatusCode, Json<TotpEnrolment>)> {
    // Refused before it is counted: asking again when it is on costs none
    // of the budget.
    if state
        .second_factors
        .factors(&user.id)
        .await?
        .totp_since
        .is_some()
    {
        return Err(totp_already_on());
    }
    limit_factor_changes(&state, &Key::factor_changes_of_session(&user.session_id)).await?;
    let Some(enrolment) = state.second_factors.begin(&user.id, &user.username).await? else {
        return Err(totp_already_on());
    };
    let qr_svg = qr_svg(&enrolment.otpauth_uri)?;
    Ok((
        StatusCode::CREATED,
        Json(TotpEnrolment {
            secret: enrolment.secret,
            otpauth_uri: enrolment.otpauth_uri,
            qr_svg,
        }),
    ))
}

/// `POST /api/account/mfa/totp/confirm {code, password, recovery_code? |
/// ceremony, credential}`: the code proves the new app holds the secret;
/// the rest is the proof of presence, in which an account that already has
/// a passkey gives the passkey (or a recovery code) as well as the password.
#[utoipa::path(
    post, path = "/api/account/mfa/totp/confirm", tag = "account",
    request_body = classboard::api::TotpConfirmation,
    responses(
        (status = 200, description = "TOTP is on; ten recovery codes, shown once", body = classboard::api::RecoveryCodes),
        Failure,
    ),
    security(("bearer" = [])),
)]
pub async fn totp_confirm(
    State(state): State<AppState>,
    Requester { ip, origin }: Requester,
    user: AuthUser,
    AppJson(req): AppJson<TotpConfirmation>,
) -> Result<Json<RecoveryCodes>> {
    let caller = user.caller(ip);
    let code = req.code.trim().to_owned();
    if code.is_empty() {
        // Said with whatever else is missing, in one answer.
        let unproven = req.password.is_empty() && !state.proof.is_proven(caller).await?;
        return Err(AppError::validation([
            ("password", unproven.then_some(Issue::Required)),
            ("code", Some(Issue::Required)),
        ]));
    }
    let proof = presented(Reauth {
        password: req.password,
        code: req.recovery_code,
        ceremony: req.ceremony,
        credential: req.credential,
    })?;
    let granted = state
        .proof
        .demand(caller, Action::TurnOnTotp, proof, async |account: &Account| {
            match state.second_factors.pending(&account.id, &code).await? {
                Pending::Matches { created_at, step } => Ok((created_at, step)),
                Pending::WrongCode => Err(AppError::WrongProof(
                    "The code is not correct. Check the time on your device and try the newest code.",
                )),
                Pending::Nothing => Err(nothing_pending()),
            }
        })
        .await
        // The proof's second factor is the recovery code here: `code` is
        // the new app's.
        .map_err(|e| e.renamed_field("code", "recovery_code"))?;
    let Some(on) = state
        .second_factors
        .turn_on((&user.id, &user.session_id), granted.checked, &origin)
        .await?
    else {
        return Err(nothing_pending());
    };
    state.revocations.insert(&on.ended);
    state.profiles.forget(&user.id);
    tracing::info!(user = %user.id, sessions_ended = on.ended.len(), "two-step sign-in turned on");
    Ok(Json(RecoveryCodes {
        recovery_codes: on.recovery_codes,
    }))
}

fn totp_already_on() -> AppError {
    AppError::Conflict("Two-step sign-in is already on.")
}

fn nothing_pending() -> AppError {
    AppError::Conflict("No two-step set-up is waiting (they last ten minutes). Start again.")
}

/// `DELETE /api/account/mfa/totp {password, code}`: TOTP off, and the
/// recovery codes with it unless a passkey remains; the sessions that
/// signed in with them end.
#[utoipa::path(
    delete, path = "/api/account/mfa/totp", tag = "account",
    request_body = classboard::api::Reauth,
    responses(
        (status = 204, description = "TOTP is off"),
        Failure,
    ),
    security(("bearer" = [])),
)]
pub async fn totp_remove(
    State(state): State<AppState>,
    Requester { ip, origin }: Requester,
    user: AuthUser,
    AppJson(req): AppJson<Reauth>,
) -> Result<StatusCode> {
    state
        .proof
        .demand(
            user.caller(ip),
            Action::TurnOffTotp,
            presented(req)?,
            async |account: &Account| {
                let factors = state.second_factors.factors(&account.id).await?;
                factors.totp_since.map(drop).ok_or(AppError::NotFound)
            },
        )
        .await?;
    let Some(ended) = state
        .second_factors
        .turn_off((&user.id, &user.session_id), &origin)
        .await?
    else {
        return Err(AppError::NotFound);
    };
    state.revocations.insert(&ended);
    state.profiles.forget(&user.id);
    tracing::info!(user = %user.id, sessions_ended = ended.len(), "two-step sign-in turned off");
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/account/mfa/recovery-codes {password, code}`: ten new codes;
/// the old ones stop working, and the sessions that signed in with one end.
#[utoipa::path(
    post, path = "/api/account/mfa/recovery-codes", tag = "account",
    request_body = classboard::api::Reauth,
    responses(
        (status = 200, description = "Ten new recovery codes; the old ones are void", body = classboard::api::RecoveryCodes),
        Failure,
    ),
    security(("bearer" = [])),
)]
pub async fn recovery_codes(
    State(state): State<AppState>,
    Requester { ip, origin }: Requester,
    user: AuthUser,
    AppJson(req): AppJson<Reauth>,
) -> Result<Json<RecoveryCodes>> {
    state
        .proof
        .demand(
            user.caller(ip),
            Action::NewRecoveryCodes,
            presented(req)?,
            async |account: &Account| {
                // A phone alone gives none: recovery codes stand in for an
                // app or a passkey.
                let factors = state.second_factors.factors(&account.id).await?;
                if factors.totp_since.is_some() || factors.passkeys > 0 {
                    Ok(())
                } else {
                    Err(no_second_factor())
                }
            },
        )
        .await?;
    let Some((codes, ended)) = state
        .second_factors
        .new_recovery_codes((&user.id, &user.session_id), &origin)
        .await?
    else {
        return Err(no_second_factor());
    };
    state.revocations.insert(&ended);
    tracing::info!(user = %user.id, sessions_ended = ended.len(), "recovery codes replaced");
    Ok(Json(RecoveryCodes {
        recovery_codes: codes,
    }))
}

fn no_second_factor() -> AppError {
    AppError::Conflict("Turn on two-step sign-in or add a passkey first.")
}

/// `POST /api/account/reauth/passkey/options`: a passkey assertion to prove
/// presence with, instead of a code, for the account's passkeys. Each
/// ceremony counts against `FACTOR_CHANGES_PER_USER`, for the session that
/// asks.
#[utoipa::path(
    post, path = "/api/account/reauth/passkey/options", tag = "account",
    responses(
        (status = 200, description = "A ceremony for proving presence with a passkey", body = classboard::api::PasskeyCeremony),
        Failure,
    ),
    security(("bearer" = [])),
)]
pub async fn reauth_passkey_options(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Json<PasskeyCeremony>> {
    if state.passkeys.count(&user.id).await? == 0 {
        return Err(AppError::Conflict("This account has no passkey."));
    }
    limit_factor_changes(&state, &Key::factor_changes_of_session(&user.session_id)).await?;
    let Some(started) = state.passkeys.begin_assertion(&user.id, None).await? else {
        return Err(AppError::Conflict("This account has no passkey."));
    };
    Ok(Json(shared::passkey_ceremony(started)))
}

/// The QR code of `uri` as an SVG document, drawn on the server: the
/// browser only shows it.
fn qr_svg(uri: &str) -> Result<String> {
    let code = QrCode::new(uri.as_bytes())
        .map_err(|e| AppError::Internal(format!("cannot draw the QR code: {e}")))?;
    Ok(code
        .render::<svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build())
}
