//! Calls this server makes to the world outside, and how often it tries.
//!
//! Calls to addresses an app registered: its back-channel
//! logout address and its JWKS. An app is registered by an admin, or later
//! by anyone with dynamic registration, so such an address must not be a
//! way into the network the server sits in (server-side request forgery):
//! every name is resolved here, and a name any of whose addresses is
//! private, link-local, loopback (unless [`Outbound::new`] allows it, for
//! development), multicast or unspecified is refused before a connection
//! is made. No redirect is followed (it could lead anywhere), no proxy from
//! the environment is used (it would resolve the name itself), and every
//! call is bounded in time and in the bytes read.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// How long one call may take, connection included.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The pause after the first failed delivery (of mail, of a logout
/// token); each next one doubles, up to [`LONGEST_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_secs(5);
const LONGEST_PAUSE: Duration = Duration::from_secs(3600);

/// How long to wait after `attempts` failed attempts to deliver something
/// before trying again.
pub fn pause_after(attempts: i32) -> Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(16);
    (FIRST_PAUSE * 2u32.pow(doublings)).min(LONGEST_PAUSE)
}

/// Why a call to an app did not get an answer.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The address is one this server does not call; trying again will not
    /// help.
    #[error("{0}")]
    Refused(String),
    /// The app did not answer as asked (a network error, a status, a body
    /// too long); it may next time.
    #[error("{0}")]
    Failed(String),
}

/// The HTTP client for calls to apps.
#[derive(Clone)]
pub struct Outbound {
    client: reqwest::Client,
    allow_loopback: bool,
    /// Calls in flight at once, at most [`MAX_CALLS`]: apps that answer
    /// slowly cannot hold more of this process than that.
    calls: Arc<tokio::sync::Semaphore>,
}

/// The most calls to apps one process makes at once.
const MAX_CALLS: usize = 16;

