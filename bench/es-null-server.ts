// A null Elasticsearch `_bulk` receiver in a process of its own, for the elasticsearch benchmark: every document created; prints its URL, answers `count` on stdin.
import { createServer } from 'node:http';
import { createInterface } from 'node:readline';
import { gunzipSync } from 'node:zlib';

let documents = 0;
const CREATED = '{"create":{"status":201}}';

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    if (req.method === 'GET' && req.url === '/') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"version":{"number":"8.17.0"},"cluster_name":"null"}');
      return;
    }
    if (req.method !== 'POST' || !(req.url ?? '').startsWith('/_bulk')) {
      res.writeHead(404).end();
      return;
    }
    let body = Buffer.concat(chunks);
    if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
    // Every other line is an action line (each document is one line after its action).
    let lines = 0;
    for (let i = body.indexOf(10); i !== -1; i = body.indexOf(10, i + 1)) lines++;
    const items = lines / 2;
    documents += items;
    res.writeHead(200, { 'content-type': 'application/json' }).end(`{"errors":false,"items":[${new Array(items).fill(CREATED).join(',')}]}`);
  });
});
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as { port: number };
  process.stdout.write(`http://127.0.0.1:${port}\n`);
});
for await (const line of createInterface({ input: process.stdin })) {
  if (line === 'count') process.stdout.write(`${documents}\n`);
}
server.close();
