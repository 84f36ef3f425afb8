/**
 * A config.toml the user must fix. The message is the whole human text, one line per problem
 * (file, runner, key, what was expected, what was found); print it as is, without a stack.
 */
export class ConfigError extends Error {
  constructor(
    /** One self-contained line per problem, each naming the file. */
    readonly problems: readonly string[],
  ) {
    super(problems.join("\n"));
    this.name = "ConfigError";
  }
}
