//! URL safety for webhooks (server-side request forgery): a webhook URL may
//! only reach public addresses. Loopback, private, shared (CGNAT),
//! link-local, cloud metadata, multicast, reserved and documentation
//! addresses are refused in every spelling — IPv4, IPv6, IPv4-mapped and
//! -compatible IPv6, NAT64 and 6to4, decimal / hex / octal / short IPv4
//! literals, and DNS names that resolve to any of them — unless the
//! operator's allowlist (`[alerts] webhook_allow`) names them. The check
//! runs at subscription ([`check_subscription`]: names are resolved through
//! a [`Resolver`], and one that does not resolve is refused) and again at
//! every send, and the send connects to the very address that was checked
//! (no second DNS lookup).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use serde::Deserialize;

/// Why a webhook URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("{url:?} is not a URL: {message}")]
    Syntax { url: String, message: String },
    #[error("{url:?}: only http and https webhooks are allowed")]
    Scheme { url: String },
    #[error("{url:?}: user names and passwords in webhook URLs are not allowed (use the signature to authenticate)")]
    Credentials { url: String },
    #[error("{url:?}: the address {addr} is {why}; refused (an operator can allow it with [alerts] webhook_allow)")]
    Forbidden {
        url: String,
        addr: IpAddr,
        why: &'static str,
    },
    #[error("{url:?}: the host name {host:?} is {why}; refused")]
    ForbiddenName {
        url: String,
        host: String,
        why: &'static str,
    },
    #[error("{url:?}: cannot resolve {host:?}: {message}")]
    Resolve {
        url: String,
        host: String,
        message: String,
    },
}

/// Networks the operator allows despite the rules (e.g. `127.0.0.1`,
/// `10.0.0.0/8`, `::1`). Parsed from strings; invalid entries are errors.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allowlist(Vec<(IpAddr, u8)>);

impl Allowlist {
    pub fn parse(entries: &[String]) -> Result<Allowlist, String> {
        let mut out = Vec::new();
        for e in entries {
            let e = e.trim();
            let (addr, len) = match e.split_once('/') {
                Some((a, l)) => (a, Some(l)),
                None => (e, None),
            };
            let ip: IpAddr = addr
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse()
                .map_err(|_| {
                    format!("webhook_allow: {e:?} is not an IP address or CIDR network")
                })?;
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let len = match len {
                Some(l) => l
                    .parse::<u8>()
                    .ok()
                    .filter(|l| *l <= max)
                    .ok_or_else(|| format!("webhook_allow: {e:?} has a bad prefix length"))?,
                None => max,
            };
            out.push((ip, len));
        }
        Ok(Allowlist(out))
    }

    pub fn allows(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0
            .iter()
            .any(|(net, len)| in_net(ip, canonical(*net), *len))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'de> Deserialize<'de> for Allowlist {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Vec::<String>::deserialize(d)?;
        Allowlist::parse(&v).map_err(serde::de::Error::custom)
    }
}

/// An IPv4-mapped IPv6 address is its IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => ip,
        },
        v4 => v4,
    }
}

fn in_net(ip: IpAddr, net: IpAddr, len: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if len == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(len))
            };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(len))
            };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

fn v4_in(ip: Ipv4Addr, net: [u8; 4], len: u8) -> bool {
    in_net(IpAddr::V4(ip), IpAddr::V4(Ipv4Addr::from(net)), len)
}

/// Why an IPv4 address is not a public destination, or `None` when it is.
fn classify_v4(ip: Ipv4Addr) -> Option<&'static str> {
    const RULES: &[([u8; 4], u8, &str)] = &[
        ([169, 254, 169, 254], 32, "a cloud metadata address"),
        ([168, 63, 129, 16], 32, "a cloud metadata address"),
        ([100, 100, 100, 200], 32, "a cloud metadata address"),
        ([0, 0, 0, 0], 8, "an unspecified (\"this network\") address"),
        ([127, 0, 0, 0], 8, "a loopback address"),
        ([10, 0, 0, 0], 8, "a private address"),
        ([172, 16, 0, 0], 12, "a private address"),
        ([192, 168, 0, 0], 16, "a private address"),
        ([100, 64, 0, 0], 10, "a shared (carrier-grade NAT) address"),
        ([169, 254, 0, 0], 16, "a link-local address"),
        ([192, 0, 0, 0], 24, "an IETF protocol address"),
        ([192, 0, 2, 0], 24, "a documentation address"),
        ([198, 51, 100, 0], 24, "a documentation address"),
        ([203, 0, 113, 0], 24, "a documentation address"),
        ([198, 18, 0, 0], 15, "a benchmarking address"),
        ([192, 88, 99, 0], 24, "a 6to4 relay address"),
        ([224, 0, 0, 0], 4, "a multicast address"),
        ([240, 0, 0, 0], 4, "a reserved (or broadcast) address"),
    ];
    RULES
        .iter()
        .find(|(net, len, _)| v4_in(ip, *net, *len))
        .map(|(_, _, why)| *why)
}

