//! Command-line flags (clap derive only). Converted straight into the plain settings of `commands`.
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::commands::{self, Command};

#[derive(Parser, Debug)]
#[command(
    name = "ferry",
    version,
    about = "Carry Python wheels and Hugging Face models across an air gap"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Cmd,
    /// Less output (errors only).
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// More output (-v debug, -vv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Generate a minisign-format key pair.
    Keygen {
        #[arg(short = 's', long = "secret-key", default_value = "ferry.key")]
        secret: PathBuf,
        #[arg(short = 'p', long = "public-key", default_value = "ferry.pub")]
        public: PathBuf,
        /// Store the secret key without a password.
        #[arg(long)]
        unencrypted: bool,
        /// Overwrite existing key files.
        #[arg(long)]
        force: bool,
    },
    /// Resolve inputs for the targets and write a lock file.
    Lock {
        #[command(flatten)]
        inputs: InputFlags,
        #[arg(short = 'o', long, default_value = "ferry.lock")]
        output: PathBuf,
        /// `ferry` (ferry.lock, JSON) or `pylock` (PEP 751; -o defaults to pylock.toml).
        #[arg(long, value_parser = ["ferry", "pylock"], default_value = "ferry")]
        format: String,
    },
    /// Resolve, download, pack and sign a bundle.
    Bundle {
        #[command(flatten)]
        inputs: InputFlags,
        #[arg(short = 'o', long)]
        output: Option<PathBuf>,
        #[arg(short = 's', long = "secret-key", default_value = "ferry.key")]
        secret: PathBuf,
        /// Bundle exactly this lock: no resolution.
        #[arg(long)]
        locked: Option<PathBuf>,
        /// Split into volumes below SIZE (e.g. 4000M, 2G).
        #[arg(long)]
        split: Option<String>,
        /// Print what would be downloaded and the total size, then stop.
        #[arg(long)]
        dry_run: bool,
        /// Delta bundle: leave out every file OLD (a lock or a bundle) already carried.
        #[arg(long, value_name = "OLD")]
        have: Option<PathBuf>,
    },
    /// Check a bundle's signature and every hash.
    Verify {
        bundle: PathBuf,
        #[arg(short = 'p', long = "public-key", default_value = "ferry.pub")]
        public: PathBuf,
    },
    /// Show what a bundle holds, without extracting it.
    Inspect {
        bundle: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Install a bundle on this host: wheels into a venv, models into the HF cache.
    Install {
        bundle: PathBuf,
        #[arg(short = 'p', long = "public-key", default_value = "ferry.pub")]
        public: PathBuf,
        #[arg(long)]
        venv: Option<PathBuf>,
        /// Interpreter used to create the venv when missing.
        #[arg(long)]
        python: Option<PathBuf>,
        #[arg(long)]
        hf_home: Option<PathBuf>,
        /// Write models as plain folders DIR/ORG/NAME instead of the HF cache.
        #[arg(long)]
        local_dir: Option<PathBuf>,
        /// Put files that are not on a hub (local checkpoints and plain-URL downloads named by configs) under
        /// DIR: local ones at their config-relative path, URL ones at DIR/NAME.
        #[arg(long)]
        files_dir: Option<PathBuf>,
        #[arg(long, value_parser = ["wheels", "models"])]
        only: Option<String>,
        #[arg(long)]
        compile_bytecode: bool,
        #[arg(long)]
        json: bool,
    },
    /// What changed between two bundles or locks (packages, licences, models, size).
    Diff {
        old: PathBuf,
        new: PathBuf,
        #[arg(long)]
        json: bool,
        /// Download cache to read licences of locked wheels from (locks only).
        #[arg(long)]
        cache_dir: Option<PathBuf>,
    },
    /// Serve verified bundles as a package index, a Hugging Face hub endpoint and web seeds.
    Serve {
        #[arg(required = true)]
        bundles: Vec<PathBuf>,
        #[arg(short = 'p', long = "public-key", default_value = "ferry.pub")]
        public: PathBuf,
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// Write a static PEP 503 index (pages, files, .metadata) into DIR and exit.
        #[arg(long)]
        export: Option<PathBuf>,
    },
    /// Describe this host as a target (run on the air-gapped host).
    Probe {
        #[arg(long)]
        python: Option<PathBuf>,
        #[arg(short = 'o', long, default_value = "target.json")]
        output: PathBuf,
    },
}

