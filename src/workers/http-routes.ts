// HTTP routes of a shard. The XML aggregate-auth exchange and CONNECT are
// not built yet (issue "The tunnel end to end"); until they are, every
// request gets the 404 ocserv gives for a URL it does not serve.
import type * as http from 'node:http';

export function routeRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
  req.resume();
  res.writeHead(404, { 'Content-Length': '0' });
  res.end();
}
