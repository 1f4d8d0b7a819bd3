//! What import knows about well-known images: the user they run as, the capabilities they
//! need (each with its reason), the port they listen on, a health check, the paths they must
//! write besides their volumes, and which credential variables they can read from a file.

pub struct Image {
    /// Repository names (without registry, `library/` or tag) this entry describes.
    pub names: &'static [&'static str],
    pub user: &'static str,
    /// Why this user (copied into the spec's comment).
    pub user_note: &'static str,
    pub caps: &'static [(&'static str, &'static str)],
    pub ports: &'static [u16],
    pub health: &'static [&'static str],
    /// tmpfs mounts the image writes besides /tmp and /run.
    pub tmpfs: &'static [&'static str],
    /// Variables the image reads from a file: (`VAR`, the variable naming the file).
    pub file_env: &'static [(&'static str, &'static str)],
    /// The image has a POSIX shell (a command can read a secret file with `$(cat ...)`).
    pub has_shell: bool,
    /// Reaches the internet by design (certificates, updates...): why.
    pub internet: Option<&'static str>,
    pub memory: Option<&'static str>,
    pub note: Option<&'static str>,
}

const PG_FILE: &[(&str, &str)] = &[
    ("POSTGRES_PASSWORD", "POSTGRES_PASSWORD_FILE"),
    ("POSTGRES_USER", "POSTGRES_USER_FILE"),
    ("POSTGRES_DB", "POSTGRES_DB_FILE"),
];
const MYSQL_FILE: &[(&str, &str)] = &[
    ("MYSQL_ROOT_PASSWORD", "MYSQL_ROOT_PASSWORD_FILE"),
    ("MYSQL_PASSWORD", "MYSQL_PASSWORD_FILE"),
    ("MARIADB_ROOT_PASSWORD", "MARIADB_ROOT_PASSWORD_FILE"),
    ("MARIADB_PASSWORD", "MARIADB_PASSWORD_FILE"),
];

