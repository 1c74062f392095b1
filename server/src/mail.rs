//! Mail: the letters the server writes to people, and how they are
//! delivered: through SMTP (`SMTP_URL`) or, by default, into
//! `DATA_DIR/outbox/` as `.eml` files a developer can open.
//!
//! A request never waits for delivery. It composes its letter, seals it (it
//! may hold a link with a token) and queues it in the outbox, in the
//! transaction of the change it tells of where there is one
//! (`delivery::Queue`); every instance's sender delivers it.

use std::{path::PathBuf, time::Duration};

use lettre::{
    Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    address::Envelope,
    message::{Mailbox, MultiPart},
};
use secrecy::ExposeSecret;

pub use crate::delivery::Prepared;
use crate::{
    config::Config,
    delivery::{Courier, Queue, Undelivered},
    store::{Db, outbox::Channel},
};

/// What a letter says.
#[derive(Debug, Clone, Copy)]
pub enum Letter<'a> {
    /// Proves the address an account signed up with (or asks again).
    VerifyEmail {
        username: &'a str,
        token: &'a str,
    },
    /// Proves a new address, which then replaces the old.
    ConfirmNewEmail {
        username: &'a str,
        token: &'a str,
    },
    /// To the old address, when a change to `new_email` is asked for.
    EmailChangeRequested {
        username: &'a str,
        new_email: &'a str,
    },
    ResetPassword {
        username: &'a str,
        token: &'a str,
    },
    PasswordWasReset {
        username: &'a str,
    },
    PasswordChanged {
        username: &'a str,
    },
    AccountDeleted {
        username: &'a str,
    },
    /// An admin removed the account's second factors.
    SecondFactorsRemoved {
        username: &'a str,
    },
    /// A phone number ending in `ending` was confirmed as the account's:
    /// codes may be texted to it.
    PhoneAdded {
        username: &'a str,
        ending: &'a str,
    },
    /// A code that signs in to the account at `email` instead of its
    /// password.
    SignInCode {
        username: &'a str,
        email: &'a str,
        code: &'a str,
    },
}

