// Every runmesh verb and its options, as one table: GitLab Runner's verbs with GitLab Runner's
// option names, short forms and environment variables (commands/*.go struct tags), then
// runmesh's per-tier verbs. Help text and the "not an option of" errors come from here.
import type { OptionSpec, VerbSpec } from "./option-table.ts";

/** urfave/cli's app flags, taken before the verb (log/configuration.go). */
export const GLOBAL_OPTIONS: readonly OptionSpec[] = [
  { name: "debug", type: "boolean", env: "RUNNER_DEBUG", help: "debug mode" },
  {
    name: "log-format",
    type: "string",
    env: "LOG_FORMAT",
    arg: "FORMAT",
    help: "Choose log format (options: runner, text, json)",
  },
  {
    name: "log-level",
    short: "l",
    type: "string",
    env: "LOG_LEVEL",
    arg: "LEVEL",
    help: "Log level (options: debug, info, warn, error, fatal, panic)",
  },
  { name: "help", short: "h", type: "boolean", help: "show help" },
  { name: "version", short: "v", type: "boolean", help: "print the version" },
];

const config: OptionSpec = {
  name: "config",
  short: "c",
  type: "string",
  env: "CONFIG_FILE",
  arg: "FILE",
  help: "Config file",
};
const help: OptionSpec = { name: "help", short: "h", type: "boolean", help: "show help" };
const nats: OptionSpec = {
  name: "nats",
  type: "string",
  env: "RUNMESH_NATS_URL",
  arg: "URL",
  help: "NATS server of the mesh (default: [mesh] nats_url, else the in-process bus for run)",
};
const name = (what: string): OptionSpec => ({
  name: "name",
  short: "n",
  type: "string",
  arg: "NAME",
  help: `Name of the runner you wish to ${what}`,
});
/** common.RunnerCredentials: `-u/--url`, `-t/--token`, from CI_SERVER_URL / CI_SERVER_TOKEN. */
const credentials = {
  url: {
    name: "url",
    short: "u",
    type: "string",
    env: "CI_SERVER_URL",
    arg: "URL",
    help: "GitLab instance URL",
  },
  token: {
    name: "token",
    short: "t",
    type: "string",
    env: "CI_SERVER_TOKEN",
    arg: "TOKEN",
    help: "Runner token",
  },
} satisfies Record<string, OptionSpec>;
const allRunners = (what: string): OptionSpec => ({
  name: "all-runners",
  type: "boolean",
  help: what,
});

/** The options GitLab keeps for itself when registering with an authentication token. */
export const SERVER_SIDE_REGISTER_OPTIONS = [
  "tag-list",
  "locked",
  "run-untagged",
  "access-level",
  "maximum-timeout",
  "paused",
  "maintenance-note",
] as const;

/** run's flag, and every tier's: /metrics, /healthz, /readyz and /debug/jobs/list there. */
const listenAddress: OptionSpec = {
  name: "listen-address",
  type: "string",
  env: "LISTEN_ADDRESS",
  arg: "ADDR",
  help: "Metrics / pprof server listening address",
};

