//! `/api/account/phone*` and `/api/auth/mfa/sms`: a phone number, confirmed
//! by a texted code, as a second factor (a restricted one: NIST SP
//! 800-63B-4 §3.1.3.3). Every text counts against the number's limits
//! (`SMS_PER_NUMBER`, and `SMS_BURST_PER_NUMBER`: once per 30 seconds), the account's
//! (`SMS_PER_ACCOUNT`) and the network's (`SMS_PER_IP`), and goes only to
//! a mobile number of an allowed country (`SMS_ALLOWED_COUNTRIES`): each
//! text costs money, and SMS toll fraud is the attack to design against.

use std::net::IpAddr;

use axum::{Json, extract::State, http::StatusCode};
use classboard::api::{MfaSms, NewPhone, Phone, PhoneConfirmation, Reauth};

use super::shared::presented;
use crate::{
    AppError, Result,
    auth::{
        jwt::TokenError,
        limits::{Key, RequesterNet},
        phones::{self, CODE_TTL, Countries, Purpose},
        proof::Action,
    },
    error::Failure,
    extract::{AppJson, AuthUser, Proven, Requester},
    mail::Letter,
    sms::Text,
    state::AppState,
    store::{
        ms, now_ms,
        phones::{self as stored, Confirmed, Issued, NewCode},
        rfc3339,
        rows::Event,
        users::Account,
    },
};
use classboard::api::EventKind;

/// `POST /api/account/phone {phone, password, code? | ceremony, credential}`:
/// texts a code to the number, which becomes the account's when
/// `POST /api/account/phone/confirm` brings the code back.
#[utoipa::path(
    post, path = "/api/account/phone", tag = "account",
    request_body = super::openapi::PhoneChangeBody,
    responses(
        (status = 202, description = "A code is on its way to the number", body = Object),
        Failure,
    ),
    security(("bearer" = [])),
)]
pub async fn add(
    State(state): State<AppState>,
    Requester { ip, .. }: Requester,
    user: AuthUser,
    Proven { proof, change }: Proven<NewPhone>,
) -> Result<(StatusCode, Json<serde_json::Value>)> {
    offered(&state)?;
    let number = phones::number(&change.phone, &Countries::of(&state.config))
        .map_err(|issue| AppError::validation([("phone", Some(issue))]))?;
    // After the password, before the second factor is taken: a refusal
    // spends none of it.
    state
        .proof
        .demand(
            user.caller(ip),
            Action::AddPhone,
            presented(proof)?,
            async |account: &Account| {
                let current = stored::phone(&state.db, &account.id).await?;
                if current.is_some_and(|phone| phone.number == number) {
                    return Err(AppError::Conflict("This is the account's number already."));
                }
                limit_texts(&state, (&number, &account.id, Purpose::Confirm), ip).await
            },
        )
        .await?;
    send_code(&state, (&user.id, Purpose::Confirm), &number).await?;
    tracing::info!(user = %user.id, "a code was texted to confirm a new number");
    Ok((StatusCode::ACCEPTED, Json(serde_json::json!({}))))
}