/// Why an address is not a public destination, or `None` when it is.
pub fn classify(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let bits = u128::from(ip);
    let seg = ip.segments();
    if ip.is_unspecified() {
        return Some("an unspecified address");
    }
    if ip.is_loopback() {
        return Some("a loopback address");
    }
    // Addresses that carry an IPv4 address are judged by it.
    if let Some(v4) = ip.to_ipv4_mapped() {
        // A mapped public address is still public.
        return classify_v4(v4);
    }
    let embedded = |b: u128| Ipv4Addr::from((b & 0xffff_ffff) as u32);
    // IPv4-compatible (::a.b.c.d, deprecated) and NAT64 (64:ff9b::/96).
    if bits >> 32 == 0 || bits >> 32 == 0x0064_ff9b_0000_0000_0000_0000 {
        return Some(classify_v4(embedded(bits)).unwrap_or("an IPv4-embedding address"));
    }
    if seg[0] == 0x2002 {
        // 6to4: the IPv4 address sits in bits 16..48.
        let v4 = Ipv4Addr::from(((bits >> 80) & 0xffff_ffff) as u32);
        return Some(classify_v4(v4).unwrap_or("a 6to4 address"));
    }
    const RULES: &[(u128, u8, &str)] = &[
        (
            0xfd00_0ec2_0000_0000_0000_0000_0000_0254,
            128,
            "a cloud metadata address",
        ),
        (0xfc00 << 112, 7, "a unique local (private) address"),
        (0xfe80 << 112, 10, "a link-local address"),
        (0xfec0 << 112, 10, "a site-local address"),
        (0xff00 << 112, 8, "a multicast address"),
        (0x2001_0db8 << 96, 32, "a documentation address"),
        (0x2001_0000 << 96, 32, "a Teredo address"),
        (0x0100 << 112, 64, "a discard-only address"),
        (0x3fff << 112, 20, "a documentation address"),
    ];
    RULES
        .iter()
        .find(|(net, len, _)| in_net(IpAddr::V6(ip), IpAddr::V6(Ipv6Addr::from(*net)), *len))
        .map(|(_, _, why)| *why)
}

/// Reads a host the way old resolvers read IPv4 literals: 1 to 4 parts,
/// each decimal, hex (`0x`) or octal (leading `0`); the last part fills the
/// remaining bytes (`127.1`, `2130706433`, `0x7f000001`, `0177.0.0.1`).
pub fn parse_loose_ipv4(host: &str) -> Option<Ipv4Addr> {
    let host = host.strip_suffix('.').unwrap_or(host);
    let parts: Vec<&str> = host.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut nums = Vec::with_capacity(parts.len());
    for p in &parts {
        let n = if let Some(h) = p.strip_prefix("0x").or_else(|| p.strip_prefix("0X")) {
            if h.is_empty() {
                0
            } else {
                u64::from_str_radix(h, 16).ok()?
            }
        } else if p.len() > 1 && p.starts_with('0') {
            u64::from_str_radix(&p[1..], 8).ok()?
        } else {
            p.parse::<u64>().ok()?
        };
        nums.push(n);
    }
    let (last, head) = nums.split_last()?;
    if head.iter().any(|n| *n > 255) {
        return None;
    }
    let rest_bits = 8 * (4 - head.len() as u32);
    if rest_bits < 64 && *last >= 1u64 << rest_bits {
        return None;
    }
    let mut v: u32 = 0;
    for (i, n) in head.iter().enumerate() {
        v |= (*n as u32) << (24 - 8 * i as u32);
    }
    v |= *last as u32;
    Some(Ipv4Addr::from(v))
}

/// A webhook URL that passed the syntax checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl {
    pub url: reqwest::Url,
    pub host: Host,
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Ip(IpAddr),
    Name(String),
}