export const VERBS: readonly VerbSpec[] = [
  {
    name: "run",
    summary: "run multi runner service (every tier in this process)",
    options: [
      config,
      listenAddress,
      {
        name: "service",
        short: "n",
        type: "string",
        arg: "NAME",
        help: "Use different names for different services",
      },
      {
        name: "working-directory",
        short: "d",
        type: "string",
        arg: "DIR",
        help: "Specify custom working directory (builds and cache live under it)",
      },
      {
        name: "user",
        short: "u",
        type: "string",
        arg: "USER",
        help: "Use specific user to execute shell scripts",
      },
      { name: "syslog", type: "boolean", env: "LOG_SYSLOG", help: "Log to system service logger" },
      nats,
      help,
    ],
  },
  {
    name: "register",
    summary: "register a new runner (with its authentication token, glrt-…; legacy: a registration token)",
    options: [
      config,
      {
        name: "non-interactive",
        short: "n",
        type: "boolean",
        env: "REGISTER_NON_INTERACTIVE",
        help: "Run registration unattended",
      },
      credentials.url,
      { ...credentials.token, help: "Runner authentication token (glrt-…)" },
      {
        name: "registration-token",
        short: "r",
        type: "string",
        env: "REGISTRATION_TOKEN",
        arg: "TOKEN",
        help: "Runner's registration token (deprecated, use --token)",
      },
      {
        name: "description",
        aliases: ["name"],
        type: "string",
        env: "RUNNER_NAME",
        arg: "NAME",
        help: "Runner name",
      },
      {
        name: "executor",
        type: "string",
        env: "RUNNER_EXECUTOR",
        arg: "EXECUTOR",
        help: "Select executor, eg. shell, docker, etc.",
      },
      {
        name: "shell",
        type: "string",
        env: "RUNNER_SHELL",
        arg: "SHELL",
        help: "Select bash, sh, cmd, pwsh or powershell",
      },
      {
        name: "builds-dir",
        type: "string",
        env: "RUNNER_BUILDS_DIR",
        arg: "DIR",
        help: "Directory where builds are stored",
      },
      {
        name: "cache-dir",
        type: "string",
        env: "RUNNER_CACHE_DIR",
        arg: "DIR",
        help: "Directory where build cache is stored",
      },
      {
        name: "clone-url",
        type: "string",
        env: "CLONE_URL",
        arg: "URL",
        help: "Overwrite the default URL used to clone or fetch the git ref",
      },
      {
        name: "env",
        type: "string",
        multiple: true,
        env: "RUNNER_ENV",
        arg: "KEY=VALUE",
        help: "Custom environment variables injected to build environment",
      },
      {
        name: "limit",
        type: "string",
        env: "RUNNER_LIMIT",
        arg: "N",
        help: "Maximum number of builds processed by this runner",
      },
      {
        name: "request-concurrency",
        type: "string",
        env: "RUNNER_REQUEST_CONCURRENCY",
        arg: "N",
        help: "Maximum concurrency for job requests",
      },
      {
        name: "output-limit",
        type: "string",
        env: "RUNNER_OUTPUT_LIMIT",
        arg: "KB",
        help: "Maximum build trace size in kilobytes",
      },
      {
        name: "tls-ca-file",
        type: "string",
        env: "CI_SERVER_TLS_CA_FILE",
        arg: "FILE",
        help: "File containing the certificates to verify the peer when using HTTPS",
      },
      {
        name: "tls-cert-file",
        type: "string",
        env: "CI_SERVER_TLS_CERT_FILE",
        arg: "FILE",
        help: "File containing certificate for TLS client auth when using HTTPS",
      },
      {
        name: "tls-key-file",
        type: "string",
        env: "CI_SERVER_TLS_KEY_FILE",
        arg: "FILE",
        help: "File containing private key for TLS client auth when using HTTPS",
      },
      {
        name: "docker-image",
        type: "string",
        env: "DOCKER_IMAGE",
        arg: "IMAGE",
        help: "Docker image to be used",
      },
      {
        name: "docker-privileged",
        type: "boolean",
        env: "DOCKER_PRIVILEGED",
        help: "Give extended privileges to container",
      },
      {
        name: "docker-volumes",
        type: "string",
        multiple: true,
        env: "DOCKER_VOLUMES",
        arg: "VOLUME",
        help: "Bind-mount a volume and create it if it doesn't exist prior to mounting",
      },
      {
        name: "docker-pull-policy",
        type: "string",
        multiple: true,
        env: "DOCKER_PULL_POLICY",
        arg: "POLICY",
        help: "Image pull policy: never, if-not-present, always",
      },
      { name: "ssh-host", type: "string", env: "SSH_HOST", arg: "HOST", help: "Remote host" },
      { name: "ssh-port", type: "string", env: "SSH_PORT", arg: "PORT", help: "Remote host port" },
      { name: "ssh-user", type: "string", env: "SSH_USER", arg: "USER", help: "User name" },
      { name: "ssh-password", type: "string", env: "SSH_PASSWORD", arg: "PASSWORD", help: "User password" },
      {
        name: "ssh-identity-file",
        type: "string",
        env: "SSH_IDENTITY_FILE",
        arg: "FILE",
        help: "Identity file to be used",
      },
      {
        name: "leave-runner",
        type: "boolean",
        env: "REGISTER_LEAVE_RUNNER",
        help: "Don't remove runner if registration fails",
      },
      {
        name: "tag-list",
        type: "string",
        env: "RUNNER_TAG_LIST",
        arg: "TAGS",
        help: "Tag list (registration tokens only)",
      },
      {
        name: "locked",
        type: "boolean",
        env: "REGISTER_LOCKED",
        help: "Lock Runner for current project (registration tokens only)",
      },
      {
        name: "run-untagged",
        type: "boolean",
        env: "REGISTER_RUN_UNTAGGED",
        help: "Run untagged builds (registration tokens only)",
      },
      {
        name: "access-level",
        type: "string",
        env: "REGISTER_ACCESS_LEVEL",
        arg: "LEVEL",
        help: "not_protected or ref_protected (registration tokens only)",
      },
      {
        name: "maximum-timeout",
        type: "string",
        env: "REGISTER_MAXIMUM_TIMEOUT",
        arg: "SECONDS",
        help: "Maximum job timeout (registration tokens only)",
      },
      {
        name: "paused",
        type: "boolean",
        env: "REGISTER_PAUSED",
        help: "Register paused (registration tokens only)",
      },
      {
        name: "maintenance-note",
        type: "string",
        env: "REGISTER_MAINTENANCE_NOTE",
        arg: "NOTE",
        help: "Maintenance note (registration tokens only)",
      },
      help,
    ],
  },
  {
    name: "unregister",
    summary: "unregister specific runner (a glrt- runner: this runner manager only)",
    options: [
      config,
      name("unregister"),
      credentials.url,
      credentials.token,
      allRunners("Unregister all runners"),
      help,
    ],
  },
  {
    name: "verify",
    summary: "verify all registered runners",
    options: [
      config,
      name("verify"),
      // No env: like GitLab Runner, a stray CI_SERVER_URL must not narrow verify's selection.
      { ...credentials.url, env: undefined },
      { ...credentials.token, env: undefined },
      { name: "delete", type: "boolean", help: "Delete no longer existing runners?" },
      help,
    ],
  },
  { name: "list", summary: "List all configured runners", options: [config, help] },
  {
    name: "reset-token",
    summary: "reset a runner's token",
    options: [
      config,
      {
        name: "name",
        short: "n",
        type: "string",
        arg: "NAME",
        help: "Name of the runner whose token you wish to reset (as defined in the configuration file)",
      },
      {
        name: "url",
        short: "u",
        type: "string",
        arg: "URL",
        help: "URL of the runner whose token you wish to reset (as defined in the configuration file)",
      },
      {
        name: "id",
        short: "i",
        type: "string",
        arg: "ID",
        help: "ID of the runner whose token you wish to reset (as defined in the configuration file)",
      },
      allRunners("Reset all runner authentication tokens"),
      help,
    ],
  },
  ...serviceVerbs(),
  {
    name: "poller",
    summary: "runmesh tier: asks GitLab for jobs (holds runner tokens); needs NATS",
    options: [config, nats, listenAddress, help],
  },
  {
    name: "scheduler",
    summary: "runmesh tier: slots, leases, dispatch, lost workers; needs NATS",
    options: [config, nats, listenAddress, help],
  },
  {
    name: "worker",
    summary: "runmesh tier: runs jobs; reads [mesh] only; needs NATS",
    options: [
      { ...config, help: "Config file ([mesh] is all a worker reads)" },
      nats,
      listenAddress,
      {
        name: "id",
        type: "string",
        arg: "ID",
        help: "Worker id (default: [mesh] name, else one kept in the data dir)",
      },
      {
        name: "slots",
        type: "string",
        arg: "N",
        help: "Jobs this worker runs at once ([mesh] worker_slots)",
      },
      { name: "builds-dir", type: "string", arg: "DIR", help: "Where builds live ([mesh] builds_dir)" },
      {
        name: "user",
        short: "u",
        type: "string",
        arg: "USER",
        help: "Use specific user to execute shell scripts",
      },
      help,
    ],
  },
  {
    name: "autoscaler",
    summary: "runmesh tier: [runners.autoscaler] instance groups (holds plugin_config); needs NATS",
    options: [config, nats, listenAddress, help],
  },
  {
    name: "autoscaler simulate",
    summary: "replay a job-arrival trace against an entry's [runners.autoscaler] policy",
    options: [
      config,
      { name: "trace", type: "string", arg: "FILE", help: "Job arrivals: `at_s,duration_s` lines" },
      name("simulate (default: the only autoscaled entry)"),
      { name: "boot", type: "string", arg: "SECONDS", help: "Seconds from Increase to ready (60)" },
      { name: "start", type: "string", arg: "TIME", help: "ISO 8601 start of the trace (today 00:00Z)" },
      help,
    ],
  },
  {
    name: "cache-signer",
    summary: "runmesh tier: signs cache URLs (holds [runners.cache] keys, never runner tokens); needs NATS",
    options: [
      { ...config, help: "Config file ([runners.cache] and short tokens are all it reads)" },
      nats,
      listenAddress,
      help,
    ],
  },
  {
    name: "fleeting install",
    summary: "install the fleeting plugins of [runners.autoscaler] entries from their OCI registries",
    options: [config, { name: "upgrade", type: "boolean", help: "fetch a newer matching version" }, help],
  },
  {
    name: "fleeting list",
    summary: "list referenced fleeting plugins and the version used",
    options: [config, help],
  },
  {
    name: "fleeting login",
    summary: "sign in to a private registry of fleeting plugins (the password on stdin)",
    options: [
      {
        name: "registry",
        type: "string",
        arg: "HOST",
        help: "Registry host[:port] of the plugin references",
      },
      { name: "username", type: "string", arg: "USER", help: "User name (the password is read from stdin)" },
      help,
    ],
  },
  { name: "version", summary: "print the version (same as --version)", options: [help] },
];

