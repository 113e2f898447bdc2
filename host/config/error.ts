// The one error a bad conntrackd.conf raises. Its message is exactly
// "file:line: what is wrong" (or "file: what is wrong" when the file cannot
// be read at all), ready for the daemon to print before exiting with 1.

export class ConfigError extends Error {
  readonly file: string;
  readonly line: number | null;
  readonly reason: string;

  constructor(file: string, line: number | null, reason: string) {
    super(line === null ? `${file}: ${reason}` : `${file}:${line}: ${reason}`);
    this.name = "ConfigError";
    this.file = file;
    this.line = line;
    this.reason = reason;
  }
}
