//! Running a node: opening the infrastructure seams, migrating, bootstrapping, binding the
//! services' listeners and serving until SIGINT/SIGTERM.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use oxstack_blockstore::{BlockStore, BlockStoreOptions};
use oxstack_common::bus::InProcessBus;
use oxstack_common::cache::{Cache, InProcessCache};
use oxstack_common::config::LogConfig;
use oxstack_common::coord::InProcessCoordination;
use oxstack_common::db::Db;
use oxstack_common::http::{ErrorStyle, Stack};
use oxstack_common::metrics::Metrics;
use oxstack_compute::clients::{
    HttpImageClient, HttpNetworkClient, HttpPlacementClient, HttpVolumeClient, NetworkClient,
    PasswordTokenSource, VolumeClient,
};
use oxstack_compute::{Compute, ComputeOptions};
use oxstack_identity::{BootstrapSpec, CatalogEntry, Identity, IdentityOptions};
use oxstack_image::{Image, ImageOptions};
use oxstack_network::Network;
use oxstack_network::notifier::{ComputeNotifier, HttpNotifier, NoNotifier};
use oxstack_objectstore::{ObjectStore, ObjectStoreOptions};
use oxstack_placement::Placement;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::cli::CliError;
use crate::config::{Config, ServiceName};
use crate::files::{self, ClientFiles};

