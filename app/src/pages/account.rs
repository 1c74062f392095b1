//! `/account`: who you are, where you are logged in, and the ways out.

use classboard::api::Session;
use leptos::{prelude::*, task::spawn_local};
use leptos_meta::Title;

use crate::{
    api, storage,
    visitor::{RequireLogin, Visitor, go_to, use_visitor},
};

#[component]
pub fn AccountPage() -> impl IntoView {
    view! {
        <Title text="Account"/>
        <h1>"Account"</h1>
        <Account console=false/>
    }
}

/// `/admin`: the console where admins find accounts and act on them (see
/// `admin`). To anyone else it is the not-found page, with a 404.
#[component]
pub fn AdminPage() -> impl IntoView {
    super::answer_with(404);
    view! {
        <Title text="Page not found"/>
        <Account console=true/>
    }
}

/// `/account`'s body; with `console`, `/admin`'s: the not-found text, or
/// for an admin `admin::AdminGate`, whose code arrives with the on-demand
/// sections'. An island of its own would be one more split
/// point, which cuts the code every page shares into more files that
/// compress worse.
#[island(lazy)]
pub(crate) fn Account(console: bool) -> impl IntoView {
    if console {
        // Fetched only for an admin: anyone else has nothing to download.
        let visitor = use_visitor();
        let gate = RwSignal::new(None::<ViewFn>);
        Effect::new(move |_| {
            if visitor.role() == Some(classboard::api::Role::Admin)
                && gate.with_untracked(Option::is_none)
            {
                spawn_local(async move { gate.set(Some(section(Section::Admin).await)) });
            }
        });
        return view! {
            {move || match gate.get() {
                Some(view) => view.run(),
                None => crate::pages::not_found::nothing_here().into_any(),
            }}
        }
        .into_any();
    }
    view! {
        <RequireLogin>
            <AccountDetails/>
        </RequireLogin>
    }
    .into_any()
}

#[component]
fn AccountDetails() -> impl IntoView {
    let visitor = use_visitor();
    let devices = Devices {
        visitor,
        list: RwSignal::new(None),
        more: RwSignal::new(None),
        error: RwSignal::new(None),
    };
    let busy = RwSignal::new(false);
    Effect::new(move |_| devices.load());
    view! {
        {move || visitor.user().map(|u| view! {
            <dl class="account">
                <dt>"Username"</dt><dd>{u.username}</dd>
                <dt>"Email"</dt><dd>{u.email} {(!u.email_verified).then_some(" (not confirmed yet)")}</dd>
                <dt>"Role"</dt><dd>{u.role.as_str()}</dd>
            </dl>
        })}
        {ON_DEMAND[..1].iter().map(|&(id, title, summary, button, which)| view! {
            <OnDemand id title summary=Signal::stored(summary) button=Signal::stored(button) which/>
        }).collect_view()}
        <TwoStepOnDemand/>
        {ON_DEMAND[1..].iter().map(|&(id, title, summary, button, which)| view! {
            <OnDemand id title summary=Signal::stored(summary) button=Signal::stored(button) which/>
        }).collect_view()}
        <h2>"Where you are logged in"</h2>
        <p class="form-error" role="alert" hidden=move || devices.error.with(Option::is_none)>
            {move || devices.error.get().unwrap_or_default()}
        </p>
        {move || match devices.list.get() {
            None => view! { <p class="status" role="status">"Loading sessions…"</p> }.into_any(),
            Some(list) => view! {
                <ul class="sessions">
                    {list.into_iter().map(|s| {
                        let id = s.id.clone();
                        let device = s.device.clone().or_else(|| s.user_agent.clone()).unwrap_or_else(|| "Unknown device".into());
                        let place = s.ip.clone().map(|ip| format!(" · from {ip}"));
                        let label = if s.current { "Revoke this device's session".to_owned() } else { format!("Revoke the session of {device}") };
                        view! {
                            <li>
                                <span class="device">{device}</span>
                                {s.current.then(|| view! { <strong class="this-device">" (this device)"</strong> })}
                                <span class="meta">"Signed in " {s.created_at.get(..10).unwrap_or_default().to_owned()}
                                    " · last used " {s.last_used_at.get(..16).unwrap_or_default().replace('T', " ")} " UTC" {place}</span>
                                <button type="button" class="secondary" on:click=move |_| devices.revoke(id.clone()) aria-label=label>
                                    "Revoke"
                                </button>
                            </li>
                        }
                    }).collect_view()}
                </ul>
            }.into_any(),
        }}
        <Show when=move || devices.more.with(Option::is_some)>
            <button type="button" class="secondary" on:click=move |_| devices.load_more()>"Show more devices"</button>
        </Show>
        <div class="actions">
            <button type="button" on:click=move |_| sign_out(false, busy) disabled=move || busy.get()>"Log out"</button>
            <button type="button" class="danger" on:click=move |_| sign_out(true, busy) disabled=move || busy.get()>
                "Log out everywhere"
            </button>
        </div>
    }
}

