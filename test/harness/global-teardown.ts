export default async function globalTeardown(): Promise<void> {
  const server = globalThis.__EBB_DEV_SERVER__;
  if (server) await server.stop();
}