pub fn init_logging(cfg: &LogConfig) {
    let filter = tracing_subscriber::EnvFilter::try_new(&cfg.filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if cfg.json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// Creates the data dir if needed and proves it writable.
fn prepare_data_dir(dir: &Path) -> Result<(), CliError> {
    std::fs::create_dir_all(dir).map_err(|e| {
        CliError::failed(&format!("data dir {} cannot be created", dir.display()), e)
    })?;
    let probe = dir.join(".write-test");
    std::fs::write(&probe, b"ok")
        .and_then(|_| std::fs::remove_file(&probe))
        .map_err(|e| CliError::failed(&format!("data dir {} is not writable", dir.display()), e))
}

async fn connect(cfg: &Config) -> Result<Db, CliError> {
    Db::connect(&cfg.database_url(), cfg.database.max_connections)
        .await
        .map_err(|e| CliError::Failed(oxstack_common::http::error_chain(&e)))
}

/// Every service's migrations, by the service name recorded in `oxstack_migrations`, in
/// the order they are applied.
const MIGRATIONS: &[(&str, &[oxstack_common::db::Migration])] = &[
    ("identity", oxstack_identity::MIGRATIONS),
    ("image", oxstack_image::MIGRATIONS),
    (oxstack_placement::SERVICE, oxstack_placement::MIGRATIONS),
    ("compute", oxstack_compute::MIGRATIONS),
    (oxstack_network::SERVICE, oxstack_network::MIGRATIONS),
    (
        oxstack_objectstore::SERVICE,
        oxstack_objectstore::MIGRATIONS,
    ),
    (oxstack_blockstore::SERVICE, oxstack_blockstore::MIGRATIONS),
];

async fn migrate_all(db: &Db) -> Result<(), CliError> {
    let mut n = 0;
    for (service, migrations) in MIGRATIONS {
        n += db
            .migrate(service, migrations)
            .await
            .map_err(|e| CliError::Failed(oxstack_common::http::error_chain(&e)))?;
    }
    if n > 0 {
        tracing::info!(applied = n, "database migrated");
    }
    Ok(())
}

async fn open_identity(cfg: &Config, db: Db, cache: Arc<dyn Cache>) -> Result<Identity, CliError> {
    Identity::open(IdentityOptions {
        config: cfg.identity.clone(),
        fernet_key_dir: cfg.fernet_key_dir(),
        credential_key_dir: cfg.credential_key_dir(),
        db,
        cache,
        public_url: cfg.public_url(ServiceName::Identity),
    })
    .await
    .map_err(|e| {
        CliError::failed(
            "identity service cannot start",
            oxstack_common::http::error_chain(&e),
        )
    })
}

async fn open_image(cfg: &Config, db: Db) -> Result<Image, CliError> {
    Image::open(ImageOptions {
        config: cfg.image.clone(),
        store_dir: cfg.image_store_dir(),
        db,
        public_url: cfg.public_url(ServiceName::Image),
    })
    .await
    .map_err(|e| {
        CliError::failed(
            "image service cannot start",
            oxstack_common::http::error_chain(&e),
        )
    })
}

fn catalog(cfg: &Config) -> Vec<CatalogEntry> {
    cfg.services
        .iter()
        .flat_map(|s| match s {
            ServiceName::Identity => vec![CatalogEntry {
                service_type: "identity".into(),
                name: "keystone".into(),
                url: format!("{}/v3", cfg.public_url(ServiceName::Identity)),
            }],
            ServiceName::Image => vec![CatalogEntry {
                service_type: "image".into(),
                name: "glance".into(),
                url: cfg.public_url(ServiceName::Image),
            }],
            ServiceName::Placement => vec![CatalogEntry {
                service_type: "placement".into(),
                name: "placement".into(),
                url: cfg.public_url(ServiceName::Placement),
            }],
            ServiceName::Compute => vec![CatalogEntry {
                service_type: "compute".into(),
                name: "nova".into(),
                url: format!("{}/v2.1", cfg.public_url(ServiceName::Compute)),
            }],
            ServiceName::Network => vec![CatalogEntry {
                service_type: "network".into(),
                name: "neutron".into(),
                url: cfg.public_url(ServiceName::Network),
            }],
            ServiceName::ObjectStore => vec![CatalogEntry {
                service_type: "object-store".into(),
                name: "swift".into(),
                url: format!(
                    "{}/v1/AUTH_%(project_id)s",
                    cfg.public_url(ServiceName::ObjectStore)
                ),
            }],
            // Keystone substitutes `%(project_id)s` with the token's project.
            ServiceName::BlockStore => {
                let url = format!(
                    "{}/v3/%(project_id)s",
                    cfg.public_url(ServiceName::BlockStore)
                );
                vec![
                    CatalogEntry {
                        service_type: "block-storage".into(),
                        name: "cinder".into(),
                        url: url.clone(),
                    },
                    CatalogEntry {
                        service_type: "volumev3".into(),
                        name: "cinderv3".into(),
                        url,
                    },
                ]
            }
        })
        .collect()
}

/// The admin password: configured, else the one written on first run, else a new one.
fn admin_password(cfg: &Config) -> Result<String, CliError> {
    if let Some(p) = &cfg.identity.admin_password {
        return Ok(p.clone());
    }
    let path = cfg.data_dir.join("admin-password");
    match std::fs::read_to_string(&path) {
        Ok(p) if !p.trim().is_empty() => Ok(p.trim().to_string()),
        _ => {
            let p = oxstack_identity::generate_secret(24);
            files::write_private(&path, &format!("{p}\n"))
                .map_err(|e| CliError::failed(&format!("cannot write {}", path.display()), e))?;
            Ok(p)
        }
    }
}

async fn bootstrap_with(cfg: &Config, identity: &Identity) -> Result<(), CliError> {
    let password = admin_password(cfg)?;
    identity
        .bootstrap(&BootstrapSpec {
            admin_password: password.clone(),
            region: cfg.identity.region.clone(),
            catalog: catalog(cfg),
        })
        .await
        .map_err(|e| CliError::failed("bootstrap failed", oxstack_common::http::error_chain(&e)))?;
    let auth_url = format!("{}/v3", cfg.public_url(ServiceName::Identity));
    let client = ClientFiles {
        auth_url: &auth_url,
        region: &cfg.identity.region,
        password: &password,
    };
    for (name, text) in [
        ("clouds.yaml", client.clouds_yaml()),
        ("admin-openrc.sh", client.openrc()),
    ] {
        let path = cfg.data_dir.join(name);
        files::write_private(&path, &text)
            .map_err(|e| CliError::failed(&format!("cannot write {}", path.display()), e))?;
    }
    Ok(())
}

pub async fn migrate(cfg: &Config) -> Result<(), CliError> {
    prepare_data_dir(&cfg.data_dir)?;
    let db = connect(cfg).await?;
    migrate_all(&db).await?;
    db.close().await;
    println!("database is up to date");
    Ok(())
}

pub async fn bootstrap(cfg: &Config) -> Result<(), CliError> {
    prepare_data_dir(&cfg.data_dir)?;
    fernet_setup(cfg)?;
    let db = connect(cfg).await?;
    migrate_all(&db).await?;
    let identity = open_identity(cfg, db.clone(), Arc::new(InProcessCache::default())).await?;
    bootstrap_with(cfg, &identity).await?;
    db.close().await;
    println!(
        "bootstrap complete; credentials in {}",
        cfg.data_dir.join("clouds.yaml").display()
    );
    Ok(())
}

pub fn fernet_setup(cfg: &Config) -> Result<(), CliError> {
    for dir in [cfg.fernet_key_dir(), cfg.credential_key_dir()] {
        oxstack_identity::token::keys::setup(&dir)
            .map_err(|e| CliError::failed(&format!("key repository {}", dir.display()), e))?;
    }
    Ok(())
}

pub fn fernet_rotate(cfg: &Config) -> Result<(), CliError> {
    let dir = cfg.fernet_key_dir();
    oxstack_identity::token::keys::rotate(&dir, cfg.identity.max_active_keys as usize)
        .map_err(|e| CliError::failed(&format!("key repository {}", dir.display()), e))?;
    println!("rotated the keys in {}", dir.display());
    Ok(())
}

async fn bind(
    cfg: &Config,
    services: &[ServiceName],
) -> Result<Vec<(ServiceName, TcpListener)>, CliError> {
    let mut out = Vec::new();
    for &s in services {
        let addr = SocketAddr::new(cfg.server.bind_host, cfg.port(s));
        let l = TcpListener::bind(addr)
            .await
            .map_err(|e| CliError::failed(&format!("{} cannot listen on {addr}", s.as_str()), e))?;
        out.push((s, l));
    }
    Ok(out)
}

/// Everything that must succeed before serving; on failure a data dir created by this run
/// is removed again, so nothing half-created is left behind.
async fn start(
    cfg: &Config,
    services: &[ServiceName],
    bootstrap: bool,
) -> Result<Running, CliError> {
    let listeners = bind(cfg, services).await?;
    let fresh = !cfg.data_dir.exists();
    let result = async {
        prepare_data_dir(&cfg.data_dir)?;
        fernet_setup(cfg)?;
        let db = connect(cfg).await?;
        migrate_all(&db).await?;
        let cache: Arc<dyn Cache> = Arc::new(InProcessCache::default());
        let identity = open_identity(cfg, db.clone(), cache).await?;
        if bootstrap {
            bootstrap_with(cfg, &identity).await?;
        }
        let image = if services.contains(&ServiceName::Image) {
            Some(open_image(cfg, db.clone()).await?)
        } else {
            None
        };
        let placement = if services.contains(&ServiceName::Placement) {
            Some(Placement::open(&cfg.placement, db.clone()).map_err(|e| {
                CliError::failed(
                    "placement service cannot start",
                    oxstack_common::http::error_chain(&e),
                )
            })?)
        } else {
            None
        };
        let compute = if services.contains(&ServiceName::Compute) {
            Some(open_compute(cfg, db.clone()).await?)
        } else {
            None
        };
        let network = if services.contains(&ServiceName::Network) {
            Some(open_network(cfg, db.clone())?)
        } else {
            None
        };
        let objectstore = if services.contains(&ServiceName::ObjectStore) {
            Some(
                ObjectStore::open(ObjectStoreOptions {
                    config: cfg.objectstore.clone(),
                    data_dir: cfg.object_data_dir(),
                    db: db.clone(),
                })
                .await
                .map_err(|e| {
                    CliError::failed(
                        "object storage service cannot start",
                        oxstack_common::http::error_chain(&e),
                    )
                })?,
            )
        } else {
            None
        };
        let blockstore = if services.contains(&ServiceName::BlockStore) {
            Some(open_blockstore(cfg, db.clone()).await?)
        } else {
            None
        };
        Ok::<_, CliError>((
            db,
            identity,
            Opened {
                image,
                placement,
                compute,
                network,
                objectstore,
                blockstore,
            },
        ))
    }
    .await;
    let (db, identity, opened) = match result {
        Ok(v) => v,
        Err(e) => {
            if fresh {
                let _ = std::fs::remove_dir_all(&cfg.data_dir);
            }
            return Err(e);
        }
    };
    let stack = Stack {
        metrics: Metrics::default(),
        max_body_bytes: cfg.server.max_body_bytes,
        auth: Some(identity.validator()),
        identity_url: Some(cfg.public_url(ServiceName::Identity)),
    };
    let routers = listeners
        .into_iter()
        .filter_map(|(s, l)| Some((s, l, opened.router(s, &stack, &identity)?)))
        .collect();
    Ok(Running {
        db,
        routers,
        _agent: opened.compute.map(|(_, a)| a),
    })
}

/// The services this node opened besides identity (`None`: not enabled here).
struct Opened {
    image: Option<Image>,
    placement: Option<Placement>,
    compute: Option<(Compute, oxstack_compute::agent::AgentHandle)>,
    network: Option<Network>,
    objectstore: Option<ObjectStore>,
    blockstore: Option<BlockStore>,
}

impl Opened {
    /// Service `s`'s routes inside the shared HTTP stack, in its own error shape.
    fn router(&self, s: ServiceName, stack: &Stack, identity: &Identity) -> Option<axum::Router> {
        Some(match s {
            ServiceName::Identity => {
                stack.wrap("identity", ErrorStyle::Keystone, identity.router())
            }
            ServiceName::Image => stack.wrap(
                "image",
                ErrorStyle::PlainText,
                self.image.as_ref()?.router(),
            ),
            ServiceName::Placement => stack.wrap(
                "placement",
                ErrorStyle::Placement,
                self.placement.as_ref()?.router(),
            ),
            ServiceName::Compute => stack.wrap(
                "compute",
                ErrorStyle::Nova,
                self.compute.as_ref()?.0.router(),
            ),
            ServiceName::Network => stack.wrap(
                "network",
                ErrorStyle::Neutron,
                self.network.as_ref()?.router(),
            ),
            ServiceName::ObjectStore => stack.wrap(
                "objectstore",
                ErrorStyle::PlainText,
                self.objectstore.as_ref()?.router(),
            ),
            ServiceName::BlockStore => stack.wrap(
                "blockstore",
                ErrorStyle::Nova,
                self.blockstore.as_ref()?.router(),
            ),
        })
    }
}

struct Running {
    db: Db,
    routers: Vec<(ServiceName, TcpListener, axum::Router)>,
    /// The all-in-one host's compute agent.
    _agent: Option<oxstack_compute::agent::AgentHandle>,
}

/// The block storage API over this node's volumes directory.
async fn open_blockstore(cfg: &Config, db: Db) -> Result<BlockStore, CliError> {
    BlockStore::open(BlockStoreOptions {
        config: cfg.blockstore.clone(),
        db,
        volumes_dir: cfg.volumes_dir(),
        public_url: cfg.public_url(ServiceName::BlockStore),
        driver: None,
        image: Arc::new(oxstack_blockstore::image::HttpImageClient::new(&local_or(
            cfg,
            ServiceName::Image,
            &cfg.blockstore.image_url,
        ))),
    })
    .await
    .map_err(|e| {
        CliError::failed(
            "block storage service cannot start",
            oxstack_common::http::error_chain(&e),
        )
    })
}

/// The URL of `service`: this node's own when it runs here, else `configured`.
fn local_or(cfg: &Config, service: ServiceName, configured: &str) -> String {
    if cfg.services.contains(&service) {
        cfg.public_url(service)
    } else {
        configured.to_string()
    }
}

/// The networking API, telling compute of its servers' port changes: this node's own compute
/// when it runs here, else `network.compute_url`; no one when neither is there or
/// `network.notify_compute` is off. The calls carry a token of the admin user.
// TODO-security: a dedicated `neutron` service user instead of the admin.
fn open_network(cfg: &Config, db: Db) -> Result<Network, CliError> {
    let compute_url = if cfg.services.contains(&ServiceName::Compute) {
        Some(cfg.public_url(ServiceName::Compute))
    } else {
        cfg.network.compute_url.clone()
    };
    let notifier: Arc<dyn ComputeNotifier> = match compute_url {
        Some(url) if cfg.network.notify_compute => Arc::new(HttpNotifier::spawn(
            &url,
            oxstack_network::notifier::PasswordTokenSource::new(
                &cfg.public_url(ServiceName::Identity),
                "admin",
                &admin_password(cfg)?,
                "admin",
            ),
        )),
        _ => Arc::new(NoNotifier),
    };
    Network::open_with(&cfg.network, db, notifier).map_err(|e| {
        CliError::failed(
            "network service cannot start",
            oxstack_common::http::error_chain(&e),
        )
    })
}

/// The compute API and conductor, and the compute agent of this (all-in-one) host. Placement,
/// the image, the networking and the block storage service are reached over HTTP at their
/// configured URLs; placement, port and attachment calls carry a token of the admin user.
// TODO-security: a dedicated `nova` service user instead of the admin.
async fn open_compute(
    cfg: &Config,
    db: Db,
) -> Result<(Compute, oxstack_compute::agent::AgentHandle), CliError> {
    let fail = |e: oxstack_common::Error| {
        CliError::failed(
            "compute service cannot start",
            oxstack_common::http::error_chain(&e),
        )
    };
    let tokens = Arc::new(PasswordTokenSource::new(
        &cfg.public_url(ServiceName::Identity),
        "admin",
        &admin_password(cfg)?,
        "admin",
    ));
    let network_url = if cfg.services.contains(&ServiceName::Network) {
        Some(cfg.public_url(ServiceName::Network))
    } else {
        cfg.compute.network_url.clone()
    };
    let network = network_url
        .map(|u| Arc::new(HttpNetworkClient::new(&u, tokens.clone())) as Arc<dyn NetworkClient>);
    let volume_url = if cfg.services.contains(&ServiceName::BlockStore) {
        Some(cfg.public_url(ServiceName::BlockStore))
    } else {
        cfg.compute.volume_url.clone()
    };
    let volume = volume_url
        .map(|u| Arc::new(HttpVolumeClient::new(&u, tokens.clone())) as Arc<dyn VolumeClient>);
    let compute = Compute::open(ComputeOptions {
        config: cfg.compute.clone(),
        db,
        bus: Arc::new(InProcessBus::default()),
        coord: Arc::new(InProcessCoordination::default()),
        image: Arc::new(HttpImageClient::new(&local_or(
            cfg,
            ServiceName::Image,
            &cfg.compute.image_url,
        ))),
        placement: Arc::new(HttpPlacementClient::new(
            &local_or(cfg, ServiceName::Placement, &cfg.compute.placement_url),
            tokens.clone(),
        )),
        network,
        volume,
        public_url: cfg.public_url(ServiceName::Compute),
    })
    .await
    .map_err(fail)?;
    // The qemu driver probes KVM by running a tiny guest: off the async runtime.
    let (c, data_dir) = (compute.clone(), cfg.data_dir.clone());
    let driver = tokio::task::spawn_blocking(move || c.configured_driver(&data_dir, tokens))
        .await
        .map_err(|e| CliError::failed("compute service cannot start", e.to_string()))?
        .map_err(fail)?;
    tracing::info!(
        driver = %cfg.compute.driver,
        hypervisor = driver.hypervisor_type(),
        cpu_info = %driver.cpu_info(),
        "compute driver"
    );
    let agent = compute
        .start_agent(&cfg.compute.host_name(), driver)
        .await
        .map_err(fail)?;
    Ok((compute, agent))
}

/// Resolves on SIGINT or SIGTERM. The handlers are installed when this is called (not when
/// first polled), so a signal sent right after "oxstack is ready" is not lost.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let ctrl_c = tokio::signal::ctrl_c();
    async move {
        #[cfg(unix)]
        let term = async move {
            match term {
                Some(mut s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    }
}

async fn run(cfg: &Config, running: Running) -> Result<(), CliError> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    for (s, listener, router) in running.routers {
        let mut rx = stop_rx.clone();
        let addr = listener.local_addr().ok();
        tracing::info!(service = s.as_str(), ?addr, "listening");
        tasks.spawn(async move {
            let stop = async move {
                let _ = rx.wait_for(|v| *v).await;
            };
            (s, oxstack_common::http::serve(listener, router, stop).await)
        });
    }
    let shutdown = shutdown_signal();
    println!("oxstack is ready");
    tokio::select! {
        _ = shutdown => tracing::info!("shutting down"),
        Some(r) = tasks.join_next() => {
            let _ = stop_tx.send(true);
            return Err(CliError::failed("a service stopped unexpectedly", format!("{r:?}")));
        }
    }
    let _ = stop_tx.send(true);
    let grace = Duration::from_secs(cfg.server.shutdown_grace_secs);
    if tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} })
        .await
        .is_err()
    {
        tracing::warn!("in-flight requests did not finish within the grace period");
    }
    running.db.close().await;
    Ok(())
}