/// Where the account is logged in: its sessions, a page at a time.
#[derive(Clone, Copy)]
struct Devices {
    visitor: Visitor,
    list: RwSignal<Option<Vec<Session>>>,
    /// The cursor of the next page, when there is one.
    more: RwSignal<Option<String>>,
    error: RwSignal<Option<String>>,
}

impl Devices {
    fn fail(self, e: api::ApiError) {
        match e {
            api::ApiError::SessionEnded(ended) => self.visitor.ended(ended),
            e => self.error.set(Some(e.message())),
        }
    }

    /// The account as the server sees it now (a role may have changed),
    /// and the first page of sessions, fetched together.
    fn load(self) {
        spawn_local(async move {
            let (me, list) = futures::join!(api::me(), api::sessions(None));
            match me.and_then(|user| list.map(|list| (user, list))) {
                Ok((user, list)) => {
                    self.visitor.set_user(user);
                    self.list.set(Some(list.sessions));
                    self.more.set(list.next);
                }
                Err(e) => self.fail(e),
            }
        });
    }

    fn load_more(self) {
        let Some(before) = self.more.get_untracked() else {
            return;
        };
        spawn_local(async move {
            match api::sessions(Some(&before)).await {
                Ok(page) => {
                    self.list
                        .update(|d| d.get_or_insert_with(Vec::new).extend(page.sessions));
                    self.more.set(page.next);
                }
                Err(e) => self.fail(e),
            }
        });
    }

    fn revoke(self, id: String) {
        spawn_local(async move {
            match api::revoke_session(&id).await {
                Ok(()) => self
                    .list
                    .update(|d| d.iter_mut().for_each(|list| list.retain(|s| s.id != id))),
                Err(e) => self.fail(e),
            }
        });
    }
}

/// Logs out here, or everywhere, and goes to the login page.
fn sign_out(everywhere: bool, busy: RwSignal<bool>) {
    busy.set(true);
    spawn_local(async move {
        let result = if everywhere {
            api::logout_all().await
        } else {
            api::logout().await
        };
        if let Err(e) = result {
            // Logged out locally either way; say if the server did not hear it.
            leptos::logging::warn!("logout: {}", e.message());
        }
        storage::flash(if everywhere {
            "You are logged out on every device."
        } else {
            "You are logged out."
        });
        go_to("/login");
    });
}

/// The two-step section. Its code, the heaviest part of this page and not
/// needed on most visits, arrives when the person opens it: the page's
/// first visit stays within its download budget (docs/FRONTEND.md).
#[component]
fn TwoStepOnDemand() -> impl IntoView {
    let visitor = use_visitor();
    let on = move || visitor.user().is_some_and(|u| u.mfa);
    view! {
        <OnDemand
            id="two-step-heading"
            title="Two-step sign-in"
            summary=Signal::derive(move || if on() {
                "Two-step sign-in is on: signing in with a password also takes a passkey, or a code from your authenticator app or by text."
            } else {
                "Two-step sign-in is off. With it on, signing in takes your password and a code from an authenticator app on your phone."
            })
            button=Signal::derive(move || if on() { "Manage two-step sign-in" } else { "Set up two-step sign-in" })
            which=Section::TwoStep
        />
    }
}

