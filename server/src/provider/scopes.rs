//! Scopes: what an app may ask for, how the consent page says each in
//! words, and which scope each API route takes from an app's token.
//!
//! A scope string is kept in one form everywhere: the server's scopes in
//! the order of [`SCOPES`], each once, space-separated. Two requests that
//! ask for the same things therefore store the same string.

/// The scopes an app may be registered for, in the order a scope string
/// keeps them.
pub const SCOPES: [&str; 7] = [
    "openid",
    "profile",
    "email",
    "roles",
    "offline_access",
    "grades:read",
    "posts:write",
];

/// The scopes an app may get for itself (`client_credentials`), with no
/// person behind it: reading grades, for a backend that reads them.
pub const FOR_APPS_THEMSELVES: [&str; 1] = ["grades:read"];

/// The `sid` of the tokens an app got for itself with its current secret
/// (`app`'s row): replacing the secret or removing the app revokes it, as
/// ending a session revokes its tokens.
pub fn own_sid(app: &crate::store::clients::ClientRow) -> String {
    let generation = app.secret_rotated_at.unwrap_or(app.created_at);
    format!("{}{generation}", own_sid_prefix(&app.id))
}

/// What every `sid` of `client_id`'s own tokens begins with.
pub fn own_sid_prefix(client_id: &str) -> String {
    format!("app:{client_id}:")
}

/// What the consent page says for each scope.
pub fn words(scope: &str) -> &'static str {
    match scope {
        "openid" => {
            "Know who you are on this site, and whether you are a student, a teacher or an admin"
        }
        "profile" => "See your username",
        "email" => "See your email address and whether it is confirmed",
        "roles" => "See your role (student, teacher or admin)",
        "offline_access" => "Stay connected while you are not using it",
        "grades:read" => "See your grades (a teacher's: the grades they can see)",
        "posts:write" => "Publish and delete posts in your name",
        _ => "Something this site does not know",
    }
}

/// The scopes of `scope` in the server's order, each once (unknown ones
/// left out).
pub fn in_order(scope: &str) -> Vec<&'static str> {
    SCOPES
        .into_iter()
        .filter(|known| scope.split(' ').any(|s| s == *known))
        .collect()
}

/// `asked`, in the one stored form, if the app registered for every scope
/// in it (`registered`); else the first scope it may not ask for.
pub fn granted(asked: &str, registered: &str) -> Result<String, String> {
    let mut any = false;
    for scope in asked.split(' ').filter(|s| !s.is_empty()) {
        any = true;
        if !SCOPES.contains(&scope) || !registered.split(' ').any(|r| r == scope) {
            return Err(scope.chars().take(64).collect());
        }
    }
    if !any {
        return Err("nothing".into());
    }
    Ok(in_order(asked).join(" "))
}

/// Whether every scope of `asked` is in `allowed`.
pub fn covers(allowed: &str, asked: &str) -> bool {
    asked
        .split(' ')
        .filter(|s| !s.is_empty())
        .all(|scope| allowed.split(' ').any(|a| a == scope))
}

/// Both scope strings' scopes, in the stored form.
pub fn union(a: &str, b: &str) -> String {
    in_order(&format!("{a} {b}")).join(" ")
}

/// Whether `scope` holds `one`.
pub fn has(scope: &str, one: &str) -> bool {
    scope.split(' ').any(|s| s == one)
}

/// The scope an app's token needs for the API route `path` (as the router
/// matched it) with `method`; `None` for every route an app may not use
/// at all (the account, admin and sign-in routes are the person's own;
/// `/api/me` too, since it shows the address: apps read who the person is
/// from `userinfo`, by the scopes allowed).
pub fn needed_for(method: &http::Method, path: &str) -> Option<&'static str> {
    use http::Method;
    match (method, path) {
        (&Method::GET, "/api/grades") => Some("grades:read"),
        (&Method::POST, "/api/posts") | (&Method::DELETE, "/api/posts/{id}") => Some("posts:write"),
        (&Method::GET | &Method::POST, "/oauth/userinfo") => Some("openid"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_string_has_one_form() {
        assert_eq!(
            granted("email  openid email", "openid email").unwrap(),
            "openid email"
        );
        assert_eq!(granted("profile", "openid").unwrap_err(), "profile");
        assert_eq!(granted("admin", "openid admin").unwrap_err(), "admin");
        assert!(granted(" ", "openid").is_err());
        assert_eq!(union("openid", "grades:read openid"), "openid grades:read");
        assert!(covers("openid profile", "profile"));
        assert!(!covers("openid", "openid profile"));
    }

    #[test]
    fn every_scope_is_said_in_words() {
        for scope in SCOPES {
            assert_ne!(words(scope), words("unknown"), "{scope}");
        }
    }

    #[test]
    fn apps_reach_only_the_routes_their_scopes_name() {
        use http::Method;
        assert_eq!(needed_for(&Method::GET, "/api/grades"), Some("grades:read"));
        assert_eq!(needed_for(&Method::POST, "/api/grades"), None);
        assert_eq!(needed_for(&Method::POST, "/api/posts"), Some("posts:write"));
        assert_eq!(needed_for(&Method::POST, "/api/roles"), None);
        assert_eq!(needed_for(&Method::DELETE, "/api/account"), None);
        assert_eq!(needed_for(&Method::GET, "/api/me"), None);
    }
}
