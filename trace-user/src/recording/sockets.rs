//! Sockets: how many of each (family, type) were created, and which ports were bound.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{Category, Recording};

/// Address family names by number (`AF_*` in the kernel's `include/linux/socket.h`, lower case
/// without the prefix, as AppArmor spells them), 0 ..= 45 (`AF_MCTP`).
pub const FAMILY_NAMES: [&str; 46] = [
    "unspec",
    "unix",
    "inet",
    "ax25",
    "ipx",
    "appletalk",
    "netrom",
    "bridge",
    "atmpvc",
    "x25",
    "inet6",
    "rose",
    "decnet",
    "netbeui",
    "security",
    "key",
    "netlink",
    "packet",
    "ash",
    "econet",
    "atmsvc",
    "rds",
    "sna",
    "irda",
    "pppox",
    "wanpipe",
    "llc",
    "ib",
    "mpls",
    "can",
    "tipc",
    "bluetooth",
    "iucv",
    "rxrpc",
    "isdn",
    "phonet",
    "ieee802154",
    "caif",
    "alg",
    "nfc",
    "vsock",
    "kcm",
    "qipcrtr",
    "smc",
    "xdp",
    "mctp",
];

/// Socket type names by number (`SOCK_*`); numbers without a name are `None`.
const TYPE_NAMES: [(u32, &str); 7] = [
    (1, "stream"),
    (2, "dgram"),
    (3, "raw"),
    (4, "rdm"),
    (5, "seqpacket"),
    (6, "dccp"),
    (10, "packet"),
];

/// The bits of `socket(2)`'s type argument that are the type; the rest are flags
/// (`SOCK_NONBLOCK`, `SOCK_CLOEXEC`).
pub const SOCK_TYPE_MASK: u32 = 0xf;

/// A name-or-number for a socket family or type, written as the name when there is one.
macro_rules! named_number {
    ($(#[$doc:meta])* $ty:ident, $lookup:expr, $reverse:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $ty(pub u32);

        impl $ty {
            /// The name, `None` for a number without one.
            pub fn name(self) -> Option<&'static str> {
                ($lookup)(self.0)
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.name() {
                    Some(name) => f.write_str(name),
                    None => write!(f, "{}", self.0),
                }
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                match self.name() {
                    Some(name) => serializer.serialize_str(name),
                    None => serializer.serialize_u32(self.0),
                }
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                #[derive(Deserialize)]
                #[serde(untagged)]
                enum NameOrNumber<'a> {
                    Number(u32),
                    Name(std::borrow::Cow<'a, str>),
                }
                match NameOrNumber::deserialize(deserializer)? {
                    // A number that has a name must be written as the name: one spelling each.
                    NameOrNumber::Number(nr) if ($lookup)(nr).is_none() => Ok($ty(nr)),
                    NameOrNumber::Number(nr) => Err(serde::de::Error::custom(format!(
                        "write {} as {:?}",
                        nr,
                        ($lookup)(nr).unwrap_or_default()
                    ))),
                    NameOrNumber::Name(name) => ($reverse)(&name).map($ty).ok_or_else(|| {
                        serde::de::Error::custom(format!(
                            concat!("unknown ", stringify!($ty), " {:?}"),
                            name
                        ))
                    }),
                }
            }
        }
    };
}

named_number!(
    /// An address family (`AF_INET` is 2, written `"inet"`).
    SocketFamily,
    |nr: u32| FAMILY_NAMES.get(usize::try_from(nr).ok()?).copied(),
    |name: &str| FAMILY_NAMES
        .iter()
        .position(|n| *n == name)
        .and_then(|nr| u32::try_from(nr).ok())
);

named_number!(
    /// A socket type without flags (`SOCK_STREAM` is 1, written `"stream"`).
    SocketType,
    |nr: u32| TYPE_NAMES.iter().find(|(n, _)| *n == nr).map(|(_, name)| *name),
    |name: &str| TYPE_NAMES.iter().find(|(_, n)| *n == name).map(|(nr, _)| *nr)
);

/// How many sockets of one family and type were created.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SocketUse {
    /// Address family.
    pub family: SocketFamily,
    /// Socket type.
    #[serde(rename = "type")]
    pub sock_type: SocketType,
    /// Sockets created.
    pub count: u64,
}

/// A port a socket was bound to (`bind(2)` with a non-zero port, inet and inet6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct BoundPort {
    /// Address family.
    pub family: SocketFamily,
    /// Socket type.
    #[serde(rename = "type")]
    pub sock_type: SocketType,
    /// The port.
    pub port: u16,
}

impl Recording {
    /// Adds `count` sockets created with `socket(family, sock_type, _)`; the flag bits of
    /// `sock_type` (`SOCK_NONBLOCK`, `SOCK_CLOEXEC`) are ignored. Keeps `sockets` sorted by
    /// (family, type) with one entry each, whatever the order of calls.
    pub fn record_socket(&mut self, family: u32, sock_type: u32, count: u64) {
        let (family, sock_type) = (SocketFamily(family), SocketType(sock_type & SOCK_TYPE_MASK));
        let key = |s: &SocketUse| (s.family, s.sock_type);
        match self.sockets.binary_search_by_key(&(family, sock_type), key) {
            Ok(i) => self.sockets[i].count = self.sockets[i].count.saturating_add(count),
            Err(i) => self.sockets.insert(
                i,
                SocketUse {
                    family,
                    sock_type,
                    count,
                },
            ),
        }
    }

    /// Records that a socket of `family` and `sock_type` (flag bits ignored) was bound to `port`.
    pub fn record_bound_port(&mut self, family: u32, sock_type: u32, port: u16) {
        self.bound_ports.insert(BoundPort {
            family: SocketFamily(family),
            sock_type: SocketType(sock_type & SOCK_TYPE_MASK),
            port,
        });
    }

    /// Whether `sockets` and `bound_ports` are a real observation rather than absent.
    pub fn sockets_recorded(&self) -> bool {
        self.events.recorded.contains(&Category::Sockets)
    }
}
