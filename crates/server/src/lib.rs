//! placeholder: being built (issue 2)

pub struct Config;

impl Config {
    pub fn from_args(_args: &[String]) -> anyhow::Result<Config> {
        Ok(Config)
    }
}

pub fn run_blocking(_config: Config) -> anyhow::Result<()> {
    anyhow::bail!("server not built yet")
}
