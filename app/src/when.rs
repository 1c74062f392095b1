//! Times as people read them: "6 Dec, 18:21" in the reader's own time zone
//! (the year only when it is not this one), with the exact time, seconds and
//! offset included, on hover. Only lists that the browser fetches use it
//! (the admin console, recent activity): a page rendered on the server
//! cannot know the reader's time zone, and keeps UTC.

use leptos::prelude::*;

/// `at` (RFC 3339, as the API sends times) in a `<time>` element.
#[component]
pub fn Moment(at: String) -> impl IntoView {
    let (short, exact) = readable(&at);
    view! { <time datetime=at title=exact>{short}</time> }
}

/// The short and the exact reading of `at`, in the browser's time zone; the
/// text as it came if the browser cannot read it.
#[cfg(target_arch = "wasm32")]
fn readable(at: &str) -> (String, String) {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let date = js_sys::Date::new(&at.into());
    if date.get_time().is_nan() {
        return (at.to_owned(), at.to_owned());
    }
    let now = js_sys::Date::new_0();
    let month = MONTHS[date.get_month() as usize % 12];
    let (day, year) = (date.get_date(), date.get_full_year());
    let (hour, minute) = (date.get_hours(), date.get_minutes());
    let short = if year == now.get_full_year() {
        format!("{day} {month}, {hour:02}:{minute:02}")
    } else {
        format!("{day} {month} {year}, {hour:02}:{minute:02}")
    };
    // getTimezoneOffset is UTC minus local time, in minutes.
    let offset = -(date.get_timezone_offset() as i32);
    let sign = if offset < 0 { '-' } else { '+' };
    let exact = format!(
        "{day} {month} {year}, {hour:02}:{minute:02}:{:02} (UTC{sign}{:02}:{:02})",
        date.get_seconds(),
        offset.abs() / 60,
        offset.abs() % 60
    );
    (short, exact)
}

/// On the server (never reached: the lists are fetched by the browser), UTC.
#[cfg(not(target_arch = "wasm32"))]
fn readable(at: &str) -> (String, String) {
    let short = format!("{} UTC", at.get(..16).unwrap_or(at).replace('T', " "));
    (short, at.to_owned())
}