/// `POST /api/account/phone/confirm {code}`: the number the code went to
/// becomes the account's (replacing its phone, if it had one). Sessions
/// that signed in with the password alone end (as when TOTP is turned on),
/// and those that signed in with a code texted to a replaced number; the
/// caller's stays.
#[utoipa::path(
    post, path = "/api/account/phone/confirm", tag = "account",
    request_body = classboard::api::PhoneConfirmation,
    responses(
        (status = 200, description = "The phone is the account's", body = classboard::api::Phone),
        Failure,
    ),
    security(("bearer" = [])),
)]
pub async fn confirm(
    State(state): State<AppState>,
    Requester { origin, .. }: Requester,
    user: AuthUser,
    AppJson(req): AppJson<PhoneConfirmation>,
) -> Result<Json<Phone>> {
    offered(&state)?;
    let Some(hash) = state
        .second_factors
        .sms_hash(&user.id, Purpose::Confirm, &req.code)
    else {
        return Err(AppError::invalid_field(
            "code",
            classboard::validate::Issue::Invalid,
        ));
    };
    let event = Event::new(EventKind::SecondFactorAdded, &user.id, &origin)
        .session(&user.session_id)
        .detail("phone");
    // The notice to the account's address names the number's last digits:
    // the number the waiting code went to (the confirmation holds only if
    // that is still the one).
    let Some(pending) = stored::pending_number(&state.db, &user.id).await? else {
        return Err(no_code_waiting());
    };
    let account = super::shared::current(&state, &user).await?;
    let ending = pending.get(pending.len().saturating_sub(2)..).unwrap_or("");
    let notice = super::shared::prepare(
        &state,
        &account.email,
        Letter::PhoneAdded {
            username: &account.username,
            ending,
        },
    )?;
    let confirmed = stored::confirm(
        &state.db,
        (&user.id, &user.session_id),
        (&hash, &pending),
        (&notice.queued(), &event),
    )
    .await?;
    match confirmed {
        Confirmed::Done { number, ended } => {
            state.mailer.wake();
            state.revocations.insert(&ended);
            state.profiles.forget(&user.id);
            tracing::info!(user = %user.id, sessions_ended = ended.len(), "phone confirmed");
            Ok(Json(Phone {
                number,
                confirmed_at: rfc3339(event.at),
            }))
        }
        Confirmed::Wrong { ended: false } => Err(AppError::WrongProof("The code is not correct.")),
        Confirmed::Wrong { ended: true } => Err(AppError::WrongProof(
            "The code is not correct. That was the last try: ask for a new code.",
        )),
        Confirmed::Gone => Err(no_code_waiting()),
    }
}

fn no_code_waiting() -> AppError {
    AppError::Conflict("No code is waiting (they last ten minutes). Ask for a new one.")
}