/// The sections whose title, summary and button never change, in the
/// page's order (two-step sign-in goes after the first): heading id, title,
/// summary, button, section. One table rather than a component each: each
/// component was a copy of the same view code in the page's download.
const ON_DEMAND: [(&str, &str, &str, &str, Section); 4] = [
    (
        "settings-heading",
        "Email, password and deletion",
        "Change your email address or your password, or delete your account.",
        "Change email, password or account",
        Section::Settings,
    ),
    (
        "passkeys-heading",
        "Passkeys",
        "A passkey signs you in with this device's screen lock or a security key, with no password.",
        "Manage passkeys",
        Section::Passkeys,
    ),
    (
        "apps-heading",
        "Apps with access",
        "Apps you allowed to sign you in with this account, and what each may do.",
        "Show apps with access",
        Section::Apps,
    ),
    (
        "activity-heading",
        "Recent activity",
        "Sign-ins and changes to your account's security: what, when, from where and on which device.",
        "Show recent activity",
        Section::Activity,
    ),
];

/// A section whose code arrives when the person opens it: until then, its
/// title, a summary and the button that opens it. (Not generic over how the
/// code is fetched: one copy of it serves the four sections.)
#[component]
fn OnDemand(
    /// The heading's id, which labels the section.
    id: &'static str,
    title: &'static str,
    summary: Signal<&'static str>,
    button: Signal<&'static str>,
    /// The section whose code is fetched.
    which: Section,
) -> impl IntoView {
    // The section's view once its code has arrived.
    let view_of = RwSignal::new(None::<ViewFn>);
    let loading = RwSignal::new(false);
    let open = move |_| {
        loading.set(true);
        spawn_local(async move { view_of.set(Some(section(which).await)) });
    };
    view! {
        {move || match view_of.get() {
            Some(view) => view.run(),
            None => view! {
                <section aria-labelledby=id>
                    <h2 id=id>{title}</h2>
                    <p>{move || summary.get()}</p>
                    <button type="button" on:click=open disabled=move || loading.get()>
                        {move || button.get()}
                    </button>
                </section>
            }.into_any(),
        }}
    }
}

/// A section that arrives on demand.
#[derive(Clone, Copy)]
pub(crate) enum Section {
    Settings,
    TwoStep,
    Passkeys,
    Activity,
    Apps,
    /// "Confirm it's you" on `/authorize`, for an app that asks for a
    /// recent sign-in: the proof form's code (passkeys included) is not
    /// in that page's first download.
    Confirm(crate::pages::confirm::Confirm),
    /// The admin console (`/admin`), whose code arrives the same way.
    Admin,
}

/// The view of a section that arrives on demand, split into chunks of its
/// own. One split point for them all, and for the admin console: each split point divides the
/// code the page shares into more, smaller files, which compress worse.
#[leptos::lazy]
pub(crate) fn section(which: Section) -> ViewFn {
    match which {
        Section::Settings => ViewFn::from(|| view! { <crate::pages::settings::AccountSettings/> }),
        Section::TwoStep => ViewFn::from(|| view! { <crate::pages::two_step::TwoStepSignIn/> }),
        Section::Passkeys => ViewFn::from(|| view! { <crate::pages::passkeys::Passkeys/> }),
        Section::Activity => ViewFn::from(|| view! { <crate::pages::activity::RecentActivity/> }),
        Section::Apps => ViewFn::from(|| view! { <crate::pages::apps::AppsWithAccess/> }),
        Section::Confirm(confirm) => {
            ViewFn::from(move || view! { <crate::pages::confirm::ConfirmStep confirm/> })
        }
        Section::Admin => ViewFn::from(|| view! { <crate::pages::admin::AdminGate/> }),
    }
}
