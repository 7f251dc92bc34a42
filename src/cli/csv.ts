/**
 * Writing CSV as RFC 4180 says (reading it is csv-parse's job): fields separated by commas, records
 * ended by CRLF, a field holding a comma, a double quote, CR or LF enclosed in double quotes, with
 * each double quote inside doubled. Values are written as they are, nothing added or dropped, so
 * what an accountant matches is exactly what the service keeps.
 */

export type CsvValue = string | number | null | undefined;

/** One field: null and undefined are empty. */
export function csvCell(value: CsvValue): string {
  if (value === null || value === undefined) return '';
  const s = String(value);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** One record, with its CRLF. */
export function csvLine(values: readonly CsvValue[]): string {
  return `${values.map(csvCell).join(',')}\r\n`;
}
