//! Command-line flags (clap derive only). Converted straight into the plain settings of `commands`.
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::commands::{self, Command};

#[derive(Parser, Debug)]
#[command(
    name = "ferry",
    version,
    about = "Carry Python wheels and Hugging Face models across an air gap",
    after_help = "Examples:\n  ferry keygen -s ferry.key -p ferry.pub\n  ferry bundle -r requirements.txt --python-version 3.10 --platform manylinux_2_28_x86_64 -s ferry.key -o app.ferry.tar\n  ferry install app.ferry.tar -p ferry.pub --venv .venv    # on the offline host\n\nExit codes: 0 success, 1 error, 2 usage, 3 verification failed.\nLog filter: FERRY_LOG (tracing syntax, e.g. FERRY_LOG=ferry=debug)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Cmd,
    /// Less output (errors only).
    #[arg(short, long, global = true, help_heading = "Global options")]
    pub quiet: bool,
    /// More output (-v debug, -vv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count, help_heading = "Global options")]
    pub verbose: u8,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Generate a minisign-format key pair.
    #[command(
        after_help = "Examples:\n  ferry keygen -s ferry.key -p ferry.pub              # asks for a password\n  FERRY_KEY_PASSWORD=... ferry keygen                  # password from the environment\n  ferry keygen --unencrypted -s ci.key -p ci.pub       # no password (CI, tests)"
    )]
    Keygen {
        /// Secret key to write (keep it on the online machine).
        #[arg(short = 's', long = "secret-key", default_value = "ferry.key")]
        secret: PathBuf,
        /// Public key to write (copy it to the offline host).
        #[arg(short = 'p', long = "public-key", default_value = "ferry.pub")]
        public: PathBuf,
        /// Store the secret key without a password (otherwise FERRY_KEY_PASSWORD or a terminal prompt).
        #[arg(long)]
        unencrypted: bool,
        /// Overwrite existing key files.
        #[arg(long)]
        force: bool,
    },
    /// Resolve inputs for the targets and write a lock file.
    #[command(
        after_help = "Examples:\n  ferry lock -r requirements.txt --python-version 3.10 --platform manylinux_2_28_x86_64 -o ferry.lock\n  ferry lock -r requirements.txt --target target.json --force      # target from `ferry probe`\n  ferry lock manifests/quickstart.yaml -o quickstart.lock"
    )]
    Lock {
        #[command(flatten)]
        inputs: InputFlags,
        /// Lock file to write.
        #[arg(short = 'o', long, default_value = "ferry.lock")]
        output: PathBuf,
        /// `auto`: measure the mirror candidates and resolve on the fastest fresh one (docs/mirrors.md).
        #[arg(long)]
        mirror: Option<String>,
        /// `ferry` (ferry.lock, JSON) or `pylock` (PEP 751; -o defaults to pylock.toml).
        #[arg(long, value_parser = ["ferry", "pylock"], default_value = "ferry")]
        format: String,
        /// Replace an existing lock file.
        #[arg(long)]
        force: bool,
    },
    /// Resolve, download, pack and sign a bundle.
    #[command(
        after_help = "Examples:\n  ferry bundle -r requirements.txt --python-version 3.10 --platform manylinux_2_28_x86_64 -s ferry.key -o app.ferry.tar\n  ferry bundle --model openai/clip-vit-large-patch14 --include '*.json' -s ferry.key -o clip.ferry.tar\n  ferry bundle --locked ferry.lock -s ferry.key -o app.ferry.tar      # exactly the lock, same bytes\n  ferry bundle manifests/quickstart.yaml -s ferry.key --split 4000M   # FAT32-sized volumes\n  ferry bundle -r requirements.txt --dry-run                          # sizes, and what is cached"
    )]
    Bundle {
        #[command(flatten)]
        inputs: InputFlags,
        /// Bundle to write [default: NAME.ferry.tar, NAME from the manifest or the first input file].
        #[arg(short = 'o', long)]
        output: Option<PathBuf>,
        /// Secret key that signs the bundle (password from FERRY_KEY_PASSWORD or a prompt).
        #[arg(short = 's', long = "secret-key", default_value = "ferry.key")]
        secret: PathBuf,
        /// Bundle exactly this lock: no resolution.
        #[arg(long)]
        locked: Option<PathBuf>,
        /// Split into volumes below SIZE (e.g. 4000M, 2G).
        #[arg(long)]
        split: Option<String>,
        /// Print what would be downloaded, the total size and how much is already cached, then stop.
        #[arg(long)]
        dry_run: bool,
        /// `auto`: download from the fastest fresh mirror, failing over to the next (docs/mirrors.md).
        #[arg(long)]
        mirror: Option<String>,
        /// Delta bundle: leave out every file OLD (a lock or a bundle) already carried.
        #[arg(long, value_name = "OLD")]
        have: Option<PathBuf>,
        /// Replace an existing bundle (and its volumes).
        #[arg(long)]
        force: bool,
        /// Carry this ferry binary in the bundle (member ferry/ferry-VERSION-ARCH-linux), so the offline host
        /// needs nothing else: `tar xf B ferry/` gives a ferry that can verify and install it.
        #[arg(long)]
        with_ferry: bool,
    },
    /// Check a bundle's signature and every hash.
    #[command(
        after_help = "Examples:\n  ferry verify app.ferry.tar -p ferry.pub\n  ferry verify app.ferry.tar.000 -p ferry.pub     # first volume of a split bundle"
    )]
    Verify {
        /// Bundle file (or the first volume, NAME.ferry.tar.000).
        bundle: PathBuf,
        /// Public key of the signer (from `ferry keygen`).
        #[arg(short = 'p', long = "public-key", default_value = "ferry.pub")]
        public: PathBuf,
    },
    /// Show what a bundle holds, without extracting it.
    #[command(
        after_help = "Examples:\n  ferry inspect app.ferry.tar\n  ferry inspect app.ferry.tar --json | python3 -m json.tool\n\nTables fit the terminal width (COLUMNS)."
    )]
    Inspect {
        /// Bundle file (or the first volume of a split bundle).
        bundle: PathBuf,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Install a bundle on this host: wheels into a venv, models into the HF cache.
    #[command(
        after_help = "Examples:\n  ferry install app.ferry.tar -p ferry.pub --venv .venv\n  ferry install app.ferry.tar -p ferry.pub --venv .venv --hf-home ./huggingface\n  ferry install clip.ferry.tar -p ferry.pub --only models\n\nNothing is changed until the signature and every hash check out. No network is used."
    )]
    Install {
        /// Bundle file (or the first volume of a split bundle).
        bundle: PathBuf,
        /// Public key of the signer (from `ferry keygen`).
        #[arg(short = 'p', long = "public-key", default_value = "ferry.pub")]
        public: PathBuf,
        /// Virtual environment for the wheels: created when missing; an existing folder must be a venv
        /// (Windows-target bundles use the Windows layout, Scripts/ and Lib/site-packages).
        #[arg(long)]
        venv: Option<PathBuf>,
        /// Interpreter used to create the venv when missing [default: python3].
        #[arg(long)]
        python: Option<PathBuf>,
        /// Hugging Face home; models go to DIR/hub [default: HF_HUB_CACHE, else HF_HOME/hub, else
        /// ~/.cache/huggingface/hub].
        #[arg(long)]
        hf_home: Option<PathBuf>,
        /// Write models as plain folders DIR/ORG/NAME instead of the HF cache.
        #[arg(long)]
        local_dir: Option<PathBuf>,
        /// Put files that are not on a hub (local checkpoints and plain-URL downloads named by configs) under
        /// DIR: local ones at their config-relative path, URL ones at DIR/NAME.
        #[arg(long)]
        files_dir: Option<PathBuf>,
        /// Install only the wheels or only the models [default: both].
        #[arg(long, value_parser = ["wheels", "models"])]
        only: Option<String>,
        /// Byte-compile the installed .py files (python -m compileall).
        #[arg(long)]
        compile_bytecode: bool,
        /// Print what was installed as JSON (no progress lines).
        #[arg(long)]
        json: bool,
    },
    /// What changed between two bundles or locks (packages, licences, models, size).
    #[command(
        after_help = "Examples:\n  ferry diff old.ferry.tar new.ferry.tar\n  ferry diff ferry.lock new.lock --json"
    )]
    Diff {
        /// The older bundle or lock.
        old: PathBuf,
        /// The newer bundle or lock.
        new: PathBuf,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
        /// Download cache to read licences of locked wheels from (locks only).
        #[arg(long)]
        cache_dir: Option<PathBuf>,
    },
    /// Serve verified bundles as a package index, a Hugging Face hub endpoint and web seeds.
    #[command(
        after_help = "Examples:\n  ferry serve app.ferry.tar -p ferry.pub                       # http://127.0.0.1:8080/simple/\n  ferry serve a.ferry.tar b.ferry.tar -p ferry.pub --listen 0.0.0.0:8080\n  ferry serve app.ferry.tar -p ferry.pub --export ./static-index"
    )]
    Serve {
        /// Bundles to serve (each is verified first).
        #[arg(required = true)]
        bundles: Vec<PathBuf>,
        /// Public key of the signer (from `ferry keygen`).
        #[arg(short = 'p', long = "public-key", default_value = "ferry.pub")]
        public: PathBuf,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// Write a static PEP 503 index (pages, files, .metadata) into DIR and exit.
        #[arg(long)]
        export: Option<PathBuf>,
    },
    /// Write a BitTorrent torrent of a bundle (one per volume) with BEP 19 web seeds.
    Torrent {
        bundle: PathBuf,
        /// Web seed URL (the bundle file, or a folder ending in `/`); repeatable.
        #[arg(long = "web-seed")]
        web_seeds: Vec<String>,
        /// Tracker announce URL; repeatable.
        #[arg(long = "tracker")]
        trackers: Vec<String>,
        #[arg(short = 'o', long)]
        output: PathBuf,
        #[arg(long)]
        force: bool,
    },
    /// Push a bundle to an OCI registry: one layer per bundle file.
    Push {
        bundle: PathBuf,
        /// oci://HOST[:PORT]/REPO:TAG
        reference: String,
        /// Talk HTTP instead of HTTPS (a registry inside the intranet without TLS).
        #[arg(long)]
        plain_http: bool,
        /// Verify the bundle with this public key before pushing.
        #[arg(short = 'p', long = "public-key")]
        public: Option<PathBuf>,
    },
    /// Pull a bundle from an OCI registry and rebuild the byte-identical signed tar.
    Pull {
        /// oci://HOST[:PORT]/REPO:TAG (or @sha256:DIGEST)
        reference: String,
        #[arg(short = 'o', long)]
        output: PathBuf,
        #[arg(long)]
        plain_http: bool,
        /// Also verify the signature and every hash with this public key.
        #[arg(short = 'p', long = "public-key")]
        public: Option<PathBuf>,
        #[arg(long)]
        force: bool,
    },
    /// Describe this host as a target (run on the air-gapped host).
    #[command(
        after_help = "Examples:\n  ferry probe -o target.json                       # on the offline host\n  ferry probe --python /opt/py310/bin/python3 -o py310.json\n  ferry bundle -r requirements.txt --target target.json -s ferry.key   # back on the online machine"
    )]
    Probe {
        /// Interpreter to describe [default: python3].
        #[arg(long)]
        python: Option<PathBuf>,
        /// Target file to write.
        #[arg(short = 'o', long, default_value = "target.json")]
        output: PathBuf,
    },
    /// Measure the mirror candidates (package index, hub, PyTorch wheels) and show the choice.
    Mirrors {
        #[arg(long)]
        json: bool,
        /// Judge freshness against this lock and time one of its files.
        #[arg(long)]
        locked: Option<PathBuf>,
        #[arg(short = 'i', long)]
        index_url: Option<String>,
        #[arg(long)]
        hf_endpoint: Option<String>,
        #[arg(long)]
        torch_index_base: Option<String>,
    },
}