/// An error of composing or delivering mail.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("MAIL_FROM is not a mailbox: {0}")]
    From(lettre::address::AddressError),
    #[error("SMTP_URL: {0}")]
    SmtpUrl(lettre::transport::smtp::Error),
    #[error("the mail folder: {0}")]
    Folder(#[from] crate::files::FileError),
    #[error("cannot compose a message: {0}")]
    Compose(#[from] lettre::error::Error),
    #[error("a recipient is not an address: {0}")]
    Recipient(#[from] lettre::address::AddressError),
}

/// Composes letters and wakes the sender. Cheap to clone.
#[derive(Clone)]
pub struct Mailer {
    queue: Queue,
    from: Mailbox,
    /// Links point here, without a trailing slash.
    site: String,
}

impl Mailer {
    /// `site` is the public address links point at.
    pub fn new(
        db: Db,
        server_secret: &[u8],
        config: &Config,
        site: &url::Url,
    ) -> Result<Self, MailError> {
        let from = match &config.mail_from {
            Some(from) => from.parse().map_err(MailError::From)?,
            None => Mailbox::new(
                Some("Classboard".into()),
                Address::new("no-reply", site.host_str().unwrap_or("localhost"))
                    .map_err(MailError::From)?,
            ),
        };
        Ok(Self {
            queue: Queue::new(db, Channel::Mail, server_secret),
            from,
            site: site.as_str().trim_end_matches('/').to_owned(),
        })
    }

    /// Composes `letter` to `to` and seals it.
    pub fn prepare(&self, to: &str, letter: Letter<'_>) -> Result<Prepared, MailError> {
        let (subject, text, html) = self.compose(letter);
        let message = Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(None, to.parse()?))
            .subject(subject)
            .multipart(MultiPart::alternative_plain_html(text, html))?;
        Ok(self.queue.prepare(to, &message.formatted()))
    }

    /// Queues one prepared letter on its own (not in a change's
    /// transaction) and wakes the sender.
    pub async fn send(&self, prepared: &Prepared) -> Result<(), sqlx::Error> {
        self.queue.send(prepared).await
    }

    /// Tells this instance's sender that mail is waiting.
    pub fn wake(&self) {
        self.queue.wake();
    }

    /// Starts this instance's sender: it delivers due mail through
    /// `transport` until the process ends.
    pub fn spawn_sender(&self, transport: Transport) {
        self.queue.spawn_sender(Delivery {
            transport,
            from: self.from.clone(),
        });
    }

    /// The subject, the plain text and the HTML of `letter`.
    fn compose(&self, letter: Letter<'_>) -> (String, String, String) {
        let link = |path: &str, token: &str| format!("{}{path}?token={token}", self.site);
        // The code and the address go in the fragment, which the browser
        // never sends: they reach no log, and no page's `Referer`.
        let code_link = |email: &str, code: &str| {
            let email: String = url::form_urlencoded::byte_serialize(email.as_bytes()).collect();
            format!("{}/login/code#email={email}&code={code}", self.site)
        };
        let (subject, greeting, body, action): (&str, &str, String, Option<(String, &str, &str)>) =
            match letter {
                Letter::VerifyEmail { username, token } => (
                    "Confirm your email address",
                    username,
                    "Please confirm that this address is yours.".into(),
                    Some((link("/verify-email", token), "Confirm my address", token)),
                ),
                Letter::ConfirmNewEmail { username, token } => (
                    "Confirm your new email address",
                    username,
                    "You asked to use this address for your classboard account. It replaces \
                     the old one once you confirm."
                        .into(),
                    Some((
                        link("/verify-email", token),
                        "Confirm my new address",
                        token,
                    )),
                ),
                Letter::EmailChangeRequested {
                    username,
                    new_email,
                } => (
                    "Your email address is about to change",
                    username,
                    format!(
                        "Someone signed in to your account asked to change its address to \
                         {new_email}. Nothing changes until that address is confirmed. If this \
                         was not you, change your password now."
                    ),
                    None,
                ),
                Letter::ResetPassword { username, token } => (
                    "Reset your password",
                    username,
                    "Someone asked to reset the password of your account. If it was you, \
                     choose a new one with the link below; it works once, for 30 minutes. If \
                     it was not you, ignore this mail: nothing changes."
                        .into(),
                    Some((
                        link("/reset-password", token),
                        "Choose a new password",
                        token,
                    )),
                ),
                Letter::PasswordWasReset { username } => (
                    "Your password was reset",
                    username,
                    "Your password was reset with a link sent to this address, and every \
                     device was signed out. If this was not you, reset it again at once and \
                     check your second factors."
                        .into(),
                    None,
                ),
                Letter::PasswordChanged { username } => (
                    "Your password was changed",
                    username,
                    "Your password was changed, and your other devices were signed out. If \
                     this was not you, reset your password at once."
                        .into(),
                    None,
                ),
                Letter::AccountDeleted { username } => (
                    "Your account was deleted",
                    username,
                    "Your classboard account was deleted, as asked. Your posts stay, shown as \
                     by a deleted user."
                        .into(),
                    None,
                ),
                Letter::SignInCode {
                    username,
                    email,
                    code,
                } => (
                    "Your sign-in code",
                    username,
                    "Someone asked to sign in to your account with a code sent to this \
                     address. If it was you, use the link below or type the code; it works \
                     once, for 10 minutes. If it was not you, ignore this mail: nobody can \
                     sign in without the code."
                        .into(),
                    Some((code_link(email, code), "Sign in", code)),
                ),
                Letter::PhoneAdded { username, ending } => (
                    "A phone was added to your account",
                    username,
                    format!(
                        "The phone number ending in {ending} was confirmed for your account: \
                         signing in may now take a code texted to it. If this was not you, \
                         change your password now, and remove the phone from your account page."
                    ),
                    None,
                ),
                Letter::SecondFactorsRemoved { username } => (
                    "Your second factors were removed",
                    username,
                    "An administrator removed the second factors of your account: signing in \
                     now takes only your password. Add them again from your account page."
                        .into(),
                    None,
                ),
            };
        let mut text = format!("Hello {greeting},\n\n{body}\n");
        let mut html = format!(
            "<p>Hello {},</p>\n<p>{}</p>\n",
            escape(greeting),
            escape(&body)
        );
        if let Some((url, label, code)) = action {
            text.push_str(&format!(
                "\n{label}: {url}\n\nOr paste this code on that page: {code}\n"
            ));
            html.push_str(&format!(
                "<p><a href=\"{url}\">{label}</a></p>\n\
                 <p>Or paste this code on that page: <code>{code}</code></p>\n",
                url = escape(&url),
                label = escape(label),
                code = escape(code),
            ));
        }
        text.push_str("\n-- \nclassboard\n");
        html.push_str("<p>-- <br>classboard</p>\n");
        (subject.to_owned(), text, html)
    }
}

/// Text as HTML.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Where mail goes.
pub enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// Each message becomes `<its outbox id>.eml` in the folder, readable by
    /// the server's user only (it holds working links).
    Folder(PathBuf),
}

