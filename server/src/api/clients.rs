//! `/api/admin/clients*`: the apps (OAuth clients) registered here, as the
//! admin console manages them. Every handler asks for the `admin` role
//! first; every change, for a session proven within `REAUTH_WINDOW` too
//! (the proof policy, `auth::proof`). A secret is in an answer only when it
//! was just made, that once.

use crate::{error::Failure, extract::Page};
use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
};
use classboard::api::{Client, ClientCreated, ClientPage, ClientSecret, NewClient, Role};
use serde_json::value::RawValue;

use crate::{
    Result,
    auth::proof::Action,
    extract::{AppJson, AuthUser, PageQuery, Requester, read_as},
    provider::clients::Registration,
    state::AppState,
    store::{clients::ClientRow, rfc3339},
};

/// `GET /api/admin/clients?limit=&before=`: the apps, by `client_id`.
#[utoipa::path(
    get, path = "/api/admin/clients", tag = "admin",
    params(Page),
    responses(
        (status = 200, description = "The apps, by client_id; never a secret", body = ClientPage),
        Failure,
    ),
    security(("bearer" = [])),
)]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    page: PageQuery,
) -> Result<Json<ClientPage>> {
    user.require(Role::Admin)?;
    let (rows, more) = state
        .clients
        .page(page.limit, page.before.as_deref())
        .await?;
    let next = more.then(|| rows.last().map(|r| r.id.clone())).flatten();
    Ok(Json(ClientPage {
        clients: rows.iter().map(view).collect(),
        next,
    }))
}

/// `POST /api/admin/clients`: registers an app; a confidential app's
/// secret is in the answer, this once.
#[utoipa::path(
    post, path = "/api/admin/clients", tag = "admin",
    request_body = NewClient,
    responses(
        (status = 201, description = "Registered; the secret is shown this once", body = ClientCreated),
        Failure,
    ),
    security(("bearer" = [])),
)]
pub async fn add(
    State(state): State<AppState>,
    Requester { ip, origin }: Requester,
    user: AuthUser,
    AppJson(body): AppJson<Box<RawValue>>,
) -> Result<(StatusCode, Json<ClientCreated>)> {
    user.require(Role::Admin)?;
    state
        .proof
        .require_proven(user.caller(ip), Action::AddClient)
        .await?;
    // Read only now: who may not register an app learns nothing of how a
    // registration is read.
    let new: NewClient = read_as(&body)?;
    let registration = Registration {
        name: new.name,
        redirect_uris: new.redirect_uris,
        public: new.public,
        scopes: new.scopes,
        trusted: new.trusted,
        post_logout_redirect_uris: new.post_logout_redirect_uris,
        backchannel_logout_uri: new.backchannel_logout_uri,
        grant_types: new.grant_types,
        jwks_uri: new.jwks_uri,
        id_token_signed_response_alg: new.id_token_signed_response_alg,
        require_par: new.require_par,
    };
    let registered = state
        .clients
        .register(&registration, &origin, Some(&user.id))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(ClientCreated {
            client: view(&registered.client),
            client_secret: registered.secret,
        }),
    ))
}

/// `POST /api/admin/clients/{id}/secret`: a new secret for a confidential
/// app; the old one stops working at once. `409` for a public app.
#[utoipa::path(
    post, path = "/api/admin/clients/{id}/secret", tag = "admin",
    params(("id" = String, Path, description = "The app's client_id")),
    responses(
        (status = 200, description = "The new secret, shown this once", body = ClientSecret),
        Failure,
    ),
    security(("bearer" = [])),
)]
pub async fn rotate_secret(
    State(state): State<AppState>,
    Requester { ip, origin }: Requester,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<ClientSecret>> {
    user.require(Role::Admin)?;
    state
        .proof
        .require_proven(user.caller(ip), Action::RotateClientSecret)
        .await?;
    let client_secret = state
        .clients
        .rotate_secret(&id, &origin, Some(&user.id))
        .await?;
    Ok(Json(ClientSecret { client_secret }))
}

/// `DELETE /api/admin/clients/{id}`: removes the app.
#[utoipa::path(
    delete, path = "/api/admin/clients/{id}", tag = "admin",
    params(("id" = String, Path, description = "The app's client_id")),
    responses(
        (status = 204, description = "Removed"),
        Failure,
    ),
    security(("bearer" = [])),
)]
pub async fn remove(
    State(state): State<AppState>,
    Requester { ip, origin }: Requester,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    user.require(Role::Admin)?;
    state
        .proof
        .require_proven(user.caller(ip), Action::RemoveClient)
        .await?;
    // Its grants' tokens and its own end here at once, elsewhere by the poll.
    let ended = state.clients.remove(&id, &origin, Some(&user.id)).await?;
    state.revocations.insert(&ended);
    Ok(StatusCode::NO_CONTENT)
}

/// The app as admins see it.
fn view(row: &ClientRow) -> Client {
    let list = |text: &str| text.split_whitespace().map(str::to_owned).collect();
    Client {
        client_id: row.id.clone(),
        name: row.name.clone(),
        public: row.secret_hash.is_none(),
        redirect_uris: list(&row.redirect_uris),
        post_logout_redirect_uris: list(&row.post_logout_redirect_uris),
        backchannel_logout_uri: row.backchannel_logout_uri.clone(),
        scopes: list(&row.scopes),
        grant_types: list(&row.grant_types),
        trusted: row.trusted,
        jwks_uri: row.jwks_uri.clone(),
        created_at: rfc3339(row.created_at),
        secret_rotated_at: row.secret_rotated_at.map(rfc3339),
        id_token_signed_response_alg: row.id_token_signed_response_alg.clone(),
        require_par: row.require_par,
        registered_itself: row.registration_access_hash.is_some(),
    }
}
