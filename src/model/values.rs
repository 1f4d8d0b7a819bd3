//! The model's value types: each parsed once from the spec's text (users, addresses and
//! networks, ports, sizes, durations, CPU counts, restart policies, image references) and
//! shown back the way the spec writes it.

use std::fmt;
use std::net::Ipv4Addr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct User {
    pub uid: u32,
    pub gid: u32,
}

impl User {
    pub fn parse(s: &str) -> Option<User> {
        let (u, g) = s.split_once(':')?;
        Some(User {
            uid: parse_u32(u)?,
            gid: parse_u32(g)?,
        })
    }
}

fn parse_u32(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// An IPv4 network in CIDR notation, normalised (host bits must be zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ipv4Net {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

impl Ipv4Net {
    pub fn parse(s: &str) -> Result<Ipv4Net, String> {
        let (a, p) = s
            .split_once('/')
            .ok_or_else(|| "expected ADDRESS/PREFIX, e.g. `172.20.3.0/24`".to_string())?;
        let addr: Ipv4Addr = a
            .parse()
            .map_err(|_| format!("`{a}` is not an IPv4 address"))?;
        let prefix = parse_u32(p)
            .filter(|p| *p <= 32)
            .ok_or_else(|| format!("`{p}` is not a prefix length (0-32)"))?
            as u8;
        let net = Ipv4Net { addr, prefix };
        if net.network() != addr {
            return Err(format!(
                "host bits are set: the network is `{}`",
                Ipv4Net {
                    addr: net.network(),
                    prefix
                }
            ));
        }
        Ok(net)
    }

    pub fn mask(&self) -> u32 {
        if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - self.prefix)
        }
    }

    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) & self.mask())
    }

    pub fn size(&self) -> u64 {
        1u64 << (32 - self.prefix)
    }

    /// The address at `offset` from the network address.
    pub fn host(&self, offset: u32) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network()).wrapping_add(offset))
    }

    pub fn contains_net(&self, other: &Ipv4Net) -> bool {
        other.prefix >= self.prefix
            && (u32::from(other.addr) & self.mask()) == u32::from(self.network())
    }

    pub fn overlaps(&self, other: &Ipv4Net) -> bool {
        self.contains_net(other) || other.contains_net(self)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

/// `PORT[/tcp|/udp]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortProto {
    pub port: u16,
    pub proto: Proto,
}

impl PortProto {
    pub fn parse(s: &str) -> Result<PortProto, String> {
        if let Some((p, proto)) = s.split_once(':') {
            if matches!(proto.to_ascii_lowercase().as_str(), "tcp" | "udp") {
                return Err(format!(
                    "the protocol comes after a slash, not a colon: write `{p}/{}`",
                    proto.to_ascii_lowercase()
                ));
            }
        }
        let (p, proto) = match s.split_once('/') {
            Some((p, "tcp")) => (p, Proto::Tcp),
            Some((p, "udp")) => (p, Proto::Udp),
            Some((_, other)) => return Err(format!("unknown protocol `{other}` (tcp or udp)")),
            None => (s, Proto::Tcp),
        };
        Ok(PortProto {
            port: parse_port(p)?,
            proto,
        })
    }
}

fn parse_port(s: &str) -> Result<u16, String> {
    match parse_u32(s) {
        Some(n) if (1..=65535).contains(&n) => Ok(n as u16),
        _ => Err(format!("`{s}` is not a port number (1-65535)")),
    }
}

/// A published port: host address and port to container port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PublishedPort {
    pub host_ip: Ipv4Addr,
    pub host_port: u16,
    pub container: PortProto,
}

impl PublishedPort {
    /// `[IP:][HOST:]CONTAINER[/proto]`; the address defaults to 127.0.0.1.
    pub fn parse(s: &str) -> Result<PublishedPort, String> {
        let (body, proto) = match s.rsplit_once('/') {
            Some((b, "tcp")) => (b, Proto::Tcp),
            Some((b, "udp")) => (b, Proto::Udp),
            Some((_, other)) => return Err(format!("unknown protocol `{other}` (tcp or udp)")),
            None => (s, Proto::Tcp),
        };
        let parts: Vec<&str> = body.split(':').collect();
        // A common slip from other tools' syntax: the protocol after a colon.
        if let [.., last] = parts.as_slice() {
            if parts.len() > 1 && matches!(last.to_ascii_lowercase().as_str(), "tcp" | "udp") {
                let head = &body[..body.len() - last.len() - 1];
                return Err(format!(
                    "the protocol comes after a slash, not a colon: write `{head}/{}`",
                    last.to_ascii_lowercase()
                ));
            }
        }
        let (ip, host, container) = match parts.as_slice() {
            [c] => (None, *c, *c),
            [h, c] => (None, *h, *c),
            [ip, h, c] => (Some(*ip), *h, *c),
            _ => return Err("expected `[ADDRESS:][HOST_PORT:]PORT[/PROTO]`".into()),
        };
        let host_ip = match ip {
            None => Ipv4Addr::LOCALHOST,
            Some(ip) => ip
                .parse()
                .map_err(|_| format!("`{ip}` is not an IPv4 address"))?,
        };
        Ok(PublishedPort {
            host_ip,
            host_port: parse_port(host)?,
            container: PortProto {
                port: parse_port(container)?,
                proto,
            },
        })
    }
}

