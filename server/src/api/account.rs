//! `/api/account/*`: the caller's own second factors, and the proof of
//! presence (re-authentication) that changing them takes.

use super::openapi::Failure;
use std::net::IpAddr;

use axum::{Json, extract::State, http::StatusCode};
use classboard::{
    api::{MfaStatus, PasskeyCeremony, Reauth, RecoveryCodes, TotpEnrolment, TotpStatus},
    validate::Issue,
};
use qrcode::{QrCode, render::svg};

use super::passkeys;
use crate::{
    AppError, Result,
    auth::{
        jwt::TokenError,
        limits::{Attempt, ClientNet, Subject},
        mfa::Confirmed,
        normalize::PasswordForms,
        passkeys::Verified,
        password::Verdict,
        sessions::Reason,
    },
    extract::{AppJson, AuthUser, Client},
    startup::AppState,
    store::{
        rfc3339,
        users::{self, Account},
    },
};

/// `GET /api/account/mfa`
#[utoipa::path(
    get, path = "/account/mfa", tag = "account",
    responses(
        (status = 200, description = "The caller's second factors", body = classboard::api::MfaStatus),
        Failure,
    ),
    security(("bearer" = [])),
)]
pub async fn mfa_status(State(state): State<AppState>, user: AuthUser) -> Result<Json<MfaStatus>> {
    let factors = state.second_factors.factors(&user.id).await?;
    let passkeys = state.passkeys.list(&user.id).await?;
    Ok(Json(MfaStatus {
        totp: TotpStatus {
            enabled: factors.totp_since.is_some(),
            created_at: factors.totp_since.map(rfc3339),
        },
        passkeys: passkeys.into_iter().map(passkeys::view).collect(),
        recovery_codes_left: u32::try_from(factors.recovery_codes_left).unwrap_or(0),
    }))
}

/// `POST /api/account/mfa/totp`: a new secret, pending until a code from it
/// confirms it (within ten minutes). Starting again replaces a pending one.
#[utoipa::path(
    post, path = "/account/mfa/totp", tag = "account",
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
    let Some(enrolment) = state.second_factors.begin(&user.id, &user.username).await? else {
        return Err(AppError::Conflict("Two-step sign-in is already on."));
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

/// `POST /api/account/mfa/totp/confirm {code, password}`: the password
/// proves presence, the code proves the authenticator holds the secret.
/// Both count against the account's failure budgets.
#[utoipa::path(
    post, path = "/account/mfa/totp/confirm", tag = "account",
    request_body = classboard::api::Reauth,
    responses(
        (status = 200, description = "TOTP is on; ten recovery codes, shown once", body = classboard::api::RecoveryCodes),
        Failure,
    ),
    security(("bearer" = [])),
)]
pub async fn totp_confirm(
    State(state): State<AppState>,
    Client { ip, origin }: Client,
    user: AuthUser,
    AppJson(req): AppJson<Reauth>,
) -> Result<Json<RecoveryCodes>> {
    let code = req.code.as_deref().map(str::trim).unwrap_or_default();
    require(&req.password, Some(code))?;
    let (account, attempt) = check_password(&state, ip, &user, &req.password, true).await?;
    let codes = match state
        .second_factors
        .confirm(&account.id, code, &origin)
        .await?
    {
        Confirmed::On(codes) => codes,
        Confirmed::WrongCode => {
            return Err(AppError::WrongProof(
                "The code is not correct. Check the time on your device and try the newest code.",
            ));
        }
        Confirmed::NothingPending => {
            state.limiter.abandoned(attempt).await?;
            return Err(AppError::Conflict(
                "No two-step set-up is waiting (they last ten minutes). Start again.",
            ));
        }
    };
    state.limiter.succeeded(attempt).await?;
    state.profiles.forget(&account.id);
    // Sessions that signed in without the second factor (someone who had
    // the password, perhaps) end; this one, which just proved both, stays.
    let ended = state
        .sessions
        .revoke_others(&account.id, &user.session_id, Reason::SecondFactorOn)
        .await?;
    state.revocations.insert(&ended);
    tracing::info!(user = %account.id, sessions_ended = ended.len(), "two-step sign-in turned on");
    Ok(Json(RecoveryCodes {
        recovery_codes: codes,
    }))
}