/// Parses a webhook URL: http(s), a host, no credentials; IP literals in
/// every spelling are read as IPs, names that can only mean this machine
/// (`localhost`, `*.localhost`) are refused at once.
pub fn parse(s: &str, allow: &Allowlist) -> Result<WebhookUrl, UrlError> {
    let raw = s.trim();
    let url = reqwest::Url::parse(raw).map_err(|e| UrlError::Syntax {
        url: raw.to_owned(),
        message: e.to_string(),
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(UrlError::Scheme {
            url: raw.to_owned(),
        });
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UrlError::Credentials {
            url: raw.to_owned(),
        });
    }
    let port = url.port_or_known_default().unwrap_or(80);
    let host = match url.host() {
        Some(url::Host::Ipv4(v4)) => Host::Ip(IpAddr::V4(v4)),
        Some(url::Host::Ipv6(v6)) => Host::Ip(IpAddr::V6(v6)),
        Some(url::Host::Domain(d)) => {
            let d = d.to_ascii_lowercase();
            if let Some(v4) = parse_loose_ipv4(&d) {
                Host::Ip(IpAddr::V4(v4))
            } else {
                let bare = d.trim_end_matches('.');
                if bare == "localhost" || bare.ends_with(".localhost") {
                    return Err(UrlError::ForbiddenName {
                        url: raw.to_owned(),
                        host: d,
                        why: "this machine",
                    });
                }
                if bare == "metadata" || bare.ends_with(".internal") {
                    return Err(UrlError::ForbiddenName {
                        url: raw.to_owned(),
                        host: d,
                        why: "an internal (cloud metadata) name",
                    });
                }
                Host::Name(d)
            }
        }
        None => {
            return Err(UrlError::Syntax {
                url: raw.to_owned(),
                message: "no host".into(),
            })
        }
    };
    if let Host::Ip(ip) = &host {
        check_ip(raw, *ip, allow)?;
    }
    Ok(WebhookUrl { url, host, port })
}

fn check_ip(url: &str, ip: IpAddr, allow: &Allowlist) -> Result<(), UrlError> {
    match classify(ip) {
        Some(why) if !allow.allows(ip) => Err(UrlError::Forbidden {
            url: url.to_owned(),
            addr: ip,
            why,
        }),
        _ => Ok(()),
    }
}

/// Picks the address to connect to among a name's resolved addresses:
/// every one must pass (a name that also points inside is refused as a
/// whole, so a rebinding answer cannot slip through); the first is used.
pub fn check_resolved(
    w: &WebhookUrl,
    addrs: &[SocketAddr],
    allow: &Allowlist,
) -> Result<SocketAddr, UrlError> {
    let host = match &w.host {
        Host::Ip(ip) => {
            check_ip(w.url.as_str(), *ip, allow)?;
            return Ok(SocketAddr::new(*ip, w.port));
        }
        Host::Name(h) => h,
    };
    let Some(first) = addrs.first() else {
        return Err(UrlError::Resolve {
            url: w.url.to_string(),
            host: host.clone(),
            message: "no addresses".into(),
        });
    };
    for a in addrs {
        check_ip(w.url.as_str(), a.ip(), allow)?;
    }
    Ok(SocketAddr::new(first.ip(), w.port))
}

/// Looks host names up for the check at subscription: the system resolver
/// in production, a fixed table in tests.
pub trait Resolver: Send + Sync {
    /// Every address `host` resolves to (an error or none: it does not).
    fn lookup(&self, host: &str, port: u16) -> std::io::Result<Vec<IpAddr>>;
}

/// The operating system's resolver (`/etc/hosts`, then DNS). It blocks:
/// call it off the async threads.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn lookup(&self, host: &str, port: u16) -> std::io::Result<Vec<IpAddr>> {
        use std::net::ToSocketAddrs;
        Ok((host, port).to_socket_addrs()?.map(|a| a.ip()).collect())
    }
}

/// A fixed table of names and their addresses; other names do not resolve.
#[derive(Debug, Clone, Default)]
pub struct StaticResolver(pub std::collections::HashMap<String, Vec<IpAddr>>);

impl StaticResolver {
    /// Adds `name → addrs`.
    pub fn with(mut self, name: &str, addrs: &[IpAddr]) -> StaticResolver {
        self.0.insert(name.to_ascii_lowercase(), addrs.to_vec());
        self
    }
}

