// A null OTLP logs receiver in a process of its own, for the otlp benchmark: decodes every request (protobuf, JSON, gRPC), counts its records; prints its two URLs, answers `count` on stdin.
import { fromBinary, fromJson, type JsonValue } from '@bufbuild/protobuf';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { createServer } from 'node:http';
import http2 from 'node:http2';
import { createInterface } from 'node:readline';
import { gunzipSync } from 'node:zlib';
import { ExportLogsServiceRequestSchema, LogsService, type ExportLogsServiceRequest } from '../connectors/otlp/gen/opentelemetry/proto/collector/logs/v1/logs_service_pb.js';

let records = 0;
const count = (request: ExportLogsServiceRequest) => {
  for (const r of request.resourceLogs) for (const s of r.scopeLogs) records += s.logRecords.length;
};

const httpServer = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    let body = Buffer.concat(chunks);
    if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
    const json = String(req.headers['content-type']).startsWith('application/json');
    count(json ? fromJson(ExportLogsServiceRequestSchema, JSON.parse(body.toString('utf8')) as JsonValue) : fromBinary(ExportLogsServiceRequestSchema, body));
    res.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' }).end(json ? '{}' : '');
  });
});
const grpcServer = http2.createServer(
  connectNodeAdapter({
    grpc: true,
    grpcWeb: false,
    connect: false,
    routes: (router) =>
      router.service(LogsService, {
        export(request) {
          count(request);
          return {};
        },
      }),
  }),
);

const listen = (server: { listen: (port: number, host: string, cb: () => void) => unknown; address: () => unknown }) =>
  new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
const [httpPort, grpcPort] = await Promise.all([listen(httpServer), listen(grpcServer)]);
process.stdout.write(`http://127.0.0.1:${httpPort}\nhttp://127.0.0.1:${grpcPort}\n`);
for await (const line of createInterface({ input: process.stdin })) {
  if (line === 'count') process.stdout.write(`${records}\n`);
}
httpServer.close();
grpcServer.close();
