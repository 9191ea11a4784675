/** Compares strings by their UTF-8 bytes, the order SQLite and PostgreSQL (`COLLATE "C"`) use. */
export function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}