pub async fn up(cfg: Config) -> Result<(), CliError> {
    let services = cfg.services.clone();
    let running = start(&cfg, &services, true).await?;
    let clouds = cfg.data_dir.join("clouds.yaml");
    println!(
        "oxstack all-in-one: identity at {}/v3\n\
         admin credentials: {}\n\
         use them:  export OS_CLIENT_CONFIG_FILE={} OS_CLOUD=oxstack; openstack token issue\n\
         or:        . {}",
        cfg.public_url(ServiceName::Identity),
        cfg.data_dir.join("admin-password").display(),
        clouds.display(),
        cfg.data_dir.join("admin-openrc.sh").display(),
    );
    run(&cfg, running).await
}

pub async fn serve(cfg: Config, services: Vec<ServiceName>) -> Result<(), CliError> {
    let running = start(&cfg, &services, false).await?;
    run(&cfg, running).await
}

pub async fn doctor(cfg: &Config) -> Result<(), CliError> {
    let mut failures = 0;
    let mut report = |name: &str, r: Result<String, String>| match r {
        Ok(m) => println!("ok    {name}: {m}"),
        Err(m) => {
            failures += 1;
            println!("FAIL  {name}: {m}")
        }
    };
    report("configuration", Ok("parsed".into()));
    report(
        "data dir",
        prepare_data_dir(&cfg.data_dir)
            .map(|_| format!("{} is writable", cfg.data_dir.display()))
            .map_err(|e| e.to_string()),
    );
    match connect(cfg).await {
        Ok(db) => {
            report("database", Ok(format!("{:?} reachable", db.engine())));
            let mut pending = Vec::new();
            let mut failure = None;
            for (service, migrations) in MIGRATIONS {
                match db.pending(service, migrations).await {
                    Ok(p) if p.is_empty() => {}
                    Ok(p) => pending.push(format!("{service} has {} pending", p.len())),
                    Err(e) => failure = Some(e.to_string()),
                }
            }
            report(
                "migrations",
                match (failure, pending.is_empty()) {
                    (Some(e), _) => Err(e),
                    (None, true) => Ok("up to date".into()),
                    (None, false) => {
                        Err(format!("{} (run `oxstack db migrate`)", pending.join(", ")))
                    }
                },
            );
            db.close().await;
        }
        Err(e) => report("database", Err(e.to_string())),
    }
    for &s in &cfg.services {
        let addr = SocketAddr::new(cfg.server.bind_host, cfg.port(s));
        report(
            &format!("port {}", s.as_str()),
            match std::net::TcpListener::bind(addr) {
                Ok(_) => Ok(format!("{addr} is free")),
                Err(e) => Err(format!("{addr}: {e}")),
            },
        );
    }
    let keys = cfg.fernet_key_dir();
    report(
        "fernet keys",
        oxstack_identity::token::keys::load(&keys)
            .map(|_| format!("{} loads", keys.display()))
            .map_err(|e| format!("{}: {e}", keys.display())),
    );
    if failures > 0 {
        return Err(CliError::Failed(format!("{failures} check(s) failed")));
    }
    Ok(())
}
