// A real PostgreSQL for tests without a server: PGlite (PostgreSQL 17 compiled to WebAssembly, in
// this process) with its pgvector extension, served over the wire protocol by pglite-socket on
// 127.0.0.1 and a port the OS picks, so node-postgres (and PgStore) connect to it as to any server.
// Starting takes a few seconds: start one per test file and stop it in `after`.
//
// PGlite is a single session: pglite-socket multiplexes its client connections onto it, one query
// at a time, and holds the others back while one has a transaction open (pg-store.ts's header says
// what that means for PgStore). It accepts any user and password.
import { PGlite } from "@electric-sql/pglite";
import { vector } from "@electric-sql/pglite/vector";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";

export interface PgliteServer {
  /** postgres://postgres@127.0.0.1:PORT/postgres */
  url: string;
  port: number;
  stop(): Promise<void>;
}

export async function startPglite(): Promise<PgliteServer> {
  const db = await PGlite.create({ extensions: { vector } });
  // several connections at once: PgStore's pools (4 per URL) plus one per held writer lock
  const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port: 0, maxConnections: 32 });
  await server.start();
  const port = Number(server.getServerConn().split(":").pop());
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    async stop() {
      await server.stop();
      await db.close();
    },
  };
}