impl Transport {
    /// SMTP when `SMTP_URL` is set, otherwise `data_dir/outbox/`.
    pub fn from_config(config: &Config) -> Result<Self, MailError> {
        if let Some(url) = &config.smtp_url {
            let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret())
                .map_err(MailError::SmtpUrl)?
                .timeout(Some(Duration::from_secs(30)))
                .build();
            if config.public_url.is_none() {
                tracing::warn!(
                    "SMTP_URL is set but PUBLIC_URL is not: links in mail point at http://localhost"
                );
            }
            return Ok(Self::Smtp(transport));
        }
        let folder = config.data_dir.join("outbox");
        crate::files::data_dir(&folder)?;
        tracing::info!(folder = %folder.display(),
            "no SMTP_URL: mail is written into this folder, one .eml file per message");
        Ok(Self::Folder(folder))
    }

    /// Delivers the message `id`; on success, says where it went (for the
    /// log).
    async fn deliver(
        &self,
        id: &str,
        envelope: &Envelope,
        message: &[u8],
    ) -> Result<String, Undelivered> {
        match self {
            Self::Smtp(smtp) => smtp
                .send_raw(envelope, message)
                .await
                .map(|answer| format!("SMTP {}", answer.code()))
                .map_err(|e| e.to_string().into()),
            Self::Folder(folder) => {
                crate::delivery::into_folder(folder, format!("{id}.eml"), message).await
            }
        }
    }
}

/// Mail's courier: the transport, and the sender the envelope names.
struct Delivery {
    transport: Transport,
    from: Mailbox,
}

impl Courier for Delivery {
    async fn deliver(
        &self,
        id: &str,
        recipient: &str,
        message: &[u8],
    ) -> Result<String, Undelivered> {
        let envelope = envelope(&self.from, recipient)?;
        self.transport.deliver(id, &envelope, message).await
    }
}

/// The envelope of a message from `from` to `recipient`.
fn envelope(from: &Mailbox, recipient: &str) -> Result<Envelope, String> {
    let to: Address = recipient.parse().map_err(|e| format!("recipient: {e}"))?;
    Envelope::new(Some(from.email.clone()), vec![to]).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &tempfile::TempDir, vars: &[(&str, &str)]) -> Config {
        let data_dir = dir.path().display().to_string();
        Config::from_lookup(|k| {
            vars.iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| (*v).to_owned())
                .or_else(|| (k == "DATA_DIR").then(|| data_dir.clone()))
        })
        .unwrap()
    }

    #[tokio::test]
    async fn smtp_urls_choose_plain_starttls_or_implicit_tls() {
        let dir = tempfile::tempdir().unwrap();
        let config = |vars: &[(&str, &str)]| config(&dir, vars);
        for url in [
            "smtp://127.0.0.1:2525",
            "smtp://user:p%40ss@mail.example.org:587?tls=required",
            "smtp://mail.example.org?tls=opportunistic",
            "smtps://user:secret@mail.example.org",
        ] {
            let transport = Transport::from_config(&config(&[("SMTP_URL", url)]));
            assert!(matches!(transport, Ok(Transport::Smtp(_))), "{url}");
        }
        for bad in [
            "http://mail.example.org",
            "smtp://mail.example.org?tls=sometimes",
        ] {
            let transport = Transport::from_config(&config(&[("SMTP_URL", bad)]));
            assert!(matches!(transport, Err(MailError::SmtpUrl(_))), "{bad}");
        }
        let folder = Transport::from_config(&config(&[])).unwrap();
        assert!(
            matches!(folder, Transport::Folder(path) if path.ends_with("outbox") && path.is_dir())
        );
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(escape("a&b<c>\"d'"), "a&amp;b&lt;c&gt;&quot;d&#39;");
    }
}
