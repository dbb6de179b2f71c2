// CSV for the overrides page: RFC 4180 writing (CRLF, quotes doubled) with spreadsheet formula
// injection neutralised, and a strict reader that keeps each record's line number for error
// messages.

/** A cell a spreadsheet would run as a formula (= + - @, or a leading tab/CR that some strip). */
const FORMULA = /^[=+\-@\t\r]/;

/** One cell: a leading apostrophe before a formula character, quoted when it holds a comma, a
 *  quote, a line break or edge blanks. */
export function csvCell(v: string | number | null | undefined): string {
  let s = v === null || v === undefined ? '' : String(v);
  if (FORMULA.test(s)) s = `'${s}`;
  return /[",\r\n]|^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvLine(cells: readonly (string | number | null | undefined)[]): string {
  return cells.map(csvCell).join(',') + '\r\n';
}

/** Undoes csvCell's apostrophe (an exported file imports back unchanged). */
export function unneutralise(s: string): string {
  return /^'[=+\-@\t\r]/.test(s) ? s.slice(1) : s;
}

export interface CsvRecord {
  /** 1-based line of the file where the record starts. */
  line: number;
  cells: string[];
}

export class CsvError extends Error {
  constructor(message: string, readonly line: number) {
    super(`line ${line}: ${message}`);
    this.name = 'CsvError';
  }
}

/** Parses CSV text (comma separated, "" inside quotes, CRLF or LF, an optional UTF-8 BOM).
 *  Blank lines are skipped. Throws CsvError for an unterminated quote, text after a closing
 *  quote, or more than `maxRecords` records. */
export function parseCsv(text: string, maxRecords = Infinity): CsvRecord[] {
  const out: CsvRecord[] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  const n = text.length;
  while (i < n) {
    const start = line;
    const cells: string[] = [];
    for (;;) {
      let cell = '';
      if (text[i] === '"') {
        const open = line;
        i++;
        for (;;) {
          if (i >= n) throw new CsvError('a quoted field is not closed', open);
          const ch = text[i]!;
          if (ch === '"') {
            if (text[i + 1] === '"') {
              cell += '"';
              i += 2;
              continue;
            }
            i++;
            break;
          }
          if (ch === '\n') line++;
          cell += ch;
          i++;
        }
        if (i < n && text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r') throw new CsvError('text after a closing quote (a quote inside a field must be doubled: "")', line);
      } else {
        while (i < n && text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r') {
          if (text[i] === '"') throw new CsvError('a quote inside an unquoted field (quote the whole field and double the quote)', line);
          cell += text[i++];
        }
      }
      cells.push(cell);
      if (i < n && text[i] === ',') {
        i++;
        continue;
      }
      break;
    }
    if (text[i] === '\r') i++;
    if (text[i] === '\n') i++;
    if (!(cells.length === 1 && cells[0] === '')) {
      if (out.length >= maxRecords) throw new CsvError(`more than ${maxRecords} rows`, start);
      out.push({ line: start, cells });
    }
    line++;
  }
  return out;
}
