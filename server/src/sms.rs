//! Texts: the codes the server texts to phones, and how they are delivered:
//! through a Twilio-compatible Messages API (`SMS_URL`) or, by default,
//! into `DATA_DIR/sms/` as one text file per message.
//!
//! Like mail, a request never waits for delivery: it composes its text,
//! seals it (it holds a code) and queues it in the outbox in the
//! transaction that stores the code (`delivery::Queue`); every instance's
//! sender delivers it, with retries.

use std::{path::PathBuf, time::Duration};

use secrecy::ExposeSecret;

pub use crate::delivery::Prepared;
use crate::{
    config::{Config, SmsUrl},
    delivery::{Courier, Queue, Undelivered},
    files::FileError,
    store::{Db, outbox::Channel},
};

/// How long one call to the Messages API may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// What a text says. (No `Debug`: it holds a code.)
#[derive(Clone, Copy)]
pub enum Text<'a> {
    /// Confirms a number before it becomes the account's.
    ConfirmPhone { code: &'a str },
    /// The second step of a sign-in.
    SignIn { code: &'a str },
    /// A proof of presence for a sensitive change.
    Proof { code: &'a str },
}

/// Composes texts and wakes the sender. Cheap to clone.
#[derive(Clone)]
pub struct Texter {
    queue: Queue,
    /// The site's host, which a text's last line names so that a browser
    /// offers its code to this site only (origin-bound one-time codes, as
    /// the WebOTP API reads them).
    host: String,
}

impl Texter {
    pub fn new(db: Db, server_secret: &[u8], site: &url::Url) -> Self {
        Self {
            // A text's code works for ten minutes: one not sent by then is
            // dropped rather than paid for.
            queue: Queue::new(db, Channel::Sms, server_secret)
                .expiring_after(crate::auth::phones::CODE_TTL),
            host: site.host_str().unwrap_or("localhost").to_owned(),
        }
    }

    /// Composes `text` to the E.164 number `to` and seals it.
    pub fn prepare(&self, to: &str, text: Text<'_>) -> Prepared {
        self.queue.prepare(to, compose(&self.host, text).as_bytes())
    }

    /// Tells this instance's sender that a text is waiting.
    pub fn wake(&self) {
        self.queue.wake();
    }

    /// Starts this instance's sender.
    pub fn spawn_sender(&self, transport: Transport) {
        self.queue.spawn_sender(transport);
    }
}

/// The body of `text`: short (one SMS segment), the code first, and last
/// the line that binds it to `host`.
fn compose(host: &str, text: Text<'_>) -> String {
    let (code, what) = match text {
        Text::ConfirmPhone { code } => (code, "confirms this number for your account"),
        Text::SignIn { code } => (code, "finishes your sign-in"),
        Text::Proof { code } => (code, "confirms a change to your account"),
    };
    format!(
        "{code} is your classboard code: it {what}. It works once, for 10 minutes. \
         Never share it.\n\n@{host} #{code}"
    )
}

/// An error of setting up delivery.
#[derive(Debug, thiserror::Error)]
pub enum SmsError {
    #[error("the SMS folder: {0}")]
    Folder(#[from] FileError),
    #[error("SMS_URL: cannot build an HTTP client: {0}")]
    Client(reqwest::Error),
}

/// Where texts go.
pub enum Transport {
    /// A Twilio-compatible Messages API.
    Api {
        client: reqwest::Client,
        url: SmsUrl,
    },
    /// Each text becomes `<its outbox id>.txt` in the folder, readable by
    /// the server's user only (it holds a working code).
    Folder(PathBuf),
}

impl Transport {
    /// The Messages API when `SMS_URL` is set, otherwise `data_dir/sms/`.
    pub fn from_config(config: &Config) -> Result<Self, SmsError> {
        if let Some(url) = &config.sms_url {
            let client = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .timeout(CALL_TIMEOUT)
                .user_agent(concat!("classboard/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(SmsError::Client)?;
            if config.sms_allowed_countries.is_none() {
                tracing::warn!(
                    "SMS_URL is set but SMS_ALLOWED_COUNTRIES is not: no phone number can be added"
                );
            }
            tracing::info!(api = %url.base, "texts go through the Messages API");
            return Ok(Self::Api {
                client,
                url: url.clone(),
            });
        }
        let folder = config.data_dir.join("sms");
        crate::files::data_dir(&folder)?;
        tracing::info!(folder = %folder.display(),
            "no SMS_URL: texts are written into this folder, one .txt file per message");
        Ok(Self::Folder(folder))
    }
}

impl Courier for Transport {
    async fn deliver(
        &self,
        id: &str,
        recipient: &str,
        message: &[u8],
    ) -> Result<String, Undelivered> {
        match self {
            Self::Folder(folder) => {
                let file = [format!("To: {recipient}\n\n").as_bytes(), message].concat();
                crate::delivery::into_folder(folder, format!("{id}.txt"), &file).await
            }
            Self::Api { client, url } => post_message(client, url, recipient, message).await,
        }
    }
}

/// `POST /2010-04-01/Accounts/{sid}/Messages.json` with `To`, `From` (or
/// `MessagingServiceSid` for a sender that names a messaging service) and
/// `Body`, the account's id and token as Basic credentials. Says the
/// message's id on success; on failure the status and the provider's error
/// code, never the token nor the text. A `4xx` other than `408` and `429`
/// refused this message for good (a number the provider will not text, a
/// wrong account): it is not tried again.
async fn post_message(
    client: &reqwest::Client,
    url: &SmsUrl,
    to: &str,
    body: &[u8],
) -> Result<String, Undelivered> {
    let body = String::from_utf8_lossy(body);
    let endpoint = format!(
        "{}/2010-04-01/Accounts/{}/Messages.json",
        url.base, url.account_sid
    );
    let sender = if url.from.starts_with("MG") {
        "MessagingServiceSid"
    } else {
        "From"
    };
    let response = client
        .post(&endpoint)
        .basic_auth(&url.account_sid, Some(url.auth_token.expose_secret()))
        .form(&[("To", to), (sender, url.from.as_str()), ("Body", &body)])
        .send()
        .await
        .map_err(|e| {
            let e = e.without_url();
            let mut why = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(cause) = source {
                why.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            Undelivered::from(format!("the Messages API cannot be reached: {why}"))
        })?;
    let status = response.status();
    let answer: serde_json::Value = response.json().await.unwrap_or_default();
    if !status.is_success() {
        let code = answer.get("code").map(ToString::to_string);
        return Err(Undelivered {
            why: format!(
                "the Messages API answered {status} (error code {})",
                code.as_deref().unwrap_or("none")
            ),
            permanent: status.is_client_error() && !matches!(status.as_u16(), 408 | 429),
        });
    }
    let sid = answer
        .get("sid")
        .and_then(|sid| sid.as_str())
        .unwrap_or("?");
    Ok(format!("Messages API, message {sid}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_holds_its_code_and_names_the_site_for_webotp() {
        for text in [
            Text::ConfirmPhone { code: "123456" },
            Text::SignIn { code: "123456" },
            Text::Proof { code: "123456" },
        ] {
            let body = compose("board.example", text);
            assert!(body.starts_with("123456 is your classboard code"), "{body}");
            assert!(body.ends_with("\n\n@board.example #123456"), "{body}");
            assert!(body.len() <= 160, "one segment: {}", body.len());
        }
    }
}
