// A cursor over the tokens of one file, with the typed reads the sections
// need ("a number after HashSize"). Every failure names the file, the line
// of the keyword being read and what was expected instead.
import { ConfigError } from "./error.ts";
import type { Token } from "./lexer.ts";
import { ipv4Problem, ipv6Problem } from "./address.ts";

const INT_MAX = 2147483647; // conntrackd reads numbers with atoi() into an int

export class ConfigReader {
  readonly warnings: string[] = [];
  private pos = 0;

  constructor(
    private readonly tokens: Token[],
    readonly file: string,
  ) {}

  peek(): Token | undefined {
    return this.tokens[this.pos];
  }

  next(): Token | undefined {
    return this.tokens[this.pos++];
  }

  /** The line to blame when the file ends too early. */
  lastLine(): number {
    return this.tokens.length ? this.tokens[this.tokens.length - 1].line : 1;
  }

  fail(line: number, reason: string): never {
    throw new ConfigError(this.file, line, reason);
  }

  warn(line: number, message: string): void {
    this.warnings.push(`${this.file}:${line}: ${message}`);
  }

  /** The next token, which must be a word; `what` completes "expected ... after KW". */
  word(kw: Token, what: string): Token {
    const t = this.next();
    if (!t || t.kind !== "word") this.fail(kw.line, `expected ${what} after ${kw.text}, found ${describe(t)}`);
    return t;
  }

  number(kw: Token): number {
    return this.asNumber(kw, this.word(kw, "a number"));
  }

  /** An already-read token as an unsigned number. */
  asNumber(kw: Token, t: Token, what = "a number"): number {
    return this.toNumber(kw, t, /^[0-9]+$/, what);
  }

  /** A number that may carry a sign, as Nice takes. */
  signedNumber(kw: Token): number {
    const t = this.word(kw, "a number");
    return this.toNumber(kw, t, /^[-+]?[0-9]+$/, "a number");
  }

  /** A number limited to [min, max], e.g. a port. */
  numberIn(kw: Token, min: number, max: number): number {
    const n = this.number(kw);
    if (n < min || n > max) this.fail(kw.line, `${kw.text} must be between ${min} and ${max}, got ${n}`);
    return n;
  }

  bool(kw: Token): boolean {
    const t = this.word(kw, "on or off");
    const value = boolWord(t.text);
    if (value === null) this.fail(kw.line, `expected on or off after ${kw.text}, found "${t.text}"`);
    return value;
  }

  /** An absolute path, as conntrackd's lexer only knows paths that start with "/". */
  path(kw: Token, maxLength: number): string {
    const t = this.word(kw, "an absolute path");
    if (!t.text.startsWith("/")) this.fail(kw.line, `expected an absolute path after ${kw.text}, found "${t.text}"`);
    if (t.text.length > maxLength) this.fail(kw.line, `${kw.text} path is longer than ${maxLength} characters`);
    return t.text;
  }

  ipv4(kw: Token): string {
    const t = this.word(kw, "an IPv4 address");
    const problem = ipv4Problem(t.text);
    if (problem) this.fail(kw.line, `invalid address after ${kw.text}: ${problem}`);
    return t.text;
  }

  ipv6(kw: Token): string {
    const t = this.word(kw, "an IPv6 address");
    const problem = ipv6Problem(t.text);
    if (problem) this.fail(kw.line, `invalid address after ${kw.text}: ${problem}`);
    return t.text;
  }

  private toNumber(kw: Token, t: Token, shape: RegExp, what: string): number {
    if (!shape.test(t.text)) this.fail(kw.line, `expected ${what} after ${kw.text}, found "${t.text}"`);
    const n = Number(t.text);
    if (Math.abs(n) > INT_MAX) this.fail(kw.line, `${kw.text} value ${t.text} is too large (the most is ${INT_MAX})`);
    return n;
  }
}

/** on/yes and off/no in any case, as conntrackd's lexer spells them. */
export function boolWord(text: string): boolean | null {
  const lower = text.toLowerCase();
  if (lower === "on" || lower === "yes") return true;
  if (lower === "off" || lower === "no") return false;
  return null;
}

export function describe(t: Token | undefined): string {
  if (!t) return "end of file";
  return `"${t.text}"`;
}