/// A size with a binary unit, kept as written (`512m`) for the output and as bytes for
/// comparisons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize {
    pub bytes: u64,
    pub amount: u64,
    pub unit: char,
}

impl ByteSize {
    pub fn parse(s: &str) -> Result<ByteSize, String> {
        let err =
            || format!("`{s}` is not a size: write a number and a unit k, m or g, e.g. `256m`");
        let unit = s.chars().last().ok_or_else(err)?.to_ascii_lowercase();
        let factor: u64 = match unit {
            'k' => 1 << 10,
            'm' => 1 << 20,
            'g' => 1 << 30,
            _ => return Err(err()),
        };
        let num = &s[..s.len() - 1];
        if num.is_empty() || num.len() > 9 || !num.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        let amount: u64 = num.parse().map_err(|_| err())?;
        if amount == 0 {
            return Err(format!("`{s}` is zero"));
        }
        Ok(ByteSize {
            bytes: amount * factor,
            amount,
            unit,
        })
    }
}

/// A duration as Docker writes it (`30s`, `1m`, `500ms`, `1h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Duration {
    pub millis: u64,
    pub amount: u64,
    pub unit: &'static str,
}

impl Duration {
    pub fn parse(s: &str) -> Result<Duration, String> {
        let err = || format!("`{s}` is not a duration: write e.g. `30s`, `500ms`, `2m`, `1h`");
        let split = s.find(|c: char| !c.is_ascii_digit()).ok_or_else(err)?;
        let (num, unit) = s.split_at(split);
        let (unit, factor): (&'static str, u64) = match unit {
            "ms" => ("ms", 1),
            "s" => ("s", 1000),
            "m" => ("m", 60_000),
            "h" => ("h", 3_600_000),
            _ => return Err(err()),
        };
        if num.is_empty() || num.len() > 7 {
            return Err(err());
        }
        let amount: u64 = num.parse().map_err(|_| err())?;
        if amount == 0 {
            return Err(format!("`{s}` is zero"));
        }
        Ok(Duration {
            millis: amount * factor,
            amount,
            unit,
        })
    }

    pub fn seconds(s: u64) -> Duration {
        Duration {
            millis: s * 1000,
            amount: s,
            unit: "s",
        }
    }
}

/// CPU cores in thousandths, so values compare and print exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cpus(pub u32);

impl Cpus {
    pub fn from_f64(v: f64) -> Option<Cpus> {
        if !v.is_finite() || !(0.01..=1024.0).contains(&v) {
            return None;
        }
        Some(Cpus((v * 1000.0).round() as u32))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restart {
    No,
    Always,
    UnlessStopped,
    OnFailure(Option<u32>),
}

impl Restart {
    pub fn parse(s: &str) -> Option<Restart> {
        Some(match s {
            "no" => Restart::No,
            "always" => Restart::Always,
            "unless-stopped" => Restart::UnlessStopped,
            "on-failure" => Restart::OnFailure(None),
            _ => Restart::OnFailure(Some(parse_u32(s.strip_prefix("on-failure:")?)?)),
        })
    }
}

/// A parsed image reference: `[registry/]repository[:tag][@sha256:digest]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl ImageRef {
    pub fn parse(s: &str) -> Result<ImageRef, String> {
        if s.is_empty() || s.len() > 255 {
            return Err("an image reference has 1 to 255 characters".into());
        }
        let (name, digest) = match s.split_once('@') {
            Some((n, d)) => {
                let hex = d
                    .strip_prefix("sha256:")
                    .ok_or_else(|| "a digest is written `@sha256:<64 hex digits>`".to_string())?;
                if hex.len() != 64 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
                    return Err("a digest is written `@sha256:<64 lower-case hex digits>`".into());
                }
                (n, Some(d.to_string()))
            }
            None => (s, None),
        };
        // A tag follows the last `:` after the last `/` (a registry may have a port).
        let last_slash = name.rfind('/').map_or(0, |i| i + 1);
        let (repository, tag) = match name[last_slash..].rfind(':') {
            Some(i) => (&name[..last_slash + i], Some(&name[last_slash + i + 1..])),
            None => (name, None),
        };
        let component_ok = |c: &str| {
            !c.is_empty()
                && c.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
                })
                && c.as_bytes()[0].is_ascii_alphanumeric()
                && c.as_bytes()[c.len() - 1].is_ascii_alphanumeric()
        };
        let mut comps = repository.split('/').peekable();
        let mut first = true;
        while let Some(c) = comps.next() {
            // The registry host may contain upper case letters and a port.
            let host_ok = first
                && comps.peek().is_some()
                && (c.contains('.') || c.contains(':') || c == "localhost")
                && c.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':'));
            if !host_ok && !component_ok(c) {
                return Err(format!(
                    "`{}` is not a valid repository name component (lower-case letters, digits, `.`, `_`, `-`)", c.escape_debug()
                ));
            }
            first = false;
        }
        if let Some(t) = tag {
            let ok = !t.is_empty()
                && t.len() <= 128
                && (t.as_bytes()[0].is_ascii_alphanumeric() || t.as_bytes()[0] == b'_')
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
            if !ok {
                return Err(format!("`{}` is not a valid tag", t.escape_debug()));
            }
        }
        Ok(ImageRef {
            repository: repository.to_string(),
            tag: tag.map(str::to_string),
            digest,
        })
    }
}

