// The baseline: a bare Node http server answering the same JSON as GET /health.
import { createServer } from 'node:http';

const body = JSON.stringify({ status: 'ok', service: 'switchyard', version: '0.1.0' });
const server = createServer((req, res) => {
  res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
  res.end(body);
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  console.log(`listening http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`);
});
process.on('SIGINT', () => server.close(() => process.exit(0)));