function serviceVerbs(): VerbSpec[] {
  const service: OptionSpec = {
    name: "service",
    short: "n",
    type: "string",
    arg: "NAME",
    help: "Specify service name to use (default: gitlab-runner)",
  };
  const install: OptionSpec[] = [
    service,
    {
      name: "working-directory",
      short: "d",
      type: "string",
      arg: "DIR",
      help: "Specify custom root directory where all data are stored",
    },
    { ...config, env: undefined, help: "Specify custom config file" },
    { name: "syslog", type: "boolean", help: "Setup system logging integration" },
    { name: "user", short: "u", type: "string", arg: "USER", help: "Specify user-name to secure the runner" },
    {
      name: "init-user",
      short: "i",
      type: "string",
      arg: "USER",
      help: "Specify user-name to secure the runner in the systemd unit file",
    },
    {
      name: "unit-dir",
      type: "string",
      arg: "DIR",
      help: "runmesh: where the unit is written (default /etc/systemd/system)",
    },
    help,
  ];
  const control: OptionSpec[] = [
    service,
    {
      name: "unit-dir",
      type: "string",
      arg: "DIR",
      help: "runmesh: where the unit lives (default /etc/systemd/system)",
    },
    help,
  ];
  return [
    { name: "install", summary: "install service (writes a systemd unit)", options: install },
    { name: "uninstall", summary: "uninstall service", options: control },
    { name: "start", summary: "start service", options: control },
    { name: "stop", summary: "stop service", options: control },
    { name: "restart", summary: "restart service", options: control },
    { name: "status", summary: "get status of a service", options: control },
  ];
}

export function verbNamed(name: string): VerbSpec | undefined {
  return VERBS.find((v) => v.name === name);
}
