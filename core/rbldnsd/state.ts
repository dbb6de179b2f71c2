// Load-time state shared by the reader and the dataset loaders.

/** Where a line came from: used in every warning ("file:line: message"). */
export interface Loc {
  file: string;
  line: number;
}

export interface TtlLimits {
  /** -t default (rbldnsd: 35m). */
  def: number;
  min: number;
  max: number;
}

export interface LoadOptions {
  ttl: TtlLimits;
  /** -e: accept CIDRs with host bits set (they are masked off) instead of rejecting the line. */
  acceptHostBits: boolean;
  /** -C clears this: gzip files are decompressed transparently. */
  gunzip: boolean;
  /** Receives every warning; the caller decides how many to print. */
  warn(at: Loc, message: string): void;
}

/** Mutable state of one (sub-)dataset while its files are read. */
export class LoadState {
  /** Last `$TTL` seen (already clamped), undefined = none yet. */
  ttl: number | undefined;
  /** `$0`..`$9`; the first assignment wins. */
  readonly subst: (string | undefined)[];
  /** `$=` base template. */
  base: string | undefined;
  /** `$MAXRANGE4` in addresses (shared by all files of the load; may only be lowered). */
  maxRange4: number;

  constructor(
    readonly options: LoadOptions,
    parent?: LoadState,
  ) {
    this.ttl = parent?.ttl;
    this.subst = parent ? parent.subst.slice() : new Array<string | undefined>(10).fill(undefined);
    this.base = parent?.base;
    this.maxRange4 = parent ? parent.maxRange4 : 2 ** 32;
  }

  /** The TTL in effect now: the last `$TTL`, else the -t default. */
  get currentTtl(): number {
    return this.ttl ?? this.options.ttl.def;
  }

  /** Clamps a TTL read from data into [min, max]; 0 means the default. */
  clampTtl(ttl: number): number {
    const { def, min, max } = this.options.ttl;
    if (ttl === 0) return def;
    return Math.min(max, Math.max(min, ttl));
  }

  warn(at: Loc, message: string): void {
    this.options.warn(at, message);
  }
}

/** rbldnsd time value: unsigned integer with optional unit s m h d w (case-insensitive).
 *  Returns undefined when malformed. */
export function parseTime(text: string): number | undefined {
  const m = /^(\d+)([smhdw]?)$/i.exec(text);
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = m[2]!.toLowerCase();
  const mult = unit === 'm' ? 60 : unit === 'h' ? 3600 : unit === 'd' ? 86400 : unit === 'w' ? 604800 : 1;
  const v = n * mult;
  return v > 0xffffffff ? undefined : v;
}

export function defaultLoadOptions(partial: Partial<LoadOptions> = {}): LoadOptions {
  return {
    ttl: { def: 2100, min: 0, max: 0xffffffff },
    acceptHostBits: false,
    gunzip: true,
    warn: () => {},
    ...partial,
  };
}