/// MANIFEST, INPUTS, TARGETS and SOURCES shared by `lock` and `bundle`.
#[derive(Args, Debug, Default)]
pub struct InputFlags {
    /// Manifest YAML: everything the flags say, saved (see manifests/ and docs/guide.md).
    #[arg(help_heading = "Inputs")]
    pub manifest: Option<PathBuf>,
    /// Requirements file in pip syntax (-r, -c, -i, --extra-index-url, -f, --hash, markers, extras). Repeatable.
    #[arg(short = 'r', long = "requirement", help_heading = "Inputs")]
    pub requirements: Vec<PathBuf>,
    /// Constraints file in pip syntax. Repeatable.
    #[arg(short = 'c', long = "constraint", help_heading = "Inputs")]
    pub constraints: Vec<PathBuf>,
    /// Training config (kohya sd-scripts / lora-scripts TOML, kohya_ss GUI JSON, ai-toolkit YAML): the models
    /// it names (repo ids, hub URLs, plain URLs, local files) and the tokenizers the trainer loads at run
    /// time for its family. Default file choice: a pipeline's from_pretrained files without the safety
    /// checker; the root file for single-file families (Flux, SD3, …); a VAE's vae/ folder; tokenizer files
    /// only for run-time tokenizers (docs/configs.md). Repeatable.
    #[arg(long = "config", help_heading = "Inputs")]
    pub configs: Vec<PathBuf>,
    /// Hugging Face repo, REPO[@REVISION] or a hub URL. Repeatable.
    #[arg(long = "model", help_heading = "Inputs")]
    pub models: Vec<String>,
    /// Only the --model files matching GLOB (e.g. '*.json'); a pattern matching no file is an error.
    /// Repeatable.
    #[arg(long, value_name = "GLOB", help_heading = "Inputs")]
    pub include: Vec<String>,
    /// Leave out the --model files matching GLOB; a pattern matching no file is an error. Repeatable.
    #[arg(long, value_name = "GLOB", help_heading = "Inputs")]
    pub exclude: Vec<String>,
    /// Precision variant for diffusers pipelines (e.g. fp16).
    #[arg(long, help_heading = "Inputs")]
    pub variant: Option<String>,
    /// Target Python version, e.g. 3.10 [default: the Python found on this machine]. Repeatable.
    #[arg(long = "python-version", help_heading = "Targets")]
    pub python_versions: Vec<String>,
    /// Target platform tag in pip spelling, e.g. manylinux_2_28_x86_64, win_amd64 (uv spellings such as
    /// x86_64-manylinux_2_28 are accepted too) [default: this machine's]. Repeatable.
    #[arg(
        long = "platform",
        visible_alias = "python-platform",
        help_heading = "Targets"
    )]
    pub platforms: Vec<String>,
    /// Target description written by `ferry probe` on the offline host. Repeatable.
    #[arg(long = "target", help_heading = "Targets")]
    pub target_files: Vec<PathBuf>,
    /// Package index [default: requirements -i, PIP_INDEX_URL, pip.conf/pip.ini, UV_DEFAULT_INDEX,
    /// UV_INDEX_URL, else pip's own default].
    #[arg(short = 'i', long, help_heading = "Sources")]
    pub index_url: Option<String>,
    /// More package indexes (also PIP_EXTRA_INDEX_URL). Repeatable.
    #[arg(long, help_heading = "Sources")]
    pub extra_index_url: Vec<String>,
    /// Folder or page of wheels/sdists (pip's --find-links). Repeatable.
    #[arg(short = 'f', long, help_heading = "Sources")]
    pub find_links: Vec<String>,
    /// Hugging Face hub endpoint [default: HF_ENDPOINT, else the public hub]; the token comes from HF_TOKEN
    /// or HF_TOKEN_PATH.
    #[arg(long, help_heading = "Sources")]
    pub hf_endpoint: Option<String>,
    /// Allow pre-releases.
    #[arg(long, help_heading = "Resolution")]
    pub pre: bool,
    /// Skip editable, local-path and VCS requirements with a warning instead of failing.
    #[arg(long, help_heading = "Resolution")]
    pub skip_unbundlable: bool,
    /// Bundle without a local file a config names that does not exist (a warning instead of an error).
    #[arg(long, help_heading = "Inputs")]
    pub skip_missing: bool,
    /// Download cache [default: FERRY_CACHE_DIR, else the user cache dir + /ferry].
    #[arg(long, help_heading = "Downloads")]
    pub cache_dir: Option<PathBuf>,
    /// Parallel downloads.
    #[arg(long, default_value_t = 8, help_heading = "Downloads")]
    pub jobs: usize,
    /// Which index a project listed on several comes from: first-match (default), first-index,
    /// unsafe-first-match, unsafe-best-match.
    #[arg(long, help_heading = "Sources")]
    pub index_strategy: Option<String>,
    /// PyTorch build for the torch family: auto (from the target's probe), cpu, cu121, rocm6.2, xpu, …
    #[arg(long, help_heading = "Resolution")]
    pub torch_backend: Option<String>,
    /// Root of the PyTorch wheel indexes (or a mirror of it); default FERRY_TORCH_INDEX_BASE.
    #[arg(long, help_heading = "Sources")]
    pub torch_index_base: Option<String>,
    /// Do not add the target's pip to bundles (by default a bundle with Python packages carries pip, so a
    /// venv made by `ferry install` has it).
    #[arg(long, help_heading = "Resolution")]
    pub no_pip: bool,
    /// Wheels only for these packages (:all:, :none: or a comma list), as in pip. Repeatable.
    #[arg(long, value_name = "PACKAGES", help_heading = "Resolution")]
    pub only_binary: Vec<String>,
    /// Never wheels for these packages (:all:, :none: or a comma list), as in pip. Repeatable.
    #[arg(long, value_name = "PACKAGES", help_heading = "Resolution")]
    pub no_binary: Vec<String>,
    /// Every requirement must carry a --hash (in the requirements file), as in pip.
    #[arg(long, help_heading = "Resolution")]
    pub require_hashes: bool,
    /// Not available: answered with a hint.
    #[arg(long, hide = true, num_args = 0, default_missing_value = "", value_parser = no_deps_hint)]
    pub no_deps: Option<String>,
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
                mirror,
                force,
            } => Command::Lock(commands::lock::Settings {
                inputs: inputs.into_settings(),
                output: match (format.as_str(), output.to_str()) {
                    ("pylock", Some("ferry.lock")) => PathBuf::from("pylock.toml"),
                    _ => output,
                },
                pylock: format == "pylock",
                mirror,
                force,
            }),
            Cmd::Bundle {
                inputs,
                output,
                secret,
                locked,
                split,
                dry_run,
                mirror,
                have,
                force,
                with_ferry,
            } => Command::Bundle(commands::bundle::Settings {
                inputs: inputs.into_settings(),
                output,
                secret,
                locked,
                split,
                dry_run,
                mirror,
                have,
                force,
                with_ferry,
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
            Cmd::Torrent {
                bundle,
                web_seeds,
                trackers,
                output,
                force,
            } => Command::Torrent(crate::torrent::Settings {
                bundle,
                web_seeds,
                trackers,
                output,
                force,
            }),
            Cmd::Push {
                bundle,
                reference,
                plain_http,
                public,
            } => Command::Push(crate::oci::PushSettings {
                bundle,
                reference,
                plain_http,
                public,
            }),
            Cmd::Pull {
                reference,
                output,
                plain_http,
                public,
                force,
            } => Command::Pull(crate::oci::PullSettings {
                reference,
                output,
                plain_http,
                public,
                force,
            }),
            Cmd::Probe { python, output } => {
                Command::Probe(commands::probe::Settings { python, output })
            }
            Cmd::Mirrors {
                json,
                locked,
                index_url,
                hf_endpoint,
                torch_index_base,
            } => Command::Mirrors(commands::mirrors::Settings {
                json,
                locked,
                index_url,
                hf_endpoint,
                torch_index_base,
            }),
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
            platforms: self.platforms.iter().map(|p| pip_platform(p)).collect(),
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
            no_pip: self.no_pip,
            only_binary: self.only_binary,
            no_binary: self.no_binary,
            require_hashes: self.require_hashes,
        }
    }
}