/// A value written into a `String` without `core::fmt`, for the renderers' hot paths (a
/// `to_string` or a `format!` of these cost several hundred instructions each, by the
/// thousand per build). The model's values have no other spelling: their `Display` writes
/// their `Text` (`display_by_text`), and the tests compare each with how `format!` wrote it.
pub trait Text {
    fn push_to(&self, out: &mut String);

    fn text(&self) -> String {
        let mut s = String::new();
        self.push_to(&mut s);
        s
    }
}

macro_rules! text_of_integers {
    ($($t:ty),*) => {$(
        impl Text for $t {
            fn push_to(&self, out: &mut String) {
                out.push_str(itoa::Buffer::new().format(*self));
            }
        }
    )*};
}

text_of_integers!(u8, u16, u32, u64, usize);

/// `Display` for the model's values is their `Text`: one home for how each is written.
macro_rules! display_by_text {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.text())
            }
        }
    )*};
}

display_by_text!(
    User,
    Ipv4Net,
    PortProto,
    PublishedPort,
    ByteSize,
    Duration,
    Cpus,
    Restart,
    ImageRef
);

impl Text for Ipv4Addr {
    fn push_to(&self, out: &mut String) {
        let [a, b, c, d] = self.octets();
        a.push_to(out);
        out.push('.');
        b.push_to(out);
        out.push('.');
        c.push_to(out);
        out.push('.');
        d.push_to(out);
    }
}

impl Text for User {
    fn push_to(&self, out: &mut String) {
        self.uid.push_to(out);
        out.push(':');
        self.gid.push_to(out);
    }
}

impl Text for Ipv4Net {
    fn push_to(&self, out: &mut String) {
        self.addr.push_to(out);
        out.push('/');
        self.prefix.push_to(out);
    }
}

impl Text for PortProto {
    fn push_to(&self, out: &mut String) {
        self.port.push_to(out);
        out.push('/');
        out.push_str(self.proto.as_str());
    }
}

impl Text for PublishedPort {
    fn push_to(&self, out: &mut String) {
        self.host_ip.push_to(out);
        out.push(':');
        self.host_port.push_to(out);
        out.push(':');
        self.container.push_to(out);
    }
}

impl Text for ByteSize {
    fn push_to(&self, out: &mut String) {
        self.amount.push_to(out);
        out.push(self.unit);
    }
}

impl Text for Duration {
    fn push_to(&self, out: &mut String) {
        self.amount.push_to(out);
        out.push_str(self.unit);
    }
}

impl Text for Cpus {
    fn push_to(&self, out: &mut String) {
        (self.0 / 1000).push_to(out);
        out.push('.');
        let frac = self.0 % 1000;
        if frac == 0 {
            out.push('0');
        } else {
            // Three digits, zero-padded, without the trailing zeros.
            let digits = [frac / 100, frac / 10 % 10, frac % 10];
            let len = if digits[2] != 0 {
                3
            } else if digits[1] != 0 {
                2
            } else {
                1
            };
            for d in &digits[..len] {
                out.push(char::from(b'0' + *d as u8));
            }
        }
    }
}

impl Text for Restart {
    fn push_to(&self, out: &mut String) {
        match self {
            Restart::No => out.push_str("no"),
            Restart::Always => out.push_str("always"),
            Restart::UnlessStopped => out.push_str("unless-stopped"),
            Restart::OnFailure(None) => out.push_str("on-failure"),
            Restart::OnFailure(Some(n)) => {
                out.push_str("on-failure:");
                n.push_to(out);
            }
        }
    }
}

