//! The files `oxstack up` writes for clients: `clouds.yaml` and `admin-openrc.sh`.

use std::io::Write;
use std::path::Path;

/// What the client files say.
#[derive(Debug)]
pub struct ClientFiles<'a> {
    pub auth_url: &'a str,
    pub region: &'a str,
    pub password: &'a str,
}

/// Writes `path` with `contents`, readable by the owner only, atomically (temp + rename).
pub fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(&tmp)?;
        f.write_all(contents.as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

fn yaml_str(s: &str) -> String {
    // JSON strings are valid YAML double-quoted scalars.
    serde_json::Value::String(s.to_string()).to_string()
}

fn sh_str(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

impl ClientFiles<'_> {
    pub fn clouds_yaml(&self) -> String {
        let (url, region, pw) = (
            yaml_str(self.auth_url),
            yaml_str(self.region),
            yaml_str(self.password),
        );
        format!(
            "# Written by `oxstack up`. Use: export OS_CLIENT_CONFIG_FILE=<this file> OS_CLOUD=oxstack\n\
             clouds:\n\
             \x20 oxstack:\n\
             \x20   auth:\n\
             \x20     auth_url: {url}\n\
             \x20     username: admin\n\
             \x20     password: {pw}\n\
             \x20     project_name: admin\n\
             \x20     user_domain_name: Default\n\
             \x20     project_domain_name: Default\n\
             \x20   region_name: {region}\n\
             \x20   interface: public\n\
             \x20   identity_api_version: 3\n\
             \x20 oxstack-system:\n\
             \x20   auth:\n\
             \x20     auth_url: {url}\n\
             \x20     username: admin\n\
             \x20     password: {pw}\n\
             \x20     system_scope: all\n\
             \x20     user_domain_name: Default\n\
             \x20   region_name: {region}\n\
             \x20   interface: public\n\
             \x20   identity_api_version: 3\n"
        )
    }

    pub fn openrc(&self) -> String {
        format!(
            "# Written by `oxstack up`. Use: . <this file>; openstack token issue\n\
             export OS_AUTH_URL={}\n\
             export OS_USERNAME=admin\n\
             export OS_PASSWORD={}\n\
             export OS_PROJECT_NAME=admin\n\
             export OS_USER_DOMAIN_NAME=Default\n\
             export OS_PROJECT_DOMAIN_NAME=Default\n\
             export OS_REGION_NAME={}\n\
             export OS_IDENTITY_API_VERSION=3\n\
             export OS_INTERFACE=public\n",
            sh_str(self.auth_url),
            sh_str(self.password),
            sh_str(self.region)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_odd_passwords() {
        let f = ClientFiles {
            auth_url: "http://127.0.0.1:5000/v3",
            region: "RegionOne",
            password: "a'b\"c: d",
        };
        assert!(f.openrc().contains("OS_PASSWORD='a'\\''b\"c: d'"));
        assert!(f.clouds_yaml().contains("password: \"a'b\\\"c: d\""));
    }

    #[test]
    fn private_files_are_0600() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("secret");
        write_private(&p, "x").expect("write");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&p).expect("meta").permissions().mode() & 0o777,
                0o600
            );
        }
    }
}