impl Outbound {
    /// `allow_loopback` lets apps on this machine be called
    /// (`ALLOW_LOOPBACK_CALLS`, for development and tests).
    pub fn new(allow_loopback: bool) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(CALL_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("classboard/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(Arc::new(Guarded { allow_loopback }))
            .build()
            .expect("a client with a resolver and rustls builds");
        Self {
            client,
            allow_loopback,
            calls: Arc::new(tokio::sync::Semaphore::new(MAX_CALLS)),
        }
    }

    /// `POST`s `form` to `url`; the status the app answered.
    pub async fn post_form(
        &self,
        url: &str,
        form: &[(&str, &str)],
    ) -> Result<reqwest::StatusCode, CallError> {
        let url = self.checked(url)?;
        let _call = self
            .calls
            .acquire()
            .await
            .expect("the semaphore is never closed");
        let response = self
            .client
            .post(url)
            .form(form)
            .send()
            .await
            .map_err(failed)?;
        Ok(response.status())
    }

    /// `GET`s `url`, expecting `200` and at most `max_bytes` of body.
    pub async fn get(&self, url: &str, max_bytes: usize) -> Result<Vec<u8>, CallError> {
        let url = self.checked(url)?;
        let _call = self
            .calls
            .acquire()
            .await
            .expect("the semaphore is never closed");
        let mut response = self.client.get(url).send().await.map_err(failed)?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(CallError::Failed(format!(
                "answered {}",
                response.status().as_u16()
            )));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(failed)? {
            if body.len() + chunk.len() > max_bytes {
                return Err(CallError::Failed(format!(
                    "answered more than {max_bytes} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// `url` parsed, if this server calls it: `http` or `https`, and when the
    /// host is an address rather than a name (which the resolver never
    /// sees), an address it may call.
    fn checked(&self, url: &str) -> Result<reqwest::Url, CallError> {
        let url = reqwest::Url::parse(url).map_err(|e| CallError::Refused(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(CallError::Refused(format!("{}: not http(s)", url.scheme())));
        }
        let literal = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            Some(url::Host::Domain(_)) => None,
            None => return Err(CallError::Refused("no host".into())),
        };
        if let Some(ip) = literal {
            refuse_unless_callable(ip, self.allow_loopback)
                .map_err(|e| CallError::Refused(e.to_string()))?;
        }
        Ok(url)
    }
}

/// `e` as a [`CallError`]: [`CallError::Refused`] when the resolver refused
/// the name's addresses, else [`CallError::Failed`] with every cause.
/// Whether `url`'s host is this machine's loopback (`localhost`, or an
/// address of it).
pub fn is_loopback_url(url: &str) -> bool {
    match url::Url::parse(url).ok().as_ref().and_then(url::Url::host) {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

fn failed(e: reqwest::Error) -> CallError {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    let mut said = Vec::new();
    while let Some(error) = cause {
        if let Some(refused) = error.downcast_ref::<NotCallable>() {
            return CallError::Refused(refused.to_string());
        }
        said.push(error.to_string());
        cause = error.source();
    }
    // Without the URL, which may hold what the app put in its query.
    said[0] = e.without_url().to_string();
    CallError::Failed(said.join(": "))
}

/// An address this server does not call.
#[derive(Debug, thiserror::Error)]
#[error("{0} is a private, loopback or reserved address")]
struct NotCallable(IpAddr);

/// Resolves names as the system does, refusing those any of whose addresses
/// is not [`callable`]: a name that resolves to a public and a private
/// address is refused whole, rather than trusting which one is dialled.
struct Guarded {
    allow_loopback: bool,
}

impl Resolve for Guarded {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_loopback = self.allow_loopback;
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            if found.is_empty() {
                return Err(format!("{} has no address", name.as_str()).into());
            }
            for address in &found {
                refuse_unless_callable(address.ip(), allow_loopback)?;
            }
            let addrs: Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

fn refuse_unless_callable(ip: IpAddr, allow_loopback: bool) -> Result<(), NotCallable> {
    if callable(ip, allow_loopback) {
        Ok(())
    } else {
        Err(NotCallable(ip))
    }
}

/// Whether this server may call `ip`: a public unicast address, or a
/// loopback one when `allow_loopback`.
pub fn callable(ip: IpAddr, allow_loopback: bool) -> bool {
    match ip {
        IpAddr::V4(ip) => callable_v4(ip, allow_loopback),
        IpAddr::V6(ip) => match ip.to_ipv4_mapped() {
            Some(v4) => callable_v4(v4, allow_loopback),
            None => callable_v6(ip, allow_loopback),
        },
    }
}

fn callable_v4(ip: Ipv4Addr, allow_loopback: bool) -> bool {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        return allow_loopback;
    }
    !(ip.is_unspecified()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        // 0.0.0.0/8, shared address space (100.64.0.0/10, carrier NAT),
        // 192.0.0.0/24 (protocol assignments), benchmarking (198.18.0.0/15)
        // and 240.0.0.0/4 (reserved).
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && ip.octets()[2] == 0)
        || (a == 198 && (b == 18 || b == 19))
        || a >= 240)
}

fn callable_v6(ip: Ipv6Addr, allow_loopback: bool) -> bool {
    if ip.is_loopback() {
        return allow_loopback;
    }
    let [first, second, ..] = ip.segments();
    // Global unicast (2000::/3) only: unique local, link-local, multicast,
    // the unspecified and IPv4-compatible or -translated forms are not.
    // Within it, not the ranges that carry an IPv4 address this check would
    // not see, or lead nowhere public: 6to4 (2002::/16), Teredo and the
    // other protocol assignments (2001::/23), documentation (2001:db8::/32,
    // 3fff::/20), and NAT64 (64:ff9b::/96 lies outside 2000::/3 anyway).
    (first & 0xe000) == 0x2000
        && first != 0x2002
        && !(first == 0x2001 && second < 0x0200)
        && !(first == 0x2001 && second == 0x0db8)
        && (first & 0xfff0) != 0x3ff0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_up_to_an_hour() {
        assert_eq!(pause_after(1), Duration::from_secs(5));
        assert_eq!(pause_after(2), Duration::from_secs(10));
        assert_eq!(pause_after(5), Duration::from_secs(80));
        assert_eq!(pause_after(11), LONGEST_PAUSE);
        assert_eq!(pause_after(40), LONGEST_PAUSE);
    }

    #[test]
    fn only_public_unicast_addresses_are_called() {
        for ip in [
            "93.184.215.14",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:93.184.215.14",
        ] {
            assert!(callable(ip.parse().unwrap(), false), "{ip}");
        }
        for ip in [
            "127.0.0.1",
            "127.8.9.10",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "0.1.2.3",
            "255.255.255.255",
            "224.0.0.1",
            "192.0.0.8",
            "198.18.0.1",
            "240.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
            "64:ff9b::a9fe:a9fe",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "::ffff:0:a9fe:a9fe",
            "2002:a9fe:a9fe::1",
            "2001:0:4136:e378::1",
            "100::1",
            "3fff::1",
        ] {
            assert!(!callable(ip.parse().unwrap(), false), "{ip}");
        }
    }

    #[test]
    fn loopback_only_when_allowed_and_never_the_rest() {
        for ip in ["127.0.0.1", "::1", "::ffff:127.0.0.1"] {
            assert!(callable(ip.parse().unwrap(), true), "{ip}");
        }
        for ip in ["10.0.0.1", "169.254.169.254", "fe80::1", "0.0.0.0"] {
            assert!(!callable(ip.parse().unwrap(), true), "{ip}");
        }
    }

    #[test]
    fn loopback_issuers_are_told_apart() {
        for url in [
            "http://localhost:3000",
            "http://127.0.0.1:8080/",
            "http://[::1]/",
        ] {
            assert!(is_loopback_url(url), "{url}");
        }
        for url in ["https://board.example", "http://10.0.0.1", "not a url"] {
            assert!(!is_loopback_url(url), "{url}");
        }
    }

    #[tokio::test]
    async fn a_name_or_literal_that_leads_inside_is_refused_before_connecting() {
        let outbound = Outbound::new(false);
        for url in [
            "http://127.0.0.1:9/logout",
            "http://[::1]:9/logout",
            "http://169.254.169.254/latest/meta-data",
            "http://localhost:9/logout",
            "file:///etc/passwd",
        ] {
            let refused = outbound.post_form(url, &[("a", "b")]).await;
            assert!(
                matches!(&refused, Err(CallError::Refused(_))),
                "{url}: {refused:?}"
            );
        }
    }
}
