// A scripted AnyConnect client for protocol tests: Node's tls, the XML
// aggregate-auth exchange written out by hand as openconnect 9 sends it
// (auth.c), CONNECT, then CSTP frames. Written independently of the server's
// builders so a mistake on one side is not mirrored on the other. Also used
// to send deliberately broken input.
import * as tls from 'node:tls';
import { once } from 'node:events';
import { FrameReader, cstpFrame } from './packets';

export const INIT_XML =
  '<?xml version="1.0" encoding="UTF-8"?>\n<config-auth client="vpn" type="init" aggregate-auth-version="2"><version who="vpn">v9.12</version><device-id>linux-64</device-id><group-access>https://gw.test</group-access></config-auth>';

export function authReplyXml(user: string, password: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<config-auth client="vpn" type="auth-reply" aggregate-auth-version="2"><version who="vpn">v9.12</version><device-id>linux-64</device-id><auth><username>${user}</username><password>${password}</password></auth></config-auth>`;
}

/** Auth rounds a login may take before the client gives up. */
const MAX_AUTH_ROUNDS = 4;

export interface HttpReply {
  status: number;
  statusLine: string;
  /** Header lines exactly as sent (case kept). */
  headerLines: string[];
  body: string;
}

/** Reads bytes from a socket until a full HTTP response (by Content-Length) is in `buf`. */
class Reader {
  buf = Buffer.alloc(0);
  closed = false;
  constructor(readonly sock: tls.TLSSocket) {
    sock.on('data', (d: Buffer) => (this.buf = Buffer.concat([this.buf, d])));
    sock.on('close', () => (this.closed = true));
    sock.on('error', () => (this.closed = true));
  }
  async until(pred: () => boolean, timeoutMs = 10_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!pred()) {
      if (this.closed) throw new Error('connection closed');
      if (Date.now() > end) throw new Error('timed out');
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  async response(): Promise<HttpReply> {
    await this.until(() => this.buf.includes('\r\n\r\n'));
    const headEnd = this.buf.indexOf('\r\n\r\n');
    const lines = this.buf.subarray(0, headEnd).toString('latin1').split('\r\n');
    const cl = lines.find((l) => /^content-length:/i.test(l));
    const len = cl ? Number(cl.split(':')[1]) : 0;
    await this.until(() => this.buf.length >= headEnd + 4 + len);
    const body = this.buf.subarray(headEnd + 4, headEnd + 4 + len).toString();
    this.buf = this.buf.subarray(headEnd + 4 + len);
    return { status: Number(lines[0]!.split(' ')[1]), statusLine: lines[0]!, headerLines: lines.slice(1), body };
  }
}

export class CstpTestClient {
  readonly reader: Reader;
  readonly frames: Array<{ type: number; payload: Buffer }> = [];
  /**
   * When set, tunnel frames are handed to it as they arrive instead of being
   * kept in `frames` (load generators: a latency probe must not wait for a
   * poll, and a long run must not keep every frame).
   */
  onFrame: ((f: { type: number; payload: Buffer }) => void) | undefined;

  private constructor(readonly sock: tls.TLSSocket) {
    this.reader = new Reader(sock);
  }

  static async connect(port: number, host = '127.0.0.1', localAddress?: string, localPort?: number): Promise<CstpTestClient> {
    // No Nagle: a small frame goes out at once, not when the previous one is acknowledged (the RTT probe times
    // the tunnel, not its own TCP stack).
    const sock = tls.connect({ host, port, rejectUnauthorized: false, ...(localAddress ? { localAddress } : {}), ...(localPort ? { localPort } : {}) });
    sock.setNoDelay(true);
    await once(sock, 'secureConnect');
    return new CstpTestClient(sock);
  }

  /** True when a TLS connection from `localAddress` is refused before the handshake completes. */
  static async refused(port: number, localAddress: string): Promise<boolean> {
    try {
      const c = await CstpTestClient.connect(port, '127.0.0.1', localAddress);
      c.close();
      return false;
    } catch {
      return true;
    }
  }

  get closed(): boolean {
    return this.reader.closed;
  }

  async post(path: string, body: string, extra = ''): Promise<HttpReply> {
    this.sock.write(`POST ${path} HTTP/1.1\r\nHost: gw.test\r\nUser-Agent: Open AnyConnect VPN Agent v9.12\r\nX-Transcend-Version: 1\r\nX-Aggregate-Auth: 1\r\nContent-Type: application/x-www-form-urlencoded\r\n${extra}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    return this.reader.response();
  }

  /**
   * init, then auth-replies until the server stops asking (ocserv asks for the
   * user name and the password in two rounds, wolfguard in one; like
   * openconnect, every round carries both); returns the webvpn cookie or the
   * last reply.
   */
  async login(user: string, password: string): Promise<{ cookie?: string; reply: HttpReply }> {
    let reply = await this.post('/', INIT_XML);
    for (let round = 0; round < MAX_AUTH_ROUNDS; round++) {
      if (reply.status !== 200) return { reply };
      const ctx = reply.headerLines.find((l) => /^Set-Cookie: webvpncontext=[^;]/.test(l))?.split(';')[0]?.slice('Set-Cookie: '.length);
      if (ctx) this.#context = ctx;
      reply = await this.post('/auth', authReplyXml(user, password), this.#context ? `Cookie: ${this.#context}\r\n` : '');
      const line = reply.headerLines.find((l) => l.startsWith('Set-Cookie: webvpn='));
      const cookie = line?.slice('Set-Cookie: webvpn='.length).split(';')[0];
      if (cookie) return { cookie, reply };
      if (!/type="auth-request"/.test(reply.body)) return { reply };
    }
    return { reply };
  }

  #context: string | undefined;

  /** CONNECT /CSCOSSLC/tunnel; on 200 the socket carries CSTP frames from now on. */
  async tunnel(cookie: string, extraHeaders = ''): Promise<HttpReply> {
    this.sock.write(
      `CONNECT /CSCOSSLC/tunnel HTTP/1.1\r\nHost: gw.test\r\nUser-Agent: Open AnyConnect VPN Agent v9.12\r\nCookie: webvpn=${cookie}\r\nX-CSTP-Version: 1\r\nX-CSTP-Hostname: testhost\r\nX-CSTP-Base-MTU: 1500\r\nX-CSTP-Address-Type: IPv6,IPv4\r\nX-CSTP-Full-IPv6-Capability: true\r\n${extraHeaders}\r\n`,
    );
    const r = await this.reader.response();
    if (r.status === 200) {
      const fr = new FrameReader();
      const deliver = (fs: Array<{ type: number; payload: Buffer }>) => {
        if (this.onFrame === undefined) this.frames.push(...fs);
        else for (const f of fs) this.onFrame(f);
      };
      deliver(fr.push(this.reader.buf));
      this.reader.buf = Buffer.alloc(0);
      this.sock.on('data', (d: Buffer) => {
        deliver(fr.push(d));
        this.reader.buf = Buffer.alloc(0);
      });
    }
    return r;
  }

  send(type: number, payload: Buffer = Buffer.alloc(0)): void {
    this.sock.write(cstpFrame(type, payload));
  }

  async waitFrame(pred: (f: { type: number; payload: Buffer }) => boolean, timeoutMs = 10_000): Promise<{ type: number; payload: Buffer }> {
    await this.reader.until(() => this.frames.some(pred), timeoutMs);
    return this.frames.find(pred)!;
  }

  close(): void {
    this.sock.destroy();
  }
}

/** The value of a header line `Name: value` (exact-case name), all of them. */
export function headerValues(r: HttpReply, name: string): string[] {
  return r.headerLines.filter((l) => l.startsWith(`${name}: `)).map((l) => l.slice(name.length + 2));
}
