//! The local stack (`docker-compose.yml`, `Dockerfile`) agrees with the
//! README: the same services, health-gated start-up, and the same defaults
//! as the configuration table. Needs no running service (nor Docker).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

fn project_file(name: &str) -> (PathBuf, String) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (path, text)
}

fn compose() -> Value {
    let (path, text) = project_file("docker-compose.yml");
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `variable → default` from the README's configuration table.
fn readme_defaults() -> BTreeMap<String, String> {
    let (_, readme) = project_file("README.md");
    let section = readme
        .split("\n## ")
        .find(|s| s.starts_with("Configuration"))
        .unwrap_or_else(|| panic!("README.md has no Configuration section"));
    let mut defaults = BTreeMap::new();
    for line in section.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // ["", "`NAME`", "`default`", "meaning", ""]
        let (Some(name), Some(default)) = (cells.get(1), cells.get(2)) else {
            continue;
        };
        let unquote = |s: &str| s.trim_matches('`').to_owned();
        defaults.insert(unquote(name), unquote(default));
    }
    for variable in ["DATABASE_URL", "AMQP_URL", "HTTP_ADDR", "RUST_LOG"] {
        assert!(
            defaults.contains_key(variable),
            "README's configuration table lists no default for {variable}: {defaults:?}"
        );
    }
    defaults
}

/// The parts of a `scheme://user[:password]@host[:port][/path]` URL.
#[derive(Debug, PartialEq)]
struct Url {
    scheme: String,
    user: String,
    password: Option<String>,
    host: String,
    port: Option<u16>,
    path: String,
}

fn url(raw: &str) -> Url {
    let (scheme, rest) = raw.split_once("://").unwrap_or_else(|| panic!("{raw} is not a URL"));
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (userinfo, hostport) = authority.rsplit_once('@').unwrap_or(("", authority));
    let (user, password) = match userinfo.split_once(':') {
        Some((user, password)) => (user, Some(password.to_owned())),
        None => (userinfo, None),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((host, port)) => (host, Some(port.parse().unwrap_or_else(|e| panic!("{raw}: port {e}")))),
        None => (hostport, None),
    };
    Url {
        scheme: scheme.to_owned(),
        user: user.to_owned(),
        password,
        host: host.to_owned(),
        port,
        path: path.to_owned(),
    }
}

/// The Dockerfile's instructions, one string each: comments dropped,
/// continued lines (`\` at the end) joined.
fn instructions(dockerfile: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in dockerfile.lines().map(str::trim) {
        if line.starts_with('#') || (line.is_empty() && current.is_empty()) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(head) => {
                current.push_str(head.trim_end());
                current.push(' ');
            }
            None => {
                current.push_str(line);
                out.push(std::mem::take(&mut current));
            }
        }
    }
    if !current.trim().is_empty() {
        out.push(current);
    }
    out
}

/// `KEY=value` pairs of the ENV instructions of some instructions.
fn env_of(instructions: &[String]) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    for rest in instructions.iter().filter_map(|i| i.strip_prefix("ENV ")) {
        if rest.contains('=') {
            for pair in rest.split_whitespace() {
                if let Some((k, v)) = pair.split_once('=') {
                    env.insert(k.to_owned(), v.trim_matches('"').to_owned());
                }
            }
        } else if let Some((k, v)) = rest.split_once(' ') {
            env.insert(k.to_owned(), v.trim().trim_matches('"').to_owned());
        }
    }
    env
}

fn port_of(addr: &str) -> u16 {
    addr.rsplit_once(':')
        .and_then(|(_, port)| port.parse().ok())
        .unwrap_or_else(|| panic!("{addr} has no port"))
}

fn service<'a>(compose: &'a Value, name: &str) -> &'a Value {
    compose["services"]
        .get(name)
        .unwrap_or_else(|| panic!("docker-compose.yml has no service {name}"))
}