/// `--no-deps`: ferry always carries the whole dependency tree; say why and what to do instead.
fn no_deps_hint(_: &str) -> Result<String, String> {
    Err("ferry does not take --no-deps: an offline host cannot fetch a missing dependency later, so \
         every bundle carries the complete tree for its targets. To carry exactly a set of pins, list \
         them all in a requirements file (they are checked, not replaced); to leave packages out, \
         install with pip's --no-deps from the extracted wheels/ folder."
        .into())
}

/// A platform in pip spelling (`manylinux_2_28_x86_64`) from pip's or uv's (`x86_64-manylinux_2_28`,
/// `x86_64-unknown-linux-gnu`, `x86_64-pc-windows-msvc`, `aarch64-apple-darwin`, `linux`, `windows`, `macos`).
pub fn pip_platform(value: &str) -> String {
    let v = value.trim();
    let fixed = match v {
        "linux" | "x86_64-unknown-linux-gnu" => Some("manylinux_2_28_x86_64"),
        "aarch64-unknown-linux-gnu" => Some("manylinux_2_28_aarch64"),
        "windows" | "x86_64-pc-windows-msvc" => Some("win_amd64"),
        "i686-pc-windows-msvc" => Some("win32"),
        "aarch64-pc-windows-msvc" => Some("win_arm64"),
        "macos" | "aarch64-apple-darwin" => Some("macosx_13_0_arm64"),
        "x86_64-apple-darwin" => Some("macosx_13_0_x86_64"),
        _ => None,
    };
    if let Some(f) = fixed {
        return f.to_string();
    }
    // ARCH-manylinux_X_Y / ARCH-musllinux_X_Y → manylinux_X_Y_ARCH
    if let Some((arch, rest)) = v.split_once('-') {
        if rest.starts_with("manylinux") || rest.starts_with("musllinux") {
            return format!("{rest}_{arch}");
        }
    }
    v.to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn uv_platform_spellings() {
        use super::pip_platform;
        assert_eq!(
            pip_platform("x86_64-manylinux_2_28"),
            "manylinux_2_28_x86_64"
        );
        assert_eq!(
            pip_platform("aarch64-musllinux_1_2"),
            "musllinux_1_2_aarch64"
        );
        assert_eq!(pip_platform("windows"), "win_amd64");
        assert_eq!(pip_platform("x86_64-pc-windows-msvc"), "win_amd64");
        assert_eq!(
            pip_platform("manylinux_2_17_x86_64"),
            "manylinux_2_17_x86_64"
        );
        assert_eq!(pip_platform("win_amd64"), "win_amd64");
    }
}
