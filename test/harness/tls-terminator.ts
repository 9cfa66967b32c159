/**
 * A TLS terminator in front of a plaintext gRPC server, standing in for a cluster's TLS frontend
 * (`temporal server start-dev` serves no TLS): it presents `cert` with ALPN h2, requires a client
 * certificate signed by `clientCa` (mTLS) and pipes each accepted connection to `upstream`.
 */
import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';

export interface TlsTerminatorOptions {
  /** host:port of the plaintext server behind it. */
  upstream: string;
  certPath: string;
  keyPath: string;
  /** CA that client certificates must chain to. */
  clientCaPath: string;
}

export interface TlsTerminator {
  /** 127.0.0.1:<port> to connect to. */
  address: string;
  /** Client certificates' subjects of the connections it let through, in order. */
  acceptedClients: string[];
  /** Handshakes it refused, with the reason OpenSSL gave. */
  refusedHandshakes: string[];
  close(): Promise<void>;
}

function splitAddress(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(':');
  return { host: address.slice(0, at), port: Number(address.slice(at + 1)) };
}

export async function startTlsTerminator(options: TlsTerminatorOptions): Promise<TlsTerminator> {
  const upstream = splitAddress(options.upstream);
  const sockets = new Set<net.Socket>();
  const acceptedClients: string[] = [];
  const refusedHandshakes: string[] = [];
  const server = tls.createServer(
    {
      cert: fs.readFileSync(options.certPath),
      key: fs.readFileSync(options.keyPath),
      ca: fs.readFileSync(options.clientCaPath),
      requestCert: true,
      rejectUnauthorized: true,
      ALPNProtocols: ['h2'],
    },
    (secure) => {
      const subject = secure.getPeerCertificate().subject?.CN;
      acceptedClients.push(typeof subject === 'string' ? subject : String(subject));
      const plain = net.connect(upstream.port, upstream.host);
      for (const socket of [secure, plain]) {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        // Either side closing or failing ends the pair; the gRPC clients reconnect on their own.
        socket.on('error', () => undefined);
      }
      secure.pipe(plain).pipe(secure);
      secure.on('close', () => plain.destroy());
      plain.on('close', () => secure.destroy());
    },
  );
  server.on('tlsClientError', (err) => refusedHandshakes.push(err.message));
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    acceptedClients,
    refusedHandshakes,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