/// `DELETE /api/account/mfa/totp {password, code}`: TOTP off, and the
/// recovery codes with it.
#[utoipa::path(
    delete, path = "/account/mfa/totp", tag = "account",
    request_body = classboard::api::Reauth,
    responses(
        (status = 204, description = "TOTP is off"),
        Failure,
    ),
    security(("bearer" = [])),
)]
pub async fn totp_remove(
    State(state): State<AppState>,
    Client { ip, origin }: Client,
    user: AuthUser,
    AppJson(req): AppJson<Reauth>,
) -> Result<StatusCode> {
    let account = reauthenticate(&state, ip, &user, &req).await?;
    if !state.second_factors.turn_off(&account.id, &origin).await? {
        return Err(AppError::NotFound);
    }
    state.profiles.forget(&account.id);
    tracing::info!(user = %account.id, "two-step sign-in turned off");
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/account/mfa/recovery-codes {password, code}`: ten new codes;
/// the old ones stop working.
#[utoipa::path(
    post, path = "/account/mfa/recovery-codes", tag = "account",
    request_body = classboard::api::Reauth,
    responses(
        (status = 200, description = "Ten new recovery codes; the old ones are void", body = classboard::api::RecoveryCodes),
        Failure,
    ),
    security(("bearer" = [])),
)]
pub async fn recovery_codes(
    State(state): State<AppState>,
    Client { ip, origin }: Client,
    user: AuthUser,
    AppJson(req): AppJson<Reauth>,
) -> Result<Json<RecoveryCodes>> {
    let account = reauthenticate(&state, ip, &user, &req).await?;
    let Some(codes) = state
        .second_factors
        .new_recovery_codes(&account.id, &origin)
        .await?
    else {
        return Err(AppError::Conflict(
            "Turn on two-step sign-in or add a passkey first.",
        ));
    };
    tracing::info!(user = %account.id, "recovery codes replaced");
    Ok(Json(RecoveryCodes {
        recovery_codes: codes,
    }))
}

/// Proof of presence for a sensitive action: the current password and, when
/// the account has a second factor, one of them: a current TOTP code, an
/// unused recovery code (which it spends), or a passkey's answer (`ceremony`
/// and `credential`). Counted against the account's failure budgets like a
/// login; wrong is `401 invalid_credentials`.
pub async fn reauthenticate(
    state: &AppState,
    ip: IpAddr,
    user: &AuthUser,
    proof: &Reauth,
) -> Result<Account> {
    let factors = state.second_factors.factors(&user.id).await?;
    let by_passkey = proof.ceremony.is_some() || proof.credential.is_some();
    let code = proof.code.as_deref().map(str::trim);
    if by_passkey {
        let assertion = passkeys::assertion(proof.ceremony.as_deref(), proof.credential.as_deref());
        require(&proof.password, None)?;
        let (ceremony, presented) = assertion?;
        let (account, attempt) = check_password(state, ip, user, &proof.password, true).await?;
        match state
            .passkeys
            .finish_assertion(&account.id, None, &ceremony, &presented)
            .await?
        {
            Verified::Yes { .. } => {}
            Verified::Gone => {
                state.limiter.abandoned(attempt).await?;
                return Err(AppError::CeremonyGone);
            }
            Verified::Refused | Verified::CounterWentBack => {
                return Err(AppError::WrongProof(
                    "The password or passkey is not correct.",
                ));
            }
        }
        state.limiter.succeeded(attempt).await?;
        return Ok(account);
    }
    require(
        &proof.password,
        factors.any().then_some(code.unwrap_or_default()),
    )?;
    let (account, attempt) =
        check_password(state, ip, user, &proof.password, factors.any()).await?;
    if factors.any()
        && !state
            .second_factors
            .check(&account.id, code.unwrap_or_default())
            .await?
    {
        return Err(AppError::WrongProof("The password or code is not correct."));
    }
    state.limiter.succeeded(attempt).await?;
    Ok(account)
}

/// `POST /api/account/reauth/passkey/options`: a passkey assertion to prove
/// presence with, instead of a code, for the account's passkeys.
#[utoipa::path(
    post, path = "/account/reauth/passkey/options", tag = "account",
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
    let Some(started) = state.passkeys.begin_assertion(&user.id, None).await? else {
        return Err(AppError::Conflict("This account has no passkey."));
    };
    Ok(Json(passkeys::ceremony(started)))
}

/// `422` for every missing part of a proof: the password, and the code when
/// one is needed (`Some`).
fn require(password: &str, code: Option<&str>) -> Result<()> {
    let missing = |value: &str| value.is_empty().then_some(Issue::Required);
    let details = [
        ("password", missing(password)),
        ("code", code.and_then(missing)),
    ];
    if details.iter().any(|(_, issue)| issue.is_some()) {
        return Err(AppError::validation(details));
    }
    Ok(())
}

/// Counts the attempt (against the code budget too when it presents a
/// second-factor code), then checks the caller's current password. A wrong
/// one is `401` and stays counted; the caller ends the attempt.
async fn check_password(
    state: &AppState,
    ip: IpAddr,
    user: &AuthUser,
    password: &str,
    with_code: bool,
) -> Result<(Account, Attempt)> {
    let account = current(state, user).await?;
    let (net, limits) = (ClientNet::of(ip), state.config.limits.failures());
    let attempt = if with_code {
        state
            .limiter
            .attempt_code(&account.id, net, limits)
            .await??
    } else {
        state
            .limiter
            .attempt(Subject::Account(&account.id), net, limits)
            .await??
    };
    let (reserved, attempt) = state.reserve_hash(attempt).await?;
    let forms = PasswordForms::of(password);
    match reserved
        .verify(
            &forms.against(account.password_nfc),
            Some(&account.password_hash),
        )
        .await?
    {
        Verdict::Match | Verdict::MatchNeedsRehash => Ok((account, attempt)),
        _ => Err(AppError::WrongProof("The password or code is not correct.")),
    }
}

/// The caller's account; one deleted since the token was issued is `401`.
pub(super) async fn current(state: &AppState, user: &AuthUser) -> Result<Account> {
    users::by_id(&state.db, &user.id)
        .await?
        .ok_or(AppError::InvalidToken(TokenError::Revoked))
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
