// Splits conntrackd.conf into tokens. conntrackd's flex lexer knows dozens of
// token kinds; here a token is only a word, "{" or "}", and the parser decides
// what a word must be from where it stands, which gives better messages
// ("expected a number after HashSize") than a grammar-level syntax error.
import { ConfigError } from "./error.ts";

export interface Token {
  kind: "word" | "open" | "close";
  text: string;
  /** 1-based; only "\n" ends a line, as in flex's yylineno. */
  line: number;
}

const SPACE = /[ \t\r\n]/;

export function tokenize(text: string, file: string): Token[] {
  const tokens: Token[] = [];
  let line = 1;
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === "\n") {
      line++;
      i++;
    } else if (SPACE.test(c)) {
      i++;
    } else if (c === "#") {
      i = skipComment(text, i);
    } else if (c === "{" || c === "}") {
      tokens.push({ kind: c === "{" ? "open" : "close", text: c, line });
      i++;
    } else if (c === '"') {
      throw quoteError(text, i, file, line);
    } else {
      const end = wordEnd(text, i);
      tokens.push({ kind: "word", text: text.slice(i, end), line });
      i = end;
    }
  }
  return tokens;
}

function skipComment(text: string, i: number): number {
  const end = text.indexOf("\n", i);
  return end === -1 ? text.length : end;
}

/** A word runs to the next space, brace or quote; "#" inside a word is kept (paths may hold it). */
function wordEnd(text: string, i: number): number {
  let j = i;
  while (j < text.length && !SPACE.test(text[j]) && !'{}"'.includes(text[j])) j++;
  return j;
}

// conntrackd's lexer has no quoted strings: a quote is a syntax error there,
// so it is one here too, or a file we accept would break conntrackd.
function quoteError(text: string, i: number, file: string, line: number): ConfigError {
  const close = text.indexOf('"', i + 1);
  const newline = text.indexOf("\n", i + 1);
  if (close === -1 || (newline !== -1 && newline < close)) {
    return new ConfigError(file, line, "unterminated quote; conntrackd.conf values are written without quotes");
  }
  const inner = text.slice(i + 1, close);
  return new ConfigError(file, line, `quoted value "${inner}": conntrackd.conf values are written without quotes`);
}