impl Resolver for StaticResolver {
    fn lookup(&self, host: &str, _port: u16) -> std::io::Result<Vec<IpAddr>> {
        let key = host.trim_end_matches('.').to_ascii_lowercase();
        self.0.get(&key).cloned().ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::NotFound, "name does not resolve")
        })
    }
}

/// The check at subscription: the syntax rules of [`parse`], then a name is
/// resolved and refused when it does not resolve or when any of its
/// addresses is not public (unless the allowlist names that address).
/// Delivery checks again at every send, against the addresses of that
/// moment (a name may be rebound after subscription).
pub fn check_subscription(
    s: &str,
    allow: &Allowlist,
    resolver: &dyn Resolver,
) -> Result<WebhookUrl, UrlError> {
    let w = parse(s, allow)?;
    if let Host::Name(h) = &w.host {
        let addrs = resolver.lookup(h, w.port).map_err(|e| UrlError::Resolve {
            url: s.trim().to_owned(),
            host: h.clone(),
            message: e.to_string(),
        })?;
        let addrs: Vec<SocketAddr> = addrs
            .into_iter()
            .map(|ip| SocketAddr::new(ip, w.port))
            .collect();
        check_resolved(&w, &addrs, allow)?;
    }
    Ok(w)
}

/// What a send checks a webhook URL against: the operator's allowlist and
/// the resolver of names (the runtime's, so tests can rebind a name).
#[derive(Clone)]
pub struct Checker {
    pub allow: Allowlist,
    pub resolver: std::sync::Arc<dyn Resolver>,
}

impl Checker {
    /// The allowlist with the system resolver.
    pub fn system(allow: &Allowlist) -> Checker {
        Checker {
            allow: allow.clone(),
            resolver: std::sync::Arc::new(SystemResolver),
        }
    }
}

