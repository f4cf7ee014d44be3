//! `controlplane`. Wiring only: settings from the environment, logs, run until a signal.

use std::collections::BTreeMap;
use std::process::ExitCode;

use controlplane::settings::Settings;

fn main() -> ExitCode {
    let env: BTreeMap<String, String> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    let settings = match Settings::from_env_map(&env) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("controlplane: invalid configuration: {error}");
            return ExitCode::from(2);
        }
    };
    service_runtime::init_logging(&settings.log_level, settings.log_json, &["controlplane"]);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("controlplane: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime
        .block_on(async { controlplane::run(settings, service_runtime::shutdown_signal()).await })
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "controlplane_failed");
            eprintln!("controlplane: {error}");
            ExitCode::FAILURE
        }
    }
}
