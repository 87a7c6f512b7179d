/**
 * sshd runs every command through the login user's shell, and that shell may
 * read startup files first (Debian's bash reads ~/.bashrc for a command that
 * arrives over SSH). Whatever those files print would land in the command's
 * output — in a file read with `cat`, in a hash, in a parsed `stat` line. So
 * each command first prints a line of its own, unique to that command, on
 * stdout and on stderr, and everything before that line is dropped.
 */

/** The line a command prints before anything else (its exec mark is random per command). */
export function preambleToken(mark: string): string {
  return `etcd-runbook-start-${mark}`;
}

/** Shell that prints the token on both streams; it comes first inside `sh -c`. */
export function preambleScript(token: string): string {
  return `printf '%s\\n' ${token}; printf '%s\\n' ${token} >&2; `;
}

/**
 * One stream's filter. Until the token's line has passed, bytes are held back;
 * after it, chunks pass through untouched (the copy path's hot loop pays one
 * comparison). When the stream ends without the token — the command never
 * reached `sh` (sudo refused, no such shell) — what was held is released, so
 * that error is still shown.
 */
export class PreambleFilter {
  private readonly line: Buffer;
  private held: Buffer | undefined = Buffer.alloc(0);

  constructor(token: string) {
    this.line = Buffer.from(`${token}\n`);
  }

  /** The part of this chunk that is the command's own output. */
  take(chunk: Buffer): Buffer {
    if (this.held === undefined) return chunk;
    const held = Buffer.concat([this.held, chunk]);
    const at = held.indexOf(this.line);
    if (at < 0) {
      this.held = held;
      return Buffer.alloc(0);
    }
    this.held = undefined;
    return held.subarray(at + this.line.length);
  }

  /** At the end of the stream: what was held back if the token never came. */
  rest(): Buffer {
    const held = this.held ?? Buffer.alloc(0);
    this.held = undefined;
    return held;
  }
}