/// Parses, resolves (once, on a blocking thread) and checks a webhook URL;
/// returns the URL and the checked address to connect to.
pub async fn resolve(s: &str, c: &Checker) -> Result<(WebhookUrl, SocketAddr), UrlError> {
    let w = parse(s, &c.allow)?;
    let addrs: Vec<SocketAddr> = match &w.host {
        Host::Ip(ip) => vec![SocketAddr::new(*ip, w.port)],
        Host::Name(h) => {
            let (r, host, port) = (c.resolver.clone(), h.clone(), w.port);
            let found = tokio::task::spawn_blocking(move || r.lookup(&host, port))
                .await
                .map_err(std::io::Error::other)
                .and_then(|x| x)
                .map_err(|e| UrlError::Resolve {
                    url: s.to_owned(),
                    host: h.clone(),
                    message: e.to_string(),
                })?;
            found
                .into_iter()
                .map(|ip| SocketAddr::new(ip, w.port))
                .collect()
        }
    };
    let addr = check_resolved(&w, &addrs, &c.allow)?;
    Ok((w, addr))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(u: &str) -> bool {
        matches!(
            parse(u, &Allowlist::default()),
            Err(UrlError::Forbidden { .. } | UrlError::ForbiddenName { .. })
        )
    }

    #[test]
    fn loopback_in_every_spelling_is_refused() {
        for u in [
            "http://127.0.0.1/hook",
            "http://127.1/hook",
            "http://127.0.0.1:8080/hook",
            "http://2130706433/hook",
            "http://0x7f000001/hook",
            "http://0x7F.0.0.1/hook",
            "http://0177.0.0.1/hook",
            "http://017700000001/hook",
            "http://127.000.000.001/hook",
            "http://[::1]/hook",
            "http://[0:0:0:0:0:0:0:1]/hook",
            "http://[::ffff:127.0.0.1]/hook",
            "http://[::ffff:7f00:1]/hook",
            "http://[::127.0.0.1]/hook",
            "http://[64:ff9b::127.0.0.1]/hook",
            "http://[2002:7f00:1::]/hook",
            "http://localhost/hook",
            "http://LOCALHOST./hook",
            "http://api.localhost/hook",
            "http://0.0.0.0/hook",
            "http://0/hook",
            "http://[::]/hook",
        ] {
            assert!(refused(u), "{u} must be refused");
        }
    }

    #[test]
    fn private_link_local_and_metadata_are_refused() {
        for u in [
            "http://10.0.0.1/",
            "http://10.255.255.255/",
            "http://172.16.0.1/",
            "http://172.31.255.254/",
            "http://192.168.1.1/",
            "http://100.64.0.1/",
            "http://169.254.169.254/latest/meta-data/",
            "http://169.254.0.1/",
            "http://0xa9fea9fe/",
            "http://2852039166/",
            "http://0251.0376.0251.0376/",
            "http://[::ffff:169.254.169.254]/",
            "http://[::ffff:a9fe:a9fe]/",
            "http://[::ffff:10.0.0.1]/",
            "http://[fd00:ec2::254]/",
            "http://[fc00::1]/",
            "http://[fd12:3456::1]/",
            "http://[fe80::1]/",
            "http://100.100.100.200/",
            "http://168.63.129.16/",
            "http://metadata.google.internal/",
            "http://224.0.0.1/",
            "http://255.255.255.255/",
            "http://[ff02::1]/",
        ] {
            assert!(refused(u), "{u} must be refused");
        }
    }

    #[test]
    fn public_addresses_and_names_pass_syntax() {
        for u in [
            "https://hooks.example.org/sebroker",
            "http://93.184.215.14/x",
            "https://[2606:4700::1111]/x",
            "http://[::ffff:93.184.215.14]/x",
            "http://172.32.0.1/",
            "http://11.0.0.1/",
        ] {
            assert!(parse(u, &Allowlist::default()).is_ok(), "{u} must pass");
        }
        assert!(matches!(
            parse("ftp://example.org/", &Allowlist::default()),
            Err(UrlError::Scheme { .. })
        ));
        assert!(matches!(
            parse("http://user:pw@example.org/", &Allowlist::default()),
            Err(UrlError::Credentials { .. })
        ));
        assert!(matches!(
            parse("not a url", &Allowlist::default()),
            Err(UrlError::Syntax { .. })
        ));
    }

    #[test]
    fn names_resolving_inside_are_refused_and_the_checked_ip_is_used() {
        let allow = Allowlist::default();
        let w = parse("https://hooks.example.org/x", &allow).expect("syntax");
        let public: SocketAddr = "93.184.215.14:443".parse().expect("addr");
        let inside: SocketAddr = "10.1.2.3:443".parse().expect("addr");
        let meta: SocketAddr = "[::ffff:169.254.169.254]:443".parse().expect("addr");
        assert_eq!(check_resolved(&w, &[public], &allow), Ok(public));
        assert!(check_resolved(&w, &[inside], &allow).is_err());
        assert!(check_resolved(&w, &[public, inside], &allow).is_err());
        assert!(check_resolved(&w, &[meta], &allow).is_err());
        assert!(check_resolved(&w, &[], &allow).is_err());
    }

    #[tokio::test]
    async fn localhost_names_resolve_to_refused_addresses() {
        // `localhost` is refused by name; a resolved loopback is refused by address.
        let allow = Allowlist::default();
        assert!(resolve("http://localhost:9/", &Checker::system(&allow))
            .await
            .is_err());
        let w = WebhookUrl {
            url: reqwest::Url::parse("http://my-box:9/").expect("url"),
            host: Host::Name("my-box".into()),
            port: 9,
        };
        let lo: SocketAddr = "127.0.0.1:9".parse().expect("addr");
        assert!(check_resolved(&w, &[lo], &allow).is_err());
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    fn names() -> StaticResolver {
        StaticResolver::default()
            .with("hosts-loopback.example", &[ip("127.0.0.1")])
            .with("v6-loopback.example", &[ip("::1")])
            .with("mapped-loopback.example", &[ip("::ffff:127.0.0.1")])
            .with("metadata.example", &[ip("169.254.169.254")])
            .with("private.example", &[ip("10.0.0.1")])
            .with("both.example", &[ip("93.184.215.14"), ip("127.0.0.1")])
            .with(
                "public.example",
                &[ip("93.184.215.14"), ip("2606:4700::1111")],
            )
            .with("empty.example", &[])
    }

    #[test]
    fn subscription_resolves_names_and_refuses_internal_ones() {
        let allow = Allowlist::default();
        let r = names();
        for host in [
            "hosts-loopback.example",
            "v6-loopback.example",
            "mapped-loopback.example",
            "metadata.example",
            "private.example",
            "both.example",
        ] {
            let e = check_subscription(&format!("https://{host}/hook"), &allow, &r);
            assert!(
                matches!(e, Err(UrlError::Forbidden { .. })),
                "{host}: {e:?}"
            );
        }
        for u in [
            "http://localhost/hook",
            "http://127.0.0.1/hook",
            "http://[::1]/hook",
            "http://[::ffff:127.0.0.1]/hook",
            "http://169.254.169.254/hook",
            "http://10.0.0.1/hook",
        ] {
            let e = check_subscription(u, &allow, &r);
            assert!(
                matches!(
                    e,
                    Err(UrlError::Forbidden { .. } | UrlError::ForbiddenName { .. })
                ),
                "{u}: {e:?}"
            );
        }
        for u in [
            "https://nothing-here.invalid/hook",
            "https://empty.example/hook",
        ] {
            let e = check_subscription(u, &allow, &r);
            assert!(matches!(e, Err(UrlError::Resolve { .. })), "{u}: {e:?}");
        }
        assert!(check_subscription("https://public.example/hook", &allow, &r).is_ok());
        assert!(check_subscription("https://PUBLIC.example./hook", &allow, &r).is_ok());
        // The operator's allowlist admits the addresses it names, only those.
        let lo = Allowlist::parse(&["127.0.0.1".into()]).expect("allow");
        assert!(check_subscription("http://hosts-loopback.example:9/", &lo, &r).is_ok());
        assert!(check_subscription("http://mapped-loopback.example:9/", &lo, &r).is_ok());
        assert!(check_subscription("http://both.example:9/", &lo, &r).is_ok());
        assert!(check_subscription("http://private.example:9/", &lo, &r).is_err());
        assert!(check_subscription("http://v6-loopback.example:9/", &lo, &r).is_err());
    }

    #[tokio::test]
    async fn a_name_rebound_inside_after_subscription_is_refused_at_send() {
        let allow = Allowlist::default();
        let before = names().with("rebind.example", &[ip("93.184.215.14")]);
        assert!(check_subscription("https://rebind.example/h", &allow, &before).is_ok());
        let checker = |r: StaticResolver| Checker {
            allow: allow.clone(),
            resolver: std::sync::Arc::new(r),
        };
        let (_, addr) = resolve("https://rebind.example/h", &checker(before.clone()))
            .await
            .expect("public");
        assert_eq!(addr, "93.184.215.14:443".parse().expect("addr"));
        let after = before.with("rebind.example", &[ip("127.0.0.1")]);
        assert!(matches!(
            resolve("https://rebind.example/h", &checker(after)).await,
            Err(UrlError::Forbidden { .. })
        ));
    }

    #[test]
    fn the_allowlist_admits_what_it_names() {
        let allow =
            Allowlist::parse(&["127.0.0.1".into(), "10.0.0.0/8".into(), "::1".into()]).expect("ok");
        assert!(parse("http://127.0.0.1:9/", &allow).is_ok());
        assert!(parse("http://0x7f000001:9/", &allow).is_ok());
        assert!(parse("http://[::ffff:127.0.0.1]:9/", &allow).is_ok());
        assert!(parse("http://10.9.8.7/", &allow).is_ok());
        assert!(parse("http://[::1]/", &allow).is_ok());
        assert!(parse("http://127.0.0.2/", &allow).is_err());
        assert!(parse("http://169.254.169.254/", &allow).is_err());
        assert!(Allowlist::parse(&["nope".into()]).is_err());
        assert!(Allowlist::parse(&["10.0.0.0/33".into()]).is_err());
    }

    #[test]
    fn loose_ipv4_literals() {
        assert_eq!(parse_loose_ipv4("127.1"), Some(Ipv4Addr::new(127, 0, 0, 1)));
        assert_eq!(
            parse_loose_ipv4("0x7f000001"),
            Some(Ipv4Addr::new(127, 0, 0, 1))
        );
        assert_eq!(
            parse_loose_ipv4("2130706433"),
            Some(Ipv4Addr::new(127, 0, 0, 1))
        );
        assert_eq!(
            parse_loose_ipv4("0177.0.0.01"),
            Some(Ipv4Addr::new(127, 0, 0, 1))
        );
        assert_eq!(parse_loose_ipv4("10.0.1"), Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(parse_loose_ipv4("example.org"), None);
        assert_eq!(parse_loose_ipv4("256.0.0.1"), None);
        assert_eq!(parse_loose_ipv4("1.2.3.4.5"), None);
        assert_eq!(parse_loose_ipv4("4294967296"), None);
    }
}