/// A service's environment, whether written as a map or as `KEY=value` lines.
fn environment(service: &Value) -> BTreeMap<String, String> {
    let scalar = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    match &service["environment"] {
        Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), scalar(v))).collect(),
        Value::Array(lines) => lines
            .iter()
            .filter_map(Value::as_str)
            .map(|line| {
                let (k, v) = line.split_once('=').unwrap_or((line, ""));
                (k.to_owned(), v.to_owned())
            })
            .collect(),
        _ => BTreeMap::new(),
    }
}

/// Published ports as `(host, container)` pairs.
fn ports(service: &Value) -> Vec<(u16, u16)> {
    service["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| match p {
            Value::String(s) => {
                let parts: Vec<&str> = s.split(':').collect();
                let container = parts.last()?.split('/').next()?.parse().ok()?;
                let host = parts
                    .iter()
                    .rev()
                    .nth(1)
                    .and_then(|h| h.parse().ok())
                    .unwrap_or(container);
                Some((host, container))
            }
            Value::Object(_) => {
                let container = u16::try_from(p["target"].as_u64()?).ok()?;
                let host = p["published"]
                    .as_str()
                    .and_then(|h| h.parse().ok())
                    .or_else(|| p["published"].as_u64().and_then(|h| u16::try_from(h).ok()))
                    .unwrap_or(container);
                Some((host, container))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn the_three_services_exist_and_each_has_a_healthcheck() {
    let compose = compose();
    for name in ["postgres", "rabbitmq", "worker"] {
        let healthcheck = &service(&compose, name)["healthcheck"];
        let test = &healthcheck["test"];
        let has_test = match test {
            Value::Array(items) => items.len() > 1,
            Value::String(s) => !s.trim().is_empty(),
            _ => false,
        };
        assert!(has_test, "{name} has no healthcheck test: {healthcheck}");
        assert_ne!(healthcheck["disable"], true, "{name}'s healthcheck is disabled");
    }
    let image = |name: &str| service(&compose, name)["image"].as_str().unwrap_or_default().to_owned();
    assert!(image("postgres").starts_with("postgres:"), "{}", image("postgres"));
    let rabbitmq = image("rabbitmq");
    assert!(
        rabbitmq.starts_with("rabbitmq:") && rabbitmq.contains("management"),
        "RabbitMQ with the management plugin, not {rabbitmq}"
    );
}

#[test]
fn the_worker_is_built_here_and_starts_once_its_dependencies_are_healthy() {
    let compose = compose();
    let worker = service(&compose, "worker");
    let (context, dockerfile) = match &worker["build"] {
        Value::String(context) => (context.clone(), "Dockerfile".to_owned()),
        Value::Object(build) => (
            build.get("context").and_then(Value::as_str).unwrap_or(".").to_owned(),
            build
                .get("dockerfile")
                .and_then(Value::as_str)
                .unwrap_or("Dockerfile")
                .to_owned(),
        ),
        other => panic!("the worker is not built from the local Dockerfile: build = {other}"),
    };
    assert!(
        context == "." || context == "./",
        "the build context is the project, not {context}"
    );
    assert_eq!(dockerfile, "Dockerfile");

    let depends_on = &worker["depends_on"];
    for dependency in ["postgres", "rabbitmq"] {
        assert_eq!(
            depends_on[dependency]["condition"], "service_healthy",
            "the worker waits for {dependency} to be healthy: depends_on = {depends_on}"
        );
    }
    // `collab-worker run` is the main job (contract §1).
    let command = match &worker["command"] {
        Value::Array(items) => items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" "),
        Value::String(s) => s.clone(),
        Value::Null => "run".to_owned(), // the Dockerfile's CMD
        other => other.to_string(),
    };
    assert_eq!(command, "run");
}

#[test]
fn the_compose_settings_are_the_readme_defaults() {
    let compose = compose();
    let defaults = readme_defaults();
    let worker = environment(service(&compose, "worker"));
    let setting = |name: &str| {
        worker
            .get(name)
            .unwrap_or_else(|| panic!("the worker's environment has no {name}: {worker:?}"))
            .clone()
    };

    // PostgreSQL: same user, port and database; the host is the service.
    let (default_db, db) = (url(&defaults["DATABASE_URL"]), url(&setting("DATABASE_URL")));
    assert_eq!(default_db.path, "collab", "README's default database");
    assert_eq!(default_db.user, "postgres", "README's default user");
    assert_eq!(
        (&db.scheme, &db.user, &db.password, db.port, &db.path),
        (
            &default_db.scheme,
            &default_db.user,
            &default_db.password,
            default_db.port,
            &default_db.path
        ),
        "DATABASE_URL"
    );
    assert_eq!(db.host, "postgres", "the worker reaches the postgres service");
    let postgres = service(&compose, "postgres");
    let postgres_env = environment(postgres);
    let pg_user = postgres_env.get("POSTGRES_USER").map_or("postgres", String::as_str);
    assert_eq!(pg_user, db.user, "POSTGRES_USER");
    if db.password.is_none() {
        assert_eq!(
            postgres_env.get("POSTGRES_HOST_AUTH_METHOD").map(String::as_str),
            Some("trust"),
            "a URL without a password needs trust authentication"
        );
    }
    let pg_port = default_db.port.unwrap_or(5432);
    assert!(
        ports(postgres).contains(&(pg_port, 5432)),
        "postgres publishes {pg_port}"
    );

    // RabbitMQ: same credentials, port and vhost; the host is the service.
    let (default_amqp, amqp) = (url(&defaults["AMQP_URL"]), url(&setting("AMQP_URL")));
    assert_eq!(
        (default_amqp.user.as_str(), default_amqp.password.as_deref()),
        ("guest", Some("guest"))
    );
    assert_eq!(default_amqp.path, "%2f", "README's default vhost");
    assert_eq!(
        (&amqp.scheme, &amqp.user, &amqp.password, amqp.port, &amqp.path),
        (
            &default_amqp.scheme,
            &default_amqp.user,
            &default_amqp.password,
            default_amqp.port,
            &default_amqp.path
        ),
        "AMQP_URL"
    );
    assert_eq!(amqp.host, "rabbitmq", "the worker reaches the rabbitmq service");
    let rabbitmq = service(&compose, "rabbitmq");
    let rabbit_env = environment(rabbitmq);
    assert_eq!(
        rabbit_env.get("RABBITMQ_DEFAULT_USER").map_or("guest", String::as_str),
        amqp.user
    );
    // RabbitMQ's own default is guest/guest.
    assert_eq!(
        rabbit_env.get("RABBITMQ_DEFAULT_PASS").map_or("guest", String::as_str),
        amqp.password.as_deref().unwrap_or_default()
    );
    let amqp_port = default_amqp.port.unwrap_or(5672);
    assert!(
        ports(rabbitmq).contains(&(amqp_port, 5672)),
        "rabbitmq publishes {amqp_port}"
    );

    // HTTP: the README's port, listening beyond the container's loopback,
    // published, and probed by the healthcheck.
    let http_port = port_of(&defaults["HTTP_ADDR"]);
    assert_eq!(http_port, 9464, "README's default HTTP port");
    let http_addr = setting("HTTP_ADDR");
    assert_eq!(port_of(&http_addr), http_port, "HTTP_ADDR");
    assert!(
        http_addr.starts_with("0.0.0.0:") || http_addr.starts_with("[::]:"),
        "inside a container the worker must listen on all interfaces, not {http_addr}"
    );
    let worker_service = service(&compose, "worker");
    assert!(ports(worker_service).contains(&(http_port, http_port)));
    let probe = worker_service["healthcheck"]["test"].to_string();
    assert!(
        probe.contains(&format!(":{http_port}/readyz")),
        "the worker's healthcheck probes /readyz: {probe}"
    );

    // Logs: the README's default filter, when set.
    if let Some(filter) = worker.get("RUST_LOG") {
        assert_eq!(filter, &defaults["RUST_LOG"], "RUST_LOG");
    }
}

#[test]
fn the_dockerfile_builds_and_runs_the_collab_worker_binary() {
    let (_, dockerfile) = project_file("Dockerfile");
    let (_, manifest) = project_file("Cargo.toml");
    let package = manifest
        .split("\n[")
        .next()
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("name = "))
        .map(|n| n.trim_matches('"').to_owned());
    assert_eq!(package.as_deref(), Some("collab-worker"));
    assert!(!manifest.contains("[[bin]]"), "the binary is named after the package");

    let instructions = instructions(&dockerfile);
    let instructions: Vec<&str> = instructions.iter().map(String::as_str).collect();
    let build = instructions
        .iter()
        .find(|l| l.starts_with("RUN ") && l.contains("cargo build"))
        .unwrap_or_else(|| panic!("the Dockerfile does not run cargo build"));
    assert!(build.contains("--release"), "{build}");
    assert!(
        !build.contains("--bin ") || build.contains("--bin collab-worker"),
        "{build}"
    );
    // What the build needs is copied into the build stage.
    let copied: Vec<&str> = instructions
        .iter()
        .filter(|l| l.starts_with("COPY ") && !l.contains("--from="))
        .flat_map(|l| {
            let parts: Vec<&str> = l.split_whitespace().skip(1).collect();
            parts[..parts.len().saturating_sub(1)].to_vec()
        })
        .collect();
    // Every target the manifest names (src, benches) and the build script:
    // Cargo refuses a manifest whose targets are missing.
    for needed in [
        "Cargo.toml",
        "Cargo.lock",
        "build.rs",
        "src",
        "benches",
        "migrations",
        "config",
    ] {
        assert!(
            copied.contains(&needed),
            "the Dockerfile does not copy {needed}: {copied:?}"
        );
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    for source in &copied {
        assert!(
            root.join(source).exists(),
            "the Dockerfile copies {source}, which does not exist"
        );
    }
    assert!(
        instructions
            .iter()
            .any(|l| l.starts_with("COPY --from=") && l.contains("target/release/collab-worker")),
        "the runtime image takes the collab-worker binary from the build stage"
    );
    assert!(
        instructions
            .iter()
            .any(|l| l.starts_with("ENTRYPOINT") && l.contains("collab-worker")),
        "the image runs collab-worker"
    );
    // The build image satisfies the crate's rust-version.
    let rust_version = manifest
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .map(|v| v.trim_matches('"').to_owned());
    let from = instructions
        .iter()
        .find_map(|l| l.strip_prefix("FROM rust:"))
        .and_then(|image| image.split(['-', ' ']).next())
        .map(str::to_owned);
    if let (Some(required), Some(image)) = (rust_version, from) {
        let version = |v: &str| -> Vec<u32> { v.split('.').filter_map(|p| p.parse().ok()).collect() };
        assert!(
            version(&image) >= version(&required),
            "rust:{image} is older than rust-version {required}"
        );
    }
}

/// The image is production-shaped: the runtime stage runs as a non-root
/// user, has a health check on the worker's port, listens on every
/// interface; dependencies are built in a layer of their own, before the
/// sources are copied; the build context leaves out `target/` and `.git`.
/// (No Docker engine here: the files are read, not built.)
#[test]
fn the_image_runs_unprivileged_with_a_health_check_and_caches_its_dependencies() {
    let (_, dockerfile) = project_file("Dockerfile");
    let all = instructions(&dockerfile);
    let stages: Vec<&[String]> = {
        let starts: Vec<usize> = all
            .iter()
            .enumerate()
            .filter(|(_, i)| i.starts_with("FROM "))
            .map(|(n, _)| n)
            .collect();
        starts
            .iter()
            .enumerate()
            .map(|(k, &from)| &all[from..starts.get(k + 1).copied().unwrap_or(all.len())])
            .collect()
    };
    assert!(stages.len() >= 2, "a build stage and a runtime stage: {all:?}");
    let runtime = stages[stages.len() - 1];
    let build = stages[0];

    // Not root: the last USER of the runtime stage names another user.
    let user = runtime
        .iter()
        .rev()
        .find_map(|i| i.strip_prefix("USER "))
        .unwrap_or_else(|| panic!("the runtime stage has no USER: it runs as root"));
    let name = user.split(':').next().unwrap_or_default().trim();
    assert!(!["root", "0", ""].contains(&name), "USER {user} is root");

    // Listening beyond the container's loopback, on the README's port.
    let env = env_of(runtime);
    let http_addr = env.get("HTTP_ADDR").map(String::as_str);
    assert_eq!(http_addr, Some("0.0.0.0:9464"), "ENV HTTP_ADDR of the image: {env:?}");
    assert!(runtime.iter().any(|i| i == "EXPOSE 9464"), "EXPOSE 9464");

    // A health check that probes the worker.
    let healthcheck = runtime
        .iter()
        .find(|i| i.starts_with("HEALTHCHECK "))
        .unwrap_or_else(|| panic!("the runtime stage has no HEALTHCHECK"));
    assert!(!healthcheck.contains("NONE"), "{healthcheck}");
    assert!(
        healthcheck.contains("CMD") && (healthcheck.contains(":9464/healthz") || healthcheck.contains(":9464/readyz")),
        "{healthcheck}"
    );
    let probe = healthcheck.split("CMD").nth(1).unwrap_or_default();
    let tool = probe
        .trim()
        .trim_start_matches('[')
        .split([',', ' '])
        .next()
        .unwrap_or_default()
        .trim_matches('"');
    assert!(
        runtime.iter().any(|i| i.starts_with("RUN ") && i.contains(tool)),
        "the health check's {tool} is not installed in the runtime stage"
    );

    // Dependencies in their own layer: a cargo build (or cargo chef cook)
    // before the sources come in, and the real build after.
    let position = |pred: &dyn Fn(&str) -> bool| build.iter().position(|i| pred(i));
    let builds_dependencies =
        |i: &str| i.starts_with("RUN ") && (i.contains("cargo build") || i.contains("cargo chef cook"));
    let copies_sources =
        |i: &str| i.starts_with("COPY ") && i.split_whitespace().any(|w| w == "src" || w == "src/" || w == ".");
    let dependencies = position(&builds_dependencies).unwrap_or_else(|| panic!("no cargo build in {build:?}"));
    let sources = position(&copies_sources).unwrap_or_else(|| panic!("no COPY of src in {build:?}"));
    assert!(
        dependencies < sources,
        "dependencies are built only after the sources are copied: every source change rebuilds them"
    );
    assert!(
        build[sources..]
            .iter()
            .any(|i| i.starts_with("RUN ") && i.contains("cargo build")),
        "the crate itself is built after its sources are copied"
    );

    // The build context: no target/ (over a gigabyte), no .git; everything
    // the Dockerfile copies is kept.
    let (_, ignore) = project_file(".dockerignore");
    let patterns: Vec<&str> = ignore
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let ignored = |path: &str| {
        patterns.iter().any(|p| {
            let p = p
                .trim_start_matches("**/")
                .trim_start_matches('/')
                .trim_end_matches('/');
            p == path
                || path.starts_with(&format!("{p}/"))
                || (p.starts_with("*.") && path.ends_with(&p[1..]) && !path.contains('/'))
        })
    };
    for excluded in ["target", ".git"] {
        assert!(
            ignored(excluded),
            ".dockerignore does not leave out {excluded}: {patterns:?}"
        );
    }
    for copied in all
        .iter()
        .filter(|i| i.starts_with("COPY ") && !i.contains("--from="))
        .flat_map(|i| {
            let parts: Vec<&str> = i.split_whitespace().skip(1).collect();
            parts[..parts.len().saturating_sub(1)].to_vec()
        })
    {
        assert!(
            !ignored(copied),
            "the Dockerfile copies {copied}, which .dockerignore leaves out"
        );
    }
}
