import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A mistake in how the command was called: exit code 2, with the command's help. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly help?: string,
  ) {
    super(message);
  }
}

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export interface Parsed {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

/** Parses a command's arguments; unknown options and bad values are usage errors. */
export function parse(args: string[], options: OptionSpec, help: string): Parsed {
  try {
    const { values, positionals } = parseArgs({
      args,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
    return { values: values, positionals };
  } catch (error) {
    throw new UsageError((error as Error).message, help);
  }
}

export function str(parsed: Parsed, name: string): string | undefined {
  const value = parsed.values[name];
  return typeof value === 'string' ? value : undefined;
}

/** An integer option (or undefined); a usage error when it is not one. */
export function int(
  parsed: Parsed,
  name: string,
  help: string,
  min = Number.MIN_SAFE_INTEGER,
): number | undefined {
  const raw = str(parsed, name);
  if (raw === undefined) return undefined;
  if (!/^-?\d+$/.test(raw) || Number(raw) < min) {
    throw new UsageError(
      `--${name} must be an integer${min === 0 ? ' >= 0' : ''}, got ${raw}`,
      help,
    );
  }
  return Number(raw);
}

/** Exactly `names.length` positional arguments. */
export function positionals(parsed: Parsed, names: string[], help: string): string[] {
  if (parsed.positionals.length !== names.length) {
    throw new UsageError(
      `expected ${names.map((n) => `<${n}>`).join(' ')}, got ${parsed.positionals.length === 0 ? 'nothing' : parsed.positionals.join(' ')}`,
      help,
    );
  }
  return parsed.positionals;
}
