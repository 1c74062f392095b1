//! The OpenAPI 3.1 document: what is said once for the whole API (its
//! title, its two ways to authenticate, the error body), and the bodies that
//! exist only as the union of two wire types. Each operation is described on
//! its handler, and `utoipa_axum` mounts a handler and adds its description
//! in one step, so the document lists exactly the routes that exist.

use classboard::api::{MfaRequired, NewEmail, NewPassword, Reauth};
use serde::Deserialize;
use utoipa::{
    Modify, OpenApi, ToSchema,
    openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme},
};

/// The document's fixed part. `docs/openapi.json` is what the server makes
/// of it; a test fails when the two differ.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Classroom Board API",
        description = "JWT authentication and authorization for a small classroom board. \
                       Every error has the same body (`ErrorBody`); `docs/API.md` is the \
                       human reference, with every rule and decision.",
        license(name = "MIT", identifier = "MIT"),
    ),
    modifiers(&SecuritySchemes),
    components(schemas(MfaRequired, PasswordChangeBody, EmailChangeBody, PhoneChangeBody)),
    tags(
        (name = "auth", description = "Signing up and in, tokens and sessions"),
        (name = "account", description = "The caller's own account"),
        (name = "board", description = "Posts and grades"),
        (name = "admin", description = "Administration (the `admin` role)"),
        (name = "operations", description = "Health, keys and this document"),
    ),
)]
pub struct ApiDoc;

/// `bearer`: an access token in `Authorization`. `refresh_cookie`: the
/// refresh token's `HttpOnly` cookie, which a refresh or a logout may send
/// instead of a body.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "refresh_cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(super::tokens::COOKIE))),
        );
    }
}

/// `POST /api/account/password`: the proof and the new password, in one
/// object.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct PasswordChangeBody {
    #[serde(flatten)]
    proof: Reauth,
    #[serde(flatten)]
    change: NewPassword,
}

/// `POST /api/account/email`: the proof and the new address, in one object.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct EmailChangeBody {
    #[serde(flatten)]
    proof: Reauth,
    #[serde(flatten)]
    change: NewEmail,
}

/// `POST /api/account/phone`: the proof and the number, in one object.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct PhoneChangeBody {
    #[serde(flatten)]
    proof: Reauth,
    #[serde(flatten)]
    change: classboard::api::NewPhone,
}

/// What the gate refuses in every body and every address, as JSON Schema
/// says it: no NUL.
pub const NO_NUL: &str = r"^[^\u0000]*$";

/// The component that says "any JSON value without a NUL in any string or
/// name": what an object's other fields may hold.
const ANY_WITHOUT_NUL: &str = "AnyWithoutNul";

/// Says [`NO_NUL`] of every string the document describes (component
/// schemas, parameters, inline bodies) that does not already have a
/// pattern, and of every object's other fields and their names: the gate
/// (`api::gate`) refuses a NUL anywhere in a request, a field the server
/// ignores included, so a schema that allowed one would promise what the
/// server refuses.
pub fn refuse_nul(document: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{RefOr, path::Operation};
    if let Some(components) = document.components.as_mut() {
        for schema in components.schemas.values_mut() {
            no_nul_in(schema);
        }
        components
            .schemas
            .insert(ANY_WITHOUT_NUL.to_owned(), RefOr::T(any_without_nul()));
    }
    let in_operation = |operation: &mut Operation| {
        for parameter in operation.parameters.iter_mut().flatten() {
            if let RefOr::T(parameter) = parameter
                && let Some(schema) = parameter.schema.as_mut()
            {
                no_nul_in(schema);
            }
        }
        if let Some(RefOr::T(body)) = operation.request_body.as_mut() {
            for content in body.content.values_mut() {
                if let RefOr::T(content) = content
                    && let Some(schema) = content.schema.as_mut()
                {
                    no_nul_in(schema);
                }
            }
        }
    };
    for item in document.paths.paths.values_mut() {
        for operation in [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ]
        .into_iter()
        .flatten()
        {
            in_operation(operation);
        }
    }
}

fn no_nul_in(schema: &mut utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>) {
    use utoipa::openapi::{
        Ref, RefOr,
        schema::{AdditionalProperties, ArrayItems, Schema, SchemaType, Type},
    };
    let RefOr::T(schema) = schema else {
        return;
    };
    match schema {
        Schema::Object(object) => {
            let string = match &object.schema_type {
                SchemaType::Type(Type::String) => true,
                SchemaType::Array(types) => types.contains(&Type::String),
                _ => false,
            };
            if string
                && object.pattern.is_none()
                && object.format.is_none()
                && object.enum_values.is_none()
            {
                object.pattern = Some(NO_NUL.to_owned());
            }
            for property in object.properties.values_mut() {
                no_nul_in(property);
            }
            let object_type = match &object.schema_type {
                SchemaType::Type(Type::Object) => true,
                SchemaType::Array(types) => types.contains(&Type::Object),
                _ => false,
            };
            let closed = matches!(
                object.additional_properties.as_deref(),
                Some(AdditionalProperties::FreeForm(false))
            );
            if object_type && !closed {
                object.property_names = Some(Box::new(Schema::Object(no_nul_string())));
                if object.additional_properties.is_none()
                    || matches!(
                        object.additional_properties.as_deref(),
                        Some(AdditionalProperties::FreeForm(true))
                    )
                {
                    object.additional_properties = Some(Box::new(AdditionalProperties::RefOr(
                        RefOr::Ref(Ref::from_schema_name(ANY_WITHOUT_NUL)),
                    )));
                }
            }
        }
        Schema::Array(array) => {
            if let ArrayItems::RefOrSchema(items) = &mut array.items {
                no_nul_in(items);
            }
        }
        Schema::OneOf(one) => one.items.iter_mut().for_each(no_nul_in),
        Schema::AllOf(all) => all.items.iter_mut().for_each(no_nul_in),
        Schema::AnyOf(any) => any.items.iter_mut().for_each(no_nul_in),
        _ => {}
    }
}

fn no_nul_string() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(NO_NUL))
        .build()
}

/// [`ANY_WITHOUT_NUL`]: a string without NUL, a number, a boolean, null,
/// or an array or object of such values (names without NUL).
fn any_without_nul() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::{
        Ref, RefOr,
        schema::{
            AdditionalProperties, AnyOfBuilder, ArrayBuilder, ObjectBuilder, Schema, SchemaType,
            Type,
        },
    };
    let itself = || RefOr::Ref(Ref::from_schema_name(ANY_WITHOUT_NUL));
    let scalars = ObjectBuilder::new()
        .schema_type(SchemaType::Array(vec![
            Type::Number,
            Type::Boolean,
            Type::Null,
        ]))
        .build();
    let array = ArrayBuilder::new().items(itself()).build();
    let object = ObjectBuilder::new()
        .schema_type(Type::Object)
        .property_names(Some(no_nul_string()))
        .additional_properties(Some(AdditionalProperties::RefOr(itself())))
        .build();
    Schema::AnyOf(
        AnyOfBuilder::new()
            .item(no_nul_string())
            .item(scalars)
            .item(array)
            .item(object)
            .build(),
    )
}
