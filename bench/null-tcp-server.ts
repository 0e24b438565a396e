// A null syslog-over-TCP receiver in a process of its own, for the process benchmark: counts the messages of
// octet-counted frames (`LEN SP MSG`, RFC 6587 §3.4.1, the syslog sink's default framing) and forgets them.
// Prints its port, answers `count` on stdin with the number of whole messages received so far.
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';

let messages = 0;
let bad = 0;

const server = createServer((socket) => {
  // Per connection: the length being read (digits), or the bytes of the current message still to skip.
  let length = 0;
  let digits = 0;
  let skip = 0;
  socket.on('data', (chunk: Buffer) => {
    let i = 0;
    while (i < chunk.length) {
      if (skip > 0) {
        const take = Math.min(skip, chunk.length - i);
        skip -= take;
        i += take;
        if (skip === 0) messages++;
        continue;
      }
      const c = chunk[i++]!;
      if (c >= 0x30 && c <= 0x39) {
        length = length * 10 + (c - 0x30);
        digits++;
      } else if (c === 0x20 && digits > 0) {
        skip = length;
        if (skip === 0) messages++;
        length = 0;
        digits = 0;
      } else {
        // Not octet counting: count it and resynchronise on the next digit.
        bad++;
        length = 0;
        digits = 0;
      }
    }
  });
  socket.on('error', () => undefined);
});

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as { port: number };
  process.stdout.write(`${port}\n`);
});
for await (const line of createInterface({ input: process.stdin })) {
  if (line === 'count') process.stdout.write(`${messages}\n`);
  if (line === 'bad') process.stdout.write(`${bad}\n`);
}
server.close();
