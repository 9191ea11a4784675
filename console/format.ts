// How the console shows values: times, JSON, bytes, counts.

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** `2026-12-07 18:26:03.123` in the browser's time zone. */
export function formatTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  const d = new Date(ms);
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`
  );
}

/** A time given in µs since the epoch (`epochUs`), as {@link formatTime}. */
export function formatTimeUs(us: number | null | undefined): string {
  return us === null || us === undefined ? '—' : formatTime(us / 1000);
}

/** A duration such as `850 ms`, `12.5 s`, `3 min`, `2.1 h`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min`;
  if (ms < 86_400_000) return `${(ms / 3_600_000).toFixed(1)} h`;
  return `${(ms / 86_400_000).toFixed(1)} d`;
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

/** `12.5 events/s`. */
export function formatRate(perSecond: number, unit: string): string {
  const figure = perSecond >= 100 ? String(Math.round(perSecond)) : perSecond.toFixed(1);
  return `${figure} ${unit}/s`;
}

/** JSON indented by two spaces; bytes inside are shown by their length. */
export function formatJson(value: unknown): string {
  return JSON.stringify(
    value,
    (_key, inner: unknown) => (inner instanceof Uint8Array ? `<${inner.length} bytes>` : inner),
    2,
  );
}

/** Bytes as rows of 16 hex pairs, at most `limit` bytes. */
export function toHex(bytes: Uint8Array, limit = 4096): string {
  const rows: string[] = [];
  const end = Math.min(bytes.length, limit);
  for (let offset = 0; offset < end; offset += 16) {
    const row = Array.from(bytes.subarray(offset, Math.min(offset + 16, end)), (b) =>
      b.toString(16).padStart(2, '0'),
    );
    rows.push(`${offset.toString(16).padStart(8, '0')}  ${row.join(' ')}`);
  }
  if (bytes.length > end) rows.push(`… ${bytes.length - end} more bytes`);
  return rows.join('\n');
}

export function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}

/** A text field of a submitted form ('' when absent). */
export function fieldText(data: FormData, name: string): string {
  const value = data.get(name);
  return typeof value === 'string' ? value : '';
}