impl Text for ImageRef {
    fn push_to(&self, out: &mut String) {
        out.push_str(&self.repository);
        if let Some(t) = &self.tag {
            out.push(':');
            out.push_str(t);
        }
        if let Some(d) = &self.digest {
            out.push('@');
            out.push_str(d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `v` written by `Text` (appended, and alone) and by `Display` is `expected`.
    fn same<T: Text + fmt::Display>(v: T, expected: String) {
        let mut pushed = String::from("x");
        v.push_to(&mut pushed);
        assert_eq!(pushed, format!("x{expected}"));
        assert_eq!(v.text(), expected);
        assert_eq!(v.to_string(), expected);
    }

    /// How `format!` wrote each value before `Text` (its `Display` then), the oracle the
    /// pushes must equal.
    fn cpus_by_format(c: Cpus) -> String {
        let (whole, frac) = (c.0 / 1000, c.0 % 1000);
        if frac == 0 {
            format!("{whole}.0")
        } else {
            format!("{whole}.{}", format!("{frac:03}").trim_end_matches('0'))
        }
    }

    fn restart_by_format(r: Restart) -> String {
        match r {
            Restart::No => "no".into(),
            Restart::Always => "always".into(),
            Restart::UnlessStopped => "unless-stopped".into(),
            Restart::OnFailure(None) => "on-failure".into(),
            Restart::OnFailure(Some(n)) => format!("on-failure:{n}"),
        }
    }

    fn image_by_format(i: &ImageRef) -> String {
        let mut s = i.repository.clone();
        if let Some(t) = &i.tag {
            s += &format!(":{t}");
        }
        if let Some(d) = &i.digest {
            s += &format!("@{d}");
        }
        s
    }

    #[test]
    fn text_is_what_display_writes() {
        for n in [
            0u64,
            1,
            9,
            10,
            99,
            100,
            4095,
            65535,
            u32::MAX as u64,
            u64::MAX,
        ] {
            same(n, n.to_string());
            same(n as u32, (n as u32).to_string());
            same(n as u16, (n as u16).to_string());
            same(n as u8, (n as u8).to_string());
            same(n as usize, (n as usize).to_string());
        }
        for a in [[0, 0, 0, 0], [127, 0, 0, 1], [10, 9, 255, 100], [255; 4]] {
            let addr = Ipv4Addr::from(a);
            same(addr, addr.to_string());
            for prefix in [0, 8, 24, 32] {
                same(Ipv4Net { addr, prefix }, format!("{addr}/{prefix}"));
            }
        }
        same(User { uid: 0, gid: 0 }, "0:0".into());
        same(
            User {
                uid: 65534,
                gid: 1000,
            },
            "65534:1000".into(),
        );
        for port in [1, 80, 65535] {
            for proto in [Proto::Tcp, Proto::Udp] {
                same(
                    PortProto { port, proto },
                    format!("{port}/{}", proto.as_str()),
                );
            }
        }
        for s in [
            "8080",
            "127.0.0.1:8080:80",
            "0.0.0.0:53:53/udp",
            "10.1.2.3:65535:1/tcp",
        ] {
            let p = PublishedPort::parse(s).expect("a port");
            let expected = format!(
                "{}:{}:{}/{}",
                p.host_ip,
                p.host_port,
                p.container.port,
                p.container.proto.as_str()
            );
            same(p, expected);
        }
        for s in ["512m", "1g", "64k", "10240m"] {
            let b = ByteSize::parse(s).expect("a size");
            same(b, format!("{}{}", b.amount, b.unit));
        }
        for s in ["30s", "1m", "500ms", "1h", "1234567ms"] {
            let d = Duration::parse(s).expect("a duration");
            same(d, format!("{}{}", d.amount, d.unit));
        }
        for c in (0..=3000).chain([10_000, 1_024_000, 123_456]) {
            same(Cpus(c), cpus_by_format(Cpus(c)));
        }
        for r in [
            Restart::No,
            Restart::Always,
            Restart::UnlessStopped,
            Restart::OnFailure(None),
            Restart::OnFailure(Some(0)),
            Restart::OnFailure(Some(5)),
            Restart::OnFailure(Some(u32::MAX)),
        ] {
            same(r, restart_by_format(r));
        }
        for s in [
            "nginx",
            "nginx:1.27",
            "registry.example.com:5000/team/app:v2@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "redis@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ] {
            let i = ImageRef::parse(s).expect("an image");
            let expected = image_by_format(&i);
            same(i, expected);
        }
    }
}
