import { createInterface } from 'node:readline/promises';
import type { SshPrompts } from '../transport/for-node.js';
import { knownHostsName } from '../transport/hostPatterns.js';
import type { HostKeyDecision, HostKeyOffer } from '../transport/ssh.js';

/**
 * SSH questions at a plain terminal: an unknown host's fingerprint must be
 * accepted (once, or saved to known_hosts), and a key's passphrase is read
 * without echo and never stored anywhere but the connection attempt.
 * Prompts are serialised: several nodes connect in parallel.
 */
let queue: Promise<unknown> = Promise.resolve();

function serially<T>(ask: () => Promise<T>): Promise<T> {
  const next = queue.then(ask, ask);
  queue = next.catch(() => undefined);
  return next;
}

export function terminalSshPrompts(input: NodeJS.ReadStream = process.stdin, output: NodeJS.WriteStream = process.stdout): SshPrompts {
  return {
    confirmHostKey: (offer) => serially(() => askHostKey(offer, input, output)),
    askPassphrase: (keyPath) => serially(() => askHidden(`passphrase for ${keyPath}: `, input, output)),
  };
}

async function askHostKey(offer: HostKeyOffer, input: NodeJS.ReadStream, output: NodeJS.WriteStream): Promise<HostKeyDecision> {
  const rl = createInterface({ input, output });
  try {
    // named as ssh and known_hosts name it: the bare host on port 22
    output.write(`The authenticity of host '${knownHostsName(offer.host, offer.port)}' can't be established.\n${offer.keyType} key fingerprint is ${offer.fingerprint}.\n`);
    for (;;) {
      const answer = (await rl.question('Accept it? [y]es once / [s]ave to known_hosts / [n]o: ')).trim().toLowerCase();
      if (answer === 'y' || answer === 'yes') return 'accept-once';
      if (answer === 's' || answer === 'save') return 'accept-and-save';
      if (answer === 'n' || answer === 'no') return 'reject';
    }
  } finally {
    rl.close();
  }
}

/** Read a line with echo off (raw mode), so a passphrase never reaches the screen or scrollback. */
function askHidden(prompt: string, input: NodeJS.ReadStream, output: NodeJS.WriteStream): Promise<string> {
  return new Promise((resolve, reject) => {
    output.write(prompt);
    let value = '';
    const wasRaw = input.isRaw;
    input.setRawMode?.(true);
    input.resume();
    const finish = (error?: Error) => {
      input.removeListener('data', onData);
      input.setRawMode?.(wasRaw ?? false);
      input.pause();
      output.write('\n');
      if (error) reject(error);
      else resolve(value);
    };
    const onData = (chunk: Buffer) => {
      for (const char of chunk.toString('utf8')) {
        if (char === '\r' || char === '\n') return finish();
        if (char === '\u0003') return finish(new Error('passphrase entry interrupted'));
        if (char === '\u007f' || char === '\b') value = value.slice(0, -1);
        else value += char;
      }
    };
    input.on('data', onData);
  });
}
