//! The rules an authenticator applies, and its decision: a pure function
//! of the rules and the request.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use super::request::{Credentials, ZapRequest};
use super::z85::z85_key;

/// The domain that stands for every domain in `set_plain`/`set_curve`.
pub const ANY_DOMAIN: &str = "*";

/// Which CURVE clients pass in a domain.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum CurveKeys {
    /// Any client that knows the server's public key.
    Any,
    /// Only these client public keys.
    Allow(Vec<[u8; 32]>),
}

/// What the authenticator answers.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Verdict {
    /// Status 200: the client passes, with this user id (the PLAIN user
    /// name, the Z85 text of the CURVE key, empty for NULL).
    Allow {
        /// The user id messages from the client carry (`User-Id`).
        user_id: Vec<u8>,
    },
    /// Status 400: the client is refused, for this reason.
    Deny(&'static str),
    /// Status 500: the request could not be handled, for this reason.
    Error(&'static str),
}

impl Verdict {
    /// The RFC 27 status code.
    pub fn status(&self) -> u16 {
        match self {
            Verdict::Allow { .. } => 200,
            Verdict::Deny(_) => 400,
            Verdict::Error(_) => 500,
        }
    }
}

/// An authenticator's rules. The default refuses every PLAIN and CURVE
/// client and lets NULL clients (of sockets with a ZAP domain) in.
#[derive(Clone, Default, Debug)]
pub struct ZapRules {
    deny_all: bool,
    allow: BTreeSet<IpAddr>,
    deny: BTreeSet<IpAddr>,
    plain: BTreeMap<String, BTreeMap<String, String>>,
    curve: BTreeMap<String, CurveKeys>,
}

/// One form per address: an IPv4 address mapped into IPv6 (as a dual-stack
/// socket reports an IPv4 peer) is the IPv4 address.
fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        IpAddr::V4(_) => addr,
    }
}

impl ZapRules {
    /// Rules that refuse every PLAIN and CURVE client.
    pub fn new() -> Self {
        Self::default()
    }

    /// Lets `addr` in; once any address is allowed, only allowed addresses
    /// pass.
    pub fn allow(&mut self, addr: IpAddr) {
        self.allow.insert(canonical(addr));
    }

    /// Refuses `addr` (while no address is allowed).
    pub fn deny(&mut self, addr: IpAddr) {
        self.deny.insert(canonical(addr));
    }

    /// PLAIN: these user names and passwords pass in `domain` (`"*"`:
    /// every domain), replacing that domain's list.
    pub fn set_plain(&mut self, domain: &str, users: impl IntoIterator<Item = (String, String)>) {
        self.plain
            .insert(domain.to_owned(), users.into_iter().collect());
    }

    /// CURVE: which client keys pass in `domain` (`"*"`: every domain).
    pub fn set_curve(&mut self, domain: &str, keys: CurveKeys) {
        self.curve.insert(domain.to_owned(), keys);
    }

    /// With `true`, every client of every mechanism is refused, whatever
    /// the other rules say.
    pub fn set_deny_all(&mut self, deny_all: bool) {
        self.deny_all = deny_all;
    }

    /// Whether the deny-all switch is on.
    pub fn is_deny_all(&self) -> bool {
        self.deny_all
    }

    /// The rules that apply in `domain`: its own entry and the `"*"` one.
    fn in_domain<'a, T>(
        map: &'a BTreeMap<String, T>,
        domain: &[u8],
    ) -> impl Iterator<Item = &'a T> {
        let own = std::str::from_utf8(domain).ok().and_then(|d| map.get(d));
        own.into_iter().chain(map.get(ANY_DOMAIN))
    }

    /// Whether the address rules let `address` (ZAP's text form) pass. An
    /// address that is not an IP address (another transport) passes only
    /// while no address is allowed.
    fn address_passes(&self, address: &[u8]) -> Result<(), &'static str> {
        let ip = std::str::from_utf8(address)
            .ok()
            .and_then(|a| a.parse::<IpAddr>().ok())
            .map(canonical);
        if !self.allow.is_empty() {
            return match ip {
                Some(ip) if self.allow.contains(&ip) => Ok(()),
                _ => Err("address not allowed"),
            };
        }
        match ip {
            Some(ip) if self.deny.contains(&ip) => Err("address denied"),
            _ => Ok(()),
        }
    }

    /// The decision on a well-formed request.
    pub fn decide(&self, req: &ZapRequest) -> Verdict {
        if self.deny_all {
            return Verdict::Deny("every client is refused");
        }
        if let Err(reason) = self.address_passes(&req.address) {
            return Verdict::Deny(reason);
        }
        match &req.credentials {
            Credentials::Null => Verdict::Allow {
                user_id: Vec::new(),
            },
            Credentials::Plain { user, password } => {
                let pass = Self::in_domain(&self.plain, &req.domain).any(|users| {
                    std::str::from_utf8(user)
                        .ok()
                        .and_then(|u| users.get(u))
                        .is_some_and(|p| p.as_bytes() == password.as_slice())
                });
                if pass {
                    Verdict::Allow {
                        user_id: user.clone(),
                    }
                } else {
                    Verdict::Deny("invalid user name or password")
                }
            }
            Credentials::Curve { key } => {
                let pass = Self::in_domain(&self.curve, &req.domain).any(|keys| match keys {
                    CurveKeys::Any => true,
                    CurveKeys::Allow(list) => list.contains(key),
                });
                if pass {
                    Verdict::Allow {
                        user_id: z85_key(key).into_bytes(),
                    }
                } else {
                    Verdict::Deny("unknown CURVE key")
                }
            }
        }
    }
}