/// MANIFEST, INPUTS, TARGETS and SOURCES shared by `lock` and `bundle`.
#[derive(Args, Debug, Default)]
pub struct InputFlags {
    /// Manifest YAML (see manifests/).
    pub manifest: Option<PathBuf>,
    #[arg(short = 'r', long = "requirement")]
    pub requirements: Vec<PathBuf>,
    #[arg(short = 'c', long = "constraint")]
    pub constraints: Vec<PathBuf>,
    /// LoRA training config (YAML, TOML or JSON).
    #[arg(long = "config")]
    pub configs: Vec<PathBuf>,
    /// Hugging Face repo, REPO[@REVISION].
    #[arg(long = "model")]
    pub models: Vec<String>,
    #[arg(long)]
    pub include: Vec<String>,
    #[arg(long)]
    pub exclude: Vec<String>,
    /// Precision variant for diffusers pipelines (e.g. fp16).
    #[arg(long)]
    pub variant: Option<String>,
    #[arg(long = "python-version")]
    pub python_versions: Vec<String>,
    #[arg(long = "platform")]
    pub platforms: Vec<String>,
    /// Target description written by `ferry probe`.
    #[arg(long = "target")]
    pub target_files: Vec<PathBuf>,
    #[arg(short = 'i', long)]
    pub index_url: Option<String>,
    #[arg(long)]
    pub extra_index_url: Vec<String>,
    #[arg(short = 'f', long)]
    pub find_links: Vec<String>,
    #[arg(long)]
    pub hf_endpoint: Option<String>,
    /// Allow pre-releases.
    #[arg(long)]
    pub pre: bool,
    /// Skip editable, local-path and VCS requirements with a warning instead of failing.
    #[arg(long)]
    pub skip_unbundlable: bool,
    /// Bundle without a local file a config names that does not exist (a warning instead of an error).
    #[arg(long)]
    pub skip_missing: bool,
    /// Download cache (default: the user cache dir).
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    /// Parallel downloads.
    #[arg(long, default_value_t = 8)]
    pub jobs: usize,
    /// Which index a project listed on several comes from: first-match (default), first-index,
    /// unsafe-first-match, unsafe-best-match.
    #[arg(long)]
    pub index_strategy: Option<String>,
    /// PyTorch build for the torch family: auto (from the target's probe), cpu, cu121, rocm6.2, xpu, …
    #[arg(long)]
    pub torch_backend: Option<String>,
    /// Root of the PyTorch wheel indexes (or a mirror of it); default FERRY_TORCH_INDEX_BASE.
    #[arg(long)]
    pub torch_index_base: Option<String>,
}

impl Cli {
    pub fn into_command(self) -> Command {
        match self.command {
            Cmd::Keygen {
                secret,
                public,
                unencrypted,
                force,
            } => Command::Keygen(commands::keygen::Settings {
                secret,
                public,
                unencrypted,
                force,
            }),
            Cmd::Lock {
                inputs,
                output,
                format,
            } => Command::Lock(commands::lock::Settings {
                inputs: inputs.into_settings(),
                output: match (format.as_str(), output.to_str()) {
                    ("pylock", Some("ferry.lock")) => PathBuf::from("pylock.toml"),
                    _ => output,
                },
                pylock: format == "pylock",
            }),
            Cmd::Bundle {
                inputs,
                output,
                secret,
                locked,
                split,
                dry_run,
                have,
            } => Command::Bundle(commands::bundle::Settings {
                inputs: inputs.into_settings(),
                output,
                secret,
                locked,
                split,
                dry_run,
                have,
            }),
            Cmd::Verify { bundle, public } => {
                Command::Verify(commands::verify::Settings { bundle, public })
            }
            Cmd::Inspect { bundle, json } => {
                Command::Inspect(commands::inspect::Settings { bundle, json })
            }
            Cmd::Install {
                bundle,
                public,
                venv,
                python,
                hf_home,
                local_dir,
                files_dir,
                only,
                compile_bytecode,
                json,
            } => Command::Install(commands::install::Settings {
                bundle,
                public,
                venv,
                python,
                hf_home,
                local_dir,
                files_dir,
                only,
                compile_bytecode,
                json,
            }),
            Cmd::Diff {
                old,
                new,
                json,
                cache_dir,
            } => Command::Diff(commands::diff::Settings {
                old,
                new,
                json,
                cache_dir,
            }),
            Cmd::Serve {
                bundles,
                public,
                listen,
                export,
            } => Command::Serve(commands::serve::Settings {
                bundles,
                public,
                listen,
                export,
            }),
            Cmd::Probe { python, output } => {
                Command::Probe(commands::probe::Settings { python, output })
            }
        }
    }
}

impl InputFlags {
    fn into_settings(self) -> commands::InputSettings {
        commands::InputSettings {
            manifest: self.manifest,
            requirements: self.requirements,
            constraints: self.constraints,
            configs: self.configs,
            models: self.models,
            include: self.include,
            exclude: self.exclude,
            variant: self.variant,
            python_versions: self.python_versions,
            platforms: self.platforms,
            target_files: self.target_files,
            index_url: self.index_url,
            extra_index_urls: self.extra_index_url,
            find_links: self.find_links,
            hf_endpoint: self.hf_endpoint,
            pre: self.pre,
            skip_unbundlable: self.skip_unbundlable,
            skip_missing: self.skip_missing,
            cache_dir: self.cache_dir,
            jobs: self.jobs.max(1),
            index_strategy: self.index_strategy,
            torch_backend: self.torch_backend,
            torch_index_base: self.torch_index_base,
        }
    }
}
