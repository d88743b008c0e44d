// Opening a TCP listener and learning its address (port 0 picks a free one), shared by the client and peer servers.
import net from 'node:net';

export async function listenTcp(
  host: string,
  port: number,
  onConnection: (socket: net.Socket) => void,
  maxConnections?: number,
  serverOptions: net.ServerOpts = {},
): Promise<{ server: net.Server; address: { host: string; port: number } }> {
  const server = net.createServer(serverOptions, onConnection);
  if (maxConnections !== undefined) server.maxConnections = maxConnections;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
  server.on('error', () => {});
  const a = server.address() as net.AddressInfo;
  return { server, address: { host: a.address, port: a.port } };
}