pub const IMAGES: &[Image] = &[
    Image {
        names: &["postgres", "postgis/postgis"],
        user: "999:999",
        user_note: "the image's postgres user",
        caps: &[],
        ports: &[5432],
        health: &["pg_isready", "-h", "127.0.0.1"],
        tmpfs: &["/var/run/postgresql:1m"],
        file_env: PG_FILE,
        has_shell: true,
        internet: None,
        memory: Some("512m"),
        note: None,
    },
    Image {
        names: &["mysql"],
        user: "999:999",
        user_note: "the image's mysql user",
        caps: &[],
        ports: &[3306],
        health: &["mysqladmin", "ping", "-h", "127.0.0.1"],
        tmpfs: &["/var/run/mysqld:1m"],
        file_env: MYSQL_FILE,
        has_shell: true,
        internet: None,
        memory: Some("1g"),
        note: None,
    },
    Image {
        names: &["mariadb"],
        user: "999:999",
        user_note: "the image's mysql user",
        caps: &[],
        ports: &[3306],
        health: &["healthcheck.sh", "--connect", "--innodb_initialized"],
        tmpfs: &["/run/mysqld:1m"],
        file_env: MYSQL_FILE,
        has_shell: true,
        internet: None,
        memory: Some("512m"),
        note: None,
    },
    Image {
        names: &["redis", "valkey/valkey"],
        user: "999:999",
        user_note: "the image's redis user",
        caps: &[],
        ports: &[6379],
        health: &["redis-cli", "ping"],
        tmpfs: &[],
        file_env: &[],
        has_shell: true,
        internet: None,
        memory: None,
        note: None,
    },
    Image {
        names: &["memcached"],
        user: "11211:11211",
        user_note: "the image's memcache user",
        caps: &[],
        ports: &[11211],
        health: &[],
        tmpfs: &[],
        file_env: &[],
        has_shell: true,
        internet: None,
        memory: None,
        note: None,
    },
    Image {
        names: &["nginx", "nginxinc/nginx-unprivileged"],
        user: "101:101",
        user_note: "the image's nginx user (Docker 20.10+ lets it bind ports below 1024 without NET_BIND_SERVICE)",
        caps: &[],
        ports: &[80],
        health: &["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1/"],
        tmpfs: &["/var/cache/nginx:32m"],
        file_env: &[],
        has_shell: true,
        internet: None,
        memory: None,
        note: None,
    },
    Image {
        names: &["traefik"],
        user: "65534:65534",
        user_note: "nobody: traefik needs no user of its own",
        caps: &[],
        ports: &[80, 443, 8080],
        health: &["traefik", "healthcheck", "--ping"],
        tmpfs: &[],
        file_env: &[],
        has_shell: true,
        internet: Some("traefik obtains certificates from an ACME server"),
        memory: None,
        note: Some("the health check needs `--ping=true` in traefik's configuration"),
    },
    Image {
        names: &["caddy"],
        user: "65534:65534",
        user_note: "nobody: caddy needs no user of its own",
        caps: &[],
        ports: &[80, 443],
        health: &["wget", "-q", "--spider", "http://127.0.0.1:2019/config/"],
        tmpfs: &[],
        file_env: &[],
        has_shell: true,
        internet: Some("caddy obtains certificates from an ACME server"),
        memory: None,
        note: None,
    },
    Image {
        names: &["grafana/grafana", "grafana/grafana-oss"],
        user: "472:472",
        user_note: "the image's grafana user",
        caps: &[],
        ports: &[3000],
        health: &["wget", "-q", "--spider", "http://127.0.0.1:3000/api/health"],
        tmpfs: &[],
        file_env: &[
            ("GF_SECURITY_ADMIN_PASSWORD", "GF_SECURITY_ADMIN_PASSWORD__FILE"),
            ("GF_SECURITY_ADMIN_USER", "GF_SECURITY_ADMIN_USER__FILE"),
            ("GF_DATABASE_PASSWORD", "GF_DATABASE_PASSWORD__FILE"),
            ("GF_SECURITY_SECRET_KEY", "GF_SECURITY_SECRET_KEY__FILE"),
        ],
        has_shell: true,
        internet: None,
        memory: Some("512m"),
        note: None,
    },
    Image {
        names: &["prom/prometheus"],
        user: "65534:65534",
        user_note: "the image's nobody user",
        caps: &[],
        ports: &[9090],
        health: &["wget", "-q", "--spider", "http://127.0.0.1:9090/-/healthy"],
        tmpfs: &[],
        file_env: &[],
        has_shell: true,
        internet: None,
        memory: Some("512m"),
        note: None,
    },
    Image {
        names: &["prom/node-exporter"],
        user: "65534:65534",
        user_note: "the image's nobody user",
        caps: &[],
        ports: &[9100],
        health: &["wget", "-q", "--spider", "http://127.0.0.1:9100/metrics"],
        tmpfs: &[],
        file_env: &[],
        has_shell: true,
        internet: None,
        memory: None,
        note: Some("it reads the host's /proc and /sys: without them it reports the container only"),
    },
    Image {
        names: &["prom/alertmanager"],
        user: "65534:65534",
        user_note: "the image's nobody user",
        caps: &[],
        ports: &[9093],
        health: &["wget", "-q", "--spider", "http://127.0.0.1:9093/-/healthy"],
        tmpfs: &[],
        file_env: &[],
        has_shell: true,
        internet: None,
        memory: None,
        note: None,
    },
    Image {
        names: &["mongo"],
        user: "999:999",
        user_note: "the image's mongodb user",
        caps: &[],
        ports: &[27017],
        health: &["mongosh", "--quiet", "--eval", "db.adminCommand('ping')"],
        tmpfs: &[],
        file_env: &[
            ("MONGO_INITDB_ROOT_PASSWORD", "MONGO_INITDB_ROOT_PASSWORD_FILE"),
            ("MONGO_INITDB_ROOT_USERNAME", "MONGO_INITDB_ROOT_USERNAME_FILE"),
        ],
        has_shell: true,
        internet: None,
        memory: Some("1g"),
        note: None,
    },
    Image {
        names: &["rabbitmq"],
        user: "999:999",
        user_note: "the image's rabbitmq user",
        caps: &[],
        ports: &[5672],
        health: &["rabbitmq-diagnostics", "-q", "ping"],
        tmpfs: &[],
        file_env: &[],
        has_shell: true,
        internet: None,
        memory: Some("512m"),
        note: None,
    },
    Image {
        names: &["elasticsearch", "docker.elastic.co/elasticsearch/elasticsearch"],
        user: "1000:1000",
        user_note: "the image's elasticsearch user",
        caps: &[],
        ports: &[9200],
        health: &["curl", "-fsS", "http://127.0.0.1:9200/_cluster/health"],
        tmpfs: &[],
        file_env: &[("ELASTIC_PASSWORD", "ELASTIC_PASSWORD_FILE")],
        has_shell: true,
        internet: None,
        memory: Some("2g"),
        note: None,
    },
    Image {
        names: &["minio/minio"],
        user: "1000:1000",
        user_note: "minio runs as any user that owns its data volume",
        caps: &[],
        ports: &[9000],
        health: &["mc", "ready", "local"],
        tmpfs: &[],
        file_env: &[
            ("MINIO_ROOT_PASSWORD", "MINIO_ROOT_PASSWORD_FILE"),
            ("MINIO_ROOT_USER", "MINIO_ROOT_USER_FILE"),
        ],
        has_shell: true,
        internet: None,
        memory: Some("512m"),
        note: None,
    },
    Image {
        names: &["gitea/gitea"],
        user: "1000:1000",
        user_note: "the git user of the `-rootless` variant",
        caps: &[],
        ports: &[3000],
        health: &["curl", "-fsS", "http://127.0.0.1:3000/api/healthz"],
        tmpfs: &[],
        file_env: &[("GITEA__database__PASSWD", "GITEA__database__PASSWD__FILE")],
        has_shell: true,
        internet: Some("gitea mirrors and migrates repositories from other hosts"),
        memory: Some("512m"),
        note: Some("the plain gitea image starts as root (s6); use the `-rootless` tag"),
    },
    Image {
        names: &["nextcloud"],
        user: "33:33",
        user_note: "www-data, the user apache/php-fpm serve as",
        caps: &[],
        ports: &[80],
        health: &["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1/status.php"],
        tmpfs: &[],
        file_env: &[
            ("POSTGRES_PASSWORD", "POSTGRES_PASSWORD_FILE"),
            ("MYSQL_PASSWORD", "MYSQL_PASSWORD_FILE"),
            ("NEXTCLOUD_ADMIN_PASSWORD", "NEXTCLOUD_ADMIN_PASSWORD_FILE"),
            ("NEXTCLOUD_ADMIN_USER", "NEXTCLOUD_ADMIN_USER_FILE"),
            ("REDIS_HOST_PASSWORD", "REDIS_HOST_PASSWORD_FILE"),
        ],
        has_shell: true,
        internet: Some("nextcloud installs apps and checks for updates online"),
        memory: Some("512m"),
        note: Some("the image's entrypoint copies the app into /var/www/html as root on first start: the volume must already be owned by 33:33"),
    },
    Image {
        names: &["wordpress"],
        user: "33:33",
        user_note: "www-data, the user apache serves as",
        caps: &[],
        ports: &[80],
        health: &["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1/wp-login.php"],
        tmpfs: &[],
        file_env: &[
            ("WORDPRESS_DB_PASSWORD", "WORDPRESS_DB_PASSWORD_FILE"),
            ("WORDPRESS_DB_USER", "WORDPRESS_DB_USER_FILE"),
            ("WORDPRESS_AUTH_KEY", "WORDPRESS_AUTH_KEY_FILE"),
        ],
        has_shell: true,
        internet: Some("wordpress installs plugins and updates online"),
        memory: Some("512m"),
        note: Some("the image's entrypoint copies wordpress into /var/www/html as root on first start: the volume must already be owned by 33:33"),
    },
    Image {
        names: &["adminer"],
        user: "65534:65534",
        user_note: "nobody: adminer serves with php -S",
        caps: &[],
        ports: &[8080],
        health: &[],
        tmpfs: &[],
        file_env: &[],
        has_shell: true,
        internet: None,
        memory: None,
        note: None,
    },
    Image {
        names: &["vaultwarden/server"],
        user: "1000:1000",
        user_note: "vaultwarden runs as any user that owns /data",
        caps: &[],
        ports: &[80],
        health: &["/healthcheck.sh"],
        tmpfs: &[],
        file_env: &[("ADMIN_TOKEN", "ADMIN_TOKEN_FILE")],
        has_shell: true,
        internet: Some("vaultwarden fetches site icons and sends mail"),
        memory: None,
        note: None,
    },
];

