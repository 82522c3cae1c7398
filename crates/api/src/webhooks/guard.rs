//! Server-side request forgery guard: webhook URLs must be https (http only when
//! allowed) and must not reach loopback, private, link-local, multicast or unspecified
//! addresses, checked when an endpoint is saved and again at every delivery, where the
//! connection uses exactly the addresses checked (no second DNS answer can slip in).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use rapport_domain::FieldError;
use url::Url;

/// Whether a deliverable address.
pub fn public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => public_v4(v4),
            None => public_v6(v6),
        },
    }
}

fn public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0
        // Shared address space (carrier-grade NAT), 100.64.0.0/10.
        || (a == 100 && (64..128).contains(&b))
        // Benchmarking, 198.18.0.0/15; reserved, 240.0.0.0/4.
        || (a == 198 && (b == 18 || b == 19))
        || a >= 240)
}

fn public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        // Unique local fc00::/7, link-local fe80::/10, documentation 2001:db8::/32.
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || (first == 0x2001 && ip.segments()[1] == 0x0db8))
}

/// Parses and checks a webhook URL's form (scheme, host, no credentials).
/// # Errors
/// `url_not_allowed` or `invalid_format` at `/url`.
pub fn parse(raw: &str, allow_http: bool) -> Result<Url, FieldError> {
    let refuse = |why: &str| FieldError::new("/url", "url_not_allowed", why.to_owned());
    let url =
        Url::parse(raw.trim()).map_err(|e| FieldError::new("/url", "invalid_format", format!("is not a URL: {e}")))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_http => {}
        "http" => {
            return Err(refuse(
                "must be https (http is allowed only when RAPPORT_WEBHOOK_ALLOW_HTTP is set)",
            ));
        }
        _ => return Err(refuse("must be an https URL")),
    }
    if url.host().is_none() {
        return Err(refuse("must name a host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refuse("must not carry credentials"));
    }
    if raw.len() > 2000 {
        return Err(FieldError::new("/url", "too_long", "must be at most 2000 characters"));
    }
    Ok(url)
}

/// The addresses a URL's host stands for: the literal, or what DNS answers.
/// # Errors
/// When the host does not resolve.
pub async fn addresses(url: &Url) -> Result<Vec<IpAddr>, String> {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => Ok(vec![IpAddr::V4(ip)]),
        Some(url::Host::Ipv6(ip)) => Ok(vec![IpAddr::V6(ip)]),
        Some(url::Host::Domain(d)) => {
            let port = url.port_or_known_default().unwrap_or(443);
            let found = tokio::net::lookup_host((d, port))
                .await
                .map_err(|e| format!("{d} does not resolve: {e}"))?;
            Ok(found.map(|a| a.ip()).collect())
        }
        None => Err("no host".into()),
    }
}

/// Refuses a URL that reaches a non-public address (unless private ones are allowed).
/// A host that does not resolve now is accepted: each delivery checks again.
/// # Errors
/// `url_not_allowed` at `/url`.
pub async fn check(url: &Url, allow_private: bool) -> Result<(), FieldError> {
    if allow_private {
        return Ok(());
    }
    if let Ok(ips) = addresses(url).await
        && let Some(bad) = ips.into_iter().find(|ip| !public(*ip))
    {
        return Err(FieldError::new(
            "/url",
            "url_not_allowed",
            format!("reaches {bad}: loopback, private, link-local, multicast and unspecified addresses are refused"),
        ));
    }
    Ok(())
}

/// The resolver the delivery client uses: it drops non-public addresses, so a host
/// whose DNS now points inside the network is not reached.
#[derive(Clone, Copy, Debug)]
pub struct Resolver {
    pub allow_private: bool,
}

impl reqwest::dns::Resolve for Resolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            let kept: Vec<SocketAddr> = found.into_iter().filter(|a| allow_private || public(a.ip())).collect();
            if kept.is_empty() {
                return Err("address not allowed".into());
            }
            Ok(Box::new(kept.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.0.0.5",
            "172.16.3.4",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "ff02::1",
        ] {
            assert!(!public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "8.8.8.8"] {
            assert!(public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn only_https_urls_with_a_host_and_no_credentials_are_taken() {
        assert!(parse("https://hooks.example.com/in", false).is_ok());
        assert!(parse("http://hooks.example.com/in", true).is_ok());
        for bad in [
            "http://hooks.example.com/in",
            "ftp://x.example/",
            "https://user:pw@x.example/",
            "not a url",
        ] {
            assert!(parse(bad, false).is_err(), "{bad}");
        }
    }
}
