/** A row as the database returns it; rows.ts turns rows into the Store's views. */
export type Row = Record<string, unknown>;

/** What SqlStore needs of a connection: parameterised queries and, for migrations, scripts. */
export interface Queryable {
  query<T extends Row = Row>(text: string, params?: unknown[]): Promise<T[]>;
  /** Several statements without parameters (a migration file). */
  exec(text: string): Promise<void>;
}

/**
 * A tiny database driver: node-postgres (pg-driver.ts) or PGlite (pglite-driver.ts).
 * Drivers turn connection failures into RetryLaterError and SQL errors into the store's kinds
 * (db-errors.ts), so everything above them sees one error vocabulary.
 */
export interface SqlDriver extends Queryable {
  /** What it connects to, without secrets, for logs and the start banner. */
  readonly description: string;
  /** Runs `fn` in one transaction on one connection; rolls back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