/// The repository of an image reference: registry host, `library/`, tag and digest removed.
pub fn repository(image: &str) -> String {
    let no_digest = image.split('@').next().unwrap_or(image);
    let mut parts: Vec<&str> = no_digest.split('/').collect();
    if parts.len() > 1
        && (parts[0].contains('.') || parts[0].contains(':') || parts[0] == "localhost")
    {
        // keep docker.elastic.co style names whole when listed, else drop the registry
        let whole = no_digest
            .rsplit_once(':')
            .map(|(n, t)| if t.contains('/') { no_digest } else { n })
            .unwrap_or(no_digest);
        if IMAGES.iter().any(|i| i.names.contains(&whole)) {
            return whole.to_string();
        }
        parts.remove(0);
    }
    let joined = parts.join("/");
    let name = match joined.rsplit_once(':') {
        Some((n, t)) if !t.contains('/') => n.to_string(),
        _ => joined,
    };
    name.strip_prefix("library/")
        .map(String::from)
        .unwrap_or(name)
}

pub fn lookup(image: &str) -> Option<&'static Image> {
    let repo = repository(image);
    IMAGES.iter().find(|i| i.names.contains(&repo.as_str()))
}

/// Tag of an image reference.
pub fn tag(image: &str) -> Option<String> {
    let no_digest = image.split('@').next().unwrap_or(image);
    let last = no_digest.rsplit('/').next().unwrap_or(no_digest);
    last.split_once(':').map(|(_, t)| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repositories() {
        assert_eq!(repository("postgres:16"), "postgres");
        assert_eq!(repository("docker.io/library/redis:7@sha256:ab"), "redis");
        assert_eq!(repository("grafana/grafana:11.1.0"), "grafana/grafana");
        assert_eq!(repository("localhost:5000/x/y:1"), "x/y");
        assert_eq!(
            repository("docker.elastic.co/elasticsearch/elasticsearch:8.14.0"),
            "docker.elastic.co/elasticsearch/elasticsearch"
        );
        assert!(lookup("postgres:16.4-bookworm").is_some());
        assert_eq!(tag("ghcr.io/a/b:1.2"), Some("1.2".into()));
        for i in IMAGES {
            assert!(crate::model::User::parse(i.user).is_some_and(|u| u.uid != 0 && u.gid != 0));
            for (c, why) in i.caps {
                assert!(crate::caps::is_capability(c) && !why.is_empty());
            }
        }
    }
}