/// `DELETE /api/account/phone {password, code? | ceremony, credential}`:
/// the phone is no longer the account's, and the sessions that signed in
/// with a code texted to it end (but the caller's).
#[utoipa::path(
    delete, path = "/api/account/phone", tag = "account",
    request_body = classboard::api::Reauth,
    responses(
        (status = 204, description = "The phone is removed"),
        Failure,
    ),
    security(("bearer" = [])),
)]
pub async fn remove(
    State(state): State<AppState>,
    Requester { ip, origin }: Requester,
    user: AuthUser,
    AppJson(req): AppJson<Reauth>,
) -> Result<StatusCode> {
    state
        .proof
        .demand(
            user.caller(ip),
            Action::RemovePhone,
            presented(req)?,
            async |account: &Account| {
                stored::phone(&state.db, &account.id)
                    .await?
                    .map(drop)
                    .ok_or(AppError::NotFound)
            },
        )
        .await?;
    let event = Event::new(EventKind::SecondFactorRemoved, &user.id, &origin)
        .session(&user.session_id)
        .detail("phone");
    let Some(ended) = stored::remove(&state.db, (&user.id, &user.session_id), &event).await? else {
        return Err(AppError::NotFound);
    };
    state.revocations.insert(&ended);
    state.profiles.forget(&user.id);
    tracing::info!(user = %user.id, sessions_ended = ended.len(), "phone removed");
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/account/phone/code`: texts a code to the account's phone, to
/// give as the `code` of a proof of presence.
#[utoipa::path(
    post, path = "/api/account/phone/code", tag = "account",
    responses(
        (status = 202, description = "A code is on its way to the account's phone", body = Object),
        Failure,
    ),
    security(("bearer" = [])),
)]
pub async fn proof_code(
    State(state): State<AppState>,
    Requester { ip, .. }: Requester,
    user: AuthUser,
) -> Result<(StatusCode, Json<serde_json::Value>)> {
    offered(&state)?;
    let phone = usable_phone(&state, &user.id).await?;
    limit_texts(&state, (&phone.number, &user.id, Purpose::Proof), ip).await?;
    send_code(&state, (&user.id, Purpose::Proof), &phone.number).await?;
    tracing::info!(user = %user.id, "a code was texted for a proof of presence");
    Ok((StatusCode::ACCEPTED, Json(serde_json::json!({}))))
}

/// `POST /api/auth/mfa/sms {mfa_token}`: texts a code for a login's second
/// step to the account's phone. Counted as a sign-in request of the
/// network, and against the texts' limits.
#[utoipa::path(
    post, path = "/api/auth/mfa/sms", tag = "auth",
    request_body = classboard::api::MfaSms,
    responses(
        (status = 202, description = "A code is on its way to the account's phone", body = Object),
        Failure,
    ),
)]
pub async fn login_code(
    State(state): State<AppState>,
    Requester { ip, .. }: Requester,
    AppJson(req): AppJson<MfaSms>,
) -> Result<(StatusCode, Json<serde_json::Value>)> {
    state.limit_auth_request(RequesterNet::of(ip)).await?;
    let Some(challenge) = state.second_factors.challenged(&req.mfa_token).await? else {
        return Err(AppError::InvalidMfaToken);
    };
    let user_id = challenge.user_id;
    if !state.second_factors.sms() {
        return Err(AppError::Conflict("Codes by text are turned off here."));
    }
    let phone = usable_phone(&state, &user_id).await?;
    limit_texts(&state, (&phone.number, &user_id, Purpose::Login), ip).await?;
    send_code(&state, (&user_id, Purpose::Login), &phone.number).await?;
    tracing::info!(user = %user_id, "a code was texted for a sign-in");
    Ok((StatusCode::ACCEPTED, Json(serde_json::json!({}))))
}

/// The account's phone, if texted codes are accepted for it: `409` without
/// one, with a stronger factor (TOTP or a passkey, which make texted codes
/// void), or when its country is no longer one texts may go to.
async fn usable_phone(state: &AppState, user_id: &str) -> Result<stored::PhoneRow> {
    if !state.second_factors.factors(user_id).await?.sms_usable() {
        return Err(AppError::Conflict(
            "This account takes no texted codes: it has no phone, or a safer second step.",
        ));
    }
    let Some(phone) = stored::phone(&state.db, user_id).await? else {
        return Err(AppError::Conflict("This account has no phone."));
    };
    if phones::number(&phone.number, &Countries::of(&state.config)).is_err() {
        return Err(AppError::Conflict(
            "Texts can no longer be sent to this number's country.",
        ));
    }
    Ok(phone)
}

/// `404` unless phones are offered (`SMS_SECOND_FACTOR` on).
fn offered(state: &AppState) -> Result<()> {
    if state.second_factors.sms() {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

/// Counts one text of `purpose` to `number` for `user_id`, asked from `ip`,
/// against every budget it draws on: the network's, the account's, the
/// number's burst and the number's hour, in that order (a number's budgets
/// are spent last, so that a refusal elsewhere leaves them whole).
///
/// A code that confirms a number counts against that number's budgets *for
/// the account asking*: anyone can type someone else's number, and must not
/// spend the budget its owner's sign-in codes draw on (a number is the
/// account's only once confirmed). Those texts stay bounded by the
/// account's and the network's budgets.
async fn limit_texts(
    state: &AppState,
    (number, user_id, purpose): (&str, &str, Purpose),
    ip: IpAddr,
) -> Result<()> {
    let limits = state.config.limits;
    let confirming_for = (purpose == Purpose::Confirm).then_some(user_id);
    state
        .limit(&Key::texts_from(RequesterNet::of(ip)), limits.sms_per_ip)
        .await?;
    state
        .limit(&Key::texts_of(user_id), limits.sms_per_account)
        .await?;
    state
        .limit(
            &Key::text_bursts(number, confirming_for),
            limits.sms_burst_per_number,
        )
        .await?;
    state
        .limit(
            &Key::texts_to(number, confirming_for),
            limits.sms_per_number,
        )
        .await
}

/// Stores a new code of `purpose` for `user_id` and queues its text to
/// `number`, in one transaction. An account locked (or deleted, or whose
/// phone changed) since it was read gets nothing: `401`.
async fn send_code(
    state: &AppState,
    (user_id, purpose): (&str, Purpose),
    number: &str,
) -> Result<()> {
    let (code, hash) = state.second_factors.sms_code(user_id, purpose);
    let text = match purpose {
        Purpose::Confirm => Text::ConfirmPhone { code: &code },
        Purpose::Login => Text::SignIn { code: &code },
        Purpose::Proof => Text::Proof { code: &code },
    };
    let text = state.texter.prepare(number, text);
    let now = now_ms();
    let new = NewCode {
        user_id,
        purpose,
        number,
        hash: &hash,
        now,
        expires_at: now + ms(CODE_TTL),
    };
    match stored::issue(&state.db, &new, &text.queued(), None).await? {
        Issued::Sent => {
            state.texter.wake();
            Ok(())
        }
        Issued::Not => Err(match purpose {
            Purpose::Login => AppError::InvalidMfaToken,
            Purpose::Confirm | Purpose::Proof => AppError::InvalidToken(TokenError::Revoked),
        }),
    }
}
